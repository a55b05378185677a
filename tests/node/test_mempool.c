/*
 * Unit tests for the mempool component (node/daemon/mempool.h) on a real store, with
 * verification inline (no loop): admission order and answers, the admission rules, bounds,
 * waiters (attached, parked, committed, refused, expired), batches past NODE_MP_BATCH_MAX,
 * pending nonces, close with everything still held. Every event is recorded and counted.
 */
#include "tests/ledger/store_helpers.h"

#include <openssl/sha.h>

#include "node/client/client.h"
#include "node/daemon/mempool.h"

#define EV_MAX 512

typedef struct {
    node_reply_to to;
    uint8_t hash[LDG_DIGEST_LEN];
    int rc;
    char why[64]; /* submitted: what the answer's message names */
    uint32_t type, n_sigs;
    uint8_t sender[LDG_DIGEST_LEN];
} event;

static struct {
    event submitted[EV_MAX], settled[EV_MAX];
    size_t n_submitted, n_settled, n_admitted, n_verified;
    uint8_t admitted[EV_MAX][LDG_DIGEST_LEN];
} E;

static void on_submitted(void *ctx, node_reply_to to, const node_mempool_verdict *v)
{
    (void)ctx;
    assert_non_null(v->why);
    assert_true(E.n_submitted < EV_MAX);
    event *e = &E.submitted[E.n_submitted++];
    e->to = to, e->rc = v->rc, e->type = v->type, e->n_sigs = v->n_sigs;
    memcpy(e->hash, v->hash, LDG_DIGEST_LEN);
    memcpy(e->sender, v->sender, LDG_DIGEST_LEN);
    snprintf(e->why, sizeof e->why, "%s", v->why);
}

static void on_admitted(void *ctx, const uint8_t *raw, size_t len,
                        const uint8_t raw_hash[LDG_DIGEST_LEN])
{
    (void)ctx, (void)raw, (void)len;
    assert_true(E.n_admitted < EV_MAX);
    memcpy(E.admitted[E.n_admitted++], raw_hash, LDG_DIGEST_LEN);
}

static void on_settled(void *ctx, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    (void)ctx;
    assert_true(E.n_settled < EV_MAX);
    event *e = &E.settled[E.n_settled++];
    e->to = to, e->rc = code;
    memcpy(e->hash, hash, LDG_DIGEST_LEN);
}

static void on_verified(void *ctx)
{
    (void)ctx;
    E.n_verified++;
}

static node_mempool M;

static void pool_open(uint32_t max)
{
    memset(&E, 0, sizeof E);
    node_mempool_config cfg = {.max = max, .g = &G, .store = S, .loop = NULL};
    node_mempool_events ev = {on_submitted, on_admitted, on_settled, on_verified, NULL};
    assert_int_equal(node_mempool_init(&M, &cfg, &ev), 0);
}

static int mp_setup(void **st)
{
    int rc = setup(st);
    if (!rc)
        pool_open(100);
    return rc;
}

static int mp_teardown(void **st)
{
    node_mempool_close(&M);
    return teardown(st);
}

static node_reply_to client(uint64_t id)
{
    return (node_reply_to){7, 1, id};
}

static const node_reply_to peer = {NODE_NO_CLIENT, 0, 0};

/* Publish number i of a line (versions and security versions increase with i). */
static void pub(rawtx *t, uint64_t nonce, int i)
{
    char v[16];
    snprintf(v, sizeof v, "1.%d.0", i);
    publish_tx(t, &author, nonce, "cam-fw", v, (uint64_t)i + 1, (uint8_t)(0x40 + i), "cam-v1");
}

static void raw_hash(const rawtx *t, uint8_t out[32])
{
    SHA256(t->buf, t->len, out);
}

/* Commit a block over txs in the store and tell the pool. */
static void commit_and_tell(rawtx *const *txs, size_t n)
{
    uint8_t *blk;
    size_t len;
    int res[16];
    ldg_block b;
    make_block(txs, n, res, &blk, &len);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    assert_int_equal(ldg_block_decode(blk, len, &b), 0);
    node_mempool_block_committed(&M, &b);
    ldg_block_free(&b);
    free(blk);
}

/* ---------------------------------------------------------------------------------------- */

