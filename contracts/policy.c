/*
 * The built-in default policy: what applies where no contract is bound, and what a contract
 * reuses through defaults(), supports(), newer() and deps_ok(). Each check explains a "no"
 * in words an auditor can read without the source ("revision 7 outside 1-5 for sensor-v1",
 * "needs libfoo >=2 but 1.4.0 is installed").
 */
#include <inttypes.h>
#include <string.h>

#include "contracts/internal.h"

static const char *revoke_reason_name(int r)
{
    switch (r) {
    case 1:
        return "vulnerable";
    case 2:
        return "malicious";
    case 3:
        return "superseded";
    case 4:
        return "withdrawn";
    default:
        return "no reason given";
    }
}

bool ctr__chk_revoked(const ctr__in *in, ctr__sb *why, uint64_t *work)
{
    *work += 1;
    if (!in->r->revoked)
        return true;
    ctr__sb_printf(why, "release %s %s is revoked (%s)", in->r->product ? in->r->product : "",
                   in->r->version, revoke_reason_name(in->r->revoke_reason));
    return false;
}

static bool has_str(const char *const *v, size_t n, const char *s, uint64_t *work)
{
    *work += n;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static void range_text(ctr__sb *b, const ctr_hardware *h)
{
    if (h->rev_min && h->rev_max)
        ctr__sb_printf(b, "%u-%u", h->rev_min, h->rev_max);
    else if (h->rev_min)
        ctr__sb_printf(b, ">=%u", h->rev_min);
    else
        ctr__sb_printf(b, "<=%u", h->rev_max);
}

/* The model matches and the revision is in range; *missing: the first required add-on the
 * device lacks, or NULL. */
static bool hw_fits(const ctr__in *in, const ctr_hardware *h, bool *rev_ok, const char **missing,
                    uint64_t *work)
{
    const ctr_device *d = in->d;
    *work += 1;
    *missing = NULL;
    *rev_ok = (!h->rev_min || d->revision >= h->rev_min) && (!h->rev_max || d->revision <= h->rev_max);
    for (size_t j = 0; j < h->n_required_addons && !*missing; j++)
        if (!has_str(d->addons, d->n_addons, h->required_addons[j], work))
            *missing = h->required_addons[j];
    return *rev_ok && !*missing;
}

bool ctr__chk_hardware(const ctr__in *in, ctr__sb *why, uint64_t *work)
{
    const ctr_device *d = in->d;
    const ctr_release *r = in->r;
    const char *model = d->model ? d->model : "";
    const ctr_hardware *first = NULL;
    bool first_rev_ok = false;
    const char *first_missing = NULL;

    /* The ledger lists a model once per release; should a caller list it twice, any entry
     * that fits will do, and the first one explains a refusal. */
    for (size_t i = 0; i < r->n_hardware; i++) {
        const ctr_hardware *h = &r->hardware[i];
        bool rev_ok;
        const char *missing;
        *work += 1;
        if (strcmp(h->model, model))
            continue;
        if (hw_fits(in, h, &rev_ok, &missing, work))
            return true;
        if (!first) {
            first = h;
            first_rev_ok = rev_ok;
            first_missing = missing;
        }
    }
    if (!first) {
        ctr__sb_printf(why, "model %s is not supported (the release lists ", model);
        for (size_t i = 0; i < r->n_hardware; i++)
            ctr__sb_printf(why, "%s%s", i ? ", " : "", r->hardware[i].model);
        ctr__sb_puts(why, r->n_hardware ? ")" : "no hardware)");
    } else if (!first_rev_ok) {
        ctr__sb_printf(why, "revision %u outside ", d->revision);
        range_text(why, first);
        ctr__sb_printf(why, " for %s", model);
    } else {
        ctr__sb_printf(why, "%s needs add-on board %s", model, first_missing);
    }
    return false;
}

bool ctr__chk_newer(const ctr__in *in, ctr__sb *why, uint64_t *work)
{
    const ctr_release *r = in->r;
    const char *product = r->product ? r->product : "";
    int i = ctr__find_pkg(in, product, strlen(product), work);
    if (i < 0)
        return true; /* nothing of this product installed: any release is newer */
    const ctr_package *p = &in->d->packages[i];
    if (ldg_semver_cmp(&in->rel_ver, &in->pkg_ver[i]) <= 0) {
        ctr__sb_printf(why, "version %s is not newer than installed %s", r->version, p->version);
        return false;
    }
    if (p->security_version && r->security_version <= p->security_version) {
        ctr__sb_printf(why, "security version %" PRIu64 " is not above installed %" PRIu64,
                       r->security_version, p->security_version);
        return false;
    }
    return true;
}

bool ctr__chk_deps(const ctr__in *in, ctr__sb *why, uint64_t *work)
{
    const ctr_release *r = in->r;
    for (size_t k = 0; k < r->n_deps; k++) {
        const ctr_dependency *dep = &r->deps[k];
        int i = ctr__find_pkg(in, dep->package, strlen(dep->package), work);
        *work += 1;
        if (i < 0) {
            ctr__sb_printf(why, "needs %s %s but it is not installed", dep->package,
                           dep->constraint);
            return false;
        }
        int m = ldg_constraint_match(dep->constraint, &in->pkg_ver[i]);
        if (m < 0) {
            ctr__sb_printf(why, "needs %s \"%s\", which is not a version constraint",
                           dep->package, dep->constraint);
            return false;
        }
        if (m != 1) {
            ctr__sb_printf(why, "needs %s %s but %s is installed", dep->package, dep->constraint,
                           in->d->packages[i].version);
            return false;
        }
    }
    return true;
}

bool ctr__chk_defaults(const ctr__in *in, const char **rule, ctr__sb *why, uint64_t *work)
{
    static const struct {
        const char *name;
        bool (*fn)(const ctr__in *, ctr__sb *, uint64_t *);
    } checks[] = {
        {"revoked", ctr__chk_revoked},
        {"hardware", ctr__chk_hardware},
        {"newer", ctr__chk_newer},
        {"dependencies", ctr__chk_deps},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
        if (!checks[i].fn(in, why, work)) {
            *rule = checks[i].name;
            return false;
        }
    *rule = "";
    return true;
}

int ctr_eval_default(const ctr_device *d, const ctr_release *r, const ctr_context *c,
                     ctr_verdict *v)
{
    ctr__in in;
    char why[CTR_REASON_MAX];
    int rc = ctr__in_init(&in, d, r, c, why, sizeof why);
    if (rc) {
        ctr__verdict(v, false, "input", why, 0);
        return rc;
    }
    ctr__sb b;
    const char *rule;
    uint64_t work = 0;
    ctr__sb_init(&b, why, sizeof why);
    bool ok = ctr__chk_defaults(&in, &rule, &b, &work);
    ctr__verdict(v, ok, rule, ok ? "" : why, work);
    return 0;
}
