/*
 * The answer verifier (issue 11; docs/verification.md): a tracker checks a node's answer
 * against the validators' signatures, offline. Given a trusted genesis, its own clock and a
 * maximum age, it checks the Proof an answer carries (header, commit certificate,
 * freshness, every state proof against the header's state root), then what the answer says
 * against the proven records: the release itself, or the decision re-run with the same pure
 * decider the node runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "contracts/contracts.h"
#include "node/client/client.h"


/* ---------------------------------------------------------------------------------------- */
/* The Proof                                                                                 */

typedef struct {
    const uint8_t *buf;
    size_t len;
} slice;

struct fwl_proven {
    fwl_BlockHeader hdr;
    uint8_t block_hash[LDG_DIGEST_LEN];
    ldg_state_proof_dec *parts;
    size_t n, cap;
};

/* A length-delimited field of in, kept in place (the stream is a buffer stream, its state
 * the read position). Only such a field is read from in itself: nanopb hands a scalar of
 * the wrong wire type over from a copy on its stack, which must not be borrowed (as in
 * ledger/block.c; tests/fuzz/crashes/README.md). */
static bool borrow(pb_istream_t *st, const slice *in, slice *out)
{
    const uint8_t *p = st->state;
    if (p < in->buf || p > in->buf + in->len || st->bytes_left > (size_t)(in->buf + in->len - p))
        return false;
    out->buf = p;
    out->len = st->bytes_left;
    return pb_read(st, NULL, st->bytes_left);
}

typedef struct {
    slice in;  /* the buffer decoded */
    slice out; /* the field, when there is one */
} kept;

static bool keep_slice(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    kept *k = *arg;
    return borrow(st, &k->in, &k->out);
}

typedef struct {
    slice in;
    slice *s;
    size_t n, cap;
} slices;

static bool add_slice(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    slices *ss = *arg;
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? 2 * ss->cap : 16;
        slice *n = cap <= 4096 ? realloc(ss->s, cap * sizeof *n) : NULL;
        if (!n)
            return false;
        ss->s = n, ss->cap = cap;
    }
    if (!borrow(st, &ss->in, &ss->s[ss->n]))
        return false;
    ss->n++;
    return true;
}

void fwl_proven_free(fwl_proven *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        ldg_state_proof_dec_free(&p->parts[i]);
    free(p->parts);
    free(p);
}

/* Decode the answer frame into resp (member routes the chosen kind's callback fields, arg
 * theirs): the node's own error is returned as it is, another kind than want is a protocol
 * error. */
static int decode_answer(const uint8_t *frame, size_t len, fwl_Response *resp,
                         bool (*member)(pb_istream_t *, const pb_field_t *, void **), void *arg,
                         pb_size_t want, const char *what, char *why, size_t wl)
{
    resp->cb_resp.funcs.decode = member;
    resp->cb_resp.arg = arg;
    pb_istream_t st = pb_istream_from_buffer(frame, len);
    if (!pb_decode(&st, fwl_Response_fields, resp))
        return node_fail(why, wl, NODE_EPROTO, "the answer does not decode");
    if (resp->which_resp == fwl_Response_error_tag)
        return node_fail(why, wl, resp->resp.error.code < 0 ? resp->resp.error.code : NODE_EPROTO,
                         "%s", resp->resp.error.message);
    if (resp->which_resp != want)
        return node_fail(why, wl, NODE_EPROTO, "not %s answer", what);
    return 0;
}

