/*
 * The Tendermint engine: the vote record, the proposer, each rule of Algorithm 1 on its own.
 * The simulator over many seeds is tests/consensus/test_simulator.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "consensus/consensus.h"
#include "splitmix.h"
/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */

static cns_tm_config config(uint32_t n, const uint64_t *power)
{
    cns_tm_config c;
    memset(&c, 0, sizeof c);
    c.n_validators = n;
    for (uint32_t i = 0; i < n; i++)
        c.power[i] = power ? power[i] : 1;
    c.propose_ms = 100, c.propose_delta_ms = 10;
    c.prevote_ms = 50, c.prevote_delta_ms = 5;
    c.precommit_ms = 60, c.precommit_delta_ms = 6;
    return c;
}

static void val(uint8_t b, uint8_t out[CNS_HASH_LEN])
{
    memset(out, b, CNS_HASH_LEN);
}

/* A vote; b < 0: nil. */
static cns_msg vote(cns_step step, uint64_t h, uint32_t r, int b)
{
    cns_msg m;
    memset(&m, 0, sizeof m);
    m.height = h, m.round = r, m.step = (uint8_t)step;
    m.nil = b < 0;
    if (b >= 0)
        val((uint8_t)b, m.value);
    return m;
}

static cns_msg proposal(uint64_t h, uint32_t r, uint8_t b, int32_t vr)
{
    cns_msg m = vote(CNS_PROPOSE, h, r, b);
    m.valid_round = vr;
    return m;
}

static size_t count(const cns_tm_actions *o, cns_tm_action_type t)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++)
        k += o->a[i].type == t;
    return k;
}

static const cns_tm_action *find(const cns_tm_actions *o, cns_tm_action_type t)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->a[i].type == t)
            return &o->a[i];
    return NULL;
}

static const cns_tm_action *find_vote(const cns_tm_actions *o, cns_step step)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->a[i].type == CNS_TM_VOTE && o->a[i].msg.step == step)
            return &o->a[i];
    return NULL;
}

static const cns_tm_action *find_timeout(const cns_tm_actions *o, cns_step step)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->a[i].type == CNS_TM_SCHEDULE && o->a[i].step == step)
            return &o->a[i];
    return NULL;
}

static bool votes_for(const cns_tm_action *a, uint8_t b)
{
    uint8_t v[CNS_HASH_LEN];
    val(b, v);
    return a && !a->msg.nil && memcmp(a->msg.value, v, CNS_HASH_LEN) == 0;
}

static bool votes_nil(const cns_tm_action *a)
{
    return a && a->msg.nil;
}

/* Deliver n votes of one kind from the listed validators. */
static void votes_from(cns_tm *e, cns_step step, uint64_t h, uint32_t r, int b,
                       const uint32_t *who, size_t n, cns_tm_actions *last)
{
    cns_msg m = vote(step, h, r, b);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cns_tm_on_vote(e, &m, who[i], last), CNS_OK);
}

/* ---------------------------------------------------------------------------------------- */
/* The vote record                                                                           */

