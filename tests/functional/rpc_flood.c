/*
 * rpc_flood: hostile pipelining against one node, for test_rpc_flood.sh (issue 10, defect 1).
 *
 *   rpc_flood HOST PORT PID KIND CONNS REQUESTS SECONDS ANON_MAX_MB STATUS_MAX_MS
 *
 * CONNS connections each send REQUESTS requests of KIND back to back and never read an
 * answer; they hold their connection for SECONDS. Meanwhile a probe connection asks Status
 * every 100 ms, and the node's anonymous memory (RssAnon of PID) is sampled. Then the
 * flooders close, and memory is sampled for 2 s more. Fails (exit 1, saying which) when
 * the node's anonymous memory went over ANON_MAX_MB at any time, a Status answer took
 * longer than STATUS_MAX_MS or failed, or memory grew after the flooders closed.
 *
 * KIND: status, get_release, list_releases, nonce, get_contract, eligible, get_block,
 * wait_for_tx, submit_tx. The flooders talk to the node through the client library, as any
 * client does.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/client/client.h"
#include "tests/functional/trust.h"

#define MAX_CONNS 256

static const char *host;
static int port;
static atomic_bool stop_flood, stop_probe;
static atomic_int flooders_connected;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The node's anonymous resident memory in MB, or -1. */
static long anon_mb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

/* One request of kind, or false for an unknown kind. */
static bool make_request(const char *kind, uint64_t id, fwl_Request *r)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    if (!strcmp(kind, "status")) {
        r->which_req = fwl_Request_status_tag;
    } else if (!strcmp(kind, "get_release")) {
        r->which_req = fwl_Request_get_release_tag;
        r->req.get_release.file_hash.alg = LDG_HASH_SHA256;
        r->req.get_release.file_hash.digest.size = 32;
        memset(r->req.get_release.file_hash.digest.bytes, (int)(id & 0xff), 32);
        r->req.get_release.has_file_hash = true;
    } else if (!strcmp(kind, "list_releases")) {
        r->which_req = fwl_Request_list_releases_tag;
        r->req.list_releases.limit = 256;
    } else if (!strcmp(kind, "nonce")) {
        r->which_req = fwl_Request_nonce_tag;
        r->req.nonce.key.alg = LDG_SIG_ED25519;
        r->req.nonce.key.key.size = 32;
        r->req.nonce.has_key = true;
    } else if (!strcmp(kind, "get_contract")) {
        r->which_req = fwl_Request_get_contract_tag;
        strcpy(r->req.get_contract.name, "default");
    } else if (!strcmp(kind, "eligible")) {
        r->which_req = fwl_Request_eligible_tag;
        fwl_EligibleReq *e = &r->req.eligible;
        e->devices_count = 16;
        for (int i = 0; i < 16; i++) {
            snprintf(e->devices[i].id, sizeof e->devices[i].id, "dev-%d", i);
            snprintf(e->devices[i].hardware_model, sizeof e->devices[i].hardware_model,
                     "model-%d", i);
        }
    } else if (!strcmp(kind, "get_block")) {
        r->which_req = fwl_Request_get_block_tag;
        r->req.get_block.which_by = fwl_GetBlockReq_height_tag;
        r->req.get_block.by.height = 1;
    } else if (!strcmp(kind, "wait_for_tx")) {
        r->which_req = fwl_Request_wait_for_tx_tag;
        r->req.wait_for_tx.tx_hash.size = 32;
        memcpy(r->req.wait_for_tx.tx_hash.bytes, &id, sizeof id);
        r->req.wait_for_tx.timeout_ms = 600000;
    } else if (!strcmp(kind, "submit_tx")) {
        r->which_req = fwl_Request_submit_tx_tag;
        r->req.submit_tx.tx.size = 2000;
        memset(r->req.submit_tx.tx.bytes, 0x5a, 2000);
    } else {
        return false;
    }
    return true;
}

typedef struct {
    const char *kind;
    long requests;
} flood_arg;

