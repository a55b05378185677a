/*
 * Shared by the p2p tests: nodes in one libuv loop on 127.0.0.1, identity keys from the ledger
 * registry, callbacks that count everything, messages that carry a sequence number and a
 * checkable pattern, and run_until (run the loop until a condition holds, with a generous
 * deadline: the tests count events, they never sleep).
 *
 * Every test ends with fx_end: stop every node, run the loop until every close callback ran,
 * and assert uv_loop_close == 0 (no handle left behind).
 *
 * A frozen node: a node started on the second loop (tnode.loop2, after fx_use_loop2) runs
 * only while f->frozen is false. Freezing it is SIGSTOP in one process: its sockets stay
 * open and the kernel keeps acknowledging, but it reads, writes and ticks nothing.
 */
#ifndef FWL_TESTS_P2P_HARNESS_H
#define FWL_TESTS_P2P_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "ledger/ledger.h"
#include "p2p/p2p.h"

#define MAXN 6              /* nodes per test; node ids are 1..MAXN */
#define DEADLINE_MS 30000   /* generous: a fuzzer may share the cores */

typedef struct tnode {
    uint32_t id;
    uint32_t alg;
    uint8_t sec[LDG_SECKEY_MAX];
    ldg_pubkey pub;
    p2p_limits lim;
    char network[P2P_NETWORK_MAX];
    bool no_listen;
    bool loop2;             /* runs on f->loop2 (see fx_use_loop2)                        */
    const char *name;       /* its name in the other nodes' configs (NULL: "", the key)   */
    p2p_net *net;
    int port;               /* listen port, kept across restarts                         */
    int stops;              /* p2p_stop calls on a started net                           */
    int closed;             /* on_closed calls                                           */
    bool stop_on_message;   /* call p2p_stop from inside on_message / on_peer_up        */
    bool stop_on_up;
    int ups[MAXN + 1], downs[MAXN + 1];
    uint64_t got[MAXN + 1];       /* messages received, by sender id                      */
    uint64_t got_bytes;
    uint32_t expect[MAXN + 1];    /* next sequence number expected, by sender id          */
    int bad;                      /* order or content errors                              */
    size_t largest;
    int logs;
    char last_log[512];
    const char *watch;            /* count log lines containing this                      */
    int watched;
    bool quiet;
    int auth_failed;              /* on_auth_failed calls, and what the last one said     */
    char auth_peer[P2P_NAME_MAX]; /* "" for an unknown remote                             */
    char auth_ip[48];
    char auth_why[512];
} tnode;

typedef struct {
    uv_loop_t loop;
    uv_timer_t hb;          /* a heartbeat so that UV_RUN_ONCE always returns             */
    uv_loop_t loop2;        /* the frozen-node loop, when has_loop2                       */
    bool has_loop2, frozen;
    tnode n[MAXN + 1];      /* n[id]                                                     */
} tfix;

/* ---------------------------------------------------------------------------------------- */
/* Messages: 4-byte big-endian sequence number, then bytes derived from it and the offset   */

static inline void msg_fill(uint8_t *buf, size_t len, uint32_t seq)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 7u + i * 13u + (i >> 8));
    if (len >= 4)
        buf[0] = (uint8_t)(seq >> 24), buf[1] = (uint8_t)(seq >> 16), buf[2] = (uint8_t)(seq >> 8),
        buf[3] = (uint8_t)seq;
}

