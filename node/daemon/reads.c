/*
 * The read path: every read is one LMDB read transaction on the loop thread, answered with
 * the height it was read at.
 */
#include "node/daemon/prove.h"
#include "node/daemon/server_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Read path                                                                                 */

typedef struct {
    const uint8_t *buf;
    size_t len;
} bytes_arg;

static bool enc_bytes(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const bytes_arg *b = *arg;
    return pb_encode_tag_for_field(st, f) && pb_encode_string(st, b->buf, b->len);
}

void node__handle_get_block(server *s, client *c, uint64_t id, const fwl_GetBlockReq *r)
{
    uint8_t *blk, hash[LDG_DIGEST_LEN];
    size_t len;
    uint64_t h;
    int rc;
    if (r->which_by == fwl_GetBlockReq_hash_tag) {
        if (r->by.hash.size != LDG_DIGEST_LEN) {
            node_rpc_send_error(c, id, LDG_EINVALID, "block hash must be %d bytes", LDG_DIGEST_LEN);
            return;
        }
        memcpy(hash, r->by.hash.bytes, LDG_DIGEST_LEN);
        rc = ldg_store_block_by_hash(s->store, hash, &blk, &len, &h);
    } else {
        ldg_tip t;
        ldg_store_tip(s->store, &t);
        h = r->which_by == fwl_GetBlockReq_height_tag ? r->by.height : t.height; /* none: latest */
        rc = ldg_store_block_by_height(s->store, h, &blk, &len, hash);
    }
    if (rc) {
        node_rpc_send_error(c, id, rc, "block: %s", node_strerror(rc));
        return;
    }
    fwl_Response *resp = node_rpc_new_resp(&s->rpc, id, fwl_Response_get_block_tag);
    memcpy(resp->resp.get_block.block_hash.bytes, hash, LDG_DIGEST_LEN);
    resp->resp.get_block.block_hash.size = LDG_DIGEST_LEN;
    bytes_arg b = {blk, len};
    resp->resp.get_block.block.funcs.encode = enc_bytes;
    resp->resp.get_block.block.arg = &b;
    node_rpc_send_resp(c, resp);
    free(blk);
}

/* ---------------------------------------------------------------------------------------- */
/* Answers written by hand: Response{id, <member>: body}                                    */

/* Writes the fields of a Response member; called once to size it, once to write it. */
typedef bool (*body_fn)(pb_ostream_t *os, const void *ctx);

static bool put_framed(pb_ostream_t *os, uint64_t id, uint32_t tag, body_fn body,
                       const void *ctx)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    return body(&sz, ctx) && pb_encode_tag(os, PB_WT_VARINT, fwl_Response_id_tag) &&
           pb_encode_varint(os, id) && pb_encode_tag(os, PB_WT_STRING, tag) &&
           pb_encode_varint(os, sz.bytes_written) && body(os, ctx);
}

/* Send it as one frame; an answer that cannot be encoded (a bug) closes the connection. */
static void send_framed(client *c, uint64_t id, uint32_t tag, body_fn body, const void *ctx)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    uint8_t *p;
    if (!put_framed(&sz, id, tag, body, ctx)) {
        node_rpc_close_conn(c);
    } else if ((p = node_rpc_frame_begin(c, sz.bytes_written))) {
        pb_ostream_t os = pb_ostream_from_buffer(p, sz.bytes_written);
        put_framed(&os, id, tag, body, ctx);
        node_rpc_frame_end(c, sz.bytes_written);
    }
}

/* A file hash a request names: a known algorithm and a digest of its length, or an error
 * answer naming what is wrong (false). */