static void test_init_args(void **st)
{
    (void)st;
    node_mempool m;
    node_mempool_config cfg = {.max = 10, .g = &G, .store = S};
    node_mempool_events ev = {on_submitted, NULL, on_settled, NULL, NULL};
    assert_int_equal(node_mempool_init(NULL, &cfg, &ev), LDG_EINVALID);
    assert_int_equal(node_mempool_init(&m, NULL, &ev), LDG_EINVALID);
    assert_int_equal(node_mempool_init(&m, &cfg, NULL), LDG_EINVALID);
    cfg.max = 0;
    assert_int_equal(node_mempool_init(&m, &cfg, &ev), LDG_EINVALID);
    cfg.max = 10, cfg.store = NULL;
    assert_int_equal(node_mempool_init(&m, &cfg, &ev), LDG_EINVALID);
    cfg.store = S, ev.settled = NULL;
    assert_int_equal(node_mempool_init(&m, &cfg, &ev), LDG_EINVALID);
    ev.settled = on_settled; /* optional events may be NULL */
    assert_int_equal(node_mempool_init(&m, &cfg, &ev), 0);
    node_mempool_close(&m);
    node_mempool_close(NULL);
}

/* Admitted in submission order, answered in order, shown in order, nonces noted. */
static void test_admission_order(void **st)
{
    (void)st;
    rawtx t[3];
    for (int i = 0; i < 3; i++) {
        pub(&t[i], (uint64_t)i + 1, i);
        assert_int_equal(node_mempool_submit(&M, client((uint64_t)i + 10), t[i].buf, t[i].len), 0);
    }
    assert_int_equal(E.n_submitted, 0); /* not before the end of the read */
    assert_int_equal(node_mempool_count(&M), 0);
    node_mempool_flush(&M);
    assert_int_equal(E.n_verified, 1);
    assert_int_equal(E.n_submitted, 3);
    assert_int_equal(E.n_admitted, 3);
    assert_int_equal(node_mempool_count(&M), 3);
    assert_int_equal(node_mempool_verifying(&M), 0);
    node_mempool_tx h[8];
    assert_int_equal(node_mempool_head(&M, 8, h), 3);
    for (int i = 0; i < 3; i++) {
        uint8_t rh[32];
        raw_hash(&t[i], rh);
        assert_int_equal(E.submitted[i].rc, 0);
        assert_int_equal(E.submitted[i].to.id, (uint64_t)i + 10);
        assert_memory_equal(E.submitted[i].hash, t[i].hash, 32);
        assert_memory_equal(E.admitted[i], rh, 32);
        assert_memory_equal(h[i].hash, t[i].hash, 32);
        assert_memory_equal(h[i].raw_hash, rh, 32);
        assert_int_equal(h[i].len, t[i].len);
        assert_memory_equal(h[i].raw, t[i].buf, t[i].len);
        assert_true(node_mempool_holds_raw(&M, rh));
    }
    assert_int_equal(node_mempool_head(&M, 2, h), 2); /* max respected */
    uint8_t kid[32];
    uint64_t n = 0;
    assert_int_equal(ldg_key_id(&G, author.pub.alg, author.pub.key, author.pub.len, kid), 0);
    assert_true(node_mempool_pending_nonce(&M, kid, &n));
    assert_int_equal(n, 3);
    assert_false(node_mempool_pending_nonce(&M, t[0].hash, &n));
}

/* A tx that does not parse: refused, with no type, signatures or sender to tell. */
static void test_unparsed(void **st)
{
    (void)st;
    static const uint8_t junk[] = {1, 2, 3}, zero[LDG_DIGEST_LEN];
    assert_int_equal(node_mempool_submit(&M, client(1), junk, sizeof junk), 0);
    node_mempool_flush(&M);
    assert_int_equal(E.n_submitted, 1);
    assert_true(E.submitted[0].rc < 0);
    assert_int_equal(E.submitted[0].type, 0);
    assert_int_equal(E.submitted[0].n_sigs, 0);
    assert_memory_equal(E.submitted[0].sender, zero, sizeof zero);
}

/* Pending, committed, bad signature, refused by a rule: each with its code; a peer's tx
 * skips the rules against committed state (it passed them where it was submitted). */
