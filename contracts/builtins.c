/*
 * The records' fields and the built-in functions: their static signatures (for check.c) and
 * their run-time bodies (for vm.c).
 *
 * Cost: the OP_CALL instruction costs 1 like every instruction; a built-in that visits list
 * entries charges one more unit per entry visited (ctr__charge), so the work a contract can
 * cause stays proportional to its cost limit whatever the lists hold.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "contracts/internal.h"

/* Field ids are indices in this table; the VM switches on them. */
enum {
    F_DEV_ID, F_DEV_MODEL, F_DEV_REVISION, F_DEV_ADDONS, F_DEV_PACKAGES, F_DEV_REGION,
    F_DEV_TAGS,
    F_REL_PRODUCT, F_REL_VERSION, F_REL_SECVER, F_REL_HARDWARE, F_REL_DEPS, F_REL_REVOKED,
    F_REL_PUBLISHED_AT, F_REL_HEIGHT, F_REL_OUTCOMES,
    F_BLK_TIME_MS, F_BLK_HEIGHT,
    F_OUT_SUCCEEDED, F_OUT_FAILED, F_OUT_ROLLED_BACK,
    F_PKG_NAME, F_PKG_VERSION, F_PKG_SECVER,
    F_HW_MODEL, F_HW_REV_MIN, F_HW_REV_MAX, F_HW_ADDONS,
    F_DEP_PACKAGE, F_DEP_CONSTRAINT,
};

const ctr__field ctr__fields[] = {
    [F_DEV_ID] = {T_DEVICE, "id", T_STR},
    [F_DEV_MODEL] = {T_DEVICE, "model", T_STR},
    [F_DEV_REVISION] = {T_DEVICE, "revision", T_INT},
    [F_DEV_ADDONS] = {T_DEVICE, "addons", T_LIST_STR},
    [F_DEV_PACKAGES] = {T_DEVICE, "packages", T_LIST_PKG},
    [F_DEV_REGION] = {T_DEVICE, "region", T_STR},
    [F_DEV_TAGS] = {T_DEVICE, "tags", T_LIST_STR},
    [F_REL_PRODUCT] = {T_RELEASE, "product", T_STR},
    [F_REL_VERSION] = {T_RELEASE, "version", T_VER},
    [F_REL_SECVER] = {T_RELEASE, "security_version", T_INT},
    [F_REL_HARDWARE] = {T_RELEASE, "hardware", T_LIST_HW},
    [F_REL_DEPS] = {T_RELEASE, "deps", T_LIST_DEP},
    [F_REL_REVOKED] = {T_RELEASE, "revoked", T_BOOL},
    [F_REL_PUBLISHED_AT] = {T_RELEASE, "published_at", T_INT},
    [F_REL_HEIGHT] = {T_RELEASE, "height", T_INT},
    [F_REL_OUTCOMES] = {T_RELEASE, "outcomes", T_OUTCOMES},
    [F_BLK_TIME_MS] = {T_BLOCK, "time_ms", T_INT},
    [F_BLK_HEIGHT] = {T_BLOCK, "height", T_INT},
    [F_OUT_SUCCEEDED] = {T_OUTCOMES, "succeeded", T_INT},
    [F_OUT_FAILED] = {T_OUTCOMES, "failed", T_INT},
    [F_OUT_ROLLED_BACK] = {T_OUTCOMES, "rolled_back", T_INT},
    [F_PKG_NAME] = {T_PACKAGE, "name", T_STR},
    [F_PKG_VERSION] = {T_PACKAGE, "version", T_VER},
    [F_PKG_SECVER] = {T_PACKAGE, "security_version", T_INT},
    [F_HW_MODEL] = {T_HARDWARE, "model", T_STR},
    [F_HW_REV_MIN] = {T_HARDWARE, "rev_min", T_INT},
    [F_HW_REV_MAX] = {T_HARDWARE, "rev_max", T_INT},
    [F_HW_ADDONS] = {T_HARDWARE, "required_addons", T_LIST_STR},
    [F_DEP_PACKAGE] = {T_DEP, "package", T_STR},
    [F_DEP_CONSTRAINT] = {T_DEP, "constraint", T_STR},
};
const size_t ctr__n_fields = sizeof ctr__fields / sizeof *ctr__fields;

static void str_val(ctr__val *v, const char *s)
{
    *v = (ctr__val){.tag = V_STR};
    v->u.s = s ? s : "";
    v->n = (uint32_t)strlen(v->u.s);
}

static void list_val(ctr__val *v, int kind, const void *p, size_t n)
{
    *v = (ctr__val){.tag = V_LIST, .kind = (uint8_t)kind, .n = (uint32_t)n};
    v->u.p = p;
}

static void int_val(ctr__val *v, int64_t i)
{
    *v = (ctr__val){.tag = V_INT};
    v->u.i = i;
}

