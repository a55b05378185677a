/*
 * fuzz_store_apply: the state transition (ldg_store_apply_block, ldg_store_build_block with
 * ldg_store_commit_built, ldg_store_stage_block) fed blocks made from arbitrary bytes,
 * against a real LMDB store (64 MiB map, on tmpfs when there is one).
 *
 * The store is wiped and reopened at genesis before each input that finds it past height 0,
 * so every input runs from the same state and a saved crash reproduces on its own.
 *
 * Input: a sequence of up to 8 blocks, each
 *   ctl:u8, then by mode (ctl & 3):
 *   0 raw     len:u16le bytes[len]           apply the bytes as they are; ctl bit 2: every
 *                                            tx pre-verified (else pre_verified NULL); ctl
 *                                            bit 3: stage them, and commit them if staged
 *   1 built   n:u8 tx{n} [what:u8]           ldg_store_build_block over the txs, sign the
 *                                            commit, then by (ctl >> 2) & 3: 0 commit the
 *                                            build (what fwledgerd does); 1 the same with a
 *                                            store failure after (ctl >> 4) puts; 2 apply it
 *                                            as a follower; 3 commit a wrong block first
 *                                            (what: which), then apply the right one
 *   2 direct  n:u8 tx{n}                     a correct header over ALL the txs (nothing left
 *                                            out), signed; apply; ctl bit 2 as for raw; ctl
 *                                            bit 3: the certificate is from round 1, not 0;
 *                                            ctl bit 4: stage the block without its
 *                                            certificate (a proposal), then commit it with
 *                                            the certificate (ldg_store_commit_built)
 *   3 tamper  n:u8 tx{n} what:u8             as direct, with one header field or the commit
 *                                            certificate broken
 *   tx := len:u16le bytes[len]   (n and len are reduced modulo their caps; a short input
 *                                 truncates the last slice)
 *   ctl >> 5: block time step in seconds (raw: unused).
 *
 * Checks, after every apply or commit: never crashes; the error is one of ledger.h's. On
 * error the tip (ldg_store_tip), the release count, every known key's nonce, the presence
 * of each of the block's txs and the absence of a block at the next height are unchanged.
 * On success the tip moved by exactly one to the block's hash and time, the block reads
 * back byte for byte by height and by hash, every tx parses at that height and is found
 * at its index, the release count is the tip's and each sender's nonce reached its tx's.
 * Cross-checks: a build is invisible until committed; the block build_block made always
 * commits, and always applies as a follower's block; an injected store failure fails the
 * commit with LDG_ESTORE, changes nothing and drops the build; a wrong block never commits
 * and drops the build; a direct block applies (or stages) exactly when build_block would
 * have included every tx, with the first refused tx's error (pre-verified; unverified, a
 * signature error may come first); a staged block is invisible until committed, a failed
 * stage keeps nothing open, and a staged block commits with its certificate; a tampered
 * block is always refused (a broken header at staging, a broken certificate at commit).
 * Seeds: valid chains of the sample transactions in each mode, written at startup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAP_SIZE ((size_t)64 << 20)
#define MAX_BLOCKS 8
#define MAX_TXS 16

static ldg_genesis G;
static uint8_t genesis_hash[LDG_DIGEST_LEN];
static char store_dir[512];
static ldg_store *S;
static bool all_true[LDG_BLOCK_MAX_TXS];
static ldg_tx *T;

enum { M_RAW, M_BUILT, M_DIRECT, M_TAMPER };

/* Tamperings: the header ones first, the certificate ones from T_NO_COMMIT on. */
enum {
    T_HEIGHT_SKIP, T_HEIGHT_SAME, T_TIME_BACK, T_PREV_FLIP, T_PREV_ALG, T_COUNT, T_BODY,
    T_ROOT, T_STATE_ROOT, T_VERSION, T_CHAIN, T_PROPOSER, T_NO_PROPOSER, T_EXTRA_TX,
    T_NO_COMMIT, T_SIG_FLIP, T_DUP_COMMIT, T_NON_VALIDATOR, T_WRONG_HEIGHT_SIG,
    T_WRONG_ROUND_SIG, T_WRONG_ROUND_ENC, T_SIGNER_ALG, T_COUNT_ALL
};

static void store_open(void)
{
    int rc = ldg_store_open(&S, store_dir, &G, MAP_SIZE);
    FZ_CHECK(rc == 0, "store open: %s", ldg_strerror(rc));
}

static void store_reset(void)
{
    ldg_store_close(S);
    S = NULL;
    fz_rm_rf(store_dir);
    store_open();
}

/* --- the store's observable state ------------------------------------------------------- */

static int count_cb(void *ctx, const fwl_ReleaseRecord *rec)
{
    (void)rec;
    ++*(uint64_t *)ctx;
    return 0;
}

