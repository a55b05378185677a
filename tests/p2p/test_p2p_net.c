/*
 * The p2p transport between real nodes in one loop on 127.0.0.1 (ports chosen by the kernel):
 * a 3-node mesh over TLS with both key types, a slow reader and the bounded send queue, an
 * oversize frame, restarts of the accepting and of the dialing side, and the API's refusals.
 */
#include "tests/p2p/harness.h"

#define T_MSG 7

static const uint32_t ids3[] = {1, 2, 3, 0};

/* ---------------------------------------------------------------------------------------- */
/* 3 nodes: full mesh, messages both ways, in order, one of 1 MiB                            */

typedef struct {
    uint64_t want; /* messages each node must get from each other */
} mesh_goal;

static bool pred_mesh_done(tfix *f, void *arg)
{
    const mesh_goal *g = arg;
    for (uint32_t a = 1; a <= 3; a++)
        for (uint32_t b = 1; b <= 3; b++)
            if (a != b && f->n[a].got[b] < g->want)
                return false;
    return true;
}

static void test_mesh(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x11);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x22);
    node_key(&f.n[3], LDG_SIG_P256_ECDSA, 0x33); /* mixed key types in one mesh */
    for (uint32_t i = 1; i <= 3; i++) {
        uint32_t others[2], k = 0;
        for (uint32_t j = 1; j <= 3; j++)
            if (j != i)
                others[k++] = j;
        assert_int_equal(node_start(&f, &f.n[i], others, 2, false), 0);
    }
    connect_all(&f, ids3, 3);
    assert_true(run_until(&f, pred_all_up, (void *)ids3, DEADLINE_MS));
    for (uint32_t a = 1; a <= 3; a++) {
        p2p_net_stats ns = net_stats(&f.n[a]);
        assert_int_equal(ns.refused_unknown, 0);
        assert_int_equal(ns.pending, 0);
        for (uint32_t b = 1; b <= 3; b++)
            if (a != b) {
                p2p_peer_stats ps = peer_stats(&f.n[a], b);
                assert_true(ps.connected);
                assert_int_equal(ps.ups, 1);
                /* the lower key dialled */
                assert_int_equal(ps.dials, key_less(&f.n[a], &f.n[b]) ? 1 : 0);
            }
    }

    /* Every node sends every other: 100 small messages, one of 1 MiB, 100 more (in order
     * behind the large one), then a broadcast. */
    uint32_t seq[4][4] = {{0}};
    for (uint32_t a = 1; a <= 3; a++)
        for (uint32_t b = 1; b <= 3; b++) {
            if (a == b)
                continue;
            send_seq(&f.n[a], b, 10 + a * 10 + b, 100, &seq[a][b]);
            send_seq(&f.n[a], b, 1u << 20, 1, &seq[a][b]);
            send_seq(&f.n[a], b, 0 + 4, 100, &seq[a][b]);
        }
    mesh_goal g = {201};
    assert_true(run_until(&f, pred_mesh_done, &g, DEADLINE_MS));
    uint8_t buf[300];
    for (uint32_t a = 1; a <= 3; a++) {
        /* broadcast: each peer gets the same bytes, numbered as the next in its stream */
        uint32_t s = seq[a][a == 1 ? 2 : 1];
        msg_fill(buf, sizeof buf, s);
        assert_int_equal(seq[a][a == 1 ? 2 : 1], seq[a][a == 3 ? 2 : 3]);
        assert_int_equal(p2p_broadcast(f.n[a].net, T_MSG, buf, sizeof buf), 2);
    }
    g.want = 202;
    assert_true(run_until(&f, pred_mesh_done, &g, DEADLINE_MS));
    run_for(&f, 50);
    for (uint32_t a = 1; a <= 3; a++) {
        assert_int_equal(f.n[a].bad, 0);
        assert_int_equal(f.n[a].largest, 1u << 20);
        for (uint32_t b = 1; b <= 3; b++) {
            if (a == b)
                continue;
            assert_int_equal(f.n[a].got[b], 202);
            p2p_peer_stats ps = peer_stats(&f.n[a], b);
            assert_int_equal(ps.msgs_in, 202);
            assert_int_equal(ps.msgs_out, 202);
            assert_int_equal(ps.drops_full + ps.drops_down + ps.refused + ps.proto_errors, 0);
            assert_int_equal(ps.queued_bytes, 0);
            assert_true(ps.bytes_in > (1u << 20) && ps.bytes_out > (1u << 20));
            assert_int_equal(f.n[a].downs[b], 0);
        }
    }
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* A reader that stops reading: the sender's queue stays bounded and drops are counted       */

