/*
 * fuzz_contract: the contract language (contracts/): ctr_compile on arbitrary source and,
 * when it compiles, ctr_eval against fixed devices and releases with a small cost limit.
 * Contract source comes from admin transactions and every node compiles it, so the whole
 * pipeline (lexer, parser, checker, code generator, VM) is reachable from outside.
 *
 * Checks, compile: the result is 0, CTR_ESYNTAX, CTR_ETOOBIG or CTR_ENOMEM; on error no
 * program and a message "line:col: what" (line >= 1, col >= 1) that fits the buffer; on
 * success an image starting "FWC1", at least one rule with a name, and compiling again
 * gives the byte-identical image.
 * Checks, evaluation (three devices: lists at their maximum size, an almost empty one, one
 * with uint64 fields above the int range): the result is 0, CTR_ECOST or CTR_ERUNTIME -
 * never CTR_ETYPE (the checker must rule every type error out) nor an input error; the cost
 * never exceeds the limit, and CTR_ECOST reports exactly the limit with "cost limit
 * exceeded"; an eligible verdict has rc 0 and no rule, an error is never eligible, a
 * run-time error's reason starts "line:col: "; the same evaluation twice gives the same
 * verdict, and a revoked release is refused with rule "revoked" at cost 0.
 * Seeds: the docs' example contracts, written at startup; tests/fuzz/fuzz_contract.dict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COST_LIMIT 3000

static const char *const seeds[] = {
    "rule base: defaults()\n",
    "# cam-fw rollout\n"
    "let canary = \"canary\" in device.tags\n"
    "rule base: defaults()\n"
    "rule window: between(block.time_ms, date(\"2023-11-14\"), date(\"2023-12-01\"))\n"
    "    because \"outside the rollout window\"\n"
    "rule rollout: canary or bucket(device.id, release) < 2500\n"
    "    because \"bucket {bucket(device.id, release)} is not in the first 25%\"\n"
    "rule healthy: failure_rate(release) <= 50\n"
    "    because \"halted: failure rate {failure_rate(release)} per mille\"\n",
    "rule base: defaults()\n"
    "rule co2_board: \"co2-sensor\" not in device.addons or "
    "satisfies(release.version, \">=2.1.0\")\n"
    "    because \"the co2-sensor board needs 2.1.0 or later, not {release.version}\"\n",
    "let v = installed(device, \"libfoo\")\n"
    "rule libfoo: v == none or v >= \"2.0.0\" because \"libfoo {v} is too old\"\n"
    "rule hw: supports(release, device) and deps_ok(release, device) and newer(release, device)\n",
    "let n = count(p in device.packages: satisfies(p.version, \"^1\"))\n"
    "rule r: n > 2 and all(h in release.hardware: any(a in h.required_addons: a in device.addons))\n"
    "rule s: subset([\"lora\"], device.addons) and intersects(device.tags, [\"beta\", \"canary\"])\n"
    "rule t: major(release.version) == 1 and not is_prerelease(release.version) and "
    "len(device.region) > 0 and starts_with(device.region, \"eu-\")\n",
    "rule slow: all(a in device.tags: all(b in device.tags: all(c in device.tags: a == b or "
    "c != a)))\n",
    "rule arith: (release.security_version * 3 - 7) % 5 != 2 / 1 and -block.height < days(1) + "
    "hours(2) and release.outcomes.failed + release.outcomes.rolled_back < 10\n",
};

/* --- fixed inputs ---------------------------------------------------------------------- */

typedef struct {
    const char *strs[CTR_LIST_MAX];
    char names[CTR_LIST_MAX][16];
    ctr_package pk[CTR_LIST_MAX];
    ctr_hardware hw[CTR_LIST_MAX];
    ctr_dependency deps[CTR_LIST_MAX];
    uint8_t hash[32];
    ctr_device d;
    ctr_release r;
    ctr_context c;
} world;

static world W[3];

static const char *const versions[] = {"1.0.0", "1.4.0", "2.0.0-rc.1", "0.9.12", "1.2.5+b7"};
static const char *const constraints[] = {">=1.0.0", "^1.2", "<2", "*", "~1.4", "=1"};

static void world_full(world *w)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < CTR_LIST_MAX; i++) {
        snprintf(w->names[i], sizeof w->names[i], "pkg%d", i);
        w->strs[i] = i % 3 == 0 ? "lora" : i % 3 == 1 ? "canary" : "co2-sensor";
        w->pk[i] = (ctr_package){w->names[i], versions[i % 5], (uint64_t)i};
        w->hw[i] = (ctr_hardware){i ? w->names[i] : "cam-v2", (uint32_t)i % 3, (uint32_t)i % 3 * 2,
                                  w->strs, (size_t)i % 4};
        w->deps[i] = (ctr_dependency){w->names[(i * 5) % CTR_LIST_MAX], constraints[i % 6]};
    }
    w->pk[0].name = "cam-fw";
    w->pk[1].name = "libfoo";
    memset(w->hash, 0xab, sizeof w->hash);
    w->d = (ctr_device){"dev-0001", "cam-v2", 3, w->strs, CTR_LIST_MAX, w->pk, CTR_LIST_MAX,
                        "eu-west", w->strs, CTR_LIST_MAX};
    w->r = (ctr_release){.product = "cam-fw", .version = "1.1.0", .security_version = 4,
                         .file_hash = w->hash, .file_hash_len = 32, .hardware = w->hw,
                         .n_hardware = CTR_LIST_MAX, .deps = w->deps, .n_deps = CTR_LIST_MAX,
                         .published_at = 1700000000, .height = 10, .outcomes = {90, 6, 4}};
    w->c = (ctr_context){1700000000000ull, 12, COST_LIMIT};
}

