/*
 * Codecs: transactions and blocks round-trip exactly, and every limit is enforced on decode
 * (a field over its .options bound, too many transactions, oversized envelopes and blocks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/ledger.h"

static ldg_genesis G;
static ldg_seckey K;

static int setup(void **st)
{
    (void)st;
    memset(&G, 0, sizeof G);
    snprintf(G.chain_id, sizeof G.chain_id, "codec");
    G.hash_alg = LDG_HASH_SHA256;
    uint8_t seed[32], pub[LDG_PUBKEY_MAX];
    memset(seed, 0x42, sizeof seed);
    K.alg = LDG_SIG_SECP256K1_SCHNORR;
    return ldg_sig_by_id(K.alg)->keypair(seed, K.sec, pub);
}

/* A release with every field at its largest allowed size. */
static void full_body(fwl_TxBody *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->chain_id, sizeof b->chain_id, "codec");
    b->nonce = UINT64_MAX;
    b->which_payload = fwl_TxBody_publish_tag;
    b->payload.publish.has_release = true;
    fwl_Release *r = &b->payload.publish.release;
    memset(r->product, 'p', sizeof r->product - 1);
    memset(r->provider, 'v', sizeof r->provider - 1);
    r->published_at = UINT64_MAX;
    snprintf(r->version, sizeof r->version, "1.2.3-rc.1+build.7");
    r->security_version = LDG_SECURITY_VERSION_MAX;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA3_256;
    memset(r->file_hash.digest.bytes, 0xab, 32);
    r->file_hash.digest.size = 32;
    memcpy(r->file_url, "https://", 8);
    memset(r->file_url + 8, 'u', sizeof r->file_url - 9);
    memset(r->file_name, 'f', sizeof r->file_name - 1);
    r->file_size = UINT64_MAX;
    r->hardware_count = 16;
    for (int i = 0; i < 16; i++) {
        fwl_HardwareSupport *h = &r->hardware[i];
        memset(h->model, 'm', sizeof h->model - 1);
        h->model[0] = (char)('a' + i);
        h->rev_min = (uint32_t)i;
        h->rev_max = UINT32_MAX;
        h->required_addons_count = 8;
        for (int j = 0; j < 8; j++)
            memset(h->required_addons[j], 'x', sizeof h->required_addons[j] - 1);
    }
    r->dependencies_count = 16;
    for (int i = 0; i < 16; i++) {
        memset(r->dependencies[i].package, 'd', sizeof r->dependencies[i].package - 1);
        snprintf(r->dependencies[i].constraint, sizeof r->dependencies[i].constraint, ">=1.%d.0,<2", i);
    }
}

static void test_tx_round_trip_at_limits(void **st)
{
    (void)st;
    fwl_TxBody *b = malloc(sizeof *b);
    uint8_t *buf = malloc(LDG_TX_MAX), hash[32];
    size_t len;
    ldg_tx *tx = malloc(sizeof *tx);
    const char *why;
    full_body(b);
    assert_int_equal(ldg_tx_sign(&G, b, &K, 1, NULL, buf, LDG_TX_MAX, &len, hash), 0);
    assert_true(len <= LDG_TX_MAX);
    int rc = ldg_tx_parse(&G, 1, buf, len, tx, &why);
    if (rc)
        fprintf(stderr, "parse: %s (%s)\n", ldg_strerror(rc), why);
    assert_int_equal(rc, 0);
    assert_int_equal(ldg_tx_verify(tx), 0);
    assert_memory_equal(tx->hash, hash, 32);
    assert_int_equal(tx->type, LDG_TX_PUBLISH);
    /* Every field survives: compare the re-encoded bodies. */
    uint8_t a[fwl_TxBody_size], c[fwl_TxBody_size];
    pb_ostream_t oa = pb_ostream_from_buffer(a, sizeof a), oc = pb_ostream_from_buffer(c, sizeof c);
    assert_true(pb_encode(&oa, fwl_TxBody_fields, b));
    assert_true(pb_encode(&oc, fwl_TxBody_fields, &tx->body));
    assert_int_equal(oa.bytes_written, oc.bytes_written);
    assert_memory_equal(a, c, oa.bytes_written);
    assert_memory_equal(tx->env.body.bytes, a, oa.bytes_written); /* signed bytes, verbatim */
    /* One above the bound of a security version (a line would be locked for good): refused,
     * naming the field. */
    b->payload.publish.release.security_version = (uint64_t)LDG_SECURITY_VERSION_MAX + 1;
    assert_int_equal(ldg_tx_sign(&G, b, &K, 1, NULL, buf, LDG_TX_MAX, &len, hash), 0);
    why = NULL;
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, tx, &why), LDG_EINVALID);
    assert_non_null(why);
    assert_non_null(strstr(why, "release.security_version"));
    free(b);
    free(buf);
    free(tx);
}

