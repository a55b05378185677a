/*
 * The pieces of p2p that need no network: the seen set (bounded, FIFO eviction, checked
 * against a simple model) and the frame parser (every split point, the length caps checked
 * before any allocation, a callback that stops the parser).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p2p/internal.h"

static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void make_id(uint8_t id[32], uint32_t n)
{
    memset(id, 0, 32);
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)(n * 2654435761u >> (i % 4 * 8)) ^ (uint8_t)i;
    id[0] = (uint8_t)n, id[1] = (uint8_t)(n >> 8), id[2] = (uint8_t)(n >> 16);
}

static void test_seen_args(void **state)
{
    (void)state;
    p2p_seen *s = (p2p_seen *)seed;
    assert_int_equal(p2p_seen_new(&s, 0, seed), P2P_EINVAL);
    assert_null(s);
    assert_int_equal(p2p_seen_new(&s, 10, NULL), P2P_EINVAL);
    assert_int_equal(p2p_seen_new(&s, ((size_t)1 << 28) + 1, seed), P2P_EINVAL);
    assert_int_equal(p2p_seen_new(NULL, 10, seed), P2P_EINVAL);
    p2p_seen_free(NULL);
    uint8_t id[32] = {0};
    assert_false(p2p_seen_has(NULL, id));
    assert_false(p2p_seen_add(NULL, id));
    assert_int_equal(p2p_seen_count(NULL), 0);
    assert_int_equal(p2p_seen_new(&s, 1, seed), 0);
    assert_false(p2p_seen_has(s, NULL));
    assert_false(p2p_seen_add(s, NULL));
    assert_int_equal(p2p_seen_capacity(s), 1);
    /* capacity 1: each new id evicts the previous one */
    uint8_t a[32], b[32];
    make_id(a, 1);
    make_id(b, 2);
    assert_true(p2p_seen_add(s, a));
    assert_false(p2p_seen_add(s, a));
    assert_true(p2p_seen_add(s, b));
    assert_false(p2p_seen_has(s, a));
    assert_true(p2p_seen_has(s, b));
    assert_int_equal(p2p_seen_count(s), 1);
    p2p_seen_free(s);
}

static void test_seen_fifo(void **state)
{
    (void)state;
    p2p_seen *s;
    const size_t cap = 1000;
    assert_int_equal(p2p_seen_new(&s, cap, seed), 0);
    uint8_t id[32];
    for (uint32_t i = 0; i < cap; i++) {
        make_id(id, i);
        assert_false(p2p_seen_has(s, id));
        assert_true(p2p_seen_add(s, id));
    }
    assert_int_equal(p2p_seen_count(s), cap);
    for (uint32_t i = 0; i < cap; i++) {
        make_id(id, i);
        assert_true(p2p_seen_has(s, id));
        assert_false(p2p_seen_add(s, id)); /* a duplicate does not refresh its age */
    }
    /* 250 more evict exactly the 250 oldest */
    for (uint32_t i = cap; i < cap + 250; i++) {
        make_id(id, i);
        assert_true(p2p_seen_add(s, id));
    }
    assert_int_equal(p2p_seen_count(s), cap);
    for (uint32_t i = 0; i < cap + 250; i++) {
        make_id(id, i);
        assert_int_equal(p2p_seen_has(s, id), i >= 250);
    }
    /* an evicted id is new again */
    make_id(id, 0);
    assert_true(p2p_seen_add(s, id));
    make_id(id, 250);
    assert_false(p2p_seen_has(s, id));
    p2p_seen_free(s);
}

/* Random adds and lookups over a small universe (many duplicates, constant eviction),
 * compared after every step with a model: a plain FIFO array. */
