/*
 * The release log's verifier (node/client/logverify.c, fwl_verify_log) on GetLogProof
 * answers built from a real store as the node builds them (the tip's certificate through
 * node/daemon/prove.c, the store's proofs): an honest answer verifies, with the release's
 * latest record and the consistency from an earlier head; every altered part is refused with
 * its code: a changed record or leaf index, another release, a checkpoint whose root or size
 * was changed, a head behind the checkpoint, another block at its height, a missing
 * certificate, another chain, and a history rewritten under the same validators.
 */
#include <pb_decode.h>

#include "node/client/client.h"
#include "node/daemon/prove.h"
#include "tests/ledger/store_helpers.h"

#define FILE_A 0x10
#define FILE_B 0x11
#define FILE_C 0x12

/* What goes into an answer; the builder fills it from the store, a test alters it. */
typedef struct {
    uint8_t rec[fwl_ReleaseRecord_size];
    size_t rec_len; /* 0: none */
    uint64_t leaf;
    uint8_t incl[LDG_MERKLE_MAX_DEPTH * LDG_DIGEST_LEN], cons[LDG_LOG_PROOF_MAX * LDG_DIGEST_LEN];
    size_t n_incl, n_cons;
    node_proof proof;
} answer;

static answer A;
static uint8_t frame[1 << 16];
static size_t frame_len;

static void hash_of(fwl_Hash *h, uint8_t fb)
{
    memset(h, 0, sizeof *h);
    h->alg = LDG_HASH_SHA256;
    memset(h->digest.bytes, fb, 32);
    h->digest.size = 32;
}

/* The answer the node gives at its tip: the release fb's latest record (none when fb is 0)
 * and the consistency from from_size (none when 0). */
static void build(uint8_t fb, uint64_t from_size)
{
    ldg_tip t;
    uint64_t pub, rev, at;
    uint8_t d[32];
    memset(&A, 0, sizeof A);
    ldg_store_tip(S, &t);
    assert_int_equal(node_proof_begin(&A.proof, S, t.height), 0);
    uint64_t size = A.proof.cert.hdr.log_size;
    if (fb) {
        memset(d, fb, sizeof d);
        assert_int_equal(ldg_store_log_leaves(S, LDG_HASH_SHA256, d, 32, &pub, &rev), 0);
        A.leaf = rev != LDG_LOG_NONE ? rev : pub;
        assert_int_equal(ldg_store_release_raw(S, LDG_HASH_SHA256, d, 32, A.rec, sizeof A.rec,
                                               &A.rec_len, &at), 0);
        assert_int_equal(ldg_store_log_inclusion(S, A.leaf, size, A.incl, LDG_MERKLE_MAX_DEPTH,
                                                 &A.n_incl), 0);
    }
    if (from_size)
        assert_int_equal(ldg_store_log_consistency(S, from_size, size, A.cons, LDG_LOG_PROOF_MAX,
                                                   &A.n_cons), 0);
}

static bool enc_rec(pb_ostream_t *os, const pb_field_t *f, void *const *arg)
{
    (void)arg;
    return pb_encode_tag_for_field(os, f) && pb_encode_string(os, A.rec, A.rec_len);
}

static bool enc_proof(pb_ostream_t *os, const pb_field_t *f, void *const *arg)
{
    (void)arg;
    return node_proof_write(os, f->tag, &A.proof);
}