/* Encode a TxBody by hand whose field `tag` is a string of n bytes, inside an envelope. */
static size_t envelope_with_long_string(uint8_t *out, size_t cap, uint32_t tag, size_t n)
{
    uint8_t *body = malloc(n + 16), *s = malloc(n);
    memset(s, 'a', n);
    pb_ostream_t bs = pb_ostream_from_buffer(body, n + 16);
    assert_true(pb_encode_tag(&bs, PB_WT_STRING, tag) && pb_encode_string(&bs, s, n));
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    assert_true(pb_encode_tag(&os, PB_WT_STRING, fwl_Tx_body_tag) &&
                pb_encode_string(&os, body, bs.bytes_written));
    free(body);
    free(s);
    return os.bytes_written;
}

static void test_tx_limits(void **st)
{
    (void)st;
    static uint8_t buf[LDG_TX_MAX + 64];
    ldg_tx *tx = malloc(sizeof *tx);
    const char *why;
    /* chain_id: 64 characters fit, 65 do not. */
    size_t len = envelope_with_long_string(buf, sizeof buf, fwl_TxBody_chain_id_tag, 64);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, tx, &why), LDG_ECHAIN);
    len = envelope_with_long_string(buf, sizeof buf, fwl_TxBody_chain_id_tag, 65);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, tx, &why), LDG_ETOOBIG);
    /* The body: at most 9,040 bytes. */
    len = envelope_with_long_string(buf, sizeof buf, 99, 9100);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, tx, &why), LDG_ETOOBIG);
    /* More than 8 signatures. */
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    for (int i = 0; i < 9; i++) {
        uint8_t sig[4] = {0x12, 0x00}; /* Signature{sig: ""} */
        assert_true(pb_encode_tag(&os, PB_WT_STRING, fwl_Tx_sigs_tag) &&
                    pb_encode_string(&os, sig, 2));
    }
    assert_int_equal(ldg_tx_parse(&G, 1, buf, os.bytes_written, tx, &why), LDG_ETOOBIG);
    /* No payload, no signature, zero nonce. */
    fwl_TxBody b;
    memset(&b, 0, sizeof b);
    snprintf(b.chain_id, sizeof b.chain_id, "codec");
    b.nonce = 1;
    assert_int_equal(ldg_tx_sign(&G, &b, &K, 1, NULL, buf, sizeof buf, &len, (uint8_t[32]){0}),
                     LDG_EINVALID);
    free(tx);
}

