/*
 * node/daemon: the Proof an answer carries when its request asks `prove` (issue 11,
 * docs/verification.md): the header and commit certificate of the block the answer was
 * computed at, and state proofs of the records it was computed from, all read in the same
 * snapshot as the answer. Used by the read path (GetRelease) and the eligibility worker.
 */
#ifndef FWL_NODE_PROVE_H
#define FWL_NODE_PROVE_H

#include "ledger/ledger.h"
#include "node/daemon/hmap.h"

/* A Proof being gathered: each prefix proven once however often it is asked for. */
typedef struct {
    ldg_block cert;
    struct node_proof_part *parts;
    size_t n, cap;
    size_t leaves;               /* in all parts: bounded by NODE_PROOF_LEAVES_MAX */
} node_proof;

/* Every leaf of one node_proof: a GetRelease's or a list's, or one hardware model's part of
 * an Eligible answer (whose whole proof is bounded by the frame: elg_worker.c). */
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

/* Encoded pieces of Proofs, kept for one height: the header with its certificate (Proof
 * fields 1..3) and groups of state proofs (fields 4) by name, e.g. everything a decision for
 * one hardware model needs. A block changes the state root and so every proof: the cache
 * holds one height, and starts over at another, or past NODE_PROOF_CACHE_BYTES. A piece
 * is valid until the next call (the cache may start over then). */
#define NODE_PROOF_CACHE_BYTES (64u << 20)
typedef struct {
    hmap groups;        /* H(name) -> encoded fields */
    uint64_t height;
    uint8_t *head;
    size_t head_len, bytes;
} node_proof_cache;
int node_proof_cache_init(node_proof_cache *pc);
void node_proof_cache_free(node_proof_cache *pc);
/* Proof fields 1..3 of height (the snapshot's tip, open on s). */
int node_proof_cache_head(node_proof_cache *pc, ldg_store *s, uint64_t height,
                          const uint8_t **b, size_t *len);
/* The encoded state proofs of group name at height: cached, else gathered by fill (which
 * adds its prefixes to a node_proof with no certificate) and kept. */
typedef int (*node_proof_fill)(void *ctx, node_proof *p);
int node_proof_cache_group(node_proof_cache *pc, uint64_t height, const char *name,
                           node_proof_fill fill, void *ctx, const uint8_t **b, size_t *len);

#endif
