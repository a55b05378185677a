/*
 * The blocking RPC client: framing over TLS 1.3 (or, to a loopback node that allows it, plain
 * TCP), used by the tool, trackers, tests and benchmarks. (The server side is the daemon's
 * rpc component, node/daemon/rpc.c, on libuv.)
 *
 * The socket is non-blocking and every wait is a poll() bounded by the timeout, so a node
 * that stops answering mid-handshake or mid-frame costs at most timeout_ms per call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/tls.h"
#include "node/client/client.h"

struct node_client {
    int fd;
    SSL *ssl;         /* NULL: plaintext */
    const node_tls *tls; /* during the handshake only (the pin check)                        */
    bool got_bytes;   /* anything received yet                                             */
    char why[160];    /* what node_call adds to a connection error                         */
    uint32_t timeout_ms;
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in;       /* received bytes: [in_off, in_len) unconsumed */
    size_t in_off, in_len, in_cap;
    uint64_t next_id; /* for node_call */
};

static int tcp_connect(const char *host, int port, uint32_t timeout_ms, int *fd_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res))
        return NODE_ECONNECT;
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int err = 0;
            socklen_t el = sizeof err;
            if (poll(&p, 1, (int)timeout_ms) == 1 &&
                !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) && !err)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return NODE_ECONNECT;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return 0;
}

static int wait_fd(node_client *c, short ev)
{
    struct pollfd p = {c->fd, ev, 0};
    int r;
    do
        r = poll(&p, 1, (int)c->timeout_ms);
    while (r < 0 && errno == EINTR);
    return r == 1 ? 0 : r == 0 ? NODE_ETIMEOUT : NODE_ECONNECT;
}

/* ---------------------------------------------------------------------------------------- */
/* TLS                                                                                       */

/* The socket under TLS: OpenSSL's own socket BIO writes with write(), and a write to a
 * connection the node has closed would raise SIGPIPE in the caller's process; a library
 * must not. This one sends with MSG_NOSIGNAL. */
static int sock_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *sock_method;

static void sock_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fwledger socket");
    if (m && BIO_meth_set_write(m, sock_write) && BIO_meth_set_read(m, sock_read) &&
        BIO_meth_set_ctrl(m, sock_ctrl) && BIO_meth_set_create(m, sock_create))
        sock_method = m;
    else
        BIO_meth_free(m);
}

/* A BIO over fd that never raises SIGPIPE (NULL: out of memory). */
static BIO *sock_bio(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sock_method_init);
    BIO *b = sock_method ? BIO_new(sock_method) : NULL;
    if (b)
        BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}

/* Replaces certificate chain checking in pinned mode: the node's certificate must carry one
 * of the pinned keys (TLS 1.3's CertificateVerify then proves it holds the secret key). */
