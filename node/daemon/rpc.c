/*
 * The RPC component (rpc.h): connections, framing, coalesced output, backpressure.
 * Bounds: request frames (NODE_RPC_MAX_REQUEST), connections (max_clients), unsent output
 * per connection (reading pauses above NODE_RPC_OUT_HIGH).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "node/client/client.h"
#include "node/daemon/log.h"
#include "node/daemon/rpc.h"

struct node_rpc_conn {
    uv_tcp_t h;
    node_rpc *r;
    uint32_t slot, gen;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    size_t unsent;      /* bytes handed to uv_write and not yet written               */
    size_t pending;     /* node_rpc_conn_pending                                      */
    bool dirty;         /* out has bytes to flush                                     */
    bool reading;
    bool closing;
    bool close_after_flush;
    node_rpc_conn *next_dirty;
};

int node_rpc_init(node_rpc *r, const node_rpc_config *cfg)
{
    if (!r)
        return LDG_EINVALID;
    memset(r, 0, sizeof *r);
    if (!cfg || !cfg->loop || !cfg->on_request || cfg->max_clients == 0)
        return LDG_EINVALID;
    r->cfg = *cfg;
    r->conns = calloc(cfg->max_clients, sizeof *r->conns);
    r->gens = calloc(cfg->max_clients, sizeof *r->gens);
    if (!r->conns || !r->gens) {
        node_rpc_close(r);
        return LDG_ENOMEM;
    }
    return 0;
}

void node_rpc_close(node_rpc *r)
{
    if (!r)
        return;
    free(r->conns);
    free(r->gens);
    memset(r, 0, sizeof *r);
}

node_reply_to node_rpc_reply_to(const node_rpc_conn *c, uint64_t id)
{
    return (node_reply_to){c->slot, c->gen, id};
}

node_rpc_conn *node_rpc_conn_of(node_rpc *r, node_reply_to to)
{
    if (to.slot >= r->cfg.max_clients || r->gens[to.slot] != to.gen)
        return NULL;
    node_rpc_conn *c = r->conns[to.slot];
    return c && !c->closing ? c : NULL;
}

size_t *node_rpc_conn_pending(node_rpc_conn *c)
{
    return &c->pending;
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */

static void resume_read(node_rpc_conn *c);

fwl_Response *node_rpc_new_resp(node_rpc *r, uint64_t id, pb_size_t which)
{
    fwl_Response *resp = &r->resp;
    memset(resp, 0, sizeof *resp);
    resp->id = id;
    resp->which_resp = which;
    return resp;
}

/* c has output to write at the end of this loop iteration. */
static void mark_dirty(node_rpc_conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->r->dirty;
        c->r->dirty = c;
    }
}

uint8_t *node_rpc_frame_begin(node_rpc_conn *c, size_t size)
{
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size)) {
        node_rpc_close_conn(c);
        return NULL;
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    return p + 4;
}

void node_rpc_frame_end(node_rpc_conn *c, size_t size)
{
    c->out_len += 4 + size;
    mark_dirty(c);
}

void node_rpc_send_resp(node_rpc_conn *c, const fwl_Response *resp)
{
    size_t size;
    uint8_t *p;
    if (!pb_get_encoded_size(&size, fwl_Response_fields, resp)) {
        node_rpc_close_conn(c);
        return;
    }
    if (!(p = node_rpc_frame_begin(c, size)))
        return;
    pb_ostream_t os = pb_ostream_from_buffer(p, size);
    if (!pb_encode(&os, fwl_Response_fields, resp)) {
        node_rpc_close_conn(c);
        return;
    }
    node_rpc_frame_end(c, size);
}

void node_rpc_send_error(node_rpc_conn *c, uint64_t id, int code, const char *fmt, ...)
{
    fwl_Response *resp = node_rpc_new_resp(c->r, id, fwl_Response_error_tag);
    resp->resp.error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->resp.error.message, sizeof resp->resp.error.message, fmt, ap);
    va_end(ap);
    node_rpc_send_resp(c, resp);
}

typedef struct {
    uv_write_t req;
    node_rpc_conn *c;
    uint8_t *buf;
    size_t len;
} write_req;

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    node_rpc_conn *c = w->c;
    c->unsent -= w->len;
    free(w->buf);
    free(w);
    if (status < 0) {
        node_rpc_close_conn(c);
        return;
    }
    if (c->close_after_flush && c->unsent == 0)
        node_rpc_close_conn(c);
    else if (!c->reading && !c->closing && c->unsent < NODE_RPC_OUT_HIGH / 2)
        resume_read(c);
}