static uint64_t clock_ms(const fwl_trust *tr)
{
    if (tr->now_ms)
        return tr->now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The header: this chain's, certified by more than 2/3 of the validators' power, fresh. */
static int check_header(const fwl_trust *tr, fwl_Proof *pf, fwl_proven *pv, char *why,
                        size_t wl)
{
    const ldg_genesis *g = tr->genesis;
    pb_istream_t hs = pb_istream_from_buffer(pf->header.bytes, pf->header.size);
    if (!pb_decode(&hs, fwl_BlockHeader_fields, &pv->hdr))
        return node_fail(why, wl, NODE_ENOPROOF, "the proof's header does not decode");
    const fwl_BlockHeader *h = &pv->hdr;
    if (strcmp(h->chain_id, g->chain_id))
        return node_fail(why, wl, LDG_ECHAIN, "the answer's block is of chain \"%s\", not \"%s\"",
                    h->chain_id, g->chain_id);
    if (!h->has_state_root || h->state_root.alg != g->hash_alg ||
        h->state_root.digest.size != LDG_DIGEST_LEN)
        return node_fail(why, wl, NODE_ENOPROOF, "the answer's block header has no state root");
    uint8_t vh[LDG_DIGEST_LEN];
    int rc = ldg_validators_hash(g, vh);
    if (rc)
        return node_fail(why, wl, rc, "validator set: %s", node_strerror(rc));
    if (!h->has_validators_hash || h->validators_hash.digest.size != LDG_DIGEST_LEN ||
        memcmp(h->validators_hash.digest.bytes, vh, LDG_DIGEST_LEN))
        return node_fail(why, wl, NODE_ECERT, "block %" PRIu64 " names another validator set "
                         "than the one trusted", h->height);
    rc = ldg_block_hash(g, pf->header.bytes, pf->header.size, pv->block_hash);
    if (rc)
        return node_fail(why, wl, rc, "block hash: %s", node_strerror(rc));
    if ((rc = ldg_commit_verify(g, h->height, pf->commit_round, pv->block_hash, pf->commit,
                                pf->commit_count)))
        return node_fail(why, wl, NODE_ECERT,
                    "block %" PRIu64 " is not certified by this chain's validators (%s: %u "
                    "signatures of round %u)", h->height, node_strerror(rc),
                    (unsigned)pf->commit_count, (unsigned)pf->commit_round);
    uint64_t now = clock_ms(tr);
    if (tr->max_age_ms && now > h->time_ms && now - h->time_ms > tr->max_age_ms)
        return node_fail(why, wl, NODE_ESTALE,
                    "block %" PRIu64 " is %" PRIu64 " ms old, more than the maximum age of %"
                    PRIu64 " ms", h->height, now - h->time_ms, tr->max_age_ms);
    if (h->time_ms > now && h->time_ms - now > tr->max_drift_ms)
        return node_fail(why, wl, NODE_ESTALE,
                    "block %" PRIu64 " is %" PRIu64 " ms ahead of this clock (more than the "
                    "drift of %" PRIu64 " ms)", h->height, h->time_ms - now, tr->max_drift_ms);
    return 0;
}

int fwl_proof_check(const fwl_trust *tr, const uint8_t *buf, size_t len, fwl_proven **out,
                    char *why, size_t wl)
{
    *out = NULL;
    if (!tr || !tr->genesis)
        return LDG_EINVALID;
    if (!buf)
        return node_fail(why, wl, NODE_ENOPROOF, "the answer carries no proof");
    fwl_Proof *pf = calloc(1, sizeof *pf);
    fwl_proven *pv = calloc(1, sizeof *pv);
    slices parts = {{buf, len}, NULL, 0, 0};
    int rc = pf && pv ? 0 : LDG_ENOMEM;
    if (!rc) {
        pf->state.funcs.decode = add_slice;
        pf->state.arg = &parts;
        pb_istream_t st = pb_istream_from_buffer(buf, len);
        if (!pb_decode(&st, fwl_Proof_fields, pf))
            rc = node_fail(why, wl, NODE_ENOPROOF, "the proof does not decode (%s)", PB_GET_ERROR(&st));
    }
    if (!rc)
        rc = check_header(tr, pf, pv, why, wl);
    if (!rc && !(pv->parts = calloc(parts.n ? parts.n : 1, sizeof *pv->parts)))
        rc = LDG_ENOMEM;
    for (size_t i = 0; !rc && i < parts.n; i++) {
        ldg_state_proof_dec *d = &pv->parts[i];
        if ((rc = ldg_state_proof_decode(tr->genesis->hash_alg, parts.s[i].buf, parts.s[i].len, d))) {
            rc = node_fail(why, wl, rc, "state proof %zu does not decode: %s", i, node_strerror(rc));
            break;
        }
        pv->n++; /* decoded: freed with pv from here on, verified or not */
        if ((rc = ldg_state_verify(tr->genesis->hash_alg, pv->hdr.state_root.digest.bytes,
                                   d->prefix, d->prefix_len, &d->p)))
            rc = node_fail(why, wl, rc, "state proof %zu does not lead to block %" PRIu64
                      "'s state root: %s", i, pv->hdr.height, node_strerror(rc));
    }
    free(parts.s);
    free(pf);
    if (rc) {
        fwl_proven_free(pv);
        return rc;
    }
    *out = pv;
    return 0;
}

uint64_t fwl_proven_height(const fwl_proven *p) { return p->hdr.height; }
uint64_t fwl_proven_time_ms(const fwl_proven *p) { return p->hdr.time_ms; }
const fwl_BlockHeader *fwl_proven_header(const fwl_proven *p) { return &p->hdr; }
const uint8_t *fwl_proven_block_hash(const fwl_proven *p) { return p->block_hash; }

int fwl_proven_range(const fwl_proven *p, const uint8_t *prefix, size_t plen,
                     const ldg_state_leaf **leaves, size_t *n)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->parts[i].prefix_len == plen && !memcmp(p->parts[i].prefix, prefix, plen)) {
            *leaves = p->parts[i].p.leaves;
            *n = p->parts[i].p.n_leaves;
            return 0;
        }
    return NODE_ENOPROOF;
}

