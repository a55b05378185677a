/*
 * The read-only subcommands: releases (a paged list), release (one record), block and
 * status. Human output is for reading; --json output carries every field for scripts.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/tool/tool.h"

enum {
    OPT_PRODUCT = TOOL_OPT_LOCAL,
    OPT_HARDWARE,
    OPT_LIMIT,
    OPT_ALL,
    OPT_AFTER,
    OPT_FILE_HASH,
    OPT_FILE,
    OPT_HASH_ALG,
    OPT_HASH,
    OPT_LATEST,
    OPT_VERIFY,
    OPT_MAX_AGE,
};

/* One line of human output; the node's text is cleaned before it reaches the terminal. */
static void __attribute__((format(printf, 2, 3))) kv(const char *key, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("%-16s %s\n", key, tool_clean(buf));
}

static char *hex_of(const uint8_t *b, size_t len, char *out /* 2*len+1 */)
{
    node_hex(b, len, out);
    return out;
}

static json_t *key_json(const fwl_PublicKey *k)
{
    json_t *o = json_object();
    json_object_set_new(o, "alg", json_string(tool_sig_name(k->alg)));
    json_object_set_new(o, "key", tool_json_hex(k->key.bytes, k->key.size));
    return o;
}


static json_t *int_json(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* --- Release records ---------------------------------------------------------------------- */

static json_t *hardware_json(const fwl_HardwareSupport *hw)
{
    json_t *o = json_object(), *addons = json_array();
    json_object_set_new(o, "model", tool_json_str(hw->model));
    json_object_set_new(o, "rev_min", int_json(hw->rev_min));
    json_object_set_new(o, "rev_max", int_json(hw->rev_max));
    for (pb_size_t i = 0; i < hw->required_addons_count; i++)
        json_array_append_new(addons, tool_json_str(hw->required_addons[i]));
    json_object_set_new(o, "required_addons", addons);
    return o;
}

static json_t *release_json(const fwl_Release *r)
{
    json_t *o = json_object(), *hw = json_array(), *deps = json_array();
    json_object_set_new(o, "product", tool_json_str(r->product));
    json_object_set_new(o, "provider", tool_json_str(r->provider));
    json_object_set_new(o, "published_at", int_json(r->published_at));
    json_object_set_new(o, "version", tool_json_str(r->version));
    json_object_set_new(o, "security_version", int_json(r->security_version));
    json_object_set_new(o, "file_hash", tool_json_hash(&r->file_hash));
    json_object_set_new(o, "file_url", tool_json_str(r->file_url));
    json_object_set_new(o, "file_name", tool_json_str(r->file_name));
    json_object_set_new(o, "file_size", int_json(r->file_size));
    for (pb_size_t i = 0; i < r->hardware_count; i++)
        json_array_append_new(hw, hardware_json(&r->hardware[i]));
    json_object_set_new(o, "hardware", hw);
    for (pb_size_t i = 0; i < r->dependencies_count; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "package", tool_json_str(r->dependencies[i].package));
        json_object_set_new(d, "constraint", tool_json_str(r->dependencies[i].constraint));
        json_array_append_new(deps, d);
    }
    json_object_set_new(o, "dependencies", deps);
    return o;
}

/* ReleaseRecord as JSON, every field. */
static json_t *record_json(const fwl_ReleaseRecord *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "release", release_json(&r->release));
    json_object_set_new(o, "author", key_json(&r->author));
    json_object_set_new(o, "tx_hash", tool_json_hex(r->tx_hash.bytes, r->tx_hash.size));
    json_object_set_new(o, "height", int_json(r->height));
    json_object_set_new(o, "block_time_ms", int_json(r->block_time_ms));
    json_object_set_new(o, "revoked", json_boolean(r->revoked));
    json_object_set_new(o, "revoke_reason", json_string(tool_reason_name(r->revoke_reason)));
    json_object_set_new(o, "revoke_note", tool_json_str(r->revoke_note));
    json_object_set_new(o, "revoked_height", int_json(r->revoked_height));
    return o;
}

/* Every hardware entry, comma-separated, in publish --hardware syntax. */
static void hardware_list(const fwl_Release *r, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (pb_size_t i = 0; i < r->hardware_count && n + 1 < cap; i++) {
        if (i)
            out[n++] = ',';
        tool_hw_format(&r->hardware[i], out + n, cap - n);
        n += strlen(out + n);
    }
}

