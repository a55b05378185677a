/*
 * RFC 6962 Merkle trees: the Certificate Transparency reference vectors (the 8-leaf test data
 * of the CT reference implementation, as also used by transparency-dev/merkle), agreement
 * with a direct recursive transcription of RFC 6962's MTH and PATH, and for every tree size
 * up to 20 and every leaf: the proof verifies, and any tampering is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"

#define H LDG_HASH_SHA256
#define DL 32

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    assert_true(strlen(h) % 2 == 0 && n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void assert_hex(const uint8_t *got, const char *want)
{
    uint8_t w[DL];
    assert_int_equal(unhex(want, w, sizeof w), DL);
    assert_memory_equal(got, w, DL);
}

static const char *ct_leaves[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

/* Roots of the first n leaves, n = 0..8. */
static const char *ct_roots[9] = {
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

static void ct_leaf_hashes(uint8_t out[8 * DL])
{
    for (size_t i = 0; i < 8; i++) {
        uint8_t d[16];
        size_t n = unhex(ct_leaves[i], d, sizeof d);
        assert_int_equal(ldg_merkle_leaf(H, d, n, out + i * DL), 0);
    }
}

/* ---- RFC 6962 2.1, transcribed literally (recursive, split at the largest 2^k < n) ----- */

static void ref_node(uint32_t alg, const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    uint8_t buf[1 + 2 * LDG_HASH_MAX];
    buf[0] = 0x01;
    memcpy(buf + 1, l, h->digest_len);
    memcpy(buf + 1 + h->digest_len, r, h->digest_len);
    const uint8_t *parts[1] = {buf};
    size_t len = 1 + 2 * h->digest_len, out_len;
    assert_int_equal(ldg_hash(alg, parts, &len, 1, out, &out_len), 0);
}

static size_t ref_split(size_t n)
{
    size_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

static void ref_mth(uint32_t alg, const uint8_t *leaves, size_t n, uint8_t *out)
{
    size_t dl = ldg_hash_by_id(alg)->digest_len;
    if (n == 1) {
        memcpy(out, leaves, dl);
        return;
    }
    size_t k = ref_split(n);
    uint8_t l[LDG_HASH_MAX], r[LDG_HASH_MAX];
    ref_mth(alg, leaves, k, l);
    ref_mth(alg, leaves + k * dl, n - k, r);
    ref_node(alg, l, r, out);
}

/* PATH(m, D[n]); appends to path, returns the new count. */
static size_t ref_path(uint32_t alg, const uint8_t *leaves, size_t n, size_t m, uint8_t *path,
                       size_t count)
{
    size_t dl = ldg_hash_by_id(alg)->digest_len;
    if (n == 1)
        return count;
    size_t k = ref_split(n);
    if (m < k) {
        count = ref_path(alg, leaves, k, m, path, count);
        ref_mth(alg, leaves + k * dl, n - k, path + count * dl);
    } else {
        count = ref_path(alg, leaves + k * dl, n - k, m - k, path, count);
        ref_mth(alg, leaves, k, path + count * dl);
    }
    return count + 1;
}

/* Distinct leaf hashes for synthetic trees. */
static uint8_t *make_leaves(uint32_t alg, size_t n)
{
    size_t dl = ldg_hash_by_id(alg)->digest_len;
    uint8_t *l = malloc(n * dl + 1);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        uint8_t data[8];
        for (int b = 0; b < 8; b++)
            data[b] = (uint8_t)(i >> (8 * b));
        assert_int_equal(ldg_merkle_leaf(alg, data, sizeof data, l + i * dl), 0);
    }
    return l;
}

/* ---------------------------------------------------------------------------------------- */

static void test_leaf_hash(void **state)
{
    (void)state;
    uint8_t out[DL];
    /* The leaf hash of the empty entry is the 1-leaf root. */
    assert_int_equal(ldg_merkle_leaf(H, NULL, 0, out), 0);
    assert_hex(out, ct_roots[1]);
    assert_int_equal(ldg_merkle_leaf(H, (const uint8_t *)"", 0, out), 0);
    assert_hex(out, ct_roots[1]);
    /* H(0x00 || data), not H(data). */
    uint8_t want[DL], buf[4] = {0x00, 'a', 'b', 'c'};
    const uint8_t *parts[1] = {buf};
    size_t len = 4, out_len;
    assert_int_equal(ldg_hash(H, parts, &len, 1, want, &out_len), 0);
    assert_int_equal(ldg_merkle_leaf(H, (const uint8_t *)"abc", 3, out), 0);
    assert_memory_equal(out, want, DL);

    assert_int_equal(ldg_merkle_leaf(99, NULL, 0, out), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_merkle_leaf(H, NULL, 1, out), LDG_EINVALID);
}

static void test_ct_roots(void **state)
{
    (void)state;
    uint8_t leaves[8 * DL], root[DL];
    ct_leaf_hashes(leaves);
    for (size_t n = 0; n <= 8; n++) {
        memset(root, 0, sizeof root);
        assert_int_equal(ldg_merkle_root(H, leaves, n, root), 0);
        assert_hex(root, ct_roots[n]);
    }
    /* The empty tree is H("") whatever the leaves pointer. */
    assert_int_equal(ldg_merkle_root(H, NULL, 0, root), 0);
    assert_hex(root, ct_roots[0]);
}

static void test_ct_proofs(void **state)
{
    (void)state;
    uint8_t leaves[8 * DL], root[DL], path[LDG_MERKLE_MAX_DEPTH * DL];
    ct_leaf_hashes(leaves);

    /* From the CT / transparency-dev test data (leaf index 0-based here). */
    static const struct {
        size_t index, n, len;
        const char *path[3];
    } v[] = {
        {0, 1, 0, {NULL}},
        {0, 8, 3,
         {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {5, 8, 3,
         {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
          "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
        {1, 5, 3,
         {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = 99;
        assert_int_equal(ldg_merkle_proof(H, leaves, v[i].n, v[i].index, path,
                                          LDG_MERKLE_MAX_DEPTH, &len),
                         0);
        assert_int_equal(len, v[i].len);
        for (size_t j = 0; j < len; j++)
            assert_hex(path + j * DL, v[i].path[j]);
        assert_int_equal(ldg_merkle_root(H, leaves, v[i].n, root), 0);
        assert_hex(root, ct_roots[v[i].n]);
        assert_int_equal(
            ldg_merkle_verify(H, leaves + v[i].index * DL, v[i].index, v[i].n, path, len, root),
            0);
    }
}

/* The iterative root and proof agree with the recursive definition, for both hashes. */
static void test_matches_definition(void **state)
{
    (void)state;
    const uint32_t algs[2] = {LDG_HASH_SHA256, LDG_HASH_SHA3_256};
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t dl = ldg_hash_by_id(alg)->digest_len;
        uint8_t *leaves = make_leaves(alg, 140);
        for (size_t n = 1; n <= 140; n++) {
            uint8_t got[LDG_HASH_MAX], want[LDG_HASH_MAX];
            assert_int_equal(ldg_merkle_root(alg, leaves, n, got), 0);
            ref_mth(alg, leaves, n, want);
            assert_memory_equal(got, want, dl);
            for (size_t m = 0; m < n; m += (n > 40 ? 7 : 1)) {
                uint8_t p1[LDG_MERKLE_MAX_DEPTH * LDG_HASH_MAX];
                uint8_t p2[LDG_MERKLE_MAX_DEPTH * LDG_HASH_MAX];
                size_t l1;
                assert_int_equal(
                    ldg_merkle_proof(alg, leaves, n, m, p1, LDG_MERKLE_MAX_DEPTH, &l1), 0);
                size_t l2 = ref_path(alg, leaves, n, m, p2, 0);
                assert_int_equal(l1, l2);
                assert_memory_equal(p1, p2, l1 * dl);
            }
        }
        free(leaves);
    }
    /* The two hashes give different trees over the same data. */
    uint8_t *l1 = make_leaves(LDG_HASH_SHA256, 5), *l2 = make_leaves(LDG_HASH_SHA3_256, 5);
    uint8_t r1[LDG_HASH_MAX], r2[LDG_HASH_MAX];
    assert_int_equal(ldg_merkle_root(LDG_HASH_SHA256, l1, 5, r1), 0);
    assert_int_equal(ldg_merkle_root(LDG_HASH_SHA3_256, l2, 5, r2), 0);
    assert_memory_not_equal(r1, r2, 32);
    free(l1);
    free(l2);
}

static void flip(uint8_t *p, size_t bit)
{
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Every n in 1..20, every index: the proof verifies; tampering with anything fails. */
static void test_all_small_trees(void **state)
{
    (void)state;
    const uint32_t algs[2] = {LDG_HASH_SHA256, LDG_HASH_SHA3_256};
    for (size_t a = 0; a < 2; a++) {
        uint32_t alg = algs[a];
        size_t dl = ldg_hash_by_id(alg)->digest_len;
        uint8_t *leaves = make_leaves(alg, 21);
        for (size_t n = 1; n <= 20; n++) {
            uint8_t root[LDG_HASH_MAX], bad[LDG_HASH_MAX];
            assert_int_equal(ldg_merkle_root(alg, leaves, n, root), 0);
            for (size_t m = 0; m < n; m++) {
                uint8_t path[(LDG_MERKLE_MAX_DEPTH + 1) * LDG_HASH_MAX];
                size_t len;
                const uint8_t *leaf = leaves + m * dl;
                assert_int_equal(
                    ldg_merkle_proof(alg, leaves, n, m, path, LDG_MERKLE_MAX_DEPTH, &len), 0);
                /* ceil(log2 n) at most, and exactly that for the leftmost leaf. */
                size_t depth = 0;
                while (((size_t)1 << depth) < n)
                    depth++;
                assert_true(len <= depth);
                if (m == 0)
                    assert_int_equal(len, depth);
                assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len, root), 0);

                /* Tampered path: any element, a few bits of each. */
                for (size_t j = 0; j < len; j++)
                    for (size_t bit = 0; bit < dl * 8; bit += 37) {
                        flip(path + j * dl, bit);
                        assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len, root),
                                         LDG_EINVALID);
                        flip(path + j * dl, bit);
                    }
                /* Tampered leaf and root. */
                for (size_t bit = 0; bit < dl * 8; bit += 29) {
                    memcpy(bad, leaf, dl);
                    flip(bad, bit);
                    assert_int_equal(ldg_merkle_verify(alg, bad, m, n, path, len, root),
                                     LDG_EINVALID);
                    memcpy(bad, root, dl);
                    flip(bad, bit);
                    assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len, bad),
                                     LDG_EINVALID);
                }
                /* Another leaf at the same index, and this leaf at any other index. */
                assert_int_equal(ldg_merkle_verify(alg, leaves + 20 * dl, m, n, path, len, root),
                                 LDG_EINVALID);
                for (size_t other = 0; other < n + 2; other++)
                    if (other != m)
                        assert_int_equal(
                            ldg_merkle_verify(alg, leaf, other, n, path, len, root),
                            LDG_EINVALID);
                /* A path that is one short, one long, or reordered. */
                if (len > 0)
                    assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len - 1, root),
                                     LDG_EINVALID);
                memcpy(path + len * dl, root, dl);
                assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len + 1, root),
                                 LDG_EINVALID);
                if (len > 1) {
                    memcpy(bad, path, dl);
                    memcpy(path, path + dl, dl);
                    memcpy(path + dl, bad, dl);
                    assert_int_equal(ldg_merkle_verify(alg, leaf, m, n, path, len, root),
                                     LDG_EINVALID);
                }
                /* A sibling subtree root passed off as a one-leaf tree. */
                if (n > 1) {
                    assert_int_equal(ldg_merkle_verify(alg, path + (len - 1) * dl, 0, 1, NULL,
                                                       0, root),
                                     LDG_EINVALID);
                }
                /* A tree too small to hold the index. */
                assert_int_equal(ldg_merkle_verify(alg, leaf, m, m, path, len, root),
                                 LDG_EINVALID);
            }
        }
        free(leaves);
    }
}

