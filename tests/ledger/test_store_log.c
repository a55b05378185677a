/*
 * The release log in the store (issue 11; ledger/store_log.c): after every block the header's
 * log_size and log_root are the RFC 9162 root of the expected leaves, one per publish and per
 * revocation in chain order, each H(0x00 || the record's bytes as that transaction stored
 * them); the store's inclusion and consistency proofs verify against those headers; a block
 * whose log fields disagree is refused; and a failure at any write of a block leaves the log
 * as it was.
 */
#include <pb_decode.h>

#include "ledger/store_internal.h"
#include "tests/ledger/store_helpers.h"

#define FILE_A 0x10
#define FILE_B 0x11
#define FILE_C 0x12

/* The leaf of the release with file byte fb as stored now; unrevoke: as its publish stored
 * it, i.e. the record without the fields a revocation sets (nanopb's encoding of the same
 * struct is the same bytes). */
static void leaf_of(uint8_t fb, bool unrevoke, uint8_t out[LDG_DIGEST_LEN])
{
    static fwl_ReleaseRecord rec;
    uint8_t buf[fwl_ReleaseRecord_size], d[32];
    size_t n;
    uint64_t at;
    memset(d, fb, sizeof d);
    assert_int_equal(ldg_store_release_raw(S, LDG_HASH_SHA256, d, 32, buf, sizeof buf, &n, &at), 0);
    if (unrevoke) {
        pb_istream_t is = pb_istream_from_buffer(buf, n);
        memset(&rec, 0, sizeof rec);
        assert_true(pb_decode(&is, fwl_ReleaseRecord_fields, &rec));
        assert_true(rec.revoked);
        rec.revoked = false;
        rec.revoke_reason = 0;
        rec.revoke_note[0] = 0;
        rec.revoked_height = 0;
        pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
        assert_true(pb_encode(&os, fwl_ReleaseRecord_fields, &rec));
        n = os.bytes_written;
    }
    assert_int_equal(ldg_merkle_leaf(G.hash_alg, buf, n, out), 0);
}

/* The log fields of the header at height. */
static void header_log(uint64_t height, uint64_t *size, uint8_t root[LDG_DIGEST_LEN])
{
    ldg_block b;
    assert_int_equal(ldg_store_block_cert(S, height, &b), 0);
    assert_true(b.hdr.has_log_root);
    assert_int_equal(b.hdr.log_root.alg, G.hash_alg);
    assert_int_equal(b.hdr.log_root.digest.size, LDG_DIGEST_LEN);
    *size = b.hdr.log_size;
    memcpy(root, b.hdr.log_root.digest.bytes, LDG_DIGEST_LEN);
    ldg_block_free(&b);
}

/* The tip's header names the log of exactly these leaves, and so does the store. */
static void expect_log(const uint8_t *leaves, size_t n, uint64_t *size, uint8_t *root)
{
    ldg_tip t;
    uint8_t want[LDG_DIGEST_LEN], stored[LDG_DIGEST_LEN];
    uint64_t ssize;
    ldg_store_tip(S, &t);
    header_log(t.height, size, root);
    assert_int_equal(*size, n);
    assert_int_equal(ldg_merkle_root(G.hash_alg, leaves, n, want), 0);
    assert_memory_equal(root, want, LDG_DIGEST_LEN);
    assert_int_equal(ldg_store_log_head(S, &ssize, stored), 0);
    assert_int_equal(ssize, n);
    assert_memory_equal(stored, want, LDG_DIGEST_LEN);
}

static void expect_leaves(uint8_t fb, uint64_t published, uint64_t revoked)
{
    uint8_t d[32];
    uint64_t p, r;
    memset(d, fb, sizeof d);
    assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, 32, &p, &r), 0);
    assert_int_equal(p, published);
    assert_int_equal(r, revoked);
}

