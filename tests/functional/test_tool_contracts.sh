#!/usr/bin/env bash
# The fwledger commands of issue 4: contract (deploy, bind, unbind, show, check), tracker,
# report and eligible. --help and bad usage for each (exit 2, one line on stderr); contract
# check offline on sample files (a verdict each way, a release as `fwledger release --json`
# prints it, a compile error with its line:col, strict JSON input); then against one node:
# deploy, show, bind, a non-admin deploy and a broken contract refused with the node's code
# and the compiler's message, tracker add, reports (one, a batch, a non-tracker refused),
# eligible for devices before and after the binding (and after failures were reported), an
# update plan across a dependency, in both output forms.
source "$(dirname "$0")/lib.sh"

# expect_rc RC CMD...: run CMD, want exit status RC; stdout in $TMP/out, stderr in $TMP/err.
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$TMP/err")"
}
# expect_usage CMD...: exit 2 with exactly one line on stderr and nothing on stdout.
expect_usage() {
    expect_rc 2 "$@"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "'$*': want one line on stderr, got: $(cat "$TMP/err")"
    [ ! -s "$TMP/out" ] || fail "'$*': unexpected output on stdout"
}
# expect_err PATTERN: the last command's stderr matches PATTERN (grep -E).
expect_err() { grep -Eq -- "$1" "$TMP/err" || fail "want stderr matching '$1', got: $(cat "$TMP/err")"; }
# out EXPR: a Python expression over the last command's JSON output `d`.
out() { json "$TMP/out" "$1"; }

# --- help ------------------------------------------------------------------------------------
cmds=("contract deploy" "contract bind" "contract unbind" "contract show" "contract check"
      tracker report eligible)
expect_rc 0 "$FWL" --help
for c in contract tracker report eligible; do
    grep -q "^  $c " "$TMP/out" || fail "fwledger --help does not list $c"
done
expect_rc 0 "$FWL" contract --help
for v in deploy bind unbind show check; do
    grep -q "^  $v " "$TMP/out" || fail "fwledger contract --help does not list $v"
done
expect_rc 0 "$FWL" help contract
grep -q "^usage: fwledger contract" "$TMP/out" || fail "fwledger help contract: no usage"
for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086 # "contract deploy" is two words on purpose
    expect_rc 0 "$FWL" $c --help
    grep -q "^usage: fwledger $c" "$TMP/out" || fail "$c --help: no usage on stdout"
    [ ! -s "$TMP/err" ] || fail "$c --help wrote to stderr"
    # shellcheck disable=SC2086
    expect_rc 0 "$FWL" $c -h
done

# --- bad usage -------------------------------------------------------------------------------
for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    expect_usage "$FWL" $c --no-such-option
done
hash0=$(printf '%064d' 0)
expect_usage "$FWL" contract
expect_usage "$FWL" contract frobnicate
expect_usage "$FWL" contract deploy --key k --name n                 # no --file
expect_usage "$FWL" contract deploy --key k --file f                 # no --name
expect_usage "$FWL" contract deploy --name n --file f                # no --key
expect_usage "$FWL" contract deploy --key k --name "" --file f
expect_usage "$FWL" contract deploy --key k --name "$(printf 'n%.0s' {1..65})" --file f
expect_usage "$FWL" contract deploy --key k --name n --file f extra
expect_usage "$FWL" contract bind --key k --product p                # no --name
expect_usage "$FWL" contract bind --key k --name n                   # no --product
expect_usage "$FWL" contract unbind --key k --product p --name n     # unbind takes no name
expect_usage "$FWL" contract unbind --key k
expect_usage "$FWL" contract show
expect_usage "$FWL" contract show --name n --version 0
expect_usage "$FWL" contract show --name n --version x
expect_usage "$FWL" contract check --file f --device d               # no --release
expect_usage "$FWL" contract check --file f --device d --release r --block-time-ms -5
expect_usage "$FWL" contract check --file f --device d --release r --node 127.0.0.1:1
expect_usage "$FWL" tracker
expect_usage "$FWL" tracker rename --key k --tracker-key k
expect_usage "$FWL" tracker add --key k
expect_usage "$FWL" tracker add --tracker-key k
expect_usage "$FWL" tracker add --key k --tracker-key 02abcd          # hex needs --tracker-alg
expect_usage "$FWL" tracker add --key k --tracker-key 02abcd --tracker-alg rsa
expect_usage "$FWL" tracker add --key k --tracker-key 02abcd --tracker-alg ed25519   # 2 bytes
expect_usage "$FWL" tracker add remove --key k --tracker-key k
expect_usage "$FWL" report --key k
expect_usage "$FWL" report --file-hash "$hash0" --succeeded 1        # no --key
expect_usage "$FWL" report --key k --file-hash "$hash0"              # counts nothing
expect_usage "$FWL" report --key k --file-hash "$hash0" --succeeded 0 --failed 0
expect_usage "$FWL" report --key k --file-hash 00 --succeeded 1
expect_usage "$FWL" report --key k --file-hash "$hash0" --failed -1
expect_usage "$FWL" report --key k --file-hash "$hash0" --rolled-back 4294967296
expect_usage "$FWL" report --key k --file-hash "$hash0" --hash-alg md5 --succeeded 1
expect_usage "$FWL" report --key k --batch b.json --succeeded 1
expect_usage "$FWL" eligible
expect_usage "$FWL" eligible --device d.json extra
devs=(); for _ in $(seq 17); do devs+=(--device d.json); done
expect_usage "$FWL" eligible "${devs[@]}"

