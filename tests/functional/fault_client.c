/*
 * fault_client: the RPC side of the fault suite (scripts/faults). Not a test by itself.
 *
 *   fault_client load --nodes H:P[,H:P...] --genesis G --key K --product P --out FILE
 *                     [--window W] [--wait-ms MS] [--first I]
 *       A pipelined publisher: up to W publish transactions of P signed with K in flight,
 *       each followed by its WaitForTx, until SIGTERM or SIGINT. Every release the node
 *       acknowledges as committed is appended to FILE as one line
 *           FILE_HASH HEIGHT BLOCK_HASH PRODUCT pipe
 *       (written and flushed as the answer arrives). A broken connection, a refused
 *       transaction or a wait that times out makes it drain what is in flight and start
 *       again on the next node of the list; nonces and versions only go up, so a transaction
 *       sent before a crash and committed later never collides with a new one (it is then
 *       refused, or committed without an acknowledgement: neither is recorded).
 *       On exit, prints "load: acked N refused R timeouts T reconnects C" on stderr.
 *
 *   fault_client blocks --node H:P --from A --to B
 *       One line per height: "HEIGHT BLOCK_HASH TIME_MS", pipelined GetBlock; a height the
 *       node does not have: "HEIGHT missing -". Exit 1 on a connection error.
 *
 *   fault_client acks --node H:P FILE
 *       For each line of FILE (as load writes it): GetRelease of the file hash, and the
 *       record's height compared with the acknowledged one. Prints one line per mismatch,
 *       "missing FILE_HASH HEIGHT" or "height FILE_HASH WANT GOT", then "checked N bad M".
 *       Exit 1 when M > 0 or on a connection error.
 *
 *   fault_client monitor --nodes H:P[,H:P...] --state FILE --log FILE [--interval-ms MS]
 *                        [--t0-ms T]
 *       Until SIGTERM: every MS (default 100) asks each node for its Status (200 ms at most
 *       per node, a broken connection is opened again on the next round) and replaces FILE
 *       (write and rename) with one line
 *           T_MS H0 R0 UP0 H1 R1 UP1 ...
 *       T_MS the wall-clock time in ms, then per node its height, consensus round and peers
 *       up ("- - -" when it did not answer). The same line is appended to the log when
 *       anything but the time changed, at most every 250 ms: a timeline of the run, its
 *       first field the seconds since T (wall-clock ms; default: when it started).
 *
 * Timeouts: every receive waits at most 1 s at a time, so that a stop signal is seen
 * within a second even while a node is paused (SIGSTOP) or cut off.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pb_decode.h>

#include "ledger/ledger.h"
#include "node/files/files.h"
#include "tests/functional/trust.h"

#define MAX_NODES 16
#define MAX_WINDOW 256

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int parse_addr(const char *s, char *host, size_t cap, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c || c == s || !c[1])
        return -1;
    snprintf(host, cap, "%.*s", (int)(c - s), s);
    *port = atoi(c + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

/* The next response, waiting in slices of the client's 1 s timeout until deadline (a
 * monotonic time) or a stop signal. Returns 0, NODE_ETIMEOUT or a connection error. */
static int recv_until(node_client *c, fwl_Response *resp, double deadline)
{
    for (;;) {
        int rc = node_client_recv(c, resp);
        if (rc != NODE_ETIMEOUT)
            return rc;
        if (stopping || now_s() >= deadline)
            return NODE_ETIMEOUT;
    }
}

/* --- load -------------------------------------------------------------------------------- */

typedef struct {
    char host[MAX_NODES][64];
    int port[MAX_NODES];
    size_t n;
} node_list;

typedef struct {
    bool used;
    bool waiting; /* WaitForTx sent */
    double deadline;
    uint8_t file_hash[32];
} slot;

typedef struct {
    ldg_genesis g;
    node_key k;
    ldg_seckey sk;
    const char *product;
    FILE *out;
    uint32_t wait_ms;
    size_t window;
    uint64_t nonce;   /* last nonce used */
    uint64_t version; /* last version index used */
    size_t acked, refused, timeouts, reconnects;
    slot slots[MAX_WINDOW];
} loader;

static fwl_Request req;
static fwl_Response resp;
static fwl_TxBody body;
static uint8_t txbuf[LDG_TX_MAX];