/* Every proof the store gives between the heads seen verifies against those heads. */
static void check_proofs(const uint8_t *leaves, const uint64_t *sizes,
                         const uint8_t (*roots)[LDG_DIGEST_LEN], size_t heads)
{
    uint8_t path[LDG_LOG_PROOF_MAX * LDG_DIGEST_LEN];
    size_t n;
    for (size_t j = 0; j < heads; j++) {
        for (uint64_t k = 0; k < sizes[j]; k++) {
            assert_int_equal(ldg_store_log_inclusion(S, k, sizes[j], path, LDG_LOG_PROOF_MAX, &n), 0);
            assert_int_equal(ldg_log_verify_inclusion(G.hash_alg, leaves + k * LDG_DIGEST_LEN, k,
                                                      sizes[j], path, n, roots[j]), 0);
        }
        for (size_t i = 0; i <= j; i++) {
            if (!sizes[i])
                continue;
            assert_int_equal(ldg_store_log_consistency(S, sizes[i], sizes[j], path,
                                                       LDG_LOG_PROOF_MAX, &n), 0);
            assert_int_equal(ldg_log_verify_consistency(G.hash_alg, sizes[i], sizes[j], roots[i],
                                                        roots[j], path, n), 0);
        }
    }
}

/* Publishes and revocations, one block after another (a revocation in the block of another
 * publish, a release published and revoked in one block, a block with no release tx): the
 * header of each names the log of the expected leaves. */
static void test_header_names_the_log(void **st)
{
    (void)st;
    uint8_t leaves[8 * LDG_DIGEST_LEN], roots[5][LDG_DIGEST_LEN];
    uint64_t sizes[5];
    rawtx a, b, c, d, e;

    /* Before any release: the empty log, H(""). */
    uint8_t *blk;
    size_t len;
    int none[1];
    make_block(NULL, 0, none, &blk, &len);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    free(blk);
    expect_log(leaves, 0, &sizes[0], roots[0]);

    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    leaf_of(FILE_A, false, leaves);
    expect_log(leaves, 1, &sizes[1], roots[1]);

    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, FILE_B, "cam-v2");
    revoke_tx(&c, &author, 3, FILE_A);
    rawtx *two[] = {&b, &c};
    assert_int_equal(commit(two, 2, NULL), 0);
    leaf_of(FILE_B, false, leaves + 1 * LDG_DIGEST_LEN);
    leaf_of(FILE_A, false, leaves + 2 * LDG_DIGEST_LEN); /* its revoked record */
    expect_log(leaves, 3, &sizes[2], roots[2]);

    author_tx(&d, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, "door-fw", &other);
    assert_int_equal(commit1(&d), 0);
    expect_log(leaves, 3, &sizes[3], roots[3]);

    publish_tx(&d, &author, 4, "cam-fw", "1.2.0", 3, FILE_C, "cam-v3");
    revoke_tx(&e, &author, 5, FILE_C);
    rawtx *same[] = {&d, &e};
    assert_int_equal(commit(same, 2, NULL), 0);
    leaf_of(FILE_C, true, leaves + 3 * LDG_DIGEST_LEN);
    leaf_of(FILE_C, false, leaves + 4 * LDG_DIGEST_LEN);
    expect_log(leaves, 5, &sizes[4], roots[4]);

    expect_leaves(FILE_A, 0, 2);
    expect_leaves(FILE_B, 1, LDG_LOG_NONE);
    expect_leaves(FILE_C, 3, 4);
    check_proofs(leaves, sizes, (const uint8_t(*)[LDG_DIGEST_LEN])roots, 5);

    /* The log is read back from disk. */
    ldg_store_close(S);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    expect_log(leaves, 5, &sizes[4], roots[4]);
    check_proofs(leaves, sizes, (const uint8_t(*)[LDG_DIGEST_LEN])roots, 5);
}

