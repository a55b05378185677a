/* The authenticated state (issue 11): the streamed root against a plain recursive
 * definition, the store's tree against its tables after every block, and range proofs:
 * honest ones verify, altered ones do not. */
#include <lmdb.h>
#include <pb_decode.h>

#include "tests/ledger/store_helpers.h"

/* --- the definition, written the slow obvious way --- */

typedef struct {
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t len;
    uint8_t v[LDG_DIGEST_LEN];
} kv;

static int bit_at(const uint8_t *k, size_t i) { return k[i / 8] >> (7 - i % 8) & 1; }

static void ref_hash(uint32_t alg, const kv *set, size_t n, uint8_t out[LDG_DIGEST_LEN])
{
    if (n == 1) {
        assert_int_equal(ldg_state_leaf_hash(alg, set[0].k, set[0].len, set[0].v, out), 0);
        return;
    }
    size_t b = 0; /* the first bit where the first and last keys differ */
    while (bit_at(set[0].k, b) == bit_at(set[n - 1].k, b))
        b++;
    size_t split = 0;
    while (!bit_at(set[split].k, b))
        split++;
    uint8_t h0[LDG_DIGEST_LEN], h1[LDG_DIGEST_LEN];
    ref_hash(alg, set, split, h0);
    ref_hash(alg, set + split, n - split, h1);
    assert_int_equal(ldg_state_node_hash(alg, b, set[0].k, h0, h1, out), 0);
}

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* n prefix-free keys: a tag, a short name with its NUL, 4 random bytes. */
static void random_set(kv *set, size_t n, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        kv *e = &set[i];
    again:
        e->k[0] = "abhr"[rand() % 4];
        size_t nl = 1 + rand() % 6;
        for (size_t j = 0; j < nl; j++)
            e->k[1 + j] = (uint8_t)('a' + rand() % 3);
        e->k[1 + nl] = 0;
        for (size_t j = 0; j < 4; j++)
            e->k[2 + nl + j] = (uint8_t)rand();
        e->len = 6 + nl;
        for (size_t j = 0; j < i; j++)
            if (!kv_cmp(&set[j], e))
                goto again;
        for (size_t j = 0; j < LDG_DIGEST_LEN; j++)
            e->v[j] = (uint8_t)rand();
    }
    qsort(set, n, sizeof *set, kv_cmp);
}

static void test_builder_matches_definition(void **st)
{
    (void)st;
    static kv set[300];
    uint32_t algs[] = {LDG_HASH_SHA256, LDG_HASH_SHA3_256};
    for (size_t a = 0; a < 2; a++)
        for (unsigned seed = 1; seed <= 40; seed++) {
            size_t n = 1 + (seed * 37) % 300;
            random_set(set, n, seed);
            ldg_state_builder *b;
            uint8_t got[LDG_DIGEST_LEN], want[LDG_DIGEST_LEN];
            assert_int_equal(ldg_state_builder_new(algs[a], &b), 0);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(ldg_state_builder_add(b, set[i].k, set[i].len, set[i].v), 0);
            assert_int_equal(ldg_state_builder_root(b, got), 0);
            ldg_state_builder_free(b);
            ref_hash(algs[a], set, n, want);
            assert_memory_equal(got, want, LDG_DIGEST_LEN);
        }
    /* Out of order, repeated, or one key a prefix of the next: refused. */
    ldg_state_builder *b;
    uint8_t v[LDG_DIGEST_LEN] = {0};
    assert_int_equal(ldg_state_builder_new(LDG_HASH_SHA256, &b), 0);
    assert_int_equal(ldg_state_builder_add(b, (const uint8_t *)"b1", 2, v), 0);
    assert_int_equal(ldg_state_builder_add(b, (const uint8_t *)"a1", 2, v), LDG_EINVALID);
    assert_int_equal(ldg_state_builder_add(b, (const uint8_t *)"b1", 2, v), LDG_EINVALID);
    assert_int_equal(ldg_state_builder_add(b, (const uint8_t *)"b12", 3, v), LDG_EINVALID);
    ldg_state_builder_free(b);
}

/* --- the store's tree --- */

static void commit_block(rawtx *const *txs, size_t n)
{
    int res[16];
    uint8_t *blk;
    size_t len;
    make_block(txs, n, res, &blk, &len);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(res[i], 0);
    assert_int_equal(ldg_store_commit_built(S, blk, len), 0);
    /* The header names the state the block left; the tables agree with the tree. */
    ldg_block b;
    uint8_t root[LDG_DIGEST_LEN], stored[LDG_DIGEST_LEN], computed[LDG_DIGEST_LEN];
    assert_int_equal(ldg_block_decode(blk, len, &b), 0);
    assert_int_equal(ldg_store_state_root(S, root), 0);
    assert_true(b.hdr.has_state_root);
    assert_memory_equal(b.hdr.state_root.digest.bytes, root, LDG_DIGEST_LEN);
    assert_int_equal(ldg_store_verify_state(S, stored, computed), 0);
    assert_memory_equal(stored, root, LDG_DIGEST_LEN);
    ldg_block_free(&b);
    free(blk);
}

