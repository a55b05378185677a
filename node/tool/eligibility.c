/*
 * What a status tracker runs: `eligible` (ask the node, per device, what it may install)
 * and `report` (signed outcome reports for releases). Also the strict readers of the JSON
 * files these commands and `contract check` take: device descriptions and report batches
 * (tool.h, "Strict JSON input files").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "contracts/contracts.h"
#include "node/files/files.h"
#include "node/tool/tool.h"

/* --- Strict JSON input files -------------------------------------------------------------- */

/* "prefix.name", "name" or "prefix" alone: how a message names a field. */
static const char *field_name(const char *prefix, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", prefix, *prefix && *name ? "." : "", name);
    return buf;
}

json_t *tool_json_load(const char *path, size_t max)
{
    uint8_t *buf;
    size_t len;
    json_error_t je;
    int rc = node_read_file(path, max, &buf, &len);
    if (rc == LDG_ETOOBIG)
        tool_die("%s: larger than %zu bytes", path, max);
    if (rc)
        tool_die("%s: %s", path, rc == LDG_EIO ? strerror(errno) : node_strerror(rc));
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!j)
        tool_die("%s: invalid JSON at line %d, column %d: %s", path, je.line, je.column, je.text);
    return j;
}

void tool_json_keys(const char *path, const json_t *obj, const char *prefix,
                    const char *const *allowed)
{
    char msg[700];
    node_json_err e;
    node_json_err_init(&e, msg, sizeof msg);
    if (node_json_check_keys(obj, allowed, prefix, &e))
        tool_die("%s: %s", path, msg);
}

bool tool_json_get_str(const char *path, const json_t *obj, const char *prefix,
                       const char *name, bool required, char *dst, size_t cap)
{
    char msg[300], f[200];
    const char *s;
    node_json_err e;
    node_json_err_init(&e, msg, sizeof msg);
    if (node_json_get_string(obj, prefix, name, required, &s, &e))
        tool_die("%s: %s", path, msg);
    dst[0] = '\0';
    if (!s)
        return false;
    if (json_string_length(json_object_get(obj, name)) != strlen(s))
        tool_die("%s: %s: contains a NUL character", path, field_name(prefix, name, f, sizeof f));
    if (strlen(s) >= cap)
        tool_die("%s: %s: longer than %zu bytes", path, field_name(prefix, name, f, sizeof f),
                 cap - 1);
    if (required && !*s)
        tool_die("%s: %s: must not be empty", path, field_name(prefix, name, f, sizeof f));
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

uint64_t tool_json_get_uint(const char *path, const json_t *obj, const char *prefix,
                            const char *name, bool required, uint64_t max)
{
    char msg[300];
    uint64_t v = 0;
    node_json_err e;
    node_json_err_init(&e, msg, sizeof msg);
    if (node_json_get_uint(obj, prefix, name, required, 0, max, &v, &e))
        tool_die("%s: %s", path, msg);
    return v;
}

bool tool_json_get_bool(const char *path, const json_t *obj, const char *prefix,
                        const char *name)
{
    char f[200];
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return false;
    if (!json_is_boolean(v))
        tool_die("%s: %s: must be true or false", path, field_name(prefix, name, f, sizeof f));
    return json_is_true(v);
}

const json_t *tool_json_get_array(const char *path, const json_t *obj, const char *prefix,
                                  const char *name, size_t max)
{
    char f[200];
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return NULL;
    if (!json_is_array(v))
        tool_die("%s: %s: must be an array", path, field_name(prefix, name, f, sizeof f));
    if (json_array_size(v) > max)
        tool_die("%s: %s: at most %zu entries, got %zu", path,
                 field_name(prefix, name, f, sizeof f), max, json_array_size(v));
    return v;
}

pb_size_t tool_json_get_strs(const char *path, const json_t *obj, const char *prefix,
                             const char *name, char *out, size_t max, size_t elem_size)
{
    char f[200];
    const json_t *arr = tool_json_get_array(path, obj, prefix, name, max);
    size_t n = arr ? json_array_size(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        char *dst = out + i * elem_size;
        field_name(prefix, name, f, sizeof f);
        if (!json_is_string(v))
            tool_die("%s: %s[%zu]: must be a string", path, f, i);
        size_t len = json_string_length(v);
        if (len == 0 || len >= elem_size || strlen(json_string_value(v)) != len)
            tool_die("%s: %s[%zu]: must be 1 to %zu bytes without NUL", path, f, i,
                     elem_size - 1);
        memcpy(dst, json_string_value(v), len + 1);
    }
    return (pb_size_t)n;
}

/* --- Device descriptions ------------------------------------------------------------------ */

#define COUNT(a) (sizeof(a) / sizeof *(a))

static void device_packages(const char *path, const json_t *root, fwl_Device *d)
{
    static const char *const keys[] = {"name", "version", NULL};
    const json_t *arr = tool_json_get_array(path, root, "", "packages", COUNT(d->packages));
    char prefix[32];
    ldg_semver sv;
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *p = json_array_get(arr, i);
        fwl_InstalledPackage *pk = &d->packages[i];
        snprintf(prefix, sizeof prefix, "packages[%zu]", i);
        if (!json_is_object(p))
            tool_die("%s: %s: must be an object {\"name\", \"version\"}", path, prefix);
        tool_json_keys(path, p, prefix, keys);
        tool_json_get_str(path, p, prefix, "name", true, pk->name, sizeof pk->name);
        tool_json_get_str(path, p, prefix, "version", true, pk->version, sizeof pk->version);
        if (ldg_semver_parse(pk->version, &sv))
            tool_die("%s: %s.version: '%s' is not a Semantic Versioning 2.0 version", path,
                     prefix, pk->version);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->packages[j].name, pk->name))
                tool_die("%s: %s.name: '%s' is listed twice", path, prefix, pk->name);
        d->packages_count = (pb_size_t)(i + 1);
    }
}

