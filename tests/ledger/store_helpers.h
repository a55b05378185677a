/*
 * Shared by the store tests (test_store.c, test_contract_txs.c): keys, a genesis with two
 * admins, one validator and one genesis author of "cam-fw", a fresh store per test in a
 * temporary directory, and builders for signed transactions and certified blocks.
 * Everything is static (one copy per test program); functions are static inline so that a
 * program need not use them all.
 */
#ifndef FWL_TESTS_STORE_HELPERS_H
#define FWL_TESTS_STORE_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <pb_encode.h>

#include "ledger/ledger.h"

typedef struct {
    ldg_seckey sec;
    ldg_pubkey pub;
} key;

/* The time of the blocks the helpers build: releases are published_at 1700000000 (Unix
 * seconds), which must not be more than a day after their block (ledger.h). */
#define BLOCK_TIME_MS 1700000000000ull

static key admin, admin2, validator, author, other;
static ldg_genesis G;
static char dir[64];
static ldg_store *S;

static inline void mkkey(key *k, uint32_t alg, uint8_t seed_byte)
{
    const ldg_sig_impl *im = ldg_sig_by_id(alg);
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    memset(k, 0, sizeof *k);
    assert_non_null(im);
    assert_int_equal(im->keypair(seed, k->sec.sec, k->pub.key), 0);
    k->sec.alg = k->pub.alg = alg;
    k->pub.len = im->pub_len;
}

static inline void make_genesis(void)
{
    memset(&G, 0, sizeof G);
    snprintf(G.chain_id, sizeof G.chain_id, "test-chain");
    G.hash_alg = LDG_HASH_SHA256;
    G.admins[0] = admin.pub;
    G.admins[1] = admin2.pub;
    G.n_admins = 2;
    G.admin_threshold = 1;
    G.validators[0] = validator.pub;
    G.validator_power[0] = 1;
    G.n_validators = 1;
    snprintf(G.authors[0].product, sizeof G.authors[0].product, "cam-fw");
    snprintf(G.authors[0].name, sizeof G.authors[0].name, "Acme");
    G.authors[0].key = author.pub;
    G.n_authors = 1;
}

