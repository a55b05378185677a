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
 *   "rpc_request_timeout_ms": 10000 }
 *
 * Every member is optional; absent ones take node_config_defaults' values. Relative paths
 * (data_dir, genesis, validator_key, identity_key) are resolved against the config file's
 * directory.
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
/* Client certificates on the RPC port (rpc_client_auth): not asked for; asked for and
 * checked when sent; required (the handshake fails without one). */
enum { NODE_RPC_AUTH_NONE, NODE_RPC_AUTH_OPTIONAL, NODE_RPC_AUTH_REQUIRED };
/* What a request kind needs (rpc_require): anyone; a client certificate; one whose key is a
 * registered tracker's; one whose key is one of the genesis admins'. */
enum { NODE_RPC_ROLE_ANY, NODE_RPC_ROLE_AUTHENTICATED, NODE_RPC_ROLE_TRACKER, NODE_RPC_ROLE_ADMIN };
/* Request kinds, indexed by their fwl.Request tag - 10 (submit_tx .. get_contract). */
#define NODE_RPC_KINDS 9
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
} node_config;
/* All defaults: the example above without identity_key, p2p_listen and peers, with RPC on
 * 127.0.0.1:7400. Unused bytes (past strings, peers past n_peers) are zero. */
void node_config_defaults(node_config *c);
/* Load and check path. Errors: LDG_EINVALID (NULL arguments), LDG_EIO, LDG_ETOOBIG,
 * LDG_ENOMEM, NODE_ECONFIG (err: "<field>: <what is wrong>"). On error *c is zeroed. */
int node_config_load(const char *path, node_config *c, char *err, size_t errlen);
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