static void record_print(const fwl_ReleaseRecord *rec)
{
    const fwl_Release *r = &rec->release;
    char hex[2 * LDG_HASH_MAX + 1], t[32], hw[600];
    kv("product", "%s", r->product);
    kv("provider", "%s", r->provider);
    kv("version", "%s", r->version);
    kv("security_version", "%" PRIu64, r->security_version);
    kv("published_at", "%s", tool_fmt_time(r->published_at, t));
    kv("file_name", "%s", r->file_name);
    kv("file_size", "%" PRIu64, r->file_size);
    kv("file_url", "%s", r->file_url);
    kv("file_hash", "%s:%s", tool_hash_name(r->file_hash.alg),
       hex_of(r->file_hash.digest.bytes, r->file_hash.digest.size, hex));
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        tool_hw_format(&r->hardware[i], hw, sizeof hw);
        kv("hardware", "%s", hw);
    }
    for (pb_size_t i = 0; i < r->dependencies_count; i++)
        kv("depends", "%s %s", r->dependencies[i].package, r->dependencies[i].constraint);
    kv("author", "%s:%s", tool_sig_name(rec->author.alg),
       hex_of(rec->author.key.bytes, rec->author.key.size, hex));
    kv("tx_hash", "%s", hex_of(rec->tx_hash.bytes, rec->tx_hash.size, hex));
    kv("height", "%" PRIu64, rec->height);
    kv("block_time", "%s", tool_fmt_time(rec->block_time_ms / 1000, t));
    if (!rec->revoked) {
        kv("revoked", "no");
        return;
    }
    kv("revoked", "yes, at height %" PRIu64, rec->revoked_height);
    kv("revoke_reason", "%s", tool_reason_name(rec->revoke_reason));
    kv("revoke_note", "%s", rec->revoke_note);
}

/* --- releases ----------------------------------------------------------------------------- */

static const char releases_usage[] =
    "usage: fwledger releases [--product P] [--hardware MODEL] [--limit N] [--all]\n"
    "                         [--after CURSOR] [options]\n"
    "\n"
    "List releases in publication order, optionally only those of a product and/or those\n"
    "supporting a hardware model. One page of up to N (the node's default if not given);\n"
    "--all follows the paging cursor to the end, N per request.\n"
    "\n"
    "  --product P       only this product\n"
    "  --hardware MODEL  only releases supporting this hardware model\n"
    "  --limit N         records per page\n"
    "  --all             every page\n"
    "  --after CURSOR    continue after a previous page's \"next\" cursor (hex)\n"
    TOOL_USAGE_VERIFY
    "                    (with --hardware: the proof is of the model's whole list)\n"
    TOOL_USAGE_NODE
    "  --json            print {\"at_height\", \"records\": [every field], \"next\"} (with\n"
    "                    --verify also \"verified\": true)\n";

typedef struct {
    const tool_opts *o;
    json_t *records; /* --json */
    size_t rows;
} list_out;

static int list_row(void *arg, const fwl_ReleaseRecord *rec)
{
    list_out *l = arg;
    const fwl_Release *r = &rec->release;
    char hex[2 * LDG_HASH_MAX + 1], hw[600], line[2048];
    if (l->o->json) {
        json_array_append_new(l->records, record_json(rec));
        return 0;
    }
    if (l->rows++ == 0)
        printf("%-20s %-14s %6s  %-28s %-24s %-16s %s\n", "PRODUCT", "VERSION", "SECVER",
               "HARDWARE", "FILE", "HASH", "REVOKED");
    node_hex(r->file_hash.digest.bytes, r->file_hash.digest.size, hex);
    hex[16] = '\0';
    hardware_list(r, hw, sizeof hw);
    snprintf(line, sizeof line, "%-20s %-14s %6" PRIu64 "  %-28s %-24s %-16s %s", r->product,
             r->version, r->security_version, hw, r->file_name, hex,
             rec->revoked ? tool_reason_name(rec->revoke_reason) : "no");
    puts(tool_clean(line));
    return 0;
}

typedef struct {
    fwl_ListReleasesReq q;
    bool all;
    bool verify;
    uint64_t max_age;
} list_args;

