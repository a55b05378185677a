/*
 * The eligibility component of the daemon: its worker thread, its caches and the Eligible
 * and GetContract RPCs (the read path of issue 4). The decision itself is contracts/'
 * (ctr_prepare, ctr_decide: pure, re-run by trackers); the answer's wire form is
 * elg_wire.c. What is here is what only a node has: the store, the thread, the caches.
 *
 * Per device: the candidate releases for its hardware model, read from the store and kept
 * prepared (ctr_prepare) per model until the store says they may have changed; the policy
 * per product is the contract bound to (product, model) or (product), compiled once per
 * code hash, else the built-in default, looked up once per product and model; outcome
 * totals are read when a contract evaluates a candidate. ctr_decide decides; elg_wire
 * writes the answers straight to the wire. All reads of one request are one LMDB read
 * transaction (ldg_store_snapshot_begin): the height and block hash in the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "node/daemon/elg_wire.h"
#include "node/client/client.h"
#include "node/daemon/elg_worker.h"
#include "node/daemon/log.h"
#include "node/daemon/prove.h"

/* --- candidates per hardware model, cached until the next block --- */

/* Bounds of the cache: models, and candidates over all models (the config's
 * eligibility_cache; about 450 bytes each with their strings). A request starts with an
 * empty cache when it could pass the first or the second is passed. */
#define MODEL_CACHE_MAX 4096

/* Sizes the schema gives a device (fwl.Device in proto/fwledger.options). */
#define DEV_MODEL_SIZE sizeof ((fwl_Device *)0)->hardware_model

/* A label names a product's policy in fwl.ProductAnswer.policy: it must hold the longest,
 * "contract NAME vN" with the longest contract name and version. */
#define POLICY_LABEL_SIZE sizeof ((fwl_ProductAnswer *)0)->policy
_Static_assert(POLICY_LABEL_SIZE >= sizeof "contract " - 1 +
                                        sizeof ((fwl_ContractRecord *)0)->name - 1 +
                                        sizeof " v4294967295",
               "fwl.ProductAnswer.policy max_size too small for \"contract NAME vN\"");

/* The policy of one product on the model, looked up once per block. */
typedef struct {
    const char *product;     /* the candidates' shared name (ctr_prepare)         */
    const ctr_program *prog; /* NULL: the default                                 */
    int rc;
    char label[POLICY_LABEL_SIZE]; /* "default" or "contract NAME vN"             */
} model_policy;

/* What a model's cached view was built from (ldg_store_model_height and
 * ldg_store_change_heights): while the store says the same, the view is exact. */
typedef struct {
    uint64_t published, revoked, policy;
} stamps;

typedef struct {
    stamps at;
    ctr_arena a;                /* their strings                                    */
    ctr_candidate *c;        /* prepared (ctr_prepare)                           */
    size_t n;
    int rc;                  /* a read error (LDG_ETOOBIG is kept until a change)  */
    char model[DEV_MODEL_SIZE];
    model_policy *pol;       /* one per product, filled on first use             */
    size_t n_pol, cap_pol;
} model_cands;

