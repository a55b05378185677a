/*
 * node/daemon/chain.h: the chain component of fwledgerd. It owns everything that moves the
 * chain forward: the consensus driver (chain.c: the Tendermint engine's actions, timers,
 * restarts; chain_recv.c: what peers send; chain_votes.c: candidate blocks and votes held;
 * votelog.c: the durable vote record), blocks (blocks.c: build from the
 * mempool's head, stage, commit, apply), block sync (sync.c), the disk-stall retry
 * (stall.c) and the p2p transport with its message types (peers.c).
 *
 * It uses the mempool through its public calls (the txs of a block to build, what is
 * already verified, a committed block's txs leaving it) and tells the daemon through
 * events: `flush` after it may have made answers (a commit settles WaitForTx waiters).
 * Time comes from cfg.now_ms (NULL: the wall clock), so a test can drive it.
 *
 * Lifecycle: node_chain_init (the engine, the vote record, kept blocks), node_chain_start
 * (p2p, the first status), node_chain_stop (p2p and timers close), node_chain_close once
 * the loop has ended. Loop thread only, except sync's verification on the thread pool,
 * which touches only its job.
 *
 * Seams for tests (tests/node/test_chain.c drives several nodes in one process without
 * sockets or real time): cfg.send replaces p2p (messages then come in through
 * node_chain_on_message and node_chain_peer_up), cfg.now_ms the clock (the engine's
 * timeouts then fire through node_chain_fire_timers, at node_chain_timer_due), and
 * cfg.inline_verify keeps sync's verification off the thread pool. The daemon leaves all
 * three unset.
 */
#ifndef FWL_NODE_DAEMON_CHAIN_H
#define FWL_NODE_DAEMON_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/daemon/mempool.h"
#include "node/daemon/votelog.h"
#include "node/files/files.h"
#include "p2p/p2p.h"

/* p2p message types (the p2p frame's type byte): what peers send each other, and what a
 * test's transport (cfg.send) carries. */
enum {
    P2P_T_TX = 1,             /* an encoded Tx envelope                                  */
    P2P_T_PROPOSAL_BLOCK = 2, /* an encoded Block without certificate                    */
    P2P_T_PROPOSAL = 3,       /* fwl.ProposalMsg                                         */
    P2P_T_VOTE = 4,           /* fwl.VoteMsg                                             */
    P2P_T_STATUS = 5,         /* fwl.StatusMsg                                           */
    P2P_T_SYNC_REQUEST = 6,   /* fwl.SyncRequestMsg                                      */
    P2P_T_SYNC_BLOCK = 7,     /* an encoded Block with its commit certificate            */
    P2P_T_FETCH_VOTES = 8,    /* fwl.SyncRequestMsg: (height, round) of prevotes wanted   */
    P2P_T_GET_BLOCK = 9,      /* 32 bytes: the hash of a candidate block wanted; answered
                                 with P2P_T_PROPOSAL_BLOCK when held                      */
};

typedef struct {
    uv_loop_t *loop;
    const node_config *node;  /* timeouts, intervals, data_dir, p2p and peers           */
    const ldg_genesis *g;
    ldg_store *store;
    const node_key *vkey;     /* the validator key; NULL: a non-voting replica          */
    node_mempool *mp;
    /* Optional: the clock (ms since the epoch); NULL: the wall clock. */
    uint64_t (*now_ms)(void *ctx);
    /* Answers may be waiting to be written (after a commit, a sync batch). Optional. */
    void (*flush)(void *ctx);
    /* A p2p connection failed authentication (p2p's on_auth_failed: the peer's name, NULL
     * for an unknown remote; the remote's IP address; why). Optional. */
    void (*peer_auth_failed)(void *ctx, const char *peer, const char *ip, const char *why);
    /* Optional: the transport in place of p2p (which is then not started, and Status shows
     * no peer stats). Sends one message of a p2p type (P2P_T_*) to the peer with
     * this id, or to every peer when peer is -1; data is valid during the call only. Called
     * on the loop thread, also from inside node_chain_on_message and the other calls here
     * (the transport must queue, not deliver at once). Returns 0 when queued, or < 0 (a
     * full queue: the sender may try again later); for peer -1 any value >= 0. */
    int (*send)(void *ctx, int64_t peer, uint8_t type, const uint8_t *data, size_t len);
    /* Verify sync's blocks on the loop thread, at their arrival, instead of on the thread
     * pool (deterministic tests). */
    bool inline_verify;
    void *ctx;
} node_chain_config;