static void releases_opt(list_args *a, int opt, const char *v)
{
    fwl_ListReleasesReq *q = &a->q;
    switch (opt) {
    case OPT_PRODUCT:
        if (strlen(v) >= sizeof q->product)
            tool_usage_error("--product: too long");
        strcpy(q->product, v);
        break;
    case OPT_HARDWARE:
        if (strlen(v) >= sizeof q->hardware)
            tool_usage_error("--hardware: too long");
        strcpy(q->hardware, v);
        break;
    case OPT_LIMIT: q->limit = tool_parse_u32("--limit", v); break;
    case OPT_ALL: a->all = true; break;
    case OPT_VERIFY: a->verify = true; break;
    case OPT_MAX_AGE: a->max_age = tool_parse_duration_ms("--max-age", v); break;
    case OPT_AFTER:
        q->after.size = (pb_size_t)tool_parse_hex("--after", v, q->after.bytes,
                                                  sizeof q->after.bytes, 0);
        break;
    }
}

/* One ListReleases round trip; the records go to out, the cursor back into q->after. */
/* The page's answer checked against its proof (client.h, fwl_verify_list), then decoded as
 * usual (the records go to the callbacks set on s->resp): exits 1 when it does not verify. */
static const fwl_ListReleasesResp *list_verified(tool_session *s, const ldg_genesis *g,
                                                 const fwl_ListReleasesReq *q, uint64_t max_age)
{
    fwl_trust tr = {g, 0, max_age, TOOL_VERIFY_DRIFT_MS};
    const uint8_t *buf;
    size_t len;
    char why[300] = "";
    s->req.req.list_releases.prove = true;
    tool_call_raw(s, "ListReleases", &buf, &len);
    int rc = fwl_verify_list(&tr, q, buf, len, NULL, why, sizeof why);
    if (rc)
        tool_die_rc(rc, "ListReleases answer does not verify", why);
    return &tool_decode_raw(s, buf, len, fwl_Response_list_releases_tag, "ListReleases")
                ->resp.list_releases;
}

static uint64_t list_page(tool_session *s, fwl_ListReleasesReq *q, tool_records *recs,
                          const ldg_genesis *g, uint64_t max_age)
{
    fwl_Request *rq = tool_req(s, fwl_Request_list_releases_tag);
    rq->req.list_releases = *q;
    tool_decode_records(&s->resp, recs);
    const fwl_ListReleasesResp *r =
        g ? list_verified(s, g, q, max_age)
          : &tool_call(s, fwl_Response_list_releases_tag, "ListReleases")->resp.list_releases;
    if (r->next.size && recs->count == 0)
        tool_die_rc(NODE_EPROTO, "ListReleases", "an empty page with a cursor");
    memcpy(q->after.bytes, r->next.bytes, r->next.size);
    q->after.size = r->next.size;
    return r->at_height;
}

int releases_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"product", required_argument, NULL, OPT_PRODUCT},
        {"hardware", required_argument, NULL, OPT_HARDWARE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {"after", required_argument, NULL, OPT_AFTER},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    list_args a = {0};
    int c;
    a.max_age = tool_parse_duration_ms("--max-age", TOOL_VERIFY_MAX_AGE_DEFAULT);

    tool_opts_init(&o, releases_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c >= TOOL_OPT_LOCAL)
            releases_opt(&a, c, optarg);
        else
            tool_common_opt(&o, NULL, c, argv);
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (a.verify && !a.q.hardware[0])
        tool_usage_error("--verify needs --hardware: a list is proven per hardware model");
    ldg_genesis *g = a.verify ? tool_trusted_genesis(&o) : NULL;

    list_out out = {.o = &o, .records = json_array()};
    tool_records *recs = tool_xcalloc(1, sizeof *recs);
    recs->fn = list_row;
    recs->arg = &out;
    tool_session *s = tool_open(&o, 0);
    uint64_t at;
    do
        at = list_page(s, &a.q, recs, g, a.max_age);
    while (a.all && a.q.after.size);
    tool_close(s);
    free(recs);
    free(g);

    if (o.json) {
        json_t *res = json_object();
        json_object_set_new(res, "at_height", int_json(at));
        json_object_set_new(res, "records", out.records);
        json_object_set_new(res, "next", tool_json_hex(a.q.after.bytes, a.q.after.size));
        if (a.verify)
            json_object_set_new(res, "verified", json_true());
        tool_json_print(res);
        return TOOL_EXIT_OK;
    }
    json_decref(out.records);
    if (out.rows == 0)
        printf("no releases\n");
    if (a.verify)
        printf("verified: every release of %s at height %" PRIu64 " (proven complete)\n",
               a.q.hardware, at);
    if (a.q.after.size) {
        char hex[2 * sizeof a.q.after.bytes + 1];
        fprintf(stderr, "more releases: --all, or --after %s\n",
                hex_of(a.q.after.bytes, a.q.after.size, hex));
    }
    return TOOL_EXIT_OK;
}

