/*
 * What peers send the chain component: proposals and their blocks, votes, requests for a
 * block or for prevotes, a peer coming up. Each is checked against the genesis keys before
 * the engine (run by chain.c) sees it.
 */
#include "node/daemon/chain_internal.h"

#define REGOSSIP_MAX 4096 /* pooled txs sent to a peer that comes up, at most */

/* ---------------------------------------------------------------------------------------- */
/* Messages from peers                                                                       */

static bool validator_sig_ok(node_chain *ch, uint32_t v, const uint8_t d[LDG_DIGEST_LEN],
                             const uint8_t *sig, size_t sig_len)
{
    const ldg_genesis *g = ch->cfg.g;
    return v < g->n_validators &&
           ldg_verify(g->validators[v].alg, g->validators[v].key, g->validators[v].len, d, sig,
                      sig_len) == 0;
}

/* Back at the height of the WAL or of the proof-of-lock (after a restart, or after catching
 * up to it): our earlier votes are signed again (the same content: not equivocation), kept
 * and sent, and the engine counts them and the prevotes behind our lock again. */
void node__kept_take(node_chain *ch, kept_votes *k)
{
    k->h = ch->height;
    k->n_wal = k->n_pol = 0;
    if (ch->self < 0 || !ch->vlog)
        return;
    if (ch->vs.wal_h == k->h)
        memcpy(k->wal, ch->vs.wal, (k->n_wal = ch->vs.n_wal) * sizeof *k->wal);
    if (ch->vs.pol_h == k->h)
        memcpy(k->pol, ch->vs.pol, (k->n_pol = ch->vs.n_pol) * sizeof *k->pol);
}

void node__replay_kept(node_chain *ch, const kept_votes *k)
{
    const cns_msg *wal = k->wal;
    const node_signed_vote *pol = k->pol;
    uint64_t h = k->h;
    size_t n_wal = k->n_wal, n_pol = k->n_pol;
    if (ch->height != h)
        return;
    if (n_wal || n_pol)
        node__log("height %" PRIu64 ": replaying %zu own votes and %zu prevotes behind the lock, "
                  "kept from before", h, n_wal, n_pol);
    for (size_t i = 0; i < n_wal && ch->started && ch->height == h && !ch->stopping; i++) {
        cns_tm_action a;
        cns_tm_actions acts;
        memset(&a, 0, sizeof a);
        a.type = CNS_TM_VOTE;
        a.height = wal[i].height;
        a.round = wal[i].round;
        a.msg = wal[i];
        a.msg.valid_round = -1;
        ch->record_ok = true; /* in the WAL: written with a record at or above it */
        node__chain_vote(ch, &a);
        if (!cns_tm_on_vote(&ch->tm, &a.msg, (uint32_t)ch->self, &acts))
            node__chain_run(ch, &acts);
    }
    for (size_t i = 0; i < n_pol && ch->started && ch->height == h && !ch->stopping; i++) {
        const node_signed_vote *v = &pol[i]; /* as if received again: checked, kept, counted */
        fwl_VoteMsg m = fwl_VoteMsg_init_zero;
        m.height = v->m.height;
        m.round = v->m.round;
        m.step = v->m.step;
        m.nil = v->m.nil;
        if (!m.nil) {
            memcpy(m.value.bytes, v->m.value, LDG_DIGEST_LEN);
            m.value.size = LDG_DIGEST_LEN;
        }
        m.validator = v->validator;
        memcpy(m.sig.bytes, v->sig, v->sig_len);
        m.sig.size = v->sig_len;
        node__chain_on_vote(ch, &m);
    }
}

void node__chain_on_proposal_block(node_chain *ch, const uint8_t *data, size_t len)
{
    ldg_block b;
    uint8_t hash[LDG_DIGEST_LEN];
    if (ldg_block_decode(data, len, &b))
        return;
    bool got = (b.hdr.height == ch->height || b.hdr.height == ch->height + 1) &&
               !ldg_block_hash(ch->cfg.g, b.hdr_raw, b.hdr_len, hash);
    if (got) {
        cand_block *c = node__cand_add(ch, b.hdr.height, hash, data, len, b.hdr.proposer.alg,
                                 b.hdr.proposer.key.bytes, b.hdr.proposer.key.size);
        if (c)
            c->time_ms = b.hdr.time_ms;
    }
    ldg_block_free(&b);
    /* Our proposal waited for this block (we re-propose a value whose block we had lost). */
    if (got && ch->self >= 0 && !ch->own_prop_sent && ch->own_prop.height == ch->height &&
        !memcmp(ch->own_prop.block_hash.bytes, hash, LDG_DIGEST_LEN))
        node__send_own_proposal(ch, -1);
}

/* Proposer-based timestamps: a fresh proposal's block time must be within the drift of our
 * clock, a re-proposal is exempt (ldg_block_time_check). false: judge the block invalid, so
 * that we prevote nil on it; the refusal is logged once per block. */
