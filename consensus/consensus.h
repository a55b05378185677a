/*
 * consensus/: deciding the next block.
 *
 * The engine is a pure state machine: events go in (a height starts, a proposal or a vote
 * arrives, a timeout fires, a built value is ready) and actions come out (build a proposal,
 * sign and send a proposal or a vote, schedule a timeout, commit, fetch missing votes). It
 * never touches sockets, timers, LMDB, the clock or randomness; fwledgerd (node/daemon/chain.c)
 * carries out the actions with libuv, p2p/ and ledger/, and the simulator in tests/consensus
 * drives the same engine. With one validator its own votes are the quorum, so a height
 * commits as soon as its block is built.
 */
#ifndef FWL_CONSENSUS_H
#define FWL_CONSENSUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CNS_HASH_LEN 32

/* ---------------------------------------------------------------------------------------- */
/* The Tendermint engine (consensus/tendermint.c)                                            */
/*
 * Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic 2018) for
 * validators with voting power: heights, rounds, the steps propose / prevote / precommit,
 * lockedValue/lockedRound and validValue/validRound, thresholds by voting power ("2f+1" means
 * more than 2/3 of the total power, "f+1" more than 1/3), timeouts that grow linearly per
 * round, CometBFT's weighted round-robin proposer and the round skip. docs/consensus.md
 * describes messages, steps, timeouts, the vote record and the duties of the node.
 *
 * Like the solo engine it is a pure state machine: each event function takes the engine and
 * one authenticated input (signatures are the node's job; the engine is told the sender's
 * validator index) and returns the actions the node must carry out, in order. It never
 * allocates, and every store in it is bounded (see the CNS_TM_* limits).
 *
 * No double signing: before the engine asks for any signature it consults its vote record
 * with cns_may_sign and advances it with cns_record_update; every signing action carries the
 * updated record, which the node MUST write durably (fsync) before the signature leaves the
 * process. A restarted engine initialised from the last durable record refuses to sign
 * anything conflicting and restores its lock, without which it could help a fork.
 */

#define CNS_TM_MAX_VALIDATORS 32       /* = LDG_MAX_VALIDATORS                              */
#define CNS_TM_MAX_ROUND (1u << 30)    /* messages with a higher round are refused         */
#define CNS_TM_MAX_TOTAL_POWER (INT64_MAX / 128) /* keeps priorities and tallies in int64   */
#define CNS_TM_ROUND_SLOTS 12          /* rounds of the current height whose messages are kept */
#define CNS_TM_FUTURE_ROUNDS 4         /* messages up to round + this are kept; higher rounds
                                          only raise the sender's round for the round skip  */
#define CNS_TM_NEXT_QUOTA 4            /* votes per validator buffered for height + 1, rounds
                                          below CNS_TM_FUTURE_ROUNDS                         */
#define CNS_TM_MAX_ACTIONS 12          /* at most this many actions come out of one event   */

/* Errors (negative), named by cns_strerror: -400..-499, every module's range is listed in
 * node/client/client.h. They never reach a client: the node only tests them for failure.
 * CNS_OK stands outside the table so that the table holds errors only (node_strerror puts
 * every module's codes in one switch, where two zeros would collide). */
#define CNS_ERRORS(X)                                                                   \
    X(CNS_EINVAL, -400, "invalid argument")                                             \
    X(CNS_ENOTPROPOSER, -401, "proposal not from the proposer of its round")            \
    X(CNS_ESTATE, -402, "engine not started at a height")

#define CNS_ERR_ENUM_(name, value, msg) name = value,
typedef enum { CNS_OK = 0, CNS_ERRORS(CNS_ERR_ENUM_) } cns_error;
#undef CNS_ERR_ENUM_

/* A static string for a CNS_E* code (or "unknown error"). */
const char *cns_strerror(int err);

/* Steps, in the order they happen within a round. As a vote's type byte (the `type` of
 * ldg_commit_digest) a prevote is 1 and a precommit 2 (= LDG_VOTE_PRECOMMIT). */
