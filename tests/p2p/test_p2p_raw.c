/*
 * A node against hand-made clients that do not follow the protocol: bytes that are not TLS,
 * silence, too many unauthenticated connections, TLS 1.2, and an authenticated client that
 * breaks the framing rules (a message before its hello, an oversize frame before and after
 * the hello, a malformed hello, no hello at all). Each is refused or disconnected, counted,
 * and leaves the node serving. And an authenticated client that goes silent (down within the
 * idle bound, pinged once) or floods pings (answered, one pong at a time). And an attacker
 * who keeps the pending slots of a node full (from its peers' address or another): a
 * restarted peer still gets through, both ways, and the junk stays within the bounds.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "p2p/internal.h"
#include "tests/p2p/harness.h"

/* ---------------------------------------------------------------------------------------- */
/* A raw client: libuv TCP, optionally with OpenSSL over memory BIOs                         */

typedef struct {
    uv_tcp_t h;
    uv_connect_t cr;
    bool connected, eof, closed;
    int connect_status;
    SSL *ssl;
    bool hs_done, hs_failed;
    bool mute; /* sends its ClientHello, then only counts what arrives (a stalled handshake) */
    size_t got; /* plaintext (or raw) bytes received */
    uint8_t pt[4096]; /* the first plaintext bytes received, for count_ctl */
    size_t pt_len;
} raw;

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h, (void)hint;
    static char buf[65536];
    *b = uv_buf_init(buf, sizeof buf);
}

static void raw_wrote(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void raw_write(raw *r, const void *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w + len);
    assert_non_null(w);
    memcpy(w + 1, data, len);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&r->h, &b, 1, raw_wrote))
        free(w);
}

static void raw_flush(raw *r)
{
    uint8_t buf[65536];
    int n;
    while ((n = BIO_read(SSL_get_wbio(r->ssl), buf, sizeof buf)) > 0)
        raw_write(r, buf, (size_t)n);
}

static void raw_drive(raw *r)
{
    if (!r->hs_done && !r->hs_failed) {
        int rc = SSL_do_handshake(r->ssl);
        if (rc == 1)
            r->hs_done = true;
        else if (SSL_get_error(r->ssl, rc) != SSL_ERROR_WANT_READ)
            r->hs_failed = true;
    }
    if (r->hs_done) {
        uint8_t buf[16384];
        int n;
        while ((n = SSL_read(r->ssl, buf, sizeof buf)) > 0) {
            r->got += (size_t)n;
            size_t k = (size_t)n < sizeof r->pt - r->pt_len ? (size_t)n : sizeof r->pt - r->pt_len;
            memcpy(r->pt + r->pt_len, buf, k);
            r->pt_len += k;
        }
    }
    ERR_clear_error();
    raw_flush(r);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    raw *r = s->data;
    if (n < 0) {
        r->eof = true;
        uv_read_stop(s);
        return;
    }
    if (r->ssl && !r->mute) {
        BIO_write(SSL_get_rbio(r->ssl), b->base, (int)n);
        raw_drive(r);
    } else {
        r->got += (size_t)n;
    }
}

static void raw_connected(uv_connect_t *c, int status)
{
    raw *r = c->data;
    r->connect_status = status;
    r->connected = status == 0;
    if (status == 0) {
        uv_read_start((uv_stream_t *)&r->h, raw_alloc, raw_read);
        if (r->ssl)
            raw_drive(r); /* ClientHello */
    }
}

static bool pred_raw_connected(tfix *f, void *arg)
{
    (void)f;
    raw *r = arg;
    return r->connected || r->connect_status < 0;
}

/* Connect to port on 127.0.0.1, from src (a loopback address) when given; with ctx, run TLS
 * as a client (mute: send the ClientHello and nothing more). */
static void raw_open_opt(tfix *f, raw *r, int port, SSL_CTX *ctx, const char *src, bool mute)
{
    memset(r, 0, sizeof *r);
    r->mute = mute;
    uv_tcp_init(&f->loop, &r->h);
    r->h.data = r;
    r->cr.data = r;
    if (ctx) {
        r->ssl = SSL_new(ctx);
        assert_non_null(r->ssl);
        SSL_set_bio(r->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
        SSL_set_connect_state(r->ssl);
    }
    struct sockaddr_in sa;
    if (src) {
        assert_int_equal(uv_ip4_addr(src, 0, &sa), 0);
        assert_int_equal(uv_tcp_bind(&r->h, (struct sockaddr *)&sa, 0), 0);
    }
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, &sa), 0);
    assert_int_equal(uv_tcp_connect(&r->cr, &r->h, (struct sockaddr *)&sa, raw_connected), 0);
    assert_true(run_until(f, pred_raw_connected, r, DEADLINE_MS));
    assert_true(r->connected);
}