static bool file_hash_ok(client *c, uint64_t id, bool has, const fwl_Hash *fh)
{
    if (!has) {
        node_rpc_send_error(c, id, LDG_EINVALID, "file_hash is required");
        return false;
    }
    const ldg_hash_impl *h = ldg_hash_by_id(fh->alg);
    if (!h) {
        node_rpc_send_error(c, id, LDG_EUNKNOWN_ALG, "file_hash.alg: unknown hash algorithm %u",
                            fh->alg);
        return false;
    }
    if (fh->digest.size != h->digest_len) {
        node_rpc_send_error(c, id, LDG_EINVALID, "file_hash.digest: %s digests are %zu bytes, "
                            "got %u", h->name, h->digest_len, (unsigned)fh->digest.size);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* GetRelease                                                                                */

/* The hot read: the stored ReleaseRecord bytes are forwarded as they are, framed by hand
 * with nanopb's stream primitives (Response{id, get_release{record, at_height}}) instead of
 * a decode and a re-encode of the large record struct. */
typedef struct {
    const uint8_t *rec; /* NULL: none (a proven absence) */
    size_t rec_len;
    uint64_t at;
    const node_proof *proof; /* NULL: none asked */
} release_answer;

static bool put_release_body(pb_ostream_t *os, const void *ctx)
{
    const release_answer *a = ctx;
    return (!a->rec || (pb_encode_tag(os, PB_WT_STRING, fwl_GetReleaseResp_record_tag) &&
                        pb_encode_string(os, a->rec, a->rec_len))) &&
           pb_encode_tag(os, PB_WT_VARINT, fwl_GetReleaseResp_at_height_tag) &&
           pb_encode_varint(os, a->at) &&
           (!a->proof || node_proof_write(os, fwl_GetReleaseResp_proof_tag, a->proof));
}

/* The release and its proof (or the proof of its absence) from one snapshot. */
static int prove_release(server *s, const fwl_GetReleaseReq *r, uint8_t *rec, size_t cap,
                         size_t *rec_len, uint64_t *at, node_proof *p)
{
    ldg_tip t;
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = ldg_state_key_release(k, r->file_hash.alg, r->file_hash.digest.bytes,
                                      r->file_hash.digest.size);
    int rc = ldg_store_snapshot_begin(s->store);
    if (rc)
        return rc;
    if (!(rc = ldg_store_tip(s->store, &t))) {
        *at = t.height;
        rc = ldg_store_release_raw(s->store, r->file_hash.alg, r->file_hash.digest.bytes,
                                   r->file_hash.digest.size, rec, cap, rec_len, at);
        if (rc == LDG_ENOTFOUND)
            *rec_len = 0, rc = 0;
    }
    if (!rc && !(rc = node_proof_begin(p, s->store, t.height)))
        rc = node_proof_add(p, s->store, k, kl);
    ldg_store_snapshot_end(s->store);
    return rc;
}

void node__handle_get_release(server *s, client *c, uint64_t id, const fwl_GetReleaseReq *r)
{
    uint8_t rec[fwl_ReleaseRecord_size];
    size_t rec_len;
    uint64_t at;
    if (!file_hash_ok(c, id, r->has_file_hash, &r->file_hash))
        return;
    node_proof proof, *pf = r->prove ? &proof : NULL;
    int rc = pf ? prove_release(s, r, rec, sizeof rec, &rec_len, &at, pf)
                : ldg_store_release_raw(s->store, r->file_hash.alg, r->file_hash.digest.bytes,
                                        r->file_hash.digest.size, rec, sizeof rec, &rec_len, &at);
    if (rc) {
        node_rpc_send_error(c, id, rc, "release: %s", node_strerror(rc));
        if (pf)
            node_proof_free(pf);
        return;
    }
    release_answer a = {rec_len ? rec : NULL, rec_len, at, pf};
    send_framed(c, id, fwl_Response_get_release_tag, put_release_body, &a);
    if (pf)
        node_proof_free(pf);
}

/* ListReleases: records are encoded as they come out of the store, then framed. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} rec_buf;

static int collect_record(void *ctx, const fwl_ReleaseRecord *rec)
{
    rec_buf *rb = ctx;
    size_t size;
    if (!pb_get_encoded_size(&size, fwl_ReleaseRecord_fields, rec) ||
        node_buf_reserve(&rb->buf, &rb->cap, rb->len + size + 8))
        return LDG_ENOMEM;
    pb_ostream_t os = pb_ostream_from_buffer(rb->buf + rb->len, rb->cap - rb->len);
    /* tag 1 (records), wire type 2, then the length-prefixed submessage */
    if (!pb_encode_varint(&os, (fwl_ListReleasesResp_records_tag << 3) | 2) ||
        !pb_encode_varint(&os, size) || !pb_encode(&os, fwl_ReleaseRecord_fields, rec))
        return LDG_ENOMEM;
    rb->len += os.bytes_written;
    return 0;
}

static bool enc_raw(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    (void)f;
    const rec_buf *rb = *arg;
    return pb_write(st, rb->buf, rb->len);
}

static bool enc_proof(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    return node_proof_write(st, f->tag, *arg);
}

/* With prove: the page and the proof of the model's whole list, from one snapshot. */
static int list_proven(server *s, const fwl_ListReleasesReq *r, rec_buf *rb,
                       fwl_ListReleasesResp *lr, size_t *next_len, node_proof *p)
{
    uint8_t k[LDG_STATE_KEY_MAX];
    size_t kl = ldg_state_key_lines(k, r->hardware);
    int rc = ldg_store_snapshot_begin(s->store);
    if (rc)
        return rc;
    rc = ldg_store_list_releases(s->store, r->product, r->hardware, r->limit, r->after.bytes,
                                 r->after.size, collect_record, rb, lr->next.bytes, next_len,
                                 &lr->at_height);
    if (!rc && !(rc = node_proof_begin(p, s->store, lr->at_height)))
        rc = node_proof_add(p, s->store, k, kl);
    ldg_store_snapshot_end(s->store);
    return rc;
}

void node__handle_list(server *s, client *c, uint64_t id, const fwl_ListReleasesReq *r)
{
    rec_buf rb = {0};
    node_proof proof;
    memset(&proof, 0, sizeof proof);
    if (r->prove && !r->hardware[0]) {
        node_rpc_send_error(c, id, LDG_EINVALID, "list releases: prove needs hardware (the "
                            "proof is of a hardware model's list)");
        return;
    }
    fwl_Response *resp = node_rpc_new_resp(&s->rpc, id, fwl_Response_list_releases_tag);
    fwl_ListReleasesResp *lr = &resp->resp.list_releases;
    size_t next_len = 0;
    int rc = r->prove ? list_proven(s, r, &rb, lr, &next_len, &proof)
                      : ldg_store_list_releases(s->store, r->product, r->hardware, r->limit,
                                                r->after.bytes, r->after.size, collect_record,
                                                &rb, lr->next.bytes, &next_len, &lr->at_height);
    if (rc) {
        node_rpc_send_error(c, id, rc, "list releases: %s", node_strerror(rc));
    } else {
        lr->next.size = (pb_size_t)next_len;
        lr->records.funcs.encode = enc_raw;
        lr->records.arg = &rb;
        if (r->prove) {
            lr->proof.funcs.encode = enc_proof;
            lr->proof.arg = &proof;
        }
        node_rpc_send_resp(c, resp);
    }
    node_proof_free(&proof);
    free(rb.buf);
}

void node__handle_status(server *s, client *c, uint64_t id)
{
    ldg_tip t;
    ldg_store_tip(s->store, &t);
    fwl_Response *resp = node_rpc_new_resp(&s->rpc, id, fwl_Response_status_tag);
    fwl_StatusResp *st = &resp->resp.status;
    snprintf(st->chain_id, sizeof st->chain_id, "%s", s->g.chain_id);
    st->chain_hash_alg = s->g.hash_alg;
    st->height = t.height;
    memcpy(st->tip_hash.bytes, t.hash, LDG_DIGEST_LEN);
    st->tip_hash.size = LDG_DIGEST_LEN;
    st->tip_time_ms = t.time_ms;
    st->mempool = (uint32_t)(node_mempool_count(&s->mp) + node_mempool_verifying(&s->mp));
    st->releases = t.releases;
    snprintf(st->version, sizeof st->version, "%s", FWL_VERSION);
    node_chain_status(&s->ch, st);
    node_rpc_send_resp(c, resp);
}

void node__handle_nonce(server *s, client *c, uint64_t id, const fwl_NonceReq *r)
{
    uint64_t n;
    uint8_t kid[LDG_DIGEST_LEN];
    const ldg_sig_impl *im = r->has_key ? ldg_sig_by_id(r->key.alg) : NULL;
    if (!r->has_key) {
        node_rpc_send_error(c, id, LDG_EINVALID, "nonce: key is required");
        return;
    }
    if (!im) {
        node_rpc_send_error(c, id, LDG_EUNKNOWN_ALG, "nonce: key.alg: unknown signature "
                            "algorithm %u", r->key.alg);
        return;
    }
    if (r->key.key.size != im->pub_len) {
        node_rpc_send_error(c, id, LDG_EBADKEY, "nonce: key.key: %s keys are %zu bytes, got %u",
                            im->name, im->pub_len, (unsigned)r->key.key.size);
        return;
    }
    int rc = ldg_store_nonce(s->store, r->key.alg, r->key.key.bytes, r->key.key.size, &n);
    if (!rc && !ldg_key_id(&s->g, r->key.alg, r->key.key.bytes, r->key.key.size, kid)) {
        uint64_t p;
        if (node_mempool_pending_nonce(&s->mp, kid, &p) && p > n)
            n = p;
    }
    if (rc) {
        node_rpc_send_error(c, id, rc, "nonce: %s", node_strerror(rc));
        return;
    }
    fwl_Response *resp = node_rpc_new_resp(&s->rpc, id, fwl_Response_nonce_tag);
    resp->resp.nonce.last_nonce = n;
    node_rpc_send_resp(c, resp);
}

void node__handle_get_contract(server *s, client *c, uint64_t id, const fwl_GetContractReq *r)
{
    if (!r->name[0]) {
        node_rpc_send_error(c, id, LDG_EINVALID, "contract: name is required");
        return;
    }
    fwl_Response *resp = node_rpc_new_resp(&s->rpc, id, fwl_Response_get_contract_tag);
    int rc = r->version ? ldg_store_contract_version(s->store, r->name, r->version,
                                                     &resp->resp.get_contract.contract)
                        : ldg_store_contract(s->store, r->name, &resp->resp.get_contract.contract);
    if (rc) {
        node_rpc_send_error(c, id, rc, "contract %s: %s", r->name, node_strerror(rc));
        return;
    }
    resp->resp.get_contract.has_contract = true;
    node_rpc_send_resp(c, resp);
}

/* ---------------------------------------------------------------------------------------- */
/* GetLogProof: the release log's certified head and proofs against it                       */

typedef struct {
    const uint8_t *rec; /* NULL: no release asked */
    size_t rec_len;
    uint64_t leaf;
    uint8_t incl[LDG_MERKLE_MAX_DEPTH * LDG_DIGEST_LEN];
    size_t n_incl;
    uint8_t cons[LDG_LOG_PROOF_MAX * LDG_DIGEST_LEN];
    size_t n_cons;
    node_proof proof; /* the head: the tip's header and certificate, no state proofs */
    char why[96];     /* what an error refers to */
} log_answer;

static bool put_hashes(pb_ostream_t *os, uint32_t tag, const uint8_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!pb_encode_tag(os, PB_WT_STRING, tag) ||
            !pb_encode_string(os, h + i * LDG_DIGEST_LEN, LDG_DIGEST_LEN))
            return false;
    return true;
}

