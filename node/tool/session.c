/*
 * The tool's side of the RPC: where the node is (--node, --config), one request at a time
 * with exit-on-error, and the decoders for the callback fields of responses (release
 * records and block bytes), which the schema leaves to the caller so that a large response
 * is never sized from a declared count.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <pb_decode.h>

#include "node/tool/tool.h"

/* Cap on records in one ListReleases response: far above any page the node sends, it only
 * stops a hostile node from making the tool loop forever. */
#define TOOL_MAX_PAGE_RECORDS 100000u

/* What the tool knows of the node it is to talk to: address, and how to check it. */
typedef struct {
    char host[256];
    int port;
    ldg_pubkey pins[LDG_MAX_VALIDATORS + 64];
    size_t n_pins;
    node_key client;
    node_tls tls;
} target;

static void pin(target *t, const ldg_pubkey *k)
{
    if (t->n_pins < sizeof t->pins / sizeof *t->pins)
        t->pins[t->n_pins++] = *k;
}

/* --config: the node's address (a node listening on every address is reached on
 * loopback), and trust in its identity key (or plaintext, when it allows only that). */
static void from_config(const char *path, target *t, bool address)
{
    node_config *cfg = tool_xcalloc(1, sizeof *cfg);
    char err[256] = "";
    int rc = node_config_load(path, cfg, err, sizeof err);
    if (rc)
        tool_die_rc(rc, path, err);
    if (address) {
        const char *h = cfg->rpc_host;
        if (!*h || !strcmp(h, "0.0.0.0"))
            h = "127.0.0.1";
        else if (!strcmp(h, "::"))
            h = "::1";
        snprintf(t->host, sizeof t->host, "%s", h);
        t->port = cfg->rpc_port;
    }
    if (cfg->identity_key[0] && !cfg->rpc_tls_cert[0]) {
        node_key *k = tool_xcalloc(1, sizeof *k);
        if ((rc = node_key_load(cfg->identity_key, k, err, sizeof err)))
            tool_die_rc(rc, cfg->identity_key, err);
        pin(t, &k->pub);
        OPENSSL_cleanse(k, sizeof *k);
        free(k);
    }
    t->tls.plaintext |= cfg->rpc_plaintext;
    free(cfg);
}

/* --node-key ALG:HEX[,ALG:HEX...] (what names them: opt) */
static void from_key_arg(const char *opt, const char *arg, target *t)
{
    size_t room = sizeof t->pins / sizeof *t->pins - t->n_pins, n = 0;
    int rc = node_pubkey_list_parse(arg, t->pins + t->n_pins, room, &n);
    if (rc == LDG_ETOOBIG)
        tool_usage_error("%s: at most %zu keys", opt, room);
    if (rc)
        tool_usage_error("%s: expected ALG:HEX[,ALG:HEX...] (e.g. ed25519:<64 hex digits>): %s",
                         opt, node_strerror(rc));
    t->n_pins += n;
}

static void from_genesis(const char *path, target *t)
{
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);
    char err[256] = "";
    int rc = node_genesis_load(path, g, err, sizeof err);
    if (rc)
        tool_die_rc(rc, path, err);
    for (size_t i = 0; i < g->n_validators; i++)
        if (g->validator_ids[i].len)
            pin(t, &g->validator_ids[i]);
    free(g);
}

/* Where the node is and how to check it, from the options (tool.h's usage text). */
static void resolve_target(const tool_opts *o, target *t)
{
    snprintf(t->host, sizeof t->host, "%s", TOOL_DEFAULT_HOST);
    t->port = TOOL_DEFAULT_PORT;
    if (*o->host) {
        snprintf(t->host, sizeof t->host, "%s", o->host);
        t->port = o->port;
    }
    if (o->config)
        from_config(o->config, t, !*o->host);
    const char *env_keys = getenv("FWLEDGER_NODE_KEY"), *env_gen = getenv("FWLEDGER_GENESIS");
    if (o->node_key)
        from_key_arg("--node-key", o->node_key, t);
    else if (env_keys && *env_keys)
        from_key_arg("FWLEDGER_NODE_KEY", env_keys, t);
    if (o->genesis)
        from_genesis(o->genesis, t);
    else if (env_gen && *env_gen)
        from_genesis(env_gen, t);
    t->tls.plaintext |= o->plaintext;
    t->tls.ca_file = o->ca;
    t->tls.pins = t->pins;
    t->tls.n_pins = t->n_pins;
    if (o->client_key) {
        char err[256] = "";
        int rc = node_key_load(o->client_key, &t->client, err, sizeof err);
        if (rc)
            tool_die_rc(rc, o->client_key, err);
        t->tls.key_alg = t->client.alg;
        t->tls.key_sec = t->client.sec;
        t->tls.key_pub = &t->client.pub;
    }
}

tool_session *tool_open(const tool_opts *o, uint32_t min_timeout_ms)
{
    target *t = tool_xcalloc(1, sizeof *t);
    resolve_target(o, t);
    tool_session *s = tool_xcalloc(1, sizeof *s);
    uint32_t tmo = o->timeout_ms > min_timeout_ms ? o->timeout_ms : min_timeout_ms;
    char err[300] = "";
    int rc = node_client_connect(&s->c, t->host, t->port, tmo, &t->tls, err, sizeof err);
    OPENSSL_cleanse(&t->client, sizeof t->client);
    bool no_trust = !t->n_pins && !t->tls.ca_file && !t->tls.plaintext;
    char what[300];
    snprintf(what, sizeof what, "node at %s:%d", t->host, t->port);
    free(t);
    if (rc) {
        free(s);
        if (rc == LDG_EINVALID && no_trust)
            tool_usage_error("cannot check the %s: give --genesis FILE, --node-key (or set "
                             "FWLEDGER_GENESIS, FWLEDGER_NODE_KEY), --config, --ca or "
                             "--plaintext", what);
        tool_die_rc(rc, what, err);
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

void tool_call_raw(tool_session *s, const char *what, const uint8_t **buf, size_t *len)
{
    int rc = node_client_send(s->c, &s->req);
    if (!rc)
        rc = node_client_recv_raw(s->c, buf, len);
    if (rc)
        tool_die_rc(rc, what, "");
}

fwl_Response *tool_decode_raw(tool_session *s, const uint8_t *buf, size_t len, pb_size_t which,
                              const char *what)
{
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Response_fields, &s->resp) || s->resp.which_resp != which)
        tool_die_rc(NODE_EPROTO, what, "the verified answer does not decode");
    return &s->resp;
}

ldg_genesis *tool_trusted_genesis(const tool_opts *o)
{
    const char *path = o->genesis ? o->genesis : getenv("FWLEDGER_GENESIS");
    if (!path || !*path)
        tool_usage_error("--verify checks answers against the validators of a genesis: give "
                         "--genesis FILE (or set FWLEDGER_GENESIS)");
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);
    char err[256] = "";
    int rc = node_genesis_load(path, g, err, sizeof err);
    if (rc)
        tool_die_rc(rc, path, err);
    return g;
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
