/*
 * The release log in LMDB (issue 11): the RFC 9162 log of ledger/log.c kept in the `log`
 * table and grown inside the block's one write transaction, so a block that fails leaves no
 * leaf behind.
 *
 * Every publish and every revocation appends one leaf, ldg_merkle_leaf(chain hash, the
 * ReleaseRecord's bytes exactly as that transaction stored them): the log holds every
 * version of every release record in chain order, and every header names its size and root
 * after the block. A monitor holding two certified heads can then check that the later log
 * only added to the earlier one (a consistency proof), and a device that a release's record
 * is in it (an inclusion proof), without trusting the node that serves the proofs.
 *
 * Tables: log, level(1) index(8) -> the hash of that perfect subtree (log.c says why that is
 * all a log needs); meta "log_size" -> size(8), absent for 0; log_idx, file key -> the leaf
 * index(8) of its publish, then that of its revocation(8) once revoked. A store written
 * before the log has releases without a log_idx entry: a revocation of one records
 * LDG_LOG_NONE as its publish leaf.
 */
#include <string.h>

#include "ledger/store_internal.h"

#define LOG_KEY_LEN 9
#define SIZE_KEY "log_size"

/* The log's storage over one transaction: reads in txn, writes through ldg__put on w (so
 * that the test hook and check_only apply as to every other write); w NULL: reads only. */
typedef struct {
    ldg_store *s;
    MDB_txn *txn;
    wctx *w;
} log_ctx;

static void log_key(uint8_t k[LOG_KEY_LEN], unsigned level, uint64_t index)
{
    k[0] = (uint8_t)level;
    ldg_be64(k + 1, index);
}

static int log_get(void *ctx, unsigned level, uint64_t index, uint8_t *out)
{
    const log_ctx *c = ctx;
    uint8_t k[LOG_KEY_LEN];
    MDB_val v;
    log_key(k, level, index);
    int rc = ldg__get(c->s, c->txn, DB_LOG, k, sizeof k, &v);
    if (rc)
        return rc;
    if (v.mv_size != LDG_DIGEST_LEN)
        return LDG_ESTORE;
    memcpy(out, v.mv_data, LDG_DIGEST_LEN);
    return 0;
}

static int log_put(void *ctx, unsigned level, uint64_t index, const uint8_t *hash)
{
    const log_ctx *c = ctx;
    uint8_t k[LOG_KEY_LEN];
    log_key(k, level, index);
    return ldg__put(c->w, DB_LOG, k, sizeof k, hash, LDG_DIGEST_LEN, 0);
}

static int read_size(ldg_store *s, MDB_txn *txn, uint64_t *size)
{
    MDB_val v;
    int rc = ldg__get(s, txn, DB_META, SIZE_KEY, strlen(SIZE_KEY), &v);
    *size = 0;
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return LDG_ESTORE;
    *size = ldg_rd64(v.mv_data);
    return 0;
}

/* The log's own errors (a missing entry, a size its leaves contradict) are the store's
 * fault, never a transaction's: the block stops (ldg_is_disk_error) instead of refusing one
 * transaction whose writes are already in. */
static int store_fault(int rc)
{
    return rc == 0 || ldg_is_disk_error(rc) || rc == LDG_ENOMEM ? rc : LDG_ESTORE;
}

/* log_idx's value for fk after this append at index `at`: the publish's index, or the
 * publish's followed by the revocation's. */
static int leaf_entry(wctx *w, const uint8_t *fk, size_t fkl, bool revoke, uint64_t at,
                      uint8_t out[16], size_t *len)
{
    MDB_val v;
    *len = 8;
    if (revoke) {
        int rc = ldg__get(w->s, w->txn, DB_LOG_IDX, fk, fkl, &v);
        if (rc == LDG_ENOTFOUND) /* published before the store had a log */
            ldg_be64(out, LDG_LOG_NONE);
        else if (rc || v.mv_size != 8) /* revoked twice: the rules refuse that */
            return rc ? rc : LDG_ESTORE;
        else
            memcpy(out, v.mv_data, 8);
        *len = 16;
    }
    ldg_be64(out + *len - 8, at);
    return 0;
}

