/*
 * The Eligible answer's wire encoder (node/daemon/elg_wire.h) against nanopb's own encoding.
 * Every case: elg_wire_size, elg_wire_write into a buffer of exactly that size (a guard
 * after it stays untouched), nanopb decodes the bytes into fwl_Response, the decoded fields
 * are what was decided (strings cut to the sizes of the .options), and pb_encode of the
 * decoded message gives the very same bytes. Cases: decisions of the pure decider
 * (ctr_decide) on a few fixed and many seeded random candidate sets and devices, answers
 * filled by hand with random and edge values (empty answers, no device, zero height and id,
 * empty hashes, the largest counts, strings at, below and past their wire limits, device
 * errors with negative codes), the largest answer a request can get, and a size that is
 * not the answers' refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "contracts/contracts.h"
#include "node/daemon/elg_wire.h"
#include "tests/consensus/splitmix.h"

#define MAX_DEV (sizeof ((fwl_EligibleReq *)0)->devices / sizeof(fwl_Device)) /* in one request */
#define GUARD 64
#define SMAX(type, field) (sizeof ((type *)0)->field - 1)

/* --- encode, decode, re-encode, compare --------------------------------------------------- */

static uint8_t buf[1u << 21], again[1u << 21];
static fwl_Response resp;
static fwl_DeviceAnswer decoded[MAX_DEV];
static size_t n_decoded;

static bool dec_answer(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)f, (void)arg;
    if (n_decoded == MAX_DEV)
        return false;
    memset(&decoded[n_decoded], 0, sizeof decoded[0]);
    return pb_decode(st, fwl_DeviceAnswer_fields, &decoded[n_decoded++]);
}

static bool on_member(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    (void)st, (void)arg;
    if (f->tag == fwl_Response_eligible_tag)
        ((fwl_EligibleResp *)f->pData)->answers.funcs.decode = dec_answer;
    return true;
}

static bool enc_answers(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    (void)arg;
    for (size_t i = 0; i < n_decoded; i++)
        if (!pb_encode_tag_for_field(st, f) ||
            !pb_encode_submessage(st, fwl_DeviceAnswer_fields, &decoded[i]))
            return false;
    return true;
}

/* s as the wire carries it: its first max bytes. */
static void same_str(const char *got, const char *want, size_t max)
{
    size_t n = strnlen(want, max);
    assert_int_equal(strlen(got), n);
    assert_memory_equal(got, want, n);
}

static void same_ref(const fwl_ReleaseRef *r, const ctr_candidate *c)
{
    same_str(r->product, c->r.product, SMAX(fwl_ReleaseRef, product));
    same_str(r->version, c->r.version, SMAX(fwl_ReleaseRef, version));
    assert_true(r->has_file_hash);
    assert_int_equal(r->file_hash.alg, c->hash_alg);
    assert_int_equal(r->file_hash.digest.size, c->r.file_hash_len);
    if (c->r.file_hash_len)
        assert_memory_equal(r->file_hash.digest.bytes, c->r.file_hash, c->r.file_hash_len);
}

static int wire_status(int status)
{
    return status == CTR_URGENT             ? fwl_DeviceStatus_URGENT
           : status == CTR_UPDATE_AVAILABLE ? fwl_DeviceStatus_UPDATE_AVAILABLE
                                            : fwl_DeviceStatus_UP_TO_DATE;
}

static size_t cases, total_bytes;

