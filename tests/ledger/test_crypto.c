/*
 * The algorithm registry: known-answer tests for every algorithm, the refusal paths of every
 * signature algorithm, the per-chain algorithm policy, key ids and the genesis hash.
 *
 * Where the vectors come from:
 *   SHA-256, SHA3-256: FIPS 180-4 / FIPS 202 examples ("", "abc", the 448-bit message).
 *   Ed25519: RFC 8032 7.1 TESTs 1-3 for key derivation. Their messages are not 32 bytes, so
 *     the signature KATs sign SHA-256 digests with those keys; Ed25519 is deterministic and the
 *     expected values were checked against the RFC 8032 section 6 reference code (which also
 *     reproduces the RFC's own TEST 1 and 3 signatures) and the openssl command-line tool.
 *   BIP-340: bip-0340/test-vectors.csv, indices 0-14 (all with 32-byte messages).
 *   secp256k1 ECDSA: the widely published RFC 6979 vectors (key 1 / n-1, SHA-256 of
 *     "Satoshi Nakamoto" and of "All those moments..."), low-S form.
 *   P-256 ECDSA: RFC 6979 A.2.5, SHA-256, messages "sample" and "test".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "ledger/ledger.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                    */

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

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
    uint8_t w[256];
    size_t n = unhex(want, w, sizeof w);
    assert_int_equal(len, n);
    assert_memory_equal(got, w, n);
}

static void sha256(const void *msg, size_t len, uint8_t out[32])
{
    const uint8_t *parts[1] = {msg};
    size_t out_len;
    assert_int_equal(ldg_hash(LDG_HASH_SHA256, parts, &len, 1, out, &out_len), 0);
    assert_int_equal(out_len, 32);
}

