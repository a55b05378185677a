/*
 * The Eligible and GetContract RPCs (the read path of issue 4).
 *
 * Per device: the candidate releases for its hardware model are read from the store (and
 * their outcome totals), the policy per product is the contract bound to (product, model)
 * or (product), compiled once per code hash and cached, else the built-in default;
 * elg_decide (eligibility.c) answers. All reads of one request are one LMDB read
 * transaction (ldg_store_snapshot_begin): the height and block hash in the answer.
 */
#include <openssl/sha.h>

#include "contracts/contracts.h"
#include "node/eligibility.h"
#include "node/server_internal.h"

#define ARENA_CHUNK (64u << 10)

/* A bump allocator for the copies a request needs (freed at once at the end). */
typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    uint8_t data[];
} arena_blk;

typedef struct {
    arena_blk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_blk *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static const char *arena_str(arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void arena_free(arena *a)
{
    for (arena_blk *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    a->head = NULL;
}

/* --- candidates per hardware model, cached until the next block --- */

#define MODEL_CACHE_MAX 4096

typedef struct {
    uint64_t height;         /* the tip they were read at                        */
    arena a;                 /* their strings                                    */
    elg_candidate *c;
    size_t n;
    int rc;                  /* a read error is cached too (until the next block) */
} model_cands;

static bool free_model(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    model_cands *m = *val;
    arena_free(&m->a);
    free(m->c);
    free(m);
    return true;
}

/* --- the compiled-contract cache (by code hash) --- */

typedef struct {
    ctr_program *prog;
} cached;

static bool free_cached(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    cached *c = *val;
    ctr_free(c->prog);
    free(c);
    return true;
}

void node__contracts_free(server *s)
{
    hmap_each(&s->programs, free_cached, NULL);
    hmap_free(&s->programs);
    hmap_each(&s->models, free_model, NULL);
    hmap_free(&s->models);
}

/* The ledger's compile hook: deploys are refused unless they compile here. */
int node__contract_check(void *ctx, const char *src, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    ctr_program *p = NULL;
    int rc = ctr_compile(src, len, &p, err, errlen);
    ctr_free(p);
    if (rc && err && errlen && !*err)
        snprintf(err, errlen, "%s", ctr_strerror(rc));
    return rc;
}

typedef struct {
    server *s;
    char last_policy[96]; /* of the last lookup: "default" or "contract NAME vN" */
} policy_ctx;

static int policy_of(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    policy_ctx *pc = ctx;
    server *s = pc->s;
    static fwl_BindingRecord b;
    static fwl_ContractRecord c;
    *prog = NULL;
    snprintf(pc->last_policy, sizeof pc->last_policy, "default");
    int rc = ldg_store_binding(s->store, product, model, &b);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc || (rc = ldg_store_contract(s->store, b.contract, &c)))
        return rc;
    snprintf(pc->last_policy, sizeof pc->last_policy, "contract %s v%u", c.name, c.version);
    uint8_t key[32] = {0};
    memcpy(key, c.code_hash.bytes, c.code_hash.size < 32 ? c.code_hash.size : 32);
    cached *e = hmap_get(&s->programs, key);
    if (!e) {
        char err[160];
        ctr_program *p = NULL;
        if ((rc = ctr_compile(c.source, strlen(c.source), &p, err, sizeof err)))
            return rc; /* cannot happen for a deployed contract: it compiled on the ledger */
        if (!(e = malloc(sizeof *e)) || hmap_put(&s->programs, key, e)) {
            free(e);
            ctr_free(p);
            return LDG_ENOMEM;
        }
        e->prog = p;
    }
    *prog = e->prog;
    return 0;
}

/* Copy one release record into the candidate view (strings into the arena). */
static int to_candidate(server *s, arena *a, const fwl_ReleaseRecord *rec, elg_candidate *c)
{
    const fwl_Release *r = &rec->release;
    memset(c, 0, sizeof *c);
    c->r.product = arena_str(a, r->product);
    c->r.version = arena_str(a, r->version);
    c->r.security_version = r->security_version;
    uint8_t *fh = arena_alloc(a, r->file_hash.digest.size + 1);
    ctr_hardware *hw = arena_alloc(a, (r->hardware_count + 1) * sizeof *hw);
    ctr_dependency *deps = arena_alloc(a, (r->dependencies_count + 1) * sizeof *deps);
    if (!c->r.product || !c->r.version || !fh || !hw || !deps)
        return LDG_ENOMEM;
    memcpy(fh, r->file_hash.digest.bytes, r->file_hash.digest.size);
    c->r.file_hash = fh;
    c->r.file_hash_len = r->file_hash.digest.size;
    c->hash_alg = r->file_hash.alg;
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        const fwl_HardwareSupport *h = &r->hardware[i];
        const char **addons = arena_alloc(a, (h->required_addons_count + 1) * sizeof *addons);
        if (!addons || !(hw[i].model = arena_str(a, h->model)))
            return LDG_ENOMEM;
        for (pb_size_t j = 0; j < h->required_addons_count; j++)
            if (!(addons[j] = arena_str(a, h->required_addons[j])))
                return LDG_ENOMEM;
        hw[i].rev_min = h->rev_min;
        hw[i].rev_max = h->rev_max;
        hw[i].required_addons = addons;
        hw[i].n_required_addons = h->required_addons_count;
    }
    c->r.hardware = hw;
    c->r.n_hardware = r->hardware_count;
    for (pb_size_t i = 0; i < r->dependencies_count; i++)
        if (!(deps[i].package = arena_str(a, r->dependencies[i].package)) ||
            !(deps[i].constraint = arena_str(a, r->dependencies[i].constraint)))
            return LDG_ENOMEM;
    c->r.deps = deps;
    c->r.n_deps = r->dependencies_count;
    c->r.revoked = rec->revoked;
    c->r.revoke_reason = rec->revoke_reason;
    c->r.published_at = r->published_at;
    c->r.height = rec->height;
    fwl_OutcomeTotals o;
    if (!ldg_store_outcomes(s->store, r->file_hash.alg, r->file_hash.digest.bytes,
                            r->file_hash.digest.size, &o))
        c->r.outcomes = (ctr_outcomes){o.succeeded, o.failed, o.rolled_back};
    return 0;
}

typedef struct {
    server *s;
    arena *a;
    elg_candidate *c;
    size_t n, cap;
    int err;
} collect;

static int collect_cb(void *ctx, const fwl_ReleaseRecord *rec)
{
    collect *k = ctx;
    if (k->n == k->cap)
        return LDG_ETOOBIG;
    return to_candidate(k->s, k->a, rec, &k->c[k->n++]);
}

/* Every release listed for model, up to ELG_MAX_CANDIDATES. */
static int read_candidates(server *s, arena *a, const char *model, elg_candidate *out, size_t *n)
{
    collect k = {s, a, out, 0, ELG_MAX_CANDIDATES, 0};
    uint8_t cursor[LDG_CURSOR_MAX], next[LDG_CURSOR_MAX];
    size_t cl = 0, nl = 0;
    uint64_t at;
    int rc;
    do {
        rc = ldg_store_list_releases(s->store, "", model, 256, cursor, cl, collect_cb, &k, next,
                                     &nl, &at);
        memcpy(cursor, next, nl);
        cl = nl;
    } while (!rc && cl);
    *n = k.n;
    return rc;
}

/* Product, then newest version first: the order elg_decide works in (so it need not sort). */
static int cand_order(const void *a, const void *b)
{
    const elg_candidate *x = a, *y = b;
    int c = strcmp(x->r.product, y->r.product);
    if (c)
        return c;
    ldg_semver vx, vy;
    if (ldg_semver_parse(x->r.version, &vx) || ldg_semver_parse(y->r.version, &vy))
        return strcmp(y->r.version, x->r.version);
    return ldg_semver_cmp(&vy, &vx);
}

/* The candidates of model at the current tip: from the cache, or read once per block. The
 * cache holds what the store says at one height, so answers are the same either way. */
static const model_cands *candidates(server *s, const char *model, uint64_t height)
{
    uint8_t key[32];
    SHA256((const unsigned char *)model, strlen(model), key);
    model_cands *m = hmap_get(&s->models, key);
    if (m && m->height == height)
        return m;
    if (!m) {
        if (s->models.live >= MODEL_CACHE_MAX) /* bounded: start over */
            hmap_each(&s->models, free_model, NULL);
        if (!(m = calloc(1, sizeof *m)) || hmap_put(&s->models, key, m)) {
            free(m);
            return NULL;
        }
    }
    arena_free(&m->a);
    free(m->c);
    m->n = 0;
    m->height = height;
    m->c = malloc(ELG_MAX_CANDIDATES * sizeof *m->c);
    m->rc = m->c ? read_candidates(s, &m->a, model, m->c, &m->n) : LDG_ENOMEM;
    if (!m->rc)
        qsort(m->c, m->n, sizeof *m->c, cand_order);
    return m;
}

static void set_ref(fwl_ReleaseRef *d, const elg_ref *r)
{
    snprintf(d->product, sizeof d->product, "%s", r->product);
    snprintf(d->version, sizeof d->version, "%s", r->version);
    d->has_file_hash = true;
    d->file_hash.alg = r->hash_alg;
    memcpy(d->file_hash.digest.bytes, r->file_hash, r->file_hash_len);
    d->file_hash.digest.size = (pb_size_t)r->file_hash_len;
}

static void to_answer(const elg_answer *a, const char *policy, fwl_ProductAnswer *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->product, sizeof p->product, "%s", a->product);
    snprintf(p->installed, sizeof p->installed, "%s", a->installed);
    p->status = a->status == ELG_URGENT ? fwl_DeviceStatus_URGENT
              : a->status == ELG_UPDATE_AVAILABLE ? fwl_DeviceStatus_UPDATE_AVAILABLE
              : fwl_DeviceStatus_UP_TO_DATE;
    if (a->has_best) {
        p->has_best = true;
        set_ref(&p->best, &a->best);
    }
    for (size_t i = 0; i < a->n_plan && i < sizeof p->plan / sizeof *p->plan; i++)
        set_ref(&p->plan[p->plan_count++], &a->plan[i]);
    p->unsatisfiable = a->unsatisfiable;
    snprintf(p->unsatisfiable_reason, sizeof p->unsatisfiable_reason, "%s", a->unsat_reason);
    for (size_t i = 0; i < a->n_rejected && i < sizeof p->rejected / sizeof *p->rejected; i++) {
        fwl_Rejection *r = &p->rejected[p->rejected_count++];
        r->has_release = true;
        set_ref(&r->release, &a->rejected[i].release);
        snprintf(r->rule, sizeof r->rule, "%s", a->rejected[i].rule);
        snprintf(r->reason, sizeof r->reason, "%s", a->rejected[i].reason);
    }
    p->rejected_total = (uint32_t)a->n_rejected_total;
    snprintf(p->policy, sizeof p->policy, "%s", policy);
}