static void test_slow_reader(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    const uint32_t ids[] = {1, 2, 0};
    node_key(&f.n[1], LDG_SIG_ED25519, 0x41);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x42);
    const size_t max_queue = 1u << 20, len = 64u << 10;
    f.n[1].lim.max_queue = max_queue;
    f.n[1].lim.max_message = len;
    f.n[2].lim.max_message = len;
    uint32_t p1 = 2, p2 = 1;
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, false), 0);
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, false), 0);
    connect_all(&f, ids, 2);
    assert_true(run_until(&f, pred_all_up, (void *)ids, DEADLINE_MS));

    /* Node 2 stops reading from node 1; node 1 keeps sending 64 KiB messages until the
     * kernel's socket buffers and then its own queue are full and messages get dropped. */
    assert_int_equal(p2p_pause(f.n[2].net, 1, true), 0);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    uint32_t seq = 0;
    int full = 0;
    for (int round = 0; round < 20000 && full < 50; round++) {
        msg_fill(buf, len, seq);
        int rc = p2p_send(f.n[1].net, 2, T_MSG, buf, len);
        if (rc == 0) {
            seq++;
        } else {
            assert_int_equal(rc, P2P_EQUEUEFULL);
            full++;
            uv_run(&f.loop, UV_RUN_NOWAIT);
        }
        p2p_peer_stats ps = peer_stats(&f.n[1], 2);
        assert_true(ps.queued_bytes <= max_queue);
        if (round % 16 == 0)
            uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(full, 50);
    p2p_peer_stats ps = peer_stats(&f.n[1], 2);
    assert_int_equal(ps.drops_full, 50);
    assert_true(ps.queued_bytes <= max_queue);
    assert_true(ps.connected);
    assert_int_equal(f.n[2].got[1], 0);
    assert_true(peer_stats(&f.n[2], 1).paused);
    /* Nothing else suffers: node 2 still sends to node 1. */
    uint32_t back = 0;
    send_seq(&f.n[2], 1, 100, 10, &back);

    /* Resume: every accepted message arrives, in order, and nothing more. */
    assert_int_equal(p2p_pause(f.n[2].net, 1, false), 0);
    uint32_t want = seq, w1[] = {2, 1, want}, w2[] = {1, 2, 10};
    assert_true(run_until(&f, pred_got, w1, DEADLINE_MS));
    assert_true(run_until(&f, pred_got, w2, DEADLINE_MS));
    run_for(&f, 50);
    assert_int_equal(f.n[2].got[1], want);
    assert_int_equal(f.n[2].bad + f.n[1].bad, 0);
    assert_int_equal(peer_stats(&f.n[1], 2).queued_bytes, 0);
    assert_int_equal(peer_stats(&f.n[1], 2).msgs_out, want);
    free(buf);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* An oversize frame closes that connection; the node keeps serving the others              */

static bool pred_down_1_2(tfix *f, void *arg)
{
    (void)arg;
    return f->n[2].downs[1] >= 1 && f->n[1].downs[2] >= 1;
}

static bool pred_back_up_1_2(tfix *f, void *arg)
{
    (void)arg;
    return f->n[2].ups[1] >= 2 && f->n[1].ups[2] >= 2;
}

static void test_oversize(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x51);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x52);
    node_key(&f.n[3], LDG_SIG_P256_ECDSA, 0x53);
    f.n[1].lim.max_message = 1u << 20; /* node 1 may send more than node 2 accepts */
    f.n[2].lim.max_message = 64u << 10;
    f.n[1].lim.backoff_min_ms = 50;
    f.n[2].watch = "over the limit";
    for (uint32_t i = 1; i <= 3; i++) {
        uint32_t others[2], k = 0;
        for (uint32_t j = 1; j <= 3; j++)
            if (j != i)
                others[k++] = j;
        assert_int_equal(node_start(&f, &f.n[i], others, 2, false), 0);
    }
    connect_all(&f, ids3, 3);
    assert_true(run_until(&f, pred_all_up, (void *)ids3, DEADLINE_MS));

    uint32_t s12 = 0, s32 = 0, s23 = 0;
    send_seq(&f.n[1], 2, 100, 5, &s12);
    send_seq(&f.n[1], 2, (64u << 10) + 1, 1, &s12); /* one byte over node 2's limit */
    assert_true(run_until(&f, pred_down_1_2, NULL, DEADLINE_MS));
    assert_int_equal(f.n[2].got[1], 5); /* what came before it was delivered */
    p2p_peer_stats ps = peer_stats(&f.n[2], 1);
    assert_int_equal(ps.proto_errors, 1);
    assert_false(ps.connected);
    assert_int_equal(f.n[2].watched, 1);

    /* Node 2 still serves node 3, both ways. */
    send_seq(&f.n[3], 2, 1000, 20, &s32);
    send_seq(&f.n[2], 3, 1000, 20, &s23);
    uint32_t w1[] = {2, 3, 20}, w2[] = {3, 2, 20};
    assert_true(run_until(&f, pred_got, w1, DEADLINE_MS));
    assert_true(run_until(&f, pred_got, w2, DEADLINE_MS));
    assert_int_equal(f.n[2].downs[3] + f.n[3].downs[2], 0);

    /* Node 1 dials again (backoff) and, within the limit, its messages flow. */
    assert_true(run_until(&f, pred_back_up_1_2, NULL, DEADLINE_MS));
    uint32_t s = 0;
    send_seq(&f.n[1], 2, 64u << 10, 3, &s);
    uint32_t w3[] = {2, 1, 5 + 3};
    assert_true(run_until(&f, pred_got, w3, DEADLINE_MS));
    assert_int_equal(peer_stats(&f.n[1], 2).reconnects, 1);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(f.n[i].bad, 0);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* Restarts: the accepting side, then the dialing side                                       */

