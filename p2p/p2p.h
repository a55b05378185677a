/*
 * p2p/: the node-to-node transport. A fixed set of known peers, one TCP connection per pair,
 * every connection TLS 1.3 with both sides authenticated against pinned identity keys, and
 * length-prefixed typed messages inside. It also holds a small bounded "seen" set that the
 * gossip layer uses to drop duplicates cheaply.
 *
 * What it does not know: what a message means. Types 1..255 belong to the caller (consensus,
 * gossip, block sync); type 0 is p2p's own (hello, ping, pong) and never reaches the caller.
 *
 * Liveness: TCP does not notice a peer that went silent (a stopped process, a partition), so
 * p2p pings a peer it has not heard from for a while and closes the connection when nothing
 * arrives within a bound (p2p_limits.idle_timeout_ms); the peer is then down (on_peer_down)
 * and the dialing side redials.
 *
 * Threading: everything runs on the libuv loop thread the net was started on; no function
 * here may be called from another thread. Callbacks run on that thread, never from inside a
 * p2p_* call (p2p_send, p2p_broadcast, p2p_pause and p2p_set_peer_addr defer their work), so
 * a callback may call any p2p_* function, including p2p_stop.
 *
 * Identity: each node has an identity key (LDG_SIG_ED25519 or LDG_SIG_P256_ECDSA from the
 * ledger registry). At start-up p2p makes a self-signed X.509 certificate from it; a peer is
 * accepted only when the public key in its certificate equals the key pinned for it (names,
 * issuers and dates in the certificate are ignored). docs/p2p.md explains the choice.
 *
 * Who dials: for each pair of nodes exactly one side dials, decided by their identity keys,
 * which both sides know (pinned), so no cluster-wide numbering is needed. Node X dials peer P
 * when P has an address and (key(X) < key(P) or X does not listen); X accepts an inbound
 * connection from P exactly when it would not dial P. Keys are ordered by algorithm id, then
 * length, then bytes (memcmp). An authenticated inbound connection from P replaces an older
 * one from P (P only dials when it has no connection, e.g. after a restart).
 *
 * Before authentication: an inbound connection holds one of max_pending slots (at most
 * max_pending_per_ip per address) until its key is known, for at most auth_timeout_ms. A
 * full table lets the newcomer in and evicts an older stranger, never refuses: before its
 * certificate a known peer looks like anyone else from its address, and it must always get
 * through. Our own dials take no slot.
 *
 * Peer ids: each peer carries an id chosen by the caller (e.g. the validator index, or its
 * position in the node config), unique within one node's configuration; it is what the
 * callbacks report and what p2p_send takes. It never goes on the wire.
 *
 * Errors: functions return 0 or a negative P2P_E* code (-200..-299, table in p2p_errors.h);
 * p2p_strerror names it, and so does node_strerror, which knows every module's codes.
 */
#ifndef FWL_P2P_H
#define FWL_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ledger/ledger.h"
#include "p2p/p2p_errors.h"

/* The message for a P2P_E* code (or 0); never NULL ("unknown error" for foreign codes). */
const char *p2p_strerror(int err);

/* ---------------------------------------------------------------------------------------- */
/* Configuration                                                                             */

#define P2P_MAX_PEERS 256
#define P2P_HOST_MAX 64     /* a numeric IPv4 or IPv6 address and its NUL              */
#define P2P_NETWORK_MAX 65  /* network name and its NUL (a chain id), checked in the hello */
#define P2P_NAME_MAX 32     /* a peer's name for logs and stats, and its NUL            */

/* Defaults, used for every limit left 0. */
#define P2P_DEFAULT_MAX_MESSAGE ((16u << 20) + 1024u) /* a full block and its envelope */
#define P2P_DEFAULT_MAX_QUEUE (32u << 20)
#define P2P_DEFAULT_BACKOFF_MIN_MS 100
#define P2P_DEFAULT_BACKOFF_MAX_MS 5000
#define P2P_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define P2P_DEFAULT_AUTH_TIMEOUT_MS 3000
#define P2P_DEFAULT_PING_INTERVAL_MS 1000
#define P2P_DEFAULT_IDLE_TIMEOUT_MS 4000
#define P2P_DEFAULT_MAX_PENDING 32
#define P2P_DEFAULT_MAX_PENDING_PER_IP 8