static void world_empty(world *w)
{
    world_full(w);
    w->d = (ctr_device){.model = "cam-v9"};
    w->r.n_hardware = 1;
    w->r.n_deps = 0;
    w->r.outcomes = (ctr_outcomes){0, 0, 0};
    w->c.block_time_ms = 0;
}

static void world_huge(world *w)
{
    world_full(w);
    w->r.security_version = UINT64_MAX;
    w->r.published_at = (uint64_t)INT64_MAX + 1;
    w->r.outcomes = (ctr_outcomes){UINT64_MAX, UINT64_MAX, UINT64_MAX};
    w->c.block_time_ms = UINT64_MAX;
    w->c.height = UINT64_MAX;
    w->pk[1].version = "18446744073709551615.18446744073709551615.1-x";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    world_full(&W[0]);
    world_empty(&W[1]);
    world_huge(&W[2]);
    const char *dir = fz_corpus_dir(*argc, *argv);
    char name[32];
    for (size_t i = 0; dir && i < sizeof seeds / sizeof *seeds; i++) {
        snprintf(name, sizeof name, "contract%zu", i);
        fz_write_seed(dir, name, seeds[i], strlen(seeds[i]));
    }
    return 0;
}

/* --- checks ------------------------------------------------------------------------------ */

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* "line:col: " with both numbers >= 1. */
static bool has_position(const char *s)
{
    unsigned line = 0, col = 0;
    int n = 0;
    return sscanf(s, "%u:%u: %n", &line, &col, &n) == 2 && n > 0 && line >= 1 && col >= 1;
}

static void check_eval(const ctr_program *p, const world *w)
{
    ctr_verdict v, again;
    memset(&v, 0x77, sizeof v);
    int rc = ctr_eval(p, &w->d, &w->r, &w->c, &v);
    FZ_CHECK(rc == 0 || rc == CTR_ECOST || rc == CTR_ERUNTIME, "eval rc %d (%s: %s)", rc,
             ctr_strerror(rc), terminated(v.reason, sizeof v.reason) ? v.reason : "?");
    FZ_CHECK(terminated(v.rule, sizeof v.rule) && terminated(v.reason, sizeof v.reason),
             "verdict strings not terminated");
    FZ_CHECK(v.cost <= COST_LIMIT, "cost %llu over the limit", (unsigned long long)v.cost);
    if (v.eligible)
        FZ_CHECK(rc == 0 && v.rule[0] == '\0' && v.reason[0] == '\0', "eligible with %s: %s",
                 v.rule, v.reason);
    else
        FZ_CHECK(v.reason[0] != '\0', "a refusal without a reason (rule %s)", v.rule);
    if (rc == CTR_ECOST)
        FZ_CHECK(v.cost == COST_LIMIT && !strcmp(v.reason, "cost limit exceeded"),
                 "ECOST with cost %llu, reason %s", (unsigned long long)v.cost, v.reason);
    if (rc == CTR_ERUNTIME)
        FZ_CHECK(has_position(v.reason), "run-time error without a position: %s", v.reason);
    if (!v.eligible && rc == 0)
        FZ_CHECK(v.rule[0] != '\0', "a refusal without a rule");

    memset(&again, 0x11, sizeof again);
    int rc2 = ctr_eval(p, &w->d, &w->r, &w->c, &again);
    FZ_CHECK(rc2 == rc && again.eligible == v.eligible && !strcmp(again.rule, v.rule) &&
                 !strcmp(again.reason, v.reason) && again.cost == v.cost,
             "not deterministic: %d/%d %s/%s", rc, rc2, v.reason, again.reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctr_program *p = (ctr_program *)&W; /* must be overwritten */
    char err[128];
    memset(err, 0x55, sizeof err);
    int rc = ctr_compile((const char *)data, size, &p, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == CTR_ESYNTAX || rc == CTR_ETOOBIG || rc == CTR_ENOMEM,
             "compile rc %d", rc);
    if (rc) {
        FZ_CHECK(p == NULL, "a program after an error");
        FZ_CHECK(terminated(err, sizeof err), "error message not terminated");
        if (rc != CTR_ENOMEM)
            FZ_CHECK(has_position(err), "error message without a position: %s", err);
        return 0;
    }
    FZ_CHECK(p != NULL && size <= CTR_SOURCE_MAX, "compiled %zu bytes", size);
    size_t n = 0, n2 = 0;
    const uint8_t *img = ctr_code(p, &n);
    FZ_CHECK(img && n > 4 && !memcmp(img, "FWC1", 4), "image");
    FZ_CHECK(ctr_rule_count(p) >= 1 && ctr_rule_count(p) <= CTR_RULES_MAX, "rule count");
    for (size_t i = 0; i < ctr_rule_count(p); i++)
        FZ_CHECK(ctr_rule_name(p, i) && ctr_rule_name(p, i)[0], "rule %zu has no name", i);

    ctr_program *q = NULL;
    FZ_CHECK(ctr_compile((const char *)data, size, &q, NULL, 0) == 0, "compiles only once");
    const uint8_t *img2 = ctr_code(q, &n2);
    FZ_CHECK(n == n2 && !memcmp(img, img2, n), "two compiles, two images");
    ctr_free(q);

    for (size_t i = 0; i < sizeof W / sizeof *W; i++)
        check_eval(p, &W[i]);

    /* A revoked release: refused before the contract runs. */
    world *w = &W[0];
    ctr_verdict v;
    w->r.revoked = true;
    rc = ctr_eval(p, &w->d, &w->r, &w->c, &v);
    w->r.revoked = false;
    FZ_CHECK(rc == 0 && !v.eligible && !strcmp(v.rule, "revoked") && v.cost == 0,
             "revoked: rc %d, %s: %s", rc, v.rule, v.reason);
    ctr_free(p);
    return 0;
}
