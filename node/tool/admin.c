/*
 * What administrators run: eligibility policy on the chain (`contract deploy | bind |
 * unbind | show | check`) and who may act (`author add | remove`, `tracker add | remove`). The transactions go through
 * tool_tx_run like publish's. `contract check` needs no chain: it compiles a contract with
 * the same compiler the nodes use (contracts/) and evaluates it on a device and a release
 * given as JSON files. Also two argument helpers the transaction subcommands share
 * (tool_set_str, tool_pubkey_arg).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "contracts/contracts.h"
#include "node/tool/tool.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

_Static_assert(sizeof(((fwl_ContractTx *)0)->source) == LDG_CONTRACT_SOURCE_MAX + 1,
               "ContractTx.source holds the ledger's largest contract");

/* --- Contract source ----------------------------------------------------------------------- */

/* The source as the ledger takes it: text of at most LDG_CONTRACT_SOURCE_MAX bytes, read
 * into dst (LDG_CONTRACT_SOURCE_MAX + 1 bytes). Returns its length. */
static size_t source_load(const char *path, char *dst)
{
    uint8_t *buf;
    size_t n;
    int rc = node_read_file(path, LDG_CONTRACT_SOURCE_MAX, &buf, &n);
    if (rc == LDG_ETOOBIG)
        tool_die("%s: larger than %d bytes, the ledger's limit for a contract", path,
                 LDG_CONTRACT_SOURCE_MAX);
    if (rc)
        tool_die("%s: %s", path, rc == LDG_EIO ? strerror(errno) : node_strerror(rc));
    if (n == 0 || memchr(buf, 0, n)) {
        free(buf);
        tool_die("%s: %s", path, n ? "contains a NUL byte" : "empty");
    }
    memcpy(dst, buf, n);
    dst[n] = '\0';
    free(buf);
    return n;
}

/* Compile as every node will; an error exits 1 as "PATH:LINE:COL: what", the form editors
 * jump to. */
static ctr_program *compile_or_die(const char *path, const char *src, size_t len)
{
    char err[256] = "";
    ctr_program *p = NULL;
    int rc = ctr_compile(src, len, &p, err, sizeof err);
    if (rc && *err)
        tool_die("%s:%s", path, tool_clean(err));
    if (rc)
        tool_die("%s: error %d (%s)", path, rc, node_strerror(rc));
    return p;
}

/* --- contract deploy ----------------------------------------------------------------------- */

static const char deploy_usage[] =
    "usage: fwledger contract deploy --key ADMINKEY [--key ADMINKEY...] --name NAME\n"
    "                                --file SRC [options]\n"
    "\n"
    "Deploy a new version of the named contract, an eligibility policy (docs/contracts.md);\n"
    "products bound to the name use the new version at once. The source is compiled here\n"
    "first and a compile error is printed as SRC:LINE:COL: message without a round trip;\n"
    "every node compiles it again and refuses what does not compile, with the compiler's\n"
    "message. Needs signatures of admin_threshold chain admins: one --key each (the first\n"
    "is the sender).\n"
    "\n"
    "  --name NAME       the contract's name (letters, digits and . _ - + /; 64 at most)\n"
    "  --file SRC        the source, at most 8192 bytes\n"
    "  --no-compile      leave the compiling to the node\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", \"name\", ...}\n";
_Static_assert(sizeof ((fwl_ContractTx *)0)->name - 1 == 64 && LDG_CONTRACT_SOURCE_MAX == 8192,
               "the usage says a name of 64 bytes at most, a source of 8192");

enum {
    OPT_NAME = TOOL_OPT_LOCAL,
    OPT_FILE,
    OPT_NO_COMPILE,
    OPT_PRODUCT,
    OPT_HARDWARE,
    OPT_VERSION,
    OPT_DEVICE,
    OPT_RELEASE,
    OPT_BLOCK_TIME,
    OPT_HEIGHT,
    OPT_TRACKER_KEY,
    OPT_TRACKER_ALG,
    OPT_AUTHOR_KEY,
    OPT_AUTHOR_ALG,
};

static void no_args(int argc, char **argv)
{
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
}

