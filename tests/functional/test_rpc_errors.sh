#!/usr/bin/env bash
# Bad input over RPC (tests/functional/rpc_errors.c): malformed and oversize frames and
# fields, bad signature, unknown/disabled/deprecated algorithms, unauthorised author,
# lower/equal version, duplicate file hash, replays, wrong chain, requests that name nothing,
# strings not UTF-8 or holding a NUL, a full mempool.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
"$FWL" init "$TMP/chain" --port "$port" >/dev/null
# This chain disables sha3-256 and deprecates ed25519 from height 1.
/usr/bin/python3 - "$TMP/chain/genesis.json" <<'PY'
import json, sys
p = sys.argv[1]
g = json.load(open(p))
g["algorithms"] = [{"name": "sha3-256", "status": "disabled"},
                   {"name": "ed25519", "status": "deprecated", "from_height": 1}]
json.dump(g, open(p, "w"), indent=2)
c = json.load(open(p.replace("genesis.json", "node.json")))
c["mempool_max"] = 2  # so that case 13 can fill it
c["rpc_rate_requests"] = 0  # case 16 pipelines 4,097 requests: counts, not rates, are tested
json.dump(c, open(p.replace("genesis.json", "node.json"), "w"), indent=2)
PY
start_node "$TMP/chain" "$port"
"$BUILD/tests/functional/rpc_errors" 127.0.0.1 "$port" "$TMP/chain"
stop_node
