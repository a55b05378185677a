/*
 * The RPC port's members of the node config (files.h documents them): TLS or plaintext,
 * the certificate, client certificates and who may send what, connection limits.
 */
#include <string.h>

#include "node/files/files_internal.h"

#define CLIENTS_PER_IP_MAX 65536u

static const char *const kinds[NODE_RPC_KINDS] = {
    "submit_tx", "wait_for_tx", "get_block",   "get_release", "list_releases",
    "status",    "nonce",       "eligible",    "get_contract", "get_log_proof",
};
_Static_assert(fwl_Request_submit_tx_tag == 10 &&
                   fwl_Request_get_log_proof_tag - fwl_Request_submit_tx_tag + 1 == NODE_RPC_KINDS,
               "request kinds are their fwl.Request tag - 10");
static const char *const roles[] = {"any", "authenticated", "tracker", "admin"};
static const char *const auths[] = {"none", "optional", "required"};

const char *node_rpc_kind_name(unsigned i)
{
    return i < NODE_RPC_KINDS ? kinds[i] : NULL;
}

const char *node_rpc_role_name(unsigned role)
{
    return role < sizeof roles / sizeof *roles ? roles[role] : NULL;
}

/* The index of s in names (n of them), or -1. */
static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return (int)i;
    return -1;
}


static int get_client_auth(const json_t *root, node_config *c, node_json_err *e)
{
    const char *s;
    int rc = node_json_get_string(root, "", "rpc_client_auth", false, &s, e);
    if (rc || !s)
        return rc;
    int i = lookup(s, auths, sizeof auths / sizeof *auths);
    if (i < 0)
        return node__bad(e, NODE_ECONFIG, "", "rpc_client_auth",
                         "must be \"none\", \"optional\" or \"required\", got \"%s\"", s);
    c->rpc_client_auth = (uint8_t)i;
    return 0;
}

static int get_require(const json_t *root, node_config *c, node_json_err *e)
{
    const json_t *o = json_object_get(root, "rpc_require");
    if (!o)
        return 0;
    if (!json_is_object(o))
        return node__bad(e, NODE_ECONFIG, "", "rpc_require",
                         "must be an object of request kind to role");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        int kind = lookup(k, kinds, NODE_RPC_KINDS);
        int role = json_is_string(v) ? lookup(json_string_value(v), roles,
                                               sizeof roles / sizeof *roles)
                                     : -1;
        if (kind < 0)
            return node__bad(e, NODE_ECONFIG, "rpc_require", k,
                             "not a request kind (submit_tx, wait_for_tx, get_block, "
                             "get_release, list_releases, status, nonce, eligible, "
                             "get_contract, get_log_proof)");
        if (role < 0)
            return node__bad(e, NODE_ECONFIG, "rpc_require", k,
                             "must be \"any\", \"authenticated\", \"tracker\" or \"admin\"");
        c->rpc_require[kind] = (uint8_t)role;
    }
    return 0;
}

/* The rules between members (and with rpc_listen). That TLS has a key to present is
 * node_config_check's (it needs the key file). */
static int check(const node_config *c, node_json_err *e)
{
    bool required = false;
    for (unsigned i = 0; i < NODE_RPC_KINDS; i++)
        required |= c->rpc_require[i] != NODE_RPC_ROLE_ANY;
    if (c->rpc_plaintext && !node_addr_is_loopback(c->rpc_host))
        return node__bad(e, NODE_ECONFIG, "", "rpc_plaintext",
                         "only with a loopback rpc_listen (127.0.0.0/8 or [::1]), not %s",
                         c->rpc_host);
    if (!c->rpc_tls_cert[0] != !c->rpc_tls_key[0])
        return node__bad(e, NODE_ECONFIG, "", c->rpc_tls_cert[0] ? "rpc_tls_key" : "rpc_tls_cert",
                         "missing: rpc_tls_cert and rpc_tls_key go together");
    if (c->rpc_plaintext && (c->rpc_tls_cert[0] || c->rpc_client_auth || required))
        return node__bad(e, NODE_ECONFIG, "", "rpc_plaintext",
                         "true, yet TLS settings are given (rpc_tls_cert, rpc_client_auth, "
                         "rpc_require)");
    if (required && c->rpc_client_auth == NODE_RPC_AUTH_NONE)
        return node__bad(e, NODE_ECONFIG, "", "rpc_require",
                         "needs client certificates: rpc_client_auth is \"none\"");
    return 0;
}

