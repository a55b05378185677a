/*
 * fwledgerd's composition root: one libuv loop for RPC and block production. This file
 * creates the components (rpc.h, mempool.h, chain.h, elg_worker.h) and wires them to each
 * other: requests to their handlers (writes.c, reads.c, the eligibility component), events
 * to their receivers (the audit log's: audit_events.c), the periodic sweep, start and stop
 * (shared state: server_internal.h).
 */
#include "node/daemon/server_internal.h"

uint64_t node__now_ms(server *s)
{
    (void)s;
    return node__wall_ms();
}

void node__security(server *s, const char *event, const char *subject, const char *detail)
{
    node__log("security: %s from %s: %s", event, subject, detail);
    node__audit(s, NODE_AUDIT_COALESCE, event, subject, "refused", "%s", detail);
}

static void on_security(void *ctx, const char *event, const char *subject, const char *detail)
{
    node__security(ctx, event, subject, detail);
}

/* ---------------------------------------------------------------------------------------- */
/* Requests: the rpc component's events                                                      */

static void on_request(void *ctx, client *c, const fwl_Request *req)
{
    server *s = ctx;
    if (!node__access_allowed(s, c, req))
        return;
    switch (req->which_req) {
    case fwl_Request_submit_tx_tag: node__handle_submit(s, c, req->id, &req->req.submit_tx); break;
    case fwl_Request_wait_for_tx_tag: node__handle_wait(s, c, req->id, &req->req.wait_for_tx); break;
    case fwl_Request_get_block_tag: node__handle_get_block(s, c, req->id, &req->req.get_block); break;
    case fwl_Request_get_release_tag:
        node__handle_get_release(s, c, req->id, &req->req.get_release);
        break;
    case fwl_Request_list_releases_tag:
        node__handle_list(s, c, req->id, &req->req.list_releases);
        break;
    case fwl_Request_status_tag: node__handle_status(s, c, req->id); break;
    case fwl_Request_nonce_tag: node__handle_nonce(s, c, req->id, &req->req.nonce); break;
    case fwl_Request_eligible_tag: node_elg_request(&s->elg, c, req->id, &req->req.eligible); break;
    case fwl_Request_get_contract_tag:
        node__handle_get_contract(s, c, req->id, &req->req.get_contract);
        break;
    case fwl_Request_get_log_proof_tag:
        node__handle_get_log_proof(s, c, req->id, &req->req.get_log_proof);
        break;
    default: node_rpc_send_error(c, req->id, LDG_EINVALID, "unknown or missing request type");
    }
}

/* The chain may have made answers (a commit settles waiters): write them. */
static void on_chain_flush(void *ctx)
{
    server *s = ctx;
    node_rpc_flush(&s->rpc);
}

