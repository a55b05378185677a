/* Unit tests for ledger/semver.c: SemVer 2.0.0 parsing and precedence, version constraints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"

#define N(a) (sizeof(a) / sizeof *(a))

/* Table rows fail with the row named, not just the line of the loop. */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error(__VA_ARGS__);                                                      \
            print_error("\n");                                                             \
            fail_msg("%s", #cond);                                                         \
        }                                                                                  \
    } while (0)

static ldg_semver P(const char *s)
{
    ldg_semver v;
    int r = ldg_semver_parse(s, &v);
    CHECK(r == 0, "parse(\"%s\") = %d", s, r);
    return v;
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t major, minor, patch;
        const char *pre;
    } rows[] = {
        {"0.0.0", 0, 0, 0, ""},
        {"1.2.3", 1, 2, 3, ""},
        {"10.20.30", 10, 20, 30, ""},
        {"1.0.0-alpha", 1, 0, 0, "alpha"},
        {"1.0.0-alpha.1", 1, 0, 0, "alpha.1"},
        {"1.0.0-0.3.7", 1, 0, 0, "0.3.7"},
        {"1.0.0-x.7.z.92", 1, 0, 0, "x.7.z.92"},
        {"1.0.0-x-y-z.--", 1, 0, 0, "x-y-z.--"},
        {"1.0.0-0a.00a", 1, 0, 0, "0a.00a"}, /* alphanumeric: leading zeros are fine */
        {"1.0.0--1", 1, 0, 0, "-1"},
        {"1.0.0+20130313144700", 1, 0, 0, ""},
        {"1.0.0-beta+exp.sha.5114f85", 1, 0, 0, "beta"},
        {"1.0.0+21AF26D3----117B344092BD", 1, 0, 0, ""},
        {"1.0.0+001.0", 1, 0, 0, ""}, /* build identifiers may have leading zeros */
        {"18446744073709551615.18446744073709551615.18446744073709551615", UINT64_MAX,
         UINT64_MAX, UINT64_MAX, ""},
    };
    for (size_t i = 0; i < N(rows); i++) {
        ldg_semver v = P(rows[i].s);
        CHECK(v.major == rows[i].major && v.minor == rows[i].minor &&
                  v.patch == rows[i].patch && !strcmp(v.pre, rows[i].pre),
              "parse(\"%s\") fields", rows[i].s);
    }
}

static void test_parse_invalid(void **state)
{
    (void)state;
    char long_pre[80], max_pre[80];
    /* 63 characters of pre-release fit ldg_semver.pre; 64 do not. */
    snprintf(max_pre, sizeof max_pre, "1.2.3-%.63s",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(long_pre, sizeof long_pre, "1.2.3-%.64s",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ldg_semver v = P(max_pre);
    assert_int_equal(strlen(v.pre), 63);

    const char *rows[] = {
        "",
        "1",
        "1.2",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-alpha.01",
        "1.2.3-a..b",
        "1.2.3-a.",
        "1.2.3-.a",
        "v1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "18446744073709551616.0.0",
        "0.18446744073709551616.0",
        "0.0.18446744073709551616",
        "99999999999999999999999.0.0",
        "1.2.3+",
        "1.2.3+a..b",
        "1.2.3+a+b",
        "1.2.3-a_b",
        "1.2.3-a b",
        "1.2.3-é",
        "1.2.3.4",
        "1..3",
        "1.2.",
        ".1.2",
        "-1.2.3",
        "+1.2.3",
        "1.2.-3",
        "1.2.3-+b",
        "a.b.c",
        "1.2.3x",
        long_pre,
    };
    for (size_t i = 0; i < N(rows); i++) {
        memset(&v, 0xAB, sizeof v);
        int r = ldg_semver_parse(rows[i], &v);
        CHECK(r == LDG_EINVALID, "parse(\"%s\") = %d, want LDG_EINVALID", rows[i], r);
        /* A failed parse leaves nothing half-written behind. */
        ldg_semver zero;
        memset(&zero, 0, sizeof zero);
        CHECK(!memcmp(&v, &zero, sizeof v), "parse(\"%s\") left output non-zero", rows[i]);
    }
}

static void test_parse_null(void **state)
{
    (void)state;
    ldg_semver v;
    assert_int_equal(ldg_semver_parse(NULL, &v), LDG_EINVALID);
    assert_int_equal(ldg_semver_parse("1.2.3", NULL), LDG_EINVALID);
}

/* Every pair of a strictly increasing chain compares as its positions do. */
static void check_chain(const char *const *chain, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            ldg_semver a = P(chain[i]), b = P(chain[j]);
            int want = (i > j) - (i < j);
            int got = sign(ldg_semver_cmp(&a, &b));
            CHECK(got == want, "cmp(%s, %s) = %d, want %d", chain[i], chain[j], got, want);
        }
    }
}