static void test_admission_rules(void **st)
{
    (void)st;
    rawtx a, b, bad, unauth;
    pub(&a, 1, 0);
    pub(&b, 2, 1);
    assert_int_equal(commit1(&a), 0);
    bad = b;
    bad.buf[bad.len - 1] ^= 1; /* the last byte is in the signature */
    author_tx(&unauth, &other, 1, fwl_AuthorOp_AUTHOR_ADD, "cam-fw", &other); /* not an admin */
    node_mempool_submit(&M, client(1), a.buf, a.len);      /* committed */
    node_mempool_submit(&M, client(2), b.buf, b.len);      /* fine */
    node_mempool_submit(&M, client(3), b.buf, b.len);      /* pending by then */
    node_mempool_submit(&M, client(4), bad.buf, bad.len);  /* bad signature */
    node_mempool_submit(&M, client(5), unauth.buf, unauth.len); /* a rule refuses it */
    node_mempool_submit(&M, peer, unauth.buf, unauth.len); /* from a peer: admitted */
    node_mempool_flush(&M);
    assert_int_equal(E.n_submitted, 6);
    assert_int_equal(E.submitted[0].rc, LDG_ETXDUP);
    assert_int_equal(E.submitted[1].rc, 0);
    assert_int_equal(E.submitted[2].rc, NODE_EPENDING);
    assert_int_equal(E.submitted[3].rc, LDG_EBADSIG);
    assert_int_equal(E.submitted[4].rc, LDG_EUNAUTHORIZED);
    assert_int_equal(E.submitted[5].rc, 0);
    /* The message names what failed: nothing for a duplicate (it once said "signature") */
    assert_string_equal(E.submitted[0].why, "");
    assert_string_equal(E.submitted[1].why, "");
    assert_string_equal(E.submitted[2].why, "");
    assert_string_equal(E.submitted[3].why, "signature");
    assert_int_equal(E.submitted[5].to.slot, NODE_NO_CLIENT);
    /* What the tx is, parsed or refused (the daemon's audit log names admin txs). */
    uint8_t kid[32];
    assert_int_equal(ldg_key_id(&G, other.pub.alg, other.pub.key, other.pub.len, kid), 0);
    assert_int_equal(E.submitted[4].type, LDG_TX_AUTHOR);
    assert_int_equal(E.submitted[4].n_sigs, 1);
    assert_memory_equal(E.submitted[4].sender, kid, 32);
    assert_int_equal(E.submitted[3].type, LDG_TX_PUBLISH); /* parsed, its signature bad */
    assert_int_equal(E.submitted[1].type, LDG_TX_PUBLISH);
    assert_int_equal(node_mempool_count(&M), 2);
    assert_int_equal(E.n_admitted, 2);
    /* The copy with a broken signature has b's id: it fails neither b nor its waiters. */
    int code = 0;
    assert_false(node_mempool_rejected(&M, bad.hash, &code));
    rawtx c;
    pub(&c, 3, 2);
    node_mempool_wait(&M, client(20), c.hash, 1000); /* parked */
    bad = c;
    bad.buf[bad.len - 1] ^= 1;
    node_mempool_submit(&M, client(6), bad.buf, bad.len);
    node_mempool_flush(&M);
    assert_int_equal(E.submitted[6].rc, LDG_EBADSIG);
    assert_int_equal(E.n_settled, 0);
    node_mempool_submit(&M, client(7), c.buf, c.len);
    node_mempool_flush(&M);
    assert_int_equal(E.submitted[7].rc, 0);
    assert_int_equal(node_mempool_count(&M), 3);
}

/* The bound: refused at submission once pool + verifying reach it, and at admission when a
 * batch would pass it. */
static void test_bounds(void **st)
{
    (void)st;
    node_mempool_close(&M);
    pool_open(2);
    rawtx t[4];
    for (int i = 0; i < 4; i++)
        pub(&t[i], (uint64_t)i + 1, i);
    for (int i = 0; i < 3; i++) /* one batch of 3: nothing is verifying yet */
        assert_int_equal(node_mempool_submit(&M, client((uint64_t)i), t[i].buf, t[i].len), 0);
    node_mempool_flush(&M);
    assert_int_equal(E.submitted[0].rc, 0);
    assert_int_equal(E.submitted[1].rc, 0);
    assert_int_equal(E.submitted[2].rc, NODE_EMEMPOOL);
    assert_int_equal(node_mempool_count(&M), 2);
    assert_true(node_mempool_full(&M));
    assert_int_equal(node_mempool_submit(&M, client(9), t[3].buf, t[3].len), NODE_EMEMPOOL);
    node_mempool_flush(&M);
    assert_int_equal(E.n_submitted, 3); /* a refused submission makes no event */
}

/* More than one batch's worth: full batches go at once, the rest at the flush, all in
 * order. */
