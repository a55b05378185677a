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

/* Proof fields 1..3: the header and its certificate. */
static bool put_head(pb_ostream_t *os, const ldg_block *cert)
{
    if (!pb_encode_tag(os, PB_WT_STRING, fwl_Proof_header_tag) ||
        !pb_encode_string(os, cert->hdr_raw, cert->hdr_len))
        return false;
    for (size_t i = 0; i < cert->n_commit; i++)
        if (!pb_encode_tag(os, PB_WT_STRING, fwl_Proof_commit_tag) ||
            !pb_encode_submessage(os, fwl_Signature_fields, &cert->commit[i]))
            return false;
    return !cert->commit_round || (pb_encode_tag(os, PB_WT_VARINT, fwl_Proof_commit_round_tag) &&
                                   pb_encode_varint(os, cert->commit_round));
}

/* Proof field 4, once per part. */
static bool put_parts(pb_ostream_t *os, const node_proof *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (ldg_state_proof_encode(os, fwl_Proof_state_tag, p->parts[i].prefix, p->parts[i].plen,
                                   &p->parts[i].b.p))
            return false;
    return true;
}

static bool put_body(pb_ostream_t *os, const node_proof *p)
{
    return put_head(os, &p->cert) && put_parts(os, p);
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

/* ---------------------------------------------------------------------------------------- */
/* The cache of encoded parts                                                                */

typedef struct {
    uint8_t *bytes;
    size_t len;
} cached_group;

int node_proof_cache_init(node_proof_cache *pc)
{
    memset(pc, 0, sizeof *pc);
    return hmap_init(&pc->groups, 256);
}

static bool drop_group(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    cached_group *g = *val;
    free(g->bytes);
    free(g);
    return true;
}

static void drop_groups(node_proof_cache *pc)
{
    hmap_each(&pc->groups, drop_group, NULL);
    pc->bytes = 0;
}

/* Forget what another height's proofs held. */
static void cache_at(node_proof_cache *pc, uint64_t height)
{
    if (pc->height == height)
        return;
    drop_groups(pc);
    free(pc->head);
    pc->head = NULL;
    pc->head_len = 0;
    pc->height = height;
}

void node_proof_cache_free(node_proof_cache *pc)
{
    drop_groups(pc);
    hmap_free(&pc->groups);
    free(pc->head);
    memset(pc, 0, sizeof *pc);
}

/* Encode with a sizing pass into a new buffer. */
static int encode_new(bool (*put)(pb_ostream_t *, const void *), const void *arg, uint8_t **out,
                      size_t *len)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    if (!put(&sz, arg))
        return LDG_ETOOBIG;
    if (!(*out = malloc(sz.bytes_written ? sz.bytes_written : 1)))
        return LDG_ENOMEM;
    pb_ostream_t os = pb_ostream_from_buffer(*out, sz.bytes_written);
    if (!put(&os, arg)) {
        free(*out);
        *out = NULL;
        return LDG_ETOOBIG;
    }
    *len = os.bytes_written;
    return 0;
}

static bool put_head_v(pb_ostream_t *os, const void *cert) { return put_head(os, cert); }
static bool put_parts_v(pb_ostream_t *os, const void *p) { return put_parts(os, p); }

int node_proof_cache_head(node_proof_cache *pc, ldg_store *s, uint64_t height,
                          const uint8_t **b, size_t *len)
{
    cache_at(pc, height);
    if (!pc->head) {
        ldg_block cert;
        int rc = ldg_store_block_cert(s, height, &cert);
        if (!rc)
            rc = encode_new(put_head_v, &cert, &pc->head, &pc->head_len);
        ldg_block_free(&cert);
        if (rc)
            return rc;
    }
    *b = pc->head;
    *len = pc->head_len;
    return 0;
}

int node_proof_cache_group(node_proof_cache *pc, uint64_t height, const char *name,
                           node_proof_fill fill, void *ctx, const uint8_t **b, size_t *len)
{
    uint8_t key[LDG_HASH_MAX];
    size_t kl, nl = strlen(name);
    const uint8_t *part = (const uint8_t *)name;
    int rc = ldg_hash(LDG_HASH_SHA256, &part, &nl, 1, key, &kl);
    if (rc)
        return rc;
    cache_at(pc, height);
    cached_group *g = hmap_get(&pc->groups, key);
    if (!g) {
        node_proof p;
        memset(&p, 0, sizeof p);
        if (pc->bytes > NODE_PROOF_CACHE_BYTES) /* full: start over */
            drop_groups(pc);
        if (!(g = calloc(1, sizeof *g)))
            return LDG_ENOMEM;
        if (!(rc = fill(ctx, &p)))
            rc = encode_new(put_parts_v, &p, &g->bytes, &g->len);
        node_proof_free(&p);
        if (!rc && (rc = hmap_put(&pc->groups, key, g)))
            free(g->bytes);
        if (rc) {
            free(g);
            return rc;
        }
        pc->bytes += g->len;
    }
    *b = g->bytes;
    *len = g->len;
    return 0;
}
