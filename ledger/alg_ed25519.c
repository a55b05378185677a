/*
 * Ed25519 (RFC 8032, pure) with OpenSSL: the 32-byte secret key is the RFC's private key
 * (the seed), the public key is 32 bytes, the signature 64 bytes. The 32-byte digest is the
 * signed message. Signing is deterministic; aux is not used.
 *
 * Cost: OpenSSL has no way to verify against raw key bytes, so verify builds an EVP_PKEY
 * from the 32 bytes and an EVP_MD_CTX on every call, both freed before returning. Measured
 * with OpenSSL 3.0 on the 2-core dev machine: ~7 us of a ~150-190 us verify (under 5%), so
 * they are not cached (an EVP_MD_CTX may not be shared between threads anyway).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ledger/crypto_internal.h"

#define PUB_LEN 32
#define SEC_LEN 32
#define SIG_LEN 64

static int pubkey(const uint8_t *sec, uint8_t *pub)
{
    if (!sec || !pub)
        return LDG_EBADKEY;
    /* OpenSSL copies the private key into the EVP_PKEY and wipes it on free. */
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, SEC_LEN);
    if (!k)
        return LDG_ENOMEM;
    size_t len = PUB_LEN;
    int ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == PUB_LEN;
    EVP_PKEY_free(k);
    if (!ok) {
        memset(pub, 0, PUB_LEN);
        return LDG_ENOMEM;
    }
    return 0;
}

/* The seed is the RFC 8032 private key: every 32-byte value is valid. */
static int keypair(const uint8_t seed[32], uint8_t *sec, uint8_t *pub)
{
    return ldg__keypair_from_seed(seed, sec, SEC_LEN, pub, pubkey);
}

static int sign(const uint8_t *sec, const uint8_t digest[32], const uint8_t *aux, uint8_t *sig)
{
    (void)aux;
    if (!sec || !digest || !sig)
        return LDG_EBADKEY;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, SEC_LEN);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t len = SIG_LEN;
    int ok = k && c && EVP_DigestSignInit_ex(c, NULL, NULL, NULL, NULL, k, NULL) == 1 &&
             EVP_DigestSign(c, sig, &len, digest, 32) == 1 && len == SIG_LEN;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    if (!ok) {
        memset(sig, 0, SIG_LEN);
        return LDG_ENOMEM;
    }
    return 0;
}

static int verify(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                  const uint8_t *sig, size_t sig_len)
{
    if (!pub || pub_len != PUB_LEN)
        return LDG_EBADKEY;
    if (!sig || sig_len != SIG_LEN || !digest)
        return LDG_EBADSIG;
    /* Any 32 bytes make an EVP_PKEY; a string that is not a point fails in verify below. */
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, PUB_LEN);
    if (!k)
        return LDG_EBADKEY;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int rc = LDG_ENOMEM;
    if (c && EVP_DigestVerifyInit_ex(c, NULL, NULL, NULL, NULL, k, NULL) == 1)
        rc = EVP_DigestVerify(c, sig, SIG_LEN, digest, 32) == 1 ? 0 : LDG_EBADSIG;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return rc;
}

const ldg_sig_impl ldg__sig_ed25519 = {
    .id = LDG_SIG_ED25519,
    .name = "ed25519",
    .pub_len = PUB_LEN,
    .sec_len = SEC_LEN,
    .sig_len = SIG_LEN,
    .keypair = keypair,
    .pubkey = pubkey,
    .sign = sign,
    .verify = verify,
};
