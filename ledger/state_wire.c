/*
 * fwl.StateProof on the wire: written with nanopb's stream primitives straight from a
 * proof (the node's side), read with nanopb into a proof whose keys and values point into
 * the received bytes (the verifier's side).
 */
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "ledger/internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                  */

static bool put_bytes(pb_ostream_t *os, uint32_t tag, const uint8_t *b, size_t n)
{
    return pb_encode_tag(os, PB_WT_STRING, tag) && pb_encode_string(os, b, n);
}

static bool put_varint(pb_ostream_t *os, uint32_t tag, uint64_t v)
{
    return !v || (pb_encode_tag(os, PB_WT_VARINT, tag) && pb_encode_varint(os, v));
}

static bool put_step(pb_ostream_t *os, const ldg_state_step *st)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    for (int pass = 0; pass < 2; pass++) {
        pb_ostream_t *o = pass ? os : &sz;
        if (pass && (!pb_encode_tag(os, PB_WT_STRING, fwl_StateProof_steps_tag) ||
                     !pb_encode_varint(os, sz.bytes_written)))
            return false;
        if (!put_varint(o, fwl_StateStep_bit_tag, st->bit) ||
            !put_bytes(o, fwl_StateStep_sibling_tag, st->sibling, LDG_DIGEST_LEN))
            return false;
    }
    return true;
}

static bool put_leaf(pb_ostream_t *os, const ldg_state_leaf *l)
{
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    for (int pass = 0; pass < 2; pass++) {
        pb_ostream_t *o = pass ? os : &sz;
        if (pass && (!pb_encode_tag(os, PB_WT_STRING, fwl_StateProof_leaves_tag) ||
                     !pb_encode_varint(os, sz.bytes_written)))
            return false;
        if (!put_bytes(o, fwl_StateLeaf_key_tag, l->key, l->key_len) ||
            !put_bytes(o, fwl_StateLeaf_value_tag, l->value, l->value_len))
            return false;
    }
    return true;
}

static bool put_body(pb_ostream_t *o, const uint8_t *prefix, size_t pl, const ldg_state_proof *p)
{
    if (!put_bytes(o, fwl_StateProof_prefix_tag, prefix, pl))
        return false;
    for (size_t i = 0; i < p->n_steps; i++)
        if (!put_step(o, &p->steps[i]))
            return false;
    for (size_t i = 0; i < p->n_leaves; i++)
        if (!put_leaf(o, &p->leaves[i]))
            return false;
    if (!put_varint(o, fwl_StateProof_witness_tag, (uint64_t)p->witness))
        return false;
    if (p->witness == LDG_STATE_WITNESS_NODE)
        return put_varint(o, fwl_StateProof_witness_bit_tag, p->w_bit) &&
               put_bytes(o, fwl_StateProof_witness_prefix_tag, p->w_prefix, (p->w_bit + 7u) / 8) &&
               put_bytes(o, fwl_StateProof_witness_left_tag, p->w_left, LDG_DIGEST_LEN) &&
               put_bytes(o, fwl_StateProof_witness_right_tag, p->w_right, LDG_DIGEST_LEN);
    if (p->witness == LDG_STATE_WITNESS_LEAF)
        return put_bytes(o, fwl_StateProof_witness_key_tag, p->w_key, p->w_key_len) &&
               put_bytes(o, fwl_StateProof_witness_value_hash_tag, p->w_vhash, LDG_DIGEST_LEN);
    return true;
}

