/* Unit tests for the built-in functions: for each, calls it accepts (and what they give)
 * and calls the compiler refuses (and its exact message). */
#include <stdint.h>

#include "tests/contracts/fixture.h"

typedef struct {
    const char *src;
    const char *err;
} refused;

static void check_refused(const refused *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256];
        int rc = fx_error(rows[i].src, err, sizeof err);
        CHECK(rc == CTR_ESYNTAX, "row %zu \"%s\": rc %d, want CTR_ESYNTAX", i, rows[i].src, rc);
        CHECK(!strcmp(err, rows[i].err), "row %zu \"%s\":\n  got  \"%s\"\n  want \"%s\"", i,
              rows[i].src, err, rows[i].err);
    }
}

static void test_versions(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row ok[] = {
        {"rule a: version(\"1.2.3\") < version(\"1.10.0\")", 0, true},
        {"rule a: version(\"1.0.0-rc.1\") < version(\"1.0.0\")", 0, true},
        {"rule a: version(\"1.0.0+a\") == version(\"1.0.0+b\")", 0, true},
        {"rule a: major(release.version) == 1 and minor(release.version) == 1 and "
         "patch(release.version) == 0", 0, true},
        {"rule a: major(\"18446744073709551615.0.0\") > 0", CTR_ERUNTIME, false, "a",
         "1:9: major(18446744073709551615.0.0) is 18446744073709551615, above the int range"},
        {"rule a: major(installed(device, \"nope\")) == 0", CTR_ERUNTIME, false, "a",
         "1:9: major() of none (a package that is not installed)"},
        {"rule a: is_prerelease(version(\"1.0.0-rc.1\")) and not is_prerelease(release.version)",
         0, true},
        {"rule a: is_prerelease(installed(device, \"nope\"))", CTR_ERUNTIME, false, "a",
         "1:9: is_prerelease() of none (a package that is not installed)"},
        {"rule a: satisfies(release.version, \">=1.1.0,<2\")", 0, true},
        {"rule a: satisfies(release.version, \"^2\")", 0, false, "a",
         "satisfies(release.version, \"^2\") is false"},
        {"rule a: satisfies(\"1.2.3\", \"~1.2\") and satisfies(release.version, \"*\")", 0, true},
        {"rule a: not satisfies(installed(device, \"nope\"), \"*\")", 0, true},
        {"rule a: all(d in release.deps: satisfies(installed(device, d.package), d.constraint))",
         0, true},
        {"rule a: satisfies(release.version, device.region)", CTR_ERUNTIME, false, "a",
         "1:9: \"eu-west\" is not a version constraint"},
        {"rule a: installed(device, \"libfoo\") == \"1.4.0\"", 0, true},
        {"rule a: installed(device, \"nope\") == none", 0, true},
        {"rule a: installed(device, release.product) < release.version", 0, true},
        {"rule a: installed(device, \"libfoo\") != none and installed(device, \"libfoo\") >= "
         "\"1.0.0\"", 0, true},
    };
    fx_run_rows(&f, ok, N(ok));
    static const refused bad[] = {
        {"rule a: version(\"1.2\") > release.version", "1:17: \"1.2\" is not a SemVer 2.0 version"},
        {"rule a: version(1) > release.version",
         "1:17: version() needs a string literal such as \"1.2.3\""},
        {"rule a: version(\"1.0.0\", \"2.0.0\") > release.version",
         "1:9: version() takes 1 argument, got 2"},
        {"rule a: major(\"x\") > 0", "1:15: \"x\" is not a SemVer 2.0 version"},
        {"rule a: major(1) > 0", "1:15: argument 1 of major() must be a version, got int"},
        {"rule a: minor() > 0", "1:9: minor() takes 1 argument, got 0"},
        {"rule a: patch(device.id) > 0",
         "1:15: argument 1 of patch() must be a version, got string"},
        {"rule a: is_prerelease(none)",
         "1:23: argument 1 of is_prerelease() must be a version, got none"},
        {"rule a: satisfies(release.version, \"bogus\")",
         "1:36: \"bogus\" is not a version constraint"},
        {"rule a: satisfies(1, \">1\")", "1:19: argument 1 of satisfies() must be a version, got int"},
        {"rule a: satisfies(release.version)", "1:9: satisfies() takes 2 arguments, got 1"},
        {"rule a: satisfies(release.version, 2)",
         "1:36: argument 2 of satisfies() must be a string, got int"},
        {"rule a: installed(release, \"x\") == none",
         "1:19: argument 1 of installed() must be device, got release"},
        {"rule a: installed(device, 1) == none",
         "1:27: argument 2 of installed() must be a string, got int"},
    };
    check_refused(bad, N(bad));
}

