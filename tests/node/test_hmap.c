/*
 * The daemon's hash map (node/daemon/hmap.h): 32-byte keys to non-NULL pointers, open
 * addressing with linear probing and tombstones. Insert, find, overwrite, delete, probe
 * chains that collide, wrap around the end and cross tombstones, growth past many entries,
 * tombstones that do not make the table grow forever, the visitor (replace, remove), and a
 * seeded run of random operations against a plain array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/daemon/hmap.h"
#include "tests/consensus/splitmix.h"

#define MANY 20000

static int vals[MANY];

/* A key whose home slot (in a table of cap slots) is slot; tag tells keys of one slot apart. */
static void key_at(uint8_t k[32], size_t slot, uint32_t tag)
{
    uint64_t h = (uint64_t)slot | (uint64_t)tag << 32; /* the high bits are not the slot */
    memset(k, 0, 32);
    memcpy(k, &h, sizeof h);
    memcpy(k + 28, &tag, sizeof tag);
}

static void key_rand(uint8_t k[32], uint64_t *seed)
{
    for (size_t i = 0; i < 32; i += 8) {
        uint64_t r = splitmix64(seed);
        memcpy(k + i, &r, 8);
    }
}

static void test_init_sizes(void **st)
{
    (void)st;
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    assert_non_null(m.slots);
    assert_int_equal(m.cap, 64);
    assert_int_equal(m.used, 0);
    assert_int_equal(m.live, 0);
    hmap_free(&m);
    assert_null(m.slots);
    assert_int_equal(m.cap, 0);
    hmap_free(&m); /* twice: nothing left to free */
    assert_int_equal(hmap_init(&m, 1000), 0);
    assert_int_equal(m.cap, 2048); /* a power of two, at least twice what is expected */
    hmap_free(&m);
}

static void test_put_get_overwrite_del(void **st)
{
    (void)st;
    hmap m;
    uint8_t a[32], b[32];
    key_at(a, 5, 1);
    key_at(b, 6, 1);
    assert_int_equal(hmap_init(&m, 0), 0);
    assert_null(hmap_get(&m, a));
    assert_null(hmap_del(&m, a));
    assert_int_equal(hmap_put(&m, a, &vals[1]), 0);
    assert_ptr_equal(hmap_get(&m, a), &vals[1]);
    assert_null(hmap_get(&m, b));
    assert_int_equal(m.live, 1);
    assert_int_equal(m.used, 1);
    /* overwrite: the same entry, no second slot */
    assert_int_equal(hmap_put(&m, a, &vals[2]), 0);
    assert_ptr_equal(hmap_get(&m, a), &vals[2]);
    assert_int_equal(m.live, 1);
    assert_int_equal(m.used, 1);
    assert_int_equal(hmap_put(&m, b, &vals[3]), 0);
    assert_int_equal(m.live, 2);
    /* delete returns the value, once */
    assert_ptr_equal(hmap_del(&m, a), &vals[2]);
    assert_null(hmap_get(&m, a));
    assert_null(hmap_del(&m, a));
    assert_ptr_equal(hmap_get(&m, b), &vals[3]);
    assert_int_equal(m.live, 1);
    assert_int_equal(m.used, 2); /* a's slot is a tombstone */
    /* put again: the tombstone is reused, not a fresh slot */
    assert_int_equal(hmap_put(&m, a, &vals[4]), 0);
    assert_ptr_equal(hmap_get(&m, a), &vals[4]);
    assert_int_equal(m.live, 2);
    assert_int_equal(m.used, 2);
    hmap_free(&m);
}

/* Keys that differ only past their first 8 bytes have the same home slot: told apart by
 * the whole key, found past a deleted one (its tombstone keeps the chain). */
