/*
 * The write path. SubmitTx frames are batched per read and handed to the libuv thread pool,
 * where each tx is parsed and its signatures verified (both cores); batches come back in
 * dispatch order and valid txs enter the mempool (a signature is verified once per node).
 * The consensus engine (consensus/) decides when to cut a block; the node builds it from the
 * mempool head (ldg_store_build_block), signs the precommit, and commits it in the same LMDB
 * write transaction; only then are waiters (WaitForTx) told.
 */
#include "node/server_internal.h"

static void cns_kick(server *s);

static void send_wait_ok(server *s, reply_to to, const uint8_t hash[LDG_DIGEST_LEN])
{
    client *c = node__client_of(s, to);
    if (!c)
        return;
    fwl_Response *r = node__new_resp(s, to.id, fwl_Response_wait_for_tx_tag);
    fwl_WaitForTxResp *w = &r->resp.wait_for_tx;
    int rc = ldg_store_tx_location(s->store, hash, &w->height, &w->index, w->block_hash.bytes);
    if (rc) {
        node__send_error(c, to.id, rc, "tx lookup failed: %s", ldg_strerror(rc));
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


static int mempool_add(server *s, const uint8_t hash[LDG_DIGEST_LEN], uint8_t *raw, size_t len)
{
    if (s->mp_len == s->mp_cap) {
        if (s->mp_head > 0) { /* compact first */
            memmove(s->mp, s->mp + s->mp_head, node__mempool_count(s) * sizeof *s->mp);
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
        cns_kick(s);
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

void node__handle_submit(client *c, uint64_t id, const fwl_SubmitTxReq *r)
{
    server *s = c->s;
    if (node__mempool_count(s) + s->verifying >= s->cfg.mempool_max) {
        node__send_error(c, id, NODE_EMEMPOOL, "mempool full (%u transactions): retry later",
                   s->cfg.mempool_max);
        return;
    }
    if (!s->batch && !(s->batch = calloc(1, sizeof *s->batch))) {
        node__send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    uint8_t *raw = malloc(r->tx.size ? r->tx.size : 1);
    if (!raw) {
        node__send_error(c, id, LDG_ENOMEM, "out of memory");
        return;
    }
    memcpy(raw, r->tx.bytes, r->tx.size);
    verify_batch *b = s->batch;
    b->it[b->n].to = (reply_to){c->slot, c->gen, id};
    b->it[b->n].raw = raw;
    b->it[b->n].len = r->tx.size;
    if (++b->n == BATCH_MAX)
        node__dispatch_batch(s);
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
                   ldg_strerror(rej->code));
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

/* Answer and free a waiter list: committed (code 0) or refused with code. */
static void answer_waiters(server *s, waiter *w, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    while (w) {
        waiter *next = w->next;
        client *c = node__client_of(s, w->to);
        if (c && code)
            node__send_error(c, w->to.id, code, "tx rejected when the block was built: %s",
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

/* ---------------------------------------------------------------------------------------- */
/* Block production, driven by the consensus engine                                          */

static void run_actions(server *s, const cns_action *a, size_t n);

static void on_cns_timer(uv_timer_t *t)
{
    server *s = t->data;
    cns_action a[CNS_MAX_ACTIONS];
    run_actions(s, a, cns_on_tick(&s->cns, node__now_ms(s), node__mempool_count(s), a));
    node__flush_dirty(s);
}

static void cns_kick(server *s)
{
    if (!uv_is_active((uv_handle_t *)&s->cns_timer)) {
        cns_action a[CNS_MAX_ACTIONS];
        run_actions(s, a, cns_on_tick(&s->cns, node__now_ms(s), node__mempool_count(s), a));
    }
}


static void propose(server *s, uint64_t height)
{
    size_t n = node__mempool_count(s);
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
    int rc = ldg_store_build_block(s->store, raw, lens, n, node__now_ms(s), &s->vkey.pub, res,
                                   s->cur.hdr, &s->cur.hdr_len, s->cur.hash);
    if (rc) {
        node__log("building block %" PRIu64 " failed: %s", height, ldg_strerror(rc));
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
    memmove(head + keep, head + n, (node__mempool_count(s) - n) * sizeof *head);
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
        rc = ldg_block_encode(s->cur.hdr, s->cur.hdr_len, raw, lens, m, s->cur.commit, s->cur.n_commit, 0, &blk, &blen);
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
        node__log("committing block %" PRIu64 " failed: %s", height, ldg_strerror(rc));
        for (size_t i = m; i-- > 0;) {
            if (s->mp_head == 0) { /* no room in front: rebuild with room */
                size_t cnt = node__mempool_count(s);
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
    if (node__mempool_count(s) == 0 && s->nonces.live)
        hmap_each(&s->nonces, free_value, NULL);
    free(s->cur.incl);
    s->cur.incl = NULL;
    run_actions(s, a, cns_on_committed(&s->cns, height, node__now_ms(s), node__mempool_count(s), a));
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
    hmap_each(&s->pending, free_mp_entry, NULL);
    hmap_each(&s->waiting, free_parked, NULL);
    hmap_each(&s->nonces, free_value, NULL);
    for (verify_batch *b = s->vq_head, *n; b; b = n) { /* only if the loop died early */
        n = b->next;
        free(b);
    }
    free(s->mp);
    free(s->batch);
}
