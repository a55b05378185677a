#!/usr/bin/env bash
# Verifiable answers (issue 11) against a lying node: honest GetRelease and Eligible answers
# verify, straight from the node over TLS and through tests/functional/lying_proxy.py with
# --lie none; every lie the proxy tells (a swapped best release, a hidden revocation, a
# candidate left out, an old answer replayed, a short or forged certificate, another chain's
# proof, an earlier block's header, a proof or a part of it left out) and every wrong trust
# (other validators, another chain's genesis) is refused with exit 1 and its own error code;
# an unknown release is proven absent.
#
# Chain A (one validator) answers the lies; chain B (four validators) gives the certificate
# lies their certificates and other-chain its proof. The proxy speaks plaintext to the node
# it lies for: A is asked over TLS first, then restarted with rpc_plaintext; B's node 0 is
# plaintext from the start. VERIFY_FRAMES=DIR keeps the honest answer frames the proxy
# dumped (the seeds of tests/fuzz/corpus/fuzz_verify/).
source "$(dirname "$0")/lib.sh"
PROXY=$(dirname "$0")/lying_proxy.py
t_start=$(date +%s%3N)
now_ms() { date +%s%3N; }

set_config() { # DIR PYTHON-STATEMENTS (c is the config)
    /usr/bin/python3 - "$1/node.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); exec(sys.argv[2]); json.dump(c, open(p, "w"), indent=2)
PY
}
plaintext='c["rpc_plaintext"] = True; c["rpc_client_auth"] = "none"'
# wait_config CONFIG: until the node of that config answers Status (10 s at most)
wait_config() {
    for _ in $(seq 100); do
        "$FWL" status --config "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "the node of $1 did not come up"
}

# --- chain B: four validators, node 0 in plaintext; started first, it comes up meanwhile ----
bbase=$(free_port_range 8)
"$FWL" init "$TMP/b" --validators 4 --base-port "$bbase" --chain-id lie-b --product cam-fw >/dev/null
set_config "$TMP/b/node0" "$plaintext"
bpids=()
for k in 0 1 2 3; do
    "$FWLD" --config "$TMP/b/node$k/node.json" >>"$TMP/b/node$k/node.log" 2>&1 &
    bpids+=("$!")
    PIDS+=("$!")
done
b0=127.0.0.1:$bbase

# --- chain A: one validator, TLS --------------------------------------------------------------
aport=$(free_port)
"$FWL" init "$TMP/a" --port "$aport" --chain-id lie-a --product cam-fw --product gw-fw >/dev/null
start_node "$TMP/a" "$aport"  # trust_chain: FWLEDGER_GENESIS is A's genesis from here on
a=(--node "127.0.0.1:$aport")
pub() { # pub PRODUCT VERSION HARDWARE [TOOL OPTIONS]: its file hash in $TMP/PRODUCT-VERSION.hash
    local p=$1 v=$2 hw=$3
    shift 3
    echo "$p $v" >"$TMP/$p-$v.bin"
    sha256sum "$TMP/$p-$v.bin" | cut -d' ' -f1 >"$TMP/$p-$v.hash"
    "$FWL" publish "${a[@]}" --key "$TMP/a/author.key" --product "$p" --provider Acme \
        --version "$v" --security-version "${v//./}" --file "$TMP/$p-$v.bin" \
        --url "https://fw.example.com/$p-$v.bin" --hardware "$hw" "$@" >/dev/null ||
        fail "publish $p $v"
}
hash_of() { cat "$TMP/$1-$2.hash"; }
pub cam-fw 1.0.0 cam-v2
pub cam-fw 1.1.0 cam-v2
pub cam-fw 1.2.0 cam-v2
pub cam-fw 1.3.0 cam-v2
pub gw-fw 2.0.0 gw-1
"$FWL" revoke "${a[@]}" --key "$TMP/a/author.key" --file-hash "$(hash_of cam-fw 1.1.0)" \
    --reason vulnerable >/dev/null || fail "revoke"
# cam-fw on cam-v2 is bound to a contract: its proof, its binding's and the outcome totals'
# go into the answers (drop-part leaves the binding's out).
cat >"$TMP/healthy.ctr" <<'EOF'
rule base: defaults()
rule healthy: failure_rate(release) < 50 because "failure rate {failure_rate(release)} per mille"
EOF
"$FWL" contract deploy "${a[@]}" --key "$TMP/a/admin.key" --name healthy \
    --file "$TMP/healthy.ctr" >/dev/null || fail "contract deploy"
