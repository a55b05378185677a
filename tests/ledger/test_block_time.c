/*
 * ldg_block_time_check, the proposer-based timestamp check: a fresh proposal's time must be
 * within the drift of this validator's clock, a re-proposal's is not checked against the
 * clock, and no block goes back in time. Each bound is tried at, one inside and one outside;
 * the window's arithmetic near 0 and UINT64_MAX must saturate, never wrap; and a sweep
 * compares the function with the definition computed in 128-bit arithmetic. Then
 * ldg_validator_index, and ldg_block_builder_check: who may have built a fresh proposal's
 * block, and a re-proposal's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"

#define FRESH (-1)
#define HOUR 3600000u

static int check(uint64_t t, uint64_t prev, uint64_t now, uint64_t drift, int32_t vr)
{
    return ldg_block_time_check(t, prev, now, drift, vr);
}

/* A fresh proposal: [now - drift, now + drift], both ends included. */
static void test_fresh_window(void **state)
{
    (void)state;
    const uint64_t now = 1700000000000u, d = 5000, prev = now - 60000;
    assert_int_equal(check(now, prev, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now - d, prev, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now - d + 1, prev, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now - d - 1, prev, now, d, FRESH), LDG_ETIME);
    assert_int_equal(check(now + d, prev, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now + d - 1, prev, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now + d + 1, prev, now, d, FRESH), LDG_ETIME);
    /* The case: a proposer whose clock is an hour ahead, and one an hour behind
     * (prev far back, so that only the clock refuses it). */
    assert_int_equal(check(now + HOUR - 2000, prev, now, d, FRESH), LDG_ETIME);
    assert_int_equal(check(now - HOUR, 0, now, d, FRESH), LDG_ETIME);
    /* Drift 0: only the very millisecond of our clock. */
    assert_int_equal(check(now, prev, now, 0, FRESH), LDG_OK);
    assert_int_equal(check(now + 1, prev, now, 0, FRESH), LDG_ETIME);
    assert_int_equal(check(now - 1, prev, now, 0, FRESH), LDG_ETIME);
}

/* Block time never goes backwards, fresh or not; equal to the previous block is fine. */
static void test_previous_block_time(void **state)
{
    (void)state;
    const uint64_t now = 1700000000000u, d = 5000;
    assert_int_equal(check(now, now, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now, now + 1, now, d, FRESH), LDG_EBLOCK);
    assert_int_equal(check(now - 1, now - 1, now, d, FRESH), LDG_OK);
    assert_int_equal(check(now - 2, now - 1, now, d, FRESH), LDG_EBLOCK);
    assert_int_equal(check(now - 2, now - 1, now, d, 0), LDG_EBLOCK);
    assert_int_equal(check(now - 2, now - 1, now, d, 7), LDG_EBLOCK);
    /* Behind the previous block and outside the window: the ordering rule is reported. */
    assert_int_equal(check(now - HOUR, now, now, d, FRESH), LDG_EBLOCK);
    /* The tip ahead of our clock (within the drift): a block at the tip's time passes. */
    assert_int_equal(check(now + d, now + d, now, d, FRESH), LDG_OK);
    /* The tip beyond our window (our clock is slow): no fresh block can pass here, the
     * others decide without us; a re-proposal of an earlier round's value still does. */
    assert_int_equal(check(now + d + 1, now + d + 1, now, d, FRESH), LDG_ETIME);
    assert_int_equal(check(now + d + 1, now + d + 1, now, d, 0), LDG_OK);
    /* The first block: prev is 0 (the store's tip time before any block). */
    assert_int_equal(check(now, 0, now, d, FRESH), LDG_OK);
    assert_int_equal(check(0, 0, 0, 0, FRESH), LDG_OK);
}

/* A re-proposal (valid round >= 0) is exempt from the clock: 2f+1 prevoted it when fresh,
 * and honest validators may be locked on it. Only the ordering rule applies. */
static void test_reproposal_exempt(void **state)
{
    (void)state;
    const uint64_t now = 1700000000000u, d = 5000, prev = now - 2 * HOUR;
    const int32_t rounds[] = {0, 1, 2, 1000, INT32_MAX};
    for (size_t i = 0; i < sizeof rounds / sizeof *rounds; i++) {
        int32_t vr = rounds[i];
        assert_int_equal(check(now, prev, now, d, vr), LDG_OK);
        assert_int_equal(check(now - d - 1, prev, now, d, vr), LDG_OK);
        assert_int_equal(check(now + d + 1, prev, now, d, vr), LDG_OK);
        assert_int_equal(check(now + HOUR, prev, now, d, vr), LDG_OK);
        assert_int_equal(check(now - HOUR, prev, now, d, vr), LDG_OK); /* locked long ago */
        assert_int_equal(check(UINT64_MAX, prev, now, 0, vr), LDG_OK);
        assert_int_equal(check(prev, prev, 0, 0, vr), LDG_OK);
        assert_int_equal(check(prev - 1, prev, now, d, vr), LDG_EBLOCK);
        /* The same times as a fresh proposal are refused: the exemption is the only reason
         * they pass. */
        assert_int_equal(check(now + d + 1, prev, now, d, FRESH), LDG_ETIME);
        assert_int_equal(check(now - d - 1, prev, now, d, FRESH), LDG_ETIME);
    }
}