static uint64_t release_count(void)
{
    uint64_t n = 0, at;
    uint8_t next[LDG_CURSOR_MAX];
    size_t next_len;
    int rc = ldg_store_list_releases(S, "", "", 256, NULL, 0, count_cb, &n, next, &next_len, &at);
    FZ_CHECK(rc == 0, "list releases: %s", ldg_strerror(rc));
    FZ_CHECK(next_len == 0, "more than 256 releases");
    return n;
}

typedef struct {
    ldg_tip tip;
    uint64_t releases;
    uint64_t nonces[4];
} snapshot;

static void take(snapshot *s)
{
    const fz_key *keys[] = {&fz_admin, &fz_validator, &fz_author, &fz_other};
    memset(s, 0, sizeof *s);
    FZ_CHECK(ldg_store_tip(S, &s->tip) == 0, "tip");
    s->releases = release_count();
    for (size_t i = 0; i < 4; i++)
        FZ_CHECK(ldg_store_nonce(S, keys[i]->pub.alg, keys[i]->pub.key, keys[i]->pub.len,
                                 &s->nonces[i]) == 0,
                 "nonce");
}

/* Tx hashes of a block's txs (those that parse at all; height 0 is the most permissive and
 * the hash does not depend on the height) and whether each is already committed. */
typedef struct {
    size_t n;
    bool parsed[LDG_BLOCK_MAX_TXS];
    bool found[LDG_BLOCK_MAX_TXS];
    uint8_t hash[LDG_BLOCK_MAX_TXS][LDG_DIGEST_LEN];
} tx_set;

static void tx_presence(const ldg_block *b, tx_set *ts)
{
    ts->n = b->n_txs;
    for (size_t i = 0; i < b->n_txs; i++) {
        uint64_t h;
        uint32_t idx;
        uint8_t bh[LDG_DIGEST_LEN];
        ts->parsed[i] = ldg_tx_parse(&G, 0, b->tx_raw[i], b->tx_len[i], T, NULL) == 0;
        ts->found[i] = false;
        if (!ts->parsed[i])
            continue;
        memcpy(ts->hash[i], T->hash, LDG_DIGEST_LEN);
        int rc = ldg_store_tx_location(S, T->hash, &h, &idx, bh);
        FZ_CHECK(rc == 0 || rc == LDG_ENOTFOUND, "tx location: %s", ldg_strerror(rc));
        ts->found[i] = rc == 0;
    }
}

/* The two ways a block gets in: a follower's apply, and the proposer's commit of the block
 * it built. */
typedef int (*block_op)(const uint8_t *blk, size_t len, const bool *pre);

static int op_apply(const uint8_t *blk, size_t len, const bool *pre)
{
    return ldg_store_apply_block(S, blk, len, pre);
}

static int op_commit(const uint8_t *blk, size_t len, const bool *pre)
{
    (void)pre;
    return ldg_store_commit_built(S, blk, len);
}

static bool same_state(const snapshot *a, const snapshot *b)
{
    return !memcmp(&a->tip, &b->tip, sizeof a->tip) && a->releases == b->releases &&
           !memcmp(a->nonces, b->nonces, sizeof a->nonces);
}

/* Run op on the block and check everything the store promises about the outcome. Returns
 * the error. */