/* 32-byte big-endian a = n - a (used to make the high-S twin of a signature). */
static void negate_mod(uint8_t a[32], const char *n_hex)
{
    uint8_t n[32];
    unhex(n_hex, n, 32);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - a[i] - borrow;
        borrow = d < 0;
        a[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

#define SECP256K1_N "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
#define P256_N "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"

static const uint32_t all_sigs[] = {LDG_SIG_SECP256K1_ECDSA, LDG_SIG_SECP256K1_SCHNORR,
                                    LDG_SIG_ED25519, LDG_SIG_P256_ECDSA};
#define N_SIGS (sizeof all_sigs / sizeof all_sigs[0])

/* ---------------------------------------------------------------------------------------- */
/* Errors and the registry                                                                    */

static void test_strerror(void **state)
{
    (void)state;
#define CHECK_MSG_(name, val, msg) assert_string_equal(ldg_strerror(name), msg);
    LDG_ERRORS(CHECK_MSG_)
#undef CHECK_MSG_
    assert_string_equal(ldg_strerror(1), "unknown error");
    assert_string_equal(ldg_strerror(-1000), "unknown error");
    assert_string_equal(ldg_strerror(LDG_EALG_DEPRECATED), "algorithm deprecated at this height");
}

static void test_registry(void **state)
{
    (void)state;
    static const struct {
        uint32_t id;
        const char *name;
    } hashes[] = {{LDG_HASH_SHA256, "sha256"}, {LDG_HASH_SHA3_256, "sha3-256"}};
    static const struct {
        uint32_t id;
        const char *name;
        size_t pub, sig;
    } sigs[] = {
        {LDG_SIG_SECP256K1_ECDSA, "secp256k1-ecdsa", 33, 64},
        {LDG_SIG_SECP256K1_SCHNORR, "secp256k1-schnorr", 32, 64},
        {LDG_SIG_ED25519, "ed25519", 32, 64},
        {LDG_SIG_P256_ECDSA, "p256-ecdsa", 33, 64},
    };

    for (size_t i = 0; i < 2; i++) {
        const ldg_hash_impl *h = ldg_hash_by_id(hashes[i].id);
        assert_non_null(h);
        assert_string_equal(h->name, hashes[i].name);
        assert_ptr_equal(ldg_hash_by_name(hashes[i].name), h);
        assert_int_equal(h->digest_len, 32);
        assert_non_null(h->hash);
    }
    for (size_t i = 0; i < 4; i++) {
        const ldg_sig_impl *s = ldg_sig_by_id(sigs[i].id);
        assert_non_null(s);
        assert_string_equal(s->name, sigs[i].name);
        assert_ptr_equal(ldg_sig_by_name(sigs[i].name), s);
        assert_int_equal(s->pub_len, sigs[i].pub);
        assert_int_equal(s->sec_len, 32);
        assert_int_equal(s->sig_len, sigs[i].sig);
        assert_true(s->keypair && s->pubkey && s->sign && s->verify);
    }

    /* Iteration visits each algorithm once, every one within the header's bounds. */
    size_t n = 0;
    for (const ldg_hash_impl *h; (h = ldg_hash_at(n)); n++) {
        assert_ptr_equal(ldg_hash_by_id(h->id), h);
        assert_true(h->digest_len <= LDG_HASH_MAX);
    }
    assert_int_equal(n, 2);
    for (n = 0; ldg_sig_at(n); n++) {
        const ldg_sig_impl *s = ldg_sig_at(n);
        assert_ptr_equal(ldg_sig_by_id(s->id), s);
        assert_true(s->pub_len <= LDG_PUBKEY_MAX && s->sec_len <= LDG_SECKEY_MAX &&
                    s->sig_len <= LDG_SIG_MAX);
    }
    assert_int_equal(n, 4);
    assert_null(ldg_hash_at(2));
    assert_null(ldg_hash_at((size_t)-1));
    assert_null(ldg_sig_at(4));

    /* Unknown ids and names. */
    assert_null(ldg_hash_by_id(0));
    assert_null(ldg_hash_by_id(3));
    assert_null(ldg_hash_by_id(99));
    assert_null(ldg_sig_by_id(0));
    assert_null(ldg_sig_by_id(5));
    assert_null(ldg_sig_by_id(99));
    assert_null(ldg_hash_by_name("SHA256"));
    assert_null(ldg_hash_by_name(""));
    assert_null(ldg_hash_by_name(NULL));
    assert_null(ldg_sig_by_name("ed448"));
    assert_null(ldg_sig_by_name(NULL));
}

/* ---------------------------------------------------------------------------------------- */
/* Hashes                                                                                     */

#define MSG448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

static void check_hash(uint32_t alg, const char *msg, const char *want)
{
    uint8_t out[LDG_HASH_MAX];
    size_t out_len = 0, len = strlen(msg);
    const uint8_t *parts[1] = {(const uint8_t *)msg};
    assert_int_equal(ldg_hash(alg, parts, &len, 1, out, &out_len), 0);
    assert_hex(out, out_len, want);

    /* The same bytes in parts (including empty and NULL ones) hash the same. */
    size_t cut = len / 3;
    const uint8_t *p3[4] = {(const uint8_t *)msg, NULL, (const uint8_t *)msg + cut,
                            (const uint8_t *)msg + len};
    size_t l3[4] = {cut, 0, len - cut, 0};
    memset(out, 0, sizeof out);
    assert_int_equal(ldg_hash(alg, p3, l3, 4, out, &out_len), 0);
    assert_hex(out, out_len, want);
}

static void test_hash_kat(void **state)
{
    (void)state;
    check_hash(LDG_HASH_SHA256, "",
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hash(LDG_HASH_SHA256, "abc",
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_hash(LDG_HASH_SHA256, MSG448,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_hash(LDG_HASH_SHA3_256, "",
               "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    check_hash(LDG_HASH_SHA3_256, "abc",
               "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    check_hash(LDG_HASH_SHA3_256, MSG448,
               "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376");

    /* Zero parts is the empty message. */
    uint8_t out[LDG_HASH_MAX];
    size_t out_len;
    assert_int_equal(ldg_hash(LDG_HASH_SHA256, NULL, NULL, 0, out, &out_len), 0);
    assert_hex(out, out_len, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Through the impl directly too. */
    assert_int_equal(ldg_hash_by_id(LDG_HASH_SHA3_256)->hash(NULL, NULL, 0, out), 0);
    assert_hex(out, 32, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

static void test_hash_errors(void **state)
{
    (void)state;
    uint8_t out[LDG_HASH_MAX];
    size_t out_len = 99, len = 3;
    const uint8_t *parts[1] = {(const uint8_t *)"abc"};
    assert_int_equal(ldg_hash(99, parts, &len, 1, out, &out_len), LDG_EUNKNOWN_ALG);
    assert_int_equal(out_len, 0);
    assert_int_equal(ldg_hash(0, parts, &len, 1, out, &out_len), LDG_EUNKNOWN_ALG);
    /* A NULL part with a length is refused, not read. */
    const uint8_t *bad[1] = {NULL};
    assert_int_equal(ldg_hash(LDG_HASH_SHA256, bad, &len, 1, out, &out_len), LDG_EINVALID);
    assert_int_equal(ldg_hash(LDG_HASH_SHA256, NULL, &len, 1, out, &out_len), LDG_EINVALID);
    /* out_len may be NULL. */
    assert_int_equal(ldg_hash(LDG_HASH_SHA256, parts, &len, 1, out, NULL), 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Ed25519                                                                                    */

static void test_ed25519_kat(void **state)
{
    (void)state;
    const ldg_sig_impl *ed = ldg_sig_by_id(LDG_SIG_ED25519);
    static const char *rfc[3][2] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
        {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"},
    };
    for (size_t i = 0; i < 3; i++) {
        uint8_t seed[32], sec[32], pub[32], pub2[32];
        unhex(rfc[i][0], seed, 32);
        assert_int_equal(ed->keypair(seed, sec, pub), 0);
        assert_memory_equal(sec, seed, 32);
        assert_hex(pub, 32, rfc[i][1]);
        assert_int_equal(ed->pubkey(sec, pub2), 0);
        assert_memory_equal(pub, pub2, 32);
    }

    /* Deterministic signatures over 32-byte digests with the RFC keys (see the top). */
    static const struct {
        int key;
        const char *msg, *sig;
    } v[] = {
        {0, "abc",
         "096f5569d807ee8ac7b1913da70cf0aab335c258f4b94c8f210dd141e9743927"
         "c8d1a6b378872a72c9446c1f75e6dc7b2def98bd0c214be6706d48791f57680a"},
        {1, "",
         "f46df116805008cf09aa57936e6f3da19ec8de816310a456e897457830e88d1e"
         "496f20162c7b36f463ca94a67b6343ab0e7deecd2bea1a18f02dbf9afd86640e"},
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t sec[32], pub[32], d[32], sig[64], want[64];
        unhex(rfc[v[i].key][0], sec, 32);
        unhex(rfc[v[i].key][1], pub, 32);
        unhex(v[i].sig, want, 64);
        sha256(v[i].msg, strlen(v[i].msg), d);
        assert_int_equal(ed->sign(sec, d, NULL, sig), 0);
        assert_memory_equal(sig, want, 64);
        /* aux does not change an Ed25519 signature. */
        uint8_t aux[32];
        memset(aux, 0x5a, sizeof aux);
        assert_int_equal(ed->sign(sec, d, aux, sig), 0);
        assert_memory_equal(sig, want, 64);
        assert_int_equal(ldg_verify(LDG_SIG_ED25519, pub, 32, d, want, 64), 0);
    }

    /* A non-canonical S (S + L) is refused: Ed25519 signatures are not malleable here. */
    uint8_t pub[32], d[32], sig[64];
    unhex(rfc[0][1], pub, 32);
    unhex(v[0].sig, sig, 64);
    sha256("abc", 3, d);
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10}; /* LE */
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned s = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)s;
        carry = s >> 8;
    }
    assert_int_equal(carry, 0);
    assert_int_equal(ldg_verify(LDG_SIG_ED25519, pub, 32, d, sig, 64), LDG_EBADSIG);
}

/* ---------------------------------------------------------------------------------------- */
/* BIP-340                                                                                    */

static const struct {
    const char *sec, *pub, *aux, *msg, *sig;
    int result; /* what ldg_verify must return */
} bip340[] = {
    {"0000000000000000000000000000000000000000000000000000000000000003",
     "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
     "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0", 0},
    {"B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF",
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
     "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A", 0},
    {"C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9",
     "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
     "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906",
     "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
     "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1B"
     "AB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7", 0},
    /* 3: test fails if msg is reduced modulo p or n */
    {"0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710",
     "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC"
     "97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3", 0},
    {NULL,
     "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9",
     NULL,
     "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
     "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C63"
     "76AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4", 0},
    /* 5: public key not on the curve */
    {NULL,
     "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", LDG_EBADKEY},
    /* 6: has_even_y(R) is false */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A1460297556"
     "3CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2", LDG_EBADSIG},
    /* 7: negated message */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F"
     "28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD", LDG_EBADSIG},
    /* 8: negated s value */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6", LDG_EBADSIG},
    /* 9: sG - eP is infinite (x(inf) as 0) */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000000"
     "123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051", LDG_EBADSIG},
    /* 10: sG - eP is infinite (x(inf) as 1) */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000001"
     "7615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197", LDG_EBADSIG},
    /* 11: sig[0:32] is not an X coordinate on the curve */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", LDG_EBADSIG},
    /* 12: sig[0:32] is equal to the field size */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", LDG_EBADSIG},
    /* 13: sig[32:64] is equal to the curve order */
    {NULL,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", LDG_EBADSIG},
    /* 14: public key exceeds the field size */
    {NULL,
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30",
     NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", LDG_EBADKEY},
};

static void test_bip340_kat(void **state)
{
    (void)state;
    const ldg_sig_impl *sc = ldg_sig_by_id(LDG_SIG_SECP256K1_SCHNORR);
    for (size_t i = 0; i < sizeof bip340 / sizeof bip340[0]; i++) {
        uint8_t pub[32], msg[32], sig[64];
        unhex(bip340[i].pub, pub, 32);
        unhex(bip340[i].msg, msg, 32);
        unhex(bip340[i].sig, sig, 64);
        if (bip340[i].sec) {
            uint8_t seed[32], sec[32], got_pub[32], aux[32], got_sig[64];
            unhex(bip340[i].sec, seed, 32);
            unhex(bip340[i].aux, aux, 32);
            assert_int_equal(sc->keypair(seed, sec, got_pub), 0);
            assert_memory_equal(got_pub, pub, 32);
            assert_int_equal(sc->sign(sec, msg, aux, got_sig), 0);
            assert_memory_equal(got_sig, sig, 64);
        }
        assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_SCHNORR, pub, 32, msg, sig, 64),
                         bip340[i].result);
    }

    /* A NULL aux is the all-zero aux of vector 0. */
    uint8_t sec[32], msg[32], sig[64], want[64];
    unhex(bip340[0].sec, sec, 32);
    unhex(bip340[0].msg, msg, 32);
    unhex(bip340[0].sig, want, 64);
    assert_int_equal(sc->sign(sec, msg, NULL, sig), 0);
    assert_memory_equal(sig, want, 64);
}

/* ---------------------------------------------------------------------------------------- */
/* secp256k1 ECDSA                                                                            */

static void test_secp256k1_ecdsa_kat(void **state)
{
    (void)state;
    const ldg_sig_impl *ec = ldg_sig_by_id(LDG_SIG_SECP256K1_ECDSA);
    static const struct {
        const char *sec, *msg, *pub, *sig;
    } v[] = {
        {"0000000000000000000000000000000000000000000000000000000000000001", "Satoshi Nakamoto",
         "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
         "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
         "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5"},
        {"0000000000000000000000000000000000000000000000000000000000000001",
         "All those moments will be lost in time, like tears in rain. Time to die...",
         "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
         "8600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b"
         "547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21"},
        /* n - 1: the generator's negation */
        {"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140", "Satoshi Nakamoto",
         "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
         "fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d0"
         "6b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed5"},
    };
    for (size_t i = 0; i < 3; i++) {
        uint8_t seed[32], sec[32], pub[33], d[32], sig[64], want[64];
        unhex(v[i].sec, seed, 32);
        unhex(v[i].sig, want, 64);
        sha256(v[i].msg, strlen(v[i].msg), d);
        assert_int_equal(ec->keypair(seed, sec, pub), 0);
        assert_hex(pub, 33, v[i].pub);
        assert_int_equal(ec->sign(sec, d, NULL, sig), 0);
        assert_memory_equal(sig, want, 64);
        assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, 33, d, want, 64), 0);

        /* The high-S twin is a valid ECDSA signature that libsecp256k1 refuses. */
        negate_mod(want + 32, SECP256K1_N);
        assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, 33, d, want, 64), LDG_EBADSIG);

        /* With aux the nonce changes, and the signature still verifies. */
        uint8_t aux[32];
        memset(aux, 1, sizeof aux);
        assert_int_equal(ec->sign(sec, d, aux, sig), 0);
        assert_memory_not_equal(sig, want, 32);
        assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, 33, d, sig, 64), 0);
    }

    /* The uncompressed form of a valid key is not accepted (one encoding per key). */
    uint8_t d[32], sig[64], sec[32], pub65[65];
    unhex(v[0].sec, sec, 32);
    sha256(v[0].msg, strlen(v[0].msg), d);
    assert_int_equal(ec->sign(sec, d, NULL, sig), 0);
    unhex("0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
          "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
          pub65, 65);
    assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub65, 65, d, sig, 64), LDG_EBADKEY);
    assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub65, 33, d, sig, 64), LDG_EBADKEY);
    /* r = 0 and s = 0. */
    uint8_t pub[33], z[64];
    unhex(v[0].pub, pub, 33);
    memcpy(z, sig, 64);
    memset(z, 0, 32);
    assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, 33, d, z, 64), LDG_EBADSIG);
    memcpy(z, sig, 64);
    memset(z + 32, 0, 32);
    assert_int_equal(ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, 33, d, z, 64), LDG_EBADSIG);
}