static bool free_model(void *ctx, const uint8_t key[32], void **val)
{
    (void)key;
    node_elg *e = ctx;
    model_cands *m = *val;
    e->models_cands -= m->n;
    ctr_arena_free(&m->a);
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

/* The ledger's compile hook: deploys are refused unless they compile here. */
int node_elg_contract_check(void *ctx, const char *src, size_t len, char *err, size_t errlen)
{
    (void)ctx;
    ctr_program *p = NULL;
    int rc = ctr_compile(src, len, &p, err, errlen);
    ctr_free(p);
    if (rc && err && errlen && !*err)
        snprintf(err, errlen, "%s", node_strerror(rc));
    return rc;
}

/* The policy of product on model (from the store): the bound contract, compiled once per
 * code hash, or NULL for the default; label names it for the answer. */
static int lookup_policy(node_elg *e, const char *product, const char *model,
                         const ctr_program **prog, char *label, size_t label_len)
{
    static fwl_BindingRecord b;
    static fwl_ContractRecord c;
    *prog = NULL;
    snprintf(label, label_len, "default");
    int rc = ldg_store_binding(e->reader, product, model, &b);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc || (rc = ldg_store_contract(e->reader, b.contract, &c)))
        return rc;
    snprintf(label, label_len, "contract %s v%u", c.name, c.version);
    uint8_t key[32] = {0};
    memcpy(key, c.code_hash.bytes, c.code_hash.size < 32 ? c.code_hash.size : 32);
    cached *k = hmap_get(&e->programs, key);
    if (!k) {
        char err[LDG_CONTRACT_ERR_MAX];
        ctr_program *p = NULL;
        if ((rc = ctr_compile(c.source, strlen(c.source), &p, err, sizeof err)))
            return rc; /* cannot happen for a deployed contract: it compiled on the ledger */
        if (!(k = malloc(sizeof *k)) || hmap_put(&e->programs, key, k)) {
            free(k);
            ctr_free(p);
            return LDG_ENOMEM;
        }
        k->prog = p;
    }
    *prog = k->prog;
    return 0;
}

/* The policy of one of m's products, looked up once per block. NULL: not one of them. */
static const model_policy *policy_for(node_elg *e, model_cands *m, const char *product)
{
    for (size_t i = 0; i < m->n_pol; i++)
        if (m->pol[i].product == product || !strcmp(m->pol[i].product, product))
            return &m->pol[i];
    if (m->n_pol == m->cap_pol)
        return NULL; /* room for every product of the candidates was made when they were read */
    model_policy *p = &m->pol[m->n_pol++];
    p->product = product;
    p->rc = lookup_policy(e, product, m->model, &p->prog, p->label, sizeof p->label);
    return p;
}

typedef struct {
    node_elg *e;
    model_cands *m;
} policy_ctx;

static int policy_cb(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    (void)model; /* the one of the cache */
    policy_ctx *pc = ctx;
    const model_policy *p = policy_for(pc->e, pc->m, product);
    *prog = p ? p->prog : NULL;
    return p ? p->rc : LDG_ENOMEM;
}

static int outcomes_cb(void *ctx, const ctr_candidate *c, ctr_outcomes *out)
{
    policy_ctx *pc = ctx;
    fwl_OutcomeTotals o;
    int rc = ldg_store_outcomes(pc->e->reader, c->hash_alg, c->r.file_hash, c->r.file_hash_len, &o);
    *out = rc ? (ctr_outcomes){0, 0, 0} : (ctr_outcomes){o.succeeded, o.failed, o.rolled_back};
    return rc;
}

typedef struct {
    ctr_arena *a;
    ctr_candidate *c;
    size_t n, cap;
} collect;

static int collect_cb(void *ctx, const fwl_ReleaseRecord *rec)
{
    collect *k = ctx;
    if (k->n == k->cap)
        return LDG_ETOOBIG;
    return ctr_candidate_from_record(k->a, rec, &k->c[k->n++]);
}

