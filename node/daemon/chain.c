/*
 * The chain driver: runs the Tendermint engine (consensus/) for this node and carries out
 * its actions with the store, the vote log and the p2p transport.
 *
 * Heights start only when there is something to decide: when the mempool holds transactions
 * or a peer's proposal or vote for the height arrives, or the tip is empty_block_interval_ms
 * old (an empty block: a quiet chain's time still moves, for trackers' maximum age). Own
 * proposals and votes are recorded durably (votelog.c) before they are signed; other
 * validators' messages are checked against their genesis keys before the engine sees them.
 * A proposed block is validated by staging it (ldg_store_stage_block), so that when it is
 * decided it commits in the same write transaction with its certificate: the precommits of
 * the deciding round, collected here.
 *
 * Message flow on p2p (types in node/daemon/chain_internal.h): a proposal is its block
 * (PROPOSAL_BLOCK) followed by the signed header (PROPOSAL) on the same connection; votes
 * (VOTE); every node announces its tip (STATUS) on connect and after each commit; a node
 * behind its peers fetches blocks with their certificates (sync.c).
 */
#include <errno.h>

#include "node/daemon/chain_internal.h"

static void build_maybe(node_chain *ch);
static void load_kept_blocks(node_chain *ch);

/* ---------------------------------------------------------------------------------------- */
/* Sending                                                                                   */

bool node__chain_can_send(const node_chain *ch)
{
    return !ch->stopping && (ch->cfg.send || ch->net);
}

/* Every message of the component leaves here: through the test's transport (cfg.send) or
 * p2p. */
int node__chain_send(node_chain *ch, int64_t peer, uint8_t type, const uint8_t *data,
                     size_t len)
{
    if (!node__chain_can_send(ch))
        return P2P_ESTOPPING;
    if (ch->cfg.send)
        return ch->cfg.send(ch->cfg.ctx, peer, type, data, len);
    if (peer >= 0)
        return p2p_send(ch->net, (uint32_t)peer, type, data, len);
    return p2p_broadcast(ch->net, type, data, len);
}

/* Encode msg and send it to one peer (peer >= 0) or all. */
void node__send_pb(node_chain *ch, int64_t peer, uint8_t type, const pb_msgdesc_t *f,
                    const void *msg)
{
    uint8_t buf[512];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!node__chain_can_send(ch) || !pb_encode(&os, f, msg))
        return;
    node__chain_send(ch, peer, type, buf, os.bytes_written);
}

void node__send_status(node_chain *ch, int64_t peer)
{
    fwl_StatusMsg m = fwl_StatusMsg_init_zero;
    ldg_tip t;
    ldg_store_tip(ch->cfg.store, &t);
    m.height = t.height;
    memcpy(m.tip_hash.bytes, t.hash, LDG_DIGEST_LEN);
    m.tip_hash.size = LDG_DIGEST_LEN;
    m.consensus_height = ch->started ? ch->height : 0;
    node__send_pb(ch, peer, P2P_T_STATUS, fwl_StatusMsg_fields, &m);
}

/* Our own proposal and votes of the current height, to one peer or all: heals messages lost
 * to a dropped connection or a full queue. */
/* Ask peers for a candidate block we lack: one peer (the one whose proposal named it) or
 * all; at most one request per 200 ms. */
void node__request_block(node_chain *ch, int64_t peer, const uint8_t hash[LDG_DIGEST_LEN])
{
    uint64_t now = node__chain_now(ch);
    if (!node__chain_can_send(ch) || (ch->blk_req_ms && now < ch->blk_req_ms + 200))
        return;
    ch->blk_req_ms = now;
    node__chain_send(ch, peer, P2P_T_GET_BLOCK, hash, LDG_DIGEST_LEN);
}

/* The prevotes we hold for value in round vr of height h: the proof a re-proposal rests on. */
static void send_prevotes(node_chain *ch, int64_t peer, uint64_t h, uint32_t vr,
                          const uint8_t *value)
{
    for (size_t i = 0; i < VOTES_MAX; i++) {
        vote_entry *e = &ch->votes[i];
        if (e->used && e->height == h && e->round == vr && e->step == CNS_PREVOTE &&
            (!value || (!e->nil && !memcmp(e->value, value, LDG_DIGEST_LEN)))) {
            fwl_VoteMsg m;
            node__vote_to_msg(e, &m);
            node__send_pb(ch, peer, P2P_T_VOTE, fwl_VoteMsg_fields, &m);
        }
    }
}

