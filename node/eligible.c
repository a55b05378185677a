/*
 * The Eligible and GetContract RPCs (the read path of issue 4).
 *
 * Per device: the candidate releases for its hardware model, read from the store and kept
 * prepared (elg_prepare) per model until the store says they may have changed; the policy
 * per product is the contract bound to (product, model) or (product), compiled once per
 * code hash, else the built-in default, looked up once per product and model; outcome
 * totals are read when a contract evaluates a candidate. elg_decide (eligibility.c)
 * decides; the answers are written to the wire directly (below). All reads of one request
 * are one LMDB read transaction (ldg_store_snapshot_begin): the height and block hash in
 * the answer.
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

/* Bounds of the cache: models, and candidates over all models (the config's
 * eligibility_cache; about 450 bytes each with their strings). A request starts with an
 * empty cache when it could pass the first or the second is passed. */
#define MODEL_CACHE_MAX 4096

/* The policy of one product on the model, looked up once per block. */
typedef struct {
    const char *product;     /* the candidates' shared name (elg_prepare)         */
    const ctr_program *prog; /* NULL: the default                                 */
    int rc;
    char label[96];          /* "default" or "contract NAME vN"                   */
} model_policy;

/* What a model's cached view was built from (ldg_store_model_height and
 * ldg_store_change_heights): while the store says the same, the view is exact. */
typedef struct {
    uint64_t published, revoked, policy;
} stamps;

typedef struct {
    stamps at;
    arena a;                 /* their strings                                    */
    elg_candidate *c;        /* prepared (elg_prepare)                           */
    size_t n;
    int rc;                  /* a read error is cached too (until the next change) */
    char model[65];
    model_policy *pol;       /* one per product, filled on first use             */
    size_t n_pol, cap_pol;
} model_cands;

static bool free_model(void *ctx, const uint8_t key[32], void **val)
{
    (void)key;
    server *s = ctx;
    model_cands *m = *val;
    s->models_cands -= m->n;
    arena_free(&m->a);
    free(m->c);
    free(m->pol);
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
    hmap_each(&s->models, free_model, s);
    hmap_free(&s->models);
    free(s->elg_scratch);
    s->elg_scratch = NULL;
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

/* The policy of product on model (from the store): the bound contract, compiled once per
 * code hash, or NULL for the default; label names it for the answer. */
static int lookup_policy(server *s, const char *product, const char *model,
                         const ctr_program **prog, char *label, size_t label_len)
{
    static fwl_BindingRecord b;
    static fwl_ContractRecord c;
    *prog = NULL;
    snprintf(label, label_len, "default");
    int rc = ldg_store_binding(s->store, product, model, &b);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc || (rc = ldg_store_contract(s->store, b.contract, &c)))
        return rc;
    snprintf(label, label_len, "contract %s v%u", c.name, c.version);
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

/* The policy of one of m's products, looked up once per block. NULL: not one of them. */
static const model_policy *policy_for(server *s, model_cands *m, const char *product)
{
    for (size_t i = 0; i < m->n_pol; i++)
        if (m->pol[i].product == product || !strcmp(m->pol[i].product, product))
            return &m->pol[i];
    if (m->n_pol == m->cap_pol)
        return NULL; /* room for every product of the candidates was made when they were read */
    model_policy *p = &m->pol[m->n_pol++];
    p->product = product;
    p->rc = lookup_policy(s, product, m->model, &p->prog, p->label, sizeof p->label);
    return p;
}

typedef struct {
    server *s;
    model_cands *m;
} policy_ctx;

static int policy_cb(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    (void)model; /* the one of the cache */
    policy_ctx *pc = ctx;
    const model_policy *p = policy_for(pc->s, pc->m, product);
    *prog = p ? p->prog : NULL;
    return p ? p->rc : LDG_ENOMEM;
}

static int outcomes_cb(void *ctx, const elg_candidate *c, ctr_outcomes *out)
{
    policy_ctx *pc = ctx;
    fwl_OutcomeTotals o;
    int rc = ldg_store_outcomes(pc->s->store, c->hash_alg, c->r.file_hash, c->r.file_hash_len, &o);
    *out = rc ? (ctr_outcomes){0, 0, 0} : (ctr_outcomes){o.succeeded, o.failed, o.rolled_back};
    return rc;
}

/* Copy one release record into the candidate view (strings into the arena). */
static int to_candidate(arena *a, const fwl_ReleaseRecord *rec, elg_candidate *c)
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
    return 0; /* outcome totals change with every report: read when a contract needs them */
}

