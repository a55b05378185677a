/*
 * The frame parser: bytes in any split, complete frames out.
 *
 * Invariant: f->buf never holds more than the payload bytes that actually arrived (its
 * capacity is at most twice that, and at most the declared length), and a declared length is
 * checked against f->max before anything is allocated for it. A peer declaring 16 MiB and
 * sending 10 bytes costs 10 bytes, not 16 MiB.
 */
#include <stdlib.h>
#include <string.h>

#include "p2p/internal.h"

/* Buffers larger than this are released after their frame instead of kept for the next. */
#define KEEP_MAX (1u << 20)
#define GROW_MIN 4096u

void p2p__frame_init(p2p__frame *f, size_t max)
{
    memset(f, 0, sizeof *f);
    f->max = max;
}

void p2p__frame_free(p2p__frame *f)
{
    if (!f)
        return;
    free(f->buf);
    f->buf = NULL;
    f->buf_len = f->buf_cap = 0;
}

void p2p__frame_header(uint8_t out[P2P_FRAME_HDR], uint8_t type, size_t len)
{
    uint32_t l = (uint32_t)(len + 1);
    out[0] = (uint8_t)(l >> 24), out[1] = (uint8_t)(l >> 16), out[2] = (uint8_t)(l >> 8);
    out[3] = (uint8_t)l;
    out[4] = type;
}

/* Room for at least `more` further payload bytes, capped at the declared length. */
static int reserve(p2p__frame *f, size_t more)
{
    size_t want = f->buf_len + more;
    if (want <= f->buf_cap)
        return 0;
    size_t cap = f->buf_cap ? f->buf_cap * 2 : GROW_MIN;
    if (cap < want)
        cap = want;
    if (cap > f->need)
        cap = f->need;
    uint8_t *b = realloc(f->buf, cap);
    if (!b)
        return P2P_ENOMEM;
    f->buf = b;
    f->buf_cap = cap;
    return 0;
}

static void frame_done(p2p__frame *f)
{
    f->hdr_len = 0;
    f->need = 0;
    f->buf_len = 0;
    if (f->buf_cap > KEEP_MAX) {
        free(f->buf);
        f->buf = NULL;
        f->buf_cap = 0;
    }
}

int p2p__frame_feed(p2p__frame *f, const uint8_t *data, size_t len, size_t *used,
                    p2p__frame_cb cb, void *arg)
{
    size_t off = 0;
    int rc = 0;
    while (off < len) {
        if (f->hdr_len < P2P_FRAME_HDR) {
            size_t n = P2P_FRAME_HDR - f->hdr_len;
            if (n > len - off)
                n = len - off;
            memcpy(f->hdr + f->hdr_len, data + off, n);
            f->hdr_len += n;
            off += n;
            if (f->hdr_len < P2P_FRAME_HDR)
                break;
            uint32_t l = (uint32_t)f->hdr[0] << 24 | (uint32_t)f->hdr[1] << 16 |
                         (uint32_t)f->hdr[2] << 8 | f->hdr[3];
            if (l == 0 || (size_t)l - 1 > f->max) {
                rc = P2P_EFRAME;
                break;
            }
            f->need = (size_t)l - 1;
        }
        uint8_t type = f->hdr[4];
        size_t avail = len - off;
        if (f->buf_len == 0 && avail >= f->need) {
            /* The whole payload is in this input: deliver it in place, no copy. */
            const uint8_t *p = data + off;
            size_t n = f->need;
            off += n;
            frame_done(f);
            if ((rc = cb(arg, type, p, n)))
                break;
            continue;
        }
        size_t n = f->need - f->buf_len;
        if (n > avail)
            n = avail;
        if (n == 0)
            break; /* the header ended the input */
        if ((rc = reserve(f, n)))
            break;
        memcpy(f->buf + f->buf_len, data + off, n);
        f->buf_len += n;
        off += n;
        if (f->buf_len < f->need)
            break;
        size_t plen = f->need;
        /* Keep the buffer (it is reused) but reset the state before the callback, which may
         * change f->max. */
        f->hdr_len = 0;
        f->need = 0;
        f->buf_len = 0;
        rc = cb(arg, type, f->buf, plen);
        frame_done(f);
        if (rc)
            break;
    }
    *used = off;
    return rc;
}
