/*
 * BIP-340 Schnorr signatures over secp256k1 with libsecp256k1: 32-byte secret scalar, 32-byte
 * x-only public key, 64-byte signature. The 32-byte digest is the BIP-340 message.
 *
 * aux is BIP-340's auxiliary randomness; NULL is the same as 32 zero bytes (signing is then
 * deterministic). The secret key is used as given: BIP-340 negates it internally when its
 * point has an odd Y, and the x-only public key is the same either way.
 *
 * Verify is the hot path: it allocates nothing and uses the shared context read-only.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "ledger/crypto_internal.h"

#define PUB_LEN 32
#define SEC_LEN 32
#define SIG_LEN 64

static int pubkey(const uint8_t *sec, uint8_t *pub)
{
    const secp256k1_context *ctx = ldg__secp256k1_ctx();
    if (!ctx)
        return LDG_ENOMEM;
    if (!sec || !pub)
        return LDG_EBADKEY;
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpk;
    int ok = secp256k1_keypair_create(ctx, &kp, sec) &&
             secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) &&
             secp256k1_xonly_pubkey_serialize(ctx, pub, &xpk);
    OPENSSL_cleanse(&kp, sizeof kp); /* holds the secret key */
    if (!ok) {
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
    secp256k1_keypair kp;
    int ok = secp256k1_keypair_create(ctx, &kp, sec) &&
             secp256k1_schnorrsig_sign32(ctx, sig, digest, &kp, aux);
    OPENSSL_cleanse(&kp, sizeof kp);
    if (!ok) {
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
    secp256k1_xonly_pubkey xpk;
    /* Fails when x >= p or x is not the abscissa of a curve point. */
    if (!secp256k1_xonly_pubkey_parse(ctx, &xpk, pub))
        return LDG_EBADKEY;
    if (!secp256k1_schnorrsig_verify(ctx, sig, digest, 32, &xpk))
        return LDG_EBADSIG;
    return 0;
}

const ldg_sig_impl ldg__sig_secp256k1_schnorr = {
    .id = LDG_SIG_SECP256K1_SCHNORR,
    .name = "secp256k1-schnorr",
    .pub_len = PUB_LEN,
    .sec_len = SEC_LEN,
    .sig_len = SIG_LEN,
    .keypair = keypair,
    .pubkey = pubkey,
    .sign = sign,
    .verify = verify,
};
