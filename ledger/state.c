/*
 * The authenticated state's hashes and proofs: the pure half, shared by the node (which
 * keeps the tree in LMDB, store_state.c) and the client library (which verifies proofs
 * without a store).
 *
 * The tree is a Merkle crit-bit (binary Patricia) trie over prefix-free byte-string keys.
 * Its shape is a function of the key set alone: a set of one key is a leaf; a larger set
 * splits at its first differing bit b into the keys with a 0 there and those with a 1.
 *
 *   leaf(k, v)           = H(0x00 || be16(len k) || k || v)        v = H(record bytes)
 *   node(b, p, h0, h1)   = H(0x01 || be16(b) || p || h0 || h1)     p = the first b bits of
 *                          every key below, as ceil(b/8) bytes, the unused low bits zero
 *   empty state          = H(0x02)
 *
 * Because a node names its bit and its prefix, a proof can show not only that a key is
 * there but that a whole prefix range holds exactly the given keys, or none.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

int ldg__bit_of(const uint8_t *k, size_t i) { return k[i >> 3] >> (7 - (i & 7)) & 1; }

size_t ldg__prefix_bytes(uint8_t *out, const uint8_t *key, size_t bit)
{
    size_t pl = (bit + 7) / 8;
    memcpy(out, key, pl);
    if (bit & 7)
        out[pl - 1] &= (uint8_t)(0xff << (8 - (bit & 7)));
    return pl;
}

size_t ldg__lcp_bits(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return 8 * n;
    uint8_t x = a[i] ^ b[i];
    size_t j = 0;
    while (!(x & 0x80)) {
        x <<= 1;
        j++;
    }
    return 8 * i + j;
}

int ldg_state_leaf_hash(uint32_t alg, const uint8_t *key, size_t kl,
                        const uint8_t vhash[LDG_DIGEST_LEN], uint8_t out[LDG_DIGEST_LEN])
{
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    uint8_t head[3] = {0x00, (uint8_t)(kl >> 8), (uint8_t)kl};
    const uint8_t *parts[3] = {head, key, vhash};
    size_t lens[3] = {3, kl, LDG_DIGEST_LEN}, n;
    return ldg_hash(alg, parts, lens, 3, out, &n);
}

int ldg_state_node_hash(uint32_t alg, size_t bit, const uint8_t *key,
                        const uint8_t h0[LDG_DIGEST_LEN], const uint8_t h1[LDG_DIGEST_LEN],
                        uint8_t out[LDG_DIGEST_LEN])
{
    if (bit >= 8 * LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    uint8_t head[3 + LDG_STATE_KEY_MAX] = {0x01, (uint8_t)(bit >> 8), (uint8_t)bit};
    size_t pl = ldg__prefix_bytes(head + 3, key, bit);
    const uint8_t *parts[3] = {head, h0, h1};
    size_t lens[3] = {3 + pl, LDG_DIGEST_LEN, LDG_DIGEST_LEN}, n;
    return ldg_hash(alg, parts, lens, 3, out, &n);
}

int ldg_state_empty_hash(uint32_t alg, uint8_t out[LDG_DIGEST_LEN])
{
    static const uint8_t tag = 0x02;
    const uint8_t *parts[1] = {&tag};
    size_t lens[1] = {1}, n;
    return ldg_hash(alg, parts, lens, 1, out, &n);
}

/* ---------------------------------------------------------------------------------------- */
/* The root of a sorted key set, streamed                                                    */

/* A subtree finished on the left whose parent waits for its right part: the parent's bit
 * (the common prefix of the last key seen and the next one). Bits strictly grow up the
 * stack: in a binary trie two consecutive gaps never share a bit. */
typedef struct {
    uint16_t bit;
    uint8_t hash[LDG_DIGEST_LEN];
} pending;

struct ldg_state_builder {
    uint32_t alg;
    size_t n;
    uint8_t prev[LDG_STATE_KEY_MAX];
    size_t prev_len;
    uint8_t cur[LDG_DIGEST_LEN];
    size_t depth;
    pending stack[8 * LDG_STATE_KEY_MAX];
};