# --- sample files ----------------------------------------------------------------------------
mkdir -p "$TMP/s"
cat >"$TMP/s/canary.ctr" <<'EOF'
# The default policy, for canary devices only, and not while installs fail.
rule base: defaults()
rule canary: "canary" in device.tags because "only canary devices for now"
rule healthy: failure_rate(release) < 50 because "failure rate {failure_rate(release)} per mille"
EOF
printf 'rule base: defaults()\nrule canary "canary" in device.tags\n' >"$TMP/s/broken.ctr"
cat >"$TMP/s/canary.json" <<'EOF'
{"id": "dev-0001", "hardware_model": "cam-v2", "hardware_rev": 4, "addons": ["lora"],
 "packages": [{"name": "cam-fw", "version": "1.0.0"}, {"name": "libfoo", "version": "2.2.0"}],
 "region": "eu", "tags": ["canary"]}
EOF
sed 's/"canary"\]/"field"]/; s/dev-0001/dev-0002/' "$TMP/s/canary.json" >"$TMP/s/field.json"
cat >"$TMP/s/release.json" <<'EOF'
{"product": "cam-fw", "version": "1.4.2", "security_version": 7,
 "file_hash": "abababababababababababababababababababababababababababababababab",
 "hardware": [{"model": "cam-v2", "rev_min": 3, "rev_max": 5, "required_addons": ["lora"]}],
 "dependencies": [{"package": "libfoo", "constraint": ">=2.1.0,<3"}],
 "revoked": false, "published_at": 1767225600,
 "outcomes": {"succeeded": 98, "failed": 1, "rolled_back": 1}}
EOF
check=(contract check --file "$TMP/s/canary.ctr" --block-time-ms 1767225600000)

# --- contract check, offline -----------------------------------------------------------------
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/release.json" --json
[ "$(out 'd["eligible"]')" = True ] || fail "check: the canary device is not eligible: $(cat "$TMP/out")"
[ "$(out 'd["cost"] > 0')" = True ] || fail "check: no cost reported"
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/field.json" --release "$TMP/s/release.json" --json
[ "$(out 'd["eligible"], d["rule"], d["reason"]')" = "(False, 'canary', 'only canary devices for now')" ] ||
    fail "check: field device: $(cat "$TMP/out")"
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/field.json" --release "$TMP/s/release.json"
grep -q "^eligible  *no$" "$TMP/out" || fail "check: human verdict: $(cat "$TMP/out")"
grep -q "^rule  *canary$" "$TMP/out" || fail "check: human rule: $(cat "$TMP/out")"
grep -q "^reason  *only canary devices for now$" "$TMP/out" || fail "check: human reason"
# Outcome totals reach the contract: 10% failing halts the rollout.
sed 's/"succeeded": 98, "failed": 1/"succeeded": 90, "failed": 9/' "$TMP/s/release.json" >"$TMP/s/failing.json"
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/failing.json" --json
[ "$(out 'd["rule"], d["reason"]')" = "('healthy', 'failure rate 100 per mille')" ] ||
    fail "check: failure rate: $(cat "$TMP/out")"
