/*
 * The read queries: each is one LMDB read transaction (a consistent snapshot) on the store's
 * reusable read transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/store_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Reads                                                                                     */

static int copy_out(const MDB_val *v, uint8_t **out, size_t *len)
{
    *out = malloc(v->mv_size ? v->mv_size : 1);
    if (!*out)
        return LDG_ENOMEM;
    memcpy(*out, v->mv_data, v->mv_size);
    *len = v->mv_size;
    return 0;
}

int ldg_store_block_by_height(ldg_store *s, uint64_t height, uint8_t **out, size_t *len,
                              uint8_t hash[LDG_DIGEST_LEN])
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t hb[8];
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    ldg_be64(hb, height);
    rc = ldg__get(s, txn, DB_BLOCKS, hb, 8, &v);
    if (!rc) {
        ldg_block b;
        rc = ldg_block_decode(v.mv_data, v.mv_size, &b);
        if (!rc) {
            rc = ldg_block_hash(&s->g, b.hdr_raw, b.hdr_len, hash);
            ldg_block_free(&b);
        }
        if (!rc)
            rc = copy_out(&v, out, len);
    }
    ldg__rend(s);
    return rc;
}

int ldg_store_block_cert(ldg_store *s, uint64_t height, ldg_block *out)
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t hb[8];
    memset(out, 0, sizeof *out);
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    ldg_be64(hb, height);
    if (!(rc = ldg__get(s, txn, DB_BLOCKS, hb, 8, &v)) &&
        !(rc = ldg_block_decode(v.mv_data, v.mv_size, out))) {
        /* the transactions point into the read transaction's pages: not kept */
        free(out->tx_raw);
        free(out->tx_len);
        out->tx_raw = NULL;
        out->tx_len = NULL;
        out->n_txs = 0;
    }
    ldg__rend(s);
    return rc;
}

int ldg_store_block_by_hash(ldg_store *s, const uint8_t hash[LDG_DIGEST_LEN], uint8_t **out,
                            size_t *len, uint64_t *height)
{
    MDB_txn *txn;
    MDB_val v, hv;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__get(s, txn, DB_BLOCK_IDX, hash, LDG_DIGEST_LEN, &hv);
    if (!rc && hv.mv_size != 8)
        rc = LDG_ESTORE;
    if (!rc)
        rc = ldg__get(s, txn, DB_BLOCKS, hv.mv_data, 8, &v);
    if (!rc) {
        *height = ldg_rd64(hv.mv_data);
        rc = copy_out(&v, out, len);
    }
    ldg__rend(s);
    return rc;
}

int ldg_store_tx_location(ldg_store *s, const uint8_t hash[LDG_DIGEST_LEN], uint64_t *height,
                          uint32_t *index, uint8_t block_hash[LDG_DIGEST_LEN])
{
    MDB_txn *txn;
    MDB_val v;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__get(s, txn, DB_TXS, hash, LDG_DIGEST_LEN, &v);
    if (!rc && v.mv_size != 12)
        rc = LDG_ESTORE;
    if (!rc) {
        *height = ldg_rd64(v.mv_data);
        *index = ldg_rd32((const uint8_t *)v.mv_data + 8);
    }
    ldg__rend(s);
    if (rc)
        return rc;
    /* The block hash: the tip's when it is the newest block (the common case for WaitForTx). */
    if (*height == s->tip.height) {
        memcpy(block_hash, s->tip.hash, LDG_DIGEST_LEN);
        return 0;
    }
    uint8_t *blk;
    size_t len;
    rc = ldg_store_block_by_height(s, *height, &blk, &len, block_hash);
    if (!rc)
        free(blk);
    return rc;
}

int ldg_store_release_raw(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                          uint8_t *buf, size_t cap, size_t *out_len, uint64_t *at_height)
{
    uint8_t fk[FILE_KEY_MAX];
    MDB_txn *txn;
    MDB_val v;
    ldg_tip t;
    size_t fkl = ldg__raw_file_key(fk, alg, digest, len);
    if (!fkl)
        return LDG_ENOTFOUND;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__get(s, txn, DB_RELEASES, fk, fkl, &v);
    if (!rc && v.mv_size > cap)
        rc = LDG_ETOOBIG;
    if (!rc && !(rc = ldg__read_tip(s, txn, &t))) {
        memcpy(buf, v.mv_data, v.mv_size);
        *out_len = v.mv_size;
        *at_height = t.height;
    }
    ldg__rend(s);
    return rc;
}

