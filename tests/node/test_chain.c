/*
 * The chain component (node/daemon/chain.h: the consensus driver, blocks, sync) of several
 * nodes in one process, against a fake clock and a fake network: in the spirit of the
 * consensus simulator (tests/consensus/sim.c), but with the real driver, real LMDB stores,
 * real vote records and real mempools (verification inline) in place of the engine alone.
 *
 * Each node has its own data directory (under /dev/shm when it exists), store, genesis copy,
 * mempool and chain component; the component's seams (cfg.send, cfg.now_ms,
 * cfg.inline_verify, node_chain_on_message, node_chain_peer_up, node_chain_fire_timers) take
 * the place of p2p, the wall clock and the thread pool. Every event (a message delivered, a
 * timer due, the 100 ms tick, a tx submitted, a crash, a restart, a partition) goes through
 * one priority queue ordered by (time, sequence), and every random choice comes from the
 * seed (splitmix64): a seed replays exactly.
 *
 * Scenarios, each over many seeds:
 *   agree      4 validators and a replica, small delays: every tx submitted (to random nodes)
 *              commits exactly once, every store holds the same block at every height;
 *   faults     the same with drops and duplicates of every message type and long delays;
 *   partition  one validator cut off for a while: the others go on, it catches up by sync;
 *   crash      one validator's component and store closed and reopened on the same data
 *              directory mid-height: its vote record keeps it from signing two different
 *              things for one (height, round, step) (every message signed by a validator is
 *              checked against all it signed before), and it catches up by sync.
 * Every scenario ends with all nodes at the same tip, every tx committed once at every node,
 * every waiter of the nodes that kept running settled with 0, and no double signature.
 *
 * Longer runs: test_chain [--scenario agree|faults|partition|crash] [--seeds N] [--first S]
 * [--verbose] (the nodes' logs to stderr) [--lossy] (lose single messages, keeping their
 * connection, which p2p's TCP never does: sync's known stall, see docs/testing.md).
 */
#include "tests/ledger/store_helpers.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include <pb_decode.h>

#include "node/client/client.h"
#include "node/daemon/chain.h"
#include "node/daemon/mempool.h"
#include "tests/consensus/splitmix.h"

#define NV 4         /* validators                                   */
#define NN 5         /* and a replica                                */
#define REPLICA_ID 1000u
#define NTX 24       /* txs per run: one author each (nonce 1), so no order between them */
#define SIGNED_MAX 4096
#define T0 UINT64_C(1700000000000)/* the fake clock at the start (ms since the epoch) */
#define CRASH_LATEST_MS 4000
#define LATE_TXS 4

typedef enum { SC_AGREE, SC_FAULTS, SC_PARTITION, SC_CRASH } scenario;
static const char *const sc_name[] = {"agree", "faults", "partition", "crash"};

typedef enum {
    EV_MSG, EV_TIMER, EV_TICK, EV_SUBMIT, EV_CRASH, EV_RESTART, EV_CUT, EV_HEAL, EV_RECONNECT
} ev_kind;

typedef struct {
    uint64_t at, seq;
    ev_kind kind;
    int to, from;
    uint8_t type;
    uint32_t epoch;  /* of its link when sent: a message outlives no connection */
    uint8_t *data;
    size_t len;
} event;

typedef struct {
    int idx;
    uint32_t id;            /* its peer id: validator index, REPLICA_ID for the replica */
    char dir[128];
    node_config cfg;
    node_key vkey;
    ldg_store *store;
    node_mempool mp;
    node_chain ch;
    uv_loop_t loop;
    bool up, kick;
    uint64_t timer_at;      /* the TIMER event queued for it (0: none)                   */
    bool crashed_once;      /* its waiters were lost with its component                   */
} node;

/* What a validator signed: (validator, height, round, step) and the value (or the proposal's
 * block). A second, different one is a double signature. */
typedef struct {
    uint32_t v, round;
    uint8_t step; /* 0: proposal */
    bool nil;
    uint64_t height;
    uint8_t value[LDG_DIGEST_LEN];
} signed_msg;

static key vkeys[NV], authors[NTX];
static rawtx txs[NTX];
static char root[96];