# A revoked release is never eligible, whatever the contract.
sed 's/"revoked": false/"revoked": true, "revoke_reason": "vulnerable"/' "$TMP/s/release.json" >"$TMP/s/revoked.json"
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/revoked.json" --json
[ "$(out 'd["rule"]')" = revoked ] || fail "check: revoked release: $(cat "$TMP/out")"
# A contract failing at run time: its verdict with the error, and exit 1.
printf 'rule odd: 1 / (len(device.tags) - 1) == 0\n' >"$TMP/s/divzero.ctr"
expect_rc 1 "$FWL" contract check --file "$TMP/s/divzero.ctr" --device "$TMP/s/canary.json" \
    --release "$TMP/s/release.json" --json
[ "$(out 'd["eligible"], d["rule"], d["reason"], d["error"]["code"]')" = \
  "(False, 'odd', '1:13: division by zero', -308)" ] || fail "check: run-time error: $(cat "$TMP/out")"
# The compile error, with line:col, as PATH:LINE:COL: message.
expect_rc 1 "$FWL" contract check --file "$TMP/s/broken.ctr" --device "$TMP/s/canary.json" \
    --release "$TMP/s/release.json"
expect_err "broken\.ctr:2:13: expected ':' after the rule name"
[ ! -s "$TMP/out" ] || fail "check: output despite a compile error"
# Strict input files: the field is named.
echo '{"id": "a", "hardware_model": "m", "colour": "red"}' >"$TMP/s/bad1.json"
expect_rc 1 "$FWL" "${check[@]}" --device "$TMP/s/bad1.json" --release "$TMP/s/release.json"
expect_err "bad1\.json: colour: unknown key"
echo '{"id": "a", "hardware_model": "m", "packages": [{"name": "x", "version": "1.0"}]}' >"$TMP/s/bad2.json"
expect_rc 1 "$FWL" eligible --device "$TMP/s/bad2.json"
expect_err "bad2\.json: packages\[0\]\.version: '1\.0' is not a Semantic Versioning"
echo '{"id": "a", "hardware_model": "m", "addons": ["lora", 7]}' >"$TMP/s/bad3.json"
expect_rc 1 "$FWL" eligible --device "$TMP/s/bad3.json"
expect_err "bad3\.json: addons\[1\]: must be a string"
echo '{"id": "a", "hardware_model": "m",' >"$TMP/s/bad4.json"
expect_rc 1 "$FWL" eligible --device "$TMP/s/bad4.json"
expect_err "bad4\.json: invalid JSON at line"
head -c 70000 /dev/zero | tr '\0' ' ' >"$TMP/s/big.json"
expect_rc 1 "$FWL" eligible --device "$TMP/s/big.json"
expect_err "big\.json: larger than 65536 bytes"
expect_rc 1 "$FWL" eligible --device "$TMP/s/missing.json"
expect_err "missing\.json: No such file"
sed 's/"version": "1.4.2"/"version": "1.4.2", "colour": 1/' "$TMP/s/release.json" >"$TMP/s/bad5.json"
expect_rc 1 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/bad5.json"
expect_err "bad5\.json: colour: unknown key"
sed 's/">=2.1.0,<3"/">>2"/' "$TMP/s/release.json" >"$TMP/s/bad6.json"
expect_rc 1 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/bad6.json"
expect_err "bad6\.json: dependencies\[0\]\.constraint: bad version constraint"
head -c 9000 /dev/zero | tr '\0' '#' >"$TMP/s/huge.ctr"
expect_rc 1 "$FWL" contract check --file "$TMP/s/huge.ctr" --device "$TMP/s/canary.json" \
    --release "$TMP/s/release.json"
expect_err "huge\.ctr: larger than 8192 bytes"

# --- against a node --------------------------------------------------------------------------
port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" --product cam-fw --product gw-fw --product libfoo >/dev/null
start_node "$TMP/chain" "$port"
node=(--node "127.0.0.1:$port")
admin=(--key "$TMP/chain/admin.key")