static void test_seen_model(void **state)
{
    (void)state;
    for (size_t cap = 1; cap <= 97; cap += 8) {
        p2p_seen *s;
        assert_int_equal(p2p_seen_new(&s, cap, seed), 0);
        uint32_t *fifo = calloc(cap, sizeof *fifo);
        size_t n = 0, head = 0;
        uint64_t x = 88172645463325252ULL + cap;
        uint8_t id[32];
        for (int step = 0; step < 20000; step++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t v = (uint32_t)(x % (3 * cap + 5));
            bool in = false;
            for (size_t i = 0; i < n; i++)
                in |= fifo[(head + i) % cap] == v;
            make_id(id, v);
            if (x & (1u << 20)) {
                assert_int_equal(p2p_seen_has(s, id), in);
                continue;
            }
            assert_int_equal(p2p_seen_add(s, id), !in);
            if (!in) {
                if (n == cap) {
                    fifo[head] = v;
                    head = (head + 1) % cap;
                } else {
                    fifo[(head + n++) % cap] = v;
                }
            }
            assert_int_equal(p2p_seen_count(s), n);
        }
        for (size_t i = 0; i < n; i++) {
            make_id(id, fifo[(head + i) % cap]);
            assert_true(p2p_seen_has(s, id));
        }
        free(fifo);
        p2p_seen_free(s);
    }
}

