/*
 * Shared fixtures for the libFuzzer targets in tests/fuzz/ (header-only: each target is one
 * translation unit, built by `make fuzz`).
 *
 * - FZ_CHECK: an invariant violation is a crash (abort), so libFuzzer saves the input.
 * - Fixed keys derived from constant seeds and a fixed genesis with one admin, one
 *   validator, one genesis author and a few algorithm rules (one deprecated from a height
 *   the caller picks), so every target and every seed agrees on the chain.
 * - Valid sample transactions (ldg_tx_sign), used to write seed inputs.
 * - Temporary directories: one per process, removed at exit.
 * - Seeds: written by LLVMFuzzerInitialize into the first corpus directory on the command
 *   line (libFuzzer calls it before reading the corpus), never into a crash reproducer run.
 */
#ifndef FWL_FUZZ_COMMON_H
#define FWL_FUZZ_COMMON_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"

#define FZ_CHECK(cond, ...)                                                                  \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "\n");                                                           \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Every error code ledger.h declares. */
static inline int fz_ldg_err_known(int rc)
{
    return rc <= 0 && rc >= LDG_ETIME;
}

/* --- keys and genesis ------------------------------------------------------------------- */

typedef struct {
    ldg_seckey sec;
    ldg_pubkey pub;
} fz_key;

/* admin: ed25519; validator: secp256k1-schnorr; author (genesis author of "cam-fw"):
 * p256-ecdsa; other (not registered): secp256k1-ecdsa. */
static fz_key fz_admin, fz_validator, fz_author, fz_other;

static inline void fz_mkkey(fz_key *k, uint32_t alg, uint8_t seed_byte)
{
    const ldg_sig_impl *im = ldg_sig_by_id(alg);
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    memset(k, 0, sizeof *k);
    FZ_CHECK(im && im->keypair(seed, k->sec.sec, k->pub.key) == 0, "keypair alg %u", alg);
    k->sec.alg = k->pub.alg = alg;
    k->pub.len = im->pub_len;
}

static inline void fz_keys(void)
{
    static int done;
    if (done)
        return;
    fz_mkkey(&fz_admin, LDG_SIG_ED25519, 1);
    fz_mkkey(&fz_validator, LDG_SIG_SECP256K1_SCHNORR, 2);
    fz_mkkey(&fz_author, LDG_SIG_P256_ECDSA, 3);
    fz_mkkey(&fz_other, LDG_SIG_SECP256K1_ECDSA, 4);
    done = 1;
}

/* Chain "fuzz-chain", sha256; p256-ecdsa deprecated from p256_from (so the genesis author
 * can sign below that height only), sha3-256 deprecated from sha3_from, secp256k1-ecdsa
 * explicitly allowed. */
static inline void fz_genesis(ldg_genesis *g, uint64_t p256_from, uint64_t sha3_from)
{
    fz_keys();
    memset(g, 0, sizeof *g);
    snprintf(g->chain_id, sizeof g->chain_id, "fuzz-chain");
    g->hash_alg = LDG_HASH_SHA256;
    g->genesis_time_ms = 0;
    g->admins[0] = fz_admin.pub;
    g->n_admins = 1;
    g->admin_threshold = 1;
    g->validators[0] = fz_validator.pub;
    g->validator_power[0] = 1;
    g->n_validators = 1;
    snprintf(g->authors[0].product, sizeof g->authors[0].product, "cam-fw");
    snprintf(g->authors[0].name, sizeof g->authors[0].name, "Acme");
    g->authors[0].key = fz_author.pub;
    g->n_authors = 1;
    g->alg_rules[0] = (ldg_alg_rule){1, LDG_SIG_P256_ECDSA, LDG_ALG_DEPRECATED, p256_from};
    g->alg_rules[1] = (ldg_alg_rule){0, LDG_HASH_SHA3_256, LDG_ALG_DEPRECATED, sha3_from};
    g->alg_rules[2] = (ldg_alg_rule){1, LDG_SIG_SECP256K1_ECDSA, LDG_ALG_ALLOWED, 0};
    g->n_alg_rules = 3;
}

