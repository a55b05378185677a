#!/usr/bin/env bash
# scripts/check-layout (who may include whom; `make check` runs it on the tree first): it
# passes on a copy of the tree, and each include the layout forbids, added to the copy,
# makes it fail naming the file and line.
source "$(dirname "$0")/lib.sh"

CHECK=scripts/check-layout
SRC=$TMP/src
mkdir -p "$SRC"
cp -R ledger consensus contracts p2p node tests "$SRC/"

/usr/bin/python3 "$CHECK" "$SRC" >"$TMP/out" 2>&1 || fail "check-layout fails on the tree: $(cat "$TMP/out")"

# expect_violation FILE LINE WANT [WHERE]: add LINE at the top of FILE in the copy;
# check-layout must exit 1 and print WHERE (default FILE:1:) and WANT; then FILE is restored.
expect_violation() {
    local f=$SRC/$1 rc=0 where=${4:-$1:1:}
    cp "$f" "$TMP/saved"
    { printf '%s\n' "$2"; cat "$TMP/saved"; } >"$f"
    /usr/bin/python3 "$CHECK" "$SRC" >"$TMP/out" 2>&1 || rc=$?
    cp "$TMP/saved" "$f"
    [ "$rc" -eq 1 ] || fail "check-layout exited $rc with '$2' in $1, want 1"
    grep -q "^$where .*$3" "$TMP/out" || fail "'$2' in $1: want '$where ...$3', got: $(cat "$TMP/out")"
}

expect_violation node/client/util.c '#include "node/daemon/rpc.h"' "must not include node/daemon/rpc.h"
expect_violation node/client/client.h '#include "node/files/files.h"' "must not include node/files/files.h"
expect_violation node/client/rpc.c '#include <uv.h>' "must not include <uv.h>"
expect_violation node/client/rpc.c '#include "p2p/p2p.h"' "reaches <uv.h> through p2p/p2p.h"
expect_violation node/client/tracker.c '#include <jansson.h>' "must not include <jansson.h>"
expect_violation node/files/files.c '#include "node/tool/tool.h"' "must not include node/tool/tool.h"
expect_violation node/files/genesis.c '#include "node/daemon/daemon.h"' "must not include node/daemon/daemon.h"
expect_violation node/tool/util.c '#include "node/daemon/mempool.h"' "must not include node/daemon/mempool.h"
expect_violation ledger/tx.c '#include "contracts/contracts.h"' "must not include contracts/contracts.h"
expect_violation ledger/block.c '#include "node/client/client.h"' "must not include node/client/client.h"
expect_violation consensus/tendermint.c '#include "ledger/ledger.h"' "must not include ledger/ledger.h"
expect_violation consensus/consensus.h '#include <lmdb.h>' "must not include <lmdb.h>"
expect_violation contracts/vm.c '#include "p2p/p2p.h"' "must not include p2p/p2p.h"
expect_violation contracts/lexer.c '#include "node/files/files.h"' "must not include node/files/files.h"
expect_violation p2p/conn.c '#include "consensus/consensus.h"' "must not include consensus/consensus.h"
expect_violation p2p/frame.c '#include "node/client/client.h"' "must not include node/client/client.h"
expect_violation node/daemon/rpc.c '#include "node/daemon/mempool_internal.h"' "is internal to node/daemon/mempool.c"
expect_violation node/daemon/mempool.h '#include "node/daemon/mempool_internal.h"' "is internal to"
expect_violation node/daemon/elg_worker.c '#include "node/daemon/server_internal.h"' "not for a component"
expect_violation node/daemon/admit.c '#include "node/daemon/server_internal.h"' "not for a component"
expect_violation node/daemon/rpc.h '#include "node/daemon/server_internal.h"' "not for a component or a header"
expect_violation node/daemon/elg_worker.c '#include "contracts/internal.h"' "is internal to contracts/"
# A cycle is reported at the include that closes it.
expect_violation node/daemon/hmap.h '#include "node/daemon/elg_worker.h"' \
    "include cycle: node/daemon/hmap.h -> node/daemon/elg_worker.h -> node/daemon/hmap.h" \
    "node/daemon/elg_worker.h:[0-9]*:"
expect_violation node/daemon/reply_to.h '#include "node/daemon/rpc.h"' "include cycle: .*node/daemon/reply_to.h" \
    "node/daemon/[a-z_]*.h:[0-9]*:"

# Calls: none in a cycle between node/ components on the build's objects; then log.c (a
# component every wiring file calls) made to call back into server.c must fail.
/usr/bin/python3 "$CHECK" --objects "$BUILD/obj" >"$TMP/out" 2>&1 || fail "call check fails: $(cat "$TMP/out")"
mkdir -p "$TMP/obj"
cp -R "$BUILD/obj/node" "$TMP/obj/"
printf 'unsigned long node__now_ms(void *s);\nunsigned long node__log_back(void) { return node__now_ms(0); }\n' \
    >"$TMP/back.c"
"${CC:-cc}" -c -o "$TMP/back.o" "$TMP/back.c"
ld -r -o "$TMP/obj/node/daemon/log.o" "$BUILD/obj/node/daemon/log.o" "$TMP/back.o"
rc=0
/usr/bin/python3 "$CHECK" --objects "$TMP/obj" "$SRC" >"$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "check-layout exited $rc on a call cycle, want 1"
grep -q "^call cycle: .*node/daemon/log.c calls node__now_ms (node/daemon/server.c)" "$TMP/out" ||
    fail "call cycle not reported: $(cat "$TMP/out")"

# A violation inside a comment is no violation.
f=$SRC/node/client/util.c
cp "$f" "$TMP/saved"
{ printf '/*\n#include "node/daemon/rpc.h"\n*/\n'; cat "$TMP/saved"; } >"$f"
/usr/bin/python3 "$CHECK" "$SRC" >"$TMP/out" 2>&1 || fail "an include in a comment counted: $(cat "$TMP/out")"
cp "$TMP/saved" "$f"

echo "layout: ok"
