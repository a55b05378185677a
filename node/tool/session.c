/*
 * The tool's side of the RPC: where the node is (--node, --config), one request at a time
 * with exit-on-error, and the decoders for the callback fields of responses (release
 * records and block bytes), which the schema leaves to the caller so that a large response
 * is never sized from a declared count.
 */
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "node/tool/tool.h"

/* Cap on records in one ListReleases response: far above any page the node sends, it only
 * stops a hostile node from making the tool loop forever. */
#define TOOL_MAX_PAGE_RECORDS 100000u

static void config_addr(const char *path, char *host, size_t cap, int *port)
{
    node_config *cfg = tool_xcalloc(1, sizeof *cfg);
    char err[256] = "";
    int rc = node_config_load(path, cfg, err, sizeof err);
    if (rc)
        tool_die_rc(rc, path, err);
    /* A node listening on every address is reached on loopback. */
    const char *h = cfg->rpc_host;
    if (!*h || !strcmp(h, "0.0.0.0"))
        h = "127.0.0.1";
    else if (!strcmp(h, "::"))
        h = "::1";
    snprintf(host, cap, "%s", h);
    *port = cfg->rpc_port;
    free(cfg);
}

tool_session *tool_open(const tool_opts *o, uint32_t min_timeout_ms)
{
    char host[256] = TOOL_DEFAULT_HOST;
    int port = TOOL_DEFAULT_PORT;
    if (*o->host) {
        snprintf(host, sizeof host, "%s", o->host);
        port = o->port;
    } else if (o->config)
        config_addr(o->config, host, sizeof host, &port);
    tool_session *s = tool_xcalloc(1, sizeof *s);
    uint32_t t = o->timeout_ms > min_timeout_ms ? o->timeout_ms : min_timeout_ms;
    int rc = node_client_connect(&s->c, host, port, t);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "node at %s:%d", host, port);
        tool_die_rc(rc, what, NULL);
    }
    return s;
}

void tool_close(tool_session *s)
{
    if (!s)
        return;
    node_client_close(s->c);
    free(s);
}

fwl_Request *tool_req(tool_session *s, pb_size_t which)
{
    memset(&s->req, 0, sizeof s->req);
    memset(&s->resp, 0, sizeof s->resp);
    s->req.which_req = which;
    return &s->req;
}

fwl_Response *tool_call(tool_session *s, pb_size_t which, const char *what)
{
    char err[300] = "";
    int rc = node_call(s->c, &s->req, &s->resp, err, sizeof err);
    if (rc)
        tool_die_rc(rc, what, tool_clean(err));
    if (s->resp.which_resp != which)
        tool_die_rc(NODE_EPROTO, what, "unexpected response kind");
    return &s->resp;
}

void tool_status(tool_session *s, fwl_StatusResp *out)
{
    tool_req(s, fwl_Request_status_tag);
    *out = tool_call(s, fwl_Response_status_tag, "Status")->resp.status;
}

/* --- ListReleasesResp.records ------------------------------------------------------------- */

static bool decode_record(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)field;
    tool_records *ctx = *arg;
    if (ctx->count >= TOOL_MAX_PAGE_RECORDS) {
        ctx->err = LDG_ETOOBIG;
        return false;
    }
    if (!pb_decode(st, fwl_ReleaseRecord_fields, &ctx->rec)) {
        ctx->err = NODE_EPROTO;
        return false;
    }
    ctx->count++;
    int rc = ctx->fn(ctx->arg, &ctx->rec);
    if (rc)
        ctx->err = rc;
    return rc == 0;
}

/* Called by nanopb before it decodes the Response's oneof member (submsg_callback): the
 * member has just been zeroed, so this is where its own callbacks are set. */
static bool on_list_releases(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)st;
    if (field->tag == fwl_Response_list_releases_tag) {
        fwl_ListReleasesResp *r = field->pData;
        r->records.funcs.decode = decode_record;
        r->records.arg = *arg;
    }
    return true;
}

void tool_decode_records(fwl_Response *resp, tool_records *ctx)
{
    ctx->count = 0;
    ctx->err = 0;
    resp->cb_resp.funcs.decode = on_list_releases;
    resp->cb_resp.arg = ctx;
}

/* --- GetBlockResp.block ------------------------------------------------------------------- */

static bool decode_blob(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)field;
    tool_blob *b = *arg;
    size_t n = st->bytes_left;
    if (n > NODE_RPC_MAX_RESPONSE)
        return false;
    free(b->buf);
    b->len = 0;
    if (!(b->buf = malloc(n ? n : 1)))
        return false;
    if (!pb_read(st, b->buf, n))
        return false;
    b->len = n;
    return true;
}

static bool on_get_block(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)st;
    if (field->tag == fwl_Response_get_block_tag) {
        fwl_GetBlockResp *r = field->pData;
        r->block.funcs.decode = decode_blob;
        r->block.arg = *arg;
    }
    return true;
}

void tool_decode_block(fwl_Response *resp, tool_blob *blob)
{
    blob->buf = NULL;
    blob->len = 0;
    resp->cb_resp.funcs.decode = on_get_block;
    resp->cb_resp.arg = blob;
}