/* --- sample transactions ---------------------------------------------------------------- */

typedef struct {
    uint8_t buf[LDG_TX_MAX];
    size_t len;
} fz_tx;

static fwl_TxBody fz_body;

static inline void fz_sign(const ldg_genesis *g, fz_tx *t, const fz_key *const *keys, size_t n)
{
    ldg_seckey ks[4];
    uint8_t hash[LDG_DIGEST_LEN];
    for (size_t i = 0; i < n; i++)
        ks[i] = keys[i]->sec;
    FZ_CHECK(ldg_tx_sign(g, &fz_body, ks, n, NULL, t->buf, sizeof t->buf, &t->len, hash) == 0,
             "ldg_tx_sign");
}

static inline void fz_body_init(const ldg_genesis *g, uint64_t nonce, pb_size_t which)
{
    memset(&fz_body, 0, sizeof fz_body);
    snprintf(fz_body.chain_id, sizeof fz_body.chain_id, "%s", g->chain_id);
    fz_body.nonce = nonce;
    fz_body.which_payload = which;
}

static inline void fz_publish(const ldg_genesis *g, fz_tx *t, const fz_key *k, uint64_t nonce,
                              const char *version, uint64_t secver, uint8_t file_byte,
                              uint32_t hash_alg)
{
    fz_body_init(g, nonce, fwl_TxBody_publish_tag);
    fz_body.payload.publish.has_release = true;
    fwl_Release *r = &fz_body.payload.publish.release;
    snprintf(r->product, sizeof r->product, "cam-fw");
    snprintf(r->provider, sizeof r->provider, "Acme Corp");
    r->published_at = 1700000000;
    snprintf(r->version, sizeof r->version, "%s", version);
    r->security_version = secver;
    r->has_file_hash = true;
    r->file_hash.alg = hash_alg;
    memset(r->file_hash.digest.bytes, file_byte, 32);
    r->file_hash.digest.size = 32;
    snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/cam-%s.bin", version);
    snprintf(r->file_name, sizeof r->file_name, "cam-%s.bin", version);
    r->file_size = 123456;
    r->hardware_count = 2;
    snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "cam-v2");
    r->hardware[0].rev_min = 2;
    r->hardware[0].rev_max = 5;
    r->hardware[0].required_addons_count = 1;
    snprintf(r->hardware[0].required_addons[0], sizeof r->hardware[0].required_addons[0], "lora");
    snprintf(r->hardware[1].model, sizeof r->hardware[1].model, "cam-v3");
    r->dependencies_count = 2;
    snprintf(r->dependencies[0].package, sizeof r->dependencies[0].package, "libfoo");
    snprintf(r->dependencies[0].constraint, sizeof r->dependencies[0].constraint, ">=2.1.0,<3");
    snprintf(r->dependencies[1].package, sizeof r->dependencies[1].package, "bootloader");
    snprintf(r->dependencies[1].constraint, sizeof r->dependencies[1].constraint, "^1.2");
    const fz_key *ks[] = {k};
    fz_sign(g, t, ks, 1);
}

static inline void fz_revoke(const ldg_genesis *g, fz_tx *t, const fz_key *const *signers,
                             size_t n, uint64_t nonce, uint8_t file_byte)
{
    fz_body_init(g, nonce, fwl_TxBody_revoke_tag);
    fwl_RevokeTx *r = &fz_body.payload.revoke;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    memset(r->file_hash.digest.bytes, file_byte, 32);
    r->file_hash.digest.size = 32;
    r->reason = fwl_RevokeReason_REVOKE_VULNERABLE;
    snprintf(r->note, sizeof r->note, "CVE-2026-0001");
    fz_sign(g, t, signers, n);
}