static int checked(block_op op, const uint8_t *blk, size_t len, const bool *pre)
{
    static snapshot before, after;
    static tx_set txs_before, txs_after;
    static ldg_block b;
    bool decoded = ldg_block_decode(blk, len, &b) == 0;

    take(&before);
    if (decoded)
        tx_presence(&b, &txs_before);

    int rc = op(blk, len, pre);
    FZ_CHECK(fz_ldg_err_known(rc), "apply/commit returned %d", rc);

    take(&after);
    uint8_t *back = NULL;
    size_t back_len = 0;
    uint8_t hash[LDG_DIGEST_LEN];
    if (rc) {
        FZ_CHECK(!memcmp(&before.tip, &after.tip, sizeof before.tip),
                 "tip changed by a failed apply (%s)", ldg_strerror(rc));
        FZ_CHECK(before.releases == after.releases, "releases changed by a failed apply (%s)",
                 ldg_strerror(rc));
        FZ_CHECK(!memcmp(before.nonces, after.nonces, sizeof before.nonces),
                 "a nonce changed by a failed apply (%s)", ldg_strerror(rc));
        int brc = ldg_store_block_by_height(S, before.tip.height + 1, &back, &back_len, hash);
        FZ_CHECK(brc == LDG_ENOTFOUND, "a block at the next height after a failed apply");
        if (decoded) {
            tx_presence(&b, &txs_after);
            for (size_t i = 0; i < b.n_txs; i++)
                FZ_CHECK(txs_before.found[i] == txs_after.found[i],
                         "tx %zu committed by a failed apply (%s)", i, ldg_strerror(rc));
        }
        ldg_block_free(&b);
        return rc;
    }

    FZ_CHECK(decoded, "applied a block ldg_block_decode refuses");
    uint64_t height = before.tip.height + 1;
    FZ_CHECK(after.tip.height == height, "tip height %llu after applying on %llu",
             (unsigned long long)after.tip.height, (unsigned long long)before.tip.height);
    FZ_CHECK(b.hdr.height == height && after.tip.time_ms == b.hdr.time_ms, "tip time/height");
    FZ_CHECK(after.tip.time_ms >= before.tip.time_ms, "block time went backwards");
    FZ_CHECK(ldg_block_hash(&G, b.hdr_raw, b.hdr_len, hash) == 0 &&
                 !memcmp(hash, after.tip.hash, LDG_DIGEST_LEN),
             "tip hash is not the block's hash");
    FZ_CHECK(ldg_store_block_by_height(S, height, &back, &back_len, hash) == 0, "block by height");
    FZ_CHECK(back_len == len && !memcmp(back, blk, len) && !memcmp(hash, after.tip.hash, 32),
             "stored block differs");
    free(back);
    uint64_t h2 = 0;
    FZ_CHECK(ldg_store_block_by_hash(S, after.tip.hash, &back, &back_len, &h2) == 0 &&
                 h2 == height && back_len == len,
             "block by hash");
    free(back);
    FZ_CHECK(after.releases == after.tip.releases, "listed %llu releases, tip says %llu",
             (unsigned long long)after.releases, (unsigned long long)after.tip.releases);
    FZ_CHECK(after.releases >= before.releases, "releases went down");

    uint64_t published = 0;
    for (size_t i = 0; i < b.n_txs; i++) {
        int prc = ldg_tx_parse(&G, height, b.tx_raw[i], b.tx_len[i], T, NULL);
        FZ_CHECK(prc == 0, "applied tx %zu does not parse at its height: %s", i,
                 ldg_strerror(prc));
        uint64_t th, nonce;
        uint32_t idx;
        uint8_t bh[LDG_DIGEST_LEN];
        FZ_CHECK(ldg_store_tx_location(S, T->hash, &th, &idx, bh) == 0 && th == height &&
                     idx == i && !memcmp(bh, after.tip.hash, LDG_DIGEST_LEN),
                 "tx %zu not found where it was applied", i);
        const fwl_PublicKey *k = &T->env.sigs[0].signer;
        FZ_CHECK(ldg_store_nonce(S, k->alg, k->key.bytes, k->key.size, &nonce) == 0 &&
                     nonce >= T->body.nonce,
                 "sender nonce %llu below tx nonce %llu", (unsigned long long)nonce,
                 (unsigned long long)T->body.nonce);
        published += T->type == LDG_TX_PUBLISH;
    }
    FZ_CHECK(after.releases == before.releases + published,
             "releases %llu + %llu published != %llu", (unsigned long long)before.releases,
             (unsigned long long)published, (unsigned long long)after.releases);
    ldg_block_free(&b);
    return 0;
}

static int apply_checked(const uint8_t *blk, size_t len, const bool *pre)
{
    return checked(op_apply, blk, len, pre);
}

/* --- building blocks -------------------------------------------------------------------- */

typedef struct {
    const uint8_t *raw[MAX_TXS + 1];
    size_t len[MAX_TXS + 1];
    size_t n;
} txlist;

static void merkle_root(const txlist *t, uint8_t root[LDG_DIGEST_LEN])
{
    static uint8_t leaves[(MAX_TXS + 1) * LDG_DIGEST_LEN];
    for (size_t i = 0; i < t->n; i++)
        FZ_CHECK(ldg_merkle_leaf(G.hash_alg, t->raw[i], t->len[i],
                                 leaves + i * LDG_DIGEST_LEN) == 0,
                 "leaf");
    FZ_CHECK(ldg_merkle_root(G.hash_alg, leaves, t->n, root) == 0, "root");
}

static void set_hash(fwl_Hash *h, uint32_t alg, const uint8_t *d)
{
    h->alg = alg;
    memcpy(h->digest.bytes, d, LDG_DIGEST_LEN);
    h->digest.size = LDG_DIGEST_LEN;
}

static void set_key(fwl_PublicKey *k, const ldg_pubkey *p)
{
    k->alg = p->alg;
    memcpy(k->key.bytes, p->key, p->len);
    k->key.size = (pb_size_t)p->len;
}

