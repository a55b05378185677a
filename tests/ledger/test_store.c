/*
 * The stateful rules and the store: every rule accepted and refused, block checks, and
 * atomicity (a failure while applying a block leaves the previous state whole).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pb_encode.h>

#include "ledger/ledger.h"
#include "tests/ledger/raw_tx.h"
#include "tests/ledger/store_helpers.h"

/* --- tests --- */

static void test_publish_and_read_back(void **st)
{
    (void)st;
    rawtx t;
    static fwl_ReleaseRecord rec;
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0xaa, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(release_exists(0xaa, &rec), 0);
    assert_string_equal(rec.release.product, "cam-fw");
    assert_string_equal(rec.release.version, "1.0.0");
    assert_string_equal(rec.release.provider, "Acme Corp");
    assert_string_equal(rec.release.hardware[0].model, "cam-v2");
    assert_int_equal(rec.release.hardware[0].rev_min, 2);
    assert_int_equal(rec.release.hardware[0].rev_max, 5);
    assert_string_equal(rec.release.hardware[0].required_addons[0], "lora");
    assert_string_equal(rec.release.dependencies[0].constraint, ">=2.1.0,<3");
    assert_int_equal(rec.release.file_size, 123456);
    assert_int_equal(rec.height, 1);
    assert_memory_equal(rec.tx_hash.bytes, t.hash, 32);
    assert_false(rec.revoked);
    ldg_tip tip;
    ldg_store_tip(S, &tip);
    assert_int_equal(tip.height, 1);
    assert_int_equal(tip.releases, 1);
    uint64_t h;
    uint32_t idx;
    uint8_t bh[32];
    assert_int_equal(ldg_store_tx_location(S, t.hash, &h, &idx, bh), 0);
    assert_int_equal(h, 1);
    assert_memory_equal(bh, tip.hash, 32);
    uint64_t nonce;
    assert_int_equal(ldg_store_nonce(S, author.pub.alg, author.pub.key, author.pub.len, &nonce), 0);
    assert_int_equal(nonce, 1);
}

static int count_cb(void *ctx, const fwl_ReleaseRecord *rec)
{
    (void)rec;
    (*(int *)ctx)++;
    return 0;
}

static void test_list_filters_and_pages(void **st)
{
    (void)st;
    rawtx a, b, c, d;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0x01, "cam-v1");
    publish_tx(&b, &author, 2, "cam-fw", "1.0.0", 1, 0x02, "cam-v2");
    publish_tx(&c, &author, 3, "cam-fw", "1.1.0", 2, 0x03, "cam-v2");
    publish_tx(&d, &author, 4, "cam-fw", "1.2.0", 3, 0x04, "cam-v2");
    rawtx *txs[] = {&a, &b, &c, &d};
    int res[4];
    assert_int_equal(commit(txs, 4, res), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(res[i], 0);
    uint8_t next[LDG_CURSOR_MAX];
    size_t nl;
    uint64_t at;
    int n = 0;
    assert_int_equal(ldg_store_list_releases(S, "cam-fw", "", 0, NULL, 0, count_cb, &n, next, &nl, &at), 0);
    assert_int_equal(n, 4);
    assert_int_equal(nl, 0);
    n = 0;
    assert_int_equal(ldg_store_list_releases(S, "", "cam-v2", 0, NULL, 0, count_cb, &n, next, &nl, &at), 0);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(ldg_store_list_releases(S, "cam-fw", "cam-v1", 0, NULL, 0, count_cb, &n, next, &nl, &at), 0);
    assert_int_equal(n, 1);
    /* Paging: 3 pages of at most 2 over the 4, following the cursor. */
    int total = 0, pages = 0;
    uint8_t cur[LDG_CURSOR_MAX];
    size_t cl = 0;
    do {
        n = 0;
        assert_int_equal(ldg_store_list_releases(S, "", "", 2, cur, cl, count_cb, &n, next, &nl, &at), 0);
        total += n;
        pages++;
        memcpy(cur, next, nl);
        cl = nl;
    } while (cl);
    assert_int_equal(total, 4);
    assert_true(pages >= 2);
    /* A cursor from another query is refused. */
    n = 0;
    assert_int_equal(ldg_store_list_releases(S, "", "", 2, NULL, 0, count_cb, &n, next, &nl, &at), 0);
    assert_int_equal(ldg_store_list_releases(S, "cam-fw", "", 2, next, nl, count_cb, &n, next, &nl, &at),
                     LDG_EINVALID);
}

static void test_unauthorised_author(void **st)
{
    (void)st;
    rawtx t;
    publish_tx(&t, &other, 1, "cam-fw", "1.0.0", 1, 0xbb, "cam-v2");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    /* The author is registered for cam-fw only. */
    publish_tx(&t, &author, 1, "door-fw", "1.0.0", 1, 0xbb, "door-v1");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    assert_int_equal(release_exists(0xbb, NULL), LDG_ENOTFOUND);
}