/* The whole round trip for answers o[0..n) at tip t, request id. Returns the size. */
static size_t round_trip(uint64_t id, elg_device_answer *o, size_t n, const ldg_tip *t)
{
    size_t size = elg_wire_size(id, o, n, t, 0);
    assert_true(size + GUARD <= sizeof buf);
    memset(buf, 0xa5, size + GUARD);
    assert_int_equal(elg_wire_write(buf, size, id, o, n, t, NULL, 0), size);
    for (size_t i = 0; i < GUARD; i++)
        assert_int_equal(buf[size + i], 0xa5);

    memset(&resp, 0, sizeof resp);
    n_decoded = 0;
    resp.cb_resp.funcs.decode = on_member;
    pb_istream_t is = pb_istream_from_buffer(buf, size);
    if (!pb_decode(&is, fwl_Response_fields, &resp))
        fail_msg("nanopb: %s", PB_GET_ERROR(&is));
    assert_int_equal(is.bytes_left, 0);
    assert_int_equal(resp.id, id);
    assert_int_equal(resp.which_resp, fwl_Response_eligible_tag);
    const fwl_EligibleResp *e = &resp.resp.eligible;
    assert_int_equal(e->at_height, t->height);
    assert_int_equal(e->block_hash.size, LDG_DIGEST_LEN);
    assert_memory_equal(e->block_hash.bytes, t->hash, LDG_DIGEST_LEN);
    assert_int_equal(n_decoded, n);
    for (size_t k = 0; k < n; k++) {
        const fwl_DeviceAnswer *d = &decoded[k];
        same_str(d->device_id, o[k].id, SMAX(fwl_DeviceAnswer, device_id));
        assert_int_equal(d->has_error, o[k].error != 0);
        if (o[k].error) {
            assert_int_equal(d->error.code, o[k].error);
            same_str(d->error.message, o[k].message, SMAX(fwl_Error, message));
        }
        assert_int_equal(d->products_count, o[k].n);
        for (size_t i = 0; i < o[k].n; i++) {
            const fwl_ProductAnswer *p = &d->products[i];
            const ctr_answer *a = &o[k].ans[i];
            same_str(p->product, a->product, SMAX(fwl_ProductAnswer, product));
            same_str(p->installed, a->installed, SMAX(fwl_ProductAnswer, installed));
            assert_int_equal(p->status, wire_status(a->status));
            assert_int_equal(p->has_best, a->best != NULL);
            if (a->best)
                same_ref(&p->best, a->best);
            assert_int_equal(p->plan_count, a->n_plan);
            for (size_t j = 0; j < a->n_plan; j++)
                same_ref(&p->plan[j], a->plan[j]);
            assert_int_equal(p->unsatisfiable, a->unsatisfiable);
            same_str(p->unsatisfiable_reason, a->unsat_reason,
                     SMAX(fwl_ProductAnswer, unsatisfiable_reason));
            assert_int_equal(p->rejected_count, a->n_rejected);
            for (size_t j = 0; j < a->n_rejected; j++) {
                const fwl_Rejection *r = &p->rejected[j];
                assert_true(r->has_release);
                same_ref(&r->release, a->rejected[j].release);
                same_str(r->rule, a->rejected[j].rule, SMAX(fwl_Rejection, rule));
                same_str(r->reason, a->rejected[j].reason, SMAX(fwl_Rejection, reason));
            }
            assert_int_equal(p->rejected_total, a->n_rejected_total);
            same_str(p->policy, o[k].policy[i], SMAX(fwl_ProductAnswer, policy));
            assert_int_equal(p->superseded, a->n_superseded);
        }
    }

    /* nanopb writes the same message to the same bytes */
    resp.cb_resp.funcs.encode = NULL;
    resp.resp.eligible.answers.funcs.encode = enc_answers;
    size_t nsize = 0;
    assert_true(pb_get_encoded_size(&nsize, fwl_Response_fields, &resp));
    assert_int_equal(nsize, size);
    pb_ostream_t os = pb_ostream_from_buffer(again, sizeof again);
    if (!pb_encode(&os, fwl_Response_fields, &resp))
        fail_msg("nanopb encode: %s", PB_GET_ERROR(&os));
    assert_int_equal(os.bytes_written, size);
    assert_memory_equal(again, buf, size);
    cases++;
    total_bytes += size;
    return size;
}

/* --- answers by hand ------------------------------------------------------------------------ */

static elg_device_answer out[MAX_DEV];
static ctr_candidate pool[64];
static char pool_str[64][2][160];
static uint8_t pool_hash[64][64];
static char ids[MAX_DEV][160], labels[MAX_DEV][CTR_PRODUCTS_MAX][160];
static char prod_str[MAX_DEV][CTR_PRODUCTS_MAX][2][160];

/* A string of a random length around the limits that matter (limit: the wire's maximum):
 * empty, short, limit - 1, limit, limit + 1, long; bytes printable, sometimes high. */