/* --- release ------------------------------------------------------------------------------ */

static const char release_usage[] =
    "usage: fwledger release (--file-hash HEX | --file PATH) [--hash-alg ALG] [options]\n"
    "\n"
    "Show the release registered with this file hash: every field, and whether (and why)\n"
    "it was revoked.\n"
    "\n"
    "  --file-hash HEX   the file hash\n"
    "  --file PATH       hash this file instead\n"
    "  --hash-alg ALG    sha256 (default) or sha3-256\n"
    TOOL_USAGE_VERIFY
    TOOL_USAGE_NODE
    "  --json            print {\"at_height\", \"record\": {every field}} (with --verify also\n"
    "                    \"verified\": true, \"block_time_ms\", and \"log\": {\"leaf_index\",\n"
    "                    \"log_size\", \"height\"}: the record's leaf in the release log,\n"
    "                    checked against the certified head)\n";

/* GetRelease with a proof, checked (client.h, fwl_verify_release): exits 1 when the answer
 * does not verify, or when the proof shows there is no such release. */
static const fwl_ReleaseRecord *release_verified(tool_session *s, const tool_opts *o,
                                                 const fwl_Hash *h, uint64_t max_age,
                                                 uint64_t *height)
{
    static fwl_ReleaseRecord rec;
    ldg_genesis *g = tool_trusted_genesis(o);
    fwl_trust tr = {g, 0, max_age, TOOL_VERIFY_DRIFT_MS};
    const uint8_t *buf;
    size_t len;
    char why[300] = "";
    bool found = false;
    s->req.req.get_release.prove = true;
    tool_call_raw(s, "GetRelease", &buf, &len);
    int rc = fwl_verify_release(&tr, buf, len, h, &rec, &found, height, why, sizeof why);
    free(g);
    if (rc)
        tool_die_rc(rc, "GetRelease answer does not verify", why);
    if (!found) {
        char detail[80];
        snprintf(detail, sizeof detail, "proven absent at height %" PRIu64, *height);
        tool_die_rc(LDG_ENOTFOUND, "release", detail);
    }
    return &rec;
}

int release_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file-hash", required_argument, NULL, OPT_FILE_HASH},
        {"file", required_argument, NULL, OPT_FILE},
        {"hash-alg", required_argument, NULL, OPT_HASH_ALG},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    const char *hex = NULL, *file = NULL, *alg = NULL;
    fwl_Hash h = {0};
    bool verify = false;
    uint64_t max_age = tool_parse_duration_ms("--max-age", TOOL_VERIFY_MAX_AGE_DEFAULT);
    int c;

    tool_opts_init(&o, release_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_FILE_HASH: hex = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_HASH_ALG: alg = optarg; break;
        case OPT_VERIFY: verify = true; break;
        case OPT_MAX_AGE: max_age = tool_parse_duration_ms("--max-age", optarg); break;
        default: tool_common_opt(&o, NULL, c, argv);
        }
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    tool_file_hash_arg(hex, file, alg, &h);

    tool_session *s = tool_open(&o, 0);
    fwl_Request *rq = tool_req(s, fwl_Request_get_release_tag);
    rq->req.get_release.has_file_hash = true;
    rq->req.get_release.file_hash = h;
    const fwl_ReleaseRecord *rec;
    uint64_t at, leaf = 0;
    fwl_log_head lh = {0};
    if (verify) {
        rec = release_verified(s, &o, &h, max_age, &at);
        tool_log_inclusion(&o, &h, max_age, &lh, &leaf);
    } else {
        const fwl_GetReleaseResp *r =
            &tool_call(s, fwl_Response_get_release_tag, "GetRelease")->resp.get_release;
        rec = &r->record;
        at = r->at_height;
    }
    if (o.json) {
        json_t *res = json_object();
        json_object_set_new(res, "at_height", int_json(at));
        json_object_set_new(res, "record", record_json(rec));
        if (verify) {
            json_t *l = json_object();
            json_object_set_new(l, "leaf_index", int_json(leaf));
            json_object_set_new(l, "log_size", int_json(lh.log_size));
            json_object_set_new(l, "height", int_json(lh.height));
            json_object_set_new(res, "verified", json_true());
            json_object_set_new(res, "log", l);
        }
        tool_json_print(res);
    } else {
        record_print(rec);
        if (verify) {
            kv("verified", "yes: certified by the validators at height %" PRIu64, at);
            kv("log", "leaf %" PRIu64 " of %" PRIu64 ", included at height %" PRIu64, leaf,
               lh.log_size, lh.height);
        }
    }
    tool_close(s);
    return TOOL_EXIT_OK;
}

