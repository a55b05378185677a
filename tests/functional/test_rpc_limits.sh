#!/usr/bin/env bash
# Connection limits and deadlines (issue 10, defect 4): a per-IP connection cap, idle
# connections closed, a TLS handshake never begun and a half-sent request frame timed out,
# a busy connection left alone.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" >/dev/null
/usr/bin/python3 - "$TMP/chain/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["rpc_max_clients_per_ip"] = 6; c["rpc_idle_timeout_ms"] = 2000; c["rpc_request_timeout_ms"] = 1000
json.dump(c, open(p, "w"), indent=2)
PY
start_node "$TMP/chain" "$port"

/usr/bin/python3 - "$port" <<'PY' || fail "connection limits (above)"
import socket, ssl, struct, sys, time
port = int(sys.argv[1])
STATUS = bytes([0x08, 0x01, 0x7a, 0x00])  # Request{id: 1, status: {}}
# The node's certificate is not checked here (the client library's tests do that): this
# is about limits, so any TLS 1.3 client will do.
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3

def raw():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5); return s

def conn():
    return ctx.wrap_socket(raw())

def closed_within(s, secs):
    """True if the node closes s within secs (EOF, reset, or a TLS alert)."""
    s.settimeout(secs)
    try:
        while True:
            if not s.recv(65536): return True
    except socket.timeout: return False
    except (ConnectionResetError, ssl.SSLError, OSError): return True

def status_ok(s):
    s.sendall(struct.pack(">I", len(STATUS)) + STATUS)
    h = b""
    while len(h) < 4: h += s.recv(4 - len(h))
    n = struct.unpack(">I", h)[0]; body = b""
    while len(body) < n: body += s.recv(n - len(body))
    return body[:2] == b"\x08\x01"

# 1. Six connections from 127.0.0.1 are the most: four idle ones after their handshake, one
#    busy one, one that never starts its handshake. A seventh is closed at once.
idle = [conn() for _ in range(4)]
busy = conn()
nohs = raw()
time.sleep(0.2)
seventh = raw()
assert closed_within(seventh, 1.0), "a 7th connection from one address was not refused"
idle.pop().close()  # room for the half-sent frame below, once the node has seen the close:
time.sleep(0.3)     # a connection made at once may be accepted before that EOF is read
# 2. Within 4.5 s: the connection without a handshake and the one with a half-sent frame
#    are closed after rpc_request_timeout_ms (1 s; deadlines are checked every second), the
#    idle ones after rpc_idle_timeout_ms (2 s); the connection that keeps asking is not.
half = conn(); half.sendall(struct.pack(">I", 100) + b"\x08")  # 5 of 104 bytes
t0 = time.time()
while time.time() - t0 < 4.5:
    time.sleep(0.4)
    assert status_ok(busy), "the busy connection stopped being answered"
assert closed_within(nohs, 0.1), "a connection without a TLS handshake was not timed out"
assert closed_within(half, 0.1), "a half-sent frame was not timed out"
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
[ "$(sum '[0-9]* with a request not sent' 1)" = 2 ] ||
    fail "two slow requests (a handshake, a frame) should be logged: $(grep rpc: "$NODE_LOG")"
stop_node
echo "test_rpc_limits: ok"