# Deploy: compiled here first (the rule count says so), then by the node.
expect_rc 0 "$FWL" contract deploy "${node[@]}" "${admin[@]}" --name canary \
    --file "$TMP/s/canary.ctr" --json
[ "$(out 'd["rules"], d["name"]')" = "(3, 'canary')" ] || fail "deploy: $(cat "$TMP/out")"
deploy_height=$(out 'd["height"]')
# A broken contract: refused here before any round trip...
expect_rc 1 "$FWL" contract deploy "${node[@]}" "${admin[@]}" --name broken --file "$TMP/s/broken.ctr"
expect_err "^fwledger contract deploy: .*broken\.ctr:2:13: expected ':' after the rule name"
# ...and by the node, with its code and the compiler's message, when sent anyway.
expect_rc 1 "$FWL" contract deploy "${node[@]}" "${admin[@]}" --name broken \
    --file "$TMP/s/broken.ctr" --no-compile
expect_err "error -23 \(contract does not compile\).*2:13: expected ':' after the rule name"
# An author is no admin.
expect_rc 1 "$FWL" contract deploy "${node[@]}" --key "$TMP/chain/author.key" --name mine \
    --file "$TMP/s/canary.ctr"
expect_err "error -11 \(signer not authorised for this action\)"

# Show: the version, the height, the source byte for byte.
expect_rc 0 "$FWL" contract show "${node[@]}" --name canary --json
[ "$(out 'd["name"], d["version"], d["height"]')" = "('canary', 1, $deploy_height)" ] ||
    fail "show: $(cat "$TMP/out")"
[ "$(out 'len(d["code_hash"])')" = 64 ] || fail "show: no code hash"
out 'd["source"]' | head -c -1 | cmp -s - "$TMP/s/canary.ctr" || fail "show --json: the source differs"
expect_rc 0 "$FWL" contract show "${node[@]}" --name canary --version 1
sed -n '/^source:$/,$p' "$TMP/out" | tail -n +2 | cmp -s - "$TMP/s/canary.ctr" ||
    fail "show: the source differs: $(cat "$TMP/out")"
grep -q "^version  *1$" "$TMP/out" || fail "show: no version line"
expect_rc 1 "$FWL" contract show "${node[@]}" --name nosuch
expect_err "error -16 \(not found\)"
expect_rc 1 "$FWL" contract show "${node[@]}" --name canary --version 2
expect_err "error -16 \(not found\)"

# A release to report on and to ask about.
head -c 5000 /dev/urandom >"$TMP/fw.bin"
"$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product cam-fw --provider Acme \
    --version 1.4.2 --security-version 7 --file "$TMP/fw.bin" --url https://fw.example.com/1.4.2 \
    --hardware "cam-v2:3-5+lora" --depends "libfoo>=2.1.0,<3" --json >"$TMP/pub.json"
fw_hash=$(json "$TMP/pub.json" 'd["file_hash"]')

# Tracker and reports (3 of 103 installs fail: the contract lets the rollout go on).
"$FWL" keygen --alg ed25519 --out "$TMP/tracker.key" >/dev/null
expect_rc 1 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --file-hash "$fw_hash" --succeeded 1
expect_err "error -11 \(signer not authorised for this action\).*not a registered tracker"
expect_rc 0 "$FWL" tracker add "${node[@]}" "${admin[@]}" --tracker-key "$TMP/tracker.key" \
    --name lab --json
[ "$(out 'd["tracker_key"]')" = "$(json "$TMP/tracker.key" 'd["public"]')" ] ||
    fail "tracker add: another key: $(cat "$TMP/out")"
expect_rc 0 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --file-hash "$fw_hash" \
    --succeeded 97 --failed 2 --rolled-back 1 --json
[ "$(out 'd["reports"] == 1 and d["height"] > 0')" = True ] || fail "report: $(cat "$TMP/out")"
# A batch naming an unknown release is refused as a whole by the node...
printf '[{"file_hash": "%s", "succeeded": 3}, {"file_hash": "%s", "failed": 1}]\n' \
    "$fw_hash" "$hash0" >"$TMP/batch.json"
