/*
 * ledger/: the deterministic core of fwledger.
 *
 * What lives here: the algorithm registry (Y.4807 agility: every hash and signature names its
 * algorithm), RFC 6962 Merkle trees and the RFC 9162 append-only log (over storage callbacks),
 * Semantic Versioning, transaction decoding and the stateless checks, the stateful rules and
 * the state transition (apply a block in ONE LMDB write transaction), and the read queries.
 *
 * What does not: sockets, clocks, randomness, consensus rounds. Time (block time) and
 * randomness (key generation entropy, signing nonces' auxiliary data) come in as arguments.
 *
 * Errors: every function returns 0 (LDG_OK) or a negative LDG_E* code; ldg_strerror() names
 * it. Bad input is always an error, never an abort.
 */
#ifndef FWL_LEDGER_H
#define FWL_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <pb_encode.h>

#include "fwledger.pb.h"

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                    */

/* LDG_E* codes are -1..-99 (every module's range is listed in node/client/client.h). */

/* -30..-39: the disk. A write that fails for want of room (or on an I/O error, LDG_EIO) leaves
 * nothing half-written; the same write may succeed once there is room again
 * (ldg_is_disk_error). */
#define LDG_ERRORS(X)                                                                   \
    X(LDG_OK, 0, "ok")                                                                  \
    X(LDG_ENOMEM, -1, "out of memory")                                                  \
    X(LDG_EMALFORMED, -2, "malformed encoding")                                         \
    X(LDG_ETOOBIG, -3, "size limit exceeded")                                           \
    X(LDG_EUNKNOWN_ALG, -4, "unknown algorithm id")                                     \
    X(LDG_EALG_DEPRECATED, -5, "algorithm deprecated at this height")                   \
    X(LDG_EALG_DISABLED, -6, "algorithm disabled on this chain")                        \
    X(LDG_EBADSIG, -7, "signature verification failed")                                 \
    X(LDG_EBADKEY, -8, "invalid public or secret key")                                  \
    X(LDG_ECHAIN, -9, "wrong chain id")                                                 \
    X(LDG_EINVALID, -10, "invalid field value")                                         \
    X(LDG_EUNAUTHORIZED, -11, "signer not authorised for this action")                  \
    X(LDG_EVERSION, -12, "version or security version not strictly newer")              \
    X(LDG_EDUPLICATE, -13, "file hash already registered")                              \
    X(LDG_EREPLAY, -14, "nonce not greater than the signer's last nonce (replay)")      \
    X(LDG_ETXDUP, -15, "transaction already committed")                                 \
    X(LDG_ENOTFOUND, -16, "not found")                                                  \
    X(LDG_EREVOKED, -17, "release already revoked")                                     \
    X(LDG_ESTORE, -18, "storage error")                                                 \
    X(LDG_EIO, -19, "i/o error")                                                        \
    X(LDG_ELOCKED, -20, "data directory is in use by another process")                  \
    X(LDG_EBLOCK, -21, "invalid block")                                                 \
    X(LDG_EGENESIS, -22, "genesis does not match the data directory")                 \
    X(LDG_ECONTRACT, -23, "contract does not compile")                                \
    X(LDG_ETIME, -24, "block time too far from this node's clock")                           \
    X(LDG_EPROOF, -25, "proof does not match the state root")                          \
    X(LDG_ENOSPC, -30, "disk full (ENOSPC)")                                            \
    X(LDG_EDQUOT, -31, "disk quota exceeded (EDQUOT)")                                  \
    X(LDG_EMAPFULL, -32, "LMDB map full: raise map_size")

enum ldg_err {
#define LDG_ENUM_(name, val, msg) name = (val),
    LDG_ERRORS(LDG_ENUM_)
#undef LDG_ENUM_
};

/* The message for an LDG_E* code; never NULL ("unknown error" for foreign codes). */
const char *ldg_strerror(int err);

/* The LDG_E* code for an errno value left by a failed write, sync or allocation of room in a
 * file: ENOSPC, EDQUOT and ENOMEM have their own codes, everything else is LDG_EIO. */
int ldg_errno_code(int errnum);

/* True for the codes of a write that the disk refused (LDG_ENOSPC, LDG_EDQUOT, LDG_EMAPFULL,
 * LDG_EIO, and LDG_ESTORE for any other failure of the store): the data was not at fault,
 * nothing was written, and the same write may succeed later. */
bool ldg_is_disk_error(int err);

/* Classify a nanopb decode error message: a field over its bound is LDG_ETOOBIG, anything
 * else LDG_EMALFORMED. */
int ldg_decode_error(const char *pb_err);

/* ---------------------------------------------------------------------------------------- */
/* Algorithm registry (ledger/crypto.c, one file per algorithm: ledger/alg_*.c)              */

enum {
    LDG_HASH_SHA256 = 1,
    LDG_HASH_SHA3_256 = 2,
};

enum {
    LDG_SIG_SECP256K1_ECDSA = 1,   /* libsecp256k1, 33 B compressed key, 64 B compact sig  */
    LDG_SIG_SECP256K1_SCHNORR = 2, /* BIP-340, 32 B x-only key, 64 B sig                   */
    LDG_SIG_ED25519 = 3,           /* OpenSSL, 32 B key, 64 B sig                          */
    LDG_SIG_P256_ECDSA = 4,        /* OpenSSL, 33 B compressed key, 64 B r||s sig          */
};

#define LDG_HASH_MAX 64   /* largest digest any registered hash produces   */
#define LDG_PUBKEY_MAX 65 /* largest encoded public key                    */
#define LDG_SECKEY_MAX 32 /* largest secret key                            */
#define LDG_SIG_MAX 72    /* largest encoded signature                     */
#define LDG_DIGEST_LEN 32 /* what signatures sign: a 32-byte digest        */

/* Status of an algorithm on a chain. */
typedef enum {
    LDG_ALG_ALLOWED = 0,
    LDG_ALG_DEPRECATED = 1, /* refused for new signatures at heights >= from_height        */
    LDG_ALG_DISABLED = 2,   /* refused everywhere                                          */
} ldg_alg_status;

typedef struct {
    uint32_t id;
    const char *name;   /* "sha256", "sha3-256"                                          */
    size_t digest_len;
    /* Hash the concatenation of n parts. out must hold digest_len bytes. */
    int (*hash)(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t *out);
} ldg_hash_impl;