int ldg_state_proof_encode(pb_ostream_t *os, uint32_t tag, const uint8_t *prefix, size_t pl,
                           const ldg_state_proof *p)
{
    for (size_t i = 0; i < p->n_leaves; i++)
        if (!p->leaves[i].value && p->leaves[i].value_len)
            return LDG_EINVALID;
    pb_ostream_t sz = PB_OSTREAM_SIZING;
    if (!put_body(&sz, prefix, pl, p))
        return LDG_EINVALID;
    if (!pb_encode_tag(os, PB_WT_STRING, tag) || !pb_encode_varint(os, sz.bytes_written) ||
        !put_body(os, prefix, pl, p))
        return LDG_ETOOBIG;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Decoding                                                                                  */

typedef struct {
    ldg_state_proof_dec *d;
    uint32_t alg;
    int err;                /* why a callback failed */
    const uint8_t *buf;     /* the input: every borrowed key and value lies inside it */
    size_t len;
    ldg_state_leaf *leaf;   /* the leaf being read */
} dec_ctx;

/* Does st read from the input itself? A length-delimited field does; nanopb hands a scalar
 * of the wrong wire type over from a copy on its stack, which must not be borrowed (as in
 * ledger/block.c; tests/fuzz/crashes/README.md). */
static bool in_input(const dec_ctx *c, const pb_istream_t *st)
{
    const uint8_t *p = st->state;
    return p >= c->buf && p <= c->buf + c->len && st->bytes_left <= (size_t)(c->buf + c->len - p);
}

static bool get_step(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    dec_ctx *c = *arg;
    ldg_state_proof_dec *d = c->d;
    fwl_StateStep s = fwl_StateStep_init_zero;
    if (!pb_decode(st, fwl_StateStep_fields, &s))
        return c->err = LDG_EMALFORMED, false;
    if (s.sibling.size != LDG_DIGEST_LEN || s.bit >= 8 * LDG_STATE_KEY_MAX)
        return c->err = LDG_EMALFORMED, false;
    if (d->p.n_steps == LDG_STATE_STEPS_MAX)
        return c->err = LDG_ETOOBIG, false;
    if (d->p.n_steps == d->cap_steps) {
        size_t cap = d->cap_steps ? 2 * d->cap_steps : 32;
        ldg_state_step *n = realloc(d->steps, cap * sizeof *n);
        if (!n)
            return c->err = LDG_ENOMEM, false;
        d->steps = n, d->cap_steps = cap;
    }
    d->steps[d->p.n_steps].bit = (uint16_t)s.bit;
    memcpy(d->steps[d->p.n_steps++].sibling, s.sibling.bytes, LDG_DIGEST_LEN);
    return true;
}

/* A bytes field read in place: the stream is a buffer stream (ldg_state_proof_decode's),
 * whose state is the read position. */
static bool get_value(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    dec_ctx *c = *arg;
    ldg_state_leaf *l = c->leaf;
    if (!in_input(c, st))
        return false;
    l->value = st->state;
    l->value_len = st->bytes_left;
    return l->value_len <= LDG_STATE_VALUE_MAX && pb_read(st, NULL, st->bytes_left);
}

static bool get_leaf(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    dec_ctx *c = *arg;
    ldg_state_proof_dec *d = c->d;
    if (d->p.n_leaves == LDG_STATE_LEAVES_MAX)
        return c->err = LDG_ETOOBIG, false;
    if (d->p.n_leaves == d->cap_leaves) {
        size_t cap = d->cap_leaves ? 2 * d->cap_leaves : 16;
        ldg_state_leaf *n = realloc(d->leaves, cap * sizeof *n);
        if (!n)
            return c->err = LDG_ENOMEM, false;
        d->leaves = n, d->cap_leaves = cap;
    }
    ldg_state_leaf *l = &d->leaves[d->p.n_leaves];
    memset(l, 0, sizeof *l);
    /* The key is read in place too: its bytes are in the buffer right after its tag. */
    fwl_StateLeaf s = fwl_StateLeaf_init_zero;
    s.value.funcs.decode = get_value;
    s.value.arg = c;
    c->leaf = l;
    const uint8_t *start = st->state;
    size_t left = st->bytes_left;
    if (!in_input(c, st) || !pb_decode(st, fwl_StateLeaf_fields, &s) || !l->value ||
        s.key.size == 0)
        return c->err = LDG_EMALFORMED, false;
    /* Find the key's bytes in the buffer: the decoded copy is in s, but the leaf keeps a
     * pointer, and s dies here. */
    const uint8_t *k = memmem(start, left, s.key.bytes, s.key.size);
    if (!k)
        return c->err = LDG_EMALFORMED, false;
    l->key = k;
    l->key_len = s.key.size;
    size_t n;
    const uint8_t *parts[1] = {l->value};
    if (ldg_hash(c->alg, parts, &l->value_len, 1, l->vhash, &n))
        return c->err = LDG_EUNKNOWN_ALG, false;
    d->p.n_leaves++;
    return true;
}

int ldg_state_proof_decode(uint32_t alg, const uint8_t *buf, size_t len, ldg_state_proof_dec *d)
{
    memset(d, 0, sizeof *d);
    if (!ldg_hash_by_id(alg))
        return LDG_EUNKNOWN_ALG;
    fwl_StateProof *s = calloc(1, sizeof *s);
    if (!s)
        return LDG_ENOMEM;
    dec_ctx c = {d, alg, 0, buf, len, NULL};
    s->steps.funcs.decode = get_step;
    s->steps.arg = &c;
    s->leaves.funcs.decode = get_leaf;
    s->leaves.arg = &c;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    int rc = 0;
    if (!pb_decode(&st, fwl_StateProof_fields, s))
        rc = c.err ? c.err : LDG_EMALFORMED;
    else if (s->prefix.size == 0 || s->witness > LDG_STATE_EMPTY ||
             s->witness_bit >= 8 * LDG_STATE_KEY_MAX ||
             /* copied below into digest-sized arrays, whichever witness is used */
             s->witness_left.size > LDG_DIGEST_LEN || s->witness_right.size > LDG_DIGEST_LEN ||
             s->witness_value_hash.size > LDG_DIGEST_LEN ||
             (s->witness == LDG_STATE_WITNESS_NODE &&
              (s->witness_prefix.size != (s->witness_bit + 7) / 8 ||
               s->witness_left.size != LDG_DIGEST_LEN || s->witness_right.size != LDG_DIGEST_LEN)) ||
             (s->witness == LDG_STATE_WITNESS_LEAF &&
              (s->witness_key.size == 0 || s->witness_value_hash.size != LDG_DIGEST_LEN)))
        rc = LDG_EMALFORMED;
    if (!rc) {
        memcpy(d->prefix, s->prefix.bytes, s->prefix.size);
        d->prefix_len = s->prefix.size;
        ldg_state_proof *p = &d->p;
        p->steps = d->steps;
        p->leaves = d->leaves;
        p->witness = (int)s->witness;
        p->w_bit = (uint16_t)s->witness_bit;
        memcpy(p->w_prefix, s->witness_prefix.bytes, s->witness_prefix.size);
        memcpy(p->w_left, s->witness_left.bytes, s->witness_left.size);
        memcpy(p->w_right, s->witness_right.bytes, s->witness_right.size);
        memcpy(p->w_key, s->witness_key.bytes, s->witness_key.size);
        p->w_key_len = s->witness_key.size;
        memcpy(p->w_vhash, s->witness_value_hash.bytes, s->witness_value_hash.size);
    }
    free(s);
    if (rc)
        ldg_state_proof_dec_free(d);
    return rc;
}

void ldg_state_proof_dec_free(ldg_state_proof_dec *d)
{
    free(d->steps);
    free(d->leaves);
    memset(d, 0, sizeof *d);
}
