/*
 * Eligibility decisions: per product, the best eligible release, the rejected candidates
 * with their rule, the device's status and an update plan across dependencies.
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

#include "node/eligibility.h"

#define PKG_MAX (CTR_LIST_MAX + ELG_MAX_PLAN)

#define MEMO_MAX 16

typedef struct {
    const ctr_device *d;
    const elg_candidate *c;
    size_t n;
    elg_policy_fn policy;
    void *ctx;
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

static int vcmp(const char *a, const char *b)
{
    ldg_semver x, y;
    if (ldg_semver_parse(a, &x) || ldg_semver_parse(b, &y))
        return strcmp(a, b);
    return ldg_semver_cmp(&x, &y);
}

static const char *installed(const ctr_device *d, const char *pkg)
{
    for (size_t i = 0; i < d->n_packages; i++)
        if (!strcmp(d->packages[i].name, pkg))
            return d->packages[i].version;
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

static bool vdevice_install(vdevice *v, const char *pkg, const char *version)
{
    for (size_t i = 0; i < v->d.n_packages; i++)
        if (!strcmp(v->pk[i].name, pkg)) {
            v->pk[i].version = version;
            return true;
        }
    if (v->d.n_packages == PKG_MAX)
        return false;
    v->pk[v->d.n_packages++] = (ctr_package){pkg, version};
    return true;
}

static void ref_of(const elg_candidate *c, elg_ref *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->product, sizeof r->product, "%s", c->r.product);
    snprintf(r->version, sizeof r->version, "%s", c->r.version);
    r->hash_alg = c->hash_alg;
    r->file_hash_len = c->r.file_hash_len <= LDG_HASH_MAX ? c->r.file_hash_len : LDG_HASH_MAX;
    memcpy(r->file_hash, c->r.file_hash, r->file_hash_len);
}

/* The policy's verdict on one candidate for device d. A contract over its cost limit, a
 * run-time error in it or a bad input field is a rejection with that reason (the verdict is
 * always filled), not an error of the whole answer. */
static int judge(const env *e, const ctr_device *d, const elg_candidate *c, ctr_verdict *v)
{
    const ctr_program *prog = NULL;
    int rc = e->policy(e->ctx, c->r.product, d->model, &prog);
    if (rc)
        return rc;
    memset(v, 0, sizeof *v);
    rc = prog ? ctr_eval(prog, d, &c->r, e->cc, v) : ctr_eval_default(d, &c->r, e->cc, v);
    if (rc == CTR_ENOMEM || ((rc == CTR_EINVAL || rc == CTR_ETOOBIG) && !strcmp(v->rule, "input")))
        return rc; /* a bad device description (or no memory): not a verdict on the release */
    return 0;
}

typedef struct {
    elg_ref steps[ELG_MAX_PLAN];
    size_t n;
    const char *path[ELG_MAX_PLAN + 1]; /* packages being planned, for cycles */
    size_t depth;
    char why[CTR_REASON_MAX];
} plan;

static bool plan_release(env *e, vdevice *v, const elg_candidate *target, plan *p);
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
    const elg_candidate *best = NULL;
    for (size_t i = 0; i < e->n; i++) {
        const elg_candidate *c = &e->c[i];
        ldg_semver sv;
        if (strcmp(c->r.product, pkg) || c->r.revoked || ldg_semver_parse(c->r.version, &sv) ||
            ldg_constraint_match(constraint, &sv) != 1)
            continue;
        if (!best || vcmp(c->r.version, best->r.version) > 0) {
            /* it must itself be installable here (its own dependencies are planned below) */
            ctr_verdict verdict;
            if (judge(e, &v->d, c, &verdict) == 0 &&
                (verdict.eligible || !strcmp(verdict.rule, "dependencies")))
                best = c;
        }
    }
    if (!best) {
        const char *have = installed(&v->d, pkg);
        snprintf(p->why, sizeof p->why, "needs %s %s (installed: %s) and no eligible release of %s satisfies it",
                 pkg, constraint, have ? have : "none", pkg);
        return false;
    }
    return plan_release(e, v, best, p);
}