/* --- block -------------------------------------------------------------------------------- */

static const char block_usage[] =
    "usage: fwledger block [HEIGHT | --hash HEX | --latest] [options]\n"
    "\n"
    "Show a block: its header and each transaction's hash and kind. Without HEIGHT or\n"
    "--hash, the latest block.\n"
    "\n"
    "  --hash HEX        the block with this header hash\n"
    "  --latest          the chain's tip (the default)\n"
    TOOL_USAGE_NODE
    "  --json            print {\"height\", \"hash\", \"header\": {...}, \"txs\": [...]}\n";

static const char *const tx_types[] = {[LDG_TX_PUBLISH] = "publish",
                                       [LDG_TX_REVOKE] = "revoke",
                                       [LDG_TX_AUTHOR] = "author",
                                       [LDG_TX_CONTRACT] = "contract",
                                       [LDG_TX_BIND] = "bind",
                                       [LDG_TX_TRACKER] = "tracker",
                                       [LDG_TX_REPORT] = "report"};

/* The structured view of one transaction; *summary gets a one-line description. */
static json_t *tx_json(const ldg_tx *tx, char *summary, size_t cap)
{
    json_t *o = json_object(), *signers = json_array();
    char hex[2 * LDG_HASH_MAX + 1];
    json_object_set_new(o, "hash", tool_json_hex(tx->hash, sizeof tx->hash));
    json_object_set_new(o, "type", json_string(tx_types[tx->type]));
    json_object_set_new(o, "nonce", int_json(tx->body.nonce));
    for (pb_size_t i = 0; i < tx->env.sigs_count; i++)
        json_array_append_new(signers, key_json(&tx->env.sigs[i].signer));
    json_object_set_new(o, "signers", signers);
    const fwl_Release *r = &tx->body.payload.publish.release;
    const fwl_RevokeTx *rv = &tx->body.payload.revoke;
    const fwl_AuthorTx *a = &tx->body.payload.author;
    switch (tx->type) {
    case LDG_TX_PUBLISH:
        json_object_set_new(o, "release", release_json(r));
        snprintf(summary, cap, "%s %s", r->product, r->version);
        break;
    case LDG_TX_REVOKE:
        json_object_set_new(o, "file_hash", tool_json_hash(&rv->file_hash));
        json_object_set_new(o, "reason", json_string(tool_reason_name(rv->reason)));
        json_object_set_new(o, "note", tool_json_str(rv->note));
        snprintf(summary, cap, "%.16s... %s",
                 hex_of(rv->file_hash.digest.bytes, rv->file_hash.digest.size, hex),
                 tool_reason_name(rv->reason));
        break;
    case LDG_TX_AUTHOR:
        json_object_set_new(o, "op", json_string(a->op == fwl_AuthorOp_AUTHOR_ADD ? "add" : "remove"));
        json_object_set_new(o, "product", tool_json_str(a->product));
        json_object_set_new(o, "key", key_json(&a->key));
        json_object_set_new(o, "name", tool_json_str(a->name));
        snprintf(summary, cap, "%s %s %.16s...", a->op == fwl_AuthorOp_AUTHOR_ADD ? "add" : "remove",
                 a->product, hex_of(a->key.key.bytes, a->key.key.size, hex));
        break;
    default: /* issue 4's transactions: shown by kind until the tool learns them */
        snprintf(summary, cap, "%s", tx_types[tx->type]);
    }
    return o;
}