/* Sign the next release into req (a SubmitTx) and remember its file hash in sl. */
static int next_tx(loader *L, slot *sl)
{
    uint64_t i = ++L->version;
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", L->g.chain_id);
    body.nonce = ++L->nonce;
    body.which_payload = fwl_TxBody_publish_tag;
    body.payload.publish.has_release = true;
    fwl_Release *r = &body.payload.publish.release;
    snprintf(r->product, sizeof r->product, "%s", L->product);
    snprintf(r->provider, sizeof r->provider, "Fault Suite");
    r->published_at = (uint64_t)time(NULL);
    snprintf(r->version, sizeof r->version, "1.0.%llu", (unsigned long long)i);
    r->security_version = i;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    char s[160];
    snprintf(s, sizeof s, "%s/%llu/%d", L->product, (unsigned long long)i, (int)getpid());
    SHA256((const unsigned char *)s, strlen(s), r->file_hash.digest.bytes);
    r->file_hash.digest.size = 32;
    memcpy(sl->file_hash, r->file_hash.digest.bytes, 32);
    snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/%s/%llu.bin", L->product,
             (unsigned long long)i);
    snprintf(r->file_name, sizeof r->file_name, "fw-%llu.bin", (unsigned long long)i);
    r->file_size = 4096;
    r->hardware_count = 1;
    snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "%s-hw", L->product);
    size_t len;
    uint8_t h[32];
    int rc = ldg_tx_sign(&L->g, &body, &L->sk, 1, NULL, txbuf, sizeof txbuf, &len, h);
    if (rc)
        return rc;
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_submit_tx_tag;
    memcpy(req.req.submit_tx.tx.bytes, txbuf, len);
    req.req.submit_tx.tx.size = (pb_size_t)len;
    return 0;
}

/* The node's last nonce for our key (pending transactions included); nonces only go up. */
static int sync_nonce(loader *L, node_client *c)
{
    char err[256];
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_nonce_tag;
    req.req.nonce.has_key = true;
    req.req.nonce.key.alg = L->k.pub.alg;
    memcpy(req.req.nonce.key.key.bytes, L->k.pub.key, L->k.pub.len);
    req.req.nonce.key.key.size = (pb_size_t)L->k.pub.len;
    int rc = node_call(c, &req, &resp, err, sizeof err);
    if (rc)
        return rc;
    if (resp.resp.nonce.last_nonce > L->nonce)
        L->nonce = resp.resp.nonce.last_nonce;
    return 0;
}

/* One session on one node: publish until something goes wrong or a stop signal, then drain
 * what is in flight (answers still count). Request ids: 2*slot+1 SubmitTx, 2*slot+2 WaitForTx
 * (the node answers out of order). */
static void session(loader *L, node_client *c)
{
    size_t inflight = 0;
    bool broken = false;
    double drain_deadline = 0;
    memset(L->slots, 0, sizeof L->slots);
    for (;;) {
        if (stopping && !broken) {
            broken = true;
            drain_deadline = now_s() + 2;
        }
        while (!broken && inflight < L->window) {
            size_t k = 0;
            while (L->slots[k].used)
                k++;
            slot *sl = &L->slots[k];
            if (next_tx(L, sl)) {
                fprintf(stderr, "load: cannot sign\n");
                exit(1);
            }
            req.id = 2 * k + 1;
            if (node_client_send(c, &req))
                return;
            sl->used = true;
            sl->waiting = false;
            sl->deadline = now_s() + L->wait_ms / 1e3 + 5;
            inflight++;
        }
        if (!inflight)
            return;
        double deadline = 1e18;
        for (size_t k = 0; k < L->window; k++)
            if (L->slots[k].used && L->slots[k].deadline < deadline)
                deadline = L->slots[k].deadline;
        if (broken && drain_deadline < deadline)
            deadline = drain_deadline;
        int rc = recv_until(c, &resp, deadline);
        if (rc == NODE_ETIMEOUT && stopping && !broken)
            continue;
        if (rc) {
            if (rc == NODE_ETIMEOUT)
                L->timeouts++;
            return; /* the rest in flight is unknown: not acknowledged */
        }
        size_t k = resp.id >= 1 ? (size_t)((resp.id - 1) / 2) : MAX_WINDOW;
        if (k >= L->window || !L->slots[k].used)
            continue;
        slot *sl = &L->slots[k];
        if (resp.which_resp == fwl_Response_submit_tx_tag && !sl->waiting) {
            memset(&req, 0, sizeof req);
            req.id = 2 * k + 2;
            req.which_req = fwl_Request_wait_for_tx_tag;
            memcpy(req.req.wait_for_tx.tx_hash.bytes, resp.resp.submit_tx.tx_hash.bytes, 32);
            req.req.wait_for_tx.tx_hash.size = 32;
            req.req.wait_for_tx.timeout_ms = L->wait_ms;
            sl->waiting = true;
            if (node_client_send(c, &req) || node_client_flush(c))
                return;
            continue;
        }
        if (resp.which_resp == fwl_Response_wait_for_tx_tag) {
            char fh[65], bh[2 * 64 + 1];
            const fwl_WaitForTxResp *w = &resp.resp.wait_for_tx;
            hex(sl->file_hash, 32, fh);
            hex(w->block_hash.bytes, w->block_hash.size, bh);
            fprintf(L->out, "%s %llu %s %s pipe\n", fh, (unsigned long long)w->height, bh,
                    L->product);
            fflush(L->out);
            L->acked++;
        } else {
            /* refused, or the wait timed out: start over once the others are answered */
            if (resp.which_resp == fwl_Response_error_tag && sl->waiting)
                L->timeouts++;
            else
                L->refused++;
            if (!broken) {
                broken = true;
                drain_deadline = now_s() + L->wait_ms / 1e3 + 5;
            }
        }
        sl->used = false;
        inflight--;
    }
}