typedef enum { CNS_PROPOSE = 0, CNS_PREVOTE = 1, CNS_PRECOMMIT = 2 } cns_step;

/* A proposal (step CNS_PROPOSE) or a vote (CNS_PREVOTE, CNS_PRECOMMIT): what is signed. */
typedef struct {
    uint64_t height;             /* >= 1                                                    */
    uint32_t round;              /* <= CNS_TM_MAX_ROUND                                     */
    uint8_t step;                /* cns_step                                                */
    bool nil;                    /* votes only: a vote for no value; value is then zero     */
    uint8_t value[CNS_HASH_LEN]; /* the block hash                                          */
    int32_t valid_round;         /* proposals only: -1, or the round (< round) whose 2f+1
                                    prevotes for value justify proposing it again           */
} cns_msg;

/* The durable vote record: the last message this validator signed and its lock at that
 * height. Persist it (fsync) before the signature of any message leaves the process, as
 * carried by each CNS_TM_PROPOSE / CNS_TM_VOTE action; hand it back to cns_tm_init after a
 * restart. The lock is part of it because a validator that forgot it after a crash could
 * prevote, and so help decide, a value conflicting with one already decided. */
typedef struct {
    cns_msg last;                       /* last.height == 0: nothing signed yet             */
    int32_t locked_round;               /* -1: no lock at last.height                       */
    uint8_t locked_value[CNS_HASH_LEN];
} cns_vote_record;

/* An empty record (nothing signed). */
void cns_record_init(cns_vote_record *rec);

/* May a validator whose durable record is rec sign m? Yes when (height, round, step) of m is
 * above the record's, or equal with identical content (re-signing the same message is not
 * equivocation); no when below or conflicting, or when m is malformed. Pure. */
bool cns_may_sign(const cns_vote_record *rec, const cns_msg *m);

/* Advance rec to m; call only after cns_may_sign(rec, m) returned true. A non-nil
 * precommit locks its value; a new height clears the lock. */
void cns_record_update(cns_vote_record *rec, const cns_msg *m);

/* Validators, their power and the timeouts. Timeout of a step in round r is
 * base + r * delta milliseconds (saturating). */
typedef struct {
    uint32_t n_validators;                   /* 1..CNS_TM_MAX_VALIDATORS                  */
    uint64_t power[CNS_TM_MAX_VALIDATORS];   /* each >= 1, sum <= CNS_TM_MAX_TOTAL_POWER  */
    uint32_t propose_ms, propose_delta_ms;
    uint32_t prevote_ms, prevote_delta_ms;
    uint32_t precommit_ms, precommit_delta_ms;
} cns_tm_config;

/* CNS_OK or CNS_EINVAL (no validators, too many, a zero power, total power too large). */
int cns_tm_config_check(const cns_tm_config *cfg);

/* The timeout of step in round r under cfg, in milliseconds. */
uint32_t cns_tm_timeout(const cns_tm_config *cfg, cns_step step, uint32_t round);

/* The proposer of (height >= 1, round) for a checked cfg: CometBFT's proposer-priority
 * algorithm on a validator set that is the same since genesis, ties to the lower index (list
 * validators as CometBFT sorts them: power descending, then address). Proposer of (h, r) is
 * the validator picked by the (h + r)-th IncrementProposerPriority(1) from all-zero
 * priorities. The priorities return to zero every total-power steps, which bounds the cost
 * by O(min(h + r, total power) * n). */
uint32_t cns_tm_proposer(const cns_tm_config *cfg, uint64_t height, uint32_t round);

