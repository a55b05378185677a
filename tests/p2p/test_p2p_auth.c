/*
 * Authentication: a connection comes up only between nodes that pin each other's identity
 * keys. An unknown key is refused when it dials and when it is dialled, a known node at the
 * wrong address is refused, a peer dialing against the dialing rule is refused, and a peer of
 * another network is refused at the hello. Refused connections never deliver a message, and
 * the refusal is logged and counted; each failure of authentication (not the dialing rule)
 * is also told to on_auth_failed, naming the peer when known and the remote's address.
 */
#include "tests/p2p/harness.h"

static bool pred_refused_unknown(tfix *f, void *arg)
{
    const uint32_t *w = arg; /* node, count */
    return net_stats(&f->n[w[0]]).refused_unknown >= w[1];
}

static bool pred_peer_refused(tfix *f, void *arg)
{
    const uint32_t *w = arg; /* node, peer, count */
    return peer_stats(&f->n[w[0]], w[1]).refused >= w[2];
}

static void assert_never_up(tnode *t)
{
    for (uint32_t i = 1; i <= MAXN; i++) {
        assert_int_equal(t->ups[i], 0);
        assert_int_equal(t->got[i], 0);
    }
}

/* Node 1's key is not the one node 2 pins for id 1: node 1 dials node 2 and is refused.
 * (Node 1 does not listen, so it is the one that dials.) */
static void test_unknown_dialer(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x81);
    node_key(&f.n[2], LDG_SIG_ED25519, 0x82);
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 100;
    f.n[2].watch = "not pinned for any peer";
    f.n[1].no_listen = true;
    uint32_t p1 = 1, p2 = 2;
    /* Node 2 pins id 1 to another key (node 3's): node 1 is unknown to it. */
    node_key(&f.n[3], LDG_SIG_ED25519, 0x83);
    tnode real1 = f.n[1];
    f.n[1].pub = f.n[3].pub;
    assert_int_equal(node_start(&f, &f.n[2], &p1, 1, false), 0);
    f.n[1] = real1;
    assert_int_equal(node_start(&f, &f.n[1], &p2, 1, true), 0); /* it knows node 2 */

    uint32_t w[] = {2, 3};
    assert_true(run_until(&f, pred_refused_unknown, w, DEADLINE_MS));
    assert_true(f.n[2].watched >= 3);
    assert_true(f.n[2].auth_failed >= 3);
    assert_string_equal(f.n[2].auth_peer, ""); /* unknown to node 2 */
    assert_string_equal(f.n[2].auth_ip, "127.0.0.1");
    assert_non_null(strstr(f.n[2].auth_why, "not pinned for any peer"));
    /* The intruder tries to send as soon as it can: nothing is ever delivered. */
    assert_int_equal(p2p_send(f.n[1].net, 2, 7, (const uint8_t *)"spam", 4), P2P_ENOTCONN);
    run_for(&f, 100);
    assert_never_up(&f.n[1]);
    assert_never_up(&f.n[2]);
    assert_true(peer_stats(&f.n[1], 2).dials >= 3);
    assert_int_equal(peer_stats(&f.n[2], 1).ups, 0);
    assert_int_equal(net_stats(&f.n[2]).pending, 0);
    fx_end(&f);
}

/* Node 1 dials the address it has for node 2, where a node with an unknown key listens.
 * (Node 1 does not listen, so it is the one that dials.) */