/* The header a correct proposer would write over all of t at the next height. */
static void make_header(const txlist *t, uint64_t time_ms, fwl_BlockHeader *h)
{
    ldg_tip tip;
    uint8_t root[LDG_DIGEST_LEN];
    uint64_t body = 0;
    ldg_store_tip(S, &tip);
    merkle_root(t, root);
    for (size_t i = 0; i < t->n; i++)
        body += t->len[i];
    *h = (fwl_BlockHeader)fwl_BlockHeader_init_zero;
    h->version = LDG_BLOCK_VERSION;
    snprintf(h->chain_id, sizeof h->chain_id, "%s", G.chain_id);
    h->height = tip.height + 1;
    h->time_ms = time_ms;
    h->has_prev_hash = h->has_tx_root = h->has_proposer = true;
    set_hash(&h->prev_hash, G.hash_alg, tip.height ? tip.hash : genesis_hash);
    set_hash(&h->tx_root, G.hash_alg, root);
    h->tx_count = (uint32_t)t->n;
    h->body_size = body;
    set_key(&h->proposer, &fz_validator.pub);
}

static size_t encode_header(const fwl_BlockHeader *h, uint8_t *out)
{
    pb_ostream_t os = pb_ostream_from_buffer(out, LDG_HEADER_MAX);
    FZ_CHECK(pb_encode(&os, fwl_BlockHeader_fields, h), "header encode");
    return os.bytes_written;
}

/* Results of a dry-run build over t: the first refused tx's error, or 0. */
static int build_verdict(const txlist *t, uint64_t time_ms)
{
    int res[MAX_TXS + 1];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN];
    size_t hl;
    int rc = ldg_store_build_block(S, t->raw, t->len, t->n, time_ms, &fz_validator.pub, res, hdr,
                                   &hl, hash);
    FZ_CHECK(rc == 0, "build_block failed: %s", ldg_strerror(rc));
    for (size_t i = 0; i < t->n; i++)
        if (res[i])
            return res[i];
    return 0;
}

/* The header of blk with its time moved by one and re-signed: a valid block at the right
 * height that is not the one built. *out malloc'd. */
static void other_block(const uint8_t *blk, size_t len, uint8_t **out, size_t *out_len)
{
    static ldg_block b;
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN];
    fwl_Signature sig;
    FZ_CHECK(ldg_block_decode(blk, len, &b) == 0, "decode own block");
    b.hdr.time_ms++;
    size_t hl = encode_header(&b.hdr, hdr);
    FZ_CHECK(ldg_block_hash(&G, hdr, hl, hash) == 0, "hash");
    fz_commit_sig(&G, &fz_validator, b.hdr.height, 0, hash, &sig);
    FZ_CHECK(ldg_block_encode(hdr, hl, b.tx_raw, b.tx_len, b.n_txs, &sig, 1, 0, out, out_len) == 0,
             "encode other");
    ldg_block_free(&b);
}

enum { B_COMMIT, B_COMMIT_FAIL, B_FOLLOWER, B_COMMIT_WRONG };

/* What fwledgerd's proposer does: build over the txs, sign, encode, commit the build
 * (B_COMMIT); the same with a storage failure injected after k puts, which must drop the
 * build and change nothing, after which a follower's apply of that block still works
 * (B_COMMIT_FAIL); a follower applying the built block (B_FOLLOWER); committing a block
 * that is not the built one, which must be refused and drop the build (B_COMMIT_WRONG). */