static void test_batches(void **st)
{
    (void)st;
    static rawtx t[NODE_MP_BATCH_MAX + 5];
    size_t n = NODE_MP_BATCH_MAX + 5;
    for (size_t i = 0; i < n; i++)
        pub(&t[i], i + 1, (int)i);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(node_mempool_submit(&M, client(i), t[i].buf, t[i].len),
                         i < NODE_MP_BATCH_MAX ? 0 : NODE_EMEMPOOL);
    /* max 100: the first batch went at its 128th tx (28 refused at admission), and
     * submissions after it are refused at once */
    assert_int_equal(E.n_verified, 1);
    assert_int_equal(E.n_submitted, NODE_MP_BATCH_MAX);
    node_mempool_flush(&M);
    assert_int_equal(E.n_verified, 1); /* the rest were refused: nothing to dispatch */
    for (size_t i = 0; i < NODE_MP_BATCH_MAX; i++) {
        assert_int_equal(E.submitted[i].to.id, i);
        assert_int_equal(E.submitted[i].rc, i < 100 ? 0 : NODE_EMEMPOOL);
    }
    assert_int_equal(node_mempool_count(&M), 100);
}

/* Waiters: one on a pooled tx, one parked before its tx arrives, one parked for a tx that
 * commits without passing through the pool: all settled with 0 at the commit; the pool
 * empties and the nonce hint goes with it. */
static void test_waiters_commit(void **st)
{
    (void)st;
    rawtx a, b, c;
    pub(&a, 1, 0);
    pub(&b, 2, 1);
    pub(&c, 3, 2);
    node_mempool_submit(&M, client(1), a.buf, a.len);
    node_mempool_flush(&M);
    assert_int_equal(node_mempool_wait(&M, client(100), a.hash, 1000), 0);
    assert_int_equal(node_mempool_wait(&M, client(101), b.hash, 1000), 0); /* parked */
    assert_int_equal(node_mempool_wait(&M, client(102), c.hash, 1000), 0); /* parked */
    node_mempool_submit(&M, client(2), b.buf, b.len);
    node_mempool_flush(&M);
    assert_int_equal(node_mempool_count(&M), 2);
    assert_int_equal(E.n_settled, 0);
    rawtx *blk[] = {&a, &b, &c};
    commit_and_tell(blk, 3);
    assert_int_equal(E.n_settled, 3);
    bool seen[3] = {false};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(E.settled[i].rc, 0);
        size_t k = (size_t)(E.settled[i].to.id - 100);
        assert_true(k < 3 && !seen[k]);
        seen[k] = true;
        assert_memory_equal(E.settled[i].hash, blk[k]->hash, 32);
    }
    assert_int_equal(node_mempool_count(&M), 0);
    node_mempool_tx h[4];
    assert_int_equal(node_mempool_head(&M, 4, h), 0);
    uint8_t kid[32];
    assert_int_equal(ldg_key_id(&G, author.pub.alg, author.pub.key, author.pub.len, kid), 0);
    assert_false(node_mempool_pending_nonce(&M, kid, NULL));
}

/* Refused at block building: out of the pool, waiters told the code, remembered. */
static void test_refuse(void **st)
{
    (void)st;
    rawtx a, b;
    pub(&a, 1, 0);
    pub(&b, 2, 1);
    node_mempool_submit(&M, client(1), a.buf, a.len);
    node_mempool_submit(&M, client(2), b.buf, b.len);
    node_mempool_flush(&M);
    node_mempool_wait(&M, client(50), a.hash, 1000);
    node_mempool_wait(&M, client(51), a.hash, 1000);
    uint8_t rh[32];
    raw_hash(&a, rh);
    node_mempool_refuse(&M, rh, LDG_EVERSION);
    node_mempool_refuse(&M, rh, LDG_EVERSION); /* no longer there: nothing happens */
    assert_int_equal(E.n_settled, 2);
    assert_int_equal(E.settled[0].rc, LDG_EVERSION);
    assert_int_equal(E.settled[1].rc, LDG_EVERSION);
    assert_false(node_mempool_holds_raw(&M, rh));
    int code;
    assert_true(node_mempool_rejected(&M, a.hash, &code));
    assert_int_equal(code, LDG_EVERSION);
    node_mempool_tx h[4];
    assert_int_equal(node_mempool_head(&M, 4, h), 1);
    assert_memory_equal(h[0].hash, b.hash, 32);
    assert_int_equal(node_mempool_count(&M), 1);
}