void tool_device_load(const char *path, fwl_Device *d)
{
    static const char *const keys[] = {"id",       "hardware_model", "hardware_rev", "addons",
                                       "packages", "region",         "tags",         NULL};
    json_t *root = tool_json_load(path, TOOL_JSON_FILE_MAX);
    memset(d, 0, sizeof *d);
    if (!json_is_object(root))
        tool_die("%s: must hold a JSON object (a device description)", path);
    tool_json_keys(path, root, "", keys);
    tool_json_get_str(path, root, "", "id", true, d->id, sizeof d->id);
    tool_json_get_str(path, root, "", "hardware_model", true, d->hardware_model,
                      sizeof d->hardware_model);
    d->hardware_rev = (uint32_t)tool_json_get_uint(path, root, "", "hardware_rev", false,
                                                   UINT32_MAX);
    d->addons_count = tool_json_get_strs(path, root, "", "addons", d->addons[0],
                                         COUNT(d->addons), sizeof d->addons[0]);
    device_packages(path, root, d);
    tool_json_get_str(path, root, "", "region", false, d->region, sizeof d->region);
    d->tags_count = tool_json_get_strs(path, root, "", "tags", d->tags[0], COUNT(d->tags),
                                       sizeof d->tags[0]);
    json_decref(root);
}

/* --- eligible ------------------------------------------------------------------------------ */

