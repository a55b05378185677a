/* Unit tests for the contract language: operators, precedence, short-circuit, strings and
 * versions, membership, comprehensions, lets, records' fields, because messages and the
 * reasons a failing rule gives, run-time errors with their positions. */
#include <stdint.h>

#include "tests/contracts/fixture.h"

static void test_operators(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"rule a: true", 0, true, "", ""},
        {"rule a: false", 0, false, "a", "false is false"},
        /* arithmetic, precedence, associativity, C's truncating division */
        {"rule a: 1 + 2 == 3", 0, true},
        {"rule a: 7 - 10 == -3", 0, true},
        {"rule a: 6 * 7 == 42", 0, true},
        {"rule a: 7 / 2 == 3 and -7 / 2 == -3", 0, true},
        {"rule a: 7 % 3 == 1 and -7 % 3 == -1 and 7 % -3 == 1", 0, true},
        {"rule a: 2 + 3 * 4 == 14 and (2 + 3) * 4 == 20", 0, true},
        {"rule a: 10 - 2 - 3 == 5 and 100 / 10 / 5 == 2", 0, true},
        {"rule a: -(3) == -3 and - 3 == -3 and --3 == 3", 0, true},
        {"rule a: 1_000_000 == 1000000", 0, true},
        {"rule a: 9223372036854775807 > 0", 0, true},
        {"rule a: (-9223372036854775807 - 1) % -1 == 0", 0, true},
        /* comparisons */
        {"rule a: 1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2 and 2 == 2", 0, true},
        {"rule a: 2 < 1", 0, false, "a", "2 < 1 is false"},
        {"rule a: true == true and true != false", 0, true},
        /* logic: not binds tighter than and, and tighter than or */
        {"rule a: true or false and false", 0, true},
        {"rule a: not true or true", 0, true},
        {"rule a: not 1 == 2", 0, true},
        {"rule a: not not true", 0, true},
        {"rule a: (true or false) and false", 0, false, "a", "false is false"},
        {"rule a: (true and false) or false", 0, false, "a",
         "(true and false) or false is false"},
        /* short-circuit: the right side is not evaluated */
        {"rule a: false and 1 / 0 == 0", 0, false, "a", "false is false"},
        {"rule a: true or 1 / 0 == 0", 0, true},
        {"rule a: not (false and 1 / 0 == 1)", 0, true},
        /* strings: bytes, escapes */
        {"rule a: device.model == \"cam-v2\" and device.region != \"us\"", 0, true},
        {"rule a: \"\xc3\xa9\" == \"\xc3\xa9\" and len(\"\xc3\xa9\") == 2", 0, true},
        {"rule a: \"a\\\"b\" != \"a\" and len(\"a\\tb\\n\\\\\") == 5", 0, true},
        {"rule a: \"\\{x\\}\" != \"x\" and len(\"\\{\\}\") == 2", 0, true},
        /* versions: ordinary operators, string literals parsed as versions */
        {"rule a: release.version > \"1.0.0\" and \"1.0.0\" < release.version", 0, true},
        {"rule a: release.version == \"1.1.0+build.5\"", 0, true},
        {"rule a: release.version > version(\"1.1.0-rc.1\")", 0, true},
        {"rule a: version(\"1.0.0-alpha\") < version(\"1.0.0-alpha.1\")", 0, true},
        {"rule a: version(\"1.2.3\") < \"1.10.0\"", 0, true},
        {"rule a: installed(device, \"cam-fw\") < release.version", 0, true},
        {"rule a: release.version != none and installed(device, \"nope\") == none", 0, true},
        {"rule a: none == none", 0, true},
        /* membership */
        {"rule a: \"canary\" in device.tags and \"beta\" not in device.tags", 0, true},
        {"rule a: 3 in [1, 2, 3] and -1 in [-1, 0] and 4 not in [1, 2, 3]", 0, true},
        {"rule a: not (\"x\" in []) and 1 not in []", 0, true},
        {"rule a: release.version in [\"1.0.0\", \"1.1.0\"]", 0, true},
        {"rule a: \"1.1.0+b\" in [release.version]", 0, false}, /* [expr] is not a literal */
        {"rule a: device.region in [\"eu-west\", \"eu-north\",]", 0, true},
        {"rule a: device.model in [\"cam-v3\"]", 0, false, "a",
         "device.model in [\"cam-v3\"] is false"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        if (strstr(rows[i].src, "[release.version]")) {
            char err[200];
            assert_int_equal(fx_error(rows[i].src, err, sizeof err), CTR_ESYNTAX);
            assert_string_equal(err, "1:23: list elements must be literal strings or numbers");
            continue;
        }
        fx_run_rows(&f, &rows[i], 1);
    }
}

