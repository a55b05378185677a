#!/usr/bin/env bash
# Pending slots (issue 10, defect 5), three validators as real processes with their default
# p2p limits: an attacker on the validators' own address (127.0.0.1) keeps max_pending_per_ip
# (8) idle TCP connections open to every node's p2p port, opening a new one whenever one is
# closed, and never sends a byte. A validator killed and restarted must still reach both its
# peers within a bound shorter than the handshake timeout (10 s, after which the junk would
# be cycled anyway): its dial and its peers' dials evict junk instead of being refused. Before
# the fix it stayed at 0 peers.
source "$(dirname "$0")/lib.sh"

JUNK=8 # P2P_DEFAULT_MAX_PENDING_PER_IP
base=$(free_port_range 6)
"$FWL" init "$TMP/c" --validators 3 --base-port "$base" --product cam-fw >/dev/null
trust_chain "$TMP/c"
rpc() { echo $((base + 2 * $1)); }
p2p() { echo $((base + 2 * $1 + 1)); }
declare -A NODE_PIDS
start() {
    "$FWLD" --config "$TMP/c/node$1/node.json" >>"$TMP/c/node$1/node.log" 2>&1 &
    NODE_PIDS[$1]=$!
    PIDS+=("$!")
}
peers_up() {
    "$FWL" status --node "127.0.0.1:$(rpc "$1")" --json >"$TMP/st.json" 2>/dev/null || { echo -1; return; }
    json "$TMP/st.json" 'd["peers_up"]'
}
for k in 0 1 2; do start $k; done
for k in 0 1 2; do wait_ready "$(rpc $k)"; done
for _ in $(seq 100); do [ "$(peers_up 1)" = 2 ] && break; sleep 0.1; done
[ "$(peers_up 1)" = 2 ] || fail "node 1 sees $(peers_up 1) peers before the attack"

# The attacker: JUNK connections to each port, reopened as soon as they close (retried every
# 20 ms while nothing listens). It writes "port open opens" lines to its status file.
/usr/bin/python3 - "$TMP/junk" "$JUNK" "$(p2p 0)" "$(p2p 1)" "$(p2p 2)" <<'PY' &
import os, select, socket, sys, time
status, n, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
socks, opens = {}, {p: 0 for p in ports}
while True:
    for p in ports:
        while sum(1 for q in socks.values() if q == p) < n:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", p))
            except OSError:
                s.close()
                break
            socks[s] = p
            opens[p] += 1
    with open(status + ".tmp", "w") as f:
        for p in ports:
            f.write("%d %d %d\n" % (p, sum(1 for q in socks.values() if q == p), opens[p]))
    os.replace(status + ".tmp", status)
    r, _, _ = select.select(list(socks), [], [], 0.02)
    for s in r:
        try:
            gone = s.recv(64) == b""
        except OSError:
            gone = True
        if gone:
            del socks[s]
            s.close()
PY
JUNK_PID=$!
PIDS+=("$JUNK_PID")
held() { # held PORT: the attacker's open connections to PORT
    awk -v p="$1" '$1 == p { print $2 }' "$TMP/junk" 2>/dev/null || true
}
for _ in $(seq 100); do
    [ "$(held "$(p2p 0)")" = $JUNK ] && [ "$(held "$(p2p 1)")" = $JUNK ] && [ "$(held "$(p2p 2)")" = $JUNK ] && break
    sleep 0.05
done
[ "$(held "$(p2p 2)")" = $JUNK ] || fail "the attacker holds $(held "$(p2p 2)") connections to node 2"

# kill -9 node 1 and start it again: the junk is back in its table as soon as it listens.
kill -9 "${NODE_PIDS[1]}"
wait "${NODE_PIDS[1]}" 2>/dev/null || true
t0=$(date +%s%N)
start 1
wait_ready "$(rpc 1)"
while :; do
    up=$(peers_up 1)
    took=$((($(date +%s%N) - t0) / 1000000))
    [ "$up" = 2 ] && break
    [ "$took" -le 8000 ] || fail "restarted node 1 sees $up peers after $took ms of junk"
    sleep 0.05
done
[ "$(held "$(p2p 1)")" = $JUNK ] || fail "the attacker holds only $(held "$(p2p 1)") connections to node 1"
grep -q "evicted (silent" "$TMP"/c/node*/node.log || fail "no node logged an eviction"

kill "$JUNK_PID"
wait "$JUNK_PID" 2>/dev/null || true
for k in 0 1 2; do kill -TERM "${NODE_PIDS[$k]}"; done
for k in 0 1 2; do wait "${NODE_PIDS[$k]}" || fail "node $k did not stop cleanly"; done
echo "peer slots: a restarted validator reached both peers $took ms after its restart through $JUNK idle connections per node from their own address ($(awk '{ s += $3 } END { print s }' "$TMP/junk") opened)"