static int deploy_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"file", required_argument, NULL, OPT_FILE},
        {"no-compile", no_argument, NULL, OPT_NO_COMPILE},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    const char *file = NULL;
    bool compile = true;
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_ContractTx *ct = &body->payload.contract;
    int c;

    body->which_payload = fwl_TxBody_contract_tag;
    tool_opts_init(&o, deploy_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_NAME: tool_set_str(ct->name, sizeof ct->name, "--name", optarg); break;
        case OPT_FILE: file = optarg; break;
        case OPT_NO_COMPILE: compile = false; break;
        default: tool_common_opt(&o, &t, c, argv);
        }
    }
    no_args(argc, argv);
    if (!*ct->name || !file || t.n_keys == 0)
        tool_usage_error("--key, --name and --file are required");
    size_t len = source_load(file, ct->source);
    json_t *extra = json_object();
    if (compile) {
        ctr_program *p = compile_or_die(file, ct->source, len);
        json_object_set_new(extra, "rules", json_integer((json_int_t)ctr_rule_count(p)));
        ctr_free(p);
    }
    json_object_set_new(extra, "name", tool_json_str(ct->name));
    json_object_set_new(extra, "source_bytes", json_integer((json_int_t)len));
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}

/* --- contract bind / unbind ---------------------------------------------------------------- */

static const char bind_usage[] =
    "usage: fwledger contract bind --key ADMINKEY [--key ADMINKEY...] --product P\n"
    "                              [--hardware MODEL] --name NAME [options]\n"
    "\n"
    "Bind a product, or one hardware model of it, to a contract: eligibility for its\n"
    "releases is then decided by the contract's latest version instead of the built-in\n"
    "default (a binding for the model wins over one for the whole product). Binding again\n"
    "replaces the binding. Needs signatures of admin_threshold chain admins.\n"
    "\n"
    "  --product P       the product\n"
    "  --hardware MODEL  only devices of this hardware model\n"
    "  --name NAME       the contract (deployed already)\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", ...}\n";

static const char unbind_usage[] =
    "usage: fwledger contract unbind --key ADMINKEY [--key ADMINKEY...] --product P\n"
    "                                [--hardware MODEL] [options]\n"
    "\n"
    "Remove the binding of a product (or of one hardware model of it): the built-in default\n"
    "policy, or the whole product's binding, applies again. Needs signatures of\n"
    "admin_threshold chain admins.\n"
    "\n"
    "  --product P       the product\n"
    "  --hardware MODEL  the hardware model the binding names\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", ...}\n";

