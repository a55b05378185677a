/*
 * TLS for p2p: the identity certificate, the SSL_CTX, and one session over memory BIOs.
 *
 * Why certificates at all: OpenSSL 3.0 has no RFC 7250 raw public keys, so each node wraps
 * its identity key in a self-signed X.509 certificate made at start-up. Nothing in the
 * certificate but its public key matters: the chain check is replaced (set_cert_verify_callback)
 * by a comparison of that key with the pinned ones, and TLS 1.3's CertificateVerify proves
 * that the peer holds the matching secret key in this handshake.
 *
 * Sessions never touch a socket: bytes read by libuv go into rbio, bytes TLS wants to send
 * come out of wbio, so no OpenSSL call can block the loop. OpenSSL's error queue is cleared
 * before every I/O call (SSL_get_error depends on it) and after every failure (so no stale
 * error leaks into the next caller on this thread).
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

#include "p2p/internal.h"

#define ED25519_LEN 32
#define P256_LEN 33

/* Cipher suites: all three TLS 1.3 AEADs; AES-128-GCM first (AES-NI makes it the fastest
 * here). Key exchange: X25519, then P-256. Signatures: exactly the two identity key types. */
#define CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:P-256"
#define SIGALGS "ed25519:ecdsa_secp256r1_sha256"
/* Our certificates are ~300-400 bytes; a peer's certificate list longer than this is refused
 * before it is parsed (a tight cap before authentication). */
#define MAX_CERT_LIST 4096

static void errmsg(char *err, size_t errlen, const char *what)
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

int p2p__tls_cert_key(X509 *cert, ldg_pubkey *out)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *k = cert ? X509_get0_pubkey(cert) : NULL;
    if (!k)
        return P2P_EKEY;
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
    return P2P_EKEY;
}

/* Replaces OpenSSL's certificate chain verification for both roles. */
static int verify_cert(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    void *app = ssl ? SSL_get_app_data(ssl) : NULL;
    ldg_pubkey key;
    bool usable = p2p__tls_cert_key(X509_STORE_CTX_get0_cert(xs), &key) == 0;
    if (!app || p2p__authorize(app, usable ? &key : NULL) != 0) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

int p2p__tls_ctx_new(SSL_CTX **out, uint32_t alg, const uint8_t *sec, const ldg_pubkey *pub,
                     char *err, size_t errlen)
{
    *out = NULL;
    const ldg_sig_impl *impl = ldg_sig_by_id(alg);
    size_t want = alg == LDG_SIG_ED25519 ? ED25519_LEN : alg == LDG_SIG_P256_ECDSA ? P256_LEN : 0;
    if (!want || !impl || impl->pub_len != want || pub->alg != alg || pub->len != want) {
        if (err)
            snprintf(err, errlen, "identity key: algorithm %u cannot be used for TLS 1.3 "
                                  "(use ed25519 or p256-ecdsa)", alg);
        return P2P_EKEY;
    }
    uint8_t derived[LDG_PUBKEY_MAX];
    if (impl->pubkey(sec, derived) != 0 || CRYPTO_memcmp(derived, pub->key, want) != 0) {
        if (err)
            snprintf(err, errlen, "identity key: the public key does not match the secret key");
        return P2P_EKEY;
    }

    int rc = P2P_ETLS;
    EVP_PKEY *k = identity_pkey(alg, sec, pub);
    X509 *cert = k ? self_signed(k, alg, pub) : NULL;
    SSL_CTX *ctx = cert ? SSL_CTX_new(TLS_method()) : NULL;
    if (!k || !cert || !ctx) {
        errmsg(err, errlen, "creating the identity certificate");
        goto out;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_max_cert_list(ctx, MAX_CERT_LIST);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cert, NULL);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, CIPHERSUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, GROUPS) != 1 ||
        SSL_CTX_set1_sigalgs_list(ctx, SIGALGS) != 1 ||
        SSL_CTX_set1_client_sigalgs_list(ctx, SIGALGS) != 1 ||
        SSL_CTX_set_num_tickets(ctx, 0) != 1 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        errmsg(err, errlen, "configuring TLS");
        goto out;
    }
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    SSL_CTX_free(ctx); /* holds its own references to k and cert */
    X509_free(cert);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

