/*
 * node/daemon/rpc.h: the RPC component of fwledgerd. It owns the listening socket and the
 * client connections: accepting (at most max_clients, at most max_per_ip from one IPv4
 * address or IPv6 /64), reading and framing requests (a frame over NODE_RPC_MAX_REQUEST is
 * answered NODE_EFRAME and the connection closed after the answer), decoding them into a
 * scratch fwl_Request, and the output side: answers are appended to a per-connection buffer
 * and written once per loop iteration (node_rpc_flush).
 *
 * Bounds on what a client can make the node do (docs/threat-model.md):
 *   - work: at most NODE_RPC_FRAMES_PER_TURN requests of one connection, or as many as make
 *     NODE_RPC_OUT_PER_TURN bytes of answers, are served per loop iteration; requests beyond
 *     wait in the connection's input buffer, which is not read into while it holds a whole
 *     request;
 *   - output: a connection's requests are served only while its unwritten answers are under
 *     NODE_RPC_OUT_HIGH, and, once all connections together hold NODE_RPC_OUT_TOTAL, only
 *     while it has none (a client that reads its answers is still served; one that does not
 *     stops at one answer). Total output stays under NODE_RPC_OUT_TOTAL + max_clients x the
 *     largest answer;
 *   - time: a request frame begun must be complete within request_timeout_ms; a connection
 *     owed nothing that sends nothing for idle_timeout_ms, or whose answers are not read for
 *     idle_timeout_ms, is closed.
 *
 * What a request means is not its business: each decoded request goes to the on_request
 * event, and on_read_end follows the requests of one read (for work batched per read).
 * Someone owed an answer later is named by a node_reply_to (slot, generation, request id),
 * which node_rpc_conn_of turns back into the connection while it is open: a slot reused by
 * a new connection has another generation.
 *
 * Lifecycle: node_rpc_init, node_rpc_start (bind and listen), node_rpc_stop (the listener
 * and every connection close), node_rpc_close once the loop has ended. Loop thread only.
 */
#ifndef FWL_NODE_DAEMON_RPC_H
#define FWL_NODE_DAEMON_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <pb.h>
#include <uv.h>

#include "fwledger.pb.h"
#include "ledger/ledger.h"
#include "node/daemon/reply_to.h"
#include "p2p/p2p_tls.h"

#define NODE_RPC_OUT_HIGH (8u << 20)   /* a connection's unwritten answers: serving stops  */
#define NODE_RPC_OUT_TOTAL (64u << 20) /* all connections' unwritten answers (see above)     */
#define NODE_RPC_FRAMES_PER_TURN 32    /* requests of one connection per loop iteration     */
#define NODE_RPC_OUT_PER_TURN (64u << 10) /* ... or answer bytes: then it waits a turn      */
#define NODE_RPC_TICK_MS 1000          /* deadlines are checked this often                  */
#define NODE_RPC_IDLE_TIMEOUT_MS 120000
#define NODE_RPC_REQUEST_TIMEOUT_MS 10000
#define NODE_RPC_MAX_PER_IP 64

/* What the component did to bound its clients (cumulative; for logs and tests). */
typedef struct {
    uint64_t refused_full;    /* connections refused at max_clients                        */
    uint64_t refused_per_ip;  /* ... at max_per_ip                                         */
    uint64_t closed_idle;     /* closed: nothing sent, nothing owed, for idle_timeout_ms   */
    uint64_t closed_slow_request; /* a request frame not complete within request_timeout */
    uint64_t closed_not_reading;  /* answers not read for idle_timeout_ms               */
    uint64_t tls_failed;      /* TLS handshakes that failed                                */
} node_rpc_stats;

typedef struct node_rpc_conn node_rpc_conn; /* private to rpc.c */
typedef struct node_rpc node_rpc;

typedef struct {
    uv_loop_t *loop;
    const char *host;     /* numeric IPv4 or IPv6 address                             */
    int port;
    uint32_t max_clients;
    uint32_t max_per_ip;         /* 0: NODE_RPC_MAX_PER_IP                                  */
    uint32_t idle_timeout_ms;    /* 0: NODE_RPC_IDLE_TIMEOUT_MS                             */
    uint32_t request_timeout_ms; /* 0: NODE_RPC_REQUEST_TIMEOUT_MS (also the TLS handshake)  */
    /* TLS: the caller's context (certificate, key, whether client certificates are asked
     * for: SSL_CTX_set_verify), kept until node_rpc_close; the component installs its
     * certificate check (any identity key, kept: node_rpc_conn_client_key). NULL:
     * plaintext. */
    SSL_CTX *tls;
    /* A security event (for the audit log): event ("rpc_tls_failed"), subject (the client's
     * address), detail. Optional. */
    void (*on_security)(void *ctx, const char *event, const char *subject, const char *detail);
    /* A decoded request of c (valid during the call; the answer goes out through the
     * send functions below). Decoding errors are answered by the component. */
    void (*on_request)(void *ctx, node_rpc_conn *c, const fwl_Request *req);
    /* The requests of one read were handled. Optional. */
    void (*on_read_end)(void *ctx);
    void *ctx;
} node_rpc_config;

