/*
 * node/files: the on-disk formats the daemon and the tool share: the genesis file, the node
 * config and key files, all JSON read through jansson (strict: unknown or duplicate keys are
 * refused, every field range-checked, the error names the field).
 *
 * Errors: LDG_E* and NODE_E* codes (node/client/client.h), node_strerror() names them.
 */
#ifndef FWL_NODE_FILES_H
#define FWL_NODE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"
#include "node/client/client.h"

/* ---------------------------------------------------------------------------------------- */
/* Genesis, config and key files: JSON through jansson (node/files/files.c, genesis.c)       */

/*
 * Genesis file:
 * { "chain_id": "dev", "hash": "sha256", "genesis_time_ms": 0,
 *   "admin_threshold": 1,
 *   "admins": [ {"alg": "ed25519", "key": "<hex>"} ],
 *   "validators": [ {"alg": "secp256k1-ecdsa", "key": "<hex>", "power": 1,
 *                    "identity": {"alg": "ed25519", "key": "<hex>"}} ],
 *   "authors": [ {"product": "acme-fw", "name": "Acme", "alg": "...", "key": "<hex>"} ],
 *   "algorithms": [ {"name": "p256-ecdsa", "status": "deprecated", "from_height": 100} ] }
 *
 * A validator's "identity" (into validator_ids) is its node identity key for p2p: an
 * identity algorithm (node_identity_alg_ok), unique, never a voting key, and given for every
 * validator or for none (a single-node chain needs none). Loading and saving: see
 * node/files/genesis.c.
 */
int node_genesis_load(const char *path, ldg_genesis *g, char *err, size_t errlen);
int node_genesis_save(const char *path, const ldg_genesis *g);

/* Node identity keys authenticate p2p connections (TLS 1.3), so only the algorithms TLS 1.3
 * signs with: ed25519 and p256-ecdsa (ecdsa_secp256r1_sha256). */
bool node_identity_alg_ok(uint32_t alg);

/* Key file: {"alg": "ed25519", "secret": "<hex>", "public": "<hex>"}, mode 0600. */
typedef struct {
    uint32_t alg;
    uint8_t sec[LDG_SECKEY_MAX];
    ldg_pubkey pub;
} node_key;
int node_key_generate(uint32_t alg, node_key *k); /* entropy from RAND_bytes */
int node_key_load(const char *path, node_key *k, char *err, size_t errlen);
int node_key_save(const char *path, const node_key *k);

