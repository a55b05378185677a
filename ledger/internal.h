/* Declarations shared inside ledger/ only; not part of the public API. */
#ifndef FWL_LEDGER_INTERNAL_H
#define FWL_LEDGER_INTERNAL_H

#include <pb_decode.h>

#include "ledger/ledger.h"

static inline void ldg_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static inline void ldg_be64(uint8_t *p, uint64_t v)
{
    ldg_be32(p, (uint32_t)(v >> 32));
    ldg_be32(p + 4, (uint32_t)v);
}
static inline uint32_t ldg_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t ldg_rd64(const uint8_t *p)
{
    return (uint64_t)ldg_rd32(p) << 32 | ldg_rd32(p + 4);
}

/* The Merkle tree's interior node, H(0x01 || l || r), each digest_len bytes (ledger/merkle.c;
 * ledger/log.c builds the same tree). out may alias l or r. */
int ldg__merkle_node(const ldg_hash_impl *h, const uint8_t *l, const uint8_t *r, uint8_t *out);
/* Where RFC 6962 / RFC 9162 split a tree of n >= 2 leaves: the largest power of two below n. */
uint64_t ldg__merkle_split(uint64_t n);

/* H_chain(domain with its NUL || u8 len(chain_id) || chain_id || fixed || data): the shape of
 * every signed digest (txs, votes, proposals). */
int ldg__domain_digest(const ldg_genesis *g, const char *domain, const uint8_t *fixed,
                       size_t fixed_len, const uint8_t *data, size_t len,
                       uint8_t out[LDG_DIGEST_LEN]);

/* Bits of byte-string keys, shared by the state tree's hashes and proofs (state.c) and the
 * tree in the store (store_state.c, store_proof.c). Bit i of k, most significant first. */
int ldg__bit_of(const uint8_t *k, size_t i);
/* The first bit where a and b differ, or the shorter length in bits when one is a prefix
 * of the other. */
size_t ldg__lcp_bits(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);
/* The first `bit` bits of key as ceil(bit/8) bytes into out, the unused low bits zero (a
 * tree node's prefix); returns the byte count. */
size_t ldg__prefix_bytes(uint8_t *out, const uint8_t *key, size_t bit);

/* nanopb decode failure -> LDG_ETOOBIG (a field overflowed its bound) or LDG_EMALFORMED. */
int ldg__pb_error(pb_istream_t *st);
/* [A-Za-z0-9._+/-]+ */
bool ldg__ident_ok(const char *s);
/* A present hash whose algorithm is allowed at height and whose length matches it. */
int ldg__hash_check(const ldg_genesis *g, uint64_t height, bool has, const fwl_Hash *h);
/* A public key whose algorithm is allowed at height and whose length matches it. */
int ldg__key_check(const ldg_genesis *g, uint64_t height, const fwl_PublicKey *k);

/* A string field whose raw bytes ldg__wire_text_check refused: the message it belongs to
 * (its descriptor), its tag, and whether it holds a NUL byte (else it is not UTF-8). */
typedef struct {
    const pb_msgdesc_t *msg;
    uint32_t tag;
    bool nul;
} ldg__text_fault;

/* Every string field of the message `desc` encoded in buf[0..len), in nested messages too,
 * is well-formed UTF-8 (ldg_utf8_valid) without a NUL byte. msg is that message as decoded
 * from buf (the field iterator takes addresses in it; nothing is read or written). Unknown
 * fields are skipped. Run it after a successful pb_decode of the same bytes.
 * Errors: LDG_EINVALID (the first bad string, described in *fault when non-NULL),
 * LDG_EMALFORMED. */
int ldg__wire_text_check(const pb_msgdesc_t *desc, const void *msg, const uint8_t *buf,
                         size_t len, ldg__text_fault *fault);

#endif
