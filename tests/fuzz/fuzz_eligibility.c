/*
 * fuzz_eligibility: eligibility decisions (contracts/decide.c) and their wire form
 * (node/daemon/elg_wire.c) on arbitrary candidate sets and devices. Devices come from any RPC
 * client and candidates from the ledger, so both sides are taken from the input: products
 * and versions from small vocabularies with bad and edge values mixed in, revocations,
 * hardware ranges and add-ons, dependencies (cycles, bad constraints), installed packages
 * (duplicates, bad versions), and the policy: the default or one of a few contracts.
 *
 * Checks: ctr_prepare and ctr_decide return 0 or a documented error; deciding twice gives
 * the same answers; per product, answers are sorted and unique, best (if any) is a
 * candidate of that product and not revoked, a plan ends with best and holds at most
 * CTR_PLAN_MAX steps, rejected is at most CTR_REJECTED_MAX of rejected_total, and
 * rejected_total + superseded + (best ? 1 : 0) is the product's candidate count; the status
 * is urgent exactly when the installed version is a revoked candidate. The encoded answer
 * has exactly the size elg_wire_size announced, nanopb decodes it, and the decoded fields
 * (device ids, products, status, best, plan, rejections, totals, policy) are the answers.
 * Seeds: a few inputs written at startup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "node/daemon/elg_wire.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CANDS 48
#define MAX_DEVICES 4

static const char *const products[] = {"fw", "libfoo", "libbar", "a", "b", "fw-long-name"};
static const char *const versions[] = {"1.0.0",  "1.1.0",      "2.0.0",   "2.0.0-rc.1", "2.1.0",
                                       "10.0.0", "1.0.0+b1",   "0.0.1",   "3.0.0",      "not-semver",
                                       "",       "1.0.0-alpha", "99.99.99", "2.0"};
static const char *const constraints[] = {">=2.0.0,<3", "^1", "*", ">=10", ">>2", "", "<2.0.0",
                                          "~1.1", "=2.1.0"};
static const char *const models[] = {"m1", "m2"};
static const char *const addons[] = {"lora", "co2", "canary"};

static const char *const contract_src[] = {
    "rule base: defaults()\n",
    "rule base: defaults()\nrule half: bucket(device.id, release) < 5000 because \"not yet\"\n",
    "rule down: supports(release, device) and deps_ok(release, device)\n", /* allows downgrades */
    ("rule heavy: all(a in device.tags: all(b in device.tags: all(c in device.tags: a != b or "
     "c != a)))\n"),
    "rule healthy: failure_rate(release) <= 50\n",
};
static ctr_program *programs[sizeof contract_src / sizeof *contract_src];

/* --- reading the input ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
} rd;

static unsigned byte(rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static const char *pick(rd *r, const char *const *v, size_t n) { return v[byte(r) % n]; }
#define PICK(r, arr) pick(r, arr, sizeof arr / sizeof *arr)

/* --- the world the input describes ------------------------------------------------------ */

typedef struct {
    ctr_candidate c[MAX_CANDS];
    size_t n;
    ctr_hardware hw[MAX_CANDS][2];
    const char *req_addons[MAX_CANDS][2];
    ctr_dependency deps[MAX_CANDS][3];
    uint8_t hash[MAX_CANDS][32];
    /* devices */
    ctr_device d[MAX_DEVICES];
    size_t n_dev;
    ctr_package pk[MAX_DEVICES][CTR_LIST_MAX + 2];
    const char *dev_addons[MAX_DEVICES][3];
    const char *tags[MAX_DEVICES][CTR_LIST_MAX];
    char ids[MAX_DEVICES][16];
    int policy; /* -1: the default, else a contract */
} world;

static world W;

