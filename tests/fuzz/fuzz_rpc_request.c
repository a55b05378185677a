/*
 * fuzz_rpc_request: fwledgerd's RPC request path, from the bytes a client sends to the
 * answers it gets back: framing (a 4-byte big-endian length, at most NODE_RPC_MAX_REQUEST),
 * the fwl.Request decode, the daemon's dispatch (server.c) and request handlers (writes.c,
 * reads.c, the eligibility worker), the mempool's admission on the thread pool and block
 * production by a single validator, against a real store.
 *
 * How: a whole node (node_run) runs on a thread of its own, with the fixed genesis of
 * fuzz_common.h (its validator key is this node's) and a data directory on tmpfs that
 * starts with two blocks holding every kind of transaction: releases, revocations, author
 * changes, a contract deploy, a binding, a tracker and an outcome report. This file is the
 * node's rpc component: it defines every function of node/daemon/rpc.h, so the archive's
 * rpc.o (sockets, TLS) is not linked and a connection is a struct of its own here. (A
 * function rpc.h gains must be added here too; until it is, the link fails with duplicate
 * symbols.) Each input is handed to the node's loop (uv_async) as what one new connection
 * sent: whole frames are decoded and handed to the node's on_request as rpc.c does, at most
 * NODE_RPC_FRAMES_PER_TURN of them (one read), then on_read_end. The input is done when
 * every request has its answer, except WaitForTx requests still waiting (the connection
 * then closes: their answers would go nowhere).
 *
 * Checks, on every answer: it encodes (a node that cannot encode an answer closes the
 * connection, which fails here), it fits NODE_RPC_MAX_RESPONSE, it decodes as a client
 * decodes it (list records, device answers and blocks included), and it answers a request
 * of this input with that id, as an error or as the kind of answer asked for, no request
 * twice. An error has a message and a code docs/protocol.md lists for answers: a ledger
 * code other than those that stay inside the nodes (-20, -21, -22, -24), NODE_ETIMEOUT to
 * NODE_EPENDING, and for one device of an Eligible answer also CTR_ETOOBIG to CTR_EINVAL.
 * Every request of an input is answered within ANSWER_WAIT_S. ASan and UBSan watch the
 * node's threads too.
 *
 * State carries over from input to input, as in a running node: a seed's new transaction
 * commits the first time it runs and is refused as committed (-15) afterwards; waiters stay
 * in the mempool until their deadline.
 *
 * Input: what a client writes on its connection: frames of u32be length || fwl.Request.
 * Seeds: every kind of request, valid, and a few broken frames, written at startup (with
 * this run's block hash; tests/fuzz/corpus/fuzz_rpc_request holds a copy).
 * FZ_RPC_VERBOSE=1 in the environment prints every answer (id, kind, error code, message).
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

#include <pb_decode.h>
#include <pb_encode.h>
#include <uv.h>

#include "contracts/contracts.h"
#include "node/client/client.h"
#include "node/daemon/daemon.h"
#include "node/daemon/elg_worker.h"
#include "node/daemon/rpc.h"
#include "tests/fuzz/fuzz_common.h"

#define FRAMES_MAX NODE_RPC_FRAMES_PER_TURN
#define ANSWER_WAIT_S 30

static ldg_genesis G;

/* ---------------------------------------------------------------------------------------- */
/* The hand-over between libFuzzer's thread and the node's loop                              */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const uint8_t *data; /* the input being served; NULL when taken */
    size_t size;
    bool done;           /* every request of the input is answered */
    bool ready;          /* node_rpc_start ran: the loop will serve inputs */
    bool exited;         /* node_run returned */
    int rc;
    char err[512];
} hand = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void hand_set(bool *flag)
{
    pthread_mutex_lock(&hand.mu);
    *flag = true;
    pthread_cond_broadcast(&hand.cv);
    pthread_mutex_unlock(&hand.mu);
}

/* Wait (mutex held) until *flag, at most ANSWER_WAIT_S; false on timeout. */
static bool hand_wait(bool *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ANSWER_WAIT_S;
    while (!*flag && !hand.exited)
        if (pthread_cond_timedwait(&hand.cv, &hand.mu, &until))
            return *flag;
    return *flag;
}

/* ---------------------------------------------------------------------------------------- */
/* The rpc component: one connection at a time, answers checked as they are written         */

