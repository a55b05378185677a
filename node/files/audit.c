/*
 * The audit log's line format and its verifier (files.h). The writer is audit_log.c.
 *
 * One canonical form per line: the parser takes jansson's reading of a line, formats it again
 * and wants the same bytes, so two spellings of one event (spaces, escapes, member order) can
 * never both verify, and the writer and the verifier share one definition of a line.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "node/files/files.h"

#define TIME_LEN 24                      /* 2026-12-02T17:00:00.123Z                        */
#define TIME_MAX_MS 253402300800000ull   /* 10000-01-01T00:00:00Z: four digits of year      */

/* ---------------------------------------------------------------------------------------- */
/* Formatting                                                                                */

typedef struct {
    char *buf;
    size_t len, cap;
    bool over;
} appender;

static void put(appender *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(appender *a, const char *fmt, ...)
{
    if (a->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->buf + a->len, a->cap - a->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= a->cap - a->len)
        a->over = true;
    else
        a->len += (size_t)n;
}

/* A JSON string of printable ASCII: only '"' and '\\' need escaping. */
static void put_str(appender *a, const char *s)
{
    put(a, "\"");
    for (; *s && !a->over; s++)
        put(a, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    put(a, "\"");
}

bool node_audit_name_ok(const char *s)
{
    size_t n = strnlen(s, NODE_AUDIT_NAME_MAX);
    if (n == 0 || n == NODE_AUDIT_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool text_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* Why l cannot be a line, or NULL. */
static const char *line_rules(const node_audit_line *l)
{
    if (l->seq == 0 || l->seq > INT64_MAX)
        return "seq: must be 1 or more";
    if (l->time_ms >= TIME_MAX_MS)
        return "time: after the year 9999";
    if (!node_audit_name_ok(l->event))
        return "event: must be 1 to 31 of a-z 0-9 _";
    if (!node_audit_name_ok(l->outcome))
        return "outcome: must be 1 to 31 of a-z 0-9 _";
    if (!text_ok(l->subject, sizeof l->subject))
        return "subject: must be printable ASCII, 255 bytes at most";
    if (!text_ok(l->detail, sizeof l->detail))
        return "detail: must be printable ASCII, 1023 bytes at most";
    if (l->count == 0 || l->count > INT64_MAX)
        return "count: must be 1 or more";
    return NULL;
}

/* out: TIME_STR bytes (more than the TIME_LEN + 1 a year of four digits needs). */
#define TIME_STR 64
static void format_time(uint64_t ms, char out[TIME_STR])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, TIME_STR, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ms % 1000));
}

void node_audit_hash_str(const uint8_t h[NODE_AUDIT_HASH_LEN], char out[NODE_AUDIT_HASH_STR])
{
    memcpy(out, "sha256:", 7);
    node_hex(h, NODE_AUDIT_HASH_LEN, out + 7);
}

void node_audit_hash(const char *line, size_t len, uint8_t out[NODE_AUDIT_HASH_LEN])
{
    SHA256((const unsigned char *)line, len, out);
}

size_t node_audit_format(const node_audit_line *l, char *out, size_t cap)
{
    char t[TIME_STR], prev[NODE_AUDIT_HASH_STR];
    if (!l || !out || !cap || line_rules(l))
        return 0;
    format_time(l->time_ms, t);
    node_audit_hash_str(l->prev, prev);
    appender a = {out, 0, cap, false};
    put(&a, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"event\":", l->seq, t);
    put_str(&a, l->event);
    put(&a, ",\"subject\":");
    put_str(&a, l->subject);
    put(&a, ",\"outcome\":");
    put_str(&a, l->outcome);
    put(&a, ",\"count\":%" PRIu64 ",\"detail\":", l->count);
    put_str(&a, l->detail);
    put(&a, ",\"prev\":\"%s\"}", prev);
    if (a.over) {
        out[0] = '\0';
        return 0;
    }
    return a.len;
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing                                                                                   */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" to ms; any other spelling is caught by the canonical check. */
static bool parse_time(const char *s, uint64_t *ms)
{
    struct tm tm = {0};
    unsigned frac;
    int n = 0;
    if (strlen(s) != TIME_LEN ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3uZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac, &n) != 7 ||
        n != TIME_LEN || tm.tm_year < 1970)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    if (secs < 0)
        return false;
    *ms = (uint64_t)secs * 1000 + frac;
    return true;
}

static bool parse_hash(const char *s, uint8_t out[NODE_AUDIT_HASH_LEN])
{
    size_t n;
    if (strncmp(s, "sha256:", 7) || strlen(s) != NODE_AUDIT_HASH_STR - 1)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return node_unhex(s + 7, out, NODE_AUDIT_HASH_LEN, &n) == 0 && n == NODE_AUDIT_HASH_LEN;
}

/* Copy the string member name of o into dst (cap bytes); false when absent, not a string, too
 * long or holding a NUL. */
static bool get_str(const json_t *o, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool get_u64(const json_t *o, const char *name, uint64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* The members of o into l; why names the first that is missing or wrong. */
static int members(const json_t *o, node_audit_line *l, const char **why)
{
    char t[TIME_LEN + 1], prev[NODE_AUDIT_HASH_STR];
    *why = NULL;
    if (!get_u64(o, "seq", &l->seq))
        *why = "seq: missing or not a positive integer";
    else if (!get_str(o, "time", t, sizeof t) || !parse_time(t, &l->time_ms))
        *why = "time: missing or not YYYY-MM-DDTHH:MM:SS.mmmZ";
    else if (!get_str(o, "event", l->event, sizeof l->event))
        *why = "event: missing, not a string or too long";
    else if (!get_str(o, "subject", l->subject, sizeof l->subject))
        *why = "subject: missing, not a string or too long";
    else if (!get_str(o, "outcome", l->outcome, sizeof l->outcome))
        *why = "outcome: missing, not a string or too long";
    else if (!get_u64(o, "count", &l->count))
        *why = "count: missing or not a positive integer";
    else if (!get_str(o, "detail", l->detail, sizeof l->detail))
        *why = "detail: missing, not a string or too long";
    else if (!get_str(o, "prev", prev, sizeof prev) || !parse_hash(prev, l->prev))
        *why = "prev: missing or not sha256:<64 lowercase hex digits>";
    else if (json_object_size(o) != 8)
        *why = "not an audit line: members other than the eight of the format";
    else
        *why = line_rules(l);
    return *why ? LDG_EMALFORMED : 0;
}

int node_audit_parse(const char *line, size_t len, node_audit_line *l, const char **why)
{
    char canon[NODE_AUDIT_LINE_MAX + 1];
    const char *dummy;
    json_error_t je;
    if (!why)
        why = &dummy;
    memset(l, 0, sizeof *l);
    if (len > NODE_AUDIT_LINE_MAX) {
        *why = "longer than an audit line can be (4096 bytes)";
        return LDG_EMALFORMED;
    }
    if (memchr(line, '\0', len)) {
        *why = "holds a NUL byte";
        return LDG_EMALFORMED;
    }
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        *why = o ? "not a JSON object" : "not JSON";
        json_decref(o);
        return LDG_EMALFORMED;
    }
    int rc = members(o, l, why);
    json_decref(o);
    if (rc)
        return rc;
    /* The same line, formatted: anything else (spaces, escapes, member order) is refused. */
    size_t n = node_audit_format(l, canon, sizeof canon);
    if (n != len || memcmp(canon, line, len)) {
        *why = "not in the canonical form (member order, spacing or escapes changed)";
        return LDG_EMALFORMED;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Verifying                                                                                 */

typedef struct {
    node_audit_report *r;
    bool strict;
    bool have;                    /* a whole line was taken                              */
    uint64_t seq;                 /* ... its seq and hash, and where it is               */
    uint8_t hash[NODE_AUDIT_HASH_LEN];
    char file[256];
    uint64_t line;
    uint64_t bad;                 /* lines that do not parse since the last good one      */
    char bad_file[256];           /* the first of them, and why                           */
    uint64_t bad_line;
    char bad_why[160];
} vstate;

/* A message into a report's fixed buffer, cut when long (file names may be). */
static void say(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static bool broken(vstate *v, const char *file, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool broken(vstate *v, const char *file, uint64_t line, const char *fmt, ...)
{
    node_audit_report *r = v->r;
    va_list ap;
    r->intact = false;
    say(r->file, sizeof r->file, "%s", file);
    r->line = line;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return false;
}

/* The first line taken: the anchor of what is verified. */
static bool first_line(vstate *v, const node_audit_line *l, const char *file, uint64_t line)
{
    static const uint8_t zero[NODE_AUDIT_HASH_LEN];
    bool start = !memcmp(l->prev, zero, sizeof zero);
    if (start && l->seq != 1)
        return broken(v, file, line, "seq %" PRIu64 " with the prev of a chain's first line "
                      "(all zero): the chain was restarted here", l->seq);
    if (!start && v->strict)
        return broken(v, file, line, "seq %" PRIu64 " continues an earlier file (--strict "
                      "wants the chain from its first line: give the older files first)",
                      l->seq);
    v->r->first_seq = l->seq;
    v->r->from_start = start;
    memcpy(v->r->anchor, l->prev, sizeof l->prev);
    return true;
}

/* A line after the last one taken: it must come next and chain to it. */
static bool next_line(vstate *v, const node_audit_line *l, const char *file, uint64_t line)
{
    const char *hint = line == 1 ? " (files out of order? give the oldest first)" : "";
    if (l->seq <= v->seq)
        return broken(v, file, line, "seq %" PRIu64 " after seq %" PRIu64 " (%s line %" PRIu64
                      "): a line was moved or repeated%s", l->seq, v->seq, v->file, v->line,
                      hint);
    if (l->seq > v->seq + 1)
        return broken(v, file, line, "seq %" PRIu64 ", expected %" PRIu64 ": %" PRIu64
                      " line(s) missing after %s line %" PRIu64 "%s", l->seq, v->seq + 1,
                      l->seq - v->seq - 1, v->file, v->line, hint);
    if (memcmp(l->prev, v->hash, sizeof v->hash))
        return broken(v, file, line, "prev is not the hash of the line before (%s line %"
                      PRIu64 "): that line was edited, or this one replaced", v->file,
                      v->line);
    return true;
}

/* One line of a file (complete: it ended with a newline). False when the chain breaks. */
static bool verify_line(vstate *v, const char *file, uint64_t line, const char *buf,
                        size_t len, bool complete)
{
    node_audit_line l;
    const char *why = "incomplete line (no newline at the end: a crash while it was written?)";
    if (!complete || node_audit_parse(buf, len, &l, &why)) {
        if (!v->bad++) {
            say(v->bad_file, sizeof v->bad_file, "%s", file);
            v->bad_line = line;
            say(v->bad_why, sizeof v->bad_why, "%s", why);
        }
        return true; /* fine only if a chain_reset follows: see below */
    }
    if (v->bad) {
        /* Lines that do not parse are fine only when the node said so: a chain_reset that
         * continues from the last good line (or starts the chain, when nothing came before). */
        if (strcmp(l.event, "chain_reset") ||
            (v->have && (l.seq != v->seq + 1 || memcmp(l.prev, v->hash, sizeof v->hash))))
            return broken(v, v->bad_file, v->bad_line, "%s", v->bad_why);
        if (!v->r->skipped)
            say(v->r->note, sizeof v->r->note, "%s line %" PRIu64 ": %s; skipped, as the "
                     "chain_reset at %s line %" PRIu64 " says", v->bad_file, v->bad_line,
                     v->bad_why, file, line);
        v->r->skipped += v->bad;
        v->bad = 0;
    }
    if (!(v->have ? next_line(v, &l, file, line) : first_line(v, &l, file, line)))
        return false;
    v->have = true;
    v->seq = l.seq;
    node_audit_hash(buf, len, v->hash);
    say(v->file, sizeof v->file, "%s", file);
    v->line = line;
    v->r->lines++;
    v->r->last_seq = l.seq;
    memcpy(v->r->head, v->hash, sizeof v->hash);
    return true;
}

/* Read one line of f into buf (cap bytes): its length without the newline, *complete when a
 * newline ended it; a longer line is cut (its length reported as cap, the rest skipped).
 * -1 at the end of the file. */
static long read_line(FILE *f, char *buf, size_t cap, bool *complete)
{
    size_t n = 0;
    int c;
    *complete = false;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            *complete = true;
            break;
        }
        if (n < cap)
            buf[n] = (char)c;
        n += n < cap;
    }
    if (c == EOF && n == 0)
        return -1;
    return (long)n;
}

static int verify_file(vstate *v, const char *path, char *buf)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        say(v->r->file, sizeof v->r->file, "%s", path);
        say(v->r->why, sizeof v->r->why, "%s", strerror(errno));
        return LDG_EIO;
    }
    bool complete, ok = true;
    long n;
    uint64_t line = 0;
    /* A line longer than NODE_AUDIT_LINE_MAX is read as NODE_AUDIT_LINE_MAX + 1 bytes, which
     * the parser refuses. */
    while (ok && (n = read_line(f, buf, NODE_AUDIT_LINE_MAX + 1, &complete)) >= 0)
        ok = verify_line(v, path, ++line, buf, (size_t)n, complete);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        say(v->r->file, sizeof v->r->file, "%s", path);
        say(v->r->why, sizeof v->r->why, "%s", strerror(err));
        return LDG_EIO;
    }
    return 0;
}

int node_audit_verify(const char *const *paths, size_t n, bool strict, node_audit_report *r)
{
    if (!r)
        return LDG_EINVALID;
    memset(r, 0, sizeof *r);
    if (!paths || !n)
        return LDG_EINVALID;
    char *buf = malloc(NODE_AUDIT_LINE_MAX + 1);
    vstate *v = calloc(1, sizeof *v);
    int rc = buf && v ? 0 : LDG_ENOMEM;
    if (v) {
        v->r = r;
        v->strict = strict;
        r->intact = true;
    }
    for (size_t i = 0; !rc && i < n && r->intact; i++)
        rc = verify_file(v, paths[i], buf);
    if (!rc && r->intact && v->bad) /* lines that do not parse at the very end */
        broken(v, v->bad_file, v->bad_line, "%s", v->bad_why);
    if (rc)
        r->intact = false;
    free(buf);
    free(v);
    return rc;
}