static void test_record_may_sign(void **st)
{
    (void)st;
    cns_vote_record r;
    cns_record_init(&r);
    cns_msg pv = vote(CNS_PREVOTE, 5, 2, 0xaa);
    assert_true(cns_may_sign(&r, &pv)); /* nothing signed yet */
    cns_record_update(&r, &pv);
    assert_true(cns_may_sign(&r, &pv)); /* the same message again */
    cns_msg other = vote(CNS_PREVOTE, 5, 2, 0xbb), nil = vote(CNS_PREVOTE, 5, 2, -1);
    assert_false(cns_may_sign(&r, &other));
    assert_false(cns_may_sign(&r, &nil));
    cns_msg lower = vote(CNS_PRECOMMIT, 5, 1, 0xaa), lowh = vote(CNS_PRECOMMIT, 4, 9, 0xaa);
    assert_false(cns_may_sign(&r, &lower));
    assert_false(cns_may_sign(&r, &lowh));
    cns_msg prop = proposal(5, 2, 0xaa, -1); /* proposing comes before prevoting */
    assert_false(cns_may_sign(&r, &prop));
    cns_msg pc = vote(CNS_PRECOMMIT, 5, 2, 0xbb), next = proposal(5, 3, 0xcc, 1);
    assert_true(cns_may_sign(&r, &pc));
    assert_true(cns_may_sign(&r, &next));
    /* A non-nil precommit locks; nil keeps the lock; a new height clears it. */
    assert_int_equal(r.locked_round, -1);
    cns_record_update(&r, &pc);
    assert_int_equal(r.locked_round, 2);
    assert_int_equal(r.locked_value[0], 0xbb);
    cns_msg pcnil = vote(CNS_PRECOMMIT, 5, 3, -1);
    cns_record_update(&r, &pcnil);
    assert_int_equal(r.locked_round, 2);
    cns_msg h6 = vote(CNS_PREVOTE, 6, 0, -1);
    cns_record_update(&r, &h6);
    assert_int_equal(r.locked_round, -1);
    /* Proposals: the same value with another valid round is another message. */
    cns_record_init(&r);
    cns_msg p1 = proposal(7, 4, 0x11, 2), p2 = proposal(7, 4, 0x11, 1);
    cns_record_update(&r, &p1);
    assert_true(cns_may_sign(&r, &p1));
    assert_false(cns_may_sign(&r, &p2));
    /* Malformed messages are never signable. */
    cns_msg bad = vote(CNS_PREVOTE, 0, 0, 1);
    assert_false(cns_may_sign(&r, &bad));
    bad = vote(CNS_PREVOTE, 8, 0, 1);
    bad.step = 3;
    assert_false(cns_may_sign(&r, &bad));
    bad = proposal(8, 2, 1, 2); /* valid round must be below the round */
    assert_false(cns_may_sign(&r, &bad));
    bad = vote(CNS_PREVOTE, 8, CNS_TM_MAX_ROUND + 1, 1);
    assert_false(cns_may_sign(&r, &bad));
    assert_false(cns_may_sign(NULL, &p1));
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration and argument errors                                                         */

static void test_config_and_argument_errors(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_config_check(&c), CNS_OK);
    c.n_validators = 0;
    assert_int_equal(cns_tm_config_check(&c), CNS_EINVAL);
    c.n_validators = CNS_TM_MAX_VALIDATORS + 1;
    assert_int_equal(cns_tm_config_check(&c), CNS_EINVAL);
    c = config(4, NULL);
    c.power[2] = 0;
    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_EINVAL);
    c = config(4, NULL);
    c.power[0] = (uint64_t)CNS_TM_MAX_TOTAL_POWER;
    assert_int_equal(cns_tm_config_check(&c), CNS_EINVAL); /* the sum is too large */
    c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 4, NULL), CNS_EINVAL);
    assert_int_equal(cns_tm_init(&e, &c, -2, NULL), CNS_EINVAL);
    assert_int_equal(cns_tm_init(&e, NULL, 0, NULL), CNS_EINVAL);
    cns_vote_record bad;
    cns_record_init(&bad);
    bad.last = vote(CNS_PREVOTE, 3, 0, 1);
    bad.last.step = 7;
    assert_int_equal(cns_tm_init(&e, &c, 0, &bad), CNS_EINVAL);

    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_OK);
    cns_msg pv = vote(CNS_PREVOTE, 1, 0, 1);
    assert_int_equal(cns_tm_on_vote(&e, &pv, 1, &o), CNS_ESTATE);
    assert_int_equal(cns_tm_start_height(&e, 0, &o), CNS_EINVAL);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_EINVAL); /* not above */
    assert_int_equal(cns_tm_on_vote(&e, &pv, 4, &o), CNS_EINVAL);
    cns_msg p = proposal(1, 0, 1, -1);
    assert_int_equal(cns_tm_on_vote(&e, &p, 1, &o), CNS_EINVAL);       /* not a vote */
    assert_int_equal(cns_tm_on_proposal(&e, &pv, 0, true, &o), CNS_EINVAL); /* not a proposal */
    p = proposal(1, 1, 1, 1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 1, true, &o), CNS_EINVAL); /* vr >= round */
    p = proposal(1, 1, 1, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 2, true, &o), CNS_ENOTPROPOSER);
    assert_int_equal(cns_tm_on_timeout(&e, 1, 0, (cns_step)3, &o), CNS_EINVAL);
    assert_int_equal(cns_tm_on_value(&e, 1, 0, NULL, &o), CNS_EINVAL);
    pv.round = CNS_TM_MAX_ROUND + 1;
    assert_int_equal(cns_tm_on_vote(&e, &pv, 1, &o), CNS_EINVAL);
    assert_string_equal(cns_strerror(CNS_ENOTPROPOSER), "proposal not from the proposer of its round");
    assert_string_equal(cns_strerror(-99), "unknown error");
}

/* ---------------------------------------------------------------------------------------- */
/* The proposer                                                                              */

static void test_proposer_equal_power_round_robin(void **st)
{
    (void)st;
    cns_tm_config c = config(4, NULL);
    for (uint64_t h = 1; h < 30; h++)
        for (uint32_t r = 0; r < 9; r++)
            assert_int_equal(cns_tm_proposer(&c, h, r), (h - 1 + r) % 4);
}

