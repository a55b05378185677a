#!/usr/bin/env bash
# Four validators and a replica on loopback, as real processes (issue 3, item 8):
#  - a release published through one validator is read back from every node;
#  - kill -9 one validator under a steady publish load: the other three keep committing;
#    restarted, it catches up;
#  - stop two validators: commits stop and no node forks; restarted, commits resume;
#  - a fresh replica with an empty data directory syncs to the tip;
#  - every release acknowledged as committed is on every node at the end.
source "$(dirname "$0")/lib.sh"

N=4
base=$(free_port_range 12)
"$FWL" init "$TMP/c" --validators $N --replicas 1 --base-port "$base" --product cam-fw >/dev/null
trust_chain "$TMP/c"
rpc() { echo $((base + 2 * $1)); }
declare -A NODE_PIDS
start() { # start K
    "$FWLD" --config "$TMP/c/node$1/node.json" >>"$TMP/c/node$1/node.log" 2>&1 &
    NODE_PIDS[$1]=$!
    PIDS+=("$!")
}
wait_up() { wait_ready "$(rpc "$1")"; }
height() { "$FWL" status --node "127.0.0.1:$(rpc "$1")" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])'; }
releases() { "$FWL" status --node "127.0.0.1:$(rpc "$1")" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["releases"])'; }
for k in 0 1 2 3 4; do start $k; done
for k in 0 1 2 3 4; do wait_up $k; done
# Status tells roles and connectivity (each node connects to the four others).
for _ in $(seq 50); do
    "$FWL" status --node "127.0.0.1:$(rpc 4)" --json >"$TMP/st.json"
    [ "$(json "$TMP/st.json" 'd["peers_up"]')" = 4 ] && break
    sleep 0.1
done
[ "$(json "$TMP/st.json" 'd["role"]')" = replica ] || fail "node 4 is not a replica"
[ "$(json "$TMP/st.json" 'd["peers_up"]')" = 4 ] || fail "replica sees $(json "$TMP/st.json" 'd["peers_up"]') peers up"
"$FWL" status --node "127.0.0.1:$(rpc 2)" --json >"$TMP/st.json"
[ "$(json "$TMP/st.json" 'd["validator_index"]')" = 2 ] || fail "node 2 is not validator 2"

v=0
publish() { # publish NODE [extra args]: one new release; its file hash in $TMP/fh; 0 when committed
    local node=$1; shift
    v=$((v + 1))
    echo "fw $v $RANDOM" >"$TMP/fw$v.bin"
    sha256sum "$TMP/fw$v.bin" | cut -d' ' -f1 >"$TMP/fh"
    "$FWL" publish --node "127.0.0.1:$(rpc "$node")" --key "$TMP/c/author.key" --product cam-fw \
        --provider Acme --version "1.0.$v" --security-version "$v" --file "$TMP/fw$v.bin" \
        --url "https://fw.example.com/$v.bin" --hardware cam-v2 --json "$@" >"$TMP/pub.json" 2>"$TMP/pub.err"
}

# 1. Publish through validator 0, read it back from every node (replica included).
publish 0 || fail "publish: $(cat "$TMP/pub.err")"
h=$(cat "$TMP/fh")
sleep 0.5
for k in 0 1 2 3 4; do
    "$FWL" release --node "127.0.0.1:$(rpc $k)" --file-hash "$h" --json >"$TMP/r.json" ||
        fail "node $k does not have the release"
    [ "$(json "$TMP/r.json" 'd["record"]["release"]["version"]')" = 1.0.1 ] || fail "node $k: wrong version"
done
echo "$h" >"$TMP/acked"

# 2. A steady load through validator 0 while validator 1 is killed with -9.
load() { # load COUNT: publish COUNT releases one after the other, recording acknowledged ones
    for _ in $(seq "$1"); do
        if publish 0 --wait-timeout 20000; then cat "$TMP/fh" >>"$TMP/acked"; fi
    done
}
load 3
kill -9 "${NODE_PIDS[1]}"
before=$(height 0)
load 5
after=$(height 0)
[ "$(wc -l <"$TMP/acked")" -ge 9 ] || fail "publishes failed while validator 1 was down: $(cat "$TMP/pub.err")"
[ "$after" -gt "$before" ] || fail "the three remaining validators stopped committing ($before -> $after)"

# 3. Restarted, it catches up.
start 1
wait_up 1
for _ in $(seq 100); do [ "$(height 1)" -ge "$after" ] && break; sleep 0.1; done
[ "$(height 1)" -ge "$after" ] || fail "restarted validator 1 did not catch up ($(height 1) < $after)"

# 4. Two validators stopped: no commits (and no error: the tx waits), no fork.
kill -TERM "${NODE_PIDS[2]}" "${NODE_PIDS[3]}"
wait "${NODE_PIDS[2]}" "${NODE_PIDS[3]}" || true
stalled=$(height 0)
if publish 0 --wait-timeout 2000; then fail "a block was committed with only 2 of 4 validators"; fi
[ "$(height 0)" = "$stalled" ] || fail "height moved with 2 of 4 validators"
[ "$(height 1)" = "$stalled" ] || fail "validator 1 moved with 2 of 4 validators"
# Validator 1 has voted at the stalled height; killed and restarted there, it takes its
# votes up again from its vote log (WAL) instead of starting the height over.
kill -9 "${NODE_PIDS[1]}"
wait "${NODE_PIDS[1]}" 2>/dev/null || true
start 1
wait_up 1
for _ in $(seq 50); do grep -q "height $((stalled + 1)): replaying [1-9][0-9]* own votes" \
    "$TMP/c/node1/node.log" && break; sleep 0.1; done