/* Plan target's missing dependencies, then target itself, on v. */
static bool plan_release(env *e, vdevice *v, const elg_candidate *target, plan *p)
{
    if (p->depth == ELG_MAX_PLAN) {
        snprintf(p->why, sizeof p->why, "update plan deeper than %d steps", ELG_MAX_PLAN);
        return false;
    }
    p->path[p->depth++] = target->r.product;
    for (size_t i = 0; i < target->r.n_deps; i++) {
        const ctr_dependency *dep = &target->r.deps[i];
        const char *have = installed(&v->d, dep->package);
        ldg_semver sv;
        if (have && !ldg_semver_parse(have, &sv) && ldg_constraint_match(dep->constraint, &sv) == 1)
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
    if (p->n == ELG_MAX_PLAN || !vdevice_install(v, target->r.product, target->r.version)) {
        snprintf(p->why, sizeof p->why, "update plan longer than %d steps", ELG_MAX_PLAN);
        return false;
    }
    ref_of(target, &p->steps[p->n++]);
    return true;
}

static void reject(elg_answer *a, const elg_candidate *c, const char *rule, const char *reason)
{
    a->n_rejected_total++;
    if (a->n_rejected == ELG_MAX_REJECTED)
        return;
    elg_rejection *r = &a->rejected[a->n_rejected++];
    ref_of(c, &r->release);
    snprintf(r->rule, sizeof r->rule, "%s", rule);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
}

/* A candidate with its version parsed once (sorting compares each many times). */
typedef struct {
    const elg_candidate *c;
    ldg_semver v;
    bool ok;
} sortable;

/* One product: its candidates sorted newest first. */
static void decide_product(env *e, const sortable *cs, size_t n, elg_answer *a)
{
    const ctr_device *d = e->d;
    const char *have = installed(d, cs[0].c->r.product);
    ldg_semver hv;
    bool hv_ok = have && !ldg_semver_parse(have, &hv);
    snprintf(a->product, sizeof a->product, "%s", cs[0].c->r.product);
    snprintf(a->installed, sizeof a->installed, "%s", have ? have : "");
    bool running_revoked = false;
    for (size_t i = 0; i < n; i++) {
        const elg_candidate *c = cs[i].c;
        if (have && c->r.revoked &&
            (hv_ok && cs[i].ok ? !ldg_semver_cmp(&cs[i].v, &hv) : !strcmp(c->r.version, have)))
            running_revoked = true;
        if (a->has_best) {
            reject(a, c, "older", "a newer eligible release exists");
            continue;
        }
        ctr_verdict v;
        int rc = judge(e, d, c, &v);
        if (rc) {
            a->error = rc;
            snprintf(a->error_reason, sizeof a->error_reason, "%s", v.reason);
            reject(a, c, "policy", ctr_strerror(rc));
            continue;
        }
        if (v.eligible) {
            a->has_best = true;
            ref_of(c, &a->best);
            continue;
        }
        if (!strcmp(v.rule, "dependencies")) {
            vdevice vd;
            plan p;
            memset(&p, 0, sizeof p);
            vdevice_init(&vd, d);
            if (plan_release(e, &vd, c, &p)) {
                a->has_best = true;
                ref_of(c, &a->best);
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
    if (a->has_best)
        a->unsatisfiable = false; /* an older release went in without the plan */
    a->status = running_revoked ? ELG_URGENT : a->has_best ? ELG_UPDATE_AVAILABLE : ELG_UP_TO_DATE;
}

static int by_product(const void *a, const void *b)
{
    const sortable *x = a, *y = b;
    int c = strcmp(x->c->r.product, y->c->r.product);
    if (c)
        return c;
    if (x->ok && y->ok)
        return ldg_semver_cmp(&y->v, &x->v); /* newest first */
    return strcmp(y->c->r.version, x->c->r.version);
}

int elg_decide(const ctr_device *d, const elg_candidate *c, size_t n, elg_policy_fn policy,
               void *ctx, const ctr_context *cc, elg_answer *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (!d || !policy || (n && !c))
        return CTR_EINVAL;
    if (n > ELG_MAX_CANDIDATES)
        return LDG_ETOOBIG;
    sortable *sorted = malloc((n + 1) * sizeof *sorted);
    if (!sorted)
        return CTR_ENOMEM;
    bool in_order = true;
    for (size_t i = 0; i < n; i++) {
        sorted[i].c = &c[i];
        sorted[i].ok = !ldg_semver_parse(c[i].r.version, &sorted[i].v);
        in_order = in_order && (i == 0 || by_product(&sorted[i - 1], &sorted[i]) <= 0);
    }
    if (!in_order) /* the node's per-model cache is kept sorted: no sort then */
        qsort(sorted, n, sizeof *sorted, by_product);
    env e = {d, c, n, policy, ctx, cc};
    for (size_t i = 0; i < n && *n_out < cap;) {
        size_t j = i;
        while (j < n && !strcmp(sorted[j].c->r.product, sorted[i].c->r.product))
            j++;
        elg_answer *a = &out[(*n_out)++];
        memset(a, 0, sizeof *a);
        decide_product(&e, sorted + i, j - i, a);
        if (a->error == CTR_EINVAL || a->error == CTR_ETOOBIG || a->error == CTR_ENOMEM) {
            int rc = a->error;
            if (a != out)
                memcpy(out[0].error_reason, a->error_reason, sizeof a->error_reason);
            free(sorted);
            *n_out = 0;
            return rc;
        }
        i = j;
    }
    free(sorted);
    return 0;
}
