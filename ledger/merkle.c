/*
 * Merkle trees as in RFC 6962 section 2.1 (Certificate Transparency), over any registered
 * hash; every node is that hash's digest_len bytes.
 *
 *   MTH({})      = H("")
 *   MTH({d0})    = H(0x00 || d0)                       the leaf hash (ldg_merkle_leaf)
 *   MTH(D[0:n])  = H(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k: largest power of two < n
 *
 * The functions here take leaf hashes, not leaf data. The root is computed left to right
 * with a stack of perfect subtrees (as a CT log appends), which gives exactly MTH: the
 * subtrees left on the stack have the sizes of n's binary digits, largest first, and
 * folding them from the right splits at the largest power of two each time. It needs
 * O(log n) memory and no allocation.
 */
#include <string.h>

#include "ledger/internal.h"

static const uint8_t leaf_prefix = 0x00, node_prefix = 0x01;

int ldg__merkle_node(const ldg_hash_impl *h, const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    const uint8_t *parts[3] = {&node_prefix, l, r};
    size_t lens[3] = {1, h->digest_len, h->digest_len};
    return h->hash(parts, lens, 3, out); /* out may alias l or r: both are read first */
}

uint64_t ldg__merkle_split(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k) /* n - k, not 2 * k: 2 * k would overflow for n above 2^63 */
        k <<= 1;
    return k;
}

/* MTH over n >= 1 leaf hashes. */
static int subtree_root(const ldg_hash_impl *h, const uint8_t *leaves, size_t n, uint8_t *out)
{
    /* At most one subtree per bit of the count, plus the leaf just pushed. */
    uint8_t stack[sizeof(size_t) * 8 + 1][LDG_HASH_MAX];
    size_t dl = h->digest_len, top = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        memcpy(stack[top++], leaves + i * dl, dl);
        /* After i + 1 leaves, one merge per trailing zero bit of i + 1. */
        for (size_t m = i + 1; (m & 1) == 0; m >>= 1, top--)
            if ((rc = ldg__merkle_node(h, stack[top - 2], stack[top - 1], stack[top - 2])))
                return rc;
    }
    for (; top > 1; top--)
        if ((rc = ldg__merkle_node(h, stack[top - 2], stack[top - 1], stack[top - 2])))
            return rc;
    memcpy(out, stack[0], dl);
    return 0;
}

int ldg_merkle_leaf(uint32_t alg, const uint8_t *data, size_t len, uint8_t *out)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if ((!data && len) || !out)
        return LDG_EINVALID;
    const uint8_t *parts[2] = {&leaf_prefix, data};
    size_t lens[2] = {1, len};
    return h->hash(parts, lens, 2, out);
}

int ldg_merkle_root(uint32_t alg, const uint8_t *leaves, size_t n, uint8_t *root)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if ((!leaves && n) || !root)
        return LDG_EINVALID;
    if (n == 0)
        return h->hash(NULL, NULL, 0, root);
    return subtree_root(h, leaves, n, root);
}

/*
 * PATH(m, D[n]) of RFC 6962 2.1.1: walking down from the root, each step keeps the side that
 * holds leaf m and records the other side's root; the path lists those roots bottom up.
 * Cost: O(n) hashes in all (the sibling subtrees partition the other leaves).
 */
int ldg_merkle_proof(uint32_t alg, const uint8_t *leaves, size_t n, size_t index,
                     uint8_t *path, size_t cap, size_t *path_len)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (path_len)
        *path_len = 0;
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!leaves || !path_len || index >= n)
        return LDG_EINVALID;

    /* Sibling ranges, top down. The size at least halves each step, so <= 64 of them. */
    size_t sib_lo[LDG_MERKLE_MAX_DEPTH], sib_n[LDG_MERKLE_MAX_DEPTH];
    size_t depth = 0, lo = 0, size = n;
    while (size > 1) {
        size_t k = (size_t)ldg__merkle_split(size);
        if (index - lo < k) {
            sib_lo[depth] = lo + k, sib_n[depth] = size - k;
            size = k;
        } else {
            sib_lo[depth] = lo, sib_n[depth] = k;
            lo += k, size -= k;
        }
        depth++;
    }
    if (depth > cap)
        return LDG_ETOOBIG;
    if (depth && !path)
        return LDG_EINVALID;

    size_t dl = h->digest_len;
    for (size_t t = 0; t < depth; t++) {
        int rc = subtree_root(h, leaves + sib_lo[t] * dl, sib_n[t], path + (depth - 1 - t) * dl);
        if (rc)
            return rc;
    }
    *path_len = depth;
    return 0;
}

/* The check is the log's (RFC 9162 2.1.3.2, 64-bit sizes); size_t widens to uint64_t. */
int ldg_merkle_verify(uint32_t alg, const uint8_t *leaf, size_t index, size_t n,
                      const uint8_t *path, size_t path_len, const uint8_t *root)
{
    return ldg_log_verify_inclusion(alg, leaf, index, n, path, path_len, root);
}