"$FWL" contract bind "${a[@]}" --key "$TMP/a/admin.key" --product cam-fw --hardware cam-v2 \
    --name healthy >/dev/null || fail "contract bind"
cat >"$TMP/cam.json" <<'EOF'
{"id": "cam-1", "hardware_model": "cam-v2", "hardware_rev": 3,
 "packages": [{"name": "cam-fw", "version": "1.0.0"}]}
EOF
cat >"$TMP/gw.json" <<'EOF'
{"id": "gw-1", "hardware_model": "gw-1", "packages": [{"name": "gw-fw", "version": "1.0.0"}]}
EOF
devices=(--device "$TMP/cam.json" --device "$TMP/gw.json")
good=$(hash_of cam-fw 1.2.0)
revoked=$(hash_of cam-fw 1.1.0)
absent=$(printf '%064d' 7)

# expect_ok WHAT CMD...: exit 0 with "verified": true in the JSON output ($TMP/out)
expect_ok() {
    local what=$1 rc=0
    shift
    "$@" --json >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ $rc -eq 0 ] || fail "$what: exited $rc: $(cat "$TMP/err")"
    [ "$(json "$TMP/out" 'd["verified"]')" = True ] || fail "$what: not verified: $(cat "$TMP/out")"
}
# expect_answers WHAT: the honest Eligible answers of the two devices in $TMP/out
expect_answers() {
    local cam='d["answers"][0]["products"][0]' gw='d["answers"][1]["products"][0]'
    [ "$(json "$TMP/out" "len(d['answers']), ${cam}['best']['version'], ${cam}['policy'], ${gw}['best']['version'], ${gw}['policy']")" = \
      "(2, '1.3.0', 'contract healthy v1', '2.0.0', 'default')" ] || fail "$1: answers: $(cat "$TMP/out")"
}
# expect_record WHAT VERSION REVOKED: the verified release in $TMP/out
expect_record() {
    [ "$(json "$TMP/out" 'd["record"]["release"]["version"], d["record"]["revoked"]')" = "('$2', $3)" ] ||
        fail "$1: record: $(cat "$TMP/out")"
}

# --- honest answers, straight from the node over TLS ------------------------------------------
expect_ok "release over TLS" "$FWL" release "${a[@]}" --file-hash "$good" --verify
expect_record "release over TLS" 1.2.0 False
expect_ok "revoked release over TLS" "$FWL" release "${a[@]}" --file-hash "$revoked" --verify
expect_record "revoked release over TLS" 1.1.0 True
expect_ok "eligible over TLS" "$FWL" eligible "${a[@]}" "${devices[@]}" --verify
expect_answers "eligible over TLS"
# A model's list, page by page (one release a page), each proven complete.
expect_ok "list over TLS" "$FWL" releases "${a[@]}" --hardware cam-v2 --limit 1 --all --verify
[ "$(json "$TMP/out" 'len(d["records"]), d["verified"]')" = "(4, True)" ] ||
    fail "list over TLS: $(cat "$TMP/out")"
# A proven absence: the answer verifies, and says there is no such release.
rc=0
"$FWL" release "${a[@]}" --file-hash "$absent" --verify >"$TMP/out" 2>"$TMP/err" || rc=$?
[ $rc -eq 1 ] || fail "unknown release: exited $rc: $(cat "$TMP/err")"
grep -q "error -16 (not found): proven absent at height [1-9]" "$TMP/err" ||
    fail "unknown release: $(cat "$TMP/err")"
echo "  honest answers verify over TLS; an unknown release is proven absent (error -16)"

# --- A again, in plaintext, behind the lying proxy --------------------------------------------
stop_node
set_config "$TMP/a" "$plaintext"
"$FWLD" --config "$TMP/a/node.json" >>"$TMP/a/node.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_config "$TMP/a/node.json"
a=(--config "$TMP/a/node.json")
aplain=127.0.0.1:$aport

