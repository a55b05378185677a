/*
 * eligible_flood HOST PORT MODEL N: sends N Eligible requests of 16 devices (hardware MODEL,
 * running "heavy" 1.0.0, 16 tags each) on one connection without waiting, then reads the N
 * responses and prints "answered A busy B other C": A eligibility answers with 16 devices
 * each, B errors NODE_EBUSY (the node's queue bound), C anything else. For
 * test_eligibility_worker.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "node/client/client.h"
#include "tests/functional/trust.h"

static size_t devices_seen;

static bool count_answer(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f, (void)arg;
    static fwl_DeviceAnswer a;
    if (!pb_decode(st, fwl_DeviceAnswer_fields, &a))
        return false;
    devices_seen += !a.has_error && a.products_count == 1;
    return true;
}

static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st, (void)arg;
    if (f->tag == fwl_Response_eligible_tag)
        ((fwl_EligibleResp *)f->pData)->answers.funcs.decode = count_answer;
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: eligible_flood HOST PORT MODEL N\n");
        return 2;
    }
    static fwl_Request req;
    static fwl_Response resp;
    size_t n = strtoul(argv[4], NULL, 10), answered = 0, busy = 0, other = 0;
    node_client *c;
    int rc = node_client_connect(&c, argv[1], atoi(argv[2]), 120000, test_trust(), NULL, 0);
    if (rc) {
        fprintf(stderr, "eligible_flood: connect: %s\n", node_strerror(rc));
        return 1;
    }
    req.which_req = fwl_Request_eligible_tag;
    fwl_EligibleReq *e = &req.req.eligible;
    for (size_t k = 0; k < 16; k++) {
        fwl_Device *d = &e->devices[e->devices_count++];
        snprintf(d->id, sizeof d->id, "flood-%zu", k);
        snprintf(d->hardware_model, sizeof d->hardware_model, "%s", argv[3]);
        d->hardware_rev = 1;
        snprintf(d->packages[0].name, sizeof d->packages[0].name, "heavy");
        snprintf(d->packages[0].version, sizeof d->packages[0].version, "1.0.0");
        d->packages_count = 1;
        for (int t = 0; t < 16; t++)
            snprintf(d->tags[d->tags_count++], sizeof d->tags[0], "t%d", t);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        req.id = i + 1;
        rc = node_client_send(c, &req);
    }
    if (!rc)
        rc = node_client_flush(c);
    for (size_t i = 0; i < n && !rc; i++) {
        memset(&resp, 0, sizeof resp);
        resp.cb_resp.funcs.decode = on_member;
        devices_seen = 0;
        if ((rc = node_client_recv(c, &resp)))
            break;
        if (resp.which_resp == fwl_Response_eligible_tag && devices_seen == 16)
            answered++;
        else if (resp.which_resp == fwl_Response_error_tag && resp.resp.error.code == NODE_EBUSY)
            busy++;
        else
            other++;
    }
    node_client_close(c);
    if (rc) {
        fprintf(stderr, "eligible_flood: %s\n", node_strerror(rc));
        return 1;
    }
    printf("answered %zu busy %zu other %zu\n", answered, busy, other);
    return 0;
}