typedef struct {
    arena *a;
    elg_candidate *c;
    size_t n, cap;
} collect;

static int collect_cb(void *ctx, const fwl_ReleaseRecord *rec)
{
    collect *k = ctx;
    if (k->n == k->cap)
        return LDG_ETOOBIG;
    return to_candidate(k->a, rec, &k->c[k->n++]);
}

/* Every release listed for model, up to ELG_MAX_CANDIDATES. */
static int read_candidates(server *s, arena *a, const char *model, elg_candidate *out, size_t *n)
{
    collect k = {a, out, 0, ELG_MAX_CANDIDATES};
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

/* The candidates of model in the current snapshot, prepared, with room for their products'
 * policies: from the cache, or read again when the store says they may have changed (a
 * release listed for the model, a revocation, a contract or binding since they were read:
 * at = the change heights of the snapshot, published filled here). Answers are the same
 * either way. The caller has made room in the cache (entries are not evicted here: answers
 * being built point into them). */
static model_cands *candidates(server *s, const char *model, stamps at)
{
    uint8_t key[32];
    int rc = ldg_store_model_height(s->store, model, &at.published);
    SHA256((const unsigned char *)model, strlen(model), key);
    model_cands *m = hmap_get(&s->models, key);
    if (m && !rc && !memcmp(&m->at, &at, sizeof at))
        return m;
    if (!m) {
        if (!(m = calloc(1, sizeof *m)) || hmap_put(&s->models, key, m)) {
            free(m);
            return NULL;
        }
    }
    arena_free(&m->a);
    free(m->c);
    free(m->pol);
    m->c = NULL, m->pol = NULL;
    s->models_cands -= m->n;
    m->n = m->n_pol = m->cap_pol = 0;
    m->at = at;
    snprintf(m->model, sizeof m->model, "%s", model);
    m->c = rc ? NULL : malloc(ELG_MAX_CANDIDATES * sizeof *m->c);
    m->rc = rc ? rc : m->c ? read_candidates(s, &m->a, model, m->c, &m->n) : LDG_ENOMEM;
    s->models_cands += m->n;
    if (!m->rc)
        m->rc = elg_prepare(m->c, m->n);
    elg_candidate *fit = m->rc ? NULL : realloc(m->c, (m->n + 1) * sizeof *m->c);
    if (fit) /* keep what was read, not room for ELG_MAX_CANDIDATES */
        m->c = fit;
    for (size_t i = 0; !m->rc && i < m->n; i = m->c[i].group_end)
        m->cap_pol++;
    if (!m->rc && !(m->pol = calloc(m->cap_pol + 1, sizeof *m->pol)))
        m->rc = LDG_ENOMEM;
    return m;
}

/* --- one device ------------------------------------------------------------------------- */

typedef struct {
    const char *id;
    int error;
    char message[256];
    size_t n;                               /* products answered             */
    elg_answer ans[ELG_MAX_PRODUCTS];
    const char *policy[ELG_MAX_PRODUCTS];   /* label of each product's policy */
    size_t body[ELG_MAX_PRODUCTS + 1];      /* encoded sizes (elg_wire)       */
} dev_out;

/* One device's decision into o. Its answers point into the request and the model cache. */
static void decide_device(server *s, const fwl_Device *dev, const ctr_context *cc, stamps at,
                          dev_out *o)
{
    const char *addons[16], *tags[16];
    ctr_package pk[16];
    o->id = dev->id;
    o->error = 0;
    o->ans[0].error_reason[0] = '\0';
    o->n = 0;
    for (pb_size_t i = 0; i < dev->addons_count; i++)
        addons[i] = dev->addons[i];
    for (pb_size_t i = 0; i < dev->tags_count; i++)
        tags[i] = dev->tags[i];
    for (pb_size_t i = 0; i < dev->packages_count; i++)
        pk[i] = (ctr_package){dev->packages[i].name, dev->packages[i].version, 0};
    ctr_device d = {dev->id, dev->hardware_model, dev->hardware_rev, addons, dev->addons_count,
                    pk, dev->packages_count, dev->region, tags, dev->tags_count};
    model_cands *m = candidates(s, dev->hardware_model, at);
    int rc = m ? m->rc : LDG_ENOMEM;
    policy_ctx pc = {s, m};
    elg_source src = {policy_cb, outcomes_cb, &pc};
    if (!rc)
        rc = elg_decide(&d, m->c, m->n, &src, cc, o->ans, ELG_MAX_PRODUCTS, &o->n);
    if (rc) {
        o->error = rc;
        o->n = 0;
        if (rc <= CTR_ESYNTAX && rc >= CTR_ESYNTAX - 99) /* a contracts/ code */
            snprintf(o->message, sizeof o->message, "invalid device: %s",
                     o->ans[0].error_reason[0] ? o->ans[0].error_reason : ctr_strerror(rc));
        else
            snprintf(o->message, sizeof o->message, "%s", node_strerror(rc));
        return;
    }
    for (size_t i = 0; i < o->n; i++) {
        const model_policy *p = policy_for(s, m, o->ans[i].product);
        o->policy[i] = p ? p->label : "default";
    }
}

/* --- the answer on the wire ------------------------------------------------------------- */
/*
 * Response{id, eligible: EligibleResp} written straight from the decisions: sizes are
 * computed from the answers (once per message, bottom up), then the bytes in one pass. The
 * output is what nanopb would encode for the same values (proto3: zero scalars and empty
 * strings left out, fields in number order); strings are cut to the sizes the .options give
 * the decoding side.
 */

#define SMAX(type, field) (sizeof ((type *)0)->field - 1)
#define WT_VARINT 0u
#define WT_LEN 2u

static size_t vsz(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static size_t sz_len(uint32_t field, size_t len)
{
    return vsz(field << 3 | WT_LEN) + vsz(len) + len;
}

static size_t sz_var(uint32_t field, uint64_t v)
{
    return v ? vsz(field << 3 | WT_VARINT) + vsz(v) : 0;
}

static size_t sz_str(uint32_t field, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    return n ? sz_len(field, n) : 0;
}

static uint8_t *put_hdr(uint8_t *p, uint32_t field, size_t len)
{
    return put_varint(put_varint(p, field << 3 | WT_LEN), len);
}

static uint8_t *put_var(uint8_t *p, uint32_t field, uint64_t v)
{
    return v ? put_varint(put_varint(p, field << 3 | WT_VARINT), v) : p;
}

static uint8_t *put_bytes(uint8_t *p, uint32_t field, const void *b, size_t n)
{
    if (!n)
        return p;
    p = put_hdr(p, field, n);
    memcpy(p, b, n);
    return p + n;
}

static uint8_t *put_str(uint8_t *p, uint32_t field, const char *s, size_t max)
{
    return put_bytes(p, field, s, strnlen(s, max));
}

/* Hash{alg, digest} and ReleaseRef{product, version, file_hash}. */
static size_t hash_body(const elg_candidate *c)
{
    return sz_var(fwl_Hash_alg_tag, c->hash_alg) +
           (c->r.file_hash_len ? sz_len(fwl_Hash_digest_tag, c->r.file_hash_len) : 0);
}

static size_t ref_body(const elg_candidate *c)
{
    return sz_str(fwl_ReleaseRef_product_tag, c->r.product, SMAX(fwl_ReleaseRef, product)) +
           sz_str(fwl_ReleaseRef_version_tag, c->r.version, SMAX(fwl_ReleaseRef, version)) +
           sz_len(fwl_ReleaseRef_file_hash_tag, hash_body(c));
}

static uint8_t *put_ref(uint8_t *p, uint32_t field, const elg_candidate *c)
{
    p = put_hdr(p, field, ref_body(c));
    p = put_str(p, fwl_ReleaseRef_product_tag, c->r.product, SMAX(fwl_ReleaseRef, product));
    p = put_str(p, fwl_ReleaseRef_version_tag, c->r.version, SMAX(fwl_ReleaseRef, version));
    p = put_hdr(p, fwl_ReleaseRef_file_hash_tag, hash_body(c));
    p = put_var(p, fwl_Hash_alg_tag, c->hash_alg);
    return put_bytes(p, fwl_Hash_digest_tag, c->r.file_hash, c->r.file_hash_len);
}

static size_t rejection_body(const elg_rejection *r)
{
    return sz_len(fwl_Rejection_release_tag, ref_body(r->release)) +
           sz_str(fwl_Rejection_rule_tag, r->rule, SMAX(fwl_Rejection, rule)) +
           sz_str(fwl_Rejection_reason_tag, r->reason, SMAX(fwl_Rejection, reason));
}

static uint32_t status_of(int status)
{
    return status == ELG_URGENT ? fwl_DeviceStatus_URGENT
         : status == ELG_UPDATE_AVAILABLE ? fwl_DeviceStatus_UPDATE_AVAILABLE
         : fwl_DeviceStatus_UP_TO_DATE;
}

static size_t product_body(const elg_answer *a, const char *policy)
{
    size_t n = sz_str(fwl_ProductAnswer_product_tag, a->product, SMAX(fwl_ProductAnswer, product)) +
               sz_str(fwl_ProductAnswer_installed_tag, a->installed, SMAX(fwl_ProductAnswer, installed)) +
               sz_var(fwl_ProductAnswer_status_tag, status_of(a->status)) +
               (a->best ? sz_len(fwl_ProductAnswer_best_tag, ref_body(a->best)) : 0) +
               sz_var(fwl_ProductAnswer_unsatisfiable_tag, a->unsatisfiable) +
               sz_str(fwl_ProductAnswer_unsatisfiable_reason_tag, a->unsat_reason,
                      SMAX(fwl_ProductAnswer, unsatisfiable_reason)) +
               sz_var(fwl_ProductAnswer_rejected_total_tag, a->n_rejected_total) +
               sz_str(fwl_ProductAnswer_policy_tag, policy, SMAX(fwl_ProductAnswer, policy)) +
               sz_var(fwl_ProductAnswer_superseded_tag, a->n_superseded);
    for (size_t i = 0; i < a->n_plan; i++)
        n += sz_len(fwl_ProductAnswer_plan_tag, ref_body(a->plan[i]));
    for (size_t i = 0; i < a->n_rejected; i++)
        n += sz_len(fwl_ProductAnswer_rejected_tag, rejection_body(&a->rejected[i]));
    return n;
}

static uint8_t *put_product(uint8_t *p, const elg_answer *a, const char *policy, size_t body)
{
    p = put_hdr(p, fwl_DeviceAnswer_products_tag, body);
    p = put_str(p, fwl_ProductAnswer_product_tag, a->product, SMAX(fwl_ProductAnswer, product));
    p = put_str(p, fwl_ProductAnswer_installed_tag, a->installed, SMAX(fwl_ProductAnswer, installed));
    p = put_var(p, fwl_ProductAnswer_status_tag, status_of(a->status));
    if (a->best)
        p = put_ref(p, fwl_ProductAnswer_best_tag, a->best);
    for (size_t i = 0; i < a->n_plan; i++)
        p = put_ref(p, fwl_ProductAnswer_plan_tag, a->plan[i]);
    p = put_var(p, fwl_ProductAnswer_unsatisfiable_tag, a->unsatisfiable);
    p = put_str(p, fwl_ProductAnswer_unsatisfiable_reason_tag, a->unsat_reason,
                SMAX(fwl_ProductAnswer, unsatisfiable_reason));
    for (size_t i = 0; i < a->n_rejected; i++) {
        const elg_rejection *r = &a->rejected[i];
        p = put_hdr(p, fwl_ProductAnswer_rejected_tag, rejection_body(r));
        p = put_ref(p, fwl_Rejection_release_tag, r->release);
        p = put_str(p, fwl_Rejection_rule_tag, r->rule, SMAX(fwl_Rejection, rule));
        p = put_str(p, fwl_Rejection_reason_tag, r->reason, SMAX(fwl_Rejection, reason));
    }
    p = put_var(p, fwl_ProductAnswer_rejected_total_tag, a->n_rejected_total);
    p = put_str(p, fwl_ProductAnswer_policy_tag, policy, SMAX(fwl_ProductAnswer, policy));
    return put_var(p, fwl_ProductAnswer_superseded_tag, a->n_superseded);
}

/* int32 error codes go on the wire sign-extended to 64 bits, as protobuf wants. */
static size_t error_body(const dev_out *o)
{
    return sz_var(fwl_Error_code_tag, (uint64_t)(int64_t)o->error) +
           sz_str(fwl_Error_message_tag, o->message, SMAX(fwl_Error, message));
}

/* A device's body size; the sizes of its products are kept in o->body. */
static size_t device_body(dev_out *o)
{
    size_t n = sz_str(fwl_DeviceAnswer_device_id_tag, o->id, SMAX(fwl_DeviceAnswer, device_id));
    for (size_t i = 0; i < o->n; i++)
        n += sz_len(fwl_DeviceAnswer_products_tag,
                    o->body[i] = product_body(&o->ans[i], o->policy[i]));
    if (o->error)
        n += sz_len(fwl_DeviceAnswer_error_tag, error_body(o));
    return o->body[ELG_MAX_PRODUCTS] = n;
}

static uint8_t *put_device(uint8_t *p, const dev_out *o)
{
    p = put_hdr(p, fwl_EligibleResp_answers_tag, o->body[ELG_MAX_PRODUCTS]);
    p = put_str(p, fwl_DeviceAnswer_device_id_tag, o->id, SMAX(fwl_DeviceAnswer, device_id));
    for (size_t i = 0; i < o->n; i++)
        p = put_product(p, &o->ans[i], o->policy[i], o->body[i]);
    if (o->error) {
        p = put_hdr(p, fwl_DeviceAnswer_error_tag, error_body(o));
        p = put_var(p, fwl_Error_code_tag, (uint64_t)(int64_t)o->error);
        p = put_str(p, fwl_Error_message_tag, o->message, SMAX(fwl_Error, message));
    }
    return p;
}

/* Response{id, eligible{answers, at_height, block_hash}} as one frame on c's output. */
static void send_answers(client *c, uint64_t id, dev_out *o, size_t n, const ldg_tip *t)
{
    size_t body = sz_var(fwl_EligibleResp_at_height_tag, t->height) +
                  sz_len(fwl_EligibleResp_block_hash_tag, LDG_DIGEST_LEN);
    for (size_t i = 0; i < n; i++)
        body += sz_len(fwl_EligibleResp_answers_tag, device_body(&o[i]));
    size_t size = sz_var(fwl_Response_id_tag, id) + sz_len(fwl_Response_eligible_tag, body);
    uint8_t *start = node__frame_begin(c, size), *p = start;
    if (!p)
        return;
    p = put_var(p, fwl_Response_id_tag, id);
    p = put_hdr(p, fwl_Response_eligible_tag, body);
    for (size_t i = 0; i < n; i++)
        p = put_device(p, &o[i]);
    p = put_var(p, fwl_EligibleResp_at_height_tag, t->height);
    p = put_bytes(p, fwl_EligibleResp_block_hash_tag, t->hash, LDG_DIGEST_LEN);
    if ((size_t)(p - start) != size) { /* sizes and bytes disagree: a bug */
        node__log("eligible: encoded %zu bytes, sized %zu", (size_t)(p - start), size);
        if ((size_t)(p - start) > size)
            abort(); /* past the reserved room: memory is no longer trustworthy */
        node__close_client(c);
        return;
    }
    node__frame_end(c, size);
}

/* --- the RPCs --------------------------------------------------------------------------- */

void node__handle_eligible(client *c, uint64_t id, const fwl_EligibleReq *r)
{
    server *s = c->s;
    ldg_tip t;
    if (r->devices_count == 0) {
        node__send_error(c, id, LDG_EINVALID, "eligible: no device");
        return;
    }
    enum { MAX_DEV = sizeof r->devices / sizeof r->devices[0] };
    dev_out *o = s->elg_scratch ? s->elg_scratch : (s->elg_scratch = malloc(MAX_DEV * sizeof *o));
    int rc = o ? ldg_store_snapshot_begin(s->store) : LDG_ENOMEM;
    if (rc) {
        node__send_error(c, id, rc, "eligible: %s", ldg_strerror(rc));
        return;
    }
    /* answers point into the model cache: make room before, never evict while deciding */
    if (s->models.live + r->devices_count > MODEL_CACHE_MAX ||
        s->models_cands > s->cfg.eligibility_cache)
        hmap_each(&s->models, free_model, s);
    ldg_store_tip(s->store, &t); /* the committed tip: no commit runs during this turn */
    ctr_context cc = {t.time_ms, t.height, 0};
    stamps at = {0, 0, 0};
    if ((rc = ldg_store_change_heights(s->store, &at.revoked, &at.policy))) {
        ldg_store_snapshot_end(s->store);
        node__send_error(c, id, rc, "eligible: %s", ldg_strerror(rc));
        return;
    }
    for (pb_size_t i = 0; i < r->devices_count; i++)
        decide_device(s, &r->devices[i], &cc, at, &o[i]);
    ldg_store_snapshot_end(s->store);
    send_answers(c, id, o, r->devices_count, &t);
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