static int load_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'}, {"genesis", required_argument, NULL, 'g'},
        {"key", required_argument, NULL, 'k'},   {"product", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},   {"window", required_argument, NULL, 'w'},
        {"wait-ms", required_argument, NULL, 't'}, {"first", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    static loader L;
    static node_list nl;
    const char *nodes = NULL, *genesis = NULL, *keyf = NULL, *outf = NULL;
    char err[256];
    int ch;
    L.window = 16;
    L.wait_ms = 15000;
    L.product = NULL;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': nodes = optarg; break;
        case 'g': genesis = optarg; break;
        case 'k': keyf = optarg; break;
        case 'p': L.product = optarg; break;
        case 'o': outf = optarg; break;
        case 'w': L.window = (size_t)atol(optarg); break;
        case 't': L.wait_ms = (uint32_t)atol(optarg); break;
        case 'f': L.version = (uint64_t)atoll(optarg); break;
        default: return 2;
        }
    }
    if (!nodes || !genesis || !keyf || !L.product || !outf || L.window < 1 ||
        L.window > MAX_WINDOW) {
        fprintf(stderr, "load: --nodes, --genesis, --key, --product, --out; window 1..%d\n",
                MAX_WINDOW);
        return 2;
    }
    char *list = strdup(nodes);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && nl.n < MAX_NODES;
         t = strtok_r(NULL, ",", &save)) {
        if (parse_addr(t, nl.host[nl.n], sizeof nl.host[0], &nl.port[nl.n])) {
            fprintf(stderr, "load: bad node address %s\n", t);
            return 2;
        }
        nl.n++;
    }
    free(list);
    if (node_genesis_load(genesis, &L.g, err, sizeof err) ||
        node_key_load(keyf, &L.k, err, sizeof err)) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    L.sk.alg = L.k.alg;
    memcpy(L.sk.sec, L.k.sec, sizeof L.sk.sec);
    if (!(L.out = fopen(outf, "a"))) {
        perror(outf);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    size_t cur = 0;
    while (!stopping) {
        node_client *c = NULL;
        if (node_client_connect(&c, nl.host[cur], nl.port[cur], 1000, test_trust(), NULL, 0) || sync_nonce(&L, c)) {
            node_client_close(c);
            cur = (cur + 1) % nl.n;
            L.reconnects++;
            usleep(200000);
            continue;
        }
        session(&L, c);
        node_client_close(c);
        if (!stopping) { /* something went wrong: the next node, after a pause */
            cur = (cur + 1) % nl.n;
            L.reconnects++;
            usleep(100000);
        }
    }
    fclose(L.out);
    OPENSSL_cleanse(&L.sk, sizeof L.sk);
    OPENSSL_cleanse(&L.k, sizeof L.k);
    fprintf(stderr, "load: acked %zu refused %zu timeouts %zu reconnects %zu\n", L.acked,
            L.refused, L.timeouts, L.reconnects);
    return 0;
}

/* --- blocks ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *buf;
    size_t len;
} blob;

static bool decode_blob(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)field;
    blob *b = *arg;
    size_t n = st->bytes_left;
    if (n > NODE_RPC_MAX_RESPONSE)
        return false;
    free(b->buf);
    b->len = 0;
    if (!(b->buf = malloc(n ? n : 1)) || !pb_read(st, b->buf, n))
        return false;
    b->len = n;
    return true;
}

/* Called before the oneof member is decoded: set the block bytes' callback. */
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