static void test_large_tree(void **state)
{
    (void)state;
    size_t n = 100003;
    uint8_t *leaves = make_leaves(H, n);
    uint8_t root[DL], want[DL], path[LDG_MERKLE_MAX_DEPTH * DL];
    assert_int_equal(ldg_merkle_root(H, leaves, n, root), 0);
    ref_mth(H, leaves, n, want);
    assert_memory_equal(root, want, DL);
    const size_t idx[] = {0, 1, 65535, 65536, 98303, 98304, 100000, n - 1};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        size_t len;
        assert_int_equal(ldg_merkle_proof(H, leaves, n, idx[i], path, LDG_MERKLE_MAX_DEPTH, &len),
                         0);
        assert_true(len <= 17);
        assert_int_equal(ldg_merkle_verify(H, leaves + idx[i] * DL, idx[i], n, path, len, root),
                         0);
        assert_int_equal(
            ldg_merkle_verify(H, leaves + idx[i] * DL, idx[i] ^ 1, n, path, len, root),
            LDG_EINVALID);
    }
    free(leaves);
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t leaves[8 * DL], root[DL], path[LDG_MERKLE_MAX_DEPTH * DL];
    size_t len = 77;
    ct_leaf_hashes(leaves);
    assert_int_equal(ldg_merkle_root(H, leaves, 8, root), 0);

    /* Unknown algorithm, everywhere. */
    assert_int_equal(ldg_merkle_root(99, leaves, 8, root), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_merkle_root(0, NULL, 0, root), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_merkle_proof(99, leaves, 8, 0, path, 64, &len), LDG_EUNKNOWN_ALG);
    assert_int_equal(len, 0);
    assert_int_equal(ldg_merkle_verify(99, leaves, 0, 8, path, 3, root), LDG_EUNKNOWN_ALG);

    /* Index out of range, including the empty tree. */
    assert_int_equal(ldg_merkle_proof(H, leaves, 8, 8, path, 64, &len), LDG_EINVALID);
    assert_int_equal(ldg_merkle_proof(H, leaves, 0, 0, path, 64, &len), LDG_EINVALID);
    assert_int_equal(ldg_merkle_proof(H, leaves, 8, (size_t)-1, path, 64, &len), LDG_EINVALID);
    assert_int_equal(ldg_merkle_verify(H, leaves, 8, 8, path, 3, root), LDG_EINVALID);
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 0, path, 0, root), LDG_EINVALID);

    /* Not enough room for the path: nothing written past cap. */
    memset(path, 0xee, sizeof path);
    assert_int_equal(ldg_merkle_proof(H, leaves, 8, 3, path, 2, &len), LDG_ETOOBIG);
    assert_int_equal(len, 0);
    for (size_t i = 0; i < sizeof path; i++)
        assert_int_equal(path[i], 0xee);
    assert_int_equal(ldg_merkle_proof(H, leaves, 8, 3, path, 3, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(ldg_merkle_proof(H, leaves, 1, 0, NULL, 0, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(ldg_merkle_proof(H, leaves, 2, 0, path, 0, &len), LDG_ETOOBIG);

    /* A path longer than any tree can have. */
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 8, path, LDG_MERKLE_MAX_DEPTH + 1, root),
                     LDG_EINVALID);
    /* NULL arguments are refused, never read. */
    assert_int_equal(ldg_merkle_root(H, NULL, 3, root), LDG_EINVALID);
    assert_int_equal(ldg_merkle_proof(H, NULL, 3, 0, path, 64, &len), LDG_EINVALID);
    assert_int_equal(ldg_merkle_proof(H, leaves, 3, 0, NULL, 64, &len), LDG_EINVALID);
    assert_int_equal(ldg_merkle_proof(H, leaves, 3, 0, path, 64, NULL), LDG_EINVALID);
    assert_int_equal(ldg_merkle_verify(H, NULL, 0, 8, path, 3, root), LDG_EINVALID);
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 8, NULL, 3, root), LDG_EINVALID);
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 8, path, 3, NULL), LDG_EINVALID);

    /* A 1-leaf tree: the root is the leaf and the path is empty. */
    assert_int_equal(ldg_merkle_root(H, leaves, 1, root), 0);
    assert_memory_equal(root, leaves, DL);
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 1, NULL, 0, root), 0);
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, 1, path, 1, root), LDG_EINVALID);
    /* A huge claimed size with a short path. */
    assert_int_equal(ldg_merkle_verify(H, leaves, 0, (size_t)-1, path, 3, root), LDG_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_hash),
        cmocka_unit_test(test_ct_roots),
        cmocka_unit_test(test_ct_proofs),
        cmocka_unit_test(test_matches_definition),
        cmocka_unit_test(test_all_small_trees),
        cmocka_unit_test(test_large_tree),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
