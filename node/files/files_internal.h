/*
 * node/files internal: the jansson helpers the file loaders share (json_util.c).
 *   genesis.c       the genesis file
 *   files.c         key files and the node config
 *
 * The loaders are strict because a typo in these files otherwise becomes a silently different
 * chain or node: unknown keys and duplicate keys are refused at every level, every field is
 * range-checked, and the error names the field: "<prefix>.<field>: <what is wrong>" (e.g.
 * "admins[1].key: ed25519 keys are 32 bytes, got 33"). Every node__get_* returns 0 or
 * NODE_ECONFIG with that message in e.
 */
#ifndef FWL_NODE_JSON_UTIL_H
#define FWL_NODE_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "node/files/files.h"

#define NODE_FILE_MAX (1u << 20) /* any of the three files */



/* Write "<prefix>.<field>: <message>" to e (prefix or field may be empty); returns rc. */
int node__bad(node_json_err *e, int rc, const char *prefix, const char *field, const char *fmt,
              ...) __attribute__((format(printf, 5, 6)));

/* Read and parse path as a JSON object (duplicate keys refused); *out is the caller's to
 * json_decref. With secret, the raw text is wiped once parsed. sha256 (NULL: not wanted):
 * the SHA-256 of the bytes read, zeroed on error. Errors: LDG_EIO, LDG_ETOOBIG (over
 * NODE_FILE_MAX, checked before parsing), LDG_ENOMEM, NODE_ECONFIG. */
int node__load_object(const char *path, bool secret, json_t **out, uint8_t *sha256,
                      node_json_err *e);




/* A top-level string member that is a path (empty only with empty_ok), copied into out of
 * cap bytes; out left alone when absent. */
int node__get_path(const json_t *root, const char *name, bool empty_ok, char *out, size_t cap,
                   node_json_err *e);
/* A top-level integer member in [min, max]; *out left alone (the default) when absent. */
int node__get_u32(const json_t *root, const char *name, uint32_t min, uint32_t max,
                  uint32_t *out, node_json_err *e);

/* The RPC port's members of the node config (config_rpc.c): parsed from root into c (after
 * the rest, so rpc_listen is known), their defaults, equality, and writing them. */
#define NODE_CONFIG_RPC_KEYS                                                              \
    "rpc_plaintext", "rpc_tls_cert", "rpc_tls_key", "rpc_client_auth", "rpc_require",     \
        "rpc_max_clients_per_ip", "rpc_idle_timeout_ms", "rpc_request_timeout_ms",          \
        "rpc_rate_requests", "rpc_rate_decisions", "rpc_rate_requests_key",                \
        "rpc_rate_decisions_key"
int node__config_rpc(const json_t *root, node_config *c, node_json_err *e);
void node__config_rpc_defaults(node_config *c);
bool node__config_rpc_same(const node_config *a, const node_config *b);
void node__config_rpc_put(json_t *root, const node_config *c, bool *ok);

/* An array member of min to max elements (a top-level one: the message names it alone);
 * *out NULL when absent and optional. */
int node__get_array(const json_t *obj, const char *name, bool required, size_t min, size_t max,
                    const json_t **out, node_json_err *e);

/* A hex member of exactly want bytes of an alg key ("secret" names a secret key). */
int node__get_hex(const json_t *obj, const char *prefix, const char *name, const char *alg,
                  size_t want, uint8_t *out, node_json_err *e);

/* A signature algorithm name the registry knows. */
int node__get_sig_alg(const json_t *obj, const char *prefix, const char *name,
                      const ldg_sig_impl **out, node_json_err *e);

/* {"alg": ..., "key": ...} members of obj into k. */
int node__get_pubkey(const json_t *obj, const char *prefix, ldg_pubkey *k, node_json_err *e);

/* The object member name of obj, {"alg", "key"} and nothing else, as an identity key
 * (node_identity_alg_ok); prefix names obj. Required. */
int node__get_identity(const json_t *obj, const char *prefix, const char *name, ldg_pubkey *k,
                       node_json_err *e);

/* The names the registry knows, for messages: "a, b, c". kind: 0 hashes, 1 signatures. */
const char *node__alg_names(int kind, char *buf, size_t cap);


/* A string that ends inside its array (a hand-filled struct may not). */
bool node__str_fits(const char *s, size_t cap);

/* json_object_set_new that remembers a failure (v NULL included), so building stays linear. */
void node__put(json_t *o, const char *k, json_t *v, bool *ok);

/* {"alg": name, "key": hex} for k, or NULL with *rc LDG_EUNKNOWN_ALG, LDG_EINVALID (len) or
 * LDG_ENOMEM. */
json_t *node__key_json(const ldg_pubkey *k, int *rc);

/* Serialise root (indented, with a final newline) and write it atomically with mode.
 * Errors: LDG_ENOMEM, LDG_EIO. */
int node__write_json(const char *path, const json_t *root, int mode);

#endif
