/*
 * node/daemon/mempool.h: the mempool component of fwledgerd. It owns the transactions on
 * their way into a block, from the moment they arrive to the moment a block holds them:
 *
 *   admission  txs from clients (SubmitTx) and peers are copied into batches of at most
 *              NODE_MP_BATCH_MAX, parsed and signature-verified on the libuv thread pool
 *              (admit.c), and come back in dispatch order, so one sender's nonces stay
 *              ordered; valid ones that are new, not committed and that the rules accept
 *              against the committed state enter the pool (a signature is verified once);
 *   the pool   verified txs in arrival order (mempool.c), found by tx id and by envelope
 *              hash (how blocks name them), bounded by `max` (with those being verified);
 *              a committed block takes its txs out, a rule that refuses one at block
 *              building takes it out and remembers why (the last NODE_MP_REJECTED_MAX);
 *   waiters    WaitForTx requests attached to a tx in the pool, or parked for one not seen
 *              yet, answered when the tx commits, is refused, or their deadline passes;
 *   nonces     the highest nonce per sender in the pool (the Nonce RPC's hint).
 *
 * It knows no clients and no sockets: who is owed an answer is an opaque node_reply_to, and
 * answers leave through the events of node_mempool_events, which the daemon wires to the
 * RPC connections and the p2p gossip. Events are called on the loop thread, from the calls
 * documented to make them (never from a call that returns an error). Not thread-safe: one
 * loop thread; the thread pool only ever touches a batch it was handed.
 *
 * Lifecycle, like a libuv handle: node_mempool_init, then use; node_mempool_stop when the
 * node stops (verified batches still coming back are answered but not admitted);
 * node_mempool_close once the loop has ended, which frees everything without events.
 */
#ifndef FWL_NODE_DAEMON_MEMPOOL_H
#define FWL_NODE_DAEMON_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ledger/ledger.h"
#include "node/daemon/hmap.h"
#include "node/daemon/reply_to.h" /* who is owed an answer: opaque here */

#define NODE_MP_BATCH_MAX 128        /* txs per verification batch                         */
#define NODE_MP_REJECTED_MAX 65536   /* refused txs remembered for a later WaitForTx      */
#define NODE_MP_WAITERS_MAX 65536    /* WaitForTx requests waiting, over all clients        */


/* What admission decided about one submitted tx (the submitted event; valid during it). */
typedef struct {
    const uint8_t *hash;   /* tx id, LDG_DIGEST_LEN bytes (zero when it did not parse)     */
    uint32_t type;         /* LDG_TX_*; 0 when it did not parse                            */
    const uint8_t *sender; /* key id of its first signer, LDG_DIGEST_LEN bytes (zero when
                              it did not parse)                                            */
    uint32_t n_sigs;       /* signatures it carries (0 when it did not parse)              */
    int rc;                /* 0: admitted; else why it was refused                         */
    const char *why;       /* the field or the rule, "" when there is nothing to add       */
} node_mempool_verdict;

typedef struct {
    /* A submitted tx was verified and admitted or refused (v->rc). Called for every tx of
     * node_mempool_submit, peers' too (to.slot NODE_NO_CLIENT). */
    void (*submitted)(void *ctx, node_reply_to to, const node_mempool_verdict *v);
    /* A tx entered the pool (raw is its envelope, valid during the call): gossip it on. */
    void (*admitted)(void *ctx, const uint8_t *raw, size_t len,
                     const uint8_t raw_hash[LDG_DIGEST_LEN]);
    /* A waiter's answer: the tx committed (code 0), was refused (its code), or the waiter's
     * deadline passed (NODE_ETIMEOUT). */
    void (*settled)(void *ctx, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN], int code);
    /* Verification batches came back (after their submitted and admitted events): the
     * pool may have grown. Optional. */
    void (*verified)(void *ctx);
    void *ctx;
} node_mempool_events;

typedef struct {
    uint32_t max;           /* txs in the pool and being verified, at most              */
    const ldg_genesis *g;   /* borrowed; read by the thread pool too                     */
    ldg_store *store;       /* borrowed: the tip, committed txs, the admission rules     */
    uv_loop_t *loop;        /* verification runs on its thread pool; NULL: inline, at
                               node_mempool_flush (tests)                                */
} node_mempool_config;

/* A transaction in the pool, as node_mempool_head shows it: valid until the next call that
 * changes the pool. */