/* stall.c: a commit the disk refused (full, quota, LMDB map full, I/O error). */
#define NODE_STALL_RETRY_MS 1000
typedef struct {
    int rc;                /* the disk error of the last failed write of a block; 0: none    */
    char reason[256];      /* rc explained, with the file: logged once, shown by Status      */
    uint64_t since_ms, retries;
    uint8_t *blk;          /* the decided block (with its certificate) not written yet       */
    size_t len;
    uint64_t height;
    bool *pre;             /* its txs whose signatures were verified already (NULL: none)    */
    uint64_t retry_ms;     /* when to write it again                                         */
    int votes_rc;          /* the vote record's last write error; 0: none                    */
} node_stall;

#define CAND_MAX 8                          /* candidate blocks kept (current and next height) */
#define VOTES_MAX (LDG_MAX_VALIDATORS * 2 * 16)
#define TIMERS_MAX 16
#define PEERS_MAX 96

typedef struct {
    uint64_t height;
    uint8_t hash[LDG_DIGEST_LEN];
    uint8_t *bytes;                         /* encoded Block without certificate           */
    size_t len;
    ldg_pubkey proposer;                    /* from its header                             */
    uint64_t time_ms;                       /* from its header, for a peer's block (our own
                                               blocks leave it 0: the engine never takes our
                                               own proposal back from the node)             */
    bool time_logged;                       /* a refusal of its time was logged            */
} cand_block;

typedef struct {
    bool used, nil;
    uint8_t step, sig_len;
    uint32_t round, validator;
    uint64_t height;
    uint8_t value[LDG_DIGEST_LEN];
    uint8_t sig[LDG_SIG_MAX];
} vote_entry;

typedef struct {
    bool used;
    uint8_t step;
    uint32_t round;
    uint64_t height, at_ms;
} tm_timer;

/* A block from sync: verified on the thread pool, applied in height order. */
typedef struct sync_job {
    uv_work_t w;
    struct node_chain *ch;
    uint64_t height;
    uint8_t *bytes;
    size_t len;
    int rc;
    bool done;       /* its after-work callback ran: only then may it be applied or freed */
    size_t n_txs;
    struct sync_job *next;
} sync_job;