static const char *const models[] = {"cam-v1", "cam-v2", "cam-v20", "door"};

/* 48 releases over four models (three whose names share a prefix), some revoked, an author
 * added and removed: after each block the tree matches its tables. */
static void fill(void)
{
    uint64_t nonce = 1;
    for (int blk = 0; blk < 6; blk++) {
        rawtx t[8], *p[8];
        for (int i = 0; i < 8; i++) {
            int n = blk * 8 + i;
            char ver[16];
            snprintf(ver, sizeof ver, "1.%d.0", n);
            publish_tx(&t[i], &author, nonce++, "cam-fw", ver, (uint64_t)n + 1,
                       (uint8_t)(0x10 + n), models[n % 4]);
            p[i] = &t[i];
        }
        commit_block(p, 8);
    }
    rawtx r[3], *p[3] = {&r[0], &r[1], &r[2]};
    revoke_tx(&r[0], &author, nonce++, 0x11);
    revoke_tx(&r[1], &author, nonce++, 0x15);
    author_tx(&r[2], &admin, 1, fwl_AuthorOp_AUTHOR_ADD, "door-fw", &other);
    commit_block(p, 3);
    author_tx(&r[0], &admin, 2, fwl_AuthorOp_AUTHOR_REMOVE, "door-fw", &other);
    commit_block(p, 1);
}

static void test_tree_follows_tables(void **st)
{
    (void)st;
    uint8_t empty[LDG_DIGEST_LEN], root[LDG_DIGEST_LEN];
    assert_int_equal(ldg_store_state_root(S, root), 0);
    assert_int_equal(ldg_state_empty_hash(G.hash_alg, empty), 0);
    assert_memory_not_equal(root, empty, LDG_DIGEST_LEN); /* the genesis author */
    fill();
    /* Reopened, the tree is still there and still agrees. */
    ldg_store_close(S);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    uint8_t stored[LDG_DIGEST_LEN], computed[LDG_DIGEST_LEN];
    assert_int_equal(ldg_store_verify_state(S, stored, computed), 0);
    /* A record changed behind the tree's back (a disk edit, a bug): the check says so. */
    ldg_store_close(S);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "releases", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 1] ^= 1;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    assert_int_equal(ldg_store_verify_state(S, stored, computed), LDG_EPROOF);
    assert_memory_not_equal(stored, computed, LDG_DIGEST_LEN);
}

/* The prefix of a model's candidates: 'h' model NUL. */
static size_t lines_prefix(uint8_t *p, const char *model)
{
    p[0] = 'h';
    memcpy(p + 1, model, strlen(model) + 1);
    return strlen(model) + 2;
}

/* p through its wire form: encoded as a field, that field's bytes decoded into d. */
static int wire_round_trip(const uint8_t *prefix, size_t pl, const ldg_state_proof *p,
                           ldg_state_proof_dec *d)
{
    static uint8_t wire[2 * LDG_STATE_VALUE_MAX + (1 << 20)];
    pb_ostream_t os = pb_ostream_from_buffer(wire, sizeof wire);
    assert_int_equal(ldg_state_proof_encode(&os, 1, prefix, pl, p), 0);
    pb_istream_t is = pb_istream_from_buffer(wire, os.bytes_written);
    uint32_t tag;
    pb_wire_type_t wt;
    bool eof;
    uint64_t n;
    assert_true(pb_decode_tag(&is, &wt, &tag, &eof) && tag == 1 && pb_decode_varint(&is, &n));
    return ldg_state_proof_decode(G.hash_alg ? G.hash_alg : LDG_HASH_SHA256,
                                  wire + (os.bytes_written - n), n, d);
}

