/*
 * The mempool component's pool, waiters, refused txs and pending nonces (see mempool.h).
 * Entries live in a FIFO array in arrival order; one that leaves is marked dead and freed
 * at the next compaction (or when it reaches the head), so leaving costs no shifting.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "node/client/client.h"
#include "node/daemon/mempool_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                 */

int node_mempool_init(node_mempool *m, const node_mempool_config *cfg,
                      const node_mempool_events *ev)
{
    if (!m)
        return LDG_EINVALID;
    memset(m, 0, sizeof *m);
    if (!cfg || !ev || cfg->max == 0 || !cfg->g || !cfg->store || !ev->submitted ||
        !ev->settled)
        return LDG_EINVALID;
    m->cfg = *cfg;
    m->ev = *ev;
    m->rej = calloc(NODE_MP_REJECTED_MAX, sizeof *m->rej);
    if (!m->rej || hmap_init(&m->by_hash, 1024) || hmap_init(&m->by_raw, 1024) ||
        hmap_init(&m->parked, 64) || hmap_init(&m->nonces, 64) ||
        hmap_init(&m->rej_idx, NODE_MP_REJECTED_MAX)) {
        node_mempool_close(m);
        return LDG_ENOMEM;
    }
    return 0;
}

void node_mempool_stop(node_mempool *m)
{
    m->stopping = true;
}

static void free_waiters(node__mp_waiter *w)
{
    while (w) {
        node__mp_waiter *n = w->next;
        free(w);
        w = n;
    }
}

static bool free_entry(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    node__mp_entry *e = *val;
    free_waiters(e->waiters);
    free(e->raw);
    free(e);
    return true;
}

static bool free_parked(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    free_waiters(*val);
    return true;
}

static bool free_value(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    free(*val);
    return true;
}

void node_mempool_close(node_mempool *m)
{
    if (!m)
        return;
    /* The FIFO holds live and dead entries, by_hash only the live ones: the dead go first,
     * while the live ones can still be told apart. */
    for (size_t i = m->head; i < m->len; i++)
        if (m->fifo[i]->dead)
            free(m->fifo[i]);
    if (m->by_hash.slots)
        hmap_each(&m->by_hash, free_entry, NULL);
    if (m->parked.slots)
        hmap_each(&m->parked, free_parked, NULL);
    if (m->nonces.slots)
        hmap_each(&m->nonces, free_value, NULL);
    node__mp_batches_free(m);
    hmap_free(&m->by_hash);
    hmap_free(&m->by_raw);
    hmap_free(&m->parked);
    hmap_free(&m->nonces);
    hmap_free(&m->rej_idx);
    free(m->fifo);
    free(m->rej);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------------------------------- */
/* The pool                                                                                  */

size_t node_mempool_count(const node_mempool *m)
{
    return m->live;
}

bool node_mempool_full(const node_mempool *m)
{
    return m->live + m->verifying >= m->cfg.max;
}

bool node_mempool_holds_raw(const node_mempool *m, const uint8_t raw_hash[LDG_DIGEST_LEN])
{
    return hmap_get(&m->by_raw, raw_hash) != NULL;
}

bool node__mp_holds(const node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN])
{
    return hmap_get(&m->by_hash, hash) != NULL;
}

static void compact(node_mempool *m)
{
    size_t j = 0;
    for (size_t i = m->head; i < m->len; i++) {
        if (m->fifo[i]->dead)
            free(m->fifo[i]);
        else
            m->fifo[j++] = m->fifo[i];
    }
    m->head = 0;
    m->len = j;
    m->dead = 0;
}

static void note_nonce(node_mempool *m, const uint8_t sender[LDG_DIGEST_LEN], uint64_t nonce)
{
    uint64_t *n = hmap_get(&m->nonces, sender);
    if (n) {
        if (*n < nonce)
            *n = nonce;
        return;
    }
    if (!(n = malloc(sizeof *n)))
        return; /* only a hint: the ledger's replay rule stays authoritative */
    *n = nonce;
    if (hmap_put(&m->nonces, sender, n))
        free(n);
}

int node__mp_add(node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN],
                 const uint8_t raw_hash[LDG_DIGEST_LEN], uint8_t *raw, size_t len,
                 const uint8_t sender[LDG_DIGEST_LEN], uint64_t nonce)
{
    if (m->len == m->cap) {
        compact(m);
        if (m->len == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 1024;
            node__mp_entry **p = realloc(m->fifo, cap * sizeof *p);
            if (!p)
                return LDG_ENOMEM;
            m->fifo = p;
            m->cap = cap;
        }
    }
    node__mp_entry *e = calloc(1, sizeof *e);
    if (!e || hmap_put(&m->by_hash, hash, e)) {
        free(e);
        return LDG_ENOMEM;
    }
    if (hmap_put(&m->by_raw, raw_hash, e)) {
        hmap_del(&m->by_hash, hash);
        free(e);
        return LDG_ENOMEM;
    }
    memcpy(e->hash, hash, LDG_DIGEST_LEN);
    memcpy(e->raw_hash, raw_hash, LDG_DIGEST_LEN);
    e->raw = raw;
    e->len = len;
    e->waiters = hmap_del(&m->parked, hash); /* waiters that came before the tx */
    m->fifo[m->len++] = e;
    m->live++;
    note_nonce(m, sender, nonce);
    return 0;
}

void node__mp_settle(node_mempool *m, node__mp_waiter *w, const uint8_t hash[LDG_DIGEST_LEN],
                     int code)
{
    while (w) {
        node__mp_waiter *next = w->next;
        m->ev.settled(m->ev.ctx, w->to, hash, code);
        free(w);
        m->n_waiters--;
        w = next;
    }
}