typedef struct node_chain {
    node_chain_config cfg;
    node_key ikey;             /* p2p identity (loaded from cfg.node->identity_key)      */
    bool stopping;
    uint64_t committed_txs;    /* txs in the blocks committed since start                */
    node_stall stall;          /* a decided block the disk refused (stall.c)             */
    cns_tm tm;
    int32_t self;              /* validator index, -1 for a replica                     */
    bool started;              /* the engine is deciding `height`                       */
    uint64_t height;           /* tip + 1                                               */
    uint64_t height_started_ms, last_resend_ms;
    uint64_t started_at_ms;         /* node_chain_start: the empty-block clock's start */
    node_votelog *vlog;
    node_vote_state vs;        /* what vlog holds: record, WAL, proof-of-lock           */
    node_vote_state vs_next;   /* scratch: vs with the current action batch             */
    bool record_ok;            /* the vote record of the current action batch is durable */
    p2p_net *net;
    uint32_t self_id;
    cand_block cand[CAND_MAX];
    size_t cand_next;
    vote_entry votes[VOTES_MAX];
    fwl_ProposalMsg own_prop;  /* our last proposal (resent while undecided)            */
    bool own_prop_sent;        /* own_prop went out with its block                      */
    uint64_t blk_req_ms;       /* last GET_BLOCK sent                                   */
    struct { uint32_t peer; uint64_t at_ms; } blk_ans[8]; /* GET_BLOCK answers, rate    */
    bool has_kept[2];          /* data_dir/lockblock, propblock hold the block of our   */
    uint8_t kept[2][LDG_DIGEST_LEN]; /* lock, of our last proposal (chain.c KEPT_*)     */
    fwl_ProposalMsg next_prop; /* a proposal that came before its height started       */
    int32_t next_prop_from;
    tm_timer timers[TIMERS_MAX];
    uv_timer_t timer;
    bool build_pending;        /* a BUILD waits for txs still being verified             */
    uint64_t build_height;
    uint32_t build_round;
    uv_timer_t build_timer;
    /* peers and sync */
    uint32_t peer_id[PEERS_MAX];
    uint64_t peer_height[PEERS_MAX];
    size_t n_peers;
    bool syncing;              /* behind the peers: consensus waits                     */
    bool sync_in_flight;
    uint32_t sync_peer;
    uint64_t sync_next, sync_end, sync_deadline_ms;
    sync_job *jobs;            /* verifying or verified, sorted by height               */
    size_t n_jobs;
    uint64_t sync_blocks, sync_t0_ms, sync_log_ms, sync_rate;
    p2p_seen *seen_tx;         /* raw hashes of txs seen (gossip de-duplication)        */
} node_chain;

/* Errors: NODE_ECONFIG (err says why: the vote record, the kept blocks), LDG_ENOMEM. */
int node_chain_init(node_chain *ch, const node_chain_config *cfg, char *err, size_t errlen);
/* Start p2p (with peers configured) and announce our tip. Errors: NODE_ECONFIG (err). */
int node_chain_start(node_chain *ch, char *err, size_t errlen);
/* The node stops: p2p stops, the timers close, nothing more is decided. */
void node_chain_stop(node_chain *ch);
/* Free everything, once the loop has ended. */
void node_chain_close(node_chain *ch);

/* Something to decide may have arrived (txs admitted): start or build a height. */
void node_chain_kick(node_chain *ch);
/* The periodic work: resends, timeouts, sync deadlines, writing a stalled block again. */
void node_chain_tick(node_chain *ch);
/* Fill the consensus, peer, sync and stall fields of a Status answer. */
void node_chain_status(node_chain *ch, fwl_StatusResp *st);
/* A tx entered the mempool: mark it seen and gossip it to the peers. */
void node_chain_tx_admitted(node_chain *ch, const uint8_t *raw, size_t len,
                            const uint8_t raw_hash[LDG_DIGEST_LEN]);
/* A message from a peer (its p2p type and payload; peer: the peer's id, a validator's
 * index in genesis or >= 1000 for a replica): what p2p's on_message does, so a test's
 * transport (cfg.send) delivers here. Loop thread. Bad input is dropped. */
void node_chain_on_message(node_chain *ch, uint32_t peer, uint8_t type, const uint8_t *data,
                           size_t len);
/* The peer is connected: it gets our status and our messages of the current height. */
void node_chain_peer_up(node_chain *ch, uint32_t peer);
/* Fire the engine's timeouts that are due at the component's clock (cfg.now_ms) and a
 * block build that waited its time: what the loop's timers do with the wall clock. Loop
 * thread; calling it early does nothing. */
void node_chain_fire_timers(node_chain *ch);
/* When node_chain_fire_timers has something to do next (ms on the component's clock), or
 * UINT64_MAX when nothing is pending. */
uint64_t node_chain_timer_due(const node_chain *ch);

/* Txs in the blocks committed since start. */
uint64_t node_chain_committed_txs(const node_chain *ch);
/* This node's validator index, -1 for a replica. */
int32_t node_chain_self(const node_chain *ch);

#endif
