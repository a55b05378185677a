/*
 * The quota component (node/daemon/quota.h): token buckets, deterministic in time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/client/client.h"
#include "node/daemon/quota.h"

static void key_of(uint8_t k[32], uint8_t n)
{
    memset(k, 0, 32);
    k[0] = n;
    k[7] = (uint8_t)(n * 37);
}

static void test_rate_and_retry(void **state)
{
    (void)state;
    node_quota q;
    uint8_t k[32];
    uint32_t retry;
    key_of(k, 1);
    assert_int_equal(node_quota_init(&q, 16), 0);
    /* A bucket starts full: one second of the rate. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(node_quota_take(&q, k, 10, 1, 1000, &retry), 0);
    assert_int_equal(node_quota_take(&q, k, 10, 1, 1000, &retry), NODE_ERATE);
    assert_int_equal(retry, 100); /* 10/s: a token every 100 ms */
    assert_int_equal(node_quota_take(&q, k, 10, 1, 1099, &retry), NODE_ERATE);
    assert_int_equal(retry, 1);
    assert_int_equal(node_quota_take(&q, k, 10, 1, 1100, &retry), 0);
    /* Another client is not affected. */
    uint8_t k2[32];
    key_of(k2, 2);
    assert_int_equal(node_quota_take(&q, k2, 10, 1, 1100, &retry), 0);
    /* Refill stops at capacity: a long pause gives one second's worth, not more. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(node_quota_take(&q, k, 10, 1, 100000, &retry), 0);
    assert_int_equal(node_quota_take(&q, k, 10, 1, 100000, &retry), NODE_ERATE);
    /* A clock that goes back refills nothing (and does not underflow). */
    assert_int_equal(node_quota_take(&q, k, 10, 1, 5000, &retry), NODE_ERATE);
    node_quota_close(&q);
}

static void test_cost_above_rate(void **state)
{
    (void)state;
    node_quota q;
    uint8_t k[32];
    uint32_t retry;
    key_of(k, 3);
    assert_int_equal(node_quota_init(&q, 16), 0);
    /* 16 devices at 5 decisions/s: served from a full bucket (never refused forever)... */
    assert_int_equal(node_quota_take(&q, k, 5, 16, 0, &retry), 0);
    /* ... and the bucket is empty: the next waits for a full one. */
    assert_int_equal(node_quota_take(&q, k, 5, 16, 0, &retry), NODE_ERATE);
    assert_int_equal(retry, 1000);
    assert_int_equal(node_quota_take(&q, k, 5, 16, 1000, &retry), 0);
    /* Rate 0: no limit. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(node_quota_take(&q, k, 0, 1000, 1000, &retry), 0);
    node_quota_close(&q);
}

static void test_sweep_and_bound(void **state)
{
    (void)state;
    node_quota q;
    uint8_t k[32];
    uint32_t retry;
    assert_int_equal(node_quota_init(&q, 4), 0);
    for (uint8_t i = 0; i < 4; i++) {
        key_of(k, i);
        assert_int_equal(node_quota_take(&q, k, 2, 2, 0, &retry), 0);
    }
    assert_int_equal(node_quota_count(&q), 4);
    /* Past max_entries, new names share the overflow bucket: one drains it for the rest. */
    key_of(k, 100);
    assert_int_equal(node_quota_take(&q, k, 2, 2, 0, &retry), 0);
    key_of(k, 101);
    assert_int_equal(node_quota_take(&q, k, 2, 1, 0, &retry), NODE_ERATE);
    assert_int_equal(node_quota_count(&q), 4);
    /* Half refilled: kept; full again: dropped (the same as no bucket). */
    node_quota_sweep(&q, 500);
    assert_int_equal(node_quota_count(&q), 4);
    node_quota_sweep(&q, 1000);
    assert_int_equal(node_quota_count(&q), 0);
    key_of(k, 101);
    assert_int_equal(node_quota_take(&q, k, 2, 2, 1000, &retry), 0);
    node_quota_close(&q);
    assert_int_equal(node_quota_init(&q, 0), LDG_EINVALID);
    node_quota_close(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_and_retry),
        cmocka_unit_test(test_cost_above_rate),
        cmocka_unit_test(test_sweep_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
