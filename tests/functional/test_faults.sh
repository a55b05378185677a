#!/usr/bin/env bash
# The fault suite's short version (scripts/faults --short; docs/testing.md): 4 validators
# and a replica under publish load through kill -9 of a validator, of two at once (quorum
# lost, then restarted), of the replica, SIGSTOP pauses and a partition of one validator
# (iptables; skipped with a message when not root), each healed before the next; then every
# acknowledged release on every node at its height, identical blocks, no crash, progress
# within 20 s after every heal. About 70 s.
#
# Not here yet, because today's main fails them (issue 8): the faults clock (a validator 1 h
# ahead moves the chain's time: item 2) and disk (a node does not resume after its disk was
# full: item 3), and the check peer-liveness (a cut-off node shows its peers up: item 4).
# When a fix lands, add its fault to --faults or drop the check from --skip-check.
# FAULTS_SEED picks another schedule (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec nice -n 5 bash "$root/scripts/faults" --short --seed "${FAULTS_SEED:-1}" \
    --faults kill,kill2,replica,pause,partition --skip-check peer-liveness
