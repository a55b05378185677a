/*
 * The quota component (quota.h): token buckets in milli-tokens, so that refills of a few
 * milliseconds at low rates are not rounded away.
 */
#include <stdlib.h>
#include <string.h>

#include "node/client/client.h"
#include "node/daemon/quota.h"

typedef struct {
    uint64_t milli;   /* tokens x 1000 held at last_ms */
    uint64_t last_ms;
    uint32_t rate;    /* per second: refill rate milli-tokens per ms, capacity rate x 1000 */
} bucket;

int node_quota_init(node_quota *q, size_t max_entries)
{
    memset(q, 0, sizeof *q);
    if (!max_entries)
        return LDG_EINVALID;
    q->max_entries = max_entries;
    q->overflow = calloc(1, sizeof(bucket));
    if (!q->overflow || hmap_init(&q->buckets, 64)) {
        node_quota_close(q);
        return LDG_ENOMEM;
    }
    return 0;
}

static bool drop_all(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    free(*val);
    return true;
}

void node_quota_close(node_quota *q)
{
    if (q->buckets.slots)
        hmap_each(&q->buckets, drop_all, NULL);
    hmap_free(&q->buckets);
    free(q->overflow);
    memset(q, 0, sizeof *q);
}

/* b's tokens at now_ms. */
static void refill(bucket *b, uint64_t now_ms)
{
    uint64_t cap = (uint64_t)b->rate * 1000;
    if (now_ms > b->last_ms) {
        uint64_t add = (now_ms - b->last_ms) * b->rate;
        b->milli = b->milli + add > cap || add / b->rate != now_ms - b->last_ms ? cap
                                                                              : b->milli + add;
        b->last_ms = now_ms;
    }
    if (b->milli > cap)
        b->milli = cap;
}

static bucket *find(node_quota *q, const uint8_t key[32], uint32_t rate, uint64_t now_ms)
{
    bucket *b = hmap_get(&q->buckets, key);
    if (b)
        return b;
    if (q->buckets.live >= q->max_entries)
        return q->overflow;
    if (!(b = malloc(sizeof *b)))
        return NULL;
    *b = (bucket){.milli = (uint64_t)rate * 1000, .last_ms = now_ms, .rate = rate};
    if (hmap_put(&q->buckets, key, b)) {
        free(b);
        return NULL;
    }
    return b;
}

int node_quota_take(node_quota *q, const uint8_t key[32], uint32_t rate, uint32_t cost,
                    uint64_t now_ms, uint32_t *retry_ms)
{
    *retry_ms = 0;
    if (!rate)
        return 0;
    bucket *b = find(q, key, rate, now_ms);
    if (!b)
        return LDG_ENOMEM;
    if (b->rate != rate) { /* the overflow bucket, or a rate changed: keep the fill ratio */
        b->milli = b->rate ? b->milli / b->rate * rate : (uint64_t)rate * 1000;
        b->rate = rate;
    }
    refill(b, now_ms);
    uint64_t want = (uint64_t)(cost < rate ? cost : rate) * 1000;
    if (b->milli >= want) {
        b->milli -= (uint64_t)cost * 1000 > b->milli ? b->milli : (uint64_t)cost * 1000;
        return 0;
    }
    uint64_t wait = (want - b->milli + rate - 1) / rate;
    *retry_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
    return NODE_ERATE;
}

static bool drop_full(void *ctx, const uint8_t key[32], void **val)
{
    (void)key;
    bucket *b = *val;
    refill(b, *(const uint64_t *)ctx);
    if (b->milli < (uint64_t)b->rate * 1000)
        return false;
    free(b);
    return true;
}

void node_quota_sweep(node_quota *q, uint64_t now_ms)
{
    hmap_each(&q->buckets, drop_full, &now_ms);
}

size_t node_quota_count(const node_quota *q)
{
    return q->buckets.live;
}