/* The header of blk with its log fields changed by fn, sealed again over t. */
static void tampered(const uint8_t *blk, size_t len, const rawtx *t,
                     void (*fn)(fwl_BlockHeader *), uint8_t **out, size_t *out_len)
{
    ldg_block b;
    uint8_t hdr[LDG_HEADER_MAX];
    assert_int_equal(ldg_block_decode(blk, len, &b), 0);
    fn(&b.hdr);
    pb_ostream_t os = pb_ostream_from_buffer(hdr, sizeof hdr);
    assert_true(pb_encode(&os, fwl_BlockHeader_fields, &b.hdr));
    ldg_block_free(&b);
    seal_block(hdr, os.bytes_written, t, out, out_len);
}

static void flip_root(fwl_BlockHeader *h) { h->log_root.digest.bytes[7] ^= 0x04; }
static void grow_size(fwl_BlockHeader *h) { h->log_size++; }
static void no_root(fwl_BlockHeader *h) { h->has_log_root = false; }
static void other_alg(fwl_BlockHeader *h) { h->log_root.alg = LDG_HASH_SHA3_256; }
static void empty_log(fwl_BlockHeader *h)
{
    /* The header of a block that appends nothing: what a proposer hiding t's leaf writes. */
    uint8_t root[LDG_DIGEST_LEN];
    assert_int_equal(ldg_merkle_root(G.hash_alg, NULL, 0, root), 0);
    h->log_size = 0;
    memcpy(h->log_root.digest.bytes, root, LDG_DIGEST_LEN);
}

static void test_wrong_log_refused(void **st)
{
    (void)st;
    rawtx a;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    rawtx *txs[] = {&a};
    int res[1];
    uint8_t *blk, *bad, hash[LDG_DIGEST_LEN], root0[LDG_DIGEST_LEN], root[LDG_DIGEST_LEN];
    size_t len, bl;
    uint64_t size;
    make_block(txs, 1, res, &blk, &len);
    ldg_store_abort_built(S);
    assert_int_equal(ldg_store_log_head(S, &size, root0), 0);
    void (*const fns[])(fwl_BlockHeader *) = {flip_root, grow_size, no_root, other_alg, empty_log};
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        tampered(blk, len, &a, fns[i], &bad, &bl);
        assert_int_equal(ldg_store_apply_block(S, bad, bl, NULL), LDG_EBLOCK);
        assert_int_equal(ldg_store_stage_block(S, bad, bl, NULL, hash), LDG_EBLOCK);
        free(bad);
        /* Nothing was written: no leaf, and the release is not there. */
        assert_int_equal(ldg_store_log_head(S, &size, root), 0);
        assert_int_equal(size, 0);
        assert_memory_equal(root, root0, LDG_DIGEST_LEN);
        assert_int_equal(release_exists(FILE_A, NULL), LDG_ENOTFOUND);
    }
    /* The honest block applies. */
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    free(blk);
    assert_int_equal(ldg_store_log_head(S, &size, root), 0);
    assert_int_equal(size, 1);
}

/* A block of two publishes and a revocation, failed at every write in turn, over a log that
 * already holds a leaf: the log stays as it was until the block applies whole. */
static void test_log_atomic(void **st)
{
    (void)st;
    rawtx a, b, c, r;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    uint8_t leaves[4 * LDG_DIGEST_LEN], root0[LDG_DIGEST_LEN], root[LDG_DIGEST_LEN];
    uint64_t size;
    leaf_of(FILE_A, false, leaves);
    assert_int_equal(ldg_store_log_head(S, &size, root0), 0);

    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, FILE_B, "cam-v2");
    publish_tx(&c, &author, 3, "cam-fw", "1.2.0", 3, FILE_C, "cam-v2");
    revoke_tx(&r, &author, 4, FILE_A);
    rawtx *txs[] = {&b, &c, &r};
    int res[3];
    uint8_t *blk, d[32];
    size_t len;
    uint64_t p, q;
    make_block(txs, 3, res, &blk, &len);
    ldg_store_abort_built(S);
    long k = 0;
    for (;; k++) {
        ldg_store_fail_after(S, k);
        int rc = ldg_store_apply_block(S, blk, len, NULL);
        if (rc == 0)
            break; /* k is past the block's last write */
        assert_int_equal(rc, LDG_ESTORE);
        assert_int_equal(ldg_store_log_head(S, &size, root), 0);
        assert_int_equal(size, 1);
        assert_memory_equal(root, root0, LDG_DIGEST_LEN);
        memset(d, FILE_B, sizeof d);
        assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, 32, &p, &q), LDG_ENOTFOUND);
        expect_leaves(FILE_A, 0, LDG_LOG_NONE);
    }
    ldg_store_fail_after(S, -1);
    /* Each release tx writes at least four log entries (a leaf, log_idx, log_size, and the
     * subtrees its leaf completes): the failures above went through all of them. */
    assert_true(k > 3 * 4);
    leaf_of(FILE_B, false, leaves + 1 * LDG_DIGEST_LEN);
    leaf_of(FILE_C, false, leaves + 2 * LDG_DIGEST_LEN);
    leaf_of(FILE_A, false, leaves + 3 * LDG_DIGEST_LEN);
    uint8_t hroot[LDG_DIGEST_LEN];
    expect_log(leaves, 4, &size, hroot);
    expect_leaves(FILE_A, 0, 3);
    expect_leaves(FILE_C, 2, LDG_LOG_NONE);
    free(blk);
}