static bool pred_dials(tfix *f, void *arg)
{
    const uint64_t *want = arg;
    return peer_stats(&f->n[1], 2).dials >= *want;
}

static void test_restart(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    const uint32_t ids[] = {1, 2, 0};
    node_key(&f.n[1], LDG_SIG_ED25519, 0x61);
    node_key(&f.n[2], LDG_SIG_P256_ECDSA, 0x62);
    assert_true(key_less(&f.n[1], &f.n[2])); /* node 1 dials (ed25519 sorts first) */
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 400;
    uint32_t p1 = 2, p2 = 1;
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, false), 0);
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, false), 0);
    connect_all(&f, ids, 2);
    assert_true(run_until(&f, pred_all_up, (void *)ids, DEADLINE_MS));
    uint32_t s = 0;
    send_seq(&f.n[1], 2, 500, 10, &s);
    uint32_t w[] = {2, 1, 10};
    assert_true(run_until(&f, pred_got, w, DEADLINE_MS));

    /* Stop node 2 (the accepting side). Node 1 sees it go down and keeps dialing with
     * growing delays while nothing listens. */
    node_stop(&f, &f.n[2]);
    node_reset_counts(&f.n[2]);
    uint32_t d12[] = {1, 2, 1};
    assert_true(run_until(&f, pred_downs, d12, DEADLINE_MS));
    assert_int_equal(f.n[1].downs[2], 1);
    assert_int_equal(p2p_send(f.n[1].net, 2, T_MSG, (const uint8_t *)"abcd", 4), P2P_ENOTCONN);
    assert_int_equal(peer_stats(&f.n[1], 2).drops_down, 1);
    uint64_t want = 4;
    assert_true(run_until(&f, pred_dials, &want, DEADLINE_MS));
    assert_int_equal(f.n[1].ups[2], 1);

    /* Start it again on the same port: node 1 reconnects and messages flow again. */
    uint32_t back = 1;
    assert_int_equal(node_start(&f, &f.n[2], &back, 1, true), 0);
    uint32_t u12[] = {1, 2, 2}, u21[] = {2, 1, 1};
    assert_true(run_until(&f, pred_ups, u12, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, u21, DEADLINE_MS));
    assert_int_equal(f.n[1].ups[2], 2);
    s = 0;
    send_seq(&f.n[1], 2, 500, 10, &s);
    assert_true(run_until(&f, pred_got, w, DEADLINE_MS));
    p2p_peer_stats ps = peer_stats(&f.n[1], 2);
    assert_int_equal(ps.reconnects, 1);
    assert_true(ps.dials >= 5);

    /* Now restart node 1 (the dialing side): node 2 sees it down, then up again. */
    node_stop(&f, &f.n[1]);
    node_reset_counts(&f.n[1]);
    uint32_t to2 = 2;
    assert_int_equal(node_start(&f, &f.n[1], &to2, 1, true), 0);
    uint32_t v21[] = {2, 1, 2}, v12[] = {1, 2, 1}, d21[] = {2, 1, 1};
    assert_true(run_until(&f, pred_ups, v21, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, v12, DEADLINE_MS));
    assert_int_equal(f.n[2].ups[1], 2);
    assert_true(run_until(&f, pred_downs, d21, DEADLINE_MS));
    uint32_t s2 = 0;
    send_seq(&f.n[2], 1, 700, 10, &s2);
    uint32_t w2[] = {1, 2, 10};
    assert_true(run_until(&f, pred_got, w2, DEADLINE_MS));
    assert_int_equal(f.n[1].bad + f.n[2].bad, 0);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* p2p_stop from inside callbacks, and with data queued                                      */