int ldg__log_record(wctx *w, const uint8_t *fk, size_t fkl, bool revoke)
{
    if (w->check_only)
        return 0;
    ldg_store *s = w->s;
    log_ctx c = {s, w->txn, w};
    const ldg_log_io io = {log_get, log_put, &c};
    uint8_t leaf[LDG_HASH_MAX], entry[16], sb[8];
    uint64_t size;
    size_t el = 8;
    MDB_val v;
    /* The record as stored: the leaf is computed before the next write moves LMDB's pages. */
    int rc = read_size(s, w->txn, &size);
    if (!rc && !(rc = ldg__get(s, w->txn, DB_RELEASES, fk, fkl, &v)))
        rc = ldg_merkle_leaf(s->g.hash_alg, v.mv_data, v.mv_size, leaf);
    if (!rc)
        rc = leaf_entry(w, fk, fkl, revoke, size, entry, &el);
    if (!rc)
        rc = ldg_log_append(s->g.hash_alg, &io, size, leaf);
    ldg_be64(sb, size + 1);
    if (!rc)
        rc = ldg__put(w, DB_LOG_IDX, fk, fkl, entry, el, 0);
    if (!rc)
        rc = ldg__put(w, DB_META, SIZE_KEY, strlen(SIZE_KEY), sb, sizeof sb, 0);
    return store_fault(rc);
}

int ldg__log_head(ldg_store *s, MDB_txn *txn, uint64_t *size, uint8_t root[LDG_DIGEST_LEN])
{
    log_ctx c = {s, txn, NULL};
    const ldg_log_io io = {log_get, NULL, &c};
    int rc = read_size(s, txn, size);
    return store_fault(rc ? rc : ldg_log_root(s->g.hash_alg, &io, *size, root));
}

/* ---------------------------------------------------------------------------------------- */
/* Reads: one read transaction each (or the open snapshot)                                   */

int ldg_store_log_head(ldg_store *s, uint64_t *size, uint8_t root[LDG_DIGEST_LEN])
{
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__log_head(s, txn, size, root);
    ldg__rend(s);
    return rc;
}

int ldg_store_log_leaves(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                         uint64_t *published, uint64_t *revoked)
{
    uint8_t fk[FILE_KEY_MAX];
    MDB_txn *txn;
    MDB_val v;
    size_t fkl = ldg__raw_file_key(fk, alg, digest, len);
    *published = *revoked = LDG_LOG_NONE;
    if (!fkl)
        return LDG_ENOTFOUND;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__get(s, txn, DB_LOG_IDX, fk, fkl, &v);
    if (!rc && v.mv_size != 8 && v.mv_size != 16)
        rc = LDG_ESTORE;
    if (!rc) {
        *published = ldg_rd64(v.mv_data);
        if (v.mv_size == 16)
            *revoked = ldg_rd64((const uint8_t *)v.mv_data + 8);
    }
    ldg__rend(s);
    return rc;
}

/* A proof over the store's log: inclusion of leaf a in the log of size b, or consistency of
 * size a with size b. A missing entry means a size past the log's: the caller's error. */
static int log_proof(ldg_store *s, bool inclusion, uint64_t a, uint64_t b, uint8_t *path,
                     size_t cap, size_t *n)
{
    MDB_txn *txn;
    uint64_t size;
    *n = 0;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    log_ctx c = {s, txn, NULL};
    const ldg_log_io io = {log_get, NULL, &c};
    if (!(rc = read_size(s, txn, &size)) && b > size)
        rc = LDG_EINVALID;
    if (!rc)
        rc = inclusion ? ldg_log_inclusion(s->g.hash_alg, &io, a, b, path, cap, n)
                       : ldg_log_consistency(s->g.hash_alg, &io, a, b, path, cap, n);
    ldg__rend(s);
    return rc == LDG_ENOTFOUND ? LDG_ESTORE : rc;
}

int ldg_store_log_inclusion(ldg_store *s, uint64_t index, uint64_t size, uint8_t *path,
                            size_t cap, size_t *n)
{
    return log_proof(s, true, index, size, path, cap, n);
}

int ldg_store_log_consistency(ldg_store *s, uint64_t m, uint64_t n, uint8_t *path, size_t cap,
                              size_t *count)
{
    return log_proof(s, false, m, n, path, cap, count);
}
