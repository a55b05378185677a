/*
 * Who may talk to this node and send what, how often (wiring, like server.c): the RPC
 * port's TLS context from the config (the identity key's certificate, or a CA-issued one;
 * client certificates none, optional or required), the rpc_require check of each request
 * against the key of the client's certificate and the committed state (trackers) or the
 * genesis (admins), and the per-client rates (the quota component). docs/operator.md
 * explains the settings.
 */
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ledger/tls.h"
#include "node/daemon/server_internal.h"

/* The certificate and key the port presents. */
static int use_identity(server *s, SSL_CTX *ctx, char *err, size_t errlen)
{
    const node_config *cfg = &s->cfg;
    if (cfg->rpc_tls_cert[0]) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->rpc_tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, cfg->rpc_tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ldg_tls_error(err, errlen, "rpc_tls_cert/rpc_tls_key");
            return NODE_ECONFIG;
        }
        return 0;
    }
    if (!cfg->identity_key[0]) {
        snprintf(err, errlen, "identity_key: missing: the RPC port's TLS presents it (or give "
                              "rpc_tls_cert and rpc_tls_key, or rpc_plaintext with a loopback "
                              "rpc_listen)");
        return NODE_ECONFIG;
    }
    node_key *k = calloc(1, sizeof *k);
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    int rc = k ? node_key_load(cfg->identity_key, k, err, errlen) : LDG_ENOMEM;
    if (!rc && (rc = ldg_tls_identity(k->alg, k->sec, &k->pub, &pk, &x, err, errlen)))
        rc = NODE_ECONFIG;
    if (!rc && (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1)) {
        ldg_tls_error(err, errlen, "identity_key for the RPC port");
        rc = NODE_ECONFIG;
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    if (k)
        OPENSSL_cleanse(k, sizeof *k);
    free(k);
    return rc;
}

int node__access_init(server *s, char *err, size_t errlen)
{
    const node_config *cfg = &s->cfg;
    s->tls = NULL;
    /* Buckets live about a second past a client's last request: at most a few per
     * connection, plus a margin for clients that just left. */
    if (node_quota_init(&s->quota, 4 * (size_t)cfg->max_clients + 1024)) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    if (cfg->rpc_plaintext)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || ldg_tls_ctx_restrict(ctx, !cfg->rpc_tls_cert[0])) {
        ldg_tls_error(err, errlen, "RPC TLS");
        SSL_CTX_free(ctx);
        return LDG_ENOMEM;
    }
    int rc = use_identity(s, ctx, err, errlen);
    if (rc) {
        SSL_CTX_free(ctx);
        return rc;
    }
    int mode = cfg->rpc_client_auth == NODE_RPC_AUTH_NONE ? SSL_VERIFY_NONE
               : cfg->rpc_client_auth == NODE_RPC_AUTH_OPTIONAL
                   ? SSL_VERIFY_PEER
                   : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    s->tls = ctx;
    return 0;
}

void node__access_close(server *s)
{
    SSL_CTX_free(s->tls);
    s->tls = NULL;
    node_quota_close(&s->quota);
}

/* Does key hold role? */
static bool has_role(server *s, const ldg_pubkey *key, uint8_t role)
{
    if (role == NODE_RPC_ROLE_ANY)
        return true;
    if (!key)
        return false;
    if (role == NODE_RPC_ROLE_AUTHENTICATED)
        return true;
    if (role == NODE_RPC_ROLE_ADMIN) {
        for (size_t i = 0; i < s->g.n_admins; i++)
            if (ldg_pubkey_eq(&s->g.admins[i], key))
                return true;
        return false;
    }
    static fwl_TrackerRecord t; /* loop thread only */
    return ldg_store_tracker(s->store, key->alg, key->key, key->len, &t) == 0;
}

/* The bucket a request of c is charged to, named in who for messages: its key when it is a
 * registered tracker's or an admin's (anyone can make keys: others would be fresh buckets
 * at will), else its address. */
