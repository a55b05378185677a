#!/usr/bin/env bash
# Per-client rates on the RPC port (issue 10): requests and eligibility decisions per second
# per client, a client being its address, or its key when that is a registered tracker's
# (with rates of its own); answered -111 with retry_after_ms, and audited.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/a" --port "$port" >/dev/null
start_node "$TMP/a" "$port"
node=(--node "127.0.0.1:$port")
"$FWL" keygen --alg ed25519 --out "$TMP/tracker.key" >/dev/null
"$FWL" tracker add "${node[@]}" --key "$TMP/a/admin.key" --tracker-key "$TMP/tracker.key" \
    --name t1 >/dev/null || fail "tracker add"
stop_node
# Rates low enough that a slow machine (a sanitiser build) still runs past them.
/usr/bin/python3 - "$TMP/a/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rpc_rate_requests"] = 2; c["rpc_rate_decisions"] = 2
c["rpc_rate_requests_key"] = 30; c["rpc_rate_decisions_key"] = 16
json.dump(c, open(p, "w"), indent=2)
PY
"$FWLD" --config "$TMP/a/node.json" >>"$TMP/a/node.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
for _ in $(seq 100); do "$FWL" status "${node[@]}" --client-key "$TMP/tracker.key" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1.1 # the address's bucket full

# 1. 40 Status requests from one address: at most 2 + 2 a second served.
ok=0 limited=0
for _ in $(seq 40); do
    if "$FWL" status "${node[@]}" >/dev/null 2>"$TMP/err"; then ok=$((ok + 1))
    elif grep -q "error -111 (rate limited: retry later): rate limited: 2 requests per second for this address; retry after [0-9]* ms" "$TMP/err"; then
        limited=$((limited + 1))
    else fail "status: $(cat "$TMP/err")"; fi
done
[ $limited -gt 20 ] || fail "only $limited of 40 requests were limited ($ok served)"
# 2. A registered tracker's key has its own bucket (30/s), even from the exhausted address;
#    an unregistered key does not: it shares the address's 2/s.
count_limited() { # KEYFILE N: how many of N Status calls with that client key were limited
    local n=0
    for _ in $(seq "$2"); do
        "$FWL" status "${node[@]}" --client-key "$1" >/dev/null 2>"$TMP/err" && continue
        grep -q "error -111" "$TMP/err" || fail "status with $1: $(cat "$TMP/err")"
        n=$((n + 1))
    done
    echo $n
}
"$FWL" keygen --alg ed25519 --out "$TMP/stranger.key" >/dev/null
[ "$(count_limited "$TMP/tracker.key" 20)" = 0 ] || fail "the tracker was limited with the address"
n=$(count_limited "$TMP/stranger.key" 30)
[ "$n" -gt 5 ] || fail "an unregistered key escaped the address's bucket ($n of 30 limited)"
sleep 1.1
# 3. Eligibility decisions: 16 devices fit in 16 per second, 16 more right after do not.
for i in $(seq 16); do
    printf '{"id": "d%d", "hardware_model": "m1"}\n' "$i" >"$TMP/d$i.json"
done
devs=()
for i in $(seq 16); do devs+=(--device "$TMP/d$i.json"); done
elg() { "$FWL" eligible "${node[@]}" --client-key "$TMP/tracker.key" "${devs[@]}" >/dev/null 2>"$TMP/err"; }
elg || fail "16 decisions: $(cat "$TMP/err")"
elg && fail "32 decisions in about a second were all served"
grep -q "rate limited: 16 eligibility decisions per second for this key; retry after" "$TMP/err" ||
    fail "decisions: $(cat "$TMP/err")"
sleep 1.1
elg || fail "16 decisions a second later: $(cat "$TMP/err")"
stop_node
"$FWL" audit verify "$TMP/a/data/audit.log" >/dev/null || fail "audit log"
grep -q '"event":"rpc_rate_limited","subject":"127.0.0.1","outcome":"refused"' "$TMP/a/data/audit.log" ||
    fail "rate limit trips not audited"
echo "test_rpc_rate: ok ($limited of 40 requests limited)"