typedef struct {
    uint32_t id;
    const char *name;   /* "secp256k1-ecdsa", "secp256k1-schnorr", "ed25519", "p256-ecdsa" */
    size_t pub_len;
    size_t sec_len;
    size_t sig_len;
    /* Derive a key pair from 32 bytes of caller-supplied entropy (the core takes
     * randomness as input). May return LDG_EBADKEY for the rare invalid seed. */
    int (*keypair)(const uint8_t seed[32], uint8_t *sec, uint8_t *pub);
    /* Public key of a secret key. */
    int (*pubkey)(const uint8_t *sec, uint8_t *pub);
    /* Sign a 32-byte digest. aux: 32 bytes of extra randomness or NULL (deterministic). */
    int (*sign)(const uint8_t *sec, const uint8_t digest[32], const uint8_t *aux, uint8_t *sig);
    /* 0 if sig is a valid signature of digest by pub, LDG_EBADSIG or LDG_EBADKEY. */
    int (*verify)(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                  const uint8_t *sig, size_t sig_len);
} ldg_sig_impl;

/* Lookup by id or by name; NULL when unknown. */
const ldg_hash_impl *ldg_hash_by_id(uint32_t id);
const ldg_hash_impl *ldg_hash_by_name(const char *name);
const ldg_sig_impl *ldg_sig_by_id(uint32_t id);
const ldg_sig_impl *ldg_sig_by_name(const char *name);
/* Iterate: returns the i-th registered algorithm, NULL past the end. */
const ldg_hash_impl *ldg_hash_at(size_t i);
const ldg_sig_impl *ldg_sig_at(size_t i);

/* One-shot hash of parts with algorithm alg. out: LDG_HASH_MAX bytes; *out_len set.
 * Errors: LDG_EUNKNOWN_ALG. */
int ldg_hash(uint32_t alg, const uint8_t *const *parts, const size_t *lens, size_t n,
             uint8_t *out, size_t *out_len);

/* Verify with the algorithm named by alg. Errors: LDG_EUNKNOWN_ALG, LDG_EBADKEY, LDG_EBADSIG. */
int ldg_verify(uint32_t alg, const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
               const uint8_t *sig, size_t sig_len);

/* Per-chain algorithm policy: the registry's default is ALLOWED; a chain overrides. */
#define LDG_MAX_ALG_RULES 16
typedef struct {
    int kind;            /* 0: hash, 1: signature */
    uint32_t id;
    ldg_alg_status status;
    uint64_t from_height; /* for DEPRECATED */
} ldg_alg_rule;

/* ---------------------------------------------------------------------------------------- */
/* Merkle trees, RFC 6962 style (ledger/merkle.c)                                            */
/* Leaf hash = H(0x00 || data); node = H(0x01 || left || right); split at the largest power */
/* of two below n; the empty tree's root is H(""). All hashes have the algorithm's length.  */

#define LDG_MERKLE_MAX_DEPTH 64

int ldg_merkle_leaf(uint32_t alg, const uint8_t *data, size_t len, uint8_t *out);
/* Root over n leaf hashes laid out contiguously (n * digest_len bytes). Allocates O(n) scratch
 * internally (freed before return). Errors: LDG_EUNKNOWN_ALG, LDG_ENOMEM. */
int ldg_merkle_root(uint32_t alg, const uint8_t *leaves, size_t n, uint8_t *root);
/* Audit path for leaf index (RFC 6962 2.1.1): up to LDG_MERKLE_MAX_DEPTH hashes into path
 * (cap hashes of room), count in *path_len. Errors: LDG_EINVALID (index >= n), LDG_ETOOBIG. */
int ldg_merkle_proof(uint32_t alg, const uint8_t *leaves, size_t n, size_t index,
                     uint8_t *path, size_t cap, size_t *path_len);
/* 0 when path proves leaf at index in a tree of n leaves with this root; LDG_EINVALID if not.
 * The same check as ldg_log_verify_inclusion (which takes 64-bit sizes). */
int ldg_merkle_verify(uint32_t alg, const uint8_t *leaf, size_t index, size_t n,
                      const uint8_t *path, size_t path_len, const uint8_t *root);

/* ---------------------------------------------------------------------------------------- */
/* Authenticated state (ledger/state.c: hashes and proofs; ledger/store_state.c: the tree)   */
/* A Merkle crit-bit trie over prefix-free keys (docs/verification.md has the layout):       */
/*   leaf(k, v) = H(0x00 || be16(len k) || k || v), v = H(the record's stored bytes)        */
/*   node(b, p, h0, h1) = H(0x01 || be16(b) || p || h0 || h1), p = the first b bits of its   */
/*   keys (ceil(b/8) bytes, unused low bits zero); the empty state is H(0x02).               */
/* Every block header's state_root is the root after the block's transactions.              */

#define LDG_STATE_KEY_MAX 160 /* bytes of a state key */

int ldg_state_leaf_hash(uint32_t alg, const uint8_t *key, size_t kl,
                        const uint8_t vhash[LDG_DIGEST_LEN], uint8_t out[LDG_DIGEST_LEN]);
/* key: at least ceil(bit/8) bytes whose first bit bits are the node's prefix. */
int ldg_state_node_hash(uint32_t alg, size_t bit, const uint8_t *key,
                        const uint8_t h0[LDG_DIGEST_LEN], const uint8_t h1[LDG_DIGEST_LEN],
                        uint8_t out[LDG_DIGEST_LEN]);
int ldg_state_empty_hash(uint32_t alg, uint8_t out[LDG_DIGEST_LEN]);

/* The state's keys (what answers are proven with; the layout is in ledger/store_state.c and
 * docs/verification.md). Each writes into out (LDG_STATE_KEY_MAX bytes) and returns the
 * length, 0 when a name is too long. A model's lines ('h' model NUL) are a range: the
 * model's candidates; the others are single keys. */
size_t ldg_state_key_release(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len);
size_t ldg_state_key_outcomes(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len);
size_t ldg_state_key_lines(uint8_t *out, const char *model);
size_t ldg_state_key_binding(uint8_t *out, const char *product, const char *model);
size_t ldg_state_key_contract(uint8_t *out, const char *name);

/* The root of a key set given in strictly ascending order (no key a prefix of another:
 * LDG_EINVALID), in O(key bits) memory: what --verify-state and the proof verifier use. */
typedef struct ldg_state_builder ldg_state_builder;
int ldg_state_builder_new(uint32_t alg, ldg_state_builder **out);
int ldg_state_builder_add(ldg_state_builder *b, const uint8_t *key, size_t kl,
                          const uint8_t vhash[LDG_DIGEST_LEN]);
int ldg_state_builder_root(ldg_state_builder *b, uint8_t root[LDG_DIGEST_LEN]);
void ldg_state_builder_free(ldg_state_builder *b);

/* A proof that the keys of the state starting with a prefix are exactly `leaves` (maybe
 * none). Steps go from the root down: at each, the node's bit (its prefix is the range's
 * own) and the hash of its child away from the range. At the bottom: the range's subtree,
 * rebuilt from its leaves; or, when the range is empty, a witness where it would be: a leaf
 * or node whose key or prefix leaves the range's, or the empty state. */
