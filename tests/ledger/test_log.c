/*
 * The RFC 9162 append-only log over an in-memory store: its roots agree with ldg_merkle_root
 * after every append and for every earlier size; its inclusion proofs are ldg_merkle_proof's
 * paths; its consistency proofs are a literal transcription of RFC 9162's SUBPROOF and match
 * the RFC's 7-leaf example; both verifiers refuse tampering; storage errors pass up; sizes
 * above 2^32 (up to 2^64 - 1) work, on a tree of identical leaves whose stored subtrees are
 * computed rather than stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"

static const uint32_t algs[2] = {LDG_HASH_SHA256, LDG_HASH_SHA3_256};

static size_t dlen(uint32_t alg)
{
    return ldg_hash_by_id(alg)->digest_len;
}

static void flip(uint8_t *p, size_t bit)
{
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* ---- An in-memory store: every entry of a log of up to MAX_LEAVES leaves -------------- */

#define MAX_LEAVES 300
#define LEVELS 10 /* 2^9 > MAX_LEAVES */
#define EFAIL LDG_EIO

typedef struct {
    uint8_t hash[LEVELS][MAX_LEAVES][LDG_HASH_MAX];
    bool have[LEVELS][MAX_LEAVES];
    uint64_t next[LEVELS]; /* the index the next put at each level must have */
    size_t dl;
    unsigned gets, puts;
    unsigned fail_get, fail_put; /* fail the k-th get / put from now with EFAIL (0: never) */
} mem_log;

static mem_log mem;

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t *out)
{
    mem_log *m = ctx;
    m->gets++;
    if (m->fail_get && --m->fail_get == 0)
        return EFAIL;
    if (level >= LEVELS || index >= MAX_LEAVES || !m->have[level][index])
        return LDG_ENOTFOUND;
    memcpy(out, m->hash[level][index], m->dl);
    return 0;
}

/* Append-only and in order at each level, as the header promises an LMDB table. */
static int mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t *hash)
{
    mem_log *m = ctx;
    m->puts++;
    if (m->fail_put && --m->fail_put == 0)
        return EFAIL;
    assert_true(level < LEVELS && index < MAX_LEAVES);
    assert_false(m->have[level][index]);
    assert_int_equal(index, m->next[level]);
    m->next[level]++;
    memcpy(m->hash[level][index], hash, m->dl);
    m->have[level][index] = true;
    return 0;
}

static const ldg_log_io mem_io = {mem_get, mem_put, &mem};

static void mem_reset(uint32_t alg)
{
    memset(&mem, 0, sizeof mem);
    mem.dl = dlen(alg);
}

/* Distinct leaf hashes (the same as test_merkle's). */
static uint8_t *make_leaves(uint32_t alg, size_t n)
{
    size_t dl = dlen(alg);
    uint8_t *l = malloc(n * dl);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        uint8_t data[8];
        for (int b = 0; b < 8; b++)
            data[b] = (uint8_t)(i >> (8 * b));
        assert_int_equal(ldg_merkle_leaf(alg, data, sizeof data, l + i * dl), 0);
    }
    return l;
}

/* A fresh log holding leaves[0..n). */
static void fill(uint32_t alg, const uint8_t *leaves, size_t n)
{
    mem_reset(alg);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ldg_log_append(alg, &mem_io, i, leaves + i * mem.dl), 0);
}