static inline void fz_author_tx(const ldg_genesis *g, fz_tx *t, const fz_key *signer,
                                uint64_t nonce, fwl_AuthorOp op, const fz_key *who)
{
    fz_body_init(g, nonce, fwl_TxBody_author_tag);
    fwl_AuthorTx *a = &fz_body.payload.author;
    a->op = op;
    snprintf(a->product, sizeof a->product, "cam-fw");
    a->has_key = true;
    a->key.alg = who->pub.alg;
    memcpy(a->key.key.bytes, who->pub.key, who->pub.len);
    a->key.key.size = (pb_size_t)who->pub.len;
    snprintf(a->name, sizeof a->name, "Other");
    const fz_key *ks[] = {signer};
    fz_sign(g, t, ks, 1);
}

/* A chain's worth of valid transactions, in an order that applies cleanly from genesis:
 * publish, publish (newer), author add, publish by the new author, revoke by its author,
 * revoke of the first author's release by the new author co-signed by the admin, author remove. */
#define FZ_N_SAMPLES 7
static fz_tx fz_samples[FZ_N_SAMPLES];

static inline void fz_make_samples(const ldg_genesis *g)
{
    const fz_key *author_only[] = {&fz_author};
    const fz_key *other_admin[] = {&fz_other, &fz_admin};
    fz_publish(g, &fz_samples[0], &fz_author, 1, "1.0.0", 1, 0xa1, LDG_HASH_SHA256);
    fz_publish(g, &fz_samples[1], &fz_author, 2, "1.1.0-rc.1+b7", 2, 0xa2, LDG_HASH_SHA256);
    fz_author_tx(g, &fz_samples[2], &fz_admin, 1, fwl_AuthorOp_AUTHOR_ADD, &fz_other);
    fz_publish(g, &fz_samples[3], &fz_other, 1, "2.0.0", 3, 0xa3, LDG_HASH_SHA256);
    fz_revoke(g, &fz_samples[4], author_only, 1, 3, 0xa1);
    fz_revoke(g, &fz_samples[5], other_admin, 2, 2, 0xa2);
    fz_author_tx(g, &fz_samples[6], &fz_admin, 2, fwl_AuthorOp_AUTHOR_REMOVE, &fz_other);
}

/* A validator's precommit signature over block_hash at height (round 0), the commit
 * certificate of a one-validator chain. */
static inline void fz_commit_sig(const ldg_genesis *g, const fz_key *k, uint64_t height,
                                 uint32_t round, const uint8_t *hash, fwl_Signature *sig)
{
    uint8_t d[LDG_DIGEST_LEN];
    const ldg_sig_impl *im = ldg_sig_by_id(k->sec.alg);
    memset(sig, 0, sizeof *sig);
    FZ_CHECK(ldg_commit_digest(g, height, round, LDG_VOTE_PRECOMMIT, hash, d) == 0, "digest");
    FZ_CHECK(im->sign(k->sec.sec, d, NULL, sig->sig.bytes) == 0, "sign");
    sig->sig.size = (pb_size_t)im->sig_len;
    sig->has_signer = true;
    sig->signer.alg = k->pub.alg;
    memcpy(sig->signer.key.bytes, k->pub.key, k->pub.len);
    sig->signer.key.size = (pb_size_t)k->pub.len;
}

/* --- temporary directories and seed files ----------------------------------------------- */

static char fz_tmp_root[256];

static inline int fz_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static inline void fz_rm_rf(const char *path)
{
    nftw(path, fz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fz_tmp_cleanup(void)
{
    if (fz_tmp_root[0])
        fz_rm_rf(fz_tmp_root);
}

/* One directory per process, on tmpfs when there is one (LMDB syncs every commit). */
static inline const char *fz_tmpdir(const char *name)
{
    if (fz_tmp_root[0])
        return fz_tmp_root;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(fz_tmp_root, sizeof fz_tmp_root, "%s/fwl-fuzz-%s-XXXXXX", base ? base : "/tmp", name);
    FZ_CHECK(mkdtemp(fz_tmp_root), "mkdtemp %s", fz_tmp_root);
    atexit(fz_tmp_cleanup);
    return fz_tmp_root;
}

/* The first command-line argument that is a directory: libFuzzer's corpus, or NULL. */
static inline const char *fz_corpus_dir(int argc, char **argv)
{
    struct stat st;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            return argv[i];
    return NULL;
}

static inline void fz_write_seed(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

#endif