/* Deadlines: pooled and parked waiters expire at their own time, with NODE_ETIMEOUT. */
static void test_expiry(void **st)
{
    (void)st;
    rawtx a, b;
    pub(&a, 1, 0);
    pub(&b, 2, 1);
    node_mempool_submit(&M, client(1), a.buf, a.len);
    node_mempool_flush(&M);
    node_mempool_wait(&M, client(10), a.hash, 100);
    node_mempool_wait(&M, client(11), a.hash, 300);
    node_mempool_wait(&M, client(12), b.hash, 200); /* parked */
    node_mempool_expire(&M, 99);
    assert_int_equal(E.n_settled, 0);
    node_mempool_expire(&M, 100); /* at the deadline */
    assert_int_equal(E.n_settled, 1);
    assert_int_equal(E.settled[0].to.id, 10);
    assert_int_equal(E.settled[0].rc, NODE_ETIMEOUT);
    node_mempool_expire(&M, 250);
    assert_int_equal(E.n_settled, 2);
    assert_int_equal(E.settled[1].to.id, 12);
    assert_memory_equal(E.settled[1].hash, b.hash, 32);
    node_mempool_expire(&M, 1000);
    assert_int_equal(E.n_settled, 3);
    assert_int_equal(E.settled[2].to.id, 11);
    /* b arrives later: no one waits for it any more */
    node_mempool_submit(&M, client(2), b.buf, b.len);
    node_mempool_flush(&M);
    rawtx *blk[] = {&a, &b};
    commit_and_tell(blk, 2);
    assert_int_equal(E.n_settled, 3);
}

/* WaitForTx over all clients is bounded (NODE_MP_WAITERS_MAX); an expired one makes room. */
static void test_waiters_bound(void **st)
{
    (void)st;
    uint8_t h[32] = {0};
    for (uint32_t i = 0; i < NODE_MP_WAITERS_MAX; i++) {
        memcpy(h, &i, sizeof i);
        assert_int_equal(node_mempool_wait(&M, client(i), h, i == 0 ? 10 : 1000), 0);
    }
    h[31] = 1; /* a tx no one waits for yet, and one many wait for: both refused */
    assert_int_equal(node_mempool_wait(&M, client(1), h, 1000), NODE_EBUSY);
    memset(h, 0, sizeof h);
    assert_int_equal(node_mempool_wait(&M, client(2), h, 1000), NODE_EBUSY);
    node_mempool_expire(&M, 10);
    assert_int_equal(E.n_settled, 1);
    assert_int_equal(node_mempool_wait(&M, client(3), h, 1000), 0);
    assert_int_equal(node_mempool_wait(&M, client(4), h, 1000), NODE_EBUSY);
}

/* Stopping: verified txs are not admitted any more. */
static void test_stop(void **st)
{
    (void)st;
    rawtx a;
    pub(&a, 1, 0);
    node_mempool_stop(&M);
    node_mempool_submit(&M, client(1), a.buf, a.len);
    node_mempool_flush(&M);
    assert_int_equal(E.n_submitted, 1);
    assert_int_equal(node_mempool_count(&M), 0);
    assert_int_equal(E.n_admitted, 0);
}

/* Close with txs, waiters (pooled and parked), an unflushed batch and nonces held: no
 * event, nothing leaked (ASAN). */
static void test_close_full(void **st)
{
    (void)st;
    rawtx a, b;
    pub(&a, 1, 0);
    pub(&b, 2, 1);
    node_mempool_submit(&M, client(1), a.buf, a.len);
    node_mempool_flush(&M);
    node_mempool_wait(&M, client(2), a.hash, 1000);
    node_mempool_wait(&M, client(3), b.hash, 1000);
    node_mempool_submit(&M, client(4), b.buf, b.len); /* not flushed */
    size_t settled = E.n_settled, submitted = E.n_submitted;
    node_mempool_close(&M);
    assert_int_equal(E.n_settled, settled);
    assert_int_equal(E.n_submitted, submitted);
    pool_open(100); /* for the teardown's close */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, mp_setup, mp_teardown)
        T(test_init_args),
        T(test_admission_order),
        T(test_admission_rules),
        T(test_unparsed),
        T(test_bounds),
        T(test_batches),
        T(test_waiters_commit),
        T(test_refuse),
        T(test_expiry),
        T(test_waiters_bound),
        T(test_stop),
        T(test_close_full),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
