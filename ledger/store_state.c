/*
 * The authenticated state's tree in LMDB: the crit-bit trie of ledger/state.c, kept node by
 * node in the `state` table and changed inside the block's one write transaction. Its
 * leaves (which records, under which keys) are store_leaves.c's; its proofs store_proof.c's.
 *
 * A node's id is be16(bit) then the first ceil(bit/8) bytes of its prefix (a leaf's:
 * be16(0x8000 | 8 * key length) then the key). Nodes are never rewritten: a block writes a
 * new version of each node it changes under be64(its height) || id, so a block's writes go
 * to the table's end in key order (MDB_APPEND: sequential pages, where rewriting nodes in
 * place dirtied pages all over the table), and a version, once written, never changes:
 *   leaf      'L' hash(32) value hash(32)
 *   internal  'N' hash(32) child 0's hash(32) child 1's hash(32)
 *             per child: u8 len, version(8), id
 * A parent names its children's versions and keeps their hashes, so hashing a node or
 * proving a path reads no sibling. meta "state_root" holds the root's version and id
 * (absent: the empty state). Versions a later block replaced stay behind (they would let a
 * proof be served at an older height); nothing prunes them yet (docs/verification.md).
 *
 * A block works on a cache of the nodes it touches (struct state_cache): each is read from
 * LMDB once, changed in memory as the block's keys go in (a changed node is marked dirty;
 * each knows its parent in the cache), and at the block's end (ldg__state_finish) the dirty
 * nodes are hashed deepest first, each passing its hash and new version up to its parent,
 * and written once. The nodes near the root are so read, hashed and written once per block
 * however many keys changed below them.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/store_internal.h"

#define LEAF_FLAG 0x8000u

size_t ldg__id_bit(const uint8_t *id) { return ((size_t)id[0] << 8 | id[1]) & ~LEAF_FLAG; }

static void leaf_id(node_id *id, const uint8_t *key, size_t kl)
{
    size_t bits = 8 * kl | LEAF_FLAG;
    id->b[0] = (uint8_t)(bits >> 8), id->b[1] = (uint8_t)bits;
    memcpy(id->b + 2, key, kl);
    id->len = 2 + kl;
}

static void inner_id(node_id *id, const uint8_t *key, size_t bit)
{
    id->b[0] = (uint8_t)(bit >> 8), id->b[1] = (uint8_t)bit;
    id->len = 2 + ldg__prefix_bytes(id->b + 2, key, bit);
}

static bool same_id(const node_id *a, const node_id *b)
{
    return a->len == b->len && !memcmp(a->b, b->b, a->len);
}

/* ---------------------------------------------------------------------------------------- */
/* Node records                                                                              */

/* The LMDB key of a node's version: be64(version) || id. */
static size_t node_key(uint8_t *out, const node_id *id)
{
    ldg_be64(out, id->ver);
    memcpy(out + 8, id->b, id->len);
    return 8 + id->len;
}

static int parse_id(const uint8_t **p, size_t *left, node_id *id)
{
    if (*left < 9 || (*p)[0] > ID_MAX || (*p)[0] < 2 || *left < 9u + (*p)[0])
        return LDG_ESTORE;
    id->len = (*p)[0];
    id->ver = ldg_rd64(*p + 1);
    memcpy(id->b, *p + 9, id->len);
    *left -= 9 + id->len, *p += 9 + id->len;
    return 0;
}

int ldg__node_get(ldg_store *s, MDB_txn *txn, const node_id *id, node *n)
{
    MDB_val v;
    uint8_t k[8 + ID_MAX];
    int rc = ldg__get(s, txn, DB_STATE, k, node_key(k, id), &v);
    if (rc)
        return rc == LDG_ENOTFOUND ? LDG_ESTORE : rc; /* a dangling id: a broken tree */
    const uint8_t *p = v.mv_data;
    size_t left = v.mv_size;
    n->leaf = left > 0 && p[0] == 'L';
    if (n->leaf) {
        if (left != 1 + 2 * LDG_DIGEST_LEN)
            return LDG_ESTORE;
        memcpy(n->hash, p + 1, LDG_DIGEST_LEN);
        memcpy(n->vhash, p + 1 + LDG_DIGEST_LEN, LDG_DIGEST_LEN);
        return 0;
    }
    if (left < 1 + 3 * LDG_DIGEST_LEN || p[0] != 'N')
        return LDG_ESTORE;
    memcpy(n->hash, p + 1, LDG_DIGEST_LEN);
    memcpy(n->ch[0], p + 1 + LDG_DIGEST_LEN, LDG_DIGEST_LEN);
    memcpy(n->ch[1], p + 1 + 2 * LDG_DIGEST_LEN, LDG_DIGEST_LEN);
    p += 1 + 3 * LDG_DIGEST_LEN, left -= 1 + 3 * LDG_DIGEST_LEN;
    if ((rc = parse_id(&p, &left, &n->child[0])) || (rc = parse_id(&p, &left, &n->child[1])))
        return rc;
    return left ? LDG_ESTORE : 0;
}

