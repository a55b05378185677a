/*
 * Identity keys in TLS 1.3 (tls.h): the self-signed certificate that carries one, reading
 * the key back out of a peer's certificate, and the restrictions every fwledger TLS context
 * shares.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ledger/tls.h"

#define ED25519_LEN 32
#define P256_LEN 33

bool ldg_tls_identity_alg(uint32_t alg)
{
    return alg == LDG_SIG_ED25519 || alg == LDG_SIG_P256_ECDSA;
}

void ldg_tls_error(char *err, size_t errlen, const char *what)
{
    if (!err || !errlen)
        return;
    unsigned long e = ERR_peek_last_error();
    if (e) {
        char buf[200];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

/* An EVP_PKEY holding the identity key pair. pub has been checked to match sec. */
static EVP_PKEY *identity_pkey(uint32_t alg, const uint8_t *sec, const ldg_pubkey *pub)
{
    if (alg == LDG_SIG_ED25519)
        return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, ED25519_LEN);

    /* P-256: from the group, the encoded public point and the scalar (OSSL_PARAM integers
     * are native-endian, hence the round trip through a BIGNUM). */
    char group[] = SN_X9_62_prime256v1;
    unsigned char priv[32];
    EVP_PKEY *k = NULL;
    BIGNUM *d = BN_secure_new();
    int ok = d && BN_bin2bn(sec, 32, d) && BN_bn2nativepad(d, priv, 32) == 32;
    BN_clear_free(d);
    if (ok) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub->key,
                                              pub->len),
            OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, priv, sizeof priv),
            OSSL_PARAM_construct_end(),
        };
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (c && EVP_PKEY_fromdata_init(c) == 1)
            (void)EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR, params);
        EVP_PKEY_CTX_free(c);
    }
    OPENSSL_cleanse(priv, sizeof priv);
    return k;
}

/* A self-signed certificate for k. Only its public key is ever looked at; the rest is there
 * because X.509 requires it (the CN names the key for humans reading a packet capture). */
static X509 *self_signed(EVP_PKEY *k, uint32_t alg, const ldg_pubkey *pub)
{
    X509 *x = X509_new();
    char cn[48];
    int n = snprintf(cn, sizeof cn, "fwledger node ");
    for (size_t i = 0; i < 8; i++)
        n += snprintf(cn + n, sizeof cn - (size_t)n, "%02x", pub->key[i]);
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    int ok = x && X509_set_version(x, X509_VERSION_3) &&
             ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
             ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z") && name &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                                        -1, -1, 0) &&
             X509_set_issuer_name(x, name) && X509_set_pubkey(x, k) &&
             X509_sign(x, k, alg == LDG_SIG_ED25519 ? NULL : EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int ldg_tls_cert_key(X509 *cert, ldg_pubkey *out)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *k = cert ? X509_get0_pubkey(cert) : NULL;
    if (!k)
        return LDG_EBADKEY;
    if (EVP_PKEY_is_a(k, "ED25519")) {
        size_t len = ED25519_LEN;
        if (EVP_PKEY_get_raw_public_key(k, out->key, &len) != 1 || len != ED25519_LEN)
            goto bad;
        out->alg = LDG_SIG_ED25519;
        out->len = ED25519_LEN;
        return 0;
    }
    if (EVP_PKEY_is_a(k, "EC")) {
        char group[32];
        uint8_t pt[65];
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           NULL) != 1 ||
            strcmp(group, SN_X9_62_prime256v1) != 0 ||
            EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                            sizeof pt, &len) != 1)
            goto bad;
        /* The registry's form is the compressed point: 02/03 by the parity of y, then x. */
        if (len == 65 && pt[0] == 0x04) {
            out->key[0] = (uint8_t)(0x02 | (pt[64] & 1));
            memcpy(out->key + 1, pt + 1, 32);
        } else if (len == P256_LEN && (pt[0] == 0x02 || pt[0] == 0x03)) {
            memcpy(out->key, pt, P256_LEN);
        } else {
            goto bad;
        }
        out->alg = LDG_SIG_P256_ECDSA;
        out->len = P256_LEN;
        return 0;
    }
bad:
    ERR_clear_error();
    memset(out, 0, sizeof *out);
    return LDG_EBADKEY;
}

int ldg_tls_identity(uint32_t alg, const uint8_t *sec, const ldg_pubkey *pub, EVP_PKEY **key,
                     X509 **cert, char *err, size_t errlen)
{
    *key = NULL;
    *cert = NULL;
    const ldg_sig_impl *impl = ldg_sig_by_id(alg);
    size_t want = alg == LDG_SIG_ED25519 ? ED25519_LEN : alg == LDG_SIG_P256_ECDSA ? P256_LEN : 0;
    if (!want || !impl || impl->pub_len != want || pub->alg != alg || pub->len != want) {
        if (err)
            snprintf(err, errlen, "identity key: algorithm %u cannot be used for TLS 1.3 "
                                  "(use ed25519 or p256-ecdsa)", alg);
        return LDG_EBADKEY;
    }
    uint8_t derived[LDG_PUBKEY_MAX];
    if (impl->pubkey(sec, derived) != 0 || CRYPTO_memcmp(derived, pub->key, want) != 0) {
        if (err)
            snprintf(err, errlen, "identity key: the public key does not match the secret key");
        return LDG_EBADKEY;
    }
    EVP_PKEY *k = identity_pkey(alg, sec, pub);
    X509 *x = k ? self_signed(k, alg, pub) : NULL;
    if (!x) {
        ldg_tls_error(err, errlen, "creating the identity certificate");
        EVP_PKEY_free(k);
        return LDG_ENOMEM;
    }
    *key = k;
    *cert = x;
    return 0;
}

int ldg_tls_ctx_restrict(SSL_CTX *ctx, bool identity_sigalgs)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_max_cert_list(ctx, identity_sigalgs ? LDG_TLS_MAX_CERT_LIST
                                                    : LDG_TLS_MAX_CERT_CHAIN);
    int ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
             SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
             SSL_CTX_set_ciphersuites(ctx, LDG_TLS_CIPHERSUITES) == 1 &&
             SSL_CTX_set1_groups_list(ctx, LDG_TLS_GROUPS) == 1 &&
             SSL_CTX_set_num_tickets(ctx, 0) == 1;
    if (ok && identity_sigalgs)
        ok = SSL_CTX_set1_sigalgs_list(ctx, LDG_TLS_IDENTITY_SIGALGS) == 1 &&
             SSL_CTX_set1_client_sigalgs_list(ctx, LDG_TLS_IDENTITY_SIGALGS) == 1;
    ERR_clear_error();
    return ok ? 0 : LDG_EINVALID;
}
