/*
 * The store: chain state and indexes in LMDB; building, committing and applying blocks.
 * The stateful rules are in rules.c, the read queries in store_read.c.
 *
 * Invariant: the database only ever holds whole blocks. A block's state changes, indexes,
 * the block itself and the new tip are written in ONE LMDB write transaction; any failure
 * aborts it, so a crash or an error at any point leaves the previous block's state whole.
 *
 * Tables (all keys big-endian where numeric, so that LMDB's order is chain order):
 *   meta        "genesis" -> genesis hash;  "tip" -> height(8) hash(32) time(8) releases(8);
 *               "revoked_at", "policy_at" -> height(8) of the last revocation, and of the
 *               last contract deploy or (un)binding (for caches of eligibility)
 *   blocks      height(8) -> encoded Block
 *   block_idx   block hash(32) -> height(8)
 *   txs         tx hash(32) -> height(8) index(4)
 *   releases    file key = alg(4) digest -> ReleaseRecord
 *   by_product  product 0x00 height(8) index(4) -> file key
 *   by_hw       model 0x00 height(8) index(4) -> file key
 *   all_rel     height(8) index(4) -> file key
 *   lines       product 0x00 model -> LineRecord (newest version on that hardware line)
 *   authors     product 0x00 key id(32) -> AuthorRecord
 *   nonces      key id(32) -> last nonce(8)
 *   contracts   name -> ContractRecord (the latest version)
 *   contract_versions  name 0x00 version(4) -> ContractRecord (every version)
 *   bindings    product 0x00 model ("" for the whole product) -> BindingRecord
 *   trackers    key id(32) -> TrackerRecord
 *   outcomes    file key -> OutcomeTotals
 *   state       the authenticated state's tree (store_state.c)
 *   log         level(1) index(8) -> hash: the release log's perfect subtrees (store_log.c);
 *               meta "log_size" -> its size(8)
 *   log_idx     file key -> leaf index(8) of its publish [leaf index(8) of its revocation]
 *
 * Threading: a store is used by one thread at a time (the node's loop thread); it keeps one
 * reusable read transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ledger/store_internal.h"


static const char *const db_names[DB_COUNT] = {
    "meta", "blocks", "block_idx", "txs", "releases", "by_product", "by_hw",
    "all_rel", "lines", "authors", "nonces", "contracts", "contract_versions", "bindings",
    "trackers", "outcomes", "state", "log", "log_idx"};

/* Less than this free in the data directory's filesystem: it is full (see lmdb_err). */
#define NEARLY_FULL (1u << 20)

/* The LDG_E* code for a failed LMDB call, so that the log and the operator see the cause.
 * LMDB returns system errors as errno values, except a short write: mdb_page_flush turns
 * one into EIO ("short write, filesystem full?"), which is what a filesystem that fills in
 * the middle of a commit gives. So an EIO while the filesystem has (almost) no room left is
 * reported as ENOSPC. */
static int lmdb_err(const ldg_store *s, int rc)
{
    struct statvfs st;
    switch (rc) {
    case 0: return 0;
    case MDB_MAP_FULL: return LDG_EMAPFULL;
    case ENOSPC: case EDQUOT: case ENOMEM: return ldg_errno_code(rc);
    case EIO:
        if (s->lock_fd >= 0 && !fstatvfs(s->lock_fd, &st) &&
            (uint64_t)st.f_bavail * st.f_frsize < NEARLY_FULL)
            return LDG_ENOSPC;
        return LDG_EIO;
    default: return LDG_ESTORE;
    }
}

/* The test hook (ldg_store_fail_after): true when this write is the one to fail. */
static bool injected_failure(ldg_store *s)
{
    if (s->fail_after == 0) {
        s->fail_after = -1;
        return true;
    }
    if (s->fail_after > 0)
        s->fail_after--;
    return false;
}

static int put_h(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl,
                 unsigned flags, uint8_t *vhash)
{
    if (w->check_only)
        return 0;
    if (injected_failure(w->s))
        return LDG_ESTORE;
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc = lmdb_err(w->s, mdb_put(w->txn, w->s->db[db], &key, &val, flags));
    return rc ? rc : ldg__state_put_hook(w, db, k, kl, v, vl, vhash);
}

