/*
 * fwledgerd's server: one libuv loop for RPC and block production.
 *
 * Write path: SubmitTx frames are batched per read and handed to the libuv thread pool,
 * where each tx is parsed and its signatures verified (both cores); back on the loop, a
 * valid tx enters the mempool (its signature is never verified again on this node). The
 * consensus engine (consensus/) decides when to cut a block; the node builds it from the
 * mempool head (ldg_store_build_block), signs the precommit, and applies it in one LMDB
 * write transaction; only then are waiters (WaitForTx) told.
 *
 * Read path: every read is one LMDB read transaction on the loop thread. Responses are
 * appended to a per-client buffer and written once per loop iteration (coalesced).
 *
 * Bounds: request frames (NODE_RPC_MAX_REQUEST), clients (max_clients), mempool
 * (mempool_max), per-client unsent output (reading pauses above OUT_HIGH), waiters per tx.
 */
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

static uint64_t now_ms(server *s)
{
    (void)s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(stderr, "%s fwledgerd: ", ts);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */

static client *client_of(server *s, reply_to to)
{
    if (to.slot >= s->cfg.max_clients || s->gens[to.slot] != to.gen)
        return NULL;
    client *c = s->clients[to.slot];
    return c && !c->closing ? c : NULL;
}


static void close_client(client *c);
static void resume_read(client *c);

/* The server's scratch Response, zeroed, with id and type set. */
static fwl_Response *new_resp(server *s, uint64_t id, pb_size_t which)
{
    fwl_Response *r = &s->resp;
    memset(r, 0, sizeof *r);
    r->id = id;
    r->which_resp = which;
    return r;
}

/* c has output to write at the end of this loop iteration. */
static void mark_dirty(client *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->s->dirty;
        c->s->dirty = c;
    }
}

/* Room for a frame of size bytes at the end of c's output, with its length prefix written;
 * the caller fills the returned payload and then calls frame_end. NULL: out of memory (the
 * client is closed). */
static uint8_t *frame_begin(client *c, size_t size)
{
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size)) {
        close_client(c);
        return NULL;
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    return p + 4;
}

static void frame_end(client *c, size_t size)
{
    c->out_len += 4 + size;
    mark_dirty(c);
}

/* Append an encoded Response frame to c's output. */
static void send_resp(client *c, const fwl_Response *r)
{
    size_t size;
    uint8_t *p;
    if (!pb_get_encoded_size(&size, fwl_Response_fields, r)) {
        close_client(c);
        return;
    }
    if (!(p = frame_begin(c, size)))
        return;
    pb_ostream_t os = pb_ostream_from_buffer(p, size);
    if (!pb_encode(&os, fwl_Response_fields, r)) {
        close_client(c);
        return;
    }
    frame_end(c, size);
}

static void send_error(client *c, uint64_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(client *c, uint64_t id, int code, const char *fmt, ...)
{
    fwl_Response *r = new_resp(c->s, id, fwl_Response_error_tag);
    r->resp.error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->resp.error.message, sizeof r->resp.error.message, fmt, ap);
    va_end(ap);
    send_resp(c, r);
}

static void send_wait_ok(server *s, reply_to to, const uint8_t hash[LDG_DIGEST_LEN])
{
    client *c = client_of(s, to);
    if (!c)
        return;
    fwl_Response *r = new_resp(s, to.id, fwl_Response_wait_for_tx_tag);
    fwl_WaitForTxResp *w = &r->resp.wait_for_tx;
    int rc = ldg_store_tx_location(s->store, hash, &w->height, &w->index, w->block_hash.bytes);
    if (rc) {
        send_error(c, to.id, rc, "tx lookup failed: %s", ldg_strerror(rc));
        return;
    }
    w->block_hash.size = LDG_DIGEST_LEN;
    memcpy(w->tx_hash.bytes, hash, LDG_DIGEST_LEN);
    w->tx_hash.size = LDG_DIGEST_LEN;
    send_resp(c, r);
}

typedef struct {
    uv_write_t req;
    client *c;
    uint8_t *buf;
    size_t len;
} write_req;

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    client *c = w->c;
    c->unsent -= w->len;
    free(w->buf);
    free(w);
    if (status < 0) {
        close_client(c);
        return;
    }
    if (c->close_after_flush && c->unsent == 0)
        close_client(c);
    else if (!c->reading && !c->closing && c->unsent < OUT_HIGH / 2)
        resume_read(c);
}

static void flush_dirty(server *s)
{
    while (s->dirty) {
        client *c = s->dirty;
        s->dirty = c->next_dirty;
        c->dirty = false;
        if (c->closing || !c->out_len)
            continue;
        write_req *w = malloc(sizeof *w);
        if (!w) {
            close_client(c);
            continue;
        }
        w->c = c;
        w->buf = c->out;
        w->len = c->out_len;
        c->out = NULL;
        c->out_len = c->out_cap = 0;
        uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)w->len);
        c->unsent += w->len;
        if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_write)) {
            c->unsent -= w->len;
            free(w->buf);
            free(w);
            close_client(c);
            continue;
        }
        if (c->unsent > OUT_HIGH && c->reading) {
            uv_read_stop((uv_stream_t *)&c->h); /* backpressure: a client that does not read */
            c->reading = false;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Clients                                                                                   */

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    server *s = c->s;
    s->clients[c->slot] = NULL;
    s->gens[c->slot]++;
    s->n_clients--;
    free(c->in);
    free(c->out);
    free(c);
}