static void test_fields(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"rule a: device.id == \"dev-0001\" and device.revision == 3", 0, true},
        {"rule a: device.addons == device.addons", 0, true}, /* refused: see below */
        {"rule a: len(device.packages) == 3 and len(device.addons) == 1", 0, true},
        {"rule a: release.product == \"cam-fw\" and release.security_version == 4", 0, true},
        {"rule a: release.published_at == 1700000000 and release.height == 10", 0, true},
        {"rule a: release.revoked == false", 0, true},
        {"rule a: release.outcomes.succeeded == 90 and release.outcomes.failed == 6 and "
         "release.outcomes.rolled_back == 4", 0, true},
        {"rule a: block.time_ms == 1700000000000 and block.height == 12", 0, true},
        {"rule a: any(h in release.hardware: h.model == \"cam-v2\" and h.rev_min == 2 and "
         "h.rev_max == 5 and \"lora\" in h.required_addons)", 0, true},
        {"rule a: any(d in release.deps: d.package == \"libfoo\" and d.constraint == "
         "\">=1.2.0,<2\")", 0, true},
        {"rule a: any(p in device.packages: p.name == \"cam-fw\" and p.version == \"1.0.0\" "
         "and p.security_version == 3)", 0, true},
    };
    for (size_t i = 0; i < N(rows); i++) {
        if (i == 1) {
            char err[200];
            assert_int_equal(fx_error(rows[i].src, err, sizeof err), CTR_ESYNTAX);
            assert_string_equal(err, "1:23: cannot compare list of string with list of string");
            continue;
        }
        fx_run_rows(&f, &rows[i], 1);
    }
}

static void test_comprehensions(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"rule a: all(t in device.tags: t == \"canary\")", 0, true},
        {"rule a: any(p in device.packages: p.name == \"libfoo\")", 0, true},
        {"rule a: count(p in device.packages: satisfies(p.version, \"^1\")) == 3", 0, true},
        {"rule a: all(x in [1, 2, 3]: x > 0) and not any(x in [1, 2, 3]: x > 3)", 0, true},
        {"rule a: count(x in [1, 2, 3, 4]: x % 2 == 0) == 2", 0, true},
        {"rule a: all(h in release.hardware: any(m in [\"cam-v2\", \"cam-v3\"]: h.model == m))",
         0, true},
        {"rule a: all(x in [1, 2]: all(y in [3, 4]: x < y)) and count(x in [1, 2]: "
         "count(y in [1, 2, 3]: y > x) > 1) == 1", 0, true},
        /* the element of an early exit does not leak into what follows */
        {"rule a: any(x in [1, 2, 3]: x == 2) and all(y in [5]: y == 5)", 0, true},
        {"rule a: all(x in device.addons: x == \"wifi\")", 0, false, "a",
         "all(x in device.addons: x == \"wifi\") is false"},
        /* the same variable name in sibling comprehensions */
        {"rule a: any(x in [1]: x == 1) and any(x in [\"a\"]: x == \"a\")", 0, true},
    };
    fx_run_rows(&f, rows, N(rows));

    /* Empty lists: all is true, any is false, count is 0. */
    f.d.n_tags = 0;
    static const fx_row empty[] = {
        {"rule a: all(t in device.tags: false) and not any(t in device.tags: true) and "
         "count(t in device.tags: true) == 0", 0, true},
    };
    fx_run_rows(&f, empty, N(empty));
}

