#!/usr/bin/env bash
# The fwledger command line: --help on the tool and every subcommand (exit 0, usage on
# stdout), bad usage (exit 2, one line on stderr), runtime errors (exit 1 naming the error
# code), keygen for every algorithm (0600 key files the node accepts for signing), init
# (a layout a node starts from; refused the second time).
source "$(dirname "$0")/lib.sh"

cmds=(keygen init publish revoke author releases release block status)

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

# --- help ----------------------------------------------------------------------------------
expect_rc 0 "$FWL" --help
grep -q "^usage: fwledger" "$TMP/out" || fail "fwledger --help: no usage on stdout"
for c in "${cmds[@]}"; do
    grep -q "^  $c " "$TMP/out" || fail "fwledger --help does not list $c"
done
for c in "${cmds[@]}"; do
    expect_rc 0 "$FWL" "$c" --help
    grep -q "^usage: fwledger $c" "$TMP/out" || fail "$c --help: no usage on stdout"
    [ ! -s "$TMP/err" ] || fail "$c --help wrote to stderr"
    expect_rc 0 "$FWL" "$c" -h
    expect_rc 0 "$FWL" help "$c"
    grep -q "^usage: fwledger $c" "$TMP/out" || fail "fwledger help $c: no usage"
done

# --- bad usage -----------------------------------------------------------------------------
expect_usage "$FWL"
expect_usage "$FWL" frobnicate
for c in "${cmds[@]}"; do
    expect_usage "$FWL" "$c" --no-such-option