/* The block's transactions, decoded with the chain id and hash the header itself names. */
static json_t *block_txs(const ldg_block *b, const ldg_genesis *g, bool print)
{
    json_t *arr = json_array();
    ldg_tx *tx = tool_xcalloc(1, sizeof *tx);
    char summary[256], hex[2 * LDG_DIGEST_LEN + 1];
    for (size_t i = 0; i < b->n_txs; i++) {
        const char *why = "";
        int rc = ldg_tx_parse(g, b->hdr.height, b->tx_raw[i], b->tx_len[i], tx, &why);
        json_t *t;
        if (rc) {
            t = json_object();
            json_object_set_new(t, "error", json_string(node_strerror(rc)));
            snprintf(summary, sizeof summary, "undecodable (%s: %s)", why, node_strerror(rc));
            memset(tx->hash, 0, sizeof tx->hash);
        } else {
            t = tx_json(tx, summary, sizeof summary);
        }
        json_object_set_new(t, "index", int_json(i));
        json_array_append_new(arr, t);
        if (print)
            printf("  %-4zu %s  %-8s %s\n", i, hex_of(tx->hash, sizeof tx->hash, hex),
                   rc ? "?" : tx_types[tx->type], tool_clean(summary));
    }
    free(tx);
    return arr;
}

static json_t *header_json(const fwl_BlockHeader *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", int_json(h->version));
    json_object_set_new(o, "chain_id", tool_json_str(h->chain_id));
    json_object_set_new(o, "height", int_json(h->height));
    json_object_set_new(o, "time_ms", int_json(h->time_ms));
    json_object_set_new(o, "prev_hash", tool_json_hash(&h->prev_hash));
    json_object_set_new(o, "tx_root", tool_json_hash(&h->tx_root));
    json_object_set_new(o, "state_root", tool_json_hash(&h->state_root));
    json_object_set_new(o, "log_size", int_json(h->log_size));
    json_object_set_new(o, "log_root", tool_json_hash(&h->log_root));
    json_object_set_new(o, "tx_count", int_json(h->tx_count));
    json_object_set_new(o, "body_size", int_json(h->body_size));
    json_object_set_new(o, "proposer", key_json(&h->proposer));
    return o;
}

static void header_print(const fwl_BlockHeader *h, const uint8_t *hash, size_t hash_len,
                         size_t n_commit)
{
    char hex[2 * LDG_HASH_MAX + 1], t[32];
    kv("height", "%" PRIu64, h->height);
    kv("hash", "%s", hex_of(hash, hash_len, hex));
    kv("version", "%" PRIu32, h->version);
    kv("chain_id", "%s", h->chain_id);
    kv("time", "%s (%" PRIu64 " ms)", tool_fmt_time(h->time_ms / 1000, t), h->time_ms);
    kv("prev_hash", "%s", hex_of(h->prev_hash.digest.bytes, h->prev_hash.digest.size, hex));
    kv("tx_root", "%s:%s", tool_hash_name(h->tx_root.alg),
       hex_of(h->tx_root.digest.bytes, h->tx_root.digest.size, hex));
    kv("state_root", "%s:%s", tool_hash_name(h->state_root.alg),
       hex_of(h->state_root.digest.bytes, h->state_root.digest.size, hex));
    kv("log", "%" PRIu64 " entries, root %s:%s", h->log_size, tool_hash_name(h->log_root.alg),
       hex_of(h->log_root.digest.bytes, h->log_root.digest.size, hex));
    kv("tx_count", "%" PRIu32, h->tx_count);
    kv("body_size", "%" PRIu64, h->body_size);
    kv("proposer", "%s:%s", tool_sig_name(h->proposer.alg),
       hex_of(h->proposer.key.bytes, h->proposer.key.size, hex));
    kv("commit", "%zu signature%s", n_commit, n_commit == 1 ? "" : "s");
}

/* Decode a block and check that its header hashes to what the node said. */
static void block_decode(const tool_blob *blob, const fwl_GetBlockResp *r, ldg_block *b,
                         ldg_genesis *g)
{
    uint8_t hash[LDG_DIGEST_LEN];
    int rc = ldg_block_decode(blob->buf, blob->len, b);
    if (rc)
        tool_die_rc(rc, "GetBlock: decoding the block", NULL);
    snprintf(g->chain_id, sizeof g->chain_id, "%s", b->hdr.chain_id);
    g->hash_alg = b->hdr.has_tx_root ? b->hdr.tx_root.alg : LDG_HASH_SHA256;
    if ((rc = ldg_block_hash(g, b->hdr_raw, b->hdr_len, hash)))
        tool_die_rc(rc, "GetBlock: hashing the header", NULL);
    if (r->block_hash.size != sizeof hash || memcmp(hash, r->block_hash.bytes, sizeof hash))
        tool_die_rc(NODE_EPROTO, "GetBlock", "the block's header does not match its hash");
}