static void raw_open_from(tfix *f, raw *r, int port, SSL_CTX *ctx, const char *src)
{
    raw_open_opt(f, r, port, ctx, src, false);
}

static void raw_open(tfix *f, raw *r, int port, SSL_CTX *ctx)
{
    raw_open_opt(f, r, port, ctx, NULL, false);
}

static void raw_closed(uv_handle_t *h)
{
    raw *r = h->data;
    r->closed = true;
    SSL_free(r->ssl);
    r->ssl = NULL;
}

static bool pred_raw_closed(tfix *f, void *arg)
{
    (void)f;
    return ((raw *)arg)->closed;
}

static void raw_close(tfix *f, raw *r)
{
    uv_close((uv_handle_t *)&r->h, raw_closed);
    assert_true(run_until(f, pred_raw_closed, r, DEADLINE_MS));
}

static bool pred_raw_eof(tfix *f, void *arg)
{
    (void)f;
    return ((raw *)arg)->eof;
}

static bool pred_raw_hs(tfix *f, void *arg)
{
    (void)f;
    raw *r = arg;
    return r->hs_done || r->hs_failed || r->eof;
}

/* Send a frame inside TLS. */
static void raw_frame(raw *r, uint8_t type, const uint8_t *p, size_t len)
{
    uint8_t hdr[P2P_FRAME_HDR];
    p2p__frame_header(hdr, type, len);
    assert_int_equal(SSL_write(r->ssl, hdr, sizeof hdr), (int)sizeof hdr);
    if (len)
        assert_int_equal(SSL_write(r->ssl, p, (int)len), (int)len);
    raw_flush(r);
}

static void raw_hello(raw *r, const char *network)
{
    uint8_t h[3 + P2P_NETWORK_MAX];
    size_t nl = strlen(network);
    h[0] = P2P_CTL_HELLO;
    h[1] = P2P_HELLO_VERSION;
    h[2] = (uint8_t)nl;
    memcpy(h + 3, network, nl);
    raw_frame(r, 0, h, 3 + nl);
}

/* Complete type-0 frames of this subtype among the plaintext received. */
static int count_ctl(const raw *r, uint8_t subtype)
{
    int n = 0;
    for (size_t at = 0; at + P2P_FRAME_HDR <= r->pt_len;) {
        const uint8_t *h = r->pt + at;
        size_t l = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (at + 4 + l > r->pt_len)
            break;
        n += h[4] == 0 && l >= 2 && h[5] == subtype;
        at += 4 + l;
    }
    return n;
}

/* A TLS client context for t's Ed25519 identity, speaking at most max_version. */
static SSL_CTX *client_ctx(const tnode *t, int max_version)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, t->sec, 32);
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_NAME *n = X509_get_subject_name(x);
    assert_true(X509_set_version(x, X509_VERSION_3) &&
                ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
                X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
                X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
                X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                           (const unsigned char *)"raw", -1, -1, 0) &&
                X509_set_issuer_name(x, n) && X509_set_pubkey(x, k) &&
                X509_sign(x, k, NULL) > 0);
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    SSL_CTX_set_max_proto_version(c, max_version);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    assert_int_equal(SSL_CTX_use_certificate(c, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(c, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    return c;
}

/* Node 1 listens and pins node 2's key (no address: node 2 is the one that dials). */
static void start_target_ip(tfix *f, uint32_t handshake_ms, uint32_t max_pending,
                            uint32_t per_ip)
{
    node_key(&f->n[1], LDG_SIG_ED25519, 0xf1);
    node_key(&f->n[2], LDG_SIG_ED25519, 0xf2);
    f->n[1].lim.handshake_timeout_ms = handshake_ms;
    f->n[1].lim.max_pending = max_pending;
    f->n[1].lim.max_pending_per_ip = per_ip;
    uint32_t p = 2;
    assert_int_equal(node_start(f, &f->n[1], &p, 1, false), 0);
}

static void start_target(tfix *f, uint32_t handshake_ms, uint32_t max_pending)
{
    start_target_ip(f, handshake_ms, max_pending, 0);
}

static bool pred_pending(tfix *f, void *arg)
{
    return net_stats(&f->n[1]).pending == *(uint32_t *)arg;
}

/* ---------------------------------------------------------------------------------------- */

static void test_not_tls(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 0, 0);
    raw r;
    raw_open(&f, &r, f.n[1].port, NULL);
    uint32_t one = 1, zero = 0;
    assert_true(run_until(&f, pred_pending, &one, DEADLINE_MS));
    const char junk[] = "GET / HTTP/1.0\r\n\r\n";
    raw_write(&r, junk, sizeof junk - 1);
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    assert_true(run_until(&f, pred_pending, &zero, DEADLINE_MS));
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.handshake_failed, 1);
    assert_int_equal(ns.refused_unknown, 0);
    raw_close(&f, &r);
    fx_end(&f);
}