static inline int setup(void **st)
{
    (void)st;
    mkkey(&admin, LDG_SIG_SECP256K1_ECDSA, 1);
    mkkey(&admin2, LDG_SIG_ED25519, 2);
    mkkey(&validator, LDG_SIG_SECP256K1_SCHNORR, 3);
    mkkey(&author, LDG_SIG_P256_ECDSA, 4);
    mkkey(&other, LDG_SIG_SECP256K1_ECDSA, 5);
    make_genesis();
    snprintf(dir, sizeof dir, "/tmp/fwl-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return ldg_store_open(&S, dir, &G, 1 << 26);
}

static inline int teardown(void **st)
{
    (void)st;
    ldg_store_close(S);
    S = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* --- building transactions --- */

typedef struct {
    uint8_t buf[LDG_TX_MAX];
    size_t len;
    uint8_t hash[LDG_DIGEST_LEN];
} rawtx;

static fwl_TxBody body;

static inline void sign_with(rawtx *t, const key *const *keys, size_t n)
{
    ldg_seckey ks[4];
    for (size_t i = 0; i < n; i++)
        ks[i] = keys[i]->sec;
    assert_int_equal(ldg_tx_sign(&G, &body, ks, n, NULL, t->buf, sizeof t->buf, &t->len, t->hash), 0);
}

static inline void publish_tx(rawtx *t, const key *k, uint64_t nonce, const char *product,
                       const char *version, uint64_t secver, uint8_t file_byte, const char *model)
{
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", G.chain_id);
    body.nonce = nonce;
    body.which_payload = fwl_TxBody_publish_tag;
    body.payload.publish.has_release = true;
    fwl_Release *r = &body.payload.publish.release;
    snprintf(r->product, sizeof r->product, "%s", product);
    snprintf(r->provider, sizeof r->provider, "Acme Corp");
    r->published_at = 1700000000;
    snprintf(r->version, sizeof r->version, "%s", version);
    r->security_version = secver;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    memset(r->file_hash.digest.bytes, file_byte, 32);
    r->file_hash.digest.size = 32;
    snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/%s-%s.bin", product, version);
    snprintf(r->file_name, sizeof r->file_name, "%s-%s.bin", product, version);
    r->file_size = 123456;
    r->hardware_count = 1;
    snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "%s", model);
    r->hardware[0].rev_min = 2;
    r->hardware[0].rev_max = 5;
    r->hardware[0].required_addons_count = 1;
    snprintf(r->hardware[0].required_addons[0], sizeof r->hardware[0].required_addons[0], "lora");
    r->dependencies_count = 1;
    snprintf(r->dependencies[0].package, sizeof r->dependencies[0].package, "libfoo");
    snprintf(r->dependencies[0].constraint, sizeof r->dependencies[0].constraint, ">=2.1.0,<3");
    const key *ks[] = {k};
    sign_with(t, ks, 1);
}

static inline void revoke_tx(rawtx *t, const key *k, uint64_t nonce, uint8_t file_byte)
{
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", G.chain_id);
    body.nonce = nonce;
    body.which_payload = fwl_TxBody_revoke_tag;
    fwl_RevokeTx *r = &body.payload.revoke;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    memset(r->file_hash.digest.bytes, file_byte, 32);
    r->file_hash.digest.size = 32;
    r->reason = fwl_RevokeReason_REVOKE_VULNERABLE;
    snprintf(r->note, sizeof r->note, "CVE-2026-0001");
    const key *ks[] = {k};
    sign_with(t, ks, 1);
}

static inline void author_tx(rawtx *t, const key *signer, uint64_t nonce, fwl_AuthorOp op,
                      const char *product, const key *who)
{
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", G.chain_id);
    body.nonce = nonce;
    body.which_payload = fwl_TxBody_author_tag;
    fwl_AuthorTx *a = &body.payload.author;
    a->op = op;
    snprintf(a->product, sizeof a->product, "%s", product);
    a->has_key = true;
    a->key.alg = who->pub.alg;
    memcpy(a->key.key.bytes, who->pub.key, who->pub.len);
    a->key.key.size = (pb_size_t)who->pub.len;
    snprintf(a->name, sizeof a->name, "Other");
    const key *ks[] = {signer};
    sign_with(t, ks, 1);
}

/* The validator's precommit (round 0) of the block with this hash at the tip's next height:
 * the whole commit certificate of the helpers' genesis. */
static inline void sign_commit(const uint8_t hash[LDG_DIGEST_LEN], fwl_Signature *sig)
{
    uint8_t d[LDG_DIGEST_LEN];
    ldg_tip t;
    ldg_store_tip(S, &t);
    memset(sig, 0, sizeof *sig);
    assert_int_equal(ldg_commit_digest(&G, t.height + 1, 0, LDG_VOTE_PRECOMMIT, hash, d), 0);
    const ldg_sig_impl *im = ldg_sig_by_id(validator.sec.alg);
    assert_int_equal(im->sign(validator.sec.sec, d, NULL, sig->sig.bytes), 0);
    sig->sig.size = (pb_size_t)im->sig_len;
    sig->has_signer = true;
    sig->signer.alg = validator.pub.alg;
    memcpy(sig->signer.key.bytes, validator.pub.key, validator.pub.len);
    sig->signer.key.size = (pb_size_t)validator.pub.len;
}

/* Build, sign (the validator's precommit) and encode a block over txs; results per tx. */
static inline void make_block(rawtx *const *txs, size_t n, int *results, uint8_t **blk, size_t *len)
{
    const uint8_t *raw[16] = {NULL};
    size_t lens[16] = {0}, m = 0;
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN];
    size_t hl;
    for (size_t i = 0; i < n; i++)
        raw[i] = txs[i]->buf, lens[i] = txs[i]->len;
    assert_int_equal(ldg_store_build_block(S, raw, lens, n, BLOCK_TIME_MS, &validator.pub, results, hdr,
                                           &hl, hash), 0);
    const uint8_t *incl[16];
    size_t il[16];
    for (size_t i = 0; i < n; i++)
        if (results[i] == 0)
            incl[m] = raw[i], il[m++] = lens[i];
    fwl_Signature sig;
    sign_commit(hash, &sig);
    assert_int_equal(ldg_block_encode(hdr, hl, incl, il, m, &sig, 1, 0, blk, len), 0);
}