static void test_proposer_weighted(void **st)
{
    (void)st;
    /* CometBFT's algorithm by hand for powers 3,1,1,1 (total 6), from zero priorities:
     * +p: [3,1,1,1] pick 0 -> [-3,1,1,1]; [0,2,2,2] pick 1 -> [0,-4,2,2];
     * [3,-3,3,3] pick 0 (tie, lower index) -> [-3,-3,3,3]; [0,-2,4,4] pick 2 -> [0,-2,-2,4];
     * [3,-1,-1,5] pick 3 -> [3,-1,-1,-1]; [6,0,0,0] pick 0 -> [0,0,0,0], and again. */
    const uint64_t p[] = {3, 1, 1, 1};
    const uint32_t want[] = {0, 1, 0, 2, 3, 0};
    cns_tm_config c = config(4, p);
    for (uint32_t k = 0; k < 18; k++) {
        assert_int_equal(cns_tm_proposer(&c, 1 + k, 0), want[k % 6]); /* by height */
        assert_int_equal(cns_tm_proposer(&c, 1, k), want[k % 6]);     /* by round */
        assert_int_equal(cns_tm_proposer(&c, 4, k), want[(k + 3) % 6]);
    }
    /* The engine checks the proposer with the same sequence. */
    cns_tm e;
    cns_tm_actions o;
    assert_int_equal(cns_tm_init(&e, &c, 1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 2, &o), CNS_OK);
    assert_non_null(find(&o, CNS_TM_BUILD)); /* height 2 round 0: validator 1 */
    cns_msg pr = proposal(2, 1, 7, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &pr, 1, true, &o), CNS_ENOTPROPOSER);
    assert_int_equal(cns_tm_on_proposal(&e, &pr, 0, true, &o), CNS_OK);
}

/* CometBFT's IncrementProposerPriority(1), written out plainly: one step at a time from
 * all-zero priorities, no periodicity shortcut. Returns the pick. */
static uint32_t naive_step(const cns_tm_config *c, int64_t *pr)
{
    int64_t total = 0, mx = pr[0], mn = pr[0], sum = 0;
    uint32_t n = c->n_validators, best = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += (int64_t)c->power[i];
        mx = pr[i] > mx ? pr[i] : mx;
        mn = pr[i] < mn ? pr[i] : mn;
        sum += pr[i];
    }
    assert_true(mx - mn <= 2 * total); /* rescaling is never needed for a fixed set */
    assert_int_equal(sum, 0);          /* nor centring */
    for (uint32_t i = 0; i < n; i++) {
        pr[i] += (int64_t)c->power[i];
        if (pr[i] > pr[best])
            best = i;
    }
    pr[best] -= total;
    return best;
}

static void test_proposer_matches_plain_algorithm(void **st)
{
    (void)st;
    uint64_t x = 42;
    for (int t = 0; t < 200; t++) {
        uint64_t p[CNS_TM_MAX_VALIDATORS];
        uint32_t n = 1 + (uint32_t)(splitmix64(&x) % 12);
        uint64_t scale = 1 + splitmix64(&x) % (t % 3 == 0 ? 40 : 5), total = 0;
        for (uint32_t i = 0; i < n; i++)
            total += p[i] = 1 + splitmix64(&x) % scale;
        cns_tm_config c = config(n, p);
        int64_t pr[CNS_TM_MAX_VALIDATORS] = {0};
        for (uint64_t k = 1; k <= 3 * total + 7; k++) {
            uint32_t want = naive_step(&c, pr);
            /* k increments = height h + round r, h >= 1 */
            uint64_t h = 1 + splitmix64(&x) % k;
            assert_int_equal(cns_tm_proposer(&c, h, (uint32_t)(k - h)), want);
        }
    }
    /* Large heights cost O(total power), not O(height). */
    const uint64_t p[] = {5, 3, 2};
    cns_tm_config c = config(3, p);
    assert_int_equal(cns_tm_proposer(&c, 1000000001, 0), cns_tm_proposer(&c, 1, 0));
}

/* ---------------------------------------------------------------------------------------- */
/* The rules                                                                                 */

static void test_single_validator_commits_at_once(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(1, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 7, &o), CNS_OK);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.a[0].type, CNS_TM_BUILD);
    assert_int_equal(o.a[0].height, 7);
    assert_int_equal(o.a[1].type, CNS_TM_SCHEDULE);
    uint8_t v[CNS_HASH_LEN];
    val(9, v);
    assert_int_equal(cns_tm_on_value(&e, 7, 1, v, &o), CNS_OK); /* another round: ignored */
    assert_int_equal(o.n, 0);
    assert_int_equal(cns_tm_on_value(&e, 7, 0, v, &o), CNS_OK);
    assert_int_equal(o.n, 5);
    assert_int_equal(o.a[0].type, CNS_TM_PROPOSE);
    assert_true(votes_for(&o.a[1], 9) && o.a[1].msg.step == CNS_PREVOTE);
    /* the prevote's fallback timeout (none for the precommit: the height is decided) */
    assert_int_equal(o.a[2].type, CNS_TM_SCHEDULE);
    assert_int_equal(o.a[2].step, CNS_PREVOTE);
    assert_int_equal(o.a[2].delay_ms, cns_tm_timeout(&c, CNS_PROPOSE, 0) +
                     cns_tm_timeout(&c, CNS_PREVOTE, 0) + cns_tm_timeout(&c, CNS_PRECOMMIT, 0));
    assert_true(votes_for(&o.a[3], 9) && o.a[3].msg.step == CNS_PRECOMMIT);
    assert_int_equal(o.a[4].type, CNS_TM_COMMIT);
    assert_int_equal(o.a[4].n_signers, 1);
    assert_memory_equal(o.a[4].value, v, CNS_HASH_LEN);
    /* Each signing action carries the record to persist first. */
    assert_int_equal(o.a[3].record.last.step, CNS_PRECOMMIT);
    assert_int_equal(o.a[3].record.locked_round, 0);
    assert_int_equal(cns_tm_start_height(&e, 8, &o), CNS_OK);
    assert_int_equal(o.a[0].type, CNS_TM_BUILD);
}