static void bool_val(ctr__val *v, bool b)
{
    *v = (ctr__val){.tag = V_BOOL};
    v->u.b = b;
}

static void rec_val(ctr__val *v, int kind, const void *p)
{
    *v = (ctr__val){.tag = V_REC, .kind = (uint8_t)kind};
    v->u.p = p;
}

int ctr__field_load(ctr__vm *vm, unsigned fid, const ctr__val *rec, ctr__val *out)
{
    static const uint8_t rec_kind[] = {
        [T_DEVICE] = R_DEVICE, [T_RELEASE] = R_RELEASE, [T_BLOCK] = R_BLOCK,
        [T_OUTCOMES] = R_OUTCOMES, [T_PACKAGE] = R_PACKAGE, [T_HARDWARE] = R_HARDWARE,
        [T_DEP] = R_DEP,
    };
    if (fid >= ctr__n_fields || rec->tag != V_REC || rec->kind != rec_kind[ctr__fields[fid].rec])
        return ctr__type_error(vm, "field of a non-record");
    const ctr_device *d = rec->u.p;
    const ctr_release *r = rec->u.p;
    const ctr_outcomes *o = rec->u.p;
    const ctr_package *pk = rec->u.p;
    const ctr_hardware *h = rec->u.p;
    const ctr_dependency *dep = rec->u.p;
    switch (fid) {
    case F_DEV_ID: str_val(out, d->id); break;
    case F_DEV_MODEL: str_val(out, d->model); break;
    case F_DEV_REVISION: int_val(out, d->revision); break;
    case F_DEV_ADDONS: list_val(out, L_STRS, d->addons, d->n_addons); break;
    case F_DEV_PACKAGES: list_val(out, L_PKGS, d->packages, d->n_packages); break;
    case F_DEV_REGION: str_val(out, d->region); break;
    case F_DEV_TAGS: list_val(out, L_STRS, d->tags, d->n_tags); break;
    case F_REL_PRODUCT: str_val(out, r->product); break;
    case F_REL_VERSION:
        *out = (ctr__val){.tag = V_VER, .text = r->version};
        out->u.v = &vm->in.rel_ver;
        break;
    case F_REL_SECVER: return ctr__u64(vm, r->security_version, "release.security_version", out);
    case F_REL_HARDWARE: list_val(out, L_HW, r->hardware, r->n_hardware); break;
    case F_REL_DEPS: list_val(out, L_DEPS, r->deps, r->n_deps); break;
    case F_REL_REVOKED: bool_val(out, r->revoked); break;
    case F_REL_PUBLISHED_AT: return ctr__u64(vm, r->published_at, "release.published_at", out);
    case F_REL_HEIGHT: return ctr__u64(vm, r->height, "release.height", out);
    case F_REL_OUTCOMES: rec_val(out, R_OUTCOMES, &r->outcomes); break;
    case F_BLK_TIME_MS: return ctr__u64(vm, vm->in.time_ms, "block.time_ms", out);
    case F_BLK_HEIGHT: return ctr__u64(vm, vm->in.height, "block.height", out);
    case F_OUT_SUCCEEDED: return ctr__u64(vm, o->succeeded, "outcomes.succeeded", out);
    case F_OUT_FAILED: return ctr__u64(vm, o->failed, "outcomes.failed", out);
    case F_OUT_ROLLED_BACK: return ctr__u64(vm, o->rolled_back, "outcomes.rolled_back", out);
    case F_PKG_NAME: str_val(out, pk->name); break;
    case F_PKG_VERSION:
        /* Every package record is one of the device's: its parsed version sits at the
         * same index. */
        *out = (ctr__val){.tag = V_VER, .text = pk->version};
        out->u.v = &vm->in.pkg_ver[pk - vm->in.d->packages];
        break;
    case F_PKG_SECVER: return ctr__u64(vm, pk->security_version, "package.security_version", out);
    case F_HW_MODEL: str_val(out, h->model); break;
    case F_HW_REV_MIN: int_val(out, h->rev_min); break;
    case F_HW_REV_MAX: int_val(out, h->rev_max); break;
    case F_HW_ADDONS: list_val(out, L_STRS, h->required_addons, h->n_required_addons); break;
    case F_DEP_PACKAGE: str_val(out, dep->package); break;
    case F_DEP_CONSTRAINT: str_val(out, dep->constraint); break;
    default: return ctr__type_error(vm, "unknown field");
    }
    return 0;
}

/* --- built-ins -------------------------------------------------------------------------- */

#define COST(units)                                                                          \
    do {                                                                                     \
        if (!ctr__charge(vm, (units)))                                                       \
            return CTR_ECOST;                                                                \
    } while (0)