enum { LDG_STATE_RANGE = 0, LDG_STATE_WITNESS_LEAF = 1, LDG_STATE_WITNESS_NODE = 2,
       LDG_STATE_EMPTY = 3 };
#define LDG_STATE_STEPS_MAX (8 * LDG_STATE_KEY_MAX)
typedef struct {
    uint16_t bit;
    uint8_t sibling[LDG_DIGEST_LEN];
} ldg_state_step;
typedef struct {
    const uint8_t *key;
    size_t key_len;
    uint8_t vhash[LDG_DIGEST_LEN];
    const uint8_t *value; /* the record's stored bytes (vhash is their hash), when known */
    size_t value_len;
} ldg_state_leaf;
typedef struct {
    const ldg_state_step *steps;
    size_t n_steps;
    const ldg_state_leaf *leaves; /* strictly ascending */
    size_t n_leaves;
    int witness;                  /* LDG_STATE_*: RANGE when there are leaves */
    uint16_t w_bit;               /* WITNESS_NODE: its bit, prefix and children */
    uint8_t w_prefix[LDG_STATE_KEY_MAX];
    uint8_t w_left[LDG_DIGEST_LEN], w_right[LDG_DIGEST_LEN];
    uint8_t w_key[LDG_STATE_KEY_MAX]; /* WITNESS_LEAF: its key and value hash */
    size_t w_key_len;
    uint8_t w_vhash[LDG_DIGEST_LEN];
} ldg_state_proof;
/* 0 when p proves that exactly p->leaves start with prefix in the state whose root is root.
 * Errors: LDG_EINVALID (a malformed or inconsistent proof), LDG_EPROOF (well formed, but
 * it leads to another root), LDG_EUNKNOWN_ALG, LDG_ENOMEM. */
int ldg_state_verify(uint32_t alg, const uint8_t root[LDG_DIGEST_LEN], const uint8_t *prefix,
                     size_t prefix_len, const ldg_state_proof *p);

/* The wire form, fwl.StateProof (ledger/state_wire.c; docs/protocol.md). Encode one as the
 * submessage of field `tag` (every leaf's value must be known). Errors: LDG_ETOOBIG (the
 * stream is full), LDG_EINVALID. */
#define LDG_STATE_LEAVES_MAX 4096  /* leaves in one proof: a model's candidates at most     */
#define LDG_STATE_VALUE_MAX 16384  /* a record's stored bytes                              */
int ldg_state_proof_encode(pb_ostream_t *os, uint32_t tag, const uint8_t *prefix, size_t pl,
                           const ldg_state_proof *p);
/* Decode an encoded fwl.StateProof from buf (which must outlive d: keys and values point
 * into it) and hash each leaf's value with alg. Errors: LDG_EMALFORMED, LDG_ETOOBIG (over
 * the bounds above), LDG_ENOMEM, LDG_EUNKNOWN_ALG. Free with ldg_state_proof_dec_free. */
typedef struct {
    uint8_t prefix[LDG_STATE_KEY_MAX];
    size_t prefix_len;
    ldg_state_proof p;
    ldg_state_step *steps;
    ldg_state_leaf *leaves;
    size_t cap_steps, cap_leaves;
} ldg_state_proof_dec;
int ldg_state_proof_decode(uint32_t alg, const uint8_t *buf, size_t len, ldg_state_proof_dec *d);
void ldg_state_proof_dec_free(ldg_state_proof_dec *d);

/* Append-only log, RFC 9162 (ledger/log.c)                                                  */
/* The tree above (RFC 9162 2.1 defines the same MTH as RFC 6962), grown one leaf at a time  */
/* over storage the caller provides through callbacks: this module knows no database. Leaf   */
/* hashes come from ldg_merkle_leaf. Sizes and indexes are uint64_t. Deterministic: no clock, */
/* no randomness, no allocation (under 5 KB of stack).                                       */

/* Longest proof, in hashes: an inclusion path is at most the tree's depth (64), a consistency
 * proof the depth plus one (the old tree's own subtree, when it is not on the left edge). */
#define LDG_LOG_PROOF_MAX (LDG_MERKLE_MAX_DEPTH + 1)

/* What the log keeps: the hash of every complete perfect subtree, addressed by its level
 * (0: a leaf hash) and its index at that level (the leaves it covers are
 * [index << level, (index + 1) << level)); hashes are the algorithm's digest_len bytes. An
 * append only adds entries, never rewrites one, and at each level in increasing index order:
 * a table keyed by level(1) || index(8, big-endian) grows at the end of each level's range.
 * The callbacks return 0 or a negative error, which the log functions pass up unchanged
 * (an LMDB store returns its LDG_E* codes). */
typedef struct {
    /* The entry at (level, index) into out (digest_len bytes): 0, LDG_ENOTFOUND when there
     * is none, or another error. */
    int (*get)(void *ctx, unsigned level, uint64_t index, uint8_t *out);
    /* Store hash (digest_len bytes, valid for the call only) at (level, index). Only
     * ldg_log_append calls it; read-only users may leave it NULL. */
    int (*put)(void *ctx, unsigned level, uint64_t index, const uint8_t *hash);
    void *ctx;
} ldg_log_io;

/* Append leaf_hash as leaf number `size`, the log's size before the append: stores (0, size)
 * and every perfect subtree that leaf completes (one per trailing 1 bit of size). Checks
 * first that size is the log's size (leaf size - 1 stored, leaf size not), so a wrong size
 * cannot overwrite or leave a gap. At most 65 reads and 64 writes. On an error some entries
 * may have been written: run it in a write transaction that is aborted on failure.
 * Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (NULL argument or callback, size is not the log's
 * size), LDG_ETOOBIG (size is UINT64_MAX), the callbacks' errors. */
int ldg_log_append(uint32_t alg, const ldg_log_io *io, uint64_t size, const uint8_t *leaf_hash);
/* The root (RFC 9162 MTH) of the first `size` leaves, size at most the log's size: one read
 * per 1 bit of size. size 0: H(""), no read.
 * Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (NULL argument), the callback's errors (LDG_ENOTFOUND
 * when size is larger than the log). */
int ldg_log_root(uint32_t alg, const ldg_log_io *io, uint64_t size, uint8_t *root);
/* Inclusion proof (RFC 9162 2.1.3.1, PATH) of leaf `index` in the tree of the first `size`
 * leaves, size at most the log's size: the sibling subtrees' roots, bottom up, into path
 * (cap hashes of room; path may be NULL when cap is 0), their count in *n. At most 128 reads.
 * On failure *n is 0 and nothing is written past cap.
 * Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (index >= size, NULL argument), LDG_ETOOBIG (more
 * than cap hashes), the callback's errors. */
int ldg_log_inclusion(uint32_t alg, const ldg_log_io *io, uint64_t index, uint64_t size,
                      uint8_t *path, size_t cap, size_t *n);
