/*
 * The net: configuration, the listener, the peers (who dials whom, reconnect backoff,
 * authorization of a presented key, the hello), the periodic tick (timeouts, keepalives),
 * stop and statistics.
 *
 * Handles: the listener (when listening), one tick timer, one prepare handle (the
 * end-of-iteration flush, see conn.c), one redial timer per peer and one TCP handle per
 * connection. net->open counts them; p2p_stop closes them all and the last close callback
 * frees the net.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "p2p/internal.h"

#define MAX_MESSAGE_LIMIT (1u << 30)

uint64_t p2p__now(const p2p_net *net) { return uv_now(net->loop); }

static void log_line(p2p_net *net, const char *line)
{
    if (net->cb.on_log)
        net->cb.on_log(net->ctx, line);
    else
        fprintf(stderr, "p2p: %s\n", line);
}

void p2p__log(p2p_net *net, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (net->stopping)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_line(net, line);
}

void p2p__auth_failed(p2p_net *net, const p2p__conn *c, const p2p__peer *p, bool log,
                      const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (net->stopping)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log)
        log_line(net, line);
    if (net->cb.on_auth_failed)
        net->cb.on_auth_failed(net->ctx, p ? p->cfg.name : NULL, c->ip, line);
}

/* splitmix64: the jitter generator, seeded by the caller. */
static uint64_t rng_next(p2p_net *net)
{
    uint64_t z = (net->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

p2p__peer *p2p__peer_find(p2p_net *net, uint32_t id)
{
    for (size_t i = 0; i < net->n_peers; i++)
        if (net->peers[i].cfg.id == id)
            return &net->peers[i];
    return NULL;
}

/* The order of identity keys that decides who dials: algorithm, length, bytes. */
static int key_cmp(const ldg_pubkey *a, const ldg_pubkey *b)
{
    if (a->alg != b->alg)
        return a->alg < b->alg ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->key, b->key, a->len);
}

bool p2p__dials(const p2p_net *net, const p2p__peer *p)
{
    return p->has_addr &&
           (key_cmp(&net->cfg.key_public, &p->cfg.key) < 0 || !net->cfg.listen_host[0]);
}

/* A short printable form of a key for logs (and the name of a peer configured without
 * one): algorithm and the first 8 bytes in hex, at most 26 characters. */
static void key_fp(const ldg_pubkey *k, char out[P2P_NAME_MAX])
{
    if (!k) {
        snprintf(out, P2P_NAME_MAX, "(no usable key)");
        return;
    }
    int n = snprintf(out, P2P_NAME_MAX, "%s:", k->alg == LDG_SIG_ED25519 ? "ed25519" : "p256");
    for (size_t i = 0; i < 8 && i < k->len; i++)
        n += snprintf(out + n, P2P_NAME_MAX - (size_t)n, "%02x", k->key[i]);
    snprintf(out + n, P2P_NAME_MAX - (size_t)n, "..");
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof *sa);
    if (!host || !memchr(host, 0, P2P_HOST_MAX) || port < 0 || port > 65535)
        return P2P_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
        return 0;
    return P2P_EINVAL;
}

/* "ip:port" ("[ip]:port" for IPv6) into out, the IP alone into ip (iplen bytes). */
static void addr_name(const struct sockaddr_storage *sa, char *out, size_t len, char *ipout,
                      size_t iplen)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, len, sa->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
    if (ipout)
        snprintf(ipout, iplen, "%s", ip);
}

/* ---------------------------------------------------------------------------------------- */
/* Closing                                                                                   */

void p2p__handle_closed(p2p_net *net)
{
    if (--net->open > 0 || !(net->stopping || net->failed))
        return;
    void (*cb)(void *) = net->stopping ? net->on_closed : NULL;
    void *ctx = net->ctx;
    SSL_CTX_free(net->ssl);
    free(net->peers);
    OPENSSL_cleanse(net, sizeof *net);
    free(net);
    if (cb)
        cb(ctx);
}

static void on_net_handle_closed(uv_handle_t *h) { p2p__handle_closed(h->data); }

static void on_redial_closed(uv_handle_t *h)
{
    p2p__peer *p = h->data;
    p2p__handle_closed(p->net);
}

