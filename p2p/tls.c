/*
 * TLS for p2p: the SSL_CTX (an identity certificate from ledger/tls.h, both sides
 * authenticated against pinned keys), and the memory-BIO session of p2p_tls.h, which the
 * daemon's RPC port uses as well.
 *
 * Sessions never touch a socket: bytes read by libuv go into rbio, bytes TLS wants to send
 * come out of wbio, so no OpenSSL call can block the loop. OpenSSL's error queue is cleared
 * before every I/O call (SSL_get_error depends on it) and after every failure (so no stale
 * error leaks into the next caller on this thread).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ledger/tls.h"
#include "p2p/internal.h"

/* Replaces OpenSSL's certificate chain verification for both roles. */
static int verify_cert(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    void *app = ssl ? SSL_get_app_data(ssl) : NULL;
    ldg_pubkey key;
    bool usable = ldg_tls_cert_key(X509_STORE_CTX_get0_cert(xs), &key) == 0;
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
    EVP_PKEY *k;
    X509 *cert;
    if (ldg_tls_identity(alg, sec, pub, &k, &cert, err, errlen))
        return P2P_EKEY;
    int rc = P2P_ETLS;
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx || ldg_tls_ctx_restrict(ctx, true) || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ldg_tls_error(err, errlen, "configuring TLS");
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cert, NULL);
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

int p2p_tls_new(p2p_tls *t, SSL_CTX *ctx, bool client, void *app)
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

void p2p_tls_free(p2p_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    memset(t, 0, sizeof *t);
}

int p2p_tls_feed(p2p_tls *t, const uint8_t *data, size_t len)
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
static int io_error(p2p_tls *t, int ret, char *why, size_t whylen)
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
            ldg_tls_error(why, whylen, e == SSL_ERROR_SSL ? "TLS error" : "TLS failure");
    }
    ERR_clear_error();
    return P2P_ETLS;
}

int p2p_tls_handshake(p2p_tls *t, char *why, size_t whylen)
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

int p2p_tls_read(p2p_tls *t, uint8_t *buf, size_t cap, char *why, size_t whylen)
{
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    return io_error(t, n, why, whylen);
}

int p2p_tls_write(p2p_tls *t, const uint8_t *data, size_t len)
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

size_t p2p_tls_pending(const p2p_tls *t)
{
    return t->wbio ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t p2p_tls_take(p2p_tls *t, uint8_t *out, size_t cap)
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

void p2p_tls_shutdown(p2p_tls *t)
{
    if (t->ssl && t->done) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

void p2p_tls_describe(const p2p_tls *t, char *out, size_t len)
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