static bool put_log_body(pb_ostream_t *os, const void *ctx)
{
    const log_answer *a = ctx;
    if (a->rec && (!pb_encode_tag(os, PB_WT_STRING, fwl_GetLogProofResp_record_bytes_tag) ||
                   !pb_encode_string(os, a->rec, a->rec_len) ||
                   !pb_encode_tag(os, PB_WT_VARINT, fwl_GetLogProofResp_leaf_index_tag) ||
                   !pb_encode_varint(os, a->leaf)))
        return false;
    return put_hashes(os, fwl_GetLogProofResp_inclusion_tag, a->incl, a->n_incl) &&
           put_hashes(os, fwl_GetLogProofResp_consistency_tag, a->cons, a->n_cons) &&
           node_proof_write(os, fwl_GetLogProofResp_proof_tag, &a->proof);
}

/* The release's latest record (the revoked one once revoked: the newer leaf) and its
 * inclusion in the log of size `size`. */
static int log_release(server *s, const fwl_Hash *fh, uint64_t size, log_answer *a,
                       uint8_t *rec, size_t cap)
{
    uint64_t pub, rev, at;
    int rc = ldg_store_log_leaves(s->store, fh->alg, fh->digest.bytes, fh->digest.size, &pub,
                                  &rev);
    a->leaf = rev != LDG_LOG_NONE ? rev : pub;
    if (!rc && a->leaf == LDG_LOG_NONE)
        rc = LDG_ENOTFOUND; /* published before this store had a log */
    if (rc) {
        snprintf(a->why, sizeof a->why, "no such release in the log");
        return rc;
    }
    if (!(rc = ldg_store_release_raw(s->store, fh->alg, fh->digest.bytes, fh->digest.size, rec,
                                     cap, &a->rec_len, &at)))
        rc = ldg_store_log_inclusion(s->store, a->leaf, size, a->incl, LDG_MERKLE_MAX_DEPTH,
                                     &a->n_incl);
    /* Every leaf the store holds is under the tip's header: anything else is the store's. */
    if (rc == LDG_EINVALID || rc == LDG_ENOTFOUND)
        rc = LDG_ESTORE;
    a->rec = rc ? NULL : rec;
    return rc;
}

