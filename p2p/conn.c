/*
 * One peer connection on libuv: socket bytes -> TLS -> frames -> the caller, and the caller's
 * messages -> a bounded queue -> TLS -> the socket.
 *
 * Memory bounds per connection:
 *   - input: one 64 KiB read buffer, at most one read's worth of ciphertext inside OpenSSL's
 *     rbio (every read is decrypted before the next), one 16 KiB plaintext record, and the
 *     frame parser's partial payload (bytes that arrived, at most max_message);
 *   - output: the send queue (max_queue, checked before anything is copied) plus the
 *     encrypted bytes in flight, which the pump keeps near P2P_WR_HIGH. Only TLS's own
 *     replies can push the in-flight bytes past P2P_RD_STOP, and then reading stops until
 *     the socket drains, so a peer cannot make us buffer output by what it sends.
 *
 * Lifecycle (libuv's): p2p__conn_new -> connect/accept -> p2p__conn_begin -> ... ->
 * p2p__conn_close -> uv_close -> on_closed frees everything. Between close and on_closed
 * the struct stays valid (state CLOSING), so code that ran a user callback only has to check
 * the state afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "p2p/internal.h"

typedef struct {
    uv_write_t req;
    p2p__conn *c;
    size_t len;
    uint8_t data[];
} wreq;

static void drive(p2p__conn *c);
static void pump(p2p__conn *c);

/* ---------------------------------------------------------------------------------------- */
/* Messages and queue                                                                        */

p2p__msg *p2p__msg_new(uint8_t type, const uint8_t *data, size_t len)
{
    p2p__msg *m = malloc(sizeof *m + P2P_FRAME_HDR + len);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = P2P_FRAME_HDR + len;
    p2p__frame_header(m->bytes, type, len);
    if (len)
        memcpy(m->bytes + P2P_FRAME_HDR, data, len);
    return m;
}

void p2p__msg_unref(p2p__msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

static bool is_control(const p2p__msg *m) { return m->bytes[4] == 0; }

static bool is_ctl(const p2p__msg *m, uint8_t subtype)
{
    return is_control(m) && m->len > P2P_FRAME_HDR && m->bytes[P2P_FRAME_HDR] == subtype;
}

/* Pop the head entry once all its bytes went to TLS. */
static void pop_head(p2p__conn *c, bool sent)
{
    p2p__qent *e = c->q_head;
    c->q_head = e->next;
    if (!c->q_head)
        c->q_tail = NULL;
    c->q_off = 0;
    if (is_ctl(e->msg, P2P_CTL_PING))
        c->ping_queued = false;
    if (is_ctl(e->msg, P2P_CTL_PONG))
        c->pong_queued = false;
    if (!is_control(e->msg)) {
        c->q_msgs--;
        if (sent && c->peer)
            c->peer->st.msgs_out++;
    }
    p2p__msg_unref(e->msg);
    free(e);
}

int p2p__conn_enqueue(p2p__conn *c, p2p__msg *m, bool control)
{
    if (c->state != P2P_C_HELLO && c->state != P2P_C_UP)
        return P2P_ENOTCONN;
    if (!control && c->q_bytes + c->unsent + m->len > c->net->lim.max_queue) {
        c->peer->st.drops_full++;
        return P2P_EQUEUEFULL;
    }
    p2p__qent *e = malloc(sizeof *e);
    if (!e)
        return P2P_ENOMEM;
    e->next = NULL;
    e->msg = m;
    m->refs++;
    if (control && c->q_head) {
        /* p2p's own frames go ahead of the caller's (behind a message partly handed to TLS,
         * whose bytes must stay contiguous): a pong waits for at most one message, however
         * long the queue. */
        p2p__qent **at = c->q_off ? &c->q_head->next : &c->q_head;
        e->next = *at;
        *at = e;
        if (!e->next)
            c->q_tail = e;
    } else {
        if (c->q_tail)
            c->q_tail->next = e;
        else
            c->q_head = e;
        c->q_tail = e;
    }
    c->q_bytes += m->len;
    if (!control)
        c->q_msgs++;
    p2p__conn_mark(c);
    return 0;
}

/* The end-of-iteration pass over dirty connections: libuv runs prepare callbacks once per
 * loop iteration, right before it waits for I/O, so everything queued during an iteration
 * (from any callback) is encrypted and written in as few records and writes as possible. */
static void on_prepare(uv_prepare_t *h)
{
    p2p_net *net = h->data;
    while (net->dirty) {
        p2p__conn *c = net->dirty;
        net->dirty = c->next_dirty;
        c->dirty = false;
        if (c->state == P2P_C_CLOSING)
            continue;
        if (c->drive) {
            c->drive = false;
            drive(c);
            if (c->state == P2P_C_CLOSING)
                continue;
            p2p__conn_update_reading(c);
        }
        pump(c);
    }
    if (!net->stopping)
        uv_prepare_stop(&net->prep);
}

void p2p__conn_mark(p2p__conn *c)
{
    p2p_net *net = c->net;
    if (c->dirty || c->state == P2P_C_CLOSING || net->stopping)
        return;
    c->dirty = true;
    c->next_dirty = net->dirty;
    net->dirty = c;
    uv_prepare_start(&net->prep, on_prepare);
}

/* ---------------------------------------------------------------------------------------- */
/* Write path                                                                                */

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    p2p__conn *c = w->c;
    c->unsent -= w->len;
    if (status == 0 && c->peer)
        c->peer->st.bytes_out += w->len;
    free(w);
    if (c->state == P2P_C_CLOSING)
        return;
    if (status < 0) {
        p2p__conn_close(c, uv_strerror(status));
        return;
    }
    if (c->out_blocked && c->unsent < P2P_WR_HIGH / 2) {
        c->out_blocked = false;
        p2p__conn_update_reading(c);
    }
    if (c->q_head)
        p2p__conn_mark(c);
}

