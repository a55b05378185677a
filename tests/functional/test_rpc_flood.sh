#!/usr/bin/env bash
# Hostile pipelining (issue 10, defect 1): for every request type, connections that send
# thousands of requests and never read their answers must not grow the node's memory past a
# bound, nor keep another client's Status from being answered, nor leave memory growing once
# they close. ListReleases answers are ~185 KB here (256 records of 600), so 8 connections of
# 20,000 requests each would ask for ~30 GB of answers.
. "$(dirname "$0")/lib.sh"
FLOOD=$BUILD/tests/functional/rpc_flood
BC=$BUILD/bench_client
CONNS=${FLOOD_CONNS:-8}
REQS=${FLOOD_REQUESTS:-20000}
SECS=${FLOOD_SECONDS:-3}
# Anonymous memory: the node's baseline (~30 MB) + the total output bound (NODE_RPC_OUT_TOTAL,
# 64 MiB) + one answer per connection + the allocator's slack.
ANON_MAX_MB=${FLOOD_ANON_MAX_MB:-160}
STATUS_MAX_MS=${FLOOD_STATUS_MAX_MS:-1000}
# Under a sanitizer the node is several times slower and its memory larger (AddressSanitizer:
# a quarantine of freed blocks, kept small here, and redzones; ThreadSanitizer: shadow
# memory): Status gets 5 s and memory a bound of 4x.
syms=$(nm -D "$FWLD" 2>/dev/null || true)
[[ $syms == *__asan_init* ]] && export ASAN_OPTIONS="quarantine_size_mb=16:${ASAN_OPTIONS:-}"
if [[ $syms == *__asan_init* || $syms == *__tsan_init* ]]; then
    STATUS_MAX_MS=${FLOOD_STATUS_MAX_MS:-5000}
    ANON_MAX_MB=${FLOOD_ANON_MAX_MB:-640}
fi

port=$(free_port)
"$FWL" init "$TMP/n" --port "$port" --product bench >/dev/null
# Without per-client rates: the bounds on work and output must hold on their own (and the
# probe, from the flooders' address, would share their bucket).
/usr/bin/python3 - "$TMP/n/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rpc_rate_requests"] = c["rpc_rate_decisions"] = 0
json.dump(c, open(p, "w"), indent=2)
PY
start_node "$TMP/n" "$port"
"$BC" publish --node "127.0.0.1:$port" --genesis "$TMP/n/genesis.json" \
    --key "$TMP/n/author.key" --product bench -n 600 --window 600 >/dev/null

for kind in list_releases get_block status get_release nonce get_contract eligible \
            wait_for_tx submit_tx; do
    "$FLOOD" 127.0.0.1 "$port" "$NODE_PID" "$kind" "$CONNS" "$REQS" "$SECS" "$ANON_MAX_MB" \
        "$STATUS_MAX_MS" || fail "flood of $kind"
done
kill -0 "$NODE_PID" || fail "the node died"
stop_node
echo "test_rpc_flood: ok"
