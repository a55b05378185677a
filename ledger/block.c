/*
 * Blocks: hashing, encoding, decoding and commit certificates.
 *
 * A Block's transactions are a repeated bytes field decoded by callback: the decoder keeps
 * borrowed slices into the caller's buffer instead of copying up to LDG_BLOCK_MAX_BYTES.
 */
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/ledger.h"
#include "ledger/internal.h"

int ldg_block_hash(const ldg_genesis *g, const uint8_t *hdr, size_t hdr_len,
                   uint8_t out[LDG_DIGEST_LEN])
{
    uint8_t h[LDG_HASH_MAX];
    size_t hl;
    int rc = ldg_hash(g->hash_alg, &hdr, &hdr_len, 1, h, &hl);
    if (!rc)
        memcpy(out, h, LDG_DIGEST_LEN);
    return rc;
}

int ldg_commit_digest(const ldg_genesis *g, uint64_t height, uint32_t round, uint8_t type,
                      const uint8_t block_hash[LDG_DIGEST_LEN], uint8_t out[LDG_DIGEST_LEN])
{
    uint8_t fixed[13];
    ldg_be64(fixed, height);
    ldg_be32(fixed + 8, round);
    fixed[12] = type;
    return ldg__domain_digest(g, LDG_COMMIT_DOMAIN, fixed, sizeof fixed, block_hash,
                              LDG_DIGEST_LEN, out);
}

int ldg_proposal_digest(const ldg_genesis *g, uint64_t height, uint32_t round,
                        int32_t valid_round, const uint8_t block_hash[LDG_DIGEST_LEN],
                        uint8_t out[LDG_DIGEST_LEN])
{
    uint8_t fixed[16];
    ldg_be64(fixed, height);
    ldg_be32(fixed + 8, round);
    ldg_be32(fixed + 12, (uint32_t)(valid_round + 1));
    return ldg__domain_digest(g, LDG_PROPOSAL_DOMAIN, fixed, sizeof fixed, block_hash,
                              LDG_DIGEST_LEN, out);
}

int ldg_validator_index(const ldg_genesis *g, uint32_t alg, const uint8_t *key, size_t len)
{
    for (size_t v = 0; v < g->n_validators; v++)
        if (g->validators[v].alg == alg && g->validators[v].len == len &&
            !memcmp(g->validators[v].key, key, len))
            return (int)v;
    return -1;
}

int ldg_block_builder_check(const ldg_genesis *g, uint32_t proposer, int32_t valid_round,
                            const ldg_pubkey *builder)
{
    if (valid_round < -1 || proposer >= g->n_validators)
        return LDG_EINVALID;
    int v = ldg_validator_index(g, builder->alg, builder->key, builder->len);
    if (v < 0 || (valid_round == -1 && (uint32_t)v != proposer))
        return LDG_EBLOCK;
    return LDG_OK;
}

int ldg_block_time_check(uint64_t time_ms, uint64_t prev_time_ms, uint64_t now_ms,
                         uint64_t drift_ms, int32_t valid_round)
{
    if (valid_round < -1)
        return LDG_EINVALID;
    if (time_ms < prev_time_ms)
        return LDG_EBLOCK;
    if (valid_round >= 0)
        return LDG_OK; /* a re-proposal: found timely when it was fresh (ledger.h) */
    /* The window [now - drift, now + drift], clamped to the range of uint64_t rather than
     * wrapped: a clock near either end must not turn the window inside out. */
    uint64_t lo = now_ms > drift_ms ? now_ms - drift_ms : 0;
    uint64_t hi = now_ms > UINT64_MAX - drift_ms ? UINT64_MAX : now_ms + drift_ms;
    return time_ms < lo || time_ms > hi ? LDG_ETIME : LDG_OK;
}

int ldg_commit_verify(const ldg_genesis *g, uint64_t height, uint32_t round,
                      const uint8_t block_hash[LDG_DIGEST_LEN], const fwl_Signature *commit,
                      size_t n_commit)
{
    uint8_t digest[LDG_DIGEST_LEN];
    bool seen[LDG_MAX_VALIDATORS] = {false};
    uint64_t total = 0, signed_power = 0;
    int rc;
    for (size_t v = 0; v < g->n_validators; v++)
        total += g->validator_power[v];
    if ((rc = ldg_commit_digest(g, height, round, LDG_VOTE_PRECOMMIT, block_hash, digest)))
        return rc;
    for (size_t i = 0; i < n_commit; i++) {
        const fwl_Signature *s = &commit[i];
        int v = ldg_validator_index(g, s->signer.alg, s->signer.key.bytes, s->signer.key.size);
        if (v < 0 || seen[v])
            return LDG_EBLOCK; /* not a validator, or the same one twice */
        if ((rc = ldg_verify(s->signer.alg, s->signer.key.bytes, s->signer.key.size, digest,
                             s->sig.bytes, s->sig.size)))
            return LDG_EBADSIG;
        seen[v] = true;
        signed_power += g->validator_power[v];
    }
    return signed_power * 3 > total * 2 ? 0 : LDG_EBLOCK;
}

typedef struct {
    const uint8_t *const *txs;
    const size_t *lens;
    size_t n;
} enc_txs;

static bool encode_txs(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const enc_txs *e = *arg;
    for (size_t i = 0; i < e->n; i++)
        if (!pb_encode_tag_for_field(st, f) || !pb_encode_string(st, e->txs[i], e->lens[i]))
            return false;
    return true;
}

