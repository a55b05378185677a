#!/usr/bin/env bash
# One validator of four with a full disk (issue 8, item 3), real processes on loopback:
# validator 3's data directory is a 48 MiB tmpfs that fills. The other three go on
# committing (every publish through validator 0 is acknowledged); validator 3 keeps running,
# says "disk full" in its status and once in its log; once the filler is deleted it catches
# up by itself and holds every acknowledged release, with the same blocks as validator 0.
# Needs root (mount -t tmpfs); otherwise SKIP.
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

mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=48m tmpfs "$MNT" 2>/dev/null; then
    echo "SKIP: a full disk in a cluster needs root (mount -t tmpfs)"
    exit 0
fi

base=$(free_port_range 8)
"$FWL" init "$TMP/c" --validators 4 --base-port "$base" --product cam-fw >/dev/null
trust_chain "$TMP/c"
/usr/bin/python3 - "$TMP/c/node3/node.json" "$MNT/data" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["data_dir"] = sys.argv[2]; json.dump(d, open(sys.argv[1], "w"))
PY
rpc() { echo $((base + 2 * $1)); }
declare -A NODE_PIDS
for k in 0 1 2 3; do
    "$FWLD" --config "$TMP/c/node$k/node.json" >>"$TMP/c/node$k/node.log" 2>&1 &
    NODE_PIDS[$k]=$!
    PIDS+=("$!")
done
for k in 0 1 2 3; do wait_ready "$(rpc $k)"; done
st() { "$FWL" status --node "127.0.0.1:$(rpc "$1")" --json >"$TMP/st$1.json"; json "$TMP/st$1.json" "$2"; }

v=0
: >"$TMP/acked"
publish() { # publish through validator 0; the file hash goes to acked when committed
    v=$((v + 1))
    echo "fw $v $RANDOM" >"$TMP/fw$v.bin"
    "$FWL" publish --node "127.0.0.1:$(rpc 0)" --key "$TMP/c/author.key" --product cam-fw \
        --provider Acme --version "1.0.$v" --security-version "$v" --file "$TMP/fw$v.bin" \
        --url "https://fw.example.com/$v.bin" --hardware cam-v2 --wait-timeout 15000 \
        >/dev/null 2>"$TMP/pub.err" || fail "publish $v through validator 0: $(cat "$TMP/pub.err")"
    sha256sum "$TMP/fw$v.bin" | cut -d' ' -f1 >>"$TMP/acked"
}
publish
publish

dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null || true
dd if=/dev/zero of="$MNT/filler2" bs=4k 2>/dev/null || true
# The three others commit; validator 3 stalls at the first block it cannot place.
for _ in $(seq 10); do
    publish
    [ "$(st 3 'd["commit_stalled"]')" = True ] && break
done
[ "$(st 3 'd["commit_stalled"]')" = True ] || fail "validator 3 not stalled on a full disk: $(cat "$TMP/st3.json")"
json "$TMP/st3.json" 'd["commit_stalled_reason"]' | grep -q "disk full (ENOSPC) writing $MNT/data/data.mdb" ||
    fail "validator 3's reason: $(cat "$TMP/st3.json")"
# More blocks while it is stalled, past the 5 s a sync request is given: it asks its peers
# again, for several blocks at once (the block it could not write and those after it).
t0=$(date +%s)
publish
publish
publish
while [ $(($(date +%s) - t0)) -lt 6 ]; do sleep 0.2; done
kill -0 "${NODE_PIDS[3]}" 2>/dev/null || fail "validator 3 died on a full disk"
[ "$(st 3 'd["height"]')" -lt "$(st 0 'd["height"]')" ] || fail "validator 3 committed on a full disk"
[ "$(grep -c "disk full (ENOSPC)" "$TMP/c/node3/node.log")" = 1 ] ||
    fail "disk full logged $(grep -c "disk full (ENOSPC)" "$TMP/c/node3/node.log") times (once per change)"

rm -f "$MNT/filler" "$MNT/filler2"
top=$(st 0 'd["height"]')
for _ in $(seq 100); do
    [ "$(st 3 'd["height"]')" -ge "$top" ] && [ "$(json "$TMP/st3.json" 'd["commit_stalled"]')" = False ] && break
    sleep 0.1
done
[ "$(st 3 'd["height"]')" -ge "$top" ] || fail "validator 3 did not catch up after space returned ($(st 3 'd["height"]') < $top)"
[ "$(json "$TMP/st3.json" 'd["commit_stalled"]')" = False ] || fail "validator 3 still stalled: $(cat "$TMP/st3.json")"
grep -q "writing blocks again" "$TMP/c/node3/node.log" || fail "resuming not logged"
while read -r fh; do
    "$FWL" release --node "127.0.0.1:$(rpc 3)" --file-hash "$fh" >/dev/null ||
        fail "validator 3 lacks acknowledged release $fh"
done <"$TMP/acked"
for h in $(seq 1 "$top"); do
    a=$("$FWL" block --node "127.0.0.1:$(rpc 0)" "$h" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
    b=$("$FWL" block --node "127.0.0.1:$(rpc 3)" "$h" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
    [ "$a" = "$b" ] || fail "height $h: validator 0 has $a, validator 3 has $b"
done
publish # validator 3 takes part again (or at least does not stop the others)
for k in 0 1 2 3; do kill -TERM "${NODE_PIDS[$k]}"; done
for k in 0 1 2 3; do wait "${NODE_PIDS[$k]}" || fail "validator $k did not stop cleanly"; done
echo "disk full in a cluster: $(wc -l <"$TMP/acked") releases acknowledged by the other three; validator 3 caught up by itself to height $top"
