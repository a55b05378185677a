/*
 * The stateful rules: what a transaction may do given the chain's state (authorised author,
 * strictly newer versions per hardware line, unique file hashes, revocation rights, admin
 * thresholds, contracts that compile, bindings to existing contracts, registered trackers
 * reporting on committed releases, replay protection), and the writes it makes.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/store_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* The stateful rules                                                                        */

static bool key_eq(const fwl_PublicKey *a, const fwl_PublicKey *b)
{
    return a->alg == b->alg && a->key.size == b->key.size &&
           !memcmp(a->key.bytes, b->key.bytes, a->key.size);
}

/* Distinct genesis admins among the signers of tx (ldg_tx_parse refused repeated signers). */
static size_t admin_sigs(const ldg_genesis *g, const ldg_tx *tx)
{
    size_t n = 0;
    for (pb_size_t i = 0; i < tx->env.sigs_count; i++) {
        const fwl_PublicKey *k = &tx->env.sigs[i].signer;
        for (size_t a = 0; a < g->n_admins; a++)
            if (g->admins[a].alg == k->alg && g->admins[a].len == k->key.size &&
                !memcmp(g->admins[a].key, k->key.bytes, k->key.size)) {
                n++;
                break;
            }
    }
    return n;
}

static bool is_admin_tx(const ldg_genesis *g, const ldg_tx *tx)
{
    return admin_sigs(g, tx) >= (g->admin_threshold ? g->admin_threshold : 1);
}

/* Remember that eligibility's inputs changed at this height (meta "revoked_at" or
 * "policy_at": see ldg_store_change_heights). The last write of its rule. */
static int stamp(wctx *w, const char *key)
{
    uint8_t hb[8];
    ldg_be64(hb, w->height);
    return ldg__put(w, DB_META, key, strlen(key), hb, sizeof hb, 0);
}

/* Refuse with code, saying why (for ldg_store_check_tx). */
static int refuse(wctx *w, int code, const char *why)
{
    w->why = why;
    return code;
}

