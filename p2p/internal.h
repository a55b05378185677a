/*
 * Declarations shared inside p2p/ only; not part of the public API.
 *
 *   frame.c  incremental frame parser (length cap checked before any allocation)
 *   tls.c    the identity certificate, the SSL_CTX (TLS 1.3 only, pinned keys) and one TLS
 *            session over two memory BIOs
 *   conn.c   one TCP connection: read path (TLS in, frames out), send queue and write path
 *   net.c    the net: start/stop, listener, peers, who dials, backoff, timers, stats
 */
#ifndef FWL_P2P_INTERNAL_H
#define FWL_P2P_INTERNAL_H

#include <openssl/ssl.h>

#include "p2p/p2p.h"
#include "p2p/p2p_tls.h"

/* ---------------------------------------------------------------------------------------- */
/* Frames (frame.c)                                                                          */
/*
 * On the wire, inside TLS: a 4-byte big-endian length L, then L bytes: one type byte and
 * L - 1 bytes of payload. L = 0 and L - 1 > max are errors; the stream cannot be
 * resynchronised after either, so the connection is closed.
 */
#define P2P_FRAME_HDR 5

typedef struct {
    size_t max;          /* largest payload accepted now (may change between frames)     */
    uint8_t hdr[P2P_FRAME_HDR];
    size_t hdr_len;      /* header bytes collected                                        */
    size_t need;         /* payload length of the current frame, once hdr_len == 5        */
    uint8_t *buf;        /* payload collected so far: grows with the bytes that arrive,  */
    size_t buf_len, buf_cap; /* never to the declared length before the bytes are there  */
} p2p__frame;

/* Called per complete frame; payload is valid during the call. A non-zero return stops the
 * parser after this frame and is returned by p2p__frame_feed. */
typedef int (*p2p__frame_cb)(void *arg, uint8_t type, const uint8_t *payload, size_t len);

void p2p__frame_init(p2p__frame *f, size_t max);
void p2p__frame_free(p2p__frame *f);
/* Consume bytes, delivering complete frames. *used: bytes consumed (all of len unless the
 * callback stopped the parser or an error occurred). Returns 0, the callback's non-zero
 * value, P2P_EFRAME (zero or oversize declared length) or P2P_ENOMEM. */
int p2p__frame_feed(p2p__frame *f, const uint8_t *data, size_t len, size_t *used,
                    p2p__frame_cb cb, void *arg);
