/*
 * The authenticated state's leaves (the tree is store_state.c): which tables are in the
 * state and under which keys (docs/verification.md, The state), the hooks ldg__put and
 * ldg__del call, a release's lines, and every leaf read back from the tables: to build the
 * tree for a store written before it existed, and to check it (fwledgerd --verify-state).
 *
 *   'a' product 0x00 key id(32)        -> H(AuthorRecord)     authors
 *   'b' product 0x00 model 0x00        -> H(BindingRecord)    bindings
 *   'c' name 0x00                      -> H(ContractRecord)   contracts (latest version)
 *   'h' model 0x00 height(8) index(4)  -> H(ReleaseRecord)    the candidates of a model, in
 *                                                             chain order (by_hw's keys)
 *   'o' file key                       -> H(OutcomeTotals)    outcomes
 *   'r' file key                       -> H(ReleaseRecord)    releases
 *   't' key id(32)                     -> H(TrackerRecord)    trackers
 * where H is the chain hash of the record's stored bytes. Every key is prefix-free: names
 * end with their NUL, the rest is fixed size.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/store_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Which tables are in the state, under which tag                                            */

static const struct {
    int db;
    uint8_t tag;
    bool nul; /* the table's key ends with a name: the state key adds its NUL */
} tables[] = {
    {DB_AUTHORS, 'a', false}, {DB_BINDINGS, 'b', true}, {DB_CONTRACTS, 'c', true},
    {DB_OUTCOMES, 'o', false}, {DB_RELEASES, 'r', false}, {DB_TRACKERS, 't', false},
};

/* tag || a table's key (|| NUL): 0 when too long. */
static size_t state_key(uint8_t tag, bool nul, const void *k, size_t kl,
                        uint8_t out[LDG_STATE_KEY_MAX])
{
    size_t n = 1 + kl + nul;
    if (n > LDG_STATE_KEY_MAX)
        return 0;
    out[0] = tag;
    memcpy(out + 1, k, kl);
    if (nul)
        out[n - 1] = 0;
    return n;
}

/* The state key of a table's key: 0 when the table is not in the state. */
static size_t table_key(int db, const void *k, size_t kl, uint8_t out[LDG_STATE_KEY_MAX])
{
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        if (tables[i].db == db)
            return state_key(tables[i].tag, tables[i].nul, k, kl, out);
    return 0;
}

int ldg__state_put_hook(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl,
                        uint8_t vhash[LDG_DIGEST_LEN])
{
    uint8_t sk[LDG_STATE_KEY_MAX], h[LDG_DIGEST_LEN];
    size_t skl = table_key(db, k, kl, sk), n;
    if (!skl || w->s->no_state_tree)
        return 0;
    const uint8_t *parts[1] = {v};
    int rc = ldg_hash(w->s->g.hash_alg, parts, &vl, 1, h, &n);
    if (!rc && vhash)
        memcpy(vhash, h, LDG_DIGEST_LEN);
    return rc ? rc : ldg__state_set(w, sk, skl, h);
}

int ldg__state_del_hook(wctx *w, int db, const void *k, size_t kl)
{
    uint8_t sk[LDG_STATE_KEY_MAX];
    size_t skl = table_key(db, k, kl, sk);
    return skl ? ldg__state_del(w, sk, skl) : 0;
}