static int bind_run(int argc, char **argv, bool unbind)
{
    static const struct option opts[] = {
        {"product", required_argument, NULL, OPT_PRODUCT},
        {"hardware", required_argument, NULL, OPT_HARDWARE},
        {"name", required_argument, NULL, OPT_NAME},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    /* unbind takes no --name: the same table without it */
    static const struct option unbind_opts[] = {
        {"product", required_argument, NULL, OPT_PRODUCT},
        {"hardware", required_argument, NULL, OPT_HARDWARE},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_BindTx *b = &body->payload.bind;
    int c;

    body->which_payload = fwl_TxBody_bind_tag;
    b->unbind = unbind;
    tool_opts_init(&o, unbind ? unbind_usage : bind_usage);
    while ((c = tool_getopt(argc, argv, unbind ? unbind_opts : opts)) != -1) {
        switch (c) {
        case OPT_PRODUCT: tool_set_str(b->product, sizeof b->product, "--product", optarg); break;
        case OPT_HARDWARE:
            tool_set_str(b->hardware_model, sizeof b->hardware_model, "--hardware", optarg);
            break;
        case OPT_NAME: tool_set_str(b->contract, sizeof b->contract, "--name", optarg); break;
        default: tool_common_opt(&o, &t, c, argv);
        }
    }
    no_args(argc, argv);
    if (!*b->product || t.n_keys == 0 || (!unbind && !*b->contract))
        tool_usage_error(unbind ? "--key and --product are required"
                                : "--key, --product and --name are required");
    json_t *extra = json_object();
    json_object_set_new(extra, "product", tool_json_str(b->product));
    if (*b->hardware_model)
        json_object_set_new(extra, "hardware_model", tool_json_str(b->hardware_model));
    if (!unbind)
        json_object_set_new(extra, "contract", tool_json_str(b->contract));
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}

static int bind_main(int argc, char **argv)
{
    return bind_run(argc, argv, false);
}

static int unbind_main(int argc, char **argv)
{
    return bind_run(argc, argv, true);
}

/* --- contract show ------------------------------------------------------------------------- */

static const char show_usage[] =
    "usage: fwledger contract show --name NAME [--version N] [options]\n"
    "\n"
    "Show a contract as the chain holds it: its version, the height that deployed it, the\n"
    "hash of its source and the source itself.\n"
    "\n"
    "  --name NAME       the contract\n"
    "  --version N       this version (1, 2, ...) instead of the latest\n"
    TOOL_USAGE_NODE
    "  --json            print {\"name\", \"version\", \"height\", \"code_hash\", \"source\"}\n";

static int show_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"version", required_argument, NULL, OPT_VERSION},
        TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    fwl_GetContractReq q = {0};
    int c;

    tool_opts_init(&o, show_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_NAME: tool_set_str(q.name, sizeof q.name, "--name", optarg); break;
        case OPT_VERSION:
            if (!(q.version = tool_parse_u32("--version", optarg)))
                tool_usage_error("--version: versions count from 1");
            break;
        default: tool_common_opt(&o, NULL, c, argv);
        }
    }
    no_args(argc, argv);
    if (!*q.name)
        tool_usage_error("--name is required");

    tool_session *s = tool_open(&o, 0);
    tool_req(s, fwl_Request_get_contract_tag)->req.get_contract = q;
    const fwl_GetContractResp *r =
        &tool_call(s, fwl_Response_get_contract_tag, "GetContract")->resp.get_contract;
    if (!r->has_contract)
        tool_die_rc(NODE_EPROTO, "GetContract", "no contract in the answer");
    const fwl_ContractRecord *k = &r->contract;
    json_t *res = json_object();
    json_object_set_new(res, "name", tool_json_str(k->name));
    json_object_set_new(res, "version", json_integer(k->version));
    json_object_set_new(res, "height", json_integer((json_int_t)k->height));
    json_object_set_new(res, "code_hash", tool_json_hex(k->code_hash.bytes, k->code_hash.size));
    if (o.json) {
        json_object_set_new(res, "source", tool_json_str(k->source));
        tool_output(&o, res);
    } else {
        tool_output(&o, res);
        /* The source as written; only control characters a terminal would act on go. */
        printf("source:\n");
        for (const char *p = k->source; *p; p++)
            putchar((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p);
        if (*k->source && k->source[strlen(k->source) - 1] != '\n')
            putchar('\n');
    }
    tool_close(s);
    return TOOL_EXIT_OK;
}

/* --- contract check ------------------------------------------------------------------------ */

static const char check_usage[] =
    "usage: fwledger contract check --file SRC --device DEVICE.json --release RELEASE.json\n"
    "                               [--block-time-ms T] [--height H] [--json]\n"
    "\n"
    "Compile a contract and evaluate it on one device and one release, here, with no chain:\n"
    "prints the compile error (SRC:LINE:COL: message), or the verdict: eligible or not, the\n"
    "rule that rejected the release and why, and the cost (VM instructions). A contract\n"
    "that fails at run time (cost limit, overflow) prints its verdict and exits 1.\n"
    "\n"
    "  --file SRC        the contract's source\n"
    "  --device FILE     the device, as for fwledger eligible:\n"
    "                    {\"id\", \"hardware_model\", \"hardware_rev\", \"addons\", \"packages\":\n"
    "                     [{\"name\", \"version\"}], \"region\", \"tags\"}\n"
    "  --release FILE    the release: {\"product\", \"version\", \"security_version\",\n"
    "                    \"file_hash\": HEX, \"hardware\": [{\"model\", \"rev_min\", \"rev_max\",\n"
    "                    \"required_addons\"}], \"dependencies\": [{\"package\", \"constraint\"}],\n"
    "                    \"revoked\", \"published_at\", \"height\", \"outcomes\": {\"succeeded\",\n"
    "                    \"failed\", \"rolled_back\"}}, or the output of fwledger release --json\n"
    "  --block-time-ms T the block time the contract sees (default: now)\n"
    "  --height H        the block height the contract sees (default 0)\n"
    "  --json            print {\"eligible\", \"rule\", \"reason\", \"cost\", ...}\n";