/* published_at at most a day after the block's time (LDG_PUBLISHED_AHEAD_MAX_S): a day is
 * fine, a second more is refused naming the field; admission (ldg_store_check_tx, at the
 * tip's time, which may be old) leaves the rule to the block. */
static void test_published_at_bound(void **st)
{
    (void)st;
    rawtx t;
    const key *ks[] = {&author};
    uint64_t limit = BLOCK_TIME_MS / 1000 + LDG_PUBLISHED_AHEAD_MAX_S;
    publish_tx(&t, &author, 1, "cam-fw", "2.0.0", 5, 0x30, "cam-v2");
    body.payload.publish.release.published_at = limit + 1;
    sign_with(&t, ks, 1);
    const char *why = NULL;
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), 0);
    int res[1];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN];
    size_t hl;
    const uint8_t *raw[1] = {t.buf};
    size_t lens[1] = {t.len};
    assert_int_equal(ldg_store_build_block(S, raw, lens, 1, BLOCK_TIME_MS, &validator.pub, res,
                                           hdr, &hl, hash), 0);
    assert_int_equal(res[0], LDG_EINVALID);
    ldg_store_abort_built(S);
    body.payload.publish.release.published_at = limit;
    sign_with(&t, ks, 1);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(release_exists(0x30, NULL), 0);
}

static void test_versions_strictly_increase(void **st)
{
    (void)st;
    rawtx t;
    publish_tx(&t, &author, 1, "cam-fw", "2.0.0", 5, 0x10, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &author, 2, "cam-fw", "2.0.0", 6, 0x11, "cam-v2"); /* equal version */
    assert_int_equal(commit1(&t), LDG_EVERSION);
    publish_tx(&t, &author, 3, "cam-fw", "1.9.9", 6, 0x12, "cam-v2"); /* lower version */
    assert_int_equal(commit1(&t), LDG_EVERSION);
    publish_tx(&t, &author, 4, "cam-fw", "2.0.1", 5, 0x13, "cam-v2"); /* equal security version */
    assert_int_equal(commit1(&t), LDG_EVERSION);
    publish_tx(&t, &author, 5, "cam-fw", "2.0.0-rc.1", 9, 0x14, "cam-v2"); /* pre-release < 2.0.0 */
    assert_int_equal(commit1(&t), LDG_EVERSION);
    /* Another hardware line of the same product has its own history. */
    publish_tx(&t, &author, 6, "cam-fw", "1.0.0", 1, 0x15, "cam-v1");
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &author, 7, "cam-fw", "2.0.1", 6, 0x16, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    /* Within one block, the second of two equal versions is refused, the first stays. */
    rawtx a, b;
    publish_tx(&a, &author, 8, "cam-fw", "3.0.0", 7, 0x17, "cam-v2");
    publish_tx(&b, &author, 9, "cam-fw", "3.0.0", 8, 0x18, "cam-v2");
    rawtx *txs[] = {&a, &b};
    int res[2];
    assert_int_equal(commit(txs, 2, res), 0);
    assert_int_equal(res[1], LDG_EVERSION);
    assert_int_equal(release_exists(0x17, NULL), 0);
    assert_int_equal(release_exists(0x18, NULL), LDG_ENOTFOUND);
}

static void test_duplicate_file_hash(void **st)
{
    (void)st;
    rawtx t;
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x20, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &author, 2, "cam-fw", "1.0.1", 2, 0x20, "cam-v3");
    assert_int_equal(commit1(&t), LDG_EDUPLICATE);
}

static void test_replay(void **st)
{
    (void)st;
    rawtx t, u;
    publish_tx(&t, &author, 7, "cam-fw", "1.0.0", 1, 0x30, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(commit1(&t), LDG_ETXDUP); /* the very same tx again */
    publish_tx(&u, &author, 7, "cam-fw", "1.0.1", 2, 0x31, "cam-v2"); /* same nonce */
    assert_int_equal(commit1(&u), LDG_EREPLAY);
    publish_tx(&u, &author, 3, "cam-fw", "1.0.1", 2, 0x31, "cam-v2"); /* lower nonce */
    assert_int_equal(commit1(&u), LDG_EREPLAY);
    publish_tx(&u, &author, 9, "cam-fw", "1.0.1", 2, 0x31, "cam-v2"); /* gaps are fine */
    assert_int_equal(commit1(&u), 0);
}

static void test_revoke_rules(void **st)
{
    (void)st;
    rawtx t;
    static fwl_ReleaseRecord rec;
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x40, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    revoke_tx(&t, &other, 1, 0x40); /* neither author nor admin */
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    revoke_tx(&t, &author, 2, 0x41); /* unknown release */
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);
    revoke_tx(&t, &author, 3, 0x40);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(release_exists(0x40, &rec), 0);
    assert_true(rec.revoked);
    assert_int_equal(rec.revoke_reason, fwl_RevokeReason_REVOKE_VULNERABLE);
    assert_string_equal(rec.revoke_note, "CVE-2026-0001");
    revoke_tx(&t, &author, 4, 0x40);
    assert_int_equal(commit1(&t), LDG_EREVOKED);
    /* An admin may revoke any release. */
    publish_tx(&t, &author, 5, "cam-fw", "1.1.0", 2, 0x42, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    revoke_tx(&t, &admin2, 1, 0x42);
    assert_int_equal(commit1(&t), 0);
}

static void test_author_admin(void **st)
{
    (void)st;
    rawtx t;
    author_tx(&t, &other, 1, fwl_AuthorOp_AUTHOR_ADD, "cam-fw", &other); /* not an admin */
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    author_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, "cam-fw", &other);
    assert_int_equal(commit1(&t), 0);
    author_tx(&t, &admin, 2, fwl_AuthorOp_AUTHOR_ADD, "cam-fw", &other);
    assert_int_equal(commit1(&t), LDG_EDUPLICATE);
    publish_tx(&t, &other, 2, "cam-fw", "1.0.0", 1, 0x50, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    author_tx(&t, &admin, 3, fwl_AuthorOp_AUTHOR_REMOVE, "cam-fw", &other);
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &other, 3, "cam-fw", "1.1.0", 2, 0x51, "cam-v2");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    author_tx(&t, &admin, 4, fwl_AuthorOp_AUTHOR_REMOVE, "cam-fw", &other);
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);
}

