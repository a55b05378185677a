/*
 * The write path's front: SubmitTx frames (and txs gossiped by peers) are batched per read
 * and handed to the libuv thread pool, where each tx is parsed and its signatures verified
 * (both cores); batches come back in dispatch order and valid txs enter the mempool (a
 * signature is verified once per node) and are gossiped on. WaitForTx waiters are answered
 * when a block including their tx is in the store (blocks.c), or with the rule that refused
 * it.
 */
#include <openssl/sha.h>

#include "node/daemon/server_internal.h"

static void send_wait_ok(server *s, reply_to to, const uint8_t hash[LDG_DIGEST_LEN])
{
    client *c = node__client_of(s, to);
    if (!c)
        return;
    fwl_Response *r = node__new_resp(s, to.id, fwl_Response_wait_for_tx_tag);
    fwl_WaitForTxResp *w = &r->resp.wait_for_tx;
    int rc = ldg_store_tx_location(s->store, hash, &w->height, &w->index, w->block_hash.bytes);
    if (rc) {
        node__send_error(c, to.id, rc, "tx lookup failed: %s", node_strerror(rc));
        return;
    }
    w->block_hash.size = LDG_DIGEST_LEN;
    memcpy(w->tx_hash.bytes, hash, LDG_DIGEST_LEN);
    w->tx_hash.size = LDG_DIGEST_LEN;
    node__send_resp(c, r);
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
            SHA256(b->it[i].raw, b->it[i].len, b->it[i].raw_hash);
            memcpy(b->it[i].sender, tx->sender, LDG_DIGEST_LEN);
            b->it[i].nonce = tx->body.nonce;
        }
    }
    free(tx);
}

void node__rejected_add(server *s, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    rejected *r = &s->rej[s->rej_next];
    if (hmap_get(&s->rejected_idx, r->hash) == r)
        hmap_del(&s->rejected_idx, r->hash);
    memcpy(r->hash, hash, LDG_DIGEST_LEN);
    r->code = code;
    hmap_put(&s->rejected_idx, r->hash, r);
    s->rej_next = (s->rej_next + 1) % REJECTED_MAX;
}


