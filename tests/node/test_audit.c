/* The audit log (node/files/audit.c, audit_log.c): the canonical line, the writer's chain,
 * and what the verifier finds: an intact chain, an edited, dropped or swapped line, a torn
 * tail continued after a restart, rotation across files (in order and out of order),
 * coalesced repeats, lost events, a locked file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "node/files/files.h"

#define T0 1796230800123ull /* 2026-12-02T17:00:00.123Z */

static char dir[64], path[96];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/fwl-audit-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/audit.log", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static node_audit *open_log(uint64_t max_bytes, uint32_t keep, uint64_t now)
{
    node_audit_config cfg = {.path = path, .max_bytes = max_bytes, .keep = keep};
    node_audit *a = NULL;
    char err[256];
    int rc = node_audit_open(&a, &cfg, now, err, sizeof err);
    if (rc)
        fail_msg("open: %d %s", rc, err);
    return a;
}

/* n events, one per call, each a second apart (no coalescing in play). */
static void write_events(node_audit *a, int n, uint64_t *now)
{
    char subject[32];
    for (int i = 0; i < n; i++) {
        snprintf(subject, sizeof subject, "tx-%d", i);
        *now += 1000;
        assert_int_equal(node_audit_event(a, *now, 0, "admin_tx", subject, "accepted",
                                          "author tx from key 00ff, 1 signature"),
                         0);
    }
}

/* A writer opened at *now, n events, closed; head (NULL: not wanted) its last line's hash. */
static void log_events(int n, uint64_t *now, uint8_t head[NODE_AUDIT_HASH_LEN])
{
    node_audit *a = open_log(1 << 20, 4, *now);
    write_events(a, n, now);
    node_audit_head(a, NULL, head);
    assert_int_equal(node_audit_close(a, *now), 0);
}

/* The file's lines (without their newlines); *n set. The caller frees each and the array. */
static char **read_lines(const char *p, size_t *n)
{
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char **out = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[len - 1] = '\0';
        out = realloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return out;
}

static void write_lines(const char *p, char **lines, size_t n)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static node_audit_report verify1(const char *p, bool strict)
{
    node_audit_report r;
    const char *paths[] = {p};
    assert_int_equal(node_audit_verify(paths, 1, strict, &r), 0);
    return r;
}

/* lines written as the file, which must break at line (from 1), saying why. */
static void expect_break(char **lines, size_t n, uint64_t line, const char *why)
{
    write_lines(path, lines, n);
    node_audit_report r = verify1(path, false);
    assert_false(r.intact);
    assert_int_equal(r.line, line);
    if (!strstr(r.why, why))
        fail_msg("\"%s\" lacks \"%s\"", r.why, why);
}

static node_audit_line parse(const char *line)
{
    node_audit_line l;
    const char *why = NULL;
    if (node_audit_parse(line, strlen(line), &l, &why))
        fail_msg("parse: %s: %s", why, line);
    return l;
}

/* ---------------------------------------------------------------------------------------- */