/* ---------------------------------------------------------------------------------------- */
/* P-256 ECDSA                                                                                */

static void test_p256_kat(void **state)
{
    (void)state;
    const ldg_sig_impl *p = ldg_sig_by_id(LDG_SIG_P256_ECDSA);
    uint8_t seed[32], sec[32], pub[33], d[32], sig[64];
    unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721", seed, 32);
    /* Uy = 7903...2299 is odd: prefix 0x03. */
    assert_int_equal(p->keypair(seed, sec, pub), 0);
    assert_hex(pub, 33, "0360FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6");

    static const struct {
        const char *msg, *sig;
    } v[] = {
        /* s is above n/2 here: a valid P-256 signature all the same */
        {"sample", "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                   "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"},
        {"test", "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
                 "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"},
    };
    for (size_t i = 0; i < 2; i++) {
        sha256(v[i].msg, strlen(v[i].msg), d);
        unhex(v[i].sig, sig, 64);
        assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, pub, 33, d, sig, 64), 0);
        /* (r, n - s) verifies too (ECDSA on P-256 has no low-S rule). */
        negate_mod(sig + 32, P256_N);
        assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, pub, 33, d, sig, 64), 0);
        /* The other message's digest does not. */
        unhex(v[1 - i].sig, sig, 64);
        assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, pub, 33, d, sig, 64), LDG_EBADSIG);
    }

    /* r or s of 0 or n, or s = n + 1 (would be 1 mod n), are refused. */
    sha256("sample", 6, d);
    unhex(v[0].sig, sig, 64);
    uint8_t z[64];
    static const char *bad[] = {
        "0000000000000000000000000000000000000000000000000000000000000000", P256_N,
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632552",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"};
    for (size_t i = 0; i < 4; i++)
        for (size_t half = 0; half < 2; half++) {
            memcpy(z, sig, 64);
            unhex(bad[i], z + 32 * half, 32);
            assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, pub, 33, d, z, 64), LDG_EBADSIG);
        }

    /* Key encodings other than 0x02/0x03 || x, or x not on the curve, are refused. */
    uint8_t k[33];
    memcpy(k, pub, 33);
    k[0] = 0x04;
    assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, k, 33, d, sig, 64), LDG_EBADKEY);
    k[0] = 0x06;
    assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, k, 33, d, sig, 64), LDG_EBADKEY);
    k[0] = 0x02; /* the other y: a valid key, but not the signer's */
    assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, k, 33, d, sig, 64), LDG_EBADSIG);
    memset(k + 1, 0xff, 32); /* x >= p */
    assert_int_equal(ldg_verify(LDG_SIG_P256_ECDSA, k, 33, d, sig, 64), LDG_EBADKEY);
    /* x = 0: whether or not it is on the curve, it is not the signer's key. */
    memset(k + 1, 0, 32);
    assert_int_not_equal(ldg_verify(LDG_SIG_P256_ECDSA, k, 33, d, sig, 64), 0);

    /* Secret scalar range: 0 and n refused, n - 1 and 1 accepted. */
    uint8_t s2[32], p2[33];
    memset(seed, 0, 32);
    assert_int_equal(p->keypair(seed, s2, p2), LDG_EBADKEY);
    unhex(P256_N, seed, 32);
    assert_int_equal(p->keypair(seed, s2, p2), LDG_EBADKEY);
    seed[31] -= 1; /* -G: Gy is odd, so -G's is even */
    assert_int_equal(p->keypair(seed, s2, p2), 0);
    assert_hex(p2, 33, "026B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296");
    memset(seed, 0, 32);
    seed[31] = 1;
    assert_int_equal(p->keypair(seed, s2, p2), 0);
    assert_hex(p2, 33, "036B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296");
}

