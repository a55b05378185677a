/* The tracker client library (see its part of node/client/client.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "node/client/client.h"
#include "node/client/client.h"

struct fwl_tracker {
    node_client *c;
    fwl_Request req;
    fwl_Response resp;
    fwl_DeviceAnswer answer; /* scratch for one decoded answer */
    uint64_t next_id;
};

int fwl_tracker_connect(fwl_tracker **out, const char *host, int port, uint32_t timeout_ms,
                        const node_tls *tls, char *err, size_t errlen)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return LDG_ENOMEM;
    int rc = node_client_connect(&(*out)->c, host, port, timeout_ms, tls, err, errlen);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

void fwl_tracker_close(fwl_tracker *t)
{
    if (!t)
        return;
    node_client_close(t->c);
    free(t);
}

typedef struct {
    fwl_tracker *t;
    fwl_answer_cb cb;
    void *ctx;
} answers_ctx;

static bool decode_answer(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f;
    answers_ctx *a = *arg;
    if (!pb_decode(st, fwl_DeviceAnswer_fields, &a->t->answer))
        return false;
    a->cb(a->ctx, &a->t->answer);
    return true;
}

/* Before the oneof member is decoded: route the answers to our callback. */
static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st;
    if (f->tag == fwl_Response_eligible_tag) {
        fwl_EligibleResp *r = f->pData;
        r->answers.funcs.decode = decode_answer;
        r->answers.arg = *arg;
    }
    return true;
}

int fwl_tracker_eligible(fwl_tracker *t, const fwl_Device *devices, size_t n, fwl_answer_cb cb,
                         void *ctx, uint64_t *height, uint8_t *block_hash, char *err,
                         size_t errlen)
{
    if (!t || !devices || !cb || n == 0 || n > FWL_TRACKER_DEVICES_MAX)
        return LDG_EINVALID;
    memset(&t->req, 0, sizeof t->req);
    t->req.id = ++t->next_id;
    t->req.which_req = fwl_Request_eligible_tag;
    memcpy(t->req.req.eligible.devices, devices, n * sizeof *devices);
    t->req.req.eligible.devices_count = (pb_size_t)n;
    int rc = node_client_send(t->c, &t->req);
    const uint8_t *buf;
    size_t len;
    if (!rc)
        rc = node_client_recv_raw(t->c, &buf, &len);
    if (rc) {
        if (err)
            snprintf(err, errlen, "%s", node_strerror(rc));
        return rc;
    }
    answers_ctx a = {t, cb, ctx};
    memset(&t->resp, 0, sizeof t->resp);
    t->resp.cb_resp.funcs.decode = on_member;
    t->resp.cb_resp.arg = &a;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Response_fields, &t->resp) || t->resp.id != t->req.id)
        return NODE_EPROTO;
    if (t->resp.which_resp == fwl_Response_error_tag) {
        if (err)
            snprintf(err, errlen, "%s", t->resp.resp.error.message);
        return t->resp.resp.error.code < 0 ? t->resp.resp.error.code : NODE_EPROTO;
    }
    if (t->resp.which_resp != fwl_Response_eligible_tag)
        return NODE_EPROTO;
    if (height)
        *height = t->resp.resp.eligible.at_height;
    if (block_hash) {
        const fwl_EligibleResp *r = &t->resp.resp.eligible;
        memcpy(block_hash, r->block_hash.bytes,
               r->block_hash.size < LDG_DIGEST_LEN ? r->block_hash.size : LDG_DIGEST_LEN);
    }
    return 0;
}
