#!/usr/bin/env bash
# TLS on the RPC port (issue 10): the node's identity key checked against pinned keys, a
# CA-issued certificate checked against the CA and the address, plaintext only on loopback
# and only when both sides say so, and client certificates with rpc_require roles.
source "$(dirname "$0")/lib.sh"

# expect CODE WHAT CMD...: CMD exits with CODE; its stderr is in $TMP/err
expect() {
    local want=$1 what=$2 rc=0
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ $rc -eq "$want" ] || fail "$what: exited $rc, want $want: $(cat "$TMP/err")"
}
set_config() { # DIR PYTHON-STATEMENTS (c is the config)
    /usr/bin/python3 - "$1/node.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); exec(sys.argv[2]); json.dump(c, open(p, "w"), indent=2)
PY
}

# --- 1. the identity key, pinned ------------------------------------------------------------
port=$(free_port)
"$FWL" init "$TMP/a" --port "$port" --alg ed25519 >/dev/null
set_config "$TMP/a" 'c["rpc_require"] = {"eligible": "tracker", "get_contract": "admin"}'
start_node "$TMP/a" "$port"
unset FWLEDGER_GENESIS FWLEDGER_NODE_KEY
node=(--node "127.0.0.1:$port")
expect 0 "pinned by the genesis" "$FWL" status "${node[@]}" --genesis "$TMP/a/genesis.json"
expect 0 "pinned by the node's config" "$FWL" status --config "$TMP/a/node.json"
id=$(json "$TMP/a/node.key" '"%s:%s" % (d["alg"], d["public"])')
expect 0 "pinned by --node-key" "$FWL" status "${node[@]}" --node-key "$id"
expect 0 "pinned by FWLEDGER_NODE_KEY" env FWLEDGER_NODE_KEY="$id" "$FWL" status "${node[@]}"
"$FWL" keygen --alg ed25519 --out "$TMP/other.key" >/dev/null
other=$(json "$TMP/other.key" '"%s:%s" % (d["alg"], d["public"])')
expect 1 "another key pinned" "$FWL" status "${node[@]}" --node-key "$other"
grep -q "error -109.*not one of the pinned keys" "$TMP/err" || fail "wrong pin: $(cat "$TMP/err")"
expect 0 "one of several pins" "$FWL" status "${node[@]}" --node-key "$other,$id"
expect 2 "nothing to check the node with" "$FWL" status "${node[@]}"
grep -q "cannot check the node" "$TMP/err" || fail "no trust: $(cat "$TMP/err")"
expect 1 "plaintext to a TLS node" "$FWL" status "${node[@]}" --plaintext
grep -q "closes plaintext" "$TMP/err" || fail "plaintext to TLS: $(cat "$TMP/err")"
expect 1 "plaintext to a non-loopback address" "$FWL" status --node 192.0.2.1:7400 --plaintext
grep -q "only to a loopback address" "$TMP/err" || fail "plaintext elsewhere: $(cat "$TMP/err")"

# --- 2. client certificates and rpc_require ------------------------------------------------
export FWLEDGER_GENESIS=$TMP/a/genesis.json
"$FWL" keygen --alg ed25519 --out "$TMP/tracker.key" >/dev/null
"$FWL" keygen --alg p256-ecdsa --out "$TMP/stranger.key" >/dev/null
"$FWL" tracker add "${node[@]}" --key "$TMP/a/admin.key" --tracker-key "$TMP/tracker.key" \
    --name t1 >/dev/null || fail "tracker add"
cat >"$TMP/dev.json" <<'J'
{"id": "dev-1", "hardware_model": "m1", "packages": [{"name": "acme-sensor-fw", "version": "1.0.0"}]}
J
expect 1 "eligible without a client key" "$FWL" eligible "${node[@]}" --device "$TMP/dev.json"
grep -q "error -110.*eligible needs a client certificate of a registered tracker's key; none" "$TMP/err" ||
    fail "eligible without a key: $(cat "$TMP/err")"
expect 1 "eligible with an unregistered key" "$FWL" eligible "${node[@]}" --device "$TMP/dev.json" \
    --client-key "$TMP/stranger.key"
grep -q "error -110.*this one is not" "$TMP/err" || fail "stranger: $(cat "$TMP/err")"
expect 0 "eligible as a registered tracker" "$FWL" eligible "${node[@]}" --device "$TMP/dev.json" \
    --client-key "$TMP/tracker.key"
expect 1 "contract show as a tracker" "$FWL" contract show "${node[@]}" --name x \
    --client-key "$TMP/tracker.key"
grep -q "error -110.*of an admin's key" "$TMP/err" || fail "tracker as admin: $(cat "$TMP/err")"
expect 1 "contract show as the admin" "$FWL" contract show "${node[@]}" --name x \
    --client-key "$TMP/a/admin.key"