/* Write the 5-byte header of a frame with this type and payload length. */
void p2p__frame_header(uint8_t out[P2P_FRAME_HDR], uint8_t type, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* TLS (tls.c)                                                                               */

/* The SSL_CTX for both roles from the node's identity: a fresh self-signed certificate, TLS
 * 1.3 only, both sides must present a certificate, and certificate checking replaced by
 * p2p__authorize on the certificate's public key. Errors: P2P_EKEY, P2P_ETLS (err says why). */
int p2p__tls_ctx_new(SSL_CTX **out, uint32_t alg, const uint8_t *sec, const ldg_pubkey *pub,
                     char *err, size_t errlen);

/* Defined in net.c: called from the TLS verify callback with the key the peer's certificate
 * carries (NULL when it carries no usable key). app is the session's app pointer (the
 * connection). Returns 0 to accept; anything else fails the handshake. */
int p2p__authorize(void *app, const ldg_pubkey *key);

/* ---------------------------------------------------------------------------------------- */
/* The net, its peers and connections (net.c, conn.c)                                        */

#define P2P_READ_CHUNK (64u << 10)  /* one socket read                                      */
#define P2P_RECORD P2P_TLS_RECORD    /* plaintext per TLS record / per SSL_read              */
#define P2P_PUMP_BATCH (64u << 10)  /* plaintext encrypted per write to the socket          */
/* Encrypted bytes handed to the socket and not yet written: the pump stops feeding TLS above
 * WR_HIGH; reading stops above RD_STOP, which only TLS's own replies (alerts, key updates
 * provoked by the peer) can reach, so two busy peers never stop reading each other. */
#define P2P_WR_HIGH (256u << 10)
#define P2P_RD_STOP (P2P_WR_HIGH + 4 * P2P_PUMP_BATCH)
/* Largest frame accepted before the peer's hello (control frames only). */
#define P2P_PRE_HELLO_MAX 256

/* Type 0 frames: p2p's own. The first payload byte says which. A ping asks the peer for a
 * pong; both are one byte and only prove liveness. */
enum { P2P_CTL_HELLO = 1, P2P_CTL_PING = 2, P2P_CTL_PONG = 3 };
#define P2P_HELLO_VERSION 1

/* One message body in wire form (header + payload), shared by every queue holding it. */
typedef struct {
    size_t refs;
    size_t len;
    uint8_t bytes[];
} p2p__msg;

typedef struct p2p__qent {
    struct p2p__qent *next;
    p2p__msg *msg;
} p2p__qent;

typedef enum {
    P2P_C_CONNECTING, /* outbound TCP connect in progress                                    */
    P2P_C_HANDSHAKE,  /* TLS handshake                                                       */
    P2P_C_HELLO,      /* authenticated by TLS; waiting for the peer's hello                  */
    P2P_C_UP,         /* caller messages flow                                                */
    P2P_C_CLOSING,    /* uv_close called; freed in the close callback                        */
} p2p__cstate;

typedef struct p2p__peer p2p__peer;
typedef struct p2p__conn p2p__conn;

struct p2p__conn {
    uv_tcp_t h;
    uv_connect_t creq;
    p2p_net *net;
    p2p__peer *peer;      /* outbound: the peer dialled; inbound: set when authenticated     */
    p2p__cstate state;
    bool outbound;
    bool pending;         /* an inbound connection counted in the net's pending count        */
    bool answered;        /* inbound: our first flight answered its ClientHello (eviction)   */
    bool reading;         /* uv_read_start is in effect                                      */
    bool out_blocked;     /* reading stopped because TLS output backed up                    */
    bool dirty;           /* on the net's dirty list (pump or resume input processing)       */
    bool drive;           /* input processing must resume (after a pause)                    */
    bool refused;         /* p2p__authorize refused the peer's key (already logged, counted) */
    bool ping_out;        /* our ping has not been answered yet (at most one at a time)      */
    bool ping_queued;     /* our ping is still in the queue                                  */
    bool pong_queued;     /* our pong is in the queue (at most one at a time)                */
    p2p__conn *next_dirty;
    p2p__conn *prev, *next; /* the net's list of connections                                 */
    p2p_tls tls;
    p2p__frame fr;
    uint8_t *rd;          /* P2P_READ_CHUNK bytes for socket reads                           */
    uint8_t pt[P2P_RECORD]; /* decrypted bytes not yet parsed: pt[pt_off..pt_len)            */
    size_t pt_off, pt_len;
    p2p__qent *q_head, *q_tail;
    size_t q_off;         /* bytes of the head message already handed to TLS                 */
    size_t q_bytes;       /* queued plaintext not yet handed to TLS                          */
    size_t q_msgs;
    size_t unsent;        /* encrypted bytes in uv_write requests not completed              */
    uint64_t t_start;
    uint64_t last_rx;     /* the last bytes read, or when reading (re)started: idle timeout  */
    uint64_t ping_at;     /* when our last ping was queued                                   */
    char addr[64];        /* the remote address, for logs                                    */
    char ip[48];          /* the remote IP address alone (inbound: per-address limits)       */
};

struct p2p__peer {
    p2p_peer_config cfg;  /* cfg.name: the configured name, or the key form when it was ""   */
    struct sockaddr_storage sa; /* parsed cfg.host:cfg.port when has_addr                  */
    bool has_addr;
    p2p_net *net;
    p2p__conn *conn;      /* the connection in progress or up, NULL when none                */
    bool up;
    bool paused;
    uv_timer_t redial;
    unsigned attempt;     /* failed attempts since the last up                               */
    uint64_t heard_at;    /* loop time of the last bytes from this peer; valid when heard    */
    bool heard;
    p2p_peer_stats st;
};

struct p2p_net {
    uv_loop_t *loop;
    p2p_config cfg;       /* cfg.peers points nowhere: the peers are in peers[]              */
    p2p_limits lim;       /* resolved (no zero)                                              */
    p2p_callbacks cb;
    void *ctx;
    SSL_CTX *ssl;
    uv_tcp_t listener;
    bool listening;
    int port;
    uv_timer_t tick;
    uint64_t tick_ms, last_tick; /* the tick's period; when it last ran                      */
    uv_prepare_t prep;
    p2p__peer *peers;
    size_t n_peers;
    p2p__conn *conns;
    p2p__conn *dirty;
    uint64_t rng;
    p2p_net_stats st;
    bool stopping, failed;
    size_t open;          /* handles not yet closed                                          */
    void (*on_closed)(void *ctx);
};

/* net.c */
void p2p__log(p2p_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* c failed authentication (p: the configured peer it was to or from, NULL when unknown):
 * the line, logged when log is set, goes to on_auth_failed. */
void p2p__auth_failed(p2p_net *net, const p2p__conn *c, const p2p__peer *p, bool log,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Called once per handle close callback; frees the net when stopping and none are left. */
void p2p__handle_closed(p2p_net *net);
/* The TLS handshake of c completed (c->peer is set): attach c to its peer. Returns 0, or
 * non-zero when c was closed. */
int p2p__on_authenticated(p2p__conn *c);
/* The hello of c's peer arrived (payload after the subtype byte). 0 ok; non-zero: c closed. */
int p2p__on_hello(p2p__conn *c, const uint8_t *p, size_t len);
/* c, the current connection of its peer, is closing: update the peer and redial. */
void p2p__on_conn_lost(p2p__conn *c, bool was_up);
/* Whether this node dials p (the rule in p2p.h). */
bool p2p__dials(const p2p_net *net, const p2p__peer *p);
/* The peer with this id, or NULL. */
p2p__peer *p2p__peer_find(p2p_net *net, uint32_t id);
uint64_t p2p__now(const p2p_net *net);

/* conn.c */
/* A connection handle (uv_tcp_init done, counted in net->open, on net's list). NULL: out of
 * memory. */
p2p__conn *p2p__conn_new(p2p_net *net, bool outbound, p2p__peer *peer);
/* Begin TLS (after connect or accept) and start reading. Returns 0 or non-zero when closed. */
int p2p__conn_begin(p2p__conn *c);
/* Close c (idempotent), logging why when why is not NULL. Calls p2p__on_conn_lost when c is
 * its peer's connection, unless the net is stopping. */
void p2p__conn_close(p2p__conn *c, const char *why);
/* Queue msg (taking a reference) unless it would exceed max_queue. Counts drops. Errors:
 * P2P_EQUEUEFULL, P2P_ENOMEM. control: p2p's own frame (not counted as a message, never
 * dropped for the limit). */
int p2p__conn_enqueue(p2p__conn *c, p2p__msg *msg, bool control);
/* Mark c for the end-of-iteration pass (pump, and resume input when c->drive is set). */
void p2p__conn_mark(p2p__conn *c);
/* Re-evaluate whether c should be reading (pause, output backlog). */
void p2p__conn_update_reading(p2p__conn *c);
/* A new message body of len payload bytes with its header written; refs = 1. */
p2p__msg *p2p__msg_new(uint8_t type, const uint8_t *data, size_t len);
void p2p__msg_unref(p2p__msg *m);

#endif