/*
 * Node config file:
 * { "data_dir": "data", "genesis": "genesis.json", "rpc_listen": "127.0.0.1:7400",
 *   "validator_key": "validator.key", "block_interval_ms": 50, "max_block_txs": 4096,
 *   "mempool_max": 50000, "max_clients": 1024,
 *   "identity_key": "node.key", "p2p_listen": "127.0.0.1:7401",
 *   "peers": [ {"address": "127.0.0.1:7403", "identity": {"alg": "ed25519", "key": "<hex>"},
 *               "name": "node1"} ], "peer_timeout_ms": 4000,
 *   "timeout_propose_ms": 1000, "timeout_propose_delta_ms": 500,
 *   "timeout_prevote_ms": 500, "timeout_prevote_delta_ms": 250,
 *   "timeout_precommit_ms": 500, "timeout_precommit_delta_ms": 250,
 *   "sync_batch_blocks": 64, "eligibility_cache": 250000, "block_time_drift_ms": 5000,
 *   "map_size_mib": 8192, "rpc_max_clients_per_ip": 64, "rpc_idle_timeout_ms": 120000,
 *   "rpc_request_timeout_ms": 10000, "audit_log": "/var/log/fwledger/audit.log",
 *   "audit_log_max_bytes": 67108864, "audit_log_keep": 8 }
 *
 * Every member is optional; absent ones take node_config_defaults' values. Relative paths
 * (data_dir, genesis, validator_key, identity_key, audit_log) are resolved against the config
 * file's directory.
 *   validator_key  absent: "validator.key"; "" (explicitly): a non-voting replica.
 *   p2p_listen     absent: no p2p (a single-node chain). A numeric IPv4 or [IPv6] address
 *                  and port, as are the peers' addresses; with it, identity_key is required.
 *   identity_key   this node's identity key file (node_identity_alg_ok); absent: "".
 *   peers          the nodes to connect to (at most NODE_MAX_PEERS, only with p2p_listen),
 *                  each with its pinned identity key; identities and addresses unique.
 *                  name (optional): what logs and status call it, 1..NODE_PEER_NAME_MAX - 1
 *                  of A-Z a-z 0-9 . _ -, unique; absent: "validator-<index>" for a validator
 *                  of the genesis, its key ("ed25519:<first 8 bytes>..") for any other node.
 *   peer_timeout_ms  a peer from which nothing arrived for this long is down and its
 *                  connection closed (then redialled); it is pinged after a quarter of it
 *                  (at most 1 s) of silence (NODE_PEER_TIMEOUT_MIN_MS..NODE_PEER_TIMEOUT_MAX_MS).
 *   timeout_*_ms   consensus round timeouts: round r waits base + r * delta ms
 *                  (NODE_TIMEOUT_MIN_MS..NODE_TIMEOUT_MAX_MS each).
 *   sync_batch_blocks  blocks fetched and applied per batch when catching up
 *                  (1..NODE_SYNC_BATCH_MAX).
 *   eligibility_cache  candidate releases kept prepared for eligibility, over all hardware
 *                  models (NODE_ELG_CACHE_MIN..NODE_ELG_CACHE_MAX; about 450 bytes each):
 *                  past it, the cache starts over.
 *   block_time_drift_ms  a fresh proposal whose block time is further than this from our
 *                  clock, either way, gets our nil prevote (ldg_block_time_check)
 *                  (NODE_DRIFT_MIN_MS..NODE_DRIFT_MAX_MS).
 *   map_size_mib   the most the store (LMDB's map) may hold, in MiB
 *                  (NODE_MAP_SIZE_MIN_MIB..NODE_MAP_SIZE_MAX_MIB); reaching it stops
 *                  commits with LDG_EMAPFULL until the node restarts with a larger one.
 *   rpc_max_clients_per_ip  RPC connections from one IPv4 address or IPv6 /64 (1..65536).
 *   rpc_idle_timeout_ms  an RPC connection owed nothing that sent nothing for this long, or
 *                  that has not read its answers for this long, is closed.
 *   rpc_request_timeout_ms  a request frame (or TLS handshake) begun must be complete
 *                  within this (both NODE_RPC_TIMEOUT_MIN_MS..NODE_RPC_TIMEOUT_MAX_MS).
 *   rpc_plaintext  true: the RPC port speaks plain TCP, allowed only with a loopback
 *                  rpc_listen (127.0.0.0/8, ::1). Default false: TLS 1.3, the node
 *                  presenting identity_key's certificate (clients pin the key), or, with
 *                  rpc_tls_cert and rpc_tls_key (PEM files, both or neither), that
 *                  certificate chain (clients check it against their CA).
 *   rpc_client_auth  "none", "optional" (default: a client may present a certificate of an
 *                  ed25519 or p256-ecdsa key) or "required".
 *   rpc_require    {"<request kind>": "authenticated" | "tracker" | "admin"}: who may send
 *                  that kind (kinds: node_rpc_kind_name; absent: anyone); needs
 *                  rpc_client_auth other than "none".
 *   rpc_rate_requests, rpc_rate_decisions  requests, and eligibility decisions (devices),
 *                  per second and client address (IPv4, IPv6 /64) (0..NODE_RPC_RATE_MAX; 0:
 *                  no limit); rpc_rate_requests_key, rpc_rate_decisions_key: the same for a
 *                  client presenting a registered tracker's or an admin's key, which has a
 *                  budget of its own.
 *   audit_log      the audit log (node_audit_open); absent: "audit.log" in data_dir (after
 *                  --data-dir), "" refused: the log cannot be turned off.
 *   audit_log_max_bytes, audit_log_keep  rotation: past max_bytes
 *                  (NODE_AUDIT_MAX_BYTES_MIN..NODE_AUDIT_MAX_BYTES_MAX) the file becomes
 *                  audit.log.1, and keep (1..NODE_AUDIT_KEEP_MAX) rotated files are kept.
 * Rules that need the genesis and the key files as well: node_config_check.
 */
#define NODE_MAX_PEERS 64
#define NODE_HOST_MAX 64 /* a numeric IPv4 or IPv6 address and its NUL */
#define NODE_PEER_NAME_MAX 32 /* a peer's name and its NUL (p2p's P2P_NAME_MAX) */
#define NODE_PEER_TIMEOUT_MIN_MS 1000
#define NODE_PEER_TIMEOUT_MAX_MS 300000
#define NODE_TIMEOUT_MIN_MS 1
#define NODE_TIMEOUT_MAX_MS 60000
#define NODE_SYNC_BATCH_MAX 1024
#define NODE_ELG_CACHE_MIN 1
#define NODE_ELG_CACHE_MAX 10000000
/* Block time drift: below 100 ms, NTP-level skew plus the time a proposal travels would make
 * honest proposals fail; above 10 minutes the bound on the chain's time means little. */
