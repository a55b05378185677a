/*
 * The audit log's writer (files.h): appends lines to a file it holds locked, rotates it,
 * continues the chain across restarts and rotations, and coalesces the events anyone can
 * cause so that they cannot fill the disk or stall the loop with syncs. The line format and
 * the verifier are in audit.c.
 *
 * Invariant: seq and prev are those of the last whole line in the files (0 and zero before
 * the first), and a line is counted only once write(2) took all of it. A write that took part
 * of a line is cut back off (ftruncate); if that fails too, the file ends in part of a line,
 * and the next line written starts on a new line after a chain_reset saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/files/files.h"

#define TAIL_MAX (64u << 10) /* how far back a restart looks for the last whole line */
#define SUFFIX_MAX 16        /* "." and a uint32_t in decimal, and room              */
_Static_assert(NODE_AUDIT_PATH_MAX + SUFFIX_MAX <= 4096, "a rotated file's name fits");

typedef struct {
    char event[NODE_AUDIT_NAME_MAX];
    char subject[NODE_AUDIT_SUBJECT_MAX];
    char outcome[NODE_AUDIT_NAME_MAX];
    uint64_t seq;     /* the line written for the first event (0: it was lost)      */
    uint64_t repeats; /* events like it since, in the same second                   */
} slot;

struct node_audit {
    char path[4096];
    const char *name;                /* the file's name without its directory        */
    uint64_t max_bytes;
    uint32_t keep;
    int fd;
    uint64_t size;                   /* bytes in the current file                     */
    uint64_t seq;                    /* the last whole line's seq and hash            */
    uint8_t prev[NODE_AUDIT_HASH_LEN];
    bool newline_first;              /* the file ends inside a line                   */
    char reset_why[NODE_AUDIT_DETAIL_MAX]; /* a chain_reset is owed, saying this      */
    const char *reset_outcome;
    uint64_t lost;                   /* events not written since the last line that was */
    bool dirty;                      /* lines written since the last sync             */
    char error[512];
    uint64_t second;                 /* the second the slots count                    */
    slot slots[NODE_AUDIT_SLOTS];
    size_t n_slots;
    uint64_t overflow;               /* coalesced events past the slots this second   */
    char buf[1 + NODE_AUDIT_LINE_MAX + 2]; /* a newline, the line, its newline, NUL   */
};

static int io_fail(node_audit *a, int errnum, const char *what, const char *path)
{
    /* A long path is cut: the message is for a person. */
    if (snprintf(a->error, sizeof a->error, "%s %s: %s", what, path, strerror(errnum)) < 0)
        a->error[0] = '\0';
    return errnum == EWOULDBLOCK ? LDG_ELOCKED : ldg_errno_code(errnum);
}

/* Printable ASCII of src (NULL: ""), other bytes as '?', cut to cap - 1 bytes. */
static void clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
    }
    dst[i] = '\0';
}

/* ---------------------------------------------------------------------------------------- */
/* Files                                                                                     */

static int open_file(node_audit *a)
{
    struct stat st;
    a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (a->fd < 0)
        return io_fail(a, errno, "cannot open", a->path);
    if (flock(a->fd, LOCK_EX | LOCK_NB) || fstat(a->fd, &st)) {
        int e = errno;
        close(a->fd);
        a->fd = -1;
        return e == EWOULDBLOCK ? io_fail(a, e, "another process writes", a->path)
                                : io_fail(a, e, "cannot lock", a->path);
    }
    a->size = (uint64_t)st.st_size;
    return 0;
}

