/*
 * fuzz_block_decode: ldg_block_decode (every block a node stores or is handed) on arbitrary
 * bytes.
 *
 * Checks: never crashes or leaks; an error is LDG_EMALFORMED, LDG_ETOOBIG or LDG_ENOMEM and
 * leaves no tx array behind; on success n_txs <= LDG_BLOCK_MAX_TXS, the n_txs slices lie
 * inside the input, in order and without overlap, each at most LDG_TX_MAX bytes, the header
 * and commit fit their arrays; re-encoding with ldg_block_encode and decoding again gives
 * the same header bytes, the same tx contents, commit signatures and round, and encoding
 * that again gives the same bytes (the encoding is canonical after one round).
 * Seeds: blocks built by a real store over valid transactions, written at startup, and
 * tests/fuzz/corpus/fuzz_block_decode/ (regressions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fz_corpus_dir(*argc, *argv);
    if (!dir)
        return 0;
    ldg_genesis g;
    ldg_store *s;
    char path[512];
    fz_genesis(&g, 64, 200);
    fz_make_samples(&g);
    snprintf(path, sizeof path, "%s/seed-store", fz_tmpdir("block_decode"));
    FZ_CHECK(ldg_store_open(&s, path, &g, 1 << 24) == 0, "store open");

    /* Blocks of 0, 1 and all sample transactions over the genesis state. */
    const size_t counts[] = {0, 1, FZ_N_SAMPLES};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        const uint8_t *raw[FZ_N_SAMPLES];
        size_t lens[FZ_N_SAMPLES], m = 0;
        int res[FZ_N_SAMPLES];
        uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], *blk;
        size_t hl, bl;
        for (size_t i = 0; i < counts[c]; i++)
            raw[i] = fz_samples[i].buf, lens[i] = fz_samples[i].len;
        FZ_CHECK(ldg_store_build_block(s, raw, lens, counts[c], 1000, &fz_validator.pub, res,
                                       hdr, &hl, hash) == 0,
                 "build");
        for (size_t i = 0; i < counts[c]; i++)
            if (res[i] == 0)
                raw[m] = raw[i], lens[m++] = lens[i];
        fwl_Signature sig;
        fz_commit_sig(&g, &fz_validator, 1, 0, hash, &sig);
        FZ_CHECK(ldg_block_encode(hdr, hl, raw, lens, m, &sig, 1, 0, &blk, &bl) == 0, "encode");
        char name[32];
        snprintf(name, sizeof name, "block%zu", counts[c]);
        fz_write_seed(dir, name, blk, bl);
        free(blk);
    }
    ldg_store_close(s);
    fz_rm_rf(path);
    return 0;
}

static bool sig_eq(const fwl_Signature *a, const fwl_Signature *b)
{
    return a->has_signer == b->has_signer && a->signer.alg == b->signer.alg &&
           a->signer.key.size == b->signer.key.size &&
           !memcmp(a->signer.key.bytes, b->signer.key.bytes, a->signer.key.size) &&
           a->sig.size == b->sig.size && !memcmp(a->sig.bytes, b->sig.bytes, a->sig.size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ldg_block b1, b2;
    int rc = ldg_block_decode(data, size, &b1);
    if (rc) {
        FZ_CHECK(rc == LDG_EMALFORMED || rc == LDG_ETOOBIG || rc == LDG_ENOMEM,
                 "decode error %d (%s)", rc, ldg_strerror(rc));
        FZ_CHECK(b1.tx_raw == NULL && b1.tx_len == NULL && b1.n_txs == 0,
                 "failed decode left txs behind");
        return 0;
    }

    FZ_CHECK(b1.n_txs <= LDG_BLOCK_MAX_TXS, "n_txs %zu", b1.n_txs);
    FZ_CHECK(b1.hdr_len <= LDG_HEADER_MAX, "hdr_len %zu", b1.hdr_len);
    FZ_CHECK(b1.n_commit <= sizeof b1.commit / sizeof *b1.commit, "n_commit %zu", b1.n_commit);
    /* Addresses as integers: a wrong slice would point into another object (as one did
     * before block.c refused a txs field of a scalar wire type: crashes/ has the input). */
    uintptr_t lo = (uintptr_t)data, hi = lo + size, prev_end = lo;
    for (size_t i = 0; i < b1.n_txs; i++) {
        uintptr_t p = (uintptr_t)b1.tx_raw[i];
        size_t l = b1.tx_len[i];
        FZ_CHECK(p >= lo && p <= hi && l <= hi - p, "tx %zu outside the input", i);
        FZ_CHECK(p >= prev_end, "tx %zu overlaps or precedes tx %zu", i, i ? i - 1 : 0);
        FZ_CHECK(l <= LDG_TX_MAX, "tx %zu is %zu bytes", i, l);
        prev_end = p + l;
    }

    /* Round trip through the encoder. */
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_len = 0, enc2_len = 0;
    rc = ldg_block_encode(b1.hdr_raw, b1.hdr_len, b1.tx_raw, b1.tx_len, b1.n_txs, b1.commit,
                          b1.n_commit, b1.commit_round, &enc, &enc_len);
    FZ_CHECK(rc == 0 || rc == LDG_ENOMEM, "re-encode failed: %d (%s)", rc, ldg_strerror(rc));
    if (rc) {
        ldg_block_free(&b1);
        return 0;
    }
    rc = ldg_block_decode(enc, enc_len, &b2);
    FZ_CHECK(rc == 0, "decoding the re-encoded block failed: %d (%s)", rc, ldg_strerror(rc));
    FZ_CHECK(b2.hdr_len == b1.hdr_len && !memcmp(b2.hdr_raw, b1.hdr_raw, b1.hdr_len),
             "header bytes differ after a round trip");
    FZ_CHECK(b2.n_txs == b1.n_txs, "n_txs %zu became %zu", b1.n_txs, b2.n_txs);
    for (size_t i = 0; i < b1.n_txs; i++)
        FZ_CHECK(b2.tx_len[i] == b1.tx_len[i] && !memcmp(b2.tx_raw[i], b1.tx_raw[i], b1.tx_len[i]),
                 "tx %zu differs after a round trip", i);
    FZ_CHECK(b2.n_commit == b1.n_commit && b2.commit_round == b1.commit_round,
             "commit count or round differs");
    for (size_t i = 0; i < b1.n_commit; i++)
        FZ_CHECK(sig_eq(&b1.commit[i], &b2.commit[i]), "commit %zu differs", i);
    FZ_CHECK(b2.hdr.height == b1.hdr.height && b2.hdr.tx_count == b1.hdr.tx_count &&
                 b2.hdr.time_ms == b1.hdr.time_ms && !strcmp(b2.hdr.chain_id, b1.hdr.chain_id),
             "decoded header fields differ");

    rc = ldg_block_encode(b2.hdr_raw, b2.hdr_len, b2.tx_raw, b2.tx_len, b2.n_txs, b2.commit,
                          b2.n_commit, b2.commit_round, &enc2, &enc2_len);
    FZ_CHECK(rc == 0 || rc == LDG_ENOMEM, "second encode failed: %d", rc);
    if (!rc)
        FZ_CHECK(enc2_len == enc_len && !memcmp(enc, enc2, enc_len), "encoding not canonical");

    ldg_block_free(&b2);
    free(enc);
    free(enc2);
    ldg_block_free(&b1);
    return 0;
}
