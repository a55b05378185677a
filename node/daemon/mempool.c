/*
 * The mempool: verified transactions in arrival order, found by tx id (WaitForTx, dedup) and
 * by envelope hash (how a block from elsewhere names them). Entries leave when a block
 * includes them or when a rule refuses them; the FIFO array skips the dead ones until the
 * next compaction.
 */
#include "node/daemon/server_internal.h"

int node__mempool_add(server *s, const uint8_t hash[LDG_DIGEST_LEN],
                      const uint8_t raw_hash[LDG_DIGEST_LEN], uint8_t *raw, size_t len)
{
    if (s->mp_len == s->mp_cap) {
        node__mempool_compact(s);
        if (s->mp_len == s->mp_cap) {
            size_t cap = s->mp_cap ? s->mp_cap * 2 : 1024;
            mp_entry **p = realloc(s->mp, cap * sizeof *p);
            if (!p)
                return LDG_ENOMEM;
            s->mp = p;
            s->mp_cap = cap;
        }
    }
    mp_entry *e = calloc(1, sizeof *e);
    if (!e || hmap_put(&s->pending, hash, e)) {
        free(e);
        return LDG_ENOMEM;
    }
    if (hmap_put(&s->by_raw, raw_hash, e)) {
        hmap_del(&s->pending, hash);
        free(e);
        return LDG_ENOMEM;
    }
    memcpy(e->hash, hash, LDG_DIGEST_LEN);
    memcpy(e->raw_hash, raw_hash, LDG_DIGEST_LEN);
    e->raw = raw;
    e->len = len;
    e->waiters = hmap_del(&s->waiting, hash); /* waiters that came before the tx */
    s->mp[s->mp_len++] = e;
    s->mp_live++;
    return 0;
}

void node__mempool_remove(server *s, mp_entry *e, int code)
{
    if (e->dead)
        return;
    e->dead = true;
    hmap_del(&s->pending, e->hash);
    hmap_del(&s->by_raw, e->raw_hash);
    node__answer_waiters(s, e->waiters, e->hash, code);
    e->waiters = NULL;
    free(e->raw);
    e->raw = NULL;
    s->mp_live--;
    s->mp_dead++;
    if (s->mp_live == 0 && s->nonces.live)
        hmap_each(&s->nonces, node__free_value, NULL);
}

void node__mempool_compact(server *s)
{
    size_t j = 0;
    for (size_t i = s->mp_head; i < s->mp_len; i++) {
        if (s->mp[i]->dead)
            free(s->mp[i]);
        else
            s->mp[j++] = s->mp[i];
    }
    s->mp_head = 0;
    s->mp_len = j;
    s->mp_dead = 0;
}

size_t node__mempool_head(server *s, size_t max, mp_entry **out)
{
    size_t n = 0;
    while (s->mp_head < s->mp_len && s->mp[s->mp_head]->dead) /* drop dead ones in front */
        free(s->mp[s->mp_head++]), s->mp_dead--;
    for (size_t i = s->mp_head; i < s->mp_len && n < max; i++)
        if (!s->mp[i]->dead)
            out[n++] = s->mp[i];
    return n;
}

void node__note_pending_nonce(server *s, const uint8_t sender[LDG_DIGEST_LEN], uint64_t nonce)
{
    uint64_t *n = hmap_get(&s->nonces, sender);
    if (n) {
        if (*n < nonce)
            *n = nonce;
        return;
    }
    if (!(n = malloc(sizeof *n)))
        return; /* only a hint: the ledger's replay rule stays authoritative */
    *n = nonce;
    if (hmap_put(&s->nonces, sender, n))
        free(n);
}

bool node__free_value(void *ctx, const uint8_t key[32], void **val)
{
    (void)ctx, (void)key;
    free(*val);
    return true;
}
