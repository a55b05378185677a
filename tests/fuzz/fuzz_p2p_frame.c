/*
 * fuzz_p2p_frame: the p2p frame parser (p2p/frame.c), which reads what a peer sends inside
 * TLS: a 4-byte length, a type byte, the payload.
 *
 * Input: byte 0 picks the payload limit (1 .. 4096), byte 1 seeds the chunking; the rest is
 * the stream. It is fed whole, and again in chunks of 1 to 16 bytes.
 * Checks: no frame exceeds the limit; both feeds deliver the same frames (types, lengths and
 * contents, in order) and end with the same result; an error stops the stream for good.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/internal.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t max, n;
    uint8_t types[4096];
    size_t lens[4096];
    uint64_t sums[4096];
} seen;

static int on_frame(void *arg, uint8_t type, const uint8_t *payload, size_t len)
{
    seen *s = arg;
    FZ_CHECK(len <= s->max, "frame of %zu bytes over the limit %zu", len, s->max);
    if (s->n < 4096) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < len; i++)
            h = (h ^ payload[i]) * 1099511628211ull;
        s->types[s->n] = type;
        s->lens[s->n] = len;
        s->sums[s->n] = h;
    }
    s->n++;
    return 0;
}

static int feed(const uint8_t *d, size_t n, size_t max, unsigned seed, seen *s)
{
    p2p__frame f;
    p2p__frame_init(&f, max);
    memset(s, 0, sizeof *s);
    s->max = max;
    int rc = 0;
    size_t off = 0;
    while (off < n && !rc) {
        size_t chunk = seed ? 1 + (seed = seed * 1103515245u + 12345u, (seed >> 16) % 16) : n - off;
        if (chunk > n - off)
            chunk = n - off;
        size_t used = 0;
        rc = p2p__frame_feed(&f, d + off, chunk, &used, on_frame, s);
        FZ_CHECK(used <= chunk, "used %zu of %zu", used, chunk);
        if (!rc)
            FZ_CHECK(used == chunk, "a clean feed consumed %zu of %zu", used, chunk);
        off += chunk;
    }
    p2p__frame_free(&f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static seen a, b;
    if (size < 2)
        return 0;
    size_t max = 1 + (size_t)data[0] * 16;
    unsigned seed = data[1] | 1u;
    int ra = feed(data + 2, size - 2, max, 0, &a);
    int rb = feed(data + 2, size - 2, max, seed, &b);
    FZ_CHECK(ra == rb, "whole feed %d, chunked %d", ra, rb);
    FZ_CHECK(ra == 0 || ra == P2P_EFRAME || ra == P2P_ENOMEM, "unexpected result %d", ra);
    FZ_CHECK(a.n == b.n, "whole feed %zu frames, chunked %zu", a.n, b.n);
    size_t n = a.n < 4096 ? a.n : 4096;
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(a.types[i] == b.types[i] && a.lens[i] == b.lens[i] && a.sums[i] == b.sums[i],
                 "frame %zu differs", i);
    return 0;
}
