/* Golden tests of the compiler's messages ("line:col: what", exact strings), every limit of
 * the language, and misuse of the compile API. */
#include <stdint.h>
#include <stdlib.h>

#include "tests/contracts/fixture.h"

typedef struct {
    const char *src;
    int rc;
    const char *err;
} golden;

static void check_golden(const golden *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256];
        int rc = fx_error(rows[i].src, err, sizeof err);
        CHECK(rc == rows[i].rc, "row %zu \"%s\": rc %d (%s), want %d", i, rows[i].src, rc, err,
              rows[i].rc);
        CHECK(!strcmp(err, rows[i].err), "row %zu \"%s\":\n  got  \"%s\"\n  want \"%s\"", i,
              rows[i].src, err, rows[i].err);
    }
}

static void test_golden_messages(void **state)
{
    (void)state;
    static const golden rows[] = {
        /* syntax */
        {"rule a: device.model == ", CTR_ESYNTAX, "1:25: expected an expression, found end of input"},
        {"rule a device.model == \"x\"", CTR_ESYNTAX,
         "1:8: expected ':' after the rule name, found 'device'"},
        {"let = 3\nrule a: true", CTR_ESYNTAX, "1:5: expected a name after 'let', found '='"},
        {"let x 3", CTR_ESYNTAX, "1:7: expected '=' after the let name, found a number"},
        {"rule a: true\ndevice.id == \"x\"", CTR_ESYNTAX,
         "2:1: expected 'rule' or 'let' (or an operator), found 'device'"},
        {"", CTR_ESYNTAX, "1:1: a contract needs at least one rule"},
        {"# only a comment\n", CTR_ESYNTAX, "2:1: a contract needs at least one rule"},
        {"let x = 1", CTR_ESYNTAX, "1:10: a contract needs at least one rule"},
        {"rule a: (true", CTR_ESYNTAX, "1:14: expected ')', found end of input"},
        {"rule a: 1 < 2 < 3", CTR_ESYNTAX, "1:15: comparisons do not chain: write a < b and b < c"},
        {"rule a: \"x\" not \"y\"", CTR_ESYNTAX, "1:17: expected 'in' after 'not', found a string"},
        {"rule a: all(1 in device.tags: true)", CTR_ESYNTAX,
         "1:13: expected a variable name, found a number"},
        {"rule a: all(t device.tags: true)", CTR_ESYNTAX, "1:15: expected 'in', found 'device'"},
        {"rule a: bucket(device.id release) < 1", CTR_ESYNTAX,
         "1:26: expected ',' or ')', found 'release'"},
        {"rule a: device.1", CTR_ESYNTAX, "1:16: expected a field name after '.', found a number"},
        {"rule a: true because 3", CTR_ESYNTAX, "1:22: expected a string after 'because', found a number"},
        /* lexical */
        {"rule a: \"unterminated", CTR_ESYNTAX, "1:9: unterminated string"},
        {"rule a: \"line\nbreak\"", CTR_ESYNTAX, "1:9: unterminated string"},
        {"rule a: @", CTR_ESYNTAX, "1:9: unexpected character '@'"},
        {"rule a: a && b", CTR_ESYNTAX, "1:11: unexpected '&' (write and, or, not)"},
        {"rule a: !true", CTR_ESYNTAX, "1:9: unexpected '!' (write and, or, not)"},
        {"rule a: 1.2.3 > 0", CTR_ESYNTAX,
         "1:9: malformed number (versions are written as strings: \"1.2.3\")"},
        {"rule a: 99999999999999999999 > 0", CTR_ESYNTAX,
         "1:9: number out of range (above 9223372036854775807)"},
        {"rule a: \"\\q\" == \"\"", CTR_ESYNTAX,
         "1:10: unknown escape \\q in a string (known: \\\" \\\\ \\n \\t \\{ \\})"},
        {"rule a: \"a}\" == \"\"", CTR_ESYNTAX, "1:11: unmatched '}' in a string (write \\})"},
        {"rule a: \"\x01\" == \"\"", CTR_ESYNTAX, "1:10: control character 0x01 in a string"},
        {"rule a: tr\xc3\xbc""e", CTR_ESYNTAX, "1:11: unexpected character 0xc3"},
        /* names */
        {"rule a: x", CTR_ESYNTAX, "1:9: unknown name 'x'"},
        {"rule a: y > 1\nlet y = 2", CTR_ESYNTAX, "1:9: 'y' is used before its let on line 2"},
        {"let x = x + 1\nrule a: x > 1", CTR_ESYNTAX, "1:9: 'x' is used before its let on line 1"},
        {"let x = 1\nlet x = 2\nrule a: true", CTR_ESYNTAX, "2:5: 'x' is already a let (line 1)"},
        {"rule a: true\nrule a: false", CTR_ESYNTAX, "2:6: duplicate rule 'a'"},
        {"let bucket = 3\nrule a: true", CTR_ESYNTAX,
         "1:5: 'bucket' is a built-in function and cannot be a let"},
        {"let release = 3\nrule a: true", CTR_ESYNTAX, "1:5: 'release' is a record and cannot be a let"},
        {"rule a: all(device in device.tags: true)", CTR_ESYNTAX,
         "1:13: 'device' is a record and cannot name a variable"},
        {"rule a: all(t in device.tags: all(t in device.tags: true))", CTR_ESYNTAX,
         "1:35: 't' is already bound by an enclosing comprehension"},
        {"let t = 1\nrule a: any(t in device.tags: true)", CTR_ESYNTAX,
         "2:13: 't' is a let and cannot name a variable"},
        {"rule a: t == \"x\" and all(t in device.tags: true)", CTR_ESYNTAX, "1:9: unknown name 't'"},
        {"rule a: device.modle == \"x\"", CTR_ESYNTAX, "1:16: device has no field 'modle'"},
        {"rule a: release.outcomes.failed.x > 0", CTR_ESYNTAX, "1:33: int has no field 'x'"},
        {"rule a: foo(device)", CTR_ESYNTAX, "1:9: unknown function 'foo'"},
        {"rule a: bucket(device.id) < 10", CTR_ESYNTAX, "1:9: bucket() takes 2 arguments, got 1"},
        /* types */
        {"rule a: device.revision == \"3\"", CTR_ESYNTAX, "1:25: cannot compare int with string"},
        {"rule a: 1 + true", CTR_ESYNTAX, "1:13: '+' needs ints, got bool"},
        {"rule a: -device.id == 1", CTR_ESYNTAX, "1:10: '-' needs an int, got string"},
        {"rule a: device.revision", CTR_ESYNTAX, "1:9: rule 'a' needs a bool, got int"},
        {"rule a: not device.revision", CTR_ESYNTAX, "1:13: not needs a bool, got int"},
        {"rule a: true and 1", CTR_ESYNTAX, "1:18: and needs a bool, got int"},
        {"rule a: \"a\" < \"b\"", CTR_ESYNTAX,
         "1:13: '<' needs two ints or two versions, got string and string"},
        {"rule a: installed(device, \"x\") < none", CTR_ESYNTAX,
         "1:32: none has no order: test it with == none"},
        {"rule a: release.version == device", CTR_ESYNTAX, "1:25: cannot compare version with device"},
        {"rule a: device == device", CTR_ESYNTAX, "1:16: cannot compare device with device"},
        {"rule a: release.version > \"1.2\"", CTR_ESYNTAX, "1:27: \"1.2\" is not a SemVer 2.0 version"},
        {"rule a: release.version in [\"1.0.0\", \"x\"]", CTR_ESYNTAX,
         "1:38: \"x\" is not a SemVer 2.0 version"},
        {"rule a: satisfies(release.version, \">=1.x\")", CTR_ESYNTAX,
         "1:36: \">=1.x\" is not a version constraint"},
        {"rule a: \"x\" in device.packages", CTR_ESYNTAX,
         "1:16: 'in' needs a list of strings, ints or versions, got list of package"},
        {"rule a: 1 in device.tags", CTR_ESYNTAX, "1:11: 'in' looks for int in a list of string"},
        {"rule a: 1 in 2", CTR_ESYNTAX, "1:14: 'in' needs a list on its right, got int"},
        {"rule a: all(x in device.revision: true)", CTR_ESYNTAX,
         "1:18: all() needs a non-empty list after 'in', got int"},
        {"rule a: count(x in []: true) == 0", CTR_ESYNTAX,
         "1:20: count() needs a non-empty list after 'in', got empty list"},
        {"rule a: any(x in device.tags: x)", CTR_ESYNTAX, "1:31: any needs a bool, got string"},
        {"rule a: [1, \"a\"] == []", CTR_ESYNTAX, "1:13: list elements must all be strings or all be numbers"},
        {"rule a: [device.id] == []", CTR_ESYNTAX, "1:10: list elements must be literal strings or numbers"},
        {"let n = none\nrule a: true", CTR_ESYNTAX, "1:9: a let cannot be none"},
        /* messages */
        {"rule a: device.id == \"{x}\"", CTR_ESYNTAX,
         "1:22: interpolation {...} is only allowed in because messages (write \\{)"},
        {"rule a: true because \"x {device.nope} y\"", CTR_ESYNTAX, "1:33: device has no field 'nope'"},
        {"rule a: true because \"{device}\"", CTR_ESYNTAX, "1:24: cannot show a device in a message"},
        {"rule a: true because \"{device.packages}\"", CTR_ESYNTAX,
         "1:24: cannot show a list of package in a message"},
        {"rule a: true because \"a {1 +}\"", CTR_ESYNTAX, "1:29: expected an expression, found '}'"},
        {"rule a: true because \"a {}\"", CTR_ESYNTAX, "1:26: expected an expression inside {}, found '}'"},
        {"rule a: true because \"a {1 2}\"", CTR_ESYNTAX,
         "1:28: expected '}' to close the interpolation, found a number"},
        {"rule a: true because \"a {\"b{c}\"}\"", CTR_ESYNTAX,
         "1:28: a string inside an interpolation cannot interpolate (write \\{)"},
        {"rule a: true because \"a {1", CTR_ESYNTAX, "1:22: unterminated string"},
    };
    check_golden(rows, N(rows));
}

