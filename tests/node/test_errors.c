/*
 * One error space: every module's codes in their own range, node_strerror naming all of them,
 * and docs/protocol.md's table of the codes a client can receive matching the code both
 * ways (a code listed there exists with that name and message; every ledger, node and
 * contract code is listed).
 *
 * The table is read from docs/protocol.md relative to the working directory: make runs the
 * unit tests from the repository's root.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "consensus/consensus.h"
#include "contracts/contracts.h"
#include "ledger/ledger.h"
#include "node/client/client.h"
#include "p2p/p2p.h"
#include "tests/node/doc_table.h"

#define PROTOCOL_MD "docs/protocol.md"

enum { M_LDG, M_NODE, M_P2P, M_CTR, M_CNS };

typedef struct {
    int code;
    const char *name;
    const char *msg;
    int module;
} code_info;

/* Every code of every module, straight from the tables (LDG_OK, 0, is not an error). */
static const code_info all[] = {
#define LDG_(n, v, m) {v, #n, m, M_LDG},
#define NODE_(n, v, m) {v, #n, m, M_NODE},
#define P2P_(n, v, m) {v, #n, m, M_P2P},
#define CTR_(n, v, m) {v, #n, m, M_CTR},
#define CNS_(n, v, m) {v, #n, m, M_CNS},
    LDG_ERRORS(LDG_) NODE_ERRORS(NODE_) P2P_ERRORS(P2P_) CTR_ERRORS(CTR_) CNS_ERRORS(CNS_)
#undef LDG_
#undef NODE_
#undef P2P_
#undef CTR_
#undef CNS_
};
#define N_ALL (sizeof all / sizeof all[0])

/* The ranges of node/client/client.h, by module. */
static const struct {
    int lo, hi;
} range[] = {
    [M_LDG] = {-99, -1}, [M_NODE] = {-199, -100}, [M_P2P] = {-299, -200},
    [M_CTR] = {-399, -300}, [M_CNS] = {-499, -400},
};

static bool client_visible(int module)
{
    return module == M_LDG || module == M_NODE || module == M_CTR;
}

static const code_info *find(int code)
{
    for (size_t i = 0; i < N_ALL; i++)
        if (all[i].code == code)
            return &all[i];
    return NULL;
}

/* --- the table in docs/protocol.md ---------------------------------------------------- */

#define MAX_ROWS 128

typedef struct {
    int code;
    char name[64];
    char msg[128];
    int line;
} row;

typedef struct {
    row r[MAX_ROWS];
    size_t n;
} doc_table;

/* One row: | code | name | message | when |. */
static void add_row(void *ctx, char **c, int ln)
{
    doc_table *t = ctx;
    char *end;
    long code = strtol(c[0], &end, 10);
    if (*end || end == c[0] || code >= 0 || code < INT_MIN)
        fail_msg("%s:%d: '%s' is not a negative code", PROTOCOL_MD, ln, c[0]);
    if (t->n == MAX_ROWS)
        fail_msg("%s: more than %d rows", PROTOCOL_MD, MAX_ROWS);
    row *r = &t->r[t->n++];
    r->code = (int)code;
    r->line = ln;
    if (snprintf(r->name, sizeof r->name, "%s", c[1]) >= (int)sizeof r->name ||
        snprintf(r->msg, sizeof r->msg, "%s", c[2]) >= (int)sizeof r->msg)
        fail_msg("%s:%d: name or message too long", PROTOCOL_MD, ln);
}

static void parse_table(const char *path, doc_table *t)
{
    static const char *const header[] = {"code", "name", "message", "when"};
    t->n = 0;
    if (doc_rows(path, "error-codes", header, 4, add_row, t) != 1)
        fail_msg("%s: more than one error-codes table", path);
}

