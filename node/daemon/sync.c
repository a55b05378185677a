/*
 * Status and block sync. Every node announces its tip on connect and after each commit; a
 * node that is behind asks the peer furthest ahead for the next blocks (at most
 * sync_batch_blocks per request), verifies each block's commit certificate and every
 * transaction signature on the thread pool (both cores), and applies the blocks in height
 * order. While more than one block behind, it stays out of consensus; when it has caught
 * up it joins at the next height. Replicas follow the chain this way all the time.
 */
#include "node/daemon/chain_internal.h"

#define SYNC_TIMEOUT_MS 5000

_Static_assert(sizeof(((fwl_StatusResp *)0)->peer_info) / sizeof(fwl_PeerInfo) >= NODE_MAX_PEERS,
               "StatusResp.peer_info holds every configured peer (fwledger.options)");
_Static_assert(sizeof(((fwl_PeerInfo *)0)->name) == P2P_NAME_MAX, "PeerInfo.name is p2p's");
#define SYNC_MAX_JOBS 256

static size_t peer_slot(node_chain *ch, uint32_t id)
{
    for (size_t i = 0; i < ch->n_peers; i++)
        if (ch->peer_id[i] == id)
            return i;
    if (ch->n_peers == PEERS_MAX)
        return PEERS_MAX;
    ch->peer_id[ch->n_peers] = id;
    ch->peer_height[ch->n_peers] = 0;
    return ch->n_peers++;
}

static uint64_t best_peer(node_chain *ch, uint32_t *id)
{
    uint64_t best = 0;
    for (size_t i = 0; i < ch->n_peers; i++)
        if (ch->peer_height[i] > best) {
            best = ch->peer_height[i];
            *id = ch->peer_id[i];
        }
    return best;
}

/* Behind by more than the block being decided: sit out consensus until caught up. */
static void update_syncing(node_chain *ch)
{
    ldg_tip t;
    uint32_t id;
    ldg_store_tip(ch->cfg.store, &t);
    bool behind = best_peer(ch, &id) > t.height + 1;
    if (behind && !ch->syncing) {
        ch->syncing = true;
        ch->sync_t0_ms = node__chain_now(ch);
        ch->sync_blocks = 0;
        node__log("behind the peers at height %" PRIu64 ": syncing", t.height);
    } else if (!behind && ch->syncing) {
        ch->syncing = false;
        node__log("caught up at height %" PRIu64 " (%" PRIu64 " blocks synced)", t.height,
                  ch->sync_blocks);
        node_chain_kick(ch);
    }
}

/* Is a verified block of height h waiting among the jobs? */
static bool job_holds(const node_chain *ch, uint64_t h)
{
    for (const sync_job *j = ch->jobs; j; j = j->next)
        if (j->done && !j->rc && j->height == h)
            return true;
    return false;
}

/* The first height to ask for. While blocks are being verified (their heights not known
 * yet: the batch asked for, arriving in order), after them; once every job is verified,
 * the first height above the tip that no job holds: a block missing below verified ones
 * (lost with a connection, or blocks that came unasked) is asked for again instead of
 * skipped for good. When the jobs are full and none can be applied, the verified ones
 * are dropped (they will be fetched again in order). */
static uint64_t first_wanted(node_chain *ch, uint64_t tip)
{
    uint64_t from = tip + 1 + node__stall_holds(ch, tip + 1);
    for (const sync_job *j = ch->jobs; j; j = j->next)
        if (!j->done)
            return from + ch->n_jobs;
    if (ch->n_jobs >= SYNC_MAX_JOBS && !job_holds(ch, from))
        node__sync_free(ch);
    while (job_holds(ch, from))
        from++;
    return from;
}

