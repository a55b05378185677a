/*
 * The deterministic consensus simulator; see sim.h and docs/consensus.md.
 *
 * A node here is what fwledgerd will be around the engine: it carries out the engine's
 * actions (persist the vote record, then sign and send; timers; build a block; apply a
 * commit) and does the gossip duties the engine relies on:
 *  - every GOSSIP_MS it re-sends its own messages of its current round and tells its peers
 *    where it is (height, round: a status message, like CometBFT's NewRoundStep);
 *  - a peer whose status shows it at a lower round of our height gets the messages we hold
 *    for that round, and one at a lower height gets the decisions it lacks, each with their
 *    certificate (the peer checks the 2f+1 precommits itself);
 *  - it answers FETCH with the prevotes it holds for that round, and sends the prevotes
 *    behind a proposal's valid round with the proposal;
 *  - it keeps proposals for the next height and hands them to the engine once there, and
 *    the signed votes for the next height it handed to the engine early, to relay them
 *    later (seed 61 stalled when a proof-of-lock included such a vote);
 *  - it keeps its own signed messages of the current height durably (a WAL, written with the
 *    vote record before anything is sent) and after a restart feeds them back to the engine
 *    and serves them to peers: without them a round whose votes were lost with the crash
 *    can stall for good (seed 5 found one);
 *  - with a lock it keeps durably the prevotes behind it (the proof-of-lock, listed by the
 *    precommit's VOTE action) and replays them after a restart: a locked validator that
 *    cannot show why re-proposes a value nobody may accept (seed 390 stalled so).
 * "Signatures" are an oracle: the set of every message any validator signed. A message whose
 * signer is honest can only be one that signer's engine produced; Byzantine validators sign
 * whatever they like; nobody can claim another's signature.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "sim.h"
#include "splitmix.h"

#define MAXN 10              /* validators in a simulated set                              */
#define HMAX 512             /* heights a run may reach                                    */
#define STORE_ROUNDS 16      /* rounds of the current height whose messages a node keeps   */
#define FUTURE_PROPS 4       /* proposals for the next height a node keeps                 */
#define NEXT_VOTES 64        /* votes for the next height a node keeps (the engine has them) */
#define WAL_MAX 96           /* own signed messages of the current height a node keeps     */
#define REPLAY 512           /* messages remembered for Byzantine replays                  */
#define TRACE 256            /* trace lines kept for a failure report                      */
#define GOSSIP_MS 60         /* own-message re-send period                                 */
#define REPLY_MS 40          /* at most one catch-up reply per peer and subject this often */
#define DECISIONS 64         /* decisions in one catch-up reply (block sync in the node)   */
#define DELTA_MS 10          /* message delay bound after GST                              */
#define TARGET_HEIGHTS 3     /* heights every honest node must commit after GST            */
#define LIVE_MS 30000        /* ... within this much simulated time                        */
#define MAX_EVENTS 3000000
#define CAND_N 8             /* candidate blocks a node keeps (node/daemon/chain.c CAND_MAX)       */
#define SEEN_ROUNDS 64       /* legacy node: rounds whose votes its de-duplication remembers */
#define DRIFT_MS 400         /* block_time_drift_ms: a fresh proposal's time vs. our clock   */
#define FAST_CLOCK_MS 3600000 /* a Byzantine validator's clock an hour ahead (issue 8)      */

/* ---------------------------------------------------------------------------------------- */
/* PRNG: splitmix64 seeds xoshiro256**                                                      */

typedef struct {
    uint64_t s[4];
} rng_t;

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return res;
}

static uint64_t rng_below(rng_t *r, uint64_t n) /* [0, n), n >= 1 */
{
    return rng_next(r) % n;
}

static bool rng_chance(rng_t *r, double p)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53 < p;
}

/* ---------------------------------------------------------------------------------------- */
/* Messages, events                                                                          */

enum { M_PROPOSAL, M_VOTE, M_DECISION, M_FETCH, M_STATUS, M_BLOCKREQ, M_BLOCK };

typedef struct {
    uint8_t kind, from, signer; /* from: the network sender; signer: who signed m           */
    bool block;                 /* M_PROPOSAL: its block travels with it (the node sends the
                                   block first on the same connection)                      */
    uint32_t signers;           /* M_DECISION: the precommits (m.round, m.value) it claims  */
    cns_msg m;                  /* M_FETCH: the round wanted; M_STATUS: where the sender is */
} smsg;

enum { EV_DELIVER, EV_TIMEOUT, EV_VALUE, EV_APPLIED, EV_GOSSIP, EV_CRASH, EV_RESTART,
       EV_PARTITION, EV_HEAL, EV_GST };

typedef struct {
    uint64_t t, seq;
    uint8_t kind, node, step;
    uint32_t epoch, round;
    uint64_t height;
    smsg msg;
} event;

/* ---------------------------------------------------------------------------------------- */
/* The signature oracle: every (signer, message) ever signed                                 */

typedef struct {
    uint32_t gen;
    uint8_t signer;
    cns_msg m;
} sig_entry;

static struct {
    sig_entry *e;
    size_t cap, used;
    uint32_t gen;
} sigs;

static uint64_t sig_hash(uint8_t signer, const cns_msg *m)
{
    uint64_t x = m->height * 0x9e3779b97f4a7c15ull ^ ((uint64_t)m->round << 8) ^
                 ((uint64_t)m->step << 4) ^ signer;
    return splitmix64(&x);
}

static bool same_msg(const cns_msg *a, const cns_msg *b)
{
    return a->height == b->height && a->round == b->round && a->step == b->step &&
           a->nil == b->nil && (a->nil || !memcmp(a->value, b->value, CNS_HASH_LEN)) &&
           (a->step != CNS_PROPOSE || a->valid_round == b->valid_round);
}

static bool same_hrs(const cns_msg *a, const cns_msg *b)
{
    return a->height == b->height && a->round == b->round && a->step == b->step;
}

static void sig_reset(void)
{
    if (!sigs.e) {
        sigs.cap = 1 << 14;
        sigs.e = calloc(sigs.cap, sizeof *sigs.e);
        if (!sigs.e)
            abort();
    }
    sigs.gen++;
    sigs.used = 0;
}

static void sig_grow(void);

/* Record that signer signed m; returns a conflicting earlier signature (same height, round
 * and step, other content) or NULL. */
static const sig_entry *sig_add(uint8_t signer, const cns_msg *m)
{
    if (2 * (sigs.used + 1) > sigs.cap)
        sig_grow();
    size_t mask = sigs.cap - 1, i = sig_hash(signer, m) & mask;
    const sig_entry *conflict = NULL;
    for (;; i = (i + 1) & mask) {
        sig_entry *s = &sigs.e[i];
        if (s->gen != sigs.gen) {
            s->gen = sigs.gen;
            s->signer = signer;
            s->m = *m;
            sigs.used++;
            return conflict;
        }
        if (s->signer == signer && same_hrs(&s->m, m)) {
            if (same_msg(&s->m, m))
                return NULL;
            if (!conflict)
                conflict = s;
        }
    }
}

static bool sig_has(uint8_t signer, const cns_msg *m)
{
    size_t mask = sigs.cap - 1, i = sig_hash(signer, m) & mask;
    for (;; i = (i + 1) & mask) {
        const sig_entry *s = &sigs.e[i];
        if (s->gen != sigs.gen)
            return false;
        if (s->signer == signer && same_msg(&s->m, m))
            return true;
    }
}

static void sig_grow(void)
{
    sig_entry *old = sigs.e;
    size_t oldcap = sigs.cap;
    sigs.cap *= 2;
    sigs.e = calloc(sigs.cap, sizeof *sigs.e);
    if (!sigs.e)
        abort();
    sigs.used = 0;
    uint32_t g = sigs.gen;
    sigs.gen = 1;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].gen == g)
            sig_add(old[i].signer, &old[i].m);
    free(old);
}

/* ---------------------------------------------------------------------------------------- */
/* Nodes and the world                                                                       */

typedef struct {
    bool used, has_prop;
    uint32_t round;
    smsg prop;
    bool has[2][2][MAXN];   /* [first, alternate][prevote, precommit][validator]            */
    smsg vote[2][2][MAXN];
} store_round;

typedef struct {
    uint8_t value[CNS_HASH_LEN];
    uint32_t round, signers;
} commit_rec;

