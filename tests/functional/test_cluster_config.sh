#!/usr/bin/env bash
# The cluster layout and scripts/cluster: `fwledger init --validators 4 --replicas 1` makes a
# genesis whose validators carry their nodes' identity keys and one directory per node whose
# node.json lists every other node as a peer (checked field by field against the key files);
# then scripts/cluster starts the five nodes on free loopback ports, status reports them,
# kill/restart/stop act on one node, and stop ends them all. Every node this test starts is
# killed on exit, pass or fail.
source "$(dirname "$0")/lib.sh"

CLUSTER="$(dirname "$0")/../../scripts/cluster"
NODES=5
export BUILD

# gone PID: the process has exited (a zombie not yet reaped by its new parent counts).
gone() { # no such process, a zombie, or one reaped between the two looks (no stat to read)
    local st
    ! kill -0 "$1" 2>/dev/null && return 0
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$st" ] || [ "$st" = Z ]
}

# The nodes scripts/cluster started (pid files) are killed too, and their logs shown on failure.
cluster_cleanup() {
    local rc=$? f p pids=()
    for f in "$TMP"/*/node*/pid; do
        [ -f "$f" ] && p=$(cat "$f") && kill -9 "$p" 2>/dev/null && pids+=("$p") || true
    done
    # SIGKILL is asynchronous: wait until they are gone, so that none still writes into $TMP
    # while it is removed.
    for p in ${pids[@]+"${pids[@]}"}; do
        for _ in $(seq 100); do gone "$p" && break; sleep 0.05; done
    done
    if [ $rc -ne 0 ]; then
        for f in "$TMP"/*/node*/node.log; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
    fi
    # lib.sh's cleanup takes the status from $?; errexit must not end the trap on it.
    set +e
    (exit $rc)
    cleanup
}
trap cluster_cleanup EXIT

# free_ports N: the first of 2N consecutive free loopback ports (node K: P+2K and P+2K+1).
free_ports() {
    /usr/bin/python3 - "$1" <<'EOF'
import random, socket, sys
n = 2 * int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n, 2)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free port range")
EOF
}

# layout DIR BASE N M PRODUCT: prints ok when DIR holds the cluster layout of N validators
# and M replicas on ports from BASE, the author registered for PRODUCT, checked against its
# key files; else the first difference.
layout() {
    /usr/bin/python3 - "$@" <<'EOF'
import json, os, stat, sys
d, base, nv, nr, product = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
load = lambda p: json.load(open(os.path.join(d, p)))
def fail(msg):
    sys.exit("layout: " + msg)
def pub(p):
    k = load(p)
    return {"alg": k["alg"], "key": k["public"]}
def mode(p):
    return stat.S_IMODE(os.stat(os.path.join(d, p)).st_mode)

g = load("genesis.json")
for f in ("admin.key", "author.key"):
    if mode(f) != 0o600: fail(f + " is not mode 0600")
if g["admins"] != [pub("admin.key")]: fail("the admin is not admin.key")
if g["admin_threshold"] != 1: fail("admin threshold")
if [a["product"] for a in g["authors"]] != [product]: fail("authors: %r" % g["authors"])
if {"alg": g["authors"][0]["alg"], "key": g["authors"][0]["key"]} != pub("author.key"):
    fail("the author is not author.key")
if len(g["validators"]) != nv: fail("%d validators" % len(g["validators"]))
ids = []
for k in range(nv + nr):
    n = "node%d/" % k
    if mode(n + "node.key") != 0o600: fail(n + "node.key is not mode 0600")
    ident = pub(n + "node.key")
    if ident["alg"] != "ed25519": fail(n + "node.key is not ed25519")
    ids.append(ident)
    has_vkey = os.path.exists(os.path.join(d, n + "validator.key"))
    if has_vkey != (k < nv): fail(n + "validator.key present: %s" % has_vkey)
    if k < nv:
        v = g["validators"][k]
        if mode(n + "validator.key") != 0o600: fail(n + "validator.key is not mode 0600")
        if {"alg": v["alg"], "key": v["key"]} != pub(n + "validator.key"):
            fail("validators[%d] is not %svalidator.key" % (k, n))
        if v["power"] != 1 or v["identity"] != ident:
            fail("validators[%d]: power or identity" % k)
if len({i["key"] for i in ids}) != len(ids): fail("identities are not unique")
for k in range(nv + nr):
    n = "node%d/" % k
    c = load(n + "node.json")
    want = {
        "data_dir": "data", "genesis": "../genesis.json",
        "rpc_listen": "127.0.0.1:%d" % (base + 2 * k),
        "p2p_listen": "127.0.0.1:%d" % (base + 2 * k + 1),
        "validator_key": "validator.key" if k < nv else "",
        "identity_key": "node.key",
        "peers": [{"address": "127.0.0.1:%d" % (base + 2 * j + 1), "identity": ids[j],
                   "name": "node%d" % j}
                  for j in range(nv + nr) if j != k],
    }
    for key, val in want.items():
        if c.get(key) != val: fail("%snode.json: %s = %r, want %r" % (n, key, c.get(key), val))
if os.path.exists(os.path.join(d, "node%d" % (nv + nr))):
    fail("more node directories than nodes")
print("ok")
EOF
}

