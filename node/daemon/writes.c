/*
 * The write RPCs on the daemon's side: SubmitTx and WaitForTx hand their work to the mempool
 * component (mempool.h), and its events come back here to be answered on the client's
 * connection (submitted, settled) or gossiped to the peers (admitted).
 */
#include <openssl/sha.h>

#include "node/daemon/server_internal.h"

#define WAIT_DEFAULT_MS 30000
#define WAIT_MAX_MS 600000
#define WAITS_PER_CLIENT 4096 /* WaitForTx requests of one connection waiting at once */

static void send_wait_ok(server *s, client *c, uint64_t id, const uint8_t hash[LDG_DIGEST_LEN])
{
    fwl_Response *r = node_rpc_new_resp(&s->rpc, id, fwl_Response_wait_for_tx_tag);
    fwl_WaitForTxResp *w = &r->resp.wait_for_tx;
    int rc = ldg_store_tx_location(s->store, hash, &w->height, &w->index, w->block_hash.bytes);
    if (rc) {
        node_rpc_send_error(c, id, rc, "tx lookup failed: %s", node_strerror(rc));
        return;
    }
    w->block_hash.size = LDG_DIGEST_LEN;
    memcpy(w->tx_hash.bytes, hash, LDG_DIGEST_LEN);
    w->tx_hash.size = LDG_DIGEST_LEN;
    node_rpc_send_resp(c, r);
}

/* --- the mempool's events ---------------------------------------------------------------- */

static void on_submitted(void *ctx, node_reply_to to, const node_mempool_verdict *v)
{
    server *s = ctx;
    if (to.slot != NODE_NO_CLIENT) /* a peer's tx is audited where it was submitted */
        node__audit_tx(s, v);
    client *c = node_rpc_conn_of(&s->rpc, to);
    if (!c) /* a peer's tx, or the client left */
        return;
    if (v->rc) {
        node_rpc_send_error(c, to.id, v->rc, "tx refused: %s%s%s", node_strerror(v->rc),
                            *v->why ? ": " : "", v->why);
        return;
    }
    fwl_Response *r = node_rpc_new_resp(&s->rpc, to.id, fwl_Response_submit_tx_tag);
    memcpy(r->resp.submit_tx.tx_hash.bytes, v->hash, LDG_DIGEST_LEN);
    r->resp.submit_tx.tx_hash.size = LDG_DIGEST_LEN;
    node_rpc_send_resp(c, r);
}

static void on_admitted(void *ctx, const uint8_t *raw, size_t len,
                        const uint8_t raw_hash[LDG_DIGEST_LEN])
{
    server *s = ctx;
    node_chain_tx_admitted(&s->ch, raw, len, raw_hash);
}

static void on_settled(void *ctx, node_reply_to to, const uint8_t hash[LDG_DIGEST_LEN], int code)
{
    server *s = ctx;
    client *c = node_rpc_conn_of(&s->rpc, to);
    if (!c)
        return;
    --*node_rpc_conn_waits(c);
    if (code == NODE_ETIMEOUT)
        node_rpc_send_error(c, to.id, code, "not committed before the timeout");
    else if (code)
        node_rpc_send_error(c, to.id, code, "tx rejected when the block was built: %s",
                         node_strerror(code));
    else
        send_wait_ok(s, c, to.id, hash);
}

static void on_verified(void *ctx)
{
    server *s = ctx;
    if (!s->stopping)
        node_chain_kick(&s->ch);
    node_rpc_flush(&s->rpc);
}

int node__writes_init(server *s)
{
    node_mempool_config cfg = {.max = s->cfg.mempool_max, .g = &s->g, .store = s->store,
                               .loop = &s->loop};
    node_mempool_events ev = {.submitted = on_submitted, .admitted = on_admitted,
                              .settled = on_settled, .verified = on_verified, .ctx = s};
    return node_mempool_init(&s->mp, &cfg, &ev);
}

/* --- the RPCs ------------------------------------------------------------------------------ */

void node__handle_submit(server *s, client *c, uint64_t id, const fwl_SubmitTxReq *r)
{
    if (r->tx.size == 0) {
        node_rpc_send_error(c, id, LDG_EINVALID, "tx is required (an encoded, signed Tx)");
        return;
    }
    int rc = node_mempool_submit(&s->mp, node_rpc_reply_to(c, id), r->tx.bytes,
                                 r->tx.size);
    if (rc == NODE_EMEMPOOL)
        node_rpc_send_error(c, id, rc, "mempool full (%u transactions): retry later",
                         s->cfg.mempool_max);
    else if (rc)
        node_rpc_send_error(c, id, rc, "%s", node_strerror(rc));
}

void node__handle_wait(server *s, client *c, uint64_t id, const fwl_WaitForTxReq *r)
{
    uint64_t h;
    uint32_t idx;
    uint8_t bh[LDG_DIGEST_LEN];
    int code;
    if (r->tx_hash.size != LDG_DIGEST_LEN) {
        node_rpc_send_error(c, id, LDG_EINVALID, "tx_hash must be %d bytes", LDG_DIGEST_LEN);
        return;
    }
    if (ldg_store_tx_location(s->store, r->tx_hash.bytes, &h, &idx, bh) == 0) {
        send_wait_ok(s, c, id, r->tx_hash.bytes);
        return;
    }
    if (node_mempool_rejected(&s->mp, r->tx_hash.bytes, &code)) {
        node_rpc_send_error(c, id, code, "tx rejected when the block was built: %s",
                         node_strerror(code));
        return;
    }
    if (*node_rpc_conn_waits(c) >= WAITS_PER_CLIENT) {
        node_rpc_send_error(c, id, NODE_EBUSY, "%d WaitForTx requests of this connection are "
                            "waiting already; wait for their answers", WAITS_PER_CLIENT);
        return;
    }
    uint32_t tmo = r->timeout_ms ? r->timeout_ms : WAIT_DEFAULT_MS;
    uint64_t deadline = node__now_ms(s) + (tmo > WAIT_MAX_MS ? WAIT_MAX_MS : tmo);
    int rc = node_mempool_wait(&s->mp, node_rpc_reply_to(c, id), r->tx_hash.bytes, deadline);
    if (rc == NODE_EBUSY)
        node_rpc_send_error(c, id, rc, "%d WaitForTx requests are waiting on this node; ask "
                            "again later", NODE_MP_WAITERS_MAX);
    else if (rc)
        node_rpc_send_error(c, id, rc, "%s", node_strerror(rc));
    else
        ++*node_rpc_conn_waits(c);
}