/* The answer's height and block hash are the proof's. */
static int same_block(const fwl_proven *pv, uint64_t at, const uint8_t *hash, size_t hl,
                      char *why, size_t wl)
{
    if (at != pv->hdr.height || (hash && (hl != LDG_DIGEST_LEN ||
                                          memcmp(hash, pv->block_hash, LDG_DIGEST_LEN))))
        return node_fail(why, wl, NODE_EMISMATCH, "the answer names block %" PRIu64
                    ", its proof block %" PRIu64, at, pv->hdr.height);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* GetRelease                                                                                */

static bool release_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    if (f->tag == fwl_Response_get_release_tag) {
        fwl_GetReleaseResp *r = f->pData;
        r->proof.funcs.decode = keep_slice;
        r->proof.arg = *arg;
    }
    return true;
}

static bool same_record(const fwl_ReleaseRecord *a, const uint8_t *bytes, size_t len)
{
    uint8_t *buf = malloc(fwl_ReleaseRecord_size); /* not static: any thread may verify */
    pb_ostream_t os = pb_ostream_from_buffer(buf, buf ? fwl_ReleaseRecord_size : 0);
    bool same = buf && pb_encode(&os, fwl_ReleaseRecord_fields, a) && os.bytes_written == len &&
                !memcmp(buf, bytes, len);
    free(buf);
    return same;
}

