#!/usr/bin/env bash
# One node end to end: init a dev chain, start fwledgerd on a free loopback port, publish
# with the tool, stop (SIGTERM), restart, and read the release back field by field. Also:
# a second fwledgerd on the same data directory is refused.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" --product cam-fw >/dev/null
start_node "$TMP/chain" "$port"

# A second process on the same data directory must not start.
port2=$(free_port)
if "$FWLD" --config "$TMP/chain/node.json" --listen "127.0.0.1:$port2" >"$TMP/second.log" 2>&1; then
    fail "a second fwledgerd opened a locked data directory"
fi
grep -q "in use" "$TMP/second.log" || fail "no clear message for the locked data dir: $(cat "$TMP/second.log")"

head -c 200000 /dev/urandom >"$TMP/fw.bin"
"$FWL" publish --node "127.0.0.1:$port" --key "$TMP/chain/author.key" --product cam-fw \
    --provider "Acme Cameras" --version 1.4.2 --security-version 7 --file "$TMP/fw.bin" \
    --url https://fw.example.com/cam/1.4.2.bin --hardware "cam-v2:3-5+lora" --hardware gw-1 \
    --depends "libfoo>=2.1.0,<3" --published-at 1767225600 --json >"$TMP/pub.json"
height=$(json "$TMP/pub.json" 'd["height"]')
[ "$height" -ge 1 ] || fail "publish did not report a height"
digest=$(sha256sum "$TMP/fw.bin" | cut -d' ' -f1)
[ "$(json "$TMP/pub.json" 'd["file_hash"]')" = "$digest" ] || fail "publish reported another file hash"

stop_node
start_node "$TMP/chain" "$port"

"$FWL" release --node "127.0.0.1:$port" --file-hash "$digest" --json >"$TMP/rel.json"
r='d["record"]["release"]'
check() { [ "$(json "$TMP/rel.json" "$1")" = "$2" ] || fail "$1 = $(json "$TMP/rel.json" "$1"), want $2"; }
check "$r[\"product\"]" cam-fw
check "$r[\"provider\"]" "Acme Cameras"
check "$r[\"version\"]" 1.4.2
check "$r[\"security_version\"]" 7
check "$r[\"published_at\"]" 1767225600
check "$r[\"file_hash\"][\"alg\"]" sha256
check "$r[\"file_hash\"][\"digest\"]" "$digest"
check "$r[\"file_url\"]" https://fw.example.com/cam/1.4.2.bin
check "$r[\"file_name\"]" fw.bin
check "$r[\"file_size\"]" 200000
check "$r[\"hardware\"][0][\"model\"]" cam-v2
check "$r[\"hardware\"][0][\"rev_min\"]" 3
check "$r[\"hardware\"][0][\"rev_max\"]" 5
check "$r[\"hardware\"][0][\"required_addons\"][0]" lora
check "$r[\"hardware\"][1][\"model\"]" gw-1
check "$r[\"dependencies\"][0][\"package\"]" libfoo
check "$r[\"dependencies\"][0][\"constraint\"]" ">=2.1.0,<3"
check 'd["record"]["height"]' "$height"
check 'd["record"]["revoked"]' False
check 'd["record"]["tx_hash"]' "$(json "$TMP/pub.json" 'd["tx_hash"]')"

# The chain survived the restart: the block is there, and new publishes continue it.
"$FWL" block --node "127.0.0.1:$port" "$height" --json >"$TMP/blk.json"
[ "$(json "$TMP/blk.json" 'd["height"]')" = "$height" ] || fail "block $height not readable"
echo "v2" >"$TMP/fw2.bin"
"$FWL" publish --node "127.0.0.1:$port" --key "$TMP/chain/author.key" --product cam-fw \
    --provider "Acme Cameras" --version 1.5.0 --security-version 8 --file "$TMP/fw2.bin" \
    --url https://fw.example.com/cam/1.5.0.bin --hardware cam-v2 --json >"$TMP/pub2.json"
[ "$(json "$TMP/pub2.json" 'd["height"]')" -gt "$height" ] || fail "chain did not continue after restart"
# Two publishes without waiting, back to back: the second must get the next nonce even
# though the first is still in the mempool; then one with waiting.
for v in 1.6.0 1.7.0 1.8.0; do
    echo "$v" >"$TMP/fw-$v.bin"
    wait_flag=--no-wait; [ "$v" = 1.8.0 ] && wait_flag=
    "$FWL" publish --node "127.0.0.1:$port" --key "$TMP/chain/author.key" --product cam-fw \
        --provider "Acme Cameras" --version "$v" --security-version "${v:2:1}0" --file "$TMP/fw-$v.bin" \
        --url "https://fw.example.com/cam/$v.bin" --hardware cam-v2 $wait_flag >/dev/null
done
"$FWL" status --node "127.0.0.1:$port" --json >"$TMP/status.json"
[ "$(json "$TMP/status.json" 'd["releases"]')" = 5 ] || fail "back-to-back publishes: $(cat "$TMP/status.json")"
stop_node
echo "publish/restart: release read back field by field after a restart"