grep -q "error -16" "$TMP/err" || fail "admin: not 'not found': $(cat "$TMP/err")"
expect 0 "status needs no role" "$FWL" status "${node[@]}"
"$FWL" keygen --alg secp256k1-ecdsa --out "$TMP/k1.key" >/dev/null
expect 1 "a client key TLS cannot use" "$FWL" status "${node[@]}" --client-key "$TMP/k1.key"
grep -q "cannot be used for TLS 1.3" "$TMP/err" || fail "secp256k1 client key: $(cat "$TMP/err")"
grep -q "security: rpc_denied from 127.0.0.1: eligible" "$NODE_LOG" || fail "denial not logged"
stop_node
# ... and audited, as are the failed handshakes (the wrong pin, plaintext).
expect 0 "audit verify" "$FWL" audit verify "$TMP/a/data/audit.log"
for ev in rpc_denied rpc_tls_failed; do
    grep -q "\"event\":\"$ev\",\"subject\":\"127.0.0.1\",\"outcome\":\"refused\"" \
        "$TMP/a/data/audit.log" || fail "$ev not in the audit log"
done

# rpc_client_auth required: no key, no handshake.
set_config "$TMP/a" 'c["rpc_client_auth"] = "required"'
start_node_quiet() { "$FWLD" --config "$1/node.json" >>"$1/node.log" 2>&1 & NODE_PID=$!; PIDS+=("$NODE_PID"); NODE_LOG=$1/node.log; }
start_node_quiet "$TMP/a"
for _ in $(seq 100); do "$FWL" status "${node[@]}" --client-key "$TMP/stranger.key" >/dev/null 2>&1 && break; sleep 0.1; done
expect 0 "required: with a key" "$FWL" status "${node[@]}" --client-key "$TMP/stranger.key"
expect 1 "required: without a key" "$FWL" status "${node[@]}"
stop_node

# --- 3. a CA-issued certificate --------------------------------------------------------------
cd "$TMP"
openssl_quiet() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
for ca in ca other-ca; do
    openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$ca" -keyout "$ca.key" -out "$ca.pem"
done
issue() { # NAME IP: a server certificate for IP, signed by ca
    openssl_quiet req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$1.key" -out "$1.csr"
    printf 'subjectAltName=IP:%s\n' "$2" >"$1.ext"
    openssl_quiet x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.pem"
}
issue srv 127.0.0.1
issue wrongip 127.0.0.2
cd - >/dev/null
port=$(free_port)
"$FWL" init "$TMP/b" --port "$port" >/dev/null
set_config "$TMP/b" "c['rpc_tls_cert'] = '$TMP/srv.pem'; c['rpc_tls_key'] = '$TMP/srv.key'"
start_node_quiet "$TMP/b"
node=(--node "127.0.0.1:$port")
for _ in $(seq 100); do "$FWL" status "${node[@]}" --ca "$TMP/ca.pem" >/dev/null 2>&1 && break; sleep 0.1; done
expect 0 "CA-issued certificate" "$FWL" status "${node[@]}" --ca "$TMP/ca.pem"
expect 1 "another CA" "$FWL" status "${node[@]}" --ca "$TMP/other-ca.pem"
grep -q "error -109.*certificate" "$TMP/err" || fail "other CA: $(cat "$TMP/err")"
expect 1 "the identity pin does not match a CA certificate" "$FWL" status "${node[@]}" \
    --genesis "$TMP/b/genesis.json"
stop_node
set_config "$TMP/b" "c['rpc_tls_cert'] = '$TMP/wrongip.pem'; c['rpc_tls_key'] = '$TMP/wrongip.key'"
start_node_quiet "$TMP/b"
sleep 0.5
expect 1 "a certificate for another address" "$FWL" status "${node[@]}" --ca "$TMP/ca.pem"
grep -q "IP address mismatch" "$TMP/err" || fail "wrong IP: $(cat "$TMP/err")"
stop_node

# --- 4. plaintext, by config, on loopback only ----------------------------------------------
set_config "$TMP/b" 'del c["rpc_tls_cert"]; del c["rpc_tls_key"]; c["rpc_plaintext"] = True; c["rpc_client_auth"] = "none"'
start_node_quiet "$TMP/b"
for _ in $(seq 100); do "$FWL" status "${node[@]}" --plaintext >/dev/null 2>&1 && break; sleep 0.1; done
expect 0 "plaintext by config" "$FWL" status "${node[@]}" --plaintext
expect 0 "plaintext from the config" "$FWL" status --config "$TMP/b/node.json"
expect 1 "TLS to a plaintext node" "$FWL" status "${node[@]}" --genesis "$TMP/b/genesis.json"
stop_node
set_config "$TMP/b" 'c["rpc_listen"] = "0.0.0.0:%d" % int(c["rpc_listen"].split(":")[1])'
expect 1 "plaintext on every address" "$FWLD" --config "$TMP/b/node.json"
grep -q "rpc_plaintext: only with a loopback rpc_listen" "$TMP/err" || fail "0.0.0.0 plaintext: $(cat "$TMP/err")"
echo "test_rpc_tls: ok"
