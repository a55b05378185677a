/*
 * eligible_query HOST PORT [PRODUCT MODEL]: asks a node about the devices of
 * test_eligibility.sh (product sensor-fw on model sensor-v1 unless given) through the
 * tracker client library (node/client/client.h) and prints one line per device and product:
 *   DEVICE PRODUCT status=S installed=V best=V plan=P@V,... unsat=0|1 policy=... rejected=RULE@V,...
 * then "at HEIGHT BLOCKHASH", then "raw SHA256" of the response frame of the same request
 * sent again (after checking that nanopb, decoding and re-encoding it, gives the very same
 * bytes: the node writes answers without nanopb). The script compares lines (and whole
 * outputs across a restart and across nodes: answers must be identical for the same state).
 * It is the tracker program the client library is built for: it links build/libfwlclient.a,
 * nanopb, OpenSSL and libsecp256k1 only (no LMDB, no libuv; test_eligibility.sh checks).
 * Like a tracker, it checks the node over TLS against the keys it pins:
 * $FWLEDGER_NODE_KEY, "ALG:HEX" (the node's identity key, or a list: ALG:HEX,...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "node/client/client.h"

static const char *product = "sensor-fw", *model = "sensor-v1";

/* The node's key from $FWLEDGER_NODE_KEY ("ed25519:<hex>[,...]": any of them). */
static const node_tls *trust(void)
{
    static ldg_pubkey k[64];
    static node_tls tls = {.pins = k};
    const char *s = getenv("FWLEDGER_NODE_KEY");
    if (!s || node_pubkey_list_parse(s, k, 64, &tls.n_pins) || !tls.n_pins) {
        fprintf(stderr, "eligible_query: set FWLEDGER_NODE_KEY to ALG:HEX, the node's key\n");
        exit(2);
    }
    return &tls;
}

static void add_device(fwl_Device *d, const char *id, uint32_t rev, const char *addon,
                       const char *fw_version, const char *libfoo)
{
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->hardware_model, sizeof d->hardware_model, "%s", model);
    d->hardware_rev = rev;
    if (addon)
        snprintf(d->addons[d->addons_count++], sizeof d->addons[0], "%s", addon);
    snprintf(d->packages[0].name, sizeof d->packages[0].name, "%s", product);
    snprintf(d->packages[0].version, sizeof d->packages[0].version, "%s", fw_version);
    d->packages_count = 1;
    if (libfoo) {
        snprintf(d->packages[1].name, sizeof d->packages[1].name, "libfoo");
        snprintf(d->packages[1].version, sizeof d->packages[1].version, "%s", libfoo);
        d->packages_count = 2;
    }
    snprintf(d->region, sizeof d->region, "eu");
}

static void print_answer(void *ctx, const fwl_DeviceAnswer *a)
{
    (void)ctx;
    if (a->has_error)
        printf("%s error=%d %s\n", a->device_id, a->error.code, a->error.message);
    for (pb_size_t i = 0; i < a->products_count; i++) {
        const fwl_ProductAnswer *p = &a->products[i];
        printf("%s %s status=%d installed=%s best=%s plan=", a->device_id, p->product, p->status,
               p->installed[0] ? p->installed : "-", p->has_best ? p->best.version : "-");
        for (pb_size_t j = 0; j < p->plan_count; j++)
            printf("%s%s@%s", j ? "," : "", p->plan[j].product, p->plan[j].version);
        printf(" unsat=%d policy=%s rejected=", p->unsatisfiable, p->policy);
        for (pb_size_t j = 0; j < p->rejected_count; j++)
            printf("%s%s@%s", j ? "," : "", p->rejected[j].rule, p->rejected[j].release.version);
        printf(" total=%u superseded=%u\n", p->rejected_total, p->superseded);
    }
}

/* --- the raw frame: decoded and encoded again by nanopb, it must not change --- */

static fwl_DeviceAnswer raw_ans[4];
static size_t raw_n;

