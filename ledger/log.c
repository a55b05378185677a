/*
 * An append-only Merkle log as in RFC 9162 (Certificate Transparency 2.0) section 2.1: the
 * tree of merkle.c, grown one leaf at a time, with its roots and proofs computed from storage
 * the caller provides (ldg_log_io) instead of from the leaves in memory.
 *
 * What is stored: the hash of every complete perfect subtree, (level l, index i) covering the
 * leaves [i << l, (i + 1) << l). Why that suffices: every node of the RFC's tree of the first
 * n leaves covers a range [lo, hi) whose start is a multiple of the smallest power of two at
 * least hi - lo (true of the root [0, n), and the split at the largest power of two below the
 * width keeps it true of both children). Such a range is the perfect subtrees of hi - lo's
 * binary digits, largest first from lo, and its MTH is those folded from the right (the RFC
 * splits it at its largest digit, and so on down). So a root costs one read per 1 bit of its
 * size, and of a proof's subtrees at most one is not perfect: below the first place where the
 * walk down from the root turns left, every subtree is perfect.
 *
 * Nothing here allocates or keeps state between calls; the stack holds at most one proof's
 * worth of ranges and a few digests.
 */
#include <stdbool.h>
#include <string.h>

#include "ledger/internal.h"

/* The leaves [lo, hi) of a subtree of the RFC's tree. */
typedef struct {
    uint64_t lo, hi;
} leaf_range;

/*
 * MTH of the leaves [lo, hi), hi > lo, a node of the RFC's tree (see the top of the file).
 * Walking down from hi takes the perfect subtrees smallest first, which is the order of a fold
 * from the right, so no stack is needed: out = H(0x01 || part || out) for each larger part.
 */
static int range_hash(const ldg_hash_impl *h, const ldg_log_io *io, uint64_t lo, uint64_t hi,
                      uint8_t *out)
{
    uint8_t part[LDG_HASH_MAX];
    uint64_t width = hi - lo, end = hi;
    bool first = true;
    for (unsigned level = 0; level < 64; level++) {
        if (!((width >> level) & 1))
            continue;
        end -= (uint64_t)1 << level; /* a multiple of 2^level: lo is, and so is what is left */
        int rc = io->get(io->ctx, level, end >> level, first ? out : part);
        if (rc)
            return rc;
        if (!first && (rc = ldg__merkle_node(h, part, out, out)))
            return rc;
        first = false;
    }
    return 0;
}

/* Write the MTH of each of r[0..k), listed top down, into path bottom up: the order of both
 * RFC 9162 proofs. Checks the room first, so nothing is written past cap. */
static int emit(const ldg_hash_impl *h, const ldg_log_io *io, const leaf_range *r, size_t k,
                uint8_t *path, size_t cap, size_t *count)
{
    if (k > cap)
        return LDG_ETOOBIG;
    if (k && !path)
        return LDG_EINVALID;
    for (size_t t = 0; t < k; t++) {
        int rc = range_hash(h, io, r[t].lo, r[t].hi, path + (k - 1 - t) * h->digest_len);
        if (rc)
            return rc;
    }
    *count = k;
    return 0;
}

/* The log holds exactly `size` leaves: leaf size - 1 is stored and leaf size is not. Since
 * appends are the only writer and store leaves in order, two reads pin the size. */
static int check_size(const ldg_log_io *io, uint64_t size, uint8_t *scratch)
{
    int rc = io->get(io->ctx, 0, size, scratch);
    if (rc != LDG_ENOTFOUND)
        return rc == 0 ? LDG_EINVALID : rc;
    if (size == 0)
        return 0;
    rc = io->get(io->ctx, 0, size - 1, scratch);
    return rc == LDG_ENOTFOUND ? LDG_EINVALID : rc;
}

int ldg_log_append(uint32_t alg, const ldg_log_io *io, uint64_t size, const uint8_t *leaf_hash)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!io || !io->get || !io->put || !leaf_hash)
        return LDG_EINVALID;
    if (size == UINT64_MAX) /* the size after the append would not fit */
        return LDG_ETOOBIG;

    uint8_t node[LDG_HASH_MAX], left[LDG_HASH_MAX];
    int rc = check_size(io, size, left);
    if (rc)
        return rc;
    memcpy(node, leaf_hash, h->digest_len);
    if ((rc = io->put(io->ctx, 0, size, node)))
        return rc;
    /* The new leaf completes one subtree per trailing 1 bit of size: at each such level the
     * new node is a right child, its left sibling is stored, and their parent is new. */
    uint64_t i = size;
    for (unsigned level = 0; i & 1; level++, i >>= 1) {
        if ((rc = io->get(io->ctx, level, i - 1, left)) ||
            (rc = ldg__merkle_node(h, left, node, node)) ||
            (rc = io->put(io->ctx, level + 1, i >> 1, node)))
            return rc;
    }
    return 0;
}

int ldg_log_root(uint32_t alg, const ldg_log_io *io, uint64_t size, uint8_t *root)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!io || !io->get || !root)
        return LDG_EINVALID;
    if (size == 0)
        return h->hash(NULL, NULL, 0, root);
    return range_hash(h, io, 0, size, root);
}

/*
 * PATH(index, D[size]) of RFC 9162 2.1.3.1: walking down from the root, each step keeps the
 * side that holds the leaf and records the other side; the path lists those bottom up. The
 * width at least halves each step, so there are at most 64.
 */
