/*
 * The RPC component (rpc.h): connections, framing, coalesced output, and the bounds on work,
 * memory and time per client (rpc.h lists them).
 *
 * A connection's input is served by pump(): whole frames are decoded and handed on while
 * may_serve() allows (its own and the total unwritten output under their bounds, at most
 * NODE_RPC_FRAMES_PER_TURN per turn); the socket is read only while no whole frame waits.
 * What stops serving restarts it: a write completing (on_write) or the next turn (the
 * backlog idle handle, for a connection cut off by the per-turn bound).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ledger/tls.h"
#include "node/client/client.h"
#include "node/daemon/log.h"
#include "node/daemon/rpc.h"

struct node_rpc_conn {
    uv_tcp_t h;
    node_rpc *r;
    uint32_t slot, gen;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    size_t unsent;      /* bytes handed to uv_write and not yet written               */
    size_t pending;     /* node_rpc_conn_pending                                      */
    size_t waits;       /* node_rpc_conn_waits                                        */
    uint64_t last_rx_ms;    /* loop time bytes last came in                           */
    uint64_t last_tx_ms;    /* loop time output last made progress                    */
    uint64_t frame_since_ms; /* a partial frame is buffered since (0: none)           */
    uint64_t accepted_ms;   /* loop time the connection was accepted                 */
    uint64_t paused_until;  /* loop time; 0: not paused (node_rpc_conn_pause)         */
    uint8_t ip[16];     /* the client's IPv4 address, or IPv6 /64 (per-IP bound)      */
    uint8_t ip_len;
    char addr[INET6_ADDRSTRLEN]; /* the client's address as text (node_rpc_conn_addr)  */
    p2p_tls tls;        /* tls.ssl NULL: plaintext                                     */
    ldg_pubkey client_key; /* from the client's certificate; len 0: none             */
    bool dirty;         /* out has bytes to flush                                     */
    bool backlog;       /* whole frames left for the next turn                        */
    bool reading;
    bool closing;
    bool close_after_flush;
    node_rpc_conn *next_dirty;
};

static int verify_client(X509_STORE_CTX *xs, void *arg);

int node_rpc_init(node_rpc *r, const node_rpc_config *cfg)
{
    if (!r)
        return LDG_EINVALID;
    memset(r, 0, sizeof *r);
    if (!cfg || !cfg->loop || !cfg->on_request || cfg->max_clients == 0)
        return LDG_EINVALID;
    r->cfg = *cfg;
    if (cfg->tls)
        SSL_CTX_set_cert_verify_callback(cfg->tls, verify_client, NULL);
    if (!r->cfg.max_per_ip)
        r->cfg.max_per_ip = NODE_RPC_MAX_PER_IP;
    if (!r->cfg.idle_timeout_ms)
        r->cfg.idle_timeout_ms = NODE_RPC_IDLE_TIMEOUT_MS;
    if (!r->cfg.request_timeout_ms)
        r->cfg.request_timeout_ms = NODE_RPC_REQUEST_TIMEOUT_MS;
    r->conns = calloc(cfg->max_clients, sizeof *r->conns);
    r->gens = calloc(cfg->max_clients, sizeof *r->gens);
    if (!r->conns || !r->gens) {
        node_rpc_close(r);
        return LDG_ENOMEM;
    }
    return 0;
}

void node_rpc_close(node_rpc *r)
{
    if (!r)
        return;
    free(r->conns);
    free(r->gens);
    memset(r, 0, sizeof *r);
}

node_reply_to node_rpc_reply_to(const node_rpc_conn *c, uint64_t id)
{
    return (node_reply_to){c->slot, c->gen, id};
}

node_rpc_conn *node_rpc_conn_of(node_rpc *r, node_reply_to to)
{
    if (to.slot >= r->cfg.max_clients || r->gens[to.slot] != to.gen)
        return NULL;
    node_rpc_conn *c = r->conns[to.slot];
    return c && !c->closing ? c : NULL;
}

size_t *node_rpc_conn_pending(node_rpc_conn *c)
{
    return &c->pending;
}

