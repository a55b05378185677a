#!/usr/bin/env bash
# The fault suite's short version (scripts/faults --short; docs/testing.md): 4 validators
# and a replica under publish load through kill -9 of a validator, of two at once (quorum
# lost, then restarted), of the replica, SIGSTOP pauses and a partition of one validator
# (iptables; skipped with a message when not root), each healed before the next; then every
# acknowledged release on every node at its height, identical blocks, no crash, progress
# within 20 s after every heal. About 90 s.
#
# Also a validator under a clock 1 hour ahead and a validator whose disk fills and is freed
# (issue 8's fixes: bounded block time, a node that resumes by itself), and the check that a
# cut-off node shows its peers down.
# FAULTS_SEED picks another schedule (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec nice -n 5 bash "$root/scripts/faults" --short --seed "${FAULTS_SEED:-1}" \
    --faults kill,kill2,replica,pause,partition,clock,disk
