/*
 * The daemon's audit log (node/files: node_audit_*): opened when the node starts, written for
 * what the node does itself (config loaded, start, stop) and for what the components report
 * (admin transactions submitted here, p2p connections that fail authentication), ticked by
 * the sweep, closed last. Which events exist and what their subject and detail hold is
 * decided here, and listed in docs/operator.md; the components only expose events.
 *
 * Events anyone can cause (refused transactions, failed authentication) are coalesced
 * (NODE_AUDIT_COALESCE); the node's own are synced one by one.
 */
#include "node/daemon/server_internal.h"

static void audit_result(server *s, int rc)
{
    if (rc && !s->audit_failing)
        node__log("audit log: %s (lost events are counted in the next line that can be "
                  "written)", *node_audit_error(s->audit) ? node_audit_error(s->audit)
                                                          : node_strerror(rc));
    else if (!rc && s->audit_failing)
        node__log("audit log: writing again");
    s->audit_failing = rc != 0;
}

void node__audit(server *s, unsigned flags, const char *event, const char *subject,
                 const char *outcome, const char *fmt, ...)
{
    char detail[NODE_AUDIT_DETAIL_MAX];
    va_list ap;
    if (!s->audit)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    audit_result(s, node_audit_event(s->audit, node__now_ms(s), flags, event, subject, outcome,
                                     detail));
}

void node__audit_tick(server *s)
{
    if (s->audit)
        audit_result(s, node_audit_tick(s->audit, node__now_ms(s)));
}

int node__audit_open(server *s, const node_config_origin *origin, char *err, size_t errlen)
{
    const node_config *c = &s->cfg;
    char path[NODE_AUDIT_PATH_MAX + 16], sha[2 * 32 + 1];
    if (c->audit_log[0])
        snprintf(path, sizeof path, "%s", c->audit_log);
    else if ((size_t)snprintf(path, sizeof path, "%s/audit.log", c->data_dir) >=
             NODE_AUDIT_PATH_MAX) {
        snprintf(err, errlen, "audit log: data_dir is too long for data_dir/audit.log");
        return NODE_ECONFIG;
    }
    node_audit_config ac = {.path = path, .max_bytes = c->audit_log_max_bytes,
                            .keep = c->audit_log_keep};
    int rc = node_audit_open(&s->audit, &ac, node__now_ms(s), err, errlen);
    if (rc)
        return rc;
    if (!origin) {
        node__audit(s, 0, "config_loaded", "", "ok", "given in code, not read from a file");
        return 0;
    }
    node_hex(origin->sha256, 32, sha);
    node__audit(s, 0, "config_loaded", origin->path, "ok",
                "sha256:%s; data_dir %s, rpc_listen %s:%d, audit_log %s%s%s", sha, c->data_dir,
                c->rpc_host, c->rpc_port, path, *origin->overrides ? "; overridden: " : "",
                origin->overrides);
    return 0;
}

/* A key's id as the chain computes it (ldg_key_id), in hex; "" when it cannot. */
static void key_id_hex(const server *s, const ldg_pubkey *k, char out[2 * LDG_DIGEST_LEN + 1])
{
    uint8_t id[LDG_DIGEST_LEN];
    out[0] = '\0';
    if (ldg_key_id(&s->g, k->alg, k->key, k->len, id) == 0)
        node_hex(id, sizeof id, out);
}

/* Who this node is: its validator key's id, else its identity key's, else "replica"; and
 * the two ids for the detail. */
static void node_ids(server *s, char *subject, size_t cap, char *ids, size_t ids_cap)
{
    char vid[2 * LDG_DIGEST_LEN + 1] = "", iid[2 * LDG_DIGEST_LEN + 1] = "", err[256];
    node_key ik = {0};
    if (s->has_vkey)
        key_id_hex(s, &s->vkey.pub, vid);
    if (s->cfg.identity_key[0] && !node_key_load(s->cfg.identity_key, &ik, err, sizeof err))
        key_id_hex(s, &ik.pub, iid);
    OPENSSL_cleanse(&ik, sizeof ik);
    snprintf(subject, cap, "%s", *vid ? vid : *iid ? iid : "replica");
    snprintf(ids, ids_cap, "validator key %s, identity key %s", *vid ? vid : "none",
             *iid ? iid : "none");
}