static struct {
    scenario sc;
    uint64_t seed, rng, now, seq, events;
    node n[NN];
    event *heap;
    size_t nheap, capheap;
    /* network: a message is dropped with drop_pm / 1000, sent twice with dup_pm / 1000, and
     * takes delay_min..delay_max ms */
    uint32_t drop_pm, dup_pm, delay_min, delay_max;
    uint64_t link_at[NN][NN]; /* the last delivery queued on each link (from, to)       */
    bool redialing[NN][NN];   /* the link (a < b) lost its connection and is reconnecting */
    uint32_t epoch[NN][NN];   /* its connection (a < b): bumped when one is lost          */
    bool lossy;               /* lose single messages and keep the connection (which TCP
                                 never does): --lossy, not in make check                  */
    int cut;                  /* the node cut off from the others, -1: none */
    int victim;               /* the node the scenario crashes or cuts      */
    uint64_t crash_armed;     /* from then on the victim crashes right after it signs (the
                                 worst moment for its vote record), at the latest at
                                 crash_armed + CRASH_LATEST_MS; 0: not armed */
    bool crash_on_proposal;   /* only after it signs a proposal (else any signature)     */
    uint64_t restart_after;   /* and restarts this long after the crash */
    bool late_pending;        /* the last LATE_TXS txs wait for the victim's return: the
                                 heights they make show it is back in consensus */
    int submitted_to[NTX];
    uint32_t settled_ok[NTX], settled_bad[NTX];
    signed_msg sig[SIGNED_MAX];
    size_t nsig;
    char why[512];
    bool failed;
} sim;

static bool verbose, lossy;

static uint64_t rnd(void) { return splitmix64(&sim.rng); }
static uint64_t rnd_in(uint64_t lo, uint64_t hi) { return lo + rnd() % (hi - lo + 1); }
static bool chance(uint32_t pm) { return rnd() % 1000 < pm; }

