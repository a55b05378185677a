/*
 * fuzz_tx_parse: ldg_tx_parse (the stateless checks every submitted or block-carried
 * transaction goes through) on arbitrary bytes.
 *
 * Input: byte 0 is the height (0..255: the fixed genesis deprecates p256-ecdsa from 64 and
 * sha3-256 from 200, so both sides of each rule are reached); the rest is the encoded Tx.
 *
 * Checks: never crashes; an error is one of ledger.h's codes with a non-NULL `why`; on
 * success tx->raw/raw_len are the input, type is a LDG_TX_*, the chain id and nonce and
 * signer rules hold, the hash is ldg_tx_digest over the body and parsing again gives the
 * same hash and sender, ldg_tx_verify answers 0, LDG_EBADSIG or LDG_EBADKEY, and a tx valid
 * at a height is valid at height 0 (deprecation only ever removes algorithms).
 * Seeds: valid signed transactions of each type, written at startup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"

static ldg_genesis G;
static ldg_tx *T1, *T2;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_genesis(&G, 64, 200);
    T1 = malloc(sizeof *T1);
    T2 = malloc(sizeof *T2);
    FZ_CHECK(T1 && T2, "malloc");

    const char *dir = fz_corpus_dir(*argc, *argv);
    if (dir) {
        static uint8_t seed[1 + LDG_TX_MAX];
        char name[32];
        fz_make_samples(&G);
        for (size_t i = 0; i < FZ_N_SAMPLES; i++) {
            seed[0] = (uint8_t)(i * 37); /* a spread of heights, below and above 64 */
            memcpy(seed + 1, fz_samples[i].buf, fz_samples[i].len);
            snprintf(name, sizeof name, "tx%zu", i);
            fz_write_seed(dir, name, seed, 1 + fz_samples[i].len);
        }
        /* The same publish with a sha3-256 file hash, below its deprecation height. */
        fz_publish(&G, &fz_samples[0], &fz_author, 9, "0.1.0-alpha", 1, 0x33, LDG_HASH_SHA3_256);
        seed[0] = 10;
        memcpy(seed + 1, fz_samples[0].buf, fz_samples[0].len);
        fz_write_seed(dir, "tx-sha3", seed, 1 + fz_samples[0].len);
        /* Issue 4's payloads: a deploy, a binding, a tracker key, a report. */
        const fz_key *admin_only[] = {&fz_admin}, *other_only[] = {&fz_other};
        fz_body_init(&G, 20, fwl_TxBody_contract_tag);
        snprintf(fz_body.payload.contract.name, sizeof fz_body.payload.contract.name, "rollout");
        snprintf(fz_body.payload.contract.source, sizeof fz_body.payload.contract.source,
                 "rule canary: \"canary\" in device.tags\n\trule newer: true\r\n");
        fz_sign(&G, &fz_samples[0], admin_only, 1);
        fz_body_init(&G, 21, fwl_TxBody_bind_tag);
        snprintf(fz_body.payload.bind.product, sizeof fz_body.payload.bind.product, "cam-fw");
        snprintf(fz_body.payload.bind.hardware_model, sizeof fz_body.payload.bind.hardware_model, "cam-v2");
        snprintf(fz_body.payload.bind.contract, sizeof fz_body.payload.bind.contract, "rollout");
        fz_sign(&G, &fz_samples[1], admin_only, 1);
        fz_body_init(&G, 22, fwl_TxBody_tracker_tag);
        fz_body.payload.tracker.op = fwl_AuthorOp_AUTHOR_ADD;
        fz_body.payload.tracker.has_key = true;
        fz_body.payload.tracker.key.alg = fz_other.pub.alg;
        memcpy(fz_body.payload.tracker.key.key.bytes, fz_other.pub.key, fz_other.pub.len);
        fz_body.payload.tracker.key.key.size = (pb_size_t)fz_other.pub.len;
        fz_sign(&G, &fz_samples[2], admin_only, 1);
        fz_body_init(&G, 23, fwl_TxBody_report_tag);
        fz_body.payload.report.reports_count = 3;
        for (pb_size_t i = 0; i < 3; i++) {
            fwl_OutcomeReport *o = &fz_body.payload.report.reports[i];
            o->has_file_hash = true;
            o->file_hash.alg = LDG_HASH_SHA256;
            memset(o->file_hash.digest.bytes, 0xa1 + i, 32);
            o->file_hash.digest.size = 32;
            o->succeeded = 100u * i, o->failed = i + 1, o->rolled_back = i;
        }
        fz_sign(&G, &fz_samples[3], other_only, 1);
        for (size_t i = 0; i < 4; i++) {
            seed[0] = (uint8_t)(i * 50);
            memcpy(seed + 1, fz_samples[i].buf, fz_samples[i].len);
            snprintf(name, sizeof name, "tx-issue4-%zu", i);
            fz_write_seed(dir, name, seed, 1 + fz_samples[i].len);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t height = data[0];
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    const char *why = NULL;

    int rc = ldg_tx_parse(&G, height, buf, len, T1, &why);
    FZ_CHECK(why != NULL, "why not set (rc %d)", rc);
    if (rc) {
        /* The header's list, plus LDG_EBADKEY and LDG_EBADSIG for a key or signature of the
         * wrong length for its algorithm (tx.c returns those; the header does not list them). */
        FZ_CHECK(rc == LDG_ETOOBIG || rc == LDG_EMALFORMED || rc == LDG_ECHAIN ||
                     rc == LDG_EINVALID || rc == LDG_EUNKNOWN_ALG || rc == LDG_EALG_DEPRECATED ||
                     rc == LDG_EALG_DISABLED || rc == LDG_EBADKEY || rc == LDG_EBADSIG,
                 "error %d (%s) is not a parse error", rc, ldg_strerror(rc));
        return 0;
    }

    /* What a successful parse promises. */
    FZ_CHECK(T1->raw == buf && T1->raw_len == len, "raw slice");
    FZ_CHECK(T1->type >= LDG_TX_PUBLISH && T1->type <= LDG_TX_REPORT, "type %u", T1->type);
    FZ_CHECK(!strcmp(T1->body.chain_id, G.chain_id), "chain id");
    FZ_CHECK(T1->body.nonce >= 1, "nonce 0 accepted");
    FZ_CHECK(T1->env.sigs_count >= 1 && T1->env.sigs_count <= 8, "sigs_count %u",
             (unsigned)T1->env.sigs_count);
    for (pb_size_t i = 0; i < T1->env.sigs_count; i++) {
        const fwl_Signature *s = &T1->env.sigs[i];
        const ldg_sig_impl *im = ldg_sig_by_id(s->signer.alg);
        FZ_CHECK(s->has_signer && im, "signer %u", (unsigned)i);
        FZ_CHECK(s->signer.key.size == im->pub_len && s->sig.size == im->sig_len,
                 "key/sig length for %s", im->name);
        FZ_CHECK(ldg_alg_check(&G, 1, s->signer.alg, height) == 0, "signer alg not allowed");
    }
    uint8_t d[LDG_DIGEST_LEN], id[LDG_DIGEST_LEN];
    FZ_CHECK(ldg_tx_digest(&G, T1->type, T1->env.body.bytes, T1->env.body.size, d) == 0 &&
                 !memcmp(d, T1->hash, sizeof d),
             "hash is not ldg_tx_digest(body)");
    const fwl_PublicKey *k0 = &T1->env.sigs[0].signer;
    FZ_CHECK(ldg_key_id(&G, k0->alg, k0->key.bytes, k0->key.size, id) == 0 &&
                 !memcmp(id, T1->sender, sizeof id),
             "sender is not the key id of sigs[0]");

    /* Deterministic: a second parse of the same bytes gives the same answer. */
    FZ_CHECK(ldg_tx_parse(&G, height, buf, len, T2, NULL) == 0, "second parse failed");
    FZ_CHECK(T2->type == T1->type && !memcmp(T2->hash, T1->hash, sizeof T1->hash) &&
                 !memcmp(T2->sender, T1->sender, sizeof T1->sender),
             "second parse differs");

    /* Deprecation is monotone in height: valid here means valid at the chain's start. */
    if (height > 0)
        FZ_CHECK(ldg_tx_parse(&G, 0, buf, len, T2, NULL) == 0, "valid at %llu but not at 0",
                 (unsigned long long)height);

    int vrc = ldg_tx_verify(T1);
    FZ_CHECK(vrc == 0 || vrc == LDG_EBADSIG || vrc == LDG_EBADKEY, "verify returned %d", vrc);
    return 0;
}