static inline bool msg_check(const uint8_t *buf, size_t len, uint32_t *seq)
{
    if (len < 4)
        return false;
    *seq = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    for (size_t i = 4; i < len; i++)
        if (buf[i] != (uint8_t)(*seq * 7u + i * 13u + (i >> 8)))
            return false;
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Callbacks                                                                                 */

static inline void cb_auth_failed(void *ctx, const char *peer, const char *ip, const char *why)
{
    tnode *t = ctx;
    t->auth_failed++;
    snprintf(t->auth_peer, sizeof t->auth_peer, "%s", peer ? peer : "");
    snprintf(t->auth_ip, sizeof t->auth_ip, "%s", ip);
    snprintf(t->auth_why, sizeof t->auth_why, "%s", why);
}

static inline void cb_closed(void *ctx);

static inline void stop_inside(tnode *t)
{
    p2p_stop(t->net, cb_closed);
    p2p_stop(t->net, cb_closed); /* twice is harmless */
    t->stops++;
    t->net = NULL;
}

static inline void cb_message(void *ctx, uint32_t peer, uint8_t type, const uint8_t *data,
                              size_t len)
{
    tnode *t = ctx;
    if (!t->net) {
        t->bad++; /* nothing may arrive after p2p_stop */
        return;
    }
    uint32_t seq;
    if (peer < 1 || peer > MAXN || type != 7 || !msg_check(data, len, &seq) ||
        seq != t->expect[peer]) {
        t->bad++;
        return;
    }
    t->expect[peer]++;
    t->got[peer]++;
    t->got_bytes += len;
    if (len > t->largest)
        t->largest = len;
    if (t->stop_on_message)
        stop_inside(t);
}

static inline void cb_up(void *ctx, uint32_t peer)
{
    tnode *t = ctx;
    if (!t->net)
        t->bad++;
    if (peer >= 1 && peer <= MAXN) {
        t->ups[peer]++;
        t->expect[peer] = 0; /* a new connection: the sender restarts its numbering */
    }
    if (t->stop_on_up)
        stop_inside(t);
}

static inline void cb_down(void *ctx, uint32_t peer)
{
    tnode *t = ctx;
    if (!t->net)
        t->bad++;
    if (peer >= 1 && peer <= MAXN)
        t->downs[peer]++;
}

static inline void cb_log(void *ctx, const char *line)
{
    tnode *t = ctx;
    t->logs++;
    snprintf(t->last_log, sizeof t->last_log, "%s", line);
    if (t->watch && strstr(line, t->watch))
        t->watched++;
    if (!t->quiet && getenv("P2P_TEST_VERBOSE"))
        fprintf(stderr, "[node %u] %s\n", t->id, line);
}

static inline void cb_closed(void *ctx)
{
    tnode *t = ctx;
    t->closed++;
}

static const p2p_callbacks test_cbs = {cb_message, cb_up, cb_down, cb_log, cb_auth_failed};

/* ---------------------------------------------------------------------------------------- */
/* Fixture                                                                                   */

static inline void hb_cb(uv_timer_t *t) { (void)t; }

static inline void fx_init(tfix *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->hb);
    uv_timer_start(&f->hb, hb_cb, 10, 10);
    for (uint32_t i = 1; i <= MAXN; i++) {
        f->n[i].id = i;
        snprintf(f->n[i].network, sizeof f->n[i].network, "fwl-test");
    }
}

/* Give node id a key of algorithm alg derived from a fixed seed (tests are reproducible). */
static inline void node_key(tnode *t, uint32_t alg, uint8_t seed_byte)
{
    const ldg_sig_impl *s = ldg_sig_by_id(alg);
    assert_non_null(s);
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    assert_int_equal(s->keypair(seed, t->sec, t->pub.key), 0);
    t->pub.alg = alg;
    t->pub.len = s->pub_len;
    t->alg = alg;
}

typedef bool (*pred_fn)(tfix *f, void *arg);

/* A second loop for nodes with loop2 set, run along with the first unless f->frozen. */
static inline void fx_use_loop2(tfix *f)
{
    assert_int_equal(uv_loop_init(&f->loop2), 0);
    f->has_loop2 = true;
}

/* One iteration: the main loop (waits at most for the 10 ms heartbeat), then the second
 * one without waiting. */
static inline void run_once(tfix *f)
{
    uv_run(&f->loop, UV_RUN_ONCE);
    if (f->has_loop2 && !f->frozen)
        uv_run(&f->loop2, UV_RUN_NOWAIT);
}

/* Run the loop until pred holds or the deadline passes; returns pred's last value. */
static inline bool run_until(tfix *f, pred_fn pred, void *arg, uint64_t timeout_ms)
{
    uv_update_time(&f->loop);
    uint64_t deadline = uv_now(&f->loop) + timeout_ms;
    bool ok;
    while (!(ok = pred(f, arg)) && uv_now(&f->loop) < deadline)
        run_once(f);
    return ok;
}

static inline bool always_false(tfix *f, void *arg)
{
    (void)f, (void)arg;
    return false;
}

/* Run the loop for about ms milliseconds (only where a test must show that something does
 * NOT happen; everything positive is waited for with a predicate). */
static inline void run_for(tfix *f, uint64_t ms) { (void)run_until(f, always_false, NULL, ms); }

/* Start node t with peers ids[0..n) (their keys; addresses when they already listen and
 * with_addr). */
static inline int node_start(tfix *f, tnode *t, const uint32_t *ids, size_t n, bool with_addr)
{
    p2p_config c;
    p2p_peer_config pc[MAXN];
    memset(&c, 0, sizeof c);
    memset(pc, 0, sizeof pc);
    c.key_alg = t->alg;
    memcpy(c.key_secret, t->sec, sizeof c.key_secret);
    c.key_public = t->pub;
    if (!t->no_listen) {
        snprintf(c.listen_host, sizeof c.listen_host, "127.0.0.1");
        c.listen_port = t->port > 0 ? t->port : 0;
    }
    for (size_t i = 0; i < n; i++) {
        tnode *p = &f->n[ids[i]];
        pc[i].id = p->id;
        pc[i].key = p->pub;
        if (p->name)
            snprintf(pc[i].name, sizeof pc[i].name, "%s", p->name);
        if (with_addr && p->port > 0) {
            snprintf(pc[i].host, sizeof pc[i].host, "127.0.0.1");
            pc[i].port = p->port;
        }
    }
    c.peers = pc;
    c.n_peers = n;
    memcpy(c.network, t->network, sizeof c.network);
    c.seed = 0x5eed0000u + t->id;
    c.limits = t->lim;
    char err[256];
    int rc = p2p_start(&t->net, t->loop2 ? &f->loop2 : &f->loop, &c, &test_cbs, t, err,
                       sizeof err);
    memset(&c, 0, sizeof c);
    if (rc == 0 && !t->no_listen) {
        t->port = p2p_listen_port(t->net);
        assert_true(t->port > 0);
    }
    return rc;
}