static void *flooder(void *p)
{
    const flood_arg *a = p;
    node_client *c;
    if (node_client_connect(&c, host, port, 2000, test_trust(), NULL, 0)) {
        fprintf(stderr, "rpc_flood: a flooder could not connect\n");
        return NULL;
    }
    flooders_connected++;
    static _Thread_local fwl_Request req;
    for (long i = 0; i < a->requests && !stop_flood; i++) {
        make_request(a->kind, (uint64_t)i + 1, &req);
        if (node_client_send(c, &req))
            break; /* the node stopped reading us: that is the point */
    }
    (void)node_client_flush(c);
    while (!stop_flood)
        usleep(20000);
    node_client_close(c);
    return NULL;
}

typedef struct {
    double worst_ms;
    long asked, failed;
    char why[256];
} probe_result;

static void *probe(void *p)
{
    probe_result *res = p;
    node_client *c = NULL;
    static fwl_Request req;
    static fwl_Response resp;
    char err[256];
    for (uint64_t id = 1; !stop_probe; id++) {
        double t0 = now_ms();
        int rc = c ? 0 : node_client_connect(&c, host, port, 10000, test_trust(), NULL, 0);
        if (!rc) {
            make_request("status", id, &req);
            rc = node_call(c, &req, &resp, err, sizeof err);
        }
        double dt = now_ms() - t0;
        res->asked++;
        if (dt > res->worst_ms)
            res->worst_ms = dt;
        if (rc) {
            res->failed++;
            snprintf(res->why, sizeof res->why, "%s", node_strerror(rc));
            node_client_close(c);
            c = NULL;
        }
        usleep(100000);
    }
    node_client_close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: rpc_flood HOST PORT PID KIND CONNS REQUESTS SECONDS "
                        "ANON_MAX_MB STATUS_MAX_MS\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    long pid = atol(argv[3]), conns = atol(argv[5]), seconds = atol(argv[7]);
    long anon_max = atol(argv[8]), status_max = atol(argv[9]);
    flood_arg fa = {argv[4], atol(argv[6])};
    fwl_Request tmp;
    if (!make_request(fa.kind, 1, &tmp) || conns < 1 || conns > MAX_CONNS) {
        fprintf(stderr, "rpc_flood: bad KIND or CONNS\n");
        return 2;
    }
    (void)test_trust(); /* read the environment once, before the threads */
    long base = anon_mb(pid), peak = base;
    probe_result pr = {0};
    pthread_t fl[MAX_CONNS], pt;
    pthread_create(&pt, NULL, probe, &pr);
    for (long i = 0; i < conns; i++)
        pthread_create(&fl[i], NULL, flooder, &fa);
    for (long t = 0; t < seconds * 10; t++) {
        usleep(100000);
        long m = anon_mb(pid);
        peak = m > peak ? m : peak;
    }
    stop_flood = true;
    for (long i = 0; i < conns; i++)
        pthread_join(fl[i], NULL);
    long at_close = anon_mb(pid), after = at_close;
    for (int t = 0; t < 20; t++) {
        usleep(100000);
        long m = anon_mb(pid);
        after = m > after ? m : after;
        peak = m > peak ? m : peak;
    }
    stop_probe = true;
    pthread_join(pt, NULL);
    printf("%s: %d of %ld flooders connected; node anonymous memory %ld MB before, peak %ld MB, "
           "%ld MB at close, %ld MB after; Status asked %ld times, %ld failed, worst %.0f ms\n",
           fa.kind, flooders_connected, conns, base, peak, at_close, after, pr.asked, pr.failed,
           pr.worst_ms);
    int rc = 0;
    if (peak > anon_max)
        printf("FAIL: anonymous memory reached %ld MB (bound %ld MB)\n", peak, anon_max), rc = 1;
    if (after > at_close + 8)
        printf("FAIL: memory grew after the flooders closed\n"), rc = 1;
    if (pr.failed)
        printf("FAIL: %ld Status requests failed (%s)\n", pr.failed, pr.why), rc = 1;
    if (pr.worst_ms > (double)status_max)
        printf("FAIL: a Status answer took %.0f ms (bound %ld ms)\n", pr.worst_ms, status_max),
            rc = 1;
    if (pr.asked < seconds * 5)
        printf("FAIL: only %ld Status requests were answered in %ld s\n", pr.asked, seconds),
            rc = 1;
    return rc;
}
