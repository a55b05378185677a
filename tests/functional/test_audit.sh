#!/usr/bin/env bash
# The audit log end to end: a validator (with p2p, its replica not started) writes
# config_loaded and start, an admin transaction accepted (author add with the admin key) and
# one refused (the author's key is no admin's), a p2p connection that fails authentication
# (not TLS), and stop; a start that fails (its port taken) and a restart continue the chain.
# `fwledger audit verify` finds the chain intact and its last line's hash in the node's log;
# a line edited with sed, or dropped, breaks it at the line after.
source "$(dirname "$0")/lib.sh"

base=$(free_port_range 4)
"$FWL" init "$TMP/c" --validators 1 --replicas 1 --base-port "$base" --product cam-fw >/dev/null
n0=$TMP/c/node0
log=$n0/data/audit.log
node="127.0.0.1:$base"
start_node "$n0" "$base"

"$FWL" keygen --alg ed25519 --out "$TMP/new.key" >/dev/null
"$FWL" author add --node "$node" --key "$TMP/c/admin.key" --product cam-fw \
    --author-key "$TMP/new.key" --name "New author" >/dev/null
if "$FWL" author add --node "$node" --key "$TMP/c/author.key" --product cam-fw \
    --author-key "$TMP/new.key" >"$TMP/refused.out" 2>&1; then
    fail "an author add signed by no admin was accepted"
fi
grep -q "not authorised" "$TMP/refused.out" || fail "refused for another reason: $(cat "$TMP/refused.out")"

# Not TLS on the p2p port: the handshake fails.
/usr/bin/python3 - "$((base + 1))" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 8)
try:
    s.recv(100)
except OSError:
    pass
PY
for _ in $(seq 50); do grep -q '"event":"p2p_auth_failed"' "$log" && break; sleep 0.1; done
stop_node

# The log's events in order: "event outcome subject" (subject "-" where it is a key or tx id).
/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    named = d["event"] in ("config_loaded", "p2p_auth_failed")
    print(d["event"], d["outcome"], d["subject"] if named else "-")' "$log" >"$TMP/events"
want="config_loaded ok $n0/node.json
start ok -
admin_tx accepted -
admin_tx refused -
p2p_auth_failed refused 127.0.0.1
stop ok -"
[ "$(cat "$TMP/events")" = "$want" ] || fail "audit events:
$(cat "$TMP/events")
want:
$want"
grep -q '"detail":"author tx from key [0-9a-f]\{64\}, 1 signature(s)"' "$log" ||
    fail "no accepted author tx with its sender: $(cat "$log")"
grep -q '"outcome":"refused","count":1,"detail":"author tx from key [0-9a-f]\{64\}, 1 signature(s): signer not authorised' "$log" ||
    fail "no refused author tx with its reason: $(cat "$log")"
grep -q '"event":"p2p_auth_failed".*TLS handshake with 127.0.0.1:' "$log" || fail "p2p failure without its cause"
grep -q '"event":"config_loaded".*"detail":"sha256:'"$(sha256sum "$n0/node.json" | cut -d' ' -f1)" "$log" ||
    fail "config_loaded does not name the config's hash"

# A start that fails (its RPC port taken) is logged as such.
/usr/bin/python3 - "$((base + 2))" "$FWLD" "$n0/node.json" <<'PY' || fail "fwledgerd started on a taken port"
import socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
rc = subprocess.call([sys.argv[2], "--config", sys.argv[3], "--listen", "127.0.0.1:" + sys.argv[1]],
                     stderr=subprocess.DEVNULL)
sys.exit(0 if rc == 1 else 1)
PY
tail -1 "$log" | grep -q '"event":"start","subject":"[0-9a-f]\{64\}","outcome":"failed","count":1,"detail":"[^"]*in use' ||
    fail "no failed start: $(tail -1 "$log")"

# A restart continues the chain; verify from the start (--strict), and the node's log holds
# the last line's hash.
start_node "$n0" "$base"
stop_node
"$FWL" audit verify --strict "$log" >"$TMP/verify.out" || fail "verify: $(cat "$TMP/verify.out")"
grep -q "^11 lines, chain intact: seq 1 to 11$" "$TMP/verify.out" || fail "verify said: $(cat "$TMP/verify.out")"
head=$(sed -n 's/^last line //p' "$TMP/verify.out")
[ "$(grep -o 'audit log: seq 11, last line sha256:[0-9a-f]*' "$n0/node.log" | tail -1)" = \
  "audit log: seq 11, last line $head" ] || fail "the node's log lacks the last line's hash $head"
"$FWL" audit verify --json "$log" >"$TMP/verify.json"
[ "$(json "$TMP/verify.json" 'd["intact"] and d["last_seq"] == 11 and d["from_start"]')" = True ] ||
    fail "verify --json: $(cat "$TMP/verify.json")"

# One byte edited (the line still an audit line): the next line's prev no longer matches.
cp "$log" "$TMP/audit.orig"
sed -i '3s/1 signature(s)"/2 signature(s)"/' "$log"
rc=0
"$FWL" audit verify "$log" >"$TMP/verify.out" || rc=$?
[ $rc -eq 1 ] || fail "verify of an edited log exited $rc: $(cat "$TMP/verify.out")"
grep -q "audit.log line 4: prev is not the hash of the line before (.*audit.log line 3)" "$TMP/verify.out" ||
    fail "edit not found at line 4: $(cat "$TMP/verify.out")"
# A line dropped.
sed '5d' "$TMP/audit.orig" >"$log"
rc=0
"$FWL" audit verify "$log" >"$TMP/verify.out" || rc=$?
[ $rc -eq 1 ] && grep -q "line 5: seq 6, expected 5: 1 line(s) missing" "$TMP/verify.out" ||
    fail "dropped line: rc $rc, $(cat "$TMP/verify.out")"
# Usage and unreadable files: 2.
rc=0
"$FWL" audit verify "$TMP/none.log" 2>"$TMP/err" || rc=$?
[ $rc -eq 2 ] && grep -q "none.log: No such file" "$TMP/err" || fail "missing file: rc $rc"
echo "audit: events of a node verified, an edit and a drop found"
