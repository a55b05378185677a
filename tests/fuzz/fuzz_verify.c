/*
 * fuzz_verify: the answer verifier (node/client/verify.c: fwl_verify_release,
 * fwl_verify_eligible, fwl_verify_list) on arbitrary Response frame bodies, as a tracker meets a lying or
 * broken node; and the state proof codec and checker (ldg_state_proof_decode,
 * ldg_state_verify, ldg_state_proof_encode) on the raw input.
 *
 * Each input is verified under two trusts, each with two clocks (any age; at most one day
 * old), for GetRelease and for Eligible with one and with two devices of a fixed list:
 *   - a fixed genesis, chain "fuzz-verify", four validators of four algorithms made from
 *     fixed seeds (power 1 each): what a tracker holds;
 *   - a genesis made from the frame itself: the chain id of the proof's header, the commit's
 *     signers as validators. It lets answers captured from a real chain (the proxy's --dump in
 *     tests/functional/test_verify.sh; tests/fuzz/corpus/fuzz_verify/) past the certificate,
 *     into the state proofs and the re-decision, whatever keys that chain had.
 * The release asked for is the one the proof's first state proof covers ('r' key), else a
 * fixed one. The devices are those test_verify.sh asks about (cam-1 on cam-v2, gw-1 on gw-1).
 *
 * Checks: never crashes, leaks or runs long; every result is 0 or an error: a code of the
 * module tables (client.h) unless the frame is the node's own Error answer, whose code is
 * passed on; an error says why (the why string; for an Error answer, its message); a
 * verified release is found or proven absent. The raw input as a fwl.StateProof: a decode error is LDG_EMALFORMED, LDG_ETOOBIG
 * or LDG_ENOMEM and leaves nothing allocated; a decoded proof's bounds hold, its keys and
 * values lie inside the input, ldg_state_verify answers 0, LDG_EPROOF or LDG_EINVALID, and
 * the proof encodes, decodes back to the same proof and verifies alike (one round trip).
 * Seeds, made at startup: answers of the fixed chain that verify (a release found, one
 * proven absent, an Eligible answer of one device; each checked to verify here, and the
 * found one checked to be refused when asked with a hash cut short), the same without a
 * proof, and the state proofs alone; tests/fuzz/corpus/fuzz_verify/ holds
 * answers of a real node (a single validator; VERIFY_FRAMES=DIR bash
 * tests/functional/test_verify.sh writes them). FZ_VERIFY_VERBOSE=1 in the environment
 * prints every result with its why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "node/client/client.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 4102444800000ull /* 2100-01-01: every captured answer is in the past */
#define DAY_MS 86400000ull
#define N_VALIDATORS 4

static ldg_genesis G;
static fz_key V[N_VALIDATORS];
static fwl_Device DEV[2];
static fwl_Hash ASKED; /* the release asked for when the proof does not say */

static void setup(void)
{
    static int done;
    if (done)
        return;
    static const uint32_t algs[N_VALIDATORS] = {LDG_SIG_ED25519, LDG_SIG_SECP256K1_SCHNORR,
                                                LDG_SIG_SECP256K1_ECDSA, LDG_SIG_P256_ECDSA};
    memset(&G, 0, sizeof G);
    snprintf(G.chain_id, sizeof G.chain_id, "fuzz-verify");
    G.hash_alg = LDG_HASH_SHA256;
    for (size_t i = 0; i < N_VALIDATORS; i++) {
        fz_mkkey(&V[i], algs[i], (uint8_t)(0x21 + i));
        G.validators[i] = V[i].pub;
        G.validator_power[i] = 1;
    }
    G.n_validators = N_VALIDATORS;

    memset(DEV, 0, sizeof DEV);
    snprintf(DEV[0].id, sizeof DEV[0].id, "cam-1");
    snprintf(DEV[0].hardware_model, sizeof DEV[0].hardware_model, "cam-v2");
    DEV[0].hardware_rev = 3;
    DEV[0].packages_count = 1;
    snprintf(DEV[0].packages[0].name, sizeof DEV[0].packages[0].name, "cam-fw");
    snprintf(DEV[0].packages[0].version, sizeof DEV[0].packages[0].version, "1.0.0");
    snprintf(DEV[1].id, sizeof DEV[1].id, "gw-1");
    snprintf(DEV[1].hardware_model, sizeof DEV[1].hardware_model, "gw-1");
    DEV[1].packages_count = 1;
    snprintf(DEV[1].packages[0].name, sizeof DEV[1].packages[0].name, "gw-fw");
    snprintf(DEV[1].packages[0].version, sizeof DEV[1].packages[0].version, "1.0.0");

    ASKED.alg = LDG_HASH_SHA256;
    memset(ASKED.digest.bytes, 0xa1, 32);
    ASKED.digest.size = 32;
    done = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* What the frame says about itself: its kind, its proof's chain, signers and first range    */

typedef struct {
    const uint8_t *buf;
    size_t len;
} slice;

typedef struct {
    slice proof;
    uint8_t prefix[LDG_STATE_KEY_MAX];
    size_t prefix_len;
    bool first_seen;
} frame_info;

static bool keep_proof(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    slice *s = *arg;
    s->buf = st->state;
    s->len = st->bytes_left;
    return pb_read(st, NULL, st->bytes_left);
}

static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    frame_info *fi = *arg;
    if (f->tag == fwl_Response_get_release_tag) {
        fwl_GetReleaseResp *r = f->pData;
        r->proof.funcs.decode = keep_proof;
        r->proof.arg = &fi->proof;
    } else if (f->tag == fwl_Response_eligible_tag) {
        fwl_EligibleResp *r = f->pData;
        r->proof.funcs.decode = keep_proof;
        r->proof.arg = &fi->proof;
    }
    return true;
}

