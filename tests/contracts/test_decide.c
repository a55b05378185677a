/*
 * The eligibility decision (contracts/decide.c: ctr_prepare, ctr_decide) on the X.1368 Appendix II.1 situations: two
 * hardware revisions with different supported versions, a sensor board that needs a
 * specific release, a dependency that needs an update first (an ordered plan), one that
 * cannot be satisfied, a cycle, a revoked release making the device urgent, a 25% rollout
 * by contract widening to 50% and keeping the first quarter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "contracts/contracts.h"

/* --- fixtures --------------------------------------------------------------------------- */

static const char *no_addons[1];
static const char *lora[] = {"lora"};
static const ctr_hardware hw_rev1_3[] = {{"sensor-v1", 1, 3, no_addons, 0}};
static const ctr_hardware hw_rev4_up[] = {{"sensor-v1", 4, 0, no_addons, 0}};
static const ctr_hardware hw_any[] = {{"sensor-v1", 0, 0, no_addons, 0}};
static const ctr_hardware hw_lora[] = {{"sensor-v1", 0, 0, lora, 1}};
static uint8_t fh[32][32];

static ctr_candidate cand(int i, const char *product, const char *version, uint64_t secver,
                          const ctr_hardware *hw, const ctr_dependency *deps, size_t n_deps)
{
    ctr_candidate c;
    memset(&c, 0, sizeof c);
    memset(fh[i], i + 1, 32);
    c.r.product = product;
    c.r.version = version;
    c.r.security_version = secver;
    c.r.file_hash = fh[i];
    c.r.file_hash_len = 32;
    c.r.hardware = hw;
    c.r.n_hardware = 1;
    c.r.deps = deps;
    c.r.n_deps = n_deps;
    c.hash_alg = LDG_HASH_SHA256;
    return c;
}

static ctr_device device(uint32_t rev, const char *const *addons, size_t n_addons,
                         const ctr_package *pk, size_t n_pk)
{
    ctr_device d = {"dev-1", "sensor-v1", rev, addons, n_addons, pk, n_pk, "eu", NULL, 0};
    return d;
}

static int default_policy(void *ctx, const char *product, const char *model,
                          const ctr_program **prog)
{
    (void)ctx, (void)product, (void)model;
    *prog = NULL;
    return 0;
}

static int contract_policy(void *ctx, const char *product, const char *model,
                           const ctr_program **prog)
{
    (void)product, (void)model;
    *prog = ctx;
    return 0;
}

static const ctr_answer *find(const ctr_answer *a, size_t n, const char *product)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(a[i].product, product))
            return &a[i];
    return NULL;
}

static ctr_answer out[CTR_PRODUCTS_MAX];
static ctr_candidate prepared[16]; /* the answers point into it */

/* Decide over a prepared copy of c[0..n). */
typedef int (*policy_fn)(void *ctx, const char *product, const char *model,
                         const ctr_program **prog);

static size_t decide(const ctr_device *d, const ctr_candidate *c, size_t n, policy_fn pol,
                     void *ctx)
{
    ctr_source src = {pol, NULL, ctx};
    size_t m = 0;
    ctr_context cc = {1700000000000ull, 10, 0};
    assert_true(n <= 16);
    memcpy(prepared, c, n * sizeof *c);
    assert_int_equal(ctr_prepare(prepared, n), 0);
    assert_int_equal(ctr_decide(d, prepared, n, &src, &cc, out, CTR_PRODUCTS_MAX, &m), 0);
    return m;
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_two_revisions(void **st)
{
    (void)st;
    const ctr_package pk[] = {{"fw", "1.0.0"}};
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 2, hw_rev1_3, NULL, 0),
                         cand(1, "fw", "2.1.0", 3, hw_rev4_up, NULL, 0)};
    ctr_device d = device(2, NULL, 0, pk, 1);
    size_t n = decide(&d, c, 2, default_policy, NULL);
    const ctr_answer *a = find(out, n, "fw");
    assert_non_null(a);
    assert_non_null(a->best);
    assert_string_equal(a->best->r.version, "2.0.0");
    assert_int_equal(a->status, CTR_UPDATE_AVAILABLE);
    assert_string_equal(a->installed, "1.0.0");
    assert_int_equal(a->n_rejected, 1);
    assert_string_equal(a->rejected[0].release->r.version, "2.1.0");
    assert_string_equal(a->rejected[0].rule, "hardware");
    d = device(5, NULL, 0, pk, 1);
    n = decide(&d, c, 2, default_policy, NULL);
    a = find(out, n, "fw");
    assert_string_equal(a->best->r.version, "2.1.0");
}