static const char eligible_usage[] =
    "usage: fwledger eligible --device FILE [--device FILE...] [options]\n"
    "\n"
    "Ask the node what each device may install: per product the device's status (up to\n"
    "date, update available, urgent: it runs a revoked release), the best eligible release,\n"
    "the ordered update plan when it needs other packages first (or why it cannot be\n"
    "satisfied), the policy that decided (the default or a bound contract) and each\n"
    "rejected candidate with the rule that rejected it. All devices are answered from one\n"
    "snapshot of the chain, named by its height and block hash.\n"
    "\n"
    "  --device FILE     a device description, repeatable (at most 16 in one request):\n"
    "                    {\"id\": \"dev-1\", \"hardware_model\": \"cam-v2\", \"hardware_rev\": 3,\n"
    "                     \"addons\": [\"lora\"], \"packages\": [{\"name\": \"cam-fw\",\n"
    "                     \"version\": \"1.0.0\"}], \"region\": \"eu\", \"tags\": [\"canary\"]}\n"
    TOOL_USAGE_NODE
    "  --json            print {\"at_height\", \"block_hash\", \"answers\": [{\"device_id\",\n"
    "                    \"products\": [{\"product\", \"status\", \"installed\", \"best\",\n"
    "                    \"plan\", \"unsatisfiable\", \"policy\", \"rejected\", ...}]}]} (with\n"
    "                    --verify also \"verified\": true)\n"
    TOOL_USAGE_VERIFY;
_Static_assert(FWL_TRACKER_DEVICES_MAX == 16, "the usage says at most 16 devices");

enum {
    OPT_DEVICE = TOOL_OPT_LOCAL,
    OPT_FILE_HASH,
    OPT_HASH_ALG,
    OPT_SUCCEEDED,
    OPT_FAILED,
    OPT_ROLLED_BACK,
    OPT_BATCH,
    OPT_VERIFY,
    OPT_MAX_AGE,
};


static json_t *ref_json(const fwl_ReleaseRef *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "product", tool_json_str(r->product));
    json_object_set_new(o, "version", tool_json_str(r->version));
    json_object_set_new(o, "file_hash", r->has_file_hash ? tool_json_hash(&r->file_hash) : json_null());
    return o;
}

static const char *status_name(fwl_DeviceStatus st)
{
    switch (st) {
    case fwl_DeviceStatus_UP_TO_DATE: return "up_to_date";
    case fwl_DeviceStatus_UPDATE_AVAILABLE: return "update_available";
    case fwl_DeviceStatus_URGENT: return "urgent";
    default: return "unknown";
    }
}

static json_t *product_json(const fwl_ProductAnswer *p)
{
    json_t *o = json_object(), *plan = json_array(), *rej = json_array();
    json_object_set_new(o, "product", tool_json_str(p->product));
    json_object_set_new(o, "status", json_string(status_name(p->status)));
    json_object_set_new(o, "installed", tool_json_str(p->installed));
    json_object_set_new(o, "best", p->has_best ? ref_json(&p->best) : json_null());
    for (pb_size_t i = 0; i < p->plan_count; i++)
        json_array_append_new(plan, ref_json(&p->plan[i]));
    json_object_set_new(o, "plan", plan);
    json_object_set_new(o, "unsatisfiable", json_boolean(p->unsatisfiable));
    json_object_set_new(o, "unsatisfiable_reason", tool_json_str(p->unsatisfiable_reason));
    json_object_set_new(o, "policy", tool_json_str(p->policy));
    for (pb_size_t i = 0; i < p->rejected_count; i++) {
        const fwl_Rejection *r = &p->rejected[i];
        json_t *e = r->has_release ? ref_json(&r->release) : json_object();
        json_object_set_new(e, "rule", tool_json_str(r->rule));
        json_object_set_new(e, "reason", tool_json_str(r->reason));
        json_array_append_new(rej, e);
    }
    json_object_set_new(o, "rejected", rej);
    json_object_set_new(o, "rejected_total", json_integer(p->rejected_total));
    json_object_set_new(o, "superseded", json_integer(p->superseded));
    return o;
}

static json_t *answer_json(const fwl_DeviceAnswer *a)
{
    json_t *o = json_object(), *products = json_array();
    json_object_set_new(o, "device_id", tool_json_str(a->device_id));
    if (a->has_error) {
        json_t *e = json_object();
        json_object_set_new(e, "code", json_integer(a->error.code));
        json_object_set_new(e, "message", tool_json_str(a->error.message));
        json_object_set_new(o, "error", e);
    }
    for (pb_size_t i = 0; i < a->products_count; i++)
        json_array_append_new(products, product_json(&a->products[i]));
    json_object_set_new(o, "products", products);
    return o;
}