/* A string of n copies of unit, then tail. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t len = strlen(head) + strlen(unit) * n + strlen(tail) + 1;
    char *s = malloc(len);
    assert_non_null(s);
    strcpy(s, head);
    for (size_t i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, tail);
    return s;
}

static void check_limit(char *src, int rc, const char *err_prefix)
{
    char err[256];
    int got = fx_error(src, err, sizeof err);
    CHECK(got == rc, "limit %.60s...: rc %d (%s), want %d", src, got, err, rc);
    CHECK(!strncmp(err, err_prefix, strlen(err_prefix)), "limit %.60s...:\n  got  \"%s\"\n  want \"%s...\"",
          src, err, err_prefix);
    free(src);
}

static void test_limits(void **state)
{
    (void)state;
    /* at the limit: compiles */
    check_limit(repeat("", "rule r: true\n", 1, ""), 0, "");

    /* nesting */
    char *s = repeat("rule a: ", "(", 45, "true");
    check_limit(s, CTR_ESYNTAX, "1:49: expression nested too deeply (more than 40 levels)");
    check_limit(repeat("rule a: ", "not ", 60, "true"), CTR_ESYNTAX,
                "1:165: expression nested too deeply (more than 40 levels)");
    /* a long chain parses in a loop, but its tree depth is capped */
    check_limit(repeat("rule a: 0", " + 1", 254, " > 0"), 0, "");
    check_limit(repeat("rule a: 0", " + 1", 255, " > 0"), CTR_ESYNTAX, "1:1031: expression too long");
    check_limit(repeat("rule a: 0", " + 1", 300, " > 0"), CTR_ESYNTAX,
                "1:1031: expression too long (more than 256 levels): split it into lets or rules");
    /* comprehensions nest at most 6 deep */
    check_limit(repeat("rule a: ", "all(x in [1]: ", 1, "all(y in [1]: all(z in [1]: all(u in [1]: "
                       "all(v in [1]: all(w in [1]: true))))))"), 0, "");
    check_limit(repeat("rule a: ", "all(x in [1]: ", 1, "all(y in [1]: all(z in [1]: all(u in [1]: "
                       "all(v in [1]: all(w in [1]: all(q in [1]: true)))))))"),
                CTR_ESYNTAX, "1:93: comprehensions nested more than 6 deep");
    /* lets nest their loops on top of their callers': 16 open loops at most */
    check_limit(strdup("let l1 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: all(f in [1]: true))))))\n"
                       "let l2 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: l1)))))\n"
                       "let l3 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: l2)))))\n"
                       "rule a: l3"),
                0, ""); /* 5 + 5 + 6 = 16 */
    check_limit(strdup("let l1 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: all(f in [1]: true))))))\n"
                       "let l2 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: l1)))))\n"
                       "let l3 = all(a in [1]: all(b in [1]: all(c in [1]: all(d in [1]: "
                       "all(e in [1]: all(f in [1]: l2))))))\n"
                       "rule a: l3"),
                CTR_ESYNTAX, "3:5: let 'l3' is too complex: its comprehensions and lets nest "
                             "17 deep, at most 16");
    /* the value stack: each level of "1 + (...)" keeps one value waiting; a let's needs
     * count where it is used */
    char *t;
    s = repeat("rule a: ", "1 + (", 38, "1");
    t = repeat(s, ")", 38, " > 0");
    free(s);
    check_limit(t, 0, ""); /* 39 deep on the stack: fine */
    {
        char *let = repeat("let a = ", "1 + (", 30, "1");
        char *let2 = repeat(let, ")", 30, "\nrule r: ");
        char *body = repeat(let2, "1 + (", 20, "a");
        char *ok_src = repeat(body, ")", 20, " > 0");
        check_limit(ok_src, 0, "");
        free(body);
        body = repeat(let2, "1 + (", 36, "a");
        char *bad = repeat(body, ")", 36, " > 0");
        check_limit(bad, CTR_ESYNTAX,
                    "2:6: rule 'r' is too complex: it needs 67 stack slots, at most 64");
        free(body);
        free(let);
        free(let2);
    }
    s = repeat("rule a: ", "[1] == [] or (", 1, "true)");
    check_limit(s, CTR_ESYNTAX, "1:13: cannot compare list of int with empty list");

    /* names and literals */
    check_limit(repeat("rule ", "a", 63, ": true"), 0, "");
    check_limit(repeat("rule ", "a", 64, ": true"), CTR_ESYNTAX, "1:6: name longer than 63 bytes");
    check_limit(repeat("rule a: \"", "x", 255, "\" != \"\""), 0, "");
    check_limit(repeat("rule a: \"", "x", 256, "\" != \"\""), CTR_ESYNTAX,
                "1:9: string longer than 255 bytes");
    check_limit(repeat("rule a: 1 in [", "1,", 64, "]"), 0, "");
    check_limit(repeat("rule a: 1 in [", "1,", 65, "]"), CTR_ESYNTAX,
                "1:143: list longer than 64 elements");

    /* table sizes */
    check_limit(repeat("", "rule r: true\n", 1, ""), 0, "");
    {
        char *src = malloc(64 * 20 + 1), *p = src;
        for (int i = 0; i < 64; i++)
            p += sprintf(p, "rule r%d: true\n", i);
        check_limit(src, 0, "");
        src = malloc(65 * 20 + 1), p = src;
        for (int i = 0; i < 65; i++)
            p += sprintf(p, "rule r%d: true\n", i);
        check_limit(src, CTR_ETOOBIG, "65:6: contract too large: more than 64 rules");
        src = malloc(33 * 20 + 20), p = src;
        for (int i = 0; i < 33; i++)
            p += sprintf(p, "let l%d = %d\n", i, i);
        strcpy(p, "rule a: true");
        check_limit(src, CTR_ETOOBIG, "33:5: contract too large: more than 32 lets");
    }
    check_limit(repeat("rule a: true", " and true", 254, ""), 0, "");
    check_limit(repeat("rule a: true", " and true", 255, ""), CTR_ETOOBIG,
                "1:2304: contract too large: more than 255 conditions");
    {
        /* 256 conditions over two rules */
        char *a = repeat("rule a: true", " and true", 199, "\n");
        char *b = repeat(a, "", 0, "rule b: true");
        char *c = repeat(b, " and true", 59, "");
        free(a);
        free(b);
        check_limit(c, CTR_ETOOBIG, "2:504: contract too large: more than 255 conditions");
    }
    {
        /* 17 lists of 64 string constants (and the list constants themselves) */
        char *src = malloc(CTR_SOURCE_MAX), *p = src;
        for (int r = 0; r < 17; r++) {
            p += sprintf(p, "rule r%d: \"x\" in [", r);
            for (int i = 0; i < 60; i++)
                p += sprintf(p, "\"\",");
            p += sprintf(p, "]\n");
        }
        check_limit(src, CTR_ETOOBIG, "17:18: contract too large: more than 1024 constants");
    }
    {
        /* more than CTR_CODE_MAX bytes of code from a small source: each use of a let is an
         * OP_LET (4 bytes) and an OP_ADD */
        char *src = malloc(CTR_SOURCE_MAX), *p = src;
        p += sprintf(p, "let x = 1\n");
        for (int r = 0; r < 20; r++) {
            p += sprintf(p, "rule r%d: x", r);
            for (int i = 0; i < 200; i++)
                p += sprintf(p, "+x");
            p += sprintf(p, " > 0\n");
        }
        assert_true(strlen(src) < CTR_SOURCE_MAX);
        check_limit(src, CTR_ETOOBIG, "18:45: contract too large: more than 16384 bytes of bytecode");
    }
}

