/*
 * SHA-256 through OpenSSL's EVP interface. The EVP_MD is fetched once (pthread_once)
 * and shared: a fetched EVP_MD is immutable and safe to use from any thread; the per-message
 * EVP_MD_CTX is per call (see ldg__evp_hash).
 */
#include <pthread.h>

#include "ledger/crypto_internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *md; /* NULL if the fetch failed: every hash is then LDG_EUNKNOWN_ALG */

static void fetch(void)
{
    md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static int hash(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t *out)
{
    pthread_once(&once, fetch);
    return ldg__evp_hash(md, parts, lens, n, out);
}

const ldg_hash_impl ldg__hash_sha256 = {
    .id = LDG_HASH_SHA256,
    .name = "sha256",
    .digest_len = 32,
    .hash = hash,
};