size_t *node_rpc_conn_waits(node_rpc_conn *c)
{
    return &c->waits;
}

const ldg_pubkey *node_rpc_conn_client_key(const node_rpc_conn *c)
{
    return c->client_key.len ? &c->client_key : NULL;
}

void node_rpc_conn_addr(node_rpc_conn *c, char *out, size_t len)
{
    snprintf(out, len, "%s", c->addr);
}

/* Client certificates (rpc_client_auth): any certificate of an identity key is accepted
 * here, its key kept for the request checks (rpc_require); one without such a key fails the
 * handshake. */
static int verify_client(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    node_rpc_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!c || ldg_tls_cert_key(X509_STORE_CTX_get0_cert(xs), &c->client_key)) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */

static void pump(node_rpc_conn *c);

fwl_Response *node_rpc_new_resp(node_rpc *r, uint64_t id, pb_size_t which)
{
    fwl_Response *resp = &r->resp;
    memset(resp, 0, sizeof *resp);
    resp->id = id;
    resp->which_resp = which;
    return resp;
}

/* c has output to write at the end of this loop iteration. */
static void mark_dirty(node_rpc_conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->r->dirty;
        c->r->dirty = c;
    }
}

uint8_t *node_rpc_frame_begin(node_rpc_conn *c, size_t size)
{
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size)) {
        node_rpc_close_conn(c);
        return NULL;
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    return p + 4;
}

void node_rpc_frame_end(node_rpc_conn *c, size_t size)
{
    c->out_len += 4 + size;
    c->r->out_total += 4 + size;
    mark_dirty(c);
}

void node_rpc_send_resp(node_rpc_conn *c, const fwl_Response *resp)
{
    size_t size;
    uint8_t *p;
    if (!pb_get_encoded_size(&size, fwl_Response_fields, resp)) {
        node_rpc_close_conn(c);
        return;
    }
    if (!(p = node_rpc_frame_begin(c, size)))
        return;
    pb_ostream_t os = pb_ostream_from_buffer(p, size);
    if (!pb_encode(&os, fwl_Response_fields, resp)) {
        node_rpc_close_conn(c);
        return;
    }
    node_rpc_frame_end(c, size);
}

void node_rpc_send_error(node_rpc_conn *c, uint64_t id, int code, const char *fmt, ...)
{
    fwl_Response *resp = node_rpc_new_resp(c->r, id, fwl_Response_error_tag);
    resp->resp.error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->resp.error.message, sizeof resp->resp.error.message, fmt, ap);
    va_end(ap);
    node_rpc_send_resp(c, resp);
}

typedef struct {
    uv_write_t req;
    node_rpc_conn *c;
    uint8_t *buf;
    size_t len;
} write_req;

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    node_rpc_conn *c = w->c;
    c->unsent -= w->len;
    c->r->out_total -= w->len;
    c->last_tx_ms = uv_now(c->r->cfg.loop);
    free(w->buf);
    free(w);
    if (status < 0) {
        node_rpc_close_conn(c);
        return;
    }
    if (c->close_after_flush && c->unsent == 0)
        node_rpc_close_conn(c);
    else if (!c->closing && !c->reading)
        pump(c); /* output drained: serve what waits, or read again */
}

/* Hand len bytes of buf (malloc'd; freed once written) to the socket. */
static void write_buf(node_rpc_conn *c, uint8_t *buf, size_t len)
{
    node_rpc *r = c->r;
    write_req *w = malloc(sizeof *w);
    if (!w) {
        free(buf);
        node_rpc_close_conn(c);
        return;
    }
    w->c = c;
    w->buf = buf;
    w->len = len;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    if (!c->unsent)
        c->last_tx_ms = uv_now(r->cfg.loop);
    c->unsent += len;
    r->out_total += len;
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_write)) {
        c->unsent -= len;
        r->out_total -= len;
        free(buf);
        free(w);
        node_rpc_close_conn(c);
    }
}