int ldg__put(wctx *w, int db, const void *k, size_t kl, const void *v, size_t vl,
               unsigned flags)
{
    return put_h(w, db, k, kl, v, vl, flags, NULL);
}

int ldg__del(wctx *w, int db, const void *k, size_t kl)
{
    if (w->check_only)
        return 0;
    if (injected_failure(w->s))
        return LDG_ESTORE;
    MDB_val key = {kl, (void *)k};
    int rc = lmdb_err(w->s, mdb_del(w->txn, w->s->db[db], &key, NULL));
    return rc ? rc : ldg__state_del_hook(w, db, k, kl);
}

/* 0 and *v set when found, LDG_ENOTFOUND when not, a disk error on failure. */
int ldg__get(ldg_store *s, MDB_txn *txn, int db, const void *k, size_t kl, MDB_val *v)
{
    MDB_val key = {kl, (void *)k};
    int rc = mdb_get(txn, s->db[db], &key, v);
    return rc == MDB_NOTFOUND ? LDG_ENOTFOUND : lmdb_err(s, rc);
}

size_t ldg__file_key(uint8_t *out, const fwl_Hash *h)
{
    return ldg__raw_file_key(out, h->alg, h->digest.bytes, h->digest.size);
}

size_t ldg__raw_file_key(uint8_t *out, uint32_t alg, const uint8_t *digest, size_t len)
{
    if (len > LDG_HASH_MAX)
        return 0;
    ldg_be32(out, alg);
    memcpy(out + 4, digest, len);
    return 4 + len;
}

/* name 0x00 height index: an index key in chain order within a name. */
size_t ldg__idx_key(uint8_t *out, const char *name, uint64_t height, uint32_t index)
{
    size_t n = name ? strlen(name) + 1 : 0;
    if (name)
        memcpy(out, name, n);
    ldg_be64(out + n, height);
    ldg_be32(out + n + 8, index);
    return n + 12;
}

size_t ldg__pair_key(uint8_t *out, const char *a, const void *b, size_t bl)
{
    size_t n = strlen(a) + 1;
    memcpy(out, a, n);
    memcpy(out + n, b, bl);
    return n + bl;
}

bool ldg__pb_dec(const MDB_val *v, const pb_msgdesc_t *f, void *dst)
{
    pb_istream_t st = pb_istream_from_buffer(v->mv_data, v->mv_size);
    return pb_decode(&st, f, dst);
}

int ldg__put_pb_h(wctx *w, int db, const void *k, size_t kl, const pb_msgdesc_t *f,
                  const void *src, uint8_t vhash[LDG_DIGEST_LEN])
{
    uint8_t buf[RECORD_MAX];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, f, src))
        return LDG_ESTORE;
    return put_h(w, db, k, kl, buf, os.bytes_written, 0, vhash);
}

int ldg__put_pb(wctx *w, int db, const void *k, size_t kl, const pb_msgdesc_t *f,
                  const void *src)
{
    return ldg__put_pb_h(w, db, k, kl, f, src, NULL);
}

int ldg__read_tip(ldg_store *s, MDB_txn *txn, ldg_tip *t)
{
    MDB_val v;
    memset(t, 0, sizeof *t);
    int rc = ldg__get(s, txn, DB_META, "tip", 3, &v);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc || v.mv_size != TIP_LEN)
        return LDG_ESTORE;
    const uint8_t *p = v.mv_data;
    t->height = ldg_rd64(p);
    memcpy(t->hash, p + 8, LDG_DIGEST_LEN);
    t->time_ms = ldg_rd64(p + 8 + LDG_DIGEST_LEN);
    t->releases = ldg_rd64(p + 16 + LDG_DIGEST_LEN);
    return 0;
}

int ldg__rbegin(ldg_store *s, MDB_txn **txn)
{
    if (s->rdepth > 0) { /* nested (a read inside a read, or inside a snapshot): share it */
        s->rdepth++;
        *txn = s->rtxn;
        return 0;
    }
    int rc = s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc) {
        if (s->rtxn)
            mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
        return lmdb_err(s, rc);
    }
    s->rdepth = 1;
    *txn = s->rtxn;
    return 0;
}

void ldg__rend(ldg_store *s)
{
    if (s->rdepth > 0 && --s->rdepth == 0)
        mdb_txn_reset(s->rtxn);
}