/* Names at their longest (64 characters): the product 0x00 model key of a hardware line is
 * the longest key the rules build. */
static void test_longest_names(void **st)
{
    (void)st;
    rawtx t;
    char product[65], model[65];
    memset(product, 'p', 64), product[64] = 0;
    memset(model, 'm', 64), model[64] = 0;
    author_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, product, &other);
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &other, 1, product, "1.0.0", 1, 0x58, model);
    assert_int_equal(commit1(&t), 0);
    publish_tx(&t, &other, 2, product, "1.0.0", 1, 0x59, model);
    assert_int_equal(commit1(&t), LDG_EVERSION); /* the line was read back */
    publish_tx(&t, &other, 3, product, "1.1.0", 2, 0x59, model);
    assert_int_equal(commit1(&t), 0);
    uint8_t next[LDG_CURSOR_MAX];
    size_t nl;
    uint64_t at;
    int n = 0;
    assert_int_equal(ldg_store_list_releases(S, product, model, 0, NULL, 0, count_cb, &n, next, &nl, &at), 0);
    assert_int_equal(n, 2);
}

static void test_admin_threshold(void **st)
{
    (void)st;
    ldg_store_close(S);
    G.admin_threshold = 2;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    rawtx t;
    author_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, "cam-fw", &other);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED); /* one of two */
    const key *both[] = {&admin, &admin2};
    sign_with(&t, both, 2);
    assert_int_equal(commit1(&t), 0);
    const key *twice[] = {&admin, &admin}; /* the same admin twice is not two */
    body.nonce = 5;
    ldg_seckey ks[2] = {twice[0]->sec, twice[1]->sec};
    assert_int_equal(ldg_tx_sign(&G, &body, ks, 2, NULL, t.buf, sizeof t.buf, &t.len, t.hash), 0);
    ldg_tx *tx = malloc(sizeof *tx);
    const char *why;
    assert_int_equal(ldg_tx_parse(&G, 1, t.buf, t.len, tx, &why), LDG_EINVALID);
    free(tx);
    G.admin_threshold = 1;
}

static void test_atomic_apply(void **st)
{
    (void)st;
    rawtx a, b;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0x60, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, 0x61, "cam-v3");
    rawtx *txs[] = {&a, &b};
    int res[2];
    uint8_t *blk;
    size_t len;
    make_block(txs, 2, res, &blk, &len);
    ldg_tip before, after;
    ldg_store_tip(S, &before);
    /* Fail at every write position in turn: nothing may be left behind. */
    for (long k = 0; k < 14; k++) {
        ldg_store_fail_after(S, k);
        int rc = ldg_store_apply_block(S, blk, len, NULL);
        if (rc == 0)
            break; /* k past the block's last write */
        assert_int_equal(rc, LDG_ESTORE);
        ldg_store_tip(S, &after);
        assert_int_equal(after.height, before.height);
        assert_int_equal(release_exists(0x60, NULL), LDG_ENOTFOUND);
        assert_int_equal(release_exists(0x61, NULL), LDG_ENOTFOUND);
        uint64_t n;
        assert_int_equal(ldg_store_nonce(S, author.pub.alg, author.pub.key, author.pub.len, &n), 0);
        assert_int_equal(n, 0);
    }
    ldg_store_fail_after(S, -1);
    ldg_store_tip(S, &after);
    if (after.height == before.height)
        assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    free(blk);
    /* Restart: the state is read back from disk. */
    ldg_store_close(S);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    ldg_store_tip(S, &after);
    assert_int_equal(after.height, 1);
    assert_int_equal(after.releases, 2);
    assert_int_equal(release_exists(0x60, NULL), 0);
    assert_int_equal(release_exists(0x61, NULL), 0);
}