static void rand_str(uint64_t *seed, char *s, size_t cap, size_t limit)
{
    uint64_t r = splitmix64(seed);
    size_t len;
    switch (r % 8) {
    case 0: len = 0; break;
    case 1: len = 1; break;
    case 2: len = limit ? limit - 1 : 0; break;
    case 3: len = limit; break;
    case 4: len = limit + 1; break;
    case 5: len = cap - 1; break;
    default: len = (r >> 8) % 24; break;
    }
    if (len > cap - 1)
        len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        uint64_t c = splitmix64(seed);
        s[i] = (char)(c % 16 == 0 ? 0x80 + (c >> 8) % 0x7f : 0x20 + (c >> 8) % 0x5f);
    }
    s[len] = '\0';
}

static const uint32_t algs[] = {0, LDG_HASH_SHA256, 2, 127, 128, 300, 0xffffffffu};

static void rand_pool(uint64_t *seed)
{
    for (size_t i = 0; i < 64; i++) {
        ctr_candidate *c = &pool[i];
        memset(c, 0, sizeof *c);
        rand_str(seed, pool_str[i][0], sizeof pool_str[i][0], SMAX(fwl_ReleaseRef, product));
        rand_str(seed, pool_str[i][1], sizeof pool_str[i][1], SMAX(fwl_ReleaseRef, version));
        c->r.product = pool_str[i][0];
        c->r.version = pool_str[i][1];
        uint64_t r = splitmix64(seed);
        c->hash_alg = algs[r % (sizeof algs / sizeof *algs)];
        c->r.file_hash_len = (r >> 8) % 4 == 0 ? 0 : (r >> 8) % 4 == 1 ? 64 : (r >> 16) % 65;
        for (size_t j = 0; j < 64; j++)
            pool_hash[i][j] = (uint8_t)splitmix64(seed);
        c->r.file_hash = pool_hash[i];
    }
}

static const ctr_candidate *any(uint64_t *seed) { return &pool[splitmix64(seed) % 64]; }

static uint64_t rand_count(uint64_t *seed)
{
    uint64_t r = splitmix64(seed);
    return r % 4 == 0 ? 0 : r % 4 == 1 ? 127 + (r >> 8) % 3 : (r >> 8) % (CTR_CANDIDATES_MAX + 1);
}

static void rand_answer(uint64_t *seed, size_t k, size_t i, ctr_answer *a)
{
    memset(a, 0, sizeof *a);
    rand_str(seed, prod_str[k][i][0], sizeof prod_str[k][i][0], SMAX(fwl_ProductAnswer, product));
    rand_str(seed, prod_str[k][i][1], sizeof prod_str[k][i][1], SMAX(fwl_ProductAnswer, installed));
    a->product = prod_str[k][i][0];
    a->installed = prod_str[k][i][1];
    uint64_t r = splitmix64(seed);
    a->status = 1 + (int)(r % 3);
    a->best = r >> 2 & 1 ? any(seed) : NULL;
    a->n_plan = a->best && (r >> 3 & 1) ? 1 + (r >> 8) % CTR_PLAN_MAX : 0;
    for (size_t j = 0; j < a->n_plan; j++)
        a->plan[j] = j + 1 == a->n_plan ? a->best : any(seed);
    a->unsatisfiable = !a->best && (r >> 4 & 1);
    rand_str(seed, a->unsat_reason, sizeof a->unsat_reason, SMAX(fwl_ProductAnswer, unsatisfiable_reason));
    a->n_rejected = (r >> 16) % (CTR_REJECTED_MAX + 1);
    for (size_t j = 0; j < a->n_rejected; j++) {
        a->rejected[j].release = any(seed);
        rand_str(seed, a->rejected[j].rule, sizeof a->rejected[j].rule, SMAX(fwl_Rejection, rule));
        rand_str(seed, a->rejected[j].reason, sizeof a->rejected[j].reason, SMAX(fwl_Rejection, reason));
    }
    a->n_rejected_total = a->n_rejected + rand_count(seed);
    a->n_superseded = rand_count(seed);
}

static const int errors[] = {CTR_EINVAL, CTR_ETOOBIG, -1, -127, -128, -20000, INT32_MIN, 1, 300};

