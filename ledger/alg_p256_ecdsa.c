/*
 * ECDSA over NIST P-256 (secp256r1) with OpenSSL: 32-byte secret scalar, 33-byte compressed
 * public key, 64-byte signature r || s (each 32 bytes big-endian, as in IEEE P1363); the DER
 * form OpenSSL speaks is produced and parsed here and never leaves this file.
 *
 * Signing: OpenSSL 3.0 draws the nonce from its own DRBG (it has no RFC 6979 mode), so
 * signatures are not deterministic and aux is not used. High-S signatures are valid P-256
 * signatures and verify accepts them (unlike secp256k1-ecdsa): a signature can be changed
 * into a second valid one by a third party, so nothing may rely on signature bytes being
 * unique. Transaction ids do not cover signatures.
 *
 * Cost: verify builds an EVP_PKEY from the compressed point on every call (a provider
 * key-management round trip plus the modular square root of decompression) and one
 * EVP_PKEY_CTX, all freed before returning. Measured with OpenSSL 3.0 on the 2-core dev
 * machine: ~60 us of a ~190 us verify. A cache of decoded keys (validators and authors sign
 * again and again) would win most of that back; it is not done yet because an EVP_PKEY_CTX
 * may not be shared between threads and a shared key cache needs its own locking.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "ledger/crypto_internal.h"

#define PUB_LEN 33
#define SEC_LEN 32
#define SIG_LEN 64
#define DER_MAX 72 /* 0x30 len (0x02 len [0x00] 32 bytes) x 2 */

/* The group order n. */
static const uint8_t order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* 1 <= sec < n, without branching on the secret's bytes. */
static bool scalar_ok(const uint8_t sec[32])
{
    unsigned borrow = 0, any = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned d = (unsigned)sec[i] - order[i] - borrow;
        borrow = (d >> 8) & 1;
        any |= sec[i];
    }
    return borrow & (any != 0);
}

/* An EVP_PKEY for the public point pub and, when sec is not NULL, the matching scalar. */
static EVP_PKEY *make_pkey(const uint8_t pub[PUB_LEN], const uint8_t *sec)
{
    char group[] = SN_X9_62_prime256v1;
    unsigned char priv[SEC_LEN]; /* native-endian, as OSSL_PARAM integers are */
    OSSL_PARAM params[4];
    size_t i = 0;
    EVP_PKEY *k = NULL;

    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub,
                                                    PUB_LEN);
    if (sec) {
        BIGNUM *d = BN_secure_new();
        int ok = d && BN_bin2bn(sec, SEC_LEN, d) && BN_bn2nativepad(d, priv, SEC_LEN) == SEC_LEN;
        BN_clear_free(d);
        if (!ok) {
            OPENSSL_cleanse(priv, sizeof priv);
            return NULL;
        }
        params[i++] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, priv, SEC_LEN);
    }
    params[i] = OSSL_PARAM_construct_end();

    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    /* For a compressed point this fails unless x < p and x is on the curve. */
    if (c && EVP_PKEY_fromdata_init(c) == 1)
        (void)EVP_PKEY_fromdata(c, &k, sec ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(c);
    OPENSSL_cleanse(priv, sizeof priv);
    return k;
}

static int pubkey(const uint8_t *sec, uint8_t *pub)
{
    if (!sec || !pub)
        return LDG_EBADKEY;
    if (!scalar_ok(sec)) {
        memset(pub, 0, PUB_LEN);
        return LDG_EBADKEY;
    }
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bc = BN_CTX_secure_new();
    BIGNUM *d = BN_secure_new();
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    int ok = g && bc && d && p && BN_bin2bn(sec, SEC_LEN, d);
    if (ok) {
        BN_set_flags(d, BN_FLG_CONSTTIME);
        ok = EC_POINT_mul(g, p, d, NULL, NULL, bc) == 1 &&
             EC_POINT_point2oct(g, p, POINT_CONVERSION_COMPRESSED, pub, PUB_LEN, bc) == PUB_LEN;
    }
    EC_POINT_free(p);
    BN_clear_free(d);
    BN_CTX_free(bc);
    EC_GROUP_free(g);
    if (!ok) {
        memset(pub, 0, PUB_LEN);
        return LDG_ENOMEM;
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
    (void)aux;
    if (!sec || !digest || !sig)
        return LDG_EBADKEY;
    uint8_t pub[PUB_LEN];
    int rc = pubkey(sec, pub);
    if (rc) {
        memset(sig, 0, SIG_LEN);
        return rc;
    }
    EVP_PKEY *k = make_pkey(pub, sec); /* OpenSSL wipes the scalar when k is freed */
    EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    uint8_t der[DER_MAX];
    size_t der_len = sizeof der;
    ECDSA_SIG *es = NULL;
    if (c && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_sign(c, der, &der_len, digest, 32) == 1) {
        const unsigned char *p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    }
    const BIGNUM *r = NULL, *s = NULL;
    if (es)
        ECDSA_SIG_get0(es, &r, &s);
    rc = es && BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32
             ? 0
             : LDG_ENOMEM;
    if (rc)
        memset(sig, 0, SIG_LEN);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return rc;
}

/* DER INTEGER for a 32-byte big-endian unsigned value: minimal length, a 0x00 in front when
 * the top bit is set. Writes at most 35 bytes. */
static size_t der_int(uint8_t *out, const uint8_t v[32])
{
    size_t i = 0;
    while (i < 31 && v[i] == 0)
        i++;
    size_t n = 32 - i, o = 0;
    bool pad = v[i] & 0x80;
    out[o++] = 0x02;
    out[o++] = (uint8_t)(n + pad);
    if (pad)
        out[o++] = 0x00;
    memcpy(out + o, v + i, n);
    return o + n;
}

static int verify(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                  const uint8_t *sig, size_t sig_len)
{
    /* Only the compressed form: the same key must have one encoding (it is hashed into key
     * ids), and OpenSSL would also take hybrid or uncompressed forms of other lengths. */
    if (!pub || pub_len != PUB_LEN || (pub[0] != 0x02 && pub[0] != 0x03))
        return LDG_EBADKEY;
    if (!sig || sig_len != SIG_LEN || !digest)
        return LDG_EBADSIG;

    /* r and s of 0 or >= n encode fine and are refused by OpenSSL's verify. */
    uint8_t der[DER_MAX];
    size_t len = 2;
    len += der_int(der + len, sig);
    len += der_int(der + len, sig + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)(len - 2);

    EVP_PKEY *k = make_pkey(pub, NULL);
    if (!k)
        return LDG_EBADKEY;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int rc = LDG_ENOMEM;
    if (c && EVP_PKEY_verify_init(c) == 1)
        rc = EVP_PKEY_verify(c, der, len, digest, 32) == 1 ? 0 : LDG_EBADSIG;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return rc;
}

const ldg_sig_impl ldg__sig_p256_ecdsa = {
    .id = LDG_SIG_P256_ECDSA,
    .name = "p256-ecdsa",
    .pub_len = PUB_LEN,
    .sec_len = SEC_LEN,
    .sig_len = SIG_LEN,
    .keypair = keypair,
    .pubkey = pubkey,
    .sign = sign,
    .verify = verify,
};