static unsigned popcount(uint64_t v)
{
    unsigned c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

/* ---- RFC 9162 2.1.4.1, transcribed literally ------------------------------------------ */

static size_t ref_split(size_t n)
{
    size_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

/* SUBPROOF(m, D[n], b); appends to path, returns the new count. */
static size_t ref_subproof(uint32_t alg, const uint8_t *leaves, size_t m, size_t n, bool b,
                           uint8_t *path, size_t count)
{
    size_t dl = dlen(alg);
    if (m == n) {
        if (!b)
            assert_int_equal(ldg_merkle_root(alg, leaves, n, path + count++ * dl), 0);
        return count;
    }
    size_t k = ref_split(n);
    if (m <= k) {
        count = ref_subproof(alg, leaves, m, k, b, path, count);
        assert_int_equal(ldg_merkle_root(alg, leaves + k * dl, n - k, path + count * dl), 0);
    } else {
        count = ref_subproof(alg, leaves + k * dl, m - k, n - k, false, path, count);
        assert_int_equal(ldg_merkle_root(alg, leaves, k, path + count * dl), 0);
    }
    return count + 1;
}

/* Length of PATH(index, D[size]), from the RFC's recursion. */
static size_t ref_path_len(uint64_t index, uint64_t size)
{
    size_t len = 0;
    while (size > 1) {
        uint64_t k = 1;
        while (k < size - k)
            k <<= 1;
        if (index < k) {
            size = k;
        } else {
            index -= k, size -= k;
        }
        len++;
    }
    return len;
}

/* ---------------------------------------------------------------------------------------- */

/* After every append, the root equals ldg_merkle_root's, costs one read per 1 bit of the
 * size, and every earlier size's root is unchanged. */
static void test_append_roots(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t dl = dlen(alg);
        uint8_t *leaves = make_leaves(alg, MAX_LEAVES);
        static uint8_t roots[MAX_LEAVES + 1][LDG_HASH_MAX];
        mem_reset(alg);

        assert_int_equal(ldg_log_root(alg, &mem_io, 0, roots[0]), 0);
        uint8_t want[LDG_HASH_MAX], got[LDG_HASH_MAX];
        assert_int_equal(ldg_merkle_root(alg, NULL, 0, want), 0);
        assert_memory_equal(roots[0], want, dl);
        assert_int_equal(mem.gets, 0);

        for (size_t n = 1; n <= MAX_LEAVES; n++) {
            unsigned puts = mem.puts;
            assert_int_equal(ldg_log_append(alg, &mem_io, n - 1, leaves + (n - 1) * dl), 0);
            /* The leaf and one subtree per trailing 1 bit of the old size. */
            unsigned trailing = 0;
            while (((n - 1) >> trailing) & 1)
                trailing++;
            assert_int_equal(mem.puts - puts, 1 + trailing);

            mem.gets = 0;
            assert_int_equal(ldg_log_root(alg, &mem_io, n, roots[n]), 0);
            assert_int_equal(mem.gets, popcount(n));
            assert_int_equal(ldg_merkle_root(alg, leaves, n, want), 0);
            assert_memory_equal(roots[n], want, dl);
            for (size_t s = 0; s < n; s++) {
                assert_int_equal(ldg_log_root(alg, &mem_io, s, got), 0);
                assert_memory_equal(got, roots[s], dl);
            }
        }
        /* Every perfect subtree once: 2n - popcount(n) entries. */
        assert_int_equal(mem.puts, 2 * MAX_LEAVES - popcount(MAX_LEAVES));
        /* A size beyond the log is the store's "not found". */
        assert_int_equal(ldg_log_root(alg, &mem_io, MAX_LEAVES + 1, got), LDG_ENOTFOUND);
        free(leaves);
    }
}

/* The Certificate Transparency reference data (as in test_merkle): the roots of its 8 leaves. */
static void test_ct_roots(void **state)
{
    (void)state;
    static const char *data[8] = {"", "00", "10", "2021", "3031", "40414243",
                                  "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
    static const char *roots[9] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    mem_reset(LDG_HASH_SHA256);
    for (size_t n = 0; n <= 8; n++) {
        if (n > 0) {
            uint8_t d[16], leaf[32];
            size_t len = strlen(data[n - 1]) / 2;
            for (size_t i = 0; i < len; i++) {
                unsigned v;
                assert_int_equal(sscanf(data[n - 1] + 2 * i, "%2x", &v), 1);
                d[i] = (uint8_t)v;
            }
            assert_int_equal(ldg_merkle_leaf(LDG_HASH_SHA256, d, len, leaf), 0);
            assert_int_equal(ldg_log_append(LDG_HASH_SHA256, &mem_io, n - 1, leaf), 0);
        }
        uint8_t root[32];
        char hex[65];
        assert_int_equal(ldg_log_root(LDG_HASH_SHA256, &mem_io, n, root), 0);
        for (size_t i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", root[i]);
        assert_string_equal(hex, roots[n]);
    }
}

/* One inclusion proof: it is ldg_merkle_proof's path and verifies (both verifiers); a flipped
 * bit anywhere, another index, a wrong root, a path one short or one long, and a size whose
 * path has another length, all fail. */
static void check_inclusion(uint32_t alg, const uint8_t *leaves, size_t index, size_t size,
                            const uint8_t *root)
{
    size_t dl = dlen(alg), n = 99, want_n;
    uint8_t path[(LDG_LOG_PROOF_MAX + 1) * LDG_HASH_MAX], want[LDG_LOG_PROOF_MAX * LDG_HASH_MAX];
    uint8_t bad[LDG_HASH_MAX];
    const uint8_t *leaf = leaves + index * dl;

    mem.gets = 0;
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, index, size, path, LDG_LOG_PROOF_MAX, &n),
                     0);
    assert_true(mem.gets <= 2 * n);
    assert_int_equal(
        ldg_merkle_proof(alg, leaves, size, index, want, LDG_LOG_PROOF_MAX, &want_n), 0);
    assert_int_equal(n, want_n);
    assert_int_equal(n, ref_path_len(index, size));
    assert_memory_equal(path, want, n * dl);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, size, path, n, root), 0);
    assert_int_equal(ldg_merkle_verify(alg, leaf, index, size, path, n, root), 0);

    for (size_t j = 0; j < n; j++)
        for (size_t bit = j % 8; bit < dl * 8; bit += 61) {
            flip(path + j * dl, bit);
            assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, size, path, n, root),
                             LDG_EINVALID);
            flip(path + j * dl, bit);
        }
    memcpy(bad, root, dl);
    flip(bad, index % (dl * 8));
    assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, size, path, n, bad),
                     LDG_EINVALID);
    memcpy(bad, leaf, dl);
    flip(bad, 7);
    assert_int_equal(ldg_log_verify_inclusion(alg, bad, index, size, path, n, root),
                     LDG_EINVALID);
    for (size_t other = index < 3 ? 0 : index - 3; other < index + 4; other++)
        if (other != index)
            assert_int_equal(ldg_log_verify_inclusion(alg, leaf, other, size, path, n, root),
                             LDG_EINVALID);
    if (n > 0)
        assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, size, path, n - 1, root),
                         LDG_EINVALID);
    memcpy(path + n * dl, root, dl);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, size, path, n + 1, root),
                     LDG_EINVALID);
    /* The proof does not name the size: the signed tree head binds it to the root. A size
     * whose tree has the same shape along this path gives the same walk, so only the sizes
     * with another path length are sure to fail. */
    const uint64_t sizes[] = {size - 1, size + 1, 2 * size, size / 2, (uint64_t)1 << 40};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        if (sizes[s] > index && ref_path_len(index, sizes[s]) != n)
            assert_int_equal(
                ldg_log_verify_inclusion(alg, leaf, index, sizes[s], path, n, root),
                LDG_EINVALID);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaf, index, index, path, n, root),
                     LDG_EINVALID);
}

