/* node/daemon internal: an open-addressing hash map from 32-byte hashes to pointers. The keys are
 * cryptographic hashes, so their first 8 bytes are already uniformly distributed. */
#ifndef FWL_NODE_HMAP_H
#define FWL_NODE_HMAP_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t key[32];
    void *val; /* NULL: empty slot; &hmap_tomb: deleted */
} hmap_slot;

typedef struct {
    hmap_slot *slots;
    size_t cap;   /* power of two */
    size_t used;  /* live + tombstones */
    size_t live;
} hmap;

int hmap_init(hmap *m, size_t expected);
void hmap_free(hmap *m);
void *hmap_get(const hmap *m, const uint8_t key[32]);
/* Insert or replace. Returns 0 or -1 (out of memory). val must not be NULL. */
int hmap_put(hmap *m, const uint8_t key[32], void *val);
/* Remove; returns the old value or NULL. */
void *hmap_del(hmap *m, const uint8_t key[32]);
/* Visit every live entry. The callback may replace the value through *val (not with NULL)
 * or return true to remove the entry; it may not otherwise modify the map. */
void hmap_each(hmap *m, bool (*fn)(void *ctx, const uint8_t key[32], void **val), void *ctx);

#endif