/* ---------------------------------------------------------------------------------------- */
/* Every signature algorithm                                                                  */

static void test_sig_roundtrip_and_tamper(void **state)
{
    (void)state;
    for (size_t a = 0; a < N_SIGS; a++) {
        const ldg_sig_impl *s = ldg_sig_by_id(all_sigs[a]);
        uint32_t id = s->id;
        for (int round = 0; round < 3; round++) {
            uint8_t seed[32], sec[LDG_SECKEY_MAX], pub[LDG_PUBKEY_MAX], pub2[LDG_PUBKEY_MAX];
            uint8_t d[32], sig[LDG_SIG_MAX], aux[32];
            for (int i = 0; i < 32; i++) {
                seed[i] = (uint8_t)(17 * i + 31 * round + 7 * (int)a + 1);
                d[i] = (uint8_t)(i * round + 3);
                aux[i] = (uint8_t)(255 - i);
            }
            assert_int_equal(s->keypair(seed, sec, pub), 0);
            assert_int_equal(s->pubkey(sec, pub2), 0);
            assert_memory_equal(pub, pub2, s->pub_len);
            assert_int_equal(s->sign(sec, d, round == 1 ? aux : NULL, sig), 0);
            assert_int_equal(s->verify(pub, s->pub_len, d, sig, s->sig_len), 0);
            assert_int_equal(ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len), 0);

            /* Every single flipped bit of the signature, digest or key is refused. */
            for (size_t bit = 0; bit < s->sig_len * 8; bit++) {
                sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_int_equal(ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len),
                                 LDG_EBADSIG);
                sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            for (size_t bit = 0; bit < 256; bit++) {
                d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_int_equal(ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len),
                                 LDG_EBADSIG);
                d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            for (size_t bit = 0; bit < s->pub_len * 8; bit++) {
                pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                int rc = ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len);
                assert_true(rc == LDG_EBADSIG || rc == LDG_EBADKEY);
                pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            assert_int_equal(ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len), 0);

            /* Another key's signature is refused. */
            uint8_t sec3[LDG_SECKEY_MAX], pub3[LDG_PUBKEY_MAX];
            seed[0] ^= 0x80;
            assert_int_equal(s->keypair(seed, sec3, pub3), 0);
            assert_int_equal(ldg_verify(id, pub3, s->pub_len, d, sig, s->sig_len), LDG_EBADSIG);
        }
    }
}

static void test_sig_bad_lengths(void **state)
{
    (void)state;
    for (size_t a = 0; a < N_SIGS; a++) {
        const ldg_sig_impl *s = ldg_sig_by_id(all_sigs[a]);
        uint32_t id = s->id;
        uint8_t seed[32], sec[LDG_SECKEY_MAX], pub[LDG_PUBKEY_MAX + 1] = {0};
        uint8_t d[32] = {1}, sig[LDG_SIG_MAX + 1] = {0};
        memset(seed, 0x42, sizeof seed);
        assert_int_equal(s->keypair(seed, sec, pub), 0);
        assert_int_equal(s->sign(sec, d, NULL, sig), 0);
        assert_int_equal(ldg_verify(id, pub, s->pub_len, d, sig, s->sig_len), 0);

        size_t pl = s->pub_len, sl = s->sig_len;
        const size_t bad_pub[] = {0, 1, pl - 1, pl + 1, 65, LDG_PUBKEY_MAX + 1, (size_t)-1};
        for (size_t i = 0; i < sizeof bad_pub / sizeof bad_pub[0]; i++)
            if (bad_pub[i] != pl)
                assert_int_equal(ldg_verify(id, pub, bad_pub[i], d, sig, sl), LDG_EBADKEY);
        const size_t bad_sig[] = {0, 1, sl - 1, sl + 1, 70, 71, LDG_SIG_MAX, (size_t)-1};
        for (size_t i = 0; i < sizeof bad_sig / sizeof bad_sig[0]; i++)
            assert_int_equal(ldg_verify(id, pub, pl, d, sig, bad_sig[i]), LDG_EBADSIG);
        /* NULL buffers are refused, never read. */
        assert_int_equal(ldg_verify(id, NULL, pl, d, sig, sl), LDG_EBADKEY);
        assert_int_equal(ldg_verify(id, pub, pl, d, NULL, sl), LDG_EBADSIG);
        assert_int_equal(ldg_verify(id, pub, pl, NULL, sig, sl), LDG_EBADSIG);
        /* All-zero and all-0xff keys and signatures. */
        uint8_t z[LDG_SIG_MAX];
        memset(z, 0, sizeof z);
        assert_int_not_equal(ldg_verify(id, z, pl, d, sig, sl), 0);
        assert_int_equal(ldg_verify(id, pub, pl, d, z, sl), LDG_EBADSIG);
        memset(z, 0xff, sizeof z);
        assert_int_not_equal(ldg_verify(id, z, pl, d, sig, sl), 0);
        assert_int_equal(ldg_verify(id, pub, pl, d, z, sl), LDG_EBADSIG);
    }

    /* Unknown algorithm ids. */
    uint8_t x[LDG_SIG_MAX] = {0}, d[32] = {0};
    assert_null(ldg_sig_by_id(99));
    assert_int_equal(ldg_verify(99, x, 33, d, x, 64), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_verify(0, x, 33, d, x, 64), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_verify(UINT32_MAX, x, 33, d, x, 64), LDG_EUNKNOWN_ALG);
}