/* The head and every proof asked for, from one snapshot. */
static int log_gather(server *s, const fwl_GetLogProofReq *r, log_answer *a, uint8_t *rec,
                      size_t cap)
{
    ldg_tip t;
    int rc = ldg_store_snapshot_begin(s->store);
    if (rc)
        return rc;
    if (!(rc = ldg_store_tip(s->store, &t)) &&
        (rc = node_proof_begin(&a->proof, s->store, t.height)) == LDG_ENOTFOUND)
        snprintf(a->why, sizeof a->why, "no block yet");
    uint64_t size = a->proof.cert.hdr.log_size;
    if (!rc && r->from_size > size) {
        rc = LDG_EINVALID;
        snprintf(a->why, sizeof a->why, "from_size %" PRIu64 " is above the log's size %" PRIu64
                 " at height %" PRIu64, r->from_size, size, t.height);
    }
    if (!rc && r->has_file_hash)
        rc = log_release(s, &r->file_hash, size, a, rec, cap);
    if (!rc && r->from_size &&
        (rc = ldg_store_log_consistency(s->store, r->from_size, size, a->cons, LDG_LOG_PROOF_MAX,
                                        &a->n_cons)))
        rc = rc == LDG_EINVALID ? LDG_ESTORE : rc;
    ldg_store_snapshot_end(s->store);
    return rc;
}

void node__handle_get_log_proof(server *s, client *c, uint64_t id, const fwl_GetLogProofReq *r)
{
    uint8_t rec[fwl_ReleaseRecord_size];
    if (r->has_file_hash && !file_hash_ok(c, id, true, &r->file_hash))
        return;
    log_answer *a = calloc(1, sizeof *a); /* proofs and a certificate: kept off the stack */
    if (!a) {
        node_rpc_send_error(c, id, LDG_ENOMEM, "log proof: %s", node_strerror(LDG_ENOMEM));
        return;
    }
    int rc = log_gather(s, r, a, rec, sizeof rec);
    if (rc)
        node_rpc_send_error(c, id, rc, "log proof: %s", a->why[0] ? a->why : node_strerror(rc));
    else
        send_framed(c, id, fwl_Response_get_log_proof_tag, put_log_body, a);
    node_proof_free(&a->proof);
    free(a);
}
