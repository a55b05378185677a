/*
 * Throughput and latency between two nodes on loopback, each in its own process (the
 * receiver is a forked child with its own loop), so that each side's TLS runs on its own
 * core as it would between two fwledgerd processes.
 *
 * Measures: bulk (1 MiB messages, MB/s of payload), small messages (200 B, msgs/s) and the
 * round trip of a 200 B ping-pong (p50/p99). Every phase ends with the receiver's count of
 * what it got, so nothing is timed that did not arrive.
 *
 * `make unit` runs a short version that checks the counts and prints the figures;
 * P2P_BENCH=1 runs the long one (256 MiB bulk, 1M small messages, 20k round trips).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/p2p/harness.h"

enum { T_BULK = 1, T_SMALL = 2, T_PING = 3, T_PONG = 4, T_END = 9, T_QUIT = 10 };

/* ---------------------------------------------------------------------------------------- */
/* The receiver (child process)                                                              */

typedef struct {
    tnode *t;
    uint64_t msgs, bytes;
    bool quit;
} rx_state;

static void rx_message(void *ctx, uint32_t peer, uint8_t type, const uint8_t *data, size_t len)
{
    rx_state *r = ctx;
    switch (type) {
    case T_BULK:
    case T_SMALL:
        r->msgs++;
        r->bytes += len;
        break;
    case T_PING:
        (void)p2p_send(r->t->net, peer, T_PONG, data, len);
        break;
    case T_END: {
        uint8_t rep[16];
        for (int i = 0; i < 8; i++) {
            rep[i] = (uint8_t)(r->msgs >> (56 - 8 * i));
            rep[8 + i] = (uint8_t)(r->bytes >> (56 - 8 * i));
        }
        (void)p2p_send(r->t->net, peer, T_END, rep, sizeof rep);
        r->msgs = r->bytes = 0;
        break;
    }
    case T_QUIT:
        r->quit = true;
        break;
    }
}

static void rx_log(void *ctx, const char *line) { (void)ctx, (void)line; }

static bool pred_quit(tfix *f, void *arg)
{
    (void)f;
    return ((rx_state *)arg)->quit;
}