static void test_api(void **state)
{
    (void)state;
    ctr_program *p = (ctr_program *)1;
    char err[64];

    assert_int_equal(ctr_compile("rule a: true", 12, NULL, err, sizeof err), CTR_EINVAL);
    assert_int_equal(ctr_compile(NULL, 3, &p, err, sizeof err), CTR_EINVAL);
    /* NULL with length 0 is the empty contract */
    assert_int_equal(ctr_compile(NULL, 0, &p, err, sizeof err), CTR_ESYNTAX);
    assert_null(p);
    assert_string_equal(err, "1:1: a contract needs at least one rule");

    /* the message is cut to the buffer, always terminated; no buffer is fine */
    assert_int_equal(ctr_compile("rule a: frobnicate(1)", 21, &p, err, 10), CTR_ESYNTAX);
    assert_string_equal(err, "1:9: unkn");
    assert_int_equal(ctr_compile("rule a: frobnicate(1)", 21, &p, NULL, 0), CTR_ESYNTAX);
    assert_int_equal(ctr_compile("rule a: frobnicate(1)", 21, &p, err, 0), CTR_ESYNTAX);

    /* source size */
    char *big = malloc(CTR_SOURCE_MAX + 1);
    memset(big, ' ', CTR_SOURCE_MAX + 1);
    memcpy(big, "rule a: true", 12);
    assert_int_equal(ctr_compile(big, CTR_SOURCE_MAX, &p, err, sizeof err), 0);
    ctr_free(p);
    assert_int_equal(ctr_compile(big, CTR_SOURCE_MAX + 1, &p, err, sizeof err), CTR_ETOOBIG);
    assert_null(p);
    assert_string_equal(err, "1:1: source is 16385 bytes, more than 16384");
    free(big);

    /* a NUL byte in the source is just a bad character */
    assert_int_equal(ctr_compile("rule a: true\0x", 14, &p, err, sizeof err), CTR_ESYNTAX);
    assert_string_equal(err, "1:13: unexpected character 0x00");

    /* the program's accessors */
    assert_int_equal(ctr_compile("rule a: true\nrule b: false", 26, &p, err, sizeof err), 0);
    size_t n = 0;
    const uint8_t *img = ctr_code(p, &n);
    assert_non_null(img);
    assert_true(n > 4);
    assert_memory_equal(img, "FWC1", 4);
    assert_int_equal(ctr_rule_count(p), 2);
    assert_string_equal(ctr_rule_name(p, 1), "b");
    ctr_free(p);
    ctr_free(NULL);
    assert_null(ctr_code(NULL, &n));
    assert_int_equal(n, 0);
    assert_int_equal(ctr_rule_count(NULL), 0);
    assert_null(ctr_rule_name(NULL, 0));

    /* error names */
    static const int codes[] = {CTR_ESYNTAX, CTR_ECOST, CTR_ETYPE, CTR_ETOOBIG, CTR_ENOMEM,
                                CTR_EINVAL, CTR_ERUNTIME};
    for (size_t i = 0; i < N(codes); i++)
        assert_string_not_equal(ctr_strerror(codes[i]), "unknown error");
    assert_string_equal(ctr_strerror(CTR_ECOST), "cost limit exceeded");
    assert_string_equal(ctr_strerror(0), "ok");
    assert_string_equal(ctr_strerror(LDG_ENOMEM), ldg_strerror(LDG_ENOMEM)); /* a ledger code */
    assert_string_equal(ctr_strerror(-250), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_messages),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