/* Take e out of the pool and settle its waiters with code (0: committed). */
static void remove_entry(node_mempool *m, node__mp_entry *e, int code)
{
    if (e->dead)
        return;
    e->dead = true;
    hmap_del(&m->by_hash, e->hash);
    hmap_del(&m->by_raw, e->raw_hash);
    node__mp_waiter *w = e->waiters;
    e->waiters = NULL;
    free(e->raw);
    e->raw = NULL;
    m->live--;
    m->dead++;
    if (m->live == 0 && m->nonces.live)
        hmap_each(&m->nonces, free_value, NULL);
    node__mp_settle(m, w, e->hash, code);
}

size_t node_mempool_head(node_mempool *m, size_t max, node_mempool_tx *out)
{
    size_t n = 0;
    while (m->head < m->len && m->fifo[m->head]->dead) /* drop dead ones in front */
        free(m->fifo[m->head++]), m->dead--;
    for (size_t i = m->head; i < m->len && n < max; i++) {
        node__mp_entry *e = m->fifo[i];
        if (!e->dead)
            out[n++] = (node_mempool_tx){e->raw, e->len, e->hash, e->raw_hash};
    }
    return n;
}

/* Remember that hash was refused with code (a ring: the oldest is forgotten). */
static void remember(node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    node__mp_rejected *r = &m->rej[m->rej_next];
    if (hmap_get(&m->rej_idx, r->hash) == r)
        hmap_del(&m->rej_idx, r->hash);
    memcpy(r->hash, hash, LDG_DIGEST_LEN);
    r->code = code;
    hmap_put(&m->rej_idx, r->hash, r); /* out of memory: only this hint is lost */
    m->rej_next = (m->rej_next + 1) % NODE_MP_REJECTED_MAX;
}

bool node_mempool_rejected(const node_mempool *m, const uint8_t hash[LDG_DIGEST_LEN], int *code)
{
    const node__mp_rejected *r = hmap_get(&m->rej_idx, hash);
    if (r && code)
        *code = r->code;
    return r != NULL;
}

void node_mempool_refuse(node_mempool *m, const uint8_t raw_hash[LDG_DIGEST_LEN], int code)
{
    node__mp_entry *e = hmap_get(&m->by_raw, raw_hash);
    if (!e)
        return;
    remember(m, e->hash, code);
    remove_entry(m, e, code);
}

static bool parked_committed(void *ctx, const uint8_t key[32], void **val)
{
    node_mempool *m = ctx;
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    if (ldg_store_tx_location(m->cfg.store, key, &h, &idx, bh))
        return false;
    node__mp_settle(m, *val, key, 0);
    return true;
}

void node_mempool_block_committed(node_mempool *m, const ldg_block *b)
{
    for (size_t i = 0; i < b->n_txs; i++) {
        uint8_t rh[SHA256_DIGEST_LENGTH];
        SHA256(b->tx_raw[i], b->tx_len[i], rh);
        node__mp_entry *e = hmap_get(&m->by_raw, rh);
        if (e)
            remove_entry(m, e, 0);
    }
    if (m->dead > m->live)
        compact(m);
    /* Parked waiters whose tx came in this block without passing through our pool. */
    if (m->parked.live)
        hmap_each(&m->parked, parked_committed, m);
}

bool node_mempool_pending_nonce(const node_mempool *m, const uint8_t sender[LDG_DIGEST_LEN],
                                uint64_t *nonce)
{
    const uint64_t *n = hmap_get(&m->nonces, sender);
    if (n && nonce)
        *nonce = *n;
    return n != NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Waiters                                                                                   */

int node_mempool_wait(node_mempool *m, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN],
                      uint64_t deadline_ms)
{
    if (m->n_waiters >= NODE_MP_WAITERS_MAX)
        return NODE_EBUSY;
    node__mp_waiter *w = malloc(sizeof *w);
    if (!w)
        return LDG_ENOMEM;
    w->to = to;
    w->deadline_ms = deadline_ms;
    node__mp_entry *e = hmap_get(&m->by_hash, hash);
    if (e) {
        w->next = e->waiters;
        e->waiters = w;
        m->n_waiters++;
        return 0;
    }
    /* not seen yet (still verifying, or submitted later): park it */
    w->next = hmap_get(&m->parked, hash);
    if (hmap_put(&m->parked, hash, w)) {
        free(w);
        return LDG_ENOMEM;
    }
    m->n_waiters++;
    return 0;
}

/* Expire the waiters of one list past the deadline; returns the rest. */
typedef struct {
    node_mempool *m;
    uint64_t now;
} expire_ctx;

static node__mp_waiter *expire(expire_ctx *x, node__mp_waiter *w, const uint8_t hash[32])
{
    node__mp_waiter *keep = NULL;
    while (w) {
        node__mp_waiter *next = w->next;
        if (w->deadline_ms <= x->now) {
            x->m->ev.settled(x->m->ev.ctx, w->to, hash, NODE_ETIMEOUT);
            free(w);
            x->m->n_waiters--;
        } else {
            w->next = keep;
            keep = w;
        }
        w = next;
    }
    return keep;
}

static bool expire_pooled(void *ctx, const uint8_t key[32], void **val)
{
    node__mp_entry *e = *val;
    e->waiters = expire(ctx, e->waiters, key);
    return false;
}

static bool expire_parked(void *ctx, const uint8_t key[32], void **val)
{
    node__mp_waiter *w = expire(ctx, *val, key);
    if (!w)
        return true; /* every waiter expired: drop the entry */
    *val = w;
    return false;
}

void node_mempool_expire(node_mempool *m, uint64_t now_ms)
{
    expire_ctx x = {m, now_ms};
    hmap_each(&m->by_hash, expire_pooled, &x);
    hmap_each(&m->parked, expire_parked, &x);
}