typedef struct {
    bool used;
    uint64_t height;
    uint8_t value[CNS_HASH_LEN];
} cand_t;

typedef struct {
    bool byz, up, applying;
    uint64_t clock_ahead_ms;   /* a Byzantine validator's clock: 0 or FAST_CLOCK_MS        */
    uint32_t epoch;
    cns_tm eng;
    cns_vote_record durable;   /* survives crashes, like the fsync'ed file               */
    smsg wal[WAL_MAX];         /* durable too: own signed messages of height wal_h       */
    size_t n_wal;
    uint64_t wal_h;
    smsg pol[2 * MAXN];        /* durable too: the prevotes behind the lock at pol_h     */
    size_t n_pol;
    uint64_t pol_h;
    uint64_t tip;              /* last committed height (durable, like LMDB)             */
    commit_rec commits[HMAX];  /* durable: the certificate of each committed height      */
    store_round store[STORE_ROUNDS]; /* messages of the current height                   */
    smsg future[FUTURE_PROPS];
    size_t n_future;
    smsg next_votes[NEXT_VOTES];
    size_t n_next_votes;
    smsg ahead[DECISIONS];     /* decisions above tip + 1, by height % DECISIONS           */
    uint64_t dec_t[MAXN], dec_h[MAXN];
    uint64_t rnd_t[MAXN], rnd_h[MAXN];
    uint32_t rnd_r[MAXN];
    uint64_t fet_t[MAXN];
    uint32_t fet_r[MAXN];
    /* Blocks: a node can propose, and judge a proposal of, only a block it holds. */
    cand_t cand[CAND_N];       /* lost in a crash                                         */
    size_t cand_next;
    bool lock_blk;             /* durable (fixed node): the block of the lock at lock_blk_h */
    uint64_t lock_blk_h;
    uint8_t lock_blk_v[CNS_HASH_LEN];
    bool prop_blk;             /* durable (fixed node): the block of our last proposal     */
    uint64_t prop_blk_h;
    uint8_t prop_blk_v[CNS_HASH_LEN];
    uint64_t blk_t[MAXN];      /* last block request answered, per peer                   */
    uint64_t req_t;            /* last block request sent                                 */
    /* Legacy node: votes already stored are not handed to the engine again. */
    uint16_t seen[2][SEEN_ROUNDS][2]; /* by height parity: the current and the next one */
    uint64_t seen_h[2];
} node_t;

typedef struct {
    uint64_t t;
    int node;
    char code[4];
    uint64_t h;
    uint32_t r;
    int64_t a;
    uint32_t b;
} trace_line;

typedef struct {
    sim_options opt;
    sim_result *res;
    rng_t rng;
    cns_tm_config cfg;
    uint32_t n;
    uint64_t total;
    uint32_t byz_mask;
    ldg_genesis g;      /* only the validators: validator i's key is the one byte i (alg 1) */
    node_t node[MAXN];

    event *heap;
    size_t n_heap, cap_heap;
    uint64_t now, seq;

    /* network faults */
    bool after_gst;
    uint64_t gst;
    double p_drop, p_dup, p_tail, p_crash_mid, p_crash_prop, p_byz;
    uint32_t delay_max, tail_max;
    uint32_t part_mask; /* nodes on side 1; 0: no partition */

    /* liveness */
    uint64_t target;

    /* safety */
    bool decided[HMAX];
    uint8_t decision[HMAX][CNS_HASH_LEN];

    smsg replay[REPLAY];
    size_t n_replay;
    trace_line trace[TRACE];
    size_t n_trace;
    bool failed;
} sim_t;

static void trace(sim_t *S, int node, const char *code, uint64_t h, uint32_t r, int64_t a,
                  const uint8_t *v);

static bool cand_has(const node_t *N, const uint8_t *v);
static void request_block(sim_t *S, uint32_t me, int to, uint64_t h, const uint8_t *v);

static void sim_fail(sim_t *S, const char *fmt, ...)
{
    if (S->failed)
        return;
    S->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->res->what, sizeof S->res->what, fmt, ap);
    va_end(ap);
}

static uint32_t val32(const uint8_t *v)
{
    return v ? (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3] : 0;
}

static void trace(sim_t *S, int node, const char *code, uint64_t h, uint32_t r, int64_t a,
                  const uint8_t *v)
{
    trace_line *l = &S->trace[S->n_trace++ % TRACE];
    l->t = S->now;
    l->node = node;
    snprintf(l->code, sizeof l->code, "%s", code);
    l->h = h;
    l->r = r;
    l->a = a;
    l->b = val32(v);
    if (S->opt.verbose)
        printf("%8" PRIu64 " n%-2d %-3s h=%-3" PRIu64 " r=%-3u %6" PRId64 " v=%08x\n", l->t,
               l->node, l->code, l->h, l->r, l->a, l->b);
}

static void print_trace(const sim_t *S, size_t lines)
{
    size_t n = S->n_trace < TRACE ? S->n_trace : TRACE;
    if (lines < n)
        n = lines;
    fprintf(stderr, "last %zu trace lines (time node what height round arg value):\n", n);
    for (size_t i = S->n_trace - n; i < S->n_trace; i++) {
        const trace_line *l = &S->trace[i % TRACE];
        fprintf(stderr, "%8" PRIu64 " n%-2d %-3s h=%-3" PRIu64 " r=%-3u %6" PRId64 " v=%08x\n",
                l->t, l->node, l->code, l->h, l->r, l->a, l->b);
    }
}

/* Values: byte 0 says what the node's validation would find. Honest blocks 0x01, a
 * Byzantine proposer's alternative valid block 0x03, an invalid block 0xEE, a hash nobody
 * proposed 0x02 (votes for unknown blocks). Byte 1 is the validator that built the block
 * (its header's proposer), bytes 2-9 its block time (the builder's clock). */
static bool value_valid(const uint8_t *v)
{
    return v[0] == 0x01 || v[0] == 0x03;
}

static uint32_t value_builder(const uint8_t *v)
{
    return v[1];
}

static uint64_t value_time(const uint8_t *v)
{
    uint64_t t;
    memcpy(&t, v + 2, 8);
    return t;
}

static void make_value(sim_t *S, uint8_t kind, uint32_t builder, uint8_t *v)
{
    for (int i = 0; i < CNS_HASH_LEN; i += 8) {
        uint64_t x = rng_next(&S->rng);
        memcpy(v + i, &x, 8);
    }
    v[0] = kind;
    v[1] = (uint8_t)builder;
    uint64_t t = S->now + S->node[builder].clock_ahead_ms;
    memcpy(v + 2, &t, 8);
}

static ldg_pubkey sim_key(uint32_t validator)
{
    ldg_pubkey k;
    memset(&k, 0, sizeof k);
    k.alg = 1;
    k.len = 1;
    k.key[0] = (uint8_t)validator;
    return k;
}

/* What an honest node finds of a proposal: the node's own rules, ldg_block_builder_check (a
 * fresh proposal built by its proposer, a re-proposal by any validator) and
 * ldg_block_time_check against the simulated clock (a fresh proposal's time within DRIFT_MS,
 * a re-proposal's found timely before). The legacy node required the re-proposer to be the
 * builder, and did not look at the time. */
static bool proposal_valid(const sim_t *S, const cns_msg *m, uint32_t proposer)
{
    const uint8_t *v = m->value;
    if (!value_valid(v))
        return false;
    ldg_pubkey builder = sim_key(value_builder(v));
    bool builder_ok = S->opt.legacy_node || S->opt.legacy_builder
                          ? value_builder(v) == proposer
                          : !ldg_block_builder_check(&S->g, proposer, m->valid_round, &builder);
    if (!builder_ok || S->opt.legacy_node || S->opt.no_time_check)
        return builder_ok;
    return !ldg_block_time_check(value_time(v), 0, S->now, DRIFT_MS, m->valid_round);
}

/* ---------------------------------------------------------------------------------------- */
/* Event queue: a binary heap on (time, sequence)                                            */