/* The requests of one read are in: hand the batched work on. */
static void on_read_end(void *ctx)
{
    server *s = ctx;
    node_mempool_flush(&s->mp);
    node_elg_dispatch(&s->elg);
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Stop: the listener, timers and signals close, every client is closed, p2p stops; the loop
 * then ends once every handle has closed and queued thread-pool work has come back. */
static void on_signal(uv_signal_t *sig, int signum)
{
    server *s = sig->data;
    if (s->stopping)
        return;
    node__log("signal %d: stopping", signum);
    s->stopping = true;
    s->stop_signal = signum;
    node_mempool_stop(&s->mp);
    node_elg_stop(&s->elg);
    node_chain_stop(&s->ch);
    node_rpc_stop(&s->rpc);
    close_handle((uv_handle_t *)&s->sweep_timer);
    close_handle((uv_handle_t *)&s->sigint);
    close_handle((uv_handle_t *)&s->sigterm);
}

/* The validator key, if this node has one (none: a non-voting replica). */
static int load_validator_key(server *s, char *err, size_t errlen)
{
    const node_config *cfg = &s->cfg;
    if (!cfg->validator_key[0])
        return 0;
    int rc = node_key_load(cfg->validator_key, &s->vkey, err, errlen);
    if (rc)
        return rc;
    s->has_vkey = ldg_validator_index(&s->g, s->vkey.pub.alg, s->vkey.pub.key, s->vkey.pub.len) >= 0;
    if (!s->has_vkey) {
        snprintf(err, errlen, "validator key %s is not a validator in %s", cfg->validator_key,
                 cfg->genesis);
        return NODE_ECONFIG;
    }
    return 0;
}

/* Every 100 ms: the components' timed work. */
static void on_sweep(uv_timer_t *t)
{
    server *s = t->data;
    node_chain_tick(&s->ch);
    node_mempool_expire(&s->mp, node__now_ms(s));
    node_quota_sweep(&s->quota, node__now_ms(s));
    /* After a burst, hand the freed mempool and batch memory back to the system once the
     * node is idle (glibc keeps it otherwise, fragmented across arenas). */
    uint64_t committed = node_chain_committed_txs(&s->ch);
    if (committed != s->trimmed_at && node_mempool_count(&s->mp) == 0 &&
        node_mempool_verifying(&s->mp) == 0) {
        s->trimmed_at = committed;
        malloc_trim(0);
    }
    node__audit_tick(s);
    node_rpc_flush(&s->rpc);
}

/* The node's files: genesis, validator key, store (locking the data directory), audit log.
 * On error nothing is left open. */
static int open_files(server *s, const node_config_origin *origin, char *err, size_t errlen)
{
    const node_config *cfg = &s->cfg;
    int rc = node_genesis_load(cfg->genesis, &s->g, err, errlen);
    if (!rc)
        rc = load_validator_key(s, err, errlen);
    if (!rc && (rc = ldg_store_open(&s->store, cfg->data_dir, &s->g,
                                    (size_t)cfg->map_size_mib << 20)))
        snprintf(err, errlen, "data directory %s: %s", cfg->data_dir, node_strerror(rc));
    if (!rc) /* deploys are checked with the contract compiler, on every node alike */
        ldg_store_set_contract_check(s->store, node_elg_contract_check, NULL);
    if (!rc && (rc = node__audit_open(s, origin, err, errlen))) {
        ldg_store_close(s->store);
        s->store = NULL;
    }
    if (rc)
        OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
    return rc;
}

/* The components, started on the loop; on error they are stopped and the loop run out. */
static int start_components(server *s, char *err, size_t errlen)
{
    const node_config *cfg = &s->cfg;
    int rc = node_rpc_start(&s->rpc, err, errlen);
    if (!rc && (rc = node_elg_start(&s->elg)))
        snprintf(err, errlen, "cannot start the eligibility worker: %s", node_strerror(rc));
    node_chain_config ccfg = {.loop = &s->loop, .node = cfg, .g = &s->g, .store = s->store,
                              .vkey = s->has_vkey ? &s->vkey : NULL, .mp = &s->mp,
                              .flush = on_chain_flush,
                              .peer_auth_failed = node__audit_peer_auth, .ctx = s};
    if (!rc)
        rc = node_chain_init(&s->ch, &ccfg, err, errlen);
    if (!rc)
        rc = node_chain_start(&s->ch, err, errlen);
    if (rc) {
        node_elg_stop(&s->elg);
        node_chain_stop(&s->ch);
        node_rpc_stop(&s->rpc);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
    }
    return rc;
}

int node_run(const node_config *cfg, const node_config_origin *origin, char *err,
             size_t errlen)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    s->cfg = *cfg;
    int rc = open_files(s, origin, err, errlen);
    if (rc) {
        free(s);
        return rc;
    }
    if ((rc = node__access_init(s, err, errlen)))
        goto out;
    node_rpc_config rcfg = {.loop = &s->loop, .host = cfg->rpc_host, .port = cfg->rpc_port,
                            .tls = s->tls, .on_security = on_security,
                            .max_clients = cfg->max_clients,
                            .max_per_ip = cfg->rpc_max_clients_per_ip,
                            .idle_timeout_ms = cfg->rpc_idle_timeout_ms,
                            .request_timeout_ms = cfg->rpc_request_timeout_ms,
                            .on_request = on_request,
                            .on_read_end = on_read_end, .ctx = s};
    node_elg_config ecfg = {.loop = &s->loop, .store = s->store, .rpc = &s->rpc,
                            .cache = cfg->eligibility_cache};
    if (node_rpc_init(&s->rpc, &rcfg) || node__writes_init(s) || node_elg_init(&s->elg, &ecfg)) {
        snprintf(err, errlen, "out of memory");
        rc = LDG_ENOMEM;
        goto out;
    }

    uv_loop_init(&s->loop);
    if ((rc = start_components(s, err, errlen)))
        goto out;
    uv_timer_init(&s->loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, on_sweep, 100, 100);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    ldg_tip t;
    ldg_store_tip(s->store, &t);
    node__log("chain %s at height %" PRIu64 ", %s, listening on %s:%d", s->g.chain_id, t.height,
              node_chain_self(&s->ch) >= 0 ? "validator" : "replica", cfg->rpc_host,
              cfg->rpc_port);
    node__audit_start(s);

    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* All handles are closed; queued work has completed (after_verify ran). */
    uv_loop_close(&s->loop);
    ldg_store_tip(s->store, &t);
    node__log("stopped at height %" PRIu64, t.height);
    rc = 0;
out:
    node__audit_end(s, rc ? err : NULL);
    node_mempool_close(&s->mp);
    node_rpc_close(&s->rpc);
    node_chain_close(&s->ch);
    node_elg_close(&s->elg);
    node__access_close(s);
    ldg_store_close(s->store);
    OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
    free(s);
    return rc;
}
