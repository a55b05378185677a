/*
 * node/daemon: the Proof an answer carries when its request asks `prove` (issue 11,
 * docs/verification.md): the header and commit certificate of the block the answer was
 * computed at, and state proofs of the records it was computed from, all read in the same
 * snapshot as the answer. Used by the read path (GetRelease) and the eligibility worker.
 */
#ifndef FWL_NODE_PROVE_H
#define FWL_NODE_PROVE_H

#include "ledger/ledger.h"

/* A Proof being gathered: each prefix proven once however often it is asked for. */
typedef struct {
    ldg_block cert;
    struct node_proof_part *parts;
    size_t n, cap;
    size_t leaves;               /* in all parts: bounded by NODE_PROOF_LEAVES_MAX */
} node_proof;

/* Every leaf of one answer's proofs (a 16-device batch of models with many candidates). */
#define NODE_PROOF_LEAVES_MAX (4 * LDG_STATE_LEAVES_MAX)

/* Start a proof at height (the snapshot's tip, which must be open on s). Errors: those of
 * ldg_store_block_cert. */
int node_proof_begin(node_proof *p, ldg_store *s, uint64_t height);
/* Prove the state keys starting with prefix (a point key, or a range). Errors: LDG_ETOOBIG
 * (over NODE_PROOF_LEAVES_MAX in all), those of ldg_store_prove. */
int node_proof_add(node_proof *p, ldg_store *s, const uint8_t *prefix, size_t plen);
/* Write the Proof as field tag of the enclosing message. False when os is full. */
bool node_proof_write(pb_ostream_t *os, uint32_t tag, const node_proof *p);
void node_proof_free(node_proof *p);

#endif