static void test_happy_path_four_validators(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(o.n, 1); /* validator 0 proposes: we wait */
    assert_int_equal(find_timeout(&o, CNS_PROPOSE)->delay_ms, 100);
    cns_msg p = proposal(1, 0, 0xab, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xab));
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK); /* again: nothing */
    assert_int_equal(o.n, 0);
    const uint32_t who[] = {0, 2, 3};
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xab, who, 1, &o);
    assert_null(find_vote(&o, CNS_PRECOMMIT)); /* 2 of 4 */
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xab, who + 1, 1, &o);
    assert_true(votes_for(find_vote(&o, CNS_PRECOMMIT), 0xab));
    assert_int_equal(e.locked_round, 0);
    assert_int_equal(e.valid_round, 0);
    votes_from(&e, CNS_PRECOMMIT, 1, 0, 0xab, who, 1, &o);
    assert_null(find(&o, CNS_TM_COMMIT));
    votes_from(&e, CNS_PRECOMMIT, 1, 0, 0xab, who + 2, 1, &o);
    const cns_tm_action *a = find(&o, CNS_TM_COMMIT);
    assert_non_null(a);
    assert_int_equal(a->height, 1);
    assert_int_equal(a->round, 0);
    assert_int_equal(a->n_signers, 3);
    assert_int_equal(a->signers[0], 0);
    assert_int_equal(a->signers[1], 1);
    assert_int_equal(a->signers[2], 3);
    /* Decided: more votes of this height change nothing; the next height's are kept. */
    votes_from(&e, CNS_PRECOMMIT, 1, 0, 0xab, who + 1, 1, &o);
    assert_int_equal(o.n, 0);
}

static void test_timeouts_grow_linearly(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    const uint32_t others[] = {0, 1, 2};
    for (uint32_t r = 0; r < 6; r++) {
        assert_int_equal(e.round, r);
        if (r % 4 != 3) { /* not our turn to propose */
            assert_int_equal(find_timeout(&o, CNS_PROPOSE)->delay_ms, 100 + 10 * r);
            assert_int_equal(find_timeout(&o, CNS_PROPOSE)->round, r);
            assert_int_equal(cns_tm_on_timeout(&e, 1, r, CNS_PROPOSE, &o), CNS_OK);
        } else {
            assert_non_null(find(&o, CNS_TM_BUILD));
            assert_int_equal(find_timeout(&o, CNS_PROPOSE)->delay_ms, 100 + 10 * r);
            assert_int_equal(cns_tm_on_timeout(&e, 1, r, CNS_PROPOSE, &o), CNS_OK);
        }
        assert_true(votes_nil(find_vote(&o, CNS_PREVOTE))); /* line 57 */
        /* Prevotes split: 2f+1 of any kind, none for one value -> timeoutPrevote (line 34). */
        votes_from(&e, CNS_PREVOTE, 1, r, 0x10, others, 1, &o);
        votes_from(&e, CNS_PREVOTE, 1, r, 0x11, others + 1, 1, &o);
        assert_int_equal(find_timeout(&o, CNS_PREVOTE)->delay_ms, 50 + 5 * r);
        assert_int_equal(cns_tm_on_timeout(&e, 1, r, CNS_PREVOTE, &o), CNS_OK);
        assert_true(votes_nil(find_vote(&o, CNS_PRECOMMIT))); /* line 61 */
        votes_from(&e, CNS_PRECOMMIT, 1, r, 0x10, others, 2, &o);
        assert_int_equal(find_timeout(&o, CNS_PRECOMMIT)->delay_ms, 60 + 6 * r);
        /* A stale timeout does nothing; the right one starts the next round (line 65). */
        assert_int_equal(cns_tm_on_timeout(&e, 1, r + 1, CNS_PRECOMMIT, &o), CNS_OK);
        assert_int_equal(o.n, 0);
        assert_int_equal(cns_tm_on_timeout(&e, 1, r, CNS_PRECOMMIT, &o), CNS_OK);
    }
    assert_int_equal(cns_tm_timeout(&c, CNS_PROPOSE, 1000), 100 + 10 * 1000);
    c.propose_delta_ms = 1000;
    assert_int_equal(cns_tm_timeout(&c, CNS_PROPOSE, CNS_TM_MAX_ROUND), UINT32_MAX); /* saturates */
}

