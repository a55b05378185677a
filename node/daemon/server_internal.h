/*
 * node/daemon internal: the composition root's state and its request handlers.
 *   server.c  wires the components (rpc.h, mempool.h, chain.h, elg_worker.h): requests to
 *             their handlers, events to their receivers, the sweep timer, start and stop
 *   writes.c  SubmitTx and WaitForTx on the mempool component, and its events
 *   reads.c   the read RPCs (one store snapshot each), GetContract
 *   audit_events.c  the audit log: what is written for the node's own acts and for the
 *             components' events
 * Only these four files include it: no component knows the server.
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

#include "ledger/ledger.h"
#include "node/daemon/chain.h"
#include "node/daemon/elg_worker.h"
#include "node/daemon/hmap.h"
#include "node/daemon/log.h"
#include "node/daemon/mempool.h"
#include "node/daemon/quota.h"
#include "node/daemon/rpc.h"
#include "node/daemon/daemon.h"

#define FWL_VERSION "0.2.0"

typedef struct server server;

/* An RPC connection, as the request handlers get it (rpc.h). */
typedef node_rpc_conn client;

struct server {
    uv_loop_t loop;
    uv_timer_t sweep_timer;
    uv_signal_t sigint, sigterm;
    node_config cfg;
    ldg_genesis g;
    node_key vkey;
    bool has_vkey;    /* a validator; false: a non-voting replica    */
    ldg_store *store;
    node_chain ch;    /* the chain component (chain.h): consensus, blocks, sync, peers */

    node_rpc rpc;     /* the rpc component (rpc.h): connections, framing, output */
    node_mempool mp;  /* the mempool component (mempool.h)           */

    node_elg elg;     /* the eligibility component (elg_worker.h)   */
    SSL_CTX *tls;     /* the RPC port's TLS context (access.c); NULL: plaintext */
    node_quota quota; /* per-client rates (access.c)                  */
    node_audit *audit; /* the audit log (node/files: node_audit_*)  */
    bool audit_failing; /* its last write failed (logged once)      */
    int stop_signal;  /* the signal that stopped the node, 0: none   */
    bool stopping;
    uint64_t trimmed_at;  /* committed txs at the last malloc_trim   */
};

/* server.c */
uint64_t node__now_ms(server *s);
/* A security event (denied request, failed handshake, ...): logged and audited. */
void node__security(server *s, const char *event, const char *subject, const char *detail);
/* access.c: the RPC port's TLS context from the config, and rpc_require per request */
int node__access_init(server *s, char *err, size_t errlen);
void node__access_close(server *s);
/* false: c may not send req now, and has been answered: NODE_EAUTH (its role), NODE_ERATE
 * (its rate, with retry_after_ms). */
bool node__access_allowed(server *s, client *c, const fwl_Request *req);
/* writes.c: the write RPCs and the mempool's events */
int node__writes_init(server *s);
void node__handle_submit(server *s, client *c, uint64_t id, const fwl_SubmitTxReq *r);
void node__handle_wait(server *s, client *c, uint64_t id, const fwl_WaitForTxReq *r);

/* audit_events.c: the audit log (docs/operator.md lists the events). node__audit writes one
 * event (flags: node_audit_event's), and logs once on stderr when writing starts failing and
 * once when it works again. */
void node__audit(server *s, unsigned flags, const char *event, const char *subject,
                 const char *outcome, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Open the log (cfg.audit_log, or data_dir/audit.log) and write config_loaded. Errors: those
 * of node_audit_open, with err set. */
int node__audit_open(server *s, const node_config_origin *origin, char *err, size_t errlen);
/* The node started; it stopped (failed NULL) or could not start (failed: why), which also
 * logs the last line's hash on stderr and closes the log. Nothing when the log is not open. */
void node__audit_start(server *s);
void node__audit_end(server *s, const char *failed);
void node__audit_tick(server *s);
/* A tx a client submitted was admitted or refused: admin txs and revocations are written. */
void node__audit_tx(server *s, const node_mempool_verdict *v);
/* The chain's peer_auth_failed event. */
void node__audit_peer_auth(void *ctx, const char *peer, const char *ip, const char *why);

/* reads.c */
void node__handle_get_block(server *s, client *c, uint64_t id, const fwl_GetBlockReq *r);
void node__handle_get_release(server *s, client *c, uint64_t id, const fwl_GetReleaseReq *r);
void node__handle_list(server *s, client *c, uint64_t id, const fwl_ListReleasesReq *r);
void node__handle_status(server *s, client *c, uint64_t id);
void node__handle_nonce(server *s, client *c, uint64_t id, const fwl_NonceReq *r);
void node__handle_get_contract(server *s, client *c, uint64_t id, const fwl_GetContractReq *r);
void node__handle_get_log_proof(server *s, client *c, uint64_t id, const fwl_GetLogProofReq *r);

#endif