static bool pred_closed(tfix *f, void *arg)
{
    const uint32_t *w = arg; /* node, count */
    return f->n[w[0]].closed >= (int)w[1];
}

static void test_stop_inside(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    for (uint32_t i = 1; i <= 3; i++)
        node_key(&f.n[i], LDG_SIG_ED25519, (uint8_t)(0xd0 + i));
    for (uint32_t i = 1; i <= 3; i++) {
        uint32_t others[2], k = 0;
        for (uint32_t j = 1; j <= 3; j++)
            if (j != i)
                others[k++] = j;
        assert_int_equal(node_start(&f, &f.n[i], others, 2, false), 0);
    }
    connect_all(&f, ids3, 3);
    assert_true(run_until(&f, pred_all_up, (void *)ids3, DEADLINE_MS));

    /* Node 3 stops inside on_message: the other messages of the same read are not
     * delivered, and the others see it go down. */
    f.n[3].stop_on_message = true;
    uint32_t s = 0;
    send_seq(&f.n[1], 3, 100, 20, &s);
    uint32_t c3[] = {3, 1};
    assert_true(run_until(&f, pred_closed, c3, DEADLINE_MS));
    assert_int_equal(f.n[3].got[1], 1);
    uint32_t d13[] = {1, 3, 1}, d23[] = {2, 3, 1};
    assert_true(run_until(&f, pred_downs, d13, DEADLINE_MS));
    assert_true(run_until(&f, pred_downs, d23, DEADLINE_MS));

    /* Restarted, node 3 stops inside its first on_peer_up. */
    node_reset_counts(&f.n[3]);
    f.n[3].stop_on_message = false;
    f.n[3].stop_on_up = true;
    uint32_t o3[] = {1, 2};
    assert_int_equal(node_start(&f, &f.n[3], o3, 2, true), 0);
    uint32_t c3b[] = {3, 2};
    assert_true(run_until(&f, pred_closed, c3b, DEADLINE_MS));
    assert_int_equal(f.n[3].stops, 2);
    int ups3 = 0;
    for (uint32_t i = 1; i <= MAXN; i++)
        ups3 += f.n[3].ups[i];
    assert_int_equal(ups3, 1);

    /* Node 1 queues a large message and a burst of small ones, then stops at once: the
     * queued data is discarded and freed (the sanitizers check). */
    send_seq(&f.n[1], 2, 1u << 20, 1, &s);
    send_seq(&f.n[1], 2, 10, 100, &s);
    assert_int_equal(p2p_broadcast(f.n[1].net, 7, (const uint8_t *)"xxxxyyyy", 8), 1);
    node_stop(&f, &f.n[1]);
    assert_int_equal(p2p_send(f.n[1].net, 2, 7, (const uint8_t *)"abcd", 4), P2P_EINVAL);
    uint32_t d21[] = {2, 1, 1};
    assert_true(run_until(&f, pred_downs, d21, DEADLINE_MS));
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(f.n[i].bad, 0);
    fx_end(&f);
}

/* ---------------------------------------------------------------------------------------- */
/* API refusals                                                                              */