static void test_block_checks(void **st)
{
    (void)st;
    rawtx a;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0x70, "cam-v2");
    rawtx *txs[] = {&a};
    int res[1];
    uint8_t *blk;
    size_t len;
    make_block(txs, 1, res, &blk, &len);
    ldg_block b;
    assert_int_equal(ldg_block_decode(blk, len, &b), 0);
    /* Without its commit certificate. */
    uint8_t *bad;
    size_t bl;
    assert_int_equal(ldg_block_encode(b.hdr_raw, b.hdr_len, b.tx_raw, b.tx_len, b.n_txs, NULL, 0, 0, &bad, &bl), 0);
    assert_int_equal(ldg_store_apply_block(S, bad, bl, NULL), LDG_EBLOCK);
    free(bad);
    /* With a tx swapped for another: the Merkle root no longer matches. */
    rawtx other_tx;
    publish_tx(&other_tx, &author, 2, "cam-fw", "1.0.1", 2, 0x71, "cam-v2");
    const uint8_t *r2[] = {other_tx.buf};
    size_t l2[] = {other_tx.len};
    assert_int_equal(ldg_block_encode(b.hdr_raw, b.hdr_len, r2, l2, 1, b.commit, b.n_commit, 0, &bad, &bl), 0);
    assert_int_equal(ldg_store_apply_block(S, bad, bl, NULL), LDG_EBLOCK);
    free(bad);
    /* Garbage. */
    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    assert_true(ldg_store_apply_block(S, junk, sizeof junk, NULL) < 0);
    ldg_tip t;
    ldg_store_tip(S, &t);
    assert_int_equal(t.height, 0);
    /* The good block applies; applying it again is refused (wrong height). */
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), LDG_EBLOCK);
    ldg_block_free(&b);
    free(blk);
    /* Blocks read back by height and by hash. */
    uint8_t *out, h[32];
    size_t ol;
    uint64_t height;
    assert_int_equal(ldg_store_block_by_height(S, 1, &out, &ol, h), 0);
    free(out);
    assert_int_equal(ldg_store_block_by_hash(S, h, &out, &ol, &height), 0);
    assert_int_equal(height, 1);
    free(out);
    assert_int_equal(ldg_store_block_by_height(S, 2, &out, &ol, h), LDG_ENOTFOUND);
}

static void test_stateless_refusals(void **st)
{
    (void)st;
    ldg_tx *tx = malloc(sizeof *tx);
    const char *why;
    rawtx t;
    int rc;
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x80, "cam-v2");
    rc = ldg_tx_parse(&G, 1, t.buf, t.len, tx, &why);
    if (rc)
        fprintf(stderr, "parse: %s: %s\n", ldg_strerror(rc), why);
    assert_int_equal(rc, 0);
    assert_int_equal(ldg_tx_verify(tx), 0);
    /* A flipped bit in the body: the signature no longer verifies. */
    rawtx bad = t;
    bad.buf[10] ^= 1;
    rc = ldg_tx_parse(&G, 1, bad.buf, bad.len, tx, &why);
    if (rc == 0)
        assert_int_equal(ldg_tx_verify(tx), LDG_EBADSIG);
    /* A bad signature. */
    bad = t;
    bad.buf[bad.len - 1] ^= 1;
    assert_int_equal(ldg_tx_parse(&G, 1, bad.buf, bad.len, tx, &why), 0);
    assert_int_equal(ldg_tx_verify(tx), LDG_EBADSIG);
    /* Wrong chain. */
    ldg_genesis g2 = G;
    snprintf(g2.chain_id, sizeof g2.chain_id, "other-chain");
    assert_int_equal(ldg_tx_parse(&g2, 1, t.buf, t.len, tx, &why), LDG_ECHAIN);
    /* Algorithm disabled, and deprecated from a height. */
    g2 = G;
    g2.alg_rules[0] = (ldg_alg_rule){1, LDG_SIG_P256_ECDSA, LDG_ALG_DISABLED, 0};
    g2.n_alg_rules = 1;
    assert_int_equal(ldg_tx_parse(&g2, 1, t.buf, t.len, tx, &why), LDG_EALG_DISABLED);
    g2.alg_rules[0] = (ldg_alg_rule){1, LDG_SIG_P256_ECDSA, LDG_ALG_DEPRECATED, 10};
    assert_int_equal(ldg_tx_parse(&g2, 9, t.buf, t.len, tx, &why), 0);
    assert_int_equal(ldg_tx_parse(&g2, 10, t.buf, t.len, tx, &why), LDG_EALG_DEPRECATED);
    /* Unknown algorithm ids for the signer and for the file hash. */
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x80, "cam-v2");
    body.payload.publish.release.file_hash.alg = 77;
    ldg_seckey ks[1] = {author.sec};
    assert_int_equal(ldg_tx_sign(&G, &body, ks, 1, NULL, t.buf, sizeof t.buf, &t.len, t.hash), 0);
    assert_int_equal(ldg_tx_parse(&G, 1, t.buf, t.len, tx, &why), LDG_EUNKNOWN_ALG);
    ks[0].alg = 99;
    assert_int_equal(ldg_tx_sign(&G, &body, ks, 1, NULL, t.buf, sizeof t.buf, &t.len, t.hash),
                     LDG_EUNKNOWN_ALG);
    /* Invalid fields. */
    const struct {
        const char *version, *url, *constraint;
    } cases[] = {
        {"1.0", "https://x/y", ">=1"}, {"1.0.0", "ftp://x/y", ">=1"}, {"1.0.0", "https://x/y", ">>1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x80, "cam-v2");
        fwl_Release *r = &body.payload.publish.release;
        snprintf(r->version, sizeof r->version, "%s", cases[i].version);
        snprintf(r->file_url, sizeof r->file_url, "%s", cases[i].url);
        snprintf(r->dependencies[0].constraint, sizeof r->dependencies[0].constraint, "%s", cases[i].constraint);
        ks[0] = author.sec;
        assert_int_equal(ldg_tx_sign(&G, &body, ks, 1, NULL, t.buf, sizeof t.buf, &t.len, t.hash), 0);
        assert_int_equal(ldg_tx_parse(&G, 1, t.buf, t.len, tx, &why), LDG_EINVALID);
        assert_true(strlen(why) > 0);
    }
    /* An oversize field: a 200-byte chain id inside the body (limit 64). */
    uint8_t body_bytes[256], env[300];
    body_bytes[0] = 0x0a, body_bytes[1] = 200;
    memset(body_bytes + 2, 'a', 200);
    body_bytes[1] = 0xc8, memmove(body_bytes + 3, body_bytes + 2, 200), body_bytes[2] = 0x01;
    pb_ostream_t os = pb_ostream_from_buffer(env, sizeof env);
    assert_true(pb_encode_tag(&os, PB_WT_STRING, 1) && pb_encode_string(&os, body_bytes, 203));
    assert_int_equal(ldg_tx_parse(&G, 1, env, os.bytes_written, tx, &why), LDG_ETOOBIG);
    /* Oversize envelope, and garbage. */
    static uint8_t big[LDG_TX_MAX + 1];
    assert_int_equal(ldg_tx_parse(&G, 1, big, sizeof big, tx, &why), LDG_ETOOBIG);
    uint8_t junk[32];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(ldg_tx_parse(&G, 1, junk, sizeof junk, tx, &why), LDG_EMALFORMED);
    free(tx);
}