static bool ev_less(const event *a, const event *b)
{
    return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void push(sim_t *S, event ev)
{
    if (S->n_heap == S->cap_heap) {
        S->cap_heap = S->cap_heap ? 2 * S->cap_heap : 1024;
        S->heap = realloc(S->heap, S->cap_heap * sizeof *S->heap);
        if (!S->heap)
            abort();
    }
    ev.seq = S->seq++;
    size_t i = S->n_heap++;
    while (i > 0 && ev_less(&ev, &S->heap[(i - 1) / 2])) {
        S->heap[i] = S->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    S->heap[i] = ev;
}

static event pop(sim_t *S)
{
    event top = S->heap[0], last = S->heap[--S->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= S->n_heap)
            break;
        if (c + 1 < S->n_heap && ev_less(&S->heap[c + 1], &S->heap[c]))
            c++;
        if (!ev_less(&S->heap[c], &last))
            break;
        S->heap[i] = S->heap[c];
        i = c;
    }
    if (S->n_heap)
        S->heap[i] = last;
    return top;
}

static void push_node_ev(sim_t *S, uint8_t kind, uint32_t node, uint64_t delay, uint64_t h,
                         uint32_t r, uint8_t step)
{
    event ev;
    memset(&ev, 0, sizeof ev);
    ev.t = S->now + delay;
    ev.kind = kind;
    ev.node = (uint8_t)node;
    ev.epoch = S->node[node].epoch;
    ev.height = h;
    ev.round = r;
    ev.step = step;
    push(S, ev);
}

/* ---------------------------------------------------------------------------------------- */
/* The network                                                                               */

static void send(sim_t *S, uint32_t from, uint32_t to, const smsg *m)
{
    if (from == to || !S->node[from].up)
        return;
    uint64_t delay;
    int copies = 1;
    if (!S->after_gst) {
        if (S->part_mask && ((S->part_mask >> from) & 1) != ((S->part_mask >> to) & 1))
            return;
        if (rng_chance(&S->rng, S->p_drop))
            return;
        if (rng_chance(&S->rng, S->p_dup))
            copies = 2;
    } else if (rng_chance(&S->rng, 0.01)) {
        copies = 2;
    }
    for (int c = 0; c < copies; c++) {
        if (!S->after_gst) {
            delay = 1 + rng_below(&S->rng, S->delay_max);
            if (rng_chance(&S->rng, S->p_tail))
                delay += rng_below(&S->rng, S->tail_max);
        } else {
            delay = 1 + rng_below(&S->rng, DELTA_MS);
        }
        event ev;
        memset(&ev, 0, sizeof ev);
        ev.t = S->now + delay;
        ev.kind = EV_DELIVER;
        ev.node = (uint8_t)to;
        ev.msg = *m;
        ev.msg.from = (uint8_t)from;
        push(S, ev);
    }
}

static void broadcast(sim_t *S, uint32_t from, const smsg *m)
{
    for (uint32_t to = 0; to < S->n; to++)
        send(S, from, to, m);
}

static void remember(sim_t *S, const smsg *m)
{
    S->replay[S->n_replay++ % REPLAY] = *m;
}

/* ---------------------------------------------------------------------------------------- */
/* A node's store of the current height's messages                                          */

/* The store of round r; with make, a new one for a round not too far ahead. When all are
 * taken the lowest past round gives way, except the engine's locked and valid rounds: the
 * prevotes behind them are what peers will FETCH when we propose that value again (seed 1
 * stalled for good when a 16-round ring lost them). The same policy as the engine's. */
static store_round *store_at(node_t *N, uint32_t r, bool make)
{
    store_round *s = NULL;
    for (size_t i = 0; i < STORE_ROUNDS; i++)
        if (N->store[i].used && N->store[i].round == r)
            return &N->store[i];
    if (!make || r > N->eng.round + CNS_TM_FUTURE_ROUNDS)
        return NULL;
    for (size_t i = 0; i < STORE_ROUNDS && !s; i++)
        if (!N->store[i].used)
            s = &N->store[i];
    store_round *victim = NULL;
    for (size_t i = 0; i < STORE_ROUNDS && !s; i++) {
        store_round *c = &N->store[i];
        if (c->round < r && c->round < N->eng.round && (int64_t)c->round != N->eng.locked_round &&
            (int64_t)c->round != N->eng.valid_round && (!victim || c->round < victim->round))
            victim = c;
    }
    if (!s)
        s = victim;
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->used = true;
    s->round = r;
    return s;
}

/* Keep the signed copy of m where the engine holds it (cns_tm_holds): the store relays
 * exactly what the engine counts (seed 43325 stalled when a heuristic of the store's own kept
 * another of an equivocator's votes than the one a proof-of-lock needed). */
static void store_msg(node_t *N, const smsg *m)
{
    int pos = cns_tm_holds(&N->eng, &m->m, m->signer);
    store_round *s = pos ? store_at(N, m->m.round, true) : NULL;
    if (!s)
        return;
    if (m->kind == M_PROPOSAL) {
        s->has_prop = true;
        s->prop = *m;
    } else {
        int t = m->m.step - 1, k = m->signer;
        s->has[pos - 1][t][k] = true;
        s->vote[pos - 1][t][k] = *m;
    }
}

static void store_clear(node_t *N)
{
    memset(N->store, 0, sizeof N->store);
}

/* Send peer everything held for round r of the current height. */
static void send_round(sim_t *S, uint32_t me, uint32_t peer, uint32_t r, bool prevotes_only)
{
    node_t *N = &S->node[me];
    store_round *s = store_at(N, r, false);
    if (!s)
        return;
    if (s->has_prop && !prevotes_only) {
        smsg p = s->prop;
        p.block = cand_has(N, p.m.value);
        send(S, me, peer, &p);
    }
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < (prevotes_only ? 1 : 2); t++)
            for (uint32_t i = 0; i < S->n; i++)
                if (s->has[a][t][i])
                    send(S, me, peer, &s->vote[a][t][i]);
}

