/* The X.1368 Appendix II.1 situations at the contract level, rollouts by bucket, the cost
 * limit, and determinism. The same contracts appear as worked examples in
 * docs/contracts.md. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/sha.h>

#include "tests/contracts/fixture.h"

/* --- two hardware revisions with different supported versions --------------------------- */

static void test_two_revisions(void **state)
{
    (void)state;
    /* Release 2.0.0 runs on cam-v2 revisions 4-5 only; release 1.5.0 on revisions 1-3. A
     * revision-3 board gets 1.5.0, a revision-5 board gets 2.0.0. */
    fx f;
    ctr_verdict v;
    fx_init(&f);
    ctr_hardware hw20[] = {{"cam-v2", 4, 5, NULL, 0}}, hw15[] = {{"cam-v2", 1, 3, NULL, 0}};
    ctr_program *p = fx_compile("rule base: defaults()");
    static const struct {
        uint32_t revision;
        bool v20, v15;
        const char *why20, *why15;
    } rows[] = {
        {3, false, true, "hardware: revision 3 outside 4-5 for cam-v2", ""},
        {5, true, false, "", "hardware: revision 5 outside 1-3 for cam-v2"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        f.d.revision = rows[i].revision;
        f.r.n_deps = 0;
        f.r.hardware = hw20, f.r.n_hardware = 1, f.r.version = "2.0.0";
        assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
        CHECK(v.eligible == rows[i].v20 && !strcmp(v.reason, rows[i].why20), "rev %u 2.0.0: %s",
              rows[i].revision, v.reason);
        f.r.hardware = hw15, f.r.version = "1.5.0";
        assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
        CHECK(v.eligible == rows[i].v15 && !strcmp(v.reason, rows[i].why15), "rev %u 1.5.0: %s",
              rows[i].revision, v.reason);
    }
    ctr_free(p);
}

/* --- a sensor board that needs a specific release ---------------------------------------- */

static void test_sensor_board(void **state)
{
    (void)state;
    static const char src[] =
        "rule base: defaults()\n"
        "rule co2_board: \"co2-sensor\" not in device.addons or "
        "satisfies(release.version, \">=2.1.0\")\n"
        "    because \"the co2-sensor board needs cam-fw 2.1.0 or later, not {release.version}\"\n";
    fx f;
    ctr_verdict v;
    fx_init(&f);
    f.r.n_deps = 0;
    ctr_program *p = fx_compile(src);
    static const struct {
        bool sensor;
        const char *version;
        bool eligible;
        const char *reason;
    } rows[] = {
        {true, "2.0.0", false, "the co2-sensor board needs cam-fw 2.1.0 or later, not 2.0.0"},
        {true, "2.1.0", true, ""},
        {false, "2.0.0", true, ""},
    };
    for (size_t i = 0; i < N(rows); i++) {
        f.addons[1] = "co2-sensor";
        f.d.n_addons = rows[i].sensor ? 2 : 1;
        f.r.version = rows[i].version;
        assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
        CHECK(v.eligible == rows[i].eligible && !strcmp(v.reason, rows[i].reason),
              "sensor %d %s: %s: %s", rows[i].sensor, rows[i].version, v.rule, v.reason);
    }
    ctr_free(p);

    /* The same need stated by the release itself: an add-on board it requires. */
    fx_init(&f);
    f.req[0] = "co2-sensor";
    assert_int_equal(ctr_eval_default(&f.d, &f.r, &f.c, &v), 0);
    assert_false(v.eligible);
    assert_string_equal(v.reason, "cam-v2 needs add-on board co2-sensor");
}

/* --- a dependency conflict ---------------------------------------------------------------- */

static void test_dependency_conflict(void **state)
{
    (void)state;
    /* cam-fw 2.0.0 needs libfoo >= 2, but the device's libfoo 1.4.0 is also what its other
     * software needs (libfoo <2 stays installed): not eligible, with the reason. */
    fx f;
    ctr_verdict v;
    fx_init(&f);
    f.deps[0].constraint = ">=2";
    f.r.version = "2.0.0";
    assert_int_equal(ctr_eval_default(&f.d, &f.r, &f.c, &v), 0);
    assert_false(v.eligible);
    assert_string_equal(v.rule, "dependencies");
    assert_string_equal(v.reason, "needs libfoo >=2 but 1.4.0 is installed");

    assert_int_equal(fx_eval(&f, "rule deps: deps_ok(release, device)\n", &v), 0);
    assert_string_equal(v.reason, "needs libfoo >=2 but 1.4.0 is installed");
    /* a contract can name the conflicting package itself */
    assert_int_equal(fx_eval(&f, "rule libfoo: installed(device, \"libfoo\") >= \"2.0.0\"\n"
                                 "    because \"libfoo {installed(device, \"libfoo\")} "
                                 "is too old for {release.product} {release.version}\"",
                             &v),
                     0);
    assert_string_equal(v.reason, "libfoo 1.4.0 is too old for cam-fw 2.0.0");
}

/* --- a revoked release -------------------------------------------------------------------- */

static void test_revoked(void **state)
{
    (void)state;
    static const char *const contracts[] = {
        "rule anything: true",
        "rule inverted: not defaults()",
        "rule reads_it: release.revoked",
        "let x = 1 / 0\nrule boom: x == 1",
    };
    fx f;
    ctr_verdict v;
    fx_init(&f);
    f.r.revoked = true;
    f.r.revoke_reason = 2;
    for (size_t i = 0; i < N(contracts); i++) {
        int rc = fx_eval(&f, contracts[i], &v);
        CHECK(rc == 0 && !v.eligible && !strcmp(v.rule, "revoked") &&
                  !strcmp(v.reason, "release cam-fw 1.1.0 is revoked (malicious)") && v.cost == 0,
              "\"%s\": rc %d, %d %s: %s", contracts[i], rc, v.eligible, v.rule, v.reason);
    }
    /* Inside a contract, release.revoked is always false: revoked releases never get there. */
    f.r.revoked = false;
    assert_int_equal(fx_eval(&f, "rule reads_it: not release.revoked", &v), 0);
    assert_true(v.eligible);
}

/* --- rollouts ------------------------------------------------------------------------------ */

static void test_bucket_definition(void **state)
{
    (void)state;
    /* Exactly: SHA-256(device id || file hash), first 8 bytes big-endian, mod 10000. */
    uint8_t hash[32], buf[128], dig[SHA256_DIGEST_LENGTH];
    char id[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(i * 7 + 1);
    for (int k = 0; k < 500; k++) {
        int n = snprintf(id, sizeof id, "device-%d", k * 7919);
        memcpy(buf, id, (size_t)n);
        memcpy(buf + n, hash, sizeof hash);
        SHA256(buf, (size_t)n + sizeof hash, dig);
        uint64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = x << 8 | dig[i];
        assert_int_equal(ctr_bucket(id, hash, sizeof hash), (uint32_t)(x % 10000));
    }
    /* pinned (computed once, independently) */
    uint8_t ab[32];
    memset(ab, 0xab, sizeof ab);
    assert_int_equal(ctr_bucket("dev-0001", ab, 32), 3891);
    assert_int_equal(ctr_bucket("dev-0002", ab, 32), 1481);
    assert_int_equal(ctr_bucket("sensor-42", ab, 32), 9382);
    assert_int_equal(ctr_bucket("", ab, 32), 6781);
    assert_int_equal(ctr_bucket(NULL, ab, 32), 6781);
    assert_int_equal(ctr_bucket("dev-0001", NULL, 0), 7590);
    memset(ab, 0x01, sizeof ab);
    assert_int_equal(ctr_bucket("dev-0001", ab, 32), 3237);
}

static void test_rollout_widens(void **state)
{
    (void)state;
    /* 25% -> 50%: every device in the first 25% stays in; the share is about right; a
     * different release picks a different 25% (no device is always first). */
    ctr_program *p25 = fx_compile("rule rollout: bucket(device.id, release) < 2500");
    ctr_program *p50 = fx_compile("rule rollout: bucket(device.id, release) < 5000");
    fx f;
    ctr_verdict v25, v50, other;
    char id[32];
    int n25 = 0, n50 = 0, same = 0;
    fx_init(&f);
    uint8_t hash2[32];
    memset(hash2, 0x5c, sizeof hash2);
    for (int k = 0; k < 4000; k++) {
        snprintf(id, sizeof id, "sensor-%05d", k);
        f.d.id = id;
        f.r.file_hash = f.hash;
        assert_int_equal(ctr_eval(p25, &f.d, &f.r, &f.c, &v25), 0);
        assert_int_equal(ctr_eval(p50, &f.d, &f.r, &f.c, &v50), 0);
        f.r.file_hash = hash2;
        assert_int_equal(ctr_eval(p25, &f.d, &f.r, &f.c, &other), 0);
        CHECK(!v25.eligible || v50.eligible, "%s: in the 25%% but not in the 50%%", id);
        n25 += v25.eligible;
        n50 += v50.eligible;
        same += v25.eligible && other.eligible;
        if (!v25.eligible)
            assert_string_equal(v25.reason, "bucket(device.id, release) < 2500 is false");
    }
    CHECK(n25 > 900 && n25 < 1100, "25%%: %d of 4000", n25);
    CHECK(n50 > 1900 && n50 < 2100, "50%%: %d of 4000", n50);
    CHECK(same > 150 && same < 350, "both releases' 25%%: %d (independent: about 250)", same);
    ctr_free(p25);
    ctr_free(p50);
}

static void test_rollout_policies(void **state)
{
    (void)state;
    /* Canaries first, then 10%, inside a time window, halted on failures. */
    static const char src[] =
        "# cam-fw rollout\n"
        "let canary = \"canary\" in device.tags\n"
        "rule base: defaults()\n"
        "rule window: between(block.time_ms, date(\"2023-11-14\"), date(\"2023-12-01\"))\n"
        "    because \"outside the rollout window\"\n"
        "rule rollout: canary or bucket(device.id, release) < 1000\n"
        "    because \"bucket {bucket(device.id, release)} is not in the first 10%\"\n"
        "rule healthy: failure_rate(release) <= 50\n"
        "    because \"halted: failure rate {failure_rate(release)} per mille is above 50\"\n";
    ctr_program *p = fx_compile(src);
    fx f;
    ctr_verdict v;
    fx_init(&f);
    f.r.outcomes = (ctr_outcomes){990, 5, 5}; /* 10 per mille */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_true(v.eligible);

    f.d.n_tags = 0; /* not a canary: bucket 3891 */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_string_equal(v.rule, "rollout");
    assert_string_equal(v.reason, "bucket 3891 is not in the first 10%");

    f.d.n_tags = 1;
    f.r.outcomes = (ctr_outcomes){90, 6, 4}; /* 100 per mille: halted */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_string_equal(v.rule, "healthy");
    assert_string_equal(v.reason, "halted: failure rate 100 per mille is above 50");

    f.r.outcomes = (ctr_outcomes){949, 51, 0}; /* 51 per mille */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_false(v.eligible);
    f.r.outcomes = (ctr_outcomes){950, 50, 0}; /* exactly 50: still fine */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_true(v.eligible);
    f.r.outcomes = (ctr_outcomes){0, 0, 0}; /* nothing reported yet */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_true(v.eligible);

    f.c.block_time_ms = 1701388800000ull; /* 2023-12-01: the window is half-open */
    assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &v), 0);
    assert_string_equal(v.rule, "window");
    assert_string_equal(v.reason, "outside the rollout window");
    ctr_free(p);
}