static void test_sig_bad_secret(void **state)
{
    (void)state;
    /* The scalar algorithms refuse 0 and the group order; outputs are zeroed. */
    static const struct {
        uint32_t id;
        const char *order;
    } v[] = {
        {LDG_SIG_SECP256K1_ECDSA, SECP256K1_N},
        {LDG_SIG_SECP256K1_SCHNORR, SECP256K1_N},
        {LDG_SIG_P256_ECDSA, P256_N},
    };
    for (size_t i = 0; i < 3; i++) {
        const ldg_sig_impl *s = ldg_sig_by_id(v[i].id);
        uint8_t seed[32], sec[32], pub[LDG_PUBKEY_MAX], sig[64], d[32] = {0};
        for (int which = 0; which < 3; which++) {
            if (which == 0)
                memset(seed, 0, 32);
            else if (which == 1)
                unhex(v[i].order, seed, 32);
            else
                memset(seed, 0xff, 32);
            memset(sec, 0xaa, sizeof sec);
            memset(pub, 0xaa, sizeof pub);
            memset(sig, 0xaa, sizeof sig);
            assert_int_equal(s->keypair(seed, sec, pub), LDG_EBADKEY);
            for (size_t b = 0; b < 32; b++)
                assert_int_equal(sec[b], 0);
            for (size_t b = 0; b < s->pub_len; b++)
                assert_int_equal(pub[b], 0);
            assert_int_equal(s->pubkey(seed, pub), LDG_EBADKEY);
            assert_int_equal(s->sign(seed, d, NULL, sig), LDG_EBADKEY);
            for (size_t b = 0; b < 64; b++)
                assert_int_equal(sig[b], 0);
        }
    }
    /* keypair may write the secret over its own seed. */
    const ldg_sig_impl *s = ldg_sig_by_id(LDG_SIG_SECP256K1_ECDSA);
    uint8_t buf[32], pub[33];
    memset(buf, 7, sizeof buf);
    assert_int_equal(s->keypair(buf, buf, pub), 0);
    for (size_t b = 0; b < 32; b++)
        assert_int_equal(buf[b], 7);
}

/* Verification runs on several libuv pool threads at once: the shared contexts, the
 * pthread_once initialisation and the cached EVP_MDs must all hold up (run under TSan too). */
typedef struct {
    uint32_t id;
    uint8_t pub[LDG_PUBKEY_MAX], d[32], sig[LDG_SIG_MAX];
    size_t pub_len, sig_len;
    int failures;
} thread_job;

static void *verify_thread(void *arg)
{
    thread_job *j = arg;
    for (int i = 0; i < 50; i++) {
        if (ldg_verify(j->id, j->pub, j->pub_len, j->d, j->sig, j->sig_len) != 0)
            j->failures++;
        j->d[0] ^= 1;
        if (ldg_verify(j->id, j->pub, j->pub_len, j->d, j->sig, j->sig_len) != LDG_EBADSIG)
            j->failures++;
        j->d[0] ^= 1;
        uint8_t h[LDG_HASH_MAX];
        const uint8_t *parts[1] = {j->d};
        size_t len = 32, hl;
        if (ldg_hash(i & 1 ? LDG_HASH_SHA3_256 : LDG_HASH_SHA256, parts, &len, 1, h, &hl))
            j->failures++;
    }
    return NULL;
}