static int apply_publish(wctx *w, const ldg_tx *tx, uint32_t index)
{
    ldg_store *s = w->s;
    const fwl_Release *r = &tx->body.payload.publish.release;
    uint8_t fk[FILE_KEY_MAX], k[PAIR_KEY_MAX];
    size_t fkl = ldg__file_key(fk, &r->file_hash);
    MDB_val v;
    int rc;

    /* Not published in the future (by more than a day of the block's time). Admission
     * (check_only) runs at the tip's time, which may be days old on a quiet chain: the rule
     * waits for the block. */
    if (!w->check_only && r->published_at > w->time_ms / 1000 + LDG_PUBLISHED_AHEAD_MAX_S)
        return refuse(w, LDG_EINVALID, "release.published_at (more than a day ahead)");

    /* The sender must be a registered author of the product. */
    rc = ldg__get(s, w->txn, DB_AUTHORS, k, ldg__pair_key(k, r->product, tx->sender, LDG_DIGEST_LEN), &v);
    if (rc)
        return rc == LDG_ENOTFOUND ? LDG_EUNAUTHORIZED : rc;
    rc = ldg__get(s, w->txn, DB_RELEASES, fk, fkl, &v);
    if (rc != LDG_ENOTFOUND)
        return rc ? rc : LDG_EDUPLICATE;

    /* Per product and hardware line, version and security version strictly increase.
     * Check every line before writing any (see apply_tx). */
    ldg_semver nv, ov;
    ldg_semver_parse(r->version, &nv); /* valid: checked by ldg_tx_parse */
    fwl_LineRecord line;
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        size_t kl = ldg__pair_key(k, r->product, r->hardware[i].model, strlen(r->hardware[i].model));
        rc = ldg__get(s, w->txn, DB_LINES, k, kl, &v);
        if (rc == 0) {
            if (!ldg__pb_dec(&v, fwl_LineRecord_fields, &line) || ldg_semver_parse(line.version, &ov))
                return LDG_ESTORE;
            if (ldg_semver_cmp(&nv, &ov) <= 0 || r->security_version <= line.security_version)
                return LDG_EVERSION;
        } else if (rc != LDG_ENOTFOUND) {
            return rc;
        }
    }
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        size_t kl = ldg__pair_key(k, r->product, r->hardware[i].model, strlen(r->hardware[i].model));
        memset(&line, 0, sizeof line);
        snprintf(line.version, sizeof line.version, "%s", r->version);
        line.security_version = r->security_version;
        memcpy(line.file_hash_key.bytes, fk, fkl);
        line.file_hash_key.size = (pb_size_t)fkl;
        if ((rc = ldg__put_pb(w, DB_LINES, k, kl, fwl_LineRecord_fields, &line)))
            return rc;
        if ((rc = ldg__put(w, DB_BY_HW, k, ldg__idx_key(k, r->hardware[i].model, w->height, index), fk,
                      fkl, 0)))
            return rc;
    }
    uint8_t vhash[LDG_DIGEST_LEN];

    fwl_ReleaseRecord *rec = &s->rec;
    memset(rec, 0, sizeof *rec);
    rec->has_release = true;
    rec->release = *r;
    rec->has_author = true;
    rec->author = tx->env.sigs[0].signer;
    memcpy(rec->tx_hash.bytes, tx->hash, LDG_DIGEST_LEN);
    rec->tx_hash.size = LDG_DIGEST_LEN;
    rec->height = w->height;
    rec->block_time_ms = w->time_ms;
    if ((rc = ldg__put_pb_h(w, DB_RELEASES, fk, fkl, fwl_ReleaseRecord_fields, rec, vhash)) ||
        (rc = ldg__state_lines(w, r, w->height, index, vhash)))
        return rc;
    if ((rc = ldg__put(w, DB_BY_PRODUCT, k, ldg__idx_key(k, r->product, w->height, index), fk, fkl, 0)))
        return rc;
    if ((rc = ldg__put(w, DB_ALL, k, ldg__idx_key(k, NULL, w->height, index), fk, fkl, MDB_APPEND)) ||
        (rc = ldg__log_record(w, fk, fkl, false)))
        return rc;
    w->releases++;
    return 0;
}

static int apply_revoke(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_RevokeTx *r = &tx->body.payload.revoke;
    uint8_t fk[FILE_KEY_MAX];
    size_t fkl = ldg__file_key(fk, &r->file_hash);
    MDB_val v;
    int rc = ldg__get(s, w->txn, DB_RELEASES, fk, fkl, &v);
    if (rc)
        return rc;
    fwl_ReleaseRecord *rec = &s->rec;
    if (!ldg__pb_dec(&v, fwl_ReleaseRecord_fields, rec))
        return LDG_ESTORE;
    if (!key_eq(&rec->author, &tx->env.sigs[0].signer) && !is_admin_tx(&s->g, tx))
        return LDG_EUNAUTHORIZED;
    if (rec->revoked)
        return LDG_EREVOKED;
    rec->revoked = true;
    rec->revoke_reason = r->reason;
    snprintf(rec->revoke_note, sizeof rec->revoke_note, "%s", r->note);
    rec->revoked_height = w->height;
    /* The release's lines in the state hold its record too: where by_hw has it. */
    uint8_t vhash[LDG_DIGEST_LEN];
    if ((rc = ldg__get(s, w->txn, DB_TXS, rec->tx_hash.bytes, rec->tx_hash.size, &v)))
        return rc == LDG_ENOTFOUND ? LDG_ESTORE : rc;
    if (v.mv_size != 12)
        return LDG_ESTORE;
    uint32_t index = ldg_rd32((const uint8_t *)v.mv_data + 8);
    if ((rc = ldg__put_pb_h(w, DB_RELEASES, fk, fkl, fwl_ReleaseRecord_fields, rec, vhash)) ||
        (rc = ldg__state_lines(w, &rec->release, rec->height, index, vhash)) ||
        (rc = ldg__log_record(w, fk, fkl, true)))
        return rc;
    return stamp(w, "revoked_at");
}

