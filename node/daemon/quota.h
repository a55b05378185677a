/*
 * node/daemon/quota.h: the quota component of fwledgerd: token buckets by client, for the
 * RPC port's per-client rates (requests/s, eligibility decisions/s; docs/operator.md).
 *
 * A bucket holds up to one second of its rate and refills continuously; taking more than it
 * holds is refused with the time until it would hold enough. Buckets are named by 32-byte
 * keys (the caller hashes what names a client: its address, or its key); a bucket that is
 * full again is the same as none, so node_quota_sweep drops those, and the table holds at
 * most max_entries (past it, new clients share one overflow bucket, so a flood of fresh
 * names cannot grow memory). Deterministic: time is an argument. Loop thread only.
 */
#ifndef FWL_NODE_DAEMON_QUOTA_H
#define FWL_NODE_DAEMON_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "node/daemon/hmap.h"

typedef struct {
    hmap buckets;        /* key -> node__quota_bucket                                    */
    size_t max_entries;
    void *overflow;      /* the shared bucket past max_entries                           */
} node_quota;

/* Errors: LDG_EINVALID (max_entries 0), LDG_ENOMEM. */
int node_quota_init(node_quota *q, size_t max_entries);
void node_quota_close(node_quota *q);

/* Take cost from key's bucket of rate per second (capacity: rate) at now_ms. Returns 0, or
 * NODE_ERATE with *retry_ms the wait until the bucket holds cost (cost above rate: the time
 * to fill it). rate 0: no limit. Errors: LDG_ENOMEM (the request is let through then: a
 * quota must not turn an allocation failure into a refusal for everyone). */
int node_quota_take(node_quota *q, const uint8_t key[32], uint32_t rate, uint32_t cost,
                    uint64_t now_ms, uint32_t *retry_ms);

/* Drop the buckets full again at now_ms (rate as they were taken with). */
void node_quota_sweep(node_quota *q, uint64_t now_ms);

/* Buckets held (for tests). */
size_t node_quota_count(const node_quota *q);

#endif