static size_t rand_answers(uint64_t *seed)
{
    uint64_t r = splitmix64(seed);
    size_t n = r % 8 == 0 ? 0 : 1 + (r >> 8) % MAX_DEV;
    for (size_t k = 0; k < n; k++) {
        elg_device_answer *o = &out[k];
        uint64_t f = splitmix64(seed);
        rand_str(seed, ids[k], sizeof ids[k], SMAX(fwl_DeviceAnswer, device_id));
        o->id = ids[k];
        o->error = f % 5 == 0 ? errors[(f >> 8) % (sizeof errors / sizeof *errors)] : 0;
        rand_str(seed, o->message, sizeof o->message, SMAX(fwl_Error, message));
        o->n = o->error && f % 2 ? 0 : (f >> 16) % (CTR_PRODUCTS_MAX + 1);
        for (size_t i = 0; i < o->n; i++) {
            rand_answer(seed, k, i, &o->ans[i]);
            rand_str(seed, labels[k][i], sizeof labels[k][i], SMAX(fwl_ProductAnswer, policy));
            o->policy[i] = labels[k][i];
        }
    }
    return n;
}

static void rand_tip(uint64_t *seed, ldg_tip *t)
{
    uint64_t r = splitmix64(seed);
    t->height = r % 4 == 0 ? 0 : r % 4 == 1 ? UINT64_MAX : splitmix64(seed) >> (r >> 8) % 64;
    t->time_ms = splitmix64(seed);
    for (size_t i = 0; i < LDG_DIGEST_LEN; i++)
        t->hash[i] = (uint8_t)splitmix64(seed);
}

static void test_random_answers(void **st)
{
    (void)st;
    uint64_t seed = 0x5eed;
    size_t cases0 = cases, bytes0 = total_bytes;
    for (int round = 0; round < 400; round++) {
        ldg_tip t;
        if (round % 50 == 0)
            rand_pool(&seed);
        size_t n = rand_answers(&seed);
        rand_tip(&seed, &t);
        uint64_t id = round % 7 == 0 ? 0 : round % 7 == 1 ? UINT64_MAX : splitmix64(&seed);
        round_trip(id, out, n, &t);
    }
    print_message("random answers: %zu cases, %zu bytes\n", cases - cases0, total_bytes - bytes0);
}

/* --- edge cases ------------------------------------------------------------------------------ */

static void test_empty(void **st)
{
    (void)st;
    ldg_tip t;
    memset(&t, 0, sizeof t);
    /* no device at height 0, id 0: only the block hash is written */
    size_t size = round_trip(0, out, 0, &t);
    assert_int_equal(size, 2 + 1 + 2 + LDG_DIGEST_LEN); /* eligible{block_hash} */
    /* one device with nothing in it: an empty DeviceAnswer, still there */
    out[0].id = "";
    out[0].error = 0;
    out[0].n = 0;
    size = round_trip(1, out, 1, &t);
    assert_int_equal(size, 2 + 2 + 1 + 2 + 2 + LDG_DIGEST_LEN); /* id, eligible{answers{}, block_hash} */
    assert_int_equal(n_decoded, 1);
    /* one empty product: status up to date is still written (1, not zero) */
    memset(&out[0].ans[0], 0, sizeof out[0].ans[0]);
    out[0].ans[0].product = out[0].ans[0].installed = "";
    out[0].ans[0].status = CTR_UP_TO_DATE;
    out[0].policy[0] = "";
    out[0].n = 1;
    round_trip(1, out, 1, &t);
    assert_int_equal(decoded[0].products[0].status, fwl_DeviceStatus_UP_TO_DATE);
}

static void test_device_errors(void **st)
{
    (void)st;
    ldg_tip t = {.height = 5};
    memset(t.hash, 1, sizeof t.hash);
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
        out[i].id = "dev";
        out[i].error = errors[i];
        out[i].n = 0;
        snprintf(out[i].message, sizeof out[i].message, "invalid device: %d", errors[i]);
    }
    size_t n = sizeof errors / sizeof *errors;
    round_trip(3, out, n, &t);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(decoded[i].error.code, errors[i]); /* negative: sign-extended */
    /* a message filling its buffer is cut to the 255 bytes the decoder has room for */
    memset(out[0].message, 'm', sizeof out[0].message - 1);
    out[0].message[sizeof out[0].message - 1] = '\0';
    round_trip(3, out, 1, &t);
    assert_int_equal(strlen(decoded[0].error.message), SMAX(fwl_Error, message));
}