static void test_silent(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 300, 0);
    raw r;
    raw_open(&f, &r, f.n[1].port, NULL);
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.timeouts, 1);
    assert_int_equal(ns.pending, 0);
    assert_int_equal(r.got, 0);
    raw_close(&f, &r);
    fx_end(&f);
}

/* A full pending table lets the newcomer in and evicts the oldest connection; a slot that
 * frees up is taken without evicting anyone. */
static void test_max_pending(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 60000, 2);
    raw r[3];
    uint32_t one = 1, two = 2;
    raw_open(&f, &r[0], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_pending, &one, DEADLINE_MS));
    raw_open(&f, &r[1], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_pending, &two, DEADLINE_MS));
    raw_open(&f, &r[2], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_raw_eof, &r[0], DEADLINE_MS));
    run_for(&f, 50);
    assert_false(r[1].eof || r[2].eof);
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.evicted_pending, 1);
    assert_int_equal(ns.evicted_pending_ip, 0);
    assert_int_equal(ns.pending, 2);
    assert_int_equal(ns.timeouts + ns.handshake_failed, 0);
    /* once one goes away, a new one is let in without evicting */
    raw_close(&f, &r[1]);
    assert_true(run_until(&f, pred_pending, &one, DEADLINE_MS));
    raw_close(&f, &r[0]);
    raw_open(&f, &r[0], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_pending, &two, DEADLINE_MS));
    run_for(&f, 50);
    assert_false(r[0].eof || r[2].eof);
    assert_int_equal(net_stats(&f.n[1]).evicted_pending, 1);
    raw_close(&f, &r[0]);
    raw_close(&f, &r[2]);
    fx_end(&f);
}

static bool pred_raw_got(tfix *f, void *arg)
{
    (void)f;
    return ((raw *)arg)->got > 0;
}

/* Who is evicted: a connection whose ClientHello was answered outlives older ones that said
 * nothing; when every one was answered, the oldest goes. */
static void test_evict_order(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 60000, 2);
    SSL_CTX *ctx = client_ctx(&f.n[2], TLS1_3_VERSION);
    raw r[4];
    uint32_t two = 2;
    raw_open_opt(&f, &r[0], f.n[1].port, ctx, NULL, true);
    assert_true(run_until(&f, pred_raw_got, &r[0], DEADLINE_MS)); /* answered */
    raw_open(&f, &r[1], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_pending, &two, DEADLINE_MS));
    raw_open_opt(&f, &r[2], f.n[1].port, ctx, NULL, true);
    assert_true(run_until(&f, pred_raw_eof, &r[1], DEADLINE_MS)); /* silent: first to go */
    assert_true(run_until(&f, pred_raw_got, &r[2], DEADLINE_MS));
    assert_false(r[0].eof);
    raw_open(&f, &r[3], f.n[1].port, NULL);
    assert_true(run_until(&f, pred_raw_eof, &r[0], DEADLINE_MS)); /* the oldest answered */
    run_for(&f, 50);
    assert_false(r[2].eof || r[3].eof);
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.evicted_pending, 2);
    assert_int_equal(ns.pending, 2);
    assert_int_equal(f.n[1].ups[2], 0);
    for (int i = 0; i < 4; i++)
        raw_close(&f, &r[i]);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

/* The deadline before authentication is the shorter one: a silent connection is closed after
 * auth_timeout_ms, the handshake timeout being far; a client authenticated by TLS that then
 * sends no hello is held to handshake_timeout_ms only. */