static void run_built(const txlist *t, uint64_t time_ms, int sub, long k, uint8_t what)
{
    static snapshot s0, s1;
    int res[MAX_TXS + 1];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], *blk, *wrong = NULL;
    size_t hl, bl, wl = 0;
    txlist incl = {.n = 0};

    take(&s0);
    int rc = ldg_store_build_block(S, t->raw, t->len, t->n, time_ms, &fz_validator.pub, res, hdr,
                                   &hl, hash);
    FZ_CHECK(rc == 0, "build_block failed: %s", ldg_strerror(rc));
    take(&s1);
    FZ_CHECK(same_state(&s0, &s1), "a built block is visible before its commit");
    for (size_t i = 0; i < t->n; i++) {
        FZ_CHECK(fz_ldg_err_known(res[i]) && res[i] != LDG_ENOMEM && res[i] != LDG_ESTORE,
                 "build result %d", res[i]);
        if (res[i] == 0) {
            incl.raw[incl.n] = t->raw[i];
            incl.len[incl.n++] = t->len[i];
        }
    }
    fwl_Signature sig;
    fz_commit_sig(&G, &fz_validator, s0.tip.height + 1, 0, hash, &sig);
    FZ_CHECK(ldg_block_encode(hdr, hl, incl.raw, incl.len, incl.n, &sig, 1, 0, &blk, &bl) == 0,
             "encode");

    switch (sub) {
    case B_COMMIT:
        rc = checked(op_commit, blk, bl, NULL);
        FZ_CHECK(rc == 0, "committing the built block failed: %s", ldg_strerror(rc));
        break;
    case B_COMMIT_FAIL:
        ldg_store_fail_after(S, k);
        rc = checked(op_commit, blk, bl, NULL);
        ldg_store_fail_after(S, -1);
        FZ_CHECK(rc == 0 || rc == LDG_ESTORE, "injected failure gave %s", ldg_strerror(rc));
        if (rc) {
            FZ_CHECK(checked(op_commit, blk, bl, NULL) == LDG_EBLOCK,
                     "the build survived a failed commit");
            rc = apply_checked(blk, bl, all_true);
            FZ_CHECK(rc == 0, "after a failed commit, the block does not apply: %s",
                     ldg_strerror(rc));
        }
        break;
    case B_FOLLOWER:
        rc = apply_checked(blk, bl, all_true);
        FZ_CHECK(rc == 0, "a block build_block made does not apply: %s", ldg_strerror(rc));
        break;
    case B_COMMIT_WRONG:
        switch (what % 4) {
        case 0: /* another valid block */
            other_block(blk, bl, &wrong, &wl);
            FZ_CHECK(checked(op_commit, wrong, wl, NULL) == LDG_EBLOCK, "committed another block");
            break;
        case 1: /* the built block, with a broken certificate */
            sig.sig.bytes[what % sig.sig.size] ^= 0x40;
            FZ_CHECK(ldg_block_encode(hdr, hl, incl.raw, incl.len, incl.n, &sig, 1, 0, &wrong,
                                      &wl) == 0,
                     "encode");
            rc = checked(op_commit, wrong, wl, NULL);
            FZ_CHECK(rc == LDG_EBADSIG, "bad certificate: %s", ldg_strerror(rc));
            break;
        case 2: /* the built block, with no certificate */
            FZ_CHECK(ldg_block_encode(hdr, hl, incl.raw, incl.len, incl.n, NULL, 0, 0, &wrong,
                                      &wl) == 0,
                     "encode");
            FZ_CHECK(checked(op_commit, wrong, wl, NULL) == LDG_EBLOCK, "committed without votes");
            break;
        case 3: /* garbage */
            FZ_CHECK(checked(op_commit, blk, bl / 2, NULL) != 0, "committed half a block");
            break;
        }
        free(wrong);
        rc = checked(op_commit, blk, bl, NULL);
        FZ_CHECK(rc == LDG_EBLOCK, "the build survived a refused commit: %s", ldg_strerror(rc));
        rc = apply_checked(blk, bl, all_true);
        FZ_CHECK(rc == 0, "the built block does not apply after a refused commit: %s",
                 ldg_strerror(rc));
        break;
    }
    free(blk);
}

/* Stage a proposal and check what staging promises: nothing visible, nothing left open on
 * error, the staged block open on success. Returns the error; hash: the staged block's. */
static int stage_checked(const uint8_t *prop, size_t pl, const bool *pre,
                         uint8_t hash[LDG_DIGEST_LEN])
{
    static snapshot s0, s1;
    uint8_t built[LDG_DIGEST_LEN];
    ldg_store_abort_built(S);
    take(&s0);
    int rc = ldg_store_stage_block(S, prop, pl, pre, hash);
    FZ_CHECK(fz_ldg_err_known(rc), "stage returned %d", rc);
    take(&s1);
    FZ_CHECK(same_state(&s0, &s1), "staging changed visible state (%s)", ldg_strerror(rc));
    if (rc) {
        FZ_CHECK(ldg_store_built(S, built) == LDG_ENOTFOUND, "a failed stage kept a block open");
        return rc;
    }
    FZ_CHECK(ldg_store_built(S, built) == 0 && !memcmp(built, hash, LDG_DIGEST_LEN),
             "the staged block is not the one open");
    return 0;
}

/* Commit blk over what was staged; a refused commit drops the staged block. */
static int commit_staged(const uint8_t *blk, size_t bl)
{
    uint8_t built[LDG_DIGEST_LEN];
    int rc = checked(op_commit, blk, bl, NULL);
    if (rc)
        FZ_CHECK(ldg_store_built(S, built) == LDG_ENOTFOUND, "a refused commit kept the block");
    return rc;
}

/* Stage blk's proposal (the same block without a certificate), then commit blk. Returns the
 * first error; *staged says whether the stage passed. */
static int stage_then_commit(const uint8_t *hdr, size_t hl, const txlist *t, const bool *pre,
                             const uint8_t *blk, size_t bl, bool *staged)
{
    uint8_t *prop, hash[LDG_DIGEST_LEN], want[LDG_DIGEST_LEN];
    size_t pl;
    FZ_CHECK(ldg_block_encode(hdr, hl, t->raw, t->len, t->n, NULL, 0, 0, &prop, &pl) == 0,
             "encode proposal");
    int rc = stage_checked(prop, pl, pre, hash);
    free(prop);
    *staged = rc == 0;
    if (rc)
        return rc;
    FZ_CHECK(ldg_block_hash(&G, hdr, hl, want) == 0 && !memcmp(want, hash, LDG_DIGEST_LEN),
             "stage returned another hash");
    return commit_staged(blk, bl);
}

