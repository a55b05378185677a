/*
 * node/ internal: the server's state and the functions its three files share.
 *   server.c  connections, framing, output, dispatch, start and stop
 *   writes.c  the write path: verification batches, mempool, waiters, block production
 *   reads.c   the read handlers
 * Everything runs on the loop thread except verify_work (thread pool), which only touches
 * its own batch.
 */
#ifndef FWL_NODE_SERVER_INTERNAL_H
#define FWL_NODE_SERVER_INTERNAL_H

#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/hmap.h"
#include "node/node.h"

#define BATCH_MAX 128
#define OUT_HIGH (8u << 20)
#define REJECTED_MAX 65536
#define WAIT_DEFAULT_MS 30000
#define WAIT_MAX_MS 600000
#define FWL_VERSION "0.1.0"

typedef struct server server;

typedef struct client {
    uv_tcp_t h;
    server *s;
    uint32_t slot, gen;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    size_t unsent;      /* bytes handed to uv_write and not yet written */
    bool dirty;         /* out has bytes to flush                      */
    bool reading;
    bool closing;
    bool close_after_flush;
    struct client *next_dirty;
} client;

/* Who is owed an answer: a client slot (with generation, so a reused slot is not
 * confused with the closed client) and its request id. */
typedef struct {
    uint32_t slot, gen;
    uint64_t id;
} reply_to;

typedef struct waiter {
    reply_to to;
    uint64_t deadline_ms;
    struct waiter *next;
} waiter;

typedef struct {
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t *raw;
    size_t len;
    waiter *waiters;
} mp_entry;

typedef struct verify_batch {
    uv_work_t w;
    server *s;
    struct verify_batch *next; /* dispatch order */
    bool done;
    uint64_t height;
    size_t n;
    struct {
        reply_to to;
        uint8_t *raw;
        size_t len;
        int rc;
        const char *why;
        uint8_t hash[LDG_DIGEST_LEN];
        uint8_t sender[LDG_DIGEST_LEN];
        uint64_t nonce;
    } it[BATCH_MAX];
} verify_batch;

typedef struct {
    uint8_t hash[LDG_DIGEST_LEN];
    int code;
} rejected;

/* The proposal being decided: its header and the mempool entries it includes. */
typedef struct {
    uint64_t height;
    uint8_t hdr[LDG_HEADER_MAX];
    size_t hdr_len;
    uint8_t hash[LDG_DIGEST_LEN];
    mp_entry **incl;
    size_t n_incl;
    fwl_Signature commit[1];
    size_t n_commit;
} proposal;

struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t cns_timer, sweep_timer;
    uv_signal_t sigint, sigterm;
    node_config cfg;
    ldg_genesis g;
    node_key vkey;
    ldg_store *store;
    cns_engine cns;

    client **clients; /* by slot */
    uint32_t *gens;
    uint32_t n_clients;
    client *dirty;

    mp_entry **mp;    /* FIFO: [mp_head, mp_len) */
    size_t mp_head, mp_len, mp_cap;
    hmap pending;     /* tx hash -> mp_entry                         */
    size_t verifying; /* txs in the thread pool                      */
    verify_batch *batch;          /* being filled                    */
    verify_batch *vq_head, *vq_tail; /* dispatched, in order: results enter the mempool in
                                        submission order, so one sender's nonces stay ordered */

    hmap waiting;     /* tx hash -> waiter list, for txs not in the mempool (yet) */
    hmap nonces;      /* sender key id -> highest nonce in the mempool (uint64_t *);
                         cleared whenever the mempool drains                          */
    rejected *rej;    /* ring of recently rejected txs               */
    size_t rej_next;
    hmap rejected_idx;

    proposal cur;     /* the block being decided                     */
    fwl_Request req;  /* scratch, decoded per frame                  */
    fwl_Response resp;
    bool stopping;
    uint64_t committed_txs;
    uint64_t trimmed_at;  /* committed_txs at the last malloc_trim */
};


static inline size_t node__mempool_count(const server *s) { return s->mp_len - s->mp_head; }

/* server.c */
uint64_t node__now_ms(server *s);
void node__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The client still connected at to's slot and generation, or NULL. */
client *node__client_of(server *s, reply_to to);
/* The server's scratch Response, zeroed, with id and type set. */
fwl_Response *node__new_resp(server *s, uint64_t id, pb_size_t which);
/* Append a Response frame to c's output (written at the end of the loop iteration). */
void node__send_resp(client *c, const fwl_Response *r);
void node__send_error(client *c, uint64_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void node__flush_dirty(server *s);
void node__close_client(client *c);
/* Room for a frame of size bytes at the end of c's output, its length prefix written; fill
 * the returned payload, then node__frame_end. NULL: out of memory (the client is closed). */
uint8_t *node__frame_begin(client *c, size_t size);
void node__frame_end(client *c, size_t size);

/* writes.c */
void node__handle_submit(client *c, uint64_t id, const fwl_SubmitTxReq *r);
void node__handle_wait(client *c, uint64_t id, const fwl_WaitForTxReq *r);
/* Hand the batch being filled to the thread pool. */
void node__dispatch_batch(server *s);
void node__on_sweep(uv_timer_t *t);
void node__write_state_free(server *s);

/* reads.c */
void node__handle_get_block(client *c, uint64_t id, const fwl_GetBlockReq *r);
void node__handle_get_release(client *c, uint64_t id, const fwl_GetReleaseReq *r);
void node__handle_list(client *c, uint64_t id, const fwl_ListReleasesReq *r);
void node__handle_status(client *c, uint64_t id);
void node__handle_nonce(client *c, uint64_t id, const fwl_NonceReq *r);

#endif