int fwl_verify_release(const fwl_trust *tr, const uint8_t *frame, size_t len,
                       const fwl_Hash *asked, fwl_ReleaseRecord *out, bool *found,
                       uint64_t *height, char *why, size_t wl)
{
    fwl_Response *resp = calloc(1, sizeof *resp);
    kept proof = {{frame, len}, {NULL, 0}};
    fwl_proven *pv = NULL;
    if (!resp)
        return LDG_ENOMEM;
    int rc = decode_answer(frame, len, resp, release_member, &proof,
                           fwl_Response_get_release_tag, "a GetRelease", why, wl);
    if (!rc)
        rc = fwl_proof_check(tr, proof.out.buf, proof.out.len, &pv, why, wl);
    const fwl_GetReleaseResp *r = &resp->resp.get_release;
    if (!rc)
        rc = same_block(pv, r->at_height, NULL, 0, why, wl);
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = rc ? 0 : ldg_state_key_release(k, asked->alg, asked->digest.bytes, asked->digest.size);
    const ldg_state_leaf *leaves;
    size_t n = 0;
    if (!rc && (!kl || fwl_proven_range(pv, k, kl, &leaves, &n)))
        rc = node_fail(why, wl, NODE_ENOPROOF, "the proof does not cover the release asked for");
    /* Keys are prefix-free: a range of one whole key holds that key or nothing (else the
     * hash asked for was cut short). */
    if (!rc && (n > 1 || (n == 1 && (leaves[0].key_len != kl || memcmp(leaves[0].key, k, kl)))))
        rc = node_fail(why, wl, NODE_ENOPROOF, "the proof covers other releases than the one asked for");
    if (!rc && n == 0 && r->has_record)
        rc = node_fail(why, wl, NODE_EMISMATCH, "the answer holds a release its proof says is not there");
    if (!rc && n == 1 && !r->has_record)
        rc = node_fail(why, wl, NODE_EMISMATCH, "the answer leaves out a release its proof has");
    if (!rc && n == 1 && !same_record(&r->record, leaves[0].value, leaves[0].value_len))
        rc = node_fail(why, wl, NODE_EMISMATCH, "the answer's release record is not the proven one "
                  "(revocation, version or file fields differ)");
    if (!rc) {
        if (found)
            *found = n == 1;
        if (out)
            *out = r->record;
        if (height)
            *height = pv->hdr.height;
    }
    fwl_proven_free(pv);
    free(resp);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Eligible: the decision re-run on the proven records                                       */

/* One product's policy as the proof gives it. */
typedef struct {
    char product[sizeof ((fwl_Release *)0)->product];
    ctr_program *prog;                                 /* NULL: the default          */
    char label[sizeof ((fwl_ProductAnswer *)0)->policy];
    int rc;
} vpolicy;

typedef struct {
    const fwl_proven *pv;
    vpolicy *pol;
    size_t n, cap;
    fwl_BindingRecord bind;
    fwl_ContractRecord contract;
    char *why;
    size_t wl;
} vsource;

/* The single record proven at key: *leaf, or NULL when the proof shows there is none. */
static int proven_one(const fwl_proven *pv, const uint8_t *k, size_t kl, const ldg_state_leaf **leaf)
{
    size_t n;
    const ldg_state_leaf *l;
    int rc = kl ? fwl_proven_range(pv, k, kl, &l, &n) : NODE_ENOPROOF;
    *leaf = !rc && n == 1 ? l : NULL;
    return rc ? rc : n > 1 ? NODE_ENOPROOF : 0;
}

static bool decode_value(const ldg_state_leaf *l, const pb_msgdesc_t *f, void *dst)
{
    pb_istream_t st = pb_istream_from_buffer(l->value, l->value_len);
    return pb_decode(&st, f, dst);
}

/* The binding of product on model, else the product's own, as the node looks them up
 * (ldg_store_binding); then the bound contract's latest version. */
static int proven_policy(vsource *vs, const char *product, const char *model, vpolicy *p)
{
    uint8_t k[LDG_STATE_KEY_MAX];
    const ldg_state_leaf *l;
    int rc = proven_one(vs->pv, k, ldg_state_key_binding(k, product, model), &l);
    if (!rc && !l)
        rc = proven_one(vs->pv, k, ldg_state_key_binding(k, product, ""), &l);
    if (rc)
        return node_fail(vs->why, vs->wl, rc, "the proof lacks the binding of %s on %s", product, model);
    snprintf(p->label, sizeof p->label, "default");
    if (!l)
        return 0;
    memset(&vs->bind, 0, sizeof vs->bind);
    if (!decode_value(l, fwl_BindingRecord_fields, &vs->bind))
        return node_fail(vs->why, vs->wl, NODE_EPROTO, "a proven binding does not decode");
    if ((rc = proven_one(vs->pv, k, ldg_state_key_contract(k, vs->bind.contract), &l)) || !l)
        return node_fail(vs->why, vs->wl, NODE_ENOPROOF, "the proof lacks contract %s", vs->bind.contract);
    memset(&vs->contract, 0, sizeof vs->contract);
    if (!decode_value(l, fwl_ContractRecord_fields, &vs->contract))
        return node_fail(vs->why, vs->wl, NODE_EPROTO, "a proven contract does not decode");
    char err[LDG_CONTRACT_ERR_MAX];
    if ((rc = ctr_compile(vs->contract.source, strlen(vs->contract.source), &p->prog, err, sizeof err)))
        return node_fail(vs->why, vs->wl, rc, "contract %s: %s", vs->contract.name, err);
    snprintf(p->label, sizeof p->label, "contract %s v%u", vs->contract.name,
             (unsigned)vs->contract.version);
    return 0;
}

static vpolicy *policy_of(vsource *vs, const char *product, const char *model)
{
    for (size_t i = 0; i < vs->n; i++)
        if (!strcmp(vs->pol[i].product, product))
            return &vs->pol[i];
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? 2 * vs->cap : 8;
        vpolicy *n = realloc(vs->pol, cap * sizeof *n);
        if (!n)
            return NULL;
        vs->pol = n, vs->cap = cap;
    }
    vpolicy *p = &vs->pol[vs->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->product, sizeof p->product, "%s", product);
    p->rc = proven_policy(vs, product, model, p);
    return p;
}