void p2p_stop(p2p_net *net, void (*on_closed)(void *ctx))
{
    if (!net || net->stopping)
        return;
    net->stopping = true;
    net->on_closed = on_closed;
    if (net->listening)
        uv_close((uv_handle_t *)&net->listener, on_net_handle_closed);
    uv_close((uv_handle_t *)&net->tick, on_net_handle_closed);
    uv_close((uv_handle_t *)&net->prep, on_net_handle_closed);
    for (size_t i = 0; i < net->n_peers; i++) {
        net->peers[i].up = false;
        uv_close((uv_handle_t *)&net->peers[i].redial, on_redial_closed);
    }
    /* Connections leave the list only in their close callbacks, so this walk is safe. */
    for (p2p__conn *c = net->conns; c; c = c->next)
        p2p__conn_close(c, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Dialing                                                                                   */

/* The next reconnect delay: backoff_min doubled per failed attempt up to backoff_max, then
 * drawn uniformly from [d/2, d] so that peers restarted together do not dial in lockstep. */
static uint64_t next_delay(p2p_net *net, p2p__peer *p)
{
    uint64_t d = net->lim.backoff_min_ms;
    for (unsigned i = 0; i < p->attempt && d < net->lim.backoff_max_ms; i++)
        d *= 2;
    if (d > net->lim.backoff_max_ms)
        d = net->lim.backoff_max_ms;
    if (p->attempt < 64)
        p->attempt++;
    uint64_t half = d / 2;
    return half + rng_next(net) % (d - half + 1);
}

static void on_connect(uv_connect_t *req, int status)
{
    p2p__conn *c = req->data;
    if (c->state == P2P_C_CLOSING)
        return;
    if (status < 0) {
        p2p__conn_close(c, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    p2p__conn_begin(c);
}

static void on_redial(uv_timer_t *t)
{
    p2p__peer *p = t->data;
    p2p_net *net = p->net;
    if (net->stopping || p->conn || !p2p__dials(net, p))
        return;
    p2p__conn *c = p2p__conn_new(net, true, p);
    if (!c) {
        uv_timer_start(&p->redial, on_redial, next_delay(net, p), 0);
        return;
    }
    p->conn = c;
    p->st.dials++;
    addr_name(&p->sa, c->addr, sizeof c->addr, c->ip, sizeof c->ip);
    int rc = uv_tcp_connect(&c->creq, &c->h, (const struct sockaddr *)&p->sa, on_connect);
    if (rc)
        p2p__conn_close(c, uv_strerror(rc));
}

void p2p__on_conn_lost(p2p__conn *c, bool was_up)
{
    p2p_net *net = c->net;
    p2p__peer *p = c->peer;
    if (p2p__dials(net, p)) {
        if (was_up)
            p->attempt = 0;
        uv_timer_start(&p->redial, on_redial, next_delay(net, p), 0);
    }
    if (was_up) {
        p2p__log(net, "peer %s down", p->cfg.name);
        if (net->cb.on_peer_down)
            net->cb.on_peer_down(net->ctx, p->cfg.id);
    }
}

int p2p_set_peer_addr(p2p_net *net, uint32_t peer, const char *host, int port)
{
    if (!net)
        return P2P_EINVAL;
    if (net->stopping)
        return P2P_ESTOPPING;
    p2p__peer *p = p2p__peer_find(net, peer);
    if (!p)
        return P2P_ENOPEER;
    if (!host || !host[0] || port == 0) {
        p->has_addr = false;
        p->cfg.host[0] = 0;
        p->cfg.port = 0;
        uv_timer_stop(&p->redial);
        return 0;
    }
    struct sockaddr_storage sa;
    if (port < 1 || parse_addr(host, port, &sa))
        return P2P_EINVAL;
    p->sa = sa;
    p->has_addr = true;
    snprintf(p->cfg.host, sizeof p->cfg.host, "%s", host);
    p->cfg.port = port;
    if (p2p__dials(net, p) && !p->conn) {
        p->attempt = 0;
        uv_timer_start(&p->redial, on_redial, 0, 0);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Accepting and authorizing                                                                 */

/* The pending inbound connection to evict for a newcomer, among those from ip (NULL: from
 * any address): the oldest one whose ClientHello we have not answered (silent, or stalled in
 * its first bytes), and when every one was answered, the oldest. A known peer sends its
 * ClientHello as soon as it is connected and is authenticated one round trip after our
 * answer, so it is neither silent nor, while strangers keep arriving, the oldest for long;
 * a stranger who never speaks is evicted first. */
static p2p__conn *pending_victim(p2p_net *net, const char *ip)
{
    p2p__conn *silent = NULL, *any = NULL;
    /* net->conns is newest first: the last match is the oldest. */
    for (p2p__conn *o = net->conns; o; o = o->next) {
        if (!o->pending || (ip && strcmp(o->ip, ip) != 0))
            continue;
        any = o;
        if (!o->answered)
            silent = o;
    }
    return silent ? silent : any;
}

/*
 * Make room for the inbound connection c (not yet pending) within max_pending_per_ip from
 * its address and max_pending in all, by evicting one pending connection when a limit is
 * reached. Inbound connections are never refused for want of a slot: before its certificate
 * (which TLS 1.3 sends after our flight) a known peer looks like anyone else from its
 * address, so refusing newcomers would let idle connections that hold the slots keep a
 * restarted peer out for good. With eviction, whoever holds the slots must keep opening
 * connections faster than a peer completes a handshake, and both bounds still hold.
 */
static void make_room(p2p_net *net, const p2p__conn *c)
{
    uint32_t same = 0; /* pending from this address (an unknown one counts as one address) */
    for (p2p__conn *o = net->conns; o; o = o->next)
        same += o->pending && !strcmp(o->ip, c->ip);
    p2p__conn *v = NULL;
    uint64_t *counter = NULL;
    if (same >= net->lim.max_pending_per_ip) {
        v = pending_victim(net, c->ip);
        counter = &net->st.evicted_pending_ip;
    } else if (net->st.pending >= net->lim.max_pending) {
        v = pending_victim(net, NULL);
        counter = &net->st.evicted_pending;
    }
    if (!v)
        return;
    (*counter)++;
    char why[256];
    snprintf(why, sizeof why, "evicted (%s for %" PRIu64 " ms) for inbound %s: %s reached",
             v->answered ? "handshaking" : "silent", p2p__now(net) - v->t_start, c->addr,
             counter == &net->st.evicted_pending ? "max_pending" : "max_pending_per_ip");
    p2p__conn_close(v, why);
}

static void on_connection(uv_stream_t *server, int status)
{
    p2p_net *net = server->data;
    if (status < 0 || net->stopping)
        return;
    p2p__conn *c = p2p__conn_new(net, false, NULL);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
        p2p__conn_close(c, NULL);
        return;
    }
    struct sockaddr_storage sa;
    int len = sizeof sa;
    if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&sa, &len) == 0)
        addr_name(&sa, c->addr, sizeof c->addr, c->ip, sizeof c->ip);
    make_room(net, c);
    c->pending = true;
    net->st.pending++;
    uv_tcp_nodelay(&c->h, 1);
    p2p__conn_begin(c);
}

int p2p__authorize(void *app, const ldg_pubkey *key)
{
    p2p__conn *c = app;
    p2p_net *net = c->net;
    char fp[P2P_NAME_MAX];
    if (c->state == P2P_C_CLOSING || net->stopping)
        return -1;
    key_fp(key, fp);
    c->refused = true;
    if (c->outbound) {
        p2p__peer *p = c->peer;
        if (key && ldg_pubkey_eq(key, &p->cfg.key)) {
            c->refused = false;
            return 0;
        }
        p->st.refused++;
        p2p__auth_failed(net, c, p, true, "refused peer %s at %s: it presented key %s, not "
                         "the one pinned for it", p->cfg.name, c->addr, fp);
        return -1;
    }
    p2p__peer *p = NULL;
    for (size_t i = 0; key && i < net->n_peers && !p; i++)
        if (ldg_pubkey_eq(key, &net->peers[i].cfg.key))
            p = &net->peers[i];
    if (!p) {
        net->st.refused_unknown++;
        p2p__auth_failed(net, c, NULL, true, "refused inbound %s: key %s is not pinned for "
                         "any peer", c->addr, fp);
        return -1;
    }
    if (p2p__dials(net, p)) {
        p->st.refused++;
        p2p__log(net, "refused inbound %s from peer %s: this node dials it (the lower key dials)",
                 c->addr, p->cfg.name);
        return -1;
    }
    c->refused = false;
    c->peer = p;
    return 0;
}

int p2p__on_authenticated(p2p__conn *c)
{
    p2p_net *net = c->net;
    p2p__peer *p = c->peer;
    if (!c->outbound) {
        c->pending = false;
        net->st.pending--;
        /* The peer dials only when it has no connection to us (e.g. it restarted), so the
         * connection we still hold is stale: the new one wins. */
        if (p->conn)
            p2p__conn_close(p->conn, "replaced by a new connection from the peer");
        if (c->state == P2P_C_CLOSING || net->stopping)
            return 1;
        p->conn = c;
    }
    c->state = P2P_C_HELLO;
    /* hello: subtype, version, the network name */
    uint8_t hello[1 + 1 + 1 + P2P_NETWORK_MAX];
    size_t nl = strlen(net->cfg.network);
    hello[0] = P2P_CTL_HELLO;
    hello[1] = P2P_HELLO_VERSION;
    hello[2] = (uint8_t)nl;
    memcpy(hello + 3, net->cfg.network, nl);
    p2p__msg *m = p2p__msg_new(0, hello, 3 + nl);
    int rc = m ? p2p__conn_enqueue(c, m, true) : P2P_ENOMEM;
    p2p__msg_unref(m);
    if (rc) {
        p2p__conn_close(c, p2p_strerror(rc));
        return 1;
    }
    return 0;
}

int p2p__on_hello(p2p__conn *c, const uint8_t *h, size_t len)
{
    p2p_net *net = c->net;
    p2p__peer *p = c->peer;
    const char *bad = NULL;
    if (len < 2 || len != 2u + h[1])
        bad = "malformed hello";
    else if (h[0] != P2P_HELLO_VERSION)
        bad = "unsupported protocol version";
    else if (h[1] != strlen(net->cfg.network) || memcmp(h + 2, net->cfg.network, h[1]) != 0)
        bad = "it belongs to another network";
    if (bad) {
        p->st.refused++;
        p2p__auth_failed(net, c, p, true, "refused peer %s (%s): %s", p->cfg.name, c->addr,
                         bad);
        p2p__conn_close(c, NULL);
        return 1;
    }
    c->state = P2P_C_UP;
    c->fr.max = net->lim.max_message;
    p->up = true;
    p->attempt = 0;
    p->heard = true;
    p->heard_at = p2p__now(net);
    if (p->st.ups++)
        p->st.reconnects++;
    char tls[64];
    p2p_tls_describe(&c->tls, tls, sizeof tls);
    p2p__log(net, "peer %s up (%s, %s, %s)", p->cfg.name, c->addr,
             c->outbound ? "dialled" : "accepted", tls);
    p2p__conn_update_reading(c);
    if (net->cb.on_peer_up)
        net->cb.on_peer_up(net->ctx, p->cfg.id);
    return c->state == P2P_C_CLOSING;
}

/* ---------------------------------------------------------------------------------------- */
/* The tick: timeouts and keepalives                                                         */

/* A connection not up yet: closed when it is inbound and not authenticated within
 * auth_timeout_ms (its pending slot is free again), or not up within handshake_timeout_ms. */
static void check_handshake(p2p_net *net, p2p__conn *c, uint64_t now)
{
    uint64_t age = now - c->t_start;
    char why[80];
    if (c->pending && age >= net->lim.auth_timeout_ms)
        snprintf(why, sizeof why, "not authenticated within %" PRIu32 " ms",
                 net->lim.auth_timeout_ms);
    else if (age >= net->lim.handshake_timeout_ms)
        snprintf(why, sizeof why, "handshake timed out");
    else
        return;
    net->st.timeouts++;
    p2p__conn_close(c, why);
}

/* Every up connection: closed when nothing arrived for idle_timeout_ms while reading (a
 * paused peer, or one we stopped reading because our output backed up, is not timed: its
 * silence would be ours), pinged when nothing arrived for ping_interval_ms and no ping of
 * ours is unanswered. While not reading we cannot hear the pong, so a ping goes out every
 * ping_interval_ms instead, for the peer's sake (it times us out otherwise); never a second
 * one while the first is still queued. The tick runs every quarter of the smaller of
 * ping_interval_ms and auth_timeout_ms (10 ms to 1 s), so a silent peer is down within
 * idle_timeout_ms plus a quarter of ping_interval_ms.
 *
 * A tick that comes much later than its period means this loop itself stood still (a stopped
 * process, a long blocking call): what the peers sent meanwhile is still unread in the
 * sockets (libuv runs timers before it polls), so such a tick times nobody out and the next
 * one decides, after reading. */
static void on_tick(uv_timer_t *t)
{
    p2p_net *net = t->data;
    uint64_t now = p2p__now(net);
    static const uint8_t ping[1] = {P2P_CTL_PING};
    bool late = now - net->last_tick > 2 * net->tick_ms + net->lim.ping_interval_ms;
    net->last_tick = now;
    for (p2p__conn *c = net->conns; c && !net->stopping; c = c->next) {
        if (c->state == P2P_C_CLOSING)
            continue;
        if (c->state != P2P_C_UP) {
            if (!late)
                check_handshake(net, c, now);
            continue;
        }
        uint64_t quiet = now - c->last_rx;
        if (c->reading && !late && quiet >= net->lim.idle_timeout_ms) {
            char why[80];
            snprintf(why, sizeof why, "nothing heard for %" PRIu64 " ms", quiet);
            net->st.timeouts++;
            c->peer->st.timeouts++;
            p2p__conn_close(c, why);
            continue;
        }
        bool deaf = !c->reading && !c->ping_queued &&
                    now - c->ping_at >= net->lim.ping_interval_ms;
        if ((!c->ping_out || deaf) && quiet >= net->lim.ping_interval_ms) {
            p2p__msg *m = p2p__msg_new(0, ping, sizeof ping);
            if (m && p2p__conn_enqueue(c, m, true) == 0) {
                c->ping_out = c->ping_queued = true;
                c->ping_at = now;
                c->peer->st.pings_out++;
            }
            p2p__msg_unref(m);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Start                                                                                     */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool key_ok(const ldg_pubkey *k)
{
    return (k->alg == LDG_SIG_ED25519 && k->len == 32) ||
           (k->alg == LDG_SIG_P256_ECDSA && k->len == 33);
}

static bool name_ok(const char *name)
{
    if (!memchr(name, 0, P2P_NAME_MAX))
        return false;
    for (const char *q = name; *q; q++)
        if (*q < 0x20 || *q > 0x7e)
            return false;
    return true;
}

/* Fill lim from cfg->limits, defaults for zeros, and check everything else in cfg. */
static int check_config(const p2p_config *cfg, p2p_limits *lim, char *err, size_t errlen)
{
    *lim = cfg->limits;
#define DEF_(f, v) \
    if (!lim->f)   \
    lim->f = (v)
    DEF_(max_message, P2P_DEFAULT_MAX_MESSAGE);
    DEF_(max_queue, P2P_DEFAULT_MAX_QUEUE);
    DEF_(backoff_min_ms, P2P_DEFAULT_BACKOFF_MIN_MS);
    DEF_(backoff_max_ms, P2P_DEFAULT_BACKOFF_MAX_MS);
    DEF_(handshake_timeout_ms, P2P_DEFAULT_HANDSHAKE_TIMEOUT_MS);
    DEF_(ping_interval_ms, P2P_DEFAULT_PING_INTERVAL_MS);
    DEF_(idle_timeout_ms, P2P_DEFAULT_IDLE_TIMEOUT_MS);
    DEF_(max_pending, P2P_DEFAULT_MAX_PENDING);
    DEF_(max_pending_per_ip, P2P_DEFAULT_MAX_PENDING_PER_IP);
#undef DEF_
    if (!lim->auth_timeout_ms)
        lim->auth_timeout_ms = lim->handshake_timeout_ms < P2P_DEFAULT_AUTH_TIMEOUT_MS
                                   ? lim->handshake_timeout_ms
                                   : P2P_DEFAULT_AUTH_TIMEOUT_MS;
    if (lim->auth_timeout_ms > lim->handshake_timeout_ms)
        return fail(err, errlen, P2P_EINVAL, "auth_timeout_ms over handshake_timeout_ms");
    if (lim->max_message > MAX_MESSAGE_LIMIT)
        return fail(err, errlen, P2P_EINVAL, "max_message over %u", MAX_MESSAGE_LIMIT);
    if (lim->max_queue < lim->max_message + P2P_FRAME_HDR)
        return fail(err, errlen, P2P_EINVAL, "max_queue (%zu) below max_message + 5 (%zu)",
                    lim->max_queue, lim->max_message + P2P_FRAME_HDR);
    if (lim->backoff_min_ms > lim->backoff_max_ms)
        return fail(err, errlen, P2P_EINVAL, "backoff_min_ms over backoff_max_ms");
    if (lim->idle_timeout_ms <= lim->ping_interval_ms)
        return fail(err, errlen, P2P_EINVAL, "idle_timeout_ms must exceed ping_interval_ms");
    if (!memchr(cfg->network, 0, sizeof cfg->network) ||
        !memchr(cfg->listen_host, 0, sizeof cfg->listen_host))
        return fail(err, errlen, P2P_EINVAL, "network or listen_host not NUL-terminated");
    struct sockaddr_storage sa;
    if (cfg->listen_host[0] && parse_addr(cfg->listen_host, cfg->listen_port, &sa))
        return fail(err, errlen, P2P_EINVAL, "listen address %s:%d is not a numeric address",
                    cfg->listen_host, cfg->listen_port);
    if (!key_ok(&cfg->key_public))
        return fail(err, errlen, P2P_EKEY, "identity key: use ed25519 or p256-ecdsa");
    if (cfg->n_peers > P2P_MAX_PEERS || (cfg->n_peers && !cfg->peers))
        return fail(err, errlen, P2P_EINVAL, "peers: at most %d", P2P_MAX_PEERS);
    for (size_t i = 0; i < cfg->n_peers; i++) {
        const p2p_peer_config *p = &cfg->peers[i];
        if (!key_ok(&p->key) || ldg_pubkey_eq(&p->key, &cfg->key_public))
            return fail(err, errlen, P2P_EINVAL,
                        "peer %u: the key is our own, or not an ed25519/p256 key", p->id);
        for (size_t j = 0; j < i; j++)
            if (cfg->peers[j].id == p->id || ldg_pubkey_eq(&cfg->peers[j].key, &p->key))
                return fail(err, errlen, P2P_EINVAL, "peer %u: duplicate id or key", p->id);
        if (!name_ok(p->name))
            return fail(err, errlen, P2P_EINVAL,
                        "peer %u: name not printable ASCII of at most %d bytes", p->id,
                        P2P_NAME_MAX - 1);
        if (!memchr(p->host, 0, sizeof p->host) ||
            (p->host[0] && (p->port < 1 || parse_addr(p->host, p->port, &sa))))
            return fail(err, errlen, P2P_EINVAL, "peer %u: address is not a numeric host:port",
                        p->id);
    }
    return 0;
}

int p2p_start(p2p_net **out, uv_loop_t *loop, const p2p_config *cfg, const p2p_callbacks *cb,
              void *ctx, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out)
        return P2P_EINVAL;
    *out = NULL;
    if (!loop || !cfg)
        return fail(err, errlen, P2P_EINVAL, "loop and config are required");
    p2p_limits lim;
    int rc = check_config(cfg, &lim, err, errlen);
    if (rc)
        return rc;

    p2p_net *net = calloc(1, sizeof *net);
    p2p__peer *peers = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof *peers);
    if (!net || !peers) {
        free(net);
        free(peers);
        return fail(err, errlen, P2P_ENOMEM, "out of memory");
    }
    net->loop = loop;
    net->cfg = *cfg;
    net->cfg.peers = NULL;
    OPENSSL_cleanse(net->cfg.key_secret, sizeof net->cfg.key_secret); /* OpenSSL keeps it */
    net->lim = lim;
    if (cb)
        net->cb = *cb;
    net->ctx = ctx;
    net->rng = cfg->seed;
    net->peers = peers;
    net->n_peers = cfg->n_peers;
    net->port = -1;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        p2p__peer *p = &peers[i];
        p->cfg = cfg->peers[i];
        p->net = net;
        p->st.id = p->cfg.id;
        if (!p->cfg.name[0])
            key_fp(&p->cfg.key, p->cfg.name);
        p->has_addr = p->cfg.host[0] && parse_addr(p->cfg.host, p->cfg.port, &p->sa) == 0;
    }
    rc = p2p__tls_ctx_new(&net->ssl, cfg->key_alg, cfg->key_secret, &cfg->key_public, err,
                          errlen);
    if (rc) {
        free(peers);
        free(net);
        return rc;
    }

    if (cfg->listen_host[0]) {
        struct sockaddr_storage sa;
        (void)parse_addr(cfg->listen_host, cfg->listen_port, &sa);
        uv_tcp_init(loop, &net->listener);
        net->listener.data = net;
        net->open++;
        net->listening = true;
        if ((rc = uv_tcp_bind(&net->listener, (const struct sockaddr *)&sa, 0)) ||
            (rc = uv_listen((uv_stream_t *)&net->listener, 128, on_connection))) {
            fail(err, errlen, P2P_ELISTEN, "cannot listen on %s:%d: %s", cfg->listen_host,
                 cfg->listen_port, uv_strerror(rc));
            /* The net is freed by the listener's close callback. */
            net->failed = true;
            uv_close((uv_handle_t *)&net->listener, on_net_handle_closed);
            return P2P_ELISTEN;
        }
        int len = sizeof sa;
        if (uv_tcp_getsockname(&net->listener, (struct sockaddr *)&sa, &len) == 0)
            net->port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                                      : ((struct sockaddr_in6 *)&sa)->sin6_port);
    }

    uint64_t tick = lim.auth_timeout_ms; /* at most handshake_timeout_ms */
    if (tick > lim.ping_interval_ms)
        tick = lim.ping_interval_ms;
    tick /= 4;
    tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    uv_timer_init(loop, &net->tick);
    net->tick.data = net;
    net->tick_ms = tick;
    net->last_tick = uv_now(loop);
    net->open++;
    uv_timer_start(&net->tick, on_tick, tick, tick);
    uv_prepare_init(loop, &net->prep);
    net->prep.data = net;
    net->open++;
    for (size_t i = 0; i < net->n_peers; i++) {
        p2p__peer *p = &peers[i];
        uv_timer_init(loop, &p->redial);
        p->redial.data = p;
        net->open++;
        if (p2p__dials(net, p))
            uv_timer_start(&p->redial, on_redial, 0, 0);
    }
    *out = net;
    return 0;
}

int p2p_listen_port(const p2p_net *net)
{
    return net && net->listening ? net->port : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Pause and statistics                                                                      */

int p2p_pause(p2p_net *net, uint32_t peer, bool paused)
{
    if (!net)
        return P2P_EINVAL;
    if (net->stopping)
        return P2P_ESTOPPING;
    p2p__peer *p = p2p__peer_find(net, peer);
    if (!p)
        return P2P_ENOPEER;
    p->paused = paused;
    if (p->conn) {
        if (paused) {
            p2p__conn_update_reading(p->conn);
        } else {
            /* Resume from the prepare pass, not from inside this call: processing input
             * runs the caller's callbacks. */
            p->conn->drive = true;
            p2p__conn_mark(p->conn);
        }
    }
    return 0;
}

const char *p2p_peer_name(const p2p_net *net, uint32_t peer)
{
    for (size_t i = 0; net && i < net->n_peers; i++)
        if (net->peers[i].cfg.id == peer)
            return net->peers[i].cfg.name;
    return NULL;
}

int p2p_stats(const p2p_net *net, p2p_peer_stats *peers, size_t cap, size_t *n,
              p2p_net_stats *net_stats)
{
    if (!net)
        return P2P_EINVAL;
    if (n)
        *n = net->n_peers;
    for (size_t i = 0; peers && i < cap && i < net->n_peers; i++) {
        const p2p__peer *p = &net->peers[i];
        peers[i] = p->st;
        peers[i].id = p->cfg.id;
        memcpy(peers[i].name, p->cfg.name, sizeof peers[i].name);
        peers[i].connected = p->up;
        peers[i].last_heard_ms = p->heard ? p2p__now(net) - p->heard_at : UINT64_MAX;
        peers[i].paused = p->paused;
        peers[i].queued_bytes = p->conn ? p->conn->q_bytes + p->conn->unsent : 0;
        peers[i].queued_msgs = p->conn ? p->conn->q_msgs : 0;
    }
    if (net_stats)
        *net_stats = net->st;
    return 0;
}