static void test_sensor_board(void **st)
{
    (void)st;
    const ctr_package pk[] = {{"fw", "1.0.0"}};
    ctr_candidate c[] = {cand(0, "fw", "3.0.0", 3, hw_lora, NULL, 0),
                         cand(1, "fw", "2.0.0", 2, hw_any, NULL, 0)};
    ctr_device d = device(2, NULL, 0, pk, 1);
    size_t n = decide(&d, c, 2, default_policy, NULL);
    const ctr_answer *a = find(out, n, "fw");
    assert_string_equal(a->best->r.version, "2.0.0"); /* no LoRa board: 3.0.0 is rejected */
    assert_string_equal(a->rejected[0].rule, "hardware");
    d = device(2, lora, 1, pk, 1);
    n = decide(&d, c, 2, default_policy, NULL);
    a = find(out, n, "fw");
    assert_string_equal(a->best->r.version, "3.0.0");
    assert_int_equal(a->n_rejected, 0); /* 2.0.0 is older than the answer: superseded */
    assert_int_equal(a->n_superseded, 1);
}

static void test_dependency_plan(void **st)
{
    (void)st;
    static const ctr_dependency needs_foo2[] = {{"libfoo", ">=2.0.0,<3"}};
    const ctr_package pk[] = {{"app", "1.0.0"}, {"libfoo", "1.4.0"}};
    ctr_candidate c[] = {cand(0, "app", "2.0.0", 2, hw_any, needs_foo2, 1),
                         cand(1, "libfoo", "2.1.0", 2, hw_any, NULL, 0),
                         cand(2, "libfoo", "3.0.0", 3, hw_any, NULL, 0)};
    ctr_device d = device(1, NULL, 0, pk, 2);
    size_t n = decide(&d, c, 3, default_policy, NULL);
    const ctr_answer *a = find(out, n, "app");
    assert_non_null(a);
    assert_non_null(a->best);
    assert_string_equal(a->best->r.version, "2.0.0");
    assert_int_equal(a->n_plan, 2);
    assert_string_equal(a->plan[0]->r.product, "libfoo"); /* libfoo first, the 2.x line */
    assert_string_equal(a->plan[0]->r.version, "2.1.0");
    assert_string_equal(a->plan[1]->r.product, "app");
    assert_false(a->unsatisfiable);
}

static void test_dependency_unsatisfiable_and_cycle(void **st)
{
    (void)st;
    static const ctr_dependency needs_bar5[] = {{"libbar", ">=5"}};
    const ctr_package pk[] = {{"app", "1.0.0"}};
    ctr_candidate c[] = {cand(0, "app", "2.0.0", 2, hw_any, needs_bar5, 1),
                         cand(1, "libbar", "4.0.0", 1, hw_any, NULL, 0)};
    ctr_device d = device(1, NULL, 0, pk, 1);
    size_t n = decide(&d, c, 2, default_policy, NULL);
    const ctr_answer *a = find(out, n, "app");
    assert_null(a->best);
    assert_true(a->unsatisfiable);
    assert_non_null(strstr(a->unsat_reason, "libbar"));
    assert_int_equal(a->status, CTR_UP_TO_DATE);
    /* a needs b >= 2, b needs a >= 2: a cycle, detected and reported, not looped on */
    static const ctr_dependency needs_b[] = {{"b", ">=2"}}, needs_a[] = {{"a", ">=2"}};
    ctr_candidate cy[] = {cand(2, "a", "2.0.0", 2, hw_any, needs_b, 1),
                          cand(3, "b", "2.0.0", 2, hw_any, needs_a, 1)};
    d = device(1, NULL, 0, NULL, 0);
    n = decide(&d, cy, 2, default_policy, NULL);
    a = find(out, n, "a");
    assert_true(a->unsatisfiable);
    assert_non_null(strstr(a->unsat_reason, "cycle"));
}

static void test_revoked_running_is_urgent(void **st)
{
    (void)st;
    const ctr_package pk[] = {{"fw", "2.0.0"}};
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 2, hw_any, NULL, 0),
                         cand(1, "fw", "2.0.1", 3, hw_any, NULL, 0)};
    c[0].r.revoked = true;
    ctr_device d = device(1, NULL, 0, pk, 1);
    size_t n = decide(&d, c, 2, default_policy, NULL);
    const ctr_answer *a = find(out, n, "fw");
    assert_int_equal(a->status, CTR_URGENT);
    assert_string_equal(a->best->r.version, "2.0.1");
    /* up to date: running the newest, not revoked */
    const ctr_package pk2[] = {{"fw", "2.0.1"}};
    d = device(1, NULL, 0, pk2, 1);
    n = decide(&d, c, 2, default_policy, NULL);
    a = find(out, n, "fw");
    assert_int_equal(a->status, CTR_UP_TO_DATE);
    assert_null(a->best);
}