/* Every release listed for model, up to CTR_CANDIDATES_MAX. */
static int read_candidates(node_elg *e, ctr_arena *a, const char *model, ctr_candidate *out, size_t *n)
{
    collect k = {a, out, 0, CTR_CANDIDATES_MAX};
    uint8_t cursor[LDG_CURSOR_MAX], next[LDG_CURSOR_MAX];
    size_t cl = 0, nl = 0;
    uint64_t at;
    int rc;
    do {
        rc = ldg_store_list_releases(e->reader, "", model, 256, cursor, cl, collect_cb, &k, next,
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
static model_cands *candidates(node_elg *e, const char *model, stamps at)
{
    uint8_t key[32];
    int rc = ldg_store_model_height(e->reader, model, &at.published);
    const uint8_t *part = (const uint8_t *)model;
    size_t len = strlen(model), kl;
    if (ldg_hash(LDG_HASH_SHA256, &part, &len, 1, key, &kl)) /* the registry's fetched MD */
        return NULL;
    model_cands *m = hmap_get(&e->models, key);
    /* a model with too many releases stays refused until it changes; other errors are
     * tried again */
    if (m && !rc && !memcmp(&m->at, &at, sizeof at) && (!m->rc || m->rc == LDG_ETOOBIG))
        return m;
    if (!m) {
        if (!(m = calloc(1, sizeof *m)) || hmap_put(&e->models, key, m)) {
            free(m);
            return NULL;
        }
    }
    ctr_arena_free(&m->a);
    free(m->c);
    free(m->pol);
    m->c = NULL, m->pol = NULL;
    e->models_cands -= m->n;
    m->n = m->n_pol = m->cap_pol = 0;
    m->at = at;
    snprintf(m->model, sizeof m->model, "%s", model);
    m->c = rc ? NULL : malloc(CTR_CANDIDATES_MAX * sizeof *m->c);
    m->rc = rc ? rc : m->c ? read_candidates(e, &m->a, model, m->c, &m->n) : LDG_ENOMEM;
    e->models_cands += m->n;
    if (!m->rc)
        m->rc = ctr_prepare(m->c, m->n);
    ctr_candidate *fit = m->rc ? NULL : realloc(m->c, (m->n + 1) * sizeof *m->c);
    if (fit) /* keep what was read, not room for CTR_CANDIDATES_MAX */
        m->c = fit;
    for (size_t i = 0; !m->rc && i < m->n; i = m->c[i].group_end)
        m->cap_pol++;
    if (!m->rc && !(m->pol = calloc(m->cap_pol + 1, sizeof *m->pol)))
        m->rc = LDG_ENOMEM;
    return m;
}

/* --- one device ------------------------------------------------------------------------- */

/* One device's decision into o. Its answers point into the request and the model cache. */
static void decide_device(node_elg *e, const fwl_Device *dev, const ctr_context *cc, stamps at,
                          elg_device_answer *o)
{
    ctr_device_view v;
    o->id = dev->id;
    o->error = 0;
    o->ans[0].error_reason[0] = '\0';
    o->n = 0;
    ctr_device_from_wire(dev, &v);
    model_cands *m = candidates(e, dev->hardware_model, at);
    int rc = m ? m->rc : LDG_ENOMEM;
    policy_ctx pc = {e, m};
    ctr_source src = {policy_cb, outcomes_cb, &pc};
    if (!rc)
        rc = ctr_decide(&v.d, m->c, m->n, &src, cc, o->ans, CTR_PRODUCTS_MAX, &o->n);
    if (rc) {
        o->error = rc;
        o->n = 0;
        if (rc == CTR_EINVAL || rc == CTR_ETOOBIG) /* the policy refused the description */
            snprintf(o->message, sizeof o->message, "invalid device: %s",
                     o->ans[0].error_reason[0] ? o->ans[0].error_reason : node_strerror(rc));
        else
            snprintf(o->message, sizeof o->message, "%s", node_strerror(rc));
        return;
    }
    for (size_t i = 0; i < o->n; i++) {
        const model_policy *p = policy_for(e, m, o->ans[i].product);
        o->policy[i] = p ? p->label : "default";
    }
}

/* --- the worker ------------------------------------------------------------------------ */
/*
 * Eligible requests are decided off the loop thread, by one worker thread with the store's
 * reader handle (e->reader: its own read snapshot per request), so a heavy contract never
 * delays consensus or the other RPCs. The worker alone touches the model and program
 * caches. The loop queues requests (a bounded number of devices) under e->mu; the worker
 * takes what is queued, decides one request after the other and hands each encoded answer
 * back at once (e->async), so the loop keeps reading and writing meanwhile.
 */

#define SPARE_MAX 64           /* requests kept for reuse            */
#define HANDBACK 16            /* answers handed back together, at most */
#define REQ_DEVICES (sizeof ((fwl_EligibleReq *)0)->devices / sizeof(fwl_Device))

/* A request and its answer. Allocated for the most devices and reused (with the frame
 * buffer), so a busy node does not map and unmap memory per request. */
typedef struct node__elg_req {
    struct node__elg_req *next;
    node_reply_to to;
    int rc;                    /* an error answer instead: code and message */
    char err[sizeof ((fwl_Error *)0)->message];
    uint8_t *frame;            /* the encoded Response (cap bytes of room)  */
    size_t len, cap;
    size_t n;
    bool prove;                /* answer with a Proof (prove.h)             */
    fwl_Device dev[REQ_DEVICES];
} elg_req;

static void push(node__elg_list *l, elg_req *q)
{
    q->next = NULL;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
}

static void free_reqs(elg_req *q)
{
    for (elg_req *next; q; q = next) {
        next = q->next;
        free(q->frame);
        free(q);
    }
}

/* The node is stopping: read by the worker between devices too, without the lock. */
static bool quitting(node_elg *e)
{
    return __atomic_load_n(&e->quit, __ATOMIC_ACQUIRE);
}

/* What a verifier needs to re-decide for a device of model (docs/verification.md): the
 * model's candidates; per product, its binding on the model or else its own binding (or
 * their absence), the bound contract and the candidates' outcome totals. */
static int prove_model(node_elg *e, const char *model, stamps at, node_proof *p)
{
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = ldg_state_key_lines(k, model);
    model_cands *m = candidates(e, model, at);
    int rc = !kl ? LDG_EINVALID : !m ? LDG_ENOMEM : node_proof_add(p, e->reader, k, kl);
    for (size_t i = 0; !rc && m && !m->rc && i < m->n; i = m->c[i].group_end) {
        const char *product = m->c[i].r.product;
        fwl_BindingRecord *b = &e->proof_binding;
        rc = node_proof_add(p, e->reader, k, ldg_state_key_binding(k, product, model));
        int brc = rc ? rc : ldg_store_binding(e->reader, product, model, b);
        if (!rc && (brc == LDG_ENOTFOUND || (!brc && !b->hardware_model[0])))
            rc = node_proof_add(p, e->reader, k, ldg_state_key_binding(k, product, ""));
        if (rc || brc == LDG_ENOTFOUND)
            continue;
        if ((rc = brc) || (rc = node_proof_add(p, e->reader, k, ldg_state_key_contract(k, b->contract))))
            break;
        for (size_t j = i; !rc && j < m->c[i].group_end; j++)
            rc = node_proof_add(p, e->reader, k, ldg_state_key_outcomes(k, m->c[j].hash_alg,
                                 m->c[j].r.file_hash, m->c[j].r.file_hash_len));
    }
    return rc;
}

typedef struct {
    node_elg *e;
    const char *model;
    stamps at;
} model_fill;

static int fill_model(void *ctx, node_proof *p)
{
    model_fill *f = ctx;
    return prove_model(f->e, f->model, f->at, p);
}

/* Room before a proof's pieces in e->proof_buf for its field tag and length. */
#define PROOF_PREFIX 16

static int append_proof(node_elg *e, size_t *at, const uint8_t *b, size_t len)
{
    if (*at + len > PROOF_PREFIX + NODE_RPC_MAX_RESPONSE / 2)
        return LDG_ETOOBIG; /* the answers must fit beside it */
    if (node_buf_reserve(&e->proof_buf, &e->proof_cap, *at + len))
        return LDG_ENOMEM;
    memcpy(e->proof_buf + *at, b, len);
    *at += len;
    return 0;
}

/* The request's proof as EligibleResp field 4: at *start in e->proof_buf, *len bytes; the
 * header's and each model's pieces from the worker's cache of this height's proofs. */
static int prove_request(node_elg *e, const elg_req *q, const ldg_tip *t, stamps at,
                         size_t *start, size_t *len)
{
    const uint8_t *b;
    size_t bl, end = PROOF_PREFIX;
    int rc = node_proof_cache_head(&e->proofs, e->reader, t->height, &b, &bl);
    if (!rc)
        rc = append_proof(e, &end, b, bl);
    for (size_t i = 0; !rc && i < q->n; i++) {
        const char *model = q->dev[i].hardware_model;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(q->dev[j].hardware_model, model);
        model_fill f = {e, model, at};
        if (!seen && !(rc = node_proof_cache_group(&e->proofs, t->height, model, fill_model,
                                                   &f, &b, &bl)))
            rc = append_proof(e, &end, b, bl);
    }
    if (rc)
        return rc;
    uint8_t pfx[PROOF_PREFIX];
    pb_ostream_t os = pb_ostream_from_buffer(pfx, sizeof pfx);
    if (!pb_encode_tag(&os, PB_WT_STRING, fwl_EligibleResp_proof_tag) ||
        !pb_encode_varint(&os, end - PROOF_PREFIX))
        return LDG_ETOOBIG;
    *start = PROOF_PREFIX - os.bytes_written;
    memcpy(e->proof_buf + *start, pfx, os.bytes_written);
    *len = end - *start;
    return 0;
}

/* One request's decisions into o (one read snapshot) and the tip they were made at, and
 * with q->prove their proof (e->proof_buf, *proof_len bytes). */
static int decide_all(node_elg *e, const elg_req *q, elg_device_answer *o, ldg_tip *t,
                      size_t *proof_start, size_t *proof_len)
{
    stamps at = {0, 0, 0};
    int rc = ldg_store_snapshot_begin(e->reader);
    if (rc)
        return rc;
    /* answers point into the model cache: make room before, never evict while deciding */
    if (e->models.live + q->n > MODEL_CACHE_MAX || e->models_cands > e->cfg.cache)
        hmap_each(&e->models, free_model, e);
    if (!(rc = ldg_store_tip(e->reader, t))) /* the snapshot's */
        rc = ldg_store_change_heights(e->reader, &at.revoked, &at.policy);
    ctr_context cc = {t->time_ms, t->height, 0};
    for (size_t i = 0; i < q->n && !rc; i++)
        if (quitting(e)) /* the answer would not be sent: stop soon */
            rc = NODE_ECONNECT;
        else
            decide_device(e, &q->dev[i], &cc, at, &o[i]);
    *proof_len = 0;
    if (!rc && q->prove)
        rc = prove_request(e, q, t, at, proof_start, proof_len);
    ldg_store_snapshot_end(e->reader);
    return rc;
}

/* One request, on the worker: the decisions and the encoded answer (or q->rc and q->err). */
static void decide_request(node_elg *e, elg_req *q)
{
    enum { MAX_DEV = sizeof ((fwl_EligibleReq *)0)->devices / sizeof(fwl_Device) };
    elg_device_answer *o = e->scratch ? e->scratch
                                          : (e->scratch = malloc(MAX_DEV * sizeof *o));
    ldg_tip t;
    size_t size = 0, pstart = 0, plen = 0;
    uint8_t *f;
    int rc = o ? decide_all(e, q, o, &t, &pstart, &plen) : LDG_ENOMEM;
    if (!rc && (size = elg_wire_size(q->to.id, o, q->n, &t, plen)) > q->cap) {
        if ((f = realloc(q->frame, size))) {
            q->frame = f;
            q->cap = size;
        } else {
            rc = LDG_ENOMEM;
        }
    }
    if (!rc && (q->len = elg_wire_write(q->frame, size, q->to.id, o, q->n, &t,
                                        plen ? e->proof_buf + pstart : NULL, plen)) != size) {
        node__log("eligible: encoded %zu bytes, sized %zu", q->len, size); /* a bug */
        if (q->len > size)
            abort(); /* past the buffer: memory is no longer trustworthy */
        rc = NODE_EPROTO;
    }
    q->rc = rc;
    if (rc)
        snprintf(q->err, sizeof q->err, "eligible: %s", node_strerror(rc));
}

static void worker(void *arg)
{
    node_elg *e = arg;
    uv_mutex_lock(&e->mu);
    for (;;) {
        while (!e->in.head && !quitting(e))
            uv_cond_wait(&e->cv, &e->mu);
        if (quitting(e))
            break;
        elg_req *q = e->in.head;
        e->in.head = e->in.tail = NULL;
        uv_mutex_unlock(&e->mu);
        /* Answers go back in groups (one wakeup and one write for several), at least
         * every HANDBACK requests so that a long queue streams. */
        size_t k = 0;
        for (elg_req *next; q; q = next) {
            next = q->next;
            decide_request(e, q);
            uv_mutex_lock(&e->mu);
            push(&e->out, q);
            uv_mutex_unlock(&e->mu);
            if (!next || ++k % HANDBACK == 0)
                uv_async_send(&e->async);
        }
        uv_mutex_lock(&e->mu);
    }
    uv_mutex_unlock(&e->mu);
}

/* On the loop: send the answers the worker has finished. */
static void on_answers(uv_async_t *h)
{
    node_elg *e = h->data;
    uv_mutex_lock(&e->mu);
    elg_req *q = e->out.head;
    e->out.head = e->out.tail = NULL;
    uv_mutex_unlock(&e->mu);
    for (elg_req *next; q; q = next) {
        next = q->next;
        node_rpc_conn *c = node_rpc_conn_of(e->cfg.rpc, q->to);
        if (c)
            *node_rpc_conn_pending(c) -= q->n;
        if (c && q->rc) {
            node_rpc_send_error(c, q->to.id, q->rc, "%s", q->err);
        } else if (c) {
            uint8_t *p = node_rpc_frame_begin(c, q->len);
            if (p) {
                memcpy(p, q->frame, q->len);
                node_rpc_frame_end(c, q->len);
            }
        }
        e->queued -= q->n;
        if (e->nspare < SPARE_MAX) { /* kept for the next request */
            q->next = e->spare;
            e->spare = q;
            e->nspare++;
        } else {
            q->next = NULL;
            free_reqs(q);
        }
    }
    node_rpc_flush(e->cfg.rpc);
}

int node_elg_init(node_elg *e, const node_elg_config *cfg)
{
    if (!e)
        return LDG_EINVALID;
    memset(e, 0, sizeof *e);
    if (!cfg || !cfg->loop || !cfg->store || !cfg->rpc || cfg->cache == 0)
        return LDG_EINVALID;
    e->cfg = *cfg;
    int rc = ldg_store_reader(cfg->store, &e->reader);
    if (!rc && (hmap_init(&e->programs, 16) || hmap_init(&e->models, 64) ||
                node_proof_cache_init(&e->proofs)))
        rc = LDG_ENOMEM;
    if (rc)
        node_elg_close(e);
    return rc;
}

int node_elg_start(node_elg *e)
{
    if (uv_mutex_init(&e->mu))
        return LDG_ENOMEM;
    if (uv_cond_init(&e->cv)) {
        uv_mutex_destroy(&e->mu);
        return LDG_ENOMEM;
    }
    if (uv_async_init(e->cfg.loop, &e->async, on_answers) ||
        uv_thread_create(&e->thread, worker, e)) {
        if (e->async.loop)
            uv_close((uv_handle_t *)&e->async, NULL);
        uv_cond_destroy(&e->cv);
        uv_mutex_destroy(&e->mu);
        return LDG_ENOMEM;
    }
    e->async.data = e;
    e->started = true;
    return 0;
}

/* Stopping: the worker finishes the request in hand and ends; what is left is freed with
 * the rest (node_elg_close). */
void node_elg_stop(node_elg *e)
{
    if (!e->started || quitting(e)) /* not started, or stopped already */
        return;
    uv_mutex_lock(&e->mu);
    __atomic_store_n(&e->quit, true, __ATOMIC_RELEASE);
    uv_cond_signal(&e->cv);
    uv_mutex_unlock(&e->mu);
    uv_thread_join(&e->thread);
    uv_close((uv_handle_t *)&e->async, NULL);
}

/* Everything of eligibility, once the loop has ended (no job runs). */
void node_elg_close(node_elg *e)
{
    if (!e)
        return;
    if (e->started) { /* the worker has ended (node_elg_stop) */
        free_reqs(e->in.head);
        free_reqs(e->out.head);
        free_reqs(e->fresh.head);
        free_reqs(e->spare);
        uv_cond_destroy(&e->cv);
        uv_mutex_destroy(&e->mu);
        e->started = false;
    }
    ldg_store_close(e->reader);
    e->reader = NULL;
    if (e->programs.slots)
        hmap_each(&e->programs, free_cached, NULL);
    hmap_free(&e->programs);
    if (e->models.slots)
        hmap_each(&e->models, free_model, e);
    hmap_free(&e->models);
    free(e->scratch);
    e->scratch = NULL;
    free(e->proof_buf);
    e->proof_buf = NULL;
    if (e->proofs.groups.slots)
        node_proof_cache_free(&e->proofs);
}

/* --- the RPCs --------------------------------------------------------------------------- */

void node_elg_request(node_elg *e, node_rpc_conn *c, uint64_t id, const fwl_EligibleReq *r)
{
    if (r->devices_count == 0) {
        node_rpc_send_error(c, id, LDG_EINVALID, "eligible: no device");
        return;
    }
    for (pb_size_t i = 0; i < r->devices_count; i++)
        if (!r->devices[i].id[0] || !r->devices[i].hardware_model[0]) {
            node_rpc_send_error(c, id, LDG_EINVALID, "eligible: devices[%u].%s is required",
                                (unsigned)i, r->devices[i].id[0] ? "hardware_model" : "id");
            return;
        }
    if (e->queued + r->devices_count > NODE_ELG_QUEUE_MAX ||
        *node_rpc_conn_pending(c) + r->devices_count > NODE_ELG_CONN_MAX) {
        node_rpc_send_error(c, id, NODE_EBUSY,
                         "eligible: %zu devices of this connection and %zu in all queued, try again",
                         *node_rpc_conn_pending(c), e->queued);
        return;
    }
    elg_req *q = e->spare;
    if (q) {
        e->spare = q->next;
        e->nspare--;
    } else if ((q = malloc(sizeof *q))) {
        q->frame = NULL;
        q->cap = 0;
    } else {
        node_rpc_send_error(c, id, LDG_ENOMEM, "eligible: %s", node_strerror(LDG_ENOMEM));
        return;
    }
    q->to = node_rpc_reply_to(c, id);
    q->rc = 0;
    q->len = 0;
    q->n = r->devices_count;
    q->prove = r->prove;
    memcpy(q->dev, r->devices, q->n * sizeof *q->dev);
    e->queued += q->n;
    *node_rpc_conn_pending(c) += q->n;
    push(&e->fresh, q); /* handed over at the end of the read (node_elg_dispatch) */
}

void node_elg_dispatch(node_elg *e)
{
    if (!e->fresh.head)
        return;
    uv_mutex_lock(&e->mu);
    if (e->in.tail)
        e->in.tail->next = e->fresh.head;
    else
        e->in.head = e->fresh.head;
    e->in.tail = e->fresh.tail;
    uv_cond_signal(&e->cv);
    uv_mutex_unlock(&e->mu);
    e->fresh.head = e->fresh.tail = NULL;
}
