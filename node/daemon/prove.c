/* The Proof of an answer (see prove.h). */
#include <stdlib.h>
#include <string.h>

#include "node/daemon/prove.h"

struct node_proof_part {
    uint8_t prefix[LDG_STATE_KEY_MAX];
    size_t plen;
    ldg_state_proof_buf b;
};

int node_proof_begin(node_proof *p, ldg_store *s, uint64_t height)
{
    memset(p, 0, sizeof *p);
    return ldg_store_block_cert(s, height, &p->cert);
}

int node_proof_add(node_proof *p, ldg_store *s, const uint8_t *prefix, size_t plen)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->parts[i].plen == plen && !memcmp(p->parts[i].prefix, prefix, plen))
            return 0;
    if (plen == 0 || plen > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        struct node_proof_part *np = realloc(p->parts, cap * sizeof *np);
        if (!np)
            return LDG_ENOMEM;
        p->parts = np, p->cap = cap;
    }
    struct node_proof_part *part = &p->parts[p->n];
    memcpy(part->prefix, prefix, plen);
    part->plen = plen;
    int rc = ldg_store_prove(s, prefix, plen, NODE_PROOF_LEAVES_MAX - p->leaves, &part->b);
    if (rc)
        return rc;
    p->leaves += part->b.p.n_leaves;
    p->n++;
    return 0;
}

static bool put_body(pb_ostream_t *os, const node_proof *p)
{
    if (!pb_encode_tag(os, PB_WT_STRING, fwl_Proof_header_tag) ||
        !pb_encode_string(os, p->cert.hdr_raw, p->cert.hdr_len))
        return false;
    for (size_t i = 0; i < p->cert.n_commit; i++)
        if (!pb_encode_tag(os, PB_WT_STRING, fwl_Proof_commit_tag) ||
            !pb_encode_submessage(os, fwl_Signature_fields, &p->cert.commit[i]))
            return false;
    if (p->cert.commit_round && (!pb_encode_tag(os, PB_WT_VARINT, fwl_Proof_commit_round_tag) ||
                                 !pb_encode_varint(os, p->cert.commit_round)))
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (ldg_state_proof_encode(os, fwl_Proof_state_tag, p->parts[i].prefix, p->parts[i].plen,
                                   &p->parts[i].b.p))
            return false;
    return true;
}

bool node_proof_write(pb_ostream_t *os, uint32_t tag, const node_proof *p)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    return put_body(&sz, p) && pb_encode_tag(os, PB_WT_STRING, tag) &&
           pb_encode_varint(os, sz.bytes_written) && put_body(os, p);
}

void node_proof_free(node_proof *p)
{
    for (size_t i = 0; i < p->n; i++)
        ldg_state_proof_buf_free(&p->parts[i].b);
    free(p->parts);
    ldg_block_free(&p->cert);
    memset(p, 0, sizeof *p);
}
