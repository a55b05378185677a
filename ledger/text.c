/*
 * Text: strict UTF-8 (ldg_utf8_valid), and the string fields of an encoded message checked
 * on their raw bytes (ldg__wire_text_check).
 *
 * Why the raw bytes: nanopb decodes a string into a fixed char array and NUL-terminates it,
 * so "a\0b" comes out as "a" and the decoded struct no longer says how long the string was.
 * A stock protobuf decoder of the same bytes sees all three characters, and refuses the
 * whole message when a string is not UTF-8 (proto3). Walking the encoding itself sees
 * exactly what every other decoder sees, in every string field of every nested message,
 * with no list of fields to keep in step with the schema. (Comparing the signed bytes with a
 * re-encoding of the decoded struct would catch a cut string too, but it would also refuse
 * encodings that are valid protobuf and that other encoders may write: fields out of order,
 * a field this schema does not know, a longer varint than needed; and it could not say
 * which field was wrong.)
 */
#include <string.h>

#include <pb_common.h>
#include <pb_decode.h>

#include "ledger/ledger.h"
#include "ledger/internal.h"

/* Well-formed UTF-8 after Unicode 15.0, Table 3-7: the second byte's range depends on the
 * first (which excludes overlong forms, the surrogates U+D800..U+DFFF and anything above
 * U+10FFFF); the bytes after it are 80..BF. C0, C1 and F5..FF never start a sequence. */
bool ldg_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i], lo = 0x80, hi = 0xbf;
        size_t more;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return false;
        if (len - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += 1 + more;
    }
    return true;
}

/* The schema has no recursive message; this bounds the walk should one appear. */
#define WALK_DEPTH_MAX 8

static int walk(const pb_msgdesc_t *desc, const void *msg, const uint8_t *buf, size_t len,
                unsigned depth, ldg__text_fault *fault)
{
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    pb_field_iter_t it;
    bool has_fields = pb_field_iter_begin_const(&it, desc, msg);
    pb_wire_type_t wt;
    uint32_t tag, n;
    bool eof;
    if (depth > WALK_DEPTH_MAX)
        return LDG_EMALFORMED;
    while (pb_decode_tag(&st, &wt, &tag, &eof)) {
        if (tag == 0)
            return LDG_EMALFORMED;
        /* Unknown fields and fields that are neither text nor a message: nothing to read. */
        if (wt != PB_WT_STRING || !has_fields || !pb_field_iter_find(&it, tag) ||
            (PB_LTYPE(it.type) != PB_LTYPE_STRING && !PB_LTYPE_IS_SUBMSG(it.type))) {
            if (!pb_skip_field(&st, wt))
                return LDG_EMALFORMED;
            continue;
        }
        if (!pb_decode_varint32(&st, &n) || n > st.bytes_left)
            return LDG_EMALFORMED;
        const uint8_t *p = buf + (len - st.bytes_left);
        if (!pb_read(&st, NULL, n))
            return LDG_EMALFORMED;
        if (PB_LTYPE_IS_SUBMSG(it.type)) {
            int rc = walk(it.submsg_desc, it.pData, p, n, depth + 1, fault);
            if (rc)
                return rc;
        } else {
            bool nul = memchr(p, 0, n) != NULL;
            if (nul || !ldg_utf8_valid(p, n)) {
                fault->msg = desc;
                fault->tag = tag;
                fault->nul = nul;
                return LDG_EINVALID;
            }
        }
    }
    return eof ? 0 : LDG_EMALFORMED;
}

int ldg__wire_text_check(const pb_msgdesc_t *desc, const void *msg, const uint8_t *buf,
                         size_t len, ldg__text_fault *fault)
{
    ldg__text_fault unused;
    return walk(desc, msg, buf, len, 0, fault ? fault : &unused);
}
