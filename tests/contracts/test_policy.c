/* Unit tests for the built-in default policy (ctr_eval_default): every rule, the order they
 * are checked in, the reasons in words, and the input checks that ctr_eval shares. */
#include <stdint.h>

#include "tests/contracts/fixture.h"

typedef void (*mutate)(fx *f);

typedef struct {
    const char *name;
    mutate change;
    bool eligible;
    const char *rule;
    const char *reason;
} policy_row;

static void none(fx *f) { (void)f; }
static void revoked(fx *f) { f->r.revoked = true, f->r.revoke_reason = 1; }
static void revoked_other(fx *f) { f->r.revoked = true, f->r.revoke_reason = 9; }
static void revoked_and_foreign(fx *f) { revoked(f), f->d.model = "cam-v9"; }
static void foreign_model(fx *f) { f->d.model = "cam-v9"; }
static void no_hardware(fx *f) { f->d.model = "cam-v9", f->r.n_hardware = 0; }
static void rev_high(fx *f) { f->d.revision = 7; }
static void rev_low(fx *f) { f->d.revision = 1; }
static void rev_min_edge(fx *f) { f->d.revision = 2; }
static void rev_max_edge(fx *f) { f->d.revision = 5; }
static void rev_only_min(fx *f) { f->hw[0].rev_min = 4, f->hw[0].rev_max = 0; }
static void rev_only_max(fx *f) { f->hw[0].rev_min = 0, f->hw[0].rev_max = 2; }
static void rev_unbounded(fx *f) { f->hw[0].rev_min = 0, f->hw[0].rev_max = 0, f->d.revision = 99; }
static void no_addon(fx *f) { f->d.n_addons = 0; }
static void other_addon(fx *f) { f->addons[0] = "wifi"; }
static void extra_addons(fx *f) { f->addons[0] = "wifi", f->addons[1] = "lora", f->d.n_addons = 2; }
static void cam_v3_any(fx *f) { f->d.model = "cam-v3", f->d.revision = 1000, f->d.n_addons = 0; }
static void same_version(fx *f) { f->pk[0].version = "1.1.0"; }
static void older_release(fx *f) { f->pk[0].version = "1.2.0"; }
static void prerelease_installed(fx *f) { f->pk[0].version = "1.1.0-rc.1"; }
static void build_installed(fx *f) { f->pk[0].version = "1.1.0+local"; }
static void same_secver(fx *f) { f->pk[0].security_version = 4; }
static void higher_secver(fx *f) { f->pk[0].security_version = 9; }
static void unknown_secver(fx *f) { f->pk[0].security_version = 0, f->r.security_version = 0; }
static void not_installed(fx *f) { f->pk[0] = f->pk[2], f->d.n_packages = 2; }
static void dep_too_new(fx *f) { f->pk[1].version = "2.0.0"; }
static void dep_too_old(fx *f) { f->pk[1].version = "1.1.9"; }
static void dep_missing(fx *f) { f->pk[1] = f->pk[2], f->d.n_packages = 2; }
static void dep_second(fx *f) { f->pk[2].version = "1.1.0"; }
static void dep_prerelease(fx *f) { f->pk[1].version = "2.0.0-rc.1"; }
static void no_deps(fx *f) { f->r.n_deps = 0, f->d.n_packages = 1; }
static void bad_constraint(fx *f) { f->deps[0].constraint = ">>2"; }
static void hw_and_deps(fx *f) { rev_high(f), dep_too_new(f); }
static void newer_and_deps(fx *f) { same_version(f), dep_too_new(f); }

