/*
 * fuzz_audit: the audit log's line parser, its verifier, and the writer's restart on a file
 * of arbitrary bytes (an operator verifies files anyone with access may have edited; a node
 * restarts on whatever a crash left).
 *
 * Checks: never crashes or leaks; each line that parses formats back to the same bytes; the
 * verifier reads the file or says why not; a writer opened on the file ends it so that the
 * chain holds: when the file verified (or broke only at an incomplete last line, which a
 * crash leaves), the file verifies after the writer appended one event, whose seq follows.
 * Seeds: a log written by the writer at startup (a rotation's worth of events and a torn
 * tail).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/files/files.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char log_path[512];

static node_audit *open_log(void)
{
    node_audit_config cfg = {.path = log_path, .max_bytes = NODE_AUDIT_MAX_BYTES_MAX, .keep = 1};
    node_audit *a = NULL;
    char err[256];
    int rc = node_audit_open(&a, &cfg, 1796230800123ull, err, sizeof err);
    FZ_CHECK(rc == 0, "open: %d %s", rc, err);
    return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(log_path, sizeof log_path, "%s/audit.log", fz_tmpdir("audit"));
    const char *dir = fz_corpus_dir(*argc, *argv);
    if (!dir)
        return 0;
    unlink(log_path);
    node_audit *a = open_log();
    for (int i = 0; i < 6; i++)
        node_audit_event(a, 1796230800123ull + 1000u * i, i & 1 ? NODE_AUDIT_COALESCE : 0,
                         "admin_tx", i & 2 ? "tx \"a\"" : "tx\\b", "refused", "why");
    node_audit_close(a, 1796230809000ull);
    uint8_t *buf;
    size_t len;
    if (node_read_file(log_path, 1 << 20, &buf, &len) == 0) {
        fz_write_seed(dir, "log", buf, len);
        fz_write_seed(dir, "torn", buf, len - 17);
        free(buf);
    }
    return 0;
}

/* Every whole line that parses formats back to itself. */
static void lines_round_trip(const uint8_t *data, size_t size)
{
    char out[NODE_AUDIT_LINE_MAX + 1];
    for (size_t start = 0, end; start < size; start = end + 1) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        end = nl ? (size_t)(nl - data) : size;
        node_audit_line l;
        const char *why = NULL;
        if (node_audit_parse((const char *)data + start, end - start, &l, &why)) {
            FZ_CHECK(why && *why, "refused without a reason");
            continue;
        }
        size_t n = node_audit_format(&l, out, sizeof out);
        FZ_CHECK(n == end - start && !memcmp(out, data + start, n), "not canonical");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lines_round_trip(data, size);
    FILE *f = fopen(log_path, "w");
    FZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "write %s", log_path);

    node_audit_report r0, r1;
    const char *paths[] = {log_path};
    FZ_CHECK(node_audit_verify(paths, 1, false, &r0) == 0, "verify: %s", r0.why);
    FZ_CHECK(r0.intact || (r0.line && r0.why[0]), "a break without a place");
    bool torn_end = !r0.intact && size && data[size - 1] != '\n' &&
                    strstr(r0.why, "incomplete line") && !memchr(data, 0, size);

    node_audit *a = open_log();
    uint64_t before;
    node_audit_head(a, &before, NULL);
    int rc = node_audit_event(a, 1796230900000ull, 0, "start", "fuzz", "ok", "");
    /* (a seq of 2^63 - 1 already has no next line) */
    FZ_CHECK(rc == 0 || before >= INT64_MAX, "event: %d %s", rc, node_audit_error(a));
    node_audit_close(a, 1796230900000ull);
    FZ_CHECK(node_audit_verify(paths, 1, false, &r1) == 0, "verify again: %s", r1.why);
    if ((r0.intact || torn_end) && rc == 0) {
        FZ_CHECK(r1.intact, "the writer broke the chain: line %llu: %s",
                 (unsigned long long)r1.line, r1.why);
        FZ_CHECK(!r0.intact || r0.lines == 0 || r1.last_seq == r0.last_seq + 1,
                 "seq does not follow");
    }
    return 0;
}
