#!/usr/bin/env bash
# Eligibility is decided off the node's event loop: while a request under a deliberately
# expensive contract is being decided (every candidate evaluated near the cost limit), the
# node still answers Status at once, and the expensive answer is right when it comes. The
# queue of requests is bounded: a connection flooding it gets NODE_EBUSY for the excess,
# every request is answered one way or the other, and the node goes on serving. Stopping
# the node does not wait for a long request to finish.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" --product heavy >/dev/null
start_node "$TMP/chain" "$port"
node=(--node "127.0.0.1:$port")
for i in $(seq 1 64); do
    echo "heavy $i" >"$TMP/fw-$i.bin"
    "$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product heavy --provider Acme \
        --version "1.0.$i" --security-version "$i" --file "$TMP/fw-$i.bin" \
        --url "https://fw.example.com/$i.bin" --hardware "m1" >/dev/null
done
for i in 1 2; do # a lighter model for the flood: 2 candidates
    echo "heavy m2 $i" >"$TMP/m2-$i.bin"
    "$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product heavy --provider Acme \
        --version "1.0.$i" --security-version "$i" --file "$TMP/m2-$i.bin" \
        --url "https://fw.example.com/m2-$i.bin" --hardware "m2" >/dev/null
done
# 16^4 comparisons per evaluation: every one stops at the cost limit (100,000 units).
cat >"$TMP/heavy.ctr" <<'CTR'
rule heavy: all(a in device.tags: all(b in device.tags: all(c in device.tags:
    all(e in device.tags: a != "x" and b != "x" and c != "x" and e != "x"))))
CTR
"$FWL" contract deploy "${node[@]}" --key "$TMP/chain/admin.key" --name heavy \
    --file "$TMP/heavy.ctr" >/dev/null
"$FWL" contract bind "${node[@]}" --key "$TMP/chain/admin.key" --product heavy \
    --name heavy >/dev/null
devs=()
for d in $(seq 1 16); do
    /usr/bin/python3 - "$TMP/dev-$d.json" "$d" <<'PY'
import json, sys
json.dump({"id": "dev-%s" % sys.argv[2], "hardware_model": "m1", "hardware_rev": 1,
           "packages": [{"name": "heavy", "version": "1.0.0"}],
           "tags": ["t%d" % i for i in range(16)]}, open(sys.argv[1], "w"))
PY
    devs+=(--device "$TMP/dev-$d.json")
done

now_ms() { date +%s%3N; }
elg_start=$(now_ms)
# An expensive request (16 devices x 64 candidates x the cost limit) in the background ...
( "$FWL" eligible "${node[@]}" "${devs[@]}" --json --timeout 60000 >"$TMP/elg1.json"
  now_ms >"$TMP/elg_end" ) &
elg=$!
PIDS+=("$elg")
sleep 0.1
# ... while Status comes back before it is done.
"$FWL" status "${node[@]}" >/dev/null
status_end=$(now_ms)
wait "$elg" || fail "eligible failed"
elg_end=$(cat "$TMP/elg_end")
[ "$status_end" -lt "$elg_end" ] ||
    fail "Status waited for eligibility (status at $status_end ms, eligibility done at $elg_end ms)"
[ "$(json "$TMP/elg1.json" 'len(d["answers"])')" = 16 ] || fail "answers: $(cat "$TMP/elg1.json")"
p='d["answers"][15]["products"][0]'
[ "$(json "$TMP/elg1.json" "${p}[\"best\"], ${p}[\"rejected_total\"], ${p}[\"rejected\"][0][\"rule\"], ${p}[\"rejected\"][0][\"reason\"], ${p}[\"policy\"]")" = \
  "(None, 64, 'heavy', 'cost limit exceeded', 'contract heavy v1')" ] ||
    fail "answer: $(cat "$TMP/elg1.json")"

# 100 requests of 16 devices at once on one connection: at most 1,024 devices of one
# connection wait, the rest are refused with NODE_EBUSY; all are answered.
"$BUILD/tests/functional/eligible_flood" 127.0.0.1 "$port" m2 100 >"$TMP/flood" ||
    fail "flood: $(cat "$TMP/flood")"
read -r _ answered _ busy _ other <"$TMP/flood"
[ "$other" = 0 ] && [ $((answered + busy)) = 100 ] && [ "$busy" -gt 0 ] && [ "$answered" -ge 64 ] ||
    fail "flood: $(cat "$TMP/flood") (want 64 or more answered, the rest busy)"
"$FWL" status "${node[@]}" >/dev/null || fail "no status after the flood"
"$FWL" eligible "${node[@]}" --device "$TMP/dev-1.json" --json >"$TMP/after.json" ||
    fail "no eligibility after the flood"

# A stop in the middle of an expensive request does not wait for all of it: the worker
# checks between devices (the node must exit within half the time the request took).
( "$FWL" eligible "${node[@]}" "${devs[@]}" --json --timeout 60000 >/dev/null 2>&1 || true ) &
PIDS+=("$!")
sleep 0.1
stop_start=$(now_ms)
stop_node
stop_ms=$(( $(now_ms) - stop_start )) elg_ms=$((elg_end - elg_start))
[ "$stop_ms" -lt $((elg_ms / 2)) ] ||
    fail "stopping took $stop_ms ms during a request that takes $elg_ms ms"
echo "eligibility worker: Status answered while an expensive eligibility request was decided ($((elg_end - status_end)) ms before it); a flood of 100 requests: $answered answered, $busy refused busy; stopped in $stop_ms ms during a $elg_ms ms request"