static void test_lets(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"let x = 2\nrule a: x * x == 4", 0, true},
        {"let a1 = 1\nlet b1 = a1 + 1\nrule r: b1 == 2 and a1 == 1", 0, true},
        {"let pkgs = device.packages\nrule r: len(pkgs) == 3", 0, true},
        {"let v = installed(device, \"libfoo\")\nrule r: v == \"1.4.0\"", 0, true},
        {"let lim = 2\nrule r: all(x in [1, 2]: x <= lim)", 0, true},
        /* a let with a comprehension, first used inside another comprehension: its loop
         * must not disturb the enclosing one */
        {"let k = count(t in device.tags: true)\n"
         "rule r: count(p in device.packages: k == 1 and p.name != \"\") == 3", 0, true},
        {"let k = any(x in [1, 2, 3]: x == 2)\n"
         "rule r: count(p in device.packages: count(q in device.packages: k) == 3) == 3", 0,
         true},
        /* lazy: a let that would fail is never run unless used */
        {"let boom = 1 / 0 == 1\nrule r: true", 0, true},
        {"let boom = 1 / 0 == 1\nrule r: true or boom", 0, true},
        {"let boom = 1 / 0 == 1\nrule r: false or boom", CTR_ERUNTIME, false, "r",
         "1:14: division by zero"},
        /* a let is evaluated once: its cost is paid once */
        {"let n = count(p in device.packages: true)\nrule r: n + n + n + n == 12", 0, true},
    };
    fx_run_rows(&f, rows, N(rows));

    ctr_verdict once, twice;
    assert_int_equal(fx_eval(&f, "let n = count(x in [1,2,3,4,5,6,7,8]: x > 0)\n"
                                 "rule r: n == 8", &once), 0);
    assert_int_equal(fx_eval(&f, "let n = count(x in [1,2,3,4,5,6,7,8]: x > 0)\n"
                                 "rule r: n == 8 and n == 8", &twice), 0);
    /* the second use costs its LET instruction, the comparison and the condition, not the
     * comprehension again */
    assert_true(twice.cost - once.cost < 10);
}

static void test_rules_and_reasons(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        /* the first failing rule in source order is the verdict */
        {"rule a: true\nrule b: false\nrule c: false", 0, false, "b", "false is false"},
        /* the failing condition of a rule is named, with its source text as written */
        {"rule r: device.revision >= 2 and device.region == \"us-east\"", 0, false, "r",
         "device.region == \"us-east\" is false"},
        {"rule r: device.revision >= 2 and\n  # the region\n  device.region   ==\n"
         "    \"us-east\"  # east only", 0, false, "r", "device.region == \"us-east\" is false"},
        /* because: the author's words, with interpolation */
        {"rule r: false because \"nope\"", 0, false, "r", "nope"},
        {"rule r: device.revision > 5 because \"revision {device.revision} of "
         "{device.model} (tags {device.tags}, v{release.version}, installed "
         "{installed(device, \"x\")}, {true}, {[1, 2]}, {[]})\"",
         0, false, "r",
         "revision 3 of cam-v2 (tags [canary], v1.1.0, installed none, true, [1, 2], [])"},
        {"rule r: false because \"{1 + 1}{\"x\"} \\{literal\\}\"", 0, false, "r", "2x {literal}"},
        {"rule r: false because \"{device.id}\"", 0, false, "r", "dev-0001"},
        /* an empty message never leaves a refusal without a reason (found by fuzzing) */
        {"rule r: --4 < 1 because \"\"", 0, false, "r", "--4 < 1 is false"},
        {"rule r: false because \"{\"\"}\"", 0, false, "r", "false is false"},
        /* built-ins that explain a false: their reason, when the condition is the call */
        {"rule hw: supports(release, device) and false", 0, false, "hw", "false is false"},
        {"rule base: defaults() and bucket(device.id, release) < 0", 0, false, "base",
         "bucket(device.id, release) < 0 is false"},
        /* a note from a call that is not the whole condition is not used */
        {"rule hw: not deps_ok(release, device)", 0, false, "hw",
         "not deps_ok(release, device) is false"},
    };
    fx_run_rows(&f, rows, N(rows));

    f.d.revision = 7;
    static const fx_row noted[] = {
        {"rule hw: supports(release, device)", 0, false, "hw",
         "revision 7 outside 2-5 for cam-v2"},
        {"rule base: defaults()", 0, false, "base", "hardware: revision 7 outside 2-5 for cam-v2"},
        {"rule base: defaults() because \"not for this board\"", 0, false, "base",
         "not for this board"},
        {"rule x: supports(release, device) or false", 0, false, "x",
         "supports(release, device) or false is false"},
    };
    fx_run_rows(&f, noted, N(noted));

    /* A long condition is cut to fit, still ending " is false". */
    char src[600];
    ctr_verdict v;
    int n = snprintf(src, sizeof src, "rule long: device.region == \"");
    for (int i = 0; i < 200; i++)
        src[n++] = 'x';
    snprintf(src + n, sizeof src - (size_t)n, "\"");
    assert_int_equal(fx_eval(&f, src, &v), 0);
    assert_false(v.eligible);
    assert_true(strlen(v.reason) < CTR_REASON_MAX);
    assert_non_null(strstr(v.reason, "... is false"));
    assert_memory_equal(v.reason, "device.region == \"xxx", 21);

    /* An eligible verdict has no rule and no reason. */
    fx_init(&f);
    assert_int_equal(fx_eval(&f, "rule a: true because \"never shown\"", &v), 0);
    assert_true(v.eligible);
    assert_string_equal(v.rule, "");
    assert_string_equal(v.reason, "");
}

