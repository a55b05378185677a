#!/usr/bin/env bash
# Per-client rates on the RPC port (issue 10): requests and eligibility decisions per second
# per client, a client being its address, or its key when that is a registered tracker's
# (with rates of its own); answered -111 with retry_after_ms, and audited.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/a" --port "$port" >/dev/null
/usr/bin/python3 - "$TMP/a/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rpc_rate_requests"] = 10; c["rpc_rate_decisions"] = 20
c["rpc_rate_requests_key"] = 30; c["rpc_rate_decisions_key"] = 20
json.dump(c, open(p, "w"), indent=2)
PY
start_node "$TMP/a" "$port"
node=(--node "127.0.0.1:$port")
"$FWL" keygen --alg ed25519 --out "$TMP/tracker.key" >/dev/null
sleep 1.1 # the bucket of 127.0.0.1 full again after wait_ready's requests
"$FWL" tracker add "${node[@]}" --key "$TMP/a/admin.key" --tracker-key "$TMP/tracker.key" \
    --name t1 >/dev/null || fail "tracker add"

# 1. 40 Status requests from one address within about a second: at most 10 + the refill.
ok=0 limited=0
for _ in $(seq 40); do
    if "$FWL" status "${node[@]}" >/dev/null 2>"$TMP/err"; then ok=$((ok + 1))
    elif grep -q "error -111 (rate limited: retry later): rate limited: 10 requests per second for this address; retry after [0-9]* ms" "$TMP/err"; then
        limited=$((limited + 1))
    else fail "status: $(cat "$TMP/err")"; fi
done
[ $limited -gt 10 ] || fail "only $limited of 40 requests were limited ($ok served)"
# 2. A registered tracker's key has its own bucket, even from the exhausted address.
"$FWL" status "${node[@]}" --client-key "$TMP/tracker.key" >/dev/null ||
    fail "the tracker was limited with the address"
# ... but an unregistered key does not.
"$FWL" keygen --alg ed25519 --out "$TMP/stranger.key" >/dev/null
for _ in 1 2 3; do "$FWL" status "${node[@]}" --client-key "$TMP/stranger.key" >/dev/null 2>&1 || break; done
"$FWL" status "${node[@]}" --client-key "$TMP/stranger.key" >/dev/null 2>"$TMP/err" &&
    fail "an unregistered key escaped the address's bucket"
# 3. Eligibility decisions: 16 devices fit in 20 per second, 32 more do not.
for i in $(seq 16); do
    printf '{"id": "d%d", "hardware_model": "m1"}\n' "$i" >"$TMP/d$i.json"
done
devs=()
for i in $(seq 16); do devs+=(--device "$TMP/d$i.json"); done
elg() { "$FWL" eligible "${node[@]}" --client-key "$TMP/tracker.key" "${devs[@]}" >/dev/null 2>"$TMP/err"; }
elg || fail "16 decisions: $(cat "$TMP/err")"
elg && fail "32 decisions in a second were all served"
grep -q "rate limited: 20 eligibility decisions per second for this key; retry after" "$TMP/err" ||
    fail "decisions: $(cat "$TMP/err")"
sleep 1.1
elg || fail "16 decisions a second later: $(cat "$TMP/err")"
stop_node
"$FWL" audit verify "$TMP/a/data/audit.log" >/dev/null || fail "audit log"
grep -q '"event":"rpc_rate_limited","subject":"127.0.0.1","outcome":"refused"' "$TMP/a/data/audit.log" ||
    fail "rate limit trips not audited"
echo "test_rpc_rate: ok ($limited of 40 requests limited)"