static void admit_batch(server *s, verify_batch *b)
{
    s->verifying -= b->n;
    for (size_t i = 0; i < b->n; i++) {
        int rc = b->it[i].rc;
        client *c = node__client_of(s, b->it[i].to);
        if (!rc && !s->stopping) {
            uint64_t h;
            uint32_t idx;
            uint8_t bh[LDG_DIGEST_LEN];
            if (hmap_get(&s->pending, b->it[i].hash))
                rc = NODE_EPENDING;
            else if (ldg_store_tx_location(s->store, b->it[i].hash, &h, &idx, bh) == 0)
                rc = LDG_ETXDUP;
            else if (node__mempool_count(s) >= s->cfg.mempool_max)
                rc = NODE_EMEMPOOL;
            else if (b->it[i].to.slot != NO_CLIENT &&
                     (rc = ldg_store_check_tx(s->store, b->it[i].raw, b->it[i].len, &b->it[i].why)))
                ; /* a rule refuses it against the committed state: tell the client now (a
                     peer's tx passed this check where it was submitted) */
            else if (!(rc = node__mempool_add(s, b->it[i].hash, b->it[i].raw_hash, b->it[i].raw,
                                              b->it[i].len))) {
                node__note_pending_nonce(s, b->it[i].sender, b->it[i].nonce);
                if (s->ch.seen_tx)
                    p2p_seen_add(s->ch.seen_tx, b->it[i].raw_hash);
                if (s->ch.net) /* gossip it on (peers drop what they have seen) */
                    p2p_broadcast(s->ch.net, P2P_T_TX, b->it[i].raw, b->it[i].len);
                b->it[i].raw = NULL; /* the mempool owns it now */
            }
            if (!rc)
                b->it[i].why = "";
        }
        free(b->it[i].raw);
        if (rc && b->it[i].rc == 0 && rc != NODE_EPENDING && rc != LDG_ETXDUP) {
            /* parsed but refused here: anyone already waiting learns why */
            node__answer_waiters(s, hmap_del(&s->waiting, b->it[i].hash), b->it[i].hash, rc);
        } else if (rc && b->it[i].rc == LDG_EBADSIG) {
            node__rejected_add(s, b->it[i].hash, rc);
            node__answer_waiters(s, hmap_del(&s->waiting, b->it[i].hash), b->it[i].hash, rc);
        }
        if (!c) /* a peer's tx, or the client left */
            continue;
        if (rc) {
            node__send_error(c, b->it[i].to.id, rc, "tx refused: %s%s%s", node_strerror(rc),
                       *b->it[i].why ? ": " : "", b->it[i].why);
            continue;
        }
        fwl_Response *r = node__new_resp(s, b->it[i].to.id, fwl_Response_submit_tx_tag);
        memcpy(r->resp.submit_tx.tx_hash.bytes, b->it[i].hash, LDG_DIGEST_LEN);
        r->resp.submit_tx.tx_hash.size = LDG_DIGEST_LEN;
        node__send_resp(c, r);
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
        node__chain_kick(s);
    node__flush_dirty(s);
}

void node__dispatch_batch(server *s)
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

/* Queue one tx for verification; the batch goes to the thread pool when full or at the end
 * of the read. */
static int batch_add(server *s, reply_to to, const uint8_t *tx, size_t len)
{
    if (!s->batch && !(s->batch = calloc(1, sizeof *s->batch)))
        return LDG_ENOMEM;
    uint8_t *raw = malloc(len ? len : 1);
    if (!raw)
        return LDG_ENOMEM;
    memcpy(raw, tx, len);
    verify_batch *b = s->batch;
    b->it[b->n].to = to;
    b->it[b->n].raw = raw;
    b->it[b->n].len = len;
    if (++b->n == BATCH_MAX)
        node__dispatch_batch(s);
    return 0;
}

void node__handle_submit(client *c, uint64_t id, const fwl_SubmitTxReq *r)
{
    server *s = c->s;
    if (node__mempool_count(s) + s->verifying >= s->cfg.mempool_max) {
        node__send_error(c, id, NODE_EMEMPOOL, "mempool full (%u transactions): retry later",
                   s->cfg.mempool_max);
        return;
    }
    if (batch_add(s, (reply_to){c->slot, c->gen, id}, r->tx.bytes, r->tx.size))
        node__send_error(c, id, LDG_ENOMEM, "out of memory");
}

void node__tx_from_peer(server *s, const uint8_t *raw, size_t len)
{
    uint8_t rh[SHA256_DIGEST_LENGTH];
    if (len > LDG_TX_MAX || node__mempool_count(s) + s->verifying >= s->cfg.mempool_max)
        return; /* a full mempool drops gossip; the tx reaches the proposer another way */
    SHA256(raw, len, rh);
    if (s->ch.seen_tx && !p2p_seen_add(s->ch.seen_tx, rh))
        return; /* seen before: an echo of our own gossip, or a duplicate */
    batch_add(s, (reply_to){NO_CLIENT, 0, 0}, raw, len);
}

void node__handle_wait(client *c, uint64_t id, const fwl_WaitForTxReq *r)
{
    server *s = c->s;
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    if (r->tx_hash.size != LDG_DIGEST_LEN) {
        node__send_error(c, id, LDG_EINVALID, "tx_hash must be %d bytes", LDG_DIGEST_LEN);
        return;
    }
    reply_to to = {c->slot, c->gen, id};
    if (ldg_store_tx_location(s->store, r->tx_hash.bytes, &h, &idx, bh) == 0) {
        send_wait_ok(s, to, r->tx_hash.bytes);
        return;
    }
    rejected *rej = hmap_get(&s->rejected_idx, r->tx_hash.bytes);
    if (rej) {
        node__send_error(c, id, rej->code, "tx rejected when the block was built: %s",
                   node_strerror(rej->code));
        return;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) {
        node__send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    uint32_t tmo = r->timeout_ms ? r->timeout_ms : WAIT_DEFAULT_MS;
    w->to = to;
    w->deadline_ms = node__now_ms(s) + (tmo > WAIT_MAX_MS ? WAIT_MAX_MS : tmo);
    mp_entry *e = hmap_get(&s->pending, r->tx_hash.bytes);
    if (e) {
        w->next = e->waiters;
        e->waiters = w;
    } else { /* not seen yet (still verifying, or submitted later): park it */
        w->next = hmap_get(&s->waiting, r->tx_hash.bytes);
        if (hmap_put(&s->waiting, r->tx_hash.bytes, w)) {
            free(w);
            node__send_error(c, id, LDG_ENOMEM, "out of memory");
        }
    }
}

void node__answer_waiters(server *s, waiter *w, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    while (w) {
        waiter *next = w->next;
        client *c = node__client_of(s, w->to);
        if (c && code)
            node__send_error(c, w->to.id, code, "tx rejected when the block was built: %s",
                       node_strerror(code));
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
            client *c = node__client_of(s, w->to);
            if (c)
                node__send_error(c, w->to.id, NODE_ETIMEOUT, "not committed before the timeout");
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

void node__on_sweep(uv_timer_t *t)
{
    server *s = t->data;
    node__chain_tick(s);
    node__sync_tick(s);
    node__stall_tick(s);
    sweep_ctx x = {s, node__now_ms(s)};
    hmap_each(&s->pending, sweep_pending, &x);
    hmap_each(&s->waiting, sweep_parked, &x);
    /* After a burst, hand the freed mempool and batch memory back to the system once the
     * node is idle (glibc keeps it otherwise, fragmented across arenas). */
    if (s->committed_txs != s->trimmed_at && node__mempool_count(s) == 0 && s->verifying == 0) {
        s->trimmed_at = s->committed_txs;
        malloc_trim(0);
    }
    node__flush_dirty(s);
}

static bool parked_committed(void *ctx, const uint8_t key[32], void **val)
{
    server *s = ctx;
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    if (ldg_store_tx_location(s->store, key, &h, &idx, bh))
        return false;
    node__answer_waiters(s, *val, key, 0);
    return true;
}

void node__answer_parked(server *s)
{
    if (s->waiting.live)
        hmap_each(&s->waiting, parked_committed, s);
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

void node__write_state_free(server *s)
{
    /* The mempool array holds live and dead entries, `pending` only the live ones: the dead
     * go first, while the live ones can still be told apart (freeing through `pending`
     * first made this loop read freed entries). */
    for (size_t i = s->mp_head; i < s->mp_len; i++)
        if (s->mp[i]->dead)
            free(s->mp[i]);
    hmap_each(&s->pending, free_mp_entry, NULL);
    hmap_each(&s->waiting, free_parked, NULL);
    hmap_each(&s->nonces, node__free_value, NULL);
    for (verify_batch *b = s->vq_head, *n; b; b = n) { /* only if the loop died early */
        n = b->next;
        free(b);
    }
    free(s->mp);
    free(s->batch);
}