struct node_rpc_conn {
    uint32_t gen;   /* bumped when the input is done: the connection is gone */
    bool open;
    size_t pending, waits;
    uint8_t *out;   /* the answer between frame_begin and frame_end */
    size_t out_cap;
};

typedef struct {
    uint64_t id;
    pb_size_t which; /* the request's kind (a Response has the same tags), 0 for none */
    bool answered;
} req_rec;

static node_rpc *R;      /* the node's rpc component (node_rpc_init)            */
static node_rpc_conn C;  /* the connection of the input being served            */
static uv_async_t in_async;
static uv_check_t done_check;
static struct {
    req_rec req[FRAMES_MAX + 1];
    size_t n, answered;
    bool active;
} cur;

static void check_answer(const uint8_t *buf, size_t len);

int node_rpc_init(node_rpc *r, const node_rpc_config *cfg)
{
    if (!r)
        return LDG_EINVALID;
    memset(r, 0, sizeof *r);
    if (!cfg || !cfg->loop || !cfg->on_request || cfg->max_clients == 0)
        return LDG_EINVALID;
    r->cfg = *cfg;
    R = r;
    return 0;
}

static void on_input(uv_async_t *h);

int node_rpc_start(node_rpc *r, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    uv_async_init(r->cfg.loop, &in_async, on_input);
    uv_check_init(r->cfg.loop, &done_check);
    r->started = true;
    hand_set(&hand.ready);
    return 0;
}

void node_rpc_stop(node_rpc *r)
{
    if (r->started && !uv_is_closing((uv_handle_t *)&in_async)) {
        uv_close((uv_handle_t *)&in_async, NULL);
        uv_close((uv_handle_t *)&done_check, NULL);
    }
    C.open = false;
}

void node_rpc_close(node_rpc *r)
{
    if (r == R)
        R = NULL;
    free(C.out);
    C.out = NULL;
    C.out_cap = 0;
}

node_reply_to node_rpc_reply_to(const node_rpc_conn *c, uint64_t id)
{
    return (node_reply_to){0, c->gen, id};
}

node_rpc_conn *node_rpc_conn_of(node_rpc *r, node_reply_to to)
{
    (void)r;
    return to.slot == 0 && to.gen == C.gen && C.open ? &C : NULL;
}

size_t *node_rpc_conn_pending(node_rpc_conn *c)
{
    return &c->pending;
}

size_t *node_rpc_conn_waits(node_rpc_conn *c)
{
    return &c->waits;
}

void node_rpc_conn_pause(node_rpc_conn *c, uint32_t ms)
{
    (void)c, (void)ms; /* the rates are off here (make_node) */
}

const ldg_pubkey *node_rpc_conn_client_key(const node_rpc_conn *c)
{
    (void)c;
    return NULL; /* no client certificate: the requests of an anonymous client */
}

void node_rpc_conn_addr(node_rpc_conn *c, char *out, size_t len)
{
    (void)c;
    snprintf(out, len, "fuzz:0");
}

fwl_Response *node_rpc_new_resp(node_rpc *r, uint64_t id, pb_size_t which)
{
    memset(&r->resp, 0, sizeof r->resp);
    r->resp.id = id;
    r->resp.which_resp = which;
    return &r->resp;
}

uint8_t *node_rpc_frame_begin(node_rpc_conn *c, size_t size)
{
    FZ_CHECK(c->open, "an answer to a connection that is gone");
    if (size > c->out_cap) {
        free(c->out);
        c->out_cap = size;
        c->out = malloc(size);
        FZ_CHECK(c->out, "malloc");
    }
    return c->out;
}

void node_rpc_frame_end(node_rpc_conn *c, size_t size)
{
    check_answer(c->out, size);
}

void node_rpc_close_conn(node_rpc_conn *c)
{
    (void)c;
    FZ_CHECK(false, "the node closed the connection: an answer it could not encode, or no "
                    "memory for one");
}

void node_rpc_send_resp(node_rpc_conn *c, const fwl_Response *resp)
{
    size_t size;
    if (!pb_get_encoded_size(&size, fwl_Response_fields, resp)) {
        node_rpc_close_conn(c);
        return;
    }
    uint8_t *p = node_rpc_frame_begin(c, size);
    pb_ostream_t os = pb_ostream_from_buffer(p, size);
    if (!pb_encode(&os, fwl_Response_fields, resp))
        node_rpc_close_conn(c);
    node_rpc_frame_end(c, size);
}