/* A release as a contract sees it; the proto struct holds the strings. */
typedef struct {
    fwl_Release rel;
    bool revoked;
    int revoke_reason;
    uint64_t height;
    uint64_t succeeded, failed, rolled_back;
} release_view;

#define RELEASE_FIELDS                                                                     \
    "product", "provider", "published_at", "version", "security_version", "file_hash",     \
        "file_url", "file_name", "file_size", "hardware", "dependencies"
#define RELEASE_STATE "revoked", "revoke_reason", "height", "outcomes"

static void release_hash(const char *path, const json_t *obj, const char *prefix,
                         fwl_Hash *out)
{
    static const char *const keys[] = {"alg", "digest", NULL};
    const json_t *v = json_object_get(obj, "file_hash");
    const json_t *holder = obj;
    const char *field = "file_hash";
    char hex[2 * LDG_HASH_MAX + 2], alg[32] = "sha256", p[96];
    size_t len;

    snprintf(p, sizeof p, "%s%sfile_hash", prefix, *prefix ? "." : "");
    if (json_is_object(v)) { /* {"alg", "digest"}, as fwledger release --json prints it */
        tool_json_keys(path, v, p, keys);
        tool_json_get_str(path, v, p, "alg", true, alg, sizeof alg);
        holder = v;
        field = "digest";
    }
    tool_json_get_str(path, holder, holder == obj ? prefix : p, field, true, hex, sizeof hex);
    const ldg_hash_impl *h = ldg_hash_by_name(alg);
    if (!h)
        tool_die("%s: %s: unknown hash algorithm '%s'", path, p, alg);
    if (node_unhex(hex, out->digest.bytes, sizeof out->digest.bytes, &len) ||
        len != h->digest_len)
        tool_die("%s: %s: expected %zu bytes of hex (%s)", path, p, h->digest_len, h->name);
    out->alg = h->id;
    out->digest.size = (pb_size_t)len;
}

static void release_hardware(const char *path, const json_t *obj, const char *prefix,
                             fwl_Release *r)
{
    static const char *const keys[] = {"model", "rev_min", "rev_max", "required_addons", NULL};
    const json_t *arr = tool_json_get_array(path, obj, prefix, "hardware", COUNT(r->hardware));
    char p[96];
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        fwl_HardwareSupport *hw = &r->hardware[i];
        snprintf(p, sizeof p, "%s%shardware[%zu]", prefix, *prefix ? "." : "", i);
        if (!json_is_object(e))
            tool_die("%s: %s: must be an object", path, p);
        tool_json_keys(path, e, p, keys);
        tool_json_get_str(path, e, p, "model", true, hw->model, sizeof hw->model);
        hw->rev_min = (uint32_t)tool_json_get_uint(path, e, p, "rev_min", false, UINT32_MAX);
        hw->rev_max = (uint32_t)tool_json_get_uint(path, e, p, "rev_max", false, UINT32_MAX);
        hw->required_addons_count =
            tool_json_get_strs(path, e, p, "required_addons", hw->required_addons[0],
                               COUNT(hw->required_addons), sizeof hw->required_addons[0]);
        r->hardware_count = (pb_size_t)(i + 1);
    }
}

static void release_deps(const char *path, const json_t *obj, const char *prefix,
                         fwl_Release *r)
{
    static const char *const keys[] = {"package", "constraint", NULL};
    const json_t *arr =
        tool_json_get_array(path, obj, prefix, "dependencies", COUNT(r->dependencies));
    char p[96];
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        fwl_Dependency *d = &r->dependencies[i];
        snprintf(p, sizeof p, "%s%sdependencies[%zu]", prefix, *prefix ? "." : "", i);
        if (!json_is_object(e))
            tool_die("%s: %s: must be an object", path, p);
        tool_json_keys(path, e, p, keys);
        tool_json_get_str(path, e, p, "package", true, d->package, sizeof d->package);
        tool_json_get_str(path, e, p, "constraint", true, d->constraint, sizeof d->constraint);
        if (ldg_constraint_valid(d->constraint))
            tool_die("%s: %s.constraint: bad version constraint '%s'", path, p, d->constraint);
        r->dependencies_count = (pb_size_t)(i + 1);
    }
}

