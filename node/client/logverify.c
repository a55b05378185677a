/*
 * The release log's verifier (issue 11; docs/protocol.md, Release log): a monitor or a
 * device checks a node's GetLogProof answer offline, against a trusted genesis. The answer's
 * Proof gives a certified header (fwl_proof_check), whose log_size and log_root are the head
 * the proofs are checked against: the inclusion of the release's record, and the consistency
 * of a checkpoint the caller kept with the head (RFC 9162 2.1.3.2 and 2.1.4.2, ledger/log.c).
 * Nothing here trusts the node: a proof either rebuilds the certified root or the answer is
 * refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "node/client/client.h"


/* The answer's record bytes and Proof, kept in place in the frame (a buffer stream). */
typedef struct {
    const uint8_t *rec, *proof;
    size_t rec_len, proof_len;
} log_parts;

static bool keep_part(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    log_parts *p = *arg;
    bool rec = f->tag == fwl_GetLogProofResp_record_bytes_tag;
    *(rec ? &p->rec : &p->proof) = st->state;
    *(rec ? &p->rec_len : &p->proof_len) = st->bytes_left;
    return pb_read(st, NULL, st->bytes_left);
}

static bool log_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    if (f->tag == fwl_Response_get_log_proof_tag) {
        fwl_GetLogProofResp *r = f->pData;
        r->record_bytes.funcs.decode = r->proof.funcs.decode = keep_part;
        r->record_bytes.arg = r->proof.arg = *arg;
    }
    return true;
}

/* A proof's i-th hash into path: every one is a chain hash. */
static bool put_hash(uint8_t *path, size_t i, pb_size_t size, const pb_byte_t *bytes)
{
    if (size != LDG_DIGEST_LEN)
        return false;
    memcpy(path + i * LDG_DIGEST_LEN, bytes, LDG_DIGEST_LEN);
    return true;
}

/* The head the answer's certified header names. */
static int head_of(const fwl_trust *tr, const log_parts *p, fwl_proven **pv, fwl_log_head *head,
                   char *why, size_t wl)
{
    int rc = fwl_proof_check(tr, p->proof, p->proof_len, pv, why, wl);
    if (rc)
        return rc;
    const fwl_BlockHeader *h = fwl_proven_header(*pv);
    if (!h->has_log_root || h->log_root.alg != tr->genesis->hash_alg ||
        h->log_root.digest.size != LDG_DIGEST_LEN)
        return node_fail(why, wl, NODE_ENOPROOF, "block %" PRIu64 "'s header names no release log",
                    h->height);
    head->height = h->height;
    memcpy(head->block_hash, fwl_proven_block_hash(*pv), LDG_DIGEST_LEN);
    head->log_size = h->log_size;
    memcpy(head->log_root, h->log_root.digest.bytes, LDG_DIGEST_LEN);
    return 0;
}

static bool same_hash(const fwl_Hash *a, const fwl_Hash *b)
{
    return a->alg == b->alg && a->digest.size == b->digest.size &&
           !memcmp(a->digest.bytes, b->digest.bytes, a->digest.size);
}

/* The record is the release asked for, and its leaf is leaf_index of the head's log. */
static int check_inclusion(uint32_t alg, const fwl_GetLogProofResp *r, const log_parts *p,
                           const fwl_Hash *asked, const fwl_log_head *head,
                           fwl_ReleaseRecord *rec, char *why, size_t wl)
{
    uint8_t leaf[LDG_HASH_MAX], path[LDG_MERKLE_MAX_DEPTH * LDG_DIGEST_LEN];
    if (!p->rec)
        return node_fail(why, wl, NODE_ENOPROOF, "the answer carries no record of the release");
    pb_istream_t st = pb_istream_from_buffer(p->rec, p->rec_len);
    memset(rec, 0, sizeof *rec);
    if (!pb_decode(&st, fwl_ReleaseRecord_fields, rec))
        return node_fail(why, wl, NODE_EPROTO, "the answer's release record does not decode");
    if (!rec->has_release || !rec->release.has_file_hash ||
        !same_hash(&rec->release.file_hash, asked))
        return node_fail(why, wl, NODE_EMISMATCH, "the answer's record is of another release");
    for (pb_size_t i = 0; i < r->inclusion_count; i++)
        if (!put_hash(path, i, r->inclusion[i].size, r->inclusion[i].bytes))
            return node_fail(why, wl, NODE_EPROTO, "inclusion proof hash %u is not %d bytes",
                        (unsigned)i, LDG_DIGEST_LEN);
    int rc = ldg_merkle_leaf(alg, p->rec, p->rec_len, leaf);
    if (rc)
        return rc;
    if (ldg_log_verify_inclusion(alg, leaf, r->leaf_index, head->log_size, path,
                                 r->inclusion_count, head->log_root))
        return node_fail(why, wl, NODE_ELOG, "the release's record is not leaf %" PRIu64 " of the "
                    "log of size %" PRIu64 " certified at height %" PRIu64, r->leaf_index,
                    head->log_size, head->height);
    return 0;
}