int ldg_store_snapshot_begin(ldg_store *s)
{
    MDB_txn *txn;
    return ldg__rbegin(s, &txn);
}

void ldg_store_snapshot_end(ldg_store *s)
{
    ldg__rend(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Open / close                                                                              */

static int write_genesis_state(ldg_store *s, MDB_txn *txn)
{
    wctx w = {s, txn, 0, s->g.genesis_time_ms, 0};
    uint8_t root[LDG_DIGEST_LEN];
    ldg__state_begin(s);
    int rc = ldg__put(&w, DB_META, "genesis", 7, s->genesis_hash, LDG_DIGEST_LEN, 0);
    for (size_t i = 0; !rc && i < s->g.n_authors; i++) {
        const ldg_genesis_author *a = &s->g.authors[i];
        fwl_AuthorRecord r = fwl_AuthorRecord_init_zero;
        uint8_t id[LDG_DIGEST_LEN], k[PAIR_KEY_MAX];
        snprintf(r.product, sizeof r.product, "%s", a->product);
        snprintf(r.name, sizeof r.name, "%s", a->name);
        r.has_key = true;
        r.key.alg = a->key.alg;
        memcpy(r.key.key.bytes, a->key.key, a->key.len);
        r.key.key.size = (pb_size_t)a->key.len;
        if ((rc = ldg_key_id(&s->g, a->key.alg, a->key.key, a->key.len, id)))
            break;
        rc = ldg__put_pb(&w, DB_AUTHORS, k, ldg__pair_key(k, a->product, id, sizeof id),
                    fwl_AuthorRecord_fields, &r);
    }
    return rc ? rc : ldg__state_finish(&w, root);
}

int ldg_store_open(ldg_store **out, const char *dir, const ldg_genesis *g, size_t map_size)
{
    char path[PATH_MAX];
    int rc;
    *out = NULL;
    if (mkdir(dir, 0700) && errno != EEXIST)
        return ldg_errno_code(errno);
    ldg_store *s = calloc(1, sizeof *s);
    if (!s)
        return LDG_ENOMEM;
    s->g = *g;
    s->fail_after = -1;
    s->lock_fd = -1;
    uint8_t gh[LDG_HASH_MAX];
    size_t ghl;
    if ((rc = ldg_genesis_hash(g, gh, &ghl)) || (rc = ldg_validators_hash(g, s->validators_hash)))
        goto fail;
    memcpy(s->genesis_hash, gh, LDG_DIGEST_LEN);

    snprintf(path, sizeof path, "%s/LOCK", dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        rc = ldg_errno_code(errno);
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
        rc = LDG_ELOCKED;
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, DB_COUNT)) ||
        (rc = mdb_env_set_mapsize(s->env, map_size ? map_size : (size_t)8 << 30)) ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600))) {
        rc = lmdb_err(s, rc);
        goto fail;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
        rc = lmdb_err(s, rc);
        goto fail;
    }
    for (int i = 0; i < DB_COUNT; i++)
        if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->db[i]))) {
            rc = lmdb_err(s, rc);
            mdb_txn_abort(txn);
            goto fail;
        }
    MDB_val v;
    int grc = ldg__get(s, txn, DB_META, "genesis", 7, &v);
    if (grc == LDG_ENOTFOUND) {
        if ((rc = write_genesis_state(s, txn))) {
            mdb_txn_abort(txn);
            goto fail;
        }
    } else if (grc || v.mv_size != LDG_DIGEST_LEN || memcmp(v.mv_data, s->genesis_hash, LDG_DIGEST_LEN)) {
        mdb_txn_abort(txn);
        rc = grc ? grc : LDG_EGENESIS;
        goto fail;
    } else if ((rc = ldg__get(s, txn, DB_META, "state_root", 10, &v)) == LDG_ENOTFOUND) {
        /* A store from before the state tree (or with an empty state): build it. */
        wctx w = {s, txn, 0, 0, 0};
        uint8_t root[LDG_DIGEST_LEN];
        rc = ldg__state_rebuild(&w, root);
    }
    if (rc) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = ldg__read_tip(s, txn, &s->tip))) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) {
        rc = lmdb_err(s, rc);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    ldg_store_close(s);
    return rc;
}