void node_rpc_send_error(node_rpc_conn *c, uint64_t id, int code, const char *fmt, ...)
{
    fwl_Response *resp = node_rpc_new_resp(R, id, fwl_Response_error_tag);
    resp->resp.error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->resp.error.message, sizeof resp->resp.error.message, fmt, ap);
    va_end(ap);
    node_rpc_send_resp(c, resp);
}

void node_rpc_flush(node_rpc *r)
{
    (void)r; /* answers are checked as they are written */
}

/* ---------------------------------------------------------------------------------------- */
/* Checking an answer as a client reads it                                                   */

static bool dec_record(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    static fwl_ReleaseRecord rec;
    (void)f, (void)arg;
    return pb_decode(st, fwl_ReleaseRecord_fields, &rec);
}

static bool dec_device(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    static fwl_DeviceAnswer a;
    (void)f, (void)arg;
    if (!pb_decode(st, fwl_DeviceAnswer_fields, &a))
        return false;
    FZ_CHECK(!a.has_error || (a.error.code < 0 && a.error.message[0]),
             "device answer: error %d without a message", a.error.code);
    int c = a.error.code;
    FZ_CHECK(!a.has_error || (c <= LDG_ENOMEM && c >= LDG_EMAPFULL && c != LDG_ELOCKED &&
                              c != LDG_EBLOCK && c != LDG_EGENESIS && c != LDG_ETIME) ||
                 (c <= CTR_ETOOBIG && c >= CTR_EINVAL),
             "device answer: error %d (%s) is not one docs/protocol.md lists", c,
             node_strerror(c));
    return true;
}

static bool dec_block(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f, (void)arg;
    size_t n = st->bytes_left;
    uint8_t *b = malloc(n ? n : 1);
    ldg_block blk;
    bool ok = b && pb_read(st, b, n) && ldg_block_decode(b, n, &blk) == 0;
    if (ok)
        ldg_block_free(&blk);
    free(b);
    return ok;
}

/* Called before the Response's oneof member is decoded: its own callbacks go in here. */
static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st, (void)arg;
    if (f->tag == fwl_Response_list_releases_tag)
        ((fwl_ListReleasesResp *)f->pData)->records.funcs.decode = dec_record;
    else if (f->tag == fwl_Response_eligible_tag)
        ((fwl_EligibleResp *)f->pData)->answers.funcs.decode = dec_device;
    else if (f->tag == fwl_Response_get_block_tag)
        ((fwl_GetBlockResp *)f->pData)->block.funcs.decode = dec_block;
    return true;
}

/* The codes docs/protocol.md lists for Response.error. */
static bool answer_code_ok(int c)
{
    if (c <= LDG_ENOMEM && c >= LDG_EMAPFULL)
        return c != LDG_ELOCKED && c != LDG_EBLOCK && c != LDG_EGENESIS && c != LDG_ETIME &&
               strcmp(node_strerror(c), "unknown error");
    return c <= NODE_ETIMEOUT && c >= NODE_EPENDING;
}

/* The request of this input that an answer (id, kind) answers; fails when there is none. */
static void match_answer(uint64_t id, pb_size_t which)
{
    bool seen = false, kind_ok = which == fwl_Response_error_tag;
    req_rec *same = NULL, *any = NULL;
    for (size_t i = 0; i < cur.n; i++) {
        req_rec *q = &cur.req[i];
        if (q->id != id)
            continue;
        seen = true;
        kind_ok |= q->which == which;
        if (!q->answered && !same && q->which == which)
            same = q;
        if (!q->answered && !any)
            any = q;
    }
    FZ_CHECK(seen, "an answer to id %llu, which no request of this input has",
             (unsigned long long)id);
    FZ_CHECK(kind_ok, "an answer of kind %u to id %llu, which asked for none", (unsigned)which,
             (unsigned long long)id);
    req_rec *q = same ? same : any;
    FZ_CHECK(q, "more answers than requests with id %llu", (unsigned long long)id);
    q->answered = true;
    cur.answered++;
}