/* A block whose proposer put in a tx that admission refuses, a string not UTF-8 or with a
 * NUL in it (issue 10, items 2 and 3): refused when applied and when staged, nothing
 * stored. The same forged block over a good tx applies (the forgery is sound). */
static void test_block_with_bad_text(void **st)
{
    (void)st;
    rawtx t;
    uint8_t *blk, hash[LDG_DIGEST_LEN];
    size_t len;
    const key *ks[] = {&author};
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x90, "cam-v2");
    snprintf(body.payload.publish.release.provider, sizeof body.payload.publish.release.provider,
             "Acme \xc0\xae");
    sign_with(&t, ks, 1);
    forge_block(&t, &blk, &len);
    assert_int_equal(ldg_store_stage_block(S, blk, len, NULL, hash), LDG_EINVALID);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), LDG_EINVALID);
    free(blk);
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x90, "cam-v2");
    snprintf(body.payload.publish.release.version, sizeof body.payload.publish.release.version,
             "1.0.0~-rc");
    assert_int_equal(raw_tx_sign_patched(&G, &author.sec, LDG_TX_PUBLISH, &body, "0~-", "0\0-", 3,
                                         t.buf, sizeof t.buf, &t.len, t.hash), 0);
    forge_block(&t, &blk, &len);
    assert_int_equal(ldg_store_stage_block(S, blk, len, NULL, hash), LDG_EINVALID);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), LDG_EINVALID);
    free(blk);
    ldg_tip tip;
    ldg_store_tip(S, &tip);
    assert_int_equal(tip.height, 0);
    assert_int_equal(release_exists(0x90, NULL), LDG_ENOTFOUND);
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x90, "cam-v2");
    forge_block(&t, &blk, &len);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    assert_int_equal(release_exists(0x90, NULL), 0);
    free(blk);
}

/* A header whose chain id is this chain's up to a NUL and then anything (nanopb compares
 * "test-chain"; a stock decoder of GetBlock sees the rest, and refuses it when it is not
 * UTF-8): refused, nothing stored. The same header without the tail applies. */
static void test_block_header_text(void **st)
{
    (void)st;
    uint8_t hdr[LDG_HEADER_MAX], *blk, hash[LDG_DIGEST_LEN];
    size_t len;
    fwl_BlockHeader h;
    honest_header(&h);
    snprintf(h.chain_id, sizeof h.chain_id, "%.60s~\xff", G.chain_id);
    pb_ostream_t os = pb_ostream_from_buffer(hdr, sizeof hdr);
    assert_true(pb_encode(&os, fwl_BlockHeader_fields, &h));
    uint8_t *mark = memmem(hdr, os.bytes_written, "~\xff", 2);
    assert_non_null(mark);
    *mark = 0;
    seal_block(hdr, os.bytes_written, NULL, &blk, &len);
    assert_int_equal(ldg_store_stage_block(S, blk, len, NULL, hash), LDG_EBLOCK);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), LDG_EBLOCK);
    free(blk);
    ldg_tip tip;
    ldg_store_tip(S, &tip);
    assert_int_equal(tip.height, 0);
    honest_header(&h);
    os = pb_ostream_from_buffer(hdr, sizeof hdr);
    assert_true(pb_encode(&os, fwl_BlockHeader_fields, &h));
    seal_block(hdr, os.bytes_written, NULL, &blk, &len);
    assert_int_equal(ldg_store_apply_block(S, blk, len, NULL), 0);
    free(blk);
}