static void test_line_format(void **st)
{
    (void)st;
    node_audit_line l = {.seq = 7, .time_ms = T0, .count = 1};
    strcpy(l.event, "admin_tx");
    strcpy(l.subject, "a \"quoted\" \\ subject");
    strcpy(l.outcome, "refused");
    strcpy(l.detail, "why");
    memset(l.prev, 0xab, sizeof l.prev);
    char buf[NODE_AUDIT_LINE_MAX + 1];
    size_t n = node_audit_format(&l, buf, sizeof buf);
    assert_string_equal(buf,
                        "{\"seq\":7,\"time\":\"2026-12-02T17:00:00.123Z\",\"event\":\"admin_tx\","
                        "\"subject\":\"a \\\"quoted\\\" \\\\ subject\",\"outcome\":\"refused\","
                        "\"count\":1,\"detail\":\"why\",\"prev\":\"sha256:"
                        "abababababababababababababababababababababababababababababababab\"}");
    assert_int_equal(n, strlen(buf));
    node_audit_line back = parse(buf);
    assert_memory_equal(&back, &l, sizeof l);

    /* Other spellings of the same object, and lines that break a rule, are refused. */
    static const struct {
        const char *from, *to, *why;
    } rows[] = {
        {"\"seq\":7,", "\"seq\": 7,", "canonical"},
        {"\"event\":\"admin_tx\"", "\"event\":\"admin\\u005ftx\"", "canonical"},
        {"\"seq\":7,\"time\"", "\"time\"", "seq: missing"},
        {"\"seq\":7", "\"seq\":0", "seq: missing or not a positive"},
        {"\"seq\":7", "\"seq\":\"7\"", "seq: missing or not a positive"},
        {"17:00:00.123Z", "17:00:00Z", "time:"},
        {"2026-12-02T", "2026-12-2T", "time:"},
        {"\"admin_tx\"", "\"Admin_tx\"", "event: must be"},
        {"\"refused\"", "\"\"", "outcome: must be"},
        {"\"count\":1", "\"count\":0", "count:"},
        {"sha256:ab", "sha256:AB", "prev:"},
        {"sha256:ab", "sha3:ab", "prev:"},
        {"\"detail\":\"why\"", "\"detail\":\"why\",\"x\":1", "members other than"},
        {"\"detail\":\"why\"", "\"detail\":\"w\\u0001y\"", "detail: must be printable"},
        {"{\"seq\"", "[{\"seq\"", "JSON"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char bad[NODE_AUDIT_LINE_MAX + 64];
        const char *at = strstr(buf, rows[i].from);
        assert_non_null(at);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - buf), buf, rows[i].to,
                 at + strlen(rows[i].from));
        if (rows[i].to[0] == '[')
            strcat(bad, "]");
        node_audit_line x;
        const char *why = "";
        assert_int_equal(node_audit_parse(bad, strlen(bad), &x, &why), LDG_EMALFORMED);
        if (!strstr(why, rows[i].why))
            fail_msg("row %zu: %s: \"%s\" lacks \"%s\"", i, bad, why, rows[i].why);
    }
    /* A rule broken on the way out: no line. */
    strcpy(l.event, "bad-name");
    assert_int_equal(node_audit_format(&l, buf, sizeof buf), 0);
    assert_false(node_audit_name_ok(""));
    assert_false(node_audit_name_ok("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_true(node_audit_name_ok("abcdefghijklmnopqrstuvwxyz01234"));
}

/* Events of a restarted writer continue the chain; the verifier agrees with the writer's
 * head; text is made printable and cut. */
static void test_intact_chain(void **st)
{
    (void)st;
    uint64_t now = T0, seq;
    uint8_t head[NODE_AUDIT_HASH_LEN];
    node_audit *a = open_log(1 << 20, 4, now);
    write_events(a, 3, &now);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '\n';
    big[1] = (char)0xe9;
    assert_int_equal(node_audit_event(a, now, 0, "start", big, "ok", NULL), 0);
    assert_int_equal(node_audit_event(a, now, 0, "Start", "s", "ok", ""), LDG_EINVALID);
    assert_int_equal(node_audit_event(a, now, 0, "start", "s", NULL, ""), LDG_EINVALID);
    assert_int_equal(node_audit_event(a, now, 2, "start", "s", "ok", ""), LDG_EINVALID);
    assert_int_equal(node_audit_close(a, now), 0);
    a = open_log(1 << 20, 4, now);
    write_events(a, 2, &now);
    node_audit_head(a, &seq, head);
    assert_int_equal(seq, 6);
    assert_int_equal(node_audit_close(a, now), 0);

    node_audit_report r = verify1(path, true);
    assert_true(r.intact);
    assert_int_equal(r.lines, 6);
    assert_int_equal(r.first_seq, 1);
    assert_int_equal(r.last_seq, 6);
    assert_true(r.from_start);
    assert_int_equal(r.skipped, 0);
    assert_memory_equal(r.head, head, sizeof head);

    size_t n;
    char **lines = read_lines(path, &n);
    assert_int_equal(n, 6);
    node_audit_line l = parse(lines[3]);
    assert_string_equal(l.event, "start");
    assert_int_equal(strlen(l.subject), NODE_AUDIT_SUBJECT_MAX - 1);
    assert_memory_equal(l.subject, "??xxx", 5);
    assert_string_equal(l.detail, "");
    l = parse(lines[0]);
    assert_int_equal(l.time_ms, T0 + 1000);
    free_lines(lines, n);
}

/* One byte changed: in a value (the line still parses: the next line's prev catches it), in
 * the syntax (the line itself). The last line alone is not protected by the chain: the
 * verifier's head then differs from the writer's. */
static void test_edited_line(void **st)
{
    (void)st;
    uint64_t now = T0;
    uint8_t head[NODE_AUDIT_HASH_LEN];
    log_events(5, &now, head);
    size_t n;
    char **lines = read_lines(path, &n);

    char *p = strstr(lines[2], "accepted");
    p[0] = 'B'; /* "Bccepted": an outcome that is not a name */
    expect_break(lines, n, 3, "outcome");
    p[0] = 'e'; /* "eccepted": a valid name, another line */
    expect_break(lines, n, 4, "prev is not the hash of the line before");
    expect_break(lines, n, 4, "audit.log line 3)");
    p[0] = 'a';

    p = strstr(lines[4], "tx-4");
    p[3] = '5';
    write_lines(path, lines, n);
    node_audit_report r = verify1(path, false);
    assert_true(r.intact);
    assert_memory_not_equal(r.head, head, sizeof head);
    p[3] = '4';
    write_lines(path, lines, n);
    r = verify1(path, false);
    assert_true(r.intact);
    assert_memory_equal(r.head, head, sizeof head);
    free_lines(lines, n);
}

static void test_dropped_and_swapped(void **st)
{
    (void)st;
    uint64_t now = T0;
    log_events(5, &now, NULL);
    size_t n;
    char **l = read_lines(path, &n);
    char *dropped[] = {l[0], l[1], l[3], l[4]};
    expect_break(dropped, 4, 3, "seq 4, expected 3: 1 line(s) missing");
    char *swapped[] = {l[0], l[1], l[3], l[2], l[4]};
    expect_break(swapped, 5, 3, "seq 4, expected 3");
    char *back[] = {l[1], l[0]};
    expect_break(back, 2, 2, "seq 1 after seq 2");

    /* The first line dropped: the rest verify, from an anchor; --strict wants the start. */
    write_lines(path, l + 1, 4);
    node_audit_report r = verify1(path, false);
    assert_true(r.intact);
    assert_false(r.from_start);
    r = verify1(path, true);
    assert_false(r.intact);
    assert_non_null(strstr(r.why, "continues an earlier file"));
    free_lines(l, n);
}

/* A crash mid-write leaves part of a line: alone, the verifier says so; after a restart the
 * writer ends it, writes a chain_reset that continues from the last whole line, and the
 * chain verifies, the torn line skipped. */
static void test_torn_tail_restart(void **st)
{
    (void)st;
    uint64_t now = T0;
    log_events(4, &now, NULL);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 20), 0); /* seq 4 cut */

    node_audit_report r = verify1(path, false);
    assert_false(r.intact);
    assert_int_equal(r.line, 4);
    assert_non_null(strstr(r.why, "incomplete line"));

    log_events(1, &now, NULL);
    r = verify1(path, true);
    assert_true(r.intact);
    assert_int_equal(r.lines, 5); /* seq 1-3, the reset (4), the event (5) */
    assert_int_equal(r.last_seq, 5);
    assert_int_equal(r.skipped, 1);
    assert_non_null(strstr(r.note, "line 4: not JSON"));
    size_t n;
    char **lines = read_lines(path, &n);
    assert_int_equal(n, 6);
    node_audit_line l = parse(lines[4]);
    assert_string_equal(l.event, "chain_reset");
    assert_string_equal(l.outcome, "recovered");
    assert_string_equal(l.subject, "audit.log");
    assert_int_equal(l.seq, 4);
    assert_non_null(strstr(l.detail, "1 line(s)"));
    assert_non_null(strstr(l.detail, "goes on from seq 3"));

    /* A torn line anywhere but before a chain_reset that continues the chain breaks it. */
    char *reset = lines[4];
    lines[4] = lines[5];
    write_lines(path, lines, 5);
    r = verify1(path, false);
    assert_false(r.intact);
    assert_int_equal(r.line, 4);
    lines[4] = reset;
    write_lines(path, lines, 6);

    /* More than 64 KiB of garbage at the end: no whole line to continue from, a new chain
     * starts, and the verifier calls the old one broken there. */
    FILE *f = fopen(path, "a");
    for (int i = 0; i < 70000; i++)
        fputc('z', f);
    fclose(f);
    node_audit *a = open_log(1 << 20, 4, now);
    uint64_t seq;
    node_audit_head(a, &seq, NULL);
    assert_int_equal(seq, 1);
    node_audit_close(a, now);
    r = verify1(path, false);
    assert_false(r.intact);
    assert_int_equal(r.line, 7);
    free_lines(lines, n);
}

