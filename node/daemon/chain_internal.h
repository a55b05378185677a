/*
 * Private to the chain component (chain.c, blocks.c, sync.c, stall.c, peers.c): the calls
 * its files make to each other. (The p2p message types are in chain.h: a test's transport
 * carries them.)
 */
#ifndef FWL_NODE_DAEMON_CHAIN_INTERNAL_H
#define FWL_NODE_DAEMON_CHAIN_INTERNAL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "node/client/client.h"
#include "node/daemon/chain.h"
#include "node/daemon/log.h"

/* Send one message to a peer (peer >= 0) or all (-1): through cfg.send, else p2p. Returns
 * 0 (or for all, >= 0) when queued; < 0 when not (stopping, no transport, a full queue). */
int node__chain_send(node_chain *ch, int64_t peer, uint8_t type, const uint8_t *data,
                     size_t len);
/* Is there a transport to send on (and the component not stopping)? */
bool node__chain_can_send(const node_chain *ch);
/* The component's clock (cfg.now_ms, else the wall clock). */
uint64_t node__chain_now(const node_chain *ch);
/* Answers may be waiting: the flush event. */
void node__chain_flush(node_chain *ch);

/* blocks.c: building, staging and committing blocks */
int node__build_block(node_chain *ch, uint64_t height, uint8_t **blk, size_t *len,
                      uint8_t hash[LDG_DIGEST_LEN]);
int node__stage_block(node_chain *ch, const uint8_t *blk, size_t len);
/* Commit blk (an encoded Block without certificate) with the certificate cert. */
int node__commit_block(node_chain *ch, const uint8_t *blk, size_t len, const fwl_Signature *cert,
                       size_t n_cert, uint32_t round);
/* A block with its certificate from sync; pre: its txs' signatures were verified. */
int node__apply_synced(node_chain *ch, const uint8_t *blk, size_t len, bool sigs_verified);
/* A block with its certificate, pre (NULL or one flag per tx) naming the txs whose
 * signatures were verified already; on success the chain moves on as after any commit. */
int node__apply_certified(node_chain *ch, const uint8_t *blk, size_t len, const bool *pre);

/* chain.c: the consensus driver */
void node__chain_committed(node_chain *ch, uint64_t height);
void node__chain_tick(node_chain *ch);
void node__chain_on_proposal_block(node_chain *ch, const uint8_t *data, size_t len);
void node__chain_on_proposal(node_chain *ch, uint32_t from, const fwl_ProposalMsg *p);
void node__chain_on_vote(node_chain *ch, const fwl_VoteMsg *v);
void node__chain_on_fetch(node_chain *ch, uint32_t from, const fwl_SyncRequestMsg *q);
/* A peer asks for a candidate block by hash (P2P_T_GET_BLOCK). */
void node__chain_on_get_block(node_chain *ch, uint32_t from, const uint8_t hash[LDG_DIGEST_LEN]);
void node__chain_on_peer_up(node_chain *ch, uint32_t peer);

void node__send_status(node_chain *ch, int64_t peer);
/* Fill the consensus, peer and sync fields of a Status answer. */
void node__chain_status(node_chain *ch, fwl_StatusResp *st);

/* sync.c: status and block sync */
void node__sync_on_status(node_chain *ch, uint32_t from, const fwl_StatusMsg *m);
void node__sync_on_request(node_chain *ch, uint32_t from, const fwl_SyncRequestMsg *q);
void node__sync_on_block(node_chain *ch, uint32_t from, const uint8_t *data, size_t len);
/* Ask a peer that is ahead for the blocks we lack (no-op if one request is in flight). */
void node__sync_request(node_chain *ch);
void node__sync_tick(node_chain *ch);
void node__sync_free(node_chain *ch);

/* stall.c: blocks the disk refused */
/* Writing the block of height failed with the disk error rc while `doing` ("building",
 * "staging", "committing", "applying synced"): logged when the cause changes, shown by
 * Status until a block commits. */
void node__stall_failed(node_chain *ch, int rc, uint64_t height, const char *doing);
/* Keep a decided block (encoded with its certificate; malloc'd, taken over, as is pre) that
 * could not be written, and write it again every NODE_STALL_RETRY_MS. */
void node__stall_keep(node_chain *ch, uint8_t *blk, size_t len, uint64_t height, bool *pre);
/* Is the block of height kept for writing again? */
bool node__stall_holds(const node_chain *ch, uint64_t height);
/* A block was committed at height: writing works (logged if it did not). */
void node__stall_committed(node_chain *ch, uint64_t height);
void node__stall_tick(node_chain *ch);
/* The vote record's write result (0: written): a change is logged. */
void node__stall_votes(node_chain *ch, int rc);
void node__stall_status(node_chain *ch, fwl_StatusResp *st);
void node__stall_free(node_chain *ch);

/* peers.c: the p2p transport */
int node__p2p_start(node_chain *ch, char *err, size_t errlen);
void node__p2p_stop(node_chain *ch);

/* --- chain.c, chain_votes.c, chain_recv.c: the driver's files share these --- */

/* Our votes of a height (WAL) and the prevotes behind our lock, as kept on disk when the
 * height started: what a restart brings back. */
typedef struct {
    uint64_t h;
    size_t n_wal, n_pol;
    cns_msg wal[NODE_WAL_MAX];
    node_signed_vote pol[NODE_POL_MAX];
} kept_votes;
enum { KEPT_LOCK, KEPT_PROP }; /* data_dir/lockblock, propblock */

/* chain_votes.c: candidate blocks and checked votes */
cand_block *node__cand_find(node_chain *ch, const uint8_t hash[LDG_DIGEST_LEN]);
bool node__cand_pinned(const node_chain *ch, const cand_block *c);
cand_block *node__cand_add(node_chain *ch, uint64_t height, const uint8_t hash[LDG_DIGEST_LEN],
                           const uint8_t *bytes, size_t len, uint32_t proposer_alg,
                           const uint8_t *proposer_key, size_t proposer_len);
void node__forget_below(node_chain *ch, uint64_t height);
vote_entry *node__vote_find(node_chain *ch, uint64_t h, uint32_t r, uint8_t step, uint32_t v);
void node__vote_store(node_chain *ch, const fwl_VoteMsg *m);
void node__vote_to_msg(const vote_entry *e, fwl_VoteMsg *m);

/* chain.c: the driver */
void node__chain_run(node_chain *ch, const cns_tm_actions *acts);
void node__chain_vote(node_chain *ch, const cns_tm_action *a);
void node__start_height(node_chain *ch);
void node__send_pb(node_chain *ch, int64_t peer, uint8_t type, const pb_msgdesc_t *f,
                   const void *msg);
void node__request_block(node_chain *ch, int64_t peer, const uint8_t hash[LDG_DIGEST_LEN]);
void node__send_own_proposal(node_chain *ch, int64_t peer);
void node__resend_own(node_chain *ch, int64_t peer);

/* chain_recv.c: what peers send */
void node__chain_feed_held(node_chain *ch, uint64_t h, uint32_t r);
void node__kept_take(node_chain *ch, kept_votes *k);
void node__replay_kept(node_chain *ch, const kept_votes *k);

#endif