static int verify_pin(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    node_client *c = ssl ? SSL_get_app_data(ssl) : NULL;
    ldg_pubkey k;
    if (c && ldg_tls_cert_key(X509_STORE_CTX_get0_cert(xs), &k) == 0)
        for (size_t i = 0; i < c->tls->n_pins; i++) {
            if (ldg_pubkey_eq(&c->tls->pins[i], &k)) {
                X509_STORE_CTX_set_error(xs, X509_V_OK);
                return 1;
            }
        }
    X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* The context for one connection: pinned keys or a CA, and the client's key if any. */
static SSL_CTX *tls_ctx(const node_tls *tls, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || ldg_tls_ctx_restrict(ctx, !tls->ca_file)) {
        ldg_tls_error(err, errlen, "configuring TLS");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!tls->ca_file)
        SSL_CTX_set_cert_verify_callback(ctx, verify_pin, NULL);
    else if (SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL) != 1) {
        ldg_tls_error(err, errlen, "reading the CA file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (tls->key_alg) {
        EVP_PKEY *k;
        X509 *x;
        int ok = !ldg_tls_identity(tls->key_alg, tls->key_sec, tls->key_pub, &k, &x, err,
                                   errlen);
        if (ok && (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, k) != 1))
            ok = 0, ldg_tls_error(err, errlen, "using the client key");
        if (x)
            X509_free(x), EVP_PKEY_free(k);
        if (!ok) {
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

/* Why the handshake failed, for err. */
static void handshake_error(node_client *c, char *err, size_t errlen)
{
    long vr = SSL_get_verify_result(c->ssl);
    if (vr == X509_V_ERR_APPLICATION_VERIFICATION)
        snprintf(err, errlen, "the node's key is not one of the pinned keys");
    else if (vr != X509_V_OK)
        snprintf(err, errlen, "the node's certificate: %s", X509_verify_cert_error_string(vr));
    else
        ldg_tls_error(err, errlen, "TLS handshake");
}

/* Wait for what SSL asked for after ret; 0 to retry, else an error code. */
static int ssl_wait(node_client *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(c, POLLIN);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(c, POLLOUT);
    if (e == SSL_ERROR_SYSCALL && (errno == EINTR || errno == EAGAIN))
        return 0;
    return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? NODE_ECONNECT : NODE_ETLS;
}

static int tls_start(node_client *c, const char *host, const node_tls *tls, char *err,
                     size_t errlen)
{
    char tmp[8];
    if (!err)
        err = tmp, errlen = sizeof tmp;
    SSL_CTX *ctx = tls_ctx(tls, err, errlen);
    if (!ctx) /* an unreadable CA file or an unusable client key */
        return LDG_EINVALID;
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    BIO *bio = c->ssl ? sock_bio(c->fd) : NULL;
    if (!bio) {
        ldg_tls_error(err, errlen, "TLS session");
        return LDG_ENOMEM;
    }
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns it */
    SSL_set_app_data(c->ssl, c);
    if (tls->ca_file) { /* the certificate must name the address we connected to */
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        struct in6_addr a;
        bool ip = inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
        if (ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1
               : (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1 ||
                  SSL_set_tlsext_host_name(c->ssl, host) != 1)) {
            ldg_tls_error(err, errlen, "setting the name to check");
            return LDG_EINVALID;
        }
    }
    c->tls = tls;
    int rc = 0, r;
    ERR_clear_error();
    while ((r = SSL_connect(c->ssl)) != 1 && !(rc = ssl_wait(c, r)))
        ERR_clear_error();
    c->tls = NULL;
    if (rc == NODE_ETLS || (rc == NODE_ECONNECT && SSL_get_verify_result(c->ssl) != X509_V_OK))
        handshake_error(c, err, errlen), rc = NODE_ETLS;
    else if (rc == NODE_ECONNECT)
        snprintf(err, errlen, "the node closed the connection during the TLS handshake (is "
                              "it a plaintext node, or does it require a client key?)");
    ERR_clear_error();
    return rc;
}

/* Write up to len bytes: > 0 written, 0 retry, < 0 an error code. */
static ssize_t io_write(node_client *c, const uint8_t *buf, size_t len)
{
    if (!c->ssl) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0)
            return n;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(c, POLLOUT);
            return rc ? rc : 0;
        }
        return NODE_ECONNECT;
    }
    ERR_clear_error();
    int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int rc = ssl_wait(c, n);
    ERR_clear_error();
    return rc;
}

/* Read up to cap bytes: > 0 read, 0 retry, < 0 an error code (NODE_ECONNECT at the end). */
static ssize_t io_read(node_client *c, uint8_t *buf, size_t cap)
{
    if (!c->ssl) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n > 0) {
            c->got_bytes = true;
            return n;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(c, POLLIN);
            return rc ? rc : 0;
        }
        if (!c->got_bytes)
            snprintf(c->why, sizeof c->why, "the node closed the connection before answering "
                                            "(a node that speaks TLS closes plaintext ones)");
        return NODE_ECONNECT;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int rc = ssl_wait(c, n);
    ERR_clear_error();
    return rc;
}