static void build(rd *r)
{
    memset(&W, 0, sizeof W);
    W.n = byte(r) % (MAX_CANDS + 1);
    for (size_t i = 0; i < W.n; i++) {
        ctr_candidate *c = &W.c[i];
        unsigned f = byte(r);
        c->r.product = PICK(r, products);
        c->r.version = PICK(r, versions);
        c->r.security_version = byte(r) % 8;
        memset(W.hash[i], (int)i + 1, 32);
        W.hash[i][0] = (uint8_t)byte(r);
        c->r.file_hash = W.hash[i];
        c->r.file_hash_len = f & 64 ? 32 : 20;
        c->hash_alg = f & 64 ? LDG_HASH_SHA256 : 7;
        c->r.revoked = (f & 7) == 0;
        c->r.revoke_reason = c->r.revoked ? 1 : 0;
        size_t nh = 1 + (f >> 3 & 1);
        for (size_t h = 0; h < nh; h++) {
            unsigned g = byte(r);
            W.req_addons[i][0] = PICK(r, addons);
            W.req_addons[i][1] = PICK(r, addons);
            W.hw[i][h] = (ctr_hardware){models[g & 1], g >> 1 & 3, (g >> 3 & 3) ? (g >> 3 & 3) + 2 : 0,
                                        W.req_addons[i], g >> 5 & 1 ? 1 + (g >> 6 & 1) : 0};
        }
        c->r.hardware = W.hw[i];
        c->r.n_hardware = nh;
        size_t nd = byte(r) % 4;
        for (size_t k = 0; k < nd; k++)
            W.deps[i][k] = (ctr_dependency){PICK(r, products), PICK(r, constraints)};
        c->r.deps = W.deps[i];
        c->r.n_deps = nd;
        c->r.outcomes = (ctr_outcomes){byte(r), byte(r) % 16, 0};
        c->r.height = i + 1;
    }
    int pol = (int)(byte(r) % (sizeof programs / sizeof *programs + 2)) - 2;
    W.policy = pol < 0 ? -1 : pol;
    W.n_dev = 1 + byte(r) % MAX_DEVICES;
    for (size_t k = 0; k < W.n_dev; k++) {
        unsigned f = byte(r);
        size_t np = byte(r) % (f & 128 ? CTR_LIST_MAX + 2 : 4); /* past the limit sometimes */
        for (size_t j = 0; j < np; j++)
            W.pk[k][j] = (ctr_package){PICK(r, products), PICK(r, versions), byte(r) % 4 ? 0 : 3};
        size_t na = byte(r) % 4;
        for (size_t j = 0; j < na; j++)
            W.dev_addons[k][j] = PICK(r, addons);
        size_t nt = f & 64 ? CTR_LIST_MAX : byte(r) % 3;
        for (size_t j = 0; j < nt; j++)
            W.tags[k][j] = PICK(r, addons);
        snprintf(W.ids[k], sizeof W.ids[k], "dev-%u", byte(r));
        W.d[k] = (ctr_device){W.ids[k], models[f & 1], f >> 1 & 7, W.dev_addons[k], na,
                              W.pk[k], np, "eu", W.tags[k], nt};
    }
}

static int policy_cb(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    (void)ctx, (void)model;
    *prog = W.policy < 0 || !strcmp(product, "b") ? NULL : programs[W.policy];
    return 0;
}

static int outcomes_cb(void *ctx, const ctr_candidate *c, ctr_outcomes *out)
{
    (void)ctx;
    *out = c->r.outcomes;
    return 0;
}

/* --- checks ------------------------------------------------------------------------------ */

static size_t group_size(const char *product)
{
    size_t n = 0;
    for (size_t i = 0; i < W.n; i++)
        n += !strcmp(W.c[i].r.product, product);
    return n;
}

static bool is_candidate(const ctr_candidate *c, const char *product)
{
    return c >= W.c && c < W.c + W.n && !strcmp(c->r.product, product);
}

static bool runs_revoked(const ctr_device *d, const char *product)
{
    const char *have = NULL;
    for (size_t i = 0; i < d->n_packages; i++)
        if (!strcmp(d->packages[i].name, product)) {
            have = d->packages[i].version;
            break;
        }
    ldg_semver hv, cv;
    bool hv_ok = have && !ldg_semver_parse(have, &hv);
    for (size_t i = 0; have && i < W.n; i++) {
        const ctr_candidate *c = &W.c[i];
        if (!c->r.revoked || strcmp(c->r.product, product))
            continue;
        bool cv_ok = !ldg_semver_parse(c->r.version, &cv);
        if (hv_ok && cv_ok ? !ldg_semver_cmp(&hv, &cv) : !hv_ok && !strcmp(c->r.version, have))
            return true;
    }
    return false;
}