typedef struct {
    /* Largest payload of one message, in bytes, both ways: p2p_send refuses a longer one
     * (P2P_ETOOBIG) and a peer declaring a longer frame is disconnected. */
    size_t max_message;
    /* Per-peer send queue, in bytes (payload plus 5 bytes of framing, plus encrypted bytes
     * handed to the socket and not yet written). A message that would go over it is dropped
     * and counted. Must be >= max_message + 5. */
    size_t max_queue;
    /* Reconnect delay: doubles from backoff_min_ms to backoff_max_ms; each delay is drawn
     * uniformly from [d/2, d] with the seed's generator. Reset when a connection comes up. */
    uint32_t backoff_min_ms, backoff_max_ms;
    /* A connection that is not up (TCP connect, TLS handshake and hello) within this time is
     * closed. */
    uint32_t handshake_timeout_ms;
    /* The shorter deadline of an inbound connection before it is authenticated (its TLS
     * handshake done, its key pinned for a peer): closed when not authenticated within this
     * time, so that its pending slot is free again. A peer needs one and a half round trips.
     * 0: the smaller of P2P_DEFAULT_AUTH_TIMEOUT_MS and handshake_timeout_ms; at most
     * handshake_timeout_ms. */
    uint32_t auth_timeout_ms;
    /* Liveness: when nothing has arrived from a peer for ping_interval_ms, a ping goes out
     * (at most one unanswered per connection) and the peer answers it with a pong; a
     * connection on which nothing at all arrived for idle_timeout_ms while reading is closed
     * and its peer is down (then the dialing side redials with its backoff). Anything counts
     * as heard, not only pongs, so a busy connection sends no pings. idle_timeout_ms must
     * exceed ping_interval_ms; the defaults (1 s, 4 s) leave a live peer 3 s to answer. */
    uint32_t ping_interval_ms, idle_timeout_ms;
    /* Inbound connections not yet authenticated, at most. A new one that finds them all
     * taken is let in and an older one is evicted (closed): the oldest that has not yet
     * sent a ClientHello we answered, or if each has, the oldest. The server cannot tell a
     * known peer from a stranger before its certificate, so refusing the newest would let
     * whoever holds the slots keep a restarted peer out; eviction keeps the slots cycling.
     * Outbound connections (our dials) never count here. */
    uint32_t max_pending;
    /* The same from one IP address (the newcomer then evicts one from that address), so that
     * one host cannot take every pending slot. */
    uint32_t max_pending_per_ip;
} p2p_limits;

typedef struct {
    uint32_t id;                 /* the caller's label for this peer, unique in the config */
    /* Its name in logs and stats (printable ASCII, NUL terminated); "": p2p names it by its
     * key, "ed25519:" or "p256:" and the key's first 8 bytes in hex. */
    char name[P2P_NAME_MAX];
    ldg_pubkey key;              /* its pinned identity key (alg ED25519 or P256_ECDSA)    */
    char host[P2P_HOST_MAX];     /* numeric address to dial, "" if it is never dialled     */
    int port;                    /* 1..65535 when host is set                              */
} p2p_peer_config;

typedef struct {
    /* Identity: algorithm, secret key and its public key (checked to match). The secret is
     * read during p2p_start only (OpenSSL keeps its own copy, wiped when the net is freed);
     * the caller wipes its config afterwards. */
    uint32_t key_alg;
    uint8_t key_secret[LDG_SECKEY_MAX];
    ldg_pubkey key_public;
    /* Listen address: a numeric IPv4/IPv6 address; listen_port 0 takes an ephemeral port
     * (read it back with p2p_listen_port), listen_host "" does not listen at all. */
    char listen_host[P2P_HOST_MAX];
    int listen_port;
    /* The peers, copied by p2p_start (at most P2P_MAX_PEERS, unique ids and keys, none
     * equal to our own key). */
    const p2p_peer_config *peers;
    size_t n_peers;
    /* Both ends of a connection must name the same network (e.g. the chain id); NUL
     * terminated, at most P2P_NETWORK_MAX - 1 bytes. */
    char network[P2P_NETWORK_MAX];
    /* Randomness for backoff jitter (and nothing else), supplied by the caller. */
    uint64_t seed;
    p2p_limits limits; /* 0 fields take the P2P_DEFAULT_* values */
} p2p_config;