int ldg_store_release(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                      fwl_ReleaseRecord *out, uint64_t *at_height)
{
    uint8_t buf[fwl_ReleaseRecord_size];
    size_t n;
    int rc = ldg_store_release_raw(s, alg, digest, len, buf, sizeof buf, &n, at_height);
    if (rc)
        return rc;
    MDB_val v = {n, buf};
    return ldg__pb_dec(&v, fwl_ReleaseRecord_fields, out) ? 0 : LDG_ESTORE;
}

int ldg_store_list_releases(ldg_store *s, const char *product, const char *hardware,
                            uint32_t limit, const uint8_t *cursor, size_t cursor_len,
                            ldg_release_cb cb, void *ctx, uint8_t *next, size_t *next_len,
                            uint64_t *at_height)
{
    /* Scan the narrowest index we have; filter on the other attribute. */
    int db = *product ? DB_BY_PRODUCT : *hardware ? DB_BY_HW : DB_ALL;
    const char *name = *product ? product : *hardware ? hardware : NULL;
    uint8_t prefix[IDX_KEY_MAX];
    size_t plen = name ? strlen(name) + 1 : 0;
    size_t max_scan;
    *next_len = 0;
    if (plen + 12 > IDX_KEY_MAX || cursor_len > IDX_KEY_MAX)
        return LDG_EINVALID;
    if (name)
        memcpy(prefix, name, plen);
    if (cursor_len && (cursor_len != plen + 12 || memcmp(cursor, prefix, plen)))
        return LDG_EINVALID; /* a cursor from another query */
    limit = limit == 0 ? LIST_DEFAULT : limit > LIST_MAX ? LIST_MAX : limit;
    max_scan = (size_t)limit * 16 + 1024; /* bounds the work a selective filter can cause */

    MDB_txn *txn;
    MDB_cursor *cur;
    ldg_tip t;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    if ((rc = ldg__read_tip(s, txn, &t)) || mdb_cursor_open(txn, s->db[db], &cur)) {
        ldg__rend(s);
        return rc ? rc : LDG_ESTORE;
    }
    *at_height = t.height;
    MDB_val k = {cursor_len ? cursor_len : plen, (void *)(cursor_len ? cursor : prefix)}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
    if (!mrc && cursor_len && k.mv_size == cursor_len && !memcmp(k.mv_data, cursor, cursor_len))
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    uint32_t n = 0;
    size_t scanned = 0;
    fwl_ReleaseRecord *rec = &s->rec;
    for (; !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + 12 || memcmp(k.mv_data, prefix, plen))
            break; /* past the prefix */
        if (n == limit || ++scanned > max_scan) {
            /* More to come: the cursor is the last key handed out or looked at. */
            break;
        }
        memcpy(next, k.mv_data, k.mv_size);
        MDB_val rv;
        if ((rc = ldg__get(s, txn, DB_RELEASES, v.mv_data, v.mv_size, &rv)))
            break;
        if (!ldg__pb_dec(&rv, fwl_ReleaseRecord_fields, rec)) {
            rc = LDG_ESTORE;
            break;
        }
        bool match = true;
        if (*product && *hardware) {
            match = false;
            for (pb_size_t i = 0; i < rec->release.hardware_count; i++)
                match |= !strcmp(rec->release.hardware[i].model, hardware);
        }
        if (match) {
            n++;
            if ((rc = cb(ctx, rec)))
                break;
        }
    }
    /* A cursor is returned only when the loop stopped early inside the prefix. */
    if (!rc && !mrc && k.mv_size == plen + 12 && !memcmp(k.mv_data, prefix, plen) &&
        (n == limit || scanned > max_scan))
        *next_len = plen + 12;
    else if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = LDG_ESTORE;
    mdb_cursor_close(cur);
    ldg__rend(s);
    return rc;
}

