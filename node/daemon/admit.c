/*
 * The mempool component's admission (see mempool.h): submitted txs are copied into batches,
 * parsed and signature-verified on the libuv thread pool (both cores), and admitted on the
 * loop thread in dispatch order, so one sender's nonces stay ordered. The thread pool
 * touches only its batch and the genesis.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "node/client/client.h"
#include "node/daemon/mempool_internal.h"

typedef struct node__mp_batch {
    uv_work_t w;
    node_mempool *m;
    struct node__mp_batch *next; /* dispatch order */
    bool done;
    uint64_t height;
    size_t n;
    struct {
        node_reply_to to;
        uint8_t *raw;
        size_t len;
        int rc;
        const char *why;
        uint8_t hash[LDG_DIGEST_LEN];
        uint8_t raw_hash[LDG_DIGEST_LEN];
        uint8_t sender[LDG_DIGEST_LEN];
        uint64_t nonce;
        uint32_t type, n_sigs;
    } it[NODE_MP_BATCH_MAX];
} node__mp_batch;

size_t node_mempool_verifying(const node_mempool *m)
{
    return m->verifying;
}

/* On the thread pool: parse each tx at the batch's height and verify its signatures. */
static void verify_work(uv_work_t *w)
{
    node__mp_batch *b = (node__mp_batch *)w;
    ldg_tx *tx = malloc(sizeof *tx);
    for (size_t i = 0; i < b->n; i++) {
        if (!tx) {
            b->it[i].rc = LDG_ENOMEM;
            b->it[i].why = "";
            continue;
        }
        b->it[i].rc = ldg_tx_parse(b->m->cfg.g, b->height, b->it[i].raw, b->it[i].len, tx,
                                   &b->it[i].why);
        if (!b->it[i].rc) {
            b->it[i].rc = ldg_tx_verify(tx);
            b->it[i].why = b->it[i].rc ? "signature" : "";
            memcpy(b->it[i].hash, tx->hash, LDG_DIGEST_LEN);
            SHA256(b->it[i].raw, b->it[i].len, b->it[i].raw_hash);
            memcpy(b->it[i].sender, tx->sender, LDG_DIGEST_LEN);
            b->it[i].nonce = tx->body.nonce;
            b->it[i].type = tx->type;
            b->it[i].n_sigs = tx->env.sigs_count;
        }
    }
    free(tx);
}

/* The admission rules of a verified tx, against the pool and the committed state. */
static int admit_one(node_mempool *m, node__mp_batch *b, size_t i)
{
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    int rc;
    if (node__mp_holds(m, b->it[i].hash))
        return NODE_EPENDING;
    if (ldg_store_tx_location(m->cfg.store, b->it[i].hash, &h, &idx, bh) == 0)
        return LDG_ETXDUP;
    if (m->live >= m->cfg.max)
        return NODE_EMEMPOOL;
    /* A rule refuses it against the committed state: tell the client now (a peer's tx
     * passed this check where it was submitted). */
    if (b->it[i].to.slot != NODE_NO_CLIENT &&
        (rc = ldg_store_check_tx(m->cfg.store, b->it[i].raw, b->it[i].len, &b->it[i].why)))
        return rc;
    if ((rc = node__mp_add(m, b->it[i].hash, b->it[i].raw_hash, b->it[i].raw, b->it[i].len,
                           b->it[i].sender, b->it[i].nonce)))
        return rc;
    if (m->ev.admitted)
        m->ev.admitted(m->ev.ctx, b->it[i].raw, b->it[i].len, b->it[i].raw_hash);
    b->it[i].raw = NULL; /* the pool owns it now */
    return 0;
}

static void admit_batch(node_mempool *m, node__mp_batch *b)
{
    m->verifying -= b->n;
    for (size_t i = 0; i < b->n; i++) {
        int rc = b->it[i].rc;
        if (!rc && !m->stopping && !(rc = admit_one(m, b, i)))
            b->it[i].why = "";
        free(b->it[i].raw);
        /* Parsed and signed, but refused here: anyone already waiting learns why. A bad
         * signature says nothing about the tx id (the body's hash): anyone who saw a tx can
         * send a copy with a broken signature, which must not fail the waiters of the real
         * one, nor mark its id refused. */
        if (rc && b->it[i].rc == 0 && rc != NODE_EPENDING && rc != LDG_ETXDUP)
            node__mp_settle(m, hmap_del(&m->parked, b->it[i].hash), b->it[i].hash, rc);
        node_mempool_verdict v = {b->it[i].hash, b->it[i].type, b->it[i].sender,
                                  b->it[i].n_sigs, rc, b->it[i].why};
        m->ev.submitted(m->ev.ctx, b->it[i].to, &v);
    }
    free(b);
}

/* Back on the loop: admit every batch that is done, in dispatch order. */
static void after_verify(uv_work_t *w, int status)
{
    (void)status;
    node__mp_batch *b = (node__mp_batch *)w;
    node_mempool *m = b->m;
    b->done = true;
    while (m->vq_head && m->vq_head->done) {
        node__mp_batch *h = m->vq_head;
        m->vq_head = h->next;
        if (!m->vq_head)
            m->vq_tail = NULL;
        admit_batch(m, h);
    }
    if (m->ev.verified)
        m->ev.verified(m->ev.ctx);
}

void node_mempool_flush(node_mempool *m)
{
    node__mp_batch *b = m->batch;
    if (!b || !b->n)
        return;
    m->batch = NULL;
    ldg_tip t;
    ldg_store_tip(m->cfg.store, &t);
    b->height = t.height + 1;
    b->m = m;
    m->verifying += b->n;
    if (m->vq_tail)
        m->vq_tail->next = b;
    else
        m->vq_head = b;
    m->vq_tail = b;
    if (!m->cfg.loop || uv_queue_work(m->cfg.loop, &b->w, verify_work, after_verify)) {
        verify_work(&b->w); /* inline (tests); uv_queue_work cannot fail on a live loop */
        after_verify(&b->w, 0);
    }
}

int node_mempool_submit(node_mempool *m, node_reply_to to, const uint8_t *raw, size_t len)
{
    if (node_mempool_full(m))
        return NODE_EMEMPOOL;
    if (!m->batch && !(m->batch = calloc(1, sizeof *m->batch)))
        return LDG_ENOMEM;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return LDG_ENOMEM;
    memcpy(copy, raw, len);
    node__mp_batch *b = m->batch;
    b->it[b->n].to = to;
    b->it[b->n].raw = copy;
    b->it[b->n].len = len;
    if (++b->n == NODE_MP_BATCH_MAX)
        node_mempool_flush(m);
    return 0;
}

void node__mp_batches_free(node_mempool *m)
{
    for (node__mp_batch *b = m->vq_head, *n; b; b = n) { /* only if the loop died early */
        n = b->next;
        for (size_t i = 0; i < b->n; i++)
            free(b->it[i].raw);
        free(b);
    }
    m->vq_head = m->vq_tail = NULL;
    if (m->batch)
        for (size_t i = 0; i < m->batch->n; i++)
            free(m->batch->it[i].raw);
    free(m->batch);
    m->batch = NULL;
}