/* A store written before the log: a release without its log_idx entry is revoked; the
 * revocation's leaf is recorded, its publish's is not known. */
static void test_revoke_from_before_the_log(void **st)
{
    (void)st;
    rawtx a, r;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    MDB_txn *txn;
    uint8_t fk[36] = {0, 0, 0, LDG_HASH_SHA256};
    memset(fk + 4, FILE_A, 32);
    MDB_val mk = {sizeof fk, fk};
    assert_int_equal(mdb_txn_begin(S->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_del(txn, S->db[DB_LOG_IDX], &mk, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    uint8_t d[32];
    uint64_t p, q;
    memset(d, FILE_A, sizeof d);
    assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, 32, &p, &q), LDG_ENOTFOUND);
    revoke_tx(&r, &author, 2, FILE_A);
    assert_int_equal(commit1(&r), 0);
    expect_leaves(FILE_A, LDG_LOG_NONE, 1);
}

/* The read API refuses what is not in the log. */
static void test_log_reads_bounded(void **st)
{
    (void)st;
    rawtx a, b;
    uint8_t path[LDG_LOG_PROOF_MAX * LDG_DIGEST_LEN], d[LDG_HASH_MAX + 1];
    size_t n = 7;
    uint64_t p, q;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, FILE_B, "cam-v2");
    rawtx *txs[] = {&a, &b};
    assert_int_equal(commit(txs, 2, NULL), 0);
    assert_int_equal(ldg_store_log_inclusion(S, 0, 3, path, LDG_LOG_PROOF_MAX, &n), LDG_EINVALID);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_store_log_inclusion(S, 2, 2, path, LDG_LOG_PROOF_MAX, &n), LDG_EINVALID);
    assert_int_equal(ldg_store_log_inclusion(S, 0, 2, path, 0, &n), LDG_ETOOBIG);
    assert_int_equal(ldg_store_log_inclusion(S, 1, 2, path, LDG_LOG_PROOF_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ldg_store_log_consistency(S, 0, 2, path, LDG_LOG_PROOF_MAX, &n), LDG_EINVALID);
    assert_int_equal(ldg_store_log_consistency(S, 2, 1, path, LDG_LOG_PROOF_MAX, &n), LDG_EINVALID);
    assert_int_equal(ldg_store_log_consistency(S, 1, 3, path, LDG_LOG_PROOF_MAX, &n), LDG_EINVALID);
    assert_int_equal(ldg_store_log_consistency(S, 2, 2, path, LDG_LOG_PROOF_MAX, &n), 0);
    assert_int_equal(n, 0);
    memset(d, 0x77, sizeof d);
    assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, 32, &p, &q), LDG_ENOTFOUND);
    assert_int_equal(p, LDG_LOG_NONE);
    assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, sizeof d, &p, &q), LDG_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_names_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_log_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_from_before_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_reads_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