/* A version argument that must not be none. */
static int need_version(ctr__vm *vm, const ctr__val *v, const char *fn)
{
    if (v->tag == V_NONE)
        return ctr__rt_error(vm, "%s() of none (a package that is not installed)", fn);
    return v->tag == V_VER ? 0 : ctr__type_error(vm, fn);
}

static int b_satisfies(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    COST(2);
    if (a[0].tag == V_NONE) { /* nothing installed satisfies any constraint */
        bool_val(out, false);
        return 0;
    }
    if (a[0].tag != V_VER || a[1].tag != V_STR)
        return ctr__type_error(vm, "satisfies");
    int m = ldg_constraint_match(a[1].u.s, a[0].u.v);
    if (m < 0)
        return ctr__rt_error(vm, "\"%s\" is not a version constraint", a[1].u.s);
    bool_val(out, m == 1);
    return 0;
}

/* The default policy's checks: a false leaves its reason in the VM's note. */
static int policy(ctr__vm *vm, bool (*chk)(const ctr__in *, ctr__sb *, uint64_t *), ctr__val *out)
{
    ctr__sb b;
    uint64_t work = 0;
    ctr__sb_init(&b, vm->note, sizeof vm->note);
    bool ok = chk(&vm->in, &b, &work);
    vm->note_set = !ok;
    COST(work);
    bool_val(out, ok);
    return 0;
}

static int b_supports(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    (void)a;
    return policy(vm, ctr__chk_hardware, out);
}

static int b_newer(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    (void)a;
    return policy(vm, ctr__chk_newer, out);
}

static int b_deps_ok(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    (void)a;
    return policy(vm, ctr__chk_deps, out);
}

static int b_defaults(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    char why[CTR_REASON_MAX];
    const char *rule;
    uint64_t work = 0;
    ctr__sb b;
    (void)a;
    ctr__sb_init(&b, why, sizeof why);
    bool ok = ctr__chk_defaults(&vm->in, &rule, &b, &work);
    if (!ok) {
        ctr__sb_init(&b, vm->note, sizeof vm->note);
        ctr__sb_printf(&b, "%s: %s", rule, why);
    }
    vm->note_set = !ok;
    COST(work);
    bool_val(out, ok);
    return 0;
}

static int b_installed(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    uint64_t work = 0;
    if (a[1].tag != V_STR)
        return ctr__type_error(vm, "installed");
    int i = ctr__find_pkg(&vm->in, a[1].u.s, a[1].n, &work);
    COST(work);
    if (i < 0) {
        *out = (ctr__val){.tag = V_NONE};
    } else {
        *out = (ctr__val){.tag = V_VER, .text = vm->in.d->packages[i].version};
        out->u.v = &vm->in.pkg_ver[i];
    }
    return 0;
}

static int b_bucket(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    COST(8); /* one SHA-256 block or two */
    if (a[0].tag != V_STR)
        return ctr__type_error(vm, "bucket");
    int_val(out, ctr_bucket(a[0].u.s, vm->in.r->file_hash, vm->in.r->file_hash_len));
    return 0;
}

static int b_between(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    if (a[0].tag != V_INT || a[1].tag != V_INT || a[2].tag != V_INT)
        return ctr__type_error(vm, "between");
    bool_val(out, a[1].u.i <= a[0].u.i && a[0].u.i < a[2].u.i);
    return 0;
}

static int b_failure_rate(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    const ctr_outcomes *o = &vm->in.r->outcomes;
    unsigned __int128 bad = (unsigned __int128)o->failed + o->rolled_back;
    unsigned __int128 all = bad + o->succeeded;
    (void)a;
    int_val(out, all ? (int64_t)(bad * 1000 / all) : 0);
    return 0;
}

/* Is x in list? Charges one unit per element looked at. */
static int member(ctr__vm *vm, const ctr__val *x, const ctr__val *list, bool *found)
{
    *found = false;
    for (uint32_t i = 0; i < list->n; i++) {
        ctr__val e;
        COST(1);
        ctr__list_at(vm, list, i, &e);
        if (ctr__equal(x, &e)) {
            *found = true;
            break;
        }
    }
    return 0;
}

static int sets(ctr__vm *vm, ctr__val *a, ctr__val *out, bool want_all)
{
    if (a[0].tag != V_LIST || a[1].tag != V_LIST)
        return ctr__type_error(vm, "subset/intersects");
    for (uint32_t i = 0; i < a[0].n; i++) {
        ctr__val e;
        bool found;
        int rc;
        ctr__list_at(vm, &a[0], i, &e);
        if ((rc = member(vm, &e, &a[1], &found)))
            return rc;
        if (found != want_all) { /* subset: a miss decides; intersects: a hit decides */
            bool_val(out, found);
            return 0;
        }
    }
    bool_val(out, want_all);
    return 0;
}

