/*
 * The authenticated state in LMDB: the crit-bit trie of ledger/state.c, kept node by node
 * in the `state` table and updated inside the block's one write transaction.
 *
 * What is in it (every key prefix-free: names end with their NUL, the rest is fixed size):
 *   'a' product 0x00 key id(32)        -> H(AuthorRecord)     authors
 *   'b' product 0x00 model 0x00        -> H(BindingRecord)    bindings
 *   'c' name 0x00                      -> H(ContractRecord)   contracts (latest version)
 *   'h' model 0x00 height(8) index(4)  -> H(ReleaseRecord)    the candidates of a model, in
 *                                                             chain order (by_hw's keys)
 *   'o' file key                       -> H(OutcomeTotals)    outcomes
 *   'r' file key                       -> H(ReleaseRecord)    releases
 *   't' key id(32)                     -> H(TrackerRecord)    trackers
 * where H is the chain hash of the record's stored bytes. ldg__put and ldg__del keep the
 * table-backed leaves in step (state_tag); rules.c sets the 'h' leaves of a release.
 *
 * Node records, keyed by the node's id: be16(bit) then the first ceil(bit/8) bytes of its
 * prefix (a leaf: be16(0x8000 | 8 * key length) then the key):
 *   leaf      'L' hash(32) value hash(32)
 *   internal  'N' hash(32) u8 len, id of child 0, u8 len, id of child 1
 * meta "state_root" holds the root's id (absent: the empty state).
 *
 * A block changes the shape as it goes (every visited node's id goes on the store's dirty
 * list) and hashes once at the end (ldg__state_finish): the dirty nodes deepest first, so
 * that a node's children are final when it is hashed, and the nodes near the root are
 * hashed once per block however many keys changed below them.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/store_internal.h"

#define LEAF_FLAG 0x8000u

typedef struct state_node_id {
    uint8_t b[ID_MAX];
    size_t len;
} node_id;

static size_t id_bit(const uint8_t *id) { return ((size_t)id[0] << 8 | id[1]) & ~LEAF_FLAG; }
static bool id_leaf(const uint8_t *id) { return id[0] & 0x80; }

static void leaf_id(node_id *id, const uint8_t *key, size_t kl)
{
    size_t bits = 8 * kl | LEAF_FLAG;
    id->b[0] = (uint8_t)(bits >> 8), id->b[1] = (uint8_t)bits;
    memcpy(id->b + 2, key, kl);
    id->len = 2 + kl;
}

static void inner_id(node_id *id, const uint8_t *key, size_t bit)
{
    size_t pl = (bit + 7) / 8;
    id->b[0] = (uint8_t)(bit >> 8), id->b[1] = (uint8_t)bit;
    memcpy(id->b + 2, key, pl);
    if (bit & 7)
        id->b[2 + pl - 1] &= (uint8_t)(0xff << (8 - (bit & 7)));
    id->len = 2 + pl;
}

static int bit_of(const uint8_t *k, size_t i) { return k[i >> 3] >> (7 - (i & 7)) & 1; }

static size_t lcp_bits(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return 8 * n;
    size_t j = 0;
    for (uint8_t x = a[i] ^ b[i]; !(x & 0x80); x <<= 1)
        j++;
    return 8 * i + j;
}

/* A node as stored. */
typedef struct {
    bool leaf;
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t vhash[LDG_DIGEST_LEN]; /* leaf */
    node_id child[2];              /* internal */
} node;

static int get_node(ldg_store *s, MDB_txn *txn, const node_id *id, node *n)
{
    MDB_val v;
    int rc = ldg__get(s, txn, DB_STATE, id->b, id->len, &v);
    if (rc)
        return rc == LDG_ENOTFOUND ? LDG_ESTORE : rc; /* a dangling id: a broken tree */
    const uint8_t *p = v.mv_data;
    size_t left = v.mv_size;
    if (left < 1 + LDG_DIGEST_LEN)
        return LDG_ESTORE;
    n->leaf = p[0] == 'L';
    memcpy(n->hash, p + 1, LDG_DIGEST_LEN);
    p += 1 + LDG_DIGEST_LEN, left -= 1 + LDG_DIGEST_LEN;
    if (n->leaf) {
        if (left != LDG_DIGEST_LEN)
            return LDG_ESTORE;
        memcpy(n->vhash, p, LDG_DIGEST_LEN);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        if (left < 1 || p[0] > ID_MAX || p[0] < 2 || left < 1u + p[0])
            return LDG_ESTORE;
        n->child[i].len = p[0];
        memcpy(n->child[i].b, p + 1, p[0]);
        left -= 1u + p[0], p += 1u + p[0];
    }
    return left ? LDG_ESTORE : 0;
}

