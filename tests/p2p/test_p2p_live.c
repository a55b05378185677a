/*
 * Liveness between real nodes on 127.0.0.1, with short intervals (pings after 100 ms of
 * silence, down after 400 ms): a peer whose process stands still (its loop frozen, as under
 * SIGSTOP: the kernel keeps its sockets open and acknowledging) is marked down within the
 * bound, named in the log, and reconnects once it runs again, whichever side dials; an idle
 * connection stays up on pings and pongs, which never reach the caller; a busy one needs no
 * pings; a paused reader keeps its connection; names and the last-heard age in the stats.
 */
#include <signal.h>

#include "tests/p2p/harness.h"

#define T_MSG 7
#define PING_MS 100
#define IDLE_MS 400

static void live_limits(tnode *t)
{
    t->lim.ping_interval_ms = PING_MS;
    t->lim.idle_timeout_ms = IDLE_MS;
    t->lim.backoff_min_ms = 20;
    t->lim.backoff_max_ms = 200;
}

/* Nodes 1 and 2, connected, with the short intervals; names "alpha" and "beta". */
static void start_pair(tfix *f, uint8_t seed)
{
    const uint32_t ids[] = {1, 2, 0};
    node_key(&f->n[1], LDG_SIG_ED25519, seed);
    node_key(&f->n[2], LDG_SIG_ED25519, (uint8_t)(seed + 1));
    f->n[1].name = "alpha";
    f->n[2].name = "beta";
    live_limits(&f->n[1]);
    live_limits(&f->n[2]);
    uint32_t p1 = 2, p2 = 1;
    assert_int_equal(node_start(f, &f->n[1], &p1, 1, false), 0);
    assert_int_equal(node_start(f, &f->n[2], &p2, 1, false), 0);
    connect_all(f, ids, 2);
    assert_true(run_until(f, pred_all_up, (void *)ids, DEADLINE_MS));
}

static uint64_t loop_now(tfix *f)
{
    uv_update_time(&f->loop);
    return uv_now(&f->loop);
}

/* ---------------------------------------------------------------------------------------- */
/* A frozen peer: down within the bound, its last-heard age growing; back when it runs      */

static void run_frozen(bool freeze_dialer)
{
    tfix f;
    fx_init(&f);
    fx_use_loop2(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x71);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x72);
    bool one_dials = key_less(&f.n[1], &f.n[2]);
    tnode *fz = (one_dials == freeze_dialer) ? &f.n[1] : &f.n[2];
    tnode *w = fz == &f.n[1] ? &f.n[2] : &f.n[1];
    fz->loop2 = true;
    const uint32_t ids[] = {1, 2, 0};
    f.n[1].name = "alpha";
    f.n[2].name = "beta";
    live_limits(&f.n[1]);
    live_limits(&f.n[2]);
    uint32_t p1 = 2, p2 = 1;
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, false), 0);
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, false), 0);
    connect_all(&f, ids, 2);
    assert_true(run_until(&f, pred_all_up, (void *)ids, DEADLINE_MS));
    /* Idle but alive for several timeouts: pings keep it up. */
    run_for(&f, 2 * IDLE_MS);
    assert_int_equal(w->downs[fz->id] + fz->downs[w->id], 0);

    char watch[64];
    snprintf(watch, sizeof watch, "connection to peer %s (", fz->name);
    w->watch = watch;
    f.frozen = true;
    uint64_t t0 = loop_now(&f);
    run_for(&f, IDLE_MS * 3 / 4);
    p2p_peer_stats ps = peer_stats(w, fz->id);
    assert_true(ps.connected);
    assert_true(ps.last_heard_ms >= IDLE_MS * 3 / 4);
    assert_true(ps.last_heard_ms < IDLE_MS + PING_MS);
    assert_string_equal(ps.name, fz->name);

    uint32_t down[] = {w->id, fz->id, 1};
    assert_true(run_until(&f, pred_downs, down, DEADLINE_MS));
    uint64_t took = loop_now(&f) - t0;
    /* Not before the bound (less the ping interval: it may have last been heard up to then
     * before the freeze) and not long after it (a tick, plus slack for a shared machine). */
    assert_true(took >= IDLE_MS - PING_MS - 10);
    assert_true(took <= IDLE_MS + 600);
    ps = peer_stats(w, fz->id);
    assert_false(ps.connected);
    assert_int_equal(ps.timeouts, 1);
    assert_true(ps.last_heard_ms >= IDLE_MS - PING_MS);
    assert_int_equal(net_stats(w).timeouts, 1);
    assert_int_equal(w->watched, 1);
    assert_non_null(strstr(w->last_log, fz->name)); /* "peer <name> down" */
    assert_non_null(strstr(w->last_log, "down"));
    run_for(&f, IDLE_MS);
    assert_true(peer_stats(w, fz->id).last_heard_ms >= 2 * IDLE_MS - PING_MS);

    /* It runs again: it learns the connection is gone from what waits in its socket (not from
     * a timeout of its own: its first tick is late and times nobody out), and the two
     * reconnect, whichever of them dials. */
    f.frozen = false;
    uint32_t up_w[] = {w->id, fz->id, 2}, up_fz[] = {fz->id, w->id, 2};
    assert_true(run_until(&f, pred_ups, up_w, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, up_fz, DEADLINE_MS));
    assert_int_equal(fz->downs[w->id], 1);
    assert_int_equal(peer_stats(fz, w->id).timeouts, 0);
    assert_true(peer_stats(w, fz->id).last_heard_ms < IDLE_MS);
    uint32_t s1 = 0, s2 = 0;
    send_seq(w, fz->id, 300, 5, &s1);
    send_seq(fz, w->id, 300, 5, &s2);
    uint32_t g1[] = {fz->id, w->id, 5}, g2[] = {w->id, fz->id, 5};
    assert_true(run_until(&f, pred_got, g1, DEADLINE_MS));
    assert_true(run_until(&f, pred_got, g2, DEADLINE_MS));
    assert_int_equal(f.n[1].bad + f.n[2].bad, 0);
    fx_end(&f);
}

