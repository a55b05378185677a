/*
 * node/client: the client library authors' tools and status trackers link to talk to a node:
 * the error codes and their text, hex and file helpers, the RPC framing, a blocking RPC
 * client, and the tracker API. It builds into its own archive (build/libfwlclient.a) that
 * links with nanopb, OpenSSL and libsecp256k1 only: no LMDB, no libuv, no jansson.
 *
 * Errors: 0 or a negative code. Functions here return LDG_E* codes from ledger.h for data
 * problems and NODE_E* for node-level ones; node_strerror() names every module's codes.
 */
#ifndef FWL_NODE_CLIENT_H
#define FWL_NODE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"

/*
 * One error space: each module's codes have their own range, so a code names its module and
 * node_strerror() can name any of them.
 *
 *      -1 ..  -99   LDG_E*    ledger/ledger.h
 *    -100 .. -199   NODE_E*   node/client/client.h (below)
 *    -200 .. -299   P2P_E*    p2p/p2p_errors.h
 *    -300 .. -399   CTR_E*    contracts/contracts.h
 *    -400 .. -499   CNS_E*    consensus/consensus.h
 *
 * A client can receive the LDG_E*, NODE_E* and CTR_E* codes; docs/protocol.md lists them
 * (tests/node/test_errors.c checks that list against these tables). Numbers never change
 * once used; a code nothing returns any more is removed, leaving a gap.
 */
#define NODE_ERRORS(X)                                                              \
    X(NODE_ECONFIG, -100, "invalid configuration or genesis file")                  \
    X(NODE_ECONNECT, -101, "cannot connect to node")                                \
    X(NODE_EPROTO, -102, "protocol error")                                          \
    X(NODE_ETIMEOUT, -103, "timed out")                                             \
    X(NODE_EFRAME, -104, "frame too large")                                         \
    X(NODE_EMEMPOOL, -105, "mempool full")                                          \
    X(NODE_EBUSY, -106, "too many requests in flight")                              \
    X(NODE_EPENDING, -107, "transaction already pending")                           \
    X(NODE_ETLS, -109, "TLS handshake failed or the node is not trusted")           \
    X(NODE_EAUTH, -110, "not authorised: a client certificate of another role is needed") \
    X(NODE_ERATE, -111, "rate limited: retry later")                                \
    X(NODE_ENOPROOF, -112, "the answer carries no proof of what it depends on")      \
    X(NODE_ECERT, -113, "the answer's block is not certified by the validators")    \
    X(NODE_ESTALE, -114, "the answer's block is older than the maximum age")        \
    X(NODE_EMISMATCH, -115, "the answer is not what its proven records say")         \
    X(NODE_ELOG, -116, "the release log does not hold what its proof says (record not in "   \
                       "the log, or history rewritten)")

enum node_err {
#define NODE_ENUM_(name, val, msg) name = (val),
    NODE_ERRORS(NODE_ENUM_)
#undef NODE_ENUM_
};

/* The message for a code of any module (LDG_E*, NODE_E*, P2P_E*, CTR_E*, CNS_E*) or 0: a
 * static string, never NULL; "unknown error" for a number no module uses. Thread-safe. */
const char *node_strerror(int err);

/* ---------------------------------------------------------------------------------------- */
/* Hex and files (node/client/util.c)                                                               */