static int put_node(wctx *w, const node_id *id, const node *n)
{
    uint8_t buf[1 + LDG_DIGEST_LEN + 2 * (1 + ID_MAX)], *p = buf;
    *p++ = n->leaf ? 'L' : 'N';
    memcpy(p, n->hash, LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
    if (n->leaf) {
        memcpy(p, n->vhash, LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
    } else {
        for (int i = 0; i < 2; i++) {
            *p++ = (uint8_t)n->child[i].len;
            memcpy(p, n->child[i].b, n->child[i].len), p += n->child[i].len;
        }
    }
    return ldg__put(w, DB_STATE, id->b, id->len, buf, (size_t)(p - buf), 0);
}

/* The root's id: 0 and *id, or LDG_ENOTFOUND for the empty state. */
static int get_root(ldg_store *s, MDB_txn *txn, node_id *id)
{
    MDB_val v;
    int rc = ldg__get(s, txn, DB_META, "state_root", 10, &v);
    if (rc)
        return rc;
    if (v.mv_size < 2 || v.mv_size > ID_MAX)
        return LDG_ESTORE;
    memcpy(id->b, v.mv_data, v.mv_size);
    id->len = v.mv_size;
    return 0;
}

static int set_root(wctx *w, const node_id *id)
{
    return id ? ldg__put(w, DB_META, "state_root", 10, id->b, id->len, 0)
              : ldg__del(w, DB_META, "state_root", 10);
}

/* Note a node whose hash the block's end must recompute. */
static int mark(ldg_store *s, const node_id *id)
{
    if (id_leaf(id->b))
        return 0; /* leaves are hashed when written */
    if (s->n_dirty == s->cap_dirty) {
        size_t cap = s->cap_dirty ? 2 * s->cap_dirty : 256;
        node_id *d = realloc(s->dirty, cap * sizeof *d);
        if (!d)
            return LDG_ENOMEM;
        s->dirty = d, s->cap_dirty = cap;
    }
    s->dirty[s->n_dirty++] = *id;
    return 0;
}

/* In `parent` (NULL: the root), point the link that was `from` to `to` (NULL: none). */
static int relink(wctx *w, const node_id *parent, int side, const node_id *to)
{
    if (!parent)
        return set_root(w, to);
    node p;
    int rc = get_node(w->s, w->txn, parent, &p);
    if (rc)
        return rc;
    p.child[side] = *to;
    return put_node(w, parent, &p);
}

int ldg__state_set(wctx *w, const uint8_t *key, size_t kl, const uint8_t vhash[LDG_DIGEST_LEN])
{
    if (w->check_only)
        return 0;
    ldg_store *s = w->s;
    node leaf = {.leaf = true};
    node_id lid, cur, parent;
    int rc, side = 0;
    bool has_parent = false;
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    if ((rc = ldg_state_leaf_hash(s->g.hash_alg, key, kl, vhash, leaf.hash)))
        return rc;
    memcpy(leaf.vhash, vhash, LDG_DIGEST_LEN);
    leaf_id(&lid, key, kl);
    if ((rc = get_root(s, w->txn, &cur)) == LDG_ENOTFOUND)
        return (rc = put_node(w, &lid, &leaf)) ? rc : set_root(w, &lid);
    if (rc)
        return rc;
    for (;;) {
        node n;
        if ((rc = get_node(s, w->txn, &cur, &n)))
            return rc;
        if (n.leaf && cur.len == lid.len && !memcmp(cur.b, lid.b, lid.len))
            return put_node(w, &lid, &leaf); /* a new value; the path is marked */
        size_t cbits = id_bit(cur.b), d = lcp_bits(key, kl, cur.b + 2, cur.len - 2);
        if (d > cbits)
            d = cbits;
        if (d >= 8 * kl || (n.leaf && d == cbits))
            return LDG_EINVALID; /* one key would be a prefix of another */
        if (d < cbits) {
            /* The key leaves this node's prefix at bit d: a new node there holds both. */
            node fork = {.leaf = false};
            node_id fid;
            int kb = bit_of(key, d);
            inner_id(&fid, key, d);
            fork.child[kb] = lid;
            fork.child[!kb] = cur;
            if ((rc = put_node(w, &lid, &leaf)) || (rc = put_node(w, &fid, &fork)) ||
                (rc = mark(s, &fid)))
                return rc;
            return relink(w, has_parent ? &parent : NULL, side, &fid);
        }
        if ((rc = mark(s, &cur)))
            return rc;
        side = bit_of(key, cbits);
        parent = cur;
        has_parent = true;
        cur = n.child[side];
    }
}

int ldg__state_del(wctx *w, const uint8_t *key, size_t kl)
{
    if (w->check_only)
        return 0;
    ldg_store *s = w->s;
    node_id lid, cur, parent = {{0}, 0}, grand = {{0}, 0};
    int rc, pside = 0, gside = 0, depth = 0;
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    leaf_id(&lid, key, kl);
    if ((rc = get_root(s, w->txn, &cur)))
        return rc == LDG_ENOTFOUND ? 0 : rc;
    node n;
    for (;; depth++) {
        if ((rc = get_node(s, w->txn, &cur, &n)))
            return rc;
        if (n.leaf) {
            if (cur.len != lid.len || memcmp(cur.b, lid.b, lid.len))
                return 0; /* not there */
            break;
        }
        size_t cbits = id_bit(cur.b);
        if (lcp_bits(key, kl, cur.b + 2, cur.len - 2) < cbits || 8 * kl <= cbits)
            return 0;
        if ((rc = mark(s, &cur)))
            return rc;
        grand = parent, gside = pside;
        parent = cur, pside = bit_of(key, cbits);
        cur = n.child[pside];
    }
    if ((rc = ldg__del(w, DB_STATE, lid.b, lid.len)))
        return rc;
    if (depth == 0)
        return set_root(w, NULL);
    /* The leaf's parent goes; its other child takes its place. */
    if ((rc = get_node(s, w->txn, &parent, &n)) || (rc = ldg__del(w, DB_STATE, parent.b, parent.len)))
        return rc;
    return relink(w, depth > 1 ? &grand : NULL, gside, &n.child[!pside]);
}

/* Deepest first; equal ids next to each other. */
static int dirty_cmp(const void *a, const void *b)
{
    const node_id *x = a, *y = b;
    size_t bx = id_bit(x->b), by = id_bit(y->b);
    if (bx != by)
        return bx < by ? 1 : -1;
    return memcmp(x->b, y->b, x->len < y->len ? x->len : y->len);
}

int ldg__state_finish(wctx *w, uint8_t root[LDG_DIGEST_LEN])
{
    ldg_store *s = w->s;
    int rc = 0;
    qsort(s->dirty, s->n_dirty, sizeof *s->dirty, dirty_cmp);
    for (size_t i = 0; !rc && i < s->n_dirty; i++) {
        const node_id *id = &s->dirty[i];
        if (i && !dirty_cmp(id, &s->dirty[i - 1]))
            continue;
        MDB_val v;
        node n, c0, c1;
        if ((rc = ldg__get(s, w->txn, DB_STATE, id->b, id->len, &v)) == LDG_ENOTFOUND) {
            rc = 0; /* removed since */
            continue;
        }
        if (rc || (rc = get_node(s, w->txn, id, &n)) || (rc = get_node(s, w->txn, &n.child[0], &c0)) ||
            (rc = get_node(s, w->txn, &n.child[1], &c1)) ||
            (rc = ldg_state_node_hash(s->g.hash_alg, id_bit(id->b), id->b + 2, c0.hash, c1.hash,
                                      n.hash)))
            break;
        rc = put_node(w, id, &n);
    }
    s->n_dirty = 0;
    return rc ? rc : ldg__state_root(s, w->txn, root);
}

void ldg__state_begin(ldg_store *s) { s->n_dirty = 0; }

int ldg__state_root(ldg_store *s, MDB_txn *txn, uint8_t root[LDG_DIGEST_LEN])
{
    node_id id;
    node n;
    int rc = get_root(s, txn, &id);
    if (rc == LDG_ENOTFOUND)
        return ldg_state_empty_hash(s->g.hash_alg, root);
    if (rc || (rc = get_node(s, txn, &id, &n)))
        return rc;
    memcpy(root, n.hash, LDG_DIGEST_LEN);
    return 0;
}

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

/* The state key of a table's key: 0 when the table is not in the state. */
static size_t table_key(int db, const void *k, size_t kl, uint8_t out[LDG_STATE_KEY_MAX])
{
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        if (tables[i].db != db)
            continue;
        size_t n = 1 + kl + tables[i].nul;
        if (n > LDG_STATE_KEY_MAX)
            return 0;
        out[0] = tables[i].tag;
        memcpy(out + 1, k, kl);
        if (tables[i].nul)
            out[n - 1] = 0;
        return n;
    }
    return 0;
}

int ldg__state_put_hook(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl,
                        uint8_t vhash[LDG_DIGEST_LEN])
{
    uint8_t sk[LDG_STATE_KEY_MAX], h[LDG_DIGEST_LEN];
    size_t skl = table_key(db, k, kl, sk), n;
    if (!skl)
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
        size_t n, skl = 1 + k.mv_size + nul;
        if (skl > LDG_STATE_KEY_MAX) {
            rc = LDG_ESTORE;
            break;
        }
        sk[0] = tag;
        memcpy(sk + 1, k.mv_data, k.mv_size);
        if (nul)
            sk[skl - 1] = 0;
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

static int set_leaf(void *ctx, const uint8_t *key, size_t kl, const uint8_t *vhash)
{
    return ldg__state_set(ctx, key, kl, vhash);
}

int ldg__state_rebuild(wctx *w, uint8_t root[LDG_DIGEST_LEN])
{
    ldg__state_begin(w->s);
    int rc = all_leaves(w->s, w->txn, set_leaf, w);
    return rc ? rc : ldg__state_finish(w, root);
}

/* ---------------------------------------------------------------------------------------- */
/* Proofs                                                                                    */

void ldg_state_proof_buf_free(ldg_state_proof_buf *b)
{
    free(b->steps);
    free(b->leaves);
    free(b->keys);
    memset(b, 0, sizeof *b);
}

static int add_step(ldg_state_proof_buf *b, size_t bit, const uint8_t *sibling)
{
    if (b->p.n_steps == b->cap_steps) {
        size_t cap = b->cap_steps ? 2 * b->cap_steps : 32;
        ldg_state_step *st = realloc(b->steps, cap * sizeof *st);
        if (!st)
            return LDG_ENOMEM;
        b->steps = st, b->cap_steps = cap, b->p.steps = st;
    }
    b->steps[b->p.n_steps].bit = (uint16_t)bit;
    memcpy(b->steps[b->p.n_steps++].sibling, sibling, LDG_DIGEST_LEN);
    return 0;
}

/* The stored record a state key's leaf hashes (pointing into the transaction's pages). */
static int state_value(ldg_store *s, MDB_txn *txn, const uint8_t *key, size_t kl, MDB_val *v)
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

static int add_proof_leaf(ldg_state_proof_buf *b, const uint8_t *key, size_t kl,
                          const uint8_t *vhash, const MDB_val *val)
{
    if (b->p.n_leaves == b->cap_leaves) {
        size_t cap = b->cap_leaves ? 2 * b->cap_leaves : 16;
        ldg_state_leaf *l = realloc(b->leaves, cap * sizeof *l);
        if (!l)
            return LDG_ENOMEM;
        b->leaves = l, b->cap_leaves = cap;
    }
    size_t need = b->keys_len + kl + val->mv_size;
    if (need > b->keys_cap) {
        size_t cap = b->keys_cap ? 2 * b->keys_cap : 1024;
        while (cap < need)
            cap *= 2;
        uint8_t *k = realloc(b->keys, cap);
        if (!k)
            return LDG_ENOMEM;
        b->keys = k, b->keys_cap = cap;
    }
    ldg_state_leaf *l = &b->leaves[b->p.n_leaves++];
    l->key = (const uint8_t *)(uintptr_t)b->keys_len; /* an offset until the end */
    l->key_len = kl;
    memcpy(l->vhash, vhash, LDG_DIGEST_LEN);
    memcpy(b->keys + b->keys_len, key, kl);
    b->keys_len += kl;
    l->value = (const uint8_t *)(uintptr_t)b->keys_len;
    l->value_len = val->mv_size;
    memcpy(b->keys + b->keys_len, val->mv_data, val->mv_size);
    b->keys_len += val->mv_size;
    return 0;
}

/* Every leaf below id, in key order (child 0 first). */
static int collect(ldg_store *s, MDB_txn *txn, const node_id *top, size_t max,
                   ldg_state_proof_buf *b)
{
    node_id stack[8 * LDG_STATE_KEY_MAX / 8 + 64];
    size_t n = 0;
    int rc = 0;
    stack[n++] = *top;
    while (!rc && n) {
        node_id id = stack[--n];
        node nd;
        if ((rc = get_node(s, txn, &id, &nd)))
            break;
        if (nd.leaf) {
            MDB_val v;
            if (b->p.n_leaves >= max)
                rc = LDG_ETOOBIG;
            else if (!(rc = state_value(s, txn, id.b + 2, id.len - 2, &v)))
                rc = add_proof_leaf(b, id.b + 2, id.len - 2, nd.vhash, &v);
        } else if (n + 2 > sizeof stack / sizeof *stack) {
            rc = LDG_ETOOBIG;
        } else {
            stack[n++] = nd.child[1];
            stack[n++] = nd.child[0];
        }
    }
    return rc;
}

static int prove_walk(ldg_store *s, MDB_txn *txn, const uint8_t *prefix, size_t plen,
                      size_t max, ldg_state_proof_buf *b)
{
    node_id cur;
    size_t pbits = 8 * plen;
    int rc = get_root(s, txn, &cur);
    if (rc == LDG_ENOTFOUND) {
        b->p.witness = LDG_STATE_EMPTY;
        return 0;
    }
    for (; !rc;) {
        node n, sib;
        if ((rc = get_node(s, txn, &cur, &n)))
            break;
        size_t cbits = id_bit(cur.b), d = lcp_bits(prefix, plen, cur.b + 2, cur.len - 2);
        if (d > cbits)
            d = cbits; /* an inner node's last byte is padded */
        if (d >= pbits) /* below the prefix: the range */
            return collect(s, txn, &cur, max, b);
        if (n.leaf || d < cbits) { /* leaves the prefix: the range is empty */
            if (n.leaf) {
                b->p.witness = LDG_STATE_WITNESS_LEAF;
                memcpy(b->p.w_key, cur.b + 2, cur.len - 2);
                b->p.w_key_len = cur.len - 2;
                memcpy(b->p.w_vhash, n.vhash, LDG_DIGEST_LEN);
                return 0;
            }
            node c0, c1;
            if ((rc = get_node(s, txn, &n.child[0], &c0)) || (rc = get_node(s, txn, &n.child[1], &c1)))
                break;
            b->p.witness = LDG_STATE_WITNESS_NODE;
            b->p.w_bit = (uint16_t)cbits;
            memcpy(b->p.w_prefix, cur.b + 2, cur.len - 2);
            memcpy(b->p.w_left, c0.hash, LDG_DIGEST_LEN);
            memcpy(b->p.w_right, c1.hash, LDG_DIGEST_LEN);
            return 0;
        }
        int side = bit_of(prefix, cbits);
        if (!(rc = get_node(s, txn, &n.child[!side], &sib)))
            rc = add_step(b, cbits, sib.hash);
        cur = n.child[side];
    }
    return rc;
}

int ldg_store_prove(ldg_store *s, const uint8_t *prefix, size_t plen, size_t max_leaves,
                    ldg_state_proof_buf *b)
{
    memset(b, 0, sizeof *b);
    if (plen == 0 || plen > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = prove_walk(s, txn, prefix, plen, max_leaves, b);
    ldg__rend(s);
    for (size_t i = 0; !rc && i < b->p.n_leaves; i++) {
        b->leaves[i].key = b->keys + (uintptr_t)b->leaves[i].key;
        b->leaves[i].value = b->keys + (uintptr_t)b->leaves[i].value;
    }
    b->p.leaves = b->leaves;
    b->p.steps = b->steps;
    if (rc)
        ldg_state_proof_buf_free(b);
    return rc;
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