static void run_direct(const txlist *t0, uint64_t time_ms, const bool *pre, uint32_t round,
                       bool stage, int tamper)
{
    txlist t = *t0;
    fwl_BlockHeader h;
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], *blk;
    size_t hl, bl;
    ldg_tip tip;
    fwl_Signature sig[2];
    size_t n_sig = 1;
    int want = -1; /* -1: whatever build_block says; else the error a tampered block gets */

    ldg_store_tip(S, &tip);
    make_header(&t, time_ms, &h);
    uint64_t sig_height = h.height;
    uint32_t sig_round = round, enc_round = round;
    const fz_key *signer = &fz_validator;
    switch (tamper) {
    case -1: break;
    case T_HEIGHT_SKIP: h.height++, sig_height++, want = LDG_EBLOCK; break;
    case T_HEIGHT_SAME: h.height--, sig_height--, want = LDG_EBLOCK; break;
    case T_TIME_BACK:
        if (tip.time_ms > 0)
            h.time_ms = tip.time_ms - 1, want = LDG_EBLOCK;
        break;
    case T_PREV_FLIP: h.prev_hash.digest.bytes[time_ms % 32] ^= 1, want = LDG_EBLOCK; break;
    case T_PREV_ALG: h.prev_hash.alg = LDG_HASH_SHA3_256, want = LDG_EBLOCK; break;
    case T_COUNT: h.tx_count++, want = LDG_EBLOCK; break;
    case T_BODY: h.body_size++, want = LDG_EBLOCK; break;
    case T_ROOT: h.tx_root.digest.bytes[0] ^= 0x80, want = LDG_EBLOCK; break;
    case T_STATE_ROOT: h.has_state_root = true, want = LDG_EBLOCK; break;
    case T_VERSION: h.version = 2, want = LDG_EBLOCK; break;
    case T_CHAIN: h.chain_id[0] ^= 0x20, want = LDG_EBLOCK; break;
    case T_PROPOSER: set_key(&h.proposer, &fz_admin.pub), want = LDG_EBLOCK; break;
    case T_NO_PROPOSER: h.has_proposer = false, want = LDG_EBLOCK; break;
    case T_EXTRA_TX:
        t.raw[t.n] = (const uint8_t *)"";
        t.len[t.n++] = 0;
        want = LDG_EBLOCK;
        break;
    case T_NO_COMMIT: n_sig = 0, want = LDG_EBLOCK; break;
    case T_DUP_COMMIT: n_sig = 2, want = LDG_EBLOCK; break;
    case T_NON_VALIDATOR: signer = &fz_admin, want = LDG_EBLOCK; break;
    case T_WRONG_HEIGHT_SIG: sig_height++, want = LDG_EBADSIG; break;
    case T_WRONG_ROUND_SIG: sig_round = round + 1, want = LDG_EBADSIG; break;
    case T_WRONG_ROUND_ENC: enc_round = round + 1, want = LDG_EBADSIG; break;
    case T_SIG_FLIP: want = LDG_EBADSIG; break;
    case T_SIGNER_ALG: want = LDG_EBLOCK; break;
    }
    hl = encode_header(&h, hdr);
    FZ_CHECK(ldg_block_hash(&G, hdr, hl, hash) == 0, "block hash");
    fz_commit_sig(&G, signer, sig_height, sig_round, hash, &sig[0]);
    sig[1] = sig[0];
    if (tamper == T_SIG_FLIP)
        sig[0].sig.bytes[time_ms % sig[0].sig.size] ^= 0x01;
    if (tamper == T_SIGNER_ALG)
        sig[0].signer.alg = LDG_SIG_SECP256K1_ECDSA;

    int verdict = 0;
    if (want == -1) {
        verdict = build_verdict(&t, time_ms);
        ldg_store_abort_built(S);
    }
    FZ_CHECK(ldg_block_encode(hdr, hl, t.raw, t.len, t.n, sig, n_sig, enc_round, &blk, &bl) == 0,
             "encode");
    bool staged = false;
    int rc = stage ? stage_then_commit(hdr, hl, &t, pre, blk, bl, &staged)
                   : apply_checked(blk, bl, pre);
    free(blk);
    if (want != -1) {
        /* A broken certificate only shows at the commit: a staged proposal carries none, and
         * its txs may fail first. */
        if (stage && tamper >= T_NO_COMMIT)
            FZ_CHECK(!staged || rc == want, "tamper %d after staging: got %d (%s), want %s",
                     tamper, rc, ldg_strerror(rc), ldg_strerror(want));
        else
            FZ_CHECK(rc == want, "tamper %d: got %d (%s), want %s", tamper, rc, ldg_strerror(rc),
                     ldg_strerror(want));
    } else if (pre) {
        FZ_CHECK(rc == verdict, "direct block: %s says %d (%s), build_block says %d (%s)",
                 stage ? "stage" : "apply", rc, ldg_strerror(rc), verdict, ldg_strerror(verdict));
    } else {
        FZ_CHECK(rc == verdict || (rc == LDG_EBADSIG || rc == LDG_EBADKEY),
                 "direct block, unverified: %s says %d (%s), build_block says %d (%s)",
                 stage ? "stage" : "apply", rc, ldg_strerror(rc), verdict, ldg_strerror(verdict));
        FZ_CHECK(rc != 0 || verdict == 0, "took a block build_block would refuse");
    }
}