static void test_inclusion(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        uint8_t *leaves = make_leaves(alg, MAX_LEAVES);
        fill(alg, leaves, MAX_LEAVES);
        for (size_t size = 1; size <= MAX_LEAVES; size += (size < 70 ? 1 : 23)) {
            uint8_t root[LDG_HASH_MAX];
            assert_int_equal(ldg_log_root(alg, &mem_io, size, root), 0);
            for (size_t index = 0; index < size; index += (size < 70 ? 1 : 5))
                check_inclusion(alg, leaves, index, size, root);
            check_inclusion(alg, leaves, size - 1, size, root);
        }
        /* A path that goes on past the root: leaf 1 of two passed off as the only leaf of a
         * one-leaf tree, with leaf 0 as its "sibling", hashes to the two-leaf root. */
        uint8_t root2[LDG_HASH_MAX];
        size_t dl = dlen(alg);
        assert_int_equal(ldg_log_root(alg, &mem_io, 2, root2), 0);
        assert_int_equal(ldg_log_verify_inclusion(alg, leaves + dl, 0, 1, leaves, 1, root2),
                         LDG_EINVALID);
        assert_int_equal(ldg_log_verify_inclusion(alg, leaves + dl, 1, 2, leaves, 1, root2), 0);
        const size_t edges[] = {255, 256, 257, MAX_LEAVES};
        for (size_t e = 0; e < 4; e++) {
            uint8_t root[LDG_HASH_MAX];
            assert_int_equal(ldg_log_root(alg, &mem_io, edges[e], root), 0);
            for (size_t index = 0; index < edges[e]; index++)
                check_inclusion(alg, leaves, index, edges[e], root);
        }
        free(leaves);
    }
}

/* One consistency proof: it is the RFC's SUBPROOF and verifies; a flipped bit, the roots
 * swapped or replaced, a path one short or one long or reordered, and m > n all fail. */