static bool eligible_with(const ctr_program *p, const char *id, const ctr_candidate *c)
{
    const ctr_package pk[] = {{"fw", "1.0.0"}};
    ctr_device d = {id, "sensor-v1", 1, NULL, 0, pk, 1, "eu", NULL, 0};
    return decide(&d, c, 1, contract_policy, (void *)p) == 1 && out[0].best;
}

static void test_rollout_widens_monotonically(void **st)
{
    (void)st;
    static const char src25[] = "rule quarter: bucket(device.id, release) < 2500\n";
    static const char src50[] = "rule half: bucket(device.id, release) < 5000\n";
    char err[160];
    ctr_program *p25 = NULL, *p50 = NULL;
    int rc = ctr_compile(src25, strlen(src25), &p25, err, sizeof err);
    if (rc)
        fail_msg("compile: %s", err);
    assert_int_equal(ctr_compile(src50, strlen(src50), &p50, err, sizeof err), 0);
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 2, hw_any, NULL, 0)};
    int in25 = 0, in50 = 0;
    for (int i = 0; i < 400; i++) {
        char id[32];
        snprintf(id, sizeof id, "device-%d", i);
        bool q = eligible_with(p25, id, c), h = eligible_with(p50, id, c);
        assert_true(!q || h); /* everyone in the first quarter stays in at half */
        assert_int_equal(q, ctr_bucket(id, c[0].r.file_hash, 32) < 2500);
        in25 += q, in50 += h;
    }
    assert_true(in25 > 60 && in25 < 140); /* about a quarter of 400 */
    assert_true(in50 > 160 && in50 < 240);
    ctr_free(p25);
    ctr_free(p50);
}

/* A device description the policy refuses (a package listed twice) is an error of the
 * device, with the reason, not "up to date". */
static void test_bad_device_is_an_error(void **st)
{
    (void)st;
    const ctr_package pk[] = {{"fw", "1.0.0"}, {"fw", "1.1.0"}};
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 2, hw_any, NULL, 0)};
    ctr_device d = device(1, NULL, 0, pk, 2);
    size_t m = 9;
    ctr_context cc = {0, 0, 0};
    assert_int_equal(ctr_prepare(c, 1), 0);
    ctr_source src = {default_policy, NULL, NULL};
    int rc = ctr_decide(&d, c, 1, &src, &cc, out, CTR_PRODUCTS_MAX, &m);
    assert_true(rc == CTR_EINVAL || rc == CTR_ETOOBIG);
    assert_int_equal(m, 0);
    assert_true(strlen(out[0].error_reason) > 0);
}

/* Candidates older than the answer are superseded (counted, not evaluated); a device that
 * runs the newest release has every candidate refused, and the default policy's shortcut
 * (not newer than installed: refused without evaluation past the reported ones) counts
 * exactly what evaluating each under a contract of the same rules counts. */
static void test_superseded_and_up_to_date(void **st)
{
    (void)st;
    static char ver[12][16];
    ctr_candidate c[12];
    for (int i = 0; i < 12; i++) {
        snprintf(ver[i], sizeof ver[i], "%d.0.0", i + 1);
        c[i] = cand(i, "fw", ver[i], (uint64_t)i + 1, hw_any, NULL, 0);
    }
    const ctr_package old[] = {{"fw", "1.0.0"}};
    ctr_device d = device(1, NULL, 0, old, 1);
    size_t n = decide(&d, c, 12, default_policy, NULL);
    const ctr_answer *a = find(out, n, "fw");
    assert_string_equal(a->best->r.version, "12.0.0");
    assert_int_equal(a->n_rejected_total, 0);
    assert_int_equal(a->n_superseded, 11);

    const ctr_package newest[] = {{"fw", "12.0.0"}};
    d = device(1, NULL, 0, newest, 1);
    static const char src[] = "rule base: defaults()\n";
    char err[160];
    ctr_program *p = NULL;
    assert_int_equal(ctr_compile(src, strlen(src), &p, err, sizeof err), 0);
    for (int k = 0; k < 2; k++) {
        n = decide(&d, c, 12, k ? contract_policy : default_policy, p);
        a = find(out, n, "fw");
        assert_null(a->best);
        assert_int_equal(a->status, CTR_UP_TO_DATE);
        assert_int_equal(a->n_rejected, CTR_REJECTED_MAX);
        assert_int_equal(a->n_rejected_total, 12);
        assert_int_equal(a->n_superseded, 0);
        assert_string_equal(a->rejected[0].release->r.version, "12.0.0");
        assert_string_equal(a->rejected[0].rule, k ? "base" : "newer");
        assert_string_equal(a->rejected[7].release->r.version, "5.0.0");
    }
    ctr_free(p);
}