static int b_subset(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return sets(vm, a, out, true);
}

static int b_intersects(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return sets(vm, a, out, false);
}

static int b_len(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    if (a[0].tag != V_LIST && a[0].tag != V_STR)
        return ctr__type_error(vm, "len");
    int_val(out, a[0].n);
    return 0;
}

static int b_starts_with(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    if (a[0].tag != V_STR || a[1].tag != V_STR)
        return ctr__type_error(vm, "starts_with");
    bool_val(out, a[1].n <= a[0].n && !memcmp(a[0].u.s, a[1].u.s, a[1].n));
    return 0;
}

static int part(ctr__vm *vm, ctr__val *a, ctr__val *out, const char *fn, int which)
{
    int rc = need_version(vm, &a[0], fn);
    if (rc)
        return rc;
    const ldg_semver *v = a[0].u.v;
    uint64_t x = which == 0 ? v->major : which == 1 ? v->minor : v->patch;
    char what[32];
    snprintf(what, sizeof what, "%s(%s)", fn, a[0].text ? a[0].text : "");
    return ctr__u64(vm, x, what, out);
}

static int b_major(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return part(vm, a, out, "major", 0);
}

static int b_minor(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return part(vm, a, out, "minor", 1);
}

static int b_patch(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return part(vm, a, out, "patch", 2);
}

static int b_is_prerelease(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    int rc = need_version(vm, &a[0], "is_prerelease");
    if (rc)
        return rc;
    bool_val(out, a[0].u.v->pre[0] != '\0');
    return 0;
}

static int scale(ctr__vm *vm, ctr__val *a, ctr__val *out, int64_t unit, const char *fn)
{
    int64_t r;
    if (a[0].tag != V_INT)
        return ctr__type_error(vm, fn);
    if (__builtin_mul_overflow(a[0].u.i, unit, &r))
        return ctr__rt_error(vm, "integer overflow in %s(%" PRId64 ")", fn, a[0].u.i);
    int_val(out, r);
    return 0;
}

static int b_days(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return scale(vm, a, out, 86400000, "days");
}

static int b_hours(ctr__vm *vm, ctr__val *a, ctr__val *out)
{
    return scale(vm, a, out, 3600000, "hours");
}

/* Order: the compile-time ones first (B_VERSION, B_DATE). */
const ctr__builtin ctr__builtins[] = {
    {"version", 1, {A_LIT_STR}, T_VER, NULL, false},
    {"date", 1, {A_LIT_STR}, T_INT, NULL, false},
    {"satisfies", 2, {A_VER, A_STR}, T_BOOL, b_satisfies, false},
    {"supports", 2, {A_RELEASE, A_DEVICE}, T_BOOL, b_supports, true},
    {"newer", 2, {A_RELEASE, A_DEVICE}, T_BOOL, b_newer, true},
    {"deps_ok", 2, {A_RELEASE, A_DEVICE}, T_BOOL, b_deps_ok, true},
    {"defaults", 0, {0}, T_BOOL, b_defaults, true},
    {"installed", 2, {A_DEVICE, A_STR}, T_VER, b_installed, false},
    {"bucket", 2, {A_STR, A_RELEASE}, T_INT, b_bucket, false},
    {"between", 3, {A_INT, A_INT, A_INT}, T_BOOL, b_between, false},
    {"failure_rate", 1, {A_RELEASE}, T_INT, b_failure_rate, false},
    {"subset", 2, {A_LIST, A_LIST}, T_BOOL, b_subset, false},
    {"intersects", 2, {A_LIST, A_LIST}, T_BOOL, b_intersects, false},
    {"len", 1, {A_LIST_OR_STR}, T_INT, b_len, false},
    {"starts_with", 2, {A_STR, A_STR}, T_BOOL, b_starts_with, false},
    {"major", 1, {A_VER}, T_INT, b_major, false},
    {"minor", 1, {A_VER}, T_INT, b_minor, false},
    {"patch", 1, {A_VER}, T_INT, b_patch, false},
    {"is_prerelease", 1, {A_VER}, T_BOOL, b_is_prerelease, false},
    {"days", 1, {A_INT}, T_INT, b_days, false},
    {"hours", 1, {A_INT}, T_INT, b_hours, false},
};
const size_t ctr__n_builtins = sizeof ctr__builtins / sizeof *ctr__builtins;

/* --- date("...") ------------------------------------------------------------------------ */

static bool digits(const char *s, size_t n, int *out)
{
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *out = *out * 10 + (s[i] - '0');
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool ctr__parse_date(const char *s, size_t n, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n != 10 && n != 20)
        return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (n == 20 && (s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
                    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se) ||
                    s[19] != 'Z'))
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) ||
        h > 23 || mi > 59 || se > 59)
        return false;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)se * 1000;
    return true;
}
