/*
 * bench_store: the write path's cost in the store alone, for `make bench` (scripts/bench).
 * Not a test.
 *
 *   bench_store N [RUNS]
 *       pre-signs N publish transactions on 1,000 hardware models (signing is not timed),
 *       then commits them in blocks of 1,000 (ldg_store_build_block, a certificate,
 *       ldg_store_commit_built, synced) into a fresh store, once with the state tree
 *       (issue 11) and once without it (ldg_store_bench_state_tree), RUNS times each,
 *       interleaved; prints committed releases/s of each run and the medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"

#define BLOCK 1000

static ldg_genesis G;
static ldg_seckey vsec, asec;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, ldg_strerror(rc));
    exit(1);
}

static void keypair(uint32_t alg, uint8_t seed_byte, ldg_seckey *sec, ldg_pubkey *pub)
{
    const ldg_sig_impl *im = ldg_sig_by_id(alg);
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    if (im->keypair(seed, sec->sec, pub->key))
        die("keypair", LDG_EBADKEY);
    sec->alg = pub->alg = alg;
    pub->len = im->pub_len;
}

static void genesis(void)
{
    ldg_pubkey vpub, apub, admin;
    ldg_seckey unused;
    keypair(LDG_SIG_SECP256K1_SCHNORR, 3, &vsec, &vpub);
    keypair(LDG_SIG_SECP256K1_ECDSA, 4, &asec, &apub);
    keypair(LDG_SIG_SECP256K1_ECDSA, 1, &unused, &admin);
    snprintf(G.chain_id, sizeof G.chain_id, "bench-store");
    G.hash_alg = LDG_HASH_SHA256;
    G.admins[0] = admin;
    G.n_admins = 1;
    G.admin_threshold = 1;
    G.validators[0] = vpub;
    G.validator_power[0] = 1;
    G.n_validators = 1;
    snprintf(G.authors[0].product, sizeof G.authors[0].product, "bench");
    G.authors[0].key = apub;
    G.n_authors = 1;
}

/* The i-th release: version 1.i.0 on model bench-hw-(i % 1000), like scripts/bench_client.c. */
static void sign_publish(size_t i, uint8_t **tx, size_t *len)
{
    static fwl_TxBody b;
    memset(&b, 0, sizeof b);
    snprintf(b.chain_id, sizeof b.chain_id, "%s", G.chain_id);
    b.nonce = i + 1;
    b.which_payload = fwl_TxBody_publish_tag;
    b.payload.publish.has_release = true;
    fwl_Release *r = &b.payload.publish.release;
    snprintf(r->product, sizeof r->product, "bench");
    snprintf(r->provider, sizeof r->provider, "Bench Corp");
    r->published_at = 1700000000;
    snprintf(r->version, sizeof r->version, "1.%zu.0", i);
    r->security_version = i + 1;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    const uint8_t *part = (const uint8_t *)&i;
    size_t pl = sizeof i, hl;
    ldg_hash(LDG_HASH_SHA256, &part, &pl, 1, r->file_hash.digest.bytes, &hl);
    r->file_hash.digest.size = 32;
    snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/bench/%zu.bin", i);
    snprintf(r->file_name, sizeof r->file_name, "bench-%zu.bin", i);
    r->file_size = 1 << 20;
    r->hardware_count = 1;
    snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "bench-hw-%zu", i % 1000);
    uint8_t buf[LDG_TX_MAX], h[LDG_DIGEST_LEN];
    int rc = ldg_tx_sign(&G, &b, &asec, 1, NULL, buf, sizeof buf, len, h);
    if (rc || !(*tx = malloc(*len)))
        die("sign", rc ? rc : LDG_ENOMEM);
    memcpy(*tx, buf, *len);
}

/* Build, certify and commit one block over txs[0..n). */
static void commit_block(ldg_store *s, uint8_t **txs, size_t *lens, size_t n, uint64_t height)
{
    static int res[BLOCK];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], d[LDG_DIGEST_LEN];
    size_t hl, bl;
    int rc = ldg_store_build_block(s, (const uint8_t *const *)txs, lens, n,
                                   1700000000000ull + height, &G.validators[0], res, hdr, &hl, hash);
    for (size_t i = 0; !rc && i < n; i++)
        rc = res[i];
    if (rc)
        die("build", rc);
    fwl_Signature sig = fwl_Signature_init_zero;
    ldg_commit_digest(&G, height, 0, LDG_VOTE_PRECOMMIT, hash, d);
    const ldg_sig_impl *im = ldg_sig_by_id(vsec.alg);
    im->sign(vsec.sec, d, NULL, sig.sig.bytes);
    sig.sig.size = (pb_size_t)im->sig_len;
    sig.has_signer = true;
    sig.signer.alg = G.validators[0].alg;
    memcpy(sig.signer.key.bytes, G.validators[0].key, G.validators[0].len);
    sig.signer.key.size = (pb_size_t)G.validators[0].len;
    uint8_t *blk;
    if ((rc = ldg_block_encode(hdr, hl, (const uint8_t *const *)txs, lens, n, &sig, 1, 0, &blk, &bl)))
        die("encode", rc);
    if ((rc = ldg_store_commit_built(s, blk, bl)))
        die("commit", rc);
    free(blk);
}

static double run(uint8_t **txs, size_t *lens, size_t n, bool tree)
{
    char dir[] = "/tmp/fwl-bench-store-XXXXXX", cmd[64];
    ldg_store *s;
    if (!mkdtemp(dir))
        die("mkdtemp", LDG_EIO);
    int rc = ldg_store_open(&s, dir, &G, (size_t)16 << 30);
    if (rc)
        die("open", rc);
    ldg_store_bench_state_tree(s, tree);
    double t0 = now_s();
    for (size_t i = 0, h = 1; i < n; i += BLOCK, h++)
        commit_block(s, txs + i, lens + i, n - i < BLOCK ? n - i : BLOCK, h);
    double secs = now_s() - t0;
    ldg_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "bench_store: cannot remove %s\n", dir);
    return (double)n / secs;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000, runs = argc > 2 ? (size_t)atol(argv[2]) : 3;
    if (n == 0 || runs == 0 || runs > 15) {
        fprintf(stderr, "usage: bench_store N [RUNS (1..15)]\n");
        return 2;
    }
    genesis();
    uint8_t **txs = malloc(n * sizeof *txs);
    size_t *lens = malloc(n * sizeof *lens);
    if (!txs || !lens)
        die("memory", LDG_ENOMEM);
    for (size_t i = 0; i < n; i++)
        sign_publish(i, &txs[i], &lens[i]);
    double with[15], without[15];
    for (size_t r = 0; r < runs; r++) {
        without[r] = run(txs, lens, n, false);
        with[r] = run(txs, lens, n, true);
        printf("run %zu releases %zu without_tree_per_s %.0f with_tree_per_s %.0f\n", r, n,
               without[r], with[r]);
    }
    qsort(with, runs, sizeof *with, cmp);
    qsort(without, runs, sizeof *without, cmp);
    printf("median releases %zu without_tree_per_s %.0f with_tree_per_s %.0f ratio %.3f\n", n,
           without[runs / 2], with[runs / 2], with[runs / 2] / without[runs / 2]);
    for (size_t i = 0; i < n; i++)
        free(txs[i]);
    free(txs);
    free(lens);
    return 0;
}