/* Drive e to round r of height 1 through timeouts, with nil precommits of the three
 * validators other than e->self (of 4). */
static void to_round(cns_tm *e, uint32_t r, cns_tm_actions *o)
{
    uint32_t others[3], k = 0;
    for (uint32_t i = 0; i < 4; i++)
        if ((int32_t)i != e->self)
            others[k++] = i;
    while (e->round < r) {
        uint32_t cur = e->round;
        cns_tm_on_timeout(e, 1, cur, CNS_PROPOSE, o);
        votes_from(e, CNS_PRECOMMIT, 1, cur, -1, others, 3, o);
        assert_int_equal(cns_tm_on_timeout(e, 1, cur, CNS_PRECOMMIT, o), CNS_OK);
        assert_int_equal(e->round, cur + 1);
    }
}

static void test_locked_validator_prevotes_nil_for_other_values(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    const uint32_t v01[] = {0, 1}, v012[] = {0, 1, 2};
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    /* Round 0: lock on 0xaa. */
    cns_msg p = proposal(1, 0, 0xaa, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xaa));
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xaa, v01, 2, &o);
    assert_true(votes_for(find_vote(&o, CNS_PRECOMMIT), 0xaa));
    assert_int_equal(e.locked_round, 0);
    to_round(&e, 1, &o);

    /* Round 1: a fresh proposal of another value (validRound -1): nil (line 22). */
    p = proposal(1, 1, 0xbb, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 1, true, &o), CNS_OK);
    assert_true(votes_nil(find_vote(&o, CNS_PREVOTE)));
    votes_from(&e, CNS_PREVOTE, 1, 1, 0xbb, v01, 2, &o); /* 2 of 4 for 0xbb in round 1 */
    assert_int_equal(e.locked_round, 0);
    to_round(&e, 2, &o);

    /* Round 2: 0xbb again with validRound 1, but only 2 prevotes for it there: no prevote
     * yet, the engine asks for the missing ones (line 28 not enabled). */
    p = proposal(1, 2, 0xbb, 1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 2, true, &o), CNS_OK);
    assert_null(find_vote(&o, CNS_PREVOTE));
    assert_non_null(find(&o, CNS_TM_FETCH));
    assert_int_equal(find(&o, CNS_TM_FETCH)->round, 1);
    /* The third prevote of round 1 arrives: 2f+1 since round 1 >= lockedRound 0: prevote it. */
    votes_from(&e, CNS_PREVOTE, 1, 1, 0xbb, v012 + 2, 1, &o);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xbb));
}

static void test_lock_beats_an_older_valid_round(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    const uint32_t v012[] = {0, 1, 2};
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    /* Round 0: the proposal is 0xaa but the others prevote 0xbb: a POL for 0xbb at round 0
     * without a lock for anybody here. */
    cns_msg p = proposal(1, 0, 0xaa, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xbb, v012, 3, &o);
    assert_int_equal(e.locked_round, -1);
    to_round(&e, 1, &o);
    /* Round 1: lock on 0xaa. */
    p = proposal(1, 1, 0xaa, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 1, true, &o), CNS_OK);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xaa));
    votes_from(&e, CNS_PREVOTE, 1, 1, 0xaa, v012, 2, &o);
    assert_true(votes_for(find_vote(&o, CNS_PRECOMMIT), 0xaa));
    assert_int_equal(e.locked_round, 1);
    to_round(&e, 2, &o);
    /* Round 2: 0xbb with validRound 0 and its 2f+1 prevotes: 0 < lockedRound 1, nil. */
    p = proposal(1, 2, 0xbb, 0);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 2, true, &o), CNS_OK);
    assert_true(votes_nil(find_vote(&o, CNS_PREVOTE)));
    to_round(&e, 3, &o);
    /* Round 3 is ours: we propose the locked (valid) value with its valid round. */
    assert_null(find(&o, CNS_TM_BUILD));
    const cns_tm_action *a = find(&o, CNS_TM_PROPOSE);
    assert_non_null(a);
    assert_int_equal(a->msg.valid_round, 1);
    assert_int_equal(a->msg.value[0], 0xaa);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xaa));
}

static void test_invalid_proposal_gets_nil(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    const uint32_t v012[] = {0, 1, 2};
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    cns_msg p = proposal(1, 0, 0xee, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, false, &o), CNS_OK);
    assert_true(votes_nil(find_vote(&o, CNS_PREVOTE)));
    /* Even 2f+1 prevotes and precommits for it never make an invalid value ours. */
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xee, v012, 3, &o);
    assert_null(find_vote(&o, CNS_PRECOMMIT));
    votes_from(&e, CNS_PRECOMMIT, 1, 0, 0xee, v012, 3, &o);
    assert_null(find(&o, CNS_TM_COMMIT));
    assert_int_equal(e.locked_round, -1);
}