static bool dec_answer(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f, (void)arg;
    if (raw_n == 4)
        return false;
    return pb_decode(st, fwl_DeviceAnswer_fields, &raw_ans[raw_n++]);
}

static bool enc_answers(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    (void)arg;
    for (size_t i = 0; i < raw_n; i++)
        if (!pb_encode_tag_for_field(st, f) ||
            !pb_encode_submessage(st, fwl_DeviceAnswer_fields, &raw_ans[i]))
            return false;
    return true;
}

static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st, (void)arg;
    if (f->tag == fwl_Response_eligible_tag)
        ((fwl_EligibleResp *)f->pData)->answers.funcs.decode = dec_answer;
    return true;
}

static int raw_check(const char *host, int port, const fwl_Device *dev, size_t n)
{
    static fwl_Request req;
    static fwl_Response resp;
    static uint8_t again[1u << 20];
    node_client *c;
    const uint8_t *buf;
    size_t len;
    int rc = node_client_connect(&c, host, port, 10000, trust(), NULL, 0);
    if (rc)
        return rc;
    req.id = 7;
    req.which_req = fwl_Request_eligible_tag;
    memcpy(req.req.eligible.devices, dev, n * sizeof *dev);
    req.req.eligible.devices_count = (pb_size_t)n;
    if ((rc = node_client_send(c, &req)) || (rc = node_client_recv_raw(c, &buf, &len))) {
        node_client_close(c);
        return rc;
    }
    resp.cb_resp.funcs.decode = on_member;
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    bool ok = pb_decode(&is, fwl_Response_fields, &resp) && resp.which_resp == fwl_Response_eligible_tag;
    resp.cb_resp.funcs.encode = NULL;
    resp.resp.eligible.answers.funcs.encode = enc_answers;
    pb_ostream_t os = pb_ostream_from_buffer(again, sizeof again);
    ok = ok && pb_encode(&os, fwl_Response_fields, &resp);
    if (!ok || os.bytes_written != len || memcmp(again, buf, len)) {
        fprintf(stderr, "eligible_query: the raw answer (%zu bytes) is not what nanopb encodes "
                "(%zu bytes)\n", len, os.bytes_written);
        node_client_close(c);
        return -1;
    }
    uint8_t h[32];
    char hex[65];
    SHA256(buf, len, h);
    node_hex(h, 32, hex);
    printf("raw %s\n", hex);
    node_client_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: eligible_query HOST PORT [PRODUCT MODEL]\n");
        return 2;
    }
    if (argc == 5)
        product = argv[3], model = argv[4];
    static fwl_Device dev[4];
    add_device(&dev[0], "dev-a", 2, NULL, "1.0.0", NULL);       /* revision 2, no board   */
    add_device(&dev[1], "dev-b", 5, "lora", "2.1.0", "1.4.0");  /* rev 5, LoRa, old libfoo */
    add_device(&dev[2], "dev-c", 2, NULL, "2.0.0", NULL);       /* runs 2.0.0              */
    add_device(&dev[3], "dev-d", 5, NULL, "2.1.0", NULL);       /* rev 5, no board         */
    fwl_tracker *t;
    char err[256];
    uint64_t height;
    uint8_t hash[32];
    int rc = fwl_tracker_connect(&t, argv[1], atoi(argv[2]), 10000, trust(), err, sizeof err);
    if (!rc)
        rc = fwl_tracker_eligible(t, dev, 4, print_answer, NULL, &height, hash, err, sizeof err);
    fwl_tracker_close(t);
    if (rc) {
        fprintf(stderr, "eligible_query: %d %s\n", rc, err);
        return 1;
    }
    char hex[65];
    node_hex(hash, 32, hex);
    printf("at %llu %s\n", (unsigned long long)height, hex);
    if ((rc = raw_check(argv[1], atoi(argv[2]), dev, 4))) {
        fprintf(stderr, "eligible_query: raw check: %d\n", rc);
        return 1;
    }
    return 0;
}