# --- init: the layout ------------------------------------------------------------------------
base=$(free_ports $NODES)
"$FWL" init "$TMP/layout" --validators 4 --replicas 1 --base-port "$base" --product cam-fw \
    >"$TMP/init.out"
[ "$(layout "$TMP/layout" "$base" 4 1 cam-fw)" = ok ] || fail "init --validators 4 --replicas 1: bad layout"
grep -q "node4/ *replica *rpc 127.0.0.1:$((base + 8))" "$TMP/init.out" ||
    fail "init does not report node4 as a replica: $(cat "$TMP/init.out")"
# A second init is refused and changes nothing.
sum=$(find "$TMP/layout" -type f -exec sha256sum {} + | sort | sha256sum)
if "$FWL" init "$TMP/layout" --validators 4 --replicas 1 >/dev/null 2>"$TMP/err"; then
    fail "a second cluster init succeeded"
fi
grep -q "genesis.json" "$TMP/err" || fail "second init: $(cat "$TMP/err")"
[ "$(find "$TMP/layout" -type f -exec sha256sum {} + | sort | sha256sum)" = "$sum" ] ||
    fail "a second init changed the layout"
# Bad cluster usage exits 2 and creates nothing.
for args in "--validators 33" "--validators 0" "--validators 30 --replicas 40" \
    "--validators 2 --port 7000" "--validators 2 --base-port 65533"; do
    rc=0
    "$FWL" init "$TMP/bad" $args >/dev/null 2>&1 || rc=$?
    [ $rc -eq 2 ] || fail "init $args exited $rc, want 2"
    [ ! -e "$TMP/bad" ] || fail "init $args created $TMP/bad"
done
# One validator and no replica is today's single-node layout.
"$FWL" init "$TMP/single" --validators 1 --base-port "$base" >/dev/null
[ -f "$TMP/single/node.json" ] && [ -f "$TMP/single/validator.key" ] && [ ! -e "$TMP/single/node0" ] ||
    fail "init --validators 1 did not make the single-node layout"
[ "$(json "$TMP/single/node.json" 'd["rpc_listen"]')" = "127.0.0.1:$base" ] ||
    fail "init --validators 1 --base-port: rpc_listen"
[ "$(json "$TMP/single/node.json" '"p2p_listen" in d or "peers" in d')" = False ] ||
    fail "the single-node config has p2p members"

# --- scripts/cluster ---------------------------------------------------------------------
rc=0
"$CLUSTER" --help >"$TMP/out" || rc=$?
[ $rc -eq 0 ] && grep -q "^usage: scripts/cluster start N DIR" "$TMP/out" || fail "cluster --help"
rc=0
"$CLUSTER" frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "cluster frobnicate exited $rc, want 2"

# start makes the layout (fwledger init) and starts every node.
base=$(free_ports $NODES)
dir="$TMP/c"
rc=0
"$CLUSTER" start 4 "$dir" --replicas 1 --base-port "$base" >"$TMP/start.out" 2>&1 || rc=$?
trust_chain "$dir"
[ "$(layout "$dir" "$base" 4 1 acme-sensor-fw)" = ok ] || fail "cluster start: bad layout"
up=(0 1 2 3 4)
if [ $rc -ne 0 ]; then
    # Until fwledgerd runs non-voting replicas, the replica's empty validator_key is read as
    # a key file named "" and the node exits; start must then say so and keep the rest up.
    # Any other failure fails the test.
    grep -q 'cannot read : No such file' "$dir/node4/node.log" ||
        fail "cluster start exited $rc: $(cat "$TMP/start.out")"
    grep -q "node 4 exited" "$TMP/start.out" || fail "start does not name the node that exited"
    echo "note: this fwledgerd does not run non-voting replicas yet; checking the 4 validators"
    up=(0 1 2 3)