/* Write c's pending output: its answers, through TLS when it has a session (whose own
 * handshake messages go out the same way). */
static void write_out(node_rpc_conn *c)
{
    node_rpc *r = c->r;
    uint8_t *buf = c->out;
    size_t len = c->out_len;
    r->out_total -= len; /* counted again as unsent bytes once handed to the socket */
    c->out_len = 0;
    if (!c->tls.ssl) {
        c->out = NULL;
        c->out_cap = 0;
        if (len)
            write_buf(c, buf, len);
        return;
    }
    if (len && p2p_tls_write(&c->tls, buf, len)) {
        node_rpc_close_conn(c);
        return;
    }
    size_t n = p2p_tls_pending(&c->tls);
    if (!n)
        return;
    if (!(buf = malloc(n))) {
        node_rpc_close_conn(c);
        return;
    }
    write_buf(c, buf, p2p_tls_take(&c->tls, buf, n));
}

void node_rpc_flush(node_rpc *r)
{
    while (r->dirty) {
        node_rpc_conn *c = r->dirty;
        r->dirty = c->next_dirty;
        c->dirty = false;
        if (!c->closing)
            write_out(c);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Connections                                                                               */

static void on_conn_closed(uv_handle_t *h)
{
    node_rpc_conn *c = h->data;
    node_rpc *r = c->r;
    r->conns[c->slot] = NULL;
    r->gens[c->slot]++;
    r->n_conns--;
    r->out_total -= c->out_len; /* unsent bytes left with their write requests */
    if (c->backlog && !--r->n_backlog)
        uv_idle_stop(&r->backlog);
    p2p_tls_free(&c->tls);
    free(c->in);
    free(c->out);
    free(c);
}

void node_rpc_close_conn(node_rpc_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    node_rpc_conn *c = h->data;
    if (c->tls.ssl) { /* ciphertext: fed to TLS at once, so one buffer serves everyone */
        *buf = uv_buf_init((char *)c->r->rbuf, sizeof c->r->rbuf);
        return;
    }
    if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void handle_frame(node_rpc_conn *c, const uint8_t *buf, size_t len)
{
    node_rpc *r = c->r;
    fwl_Request *req = &r->req;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Request_fields, req)) {
        const char *e = PB_GET_ERROR(&st);
        int code = ldg_decode_error(e);
        node_rpc_send_error(c, req->id, code, "%s request: %s",
                            code == LDG_ETOOBIG ? "oversized field in" : "malformed",
                            e ? e : "decode error");
        return;
    }
    r->cfg.on_request(r->cfg.ctx, c, req);
}

/* Unwritten answer bytes of c. */
static size_t out_held(const node_rpc_conn *c)
{
    return c->out_len + c->unsent;
}

/* May c's next request be served now (rpc.h: the output bounds)? */
static bool may_serve(const node_rpc_conn *c)
{
    size_t held = out_held(c);
    return !c->closing && !c->close_after_flush && !c->paused_until &&
           held < NODE_RPC_OUT_HIGH && (held == 0 || c->r->out_total < NODE_RPC_OUT_TOTAL);
}

/* The size (length prefix included) of the whole frame at offset off of c's input, or 0
 * when there is none yet. A frame over the size limit is answered, and c closes once the
 * answer is out. */
static size_t whole_frame(node_rpc_conn *c, size_t off)
{
    if (c->in_len - off < 4)
        return 0;
    const uint8_t *p = c->in + off;
    size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (flen > NODE_RPC_MAX_REQUEST) {
        /* The stream cannot be resynchronised: answer, then hang up. */
        node_rpc_send_error(c, 0, NODE_EFRAME, "request frame of %zu bytes exceeds the limit "
                            "of %u", flen, NODE_RPC_MAX_REQUEST);
        c->close_after_flush = true;
        return 0;
    }
    return c->in_len - off - 4 >= flen ? 4 + flen : 0;
}

static void on_backlog(uv_idle_t *h);

static void set_backlog(node_rpc_conn *c, bool on)
{
    node_rpc *r = c->r;
    if (c->backlog == on)
        return;
    c->backlog = on;
    if (on && r->n_backlog++ == 0)
        uv_idle_start(&r->backlog, on_backlog);
    else if (!on && --r->n_backlog == 0)
        uv_idle_stop(&r->backlog);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* Count, log and report a failed handshake. */
static void tls_failed(node_rpc_conn *c, const char *why)
{
    node_rpc *r = c->r;
    char who[64];
    r->stats.tls_failed++;
    node_rpc_conn_addr(c, who, sizeof who);
    if (r->cfg.on_security)
        r->cfg.on_security(r->cfg.ctx, "rpc_tls_failed", who, why);
    node_rpc_close_conn(c);
}

/* Move TLS along: the handshake, then every decrypted byte into c->in (no more than the
 * socket reads bring: it is not read while a whole request waits). false: c is closing, or
 * its handshake is not done yet. */
static bool tls_step(node_rpc_conn *c)
{
    char why[200] = "";
    if (!c->tls.done) {
        int rc = p2p_tls_handshake(&c->tls, why, sizeof why);
        mark_dirty(c); /* the handshake's own messages */
        if (rc < 0)
            tls_failed(c, why);
        if (rc <= 0)
            return false;
    }
    for (;;) {
        if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + P2P_TLS_RECORD)) {
            node_rpc_close_conn(c);
            return false;
        }
        int n = p2p_tls_read(&c->tls, c->in + c->in_len, c->in_cap - c->in_len, why,
                             sizeof why);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == P2P_ENOTCONN) /* close_notify: answer what came before it, then close */
            c->close_after_flush = true;
        else if (n < 0)
            node_rpc_close_conn(c);
        return !c->closing;
    }
}

