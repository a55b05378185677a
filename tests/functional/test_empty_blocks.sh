#!/usr/bin/env bash
# A quiet chain's time moves (issue 11, trusted time): a validator commits an empty block
# once the tip is empty_block_interval_ms old, so a tracker's maximum age holds on a chain
# nobody writes to; with 0 it stays put.
source "$(dirname "$0")/lib.sh"

setup() { # setup DIR PORT INTERVAL
    "$FWL" init "$1" --port "$2" >/dev/null
    /usr/bin/python3 - "$1/node.json" "$3" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["empty_block_interval_ms"] = int(sys.argv[2])
json.dump(c, open(p, "w"), indent=2)
PY
}
height() { # height DIR PORT
    "$FWL" status --node "127.0.0.1:$2" --genesis "$1/genesis.json" --json |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])'
}

quiet=$(free_port)
setup "$TMP/quiet" "$quiet" 0
start_node "$TMP/quiet" "$quiet"
busy=$(free_port)
setup "$TMP/busy" "$busy" 400
start_node "$TMP/busy" "$busy"

for _ in $(seq 100); do
    [ "$(height "$TMP/busy" "$busy")" -ge 3 ] && break
    sleep 0.1
done
[ "$(height "$TMP/busy" "$busy")" -ge 3 ] || fail "no empty blocks every 400 ms: height $(height "$TMP/busy" "$busy") after 10 s"
[ "$(height "$TMP/quiet" "$quiet")" = 0 ] || fail "empty_block_interval_ms 0 made blocks: height $(height "$TMP/quiet" "$quiet")"

# A fresh empty block is what a tracker's maximum age needs: an answer proven within 2 s.
zero=0000000000000000000000000000000000000000000000000000000000000000
out=$(FWLEDGER_GENESIS="$TMP/busy/genesis.json" "$FWL" release --node "127.0.0.1:$busy" \
    --file-hash "$zero" --verify --max-age 2s 2>&1) && fail "an unknown release verified: $out"
grep -q "error -16 .*proven absent" <<<"$out" || fail "want a proven absence, got: $out"
echo "empty blocks: a quiet validator with empty_block_interval_ms 400 moves its chain's time; 0 leaves it"

# fwledgerd --verify-state on the stopped node's data: the tree agrees with the records.
NODE_PID=${PIDS[1]}
stop_node
out=$("$FWLD" --config "$TMP/busy/node.json" --verify-state) || fail "--verify-state: $out"
grep -q "recomputed from the records [0-9a-f]*: ok" <<<"$out" || fail "--verify-state said: $out"
echo "verify-state: ok"