/* The proposer's path: build keeps the state in an open write transaction; commit_built
 * adds the block; abort drops it; readers see nothing before the commit. */
static void test_commit_built(void **st)
{
    (void)st;
    rawtx a, b;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0x90, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "0.9.0", 1, 0x91, "cam-v2"); /* refused: older */
    rawtx *txs[] = {&a, &b};
    int res[2];
    uint8_t *blk;
    size_t len;
    ldg_tip t;
    /* make_block builds (keeping the transaction open) and encodes with a certificate. */
    make_block(txs, 2, res, &blk, &len);
    assert_int_equal(res[0], 0);
    assert_int_equal(res[1], LDG_EVERSION);
    assert_int_equal(release_exists(0x90, NULL), LDG_ENOTFOUND); /* not visible yet */
    ldg_store_tip(S, &t);
    assert_int_equal(t.height, 0);
    /* A block without its certificate is refused and drops the build. */
    ldg_block dec;
    assert_int_equal(ldg_block_decode(blk, len, &dec), 0);
    uint8_t *bad;
    size_t bl;
    assert_int_equal(ldg_block_encode(dec.hdr_raw, dec.hdr_len, dec.tx_raw, dec.tx_len, dec.n_txs,
                                      NULL, 0, 0, &bad, &bl), 0);
    assert_int_equal(ldg_store_commit_built(S, bad, bl), LDG_EBLOCK);
    assert_int_equal(ldg_store_commit_built(S, blk, len), LDG_EBLOCK); /* nothing built now */
    free(bad);
    ldg_block_free(&dec);
    free(blk);
    /* Build again, abort: nothing changes. */
    make_block(txs, 2, res, &blk, &len);
    ldg_store_abort_built(S);
    assert_int_equal(release_exists(0x90, NULL), LDG_ENOTFOUND);
    free(blk);
    /* Build again, commit: the release, the block and the tip are there. */
    make_block(txs, 2, res, &blk, &len);
    assert_int_equal(ldg_store_commit_built(S, blk, len), 0);
    free(blk);
    assert_int_equal(release_exists(0x90, NULL), 0);
    assert_int_equal(release_exists(0x91, NULL), LDG_ENOTFOUND);
    ldg_store_tip(S, &t);
    assert_int_equal(t.height, 1);
    assert_int_equal(t.releases, 1);
    uint8_t *out, h[32];
    size_t ol;
    assert_int_equal(ldg_store_block_by_height(S, 1, &out, &ol, h), 0);
    assert_memory_equal(h, t.hash, 32);
    free(out);
    /* And it survives a restart. */
    ldg_store_close(S);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    assert_int_equal(release_exists(0x90, NULL), 0);
}

/* A validator that did not build the block stages it (validates and keeps the transaction
 * open), then commits it when it is decided. */
static void test_stage_block(void **st)
{
    (void)st;
    rawtx a;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0xa0, "cam-v2");
    rawtx *txs[] = {&a};
    int res[1];
    uint8_t *blk, hash[32], built[32];
    size_t len;
    make_block(txs, 1, res, &blk, &len);
    ldg_store_abort_built(S); /* as if another node had built it */
    assert_int_equal(ldg_store_built(S, built), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_stage_block(S, blk, len, NULL, hash), 0);
    assert_int_equal(ldg_store_built(S, built), 0);
    assert_memory_equal(built, hash, 32);
    assert_int_equal(release_exists(0xa0, NULL), LDG_ENOTFOUND); /* staged: not visible */
    assert_int_equal(ldg_store_commit_built(S, blk, len), 0);
    assert_int_equal(release_exists(0xa0, NULL), 0);
    /* A block breaking a rule is refused and nothing stays open. */
    rawtx b;
    publish_tx(&b, &author, 2, "cam-fw", "2.0.0", 2, 0xa1, "cam-v2");
    rawtx *txs2[] = {&b};
    uint8_t *blk2;
    size_t len2;
    make_block(txs2, 1, res, &blk2, &len2);
    ldg_store_abort_built(S);
    ldg_block dec;
    assert_int_equal(ldg_block_decode(blk2, len2, &dec), 0);
    uint8_t bad_tx[LDG_TX_MAX];
    memcpy(bad_tx, dec.tx_raw[0], dec.tx_len[0]);
    bad_tx[dec.tx_len[0] - 1] ^= 1; /* its signature no longer verifies */
    const uint8_t *r[] = {bad_tx};
    size_t l[] = {dec.tx_len[0]};
    uint8_t *blk3;
    size_t len3;
    assert_int_equal(ldg_block_encode(dec.hdr_raw, dec.hdr_len, r, l, 1, NULL, 0, 0, &blk3, &len3), 0);
    assert_int_equal(ldg_store_stage_block(S, blk3, len3, NULL, hash), LDG_EBLOCK); /* Merkle root */
    assert_int_equal(ldg_store_built(S, built), LDG_ENOTFOUND);
    ldg_block_free(&dec);
    free(blk);
    free(blk2);
    free(blk3);
}