/* Consistency proof (RFC 9162 2.1.4.1, PROOF) between the trees of the first m and the first
 * n leaves, 0 < m <= n <= the log's size: bottom up into path (cap hashes of room), count in
 * *count; empty when m == n. At most 128 reads. On failure *count is 0.
 * Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (m == 0, m > n, NULL argument), LDG_ETOOBIG, the
 * callback's errors. */
int ldg_log_consistency(uint32_t alg, const ldg_log_io *io, uint64_t m, uint64_t n,
                        uint8_t *path, size_t cap, size_t *count);
/* Pure verifiers (no storage). Inclusion, RFC 9162 2.1.3.2: leaf_hash is leaf `index` of the
 * tree of `size` leaves whose root is root, by the n hashes of path. Consistency, RFC 9162
 * 2.1.4.2: the tree of m leaves with root root_m is a prefix of the tree of n leaves with
 * root root_n, by the count hashes of path; m == n holds with an empty path and equal roots.
 * Return 0 when the proof holds; LDG_EINVALID when it does not, or is malformed (index >=
 * size, m == 0, m > n, a path too long or too short for the sizes, NULL arguments);
 * LDG_EUNKNOWN_ALG. A proof does not prove the size: one can hold for another size of the
 * same shape under the same root, so take (size, root) together from one trusted place (a
 * committed block header), as RFC 9162's signed tree heads do. */
int ldg_log_verify_inclusion(uint32_t alg, const uint8_t *leaf_hash, uint64_t index,
                             uint64_t size, const uint8_t *path, size_t n, const uint8_t *root);
int ldg_log_verify_consistency(uint32_t alg, uint64_t m, uint64_t n, const uint8_t *root_m,
                               const uint8_t *root_n, const uint8_t *path, size_t count);

/* ---------------------------------------------------------------------------------------- */
/* Semantic Versioning 2.0 and constraints (ledger/semver.c)                                 */

typedef struct {
    uint64_t major, minor, patch;
    char pre[64];   /* pre-release, without '-', "" if none */
} ldg_semver;

/* Strict SemVer 2.0 parse (build metadata accepted and ignored). Errors: LDG_EINVALID. */
int ldg_semver_parse(const char *s, ldg_semver *out);
/* <0, 0, >0 by SemVer precedence. */
int ldg_semver_cmp(const ldg_semver *a, const ldg_semver *b);
/* Check constraint syntax: comma-separated terms "<op>X[.Y[.Z]]" with op in
 * >=, <=, >, <, =, ==, ^, ~ (or none: exact), or "*". Errors: LDG_EINVALID. */
int ldg_constraint_valid(const char *c);
/* 1 if v satisfies c, 0 if not, LDG_EINVALID if c is malformed. */
int ldg_constraint_match(const char *c, const ldg_semver *v);

/* ---------------------------------------------------------------------------------------- */
/* Text (ledger/text.c)                                                                      */

/* True when s[0..len) is well-formed UTF-8 (Unicode Table 3-7, RFC 3629): no overlong
 * form, no surrogate (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence or
 * stray continuation byte. NUL (U+0000) is well-formed UTF-8: callers holding C strings
 * refuse it themselves (ldg_tx_parse does, in every string field of a transaction). A pure
 * function; s may be NULL when len is 0. */
