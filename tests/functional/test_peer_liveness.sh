#!/usr/bin/env bash
# Peer liveness (issue 8, findings 4 and 5), three validators and a replica as real processes:
#  - status names every peer (the names fwledger init writes) with up, last-heard age, height;
#  - a validator stopped with SIGSTOP (its sockets stay open: TCP notices nothing) is shown
#    down by another node within the 4 s default peer timeout plus a little, peers_up drops,
#    and its last-heard age keeps growing;
#  - SIGCONT: it is shown up again;
#  - no log line names a peer by a number (a replica's peer id looked like a port).
source "$(dirname "$0")/lib.sh"

base=$(free_port_range 8)
"$FWL" init "$TMP/c" --validators 3 --replicas 1 --base-port "$base" --product cam-fw >/dev/null
trust_chain "$TMP/c"
rpc() { echo $((base + 2 * $1)); }
declare -A NODE_PIDS
for k in 0 1 2 3; do
    "$FWLD" --config "$TMP/c/node$k/node.json" >>"$TMP/c/node$k/node.log" 2>&1 &
    NODE_PIDS[$k]=$!
    PIDS+=("$!")
done
for k in 0 1 2 3; do wait_ready "$(rpc $k)"; done
st() { "$FWL" status --node "127.0.0.1:$(rpc 0)" --json >"$TMP/st.json"; }
peer() { # peer NAME FIELD: that field of node 0's peer_info entry for NAME
    json "$TMP/st.json" "[p for p in d['peer_info'] if p['name'] == '$1'][0]['$2']"
}
for _ in $(seq 100); do
    st
    [ "$(json "$TMP/st.json" 'd["peers_up"]')" = 3 ] && break
    sleep 0.1
done
[ "$(json "$TMP/st.json" 'd["peers_up"]')" = 3 ] || fail "node 0 sees $(json "$TMP/st.json" 'd["peers_up"]') peers up"
[ "$(json "$TMP/st.json" '[p["name"] for p in d["peer_info"]]')" = "['node1', 'node2', 'node3']" ] ||
    fail "peer names: $(json "$TMP/st.json" 'd["peer_info"]')"
[ "$(peer node2 up)" = True ] || fail "node2 not up"
[ "$(peer node2 validator_index)" = 2 ] || fail "node2 is not validator 2"
[ "$(peer node3 validator_index)" = -1 ] || fail "node3 (the replica) has a validator index"
# Idle peers are pinged every second: heard well within the timeout.
[ "$(peer node2 last_heard_ms_ago)" -lt 2500 ] || fail "node2 last heard $(peer node2 last_heard_ms_ago) ms ago"

# SIGSTOP validator 2: node 0 shows it down within the timeout (4 s) and a margin.
kill -STOP "${NODE_PIDS[2]}"
t0=$(date +%s%N)
for _ in $(seq 100); do
    st
    [ "$(peer node2 up)" = False ] && break
    sleep 0.1
done
took=$((($(date +%s%N) - t0) / 1000000))
[ "$(peer node2 up)" = False ] || fail "node2 still shown up $took ms after SIGSTOP"
[ "$took" -le 6500 ] || fail "node2 shown down only after $took ms"
[ "$(json "$TMP/st.json" 'd["peers_up"]')" = 2 ] || fail "peers_up $(json "$TMP/st.json" 'd["peers_up"]') with node2 stopped"
a1=$(peer node2 last_heard_ms_ago)
[ "$a1" -ge 3500 ] || fail "node2 down but last heard only $a1 ms ago"
sleep 1
st
a2=$(peer node2 last_heard_ms_ago)
[ "$a2" -ge $((a1 + 800)) ] || fail "node2's last-heard age does not grow ($a1 -> $a2 ms)"
"$FWL" status --node "127.0.0.1:$(rpc 0)" >"$TMP/st.txt"
grep -Eq '^peer +node2 +down +heard [0-9]+ ms ago' "$TMP/st.txt" || fail "status shows: $(grep '^peer' "$TMP/st.txt")"
grep -Eq '^peer +node1 +up ' "$TMP/st.txt" || fail "status shows: $(grep '^peer' "$TMP/st.txt")"

# SIGCONT: up again.
kill -CONT "${NODE_PIDS[2]}"
for _ in $(seq 100); do
    st
    [ "$(peer node2 up)" = True ] && break
    sleep 0.1
done
[ "$(peer node2 up)" = True ] || fail "node2 not up again after SIGCONT"
[ "$(peer node2 last_heard_ms_ago)" -lt 2500 ] || fail "node2 up but last heard $(peer node2 last_heard_ms_ago) ms ago"

# Logs: peers by name ("peer node2 down"), never by a number.
grep -q "peer node2 down" "$TMP/c/node0/node.log" || fail "node 0 did not log node2 down by name"
grep -q "connection to peer node2 (.*nothing heard for" "$TMP/c/node0/node.log" ||
    fail "node 0 did not log why node2's connection closed"
if grep -Eh "peer [0-9]+( |$)" "$TMP"/c/node*/node.log; then fail "a log line names a peer by a number"; fi
grep -q "peer node3 up" "$TMP/c/node0/node.log" || fail "the replica is not named node3 in node 0's log"

for k in 0 1 2 3; do kill -TERM "${NODE_PIDS[$k]}"; done
for k in 0 1 2 3; do wait "${NODE_PIDS[$k]}" || fail "node $k did not stop cleanly"; done
echo "peer liveness: a SIGSTOPped validator shown down after $took ms (last heard $a1 -> $a2 ms ago), up again after SIGCONT; peers named in status and logs"
