/* The single-validator engine: pacing, full blocks, one proposal at a time, commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "consensus/consensus.h"

static void test_idle_does_nothing(void **st)
{
    (void)st;
    cns_engine e;
    cns_action a[CNS_MAX_ACTIONS];
    cns_init(&e, 0, 1000, 50, 100);
    assert_int_equal(e.height, 1);
    assert_int_equal(cns_on_tick(&e, 2000, 0, a), 0);
}

static void test_paced_then_proposes_and_commits(void **st)
{
    (void)st;
    cns_engine e;
    cns_action a[CNS_MAX_ACTIONS];
    uint8_t h[CNS_HASH_LEN];
    memset(h, 7, sizeof h);
    cns_init(&e, 9, 1000, 50, 100);
    /* Too early: a timeout for the rest of the interval. */
    assert_int_equal(cns_on_tick(&e, 1020, 3, a), 1);
    assert_int_equal(a[0].type, CNS_ACT_SCHEDULE);
    assert_int_equal(a[0].delay_ms, 30);
    /* A second tick while one is scheduled does not stack timers. */
    e.scheduled = true;
    assert_int_equal(cns_on_tick(&e, 1049, 3, a), 1); /* the tick itself clears it */
    assert_int_equal(cns_on_tick(&e, 1050, 3, a), 1);
    assert_int_equal(a[0].type, CNS_ACT_PROPOSE);
    assert_int_equal(a[0].height, 10);
    /* Only one proposal outstanding. */
    assert_int_equal(cns_on_tick(&e, 1060, 5, a), 0);
    /* A proposal for another height is ignored. */
    assert_int_equal(cns_on_proposal(&e, 11, h, a), 0);
    assert_int_equal(cns_on_proposal(&e, 10, h, a), 2);
    assert_int_equal(a[0].type, CNS_ACT_PRECOMMIT);
    assert_int_equal(a[1].type, CNS_ACT_COMMIT);
    assert_memory_equal(a[1].block_hash, h, CNS_HASH_LEN);
    /* Committing another height is ignored; this one advances. */
    assert_int_equal(cns_on_committed(&e, 9, 1070, 0, a), 0);
    assert_int_equal(e.height, 10);
    assert_int_equal(cns_on_committed(&e, 10, 1070, 2, a), 1);
    assert_int_equal(e.height, 11);
    assert_int_equal(a[0].type, CNS_ACT_SCHEDULE);
    assert_int_equal(a[0].delay_ms, 50);
}

static void test_full_block_cuts_at_once(void **st)
{
    (void)st;
    cns_engine e;
    cns_action a[CNS_MAX_ACTIONS];
    cns_init(&e, 0, 1000, 50, 100);
    assert_int_equal(cns_on_tick(&e, 1001, 100, a), 1);
    assert_int_equal(a[0].type, CNS_ACT_PROPOSE);
    assert_int_equal(cns_on_proposal_failed(&e, 1, a), 1);
    assert_int_equal(a[0].type, CNS_ACT_SCHEDULE);
    assert_int_equal(cns_on_tick(&e, 1002, 100, a), 1);
    assert_int_equal(a[0].type, CNS_ACT_PROPOSE);
    uint8_t h[CNS_HASH_LEN] = {0};
    assert_int_equal(cns_on_proposal(&e, 1, h, a), 2);
    assert_int_equal(cns_on_committed(&e, 1, 1003, 150, a), 1);
    assert_int_equal(a[0].delay_ms, 0); /* a full block is still waiting */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_does_nothing),
        cmocka_unit_test(test_paced_then_proposes_and_commits),
        cmocka_unit_test(test_full_block_cuts_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
