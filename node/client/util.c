/*
 * Hex, whole-file reads, atomic file writes and error messages for node/.
 *
 * node_write_file is the only way node/ writes a file that must survive a crash (genesis,
 * config, key files): a reader sees the old content or the new one, never a mix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "node/client/client.h"
#include "consensus/consensus.h" /* the tables only: nothing of consensus/ is linked */
#include "contracts/contracts.h"
#include "p2p/p2p_errors.h"      /* not p2p.h: the client library links no libuv */

/* Each table stays inside its range (client.h), so codes of two modules never collide. A
 * collision that slipped through would also stop node_strerror's switch from compiling. */
#define IN_RANGE_(name, val, msg, lo, hi) \
    _Static_assert((val) <= (hi) && (val) >= (lo), #name " is outside its module's range");
#define LDG_RANGE_(name, val, msg) IN_RANGE_(name, val, msg, -99, 0) /* 0: LDG_OK */
#define NODE_RANGE_(name, val, msg) IN_RANGE_(name, val, msg, -199, -100)
#define P2P_RANGE_(name, val, msg) IN_RANGE_(name, val, msg, -299, -200)
#define CTR_RANGE_(name, val, msg) IN_RANGE_(name, val, msg, -399, -300)
#define CNS_RANGE_(name, val, msg) IN_RANGE_(name, val, msg, -499, -400)
LDG_ERRORS(LDG_RANGE_)
NODE_ERRORS(NODE_RANGE_)
P2P_ERRORS(P2P_RANGE_)
CTR_ERRORS(CTR_RANGE_)
CNS_ERRORS(CNS_RANGE_)

/* One switch over every module's table (LDG_OK names 0). Static strings only, so any
 * thread may call it. */
const char *node_strerror(int err)
{
    switch (err) {
#define MSG_(name, val, msg) \
    case (val):              \
        return msg;
        LDG_ERRORS(MSG_)
        NODE_ERRORS(MSG_)
        P2P_ERRORS(MSG_)
        CTR_ERRORS(MSG_)
        CNS_ERRORS(MSG_)
#undef MSG_
    default:
        return "unknown error";
    }
}

void node_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Both cases are accepted; no prefix, no separators. The length is checked before anything
 * is written, so out is never written past cap; on error out (cap bytes) is zeroed and *len
 * is 0. */
int node_unhex(const char *in, uint8_t *out, size_t cap, size_t *len)
{
    size_t n;

    if (len)
        *len = 0;
    if (!in || !len || (!out && cap))
        return LDG_EINVALID;
    n = strnlen(in, cap <= (SIZE_MAX - 1) / 2 ? 2 * cap + 1 : SIZE_MAX);
    if (n % 2 || n / 2 > cap)
        goto bad;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
bad:
    if (cap)
        memset(out, 0, cap);
    return LDG_EINVALID;
}

/*
 * The size is checked twice: against fstat before allocating, and while reading (the file
 * may grow, or be a pipe or device whose size fstat does not know), by reading at most
 * max + 1 bytes. The buffer gets a NUL after the data (not counted in *len) so text parsers
 * may treat it as a string.
 *
 * Key files come through here, so no copy of the content is left in freed memory: a
 * regular file of unchanged size is read into one exact allocation, and a buffer that has
 * to grow (or is dropped on error) is wiped before it is freed.
 * Errors: LDG_EIO (errno says why), LDG_ETOOBIG, LDG_ENOMEM.
 */
int node_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    int fd, saved, rc = LDG_EIO;

    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!path || !out || !len || max >= SIZE_MAX - 2)
        return LDG_EIO;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LDG_EIO;
    if (fstat(fd, &st) != 0)
        goto done;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto done;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        rc = LDG_ETOOBIG;
        goto done;
    }
    /* Room for one byte more than expected, to see EOF (or growth) without reallocating. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
    if (cap > max + 1)
        cap = max + 1;
    if (!(buf = malloc(cap + 1))) {
        rc = LDG_ENOMEM;
        goto done;
    }
    for (;;) {
        if (n == cap) {
            if (cap == max + 1) {
                rc = LDG_ETOOBIG;
                goto done;
            }
            size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            uint8_t *nb = malloc(ncap + 1);
            if (!nb) {
                rc = LDG_ENOMEM;
                goto done;
            }
            memcpy(nb, buf, n);
            OPENSSL_cleanse(buf, cap + 1);
            free(buf);
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
done:
    saved = errno; /* callers may name the cause with strerror(errno) */
    if (buf) {
        OPENSSL_cleanse(buf, cap + 1);
        free(buf);
    }
    close(fd);
    errno = saved;
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Write to "<path>.tmp.XXXXXX" in the same directory (rename is only atomic within one file
 * system), fsync it, rename it over path, then fsync the directory so that the rename itself
 * is durable. mode is applied with fchmod, so the umask does not weaken or widen it, and it
 * is in force before any byte is written (a key file is never readable by others, even
 * briefly). On any failure the temporary file is removed and path is untouched.
 */
int node_write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const char *slash;
    int fd, dfd, saved;

    if (!path || !*path || (!data && len))
        return LDG_EIO;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return LDG_EIO;
    slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return LDG_EIO;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0)
        goto fail;

    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return LDG_EIO; /* renamed, but its durability is unknown: report it */
    saved = fsync(dfd);
    close(dfd);
    return saved == 0 ? 0 : LDG_EIO;

fail:
    saved = errno;
    unlink(tmp);
    errno = saved;
    return LDG_EIO;
}

int node_buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return LDG_ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

int node_pubkey_parse(const char *s, size_t len, ldg_pubkey *out)
{
    const char *colon = memchr(s, ':', len);
    char name[32], hex[2 * LDG_PUBKEY_MAX + 2];
    size_t nl = colon ? (size_t)(colon - s) : 0, hl = colon ? len - nl - 1 : 0, kl = 0;
    memset(out, 0, sizeof *out);
    if (!colon || nl >= sizeof name || hl >= sizeof hex)
        return LDG_EINVALID;
    memcpy(name, s, nl);
    name[nl] = '\0';
    memcpy(hex, colon + 1, hl);
    hex[hl] = '\0';
    const ldg_sig_impl *im = ldg_sig_by_name(name);
    if (!im)
        return LDG_EUNKNOWN_ALG;
    if (node_unhex(hex, out->key, sizeof out->key, &kl) || kl != im->pub_len)
        return LDG_EINVALID;
    out->alg = im->id;
    out->len = kl;
    return 0;
}

int node_pubkey_list_parse(const char *s, ldg_pubkey *out, size_t cap, size_t *n)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (*n == cap)
            return LDG_ETOOBIG;
        int rc = node_pubkey_parse(s, len, &out[*n]);
        if (rc)
            return rc;
        ++*n;
        s += len + (s[len] == ',');
    }
    return 0;
}

bool node_addr_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int node_fail(char *why, size_t whylen, int rc, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