#define NODE_DRIFT_MIN_MS 100
#define NODE_DRIFT_MAX_MS 600000
#define NODE_MAP_SIZE_MIN_MIB 1
#define NODE_RPC_TIMEOUT_MIN_MS 100
#define NODE_RPC_TIMEOUT_MAX_MS 86400000
#define NODE_RPC_RATE_MAX 100000000
/* Client certificates on the RPC port (rpc_client_auth): not asked for; asked for and
 * checked when sent; required (the handshake fails without one). */
enum { NODE_RPC_AUTH_NONE, NODE_RPC_AUTH_OPTIONAL, NODE_RPC_AUTH_REQUIRED };
/* What a request kind needs (rpc_require): anyone; a client certificate; one whose key is a
 * registered tracker's; one whose key is one of the genesis admins'. */
enum { NODE_RPC_ROLE_ANY, NODE_RPC_ROLE_AUTHENTICATED, NODE_RPC_ROLE_TRACKER, NODE_RPC_ROLE_ADMIN };
/* Request kinds, indexed by their fwl.Request tag - 10 (submit_tx .. get_log_proof). */
#define NODE_RPC_KINDS 10
/* "submit_tx", ... for kind i (0..NODE_RPC_KINDS-1); NULL outside. */
const char *node_rpc_kind_name(unsigned i);
const char *node_rpc_role_name(unsigned role);
#define NODE_MAP_SIZE_MAX_MIB (1u << 22) /* 4 TiB */

typedef struct {
    char host[NODE_HOST_MAX]; /* numeric IPv4 or IPv6 address (no brackets) */
    int port;                 /* 1..65535 */
    ldg_pubkey identity;      /* pinned: the only key this peer may authenticate with */
    char name[NODE_PEER_NAME_MAX]; /* "": none configured (see peers above) */
} node_peer;

typedef struct {
    char data_dir[4096];
    char genesis[4096];
    char validator_key[4096]; /* "": a non-voting replica */
    char rpc_host[256];
    int rpc_port;
    uint32_t block_interval_ms;
    uint32_t empty_block_interval_ms; /* 0: no empty blocks while idle */
    uint32_t max_block_txs;
    uint32_t mempool_max;
    uint32_t max_clients;
    uint32_t eligibility_cache;
    char identity_key[4096];   /* "": none */
    char p2p_host[NODE_HOST_MAX]; /* "" with p2p_port 0: no p2p */
    int p2p_port;
    node_peer peers[NODE_MAX_PEERS];
    size_t n_peers;
    uint32_t timeout_propose_ms, timeout_propose_delta_ms;
    uint32_t timeout_prevote_ms, timeout_prevote_delta_ms;
    uint32_t timeout_precommit_ms, timeout_precommit_delta_ms;
    uint32_t sync_batch_blocks;
    uint32_t block_time_drift_ms;
    uint32_t map_size_mib;
    uint32_t peer_timeout_ms;
    uint32_t rpc_max_clients_per_ip;
    uint32_t rpc_idle_timeout_ms;
    uint32_t rpc_request_timeout_ms;
    bool rpc_plaintext;        /* no TLS on the RPC port (loopback rpc_listen only)         */
    char rpc_tls_cert[4096];   /* "": present the identity key's certificate instead        */
    char rpc_tls_key[4096];
    uint8_t rpc_client_auth;   /* NODE_RPC_AUTH_*                                           */
    uint8_t rpc_require[NODE_RPC_KINDS]; /* NODE_RPC_ROLE_* by request kind (tag - 10)       */
    uint32_t rpc_rate_requests;  /* per address and second; 0: no limit                    */
    uint32_t rpc_rate_decisions; /* eligibility decisions (devices) per address and second  */
    uint32_t rpc_rate_requests_key;  /* the same per registered tracker's or admin's key    */
    uint32_t rpc_rate_decisions_key;
    char audit_log[4096];          /* "": <data_dir>/audit.log                              */
    uint64_t audit_log_max_bytes;
    uint32_t audit_log_keep;
} node_config;
/* All defaults: the example above without identity_key, p2p_listen, peers and audit_log,
 * with RPC on 127.0.0.1:7400. Unused bytes (past strings, peers past n_peers) are zero. */