static void check_consistency(uint32_t alg, const uint8_t *leaves, size_t m, size_t n,
                              uint8_t (*roots)[LDG_HASH_MAX])
{
    size_t dl = dlen(alg), count = 99;
    uint8_t path[(LDG_LOG_PROOF_MAX + 1) * LDG_HASH_MAX], want[LDG_LOG_PROOF_MAX * LDG_HASH_MAX];
    uint8_t tmp[LDG_HASH_MAX];
    const uint8_t *rm = roots[m], *rn = roots[n];

    assert_int_equal(ldg_log_consistency(alg, &mem_io, m, n, path, LDG_LOG_PROOF_MAX, &count),
                     0);
    size_t want_count = ref_subproof(alg, leaves, m, n, true, want, 0);
    assert_int_equal(count, want_count);
    assert_memory_equal(path, want, count * dl);
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, count), 0);
    if (m == n) {
        assert_int_equal(count, 0);
        assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, roots[n - 1], path, 0),
                         LDG_EINVALID);
        memcpy(path, rm, dl);
        assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, 1), LDG_EINVALID);
        return;
    }
    assert_true(count >= 1);

    for (size_t j = 0; j < count; j++)
        for (size_t bit = j % 8; bit < dl * 8; bit += 67) {
            flip(path + j * dl, bit);
            assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, count),
                             LDG_EINVALID);
            flip(path + j * dl, bit);
        }
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, rn, rm, path, count), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, n, m, rn, rm, path, count), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, roots[m - 1], rn, path, count),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, roots[n - 1], path, count),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, count - 1),
                     LDG_EINVALID);
    memcpy(path + count * dl, rn, dl);
    assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, count + 1),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 0, n, rm, rn, path, count), LDG_EINVALID);
    if (count > 1) {
        memcpy(tmp, path, dl);
        memcpy(path, path + dl, dl);
        memcpy(path + dl, tmp, dl);
        assert_int_equal(ldg_log_verify_consistency(alg, m, n, rm, rn, path, count),
                         LDG_EINVALID);
    }
}

static void test_consistency(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        uint8_t *leaves = make_leaves(alg, MAX_LEAVES);
        static uint8_t roots[MAX_LEAVES + 1][LDG_HASH_MAX];
        fill(alg, leaves, MAX_LEAVES);
        for (size_t n = 0; n <= MAX_LEAVES; n++)
            assert_int_equal(ldg_log_root(alg, &mem_io, n, roots[n]), 0);
        for (size_t n = 1; n <= 70; n++)
            for (size_t m = 1; m <= n; m++)
                check_consistency(alg, leaves, m, n, roots);
        const size_t pairs[][2] = {{1, 300}, {127, 300}, {128, 300}, {255, 256}, {256, 257},
                                   {200, 299}, {299, 300}, {300, 300}};
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
            check_consistency(alg, leaves, pairs[p][0], pairs[p][1], roots);
        free(leaves);
    }
}

/* RFC 6962 2.1.3 (the example RFC 9162 2.1.5 keeps): seven leaves d0..d6,
 *
 *             hash
 *            /    \
 *           k      l
 *          / \    / \
 *         g   h  i   j
 *        / \ / \/ \  |
 *        a b c d e f d6
 *
 * PATH and PROOF give the node lists the RFCs spell out. */