int ldg_store_reader(ldg_store *s, ldg_store **out)
{
    ldg_store *r = malloc(sizeof *r);
    if (!r)
        return LDG_ENOMEM;
    memcpy(r, s, sizeof *r); /* the environment, tables and genesis; scratch is its own */
    r->rtxn = NULL;
    r->rdepth = 0;
    r->built = NULL;
    r->lock_fd = -1;
    r->contract_check = NULL;
    r->fail_after = -1;
    r->reader = true;
    r->sc = NULL;
    *out = r;
    return 0;
}

void ldg_store_close(ldg_store *s)
{
    if (!s)
        return;
    if (s->rtxn)
        mdb_txn_abort(s->rtxn);
    if (s->built)
        mdb_txn_abort(s->built);
    if (s->reader) { /* the environment belongs to the store */
        free(s);
        return;
    }
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    ldg__state_free(s);
    free(s);
}

size_t ldg_store_map_size(ldg_store *s)
{
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) ? 0 : info.me_mapsize;
}

int ldg_store_tip(ldg_store *s, ldg_tip *tip)
{
    if (!s->reader) {
        *tip = s->tip; /* kept by the commits of this handle */
        return 0;
    }
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = ldg__read_tip(s, txn, tip);
    ldg__rend(s);
    return rc;
}

void ldg_store_fail_after(ldg_store *s, long k) { s->fail_after = k; }

void ldg_store_set_contract_check(ldg_store *s, ldg_contract_check fn, void *ctx)
{
    s->contract_check = fn;
    s->contract_ctx = ctx;
}

/* ---------------------------------------------------------------------------------------- */
/* Blocks                                                                                    */

static int tx_root(const ldg_genesis *g, const uint8_t *const *raw, const size_t *lens, size_t n,
                   uint8_t root[LDG_DIGEST_LEN])
{
    uint8_t *leaves = malloc(n ? n * LDG_DIGEST_LEN : 1);
    if (!leaves)
        return LDG_ENOMEM;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = ldg_merkle_leaf(g->hash_alg, raw[i], lens[i], leaves + i * LDG_DIGEST_LEN);
    if (!rc)
        rc = ldg_merkle_root(g->hash_alg, leaves, n, root);
    free(leaves);
    return rc;
}

static void set_hash(fwl_Hash *h, uint32_t alg, const uint8_t *d)
{
    h->alg = alg;
    memcpy(h->digest.bytes, d, LDG_DIGEST_LEN);
    h->digest.size = LDG_DIGEST_LEN;
}

/* The previous block's hash: the genesis hash for block 1. */
static const uint8_t *prev_hash(const ldg_store *s)
{
    return s->tip.height ? s->tip.hash : s->genesis_hash;
}

/* An error that is not the transaction's fault: the whole build stops (the write
 * transaction may be poisoned, e.g. by MDB_MAP_FULL, and is aborted). */
static bool fatal(int rc) { return ldg_is_disk_error(rc) || rc == LDG_ENOMEM; }

/* Keep w's open write transaction as the block built or staged, until commit or abort. */
static void keep_built(ldg_store *s, const wctx *w, const uint8_t hash[LDG_DIGEST_LEN])
{
    s->built = w->txn;
    s->built_height = w->height;
    s->built_time = w->time_ms;
    s->built_releases = w->releases;
    memcpy(s->built_hash, hash, LDG_DIGEST_LEN);
}

void ldg_store_abort_built(ldg_store *s)
{
    if (s->built) {
        mdb_txn_abort(s->built);
        s->built = NULL;
    }
}

/* What a header says of its block's transactions and of the state and log after them. */
typedef struct {
    uint8_t tx_root[LDG_DIGEST_LEN], state_root[LDG_DIGEST_LEN], log_root[LDG_DIGEST_LEN];
    uint64_t log_size;
} block_roots;

/* The state's root (hashing what w's block changed) and the log's size and root after it;
 * r->tx_root is left alone. */
static int after_roots(wctx *w, block_roots *r)
{
    int rc = ldg__state_finish(w, r->state_root);
    return rc ? rc : ldg__log_head(w->s, w->txn, &r->log_size, r->log_root);
}

