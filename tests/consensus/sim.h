/*
 * A deterministic simulator for the Tendermint engine (consensus/tendermint.c).
 *
 * One run = one seed: many engines in one process over a simulated network, every choice
 * drawn from one seeded PRNG (xoshiro256**, seeded through splitmix64), events ordered by
 * (simulated time, sequence number). Before the global stabilisation time (GST) the network
 * drops, delays, duplicates and reorders messages, partitions and heals, and honest nodes crash
 * and restart (keeping their durable vote record and their committed chain, losing the rest);
 * up to f (by power) validators are Byzantine throughout. After every step that can break
 * safety the run checks it; after GST it checks liveness. docs/consensus.md has the details.
 *
 * tests/consensus/sim.c implements it; it is #included by test_simulator.c because the
 * Makefile builds each test program from one source file.
 */
#ifndef FWL_TESTS_CONSENSUS_SIM_H
#define FWL_TESTS_CONSENSUS_SIM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;
    bool verbose;       /* print every trace line as it happens                           */
    bool quiet;         /* do not print failures (the checker self-tests expect them)     */
    /* Deliberate faults, to show that the checks catch them. */
    bool forget_record; /* restart with an empty vote record                              */
    bool forget_lock;   /* restart with the record's last vote but without its lock       */
    bool forced_fault;  /* with forget_*: force crashes and Byzantine validators           */
    /* The node as fwledgerd was before the stall fix (issue 8): candidate blocks in a ring
     * that may drop the block of the lock, none kept across a crash, no fetch of a missing
     * block, and a vote the node already stored never handed to the engine again. */
    bool legacy_node;
    /* Two defects of the node's proposal check, one at a time (legacy_node has both): a
     * re-proposal judged invalid unless the re-proposer built the block (a permanent stall
     * found by the fault suite), and no check of a fresh proposal's block time against our
     * clock (a proposer with a clock an hour ahead moves the chain's time). */
    bool legacy_builder;
    bool no_time_check;
} sim_options;

typedef struct {
    bool ok;
    char what[320];            /* the first violation, if any                           */
    uint32_t n, n_byz;         /* validators, Byzantine ones                            */
    uint64_t events;
    uint64_t end_ms, gst_ms;   /* simulated time                                         */
    uint64_t heights;          /* highest height committed by an honest node            */
    uint64_t commits_engine;   /* honest commits decided by the node's own engine       */
    uint64_t commits_gossip;   /* honest commits learnt from a decision message         */
    uint64_t crashes, equivocations, refused, max_round, fake_decisions_refused;
    uint64_t live_ms;          /* GST to liveness target reached                        */
    uint64_t max_actions;      /* most actions out of one engine event                  */
    bool lock_heavy;           /* the run drew the lock-heavy schedule                  */
    uint64_t blocks_fetched;   /* candidate blocks a node had to ask a peer for         */
} sim_result;

/* Run one seed. Returns true when no check failed; on failure, unless o->quiet, prints the
 * seed, the violation and the tail of the trace to stderr. */
bool sim_run(const sim_options *o, sim_result *res);

#endif