/* Our proposal with its block (and, for a re-proposal, the prevotes it rests on); without
 * the block, ask the peers for it: the proposal goes out when it arrives. */
void node__send_own_proposal(node_chain *ch, int64_t peer)
{
    const fwl_ProposalMsg *p = &ch->own_prop;
    cand_block *c = node__cand_find(ch, p->block_hash.bytes);
    if (!c) {
        node__request_block(ch, -1, p->block_hash.bytes);
        return;
    }
    node__chain_send(ch, peer, P2P_T_PROPOSAL_BLOCK, c->bytes, c->len);
    node__send_pb(ch, peer, P2P_T_PROPOSAL, fwl_ProposalMsg_fields, p);
    if (p->valid_round >= 0)
        send_prevotes(ch, peer, p->height, (uint32_t)p->valid_round, p->block_hash.bytes);
    if (peer < 0)
        ch->own_prop_sent = true;
}

void node__resend_own(node_chain *ch, int64_t peer)
{
    if (ch->self < 0)
        return;
    if (ch->own_prop.height == ch->height)
        node__send_own_proposal(ch, peer);
    for (size_t i = 0; i < VOTES_MAX; i++) {
        vote_entry *e = &ch->votes[i];
        if (e->used && e->height == ch->height && e->validator == (uint32_t)ch->self) {
            fwl_VoteMsg m;
            node__vote_to_msg(e, &m);
            node__send_pb(ch, peer, P2P_T_VOTE, fwl_VoteMsg_fields, &m);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Heights                                                                                   */

/* Begin deciding ch->height if this node is a validator in step with its peers. */
void node__start_height(node_chain *ch)
{
    cns_tm_actions acts;
    if (ch->self < 0 || ch->started || ch->syncing)
        return;
    if (ch->vs.rec.locked_round >= 0 && !node__cand_find(ch, ch->vs.rec.locked_value))
        load_kept_blocks(ch);
    static kept_votes kept; /* taken before the first actions add to the WAL */
    if (cns_tm_start_height(&ch->tm, ch->height, &acts))
        return;
    node__kept_take(ch, &kept);
    ch->started = true;
    ch->height_started_ms = node__chain_now(ch);
    node__chain_run(ch, &acts);
    node__replay_kept(ch, &kept);
    /* A proposal for this height that came before we started. */
    if (ch->next_prop_from >= 0 && ch->next_prop.height == ch->height) {
        fwl_ProposalMsg p = ch->next_prop;
        uint32_t from = (uint32_t)ch->next_prop_from;
        ch->next_prop_from = -1;
        node__chain_on_proposal(ch, from, &p);
    }
}

/* A quiet chain still moves its time: an empty block once the tip (or this node's start)
 * is empty_block_interval_ms old, so that an answer's block time tells a tracker how fresh
 * it is (docs/verification.md: the maximum age). */
static bool empty_block_due(node_chain *ch)
{
    uint32_t every = ch->cfg.node->empty_block_interval_ms;
    ldg_tip t;
    if (!every || ldg_store_tip(ch->cfg.store, &t))
        return false;
    uint64_t since = t.time_ms > ch->started_at_ms ? t.time_ms : ch->started_at_ms;
    return node__chain_now(ch) >= since + every;
}

void node_chain_kick(node_chain *ch)
{
    build_maybe(ch);
    if (node_mempool_count(ch->cfg.mp) > 0 || empty_block_due(ch))
        node__start_height(ch);
}

/* A block was committed (by consensus or sync) at height h: move on. */
void node__chain_committed(node_chain *ch, uint64_t h)
{
    if (h + 1 <= ch->height)
        return;
    ch->height = h + 1;
    ch->started = false;
    ch->build_pending = false;
    node__forget_below(ch, ch->height);
    for (size_t i = 0; i < TIMERS_MAX; i++)
        ch->timers[i].used = false;
    node__send_status(ch, -1);
    node_chain_kick(ch);
}

/* ---------------------------------------------------------------------------------------- */
/* Actions                                                                                   */

/* Group commit: a proposer builds at once when nothing is being verified (light load: the
 * lowest latency), else it waits, at most block_interval_ms from the start of the height,
 * for the transactions in the thread pool to land, so that a busy chain makes few large
 * blocks instead of many small ones. */
static void build_now(node_chain *ch)
{
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t *blk;
    size_t len;
    uint64_t h = ch->build_height;
    uint32_t r = ch->build_round;
    ch->build_pending = false;
    uv_timer_stop(&ch->build_timer);
    if (!ch->started || h != ch->height)
        return;
    if (node__build_block(ch, h, &blk, &len, hash))
        return; /* the propose timeout moves the round on */
    const ldg_pubkey *own = &ch->cfg.vkey->pub;
    node__cand_add(ch, h, hash, blk, len, own->alg, own->key, own->len);
    free(blk);
    cns_tm_actions acts;
    if (!cns_tm_on_value(&ch->tm, h, r, hash, &acts))
        node__chain_run(ch, &acts);
}

static void on_build_timer(uv_timer_t *t)
{
    node_chain *ch = t->data;
    if (ch->build_pending)
        build_now(ch);
    node__chain_flush(ch);
}

/* A pending build goes now if the verification pipeline has drained or its time is up. */
static void build_maybe(node_chain *ch)
{
    if (ch->build_pending &&
        (node_mempool_verifying(ch->cfg.mp) == 0 ||
         node__chain_now(ch) >= ch->height_started_ms + ch->cfg.node->block_interval_ms))
        build_now(ch);
}

static void build(node_chain *ch, const cns_tm_action *a)
{
    ch->build_pending = true;
    ch->build_height = a->height;
    ch->build_round = a->round;
    uint64_t now = node__chain_now(ch);
    uint64_t due = ch->height_started_ms + ch->cfg.node->block_interval_ms;
    if (node_mempool_verifying(ch->cfg.mp) == 0 || now >= due)
        build_now(ch);
    else
        uv_timer_start(&ch->build_timer, on_build_timer, due - now, 0);
}

/* Sign digest; the record covering it was persisted by node__chain_run(). false: send nothing. */
static bool sign_digest(node_chain *ch, const uint8_t d[LDG_DIGEST_LEN], uint8_t *sig,
                        pb_size_t *sig_len)
{
    const ldg_sig_impl *im = ldg_sig_by_id(ch->cfg.vkey->alg);
    if (!im || !ch->record_ok || im->sign(ch->cfg.vkey->sec, d, NULL, sig))
        return false;
    *sig_len = (pb_size_t)im->sig_len;
    return true;
}

static void propose(node_chain *ch, const cns_tm_action *a)
{
    fwl_ProposalMsg p = fwl_ProposalMsg_init_zero;
    uint8_t d[LDG_DIGEST_LEN];
    if (ldg_proposal_digest(ch->cfg.g, a->msg.height, a->msg.round, a->msg.valid_round,
                            a->msg.value, d))
        return;
    p.height = a->msg.height;
    p.round = a->msg.round;
    p.valid_round = a->msg.valid_round;
    p.proposer = (uint32_t)ch->self;
    memcpy(p.block_hash.bytes, a->msg.value, LDG_DIGEST_LEN);
    p.block_hash.size = LDG_DIGEST_LEN;
    if (!sign_digest(ch, d, p.sig.bytes, &p.sig.size))
        return;
    ch->own_prop = p;
    ch->own_prop_sent = false;
    node__send_own_proposal(ch, -1); /* a re-proposal sends the prevotes of valid_round with it */
}

void node__chain_vote(node_chain *ch, const cns_tm_action *a)
{
    fwl_VoteMsg m = fwl_VoteMsg_init_zero;
    uint8_t d[LDG_DIGEST_LEN], zero[LDG_DIGEST_LEN] = {0};
    if (ldg_vote_digest(ch->cfg.g, a->msg.height, a->msg.round, a->msg.step,
                        a->msg.nil ? zero : a->msg.value, d))
        return;
    m.height = a->msg.height;
    m.round = a->msg.round;
    m.step = a->msg.step;
    m.nil = a->msg.nil;
    if (!m.nil) {
        memcpy(m.value.bytes, a->msg.value, LDG_DIGEST_LEN);
        m.value.size = LDG_DIGEST_LEN;
    }
    m.validator = (uint32_t)ch->self;
    if (!sign_digest(ch, d, m.sig.bytes, &m.sig.size))
        return;
    node__vote_store(ch, &m);
    node__send_pb(ch, -1, P2P_T_VOTE, fwl_VoteMsg_fields, &m);
}

/* The engine decided value at height in round: assemble the certificate, commit. */
static void commit(node_chain *ch, const cns_tm_action *a)
{
    fwl_Signature cert[LDG_MAX_VALIDATORS];
    size_t n = 0;
    for (uint32_t i = 0; i < a->n_signers; i++) {
        uint32_t v = a->signers[i];
        vote_entry *e = node__vote_find(ch, a->height, a->round, CNS_PRECOMMIT, v);
        if (!e || e->nil || memcmp(e->value, a->value, LDG_DIGEST_LEN) ||
            v >= ch->cfg.g->n_validators)
            continue;
        fwl_Signature *sig = &cert[n++];
        memset(sig, 0, sizeof *sig);
        sig->has_signer = true;
        sig->signer.alg = ch->cfg.g->validators[v].alg;
        memcpy(sig->signer.key.bytes, ch->cfg.g->validators[v].key, ch->cfg.g->validators[v].len);
        sig->signer.key.size = (pb_size_t)ch->cfg.g->validators[v].len;
        memcpy(sig->sig.bytes, e->sig, e->sig_len);
        sig->sig.size = e->sig_len;
    }
    cand_block *c = node__cand_find(ch, a->value);
    if (!c) {
        /* Decided without the block (its proposal never reached us): take it from a peer,
         * with its certificate. */
        node__log("height %" PRIu64 " decided; fetching its block", a->height);
        node__sync_request(ch);
        return;
    }
    int rc = node__commit_block(ch, c->bytes, c->len, cert, n, a->round);
    if (rc && !ldg_is_disk_error(rc)) { /* (the disk's refusals: kept and retried, stall.c) */
        node__log("committing height %" PRIu64 " failed: %s", a->height, node_strerror(rc));
        node__sync_request(ch);
    }
}

static int64_t timer_due(const node_chain *ch)
{
    int64_t due = -1;
    for (size_t i = 0; i < TIMERS_MAX; i++)
        if (ch->timers[i].used && (due < 0 || (int64_t)ch->timers[i].at_ms < due))
            due = (int64_t)ch->timers[i].at_ms;
    return due;
}

static void on_timer(uv_timer_t *t);

static void arm(node_chain *ch)
{
    int64_t due = timer_due(ch);
    if (due < 0) {
        uv_timer_stop(&ch->timer);
        return;
    }
    uint64_t now = node__chain_now(ch);
    uv_timer_start(&ch->timer, on_timer, (uint64_t)due > now ? (uint64_t)due - now : 0, 0);
}

static void schedule(node_chain *ch, const cns_tm_action *a)
{
    tm_timer *slot = NULL;
    for (size_t i = 0; i < TIMERS_MAX && !slot; i++)
        if (!ch->timers[i].used)
            slot = &ch->timers[i];
    for (size_t i = 0; i < TIMERS_MAX && !slot; i++) /* full: the earliest round goes */
        if (!slot || ch->timers[i].round < slot->round)
            slot = &ch->timers[i];
    slot->used = true;
    slot->at_ms = node__chain_now(ch) + a->delay_ms;
    slot->height = a->height;
    slot->round = a->round;
    slot->step = a->step;
    arm(ch);
}

static void on_timer(uv_timer_t *t)
{
    node_chain *ch = t->data;
    node_chain_fire_timers(ch);
}

/* The engine's timeouts due at the component's clock (the uv timer's work, and a test's). */
static void fire_engine_timers(node_chain *ch)
{
    uint64_t now = node__chain_now(ch);
    for (size_t i = 0; i < TIMERS_MAX; i++) {
        tm_timer x = ch->timers[i];
        if (!x.used || x.at_ms > now)
            continue;
        ch->timers[i].used = false;
        cns_tm_actions acts;
        if (ch->started && x.height == ch->height &&
            !cns_tm_on_timeout(&ch->tm, x.height, x.round, (cns_step)x.step, &acts))
            node__chain_run(ch, &acts);
    }
    arm(ch);
    node__chain_flush(ch);
}

void node_chain_fire_timers(node_chain *ch)
{
    if (ch->stopping)
        return;
    fire_engine_timers(ch);
    /* A build that waited for verification (the build timer's work, when a test runs no
     * loop): due at block_interval_ms from the start of the height. */
    if (ch->build_pending &&
        node__chain_now(ch) >= ch->height_started_ms + ch->cfg.node->block_interval_ms) {
        build_now(ch);
        node__chain_flush(ch);
    }
}

uint64_t node_chain_timer_due(const node_chain *ch)
{
    int64_t due = timer_due(ch);
    uint64_t d = due < 0 ? UINT64_MAX : (uint64_t)due;
    if (ch->build_pending && ch->height_started_ms + ch->cfg.node->block_interval_ms < d)
        d = ch->height_started_ms + ch->cfg.node->block_interval_ms;
    return d;
}

void node__chain_feed_held(node_chain *ch, uint64_t h, uint32_t r);

static void fetch(node_chain *ch, const cns_tm_action *a)
{
    node__chain_feed_held(ch, a->height, a->round); /* the engine may have dropped some we hold */
    fwl_SyncRequestMsg m = fwl_SyncRequestMsg_init_zero; /* (height, round) of the prevotes */
    m.from_height = a->height;
    m.count = a->round;
    node__send_pb(ch, -1, P2P_T_FETCH_VOTES, fwl_SyncRequestMsg_fields, &m);
}

/* Blocks we may have to propose again after a restart: the block of our lock, and of our
 * last proposal (the engine sends a proposal of the record's round again; its block was
 * built here and may be nowhere else). Each is written to data_dir/<name> before the
 * signature that needs it, as a new file renamed over the old one (a torn write is never
 * read). Not synced: it survives a crash of the process; after a power loss the block is
 * fetched from a peer (GET_BLOCK) like any candidate we lack. */
static const char *const kept_name[2] = {"lockblock", "propblock"};

static void keep_block(node_chain *ch, int which, const uint8_t hash[LDG_DIGEST_LEN])
{
    cand_block *c = node__cand_find(ch, hash);
    char path[4200], tmp[4210];
    if (!c || (ch->has_kept[which] && !memcmp(ch->kept[which], hash, LDG_DIGEST_LEN)))
        return;
    snprintf(path, sizeof path, "%s/%s", ch->cfg.node->data_dir, kept_name[which]);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    errno = 0;
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(c->bytes, 1, c->len, f) == c->len;
    if (f && fclose(f))
        ok = false;
    if (!ok || rename(tmp, path)) {
        /* Not fatal: a peer still has the block (P2P_T_GET_BLOCK); but say why. */
        node__log("cannot keep a block in %s: %s", path, errno ? strerror(errno) : "write failed");
        remove(tmp);
        return;
    }
    ch->has_kept[which] = true;
    memcpy(ch->kept[which], hash, LDG_DIGEST_LEN);
}

/* Back at the height of our vote record (a restart, or catching up to it): the blocks kept
 * on disk are candidates again (a block of another height is ignored). */
static void load_kept_blocks(node_chain *ch)
{
    if (!ch->vlog || ch->vs.rec.last.height != ch->height)
        return;
    for (int which = 0; which < 2; which++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", ch->cfg.node->data_dir, kept_name[which]);
        uint8_t *buf = NULL;
        size_t len = 0;
        FILE *f = fopen(path, "rb");
        if (f && !fseek(f, 0, SEEK_END)) {
            long n = ftell(f);
            if (n > 0 && n <= (long)LDG_BLOCK_MAX_BYTES && !fseek(f, 0, SEEK_SET) &&
                (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
                len = (size_t)n;
        }
        if (f)
            fclose(f);
        if (len)
            node__chain_on_proposal_block(ch, buf, len);
        free(buf);
    }
    if (ch->vs.rec.locked_round >= 0 && node__cand_find(ch, ch->vs.rec.locked_value)) {
        ch->has_kept[KEPT_LOCK] = true;
        memcpy(ch->kept[KEPT_LOCK], ch->vs.rec.locked_value, LDG_DIGEST_LEN);
        node__log("height %" PRIu64 ": the block of our lock is back", ch->height);
    }
}

/* The signed prevotes behind the lock a non-nil precommit takes (the action's signers), from
 * the votes held. Only a new lock replaces the proof: the same precommit sent again after a
 * restart lists only what the engine has seen since. */
static void keep_pol(node_chain *ch, node_vote_state *st, const cns_tm_action *a)
{
    if (st->pol_h == a->height && st->n_pol && st->pol[0].m.round == a->round &&
        !memcmp(st->pol[0].m.value, a->msg.value, CNS_HASH_LEN))
        return;
    st->pol_h = a->height;
    st->n_pol = 0;
    keep_block(ch, KEPT_LOCK, a->msg.value);
    for (uint32_t k = 0; k < a->n_signers && st->n_pol < NODE_POL_MAX; k++) {
        vote_entry *e = node__vote_find(ch, a->height, a->round, CNS_PREVOTE, a->signers[k]);
        if (!e || e->nil || memcmp(e->value, a->msg.value, CNS_HASH_LEN))
            continue;
        node_signed_vote *v = &st->pol[st->n_pol++];
        memset(v, 0, sizeof *v);
        v->m.height = e->height;
        v->m.round = e->round;
        v->m.step = CNS_PREVOTE;
        memcpy(v->m.value, e->value, CNS_HASH_LEN);
        v->m.valid_round = -1;
        v->validator = e->validator;
        v->sig_len = e->sig_len;
        memcpy(v->sig, e->sig, e->sig_len);
    }
}

void node__chain_run(node_chain *ch, const cns_tm_actions *acts)
{
    /* The vote record only moves forward, so persisting the last record of this batch
     * covers every message the batch signs: one fsync instead of one per message (a
     * proposer's proposal and prevote, or a lone validator's whole height). The batch's
     * votes join the WAL and a new lock its proof in the same write. */
    const cns_vote_record *last = NULL;
    node_vote_state *next = &ch->vs_next;
    for (size_t i = 0; i < acts->n; i++)
        if (acts->a[i].type == CNS_TM_PROPOSE || acts->a[i].type == CNS_TM_VOTE) {
            if (!last && ch->vlog)
                *next = ch->vs;
            last = &acts->a[i].record;
            if (acts->a[i].type == CNS_TM_PROPOSE && ch->vlog)
                keep_block(ch, KEPT_PROP, acts->a[i].msg.value);
            if (acts->a[i].type == CNS_TM_VOTE && ch->vlog) {
                node_vote_wal_add(next, &acts->a[i].msg);
                if (acts->a[i].msg.step == CNS_PRECOMMIT && !acts->a[i].msg.nil)
                    keep_pol(ch, next, &acts->a[i]);
            }
        }
    if (last && !ch->vlog) {
        ch->record_ok = true; /* a lone validator: nobody to equivocate to (chain_init) */
    } else if (last) {
        next->rec = *last;
        int rc = node_votelog_write(ch->vlog, next);
        ch->record_ok = rc == 0;
        if (ch->record_ok)
            ch->vs = *next;
        node__stall_votes(ch, rc); /* logged when it fails, and when it works again */
    }
    for (size_t i = 0; i < acts->n && !ch->stopping; i++) {
        const cns_tm_action *a = &acts->a[i];
        switch (a->type) {
        case CNS_TM_BUILD: build(ch, a); break;
        case CNS_TM_PROPOSE: propose(ch, a); break;
        case CNS_TM_VOTE: node__chain_vote(ch, a); break;
        case CNS_TM_SCHEDULE: schedule(ch, a); break;
        case CNS_TM_COMMIT: commit(ch, a); break;
        case CNS_TM_FETCH: fetch(ch, a); break;
        }
    }
}

void node__chain_tick(node_chain *ch)
{
    uint64_t now = node__chain_now(ch);
    /* An undecided height for a while: repeat our messages (a peer may have missed them). */
    if (ch->started && now - ch->height_started_ms > 1000 && now - ch->last_resend_ms > 1000) {
        ch->last_resend_ms = now;
        node__resend_own(ch, -1);
    }
    node_chain_kick(ch);
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */

/* After a restart at the height of our last signed vote: sign it again (the same content
 * signs to the same bytes; the record allows exactly that) and keep it, so that it is sent
 * to peers like any vote of ours and the others can still count it. */
static void restore_last_vote(node_chain *ch, const cns_vote_record *rec)
{
    const cns_msg *m = &rec->last;
    if (ch->self < 0 || m->height != ch->height ||
        (m->step != CNS_PREVOTE && m->step != CNS_PRECOMMIT))
        return;
    cns_tm_action a;
    memset(&a, 0, sizeof a);
    a.type = CNS_TM_VOTE;
    a.height = m->height;
    a.round = m->round;
    a.msg = *m;
    a.record = *rec;
    ch->record_ok = true; /* this very record is already durable */
    node__chain_vote(ch, &a);
}

int node_chain_init(node_chain *ch, const node_chain_config *cfg, char *err, size_t errlen)
{
    memset(ch, 0, sizeof *ch);
    ch->cfg = *cfg;
    const ldg_pubkey *own = cfg->vkey ? &cfg->vkey->pub : NULL;
    ch->self = own ? ldg_validator_index(cfg->g, own->alg, own->key, own->len) : -1;
    ch->next_prop_from = -1;
    ldg_tip t;
    ldg_store_tip(ch->cfg.store, &t);
    ch->height = t.height + 1;
    cns_tm_config c;
    memset(&c, 0, sizeof c);
    c.n_validators = (uint32_t)ch->cfg.g->n_validators;
    for (size_t i = 0; i < ch->cfg.g->n_validators; i++)
        c.power[i] = ch->cfg.g->validator_power[i];
    c.propose_ms = ch->cfg.node->timeout_propose_ms;
    c.propose_delta_ms = ch->cfg.node->timeout_propose_delta_ms;
    c.prevote_ms = ch->cfg.node->timeout_prevote_ms;
    c.prevote_delta_ms = ch->cfg.node->timeout_prevote_delta_ms;
    c.precommit_ms = ch->cfg.node->timeout_precommit_ms;
    c.precommit_delta_ms = ch->cfg.node->timeout_precommit_delta_ms;
    node_vote_state_init(&ch->vs);
    /* A lone validator commits each block as soon as it signs it and has no peer to show a
     * conflicting vote to: it keeps no vote record (one fsync less per block). */
    if (ch->self >= 0 && ch->cfg.g->n_validators > 1) {
        char path[4200];
        snprintf(path, sizeof path, "%s/votes", ch->cfg.node->data_dir);
        int rc = node_votelog_open(&ch->vlog, path, &ch->vs);
        if (rc) {
            snprintf(err, errlen, "vote record %s: %s", path,
                     rc == NODE_ECONFIG ? "both copies are corrupt; refusing to sign"
                                        : node_strerror(rc));
            return rc;
        }
    }
    if (cns_tm_init(&ch->tm, &c, ch->self, &ch->vs.rec)) {
        snprintf(err, errlen, "consensus: invalid validator set or timeouts");
        return NODE_ECONFIG;
    }
    if (ch->vs.wal_h != ch->height) /* else the WAL replay re-signs it with the others */
        restore_last_vote(ch, &ch->vs.rec);
    load_kept_blocks(ch);
    uv_timer_init(ch->cfg.loop, &ch->timer);
    uv_timer_init(ch->cfg.loop, &ch->build_timer);
    ch->timer.data = ch->build_timer.data = ch;
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

int node_chain_start(node_chain *ch, char *err, size_t errlen)
{
    int rc = node__p2p_start(ch, err, errlen);
    ch->started_at_ms = node__chain_now(ch);
    if (!rc)
        node__send_status(ch, -1);
    return rc;
}

void node_chain_stop(node_chain *ch)
{
    ch->stopping = true;
    node__p2p_stop(ch);
    close_handle((uv_handle_t *)&ch->timer);
    close_handle((uv_handle_t *)&ch->build_timer);
}

void node_chain_close(node_chain *ch)
{
    node__sync_free(ch);
    node__stall_free(ch);
    for (size_t i = 0; i < CAND_MAX; i++)
        free(ch->cand[i].bytes);
    node_votelog_close(ch->vlog);
    ch->vlog = NULL;
    p2p_seen_free(ch->seen_tx);
    ch->seen_tx = NULL;
    OPENSSL_cleanse(&ch->ikey, sizeof ch->ikey);
}

void node_chain_tick(node_chain *ch)
{
    node__chain_tick(ch);
    node__sync_tick(ch);
    node__stall_tick(ch);
}

void node_chain_status(node_chain *ch, fwl_StatusResp *st)
{
    node__chain_status(ch, st);
    node__stall_status(ch, st);
}

uint64_t node_chain_committed_txs(const node_chain *ch)
{
    return ch->committed_txs;
}

int32_t node_chain_self(const node_chain *ch)
{
    return ch->self;
}

uint64_t node__chain_now(const node_chain *ch)
{
    return ch->cfg.now_ms ? ch->cfg.now_ms(ch->cfg.ctx) : node__wall_ms();
}

void node__chain_flush(node_chain *ch)
{
    if (ch->cfg.flush)
        ch->cfg.flush(ch->cfg.ctx);
}