/* A valid round below -1 is no proposal at all. */
static void test_bad_valid_round(void **state)
{
    (void)state;
    const uint64_t now = 1700000000000u;
    assert_int_equal(check(now, 0, now, 5000, -2), LDG_EINVALID);
    assert_int_equal(check(now, 0, now, 5000, INT32_MIN), LDG_EINVALID);
    assert_int_equal(check(now - 1, now, now, 5000, -2), LDG_EINVALID); /* checked first */
    assert_string_equal(ldg_strerror(LDG_ETIME), "block time too far from this node's clock");
}

/* The window saturates at both ends of uint64_t instead of wrapping around. */
static void test_overflow(void **state)
{
    (void)state;
    const uint64_t M = UINT64_MAX;
    /* now + drift past UINT64_MAX: the upper end is UINT64_MAX. */
    assert_int_equal(check(M, 0, M - 10, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 10 - 5000, 0, M - 10, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 10 - 5001, 0, M - 10, 5000, FRESH), LDG_ETIME);
    assert_int_equal(check(M, 0, M, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 5000, 0, M, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 5001, 0, M, 5000, FRESH), LDG_ETIME);
    /* Exactly at the edge: now + drift == UINT64_MAX. */
    assert_int_equal(check(M, 0, M - 5000, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 10000, 0, M - 5000, 5000, FRESH), LDG_OK);
    assert_int_equal(check(M - 10001, 0, M - 5000, 5000, FRESH), LDG_ETIME);
    /* now - drift below 0: the lower end is 0. */
    assert_int_equal(check(0, 0, 10, 5000, FRESH), LDG_OK);
    assert_int_equal(check(5010, 0, 10, 5000, FRESH), LDG_OK);
    assert_int_equal(check(5011, 0, 10, 5000, FRESH), LDG_ETIME);
    assert_int_equal(check(0, 0, 5000, 5000, FRESH), LDG_OK); /* now - drift == 0 exactly */
    assert_int_equal(check(0, 0, 5001, 5000, FRESH), LDG_ETIME);
    /* A drift of UINT64_MAX accepts any time at or after the previous block. */
    assert_int_equal(check(0, 0, M / 2, M, FRESH), LDG_OK);
    assert_int_equal(check(M, 0, M / 2, M, FRESH), LDG_OK);
    assert_int_equal(check(M, 0, 1, M, FRESH), LDG_OK);
    assert_int_equal(check(0, 0, M, M, FRESH), LDG_OK);
    assert_int_equal(check(1, 2, M, M, FRESH), LDG_EBLOCK);
    /* A far-future time against a clock near 0, and the reverse. */
    assert_int_equal(check(M, 0, 0, 5000, FRESH), LDG_ETIME);
    assert_int_equal(check(0, 0, M, 5000, FRESH), LDG_ETIME);
}