static void prove(const uint8_t *prefix, size_t pl, ldg_state_proof_buf *b, size_t want)
{
    uint8_t root[LDG_DIGEST_LEN];
    assert_int_equal(ldg_store_state_root(S, root), 0);
    assert_int_equal(ldg_store_prove(S, prefix, pl, 4096, b), 0);
    assert_int_equal(b->p.n_leaves, want);
    assert_int_equal(ldg_state_verify(G.hash_alg, root, prefix, pl, &b->p), 0);
    /* Each leaf comes with the record it hashes. */
    for (size_t i = 0; i < b->p.n_leaves; i++) {
        uint8_t h[LDG_HASH_MAX];
        size_t hl;
        const uint8_t *parts[1] = {b->p.leaves[i].value};
        assert_int_equal(ldg_hash(G.hash_alg, parts, &b->p.leaves[i].value_len, 1, h, &hl), 0);
        assert_memory_equal(h, b->p.leaves[i].vhash, LDG_DIGEST_LEN);
    }
    /* Through the wire form and back, it still verifies. */
    ldg_state_proof_dec d;
    assert_int_equal(wire_round_trip(prefix, pl, &b->p, &d), 0);
    assert_int_equal(d.prefix_len, pl);
    assert_memory_equal(d.prefix, prefix, pl);
    assert_int_equal(d.p.n_leaves, want);
    assert_int_equal(d.p.n_steps, b->p.n_steps);
    assert_int_equal(ldg_state_verify(G.hash_alg, root, d.prefix, d.prefix_len, &d.p), 0);
    ldg_state_proof_dec_free(&d);
}

static void test_range_proofs(void **st)
{
    (void)st;
    fill();
    uint8_t root[LDG_DIGEST_LEN], p[LDG_STATE_KEY_MAX];
    assert_int_equal(ldg_store_state_root(S, root), 0);
    ldg_state_proof_buf b;
    /* Each model's twelve candidates, and only those ("cam-v2" is not "cam-v20"). */
    for (size_t m = 0; m < 4; m++) {
        size_t pl = lines_prefix(p, models[m]);
        prove(p, pl, &b, 12);
        for (size_t i = 0; i < b.p.n_leaves; i++)
            assert_memory_equal(b.p.leaves[i].key, p, pl);
        assert_true(b.p.n_steps > 0);
        ldg_state_proof_buf_free(&b);
    }
    /* One release; a release that is not there; a model nobody lists; a whole table. */
    uint8_t fk[1 + 4 + 32] = {'r', 0, 0, 0, LDG_HASH_SHA256};
    memset(fk + 5, 0x13, 32);
    prove(fk, sizeof fk, &b, 1);
    ldg_state_proof_buf_free(&b);
    memset(fk + 5, 0x99, 32);
    prove(fk, sizeof fk, &b, 0);
    assert_int_not_equal(b.p.witness, LDG_STATE_RANGE);
    ldg_state_proof_buf_free(&b);
    prove(p, lines_prefix(p, "cam-v3"), &b, 0);
    ldg_state_proof_buf_free(&b);
    prove(p, lines_prefix(p, "cam"), &b, 0); /* "cam" NUL: no such model */
    ldg_state_proof_buf_free(&b);
    prove((const uint8_t *)"r", 1, &b, 48);
    ldg_state_proof_buf_free(&b);
    /* Bounded. */
    assert_int_equal(ldg_store_prove(S, (const uint8_t *)"r", 1, 10, &b), LDG_ETOOBIG);
}

static void test_altered_proofs_fail(void **st)
{
    (void)st;
    fill();
    uint8_t root[LDG_DIGEST_LEN], p[LDG_STATE_KEY_MAX];
    assert_int_equal(ldg_store_state_root(S, root), 0);
    size_t pl = lines_prefix(p, "cam-v2");
    ldg_state_proof_buf b;
    prove(p, pl, &b, 12);
    ldg_state_proof q = b.p;
    /* A candidate dropped (the last, then the first): not the subtree. */
    q.n_leaves = 11;
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), 0);
    q.leaves = b.p.leaves + 1;
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), 0);
    /* A record changed (its revocation hidden): another value hash. */
    q = b.p;
    b.leaves[3].vhash[0] ^= 1;
    assert_int_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), LDG_EPROOF);
    b.leaves[3].vhash[0] ^= 1;
    /* A sibling changed; a step dropped; the proof of another model for this one. */
    b.steps[0].sibling[5] ^= 0x40;
    assert_int_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), LDG_EPROOF);
    b.steps[0].sibling[5] ^= 0x40;
    q.steps = b.p.steps + 1;
    q.n_steps--;
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), 0);
    q = b.p;
    uint8_t p2[LDG_STATE_KEY_MAX];
    size_t pl2 = lines_prefix(p2, "cam-v1");
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, p2, pl2, &q), 0);
    /* An empty range claimed for a model that has candidates. */
    q.n_leaves = 0;
    q.witness = LDG_STATE_EMPTY;
    q.n_steps = 0;
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, p, pl, &q), 0);
    assert_int_equal(ldg_state_verify(G.hash_alg, root, p, pl, &b.p), 0);
    ldg_state_proof_buf_free(&b);
    /* Absence claimed for a release that is there, with the witness of another. */
    uint8_t fk[1 + 4 + 32] = {'r', 0, 0, 0, LDG_HASH_SHA256};
    memset(fk + 5, 0x99, 32);
    prove(fk, sizeof fk, &b, 0);
    memset(fk + 5, 0x13, 32);
    assert_int_not_equal(ldg_state_verify(G.hash_alg, root, fk, sizeof fk, &b.p), 0);
    ldg_state_proof_buf_free(&b);
}