/* Every count at its maximum and every string past its limit: the largest answer. */
static void test_largest(void **st)
{
    (void)st;
    static char big[300];
    memset(big, 'x', sizeof big - 1);
    for (size_t i = 0; i < 64; i++) {
        memset(&pool[i], 0, sizeof pool[i]);
        pool[i].r.product = pool[i].r.version = big;
        pool[i].hash_alg = 0xffffffffu;
        pool[i].r.file_hash = pool_hash[i];
        pool[i].r.file_hash_len = 64;
    }
    for (size_t k = 0; k < MAX_DEV; k++) {
        elg_device_answer *o = &out[k];
        o->id = big;
        o->error = INT32_MIN;
        memset(o->message, 'e', sizeof o->message - 1);
        o->message[sizeof o->message - 1] = '\0';
        o->n = CTR_PRODUCTS_MAX;
        for (size_t i = 0; i < o->n; i++) {
            ctr_answer *a = &o->ans[i];
            a->product = a->installed = big;
            a->status = CTR_URGENT;
            a->best = &pool[i];
            a->n_plan = CTR_PLAN_MAX;
            for (size_t j = 0; j < CTR_PLAN_MAX; j++)
                a->plan[j] = &pool[j + 8];
            a->unsatisfiable = true;
            memset(a->unsat_reason, 'u', sizeof a->unsat_reason - 1);
            a->unsat_reason[sizeof a->unsat_reason - 1] = '\0';
            a->n_rejected = CTR_REJECTED_MAX;
            for (size_t j = 0; j < CTR_REJECTED_MAX; j++) {
                a->rejected[j].release = &pool[j + 16];
                memset(a->rejected[j].rule, 'r', sizeof a->rejected[j].rule - 1);
                a->rejected[j].rule[sizeof a->rejected[j].rule - 1] = '\0';
                memset(a->rejected[j].reason, 'z', sizeof a->rejected[j].reason - 1);
                a->rejected[j].reason[sizeof a->rejected[j].reason - 1] = '\0';
            }
            a->n_rejected_total = UINT32_MAX;
            a->n_superseded = UINT32_MAX;
            o->policy[i] = big;
        }
    }
    ldg_tip t = {.height = UINT64_MAX};
    memset(t.hash, 0xff, sizeof t.hash);
    size_t size = round_trip(UINT64_MAX, out, MAX_DEV, &t);
    assert_true(size > 500000); /* about 40 KB a device */
    print_message("largest answer: %zu bytes\n", size);
    /* a buffer size that is not the answers' size is refused, nothing written */
    memset(buf, 0, 16);
    assert_int_equal(elg_wire_write(buf, size - 1, UINT64_MAX, out, MAX_DEV, &t, NULL, 0), 0);
    assert_int_equal(elg_wire_write(buf, size + 1, UINT64_MAX, out, MAX_DEV, &t, NULL, 0), 0);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(buf[i], 0);
}

/* --- decisions of the pure decider ------------------------------------------------------------- */

static const char *const products[] = {"fw", "libfoo", "libbar", "modem"};
static const char *const versions[] = {"1.0.0", "1.1.0", "2.0.0", "2.0.0-rc.1", "2.1.0",
                                       "10.0.0", "0.0.1", "3.0.0", "1.0.0+b1"};
static const char *const constraints[] = {">=2.0.0,<3", "^1", "*", ">=10", "<2.0.0", "~1.1"};
static ctr_program *rollout;
static bool use_rollout;

static int policy_cb(void *ctx, const char *product, const char *model, const ctr_program **prog)
{
    (void)ctx, (void)model;
    *prog = use_rollout && !strcmp(product, "fw") ? rollout : NULL;
    return 0;
}

typedef struct {
    ctr_candidate c[CTR_PRODUCTS_MAX * 8];
    size_t n;
    ctr_hardware hw[CTR_PRODUCTS_MAX * 8];
    ctr_dependency deps[CTR_PRODUCTS_MAX * 8][2];
    uint8_t hash[CTR_PRODUCTS_MAX * 8][32];
    ctr_package pk[MAX_DEV][4];
    ctr_device d[MAX_DEV];
    char id[MAX_DEV][16];
} world;

static world W;
static const char *no_addons[1];