static int policy_cb(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    vpolicy *p = policy_of(ctx, product, model);
    *prog = p ? p->prog : NULL;
    return p ? p->rc : LDG_ENOMEM;
}

static int outcomes_cb(void *ctx, const ctr_candidate *c, ctr_outcomes *out)
{
    vsource *vs = ctx;
    uint8_t k[LDG_STATE_KEY_MAX];
    const ldg_state_leaf *l;
    fwl_OutcomeTotals o = fwl_OutcomeTotals_init_zero;
    int rc = proven_one(vs->pv, k, ldg_state_key_outcomes(k, c->hash_alg, c->r.file_hash,
                                                          c->r.file_hash_len), &l);
    if (rc)
        return node_fail(vs->why, vs->wl, rc, "the proof lacks the outcome totals of %s %s",
                    c->r.product, c->r.version);
    if (l && !decode_value(l, fwl_OutcomeTotals_fields, &o))
        return NODE_EPROTO;
    *out = (ctr_outcomes){o.succeeded, o.failed, o.rolled_back};
    return 0;
}

static void vsource_free(vsource *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        ctr_free(vs->pol[i].prog);
    free(vs->pol);
}

/* The candidates of model from the proof, prepared. */
static int proven_candidates(const fwl_proven *pv, const char *model, ctr_arena *a,
                             ctr_candidate **out, size_t *n, char *why, size_t wl)
{
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = ldg_state_key_lines(k, model), m;
    const ldg_state_leaf *l;
    if (!kl || fwl_proven_range(pv, k, kl, &l, &m))
        return node_fail(why, wl, NODE_ENOPROOF, "the proof lacks the candidates of model %s", model);
    if (m > CTR_CANDIDATES_MAX)
        return LDG_ETOOBIG;
    ctr_candidate *c = ctr_arena_alloc(a, (m + 1) * sizeof *c);
    fwl_ReleaseRecord *rec = malloc(sizeof *rec);
    int rc = c && rec ? 0 : LDG_ENOMEM;
    for (size_t i = 0; !rc && i < m; i++) {
        memset(rec, 0, sizeof *rec);
        if (!decode_value(&l[i], fwl_ReleaseRecord_fields, rec))
            rc = node_fail(why, wl, NODE_EPROTO, "a proven release record does not decode");
        else
            rc = ctr_candidate_from_record(a, rec, &c[i]);
    }
    free(rec);
    if (!rc)
        rc = ctr_prepare(c, m);
    *out = c;
    *n = m;
    return rc;
}