fi
for k in "${up[@]}"; do
    "$FWL" status --node "127.0.0.1:$((base + 2 * k))" --json >"$TMP/st.json" ||
        fail "node $k does not answer on port $((base + 2 * k))"
    [ "$(json "$TMP/st.json" 'd["chain_id"]')" = fwledger-dev ] || fail "node $k: chain id"
    [ -s "$dir/node$k/pid" ] || fail "node $k: no pid file"
    grep -q "listening on 127.0.0.1:$((base + 2 * k))" "$dir/node$k/node.log" || fail "node $k: no log"
done

# status: one line per node; exit 0 only when all are up.
want_rc=0
[ ${#up[@]} -eq $NODES ] || want_rc=1
rc=0
"$CLUSTER" status "$dir" >"$TMP/status.out" || rc=$?
[ $rc -eq $want_rc ] || fail "status exited $rc, want $want_rc: $(cat "$TMP/status.out")"
for k in "${up[@]}"; do
    grep -Eq "^node$k +(validator|replica) +up +pid [0-9]+ +rpc 127.0.0.1:$((base + 2 * k)) +height [0-9]+ +tip [0-9a-f]{16}$" \
        "$TMP/status.out" || fail "status line of node $k: $(cat "$TMP/status.out")"
done
grep -Eq "^node4 +replica +(up|down)" "$TMP/status.out" || fail "status: node4 is not a replica"

# A second start leaves running nodes alone.
pid1=$(cat "$dir/node1/pid")
"$CLUSTER" start 4 "$dir" >"$TMP/out" 2>&1 || [ ${#up[@]} -lt $NODES ] || fail "second start failed"
grep -q "node 1: already running (pid $pid1)" "$TMP/out" || fail "second start: $(cat "$TMP/out")"
[ "$(cat "$dir/node1/pid")" = "$pid1" ] || fail "second start restarted node 1"

# kill: node 1 is gone at once and status says so.
"$CLUSTER" kill "$dir" 1 >/dev/null
gone "$pid1" || fail "node 1 survived kill"
rc=0
"$CLUSTER" status "$dir" >"$TMP/status.out" || rc=$?
[ $rc -eq 1 ] || fail "status with node 1 down exited $rc"
grep -Eq "^node1 +validator +down" "$TMP/status.out" || fail "status: $(cat "$TMP/status.out")"
grep -q "^down: .*node1" "$TMP/status.out" || fail "status does not list node1 as down"

# restart: node 1 answers again, with its data (same chain), under a new pid.
"$CLUSTER" restart "$dir" 1 >/dev/null
pid1b=$(cat "$dir/node1/pid")
[ "$pid1b" != "$pid1" ] || fail "restart kept the old pid"
"$FWL" status --node "127.0.0.1:$((base + 2))" >/dev/null || fail "node 1 does not answer after restart"

# stop K: a graceful stop of node 2 only.
pid2=$(cat "$dir/node2/pid")
"$CLUSTER" stop "$dir" 2 >"$TMP/out"
grep -q "node 2: stopped (pid $pid2)" "$TMP/out" || fail "stop 2: $(cat "$TMP/out")"
gone "$pid2" || fail "node 2 survived stop"
grep -q "stopped at height" "$dir/node2/node.log" || fail "node 2 did not stop gracefully"
"$FWL" status --node "127.0.0.1:$base" >/dev/null || fail "node 0 went down with node 2"

# stop: everything ends, no pid file is left, and the nodes stopped gracefully.
pids=$(cat "$dir"/node*/pid)
"$CLUSTER" stop "$dir" >"$TMP/out"
for p in $pids; do gone "$p" || fail "pid $p survived stop"; done
! ls "$dir"/node*/pid >/dev/null 2>&1 || fail "pid files left after stop"
for k in 0 1 3; do
    [ "$(grep -c "stopped at height" "$dir/node$k/node.log")" -ge 1 ] || fail "node $k: no graceful stop"
done
rc=0
"$CLUSTER" status "$dir" >"$TMP/status.out" || rc=$?
[ $rc -eq 1 ] && [ "$(grep -c ' down ' "$TMP/status.out")" -eq $NODES ] ||
    fail "status after stop: $(cat "$TMP/status.out")"
echo "cluster config: init layout (4 validators, 1 replica) checked key by key; scripts/cluster start, status, kill, restart, stop"