static void test_policy_builtins(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row ok[] = {
        {"rule a: supports(release, device) and newer(release, device) and "
         "deps_ok(release, device) and defaults()", 0, true},
    };
    fx_run_rows(&f, ok, N(ok));

    f.pk[0].version = "1.1.0";
    static const fx_row older[] = {
        {"rule n: newer(release, device)", 0, false, "n",
         "version 1.1.0 is not newer than installed 1.1.0"},
        {"rule s: supports(release, device)", 0, true},
    };
    fx_run_rows(&f, older, N(older));

    fx_init(&f);
    f.pk[1].version = "2.0.0";
    static const fx_row deps[] = {
        {"rule d: deps_ok(release, device)", 0, false, "d",
         "needs libfoo >=1.2.0,<2 but 2.0.0 is installed"},
        {"rule d: defaults()", 0, false, "d", "dependencies: needs libfoo >=1.2.0,<2 but 2.0.0 "
                                            "is installed"},
    };
    fx_run_rows(&f, deps, N(deps));

    static const refused bad[] = {
        {"rule a: supports(device, release)",
         "1:18: argument 1 of supports() must be release, got device"},
        {"rule a: newer(release)", "1:9: newer() takes 2 arguments, got 1"},
        {"rule a: deps_ok(release, block)",
         "1:26: argument 2 of deps_ok() must be device, got block"},
        {"rule a: defaults(release)", "1:9: defaults() takes 0 arguments, got 1"},
        {"rule a: defaults", "1:9: 'defaults' is a built-in function: call it with (...)"},
    };
    check_refused(bad, N(bad));
}

static void test_rollout_builtins(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row ok[] = {
        /* pinned: SHA-256("dev-0001" || 32 x 0xab), first 8 bytes big-endian, mod 10000 */
        {"rule a: bucket(device.id, release) == 3891", 0, true},
        {"rule a: bucket(\"dev-0002\", release) == 1481 and bucket(\"\", release) == 6781", 0,
         true},
        {"rule a: bucket(device.id, release) < 2500", 0, false, "a",
         "bucket(device.id, release) < 2500 is false"},
        {"rule a: failure_rate(release) == 100", 0, true}, /* (6 + 4) * 1000 / 100 */
        {"rule a: between(5, 5, 6) and not between(6, 5, 6) and not between(4, 5, 6)", 0, true},
        {"rule a: between(block.time_ms, date(\"2023-11-14\"), date(\"2023-11-15\"))", 0, true},
        {"rule a: date(\"2023-11-14T22:13:20Z\") == 1700000000000 and "
         "date(\"1970-01-01\") == 0 and date(\"2024-02-29\") == 1709164800000", 0, true},
        {"rule a: days(2) == 172800000 and hours(1) == 3600000 and days(-1) == -86400000", 0,
         true},
        {"rule a: block.time_ms - release.published_at * 1000 < days(1)", 0, true},
        {"rule a: hours(9223372036854775807) > 0", CTR_ERUNTIME, false, "a",
         "1:9: integer overflow in hours(9223372036854775807)"},
    };
    fx_run_rows(&f, ok, N(ok));

    f.r.outcomes = (ctr_outcomes){0, 0, 0};
    static const fx_row none[] = {{"rule a: failure_rate(release) == 0", 0, true}};
    fx_run_rows(&f, none, N(none));
    f.r.outcomes = (ctr_outcomes){0, UINT64_MAX, UINT64_MAX}; /* no overflow inside */
    static const fx_row all_bad[] = {{"rule a: failure_rate(release) == 1000", 0, true}};
    fx_run_rows(&f, all_bad, N(all_bad));
    f.r.outcomes = (ctr_outcomes){2, 1, 0};
    static const fx_row third[] = {{"rule a: failure_rate(release) == 333", 0, true}};
    fx_run_rows(&f, third, N(third));

    static const refused bad[] = {
        {"rule a: bucket(device, release) < 1",
         "1:16: argument 1 of bucket() must be a string, got device"},
        {"rule a: bucket(device.id) < 1", "1:9: bucket() takes 2 arguments, got 1"},
        {"rule a: failure_rate(device) < 1",
         "1:22: argument 1 of failure_rate() must be release, got device"},
        {"rule a: between(1, 2)", "1:9: between() takes 3 arguments, got 2"},
        {"rule a: between(1, 2, \"3\")", "1:23: argument 3 of between() must be an int, got string"},
        {"rule a: date(\"2023-02-29\") > 0",
         "1:14: \"2023-02-29\" is not a date: write \"YYYY-MM-DD\" or \"YYYY-MM-DDTHH:MM:SSZ\" "
         "(UTC, years 1970-9999)"},
        {"rule a: date(\"1969-12-31\") > 0",
         "1:14: \"1969-12-31\" is not a date: write \"YYYY-MM-DD\" or \"YYYY-MM-DDTHH:MM:SSZ\" "
         "(UTC, years 1970-9999)"},
        {"rule a: date(\"2023-01-01T24:00:00Z\") > 0",
         "1:14: \"2023-01-01T24:00:00Z\" is not a date: write \"YYYY-MM-DD\" or "
         "\"YYYY-MM-DDTHH:MM:SSZ\" (UTC, years 1970-9999)"},
        {"rule a: date(device.id) > 0",
         "1:14: date() needs a string literal such as \"2026-03-01\""},
        {"rule a: days(\"1\") > 0", "1:14: argument 1 of days() must be an int, got string"},
    };
    check_refused(bad, N(bad));
}