static void sim_fail(const char *fmt, ...)
{
    if (sim.failed)
        return;
    sim.failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim.why, sizeof sim.why, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------- */
/* The event queue: a binary heap on (at, seq)                                               */

static bool ev_less(const event *a, const event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void push(event e)
{
    if (sim.nheap == sim.capheap) {
        sim.capheap = sim.capheap ? sim.capheap * 2 : 1024;
        sim.heap = realloc(sim.heap, sim.capheap * sizeof *sim.heap);
        assert_non_null(sim.heap);
    }
    e.seq = sim.seq++;
    size_t i = sim.nheap++;
    while (i && ev_less(&e, &sim.heap[(i - 1) / 2])) {
        sim.heap[i] = sim.heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    sim.heap[i] = e;
}

static event pop(void)
{
    event top = sim.heap[0], last = sim.heap[--sim.nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= sim.nheap)
            break;
        if (c + 1 < sim.nheap && ev_less(&sim.heap[c + 1], &sim.heap[c]))
            c++;
        if (!ev_less(&sim.heap[c], &last))
            break;
        sim.heap[i] = sim.heap[c];
        i = c;
    }
    if (sim.nheap)
        sim.heap[i] = last;
    return top;
}

static void at(uint64_t t, ev_kind k, int to)
{
    push((event){.at = t, .kind = k, .to = to, .from = -1});
}

/* ---------------------------------------------------------------------------------------- */
/* The fake network                                                                          */

static int node_of(int64_t peer)
{
    if (peer >= 0 && peer < NV)
        return (int)peer;
    return peer == REPLICA_ID ? NV : -1;
}

static bool linked(int a, int b)
{
    return a != b && sim.cut != a && sim.cut != b;
}

/* Everything a validator signs of its own goes out as a broadcast: check it against what it
 * signed before. (It also forwards others' votes: only its own are judged here.) */
static void check_signed(const node *from, uint8_t type, const uint8_t *data, size_t len)
{
    signed_msg s;
    memset(&s, 0, sizeof s);
    pb_istream_t st = pb_istream_from_buffer(data, len);
    if (type == P2P_T_VOTE) {
        fwl_VoteMsg m = fwl_VoteMsg_init_zero;
        if (!pb_decode(&st, fwl_VoteMsg_fields, &m)) {
            sim_fail("node %d sent an undecodable vote", from->idx);
            return;
        }
        if (m.validator != from->id)
            return;
        s.v = m.validator, s.height = m.height, s.round = m.round, s.step = (uint8_t)m.step;
        s.nil = m.nil;
        memcpy(s.value, m.value.bytes, m.value.size);
    } else if (type == P2P_T_PROPOSAL) {
        fwl_ProposalMsg m = fwl_ProposalMsg_init_zero;
        if (!pb_decode(&st, fwl_ProposalMsg_fields, &m)) {
            sim_fail("node %d sent an undecodable proposal", from->idx);
            return;
        }
        if (m.proposer != from->id) {
            sim_fail("node %d sent a proposal as validator %u", from->idx, m.proposer);
            return;
        }
        s.v = m.proposer, s.height = m.height, s.round = m.round, s.step = 0;
        memcpy(s.value, m.block_hash.bytes, m.block_hash.size);
    } else {
        return;
    }
    for (size_t i = 0; i < sim.nsig; i++) {
        const signed_msg *o = &sim.sig[i];
        if (o->v == s.v && o->height == s.height && o->round == s.round && o->step == s.step) {
            if (o->nil != s.nil || memcmp(o->value, s.value, LDG_DIGEST_LEN))
                sim_fail("validator %u signed two different %s at height %" PRIu64 " round %u",
                     s.v, s.step == 0 ? "proposals" : s.step == CNS_PREVOTE ? "prevotes"
                                                                          : "precommits",
                     s.height, s.round);
            return;
        }
    }
    if (sim.nsig < SIGNED_MAX)
        sim.sig[sim.nsig++] = s;
}

static void deliver_later(int from, int to, uint8_t type, const uint8_t *data, size_t len)
{
    int a = from < to ? from : to, b = from < to ? to : from;
    if (!linked(from, to) || (sim.redialing[a][b] && !sim.lossy))
        return; /* (p2p_send to a peer that is down fails) */
    if (chance(sim.drop_pm)) {
        /* p2p loses messages with their connection: this one, those still on their way,
         * those sent until the peers have reconnected and said hello again
         * (node_chain_peer_up). (--lossy: this one only.) */
        if (!sim.redialing[a][b]) {
            sim.redialing[a][b] = true;
            sim.epoch[a][b] += !sim.lossy;
            push((event){.at = sim.now + rnd_in(50, 500), .kind = EV_RECONNECT, .to = b,
                         .from = a});
        }
        return;
    }
    int copies = chance(sim.dup_pm) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        /* Each link keeps its order, as p2p's connections do (a proposal's block comes
         * before the proposal on the same connection: the driver relies on it) */
        uint64_t t = sim.now + rnd_in(sim.delay_min, sim.delay_max);
        if (t < sim.link_at[from][to])
            t = sim.link_at[from][to];
        sim.link_at[from][to] = t;
        event e = {.at = t, .kind = EV_MSG, .to = to, .from = from, .type = type, .len = len,
                   .epoch = sim.epoch[a][b]};
        e.data = malloc(len ? len : 1);
        assert_non_null(e.data);
        memcpy(e.data, data, len);
        push(e);
    }
}

static int net_send(void *ctx, int64_t peer, uint8_t type, const uint8_t *data, size_t len)
{
    node *n = ctx;
    if (n->ch.self >= 0)
        check_signed(n, type, data, len);
    if (n->idx == sim.victim && sim.crash_armed && sim.now >= sim.crash_armed &&
        (type == P2P_T_PROPOSAL || (type == P2P_T_VOTE && !sim.crash_on_proposal))) {
        sim.crash_armed = 0;
        at(sim.now, EV_CRASH, n->idx); /* after the event that made it sign */
    }
    if (peer >= 0) {
        int to = node_of(peer);
        if (to < 0) {
            sim_fail("node %d sent to an unknown peer %" PRId64, n->idx, peer);
            return -1;
        }
        deliver_later(n->idx, to, type, data, len);
        return 0;
    }
    for (int to = 0; to < NN; to++)
        if (to != n->idx)
            deliver_later(n->idx, to, type, data, len);
    return 0;
}

/* Both ends of a link learn the other is up (p2p's on_peer_up after a connection). */
static void link_up(int a, int b)
{
    if (sim.n[a].up && sim.n[b].up && linked(a, b)) {
        node_chain_peer_up(&sim.n[a].ch, sim.n[b].id);
        node_chain_peer_up(&sim.n[b].ch, sim.n[a].id);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Nodes                                                                                     */

static uint64_t clock_ms(void *ctx)
{
    (void)ctx;
    return sim.now;
}

static void mp_submitted(void *ctx, node_reply_to to, const node_mempool_verdict *v)
{
    node *n = ctx;
    if (to.slot != NODE_NO_CLIENT && v->rc)
        sim_fail("node %d refused tx %" PRIu64 ": %s %s", n->idx, to.id, node_strerror(v->rc),
                 v->why);
}

static void mp_admitted(void *ctx, const uint8_t *raw, size_t len,
                        const uint8_t raw_hash[LDG_DIGEST_LEN])
{
    node *n = ctx;
    node_chain_tx_admitted(&n->ch, raw, len, raw_hash);
}

static void mp_settled(void *ctx, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    (void)ctx, (void)hash;
    if (to.id >= NTX) {
        sim_fail("a waiter of an unknown tx settled");
        return;
    }
    if (code)
        sim.settled_bad[to.id]++;
    else
        sim.settled_ok[to.id]++;
}

static void mp_verified(void *ctx)
{
    node *n = ctx;
    n->kick = true; /* (after the current event: not from inside the mempool's flush) */
}

static void node_open(node *n)
{
    char err[256] = "";
    assert_int_equal(ldg_store_open(&n->store, n->dir, &G, 1 << 26), 0);
    node_mempool_config mc = {.max = 1000, .g = &G, .store = n->store, .loop = NULL};
    node_mempool_events ev = {mp_submitted, mp_admitted, mp_settled, mp_verified, n};
    assert_int_equal(node_mempool_init(&n->mp, &mc, &ev), 0);
    assert_int_equal(uv_loop_init(&n->loop), 0);
    node_chain_config cc = {.loop = &n->loop, .node = &n->cfg, .g = &G, .store = n->store,
                            .vkey = n->idx < NV ? &n->vkey : NULL, .mp = &n->mp,
                            .now_ms = clock_ms, .send = net_send, .inline_verify = true,
                            .ctx = n};
    int rc = node_chain_init(&n->ch, &cc, err, sizeof err);
    if (rc)
        sim_fail("node %d: init: %s", n->idx, err);
    assert_int_equal(rc, 0);
    assert_int_equal(node_chain_start(&n->ch, err, sizeof err), 0);
    n->up = true;
    n->timer_at = 0;
}

static void node_shut(node *n)
{
    if (!n->up)
        return;
    n->up = false;
    node_mempool_stop(&n->mp);
    node_chain_stop(&n->ch);
    uv_run(&n->loop, UV_RUN_NOWAIT); /* the timers' close callbacks */
    assert_int_equal(uv_loop_close(&n->loop), 0);
    node_chain_close(&n->ch);
    node_mempool_close(&n->mp);
    ldg_store_close(n->store);
    n->store = NULL;
}

/* After an event at n: a kick the mempool asked for, and its next timer. */
static void settle_node(node *n)
{
    if (!n->up)
        return;
    if (n->kick) {
        n->kick = false;
        node_chain_kick(&n->ch);
    }
    uint64_t due = node_chain_timer_due(&n->ch);
    if (due == UINT64_MAX)
        return;
    if (due < sim.now)
        due = sim.now;
    if (!n->timer_at || due < n->timer_at) {
        n->timer_at = due;
        at(due, EV_TIMER, n->idx);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* A run                                                                                     */

static uint64_t tip_of(node *n);

static void sim_setup(scenario sc, uint64_t seed)
{
    memset(&sim, 0, sizeof sim);
    sim.sc = sc;
    sim.seed = seed;
    sim.rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)sc;
    sim.now = T0;
    sim.cut = sim.victim = -1;
    sim.lossy = lossy;
    sim.delay_min = 1, sim.delay_max = 20;
    if (sc == SC_FAULTS) {
        sim.drop_pm = (uint32_t)rnd_in(lossy ? 20 : 2, lossy ? 200 : 20);
        sim.dup_pm = (uint32_t)rnd_in(20, 300);
        sim.delay_max = (uint32_t)rnd_in(20, 400);
    }
    if (sc == SC_CRASH)
        sim.victim = (int)rnd_in(0, NV - 1);
    if (sc == SC_PARTITION) /* the replica one time in three: its txs reach no one else */
        sim.victim = chance(333) ? NN - 1 : (int)rnd_in(0, NV - 1);
    for (int i = 0; i < NN; i++) {
        node *n = &sim.n[i];
        n->idx = i;
        n->id = i < NV ? (uint32_t)i : REPLICA_ID;
        snprintf(n->dir, sizeof n->dir, "%s/n%d", root, i);
        assert_int_equal(mkdir(n->dir, 0700), 0);
        node_config_defaults(&n->cfg);
        snprintf(n->cfg.data_dir, sizeof n->cfg.data_dir, "%s/n%d", root, i);
        n->cfg.sync_batch_blocks = (uint32_t)rnd_in(1, 4); /* several batches per catch-up */
        if (i < NV) {
            n->vkey.alg = vkeys[i].sec.alg;
            memcpy(n->vkey.sec, vkeys[i].sec.sec, sizeof n->vkey.sec);
            n->vkey.pub = vkeys[i].pub;
        }
        node_open(n);
    }
    for (int a = 0; a < NN; a++)
        for (int b = a + 1; b < NN; b++)
            link_up(a, b);
    for (int i = 0; i < NN; i++) {
        at(T0 + 100 + (uint64_t)i * 7, EV_TICK, i);
        settle_node(&sim.n[i]);
    }
    /* the txs, each to a random node (not the victim of a crash: its waiters die with it),
     * in four bursts over the first 3 s (a burst makes blocks of several txs) */
    uint64_t burst[4];
    for (int k = 0; k < 4; k++)
        burst[k] = T0 + 50 + rnd_in(0, 3000);
    sim.late_pending = sc == SC_PARTITION || sc == SC_CRASH;
    for (int t = 0; t < NTX - (sim.late_pending ? LATE_TXS : 0); t++) {
        int to;
        do
            to = (int)rnd_in(0, NN - 1);
        while (sc == SC_CRASH && to == sim.victim);
        sim.submitted_to[t] = to;
        push((event){.at = burst[rnd_in(0, 3)] + rnd_in(0, 30), .kind = EV_SUBMIT, .to = to,
                     .from = t});
    }
    if (sc == SC_PARTITION) {
        uint64_t cut = T0 + rnd_in(0, 3000);
        at(cut, EV_CUT, sim.victim);
        at(cut + rnd_in(1000, 6000), EV_HEAL, sim.victim);
    }
    if (sc == SC_CRASH) {
        sim.crash_armed = T0 + rnd_in(100, 3000);
        sim.crash_on_proposal = chance(700);
        /* back at once (the same height, where a forgotten proposal or vote would be signed
         * again differently: a new block has a new time) or after the others moved on
         * (sync) */
        sim.restart_after = chance(750) ? rnd_in(1, 50) : rnd_in(300, 5000);
        at(sim.crash_armed + CRASH_LATEST_MS, EV_CRASH, sim.victim);
    }
}

/* The victim is back: the late txs go in a little later, to random nodes. */
static void submit_late(void)
{
    if (!sim.late_pending)
        return;
    sim.late_pending = false;
    for (int t = NTX - LATE_TXS; t < NTX - (sim.sc == SC_PARTITION); t++) {
        int to;
        do
            to = (int)rnd_in(0, NN - 1);
        while (sim.sc == SC_CRASH && to == sim.victim);
        sim.submitted_to[t] = to;
        push((event){.at = sim.now + rnd_in(1000, 3000), .kind = EV_SUBMIT, .to = to,
                     .from = t});
    }
}

static void handle(event *e)
{
    node *n = &sim.n[e->to];
    if (verbose && e->kind != EV_MSG && e->kind != EV_TIMER && e->kind != EV_TICK)
        fprintf(stderr, "%6" PRIu64 " ms: %s at node %d\n", sim.now - T0,
                (const char *[]){"", "", "", "submit", "crash", "restart", "cut", "heal", "reconnect"}[e->kind],
                e->to);
    switch (e->kind) {
    case EV_MSG:
        if (n->up && linked(e->from, e->to) &&
            e->epoch == sim.epoch[e->from < e->to ? e->from : e->to]
                                 [e->from < e->to ? e->to : e->from])
            node_chain_on_message(&n->ch, sim.n[e->from].id, e->type, e->data, e->len);
        free(e->data);
        break;
    case EV_TIMER:
        if (e->at == n->timer_at)
            n->timer_at = 0;
        if (n->up)
            node_chain_fire_timers(&n->ch);
        break;
    case EV_TICK:
        if (n->up) {
            node_chain_tick(&n->ch);
            node_mempool_expire(&n->mp, sim.now);
        }
        at(sim.now + 100, EV_TICK, e->to);
        break;
    case EV_SUBMIT: {
        int t = e->from;
        node_reply_to to = {1, 1, (uint64_t)t};
        if (!n->up)
            break;
        assert_int_equal(node_mempool_submit(&n->mp, to, txs[t].buf, txs[t].len), 0);
        node_mempool_flush(&n->mp);
        /* (WaitForTx: the daemon asks the store first; here the tx was just submitted) */
        if (ldg_store_tx_location(n->store, txs[t].hash, &(uint64_t){0}, &(uint32_t){0},
                                  (uint8_t[LDG_DIGEST_LEN]){0}))
            assert_int_equal(node_mempool_wait(&n->mp, to, txs[t].hash, sim.now + 600000), 0);
        else
            sim.settled_ok[t]++;
        break;
    }
    case EV_CRASH:
        if (n->crashed_once)
            break; /* (the latest time, after it crashed on a signature) */
        sim.crash_armed = 0;
        node_shut(n);
        n->crashed_once = true;
        at(sim.now + sim.restart_after, EV_RESTART, e->to);
        break;
    case EV_RESTART:
        node_open(n);
        at(sim.now + 1, EV_HEAL, e->to); /* the peers reconnect */
        break;
    case EV_CUT:
        sim.cut = e->to;
        /* The last tx goes to the victim while it is cut off: admitted there and gossiped
         * to no one, it must reach the others when the links come back. */
        sim.submitted_to[NTX - 1] = e->to;
        push((event){.at = sim.now + rnd_in(1, 500), .kind = EV_SUBMIT, .to = e->to,
                     .from = NTX - 1});
        break;
    case EV_RECONNECT:
        sim.redialing[e->from][e->to] = false;
        link_up(e->from, e->to);
        break;
    case EV_HEAL:
        if (sim.cut == e->to)
            sim.cut = -1;
        for (int i = 0; i < NN; i++)
            link_up(e->to, i);
        submit_late();
        break;
    }
    for (int i = 0; i < NN; i++)
        settle_node(&sim.n[i]);
}

static uint64_t tip_of(node *n)
{
    ldg_tip t;
    assert_int_equal(ldg_store_tip(n->store, &t), 0);
    return t.height;
}

/* Every tx is in every store; the nodes agree on their tips. */
static bool all_done(void)
{
    for (int i = 0; i < NN; i++)
        if (!sim.n[i].up)
            return false;
    uint64_t h0 = tip_of(&sim.n[0]);
    for (int i = 0; i < NN; i++) {
        node *n = &sim.n[i];
        if (!n->up || tip_of(n) != h0 || sim.cut >= 0)
            return false;
        uint64_t h;
        uint32_t idx;
        uint8_t bh[LDG_DIGEST_LEN];
        for (int t = 0; t < NTX; t++)
            if (ldg_store_tx_location(n->store, txs[t].hash, &h, &idx, bh))
                return false;
    }
    return true;
}

/* Agreement and exactly-once, from the stores. */
static void verify_end(void)
{
    uint64_t h0 = tip_of(&sim.n[0]), total = 0;
    for (uint64_t h = 1; h <= h0; h++) {
        uint8_t *blk0, hash0[LDG_DIGEST_LEN];
        size_t len0;
        assert_int_equal(ldg_store_block_by_height(sim.n[0].store, h, &blk0, &len0, hash0), 0);
        ldg_block b;
        assert_int_equal(ldg_block_decode(blk0, len0, &b), 0);
        total += b.n_txs;
        ldg_block_free(&b);
        free(blk0);
        for (int i = 1; i < NN; i++) {
            uint8_t *blk, hash[LDG_DIGEST_LEN];
            size_t len;
            assert_int_equal(ldg_store_block_by_height(sim.n[i].store, h, &blk, &len, hash), 0);
            free(blk);
            if (memcmp(hash, hash0, LDG_DIGEST_LEN))
                sim_fail("nodes 0 and %d hold different blocks at height %" PRIu64, i, h);
        }
    }
    /* The victim of a partition or a crash is back in consensus, not only following: it
     * signed at the last height (made by the late txs). */
    bool signed_last = sim.victim < 0 || sim.victim >= NV; /* a replica signs nothing */
    for (size_t i = 0; i < sim.nsig; i++)
        if (sim.sig[i].v == (uint32_t)sim.victim && sim.sig[i].height == h0)
            signed_last = true;
    if (!signed_last && verbose)
        for (int i = 0; i < NN; i++)
            fprintf(stderr, "node %d: tip %" PRIu64 ", height %" PRIu64 " %s%s, round %u\n", i,
                    tip_of(&sim.n[i]), sim.n[i].ch.height, sim.n[i].ch.started ? "started" : "",
                    sim.n[i].ch.syncing ? " syncing" : "", sim.n[i].ch.tm.round);
    if (!signed_last && verbose)
        for (size_t i = 0; i < sim.nsig; i++)
            fprintf(stderr, "signed: v%u h%" PRIu64 " r%u step %u %s %02x%02x\n", sim.sig[i].v,
                    sim.sig[i].height, sim.sig[i].round, sim.sig[i].step,
                    sim.sig[i].nil ? "nil" : "", sim.sig[i].value[0], sim.sig[i].value[1]);
    if (!signed_last)
        sim_fail("validator %d signed nothing at the last height %" PRIu64, sim.victim, h0);
    if (total != NTX)
        sim_fail("%" PRIu64 " txs in the chain for %d submitted", total, NTX);
    if (h0 < 1)
        sim_fail("nothing committed");
    for (int t = 0; t < NTX; t++) {
        bool lost = sim.n[sim.submitted_to[t]].crashed_once;
        if (sim.settled_bad[t] || (!lost && sim.settled_ok[t] != 1) || sim.settled_ok[t] > 1)
            sim_fail("tx %d: its waiter at node %d settled %u times with 0, %u otherwise", t,
                 sim.submitted_to[t], sim.settled_ok[t], sim.settled_bad[t]);
    }
    for (int i = 0; i < NN; i++) {
        node *n = &sim.n[i];
        if (!n->crashed_once && node_chain_committed_txs(&n->ch) != NTX)
            sim_fail("node %d counted %" PRIu64 " committed txs", i, node_chain_committed_txs(&n->ch));
        if (node_mempool_count(&n->mp))
            sim_fail("node %d still holds %zu txs", i, node_mempool_count(&n->mp));
    }
}

typedef struct {
    uint64_t events, end_ms, height;
} run_stats;

static bool run_one(scenario sc, uint64_t seed, run_stats *rs)
{
    char cmd[160];
    snprintf(root, sizeof root, "%s/fwl-chain-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(root));
    sim_setup(sc, seed);
    uint64_t deadline = T0 + 120000, next_check = T0 + 500;
    while (sim.nheap && !sim.failed) {
        event e = pop();
        sim.now = e.at;
        sim.events++;
        handle(&e);
        if (sim.now >= next_check) {
            next_check = sim.now + 250;
            if (sim.now > T0 + 3000 && all_done())
                break;
            if (sim.now > deadline) {
                char tips[256] = "";
                for (int i = 0; i < NN; i++)
                    snprintf(tips + strlen(tips), sizeof tips - strlen(tips),
                             " %" PRIu64 "(%zu jobs, %zu pooled)",
                             sim.n[i].up ? tip_of(&sim.n[i]) : 0,
                             sim.n[i].up ? sim.n[i].ch.n_jobs : 0,
                             sim.n[i].up ? node_mempool_count(&sim.n[i].mp) : 0);
                sim_fail("no end after %" PRIu64 " ms: tips (sync jobs held, txs in the "
                         "mempool)%s", sim.now - T0, tips);
            }
        }
    }
    if (!sim.failed)
        verify_end();
    rs->events = sim.events;
    rs->end_ms = sim.now - T0;
    rs->height = sim.n[0].up ? tip_of(&sim.n[0]) : 0;
    while (sim.nheap) {
        event e = pop();
        if (e.kind == EV_MSG)
            free(e.data);
    }
    free(sim.heap);
    sim.heap = NULL;
    for (int i = 0; i < NN; i++)
        node_shut(&sim.n[i]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    return !sim.failed;
}

/* ---------------------------------------------------------------------------------------- */

static void keys_setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    mkkey(&admin, LDG_SIG_ED25519, 1);
    mkkey(&admin2, LDG_SIG_ED25519, 2);
    for (int i = 0; i < NV; i++)
        mkkey(&vkeys[i], LDG_SIG_SECP256K1_SCHNORR, (uint8_t)(10 + i));
    make_genesis();
    G.n_validators = NV;
    for (int i = 0; i < NV; i++) {
        G.validators[i] = vkeys[i].pub;
        G.validator_power[i] = 1;
    }
    G.n_authors = NTX;
    for (int t = 0; t < NTX; t++) {
        mkkey(&authors[t], LDG_SIG_SECP256K1_SCHNORR, (uint8_t)(100 + t));
        snprintf(G.authors[t].product, sizeof G.authors[t].product, "fw-%d", t);
        snprintf(G.authors[t].name, sizeof G.authors[t].name, "Maker %d", t);
        G.authors[t].key = authors[t].pub;
    }
    for (int t = 0; t < NTX; t++) {
        char product[16];
        snprintf(product, sizeof product, "fw-%d", t);
        publish_tx(&txs[t], &authors[t], 1, product, "1.0.0", 1, (uint8_t)t, "cam-v1");
    }
}

/* Quiet unless asked: a run logs every sync and restart. */
static int quiet(void)
{
    if (verbose)
        return -1;
    fflush(stderr);
    int saved = dup(2);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        dup2(fileno(null), 2);
        fclose(null);
    }
    return saved;
}

static void loud(int saved)
{
    if (saved < 0)
        return;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static unsigned run_seeds(scenario sc, uint64_t first, uint64_t n, bool report)
{
    unsigned failures = 0;
    uint64_t events = 0, heights = 0, max_end = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t s = first; s < first + n; s++) {
        run_stats rs;
        int saved = quiet();
        bool ok = run_one(sc, s, &rs);
        loud(saved);
        events += rs.events, heights += rs.height;
        if (rs.end_ms > max_end)
            max_end = rs.end_ms;
        if (!ok) {
            failures++;
            printf("%s seed %" PRIu64 ": FAIL: %s\n", sc_name[sc], s, sim.why);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (report)
        printf("%s: %" PRIu64 " seeds from %" PRIu64 ", %u failed; %" PRIu64 " events, %.1f "
               "heights on average, longest run %" PRIu64 " ms simulated; %.2f s\n",
               sc_name[sc], n, first, failures, events, n ? (double)heights / (double)n : 0,
               max_end,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return failures;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

/* Seeds in `make check` per scenario (CHAIN_SEEDS overrides). */
#define CHECK_SEEDS 50

static void test_agree(void **st)
{
    (void)st;
    assert_int_equal(run_seeds(SC_AGREE, 1, env_u64("CHAIN_SEEDS", CHECK_SEEDS), true), 0);
}

static void test_faults(void **st)
{
    (void)st;
    assert_int_equal(run_seeds(SC_FAULTS, 1, env_u64("CHAIN_SEEDS", CHECK_SEEDS), true), 0);
}

static void test_partition(void **st)
{
    (void)st;
    assert_int_equal(run_seeds(SC_PARTITION, 1, env_u64("CHAIN_SEEDS", CHECK_SEEDS), true), 0);
}

static void test_crash(void **st)
{
    (void)st;
    assert_int_equal(run_seeds(SC_CRASH, 1, env_u64("CHAIN_SEEDS", CHECK_SEEDS), true), 0);
}

/* The same seed twice: the same run, event for event. */
/* Single messages lost on a connection that stays up (TCP never does it, but blocks that
 * came unasked leave the same hole): sync must ask for a missing height again rather than
 * skip it for good behind verified blocks above it (before that fix about one seed in ten
 * stalled here). */
static void test_lossy(void **st)
{
    (void)st;
    lossy = true;
    unsigned failed = run_seeds(SC_FAULTS, 1, env_u64("CHAIN_SEEDS", CHECK_SEEDS), true);
    lossy = false;
    assert_int_equal(failed, 0);
}

static void test_deterministic(void **st)
{
    (void)st;
    run_stats a, b;
    int saved = quiet();
    bool ok_a = run_one(SC_FAULTS, 7, &a), ok_b = run_one(SC_FAULTS, 7, &b);
    loud(saved);
    assert_true(ok_a && ok_b);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.end_ms, b.end_ms);
    assert_int_equal(a.height, b.height);
}

int main(int argc, char **argv)
{
    /* Each run opens five mempools (several MiB of tables each): a fixed mmap threshold
     * gives them fresh zero pages instead of heap memory cleared by calloc. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    keys_setup();
    if (argc > 1) {
        uint64_t first = 1, n = 100;
        int only = -1;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
                n = strtoull(argv[++i], NULL, 10);
            else if (!strcmp(argv[i], "--first") && i + 1 < argc)
                first = strtoull(argv[++i], NULL, 10);
            else if (!strcmp(argv[i], "--verbose"))
                verbose = true;
            else if (!strcmp(argv[i], "--lossy"))
                lossy = true;
            else if (!strcmp(argv[i], "--scenario") && i + 1 < argc) {
                i++;
                for (int s = 0; s <= SC_CRASH; s++)
                    if (!strcmp(argv[i], sc_name[s]))
                        only = s;
                if (only < 0)
                    goto usage;
            } else {
usage:
                fprintf(stderr, "usage: %s [--scenario agree|faults|partition|crash] "
                        "[--seeds N] [--first S] [--verbose] [--lossy]\n", argv[0]);
                return 2;
            }
        }
        unsigned failures = 0;
        for (int s = 0; s <= SC_CRASH; s++)
            if (only < 0 || only == s)
                failures += run_seeds((scenario)s, first, n, true);
        return failures ? 1 : 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_agree),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_lossy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