static void test_rfc_example(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t dl = dlen(alg);
        uint8_t *d = make_leaves(alg, 7);
        uint8_t g[LDG_HASH_MAX], h[LDG_HASH_MAX], i[LDG_HASH_MAX], k[LDG_HASH_MAX],
            l[LDG_HASH_MAX];
        const uint8_t *b = d + 1 * dl, *c = d + 2 * dl, *dd = d + 3 * dl, *f = d + 5 * dl,
                      *j = d + 6 * dl;
        assert_int_equal(ldg_merkle_root(alg, d, 2, g), 0);
        assert_int_equal(ldg_merkle_root(alg, d + 2 * dl, 2, h), 0);
        assert_int_equal(ldg_merkle_root(alg, d + 4 * dl, 2, i), 0);
        assert_int_equal(ldg_merkle_root(alg, d, 4, k), 0);
        assert_int_equal(ldg_merkle_root(alg, d + 4 * dl, 3, l), 0);
        fill(alg, d, 7);

        static const struct {
            bool consistency;
            uint64_t x, n; /* inclusion: leaf index x; consistency: old size x */
            size_t len;
            char names[5];
        } v[] = {
            {false, 0, 7, 3, "bhl"}, {false, 3, 7, 3, "cgl"}, {false, 4, 7, 3, "fjk"},
            {false, 6, 7, 2, "ik"},  {true, 3, 7, 4, "cdgl"}, {true, 4, 7, 1, "l"},
            {true, 6, 7, 3, "ijk"},
        };
        for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
            uint8_t path[LDG_LOG_PROOF_MAX * LDG_HASH_MAX], root_x[LDG_HASH_MAX],
                root[LDG_HASH_MAX];
            size_t len = 99;
            if (v[t].consistency)
                assert_int_equal(ldg_log_consistency(alg, &mem_io, v[t].x, v[t].n, path,
                                                     LDG_LOG_PROOF_MAX, &len),
                                 0);
            else
                assert_int_equal(ldg_log_inclusion(alg, &mem_io, v[t].x, v[t].n, path,
                                                   LDG_LOG_PROOF_MAX, &len),
                                 0);
            assert_int_equal(len, v[t].len);
            for (size_t e = 0; e < len; e++) {
                const uint8_t *want = NULL;
                switch (v[t].names[e]) {
                case 'b': want = b; break;
                case 'c': want = c; break;
                case 'd': want = dd; break;
                case 'f': want = f; break;
                case 'g': want = g; break;
                case 'h': want = h; break;
                case 'i': want = i; break;
                case 'j': want = j; break;
                case 'k': want = k; break;
                case 'l': want = l; break;
                }
                assert_non_null(want);
                assert_memory_equal(path + e * dl, want, dl);
            }
            assert_int_equal(ldg_log_root(alg, &mem_io, v[t].n, root), 0);
            if (v[t].consistency) {
                assert_int_equal(ldg_log_root(alg, &mem_io, v[t].x, root_x), 0);
                assert_int_equal(
                    ldg_log_verify_consistency(alg, v[t].x, v[t].n, root_x, root, path, len),
                    0);
            } else {
                assert_int_equal(ldg_log_verify_inclusion(alg, d + v[t].x * dl, v[t].x, v[t].n,
                                                          path, len, root),
                                 0);
            }
        }
        free(d);
    }
}

typedef struct {
    int which; /* 0 root, 1 inclusion (leaf x), 2 consistency (old size x) */
    uint64_t x, n;
} read_call;

static int run_read(uint32_t alg, const read_call *c, uint8_t *out, size_t *n)
{
    if (c->which == 0)
        return ldg_log_root(alg, &mem_io, c->n, out);
    if (c->which == 1)
        return ldg_log_inclusion(alg, &mem_io, c->x, c->n, out, LDG_LOG_PROOF_MAX, n);
    return ldg_log_consistency(alg, &mem_io, c->x, c->n, out, LDG_LOG_PROOF_MAX, n);
}

/* A failing get or put: its error comes back unchanged, whichever call it is, and the
 * outputs say nothing was produced. */
static void test_io_errors(void **state)
{
    (void)state;
    uint32_t alg = LDG_HASH_SHA256;
    size_t dl = dlen(alg), n;
    uint8_t *leaves = make_leaves(alg, 256);
    uint8_t out[LDG_LOG_PROOF_MAX * LDG_HASH_MAX];

    /* Appending leaf 255 reads 2 + 8 entries and writes 9. */
    fill(alg, leaves, 255);
    mem.gets = mem.puts = 0;
    assert_int_equal(ldg_log_append(alg, &mem_io, 255, leaves + 255 * dl), 0);
    assert_int_equal(mem.gets, 10);
    assert_int_equal(mem.puts, 9);
    for (unsigned k = 1; k <= 10; k++) {
        fill(alg, leaves, 255);
        mem.fail_get = k;
        assert_int_equal(ldg_log_append(alg, &mem_io, 255, leaves + 255 * dl), EFAIL);
    }
    for (unsigned k = 1; k <= 9; k++) {
        fill(alg, leaves, 255);
        mem.fail_put = k;
        assert_int_equal(ldg_log_append(alg, &mem_io, 255, leaves + 255 * dl), EFAIL);
    }

    fill(alg, leaves, 256);
    const read_call calls[] = {{0, 0, 255},   {1, 0, 255},   {1, 254, 255}, {1, 100, 201},
                               {2, 3, 255},   {2, 128, 255}, {2, 129, 250}};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        for (unsigned k = 1;; k++) {
            mem.gets = 0;
            mem.fail_get = k;
            n = 99;
            int rc = run_read(alg, &calls[c], out, &n);
            if (mem.gets < k) { /* every get was made and none failed */
                mem.fail_get = 0;
                assert_int_equal(rc, 0);
                assert_true(k > 1);
                break;
            }
            assert_int_equal(rc, EFAIL);
            if (calls[c].which != 0)
                assert_int_equal(n, 0);
        }
    }
    /* Sizes beyond the log: the store's "not found", from each. */
    assert_int_equal(ldg_log_root(alg, &mem_io, 257, out), LDG_ENOTFOUND);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 300, out, LDG_LOG_PROOF_MAX, &n),
                     LDG_ENOTFOUND);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 10, 300, out, LDG_LOG_PROOF_MAX, &n),
                     LDG_ENOTFOUND);
    free(leaves);
}

