/*
 * The Tendermint engine: Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
 * Milosevic 2018) as a pure state machine. The line numbers in comments refer to Algorithm 1
 * of that paper.
 *
 * Invariants:
 * - Every message this engine asks to sign passed cns_may_sign against e->record and was
 *   recorded with cns_record_update before the action was emitted.
 * - valid_round >= locked_round, and both values are ones the node reported valid.
 * - A height is decided at most once; after COMMIT nothing more happens at that height.
 * - At most one StartRound per event, so one event emits at most 11 actions (StartRound 2,
 *   a prevote or a fetch 1 and its fallback timeout 1, a precommit 1 and its fallback 1,
 *   two timeouts 2, a commit 1, the re-send of the recorded vote on restart 1 and its
 *   fallback 1), within CNS_TM_MAX_ACTIONS.
 *
 * Deviations from the paper, all of them safe (safety rests only on the vote record, the
 * locks and the 2f+1 thresholds) and documented in docs/consensus.md:
 * - Line 49 accepts the decided value when any proposal of this height carried it and the
 *   node found it valid (or it is our locked/valid value), not only the proposal of the
 *   deciding round: a node that missed that one proposal still decides.
 * - Line 55 skips to the highest round r such that validators whose latest message is from
 *   a round >= r hold more than 1/3 of the power (the paper: f+1 messages of round r). The
 *   paper's trigger implies ours; ours also gathers validators spread over several higher
 *   rounds, which is what lets a node that lost messages catch up after a partition.
 * - getValue is asynchronous (BUILD / cns_tm_on_value), so the proposer too schedules
 *   timeoutPropose, in case its node cannot build a block in time.
 * - A restarted engine resumes at the round of its record, with its lock from the record,
 *   and re-broadcasts the vote it had signed last (the same message again).
 * - An equivocator's vote counts for each value it signed (first vote plus one alternate
 *   per validator, round and type; see cns_tm_round), so that a proof-of-lock can form
 *   here even when a Byzantine validator sent us a conflicting vote first.
 */
#include <string.h>

#include "consensus/consensus.h"

#define NONE (-1)

const char *cns_strerror(int err)
{
    switch (err) {
    case CNS_OK: return "ok";
#define CNS_ERR_STR_(name, value, msg) case value: return msg;
        CNS_ERRORS(CNS_ERR_STR_)
#undef CNS_ERR_STR_
    }
    return "unknown error";
}

/* ---------------------------------------------------------------------------------------- */
/* The vote record                                                                           */

void cns_record_init(cns_vote_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->locked_round = NONE;
}

static bool msg_ok(const cns_msg *m)
{
    if (m->height == 0 || m->round > CNS_TM_MAX_ROUND || m->step > CNS_PRECOMMIT)
        return false;
    if (m->step == CNS_PROPOSE)
        return !m->nil && m->valid_round >= NONE && m->valid_round < (int64_t)m->round;
    return true;
}

/* Order of (height, round, step): <0, 0, >0. */
static int hrs_cmp(uint64_t h, uint32_t r, uint8_t s, const cns_msg *b)
{
    if (h != b->height)
        return h < b->height ? -1 : 1;
    if (r != b->round)
        return r < b->round ? -1 : 1;
    if (s != b->step)
        return s < b->step ? -1 : 1;
    return 0;
}

static bool same_content(const cns_msg *a, const cns_msg *b)
{
    if (a->nil != b->nil)
        return false;
    if (!a->nil && memcmp(a->value, b->value, CNS_HASH_LEN) != 0)
        return false;
    return a->step != CNS_PROPOSE || a->valid_round == b->valid_round;
}

bool cns_may_sign(const cns_vote_record *rec, const cns_msg *m)
{
    if (!rec || !m || !msg_ok(m))
        return false;
    if (rec->last.height == 0)
        return true;
    int c = hrs_cmp(m->height, m->round, m->step, &rec->last);
    if (c != 0)
        return c > 0;
    return same_content(m, &rec->last);
}

