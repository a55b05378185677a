#!/usr/bin/env bash
# Bounded block time (issue 8, part 2): four validators on loopback, validator 2 under
# libfaketime with its clock one hour ahead. Its proposals are stamped +1 h: the three
# others prevote nil on them ("proposal time ... ms ahead of our clock"), its rounds fail
# and the next round's proposer takes over, so the cluster keeps committing. At the end
# every committed block's time is within the drift (the default, 5000 ms) of the real
# clock, no committed block was proposed by the fast validator, and it has the same blocks
# as the others (it refuses their proposals too, and follows the chain by sync).
source "$(dirname "$0")/lib.sh"

# libfaketime itself, preloaded (not the `faketime` wrapper, which stays the parent of the
# program: killing the pid we know would leave the node running). The multi-threaded build,
# since fwledgerd has worker threads; the monotonic clock (libuv's timers) left alone.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
    /usr/local/lib/faketime/libfaketimeMT.so.1 2>/dev/null | head -1 || true)
[ -n "$FAKETIME_LIB" ] || fail "libfaketime not found: install the Debian package faketime (scripts/install-deps)"
# Under AddressSanitizer (make asan) the preload goes before the ASan runtime, which ASan
# refuses by default; the order is harmless here (libfaketime only wraps the clock calls).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

N=4
FAST=2
DRIFT=5000
base=$(free_port_range $((2 * N)))
"$FWL" init "$TMP/c" --validators $N --base-port "$base" --product cam-fw >/dev/null
trust_chain "$TMP/c"
rpc() { echo $((base + 2 * $1)); }
now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time() * 1000))'; }
declare -A NODE_PIDS
start() { # start K
    if [ "$1" = "$FAST" ]; then
        LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+1h" FAKETIME_DONT_FAKE_MONOTONIC=1 \
            "$FWLD" --config "$TMP/c/node$1/node.json" >>"$TMP/c/node$1/node.log" 2>&1 &
    else
        "$FWLD" --config "$TMP/c/node$1/node.json" >>"$TMP/c/node$1/node.log" 2>&1 &
    fi
    NODE_PIDS[$1]=$!
    PIDS+=("$!")
}
height() { "$FWL" status --node "127.0.0.1:$(rpc "$1")" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])'; }

t0=$(now_ms)
for k in $(seq 0 $((N - 1))); do start "$k"; done
for k in $(seq 0 $((N - 1))); do wait_ready "$(rpc "$k")"; done
# The preload took: the fast node's log lines are stamped an hour ahead.
logged=$(head -1 "$TMP/c/node$FAST/node.log" | cut -d' ' -f1)
skew=$(/usr/bin/python3 -c 'import sys, datetime as d; t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc); print(int(t.timestamp() - d.datetime.now(d.timezone.utc).timestamp()))' "$logged")
[ "$skew" -gt 3500 ] && [ "$skew" -lt 3700 ] || fail "validator $FAST's clock is not an hour ahead (${skew} s): libfaketime did not take"

v=0
publish() { # publish NODE: one new release, 0 when committed
    v=$((v + 1))
    echo "fw $v $RANDOM" >"$TMP/fw$v.bin"
    "$FWL" publish --node "127.0.0.1:$(rpc "$1")" --key "$TMP/c/author.key" --product cam-fw \
        --provider Acme --version "1.0.$v" --security-version "$v" --file "$TMP/fw$v.bin" \
        --url "https://fw.example.com/$v.bin" --hardware cam-v2 --wait-timeout 15000 \
        --json >"$TMP/pub.json" 2>"$TMP/pub.err"
}

# Publish one release per height through an honest validator. With four equal powers every
# validator is the round-0 proposer once in any four heights: go on until the fast one has
# been (its refused proposal is logged by the others), and at least five heights.
refused="proposal time 3[0-9]{6} ms ahead of our clock \(drift $DRIFT ms\): prevoting nil"
for i in $(seq 12); do
    publish 0 || fail "publish $v through validator 0 failed: $(cat "$TMP/pub.err")"
    [ "$i" -ge 5 ] && grep -Eq "$refused" "$TMP/c/node0/node.log" && break
done
for k in 0 1 3; do
    grep -Eq "$refused" "$TMP/c/node$k/node.log" ||
        fail "validator $k never refused the fast validator's proposal: $(tail -5 "$TMP/c/node$k/node.log")"
done
grep -Eq "proposal time 3[0-9]{6} ms behind our clock \(drift $DRIFT ms\): prevoting nil" \
    "$TMP/c/node$FAST/node.log" || fail "the fast validator never refused an honest proposal"
# A client of the fast validator is served too: the tx reaches the others by gossip, and
# the fast node learns the block by sync.
publish "$FAST" || fail "publish $v through the fast validator failed: $(cat "$TMP/pub.err")"
t1=$(now_ms)

# Every committed block: its time within the drift of the real clock (while the test ran),
# not proposed by the fast validator, and the same on every node.
top=$(height 0)
[ "$top" -ge 6 ] || fail "only $top blocks committed"
for k in $(seq 1 $((N - 1))); do
    for _ in $(seq 50); do [ "$(height "$k")" -ge "$top" ] && break; sleep 0.1; done
done
fast_key=$(json "$TMP/c/genesis.json" "d['validators'][$FAST]['key']")
for hh in $(seq 1 "$top"); do
    "$FWL" block --node "127.0.0.1:$(rpc 0)" "$hh" --json >"$TMP/b.json"
    bt=$(json "$TMP/b.json" 'd["header"]["time_ms"]')
    [ "$bt" -ge $((t0 - DRIFT)) ] && [ "$bt" -le $((t1 + DRIFT)) ] ||
        fail "block $hh has time $bt ms, outside [$((t0 - DRIFT)), $((t1 + DRIFT))] (real clock $t0 .. $t1)"
    [ "$(json "$TMP/b.json" 'd["header"]["proposer"]["key"]')" != "$fast_key" ] ||
        fail "block $hh was proposed by the fast validator"
    ref=$(json "$TMP/b.json" 'd["hash"]')
    for k in $(seq 1 $((N - 1))); do
        got=$("$FWL" block --node "127.0.0.1:$(rpc "$k")" "$hh" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])')
        [ "$got" = "$ref" ] || fail "fork at height $hh: node 0 has $ref, node $k has $got"
    done
done
for k in $(seq 0 $((N - 1))); do kill -TERM "${NODE_PIDS[$k]}"; done
for k in $(seq 0 $((N - 1))); do wait "${NODE_PIDS[$k]}" || fail "node $k did not stop cleanly"; done
echo "block time: $top blocks within ${DRIFT} ms of the real clock with validator $FAST an hour ahead; its proposals refused, the cluster committing"
