#!/usr/bin/env bash
# Connection limits and deadlines (issue 10, defect 4): a per-IP connection cap, idle
# connections closed, a half-sent request frame timed out, a busy connection left alone.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" >/dev/null
/usr/bin/python3 - "$TMP/chain/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rpc_max_clients_per_ip"] = 5; c["rpc_idle_timeout_ms"] = 2000; c["rpc_request_timeout_ms"] = 1000
json.dump(c, open(p, "w"), indent=2)
PY
start_node "$TMP/chain" "$port"

/usr/bin/python3 - "$port" <<'PY' || fail "connection limits (above)"
import socket, struct, sys, time
port = int(sys.argv[1])
STATUS = bytes([0x08, 0x01, 0x7a, 0x00])  # Request{id: 1, status: {}}

def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5); return s

def closed_within(s, secs):
    """True if the node closes s within secs (EOF or reset)."""
    s.settimeout(secs); t0 = time.time()
    try:
        while True:
            d = s.recv(65536)
            if not d: return True
    except socket.timeout: return False
    except ConnectionResetError: return True

def status_ok(s):
    s.sendall(struct.pack(">I", len(STATUS)) + STATUS)
    n = struct.unpack(">I", s.recv(4))[0]; body = b""
    while len(body) < n: body += s.recv(n - len(body))
    return body[:2] == b"\x08\x01"

# 1. Five connections from 127.0.0.1 are the most: a sixth is closed at once.
idle = [conn() for _ in range(5)]
time.sleep(0.2)
sixth = conn()
assert closed_within(sixth, 1.0), "a 6th connection from one address was not refused"
idle.pop().close()  # room for the half-sent frame below
# 2. The idle ones are closed after rpc_idle_timeout_ms (2 s; checked every second);
#    a connection that keeps asking is not, and one with a half-sent frame is closed after
#    rpc_request_timeout_ms (1 s).
for s in idle[:3]: s.setblocking(True)
busy = idle.pop()
status_ok(busy)
half = None
t0 = time.time()
while time.time() - t0 < 4.5:
    time.sleep(0.4)
    assert status_ok(busy), "the busy connection stopped being answered"
    if half is None:
        half = conn(); half.sendall(struct.pack(">I", 100) + b"\x08")  # 5 of 104 bytes
        half_t0 = time.time()
assert closed_within(half, 0.1) or closed_within(half, 1.0), "a half-sent frame was not timed out"
for s in idle:
    assert closed_within(s, 0.1), "an idle connection was not closed after the idle timeout"
assert status_ok(busy), "the busy connection was closed"
# 3. With the idle ones gone, a new client gets in.
assert status_ok(conn()), "a new client was not served once the idle ones were closed"
print("limits ok")
PY
sum() { grep -o "$1" "$NODE_LOG" | awk '{n += $NF == "" ? 0 : $'"$2"'} END {print n + 0}'; }
[ "$(sum 'and [0-9]* at the per-IP' 2)" = 1 ] || fail "one per-IP refusal should be logged: $(grep rpc: "$NODE_LOG")"
[ "$(sum 'closed [0-9]* idle' 2)" = 3 ] || fail "three idle closes should be logged: $(grep rpc: "$NODE_LOG")"
[ "$(sum '[0-9]* with a request not sent' 1)" = 1 ] ||
    fail "one slow request should be logged: $(grep rpc: "$NODE_LOG")"
stop_node
echo "test_rpc_limits: ok"
