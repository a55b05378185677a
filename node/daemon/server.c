/*
 * fwledgerd's server: one libuv loop for RPC and block production. This file holds the
 * connections, framing, coalesced output, request dispatch, start and stop; the write path
 * is in writes.c, the read handlers in reads.c (shared state: server_internal.h).
 *
 * Bounds: request frames (NODE_RPC_MAX_REQUEST), clients (max_clients), mempool
 * (mempool_max), per-client unsent output (reading pauses above OUT_HIGH), waiters per tx.
 */
#include "node/daemon/server_internal.h"

uint64_t node__now_ms(server *s)
{
    (void)s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void node__log(const char *fmt, ...)
{
    va_list ap;
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(stderr, "%s fwledgerd: ", ts);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */

client *node__client_of(server *s, reply_to to)
{
    if (to.slot >= s->cfg.max_clients || s->gens[to.slot] != to.gen)
        return NULL;
    client *c = s->clients[to.slot];
    return c && !c->closing ? c : NULL;
}


static void resume_read(client *c);

/* The server's scratch Response, zeroed, with id and type set. */
fwl_Response *node__new_resp(server *s, uint64_t id, pb_size_t which)
{
    fwl_Response *r = &s->resp;
    memset(r, 0, sizeof *r);
    r->id = id;
    r->which_resp = which;
    return r;
}

/* c has output to write at the end of this loop iteration. */
static void mark_dirty(client *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->s->dirty;
        c->s->dirty = c;
    }
}

/* Room for a frame of size bytes at the end of c's output, with its length prefix written;
 * the caller fills the returned payload and then calls node__frame_end. NULL: out of memory (the
 * client is closed). */
uint8_t *node__frame_begin(client *c, size_t size)
{
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size)) {
        node__close_client(c);
        return NULL;
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    return p + 4;
}

void node__frame_end(client *c, size_t size)
{
    c->out_len += 4 + size;
    mark_dirty(c);
}

/* Append an encoded Response frame to c's output. */
void node__send_resp(client *c, const fwl_Response *r)
{
    size_t size;
    uint8_t *p;
    if (!pb_get_encoded_size(&size, fwl_Response_fields, r)) {
        node__close_client(c);
        return;
    }
    if (!(p = node__frame_begin(c, size)))
        return;
    pb_ostream_t os = pb_ostream_from_buffer(p, size);
    if (!pb_encode(&os, fwl_Response_fields, r)) {
        node__close_client(c);
        return;
    }
    node__frame_end(c, size);
}

void node__send_error(client *c, uint64_t id, int code, const char *fmt, ...)
{
    fwl_Response *r = node__new_resp(c->s, id, fwl_Response_error_tag);
    r->resp.error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->resp.error.message, sizeof r->resp.error.message, fmt, ap);
    va_end(ap);
    node__send_resp(c, r);
}

typedef struct {
    uv_write_t req;
    client *c;
    uint8_t *buf;
    size_t len;
} write_req;

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    client *c = w->c;
    c->unsent -= w->len;
    free(w->buf);
    free(w);
    if (status < 0) {
        node__close_client(c);
        return;
    }
    if (c->close_after_flush && c->unsent == 0)
        node__close_client(c);
    else if (!c->reading && !c->closing && c->unsent < OUT_HIGH / 2)
        resume_read(c);
}

void node__flush_dirty(server *s)
{
    while (s->dirty) {
        client *c = s->dirty;
        s->dirty = c->next_dirty;
        c->dirty = false;
        if (c->closing || !c->out_len)
            continue;
        write_req *w = malloc(sizeof *w);
        if (!w) {
            node__close_client(c);
            continue;
        }
        w->c = c;
        w->buf = c->out;
        w->len = c->out_len;
        c->out = NULL;
        c->out_len = c->out_cap = 0;
        uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)w->len);
        c->unsent += w->len;
        if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_write)) {
            c->unsent -= w->len;
            free(w->buf);
            free(w);
            node__close_client(c);
            continue;
        }
        if (c->unsent > OUT_HIGH && c->reading) {
            uv_read_stop((uv_stream_t *)&c->h); /* backpressure: a client that does not read */
            c->reading = false;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Clients                                                                                   */

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    server *s = c->s;
    s->clients[c->slot] = NULL;
    s->gens[c->slot]++;
    s->n_clients--;
    free(c->in);
    free(c->out);
    free(c);
}