typedef enum {
    CNS_TM_BUILD = 1,  /* build a block for (height, round) from pending transactions and
                          answer with cns_tm_on_value; if that fails, do nothing (the
                          propose timeout moves on)                                         */
    CNS_TM_PROPOSE,    /* persist record, then sign msg (a proposal) and broadcast it with
                          the block; if msg.valid_round >= 0 also send the prevotes of
                          (height, valid_round) for msg.value that you hold                 */
    CNS_TM_VOTE,       /* persist record, then sign msg (a vote) and broadcast it; for a
                          non-nil precommit (a lock) also keep durably the prevotes of
                          `signers` for msg.value in msg.round (the proof-of-lock; only a
                          new lock replaces it: the same precommit sent again after a
                          restart lists fewer) and hand them back with cns_tm_on_vote after
                          a restart                                                         */
    CNS_TM_SCHEDULE,   /* call cns_tm_on_timeout(height, round, step) after delay_ms        */
    CNS_TM_COMMIT,     /* value is decided at height by the precommits of `signers` in
                          round: apply the block, then call cns_tm_start_height(height+1)   */
    CNS_TM_FETCH,      /* a proposal relies on prevotes of (height, round) we lack: ask the
                          peers for the prevotes they hold for that round                   */
} cns_tm_action_type;

typedef struct {
    cns_tm_action_type type;
    uint64_t height;
    uint32_t round;
    cns_step step;                  /* SCHEDULE: which timeout                               */
    uint32_t delay_ms;              /* SCHEDULE                                              */
    cns_msg msg;                    /* PROPOSE, VOTE: what to sign                           */
    cns_vote_record record;         /* PROPOSE, VOTE: persist this before signing            */
    uint8_t value[CNS_HASH_LEN];    /* COMMIT: the decided value                             */
    uint32_t n_signers;             /* COMMIT: validators whose precommits for value in
                                       round add up to more than 2/3 of the power; VOTE of a
                                       non-nil precommit: those whose prevotes for it do     */
    uint8_t signers[CNS_TM_MAX_VALIDATORS];
} cns_tm_action;

typedef struct {
    size_t n;
    cns_tm_action a[CNS_TM_MAX_ACTIONS];
} cns_tm_actions;

/* What the engine keeps of one round of the current height. Private to the engine.
 * Per validator and vote type: its first vote and one alternate. An equivocator's vote
 * counts for every value it signed (two quorums still share an honest validator), which is
 * what lets a proof-of-lock form here even when a Byzantine validator sent us another vote
 * first; the alternate gives way to a vote for a value that matters in the round (its
 * proposal, or the value a current proposal cites with this valid round: `want`). */
typedef struct {
    bool used;
    uint32_t round;
    uint32_t proposer;
    bool has_proposal, proposal_valid, has_want;
    int32_t proposal_vr;
    uint8_t proposal_value[CNS_HASH_LEN];
    uint8_t want_value[CNS_HASH_LEN];
    uint8_t vote[2][2][CNS_TM_MAX_VALIDATORS]; /* [first, alternate][prevote, precommit]
                                                  [validator]: 0 none, 1 nil, 2 value    */
    uint8_t vote_value[2][2][CNS_TM_MAX_VALIDATORS][CNS_HASH_LEN];
} cns_tm_round;

/* The engine. Embed it by value (about 60 KB); fields are private except the counters. */
typedef struct {
    cns_tm_config cfg;
    uint64_t total_power;
    int32_t self;                    /* own validator index, -1 for a non-voting replica   */
    cns_vote_record record;          /* in-memory copy of the durable record               */

    /* Proposer priorities: the state after (height - 1) increments, and a cache for a
     * round of the current height. */
    int64_t prio_base[CNS_TM_MAX_VALIDATORS];
    int64_t prio_cache[CNS_TM_MAX_VALIDATORS];
    uint32_t prio_cache_round;

    /* Algorithm 1 state. */
    bool started, decided;
    uint64_t height;
    uint32_t round;
    cns_step step;
    int32_t locked_round, valid_round;
    uint8_t locked_value[CNS_HASH_LEN], valid_value[CNS_HASH_LEN];
    bool building;                   /* a BUILD for (height, round) is outstanding          */
    bool done34, done36, done47;     /* "for the first time" rules of the current round     */
    bool fetched;                    /* a FETCH went out for the current round's proposal   */

    /* Messages of the current height. */
    cns_tm_round slots[CNS_TM_ROUND_SLOTS];
    uint32_t max_round[CNS_TM_MAX_VALIDATORS];   /* highest round each validator sent       */
    uint32_t seen;                               /* bitmask: max_round[i] is meaningful     */
    uint32_t highest_round;                      /* max of max_round over seen              */

    /* Votes for height + 1, replayed by cns_tm_start_height. */
    cns_msg next[CNS_TM_MAX_VALIDATORS * CNS_TM_NEXT_QUOTA];
    uint8_t next_from[CNS_TM_MAX_VALIDATORS * CNS_TM_NEXT_QUOTA];
    uint8_t next_count[CNS_TM_MAX_VALIDATORS];
    size_t n_next;

    /* Counters (public, read-only). */
    uint32_t equivocators;           /* bitmask of validators caught equivocating at height */
    uint64_t equivocations;          /* conflicting proposals or votes seen since init      */
    uint64_t refused;                /* signatures the vote record refused since init       */
    uint64_t dropped;                /* messages not kept: bounds reached                   */
    uint64_t lost_actions;           /* must stay 0: the action bound was exceeded          */
} cns_tm;