static int connect_arg(const char *addr, node_client **c)
{
    char host[64];
    int port;
    if (parse_addr(addr, host, sizeof host, &port)) {
        fprintf(stderr, "fault_client: bad node address %s\n", addr);
        return 2;
    }
    if (node_client_connect(c, host, port, 1000, test_trust(), NULL, 0)) {
        fprintf(stderr, "fault_client: cannot connect to %s\n", addr);
        return 1;
    }
    return 0;
}

static int blocks_main(int argc, char **argv)
{
    static const struct option opts[] = {{"node", required_argument, NULL, 'n'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *addr = NULL;
    uint64_t from = 1, to = 0;
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': addr = optarg; break;
        case 'f': from = (uint64_t)atoll(optarg); break;
        case 't': to = (uint64_t)atoll(optarg); break;
        default: return 2;
        }
    }
    node_client *c;
    if (!addr || from < 1)
        return 2;
    if ((rc = connect_arg(addr, &c)))
        return rc;
    static ldg_block b;
    blob bl = {NULL, 0};
    uint64_t next = from, done = from;
    const uint64_t window = 32;
    while (done <= to) {
        while (next <= to && next - done < window) {
            memset(&req, 0, sizeof req);
            req.id = next;
            req.which_req = fwl_Request_get_block_tag;
            req.req.get_block.which_by = fwl_GetBlockReq_height_tag;
            req.req.get_block.by.height = next;
            if (node_client_send(c, &req))
                goto broken;
            next++;
        }
        memset(&resp, 0, sizeof resp);
        resp.cb_resp.funcs.decode = on_get_block;
        resp.cb_resp.arg = &bl;
        if (recv_until(c, &resp, now_s() + 10))
            goto broken;
        /* GetBlock answers come back in order; the id says which height anyway */
        if (resp.which_resp == fwl_Response_get_block_tag && bl.len &&
            ldg_block_decode(bl.buf, bl.len, &b) == 0) {
            char bh[2 * 64 + 1];
            hex(resp.resp.get_block.block_hash.bytes, resp.resp.get_block.block_hash.size, bh);
            printf("%llu %s %llu\n", (unsigned long long)resp.id, bh,
                   (unsigned long long)b.hdr.time_ms);
            ldg_block_free(&b);
        } else {
            printf("%llu missing -\n", (unsigned long long)resp.id);
        }
        done++;
    }
    free(bl.buf);
    node_client_close(c);
    return 0;
broken:
    free(bl.buf);
    node_client_close(c);
    fprintf(stderr, "fault_client blocks: connection to %s lost at height %llu\n", addr,
            (unsigned long long)done);
    return 1;
}

/* --- acks -------------------------------------------------------------------------------- */

typedef struct {
    char fh[65];
    uint64_t height;
} ack;

static int acks_main(int argc, char **argv)
{
    static const struct option opts[] = {{"node", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *addr = NULL;
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch != 'n')
            return 2;
        addr = optarg;
    }
    if (!addr || optind != argc - 1)
        return 2;
    FILE *f = fopen(argv[optind], "r");
    if (!f) {
        perror(argv[optind]);
        return 1;
    }
    size_t n = 0, cap = 1024;
    ack *a = malloc(cap * sizeof *a);
    char line[512];
    while (a && fgets(line, sizeof line, f)) {
        unsigned long long h;
        if (n == cap && !(a = realloc(a, (cap *= 2) * sizeof *a)))
            break;
        if (sscanf(line, "%64s %llu", a[n].fh, &h) == 2) {
            a[n].height = h;
            n++;
        }
    }
    fclose(f);
    if (!a)
        return 1;
    node_client *c;
    if ((rc = connect_arg(addr, &c))) {
        free(a);
        return rc;
    }
    size_t next = 0, done = 0, bad = 0;
    const size_t window = 64;
    while (done < n) {
        while (next < n && next - done < window) {
            memset(&req, 0, sizeof req);
            req.id = next + 1;
            req.which_req = fwl_Request_get_release_tag;
            req.req.get_release.has_file_hash = true;
            req.req.get_release.file_hash.alg = LDG_HASH_SHA256;
            req.req.get_release.file_hash.digest.size = 32;
            if (unhex(a[next].fh, req.req.get_release.file_hash.digest.bytes, 32) ||
                node_client_send(c, &req))
                goto broken;
            next++;
        }
        memset(&resp, 0, sizeof resp);
        if (recv_until(c, &resp, now_s() + 10) || resp.id < 1 || resp.id > n)
            goto broken;
        const ack *x = &a[resp.id - 1];
        if (resp.which_resp != fwl_Response_get_release_tag) {
            printf("missing %s %llu\n", x->fh, (unsigned long long)x->height);
            bad++;
        } else if (resp.resp.get_release.record.height != x->height) {
            printf("height %s %llu %llu\n", x->fh, (unsigned long long)x->height,
                   (unsigned long long)resp.resp.get_release.record.height);
            bad++;
        }
        done++;
    }
    node_client_close(c);
    free(a);
    printf("checked %zu bad %zu\n", n, bad);
    return bad ? 1 : 0;
broken:
    node_client_close(c);
    free(a);
    fprintf(stderr, "fault_client acks: connection to %s lost\n", addr);
    return 1;
}