/* The security version of an installed release comes from the ledger's record of it: a
 * newer version with the same security version is not "newer". */
static void test_installed_security_version(void **st)
{
    (void)st;
    const ctr_package pk[] = {{"fw", "2.0.0"}};
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 5, hw_any, NULL, 0),
                         cand(1, "fw", "2.1.0", 5, hw_any, NULL, 0)};
    ctr_device d = device(1, NULL, 0, pk, 1);
    size_t n = decide(&d, c, 2, default_policy, NULL);
    const ctr_answer *a = find(out, n, "fw");
    assert_null(a->best);
    assert_string_equal(a->rejected[0].rule, "newer");
    assert_non_null(strstr(a->rejected[0].reason, "security version 5"));
    c[1].r.security_version = 6;
    n = decide(&d, c, 2, default_policy, NULL);
    a = find(out, n, "fw");
    assert_string_equal(a->best->r.version, "2.1.0");
}

/* The bounds: at most CTR_PRODUCTS_MAX products answered (the first by name), at most
 * CTR_CANDIDATES_MAX candidates, plans at most CTR_PLAN_MAX deep. */
static void test_bounds(void **st)
{
    (void)st;
    static char names[10][16];
    ctr_candidate c[10];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof names[i], "p%d", 9 - i);
        c[i] = cand(i, names[i], "1.0.0", 1, hw_any, NULL, 0);
    }
    ctr_device d = device(1, NULL, 0, NULL, 0);
    size_t n = decide(&d, c, 10, default_policy, NULL);
    assert_int_equal(n, CTR_PRODUCTS_MAX);
    assert_string_equal(out[0].product, "p0");
    assert_string_equal(out[CTR_PRODUCTS_MAX - 1].product, "p7");

    ctr_candidate *big = calloc(CTR_CANDIDATES_MAX + 1, sizeof *big);
    assert_non_null(big);
    assert_int_equal(ctr_prepare(big, CTR_CANDIDATES_MAX + 1), LDG_ETOOBIG);
    size_t m = 9;
    ctr_source src = {default_policy, NULL, NULL};
    assert_int_equal(ctr_decide(&d, big, CTR_CANDIDATES_MAX + 1, &src, NULL, out,
                                CTR_PRODUCTS_MAX, &m), LDG_ETOOBIG);
    assert_int_equal(m, 0);
    free(big);

    /* app needs d1, d1 needs d2, ... d9: a plan 10 deep is refused, not followed */
    static char pk[10][16];
    static ctr_dependency deps[10][1];
    ctr_candidate chain[10];
    for (int i = 0; i < 10; i++) {
        snprintf(pk[i], sizeof pk[i], i ? "d%d" : "app", i);
        if (i < 9)
            snprintf(names[i], sizeof names[i], "d%d", i + 1);
        deps[i][0] = (ctr_dependency){names[i], ">=1"};
        chain[i] = cand(i, pk[i], "1.0.0", 1, hw_any, deps[i], i < 9);
    }
    n = decide(&d, chain, 10, default_policy, NULL);
    const ctr_answer *a = find(out, n, "app");
    assert_non_null(a);
    assert_null(a->best);
    assert_true(a->unsatisfiable);
    assert_non_null(strstr(a->unsat_reason, "deeper than 8"));
    a = find(out, n, "d7"); /* near the end of the chain: d9, d8, then d7 */
    assert_non_null(a);
    assert_non_null(a->best);
    assert_int_equal(a->n_plan, 3);
    assert_string_equal(a->plan[0]->r.product, "d9");
}

/* Candidates not prepared by ctr_prepare are refused, not misread. */
static void test_unprepared_refused(void **st)
{
    (void)st;
    ctr_candidate c[] = {cand(0, "fw", "2.0.0", 2, hw_any, NULL, 0)};
    ctr_device d = device(1, NULL, 0, NULL, 0);
    size_t m = 9;
    ctr_source src = {default_policy, NULL, NULL};
    assert_int_equal(ctr_decide(&d, c, 1, &src, NULL, out, CTR_PRODUCTS_MAX, &m), CTR_EINVAL);
    assert_int_equal(m, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_revisions),
        cmocka_unit_test(test_sensor_board),
        cmocka_unit_test(test_dependency_plan),
        cmocka_unit_test(test_dependency_unsatisfiable_and_cycle),
        cmocka_unit_test(test_revoked_running_is_urgent),
        cmocka_unit_test(test_rollout_widens_monotonically),
        cmocka_unit_test(test_bad_device_is_an_error),
        cmocka_unit_test(test_superseded_and_up_to_date),
        cmocka_unit_test(test_installed_security_version),
        cmocka_unit_test(test_unprepared_refused),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
