/*
 * fuzz_files: the JSON loaders node_genesis_load, node_config_load and node_key_load on
 * arbitrary bytes written to a file (one temporary directory per process, reused).
 *
 * Checks: never crashes or leaks; an error is a documented one (NODE_ECONFIG, LDG_ENOMEM,
 * LDG_ETOOBIG, LDG_EIO), the message fits err and the output struct is zeroed; on success
 * the struct saves (node_*_save) and loads back identical ("save-then-load always gives
 * back the same struct"), and a loaded genesis passes the basic shape rules (1..8 admins,
 * threshold within them, 1..32 validators with power >= 1).
 * Seeds: files written by the savers at startup; tests/fuzz/fuzz_files.dict for the keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/files/files.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char in_path[512], out_path[512];
static ldg_genesis *G1, *G2;

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void copy_seed(const char *dir, const char *name, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (node_read_file(path, 1 << 20, &buf, &len) == 0) {
        fz_write_seed(dir, name, buf, len);
        free(buf);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = fz_tmpdir("files");
    snprintf(in_path, sizeof in_path, "%s/in.json", tmp);
    snprintf(out_path, sizeof out_path, "%s/out.json", tmp);
    G1 = malloc(sizeof *G1);
    G2 = malloc(sizeof *G2);
    FZ_CHECK(G1 && G2, "malloc");

    const char *dir = fz_corpus_dir(*argc, *argv);
    if (!dir)
        return 0;
    ldg_genesis g;
    fz_genesis(&g, 64, 200);
    g.n_admins = 2; /* a second admin of another algorithm, threshold 2 */
    g.admins[1] = fz_other.pub;
    g.admin_threshold = 2;
    g.validator_power[0] = 7;
    FZ_CHECK(node_genesis_save(out_path, &g) == 0, "genesis save");
    copy_seed(dir, "genesis.json", out_path);

    const fz_key *keys[] = {&fz_admin, &fz_validator, &fz_author, &fz_other};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        node_key k;
        char name[32];
        memset(&k, 0, sizeof k);
        k.alg = keys[i]->sec.alg;
        memcpy(k.sec, keys[i]->sec.sec, sizeof k.sec);
        k.pub = keys[i]->pub;
        FZ_CHECK(node_key_save(out_path, &k) == 0, "key save %zu", i);
        snprintf(name, sizeof name, "key%zu.json", i);
        copy_seed(dir, name, out_path);
    }

    node_config c;
    node_config_defaults(&c);
    FZ_CHECK(node_config_save(out_path, &c) == 0, "config save");
    copy_seed(dir, "config.json", out_path);
    snprintf(c.rpc_host, sizeof c.rpc_host, "::1");
    snprintf(c.data_dir, sizeof c.data_dir, "/var/lib/fwl");
    c.block_interval_ms = 3600000;
    FZ_CHECK(node_config_save(out_path, &c) == 0, "config save v6");
    copy_seed(dir, "config-v6.json", out_path);
    return 0;
}