/* --- the cost limit ------------------------------------------------------------------------ */

static void test_cost_limit(void **state)
{
    (void)state;
    fx f;
    ctr_verdict v;
    fx_init(&f);
    for (int i = 0; i < CTR_LIST_MAX; i++)
        f.tags[i] = i % 2 ? "a" : "b";
    f.d.n_tags = CTR_LIST_MAX;

    /* 16^6 iterations would be 16 million: the limit stops it after 100,000 units. */
    static const char nested[] =
        "rule slow: all(a in device.tags: all(b in device.tags: all(c in device.tags: "
        "all(d in device.tags: all(e in device.tags: all(g in device.tags: "
        "a == g or b != g or c == d or e != a))))))";
    clock_t t0 = clock();
    assert_int_equal(fx_eval(&f, nested, &v), CTR_ECOST);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_false(v.eligible);
    assert_string_equal(v.rule, "slow");
    assert_string_equal(v.reason, "cost limit exceeded");
    assert_int_equal(v.cost, CTR_COST_DEFAULT);
    CHECK(secs < 0.5, "the cost limit took %.3f s", secs);

    /* 64-element literals and lets do not escape it either */
    char *src = malloc(8192), *p = src;
    p += sprintf(p, "let big = count(x in [");
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "%d,", i);
    p += sprintf(p, "]: count(y in device.tags: intersects(device.tags, device.tags)) > 0)\n"
                    "rule r: count(z in device.tags: big > 0 and subset(device.tags, "
                    "device.tags)) >= 0");
    f.c.cost_limit = 5000;
    assert_int_equal(fx_eval(&f, src, &v), CTR_ECOST);
    assert_int_equal(v.cost, 5000);
    free(src);

    /* The boundary: a contract that costs exactly N runs with limit N, not N - 1. */
    f.c.cost_limit = 0;
    assert_int_equal(fx_eval(&f, "rule r: all(t in device.tags: t != \"\")", &v), 0);
    uint64_t exact = v.cost;
    f.c.cost_limit = exact;
    assert_int_equal(fx_eval(&f, "rule r: all(t in device.tags: t != \"\")", &v), 0);
    assert_true(v.eligible);
    assert_int_equal(v.cost, exact);
    f.c.cost_limit = exact - 1;
    assert_int_equal(fx_eval(&f, "rule r: all(t in device.tags: t != \"\")", &v), CTR_ECOST);
    assert_int_equal(v.cost, exact - 1);
    f.c.cost_limit = 1;
    assert_int_equal(fx_eval(&f, "rule r: true", &v), CTR_ECOST);
    assert_int_equal(v.cost, 1);

    /* Built-ins pay for the entries they visit: subset over 16 x 16 costs more than
     * subset over 1 x 1. */
    ctr_verdict small, large;
    f.c.cost_limit = 0;
    assert_int_equal(fx_eval(&f, "rule r: subset(device.tags, device.tags)", &large), 0);
    f.d.n_tags = 1;
    assert_int_equal(fx_eval(&f, "rule r: subset(device.tags, device.tags)", &small), 0);
    assert_true(large.cost > small.cost + 16);
}

