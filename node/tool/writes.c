/*
 * The write subcommands authors run: publish and revoke. Each builds an fwl_TxBody from its
 * options; tool_tx_run (here too, shared with the admin subcommands of admin.c) does the rest
 * the same way for all (chain parameters, nonce, sign, a local syntax check, submit, wait for
 * the block, print).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "node/tool/tool.h"

/* --- Sign, submit, wait, print ------------------------------------------------------------ */

/* The chain id and hash algorithm a signature commits to: from --genesis, or from the node's
 * Status (a node from before StatusResp.chain_hash_alg sends 0: its chain hashes with
 * sha256, the only hash `fwledger init` writes). */
static ldg_genesis *chain_params(tool_session *s, const tool_txopts *t)
{
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);
    if (t->genesis) {
        char err[256] = "";
        int rc = node_genesis_load(t->genesis, g, err, sizeof err);
        if (rc)
            tool_die_rc(rc, t->genesis, err);
        return g;
    }
    fwl_StatusResp st;
    tool_status(s, &st);
    snprintf(g->chain_id, sizeof g->chain_id, "%s", st.chain_id);
    g->hash_alg = st.chain_hash_alg ? st.chain_hash_alg : LDG_HASH_SHA256;
    return g;
}

static uint64_t next_nonce(tool_session *s, const ldg_pubkey *k)
{
    fwl_Request *rq = tool_req(s, fwl_Request_nonce_tag);
    rq->req.nonce.has_key = true;
    rq->req.nonce.key.alg = k->alg;
    memcpy(rq->req.nonce.key.key.bytes, k->key, k->len);
    rq->req.nonce.key.key.size = (pb_size_t)k->len;
    uint64_t last = tool_call(s, fwl_Response_nonce_tag, "Nonce")->resp.nonce.last_nonce;
    if (last == UINT64_MAX)
        tool_die("the sender's nonce is exhausted");
    return last + 1;
}

/* Run the stateless checks the node will run, to name the failing field before sending. */
static void check_locally(const ldg_genesis *g, const uint8_t *tx, size_t len)
{
    ldg_tx *parsed = tool_xcalloc(1, sizeof *parsed);
    const char *why = "";
    int rc = ldg_tx_parse(g, 0, tx, len, parsed, &why);
    if (rc)
        tool_die_rc(rc, "invalid transaction", why);
    free(parsed);
}

static void sign_into(const tool_txopts *t, const ldg_genesis *g, fwl_TxBody *body,
                      fwl_SubmitTxReq *out, uint8_t hash[LDG_DIGEST_LEN])
{
    ldg_seckey *keys = tool_xcalloc(t->n_keys, sizeof *keys);
    node_key *k = tool_xcalloc(1, sizeof *k);
    for (size_t i = 0; i < t->n_keys; i++) {
        tool_load_key(t->keys[i], k);
        keys[i].alg = k->alg;
        memcpy(keys[i].sec, k->sec, sizeof keys[i].sec);
        OPENSSL_cleanse(k, sizeof *k);
    }
    size_t len = 0;
    int rc = ldg_tx_sign(g, body, keys, t->n_keys, NULL, out->tx.bytes, sizeof out->tx.bytes,
                         &len, hash);
    OPENSSL_cleanse(keys, t->n_keys * sizeof *keys);
    free(keys);
    free(k);
    if (rc)
        tool_die_rc(rc, "signing", NULL);
    out->tx.size = (pb_size_t)len;
}

static void wait_for(tool_session *s, const uint8_t hash[LDG_DIGEST_LEN], uint32_t wait_ms,
                     json_t *out)
{
    char what[16 + 2 * LDG_DIGEST_LEN];
    fwl_Request *rq = tool_req(s, fwl_Request_wait_for_tx_tag);
    memcpy(rq->req.wait_for_tx.tx_hash.bytes, hash, LDG_DIGEST_LEN);
    rq->req.wait_for_tx.tx_hash.size = LDG_DIGEST_LEN;
    rq->req.wait_for_tx.timeout_ms = wait_ms;
    strcpy(what, "WaitForTx ");
    node_hex(hash, LDG_DIGEST_LEN, what + strlen(what));
    const fwl_WaitForTxResp *w = &tool_call(s, fwl_Response_wait_for_tx_tag, what)->resp.wait_for_tx;
    json_object_set_new(out, "height", json_integer((json_int_t)w->height));
    json_object_set_new(out, "block_hash", tool_json_hex(w->block_hash.bytes, w->block_hash.size));
    json_object_set_new(out, "index", json_integer(w->index));
}