static int apply_author(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_AuthorTx *a = &tx->body.payload.author;
    uint8_t id[LDG_DIGEST_LEN], k[PAIR_KEY_MAX];
    MDB_val v;
    int rc;
    if (!is_admin_tx(&s->g, tx))
        return LDG_EUNAUTHORIZED;
    if ((rc = ldg_key_id(&s->g, a->key.alg, a->key.key.bytes, a->key.key.size, id)))
        return rc;
    size_t kl = ldg__pair_key(k, a->product, id, sizeof id);
    rc = ldg__get(s, w->txn, DB_AUTHORS, k, kl, &v);
    if (rc && rc != LDG_ENOTFOUND)
        return rc;
    if (a->op == fwl_AuthorOp_AUTHOR_REMOVE) {
        if (rc)
            return rc;
        return ldg__del(w, DB_AUTHORS, k, kl);
    }
    if (!rc)
        return LDG_EDUPLICATE;
    fwl_AuthorRecord r = fwl_AuthorRecord_init_zero;
    snprintf(r.product, sizeof r.product, "%s", a->product);
    snprintf(r.name, sizeof r.name, "%s", a->name);
    r.has_key = true;
    r.key = a->key;
    r.added_height = w->height;
    return ldg__put_pb(w, DB_AUTHORS, k, kl, fwl_AuthorRecord_fields, &r);
}

/* name 0x00 version(4): the contract_versions key. */
static size_t version_key(uint8_t *out, const char *name, uint32_t version)
{
    uint8_t vb[4];
    ldg_be32(vb, version);
    return ldg__pair_key(out, name, vb, sizeof vb);
}

/* Deploy: admin signatures, then the compile check (after the cheap rules, so a non-admin
 * cannot make every node compile), then the next version number. Writes the record as the
 * latest (contracts) and under its version (contract_versions). */
static int apply_contract(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_ContractTx *c = &tx->body.payload.contract;
    fwl_ContractRecord *rec = &s->contract;
    uint8_t k[PAIR_KEY_MAX];
    size_t nl = strlen(c->name), srcl = strlen(c->source);
    uint32_t version = 1;
    MDB_val v;
    int rc;
    if (!is_admin_tx(&s->g, tx))
        return refuse(w, LDG_EUNAUTHORIZED, "contract: needs admin signatures");
    if (!s->contract_check)
        return refuse(w, LDG_ECONTRACT, "no contract compiler on this node");
    memset(s->contract_err, 0, sizeof s->contract_err);
    if (s->contract_check(s->contract_ctx, c->source, srcl, s->contract_err,
                          sizeof s->contract_err)) {
        s->contract_err[sizeof s->contract_err - 1] = 0;
        return refuse(w, LDG_ECONTRACT, *s->contract_err ? s->contract_err : "contract.source");
    }
    rc = ldg__get(s, w->txn, DB_CONTRACTS, c->name, nl, &v);
    if (rc == 0) {
        if (!ldg__pb_dec(&v, fwl_ContractRecord_fields, rec))
            return LDG_ESTORE;
        if (rec->version == UINT32_MAX)
            return refuse(w, LDG_EINVALID, "contract: no version number left");
        version = rec->version + 1;
    } else if (rc != LDG_ENOTFOUND) {
        return rc;
    }

    uint8_t h[LDG_HASH_MAX];
    size_t hl;
    const uint8_t *parts[] = {(const uint8_t *)c->source};
    if ((rc = ldg_hash(s->g.hash_alg, parts, &srcl, 1, h, &hl)))
        return rc;
    memset(rec, 0, sizeof *rec);
    snprintf(rec->name, sizeof rec->name, "%s", c->name);
    memcpy(rec->source, c->source, srcl + 1);
    rec->version = version;
    rec->height = w->height;
    memcpy(rec->code_hash.bytes, h, hl);
    rec->code_hash.size = (pb_size_t)hl;
    if ((rc = ldg__put_pb(w, DB_CONTRACTS, c->name, nl, fwl_ContractRecord_fields, rec)) ||
        (rc = ldg__put_pb(w, DB_CONTRACT_VERS, k, version_key(k, c->name, version),
                          fwl_ContractRecord_fields, rec)))
        return rc;
    return stamp(w, "policy_at");
}

