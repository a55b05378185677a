/* ledger/ internal: the store's state and the helpers its files share.
 *   store.c       open/close, building, committing and applying blocks
 *   rules.c       the stateful rules of each transaction type
 *   store_read.c  the read queries
 *   store_state.c the authenticated state; store_log.c the release log
 * See store.c for the table layout. */
#ifndef FWL_LEDGER_STORE_INTERNAL_H
#define FWL_LEDGER_STORE_INTERNAL_H

#include <lmdb.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/ledger.h"
#include "ledger/internal.h"

enum { DB_META, DB_BLOCKS, DB_BLOCK_IDX, DB_TXS, DB_RELEASES, DB_BY_PRODUCT, DB_BY_HW,
       DB_ALL, DB_LINES, DB_AUTHORS, DB_NONCES, DB_CONTRACTS, DB_CONTRACT_VERS, DB_BINDINGS,
       DB_TRACKERS, DB_OUTCOMES, DB_STATE, DB_LOG, DB_LOG_IDX, DB_COUNT };

#define FILE_KEY_MAX (4 + LDG_HASH_MAX)
/* Every name a key is made of (product, hardware model, contract) is at most 64 characters:
 * NAME_SIZE bytes with its NUL, the size the schema gives each of them. */
#define NAME_SIZE sizeof ((fwl_Release *)0)->product
_Static_assert(sizeof ((fwl_HardwareSupport *)0)->model == NAME_SIZE &&
                   sizeof ((fwl_AuthorTx *)0)->product == NAME_SIZE &&
                   sizeof ((fwl_ContractTx *)0)->name == NAME_SIZE &&
                   sizeof ((fwl_BindTx *)0)->product == NAME_SIZE &&
                   sizeof ((fwl_BindTx *)0)->hardware_model == NAME_SIZE &&
                   sizeof ((fwl_BindTx *)0)->contract == NAME_SIZE &&
                   sizeof ((fwl_ContractRecord *)0)->name == NAME_SIZE &&
                   sizeof ((fwl_BindingRecord *)0)->product == NAME_SIZE &&
                   sizeof ((fwl_BindingRecord *)0)->hardware_model == NAME_SIZE,
               "the names keys are made of share one max_size in fwledger.options");
/* ldg__idx_key's longest result (a name, its NUL, height and index) with a byte to spare. */
#define IDX_KEY_MAX (NAME_SIZE + 1 + 12)
_Static_assert(IDX_KEY_MAX <= LDG_CURSOR_MAX, "a list cursor is an index key");
/* ldg__pair_key's longest result: a name with its NUL, then a name of up to 64 characters
 * (product 0x00 model) or a 32-byte key id. */
#define PAIR_KEY_MAX (NAME_SIZE + NAME_SIZE - 1)
_Static_assert(NAME_SIZE - 1 >= LDG_DIGEST_LEN, "a key id fits where a name does");
/* A state tree node's id: its bit count (2 bytes) and prefix (store_state.c). */
#define ID_MAX (2 + LDG_STATE_KEY_MAX)
#define TIP_LEN (8 + LDG_DIGEST_LEN + 8 + 8)
#define LIST_MAX 256
#define LIST_DEFAULT 100
/* The largest encoded record any table holds (ldg__put_pb's buffer). */
#define RECORD_MAX fwl_ReleaseRecord_size
_Static_assert(fwl_ContractRecord_size <= RECORD_MAX, "RECORD_MAX");

struct ldg_store {
    MDB_env *env;
    MDB_dbi db[DB_COUNT];
    ldg_genesis g;
    uint8_t genesis_hash[LDG_DIGEST_LEN];
    uint8_t validators_hash[LDG_DIGEST_LEN]; /* every header names it (ldg_validators_hash) */
    int lock_fd;
    MDB_txn *rtxn; /* reusable read transaction, reset when idle */
    int rdepth;    /* nesting of ldg__rbegin on rtxn (0: reset)        */
    long fail_after;
    ldg_tip tip;
    fwl_ReleaseRecord rec; /* scratch (large): the store is single-threaded */
    MDB_txn *built;        /* the write transaction of ldg_store_build_block, or NULL */
    uint64_t built_height, built_time, built_releases;
    uint8_t built_hash[LDG_DIGEST_LEN];
    ldg_tx scratch_tx;
    ldg_contract_check contract_check; /* compiles deploys; NULL: every deploy is refused */
    void *contract_ctx;
    /* The last compiler message (static lifetime for ldg_store_check_tx's why: the store is
     * single-threaded, and the message is read before the next call). */
    char contract_err[LDG_CONTRACT_ERR_MAX];
    fwl_ContractRecord contract; /* scratch (large) */
    bool reader;                 /* a second handle (ldg_store_reader): reads only    */
    struct state_cache *sc;      /* the block's nodes of the state tree (store_state.c) */
    bool no_state_tree;          /* ldg_store_bench_state_tree(s, false)              */
};

/* A write in progress: the transaction, the block's height and time. */
typedef struct {
    ldg_store *s;
    MDB_txn *txn;
    uint64_t height;
    uint64_t time_ms;
    uint64_t releases; /* running count */
    bool check_only;   /* a read transaction: run the rules, write nothing */
    const char *why;   /* set by a rule that refuses: what failed (static or in the store) */
} wctx;