int ldg_store_nonce(ldg_store *s, uint32_t alg, const uint8_t *key, size_t len, uint64_t *nonce)
{
    uint8_t id[LDG_DIGEST_LEN];
    MDB_txn *txn;
    MDB_val v;
    int rc = ldg_key_id(&s->g, alg, key, len, id);
    if (rc || (rc = ldg__rbegin(s, &txn)))
        return rc;
    rc = ldg__get(s, txn, DB_NONCES, id, sizeof id, &v);
    *nonce = 0;
    if (!rc && v.mv_size == 8)
        *nonce = ldg_rd64(v.mv_data);
    ldg__rend(s);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* A record of db under key, decoded. Errors: LDG_ENOTFOUND, LDG_ESTORE. */
static int read_record(ldg_store *s, int db, const void *k, size_t kl, const pb_msgdesc_t *f,
                       void *out)
{
    MDB_txn *txn;
    MDB_val v;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__get(s, txn, db, k, kl, &v);
    if (!rc && !ldg__pb_dec(&v, f, out))
        rc = LDG_ESTORE;
    ldg__rend(s);
    return rc;
}

/* Names from the caller (an RPC) are bounded before they size a key: at most 64 characters
 * (NAME_SIZE with the NUL), like every name on the ledger. */
static bool name_fits(const char *name)
{
    return strnlen(name, NAME_SIZE) < NAME_SIZE;
}

int ldg_store_contract(ldg_store *s, const char *name, fwl_ContractRecord *out)
{
    if (!name_fits(name))
        return LDG_ENOTFOUND;
    return read_record(s, DB_CONTRACTS, name, strlen(name), fwl_ContractRecord_fields, out);
}

int ldg_store_contract_version(ldg_store *s, const char *name, uint32_t version,
                               fwl_ContractRecord *out)
{
    uint8_t k[PAIR_KEY_MAX], vb[4];
    if (!name_fits(name))
        return LDG_ENOTFOUND;
    ldg_be32(vb, version);
    return read_record(s, DB_CONTRACT_VERS, k, ldg__pair_key(k, name, vb, sizeof vb),
                       fwl_ContractRecord_fields, out);
}

int ldg_store_binding(ldg_store *s, const char *product, const char *model,
                      fwl_BindingRecord *out)
{
    uint8_t k[PAIR_KEY_MAX];
    int rc = LDG_ENOTFOUND;
    if (!name_fits(product) || !name_fits(model))
        return LDG_ENOTFOUND;
    if (*model)
        rc = read_record(s, DB_BINDINGS, k, ldg__pair_key(k, product, model, strlen(model)),
                         fwl_BindingRecord_fields, out);
    if (rc == LDG_ENOTFOUND)
        rc = read_record(s, DB_BINDINGS, k, ldg__pair_key(k, product, "", 0),
                         fwl_BindingRecord_fields, out);
    return rc;
}

int ldg_store_tracker(ldg_store *s, uint32_t alg, const uint8_t *key, size_t len,
                      fwl_TrackerRecord *out)
{
    uint8_t id[LDG_DIGEST_LEN];
    int rc = ldg_key_id(&s->g, alg, key, len, id);
    return rc ? rc : read_record(s, DB_TRACKERS, id, sizeof id, fwl_TrackerRecord_fields, out);
}

int ldg_store_outcomes(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                       fwl_OutcomeTotals *out)
{
    uint8_t fk[FILE_KEY_MAX];
    size_t fkl = ldg__raw_file_key(fk, alg, digest, len);
    memset(out, 0, sizeof *out);
    if (!fkl)
        return 0;
    int rc = read_record(s, DB_OUTCOMES, fk, fkl, fwl_OutcomeTotals_fields, out);
    if (rc == LDG_ENOTFOUND)
        memset(out, 0, sizeof *out);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

int ldg_store_model_height(ldg_store *s, const char *model, uint64_t *height)
{
    uint8_t k[IDX_KEY_MAX];
    MDB_txn *txn;
    MDB_cursor *cur;
    *height = 0;
    if (!name_fits(model))
        return 0;
    /* The last by_hw key of the model: before the greatest key its prefix allows. */
    size_t plen = strlen(model) + 1;
    memcpy(k, model, plen);
    memset(k + plen, 0xff, 12);
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    if (mdb_cursor_open(txn, s->db[DB_BY_HW], &cur)) {
        ldg__rend(s);
        return LDG_ESTORE;
    }
    MDB_val kv = {plen + 12, k}, v;
    int mrc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
    if (mrc == 0 && kv.mv_size == plen + 12 && !memcmp(kv.mv_data, k, plen + 12))
        mrc = 0; /* the greatest key itself (height and index all ones: never written) */
    else
        mrc = mdb_cursor_get(cur, &kv, &v, mrc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    if (mrc == 0 && kv.mv_size == plen + 12 && !memcmp(kv.mv_data, k, plen))
        *height = ldg_rd64((const uint8_t *)kv.mv_data + plen);
    else if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = LDG_ESTORE;
    mdb_cursor_close(cur);
    ldg__rend(s);
    return rc;
}

static int meta_height(ldg_store *s, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val v;
    int rc = ldg__get(s, txn, DB_META, key, strlen(key), &v);
    *out = 0;
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (!rc && v.mv_size != 8)
        rc = LDG_ESTORE;
    if (!rc)
        *out = ldg_rd64(v.mv_data);
    return rc;
}

int ldg_store_change_heights(ldg_store *s, uint64_t *revoked_at, uint64_t *policy_at)
{
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = meta_height(s, txn, "revoked_at", revoked_at);
    if (!rc)
        rc = meta_height(s, txn, "policy_at", policy_at);
    ldg__rend(s);
    return rc;
}
