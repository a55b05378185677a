/*
 * Semantic Versioning 2.0.0 (https://semver.org) and version constraints.
 *
 * Everything here is a pure function of its arguments: no allocation, no locale, no global
 * state, so the contract VM can call it and every node reaches the same answer.
 *
 * Constraint grammar (at most LDG_CONSTRAINT_MAX_LEN bytes, at most
 * LDG_CONSTRAINT_MAX_TERMS terms):
 *
 *   constraint := "*" | term ("," term)*        blanks (space, tab) allowed around each term
 *   term       := op version                    no blank between op and version
 *   op         := ">=" | "<=" | ">" | "<" | "=" | "==" | "^" | "~" | ""
 *   version    := X | X.Y | X.Y.Z[-pre][+build]  strict SemVer numbers; no "x" wildcards
 *
 * A version satisfies a constraint when it satisfies every term. Each term is a range:
 *
 *   >=V, >V, <=V, <V  plain SemVer precedence against V; a partial V is completed with
 *                     zeros ("<=3.1" is "<=3.1.0", ">3" is ">3.0.0").
 *   =V, ==V, V        V full: same precedence as V (build metadata ignored).
 *                     V partial: every version of that line, "=3" is >=3.0.0 <4.0.0-0 and
 *                     "=3.1" is >=3.1.0 <3.2.0-0.
 *   ^V                npm caret: changes that do not modify the left-most non-zero part
 *                     of V (^1.2.3 is >=1.2.3 <2.0.0-0, ^0.2.3 is >=0.2.3 <0.3.0-0,
 *                     ^0.0.3 is >=0.0.3 <0.0.4-0, ^1.2 is >=1.2.0 <2.0.0-0,
 *                     ^0.0 is >=0.0.0 <0.1.0-0, ^0 is >=0.0.0 <1.0.0-0).
 *   ~V                npm tilde: patch-level changes if a minor is given, else minor-level
 *                     (~1.2.3 is >=1.2.3 <1.3.0-0, ~1.2 is >=1.2.0 <1.3.0-0,
 *                     ~1 is >=1.0.0 <2.0.0-0).
 *   *                 any version, pre-releases included; only valid as the whole constraint.
 *
 * Upper bounds that this file derives (from ^, ~ and partial =) are "<N.0.0-0": "0" is the
 * lowest possible pre-release, so the bound excludes every pre-release of the next line as
 * well as its release (4.0.0-rc.1 does not satisfy "=3" nor "^3.1.0"). Bounds the user writes
 * ("<4", "<4.0.0") are taken literally by precedence, so 4.0.0-rc.1 satisfies "<4".
 *
 * Pre-releases: deliberately simpler than npm. A pre-release version satisfies a constraint
 * exactly when it satisfies every term by plain precedence; there is no rule restricting
 * pre-releases to comparators that name the same [major, minor, patch] tuple. So
 * 2.0.0-rc.1 satisfies ">=1.0.0" (it is above 1.0.0) but not ">=2.0.0".
 *
 * A bump that would overflow a uint64 component carries into the component on its left
 * (~1.18446744073709551615 is below 2.0.0-0); past the major there is no upper bound.
 */
#include <string.h>

#include "ledger/ledger.h"

#define LDG_CONSTRAINT_MAX_LEN 64  /* fits fwl.Dependency.constraint (max_size 65) */
#define LDG_CONSTRAINT_MAX_TERMS 8
#define PRE_MAX ((size_t)sizeof(((ldg_semver *)0)->pre) - 1)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A numeric version part at s[*i..n): one or more digits, no leading zero unless the part is
 * exactly "0", and no overflow of a uint64. Advances *i past the digits. */
static bool parse_num(const char *s, size_t n, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;

    while (*i < n && is_digit(s[*i])) {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        (*i)++;
    }
    if (*i == start || (s[start] == '0' && *i - start > 1))
        return false;
    *out = v;
    return true;
}

/* Dot-separated, non-empty identifiers of [0-9A-Za-z-] at s[*i..n), up to the first byte that
 * cannot continue one (the caller checks what follows). For pre-release identifiers
 * (numeric_strict), an all-digit identifier must not have a leading zero. */
static bool parse_idents(const char *s, size_t n, size_t *i, bool numeric_strict)
{
    for (;;) {
        size_t start = *i;
        bool all_digits = true;

        while (*i < n && is_ident_char(s[*i])) {
            all_digits = all_digits && is_digit(s[*i]);
            (*i)++;
        }
        if (*i == start)
            return false;
        if (numeric_strict && all_digits && s[start] == '0' && *i - start > 1)
            return false;
        if (*i < n && s[*i] == '.') {
            (*i)++;
            continue;
        }
        return true;
    }
}

/*
 * Parse s[0..n) as a version. With allow_partial, "X" and "X.Y" are accepted as well;
 * *parts tells how many numeric parts were present (1, 2 or 3) and a partial version never
 * has a pre-release or build. out is zeroed first; on error it may hold a partial result.
 */