static void test_sig_threads(void **state)
{
    (void)state;
    thread_job jobs[2 * N_SIGS];
    pthread_t th[2 * N_SIGS];
    for (size_t i = 0; i < 2 * N_SIGS; i++) {
        const ldg_sig_impl *s = ldg_sig_by_id(all_sigs[i % N_SIGS]);
        thread_job *j = &jobs[i];
        uint8_t seed[32], sec[32];
        memset(j, 0, sizeof *j);
        memset(seed, (int)(i + 1), sizeof seed);
        memset(j->d, (int)(i + 100), sizeof j->d);
        j->id = s->id, j->pub_len = s->pub_len, j->sig_len = s->sig_len;
        assert_int_equal(s->keypair(seed, sec, j->pub), 0);
        assert_int_equal(s->sign(sec, j->d, NULL, j->sig), 0);
    }
    for (size_t i = 0; i < 2 * N_SIGS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, verify_thread, &jobs[i]), 0);
    for (size_t i = 0; i < 2 * N_SIGS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Policy, key ids, genesis hash                                                              */

static void add_rule(ldg_genesis *g, int kind, uint32_t id, ldg_alg_status st, uint64_t from)
{
    ldg_alg_rule *r = &g->alg_rules[g->n_alg_rules++];
    r->kind = kind, r->id = id, r->status = st, r->from_height = from;
}

static void test_alg_check(void **state)
{
    (void)state;
    static ldg_genesis g;
    memset(&g, 0, sizeof g);
    g.hash_alg = LDG_HASH_SHA256;

    /* No rules: every registered algorithm is allowed at every height. */
    for (uint32_t id = 1; id <= 4; id++)
        assert_int_equal(ldg_alg_check(&g, 1, id, 0), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 0, LDG_HASH_SHA256, UINT64_MAX), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 0, LDG_HASH_SHA3_256, 5), LDG_OK);
    assert_int_equal(ldg_alg_check(NULL, 1, LDG_SIG_ED25519, 5), LDG_OK);

    add_rule(&g, 1, LDG_SIG_P256_ECDSA, LDG_ALG_DEPRECATED, 100);
    add_rule(&g, 1, LDG_SIG_ED25519, LDG_ALG_DISABLED, 0);
    add_rule(&g, 0, LDG_HASH_SHA3_256, LDG_ALG_DEPRECATED, 10);
    add_rule(&g, 1, LDG_SIG_SECP256K1_SCHNORR, LDG_ALG_ALLOWED, 0);

    /* Deprecated: allowed before from_height, refused at and after it. */
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_P256_ECDSA, 0), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_P256_ECDSA, 99), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_P256_ECDSA, 100), LDG_EALG_DEPRECATED);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_P256_ECDSA, 101), LDG_EALG_DEPRECATED);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_P256_ECDSA, UINT64_MAX), LDG_EALG_DEPRECATED);
    assert_int_equal(ldg_alg_check(&g, 0, LDG_HASH_SHA3_256, 9), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 0, LDG_HASH_SHA3_256, 10), LDG_EALG_DEPRECATED);
    /* Disabled: refused everywhere. */
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_ED25519, 0), LDG_EALG_DISABLED);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_ED25519, UINT64_MAX), LDG_EALG_DISABLED);
    /* Explicitly allowed, and untouched algorithms. */
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_SCHNORR, 1000), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_ECDSA, 1000), LDG_OK);
    /* Rules are per kind: sig id 2 deprecated does not touch hash id 2, and vice versa. */
    assert_int_equal(ldg_alg_check(&g, 0, LDG_HASH_SHA256, 1000), LDG_OK);
    add_rule(&g, 0, 3, LDG_ALG_DISABLED, 0); /* a hash rule with a signature's id */
    assert_int_equal(ldg_alg_check(&g, 1, 3, 0), LDG_EALG_DISABLED); /* from the sig rule */
    assert_int_equal(ldg_alg_check(&g, 0, 3, 0), LDG_EUNKNOWN_ALG);  /* no hash 3 */

    /* Unknown ids and kinds, whatever the rules. */
    add_rule(&g, 1, 99, LDG_ALG_ALLOWED, 0);
    assert_int_equal(ldg_alg_check(&g, 1, 99, 0), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_alg_check(&g, 1, 0, 0), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_alg_check(&g, 0, 99, 0), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_alg_check(&g, 2, LDG_HASH_SHA256, 0), LDG_EUNKNOWN_ALG);
    assert_int_equal(ldg_alg_check(&g, -1, LDG_HASH_SHA256, 0), LDG_EUNKNOWN_ALG);

    /* The most restrictive matching rule wins, in either order. */
    memset(&g, 0, sizeof g);
    add_rule(&g, 1, LDG_SIG_SECP256K1_ECDSA, LDG_ALG_DEPRECATED, 5);
    add_rule(&g, 1, LDG_SIG_SECP256K1_ECDSA, LDG_ALG_DISABLED, 0);
    add_rule(&g, 1, LDG_SIG_SECP256K1_SCHNORR, LDG_ALG_ALLOWED, 0);
    add_rule(&g, 1, LDG_SIG_SECP256K1_SCHNORR, LDG_ALG_DEPRECATED, 5);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_ECDSA, 0), LDG_EALG_DISABLED);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_SCHNORR, 4), LDG_OK);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_SCHNORR, 5), LDG_EALG_DEPRECATED);
    /* A status outside the enum fails closed. */
    add_rule(&g, 1, LDG_SIG_ED25519, (ldg_alg_status)7, 0);
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_ED25519, 0), LDG_EALG_DISABLED);
    /* Rules past n_alg_rules are not read. */
    g.n_alg_rules = 0;
    assert_int_equal(ldg_alg_check(&g, 1, LDG_SIG_SECP256K1_ECDSA, 0), LDG_OK);
}

static void test_key_id(void **state)
{
    (void)state;
    static ldg_genesis g;
    memset(&g, 0, sizeof g);
    g.hash_alg = LDG_HASH_SHA256;
    uint8_t key[33], id[32], id2[32], want[32];
    unhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", key, 33);

    /* H(00 00 00 01 || key) */
    uint8_t buf[37] = {0, 0, 0, 1};
    memcpy(buf + 4, key, 33);
    sha256(buf, sizeof buf, want);
    assert_int_equal(ldg_key_id(&g, LDG_SIG_SECP256K1_ECDSA, key, 33, id), 0);
    assert_memory_equal(id, want, 32);

    /* The algorithm id is part of it, big-endian. */
    assert_int_equal(ldg_key_id(&g, 0x01000000, key, 33, id2), 0);
    assert_memory_not_equal(id, id2, 32);
    buf[0] = 1, buf[3] = 0;
    sha256(buf, sizeof buf, want);
    assert_memory_equal(id2, want, 32);

    /* The chain hash decides the function. */
    g.hash_alg = LDG_HASH_SHA3_256;
    assert_int_equal(ldg_key_id(&g, LDG_SIG_SECP256K1_ECDSA, key, 33, id2), 0);
    assert_memory_not_equal(id, id2, 32);
    g.hash_alg = 99;
    assert_int_equal(ldg_key_id(&g, LDG_SIG_SECP256K1_ECDSA, key, 33, id2), LDG_EUNKNOWN_ALG);
    g.hash_alg = LDG_HASH_SHA256;
    assert_int_equal(ldg_key_id(&g, 1, NULL, 5, id2), LDG_EINVALID);
    assert_int_equal(ldg_key_id(&g, 1, NULL, 0, id2), 0); /* H(00 00 00 01) */
    sha256("\0\0\0\1", 4, want);
    assert_memory_equal(id2, want, 32);
}

static void fill_genesis(ldg_genesis *g)
{
    memset(g, 0, sizeof *g);
    strcpy(g->chain_id, "fw-test");
    g->hash_alg = LDG_HASH_SHA256;
    g->genesis_time_ms = 0x0102030405060708ull;
    g->n_admins = 1;
    g->admins[0].alg = LDG_SIG_ED25519;
    g->admins[0].len = 32;
    memset(g->admins[0].key, 0xa1, 32);
    g->admin_threshold = 1;
    g->n_validators = 1;
    g->validators[0].alg = LDG_SIG_SECP256K1_SCHNORR;
    g->validators[0].len = 32;
    memset(g->validators[0].key, 0xb2, 32);
    g->validator_power[0] = 10;
    g->n_authors = 1;
    strcpy(g->authors[0].product, "router");
    strcpy(g->authors[0].name, "Acme");
    g->authors[0].key.alg = LDG_SIG_P256_ECDSA;
    g->authors[0].key.len = 33;
    memset(g->authors[0].key.key, 0xc3, 33);
    g->n_alg_rules = 1;
    g->alg_rules[0] = (ldg_alg_rule){1, LDG_SIG_P256_ECDSA, LDG_ALG_DEPRECATED, 1000};
}