static void test_frozen_acceptor(void **state) { (void)state, run_frozen(false); }
static void test_frozen_dialer(void **state) { (void)state, run_frozen(true); }

/* ---------------------------------------------------------------------------------------- */
/* Idle: pings answered by pongs, the connection stays up, the caller sees none of it       */

static void test_pings_answered(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_pair(&f, 0x81);
    run_for(&f, 3 * IDLE_MS);
    p2p_peer_stats a = peer_stats(&f.n[1], 2), b = peer_stats(&f.n[2], 1);
    assert_int_equal(f.n[1].downs[2] + f.n[2].downs[1], 0);
    assert_true(a.connected && b.connected);
    /* 1.2 s of silence at one ping per 100 ms of it: many pings, each answered (the last
     * one perhaps still on its way). */
    assert_true(a.pings_out >= 5);
    assert_true(b.pings_out >= 5);
    assert_true(b.pongs_out + 1 >= a.pings_out && b.pongs_out <= a.pings_out);
    assert_true(a.pongs_out + 1 >= b.pings_out && a.pongs_out <= b.pings_out);
    assert_true(a.last_heard_ms < IDLE_MS);
    /* Not messages: the caller got none (cb_message counts any as bad), none were counted. */
    assert_int_equal(a.msgs_in + b.msgs_in + a.msgs_out + b.msgs_out, 0);
    assert_int_equal(a.timeouts + b.timeouts, 0);
    assert_int_equal(f.n[1].bad + f.n[2].bad, 0);
    assert_string_equal(a.name, "beta");
    assert_string_equal(p2p_peer_name(f.n[1].net, 2), "beta");
    assert_null(p2p_peer_name(f.n[1].net, 3));
    assert_null(p2p_peer_name(NULL, 2));
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* Busy: a peer that hears messages all the time sends no pings                             */

static void test_busy_no_pings(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_pair(&f, 0x91);
    uint64_t before = peer_stats(&f.n[2], 1).pings_out;
    uint32_t seq = 0;
    for (int i = 0; i < 40; i++) { /* 0.8 s, one message every 20 ms */
        send_seq(&f.n[1], 2, 100, 1, &seq);
        run_for(&f, 20);
    }
    uint32_t got[] = {2, 1, 40};
    assert_true(run_until(&f, pred_got, got, DEADLINE_MS));
    /* Node 2 heard node 1 every 20 ms: no ping. Node 1 heard only node 2's pongs. */
    assert_int_equal(peer_stats(&f.n[2], 1).pings_out, before);
    assert_true(peer_stats(&f.n[1], 2).pings_out >= 3);
    assert_int_equal(f.n[1].downs[2] + f.n[2].downs[1], 0);
    assert_int_equal(f.n[1].bad + f.n[2].bad, 0);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* A paused reader is not a dead peer: both sides stay up through a long pause              */

static void test_pause_stays_up(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    start_pair(&f, 0xa1);
    assert_int_equal(p2p_pause(f.n[2].net, 1, true), 0);
    uint64_t pings = peer_stats(&f.n[2], 1).pings_out;
    uint32_t seq = 0;
    send_seq(&f.n[1], 2, 100, 3, &seq);
    run_for(&f, 3 * IDLE_MS);
    /* Node 2 cannot hear pongs while paused, so it pings every interval for node 1's sake. */
    assert_true(peer_stats(&f.n[2], 1).pings_out >= pings + 4);
    assert_int_equal(f.n[1].downs[2] + f.n[2].downs[1], 0);
    assert_int_equal(f.n[2].got[1], 0);
    assert_int_equal(p2p_pause(f.n[2].net, 1, false), 0);
    uint32_t got[] = {2, 1, 3};
    assert_true(run_until(&f, pred_got, got, DEADLINE_MS));
    run_for(&f, IDLE_MS);
    assert_int_equal(f.n[1].downs[2] + f.n[2].downs[1], 0);
    assert_int_equal(f.n[1].bad + f.n[2].bad, 0);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* Names: configured ones in stats and logs, the key form for the others, bad ones refused  */

static void test_names(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0xb1);
    node_key(&f.n[2], LDG_SIG_ED25519, 0xb2);
    node_key(&f.n[3], LDG_SIG_P256_ECDSA, 0xb3);
    /* A name that is not printable ASCII, or fills the field without its NUL. */
    f.n[2].name = "bad\tname";
    uint32_t p = 2;
    assert_int_equal(node_start(&f, &f.n[1], &p, 1, false), P2P_EINVAL);
    /* A name filling the field without its NUL. */
    p2p_config c;
    p2p_peer_config pc;
    memset(&c, 0, sizeof c);
    memset(&pc, 0, sizeof pc);
    c.key_alg = f.n[1].alg;
    memcpy(c.key_secret, f.n[1].sec, sizeof c.key_secret);
    c.key_public = f.n[1].pub;
    pc.id = 2;
    pc.key = f.n[2].pub;
    memset(pc.name, 'x', sizeof pc.name);
    c.peers = &pc;
    c.n_peers = 1;
    snprintf(c.network, sizeof c.network, "fwl-test");
    p2p_net *net = NULL;
    char err[256];
    assert_int_equal(p2p_start(&net, &f.loop, &c, NULL, NULL, err, sizeof err), P2P_EINVAL);
    assert_null(net);
    assert_non_null(strstr(err, "name"));
    pc.name[P2P_NAME_MAX - 1] = 0; /* 31 bytes: the longest */
    assert_int_equal(p2p_start(&net, &f.loop, &c, &test_cbs, &f.n[1], err, sizeof err), 0);
    assert_int_equal(strlen(p2p_peer_name(net, 2)), P2P_NAME_MAX - 1);
    f.n[1].net = net; /* stopped by fx_end */
    node_stop(&f, &f.n[1]);
    memset(&c, 0, sizeof c);

    /* Unnamed peers are named by their key: "ed25519:" or "p256:", 8 bytes in hex. */
    f.n[2].name = NULL;
    const uint32_t ps[] = {2, 3};
    assert_int_equal(node_start(&f, &f.n[1], ps, 2, false), 0);
    char want[P2P_NAME_MAX];
    snprintf(want, sizeof want, "ed25519:%02x%02x%02x%02x%02x%02x%02x%02x..", f.n[2].pub.key[0],
             f.n[2].pub.key[1], f.n[2].pub.key[2], f.n[2].pub.key[3], f.n[2].pub.key[4],
             f.n[2].pub.key[5], f.n[2].pub.key[6], f.n[2].pub.key[7]);
    assert_string_equal(p2p_peer_name(f.n[1].net, 2), want);
    assert_string_equal(peer_stats(&f.n[1], 2).name, want);
    assert_int_equal(strncmp(p2p_peer_name(f.n[1].net, 3), "p256:", 5), 0);
    /* Never heard: UINT64_MAX. */
    assert_true(peer_stats(&f.n[1], 2).last_heard_ms == UINT64_MAX);
    fx_end(&f);
}

int main(void)
{
    /* As fwledgerd: a write to a connection the peer closed is an error, not a signal (a
     * thawed node writes before it reads that the peer is gone). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_acceptor),
        cmocka_unit_test(test_frozen_dialer),
        cmocka_unit_test(test_pings_answered),
        cmocka_unit_test(test_busy_no_pings),
        cmocka_unit_test(test_pause_stays_up),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
