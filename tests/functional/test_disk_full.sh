#!/usr/bin/env bash
# A node whose disk fills (issue 8, item 3), one node, real processes:
#  1. LMDB's map fills (map_size_mib 1; any user): publishing stops, status says why (commit
#     stalled, "LMDB map full (map_size 1 MiB)"), the log says it once; restarted with a
#     larger map, the node goes on and every acknowledged release is there.
#  2. The data directory's filesystem fills (a 48 MiB tmpfs; root only, else SKIP): status
#     and log say "disk full (ENOSPC)", the node keeps running; the filler deleted, it
#     commits again by itself within seconds, the stalled release included, and every
#     acknowledged release is there.
source "$(dirname "$0")/lib.sh"

MNT=$TMP/mnt
cleanup_disk() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if mountpoint -q "$MNT" 2>/dev/null; then
        for _ in $(seq 50); do umount "$MNT" 2>/dev/null && break; sleep 0.1; done
    fi
    (exit $rc)
    cleanup
}
trap cleanup_disk EXIT

# set_config DIR KEY JSON-VALUE
set_config() {
    /usr/bin/python3 - "$1/node.json" "$2" "$3" <<'PY'
import json, sys
p, k, v = sys.argv[1:]
d = json.load(open(p)); d[k] = json.loads(v); json.dump(d, open(p, "w"), indent=2)
PY
}

status() { "$FWL" status --node "127.0.0.1:$port" --json >"$TMP/st.json"; json "$TMP/st.json" "$1"; }

# publish_big N [args]: release N of cam-fw with 16 hardware lines, 8 add-ons each and 16
# dependencies (a large record, so that a small map fills after a few dozen); its file
# hash in $TMP/fh; 0 when committed.
HW=()
for m in $(seq 16); do
    spec="model-$m-$(printf 'm%.0s' $(seq 50))"
    for a in $(seq 8); do spec+="+addon-$a-$(printf 'a%.0s' $(seq 20))"; done
    HW+=(--hardware "$spec")
done
DEPS=()
for d in $(seq 16); do DEPS+=(--depends "library-$d-$(printf 'l%.0s' $(seq 40))>=1.0.0,<2"); done
publish_big() {
    local n=$1; shift
    echo "big $n $RANDOM" >"$TMP/fw.bin"
    sha256sum "$TMP/fw.bin" | cut -d' ' -f1 >"$TMP/fh"
    "$FWL" publish --node "127.0.0.1:$port" --key "$DIR/author.key" --product cam-fw \
        --provider "Acme Cameras" --version "1.0.$n" --security-version "$n" \
        --file "$TMP/fw.bin" --url "https://fw.example.com/$(printf 'u%.0s' $(seq 400))/$n.bin" \
        "${HW[@]}" "${DEPS[@]}" "$@" >/dev/null 2>"$TMP/pub.err"
}

# every_acked: each file hash in $TMP/acked is a release on the node
every_acked() {
    while read -r h; do
        "$FWL" release --node "127.0.0.1:$port" --file-hash "$h" >/dev/null 2>&1 ||
            fail "acknowledged release $h is missing"
    done <"$TMP/acked"
}

# --- 1. LMDB map full -----------------------------------------------------------------------
DIR=$TMP/mapfull
port=$(free_port)
"$FWL" init "$DIR" --port "$port" --product cam-fw >/dev/null
set_config "$DIR" map_size_mib 1
start_node "$DIR" "$port"
: >"$TMP/acked"
n=0
while [ $n -lt 200 ]; do
    n=$((n + 1))
    publish_big $n --wait-timeout 1500 || break
    cat "$TMP/fh" >>"$TMP/acked"
done
[ $n -lt 200 ] || fail "a 1 MiB map took 200 large releases"
grep -q "timed out" "$TMP/pub.err" || fail "publish $n failed otherwise: $(cat "$TMP/pub.err")"
[ "$(status 'd["commit_stalled"]')" = True ] || fail "map full: status not stalled: $(cat "$TMP/st.json")"
status 'd["commit_stalled_reason"]' | grep -q "LMDB map full (map_size 1 MiB): raise map_size_mib" ||
    fail "map full: reason: $(cat "$TMP/st.json")"
