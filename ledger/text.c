/*
 * Text: strict UTF-8 (ldg_utf8_valid), for the string fields of the schema (proto3 requires
 * them to be UTF-8, and stock decoders refuse a message holding one that is not).
 */
#include "ledger/ledger.h"

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