static void check_answer(const ctr_device *d, const ctr_answer *a)
{
    FZ_CHECK(a->product && group_size(a->product) > 0, "product %s", a->product);
    FZ_CHECK(a->n_rejected <= CTR_REJECTED_MAX && a->n_rejected <= a->n_rejected_total,
             "%zu of %zu rejections", a->n_rejected, a->n_rejected_total);
    FZ_CHECK(a->n_rejected_total + a->n_superseded + (a->best ? 1 : 0) == group_size(a->product),
             "%s: %zu rejected + %zu superseded + best %d != %zu candidates", a->product,
             a->n_rejected_total, a->n_superseded, a->best != NULL, group_size(a->product));
    if (a->best) {
        FZ_CHECK(is_candidate(a->best, a->product) && !a->best->r.revoked, "best of %s", a->product);
        FZ_CHECK(!a->unsatisfiable, "unsatisfiable with a best");
    }
    FZ_CHECK(a->n_plan <= CTR_PLAN_MAX, "plan of %zu", a->n_plan);
    FZ_CHECK(!a->n_plan || (a->best && a->plan[a->n_plan - 1] == a->best), "plan does not end with best");
    for (size_t i = 0; i < a->n_plan; i++)
        FZ_CHECK(a->plan[i] >= W.c && a->plan[i] < W.c + W.n && !a->plan[i]->r.revoked, "plan step");
    for (size_t i = 0; i < a->n_rejected; i++)
        FZ_CHECK(is_candidate(a->rejected[i].release, a->product) && a->rejected[i].rule[0],
                 "rejection %zu", i);
    FZ_CHECK((a->status == CTR_URGENT) == runs_revoked(d, a->product), "%s: status %d",
             a->product, a->status);
    FZ_CHECK(a->status == CTR_URGENT || a->status == (a->best ? CTR_UPDATE_AVAILABLE : CTR_UP_TO_DATE),
             "status %d", a->status);
}

/* --- the decoded answer ------------------------------------------------------------------ */

static fwl_DeviceAnswer decoded[MAX_DEVICES];
static size_t n_decoded;

static bool dec_answer(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f, (void)arg;
    if (n_decoded == MAX_DEVICES)
        return false;
    return pb_decode(st, fwl_DeviceAnswer_fields, &decoded[n_decoded++]);
}

static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st, (void)arg;
    if (f->tag == fwl_Response_eligible_tag)
        ((fwl_EligibleResp *)f->pData)->answers.funcs.decode = dec_answer;
    return true;
}

static void same_ref(const fwl_ReleaseRef *r, const ctr_candidate *c)
{
    FZ_CHECK(!strncmp(r->product, c->r.product, sizeof r->product - 1) &&
                 !strncmp(r->version, c->r.version, sizeof r->version - 1) && r->has_file_hash &&
                 r->file_hash.alg == c->hash_alg && r->file_hash.digest.size == c->r.file_hash_len &&
                 !memcmp(r->file_hash.digest.bytes, c->r.file_hash, c->r.file_hash_len),
             "release ref %s %s", r->product, r->version);
}

static void check_wire(elg_device_answer *o, size_t n)
{
    static uint8_t buf[1u << 20];
    static fwl_Response resp;
    ldg_tip t = {.height = 42, .time_ms = 7};
    memset(t.hash, 0x5a, sizeof t.hash);
    size_t size = elg_wire_size(9, o, n, &t, 0);
    FZ_CHECK(size <= sizeof buf, "answer of %zu bytes", size);
    FZ_CHECK(elg_wire_write(buf, size, 9, o, n, &t, NULL, 0) == size, "written != sized (%zu)", size);
    memset(&resp, 0, sizeof resp);
    n_decoded = 0;
    resp.cb_resp.funcs.decode = on_member;
    pb_istream_t st = pb_istream_from_buffer(buf, size);
    FZ_CHECK(pb_decode(&st, fwl_Response_fields, &resp), "nanopb: %s", PB_GET_ERROR(&st));
    FZ_CHECK(resp.id == 9 && resp.which_resp == fwl_Response_eligible_tag &&
                 resp.resp.eligible.at_height == 42 && resp.resp.eligible.block_hash.size == 32,
             "response header");
    FZ_CHECK(n_decoded == n, "%zu answers decoded of %zu", n_decoded, n);
    for (size_t k = 0; k < n; k++) {
        const fwl_DeviceAnswer *d = &decoded[k];
        FZ_CHECK(!strcmp(d->device_id, o[k].id), "device id");
        FZ_CHECK(d->has_error == (o[k].error != 0), "device error");
        if (o[k].error) {
            FZ_CHECK(d->error.code == o[k].error && !strcmp(d->error.message, o[k].message),
                     "error %d", d->error.code);
            continue;
        }
        FZ_CHECK(d->products_count == o[k].n, "products");
        for (size_t i = 0; i < o[k].n; i++) {
            const fwl_ProductAnswer *p = &d->products[i];
            const ctr_answer *a = &o[k].ans[i];
            FZ_CHECK(!strcmp(p->product, a->product) && !strcmp(p->installed, a->installed) &&
                         (int)p->status == a->status && p->has_best == (a->best != NULL) &&
                         p->plan_count == a->n_plan && p->unsatisfiable == a->unsatisfiable &&
                         !strcmp(p->unsatisfiable_reason, a->unsat_reason) &&
                         p->rejected_count == a->n_rejected &&
                         p->rejected_total == a->n_rejected_total &&
                         p->superseded == a->n_superseded && !strcmp(p->policy, o[k].policy[i]),
                     "product %s", a->product);
            if (a->best)
                same_ref(&p->best, a->best);
            for (size_t j = 0; j < a->n_plan; j++)
                same_ref(&p->plan[j], a->plan[j]);
            for (size_t j = 0; j < a->n_rejected; j++) {
                same_ref(&p->rejected[j].release, a->rejected[j].release);
                FZ_CHECK(!strcmp(p->rejected[j].rule, a->rejected[j].rule) &&
                             !strcmp(p->rejected[j].reason, a->rejected[j].reason),
                         "rejection %zu", j);
            }
        }
    }
}

