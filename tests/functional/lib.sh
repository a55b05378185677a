# Shared by the functional tests: temp dirs, free ports, starting and stopping nodes.
# Every process a test starts is killed on exit, pass or fail.
set -euo pipefail
BUILD=${BUILD:-build}
FWL=$BUILD/fwledger
FWLD=$BUILD/fwledgerd
TMP=$(mktemp -d /tmp/fwl-test.XXXXXX)
PIDS=()
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ $rc -ne 0 ]; then
        find "$TMP" -name node.log | while read -r l; do echo "--- $l"; tail -20 "$l"; done
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_ready PORT: until the node answers Status (10 s at most)
wait_ready() {
    for _ in $(seq 100); do
        "$FWL" status --node "127.0.0.1:$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "node on port $1 did not come up"
}

# trust_chain DIR (scripts/trust.sh): the tool and test programs check that chain's nodes.
# shellcheck source=../../scripts/trust.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/trust.sh"

# start_node DIR PORT: runs fwledgerd in the background; sets NODE_PID
start_node() {
    trust_chain "$1"
    "$FWLD" --config "$1/node.json" >>"$1/node.log" 2>&1 &
    NODE_PID=$!
    NODE_LOG=$1/node.log
    PIDS+=("$NODE_PID")
    wait_ready "$2"
}

# stop_node: SIGTERM and wait; the node must exit 0 (graceful stop)
stop_node() {
    kill -TERM "$NODE_PID"
    local rc=0
    wait "$NODE_PID" || rc=$?
    [ $rc -eq 0 ] || fail "fwledgerd exited with $rc on SIGTERM; the end of its log:
$(tail -n 40 "$NODE_LOG" 2>/dev/null)"
}

# json FILE EXPR: evaluate a Python expression over the parsed JSON document `d`
json() {
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# free_port_range N: a base port with N consecutive free ports on 127.0.0.1
free_port_range() {
    /usr/bin/python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(10000, 32000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
else:
    sys.exit(1)
PY
}