/* The definition, in arithmetic that cannot overflow. */
static int reference(uint64_t t, uint64_t prev, uint64_t now, uint64_t drift, int32_t vr)
{
    if (vr < -1)
        return LDG_EINVALID;
    if (t < prev)
        return LDG_EBLOCK;
    if (vr >= 0)
        return LDG_OK;
    __int128 x = t, n = now, dr = drift;
    return x >= n - dr && x <= n + dr ? LDG_OK : LDG_ETIME;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Values near the interesting points: 0, UINT64_MAX, now +- drift, prev. */
static uint64_t near(uint64_t *s, uint64_t base)
{
    int64_t off = (int64_t)(splitmix(s) % 7) - 3;
    return base + (uint64_t)off; /* wraps on purpose: both ends of the range get tried */
}

static void test_sweep(void **state)
{
    (void)state;
    uint64_t s = 42;
    const uint64_t drifts[] = {0, 1, 100, 5000, 600000, UINT64_MAX / 2, UINT64_MAX - 1,
                               UINT64_MAX};
    const uint64_t nows[] = {0, 1, 4999, 5000, 5001, 1700000000000u, UINT64_MAX - 5000,
                             UINT64_MAX - 1, UINT64_MAX};
    const int32_t vrs[] = {INT32_MIN, -2, -1, -1, -1, 0, 3};
    for (int i = 0; i < 200000; i++) {
        uint64_t drift = drifts[splitmix(&s) % (sizeof drifts / sizeof *drifts)];
        uint64_t now = near(&s, nows[splitmix(&s) % (sizeof nows / sizeof *nows)]);
        uint64_t t;
        switch (splitmix(&s) % 4) {
        case 0: t = near(&s, now - drift); break;
        case 1: t = near(&s, now + drift); break;
        case 2: t = near(&s, now); break;
        default: t = splitmix(&s); break;
        }
        uint64_t prev = splitmix(&s) % 2 ? near(&s, t) : t / 2;
        int32_t vr = vrs[splitmix(&s) % (sizeof vrs / sizeof *vrs)];
        int want = reference(t, prev, now, drift, vr);
        int got = check(t, prev, now, drift, vr);
        if (got != want)
            fail_msg("time %llu prev %llu now %llu drift %llu vr %d: got %d, want %d",
                     (unsigned long long)t, (unsigned long long)prev, (unsigned long long)now,
                     (unsigned long long)drift, vr, got, want);
    }
}

/* ldg_validator_index and ldg_block_builder_check: three validators with distinct keys, and
 * a key of none (set up before each test). */
static ldg_genesis g;
static ldg_pubkey stranger;

static int keys(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    g.n_validators = 3;
    for (size_t v = 0; v < 4; v++) {
        ldg_pubkey *k = v < 3 ? &g.validators[v] : &stranger;
        memset(k, 0, sizeof *k);
        k->alg = 1;
        k->len = 33;
        memset(k->key, 0x10 + (int)v, k->len);
    }
    return 0;
}

/* Each validator by its key; the same key under another algorithm, a prefix of a validator's
 * key, a stranger's key and a validator beyond n_validators are none. */
static void test_validator_index(void **state)
{
    (void)state;
    for (uint32_t v = 0; v < 3; v++)
        assert_int_equal(ldg_validator_index(&g, 1, g.validators[v].key, 33), (int)v);
    assert_int_equal(ldg_validator_index(&g, 2, g.validators[1].key, 33), -1);
    assert_int_equal(ldg_validator_index(&g, 1, g.validators[1].key, 32), -1);
    assert_int_equal(ldg_validator_index(&g, 1, stranger.key, 33), -1);
    g.n_validators = 2;
    assert_int_equal(ldg_validator_index(&g, 1, g.validators[2].key, 33), -1);
}

/* A fresh proposal's block is built by its proposer, by no other validator. */
static void test_builder_fresh(void **state)
{
    (void)state;
    for (uint32_t p = 0; p < 3; p++)
        for (uint32_t b = 0; b < 3; b++)
            assert_int_equal(ldg_block_builder_check(&g, p, FRESH, &g.validators[b]),
                             p == b ? LDG_OK : LDG_EBLOCK);
    assert_int_equal(ldg_block_builder_check(&g, 0, FRESH, &stranger), LDG_EBLOCK);
}

/* A re-proposal carries an earlier round's block: any validator may have built it (issue 8:
 * requiring the re-proposer stalled a cluster for good), but not a stranger. The same key
 * under another algorithm, or a prefix of a validator's key, is a stranger. */
static void test_builder_reproposal(void **state)
{
    (void)state;
    for (int32_t vr = 0; vr < 3; vr++)
        for (uint32_t p = 0; p < 3; p++)
            for (uint32_t b = 0; b < 3; b++)
                assert_int_equal(ldg_block_builder_check(&g, p, vr, &g.validators[b]), LDG_OK);
    assert_int_equal(ldg_block_builder_check(&g, 1, 0, &stranger), LDG_EBLOCK);
    ldg_pubkey k = g.validators[2];
    k.alg = 2;
    assert_int_equal(ldg_block_builder_check(&g, 1, 0, &k), LDG_EBLOCK);
    k = g.validators[2];
    k.len = 32;
    assert_int_equal(ldg_block_builder_check(&g, 1, 0, &k), LDG_EBLOCK);
    assert_int_equal(ldg_block_builder_check(&g, 2, FRESH, &k), LDG_EBLOCK);
}

static void test_builder_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(ldg_block_builder_check(&g, 0, -2, &g.validators[0]), LDG_EINVALID);
    assert_int_equal(ldg_block_builder_check(&g, 3, FRESH, &g.validators[0]), LDG_EINVALID);
    assert_int_equal(ldg_block_builder_check(&g, 3, 0, &g.validators[0]), LDG_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_window),
        cmocka_unit_test(test_previous_block_time),
        cmocka_unit_test(test_reproposal_exempt),
        cmocka_unit_test(test_bad_valid_round),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test_setup(test_validator_index, keys),
        cmocka_unit_test_setup(test_builder_fresh, keys),
        cmocka_unit_test_setup(test_builder_reproposal, keys),
        cmocka_unit_test_setup(test_builder_bad_arguments, keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