/* The mempool's admission check: the rules against the committed state, nothing written. */
static void test_check_tx(void **st)
{
    (void)st;
    rawtx a, b;
    const char *why;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0xb0, "cam-v2");
    assert_int_equal(ldg_store_check_tx(S, a.buf, a.len, &why), 0);
    assert_int_equal(release_exists(0xb0, NULL), LDG_ENOTFOUND); /* nothing written */
    assert_int_equal(ldg_store_check_tx(S, a.buf, a.len, &why), 0); /* and so again */
    publish_tx(&b, &other, 1, "cam-fw", "1.0.0", 1, 0xb1, "cam-v2");
    assert_int_equal(ldg_store_check_tx(S, b.buf, b.len, &why), LDG_EUNAUTHORIZED);
    assert_int_equal(commit1(&a), 0);
    assert_int_equal(ldg_store_check_tx(S, a.buf, a.len, &why), LDG_ETXDUP);
    publish_tx(&b, &author, 2, "cam-fw", "1.0.0", 2, 0xb2, "cam-v2");
    assert_int_equal(ldg_store_check_tx(S, b.buf, b.len, &why), LDG_EVERSION);
    author_tx(&b, &admin, 1, fwl_AuthorOp_AUTHOR_REMOVE, "cam-fw", &author);
    assert_int_equal(ldg_store_check_tx(S, b.buf, b.len, &why), 0);
    publish_tx(&b, &author, 3, "cam-fw", "1.1.0", 2, 0xb3, "cam-v2");
    assert_int_equal(ldg_store_check_tx(S, b.buf, b.len, &why), 0); /* the removal was not written */
    assert_int_equal(ldg_store_check_tx(S, b.buf, 3, &why), LDG_EMALFORMED);
}

/* A snapshot: reads nest inside it and see one state, even across a commit. */
static void test_snapshot(void **st)
{
    (void)st;
    rawtx a;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0xc0, "cam-v2");
    assert_int_equal(ldg_store_snapshot_begin(S), 0);
    assert_int_equal(ldg_store_snapshot_begin(S), 0); /* nests */
    assert_int_equal(commit1(&a), 0);
    assert_int_equal(release_exists(0xc0, NULL), LDG_ENOTFOUND); /* the snapshot's state */
    ldg_store_snapshot_end(S);
    assert_int_equal(release_exists(0xc0, NULL), LDG_ENOTFOUND);
    ldg_store_snapshot_end(S);
    assert_int_equal(release_exists(0xc0, NULL), 0); /* a fresh read sees the commit */
}

/* The disk errors: distinct codes, messages that name the cause, and which ones the caller
 * may retry. */
static void test_disk_error_codes(void **st)
{
    (void)st;
    assert_int_equal(ldg_errno_code(ENOSPC), LDG_ENOSPC);
    assert_int_equal(ldg_errno_code(EDQUOT), LDG_EDQUOT);
    assert_int_equal(ldg_errno_code(EIO), LDG_EIO);
    assert_int_equal(ldg_errno_code(ENOMEM), LDG_ENOMEM);
    assert_int_equal(ldg_errno_code(EROFS), LDG_EIO);
    assert_string_equal(ldg_strerror(LDG_ENOSPC), "disk full (ENOSPC)");
    assert_string_equal(ldg_strerror(LDG_EDQUOT), "disk quota exceeded (EDQUOT)");
    assert_string_equal(ldg_strerror(LDG_EMAPFULL), "LMDB map full: raise map_size");
    const int disk[] = {LDG_ENOSPC, LDG_EDQUOT, LDG_EMAPFULL, LDG_EIO, LDG_ESTORE};
    for (size_t i = 0; i < sizeof disk / sizeof *disk; i++)
        assert_true(ldg_is_disk_error(disk[i]));
    const int not_disk[] = {LDG_OK, LDG_ENOMEM, LDG_EBLOCK, LDG_EVERSION, LDG_ENOTFOUND};
    for (size_t i = 0; i < sizeof not_disk / sizeof *not_disk; i++)
        assert_false(ldg_is_disk_error(not_disk[i]));
}