static void test_auth_timeout(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    f.n[1].lim.auth_timeout_ms = 300;
    start_target(&f, 60000, 0);
    raw r;
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop); /* before the connection: the node's clock starts after */
    raw_open(&f, &r, f.n[1].port, NULL);
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    uint64_t took = uv_now(&f.loop) - t0;
    assert_true(took >= 300 && took <= 2000); /* 60 s otherwise; a loaded machine is slow */
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.timeouts, 1);
    assert_int_equal(ns.pending, 0);
    assert_non_null(strstr(f.n[1].last_log, "not authenticated within 300 ms"));
    SSL_CTX *ctx = client_ctx(&f.n[2], TLS1_3_VERSION);
    raw a;
    raw_open(&f, &a, f.n[1].port, ctx);
    assert_true(run_until(&f, pred_raw_hs, &a, DEADLINE_MS));
    assert_true(a.hs_done);
    uint32_t zero = 0;
    assert_true(run_until(&f, pred_pending, &zero, DEADLINE_MS)); /* authenticated */
    run_for(&f, 600);
    assert_false(a.eof);
    assert_int_equal(net_stats(&f.n[1]).timeouts, 1);
    raw_close(&f, &r);
    raw_close(&f, &a);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

static void test_tls12(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 0, 0);
    SSL_CTX *ctx = client_ctx(&f.n[2], TLS1_2_VERSION); /* the pinned key, the wrong version */
    raw r;
    raw_open(&f, &r, f.n[1].port, ctx);
    assert_true(run_until(&f, pred_raw_hs, &r, DEADLINE_MS));
    assert_true(r.hs_failed || r.eof);
    assert_false(r.hs_done);
    uint32_t zero = 0;
    assert_true(run_until(&f, pred_pending, &zero, DEADLINE_MS));
    assert_int_equal(net_stats(&f.n[1]).handshake_failed, 1);
    assert_int_equal(f.n[1].ups[2], 0);
    raw_close(&f, &r);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