static void file_n(char *out, size_t cap, int k)
{
    if (k)
        snprintf(out, cap, "%s.%d", path, k);
    else
        snprintf(out, cap, "%s", path);
}

/* Rotation at max_bytes keeps `keep` files, and the chain runs through them: oldest first
 * they verify; out of order, or with one missing, they do not; the newest alone verifies from
 * its anchor. A crash between the two steps of a rotation (the file renamed, no new one yet)
 * continues from the renamed file. */
static void test_rotation(void **st)
{
    (void)st;
    uint64_t now = T0;
    node_audit *a = open_log(NODE_AUDIT_MAX_BYTES_MIN, 3, now);
    write_events(a, 1300, &now); /* about 250 bytes each: 5 files, the oldest dropped */
    uint64_t seq;
    uint8_t head[NODE_AUDIT_HASH_LEN];
    node_audit_head(a, &seq, head);
    node_audit_close(a, now);
    char names[5][128];
    const char *order[4];
    struct stat sb;
    for (int k = 0; k < 5; k++)
        file_n(names[k], sizeof names[k], k);
    assert_int_equal(stat(names[4], &sb), -1); /* keep 3 */
    for (int k = 0; k < 4; k++) {
        assert_int_equal(stat(names[k], &sb), 0);
        assert_true(sb.st_size <= NODE_AUDIT_MAX_BYTES_MIN);
        order[k] = names[3 - k];
    }
    node_audit_report r;
    assert_int_equal(node_audit_verify(order, 4, false, &r), 0);
    assert_true(r.intact);
    assert_false(r.from_start); /* the first files were dropped */
    assert_int_equal(r.last_seq, 1300);
    assert_int_equal(r.last_seq - r.first_seq + 1, r.lines);
    assert_memory_equal(r.head, head, sizeof head);
    assert_int_equal(node_audit_verify(order, 4, true, &r), 0);
    assert_false(r.intact);

    const char *swapped[] = {names[3], names[1], names[2], names[0]};
    assert_int_equal(node_audit_verify(swapped, 4, false, &r), 0);
    assert_false(r.intact);
    assert_string_equal(r.file, names[1]);
    assert_int_equal(r.line, 1);
    assert_non_null(strstr(r.why, "files out of order"));
    const char *gap[] = {names[3], names[1], names[0]};
    assert_int_equal(node_audit_verify(gap, 3, false, &r), 0);
    assert_false(r.intact);
    assert_non_null(strstr(r.why, "line(s) missing"));
    r = verify1(names[0], false);
    assert_true(r.intact);
    assert_false(r.from_start);

    /* Crash mid-rotation: the current file renamed, no new one. */
    assert_int_equal(rename(names[2], names[3]), 0);
    assert_int_equal(rename(names[1], names[2]), 0);
    assert_int_equal(rename(names[0], names[1]), 0);
    a = open_log(NODE_AUDIT_MAX_BYTES_MIN, 3, now);
    write_events(a, 1, &now);
    node_audit_close(a, now);
    const char *after[] = {names[3], names[2], names[1], names[0]};
    assert_int_equal(node_audit_verify(after, 4, false, &r), 0);
    assert_true(r.intact);
    assert_int_equal(r.last_seq, 1301);
    /* Unreadable: a file that is not there. */
    const char *missing[] = {names[4]};
    assert_int_equal(node_audit_verify(missing, 1, false, &r), LDG_EIO);
    assert_string_equal(r.file, names[4]);
    assert_int_equal(node_audit_verify(missing, 0, false, &r), LDG_EINVALID);
}