/* The header of the block built in w over m transactions of body bytes. */
static int encode_header(const ldg_store *s, const wctx *w, const block_roots *r, size_t m,
                         size_t body, const ldg_pubkey *proposer, uint8_t *hdr, size_t *hdr_len)
{
    fwl_BlockHeader h = fwl_BlockHeader_init_zero;
    h.version = LDG_BLOCK_VERSION;
    snprintf(h.chain_id, sizeof h.chain_id, "%s", s->g.chain_id);
    h.height = w->height;
    h.time_ms = w->time_ms;
    h.has_prev_hash = h.has_tx_root = h.has_state_root = h.has_proposer = true;
    set_hash(&h.prev_hash, s->g.hash_alg, prev_hash(s));
    set_hash(&h.tx_root, s->g.hash_alg, r->tx_root);
    set_hash(&h.state_root, s->g.hash_alg, r->state_root);
    h.tx_count = (uint32_t)m;
    h.body_size = body;
    h.proposer.alg = proposer->alg;
    memcpy(h.proposer.key.bytes, proposer->key, proposer->len);
    h.proposer.key.size = (pb_size_t)proposer->len;
    h.log_size = r->log_size;
    h.has_log_root = true;
    set_hash(&h.log_root, s->g.hash_alg, r->log_root);
    h.has_validators_hash = true;
    set_hash(&h.validators_hash, s->g.hash_alg, s->validators_hash);
    pb_ostream_t os = pb_ostream_from_buffer(hdr, LDG_HEADER_MAX);
    int rc = pb_encode(&os, fwl_BlockHeader_fields, &h) ? 0 : LDG_ETOOBIG;
    *hdr_len = os.bytes_written;
    return rc;
}

int ldg_store_build_block(ldg_store *s, const uint8_t *const *txs, const size_t *tx_lens,
                          size_t n, uint64_t time_ms, const ldg_pubkey *proposer, int *results,
                          uint8_t *hdr, size_t *hdr_len, uint8_t hash[LDG_DIGEST_LEN])
{
    if (s->reader)
        return LDG_EINVALID;
    ldg_store_abort_built(s);
    if (n > LDG_BLOCK_MAX_TXS || proposer->len > LDG_PUBKEY_MAX)
        return LDG_ETOOBIG;
    wctx w = {s, NULL, s->tip.height + 1, time_ms < s->tip.time_ms ? s->tip.time_ms : time_ms,
              s->tip.releases};
    int rc = mdb_txn_begin(s->env, NULL, 0, &w.txn);
    if (rc)
        return lmdb_err(s, rc);
    const uint8_t **raw = malloc((n ? n : 1) * sizeof *raw);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    size_t m = 0, body = 0;
    rc = (raw && lens) ? 0 : LDG_ENOMEM;
    long fail_saved = s->fail_after; /* the test hook is for ldg_store_apply_block */
    s->fail_after = -1;
    ldg__state_begin(s);
    for (size_t i = 0; !rc && i < n; i++) {
        if (body + tx_lens[i] > LDG_BLOCK_MAX_BYTES - LDG_HEADER_MAX - 1024) {
            results[i] = LDG_ETOOBIG; /* left for the next block */
            continue;
        }
        results[i] = ldg_tx_parse(&s->g, w.height, txs[i], tx_lens[i], &s->scratch_tx, NULL);
        if (!results[i])
            results[i] = ldg__apply_tx(&w, &s->scratch_tx, (uint32_t)m);
        if (fatal(results[i])) {
            rc = results[i];
            break;
        }
        if (results[i])
            continue;
        raw[m] = txs[i];
        lens[m++] = tx_lens[i];
        body += tx_lens[i];
    }
    s->fail_after = fail_saved;

    block_roots r;
    if (!rc)
        rc = tx_root(&s->g, raw, lens, m, r.tx_root);
    if (!rc)
        rc = after_roots(&w, &r);
    if (!rc)
        rc = encode_header(s, &w, &r, m, body, proposer, hdr, hdr_len);
    if (!rc)
        rc = ldg_block_hash(&s->g, hdr, *hdr_len, hash);
    free(raw);
    free(lens);
    if (rc) {
        mdb_txn_abort(w.txn);
        return rc;
    }
    keep_built(s, &w, hash);
    return 0;
}