void node__sync_request(node_chain *ch)
{
    uint64_t now = node__chain_now(ch);
    if (!node__chain_can_send(ch) || (ch->sync_in_flight && now < ch->sync_deadline_ms))
        return;
    ldg_tip t;
    uint32_t id = 0;
    ldg_store_tip(ch->cfg.store, &t);
    uint64_t top = best_peer(ch, &id);
    uint64_t from = first_wanted(ch, t.height);
    ch->sync_in_flight = false;
    if (top < from || ch->n_jobs >= SYNC_MAX_JOBS)
        return;
    uint64_t count = top - from + 1;
    if (count > ch->cfg.node->sync_batch_blocks)
        count = ch->cfg.node->sync_batch_blocks;
    fwl_SyncRequestMsg m = {from, (uint32_t)count};
    uint8_t buf[32];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, fwl_SyncRequestMsg_fields, &m) ||
        node__chain_send(ch, id, P2P_T_SYNC_REQUEST, buf, os.bytes_written))
        return;
    ch->sync_in_flight = true;
    ch->sync_peer = id;
    ch->sync_next = from;
    ch->sync_end = from + count;
    ch->sync_deadline_ms = now + SYNC_TIMEOUT_MS;
}

void node__sync_on_status(node_chain *ch, uint32_t from, const fwl_StatusMsg *m)
{
    size_t i = peer_slot(ch, from);
    if (i == PEERS_MAX)
        return;
    ch->peer_height[i] = m->height;
    ldg_tip t;
    ldg_store_tip(ch->cfg.store, &t);
    update_syncing(ch);
    if (m->height > t.height)
        node__sync_request(ch);
    else if (m->height < t.height)
        node__send_status(ch, from); /* it is behind: tell it so it asks us */
}

void node__sync_on_request(node_chain *ch, uint32_t from, const fwl_SyncRequestMsg *q)
{
    uint32_t n = q->count > 256 ? 256 : q->count;
    size_t bytes = 0;
    for (uint64_t h = q->from_height; h < q->from_height + n && bytes < (64u << 20); h++) {
        uint8_t *blk, hash[LDG_DIGEST_LEN];
        size_t len;
        if (ldg_store_block_by_height(ch->cfg.store, h, &blk, &len, hash))
            break;
        int rc = node__chain_send(ch, from, P2P_T_SYNC_BLOCK, blk, len);
        free(blk);
        if (rc)
            break; /* its queue is full: it will ask again */
        bytes += len;
    }
}

/* Thread pool: the certificate and every tx signature. */
static void verify_block(uv_work_t *w)
{
    sync_job *j = (sync_job *)w;
    ldg_block b;
    uint8_t hash[LDG_DIGEST_LEN];
    j->rc = ldg_block_decode(j->bytes, j->len, &b);
    if (j->rc)
        return;
    j->height = b.hdr.height;
    j->n_txs = b.n_txs;
    const ldg_genesis *g = j->ch->cfg.g;
    if (!(j->rc = ldg_block_hash(g, b.hdr_raw, b.hdr_len, hash)))
        j->rc = ldg_commit_verify(g, b.hdr.height, b.commit_round, hash, b.commit, b.n_commit);
    ldg_tx *tx = j->rc ? NULL : malloc(sizeof *tx);
    for (size_t i = 0; tx && !j->rc && i < b.n_txs; i++)
        if (!(j->rc = ldg_tx_parse(g, b.hdr.height, b.tx_raw[i], b.tx_len[i], tx, NULL)))
            j->rc = ldg_tx_verify(tx);
    free(tx);
    ldg_block_free(&b);
}

static void apply_ready(node_chain *ch)
{
    ldg_tip t;
    for (;;) {
        ldg_store_tip(ch->cfg.store, &t);
        sync_job **pp = &ch->jobs, *j = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->done &&
                ((*pp)->height == t.height + 1 || (*pp)->height <= t.height || (*pp)->rc)) {
                j = *pp;
                break;
            }
        if (!j)
            break;
        *pp = j->next;
        ch->n_jobs--;
        /* (A block the disk refused is kept by stall.c and written again from there; the
         * blocks after it wait here.) */
        if (!j->rc && j->height == t.height + 1 && !node__stall_holds(ch, j->height)) {
            int rc = node__apply_synced(ch, j->bytes, j->len, true);
            if (rc && !ldg_is_disk_error(rc))
                node__log("synced block %" PRIu64 " refused: %s", j->height, node_strerror(rc));
            else if (!rc)
                ch->sync_blocks++;
        }
        free(j->bytes);
        free(j);
    }
    uint64_t now = node__chain_now(ch);
    if (ch->syncing && now - ch->sync_log_ms >= 2000 && now > ch->sync_t0_ms && !ch->stall.rc) {
        uint32_t id;
        ch->sync_log_ms = now;
        ch->sync_rate = ch->sync_blocks * 1000 / (now - ch->sync_t0_ms);
        node__log("syncing: height %" PRIu64 " of %" PRIu64 ", %" PRIu64 " blocks/s", t.height,
                  best_peer(ch, &id), ch->sync_rate);
    }
    if (ch->sync_in_flight && t.height + 1 >= ch->sync_end)
        ch->sync_in_flight = false; /* the batch is in: ask for the next one */
    update_syncing(ch);
}

