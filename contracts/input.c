/*
 * The edges of contracts/: the error table, the input checks every evaluation starts with,
 * the rollout bucket, and the bounded text builder every message goes through.
 *
 * Inputs are checked once per evaluation, before anything reads them, so the VM and the
 * default policy may assume: every string is at most CTR_NAME_MAX bytes, every list at most
 * CTR_LIST_MAX entries, every version parses. Constraints are checked where they are used.
 */
#include <stdio.h>
#include <string.h>

#include "contracts/internal.h"
#include "ledger/ledger.h"

const char *ctr_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
#define CTR_STR_(name, val, msg) \
    case name:                   \
        return msg;
        CTR_ERRORS(CTR_STR_)
#undef CTR_STR_
    default: /* contracts/ sits on ledger/: the decision's callbacks return its codes */
        return ldg_strerror(err);
    }
}

/* --- text ------------------------------------------------------------------------------- */

void ctr__sb_init(ctr__sb *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->full = false;
    if (cap)
        buf[0] = '\0';
}

void ctr__sb_put(ctr__sb *b, const char *s, size_t n)
{
    if (!b->cap || b->full)
        return;
    size_t room = b->cap - 1 - b->len;
    if (n > room) {
        /* Cut at a character boundary: drop continuation bytes and the lead byte of a
         * sequence that does not fit whole. */
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        b->full = true;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void ctr__sb_puts(ctr__sb *b, const char *s)
{
    ctr__sb_put(b, s, strlen(s));
}

void ctr__sb_printf(ctr__sb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    ctr__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void ctr__copy(char *dst, size_t cap, const char *s)
{
    ctr__sb b;
    ctr__sb_init(&b, dst, cap);
    ctr__sb_puts(&b, s ? s : "");
}

void ctr__verdict(ctr_verdict *v, bool eligible, const char *rule, const char *reason,
                  uint64_t cost)
{
    if (!v)
        return;
    memset(v, 0, sizeof *v);
    v->eligible = eligible;
    ctr__copy(v->rule, sizeof v->rule, rule);
    ctr__copy(v->reason, sizeof v->reason, reason);
    v->cost = cost;
}

/* --- inputs ----------------------------------------------------------------------------- */

#define BAD(code, ...)                                                                       \
    do {                                                                                     \
        snprintf(why, whylen, __VA_ARGS__);                                                  \
        return (code);                                                                       \
    } while (0)

/* A string input: NULL reads as "" (callers substitute); at most CTR_NAME_MAX bytes. */
static bool str_ok(const char *s)
{
    return !s || strnlen(s, CTR_NAME_MAX + 1) <= CTR_NAME_MAX;
}

static int strs_ok(const char *const *v, size_t n, const char *what, char *why, size_t whylen)
{
    if (n > CTR_LIST_MAX)
        BAD(CTR_ETOOBIG, "%s: %zu entries, at most %d", what, n, CTR_LIST_MAX);
    if (n && !v)
        BAD(CTR_EINVAL, "%s: NULL list", what);
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            BAD(CTR_EINVAL, "%s[%zu]: NULL", what, i);
        if (!str_ok(v[i]))
            BAD(CTR_ETOOBIG, "%s[%zu]: longer than %d bytes", what, i, CTR_NAME_MAX);
    }
    return 0;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static int device_ok(ctr__in *in, const ctr_device *d, char *why, size_t whylen)
{
    int rc;
    if (!str_ok(d->id) || !str_ok(d->model) || !str_ok(d->region))
        BAD(CTR_ETOOBIG, "device: id, model or region longer than %d bytes", CTR_NAME_MAX);
    if ((rc = strs_ok(d->addons, d->n_addons, "device.addons", why, whylen)) ||
        (rc = strs_ok(d->tags, d->n_tags, "device.tags", why, whylen)))
        return rc;
    if (d->n_packages > CTR_LIST_MAX)
        BAD(CTR_ETOOBIG, "device.packages: %zu entries, at most %d", d->n_packages, CTR_LIST_MAX);
    if (d->n_packages && !d->packages)
        BAD(CTR_EINVAL, "device.packages: NULL list");
    for (size_t i = 0; i < d->n_packages; i++) {
        const ctr_package *p = &d->packages[i];
        if (!p->name || !*p->name || !p->version)
            BAD(CTR_EINVAL, "device.packages[%zu]: name or version missing", i);
        if (!str_ok(p->name) || !str_ok(p->version))
            BAD(CTR_ETOOBIG, "device.packages[%zu]: longer than %d bytes", i, CTR_NAME_MAX);
        if (ldg_semver_parse(p->version, &in->pkg_ver[i]))
            BAD(CTR_EINVAL, "device.packages[%zu]: %s version \"%s\" is not SemVer 2.0", i,
                p->name, p->version);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->packages[j].name, p->name))
                BAD(CTR_EINVAL, "device.packages: %s listed twice", p->name);
    }
    return 0;
}

static int release_ok(ctr__in *in, const ctr_release *r, char *why, size_t whylen)
{
    int rc;
    if (!str_ok(r->product) || !str_ok(r->version))
        BAD(CTR_ETOOBIG, "release: product or version longer than %d bytes", CTR_NAME_MAX);
    if (ldg_semver_parse(nz(r->version), &in->rel_ver))
        BAD(CTR_EINVAL, "release.version \"%s\" is not SemVer 2.0", nz(r->version));
    if (r->file_hash_len > LDG_HASH_MAX)
        BAD(CTR_ETOOBIG, "release.file_hash: %zu bytes, at most %d", r->file_hash_len,
            LDG_HASH_MAX);
    if (r->file_hash_len && !r->file_hash)
        BAD(CTR_EINVAL, "release.file_hash: NULL");
    if (r->n_hardware > CTR_LIST_MAX || r->n_deps > CTR_LIST_MAX)
        BAD(CTR_ETOOBIG, "release: more than %d hardware entries or dependencies",
            CTR_LIST_MAX);
    if ((r->n_hardware && !r->hardware) || (r->n_deps && !r->deps))
        BAD(CTR_EINVAL, "release: NULL hardware or dependency list");
    for (size_t i = 0; i < r->n_hardware; i++) {
        const ctr_hardware *h = &r->hardware[i];
        if (!h->model || !*h->model)
            BAD(CTR_EINVAL, "release.hardware[%zu]: no model", i);
        if (!str_ok(h->model))
            BAD(CTR_ETOOBIG, "release.hardware[%zu]: longer than %d bytes", i, CTR_NAME_MAX);
        if (h->rev_max && h->rev_min > h->rev_max)
            BAD(CTR_EINVAL, "release.hardware[%zu]: revision range %u-%u", i, h->rev_min,
                h->rev_max);
        if ((rc = strs_ok(h->required_addons, h->n_required_addons,
                          "release.hardware.required_addons", why, whylen)))
            return rc;
    }
    for (size_t i = 0; i < r->n_deps; i++) {
        const ctr_dependency *dep = &r->deps[i];
        if (!dep->package || !*dep->package || !dep->constraint)
            BAD(CTR_EINVAL, "release.deps[%zu]: package or constraint missing", i);
        /* The constraint's syntax is checked where it is used (ldg_constraint_match does
         * it anyway): the ledger only stores valid ones, and checking twice would be a
         * third of an evaluation's time. */
        if (!str_ok(dep->package) || !str_ok(dep->constraint))
            BAD(CTR_ETOOBIG, "release.deps[%zu]: longer than %d bytes", i, CTR_NAME_MAX);
    }
    return 0;
}

int ctr__in_init(ctr__in *in, const ctr_device *d, const ctr_release *r, const ctr_context *c,
                 char *why, size_t whylen)
{
    int rc;
    memset(in, 0, sizeof *in);
    if (!d || !r)
        BAD(CTR_EINVAL, "no device or no release");
    if ((rc = device_ok(in, d, why, whylen)) || (rc = release_ok(in, r, why, whylen)))
        return rc;
    in->d = d;
    in->r = r;
    in->time_ms = c ? c->block_time_ms : 0;
    in->height = c ? c->height : 0;
    in->cost_limit = c && c->cost_limit ? c->cost_limit : CTR_COST_DEFAULT;
    return 0;
}

int ctr__find_pkg(const ctr__in *in, const char *name, size_t len, uint64_t *work)
{
    *work += in->d->n_packages;
    for (size_t i = 0; i < in->d->n_packages; i++) {
        const char *pn = in->d->packages[i].name;
        if (strlen(pn) == len && !memcmp(pn, name, len))
            return (int)i;
    }
    return -1;
}

/* --- the rollout bucket ----------------------------------------------------------------- */

uint32_t ctr_bucket(const char *device_id, const uint8_t *file_hash, size_t len)
{
    const char *id = device_id ? device_id : "";
    const uint8_t *parts[2] = {(const uint8_t *)id, file_hash ? file_hash : (const uint8_t *)""};
    size_t lens[2] = {strlen(id), file_hash ? len : 0};
    uint8_t dig[LDG_HASH_MAX];
    size_t dl = 0;
    /* sha256 is always registered; a failure here cannot happen, and bucket 0 is as good an
     * answer as any for the impossible. */
    if (ldg_hash(LDG_HASH_SHA256, parts, lens, 2, dig, &dl) || dl < 8)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | dig[i];
    return (uint32_t)(x % 10000u);
}