grep -q "height $((stalled + 1)): replaying [1-9][0-9]* own votes" "$TMP/c/node1/node.log" ||
    fail "validator 1 did not replay its votes of height $((stalled + 1)): $(tail -5 "$TMP/c/node1/node.log")"

# 5. Restarted, commits resume (the waiting tx goes in too).
start 2
start 3
wait_up 2
wait_up 3
publish 0 --wait-timeout 20000 || fail "no commits after the restart: $(cat "$TMP/pub.err")"
cat "$TMP/fh" >>"$TMP/acked"

# 6. A fresh replica with an empty data dir syncs to the tip.
kill -TERM "${NODE_PIDS[4]}"
wait "${NODE_PIDS[4]}" || true
rm -rf "$TMP/c/node4/data"
start 4
wait_up 4
tip=$(height 0)
for _ in $(seq 100); do [ "$(height 4)" -ge "$tip" ] && break; sleep 0.1; done
[ "$(height 4)" -ge "$tip" ] || fail "fresh replica did not sync ($(height 4) < $tip)"

# 7. Nothing lost, nothing forked: every acknowledged release on every node, same blocks.
sleep 0.5
# Validator 0 never restarted, so it had nothing to replay (it once "replayed" the prevote of
# every height it proposed at, its own votes of that very height).
! grep -q "replaying" "$TMP/c/node0/node.log" ||
    fail "validator 0 replayed votes without a restart: $(grep -m 2 replaying "$TMP/c/node0/node.log")"
for k in 0 1 2 3 4; do
    while read -r fh; do
        "$FWL" release --node "127.0.0.1:$(rpc $k)" --file-hash "$fh" >/dev/null ||
            fail "node $k lost an acknowledged release $fh"
    done <"$TMP/acked"
done
top=$(height 0)
for hh in $(seq 1 "$top"); do
    ref=$("$FWL" block --node "127.0.0.1:$(rpc 0)" "$hh" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
    for k in 1 2 3 4; do
        got=$("$FWL" block --node "127.0.0.1:$(rpc $k)" "$hh" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
        [ "$got" = "$ref" ] || fail "fork at height $hh: node 0 has $ref, node $k has $got"
    done
done
# Eligibility answers are the same on every node (same state, same bytes): once every node
# has the same tip (the replica may be a moment behind).
for k in 1 2 3 4; do
    for _ in $(seq 50); do [ "$(height $k)" = "$(height 0)" ] && break; sleep 0.1; done
done
for k in 0 1 2 3 4; do
    "$BUILD/tests/functional/eligible_query" 127.0.0.1 "$(rpc $k)" cam-fw cam-v2 >"$TMP/elg$k" ||
        fail "eligible on node $k"
done
grep -q "best=" "$TMP/elg0" || fail "no eligibility answer: $(cat "$TMP/elg0")"
for k in 1 2 3 4; do
    diff -u "$TMP/elg0" "$TMP/elg$k" >/dev/null || fail "node $k answers eligibility differently: $(diff "$TMP/elg0" "$TMP/elg$k")"
done
# Verifiable answers (issue 11): a validator's and the replica's, asked with a proof and
# checked against the genesis (trust_chain) and the validators' commit certificate.
cat >"$TMP/cam.json" <<'EOF'
{"id": "cam-1", "hardware_model": "cam-v2", "packages": [{"name": "cam-fw", "version": "1.0.0"}]}
EOF
tip=$(height 0)
for k in 0 4; do
    "$FWL" eligible --node "127.0.0.1:$(rpc $k)" --device "$TMP/cam.json" --verify --json \
        >"$TMP/ev.json" 2>"$TMP/ev.err" || fail "node $k: eligible --verify: $(cat "$TMP/ev.err")"
    [ "$(json "$TMP/ev.json" 'd["verified"], d["at_height"], d["answers"][0]["products"][0]["best"]["version"]')" = \
      "(True, $tip, '1.0.$v')" ] || fail "node $k: eligible --verify: $(cat "$TMP/ev.json")"
    "$FWL" release --node "127.0.0.1:$(rpc $k)" --file-hash "$h" --verify --json \
        >"$TMP/rv.json" 2>"$TMP/rv.err" || fail "node $k: release --verify: $(cat "$TMP/rv.err")"
    [ "$(json "$TMP/rv.json" 'd["verified"], d["at_height"], d["record"]["release"]["version"]')" = \
      "(True, $tip, '1.0.1')" ] || fail "node $k: release --verify: $(cat "$TMP/rv.json")"
done
for k in 0 1 2 3 4; do kill -TERM "${NODE_PIDS[$k]}"; done
for k in 0 1 2 3 4; do wait "${NODE_PIDS[$k]}" || fail "node $k did not stop cleanly"; done
echo "cluster: $(wc -l <"$TMP/acked") acknowledged releases on all 5 nodes, $top blocks identical; kill -9, catch-up, stall without quorum, resume, fresh replica sync; a validator's and the replica's answers verify"
