/*
 * Private to the mempool component (mempool.c: the pool and its waiters; admit.c: the
 * verification batches). Nothing outside those two files includes this.
 */
#ifndef FWL_NODE_DAEMON_MEMPOOL_INTERNAL_H
#define FWL_NODE_DAEMON_MEMPOOL_INTERNAL_H

#include "node/daemon/mempool.h"

typedef struct node__mp_waiter {
    node_reply_to to;
    uint64_t deadline_ms;
    struct node__mp_waiter *next;
} node__mp_waiter;

/* A verified transaction waiting for a block. */
typedef struct node__mp_entry {
    uint8_t hash[LDG_DIGEST_LEN];     /* tx id                                           */
    uint8_t raw_hash[LDG_DIGEST_LEN]; /* SHA-256 of the envelope: how blocks name it     */
    uint8_t *raw;
    size_t len;
    node__mp_waiter *waiters;
    bool dead;                        /* left the pool; freed at the next compaction     */
} node__mp_entry;

typedef struct node__mp_rejected {
    uint8_t hash[LDG_DIGEST_LEN];
    int code;
} node__mp_rejected;

/* mempool.c */
bool node__mp_holds(const node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN]);
/* Add a verified tx (raw taken over on success). Errors: LDG_ENOMEM. */
int node__mp_add(node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN],
                 const uint8_t raw_hash[LDG_DIGEST_LEN], uint8_t *raw, size_t len,
                 const uint8_t sender[LDG_DIGEST_LEN], uint64_t nonce);
/* Settle and free a waiter list. */
void node__mp_settle(node_mempool *m, node__mp_waiter *w, const uint8_t hash[LDG_DIGEST_LEN],
                     int code);

/* admit.c */
void node__mp_batches_free(node_mempool *m);

#endif