# proxy UPSTREAM LIE [PROXY OPTIONS]: a lying node in front of UPSTREAM; $p names it for the
# tool (--node 127.0.0.1:PORT --plaintext), $PROXY_PID is its process (in PIDS).
proxy() {
    local up=$1 lie=$2 port
    shift 2
    port=$(free_port)
    /usr/bin/python3 "$PROXY" --listen "$port" --node "$up" --lie "$lie" "$@" 2>>"$TMP/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    p=(--node "127.0.0.1:$port" --plaintext)
    for _ in $(seq 100); do
        "$FWL" status "${p[@]}" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "the proxy for lie $lie did not come up: $(tail -3 "$TMP/proxy.log")"
}
stop_proxy() {
    kill "$1"
    wait "$1" 2>/dev/null || true # killed: 143
}
n_refused=0
# refused LIE CODE CMD...: the tool refuses the answer: exit 1, "does not verify: error CODE",
# nothing on stdout; the proxy did tell that lie (its last line is not "not lied to").
refused() {
    local lie=$1 code=$2 rc=0
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ $rc -eq 1 ] || fail "lie $lie: exited $rc, want 1: $(cat "$TMP/err") $(cat "$TMP/out")"
    grep -Eq "does not verify: error ($code) " "$TMP/err" ||
        fail "lie $lie: want error $code: $(cat "$TMP/err")"
    [ ! -s "$TMP/out" ] || fail "lie $lie: printed an answer: $(cat "$TMP/out")"
    if grep -q "^lying_proxy: " "$TMP/proxy.log"; then
        ! tail -n 1 "$TMP/proxy.log" | grep -q "not lied to" ||
            fail "lie $lie: the proxy told no lie: $(tail -n 1 "$TMP/proxy.log")"
    fi
    n_refused=$((n_refused + 1))
    echo "  lie $lie: refused: $(grep -Eo "error ($code) \([^)]*\)" "$TMP/err")"
}

