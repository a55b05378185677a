/* What the node/files tests share (test_files.c, test_config.c): a fresh mkdtemp directory
 * per test, removed afterwards; file helpers; keys to fill records with. */
#ifndef FWL_TESTS_NODE_FILES_FIXTURE_H
#define FWL_TESTS_NODE_FILES_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "node/files/files.h"

#define N(a) (sizeof(a) / sizeof *(a))

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error(__VA_ARGS__);                                                      \
            print_error("\n");                                                             \
            fail_msg("%s", #cond);                                                         \
        }                                                                                  \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* Fixture: a fresh directory per test                                                       */

typedef struct {
    char dir[64];
    char path[4096];
} fixture;

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/fwl-test-files-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    int rc = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* f->path = dir/name */
static inline const char *P(fixture *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

static inline void put_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static inline size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *buf;
    assert_int_equal(node_read_file(path, 1u << 20, &buf, len), 0);
    return buf;
}

static inline void fill_key(ldg_pubkey *k, uint32_t alg, uint8_t byte)
{
    const ldg_sig_impl *impl = ldg_sig_by_id(alg);
    assert_non_null(impl);
    k->alg = alg;
    k->len = impl->pub_len;
    memset(k->key, byte, k->len);
}

/* Keys as the JSON files write them. */
#define ED_KEY "1111111111111111111111111111111111111111111111111111111111111111"
#define K1_KEY "022222222222222222222222222222222222222222222222222222222222222222"
#define ADMIN "{\"alg\": \"ed25519\", \"key\": \"" ED_KEY "\"}"
#define ADMIN2 "{\"alg\": \"ed25519\", \"key\": \"" ED_KEY "00\"}"
#define VALIDATOR "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"power\": 1}"
#define K1_KEY2 "033333333333333333333333333333333333333333333333333333333333333333"
#define VALIDATOR2 "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY2 "\"}"
#define ID1 "4444444444444444444444444444444444444444444444444444444444444444"
#define ID2 "5555555555555555555555555555555555555555555555555555555555555555"
#define P256_KEY "026666666666666666666666666666666666666666666666666666666666666666"
#define ED_ALG "ed25519"
#define K1_ALG "secp256k1-ecdsa"
#define P256_ALG "p256-ecdsa"
/* The validators above with an identity {"alg": alg, "key": key}. */
#define VALIDATOR_ID(alg, key)                                                               \
    "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"identity\": {\"alg\": \"" alg    \
    "\", \"key\": \"" key "\"}}"
#define VALIDATOR2_ID(alg, key)                                                              \
    "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY2 "\", \"identity\": {\"alg\": \"" alg   \
    "\", \"key\": \"" key "\"}}"

#endif