/* The first StateProof's prefix (its steps and leaves skipped: no callbacks). */
static bool first_prefix(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    frame_info *fi = *arg;
    if (fi->first_seen)
        return pb_read(st, NULL, st->bytes_left);
    fwl_StateProof *sp = calloc(1, sizeof *sp);
    FZ_CHECK(sp, "calloc");
    bool ok = pb_decode(st, fwl_StateProof_fields, sp);
    if (ok) {
        fi->first_seen = true;
        memcpy(fi->prefix, sp->prefix.bytes, sp->prefix.size);
        fi->prefix_len = sp->prefix.size;
    }
    free(sp);
    return ok;
}

/* Decode the frame's kind, and, when it carries a Proof, a genesis trusting its commit's
 * signers under its header's chain id, and the release its first state proof covers. */
static void frame_derive(const uint8_t *data, size_t size, pb_size_t *which, ldg_genesis *g,
                         bool *have_g, fwl_Hash *asked)
{
    static fwl_Response resp;
    static fwl_Proof pf;
    static fwl_BlockHeader hdr;
    frame_info fi;
    memset(&fi, 0, sizeof fi);
    memset(&resp, 0, sizeof resp);
    *which = 0;
    *have_g = false;
    *asked = ASKED;
    resp.cb_resp.funcs.decode = on_member;
    resp.cb_resp.arg = &fi;
    pb_istream_t st = pb_istream_from_buffer(data, size);
    if (!pb_decode(&st, fwl_Response_fields, &resp))
        return;
    *which = resp.which_resp;
    if (!fi.proof.buf)
        return;
    memset(&pf, 0, sizeof pf);
    pf.state.funcs.decode = first_prefix;
    pf.state.arg = &fi;
    st = pb_istream_from_buffer(fi.proof.buf, fi.proof.len);
    if (!pb_decode(&st, fwl_Proof_fields, &pf))
        return;
    memset(&hdr, 0, sizeof hdr);
    st = pb_istream_from_buffer(pf.header.bytes, pf.header.size);
    if (!pb_decode(&st, fwl_BlockHeader_fields, &hdr))
        return;
    memset(g, 0, sizeof *g);
    snprintf(g->chain_id, sizeof g->chain_id, "%s", hdr.chain_id);
    g->hash_alg = LDG_HASH_SHA256;
    for (size_t i = 0; i < pf.commit_count && g->n_validators < LDG_MAX_VALIDATORS; i++) {
        const fwl_PublicKey *k = &pf.commit[i].signer;
        if (k->key.size > LDG_PUBKEY_MAX ||
            ldg_validator_index(g, k->alg, k->key.bytes, k->key.size) >= 0)
            continue;
        ldg_pubkey *v = &g->validators[g->n_validators];
        v->alg = k->alg;
        v->len = k->key.size;
        memcpy(v->key, k->key.bytes, k->key.size);
        g->validator_power[g->n_validators++] = 1;
    }
    *have_g = g->n_validators > 0;
    if (fi.prefix_len > 5 && fi.prefix[0] == 'r' && fi.prefix_len - 5 <= sizeof asked->digest.bytes) {
        asked->alg = (uint32_t)fi.prefix[1] << 24 | (uint32_t)fi.prefix[2] << 16 |
                     (uint32_t)fi.prefix[3] << 8 | fi.prefix[4];
        memcpy(asked->digest.bytes, fi.prefix + 5, fi.prefix_len - 5);
        asked->digest.size = (pb_size_t)(fi.prefix_len - 5);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The verifier                                                                              */

static bool known(int rc)
{
    return rc == 0 || strcmp(node_strerror(rc), "unknown error") != 0;
}

static void check_rc(const char *what, int rc, const char *why, pb_size_t which)
{
    if (getenv("FZ_VERIFY_VERBOSE"))
        fprintf(stderr, "%s: %d %s\n", what, rc, why);
    FZ_CHECK(rc <= 0, "%s: %d", what, rc);
    FZ_CHECK(known(rc) || which == fwl_Response_error_tag,
             "%s: error %d is in no module's table (%s)", what, rc, why);
    /* The node's own Error answer is passed on with its message, which may be empty. */
    FZ_CHECK(rc == 0 || rc == LDG_ENOMEM || why[0] || which == fwl_Response_error_tag,
             "%s: error %d (%s) without a why", what, rc, node_strerror(rc));
}

static void verify_all(const ldg_genesis *g, const uint8_t *data, size_t size,
                       const fwl_Hash *asked, pb_size_t which)
{
    static fwl_ReleaseRecord rec;
    const fwl_trust trusts[] = {{g, NOW_MS, 0, 30000}, {g, NOW_MS, DAY_MS, 30000}};
    for (size_t t = 0; t < sizeof trusts / sizeof *trusts; t++) {
        char why[300] = "";
        bool found = false;
        uint64_t height = 0;
        int rc = fwl_verify_release(&trusts[t], data, size, asked, &rec, &found, &height, why,
                                    sizeof why);
        check_rc("release", rc, why, which);
        if (rc == 0)
            FZ_CHECK(!found || rec.has_release, "a verified release without its record");
        /* why may be NULL */
        int rc2 = fwl_verify_release(&trusts[t], data, size, asked, NULL, NULL, NULL, NULL, 0);
        FZ_CHECK(rc2 == rc, "release: %d with why and outputs, %d without", rc, rc2);
        for (size_t n = 1; n <= 2; n++) {
            why[0] = 0;
            rc = fwl_verify_eligible(&trusts[t], DEV, n, data, size, &height, why, sizeof why);
            check_rc("eligible", rc, why, which);
        }
        /* A model's list: the first device's, with and without a product and a cursor. */
        static fwl_ListReleasesReq q;
        for (int v = 0; v < 2; v++) {
            memset(&q, 0, sizeof q);
            snprintf(q.hardware, sizeof q.hardware, "%s", DEV[0].hardware_model);
            if (v) {
                snprintf(q.product, sizeof q.product, "%s", DEV[0].packages[0].name);
                memset(q.after.bytes, 0, 12 + 1);
                q.after.size = 13;
            }
            why[0] = 0;
            rc = fwl_verify_list(&trusts[t], &q, data, size, &height, why, sizeof why);
            check_rc("list", rc, why, which);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The state proof on its own                                                                */

static bool same_proof(const ldg_state_proof_dec *a, const ldg_state_proof_dec *b)
{
    const ldg_state_proof *p = &a->p, *q = &b->p;
    if (a->prefix_len != b->prefix_len || memcmp(a->prefix, b->prefix, a->prefix_len) ||
        p->n_steps != q->n_steps || p->n_leaves != q->n_leaves || p->witness != q->witness)
        return false;
    for (size_t i = 0; i < p->n_steps; i++)
        if (p->steps[i].bit != q->steps[i].bit ||
            memcmp(p->steps[i].sibling, q->steps[i].sibling, LDG_DIGEST_LEN))
            return false;
    for (size_t i = 0; i < p->n_leaves; i++) {
        const ldg_state_leaf *x = &p->leaves[i], *y = &q->leaves[i];
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) ||
            x->value_len != y->value_len || memcmp(x->value, y->value, x->value_len) ||
            memcmp(x->vhash, y->vhash, LDG_DIGEST_LEN))
            return false;
    }
    if (p->witness == LDG_STATE_WITNESS_NODE)
        return p->w_bit == q->w_bit && !memcmp(p->w_prefix, q->w_prefix, (p->w_bit + 7u) / 8) &&
               !memcmp(p->w_left, q->w_left, LDG_DIGEST_LEN) &&
               !memcmp(p->w_right, q->w_right, LDG_DIGEST_LEN);
    if (p->witness == LDG_STATE_WITNESS_LEAF)
        return p->w_key_len == q->w_key_len && !memcmp(p->w_key, q->w_key, p->w_key_len) &&
               !memcmp(p->w_vhash, q->w_vhash, LDG_DIGEST_LEN);
    return true;
}

static void state_raw(const uint8_t *data, size_t size)
{
    static ldg_state_proof_dec d, d2;
    int rc = ldg_state_proof_decode(LDG_HASH_SHA256, data, size, &d);
    if (rc) {
        FZ_CHECK(rc == LDG_EMALFORMED || rc == LDG_ETOOBIG || rc == LDG_ENOMEM,
                 "state proof decode: %d (%s)", rc, ldg_strerror(rc));
        FZ_CHECK(!d.steps && !d.leaves && !d.p.n_steps && !d.p.n_leaves,
                 "a failed decode left arrays behind");
        return;
    }
    FZ_CHECK(d.prefix_len >= 1 && d.prefix_len <= LDG_STATE_KEY_MAX, "prefix of %zu", d.prefix_len);
    FZ_CHECK(d.p.n_steps <= LDG_STATE_STEPS_MAX && d.p.n_leaves <= LDG_STATE_LEAVES_MAX,
             "%zu steps, %zu leaves", d.p.n_steps, d.p.n_leaves);
    uintptr_t lo = (uintptr_t)data, hi = lo + size;
    for (size_t i = 0; i < d.p.n_leaves; i++) {
        const ldg_state_leaf *l = &d.p.leaves[i];
        FZ_CHECK(l->key_len >= 1 && l->key_len <= LDG_STATE_KEY_MAX, "leaf %zu key of %zu", i,
                 l->key_len);
        uintptr_t k = (uintptr_t)l->key, v = (uintptr_t)l->value;
        FZ_CHECK(k >= lo && k <= hi && l->key_len <= hi - k, "leaf %zu key outside the input", i);
        FZ_CHECK(v >= lo && v <= hi && l->value_len <= hi - v, "leaf %zu value outside the input", i);
    }

    uint8_t roots[2][LDG_DIGEST_LEN] = {{0}};
    FZ_CHECK(ldg_state_empty_hash(LDG_HASH_SHA256, roots[1]) == 0, "empty hash");
    int vr[2];
    for (size_t r = 0; r < 2; r++) {
        vr[r] = ldg_state_verify(LDG_HASH_SHA256, roots[r], d.prefix, d.prefix_len, &d.p);
        FZ_CHECK(vr[r] == 0 || vr[r] == LDG_EPROOF || vr[r] == LDG_EINVALID,
                 "state verify: %d (%s)", vr[r], ldg_strerror(vr[r]));
    }

    /* One round trip: the encoder writes field 1 (tag, length, body); decode the body. */
    size_t cap = 2 * size + 256;
    uint8_t *enc = malloc(cap);
    FZ_CHECK(enc, "malloc");
    pb_ostream_t os = pb_ostream_from_buffer(enc, cap);
    rc = ldg_state_proof_encode(&os, 1, d.prefix, d.prefix_len, &d.p);
    FZ_CHECK(rc == 0, "a decoded proof does not encode: %d (%s)", rc, ldg_strerror(rc));
    pb_istream_t is = pb_istream_from_buffer(enc, os.bytes_written);
    pb_wire_type_t wt;
    uint32_t tag;
    bool eof;
    uint32_t len;
    FZ_CHECK(pb_decode_tag(&is, &wt, &tag, &eof) && tag == 1 && wt == PB_WT_STRING &&
                 pb_decode_varint32(&is, &len) && len == is.bytes_left,
             "the encoder's framing");
    rc = ldg_state_proof_decode(LDG_HASH_SHA256, is.state, len, &d2);
    FZ_CHECK(rc == 0, "a re-encoded proof does not decode: %d (%s)", rc, ldg_strerror(rc));
    FZ_CHECK(same_proof(&d, &d2), "the proof changed in a round trip");
    for (size_t r = 0; r < 2; r++) {
        int v2 = ldg_state_verify(LDG_HASH_SHA256, roots[r], d2.prefix, d2.prefix_len, &d2.p);
        FZ_CHECK(v2 == vr[r], "verify %d before a round trip, %d after", vr[r], v2);
    }
    ldg_state_proof_dec_free(&d2);
    free(enc);
    ldg_state_proof_dec_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ldg_genesis dg;
    setup();
    fwl_Hash asked;
    pb_size_t which;
    bool have_dg;
    frame_derive(data, size, &which, &dg, &have_dg, &asked);
    verify_all(&G, data, size, &asked, which);
    if (have_dg)
        verify_all(&dg, data, size, &asked, which);
    state_raw(data, size);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Seeds: answers of the fixed chain, made here and checked to verify                        */

typedef struct {
    uint8_t b[16384];
    size_t n;
} buf;

static pb_ostream_t out_of(buf *b)
{
    return pb_ostream_from_buffer(b->b, sizeof b->b);
}

static void put_bytes(pb_ostream_t *os, uint32_t tag, const void *p, size_t n)
{
    FZ_CHECK(pb_encode_tag(os, PB_WT_STRING, tag) && pb_encode_string(os, p, n), "put %u", tag);
}

static void put_varint(pb_ostream_t *os, uint32_t tag, uint64_t v)
{
    FZ_CHECK(pb_encode_tag(os, PB_WT_VARINT, tag) && pb_encode_varint(os, v), "put %u", tag);
}

static void put_msg(pb_ostream_t *os, uint32_t tag, const pb_msgdesc_t *f, const void *m)
{
    FZ_CHECK(pb_encode_tag(os, PB_WT_STRING, tag) && pb_encode_submessage(os, f, m), "put %u", tag);
}

static void record_bytes(buf *out, const char *version, uint64_t secver, uint8_t file_byte,
                         uint64_t height)
{
    static fwl_ReleaseRecord r;
    memset(&r, 0, sizeof r);
    r.has_release = true;
    snprintf(r.release.product, sizeof r.release.product, "cam-fw");
    snprintf(r.release.provider, sizeof r.release.provider, "Acme");
    r.release.published_at = 1700000000;
    snprintf(r.release.version, sizeof r.release.version, "%s", version);
    r.release.security_version = secver;
    r.release.has_file_hash = true;
    r.release.file_hash.alg = LDG_HASH_SHA256;
    memset(r.release.file_hash.digest.bytes, file_byte, 32);
    r.release.file_hash.digest.size = 32;
    snprintf(r.release.file_url, sizeof r.release.file_url, "https://fw.example.com/%s", version);
    r.release.file_size = 1000;
    r.release.hardware_count = 1;
    snprintf(r.release.hardware[0].model, sizeof r.release.hardware[0].model, "cam-v2");
    r.has_author = true;
    r.author.alg = V[0].pub.alg;
    memcpy(r.author.key.bytes, V[0].pub.key, V[0].pub.len);
    r.author.key.size = (pb_size_t)V[0].pub.len;
    memset(r.tx_hash.bytes, file_byte ^ 0xff, 32);
    r.tx_hash.size = 32;
    r.height = height;
    r.block_time_ms = NOW_MS - 2000;
    pb_ostream_t os = out_of(out);
    FZ_CHECK(pb_encode(&os, fwl_ReleaseRecord_fields, &r), "record");
    out->n = os.bytes_written;
}

/* A candidate's key: 'h' model NUL, then its height (8 bytes) and index (4), big-endian. */
static size_t line_key(uint8_t *k, uint64_t height, uint32_t index)
{
    size_t n = ldg_state_key_lines(k, "cam-v2");
    for (int i = 0; i < 8; i++)
        k[n + i] = (uint8_t)(height >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        k[n + 8 + i] = (uint8_t)(index >> (24 - 8 * i));
    return n + 12;
}

/* A state proof alone, as a StateProof message (the encoder writes it as a field). */
static void seed_part(const char *dir, const char *name, const uint8_t *prefix, size_t pl,
                      const ldg_state_proof *p)
{
    static buf raw;
    pb_ostream_t os = out_of(&raw);
    FZ_CHECK(ldg_state_proof_encode(&os, 1, prefix, pl, p) == 0, "raw %s", name);
    pb_istream_t is = pb_istream_from_buffer(raw.b, os.bytes_written);
    pb_wire_type_t wt;
    uint32_t tag, len;
    bool eof;
    FZ_CHECK(pb_decode_tag(&is, &wt, &tag, &eof) && pb_decode_varint32(&is, &len), "framing");
    fz_write_seed(dir, name, is.state, len);
}

static void leaf_of(ldg_state_leaf *l, const uint8_t *key, size_t kl, const buf *value)
{
    size_t n;
    const uint8_t *parts[1] = {value->b};
    memset(l, 0, sizeof *l);
    l->key = key;
    l->key_len = kl;
    l->value = value->b;
    l->value_len = value->n;
    FZ_CHECK(ldg_hash(LDG_HASH_SHA256, parts, &l->value_len, 1, l->vhash, &n) == 0, "hash");
}

/* A Proof: the header of block `height` over root, certified by three of the four
 * validators, then the state proofs. */
static void proof_bytes(buf *out, uint64_t height, const uint8_t root[LDG_DIGEST_LEN],
                        const uint8_t *const *prefixes, const size_t *pls,
                        const ldg_state_proof *parts, size_t n, uint8_t block_hash[LDG_DIGEST_LEN])
{
    fwl_BlockHeader h = fwl_BlockHeader_init_zero;
    h.version = 1;
    snprintf(h.chain_id, sizeof h.chain_id, "%s", G.chain_id);
    h.height = height;
    h.time_ms = NOW_MS - 1000;
    h.has_state_root = true;
    h.state_root.alg = LDG_HASH_SHA256;
    memcpy(h.state_root.digest.bytes, root, LDG_DIGEST_LEN);
    h.state_root.digest.size = LDG_DIGEST_LEN;
    h.has_validators_hash = true;
    h.validators_hash.alg = LDG_HASH_SHA256;
    FZ_CHECK(ldg_validators_hash(&G, h.validators_hash.digest.bytes) == 0, "validators hash");
    h.validators_hash.digest.size = LDG_DIGEST_LEN;
    buf hb;
    pb_ostream_t hs = out_of(&hb);
    FZ_CHECK(pb_encode(&hs, fwl_BlockHeader_fields, &h), "header");
    FZ_CHECK(ldg_block_hash(&G, hb.b, hs.bytes_written, block_hash) == 0, "block hash");

    pb_ostream_t os = out_of(out);
    put_bytes(&os, fwl_Proof_header_tag, hb.b, hs.bytes_written);
    for (size_t i = 0; i < 3; i++) {
        fwl_Signature sig;
        fz_commit_sig(&G, &V[i], height, 0, block_hash, &sig);
        put_msg(&os, fwl_Proof_commit_tag, fwl_Signature_fields, &sig);
    }
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(ldg_state_proof_encode(&os, fwl_Proof_state_tag, prefixes[i], pls[i], &parts[i]) == 0,
                 "state proof %zu", i);
    out->n = os.bytes_written;
}

static void seed_release(const char *dir)
{
    buf rec, pf, frame;
    uint8_t key[LDG_STATE_KEY_MAX], root[LDG_DIGEST_LEN], bh[LDG_DIGEST_LEN];
    size_t kl = ldg_state_key_release(key, ASKED.alg, ASKED.digest.bytes, ASKED.digest.size);
    record_bytes(&rec, "1.2.0", 3, 0xa1, 3);

    /* Found: the state is that one release; its leaf is the root. */
    ldg_state_leaf leaf;
    leaf_of(&leaf, key, kl, &rec);
    FZ_CHECK(ldg_state_leaf_hash(LDG_HASH_SHA256, key, kl, leaf.vhash, root) == 0, "leaf hash");
    ldg_state_proof p = {NULL, 0, &leaf, 1, LDG_STATE_RANGE};
    const uint8_t *pre[1] = {key};
    size_t pls[1] = {kl};
    for (int with_proof = 1; with_proof >= 0; with_proof--) {
        proof_bytes(&pf, 5, root, pre, pls, &p, 1, bh);
        pb_ostream_t body = out_of(&frame);
        put_bytes(&body, fwl_GetReleaseResp_record_tag, rec.b, rec.n);
        put_varint(&body, fwl_GetReleaseResp_at_height_tag, 5);
        if (with_proof)
            put_bytes(&body, fwl_GetReleaseResp_proof_tag, pf.b, pf.n);
        buf resp;
        pb_ostream_t os = out_of(&resp);
        put_varint(&os, fwl_Response_id_tag, 1);
        put_bytes(&os, fwl_Response_get_release_tag, frame.b, body.bytes_written);
        bool found = false;
        char why[300] = "";
        fwl_trust tr = {&G, NOW_MS, DAY_MS, 30000};
        int rc = fwl_verify_release(&tr, resp.b, os.bytes_written, &ASKED, NULL, &found, NULL,
                                    why, sizeof why);
        FZ_CHECK(with_proof ? rc == 0 && found : rc == NODE_ENOPROOF, "seed release: %d %s", rc, why);
        fz_write_seed(dir, with_proof ? "release-found" : "release-no-proof", resp.b, os.bytes_written);
    }
    /* Asked with the hash cut short, and answered with the range of that prefix: the one
     * key in it is not the key asked for. */
    {
        size_t cut_len = kl - 1;
        proof_bytes(&pf, 5, root, pre, &cut_len, &p, 1, bh);
        pb_ostream_t body = out_of(&frame);
        put_bytes(&body, fwl_GetReleaseResp_record_tag, rec.b, rec.n);
        put_varint(&body, fwl_GetReleaseResp_at_height_tag, 5);
        put_bytes(&body, fwl_GetReleaseResp_proof_tag, pf.b, pf.n);
        buf resp;
        pb_ostream_t os = out_of(&resp);
        put_varint(&os, fwl_Response_id_tag, 1);
        put_bytes(&os, fwl_Response_get_release_tag, frame.b, body.bytes_written);
        fwl_Hash cut = ASKED;
        cut.digest.size--;
        char why[300] = "";
        fwl_trust tr = {&G, NOW_MS, DAY_MS, 30000};
        int rc = fwl_verify_release(&tr, resp.b, os.bytes_written, &cut, NULL, NULL, NULL, why,
                                    sizeof why);
        FZ_CHECK(rc == NODE_ENOPROOF, "a cut hash: %d %s", rc, why);
        fz_write_seed(dir, "release-cut-hash", resp.b, os.bytes_written);
    }
    /* A proof field of a scalar wire type (fixed64: nanopb hands its 8 bytes over from its
     * stack) is no proof to borrow: the answer does not decode. */
    static const uint8_t p64[] = {0x08, 0x01, 0x6a, 0x09, 0x19, 1, 2, 3, 4, 5, 6, 7, 8};
    fwl_trust tr = {&G, NOW_MS, DAY_MS, 30000};
    int rc = fwl_verify_release(&tr, p64, sizeof p64, &ASKED, NULL, NULL, NULL, NULL, 0);
    FZ_CHECK(rc == NODE_EPROTO, "a fixed64 proof: %d", rc);
    seed_part(dir, "state-range-1", key, kl, &p);

    /* Proven absent: the empty state. */
    ldg_state_proof e = {NULL, 0, NULL, 0, LDG_STATE_EMPTY};
    FZ_CHECK(ldg_state_empty_hash(LDG_HASH_SHA256, root) == 0, "empty");
    proof_bytes(&pf, 1, root, pre, pls, &e, 1, bh);
    pb_ostream_t body = out_of(&frame);
    put_varint(&body, fwl_GetReleaseResp_at_height_tag, 1);
    put_bytes(&body, fwl_GetReleaseResp_proof_tag, pf.b, pf.n);
    buf resp;
    pb_ostream_t os = out_of(&resp);
    put_varint(&os, fwl_Response_id_tag, 1);
    put_bytes(&os, fwl_Response_get_release_tag, frame.b, body.bytes_written);
    bool found = true;
    char why[300] = "";
    rc = fwl_verify_release(&tr, resp.b, os.bytes_written, &ASKED, NULL, &found, NULL, why,
                            sizeof why);
    FZ_CHECK(rc == 0 && !found, "seed absent: %d %s", rc, why);
    fz_write_seed(dir, "release-absent", resp.b, os.bytes_written);
}

/* Device cam-1 (cam-fw 1.0.0) over two candidates of cam-v2, 1.1.0 and 1.2.0, no binding:
 * the state is the two 'h' leaves; the bindings' absence is shown by the node above them. */
static void seed_eligible(const char *dir)
{
    static buf v1, v2, pf, frame, resp, dev;
    uint8_t k1[LDG_STATE_KEY_MAX], k2[LDG_STATE_KEY_MAX], lines[LDG_STATE_KEY_MAX];
    uint8_t b1[LDG_STATE_KEY_MAX], b2[LDG_STATE_KEY_MAX], root[LDG_DIGEST_LEN], bh[LDG_DIGEST_LEN];
    size_t kl1 = line_key(k1, 2, 0), kl2 = line_key(k2, 3, 0);
    size_t ll = ldg_state_key_lines(lines, "cam-v2");
    size_t bl1 = ldg_state_key_binding(b1, "cam-fw", "cam-v2");
    size_t bl2 = ldg_state_key_binding(b2, "cam-fw", "");
    record_bytes(&v1, "1.1.0", 2, 0xa2, 2);
    record_bytes(&v2, "1.2.0", 3, 0xa1, 3);
    ldg_state_leaf leaves[2];
    leaf_of(&leaves[0], k1, kl1, &v1);
    leaf_of(&leaves[1], k2, kl2, &v2);

    /* The root: the node splitting the two keys at the height's last byte. */
    ldg_state_proof range = {NULL, 0, leaves, 2, LDG_STATE_RANGE};
    ldg_state_proof none;
    memset(&none, 0, sizeof none);
    none.witness = LDG_STATE_WITNESS_NODE;
    size_t bit = 0; /* the first bit where the keys differ */
    while (((k1[bit / 8] ^ k2[bit / 8]) & (0x80 >> (bit % 8))) == 0)
        bit++;
    none.w_bit = (uint16_t)bit;
    memcpy(none.w_prefix, k1, (bit + 7) / 8);
    if (bit % 8)
        none.w_prefix[bit / 8] &= (uint8_t)(0xff << (8 - bit % 8));
    FZ_CHECK(ldg_state_leaf_hash(LDG_HASH_SHA256, k1, kl1, leaves[0].vhash, none.w_left) == 0 &&
                 ldg_state_leaf_hash(LDG_HASH_SHA256, k2, kl2, leaves[1].vhash, none.w_right) == 0 &&
                 ldg_state_node_hash(LDG_HASH_SHA256, bit, k1, none.w_left, none.w_right, root) == 0,
             "root");
    const uint8_t *pre[3] = {lines, b1, b2};
    size_t pls[3] = {ll, bl1, bl2};
    ldg_state_proof parts[3] = {range, none, none};
    proof_bytes(&pf, 4, root, pre, pls, parts, 3, bh);

    /* The answer the default policy gives: 1.2.0, 1.1.0 superseded. */
    fwl_DeviceAnswer a = fwl_DeviceAnswer_init_zero;
    snprintf(a.device_id, sizeof a.device_id, "cam-1");
    a.products_count = 1;
    fwl_ProductAnswer *pa = &a.products[0];
    snprintf(pa->product, sizeof pa->product, "cam-fw");
    snprintf(pa->installed, sizeof pa->installed, "1.0.0");
    pa->status = fwl_DeviceStatus_UPDATE_AVAILABLE;
    pa->has_best = true;
    snprintf(pa->best.product, sizeof pa->best.product, "cam-fw");
    snprintf(pa->best.version, sizeof pa->best.version, "1.2.0");
    pa->best.has_file_hash = true;
    pa->best.file_hash = ASKED;
    snprintf(pa->policy, sizeof pa->policy, "default");
    pa->superseded = 1;
    pb_ostream_t ds = out_of(&dev);
    FZ_CHECK(pb_encode(&ds, fwl_DeviceAnswer_fields, &a), "device answer");

    pb_ostream_t body = out_of(&frame);
    put_bytes(&body, fwl_EligibleResp_answers_tag, dev.b, ds.bytes_written);
    put_varint(&body, fwl_EligibleResp_at_height_tag, 4);
    put_bytes(&body, fwl_EligibleResp_block_hash_tag, bh, LDG_DIGEST_LEN);
    put_bytes(&body, fwl_EligibleResp_proof_tag, pf.b, pf.n);
    pb_ostream_t os = out_of(&resp);
    put_varint(&os, fwl_Response_id_tag, 1);
    put_bytes(&os, fwl_Response_eligible_tag, frame.b, body.bytes_written);
    char why[300] = "";
    fwl_trust tr = {&G, NOW_MS, DAY_MS, 30000};
    int rc = fwl_verify_eligible(&tr, DEV, 1, resp.b, os.bytes_written, NULL, why, sizeof why);
    FZ_CHECK(rc == 0, "seed eligible: %d %s", rc, why);
    fz_write_seed(dir, "eligible-1", resp.b, os.bytes_written);

    seed_part(dir, "state-range-2", pre[0], pls[0], &parts[0]);
    seed_part(dir, "state-absent-node", pre[1], pls[1], &parts[1]);
}

/* The seeds are made (and checked) at every start; written only into a corpus directory. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setup();
    const char *dir = fz_corpus_dir(*argc, *argv);
    seed_release(dir);
    seed_eligible(dir);
    return 0;
}