/* --- determinism ---------------------------------------------------------------------------- */

static void test_determinism(void **state)
{
    (void)state;
    static const char src[] =
        "let n = count(p in device.packages: satisfies(p.version, \"^1\"))\n"
        "rule base: defaults()\n"
        "rule pk: n == 3 and all(d in release.deps: installed(device, d.package) != none)\n"
        "rule rollout: bucket(device.id, release) < 5000 or \"canary\" in device.tags\n"
        "rule healthy: failure_rate(release) < 500 because \"rate {failure_rate(release)}\"\n"
        "rule fails: device.revision > 3 because \"rev {device.revision} {device.tags} "
        "{release.version} {n}\"\n";
    fx f;
    fx_init(&f);
    ctr_program *a = fx_compile(src), *b = fx_compile(src);
    size_t la, lb;
    const uint8_t *ia = ctr_code(a, &la), *ib = ctr_code(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ia, ib, la); /* the same image from the same source */

    ctr_verdict first, again;
    assert_int_equal(ctr_eval(a, &f.d, &f.r, &f.c, &first), 0);
    assert_false(first.eligible);
    assert_string_equal(first.rule, "fails");
    assert_string_equal(first.reason, "rev 3 [canary] 1.1.0 3");
    for (int i = 0; i < 200; i++) {
        const ctr_program *p = i % 2 ? a : b;
        /* unrelated evaluations in between change nothing */
        ctr_verdict noise;
        fx g;
        fx_init(&g);
        g.d.revision = 4 + (uint32_t)i;
        ctr_eval(p, &g.d, &g.r, &g.c, &noise);
        memset(&again, 0x5a, sizeof again);
        assert_int_equal(ctr_eval(p, &f.d, &f.r, &f.c, &again), 0);
        assert_int_equal(again.eligible, first.eligible);
        assert_string_equal(again.rule, first.rule);
        assert_string_equal(again.reason, first.reason);
        assert_int_equal(again.cost, first.cost);
    }
    /* the default policy too */
    ctr_verdict d1, d2;
    f.d.revision = 9;
    assert_int_equal(ctr_eval_default(&f.d, &f.r, &f.c, &d1), 0);
    assert_int_equal(ctr_eval_default(&f.d, &f.r, &f.c, &d2), 0);
    assert_memory_equal(&d1, &d2, sizeof d1);
    ctr_free(a);
    ctr_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_revisions),
        cmocka_unit_test(test_sensor_board),
        cmocka_unit_test(test_dependency_conflict),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_bucket_definition),
        cmocka_unit_test(test_rollout_widens),
        cmocka_unit_test(test_rollout_policies),
        cmocka_unit_test(test_cost_limit),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