void node_config_defaults(node_config *c);
/* Load and check path. Errors: LDG_EINVALID (NULL arguments), LDG_EIO, LDG_ETOOBIG,
 * LDG_ENOMEM, NODE_ECONFIG (err: "<field>: <what is wrong>"). On error *c is zeroed. */
int node_config_load(const char *path, node_config *c, char *err, size_t errlen);
/* node_config_load, and the SHA-256 of the bytes it parsed into sha256 (what the audit log's
 * config_loaded event names; zeroed on error). */
int node_config_load_hashed(const char *path, node_config *c, uint8_t sha256[32], char *err,
                            size_t errlen);
/* Write c as JSON (mode 0644), every member but the absent-by-default ones (identity_key "",
 * no p2p, no peers). Refuses (LDG_EINVALID, LDG_EUNKNOWN_ALG) a struct that would not load
 * back the same; paths are written verbatim. Other errors: LDG_ENOMEM, LDG_EIO. */
int node_config_save(const char *path, const node_config *c);

/*
 * The rules that need more than the config file; run once the genesis and the node's keys
 * are loaded. validator: the public key in validator_key, NULL for a replica (validator_key
 * ""); identity: the public key in identity_key, NULL when identity_key is "".
 *   - a validator key must be one of g's validators;
 *   - an identity key must be an identity algorithm, and is required with p2p_listen, and
 *     for the RPC port's TLS unless rpc_tls_cert is given or rpc_plaintext is true;
 *   - with p2p, a validator's identity must be the one g lists for it (g must list one), and
 *     a replica's identity must not be any validator's in g;
 *   - no peer is this node itself (its identity).
 * Errors: NODE_ECONFIG with err naming the field; LDG_EINVALID for NULL c or g, or when
 * validator does not agree with validator_key being "" or not.
 */
int node_config_check(const node_config *c, const ldg_genesis *g, const ldg_pubkey *validator,
                      const ldg_pubkey *identity, char *err, size_t errlen);

/* ---------------------------------------------------------------------------------------- */
/* The audit log (node/files/audit.c: the line format and the verifier; audit_log.c: the    */
/* writer)                                                                                   */
/*
 * An append-only, hash-chained log of security events (X.1369 9.6.4), one JSON object per
 * line: fwledgerd writes it, `fwledger audit verify` checks it (docs/operator.md).
 *
 *   {"seq":7,"time":"2026-12-02T17:00:00.123Z","event":"admin_tx","subject":"<tx id>",
 *    "outcome":"accepted","count":1,"detail":"author tx from key ...","prev":"sha256:<hex>"}
 *
 * Always these eight members, in this order, without spaces: the canonical form, the only one
 * the verifier takes (it formats what it parsed and compares the bytes). seq numbers the lines
 * from 1 and goes on across rotated files; time is UTC with milliseconds; event and outcome
 * are 1..NODE_AUDIT_NAME_MAX - 1 of a-z 0-9 _; subject and detail printable ASCII (the
 * writer turns any other byte into '?' and cuts what does not fit), with '"' and '\'
 * escaped; count is 1, or for a summary of repeats (NODE_AUDIT_COALESCE) how many events it
 * stands for; prev is the SHA-256 of the previous line's exact bytes without its newline,
 * all zero for the line that starts a chain (seq 1).
 *
 * What the chain shows: a line edited, dropped, moved or inserted breaks it at that line or
 * the next. What it cannot show: the last lines cut off, or the whole chain rewritten, by
 * someone who can write the file; compare the last line's hash (verify prints it, the node
 * logs it when it stops) with a copy kept elsewhere, or ship the lines off the machine.
 */
#define NODE_AUDIT_NAME_MAX 32      /* event and outcome names, with their NUL             */
#define NODE_AUDIT_SUBJECT_MAX 256  /* with the NUL                                        */
#define NODE_AUDIT_DETAIL_MAX 1024  /* with the NUL                                        */
#define NODE_AUDIT_LINE_MAX 4096    /* a line without its newline, at most (formatted, the
                                       longest fields with every byte escaped fit)         */
#define NODE_AUDIT_HASH_LEN 32
/* "sha256:" and 64 hex digits, and the NUL */
#define NODE_AUDIT_HASH_STR (7 + 2 * NODE_AUDIT_HASH_LEN + 1)