/* --- the target -------------------------------------------------------------------------- */

static elg_device_answer out[MAX_DEVICES], again[MAX_DEVICES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size};
    build(&r);
    int rc = ctr_prepare(W.c, W.n);
    FZ_CHECK(rc == 0, "prepare: %d", rc);
    for (size_t i = 1; i < W.n; i++)
        FZ_CHECK(strcmp(W.c[i - 1].r.product, W.c[i].r.product) <= 0, "not sorted");
    ctr_source src = {policy_cb, outcomes_cb, NULL};
    ctr_context cc = {1700000000000ull, 99, 20000};
    for (size_t k = 0; k < W.n_dev; k++) {
        elg_device_answer *o = &out[k];
        o->id = W.ids[k];
        o->error = 0;
        o->ans[0].error_reason[0] = '\0';
        rc = ctr_decide(&W.d[k], W.c, W.n, &src, &cc, o->ans, CTR_PRODUCTS_MAX, &o->n);
        FZ_CHECK(rc == 0 || rc == CTR_EINVAL || rc == CTR_ETOOBIG, "decide: %d", rc);
        if (rc) {
            FZ_CHECK(o->n == 0 && o->ans[0].error_reason[0], "an error without a reason");
            o->error = rc;
            snprintf(o->message, sizeof o->message, "invalid device: %s", o->ans[0].error_reason);
            continue;
        }
        size_t n2 = 0;
        FZ_CHECK(ctr_decide(&W.d[k], W.c, W.n, &src, &cc, again[k].ans, CTR_PRODUCTS_MAX, &n2) == 0 &&
                     n2 == o->n, "not deterministic");
        for (size_t i = 0; i < o->n; i++) {
            const ctr_answer *a = &o->ans[i], *b = &again[k].ans[i];
            FZ_CHECK(a->best == b->best && a->n_rejected_total == b->n_rejected_total &&
                         a->n_superseded == b->n_superseded && a->status == b->status &&
                         a->n_plan == b->n_plan && !strcmp(a->unsat_reason, b->unsat_reason),
                     "not deterministic: %s", a->product);
            for (size_t j = 0; j < a->n_rejected; j++)
                FZ_CHECK(!strcmp(a->rejected[j].reason, b->rejected[j].reason), "reasons differ");
            if (i)
                FZ_CHECK(strcmp(o->ans[i - 1].product, a->product) < 0, "answers not sorted");
            check_answer(&W.d[k], a);
            o->policy[i] = W.policy < 0 || !strcmp(a->product, "b") ? "default" : "contract fz v1";
        }
    }
    check_wire(out, W.n_dev);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[160];
    for (size_t i = 0; i < sizeof programs / sizeof *programs; i++)
        if (ctr_compile(contract_src[i], strlen(contract_src[i]), &programs[i], err, sizeof err)) {
            fprintf(stderr, "fuzz_eligibility: seed contract %zu: %s\n", i, err);
            abort();
        }
    const char *dir = fz_corpus_dir(*argc, *argv);
    if (dir) {
        uint8_t seed[256];
        for (int s = 0; s < 4; s++) {
            for (size_t i = 0; i < sizeof seed; i++)
                seed[i] = (uint8_t)(i * 37u + (unsigned)s * 101u + (i >> 3));
            seed[0] = (uint8_t)(8 + s * 9);
            char name[32];
            snprintf(name, sizeof name, "eligibility%d", s);
            fz_write_seed(dir, name, seed, sizeof seed);
        }
    }
    return 0;
}