static void test_rules(void **state)
{
    (void)state;
    static const policy_row rows[] = {
        {"fixture", none, true, "", ""},
        /* revoked */
        {"revoked", revoked, false, "revoked", "release cam-fw 1.1.0 is revoked (vulnerable)"},
        {"revoked, unknown reason", revoked_other, false, "revoked",
         "release cam-fw 1.1.0 is revoked (no reason given)"},
        {"revoked comes first", revoked_and_foreign, false, "revoked",
         "release cam-fw 1.1.0 is revoked (vulnerable)"},
        /* hardware */
        {"model", foreign_model, false, "hardware",
         "model cam-v9 is not supported (the release lists cam-v2, cam-v3)"},
        {"no hardware", no_hardware, false, "hardware",
         "model cam-v9 is not supported (the release lists no hardware)"},
        {"revision high", rev_high, false, "hardware", "revision 7 outside 2-5 for cam-v2"},
        {"revision low", rev_low, false, "hardware", "revision 1 outside 2-5 for cam-v2"},
        {"revision = min", rev_min_edge, true, "", ""},
        {"revision = max", rev_max_edge, true, "", ""},
        {"only a minimum", rev_only_min, false, "hardware", "revision 3 outside >=4 for cam-v2"},
        {"only a maximum", rev_only_max, false, "hardware", "revision 3 outside <=2 for cam-v2"},
        {"unbounded", rev_unbounded, true, "", ""},
        {"add-on missing", no_addon, false, "hardware", "cam-v2 needs add-on board lora"},
        {"other add-on", other_addon, false, "hardware", "cam-v2 needs add-on board lora"},
        {"more add-ons than needed", extra_addons, true, "", ""},
        {"other model, any revision", cam_v3_any, true, "", ""},
        /* newer */
        {"same version", same_version, false, "newer",
         "version 1.1.0 is not newer than installed 1.1.0"},
        {"older release", older_release, false, "newer",
         "version 1.1.0 is not newer than installed 1.2.0"},
        {"installed pre-release", prerelease_installed, true, "", ""},
        {"build metadata does not count", build_installed, false, "newer",
         "version 1.1.0 is not newer than installed 1.1.0+local"},
        {"same security version", same_secver, false, "newer",
         "security version 4 is not above installed 4"},
        {"lower security version", higher_secver, false, "newer",
         "security version 4 is not above installed 9"},
        {"security version unknown", unknown_secver, true, "", ""},
        {"product not installed", not_installed, true, "", ""},
        /* dependencies */
        {"dependency too new", dep_too_new, false, "dependencies",
         "needs libfoo >=1.2.0,<2 but 2.0.0 is installed"},
        {"dependency too old", dep_too_old, false, "dependencies",
         "needs libfoo >=1.2.0,<2 but 1.1.9 is installed"},
        {"dependency missing", dep_missing, false, "dependencies",
         "needs libfoo >=1.2.0,<2 but it is not installed"},
        {"second dependency", dep_second, false, "dependencies",
         "needs bootloader ^1.2 but 1.1.0 is installed"},
        {"pre-release below the bound", dep_prerelease, true, "", ""},
        {"no dependencies", no_deps, true, "", ""},
        {"invalid constraint (checked where used)", bad_constraint, false, "dependencies",
         "needs libfoo \">>2\", which is not a version constraint"},
        /* order */
        {"hardware before dependencies", hw_and_deps, false, "hardware",
         "revision 7 outside 2-5 for cam-v2"},
        {"newer before dependencies", newer_and_deps, false, "newer",
         "version 1.1.0 is not newer than installed 1.1.0"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        fx f;
        ctr_verdict v, w;
        fx_init(&f);
        rows[i].change(&f);
        int rc = ctr_eval_default(&f.d, &f.r, &f.c, &v);
        CHECK(rc == 0, "%s: rc %d (%s)", rows[i].name, rc, v.reason);
        CHECK(v.eligible == rows[i].eligible, "%s: eligible %d (%s: %s)", rows[i].name,
              v.eligible, v.rule, v.reason);
        CHECK(!strcmp(v.rule, rows[i].rule), "%s: rule \"%s\", want \"%s\"", rows[i].name, v.rule,
              rows[i].rule);
        CHECK(!strcmp(v.reason, rows[i].reason), "%s: reason \"%s\", want \"%s\"", rows[i].name,
              v.reason, rows[i].reason);
        CHECK(v.cost > 0, "%s: no cost", rows[i].name);

        /* A contract "rule defaults: defaults()" decides the same (a revoked release never
         * reaches it: ctr_eval refuses it first, with rule "revoked"). */
        rc = fx_eval(&f, "rule defaults: defaults()", &w);
        CHECK(rc == 0 && w.eligible == v.eligible, "%s: contract differs", rows[i].name);
        if (!v.eligible && strcmp(v.rule, "revoked")) {
            char want[CTR_RULE_MAX + CTR_REASON_MAX + 2];
            snprintf(want, sizeof want, "%s: %s", v.rule, v.reason);
            CHECK(!strcmp(w.rule, "defaults") && !strcmp(w.reason, want),
                  "%s: contract says %s: %s", rows[i].name, w.rule, w.reason);
        } else if (!v.eligible) {
            CHECK(!strcmp(w.rule, "revoked") && !strcmp(w.reason, v.reason) && w.cost == 0,
                  "%s: contract says %s: %s", rows[i].name, w.rule, w.reason);
        }
    }
}

/* --- inputs ----------------------------------------------------------------------------- */

static const char long_name[] = "x123456789x123456789x123456789x123456789x123456789x123456789x1234";

static void too_many_tags(fx *f)
{
    for (int i = 0; i <= CTR_LIST_MAX; i++)
        f->tags[i] = "t";
    f->d.n_tags = CTR_LIST_MAX + 1;
}
static void max_tags(fx *f)
{
    for (int i = 0; i < CTR_LIST_MAX; i++)
        f->tags[i] = "t";
    f->d.n_tags = CTR_LIST_MAX;
}
static void long_id(fx *f) { f->d.id = long_name; }
static void max_id(fx *f) { f->d.id = long_name + 1; }
static void null_strings(fx *f) { f->d.id = NULL, f->d.region = NULL; }
static void null_tag(fx *f) { f->tags[0] = NULL; }
static void null_tag_list(fx *f) { f->d.tags = NULL; }
static void null_empty_lists(fx *f) { f->d.tags = NULL, f->d.n_tags = 0, f->d.addons = NULL, f->d.n_addons = 0, f->r.n_hardware = 1, f->hw[0].rev_min = 0, f->hw[0].rev_max = 0, f->hw[0].n_required_addons = 0, f->hw[0].required_addons = NULL; }
static void bad_pkg_version(fx *f) { f->pk[1].version = "1.4"; }
static void null_pkg_version(fx *f) { f->pk[1].version = NULL; }
static void empty_pkg_name(fx *f) { f->pk[1].name = ""; }
static void dup_pkg(fx *f) { f->pk[2].name = "libfoo"; }
static void too_many_pkgs(fx *f) { f->d.n_packages = CTR_LIST_MAX + 1; }
static void bad_rel_version(fx *f) { f->r.version = "v1.1"; }
static void null_rel_version(fx *f) { f->r.version = NULL; }
static void long_constraint(fx *f) { f->deps[0].constraint = long_name; }
static void bad_range(fx *f) { f->hw[0].rev_min = 6; }
static void no_model(fx *f) { f->hw[1].model = ""; }
static void big_hash(fx *f) { f->r.file_hash_len = 65; }
static void null_hash(fx *f) { f->r.file_hash = NULL; }
static void too_many_deps(fx *f) { f->r.n_deps = CTR_LIST_MAX + 1; }
static void too_many_req(fx *f) { f->hw[0].n_required_addons = CTR_LIST_MAX + 1; }

static void test_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        mutate change;
        int rc;
        const char *reason; /* NULL: accepted */
    } rows[] = {
        {"17 tags", too_many_tags, CTR_ETOOBIG, "device.tags: 17 entries, at most 16"},
        {"16 tags", max_tags, 0, NULL},
        {"65-byte id", long_id, CTR_ETOOBIG, "device: id, model or region longer than 64 bytes"},
        {"64-byte id", max_id, 0, NULL},
        {"NULL id and region read as \"\"", null_strings, 0, NULL},
        {"NULL tag", null_tag, CTR_EINVAL, "device.tags[0]: NULL"},
        {"NULL tag list", null_tag_list, CTR_EINVAL, "device.tags: NULL list"},
        {"NULL empty lists", null_empty_lists, 0, NULL},
        {"package version", bad_pkg_version, CTR_EINVAL,
         "device.packages[1]: libfoo version \"1.4\" is not SemVer 2.0"},
        {"NULL package version", null_pkg_version, CTR_EINVAL,
         "device.packages[1]: name or version missing"},
        {"empty package name", empty_pkg_name, CTR_EINVAL,
         "device.packages[1]: name or version missing"},
        {"duplicate package", dup_pkg, CTR_EINVAL, "device.packages: libfoo listed twice"},
        {"17 packages", too_many_pkgs, CTR_ETOOBIG, "device.packages: 17 entries, at most 16"},
        {"release version", bad_rel_version, CTR_EINVAL,
         "release.version \"v1.1\" is not SemVer 2.0"},
        {"NULL release version", null_rel_version, CTR_EINVAL,
         "release.version \"\" is not SemVer 2.0"},
        {"long constraint", long_constraint, CTR_ETOOBIG,
         "release.deps[0]: longer than 64 bytes"},
        {"revision range", bad_range, CTR_EINVAL, "release.hardware[0]: revision range 6-5"},
        {"no model", no_model, CTR_EINVAL, "release.hardware[1]: no model"},
        {"65-byte hash", big_hash, CTR_ETOOBIG, "release.file_hash: 65 bytes, at most 64"},
        {"NULL hash", null_hash, CTR_EINVAL, "release.file_hash: NULL"},
        {"17 dependencies", too_many_deps, CTR_ETOOBIG,
         "release: more than 16 hardware entries or dependencies"},
        {"17 required add-ons", too_many_req, CTR_ETOOBIG,
         "release.hardware.required_addons: 17 entries, at most 16"},
    };
    ctr_program *p = fx_compile("rule a: true");
    for (size_t i = 0; i < N(rows); i++) {
        fx f;
        ctr_verdict v, w;
        fx_init(&f);
        rows[i].change(&f);
        int rc = ctr_eval_default(&f.d, &f.r, &f.c, &v);
        int rc2 = ctr_eval(p, &f.d, &f.r, &f.c, &w);
        CHECK(rc == rows[i].rc && rc2 == rows[i].rc, "%s: rc %d / %d (%s), want %d",
              rows[i].name, rc, rc2, v.reason, rows[i].rc);
        if (!rows[i].reason)
            continue;
        CHECK(!v.eligible && !w.eligible, "%s: eligible", rows[i].name);
        CHECK(!strcmp(v.rule, "input") && !strcmp(w.rule, "input"), "%s: rule %s", rows[i].name,
              v.rule);
        CHECK(!strcmp(v.reason, rows[i].reason) && !strcmp(w.reason, rows[i].reason),
              "%s: reason \"%s\", want \"%s\"", rows[i].name, v.reason, rows[i].reason);
    }

    /* NULL arguments */
    fx f;
    ctr_verdict v;
    fx_init(&f);
    assert_int_equal(ctr_eval_default(NULL, &f.r, &f.c, &v), CTR_EINVAL);
    assert_false(v.eligible);
    assert_string_equal(v.rule, "input");
    assert_string_equal(v.reason, "no device or no release");
    assert_int_equal(ctr_eval_default(&f.d, NULL, &f.c, &v), CTR_EINVAL);
    assert_int_equal(ctr_eval(p, &f.d, NULL, &f.c, &v), CTR_EINVAL);
    assert_int_equal(ctr_eval(NULL, &f.d, &f.r, &f.c, &v), CTR_EINVAL);
    assert_string_equal(v.reason, "no program");
    /* no verdict wanted, no context given */
    assert_int_equal(ctr_eval_default(&f.d, &f.r, NULL, NULL), 0);
    assert_int_equal(ctr_eval(p, &f.d, &f.r, NULL, NULL), 0);
    assert_int_equal(ctr_eval(p, NULL, &f.r, NULL, NULL), CTR_EINVAL);
    assert_int_equal(ctr_eval_default(&f.d, &f.r, NULL, &v), 0);
    assert_true(v.eligible);
    ctr_free(p);

    /* A NULL device id reads as "": the contract sees it so. */
    f.d.id = NULL;
    assert_int_equal(fx_eval(&f, "rule a: device.id == \"\" and len(device.region) == 7", &v), 0);
    assert_true(v.eligible);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