/* EligibleResp.answers, one DeviceAnswer at a time, straight into JSON. */
typedef struct {
    json_t *answers;
    size_t max;                /* as many as devices were asked about */
    fwl_DeviceAnswer ans;      /* scratch (large) */
} answers_ctx;

static bool decode_answer(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)field;
    answers_ctx *ctx = *arg;
    if (json_array_size(ctx->answers) >= ctx->max)
        return false; /* more answers than devices: a broken node */
    memset(&ctx->ans, 0, sizeof ctx->ans);
    if (!pb_decode(st, fwl_DeviceAnswer_fields, &ctx->ans))
        return false;
    json_array_append_new(ctx->answers, answer_json(&ctx->ans));
    return true;
}

/* Called by nanopb before it decodes the Response's oneof member (see session.c). */
static bool on_eligible(pb_istream_t *st, const pb_field_t *field, void **arg)
{
    (void)st;
    if (field->tag == fwl_Response_eligible_tag) {
        fwl_EligibleResp *r = field->pData;
        r->answers.funcs.decode = decode_answer;
        r->answers.arg = *arg;
    }
    return true;
}

/* --- Human output, rendered from the JSON answer (one source for both forms) --------------- */

static void line(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("  %-11s %s\n", key, tool_clean(buf));
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "product version alg:digest"; short: the digest's first 16 digits (a rejected candidate
 * is named, not fetched). */
static const char *ref_text(const json_t *r, bool short_hash, char *buf, size_t cap)
{
    const json_t *h = json_object_get(r, "file_hash");
    int n = snprintf(buf, cap, "%s %s", jstr(r, "product"), jstr(r, "version"));
    if (json_is_object(h) && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " %s:%.*s%s", jstr(h, "alg"), short_hash ? 16 : 200,
                 jstr(h, "digest"), short_hash ? "..." : "");
    return buf;
}

static void product_print(const json_t *p)
{
    static const struct {
        const char *key, *text;
    } st[] = {{"up_to_date", "up to date"},
              {"update_available", "update available"},
              {"urgent", "urgent (runs a revoked release)"}};
    const char *status = jstr(p, "status");
    char ref[400];
    size_t i, n;
    const json_t *v;

    for (i = 0; i < COUNT(st) && strcmp(status, st[i].key); i++)
        ;
    line("product", "%s", jstr(p, "product"));
    line("status", "%s", i < COUNT(st) ? st[i].text : status);
    line("installed", "%s", *jstr(p, "installed") ? jstr(p, "installed") : "none");
    v = json_object_get(p, "best");
    line("best", "%s", json_is_object(v) ? ref_text(v, false, ref, sizeof ref) : "none");
    if (json_is_true(json_object_get(p, "unsatisfiable")))
        line("plan", "unsatisfiable: %s", jstr(p, "unsatisfiable_reason"));
    json_array_foreach(json_object_get(p, "plan"), i, v)
        line(i ? "" : "plan", "%zu. %s", i + 1, ref_text(v, false, ref, sizeof ref));
    line("policy", "%s", jstr(p, "policy"));
    json_array_foreach(json_object_get(p, "rejected"), i, v)
        line("rejected", "%s: %s: %s", ref_text(v, true, ref, sizeof ref), jstr(v, "rule"),
             jstr(v, "reason"));
    n = (size_t)json_integer_value(json_object_get(p, "rejected_total"));
    if (n > json_array_size(json_object_get(p, "rejected")))
        line("rejected", "... %zu in all", n);
    n = (size_t)json_integer_value(json_object_get(p, "superseded"));
    if (n)
        line("older", "%zu release%s below best, not evaluated", n, n == 1 ? "" : "s");
}