typedef struct {
    uint64_t seq;
    uint64_t time_ms;                 /* ms since the Unix epoch, before the year 10000 */
    char event[NODE_AUDIT_NAME_MAX];
    char subject[NODE_AUDIT_SUBJECT_MAX];
    char outcome[NODE_AUDIT_NAME_MAX];
    uint64_t count;
    char detail[NODE_AUDIT_DETAIL_MAX];
    uint8_t prev[NODE_AUDIT_HASH_LEN];
} node_audit_line;

/* An event or outcome name: 1..NODE_AUDIT_NAME_MAX - 1 of a-z 0-9 _. */
bool node_audit_name_ok(const char *s);
/* The canonical line for l, without a newline, into out (cap bytes, NUL-terminated); returns
 * its length, or 0 when l breaks a rule above (no line is written for it). */
size_t node_audit_format(const node_audit_line *l, char *out, size_t cap);
/* Parse one line (len bytes, no newline) into *l. Errors: LDG_EMALFORMED, with *why (static
 * text) saying what is wrong: not JSON, a member missing, of the wrong type or out of range,
 * or not the canonical form. */
int node_audit_parse(const char *line, size_t len, node_audit_line *l, const char **why);
/* The hash the next line's prev holds: SHA-256 of the line's bytes (without its newline). */
void node_audit_hash(const char *line, size_t len, uint8_t out[NODE_AUDIT_HASH_LEN]);
/* "sha256:<hex>" */
void node_audit_hash_str(const uint8_t h[NODE_AUDIT_HASH_LEN], char out[NODE_AUDIT_HASH_STR]);

/*
 * Verify files as one chain, in the order given: rotated files oldest first, then the current
 * one (audit.log.2 audit.log.1 audit.log). Every line must parse, and each line's seq and
 * prev must follow the line before it, across files. The first line is an anchor: it starts
 * a chain (seq 1, prev zero) or continues an earlier file not given, which is reported (not
 * checked) unless strict, which wants the start of a chain.
 *
 * A crash while a line was written leaves an incomplete line; the node's next start writes a
 * chain_reset line that continues the chain from the last whole line (node_audit_open). Lines
 * that do not parse and are followed by such a line are skipped (counted in skipped); anywhere
 * else they break the chain, and so does an incomplete last line.
 *
 * Returns 0 when every file was read (r->intact says whether the chain holds; if not, r->file,
 * r->line and r->why say where the first break is), LDG_EINVALID (no paths or no r), LDG_EIO
 * (r->file cannot be read; r->why says why).
 */
typedef struct {
    bool intact;
    uint64_t lines;          /* audit lines checked (skipped ones not counted)               */
    uint64_t first_seq, last_seq;
    bool from_start;         /* the first line starts a chain (seq 1, prev zero)              */
    uint8_t anchor[NODE_AUDIT_HASH_LEN]; /* the first line's prev                           */
    uint8_t head[NODE_AUDIT_HASH_LEN];   /* the hash of the last line                       */
    uint64_t skipped;        /* lines that do not parse, each followed by a chain_reset       */
    char note[256];          /* where the first skipped line is, "" when none                */
    char file[256];          /* the first break: file, line number (from 1), what is wrong    */
    uint64_t line;
    char why[256];
} node_audit_report;
int node_audit_verify(const char *const *paths, size_t n, bool strict, node_audit_report *r);

/*
 * The writer (fwledgerd). One process per file: the file is locked (flock) while open, and
 * lines are written with one write(2) each on a descriptor opened with O_APPEND, so a line
 * is whole or, after a crash, an incomplete last line (see above). Not thread-safe.
 *
 * Rotation: a line that would take the file past max_bytes first renames path to path.1,
 * path.1 to path.2 ... up to path.<keep> (the oldest is replaced), and opens a new path; seq
 * and prev go on, so the files verify together.
 *
 * Durability: node_audit_event without NODE_AUDIT_COALESCE syncs the file (fdatasync) before
 * it returns; coalesced events are synced at the end of their second (node_audit_tick).
 */
typedef struct node_audit node_audit;