/* The documented layout, written out independently of ledger/crypto.c. */
static size_t put(uint8_t *p, const void *b, size_t n)
{
    memcpy(p, b, n);
    return n;
}
static size_t put32(uint8_t *p, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return put(p, b, 4);
}
static size_t put64(uint8_t *p, uint64_t v)
{
    return put32(p, (uint32_t)(v >> 32)) + put32(p + 4, (uint32_t)v);
}
static size_t putkey(uint8_t *p, const ldg_pubkey *k)
{
    size_t o = put32(p, k->alg);
    o += put32(p + o, (uint32_t)k->len);
    return o + put(p + o, k->key, k->len);
}
static size_t putstr(uint8_t *p, const char *s)
{
    size_t o = put32(p, (uint32_t)strlen(s));
    return o + put(p + o, s, strlen(s));
}

static void test_genesis_hash(void **state)
{
    (void)state;
    static ldg_genesis g, g2;
    uint8_t h[LDG_HASH_MAX], h2[LDG_HASH_MAX], want[32], buf[1024];
    size_t hl = 0, hl2 = 0, o = 0;
    fill_genesis(&g);

    o += put(buf + o, "fwledger/genesis/v1", 20); /* with the NUL */
    o += putstr(buf + o, g.chain_id);
    o += put32(buf + o, g.hash_alg);
    o += put64(buf + o, g.genesis_time_ms);
    o += put32(buf + o, 1);
    o += putkey(buf + o, &g.admins[0]);
    o += put32(buf + o, g.admin_threshold);
    o += put32(buf + o, 1);
    o += putkey(buf + o, &g.validators[0]);
    o += put64(buf + o, g.validator_power[0]);
    o += put32(buf + o, 1);
    o += putstr(buf + o, g.authors[0].product);
    o += putstr(buf + o, g.authors[0].name);
    o += putkey(buf + o, &g.authors[0].key);
    o += put32(buf + o, 1);
    o += put32(buf + o, 1);
    o += put32(buf + o, LDG_SIG_P256_ECDSA);
    o += put32(buf + o, LDG_ALG_DEPRECATED);
    o += put64(buf + o, 1000);
    sha256(buf, o, want);

    assert_int_equal(ldg_genesis_hash(&g, h, &hl), 0);
    assert_int_equal(hl, 32);
    assert_memory_equal(h, want, 32);

    /* Unused slots and bytes past a key's length do not count. */
    g2 = g;
    memset(g2.admins[0].key + 32, 0xee, LDG_PUBKEY_MAX - 32);
    memset(&g2.admins[3], 0x77, sizeof g2.admins[3]);
    g2.validator_power[5] = 42;
    g2.validator_ids[5].alg = LDG_SIG_ED25519; /* an unused slot: still v1 */
    g2.validator_ids[5].len = 32;
    strcpy(g2.chain_id + 8, "junk after the NUL");
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_memory_equal(h, h2, 32);

    /* Every field is covered. */
    for (int field = 0; field < 17; field++) {
        g2 = g;
        switch (field) {
        case 0: g2.chain_id[0] = 'F'; break;
        case 1: g2.genesis_time_ms++; break;
        case 2: g2.admins[0].alg = LDG_SIG_SECP256K1_SCHNORR; break;
        case 3: g2.admins[0].key[31] ^= 1; break;
        case 4: g2.admin_threshold = 2; break;
        case 5: g2.n_admins = 2; break;
        case 6: g2.validators[0].key[0] ^= 1; break;
        case 7: g2.validator_power[0] = 11; break;
        case 8: g2.n_validators = 0; break;
        case 9: g2.authors[0].product[0] = 'R'; break;
        case 10: g2.authors[0].name[3] = 'E'; break;
        case 11: g2.authors[0].key.len = 32; break;
        case 12: g2.alg_rules[0].kind = 0; break;
        case 13: g2.alg_rules[0].id = LDG_SIG_ED25519; break;
        case 14: g2.alg_rules[0].status = LDG_ALG_DISABLED; break;
        case 15: g2.alg_rules[0].from_height = 999; break;
        case 16: g2.n_alg_rules = 0; break;
        }
        assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
        assert_memory_not_equal(h, h2, 32);
    }
    /* Strings cannot run into each other: ("ab", "c") and ("a", "bc") differ. */
    g2 = g;
    strcpy(g2.authors[0].product, "routerA");
    strcpy(g2.authors[0].name, "cme");
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_memory_not_equal(h, h2, 32);

    /* The chain hash is the function. */
    g2 = g;
    g2.hash_alg = LDG_HASH_SHA3_256;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_int_equal(hl2, 32);
    buf[20 + 4 + 7 + 3] = LDG_HASH_SHA3_256; /* the hash_alg field in the layout */
    const uint8_t *parts[1] = {buf};
    size_t len2;
    assert_int_equal(ldg_hash(LDG_HASH_SHA3_256, parts, &o, 1, want, &len2), 0);
    assert_memory_equal(h2, want, 32);

    /* Refusals. */
    g2 = g;
    g2.hash_alg = 77;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EUNKNOWN_ALG);
    assert_int_equal(hl2, 0);
    g2 = g;
    g2.n_admins = LDG_MAX_ADMINS + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    g2.n_validators = LDG_MAX_VALIDATORS + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    g2.n_authors = LDG_MAX_GENESIS_AUTHORS + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    g2.n_alg_rules = LDG_MAX_ALG_RULES + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    g2.admins[0].len = LDG_PUBKEY_MAX + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    memset(g2.chain_id, 'x', sizeof g2.chain_id); /* no NUL */
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    memset(g2.authors[0].name, 'x', sizeof g2.authors[0].name);
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);

    /* Full arrays, longest strings and keys fit. */
    g2 = g;
    memset(g2.chain_id, 'c', 64);
    g2.n_admins = LDG_MAX_ADMINS;
    g2.n_validators = LDG_MAX_VALIDATORS;
    g2.n_authors = LDG_MAX_GENESIS_AUTHORS;
    g2.n_alg_rules = LDG_MAX_ALG_RULES;
    for (size_t i = 0; i < LDG_MAX_ADMINS; i++)
        g2.admins[i].len = LDG_PUBKEY_MAX;
    for (size_t i = 0; i < LDG_MAX_VALIDATORS; i++)
        g2.validators[i].len = LDG_PUBKEY_MAX;
    for (size_t i = 0; i < LDG_MAX_GENESIS_AUTHORS; i++) {
        memset(g2.authors[i].product, 'p', 64);
        memset(g2.authors[i].name, 'n', 128);
        g2.authors[i].key.len = LDG_PUBKEY_MAX;
    }
    for (size_t i = 0; i < LDG_MAX_VALIDATORS; i++) {
        g2.validator_ids[i].alg = LDG_SIG_P256_ECDSA;
        g2.validator_ids[i].len = LDG_PUBKEY_MAX;
    }
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_int_equal(hl2, 32);
}

