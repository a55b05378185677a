/*
 * The eligibility decision (contracts.h: ctr_prepare, ctr_decide): per product, the best
 * eligible release, the rejected candidates with their rule, the device's status and an
 * update plan across dependencies. Pure: the candidates, the device and the policies are
 * handed in, so a node deciding from its store and a tracker re-running the decision on
 * records it was given reach the same answer.
 *
 * Planning: when the newest candidate fails only the default "dependencies" rule, each
 * missing dependency is looked up among the candidates (the best eligible release of that
 * package whose version satisfies the constraint), planned recursively on a virtual device
 * that has the earlier steps installed, and the candidate is evaluated again on it. Depth
 * and plan length are bounded; a package met again on the current path is a cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"

#define PKG_MAX (CTR_LIST_MAX + CTR_PLAN_MAX)

#define MEMO_MAX 16

/* --- preparing a candidate list --------------------------------------------------------- */

/* Product, then newest first; versions that do not parse (the ledger stores none) last. */
static int cand_order(const void *a, const void *b)
{
    const ctr_candidate *x = a, *y = b;
    int c = strcmp(x->r.product, y->r.product);
    if (c)
        return c;
    if (x->v_ok && y->v_ok)
        return ldg_semver_cmp(&y->v, &x->v);
    if (x->v_ok != y->v_ok)
        return x->v_ok ? -1 : 1;
    return strcmp(y->r.version, x->r.version);
}

int ctr_prepare(ctr_candidate *c, size_t n)
{
    if (n > CTR_CANDIDATES_MAX)
        return LDG_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        c[i].v_ok = !ldg_semver_parse(c[i].r.version, &c[i].v);
    if (n)
        qsort(c, n, sizeof *c, cand_order);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && !strcmp(c[j].r.product, c[i].r.product); j++)
            c[j].r.product = c[i].r.product;
        for (size_t k = i; k < j; k++) {
            c[k].group_end = (uint32_t)j;
            c[k].prepared = true;
        }
    }
    return 0;
}

/* The first index of product's group in c[0..n), or n. */
static size_t group_of(const ctr_candidate *c, size_t n, const char *product)
{
    for (size_t i = 0; i < n; i = c[i].group_end)
        if (c[i].r.product == product || !strcmp(c[i].r.product, product))
            return i;
    return n;
}

/* The candidate of group [i, end) with exactly this version, or NULL. Binary search: the
 * group is sorted newest first, unparsable versions last. */