int ldg_state_builder_new(uint32_t alg, ldg_state_builder **out)
{
    if (!ldg_hash_by_id(alg))
        return LDG_EUNKNOWN_ALG;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return LDG_ENOMEM;
    (*out)->alg = alg;
    return 0;
}

void ldg_state_builder_free(ldg_state_builder *b) { free(b); }

/* Close the pending parents deeper than bit (all of them for bit -1). */
static int fold(ldg_state_builder *b, long bit)
{
    while (b->depth && (long)b->stack[b->depth - 1].bit > bit) {
        pending *p = &b->stack[--b->depth];
        int rc = ldg_state_node_hash(b->alg, p->bit, b->prev, p->hash, b->cur, b->cur);
        if (rc)
            return rc;
    }
    return 0;
}

int ldg_state_builder_add(ldg_state_builder *b, const uint8_t *key, size_t kl,
                          const uint8_t vhash[LDG_DIGEST_LEN])
{
    if (kl == 0 || kl > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    int rc;
    if (b->n) {
        size_t l = ldg__lcp_bits(b->prev, b->prev_len, key, kl);
        /* Strictly ascending, and no key a prefix of another. */
        if (l >= 8 * kl || l >= 8 * b->prev_len || !ldg__bit_of(key, l))
            return LDG_EINVALID;
        if ((rc = fold(b, (long)l)))
            return rc;
        b->stack[b->depth].bit = (uint16_t)l;
        memcpy(b->stack[b->depth++].hash, b->cur, LDG_DIGEST_LEN);
    }
    if ((rc = ldg_state_leaf_hash(b->alg, key, kl, vhash, b->cur)))
        return rc;
    memcpy(b->prev, key, kl);
    b->prev_len = kl;
    b->n++;
    return 0;
}

int ldg_state_builder_root(ldg_state_builder *b, uint8_t root[LDG_DIGEST_LEN])
{
    if (!b->n)
        return ldg_state_empty_hash(b->alg, root);
    int rc = fold(b, -1);
    if (!rc)
        memcpy(root, b->cur, LDG_DIGEST_LEN);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Verifying a proof                                                                         */

/* Does key start with the first `bits` bits of p? */
static bool has_prefix(const uint8_t *key, size_t kl, const uint8_t *p, size_t bits)
{
    return ldg__lcp_bits(key, kl, p, (bits + 7) / 8) >= bits && 8 * kl >= bits;
}

/* The hash the proof's bottom stands for: the range's subtree, or a witness of its
 * absence. */
static int bottom_hash(uint32_t alg, const ldg_state_proof *p, const uint8_t *prefix,
                       size_t pbits, size_t below, uint8_t out[LDG_DIGEST_LEN])
{
    int rc;
    if (p->n_leaves) {
        if (p->witness != LDG_STATE_RANGE)
            return LDG_EINVALID;
        ldg_state_builder *b;
        if ((rc = ldg_state_builder_new(alg, &b)))
            return rc;
        for (size_t i = 0; !rc && i < p->n_leaves; i++) {
            const ldg_state_leaf *l = &p->leaves[i];
            if (!has_prefix(l->key, l->key_len, prefix, pbits))
                rc = LDG_EINVALID; /* outside the range */
            else
                rc = ldg_state_builder_add(b, l->key, l->key_len, l->vhash);
        }
        /* The range's own node sits below the last step: its keys' common prefix is longer
         * than that step's bit (a single leaf's key is longer than any bit). */
        if (!rc && p->n_leaves > 1 &&
            ldg__lcp_bits(p->leaves[0].key, p->leaves[0].key_len,
                     p->leaves[p->n_leaves - 1].key, p->leaves[p->n_leaves - 1].key_len) < below)
            rc = LDG_EINVALID;
        if (!rc)
            rc = ldg_state_builder_root(b, out);
        ldg_state_builder_free(b);
        return rc;
    }
    switch (p->witness) {
    case LDG_STATE_EMPTY:
        return p->n_steps ? LDG_EINVALID : ldg_state_empty_hash(alg, out);
    case LDG_STATE_WITNESS_LEAF:
        /* A leaf where the range would be, not in it. */
        if (has_prefix(p->w_key, p->w_key_len, prefix, pbits) || 8 * p->w_key_len <= below)
            return LDG_EINVALID;
        return ldg_state_leaf_hash(alg, p->w_key, p->w_key_len, p->w_vhash, out);
    case LDG_STATE_WITNESS_NODE: {
        /* A node whose prefix leaves the range's before either ends. */
        size_t wb = p->w_bit, upto = wb < pbits ? wb : pbits;
        if (wb <= below || wb >= 8 * LDG_STATE_KEY_MAX ||
            ldg__lcp_bits(p->w_prefix, (wb + 7) / 8, prefix, (pbits + 7) / 8) >= upto)
            return LDG_EINVALID;
        return ldg_state_node_hash(alg, wb, p->w_prefix, p->w_left, p->w_right, out);
    }
    default:
        return LDG_EINVALID;
    }
}

int ldg_state_verify(uint32_t alg, const uint8_t root[LDG_DIGEST_LEN], const uint8_t *prefix,
                     size_t prefix_len, const ldg_state_proof *p)
{
    if (!ldg_hash_by_id(alg))
        return LDG_EUNKNOWN_ALG;
    if (prefix_len == 0 || prefix_len > LDG_STATE_KEY_MAX || p->n_steps > 8 * LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    size_t pbits = 8 * prefix_len;
    /* Steps go root first, their bits strictly growing and inside the prefix. */
    for (size_t i = 0; i < p->n_steps; i++)
        if (p->steps[i].bit >= pbits || (i && p->steps[i].bit <= p->steps[i - 1].bit))
            return LDG_EINVALID;
    size_t below = p->n_steps ? (size_t)p->steps[p->n_steps - 1].bit + 1 : 0;
    uint8_t h[LDG_DIGEST_LEN];
    int rc = bottom_hash(alg, p, prefix, pbits, below, h);
    for (size_t i = p->n_steps; !rc && i-- > 0;) {
        const ldg_state_step *s = &p->steps[i];
        bool right = ldg__bit_of(prefix, s->bit);
        rc = ldg_state_node_hash(alg, s->bit, prefix, right ? s->sibling : h,
                                 right ? h : s->sibling, h);
    }
    if (rc)
        return rc;
    return memcmp(h, root, LDG_DIGEST_LEN) ? LDG_EPROOF : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The keys                                                                                  */

static size_t file_key(uint8_t *out, uint8_t tag, uint32_t alg, const uint8_t *d, size_t len)
{
    if (len > LDG_HASH_MAX)
        return 0;
    out[0] = tag;
    ldg_be32(out + 1, alg);
    memcpy(out + 5, d, len);
    return 5 + len;
}

size_t ldg_state_key_release(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len)
{
    return file_key(out, 'r', alg, digest, len);
}

size_t ldg_state_key_outcomes(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len)
{
    return file_key(out, 'o', alg, digest, len);
}

/* tag, then each name with its NUL */
static size_t names_key(uint8_t *out, uint8_t tag, const char *a, const char *b)
{
    size_t al = strlen(a) + 1, bl = b ? strlen(b) + 1 : 0;
    if (1 + al + bl > LDG_STATE_KEY_MAX)
        return 0;
    out[0] = tag;
    memcpy(out + 1, a, al);
    if (b)
        memcpy(out + 1 + al, b, bl);
    return 1 + al + bl;
}

size_t ldg_state_key_lines(uint8_t *out, const char *model)
{
    return names_key(out, 'h', model, NULL);
}

size_t ldg_state_key_binding(uint8_t *out, const char *product, const char *model)
{
    return names_key(out, 'b', product, model);
}

size_t ldg_state_key_contract(uint8_t *out, const char *name)
{
    return names_key(out, 'c', name, NULL);
}