/* Repeats of one (event, subject, outcome) within a second: one line, then one summary when
 * the second ends; past NODE_AUDIT_SLOTS kinds, one audit_coalesced line. Uncoalesced events
 * are all written. */
static void test_coalesce(void **st)
{
    (void)st;
    uint64_t now = T0;
    char subject[32];
    node_audit *a = open_log(1 << 20, 4, now);
    for (int i = 0; i < 100; i++)
        assert_int_equal(node_audit_event(a, now, NODE_AUDIT_COALESCE, "p2p_auth_failed",
                                          "10.0.0.9", "refused", "bad key"),
                         0);
    for (int i = 0; i < NODE_AUDIT_SLOTS + 9; i++) { /* 31 more slots, then 10 over */
        snprintf(subject, sizeof subject, "10.0.1.%d", i);
        assert_int_equal(node_audit_event(a, now + 10, NODE_AUDIT_COALESCE, "rpc_rate_limited",
                                          subject, "refused", ""),
                         0);
    }
    assert_int_equal(node_audit_event(a, now + 20, 0, "stop", "node", "ok", ""), 0);
    uint64_t seq;
    node_audit_head(a, &seq, NULL);
    assert_int_equal(seq, 1 + (NODE_AUDIT_SLOTS - 1) + 1);
    assert_int_equal(node_audit_tick(a, now + 800), 0); /* the same second: nothing */
    node_audit_head(a, &seq, NULL);
    assert_int_equal(seq, NODE_AUDIT_SLOTS + 1);
    assert_int_equal(node_audit_tick(a, now + 1000), 0);
    /* The same kind in the next second is written again. */
    assert_int_equal(node_audit_event(a, now + 1001, NODE_AUDIT_COALESCE, "p2p_auth_failed",
                                      "10.0.0.9", "refused", "bad key"),
                     0);
    node_audit_close(a, now + 1001);

    size_t n;
    char **lines = read_lines(path, &n);
    assert_int_equal(n, NODE_AUDIT_SLOTS + 1 + 2 + 1);
    node_audit_line sum = parse(lines[NODE_AUDIT_SLOTS + 1]);
    assert_string_equal(sum.event, "p2p_auth_failed");
    assert_string_equal(sum.subject, "10.0.0.9");
    assert_int_equal(sum.count, 99);
    assert_non_null(strstr(sum.detail, "seq 1"));
    node_audit_line over = parse(lines[NODE_AUDIT_SLOTS + 2]);
    assert_string_equal(over.event, "audit_coalesced");
    assert_int_equal(over.count, 10);
    node_audit_line again = parse(lines[n - 1]);
    assert_string_equal(again.event, "p2p_auth_failed");
    assert_int_equal(again.count, 1);
    free_lines(lines, n);
    assert_true(verify1(path, true).intact);
}