/* The release's own fields (Release in fwledger.proto). */
static void release_fields(const char *path, const json_t *obj, const char *prefix,
                           fwl_Release *r)
{
    ldg_semver sv;
    tool_json_get_str(path, obj, prefix, "product", true, r->product, sizeof r->product);
    tool_json_get_str(path, obj, prefix, "provider", false, r->provider, sizeof r->provider);
    r->published_at = tool_json_get_uint(path, obj, prefix, "published_at", false, INT64_MAX);
    tool_json_get_str(path, obj, prefix, "version", true, r->version, sizeof r->version);
    if (ldg_semver_parse(r->version, &sv))
        tool_die("%s: %s%sversion: '%s' is not a Semantic Versioning 2.0 version", path, prefix,
                 *prefix ? "." : "", r->version);
    r->security_version =
        tool_json_get_uint(path, obj, prefix, "security_version", false, INT64_MAX);
    release_hash(path, obj, prefix, &r->file_hash);
    r->has_file_hash = true;
    tool_json_get_str(path, obj, prefix, "file_url", false, r->file_url, sizeof r->file_url);
    tool_json_get_str(path, obj, prefix, "file_name", false, r->file_name, sizeof r->file_name);
    r->file_size = tool_json_get_uint(path, obj, prefix, "file_size", false, INT64_MAX);
    release_hardware(path, obj, prefix, r);
    release_deps(path, obj, prefix, r);
}

/* What the chain knows about the release besides its fields: revocation, height, and the
 * outcome totals trackers reported. */
static void release_state(const char *path, const json_t *obj, const char *prefix,
                          release_view *v)
{
    static const char *const keys[] = {"succeeded", "failed", "rolled_back", NULL};
    char reason[32], p[96];
    v->revoked = tool_json_get_bool(path, obj, prefix, "revoked");
    if (tool_json_get_str(path, obj, prefix, "revoke_reason", false, reason, sizeof reason)) {
        for (v->revoke_reason = 0; v->revoke_reason <= fwl_RevokeReason_REVOKE_WITHDRAWN &&
                                   strcmp(reason, tool_reason_name(v->revoke_reason));
             v->revoke_reason++)
            ;
        if (v->revoke_reason > fwl_RevokeReason_REVOKE_WITHDRAWN)
            tool_die("%s: %s%srevoke_reason: unknown reason '%s'", path, prefix,
                     *prefix ? "." : "", reason);
    }
    v->height = tool_json_get_uint(path, obj, prefix, "height", false, INT64_MAX);
    const json_t *out = json_object_get(obj, "outcomes");
    if (!out)
        return;
    snprintf(p, sizeof p, "%s%soutcomes", prefix, *prefix ? "." : "");
    if (!json_is_object(out))
        tool_die("%s: %s: must be an object", path, p);
    tool_json_keys(path, out, p, keys);
    v->succeeded = tool_json_get_uint(path, out, p, "succeeded", false, INT64_MAX);
    v->failed = tool_json_get_uint(path, out, p, "failed", false, INT64_MAX);
    v->rolled_back = tool_json_get_uint(path, out, p, "rolled_back", false, INT64_MAX);
}

/* A release file: the plain form (the usage text), a record as `fwledger release --json`
 * prints one ({"at_height", "record": {"release": {...}, "revoked", "height", ...}}), or
 * that record alone (an entry of `fwledger releases --json`). */
static void release_load(const char *path, release_view *v)
{
    static const char *const plain_keys[] = {RELEASE_FIELDS, RELEASE_STATE, NULL};
    static const char *const fields_keys[] = {RELEASE_FIELDS, NULL};
    static const char *const record_keys[] = {
        "release",       "author", "tx_hash",     "height",         "block_time_ms",
        "revoked",       "revoke_reason", "revoke_note", "revoked_height", "outcomes", NULL};
    static const char *const wrapper_keys[] = {"at_height", "record", NULL};
    json_t *root = tool_json_load(path, TOOL_JSON_FILE_MAX);
    const json_t *obj = root;
    const char *prefix = "";

    memset(v, 0, sizeof *v);
    if (!json_is_object(root))
        tool_die("%s: must hold a JSON object (a release)", path);
    if (json_object_get(root, "record")) {
        tool_json_keys(path, root, "", wrapper_keys);
        obj = json_object_get(root, "record");
        prefix = "record";
        if (!json_is_object(obj))
            tool_die("%s: record: must be an object", path);
    }
    const json_t *rel = json_object_get(obj, "release");
    if (rel) {
        char p[32];
        snprintf(p, sizeof p, "%s%srelease", prefix, *prefix ? "." : "");
        tool_json_keys(path, obj, prefix, record_keys);
        if (!json_is_object(rel))
            tool_die("%s: %s: must be an object", path, p);
        tool_json_keys(path, rel, p, fields_keys);
        release_fields(path, rel, p, &v->rel);
    } else {
        tool_json_keys(path, obj, prefix, plain_keys);
        release_fields(path, obj, prefix, &v->rel);
    }
    release_state(path, obj, prefix, v);
    json_decref(root);
}