static bool ref_is(const fwl_ReleaseRef *r, bool has, const ctr_candidate *c)
{
    if (!c)
        return !has;
    return has && r->has_file_hash && !strcmp(r->product, c->r.product) &&
           !strcmp(r->version, c->r.version) && r->file_hash.alg == c->hash_alg &&
           r->file_hash.digest.size == c->r.file_hash_len &&
           !memcmp(r->file_hash.digest.bytes, c->r.file_hash, c->r.file_hash_len);
}

/* The node's answer for one product against the re-run one: what a tracker acts on. */
static int compare_product(const fwl_ProductAnswer *got, const ctr_answer *want,
                           const char *label, const char *dev, char *why, size_t wl)
{
    const char *what = NULL;
    if (strcmp(got->product, want->product))
        what = "product";
    else if (got->status != (fwl_DeviceStatus)want->status)
        what = "status";
    else if (!ref_is(&got->best, got->has_best, want->best))
        what = "best release";
    else if (got->plan_count != want->n_plan)
        what = "update plan";
    else if (got->unsatisfiable != want->unsatisfiable ||
             strncmp(got->unsatisfiable_reason, want->unsat_reason, sizeof got->unsatisfiable_reason - 1))
        what = "unsatisfiable";
    else if (got->rejected_total != want->n_rejected_total || got->rejected_count != want->n_rejected)
        what = "rejected candidates";
    else if (got->superseded != want->n_superseded)
        what = "superseded count";
    else if (strcmp(got->policy, label))
        what = "policy";
    else if (strcmp(got->installed, want->installed ? want->installed : ""))
        what = "installed version";
    for (size_t i = 0; !what && i < want->n_plan; i++)
        if (!ref_is(&got->plan[i], true, want->plan[i]))
            what = "update plan";
    for (size_t i = 0; !what && i < want->n_rejected; i++)
        if (!ref_is(&got->rejected[i].release, got->rejected[i].has_release, want->rejected[i].release) ||
            strcmp(got->rejected[i].rule, want->rejected[i].rule) ||
            strncmp(got->rejected[i].reason, want->rejected[i].reason,
                    sizeof got->rejected[i].reason - 1))
            what = "rejected candidates";
    if (!what)
        return 0;
    return node_fail(why, wl, NODE_EMISMATCH, "device %s, product %s: the answer's %s is not what "
                "the proven records decide (best %s)", dev, want->product, what,
                want->best ? want->best->r.version : "none");
}