/* Write the block, its hash index and the tip in w's transaction and commit it. */
static int finish_block(ldg_store *s, wctx *w, const uint8_t hash[LDG_DIGEST_LEN],
                        const uint8_t *block, size_t len)
{
    uint8_t hb[8], tip[TIP_LEN];
    ldg_be64(hb, w->height);
    ldg_be64(tip, w->height);
    memcpy(tip + 8, hash, LDG_DIGEST_LEN);
    ldg_be64(tip + 8 + LDG_DIGEST_LEN, w->time_ms);
    ldg_be64(tip + 16 + LDG_DIGEST_LEN, w->releases);
    int rc = ldg__put(w, DB_BLOCKS, hb, 8, block, len, MDB_APPEND);
    if (!rc)
        rc = ldg__put(w, DB_BLOCK_IDX, hash, LDG_DIGEST_LEN, hb, 8, 0);
    if (!rc)
        rc = ldg__put(w, DB_META, "tip", 3, tip, sizeof tip, 0);
    if (rc) {
        mdb_txn_abort(w->txn);
        return rc;
    }
    /* A failed commit (a full disk: ENOSPC, or EIO from a short write) frees the
     * transaction and leaves the previous block's state as it was. */
    if ((rc = mdb_txn_commit(w->txn)))
        return lmdb_err(s, rc);
    s->tip.height = w->height;
    memcpy(s->tip.hash, hash, LDG_DIGEST_LEN);
    s->tip.time_ms = w->time_ms;
    s->tip.releases = w->releases;
    return 0;
}

int ldg_store_commit_built(ldg_store *s, const uint8_t *block, size_t len)
{
    if (s->reader)
        return LDG_EINVALID;
    if (!s->built)
        return LDG_EBLOCK;
    ldg_block b;
    uint8_t hash[LDG_DIGEST_LEN];
    int rc = ldg_block_decode(block, len, &b);
    if (!rc && !(rc = ldg_block_hash(&s->g, b.hdr_raw, b.hdr_len, hash)) &&
        memcmp(hash, s->built_hash, LDG_DIGEST_LEN))
        rc = LDG_EBLOCK; /* not the block that was built */
    if (!rc)
        rc = ldg_commit_verify(&s->g, s->built_height, b.commit_round, hash, b.commit, b.n_commit);
    ldg_block_free(&b);
    wctx w = {s, s->built, s->built_height, s->built_time, s->built_releases};
    s->built = NULL;
    if (rc) {
        mdb_txn_abort(w.txn);
        return rc;
    }
    return finish_block(s, &w, hash, block, len);
}

static bool hash_is(const fwl_Hash *h, bool has, uint32_t alg, const uint8_t *d)
{
    return has && h->alg == alg && h->digest.size == LDG_DIGEST_LEN &&
           !memcmp(h->digest.bytes, d, LDG_DIGEST_LEN);
}

/* Header checks against the tip and the block's own contents. */
static int check_header(ldg_store *s, const ldg_block *b)
{
    const fwl_BlockHeader *h = &b->hdr;
    const ldg_genesis *g = &s->g;
    uint8_t root[LDG_DIGEST_LEN];
    size_t body = 0;
    if (h->version != LDG_BLOCK_VERSION || strcmp(h->chain_id, g->chain_id) ||
        h->height != s->tip.height + 1 || h->time_ms < s->tip.time_ms ||
        !hash_is(&h->prev_hash, h->has_prev_hash, g->hash_alg, prev_hash(s)) ||
        h->tx_count != b->n_txs || !h->has_state_root || h->state_root.alg != g->hash_alg ||
        h->state_root.digest.size != LDG_DIGEST_LEN || !h->has_log_root ||
        h->log_root.alg != g->hash_alg || h->log_root.digest.size != LDG_DIGEST_LEN ||
        !hash_is(&h->validators_hash, h->has_validators_hash, g->hash_alg, s->validators_hash) ||
        !h->has_proposer)
        return LDG_EBLOCK;
    /* The header's strings as hashed, like a transaction's (ldg_tx_parse): the chain id just
     * compared ends at its first NUL, where a stock decoder of GetBlock sees the rest too,
     * and refuses the header when that is not UTF-8. */
    if (ldg__wire_text_check(fwl_BlockHeader_fields, h, b->hdr_raw, b->hdr_len, NULL))
        return LDG_EBLOCK;
    for (size_t i = 0; i < b->n_txs; i++)
        body += b->tx_len[i];
    if (body != h->body_size)
        return LDG_EBLOCK;
    int rc = tx_root(g, b->tx_raw, b->tx_len, b->n_txs, root);
    if (rc)
        return rc;
    if (!hash_is(&h->tx_root, h->has_tx_root, g->hash_alg, root))
        return LDG_EBLOCK;
    if (ldg_validator_index(g, h->proposer.alg, h->proposer.key.bytes, h->proposer.key.size) < 0)
        return LDG_EBLOCK; /* proposer is not a validator */
    return 0;
}