static bool proposal_timely(node_chain *ch, const fwl_ProposalMsg *p, cand_block *c)
{
    ldg_tip t;
    uint64_t now = node__chain_now(ch), drift = ch->cfg.node->block_time_drift_ms;
    if (ldg_store_tip(ch->cfg.store, &t))
        return false;
    int rc = ldg_block_time_check(c->time_ms, t.time_ms, now, drift, p->valid_round);
    if (rc && !c->time_logged) {
        c->time_logged = true;
        if (rc == LDG_ETIME)
            node__log("height %" PRIu64 " round %" PRIu32 ": proposal time %" PRIu64
                      " ms %s our clock (drift %" PRIu64 " ms): prevoting nil",
                      p->height, p->round, c->time_ms > now ? c->time_ms - now : now - c->time_ms,
                      c->time_ms > now ? "ahead of" : "behind", drift);
        else if (rc == LDG_EBLOCK)
            node__log("height %" PRIu64 " round %" PRIu32 ": proposal time %" PRIu64
                      " ms before the previous block's: prevoting nil",
                      p->height, p->round, t.time_ms - c->time_ms);
        else
            node__log("height %" PRIu64 " round %" PRIu32 ": proposal time: %s", p->height,
                      p->round, node_strerror(rc));
    }
    return rc == 0;
}

void node__chain_on_proposal(node_chain *ch, uint32_t from, const fwl_ProposalMsg *p)
{
    uint8_t d[LDG_DIGEST_LEN];
    if (ch->self < 0 || p->block_hash.size != LDG_DIGEST_LEN ||
        p->proposer >= ch->cfg.g->n_validators)
        return;
    if (p->height == ch->height + 1 || (p->height == ch->height && ch->syncing)) {
        ch->next_prop = *p; /* delivered when that height starts */
        ch->next_prop_from = (int32_t)from;
        return;
    }
    cns_msg m;
    memset(&m, 0, sizeof m);
    m.height = p->height;
    m.round = p->round;
    m.step = CNS_PROPOSE;
    m.valid_round = p->valid_round;
    memcpy(m.value, p->block_hash.bytes, LDG_DIGEST_LEN);
    /* A proposal the engine holds already (the proposer repeats it every second): nothing
     * new. Judging it again would find a fresh proposal's time stale and log a refusal of a
     * proposal we accepted. */
    if (p->height != ch->height || cns_tm_holds(&ch->tm, &m, p->proposer) ||
        ldg_proposal_digest(ch->cfg.g, p->height, p->round, p->valid_round, p->block_hash.bytes,
                            d) ||
        !validator_sig_ok(ch, p->proposer, d, p->sig.bytes, p->sig.size))
        return;
    cand_block *c = node__cand_find(ch, p->block_hash.bytes);
    if (!c) {
        /* The block comes first on the proposer's connection; without it (lost, or the
         * proposer re-proposes a locked value it had from another node), ask the sender:
         * the proposer sends the proposal again every second. */
        node__request_block(ch, from, p->block_hash.bytes);
        return;
    }
    if (!ch->started)
        node__start_height(ch);
    if (!ch->started)
        return;
    /* Valid: built by the right validator (a fresh proposal by its proposer, a re-proposal
     * by any: ldg_block_builder_check), timely, and passes every rule here. */
    bool valid = !ldg_block_builder_check(ch->cfg.g, p->proposer, p->valid_round, &c->proposer) &&
                 proposal_timely(ch, p, c);
    uint8_t staged[LDG_DIGEST_LEN];
    if (valid &&
        (ldg_store_built(ch->cfg.store, staged) || memcmp(staged, c->hash, LDG_DIGEST_LEN)))
        valid = node__stage_block(ch, c->bytes, c->len) == 0;
    cns_tm_actions acts;
    if (!cns_tm_on_proposal(&ch->tm, &m, p->proposer, valid, &acts))
        node__chain_run(ch, &acts);
}

static void entry_msg(const vote_entry *e, cns_msg *m)
{
    memset(m, 0, sizeof *m);
    m->height = e->height;
    m->round = e->round;
    m->step = e->step;
    m->nil = e->nil;
    if (!e->nil)
        memcpy(m->value, e->value, LDG_DIGEST_LEN);
    m->valid_round = -1;
}

/* Hand the engine a checked vote it does not hold (it keeps a window of rounds, and drops
 * messages of rounds too far ahead: a vote the node stored may be gone from the engine). */
static void feed(node_chain *ch, const cns_msg *m, uint32_t validator)
{
    cns_tm_actions acts;
    if (ch->started && m->height == ch->height && !cns_tm_holds(&ch->tm, m, validator) &&
        !cns_tm_on_vote(&ch->tm, m, validator, &acts))
        node__chain_run(ch, &acts);
}