static void after_verify_block(uv_work_t *w, int status)
{
    (void)status;
    sync_job *j = (sync_job *)w;
    node_chain *ch = j->ch;
    j->done = true;
    apply_ready(ch);
    if (!ch->stopping)
        node__sync_request(ch);
    node__chain_flush(ch);
}

void node__sync_on_block(node_chain *ch, uint32_t from, const uint8_t *data, size_t len)
{
    (void)from;
    if (ch->n_jobs >= SYNC_MAX_JOBS)
        return;
    sync_job *j = calloc(1, sizeof *j);
    if (!j || !(j->bytes = malloc(len ? len : 1))) {
        free(j);
        return;
    }
    memcpy(j->bytes, data, len);
    j->len = len;
    j->ch = ch;
    j->height = UINT64_MAX; /* known once verified */
    j->next = ch->jobs;
    ch->jobs = j;
    ch->n_jobs++;
    ch->sync_deadline_ms = node__chain_now(ch) + SYNC_TIMEOUT_MS;
    /* (Inline when asked, cfg.inline_verify; or when the thread pool refuses the work.) */
    if (ch->cfg.inline_verify ||
        uv_queue_work(ch->cfg.loop, &j->w, verify_block, after_verify_block)) {
        verify_block(&j->w);
        after_verify_block(&j->w, 0);
    }
}

void node__sync_tick(node_chain *ch)
{
    if (ch->sync_in_flight && node__chain_now(ch) >= ch->sync_deadline_ms)
        ch->sync_in_flight = false; /* the peer went quiet: ask again, maybe another */
    if (ch->jobs)
        apply_ready(ch); /* blocks that waited for an earlier one the disk refused */
    node__sync_request(ch);
}

void node__sync_free(node_chain *ch)
{
    for (sync_job *j = ch->jobs, *n; j; j = n) {
        n = j->next;
        free(j->bytes);
        free(j);
    }
    ch->jobs = NULL;
    ch->n_jobs = 0;
}

void node__chain_status(node_chain *ch, fwl_StatusResp *st)
{
    uint32_t id;
    snprintf(st->role, sizeof st->role, "%s", ch->self >= 0 ? "validator" : "replica");
    st->validator_index = ch->self;
    st->syncing = ch->syncing;
    st->sync_target = best_peer(ch, &id);
    st->sync_blocks_per_s = ch->syncing ? ch->sync_rate : 0;
    st->consensus_height = ch->started ? ch->height : 0;
    st->consensus_round = ch->started ? ch->tm.round : 0;
    if (ch->net) {
        p2p_peer_stats ps[NODE_MAX_PEERS];
        size_t n = 0;
        if (!p2p_stats(ch->net, ps, NODE_MAX_PEERS, &n, NULL)) {
            st->peers = (uint32_t)n;
            /* Up means heard within peer_timeout_ms: p2p closes a silent peer's connection. */
            for (size_t i = 0; i < n && i < NODE_MAX_PEERS; i++) {
                fwl_PeerInfo *pi = &st->peer_info[st->peer_info_count++];
                st->peers_up += ps[i].connected;
                memcpy(pi->name, ps[i].name, sizeof pi->name);
                pi->up = ps[i].connected;
                pi->heard = ps[i].last_heard_ms != UINT64_MAX;
                pi->last_heard_ms_ago = pi->heard ? ps[i].last_heard_ms : 0;
                pi->validator_index = ps[i].id < ch->cfg.g->n_validators ? (int32_t)ps[i].id : -1;
                for (size_t k = 0; k < ch->n_peers; k++)
                    if (ch->peer_id[k] == ps[i].id)
                        pi->height = ch->peer_height[k];
            }
        }
    }
}