/* Bad arguments: refused before any storage call, and nothing written past cap. */
static void test_arguments(void **state)
{
    (void)state;
    uint32_t alg = LDG_HASH_SHA3_256;
    size_t dl = dlen(alg), n = 99;
    uint8_t *leaves = make_leaves(alg, 20);
    uint8_t out[LDG_LOG_PROOF_MAX * LDG_HASH_MAX], root[LDG_HASH_MAX];
    fill(alg, leaves, 20);
    assert_int_equal(ldg_log_root(alg, &mem_io, 20, root), 0);
    ldg_log_io no_get = {NULL, mem_put, &mem}, no_put = {mem_get, NULL, &mem};

    /* Append at a size that is not the log's: nothing read past the check, nothing written. */
    mem.gets = mem.puts = 0;
    assert_int_equal(ldg_log_append(alg, &mem_io, 19, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &mem_io, 0, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &mem_io, 21, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &mem_io, 1000, leaves), LDG_EINVALID);
    assert_int_equal(mem.puts, 0);
    assert_int_equal(ldg_log_append(alg, &mem_io, UINT64_MAX, leaves), LDG_ETOOBIG);
    assert_int_equal(ldg_log_append(99, &mem_io, 20, leaves), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_log_append(alg, NULL, 20, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &no_get, 20, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &no_put, 20, leaves), LDG_EINVALID);
    assert_int_equal(ldg_log_append(alg, &mem_io, 20, NULL), LDG_EINVALID);
    assert_int_equal(mem.puts, 0);

    assert_int_equal(ldg_log_root(99, &mem_io, 20, out), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_log_root(alg, NULL, 20, out), LDG_EINVALID);
    assert_int_equal(ldg_log_root(alg, &no_get, 20, out), LDG_EINVALID);
    assert_int_equal(ldg_log_root(alg, &mem_io, 20, NULL), LDG_EINVALID);
    assert_int_equal(ldg_log_root(alg, &no_put, 20, out), 0); /* reads need no put */
    assert_memory_equal(out, root, dl);

    assert_int_equal(ldg_log_inclusion(99, &mem_io, 0, 20, out, 64, &n), LDG_EUNKNOWN_ALG);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 20, 20, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 0, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, UINT64_MAX, 20, out, 64, &n),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &no_get, 0, 20, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 20, out, 64, NULL), LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 20, NULL, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 1, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    mem.gets = 0;
    memset(out, 0xee, sizeof out);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 20, out, 4, &n), LDG_ETOOBIG);
    assert_int_equal(mem.gets, 0);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xee);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 20, out, 5, &n), 0);
    assert_int_equal(n, 5);

    n = 99;
    assert_int_equal(ldg_log_consistency(99, &mem_io, 1, 20, out, 64, &n), LDG_EUNKNOWN_ALG);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 0, 20, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 0, 0, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 21, 20, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &no_get, 1, 20, out, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 1, 20, out, 64, NULL), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 1, 20, NULL, 64, &n), LDG_EINVALID);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 20, 20, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    memset(out, 0xee, sizeof out);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 3, 20, out, 5, &n), LDG_ETOOBIG);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xee);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 3, 20, out, 6, &n), 0);
    assert_int_equal(n, 6);

    free(leaves);
}