/* Make the renames of a rotation durable (best effort: the lines themselves are synced). */
static void sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* path -> path.1 -> ... -> path.<keep> (the oldest replaced), then a new path. */
static int rotate(node_audit *a)
{
    char from[sizeof a->path + SUFFIX_MAX], to[sizeof a->path + SUFFIX_MAX];
    if (a->dirty && fdatasync(a->fd))
        return io_fail(a, errno, "cannot sync", a->path);
    a->dirty = false;
    for (uint32_t k = a->keep; k > 1; k--) {
        snprintf(from, sizeof from, "%s.%" PRIu32, a->path, k - 1);
        snprintf(to, sizeof to, "%s.%" PRIu32, a->path, k);
        if (rename(from, to) && errno != ENOENT)
            return io_fail(a, errno, "cannot rotate", from);
    }
    snprintf(to, sizeof to, "%s.1", a->path);
    if (rename(a->path, to))
        return io_fail(a, errno, "cannot rotate", a->path);
    int old = a->fd;
    uint64_t old_size = a->size;
    int rc = open_file(a);
    if (rc) { /* keep writing where we were */
        rename(to, a->path);
        a->fd = old;
        a->size = old_size;
        return rc;
    }
    close(old);
    a->newline_first = false; /* part of a line may end the old file: the new one is clean */
    sync_dir(a->path);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Lines                                                                                     */

/* Append l as the next line (its seq and prev set here). *written: the file holds it whole
 * (a sync that failed after that is still an error). */
static int write_line(node_audit *a, node_audit_line *l, bool sync, bool *written)
{
    *written = false;
    l->seq = a->seq + 1;
    memcpy(l->prev, a->prev, sizeof l->prev);
    size_t len = node_audit_format(l, a->buf + 1, NODE_AUDIT_LINE_MAX + 1);
    if (!len)
        return LDG_EINVALID;
    int rc;
    if (a->size && a->size + len + 1 > a->max_bytes && (rc = rotate(a)))
        return rc;
    char *start = a->buf + !a->newline_first;
    size_t n = len + 1 + a->newline_first;
    a->buf[0] = '\n';
    a->buf[1 + len] = '\n';
    ssize_t w = write(a->fd, start, n);
    if (w != (ssize_t)n) {
        int e = w < 0 ? errno : ENOSPC; /* a short write: the disk is full */
        if (w > 0 && ftruncate(a->fd, (off_t)a->size)) {
            a->size += (uint64_t)w; /* part of a line stays: say so before the next */
            a->newline_first = true;
            snprintf(a->reset_why, sizeof a->reset_why, "a failed write left %zd bytes of a "
                     "line above this one (%s); the chain goes on from seq %" PRIu64, w,
                     strerror(e), a->seq);
            a->reset_outcome = "recovered";
        }
        return io_fail(a, e, "cannot write", a->path);
    }
    *written = true;
    a->size += n;
    a->newline_first = false;
    a->seq = l->seq;
    node_audit_hash(a->buf + 1, len, a->prev);
    a->dirty = true;
    if (!sync)
        return 0;
    if (fdatasync(a->fd))
        return io_fail(a, errno, "cannot sync", a->path);
    a->dirty = false;
    return 0;
}

static void fill(node_audit_line *l, uint64_t now_ms, const char *event, const char *subject,
                 const char *outcome, uint64_t count, const char *detail)
{
    memset(l, 0, sizeof *l);
    l->time_ms = now_ms;
    clean(l->event, sizeof l->event, event);
    clean(l->subject, sizeof l->subject, subject);
    clean(l->outcome, sizeof l->outcome, outcome);
    l->count = count;
    clean(l->detail, sizeof l->detail, detail);
}

/* What is owed before the next line: a chain_reset, then how many events were lost. */
static int owed(node_audit *a, uint64_t now_ms)
{
    node_audit_line l;
    bool written;
    int rc;
    if (a->reset_why[0]) {
        fill(&l, now_ms, "chain_reset", a->name, a->reset_outcome, 1, a->reset_why);
        if ((rc = write_line(a, &l, true, &written)) && !written)
            return rc;
        a->reset_why[0] = '\0';
    }
    if (a->lost) {
        char d[NODE_AUDIT_DETAIL_MAX];
        if (snprintf(d, sizeof d, "events that could not be written: %s", a->error) < 0)
            d[0] = '\0';
        fill(&l, now_ms, "audit_lost", a->name, "lost", a->lost, d);
        if ((rc = write_line(a, &l, true, &written)) && !written)
            return rc;
        a->lost = 0;
    }
    return 0;
}

/* Write l after what is owed; an event not written is counted as lost. */
static int append(node_audit *a, node_audit_line *l, bool sync)
{
    bool written = false;
    int rc = owed(a, l->time_ms);
    if (!rc)
        rc = write_line(a, l, sync, &written);
    if (!written)
        a->lost++;
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Coalescing                                                                                */

/* The summary lines of the second being counted; then a sync. */
static int end_second(node_audit *a, uint64_t now_ms)
{
    node_audit_line l;
    char d[128];
    int rc = 0, r;
    for (size_t i = 0; i < a->n_slots; i++) {
        const slot *s = &a->slots[i];
        if (!s->repeats)
            continue;
        snprintf(d, sizeof d, "repeats within a second of the event at seq %" PRIu64, s->seq);
        fill(&l, now_ms, s->event, s->subject, s->outcome, s->repeats, d);
        if ((r = append(a, &l, false)) && !rc)
            rc = r;
    }
    if (a->overflow) {
        snprintf(d, sizeof d, "events past the %d (event, subject, outcome) kept in a second",
                 NODE_AUDIT_SLOTS);
        fill(&l, now_ms, "audit_coalesced", "*", "summarised", a->overflow, d);
        if ((r = append(a, &l, false)) && !rc)
            rc = r;
    }
    a->n_slots = 0;
    a->overflow = 0;
    if (a->dirty && fdatasync(a->fd))
        return rc ? rc : io_fail(a, errno, "cannot sync", a->path);
    a->dirty = false;
    return rc;
}

int node_audit_tick(node_audit *a, uint64_t now_ms)
{
    if (!a)
        return LDG_EINVALID;
    if (now_ms / 1000 == a->second)
        return 0;
    a->second = now_ms / 1000;
    return end_second(a, now_ms);
}

/* Count l as a repeat if its kind was written this second; else take a slot for it. NULL:
 * counted, nothing to write. */
static slot *coalesce(node_audit *a, const node_audit_line *l)
{
    for (size_t i = 0; i < a->n_slots; i++) {
        slot *s = &a->slots[i];
        if (!strcmp(s->event, l->event) && !strcmp(s->outcome, l->outcome) &&
            !strcmp(s->subject, l->subject)) {
            s->repeats++;
            return NULL;
        }
    }
    if (a->n_slots == NODE_AUDIT_SLOTS) {
        a->overflow++;
        return NULL;
    }
    slot *s = &a->slots[a->n_slots++];
    memcpy(s->event, l->event, sizeof s->event);
    memcpy(s->subject, l->subject, sizeof s->subject);
    memcpy(s->outcome, l->outcome, sizeof s->outcome);
    s->repeats = 0;
    return s;
}

int node_audit_event(node_audit *a, uint64_t now_ms, unsigned flags, const char *event,
                     const char *subject, const char *outcome, const char *detail)
{
    if (!a || !event || !outcome || !node_audit_name_ok(event) || !node_audit_name_ok(outcome) ||
        (flags & ~NODE_AUDIT_COALESCE))
        return LDG_EINVALID;
    int rc = node_audit_tick(a, now_ms); /* a past second's summaries come first */
    node_audit_line l;
    fill(&l, now_ms, event, subject, outcome, 1, detail);
    if (!(flags & NODE_AUDIT_COALESCE)) {
        int r = append(a, &l, true);
        return r ? r : rc;
    }
    slot *s = coalesce(a, &l);
    if (!s)
        return rc;
    int r = append(a, &l, false);
    s->seq = r ? 0 : l.seq;
    return r ? r : rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Opening: where the chain stands                                                           */

typedef struct {
    bool exists, empty;
    bool found;                      /* a whole audit line: the last one               */
    uint64_t seq;
    uint8_t hash[NODE_AUDIT_HASH_LEN];
    uint64_t bad_lines, bad_bytes;   /* after it: lines that are not audit lines        */
    bool ends_in_line;               /* the last byte is not a newline                  */
} tail_info;

/* The last whole audit line of buf (n bytes, the end of a file; whole: the whole file), and
 * what follows it. */
static void scan_tail(const char *buf, size_t n, bool whole, tail_info *t)
{
    size_t end = n;
    if (buf[n - 1] != '\n') {
        const char *nl = memrchr(buf, '\n', n);
        end = nl ? (size_t)(nl - buf) + 1 : 0;
        t->ends_in_line = true;
        t->bad_lines++;
        t->bad_bytes += n - end;
    }
    while (end > 0) {
        const char *nl = end > 1 ? memrchr(buf, '\n', end - 1) : NULL;
        size_t start = nl ? (size_t)(nl - buf) + 1 : 0;
        node_audit_line l;
        if (start == 0 && !whole)
            return; /* this line may begin before the window */
        if (node_audit_parse(buf + start, end - 1 - start, &l, NULL) == 0) {
            t->found = true;
            t->seq = l.seq;
            node_audit_hash(buf + start, end - 1 - start, t->hash);
            return;
        }
        t->bad_lines++;
        t->bad_bytes += end - start;
        end = start;
    }
}

static int read_tail(node_audit *a, const char *path, tail_info *t)
{
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : io_fail(a, errno, "cannot read", path);
    struct stat st;
    char *buf = NULL;
    int rc = 0;
    t->exists = true;
    if (fstat(fd, &st)) {
        rc = io_fail(a, errno, "cannot read", path);
    } else if ((t->empty = st.st_size == 0)) {
        /* nothing to continue from */
    } else {
        size_t n = st.st_size > TAIL_MAX ? TAIL_MAX : (size_t)st.st_size;
        if (!(buf = malloc(n)))
            rc = LDG_ENOMEM;
        else if (pread(fd, buf, n, st.st_size - (off_t)n) != (ssize_t)n)
            rc = io_fail(a, errno ? errno : EIO, "cannot read", path);
        else
            scan_tail(buf, n, n == (size_t)st.st_size, t);
    }
    free(buf);
    close(fd);
    return rc;
}

/* Continue the chain of path, or of path.1 when path is absent or empty (a crash between the
 * two steps of a rotation); owe a chain_reset when their end is not a whole audit line. */
static int resume(node_audit *a)
{
    char older[sizeof a->path + SUFFIX_MAX];
    tail_info t;
    int rc = read_tail(a, a->path, &t);
    if (!rc && (!t.exists || t.empty)) {
        snprintf(older, sizeof older, "%s.1", a->path);
        rc = read_tail(a, older, &t);
        t.ends_in_line = false; /* the new file starts clean */
    }
    if (rc)
        return rc;
    if (t.found) {
        a->seq = t.seq;
        memcpy(a->prev, t.hash, sizeof a->prev);
    }
    a->newline_first = t.ends_in_line;
    if (!t.bad_lines)
        return 0;
    a->reset_outcome = t.found ? "recovered" : "restarted";
    if (t.found)
        snprintf(a->reset_why, sizeof a->reset_why, "the log ended with %" PRIu64 " line(s), %"
                 PRIu64 " bytes, that are not audit lines (a crash while a line was written, "
                 "or an edit); they stay above, and the chain goes on from seq %" PRIu64,
                 t.bad_lines, t.bad_bytes, t.seq);
    else
        snprintf(a->reset_why, sizeof a->reset_why, "no audit line in the last %u KiB of the "
                 "log: a new chain starts here", TAIL_MAX >> 10);
    return 0;
}

int node_audit_open(node_audit **out, const node_audit_config *cfg, uint64_t now_ms,
                    char *err, size_t errlen)
{
    node_audit *a = NULL;
    int rc = LDG_EINVALID;
    if (out)
        *out = NULL;
    if (!out || !cfg || !cfg->path || !cfg->path[0] ||
        strlen(cfg->path) >= NODE_AUDIT_PATH_MAX || cfg->keep < 1 ||
        cfg->keep > NODE_AUDIT_KEEP_MAX || cfg->max_bytes < NODE_AUDIT_MAX_BYTES_MIN ||
        cfg->max_bytes > NODE_AUDIT_MAX_BYTES_MAX) {
        snprintf(err, errlen, "audit log: invalid configuration");
        return LDG_EINVALID;
    }
    if (!(a = calloc(1, sizeof *a))) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    snprintf(a->path, sizeof a->path, "%s", cfg->path);
    const char *slash = strrchr(a->path, '/');
    a->name = slash ? slash + 1 : a->path;
    a->max_bytes = cfg->max_bytes;
    a->keep = cfg->keep;
    a->second = now_ms / 1000;
    if (!(rc = open_file(a)) && !(rc = resume(a)))
        rc = owed(a, now_ms);
    if (rc) {
        snprintf(err, errlen, "audit log: %s", a->error[0] ? a->error : node_strerror(rc));
        if (a->fd >= 0)
            close(a->fd);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void node_audit_head(const node_audit *a, uint64_t *seq, uint8_t hash[NODE_AUDIT_HASH_LEN])
{
    if (seq)
        *seq = a ? a->seq : 0;
    if (hash && a)
        memcpy(hash, a->prev, NODE_AUDIT_HASH_LEN);
}

const char *node_audit_error(const node_audit *a)
{
    return a ? a->error : "";
}

int node_audit_close(node_audit *a, uint64_t now_ms)
{
    if (!a)
        return 0;
    int rc = end_second(a, now_ms);
    close(a->fd);
    free(a);
    return rc;
}