int ldg_block_encode(const uint8_t *hdr, size_t hdr_len, const uint8_t *const *txs,
                     const size_t *tx_lens, size_t n, const fwl_Signature *commit,
                     size_t n_commit, uint32_t commit_round, uint8_t **out, size_t *out_len)
{
    fwl_Block *b = calloc(1, sizeof *b);
    if (!b)
        return LDG_ENOMEM;
    if (hdr_len > sizeof b->header.bytes || n_commit > sizeof b->commit / sizeof *b->commit ||
        n > LDG_BLOCK_MAX_TXS) {
        free(b);
        return LDG_ETOOBIG;
    }
    memcpy(b->header.bytes, hdr, hdr_len);
    b->header.size = (pb_size_t)hdr_len;
    enc_txs e = {txs, tx_lens, n};
    b->txs.funcs.encode = encode_txs;
    b->txs.arg = &e;
    if (n_commit)
        memcpy(b->commit, commit, n_commit * sizeof *commit);
    b->commit_count = (pb_size_t)n_commit;
    b->commit_round = commit_round;

    size_t size;
    int rc = LDG_ETOOBIG;
    if (pb_get_encoded_size(&size, fwl_Block_fields, b) && size <= LDG_BLOCK_MAX_BYTES) {
        uint8_t *buf = malloc(size ? size : 1);
        rc = LDG_ENOMEM;
        if (buf) {
            pb_ostream_t os = pb_ostream_from_buffer(buf, size);
            if (pb_encode(&os, fwl_Block_fields, b)) {
                *out = buf;
                *out_len = os.bytes_written;
                rc = 0;
            } else {
                free(buf);
                rc = LDG_ETOOBIG;
            }
        }
    }
    free(b);
    return rc;
}

typedef struct {
    ldg_block *b;
    size_t cap;
    int err;
    const uint8_t *buf; /* the input: every borrowed slice must lie inside it */
    size_t len;
} dec_txs;

static bool decode_tx(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    dec_txs *d = *arg;
    ldg_block *b = d->b;
    if (st->bytes_left > LDG_TX_MAX || b->n_txs >= LDG_BLOCK_MAX_TXS) {
        d->err = LDG_ETOOBIG;
        return false;
    }
    if (b->n_txs == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        const uint8_t **p = realloc(b->tx_raw, cap * sizeof *p);
        if (p)
            b->tx_raw = p;
        size_t *l = p ? realloc(b->tx_len, cap * sizeof *l) : NULL;
        if (!p || !l) {
            d->err = LDG_ENOMEM;
            return false;
        }
        b->tx_len = l;
        d->cap = cap;
    }
    /* A buffer stream's state is the read position: borrow the slice, then skip it. Only a
     * length-delimited field reads from the input itself; nanopb hands a scalar of the
     * wrong wire type over from a copy on its stack, which must not be borrowed. */
    const uint8_t *p = st->state;
    if (p < d->buf || p > d->buf + d->len || st->bytes_left > (size_t)(d->buf + d->len - p)) {
        d->err = LDG_EMALFORMED;
        return false;
    }
    b->tx_raw[b->n_txs] = p;
    b->tx_len[b->n_txs] = st->bytes_left;
    b->n_txs++;
    return pb_read(st, NULL, st->bytes_left);
}

int ldg_block_decode(const uint8_t *buf, size_t len, ldg_block *out)
{
    memset(out, 0, sizeof *out);
    if (len > LDG_BLOCK_MAX_BYTES)
        return LDG_ETOOBIG;
    fwl_Block *b = calloc(1, sizeof *b);
    if (!b)
        return LDG_ENOMEM;
    dec_txs d = {out, 0, 0, buf, len};
    b->txs.funcs.decode = decode_tx;
    b->txs.arg = &d;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    int rc = 0;
    if (!pb_decode(&st, fwl_Block_fields, b)) {
        rc = d.err ? d.err : ldg__pb_error(&st);
        goto out;
    }
    memcpy(out->hdr_raw, b->header.bytes, b->header.size);
    out->hdr_len = b->header.size;
    st = pb_istream_from_buffer(b->header.bytes, b->header.size);
    if (!pb_decode(&st, fwl_BlockHeader_fields, &out->hdr)) {
        rc = ldg__pb_error(&st);
        goto out;
    }
    memcpy(out->commit, b->commit, b->commit_count * sizeof *b->commit);
    out->n_commit = b->commit_count;
    out->commit_round = b->commit_round;
out:
    free(b);
    if (rc)
        ldg_block_free(out);
    return rc;
}

void ldg_block_free(ldg_block *b)
{
    if (!b)
        return;
    free(b->tx_raw);
    free(b->tx_len);
    b->tx_raw = NULL;
    b->tx_len = NULL;
    b->n_txs = 0;
}

int ldg_validators_hash(const ldg_genesis *g, uint8_t out[LDG_DIGEST_LEN])
{
    uint8_t buf[4 + LDG_MAX_VALIDATORS * (4 + 1 + LDG_PUBKEY_MAX + 8)], *p = buf, h[LDG_HASH_MAX];
    size_t hl, n = g->n_validators > LDG_MAX_VALIDATORS ? LDG_MAX_VALIDATORS : g->n_validators;
    ldg_be32(p, (uint32_t)n), p += 4;
    for (size_t i = 0; i < n; i++) {
        const ldg_pubkey *k = &g->validators[i];
        if (k->len > LDG_PUBKEY_MAX)
            return LDG_EINVALID;
        ldg_be32(p, k->alg), p += 4;
        *p++ = (uint8_t)k->len;
        memcpy(p, k->key, k->len), p += k->len;
        ldg_be64(p, g->validator_power[i]), p += 8;
    }
    const uint8_t *part = buf;
    size_t len = (size_t)(p - buf);
    int rc = ldg_hash(g->hash_alg, &part, &len, 1, h, &hl);
    if (!rc)
        memcpy(out, h, LDG_DIGEST_LEN);
    return rc;
}
