/*
 * Blocks in the node: building a proposal from the mempool, staging a peer's proposal,
 * committing a decided block with its certificate, and applying a block from sync. Each
 * commit then takes the block's transactions out of the mempool and answers their waiters.
 * A decided block that the disk refuses is kept and written again (stall.c).
 */
#include <openssl/sha.h>

#include "node/daemon/chain_internal.h"

/* Run the mempool head through the rules at the next height (ldg_store_build_block), drop
 * what they refuse (answering waiters) and encode the block of the rest. The block's time is
 * our clock, never ahead of it, except that the store raises it to the previous block's time
 * when our clock is behind that (block time never goes backwards): a time the other
 * validators found timely already. When our clock is behind it by more than the drift, the
 * others judge the block by their clocks, and we log it: our clock needs fixing (we refuse
 * their fresh proposals meanwhile, see proposal_timely in chain.c). */
int node__build_block(node_chain *ch, uint64_t height, uint8_t **blk, size_t *len,
                              uint8_t hash[LDG_DIGEST_LEN])
{
    size_t max = ch->cfg.node->max_block_txs;
    node_mempool_tx *e = malloc((max + 1) * sizeof *e);
    const uint8_t **raw = malloc((max + 1) * sizeof *raw);
    size_t *lens = malloc((max + 1) * sizeof *lens);
    int *res = malloc((max + 1) * sizeof *res);
    uint8_t hdr[LDG_HEADER_MAX];
    size_t hdr_len;
    int rc = e && raw && lens && res ? 0 : LDG_ENOMEM;
    size_t n = rc ? 0 : node_mempool_head(ch->cfg.mp, max, e);
    uint64_t now = node__chain_now(ch);
    ldg_tip t;
    for (size_t i = 0; i < n; i++)
        raw[i] = e[i].raw, lens[i] = e[i].len;
    if (!rc && !ldg_store_tip(ch->cfg.store, &t) && t.time_ms > now &&
        t.time_ms - now > ch->cfg.node->block_time_drift_ms)
        node__log("building block %" PRIu64 ": the previous block's time is %" PRIu64
                  " ms ahead of our clock (drift %" PRIu32 " ms): this block takes that time; "
                  "check this node's clock", height, t.time_ms - now,
                  ch->cfg.node->block_time_drift_ms);
    if (!rc)
        rc = ldg_store_build_block(ch->cfg.store, raw, lens, n, now, &ch->cfg.vkey->pub, res, hdr,
                                   &hdr_len, hash);
    size_t m = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (res[i] == 0)
            raw[m] = raw[i], lens[m++] = lens[i];
        else if (res[i] != LDG_ETOOBIG) /* refused by a rule: answer and drop */
            node_mempool_refuse(ch->cfg.mp, e[i].raw_hash, res[i]);
    }
    if (!rc)
        rc = ldg_block_encode(hdr, hdr_len, raw, lens, m, NULL, 0, 0, blk, len);
    if (rc) {
        ldg_store_abort_built(ch->cfg.store);
        if (ldg_is_disk_error(rc))
            node__stall_failed(ch, rc, height, "building");
        else
            node__log("building block %" PRIu64 " failed: %s", height, node_strerror(rc));
    }
    free(e), free(raw), free(lens), free(res);
    return rc;
}


/* Which txs of a block this node verified already (they are in its mempool). NULL when
 * none is. */
static bool *known_txs(node_chain *ch, const ldg_block *b)
{
    bool *pre = calloc(b->n_txs + 1, 1), any = false;
    for (size_t i = 0; pre && i < b->n_txs; i++) {
        uint8_t rh[SHA256_DIGEST_LENGTH];
        SHA256(b->tx_raw[i], b->tx_len[i], rh);
        any |= pre[i] = node_mempool_holds_raw(ch->cfg.mp, rh);
    }
    if (pre && !any) {
        free(pre);
        pre = NULL;
    }
    return pre;
}