static void close_client(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->h, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    client *c = h->data;
    if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void handle_frame(client *c, const uint8_t *buf, size_t len);
static void dispatch_batch(server *s);
static void cns_kick(server *s);

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    client *c = st->data;
    server *s = c->s;
    if (n < 0) {
        close_client(c);
        return;
    }
    c->in_len += (size_t)n;
    size_t off = 0;
    while (!c->closing && !c->close_after_flush && c->in_len - off >= 4) {
        const uint8_t *p = c->in + off;
        size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (flen > NODE_RPC_MAX_REQUEST) {
            /* The stream cannot be resynchronised: answer, then hang up. */
            send_error(c, 0, NODE_EFRAME, "request frame of %zu bytes exceeds the limit of %u",
                       flen, NODE_RPC_MAX_REQUEST);
            c->close_after_flush = true;
            break;
        }
        if (c->in_len - off < 4 + flen)
            break;
        handle_frame(c, p + 4, flen);
        off += 4 + flen;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    dispatch_batch(s);
    flush_dirty(s);
    if (c->close_after_flush && !c->closing && c->unsent == 0 && !c->dirty)
        close_client(c);
}

static void resume_read(client *c)
{
    if (!uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read))
        c->reading = true;
}

static void free_handle(uv_handle_t *h)
{
    free(h->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(&s->loop, &c->h);
    c->h.data = c;
    c->s = s;
    if (uv_accept(l, (uv_stream_t *)&c->h)) {
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    uint32_t slot = 0;
    while (slot < s->cfg.max_clients && s->clients[slot])
        slot++;
    if (slot == s->cfg.max_clients) {
        logf_("refusing a client: %u clients connected (max_clients)", s->n_clients);
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    c->slot = slot;
    c->gen = s->gens[slot];
    s->clients[slot] = c;
    s->n_clients++;
    uv_tcp_nodelay(&c->h, 1);
    resume_read(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Write path: verification, mempool, waiters                                                */

static void verify_work(uv_work_t *w)
{
    verify_batch *b = (verify_batch *)w;
    ldg_tx *tx = malloc(sizeof *tx);
    for (size_t i = 0; i < b->n; i++) {
        if (!tx) {
            b->it[i].rc = LDG_ENOMEM;
            b->it[i].why = "";
            continue;
        }
        b->it[i].rc = ldg_tx_parse(&b->s->g, b->height, b->it[i].raw, b->it[i].len, tx, &b->it[i].why);
        if (!b->it[i].rc) {
            b->it[i].rc = ldg_tx_verify(tx);
            b->it[i].why = "signature";
            memcpy(b->it[i].hash, tx->hash, LDG_DIGEST_LEN);
            memcpy(b->it[i].sender, tx->sender, LDG_DIGEST_LEN);
            b->it[i].nonce = tx->body.nonce;
        }
    }
    free(tx);
}

static void answer_waiters(server *s, waiter *w, const uint8_t hash[LDG_DIGEST_LEN], int code);

static void rejected_add(server *s, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    rejected *r = &s->rej[s->rej_next];
    if (hmap_get(&s->rejected_idx, r->hash) == r)
        hmap_del(&s->rejected_idx, r->hash);
    memcpy(r->hash, hash, LDG_DIGEST_LEN);
    r->code = code;
    hmap_put(&s->rejected_idx, r->hash, r);
    s->rej_next = (s->rej_next + 1) % REJECTED_MAX;
}

static size_t mempool_count(const server *s) { return s->mp_len - s->mp_head; }

static int mempool_add(server *s, const uint8_t hash[LDG_DIGEST_LEN], uint8_t *raw, size_t len)
{
    if (s->mp_len == s->mp_cap) {
        if (s->mp_head > 0) { /* compact first */
            memmove(s->mp, s->mp + s->mp_head, mempool_count(s) * sizeof *s->mp);
            s->mp_len -= s->mp_head;
            s->mp_head = 0;
        } else {
            size_t cap = s->mp_cap ? s->mp_cap * 2 : 1024;
            mp_entry **p = realloc(s->mp, cap * sizeof *p);
            if (!p)
                return LDG_ENOMEM;
            s->mp = p;
            s->mp_cap = cap;
        }
    }
    mp_entry *e = calloc(1, sizeof *e);
    if (!e || hmap_put(&s->pending, hash, e)) {
        free(e);
        return LDG_ENOMEM;
    }
    memcpy(e->hash, hash, LDG_DIGEST_LEN);
    e->raw = raw;
    e->len = len;
    e->waiters = hmap_del(&s->waiting, hash); /* waiters that came before the tx */
    s->mp[s->mp_len++] = e;
    return 0;
}

/* Remember the highest pending nonce per sender, so Nonce answers count the mempool too
 * (a client may submit several txs before a block is cut). */
static void note_pending_nonce(server *s, const uint8_t sender[LDG_DIGEST_LEN], uint64_t nonce)
{
    uint64_t *n = hmap_get(&s->nonces, sender);
    if (n) {
        if (*n < nonce)
            *n = nonce;
        return;
    }
    if (!(n = malloc(sizeof *n)))
        return; /* only a hint: the ledger's replay rule stays authoritative */
    *n = nonce;
    if (hmap_put(&s->nonces, sender, n))
        free(n);
}

static bool free_value(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    free(*val);
    return true;
}

static void admit_batch(server *s, verify_batch *b)
{
    s->verifying -= b->n;
    for (size_t i = 0; i < b->n; i++) {
        int rc = b->it[i].rc;
        client *c = client_of(s, b->it[i].to);
        if (!rc && !s->stopping) {
            uint64_t h;
            uint32_t idx;
            uint8_t bh[LDG_DIGEST_LEN];
            if (hmap_get(&s->pending, b->it[i].hash))
                rc = NODE_EPENDING;
            else if (ldg_store_tx_location(s->store, b->it[i].hash, &h, &idx, bh) == 0)
                rc = LDG_ETXDUP;
            else if (mempool_count(s) >= s->cfg.mempool_max)
                rc = NODE_EMEMPOOL;
            else if (!(rc = mempool_add(s, b->it[i].hash, b->it[i].raw, b->it[i].len))) {
                b->it[i].raw = NULL; /* the mempool owns it now */
                note_pending_nonce(s, b->it[i].sender, b->it[i].nonce);
            }
            b->it[i].why = "";
        }
        free(b->it[i].raw);
        if (rc && b->it[i].rc == 0 && rc != NODE_EPENDING && rc != LDG_ETXDUP) {
            /* parsed but refused here: anyone already waiting learns why */
            answer_waiters(s, hmap_del(&s->waiting, b->it[i].hash), b->it[i].hash, rc);
        } else if (rc && b->it[i].rc == LDG_EBADSIG) {
            rejected_add(s, b->it[i].hash, rc);
            answer_waiters(s, hmap_del(&s->waiting, b->it[i].hash), b->it[i].hash, rc);
        }
        if (!c)
            continue;
        if (rc) {
            send_error(c, b->it[i].to.id, rc, "tx refused: %s%s%s", node_strerror(rc),
                       *b->it[i].why ? ": " : "", b->it[i].why);
            continue;
        }
        fwl_Response *r = new_resp(s, b->it[i].to.id, fwl_Response_submit_tx_tag);
        memcpy(r->resp.submit_tx.tx_hash.bytes, b->it[i].hash, LDG_DIGEST_LEN);
        r->resp.submit_tx.tx_hash.size = LDG_DIGEST_LEN;
        send_resp(c, r);
    }
    free(b);
}

static void after_verify(uv_work_t *w, int status)
{
    (void)status;
    verify_batch *b = (verify_batch *)w;
    server *s = b->s;
    b->done = true;
    while (s->vq_head && s->vq_head->done) {
        verify_batch *h = s->vq_head;
        s->vq_head = h->next;
        if (!s->vq_head)
            s->vq_tail = NULL;
        admit_batch(s, h);
    }
    if (!s->stopping)
        cns_kick(s);
    flush_dirty(s);
}

static void dispatch_batch(server *s)
{
    verify_batch *b = s->batch;
    if (!b || !b->n)
        return;
    s->batch = NULL;
    ldg_tip t;
    ldg_store_tip(s->store, &t);
    b->height = t.height + 1;
    b->s = s;
    s->verifying += b->n;
    if (s->vq_tail)
        s->vq_tail->next = b;
    else
        s->vq_head = b;
    s->vq_tail = b;
    if (uv_queue_work(&s->loop, &b->w, verify_work, after_verify)) {
        verify_work(&b->w); /* cannot happen with a live loop; stay correct anyway */
        after_verify(&b->w, 0);
    }
}

static void handle_submit(client *c, uint64_t id, const fwl_SubmitTxReq *r)
{
    server *s = c->s;
    if (mempool_count(s) + s->verifying >= s->cfg.mempool_max) {
        send_error(c, id, NODE_EMEMPOOL, "mempool full (%u transactions): retry later",
                   s->cfg.mempool_max);
        return;
    }
    if (!s->batch && !(s->batch = calloc(1, sizeof *s->batch))) {
        send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    uint8_t *raw = malloc(r->tx.size ? r->tx.size : 1);
    if (!raw) {
        send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    memcpy(raw, r->tx.bytes, r->tx.size);
    verify_batch *b = s->batch;
    b->it[b->n].to = (reply_to){c->slot, c->gen, id};
    b->it[b->n].raw = raw;
    b->it[b->n].len = r->tx.size;
    if (++b->n == BATCH_MAX)
        dispatch_batch(s);
}

static void handle_wait(client *c, uint64_t id, const fwl_WaitForTxReq *r)
{
    server *s = c->s;
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    if (r->tx_hash.size != LDG_DIGEST_LEN) {
        send_error(c, id, LDG_EINVALID, "tx_hash must be %d bytes", LDG_DIGEST_LEN);
        return;
    }
    reply_to to = {c->slot, c->gen, id};
    if (ldg_store_tx_location(s->store, r->tx_hash.bytes, &h, &idx, bh) == 0) {
        send_wait_ok(s, to, r->tx_hash.bytes);
        return;
    }
    rejected *rej = hmap_get(&s->rejected_idx, r->tx_hash.bytes);
    if (rej) {
        send_error(c, id, rej->code, "tx rejected when the block was built: %s",
                   ldg_strerror(rej->code));
        return;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) {
        send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    uint32_t tmo = r->timeout_ms ? r->timeout_ms : WAIT_DEFAULT_MS;
    w->to = to;
    w->deadline_ms = now_ms(s) + (tmo > WAIT_MAX_MS ? WAIT_MAX_MS : tmo);
    mp_entry *e = hmap_get(&s->pending, r->tx_hash.bytes);
    if (e) {
        w->next = e->waiters;
        e->waiters = w;
    } else { /* not seen yet (still verifying, or submitted later): park it */
        w->next = hmap_get(&s->waiting, r->tx_hash.bytes);
        if (hmap_put(&s->waiting, r->tx_hash.bytes, w)) {
            free(w);
            send_error(c, id, LDG_ENOMEM, "out of memory");
        }
    }
}

/* Answer and free a waiter list: committed (code 0) or refused with code. */
static void answer_waiters(server *s, waiter *w, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    while (w) {
        waiter *next = w->next;
        client *c = client_of(s, w->to);
        if (c && code)
            send_error(c, w->to.id, code, "tx rejected when the block was built: %s",
                       ldg_strerror(code));
        else if (c)
            send_wait_ok(s, w->to, hash);
        free(w);
        w = next;
    }
}

/* Expire waiters past their deadline (in the mempool and parked ones). */
typedef struct {
    server *s;
    uint64_t now;
} sweep_ctx;

static waiter *expire(server *s, waiter *w, uint64_t now)
{
    waiter *keep = NULL;
    while (w) {
        waiter *next = w->next;
        if (w->deadline_ms <= now) {
            client *c = client_of(s, w->to);
            if (c)
                send_error(c, w->to.id, NODE_ETIMEOUT, "not committed before the timeout");
            free(w);
        } else {
            w->next = keep;
            keep = w;
        }
        w = next;
    }
    return keep;
}

static bool sweep_pending(void *ctx, const uint8_t key[32], void **val)
{
    (void)key;
    sweep_ctx *x = ctx;
    mp_entry *e = *val;
    e->waiters = expire(x->s, e->waiters, x->now);
    return false;
}

static bool sweep_parked(void *ctx, const uint8_t key[32], void **val)
{
    (void)key;
    sweep_ctx *x = ctx;
    waiter *w = expire(x->s, *val, x->now);
    if (!w)
        return true; /* every waiter expired: drop the entry */
    *val = w;
    return false;
}

static void on_sweep(uv_timer_t *t)
{
    server *s = t->data;
    sweep_ctx x = {s, now_ms(s)};
    hmap_each(&s->pending, sweep_pending, &x);
    hmap_each(&s->waiting, sweep_parked, &x);
    /* After a burst, hand the freed mempool and batch memory back to the system once the
     * node is idle (glibc keeps it otherwise, fragmented across arenas). */
    if (s->committed_txs != s->trimmed_at && mempool_count(s) == 0 && s->verifying == 0) {
        s->trimmed_at = s->committed_txs;
        malloc_trim(0);
    }
    flush_dirty(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Block production, driven by the consensus engine                                          */

static void run_actions(server *s, const cns_action *a, size_t n);

static void on_cns_timer(uv_timer_t *t)
{
    server *s = t->data;
    cns_action a[CNS_MAX_ACTIONS];
    run_actions(s, a, cns_on_tick(&s->cns, now_ms(s), mempool_count(s), a));
    flush_dirty(s);
}

static void cns_kick(server *s)
{
    if (!uv_is_active((uv_handle_t *)&s->cns_timer)) {
        cns_action a[CNS_MAX_ACTIONS];
        run_actions(s, a, cns_on_tick(&s->cns, now_ms(s), mempool_count(s), a));
    }
}


static void propose(server *s, uint64_t height)
{
    size_t n = mempool_count(s);
    if (n > s->cfg.max_block_txs)
        n = s->cfg.max_block_txs;
    const uint8_t **raw = malloc((n + 1) * sizeof *raw);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    int *res = malloc((n + 1) * sizeof *res);
    mp_entry **incl = malloc((n + 1) * sizeof *incl);
    cns_action a[CNS_MAX_ACTIONS];
    if (!raw || !lens || !res || !incl) {
        free(raw), free(lens), free(res), free(incl);
        run_actions(s, a, cns_on_proposal_failed(&s->cns, height, a));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        raw[i] = s->mp[s->mp_head + i]->raw;
        lens[i] = s->mp[s->mp_head + i]->len;
    }
    int rc = ldg_store_build_block(s->store, raw, lens, n, now_ms(s), &s->vkey.pub, res,
                                   s->cur.hdr, &s->cur.hdr_len, s->cur.hash);
    if (rc) {
        logf_("building block %" PRIu64 " failed: %s", height, ldg_strerror(rc));
        free(raw), free(lens), free(res), free(incl);
        run_actions(s, a, cns_on_proposal_failed(&s->cns, height, a));
        return;
    }
    /* Take the decided txs out of the mempool head: included ones go into the proposal,
     * refused ones are answered now; those that did not fit stay, in order. */
    size_t keep = 0, m = 0;
    mp_entry **head = s->mp + s->mp_head;
    for (size_t i = 0; i < n; i++) {
        mp_entry *e = head[i];
        if (res[i] == 0) {
            incl[m++] = e;
        } else if (res[i] == LDG_ETOOBIG) {
            head[keep++] = e;
        } else {
            hmap_del(&s->pending, e->hash);
            rejected_add(s, e->hash, res[i]);
            answer_waiters(s, e->waiters, e->hash, res[i]);
            free(e->raw);
            free(e);
        }
    }
    /* Close the gap: kept entries then the untouched rest. */
    memmove(head + keep, head + n, (mempool_count(s) - n) * sizeof *head);
    s->mp_len -= n - keep;
    free(raw), free(lens), free(res);
    if (m == 0) { /* every candidate was refused: no empty block */
        ldg_store_abort_built(s->store);
        free(incl);
        run_actions(s, a, cns_on_proposal_failed(&s->cns, height, a));
        return;
    }
    s->cur.height = height;
    s->cur.incl = incl;
    s->cur.n_incl = m;
    s->cur.n_commit = 0;
    run_actions(s, a, cns_on_proposal(&s->cns, height, s->cur.hash, a));
}

static void precommit(server *s, const cns_action *act)
{
    uint8_t d[LDG_DIGEST_LEN];
    const ldg_sig_impl *im = ldg_sig_by_id(s->vkey.alg);
    fwl_Signature *sig = &s->cur.commit[0];
    memset(sig, 0, sizeof *sig);
    if (ldg_commit_digest(&s->g, act->height, act->round, LDG_VOTE_PRECOMMIT, act->block_hash, d) ||
        !im || im->sign(s->vkey.sec, d, NULL, sig->sig.bytes))
        return; /* without our precommit the commit below fails and the txs return */
    sig->sig.size = (pb_size_t)im->sig_len;
    sig->has_signer = true;
    sig->signer.alg = s->vkey.pub.alg;
    memcpy(sig->signer.key.bytes, s->vkey.pub.key, s->vkey.pub.len);
    sig->signer.key.size = (pb_size_t)s->vkey.pub.len;
    s->cur.n_commit = 1;
}

static void commit(server *s, uint64_t height)
{
    size_t m = s->cur.n_incl;
    const uint8_t **raw = malloc((m + 1) * sizeof *raw);
    size_t *lens = malloc((m + 1) * sizeof *lens);
    uint8_t *blk = NULL;
    size_t blen = 0;
    int rc = (raw && lens) ? 0 : LDG_ENOMEM;
    for (size_t i = 0; !rc && i < m; i++) {
        raw[i] = s->cur.incl[i]->raw;
        lens[i] = s->cur.incl[i]->len;
    }
    if (!rc)
        rc = ldg_block_encode(s->cur.hdr, s->cur.hdr_len, raw, lens, m, s->cur.commit, s->cur.n_commit, &blk, &blen);
    /* Our own proposal: its state was built (and every tx checked) by ldg_store_build_block;
     * committing writes the block beside it in the same LMDB transaction. */
    if (!rc)
        rc = ldg_store_commit_built(s->store, blk, blen);
    else
        ldg_store_abort_built(s->store);
    free(blk), free(raw), free(lens);
    cns_action a[CNS_MAX_ACTIONS];
    if (rc) {
        /* Nothing was written: put the txs back at the head of the mempool, in order. */
        logf_("committing block %" PRIu64 " failed: %s", height, ldg_strerror(rc));
        for (size_t i = m; i-- > 0;) {
            if (s->mp_head == 0) { /* no room in front: rebuild with room */
                size_t cnt = mempool_count(s);
                mp_entry **p = malloc((cnt + m + 1024) * sizeof *p);
                if (!p)
                    break;
                memcpy(p + m, s->mp + s->mp_head, cnt * sizeof *p);
                free(s->mp);
                s->mp = p;
                s->mp_head = m;
                s->mp_len = m + cnt;
                s->mp_cap = cnt + m + 1024;
            }
            s->mp[--s->mp_head] = s->cur.incl[i];
        }
        free(s->cur.incl);
        s->cur.incl = NULL;
        run_actions(s, a, cns_on_proposal_failed(&s->cns, height, a));
        return;
    }
    for (size_t i = 0; i < m; i++) {
        mp_entry *e = s->cur.incl[i];
        hmap_del(&s->pending, e->hash);
        answer_waiters(s, e->waiters, e->hash, 0);
        free(e->raw);
        free(e);
    }
    s->committed_txs += m;
    if (mempool_count(s) == 0 && s->nonces.live)
        hmap_each(&s->nonces, free_value, NULL);
    free(s->cur.incl);
    s->cur.incl = NULL;
    run_actions(s, a, cns_on_committed(&s->cns, height, now_ms(s), mempool_count(s), a));
}

static void run_actions(server *s, const cns_action *a, size_t n)
{
    for (size_t i = 0; i < n && !s->stopping; i++) {
        switch (a[i].type) {
        case CNS_ACT_SCHEDULE:
            uv_timer_start(&s->cns_timer, on_cns_timer, a[i].delay_ms, 0);
            break;
        case CNS_ACT_PROPOSE: propose(s, a[i].height); break;
        case CNS_ACT_PRECOMMIT: precommit(s, &a[i]); break;
        case CNS_ACT_COMMIT: commit(s, a[i].height); break;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Read path                                                                                 */

typedef struct {
    const uint8_t *buf;
    size_t len;
} bytes_arg;

static bool enc_bytes(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const bytes_arg *b = *arg;
    return pb_encode_tag_for_field(st, f) && pb_encode_string(st, b->buf, b->len);
}

static void handle_get_block(client *c, uint64_t id, const fwl_GetBlockReq *r)
{
    server *s = c->s;
    uint8_t *blk, hash[LDG_DIGEST_LEN];
    size_t len;
    uint64_t h;
    int rc;
    if (r->which_by == fwl_GetBlockReq_hash_tag) {
        if (r->by.hash.size != LDG_DIGEST_LEN) {
            send_error(c, id, LDG_EINVALID, "block hash must be %d bytes", LDG_DIGEST_LEN);
            return;
        }
        memcpy(hash, r->by.hash.bytes, LDG_DIGEST_LEN);
        rc = ldg_store_block_by_hash(s->store, hash, &blk, &len, &h);
    } else {
        ldg_tip t;
        ldg_store_tip(s->store, &t);
        h = r->which_by == fwl_GetBlockReq_height_tag ? r->by.height : t.height; /* none: latest */
        rc = ldg_store_block_by_height(s->store, h, &blk, &len, hash);
    }
    if (rc) {
        send_error(c, id, rc, "block: %s", ldg_strerror(rc));
        return;
    }
    fwl_Response *resp = new_resp(s, id, fwl_Response_get_block_tag);
    memcpy(resp->resp.get_block.block_hash.bytes, hash, LDG_DIGEST_LEN);
    resp->resp.get_block.block_hash.size = LDG_DIGEST_LEN;
    bytes_arg b = {blk, len};
    resp->resp.get_block.block.funcs.encode = enc_bytes;
    resp->resp.get_block.block.arg = &b;
    send_resp(c, resp);
    free(blk);
}

/* The hot read: the stored ReleaseRecord bytes are forwarded as they are, framed by hand
 * with nanopb's stream primitives (Response{id, get_release{record, at_height}}) instead of
 * a decode and a re-encode of the large record struct. */
static bool put_get_release(pb_ostream_t *os, uint64_t id, const uint8_t *rec, size_t rec_len,
                            uint64_t at)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    if (!pb_encode_tag(&sz, PB_WT_STRING, fwl_GetReleaseResp_record_tag) ||
        !pb_encode_string(&sz, rec, rec_len) ||
        !pb_encode_tag(&sz, PB_WT_VARINT, fwl_GetReleaseResp_at_height_tag) ||
        !pb_encode_varint(&sz, at))
        return false;
    return pb_encode_tag(os, PB_WT_VARINT, fwl_Response_id_tag) && pb_encode_varint(os, id) &&
           pb_encode_tag(os, PB_WT_STRING, fwl_Response_get_release_tag) &&
           pb_encode_varint(os, sz.bytes_written) &&
           pb_encode_tag(os, PB_WT_STRING, fwl_GetReleaseResp_record_tag) &&
           pb_encode_string(os, rec, rec_len) &&
           pb_encode_tag(os, PB_WT_VARINT, fwl_GetReleaseResp_at_height_tag) &&
           pb_encode_varint(os, at);
}

static void handle_get_release(client *c, uint64_t id, const fwl_GetReleaseReq *r)
{
    server *s = c->s;
    uint8_t rec[fwl_ReleaseRecord_size];
    size_t rec_len;
    uint64_t at;
    if (!r->has_file_hash) {
        send_error(c, id, LDG_EINVALID, "file_hash is required");
        return;
    }
    int rc = ldg_store_release_raw(s->store, r->file_hash.alg, r->file_hash.digest.bytes,
                                   r->file_hash.digest.size, rec, sizeof rec, &rec_len, &at);
    if (rc) {
        send_error(c, id, rc, "release: %s", ldg_strerror(rc));
        return;
    }
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    uint8_t *p;
    if (!put_get_release(&sz, id, rec, rec_len, at)) {
        close_client(c);
        return;
    }
    if (!(p = frame_begin(c, sz.bytes_written)))
        return;
    pb_ostream_t os = pb_ostream_from_buffer(p, sz.bytes_written);
    put_get_release(&os, id, rec, rec_len, at);
    frame_end(c, sz.bytes_written);
}

/* ListReleases: records are encoded as they come out of the store, then framed. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} rec_buf;

static int collect_record(void *ctx, const fwl_ReleaseRecord *rec)
{
    rec_buf *rb = ctx;
    size_t size;
    if (!pb_get_encoded_size(&size, fwl_ReleaseRecord_fields, rec) ||
        node_buf_reserve(&rb->buf, &rb->cap, rb->len + size + 8))
        return LDG_ENOMEM;
    pb_ostream_t os = pb_ostream_from_buffer(rb->buf + rb->len, rb->cap - rb->len);
    /* tag 1 (records), wire type 2, then the length-prefixed submessage */
    if (!pb_encode_varint(&os, (fwl_ListReleasesResp_records_tag << 3) | 2) ||
        !pb_encode_varint(&os, size) || !pb_encode(&os, fwl_ReleaseRecord_fields, rec))
        return LDG_ENOMEM;
    rb->len += os.bytes_written;
    return 0;
}

static bool enc_raw(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    (void)f;
    const rec_buf *rb = *arg;
    return pb_write(st, rb->buf, rb->len);
}

static void handle_list(client *c, uint64_t id, const fwl_ListReleasesReq *r)
{
    server *s = c->s;
    rec_buf rb = {0};
    fwl_Response *resp = new_resp(s, id, fwl_Response_list_releases_tag);
    fwl_ListReleasesResp *lr = &resp->resp.list_releases;
    size_t next_len = 0;
    int rc = ldg_store_list_releases(s->store, r->product, r->hardware, r->limit, r->after.bytes,
                                     r->after.size, collect_record, &rb, lr->next.bytes,
                                     &next_len, &lr->at_height);
    if (rc) {
        free(rb.buf);
        send_error(c, id, rc, "list releases: %s", ldg_strerror(rc));
        return;
    }
    lr->next.size = (pb_size_t)next_len;
    lr->records.funcs.encode = enc_raw;
    lr->records.arg = &rb;
    send_resp(c, resp);
    free(rb.buf);
}

static void handle_status(client *c, uint64_t id)
{
    server *s = c->s;
    ldg_tip t;
    ldg_store_tip(s->store, &t);
    fwl_Response *resp = new_resp(s, id, fwl_Response_status_tag);
    fwl_StatusResp *st = &resp->resp.status;
    snprintf(st->chain_id, sizeof st->chain_id, "%s", s->g.chain_id);
    st->height = t.height;
    memcpy(st->tip_hash.bytes, t.hash, LDG_DIGEST_LEN);
    st->tip_hash.size = LDG_DIGEST_LEN;
    st->tip_time_ms = t.time_ms;
    st->mempool = (uint32_t)(mempool_count(s) + s->verifying);
    st->releases = t.releases;
    snprintf(st->version, sizeof st->version, "%s", FWL_VERSION);
    send_resp(c, resp);
}

static void handle_nonce(client *c, uint64_t id, const fwl_NonceReq *r)
{
    server *s = c->s;
    uint64_t n;
    uint8_t kid[LDG_DIGEST_LEN];
    int rc = ldg_store_nonce(s->store, r->key.alg, r->key.key.bytes, r->key.key.size, &n);
    if (!rc && !ldg_key_id(&s->g, r->key.alg, r->key.key.bytes, r->key.key.size, kid)) {
        uint64_t *p = hmap_get(&s->nonces, kid);
        if (p && *p > n)
            n = *p;
    }
    if (rc) {
        send_error(c, id, rc, "nonce: %s", ldg_strerror(rc));
        return;
    }
    fwl_Response *resp = new_resp(s, id, fwl_Response_nonce_tag);
    resp->resp.nonce.last_nonce = n;
    send_resp(c, resp);
}

static void handle_frame(client *c, const uint8_t *buf, size_t len)
{
    server *s = c->s;
    fwl_Request *req = &s->req;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Request_fields, req)) {
        const char *e = PB_GET_ERROR(&st);
        int code = ldg_decode_error(e);
        send_error(c, req->id, code, "%s request: %s",
                   code == LDG_ETOOBIG ? "oversized field in" : "malformed", e ? e : "decode error");
        return;
    }
    switch (req->which_req) {
    case fwl_Request_submit_tx_tag: handle_submit(c, req->id, &req->req.submit_tx); break;
    case fwl_Request_wait_for_tx_tag: handle_wait(c, req->id, &req->req.wait_for_tx); break;
    case fwl_Request_get_block_tag: handle_get_block(c, req->id, &req->req.get_block); break;
    case fwl_Request_get_release_tag: handle_get_release(c, req->id, &req->req.get_release); break;
    case fwl_Request_list_releases_tag: handle_list(c, req->id, &req->req.list_releases); break;
    case fwl_Request_status_tag: handle_status(c, req->id); break;
    case fwl_Request_nonce_tag: handle_nonce(c, req->id, &req->req.nonce); break;
    default: send_error(c, req->id, LDG_EINVALID, "unknown or missing request type");
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */

static void close_walk(uv_handle_t *h, void *arg)
{
    server *s = arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&s->listener)
        close_client(h->data);
    else
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    server *s = sig->data;
    if (s->stopping)
        return;
    logf_("signal %d: stopping", signum);
    s->stopping = true;
    uv_walk(&s->loop, close_walk, s);
}

static bool free_mp_entry(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    mp_entry *e = *val;
    for (waiter *w = e->waiters, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    free(e->raw);
    free(e);
    return true;
}

static bool free_parked(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    for (waiter *w = *val, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    return true;
}

int node_run(const node_config *cfg, char *err, size_t errlen)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    s->cfg = *cfg;
    int rc = node_genesis_load(cfg->genesis, &s->g, err, errlen);
    if (!rc && (rc = node_key_load(cfg->validator_key, &s->vkey, err, errlen)) == 0) {
        bool is_validator = false;
        for (size_t i = 0; i < s->g.n_validators; i++)
            is_validator |= s->g.validators[i].alg == s->vkey.pub.alg &&
                            s->g.validators[i].len == s->vkey.pub.len &&
                            !memcmp(s->g.validators[i].key, s->vkey.pub.key, s->vkey.pub.len);
        if (!is_validator) {
            snprintf(err, errlen, "validator key %s is not a validator in %s", cfg->validator_key,
                     cfg->genesis);
            rc = NODE_ECONFIG;
        }
    }
    if (!rc && (rc = ldg_store_open(&s->store, cfg->data_dir, &s->g, 0)))
        snprintf(err, errlen, "data directory %s: %s", cfg->data_dir, ldg_strerror(rc));
    if (rc) {
        OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
        free(s);
        return rc;
    }
    s->clients = calloc(cfg->max_clients, sizeof *s->clients);
    s->gens = calloc(cfg->max_clients, sizeof *s->gens);
    s->rej = calloc(REJECTED_MAX, sizeof *s->rej);
    if (!s->clients || !s->gens || !s->rej || hmap_init(&s->pending, 1024) ||
        hmap_init(&s->waiting, 64) || hmap_init(&s->nonces, 64) || hmap_init(&s->rejected_idx, REJECTED_MAX)) {
        snprintf(err, errlen, "out of memory");
        rc = LDG_ENOMEM;
        goto out;
    }

    uv_loop_init(&s->loop);
    uv_tcp_init(&s->loop, &s->listener);
    struct sockaddr_storage addr;
    if (uv_ip4_addr(cfg->rpc_host, cfg->rpc_port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(cfg->rpc_host, cfg->rpc_port, (struct sockaddr_in6 *)&addr)) {
        snprintf(err, errlen, "rpc_listen: bad address %s", cfg->rpc_host);
        rc = NODE_ECONFIG;
    } else if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) ||
               (rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection))) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->rpc_host, cfg->rpc_port,
                 uv_strerror(rc));
        rc = NODE_ECONFIG;
    }
    if (rc) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        goto out;
    }
    s->listener.data = s;
    uv_timer_init(&s->loop, &s->cns_timer);
    uv_timer_init(&s->loop, &s->sweep_timer);
    s->cns_timer.data = s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, on_sweep, 100, 100);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    ldg_tip t;
    ldg_store_tip(s->store, &t);
    cns_init(&s->cns, t.height, now_ms(s), cfg->block_interval_ms, cfg->max_block_txs);
    logf_("chain %s at height %" PRIu64 ", listening on %s:%d", s->g.chain_id, t.height,
          cfg->rpc_host, cfg->rpc_port);

    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* All handles are closed; queued work has completed (after_verify ran). */
    uv_loop_close(&s->loop);
    ldg_store_tip(s->store, &t);
    logf_("stopped at height %" PRIu64, t.height);
    rc = 0;
out:
    hmap_each(&s->pending, free_mp_entry, NULL);
    hmap_each(&s->waiting, free_parked, NULL);
    hmap_each(&s->nonces, free_value, NULL);
    hmap_free(&s->pending);
    hmap_free(&s->waiting);
    hmap_free(&s->nonces);
    hmap_free(&s->rejected_idx);
    free(s->mp);
    free(s->batch);
    free(s->clients);
    free(s->gens);
    free(s->rej);
    ldg_store_close(s->store);
    OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
    free(s);
    return rc;
}