static void test_runtime_errors(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"rule a: 9223372036854775807 + 1 > 0", CTR_ERUNTIME, false, "a",
         "1:29: integer overflow in 9223372036854775807 + 1"},
        {"rule a: -9223372036854775807 - 2 < 0", CTR_ERUNTIME, false, "a",
         "1:30: integer overflow in -9223372036854775807 - 2"},
        {"rule a: 4611686018427387904 * 2 > 0", CTR_ERUNTIME, false, "a",
         "1:29: integer overflow in 4611686018427387904 * 2"},
        {"rule a: (-9223372036854775807 - 1) / -1 > 0", CTR_ERUNTIME, false, "a",
         "1:36: integer overflow in -9223372036854775808 / -1"},
        {"rule a: -(-9223372036854775807 - 1) > 0", CTR_ERUNTIME, false, "a",
         "1:9: integer overflow in 0 - -9223372036854775808"},
        {"rule a: true\nrule b:\n  1 / 0 == 0", CTR_ERUNTIME, false, "b", "3:5: division by zero"},
        {"rule a: 1 % (2 - 2) == 0", CTR_ERUNTIME, false, "a", "1:11: remainder by zero"},
        {"rule a: installed(device, \"nope\") > \"1.0.0\"", CTR_ERUNTIME, false, "a",
         "1:35: cannot order none (a package that is not installed): test == none first"},
        {"rule a: installed(device, \"nope\") == none or installed(device, \"nope\") > \"1.0.0\"",
         0, true},
        {"rule a: days(106751991168) > 0", CTR_ERUNTIME, false, "a",
         "1:9: integer overflow in days(106751991168)"},
        {"rule a: satisfies(release.version, device.region)", CTR_ERUNTIME, false, "a",
         "1:9: \"eu-west\" is not a version constraint"},
    };
    fx_run_rows(&f, rows, N(rows));

    /* A uint64 input above the int range fails where it is read, not before. */
    f.r.security_version = UINT64_MAX;
    static const fx_row big[] = {
        {"rule a: true", 0, true},
        {"rule a: release.security_version > 0", CTR_ERUNTIME, false, "a",
         "1:17: release.security_version is 18446744073709551615, above the int range"},
    };
    fx_run_rows(&f, big, N(big));
    f.c.block_time_ms = (uint64_t)INT64_MAX + 1;
    static const fx_row big_time[] = {
        {"rule a: block.time_ms > 0", CTR_ERUNTIME, false, "a",
         "1:15: block.time_ms is 9223372036854775808, above the int range"},
    };
    fx_run_rows(&f, big_time, N(big_time));
}

static void test_lexical(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    static const fx_row rows[] = {
        {"# a comment\nrule a: true # another\n# last", 0, true},
        {"rule\ta:\r\n\ttrue", 0, true},
        {"rule _Under_score9: true", 0, true},
        {"let x=1 rule a:x==1 rule b:x!=2", 0, true},
        {"rule let_me: true", 0, true}, /* keywords inside names are names */
        {"rule defaults: defaults()", 0, true}, /* rule names are labels, not bindings */
    };
    fx_run_rows(&f, rows, N(rows));

    /* The source need not be NUL-terminated: only len bytes are read. */
    const char src[] = "rule a: true rule b: false";
    ctr_program *p = NULL;
    char err[100];
    assert_int_equal(ctr_compile(src, 12, &p, err, sizeof err), 0);
    assert_int_equal(ctr_rule_count(p), 1);
    assert_string_equal(ctr_rule_name(p, 0), "a");
    assert_null(ctr_rule_name(p, 1));
    ctr_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_comprehensions),
        cmocka_unit_test(test_lets),
        cmocka_unit_test(test_rules_and_reasons),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_lexical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
