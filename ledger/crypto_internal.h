/*
 * Inside the algorithm registry (ledger/crypto.c and ledger/alg_*.c); not part of the public
 * API. Each algorithm file exports exactly one implementation struct, and crypto.c's two
 * tables are the only place that lists them.
 *
 * Thread safety: every implementation may be called from several threads at once (signature
 * verification runs on the libuv thread pool). Shared state is created once under
 * pthread_once and is read-only afterwards.
 */
#ifndef FWL_LEDGER_CRYPTO_INTERNAL_H
#define FWL_LEDGER_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <secp256k1.h>

#include "ledger/ledger.h"

extern const ldg_hash_impl ldg__hash_sha256;
extern const ldg_hash_impl ldg__hash_sha3_256;

extern const ldg_sig_impl ldg__sig_secp256k1_ecdsa;
extern const ldg_sig_impl ldg__sig_secp256k1_schnorr;
extern const ldg_sig_impl ldg__sig_ed25519;
extern const ldg_sig_impl ldg__sig_p256_ecdsa;

/* Hash the concatenation of n parts with md (a fetched EVP_MD, or NULL when the fetch failed:
 * then LDG_EUNKNOWN_ALG). One EVP_MD_CTX is allocated and freed per call.
 * Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (NULL part with a non-zero length), LDG_ENOMEM. */
int ldg__evp_hash(const EVP_MD *md, const uint8_t *const *parts, const size_t *lens, size_t n,
                  uint8_t *out);

/* The process-wide libsecp256k1 context shared by both secp256k1 algorithms: created and
 * randomized once, then only used through const pointers (libsecp256k1 documents const
 * operations on a context as thread-safe). NULL if it could not be created. */
const secp256k1_context *ldg__secp256k1_ctx(void);

/* keypair() for algorithms whose 32-byte seed IS the secret key: copy it (sec may be seed)
 * and derive the public key with pubkey; on failure sec is wiped. Errors: pubkey's, and
 * LDG_EBADKEY for NULL arguments. */
int ldg__keypair_from_seed(const uint8_t *seed, uint8_t *sec, size_t sec_len, uint8_t *pub,
                           int (*pubkey)(const uint8_t *sec, uint8_t *pub));

#endif
