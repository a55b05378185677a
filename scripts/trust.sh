# Sourced by the test and benchmark scripts (bash).
# trust_chain DIR: the tool and the test programs check the nodes of a chain over TLS
# against its genesis (the validators' identities) and every node.key beside it (replicas').
# DIR is a chain directory (fwledger init) or one node's directory in it.
trust_chain() {
    local out
    out=$(/usr/bin/python3 - "$1" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
cfg = os.path.join(d, "node.json")
g = os.path.join(d, "genesis.json")
if os.path.exists(cfg):
    g = os.path.normpath(os.path.join(d, json.load(open(cfg)).get("genesis", "genesis.json")))
root = os.path.dirname(g)
keys = []
for f in sorted(glob.glob(os.path.join(root, "node.key")) + glob.glob(os.path.join(root, "node*", "node.key"))):
    k = json.load(open(f)); keys.append("%s:%s" % (k["alg"], k["public"]))
print(g); print(",".join(keys))
PY
)
    export FWLEDGER_GENESIS=${out%%$'\n'*}
    export FWLEDGER_NODE_KEY=${out#*$'\n'}
}