static void check_answer(const uint8_t *buf, size_t len)
{
    static fwl_Response resp;
    FZ_CHECK(cur.active, "an answer while no input is served");
    FZ_CHECK(len <= NODE_RPC_MAX_RESPONSE, "an answer of %zu bytes", len);
    memset(&resp, 0, sizeof resp);
    resp.cb_resp.funcs.decode = on_member;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    FZ_CHECK(pb_decode(&st, fwl_Response_fields, &resp), "an answer does not decode: %s",
             PB_GET_ERROR(&st));
    if (getenv("FZ_RPC_VERBOSE") && resp.which_resp == fwl_Response_error_tag)
        fprintf(stderr, "answer: id %llu error %d %s\n", (unsigned long long)resp.id,
                resp.resp.error.code, resp.resp.error.message);
    else if (getenv("FZ_RPC_VERBOSE"))
        fprintf(stderr, "answer: id %llu kind %u\n", (unsigned long long)resp.id,
                (unsigned)resp.which_resp);
    if (resp.which_resp == fwl_Response_error_tag) {
        const fwl_Error *e = &resp.resp.error;
        FZ_CHECK(answer_code_ok(e->code), "error %d (%s) is not one docs/protocol.md lists for "
                 "answers: %s", e->code, node_strerror(e->code), e->message);
        FZ_CHECK(e->message[0], "error %d without a message", e->code);
    }
    match_answer(resp.id, resp.which_resp);
}

/* ---------------------------------------------------------------------------------------- */
/* Serving an input on the loop, as rpc.c's pump serves one read                             */

static void record(uint64_t id, pb_size_t which)
{
    cur.req[cur.n++] = (req_rec){id, which, false};
}

static void handle_frame(const uint8_t *buf, size_t len)
{
    fwl_Request *req = &R->req;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Request_fields, req)) {
        const char *e = PB_GET_ERROR(&st);
        int code = ldg_decode_error(e);
        record(req->id, 0);
        node_rpc_send_error(&C, req->id, code, "%s request: %s",
                            code == LDG_ETOOBIG ? "oversized field in" : "malformed",
                            e ? e : "decode error");
        return;
    }
    record(req->id, req->which_req);
    R->cfg.on_request(R->cfg.ctx, &C, req);
}

static void serve(const uint8_t *data, size_t size)
{
    size_t off = 0, served = 0;
    while (served < FRAMES_MAX && size - off >= 4) {
        const uint8_t *p = data + off;
        size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (len > NODE_RPC_MAX_REQUEST) { /* answered, then the connection closes */
            record(0, 0);
            node_rpc_send_error(&C, 0, NODE_EFRAME, "request frame of %zu bytes exceeds the "
                                "limit of %u", len, NODE_RPC_MAX_REQUEST);
            break;
        }
        if (size - off - 4 < len)
            break; /* a partial frame: the node would wait for the rest */
        handle_frame(p + 4, len);
        served++;
        off += 4 + len;
    }
    if (served && R->cfg.on_read_end)
        R->cfg.on_read_end(R->cfg.ctx);
}

/* Every request answered but the WaitForTx ones still waiting: the connection goes. */
static void maybe_done(void)
{
    if (!cur.active || cur.answered + C.waits < cur.n)
        return;
    FZ_CHECK(cur.answered + C.waits == cur.n && C.pending == 0,
             "%zu requests, %zu answered, %zu waiting, %zu devices pending", cur.n,
             cur.answered, C.waits, C.pending);
    cur.active = false;
    C.open = false;
    C.gen++;
    uv_check_stop(&done_check);
    hand_set(&hand.done);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    maybe_done();
}