static int put_node(wctx *w, const node_id *id, const node *n, unsigned flags)
{
    uint8_t buf[1 + 3 * LDG_DIGEST_LEN + 2 * (9 + ID_MAX)], *p = buf, k[8 + ID_MAX];
    *p++ = n->leaf ? 'L' : 'N';
    memcpy(p, n->hash, LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
    if (n->leaf) {
        memcpy(p, n->vhash, LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
    } else {
        memcpy(p, n->ch[0], LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
        memcpy(p, n->ch[1], LDG_DIGEST_LEN), p += LDG_DIGEST_LEN;
        for (int i = 0; i < 2; i++) {
            *p++ = (uint8_t)n->child[i].len;
            ldg_be64(p, n->child[i].ver), p += 8;
            memcpy(p, n->child[i].b, n->child[i].len), p += n->child[i].len;
        }
    }
    return ldg__put(w, DB_STATE, k, node_key(k, id), buf, (size_t)(p - buf), flags);
}

int ldg__node_root_id(ldg_store *s, MDB_txn *txn, node_id *id)
{
    MDB_val v;
    int rc = ldg__get(s, txn, DB_META, "state_root", 10, &v);
    if (rc)
        return rc;
    if (v.mv_size < 10 || v.mv_size > 8 + ID_MAX)
        return LDG_ESTORE;
    id->ver = ldg_rd64(v.mv_data);
    memcpy(id->b, (const uint8_t *)v.mv_data + 8, v.mv_size - 8);
    id->len = v.mv_size - 8;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The block's cache of nodes                                                                */

enum { CLEAN, DIRTY, GONE };

typedef struct {
    node_id id;
    node n;
    int32_t parent; /* the parent's index in the cache, -1: the root (or not known) */
    uint8_t side;   /* which child of its parent it is                               */
    uint8_t state;  /* CLEAN, DIRTY (to hash and write), GONE (left out)              */
} cnode;

struct state_cache {
    cnode *v;
    size_t n, cap;
    uint64_t *slot; /* open addressing: the id's hash (high 32 bits), index + 1 (low; 0 empty) */
    size_t nslots;
    node_id root;
    bool loaded, has_root, root_changed;
};

static size_t id_hash(const node_id *id)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < id->len; i++)
        h = (h ^ id->b[i]) * 1099511628211ull;
    return (size_t)(h ^ h >> 29);
}

#define SLOT_INDEX(x) ((int32_t)(uint32_t)(x)) /* index + 1; 0: empty */
#define SLOT_TAG(h) ((uint64_t)(uint32_t)((h) >> 32) << 32)

/* The slot of id: its entry, or the empty slot where it would go. */
static size_t find_slot(const struct state_cache *c, const node_id *id)
{
    size_t h = id_hash(id), m = c->nslots - 1, i = h & m;
    for (uint64_t x; (x = c->slot[i]); i = (i + 1) & m)
        if ((x & ~0xffffffffull) == SLOT_TAG(h) && same_id(&c->v[SLOT_INDEX(x) - 1].id, id))
            break;
    return i;
}

static void set_slot(struct state_cache *c, size_t i, const node_id *id, size_t index)
{
    c->slot[i] = SLOT_TAG(id_hash(id)) | (uint32_t)(index + 1);
}

static int grow(struct state_cache *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        cnode *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return LDG_ENOMEM;
        c->v = v, c->cap = cap;
    }
    if (2 * (c->n + 1) > c->nslots) {
        size_t ns = c->nslots ? 2 * c->nslots : 4096;
        uint64_t *slot = calloc(ns, sizeof *slot);
        if (!slot)
            return LDG_ENOMEM;
        free(c->slot);
        c->slot = slot, c->nslots = ns;
        for (size_t i = 0; i < c->n; i++)
            set_slot(c, find_slot(c, &c->v[i].id), &c->v[i].id, i);
    }
    return 0;
}

/* A new entry for id (or the GONE one it had), holding n; its index in *out. */
static int cache_put(struct state_cache *c, const node_id *id, const node *n, int state,
                     int32_t *out)
{
    int rc = grow(c);
    if (rc)
        return rc;
    size_t i = find_slot(c, id);
    cnode *e;
    if (c->slot[i]) {
        e = &c->v[SLOT_INDEX(c->slot[i]) - 1];
    } else {
        set_slot(c, i, id, c->n);
        e = &c->v[c->n++];
    }
    e->id = *id;
    e->n = *n;
    e->state = (uint8_t)state;
    e->parent = -1;
    e->side = 0;
    *out = SLOT_INDEX(c->slot[i]) - 1;
    return 0;
}

/* The cached node id, read from LMDB on first use. */
static int cache_get(wctx *w, const node_id *id, int32_t *out)
{
    struct state_cache *c = w->s->sc;
    if (c->nslots) {
        size_t i = find_slot(c, id);
        if (c->slot[i] && c->v[SLOT_INDEX(c->slot[i]) - 1].state != GONE) {
            *out = SLOT_INDEX(c->slot[i]) - 1;
            return 0;
        }
    }
    node n;
    int rc = ldg__node_get(w->s, w->txn, id, &n);
    return rc ? rc : cache_put(c, id, &n, CLEAN, out);
}

static struct state_cache *cache_of(wctx *w, int *rc)
{
    ldg_store *s = w->s;
    if (!s->sc && !(s->sc = calloc(1, sizeof *s->sc))) {
        *rc = LDG_ENOMEM;
        return NULL;
    }
    struct state_cache *c = s->sc;
    if (!c->loaded) {
        *rc = ldg__node_root_id(s, w->txn, &c->root);
        if (*rc && *rc != LDG_ENOTFOUND)
            return NULL;
        c->has_root = !*rc;
        c->loaded = true;
    }
    *rc = 0;
    return c;
}

void ldg__state_begin(ldg_store *s)
{
    struct state_cache *c = s->sc;
    if (!c)
        return;
    c->n = 0;
    if (c->nslots)
        memset(c->slot, 0, c->nslots * sizeof *c->slot);
    c->loaded = c->has_root = c->root_changed = false;
}

void ldg__state_free(ldg_store *s)
{
    if (s->sc) {
        free(s->sc->v);
        free(s->sc->slot);
        free(s->sc);
        s->sc = NULL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Changing the tree                                                                         */

void ldg_store_bench_state_tree(ldg_store *s, bool on) { s->no_state_tree = !on; }

/* Point parent's link `side` (the root when parent < 0) at entry i. */
static void link(struct state_cache *c, int32_t parent, int side, int32_t i)
{
    c->v[i].parent = parent;
    c->v[i].side = (uint8_t)side;
    if (parent < 0) {
        c->root = c->v[i].id;
        c->has_root = c->root_changed = true;
        return;
    }
    c->v[parent].n.child[side] = c->v[i].id;
    memcpy(c->v[parent].n.ch[side], c->v[i].n.hash, LDG_DIGEST_LEN);
}

/* The key leaves entry cur's prefix at bit d: a new node there holds both. */
static int fork(struct state_cache *c, int32_t cur, int32_t parent, int side, const node *leaf,
                const node_id *lid, const uint8_t *key, size_t d)
{
    node f = {.leaf = false};
    node_id fid;
    int32_t fi, li;
    int rc;
    inner_id(&fid, key, d);
    if ((rc = cache_put(c, lid, leaf, DIRTY, &li)) || (rc = cache_put(c, &fid, &f, DIRTY, &fi)))
        return rc;
    int kb = ldg__bit_of(key, d);
    link(c, fi, kb, li);
    link(c, fi, !kb, cur);
    link(c, parent, side, fi);
    return 0;
}

int ldg__state_set(wctx *w, const uint8_t *key, size_t kl, const uint8_t vhash[LDG_DIGEST_LEN])
{
    if (w->check_only || w->s->no_state_tree)
        return 0;
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    int rc, side = 0;
    struct state_cache *c = cache_of(w, &rc);
    node leaf = {.leaf = true};
    node_id lid;
    int32_t cur, parent = -1;
    if (!c || (rc = ldg_state_leaf_hash(w->s->g.hash_alg, key, kl, vhash, leaf.hash)))
        return rc;
    memcpy(leaf.vhash, vhash, LDG_DIGEST_LEN);
    leaf_id(&lid, key, kl);
    if (!c->has_root) {
        if ((rc = cache_put(c, &lid, &leaf, DIRTY, &cur)))
            return rc;
        link(c, -1, 0, cur);
        return 0;
    }
    for (node_id id = c->root;; id = c->v[parent].n.child[side]) { /* a copy: c->v moves */
        if ((rc = cache_get(w, &id, &cur)))
            return rc;
        cnode *e = &c->v[cur];
        e->parent = parent, e->side = (uint8_t)side;
        if (e->n.leaf && same_id(&e->id, &lid)) { /* a new value */
            e->n = leaf;
            e->state = DIRTY;
            if (parent >= 0)
                memcpy(c->v[parent].n.ch[side], leaf.hash, LDG_DIGEST_LEN);
            return 0;
        }
        size_t cbits = ldg__id_bit(e->id.b), d = ldg__lcp_bits(key, kl, e->id.b + 2, e->id.len - 2);
        if (d > cbits)
            d = cbits;
        if (d >= 8 * kl || (e->n.leaf && d == cbits))
            return LDG_EINVALID; /* one key would be a prefix of another */
        if (d < cbits)
            return fork(c, cur, parent, side, &leaf, &lid, key, d);
        e->state = DIRTY;
        parent = cur;
        side = ldg__bit_of(key, cbits);
    }
}

int ldg__state_del(wctx *w, const uint8_t *key, size_t kl)
{
    if (w->check_only || w->s->no_state_tree)
        return 0;
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    int rc, side = 0, gside = 0;
    struct state_cache *c = cache_of(w, &rc);
    node_id lid;
    int32_t cur, parent = -1, grand = -1;
    if (!c || !c->has_root)
        return rc;
    leaf_id(&lid, key, kl);
    for (node_id id = c->root;; id = c->v[parent].n.child[side]) { /* a copy: c->v moves */
        if ((rc = cache_get(w, &id, &cur)))
            return rc;
        cnode *e = &c->v[cur];
        e->parent = parent, e->side = (uint8_t)side;
        if (e->n.leaf) {
            if (!same_id(&e->id, &lid))
                return 0; /* not there */
            break;
        }
        size_t cbits = ldg__id_bit(e->id.b);
        if (ldg__lcp_bits(key, kl, e->id.b + 2, e->id.len - 2) < cbits || 8 * kl <= cbits)
            return 0;
        e->state = DIRTY;
        grand = parent, gside = side;
        parent = cur, side = ldg__bit_of(key, cbits);
    }
    c->v[cur].state = GONE;
    if (parent < 0) {
        c->has_root = false;
        c->root_changed = true;
        return 0;
    }
    /* The leaf's parent goes; its other child takes its place. */
    cnode *p = &c->v[parent];
    p->state = GONE;
    node_id sib = p->n.child[!side];
    uint8_t sib_hash[LDG_DIGEST_LEN];
    memcpy(sib_hash, p->n.ch[!side], LDG_DIGEST_LEN);
    size_t i = find_slot(c, &sib);
    if (c->slot[i]) {
        link(c, grand, gside, SLOT_INDEX(c->slot[i]) - 1);
    } else if (grand >= 0) { /* not cached: not changed this block, its hash is the kept one */
        c->v[grand].n.child[gside] = sib;
        memcpy(c->v[grand].n.ch[gside], sib_hash, LDG_DIGEST_LEN);
    } else {
        c->root = sib;
        c->has_root = c->root_changed = true;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The block's end                                                                           */

/* Deepest first. */
static int deeper_first(const void *a, const void *b, void *base)
{
    const cnode *v = base;
    size_t x = ldg__id_bit(v[*(const int32_t *)a].id.b), y = ldg__id_bit(v[*(const int32_t *)b].id.b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* In key order (the order the block's versions are appended in). */
static int id_order(const void *a, const void *b, void *base)
{
    const cnode *v = base;
    const node_id *x = &v[*(const int32_t *)a].id, *y = &v[*(const int32_t *)b].id;
    int r = memcmp(x->b, y->b, x->len < y->len ? x->len : y->len);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* The dirty nodes become version `ver` (their parents name it) and the inner ones are
 * hashed deepest first, each passing its hash to its parent. order: the dirty entries. */
static int hash_dirty(wctx *w, struct state_cache *c, int32_t *order, size_t m, uint64_t ver)
{
    for (size_t k = 0; k < m; k++) {
        cnode *e = &c->v[order[k]];
        e->id.ver = ver;
        if (e->parent >= 0)
            c->v[e->parent].n.child[e->side].ver = ver;
    }
    if (m > 1)
        qsort_r(order, m, sizeof *order, deeper_first, c->v);
    int rc = 0;
    for (size_t k = 0; !rc && k < m; k++) {
        cnode *e = &c->v[order[k]];
        if (e->n.leaf)
            continue; /* hashed when its value was set */
        rc = ldg_state_node_hash(w->s->g.hash_alg, ldg__id_bit(e->id.b), e->id.b + 2, e->n.ch[0],
                                 e->n.ch[1], e->n.hash);
        if (!rc && e->parent >= 0)
            memcpy(c->v[e->parent].n.ch[e->side], e->n.hash, LDG_DIGEST_LEN);
    }
    return rc;
}

/* Whether this block's versions can be appended: the table ends below version ver. */
static bool can_append(wctx *w, uint64_t ver)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(w->txn, w->s->db[DB_STATE], &cur))
        return false;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || (!rc && k.mv_size >= 8 && ldg_rd64(k.mv_data) < ver);
}

/* Write the dirty nodes as version ver, in key order, and the root's id when it moved. */
static int write_dirty(wctx *w, struct state_cache *c, int32_t *order, size_t m, uint64_t ver)
{
    int rc = 0;
    unsigned flags = can_append(w, ver) ? MDB_APPEND : 0;
    if (m > 1)
        qsort_r(order, m, sizeof *order, id_order, c->v);
    for (size_t k = 0; !rc && k < m; k++)
        rc = put_node(w, &c->v[order[k]].id, &c->v[order[k]].n, flags);
    if (rc)
        return rc;
    if (c->has_root && c->nslots) { /* the root's entry, when this block changed it */
        size_t i = find_slot(c, &c->root);
        if (c->slot[i] && c->v[SLOT_INDEX(c->slot[i]) - 1].state == DIRTY) {
            c->root.ver = ver;
            c->root_changed = true;
        }
    }
    if (!c->root_changed)
        return 0;
    if (!c->has_root)
        return ldg__del(w, DB_META, "state_root", 10);
    uint8_t k[8 + ID_MAX];
    return ldg__put(w, DB_META, "state_root", 10, k, node_key(k, &c->root), 0);
}

int ldg__state_finish(wctx *w, uint8_t root[LDG_DIGEST_LEN])
{
    int rc;
    struct state_cache *c = w->s->no_state_tree ? NULL : cache_of(w, &rc);
    if (!c)
        return w->s->no_state_tree ? ldg__state_root(w->s, w->txn, root) : rc;
    int32_t *order = malloc((c->n ? c->n : 1) * sizeof *order);
    size_t m = 0;
    if (!order)
        return LDG_ENOMEM;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].state == DIRTY)
            order[m++] = (int32_t)i;
    if (!(rc = hash_dirty(w, c, order, m, w->height)))
        rc = write_dirty(w, c, order, m, w->height);
    free(order);
    ldg__state_begin(w->s);
    return rc ? rc : ldg__state_root(w->s, w->txn, root);
}

int ldg__state_root(ldg_store *s, MDB_txn *txn, uint8_t root[LDG_DIGEST_LEN])
{
    node_id id;
    node n;
    int rc = ldg__node_root_id(s, txn, &id);
    if (rc == LDG_ENOTFOUND)
        return ldg_state_empty_hash(s->g.hash_alg, root);
    if (rc || (rc = ldg__node_get(s, txn, &id, &n)))
        return rc;
    memcpy(root, n.hash, LDG_DIGEST_LEN);
    return 0;
}
