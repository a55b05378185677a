/*
 * bench_client: load generator for `make bench` (scripts/bench). Not a test.
 *
 *   bench_client verify SECONDS
 *       the raw secp256k1 ECDSA verify rate of this machine, one core (the reference)
 *   bench_client publish --node H:P --genesis G --key K --product P -n N [--window W]
 *       pre-signs N publish txs (signing is not timed), submits them pipelined with at most W
 *       outstanding, then waits until the node's release count has grown by N;
 *       prints committed releases/s
 *   bench_client get --node H:P -n N [--window W] --product P
 *   bench_client eligible --node H:P -n N [--window W] [--offset BATCH] --product P
 *       N eligibility decisions for random devices (running 1.0.0, with libfoo 2.5.0) of the
 *       bench chain's 1,000 models, in
 *       requests of BATCH devices (default 1); prints decisions/s, p50 and p99 per request
 *       pipelined GetRelease of releases published by `publish` (file hashes are derived
 *       from the index); prints requests/s, p50 and p99 latency
 *   --prove (with get and eligible): the requests ask for a proof (issue 11)
 *   bench_client proof --node H:P --genesis G -n N [--offset BATCH] --product P
 *       N Eligible requests of BATCH devices, one at a time, each asked with and without a
 *       proof: the answers' bytes, and the client library's verification of the proven one
 *       (fwl_verify_eligible, against G); then as many GetRelease likewise; prints medians
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <pb_decode.h>

#include "ledger/ledger.h"
#include "node/files/files.h"
#include "tests/functional/trust.h" /* the node is checked against $FWLEDGER_GENESIS */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_client: %s: %s\n", what, node_strerror(rc));
    exit(1);
}

static void file_hash_of(const char *product, size_t i, uint8_t out[32])
{
    char s[128];
    snprintf(s, sizeof s, "%s/%zu", product, i);
    SHA256((const unsigned char *)s, strlen(s), out);
}

static int verify_rate(double seconds)
{
    const ldg_sig_impl *im = ldg_sig_by_id(LDG_SIG_SECP256K1_ECDSA);
    uint8_t seed[32], sec[32], pub[LDG_PUBKEY_MAX], d[32], sig[LDG_SIG_MAX];
    memset(seed, 7, sizeof seed);
    memset(d, 9, sizeof d);
    im->keypair(seed, sec, pub);
    im->sign(sec, d, NULL, sig);
    size_t n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 1000; i++, n++)
            if (ldg_verify(LDG_SIG_SECP256K1_ECDSA, pub, im->pub_len, d, sig, im->sig_len))
                return 1;
        t = now_s();
    } while (t - t0 < seconds);
    printf("verify_per_core %.0f\n", (double)n / (t - t0));
    return 0;
}

/* The next response's id, and whether it is of type tag; only those two fields are read
 * (the client should cost little next to the node it measures: both share the cores). */
static bool g_prove; /* --prove */