/* The writer's descriptor (to point it at /dev/full). */
static int fd_of_path(void)
{
    char link[64], target[256];
    for (int fd = 3; fd < 256; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (!strcmp(target, path))
                return fd;
        }
    }
    return -1;
}

/* A full disk: events are lost, with an error; once writing works, an audit_lost line counts
 * them before the next event, and the chain holds. A second writer on the file is refused. */
static void test_lost_and_locked(void **st)
{
    (void)st;
    uint64_t now = T0;
    node_audit *a = open_log(1 << 20, 4, now);
    write_events(a, 1, &now);
    node_audit *b = NULL;
    node_audit_config cfg = {.path = path, .max_bytes = 1 << 20, .keep = 4};
    char err[256];
    assert_int_equal(node_audit_open(&b, &cfg, now, err, sizeof err), LDG_ELOCKED);
    assert_null(b);
    assert_non_null(strstr(err, "another process"));
    cfg.keep = 0;
    assert_int_equal(node_audit_open(&b, &cfg, now, err, sizeof err), LDG_EINVALID);

    int fd = fd_of_path(), full = open("/dev/full", O_WRONLY), real = dup(fd);
    assert_true(fd >= 0 && full >= 0 && real >= 0);
    assert_int_equal(dup2(full, fd), fd);
    assert_int_equal(node_audit_event(a, now, 0, "stop", "n", "ok", ""), LDG_ENOSPC);
    assert_int_equal(node_audit_event(a, now, NODE_AUDIT_COALESCE, "x", "n", "ok", ""),
                     LDG_ENOSPC);
    assert_non_null(strstr(node_audit_error(a), "cannot write"));
    assert_int_equal(dup2(real, fd), fd);
    close(full);
    close(real);
    assert_int_equal(node_audit_event(a, now, 0, "start", "n", "ok", ""), 0);
    node_audit_close(a, now);

    size_t n;
    char **lines = read_lines(path, &n);
    assert_int_equal(n, 3);
    node_audit_line l = parse(lines[1]);
    assert_string_equal(l.event, "audit_lost");
    assert_int_equal(l.count, 2);
    assert_non_null(strstr(l.detail, "No space left"));
    free_lines(lines, n);
    assert_true(verify1(path, true).intact);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test_setup_teardown(test_intact_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_and_swapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_and_locked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