int node__config_rpc(const json_t *root, node_config *c, node_json_err *e)
{
    const json_t *plain = json_object_get(root, "rpc_plaintext");
    int rc;
    if (plain && !json_is_boolean(plain))
        return node__bad(e, NODE_ECONFIG, "", "rpc_plaintext", "must be true or false");
    if (plain)
        c->rpc_plaintext = json_is_true(plain);
    if ((rc = node__get_path(root, "rpc_tls_cert", false, c->rpc_tls_cert,
                             sizeof c->rpc_tls_cert, e)) ||
        (rc = node__get_path(root, "rpc_tls_key", false, c->rpc_tls_key, sizeof c->rpc_tls_key,
                             e)) ||
        (rc = get_client_auth(root, c, e)) || (rc = get_require(root, c, e)) ||
        (rc = node__get_u32(root, "rpc_max_clients_per_ip", 1, CLIENTS_PER_IP_MAX,
                            &c->rpc_max_clients_per_ip, e)) ||
        (rc = node__get_u32(root, "rpc_idle_timeout_ms", NODE_RPC_TIMEOUT_MIN_MS,
                            NODE_RPC_TIMEOUT_MAX_MS, &c->rpc_idle_timeout_ms, e)) ||
        (rc = node__get_u32(root, "rpc_request_timeout_ms", NODE_RPC_TIMEOUT_MIN_MS,
                            NODE_RPC_TIMEOUT_MAX_MS, &c->rpc_request_timeout_ms, e)) ||
        (rc = node__get_u32(root, "rpc_rate_requests", 0, NODE_RPC_RATE_MAX,
                            &c->rpc_rate_requests, e)) ||
        (rc = node__get_u32(root, "rpc_rate_decisions", 0, NODE_RPC_RATE_MAX,
                            &c->rpc_rate_decisions, e)) ||
        (rc = node__get_u32(root, "rpc_rate_requests_key", 0, NODE_RPC_RATE_MAX,
                            &c->rpc_rate_requests_key, e)) ||
        (rc = node__get_u32(root, "rpc_rate_decisions_key", 0, NODE_RPC_RATE_MAX,
                            &c->rpc_rate_decisions_key, e)))
        return rc;
    return check(c, e);
}

void node__config_rpc_defaults(node_config *c)
{
    c->rpc_max_clients_per_ip = 64;
    c->rpc_idle_timeout_ms = 120000;
    c->rpc_request_timeout_ms = 10000;
    c->rpc_client_auth = NODE_RPC_AUTH_OPTIONAL;
    c->rpc_rate_requests = 5000;
    c->rpc_rate_decisions = 5000;
    c->rpc_rate_requests_key = 50000;
    c->rpc_rate_decisions_key = 50000;
}

bool node__config_rpc_same(const node_config *a, const node_config *b)
{
    return a->rpc_max_clients_per_ip == b->rpc_max_clients_per_ip &&
           a->rpc_idle_timeout_ms == b->rpc_idle_timeout_ms &&
           a->rpc_request_timeout_ms == b->rpc_request_timeout_ms &&
           a->rpc_plaintext == b->rpc_plaintext && !strcmp(a->rpc_tls_cert, b->rpc_tls_cert) &&
           !strcmp(a->rpc_tls_key, b->rpc_tls_key) && a->rpc_client_auth == b->rpc_client_auth &&
           !memcmp(a->rpc_require, b->rpc_require, sizeof a->rpc_require) &&
           a->rpc_rate_requests == b->rpc_rate_requests &&
           a->rpc_rate_decisions == b->rpc_rate_decisions &&
           a->rpc_rate_requests_key == b->rpc_rate_requests_key &&
           a->rpc_rate_decisions_key == b->rpc_rate_decisions_key;
}

void node__config_rpc_put(json_t *root, const node_config *c, bool *ok)
{
    if (c->rpc_plaintext)
        node__put(root, "rpc_plaintext", json_true(), ok);
    if (c->rpc_tls_cert[0] || c->rpc_tls_key[0]) {
        node__put(root, "rpc_tls_cert", json_string(c->rpc_tls_cert), ok);
        node__put(root, "rpc_tls_key", json_string(c->rpc_tls_key), ok);
    }
    if (c->rpc_client_auth < sizeof auths / sizeof *auths)
        node__put(root, "rpc_client_auth", json_string(auths[c->rpc_client_auth]), ok);
    else
        *ok = false;
    json_t *req = json_object();
    for (unsigned i = 0; req && i < NODE_RPC_KINDS; i++)
        if (c->rpc_require[i] != NODE_RPC_ROLE_ANY)
            node__put(req, kinds[i], node_rpc_role_name(c->rpc_require[i])
                                         ? json_string(node_rpc_role_name(c->rpc_require[i]))
                                         : NULL, ok);
    if (req && json_object_size(req))
        node__put(root, "rpc_require", req, ok);
    else if (req)
        json_decref(req);
    else
        *ok = false;
    node__put(root, "rpc_max_clients_per_ip", json_integer(c->rpc_max_clients_per_ip), ok);
    node__put(root, "rpc_idle_timeout_ms", json_integer(c->rpc_idle_timeout_ms), ok);
    node__put(root, "rpc_request_timeout_ms", json_integer(c->rpc_request_timeout_ms), ok);
    node__put(root, "rpc_rate_requests", json_integer(c->rpc_rate_requests), ok);
    node__put(root, "rpc_rate_decisions", json_integer(c->rpc_rate_decisions), ok);
    node__put(root, "rpc_rate_requests_key", json_integer(c->rpc_rate_requests_key), ok);
    node__put(root, "rpc_rate_decisions_key", json_integer(c->rpc_rate_decisions_key), ok);
}
