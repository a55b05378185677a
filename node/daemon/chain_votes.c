/*
 * The chain component's small stores: the candidate blocks and the checked votes of the
 * current and the next height (chain.c drives, chain_recv.c fills them from peers).
 */
#include "node/daemon/chain_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Small stores: candidate blocks and votes of the current and the next height               */

cand_block *node__cand_find(node_chain *ch, const uint8_t hash[LDG_DIGEST_LEN])
{
    for (size_t i = 0; i < CAND_MAX; i++)
        if (ch->cand[i].bytes && !memcmp(ch->cand[i].hash, hash, LDG_DIGEST_LEN))
            return &ch->cand[i];
    return NULL;
}

/* A candidate that must not give way: the engine's locked or valid value (it may have to
 * propose it again, and a locked validator that lost its block can never propose anything
 * the others accept: issue 8's stall), or the block of our durable lock. */
bool node__cand_pinned(const node_chain *ch, const cand_block *c)
{
    return c->bytes && (cns_tm_needs_value(&ch->tm, c->hash) ||
                        (ch->has_kept[0] && !memcmp(c->hash, ch->kept[0], LDG_DIGEST_LEN)) ||
                        (ch->has_kept[1] && !memcmp(c->hash, ch->kept[1], LDG_DIGEST_LEN)));
}

/* Keep a copy of an encoded block (without certificate) under its hash; the oldest
 * candidate that is not pinned makes room. */
cand_block *node__cand_add(node_chain *ch, uint64_t height, const uint8_t hash[LDG_DIGEST_LEN],
                            const uint8_t *bytes, size_t len, uint32_t proposer_alg,
                            const uint8_t *proposer_key, size_t proposer_len)
{
    cand_block *c = node__cand_find(ch, hash);
    if (c)
        return c;
    for (size_t k = 0; k < CAND_MAX; k++) {
        c = &ch->cand[ch->cand_next];
        ch->cand_next = (ch->cand_next + 1) % CAND_MAX;
        if (!node__cand_pinned(ch, c))
            break;
    }
    if (node__cand_pinned(ch, c))
        return NULL; /* cannot happen: at most three pinned of CAND_MAX */
    free(c->bytes);
    memset(c, 0, sizeof *c);
    if (!(c->bytes = malloc(len ? len : 1)))
        return NULL;
    memcpy(c->bytes, bytes, len);
    c->len = len;
    c->height = height;
    memcpy(c->hash, hash, LDG_DIGEST_LEN);
    c->proposer.alg = proposer_alg;
    c->proposer.len = proposer_len <= LDG_PUBKEY_MAX ? proposer_len : 0;
    memcpy(c->proposer.key, proposer_key, c->proposer.len);
    return c;
}

/* Forget candidates and votes below height. */
void node__forget_below(node_chain *ch, uint64_t height)
{
    for (size_t i = 0; i < CAND_MAX; i++)
        if (ch->cand[i].bytes && ch->cand[i].height < height) {
            free(ch->cand[i].bytes);
            memset(&ch->cand[i], 0, sizeof ch->cand[i]);
        }
    for (size_t i = 0; i < VOTES_MAX; i++)
        if (ch->votes[i].used && ch->votes[i].height < height)
            ch->votes[i].used = false;
}

vote_entry *node__vote_find(node_chain *ch, uint64_t h, uint32_t r, uint8_t step, uint32_t v)
{
    for (size_t i = 0; i < VOTES_MAX; i++) {
        vote_entry *e = &ch->votes[i];
        if (e->used && e->height == h && e->round == r && e->step == step && e->validator == v)
            return e;
    }
    return NULL;
}

/* Store a checked vote (the first one per validator, height, round and step; a conflicting
 * second one is evidence the engine counts). Full: the lowest round of the oldest height
 * gives way. */
void node__vote_store(node_chain *ch, const fwl_VoteMsg *m)
{
    if (node__vote_find(ch, m->height, m->round, (uint8_t)m->step, m->validator))
        return;
    vote_entry *slot = NULL;
    for (size_t i = 0; i < VOTES_MAX && !slot; i++)
        if (!ch->votes[i].used)
            slot = &ch->votes[i];
    for (size_t i = 0; i < VOTES_MAX && !slot; i++) {
        vote_entry *e = &ch->votes[i];
        if (!slot || e->height < slot->height ||
            (e->height == slot->height && e->round < slot->round))
            slot = e;
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    slot->height = m->height;
    slot->round = m->round;
    slot->step = (uint8_t)m->step;
    slot->nil = m->nil;
    memcpy(slot->value, m->value.bytes, m->value.size);
    slot->validator = m->validator;
    memcpy(slot->sig, m->sig.bytes, m->sig.size);
    slot->sig_len = (uint8_t)m->sig.size;
}

void node__vote_to_msg(const vote_entry *e, fwl_VoteMsg *m)
{
    memset(m, 0, sizeof *m);
    m->height = e->height;
    m->round = e->round;
    m->step = e->step;
    m->nil = e->nil;
    if (!e->nil) {
        memcpy(m->value.bytes, e->value, LDG_DIGEST_LEN);
        m->value.size = LDG_DIGEST_LEN;
    }
    m->validator = e->validator;
    memcpy(m->sig.bytes, e->sig, e->sig_len);
    m->sig.size = e->sig_len;
}