static void child_main(tnode *parent, int parent_port)
{
    alarm(300); /* never outlive a failed parent */
    tfix f;
    fx_init(&f);
    tnode *t = &f.n[2];
    node_key(t, LDG_SIG_ED25519, 0xe2);
    rx_state r = {t, 0, 0, false};
    p2p_config c;
    p2p_peer_config pc;
    memset(&c, 0, sizeof c);
    memset(&pc, 0, sizeof pc);
    c.key_alg = t->alg;
    memcpy(c.key_secret, t->sec, 32);
    c.key_public = t->pub;
    pc.id = 1;
    pc.key = parent->pub;
    snprintf(pc.host, sizeof pc.host, "127.0.0.1");
    pc.port = parent_port;
    c.peers = &pc;
    c.n_peers = 1; /* no listen address: this side dials */
    snprintf(c.network, sizeof c.network, "fwl-bench");
    p2p_callbacks cb = {rx_message, NULL, NULL, rx_log};
    if (p2p_start(&t->net, &f.loop, &c, &cb, &r, NULL, 0) != 0)
        _exit(2);
    bool ok = run_until(&f, pred_quit, &r, 280000);
    p2p_stop(t->net, NULL);
    t->net = NULL;
    uv_close((uv_handle_t *)&f.hb, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    _exit(ok && uv_loop_close(&f.loop) == 0 ? 0 : 3);
}

/* ---------------------------------------------------------------------------------------- */
/* The sender (this process)                                                                 */

typedef struct {
    tnode *t;
    bool up, down;
    bool end;
    uint64_t end_msgs, end_bytes;
    bool pong;
} tx_state;

static void tx_message(void *ctx, uint32_t peer, uint8_t type, const uint8_t *data, size_t len)
{
    (void)peer;
    tx_state *s = ctx;
    if (type == T_PONG) {
        s->pong = true;
    } else if (type == T_END && len == 16) {
        s->end_msgs = s->end_bytes = 0;
        for (int i = 0; i < 8; i++) {
            s->end_msgs = s->end_msgs << 8 | data[i];
            s->end_bytes = s->end_bytes << 8 | data[8 + i];
        }
        s->end = true;
    }
}

static void tx_up(void *ctx, uint32_t peer)
{
    (void)peer;
    ((tx_state *)ctx)->up = true;
}

static void tx_down(void *ctx, uint32_t peer)
{
    (void)peer;
    ((tx_state *)ctx)->down = true;
}

static bool pred_flag(tfix *f, void *arg)
{
    (void)f;
    return *(bool *)arg;
}

/* Send n messages of len bytes, waiting on the loop whenever the queue is full. */
static void send_n(tfix *f, tx_state *s, uint8_t type, const uint8_t *buf, size_t len, uint64_t n)
{
    for (uint64_t i = 0; i < n;) {
        int rc = p2p_send(s->t->net, 2, type, buf, len);
        if (rc == 0) {
            i++;
            continue;
        }
        assert_int_equal(rc, P2P_EQUEUEFULL);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

/* Send n messages and wait for the receiver's count; returns seconds. */
static double phase(tfix *f, tx_state *s, uint8_t type, size_t len, uint64_t n)
{
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    uint64_t t0 = uv_hrtime();
    send_n(f, s, type, buf, len, n);
    s->end = false;
    assert_int_equal(p2p_send(s->t->net, 2, T_END, NULL, 0), 0);
    assert_true(run_until(f, pred_flag, &s->end, 240000));
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    assert_int_equal(s->end_msgs, n);
    assert_int_equal(s->end_bytes, n * len);
    free(buf);
    return secs;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_bench(void **state)
{
    (void)state;
    bool full = getenv("P2P_BENCH") != NULL;
    uint64_t n_bulk = full ? 256 : 32, n_small = full ? 1000000 : 50000;
    size_t n_rtt = full ? 20000 : 1000;

    tfix f;
    fx_init(&f);
    tnode *t = &f.n[1];
    node_key(t, LDG_SIG_ED25519, 0xe1);
    node_key(&f.n[2], LDG_SIG_ED25519, 0xe2);
    tx_state s = {t, false, false, false, 0, 0, false};
    p2p_config c;
    p2p_peer_config pc;
    memset(&c, 0, sizeof c);
    memset(&pc, 0, sizeof pc);
    c.key_alg = t->alg;
    memcpy(c.key_secret, t->sec, 32);
    c.key_public = t->pub;
    snprintf(c.listen_host, sizeof c.listen_host, "127.0.0.1");
    pc.id = 2;
    pc.key = f.n[2].pub;
    c.peers = &pc;
    c.n_peers = 1;
    snprintf(c.network, sizeof c.network, "fwl-bench");
    p2p_callbacks cb = {tx_message, tx_up, tx_down, rx_log};
    assert_int_equal(p2p_start(&t->net, &f.loop, &c, &cb, &s, NULL, 0), 0);
    int port = p2p_listen_port(t->net);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_main(t, port);

    bool ok = run_until(&f, pred_flag, &s.up, DEADLINE_MS);
    if (!ok)
        kill(pid, SIGKILL);
    assert_true(ok);

    double secs = phase(&f, &s, T_BULK, 1u << 20, n_bulk);
    double mbs = (double)n_bulk / secs; /* MiB/s */
    secs = phase(&f, &s, T_SMALL, 200, n_small);
    double mps = (double)n_small / secs;

    uint64_t *rtt = calloc(n_rtt, sizeof *rtt);
    assert_non_null(rtt);
    uint8_t ping[200] = {0};
    for (size_t i = 0; i < n_rtt; i++) {
        s.pong = false;
        uint64_t t0 = uv_hrtime();
        assert_int_equal(p2p_send(t->net, 2, T_PING, ping, sizeof ping), 0);
        assert_true(run_until(&f, pred_flag, &s.pong, DEADLINE_MS));
        rtt[i] = uv_hrtime() - t0;
    }
    qsort(rtt, n_rtt, sizeof *rtt, cmp_u64);
    double p50 = (double)rtt[n_rtt / 2] / 1e3, p99 = (double)rtt[n_rtt * 99 / 100] / 1e3;
    free(rtt);

    printf("p2p bench (2 processes, loopback, TLS 1.3 %s):\n"
           "  bulk:  %llu x 1 MiB  %.0f MiB/s\n"
           "  small: %llu x 200 B  %.0f msgs/s (%.1f MB/s)\n"
           "  round trip 200 B: p50 %.0f us, p99 %.0f us (%zu samples)\n",
           "AES-128-GCM, Ed25519", (unsigned long long)n_bulk, mbs,
           (unsigned long long)n_small, mps, mps * 200 / 1e6, p50, p99, n_rtt);
    fflush(stdout);

    assert_int_equal(p2p_send(t->net, 2, T_QUIT, NULL, 0), 0);
    assert_true(run_until(&f, pred_flag, &s.down, DEADLINE_MS));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    p2p_stop(t->net, NULL);
    t->net = NULL;
    fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