/* --- monitor ----------------------------------------------------------------------------- */

static int monitor_main(int argc, char **argv)
{
    static const struct option opts[] = {{"nodes", required_argument, NULL, 'n'},
                                         {"state", required_argument, NULL, 's'},
                                         {"log", required_argument, NULL, 'l'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"t0-ms", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    static node_list nl;
    long long t0_ms = 0;
    static node_client *cs[MAX_NODES];
    const char *nodes = NULL, *state = NULL, *logf = NULL;
    long interval_ms = 100;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': nodes = optarg; break;
        case 's': state = optarg; break;
        case 'l': logf = optarg; break;
        case 'i': interval_ms = atol(optarg); break;
        case 't': t0_ms = atoll(optarg); break;
        default: return 2;
        }
    }
    if (!nodes || !state || !logf || interval_ms < 10)
        return 2;
    char *list = strdup(nodes);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && nl.n < MAX_NODES;
         t = strtok_r(NULL, ",", &save)) {
        if (parse_addr(t, nl.host[nl.n], sizeof nl.host[0], &nl.port[nl.n]))
            return 2;
        nl.n++;
    }
    free(list);
    FILE *log = fopen(logf, "a");
    if (!log) {
        perror(logf);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char tmp[4096], line[2048], last[2048] = "";
    snprintf(tmp, sizeof tmp, "%s.tmp", state);
    double last_log = 0;
    while (!stopping) {
        double t0 = now_s();
        size_t off = 0;
        for (size_t k = 0; k < nl.n; k++) {
            char err[128];
            int rc = 0;
            if (!cs[k] && node_client_connect(&cs[k], nl.host[k], nl.port[k], 200, test_trust(), NULL, 0))
                cs[k] = NULL, rc = NODE_ECONNECT;
            if (cs[k]) {
                node_client_set_timeout(cs[k], 200);
                memset(&req, 0, sizeof req);
                req.which_req = fwl_Request_status_tag;
                rc = node_call(cs[k], &req, &resp, err, sizeof err);
            }
            if (rc) {
                node_client_close(cs[k]);
                cs[k] = NULL;
                off += (size_t)snprintf(line + off, sizeof line - off, " - - -");
            } else {
                const fwl_StatusResp *st = &resp.resp.status;
                off += (size_t)snprintf(line + off, sizeof line - off, " %llu %u %u",
                                        (unsigned long long)st->height, st->consensus_round,
                                        st->peers_up);
            }
        }
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        long long ms = (long long)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
        if (!t0_ms)
            t0_ms = ms;
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%lld%s\n", ms, line);
            if (fclose(f) == 0)
                rename(tmp, state);
        }
        if (strcmp(line, last) && t0 - last_log >= 0.25) {
            fprintf(log, "%7.1f%s\n", (double)(ms - t0_ms) / 1e3, line);
            fflush(log);
            snprintf(last, sizeof last, "%s", line);
            last_log = t0;
        }
        double left = interval_ms / 1e3 - (now_s() - t0);
        if (left > 0)
            usleep((useconds_t)(left * 1e6));
    }
    for (size_t k = 0; k < nl.n; k++)
        node_client_close(cs[k]);
    fclose(log);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fault_client load|blocks|acks|monitor [options] (see the source)\n");
        return 2;
    }
    const char *mode = argv[1];
    argv++, argc--;
    if (!strcmp(mode, "load"))
        return load_main(argc, argv);
    if (!strcmp(mode, "blocks"))
        return blocks_main(argc, argv);
    if (!strcmp(mode, "acks"))
        return acks_main(argc, argv);
    if (!strcmp(mode, "monitor"))
        return monitor_main(argc, argv);
    fprintf(stderr, "fault_client: unknown mode %s\n", mode);
    return 2;
}
