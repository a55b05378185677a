/*
 * Shared fixture of the contracts tests (header-only; each test is one translation unit).
 *
 * One device and one release that the default policy finds eligible, in plain C structs
 * the tests change field by field:
 *   device "dev-0001": model cam-v2 revision 3, add-on "lora", tags "canary", region
 *     "eu-west", packages cam-fw 1.0.0 (security version 3), libfoo 1.4.0, bootloader 1.2.5;
 *   release cam-fw 1.1.0, security version 4, file hash 32 x 0xab, hardware cam-v2 revisions
 *     2-5 needing "lora" and cam-v3 any revision, dependencies libfoo >=1.2.0,<2 and
 *     bootloader ^1.2, outcomes 90 succeeded / 6 failed / 4 rolled back, height 10,
 *     published 1,700,000,000 s;
 *   block time 1,700,000,000,000 ms, height 12, default cost limit.
 */
#ifndef FWL_TESTS_CONTRACTS_FIXTURE_H
#define FWL_TESTS_CONTRACTS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "contracts/contracts.h"

#define N(a) (sizeof(a) / sizeof *(a))

/* Table rows fail with the row named, not just the line of the loop. */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error(__VA_ARGS__);                                                      \
            print_error("\n");                                                             \
            fail_msg("%s", #cond);                                                         \
        }                                                                                  \
    } while (0)

typedef struct {
    const char *addons[CTR_LIST_MAX + 1];
    const char *tags[CTR_LIST_MAX + 1];
    ctr_package pk[CTR_LIST_MAX + 1];
    ctr_device d;
    const char *req[CTR_LIST_MAX + 1];
    ctr_hardware hw[CTR_LIST_MAX + 1];
    ctr_dependency deps[CTR_LIST_MAX + 1];
    uint8_t hash[32];
    ctr_release r;
    ctr_context c;
} fx;

static inline void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    f->addons[0] = "lora";
    f->tags[0] = "canary";
    f->pk[0] = (ctr_package){"cam-fw", "1.0.0", 3};
    f->pk[1] = (ctr_package){"libfoo", "1.4.0", 0};
    f->pk[2] = (ctr_package){"bootloader", "1.2.5", 0};
    f->d = (ctr_device){.id = "dev-0001", .model = "cam-v2", .revision = 3, .addons = f->addons,
                        .n_addons = 1, .packages = f->pk, .n_packages = 3, .region = "eu-west",
                        .tags = f->tags, .n_tags = 1};
    f->req[0] = "lora";
    f->hw[0] = (ctr_hardware){"cam-v2", 2, 5, f->req, 1};
    f->hw[1] = (ctr_hardware){"cam-v3", 0, 0, NULL, 0};
    f->deps[0] = (ctr_dependency){"libfoo", ">=1.2.0,<2"};
    f->deps[1] = (ctr_dependency){"bootloader", "^1.2"};
    memset(f->hash, 0xab, sizeof f->hash);
    f->r = (ctr_release){.product = "cam-fw", .version = "1.1.0", .security_version = 4,
                         .file_hash = f->hash, .file_hash_len = sizeof f->hash,
                         .hardware = f->hw, .n_hardware = 2, .deps = f->deps, .n_deps = 2,
                         .published_at = 1700000000, .height = 10,
                         .outcomes = {90, 6, 4}};
    f->c = (ctr_context){.block_time_ms = 1700000000000ull, .height = 12};
}

/* Compile src, failing the test with the compiler's message if it does not compile. */
static inline ctr_program *fx_compile(const char *src)
{
    ctr_program *p = NULL;
    char err[256];
    int rc = ctr_compile(src, strlen(src), &p, err, sizeof err);
    CHECK(rc == 0 && p, "compile \"%s\": %d %s", src, rc, err);
    return p;
}

/* Compile and evaluate src against f; returns ctr_eval's code. */
static inline int fx_eval(const fx *f, const char *src, ctr_verdict *v)
{
    ctr_program *p = fx_compile(src);
    int rc = ctr_eval(p, &f->d, &f->r, &f->c, v);
    ctr_free(p);
    return rc;
}

/* The compiler's error message for src ("" when it compiles). */
static inline int fx_error(const char *src, char *err, size_t cap)
{
    ctr_program *p = NULL;
    int rc = ctr_compile(src, strlen(src), &p, err, cap);
    CHECK((rc == 0) == (p != NULL), "compile \"%s\": rc %d but program %p", src, rc, (void *)p);
    ctr_free(p);
    return rc;
}

/* One table row: a contract and what evaluating it must give. */
typedef struct {
    const char *src;
    int rc;
    bool eligible;
    const char *rule;   /* NULL: not checked */
    const char *reason; /* NULL: not checked */
} fx_row;

static inline void fx_run_rows(const fx *f, const fx_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ctr_verdict v;
        int rc = fx_eval(f, rows[i].src, &v);
        CHECK(rc == rows[i].rc, "row %zu \"%s\": rc %d (%s), want %d", i, rows[i].src, rc,
              v.reason, rows[i].rc);
        CHECK(v.eligible == rows[i].eligible, "row %zu \"%s\": eligible %d, want %d (%s: %s)", i,
              rows[i].src, v.eligible, rows[i].eligible, v.rule, v.reason);
        if (rows[i].rule)
            CHECK(!strcmp(v.rule, rows[i].rule), "row %zu \"%s\": rule \"%s\", want \"%s\"", i,
                  rows[i].src, v.rule, rows[i].rule);
        if (rows[i].reason)
            CHECK(!strcmp(v.reason, rows[i].reason), "row %zu \"%s\": reason \"%s\", want \"%s\"",
                  i, rows[i].src, v.reason, rows[i].reason);
    }
}

#endif
