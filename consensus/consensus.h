/*
 * consensus/: deciding the next block.
 *
 * The engine is a pure state machine: events go in (a tick with the current time, a built
 * proposal, a committed block) and actions come out (schedule a timeout, build a proposal,
 * sign a precommit, commit a block). It never touches sockets, timers, LMDB, the clock or
 * randomness; fwledgerd carries out the actions with libuv and ledger/, and a simulator can
 * drive the same engine.
 *
 * This version is the single-validator engine (n = 1): its own precommit is more than two
 * thirds of the voting power, so a proposal commits at once. Blocks are cut when
 * transactions are pending, at most one per interval (group commit), or at once when a full
 * block is waiting. The Tendermint engine for n = 3f+1 validators implements the same
 * events and actions.
 */
#ifndef FWL_CONSENSUS_H
#define FWL_CONSENSUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CNS_HASH_LEN 32

typedef enum {
    CNS_ACT_SCHEDULE = 1, /* call cns_on_tick again after delay_ms                           */
    CNS_ACT_PROPOSE,      /* build a block for height from pending txs; report with
                             cns_on_proposal (or cns_on_proposal_failed)                    */
    CNS_ACT_PRECOMMIT,    /* sign a precommit for (height, round, block_hash)                */
    CNS_ACT_COMMIT,       /* commit block_hash at height with the collected precommits; then
                             report with cns_on_committed                                   */
} cns_action_type;

typedef struct {
    cns_action_type type;
    uint64_t height;
    uint32_t round;
    uint32_t delay_ms;
    uint8_t block_hash[CNS_HASH_LEN];
} cns_action;

/* At most this many actions come out of one event. */
#define CNS_MAX_ACTIONS 4

typedef struct {
    uint64_t height;        /* the height being decided: tip + 1                          */
    uint32_t interval_ms;   /* minimum time between blocks (group commit pace)            */
    uint32_t full_block;    /* pending count that cuts a block at once                    */
    uint64_t last_commit_ms;
    bool proposing;         /* a PROPOSE is out and not yet answered                      */
    bool scheduled;         /* a SCHEDULE is out and not yet fired                        */
} cns_engine;

/* tip_height: the last committed height; now_ms: the node's clock, as an input. */
void cns_init(cns_engine *e, uint64_t tip_height, uint64_t now_ms, uint32_t interval_ms,
              uint32_t full_block);

/* Events. Each writes up to CNS_MAX_ACTIONS actions to out and returns how many. */
size_t cns_on_tick(cns_engine *e, uint64_t now_ms, size_t pending, cns_action *out);
size_t cns_on_proposal(cns_engine *e, uint64_t height, const uint8_t hash[CNS_HASH_LEN],
                       cns_action *out);
size_t cns_on_proposal_failed(cns_engine *e, uint64_t height, cns_action *out);
size_t cns_on_committed(cns_engine *e, uint64_t height, uint64_t now_ms, size_t pending,
                        cns_action *out);

#endif
