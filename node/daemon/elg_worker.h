/*
 * node/daemon/elg_worker.h: the eligibility component of fwledgerd. Eligible requests are
 * decided off the loop thread by one worker thread with a read-only handle on the store
 * (one read snapshot per request), so a heavy contract never delays consensus or the other
 * RPCs. The worker alone owns the caches: candidate releases prepared per hardware model
 * (until the store says they may have changed, bounded by cfg.cache candidates) and
 * compiled contracts per code hash. The decision is contracts/' (ctr_decide); the answer is
 * written straight to protobuf bytes (elg_wire.h) and handed back to the loop, which writes
 * it to the request's connection through the rpc component.
 *
 * Bounds: NODE_ELG_QUEUE_MAX devices queued or being decided, NODE_ELG_CONN_MAX of them
 * from one connection (past either: NODE_EBUSY, try again).
 *
 * Lifecycle: node_elg_init (opens the store reader, the caches), node_elg_start (the
 * thread), node_elg_stop (the worker finishes the request in hand and ends), node_elg_close
 * once the loop has ended. Calls other than the worker's own are loop-thread only.
 */
#ifndef FWL_NODE_DAEMON_ELG_WORKER_H
#define FWL_NODE_DAEMON_ELG_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ledger/ledger.h"
#include "node/daemon/hmap.h"
#include "node/daemon/prove.h"
#include "node/daemon/rpc.h"

#define NODE_ELG_QUEUE_MAX 4096 /* devices queued or being decided, in all ...          */
#define NODE_ELG_CONN_MAX 1024  /* ... and for one connection                           */

typedef struct {
    uv_loop_t *loop;
    ldg_store *store;  /* borrowed: the component opens its own reader on it           */
    node_rpc *rpc;     /* where the answers go                                          */
    uint32_t cache;    /* candidates kept prepared over all models (eligibility_cache)  */
} node_elg_config;

typedef struct {
    struct node__elg_req *head, *tail;
} node__elg_list;

/* The component's state; fields private to elg_worker.c. */
typedef struct node_elg {
    node_elg_config cfg;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t async;          /* answers are ready                                     */
    node__elg_list in, out;    /* to the worker, from it (under mu)                     */
    node__elg_list fresh;      /* read, not yet handed to the worker (loop only)        */
    bool quit, started;
    size_t queued;             /* devices queued or being decided (loop only)           */
    struct node__elg_req *spare; /* reusable requests (loop only)                       */
    size_t nspare;
    /* the worker's alone */
    ldg_store *reader;         /* reader handle on cfg.store                            */
    hmap programs;             /* compiled contracts by code hash                       */
    hmap models;               /* prepared candidates per hardware model                */
    size_t models_cands;       /* candidates held in models                             */
    void *scratch;             /* the decisions of one request                          */
    uint8_t *proof_buf;        /* the encoded proof of one request (prove.h)            */
    size_t proof_cap;
    node_proof_cache proofs;   /* this height's proof pieces, per model                 */
    fwl_BindingRecord proof_binding; /* scratch of prove_model                          */
} node_elg;

/* Errors: LDG_EINVALID (missing loop, store, rpc; cache 0), LDG_ENOMEM. */
int node_elg_init(node_elg *e, const node_elg_config *cfg);
/* Errors: LDG_ENOMEM (no thread). */
int node_elg_start(node_elg *e);
void node_elg_stop(node_elg *e);
/* NULL is fine. */
void node_elg_close(node_elg *e);

/* An Eligible request of connection c: queued (handed to the worker at node_elg_dispatch),
 * or answered at once with an error (no device, NODE_EBUSY, out of memory). */
void node_elg_request(node_elg *e, node_rpc_conn *c, uint64_t id, const fwl_EligibleReq *r);
/* Hand the requests queued since the last call to the worker (one wakeup for a read). */
void node_elg_dispatch(node_elg *e);

/* The ledger's contract compile hook (ldg_store_set_contract_check): deploys are refused
 * unless they compile with contracts/' compiler. ctx unused. */
int node_elg_contract_check(void *ctx, const char *src, size_t len, char *err, size_t errlen);

#endif