typedef struct {
    const char *path;        /* the current file; rotated ones get .1, .2 ... appended        */
    uint64_t max_bytes;      /* NODE_AUDIT_MAX_BYTES_MIN.. : when to rotate                   */
    uint32_t keep;           /* 1..NODE_AUDIT_KEEP_MAX rotated files kept                     */
} node_audit_config;
#define NODE_AUDIT_MAX_BYTES_MIN (64u << 10)
#define NODE_AUDIT_MAX_BYTES_MAX (1ull << 40)
#define NODE_AUDIT_KEEP_MAX 1000
#define NODE_AUDIT_PATH_MAX (4096 - 16) /* path's bytes with the NUL: room for ".<keep>" */
#define NODE_AUDIT_SLOTS 32 /* coalesced (event, subject, outcome) kept per second           */

/*
 * Open path for appending (created, mode 0640, when absent) and continue its chain: the last
 * line gives seq and prev (from path.1 when path is absent or empty, as after a crash in the
 * middle of a rotation). When the end of the file is not a whole audit line (a crash mid-write,
 * or an edit), the bytes are left where they are, ended with a newline, and a chain_reset line
 * says what was found: it continues the chain from the last whole line within the last 64 KiB,
 * or when there is none starts a new one (seq 1), which the verifier reports as a break.
 * Errors (*out NULL, err says why): LDG_EINVALID (bad config), LDG_ELOCKED (another process
 * has the file open), LDG_EIO and the other ldg_errno_code codes, LDG_ENOMEM.
 */
int node_audit_open(node_audit **out, const node_audit_config *cfg, uint64_t now_ms,
                    char *err, size_t errlen);

/* Coalesce: the first event of a (event, subject, outcome) in a second (of now_ms) is written,
 * its repeats in that second only counted, and written as one summary line (count = the
 * repeats) when the second is over; past NODE_AUDIT_SLOTS such triples in a second, events
 * are only counted, in one audit_coalesced line. So events anyone can cause (failed
 * authentication, rate limits) add at most 2 * NODE_AUDIT_SLOTS + 1 lines a second, and at
 * most one sync. */
#define NODE_AUDIT_COALESCE 1u

/*
 * Append an event at now_ms (flags: 0 or NODE_AUDIT_COALESCE). event and outcome: names of
 * a-z 0-9 _ (LDG_EINVALID otherwise); subject and detail: any text (NULL: ""), made
 * printable and cut to fit. Errors: LDG_EINVALID, or the write's (LDG_EIO, LDG_ENOSPC,
 * LDG_EDQUOT; node_audit_error says more): the event is lost, and the next line that can be
 * written is preceded by an audit_lost line counting the lost events (and by a chain_reset
 * when a failed write left part of a line in the file).
 */
int node_audit_event(node_audit *a, uint64_t now_ms, unsigned flags, const char *event,
                     const char *subject, const char *outcome, const char *detail);
/* Call at least once a second (the daemon: every 100 ms): ends past seconds (their summary
 * lines) and syncs what was written without a sync. Errors: as node_audit_event. */
int node_audit_tick(node_audit *a, uint64_t now_ms);
/* The last line written: its seq (0: none) and hash. */
void node_audit_head(const node_audit *a, uint64_t *seq, uint8_t hash[NODE_AUDIT_HASH_LEN]);
/* What the last failed write said ("" when none failed). Valid until the next call. */
const char *node_audit_error(const node_audit *a);
/* End the current second, sync, close, free. NULL is fine. Returns what the tick returns. */
int node_audit_close(node_audit *a, uint64_t now_ms);

/* ---------------------------------------------------------------------------------------- */
/* Strict JSON reading (node/files/json_util.c), for the tool's input files too             */
/*
 * Unknown and duplicate keys are refused, every value range-checked; each call returns 0 or
 * NODE_ECONFIG with "<prefix>.<field>: <what is wrong>" in the error buffer.
 */

/* Where a loader's message goes: buf of len bytes, or nowhere (buf NULL or len 0). */
typedef struct {
    char *buf;
    size_t len;
} node_json_err;

void node_json_err_init(node_json_err *e, char *buf, size_t len);

/* Refuse members of obj outside allowed (NULL-terminated): catches misspelt optional fields,
 * which would otherwise silently take their defaults. */
int node_json_check_keys(const json_t *obj, const char *const *allowed, const char *prefix,
                         node_json_err *e);

/* A string member; *out (borrowed from obj) NULL when absent and optional. */
int node_json_get_string(const json_t *obj, const char *prefix, const char *name,
                         bool required, const char **out, node_json_err *e);

/* An integer member in [min, max]; *out left alone (the default) when absent and optional. */
int node_json_get_uint(const json_t *obj, const char *prefix, const char *name, bool required,
                       uint64_t min, uint64_t max, uint64_t *out, node_json_err *e);

#endif