static void test_round_skip_on_f_plus_one(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    cns_msg m = vote(CNS_PREVOTE, 1, 5, 1);
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.round, 0); /* f = 1 message: no */
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.round, 0); /* the same one twice: still one validator */
    m = vote(CNS_PRECOMMIT, 1, 5, -1);
    assert_int_equal(cns_tm_on_vote(&e, &m, 2, &o), CNS_OK);
    assert_int_equal(e.round, 5); /* f+1 = 2 validators in round 5 */
    assert_int_equal(find_timeout(&o, CNS_PROPOSE)->round, 5);
    assert_int_equal(find_timeout(&o, CNS_PROPOSE)->delay_ms, 150);
    /* Validators spread over higher rounds count together: round >= 9 by 1 and 3. */
    m = vote(CNS_PREVOTE, 1, 9, -1);
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    m = vote(CNS_PREVOTE, 1, 11, -1); /* beyond the kept window: still counts for the skip */
    assert_int_equal(cns_tm_on_vote(&e, &m, 3, &o), CNS_OK);
    assert_int_equal(e.round, 9);

    /* By power: one validator with more than a third suffices; one with less does not. */
    const uint64_t p[] = {1, 1, 1, 2};
    c = config(4, p);
    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    m = vote(CNS_PREVOTE, 1, 3, -1);
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.round, 0);
    assert_int_equal(cns_tm_on_vote(&e, &m, 3, &o), CNS_OK);
    assert_int_equal(e.round, 3);
}

static void test_commit_from_an_earlier_round(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    const uint32_t v123[] = {1, 2, 3};
    assert_int_equal(cns_tm_init(&e, &c, 0, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    /* We are in round 3 (skipped), then precommits of round 1 arrive, then its proposal. */
    cns_msg m = vote(CNS_PREVOTE, 1, 3, -1);
    votes_from(&e, CNS_PREVOTE, 1, 3, -1, v123, 2, &o);
    assert_int_equal(e.round, 3);
    votes_from(&e, CNS_PRECOMMIT, 1, 1, 0x77, v123, 3, &o);
    assert_null(find(&o, CNS_TM_COMMIT)); /* the value is not known valid yet */
    m = proposal(1, 1, 0x77, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &m, 1, true, &o), CNS_OK);
    const cns_tm_action *a = find(&o, CNS_TM_COMMIT);
    assert_non_null(a);
    assert_int_equal(a->round, 1);
    assert_int_equal(a->n_signers, 3);
    assert_int_equal(a->value[0], 0x77);
    assert_true(e.decided);

    /* And the other way round: the proposal (round 2) first, the precommits (round 2)
     * while we are in round 4. */
    assert_int_equal(cns_tm_start_height(&e, 2, &o), CNS_OK);
    m = proposal(2, 2, 0x66, -1);
    votes_from(&e, CNS_PREVOTE, 2, 4, -1, v123, 2, &o);
    assert_int_equal(e.round, 4);
    assert_int_equal(cns_tm_on_proposal(&e, &m, cns_tm_proposer(&c, 2, 2), true, &o), CNS_OK);
    votes_from(&e, CNS_PRECOMMIT, 2, 2, 0x66, v123, 3, &o);
    assert_non_null(find(&o, CNS_TM_COMMIT));
    assert_int_equal(find(&o, CNS_TM_COMMIT)->round, 2);
}

static void test_duplicates_count_once_and_equivocation_is_flagged(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    cns_msg p = proposal(1, 0, 0xaa, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    cns_msg v = vote(CNS_PREVOTE, 1, 0, 0xaa);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cns_tm_on_vote(&e, &v, 1, &o), CNS_OK);
        assert_null(find_vote(&o, CNS_PRECOMMIT)); /* validator 1 and us: 2 of 4 */
    }
    assert_int_equal(e.equivocations, 0);
    cns_msg w = vote(CNS_PREVOTE, 1, 0, 0xbb);
    assert_int_equal(cns_tm_on_vote(&e, &w, 1, &o), CNS_OK);
    assert_int_equal(e.equivocations, 1);
    assert_int_equal(e.equivocators, 1u << 1);
    cns_msg n = vote(CNS_PREVOTE, 1, 0, -1);
    assert_int_equal(cns_tm_on_vote(&e, &n, 1, &o), CNS_OK);
    assert_int_equal(e.equivocations, 2);
    /* An equivocating proposer: its second proposal is evidence, not a second proposal. */
    cns_msg p2 = proposal(1, 0, 0xcc, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p2, 0, true, &o), CNS_OK);
    assert_int_equal(e.equivocations, 3);
    assert_int_equal(e.equivocators, 1u << 1 | 1u << 0);
    assert_int_equal(cns_tm_on_vote(&e, &v, 2, &o), CNS_OK);
    assert_true(votes_for(find_vote(&o, CNS_PRECOMMIT), 0xaa)); /* 1 (first vote), 2, us */
}