int p2p__tls_new(p2p__tls *t, SSL_CTX *ctx, bool client, void *app)
{
    memset(t, 0, sizeof *t);
    SSL *ssl = SSL_new(ctx);
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    if (!ssl || !r || !w) {
        SSL_free(ssl);
        BIO_free(r);
        BIO_free(w);
        ERR_clear_error();
        return P2P_ENOMEM;
    }
    /* An empty rbio means "no data yet, retry", never end of file. */
    BIO_set_mem_eof_return(r, -1);
    BIO_set_mem_eof_return(w, -1);
    SSL_set_bio(ssl, r, w);
    SSL_set_app_data(ssl, app);
    if (client)
        SSL_set_connect_state(ssl);
    else
        SSL_set_accept_state(ssl);
    t->ssl = ssl;
    t->rbio = r;
    t->wbio = w;
    return 0;
}

void p2p__tls_free(p2p__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    memset(t, 0, sizeof *t);
}

int p2p__tls_feed(p2p__tls *t, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done > INT32_MAX ? INT32_MAX : len - done;
        int w = BIO_write(t->rbio, data + done, (int)n);
        if (w <= 0) {
            ERR_clear_error();
            return P2P_ENOMEM;
        }
        done += (size_t)w;
    }
    return 0;
}

/* Map a failed SSL_* call: 0 when it only wants more input, else P2P_ETLS with the reason. */
static int io_error(p2p__tls *t, int ret, char *why, size_t whylen)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        if (why && whylen)
            snprintf(why, whylen, "closed by the peer");
        ERR_clear_error();
        return P2P_ENOTCONN;
    }
    if (why && whylen) {
        long vr = SSL_get_verify_result(t->ssl);
        if (vr == X509_V_ERR_APPLICATION_VERIFICATION)
            snprintf(why, whylen, "peer key refused");
        else
            errmsg(why, whylen, e == SSL_ERROR_SSL ? "TLS error" : "TLS failure");
    }
    ERR_clear_error();
    return P2P_ETLS;
}

int p2p__tls_handshake(p2p__tls *t, char *why, size_t whylen)
{
    if (t->done)
        return 1;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->done = true;
        return 1;
    }
    r = io_error(t, r, why, whylen);
    return r == P2P_ENOTCONN ? P2P_ETLS : r;
}

int p2p__tls_read(p2p__tls *t, uint8_t *buf, size_t cap, char *why, size_t whylen)
{
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    return io_error(t, n, why, whylen);
}

int p2p__tls_write(p2p__tls *t, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done > INT32_MAX ? INT32_MAX : len - done;
        ERR_clear_error();
        int w = SSL_write(t->ssl, data + done, (int)n);
        if (w <= 0) {
            ERR_clear_error();
            return P2P_ETLS;
        }
        done += (size_t)w;
    }
    return 0;
}

size_t p2p__tls_pending(const p2p__tls *t)
{
    return t->wbio ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t p2p__tls_take(p2p__tls *t, uint8_t *out, size_t cap)
{
    size_t done = 0;
    while (done < cap) {
        size_t n = cap - done > INT32_MAX ? INT32_MAX : cap - done;
        int r = BIO_read(t->wbio, out + done, (int)n);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    ERR_clear_error();
    return done;
}

void p2p__tls_shutdown(p2p__tls *t)
{
    if (t->ssl && t->done) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

void p2p__tls_describe(const p2p__tls *t, char *out, size_t len)
{
    if (!t->ssl) {
        snprintf(out, len, "no TLS");
        return;
    }
    int nid = SSL_get_negotiated_group(t->ssl);
    const char *group = nid > 0 ? OBJ_nid2sn(nid) : NULL;
    snprintf(out, len, "%s %s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
             group ? group : "?");
}