int ldg__state_lines(wctx *w, const fwl_Release *r, uint64_t height, uint32_t index,
                     const uint8_t vhash[LDG_DIGEST_LEN])
{
    uint8_t sk[LDG_STATE_KEY_MAX];
    int rc = 0;
    sk[0] = 'h';
    for (pb_size_t i = 0; !rc && i < r->hardware_count; i++)
        rc = ldg__state_set(w, sk, 1 + ldg__idx_key(sk + 1, r->hardware[i].model, height, index),
                            vhash);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Every leaf, from the tables, in key order: for rebuilding and checking the tree           */

typedef int (*leaf_fn)(void *ctx, const uint8_t *key, size_t kl, const uint8_t *vhash);

static int table_leaves(ldg_store *s, MDB_txn *txn, int db, uint8_t tag, bool nul, leaf_fn fn,
                        void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->db[db], &c), op = MDB_FIRST;
    if (rc)
        return LDG_ESTORE;
    while (!(rc = mdb_cursor_get(c, &k, &v, op))) {
        op = MDB_NEXT;
        uint8_t sk[LDG_STATE_KEY_MAX], h[LDG_DIGEST_LEN];
        size_t n, skl = state_key(tag, nul, k.mv_data, k.mv_size, sk);
        if (!skl) {
            rc = LDG_ESTORE;
            break;
        }
        if (tag == 'h') { /* by_hw: the value names the release; the leaf holds its record */
            MDB_val rec;
            if ((rc = ldg__get(s, txn, DB_RELEASES, v.mv_data, v.mv_size, &rec)))
                break;
            v = rec;
        }
        const uint8_t *parts[1] = {v.mv_data};
        if ((rc = ldg_hash(s->g.hash_alg, parts, &v.mv_size, 1, h, &n)) ||
            (rc = fn(ctx, sk, skl, h)))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc > 0 ? LDG_ESTORE : rc;
}

static int all_leaves(ldg_store *s, MDB_txn *txn, leaf_fn fn, void *ctx)
{
    int rc = 0;
    /* In tag order: 'a' 'b' 'c' then the lines 'h', then 'o' 'r' 't'. */
    for (size_t i = 0; !rc && i < 3; i++)
        rc = table_leaves(s, txn, tables[i].db, tables[i].tag, tables[i].nul, fn, ctx);
    if (!rc)
        rc = table_leaves(s, txn, DB_BY_HW, 'h', false, fn, ctx);
    for (size_t i = 3; !rc && i < sizeof tables / sizeof *tables; i++)
        rc = table_leaves(s, txn, tables[i].db, tables[i].tag, tables[i].nul, fn, ctx);
    return rc;
}

static int add_leaf(void *ctx, const uint8_t *key, size_t kl, const uint8_t *vhash)
{
    return ldg_state_builder_add(ctx, key, kl, vhash);
}

int ldg__state_recompute(ldg_store *s, MDB_txn *txn, uint8_t root[LDG_DIGEST_LEN])
{
    ldg_state_builder *b;
    int rc = ldg_state_builder_new(s->g.hash_alg, &b);
    if (rc)
        return rc;
    if (!(rc = all_leaves(s, txn, add_leaf, b)))
        rc = ldg_state_builder_root(b, root);
    ldg_state_builder_free(b);
    return rc;
}

typedef struct {
    wctx *w;
    size_t n;
} rebuild_ctx;

/* Hashed and written every REBUILD_BATCH leaves, so that the working set stays small. */
#define REBUILD_BATCH 8192

static int set_leaf(void *ctx, const uint8_t *key, size_t kl, const uint8_t *vhash)
{
    rebuild_ctx *r = ctx;
    uint8_t root[LDG_DIGEST_LEN];
    int rc = ldg__state_set(r->w, key, kl, vhash);
    if (!rc && ++r->n % REBUILD_BATCH == 0 && !(rc = ldg__state_finish(r->w, root)))
        ldg__state_begin(r->w->s);
    return rc;
}

int ldg__state_rebuild(wctx *w, uint8_t root[LDG_DIGEST_LEN])
{
    rebuild_ctx r = {w, 0};
    ldg__state_begin(w->s);
    int rc = all_leaves(w->s, w->txn, set_leaf, &r);
    return rc ? rc : ldg__state_finish(w, root);
}

/* The stored record a state key's leaf hashes (pointing into the transaction's pages). */
int ldg__state_value(ldg_store *s, MDB_txn *txn, const uint8_t *key, size_t kl, MDB_val *v)
{
    if (key[0] == 'h') { /* a line: by_hw names the release */
        int rc = ldg__get(s, txn, DB_BY_HW, key + 1, kl - 1, v);
        return rc ? rc : ldg__get(s, txn, DB_RELEASES, v->mv_data, v->mv_size, v);
    }
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        if (tables[i].tag == key[0])
            return ldg__get(s, txn, tables[i].db, key + 1, kl - 1 - tables[i].nul, v);
    return LDG_ESTORE;
}

int ldg_store_state_root(ldg_store *s, uint8_t root[LDG_DIGEST_LEN])
{
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__state_root(s, txn, root);
    ldg__rend(s);
    return rc;
}

int ldg_store_verify_state(ldg_store *s, uint8_t stored[LDG_DIGEST_LEN],
                           uint8_t computed[LDG_DIGEST_LEN])
{
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    if (!(rc = ldg__state_root(s, txn, stored)))
        rc = ldg__state_recompute(s, txn, computed);
    ldg__rend(s);
    return rc ? rc : memcmp(stored, computed, LDG_DIGEST_LEN) ? LDG_EPROOF : 0;
}