static bool bucket_of(server *s, client *c, const char *addr, uint8_t out[32], char *who,
                      size_t wlen)
{
    const ldg_pubkey *key = node_rpc_conn_client_key(c);
    uint8_t buf[2 + LDG_PUBKEY_MAX + 64];
    size_t n;
    if (key && (has_role(s, key, NODE_RPC_ROLE_ADMIN) || has_role(s, key, NODE_RPC_ROLE_TRACKER))) {
        buf[0] = 'k', buf[1] = (uint8_t)key->alg;
        memcpy(buf + 2, key->key, key->len);
        n = 2 + key->len;
        snprintf(who, wlen, "this key");
    } else {
        n = 1 + (size_t)snprintf((char *)buf + 1, sizeof buf - 1, "%s", addr);
        buf[0] = 'a';
        n = n > sizeof buf ? sizeof buf : n;
        snprintf(who, wlen, "this address");
    }
    SHA256(buf, n, out);
    return buf[0] == 'k';
}

/* Charge req to its client's buckets: 1 request, and an Eligible's devices as decisions. */
static bool within_rate(server *s, client *c, const fwl_Request *req, const char *addr)
{
    const node_config *cfg = &s->cfg;
    if (!cfg->rpc_rate_requests && !cfg->rpc_rate_decisions && !cfg->rpc_rate_requests_key &&
        !cfg->rpc_rate_decisions_key)
        return true; /* no rates: no hashing, no role lookup */
    uint8_t key[32];
    char who[32];
    uint32_t retry = 0;
    bool keyed = bucket_of(s, c, addr, key, who, sizeof who);
    uint32_t rreq = keyed ? cfg->rpc_rate_requests_key : cfg->rpc_rate_requests;
    uint32_t rdec = keyed ? cfg->rpc_rate_decisions_key : cfg->rpc_rate_decisions;
    uint64_t now = node__now_ms(s);
    int rc = node_quota_take(&s->quota, key, rreq, 1, now, &retry);
    const char *what = "requests";
    uint32_t rate = rreq;
    if (rc != NODE_ERATE && req->which_req == fwl_Request_eligible_tag) {
        key[0] ^= 1; /* the same client's decision bucket */
        rc = node_quota_take(&s->quota, key, rdec, req->req.eligible.devices_count, now,
                             &retry);
        what = "eligibility decisions";
        rate = rdec;
    }
    if (rc != NODE_ERATE)
        return true;
    node__audit(s, NODE_AUDIT_COALESCE, "rpc_rate_limited", addr, "refused", "%s", what);
    fwl_Response *r = node_rpc_new_resp(&s->rpc, req->id, fwl_Response_error_tag);
    r->resp.error.code = NODE_ERATE;
    r->resp.error.retry_after_ms = retry ? retry : 1;
    snprintf(r->resp.error.message, sizeof r->resp.error.message,
             "rate limited: %u %s per second for %s; retry after %u ms", rate, what, who,
             r->resp.error.retry_after_ms);
    node_rpc_send_resp(c, r);
    /* Its next requests wait out the time in its queue: a client that floods gets one answer
     * per wait, and costs the node nothing meanwhile. */
    node_rpc_conn_pause(c, r->resp.error.retry_after_ms);
    return false;
}

bool node__access_allowed(server *s, client *c, const fwl_Request *req)
{
    unsigned kind = (unsigned)req->which_req - fwl_Request_submit_tx_tag;
    if (kind >= NODE_RPC_KINDS)
        return true; /* answered as an unknown request */
    uint8_t role = s->cfg.rpc_require[kind];
    const ldg_pubkey *key = node_rpc_conn_client_key(c);
    char addr[64];
    node_rpc_conn_addr(c, addr, sizeof addr);
    if (has_role(s, key, role))
        return within_rate(s, c, req, addr);
    node__security(s, "rpc_denied", addr, node_rpc_kind_name(kind));
    node_rpc_send_error(c, req->id, NODE_EAUTH, "%s needs a client certificate %s%s",
                        node_rpc_kind_name(kind),
                        role == NODE_RPC_ROLE_TRACKER ? "of a registered tracker's key"
                        : role == NODE_RPC_ROLE_ADMIN ? "of an admin's key" : "",
                        key ? "; this one is not" : "; none was presented");
    return false;
}