static void test_precedence_spec_chain(void **state)
{
    (void)state;
    /* The example from SemVer 2.0.0 section 11.4, and 11.2. */
    static const char *const pre[] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
    };
    static const char *const rel[] = {"1.0.0", "2.0.0", "2.1.0", "2.1.1"};
    check_chain(pre, N(pre));
    check_chain(rel, N(rel));
}

static void test_precedence_rules(void **state)
{
    (void)state;
    /* Each row is a < b. */
    static const struct {
        const char *a, *b;
    } rows[] = {
        {"0.0.0", "0.0.1"},
        {"0.9.9", "1.0.0"},
        {"1.9.0", "1.10.0"},               /* numerically, not as text */
        {"1.0.9", "1.0.10"},
        {"18446744073709551614.0.0", "18446744073709551615.0.0"},
        {"1.0.0-2", "1.0.0-10"},            /* numeric identifiers compare numerically */
        {"1.0.0-2", "1.0.0-99999999999999999999999999"}, /* even beyond uint64 */
        {"1.0.0-99999999999999999999999998", "1.0.0-99999999999999999999999999"},
        {"1.0.0-999", "1.0.0-a"},           /* numeric < alphanumeric */
        {"1.0.0-999", "1.0.0-0a"},
        {"1.0.0-0", "1.0.0--"},
        {"1.0.0-B", "1.0.0-a"},             /* ASCII order */
        {"1.0.0-a", "1.0.0-aa"},
        {"1.0.0-a", "1.0.0-a.0"},           /* a shorter prefix-equal set is lower */
        {"1.0.0-a.b", "1.0.0-a.b.c.d"},
        {"1.0.0-zzzz", "1.0.0"},            /* release above any pre-release */
        {"1.0.0", "1.0.1-0"},
        {"1.2.3-rc.1+build.9", "1.2.3-rc.2+build.1"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        ldg_semver a = P(rows[i].a), b = P(rows[i].b);
        CHECK(ldg_semver_cmp(&a, &b) < 0, "cmp(%s, %s) should be < 0", rows[i].a, rows[i].b);
        CHECK(ldg_semver_cmp(&b, &a) > 0, "cmp(%s, %s) should be > 0", rows[i].b, rows[i].a);
        CHECK(ldg_semver_cmp(&a, &a) == 0, "cmp(%s, itself)", rows[i].a);
    }
}

static void test_build_metadata_ignored(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
    } rows[] = {
        {"1.0.0", "1.0.0+build"},
        {"1.0.0+a", "1.0.0+b"},
        {"1.0.0+zzz.999", "1.0.0+0"},
        {"1.0.0-rc.1", "1.0.0-rc.1+exp.sha.5114f85"},
        {"1.0.0-rc.1+x", "1.0.0-rc.1+y"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        ldg_semver a = P(rows[i].a), b = P(rows[i].b);
        CHECK(ldg_semver_cmp(&a, &b) == 0, "cmp(%s, %s) should be 0", rows[i].a, rows[i].b);
        CHECK(!memcmp(&a, &b, sizeof a), "%s and %s should parse identically", rows[i].a,
              rows[i].b);
    }
}

static void test_cmp_misuse(void **state)
{
    (void)state;
    ldg_semver a = P("1.0.0-a"), b;

    /* NULL gets a fixed place in the order instead of a crash. */
    assert_int_equal(ldg_semver_cmp(NULL, NULL), 0);
    assert_true(ldg_semver_cmp(NULL, &a) < 0);
    assert_true(ldg_semver_cmp(&a, NULL) > 0);

    /* A hand-filled, unterminated pre is read only within its array. */
    memset(&b, 0, sizeof b);
    b.major = 1;
    memset(b.pre, 'a', sizeof b.pre);
    assert_true(ldg_semver_cmp(&a, &b) < 0);
    assert_int_equal(ldg_semver_cmp(&b, &b), 0);
}

static void test_constraint_valid(void **state)
{
    (void)state;
    char max_len[80], too_long[80];
    /* 8 + 56 = 64 characters is the limit; one more is refused. */
    snprintf(max_len, sizeof max_len, ">=1.0.0-%.56s",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(too_long, sizeof too_long, ">=1.0.0-%.57s",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(strlen(max_len), 64);
    assert_int_equal(strlen(too_long), 65);

    const char *ok[] = {
        ">=2.1.0,<3",
        "^1.2.3",
        "~1.2",
        "*",
        " * ",
        "=2",
        "2",
        "2.1",
        "1.2.3",
        "==1.2.3",
        "=1.2.3",
        ">1",
        "<1.2",
        "<=1.2.3-rc.1",
        ">=1.0.0-alpha+build.7",
        "^0",
        "^0.0",
        "^0.0.0",
        "~0",
        " >=1.0.0 , <2 ",
        "\t>=1.0.0,\t<2\t",
        ">=1,<2",
        "1,1,1,1,1,1,1,1", /* 8 terms */
        "18446744073709551615.18446744073709551615.18446744073709551615",
        max_len,
    };
    const char *bad[] = {
        "",
        " ",
        ",",
        ">>1",
        "1.2.3,",
        ",1.2.3",
        "1.2.3,,2",
        ">=a",
        ">=",
        "^",
        "~",
        "=",
        "==",
        "===1",
        "=>1.0.0",
        "=<1.0.0",
        "!=1.0.0",
        "~>1.0",
        "^~1.0",
        ">= 1.0.0",
        "> 1",
        ">=1.0.0 <2.0.0", /* npm's space-separated AND is not part of this grammar */
        "1.0.0 - 2.0.0",
        "1.0.0||2.0.0",
        "**",
        "*,1.0.0",
        "1.0.0,*",
        ">=*",
        "1.x",
        "1.2.*",
        "1.2.X",
        "x",
        "v1.2.3",
        "01",
        "1.02",
        ">=1.2.3.4",
        "^1.2-rc.1",
        "1.2+build",
        ">=1.2.3-",
        ">=1.2.3-01",
        "18446744073709551616",
        ">=1.0.0\n",
        "\n>=1.0.0",
        "1,1,1,1,1,1,1,1,1", /* 9 terms */
        too_long,
    };
    for (size_t i = 0; i < N(ok); i++) {
        int r = ldg_constraint_valid(ok[i]);
        CHECK(r == 0, "constraint_valid(\"%s\") = %d, want 0", ok[i], r);
    }
    for (size_t i = 0; i < N(bad); i++) {
        int r = ldg_constraint_valid(bad[i]);
        CHECK(r == LDG_EINVALID, "constraint_valid(\"%s\") = %d, want LDG_EINVALID", bad[i], r);
        ldg_semver v = P("1.0.0");
        r = ldg_constraint_match(bad[i], &v);
        CHECK(r == LDG_EINVALID, "constraint_match(\"%s\") = %d, want LDG_EINVALID", bad[i], r);
    }
    assert_int_equal(ldg_constraint_valid(NULL), LDG_EINVALID);
}

static void test_constraint_match(void **state)
{
    (void)state;
    static const struct {
        const char *c, *v;
        int want;
    } rows[] = {
        /* a range in two terms; a user-written bound is plain precedence */
        {">=2.1.0,<3", "2.1.0", 1},
        {">=2.1.0,<3", "2.9.99", 1},
        {">=2.1.0,<3", "2.0.9", 0},
        {">=2.1.0,<3", "3.0.0", 0},
        {">=2.1.0,<3", "2.1.0-rc.1", 0},
        {">=2.1.0,<3", "3.0.0-rc.1", 1},
        {" >=2.1.0 , <3 ", "2.5.0", 1},
        {">2,<1", "1.5.0", 0}, /* unsatisfiable is still valid */
        /* comparison operators; partial versions are completed with zeros */
        {">1.2.3", "1.2.3", 0},
        {">1.2.3", "1.2.4", 1},
        {">1.2.3", "1.2.4-0", 1},
        {">=1.2.3", "1.2.3", 1},
        {">=1.2.3", "1.2.3-rc.1", 0},
        {"<1.2.3", "1.2.3", 0},
        {"<1.2.3", "1.2.2", 1},
        {"<1.2.3", "1.2.3-rc.1", 1},
        {"<=1.2.3", "1.2.3", 1},
        {"<=1.2.3", "1.2.3+build", 1},
        {"<=1.2.3", "1.2.4", 0},
        {">3", "3.0.0", 0},
        {">3", "3.0.1", 1},
        {"<=3.1", "3.1.0", 1},
        {"<=3.1", "3.1.1", 0},
        {">=1.0.0-rc.1", "1.0.0-rc.2", 1},
        {">=1.0.0-rc.1", "1.0.0-beta", 0},
        /* pre-releases: plain precedence, no npm same-tuple rule */
        {">=1.0.0", "2.0.0-rc.1", 1},
        {">=2.0.0", "2.0.0-rc.1", 0},
        /* exact */
        {"1.2.3", "1.2.3", 1},
        {"1.2.3", "1.2.4", 0},
        {"=1.2.3", "1.2.3+any", 1},
        {"==1.2.3", "1.2.3", 1},
        {"==1.2.3", "1.2.3-rc.1", 0},
        {"=1.2.3-rc.1", "1.2.3-rc.1", 1},
        {"=1.2.3-rc.1", "1.2.3", 0},
        /* partial "=": the whole line, none of the next line's pre-releases */
        {"=2", "2.0.0", 1},
        {"=2", "2.5.1", 1},
        {"=2", "1.9.9", 0},
        {"=2", "3.0.0", 0},
        {"=2", "3.0.0-0", 0},
        {"=2", "2.0.0-rc.1", 0},
        {"2", "2.99.99", 1},
        {"==2", "3.0.0", 0},
        {"=2.1", "2.1.0", 1},
        {"=2.1", "2.1.7", 1},
        {"=2.1", "2.2.0", 0},
        {"=2.1", "2.2.0-alpha", 0},
        {"=2.1", "2.0.9", 0},
        /* caret */
        {"^1.2.3", "1.2.3", 1},
        {"^1.2.3", "1.9.9", 1},
        {"^1.2.3", "1.2.2", 0},
        {"^1.2.3", "2.0.0", 0},
        {"^1.2.3", "2.0.0-alpha", 0},
        {"^1.2.3", "1.2.3-beta", 0},
        {"^1.2.3", "1.3.0-beta", 1},
        {"^1.2.3-beta.2", "1.2.3-beta.2", 1},
        {"^1.2.3-beta.2", "1.2.3-beta.1", 0},
        {"^1.2.3-beta.2", "1.2.3", 1},
        {"^1.2.3-beta.2", "1.99.0", 1},
        {"^0.2.3", "0.2.3", 1},
        {"^0.2.3", "0.2.99", 1},
        {"^0.2.3", "0.3.0", 0},
        {"^0.0.3", "0.0.3", 1},
        {"^0.0.3", "0.0.4", 0},
        {"^0.0.0", "0.0.0", 1},
        {"^0.0.0", "0.0.1", 0},
        {"^1.2", "1.2.0", 1},
        {"^1.2", "1.1.9", 0},
        {"^1.2", "1.99.0", 1},
        {"^1.2", "2.0.0", 0},
        {"^0.2", "0.2.9", 1},
        {"^0.2", "0.3.0", 0},
        {"^0.0", "0.0.9", 1},
        {"^0.0", "0.1.0", 0},
        {"^1", "1.99.99", 1},
        {"^1", "2.0.0", 0},
        {"^0", "0.9.9", 1},
        {"^0", "1.0.0", 0},
        /* tilde */
        {"~1.2.3", "1.2.3", 1},
        {"~1.2.3", "1.2.9", 1},
        {"~1.2.3", "1.2.2", 0},
        {"~1.2.3", "1.3.0", 0},
        {"~1.2", "1.2.0", 1},
        {"~1.2", "1.2.99", 1},
        {"~1.2", "1.3.0", 0},
        {"~1.2", "1.1.9", 0},
        {"~1", "1.0.0", 1},
        {"~1", "1.9.0", 1},
        {"~1", "2.0.0", 0},
        {"~0.2.3", "0.2.9", 1},
        {"~0.2.3", "0.3.0", 0},
        {"~1.2.3-beta.2", "1.2.3-beta.3", 1},
        {"~1.2.3-beta.2", "1.3.0-0", 0},
        /* anything */
        {"*", "0.0.0", 1},
        {"*", "1.0.0-alpha", 1},
        {"*", "18446744073709551615.18446744073709551615.18446744073709551615", 1},
        /* bumps that overflow carry left, or leave no upper bound */
        {"~1.18446744073709551615", "1.18446744073709551615.7", 1},
        {"~1.18446744073709551615", "2.0.0-0", 0},
        {"~1.18446744073709551615", "2.0.0", 0},
        {"^0.0.18446744073709551615", "0.1.0", 0},
        {"^0.0.18446744073709551615", "0.0.18446744073709551615", 1},
        {"^18446744073709551615", "18446744073709551615.5.5", 1},
        {"=18446744073709551615",
         "18446744073709551615.18446744073709551615.18446744073709551615", 1},
        {"=18446744073709551615", "18446744073709551614.0.0", 0},
        /* every term must hold */
        {"1,1,1,1,1,1,1,1", "1.3.0", 1},
        {"^1.0.0,~1.4,>=1.4.2,<=1.4.5,1.4", "1.4.3", 1},
        {"^1.0.0,~1.4,>=1.4.2,<=1.4.5,1.4", "1.4.6", 0},
    };
    for (size_t i = 0; i < N(rows); i++) {
        ldg_semver v = P(rows[i].v);
        int r = ldg_constraint_match(rows[i].c, &v);
        CHECK(r == rows[i].want, "match(\"%s\", %s) = %d, want %d", rows[i].c, rows[i].v, r,
              rows[i].want);
        CHECK(ldg_constraint_valid(rows[i].c) == 0, "valid(\"%s\")", rows[i].c);
    }
}

static void test_constraint_match_args(void **state)
{
    (void)state;
    ldg_semver v = P("1.0.0");
    assert_int_equal(ldg_constraint_match(NULL, &v), LDG_EINVALID);
    assert_int_equal(ldg_constraint_match("*", NULL), LDG_EINVALID);
    /* A malformed term after a failing one still makes the whole constraint invalid. */
    assert_int_equal(ldg_constraint_match(">2,>>1", &v), LDG_EINVALID);
    assert_int_equal(ldg_constraint_match(">2,1", &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_null),
        cmocka_unit_test(test_precedence_spec_chain),
        cmocka_unit_test(test_precedence_rules),
        cmocka_unit_test(test_build_metadata_ignored),
        cmocka_unit_test(test_cmp_misuse),
        cmocka_unit_test(test_constraint_valid),
        cmocka_unit_test(test_constraint_match),
        cmocka_unit_test(test_constraint_match_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
