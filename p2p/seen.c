/*
 * p2p_seen: a fixed-capacity set of 32-byte ids with FIFO eviction.
 *
 * Layout: the ids live in a ring of `cap` slots in insertion order (the oldest at `head`);
 * an open-addressing table with linear probing maps a keyed hash of the id to its ring slot
 * (stored + 1, so 0 means empty). The table has a power-of-two size of at least twice the
 * capacity, so it is never more than half full and probes stay short. Eviction removes the
 * oldest id from the table with backward-shift deletion (no tombstones, so the table never
 * degrades) and reuses its ring slot.
 *
 * The bucket hash is SipHash-2-4 under a key from the caller's seed: ids are hashes of data
 * that senders choose, and an unkeyed hash would let one grind ids into a single probe run.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "p2p/p2p.h"

#define ID_LEN 32
#define CAP_MAX ((size_t)1 << 28)

struct p2p_seen {
    size_t cap, count, head;
    uint8_t (*ids)[ID_LEN];
    uint32_t *hashes; /* per ring slot: the id's hash (so deletion does not rehash)        */
    uint32_t *table;  /* ring slot + 1, or 0                                               */
    size_t mask;
    uint64_t k0, k1;
};

static uint64_t rd64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                              \
    do {                                                                                      \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                             \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                             \
    } while (0)

/* SipHash-2-4 of exactly 32 bytes. */
static uint64_t siphash32(uint64_t k0, uint64_t k1, const uint8_t m[ID_LEN])
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    for (int i = 0; i < ID_LEN; i += 8) {
        uint64_t w = rd64le(m + i);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t b = (uint64_t)ID_LEN << 56;
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

int p2p_seen_new(p2p_seen **out, size_t capacity, const uint8_t seed[16])
{
    if (!out)
        return P2P_EINVAL;
    *out = NULL;
    if (!seed || capacity == 0 || capacity > CAP_MAX)
        return P2P_EINVAL;
    size_t size = 2;
    while (size < 2 * capacity)
        size *= 2;
    p2p_seen *s = calloc(1, sizeof *s);
    if (!s)
        return P2P_ENOMEM;
    s->ids = malloc(capacity * ID_LEN);
    s->hashes = malloc(capacity * sizeof *s->hashes);
    s->table = calloc(size, sizeof *s->table);
    if (!s->ids || !s->hashes || !s->table) {
        p2p_seen_free(s);
        return P2P_ENOMEM;
    }
    s->cap = capacity;
    s->mask = size - 1;
    s->k0 = rd64le(seed);
    s->k1 = rd64le(seed + 8);
    *out = s;
    return 0;
}

void p2p_seen_free(p2p_seen *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->hashes);
    free(s->table);
    OPENSSL_cleanse(s, sizeof *s); /* the hash key */
    free(s);
}

size_t p2p_seen_count(const p2p_seen *s) { return s ? s->count : 0; }
size_t p2p_seen_capacity(const p2p_seen *s) { return s ? s->cap : 0; }

/* The table slot holding id, or the empty slot where it would go. */
static size_t find(const p2p_seen *s, const uint8_t id[ID_LEN], uint32_t h, bool *found)
{
    size_t i = h & s->mask;
    for (;;) {
        uint32_t v = s->table[i];
        if (!v) {
            *found = false;
            return i;
        }
        if (s->hashes[v - 1] == h && memcmp(s->ids[v - 1], id, ID_LEN) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & s->mask;
    }
}

bool p2p_seen_has(const p2p_seen *s, const uint8_t id[32])
{
    if (!s || !id)
        return false;
    bool found;
    (void)find(s, id, (uint32_t)siphash32(s->k0, s->k1, id), &found);
    return found;
}

/* Remove table slot i (backward-shift deletion: later members of the probe run move up so
 * that every id stays reachable from its home slot without passing an empty slot). */
static void table_delete(p2p_seen *s, size_t i)
{
    size_t j = i;
    s->table[i] = 0;
    for (;;) {
        j = (j + 1) & s->mask;
        uint32_t v = s->table[j];
        if (!v)
            return;
        size_t home = s->hashes[v - 1] & s->mask;
        /* Move v into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->table[i] = v;
            s->table[j] = 0;
            i = j;
        }
    }
}

bool p2p_seen_add(p2p_seen *s, const uint8_t id[32])
{
    if (!s || !id)
        return false;
    uint32_t h = (uint32_t)siphash32(s->k0, s->k1, id);
    bool found;
    size_t slot = find(s, id, h, &found);
    if (found)
        return false;
    size_t ring;
    if (s->count == s->cap) {
        /* Evict the oldest: find its table slot by its own hash, delete, reuse its ring slot.
         * The deletion may move entries, so the new id's slot is searched again after. */
        ring = s->head;
        size_t i = s->hashes[ring] & s->mask;
        while (s->table[i] != ring + 1)
            i = (i + 1) & s->mask;
        table_delete(s, i);
        s->head = (s->head + 1) % s->cap;
        slot = find(s, id, h, &found);
    } else {
        ring = (s->head + s->count) % s->cap;
        s->count++;
    }
    memcpy(s->ids[ring], id, ID_LEN);
    s->hashes[ring] = h;
    s->table[slot] = (uint32_t)(ring + 1);
    return true;
}