static void answers_print(const json_t *res)
{
    size_t i, j;
    const json_t *a, *p;
    json_array_foreach(json_object_get(res, "answers"), i, a) {
        char id[100];
        snprintf(id, sizeof id, "%s", jstr(a, "device_id"));
        printf("device %s\n", tool_clean(id));
        const json_t *e = json_object_get(a, "error");
        if (e)
            line("error", "error %" JSON_INTEGER_FORMAT " (%s): %s",
                 json_integer_value(json_object_get(e, "code")),
                 node_strerror((int)json_integer_value(json_object_get(e, "code"))),
                 jstr(e, "message"));
        if (!e && json_array_size(json_object_get(a, "products")) == 0)
            line("products", "none for this hardware model");
        json_array_foreach(json_object_get(a, "products"), j, p) {
            if (j)
                printf("\n");
            product_print(p);
        }
        printf("\n");
    }
    printf("at height %" JSON_INTEGER_FORMAT ", block %s\n",
           json_integer_value(json_object_get(res, "at_height")), jstr(res, "block_hash"));
    if (json_is_true(json_object_get(res, "verified")))
        printf("verified: certified by the validators; every answer re-decided from the "
               "proven records\n");
}

/* Eligible with a proof, checked (client.h, fwl_verify_eligible), then decoded as usual (the
 * answers go to the callbacks set on s->resp): exits 1 when it does not verify. */
static const fwl_EligibleResp *eligible_verified(tool_session *s, const tool_opts *o,
                                                 const fwl_EligibleReq *q, uint64_t max_age)
{
    ldg_genesis *g = tool_trusted_genesis(o);
    fwl_trust tr = {g, 0, max_age, TOOL_VERIFY_DRIFT_MS};
    const uint8_t *buf;
    size_t len;
    char why[300] = "";
    uint64_t height;
    tool_call_raw(s, "Eligible", &buf, &len);
    int rc = fwl_verify_eligible(&tr, q->devices, q->devices_count, buf, len, &height, why,
                                 sizeof why);
    free(g);
    if (rc)
        tool_die_rc(rc, "Eligible answer does not verify", why);
    return &tool_decode_raw(s, buf, len, fwl_Response_eligible_tag, "Eligible")->resp.eligible;
}

int eligible_main(int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, NULL, OPT_DEVICE},
                                         {"verify", no_argument, NULL, OPT_VERIFY},
                                         {"max-age", required_argument, NULL, OPT_MAX_AGE},
                                         TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    const char *files[FWL_TRACKER_DEVICES_MAX];
    size_t n = 0;
    tool_opts o;
    bool verify = false;
    uint64_t max_age = tool_parse_duration_ms("--max-age", TOOL_VERIFY_MAX_AGE_DEFAULT);
    int c;

    tool_opts_init(&o, eligible_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c == OPT_VERIFY) {
            verify = true;
            continue;
        }
        if (c == OPT_MAX_AGE) {
            max_age = tool_parse_duration_ms("--max-age", optarg);
            continue;
        }
        if (c != OPT_DEVICE) {
            tool_common_opt(&o, NULL, c, argv);
            continue;
        }
        if (n == COUNT(files))
            tool_usage_error("at most %zu --device options", COUNT(files));
        files[n++] = optarg;
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (n == 0)
        tool_usage_error("--device is required");

    /* Every file is read before the node is asked: a bad file costs no round trip. */
    fwl_EligibleReq *q = tool_xcalloc(1, sizeof *q);
    for (size_t i = 0; i < n; i++)
        tool_device_load(files[i], &q->devices[i]);
    q->devices_count = (pb_size_t)n;

    answers_ctx *ctx = tool_xcalloc(1, sizeof *ctx);
    ctx->answers = json_array();
    ctx->max = n;
    tool_session *s = tool_open(&o, 0);
    tool_req(s, fwl_Request_eligible_tag)->req.eligible = *q;
    s->resp.cb_resp.funcs.decode = on_eligible;
    s->resp.cb_resp.arg = ctx;
    const fwl_EligibleResp *r;
    if (verify) {
        s->req.req.eligible.prove = true;
        r = eligible_verified(s, &o, q, max_age);
    } else {
        r = &tool_call(s, fwl_Response_eligible_tag, "Eligible")->resp.eligible;
    }
    if (json_array_size(ctx->answers) != n)
        tool_die_rc(NODE_EPROTO, "Eligible", "not one answer per device");

    json_t *res = json_object();
    json_object_set_new(res, "at_height", json_integer((json_int_t)r->at_height));
    json_object_set_new(res, "block_hash", tool_json_hex(r->block_hash.bytes, r->block_hash.size));
    json_object_set_new(res, "answers", ctx->answers);
    if (verify)
        json_object_set_new(res, "verified", json_true());
    tool_close(s);
    free(ctx);
    free(q);
    if (o.json) {
        tool_json_print(res);
        return TOOL_EXIT_OK;
    }
    answers_print(res);
    json_decref(res);
    return TOOL_EXIT_OK;
}