static void test_sets_and_strings(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row ok[] = {
        {"rule a: subset([\"lora\"], device.addons) and subset([], device.tags)", 0, true},
        {"rule a: subset(device.addons, [])", 0, false},
        {"rule a: subset([\"a\", \"b\"], [\"b\", \"a\", \"c\"]) and not subset([\"a\", \"d\"], "
         "[\"a\", \"b\"])", 0, true},
        {"rule a: subset([1, 2], [2, 1]) and not subset([\"1.0.0\"], [\"1.0.0+b\"])", 0, true},
        {"rule a: intersects(device.tags, [\"canary\", \"beta\"]) and not intersects(device.tags, "
         "[]) and not intersects([], [])", 0, true},
        {"rule a: len(device.tags) == 1 and len(\"h\xc3\xa9llo\") == 6 and len([]) == 0", 0, true},
        {"rule a: starts_with(device.region, \"eu-\") and not starts_with(\"eu\", \"eu-\") and "
         "starts_with(\"x\", \"\")", 0, true},
    };
    fx_run_rows(&f, ok, N(ok));
    static const refused bad[] = {
        {"rule a: subset(device.packages, [])",
         "1:9: subset() needs lists of strings, ints or versions, got list of package and "
         "empty list"},
        {"rule a: intersects(device.tags, [1])",
         "1:9: intersects() needs two lists of the same type, got list of string and list of int"},
        {"rule a: subset(device.tags, \"x\")",
         "1:29: argument 2 of subset() must be a list, got string"},
        {"rule a: len(1) == 0", "1:13: argument 1 of len() must be a list or a string, got int"},
        {"rule a: len(device) == 0",
         "1:13: argument 1 of len() must be a list or a string, got device"},
        {"rule a: starts_with(device.region)", "1:9: starts_with() takes 2 arguments, got 1"},
        {"rule a: frobnicate(device)", "1:9: unknown function 'frobnicate'"},
        {"rule a: device(1)", "1:9: 'device' is a record, not a function"},
        {"let f = 1\nrule a: f(1)", "2:9: 'f' is a let, not a function"},
    };
    check_refused(bad, N(bad));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_policy_builtins),
        cmocka_unit_test(test_rollout_builtins),
        cmocka_unit_test(test_sets_and_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