void cns_record_update(cns_vote_record *rec, const cns_msg *m)
{
    if (m->height != rec->last.height) {
        rec->locked_round = NONE;
        memset(rec->locked_value, 0, CNS_HASH_LEN);
    }
    rec->last = *m;
    if (m->nil)
        memset(rec->last.value, 0, CNS_HASH_LEN);
    if (m->step == CNS_PRECOMMIT && !m->nil) {
        rec->locked_round = (int32_t)m->round;
        memcpy(rec->locked_value, m->value, CNS_HASH_LEN);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration, timeouts, proposer                                                         */

int cns_tm_config_check(const cns_tm_config *cfg)
{
    if (!cfg || cfg->n_validators == 0 || cfg->n_validators > CNS_TM_MAX_VALIDATORS)
        return CNS_EINVAL;
    uint64_t total = 0;
    for (uint32_t i = 0; i < cfg->n_validators; i++) {
        if (cfg->power[i] == 0 || cfg->power[i] > (uint64_t)CNS_TM_MAX_TOTAL_POWER)
            return CNS_EINVAL;
        total += cfg->power[i];
        if (total > (uint64_t)CNS_TM_MAX_TOTAL_POWER)
            return CNS_EINVAL;
    }
    return CNS_OK;
}

uint32_t cns_tm_timeout(const cns_tm_config *cfg, cns_step step, uint32_t round)
{
    uint64_t base, delta;
    switch (step) {
    case CNS_PROPOSE: base = cfg->propose_ms, delta = cfg->propose_delta_ms; break;
    case CNS_PREVOTE: base = cfg->prevote_ms, delta = cfg->prevote_delta_ms; break;
    default: base = cfg->precommit_ms, delta = cfg->precommit_delta_ms; break;
    }
    uint64_t t = base + (uint64_t)round * delta; /* < 2^32 + 2^30 * 2^32: no overflow */
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static uint64_t total_power(const cns_tm_config *cfg)
{
    uint64_t t = 0;
    for (uint32_t i = 0; i < cfg->n_validators; i++)
        t += cfg->power[i];
    return t;
}

/* Floor division, as Go's big.Int Div for a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* CometBFT's ValidatorSet.IncrementProposerPriority(1): rescale so that the spread stays
 * within 2 * total, centre on the average, add each power, pick the highest (ties to the
 * lower index) and charge it the total. Priorities stay within [-3 total, 3 total], so the
 * sums below fit an int64 under CNS_TM_MAX_TOTAL_POWER. Returns the pick. */
static uint32_t prio_increment(const cns_tm_config *cfg, uint64_t total, int64_t *prio)
{
    uint32_t n = cfg->n_validators;
    int64_t mx = prio[0], mn = prio[0], sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (prio[i] > mx)
            mx = prio[i];
        if (prio[i] < mn)
            mn = prio[i];
    }
    int64_t window = 2 * (int64_t)total, diff = mx - mn;
    if (diff > window) {
        int64_t ratio = (diff + window - 1) / window;
        for (uint32_t i = 0; i < n; i++)
            prio[i] /= ratio;
    }
    for (uint32_t i = 0; i < n; i++)
        sum += prio[i];
    int64_t avg = floor_div(sum, (int64_t)n);
    uint32_t best = 0;
    for (uint32_t i = 0; i < n; i++) {
        prio[i] = prio[i] - avg + (int64_t)cfg->power[i];
        if (prio[i] > prio[best])
            best = i;
    }
    prio[best] -= (int64_t)total;
    return best;
}

/* Advance prio by k increments. From all-zero priorities the state repeats every `total`
 * increments (smooth weighted round robin picks each validator exactly power[i] times per
 * period, so each priority gains and loses power[i] * total), so only k mod total matter
 * there; tests/consensus/test_tendermint.c checks this against the plain loop. */
static void prio_advance(const cns_tm_config *cfg, uint64_t total, int64_t *prio, uint64_t k)
{
    k %= total;
    while (k--)
        prio_increment(cfg, total, prio);
}

uint32_t cns_tm_proposer(const cns_tm_config *cfg, uint64_t height, uint32_t round)
{
    int64_t prio[CNS_TM_MAX_VALIDATORS] = {0};
    uint64_t total = total_power(cfg);
    prio_advance(cfg, total, prio, (height - 1) % total);
    prio_advance(cfg, total, prio, round % total);
    return prio_increment(cfg, total, prio);
}

/* The proposer of round r of the current height, through the round cache. */
static uint32_t proposer_of(cns_tm *e, uint32_t r)
{
    uint32_t n = e->cfg.n_validators;
    if (r < e->prio_cache_round) {
        memcpy(e->prio_cache, e->prio_base, n * sizeof *e->prio_cache);
        e->prio_cache_round = 0;
    }
    prio_advance(&e->cfg, e->total_power, e->prio_cache, r - e->prio_cache_round);
    e->prio_cache_round = r;
    int64_t tmp[CNS_TM_MAX_VALIDATORS];
    memcpy(tmp, e->prio_cache, n * sizeof *tmp);
    return prio_increment(&e->cfg, e->total_power, tmp);
}

/* ---------------------------------------------------------------------------------------- */
/* Tallies                                                                                   */

static bool quorum(const cns_tm *e, uint64_t p) /* more than 2/3: "2f+1" */
{
    return 3 * p > 2 * e->total_power;
}

static bool third(const cns_tm *e, uint64_t p) /* more than 1/3: "f+1" */
{
    return 3 * p > e->total_power;
}

static bool vote_is(const cns_tm_round *s, int slot, int t, uint32_t i, int kind,
                    const uint8_t *v)
{
    uint8_t k = s->vote[slot][t][i];
    return k != 0 && (kind == 0 || (kind == 1 && k == 1) ||
                      (kind == 2 && k == 2 && memcmp(s->vote_value[slot][t][i], v, CNS_HASH_LEN) == 0));
}

/* Power of the votes of type t (0 prevote, 1 precommit) in s: any (kind 0; each validator
 * once), nil (kind 1), or for value v (kind 2); a validator counts if its first vote or its
 * alternate matches. */
static uint64_t tally(const cns_tm *e, const cns_tm_round *s, int t, int kind, const uint8_t *v)
{
    uint64_t p = 0;
    for (uint32_t i = 0; i < e->cfg.n_validators; i++)
        if (vote_is(s, 0, t, i, kind, v) || (kind != 0 && vote_is(s, 1, t, i, kind, v)))
            p += e->cfg.power[i];
    return p;
}

/* The highest round r such that validators whose latest message at this height is from a
 * round >= r hold more than 1/3 of the power (line 55, generalised); 0 if none. */
static uint32_t skip_target(const cns_tm *e)
{
    uint32_t rounds[CNS_TM_MAX_VALIDATORS];
    uint64_t power[CNS_TM_MAX_VALIDATORS];
    uint32_t m = 0;
    for (uint32_t i = 0; i < e->cfg.n_validators; i++) {
        if (!(e->seen >> i & 1))
            continue;
        /* insertion sort, highest round first */
        uint32_t j = m++;
        while (j > 0 && rounds[j - 1] < e->max_round[i]) {
            rounds[j] = rounds[j - 1];
            power[j] = power[j - 1];
            j--;
        }
        rounds[j] = e->max_round[i];
        power[j] = e->cfg.power[i];
    }
    uint64_t acc = 0;
    for (uint32_t j = 0; j < m; j++) {
        acc += power[j];
        if (third(e, acc))
            return rounds[j];
    }
    return 0;
}

static void note_round(cns_tm *e, uint32_t sender, uint32_t r)
{
    if (!(e->seen >> sender & 1) || r > e->max_round[sender]) {
        e->seen |= 1u << sender;
        e->max_round[sender] = r;
    }
    if (r > e->highest_round)
        e->highest_round = r;
}

/* ---------------------------------------------------------------------------------------- */
/* Round slots                                                                               */

static cns_tm_round *slot_find(cns_tm *e, uint32_t r)
{
    for (size_t i = 0; i < CNS_TM_ROUND_SLOTS; i++)
        if (e->slots[i].used && e->slots[i].round == r)
            return &e->slots[i];
    return NULL;
}

/* A round the rules may still need: the current one and above, the lock, the valid value,
 * the round whose prevotes the current proposal relies on. */
static bool round_protected(cns_tm *e, uint32_t r)
{
    if (r >= e->round || (int64_t)r == e->locked_round || (int64_t)r == e->valid_round)
        return true;
    const cns_tm_round *cur = slot_find(e, e->round);
    return cur && cur->has_proposal && (int64_t)r == cur->proposal_vr;
}

/* The slot of round r, made if needed: rounds above round + CNS_TM_FUTURE_ROUNDS are not
 * kept, and when all slots are taken the lowest unprotected past round gives way to a
 * higher round or to a protected one. NULL when the message cannot be kept. Invalidates
 * earlier slot pointers when it makes a slot. */
static cns_tm_round *slot_get(cns_tm *e, uint32_t r)
{
    cns_tm_round *s = slot_find(e, r);
    if (s)
        return s;
    if ((uint64_t)r > (uint64_t)e->round + CNS_TM_FUTURE_ROUNDS)
        return NULL;
    for (size_t i = 0; i < CNS_TM_ROUND_SLOTS && !s; i++)
        if (!e->slots[i].used)
            s = &e->slots[i];
    if (!s) {
        for (size_t i = 0; i < CNS_TM_ROUND_SLOTS; i++) {
            cns_tm_round *c = &e->slots[i];
            if (!round_protected(e, c->round) && (!s || c->round < s->round))
                s = c;
        }
        if (!s || (s->round > r && !round_protected(e, r)))
            return NULL;
    }
    memset(s, 0, sizeof *s);
    s->used = true;
    s->round = r;
    s->proposer = proposer_of(e, r);
    s->proposal_vr = NONE;
    return s;
}

/* Does a vote of type t for (kind, v) matter in round s: a vote for its proposal, or a
 * prevote for the value a current proposal says had 2f+1 prevotes here? */
static bool vote_wanted(const cns_tm_round *s, int t, uint8_t kind, const uint8_t *v)
{
    if (kind != 2)
        return false;
    if (s->has_proposal && memcmp(s->proposal_value, v, CNS_HASH_LEN) == 0)
        return true;
    return t == 0 && s->has_want && memcmp(s->want_value, v, CNS_HASH_LEN) == 0;
}

/* Keep a vote. The first vote of a validator for (round, type) is kept, repeats are
 * ignored, and a conflicting one is equivocation: counted, flagged, and kept as the
 * alternate if there is none yet or if it is wanted and the alternate is not. Returns true
 * if the vote was kept. */
static bool store_vote(cns_tm *e, cns_tm_round *s, uint32_t from, const cns_msg *m)
{
    int t = m->step - 1;
    uint8_t kind = m->nil ? 1 : 2;
    if (!s->vote[0][t][from]) {
        s->vote[0][t][from] = kind;
        if (kind == 2)
            memcpy(s->vote_value[0][t][from], m->value, CNS_HASH_LEN);
        return true;
    }
    if (vote_is(s, 0, t, from, kind, m->value) || vote_is(s, 1, t, from, kind, m->value))
        return false;
    e->equivocators |= 1u << from;
    e->equivocations++;
    uint8_t alt = s->vote[1][t][from];
    if (alt && (!vote_wanted(s, t, kind, m->value) ||
                vote_wanted(s, t, alt, s->vote_value[1][t][from])))
        return false;
    s->vote[1][t][from] = kind;
    memset(s->vote_value[1][t][from], 0, CNS_HASH_LEN);
    if (kind == 2)
        memcpy(s->vote_value[1][t][from], m->value, CNS_HASH_LEN);
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Actions                                                                                   */

static cns_tm_action *emit(cns_tm *e, cns_tm_actions *out, cns_tm_action_type type)
{
    if (out->n >= CNS_TM_MAX_ACTIONS) {
        e->lost_actions++;
        return NULL;
    }
    cns_tm_action *a = &out->a[out->n++];
    memset(a, 0, sizeof *a);
    a->type = type;
    a->height = e->height;
    a->round = e->round;
    return a;
}

static void schedule(cns_tm *e, cns_step step, cns_tm_actions *out)
{
    cns_tm_action *a = emit(e, out, CNS_TM_SCHEDULE);
    if (a) {
        a->step = step;
        a->delay_ms = cns_tm_timeout(&e->cfg, step, e->round);
    }
}

/* A fallback for a step that waits on others: after our prevote (precommit) of this round,
 * its timeout fires after the round's three timeouts together even if 2f+1 prevotes
 * (precommits) of any kind never arrive. The paper starts those timeouts only on 2f+1
 * votes (lines 34 and 47), relying on every correct process relaying what it received; a
 * validator that restarted has forgotten what it received, and a Byzantine one that sent
 * a vote to some only can leave the others one vote short for good (the simulator's seed
 * 18681: two validators waited in the precommit step while the third, restarted, waited in
 * the next round). Leaving a round is always safe (safety rests on the record, the locks
 * and the thresholds), and a decision of an earlier round is still taken (line 49 looks at
 * every round kept). */
static void schedule_fallback(cns_tm *e, cns_step step, cns_tm_actions *out)
{
    cns_tm_action *a = emit(e, out, CNS_TM_SCHEDULE);
    if (a) {
        uint64_t d = (uint64_t)cns_tm_timeout(&e->cfg, CNS_PROPOSE, e->round) +
                     cns_tm_timeout(&e->cfg, CNS_PREVOTE, e->round) +
                     cns_tm_timeout(&e->cfg, CNS_PRECOMMIT, e->round);
        a->step = step;
        a->delay_ms = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
}

/* The validators whose votes of type t for v in round s count (first or alternate). */
static void list_voters(const cns_tm *e, const cns_tm_round *s, int t, const uint8_t *v,
                        cns_tm_action *a)
{
    for (uint32_t i = 0; i < e->cfg.n_validators; i++)
        if (vote_is(s, 0, t, i, 2, v) || vote_is(s, 1, t, i, 2, v))
            a->signers[a->n_signers++] = (uint8_t)i;
}

/* Ask for a signature of m: only if the record allows it, and after recording it. A lock
 * (non-nil precommit) lists the prevotes behind it, for the node to keep. */
static bool sign(cns_tm *e, const cns_msg *m, cns_tm_actions *out)
{
    if (e->self < 0)
        return false;
    if (!cns_may_sign(&e->record, m)) {
        e->refused++;
        return false;
    }
    cns_record_update(&e->record, m);
    cns_tm_action *a = emit(e, out, m->step == CNS_PROPOSE ? CNS_TM_PROPOSE : CNS_TM_VOTE);
    if (a) {
        a->round = m->round;
        a->msg = *m;
        a->record = e->record;
        const cns_tm_round *s = m->step == CNS_PRECOMMIT && !m->nil ? slot_find(e, m->round) : NULL;
        if (s)
            list_voters(e, s, 0, m->value, a);
    }
    return true;
}

static bool value_known_valid(cns_tm *e, const uint8_t *v)
{
    if (e->locked_round != NONE && memcmp(e->locked_value, v, CNS_HASH_LEN) == 0)
        return true;
    if (e->valid_round != NONE && memcmp(e->valid_value, v, CNS_HASH_LEN) == 0)
        return true;
    for (size_t i = 0; i < CNS_TM_ROUND_SLOTS; i++) {
        const cns_tm_round *s = &e->slots[i];
        if (s->used && s->has_proposal && s->proposal_valid &&
            memcmp(s->proposal_value, v, CNS_HASH_LEN) == 0)
            return true;
    }
    return false;
}

/* Line 49: 2f+1 precommits for v in round r and v is a valid proposed value. */
static void try_commit(cns_tm *e, uint32_t r, const uint8_t *v, cns_tm_actions *out)
{
    cns_tm_round *s = slot_find(e, r);
    if (e->decided || !s || !quorum(e, tally(e, s, 1, 2, v)) || !value_known_valid(e, v))
        return;
    e->decided = true;
    cns_tm_action *a = emit(e, out, CNS_TM_COMMIT);
    if (!a)
        return;
    a->round = r;
    memcpy(a->value, v, CNS_HASH_LEN);
    list_voters(e, s, 1, v, a);
}

/* Broadcast our vote of type step in the current round (v NULL: nil) and move to that step;
 * our own vote counts like any other. */
static void cast_vote(cns_tm *e, cns_step step, const uint8_t *v, cns_tm_actions *out)
{
    cns_msg m;
    memset(&m, 0, sizeof m);
    m.height = e->height;
    m.round = e->round;
    m.step = (uint8_t)step;
    m.nil = v == NULL;
    if (v)
        memcpy(m.value, v, CNS_HASH_LEN);
    e->step = step;
    if (!sign(e, &m, out))
        return;
    cns_tm_round *s = slot_get(e, e->round);
    if (s && store_vote(e, s, (uint32_t)e->self, &m) && step == CNS_PRECOMMIT && v)
        try_commit(e, e->round, v, out);
    if (!e->decided)
        schedule_fallback(e, step, out);
}

/* Broadcast our proposal for the current round; we receive it like any other. */
static void cast_proposal(cns_tm *e, const uint8_t *v, int32_t vr, cns_tm_actions *out)
{
    cns_msg m;
    memset(&m, 0, sizeof m);
    m.height = e->height;
    m.round = e->round;
    m.step = CNS_PROPOSE;
    memcpy(m.value, v, CNS_HASH_LEN);
    m.valid_round = vr;
    if (!sign(e, &m, out))
        return;
    cns_tm_round *s = slot_get(e, e->round);
    if (s && !s->has_proposal) {
        s->has_proposal = s->proposal_valid = true;
        s->proposal_vr = vr;
        memcpy(s->proposal_value, v, CNS_HASH_LEN);
    }
}

/* The prevotes of round r for v matter now (a proposal of the current round cites them):
 * keep that round and let equivocators' votes for v in. Invalidates slot pointers. */
static void want(cns_tm *e, uint32_t r, const uint8_t *v)
{
    uint8_t val[CNS_HASH_LEN];
    memcpy(val, v, CNS_HASH_LEN);
    cns_tm_round *s = slot_get(e, r);
    if (s) {
        s->has_want = true;
        memcpy(s->want_value, val, CNS_HASH_LEN);
    }
}

/* Line 11: StartRound(r). */
static void start_round(cns_tm *e, uint32_t r, cns_tm_actions *out)
{
    e->round = r;
    e->step = CNS_PROPOSE;
    e->done34 = e->done36 = e->done47 = e->fetched = e->building = false;
    cns_tm_round *s = slot_get(e, r);
    if (e->self >= 0 && s && s->proposer == (uint32_t)e->self) {
        int c = e->record.last.height ? hrs_cmp(e->height, r, CNS_PROPOSE, &e->record.last) : 1;
        if (c == 0) /* restarted after proposing in this round: the same proposal again */
            cast_proposal(e, e->record.last.value, e->record.last.valid_round, out);
        else if (c < 0)
            ; /* signed past the proposal of this round before a restart: stay silent */
        else if (e->valid_round != NONE)
            cast_proposal(e, e->valid_value, e->valid_round, out);
        else if (emit(e, out, CNS_TM_BUILD))
            e->building = true;
    }
    schedule(e, CNS_PROPOSE, out);
}

/* Apply the rules of the current round until none fires. Rule order within an iteration
 * avoids timeouts that could never matter (36 and 44 before 34). */
static void progress(cns_tm *e, cns_tm_actions *out)
{
    for (int guard = 0; guard < 16 && !e->decided; guard++) {
        /* Line 55: enough power is in higher rounds. */
        if (e->highest_round > e->round) {
            uint32_t t = skip_target(e);
            if (t > e->round) {
                start_round(e, t, out);
                continue;
            }
        }
        cns_tm_round *s = slot_find(e, e->round);
        if (!s)
            return;
        const uint8_t *v = s->proposal_value;
        /* Lines 22 and 28: prevote on the proposal. */
        if (e->step == CNS_PROPOSE && s->has_proposal) {
            int32_t vr = s->proposal_vr;
            if (vr == NONE) {
                bool ok = s->proposal_valid &&
                          (e->locked_round == NONE || !memcmp(e->locked_value, v, CNS_HASH_LEN));
                cast_vote(e, CNS_PREVOTE, ok ? v : NULL, out);
                continue;
            }
            cns_tm_round *pol = slot_find(e, (uint32_t)vr);
            if (pol && quorum(e, tally(e, pol, 0, 2, v))) {
                bool ok = s->proposal_valid &&
                          (e->locked_round <= vr || !memcmp(e->locked_value, v, CNS_HASH_LEN));
                cast_vote(e, CNS_PREVOTE, ok ? v : NULL, out);
                continue;
            }
            if (!e->fetched) {
                cns_tm_action *a = emit(e, out, CNS_TM_FETCH);
                if (a)
                    a->round = (uint32_t)vr;
                e->fetched = true;
            }
        }
        /* Line 36: 2f+1 prevotes for the valid proposal: lock (if still prevoting), valid. */
        if (e->step >= CNS_PREVOTE && !e->done36 && s->has_proposal && s->proposal_valid &&
            quorum(e, tally(e, s, 0, 2, v))) {
            e->done36 = true;
            uint8_t val[CNS_HASH_LEN];
            memcpy(val, v, CNS_HASH_LEN); /* cast_vote may move slots */
            if (e->step == CNS_PREVOTE) {
                e->locked_round = (int32_t)e->round;
                memcpy(e->locked_value, val, CNS_HASH_LEN);
                cast_vote(e, CNS_PRECOMMIT, val, out);
            }
            e->valid_round = (int32_t)e->round;
            memcpy(e->valid_value, val, CNS_HASH_LEN);
            continue;
        }
        /* Line 44: 2f+1 nil prevotes. */
        if (e->step == CNS_PREVOTE && quorum(e, tally(e, s, 0, 1, NULL))) {
            cast_vote(e, CNS_PRECOMMIT, NULL, out);
            continue;
        }
        /* Line 34: 2f+1 prevotes of any kind. */
        if (e->step == CNS_PREVOTE && !e->done34 && quorum(e, tally(e, s, 0, 0, NULL))) {
            e->done34 = true;
            schedule(e, CNS_PREVOTE, out);
        }
        /* Line 47: 2f+1 precommits of any kind. */
        if (!e->done47 && quorum(e, tally(e, s, 1, 0, NULL))) {
            e->done47 = true;
            schedule(e, CNS_PRECOMMIT, out);
        }
        return;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Events                                                                                    */

int cns_tm_init(cns_tm *e, const cns_tm_config *cfg, int32_t self, const cns_vote_record *rec)
{
    if (!e || cns_tm_config_check(cfg) != CNS_OK || self < NONE ||
        (self >= 0 && (uint32_t)self >= cfg->n_validators))
        return CNS_EINVAL;
    if (rec && rec->last.height != 0 && !msg_ok(&rec->last))
        return CNS_EINVAL;
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->total_power = total_power(cfg);
    e->self = self;
    if (rec)
        e->record = *rec;
    else
        cns_record_init(&e->record);
    e->locked_round = e->valid_round = NONE;
    return CNS_OK;
}

static void begin(cns_tm_actions *out)
{
    out->n = 0;
}

int cns_tm_start_height(cns_tm *e, uint64_t height, cns_tm_actions *out)
{
    if (!e || !out || height == 0 || (e->started && height <= e->height))
        return CNS_EINVAL;
    begin(out);
    uint32_t n = e->cfg.n_validators;
    if (e->started && height == e->height + 1) {
        prio_increment(&e->cfg, e->total_power, e->prio_base);
    } else {
        memset(e->prio_base, 0, sizeof e->prio_base);
        prio_advance(&e->cfg, e->total_power, e->prio_base, height - 1);
    }
    memcpy(e->prio_cache, e->prio_base, n * sizeof *e->prio_cache);
    e->prio_cache_round = 0;

    e->started = true;
    e->decided = false;
    e->height = height;
    e->round = 0;
    e->step = CNS_PROPOSE;
    e->locked_round = e->valid_round = NONE;
    memset(e->locked_value, 0, CNS_HASH_LEN);
    memset(e->valid_value, 0, CNS_HASH_LEN);
    memset(e->slots, 0, sizeof e->slots);
    memset(e->max_round, 0, sizeof e->max_round);
    e->seen = 0;
    e->highest_round = 0;
    e->equivocators = 0;

    /* After a restart at the height of the record: the lock comes back, and with it the valid
     * value (valid_round >= locked_round must hold). */
    const cns_msg *last = &e->record.last;
    bool resume = last->height == height;
    if (resume && e->record.locked_round != NONE) {
        e->locked_round = e->valid_round = e->record.locked_round;
        memcpy(e->locked_value, e->record.locked_value, CNS_HASH_LEN);
        memcpy(e->valid_value, e->record.locked_value, CNS_HASH_LEN);
    }

    /* Votes that arrived early; they were authenticated when they arrived. */
    for (size_t i = 0; i < e->n_next; i++) {
        const cns_msg *m = &e->next[i];
        if (m->height != height)
            continue;
        note_round(e, e->next_from[i], m->round);
        cns_tm_round *s = slot_get(e, m->round);
        if (s)
            store_vote(e, s, e->next_from[i], m);
    }
    e->n_next = 0;
    memset(e->next_count, 0, sizeof e->next_count);

    uint32_t r0 = resume ? last->round : 0, t = skip_target(e);
    start_round(e, t > r0 ? t : r0, out);
    if (resume && last->round == e->round && last->step != CNS_PROPOSE) {
        /* Resume the step we had reached and send our last vote again (the same message). */
        cns_msg m = *last;
        e->step = (cns_step)m.step;
        if (sign(e, &m, out)) {
            schedule_fallback(e, e->step, out);
            cns_tm_round *s = slot_get(e, e->round);
            if (s)
                store_vote(e, s, (uint32_t)e->self, &m);
        }
    }
    progress(e, out);
    return CNS_OK;
}

/* Common checks of an incoming message: its shape and the sender; 1 when it belongs to the
 * current undecided height, 0 when it is to be ignored (after buffering it if it is a vote
 * for the next height). */
static int admit(cns_tm *e, const cns_msg *m, uint32_t sender)
{
    if (m->height < e->height || (m->height == e->height && e->decided))
        return 0;
    if (m->height > e->height) {
        if (m->height != e->height + 1 || m->step == CNS_PROPOSE ||
            m->round >= CNS_TM_FUTURE_ROUNDS)
            return 0;
        /* Bounded: CNS_TM_NEXT_QUOTA votes per validator; repeats take no room. */
        for (size_t i = 0; i < e->n_next; i++)
            if (e->next_from[i] == sender && hrs_cmp(m->height, m->round, m->step, &e->next[i]) == 0)
                return 0;
        if (e->next_count[sender] >= CNS_TM_NEXT_QUOTA) {
            e->dropped++;
            return 0;
        }
        e->next_count[sender]++;
        e->next_from[e->n_next] = (uint8_t)sender;
        e->next[e->n_next++] = *m;
        return 0;
    }
    return 1;
}

int cns_tm_on_vote(cns_tm *e, const cns_msg *m, uint32_t sender, cns_tm_actions *out)
{
    if (!e || !m || !out || sender >= e->cfg.n_validators || !msg_ok(m) ||
        m->step == CNS_PROPOSE)
        return CNS_EINVAL;
    if (!e->started)
        return CNS_ESTATE;
    begin(out);
    if (!admit(e, m, sender))
        return CNS_OK;
    note_round(e, sender, m->round);
    cns_tm_round *s = slot_get(e, m->round);
    if (!s) {
        e->dropped++;
    } else if (store_vote(e, s, sender, m) && m->step == CNS_PRECOMMIT && !m->nil) {
        uint8_t v[CNS_HASH_LEN];
        memcpy(v, m->value, CNS_HASH_LEN);
        try_commit(e, m->round, v, out);
    }
    progress(e, out);
    return CNS_OK;
}

int cns_tm_on_proposal(cns_tm *e, const cns_msg *m, uint32_t sender, bool valid,
                       cns_tm_actions *out)
{
    if (!e || !m || !out || sender >= e->cfg.n_validators || !msg_ok(m) ||
        m->step != CNS_PROPOSE)
        return CNS_EINVAL;
    if (!e->started)
        return CNS_ESTATE;
    begin(out);
    if (!admit(e, m, sender))
        return CNS_OK;
    if ((uint64_t)m->round > (uint64_t)e->round + CNS_TM_FUTURE_ROUNDS) {
        e->dropped++; /* the proposer sends it again while it is in that round */
        return CNS_OK;
    }
    cns_tm_round *s = slot_find(e, m->round);
    if ((s ? s->proposer : proposer_of(e, m->round)) != sender)
        return CNS_ENOTPROPOSER;
    note_round(e, sender, m->round);
    s = slot_get(e, m->round);
    if (!s) {
        e->dropped++;
        return CNS_OK;
    }
    if (s->has_proposal) {
        if (memcmp(s->proposal_value, m->value, CNS_HASH_LEN) || s->proposal_vr != m->valid_round) {
            e->equivocators |= 1u << sender;
            e->equivocations++;
        }
        return CNS_OK;
    }
    s->has_proposal = true;
    s->proposal_valid = valid;
    s->proposal_vr = m->valid_round;
    memcpy(s->proposal_value, m->value, CNS_HASH_LEN);
    if (m->valid_round != NONE && m->round == e->round)
        want(e, (uint32_t)m->valid_round, m->value);
    if (valid) {
        /* Precommits for this value may already be waiting in any round. */
        uint8_t v[CNS_HASH_LEN];
        memcpy(v, m->value, CNS_HASH_LEN);
        for (size_t i = 0; i < CNS_TM_ROUND_SLOTS; i++)
            if (e->slots[i].used)
                try_commit(e, e->slots[i].round, v, out);
    }
    progress(e, out);
    return CNS_OK;
}

int cns_tm_on_timeout(cns_tm *e, uint64_t height, uint32_t round, cns_step step,
                      cns_tm_actions *out)
{
    if (!e || !out || step > CNS_PRECOMMIT || round > CNS_TM_MAX_ROUND)
        return CNS_EINVAL;
    if (!e->started)
        return CNS_ESTATE;
    begin(out);
    if (height != e->height || e->decided || round != e->round)
        return CNS_OK;
    switch (step) {
    case CNS_PROPOSE: /* line 57 */
        if (e->step == CNS_PROPOSE)
            cast_vote(e, CNS_PREVOTE, NULL, out);
        break;
    case CNS_PREVOTE: /* line 61 */
        if (e->step == CNS_PREVOTE)
            cast_vote(e, CNS_PRECOMMIT, NULL, out);
        break;
    case CNS_PRECOMMIT: /* line 65, and straight on to a higher round if line 55 allows */
        if (round < CNS_TM_MAX_ROUND) {
            uint32_t t = skip_target(e);
            start_round(e, t > round + 1 ? t : round + 1, out);
        }
        break;
    }
    progress(e, out);
    return CNS_OK;
}

int cns_tm_on_value(cns_tm *e, uint64_t height, uint32_t round,
                    const uint8_t value[CNS_HASH_LEN], cns_tm_actions *out)
{
    if (!e || !out || !value)
        return CNS_EINVAL;
    if (!e->started)
        return CNS_ESTATE;
    begin(out);
    if (height != e->height || round != e->round || e->decided || !e->building ||
        e->step != CNS_PROPOSE)
        return CNS_OK;
    e->building = false;
    if (e->valid_round != NONE)
        cast_proposal(e, e->valid_value, e->valid_round, out);
    else
        cast_proposal(e, value, NONE, out);
    progress(e, out);
    return CNS_OK;
}

bool cns_tm_needs_value(const cns_tm *e, const uint8_t v[CNS_HASH_LEN])
{
    if (!e || !v || !e->started)
        return false;
    return (e->locked_round != NONE && !memcmp(e->locked_value, v, CNS_HASH_LEN)) ||
           (e->valid_round != NONE && !memcmp(e->valid_value, v, CNS_HASH_LEN));
}

int cns_tm_holds(const cns_tm *e, const cns_msg *m, uint32_t sender)
{
    if (!e || !m || !e->started || m->height != e->height || sender >= e->cfg.n_validators ||
        !msg_ok(m))
        return 0;
    const cns_tm_round *s = NULL;
    for (size_t i = 0; i < CNS_TM_ROUND_SLOTS && !s; i++)
        if (e->slots[i].used && e->slots[i].round == m->round)
            s = &e->slots[i];
    if (!s)
        return 0;
    if (m->step == CNS_PROPOSE)
        return s->has_proposal && s->proposer == sender && s->proposal_vr == m->valid_round &&
               memcmp(s->proposal_value, m->value, CNS_HASH_LEN) == 0;
    int t = m->step - 1, kind = m->nil ? 1 : 2;
    if (vote_is(s, 0, t, sender, kind, m->value))
        return 1;
    return vote_is(s, 1, t, sender, kind, m->value) ? 2 : 0;
}