/* Bind: admin signatures and an existing contract; a binding of the same (product, model)
 * is replaced. Unbind: admin signatures and an existing binding. */
static int apply_bind(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_BindTx *b = &tx->body.payload.bind;
    uint8_t k[PAIR_KEY_MAX];
    size_t kl = ldg__pair_key(k, b->product, b->hardware_model, strlen(b->hardware_model));
    MDB_val v;
    int rc;
    if (!is_admin_tx(&s->g, tx))
        return refuse(w, LDG_EUNAUTHORIZED, "bind: needs admin signatures");
    if (b->unbind) {
        rc = ldg__get(s, w->txn, DB_BINDINGS, k, kl, &v);
        if (rc)
            return rc == LDG_ENOTFOUND ? refuse(w, rc, "bind: no such binding to remove") : rc;
        return (rc = ldg__del(w, DB_BINDINGS, k, kl)) ? rc : stamp(w, "policy_at");
    }
    fwl_ContractRecord *c = &s->contract;
    rc = ldg__get(s, w->txn, DB_CONTRACTS, b->contract, strlen(b->contract), &v);
    if (rc)
        return rc == LDG_ENOTFOUND ? refuse(w, rc, "bind.contract (no such contract)") : rc;
    if (!ldg__pb_dec(&v, fwl_ContractRecord_fields, c))
        return LDG_ESTORE;
    fwl_BindingRecord r = fwl_BindingRecord_init_zero;
    snprintf(r.product, sizeof r.product, "%s", b->product);
    snprintf(r.hardware_model, sizeof r.hardware_model, "%s", b->hardware_model);
    snprintf(r.contract, sizeof r.contract, "%s", b->contract);
    r.contract_version = c->version;
    r.height = w->height;
    if ((rc = ldg__put_pb(w, DB_BINDINGS, k, kl, fwl_BindingRecord_fields, &r)))
        return rc;
    return stamp(w, "policy_at");
}

static int apply_tracker(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_TrackerTx *t = &tx->body.payload.tracker;
    uint8_t id[LDG_DIGEST_LEN];
    MDB_val v;
    int rc;
    if (!is_admin_tx(&s->g, tx))
        return refuse(w, LDG_EUNAUTHORIZED, "tracker: needs admin signatures");
    if ((rc = ldg_key_id(&s->g, t->key.alg, t->key.key.bytes, t->key.key.size, id)))
        return rc;
    rc = ldg__get(s, w->txn, DB_TRACKERS, id, sizeof id, &v);
    if (rc && rc != LDG_ENOTFOUND)
        return rc;
    if (t->op == fwl_AuthorOp_AUTHOR_REMOVE)
        return rc ? refuse(w, rc, "tracker: not registered") : ldg__del(w, DB_TRACKERS, id, sizeof id);
    if (!rc)
        return refuse(w, LDG_EDUPLICATE, "tracker: already registered");
    fwl_TrackerRecord r = fwl_TrackerRecord_init_zero;
    r.has_key = true;
    r.key = t->key;
    snprintf(r.name, sizeof r.name, "%s", t->name);
    r.added_height = w->height;
    return ldg__put_pb(w, DB_TRACKERS, id, sizeof id, fwl_TrackerRecord_fields, &r);
}

static bool add_u64(uint64_t *acc, uint64_t n)
{
    if (*acc > UINT64_MAX - n)
        return false;
    *acc += n;
    return true;
}

/* Report: the sender is a registered tracker; every release exists (revoked ones too: their
 * roll-backs are worth counting); no total overflows. ldg_tx_parse refused a release listed
 * twice, so the new totals can all be computed before the first write. */