/* The shared helpers (store.c). */
int ldg__put(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl, unsigned flags);
/* Delete a key that exists (the rules looked it up). LDG_ESTORE on failure. */
int ldg__del(wctx *w, int db, const void *k, size_t kl);
/* 0 and *v set when found, LDG_ENOTFOUND when not, LDG_ESTORE on failure. */
int ldg__get(ldg_store *s, MDB_txn *txn, int db, const void *k, size_t kl, MDB_val *v);
size_t ldg__file_key(uint8_t *out, const fwl_Hash *h);
/* The same from an algorithm and a digest; 0 for a digest longer than any hash's. */
size_t ldg__raw_file_key(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len);
/* name 0x00 height index: an index key in chain order within a name (no name: all). */
size_t ldg__idx_key(uint8_t *out, const char *name, uint64_t height, uint32_t index);
/* a 0x00 b */
size_t ldg__pair_key(uint8_t *out, const char *a, const void *b, size_t bl);
bool ldg__pb_dec(const MDB_val *v, const pb_msgdesc_t *f, void *dst);
int ldg__put_pb(wctx *w, int db, const void *k, size_t kl, const pb_msgdesc_t *f, const void *src);
int ldg__read_tip(ldg_store *s, MDB_txn *txn, ldg_tip *t);
/* The store's reusable read transaction: begin (renew) and end (reset). */
int ldg__rbegin(ldg_store *s, MDB_txn **txn);
void ldg__rend(ldg_store *s);

/* rules.c: every stateful rule for one tx, and its writes, in w's transaction. The tx was
 * parsed at w->height (so its algorithms are allowed there).
 * Invariant: every rule is checked before the first write, so a refused tx (any error but
 * LDG_ESTORE / LDG_ENOMEM) has written nothing and the transaction stays usable for the
 * next one; a storage error after a write poisons it (the caller aborts the block). */
int ldg__apply_tx(wctx *w, const ldg_tx *tx, uint32_t index);

/* store_state.c: the authenticated state, in w's transaction (nothing when check_only).
 * ldg__put and ldg__del call the hooks: a table in the state gets its leaf set to the hash
 * of the value written (vhash: that hash, when non-NULL) or removed. A release's lines
 * (the 'h' leaves) are set by ldg__state_lines. ldg__state_begin starts a block,
 * ldg__state_finish hashes what it changed and gives the root. */
int ldg__state_put_hook(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl,
                        uint8_t vhash[LDG_DIGEST_LEN]);
int ldg__state_del_hook(wctx *w, int db, const void *k, size_t kl);
int ldg__state_lines(wctx *w, const fwl_Release *r, uint64_t height, uint32_t index,
                     const uint8_t vhash[LDG_DIGEST_LEN]);
int ldg__state_set(wctx *w, const uint8_t *key, size_t kl, const uint8_t vhash[LDG_DIGEST_LEN]);
int ldg__state_del(wctx *w, const uint8_t *key, size_t kl);
void ldg__state_begin(ldg_store *s);
void ldg__state_free(ldg_store *s);
int ldg__state_finish(wctx *w, uint8_t root[LDG_DIGEST_LEN]);
int ldg__state_root(ldg_store *s, MDB_txn *txn, uint8_t root[LDG_DIGEST_LEN]);
/* The root recomputed from the tables alone (not the tree's nodes). */
int ldg__state_recompute(ldg_store *s, MDB_txn *txn, uint8_t root[LDG_DIGEST_LEN]);
/* Build the tree from the tables (a store written before the tree existed). */
int ldg__state_rebuild(wctx *w, uint8_t root[LDG_DIGEST_LEN]);
/* The state tree's nodes (store_state.c): an id is be16(bit) then the prefix's bytes (a
 * leaf's: be16(0x8000 | 8 * key length) then the key), stored under be64(version) || id;
 * a node as stored. */
typedef struct {
    uint64_t ver; /* the height of the block that wrote this version of it (the key's head) */
    uint8_t b[ID_MAX];
    size_t len;
} node_id;
typedef struct {
    bool leaf;
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t vhash[LDG_DIGEST_LEN]; /* leaf: the record's hash      */
    uint8_t ch[2][LDG_DIGEST_LEN]; /* inner: the children's hashes */
    node_id child[2];              /* inner: the children's ids    */
} node;
size_t ldg__id_bit(const uint8_t *id);
int ldg__node_get(ldg_store *s, MDB_txn *txn, const node_id *id, node *n);
/* The root's id; LDG_ENOTFOUND for the empty state. */
int ldg__node_root_id(ldg_store *s, MDB_txn *txn, node_id *id);
/* The stored record a state key's leaf hashes (v points into txn's pages). */
int ldg__state_value(ldg_store *s, MDB_txn *txn, const uint8_t *key, size_t kl, MDB_val *v);
/* ldg__put_pb, and the hash of the bytes written when the table is in the state. */
int ldg__put_pb_h(wctx *w, int db, const void *k, size_t kl, const pb_msgdesc_t *f,
                  const void *src, uint8_t vhash[LDG_DIGEST_LEN]);

/* store_log.c: the release log, in w's transaction (nothing when check_only). Append the
 * leaf of the release record now stored under file key fk (the bytes the publish or the
 * revocation just wrote) and remember its index: the release's publish leaf, or its
 * revocation's when revoke. Called after the rule's checks, so every error is the store's
 * (LDG_ESTORE or a disk error): the block is aborted. */
int ldg__log_record(wctx *w, const uint8_t *fk, size_t fkl, bool revoke);
/* The log's size and root in txn: what the header of the block being written names. */
int ldg__log_head(ldg_store *s, MDB_txn *txn, uint64_t *size, uint8_t root[LDG_DIGEST_LEN]);

#endif