/* The contract engine's views of the device and the release; strings borrowed from the
 * proto structs. */
typedef struct {
    const char *addons[COUNT(((fwl_Device *)0)->addons)];
    const char *tags[COUNT(((fwl_Device *)0)->tags)];
    ctr_package pk[COUNT(((fwl_Device *)0)->packages)];
    ctr_device d;
    const char *req[COUNT(((fwl_Release *)0)->hardware)][COUNT(((fwl_HardwareSupport *)0)->required_addons)];
    ctr_hardware hw[COUNT(((fwl_Release *)0)->hardware)];
    ctr_dependency deps[COUNT(((fwl_Release *)0)->dependencies)];
    ctr_release r;
} ctr_views;

static void device_view(const fwl_Device *d, ctr_views *w)
{
    for (pb_size_t i = 0; i < d->addons_count; i++)
        w->addons[i] = d->addons[i];
    for (pb_size_t i = 0; i < d->tags_count; i++)
        w->tags[i] = d->tags[i];
    for (pb_size_t i = 0; i < d->packages_count; i++)
        w->pk[i] = (ctr_package){d->packages[i].name, d->packages[i].version, 0};
    w->d = (ctr_device){.id = d->id, .model = d->hardware_model, .revision = d->hardware_rev,
                        .addons = w->addons, .n_addons = d->addons_count,
                        .packages = w->pk, .n_packages = d->packages_count,
                        .region = d->region, .tags = w->tags, .n_tags = d->tags_count};
}

static void release_ctr_view(const release_view *v, ctr_views *w)
{
    const fwl_Release *r = &v->rel;
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        const fwl_HardwareSupport *hw = &r->hardware[i];
        for (pb_size_t j = 0; j < hw->required_addons_count; j++)
            w->req[i][j] = hw->required_addons[j];
        w->hw[i] = (ctr_hardware){hw->model, hw->rev_min, hw->rev_max, w->req[i],
                                  hw->required_addons_count};
    }
    for (pb_size_t i = 0; i < r->dependencies_count; i++)
        w->deps[i] = (ctr_dependency){r->dependencies[i].package, r->dependencies[i].constraint};
    w->r = (ctr_release){.product = r->product, .version = r->version,
                         .security_version = r->security_version,
                         .file_hash = r->file_hash.digest.bytes,
                         .file_hash_len = r->file_hash.digest.size,
                         .hardware = w->hw, .n_hardware = r->hardware_count,
                         .deps = w->deps, .n_deps = r->dependencies_count,
                         .revoked = v->revoked, .revoke_reason = v->revoke_reason,
                         .published_at = r->published_at, .height = v->height,
                         .outcomes = {v->succeeded, v->failed, v->rolled_back}};
}

typedef struct {
    const char *file, *device, *release;
    uint64_t block_time_ms, height;
    bool has_time;
} check_args;

static void check_parse(int argc, char **argv, tool_opts *o, check_args *a)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, OPT_FILE},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"release", required_argument, NULL, OPT_RELEASE},
        {"block-time-ms", required_argument, NULL, OPT_BLOCK_TIME},
        {"height", required_argument, NULL, OPT_HEIGHT},
        TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    int c;
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_FILE: a->file = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_RELEASE: a->release = optarg; break;
        case OPT_BLOCK_TIME:
            a->block_time_ms = tool_parse_u64("--block-time-ms", optarg);
            a->has_time = true;
            break;
        case OPT_HEIGHT: a->height = tool_parse_u64("--height", optarg); break;
        default: tool_common_opt(o, NULL, c, argv);
        }
    }
    no_args(argc, argv);
    if (!a->file || !a->device || !a->release)
        tool_usage_error("--file, --device and --release are required");
    if (!a->has_time)
        a->block_time_ms = (uint64_t)time(NULL) * 1000;
}