/* Every row names a real client-visible code, with its name and node_strerror's text. */
static void test_doc_rows_match_code(void **state)
{
    (void)state;
    static doc_table t;
    parse_table(PROTOCOL_MD, &t);
    assert_true(t.n > 0);
    for (size_t i = 0; i < t.n; i++) {
        const row *r = &t.r[i];
        const code_info *c = find(r->code);
        if (!c)
            fail_msg("%s:%d: %d %s is not a code of any module", PROTOCOL_MD, r->line, r->code,
                     r->name);
        if (strcmp(c->name, r->name))
            fail_msg("%s:%d: %d is %s, not %s", PROTOCOL_MD, r->line, r->code, c->name, r->name);
        if (strcmp(node_strerror(r->code), r->msg))
            fail_msg("%s:%d: %s's message is \"%s\", the table says \"%s\"", PROTOCOL_MD,
                     r->line, r->name, node_strerror(r->code), r->msg);
        if (!client_visible(c->module))
            fail_msg("%s:%d: %s never reaches a client", PROTOCOL_MD, r->line, r->name);
        for (size_t j = 0; j < i; j++)
            if (t.r[j].code == r->code)
                fail_msg("%s:%d: %d listed twice", PROTOCOL_MD, r->line, r->code);
    }
}

/* Every ledger, node and contract code is in the table. */
static void test_doc_lists_every_code(void **state)
{
    (void)state;
    static doc_table t;
    parse_table(PROTOCOL_MD, &t);
    for (size_t i = 0; i < N_ALL; i++) {
        if (!all[i].code || !client_visible(all[i].module))
            continue;
        bool listed = false;
        for (size_t j = 0; j < t.n && !listed; j++)
            listed = t.r[j].code == all[i].code;
        if (!listed)
            fail_msg("%s (%d) is missing from the table in %s", all[i].name, all[i].code,
                     PROTOCOL_MD);
    }
}

/* Each module's codes stay in its range, so no two modules share a code. */
static void test_ranges_and_collisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALL; i++) {
        const code_info *c = &all[i];
        if (c->code == 0 && c->module == M_LDG)
            continue; /* LDG_OK */
        if (c->code < range[c->module].lo || c->code > range[c->module].hi)
            fail_msg("%s (%d) is outside %d..%d", c->name, c->code, range[c->module].hi,
                     range[c->module].lo);
        for (size_t j = 0; j < i; j++)
            if (all[j].code == c->code)
                fail_msg("%s and %s are both %d", all[j].name, c->name, c->code);
    }
}

/* node_strerror names every code as its module does, and never returns NULL. */
static void test_node_strerror(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALL; i++) {
        const code_info *c = &all[i];
        const char *own = c->module == M_LDG   ? ldg_strerror(c->code)
                          : c->module == M_P2P ? p2p_strerror(c->code)
                          : c->module == M_CTR ? ctr_strerror(c->code)
                          : c->module == M_CNS ? cns_strerror(c->code)
                                               : c->msg;
        assert_string_equal(node_strerror(c->code), c->msg);
        assert_string_equal(own, c->msg);
    }
    assert_string_equal(node_strerror(0), "ok");
    for (int e = -1000; e <= 1000; e++) {
        const char *m = node_strerror(e);
        assert_non_null(m);
        assert_true(*m);
        if (e && !find(e))
            assert_string_equal(m, "unknown error");
    }
    assert_string_equal(node_strerror(INT_MIN), "unknown error");
    assert_string_equal(node_strerror(INT_MAX), "unknown error");
    /* removed codes, and the old consensus numbers, are not named as something else */
    assert_string_equal(node_strerror(-108), "unknown error");
    assert_string_equal(node_strerror(-306), "unknown error");
    assert_string_equal(node_strerror(-307), "unknown error");
    assert_string_equal(node_strerror(CNS_EINVAL), "invalid argument");
    assert_string_equal(node_strerror(-1), "out of memory"); /* the ledger's, not consensus' */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_rows_match_code),
        cmocka_unit_test(test_doc_lists_every_code),
        cmocka_unit_test(test_ranges_and_collisions),
        cmocka_unit_test(test_node_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