/* Callbacks; any may be NULL. peer is the peer's id. ctx is the pointer given to p2p_start. */
typedef struct {
    /* A message arrived; data is borrowed until the callback returns. Messages from one peer
     * arrive in the order it sent them (within one connection). */
    void (*on_message)(void *ctx, uint32_t peer, uint8_t type, const uint8_t *data, size_t len);
    /* The peer is connected and authenticated both ways; p2p_send to it works from now on. */
    void (*on_peer_up)(void *ctx, uint32_t peer);
    /* The connection to a peer that was up is gone; messages still queued to it are dropped
     * (counted in drops_down). Not called for connections closed by p2p_stop. */
    void (*on_peer_down)(void *ctx, uint32_t peer);
    /* One line of log (refusals, disconnects and their reasons), without a newline. NULL:
     * written to stderr with the prefix "p2p: ". Never contains secrets. A configured peer
     * is named by its name (p2p_peer_config.name), any other key by its prefix. */
    void (*on_log)(void *ctx, const char *line);
    /* A connection failed authentication: its TLS handshake failed, it presented a key
     * pinned for no peer (inbound) or not the one pinned for the peer dialled, or its hello
     * named another network or protocol version. peer: the configured peer's name when the
     * connection was to or from one, NULL for an unknown remote; ip: the remote's address
     * without the port; why: a sentence with the address (what on_log got, or gets when the
     * connection closes). Once per failed connection, so as often as a remote connects (an
     * audit log should coalesce them). Not called for refusals that are no failure of
     * authentication: pending limits, the dialing rule. */
    void (*on_auth_failed)(void *ctx, const char *peer, const char *ip, const char *why);
} p2p_callbacks;

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                 */

typedef struct p2p_net p2p_net;

/*
 * Start the transport on loop: listen (when configured) and begin dialing the peers this node
 * dials. cfg and cb are copied; ctx is passed to every callback. *out is the handle for all
 * other calls and stays valid until p2p_stop's callback.
 *
 * Errors (*out NULL, a message in err when err is not NULL): P2P_EINVAL (bad configuration),
 * P2P_EKEY (secret and public key do not match, or an algorithm TLS cannot use), P2P_ETLS,
 * P2P_ELISTEN, P2P_ENOMEM. After P2P_ELISTEN the listener handle is still closing: run the
 * loop once more before uv_loop_close. No callback is ever called after an error.
 */
int p2p_start(p2p_net **out, uv_loop_t *loop, const p2p_config *cfg, const p2p_callbacks *cb,
              void *ctx, char *err, size_t errlen);

/*
 * Stop: close the listener, every connection and timer. No callback other than on_closed runs
 * afterwards (queued messages are discarded, on_peer_down is not called). When every handle
 * has closed, the net is freed and on_closed(ctx) runs (on_closed may be NULL). Calling it
 * twice is harmless (the second call does nothing). net NULL is accepted.
 */
void p2p_stop(p2p_net *net, void (*on_closed)(void *ctx));

/* The port the listener is bound to (useful with listen_port 0); -1 when not listening. */
int p2p_listen_port(const p2p_net *net);

/* Change where a peer is dialled (host "" or port 0: never dial it). If this node dials it
 * and it is not connected, a dial starts at once with the backoff reset. The rule of who
 * dials (above) follows the new address. Errors: P2P_ENOPEER, P2P_EINVAL, P2P_ESTOPPING. */
int p2p_set_peer_addr(p2p_net *net, uint32_t peer, const char *host, int port);

/* ---------------------------------------------------------------------------------------- */
/* Sending and receiving                                                                     */

/*
 * Queue one message of type 1..255 to peer; data is copied (the caller keeps its buffer).
 * The bytes go out later in this loop iteration, in order with earlier messages to that
 * peer. Delivery is not guaranteed: a connection that drops loses what was queued on it.
 * Errors: P2P_EINVAL (type 0, data NULL with len > 0), P2P_ETOOBIG (len > max_message),
 * P2P_ENOPEER, P2P_ENOTCONN (peer not up; counted in drops_down), P2P_EQUEUEFULL (the
 * queue would exceed max_queue; counted in drops_full), P2P_ENOMEM, P2P_ESTOPPING.
 */
int p2p_send(p2p_net *net, uint32_t peer, uint8_t type, const uint8_t *data, size_t len);

/* The name of a configured peer (its p2p_peer_config.name, or the key form when that was
 * ""), valid until p2p_stop; NULL when net is NULL or no peer has this id. */
const char *p2p_peer_name(const p2p_net *net, uint32_t peer);

/* p2p_send to every peer that is up, sharing one copy of data. Returns how many peers it
 * was queued to (>= 0; peers that are down or full are counted in their stats), or
 * P2P_EINVAL, P2P_ETOOBIG, P2P_ENOMEM, P2P_ESTOPPING. */
int p2p_broadcast(p2p_net *net, uint8_t type, const uint8_t *data, size_t len);