done
expect_usage "$FWL" keygen
expect_usage "$FWL" keygen --alg no-such-alg
expect_usage "$FWL" keygen --alg ed25519 --out
expect_usage "$FWL" keygen --alg ed25519 extra-arg
expect_usage "$FWL" init
expect_usage "$FWL" init "$TMP/a" "$TMP/b"
expect_usage "$FWL" init "$TMP/a" --port 0
expect_usage "$FWL" init "$TMP/a" --port 70000
expect_usage "$FWL" init "$TMP/a" --alg rsa
expect_usage "$FWL" init "$TMP/a" --chain-id ""
[ ! -e "$TMP/a" ] || fail "init created a directory on bad usage"
pub=(publish --key k --product p --version 1.0.0 --security-version 1 --file f
     --url https://x/f --provider P)
expect_usage "$FWL" "${pub[@]}"                                   # no --hardware
expect_usage "$FWL" "${pub[@]}" --hardware "hw:5-3"               # empty revision range
expect_usage "$FWL" "${pub[@]}" --hardware "hw:x"
expect_usage "$FWL" "${pub[@]}" --hardware ":1-2"
expect_usage "$FWL" "${pub[@]}" --hardware "hw+"
expect_usage "$FWL" "${pub[@]}" --hardware hw --version 1.0
expect_usage "$FWL" "${pub[@]}" --hardware hw --security-version -1
expect_usage "$FWL" "${pub[@]}" --hardware hw --depends "libfoo"
expect_usage "$FWL" "${pub[@]}" --hardware hw --depends "libfoo>>1"
expect_usage "$FWL" "${pub[@]}" --hardware hw --hash md5
expect_usage "$FWL" "${pub[@]}" --hardware hw --timeout 0
expect_usage "$FWL" "${pub[@]}" --hardware hw --node localhost
expect_usage "$FWL" "${pub[@]}" --hardware hw --node 127.0.0.1:99999
expect_usage "$FWL" "${pub[@]}" --hardware hw --nonce 0
expect_usage "$FWL" "${pub[@]}" --hardware hw unexpected
expect_usage "$FWL" revoke --key k --file-hash 00 --reason vulnerable
expect_usage "$FWL" revoke --key k --file-hash "$(printf '%064d' 0)" --reason bored
expect_usage "$FWL" revoke --key k --reason vulnerable
expect_usage "$FWL" revoke --key k --file-hash "$(printf '%064d' 0)" --file f --reason vulnerable
expect_usage "$FWL" author
expect_usage "$FWL" author rename --key k --product p --author-key k
expect_usage "$FWL" author add --key k --product p
expect_usage "$FWL" author add --key k --product p --author-key 02abcd   # hex needs --author-alg
expect_usage "$FWL" releases --limit ten
expect_usage "$FWL" releases --after xyz
expect_usage "$FWL" release
expect_usage "$FWL" block 0
expect_usage "$FWL" block 5 --latest
expect_usage "$FWL" block --hash nothex
expect_usage "$FWL" status extra

# --- keygen --------------------------------------------------------------------------------
algs=(secp256k1-ecdsa secp256k1-schnorr ed25519 p256-ecdsa)
for a in "${algs[@]}"; do
    expect_rc 0 "$FWL" keygen --alg "$a" --out "$TMP/$a.key" --json
    [ "$(stat -c %a "$TMP/$a.key")" = 600 ] || fail "$a.key has mode $(stat -c %a "$TMP/$a.key")"
    [ "$(json "$TMP/out" 'd["alg"]')" = "$a" ] || fail "keygen --alg $a printed another alg"
    [ "$(json "$TMP/out" 'd["public"]')" = "$(json "$TMP/$a.key" 'd["public"]')" ] ||
        fail "keygen --alg $a printed another public key than it wrote"
done
# An existing key file is never replaced without --force.
cp "$TMP/ed25519.key" "$TMP/before"
expect_rc 1 "$FWL" keygen --alg ed25519 --out "$TMP/ed25519.key"
grep -q "exists" "$TMP/err" || fail "keygen over an existing file: unclear message"
cmp -s "$TMP/before" "$TMP/ed25519.key" || fail "keygen replaced a key file without --force"
expect_rc 0 "$FWL" keygen --alg ed25519 --out "$TMP/ed25519.key" --force
cmp -s "$TMP/before" "$TMP/ed25519.key" && fail "keygen --force did not replace the key"
[ "$(stat -c %a "$TMP/ed25519.key")" = 600 ] || fail "keygen --force: mode not 0600"
# Without --out the key file's content goes to stdout.
expect_rc 0 "$FWL" keygen --alg p256-ecdsa
[ "$(json "$TMP/out" 'len(d["secret"])')" = 64 ] || fail "keygen without --out: no secret"

# --- init ----------------------------------------------------------------------------------
port=$(free_port)
expect_rc 0 "$FWL" init "$TMP/chain" --port "$port" --chain-id cli-test --product cam-fw \
    --product gw-fw
for f in admin.key author.key validator.key; do
    [ "$(stat -c %a "$TMP/chain/$f")" = 600 ] || fail "init: $f is not mode 0600"
done
g="$TMP/chain/genesis.json"
[ "$(json "$g" 'd["chain_id"]')" = cli-test ] || fail "init: wrong chain id"
[ "$(json "$g" 'd["hash"]')" = sha256 ] || fail "init: wrong hash"
[ "$(json "$g" 'd["admin_threshold"]')" = 1 ] || fail "init: wrong admin threshold"
[ "$(json "$g" 'd["admins"][0]["key"]')" = "$(json "$TMP/chain/admin.key" 'd["public"]')" ] ||
    fail "init: the admin in genesis.json is not admin.key"
[ "$(json "$g" 'd["validators"][0]["key"]')" = "$(json "$TMP/chain/validator.key" 'd["public"]')" ] ||
    fail "init: the validator in genesis.json is not validator.key"
[ "$(json "$g" '" ".join(a["product"] for a in d["authors"])')" = "cam-fw gw-fw" ] ||
    fail "init: authors are not the --product list"
[ "$(json "$g" 'd["validators"][0]["alg"]')" = secp256k1-ecdsa ] || fail "init: default alg"
[ "$(json "$TMP/chain/node.json" 'd["rpc_listen"]')" = "127.0.0.1:$port" ] ||
    fail "init: node.json does not listen on --port"
# A second init is refused and changes nothing.
sum=$(cat "$TMP/chain"/* | sha256sum)
expect_rc 1 "$FWL" init "$TMP/chain" --port "$port"
grep -q "genesis.json" "$TMP/err" || fail "second init: the message does not name genesis.json"
[ "$(cat "$TMP/chain"/* | sha256sum)" = "$sum" ] || fail "second init changed the directory"
expect_rc 0 "$FWL" init "$TMP/chain-ed" --alg ed25519
[ "$(json "$TMP/chain-ed/genesis.json" 'd["admins"][0]["alg"]')" = ed25519 ] || fail "init --alg"
[ "$(json "$TMP/chain-ed/node.json" 'd["rpc_listen"]')" = "127.0.0.1:7400" ] || fail "init port"
[ "$(json "$TMP/chain-ed/genesis.json" 'd["authors"][0]["product"]')" = acme-sensor-fw ] ||
    fail "init: default product"

# --- a node started from the layout init made ----------------------------------------------
expect_rc 1 "$FWL" status --node "127.0.0.1:$port" --timeout 2000 --genesis "$TMP/chain/genesis.json"
grep -q "error -101" "$TMP/err" || fail "status without a node: $(cat "$TMP/err")"
start_node "$TMP/chain" "$port"
expect_rc 0 "$FWL" status --config "$TMP/chain/node.json" --json
[ "$(json "$TMP/out" 'd["chain_id"]')" = cli-test ] || fail "status: wrong chain id"
[ "$(json "$TMP/out" 'd["chain_hash"]')" = sha256 ] || fail "status: wrong chain hash"
expect_rc 1 "$FWL" release --config "$TMP/chain/node.json" --file-hash "$(printf '%064d' 0)"
grep -q "error -16 (not found)" "$TMP/err" || fail "release of an unknown hash: $(cat "$TMP/err")"

# Every algorithm's key file signs: the admin registers it as an author, then it publishes.
node=(--node "127.0.0.1:$port")
echo "firmware" >"$TMP/fw.bin"
v=0
for a in "${algs[@]}"; do
    v=$((v + 1))
    expect_rc 0 "$FWL" author add "${node[@]}" --key "$TMP/chain/admin.key" --product gw-fw \
        --author-key "$TMP/$a.key" --name "$a author"
    echo "$a" >>"$TMP/fw.bin"
    expect_rc 0 "$FWL" publish "${node[@]}" --key "$TMP/$a.key" --product gw-fw --provider "$a" \
        --version "1.$v.0" --security-version "$v" --file "$TMP/fw.bin" --url "https://x/$v" \
        --hardware gw-1 --json
    [ "$(json "$TMP/out" 'd["height"]')" -ge 1 ] || fail "publish with the $a key: no height"
done
expect_rc 0 "$FWL" releases "${node[@]}" --product gw-fw --limit 1 --all --json
[ "$(json "$TMP/out" 'len(d["records"])')" = 4 ] || fail "releases --all: want 4 records"
[ "$(json "$TMP/out" '" ".join(r["author"]["alg"] for r in d["records"])')" = "${algs[*]}" ] ||
    fail "releases: the authors' algorithms are not the four keys"
# A rejected transaction is reported with the node's error code (here: an unauthorised key).
expect_rc 1 "$FWL" publish "${node[@]}" --key "$TMP/chain/author.key" --product other-fw \
    --provider X --version 1.0.0 --security-version 1 --file "$TMP/fw.bin" --url https://x/o \
    --hardware gw-1
grep -q "error -11 " "$TMP/err" || fail "unauthorised publish: $(cat "$TMP/err")"
stop_node

# A chain that hashes with sha3-256: the tool learns H_chain from Status (chain_hash_alg)
# and signs what the node verifies, without --genesis.
port=$(free_port)
expect_rc 0 "$FWL" init "$TMP/chain-sha3" --port "$port" --chain-id sha3-test --product cam-fw
/usr/bin/python3 - "$TMP/chain-sha3/genesis.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["hash"] = "sha3-256"
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
start_node "$TMP/chain-sha3" "$port"
expect_rc 0 "$FWL" status --node "127.0.0.1:$port" --json
[ "$(json "$TMP/out" 'd["chain_hash"]')" = sha3-256 ] || fail "status: sha3-256 chain hash"
expect_rc 0 "$FWL" publish --node "127.0.0.1:$port" --key "$TMP/chain-sha3/author.key" \
    --product cam-fw --provider P --version 1.0.0 --security-version 1 --file "$TMP/fw.bin" \
    --url https://x/s --hardware cam-1 --json
[ "$(json "$TMP/out" 'd["height"]')" -ge 1 ] || fail "publish on a sha3-256 chain: no height"
stop_node
echo "tool cli: help, usage errors, keygen (4 algorithms), init, node errors, sha3-256 chain"
