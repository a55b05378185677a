#include <stdlib.h>
#include <string.h>

#include "node/daemon/hmap.h"

static char hmap_tomb;

static size_t slot_of(const hmap *m, const uint8_t *k)
{
    uint64_t h;
    memcpy(&h, k, sizeof h);
    return (size_t)h & (m->cap - 1);
}

int hmap_init(hmap *m, size_t expected)
{
    size_t cap = 64;
    while (cap < expected * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->used = m->live = 0;
    return m->slots ? 0 : -1;
}

void hmap_free(hmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->used = m->live = 0;
}

static hmap_slot *find(const hmap *m, const uint8_t *k)
{
    for (size_t i = slot_of(m, k);; i = (i + 1) & (m->cap - 1)) {
        hmap_slot *s = &m->slots[i];
        if (!s->val)
            return NULL;
        if (s->val != &hmap_tomb && !memcmp(s->key, k, 32))
            return s;
    }
}

void *hmap_get(const hmap *m, const uint8_t key[32])
{
    hmap_slot *s = find(m, key);
    return s ? s->val : NULL;
}

static int grow(hmap *m)
{
    hmap n;
    if (hmap_init(&n, m->live * 2 + 32))
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].val && m->slots[i].val != &hmap_tomb)
            hmap_put(&n, m->slots[i].key, m->slots[i].val);
    free(m->slots);
    *m = n;
    return 0;
}

int hmap_put(hmap *m, const uint8_t key[32], void *val)
{
    hmap_slot *s = find(m, key);
    if (s) {
        s->val = val;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && grow(m))
        return -1;
    for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        s = &m->slots[i];
        if (!s->val || s->val == &hmap_tomb) {
            if (!s->val)
                m->used++;
            memcpy(s->key, key, 32);
            s->val = val;
            m->live++;
            return 0;
        }
    }
}

void *hmap_del(hmap *m, const uint8_t key[32])
{
    hmap_slot *s = find(m, key);
    if (!s)
        return NULL;
    void *v = s->val;
    s->val = &hmap_tomb;
    m->live--;
    return v;
}

void hmap_each(hmap *m, bool (*fn)(void *ctx, const uint8_t key[32], void **val), void *ctx)
{
    for (size_t i = 0; i < m->cap; i++) {
        hmap_slot *s = &m->slots[i];
        if (s->val && s->val != &hmap_tomb && fn(ctx, s->key, &s->val)) {
            s->val = &hmap_tomb;
            m->live--;
        }
    }
}
