/*
 * A commit that the disk refused: the data directory's filesystem is full (ENOSPC), a quota
 * is reached (EDQUOT), LMDB's map is full (map_size_mib) or the disk gives I/O errors.
 *
 * Nothing half-written remains (the block's one write transaction was aborted), but the
 * block was decided, by consensus or by the certificate it came with from sync, and the
 * engine does nothing more at a decided height: if the node dropped it, nothing would ever
 * write it again (a lone validator has no peer to fetch it from). So the block, with its
 * certificate, is kept here and written again every NODE_STALL_RETRY_MS until it goes in;
 * then the chain moves on as after any commit (node__apply_certified), and blocks that sync
 * fetched meanwhile follow.
 *
 * The cause is logged once per change (a new cause, or writing works again), not at every
 * retry, and Status shows it (commit_stalled, commit_stalled_reason) until a block commits.
 * A build or a staging that fails for the disk counts too (nothing is kept: the engine's
 * next round builds or stages again). The vote record's failures are logged the same way.
 */
#include "node/daemon/chain_internal.h"

/* Where the store writes (LMDB's data file in the data directory). */
static void store_file(const node_chain *ch, char *out, size_t n)
{
    if (snprintf(out, n, "%s/data.mdb", ch->cfg.node->data_dir) >= (int)n && n > 4)
        memcpy(out + n - 4, "...", 4);
}

/* What the operator reads: the cause, the file, what to do. */
static void describe(node_chain *ch, int rc, const char *file, char *out, size_t n)
{
    int w;
    switch (rc) {
    case LDG_EMAPFULL:
        w = snprintf(out, n, "LMDB map full (map_size %zu MiB): raise map_size_mib in the node "
                     "config and restart", ldg_store_map_size(ch->cfg.store) >> 20);
        break;
    case LDG_ENOSPC:
    case LDG_EDQUOT:
    case LDG_EIO:
        w = snprintf(out, n, "%s writing %s", rc == LDG_ENOSPC ? "disk full (ENOSPC)" :
                     rc == LDG_EDQUOT ? "disk quota exceeded (EDQUOT)" : "i/o error (EIO)", file);
        break;
    default:
        w = snprintf(out, n, "%s writing %s", node_strerror(rc), file);
        break;
    }
    if (w >= (int)n && n > 4)
        memcpy(out + n - 4, "...", 4);
}

void node__stall_failed(node_chain *ch, int rc, uint64_t height, const char *doing)
{
    node_stall *st = &ch->stall;
    char file[4200];
    store_file(ch, file, sizeof file);
    if (!st->rc)
        st->since_ms = node__chain_now(ch);
    if (st->rc == rc)
        return; /* the same cause: said already */
    st->rc = rc;
    describe(ch, rc, file, st->reason, sizeof st->reason);
    node__log("%s height %" PRIu64 " failed: %s; not committing until blocks can be written",
              doing, height, st->reason);
}

void node__stall_keep(node_chain *ch, uint8_t *blk, size_t len, uint64_t height, bool *pre)
{
    node_stall *st = &ch->stall;
    if (st->blk) { /* already kept: the same decided block (one per height) */
        free(blk);
        free(pre);
        return;
    }
    st->blk = blk;
    st->len = len;
    st->height = height;
    st->pre = pre;
    st->retry_ms = node__chain_now(ch) + NODE_STALL_RETRY_MS;
}

bool node__stall_holds(const node_chain *ch, uint64_t height)
{
    return ch->stall.blk && ch->stall.height == height;
}

static void drop_kept(node_stall *st)
{
    free(st->blk);
    free(st->pre);
    st->blk = NULL;
    st->pre = NULL;
}

void node__stall_committed(node_chain *ch, uint64_t height)
{
    node_stall *st = &ch->stall;
    if (st->blk && st->height <= height)
        drop_kept(st);
    if (!st->rc)
        return;
    node__log("writing blocks again: height %" PRIu64 " committed after %" PRIu64
              " ms not committing (%" PRIu64 " retries)",
              height, node__chain_now(ch) - st->since_ms, st->retries);
    st->rc = 0;
    st->reason[0] = '\0';
    st->retries = 0;
}

void node__stall_tick(node_chain *ch)
{
    node_stall *st = &ch->stall;
    uint64_t now = node__chain_now(ch);
    if (!st->blk || now < st->retry_ms || ch->stopping)
        return;
    st->retry_ms = now + NODE_STALL_RETRY_MS;
    st->retries++;
    /* Taken out while it is written: on success the chain moves on at once, and the next
     * block may be decided, fail and be kept in the same call. */
    uint8_t *blk = st->blk;
    bool *pre = st->pre;
    size_t len = st->len;
    uint64_t h = st->height;
    st->blk = NULL;
    st->pre = NULL;
    int rc = node__apply_certified(ch, blk, len, pre);
    if (ldg_is_disk_error(rc)) {
        node__stall_failed(ch, rc, h, "committing");
        node__stall_keep(ch, blk, len, h, pre);
        st->retry_ms = now + NODE_STALL_RETRY_MS;
        return;
    }
    if (rc) /* not the disk's doing: stop retrying it; sync fetches what is missing */
        node__log("height %" PRIu64 ": kept block dropped: %s", h, node_strerror(rc));
    free(blk);
    free(pre);
}

void node__stall_votes(node_chain *ch, int rc)
{
    node_stall *st = &ch->stall;
    if (st->votes_rc == rc)
        return;
    if (rc) {
        char file[4200], why[256];
        if (snprintf(file, sizeof file, "%s/votes", ch->cfg.node->data_dir) >= (int)sizeof file)
            memcpy(file + sizeof file - 4, "...", 4);
        describe(ch, rc, file, why, sizeof why);
        node__log("cannot write the vote record: %s; not signing until it can be written", why);
    } else {
        node__log("vote record written again: signing");
    }
    st->votes_rc = rc;
}

void node__stall_status(node_chain *ch, fwl_StatusResp *r)
{
    node_stall *st = &ch->stall;
    r->commit_stalled = st->rc != 0;
    if (st->rc)
        snprintf(r->commit_stalled_reason, sizeof r->commit_stalled_reason, "%s", st->reason);
}

void node__stall_free(node_chain *ch)
{
    drop_kept(&ch->stall);
}