/* Stop (paused true) or resume reading from a peer: the caller's backpressure, e.g. while
 * the messages it already has are being verified. A paused peer's own sends back up in TCP
 * and then in its queue. Also applies to later connections of that peer. Errors:
 * P2P_ENOPEER, P2P_ESTOPPING. */
int p2p_pause(p2p_net *net, uint32_t peer, bool paused);

/* ---------------------------------------------------------------------------------------- */
/* Statistics                                                                                */

typedef struct {
    uint32_t id;
    char name[P2P_NAME_MAX]; /* as p2p_peer_name                                             */
    bool connected;          /* up: authenticated both ways (a silent peer stops being up
                                after idle_timeout_ms)                                        */
    bool paused;
    uint64_t msgs_in, msgs_out;   /* caller messages delivered / written to TLS                */
    uint64_t bytes_in, bytes_out; /* encrypted bytes read from / written to the socket         */
    uint64_t queued_bytes;        /* counted against max_queue now                             */
    uint64_t queued_msgs;
    uint64_t drops_full;     /* messages refused because the queue was full                  */
    uint64_t drops_down;     /* messages refused or discarded because the peer was not up     */
    uint64_t dials;          /* outbound connection attempts                                 */
    uint64_t ups;            /* times the peer came up                                       */
    uint64_t reconnects;     /* ups after the first                                          */
    uint64_t refused;        /* connections refused: wrong key on dial, inbound against the
                                dialing rule, another network or version in the hello        */
    uint64_t proto_errors;   /* connections closed for a bad or oversize frame                */
    uint64_t timeouts;       /* connections closed because nothing arrived for idle_timeout_ms */
    uint64_t pings_out;      /* pings sent (after ping_interval_ms without hearing the peer)  */
    uint64_t pongs_out;      /* pings of the peer answered                                    */
    /* Milliseconds since anything (any bytes of any frame) last arrived from this peer, on
     * the loop's clock; UINT64_MAX when nothing ever did since p2p_start. */
    uint64_t last_heard_ms;
} p2p_peer_stats;

typedef struct {
    uint64_t refused_unknown;  /* inbound connections presenting a key pinned for no peer   */
    uint64_t evicted_pending;  /* pending inbound connections closed to make room for a new
                                  one, max_pending being reached                             */
    uint64_t evicted_pending_ip; /* the same, max_pending_per_ip from its address reached   */
    uint64_t handshake_failed; /* TLS handshakes that failed for other reasons              */
    uint64_t timeouts;         /* connections closed by the auth, handshake or idle timeout
                                  (the idle ones also in their peer's timeouts)              */
    uint32_t pending;          /* inbound connections not yet authenticated now             */
} p2p_net_stats;

/* Copy per-peer statistics into peers (room for cap entries, in configuration order; *n set
 * to the number of peers, which may exceed cap) and the net-wide ones into net_stats. Either
 * output may be NULL. Errors: P2P_EINVAL (net NULL). */
int p2p_stats(const p2p_net *net, p2p_peer_stats *peers, size_t cap, size_t *n,
              p2p_net_stats *net_stats);

/* ---------------------------------------------------------------------------------------- */
/* Seen set (p2p/seen.c): a bounded set of 32-byte ids for duplicate suppression            */

/*
 * A fixed-capacity hash set of 32-byte ids (message or transaction hashes). When full, adding
 * a new id evicts the oldest one (FIFO by insertion), so memory is fixed at creation and an
 * id is remembered for at least the last `capacity` insertions. Buckets are chosen with a
 * keyed hash (SipHash-2-4, key from the caller's seed), so a sender who can grind ids cannot
 * aim them at one bucket. Not thread-safe; no allocation after p2p_seen_new.
 */
typedef struct p2p_seen p2p_seen;

/* capacity: 1 .. 2^28 ids. seed: 16 bytes of randomness for the hash key (copied).
 * Errors: P2P_EINVAL, P2P_ENOMEM. */
int p2p_seen_new(p2p_seen **out, size_t capacity, const uint8_t seed[16]);
void p2p_seen_free(p2p_seen *s);
/* true when id is in the set. */
bool p2p_seen_has(const p2p_seen *s, const uint8_t id[32]);
/* Insert id: returns true when it was new (inserted, perhaps evicting the oldest), false
 * when it was already there (nothing changes: its age is not refreshed). */
bool p2p_seen_add(p2p_seen *s, const uint8_t id[32]);
size_t p2p_seen_count(const p2p_seen *s);
size_t p2p_seen_capacity(const p2p_seen *s);

#endif