/* The verifiers refuse malformed input: NULLs, sizes out of order, path lengths. */
static void test_verifier_arguments(void **state)
{
    (void)state;
    uint32_t alg = LDG_HASH_SHA3_256;
    size_t n;
    uint8_t *leaves = make_leaves(alg, 20);
    uint8_t out[LDG_LOG_PROOF_MAX * LDG_HASH_MAX], root[LDG_HASH_MAX], root3[LDG_HASH_MAX];
    fill(alg, leaves, 20);
    assert_int_equal(ldg_log_root(alg, &mem_io, 20, root), 0);
    assert_int_equal(ldg_log_root(alg, &mem_io, 3, root3), 0);
    assert_int_equal(ldg_log_consistency(alg, &mem_io, 3, 20, out, 6, &n), 0);

    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, root3, root, out, 6), 0);
    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, root, root, out, 6), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(99, 3, 20, root, root, out, 6),
                     LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, NULL, root, out, 6), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, root, NULL, out, 6), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, root, root, NULL, 6),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 3, 20, root, root, out, 0), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 4, 20, root, root, out, 0), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 0, 0, root, root, NULL, 0), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_consistency(alg, 20, 20, root, root, NULL, 0), 0);
    assert_int_equal(
        ldg_log_verify_consistency(alg, 3, 20, root, root, out, LDG_LOG_PROOF_MAX + 1),
        LDG_EINVALID);
    assert_int_equal(ldg_log_inclusion(alg, &mem_io, 0, 20, out, 5, &n), 0);
    assert_int_equal(ldg_log_verify_inclusion(99, leaves, 0, 20, out, 5, root),
                     LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_log_verify_inclusion(alg, NULL, 0, 20, out, 5, root), LDG_EINVALID);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaves, 0, 20, NULL, 5, root),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaves, 0, 20, out, 5, NULL),
                     LDG_EINVALID);
    assert_int_equal(ldg_log_verify_inclusion(alg, leaves, 0, 20, out, 5, root), 0);
    assert_int_equal(
        ldg_log_verify_inclusion(alg, leaves, 0, 20, out, LDG_MERKLE_MAX_DEPTH + 1, root),
        LDG_EINVALID);
    free(leaves);
}

/* ---- Sizes up to 2^64 - 1: a log of identical leaves ---------------------------------- */

/* Every perfect subtree of a given level has the same hash, so the whole store is one hash
 * per level, computed, not stored: p[l] = H(0x01 || p[l-1] || p[l-1]). */
typedef struct {
    uint8_t p[64][LDG_HASH_MAX];
    uint64_t size;
    size_t dl;
    unsigned gets;
} same_log;

static int same_get(void *ctx, unsigned level, uint64_t index, uint8_t *out)
{
    same_log *s = ctx;
    s->gets++;
    /* Complete within the first size leaves: (index + 1) << level <= size. */
    if (level >= 64 || index >= (s->size >> level))
        return LDG_ENOTFOUND;
    memcpy(out, s->p[level], s->dl);
    return 0;
}

static void same_init(same_log *s, uint32_t alg, uint64_t size)
{
    memset(s, 0, sizeof *s);
    s->size = size;
    s->dl = dlen(alg);
    assert_int_equal(ldg_merkle_leaf(alg, (const uint8_t *)"x", 1, s->p[0]), 0);
    for (unsigned l = 1; l < 64; l++) {
        uint8_t two[2 * LDG_HASH_MAX];
        size_t dl = dlen(alg);
        memcpy(two, s->p[l - 1], dl);
        memcpy(two + dl, s->p[l - 1], dl);
        assert_int_equal(ldg_merkle_root(alg, two, 2, s->p[l]), 0);
    }
}

/* The store of test_huge_sizes and test_longest_proofs (static: 4 KB). */
static same_log same;

static void test_huge_sizes(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t dl = dlen(alg), n;
        uint8_t path[(LDG_LOG_PROOF_MAX + 1) * LDG_HASH_MAX], root[LDG_HASH_MAX],
            root_m[LDG_HASH_MAX];
        const ldg_log_io io = {same_get, NULL, &same};
        const uint64_t sizes[] = {((uint64_t)1 << 32) + 1, ((uint64_t)1 << 40) + 12345,
                                  (uint64_t)1 << 63, UINT64_MAX - 1, UINT64_MAX};

        /* A perfect tree's root is its one stored subtree. */
        same_init(&same, alg, UINT64_MAX);
        assert_int_equal(ldg_log_root(alg, &io, (uint64_t)1 << 40, root), 0);
        assert_memory_equal(root, same.p[40], dl);
        same.gets = 0;
        assert_int_equal(ldg_log_root(alg, &io, UINT64_MAX, root), 0);
        assert_int_equal(same.gets, 64);

        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            uint64_t size = sizes[t];
            assert_int_equal(ldg_log_root(alg, &io, size, root), 0);
            const uint64_t idx[] = {0, 1, (uint64_t)1 << 32, size / 3, size - 2, size - 1};
            for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
                assert_int_equal(
                    ldg_log_inclusion(alg, &io, idx[i], size, path, LDG_LOG_PROOF_MAX, &n), 0);
                assert_int_equal(n, ref_path_len(idx[i], size));
                assert_int_equal(
                    ldg_log_verify_inclusion(alg, same.p[0], idx[i], size, path, n, root), 0);
                assert_int_equal(
                    ldg_log_verify_inclusion(alg, same.p[0], idx[i], size, path, n - 1, root),
                    LDG_EINVALID);
                flip(path + (n - 1) * dl, 3);
                assert_int_equal(
                    ldg_log_verify_inclusion(alg, same.p[0], idx[i], size, path, n, root),
                    LDG_EINVALID);
            }
            const uint64_t olds[] = {1, 3, ((uint64_t)1 << 32) - 1, (uint64_t)1 << 32,
                                     size / 2 + 1, size - 1, size};
            for (size_t o = 0; o < sizeof olds / sizeof olds[0]; o++) {
                uint64_t m = olds[o];
                assert_int_equal(ldg_log_root(alg, &io, m, root_m), 0);
                assert_int_equal(
                    ldg_log_consistency(alg, &io, m, size, path, LDG_LOG_PROOF_MAX, &n), 0);
                assert_true(n <= LDG_LOG_PROOF_MAX);
                assert_int_equal(
                    ldg_log_verify_consistency(alg, m, size, root_m, root, path, n), 0);
                if (m == size) {
                    assert_int_equal(n, 0);
                    continue;
                }
                assert_int_equal(
                    ldg_log_verify_consistency(alg, m, size, root_m, root, path, n - 1),
                    LDG_EINVALID);
                assert_int_equal(
                    ldg_log_verify_consistency(alg, size, m, root, root_m, path, n),
                    LDG_EINVALID);
                flip(path, 5);
                assert_int_equal(
                    ldg_log_verify_consistency(alg, m, size, root_m, root, path, n),
                    LDG_EINVALID);
            }
        }
    }
}