/* One device: its answer into out (the policy string per product from the lookups). */
static void decide_device(server *s, const fwl_Device *dev, const ctr_context *cc,
                          fwl_DeviceAnswer *out)
{
    const char *addons[16], *tags[16];
    ctr_package pk[16];
    memset(out, 0, sizeof *out);
    snprintf(out->device_id, sizeof out->device_id, "%s", dev->id);
    for (pb_size_t i = 0; i < dev->addons_count; i++)
        addons[i] = dev->addons[i];
    for (pb_size_t i = 0; i < dev->tags_count; i++)
        tags[i] = dev->tags[i];
    for (pb_size_t i = 0; i < dev->packages_count; i++)
        pk[i] = (ctr_package){dev->packages[i].name, dev->packages[i].version};
    ctr_device d = {dev->id, dev->hardware_model, dev->hardware_rev, addons, dev->addons_count,
                    pk, dev->packages_count, dev->region, tags, dev->tags_count};
    elg_answer *ans = malloc(ELG_MAX_PRODUCTS * sizeof *ans);
    const model_cands *m = candidates(s, dev->hardware_model, cc->height);
    size_t n_ans = 0;
    int rc = ans && m ? m->rc : LDG_ENOMEM;
    policy_ctx pc = {s};
    if (!rc)
        rc = elg_decide(&d, m->c, m->n, policy_of, &pc, cc, ans, ELG_MAX_PRODUCTS, &n_ans);
    if (rc) {
        out->has_error = true;
        out->error.code = rc;
        if (rc <= CTR_ESYNTAX && rc >= CTR_ESYNTAX - 99) /* a contracts/ code */
            snprintf(out->error.message, sizeof out->error.message, "invalid device: %s",
                     ans && ans[0].error_reason[0] ? ans[0].error_reason : ctr_strerror(rc));
        else
            snprintf(out->error.message, sizeof out->error.message, "%s", node_strerror(rc));
    }
    for (size_t i = 0; !rc && i < n_ans; i++) {
        /* the policy of this product (looked up again: cheap, and exact) */
        const ctr_program *prog;
        policy_of(&pc, ans[i].product, dev->hardware_model, &prog);
        to_answer(&ans[i], pc.last_policy, &out->products[out->products_count++]);
    }
    free(ans);
}