/* The n-th release of a series (from 0): nonce n + 1, file hash n, version 1.0.n. */
static void numbered_publish(rawtx *t, uint64_t n)
{
    publish_tx(t, &author, n + 1, "cam-fw", "1.0.0", n + 1, 0, "cam-v2");
    memset(body.payload.publish.release.file_hash.digest.bytes, 0, 32);
    memcpy(body.payload.publish.release.file_hash.digest.bytes, &n, sizeof n);
    snprintf(body.payload.publish.release.version, sizeof body.payload.publish.release.version,
             "1.0.%" PRIu64, n);
    const key *ks[] = {&author};
    sign_with(t, ks, 1);
}

/* A store whose map fills (MDB_MAP_FULL) says so (LDG_EMAPFULL), refuses no transaction for
 * it, keeps the previous block whole, and takes the same block once reopened with a larger
 * map. A twin store with a large map builds the blocks, so that they can be made while the
 * small one is full. */
static void test_map_full(void **st)
{
    (void)st;
    char big_dir[64];
    ldg_store *small = NULL, *big = NULL;
    snprintf(big_dir, sizeof big_dir, "/tmp/fwl-store-XXXXXX");
    assert_non_null(mkdtemp(big_dir));
    ldg_store_close(S);
    S = NULL;
    assert_int_equal(ldg_store_open(&small, dir, &G, 256 << 10), 0);
    assert_int_equal(ldg_store_map_size(small), 256 << 10);
    assert_int_equal(ldg_store_open(&big, big_dir, &G, 1 << 26), 0);

    rawtx t;
    int res[1], rc = 0;
    uint8_t *blk = NULL;
    size_t len = 0;
    uint64_t n = 0;
    while (n < 2000) {
        numbered_publish(&t, n);
        S = big;
        rawtx *txs[] = {&t};
        make_block(txs, 1, res, &blk, &len);
        assert_int_equal(res[0], 0);
        assert_int_equal(ldg_store_apply_block(big, blk, len, NULL), 0);
        S = NULL;
        if ((rc = ldg_store_apply_block(small, blk, len, NULL)))
            break;
        free(blk);
        blk = NULL;
        n++;
    }
    assert_int_equal(rc, LDG_EMAPFULL);
    assert_true(n > 0);
    ldg_tip tip;
    ldg_store_tip(small, &tip);
    assert_int_equal(tip.height, n); /* the block that did not fit left nothing behind */
    uint64_t nonce;
    assert_int_equal(ldg_store_nonce(small, author.pub.alg, author.pub.key, author.pub.len, &nonce), 0);
    assert_int_equal(nonce, n);
    uint8_t d[32] = {0};
    static fwl_ReleaseRecord rec;
    uint64_t at;
    memcpy(d, &n, sizeof n);
    assert_int_equal(ldg_store_release(small, LDG_HASH_SHA256, d, 32, &rec, &at), LDG_ENOTFOUND);

    /* Building on the full store, 64 releases (more than fit): the build stops at the map
     * error and says so; no transaction is refused for it (each would be a good one dropped)
     * and nothing is kept open. */
    static rawtx more[64];
    const uint8_t *raw[64];
    size_t lens[64];
    int res64[64] = {0};
    for (size_t i = 0; i < 64; i++) {
        numbered_publish(&more[i], n + i);
        raw[i] = more[i].buf, lens[i] = more[i].len;
    }
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN];
    size_t hl;
    rc = ldg_store_build_block(small, raw, lens, 64, 1000, &validator.pub, res64, hdr, &hl, hash);
    assert_int_equal(rc, LDG_EMAPFULL);
    assert_true(ldg_is_disk_error(rc));
    for (size_t i = 0; i < 64; i++) /* included so far, or the one that hit the map error */
        assert_true(res64[i] == 0 || res64[i] == LDG_EMAPFULL);
    assert_int_equal(ldg_store_built(small, hash), LDG_ENOTFOUND);
    ldg_store_tip(small, &tip);
    assert_int_equal(tip.height, n);

    /* Reopened with a larger map, the same block goes in. */
    ldg_store_close(small);
    assert_int_equal(ldg_store_open(&small, dir, &G, 1 << 26), 0);
    assert_int_equal(ldg_store_apply_block(small, blk, len, NULL), 0);
    ldg_store_tip(small, &tip);
    assert_int_equal(tip.height, n + 1);
    assert_int_equal(ldg_store_release(small, LDG_HASH_SHA256, d, 32, &rec, &at), 0);
    free(blk);
    ldg_store_close(small);
    ldg_store_close(big);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", big_dir);
    assert_int_equal(system(cmd), 0);
}

static void test_lock_and_genesis_binding(void **st)
{
    (void)st;
    ldg_store *s2;
    assert_int_equal(ldg_store_open(&s2, dir, &G, 1 << 26), LDG_ELOCKED);
    ldg_store_close(S);
    S = NULL;
    ldg_genesis g2 = G;
    snprintf(g2.chain_id, sizeof g2.chain_id, "another");
    assert_int_equal(ldg_store_open(&s2, dir, &g2, 1 << 26), LDG_EGENESIS);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_published_at_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unauthorised_author, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_strictly_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_file_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_author_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longest_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stateless_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_with_bad_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_header_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_built, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_genesis_binding, setup, teardown),
        cmocka_unit_test(test_disk_error_codes),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