static void test_unknown_dialled(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0x91);
    node_key(&f.n[2], LDG_SIG_P256_ECDSA, 0x92);
    node_key(&f.n[3], LDG_SIG_ED25519, 0x93); /* the key node 1 pins for id 2 */
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 100;
    f.n[1].watch = "not the one pinned for it";
    f.n[1].no_listen = true;
    /* The impostor (id 2, its own key) knows node 1's real key and would accept it. */
    uint32_t p1 = 1;
    assert_int_equal(node_start(&f, &f.n[2], &p1, 1, false), 0);
    tnode real2 = f.n[2];
    f.n[2].pub = f.n[3].pub;
    uint32_t p2 = 2;
    assert_int_equal(node_start(&f, &f.n[1], &p2, 1, true), 0);
    f.n[2] = real2;

    uint32_t w[] = {1, 2, 3};
    assert_true(run_until(&f, pred_peer_refused, w, DEADLINE_MS));
    assert_true(f.n[1].watched >= 3);
    assert_true(f.n[1].auth_failed >= 3);
    assert_non_null(strstr(f.n[1].auth_why, "not the one pinned for it"));
    assert_string_equal(f.n[1].auth_ip, "127.0.0.1");
    assert_true(f.n[1].auth_peer[0]); /* the peer it meant to dial */
    run_for(&f, 100);
    assert_never_up(&f.n[1]);
    assert_never_up(&f.n[2]);
    /* The impostor saw its handshakes fail (node 1 aborted them with an alert). */
    assert_true(net_stats(&f.n[2]).handshake_failed >= 1);
    assert_int_equal(f.n[2].auth_failed, (int)net_stats(&f.n[2]).handshake_failed);
    assert_non_null(strstr(f.n[2].auth_why, "TLS handshake with"));
    assert_int_equal(net_stats(&f.n[2]).pending, 0);
    fx_end(&f);
}

/* A known node at the wrong address: node 1 has node 3's address for node 2. Node 3 is a
 * legitimate member (node 1 pins its key, as id 3), but it is not node 2. Node 1 does not
 * listen, so it dials both. */
static void test_wrong_key_at_address(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0xa1);
    node_key(&f.n[2], LDG_SIG_ED25519, 0xa2);
    node_key(&f.n[3], LDG_SIG_P256_ECDSA, 0xa3);
    f.n[1].no_listen = true;
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 100;
    uint32_t p3[] = {1};
    assert_int_equal(node_start(&f, &f.n[3], p3, 1, false), 0);
    f.n[2].port = f.n[3].port; /* node 1 will dial "node 2" at node 3's address */
    uint32_t p1[] = {2, 3};
    assert_int_equal(node_start(&f, &f.n[1], p1, 2, true), 0);

    uint32_t w[] = {1, 2, 3};
    assert_true(run_until(&f, pred_peer_refused, w, DEADLINE_MS));
    /* The real link between 1 and 3 comes up and stays up, untouched by the refusals. */
    uint32_t u13[] = {1, 3, 1}, u31[] = {3, 1, 1};
    assert_true(run_until(&f, pred_ups, u13, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, u31, DEADLINE_MS));
    uint32_t w2[] = {1, 2, 5};
    assert_true(run_until(&f, pred_peer_refused, w2, DEADLINE_MS));
    assert_int_equal(f.n[1].ups[2], 0);
    assert_int_equal(f.n[1].downs[3] + f.n[3].downs[1], 0);
    assert_int_equal(peer_stats(&f.n[1], 3).ups, 1);
    uint32_t s = 0;
    send_seq(&f.n[1], 3, 64, 5, &s);
    uint32_t g[] = {3, 1, 5};
    assert_true(run_until(&f, pred_got, g, DEADLINE_MS));
    assert_int_equal(f.n[3].bad, 0);
    fx_end(&f);
}

/* Node 2 does not listen, so it dials node 1 although its key is higher; node 1 has an
 * address for node 2 and the lower key, so it believes it is the dialer: it refuses the
 * inbound connection. */