/* Hand everything TLS has produced to the socket. Returns non-zero when c was closed. */
static int flush_out(p2p__conn *c)
{
    size_t n = p2p_tls_pending(&c->tls);
    if (!n)
        return 0;
    wreq *w = malloc(sizeof *w + n);
    if (!w) {
        p2p__conn_close(c, "out of memory");
        return 1;
    }
    w->c = c;
    w->len = p2p_tls_take(&c->tls, w->data, n);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    c->unsent += w->len;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_write);
    if (rc) {
        c->unsent -= w->len;
        free(w);
        p2p__conn_close(c, uv_strerror(rc));
        return 1;
    }
    if (c->unsent > P2P_RD_STOP && !c->out_blocked) {
        c->out_blocked = true;
        p2p__conn_update_reading(c);
    }
    return 0;
}

/* Move queued frames into TLS and out to the socket while the socket keeps up. Frames are
 * packed into full records (small messages share one), and a large message's bytes are
 * encrypted straight from its buffer. */
static void pump(p2p__conn *c)
{
    uint8_t stage[P2P_RECORD];
    while (c->q_head && c->unsent < P2P_WR_HIGH &&
           (c->state == P2P_C_HELLO || c->state == P2P_C_UP)) {
        size_t batch = 0;
        while (c->q_head && batch < P2P_PUMP_BATCH) {
            p2p__msg *m = c->q_head->msg;
            size_t n = 0;
            int rc;
            if (m->len - c->q_off >= P2P_RECORD) {
                /* Encrypt in place; the message may only be popped after the write. */
                n = P2P_RECORD;
                rc = p2p_tls_write(&c->tls, m->bytes + c->q_off, n);
                c->q_off += n;
                c->q_bytes -= n;
                if (c->q_off == m->len)
                    pop_head(c, true);
            } else {
                while (c->q_head && n < P2P_RECORD) {
                    m = c->q_head->msg;
                    size_t k = m->len - c->q_off;
                    if (k > P2P_RECORD - n)
                        k = P2P_RECORD - n;
                    memcpy(stage + n, m->bytes + c->q_off, k);
                    n += k;
                    c->q_off += k;
                    c->q_bytes -= k;
                    if (c->q_off == m->len)
                        pop_head(c, true);
                }
                rc = p2p_tls_write(&c->tls, stage, n);
            }
            if (rc) {
                p2p__conn_close(c, "TLS write failed");
                return;
            }
            batch += n;
        }
        if (flush_out(c))
            return;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Read path                                                                                 */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    p2p__conn *c = h->data;
    *buf = uv_buf_init((char *)c->rd, P2P_READ_CHUNK);
}

static void proto_error(p2p__conn *c, const char *why)
{
    if (c->peer && c->peer->conn == c)
        c->peer->st.proto_errors++;
    p2p__conn_close(c, why);
}

/* Input processing pauses when the caller paused this peer (or c is closing). */
static bool input_stopped(const p2p__conn *c)
{
    return c->state == P2P_C_CLOSING || (c->state == P2P_C_UP && c->peer->paused);
}

static int on_control(p2p__conn *c, const uint8_t *p, size_t len)
{
    if (len < 1) {
        proto_error(c, "empty control frame");
        return 1;
    }
    if (p[0] == P2P_CTL_HELLO) {
        if (c->state != P2P_C_HELLO) {
            proto_error(c, "second hello");
            return 1;
        }
        if (p2p__on_hello(c, p + 1, len - 1))
            return 1;
    } else if (p[0] == P2P_CTL_PING && c->state == P2P_C_UP) {
        /* Answered at once, ahead of queued messages. A peer has one ping unanswered at a
         * time; one that sends more while our pong is still queued gets that one pong, so
         * pings never grow the queue. */
        if (!c->pong_queued) {
            static const uint8_t pong[1] = {P2P_CTL_PONG};
            p2p__msg *m = p2p__msg_new(0, pong, sizeof pong);
            int rc = m ? p2p__conn_enqueue(c, m, true) : P2P_ENOMEM;
            p2p__msg_unref(m);
            if (rc) {
                p2p__conn_close(c, p2p_strerror(rc));
                return 1;
            }
            c->pong_queued = true;
            c->peer->st.pongs_out++;
        }
    } else if (p[0] == P2P_CTL_PONG) {
        c->ping_out = false;
    }
    /* Any frame proves liveness (on_read noted the bytes); unknown subtypes are ignored so
     * that later versions can add control messages. */
    return input_stopped(c);
}

static int on_frame(void *arg, uint8_t type, const uint8_t *payload, size_t len)
{
    p2p__conn *c = arg;
    if (type == 0)
        return on_control(c, payload, len);
    if (c->state != P2P_C_UP) {
        proto_error(c, "message before hello");
        return 1;
    }
    p2p_net *net = c->net;
    c->peer->st.msgs_in++;
    if (net->cb.on_message)
        net->cb.on_message(net->ctx, c->peer->cfg.id, type, payload, len);
    return input_stopped(c);
}

/* Process what TLS holds: finish the handshake, then decrypt and parse until TLS wants more
 * bytes from the network or the caller paused the peer. */
static void drive(p2p__conn *c)
{
    char why[200];
    why[0] = 0;
    if (c->state == P2P_C_HANDSHAKE) {
        int r = p2p_tls_handshake(&c->tls, why, sizeof why);
        /* A server's first output is its flight in answer to a whole ClientHello. */
        if (!c->outbound && p2p_tls_pending(&c->tls) > 0)
            c->answered = true;
        if (r < 0) {
            if (!c->refused) {
                c->net->st.handshake_failed++;
                p2p__auth_failed(c->net, c, c->outbound ? c->peer : NULL, false,
                                 "TLS handshake with %s failed: %s", c->addr, why);
            }
            flush_out(c); /* the alert, best effort */
            p2p__conn_close(c, c->refused ? NULL : why);
            return;
        }
        if (flush_out(c) || r == 0)
            return;
        if (p2p__on_authenticated(c))
            return;
    }
    if (c->state != P2P_C_HELLO && c->state != P2P_C_UP)
        return;
    for (;;) {
        while (c->pt_off < c->pt_len && !input_stopped(c)) {
            size_t used = 0;
            int rc = p2p__frame_feed(&c->fr, c->pt + c->pt_off, c->pt_len - c->pt_off, &used,
                                     on_frame, c);
            c->pt_off += used;
            if (rc == P2P_EFRAME || rc == P2P_ENOMEM) {
                const uint8_t *h = c->fr.hdr;
                uint32_t l = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
                char msg[128];
                if (rc == P2P_ENOMEM)
                    snprintf(msg, sizeof msg, "out of memory for a frame");
                else if (l == 0)
                    snprintf(msg, sizeof msg, "frame with length 0");
                else
                    snprintf(msg, sizeof msg, "frame payload of %u bytes over the limit of %zu",
                             l - 1, c->fr.max);
                proto_error(c, msg);
                return;
            }
        }
        if (input_stopped(c))
            break;
        int n = p2p_tls_read(&c->tls, c->pt, sizeof c->pt, why, sizeof why);
        if (n == 0)
            break;
        if (n < 0) {
            p2p__conn_close(c, why);
            return;
        }
        c->pt_off = 0;
        c->pt_len = (size_t)n;
    }
    if (c->state != P2P_C_CLOSING)
        flush_out(c); /* TLS's own replies (key updates) */
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    p2p__conn *c = st->data;
    if (n == 0 || c->state == P2P_C_CLOSING)
        return;
    if (n < 0) {
        p2p__conn_close(c, n == UV_EOF ? "connection closed by the peer" : uv_strerror((int)n));
        return;
    }
    c->last_rx = p2p__now(c->net);
    if (c->peer && c->peer->conn == c) {
        c->peer->st.bytes_in += (uint64_t)n;
        /* Bytes, not whole frames, are what is heard: a 16 MiB block on a slow link is
         * progress long before its frame is complete. Once the peer is authenticated:
         * before, the bytes could be anyone's. */
        if (c->state != P2P_C_HANDSHAKE) {
            c->peer->heard_at = c->last_rx;
            c->peer->heard = true;
        }
    }
    if (p2p_tls_feed(&c->tls, c->rd, (size_t)n)) {
        p2p__conn_close(c, "out of memory");
        return;
    }
    drive(c);
}

void p2p__conn_update_reading(p2p__conn *c)
{
    bool want = (c->state == P2P_C_HANDSHAKE || c->state == P2P_C_HELLO ||
                 (c->state == P2P_C_UP && !c->peer->paused)) &&
                !c->out_blocked;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) == 0) {
            c->reading = true;
            c->last_rx = p2p__now(c->net); /* idle time counts only while reading */
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->h);
        c->reading = false;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                 */