/* --- input ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} reader;

static bool rd_u8(reader *r, uint8_t *v)
{
    if (r->p >= r->end)
        return false;
    *v = *r->p++;
    return true;
}

/* A slice of up to max bytes; a short input truncates it. */
static bool rd_slice(reader *r, size_t max, const uint8_t **s, size_t *len)
{
    uint8_t lo, hi;
    if (!rd_u8(r, &lo) || !rd_u8(r, &hi))
        return false;
    size_t l = ((size_t)hi << 8 | lo) % (max + 1), left = (size_t)(r->end - r->p);
    if (l > left)
        l = left;
    *s = r->p;
    *len = l;
    r->p += l;
    return true;
}

static bool rd_txs(reader *r, txlist *t)
{
    uint8_t n;
    t->n = 0;
    if (!rd_u8(r, &n))
        return false;
    n %= MAX_TXS + 1;
    for (size_t i = 0; i < n; i++) {
        if (!rd_slice(r, LDG_TX_MAX + 16, &t->raw[t->n], &t->len[t->n]))
            break;
        t->n++;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldg_tip tip;
    ldg_store_tip(S, &tip);
    if (tip.height > 0)
        store_reset();
    ldg_store_abort_built(S); /* nothing carried over from the previous input */

    reader r = {data, data + size};
    for (int blocks = 0; blocks < MAX_BLOCKS; blocks++) {
        uint8_t ctl, what = 0;
        txlist t;
        if (!rd_u8(&r, &ctl))
            break;
        int mode = ctl & 3;
        bool bit2 = ctl & 4;
        uint32_t round = (ctl >> 3) & 1; /* direct, tamper: the commit certificate's round */
        ldg_store_tip(S, &tip);
        uint64_t time_ms = tip.time_ms + (uint64_t)(ctl >> 5) * 1000;
        bool stage = ctl & 0x10; /* direct, tamper */
        if (mode == M_RAW) {
            const uint8_t *blk;
            size_t len;
            if (!rd_slice(&r, 65535, &blk, &len))
                break;
            if (ctl & 8) { /* stage the bytes as a proposal, then commit them */
                uint8_t hash[LDG_DIGEST_LEN];
                if (stage_checked(blk, len, bit2 ? all_true : NULL, hash) == 0)
                    commit_staged(blk, len);
            } else {
                apply_checked(blk, len, bit2 ? all_true : NULL);
            }
            continue;
        }
        if (!rd_txs(&r, &t))
            break;
        if ((mode == M_TAMPER || (mode == M_BUILT && ((ctl >> 2) & 3) == B_COMMIT_WRONG)) &&
            !rd_u8(&r, &what))
            break;
        switch (mode) {
        case M_BUILT: run_built(&t, time_ms, (ctl >> 2) & 3, ctl >> 4, what); break;
        case M_DIRECT: run_direct(&t, time_ms, bit2 ? all_true : NULL, round, stage, -1); break;
        case M_TAMPER:
            run_direct(&t, time_ms, bit2 ? all_true : NULL, round, stage, what % T_COUNT_ALL);
            break;
        }
    }
    return 0;
}

/* --- seeds ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t buf[1 << 16];
    size_t len;
} seedbuf;

static void put8(seedbuf *s, uint8_t v)
{
    if (s->len < sizeof s->buf)
        s->buf[s->len++] = v;
}

static void put_slice(seedbuf *s, const uint8_t *p, size_t n)
{
    put8(s, (uint8_t)n);
    put8(s, (uint8_t)(n >> 8));
    for (size_t i = 0; i < n; i++)
        put8(s, p[i]);
}

static void put_txs(seedbuf *s, size_t from, size_t to)
{
    put8(s, (uint8_t)(to - from));
    for (size_t i = from; i < to; i++)
        put_slice(s, fz_samples[i].buf, fz_samples[i].len);
}

static void write_seeds(const char *dir)
{
    static seedbuf s;
    char name[32];
    fz_make_samples(&G);

    /* Every sample in one block, each mode. */
    s.len = 0, put8(&s, 0x21), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "built-all", s.buf, s.len);
    s.len = 0, put8(&s, 0x22), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "direct-all", s.buf, s.len);
    s.len = 0, put8(&s, 0x26), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "direct-all-pre", s.buf, s.len);
    s.len = 0, put8(&s, 0x2a), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "direct-all-round1", s.buf, s.len);
    s.len = 0, put8(&s, 0x32), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "staged-all", s.buf, s.len);
    s.len = 0, put8(&s, 0x3e), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "staged-all-pre-round1", s.buf, s.len);

    /* A chain of five blocks in mixed modes. */
    s.len = 0;
    put8(&s, 0x21), put_txs(&s, 0, 3);
    put8(&s, 0x42), put_txs(&s, 3, 4);
    put8(&s, 0x36), put_txs(&s, 4, 5);
    put8(&s, 0x26), put_txs(&s, 5, 6);
    put8(&s, 0x61), put_txs(&s, 6, 7);
    fz_write_seed(dir, "chain", s.buf, s.len);

    /* The proposer's commit and a follower's apply of the same build; wrong commits. */
    s.len = 0, put8(&s, 0x09), put_txs(&s, 0, FZ_N_SAMPLES);
    fz_write_seed(dir, "follower-all", s.buf, s.len);
    for (unsigned k = 0; k < 4; k++) {
        s.len = 0, put8(&s, 0x0d), put_txs(&s, 0, 3), put8(&s, (uint8_t)k);
        snprintf(name, sizeof name, "wrong-commit-%u", k);
        fz_write_seed(dir, name, s.buf, s.len);
    }

    /* Injected store failures at a spread of points. */
    for (unsigned k = 0; k < 16; k += 3) {
        s.len = 0, put8(&s, (uint8_t)(0x05 | k << 4)), put_txs(&s, 0, 4);
        snprintf(name, sizeof name, "inject-%u", k);
        fz_write_seed(dir, name, s.buf, s.len);
    }

    /* Each tampering, on a block of two txs after a first good block. */
    for (unsigned k = 0; k < T_COUNT_ALL; k++) {
        s.len = 0;
        put8(&s, 0x21), put_txs(&s, 0, 1);
        size_t second = s.len;
        put8(&s, 0x23), put_txs(&s, 1, 3), put8(&s, (uint8_t)k);
        snprintf(name, sizeof name, "tamper-%u", k);
        fz_write_seed(dir, name, s.buf, s.len);
        s.buf[second] = 0x33; /* the same, staged then committed */
        snprintf(name, sizeof name, "tamper-staged-%u", k);
        fz_write_seed(dir, name, s.buf, s.len);
    }

    /* A raw block (built on the fresh store, with real signatures), twice: the second is a
     * replay at the wrong height. */
    const uint8_t *raw[FZ_N_SAMPLES];
    size_t lens[FZ_N_SAMPLES], m = 0, hl, bl;
    int res[FZ_N_SAMPLES];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], *blk;
    for (size_t i = 0; i < FZ_N_SAMPLES; i++)
        raw[i] = fz_samples[i].buf, lens[i] = fz_samples[i].len;
    FZ_CHECK(ldg_store_build_block(S, raw, lens, FZ_N_SAMPLES, 1000, &fz_validator.pub, res, hdr,
                                   &hl, hash) == 0,
             "seed build");
    for (size_t i = 0; i < FZ_N_SAMPLES; i++)
        if (res[i] == 0)
            raw[m] = raw[i], lens[m++] = lens[i];
    fwl_Signature sig;
    fz_commit_sig(&G, &fz_validator, 1, 0, hash, &sig);
    FZ_CHECK(ldg_block_encode(hdr, hl, raw, lens, m, &sig, 1, 0, &blk, &bl) == 0, "seed encode");
    ldg_store_abort_built(S);
    s.len = 0, put8(&s, 0x00), put_slice(&s, blk, bl), put8(&s, 0x04), put_slice(&s, blk, bl);
    fz_write_seed(dir, "raw", s.buf, s.len);
    s.len = 0, put8(&s, 0x08), put_slice(&s, blk, bl);
    fz_write_seed(dir, "raw-staged", s.buf, s.len);
    free(blk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t gh[LDG_HASH_MAX];
    size_t ghl;
    /* p256-ecdsa (the genesis author's algorithm) is deprecated from height 4: inputs reach
     * both sides of the rule within a few blocks. */
    fz_genesis(&G, 4, 6);
    FZ_CHECK(ldg_genesis_hash(&G, gh, &ghl) == 0, "genesis hash");
    memcpy(genesis_hash, gh, LDG_DIGEST_LEN);
    memset(all_true, 1, sizeof all_true);
    T = malloc(sizeof *T);
    FZ_CHECK(T, "malloc");
    snprintf(store_dir, sizeof store_dir, "%s/store", fz_tmpdir("store_apply"));
    store_open();

    const char *dir = fz_corpus_dir(*argc, *argv);
    if (dir)
        write_seeds(dir);
    return 0;
}