static void test_next_height_votes_are_buffered_within_bounds(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 3, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    /* Height 2, round 0 precommits for 0x55 from 0, 1, 2, while we are still at height 1. */
    const uint32_t v012[] = {0, 1, 2};
    votes_from(&e, CNS_PRECOMMIT, 2, 0, 0x55, v012, 3, &o);
    assert_int_equal(o.n, 0);
    /* The quota: validator 1 may fill CNS_TM_NEXT_QUOTA entries; more are dropped. */
    uint64_t dropped = e.dropped;
    for (uint32_t r = 1; r < CNS_TM_FUTURE_ROUNDS; r++) {
        cns_msg m = vote(CNS_PREVOTE, 2, r, 0x56);
        assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    }
    assert_int_equal(e.dropped, dropped);
    cns_msg m = vote(CNS_PRECOMMIT, 2, 1, 0x56);
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.dropped, dropped + 1);
    m = vote(CNS_PRECOMMIT, 2, 0, 0x55); /* a repeat takes no room */
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.dropped, dropped + 1);
    m = vote(CNS_PRECOMMIT, 3, 0, 0x55); /* two heights ahead: ignored */
    assert_int_equal(cns_tm_on_vote(&e, &m, 1, &o), CNS_OK);
    assert_int_equal(e.n_next, CNS_TM_NEXT_QUOTA + 2);

    /* Height 1 ends elsewhere; at height 2 the buffered precommits count at once. */
    assert_int_equal(cns_tm_start_height(&e, 2, &o), CNS_OK);
    assert_int_equal(e.n_next, 0);
    cns_msg p = proposal(2, 0, 0x55, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 1, true, &o), CNS_OK);
    const cns_tm_action *a = find(&o, CNS_TM_COMMIT);
    assert_non_null(a);
    assert_int_equal(a->height, 2);
    assert_int_equal(a->n_signers, 3);
}