static void test_collisions_and_tombstones(void **st)
{
    (void)st;
    hmap m;
    uint8_t k[4][32];
    assert_int_equal(hmap_init(&m, 0), 0);
    for (uint32_t i = 0; i < 4; i++) {
        key_at(k[i], 10, 0);
        k[i][31] = (uint8_t)(i + 1); /* same first 8 bytes, different keys */
        assert_int_equal(hmap_put(&m, k[i], &vals[i]), 0);
    }
    for (uint32_t i = 0; i < 4; i++)
        assert_ptr_equal(hmap_get(&m, k[i]), &vals[i]);
    assert_ptr_equal(hmap_del(&m, k[1]), &vals[1]);
    assert_null(hmap_get(&m, k[1]));
    assert_ptr_equal(hmap_get(&m, k[2]), &vals[2]); /* past the tombstone */
    assert_ptr_equal(hmap_get(&m, k[3]), &vals[3]);
    /* overwriting a key behind a tombstone keeps one entry for it */
    assert_int_equal(hmap_put(&m, k[3], &vals[9]), 0);
    assert_int_equal(m.live, 3);
    assert_ptr_equal(hmap_del(&m, k[3]), &vals[9]);
    assert_null(hmap_get(&m, k[3]));
    assert_ptr_equal(hmap_get(&m, k[0]), &vals[0]);
    assert_ptr_equal(hmap_get(&m, k[2]), &vals[2]);
    hmap_free(&m);
}

/* A chain that starts in the last slot continues at slot 0. */
static void test_probe_wraps_around(void **st)
{
    (void)st;
    hmap m;
    uint8_t k[3][32], other[32];
    assert_int_equal(hmap_init(&m, 0), 0);
    for (uint32_t i = 0; i < 3; i++) {
        key_at(k[i], m.cap - 1, i);
        assert_int_equal(hmap_put(&m, k[i], &vals[i]), 0);
    }
    assert_ptr_equal(m.slots[m.cap - 1].val, &vals[0]);
    assert_ptr_equal(m.slots[0].val, &vals[1]);
    assert_ptr_equal(m.slots[1].val, &vals[2]);
    for (uint32_t i = 0; i < 3; i++)
        assert_ptr_equal(hmap_get(&m, k[i]), &vals[i]);
    /* a key whose home is slot 0 is not one of them */
    key_at(other, 0, 0);
    assert_null(hmap_get(&m, other));
    hmap_free(&m);
}

/* Growth past many entries: every entry still found with its value, the table a power of
 * two kept at most 3/4 full. */
static void test_growth(void **st)
{
    (void)st;
    hmap m;
    static uint8_t k[MANY][32];
    uint64_t seed = 42;
    assert_int_equal(hmap_init(&m, 0), 0);
    for (size_t i = 0; i < MANY; i++) {
        key_rand(k[i], &seed);
        assert_int_equal(hmap_put(&m, k[i], &vals[i]), 0);
        assert_true(m.used * 4 <= m.cap * 3);
    }
    assert_int_equal(m.live, MANY);
    assert_true(m.cap >= MANY * 4 / 3);
    assert_int_equal(m.cap & (m.cap - 1), 0);
    for (size_t i = 0; i < MANY; i++)
        assert_ptr_equal(hmap_get(&m, k[i]), &vals[i]);
    for (size_t i = 0; i < MANY; i += 2)
        assert_ptr_equal(hmap_del(&m, k[i]), &vals[i]);
    assert_int_equal(m.live, MANY / 2);
    for (size_t i = 0; i < MANY; i++)
        if (i % 2)
            assert_ptr_equal(hmap_get(&m, k[i]), &vals[i]);
        else
            assert_null(hmap_get(&m, k[i]));
    hmap_free(&m);
}

/* Insert and delete distinct keys for a long time with few live: the tombstones trigger a
 * rehash of the live entries, not a table that doubles forever, and a lookup of a missing
 * key still ends (there is always an empty slot). */
static void test_tombstones_do_not_grow_the_table(void **st)
{
    (void)st;
    hmap m;
    uint8_t k[32], missing[32];
    uint64_t seed = 7;
    assert_int_equal(hmap_init(&m, 0), 0);
    for (size_t i = 0; i < 100000; i++) {
        key_rand(k, &seed);
        assert_int_equal(hmap_put(&m, k, &vals[i % MANY]), 0);
        assert_ptr_equal(hmap_del(&m, k), &vals[i % MANY]);
        assert_true(m.used < m.cap);
    }
    assert_int_equal(m.live, 0);
    assert_true(m.cap <= 128);
    key_rand(missing, &seed);
    assert_null(hmap_get(&m, missing));
    hmap_free(&m);
}