void node__audit_start(server *s)
{
    char subject[2 * LDG_DIGEST_LEN + 1], ids[256], p2p[128] = "";
    ldg_tip t;
    if (!s->audit)
        return;
    node_ids(s, subject, sizeof subject, ids, sizeof ids);
    ldg_store_tip(s->store, &t);
    if (s->cfg.p2p_port)
        snprintf(p2p, sizeof p2p, ", p2p %s:%d with %zu peers", s->cfg.p2p_host, s->cfg.p2p_port,
                 s->cfg.n_peers);
    node__audit(s, 0, "start", subject, "ok",
                "fwledgerd %s, chain %s at height %" PRIu64 ", %s, rpc %s:%d%s; %s", FWL_VERSION,
                s->g.chain_id, t.height, s->has_vkey ? "validator" : "replica", s->cfg.rpc_host,
                s->cfg.rpc_port, p2p, ids);
}

void node__audit_end(server *s, const char *failed)
{
    char subject[2 * LDG_DIGEST_LEN + 1], ids[256], head[NODE_AUDIT_HASH_STR], sig[32] = "";
    uint8_t h[NODE_AUDIT_HASH_LEN];
    uint64_t seq;
    ldg_tip t;
    if (!s->audit)
        return;
    node_ids(s, subject, sizeof subject, ids, sizeof ids);
    ldg_store_tip(s->store, &t);
    if (s->stop_signal)
        snprintf(sig, sizeof sig, ", on signal %d", s->stop_signal);
    if (failed)
        node__audit(s, 0, "start", subject, "failed", "%s; %s", failed, ids);
    else
        node__audit(s, 0, "stop", subject, "ok", "at height %" PRIu64 "%s", t.height, sig);
    node_audit_head(s->audit, &seq, h);
    node_audit_hash_str(h, head);
    /* The anchor of what the chain protects: kept with the node's log, it shows lines cut
     * off the end of the audit log afterwards. */
    node__log("audit log: seq %" PRIu64 ", last line %s", seq, head);
    audit_result(s, node_audit_close(s->audit, node__now_ms(s)));
    s->audit = NULL;
}

/* The event for a tx type, or NULL when such txs are not audited. */
static const char *tx_event(uint32_t type, const char **kind)
{
    static const char *const admin[] = {[LDG_TX_AUTHOR] = "author",
                                        [LDG_TX_CONTRACT] = "contract",
                                        [LDG_TX_BIND] = "bind",
                                        [LDG_TX_TRACKER] = "tracker"};
    if (type == LDG_TX_REVOKE) {
        *kind = "revoke";
        return "revoke_tx"; /* an author's or the admins': it withdraws a release */
    }
    if (type >= sizeof admin / sizeof *admin || !admin[type])
        return NULL;
    *kind = admin[type];
    return "admin_tx";
}

void node__audit_tx(server *s, const node_mempool_verdict *v)
{
    const char *kind, *event = tx_event(v->type, &kind);
    char id[2 * LDG_DIGEST_LEN + 1], sender[2 * LDG_DIGEST_LEN + 1];
    if (!event)
        return;
    node_hex(v->hash, LDG_DIGEST_LEN, id);
    node_hex(v->sender, LDG_DIGEST_LEN, sender);
    /* A refusal needs no key: anyone can send junk signatures, so it is coalesced. */
    node__audit(s, v->rc ? NODE_AUDIT_COALESCE : 0, event, id, v->rc ? "refused" : "accepted",
                "%s tx from key %s, %" PRIu32 " signature(s)%s%s%s%s", kind, sender, v->n_sigs,
                v->rc ? ": " : "", v->rc ? node_strerror(v->rc) : "",
                v->rc && *v->why ? ": " : "", v->rc ? v->why : "");
}

void node__audit_peer_auth(void *ctx, const char *peer, const char *ip, const char *why)
{
    server *s = ctx;
    node__audit(s, NODE_AUDIT_COALESCE, "p2p_auth_failed", peer ? peer : ip, "refused", "%s",
                why);
}