/* A as a Response frame (what node_client_recv_raw hands the verifier). */
static void encode(void)
{
    static fwl_Response resp;
    memset(&resp, 0, sizeof resp);
    resp.id = 7;
    resp.which_resp = fwl_Response_get_log_proof_tag;
    fwl_GetLogProofResp *r = &resp.resp.get_log_proof;
    if (A.rec_len)
        r->record_bytes.funcs.encode = enc_rec;
    r->proof.funcs.encode = enc_proof;
    r->leaf_index = A.leaf;
    r->inclusion_count = (pb_size_t)A.n_incl;
    for (size_t i = 0; i < A.n_incl; i++) {
        r->inclusion[i].size = LDG_DIGEST_LEN;
        memcpy(r->inclusion[i].bytes, A.incl + i * LDG_DIGEST_LEN, LDG_DIGEST_LEN);
    }
    r->consistency_count = (pb_size_t)A.n_cons;
    for (size_t i = 0; i < A.n_cons; i++) {
        r->consistency[i].size = LDG_DIGEST_LEN;
        memcpy(r->consistency[i].bytes, A.cons + i * LDG_DIGEST_LEN, LDG_DIGEST_LEN);
    }
    pb_ostream_t os = pb_ostream_from_buffer(frame, sizeof frame);
    assert_true(pb_encode(&os, fwl_Response_fields, &resp));
    frame_len = os.bytes_written;
    node_proof_free(&A.proof);
}

static char why[400];

/* Verify the frame: asking fb (0: none), from the checkpoint from (may be NULL). */
static int check(uint8_t fb, const fwl_log_head *from, fwl_log_head *head, uint64_t *leaf)
{
    static fwl_ReleaseRecord rec;
    fwl_trust tr = {&G, 0, 0, 30000};
    fwl_Hash h;
    fwl_log_head scratch;
    hash_of(&h, fb);
    why[0] = 0;
    return fwl_verify_log(&tr, frame, frame_len, fb ? &h : NULL, from, head ? head : &scratch,
                          &rec, leaf, why, sizeof why);
}

/* The chain of the tests: A (block 1), B (block 2), A revoked and C published (block 3). */
static void chain(fwl_log_head *cp1)
{
    rawtx a, b, r, c;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    build(0, 0);
    encode();
    assert_int_equal(check(0, NULL, cp1, NULL), 0);
    assert_int_equal(cp1->log_size, 1);
    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, FILE_B, "cam-v2");
    assert_int_equal(commit1(&b), 0);
    revoke_tx(&r, &author, 3, FILE_A);
    publish_tx(&c, &author, 4, "cam-fw", "1.2.0", 3, FILE_C, "cam-v3");
    rawtx *txs[] = {&r, &c};
    assert_int_equal(commit(txs, 2, NULL), 0);
}

static void test_honest_answers_verify(void **st)
{
    (void)st;
    fwl_log_head cp1, head, again;
    uint64_t leaf = 99;
    chain(&cp1);
    build(FILE_A, cp1.log_size);
    encode();
    assert_int_equal(check(FILE_A, &cp1, &head, &leaf), 0);
    assert_int_equal(head.height, 3);
    assert_int_equal(head.log_size, 4); /* A, B, A revoked, C */
    assert_int_equal(leaf, 2);          /* the revoked record: the latest */
    /* The head itself is a checkpoint: consistent with itself (an empty proof). */
    build(FILE_C, head.log_size);
    encode();
    assert_int_equal(check(FILE_C, &head, &again, &leaf), 0);
    assert_int_equal(leaf, 3);
    assert_memory_equal(again.log_root, head.log_root, LDG_DIGEST_LEN);
    /* No release, no checkpoint: the head alone; an empty checkpoint needs no proof. */
    fwl_log_head empty = {0};
    build(0, 0);
    encode();
    assert_int_equal(check(0, &empty, &head, &leaf), 0);
    assert_int_equal(leaf, LDG_LOG_NONE);
}