/* The sender's public key: nonces are counted per first signer. */
static void sender_key(const tool_txopts *t, ldg_pubkey *pub)
{
    node_key *k = tool_xcalloc(1, sizeof *k);
    tool_load_key(t->keys[0], k);
    *pub = k->pub;
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

int tool_tx_run(const tool_opts *o, const tool_txopts *t, fwl_TxBody *body, json_t *extra)
{
    uint8_t hash[LDG_DIGEST_LEN];
    ldg_pubkey sender;
    if (t->n_keys == 0)
        tool_usage_error("--key is required");
    sender_key(t, &sender);
    uint32_t wait_ms = t->wait_ms ? t->wait_ms : TOOL_DEFAULT_WAIT_MS;
    /* The node holds WaitForTx open for up to wait_ms: the socket must outwait it. */
    tool_session *s = tool_open(o, t->no_wait ? 0 : wait_ms + 5000);
    ldg_genesis *g = chain_params(s, t);
    snprintf(body->chain_id, sizeof body->chain_id, "%s", g->chain_id);
    body->nonce = t->nonce ? t->nonce : next_nonce(s, &sender);

    fwl_Request *rq = tool_req(s, fwl_Request_submit_tx_tag);
    sign_into(t, g, body, &rq->req.submit_tx, hash);
    check_locally(g, rq->req.submit_tx.tx.bytes, rq->req.submit_tx.tx.size);
    tool_call(s, fwl_Response_submit_tx_tag, "SubmitTx");

    json_t *out = json_object();
    json_object_set_new(out, "tx_hash", tool_json_hex(hash, sizeof hash));
    json_object_set_new(out, "nonce", json_integer((json_int_t)body->nonce));
    if (!t->no_wait)
        wait_for(s, hash, wait_ms, out);
    if (extra)
        json_object_update(out, extra);
    json_decref(extra);
    tool_output(o, out);
    tool_close(s);
    free(g);
    return TOOL_EXIT_OK;
}

/* --- publish ------------------------------------------------------------------------------ */

static const char publish_usage[] =
    "usage: fwledger publish --key FILE --product P --version SEMVER --security-version N\n"
    "                        --file PATH --url URL --provider NAME --hardware SPEC...\n"
    "                        [options]\n"
    "\n"
    "Register a firmware release. The file is read and hashed here; the transaction is\n"
    "signed with the author's key, submitted and (unless --no-wait) waited for.\n"
    "\n"
    "  --product P           product (package) name; the key must be one of its authors\n"
    "  --version SEMVER      Semantic Versioning 2.0 version, newer than the last one\n"
    "  --security-version N  anti-rollback counter, greater than the last one (at most\n"
    "                        4294967295)\n"
    "  --file PATH           the firmware image (any size)\n"
    "  --url URL             where devices download it (https, http, ipfs, s3, file)\n"
    "  --name FILENAME       file name to record (default: the base name of PATH)\n"
    "  --provider NAME       the provider (author organisation)\n"
    "  --hardware SPEC       supported model, repeatable: MODEL[:MIN-MAX][+ADDON...],\n"
    "                        e.g. sensor-v2:3-5+lora+gps, gw-1, gw-2:4- (revisions 4 and up)\n"
    "  --depends DEP         dependency, repeatable: a package name and a constraint,\n"
    "                        e.g. \"libfoo>=1.2,<2\"\n"
    "  --hash ALG            file hash: sha256 (default) or sha3-256\n"
    "  --published-at UNIX   publication time in Unix seconds (default: now; at most a day\n"
    "                        after the block's time)\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", \"file_hash\", ...}\n";

enum {
    OPT_PRODUCT = TOOL_OPT_LOCAL,
    OPT_VERSION,
    OPT_SECVER,
    OPT_FILE,
    OPT_URL,
    OPT_NAME,
    OPT_PROVIDER,
    OPT_HARDWARE,
    OPT_DEPENDS,
    OPT_HASH,
    OPT_PUBLISHED_AT,
    OPT_FILE_HASH,
    OPT_HASH_ALG,
    OPT_REASON,
    OPT_NOTE,
};

static void add_hardware(fwl_Release *r, const char *spec)
{
    if (r->hardware_count == sizeof r->hardware / sizeof *r->hardware)
        tool_usage_error("at most %zu --hardware options", sizeof r->hardware / sizeof *r->hardware);
    if (tool_hw_parse(spec, &r->hardware[r->hardware_count++]))
        tool_usage_error("--hardware: expected MODEL[:MIN-MAX][+ADDON...], got '%s'", spec);
}

/* "pkg>=1.2,<2": the package name ends at the first operator character. */
static void add_dependency(fwl_Release *r, const char *spec)
{
    if (r->dependencies_count == sizeof r->dependencies / sizeof *r->dependencies)
        tool_usage_error("at most %zu --depends options",
                         sizeof r->dependencies / sizeof *r->dependencies);
    fwl_Dependency *d = &r->dependencies[r->dependencies_count++];
    size_t n = strcspn(spec, "<>=^~* ");
    const char *c = spec + n + strspn(spec + n, " ");
    if (n == 0 || n >= sizeof d->package || !*c || strlen(c) >= sizeof d->constraint)
        tool_usage_error("--depends: expected a package name and a constraint, got '%s'", spec);
    memcpy(d->package, spec, n);
    d->package[n] = '\0';
    memcpy(d->constraint, c, strlen(c) + 1);
    if (ldg_constraint_valid(d->constraint))
        tool_usage_error("--depends: bad version constraint '%s'", c);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Options are set straight into the release; what is left is checked afterwards. */
typedef struct {
    fwl_Release *r;
    const char *file, *name, *hash;
    bool has_secver, has_published;
} publish_args;

static void publish_opt(publish_args *a, int opt, const char *v)
{
    fwl_Release *r = a->r;
    ldg_semver sv;
    switch (opt) {
    case OPT_PRODUCT: tool_set_str(r->product, sizeof r->product, "--product", v); break;
    case OPT_VERSION:
        tool_set_str(r->version, sizeof r->version, "--version", v);
        if (ldg_semver_parse(v, &sv))
            tool_usage_error("--version: '%s' is not a Semantic Versioning 2.0 version", v);
        break;
    case OPT_SECVER:
        r->security_version = tool_parse_u64("--security-version", v);
        if (r->security_version > LDG_SECURITY_VERSION_MAX)
            tool_usage_error("--security-version: at most %u, got %s", LDG_SECURITY_VERSION_MAX,
                             v);
        a->has_secver = true;
        break;
    case OPT_FILE: a->file = v; break;
    case OPT_URL: tool_set_str(r->file_url, sizeof r->file_url, "--url", v); break;
    case OPT_NAME: a->name = v; break;
    case OPT_PROVIDER: tool_set_str(r->provider, sizeof r->provider, "--provider", v); break;
    case OPT_HARDWARE: add_hardware(r, v); break;
    case OPT_DEPENDS: add_dependency(r, v); break;
    case OPT_HASH: a->hash = v; break;
    case OPT_PUBLISHED_AT:
        r->published_at = tool_parse_u64("--published-at", v);
        a->has_published = true;
        break;
    }
}

static void publish_check(const publish_args *a)
{
    const fwl_Release *r = a->r;
    static const struct {
        const char *opt;
        size_t off;
    } required[] = {
        {"--product", offsetof(fwl_Release, product)},
        {"--version", offsetof(fwl_Release, version)},
        {"--url", offsetof(fwl_Release, file_url)},
        {"--provider", offsetof(fwl_Release, provider)},
    };
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!*((const char *)r + required[i].off))
            tool_usage_error("%s is required", required[i].opt);
    if (!a->has_secver)
        tool_usage_error("--security-version is required");
    if (!a->file)
        tool_usage_error("--file is required");
    if (r->hardware_count == 0)
        tool_usage_error("at least one --hardware is required");
}

/* Hash and size from the file itself; the file name defaults to its base name. */
static void publish_file(const publish_args *a, json_t *extra)
{
    fwl_Release *r = a->r;
    const ldg_hash_impl *h = tool_parse_hash_alg("--hash", a->hash ? a->hash : "sha256");
    tool_set_str(r->file_name, sizeof r->file_name, "--name", a->name ? a->name : base_name(a->file));
    struct stat sb;
    if (stat(a->file, &sb) == 0 && !S_ISREG(sb.st_mode))
        tool_die("%s: not a regular file", a->file);
    tool_hash_file(a->file, h, r->file_hash.digest.bytes, &r->file_size);
    if (r->file_size == 0)
        tool_die("%s: empty file", a->file);
    r->has_file_hash = true;
    r->file_hash.alg = h->id;
    r->file_hash.digest.size = (pb_size_t)h->digest_len;
    json_object_set_new(extra, "file_hash", tool_json_hex(r->file_hash.digest.bytes, h->digest_len));
    json_object_set_new(extra, "file_hash_alg", json_string(h->name));
    json_object_set_new(extra, "file_size", json_integer((json_int_t)r->file_size));
}

int publish_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"product", required_argument, NULL, OPT_PRODUCT},
        {"version", required_argument, NULL, OPT_VERSION},
        {"security-version", required_argument, NULL, OPT_SECVER},
        {"file", required_argument, NULL, OPT_FILE},
        {"url", required_argument, NULL, OPT_URL},
        {"name", required_argument, NULL, OPT_NAME},
        {"provider", required_argument, NULL, OPT_PROVIDER},
        {"hardware", required_argument, NULL, OPT_HARDWARE},
        {"depends", required_argument, NULL, OPT_DEPENDS},
        {"hash", required_argument, NULL, OPT_HASH},
        {"published-at", required_argument, NULL, OPT_PUBLISHED_AT},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    body->which_payload = fwl_TxBody_publish_tag;
    body->payload.publish.has_release = true;
    publish_args a = {.r = &body->payload.publish.release};
    int c;

    tool_opts_init(&o, publish_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c >= TOOL_OPT_LOCAL)
            publish_opt(&a, c, optarg);
        else
            tool_common_opt(&o, &t, c, argv);
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    publish_check(&a);
    if (t.n_keys == 0)
        tool_usage_error("--key is required");
    if (!a.has_published)
        a.r->published_at = (uint64_t)time(NULL);
    json_t *extra = json_object();
    publish_file(&a, extra);
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}