typedef struct {
    uint64_t height;
    const char *hash;
    bool latest;
} block_args;

static void block_request(tool_session *s, const block_args *a, tool_blob *blob)
{
    uint64_t height = a->height;
    if (!a->hash && (a->latest || !height)) {
        fwl_StatusResp st;
        tool_status(s, &st);
        if (st.height == 0)
            tool_die("the chain has no blocks yet");
        height = st.height;
    }
    fwl_Request *rq = tool_req(s, fwl_Request_get_block_tag);
    if (a->hash) {
        rq->req.get_block.which_by = fwl_GetBlockReq_hash_tag;
        rq->req.get_block.by.hash.size = (pb_size_t)tool_parse_hex(
            "--hash", a->hash, rq->req.get_block.by.hash.bytes,
            sizeof rq->req.get_block.by.hash.bytes, 0);
    } else {
        rq->req.get_block.which_by = fwl_GetBlockReq_height_tag;
        rq->req.get_block.by.height = height;
    }
    tool_decode_block(&s->resp, blob);
    tool_call(s, fwl_Response_get_block_tag, "GetBlock");
}

static void block_parse(int argc, char **argv, tool_opts *o, block_args *a)
{
    static const struct option opts[] = {
        {"hash", required_argument, NULL, OPT_HASH},
        {"latest", no_argument, NULL, OPT_LATEST},
        TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    uint8_t tmp[sizeof ((fwl_GetBlockReq *)0)->by.hash.bytes]; /* checked here, sent later */
    int c;
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_HASH:
            tool_parse_hex("--hash", optarg, tmp, sizeof tmp, 0);
            a->hash = optarg;
            break;
        case OPT_LATEST: a->latest = true; break;
        default: tool_common_opt(o, NULL, c, argv);
        }
    }
    if (optind + 1 < argc)
        tool_usage_error("too many arguments");
    if (optind < argc && !(a->height = tool_parse_u64("HEIGHT", argv[optind])))
        tool_usage_error("HEIGHT: blocks start at 1");
    if ((optind < argc) + !!a->hash + a->latest > 1)
        tool_usage_error("give one of HEIGHT, --hash and --latest");
}

int block_main(int argc, char **argv)
{
    tool_opts o;
    block_args a = {0};
    tool_blob blob;
    ldg_block *b = tool_xcalloc(1, sizeof *b);
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);

    tool_opts_init(&o, block_usage);
    block_parse(argc, argv, &o, &a);
    tool_session *s = tool_open(&o, 0);
    block_request(s, &a, &blob);
    block_decode(&blob, &s->resp.resp.get_block, b, g);

    const fwl_GetBlockResp *r = &s->resp.resp.get_block;
    if (o.json) {
        json_t *res = json_object();
        json_object_set_new(res, "height", int_json(b->hdr.height));
        json_object_set_new(res, "hash", tool_json_hex(r->block_hash.bytes, r->block_hash.size));
        json_object_set_new(res, "header", header_json(&b->hdr));
        json_object_set_new(res, "commit_signatures", int_json(b->n_commit));
        json_object_set_new(res, "txs", block_txs(b, g, false));
        tool_json_print(res);
    } else {
        header_print(&b->hdr, r->block_hash.bytes, r->block_hash.size, b->n_commit);
        printf("txs:%s\n", b->n_txs ? "" : " none");
        json_decref(block_txs(b, g, true));
    }
    tool_close(s);
    ldg_block_free(b);
    free(b);
    free(blob.buf);
    free(g);
    return TOOL_EXIT_OK;
}

/* --- status ------------------------------------------------------------------------------- */