# (the node retried while the publish waited: retries are not logged)
[ "$(grep -c "LMDB map full" "$DIR/node.log")" = 1 ] || fail "map full logged $(grep -c "LMDB map full" "$DIR/node.log") times"
stop_node
set_config "$DIR" map_size_mib 64
start_node "$DIR" "$port"
[ "$(status 'd["commit_stalled"]')" = False ] || fail "stalled after a restart with a larger map"
publish_big $((n + 1)) --wait-timeout 10000 || fail "publish after raising the map: $(cat "$TMP/pub.err")"
cat "$TMP/fh" >>"$TMP/acked"
every_acked
stop_node
echo "disk full: LMDB map full after $((n - 1)) releases reported; resumed with a larger map"

# --- 2. the filesystem fills ------------------------------------------------------------------
mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=48m tmpfs "$MNT" 2>/dev/null; then
    echo "SKIP: disk full on a tmpfs needs root (mount -t tmpfs)"
    exit 0
fi
DIR=$TMP/chain
port=$(free_port)
"$FWL" init "$DIR" --port "$port" --product cam-fw >/dev/null
set_config "$DIR" data_dir "\"$MNT/data\""
start_node "$DIR" "$port"
: >"$TMP/acked"
for n in 1 2 3; do
    publish_big $n || fail "publish $n: $(cat "$TMP/pub.err")"
    cat "$TMP/fh" >>"$TMP/acked"
done
dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null || true
dd if=/dev/zero of="$MNT/filler2" bs=4k 2>/dev/null || true
# LMDB may still place a block or two in pages free inside its file: publish until one fails.
while [ $n -lt 40 ]; do
    n=$((n + 1))
    publish_big $n --wait-timeout 1500 || break
    cat "$TMP/fh" >>"$TMP/acked"
done
grep -q "timed out" "$TMP/pub.err" || fail "publish on a full disk: $(cat "$TMP/pub.err")"
stalled=$(cat "$TMP/fh")
[ "$(status 'd["commit_stalled"]')" = True ] || fail "full disk: status not stalled: $(cat "$TMP/st.json")"
status 'd["commit_stalled_reason"]' | grep -q "disk full (ENOSPC) writing $MNT/data/data.mdb" ||
    fail "full disk: reason: $(cat "$TMP/st.json")"
height=$(status 'd["height"]')
kill -0 "$NODE_PID" 2>/dev/null || fail "the node died on a full disk"
# (the node retried while the publish waited: retries are not logged)
[ "$(grep -c "disk full (ENOSPC)" "$DIR/node.log")" = 1 ] ||
    fail "disk full logged $(grep -c "disk full (ENOSPC)" "$DIR/node.log") times (once per change)"
[ "$(status 'd["height"]')" = "$height" ] || fail "height moved while the disk was full"

rm -f "$MNT/filler" "$MNT/filler2"
for _ in $(seq 50); do
    [ "$(status 'd["commit_stalled"]')" = False ] && break
    sleep 0.1
done
[ "$(status 'd["commit_stalled"]')" = False ] || fail "still stalled 5 s after space returned"
[ "$(status 'd["height"]')" -gt "$height" ] || fail "no commit after space returned"
grep -q "writing blocks again" "$DIR/node.log" || fail "resuming not logged"
"$FWL" release --node "127.0.0.1:$port" --file-hash "$stalled" >/dev/null ||
    fail "the release that was stalled was not committed after space returned"
every_acked
publish_big $((n + 1)) || fail "publish after space returned: $(cat "$TMP/pub.err")"
stop_node
echo "disk full: ENOSPC reported once, the node resumed by itself; $(wc -l <"$TMP/acked") acknowledged releases all there"