/* fwl.StateProof from a lying node (fuzz_verify's findings): a key or value that nanopb hands
 * over from a copy on its stack (a scalar wire type where bytes belong) is not borrowed, and
 * a witness digest longer than a digest is refused, whatever the witness (it was copied over
 * the decoder's own array pointers, which ldg_state_proof_dec_free then freed). */
static void test_wire_refusals(void **st)
{
    (void)st;
    ldg_state_proof_dec d;
    /* prefix "r", one leaf: key "r", value "AAA" */
    static const uint8_t good[] = {0x0a, 0x01, 'r', 0x1a, 0x08, 0x0a, 0x01, 'r', 0x12, 0x03, 'A', 'A', 'A'};
    assert_int_equal(ldg_state_proof_decode(LDG_HASH_SHA256, good, sizeof good, &d), 0);
    assert_ptr_equal(d.p.leaves[0].key, good + 7);
    assert_ptr_equal(d.p.leaves[0].value, good + 10);
    ldg_state_proof_dec_free(&d);
    /* the same leaf as a fixed64 field (wire type 1): its 8 bytes come from nanopb's stack */
    static const uint8_t leaf64[] = {0x0a, 0x01, 'r', 0x19, 0x0a, 0x01, 'r', 0x12, 0x03, 'A', 'A', 'A'};
    assert_int_equal(ldg_state_proof_decode(LDG_HASH_SHA256, leaf64, sizeof leaf64, &d), LDG_EMALFORMED);
    assert_null(d.steps);
    assert_null(d.leaves);
    /* a value as a varint (wire type 0) */
    static const uint8_t value0[] = {0x0a, 0x01, 'r', 0x1a, 0x05, 0x0a, 0x01, 'r', 0x10, 0x05};
    assert_int_equal(ldg_state_proof_decode(LDG_HASH_SHA256, value0, sizeof value0, &d), LDG_EMALFORMED);
    /* witness_value_hash (10), witness_left (7), witness_right (8) of 64 bytes, witness 0 */
    for (uint8_t field = 7; field <= 10; field += field == 8 ? 2 : 1) {
        uint8_t w[5 + 64] = {0x0a, 0x01, 'r', (uint8_t)(field << 3 | 2), 64};
        memset(w + 5, 0x11, 64);
        assert_int_equal(ldg_state_proof_decode(LDG_HASH_SHA256, w, sizeof w, &d), LDG_EMALFORMED);
        w[4] = 32; /* a digest's length is accepted where it is not used */
        assert_int_equal(ldg_state_proof_decode(LDG_HASH_SHA256, w, 5 + 32, &d), 0);
        ldg_state_proof_dec_free(&d);
    }
    /* The bounds: a value of LDG_STATE_VALUE_MAX bytes decodes, one more does not; at most
     * LDG_STATE_STEPS_MAX steps (ETOOBIG past them). */
    static uint8_t val[LDG_STATE_VALUE_MAX + 1];
    static ldg_state_step steps[LDG_STATE_STEPS_MAX + 1];
    ldg_state_leaf leaf = {(const uint8_t *)"r", 1, {0}, val, 0};
    ldg_state_proof one = {.leaves = &leaf, .n_leaves = 1};
    ldg_state_proof path = {.steps = steps, .witness = LDG_STATE_EMPTY};
    for (size_t over = 0; over < 2; over++) {
        leaf.value_len = LDG_STATE_VALUE_MAX + over;
        assert_int_equal(wire_round_trip((const uint8_t *)"r", 1, &one, &d),
                         over ? LDG_EMALFORMED : 0);
        ldg_state_proof_dec_free(&d);
        path.n_steps = LDG_STATE_STEPS_MAX + over;
        assert_int_equal(wire_round_trip((const uint8_t *)"r", 1, &path, &d),
                         over ? LDG_ETOOBIG : 0);
        ldg_state_proof_dec_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_matches_definition),
        cmocka_unit_test_setup_teardown(test_tree_follows_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered_proofs_fail, setup, teardown),
        cmocka_unit_test(test_wire_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