/* --- report -------------------------------------------------------------------------------- */

static const char report_usage[] =
    "usage: fwledger report --key TRACKERKEY --file-hash HEX [--hash-alg ALG]\n"
    "                       [--succeeded N] [--failed N] [--rolled-back N] [options]\n"
    "       fwledger report --key TRACKERKEY --batch FILE [options]\n"
    "\n"
    "Report what devices did with a release since the last report: how many installed it,\n"
    "failed to install it, or went back to an earlier release. The key must be a registered\n"
    "tracker (fwledger tracker add). The chain keeps per-release totals, which contracts\n"
    "read (failure_rate(release)) to halt a rollout.\n"
    "\n"
    "  --file-hash HEX   the release's file hash\n"
    "  --hash-alg ALG    its algorithm: sha256 (default) or sha3-256\n"
    "  --succeeded N     devices that installed it\n"
    "  --failed N        devices that failed to install it\n"
    "  --rolled-back N   devices that went back to an earlier release\n"
    "  --batch FILE      up to 32 reports in one transaction, a JSON array of\n"
    "                    {\"file_hash\": HEX, \"hash_alg\": \"sha256\", \"succeeded\": N,\n"
    "                     \"failed\": N, \"rolled_back\": N} (hash_alg and counts optional)\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", \"reports\", ...}\n";
_Static_assert(COUNT(((fwl_ReportTx *)0)->reports) == 32, "the usage says up to 32 reports");

/* A batch entry's hash: hex of a whole digest of h. */
static bool report_hash(const char *hex, const ldg_hash_impl *h, fwl_Hash *out)
{
    size_t len;
    out->alg = h->id;
    out->digest.size = (pb_size_t)h->digest_len;
    return node_unhex(hex, out->digest.bytes, sizeof out->digest.bytes, &len) == 0 &&
           len == h->digest_len;
}

static void batch_entry(const char *path, const json_t *e, size_t i, fwl_OutcomeReport *r)
{
    static const char *const keys[] = {"file_hash", "hash_alg",    "succeeded",
                                       "failed",    "rolled_back", NULL};
    char prefix[16], hex[2 * LDG_HASH_MAX + 1], alg[32];
    snprintf(prefix, sizeof prefix, "[%zu]", i);
    if (!json_is_object(e))
        tool_die("%s: %s: must be an object", path, prefix);
    tool_json_keys(path, e, prefix, keys);
    tool_json_get_str(path, e, prefix, "file_hash", true, hex, sizeof hex);
    if (!tool_json_get_str(path, e, prefix, "hash_alg", false, alg, sizeof alg))
        strcpy(alg, "sha256");
    const ldg_hash_impl *h = ldg_hash_by_name(alg);
    if (!h)
        tool_die("%s: %s.hash_alg: unknown hash algorithm '%s'", path, prefix, alg);
    if (!report_hash(hex, h, &r->file_hash))
        tool_die("%s: %s.file_hash: expected %zu bytes of hex (%s)", path, prefix, h->digest_len,
                 h->name);
    r->has_file_hash = true;
    r->succeeded = (uint32_t)tool_json_get_uint(path, e, prefix, "succeeded", false, UINT32_MAX);
    r->failed = (uint32_t)tool_json_get_uint(path, e, prefix, "failed", false, UINT32_MAX);
    r->rolled_back = (uint32_t)tool_json_get_uint(path, e, prefix, "rolled_back", false,
                                                  UINT32_MAX);
    if (!r->succeeded && !r->failed && !r->rolled_back)
        tool_die("%s: %s: counts no device", path, prefix);
}