/* The header an honest proposer would build for an empty block at the next height. */
static inline void honest_header(fwl_BlockHeader *h)
{
    uint8_t *empty;
    size_t el;
    int none[1];
    ldg_block b;
    make_block(NULL, 0, none, &empty, &el);
    ldg_store_abort_built(S);
    assert_int_equal(ldg_block_decode(empty, el, &b), 0);
    *h = b.hdr;
    ldg_block_free(&b);
    free(empty);
}

/* Certify (the validator's precommit) and encode a block of the encoded header hdr over t
 * (none when NULL), whatever the header says. */
static inline void seal_block(const uint8_t *hdr, size_t hl, const rawtx *t, uint8_t **blk,
                              size_t *len)
{
    uint8_t hash[LDG_DIGEST_LEN];
    fwl_Signature sig;
    assert_int_equal(ldg_block_hash(&G, hdr, hl, hash), 0);
    sign_commit(hash, &sig);
    const uint8_t *txs[] = {t ? t->buf : NULL};
    size_t lens[] = {t ? t->len : 0};
    assert_int_equal(ldg_block_encode(hdr, hl, txs, lens, t ? 1 : 0, &sig, 1, 0, blk, len), 0);
}

/* What a hostile proposer could send: a certified block over t alone, whatever
 * ldg_store_build_block would say of t. An honest empty block's header, given t's Merkle
 * root, count and size, and the state root and log head t leads to when the builder takes
 * it (t is refused for itself otherwise, before the roots are compared). */
static inline void forge_block(const rawtx *t, uint8_t **blk, size_t *len)
{
    uint8_t hdr[LDG_HEADER_MAX], leaf[LDG_HASH_MAX], hash[LDG_DIGEST_LEN];
    fwl_BlockHeader h;
    honest_header(&h);
    const uint8_t *raw[1] = {t->buf};
    size_t lens[1] = {t->len}, hl;
    int res[1];
    if (ldg_store_build_block(S, raw, lens, 1, BLOCK_TIME_MS, &validator.pub, res, hdr, &hl,
                              hash) == 0) {
        ldg_block b;
        ldg_store_abort_built(S);
        uint8_t *built;
        size_t bl;
        assert_int_equal(ldg_block_encode(hdr, hl, NULL, NULL, 0, NULL, 0, 0, &built, &bl), 0);
        assert_int_equal(ldg_block_decode(built, bl, &b), 0);
        if (res[0] == 0) {
            h.state_root = b.hdr.state_root;
            h.log_size = b.hdr.log_size;
            h.log_root = b.hdr.log_root;
        }
        ldg_block_free(&b);
        free(built);
    }
    h.tx_count = 1;
    h.body_size = t->len;
    assert_int_equal(ldg_merkle_leaf(G.hash_alg, t->buf, t->len, leaf), 0);
    assert_int_equal(ldg_merkle_root(G.hash_alg, leaf, 1, h.tx_root.digest.bytes), 0);
    pb_ostream_t os = pb_ostream_from_buffer(hdr, sizeof hdr);
    assert_true(pb_encode(&os, fwl_BlockHeader_fields, &h));
    seal_block(hdr, os.bytes_written, t, blk, len);
}

/* Commit a block over txs; returns the first tx's result (or the apply error). */
static inline int commit(rawtx *const *txs, size_t n, int *results)
{
    uint8_t *blk;
    size_t len;
    int local[16];
    if (!results)
        results = local;
    make_block(txs, n, results, &blk, &len);
    int rc = ldg_store_apply_block(S, blk, len, NULL);
    free(blk);
    return rc ? rc : results[0];
}

static inline int commit1(rawtx *t) { return commit(&t, 1, NULL); }

static inline int release_exists(uint8_t file_byte, fwl_ReleaseRecord *rec)
{
    uint8_t d[32];
    uint64_t h;
    static fwl_ReleaseRecord scratch;
    memset(d, file_byte, sizeof d);
    return ldg_store_release(S, LDG_HASH_SHA256, d, 32, rec ? rec : &scratch, &h);
}

#endif