/* --- revoke ------------------------------------------------------------------------------- */

static const char revoke_usage[] =
    "usage: fwledger revoke --key FILE [--key FILE...] (--file-hash HEX | --file PATH)\n"
    "                       --reason vulnerable|malicious|superseded|withdrawn [options]\n"
    "\n"
    "Revoke a release. The release's author may revoke it; otherwise the transaction needs\n"
    "signatures of admin_threshold chain admins (one --key each; the first is the sender).\n"
    "\n"
    "  --file-hash HEX   the release's file hash\n"
    "  --file PATH       hash this file instead of giving --file-hash\n"
    "  --hash-alg ALG    the file hash's algorithm: sha256 (default) or sha3-256\n"
    "  --reason R        vulnerable, malicious, superseded or withdrawn\n"
    "  --note TEXT       free text kept with the revocation\n"
    TOOL_USAGE_TX TOOL_USAGE_NODE
    "  --json            print {\"tx_hash\", \"height\", \"block_hash\", ...}\n";

static fwl_RevokeReason parse_reason(const char *s)
{
    for (int i = fwl_RevokeReason_REVOKE_VULNERABLE; i <= fwl_RevokeReason_REVOKE_WITHDRAWN; i++)
        if (!strcmp(s, tool_reason_name(i)))
            return (fwl_RevokeReason)i;
    tool_usage_error("--reason: expected vulnerable, malicious, superseded or withdrawn");
}

