/*
 * ECDSA over secp256k1 with libsecp256k1: 32-byte secret scalar, 33-byte compressed public
 * key, 64-byte compact signature r || s.
 *
 * Signing uses libsecp256k1's default nonce function, RFC 6979 (HMAC-SHA256) over the
 * secret key and the digest, with aux (when given) as its extra data; the library always
 * produces low-S signatures. Verification refuses high-S signatures, as libsecp256k1 does:
 * each signature has exactly one accepted encoding, so a transaction cannot be re-signed
 * into a different valid byte string by a third party.
 *
 * Verify is the hot path: it allocates nothing and uses the shared context read-only.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "ledger/crypto_internal.h"

#define PUB_LEN 33
#define SEC_LEN 32
#define SIG_LEN 64

static int pubkey(const uint8_t *sec, uint8_t *pub)
{
    const secp256k1_context *ctx = ldg__secp256k1_ctx();
    if (!ctx)
        return LDG_ENOMEM;
    if (!sec || !pub)
        return LDG_EBADKEY;
    secp256k1_pubkey pk;
    size_t len = PUB_LEN;
    if (!secp256k1_ec_pubkey_create(ctx, &pk, sec) ||
        !secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pk, SECP256K1_EC_COMPRESSED)) {
        memset(pub, 0, PUB_LEN);
        return LDG_EBADKEY;
    }
    return 0;
}

/* The seed is the secret scalar; LDG_EBADKEY (outputs zeroed) if it is 0 or >= n. */
static int keypair(const uint8_t seed[32], uint8_t *sec, uint8_t *pub)
{
    return ldg__keypair_from_seed(seed, sec, SEC_LEN, pub, pubkey);
}

static int sign(const uint8_t *sec, const uint8_t digest[32], const uint8_t *aux, uint8_t *sig)
{
    const secp256k1_context *ctx = ldg__secp256k1_ctx();
    if (!ctx)
        return LDG_ENOMEM;
    if (!sec || !digest || !sig)
        return LDG_EBADKEY;
    secp256k1_ecdsa_signature s;
    if (!secp256k1_ecdsa_sign(ctx, &s, digest, sec, NULL, aux) ||
        !secp256k1_ecdsa_signature_serialize_compact(ctx, sig, &s)) {
        memset(sig, 0, SIG_LEN);
        return LDG_EBADKEY;
    }
    return 0;
}

static int verify(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                  const uint8_t *sig, size_t sig_len)
{
    const secp256k1_context *ctx = ldg__secp256k1_ctx();
    if (!ctx)
        return LDG_ENOMEM;
    if (!pub || pub_len != PUB_LEN)
        return LDG_EBADKEY;
    if (!sig || sig_len != SIG_LEN || !digest)
        return LDG_EBADSIG;
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature s;
    /* A 33-byte key parses only as 0x02/0x03 || x with x on the curve. */
    if (!secp256k1_ec_pubkey_parse(ctx, &pk, pub, PUB_LEN))
        return LDG_EBADKEY;
    /* Fails when r or s >= n; ecdsa_verify then refuses zero values and high S. */
    if (!secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig) ||
        !secp256k1_ecdsa_verify(ctx, &s, digest, &pk))
        return LDG_EBADSIG;
    return 0;
}

const ldg_sig_impl ldg__sig_secp256k1_ecdsa = {
    .id = LDG_SIG_SECP256K1_ECDSA,
    .name = "secp256k1-ecdsa",
    .pub_len = PUB_LEN,
    .sec_len = SEC_LEN,
    .sig_len = SIG_LEN,
    .keypair = keypair,
    .pubkey = pubkey,
    .sign = sign,
    .verify = verify,
};