p2p__conn *p2p__conn_new(p2p_net *net, bool outbound, p2p__peer *peer)
{
    p2p__conn *c = calloc(1, sizeof *c);
    uint8_t *rd = malloc(P2P_READ_CHUNK);
    if (!c || !rd || uv_tcp_init(net->loop, &c->h) != 0) {
        free(c);
        free(rd);
        return NULL;
    }
    c->h.data = c;
    c->creq.data = c;
    c->rd = rd;
    c->net = net;
    c->peer = peer;
    c->outbound = outbound;
    c->state = outbound ? P2P_C_CONNECTING : P2P_C_HANDSHAKE;
    p2p__frame_init(&c->fr, P2P_PRE_HELLO_MAX);
    c->t_start = c->last_rx = p2p__now(net);
    c->next = net->conns;
    if (net->conns)
        net->conns->prev = c;
    net->conns = c;
    net->open++;
    return c;
}

int p2p__conn_begin(p2p__conn *c)
{
    if (p2p_tls_new(&c->tls, c->net->ssl, c->outbound, c) != 0) {
        p2p__conn_close(c, "out of memory");
        return 1;
    }
    c->state = P2P_C_HANDSHAKE;
    if (c->outbound) {
        drive(c); /* the ClientHello */
        if (c->state == P2P_C_CLOSING)
            return 1;
    }
    p2p__conn_update_reading(c);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    p2p__conn *c = h->data;
    p2p_net *net = c->net;
    if (c->prev)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    while (c->q_head)
        pop_head(c, false);
    p2p_tls_free(&c->tls);
    p2p__frame_free(&c->fr);
    free(c->rd);
    free(c);
    p2p__handle_closed(net);
}