# Two proxies keep an early answer for later: replay gives it again once it is old,
# stale-root gives its header and certificate to a later answer.
t0=$("$FWL" status "${a[@]}" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tip_time_ms"])')
h0=$("$FWL" status "${a[@]}" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')
proxy "$aplain" replay
replay_pid=$PROXY_PID replay=("${p[@]}")
expect_ok "replay, first answer" "$FWL" eligible "${replay[@]}" "${devices[@]}" --verify
proxy "$aplain" stale-root
stale_pid=$PROXY_PID stale=("${p[@]}")
expect_ok "stale-root, first answer" "$FWL" eligible "${stale[@]}" "${devices[@]}" --verify

# --- honest answers through the proxy (their frames dumped) -----------------------------------
proxy "$aplain" none --dump "$TMP/frames"
expect_ok "release through the proxy" "$FWL" release "${p[@]}" --file-hash "$good" --verify
expect_record "release through the proxy" 1.2.0 False
expect_ok "revoked release through the proxy" "$FWL" release "${p[@]}" --file-hash "$revoked" --verify
expect_record "revoked release through the proxy" 1.1.0 True
expect_ok "eligible through the proxy" "$FWL" eligible "${p[@]}" "${devices[@]}" --verify
expect_answers "eligible through the proxy"
expect_ok "one device through the proxy" "$FWL" eligible "${p[@]}" --device "$TMP/cam.json" --verify
rc=0
"$FWL" release "${p[@]}" --file-hash "$absent" --verify >"$TMP/out" 2>"$TMP/err" || rc=$?
[ $rc -eq 1 ] || fail "unknown release through the proxy: exited $rc: $(cat "$TMP/err")"
grep -q "error -16 (not found): proven absent" "$TMP/err" ||
    fail "unknown release through the proxy: $(cat "$TMP/err")"
# The proxy dumped the five answers it passed on (and the Status of its readiness check).
[ "$(find "$TMP/frames" -name '*-get_release.bin' | wc -l)" = 3 ] ||
    fail "the proxy dumped $(ls "$TMP/frames")"
[ "$(find "$TMP/frames" -name '*-eligible.bin' | wc -l)" = 2 ] ||
    fail "the proxy dumped $(ls "$TMP/frames")"
if [ -n "${VERIFY_FRAMES:-}" ]; then mkdir -p "$VERIFY_FRAMES" && cp "$TMP/frames"/*.bin "$VERIFY_FRAMES"/; fi
echo "  honest answers verify through the proxy (--lie none)"

# --- what the tracker trusts ------------------------------------------------------------------
# Another chain's genesis; this chain's id with B's validators.
refused other-genesis -9 "$FWL" release "${p[@]}" --file-hash "$good" --verify --genesis "$TMP/b/genesis.json"
/usr/bin/python3 - "$TMP/a/genesis.json" "$TMP/b/genesis.json" "$TMP/wrong.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1])); g["validators"] = json.load(open(sys.argv[2]))["validators"]
json.dump(g, open(sys.argv[3], "w"), indent=2)
PY
refused wrong-validators -113 "$FWL" eligible "${p[@]}" "${devices[@]}" --verify --genesis "$TMP/wrong.json"
stop_proxy "$PROXY_PID"

# --- the lies about records -------------------------------------------------------------------
lie() { # lie NAME CODE release|eligible: one request through a proxy telling that lie
    local name=$1 code=$2 what=$3
    proxy "$aplain" "$name"
    if [ "$what" = release ]; then
        refused "$name ($what)" "$code" "$FWL" release "${p[@]}" --file-hash "$revoked" --verify
    elif [ "$what" = list ]; then
        refused "$name ($what)" "$code" "$FWL" releases "${p[@]}" --hardware cam-v2 --verify
    else
        refused "$name ($what)" "$code" "$FWL" eligible "${p[@]}" "${devices[@]}" --verify
    fi
    stop_proxy "$PROXY_PID"
}
lie best -115 eligible
lie hide-revocation -25 release
lie hide-revocation-eligible -25 eligible
lie drop-candidate "-25|-10" eligible
lie no-proof -112 release
lie no-proof -112 eligible
lie drop-part -112 eligible
lie drop-listed -115 list
lie no-proof -112 list

# --- chain B: certificates and another chain's proof ------------------------------------------
for k in 0 1 2 3; do wait_config "$TMP/b/node$k/node.json"; done
echo "cam-fw on B" >"$TMP/b.bin"
"$FWL" publish --config "$TMP/b/node0/node.json" --key "$TMP/b/author.key" --product cam-fw \
    --provider Acme --version 1.0.0 --security-version 1 --file "$TMP/b.bin" \
    --url https://fw.example.com/b.bin --hardware cam-v2 --wait-timeout 20000 >/dev/null ||
    fail "publish on chain B"
bhash=$(sha256sum "$TMP/b.bin" | cut -d' ' -f1)
bg=(--genesis "$TMP/b/genesis.json")
proxy "$b0" none
expect_ok "chain B through the proxy" "$FWL" release "${p[@]}" --file-hash "$bhash" --verify "${bg[@]}"
stop_proxy "$PROXY_PID"
for l in short-cert forged-cert; do
    proxy "$b0" "$l"
    refused "$l" -113 "$FWL" release "${p[@]}" --file-hash "$bhash" --verify "${bg[@]}"
    stop_proxy "$PROXY_PID"
done
proxy "$aplain" other-chain --other "$b0"
refused "other-chain (release)" -9 "$FWL" release "${p[@]}" --file-hash "$revoked" --verify
refused "other-chain (eligible)" -9 "$FWL" eligible "${p[@]}" "${devices[@]}" --verify
stop_proxy "$PROXY_PID"

# --- old answers --------------------------------------------------------------------------------
# A new block on A, more than 6 s after the block of the answers kept early.
for _ in $(seq 100); do [ "$(now_ms)" -gt $((t0 + 6000)) ] && break; sleep 0.1; done
[ "$(now_ms)" -gt $((t0 + 6000)) ] || fail "the clock did not move"
pub cam-fw 1.4.0 cam-v2
# stale-root: the new answer's state proofs under the kept header of height h0.
refused stale-root -25 "$FWL" eligible "${stale[@]}" "${devices[@]}" --verify
grep -q "stale-root .*height $h0 instead of $((h0 + 1))" "$TMP/proxy.log" ||
    fail "stale-root: not the expected heights: $(grep stale-root "$TMP/proxy.log")"
stop_proxy "$stale_pid"
# replay: the old answer is genuine; within the default maximum age it verifies, at its old
# height (an answer proves what was true then); with a maximum age of 4 s it is refused,
# while the node's own answer, from a block just made, passes.
expect_ok "replay within the default maximum age" "$FWL" eligible "${replay[@]}" "${devices[@]}" --verify
[ "$(json "$TMP/out" 'd["at_height"]')" = "$h0" ] || fail "replay: not the old answer: $(cat "$TMP/out")"
refused replay -114 "$FWL" eligible "${replay[@]}" "${devices[@]}" --verify --max-age 4s
grep -q "replayed the first answer" "$TMP/proxy.log" || fail "replay: nothing replayed"
expect_ok "a fresh answer with --max-age 4s" "$FWL" eligible "${a[@]}" "${devices[@]}" --verify --max-age 4s
[ "$(json "$TMP/out" 'd["at_height"]')" = $((h0 + 1)) ] || fail "fresh answer: height: $(cat "$TMP/out")"
stop_proxy "$replay_pid"

stop_node
for pid in "${bpids[@]}"; do kill -TERM "$pid"; done
for pid in "${bpids[@]}"; do wait "$pid" || fail "a node of chain B did not stop cleanly"; done
echo "verify: honest answers verify (TLS, proxy); $n_refused lying answers (12 lies, 2 wrong trusts) refused, each with its code; $(( ($(now_ms) - t_start) / 1000 )) s"