/* Our own messages of our current round (what a stuck peer needs to see from us). */
static void send_own(sim_t *S, uint32_t me, int to)
{
    node_t *N = &S->node[me];
    store_round *s = store_at(N, N->eng.round, false);
    if (!s)
        return;
    const smsg *m[3] = {NULL, NULL, NULL};
    smsg prop;
    if (s->has_prop && s->prop.signer == me) {
        prop = s->prop;
        prop.block = cand_has(N, prop.m.value);
        if (prop.block)
            m[0] = &prop;
        else
            request_block(S, me, -1, prop.m.height, prop.m.value);
    }
    for (int t = 0; t < 2; t++)
        if (s->has[0][t][me])
            m[1 + t] = &s->vote[0][t][me];
    for (int i = 0; i < 3; i++) {
        if (!m[i])
            continue;
        if (to < 0)
            broadcast(S, me, m[i]);
        else
            send(S, me, (uint32_t)to, m[i]);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Candidate blocks (node/daemon/chain.c's cand store)                                             */

static bool cand_has(const node_t *N, const uint8_t *v)
{
    for (size_t i = 0; i < CAND_N; i++)
        if (N->cand[i].used && !memcmp(N->cand[i].value, v, CNS_HASH_LEN))
            return true;
    return false;
}

/* A block the node must not lose: the engine's locked or valid value (it may have to
 * propose it again), or the block of the durable lock. The legacy node pinned nothing. */
static bool cand_pinned(const sim_t *S, const node_t *N, const cand_t *c)
{
    if (S->opt.legacy_node || !c->used)
        return false;
    return cns_tm_needs_value(&N->eng, c->value) ||
           (N->lock_blk && !memcmp(c->value, N->lock_blk_v, CNS_HASH_LEN)) ||
           (N->prop_blk && !memcmp(c->value, N->prop_blk_v, CNS_HASH_LEN));
}

/* Keep a block of height h (the current or the next one); the oldest unpinned one makes
 * room, as in the node. */
static void cand_add(sim_t *S, node_t *N, uint64_t h, const uint8_t *v)
{
    if (cand_has(N, v) || h < N->eng.height || h > N->eng.height + 1)
        return;
    for (size_t k = 0; k < CAND_N; k++) {
        cand_t *c = &N->cand[N->cand_next];
        N->cand_next = (N->cand_next + 1) % CAND_N;
        if (cand_pinned(S, N, c))
            continue;
        c->used = true;
        c->height = h;
        memcpy(c->value, v, CNS_HASH_LEN);
        return;
    }
}

static void cand_forget_below(node_t *N, uint64_t h)
{
    for (size_t i = 0; i < CAND_N; i++)
        if (N->cand[i].height < h)
            N->cand[i].used = false;
}

/* Ask for a block we lack (the fixed node): from one peer, or all (to < 0); at most one
 * request per REPLY_MS. */
static void request_block(sim_t *S, uint32_t me, int to, uint64_t h, const uint8_t *v)
{
    node_t *N = &S->node[me];
    if (S->opt.legacy_node || (N->req_t && S->now < N->req_t + REPLY_MS))
        return;
    N->req_t = S->now;
    S->res->blocks_fetched++;
    smsg q;
    memset(&q, 0, sizeof q);
    q.kind = M_BLOCKREQ;
    q.signer = (uint8_t)me;
    q.m.height = h;
    memcpy(q.m.value, v, CNS_HASH_LEN);
    trace(S, (int)me, "BRQ", h, 0, to, v);
    if (to < 0)
        broadcast(S, me, &q);
    else
        send(S, me, (uint32_t)to, &q);
}

/* Legacy node: has a vote with this (round, step, signer) been stored at this height? Marks
 * it. Rounds past SEEN_ROUNDS are never de-duplicated. */
static bool legacy_seen(node_t *N, const cns_msg *m, uint32_t signer)
{
    if (m->round >= SEEN_ROUNDS || m->step == CNS_PROPOSE)
        return false;
    int x = (int)(m->height & 1);
    if (N->seen_h[x] != m->height) {
        memset(N->seen[x], 0, sizeof N->seen[x]);
        N->seen_h[x] = m->height;
    }
    uint16_t *w = &N->seen[x][m->round][m->step - 1], bit = (uint16_t)(1u << signer);
    bool was = (*w & bit) != 0;
    *w |= bit;
    return was;
}

/* ---------------------------------------------------------------------------------------- */
/* Commits                                                                                   */

/* Does (round, value, signers) certify height h: more than 2/3 of the power signed that
 * precommit? */
static bool certificate_ok(sim_t *S, uint64_t h, uint32_t round, const uint8_t *v, uint32_t signers)
{
    cns_msg pc;
    memset(&pc, 0, sizeof pc);
    pc.height = h;
    pc.round = round;
    pc.step = CNS_PRECOMMIT;
    memcpy(pc.value, v, CNS_HASH_LEN);
    uint64_t p = 0;
    for (uint32_t i = 0; i < S->n; i++)
        if (signers >> i & 1) {
            if (!sig_has((uint8_t)i, &pc))
                return false;
            p += S->cfg.power[i];
        }
    return 3 * p > 2 * S->total;
}

static void do_commit(sim_t *S, uint32_t me, uint64_t h, uint32_t round, const uint8_t *v,
                      uint32_t signers, bool from_engine)
{
    node_t *N = &S->node[me];
    trace(S, (int)me, from_engine ? "CMT" : "ADO", h, round, signers, v);
    if (h <= N->tip && h < HMAX) {
        /* Learnt from a decision while the engine was deciding it too: it must agree. */
        if (!N->byz && memcmp(N->commits[h].value, v, CNS_HASH_LEN))
            sim_fail(S, "FORK: node %u decided %08x at height %" PRIu64 " after committing %08x",
                     me, val32(v), h, val32(N->commits[h].value));
        return;
    }
    if (h != N->tip + 1) {
        if (!N->byz)
            sim_fail(S, "node %u committed height %" PRIu64 " on top of %" PRIu64, me, h, N->tip);
        return;
    }
    if (h >= HMAX) {
        N->applying = true; /* the run is long enough: this node stops here */
        return;
    }
    if (!N->byz) {
        if (!certificate_ok(S, h, round, v, signers))
            sim_fail(S, "node %u committed height %" PRIu64 " without 2f+1 precommits", me, h);
        if (!value_valid(v))
            sim_fail(S, "node %u committed an invalid value at height %" PRIu64, me, h);
        if (value_time(v) > S->now + DRIFT_MS)
            sim_fail(S, "TIME: node %u committed height %" PRIu64 " with a block time %" PRIu64
                     " ms ahead of real time (built by validator %u)", me, h,
                     value_time(v) - S->now, value_builder(v));
        if (S->decided[h] && memcmp(S->decision[h], v, CNS_HASH_LEN))
            sim_fail(S, "FORK: node %u committed %08x at height %" PRIu64 ", another honest node %08x",
                 me, val32(v), h, val32(S->decision[h]));
        if (!S->decided[h]) {
            S->decided[h] = true;
            memcpy(S->decision[h], v, CNS_HASH_LEN);
        }
        if (h > S->res->heights)
            S->res->heights = h;
        if (from_engine)
            S->res->commits_engine++;
        else
            S->res->commits_gossip++;
    }
    N->tip = h;
    commit_rec *c = &N->commits[h];
    memcpy(c->value, v, CNS_HASH_LEN);
    c->round = round;
    c->signers = signers;
    N->applying = true;
    push_node_ev(S, EV_APPLIED, me, rng_below(&S->rng, 3), h, 0, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Carrying out the engine's actions                                                         */

static void crash(sim_t *S, uint32_t me);
static void byz_send(sim_t *S, uint32_t me, const smsg *m);

static void sign_msg(sim_t *S, uint32_t me, const cns_msg *m)
{
    const sig_entry *c = sig_add((uint8_t)me, m);
    if (c && !S->node[me].byz)
        sim_fail(S, "DOUBLE SIGN: honest validator %u signed step %u at h=%" PRIu64 " r=%u for %08x%s "
             "and %08x%s", me, m->step, m->height, m->round, val32(c->m.value),
             c->m.nil ? "(nil)" : "", val32(m->value), m->nil ? "(nil)" : "");
}

/* Keep the prevotes the engine listed behind a lock, from the store (durably). Only a new
 * lock replaces the proof: the same precommit sent again after a restart lists only what
 * the engine has seen since (seed 297 lost its proof so). */
static void keep_pol(node_t *N, const cns_tm_action *a)
{
    const store_round *s = store_at(N, a->round, false);
    if (N->pol_h == a->height && N->n_pol && N->pol[0].m.round == a->round &&
        !memcmp(N->pol[0].m.value, a->msg.value, CNS_HASH_LEN))
        return;
    N->pol_h = a->height;
    N->n_pol = 0;
    for (uint32_t k = 0; s && k < a->n_signers; k++)
        for (int alt = 0; alt < 2; alt++) {
            const smsg *v = &s->vote[alt][0][a->signers[k]];
            if (s->has[alt][0][a->signers[k]] && !v->m.nil &&
                !memcmp(v->m.value, a->msg.value, CNS_HASH_LEN))
                N->pol[N->n_pol++] = *v;
        }
}

static void run_actions(sim_t *S, uint32_t me, const cns_tm_actions *out)
{
    node_t *N = &S->node[me];
    if (N->eng.lost_actions)
        sim_fail(S, "node %u: the engine lost actions (bound exceeded)", me);
    if (out->n > S->res->max_actions)
        S->res->max_actions = out->n;
    for (size_t i = 0; i < out->n && N->up && !S->failed; i++) {
        const cns_tm_action *a = &out->a[i];
        switch (a->type) {
        case CNS_TM_BUILD:
            trace(S, (int)me, "BLD", a->height, a->round, 0, NULL);
            push_node_ev(S, EV_VALUE, me, rng_below(&S->rng, 4), a->height, a->round, 0);
            break;
        case CNS_TM_PROPOSE:
        case CNS_TM_VOTE: {
            /* Sign, then persist the record, the signed message (WAL) and for a lock its
             * proof in one fsync, then send; a crash right before sending leaves all three
             * ahead of the network. */
            smsg m;
            memset(&m, 0, sizeof m);
            m.kind = a->type == CNS_TM_PROPOSE ? M_PROPOSAL : M_VOTE;
            m.signer = (uint8_t)me;
            m.m = a->msg;
            sign_msg(S, me, &a->msg);
            N->durable = a->record;
            if (N->wal_h != a->height) {
                N->wal_h = a->height;
                N->n_wal = 0;
            }
            if (N->n_wal == WAL_MAX) { /* keep the newest */
                memmove(N->wal, N->wal + 1, (WAL_MAX - 1) * sizeof *N->wal);
                N->n_wal--;
            }
            N->wal[N->n_wal++] = m;
            if (m.kind == M_VOTE && m.m.step == CNS_PRECOMMIT && !m.m.nil) {
                keep_pol(N, a);
                if (!S->opt.legacy_node) { /* the block of the lock, kept with the proof */
                    N->lock_blk = true;
                    N->lock_blk_h = a->height;
                    memcpy(N->lock_blk_v, a->msg.value, CNS_HASH_LEN);
                }
            }
            m.block = m.kind == M_PROPOSAL && (N->byz || cand_has(N, m.m.value));
            if (m.block && !S->opt.legacy_node) { /* the block of our proposal, on disk */
                N->prop_blk = true;
                N->prop_blk_h = a->height;
                memcpy(N->prop_blk_v, m.m.value, CNS_HASH_LEN);
            }
            if (!S->after_gst && !N->byz &&
                rng_chance(&S->rng, m.kind == M_PROPOSAL ? S->p_crash_prop : S->p_crash_mid)) {
                trace(S, (int)me, "CR!", a->height, a->round, a->msg.step, NULL);
                crash(S, me);
                if (S->res->lock_heavy) /* kill -9 and restart, as an operator's watchdog */
                    push_node_ev(S, EV_RESTART, me, 50 + rng_below(&S->rng, 1000), 0, 0, 0);
                return;
            }
            trace(S, (int)me, a->type == CNS_TM_PROPOSE ? "PRO" : a->msg.step == CNS_PREVOTE ? "PV" : "PC",
                  a->height, a->round, a->type == CNS_TM_PROPOSE ? a->msg.valid_round : a->msg.nil,
                  a->msg.nil ? NULL : a->msg.value);
            store_msg(N, &m);
            remember(S, &m);
            if (N->byz) {
                byz_send(S, me, &m);
            } else if (m.kind == M_PROPOSAL && !m.block) {
                /* The node cannot send a proposal without its block; the fixed node asks
                 * its peers for it and sends the proposal with its next re-send. */
                trace(S, (int)me, "NOB", a->height, a->round, 0, m.m.value);
                request_block(S, me, -1, a->height, m.m.value);
            } else {
                broadcast(S, me, &m);
                if (m.kind == M_PROPOSAL && m.m.valid_round >= 0)
                    for (uint32_t to = 0; to < S->n; to++)
                        if (to != me)
                            send_round(S, me, to, (uint32_t)m.m.valid_round, true);
            }
            break;
        }
        case CNS_TM_SCHEDULE:
            push_node_ev(S, EV_TIMEOUT, me, a->delay_ms, a->height, a->round, (uint8_t)a->step);
            break;
        case CNS_TM_COMMIT: {
            uint32_t mask = 0;
            for (uint32_t k = 0; k < a->n_signers; k++)
                mask |= 1u << a->signers[k];
            do_commit(S, me, a->height, a->round, a->value, mask, true);
            break;
        }
        case CNS_TM_FETCH: {
            smsg m;
            memset(&m, 0, sizeof m);
            m.kind = M_FETCH;
            m.signer = (uint8_t)me;
            m.m.height = a->height;
            m.m.round = a->round;
            trace(S, (int)me, "FET", a->height, a->round, 0, NULL);
            broadcast(S, me, &m);
            break;
        }
        }
    }
}

static void engine_msg(sim_t *S, uint32_t me, const smsg *m)
{
    node_t *N = &S->node[me];
    cns_tm_actions out;
    int rc;
    if (m->kind == M_PROPOSAL)
        rc = cns_tm_on_proposal(&N->eng, &m->m, m->signer, proposal_valid(S, &m->m, m->signer),
                                &out);
    else
        rc = cns_tm_on_vote(&N->eng, &m->m, m->signer, &out);
    if (rc) {
        if (!S->node[m->signer].byz)
            sim_fail(S, "node %u refused a message of honest validator %u: %s", me, m->signer,
                 cns_strerror(rc));
        return;
    }
    if (m->m.height == N->eng.height)
        store_msg(N, m);
    else if (m->m.height == N->eng.height + 1 && N->n_next_votes < NEXT_VOTES)
        N->next_votes[N->n_next_votes++] = *m;
    run_actions(S, me, &out);
}

static void start_height(sim_t *S, uint32_t me, uint64_t h)
{
    node_t *N = &S->node[me];
    cns_tm_actions out;
    store_clear(N);
    cand_forget_below(N, h);
    /* Back at the height of the blocks the fixed node keeps on disk: candidates again. */
    const bool kept[2] = {N->lock_blk && N->lock_blk_h == h, N->prop_blk && N->prop_blk_h == h};
    const uint8_t *kv[2] = {N->lock_blk_v, N->prop_blk_v};
    for (int k = 0; k < 2; k++)
        if (kept[k] && !cand_has(N, kv[k]))
            for (size_t i = 0; i < CAND_N; i++)
                if (!N->cand[i].used) {
                    N->cand[i].used = true;
                    N->cand[i].height = h;
                    memcpy(N->cand[i].value, kv[k], CNS_HASH_LEN);
                    break;
                }
    N->applying = false;
    int rc = cns_tm_start_height(&N->eng, h, &out);
    if (rc) {
        sim_fail(S, "node %u: start_height(%" PRIu64 "): %s", me, h, cns_strerror(rc));
        return;
    }
    for (size_t i = 0; i < N->n_next_votes; i++)
        if (N->next_votes[i].m.height == h)
            store_msg(N, &N->next_votes[i]);
    N->n_next_votes = 0;
    /* The engine's own actions first (as the node does): they carry the vote record as it
     * was before the replays below, which may sign newer messages; run after them, they
     * would write an older record over a newer one (seed 45964 double-signed so). */
    trace(S, (int)me, "HGT", h, N->eng.round, N->eng.step, NULL);
    run_actions(S, me, &out);
    if (!N->up || S->failed || N->eng.height != h)
        return;
    /* Back at the height of the WAL (after a restart, or after catching up to it): the
     * engine counts its own earlier messages and the proof-of-lock again, and the store has
     * them to serve. */
    if (N->wal_h == h) {
        smsg wal[WAL_MAX];
        size_t n = N->n_wal;
        memcpy(wal, N->wal, n * sizeof *wal);
        for (size_t i = 0; i < n && N->up && !S->failed && N->eng.height == h; i++) {
            if (wal[i].kind == M_VOTE)
                legacy_seen(N, &wal[i].m, me);
            engine_msg(S, me, &wal[i]);
        }
    }
    if (N->pol_h == h) {
        smsg pol[2 * MAXN];
        size_t n = N->n_pol;
        memcpy(pol, N->pol, n * sizeof *pol);
        for (size_t i = 0; i < n && N->up && !S->failed && N->eng.height == h; i++)
            if (!(S->opt.legacy_node && legacy_seen(N, &pol[i].m, pol[i].signer)))
                engine_msg(S, me, &pol[i]);
    }
    /* Proposals that came early. */
    smsg keep[FUTURE_PROPS];
    size_t n = N->n_future;
    memcpy(keep, N->future, sizeof keep);
    N->n_future = 0;
    for (size_t i = 0; i < n && N->up && !S->failed; i++)
        if (keep[i].m.height == h && N->eng.height == h && cand_has(N, keep[i].m.value))
            engine_msg(S, me, &keep[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* Crashes                                                                                   */

static void crash(sim_t *S, uint32_t me)
{
    node_t *N = &S->node[me];
    if (!N->up)
        return;
    N->up = false;
    N->epoch++;
    S->res->crashes++;
    memset(N->cand, 0, sizeof N->cand);
    memset(N->seen, 0, sizeof N->seen);
    memset(N->seen_h, 0, sizeof N->seen_h);
    trace(S, (int)me, "DWN", N->tip, 0, 0, NULL);
}

static void restart(sim_t *S, uint32_t me)
{
    node_t *N = &S->node[me];
    if (N->up)
        return;
    N->up = true;
    N->epoch++;
    uint64_t others = 0;
    for (uint32_t i = 0; i < S->n; i++)
        if (i != me && !S->node[i].byz && S->node[i].tip > others)
            others = S->node[i].tip;
    if (!S->after_gst && N->tip > 0 && others >= N->tip && rng_chance(&S->rng, 0.15)) {
        /* Restored from an older backup: the chain loses a few heights, the vote record
         * (and WAL) stay newer. The record must keep it from signing again where it did;
         * it is mute up to the record's height and learns those heights from peers, so
         * only when another honest node has them (seed 314: with none, they are lost). */
        N->tip -= 1 + rng_below(&S->rng, N->tip < 3 ? N->tip : 3);
        trace(S, (int)me, "RBK", N->tip, 0, 0, NULL);
    }
    cns_vote_record rec = N->durable;
    if (S->opt.forget_record)
        cns_record_init(&rec);
    if (S->opt.forget_lock) {
        rec.locked_round = -1;
        memset(rec.locked_value, 0, CNS_HASH_LEN);
    }
    /* What the engine counted before the crash is gone with it; keep the totals. */
    uint64_t eq = N->eng.equivocations, ref = N->eng.refused;
    if (cns_tm_init(&N->eng, &S->cfg, (int32_t)me, &rec)) {
        sim_fail(S, "node %u: init from its record failed", me);
        return;
    }
    N->eng.equivocations = eq;
    N->eng.refused = ref;
    N->n_future = 0;
    N->n_next_votes = 0;
    memset(N->ahead, 0, sizeof N->ahead);
    memset(N->dec_t, 0, sizeof N->dec_t);
    memset(N->rnd_t, 0, sizeof N->rnd_t);
    memset(N->fet_t, 0, sizeof N->fet_t);
    memset(N->blk_t, 0, sizeof N->blk_t);
    N->req_t = 0;
    trace(S, (int)me, "UP", N->tip + 1, rec.last.round, rec.last.step, NULL);
    start_height(S, me, N->tip + 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Byzantine validators                                                                      */

/* A value for a Byzantine message: nil, the honest one, another valid one, an invalid one,
 * or a hash nobody proposed. */
static void byz_value(sim_t *S, uint32_t me, cns_msg *m)
{
    switch (rng_below(&S->rng, 5)) {
    case 0: m->nil = m->step != CNS_PROPOSE; break;
    case 1: make_value(S, 0x03, me, m->value); m->nil = false; break;
    case 2: make_value(S, 0xEE, me, m->value); m->nil = false; break;
    case 3: make_value(S, 0x02, me, m->value); m->nil = false; break;
    default: { /* a value seen recently */
        if (!S->n_replay)
            break;
        const smsg *r = &S->replay[rng_below(&S->rng, S->n_replay < REPLAY ? S->n_replay : REPLAY)];
        if (!r->m.nil) {
            memcpy(m->value, r->m.value, CNS_HASH_LEN);
            m->nil = false;
        }
    }
    }
    if (m->nil)
        memset(m->value, 0, CNS_HASH_LEN);
}

static void byz_sign_send(sim_t *S, uint32_t me, uint32_t to, const smsg *m)
{
    smsg x = *m;
    x.block = x.kind == M_PROPOSAL; /* it can always send some block for its proposal */
    sign_msg(S, me, &x.m);
    remember(S, &x);
    send(S, me, to, &x);
}

/* What a Byzantine validator does with a message its engine wants to send: to each peer the
 * message, a conflicting one, or nothing. */
static void byz_send(sim_t *S, uint32_t me, const smsg *m)
{
    uint64_t mode = rng_below(&S->rng, 10);
    if (mode < 3) { /* honest */
        broadcast(S, me, m);
        return;
    }
    if (mode == 3) /* silent */
        return;
    for (uint32_t to = 0; to < S->n; to++) {
        uint64_t c = rng_below(&S->rng, 10);
        if (c < 4) {
            send(S, me, to, m);
        } else if (c < 8) {
            smsg x = *m;
            if (x.kind == M_PROPOSAL && rng_chance(&S->rng, 0.3))
                x.m.valid_round = (int32_t)rng_below(&S->rng, x.m.round + 1) - 1;
            else
                byz_value(S, me, &x.m);
            byz_sign_send(S, me, to, &x);
        }
    }
}

/* Mischief on a timer: stray votes, proposals out of turn, replays, forged decisions. */
static void byz_tick(sim_t *S, uint32_t me)
{
    node_t *N = &S->node[me];
    if (!rng_chance(&S->rng, S->p_byz))
        return;
    uint32_t to = (uint32_t)rng_below(&S->rng, S->n);
    smsg x;
    memset(&x, 0, sizeof x);
    x.signer = (uint8_t)me;
    x.m.height = N->eng.height;
    uint32_t r = N->eng.round;
    x.m.round = r < 2 ? r + (uint32_t)rng_below(&S->rng, 3) : r - 2 + (uint32_t)rng_below(&S->rng, 5);
    switch (rng_below(&S->rng, 6)) {
    case 0: case 1: /* a vote for anything */
        x.kind = M_VOTE;
        x.m.step = (uint8_t)(1 + rng_below(&S->rng, 2));
        byz_value(S, me, &x.m);
        for (uint32_t i = 0; i < S->n; i++)
            if (rng_chance(&S->rng, 0.5))
                byz_sign_send(S, me, i, &x);
        break;
    case 2: /* a proposal, in turn or not */
        x.kind = M_PROPOSAL;
        x.m.step = CNS_PROPOSE;
        x.m.valid_round = -1;
        byz_value(S, me, &x.m);
        if (x.m.nil) {
            x.m.nil = false;
            make_value(S, 0x03, me, x.m.value);
        }
        byz_sign_send(S, me, to, &x);
        break;
    case 3: /* replays of old messages, anyone's */
        for (int k = 0; k < 4 && S->n_replay; k++) {
            const smsg *r0 = &S->replay[rng_below(&S->rng, S->n_replay < REPLAY ? S->n_replay : REPLAY)];
            send(S, me, (uint32_t)rng_below(&S->rng, S->n), r0);
        }
        break;
    case 4: { /* a forged decision: our precommit plus honest names that never signed it */
        x.kind = M_DECISION;
        x.m.step = CNS_PRECOMMIT;
        make_value(S, rng_chance(&S->rng, 0.5) ? 0x03 : 0x02, me, x.m.value);
        x.signers = S->byz_mask | (uint32_t)rng_next(&S->rng);
        x.signers &= (1u << S->n) - 1;
        for (uint32_t i = 0; i < S->n; i++)
            if (S->byz_mask >> i & 1) {
                cns_msg pc = x.m;
                sig_add((uint8_t)i, &pc);
            }
        send(S, me, to, &x);
        break;
    }
    default: /* votes far ahead: next height and beyond, rounds beyond the window */
        x.kind = M_VOTE;
        x.m.step = (uint8_t)(1 + rng_below(&S->rng, 2));
        x.m.height += rng_below(&S->rng, 3);
        x.m.round += (uint32_t)rng_below(&S->rng, 40);
        byz_value(S, me, &x.m);
        byz_sign_send(S, me, to, &x);
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Receiving                                                                                 */

static void reply_decisions(sim_t *S, uint32_t me, uint32_t peer, uint64_t h)
{
    node_t *N = &S->node[me];
    if (N->dec_h[peer] == h && S->now < N->dec_t[peer] + REPLY_MS)
        return;
    N->dec_h[peer] = h;
    N->dec_t[peer] = S->now;
    for (uint64_t k = h; k <= N->tip && k < h + DECISIONS; k++) {
        smsg d;
        memset(&d, 0, sizeof d);
        d.kind = M_DECISION;
        d.signer = (uint8_t)me;
        d.m.height = k;
        d.m.round = N->commits[k].round;
        d.m.step = CNS_PRECOMMIT;
        memcpy(d.m.value, N->commits[k].value, CNS_HASH_LEN);
        d.signers = N->commits[k].signers;
        send(S, me, peer, &d);
    }
}

static void receive(sim_t *S, uint32_t me, const smsg *m)
{
    node_t *N = &S->node[me];
    uint32_t from = m->from;
    switch (m->kind) {
    case M_PROPOSAL:
    case M_VOTE: {
        uint64_t h = m->m.height;
        if (m->kind == M_PROPOSAL && m->block)
            cand_add(S, N, h, m->m.value);
        if (m->kind == M_PROPOSAL && h == N->eng.height + 1) {
            N->future[N->n_future < FUTURE_PROPS ? N->n_future++ : rng_below(&S->rng, FUTURE_PROPS)] = *m;
            return;
        }
        if (h != N->eng.height && h != N->eng.height + 1)
            break;
        if (m->kind == M_PROPOSAL && !cand_has(N, m->m.value)) {
            /* Without its block a proposal cannot be judged: the fixed node asks the
             * sender for it (the proposal comes again with the proposer's re-send). */
            if (!N->byz)
                request_block(S, me, (int)from, h, m->m.value);
            break;
        }
        if (m->kind == M_VOTE && S->opt.legacy_node && legacy_seen(N, &m->m, m->signer))
            break; /* stored before: the legacy node did not hand it to the engine again */
        engine_msg(S, me, m);
        break;
    }
    case M_BLOCKREQ:
        if (N->byz || !cand_has(N, m->m.value) ||
            (N->blk_t[from] && S->now < N->blk_t[from] + REPLY_MS))
            return;
        N->blk_t[from] = S->now;
        {
            smsg b = *m;
            b.kind = M_BLOCK;
            b.signer = (uint8_t)me;
            send(S, me, from, &b);
        }
        break;
    case M_BLOCK:
        cand_add(S, N, m->m.height, m->m.value);
        break;
    case M_DECISION: {
        uint64_t h = m->m.height;
        if (h > N->tip + 1 + (N->applying ? 1 : 0) && h <= N->tip + DECISIONS && h < HMAX) {
            N->ahead[h % DECISIONS] = *m; /* applied in order, after those below */
            return;
        }
        if (N->applying || h != N->tip + 1 || h >= HMAX)
            return;
        if (!certificate_ok(S, h, m->m.round, m->m.value, m->signers)) {
            S->res->fake_decisions_refused++;
            return;
        }
        do_commit(S, me, h, m->m.round, m->m.value, m->signers, false);
        break;
    }
    case M_STATUS: {
        /* A peer behind us: the decisions it lacks, or what we hold of its round. */
        uint64_t h = m->m.height;
        if (N->byz || from == me)
            return;
        if (h <= N->tip) {
            reply_decisions(S, me, from, h);
        } else if (h == N->eng.height && !N->applying && m->m.round < N->eng.round &&
                   !(N->rnd_h[from] == h && N->rnd_r[from] == m->m.round &&
                     S->now < N->rnd_t[from] + REPLY_MS)) {
            N->rnd_h[from] = h;
            N->rnd_r[from] = m->m.round;
            N->rnd_t[from] = S->now;
            send_round(S, me, from, m->m.round, false);
            send_own(S, me, (int)from);
        }
        break;
    }
    case M_FETCH:
        if (N->byz || m->m.height != N->eng.height || N->applying)
            return;
        if (N->fet_r[from] == m->m.round && S->now < N->fet_t[from] + REPLY_MS)
            return;
        N->fet_r[from] = m->m.round;
        N->fet_t[from] = S->now;
        send_round(S, me, from, m->m.round, true);
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Setting up a run                                                                          */

static const struct {
    uint32_t n;
    uint64_t p[MAXN];
    unsigned weight;
} CONFIGS[] = {
    {4, {1, 1, 1, 1}, 25},
    {7, {1, 1, 1, 1, 1, 1, 1}, 20},
    {4, {4, 3, 2, 1}, 12},
    {7, {10, 7, 5, 4, 3, 2, 1}, 12},
    {4, {100, 1, 1, 1}, 3},   /* three Byzantine validators hold less than a third          */
    {5, {1, 1, 1, 1, 1}, 5},
    {1, {1}, 3},
    {0, {0}, 20},             /* random: 2..10 validators, powers 1..10                     */
};

static void setup(sim_t *S)
{
    rng_t *R = &S->rng;
    unsigned sum = 0, pick;
    for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++)
        sum += CONFIGS[i].weight;
    pick = (unsigned)rng_below(R, sum);
    size_t c = 0;
    while (pick >= CONFIGS[c].weight)
        pick -= CONFIGS[c++].weight;
    memset(&S->cfg, 0, sizeof S->cfg);
    if (CONFIGS[c].n) {
        S->n = CONFIGS[c].n;
        memcpy(S->cfg.power, CONFIGS[c].p, sizeof CONFIGS[c].p);
    } else {
        S->n = 2 + (uint32_t)rng_below(R, MAXN - 1);
        for (uint32_t i = 0; i < S->n; i++)
            S->cfg.power[i] = 1 + rng_below(R, 10);
    }
    S->cfg.n_validators = S->n;
    memset(&S->g, 0, sizeof S->g);
    S->g.n_validators = S->n;
    for (uint32_t i = 0; i < S->n; i++)
        S->g.validators[i] = sim_key(i);
    S->cfg.propose_ms = 40, S->cfg.propose_delta_ms = 20;
    S->cfg.prevote_ms = 20, S->cfg.prevote_delta_ms = 10;
    S->cfg.precommit_ms = 20, S->cfg.precommit_delta_ms = 10;
    S->total = 0;
    for (uint32_t i = 0; i < S->n; i++)
        S->total += S->cfg.power[i];

    /* Byzantine validators: a random set with less than a third of the power. */
    uint64_t fmax = (S->total - 1) / 3, fp = 0;
    S->byz_mask = 0;
    uint64_t mode = rng_below(R, 4);
    if (mode > 0 || S->opt.forced_fault) {
        uint32_t order[MAXN];
        for (uint32_t i = 0; i < S->n; i++)
            order[i] = i;
        for (uint32_t i = S->n; i > 1; i--) {
            uint32_t j = (uint32_t)rng_below(R, i), t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        uint32_t limit = mode == 1 ? 1 : S->n;
        for (uint32_t i = 0, k = 0; i < S->n && k < limit; i++)
            if (fp + S->cfg.power[order[i]] <= fmax) {
                fp += S->cfg.power[order[i]];
                S->byz_mask |= 1u << order[i];
                k++;
            }
    }
    S->res->n = S->n;
    S->res->n_byz = (uint32_t)__builtin_popcount(S->byz_mask);

    /* The network before GST. */
    S->gst = rng_chance(R, 0.15) ? 0 : 200 + rng_below(R, 3800);
    S->p_drop = rng_chance(R, 0.2) ? 0 : 0.4 * (double)rng_below(R, 1000) / 1000;
    S->p_dup = 0.1 * (double)rng_below(R, 1000) / 1000;
    S->delay_max = 2 + (uint32_t)rng_below(R, 40);
    S->p_tail = 0.1 * (double)rng_below(R, 1000) / 1000;
    S->tail_max = 1 + (uint32_t)rng_below(R, 800);
    S->p_crash_mid = rng_chance(R, 0.5) ? 0 : 0.02 * (double)rng_below(R, 1000) / 1000;
    S->p_byz = 0.2 + 0.8 * (double)rng_below(R, 1000) / 1000;
    S->p_crash_prop = S->p_crash_mid;
    /* Lock-heavy schedules: a long, lossy time before GST in which proposers often crash
     * right after proposing (the block goes down with them) and others right after
     * locking, so that heights run many rounds, past the engine's window of rounds, with
     * validators locked on values others never saw (issue 8: a cluster stalled so). */
    if (rng_chance(R, 0.25)) {
        S->res->lock_heavy = true;
        S->gst = 3000 + rng_below(R, 9000);
        S->p_drop = 0.15 + 0.45 * (double)rng_below(R, 1000) / 1000;
        S->p_crash_mid = 0.01 + 0.04 * (double)rng_below(R, 1000) / 1000;
        S->p_crash_prop = 0.1 + 0.5 * (double)rng_below(R, 1000) / 1000;
    }
    S->after_gst = S->gst == 0;

    for (uint32_t i = 0; i < S->n; i++) {
        node_t *N = &S->node[i];
        memset(N, 0, sizeof *N);
        N->byz = S->byz_mask >> i & 1;
        /* Half the Byzantine validators run a clock an hour ahead; drawn off the main
         * stream so that the schedules of the seeds stay what they were. */
        uint64_t x = S->opt.seed * 31 + i;
        N->clock_ahead_ms = N->byz && (splitmix64(&x) & 1) ? FAST_CLOCK_MS : 0;
        N->up = true;
        cns_record_init(&N->durable);
        if (cns_tm_init(&N->eng, &S->cfg, (int32_t)i, NULL))
            sim_fail(S, "init failed");
    }

    /* Faults before GST: crashes of honest nodes, partitions. */
    uint64_t n_crash = S->gst ? rng_below(R, S->opt.forced_fault || S->res->lock_heavy ? 12 : 5) : 0;
    for (uint64_t k = 0; k < n_crash; k++) {
        uint32_t who = (uint32_t)rng_below(R, S->n);
        if (S->node[who].byz)
            continue;
        uint64_t at = rng_below(R, S->gst), dur = 20 + rng_below(R, 1500);
        event ev;
        memset(&ev, 0, sizeof ev);
        ev.t = at;
        ev.kind = EV_CRASH;
        ev.node = (uint8_t)who;
        push(S, ev);
        ev.t = at + dur < S->gst ? at + dur : S->gst;
        ev.kind = EV_RESTART;
        push(S, ev);
    }
    uint64_t n_part = S->gst ? rng_below(R, 4) : 0;
    for (uint64_t k = 0; k < n_part; k++) {
        event ev;
        memset(&ev, 0, sizeof ev);
        ev.t = rng_below(R, S->gst);
        ev.kind = EV_PARTITION;
        ev.round = (uint32_t)rng_next(R) & ((1u << S->n) - 1);
        push(S, ev);
        ev.t += 50 + rng_below(R, 1000);
        ev.kind = EV_HEAL;
        push(S, ev);
    }
    event g;
    memset(&g, 0, sizeof g);
    g.t = S->gst;
    g.kind = EV_GST;
    push(S, g);
    for (uint32_t i = 0; i < S->n; i++)
        push_node_ev(S, EV_GOSSIP, i, 1 + rng_below(R, GOSSIP_MS), 0, 0, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* The run                                                                                   */

static bool all_reached(const sim_t *S)
{
    for (uint32_t i = 0; i < S->n; i++)
        if (!S->node[i].byz && S->node[i].tip < S->target)
            return false;
    return true;
}

static void on_gst(sim_t *S)
{
    S->after_gst = true;
    S->part_mask = 0;
    trace(S, -1, "GST", 0, 0, 0, NULL);
    for (uint32_t i = 0; i < S->n; i++)
        restart(S, i);
    uint64_t top = 0;
    for (uint32_t i = 0; i < S->n; i++)
        if (!S->node[i].byz && S->node[i].tip > top)
            top = S->node[i].tip;
    S->target = top + TARGET_HEIGHTS;
    if (S->target >= HMAX - 1)
        S->target = HMAX - 1;
}

static void step(sim_t *S, const event *ev)
{
    node_t *N = &S->node[ev->node];
    cns_tm_actions out;
    switch (ev->kind) {
    case EV_DELIVER:
        if (N->up)
            receive(S, ev->node, &ev->msg);
        break;
    case EV_TIMEOUT:
        if (!N->up || ev->epoch != N->epoch)
            break;
        if (cns_tm_on_timeout(&N->eng, ev->height, ev->round, (cns_step)ev->step, &out))
            sim_fail(S, "node %u: timeout refused", ev->node);
        else
            run_actions(S, ev->node, &out);
        break;
    case EV_VALUE: {
        if (!N->up || ev->epoch != N->epoch)
            break;
        uint8_t v[CNS_HASH_LEN];
        make_value(S, 0x01, ev->node, v);
        cand_add(S, N, ev->height, v);
        if (cns_tm_on_value(&N->eng, ev->height, ev->round, v, &out))
            sim_fail(S, "node %u: value refused", ev->node);
        else
            run_actions(S, ev->node, &out);
        break;
    }
    case EV_APPLIED:
        if (N->up && ev->epoch == N->epoch && N->tip == ev->height && N->applying &&
            ev->height + 1 < HMAX) {
            start_height(S, ev->node, ev->height + 1);
            smsg *d = &N->ahead[(ev->height + 1) % DECISIONS];
            if (N->up && d->kind == M_DECISION && d->m.height == ev->height + 1) {
                smsg copy = *d;
                memset(d, 0, sizeof *d);
                receive(S, ev->node, &copy);
            }
        }
        break;
    case EV_GOSSIP:
        if (N->up) {
            if (N->byz)
                byz_tick(S, ev->node);
            else if (!N->applying) {
                send_own(S, ev->node, -1);
                smsg st;
                memset(&st, 0, sizeof st);
                st.kind = M_STATUS;
                st.signer = ev->node;
                st.m.height = N->eng.height;
                st.m.round = N->eng.round;
                broadcast(S, ev->node, &st);
            }
        }
        push_node_ev(S, EV_GOSSIP, ev->node, GOSSIP_MS / 2 + rng_below(&S->rng, GOSSIP_MS), 0, 0, 0);
        break;
    case EV_CRASH:
        if (!S->after_gst)
            crash(S, ev->node);
        break;
    case EV_RESTART:
        restart(S, ev->node);
        break;
    case EV_PARTITION:
        if (!S->after_gst) {
            S->part_mask = ev->round ? ev->round : 1;
            trace(S, -1, "PRT", 0, 0, S->part_mask, NULL);
        }
        break;
    case EV_HEAL:
        S->part_mask = 0;
        trace(S, -1, "HEL", 0, 0, 0, NULL);
        break;
    case EV_GST:
        on_gst(S);
        break;
    }
}

bool sim_run(const sim_options *o, sim_result *res)
{
    static sim_t world; /* large: kept out of the stack; one run at a time per process */
    sim_t *S = &world;
    event *heap = S->heap;
    size_t cap = S->cap_heap;
    memset(S, 0, sizeof *S);
    S->heap = heap, S->cap_heap = cap;
    memset(res, 0, sizeof *res);
    S->opt = *o;
    S->res = res;
    rng_seed(&S->rng, o->seed);
    sig_reset();
    setup(S);
    for (uint32_t i = 0; i < S->n && !S->failed; i++)
        start_height(S, i, 1);

    bool live = false;
    while (!S->failed && S->n_heap) {
        event ev = pop(S);
        S->now = ev.t;
        if (++res->events > MAX_EVENTS) {
            sim_fail(S, "more than %d events: a livelock?", MAX_EVENTS);
            break;
        }
        step(S, &ev);
        if (S->after_gst && all_reached(S)) {
            live = true;
            break;
        }
        if (S->after_gst && S->now > S->gst + LIVE_MS) {
            sim_fail(S, "LIVENESS: %d ms after GST not every honest node reached height %" PRIu64,
                 LIVE_MS, S->target);
            break;
        }
    }
    if (!S->failed && !live)
        sim_fail(S, "the run ended without reaching its target");

    res->ok = !S->failed;
    res->end_ms = S->now;
    res->gst_ms = S->gst;
    res->live_ms = live ? S->now - S->gst : 0;
    for (uint32_t i = 0; i < S->n; i++) {
        const cns_tm *e = &S->node[i].eng;
        if (S->node[i].byz)
            continue;
        res->equivocations += e->equivocations;
        res->refused += e->refused;
        if (e->round > res->max_round)
            res->max_round = e->round;
    }
    if (!res->ok && !o->quiet) {
        fprintf(stderr, "SIM FAILURE seed %" PRIu64 ": %s\n", o->seed, res->what);
        fprintf(stderr, "  n=%u powers:", S->n);
        for (uint32_t i = 0; i < S->n; i++)
            fprintf(stderr, " %" PRIu64 "%s", S->cfg.power[i], S->node[i].byz ? "(byz)" : "");
        fprintf(stderr, "\n  gst=%" PRIu64 " now=%" PRIu64 " drop=%.2f target=%" PRIu64 "\n",
                S->gst, S->now, S->p_drop, S->target);
        for (uint32_t i = 0; i < S->n; i++) {
            const node_t *N = &S->node[i];
            fprintf(stderr, "  node %u%s %s tip=%" PRIu64 " height=%" PRIu64 " round=%u step=%d "
                    "locked=%d valid=%d decided=%d\n", i, N->byz ? " (byz)" : "",
                    N->up ? "up" : "down", N->tip, N->eng.height, N->eng.round, (int)N->eng.step,
                    N->eng.locked_round, N->eng.valid_round, N->eng.decided);
        }
        print_trace(S, 80);
        fprintf(stderr, "replay: build/tests/consensus/test_simulator --seed %" PRIu64
                " [--verbose]\n", o->seed);
    }
    return res->ok;
}
