/*
 * ldg_utf8_valid: the classic edge cases (Markus Kuhn's UTF-8 decoder stress test: the
 * boundaries of each sequence length, overlong forms, surrogates, code points above
 * U+10FFFF, lone and missing continuation bytes, bytes that never occur), then every
 * sequence of one to three bytes against a plain reference decoder, and every code point
 * as its encoder writes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/ledger.h"

static bool valid(const char *s)
{
    return ldg_utf8_valid((const uint8_t *)s, strlen(s));
}

static void test_utf8_edge_cases(void **st)
{
    (void)st;
    static const char *const good[] = {
        "", "plain ASCII ~\x7f", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", /* kosme */
        "\xc2\x80", "\xdf\xbf",                                                /* U+0080, U+07FF */
        "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd",       /* U+0800, U+D7FF,
                                                                              * U+E000, U+FFFD */
        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",               /* U+FFFF, U+10000,
                                                                              * U+10FFFF */
        "Gr\xc3\xbc\xc3\x9f! \xe2\x82\xac \xf0\x9f\x98\x80",
    };
    static const char *const bad[] = {
        "\x80", "\xbf", "a\x80z", "\x80\x80",                      /* lone continuation bytes */
        "\xc2", "\xe0\xa0", "\xf0\x90\x80", "a\xe2\x82", "\xe2\x82z", /* truncated */
        "\xe2\x28\xa1", "\xf0\x90\x28\xbc",                        /* a continuation replaced */
        "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",    /* overlong (incl. NUL) */
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf8\x88\x80\x80\x80",
        "\xfc\x84\x80\x80\x80\x80", "\xc0\xaf", "\xe0\x80\xaf",    /* overlong '/' */
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", /* surrogates, a pair */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf", /* above U+10FFFF */
        "\xfe", "\xff", "\xfe\xfe\xff\xff",                         /* never in UTF-8 */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!valid(good[i]))
            fail_msg("good[%zu] refused", i);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (valid(bad[i]))
            fail_msg("bad[%zu] accepted", i);
    /* NUL is the code point U+0000: well-formed (callers holding C strings refuse it). */
    assert_true(ldg_utf8_valid((const uint8_t *)"a\0b", 3));
    /* Nothing is read past len: a sequence cut by the length is truncated. */
    assert_false(ldg_utf8_valid((const uint8_t *)"\xc3\xbc", 1));
    assert_false(ldg_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 3));
    assert_true(ldg_utf8_valid(NULL, 0));
}

/* The reference: decode the bits without judging them, then require the shortest form,
 * no surrogate and nothing above U+10FFFF. */
static bool reference_valid(const uint8_t *s, size_t len)
{
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < len;) {
        size_t more = s[i] < 0x80 ? 0 : s[i] >> 5 == 6 ? 1 : s[i] >> 4 == 14 ? 2 : s[i] >> 3 == 30 ? 3 : 9;
        if (more == 9 || len - i - 1 < more)
            return false;
        uint32_t cp = more ? s[i] & (0x3f >> more) : s[i];
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min[more] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += 1 + more;
    }
    return true;
}

static void test_utf8_exhaustive(void **st)
{
    (void)st;
    uint8_t b[4];
    for (uint32_t n = 1; n <= 3; n++)
        for (uint32_t v = 0; v < 1u << (8 * n); v++) {
            for (uint32_t k = 0; k < n; k++)
                b[k] = (uint8_t)(v >> (8 * k));
            if (ldg_utf8_valid(b, n) != reference_valid(b, n))
                fail_msg("%u bytes %02x %02x %02x: reference says %d", n, b[0], b[1], b[2],
                         reference_valid(b, n));
        }
    /* Every code point, encoded: valid exactly when it is a scalar value. */
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        size_t n;
        if (cp < 0x80)
            b[0] = (uint8_t)cp, n = 1;
        else if (cp < 0x800)
            b[0] = (uint8_t)(0xc0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
        else if (cp < 0x10000)
            b[0] = (uint8_t)(0xe0 | cp >> 12), b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)),
            b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
        else
            b[0] = (uint8_t)(0xf0 | cp >> 18), b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f)),
            b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f)), n = 4;
        if (ldg_utf8_valid(b, n) != !(cp >= 0xd800 && cp <= 0xdfff))
            fail_msg("U+%04X", cp);
    }
    /* Four-byte sequences: every lead byte from F0 with every second byte. */
    for (uint32_t lead = 0xf0; lead <= 0xff; lead++)
        for (uint32_t second = 0; second <= 0xff; second++) {
            b[0] = (uint8_t)lead, b[1] = (uint8_t)second, b[2] = 0x80, b[3] = 0xbf;
            if (ldg_utf8_valid(b, 4) != reference_valid(b, 4))
                fail_msg("%02x %02x 80 bf", lead, second);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_edge_cases),
        cmocka_unit_test(test_utf8_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
