#!/usr/bin/env bash
# The release log end to end (issue 11): one node; publish, take a checkpoint of the
# certified log head, publish and revoke more, and `fwledger log verify` proves the new log
# extends the checkpoint; a release's latest record is included (log verify --file-hash,
# release --verify). A checkpoint whose root or size was altered, one of another chain, one
# past the node's log or its height, are refused with their codes. Then history is rewritten: the node is
# restarted on a copy of its data directory taken earlier and goes on with other releases,
# signed by the same validator; a checkpoint of the first history is not extended (-116),
# one taken before the fork still is.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" --product cam-fw >/dev/null
start_node "$TMP/chain" "$port"
node=(--node "127.0.0.1:$port")

# publish VERSION SECVER: a release of a fresh file $TMP/fw-VERSION.bin; prints its hash.
publish() {
    head -c 4096 /dev/urandom >"$TMP/fw-$1.bin"
    "$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product cam-fw --provider Acme \
        --version "$1" --security-version "$2" --file "$TMP/fw-$1.bin" \
        --url "https://fw.example.com/$1.bin" --hardware cam-v2 --json >"$TMP/pub-$1.json"
    json "$TMP/pub-$1.json" 'd["file_hash"]'
}
# refused CODE FILE ARGS...: fwledger exits 1 and names error CODE on stderr
refused() {
    local code=$1 rc=0
    shift
    "$FWL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ $rc -eq 1 ] || fail "$* exited $rc, want 1: $(cat "$TMP/out" "$TMP/err")"
    grep -q "error $code " "$TMP/err" || fail "$*: not error $code: $(cat "$TMP/err")"
}
# cp_edit IN OUT PYTHON: a copy of checkpoint IN with d changed by PYTHON
cp_edit() {
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(d, open(sys.argv[2], "w"))' "$1" "$2" "$3"
}

h1=$(publish 1.0.0 1)
h2=$(publish 1.1.0 2)
"$FWL" log checkpoint "${node[@]}" --out "$TMP/cp1.json" >/dev/null
[ "$(json "$TMP/cp1.json" 'd["log_size"]')" = 2 ] || fail "checkpoint: $(cat "$TMP/cp1.json")"
[ "$(json "$TMP/cp1.json" 'd["height"]')" = "$(json "$TMP/pub-1.1.0.json" 'd["height"]')" ] ||
    fail "checkpoint not at the tip: $(cat "$TMP/cp1.json")"
[ "$(json "$TMP/cp1.json" 'd["chain_id"]')" = fwledger-dev ] || fail "checkpoint chain id"
[ "$(json "$TMP/cp1.json" 'len(d["log_root"])')" = 64 ] || fail "checkpoint log root"

# A copy of the chain as it is now, for the rewritten history below.
stop_node
cp -a "$TMP/chain/data" "$TMP/data.fork"
start_node "$TMP/chain" "$port"

publish 1.2.0 3 >/dev/null
"$FWL" revoke "${node[@]}" --key "$TMP/chain/author.key" --file-hash "$h1" \
    --reason vulnerable >/dev/null
"$FWL" log verify "${node[@]}" --checkpoint "$TMP/cp1.json" --out "$TMP/cp2.json" >"$TMP/out"
grep -q "^consistent: log size 2 -> 4 " "$TMP/out" || fail "log verify: $(cat "$TMP/out")"
[ "$(json "$TMP/cp2.json" 'd["log_size"]')" = 4 ] || fail "--out: $(cat "$TMP/cp2.json")"

# Inclusion: the revoked record of 1.0.0 is the newest leaf; 1.1.0's publish is leaf 1.
"$FWL" log verify "${node[@]}" --checkpoint "$TMP/cp1.json" --file-hash "$h1" --json >"$TMP/v.json"
[ "$(json "$TMP/v.json" '(d["release"]["leaf_index"], d["release"]["revoked"], d["to"]["log_size"])')" = "(3, True, 4)" ] ||
    fail "log verify --file-hash: $(cat "$TMP/v.json")"
"$FWL" log verify "${node[@]}" --checkpoint "$TMP/cp2.json" --file-hash "$h2" >"$TMP/out"
grep -q "^included: cam-fw 1.1.0 at leaf 1 of 4$" "$TMP/out" || fail "included: $(cat "$TMP/out")"
"$FWL" release "${node[@]}" --file-hash "$h2" --verify --json >"$TMP/r.json"
[ "$(json "$TMP/r.json" '(d["log"]["leaf_index"], d["log"]["log_size"])')" = "(1, 4)" ] ||
    fail "release --verify: $(cat "$TMP/r.json")"

# Checkpoints that are not what their block certified, or not of this log.
cp_edit "$TMP/cp1.json" "$TMP/bad.json" 'd["log_root"] = ("0" if d["log_root"][0] != "0" else "1") + d["log_root"][1:]'
refused -116 log verify "${node[@]}" --checkpoint "$TMP/bad.json"
grep -q "history was rewritten" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"
cp_edit "$TMP/cp1.json" "$TMP/bad.json" 'd["log_size"] = 3'
refused -116 log verify "${node[@]}" --checkpoint "$TMP/bad.json"
cp_edit "$TMP/cp1.json" "$TMP/bad.json" 'd["log_size"] = 9'
refused -116 log verify "${node[@]}" --checkpoint "$TMP/bad.json"
cp_edit "$TMP/cp1.json" "$TMP/bad.json" 'd["log_size"] = 9; d["height"] = 99'
refused -114 log verify "${node[@]}" --checkpoint "$TMP/bad.json"
cp_edit "$TMP/cp1.json" "$TMP/bad.json" 'd["chain_id"] = "other"'
refused -9 log verify "${node[@]}" --checkpoint "$TMP/bad.json"
refused -16 log verify "${node[@]}" --checkpoint "$TMP/cp1.json" --file-hash "$(printf '%064d' 7)"

# Usage: --help, a missing checkpoint, no genesis to check against.
"$FWL" log checkpoint --help | grep -q "^usage: fwledger log checkpoint" || fail "checkpoint --help"
"$FWL" log verify --help | grep -q "^usage: fwledger log verify" || fail "verify --help"
rc=0; "$FWL" log verify "${node[@]}" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "log verify without --checkpoint exited $rc"
rc=0; env -u FWLEDGER_GENESIS "$FWL" log checkpoint "${node[@]}" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "log checkpoint without a genesis exited $rc"

# History rewritten: the node goes on from the copy with other releases (1.2.0 and 1.3.0
# of other files, no revocation), signed by the same validator.
stop_node
mv "$TMP/chain/data" "$TMP/data.main"
mv "$TMP/data.fork" "$TMP/chain/data"
start_node "$TMP/chain" "$port"
publish 1.2.0 3 >/dev/null
publish 1.3.0 4 >/dev/null
publish 1.4.0 5 >/dev/null
refused -116 log verify "${node[@]}" --checkpoint "$TMP/cp2.json"
grep -q "history was rewritten" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"
"$FWL" log verify "${node[@]}" --checkpoint "$TMP/cp1.json" >"$TMP/out"
grep -q "^consistent: log size 2 -> 5 " "$TMP/out" || fail "before the fork: $(cat "$TMP/out")"
stop_node
echo "PASS: release log (checkpoint, consistency, inclusion, tampered checkpoints, rewritten history)"