static int check_main(int argc, char **argv)
{
    tool_opts o;
    check_args a = {0};
    tool_opts_init(&o, check_usage);
    check_parse(argc, argv, &o, &a);
    char *src = tool_xcalloc(1, LDG_CONTRACT_SOURCE_MAX + 1);
    fwl_Device *dev = tool_xcalloc(1, sizeof *dev);
    release_view *rel = tool_xcalloc(1, sizeof *rel);
    ctr_views *w = tool_xcalloc(1, sizeof *w);
    ctr_verdict v;

    /* The inputs first: a typo in a JSON file is reported before the contract's errors. */
    tool_device_load(a.device, dev);
    release_load(a.release, rel);
    size_t len = source_load(a.file, src);
    ctr_program *p = compile_or_die(a.file, src, len);
    device_view(dev, w);
    release_ctr_view(rel, w);
    ctr_context cc = {.block_time_ms = a.block_time_ms, .height = a.height};
    int rc = ctr_eval(p, &w->d, &w->r, &cc, &v);
    if (rc == CTR_EINVAL || rc == CTR_ETOOBIG)
        tool_die("the device or the release: error %d (%s): %s", rc, node_strerror(rc),
                 tool_clean(v.reason));

    json_t *res = json_object();
    json_object_set_new(res, "eligible", json_boolean(v.eligible));
    if (!v.eligible || o.json) {
        json_object_set_new(res, "rule", tool_json_str(v.rule));
        json_object_set_new(res, "reason", tool_json_str(v.reason));
    }
    json_object_set_new(res, "cost", json_integer((json_int_t)v.cost));
    if (rc) { /* a contract that fails at run time: its verdict, and exit 1 */
        json_t *e = json_object();
        json_object_set_new(e, "code", json_integer(rc));
        json_object_set_new(e, "message", json_string(node_strerror(rc)));
        json_object_set_new(res, "error", e);
    }
    json_object_set_new(res, "block_time_ms", json_integer((json_int_t)a.block_time_ms));
    if (o.json) {
        tool_json_print(res);
    } else {
        json_object_set_new(res, "eligible", json_string(v.eligible ? "yes" : "no"));
        if (rc)
            json_object_set_new(res, "error", json_sprintf("error %d (%s)", rc, node_strerror(rc)));
        tool_output(&o, res);
    }
    ctr_free(p);
    free(w);
    free(rel);
    free(dev);
    free(src);
    return rc ? TOOL_EXIT_RUNTIME : TOOL_EXIT_OK;
}

/* --- contract: the verbs ------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"deploy", deploy_main, "deploy a new version of a contract (admins)"},
    {"bind", bind_main, "bind a product, or one hardware model of it, to a contract (admins)"},
    {"unbind", unbind_main, "remove a binding (admins)"},
    {"show", show_main, "show a contract's version, hash and source"},
    {"check", check_main, "compile and evaluate a contract locally, on a device and a release"},
};

int contract_main(int argc, char **argv)
{
    static char prog[64];
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: fwledger contract VERB [options]   (fwledger contract VERB --help)\n\n"
               "Eligibility contracts: policies that decide which release a device may take\n"
               "(docs/contracts.md).\n\nverbs:\n");
        for (size_t i = 0; i < COUNT(verbs); i++)
            printf("  %-8s %s\n", verbs[i].name, verbs[i].summary);
        return TOOL_EXIT_OK;
    }
    if (argc < 2)
        tool_usage_error("expected deploy, bind, unbind, show or check");
    for (size_t i = 0; i < COUNT(verbs); i++) {
        if (strcmp(argv[1], verbs[i].name))
            continue;
        snprintf(prog, sizeof prog, "fwledger contract %s", verbs[i].name);
        tool_prog = prog;
        return verbs[i].main(argc - 1, argv + 1);
    }
    tool_usage_error("unknown verb '%s' (deploy, bind, unbind, show or check)", argv[1]);
}

/* --- tracker ------------------------------------------------------------------------------- */