static int parse_version(const char *s, size_t n, bool allow_partial, ldg_semver *out,
                         int *parts)
{
    size_t i = 0;
    uint64_t num[3] = {0, 0, 0};
    int k = 0;

    memset(out, 0, sizeof *out);
    for (;;) {
        if (!parse_num(s, n, &i, &num[k]))
            return LDG_EINVALID;
        k++;
        if (k == 3 || i == n || s[i] != '.')
            break;
        i++;
    }
    if (k < 3) {
        if (!allow_partial || i != n)
            return LDG_EINVALID;
    } else {
        if (i < n && s[i] == '-') {
            size_t start = ++i;
            if (!parse_idents(s, n, &i, true) || i - start > PRE_MAX)
                return LDG_EINVALID;
            memcpy(out->pre, s + start, i - start);
            out->pre[i - start] = '\0';
        }
        if (i < n && s[i] == '+') {
            i++;
            if (!parse_idents(s, n, &i, false))
                return LDG_EINVALID;
        }
        if (i != n)
            return LDG_EINVALID;
    }
    out->major = num[0];
    out->minor = num[1];
    out->patch = num[2];
    *parts = k;
    return 0;
}

int ldg_semver_parse(const char *s, ldg_semver *out)
{
    int parts;
    ldg_semver tmp;

    if (!out)
        return LDG_EINVALID;
    if (!s) {
        memset(out, 0, sizeof *out);
        return LDG_EINVALID;
    }
    /* Parse into a local so that out is either the whole answer or all zeros. */
    if (parse_version(s, strlen(s), false, &tmp, &parts)) {
        memset(out, 0, sizeof *out);
        return LDG_EINVALID;
    }
    *out = tmp;
    return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* SemVer 11.4.1: numeric identifiers compare numerically. They have no leading zeros when
 * they come from ldg_semver_parse; zeros are skipped anyway so that a hand-filled struct
 * still gets a total order, and arbitrarily long numbers need no arithmetic. */
static int cmp_numeric(const char *a, size_t na, const char *b, size_t nb)
{
    while (na > 1 && *a == '0')
        a++, na--;
    while (nb > 1 && *b == '0')
        b++, nb--;
    if (na != nb)
        return na < nb ? -1 : 1;
    int c = memcmp(a, b, na);
    return (c > 0) - (c < 0);
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return n > 0;
}

/* SemVer 11.4: compare two pre-release strings identifier by identifier. Both non-empty. */
static int cmp_pre(const char *a, size_t na, const char *b, size_t nb)
{
    size_t i = 0, j = 0;

    for (;;) {
        if (i >= na && j >= nb)
            return 0;
        if (i >= na) /* 11.4.4: a shorter prefix-equal set is lower */
            return -1;
        if (j >= nb)
            return 1;

        size_t ei = i, ej = j;
        while (ei < na && a[ei] != '.')
            ei++;
        while (ej < nb && b[ej] != '.')
            ej++;

        bool da = all_digits(a + i, ei - i), db = all_digits(b + j, ej - j);
        int c;
        if (da && db) {
            c = cmp_numeric(a + i, ei - i, b + j, ej - j);
        } else if (da != db) {
            c = da ? -1 : 1; /* 11.4.3: numeric < alphanumeric */
        } else {
            size_t la = ei - i, lb = ej - j;
            c = memcmp(a + i, b + j, la < lb ? la : lb); /* 11.4.2: ASCII order */
            c = c ? (c > 0) - (c < 0) : (la > lb) - (la < lb);
        }
        if (c)
            return c;
        i = ei + 1;
        j = ej + 1;
    }
}

int ldg_semver_cmp(const ldg_semver *a, const ldg_semver *b)
{
    int c;

    /* Misuse still gets a total, deterministic order rather than a crash. */
    if (a == b)
        return 0;
    if (!a || !b)
        return a ? 1 : -1;
    if ((c = cmp_u64(a->major, b->major)) || (c = cmp_u64(a->minor, b->minor)) ||
        (c = cmp_u64(a->patch, b->patch)))
        return c;

    /* The length is bounded by the array, so an unterminated hand-filled pre is safe. */
    size_t na = strnlen(a->pre, sizeof a->pre), nb = strnlen(b->pre, sizeof b->pre);
    if (!na || !nb)
        return (na == 0) - (nb == 0); /* 11.3: a release is above its pre-releases */
    return cmp_pre(a->pre, na, b->pre, nb);
}

/* ---------------------------------------------------------------------------------------- */
/* Constraints                                                                               */

/* One bound of a range; absent means unbounded on that side. */
typedef struct {
    bool present;
    bool inclusive;
    ldg_semver v;
} bound;

/* Lowest version of the line after v's first `level` parts (level 1: next major, 2: next
 * minor, 3: next patch), i.e. "N.0.0-0". Overflow carries left; false when it carries
 * past the major (no upper bound). */
static bool next_line(const ldg_semver *v, int level, ldg_semver *out)
{
    uint64_t p[3] = {v->major, v->minor, v->patch};

    for (int k = level; k < 3; k++)
        p[k] = 0;
    for (int k = level - 1;; k--) {
        if (k < 0)
            return false;
        if (p[k] != UINT64_MAX) {
            p[k]++;
            break;
        }
        p[k] = 0;
    }
    memset(out, 0, sizeof *out);
    out->major = p[0];
    out->minor = p[1];
    out->patch = p[2];
    out->pre[0] = '0';
    return true;
}

enum op { OP_GE, OP_LE, OP_GT, OP_LT, OP_EQ, OP_CARET, OP_TILDE };

/* Parse one term t[0..n) (blanks already trimmed) into the range [lo, hi]. */
static int parse_term(const char *t, size_t n, bound *lo, bound *hi)
{
    static const struct {
        const char *s;
        enum op op;
    } ops[] = {
        /* Longest first, so that ">=" is not read as ">" followed by "=1.2.3". */
        {">=", OP_GE}, {"<=", OP_LE}, {"==", OP_EQ}, {">", OP_GT},
        {"<", OP_LT},  {"=", OP_EQ},  {"^", OP_CARET}, {"~", OP_TILDE},
    };
    enum op op = OP_EQ;
    size_t skip = 0;
    ldg_semver v;
    int parts;

    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        size_t l = strlen(ops[k].s);
        if (n >= l && !memcmp(t, ops[k].s, l)) {
            op = ops[k].op;
            skip = l;
            break;
        }
    }
    if (parse_version(t + skip, n - skip, true, &v, &parts))
        return LDG_EINVALID;

    memset(lo, 0, sizeof *lo);
    memset(hi, 0, sizeof *hi);
    switch (op) {
    case OP_GE:
    case OP_GT:
        *lo = (bound){true, op == OP_GE, v};
        break;
    case OP_LE:
    case OP_LT:
        *hi = (bound){true, op == OP_LE, v};
        break;
    case OP_EQ:
        *lo = (bound){true, true, v};
        if (parts == 3)
            *hi = (bound){true, true, v};
        else
            hi->present = next_line(&v, parts, &hi->v);
        break;
    case OP_CARET: {
        /* Bump the left-most non-zero part among those given; if all given parts are zero,
         * the last given one (a partial "^0.0" keeps 0.0.x, a full "^0.0.3" keeps 0.0.3). */
        uint64_t p[3] = {v.major, v.minor, v.patch};
        int level = parts;
        for (int k = 0; k < parts; k++) {
            if (p[k]) {
                level = k + 1;
                break;
            }
        }
        *lo = (bound){true, true, v};
        hi->present = next_line(&v, level, &hi->v);
        break;
    }
    case OP_TILDE:
        *lo = (bound){true, true, v};
        hi->present = next_line(&v, parts == 1 ? 1 : 2, &hi->v);
        break;
    }
    return 0;
}