/* Serve c's whole frames within the bounds, then decide whether to read more. */
static void pump(node_rpc_conn *c)
{
    node_rpc *r = c->r;
    if (c->tls.ssl && !c->closing && !tls_step(c)) {
        node_rpc_flush(r);
        if (!c->closing && !c->reading &&
            !uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read))
            c->reading = true; /* the handshake needs the client's next flight */
        return;
    }
    unsigned served = 0;
    size_t off = 0, size, held0 = out_held(c);
    while (served < NODE_RPC_FRAMES_PER_TURN && out_held(c) - held0 < NODE_RPC_OUT_PER_TURN &&
           may_serve(c) && (size = whole_frame(c, off))) {
        handle_frame(c, c->in + off + 4, size - 4);
        served++;
        off += size;
    }
    if (c->close_after_flush)
        c->in_len = off = 0; /* nothing more is read from it */
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (served && r->cfg.on_read_end)
        r->cfg.on_read_end(r->cfg.ctx);
    node_rpc_flush(r);
    if (c->closing)
        return;
    if (c->close_after_flush) {
        if (c->unsent == 0 && !c->dirty)
            node_rpc_close_conn(c);
        else if (c->reading && !uv_read_stop((uv_stream_t *)&c->h))
            c->reading = false;
        return;
    }
    bool whole = whole_frame(c, 0) != 0;
    set_backlog(c, whole && may_serve(c));
    bool want_read = !whole && may_serve(c);
    if (want_read && !c->reading && !uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read))
        c->reading = true;
    else if (!want_read && c->reading && !uv_read_stop((uv_stream_t *)&c->h))
        c->reading = false;
    if (c->in_len == 0)
        c->frame_since_ms = 0;
    else if (!c->frame_since_ms)
        c->frame_since_ms = uv_now(r->cfg.loop);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    node_rpc_conn *c = st->data;
    if (n < 0) {
        node_rpc_close_conn(c);
        return;
    }
    if (n == 0)
        return;
    c->last_rx_ms = uv_now(c->r->cfg.loop);
    if (!c->tls.ssl)
        c->in_len += (size_t)n;
    else if (p2p_tls_feed(&c->tls, c->r->rbuf, (size_t)n)) {
        node_rpc_close_conn(c);
        return;
    }
    pump(c);
}