static void on_input(uv_async_t *h)
{
    (void)h;
    pthread_mutex_lock(&hand.mu);
    const uint8_t *data = hand.data;
    size_t size = hand.size;
    hand.data = NULL;
    pthread_mutex_unlock(&hand.mu);
    if (!data)
        return;
    memset(&cur, 0, sizeof cur);
    cur.active = true;
    C.open = true;
    C.waits = C.pending = 0;
    serve(data, size);
    uv_check_start(&done_check, on_check);
    maybe_done();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t none[1];
    pthread_mutex_lock(&hand.mu);
    FZ_CHECK(!hand.exited, "the node stopped: %d %s", hand.rc, hand.err);
    hand.data = size ? data : none;
    hand.size = size;
    hand.done = false;
    pthread_mutex_unlock(&hand.mu);
    uv_async_send(&in_async);
    pthread_mutex_lock(&hand.mu);
    bool done = hand_wait(&hand.done);
    pthread_mutex_unlock(&hand.mu);
    FZ_CHECK(done, "requests without an answer after %d s (or the node stopped: %d %s)",
             ANSWER_WAIT_S, hand.rc, hand.err);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The chain the node starts from                                                            */

#define CONTRACT_NAME "cam-policy"
#define CONTRACT_SRC                                                                         \
    "let canary = \"canary\" in device.tags\n"                                               \
    "rule base: defaults()\n"                                                                \
    "rule rollout: canary or bucket(device.id, release) < 2500\n"                            \
    "    because \"device bucket {bucket(device.id, release)} is outside the first 25%\"\n"

static void sign1(fz_tx *t, const fz_key *k)
{
    const fz_key *ks[] = {k};
    fz_sign(&G, t, ks, 1);
}

static void contract_tx(fz_tx *t, uint64_t nonce)
{
    fz_body_init(&G, nonce, fwl_TxBody_contract_tag);
    snprintf(fz_body.payload.contract.name, sizeof fz_body.payload.contract.name, CONTRACT_NAME);
    snprintf(fz_body.payload.contract.source, sizeof fz_body.payload.contract.source, "%s",
             CONTRACT_SRC);
    sign1(t, &fz_admin);
}

static void bind_tx(fz_tx *t, uint64_t nonce)
{
    fz_body_init(&G, nonce, fwl_TxBody_bind_tag);
    fwl_BindTx *b = &fz_body.payload.bind;
    snprintf(b->product, sizeof b->product, "cam-fw");
    snprintf(b->hardware_model, sizeof b->hardware_model, "cam-v3");
    snprintf(b->contract, sizeof b->contract, CONTRACT_NAME);
    sign1(t, &fz_admin);
}

static void set_key(fwl_PublicKey *k, const ldg_pubkey *p)
{
    k->alg = p->alg;
    memcpy(k->key.bytes, p->key, p->len);
    k->key.size = (pb_size_t)p->len;
}

static void tracker_tx(fz_tx *t, uint64_t nonce, const fz_key *who)
{
    fz_body_init(&G, nonce, fwl_TxBody_tracker_tag);
    fwl_TrackerTx *tr = &fz_body.payload.tracker;
    tr->op = fwl_AuthorOp_AUTHOR_ADD;
    tr->has_key = true;
    set_key(&tr->key, &who->pub);
    snprintf(tr->name, sizeof tr->name, "tracker");
    sign1(t, &fz_admin);
}

static void report_tx(fz_tx *t, uint64_t nonce, const fz_key *tracker, uint8_t file_byte)
{
    fz_body_init(&G, nonce, fwl_TxBody_report_tag);
    fwl_ReportTx *r = &fz_body.payload.report;
    r->reports_count = 1;
    r->reports[0].has_file_hash = true;
    r->reports[0].file_hash.alg = LDG_HASH_SHA256;
    memset(r->reports[0].file_hash.digest.bytes, file_byte, 32);
    r->reports[0].file_hash.digest.size = 32;
    r->reports[0].succeeded = 5;
    r->reports[0].failed = 1;
    sign1(t, tracker);
}

/* Build, sign and commit a block of n txs at time_ms; every one must go in. */
static void commit_block(ldg_store *st, const fz_tx *txs, size_t n, uint64_t time_ms)
{
    const uint8_t *raw[16];
    size_t lens[16], hl, bl;
    int res[16];
    uint8_t hdr[LDG_HEADER_MAX], hash[LDG_DIGEST_LEN], *blk;
    ldg_tip tip;
    fwl_Signature sig;
    FZ_CHECK(n <= 16, "block of %zu", n);
    for (size_t i = 0; i < n; i++)
        raw[i] = txs[i].buf, lens[i] = txs[i].len;
    FZ_CHECK(ldg_store_build_block(st, raw, lens, n, time_ms, &fz_validator.pub, res, hdr, &hl,
                                   hash) == 0, "build");
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(res[i] == 0, "prepared tx %zu refused: %s", i, ldg_strerror(res[i]));
    ldg_store_tip(st, &tip);
    fz_commit_sig(&G, &fz_validator, tip.height + 1, 0, hash, &sig);
    FZ_CHECK(ldg_block_encode(hdr, hl, raw, lens, n, &sig, 1, 0, &blk, &bl) == 0, "encode");
    FZ_CHECK(ldg_store_commit_built(st, blk, bl) == 0, "commit");
    free(blk);
}

/* What seeds need from the prepared chain: block 1's hash, the cursor after cam-fw's first
 * release. */
static uint8_t block1_hash[LDG_DIGEST_LEN], cursor[LDG_CURSOR_MAX];
static size_t cursor_len;

static int skip_record(void *ctx, const fwl_ReleaseRecord *rec)
{
    (void)ctx, (void)rec;
    return 0;
}

static void seed_refs(ldg_store *st)
{
    uint8_t *blk;
    size_t len;
    uint64_t at;
    FZ_CHECK(ldg_store_block_by_height(st, 1, &blk, &len, block1_hash) == 0, "block 1");
    free(blk);
    FZ_CHECK(ldg_store_list_releases(st, "cam-fw", "", 1, NULL, 0, skip_record, NULL, cursor,
                                     &cursor_len, &at) == 0 && cursor_len, "cursor");
}

/* Block 1: fuzz_common's samples; block 2: another release, a contract bound to a product's
 * model, a tracker and its report. */
static void prepare_store(const node_config *cfg)
{
    static fz_tx more[5];
    ldg_store *st;
    uint64_t t_ms = 1700000000000; /* fixed (the node's own blocks come later, at its clock) */
    FZ_CHECK(ldg_store_open(&st, cfg->data_dir, &G, (size_t)cfg->map_size_mib << 20) == 0,
             "store %s", cfg->data_dir);
    ldg_store_set_contract_check(st, node_elg_contract_check, NULL);
    fz_make_samples(&G);
    commit_block(st, fz_samples, FZ_N_SAMPLES, t_ms);
    fz_publish(&G, &more[0], &fz_author, 4, "2.1.0", 4, 0xa4, LDG_HASH_SHA256);
    contract_tx(&more[1], 3);
    bind_tx(&more[2], 4);
    tracker_tx(&more[3], 5, &fz_other);
    report_tx(&more[4], 3, &fz_other, 0xa3);
    commit_block(st, more, 5, t_ms + 30000);
    seed_refs(st);
    ldg_store_close(st);
}

static void *node_thread(void *arg)
{
    const node_config *cfg = arg;
    char err[512] = "";
    int rc = node_run(cfg, NULL, err, sizeof err);
    pthread_mutex_lock(&hand.mu);
    hand.rc = rc;
    snprintf(hand.err, sizeof hand.err, "%s", err);
    hand.exited = true;
    pthread_cond_broadcast(&hand.cv);
    pthread_mutex_unlock(&hand.mu);
    return NULL;
}

/* At exit, stop the node as SIGTERM stops it (node_run's libuv handler takes the signal),
 * so that none of its threads still runs while the exit handlers free what they use
 * (OpenSSL's, the temporary directory's). */
static void stop_node(void)
{
    pthread_mutex_lock(&hand.mu);
    bool running = !hand.exited;
    pthread_mutex_unlock(&hand.mu);
    if (!running)
        return;
    raise(SIGTERM);
    pthread_mutex_lock(&hand.mu);
    hand_wait(&hand.exited);
    pthread_mutex_unlock(&hand.mu);
}

/* genesis.json, validator.key and the store in a fresh directory; the node's config. */
static void make_node(node_config *cfg)
{
    const char *root = fz_tmpdir("rpc_request");
    node_config_defaults(cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/data", root);
    snprintf(cfg->genesis, sizeof cfg->genesis, "%s/genesis.json", root);
    snprintf(cfg->validator_key, sizeof cfg->validator_key, "%s/validator.key", root);
    cfg->map_size_mib = 256;
    cfg->rpc_plaintext = true; /* the connection is simulated (the stubs above): no TLS */
    cfg->rpc_rate_requests = cfg->rpc_rate_decisions = 0; /* rates run on the wall clock */
    FZ_CHECK(node_genesis_save(cfg->genesis, &G) == 0, "genesis");
    node_key k = {.alg = fz_validator.sec.alg, .pub = fz_validator.pub};
    memcpy(k.sec, fz_validator.sec.sec, sizeof k.sec);
    FZ_CHECK(node_key_save(cfg->validator_key, &k) == 0, "validator key");
    prepare_store(cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* Seeds                                                                                     */

typedef struct {
    uint8_t buf[1 << 16];
    size_t len;
} seedbuf;

static fwl_Request sreq;

static fwl_Request *req_init(uint64_t id, pb_size_t which)
{
    memset(&sreq, 0, sizeof sreq);
    sreq.id = id;
    sreq.which_req = which;
    return &sreq;
}

/* sreq as a frame at the end of s. */
static void put_frame(seedbuf *s)
{
    size_t size;
    FZ_CHECK(pb_get_encoded_size(&size, fwl_Request_fields, &sreq) &&
                 s->len + 4 + size <= sizeof s->buf, "seed frame");
    uint8_t *p = s->buf + s->len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8);
    p[3] = (uint8_t)size;
    pb_ostream_t os = pb_ostream_from_buffer(p + 4, size);
    FZ_CHECK(pb_encode(&os, fwl_Request_fields, &sreq), "seed encode");
    s->len += 4 + size;
}

static void tx_hash(const fz_tx *t, uint8_t out[LDG_DIGEST_LEN])
{
    ldg_tx *p = malloc(sizeof *p);
    FZ_CHECK(p && ldg_tx_parse(&G, 1, t->buf, t->len, p, NULL) == 0, "seed tx");
    memcpy(out, p->hash, LDG_DIGEST_LEN);
    free(p);
}

static void device(fwl_Device *d, const char *id, const char *model)
{
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->hardware_model, sizeof d->hardware_model, "%s", model);
    d->hardware_rev = 3;
    d->addons_count = 1;
    snprintf(d->addons[0], sizeof d->addons[0], "lora");
    d->packages_count = 2;
    snprintf(d->packages[0].name, sizeof d->packages[0].name, "cam-fw");
    snprintf(d->packages[0].version, sizeof d->packages[0].version, "1.0.0");
    snprintf(d->packages[1].name, sizeof d->packages[1].name, "libfoo");
    snprintf(d->packages[1].version, sizeof d->packages[1].version, "2.2.0");
    snprintf(d->region, sizeof d->region, "eu");
    d->tags_count = 1;
    snprintf(d->tags[0], sizeof d->tags[0], "canary");
}

/* One request of each kind (index k), valid. */
static void put_request(seedbuf *s, int k, const fz_tx *fresh)
{
    fwl_Request *q;
    switch (k) {
    case 0: req_init(1, fwl_Request_status_tag); break;
    case 1:
        q = req_init(2, fwl_Request_get_block_tag);
        q->req.get_block.which_by = fwl_GetBlockReq_height_tag;
        q->req.get_block.by.height = 1;
        break;
    case 2: req_init(3, fwl_Request_get_block_tag); break; /* the latest */
    case 3:
        q = req_init(4, fwl_Request_get_release_tag);
        q->req.get_release.has_file_hash = true;
        q->req.get_release.file_hash.alg = LDG_HASH_SHA256;
        memset(q->req.get_release.file_hash.digest.bytes, 0xa3, 32);
        q->req.get_release.file_hash.digest.size = 32;
        break;
    case 4:
        q = req_init(5, fwl_Request_list_releases_tag);
        snprintf(q->req.list_releases.product, sizeof q->req.list_releases.product, "cam-fw");
        q->req.list_releases.limit = 2;
        break;
    case 5:
        q = req_init(6, fwl_Request_nonce_tag);
        q->req.nonce.has_key = true;
        set_key(&q->req.nonce.key, &fz_author.pub);
        break;
    case 6:
        q = req_init(7, fwl_Request_eligible_tag);
        q->req.eligible.devices_count = 2;
        device(&q->req.eligible.devices[0], "dev-1", "cam-v2");
        device(&q->req.eligible.devices[1], "dev-2", "cam-v3");
        break;
    case 7:
        q = req_init(8, fwl_Request_get_contract_tag);
        snprintf(q->req.get_contract.name, sizeof q->req.get_contract.name, CONTRACT_NAME);
        break;
    case 8:
        q = req_init(11, fwl_Request_get_block_tag);
        q->req.get_block.which_by = fwl_GetBlockReq_hash_tag;
        memcpy(q->req.get_block.by.hash.bytes, block1_hash, LDG_DIGEST_LEN);
        q->req.get_block.by.hash.size = LDG_DIGEST_LEN;
        break;
    case 9:
        q = req_init(12, fwl_Request_list_releases_tag);
        snprintf(q->req.list_releases.product, sizeof q->req.list_releases.product, "cam-fw");
        q->req.list_releases.limit = 1;
        memcpy(q->req.list_releases.after.bytes, cursor, cursor_len);
        q->req.list_releases.after.size = (pb_size_t)cursor_len;
        break;
    case 10:
        q = req_init(13, fwl_Request_get_contract_tag);
        snprintf(q->req.get_contract.name, sizeof q->req.get_contract.name, CONTRACT_NAME);
        q->req.get_contract.version = 1;
        break;
    case 11: /* a revoked release (two leaves) and the consistency from the first leaf */
        q = req_init(14, fwl_Request_get_log_proof_tag);
        q->req.get_log_proof.has_file_hash = true;
        q->req.get_log_proof.file_hash.alg = LDG_HASH_SHA256;
        memset(q->req.get_log_proof.file_hash.digest.bytes, 0xa1, 32);
        q->req.get_log_proof.file_hash.digest.size = 32;
        q->req.get_log_proof.from_size = 1;
        break;
    case 12: req_init(15, fwl_Request_get_log_proof_tag); break; /* the head alone */
    case 13:
        q = req_init(9, fwl_Request_submit_tx_tag);
        memcpy(q->req.submit_tx.tx.bytes, fresh->buf, fresh->len);
        q->req.submit_tx.tx.size = (pb_size_t)fresh->len;
        break;
    default:
        q = req_init(10, fwl_Request_wait_for_tx_tag);
        tx_hash(fresh, q->req.wait_for_tx.tx_hash.bytes);
        q->req.wait_for_tx.tx_hash.size = LDG_DIGEST_LEN;
        q->req.wait_for_tx.timeout_ms = 2000;
        break;
    }
    put_frame(s);
}

static void write_seeds(const char *dir)
{
    static const char *const names[] = {
        "status",   "block-1",  "block-latest", "release",    "releases",  "nonce",
        "eligible", "contract", "block-hash",   "releases-after", "contract-v1", "log-proof",
        "log-head", "submit", "wait"};
    static seedbuf s;
    static fz_tx fresh;
    fz_publish(&G, &fresh, &fz_author, 5, "3.0.0", 5, 0xa5, LDG_HASH_SHA256);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        s.len = 0;
        put_request(&s, (int)k, &fresh);
        fz_write_seed(dir, names[k], s.buf, s.len);
    }
    s.len = 0; /* every kind in one read, with a committed sample to submit and wait for */
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        put_request(&s, (int)k, &fz_samples[0]);
    fz_write_seed(dir, "all", s.buf, s.len);
    static const uint8_t too_big[] = {0x00, 0x01, 0x00, 0x01, 0x08, 0x01};
    fz_write_seed(dir, "frame-too-big", too_big, sizeof too_big);
    static const uint8_t bad[] = {0x00, 0x00, 0x00, 0x03, 0x08, 0x01, 0xff, 0, 0, 0, 2, 0x08, 2};
    fz_write_seed(dir, "malformed-then-empty", bad, sizeof bad);
}

/* ---------------------------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static node_config cfg;
    static pthread_t th;
    /* p256-ecdsa (the genesis author's) stays allowed; sha3-256 is deprecated from 2, so
     * file hashes in it are refused in new transactions but still found by GetRelease. */
    fz_genesis(&G, 1000000000, 2);
    make_node(&cfg);
    FZ_CHECK(pthread_create(&th, NULL, node_thread, &cfg) == 0, "thread");
    pthread_mutex_lock(&hand.mu);
    bool ready = hand_wait(&hand.ready);
    pthread_mutex_unlock(&hand.mu);
    FZ_CHECK(ready && !hand.exited, "the node did not start: %d %s", hand.rc, hand.err);
    atexit(stop_node); /* after fz_tmpdir's and OpenSSL's: it runs before them */
    const char *dir = fz_corpus_dir(*argc, *argv);
    if (dir)
        write_seeds(dir);
    return 0;
}