/* The prevotes of (h, r) we hold, to the engine: before asking peers for them (FETCH). */
void node__chain_feed_held(node_chain *ch, uint64_t h, uint32_t r)
{
    for (size_t i = 0; i < VOTES_MAX && ch->started && ch->height == h; i++) {
        vote_entry *e = &ch->votes[i];
        if (e->used && e->height == h && e->round == r && e->step == CNS_PREVOTE) {
            cns_msg m;
            entry_msg(e, &m);
            feed(ch, &m, e->validator);
        }
    }
}

void node__chain_on_vote(node_chain *ch, const fwl_VoteMsg *v)
{
    uint8_t d[LDG_DIGEST_LEN], zero[LDG_DIGEST_LEN] = {0};
    if (ch->self < 0 || (v->step != CNS_PREVOTE && v->step != CNS_PRECOMMIT) ||
        (!v->nil && v->value.size != LDG_DIGEST_LEN) || (v->nil && v->value.size) ||
        v->validator >= ch->cfg.g->n_validators ||
        (v->height != ch->height && v->height != ch->height + 1))
        return;
    cns_msg m;
    memset(&m, 0, sizeof m);
    m.height = v->height;
    m.round = v->round;
    m.step = (uint8_t)v->step;
    m.nil = v->nil;
    if (!v->nil)
        memcpy(m.value, v->value.bytes, LDG_DIGEST_LEN);
    m.valid_round = -1;
    vote_entry *seen = node__vote_find(ch, v->height, v->round, (uint8_t)v->step, v->validator);
    if (seen) {
        /* The same vote again: its signature was checked when it was stored, but the engine
         * may have dropped it since (issue 8: a proof-of-lock that never counted again). A
         * conflicting second vote is not kept (the first serves the certificate). */
        cns_msg first;
        entry_msg(seen, &first);
        if (first.nil == m.nil && (m.nil || !memcmp(first.value, m.value, LDG_DIGEST_LEN)))
            feed(ch, &m, v->validator);
        return;
    }
    if (ldg_vote_digest(ch->cfg.g, v->height, v->round, (uint8_t)v->step,
                        v->nil ? zero : v->value.bytes, d) ||
        !validator_sig_ok(ch, v->validator, d, v->sig.bytes, v->sig.size))
        return;
    node__vote_store(ch, v);
    if (v->height == ch->height && !ch->started)
        node__start_height(ch);
    cns_tm_actions acts;
    if (ch->started && !cns_tm_on_vote(&ch->tm, &m, v->validator, &acts))
        node__chain_run(ch, &acts);
}

void node__chain_on_get_block(node_chain *ch, uint32_t from, const uint8_t hash[LDG_DIGEST_LEN])
{
    cand_block *c = node__cand_find(ch, hash);
    uint64_t now = node__chain_now(ch);
    size_t slot = 0;
    if (!c)
        return;
    /* At most one answer per peer each 200 ms: a block can be large. */
    for (size_t i = 0; i < sizeof ch->blk_ans / sizeof *ch->blk_ans; i++) {
        if (ch->blk_ans[i].peer == from && ch->blk_ans[i].at_ms) {
            if (now < ch->blk_ans[i].at_ms + 200)
                return;
            slot = i;
            break;
        }
        if (ch->blk_ans[i].at_ms < ch->blk_ans[slot].at_ms)
            slot = i;
    }
    ch->blk_ans[slot].peer = from;
    ch->blk_ans[slot].at_ms = now;
    node__chain_send(ch, from, P2P_T_PROPOSAL_BLOCK, c->bytes, c->len);
}

void node__chain_on_fetch(node_chain *ch, uint32_t from, const fwl_SyncRequestMsg *q)
{
    for (size_t i = 0; i < VOTES_MAX; i++) {
        vote_entry *e = &ch->votes[i];
        if (e->used && e->height == q->from_height && e->round == q->count &&
            e->step == CNS_PREVOTE) {
            fwl_VoteMsg m;
            node__vote_to_msg(e, &m);
            node__send_pb(ch, from, P2P_T_VOTE, fwl_VoteMsg_fields, &m);
        }
    }
}

/* A tx is gossiped once, when it is admitted: a peer that was away then (or whose
 * connection lost it) gets what our mempool holds when it comes up, oldest first, until its
 * send queue is full. Without this, a tx admitted by a replica while its links were down
 * never reached a proposer. */
static void resend_pool(node_chain *ch, uint32_t peer)
{
    node_mempool_tx *txs = malloc(REGOSSIP_MAX * sizeof *txs);
    size_t n = txs ? node_mempool_head(ch->cfg.mp, REGOSSIP_MAX, txs) : 0;
    for (size_t i = 0; i < n; i++)
        if (node__chain_send(ch, peer, P2P_T_TX, txs[i].raw, txs[i].len))
            break;
    free(txs);
}

void node__chain_on_peer_up(node_chain *ch, uint32_t peer)
{
    node__send_status(ch, peer);
    node__resend_own(ch, peer);
    resend_pool(ch, peer);
}