/* The next turn for connections cut off by NODE_RPC_FRAMES_PER_TURN. */
static void on_backlog(uv_idle_t *h)
{
    node_rpc *r = h->data;
    for (uint32_t i = 0; i < r->cfg.max_clients && r->n_backlog; i++) {
        node_rpc_conn *c = r->conns[i];
        if (c && c->backlog) {
            set_backlog(c, false);
            pump(c);
        }
    }
}

/* Pauses that ended: their connections go on; the timer is armed for the next one. */
static void on_resume(uv_timer_t *t)
{
    node_rpc *r = t->data;
    uint64_t now = uv_now(r->cfg.loop), next = 0;
    r->resume_at = 0;
    for (uint32_t i = 0; i < r->cfg.max_clients; i++) {
        node_rpc_conn *c = r->conns[i];
        if (!c || !c->paused_until || c->closing)
            continue;
        if (c->paused_until <= now) {
            c->paused_until = 0;
            pump(c);
        } else if (!next || c->paused_until < next) {
            next = c->paused_until;
        }
    }
    if (next) {
        r->resume_at = next;
        uv_timer_start(&r->resume, on_resume, next - now, 0);
    }
}

void node_rpc_conn_pause(node_rpc_conn *c, uint32_t ms)
{
    node_rpc *r = c->r;
    uint64_t now = uv_now(r->cfg.loop), until = now + (ms ? ms : 1);
    if (c->paused_until >= until)
        return;
    c->paused_until = until;
    if (!r->resume_at || until < r->resume_at) {
        r->resume_at = until;
        uv_timer_start(&r->resume, on_resume, until - now, 0);
    }
}

static void free_handle(uv_handle_t *h)
{
    free(h->data);
}

/* The client's address, once: as text (logs, the audit log, the rate buckets), and as the
 * per-IP bound counts it: IPv4 (also IPv4-mapped IPv6), or the /64 of an IPv6 address (one
 * host commonly holds a whole /64). */
static void client_ip(node_rpc_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    c->ip_len = 0;
    snprintf(c->addr, sizeof c->addr, "?");
    if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &len))
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, c->addr, sizeof c->addr);
        memcpy(c->ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        c->ip_len = 4;
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->addr, sizeof c->addr);
        const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        bool v4 = memcmp(a, mapped, sizeof mapped) == 0;
        memcpy(c->ip, v4 ? a + 12 : a, v4 ? 4 : 8);
        c->ip_len = v4 ? 4 : 8;
    }
}

/* Connections open from c's address, c not counted. */
static uint32_t same_ip(const node_rpc *r, const node_rpc_conn *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->cfg.max_clients; i++) {
        const node_rpc_conn *o = r->conns[i];
        n += o && o != c && !o->closing && o->ip_len == c->ip_len &&
             memcmp(o->ip, c->ip, c->ip_len) == 0;
    }
    return n;
}