expect_rc 1 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --batch "$TMP/batch.json"
expect_err "error -16 \(not found\).*no such release"
# ...a bad one by the tool, naming the entry; a good one goes through.
printf '[{"file_hash": "%s", "succeeded": 3}, {"file_hash": "%s", "failed": 1}]\n' \
    "$fw_hash" "$fw_hash" >"$TMP/batch.json"
expect_rc 1 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --batch "$TMP/batch.json"
expect_err "batch\.json: \[0\] and \[1\] report the same release"
printf '[{"file_hash": "%s", "rolled_back": 0}]\n' "$fw_hash" >"$TMP/batch.json"
expect_rc 1 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --batch "$TMP/batch.json"
expect_err "batch\.json: \[0\]: counts no device"
printf '[{"file_hash": "%s", "hash_alg": "sha256", "succeeded": 3}]\n' "$fw_hash" >"$TMP/batch.json"
expect_rc 0 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --batch "$TMP/batch.json" --json
[ "$(out 'd["reports"]')" = 1 ] || fail "report --batch: $(cat "$TMP/out")"

# contract check on the release as the chain holds it (fwledger release --json).
"$FWL" release "${node[@]}" --file-hash "$fw_hash" --json >"$TMP/s/chain-release.json"
expect_rc 0 "$FWL" "${check[@]}" --device "$TMP/s/canary.json" --release "$TMP/s/chain-release.json" --json
[ "$(out 'd["eligible"]')" = True ] || fail "check on a chain release: $(cat "$TMP/out")"

# Eligible under the default policy: both devices may update.
elig=(eligible "${node[@]}" --device "$TMP/s/canary.json" --device "$TMP/s/field.json")
expect_rc 0 "$FWL" "${elig[@]}" --json
[ "$(out 'len(d["answers"]), len(d["block_hash"]), d["at_height"] > 0')" = "(2, 64, True)" ] ||
    fail "eligible: $(cat "$TMP/out")"