static void test_dial_rule(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0xb1);
    node_key(&f.n[2], LDG_SIG_P256_ECDSA, 0xb2);
    assert_true(key_less(&f.n[1], &f.n[2]));
    f.n[2].lim.backoff_min_ms = 20;
    f.n[2].lim.backoff_max_ms = 100;
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 100;
    f.n[1].watch = "this node dials it";
    f.n[2].no_listen = true;
    f.n[2].port = 9; /* an address node 1 will dial in vain (discard port, nothing listens) */
    uint32_t p1 = 2;
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, true), 0);
    uint32_t p2 = 1;
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, true), 0);
    assert_int_equal(p2p_listen_port(f.n[2].net), -1);
    uint32_t w[] = {1, 2, 2};
    assert_true(run_until(&f, pred_peer_refused, w, DEADLINE_MS));
    assert_true(f.n[1].watched >= 2);
    assert_never_up(&f.n[1]);
    assert_never_up(&f.n[2]);
    assert_int_equal(f.n[1].auth_failed + f.n[2].auth_failed, 0); /* no failed authentication */

    /* Without an address for node 2, node 1 accepts it: the pair connects. */
    assert_int_equal(p2p_set_peer_addr(f.n[1].net, 2, "", 0), 0);
    uint32_t u12[] = {1, 2, 1}, u21[] = {2, 1, 1};
    assert_true(run_until(&f, pred_ups, u12, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, u21, DEADLINE_MS));
    uint32_t s = 0;
    send_seq(&f.n[1], 2, 10, 3, &s);
    uint32_t g[] = {2, 1, 3};
    assert_true(run_until(&f, pred_got, g, DEADLINE_MS));
    fx_end(&f);
}

/* Same keys, different network names: refused at the hello. The accepting side reads the
 * dialer's hello first and refuses (its own hello never leaves); the dialer sees the
 * connection close before it is up. */
static void test_other_network(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0xc1);
    node_key(&f.n[2], LDG_SIG_P256_ECDSA, 0xc2);
    assert_true(key_less(&f.n[1], &f.n[2])); /* node 1 dials */
    f.n[1].lim.backoff_min_ms = 20;
    f.n[1].lim.backoff_max_ms = 100;
    snprintf(f.n[2].network, sizeof f.n[2].network, "fwl-other");
    uint32_t p2 = 1, p1 = 2;
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, false), 0);
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, true), 0);
    f.n[2].watch = "another network";
    uint32_t w2[] = {2, 1, 2};
    assert_true(run_until(&f, pred_peer_refused, w2, DEADLINE_MS));
    assert_true(f.n[2].watched >= 2);
    assert_true(f.n[2].auth_failed >= 2);
    assert_non_null(strstr(f.n[2].auth_why, "another network"));
    assert_true(peer_stats(&f.n[1], 2).dials >= 2);
    assert_never_up(&f.n[1]);
    assert_never_up(&f.n[2]);
    fx_end(&f);
}

/* The longest network name, a chain id of 64 bytes (the genesis allows as many), connects:
 * the hello carries it whole (P2P_NETWORK_MAX had no room for its last byte). */
static void test_longest_network(void **state)
{
    (void)state;
    tfix f;
    fx_init(&f);
    node_key(&f.n[1], LDG_SIG_ED25519, 0xd1);
    node_key(&f.n[2], LDG_SIG_ED25519, 0xd2);
    for (int i = 1; i <= 2; i++) {
        memset(f.n[i].network, 'n', sizeof f.n[i].network - 1);
        f.n[i].network[sizeof f.n[i].network - 1] = '\0';
        assert_int_equal(strlen(f.n[i].network), 64);
    }
    uint32_t p1 = 2, p2 = 1;
    assert_int_equal(node_start(&f, &f.n[1], &p1, 1, true), 0);
    assert_int_equal(node_start(&f, &f.n[2], &p2, 1, true), 0);
    uint32_t u12[] = {1, 2, 1}, u21[] = {2, 1, 1};
    assert_true(run_until(&f, pred_ups, u12, DEADLINE_MS));
    assert_true(run_until(&f, pred_ups, u21, DEADLINE_MS));
    fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_dialer),
        cmocka_unit_test(test_unknown_dialled),
        cmocka_unit_test(test_wrong_key_at_address),
        cmocka_unit_test(test_dial_rule),
        cmocka_unit_test(test_other_network),
        cmocka_unit_test(test_longest_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