bool ldg_utf8_valid(const uint8_t *s, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* Chain parameters (from the genesis file; parsed by node/, handed in as this struct)       */

#define LDG_MAX_ADMINS 8
#define LDG_MAX_VALIDATORS 32
#define LDG_MAX_GENESIS_AUTHORS 64

typedef struct {
    uint32_t alg;
    uint8_t key[LDG_PUBKEY_MAX];
    size_t len;
} ldg_pubkey;
/* The same key: algorithm, length and bytes. */
bool ldg_pubkey_eq(const ldg_pubkey *a, const ldg_pubkey *b);

/* A genesis author is what an AuthorTx adds; the chain id is what every TxBody names. */
typedef struct {
    char product[sizeof ((fwl_AuthorTx *)0)->product];
    char name[sizeof ((fwl_AuthorTx *)0)->name];
    ldg_pubkey key;
} ldg_genesis_author;

typedef struct {
    char chain_id[sizeof ((fwl_TxBody *)0)->chain_id];
    uint32_t hash_alg;           /* chain hash: tx ids, block hashes, Merkle (default sha256) */
    uint64_t genesis_time_ms;
    ldg_pubkey admins[LDG_MAX_ADMINS];
    size_t n_admins;
    uint32_t admin_threshold;    /* distinct admin signatures an admin tx needs (>= 1)      */
    ldg_pubkey validators[LDG_MAX_VALIDATORS];
    uint64_t validator_power[LDG_MAX_VALIDATORS];
    /* Each validator's node identity key for p2p (TLS 1.3: ed25519 or p256-ecdsa); alg 0 and
     * len 0 when the genesis lists none. Not a voting key: never signs a vote or a block. */
    ldg_pubkey validator_ids[LDG_MAX_VALIDATORS];
    size_t n_validators;
    ldg_genesis_author authors[LDG_MAX_GENESIS_AUTHORS];
    size_t n_authors;
    ldg_alg_rule alg_rules[LDG_MAX_ALG_RULES];
    size_t n_alg_rules;
} ldg_genesis;

/* The status of an algorithm on this chain at a height: LDG_OK, LDG_EUNKNOWN_ALG,
 * LDG_EALG_DEPRECATED or LDG_EALG_DISABLED. kind: 0 hash, 1 signature. */
int ldg_alg_check(const ldg_genesis *g, int kind, uint32_t id, uint64_t height);

/* The index of the validator of g whose key is (alg, key, len), or -1 when none is: block
 * builders, certificate signers, a node's own validator key. */
int ldg_validator_index(const ldg_genesis *g, uint32_t alg, const uint8_t *key, size_t len);

/* The validator set's hash, which every block header names (validators_hash): H_chain(be32
 * count || per validator, in order: be32 alg || u8 key length || key || be64 power). Today
 * the genesis' set signs every block; when governance changes it, a header names the set
 * of the next height, and a light client follows it from a trusted header
 * (docs/verification.md). */
int ldg_validators_hash(const ldg_genesis *g, uint8_t out[LDG_DIGEST_LEN]);

/* Stable hash of the genesis parameters (what a data directory is bound to). */
int ldg_genesis_hash(const ldg_genesis *g, uint8_t out[LDG_HASH_MAX], size_t *out_len);

/* Key id: H_chain(alg as 4 bytes big-endian || key bytes); indexes authors and nonces. */
int ldg_key_id(const ldg_genesis *g, uint32_t alg, const uint8_t *key, size_t len,
               uint8_t out[LDG_DIGEST_LEN]);

/* ---------------------------------------------------------------------------------------- */
/* Transactions (ledger/tx.c)                                                                */

/* Type tags, part of the signed domain (so a body of one type can never pass as another). */
enum {
    LDG_TX_PUBLISH = 1,
    LDG_TX_REVOKE = 2,
    LDG_TX_AUTHOR = 3,
    LDG_TX_CONTRACT = 4,  /* admin: deploy a new version of a contract             */
    LDG_TX_BIND = 5,      /* admin: bind a product (+ model) to a contract, unbind */
    LDG_TX_TRACKER = 6,   /* admin: register or remove a status tracker key        */
    LDG_TX_REPORT = 7,    /* tracker: a batch of outcome reports                   */
};

#define LDG_TX_DOMAIN "fwledger/tx/v1"
#define LDG_TX_MAX 10400   /* encoded Tx envelope, bytes (fwl.Tx.body is 9,040 at most) */
#define LDG_CONTRACT_SOURCE_MAX 8192 /* contract source bytes on the ledger                */
#define LDG_REPORT_MAX 32            /* outcome reports in one ReportTx                   */
/* A release's security version is a counter that only goes up on its lines: one at the
 * top of uint64 would lock every line it is on (no later release could be newer), so it is
 * bounded, far above any product's life (LDG_EINVALID "release.security_version"). */
#define LDG_SECURITY_VERSION_MAX 0xffffffffu
/* A release's published_at (Unix seconds, the author's claim) may be at most this far
 * after the time of the block that commits it (LDG_EINVALID "release.published_at"),
 * checked when the block is built or applied: a date years ahead would claim a future. */
#define LDG_PUBLISHED_AHEAD_MAX_S 86400

/* A decoded transaction. Large (the nanopb structs are fixed-size): allocate on the heap. */
typedef struct {
    fwl_Tx env;
    fwl_TxBody body;
    uint32_t type;                   /* LDG_TX_*                                          */
    uint8_t hash[LDG_DIGEST_LEN];    /* tx id = the signed digest                         */
    uint8_t sender[LDG_DIGEST_LEN];  /* key id of sigs[0]                                 */
    const uint8_t *raw;              /* borrowed encoded envelope (valid while caller's)  */
    size_t raw_len;
} ldg_tx;

/* Signed digest = H_chain(LDG_TX_DOMAIN || 0x00 || u8 len(chain_id) || chain_id || u32be type
 * || body). Errors: LDG_EUNKNOWN_ALG. */
int ldg_tx_digest(const ldg_genesis *g, uint32_t type, const uint8_t *body, size_t body_len,
                  uint8_t out[LDG_DIGEST_LEN]);

/* Decode and run every stateless check except signatures: sizes, encodings (every string
 * field of the body, at any depth, well-formed UTF-8 without a NUL byte, checked on the
 * signed bytes: *why names the field, e.g. "release.file_name (not valid UTF-8)" or
 * "release.version (contains a NUL byte)", with LDG_EINVALID), chain id,
 * payload present, algorithm ids known and allowed at height, field syntax (semver,
 * constraints, hash length matches its algorithm, URL scheme, non-empty names; contract
 * name an identifier and source non-empty text of at most LDG_CONTRACT_SOURCE_MAX bytes;
 * bind product and model identifiers, contract named unless unbinding and empty when
 * unbinding; tracker op and key; report 1..LDG_REPORT_MAX entries, each counting at least
 * one device, no release twice). Whether a contract compiles is a stateful rule (it needs
 * the store's compile hook, see ldg_store_set_contract_check).
 * Errors: LDG_ETOOBIG, LDG_EMALFORMED, LDG_ECHAIN, LDG_EINVALID, LDG_EUNKNOWN_ALG,
 * LDG_EALG_DEPRECATED, LDG_EALG_DISABLED, LDG_EBADKEY, LDG_EBADSIG (a key or signature of
 * the wrong length for its algorithm). On error, *why (if non-NULL) points to a static
 * string naming the failing field. */
int ldg_tx_parse(const ldg_genesis *g, uint64_t height, const uint8_t *buf, size_t len,
                 ldg_tx *tx, const char **why);

/* Verify every signature in tx against tx->hash. Errors: LDG_EBADSIG, LDG_EBADKEY. */
int ldg_tx_verify(const ldg_tx *tx);

/* Encode and sign a body into a Tx envelope (tool side). keys: n (alg, secret) pairs; the
 * first is the sender. aux: NULL or 32 bytes of randomness. out: at least LDG_TX_MAX bytes. */
typedef struct {
    uint32_t alg;
    uint8_t sec[LDG_SECKEY_MAX];
} ldg_seckey;
int ldg_tx_sign(const ldg_genesis *g, const fwl_TxBody *body, const ldg_seckey *keys, size_t n,
                const uint8_t *aux, uint8_t *out, size_t cap, size_t *out_len,
                uint8_t hash[LDG_DIGEST_LEN]);

/* ---------------------------------------------------------------------------------------- */
/* Blocks (ledger/block.c)                                                                   */

#define LDG_BLOCK_VERSION 1
#define LDG_BLOCK_MAX_TXS 8192
#define LDG_BLOCK_MAX_BYTES (16u << 20)
#define LDG_HEADER_MAX 1024

/* Block hash = H_chain(encoded header). */
int ldg_block_hash(const ldg_genesis *g, const uint8_t *hdr, size_t hdr_len,
                   uint8_t out[LDG_DIGEST_LEN]);

/* A decoded block: the header plus borrowed slices of the encoded transactions. */
typedef struct {
    fwl_BlockHeader hdr;
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t hdr_raw[LDG_HEADER_MAX];           /* the encoded header, exactly as hashed             */
    size_t hdr_len;
    size_t n_txs;
    const uint8_t **tx_raw;   /* n_txs pointers into the encoded block (owned array)     */
    size_t *tx_len;
    fwl_Signature commit[LDG_MAX_VALIDATORS]; /* the commit certificate */
    size_t n_commit;
    uint32_t commit_round;
} ldg_block;

/* What a validator signs to commit a block: H_chain(LDG_COMMIT_DOMAIN || 0x00 || u8
 * len(chain_id) || chain_id || u64be height || u32be round || u8 type || block hash), with
 * type 2 (precommit). A block is committed when signatures of validators holding more than
 * two thirds of the voting power over this digest are attached (the commit certificate). */
#define LDG_COMMIT_DOMAIN "fwledger/vote/v1"
#define LDG_VOTE_PRECOMMIT 2
int ldg_commit_digest(const ldg_genesis *g, uint64_t height, uint32_t round, uint8_t type,
                      const uint8_t block_hash[LDG_DIGEST_LEN], uint8_t out[LDG_DIGEST_LEN]);
/* Votes of every type use the same digest: type 1 prevote, 2 precommit; a nil vote signs
 * 32 zero bytes as its block hash. */
#define LDG_VOTE_PREVOTE 1
#define ldg_vote_digest ldg_commit_digest

/* What a proposer signs: H_chain(LDG_PROPOSAL_DOMAIN || 0x00 || u8 len(chain_id) || chain_id
 * || u64be height || u32be round || u32be (valid_round + 1) || block hash). */
#define LDG_PROPOSAL_DOMAIN "fwledger/proposal/v1"
int ldg_proposal_digest(const ldg_genesis *g, uint64_t height, uint32_t round,
                        int32_t valid_round, const uint8_t block_hash[LDG_DIGEST_LEN],
                        uint8_t out[LDG_DIGEST_LEN]);

/* Who may have built a proposed block: its header names the builder. A fresh proposal
 * (valid_round -1) must be built by its proposer, validator index `proposer` of g. A
 * re-proposal (valid_round >= 0) carries the block of an earlier round, built by that
 * round's proposer: any validator of g will do. (Requiring the re-proposer to be the builder
 * made every re-proposal of another validator's block invalid, and a cluster with validators
 * locked on such a block stalled for good: issue 8.) A pure function.
 * Errors: LDG_EINVALID (valid_round < -1, proposer out of range), LDG_EBLOCK (built by
 * another validator than a fresh proposal's proposer, or by no validator). */
int ldg_block_builder_check(const ldg_genesis *g, uint32_t proposer, int32_t valid_round,
                            const ldg_pubkey *builder);

/* Block time (proposer-based timestamps, CometBFT's "timely" check): may this validator
 * accept a proposed block whose header says time_ms? A pure function; the node passes its
 * clock in now_ms, read when the proposal arrived.
 *   time_ms       the proposed block's header time
 *   prev_time_ms  the time of the block before it (ldg_store_tip's; 0 before the first)
 *   now_ms        this validator's clock
 *   drift_ms      how far a fresh block's time may be from now_ms, either way
 *   valid_round   the proposal's valid round: -1 for a fresh proposal, >= 0 for a
 *                 re-proposal of a value that had 2f+1 prevotes in that earlier round
 * A fresh proposal passes when prev_time_ms <= time_ms and now_ms - drift_ms <= time_ms <=
 * now_ms + drift_ms (both ends inclusive, saturating at 0 and UINT64_MAX). A re-proposal is
 * NOT checked against the clock, only against prev_time_ms: its 2f+1 prevotes go back to a
 * round where the value was fresh and more than 2/3 of the power (so at least one honest
 * validator) found it timely, and its time is older by the rounds since; refusing a value
 * that honest validators are locked on would stall the height for good. (The consensus
 * engine acts on a re-proposal only with those 2f+1 prevotes in hand, so claiming a valid
 * round does not let a block skip the check.) Block time never goes backwards; the store
 * refuses such a block too (ldg_store_stage_block, ldg_store_apply_block).
 * Errors, in this order: LDG_EINVALID (valid_round < -1), LDG_EBLOCK (time_ms <
 * prev_time_ms), LDG_ETIME (a fresh proposal outside the window). */
int ldg_block_time_check(uint64_t time_ms, uint64_t prev_time_ms, uint64_t now_ms,
                         uint64_t drift_ms, int32_t valid_round);

/* Encode a Block from its header bytes, n tx envelopes and the commit certificate (the
 * precommit signatures of round commit_round; none for a proposal). *out malloc'd.
 * Errors: LDG_ETOOBIG, LDG_ENOMEM. */
int ldg_block_encode(const uint8_t *hdr, size_t hdr_len, const uint8_t *const *txs,
                     const size_t *tx_lens, size_t n, const fwl_Signature *commit,
                     size_t n_commit, uint32_t commit_round, uint8_t **out, size_t *out_len);

/* Check a commit certificate: distinct validators, valid precommit signatures of round
 * `round` over the commit digest, more than 2/3 of the voting power.
 * Errors: LDG_EBLOCK, LDG_EBADSIG. */
int ldg_commit_verify(const ldg_genesis *g, uint64_t height, uint32_t round,
                      const uint8_t block_hash[LDG_DIGEST_LEN], const fwl_Signature *commit,
                      size_t n_commit);

/* Decode an encoded Block; tx slices borrow buf. Errors: LDG_EMALFORMED, LDG_ETOOBIG,
 * LDG_ENOMEM. Free with ldg_block_free (accepts NULL). */
int ldg_block_decode(const uint8_t *buf, size_t len, ldg_block *out);
void ldg_block_free(ldg_block *b);

/* ---------------------------------------------------------------------------------------- */
/* The store (ledger/store.c): LMDB, one write transaction per block                         */

typedef struct ldg_store ldg_store;

/* Open (or create) the store in dir, bound to genesis g (refused with LDG_EGENESIS if the
 * directory holds another chain). On first open, writes the genesis state (admins, initial
 * authors). map_size: 0 for the default (8 GiB). Takes an exclusive lock on dir/LOCK: a
 * second process gets LDG_ELOCKED. Errors: LDG_ELOCKED, LDG_EGENESIS, a disk error
 * (ldg_is_disk_error: LDG_ENOSPC, LDG_EDQUOT, LDG_EMAPFULL, LDG_EIO, LDG_ESTORE).
 *
 * Disk errors of the writes below: LMDB's MDB_MAP_FULL is LDG_EMAPFULL (the map is full:
 * reopen with a larger map_size); ENOSPC, EDQUOT and EIO from the filesystem are
 * LDG_ENOSPC, LDG_EDQUOT and LDG_EIO (an EIO while the filesystem has less than 1 MiB free
 * is LDG_ENOSPC: LMDB reports a write cut short by a full disk as EIO); any other LMDB
 * failure is LDG_ESTORE. After any of them the write transaction is aborted: the store
 * holds the previous block, whole, and the same block can be written again. */
int ldg_store_open(ldg_store **out, const char *dir, const ldg_genesis *g, size_t map_size);
void ldg_store_close(ldg_store *s);
/* The size of the store's map in bytes (what LDG_EMAPFULL ran into). */
size_t ldg_store_map_size(ldg_store *s);

/* A second handle on an open store, for reading on another thread while the first one
 * writes: its own read transaction and scratch, the same environment. The read queries,
 * snapshots and ldg_store_tip (the tip of its open snapshot, else the latest committed)
 * work on it; building, staging, committing, applying and checking give LDG_EINVALID.
 * Each handle is used by one thread at a time; close readers (ldg_store_close) before the
 * store. Errors: LDG_ENOMEM. */
int ldg_store_reader(ldg_store *s, ldg_store **out);

typedef struct {
    uint64_t height;                 /* 0: no block yet                                   */
    uint8_t hash[LDG_DIGEST_LEN];    /* zero when height is 0                             */
    uint64_t time_ms;
    uint64_t releases;
} ldg_tip;
int ldg_store_tip(ldg_store *s, ldg_tip *tip);

/* Build a block over candidate txs (encoded envelopes whose signatures the caller has
 * verified), in order: each tx is parsed and checked against the state left by the previous
 * ones; a tx that fails is left out and its error written to results[i] (0 for included;
 * LDG_ETOOBIG for one that did not fit and may go in the next block).
 * hdr: the encoded header of the block over the included txs (LDG_HEADER_MAX bytes of room),
 * hash: its block hash. time_ms is raised to the tip's time if it is older (block times
 * never go backwards). The state changes are kept in an open write transaction: the caller
 * collects commit signatures over ldg_commit_digest, encodes the block (ldg_block_encode)
 * and calls ldg_store_commit_built, or drops it with ldg_store_abort_built. Another build or
 * an apply drops it too. Nothing is visible to readers until the commit.
 * Errors: a disk error (LDG_EMAPFULL, ...), LDG_ENOMEM, LDG_ETOOBIG (nothing is kept open
 * then; no tx is refused for it). */
int ldg_store_build_block(ldg_store *s, const uint8_t *const *txs, const size_t *tx_lens,
                          size_t n, uint64_t time_ms,
                          const ldg_pubkey *proposer, int *results, uint8_t *hdr,
                          size_t *hdr_len, uint8_t hash[LDG_DIGEST_LEN]);

/* Commit the block built by the last ldg_store_build_block: block must be that block (same
 * header hash) with a valid commit certificate. Writes the block, its index and the tip in
 * the same write transaction as its state, and syncs. Errors: LDG_EBLOCK (nothing built,
 * another block, or a bad certificate: the build is dropped), LDG_EBADSIG, a disk error
 * (the build is dropped and nothing is written: apply the block to try again). */
int ldg_store_commit_built(ldg_store *s, const uint8_t *block, size_t len);
void ldg_store_abort_built(ldg_store *s);

/* Apply an encoded block atomically: every check (header links, Merkle root, each tx
 * stateless and stateful; signatures unless pre_verified says a tx was verified already)
 * must pass, then state, indexes and the block are written in ONE LMDB write transaction
 * and synced. On any error nothing is written. pre_verified: NULL or n_txs flags.
 * Errors: LDG_EBLOCK and any tx error, a disk error. */
int ldg_store_apply_block(ldg_store *s, const uint8_t *block, size_t len,
                          const bool *pre_verified);

/* Check one encoded tx against the committed state as if it went into the next block: every
 * stateless check but signatures, and every stateful rule; writes nothing (the admission
 * check of a mempool). Errors: any tx or rule error. *why (if non-NULL; "" on success)
 * names the failing field or rule; for LDG_ECONTRACT it is the compiler's message. It
 * points to static storage or into the store, valid until the next call on this store. */
int ldg_store_check_tx(ldg_store *s, const uint8_t *tx, size_t len, const char **why);

/* The contract compile check: 0 if src (len bytes, NUL-terminated) compiles; otherwise
 * non-zero with a message ("line:col: what") in err (errlen bytes, at least 1). It must
 * be deterministic (every node reaches the same verdict on the same source) and must not
 * call back into the store. */
#define LDG_CONTRACT_ERR_MAX 200 /* errlen: the longest compiler message kept, with its NUL */
typedef int (*ldg_contract_check)(void *ctx, const char *src, size_t len, char *err,
                                  size_t errlen);

/* Set (fn non-NULL) or clear the hook that deploy transactions are compiled with. ledger/
 * does not know the contract language (contracts/ depends on ledger/, not the reverse), so
 * the node sets this right after ldg_store_open, before it applies or checks any block.
 * Without a hook every deploy is refused with LDG_ECONTRACT ("no contract compiler on
 * this node"): a node that cannot compile must not accept contracts. The compiler's
 * message is kept in a buffer of the store (a store is used by one thread) and reaches the
 * submitter through ldg_store_check_tx's why. */
void ldg_store_set_contract_check(ldg_store *s, ldg_contract_check fn, void *ctx);

/* Validate a proposed block from another validator without its certificate: the header
 * against the tip, every transaction (signatures unless pre_verified says so) and every
 * stateful rule, in a write transaction that is kept open like ldg_store_build_block's:
 * when the block is decided, ldg_store_commit_built commits it with its certificate.
 * hash: the block hash. Errors: as ldg_store_apply_block (nothing is kept open then). */
int ldg_store_stage_block(ldg_store *s, const uint8_t *block, size_t len,
                          const bool *pre_verified, uint8_t hash[LDG_DIGEST_LEN]);
/* The hash of the block built or staged and not yet committed. Errors: LDG_ENOTFOUND. */
int ldg_store_built(ldg_store *s, uint8_t hash[LDG_DIGEST_LEN]);

/* Benchmark hook (scripts/bench_store.c): off, the state tree is no longer kept and headers
 * keep naming the root it had; such a store agrees with no other node. */
void ldg_store_bench_state_tree(ldg_store *s, bool on);

/* Test hook: make the next apply fail after k puts (simulates a crash mid-block). */
void ldg_store_fail_after(ldg_store *s, long k);

/* --- Reads: each one LMDB read transaction, a consistent snapshot. ---------------------- */

/* Make every read until ldg_store_snapshot_end one LMDB read transaction (one snapshot),
 * e.g. all the reads of one eligibility request. Nests. A block committed while it is open
 * is not seen by it (LMDB is opened with MDB_NOTLS, so a write may begin meanwhile).
 * Errors: LDG_ESTORE. */
int ldg_store_snapshot_begin(ldg_store *s);
void ldg_store_snapshot_end(ldg_store *s);

/* Copy out the encoded Block at height / with hash. *out malloc'd. Errors: LDG_ENOTFOUND. */
int ldg_store_block_by_height(ldg_store *s, uint64_t height, uint8_t **out, size_t *len,
                              uint8_t hash[LDG_DIGEST_LEN]);
int ldg_store_block_by_hash(ldg_store *s, const uint8_t hash[LDG_DIGEST_LEN], uint8_t **out,
                            size_t *len, uint64_t *height);

/* The header and commit certificate of the block at height (in the snapshot, if one is
 * open): out's header and commit fields; it holds no transactions (n_txs 0). Free with
 * ldg_block_free. Errors: LDG_ENOTFOUND, LDG_EMALFORMED. */
int ldg_store_block_cert(ldg_store *s, uint64_t height, ldg_block *out);

/* Where a committed tx is. Errors: LDG_ENOTFOUND. */
int ldg_store_tx_location(ldg_store *s, const uint8_t hash[LDG_DIGEST_LEN], uint64_t *height,
                          uint32_t *index, uint8_t block_hash[LDG_DIGEST_LEN]);

/* The release with this file hash, as its stored encoding (an fwl.ReleaseRecord): for the
 * read path, which forwards it without decoding. cap: at least fwl_ReleaseRecord_size.
 * Errors: LDG_ENOTFOUND, LDG_ETOOBIG. */
int ldg_store_release_raw(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                          uint8_t *buf, size_t cap, size_t *out_len, uint64_t *at_height);

/* The release with this file hash, decoded. Errors: LDG_ENOTFOUND. */
int ldg_store_release(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                      fwl_ReleaseRecord *out, uint64_t *at_height);

/* List releases filtered by product and/or hardware model (either may be "" for any; both
 * "" lists everything), in publication order, at most limit, resuming after cursor (opaque,
 * from a previous call; NULL/0 to start). The callback gets each record; next/next_len the
 * cursor to continue (next_len 0 when done; next holds LDG_CURSOR_MAX bytes). */
#define LDG_CURSOR_MAX 160
typedef int (*ldg_release_cb)(void *ctx, const fwl_ReleaseRecord *rec);
int ldg_store_list_releases(ldg_store *s, const char *product, const char *hardware,
                            uint32_t limit, const uint8_t *cursor, size_t cursor_len,
                            ldg_release_cb cb, void *ctx, uint8_t *next, size_t *next_len,
                            uint64_t *at_height);

/* Last nonce used by a key (0 if none). */
int ldg_store_nonce(ldg_store *s, uint32_t alg, const uint8_t *key, size_t len, uint64_t *nonce);

/* The latest version of the contract called name (version, source, height, code hash).
 * Errors: LDG_ENOTFOUND (also for a name over 64 characters), LDG_ESTORE. */
int ldg_store_contract(ldg_store *s, const char *name, fwl_ContractRecord *out);
/* One version (1, 2, ...) of a contract, e.g. the one a binding recorded.
 * Errors: LDG_ENOTFOUND, LDG_ESTORE. */
int ldg_store_contract_version(ldg_store *s, const char *name, uint32_t version,
                               fwl_ContractRecord *out);

/* The binding that applies to product on hardware model: the binding of exactly (product,
 * model) if there is one, else the product's own (model ""). model "" asks only for the
 * product's. The record names the contract; eligibility uses that contract's latest
 * version (ldg_store_contract); contract_version is the version it had when bound.
 * Errors: LDG_ENOTFOUND (no binding: the built-in default policy applies), LDG_ESTORE. */
int ldg_store_binding(ldg_store *s, const char *product, const char *model,
                      fwl_BindingRecord *out);

/* The registered tracker with this public key (alg, key bytes). Errors: LDG_ENOTFOUND,
 * LDG_ESTORE. */
int ldg_store_tracker(ldg_store *s, uint32_t alg, const uint8_t *key, size_t len,
                      fwl_TrackerRecord *out);

/* When what eligibility derives from the chain last changed, for caches of it: the height
 * of the newest release listed for a hardware model (0: none; releases never change
 * otherwise, except by revocation), and the heights of the last revocation and of the last
 * contract deploy or (un)binding anywhere (0: none). A cache built at equal values is
 * still exact. Outcome totals are not covered (read them with ldg_store_outcomes).
 * Errors: LDG_ESTORE. */
int ldg_store_model_height(ldg_store *s, const char *model, uint64_t *height);
int ldg_store_change_heights(ldg_store *s, uint64_t *revoked_at, uint64_t *policy_at);

/* The authenticated state (store_state.c). The root of the snapshot (or the latest state),
 * the one the header of ldg_store_tip's block names. Errors: LDG_ESTORE. */
int ldg_store_state_root(ldg_store *s, uint8_t root[LDG_DIGEST_LEN]);

/* A proof, owning its arrays (ldg_state_proof_buf_free; zeroed after). */
typedef struct {
    ldg_state_proof p;
    ldg_state_step *steps;
    ldg_state_leaf *leaves;
    uint8_t *keys;
    size_t cap_steps, cap_leaves, keys_len, keys_cap;
} ldg_state_proof_buf;
void ldg_state_proof_buf_free(ldg_state_proof_buf *b);

/* Prove which keys of the state (of the snapshot, or the latest) start with prefix: at most
 * max_leaves of them (else LDG_ETOOBIG). The leaves come with their value hashes; the
 * records they hash are read with the other queries. Errors: LDG_EINVALID (an empty or too
 * long prefix), LDG_ETOOBIG, LDG_ENOMEM, LDG_ESTORE. */
int ldg_store_prove(ldg_store *s, const uint8_t *prefix, size_t plen, size_t max_leaves,
                    ldg_state_proof_buf *b);

/* fwledgerd --verify-state: the state root recomputed from the tables alone, against the
 * tree's (both returned). 0 when they agree, LDG_EPROOF when not; LDG_ESTORE. */
int ldg_store_verify_state(ldg_store *s, uint8_t stored[LDG_DIGEST_LEN],
                           uint8_t computed[LDG_DIGEST_LEN]);

/* The release log (store_log.c; docs/protocol.md, Release log): every publish and every
 * revocation appends the leaf ldg_merkle_leaf(chain hash, the ReleaseRecord's bytes as that
 * transaction stored them), in chain order, inside the block's write transaction; every
 * header's log_size and log_root are the log's after its block (checked on apply, like
 * state_root). Reads are in the snapshot, if one is open. */
#define LDG_LOG_NONE UINT64_MAX /* no such leaf */
/* The log's size and root (RFC 9162 MTH of its leaves). Errors: LDG_ESTORE. */
int ldg_store_log_head(ldg_store *s, uint64_t *size, uint8_t root[LDG_DIGEST_LEN]);
/* The leaves of the release with this file hash: its publish's, and its revocation's
 * (LDG_LOG_NONE while not revoked; the publish's is LDG_LOG_NONE for a release published
 * before the store had a log). Errors: LDG_ENOTFOUND (no such release, or not in the log),
 * LDG_ESTORE. */
int ldg_store_log_leaves(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                         uint64_t *published, uint64_t *revoked);
/* ldg_log_inclusion and ldg_log_consistency over the store's log: size and n at most its
 * size. Errors: LDG_EINVALID (a size past the log's, index >= size, m == 0, m > n),
 * LDG_ETOOBIG (cap), LDG_ESTORE. */
int ldg_store_log_inclusion(ldg_store *s, uint64_t index, uint64_t size, uint8_t *path,
                            size_t cap, size_t *n);
int ldg_store_log_consistency(ldg_store *s, uint64_t m, uint64_t n, uint8_t *path, size_t cap,
                              size_t *count);

/* The outcome totals of the release with this file hash: the sums of every report on it
 * (all zero when there is none, or no such release). Errors: LDG_ESTORE. */
int ldg_store_outcomes(ldg_store *s, uint32_t alg, const uint8_t *digest, size_t len,
                       fwl_OutcomeTotals *out);

#endif