int ldg_log_inclusion(uint32_t alg, const ldg_log_io *io, uint64_t index, uint64_t size,
                      uint8_t *path, size_t cap, size_t *n)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (n)
        *n = 0;
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!io || !io->get || !n || index >= size)
        return LDG_EINVALID;

    leaf_range sib[LDG_MERKLE_MAX_DEPTH];
    size_t depth = 0;
    uint64_t lo = 0, width = size;
    while (width > 1) {
        uint64_t k = ldg__merkle_split(width);
        if (index - lo < k) {
            sib[depth++] = (leaf_range){lo + k, lo + width};
            width = k;
        } else {
            sib[depth++] = (leaf_range){lo, lo + k};
            lo += k, width -= k;
        }
    }
    return emit(h, io, sib, depth, path, cap, n);
}

/*
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 2.1.4.1, unrolled: walking down from
 * the root while the old tree's part of the current subtree (mm leaves) is not all of it,
 * each step records the side the old tree does not end in. Where the walk stops, the
 * subtree is exactly the old tree's last part; it is recorded too unless the walk never
 * turned right (SUBPROOF's b): then it is the whole old tree, whose root the verifier holds.
 */
int ldg_log_consistency(uint32_t alg, const ldg_log_io *io, uint64_t m, uint64_t n,
                        uint8_t *path, size_t cap, size_t *count)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (count)
        *count = 0;
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!io || !io->get || !count || m == 0 || m > n)
        return LDG_EINVALID;

    leaf_range sub[LDG_LOG_PROOF_MAX];
    size_t depth = 0;
    uint64_t lo = 0, width = n, mm = m;
    bool left_edge = true;
    while (mm < width) {
        uint64_t k = ldg__merkle_split(width);
        if (mm <= k) {
            sub[depth++] = (leaf_range){lo + k, lo + width};
            width = k;
        } else {
            sub[depth++] = (leaf_range){lo, lo + k};
            lo += k, width -= k, mm -= k;
            left_edge = false;
        }
    }
    if (!left_edge)
        sub[depth++] = (leaf_range){lo, lo + width};
    return emit(h, io, sub, depth, path, cap, count);
}

/*
 * The walk both RFC 9162 verifiers share (2.1.3.2 step 4, 2.1.4.2 step 6): fn is the index
 * of the node being proven at the current level and sn the last index of that level. A path
 * hash is a left sibling when fn is odd or fn is the level's last node (which then rises
 * alone through the levels where it has no sibling, until it is odd or leftmost). r folds in
 * every hash; fr, when not NULL, only the left siblings (in a consistency proof, that
 * rebuilds the old root). The path must end exactly at the root: sn == 0, and not before.
 */
static int fold(const ldg_hash_impl *h, uint64_t fn, uint64_t sn, const uint8_t *path,
                size_t count, uint8_t *r, uint8_t *fr)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *c = path + i * h->digest_len;
        int rc;
        if (sn == 0)
            return LDG_EINVALID;
        if ((fn & 1) || fn == sn) {
            if ((fr && (rc = ldg__merkle_node(h, c, fr, fr))) ||
                (rc = ldg__merkle_node(h, c, r, r)))
                return rc;
            while (!(fn & 1) && fn != 0)
                fn >>= 1, sn >>= 1;
        } else if ((rc = ldg__merkle_node(h, r, c, r))) {
            return rc;
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 ? 0 : LDG_EINVALID;
}

int ldg_log_verify_inclusion(uint32_t alg, const uint8_t *leaf_hash, uint64_t index,
                             uint64_t size, const uint8_t *path, size_t n, const uint8_t *root)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!leaf_hash || !root || index >= size || n > LDG_MERKLE_MAX_DEPTH || (n && !path))
        return LDG_EINVALID;

    uint8_t r[LDG_HASH_MAX];
    memcpy(r, leaf_hash, h->digest_len);
    int rc = fold(h, index, size - 1, path, n, r, NULL);
    if (rc)
        return rc;
    return memcmp(r, root, h->digest_len) == 0 ? 0 : LDG_EINVALID;
}

int ldg_log_verify_consistency(uint32_t alg, uint64_t m, uint64_t n, const uint8_t *root_m,
                               const uint8_t *root_n, const uint8_t *path, size_t count)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!root_m || !root_n || m == 0 || m > n || count > LDG_LOG_PROOF_MAX ||
        (count && !path))
        return LDG_EINVALID;
    size_t dl = h->digest_len;
    /* The RFC's algorithm starts at 0 < m < n; the same tree is consistent with itself, by
     * the empty proof PROOF(n, D[n]). */
    if (m == n)
        return count == 0 && memcmp(root_m, root_n, dl) == 0 ? 0 : LDG_EINVALID;
    if (count == 0)
        return LDG_EINVALID;

    /* When m is a power of two the old tree is a perfect subtree on the left edge and the
     * proof leaves it out (the verifier holds it): it is the seed of both folds (step 2).
     * Otherwise the proof's first hash is. */
    const uint8_t *seed = root_m;
    if (m & (m - 1))
        seed = path, path += dl, count--;
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1)
        fn >>= 1, sn >>= 1;
    uint8_t fr[LDG_HASH_MAX], sr[LDG_HASH_MAX];
    memcpy(fr, seed, dl);
    memcpy(sr, seed, dl);
    int rc = fold(h, fn, sn, path, count, sr, fr);
    if (rc)
        return rc;
    if (memcmp(fr, root_m, dl) != 0 || memcmp(sr, root_n, dl) != 0)
        return LDG_EINVALID;
    return 0;
}