static const char status_usage[] =
    "usage: fwledger status [options]\n"
    "\n"
    "Show the node's chain id and chain hash (the algorithm of tx ids and block hashes),\n"
    "height, tip, mempool size and release count, its role (validator or replica), peers\n"
    "up, the height and round being decided, block-sync progress (syncing, target\n"
    "height, blocks/s), and whether it cannot write blocks (commit_stalled: a full disk\n"
    "or LMDB map, an I/O error; commit_stalled_reason says which and where), and each\n"
    "configured peer: its name, up or down, how long ago anything arrived from it, and\n"
    "the height it announced.\n"
    "\n" TOOL_USAGE_NODE
    "  --json            print {\"chain_id\", \"chain_hash\", \"height\", ..., \"peer_info\":\n"
    "                    [{\"name\", \"up\", \"last_heard_ms_ago\", \"height\", ...}]}\n";

int status_main(int argc, char **argv)
{
    static const struct option opts[] = {TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    fwl_StatusResp st;
    char t[32];
    int c;

    tool_opts_init(&o, status_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1)
        tool_common_opt(&o, NULL, c, argv);
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    tool_session *s = tool_open(&o, 0);
    tool_status(s, &st);
    tool_close(s);

    json_t *res = json_object();
    json_object_set_new(res, "chain_id", tool_json_str(st.chain_id));
    json_object_set_new(res, "chain_hash", json_string(tool_hash_name(st.chain_hash_alg)));
    json_object_set_new(res, "height", int_json(st.height));
    json_object_set_new(res, "tip_hash", tool_json_hex(st.tip_hash.bytes, st.tip_hash.size));
    json_object_set_new(res, "tip_time_ms", int_json(st.tip_time_ms));
    json_object_set_new(res, "tip_time", json_string(tool_fmt_time(st.tip_time_ms / 1000, t)));
    json_object_set_new(res, "mempool", int_json(st.mempool));
    json_object_set_new(res, "releases", int_json(st.releases));
    json_object_set_new(res, "version", tool_json_str(st.version));
    json_object_set_new(res, "role", tool_json_str(st.role));
    json_object_set_new(res, "validator_index", json_integer(st.validator_index));
    json_object_set_new(res, "peers", int_json(st.peers));
    json_object_set_new(res, "peers_up", int_json(st.peers_up));
    json_object_set_new(res, "consensus_height", int_json(st.consensus_height));
    json_object_set_new(res, "consensus_round", int_json(st.consensus_round));
    json_object_set_new(res, "syncing", json_boolean(st.syncing));
    json_object_set_new(res, "sync_target", int_json(st.sync_target));
    json_object_set_new(res, "sync_blocks_per_s", int_json(st.sync_blocks_per_s));
    json_object_set_new(res, "commit_stalled", json_boolean(st.commit_stalled));
    json_object_set_new(res, "commit_stalled_reason", tool_json_str(st.commit_stalled_reason));
    if (o.json) {
        json_t *arr = json_array();
        for (pb_size_t i = 0; arr && i < st.peer_info_count; i++) {
            const fwl_PeerInfo *p = &st.peer_info[i];
            json_t *po = json_object();
            json_object_set_new(po, "name", tool_json_str(p->name));
            json_object_set_new(po, "up", json_boolean(p->up));
            /* null: nothing ever heard from it */
            json_object_set_new(po, "last_heard_ms_ago",
                                p->heard ? int_json(p->last_heard_ms_ago) : json_null());
            json_object_set_new(po, "height", int_json(p->height));
            json_object_set_new(po, "validator_index", json_integer(p->validator_index));
            json_array_append_new(arr, po);
        }
        json_object_set_new(res, "peer_info", arr);
        tool_output(&o, res);
        return TOOL_EXIT_OK;
    }
    tool_output(&o, res);
    /* One line per peer: "peer  node1  up    heard 120 ms ago  height 42". */
    for (pb_size_t i = 0; i < st.peer_info_count; i++) {
        const fwl_PeerInfo *p = &st.peer_info[i];
        char name[sizeof p->name], heard[48];
        snprintf(name, sizeof name, "%s", p->name);
        if (p->heard)
            snprintf(heard, sizeof heard, "heard %" PRIu64 " ms ago", p->last_heard_ms_ago);
        else
            snprintf(heard, sizeof heard, "never heard");
        printf("%-16s %-24s %-4s  %-24s height %" PRIu64 "\n", "peer", tool_clean(name),
               p->up ? "up" : "down", heard, p->height);
    }
    return TOOL_EXIT_OK;
}