static void test_block_round_trip_and_limits(void **st)
{
    (void)st;
    const uint8_t t1[] = {1, 2, 3}, t2[] = {4, 5};
    const uint8_t *txs[] = {t1, t2};
    size_t lens[] = {sizeof t1, sizeof t2};
    uint8_t hdr[40];
    memset(hdr, 7, sizeof hdr);
    fwl_Signature commit[2] = {fwl_Signature_init_zero, fwl_Signature_init_zero};
    commit[1].sig.size = 3;
    uint8_t *blk;
    size_t len;
    ldg_block b;
    assert_int_equal(ldg_block_encode(hdr, sizeof hdr, txs, lens, 2, commit, 2, 0, &blk, &len), 0);
    /* The header bytes are not a BlockHeader: decoding says malformed, never crashes. */
    int rc = ldg_block_decode(blk, len, &b);
    assert_true(rc == LDG_EMALFORMED || rc == 0);
    if (!rc)
        ldg_block_free(&b);
    free(blk);

    /* A real header round-trips with its txs as slices of the buffer. */
    fwl_BlockHeader h = fwl_BlockHeader_init_zero;
    h.version = 1;
    h.height = 9;
    snprintf(h.chain_id, sizeof h.chain_id, "codec");
    pb_ostream_t os = pb_ostream_from_buffer(hdr, sizeof hdr);
    assert_true(pb_encode(&os, fwl_BlockHeader_fields, &h));
    assert_int_equal(ldg_block_encode(hdr, os.bytes_written, txs, lens, 2, commit, 2, 0, &blk, &len), 0);
    assert_int_equal(ldg_block_decode(blk, len, &b), 0);
    assert_int_equal(b.hdr.height, 9);
    assert_int_equal(b.n_txs, 2);
    assert_int_equal(b.tx_len[0], 3);
    assert_memory_equal(b.tx_raw[1], t2, 2);
    assert_true(b.tx_raw[0] >= blk && b.tx_raw[1] + 2 <= blk + len);
    assert_int_equal(b.n_commit, 2);
    assert_int_equal(b.hdr_len, os.bytes_written);
    assert_memory_equal(b.hdr_raw, hdr, os.bytes_written);
    ldg_block_free(&b);
    free(blk);

    /* Too many commit signatures, too many txs, an oversize tx. */
    fwl_Signature many[LDG_MAX_VALIDATORS + 1];
    memset(many, 0, sizeof many);
    assert_int_equal(ldg_block_encode(hdr, os.bytes_written, txs, lens, 2, many, LDG_MAX_VALIDATORS + 1, 0,
                                      &blk, &len), LDG_ETOOBIG);
    assert_int_equal(ldg_block_encode(hdr, os.bytes_written, txs, lens, LDG_BLOCK_MAX_TXS + 1, NULL, 0, 0, &blk, &len),
                     LDG_ETOOBIG);
    static uint8_t big[LDG_TX_MAX + 1];
    const uint8_t *bt[] = {big};
    size_t bl[] = {sizeof big};
    assert_int_equal(ldg_block_encode(hdr, os.bytes_written, bt, bl, 1, NULL, 0, 0, &blk, &len), 0);
    assert_int_equal(ldg_block_decode(blk, len, &b), LDG_ETOOBIG);
    free(blk);
    /* A block claiming more transactions than allowed is refused while decoding. */
    size_t n = LDG_BLOCK_MAX_TXS + 1;
    const uint8_t **mt = malloc(n * sizeof *mt);
    size_t *ml = malloc(n * sizeof *ml);
    for (size_t i = 0; i < n; i++)
        mt[i] = t1, ml[i] = 1;
    /* encode refuses, so build the bytes by hand: n times field 2 with one byte */
    uint8_t *raw = malloc(n * 3 + 64);
    pb_ostream_t ro = pb_ostream_from_buffer(raw, n * 3 + 64);
    for (size_t i = 0; i < n; i++)
        assert_true(pb_encode_tag(&ro, PB_WT_STRING, fwl_Block_txs_tag) && pb_encode_string(&ro, t1, 1));
    assert_int_equal(ldg_block_decode(raw, ro.bytes_written, &b), LDG_ETOOBIG);
    free(raw);
    free(mt);
    free(ml);
    /* The txs field with a varint wire type (found by fuzz_block_decode): nanopb hands the
     * value over from a stack copy; it must be refused, not borrowed. */
    const uint8_t varint_tx[] = {0x10, 0x70};
    assert_int_equal(ldg_block_decode(varint_tx, sizeof varint_tx, &b), LDG_EMALFORMED);
    /* Garbage and truncation. */
    uint8_t junk[16];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(ldg_block_decode(junk, sizeof junk, &b), LDG_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_round_trip_at_limits),
        cmocka_unit_test(test_tx_limits),
        cmocka_unit_test(test_block_round_trip_and_limits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