struct node_rpc {
    node_rpc_config cfg;
    uv_tcp_t listener;
    node_rpc_conn **conns;  /* by slot                                                  */
    uint32_t *gens;         /* by slot: bumped when its connection closes               */
    uint32_t n_conns;
    node_rpc_conn *dirty;   /* connections with output to write                        */
    size_t out_total;       /* unwritten answer bytes over all connections             */
    uint32_t n_backlog;     /* connections with whole requests left for the next turn  */
    uv_idle_t backlog;      /* serves them while n_backlog > 0                         */
    uv_timer_t tick;        /* deadlines                                               */
    uv_timer_t resume;      /* the next end of a pause (node_rpc_conn_pause)           */
    uint64_t resume_at;     /* its loop time; 0: not armed                             */
    node_rpc_stats stats;
    node_rpc_stats logged;  /* stats when last logged                                  */
    bool started;
    uint8_t rbuf[64u << 10]; /* ciphertext of one socket read, fed to TLS at once       */
    fwl_Request req;        /* scratch, decoded per frame                              */
    fwl_Response resp;      /* scratch, node_rpc_new_resp                              */
};

/* Errors: LDG_EINVALID (no loop, no on_request, max_clients 0), LDG_ENOMEM. */
int node_rpc_init(node_rpc *r, const node_rpc_config *cfg);
/* Bind and listen. Errors: NODE_ECONFIG with err saying why (bad address, in use). */
int node_rpc_start(node_rpc *r, char *err, size_t errlen);
/* Close the listener and every connection (their handles close on the loop). */
void node_rpc_stop(node_rpc *r);
/* Free what is left; only after the loop ended. NULL is fine. */
void node_rpc_close(node_rpc *r);

/* What to keep to answer c's request id later. */
node_reply_to node_rpc_reply_to(const node_rpc_conn *c, uint64_t id);
/* The connection still open at to's slot and generation, or NULL. */
node_rpc_conn *node_rpc_conn_of(node_rpc *r, node_reply_to to);
/* A per-connection counter of work its requests have outstanding elsewhere (the
 * eligibility worker's per-client bound); 0 when the connection opens. */
size_t *node_rpc_conn_pending(node_rpc_conn *c);
/* The same for WaitForTx requests waiting for their tx. */
size_t *node_rpc_conn_waits(node_rpc_conn *c);
/* Serve nothing of c, and read nothing from it, for ms (a client over its rate: its queued
 * requests wait their turn, at no cost to the node); then it goes on where it stopped. */
void node_rpc_conn_pause(node_rpc_conn *c, uint32_t ms);
/* The key of the client's certificate, or NULL (none, or plaintext). */
const ldg_pubkey *node_rpc_conn_client_key(const node_rpc_conn *c);
/* The client's IP address (no port: what the audit log coalesces on). */
void node_rpc_conn_addr(node_rpc_conn *c, char *out, size_t len);

/* The scratch Response, zeroed, with id and kind set; valid until the next call. */
fwl_Response *node_rpc_new_resp(node_rpc *r, uint64_t id, pb_size_t which);
/* Append an encoded Response frame to c's output (written at node_rpc_flush). An
 * encoding failure or out of memory closes c. */
void node_rpc_send_resp(node_rpc_conn *c, const fwl_Response *resp);
void node_rpc_send_error(node_rpc_conn *c, uint64_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Room for a frame of size bytes (already encoded by the caller) at the end of c's output,
 * its length prefix written: fill it, then node_rpc_frame_end. NULL: out of memory (c is
 * closed). */
uint8_t *node_rpc_frame_begin(node_rpc_conn *c, size_t size);
void node_rpc_frame_end(node_rpc_conn *c, size_t size);
/* Write every connection's pending output. */
void node_rpc_flush(node_rpc *r);
void node_rpc_close_conn(node_rpc_conn *c);

#endif