static bool same_hash(const fwl_Hash *a, const fwl_Hash *b)
{
    return a->alg == b->alg && a->digest.size == b->digest.size &&
           !memcmp(a->digest.bytes, b->digest.bytes, a->digest.size);
}

static void batch_load(const char *path, fwl_ReportTx *rep)
{
    json_t *root = tool_json_load(path, TOOL_JSON_FILE_MAX);
    if (!json_is_array(root))
        tool_die("%s: must hold a JSON array of reports", path);
    size_t n = json_array_size(root);
    if (n == 0 || n > COUNT(rep->reports))
        tool_die("%s: 1 to %zu reports, got %zu", path, COUNT(rep->reports), n);
    for (size_t i = 0; i < n; i++) {
        fwl_OutcomeReport *r = &rep->reports[i];
        batch_entry(path, json_array_get(root, i), i, r);
        for (size_t j = 0; j < i; j++)
            if (same_hash(&rep->reports[j].file_hash, &r->file_hash))
                tool_die("%s: [%zu] and [%zu] report the same release", path, j, i);
    }
    rep->reports_count = (pb_size_t)n;
    json_decref(root);
}

typedef struct {
    const char *hex, *alg, *batch;
    fwl_OutcomeReport one;
    bool counted;
} report_args;

static void report_opt(report_args *a, int opt, const char *v)
{
    switch (opt) {
    case OPT_FILE_HASH: a->hex = v; break;
    case OPT_HASH_ALG: a->alg = v; break;
    case OPT_SUCCEEDED: a->one.succeeded = tool_parse_u32("--succeeded", v); break;
    case OPT_FAILED: a->one.failed = tool_parse_u32("--failed", v); break;
    case OPT_ROLLED_BACK: a->one.rolled_back = tool_parse_u32("--rolled-back", v); break;
    case OPT_BATCH: a->batch = v; break;
    }
    if (opt == OPT_SUCCEEDED || opt == OPT_FAILED || opt == OPT_ROLLED_BACK)
        a->counted = true;
}

int report_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file-hash", required_argument, NULL, OPT_FILE_HASH},
        {"hash-alg", required_argument, NULL, OPT_HASH_ALG},
        {"succeeded", required_argument, NULL, OPT_SUCCEEDED},
        {"failed", required_argument, NULL, OPT_FAILED},
        {"rolled-back", required_argument, NULL, OPT_ROLLED_BACK},
        {"batch", required_argument, NULL, OPT_BATCH},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    report_args a = {0};
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_ReportTx *rep = &body->payload.report;
    int c;

    body->which_payload = fwl_TxBody_report_tag;
    tool_opts_init(&o, report_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c >= TOOL_OPT_LOCAL)
            report_opt(&a, c, optarg);
        else
            tool_common_opt(&o, &t, c, argv);
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (t.n_keys == 0)
        tool_usage_error("--key is required");
    if (a.batch) {
        if (a.hex || a.alg || a.counted)
            tool_usage_error("--batch replaces --file-hash, --hash-alg and the counts");
        batch_load(a.batch, rep);
    } else {
        if (!a.hex)
            tool_usage_error("--file-hash or --batch is required");
        if (!a.one.succeeded && !a.one.failed && !a.one.rolled_back)
            tool_usage_error("a report counts at least one device (--succeeded, --failed, "
                             "--rolled-back)");
        tool_file_hash_arg(a.hex, NULL, a.alg, &a.one.file_hash);
        a.one.has_file_hash = true;
        rep->reports[0] = a.one;
        rep->reports_count = 1;
    }
    json_t *extra = json_object();
    json_object_set_new(extra, "reports", json_integer(rep->reports_count));
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}