/* The longest proofs: 64 hashes of inclusion, 65 of consistency. The pure verifiers alone
 * on sizes above 2^32. */
static void test_longest_proofs(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t n;
        uint8_t path[(LDG_LOG_PROOF_MAX + 1) * LDG_HASH_MAX], root[LDG_HASH_MAX],
            root_m[LDG_HASH_MAX];
        const ldg_log_io io = {same_get, NULL, &same};
        same_init(&same, alg, UINT64_MAX);

        assert_int_equal(ldg_log_root(alg, &io, UINT64_MAX, root), 0);
        assert_int_equal(
            ldg_log_inclusion(alg, &io, 0, UINT64_MAX, path, LDG_LOG_PROOF_MAX, &n), 0);
        assert_int_equal(n, 64);
        uint64_t m = UINT64_MAX - 2; /* odd, not on the left edge: the walk goes to the bottom */
        assert_int_equal(
            ldg_log_consistency(alg, &io, m, UINT64_MAX, path, LDG_LOG_PROOF_MAX, &n), 0);
        assert_int_equal(n, LDG_LOG_PROOF_MAX);
        assert_int_equal(ldg_log_root(alg, &io, m, root_m), 0);
        assert_int_equal(ldg_log_verify_consistency(alg, m, UINT64_MAX, root_m, root, path, n),
                         0);
        assert_int_equal(
            ldg_log_consistency(alg, &io, m, UINT64_MAX, path, LDG_LOG_PROOF_MAX - 1, &n),
            LDG_ETOOBIG);

        /* m == n needs the empty proof and
         * equal roots; a path of the wrong length for the sizes fails before any hashing
         * could match. */
        uint64_t big = ((uint64_t)1 << 40) + 7;
        assert_int_equal(ldg_log_verify_consistency(alg, big, big, root, root, NULL, 0), 0);
        assert_int_equal(ldg_log_verify_consistency(alg, big, big, root, root_m, NULL, 0),
                         LDG_EINVALID);
        assert_int_equal(ldg_log_verify_consistency(alg, big, big, root, root, path, 1),
                         LDG_EINVALID);
        assert_int_equal(ldg_log_verify_consistency(alg, big + 1, big, root, root, path, 1),
                         LDG_EINVALID);
        assert_int_equal(ldg_log_verify_inclusion(alg, same.p[0], big - 1, big, path, 3, root),
                         LDG_EINVALID);
        assert_int_equal(ldg_log_verify_inclusion(alg, same.p[0], big, big, path, 41, root),
                         LDG_EINVALID);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_roots), cmocka_unit_test(test_ct_roots),
        cmocka_unit_test(test_inclusion),    cmocka_unit_test(test_consistency),
        cmocka_unit_test(test_rfc_example),  cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_arguments),    cmocka_unit_test(test_verifier_arguments),
        cmocka_unit_test(test_huge_sizes),   cmocka_unit_test(test_longest_proofs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