/* p2p.h's dialing rule, restated: between two listening nodes, the lower key dials. */
static inline bool key_less(const tnode *a, const tnode *b)
{
    if (a->pub.alg != b->pub.alg)
        return a->pub.alg < b->pub.alg;
    if (a->pub.len != b->pub.len)
        return a->pub.len < b->pub.len;
    return memcmp(a->pub.key, b->pub.key, a->pub.len) < 0;
}

/* Tell every started node in ids where every other one listens. */
static inline void connect_all(tfix *f, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            tnode *a = &f->n[ids[i]], *b = &f->n[ids[j]];
            if (i != j && a->net && b->port > 0)
                assert_int_equal(p2p_set_peer_addr(a->net, b->id, "127.0.0.1", b->port), 0);
        }
}

static inline bool pred_all_up(tfix *f, void *arg)
{
    const uint32_t *ids = arg; /* 0-terminated */
    for (size_t i = 0; ids[i]; i++)
        for (size_t j = 0; ids[j]; j++) {
            if (i == j)
                continue;
            tnode *a = &f->n[ids[i]];
            if (!a->net || a->ups[ids[j]] <= a->downs[ids[j]])
                return false;
        }
    return true;
}

/* Forget what a node counted (before restarting it). */
static inline void node_reset_counts(tnode *t)
{
    memset(t->ups, 0, sizeof t->ups);
    memset(t->downs, 0, sizeof t->downs);
    memset(t->got, 0, sizeof t->got);
    memset(t->expect, 0, sizeof t->expect);
}

/* arg: {node, peer, count}: node saw peer come up at least count times. */
static inline bool pred_ups(tfix *f, void *arg)
{
    const uint32_t *w = arg;
    return f->n[w[0]].ups[w[1]] >= (int)w[2];
}

static inline bool pred_downs(tfix *f, void *arg)
{
    const uint32_t *w = arg;
    return f->n[w[0]].downs[w[1]] >= (int)w[2];
}

/* arg: {receiver, sender, count}: receiver got at least count messages from sender. */
static inline bool pred_got(tfix *f, void *arg)
{
    const uint32_t *w = arg;
    return f->n[w[0]].got[w[1]] >= w[2];
}

static inline p2p_peer_stats peer_stats(tnode *t, uint32_t peer)
{
    p2p_peer_stats st[MAXN];
    size_t n = 0;
    assert_int_equal(p2p_stats(t->net, st, MAXN, &n, NULL), 0);
    for (size_t i = 0; i < n && i < MAXN; i++)
        if (st[i].id == peer)
            return st[i];
    fail_msg("no stats for peer %u", peer);
    return st[0];
}

static inline p2p_net_stats net_stats(tnode *t)
{
    p2p_net_stats s;
    assert_int_equal(p2p_stats(t->net, NULL, 0, NULL, &s), 0);
    return s;
}

/* Stop one node and run the loop until its handles are closed. */
static inline void node_stop(tfix *f, tnode *t)
{
    if (t->net) {
        p2p_stop(t->net, cb_closed);
        t->stops++;
        t->net = NULL;
    }
    f->frozen = false;
    while (t->closed < t->stops)
        run_once(f);
    assert_int_equal(t->closed, t->stops);
}

static inline void fx_end(tfix *f)
{
    for (uint32_t i = 1; i <= MAXN; i++) {
        if (f->n[i].net) {
            p2p_stop(f->n[i].net, cb_closed);
            f->n[i].stops++;
            f->n[i].net = NULL;
        }
    }
    uv_close((uv_handle_t *)&f->hb, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (f->has_loop2) {
        uv_run(&f->loop2, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&f->loop2), 0);
    }
    for (uint32_t i = 1; i <= MAXN; i++)
        assert_int_equal(f->n[i].closed, f->n[i].stops);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    for (uint32_t i = 1; i <= MAXN; i++)
        memset(f->n[i].sec, 0, sizeof f->n[i].sec);
}

/* Send count messages of len bytes from a to peer b, numbered from *seq. */
static inline void send_seq(tnode *a, uint32_t b, size_t len, int count, uint32_t *seq)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    for (int i = 0; i < count; i++) {
        msg_fill(buf, len, *seq);
        assert_int_equal(p2p_send(a->net, b, 7, buf, len), 0);
        (*seq)++;
    }
    free(buf);
}

#endif