/* TLS 1.3 without a client certificate: the node requires one. */
static void test_no_certificate(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target(&f, 0, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    raw r;
    raw_open(&f, &r, f.n[1].port, ctx);
    /* The client finishes its side (TLS 1.3 clients do before the server's verdict); the
     * node then fails the handshake and closes. */
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    uint32_t zero = 0;
    assert_true(run_until(&f, pred_pending, &zero, DEADLINE_MS));
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.handshake_failed, 1);
    assert_int_equal(ns.refused_unknown, 0);
    assert_int_equal(f.n[1].ups[2], 0);
    assert_int_equal(r.got, 0); /* no hello from the node */
    raw_close(&f, &r);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

typedef enum { BEFORE_HELLO, BIG_CONTROL, BAD_HELLO, NO_HELLO, BIG_AFTER_HELLO } misstep;

/* An authenticated client (node 2's key over TLS 1.3) that breaks the framing rules. */
static void run_misstep(misstep m)
{
    tfix f;
    fx_init(&f);
    start_target(&f, m == NO_HELLO ? 300 : 0, 0);
    SSL_CTX *ctx = client_ctx(&f.n[2], TLS1_3_VERSION);
    raw r;
    raw_open(&f, &r, f.n[1].port, ctx);
    assert_true(run_until(&f, pred_raw_hs, &r, DEADLINE_MS));
    assert_true(r.hs_done);
    uint8_t big[300] = {P2P_CTL_PING};
    switch (m) {
    case BEFORE_HELLO:
        raw_frame(&r, 7, (const uint8_t *)"data", 4);
        break;
    case BIG_CONTROL: /* over the 256-byte cap before the hello */
        raw_frame(&r, 0, big, sizeof big);
        break;
    case BAD_HELLO: {
        const uint8_t h[] = {P2P_CTL_HELLO, P2P_HELLO_VERSION, 40, 'x'};
        raw_frame(&r, 0, h, sizeof h);
        break;
    }
    case NO_HELLO:
        break;
    case BIG_AFTER_HELLO: {
        raw_hello(&r, "fwl-test");
        uint32_t up[] = {1, 2, 1};
        assert_true(run_until(&f, pred_ups, up, DEADLINE_MS));
        const uint8_t hdr[] = {0x7f, 0xff, 0xff, 0xff, 7};
        SSL_write(r.ssl, hdr, sizeof hdr);
        raw_flush(&r);
        break;
    }
    }
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    p2p_peer_stats ps = peer_stats(&f.n[1], 2);
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_false(ps.connected);
    assert_int_equal(ps.msgs_in, 0);
    assert_int_equal(f.n[1].got[2], 0);
    assert_int_equal(ns.pending, 0);
    switch (m) {
    case BEFORE_HELLO:
    case BIG_CONTROL:
        assert_int_equal(ps.proto_errors, 1);
        assert_int_equal(f.n[1].ups[2], 0);
        break;
    case BAD_HELLO:
        assert_int_equal(ps.refused, 1);
        assert_int_equal(f.n[1].ups[2], 0);
        break;
    case NO_HELLO:
        assert_int_equal(ns.timeouts, 1);
        assert_int_equal(f.n[1].ups[2], 0);
        break;
    case BIG_AFTER_HELLO:
        assert_int_equal(ps.proto_errors, 1);
        assert_int_equal(f.n[1].ups[2], 1);
        assert_int_equal(f.n[1].downs[2], 1);
        assert_true(r.got > 0); /* node 1's hello arrived */
        break;
    }
    raw_close(&f, &r);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

static void test_message_before_hello(void **state) { (void)state, run_misstep(BEFORE_HELLO); }
static void test_big_control(void **state) { (void)state, run_misstep(BIG_CONTROL); }
static void test_bad_hello(void **state) { (void)state, run_misstep(BAD_HELLO); }
static void test_no_hello(void **state) { (void)state, run_misstep(NO_HELLO); }
static void test_big_after_hello(void **state) { (void)state, run_misstep(BIG_AFTER_HELLO); }

/* One address cannot take every pending slot: past max_pending_per_ip a newcomer from it
 * evicts the oldest from the same address, while another address gets in untouched. */
static void test_max_pending_per_ip(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_target_ip(&f, 60000, 8, 2);
    raw r[4];
    uint32_t n;
    for (int i = 0; i < 2; i++) {
        raw_open_from(&f, &r[i], f.n[1].port, NULL, "127.0.0.1");
        n = (uint32_t)i + 1;
        assert_true(run_until(&f, pred_pending, &n, DEADLINE_MS));
    }
    raw_open_from(&f, &r[2], f.n[1].port, NULL, "127.0.0.1");
    assert_true(run_until(&f, pred_raw_eof, &r[0], DEADLINE_MS));
    p2p_net_stats ns = net_stats(&f.n[1]);
    assert_int_equal(ns.evicted_pending_ip, 1);
    assert_int_equal(ns.evicted_pending, 0);
    assert_int_equal(ns.pending, 2);
    raw_open_from(&f, &r[3], f.n[1].port, NULL, "127.0.0.2"); /* another host */
    n = 3;
    assert_true(run_until(&f, pred_pending, &n, DEADLINE_MS));
    run_for(&f, 50);
    assert_false(r[1].eof || r[2].eof || r[3].eof);
    assert_int_equal(net_stats(&f.n[1]).evicted_pending_ip, 1);
    for (int i = 0; i < 4; i++)
        raw_close(&f, &r[i]);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* Liveness against an authenticated client                                                  */

/* Node 1 with pings after 100 ms of silence and the idle bound at 400 ms; r is node 2's
 * key over TLS 1.3, up (its hello sent and node 1's received). */
static SSL_CTX *raw_up(tfix *f, raw *r)
{
    f->n[1].lim.ping_interval_ms = 100;
    f->n[1].lim.idle_timeout_ms = 400;
    start_target(f, 0, 0);
    SSL_CTX *ctx = client_ctx(&f->n[2], TLS1_3_VERSION);
    raw_open(f, r, f->n[1].port, ctx);
    assert_true(run_until(f, pred_raw_hs, r, DEADLINE_MS));
    assert_true(r->hs_done);
    raw_hello(r, "fwl-test");
    uint32_t up[] = {1, 2, 1};
    assert_true(run_until(f, pred_ups, up, DEADLINE_MS));
    return ctx;
}

/* A peer that completes its hello and then says nothing (it still reads): pinged once, never
 * more while the ping is unanswered, and disconnected within the bound, the log naming it by
 * its key (it has no configured name). */
static void test_silent_peer(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    f.n[1].watch = "nothing heard for";
    raw r;
    SSL_CTX *ctx = raw_up(&f, &r);
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop);
    assert_true(run_until(&f, pred_raw_eof, &r, DEADLINE_MS));
    uint64_t took = uv_now(&f.loop) - t0;
    assert_true(took >= 400 && took <= 1000);
    assert_int_equal(f.n[1].downs[2], 1);
    assert_int_equal(count_ctl(&r, P2P_CTL_PING), 1);
    p2p_peer_stats ps = peer_stats(&f.n[1], 2);
    assert_false(ps.connected);
    assert_int_equal(ps.pings_out, 1);
    assert_int_equal(ps.timeouts, 1);
    assert_int_equal(net_stats(&f.n[1]).timeouts, 1);
    assert_int_equal(f.n[1].watched, 1);
    char name[64];
    snprintf(name, sizeof name, "peer ed25519:%02x%02x", f.n[2].pub.key[0], f.n[2].pub.key[1]);
    assert_non_null(strstr(f.n[1].last_log, name)); /* "peer ed25519:....... down" */
    raw_close(&f, &r);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

/* A peer that floods pings: each burst gets one pong (one is queued at a time), the caller
 * never sees them, and a ping is all it takes to stay up. */
static void test_ping_flood(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    raw r;
    SSL_CTX *ctx = raw_up(&f, &r);
    uint8_t burst[100 * 6];
    for (int i = 0; i < 100; i++) {
        p2p__frame_header(burst + 6 * i, 0, 1);
        burst[6 * i + 5] = P2P_CTL_PING;
    }
    assert_int_equal(SSL_write(r.ssl, burst, sizeof burst), (int)sizeof burst);
    raw_flush(&r);
    for (int round = 0; round < 8; round++) { /* 0.8 s: twice the idle bound */
        run_for(&f, 100);
        const uint8_t ping[1] = {P2P_CTL_PING};
        raw_frame(&r, 0, ping, 1); /* and one now and then: stays up */
    }
    run_for(&f, 50);
    p2p_peer_stats ps = peer_stats(&f.n[1], 2);
    assert_true(ps.connected);
    assert_false(r.eof);
    assert_int_equal(f.n[1].downs[2], 0);
    /* 100 pings in one record: one pong (two if the record came in two reads); then one per
     * later ping. */
    assert_true(ps.pongs_out >= 1 + 8 && ps.pongs_out <= 2 + 8);
    assert_int_equal(count_ctl(&r, P2P_CTL_PONG), (int)ps.pongs_out);
    assert_int_equal(ps.msgs_in, 0);
    assert_int_equal(f.n[1].got[2] + (uint64_t)f.n[1].bad, 0);
    raw_close(&f, &r);
    SSL_CTX_free(ctx);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* Known peers through junk                                                                  */

/* An attacker's connection: TCP only, from src, never a byte sent, and opened again as soon
 * as the node closes it, so that the attacker keeps every slot it can get. */
typedef struct {
    uv_tcp_t h;
    uv_connect_t cr;
    uv_loop_t *loop;
    int port;
    const char *src;
    bool stop;   /* junk_stop called: do not open again                                   */
    bool open;   /* connected now                                                         */
    bool closed; /* the handle closed for good                                            */
    int opens;   /* connections made                                                      */
    int failed;  /* connects refused (nothing listening)                                  */
} junk;

static void junk_connect(junk *j);

static void junk_closed(uv_handle_t *h)
{
    junk *j = h->data;
    if (j->stop)
        j->closed = true;
    else
        junk_connect(j);
}

static void junk_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    junk *j = s->data;
    if (n < 0 && !uv_is_closing((uv_handle_t *)s)) {
        j->open = false;
        uv_close((uv_handle_t *)s, junk_closed);
    }
}

static void junk_connected(uv_connect_t *c, int status)
{
    junk *j = c->data;
    if (status == UV_ECANCELED)
        return;
    if (status < 0) {
        j->failed++;
        j->stop = true;
        uv_close((uv_handle_t *)&j->h, junk_closed);
        return;
    }
    j->open = true;
    j->opens++;
    uv_read_start((uv_stream_t *)&j->h, raw_alloc, junk_read);
}

static void junk_connect(junk *j)
{
    struct sockaddr_in sa;
    uv_tcp_init(j->loop, &j->h);
    j->h.data = j;
    j->cr.data = j;
    assert_int_equal(uv_ip4_addr(j->src, 0, &sa), 0);
    assert_int_equal(uv_tcp_bind(&j->h, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", j->port, &sa), 0);
    assert_int_equal(uv_tcp_connect(&j->cr, &j->h, (struct sockaddr *)&sa, junk_connected), 0);
}

typedef struct {
    tnode *t;
    junk *j;
    uint32_t n;
} junk_set;

/* Every junk connection is open and the node holds as many pending (at most the limit). */
static bool pred_junk_held(tfix *f, void *arg)
{
    (void)f;
    const junk_set *s = arg;
    for (uint32_t i = 0; i < s->n; i++)
        if (!s->j[i].open)
            return false;
    return s->t->net && net_stats(s->t).pending == s->n;
}

/* Open n junk connections from src to t and wait until t holds them all. */
static void junk_fill(tfix *f, junk_set *s, tnode *t, junk *j, uint32_t n, const char *src)
{
    *s = (junk_set){t, j, n};
    for (uint32_t i = 0; i < n; i++) {
        memset(&j[i], 0, sizeof j[i]);
        j[i].loop = &f->loop;
        j[i].port = t->port;
        j[i].src = src;
        junk_connect(&j[i]);
    }
    assert_true(run_until(f, pred_junk_held, s, DEADLINE_MS));
}

static bool pred_junk_closed(tfix *f, void *arg)
{
    (void)f;
    const junk_set *s = arg;
    for (uint32_t i = 0; i < s->n; i++)
        if (!s->j[i].closed)
            return false;
    return true;
}

static void junk_stop(tfix *f, junk_set *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        s->j[i].stop = true;
        if (!uv_is_closing((uv_handle_t *)&s->j[i].h))
            uv_close((uv_handle_t *)&s->j[i].h, junk_closed);
    }
    assert_true(run_until(f, pred_junk_closed, s, DEADLINE_MS));
    for (uint32_t i = 0; i < s->n; i++)
        assert_int_equal(s->j[i].failed, 0);
}

/* Connections the node holds, its peers' and pending ones (not those closing). */
static uint32_t live_conns(tnode *t)
{
    uint32_t n = 0;
    for (const p2p__conn *c = t->net->conns; c; c = c->next)
        n += c->state != P2P_C_CLOSING;
    return n;
}

#define JUNK 4          /* the pending limit in these tests, and the attacker's connections */
#define THROUGH_MS 3000 /* a known peer is up within this, junk or not                      */

/* V (node 2) came back: up with A (node 1, which V dials) and B (node 3, which dials V). */
static bool pred_v_back(tfix *f, void *arg)
{
    (void)arg;
    return f->n[2].ups[1] >= 1 && f->n[2].ups[3] >= 1 && f->n[1].ups[2] >= 2 &&
           f->n[3].ups[2] >= 2;
}

/* Nodes 1 (A), 2 (V) and 3 (B), all up; the keys make V dial A and B dial V. The pending
 * limit (per address or in all) is JUNK, and no pending connection is timed out during the
 * test: eviction alone must let the peers through. */
static void start_three(tfix *f, bool per_ip)
{
    node_key(&f->n[1], LDG_SIG_ED25519, 0xa1);
    node_key(&f->n[2], LDG_SIG_ED25519, 0xa3);
    node_key(&f->n[3], LDG_SIG_ED25519, 0xa2);
    assert_true(key_less(&f->n[2], &f->n[1]) && key_less(&f->n[3], &f->n[2]));
    for (uint32_t i = 1; i <= 3; i++) {
        p2p_limits *l = &f->n[i].lim;
        l->backoff_min_ms = 200; /* B redials V 100 ms or more after a refused dial */
        l->backoff_max_ms = 400;
        l->handshake_timeout_ms = 60000;
        l->auth_timeout_ms = 60000;
        if (per_ip)
            l->max_pending_per_ip = JUNK;
        else
            l->max_pending = JUNK;
    }
    const uint32_t ids[] = {1, 2, 3, 0}, pa[] = {2, 3}, pv[] = {1, 3}, pb[] = {1, 2};
    assert_int_equal(node_start(f, &f->n[1], pa, 2, false), 0);
    assert_int_equal(node_start(f, &f->n[2], pv, 2, false), 0);
    assert_int_equal(node_start(f, &f->n[3], pb, 2, false), 0);
    connect_all(f, ids, 3);
    assert_true(run_until(f, pred_all_up, (void *)ids, DEADLINE_MS));
}

/* With the peers through, the junk holds what the bounds allow (the attacker reopened what
 * was evicted), no more, and costs no more evictions. */
static void assert_junk_bounded(tfix *f, junk_set *sa, junk_set *sv, bool per_ip)
{
    assert_true(run_until(f, pred_junk_held, sa, DEADLINE_MS));
    assert_true(run_until(f, pred_junk_held, sv, DEADLINE_MS));
    p2p_net_stats was[3] = {{0}, net_stats(&f->n[1]), net_stats(&f->n[2])};
    run_for(f, 300);
    for (uint32_t i = 1; i <= 2; i++) {
        p2p_net_stats ns = net_stats(&f->n[i]);
        assert_true((per_ip ? ns.evicted_pending_ip : ns.evicted_pending) >= 1);
        assert_int_equal(per_ip ? ns.evicted_pending : ns.evicted_pending_ip, 0);
        assert_int_equal(ns.evicted_pending + ns.evicted_pending_ip,
                         was[i].evicted_pending + was[i].evicted_pending_ip);
        assert_int_equal(ns.pending, JUNK);
        assert_int_equal(ns.timeouts, 0);
        assert_true(live_conns(&f->n[i]) <= JUNK + 2); /* the junk and the two peers */
    }
}

/*
 * The defect of issue 10 (5): an attacker at the address of a node's peers (127.0.0.1 here
 * for the per-address limit; another address for the total) keeps JUNK idle connections to
 * A and to V open, opening a new one whenever one is closed. V restarts: its dial to A and
 * B's dial to V must each get through a pending table full of junk (and V's own full table
 * must not hold back its dial), within THROUGH_MS, while the junk stays at the bound.
 */
static void run_through_junk(bool per_ip)
{
    tfix f;
    fx_init(&f);
    start_three(&f, per_ip);
    const char *src = per_ip ? "127.0.0.1" : "127.0.0.2";
    junk ja[JUNK], jv[JUNK];
    junk_set sa, sv;
    junk_fill(&f, &sa, &f.n[1], ja, JUNK, src);
    node_stop(&f, &f.n[2]);
    node_reset_counts(&f.n[2]);
    uint32_t d12[] = {1, 2, 1}, d32[] = {3, 2, 1};
    assert_true(run_until(&f, pred_downs, d12, DEADLINE_MS));
    assert_true(run_until(&f, pred_downs, d32, DEADLINE_MS));
    /* V comes back without A's address, so that it dials A only once its own table is full
     * (B, which redials V with its backoff, finds it full too). */
    const uint32_t pv[] = {1, 3};
    assert_int_equal(node_start(&f, &f.n[2], pv, 2, false), 0);
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop);
    junk_fill(&f, &sv, &f.n[2], jv, JUNK, src);
    assert_int_equal(p2p_set_peer_addr(f.n[2].net, 1, "127.0.0.1", f.n[1].port), 0);
    uint64_t spent = uv_now(&f.loop) - t0;
    assert_true(spent < THROUGH_MS);
    assert_true(run_until(&f, pred_v_back, NULL, THROUGH_MS - spent));
    assert_junk_bounded(&f, &sa, &sv, per_ip);
    assert_int_equal(f.n[1].bad + f.n[2].bad + f.n[3].bad, 0);
    junk_stop(&f, &sa);
    junk_stop(&f, &sv);
    fx_end(&f);
}

static void test_through_junk_per_ip(void **state) { (void)state, run_through_junk(true); }
static void test_through_junk_total(void **state) { (void)state, run_through_junk(false); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_silent),
        cmocka_unit_test(test_max_pending),
        cmocka_unit_test(test_max_pending_per_ip),
        cmocka_unit_test(test_evict_order),
        cmocka_unit_test(test_auth_timeout),
        cmocka_unit_test(test_tls12),
        cmocka_unit_test(test_no_certificate),
        cmocka_unit_test(test_message_before_hello),
        cmocka_unit_test(test_big_control),
        cmocka_unit_test(test_bad_hello),
        cmocka_unit_test(test_no_hello),
        cmocka_unit_test(test_big_after_hello),
        cmocka_unit_test(test_silent_peer),
        cmocka_unit_test(test_ping_flood),
        cmocka_unit_test(test_through_junk_per_ip),
        cmocka_unit_test(test_through_junk_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
