#!/usr/bin/env bash
# Eligibility end to end (issue 4, items 3, 4 and 7) on the X.1368 II.1 situations, through
# the tracker client library: two hardware revisions with different supported versions, a
# sensor board that a release needs, an update plan across a dependency, a revoked release
# making a device urgent; the same request gives identical answers after a restart.
source "$(dirname "$0")/lib.sh"

# The tracker program links the client library's archive alone (the Makefile gives it no
# LMDB, libuv or jansson; this checks none came in through a shared library either).
needed=$(readelf -d "$BUILD/tests/functional/eligible_query" | grep NEEDED) ||
    fail "readelf cannot read eligible_query"
if grep -Eq 'liblmdb|libuv|libjansson' <<<"$needed"; then
    fail "the tracker program links more than the client library needs: $needed"
fi

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" --product sensor-fw --product libfoo >/dev/null
start_node "$TMP/chain" "$port"
node="--node 127.0.0.1:$port"
pub() { # pub PRODUCT VERSION SECVER HARDWARE [DEPENDS]
    echo "$1 $2" >"$TMP/$1-$2.bin"
    "$FWL" publish $node --key "$TMP/chain/author.key" --product "$1" --provider Acme \
        --version "$2" --security-version "$3" --file "$TMP/$1-$2.bin" \
        --url "https://fw.example.com/$1-$2.bin" --hardware "$4" ${5:+--depends "$5"} >/dev/null
}
pub sensor-fw 2.0.0 2 "sensor-v1:1-3"
pub sensor-fw 2.1.0 3 "sensor-v1:4-"
pub libfoo 2.1.0 2 "sensor-v1"
pub sensor-fw 3.0.0 4 "sensor-v1:4-+lora" "libfoo>=2.0.0,<3"

"$BUILD/tests/functional/eligible_query" 127.0.0.1 "$port" >"$TMP/q1"
line() { grep "^$1 $2 " "$TMP/q1" || fail "no answer for $1 $2: $(cat "$TMP/q1")"; }
expect() { line "$1" "$2" | grep -q -- "$3" || fail "$1 $2: want $3, got: $(line "$1" "$2")"; }
# Revision 2 may only take the 1-3 line: 2.0.0; 2.1.0 and 3.0.0 are for revisions 4 and up.
expect dev-a sensor-fw "status=2 installed=1.0.0 best=2.0.0 "
expect dev-a sensor-fw "rejected=hardware@3.0.0,hardware@2.1.0 total=2 superseded=0"
# Revision 5 with the LoRa board and libfoo 1.4: 3.0.0, after libfoo 2.1.0 (a plan).
expect dev-b sensor-fw "best=3.0.0 plan=libfoo@2.1.0,sensor-fw@3.0.0 unsat=0 policy=default"
expect dev-b sensor-fw "rejected= total=0 superseded=2" # 2.1.0 and 2.0.0: older than best
# Revision 5 without the board: 3.0.0 needs it; 2.1.0 runs already: up to date.
expect dev-d sensor-fw "status=1 installed=2.1.0 best=- "
expect dev-d sensor-fw "rejected=hardware@3.0.0"

# Revoke 2.0.0: the device running it becomes urgent.
h=$(sha256sum "$TMP/sensor-fw-2.0.0.bin" | cut -d' ' -f1)
"$FWL" revoke $node --key "$TMP/chain/author.key" --file-hash "$h" --reason vulnerable >/dev/null
"$BUILD/tests/functional/eligible_query" 127.0.0.1 "$port" >"$TMP/q1"
expect dev-c sensor-fw "status=3 installed=2.0.0"
expect dev-a sensor-fw "best=- "     # 2.0.0 revoked: nothing for revision 2 now
expect dev-a sensor-fw "revoked@2.0.0"

# A release published after a query is in the next answer (the node's per-model cache
# follows the chain), and the installed release's security version counts.
pub sensor-fw 3.1.0 5 "sensor-v1:1-3"
"$BUILD/tests/functional/eligible_query" 127.0.0.1 "$port" >"$TMP/q1"
expect dev-a sensor-fw "best=3.1.0 "
expect dev-a sensor-fw "rejected= total=0 superseded=3"
expect dev-c sensor-fw "status=3 installed=2.0.0 best=3.1.0 "

# Determinism: the same request after a restart gives the same answers, byte for byte
# (eligible_query prints the SHA-256 of the raw response frame).
stop_node
start_node "$TMP/chain" "$port"
"$BUILD/tests/functional/eligible_query" 127.0.0.1 "$port" >"$TMP/q2"
diff -u "$TMP/q1" "$TMP/q2" || fail "answers changed across a restart"
stop_node

# A cache of one candidate starts over at every request (the model holds five): the same
# answers, asked twice (the second request frees what the first one built).
/usr/bin/python3 - "$TMP/chain/node.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["eligibility_cache"] = 1
json.dump(c, open(p, "w"), indent=2)
PY
start_node "$TMP/chain" "$port"
for k in 3 4; do
    "$BUILD/tests/functional/eligible_query" 127.0.0.1 "$port" >"$TMP/q$k"
    diff -u "$TMP/q1" "$TMP/q$k" || fail "answers changed with a cache of one candidate"
done
stop_node
echo "eligibility: revisions, sensor board, dependency plan, revocation (urgent), identical after restart and without a cache"