typedef struct {
    const uint8_t *raw;
    size_t len;
    const uint8_t *hash;     /* tx id, LDG_DIGEST_LEN bytes                            */
    const uint8_t *raw_hash; /* SHA-256 of raw                                          */
} node_mempool_tx;

/* The component's state. Its fields are private to mempool.c and admit.c. */
typedef struct node_mempool {
    node_mempool_config cfg;
    node_mempool_events ev;
    bool stopping;
    struct node__mp_entry **fifo; /* [head, len), dead entries skipped                     */
    size_t head, len, cap, live, dead;
    hmap by_hash;                 /* tx id -> entry                                        */
    hmap by_raw;                  /* envelope hash -> entry                                */
    hmap parked;                  /* tx id -> waiter list, for txs not in the pool         */
    size_t n_waiters;             /* in the pool's entries and parked                      */
    hmap nonces;                  /* sender key id -> highest nonce in the pool; cleared
                                     whenever the pool drains                              */
    struct node__mp_rejected *rej; /* ring of recently refused txs                         */
    size_t rej_next;
    hmap rej_idx;
    size_t verifying;             /* txs on the thread pool                                */
    struct node__mp_batch *batch; /* being filled                                          */
    struct node__mp_batch *vq_head, *vq_tail; /* dispatched, in order                      */
} node_mempool;

/* Errors: LDG_EINVALID (NULL or incomplete arguments: max 0, no g, store, submitted or
 * settled event), LDG_ENOMEM. On error m needs no close. */
int node_mempool_init(node_mempool *m, const node_mempool_config *cfg,
                      const node_mempool_events *ev);
/* The node is stopping: nothing more is admitted. */
void node_mempool_stop(node_mempool *m);
/* Free everything (txs, waiters, batches not back yet: only when the loop has ended); no
 * events. NULL is fine. */
void node_mempool_close(node_mempool *m);

/* Txs in the pool (never more than cfg.max); txs being verified. node_mempool_full: the
 * two reach cfg.max, and submissions are refused. */
size_t node_mempool_count(const node_mempool *m);
size_t node_mempool_verifying(const node_mempool *m);
bool node_mempool_full(const node_mempool *m);

/* Queue a copy of the envelope raw for verification; its answer comes through the
 * submitted event once its batch is back (a full batch is dispatched at once, the rest at
 * node_mempool_flush). Errors: NODE_EMEMPOOL (full), LDG_ENOMEM; no event then. */
int node_mempool_submit(node_mempool *m, node_reply_to to, const uint8_t *raw, size_t len);
/* Dispatch the batch being filled (the end of a read). Inline verification (cfg.loop
 * NULL) makes its events here. */
void node_mempool_flush(node_mempool *m);

/* Up to max txs from the head of the pool, in arrival order, into out. */
size_t node_mempool_head(node_mempool *m, size_t max, node_mempool_tx *out);
/* Is the tx with this envelope hash in the pool (verified)? */
bool node_mempool_holds_raw(const node_mempool *m, const uint8_t raw_hash[LDG_DIGEST_LEN]);
/* A rule refused the pool's tx with this envelope hash while building a block: it leaves
 * the pool, its waiters are settled with code, and code is remembered for a later wait. */
void node_mempool_refuse(node_mempool *m, const uint8_t raw_hash[LDG_DIGEST_LEN], int code);
/* A block is in the store: its txs leave the pool, their waiters and the parked waiters of
 * any tx the store now holds are settled with 0. */
void node_mempool_block_committed(node_mempool *m, const ldg_block *b);

/* The code a tx was refused with at block building, if it is among the last remembered. */
bool node_mempool_rejected(const node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN],
                           int *code);
/* Wait for the tx hash (in the pool, or not seen yet) until deadline_ms; answered through
 * the settled event. The caller checks the store and node_mempool_rejected first.
 * Errors: NODE_EBUSY (NODE_MP_WAITERS_MAX are waiting), LDG_ENOMEM. */
int node_mempool_wait(node_mempool *m, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN],
                      uint64_t deadline_ms);
/* Settle the waiters whose deadline is at or before now_ms with NODE_ETIMEOUT. */
void node_mempool_expire(node_mempool *m, uint64_t now_ms);

/* The highest nonce of the sender (key id) in the pool, if it has a tx there. */
bool node_mempool_pending_nonce(const node_mempool *m, const uint8_t sender[LDG_DIGEST_LEN],
                                uint64_t *nonce);

#endif