/* Initialise a engine for cfg (copied). self: own validator index or -1 for a non-voting
 * replica. rec: the durable record (NULL: nothing signed yet). Errors: CNS_EINVAL. */
int cns_tm_init(cns_tm *e, const cns_tm_config *cfg, int32_t self, const cns_vote_record *rec);

/* Events. Each sets out->n = 0, appends up to CNS_TM_MAX_ACTIONS actions and returns 0 or a
 * negative CNS_E*; an error changes nothing. Messages for a past height, for a height already
 * decided, or too far ahead are ignored (0, no actions): the node sends a lagging peer the
 * decisions it lacks and fetches what it lacks itself.
 *
 * start_height: begin height (after init: tip + 1; after a COMMIT: height + 1; after the
 * node learnt a decision elsewhere: any higher height). Errors: CNS_EINVAL (0 or not above the
 * current height).
 * on_proposal: m->step == CNS_PROPOSE from validator sender, valid = the node's verdict on the
 * block. A proposal for the next height is ignored: keep it and deliver it after
 * start_height. Errors: CNS_EINVAL, CNS_ENOTPROPOSER, CNS_ESTATE.
 * on_vote: a prevote or precommit from validator sender. Errors: CNS_EINVAL, CNS_ESTATE.
 * on_timeout: a SCHEDULE fired. Errors: CNS_EINVAL, CNS_ESTATE.
 * on_value: the answer to BUILD. Errors: CNS_EINVAL, CNS_ESTATE. */
int cns_tm_start_height(cns_tm *e, uint64_t height, cns_tm_actions *out);
int cns_tm_on_proposal(cns_tm *e, const cns_msg *m, uint32_t sender, bool valid,
                       cns_tm_actions *out);
int cns_tm_on_vote(cns_tm *e, const cns_msg *m, uint32_t sender, cns_tm_actions *out);
int cns_tm_on_timeout(cns_tm *e, uint64_t height, uint32_t round, cns_step step,
                      cns_tm_actions *out);
int cns_tm_on_value(cns_tm *e, uint64_t height, uint32_t round,
                    const uint8_t value[CNS_HASH_LEN], cns_tm_actions *out);

/* Does the engine hold m from sender (a proposal or vote of its current height)? 0: no;
 * 1: as the proposal of its round, or as sender's first vote of its kind in its round; 2:
 * as sender's alternate vote there (an equivocator's second vote; a newer one may replace
 * it). Pure. The node keeps the signed copy of each message the engine holds, in the same
 * place, to relay them (answers to FETCH, peers catching up): a proof-of-lock can rest on a
 * vote only this node still has. */
int cns_tm_holds(const cns_tm *e, const cns_msg *m, uint32_t sender);

/* May the engine propose v again at its current height: is v its locked or its valid value?
 * The node must keep such a block (never let it give way to newer candidates): a validator
 * locked on a value whose block it lost can never propose anything acceptable to it. Pure. */
bool cns_tm_needs_value(const cns_tm *e, const uint8_t v[CNS_HASH_LEN]);

#endif