/* Ids that collide in their low bits (as a grinding sender would make them) still work. */
static void test_seen_colliding(void **state)
{
    (void)state;
    p2p_seen *s;
    assert_int_equal(p2p_seen_new(&s, 512, seed), 0);
    uint8_t id[32];
    for (uint32_t i = 0; i < 2000; i++) {
        memset(id, 0xab, sizeof id);
        id[31] = (uint8_t)i, id[30] = (uint8_t)(i >> 8);
        assert_true(p2p_seen_add(s, id));
        assert_true(p2p_seen_has(s, id));
    }
    assert_int_equal(p2p_seen_count(s), 512);
    p2p_seen_free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Frame parser                                                                              */

typedef struct {
    int frames;
    uint8_t types[16];
    size_t lens[16];
    uint8_t data[4096];
    size_t data_len;
    int stop_after; /* return 1 after this many frames (0: never) */
    size_t set_max; /* change the parser's max in the callback when non-zero */
    p2p__frame *f;
} sink;

static int on_frame(void *arg, uint8_t type, const uint8_t *p, size_t len)
{
    sink *k = arg;
    if (k->frames < 16) {
        k->types[k->frames] = type;
        k->lens[k->frames] = len;
    }
    if (k->data_len + len <= sizeof k->data) {
        if (len)
            memcpy(k->data + k->data_len, p, len);
        k->data_len += len;
    }
    k->frames++;
    if (k->set_max)
        k->f->max = k->set_max;
    return k->stop_after && k->frames == k->stop_after ? 1 : 0;
}

static size_t put_frame(uint8_t *out, uint8_t type, const uint8_t *p, size_t len)
{
    p2p__frame_header(out, type, len);
    memcpy(out + P2P_FRAME_HDR, p, len);
    return P2P_FRAME_HDR + len;
}

static void test_frame_splits(void **state)
{
    (void)state;
    uint8_t wire[3000], payload[2000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = 0;
    n += put_frame(wire + n, 1, payload, 10);
    n += put_frame(wire + n, 2, payload, 0); /* empty payload */
    n += put_frame(wire + n, 255, payload, 2000);
    n += put_frame(wire + n, 3, payload + 5, 1);
    /* every split point, fed in two parts */
    for (size_t cut = 0; cut <= n; cut++) {
        p2p__frame f;
        p2p__frame_init(&f, 2000);
        sink k = {0};
        size_t used;
        assert_int_equal(p2p__frame_feed(&f, wire, cut, &used, on_frame, &k), 0);
        assert_int_equal(used, cut);
        assert_int_equal(p2p__frame_feed(&f, wire + cut, n - cut, &used, on_frame, &k), 0);
        assert_int_equal(used, n - cut);
        assert_int_equal(k.frames, 4);
        assert_int_equal(k.types[0], 1);
        assert_int_equal(k.lens[0], 10);
        assert_int_equal(k.types[1], 2);
        assert_int_equal(k.lens[1], 0);
        assert_int_equal(k.types[2], 255);
        assert_int_equal(k.lens[2], 2000);
        assert_int_equal(k.lens[3], 1);
        assert_memory_equal(k.data, payload, 10);
        assert_memory_equal(k.data + 10, payload, 2000);
        assert_int_equal(k.data[2010], payload[5]);
        p2p__frame_free(&f);
    }
    /* one byte at a time */
    p2p__frame f;
    p2p__frame_init(&f, 2000);
    sink k = {0};
    for (size_t i = 0; i < n; i++) {
        size_t used;
        assert_int_equal(p2p__frame_feed(&f, wire + i, 1, &used, on_frame, &k), 0);
        assert_int_equal(used, 1);
    }
    assert_int_equal(k.frames, 4);
    assert_memory_equal(k.data + 10, payload, 2000);
    p2p__frame_free(&f);
}

static void test_frame_limits(void **state)
{
    (void)state;
    p2p__frame f;
    sink k = {0};
    size_t used;
    uint8_t hdr[P2P_FRAME_HDR];

    /* declared length 2^32-1 against a 1 MiB limit: refused on the header, nothing allocated */
    p2p__frame_init(&f, 1u << 20);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 7, 1, 2, 3};
    assert_int_equal(p2p__frame_feed(&f, huge, sizeof huge, &used, on_frame, &k), P2P_EFRAME);
    assert_int_equal(used, P2P_FRAME_HDR);
    assert_null(f.buf);
    p2p__frame_free(&f);

    /* exactly at the limit is fine, one over is not */
    p2p__frame_init(&f, 100);
    p2p__frame_header(hdr, 9, 101);
    assert_int_equal(p2p__frame_feed(&f, hdr, sizeof hdr, &used, on_frame, &k), P2P_EFRAME);
    p2p__frame_free(&f);
    p2p__frame_init(&f, 100);
    p2p__frame_header(hdr, 9, 100);
    assert_int_equal(p2p__frame_feed(&f, hdr, sizeof hdr, &used, on_frame, &k), 0);
    assert_null(f.buf); /* the header alone allocates nothing */
    p2p__frame_free(&f);

    /* declared length 0 (no type byte) */
    p2p__frame_init(&f, 100);
    const uint8_t zero[] = {0, 0, 0, 0, 1};
    assert_int_equal(p2p__frame_feed(&f, zero, sizeof zero, &used, on_frame, &k), P2P_EFRAME);
    p2p__frame_free(&f);

    /* a 16 MiB frame whose sender stops after 10 bytes costs a small buffer, not 16 MiB */
    p2p__frame_init(&f, 16u << 20);
    p2p__frame_header(hdr, 4, 16u << 20);
    assert_int_equal(p2p__frame_feed(&f, hdr, sizeof hdr, &used, on_frame, &k), 0);
    uint8_t ten[10] = {0};
    assert_int_equal(p2p__frame_feed(&f, ten, sizeof ten, &used, on_frame, &k), 0);
    assert_true(f.buf_cap <= 4096);
    assert_int_equal(f.buf_len, 10);
    /* and grows with what arrives, at most twice what arrived */
    uint8_t *chunk = calloc(1, 100000);
    assert_non_null(chunk);
    size_t total = 10;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(p2p__frame_feed(&f, chunk, 100000, &used, on_frame, &k), 0);
        total += 100000;
        assert_int_equal(f.buf_len, total);
        assert_true(f.buf_cap <= 2 * total);
    }
    free(chunk);
    assert_int_equal(k.frames, 0);
    p2p__frame_free(&f);
}

static void test_frame_stop_and_max(void **state)
{
    (void)state;
    uint8_t wire[200], p[50] = {0};
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        n += put_frame(wire + n, (uint8_t)(i + 1), p, 40);
    p2p__frame f;
    p2p__frame_init(&f, 40);
    sink k = {0};
    k.stop_after = 2;
    size_t used;
    /* the callback stops the parser after the second frame: the rest is not consumed */
    assert_int_equal(p2p__frame_feed(&f, wire, n, &used, on_frame, &k), 1);
    assert_int_equal(used, 2 * 45);
    assert_int_equal(k.frames, 2);
    k.stop_after = 0;
    /* the callback lowers the limit: it applies from the next frame on */
    k.set_max = 39;
    k.f = &f;
    assert_int_equal(p2p__frame_feed(&f, wire + used, n - used, &used, on_frame, &k), P2P_EFRAME);
    assert_int_equal(k.frames, 3);
    p2p__frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_args),
        cmocka_unit_test(test_seen_fifo),
        cmocka_unit_test(test_seen_model),
        cmocka_unit_test(test_seen_colliding),
        cmocka_unit_test(test_frame_splits),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_frame_stop_and_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