static const ctr_candidate *find_version(const ctr_candidate *c, size_t i, size_t end,
                                         const ldg_semver *v)
{
    size_t lo = i, hi = end;
    while (lo < hi) { /* first index not strictly newer than v */
        size_t mid = lo + (hi - lo) / 2;
        if (c[mid].v_ok && ldg_semver_cmp(&c[mid].v, v) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < end && c[lo].v_ok && !ldg_semver_cmp(&c[lo].v, v) ? &c[lo] : NULL;
}

/* --- deciding --------------------------------------------------------------------------- */

typedef struct {
    const ctr_device *d;
    const ctr_candidate *c;
    size_t n;
    const ctr_source *src;
    const ctr_context *cc;
    /* dependencies already found unsatisfiable on the device as it is (each is tried once
     * per device, not once per candidate that needs it) */
    struct {
        const char *pkg, *constraint;
        char why[CTR_REASON_MAX];
    } memo[MEMO_MAX];
    size_t n_memo;
} env;

/* A device with some packages replaced or added by a plan. */
typedef struct {
    ctr_device d;
    ctr_package pk[PKG_MAX];
} vdevice;

static const ctr_package *installed(const ctr_device *d, const char *pkg)
{
    for (size_t i = 0; i < d->n_packages; i++)
        if (!strcmp(d->packages[i].name, pkg))
            return &d->packages[i];
    return NULL;
}

static void vdevice_init(vdevice *v, const ctr_device *d)
{
    v->d = *d;
    size_t n = d->n_packages < PKG_MAX ? d->n_packages : PKG_MAX;
    if (n)
        memcpy(v->pk, d->packages, n * sizeof *v->pk);
    v->d.packages = v->pk;
    v->d.n_packages = n;
}

static bool vdevice_install(vdevice *v, const ctr_candidate *c)
{
    ctr_package p = {c->r.product, c->r.version, c->r.security_version};
    for (size_t i = 0; i < v->d.n_packages; i++)
        if (!strcmp(v->pk[i].name, p.name)) {
            v->pk[i] = p;
            return true;
        }
    if (v->d.n_packages == PKG_MAX)
        return false;
    v->pk[v->d.n_packages++] = p;
    return true;
}

/* Installed packages without a stated security version get the one of the release they
 * run, when it is among the candidates. */
static void fill_security(vdevice *v, const ctr_candidate *c, size_t n)
{
    for (size_t i = 0; i < v->d.n_packages; i++) {
        ctr_package *p = &v->pk[i];
        ldg_semver sv;
        size_t g;
        if (p->security_version || !p->name || !p->version || ldg_semver_parse(p->version, &sv) ||
            (g = group_of(c, n, p->name)) == n)
            continue;
        const ctr_candidate *m = find_version(c, g, c[g].group_end, &sv);
        if (m)
            p->security_version = m->r.security_version;
    }
}

/* A verdict's error code that is not a verdict on the release: a bad device description
 * (rule "input") or no memory; 0 for the others. */
static int device_error(int rc, const ctr_verdict *v)
{
    if (rc == CTR_ENOMEM || ((rc == CTR_EINVAL || rc == CTR_ETOOBIG) && !strcmp(v->rule, "input")))
        return rc;
    return 0;
}

/* The verdict of policy prog (NULL: the default) on one candidate. A contract over its cost
 * limit, a run-time error in it or a bad input field is a rejection with that reason (the
 * verdict is always filled), not an error of the whole answer. A contract sees the
 * candidate's outcome totals as of the decision. */
static int evaluate(const env *e, const ctr_program *prog, const ctr_device *d,
                    const ctr_candidate *c, ctr_verdict *v)
{
    v->eligible = false;
    v->rule[0] = v->reason[0] = '\0';
    v->cost = 0;
    if (!prog)
        return device_error(ctr_eval_default(d, &c->r, e->cc, v), v);
    ctr_release r = c->r;
    int rc = e->src->outcomes ? e->src->outcomes(e->src->ctx, c, &r.outcomes) : 0;
    if (rc) {
        snprintf(v->rule, sizeof v->rule, "policy");
        snprintf(v->reason, sizeof v->reason, "outcome totals: %s", ldg_strerror(rc));
        return rc;
    }
    return device_error(ctr_eval(prog, d, &r, e->cc, v), v);
}

/* The same with the policy of c's product looked up. */
static int judge(const env *e, const ctr_device *d, const ctr_candidate *c, ctr_verdict *v)
{
    const ctr_program *prog = NULL;
    int rc = e->src->policy(e->src->ctx, c->r.product, d->model, &prog);
    if (rc) {
        v->eligible = false;
        snprintf(v->rule, sizeof v->rule, "policy");
        snprintf(v->reason, sizeof v->reason, "%s", ctr_strerror(rc));
        return rc;
    }
    return evaluate(e, prog, d, c, v);
}

typedef struct {
    const ctr_candidate *steps[CTR_PLAN_MAX];
    size_t n;
    const char *path[CTR_PLAN_MAX + 1]; /* packages being planned, for cycles */
    size_t depth;
    char why[CTR_REASON_MAX];
} plan;

static bool plan_release(env *e, vdevice *v, const ctr_candidate *target, plan *p);
static bool plan_package_(env *e, vdevice *v, const char *pkg, const char *constraint, plan *p);

/* The best eligible release of pkg satisfying constraint, planned on v; false with p->why. */
static bool plan_package(env *e, vdevice *v, const char *pkg, const char *constraint, plan *p)
{
    bool pristine = p->n == 0 && p->depth == 1; /* the device as it is, at the top */
    for (size_t i = 0; pristine && i < e->n_memo; i++)
        if (!strcmp(e->memo[i].pkg, pkg) && !strcmp(e->memo[i].constraint, constraint)) {
            snprintf(p->why, sizeof p->why, "%s", e->memo[i].why);
            return false;
        }
    bool ok = plan_package_(e, v, pkg, constraint, p);
    if (!ok && pristine && e->n_memo < MEMO_MAX) {
        e->memo[e->n_memo].pkg = pkg;
        e->memo[e->n_memo].constraint = constraint;
        snprintf(e->memo[e->n_memo++].why, sizeof e->memo[0].why, "%s", p->why);
    }
    return ok;
}

static bool plan_package_(env *e, vdevice *v, const char *pkg, const char *constraint, plan *p)
{
    for (size_t i = 0; i < p->depth; i++)
        if (!strcmp(p->path[i], pkg)) {
            snprintf(p->why, sizeof p->why, "dependency cycle through %s", pkg);
            return false;
        }
    const ctr_candidate *best = NULL;
    size_t g = group_of(e->c, e->n, pkg), end = g < e->n ? e->c[g].group_end : g;
    for (size_t i = g; i < end && !best; i++) { /* newest first: the first that fits */
        const ctr_candidate *c = &e->c[i];
        ctr_verdict verdict;
        if (c->r.revoked || !c->v_ok || ldg_constraint_match(constraint, &c->v) != 1)
            continue;
        /* it must itself be installable here (its own dependencies are planned below) */
        if (judge(e, &v->d, c, &verdict) == 0 &&
            (verdict.eligible || !strcmp(verdict.rule, "dependencies")))
            best = c;
    }
    if (!best) {
        const ctr_package *have = installed(&v->d, pkg);
        snprintf(p->why, sizeof p->why, "needs %s %s (installed: %s) and no eligible release of %s satisfies it",
                 pkg, constraint, have ? have->version : "none", pkg);
        return false;
    }
    return plan_release(e, v, best, p);
}

/* Plan target's missing dependencies, then target itself, on v. */
static bool plan_release(env *e, vdevice *v, const ctr_candidate *target, plan *p)
{
    if (p->depth == CTR_PLAN_MAX) {
        snprintf(p->why, sizeof p->why, "update plan deeper than %d steps", CTR_PLAN_MAX);
        return false;
    }
    p->path[p->depth++] = target->r.product;
    for (size_t i = 0; i < target->r.n_deps; i++) {
        const ctr_dependency *dep = &target->r.deps[i];
        const ctr_package *have = installed(&v->d, dep->package);
        ldg_semver sv;
        if (have && !ldg_semver_parse(have->version, &sv) &&
            ldg_constraint_match(dep->constraint, &sv) == 1)
            continue;
        if (!plan_package(e, v, dep->package, dep->constraint, p))
            return false;
    }
    p->depth--;
    ctr_verdict verdict;
    if (judge(e, &v->d, target, &verdict) || !verdict.eligible) {
        snprintf(p->why, sizeof p->why, "%.40s %.20s: %.90s", target->r.product, target->r.version,
                 verdict.reason[0] ? verdict.reason : "not eligible");
        return false;
    }
    if (p->n == CTR_PLAN_MAX || !vdevice_install(v, target)) {
        snprintf(p->why, sizeof p->why, "update plan longer than %d steps", CTR_PLAN_MAX);
        return false;
    }
    p->steps[p->n++] = target;
    return true;
}

static void reject(ctr_answer *a, const ctr_candidate *c, const char *rule, const char *reason)
{
    a->n_rejected_total++;
    if (a->n_rejected == CTR_REJECTED_MAX)
        return;
    ctr_rejection *r = &a->rejected[a->n_rejected++];
    r->release = c;
    snprintf(r->rule, sizeof r->rule, "%s", rule);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
}

/* One product: its candidates g[i..end), newest first. */
static void decide_product(env *e, size_t i, size_t end, ctr_answer *a)
{
    const ctr_candidate *g = e->c;
    const ctr_device *d = e->d;
    const ctr_package *have = installed(d, g[i].r.product);
    ldg_semver hv;
    bool hv_ok = have && !ldg_semver_parse(have->version, &hv);
    a->product = g[i].r.product;
    a->installed = have ? have->version : "";
    bool running_revoked = false; /* the candidate of the installed version is revoked */
    if (hv_ok) {
        const ctr_candidate *m = find_version(g, i, end, &hv);
        for (; m && m < g + end && m->v_ok && !ldg_semver_cmp(&m->v, &hv); m++)
            running_revoked |= m->r.revoked;
    } else {
        for (size_t k = i; have && k < end && !running_revoked; k++)
            running_revoked = g[k].r.revoked && !strcmp(g[k].r.version, have->version);
    }
    const ctr_program *prog = NULL;
    int prc = e->src->policy(e->src->ctx, a->product, d->model, &prog);
    for (; i < end && !a->best; i++) {
        const ctr_candidate *c = &g[i];
        ctr_verdict v;
        if (!prc && !prog && a->n_rejected == CTR_REJECTED_MAX && hv_ok && c->v_ok &&
            ldg_semver_cmp(&c->v, &hv) <= 0) {
            /* The default policy refuses every release not newer than the one installed
             * (by "revoked", "hardware" or "newer"): the rest are counted, not evaluated. */
            a->n_rejected_total += end - i;
            i = end;
            break;
        }
        int rc = prc ? prc : evaluate(e, prog, d, c, &v);
        if (rc) {
            a->error = rc;
            snprintf(a->error_reason, sizeof a->error_reason, "%s", prc ? ctr_strerror(rc) : v.reason);
            reject(a, c, "policy", ctr_strerror(rc));
            continue;
        }
        if (v.eligible) {
            a->best = c;
            continue;
        }
        if (!strcmp(v.rule, "dependencies")) {
            vdevice vd;
            plan p;
            p.n = p.depth = 0;
            p.why[0] = '\0';
            vdevice_init(&vd, d);
            if (plan_release(e, &vd, c, &p)) {
                a->best = c;
                memcpy(a->plan, p.steps, p.n * sizeof *p.steps);
                a->n_plan = p.n;
                continue;
            }
            if (!a->unsatisfiable) { /* the newest such candidate explains it */
                a->unsatisfiable = true;
                snprintf(a->unsat_reason, sizeof a->unsat_reason, "%s", p.why);
            }
            reject(a, c, "dependencies", p.why);
            continue;
        }
        reject(a, c, v.rule, v.reason);
    }
    a->n_superseded = end - i;
    if (a->best)
        a->unsatisfiable = false; /* an older release went in without the plan */
    a->status = running_revoked ? CTR_URGENT : a->best ? CTR_UPDATE_AVAILABLE : CTR_UP_TO_DATE;
}

static void answer_init(ctr_answer *a)
{
    a->product = a->installed = "";
    a->status = 0;
    a->best = NULL;
    a->n_plan = a->n_rejected = a->n_rejected_total = a->n_superseded = 0;
    a->unsatisfiable = false;
    a->unsat_reason[0] = a->error_reason[0] = '\0';
    a->error = 0;
}

int ctr_decide(const ctr_device *d, const ctr_candidate *c, size_t n, const ctr_source *src,
               const ctr_context *cc, ctr_answer *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (!d || !src || !src->policy || (n && !c) || (cap && !out))
        return CTR_EINVAL;
    if (n > CTR_CANDIDATES_MAX)
        return LDG_ETOOBIG;
    for (size_t i = 0; i < n; i = c[i].group_end) /* per group, not per candidate */
        if (!c[i].prepared || c[i].group_end <= i || c[i].group_end > n)
            return CTR_EINVAL;
    vdevice base;
    env e;
    e.d = d;
    if (d->n_packages <= CTR_LIST_MAX) { /* more: the policy refuses the device */
        vdevice_init(&base, d);
        fill_security(&base, c, n);
        e.d = &base.d;
    }
    e.c = c, e.n = n, e.src = src, e.cc = cc, e.n_memo = 0;
    for (size_t i = 0; i < n && *n_out < cap; i = c[i].group_end) {
        ctr_answer *a = &out[(*n_out)++];
        answer_init(a);
        decide_product(&e, i, c[i].group_end, a);
        if (a->error == CTR_EINVAL || a->error == CTR_ETOOBIG || a->error == CTR_ENOMEM) {
            int rc = a->error;
            if (a != out)
                memcpy(out[0].error_reason, a->error_reason, sizeof a->error_reason);
            *n_out = 0;
            return rc;
        }
    }
    return 0;
}