static void test_altered_answers_refused(void **st)
{
    (void)st;
    fwl_log_head cp1, bad;
    chain(&cp1);
    /* The record changed (its note), the leaf index, or another release's hash asked. */
    build(FILE_A, 0);
    A.rec[A.rec_len - 3] ^= 0x01;
    encode();
    assert_int_equal(check(FILE_A, NULL, NULL, NULL), NODE_ELOG);
    build(FILE_A, 0);
    A.leaf = 0; /* A's publish: another record */
    encode();
    assert_int_equal(check(FILE_A, NULL, NULL, NULL), NODE_ELOG);
    build(FILE_A, 0);
    encode();
    assert_int_equal(check(FILE_B, NULL, NULL, NULL), NODE_EMISMATCH);
    build(FILE_A, 0);
    A.rec_len = 0;
    encode();
    assert_int_equal(check(FILE_A, NULL, NULL, NULL), NODE_ENOPROOF);
    /* A checkpoint whose root, or size, is not the one its block certified. */
    bad = cp1;
    bad.log_root[0] ^= 0x80;
    build(0, bad.log_size);
    encode();
    assert_int_equal(check(0, &bad, NULL, NULL), NODE_ELOG);
    assert_non_null(strstr(why, "history was rewritten"));
    bad = cp1;
    bad.log_size = 2;
    build(0, bad.log_size);
    encode();
    assert_int_equal(check(0, &bad, NULL, NULL), NODE_ELOG);
    /* The consistency proof cut short. */
    build(0, cp1.log_size);
    A.n_cons--;
    encode();
    assert_int_equal(check(0, &cp1, NULL, NULL), NODE_ELOG);
    /* A checkpoint ahead of the node; another block at the checkpoint's height. */
    bad = cp1;
    bad.height = 9;
    build(0, bad.log_size);
    encode();
    assert_int_equal(check(0, &bad, NULL, NULL), NODE_ESTALE);
    build(0, 0);
    encode();
    assert_int_equal(check(0, NULL, &bad, NULL), 0);
    fwl_log_head same = bad;
    same.log_size = 0; /* the tip's block, claiming the empty log */
    assert_int_equal(check(0, &same, NULL, NULL), NODE_ELOG);
    bad.block_hash[5] ^= 0x01;
    assert_int_equal(check(0, &bad, NULL, NULL), NODE_ELOG);
    /* No certificate; another chain; an error answer. */
    build(0, 0);
    A.proof.cert.n_commit = 0;
    encode();
    assert_int_equal(check(0, NULL, NULL, NULL), NODE_ECERT);
    build(0, 0);
    encode();
    snprintf(G.chain_id, sizeof G.chain_id, "other-chain");
    assert_int_equal(check(0, NULL, NULL, NULL), LDG_ECHAIN);
    make_genesis();
    static fwl_Response e;
    e.which_resp = fwl_Response_error_tag;
    e.resp.error.code = LDG_ENOTFOUND;
    snprintf(e.resp.error.message, sizeof e.resp.error.message, "no such release in the log");
    pb_ostream_t os = pb_ostream_from_buffer(frame, sizeof frame);
    assert_true(pb_encode(&os, fwl_Response_fields, &e));
    frame_len = os.bytes_written;
    assert_int_equal(check(FILE_A, NULL, NULL, NULL), LDG_ENOTFOUND);
    assert_string_equal(why, "no such release in the log");
    frame_len = 3;
    assert_int_equal(check(0, NULL, NULL, NULL), NODE_EPROTO);
}

/* The validators sign another history (the same genesis, other releases): a checkpoint of
 * the first is not extended by the second. */
static void test_rewritten_history(void **st)
{
    fwl_log_head cp, head;
    rawtx a, b;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, FILE_B, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    assert_int_equal(commit1(&b), 0);
    build(0, 0);
    encode();
    assert_int_equal(check(0, NULL, &cp, NULL), 0);
    assert_int_equal(teardown(st), 0);
    assert_int_equal(setup(st), 0);
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, FILE_A, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "1.1.1", 2, FILE_C, "cam-v2"); /* instead of B */
    rawtx c;
    publish_tx(&c, &author, 3, "cam-fw", "1.2.0", 3, FILE_B, "cam-v2");
    assert_int_equal(commit1(&a), 0);
    assert_int_equal(commit1(&b), 0);
    assert_int_equal(commit1(&c), 0);
    build(0, cp.log_size);
    encode();
    assert_int_equal(check(0, &cp, &head, NULL), NODE_ELOG);
    assert_int_equal(head.log_size, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_honest_answers_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered_answers_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_history, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