static const char tracker_usage[] =
    "usage: fwledger tracker add|remove --key ADMINKEY [--key ADMINKEY...]\n"
    "                        --tracker-key FILE_OR_HEX [--tracker-alg ALG] [--name NAME]\n"
    "\n"
    "Register (add) or remove a status tracker key: a registered tracker may submit outcome\n"
    "reports (fwledger report). Needs signatures of admin_threshold chain admins: one --key\n"
    "each (the first is the sender).\n"
    "\n"
    "  --tracker-key K   the tracker's key file, or its public key in hex\n"
    "  --tracker-alg ALG the public key's algorithm when K is hex (secp256k1-ecdsa,\n"
    "                    secp256k1-schnorr, ed25519, p256-ecdsa)\n"
    "  --name NAME       a display name for the tracker\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", \"tracker_key\", ...}\n";

int tracker_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tracker-key", required_argument, NULL, OPT_TRACKER_KEY},
        {"tracker-alg", required_argument, NULL, OPT_TRACKER_ALG},
        {"name", required_argument, NULL, OPT_NAME},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    const char *key = NULL, *alg = NULL;
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_TrackerTx *tr = &body->payload.tracker;
    int c;

    body->which_payload = fwl_TxBody_tracker_tag;
    tool_opts_init(&o, tracker_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_TRACKER_KEY: key = optarg; break;
        case OPT_TRACKER_ALG: alg = optarg; break;
        case OPT_NAME: tool_set_str(tr->name, sizeof tr->name, "--name", optarg); break;
        default: tool_common_opt(&o, &t, c, argv);
        }
    }
    tr->op = tool_add_remove_arg(argc, argv);
    if (!key || t.n_keys == 0)
        tool_usage_error("--key and --tracker-key are required");
    tool_pubkey_arg("--tracker-key", key, "--tracker-alg", alg, &tr->key);
    tr->has_key = true;
    json_t *extra = json_object();
    json_object_set_new(extra, "tracker_alg", json_string(tool_sig_name(tr->key.alg)));
    json_object_set_new(extra, "tracker_key", tool_json_hex(tr->key.key.bytes, tr->key.key.size));
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}

/* --- author ------------------------------------------------------------------------------- */

static const char author_usage[] =
    "usage: fwledger author add|remove --key ADMINKEY [--key ADMINKEY...] --product P\n"
    "                       --author-key FILE_OR_HEX [--author-alg ALG] [--name NAME]\n"
    "\n"
    "Register (add) or remove an author key for a product. Needs signatures of\n"
    "admin_threshold chain admins: one --key each (the first is the sender).\n"
    "\n"
    "  --product P       the product namespace\n"
    "  --author-key K    the author's key file, or its public key in hex\n"
    "  --author-alg ALG  the public key's algorithm when K is hex (secp256k1-ecdsa,\n"
    "                    secp256k1-schnorr, ed25519, p256-ecdsa)\n"
    "  --name NAME       a display name for the author\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", ...}\n";

int author_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"product", required_argument, NULL, OPT_PRODUCT},
        {"author-key", required_argument, NULL, OPT_AUTHOR_KEY},
        {"author-alg", required_argument, NULL, OPT_AUTHOR_ALG},
        {"name", required_argument, NULL, OPT_NAME},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    const char *key = NULL, *alg = NULL;
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_AuthorTx *a = &body->payload.author;
    int c;

    body->which_payload = fwl_TxBody_author_tag;
    tool_opts_init(&o, author_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_PRODUCT: tool_set_str(a->product, sizeof a->product, "--product", optarg); break;
        case OPT_AUTHOR_KEY: key = optarg; break;
        case OPT_AUTHOR_ALG: alg = optarg; break;
        case OPT_NAME: tool_set_str(a->name, sizeof a->name, "--name", optarg); break;
        default: tool_common_opt(&o, &t, c, argv);
        }
    }
    a->op = tool_add_remove_arg(argc, argv);
    if (!*a->product || !key || t.n_keys == 0)
        tool_usage_error("--key, --product and --author-key are required");
    tool_pubkey_arg("--author-key", key, "--author-alg", alg, &a->key);
    a->has_key = true;
    int rc = tool_tx_run(&o, &t, body, NULL);
    free(body);
    return rc;
}
