/*
 * node/daemon internal: the server's state and the functions its files share.
 *   server.c  connections, framing, output, dispatch, start and stop
 *   writes.c  SubmitTx and WaitForTx, wired to the mempool component (mempool.h)
 *   reads.c   the read handlers
 * Everything runs on the loop thread except the mempool's verification batches (thread
 * pool), which only touch their own batch, and the eligibility worker (elg_worker.h).
 */
#ifndef FWL_NODE_SERVER_INTERNAL_H
#define FWL_NODE_SERVER_INTERNAL_H

#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/daemon/elg_worker.h"
#include "node/daemon/hmap.h"
#include "node/daemon/log.h"
#include "node/daemon/mempool.h"
#include "node/daemon/rpc.h"
#include "node/daemon/daemon.h"
#include "node/daemon/votelog.h"
#include "p2p/p2p.h"

#define FWL_VERSION "0.2.0"

/* p2p message types (the p2p frame's type byte). */
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

typedef struct server server;

/* An RPC connection, as the request handlers get it (rpc.h). */
typedef node_rpc_conn client;

/* --- the chain driver's state (chain.c, sync.c) --- */

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
    server *s;
    uint64_t height;
    uint8_t *bytes;
    size_t len;
    int rc;
    bool done;       /* its after-work callback ran: only then may it be applied or freed */
    size_t n_txs;
    struct sync_job *next;
} sync_job;

typedef struct {
    cns_tm tm;
    int32_t self;              /* validator index, -1 for a replica                     */
    bool started;              /* the engine is deciding `height`                       */
    uint64_t height;           /* tip + 1                                               */
    uint64_t height_started_ms, last_resend_ms;
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


struct server {
    uv_loop_t loop;
    uv_timer_t sweep_timer;
    uv_signal_t sigint, sigterm;
    node_config cfg;
    ldg_genesis g;
    node_key vkey;
    bool has_vkey;    /* a validator; false: a non-voting replica    */
    node_key ikey;    /* p2p identity                                */
    ldg_store *store;
    node_chain ch;
    node_stall stall;

    node_rpc rpc;     /* the rpc component (rpc.h): connections, framing, output */
    node_mempool mp;  /* the mempool component (mempool.h)           */

    node_elg elg;     /* the eligibility component (elg_worker.h)   */
    bool stopping;
    uint64_t committed_txs;
    uint64_t trimmed_at;  /* committed_txs at the last malloc_trim */
};

/* server.c */
uint64_t node__now_ms(server *s);
/* writes.c: the write RPCs and the mempool's events */
int node__writes_init(server *s);
void node__handle_submit(server *s, client *c, uint64_t id, const fwl_SubmitTxReq *r);
void node__handle_wait(server *s, client *c, uint64_t id, const fwl_WaitForTxReq *r);
/* A tx from a peer: verify and admit like SubmitTx, without an answer. */
void node__tx_from_peer(server *s, const uint8_t *raw, size_t len);

/* blocks.c: building, staging and committing blocks */
int node__build_block(server *s, uint64_t height, uint8_t **blk, size_t *len,
                      uint8_t hash[LDG_DIGEST_LEN]);
int node__stage_block(server *s, const uint8_t *blk, size_t len);
/* Commit blk (an encoded Block without certificate) with the certificate cert. */
int node__commit_block(server *s, const uint8_t *blk, size_t len, const fwl_Signature *cert,
                       size_t n_cert, uint32_t round);
/* A block with its certificate from sync; pre: its txs' signatures were verified. */
int node__apply_synced(server *s, const uint8_t *blk, size_t len, bool sigs_verified);
/* A block with its certificate, pre (NULL or one flag per tx) naming the txs whose
 * signatures were verified already; on success the chain moves on as after any commit. */
int node__apply_certified(server *s, const uint8_t *blk, size_t len, const bool *pre);

/* chain.c: the consensus driver */
int node__chain_init(server *s, char *err, size_t errlen);
void node__chain_free(server *s);
void node__chain_kick(server *s);
void node__chain_committed(server *s, uint64_t height);
void node__chain_tick(server *s);
void node__chain_on_proposal_block(server *s, const uint8_t *data, size_t len);
void node__chain_on_proposal(server *s, uint32_t from, const fwl_ProposalMsg *p);
void node__chain_on_vote(server *s, const fwl_VoteMsg *v);
void node__chain_on_fetch(server *s, uint32_t from, const fwl_SyncRequestMsg *q);
/* A peer asks for a candidate block by hash (P2P_T_GET_BLOCK). */
void node__chain_on_get_block(server *s, uint32_t from, const uint8_t hash[LDG_DIGEST_LEN]);
void node__chain_on_peer_up(server *s, uint32_t peer);

void node__send_status(server *s, int64_t peer);
/* Fill the consensus, peer and sync fields of a Status answer. */
void node__chain_status(server *s, fwl_StatusResp *st);

/* sync.c: status and block sync */
void node__sync_on_status(server *s, uint32_t from, const fwl_StatusMsg *m);
void node__sync_on_request(server *s, uint32_t from, const fwl_SyncRequestMsg *q);
void node__sync_on_block(server *s, uint32_t from, const uint8_t *data, size_t len);
/* Ask a peer that is ahead for the blocks we lack (no-op if one request is in flight). */
void node__sync_request(server *s);
void node__sync_tick(server *s);
void node__sync_free(server *s);

/* stall.c: blocks the disk refused */
/* Writing the block of height failed with the disk error rc while `doing` ("building",
 * "staging", "committing", "applying synced"): logged when the cause changes, shown by
 * Status until a block commits. */
void node__stall_failed(server *s, int rc, uint64_t height, const char *doing);
/* Keep a decided block (encoded with its certificate; malloc'd, taken over, as is pre) that
 * could not be written, and write it again every NODE_STALL_RETRY_MS. */
void node__stall_keep(server *s, uint8_t *blk, size_t len, uint64_t height, bool *pre);
/* Is the block of height kept for writing again? */
bool node__stall_holds(const server *s, uint64_t height);
/* A block was committed at height: writing works (logged if it did not). */
void node__stall_committed(server *s, uint64_t height);
void node__stall_tick(server *s);
/* The vote record's write result (0: written): a change is logged. */
void node__stall_votes(server *s, int rc);
void node__stall_status(server *s, fwl_StatusResp *st);
void node__stall_free(server *s);

/* peers.c: the p2p transport */
int node__p2p_start(server *s, char *err, size_t errlen);
void node__p2p_stop(server *s);
/* A tx entered the mempool: mark it seen and gossip it to the peers. */
void node__p2p_tx_admitted(server *s, const uint8_t *raw, size_t len,
                           const uint8_t raw_hash[LDG_DIGEST_LEN]);

/* reads.c */
void node__handle_get_block(server *s, client *c, uint64_t id, const fwl_GetBlockReq *r);
void node__handle_get_release(server *s, client *c, uint64_t id, const fwl_GetReleaseReq *r);
void node__handle_list(server *s, client *c, uint64_t id, const fwl_ListReleasesReq *r);
void node__handle_status(server *s, client *c, uint64_t id);
void node__handle_nonce(server *s, client *c, uint64_t id, const fwl_NonceReq *r);
void node__handle_get_contract(server *s, client *c, uint64_t id, const fwl_GetContractReq *r);

#endif