/* The head's log holds from's as its prefix. */
static int check_consistency(uint32_t alg, const fwl_GetLogProofResp *r,
                             const fwl_log_head *from, const fwl_log_head *head, char *why,
                             size_t wl)
{
    uint8_t path[LDG_LOG_PROOF_MAX * LDG_DIGEST_LEN];
    if (head->height < from->height)
        return node_fail(why, wl, NODE_ESTALE, "the node's certified head (height %" PRIu64 ") is "
                    "older than the checkpoint (height %" PRIu64 ")", head->height, from->height);
    if (head->height == from->height && memcmp(head->block_hash, from->block_hash, LDG_DIGEST_LEN))
        return node_fail(why, wl, NODE_ELOG, "the node's certified block at height %" PRIu64
                    " is not the checkpoint's: two histories", head->height);
    /* The same block names one log: a checkpoint of another size at it was altered (the
     * consistency proof below would only catch another root). */
    if (head->height == from->height && head->log_size != from->log_size)
        return node_fail(why, wl, NODE_ELOG, "block %" PRIu64 " names a log of size %" PRIu64
                    ", not the checkpoint's %" PRIu64, head->height, head->log_size,
                    from->log_size);
    if (from->log_size == 0)
        return 0; /* the empty log is a prefix of every log */
    for (pb_size_t i = 0; i < r->consistency_count; i++)
        if (!put_hash(path, i, r->consistency[i].size, r->consistency[i].bytes))
            return node_fail(why, wl, NODE_EPROTO, "consistency proof hash %u is not %d bytes",
                        (unsigned)i, LDG_DIGEST_LEN);
    if (ldg_log_verify_consistency(alg, from->log_size, head->log_size, from->log_root,
                                   head->log_root, path, r->consistency_count))
        return node_fail(why, wl, NODE_ELOG, "the log certified at height %" PRIu64 " (size %" PRIu64
                    ") does not extend the checkpoint's (size %" PRIu64 " at height %" PRIu64
                    "): history was rewritten", head->height, head->log_size, from->log_size,
                    from->height);
    return 0;
}

int fwl_verify_log(const fwl_trust *tr, const uint8_t *frame, size_t len, const fwl_Hash *asked,
                   const fwl_log_head *from, fwl_log_head *head, fwl_ReleaseRecord *rec,
                   uint64_t *leaf, char *why, size_t wl)
{
    if (!tr || !tr->genesis || !head)
        return LDG_EINVALID;
    fwl_Response *resp = calloc(1, sizeof *resp);
    fwl_ReleaseRecord *scratch = rec ? NULL : malloc(sizeof *scratch);
    log_parts parts = {NULL, NULL, 0, 0};
    fwl_proven *pv = NULL;
    int rc = resp && (rec || scratch) ? 0 : LDG_ENOMEM;
    if (!rc) {
        resp->cb_resp.funcs.decode = log_member;
        resp->cb_resp.arg = &parts;
        pb_istream_t st = pb_istream_from_buffer(frame, len);
        if (!pb_decode(&st, fwl_Response_fields, resp))
            rc = node_fail(why, wl, NODE_EPROTO, "the answer does not decode");
        else if (resp->which_resp == fwl_Response_error_tag)
            rc = node_fail(why, wl, resp->resp.error.code < 0 ? resp->resp.error.code : NODE_EPROTO,
                      "%s", resp->resp.error.message);
        else if (resp->which_resp != fwl_Response_get_log_proof_tag)
            rc = node_fail(why, wl, NODE_EPROTO, "not a GetLogProof answer");
    }
    const fwl_GetLogProofResp *r = resp ? &resp->resp.get_log_proof : NULL;
    uint32_t alg = tr->genesis->hash_alg;
    if (!rc)
        rc = head_of(tr, &parts, &pv, head, why, wl);
    if (!rc && asked)
        rc = check_inclusion(alg, r, &parts, asked, head, rec ? rec : scratch, why, wl);
    if (!rc && from)
        rc = check_consistency(alg, r, from, head, why, wl);
    if (!rc && leaf)
        *leaf = asked ? r->leaf_index : LDG_LOG_NONE;
    fwl_proven_free(pv);
    free(scratch);
    free(resp);
    return rc;
}