static void rand_world(uint64_t *seed, size_t n_dev)
{
    memset(&W, 0, sizeof W);
    W.n = splitmix64(seed) % (sizeof W.c / sizeof *W.c + 1);
    for (size_t i = 0; i < W.n; i++) {
        uint64_t r = splitmix64(seed);
        ctr_candidate *c = &W.c[i];
        c->r.product = products[r % 4];
        c->r.version = versions[(r >> 4) % 9];
        c->r.security_version = (r >> 8) % 3;
        for (size_t j = 0; j < 32; j++)
            W.hash[i][j] = (uint8_t)(r >> (j % 8) * 8) ^ (uint8_t)i;
        c->r.file_hash = W.hash[i];
        c->r.file_hash_len = 32;
        c->hash_alg = LDG_HASH_SHA256;
        c->r.revoked = (r >> 12) % 6 == 0;
        W.hw[i] = (ctr_hardware){"m1", (uint32_t)(r >> 16) % 3, (r >> 18) % 2 ? 0 : 4, no_addons, 0};
        c->r.hardware = &W.hw[i];
        c->r.n_hardware = 1;
        c->r.n_deps = (r >> 20) % 4 == 0 ? 1 + (r >> 22) % 2 : 0;
        for (size_t j = 0; j < c->r.n_deps; j++)
            W.deps[i][j] = (ctr_dependency){products[(r >> (24 + j * 4)) % 4],
                                            constraints[(r >> (32 + j * 4)) % 6]};
        c->r.deps = W.deps[i];
        c->r.height = i + 1;
    }
    for (size_t k = 0; k < n_dev; k++) {
        uint64_t r = splitmix64(seed);
        size_t np = r % 4;
        for (size_t j = 0; j < np; j++) /* distinct products: one of each at most */
            W.pk[k][j] = (ctr_package){products[(j + (r >> 4)) % 4], versions[(r >> (8 + j * 4)) % 9], 0};
        snprintf(W.id[k], sizeof W.id[k], "dev-%zu", k);
        W.d[k] = (ctr_device){W.id[k], "m1", (uint32_t)(r >> 30) % 5, no_addons, 0, W.pk[k], np, "eu",
                              no_addons, 0};
    }
}

static void test_decisions(void **st)
{
    (void)st;
    char err[160];
    const char *src = "rule base: defaults()\n"
                      "rule half: bucket(device.id, release) < 5000 because \"not yet\"\n";
    assert_int_equal(ctr_compile(src, strlen(src), &rollout, err, sizeof err), 0);
    uint64_t seed = 1368;
    size_t with_best = 0, with_plan = 0, with_rejected = 0, urgent = 0;
    for (int round = 0; round < 300; round++) {
        size_t n_dev = 1 + splitmix64(&seed) % MAX_DEV;
        rand_world(&seed, n_dev);
        use_rollout = round % 3 == 0;
        assert_int_equal(ctr_prepare(W.c, W.n), 0);
        ctr_source s = {policy_cb, NULL, NULL};
        ctr_context cc = {1700000000000ull, 77, 0};
        for (size_t k = 0; k < n_dev; k++) {
            elg_device_answer *o = &out[k];
            o->id = W.id[k];
            o->error = 0;
            o->ans[0].error_reason[0] = '\0';
            int rc = ctr_decide(&W.d[k], W.c, W.n, &s, &cc, o->ans, CTR_PRODUCTS_MAX, &o->n);
            if (rc) { /* as the worker answers a device it cannot decide */
                o->error = rc;
                o->n = 0;
                snprintf(o->message, sizeof o->message, "invalid device: %s", o->ans[0].error_reason);
            }
            for (size_t i = 0; i < o->n; i++) {
                const ctr_answer *a = &o->ans[i];
                o->policy[i] = use_rollout && !strcmp(a->product, "fw") ? "contract rollout v2" : "default";
                with_best += a->best != NULL;
                with_plan += a->n_plan > 0;
                with_rejected += a->n_rejected > 0;
                urgent += a->status == CTR_URGENT;
            }
        }
        ldg_tip t = {.height = (uint64_t)round * 1000, .time_ms = cc.block_time_ms};
        memset(t.hash, round, sizeof t.hash);
        round_trip((uint64_t)round, out, n_dev, &t);
    }
    print_message("decisions: %zu with best, %zu with a plan, %zu with rejections, %zu urgent\n",
                  with_best, with_plan, with_rejected, urgent);
    /* the seeds reach every kind of answer */
    assert_true(with_best > 0 && with_plan > 0 && with_rejected > 0 && urgent > 0);
    ctr_free(rollout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_device_errors),
        cmocka_unit_test(test_largest),
        cmocka_unit_test(test_random_answers),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