int node_client_connect(node_client **out, const char *host, int port, uint32_t timeout_ms,
                        const node_tls *tls, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        *err = '\0';
    if (!tls || (!tls->plaintext && !tls->n_pins && !tls->ca_file)) {
        if (err)
            snprintf(err, errlen, "no way to check the node: give its key (or the genesis "
                                  "listing it), a CA file, or plaintext for a loopback node");
        return LDG_EINVALID;
    }
    if (tls->plaintext && !node_addr_is_loopback(host)) {
        if (err)
            snprintf(err, errlen, "plaintext only to a loopback address (127.0.0.0/8, ::1), "
                                  "not %s", host);
        return LDG_EINVALID;
    }
    int fd, rc = tcp_connect(host, port, timeout_ms, &fd);
    if (rc)
        return rc;
    node_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return LDG_ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    if (!tls->plaintext && (rc = tls_start(c, host, tls, err, errlen))) {
        node_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void node_client_close(node_client *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    close(c->fd);
    free(c->out);
    free(c->in);
    free(c);
}

void node_client_set_timeout(node_client *c, uint32_t timeout_ms)
{
    c->timeout_ms = timeout_ms;
}


int node_client_send(node_client *c, const fwl_Request *req)
{
    size_t size;
    if (!pb_get_encoded_size(&size, fwl_Request_fields, req))
        return NODE_EPROTO;
    if (size > NODE_RPC_MAX_REQUEST)
        return NODE_EFRAME;
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size))
        return LDG_ENOMEM;
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    pb_ostream_t os = pb_ostream_from_buffer(p + 4, size);
    if (!pb_encode(&os, fwl_Request_fields, req))
        return NODE_EPROTO;
    c->out_len += 4 + size;
    return 0;
}

int node_client_send_raw(node_client *c, const uint8_t *data, size_t len)
{
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + len))
        return LDG_ENOMEM;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

int node_client_flush(node_client *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = io_write(c, c->out + off, c->out_len - off);
        if (n < 0)
            return (int)n;
        off += (size_t)n;
    }
    c->out_len = 0;
    return 0;
}

int node_client_recv_raw(node_client *c, const uint8_t **buf, size_t *len)
{
    int rc = node_client_flush(c);
    if (rc)
        return rc;
    for (;;) {
        size_t have = c->in_len - c->in_off;
        if (have >= 4) {
            const uint8_t *p = c->in + c->in_off;
            size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            if (flen > NODE_RPC_MAX_RESPONSE)
                return NODE_EFRAME;
            if (have >= 4 + flen) {
                *buf = p + 4;
                *len = flen;
                c->in_off += 4 + flen;
                return 0;
            }
            if (node_buf_reserve(&c->in, &c->in_cap, c->in_off + 4 + flen))
                return LDG_ENOMEM;
        }
        if (c->in_off && c->in_off == c->in_len)
            c->in_off = c->in_len = 0;
        else if (c->in_off > c->in_cap / 2) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536))
            return LDG_ENOMEM;
        ssize_t n = io_read(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0)
            return (int)n;
        c->in_len += (size_t)n;
    }
}

int node_client_recv(node_client *c, fwl_Response *resp)
{
    const uint8_t *buf;
    size_t len;
    int rc = node_client_recv_raw(c, &buf, &len);
    if (rc)
        return rc;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    return pb_decode(&st, fwl_Response_fields, resp) ? 0 : NODE_EPROTO;
}

int node_call(node_client *c, fwl_Request *req, fwl_Response *resp, char *err, size_t errlen)
{
    req->id = ++c->next_id;
    int rc = node_client_send(c, req);
    if (!rc)
        rc = node_client_recv(c, resp);
    if (!rc && resp->id != req->id && resp->id != 0)
        rc = NODE_EPROTO;
    if (!rc && resp->which_resp == fwl_Response_error_tag) {
        if (err)
            snprintf(err, errlen, "%s", resp->resp.error.message);
        return resp->resp.error.code < 0 ? resp->resp.error.code : NODE_EPROTO;
    }
    if (rc && err)
        snprintf(err, errlen, "%s", c->why[0] ? c->why : node_strerror(rc));
    return rc;
}