typedef struct {
    size_t visits;
    size_t removed;
    int seen[64];
} visit;

/* Removes the entries whose value is even, replaces the others with vals[value + 100]. */
static bool visitor(void *ctx, const uint8_t key[32], void **val)
{
    visit *v = ctx;
    int i = (int)((int *)*val - vals);
    uint32_t tag;
    memcpy(&tag, key + 28, sizeof tag);
    assert_int_equal(tag, (uint32_t)i); /* the key that goes with the value */
    assert_true(i >= 0 && i < 64);
    v->visits++;
    v->seen[i]++;
    if (i % 2 == 0) {
        v->removed++;
        return true;
    }
    *val = &vals[i + 100];
    return false;
}

static void test_each(void **st)
{
    (void)st;
    hmap m;
    uint8_t k[64][32];
    visit v;
    memset(&v, 0, sizeof v);
    assert_int_equal(hmap_init(&m, 0), 0);
    hmap_each(&m, visitor, &v); /* an empty map: no visit */
    assert_int_equal(v.visits, 0);
    for (uint32_t i = 0; i < 64; i++) {
        key_at(k[i], i % 8, i); /* chains of eight */
        assert_int_equal(hmap_put(&m, k[i], &vals[i]), 0);
    }
    for (uint32_t i = 48; i < 64; i++) /* deleted: never visited */
        assert_ptr_equal(hmap_del(&m, k[i]), &vals[i]);
    hmap_each(&m, visitor, &v);
    assert_int_equal(v.visits, 48);
    assert_int_equal(v.removed, 24);
    for (uint32_t i = 0; i < 64; i++)
        assert_int_equal(v.seen[i], i < 48 ? 1 : 0);
    assert_int_equal(m.live, 24);
    for (uint32_t i = 0; i < 64; i++)
        if (i < 48 && i % 2)
            assert_ptr_equal(hmap_get(&m, k[i]), &vals[i + 100]);
        else
            assert_null(hmap_get(&m, k[i]));
    hmap_free(&m);
}

/* Random puts, overwrites and deletes over a small key space with shared home slots,
 * against a plain array; every key checked after every step. */
static void test_random_against_array(void **st)
{
    (void)st;
    enum { KEYS = 96, STEPS = 20000 };
    hmap m;
    uint8_t k[KEYS][32];
    void *model[KEYS] = {0};
    size_t live = 0;
    uint64_t seed = 2026;
    assert_int_equal(hmap_init(&m, 0), 0);
    for (uint32_t i = 0; i < KEYS; i++)
        key_at(k[i], (size_t)(splitmix64(&seed) % 16) * 4 + 60, i); /* homes near the end */
    for (size_t step = 0; step < STEPS; step++) {
        uint64_t r = splitmix64(&seed);
        size_t i = r % KEYS;
        if ((r >> 32) % 3) {
            void *val = &vals[(r >> 40) % MANY];
            assert_int_equal(hmap_put(&m, k[i], val), 0);
            live += !model[i];
            model[i] = val;
        } else {
            assert_ptr_equal(hmap_del(&m, k[i]), model[i]);
            live -= !!model[i];
            model[i] = NULL;
        }
        assert_int_equal(m.live, live);
        if (step % 64 == 0 || step > STEPS - 64)
            for (size_t j = 0; j < KEYS; j++)
                assert_ptr_equal(hmap_get(&m, k[j]), model[j]);
    }
    hmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_sizes),
        cmocka_unit_test(test_put_get_overwrite_del),
        cmocka_unit_test(test_collisions_and_tombstones),
        cmocka_unit_test(test_probe_wraps_around),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_tombstones_do_not_grow_the_table),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_random_against_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