/* Re-decide device dev from the proof and compare with the node's answer (raw bytes). */
static int check_device(const fwl_proven *pv, const fwl_Device *dev, const slice *raw,
                        fwl_DeviceAnswer *got, char *why, size_t wl)
{
    memset(got, 0, sizeof *got);
    pb_istream_t st = pb_istream_from_buffer(raw->buf, raw->len);
    if (!pb_decode(&st, fwl_DeviceAnswer_fields, got))
        return node_fail(why, wl, NODE_EPROTO, "an answer does not decode");
    if (strcmp(got->device_id, dev->id))
        return node_fail(why, wl, NODE_EMISMATCH, "answer for device %s where %s was asked",
                    got->device_id, dev->id);
    ctr_arena a = {0};
    ctr_candidate *c = NULL;
    size_t n = 0, n_out = 0;
    vsource vs;
    memset(&vs, 0, sizeof vs);
    vs.pv = pv, vs.why = why, vs.wl = wl;
    ctr_answer *ans = calloc(CTR_PRODUCTS_MAX, sizeof *ans);
    ctr_device_view v;
    ctr_device_from_wire(dev, &v);
    ctr_source src = {policy_cb, outcomes_cb, &vs};
    ctr_context cc = {pv->hdr.time_ms, pv->hdr.height, 0};
    int rc = ans ? proven_candidates(pv, dev->hardware_model, &a, &c, &n, why, wl) : LDG_ENOMEM;
    if (rc == NODE_ENOPROOF || rc == NODE_EPROTO || rc == LDG_ENOMEM)
        goto out;
    int drc = rc ? rc : ctr_decide(&v.d, c, n, &src, &cc, ans, CTR_PRODUCTS_MAX, &n_out);
    if (drc == NODE_ENOPROOF || (vs.n && vs.pol[vs.n - 1].rc == NODE_ENOPROOF)) {
        rc = NODE_ENOPROOF; /* why says what was missing */
        goto out;
    }
    rc = 0;
    if (drc || got->has_error) {
        if (!got->has_error || got->error.code != drc)
            rc = node_fail(why, wl, NODE_EMISMATCH, "device %s: the node answers %s, the proven "
                      "records decide %s", dev->id,
                      got->has_error ? node_strerror(got->error.code) : "an answer",
                      drc ? node_strerror(drc) : "an answer");
        goto out;
    }
    if (got->products_count != n_out) {
        rc = node_fail(why, wl, NODE_EMISMATCH, "device %s: %u products answered, the proven records "
                  "decide %zu", dev->id, (unsigned)got->products_count, n_out);
        goto out;
    }
    for (size_t i = 0; !rc && i < n_out; i++) {
        vpolicy *p = policy_of(&vs, ans[i].product, dev->hardware_model);
        rc = p ? compare_product(&got->products[i], &ans[i], p->label, dev->id, why, wl) : LDG_ENOMEM;
    }
out:
    free(ans);
    vsource_free(&vs);
    ctr_arena_free(&a);
    return rc;
}

typedef struct {
    slices answers;
    kept proof;
} elig_ctx;

static bool elig_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    elig_ctx *e = *arg;
    if (f->tag == fwl_Response_eligible_tag) {
        fwl_EligibleResp *r = f->pData;
        r->answers.funcs.decode = add_slice;
        r->answers.arg = &e->answers;
        r->proof.funcs.decode = keep_slice;
        r->proof.arg = &e->proof;
    }
    return true;
}

int fwl_verify_eligible(const fwl_trust *tr, const fwl_Device *devices, size_t n,
                        const uint8_t *frame, size_t len, uint64_t *height, char *why, size_t wl)
{
    fwl_Response *resp = calloc(1, sizeof *resp);
    fwl_DeviceAnswer *got = calloc(1, sizeof *got);
    elig_ctx e = {{{frame, len}, NULL, 0, 0}, {{frame, len}, {NULL, 0}}};
    fwl_proven *pv = NULL;
    int rc = resp && got ? 0 : LDG_ENOMEM;
    if (!rc)
        rc = decode_answer(frame, len, resp, elig_member, &e, fwl_Response_eligible_tag,
                           "an Eligible", why, wl);
    if (!rc)
        rc = fwl_proof_check(tr, e.proof.out.buf, e.proof.out.len, &pv, why, wl);
    if (!rc)
        rc = same_block(pv, resp->resp.eligible.at_height, resp->resp.eligible.block_hash.bytes,
                        resp->resp.eligible.block_hash.size, why, wl);
    if (!rc && e.answers.n != n)
        rc = node_fail(why, wl, NODE_EMISMATCH, "%zu answers for %zu devices", e.answers.n, n);
    for (size_t i = 0; !rc && i < n; i++)
        rc = check_device(pv, &devices[i], &e.answers.s[i], got, why, wl);
    if (!rc && height)
        *height = pv->hdr.height;
    fwl_proven_free(pv);
    free(e.answers.s);
    free(got);
    free(resp);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* ListReleases of a hardware model                                                          */

typedef struct {
    slices records;
    kept proof;
} list_ctx;

static bool list_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    list_ctx *l = *arg;
    if (f->tag == fwl_Response_list_releases_tag) {
        fwl_ListReleasesResp *r = f->pData;
        r->records.funcs.decode = add_slice;
        r->records.arg = &l->records;
        r->proof.funcs.decode = keep_slice;
        r->proof.arg = &l->proof;
    }
    return true;
}

