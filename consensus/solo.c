/*
 * The single-validator engine. Invariant: at most one proposal is outstanding, and a height
 * is committed at most once (cns_on_committed for any other height than e->height is
 * ignored).
 */
#include <string.h>

#include "consensus/consensus.h"

void cns_init(cns_engine *e, uint64_t tip_height, uint64_t now_ms, uint32_t interval_ms,
              uint32_t full_block)
{
    memset(e, 0, sizeof *e);
    e->height = tip_height + 1;
    e->interval_ms = interval_ms;
    e->full_block = full_block ? full_block : 1;
    e->last_commit_ms = now_ms;
}

static size_t schedule(cns_engine *e, uint32_t ms, cns_action *out)
{
    if (e->scheduled)
        return 0;
    e->scheduled = true;
    memset(out, 0, sizeof *out);
    out->type = CNS_ACT_SCHEDULE;
    out->height = e->height;
    out->delay_ms = ms;
    return 1;
}

size_t cns_on_tick(cns_engine *e, uint64_t now_ms, size_t pending, cns_action *out)
{
    e->scheduled = false;
    if (e->proposing || pending == 0)
        return 0;
    uint64_t due = e->last_commit_ms + e->interval_ms;
    if (now_ms < due && pending < e->full_block)
        return schedule(e, (uint32_t)(due - now_ms), out);
    e->proposing = true;
    memset(out, 0, sizeof *out);
    out->type = CNS_ACT_PROPOSE;
    out->height = e->height;
    return 1;
}

size_t cns_on_proposal(cns_engine *e, uint64_t height, const uint8_t hash[CNS_HASH_LEN],
                       cns_action *out)
{
    if (!e->proposing || height != e->height)
        return 0;
    /* n = 1: our own precommit is the whole commit certificate. */
    memset(out, 0, 2 * sizeof *out);
    out[0].type = CNS_ACT_PRECOMMIT;
    out[1].type = CNS_ACT_COMMIT;
    for (int i = 0; i < 2; i++) {
        out[i].height = height;
        memcpy(out[i].block_hash, hash, CNS_HASH_LEN);
    }
    return 2;
}

size_t cns_on_proposal_failed(cns_engine *e, uint64_t height, cns_action *out)
{
    if (!e->proposing || height != e->height)
        return 0;
    e->proposing = false;
    return schedule(e, e->interval_ms, out);
}

size_t cns_on_committed(cns_engine *e, uint64_t height, uint64_t now_ms, size_t pending,
                        cns_action *out)
{
    if (height != e->height)
        return 0;
    e->height++;
    e->proposing = false;
    e->last_commit_ms = now_ms;
    return pending ? schedule(e, pending >= e->full_block ? 0 : e->interval_ms, out) : 0;
}