static void on_connection(uv_stream_t *l, int status)
{
    node_rpc *r = l->data;
    if (status < 0)
        return;
    node_rpc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(r->cfg.loop, &c->h);
    c->h.data = c;
    c->r = r;
    if (uv_accept(l, (uv_stream_t *)&c->h)) {
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    client_ip(c);
    uint32_t slot = 0;
    while (slot < r->cfg.max_clients && r->conns[slot])
        slot++;
    bool full = slot == r->cfg.max_clients;
    if (full || same_ip(r, c) >= r->cfg.max_per_ip) {
        /* counted, and logged once per tick (on_tick), not per connection */
        if (full)
            r->stats.refused_full++;
        else
            r->stats.refused_per_ip++;
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    c->slot = slot;
    c->gen = r->gens[slot];
    r->conns[slot] = c;
    r->n_conns++;
    c->accepted_ms = c->last_rx_ms = c->last_tx_ms = uv_now(r->cfg.loop);
    uv_tcp_nodelay(&c->h, 1);
    if (r->cfg.tls && p2p_tls_new(&c->tls, r->cfg.tls, false, c)) {
        node_rpc_close_conn(c);
        return;
    }
    pump(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Deadlines                                                                                 */

/* The counter of why c should be closed at now (a handshake counts as a request not sent
 * in time), or NULL. */
static uint64_t *overdue(node_rpc *r, const node_rpc_conn *c, uint64_t now)
{
    uint64_t req_since = c->tls.ssl && !c->tls.done ? c->accepted_ms
                         : c->reading              ? c->frame_since_ms
                                                   : 0;
    if (req_since && now - req_since >= r->cfg.request_timeout_ms)
        return &r->stats.closed_slow_request;
    if (c->unsent && now - c->last_tx_ms >= r->cfg.idle_timeout_ms)
        return &r->stats.closed_not_reading;
    bool owed = c->pending || c->waits || c->in_len || out_held(c);
    if (!owed && now - c->last_rx_ms >= r->cfg.idle_timeout_ms &&
        now - c->last_tx_ms >= r->cfg.idle_timeout_ms)
        return &r->stats.closed_idle;
    return NULL;
}

static void log_stats(node_rpc *r)
{
    node_rpc_stats *s = &r->stats, *l = &r->logged;
    if (!memcmp(s, l, sizeof *s))
        return;
    node__log("rpc: refused %" PRIu64 " clients at max_clients and %" PRIu64 " at the per-IP "
              "bound; closed %" PRIu64 " idle, %" PRIu64 " with a request not sent in time, "
              "%" PRIu64 " not reading their answers; %" PRIu64 " TLS handshakes failed",
              s->refused_full - l->refused_full, s->refused_per_ip - l->refused_per_ip,
              s->closed_idle - l->closed_idle, s->closed_slow_request - l->closed_slow_request,
              s->closed_not_reading - l->closed_not_reading, s->tls_failed - l->tls_failed);
    *l = *s;
}

static void on_tick(uv_timer_t *t)
{
    node_rpc *r = t->data;
    uint64_t now = uv_now(r->cfg.loop);
    for (uint32_t i = 0; i < r->cfg.max_clients; i++) {
        node_rpc_conn *c = r->conns[i];
        uint64_t *why = c && !c->closing ? overdue(r, c, now) : NULL;
        if (why) {
            ++*why;
            node_rpc_close_conn(c);
        }
    }
    log_stats(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */

int node_rpc_start(node_rpc *r, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    int rc;
    uv_tcp_init(r->cfg.loop, &r->listener);
    uv_idle_init(r->cfg.loop, &r->backlog);
    uv_timer_init(r->cfg.loop, &r->tick);
    uv_timer_init(r->cfg.loop, &r->resume);
    r->listener.data = r->backlog.data = r->tick.data = r->resume.data = r;
    r->started = true;
    uv_timer_start(&r->tick, on_tick, NODE_RPC_TICK_MS, NODE_RPC_TICK_MS);
    if (uv_ip4_addr(r->cfg.host, r->cfg.port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(r->cfg.host, r->cfg.port, (struct sockaddr_in6 *)&addr)) {
        snprintf(err, errlen, "rpc_listen: bad address %s", r->cfg.host);
        return NODE_ECONFIG;
    }
    if ((rc = uv_tcp_bind(&r->listener, (struct sockaddr *)&addr, 0)) ||
        (rc = uv_listen((uv_stream_t *)&r->listener, 511, on_connection))) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", r->cfg.host, r->cfg.port,
                 uv_strerror(rc));
        return NODE_ECONFIG;
    }
    return 0;
}

void node_rpc_stop(node_rpc *r)
{
    if (r->started && !uv_is_closing((uv_handle_t *)&r->listener)) {
        uv_close((uv_handle_t *)&r->listener, NULL);
        uv_close((uv_handle_t *)&r->backlog, NULL);
        uv_close((uv_handle_t *)&r->tick, NULL);
        uv_close((uv_handle_t *)&r->resume, NULL);
    }
    for (uint32_t i = 0; i < r->cfg.max_clients; i++)
        if (r->conns[i])
            node_rpc_close_conn(r->conns[i]);
}