void p2p__conn_close(p2p__conn *c, const char *why)
{
    if (c->state == P2P_C_CLOSING)
        return;
    p2p_net *net = c->net;
    p2p__peer *p = c->peer && c->peer->conn == c ? c->peer : NULL;
    bool was_up = c->state == P2P_C_UP;
    if (why && !net->stopping) {
        if (p)
            p2p__log(net, "connection to peer %s (%s) closed: %s", p->cfg.name, c->addr, why);
        else
            p2p__log(net, "connection %s closed: %s", c->addr, why);
    }
    if (!net->stopping && c->tls.ssl && c->state != P2P_C_CONNECTING) {
        p2p_tls_shutdown(&c->tls);
        c->state = P2P_C_CLOSING; /* before flush_out, whose errors would close again */
        flush_out(c);
    }
    c->state = P2P_C_CLOSING;
    if (c->dirty) {
        /* Off the dirty list: the close callback may free c before the next prepare pass. */
        p2p__conn **pp = &net->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->next_dirty;
        if (*pp)
            *pp = c->next_dirty;
        c->dirty = false;
    }
    if (c->pending) {
        c->pending = false;
        net->st.pending--;
    }
    /* What was queued is lost with the connection; the caller learns it from drops_down. */
    if (p && !net->stopping)
        p->st.drops_down += c->q_msgs;
    while (c->q_head)
        pop_head(c, false);
    c->q_bytes = 0;
    uv_close((uv_handle_t *)&c->h, on_closed);
    if (p) {
        p->conn = NULL;
        p->up = false;
        if (!net->stopping)
            p2p__on_conn_lost(c, was_up); /* last: it may run the caller's on_peer_down */
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Public: sending                                                                           */

static int send_check(const p2p_net *net, uint8_t type, const uint8_t *data, size_t len)
{
    if (!net || type == 0 || (!data && len))
        return P2P_EINVAL;
    if (net->stopping)
        return P2P_ESTOPPING;
    if (len > net->lim.max_message)
        return P2P_ETOOBIG;
    return 0;
}

int p2p_send(p2p_net *net, uint32_t peer, uint8_t type, const uint8_t *data, size_t len)
{
    int rc = send_check(net, type, data, len);
    if (rc)
        return rc;
    p2p__peer *p = p2p__peer_find(net, peer);
    if (!p)
        return P2P_ENOPEER;
    if (!p->up) {
        p->st.drops_down++;
        return P2P_ENOTCONN;
    }
    p2p__conn *c = p->conn;
    /* Check the limit before copying anything. */
    if (c->q_bytes + c->unsent + P2P_FRAME_HDR + len > net->lim.max_queue) {
        p->st.drops_full++;
        return P2P_EQUEUEFULL;
    }
    p2p__msg *m = p2p__msg_new(type, data, len);
    if (!m)
        return P2P_ENOMEM;
    rc = p2p__conn_enqueue(c, m, false);
    p2p__msg_unref(m);
    return rc;
}

int p2p_broadcast(p2p_net *net, uint8_t type, const uint8_t *data, size_t len)
{
    int rc = send_check(net, type, data, len);
    if (rc)
        return rc;
    p2p__msg *m = NULL;
    int sent = 0;
    for (size_t i = 0; i < net->n_peers; i++) {
        p2p__peer *p = &net->peers[i];
        if (!p->up) {
            p->st.drops_down++;
            continue;
        }
        if (!m && !(m = p2p__msg_new(type, data, len)))
            return P2P_ENOMEM;
        if (p2p__conn_enqueue(p->conn, m, false) == 0)
            sent++;
    }
    p2p__msg_unref(m);
    return sent;
}
