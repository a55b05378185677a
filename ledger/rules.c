/*
 * The stateful rules: what a transaction may do given the chain's state (authorised author,
 * strictly newer versions per hardware line, unique file hashes, revocation rights, admin
 * thresholds, replay protection), and the writes it makes.
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

static int apply_publish(wctx *w, const ldg_tx *tx, uint32_t index)
{
    ldg_store *s = w->s;
    const fwl_Release *r = &tx->body.payload.publish.release;
    uint8_t fk[FILE_KEY_MAX], k[PAIR_KEY_MAX];
    size_t fkl = ldg__file_key(fk, &r->file_hash);
    MDB_val v;
    int rc;

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
    if ((rc = ldg__put_pb(w, DB_RELEASES, fk, fkl, fwl_ReleaseRecord_fields, rec)))
        return rc;
    if ((rc = ldg__put(w, DB_BY_PRODUCT, k, ldg__idx_key(k, r->product, w->height, index), fk, fkl, 0)))
        return rc;
    if ((rc = ldg__put(w, DB_ALL, k, ldg__idx_key(k, NULL, w->height, index), fk, fkl, MDB_APPEND)))
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
    return ldg__put_pb(w, DB_RELEASES, fk, fkl, fwl_ReleaseRecord_fields, rec);
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
        MDB_val key = {kl, k};
        if (w->check_only)
            return 0;
        return mdb_del(w->txn, s->db[DB_AUTHORS], &key, NULL) ? LDG_ESTORE : 0;
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

int ldg__apply_tx(wctx *w, const ldg_tx *tx, uint32_t index)
{
    ldg_store *s = w->s;
    MDB_val v;
    uint8_t loc[12];
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