static bool recv_id(node_client *c, uint32_t want, uint64_t *id)
{
    const uint8_t *fb;
    size_t fl;
    int rc = node_client_recv_raw(c, &fb, &fl);
    if (rc)
        die("recv", rc);
    pb_istream_t is = pb_istream_from_buffer(fb, fl);
    pb_wire_type_t wt;
    uint32_t tag;
    bool eof;
    return pb_decode_tag(&is, &wt, &tag, &eof) && tag == fwl_Response_id_tag &&
           pb_decode_varint(&is, id) && pb_decode_tag(&is, &wt, &tag, &eof) && tag == want;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Pipelined requests: total of them, at most window unanswered; next(req, i, ctx) fills the
 * i-th (its id is set here). Latency of each (send to answer, sorted) into lat; returns the
 * elapsed seconds and counts answers not of type want in *errors. */
typedef void (*fill_fn)(fwl_Request *req, size_t i, void *ctx);

static double pipelined(node_client *c, size_t total, size_t window, uint32_t want, fill_fn next,
                        void *ctx, double *lat, size_t *errors)
{
    static fwl_Request req;
    double *sent_at = calloc(total + 1, sizeof *sent_at);
    size_t sent = 0, got = 0;
    int rc;
    if (!sent_at)
        die("memory", LDG_ENOMEM);
    *errors = 0;
    double t0 = now_s();
    while (got < total) {
        while (sent < total && sent - got < window) {
            next(&req, sent, ctx);
            req.id = sent + 1;
            if ((rc = node_client_send(c, &req)))
                die("send", rc);
            sent_at[++sent] = now_s();
        }
        uint64_t rid = 0;
        if (!recv_id(c, want, &rid))
            (*errors)++;
        if (rid >= 1 && rid <= total)
            lat[got] = now_s() - sent_at[rid];
        got++;
    }
    double elapsed = now_s() - t0;
    qsort(lat, total, sizeof *lat, cmp_double);
    free(sent_at);
    return elapsed;
}

typedef struct {
    size_t batch;
    const char *product;
    uint64_t x; /* xorshift state */
} elg_gen;

/* A batch of devices on random models of the bench chain (product-hw-0 .. 999), running
 * version 1.0.0 with libfoo 2.5.0. The request struct is large (16 fixed-size devices): it
 * is cleared once, then only the changing fields are written, so that the load generator
 * takes less of the CPU it shares with the node. */
static void next_eligible(fwl_Request *req, size_t i, void *ctx)
{
    elg_gen *g = ctx;
    fwl_EligibleReq *e = &req->req.eligible;
    (void)i;
    if (req->which_req != fwl_Request_eligible_tag) {
        memset(req, 0, sizeof *req);
        req->which_req = fwl_Request_eligible_tag;
        for (size_t k = 0; k < g->batch; k++) {
            fwl_Device *d = &e->devices[k];
            d->hardware_rev = 1;
            snprintf(d->packages[0].name, sizeof d->packages[0].name, "%s", g->product);
            snprintf(d->packages[0].version, sizeof d->packages[0].version, "1.0.0");
            /* the dependency every bench release has (libfoo >=2.1.0,<3) is met */
            snprintf(d->packages[1].name, sizeof d->packages[1].name, "libfoo");
            snprintf(d->packages[1].version, sizeof d->packages[1].version, "2.5.0");
            d->packages_count = 2;
        }
        e->devices_count = (pb_size_t)g->batch;
        e->prove = g_prove;
    }
    for (size_t k = 0; k < g->batch; k++) {
        fwl_Device *d = &e->devices[k];
        uint64_t x = g->x;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        g->x = x;
        snprintf(d->id, sizeof d->id, "device-%llu", (unsigned long long)(x % 1000000));
        snprintf(d->hardware_model, sizeof d->hardware_model, "%s-hw-%llu", g->product,
                 (unsigned long long)(x % 1000));
    }
}

typedef struct {
    const char *product;
    size_t known;
    uint64_t x;
} get_gen;

/* GetRelease of a random release published by `publish` (file hashes derived from the index). */
static void next_get(fwl_Request *req, size_t i, void *ctx)
{
    get_gen *g = ctx;
    (void)i;
    memset(req, 0, sizeof *req);
    req->which_req = fwl_Request_get_release_tag;
    req->req.get_release.has_file_hash = true;
    req->req.get_release.file_hash.alg = LDG_HASH_SHA256;
    g->x ^= g->x << 13, g->x ^= g->x >> 7, g->x ^= g->x << 17;
    file_hash_of(g->product, (size_t)(g->x % g->known), req->req.get_release.file_hash.digest.bytes);
    req->req.get_release.file_hash.digest.size = 32;
    req->req.get_release.prove = g_prove;
}

/* One request, its raw answer (valid until the next call) and its round trip in seconds. */
static double round_trip(node_client *c, fwl_Request *req, const uint8_t **buf, size_t *len)
{
    double t0 = now_s();
    int rc = node_client_send(c, req);
    if (!rc)
        rc = node_client_recv_raw(c, buf, len);
    if (rc)
        die("proof: request", rc);
    return now_s() - t0;
}

/* bench_client proof: bytes with and without a proof, and the verification's cost. */
static int proof_bench(node_client *c, const char *genesis, const char *product, size_t n,
                       size_t batch)
{
    static fwl_Request req;
    static ldg_genesis g;
    char err[300];
    int rc = genesis ? node_genesis_load(genesis, &g, err, sizeof err) : LDG_EINVALID;
    if (rc)
        die("proof: --genesis", rc);
    fwl_trust tr = {&g, 0, 0, 60000};
    double *plain = calloc(n, sizeof *plain), *proven = calloc(n, sizeof *proven);
    double *ver = calloc(n, sizeof *ver), *rtt = calloc(n, sizeof *rtt);
    elg_gen eg = {batch, product, 88172645463325252ull};
    const uint8_t *buf;
    size_t len;
    for (size_t i = 0; i < n; i++) {
        next_eligible(&req, i, &eg);
        req.id = 2 * i + 1;
        req.req.eligible.prove = false;
        round_trip(c, &req, &buf, &len);
        plain[i] = (double)len;
        req.id++;
        req.req.eligible.prove = true;
        rtt[i] = round_trip(c, &req, &buf, &len);
        proven[i] = (double)len;
        double t0 = now_s();
        if ((rc = fwl_verify_eligible(&tr, req.req.eligible.devices, batch, buf, len, NULL, err,
                                      sizeof err)))
            die(err, rc);
        ver[i] = now_s() - t0;
    }
    qsort(plain, n, sizeof *plain, cmp_double);
    qsort(proven, n, sizeof *proven, cmp_double);
    qsort(ver, n, sizeof *ver, cmp_double);
    qsort(rtt, n, sizeof *rtt, cmp_double);
    printf("proof eligible batch %zu answers %zu plain_bytes %.0f proven_bytes %.0f verify_us_p50 "
           "%.0f verify_us_p99 %.0f rtt_us_p50 %.0f\n", batch, n, plain[n / 2], proven[n / 2],
           ver[n / 2] * 1e6, ver[n * 99 / 100] * 1e6, rtt[n / 2] * 1e6);
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_status_tag;
    fwl_Response *resp = calloc(1, sizeof *resp);
    if (!resp || (rc = node_call(c, &req, resp, err, sizeof err)) || !resp->resp.status.releases)
        die("proof: status", rc ? rc : LDG_ENOTFOUND);
    get_gen gg = {product, resp->resp.status.releases, 88172645463325252ull};
    for (size_t i = 0; i < n; i++) {
        next_get(&req, i, &gg);
        req.id = i + 1;
        req.req.get_release.prove = true;
        rtt[i] = round_trip(c, &req, &buf, &len);
        proven[i] = (double)len;
        bool found;
        double t0 = now_s();
        if ((rc = fwl_verify_release(&tr, buf, len, &req.req.get_release.file_hash, NULL, &found,
                                     NULL, err, sizeof err)) || !found)
            die(err, rc ? rc : LDG_ENOTFOUND);
        ver[i] = now_s() - t0;
    }
    qsort(proven, n, sizeof *proven, cmp_double);
    qsort(ver, n, sizeof *ver, cmp_double);
    qsort(rtt, n, sizeof *rtt, cmp_double);
    printf("proof get answers %zu proven_bytes %.0f verify_us_p50 %.0f rtt_us_p50 %.0f "
           "rtt_us_p99 %.0f\n", n, proven[n / 2], ver[n / 2] * 1e6, rtt[n / 2] * 1e6,
           rtt[n * 99 / 100] * 1e6);
    free(resp);
    free(plain), free(proven), free(ver), free(rtt);
    node_client_close(c);
    return 0;
}


/* --wait: every tx is followed by its WaitForTx; at most window txs are uncommitted at once.
 * Latency: from sending the tx to the answer that it is committed. window 1: light load. */
static int publish_and_wait(node_client *c, uint8_t **txs, size_t *lens, size_t n, size_t window)
{
    static fwl_Request req;
    static fwl_Response resp;
    double *sent_at = calloc(n, sizeof *sent_at), *lat = calloc(n, sizeof *lat);
    size_t sent = 0, done = 0, ok = 0, refused = 0;
    int rc;
    double t0 = now_s();
    while (done < n) {
        while (sent < n && sent - done < window) {
            memset(&req, 0, sizeof req);
            req.id = 2 * sent + 1;
            req.which_req = fwl_Request_submit_tx_tag;
            memcpy(req.req.submit_tx.tx.bytes, txs[sent], lens[sent]);
            req.req.submit_tx.tx.size = (pb_size_t)lens[sent];
            if ((rc = node_client_send(c, &req)))
                die("send", rc);
            /* its WaitForTx goes out when the SubmitTx answer brings the tx id */
            sent_at[sent] = now_s();
            sent++;
        }
        if ((rc = node_client_recv(c, &resp)))
            die("recv", rc);
        size_t i = (size_t)((resp.id - 1) / 2);
        if (i >= n)
            continue;
        if (resp.which_resp == fwl_Response_submit_tx_tag) {
            memset(&req, 0, sizeof req);
            req.id = 2 * i + 2;
            req.which_req = fwl_Request_wait_for_tx_tag;
            memcpy(req.req.wait_for_tx.tx_hash.bytes, resp.resp.submit_tx.tx_hash.bytes, 32);
            req.req.wait_for_tx.tx_hash.size = 32;
            req.req.wait_for_tx.timeout_ms = 60000;
            if ((rc = node_client_send(c, &req)))
                die("send", rc);
            continue;
        }
        if (resp.which_resp == fwl_Response_wait_for_tx_tag)
            lat[ok++] = now_s() - sent_at[i];
        else if (refused++ < 5)
            fprintf(stderr, "bench_client: refused: %s\n", resp.resp.error.message);
        done++;
    }
    double t1 = now_s();
    qsort(lat, ok, sizeof *lat, cmp_double);
    printf("committed %zu refused %zu total_s %.3f releases_per_s %.0f p50_ms %.2f p99_ms %.2f\n",
           ok, refused, t1 - t0, (double)ok / (t1 - t0), ok ? lat[ok / 2] * 1e3 : 0,
           ok ? lat[ok * 99 / 100] * 1e3 : 0);
    free(sent_at);
    free(lat);
    node_client_close(c);
    return refused ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_client verify|publish|get [options]\n");
        return 2;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "verify"))
        return verify_rate(argc > 2 ? atof(argv[2]) : 2.0);

    static const struct option opts[] = {
        {"node", required_argument, NULL, 'a'}, {"genesis", required_argument, NULL, 'g'},
        {"key", required_argument, NULL, 'k'},  {"product", required_argument, NULL, 'p'},
        {"window", required_argument, NULL, 'w'}, {"offset", required_argument, NULL, 'o'},
        {"wait", no_argument, NULL, 'W'}, {"prove", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    char host[256] = "127.0.0.1";
    int port = 7400, ch;
    const char *genesis = NULL, *keyf = NULL, *product = "bench";
    size_t n = 1000, window = 1000, offset = 0;
    bool wait_each = false;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "a:g:k:p:w:n:o:WP", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': {
            const char *c = strrchr(optarg, ':');
            if (!c)
                return 2;
            snprintf(host, sizeof host, "%.*s", (int)(c - optarg), optarg);
            port = atoi(c + 1);
            break;
        }
        case 'g': genesis = optarg; break;
        case 'k': keyf = optarg; break;
        case 'p': product = optarg; break;
        case 'w': window = (size_t)atol(optarg); break;
        case 'n': n = (size_t)atol(optarg); break;
        case 'o': offset = (size_t)atol(optarg); break;
        case 'W': wait_each = true; break;
        case 'P': g_prove = true; break;
        default: return 2;
        }
    }
    node_client *c;
    char cerr[256] = "";
    int rc = node_client_connect(&c, host, port, 60000, test_trust(), cerr, sizeof cerr);
    if (rc) {
        fprintf(stderr, "bench_client: connect: %s: %s\n", node_strerror(rc), cerr);
        return 1;
    }
    static fwl_Request req;
    static fwl_Response resp;
    char err[256];

    if (!strcmp(mode, "publish")) {
        static ldg_genesis g;
        static node_key k;
        if (!genesis || !keyf)
            return 2;
        if ((rc = node_genesis_load(genesis, &g, err, sizeof err)) || (rc = node_key_load(keyf, &k, err, sizeof err))) {
            fprintf(stderr, "bench_client: %s\n", err);
            return 1;
        }
        memset(&req, 0, sizeof req);
        req.which_req = fwl_Request_nonce_tag;
        req.req.nonce.has_key = true;
        req.req.nonce.key.alg = k.pub.alg;
        memcpy(req.req.nonce.key.key.bytes, k.pub.key, k.pub.len);
        req.req.nonce.key.key.size = (pb_size_t)k.pub.len;
        if ((rc = node_call(c, &req, &resp, err, sizeof err)))
            die("nonce", rc);
        uint64_t nonce0 = resp.resp.nonce.last_nonce;
        memset(&req, 0, sizeof req);
        req.which_req = fwl_Request_status_tag;
        if ((rc = node_call(c, &req, &resp, err, sizeof err)))
            die("status", rc);
        uint64_t releases0 = resp.resp.status.releases;

        /* Pre-sign: one hardware line per release, so versions never collide. */
        uint8_t **txs = malloc(n * sizeof *txs);
        size_t *lens = malloc(n * sizeof *lens);
        static fwl_TxBody body;
        ldg_seckey sk = {k.alg, {0}};
        memcpy(sk.sec, k.sec, sizeof sk.sec);
        double ts = now_s();
        for (size_t j = 0; j < n; j++) {
            size_t i = offset + j; /* global release index: runs continue each other */
            memset(&body, 0, sizeof body);
            snprintf(body.chain_id, sizeof body.chain_id, "%s", g.chain_id);
            body.nonce = nonce0 + 1 + j;
            body.which_payload = fwl_TxBody_publish_tag;
            body.payload.publish.has_release = true;
            fwl_Release *r = &body.payload.publish.release;
            snprintf(r->product, sizeof r->product, "%s", product);
            snprintf(r->provider, sizeof r->provider, "Bench Corp");
            r->published_at = 1700000000 + i;
            snprintf(r->version, sizeof r->version, "1.0.%zu", i);
            r->security_version = 1 + i;
            r->has_file_hash = true;
            r->file_hash.alg = LDG_HASH_SHA256;
            file_hash_of(product, i, r->file_hash.digest.bytes);
            r->file_hash.digest.size = 32;
            snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/%s/%zu.bin", product, i);
            snprintf(r->file_name, sizeof r->file_name, "fw-%zu.bin", i);
            r->file_size = 1 << 20;
            r->hardware_count = 1;
            snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "%s-hw-%zu", product, i % 1000);
            /* 1,000 models; the version per model rises with i */
            r->dependencies_count = 1;
            snprintf(r->dependencies[0].package, sizeof r->dependencies[0].package, "libfoo");
            snprintf(r->dependencies[0].constraint, sizeof r->dependencies[0].constraint, ">=2.1.0,<3");
            txs[j] = malloc(LDG_TX_MAX);
            uint8_t h[32];
            if ((rc = ldg_tx_sign(&g, &body, &sk, 1, NULL, txs[j], LDG_TX_MAX, &lens[j], h)))
                die("sign", rc);
        }
        fprintf(stderr, "bench_client: signed %zu txs in %.2f s\n", n, now_s() - ts);

        double t0 = now_s();
        size_t sent = 0, acked = 0, refused = 0;
        if (wait_each)
            return publish_and_wait(c, txs, lens, n, window);
        while (acked < n) {
            while (sent < n && sent - acked < window) {
                memset(&req, 0, sizeof req);
                req.id = sent + 1;
                req.which_req = fwl_Request_submit_tx_tag;
                memcpy(req.req.submit_tx.tx.bytes, txs[sent], lens[sent]);
                req.req.submit_tx.tx.size = (pb_size_t)lens[sent];
                if ((rc = node_client_send(c, &req)))
                    die("send", rc);
                sent++;
            }
            if ((rc = node_client_recv(c, &resp)))
                die("recv", rc);
            if (resp.which_resp == fwl_Response_error_tag) {
                if (refused++ < 5)
                    fprintf(stderr, "bench_client: refused: %s\n", resp.resp.error.message);
            }
            acked++;
        }
        double t_sub = now_s();
        uint64_t target = releases0 + n - refused, last = 0;
        double progress_at = now_s();
        for (;;) {
            memset(&req, 0, sizeof req);
            req.which_req = fwl_Request_status_tag;
            if ((rc = node_call(c, &req, &resp, err, sizeof err)))
                die("status", rc);
            if (resp.resp.status.releases >= target)
                break;
            if (resp.resp.status.releases != last) {
                last = resp.resp.status.releases;
                progress_at = now_s();
            } else if (now_s() - progress_at > 10) {
                fprintf(stderr, "bench_client: no progress for 10 s at %llu of %llu releases\n",
                        (unsigned long long)last, (unsigned long long)target);
                return 1;
            }
            usleep(1000);
        }
        double t1 = now_s();
        printf("published %zu refused %zu submit_s %.3f total_s %.3f releases_per_s %.0f\n", n,
               refused, t_sub - t0, t1 - t0, (double)(n - refused) / (t1 - t0));
        for (size_t i = 0; i < n; i++)
            free(txs[i]);
        free(txs);
        free(lens);
        node_client_close(c);
        return refused ? 1 : 0;
    }

    if (!strcmp(mode, "proof"))
        return proof_bench(c, genesis, product, n, offset ? offset : 1);

    if (!strcmp(mode, "eligible")) {
        /* n decisions: window requests in flight, each a batch of `batch` devices */
        size_t batch = offset ? offset : 1, total = n / batch, errors = 0;
        double *lat = malloc((total + 1) * sizeof *lat);
        elg_gen g = {batch, product, 88172645463325252ull};
        if (!lat || batch > 16)
            die("eligible: --offset (the batch) is 1..16", LDG_EINVALID);
        double secs = pipelined(c, total, window, fwl_Response_eligible_tag, next_eligible, &g,
                                lat, &errors);
        printf("eligible batch %zu requests %zu errors %zu decisions_per_s %.0f p50_us %.0f p99_us %.0f\n",
               batch, total, errors, (double)(total * batch) / secs, lat[total / 2] * 1e6,
               lat[total * 99 / 100] * 1e6);
        free(lat);
        node_client_close(c);
        return errors ? 1 : 0;
    }

    if (!strcmp(mode, "get")) {
        size_t total = n, known = 0;
        memset(&req, 0, sizeof req);
        req.which_req = fwl_Request_status_tag;
        if ((rc = node_call(c, &req, &resp, err, sizeof err)))
            die("status", rc);
        known = resp.resp.status.releases;
        if (!known)
            die("no releases", LDG_ENOTFOUND);
        double *lat = malloc((total + 1) * sizeof *lat);
        size_t errors = 0;
        get_gen g = {product, known, 88172645463325252ull};
        if (!lat)
            die("memory", LDG_ENOMEM);
        double secs = pipelined(c, total, window, fwl_Response_get_release_tag, next_get, &g, lat,
                                &errors);
        printf("gets %zu errors %zu per_s %.0f p50_us %.0f p99_us %.0f\n", total, errors,
               (double)total / secs, lat[total / 2] * 1e6, lat[total * 99 / 100] * 1e6);
        free(lat);
        node_client_close(c);
        return errors ? 1 : 0;
    }
    return 2;
}