static bool in_range(const bound *lo, const bound *hi, const ldg_semver *v)
{
    if (lo->present) {
        int c = ldg_semver_cmp(v, &lo->v);
        if (c < 0 || (c == 0 && !lo->inclusive))
            return false;
    }
    if (hi->present) {
        int c = ldg_semver_cmp(v, &hi->v);
        if (c > 0 || (c == 0 && !hi->inclusive))
            return false;
    }
    return true;
}

/* Walk the whole constraint; with v non-NULL, also evaluate it. Every term is parsed even
 * after one fails to match, so a malformed constraint is always LDG_EINVALID. Returns 1/0
 * (match / no match, or 1 when v is NULL) or LDG_EINVALID. */
static int eval(const char *c, const ldg_semver *v)
{
    size_t len, pos = 0;
    int terms = 0;
    bool ok = true;

    if (!c)
        return LDG_EINVALID;
    len = strnlen(c, LDG_CONSTRAINT_MAX_LEN + 1);
    if (len > LDG_CONSTRAINT_MAX_LEN)
        return LDG_EINVALID;

    for (;;) {
        size_t b = pos, e = pos;
        while (e < len && c[e] != ',')
            e++;
        pos = e;
        while (b < e && is_blank(c[b]))
            b++;
        while (e > b && is_blank(c[e - 1]))
            e--;
        if (b == e || ++terms > LDG_CONSTRAINT_MAX_TERMS)
            return LDG_EINVALID;

        if (e - b == 1 && c[b] == '*') {
            if (terms != 1 || pos != len)
                return LDG_EINVALID; /* "*" only stands alone */
        } else {
            bound lo, hi;
            if (parse_term(c + b, e - b, &lo, &hi))
                return LDG_EINVALID;
            if (v && !in_range(&lo, &hi, v))
                ok = false;
        }
        if (pos == len)
            break;
        pos++; /* the comma; a trailing one leaves an empty term, refused above */
    }
    return ok ? 1 : 0;
}

int ldg_constraint_valid(const char *c)
{
    int r = eval(c, NULL);
    return r < 0 ? r : 0;
}

int ldg_constraint_match(const char *c, const ldg_semver *v)
{
    if (!v)
        return LDG_EINVALID;
    return eval(c, v);
}