void node_rpc_flush(node_rpc *r)
{
    while (r->dirty) {
        node_rpc_conn *c = r->dirty;
        r->dirty = c->next_dirty;
        c->dirty = false;
        if (c->closing || !c->out_len)
            continue;
        write_req *w = malloc(sizeof *w);
        if (!w) {
            node_rpc_close_conn(c);
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
            node_rpc_close_conn(c);
            continue;
        }
        if (c->unsent > NODE_RPC_OUT_HIGH && c->reading) {
            uv_read_stop((uv_stream_t *)&c->h); /* backpressure: a client that does not read */
            c->reading = false;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Connections                                                                               */

static void on_conn_closed(uv_handle_t *h)
{
    node_rpc_conn *c = h->data;
    node_rpc *r = c->r;
    r->conns[c->slot] = NULL;
    r->gens[c->slot]++;
    r->n_conns--;
    free(c->in);
    free(c->out);
    free(c);
}

void node_rpc_close_conn(node_rpc_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    node_rpc_conn *c = h->data;
    if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void handle_frame(node_rpc_conn *c, const uint8_t *buf, size_t len)
{
    node_rpc *r = c->r;
    fwl_Request *req = &r->req;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Request_fields, req)) {
        const char *e = PB_GET_ERROR(&st);
        int code = ldg_decode_error(e);
        node_rpc_send_error(c, req->id, code, "%s request: %s",
                            code == LDG_ETOOBIG ? "oversized field in" : "malformed",
                            e ? e : "decode error");
        return;
    }
    r->cfg.on_request(r->cfg.ctx, c, req);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    node_rpc_conn *c = st->data;
    node_rpc *r = c->r;
    if (n < 0) {
        node_rpc_close_conn(c);
        return;
    }
    c->in_len += (size_t)n;
    size_t off = 0;
    while (!c->closing && !c->close_after_flush && c->in_len - off >= 4) {
        const uint8_t *p = c->in + off;
        size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (flen > NODE_RPC_MAX_REQUEST) {
            /* The stream cannot be resynchronised: answer, then hang up. */
            node_rpc_send_error(c, 0, NODE_EFRAME,
                                "request frame of %zu bytes exceeds the limit of %u", flen,
                                NODE_RPC_MAX_REQUEST);
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
    if (r->cfg.on_read_end)
        r->cfg.on_read_end(r->cfg.ctx);
    node_rpc_flush(r);
    if (c->close_after_flush && !c->closing && c->unsent == 0 && !c->dirty)
        node_rpc_close_conn(c);
}

static void resume_read(node_rpc_conn *c)
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
    node_rpc *r = l->data;
    if (status < 0)
        return;
    node_rpc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(r->cfg.loop, &c->h);
    c->h.data = c;
    c->r = r;
    if (uv_accept(l, (uv_stream_t *)&c->h)) {
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    uint32_t slot = 0;
    while (slot < r->cfg.max_clients && r->conns[slot])
        slot++;
    if (slot == r->cfg.max_clients) {
        node__log("refusing a client: %u clients connected (max_clients)", r->n_conns);
        uv_close((uv_handle_t *)&c->h, free_handle);
        return;
    }
    c->slot = slot;
    c->gen = r->gens[slot];
    r->conns[slot] = c;
    r->n_conns++;
    uv_tcp_nodelay(&c->h, 1);
    resume_read(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */

int node_rpc_start(node_rpc *r, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    int rc;
    uv_tcp_init(r->cfg.loop, &r->listener);
    r->listener.data = r;
    r->started = true;
    if (uv_ip4_addr(r->cfg.host, r->cfg.port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(r->cfg.host, r->cfg.port, (struct sockaddr_in6 *)&addr)) {
        snprintf(err, errlen, "rpc_listen: bad address %s", r->cfg.host);
        return NODE_ECONFIG;
    }
    if ((rc = uv_tcp_bind(&r->listener, (struct sockaddr *)&addr, 0)) ||
        (rc = uv_listen((uv_stream_t *)&r->listener, 511, on_connection))) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", r->cfg.host, r->cfg.port,
                 uv_strerror(rc));
        return NODE_ECONFIG;
    }
    return 0;
}

void node_rpc_stop(node_rpc *r)
{
    if (r->started && !uv_is_closing((uv_handle_t *)&r->listener))
        uv_close((uv_handle_t *)&r->listener, NULL);
    for (uint32_t i = 0; i < r->cfg.max_clients; i++)
        if (r->conns[i])
            node_rpc_close_conn(r->conns[i]);
}