int node__stage_block(node_chain *ch, const uint8_t *blk, size_t len)
{
    ldg_block b;
    uint8_t hash[LDG_DIGEST_LEN];
    int rc = ldg_block_decode(blk, len, &b);
    if (rc)
        return rc;
    bool *pre = known_txs(ch, &b);
    rc = ldg_store_stage_block(ch->cfg.store, blk, len, pre, hash);
    free(pre);
    if (ldg_is_disk_error(rc))
        node__stall_failed(ch, rc, b.hdr.height, "staging");
    ldg_block_free(&b);
    return rc;
}

/* After a block is in the store: its txs leave the mempool, waiters learn it, the chain
 * moves on. */
static void applied(node_chain *ch, const ldg_block *b)
{
    node_mempool_block_committed(ch->cfg.mp, b);
    ch->committed_txs += b->n_txs;
    node__stall_committed(ch, b->hdr.height);
    node__chain_committed(ch, b->hdr.height);
}

int node__commit_block(node_chain *ch, const uint8_t *blk, size_t len, const fwl_Signature *cert,
                       size_t n_cert, uint32_t round)
{
    ldg_block b;
    uint8_t *full = NULL, staged[LDG_DIGEST_LEN], hash[LDG_DIGEST_LEN];
    size_t flen;
    int rc = ldg_block_decode(blk, len, &b);
    if (rc)
        return rc;
    rc = ldg_block_encode(b.hdr_raw, b.hdr_len, b.tx_raw, b.tx_len, b.n_txs, cert, n_cert, round,
                          &full, &flen);
    if (!rc)
        rc = ldg_block_hash(ch->cfg.g, b.hdr_raw, b.hdr_len, hash);
    if (!rc && !ldg_store_built(ch->cfg.store, staged) && !memcmp(staged, hash, LDG_DIGEST_LEN)) {
        rc = ldg_store_commit_built(ch->cfg.store, full, flen); /* built or staged: one pass */
    } else if (!rc) {
        bool *pre = known_txs(ch, &b);
        rc = ldg_store_apply_block(ch->cfg.store, full, flen, pre);
        free(pre);
    }
    if (ldg_is_disk_error(rc)) {
        /* Decided, certified, and not written: keep it and write it again (stall.c). */
        node__stall_failed(ch, rc, b.hdr.height, "committing");
        node__stall_keep(ch, full, flen, b.hdr.height, known_txs(ch, &b));
        full = NULL;
    }
    free(full);
    if (!rc)
        applied(ch, &b);
    ldg_block_free(&b);
    return rc;
}

int node__apply_certified(node_chain *ch, const uint8_t *blk, size_t len, const bool *pre)
{
    ldg_block b;
    int rc = ldg_block_decode(blk, len, &b);
    if (rc)
        return rc;
    rc = ldg_store_apply_block(ch->cfg.store, blk, len, pre);
    if (!rc)
        applied(ch, &b);
    ldg_block_free(&b);
    return rc;
}

int node__apply_synced(node_chain *ch, const uint8_t *blk, size_t len, bool sigs_verified)
{
    ldg_block b;
    int rc = ldg_block_decode(blk, len, &b);
    if (rc)
        return rc;
    bool *pre = NULL;
    if (sigs_verified && (pre = malloc(b.n_txs + 1)))
        memset(pre, 1, b.n_txs + 1);
    rc = ldg_store_apply_block(ch->cfg.store, blk, len, pre);
    if (!rc) {
        applied(ch, &b);
    } else if (ldg_is_disk_error(rc)) {
        /* Certified and verified, not written: keep it and write it again (stall.c). */
        uint8_t *copy = malloc(len ? len : 1);
        node__stall_failed(ch, rc, b.hdr.height, "applying synced");
        if (copy) {
            memcpy(copy, blk, len);
            node__stall_keep(ch, copy, len, b.hdr.height, pre);
            pre = NULL;
        }
    }
    free(pre);
    ldg_block_free(&b);
    return rc;
}