typedef struct {
    fwl_DeviceAnswer *a;
    size_t n;
} answers_arg;

static bool enc_answers(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const answers_arg *x = *arg;
    for (size_t i = 0; i < x->n; i++)
        if (!pb_encode_tag_for_field(st, f) ||
            !pb_encode_submessage(st, fwl_DeviceAnswer_fields, &x->a[i]))
            return false;
    return true;
}

void node__handle_eligible(client *c, uint64_t id, const fwl_EligibleReq *r)
{
    server *s = c->s;
    ldg_tip t;
    if (r->devices_count == 0) {
        node__send_error(c, id, LDG_EINVALID, "eligible: no device");
        return;
    }
    fwl_DeviceAnswer *a = calloc(r->devices_count, sizeof *a);
    int rc = a ? ldg_store_snapshot_begin(s->store) : LDG_ENOMEM;
    if (rc) {
        free(a);
        node__send_error(c, id, rc, "eligible: %s", ldg_strerror(rc));
        return;
    }
    ldg_store_tip(s->store, &t); /* the committed tip: no commit runs during this turn */
    ctr_context cc = {t.time_ms, t.height, 0};
    for (pb_size_t i = 0; i < r->devices_count; i++)
        decide_device(s, &r->devices[i], &cc, &a[i]);
    ldg_store_snapshot_end(s->store);
    fwl_Response *resp = node__new_resp(s, id, fwl_Response_eligible_tag);
    answers_arg x = {a, r->devices_count};
    resp->resp.eligible.answers.funcs.encode = enc_answers;
    resp->resp.eligible.answers.arg = &x;
    resp->resp.eligible.at_height = t.height;
    memcpy(resp->resp.eligible.block_hash.bytes, t.hash, LDG_DIGEST_LEN);
    resp->resp.eligible.block_hash.size = LDG_DIGEST_LEN;
    node__send_resp(c, resp);
    free(a);
}

void node__handle_get_contract(client *c, uint64_t id, const fwl_GetContractReq *r)
{
    server *s = c->s;
    fwl_Response *resp = node__new_resp(s, id, fwl_Response_get_contract_tag);
    int rc = r->version ? ldg_store_contract_version(s->store, r->name, r->version,
                                                     &resp->resp.get_contract.contract)
                        : ldg_store_contract(s->store, r->name, &resp->resp.get_contract.contract);
    if (rc) {
        node__send_error(c, id, rc, "contract %s: %s", r->name, ldg_strerror(rc));
        return;
    }
    resp->resp.get_contract.has_contract = true;
    node__send_resp(c, resp);
}