static int apply_report(wctx *w, const ldg_tx *tx)
{
    ldg_store *s = w->s;
    const fwl_ReportTx *r = &tx->body.payload.report;
    fwl_OutcomeTotals totals[LDG_REPORT_MAX];
    uint8_t fk[FILE_KEY_MAX];
    MDB_val v;
    int rc = ldg__get(s, w->txn, DB_TRACKERS, tx->sender, LDG_DIGEST_LEN, &v);
    if (rc)
        return rc == LDG_ENOTFOUND ? refuse(w, LDG_EUNAUTHORIZED, "report: sender is not a registered tracker") : rc;
    for (pb_size_t i = 0; i < r->reports_count; i++) {
        const fwl_OutcomeReport *o = &r->reports[i];
        fwl_OutcomeTotals *t = &totals[i];
        size_t fkl = ldg__file_key(fk, &o->file_hash);
        rc = ldg__get(s, w->txn, DB_RELEASES, fk, fkl, &v);
        if (rc)
            return rc == LDG_ENOTFOUND ? refuse(w, rc, "report.reports.file_hash (no such release)") : rc;
        memset(t, 0, sizeof *t);
        rc = ldg__get(s, w->txn, DB_OUTCOMES, fk, fkl, &v);
        if (rc == 0 && !ldg__pb_dec(&v, fwl_OutcomeTotals_fields, t))
            return LDG_ESTORE;
        if (rc && rc != LDG_ENOTFOUND)
            return rc;
        if (!add_u64(&t->succeeded, o->succeeded) || !add_u64(&t->failed, o->failed) ||
            !add_u64(&t->rolled_back, o->rolled_back) || !add_u64(&t->reports, 1))
            return refuse(w, LDG_EINVALID, "report: a release's totals would overflow");
    }
    for (pb_size_t i = 0; i < r->reports_count; i++) {
        size_t fkl = ldg__file_key(fk, &r->reports[i].file_hash);
        if ((rc = ldg__put_pb(w, DB_OUTCOMES, fk, fkl, fwl_OutcomeTotals_fields, &totals[i])))
            return rc;
    }
    return 0;
}

int ldg__apply_tx(wctx *w, const ldg_tx *tx, uint32_t index)
{
    ldg_store *s = w->s;
    MDB_val v;
    uint8_t loc[12];
    w->why = NULL;
    int rc = ldg__get(s, w->txn, DB_TXS, tx->hash, LDG_DIGEST_LEN, &v);
    if (rc != LDG_ENOTFOUND)
        return rc ? rc : LDG_ETXDUP;
    rc = ldg__get(s, w->txn, DB_NONCES, tx->sender, LDG_DIGEST_LEN, &v);
    if (rc == 0 && (v.mv_size != 8 || ldg_rd64(v.mv_data) >= tx->body.nonce))
        return v.mv_size != 8 ? LDG_ESTORE : LDG_EREPLAY;
    if (rc && rc != LDG_ENOTFOUND)
        return rc;

    switch (tx->type) {
    case LDG_TX_PUBLISH: rc = apply_publish(w, tx, index); break;
    case LDG_TX_REVOKE: rc = apply_revoke(w, tx); break;
    case LDG_TX_AUTHOR: rc = apply_author(w, tx); break;
    case LDG_TX_CONTRACT: rc = apply_contract(w, tx); break;
    case LDG_TX_BIND: rc = apply_bind(w, tx); break;
    case LDG_TX_TRACKER: rc = apply_tracker(w, tx); break;
    case LDG_TX_REPORT: rc = apply_report(w, tx); break;
    default: rc = LDG_EINVALID;
    }
    if (rc)
        return rc;
    uint8_t nb[8];
    ldg_be64(nb, tx->body.nonce);
    if ((rc = ldg__put(w, DB_NONCES, tx->sender, LDG_DIGEST_LEN, nb, 8, 0)))
        return rc;
    ldg_be64(loc, w->height);
    ldg_be32(loc + 8, index);
    return ldg__put(w, DB_TXS, tx->hash, LDG_DIGEST_LEN, loc, sizeof loc, 0);
}