/* A line's (height, index): the last 12 bytes of its key, or of a list cursor. */
static int pos_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return memcmp(a + al - 12, b + bl - 12, 12);
}

/* Whether the proven line's record is of product ("": any). */
static bool of_product(const ldg_state_leaf *l, const char *product, fwl_ReleaseRecord *rec)
{
    if (!*product)
        return true;
    memset(rec, 0, sizeof *rec);
    return decode_value(l, fwl_ReleaseRecord_fields, rec) && !strcmp(rec->release.product, product);
}

/* The page must be every proven release of the query after the cursor, in chain order, up to
 * the answer's own cursor (all of them when it gives none). */
static int check_page(const fwl_proven *pv, const fwl_ListReleasesReq *q,
                      const fwl_ListReleasesResp *r, const slices *got, char *why, size_t wl)
{
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = ldg_state_key_lines(k, q->hardware), n, m = 0;
    const ldg_state_leaf *l;
    if (!kl || fwl_proven_range(pv, k, kl, &l, &n))
        return node_fail(why, wl, NODE_ENOPROOF, "the proof lacks the releases of %s", q->hardware);
    if ((q->after.size && q->after.size < 12) || (r->next.size && r->next.size < 12))
        return node_fail(why, wl, NODE_EPROTO, "a cursor of another kind");
    fwl_ReleaseRecord *rec = malloc(sizeof *rec);
    int rc = rec ? 0 : LDG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (l[i].key_len < kl + 12 ||
            (q->after.size && pos_cmp(l[i].key, l[i].key_len, q->after.bytes, q->after.size) <= 0) ||
            (r->next.size && pos_cmp(l[i].key, l[i].key_len, r->next.bytes, r->next.size) > 0) ||
            !of_product(&l[i], q->product, rec))
            continue;
        if (m == got->n || got->s[m].len != l[i].value_len ||
            memcmp(got->s[m].buf, l[i].value, l[i].value_len))
            rc = node_fail(why, wl, NODE_EMISMATCH, "the page leaves out, changes or reorders "
                           "release %zu of the proven list", i + 1);
        m++;
    }
    free(rec);
    if (!rc && m != got->n)
        rc = node_fail(why, wl, NODE_EMISMATCH, "the page holds %zu releases the proof does not",
                       got->n - m);
    return rc;
}

int fwl_verify_list(const fwl_trust *tr, const fwl_ListReleasesReq *q, const uint8_t *frame,
                    size_t len, uint64_t *height, char *why, size_t wl)
{
    if (!q->hardware[0])
        return node_fail(why, wl, LDG_EINVALID, "a list is verified by its hardware model");
    fwl_Response *resp = calloc(1, sizeof *resp);
    list_ctx c = {{{frame, len}, NULL, 0, 0}, {{frame, len}, {NULL, 0}}};
    fwl_proven *pv = NULL;
    int rc = resp ? decode_answer(frame, len, resp, list_member, &c,
                                  fwl_Response_list_releases_tag, "a ListReleases", why, wl)
                  : LDG_ENOMEM;
    if (!rc)
        rc = fwl_proof_check(tr, c.proof.out.buf, c.proof.out.len, &pv, why, wl);
    if (!rc)
        rc = same_block(pv, resp->resp.list_releases.at_height, NULL, 0, why, wl);
    if (!rc)
        rc = check_page(pv, q, &resp->resp.list_releases, &c.records, why, wl);
    if (!rc && height)
        *height = pv->hdr.height;
    fwl_proven_free(pv);
    free(c.records.s);
    free(resp);
    return rc;
}
