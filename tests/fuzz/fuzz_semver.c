/*
 * fuzz_semver: ldg_semver_parse, ldg_semver_cmp, ldg_constraint_valid and
 * ldg_constraint_match (release versions and dependency constraints come from transactions).
 *
 * Input, text mode: up to four '\n'-separated strings; each is tried as a version and as a
 * constraint. Raw mode (first byte 0): the rest fills three ldg_semver structs byte for byte
 * (hand-filled structs, unterminated pre-release), which ldg_semver_cmp promises to order.
 *
 * Checks: parse fails with LDG_EINVALID and zeroes out, or succeeds and the printed version
 * parses back equal; cmp is reflexive, antisymmetric and transitive; a valid constraint
 * matches with 0 or 1 and an invalid one gives LDG_EINVALID for every version; and an
 * independent oracle for single terms over parsed versions A and B: "=A", ">=A", "<=A", ">A",
 * "<A", "^A", "~A" and "*" match B exactly when plain precedence (and, for ^ and ~, the
 * documented "<N.0.0-0" upper bound) says so.
 * Seeds: tests/fuzz/corpus/fuzz_semver/.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 4

static void order_checks(const ldg_semver *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        FZ_CHECK(ldg_semver_cmp(&v[i], &v[i]) == 0, "cmp not reflexive");
        ldg_semver copy = v[i];
        FZ_CHECK(ldg_semver_cmp(&v[i], &copy) == 0, "cmp of a copy not 0");
        for (size_t j = 0; j < n; j++) {
            int ij = ldg_semver_cmp(&v[i], &v[j]), ji = ldg_semver_cmp(&v[j], &v[i]);
            FZ_CHECK(ij >= -1 && ij <= 1, "cmp returned %d", ij);
            FZ_CHECK(ij == -ji, "cmp not antisymmetric: %d vs %d", ij, ji);
            for (size_t k = 0; k < n; k++) {
                int jk = ldg_semver_cmp(&v[j], &v[k]), ik = ldg_semver_cmp(&v[i], &v[k]);
                if (ij <= 0 && jk <= 0)
                    FZ_CHECK(ik <= 0, "cmp not transitive (<=)");
                if (ij == 0 && jk == 0)
                    FZ_CHECK(ik == 0, "cmp equality not transitive");
            }
        }
    }
}

static int fmt(char *out, size_t cap, const ldg_semver *v)
{
    return snprintf(out, cap, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%s", v->major, v->minor,
                    v->patch, v->pre[0] ? "-" : "", v->pre);
}

/* "N.0.0-0"-style bound: v's first `level` parts with the last bumped; false on overflow. */
static bool upper(const ldg_semver *v, int level, ldg_semver *out)
{
    uint64_t p[3] = {v->major, v->minor, v->patch};
    if (p[level - 1] == UINT64_MAX)
        return false;
    p[level - 1]++;
    for (int k = level; k < 3; k++)
        p[k] = 0;
    memset(out, 0, sizeof *out);
    out->major = p[0], out->minor = p[1], out->patch = p[2];
    out->pre[0] = '0';
    return true;
}

/* Term "op A" against B, by the documented rules. */
static void term_oracle(const ldg_semver *a, const char *astr, const ldg_semver *b)
{
    static const char *const ops[] = {"=", "==", "", ">=", "<=", ">", "<", "^", "~"};
    char c[128];
    int ab = ldg_semver_cmp(b, a); /* B relative to A */
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        int n = snprintf(c, sizeof c, "%s%s", ops[o], astr);
        if (n < 0 || n > 64)
            continue; /* over LDG_CONSTRAINT_MAX_LEN: refused, checked elsewhere */
        int want;
        const char *op = ops[o];
        ldg_semver hi;
        if (!strcmp(op, ">="))
            want = ab >= 0;
        else if (!strcmp(op, "<="))
            want = ab <= 0;
        else if (!strcmp(op, ">"))
            want = ab > 0;
        else if (!strcmp(op, "<"))
            want = ab < 0;
        else if (!strcmp(op, "^")) {
            int level = a->major ? 1 : a->minor ? 2 : 3;
            if (!upper(a, level, &hi))
                continue;
            want = ab >= 0 && ldg_semver_cmp(b, &hi) < 0;
        } else if (!strcmp(op, "~")) {
            if (!upper(a, 2, &hi))
                continue;
            want = ab >= 0 && ldg_semver_cmp(b, &hi) < 0;
        } else {
            want = ab == 0;
        }
        int got = ldg_constraint_match(c, b);
        FZ_CHECK(got == want,
                 "\"%s\" against %" PRIu64 ".%" PRIu64 ".%" PRIu64 "-%s: got %d, want %d", c,
                 b->major, b->minor, b->patch, b->pre, got, want);
    }
    FZ_CHECK(ldg_constraint_match("*", b) == 1, "\"*\" does not match");
}

static void raw_mode(const uint8_t *data, size_t size)
{
    ldg_semver v[3];
    memset(v, 0, sizeof v);
    memcpy(v, data, size < sizeof v ? size : sizeof v);
    order_checks(v, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0) {
        raw_mode(data + 1, size - 1);
        return 0;
    }
    if (size > 4096)
        return 0;

    /* Split into NUL-terminated parts. */
    char buf[4097];
    char *parts[MAXP];
    size_t np = 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf;
    while (np < MAXP) {
        parts[np++] = p;
        char *nl = memchr(p, '\n', (size_t)(buf + size - p));
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }

    ldg_semver v[MAXP];
    size_t nv = 0;
    int valid[MAXP];
    for (size_t i = 0; i < np; i++) {
        ldg_semver x;
        int rc = ldg_semver_parse(parts[i], &x);
        if (rc) {
            static const ldg_semver zero;
            FZ_CHECK(rc == LDG_EINVALID, "parse error %d", rc);
            FZ_CHECK(!memcmp(&x, &zero, sizeof x), "failed parse left output behind");
        } else {
            char again[128];
            ldg_semver y;
            FZ_CHECK(strnlen(x.pre, sizeof x.pre) < sizeof x.pre, "pre not terminated");
            fmt(again, sizeof again, &x);
            FZ_CHECK(ldg_semver_parse(again, &y) == 0, "\"%s\" printed as \"%s\" does not parse",
                     parts[i], again);
            FZ_CHECK(!memcmp(&x, &y, sizeof x) || (x.major == y.major && x.minor == y.minor &&
                                                   x.patch == y.patch && !strcmp(x.pre, y.pre)),
                     "\"%s\" does not round trip", parts[i]);
            FZ_CHECK(ldg_semver_cmp(&x, &y) == 0, "round trip compares unequal");
            v[nv++] = x;
        }
        valid[i] = ldg_constraint_valid(parts[i]);
        FZ_CHECK(valid[i] == 0 || valid[i] == LDG_EINVALID, "valid returned %d", valid[i]);
    }
    order_checks(v, nv);

    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < nv; j++) {
            int m = ldg_constraint_match(parts[i], &v[j]);
            if (valid[i] == 0)
                FZ_CHECK(m == 0 || m == 1, "valid constraint \"%s\" gave %d", parts[i], m);
            else
                FZ_CHECK(m == LDG_EINVALID, "invalid constraint \"%s\" gave %d", parts[i], m);
        }

    for (size_t i = 0; i < nv; i++) {
        char astr[160];
        fmt(astr, sizeof astr, &v[i]);
        for (size_t j = 0; j < nv; j++)
            term_oracle(&v[i], astr, &v[j]);
    }
    return 0;
}
