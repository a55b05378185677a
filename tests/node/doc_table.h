/*
 * What the unit tests read from the documents in docs/ to check them against the code: the
 * lines between "<!-- NAME: begin" and "<!-- NAME: end" markers (a document may hold
 * several blocks of one NAME), and the Markdown table rows inside them. Header-only, for
 * cmocka tests (each test program is one file).
 *
 * Documents are read relative to the working directory: make runs the unit tests from the
 * repository's root. A line between the markers that is not what the caller expects fails
 * the test (fail_msg), so a malformed row can never be skipped silently.
 */
#ifndef FWL_TESTS_DOC_TABLE_H
#define FWL_TESTS_DOC_TABLE_H

#include <stdio.h>
#include <string.h>

#define DOC_LINE_MAX 4096
#define DOC_CELLS_MAX 8

/* Called with each line inside a block (the newline cut), and with line NULL where a block
 * begins. */
typedef void (*doc_line_fn)(void *ctx, char *line, int lineno);

/* Every line of every NAME block of path, in order; returns the number of blocks. Fails
 * the test when path cannot be read, holds no such block, leaves one open or has a line
 * longer than DOC_LINE_MAX. */
static size_t doc_blocks(const char *path, const char *name, doc_line_fn fn, void *ctx)
{
    char begin[128], end[128], line[DOC_LINE_MAX];
    snprintf(begin, sizeof begin, "<!-- %s: begin", name);
    snprintf(end, sizeof end, "<!-- %s: end", name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (the unit tests run from the repository's root)", path);
    size_t blocks = 0;
    int ln = 0;
    bool inside = false;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n')
            fail_msg("%s:%d: line longer than %d bytes", path, ln, DOC_LINE_MAX - 2);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!inside && !strncmp(line, begin, strlen(begin))) {
            inside = true;
            blocks++;
            fn(ctx, NULL, ln);
        } else if (inside && !strncmp(line, end, strlen(end))) {
            inside = false;
        } else if (inside) {
            fn(ctx, line, ln);
        }
    }
    fclose(f);
    if (inside)
        fail_msg("%s: a '%s' block is not closed by '%s'", path, begin, end);
    if (!blocks)
        fail_msg("%s: no block between '%s' and '%s'", path, begin, end);
    return blocks;
}

static char *doc_trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* Split "| a | b | c |" into its trimmed cells (in place); the number of cells. */
static size_t doc_cells(char *line, char **out, size_t cap)
{
    size_t n = 0;
    char *p = strchr(line, '|');
    while (p && n < cap) {
        char *next = strchr(p + 1, '|');
        if (!next)
            break;
        *next = '\0';
        out[n++] = doc_trim(p + 1);
        p = next;
    }
    return n;
}

/* Called with the cells of each row (ncells of them, trimmed) and its line number. */
typedef void (*doc_row_fn)(void *ctx, char **cells, int lineno);

typedef struct {
    const char *path;
    const char *const *header;
    size_t ncells;
    doc_row_fn fn;
    void *ctx;
    int seen; /* lines of the current block: 0 header, 1 rule, then rows */
} doc__rows;

static void doc__row(void *ctx, char *line, int lineno)
{
    doc__rows *r = ctx;
    char *c[DOC_CELLS_MAX + 1];
    if (!line) {
        r->seen = 0;
        return;
    }
    size_t n = doc_cells(line, c, DOC_CELLS_MAX + 1);
    if (n != r->ncells)
        fail_msg("%s:%d: not a table row of %zu cells", r->path, lineno, r->ncells);
    for (size_t i = 0; r->seen < 2 && i < n; i++)
        if (strcmp(c[i], r->seen == 0 ? r->header[i] : "---"))
            fail_msg("%s:%d: want the table's %s, cell %zu is '%s'", r->path, lineno,
                     r->seen == 0 ? "header" : "rule (---)", i + 1, c[i]);
    if (r->seen++ >= 2)
        r->fn(r->ctx, c, lineno);
}

/* Every row of the tables in the NAME blocks of path: each block holds one table with
 * exactly these ncells header cells, its rule, then rows of ncells cells. Returns the
 * number of blocks. */
static size_t doc_rows(const char *path, const char *name, const char *const *header,
                       size_t ncells, doc_row_fn fn, void *ctx)
{
    doc__rows r = {path, header, ncells, fn, ctx, 0};
    if (ncells > DOC_CELLS_MAX)
        fail_msg("doc_rows: at most %d cells", DOC_CELLS_MAX);
    return doc_blocks(path, name, doc__row, &r);
}

#endif