/* With validator identity keys: the v2 layout, written out independently. */
static void test_genesis_hash_identities(void **state)
{
    (void)state;
    static ldg_genesis g, g2;
    uint8_t h[LDG_HASH_MAX], h2[LDG_HASH_MAX], v1[LDG_HASH_MAX], want[32], buf[1024];
    size_t hl = 0, hl2 = 0, o = 0;

    fill_genesis(&g);
    assert_int_equal(ldg_genesis_hash(&g, v1, &hl), 0); /* no identities: v1 */
    g.n_validators = 2;
    g.validators[1].alg = LDG_SIG_ED25519;
    g.validators[1].len = 32;
    memset(g.validators[1].key, 0xb3, 32);
    g.validator_power[1] = 3;
    g.validator_ids[0].alg = LDG_SIG_ED25519;
    g.validator_ids[0].len = 32;
    memset(g.validator_ids[0].key, 0xd4, 32);
    /* validators[1] has none: alg 0, len 0 */

    o += put(buf + o, "fwledger/genesis/v2", 20); /* with the NUL */
    o += putstr(buf + o, g.chain_id);
    o += put32(buf + o, g.hash_alg);
    o += put64(buf + o, g.genesis_time_ms);
    o += put32(buf + o, 1);
    o += putkey(buf + o, &g.admins[0]);
    o += put32(buf + o, g.admin_threshold);
    o += put32(buf + o, 2);
    o += putkey(buf + o, &g.validators[0]);
    o += put64(buf + o, g.validator_power[0]);
    o += put32(buf + o, LDG_SIG_ED25519); /* identity: alg, len, key */
    o += put32(buf + o, 32);
    o += put(buf + o, g.validator_ids[0].key, 32);
    o += putkey(buf + o, &g.validators[1]);
    o += put64(buf + o, g.validator_power[1]);
    o += put32(buf + o, 0); /* no identity: alg 0, len 0 */
    o += put32(buf + o, 0);
    o += put32(buf + o, 1);
    o += putstr(buf + o, g.authors[0].product);
    o += putstr(buf + o, g.authors[0].name);
    o += putkey(buf + o, &g.authors[0].key);
    o += put32(buf + o, 1);
    o += put32(buf + o, 1);
    o += put32(buf + o, LDG_SIG_P256_ECDSA);
    o += put32(buf + o, LDG_ALG_DEPRECATED);
    o += put64(buf + o, 1000);
    sha256(buf, o, want);

    assert_int_equal(ldg_genesis_hash(&g, h, &hl), 0);
    assert_int_equal(hl, 32);
    assert_memory_equal(h, want, 32);

    /* The same genesis with the v1 tag would be another byte string. */
    memcpy(buf, "fwledger/genesis/v1", 20);
    sha256(buf, o, want);
    assert_memory_not_equal(h, want, 32);

    /* Unused identity slots and bytes past an identity's length do not count. */
    g2 = g;
    memset(g2.validator_ids[0].key + 32, 0xee, LDG_PUBKEY_MAX - 32);
    memset(g2.validator_ids[1].key, 0x55, LDG_PUBKEY_MAX); /* len 0 */
    g2.validator_ids[2].alg = LDG_SIG_ED25519;
    g2.validator_ids[2].len = 32;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_memory_equal(h, h2, 32);

    /* Every identity field is covered, and an identity anywhere switches the layout. */
    for (int field = 0; field < 6; field++) {
        g2 = g;
        switch (field) {
        case 0: g2.validator_ids[0].alg = LDG_SIG_P256_ECDSA; break;
        case 1: g2.validator_ids[0].key[31] ^= 1; break;
        case 2: g2.validator_ids[0].len = 31; break;
        case 3: g2.validator_ids[1] = g2.validator_ids[0]; break;
        case 4: /* the identity moves to the other validator */
            g2.validator_ids[1] = g2.validator_ids[0];
            memset(&g2.validator_ids[0], 0, sizeof g2.validator_ids[0]);
            break;
        case 5: /* none left: v1 again, the hash of fill_genesis plus validators[1] */
            memset(&g2.validator_ids[0], 0, sizeof g2.validator_ids[0]);
            break;
        }
        assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
        assert_memory_not_equal(h, h2, 32);
    }
    g2 = g;
    memset(g2.validator_ids, 0, sizeof g2.validator_ids);
    g2.n_validators = 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), 0);
    assert_memory_equal(h2, v1, 32); /* back to the v1 hash exactly */

    /* Refusals: an identity too long, or "none" that carries a length. */
    g2 = g;
    g2.validator_ids[0].len = LDG_PUBKEY_MAX + 1;
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    assert_int_equal(hl2, 0);
    g2 = g;
    g2.validator_ids[1].len = 32; /* alg 0 */
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
    g2 = g;
    g2.validator_ids[0].alg = 0; /* len 32, and no other identity */
    assert_int_equal(ldg_genesis_hash(&g2, h2, &hl2), LDG_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_hash_kat),
        cmocka_unit_test(test_hash_errors),
        cmocka_unit_test(test_ed25519_kat),
        cmocka_unit_test(test_bip340_kat),
        cmocka_unit_test(test_secp256k1_ecdsa_kat),
        cmocka_unit_test(test_p256_kat),
        cmocka_unit_test(test_sig_roundtrip_and_tamper),
        cmocka_unit_test(test_sig_bad_lengths),
        cmocka_unit_test(test_sig_bad_secret),
        cmocka_unit_test(test_sig_threads),
        cmocka_unit_test(test_alg_check),
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_genesis_hash),
        cmocka_unit_test(test_genesis_hash_identities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