static void test_no_double_sign_across_a_restart(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    assert_int_equal(cns_tm_init(&e, &c, 1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    cns_msg p = proposal(1, 0, 0xaa, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    const cns_tm_action *a = find_vote(&o, CNS_PREVOTE);
    assert_true(votes_for(a, 0xaa));
    cns_vote_record durable = a->record; /* what the node fsync'ed before signing */
    assert_int_equal(durable.last.step, CNS_PREVOTE);

    /* Crash. The restarted engine resumes at round 0, prevote step, and sends the same
     * prevote again; an equivocating proposer's other value gets nothing from it. */
    assert_int_equal(cns_tm_init(&e, &c, 1, &durable), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(e.round, 0);
    assert_int_equal(e.step, CNS_PREVOTE);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xaa));
    cns_msg q = proposal(1, 0, 0xbb, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &q, 0, true, &o), CNS_OK);
    assert_null(find_vote(&o, CNS_PREVOTE));
    /* Nor does a timeout make it sign nil over its recorded prevote. */
    assert_int_equal(cns_tm_on_timeout(&e, 1, 0, CNS_PROPOSE, &o), CNS_OK);
    assert_null(find_vote(&o, CNS_PREVOTE));

    /* The control: without the record the same events produce the conflicting prevote. */
    assert_int_equal(cns_tm_init(&e, &c, 1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(cns_tm_on_proposal(&e, &q, 0, true, &o), CNS_OK);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xbb));

    /* Locked before the crash: the lock comes back from the record. Lock on 0xaa in round
     * 0; round 1 is ours: we propose 0xaa again with valid round 0 and prevote it; crash. */
    assert_int_equal(cns_tm_init(&e, &c, 1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    const uint32_t v02[] = {0, 2}, v023[] = {0, 2, 3};
    votes_from(&e, CNS_PREVOTE, 1, 0, 0xaa, v02, 2, &o);
    assert_true(votes_for(find_vote(&o, CNS_PRECOMMIT), 0xaa));
    votes_from(&e, CNS_PRECOMMIT, 1, 0, -1, v023, 3, &o);
    assert_int_equal(cns_tm_on_timeout(&e, 1, 0, CNS_PRECOMMIT, &o), CNS_OK);
    assert_int_equal(e.round, 1);
    assert_null(find(&o, CNS_TM_BUILD));
    a = find(&o, CNS_TM_PROPOSE);
    assert_non_null(a);
    assert_int_equal(a->msg.valid_round, 0);
    assert_true(votes_for(find_vote(&o, CNS_PREVOTE), 0xaa));
    durable = e.record;
    assert_int_equal(durable.last.round, 1);
    assert_int_equal(durable.locked_round, 0);
    assert_int_equal(cns_tm_init(&e, &c, 1, &durable), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(e.round, 1);
    assert_int_equal(e.locked_round, 0);
    assert_int_equal(e.locked_value[0], 0xaa);
    to_round(&e, 2, &o);
    q = proposal(1, 2, 0xbb, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &q, 2, true, &o), CNS_OK);
    assert_true(votes_nil(find_vote(&o, CNS_PREVOTE)));

    /* A record from a later round: the engine starts there and stays silent below it. */
    cns_vote_record r;
    cns_record_init(&r);
    r.last = vote(CNS_PRECOMMIT, 4, 6, -1);
    assert_int_equal(cns_tm_init(&e, &c, 2, &r), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 4, &o), CNS_OK);
    assert_int_equal(e.round, 6);
    assert_int_equal(e.step, CNS_PRECOMMIT);
    assert_true(votes_nil(find_vote(&o, CNS_PRECOMMIT)));
}

/* A node restored from an older backup: its chain is at height 2 while its vote record says
 * it prevoted at height 5. At heights 3 and 4 it must not sign what it may have signed
 * before: the record refuses, whatever the engine would do; it still follows commits. At
 * height 5 it resumes where the record says. */
static void test_record_refuses_after_a_restored_backup(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    cns_vote_record r;
    cns_record_init(&r);
    r.last = vote(CNS_PREVOTE, 5, 1, 0x44);
    assert_int_equal(cns_tm_init(&e, &c, 2, &r), CNS_OK);
    const uint32_t v013[] = {0, 1, 3};
    for (uint64_t h = 3; h <= 4; h++) {
        assert_int_equal(cns_tm_start_height(&e, h, &o), CNS_OK);
        cns_msg p = proposal(h, 0, 0x55, -1);
        assert_int_equal(cns_tm_on_proposal(&e, &p, cns_tm_proposer(&c, h, 0), true, &o), CNS_OK);
        assert_int_equal(count(&o, CNS_TM_VOTE), 0); /* refused */
        votes_from(&e, CNS_PREVOTE, h, 0, 0x55, v013, 3, &o);
        assert_int_equal(count(&o, CNS_TM_VOTE), 0);
        votes_from(&e, CNS_PRECOMMIT, h, 0, 0x55, v013, 3, &o);
        assert_non_null(find(&o, CNS_TM_COMMIT)); /* it still follows the chain */
    }
    assert_int_equal(e.refused, 4); /* a prevote and a precommit at each height */
    assert_int_equal(e.record.last.height, 5);
    assert_int_equal(cns_tm_start_height(&e, 5, &o), CNS_OK);
    assert_int_equal(e.round, 1);
    const cns_tm_action *a = find_vote(&o, CNS_PREVOTE);
    assert_true(votes_for(a, 0x44)); /* the same prevote again */
    assert_int_equal(a->round, 1);
}

static void test_replica_follows_without_signing(void **st)
{
    (void)st;
    cns_tm e;
    cns_tm_actions o;
    cns_tm_config c = config(4, NULL);
    const uint32_t v012[] = {0, 1, 2};
    assert_int_equal(cns_tm_init(&e, &c, -1, NULL), CNS_OK);
    assert_int_equal(cns_tm_start_height(&e, 1, &o), CNS_OK);
    assert_int_equal(count(&o, CNS_TM_BUILD), 0);
    cns_msg p = proposal(1, 0, 0x31, -1);
    assert_int_equal(cns_tm_on_proposal(&e, &p, 0, true, &o), CNS_OK);
    assert_int_equal(count(&o, CNS_TM_VOTE), 0);
    votes_from(&e, CNS_PREVOTE, 1, 0, 0x31, v012, 3, &o);
    assert_int_equal(count(&o, CNS_TM_VOTE), 0);
    votes_from(&e, CNS_PRECOMMIT, 1, 0, 0x31, v012, 3, &o);
    assert_non_null(find(&o, CNS_TM_COMMIT));
    assert_int_equal(e.record.last.height, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_may_sign),
        cmocka_unit_test(test_config_and_argument_errors),
        cmocka_unit_test(test_proposer_equal_power_round_robin),
        cmocka_unit_test(test_proposer_weighted),
        cmocka_unit_test(test_proposer_matches_plain_algorithm),
        cmocka_unit_test(test_single_validator_commits_at_once),
        cmocka_unit_test(test_happy_path_four_validators),
        cmocka_unit_test(test_timeouts_grow_linearly),
        cmocka_unit_test(test_locked_validator_prevotes_nil_for_other_values),
        cmocka_unit_test(test_lock_beats_an_older_valid_round),
        cmocka_unit_test(test_invalid_proposal_gets_nil),
        cmocka_unit_test(test_round_skip_on_f_plus_one),
        cmocka_unit_test(test_commit_from_an_earlier_round),
        cmocka_unit_test(test_duplicates_count_once_and_equivocation_is_flagged),
        cmocka_unit_test(test_next_height_votes_are_buffered_within_bounds),
        cmocka_unit_test(test_no_double_sign_across_a_restart),
        cmocka_unit_test(test_record_refuses_after_a_restored_backup),
        cmocka_unit_test(test_replica_follows_without_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