static void test_api_errors(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x71);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x72);
    node_key(&f.n[3], LDG_SIG_SECP256K1_ECDSA, 0x73);
    uint32_t p2 = 2;
    assert_int_equal(node_start(&f, &f.n[1], &p2, 1, false), 0);
    p2p_net *net = f.n[1].net;
    uint8_t b[8] = {0};
    assert_int_equal(p2p_send(net, 2, 0, b, 1), P2P_EINVAL); /* type 0 is p2p's */
    assert_int_equal(p2p_send(net, 2, 1, NULL, 1), P2P_EINVAL);
    assert_int_equal(p2p_send(NULL, 2, 1, b, 1), P2P_EINVAL);
    assert_int_equal(p2p_send(net, 9, 1, b, 1), P2P_ENOPEER);
    assert_int_equal(p2p_send(net, 2, 1, b, 1), P2P_ENOTCONN);
    assert_int_equal(p2p_send(net, 2, 1, b, P2P_DEFAULT_MAX_MESSAGE + 1), P2P_ETOOBIG);
    assert_int_equal(p2p_broadcast(net, 1, b, 1), 0);
    assert_int_equal(p2p_broadcast(net, 0, b, 1), P2P_EINVAL);
    assert_int_equal(peer_stats(&f.n[1], 2).drops_down, 2);
    assert_int_equal(p2p_pause(net, 9, true), P2P_ENOPEER);
    assert_int_equal(p2p_set_peer_addr(net, 9, "127.0.0.1", 1), P2P_ENOPEER);
    assert_int_equal(p2p_set_peer_addr(net, 2, "localhost", 1), P2P_EINVAL); /* numeric only */
    assert_int_equal(p2p_set_peer_addr(net, 2, "127.0.0.1", 70000), P2P_EINVAL);
    assert_int_equal(p2p_set_peer_addr(net, 2, "", 0), 0);
    assert_int_equal(p2p_stats(NULL, NULL, 0, NULL, NULL), P2P_EINVAL);
    size_t n = 99;
    assert_int_equal(p2p_stats(net, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p2p_listen_port(NULL), -1);

    /* Configurations p2p_start refuses, each with a message. */
    tnode *t = &f.n[2];
    char err[256];
    p2p_net *out = (p2p_net *)&err; /* must be set to NULL on failure */
    p2p_peer_config pc[2];
    memset(pc, 0, sizeof pc);
    pc[0].id = 1;
    pc[0].key = f.n[1].pub;
    p2p_config c;
    memset(&c, 0, sizeof c);
    c.key_alg = t->alg;
    memcpy(c.key_secret, t->sec, 32);
    c.key_public = t->pub;
    c.peers = pc;
    c.n_peers = 1;
    snprintf(c.listen_host, sizeof c.listen_host, "127.0.0.1");
    p2p_config bad = c;
    assert_int_equal(p2p_start(&out, &f.loop, NULL, NULL, NULL, err, sizeof err), P2P_EINVAL);
    assert_null(out);
    assert_int_equal(p2p_start(NULL, &f.loop, &c, NULL, NULL, NULL, 0), P2P_EINVAL);
    bad.key_public.key[5] ^= 1; /* public key not matching the secret */
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EKEY);
    assert_true(strlen(err) > 0);
    bad = c;
    bad.key_alg = LDG_SIG_SECP256K1_ECDSA; /* not usable in TLS 1.3 */
    memcpy(bad.key_secret, f.n[3].sec, 32);
    bad.key_public = f.n[3].pub;
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EKEY);
    bad = c;
    pc[1] = pc[0]; /* duplicate peer */
    bad.n_peers = 2;
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    pc[1].id = 3; /* same key under another id */
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    pc[1].key = t->pub; /* our own key */
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    pc[1].key = f.n[1].pub;
    pc[1].key.key[0] ^= 1;
    snprintf(pc[1].host, sizeof pc[1].host, "node3.example"); /* names are not resolved */
    pc[1].port = 7000;
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    bad = c;
    bad.limits.max_message = 1u << 20;
    bad.limits.max_queue = 1u << 20; /* must hold at least one full frame */
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    bad = c;
    bad.limits.handshake_timeout_ms = 1000;
    bad.limits.auth_timeout_ms = 1001; /* the pre-authentication deadline is the shorter */
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    assert_non_null(strstr(err, "auth_timeout_ms"));
    bad = c;
    bad.limits.backoff_min_ms = 1000;
    bad.limits.backoff_max_ms = 10;
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    bad = c;
    snprintf(bad.listen_host, sizeof bad.listen_host, "::zz");
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_EINVAL);
    /* A port in use: P2P_ELISTEN; the listener closes as the loop runs (fx_end checks). */
    bad = c;
    bad.listen_port = f.n[1].port;
    assert_int_equal(p2p_start(&out, &f.loop, &bad, NULL, NULL, err, sizeof err), P2P_ELISTEN);
    assert_null(out);
    assert_true(strstr(err, "cannot listen") != NULL);
    memset(&c, 0, sizeof c);
    memset(&bad, 0, sizeof bad);

    assert_string_equal(p2p_strerror(P2P_EQUEUEFULL), "peer send queue full: message dropped");
    assert_string_equal(p2p_strerror(0), "ok");
    assert_string_equal(p2p_strerror(12345), "unknown error");
    p2p_stop(NULL, NULL);
    fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mesh),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_stop_inside),
        cmocka_unit_test(test_api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