static void check_error(int rc, const char *err, size_t errlen, const void *out, size_t outlen,
                        const char *what)
{
    FZ_CHECK(rc == NODE_ECONFIG || rc == LDG_ENOMEM || rc == LDG_ETOOBIG || rc == LDG_EIO,
             "%s: error %d (%s)", what, rc, node_strerror(rc));
    FZ_CHECK(strnlen(err, errlen) < errlen, "%s: err not terminated", what);
    FZ_CHECK(all_zero(out, outlen), "%s: output not zeroed on error", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t errlen = size % 5 == 0 ? 9 : sizeof err; /* a short buffer now and then */
    FILE *f = fopen(in_path, "wb");
    FZ_CHECK(f, "open %s", in_path);
    FZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "write %s", in_path);

    /* Genesis. */
    int rc = node_genesis_load(in_path, G1, err, errlen);
    if (rc) {
        check_error(rc, err, errlen, G1, sizeof *G1, "genesis");
    } else {
        FZ_CHECK(G1->n_admins >= 1 && G1->n_admins <= LDG_MAX_ADMINS, "n_admins");
        FZ_CHECK(G1->admin_threshold >= 1 && G1->admin_threshold <= G1->n_admins, "threshold");
        FZ_CHECK(G1->n_validators >= 1 && G1->n_validators <= LDG_MAX_VALIDATORS, "validators");
        for (size_t i = 0; i < G1->n_validators; i++)
            FZ_CHECK(G1->validator_power[i] >= 1, "power 0");
        FZ_CHECK(G1->n_authors <= LDG_MAX_GENESIS_AUTHORS && G1->n_alg_rules <= LDG_MAX_ALG_RULES,
                 "counts");
        FZ_CHECK(ldg_hash_by_id(G1->hash_alg) != NULL, "hash alg");
        FZ_CHECK(ldg_alg_check(G1, 0, G1->hash_alg, UINT64_MAX) == 0, "chain hash not allowed");
        rc = node_genesis_save(out_path, G1);
        FZ_CHECK(rc == 0, "a loaded genesis does not save: %d (%s)", rc, node_strerror(rc));
        rc = node_genesis_load(out_path, G2, err, sizeof err);
        FZ_CHECK(rc == 0, "a saved genesis does not load: %s", err);
        FZ_CHECK(!memcmp(G1, G2, sizeof *G1), "genesis differs after save and load");
        uint8_t h1[LDG_HASH_MAX], h2[LDG_HASH_MAX];
        size_t l1, l2;
        FZ_CHECK(ldg_genesis_hash(G1, h1, &l1) == 0 && ldg_genesis_hash(G2, h2, &l2) == 0 &&
                     l1 == l2 && !memcmp(h1, h2, l1),
                 "genesis hash differs");
    }

    /* Node config. */
    node_config c1, c2;
    rc = node_config_load(in_path, &c1, err, errlen);
    if (rc) {
        check_error(rc, err, errlen, &c1, sizeof c1, "config");
    } else {
        FZ_CHECK(c1.rpc_port >= 1 && c1.rpc_port <= 65535, "port %d", c1.rpc_port);
        FZ_CHECK(c1.data_dir[0] == '/' && c1.genesis[0] == '/' && c1.validator_key[0] == '/',
                 "paths not resolved against the config's directory");
        rc = node_config_save(out_path, &c1);
        FZ_CHECK(rc == 0, "a loaded config does not save: %d (%s)", rc, node_strerror(rc));
        rc = node_config_load(out_path, &c2, err, sizeof err);
        FZ_CHECK(rc == 0, "a saved config does not load: %s", err);
        FZ_CHECK(!memcmp(&c1, &c2, sizeof c1), "config differs after save and load");
    }

    /* Key file. */
    node_key k1, k2;
    rc = node_key_load(in_path, &k1, err, errlen);
    if (rc) {
        check_error(rc, err, errlen, &k1, sizeof k1, "key");
    } else {
        const ldg_sig_impl *im = ldg_sig_by_id(k1.alg);
        uint8_t pub[LDG_PUBKEY_MAX];
        FZ_CHECK(im && k1.pub.alg == k1.alg && k1.pub.len == im->pub_len, "key shape");
        FZ_CHECK(im->pubkey(k1.sec, pub) == 0 && !memcmp(pub, k1.pub.key, im->pub_len),
                 "public key is not the secret's");
        rc = node_key_save(out_path, &k1);
        FZ_CHECK(rc == 0, "a loaded key does not save: %d (%s)", rc, node_strerror(rc));
        rc = node_key_load(out_path, &k2, err, sizeof err);
        FZ_CHECK(rc == 0, "a saved key does not load: %s", err);
        FZ_CHECK(!memcmp(&k1, &k2, sizeof k1), "key differs after save and load");
    }
    return 0;
}