/* Decode and check a block from elsewhere and run its transactions in a new write
 * transaction (left open in *w on success). certified: also check its commit certificate. */
static int run_block(ldg_store *s, const uint8_t *block, size_t len, const bool *pre_verified,
                     bool certified, wctx *w, uint8_t hash[LDG_DIGEST_LEN])
{
    ldg_block b;
    int rc = ldg_block_decode(block, len, &b);
    if (rc)
        return rc;
    if ((rc = check_header(s, &b)) || (rc = ldg_block_hash(&s->g, b.hdr_raw, b.hdr_len, hash)) ||
        (certified && (rc = ldg_commit_verify(&s->g, b.hdr.height, b.commit_round, hash,
                                              b.commit, b.n_commit)))) {
        ldg_block_free(&b);
        return rc;
    }
    ldg_store_abort_built(s);
    *w = (wctx){s, NULL, b.hdr.height, b.hdr.time_ms, s->tip.releases};
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &w->txn))) {
        ldg_block_free(&b);
        return lmdb_err(s, rc);
    }
    ldg_tx *tx = &s->scratch_tx;
    ldg__state_begin(s);
    for (size_t i = 0; !rc && i < b.n_txs; i++) {
        rc = ldg_tx_parse(&s->g, w->height, b.tx_raw[i], b.tx_len[i], tx, NULL);
        if (!rc && !(pre_verified && pre_verified[i]))
            rc = ldg_tx_verify(tx);
        if (!rc)
            rc = ldg__apply_tx(w, tx, (uint32_t)i);
    }
    /* The state and the log after the block are the ones its header names (check_header
     * checked the lengths). */
    block_roots r;
    if (!rc && !(rc = after_roots(w, &r)) &&
        (memcmp(r.state_root, b.hdr.state_root.digest.bytes, LDG_DIGEST_LEN) ||
         r.log_size != b.hdr.log_size ||
         memcmp(r.log_root, b.hdr.log_root.digest.bytes, LDG_DIGEST_LEN)))
        rc = LDG_EBLOCK;
    if (rc)
        mdb_txn_abort(w->txn);
    ldg_block_free(&b);
    return rc;
}

int ldg_store_apply_block(ldg_store *s, const uint8_t *block, size_t len,
                          const bool *pre_verified)
{
    wctx w;
    uint8_t hash[LDG_DIGEST_LEN];
    if (s->reader)
        return LDG_EINVALID;
    int rc = run_block(s, block, len, pre_verified, true, &w, hash);
    return rc ? rc : finish_block(s, &w, hash, block, len);
}

int ldg_store_check_tx(ldg_store *s, const uint8_t *tx, size_t len, const char **why)
{
    MDB_txn *txn;
    if (s->reader)
        return LDG_EINVALID;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    wctx w = {s, txn, s->tip.height + 1, s->tip.time_ms, s->tip.releases, true, NULL};
    const char *parse_why = "";
    rc = ldg_tx_parse(&s->g, w.height, tx, len, &s->scratch_tx, &parse_why);
    if (!rc)
        rc = ldg__apply_tx(&w, &s->scratch_tx, 0);
    ldg__rend(s);
    if (why)
        *why = !rc ? "" : w.why ? w.why : parse_why;
    return rc;
}

int ldg_store_stage_block(ldg_store *s, const uint8_t *block, size_t len,
                          const bool *pre_verified, uint8_t hash[LDG_DIGEST_LEN])
{
    wctx w;
    if (s->reader)
        return LDG_EINVALID;
    int rc = run_block(s, block, len, pre_verified, false, &w, hash);
    if (!rc)
        keep_built(s, &w, hash);
    return rc;
}

int ldg_store_built(ldg_store *s, uint8_t hash[LDG_DIGEST_LEN])
{
    if (!s->built)
        return LDG_ENOTFOUND;
    memcpy(hash, s->built_hash, LDG_DIGEST_LEN);
    return 0;
}