p='d["answers"][1]["products"][0]'
[ "$(out "${p}[\"product\"], ${p}[\"status\"], ${p}[\"installed\"], ${p}[\"policy\"]")" = \
  "('cam-fw', 'update_available', '1.0.0', 'default')" ] || fail "eligible (default): $(cat "$TMP/out")"
[ "$(out "${p}[\"best\"][\"version\"], ${p}[\"best\"][\"file_hash\"][\"digest\"]")" = "('1.4.2', '$fw_hash')" ] ||
    fail "eligible: best: $(cat "$TMP/out")"

# Bound to the contract: the field device is refused by rule "canary", in words.
expect_rc 0 "$FWL" contract bind "${node[@]}" "${admin[@]}" --product cam-fw --hardware cam-v2 \
    --name canary
expect_rc 0 "$FWL" "${elig[@]}" --json
[ "$(out 'd["answers"][0]["products"][0]["policy"]')" = "contract canary v1" ] ||
    fail "eligible: the binding is not used: $(cat "$TMP/out")"
[ "$(out 'd["answers"][0]["products"][0]["best"]["version"]')" = 1.4.2 ] ||
    fail "eligible: the canary device lost its update: $(cat "$TMP/out")"
[ "$(out "${p}[\"status\"], ${p}[\"best\"], ${p}[\"rejected_total\"]")" = "('up_to_date', None, 1)" ] ||
    fail "eligible (contract): $(cat "$TMP/out")"
[ "$(out "${p}[\"rejected\"][0][\"version\"], ${p}[\"rejected\"][0][\"rule\"], ${p}[\"rejected\"][0][\"reason\"]")" = \
  "('1.4.2', 'canary', 'only canary devices for now')" ] || fail "eligible: rejection: $(cat "$TMP/out")"
# The same answer for people.
expect_rc 0 "$FWL" "${elig[@]}"
grep -q "^device dev-0001$" "$TMP/out" || fail "eligible: no device line: $(cat "$TMP/out")"
grep -q "^  status  *update available$" "$TMP/out" || fail "eligible: status: $(cat "$TMP/out")"
grep -q "^  best  *cam-fw 1.4.2 sha256:$fw_hash$" "$TMP/out" || fail "eligible: best: $(cat "$TMP/out")"
grep -q "^  policy  *contract canary v1$" "$TMP/out" || fail "eligible: policy: $(cat "$TMP/out")"
grep -q "^  rejected  *cam-fw 1.4.2 sha256:${fw_hash:0:16}...: canary: only canary devices for now$" \
    "$TMP/out" || fail "eligible: rejected: $(cat "$TMP/out")"
grep -q "^at height [0-9]*, block [0-9a-f]\{64\}$" "$TMP/out" || fail "eligible: no height: $(cat "$TMP/out")"

# The trackers' totals reach the contract: 3 failures in 103 pass (under 5%), 23 in 123 halt
# the rollout for the canary device too.
expect_rc 0 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --file-hash "$fw_hash" --failed 20
expect_rc 0 "$FWL" "${elig[@]}" --json
[ "$(out 'd["answers"][0]["products"][0]["rejected"][0]["rule"]')" = healthy ] ||
    fail "eligible: reports did not halt the rollout: $(cat "$TMP/out")"
[ "$(out 'd["answers"][0]["products"][0]["rejected"][0]["reason"]')" = "failure rate 186 per mille" ] ||
    fail "eligible: failure rate: $(cat "$TMP/out")"
# The same answer verified (issue 11): the contract, its binding and the outcome totals are
# proven, the decision re-run on them gives the same rejection, rule and reason.
expect_rc 0 "$FWL" "${elig[@]}" --verify
grep -q "^verified: " "$TMP/out" || fail "eligible --verify under a contract: $(cat "$TMP/out")"

# An update plan across a dependency: gw-fw 2.0.0 needs libfoo 2, the gateway runs 1.4.
pub() { # pub PRODUCT VERSION HARDWARE [DEPENDS]
    echo "$1 $2" >"$TMP/$1-$2.bin"
    "$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product "$1" --provider Acme \
        --version "$2" --security-version 1 --file "$TMP/$1-$2.bin" \
        --url "https://fw.example.com/$1-$2.bin" --hardware "$3" ${4:+--depends "$4"} >/dev/null
}
pub libfoo 2.1.0 gw-1
pub gw-fw 2.0.0 gw-1 "libfoo>=2.0.0,<3"
cat >"$TMP/s/gw.json" <<'EOF'
{"id": "gw-7", "hardware_model": "gw-1", "packages": [{"name": "gw-fw", "version": "1.0.0"},
 {"name": "libfoo", "version": "1.4.0"}]}
EOF
expect_rc 0 "$FWL" eligible "${node[@]}" --device "$TMP/s/gw.json" --json
g='[a for a in d["answers"][0]["products"] if a["product"] == "gw-fw"][0]'
[ "$(out "${g}[\"best\"][\"version\"], [(s[\"product\"], s[\"version\"]) for s in ${g}[\"plan\"]]")" = \
  "('2.0.0', [('libfoo', '2.1.0'), ('gw-fw', '2.0.0')])" ] || fail "eligible: plan: $(cat "$TMP/out")"
expect_rc 0 "$FWL" eligible "${node[@]}" --device "$TMP/s/gw.json" --verify
grep -q "^verified: " "$TMP/out" || fail "eligible --verify with a plan: $(cat "$TMP/out")"
grep -A1 "^  plan  *1\. libfoo 2\.1\.0 sha256:[0-9a-f]\{64\}$" "$TMP/out" |
    grep -q "^  *2\. gw-fw 2\.0\.0 sha256:[0-9a-f]\{64\}$" || fail "eligible: plan lines: $(cat "$TMP/out")"

# Unbound: the default again.
expect_rc 0 "$FWL" contract unbind "${node[@]}" "${admin[@]}" --product cam-fw --hardware cam-v2
expect_rc 0 "$FWL" "${elig[@]}" --json
[ "$(out "${p}[\"policy\"], ${p}[\"status\"]")" = "('default', 'update_available')" ] ||
    fail "eligible after unbind: $(cat "$TMP/out")"
expect_rc 0 "$FWL" tracker remove "${node[@]}" "${admin[@]}" --tracker-key "$TMP/tracker.key"
expect_rc 1 "$FWL" report "${node[@]}" --key "$TMP/tracker.key" --file-hash "$fw_hash" --succeeded 1
expect_err "not a registered tracker"
stop_node
echo "tool contracts: help and usage of 8 commands, contract check offline, deploy/show/bind/unbind, tracker, reports, eligible"