int revoke_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file-hash", required_argument, NULL, OPT_FILE_HASH},
        {"file", required_argument, NULL, OPT_FILE},
        {"hash-alg", required_argument, NULL, OPT_HASH_ALG},
        {"reason", required_argument, NULL, OPT_REASON},
        {"note", required_argument, NULL, OPT_NOTE},
        TOOL_OPTS_TX, TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    tool_txopts t = {0};
    const char *hex = NULL, *file = NULL, *alg = NULL;
    fwl_TxBody *body = tool_xcalloc(1, sizeof *body);
    fwl_RevokeTx *r = &body->payload.revoke;
    int c;

    body->which_payload = fwl_TxBody_revoke_tag;
    tool_opts_init(&o, revoke_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_FILE_HASH: hex = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_HASH_ALG: alg = optarg; break;
        case OPT_REASON: r->reason = parse_reason(optarg); break;
        case OPT_NOTE:
            if (strlen(optarg) >= sizeof r->note)
                tool_usage_error("--note: longer than %zu bytes", sizeof r->note - 1);
            strcpy(r->note, optarg);
            break;
        default: tool_common_opt(&o, &t, c, argv);
        }
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (r->reason == fwl_RevokeReason_REVOKE_UNSPECIFIED)
        tool_usage_error("--reason is required");
    if (t.n_keys == 0)
        tool_usage_error("--key is required");
    tool_file_hash_arg(hex, file, alg, &r->file_hash);
    r->has_file_hash = true;
    json_t *extra = json_object();
    json_object_set_new(extra, "file_hash", tool_json_hex(r->file_hash.digest.bytes,
                                                          r->file_hash.digest.size));
    int rc = tool_tx_run(&o, &t, body, extra);
    free(body);
    return rc;
}