void node__close_client(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->h, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    client *c = h->data;
    if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void handle_frame(client *c, const uint8_t *buf, size_t len);

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    client *c = st->data;
    server *s = c->s;
    if (n < 0) {
        node__close_client(c);
        return;
    }
    c->in_len += (size_t)n;
    size_t off = 0;
    while (!c->closing && !c->close_after_flush && c->in_len - off >= 4) {
        const uint8_t *p = c->in + off;
        size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (flen > NODE_RPC_MAX_REQUEST) {
            /* The stream cannot be resynchronised: answer, then hang up. */
            node__send_error(c, 0, NODE_EFRAME, "request frame of %zu bytes exceeds the limit of %u",
                       flen, NODE_RPC_MAX_REQUEST);
            c->close_after_flush = true;
            break;
        }
        if (c->in_len - off < 4 + flen)
            break;
        handle_frame(c, p + 4, flen);
        off += 4 + flen;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    node__dispatch_batch(s);
    node__eligible_dispatch(s);
    node__flush_dirty(s);
    if (c->close_after_flush && !c->closing && c->unsent == 0 && !c->dirty)
        node__close_client(c);
}

static void resume_read(client *c)
{
    if (!uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read))
        c->reading = true;
}

static void free_handle(uv_handle_t *h)
{
    free(h->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(&s->loop, &c->h);
    c->h.data = c;
    c->s = s;
    if (uv_accept(l, (uv_stream_t *)&c->h)) {
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    uint32_t slot = 0;
    while (slot < s->cfg.max_clients && s->clients[slot])
        slot++;
    if (slot == s->cfg.max_clients) {
        node__log("refusing a client: %u clients connected (max_clients)", s->n_clients);
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    c->slot = slot;
    c->gen = s->gens[slot];
    s->clients[slot] = c;
    s->n_clients++;
    uv_tcp_nodelay(&c->h, 1);
    resume_read(c);
}

static void handle_frame(client *c, const uint8_t *buf, size_t len)
{
    server *s = c->s;
    fwl_Request *req = &s->req;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Request_fields, req)) {
        const char *e = PB_GET_ERROR(&st);
        int code = ldg_decode_error(e);
        node__send_error(c, req->id, code, "%s request: %s",
                   code == LDG_ETOOBIG ? "oversized field in" : "malformed", e ? e : "decode error");
        return;
    }
    switch (req->which_req) {
    case fwl_Request_submit_tx_tag: node__handle_submit(c, req->id, &req->req.submit_tx); break;
    case fwl_Request_wait_for_tx_tag: node__handle_wait(c, req->id, &req->req.wait_for_tx); break;
    case fwl_Request_get_block_tag: node__handle_get_block(c, req->id, &req->req.get_block); break;
    case fwl_Request_get_release_tag: node__handle_get_release(c, req->id, &req->req.get_release); break;
    case fwl_Request_list_releases_tag: node__handle_list(c, req->id, &req->req.list_releases); break;
    case fwl_Request_status_tag: node__handle_status(c, req->id); break;
    case fwl_Request_nonce_tag: node__handle_nonce(c, req->id, &req->req.nonce); break;
    case fwl_Request_eligible_tag: node__handle_eligible(c, req->id, &req->req.eligible); break;
    case fwl_Request_get_contract_tag:
        node__handle_get_contract(c, req->id, &req->req.get_contract);
        break;
    default: node__send_error(c, req->id, LDG_EINVALID, "unknown or missing request type");
    }
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
    node__eligible_stop(s);
    node__p2p_stop(s);
    close_handle((uv_handle_t *)&s->listener);
    close_handle((uv_handle_t *)&s->sweep_timer);
    close_handle((uv_handle_t *)&s->ch.timer);
    close_handle((uv_handle_t *)&s->ch.build_timer);
    close_handle((uv_handle_t *)&s->sigint);
    close_handle((uv_handle_t *)&s->sigterm);
    for (uint32_t i = 0; i < s->cfg.max_clients; i++)
        if (s->clients[i])
            node__close_client(s->clients[i]);
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

int node_run(const node_config *cfg, char *err, size_t errlen)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    s->cfg = *cfg;
    int rc = node_genesis_load(cfg->genesis, &s->g, err, errlen);
    if (!rc)
        rc = load_validator_key(s, err, errlen);
    if (!rc && (rc = ldg_store_open(&s->store, cfg->data_dir, &s->g,
                                    (size_t)cfg->map_size_mib << 20)))
        snprintf(err, errlen, "data directory %s: %s", cfg->data_dir, node_strerror(rc));
    if (!rc) /* deploys are checked with the contract compiler, on every node alike */
        ldg_store_set_contract_check(s->store, node__contract_check, NULL);
    if (!rc && (rc = ldg_store_reader(s->store, &s->elg_store))) { /* eligibility's */
        snprintf(err, errlen, "out of memory");
        ldg_store_close(s->store);
    }
    if (rc) {
        OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
        free(s);
        return rc;
    }
    s->clients = calloc(cfg->max_clients, sizeof *s->clients);
    s->gens = calloc(cfg->max_clients, sizeof *s->gens);
    s->rej = calloc(REJECTED_MAX, sizeof *s->rej);
    if (!s->clients || !s->gens || !s->rej || hmap_init(&s->pending, 1024) ||
        hmap_init(&s->by_raw, 1024) || hmap_init(&s->waiting, 64) || hmap_init(&s->nonces, 64) ||
        hmap_init(&s->programs, 16) || hmap_init(&s->models, 64) ||
        hmap_init(&s->rejected_idx, REJECTED_MAX)) {
        snprintf(err, errlen, "out of memory");
        rc = LDG_ENOMEM;
        goto out;
    }

    uv_loop_init(&s->loop);
    uv_tcp_init(&s->loop, &s->listener);
    struct sockaddr_storage addr;
    if (uv_ip4_addr(cfg->rpc_host, cfg->rpc_port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(cfg->rpc_host, cfg->rpc_port, (struct sockaddr_in6 *)&addr)) {
        snprintf(err, errlen, "rpc_listen: bad address %s", cfg->rpc_host);
        rc = NODE_ECONFIG;
    } else if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) ||
               (rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection))) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->rpc_host, cfg->rpc_port,
                 uv_strerror(rc));
        rc = NODE_ECONFIG;
    }
    if (!rc && (rc = node__eligible_start(s)))
        snprintf(err, errlen, "cannot start the eligibility worker: %s", node_strerror(rc));
    if (!rc)
        rc = node__chain_init(s, err, errlen);
    if (!rc)
        rc = node__p2p_start(s, err, errlen);
    if (rc) {
        node__eligible_stop(s);
        node__p2p_stop(s);
        close_handle((uv_handle_t *)&s->listener);
        if (s->ch.timer.loop) {
            close_handle((uv_handle_t *)&s->ch.timer);
            close_handle((uv_handle_t *)&s->ch.build_timer);
        }
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        goto out;
    }
    s->listener.data = s;
    uv_timer_init(&s->loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, node__on_sweep, 100, 100);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    ldg_tip t;
    ldg_store_tip(s->store, &t);
    node__log("chain %s at height %" PRIu64 ", %s, listening on %s:%d", s->g.chain_id, t.height,
              s->ch.self >= 0 ? "validator" : "replica", cfg->rpc_host, cfg->rpc_port);
    node__send_status(s, -1);

    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* All handles are closed; queued work has completed (after_verify ran). */
    uv_loop_close(&s->loop);
    ldg_store_tip(s->store, &t);
    node__log("stopped at height %" PRIu64, t.height);
    rc = 0;
out:
    node__write_state_free(s);
    node__sync_free(s);
    node__stall_free(s);
    node__chain_free(s);
    node__contracts_free(s);
    p2p_seen_free(s->ch.seen_tx);
    hmap_free(&s->pending);
    hmap_free(&s->by_raw);
    hmap_free(&s->waiting);
    hmap_free(&s->nonces);
    hmap_free(&s->rejected_idx);
    free(s->clients);
    free(s->gens);
    free(s->rej);
    ldg_store_close(s->store);
    OPENSSL_cleanse(&s->vkey, sizeof s->vkey);
    OPENSSL_cleanse(&s->ikey, sizeof s->ikey);
    free(s);
    return rc;
}