void node_hex(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
/* Decode hex of exactly cap bytes or fewer; *len set. Errors: LDG_EINVALID. */
int node_unhex(const char *in, uint8_t *out, size_t cap, size_t *len);
/* A public key written "ALG:HEX" (e.g. "ed25519:<64 hex digits>"), the first len bytes of
 * s. Errors: LDG_EUNKNOWN_ALG, LDG_EINVALID (no colon, bad hex, wrong length). */
int node_pubkey_parse(const char *s, size_t len, ldg_pubkey *out);
/* A numeric address in 127.0.0.0/8 or ::1 (where plaintext RPC is allowed). */
bool node_addr_is_loopback(const char *host);
/* A comma-separated list of those into out (at most cap); *n set.
 * Errors: those of node_pubkey_parse, LDG_ETOOBIG (more than cap). */
int node_pubkey_list_parse(const char *s, ldg_pubkey *out, size_t cap, size_t *n);
/* Say why in why (why may be NULL, whylen its size) and return rc: how the verifiers report. */
int node_fail(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Read a whole file (at most max bytes). *out malloc'd. Errors: LDG_EIO, LDG_ETOOBIG. */
int node_read_file(const char *path, size_t max, uint8_t **out, size_t *len);
/* Grow a malloc'd buffer to hold at least need bytes (doubling). Errors: LDG_ENOMEM (the
 * buffer is unchanged). */
int node_buf_reserve(uint8_t **buf, size_t *cap, size_t need);
/* Write atomically (tmp + fsync + rename), with mode. Errors: LDG_EIO. */
int node_write_file(const char *path, const void *data, size_t len, int mode);

/* ---------------------------------------------------------------------------------------- */
/* RPC framing (node/client/rpc.c)                                                                  */
/*
 * A frame is a 4-byte big-endian length followed by that many bytes of an encoded
 * fwl.Request (client to node) or fwl.Response (node to client). Request ids are chosen by
 * the client; responses carry the id and may come out of order (WaitForTx), so a client can
 * pipeline many requests on one connection.
 */
#define NODE_RPC_MAX_REQUEST (64u << 10)
#define NODE_RPC_MAX_RESPONSE (LDG_BLOCK_MAX_BYTES + (64u << 10))

/*
 * How a client reaches and checks a node. The RPC port speaks TLS 1.3 unless the node's
 * config says rpc_plaintext (loopback only); the client then checks the node by one of:
 *   pins     the node presents the self-signed certificate of its identity key
 *            (ledger/tls.h), which must be one of these n_pins keys (e.g. the validators'
 *            identities from the genesis, or a replica's from its config);
 *   ca_file  a PEM file of CA certificates: the node's certificate chain must lead to one of
 *            them and name the host connected to (IP address or DNS name).
 * Optionally the client presents its own key (ed25519 or p256-ecdsa) for nodes whose
 * rpc_require asks for a role (e.g. a registered tracker's key for eligible).
 * plaintext: no TLS at all, and only to a loopback address.
 */
typedef struct {
    bool plaintext;
    const ldg_pubkey *pins;
    size_t n_pins;
    const char *ca_file;
    uint32_t key_alg;          /* 0: no client certificate                                 */
    const uint8_t *key_sec;
    const ldg_pubkey *key_pub;
} node_tls;

/* Blocking client for the tool, tests and benchmarks. Connects and, unless plaintext, runs
 * the TLS handshake within timeout_ms. Errors: NODE_ECONNECT, NODE_ETIMEOUT, NODE_ETLS (the
 * node is not the one trusted, or the handshake failed), LDG_EINVALID (no way to check the
 * node given, plaintext to a non-loopback host, an unusable client key), LDG_ENOMEM; err
 * (may be NULL) says why. */
typedef struct node_client node_client;
int node_client_connect(node_client **out, const char *host, int port, uint32_t timeout_ms,
                        const node_tls *tls, char *err, size_t errlen);
void node_client_close(node_client *c);
/* Change the timeout for later sends and receives (e.g. longer for WaitForTx). */
void node_client_set_timeout(node_client *c, uint32_t timeout_ms);
/* Send one request (id set by the caller); buffered until node_client_flush or a recv. */
int node_client_send(node_client *c, const fwl_Request *req);
int node_client_flush(node_client *c);
/* Receive the next response frame. Callback fields in resp must be set up by the caller
 * when it wants GetBlock or ListReleases payloads (as for node_call below).
 * Errors: NODE_ETIMEOUT, NODE_EPROTO, NODE_EFRAME, NODE_ECONNECT. */
int node_client_recv(node_client *c, fwl_Response *resp);
/* Raw send: len bytes as they are, no framing added (for tests of malformed input);
 * buffered like node_client_send. Errors: LDG_ENOMEM. */
int node_client_send_raw(node_client *c, const uint8_t *data, size_t len);
/* Raw receive: the next frame's bytes (valid until the next call). */
int node_client_recv_raw(node_client *c, const uint8_t **buf, size_t *len);

/* Convenience round trips; a server-side Error is returned as its code (negative) with the
 * message copied to err. */
int node_call(node_client *c, fwl_Request *req, fwl_Response *resp, char *err, size_t errlen);

/* ---------------------------------------------------------------------------------------- */
/* The tracker API (node/client/tracker.c)                                                   */
/*
 * What a status tracker calls to ask a node, before it starts an update, what each device
 * may install. Link build/libfwlclient.a with nanopb, OpenSSL and libsecp256k1.
 *
 *     fwl_tracker *t;
 *     node_tls tls = {.pins = &node_identity, .n_pins = 1};   // or .ca_file = "ca.pem"
 *     fwl_tracker_connect(&t, "127.0.0.1", 7400, 5000, &tls, err, sizeof err);
 *     fwl_Device dev = {...};                        // id, model, revision, packages, ...
 *     fwl_tracker_eligible(t, &dev, 1, on_answer, ctx, &height, block_hash, err, sizeof err);
 *     fwl_tracker_close(t);
 *
 * The answer for each device comes to the callback (in request order): per product, the
 * best eligible release, the plan, the rejected candidates with their rule, and the
 * device's status; height and block_hash name the chain state it was computed at. Blocking;
 * one request at a time per fwl_tracker; not thread-safe (use one per thread).
 */

typedef struct fwl_tracker fwl_tracker;

/* tls: how to check the node (node_tls above). Errors: those of node_client_connect, err
 * (may be NULL) saying why. */
int fwl_tracker_connect(fwl_tracker **out, const char *host, int port, uint32_t timeout_ms,
                        const node_tls *tls, char *err, size_t errlen);
void fwl_tracker_close(fwl_tracker *t);

typedef void (*fwl_answer_cb)(void *ctx, const fwl_DeviceAnswer *answer);

/* The most devices in one request: fwl.EligibleReq.devices max_count (16). */
#define FWL_TRACKER_DEVICES_MAX \
    (sizeof ((fwl_EligibleReq *)0)->devices / sizeof ((fwl_EligibleReq *)0)->devices[0])

/* Ask about n devices (1..FWL_TRACKER_DEVICES_MAX). cb gets each answer (valid during the
 * call). height and block_hash (LDG_DIGEST_LEN bytes; either may be NULL) receive the state
 * the answers are based on. Errors: the node's error code (negative) with its message in
 * err, among them NODE_EBUSY when the node has too many devices waiting (ask again a little
 * later); NODE_ETIMEOUT, NODE_EPROTO, NODE_ECONNECT; LDG_EINVALID for n outside
 * 1..FWL_TRACKER_DEVICES_MAX. */
int fwl_tracker_eligible(fwl_tracker *t, const fwl_Device *devices, size_t n, fwl_answer_cb cb,
                         void *ctx, uint64_t *height, uint8_t *block_hash, char *err,
                         size_t errlen);

/* ---------------------------------------------------------------------------------------- */
/* Verifying answers (node/client/verify.c; docs/verification.md)                            */
/*
 * An answer asked with `prove` carries a Proof: the header of the block it was computed
 * at, the header's commit certificate and state proofs of the records it was computed
 * from. These functions take the raw Response frame (node_client_recv_raw) and check it
 * against what the tracker trusts, trusting no node:
 *   - the header is of the genesis' chain and certified by more than 2/3 of the power of
 *     its validators (NODE_ECERT; another chain: LDG_ECHAIN);
 *   - the block is at most max_age_ms older than the tracker's clock, and at most
 *     max_drift_ms ahead of it (NODE_ESTALE);
 *   - every state proof leads to the header's state root (LDG_EPROOF, LDG_EINVALID);
 *   - the answer is what the proven records say: the release itself; or the decision
 *     re-run by the same pure decider the node runs (NODE_EMISMATCH); a record the check
 *     needs that the proof does not cover: NODE_ENOPROOF.
 * why (may be NULL) says which, in words. Thread-safe (no shared state).
 */
typedef struct {
    const ldg_genesis *genesis;  /* chain id, hash algorithm, validators and their power  */
    uint64_t now_ms;             /* the tracker's clock, Unix ms; 0: read the clock       */
    uint64_t max_age_ms;         /* the answer's block at most this old (0: any age)      */
    uint64_t max_drift_ms;       /* and at most this far ahead of now_ms                  */
} fwl_trust;

/* A Proof checked against trust: its header and the state it proves. */
typedef struct fwl_proven fwl_proven;
int fwl_proof_check(const fwl_trust *tr, const uint8_t *proof, size_t len, fwl_proven **out,
                    char *why, size_t whylen);
uint64_t fwl_proven_height(const fwl_proven *p);
/* The proven header (valid until fwl_proven_free). */
const fwl_BlockHeader *fwl_proven_header(const fwl_proven *p);
uint64_t fwl_proven_time_ms(const fwl_proven *p);
const uint8_t *fwl_proven_block_hash(const fwl_proven *p);
/* The proven records whose state keys start with prefix (ledger.h, ldg_state_key_*): all of
 * them, maybe none. NODE_ENOPROOF when the proof does not cover that prefix. */
int fwl_proven_range(const fwl_proven *p, const uint8_t *prefix, size_t plen,
                     const ldg_state_leaf **leaves, size_t *n);
void fwl_proven_free(fwl_proven *p);

/* A GetRelease answer (asked with prove) for the release `asked`: *found says whether it
 * exists at the proven height (a proven absence is an answer too); out (may be NULL) gets
 * the record, height the proven height. */
int fwl_verify_release(const fwl_trust *tr, const uint8_t *frame, size_t len,
                       const fwl_Hash *asked, fwl_ReleaseRecord *out, bool *found,
                       uint64_t *height, char *why, size_t whylen);
/* A ListReleases answer (asked with prove, and a hardware model: the proof is of the model's
 * whole list) for the query q: the page is every proven release of the query after q's
 * cursor, in chain order, up to the answer's own cursor (all of them when it has none). */
int fwl_verify_list(const fwl_trust *tr, const fwl_ListReleasesReq *q, const uint8_t *frame,
                    size_t len, uint64_t *height, char *why, size_t whylen);
/* An Eligible answer (asked with prove) for devices[0..n): every device's answer is the one
 * the proven records decide. */
int fwl_verify_eligible(const fwl_trust *tr, const fwl_Device *devices, size_t n,
                        const uint8_t *frame, size_t len, uint64_t *height, char *why,
                        size_t whylen);

/* ---------------------------------------------------------------------------------------- */
/* The release log (node/client/logverify.c; docs/protocol.md, Release log)                  */
/*
 * Every release and every revocation is a leaf of an append-only RFC 9162 log; every block
 * header names the log's size and root after it. A monitor keeps a head it checked (a
 * checkpoint: `fwledger log checkpoint`) and later asks a node for its certified head with a
 * consistency proof from the checkpoint's size: the newer log must hold the older one as its
 * prefix, or history was rewritten. A proof does not prove a size, so size and root are
 * always taken together from one certified header.
 */
typedef struct {
    uint64_t height;                    /* the block whose header names this log        */
    uint8_t block_hash[LDG_DIGEST_LEN];
    uint64_t log_size;
    uint8_t log_root[LDG_DIGEST_LEN];
} fwl_log_head;

/* A GetLogProof answer (its raw Response frame) checked against trust, trusting no node:
 *   - its Proof's header is certified and fresh (fwl_proof_check's errors) and names a log
 *     (NODE_ENOPROOF); *head gets it;
 *   - asked (NULL when the request named no release): the answer's record is that release's
 *     (NODE_EMISMATCH; none: NODE_ENOPROOF) and its leaf H(0x00 || record bytes) is leaf
 *     *leaf of the head's log by the inclusion proof (NODE_ELOG); rec (may be NULL) gets the
 *     record;
 *   - from (NULL: none; log_size 0: nothing to prove): a head the caller trusts, whose size
 *     the request gave as from_size. The head's log holds from's as its prefix by the
 *     consistency proof (NODE_ELOG: history rewritten), and a head at from's height is
 *     from's block with from's log (NODE_ELOG: two certified blocks at one height, or an
 *     altered checkpoint). A head below from's height: NODE_ESTALE (the node is behind).
 * why (may be NULL) says which, in words. Thread-safe. */
int fwl_verify_log(const fwl_trust *tr, const uint8_t *frame, size_t len, const fwl_Hash *asked,
                   const fwl_log_head *from, fwl_log_head *head, fwl_ReleaseRecord *rec,
                   uint64_t *leaf, char *why, size_t whylen);

#endif
