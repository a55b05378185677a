/*
 * What monitors run on the release log (docs/protocol.md, Release log): `log checkpoint`
 * keeps a certified head of the log (its size and root, and the block that names them), and
 * `log verify` checks a node's current certified head against it: the newer log must hold the
 * older one as its prefix, or the chain's history was rewritten. Every answer is checked
 * against the genesis' validators (client.h, fwl_verify_log): no node is trusted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/tool/tool.h"

enum {
    OPT_OUT = TOOL_OPT_LOCAL,
    OPT_CHECKPOINT,
    OPT_FILE_HASH,
    OPT_FILE,
    OPT_HASH_ALG,
    OPT_MAX_AGE,
};

#define WHY_MAX 400 /* the verifier's reason, in words */

#define USAGE_MAX_AGE                                                                        \
    "  --max-age AGE     the node's head at most this old, e.g. 90s, 5m (default: any age; a\n" \
    "                    quiet chain makes no blocks)\n"
#define USAGE_GENESIS                                                                        \
    "The head is checked against the validators of the genesis (--genesis FILE or\n"         \
    "$FWLEDGER_GENESIS), trusting no node.\n"

/* The options of the log subcommands. */
typedef struct {
    tool_opts o;
    uint64_t max_age;
    const char *hex, *file, *alg; /* the release, if any: --file-hash, --file, --hash-alg */
} log_opts;

static const char *const checkpoint_keys[] = {"chain_id", "height", "block_hash", "log_size",
                                              "log_root", NULL};

static json_t *head_json(const char *chain_id, const fwl_log_head *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "chain_id", tool_json_str(chain_id));
    json_object_set_new(o, "height", json_integer((json_int_t)h->height));
    json_object_set_new(o, "block_hash", tool_json_hex(h->block_hash, LDG_DIGEST_LEN));
    json_object_set_new(o, "log_size", json_integer((json_int_t)h->log_size));
    json_object_set_new(o, "log_root", tool_json_hex(h->log_root, LDG_DIGEST_LEN));
    return o;
}

/* Write a checkpoint to path (stdout when NULL), whole or not at all: a monitor's trust
 * anchor must not be left half-written. Consumes obj. */
static void checkpoint_write(const char *path, json_t *obj)
{
    if (!path) {
        tool_json_print(obj);
        return;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        tool_usage_error("--out: path too long");
    int rc = json_dump_file(obj, tmp, JSON_INDENT(2));
    json_decref(obj);
    if (rc || rename(tmp, path)) {
        remove(tmp);
        tool_die("%s: cannot write the checkpoint", path);
    }
}

static void json_hash(const char *path, const json_t *obj, const char *name, uint8_t *out)
{
    char hex[2 * LDG_DIGEST_LEN + 2];
    size_t len;
    tool_json_get_str(path, obj, "", name, true, hex, sizeof hex);
    if (node_unhex(hex, out, LDG_DIGEST_LEN, &len) || len != LDG_DIGEST_LEN)
        tool_die("%s: %s: expected %d bytes of hex", path, name, LDG_DIGEST_LEN);
}

/* A checkpoint file of this chain (written by `log checkpoint`). */
static void checkpoint_read(const char *path, const ldg_genesis *g, fwl_log_head *out)
{
    char chain[sizeof g->chain_id];
    json_t *j = tool_json_load(path, TOOL_JSON_FILE_MAX);
    if (!json_is_object(j))
        tool_die("%s: expected a checkpoint object", path);
    tool_json_keys(path, j, "", checkpoint_keys);
    tool_json_get_str(path, j, "", "chain_id", true, chain, sizeof chain);
    if (strcmp(chain, g->chain_id))
        tool_die_rc(LDG_ECHAIN, path, "the checkpoint is of another chain than the genesis");
    out->height = tool_json_get_uint(path, j, "", "height", true, INT64_MAX);
    out->log_size = tool_json_get_uint(path, j, "", "log_size", true, INT64_MAX);
    json_hash(path, j, "block_hash", out->block_hash);
    json_hash(path, j, "log_root", out->log_root);
    json_decref(j);
}

/* Ask the node for its certified head, with the inclusion of the release `asked` (NULL:
 * none) and a consistency proof from size from_size (0: none), and check the answer against
 * `from` (NULL: none). rec and leaf: the release's record and leaf. Returns the verifier's
 * error, with why (WHY_MAX bytes) saying which. */
static int log_ask(const log_opts *lo, const ldg_genesis *g, const fwl_Hash *asked,
                   const fwl_log_head *from, uint64_t from_size, fwl_log_head *head,
                   fwl_ReleaseRecord *rec, uint64_t *leaf, char *why)
{
    tool_session *s = tool_open(&lo->o, 0);
    fwl_GetLogProofReq *q = &tool_req(s, fwl_Request_get_log_proof_tag)->req.get_log_proof;
    if (asked) {
        q->has_file_hash = true;
        q->file_hash = *asked;
    }
    q->from_size = from_size;
    const uint8_t *buf;
    size_t len;
    tool_call_raw(s, "GetLogProof", &buf, &len);
    fwl_trust tr = {g, 0, lo->max_age, TOOL_VERIFY_DRIFT_MS};
    why[0] = 0;
    int rc = fwl_verify_log(&tr, buf, len, asked, from, head, rec, leaf, why, WHY_MAX);
    tool_close(s);
    return rc;
}

/* Options every log subcommand takes; false for the caller's own. */
static bool log_opt(log_opts *lo, int c, char **argv)
{
    switch (c) {
    case OPT_FILE_HASH: lo->hex = optarg; return true;
    case OPT_FILE: lo->file = optarg; return true;
    case OPT_HASH_ALG: lo->alg = optarg; return true;
    case OPT_MAX_AGE: lo->max_age = tool_parse_duration_ms("--max-age", optarg); return true;
    case OPT_OUT: case OPT_CHECKPOINT: return false;
    default: tool_common_opt(&lo->o, NULL, c, argv); return true;
    }
}

/* The genesis the head is checked against: given, or a usage error. Caller frees. */
static ldg_genesis *log_genesis(const tool_opts *o)
{
    const char *env = getenv("FWLEDGER_GENESIS");
    if (!o->genesis && (!env || !*env))
        tool_usage_error("the log's head is checked against the validators of a genesis: "
                         "give --genesis FILE (or set FWLEDGER_GENESIS)");
    return tool_trusted_genesis(o);
}

/* --- log checkpoint ----------------------------------------------------------------------- */

static const char checkpoint_usage[] =
    "usage: fwledger log checkpoint [--out FILE] [options]\n"
    "\n"
    "Ask the node for its certified head of the release log (the log's size and root as the\n"
    "tip's header names them), check the header's commit certificate, and write it as a\n"
    "checkpoint: {\"chain_id\", \"height\", \"block_hash\", \"log_size\", \"log_root\"}. Keep it\n"
    "where the node cannot reach it; `fwledger log verify --checkpoint FILE` later proves\n"
    "that the node's log still extends it.\n"
    "\n"
    USAGE_GENESIS
    "\n"
    "  --out FILE        write the checkpoint to FILE, replacing it whole (default: standard\n"
    "                    output)\n"
    USAGE_MAX_AGE
    TOOL_USAGE_NODE
    "\n"
    "Exit status: 0 written, 1 the node's answer does not verify (or another runtime error),\n"
    "2 bad usage.\n";

static int checkpoint_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, OPT_OUT},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        TOOL_OPTS_NODE, TOOL_OPTS_HELP, {0}};
    log_opts lo = {.max_age = 0};
    const char *out = NULL;
    int c;
    tool_opts_init(&lo.o, checkpoint_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1)
        if (!log_opt(&lo, c, argv))
            out = optarg; /* OPT_OUT: the only other option */
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    ldg_genesis *g = log_genesis(&lo.o);
    fwl_log_head head;
    char why[WHY_MAX];
    int rc = log_ask(&lo, g, NULL, NULL, 0, &head, NULL, NULL, why);
    if (rc)
        tool_die_rc(rc, "GetLogProof", why);
    checkpoint_write(out, head_json(g->chain_id, &head));
    if (out)
        printf("checkpoint: height %" PRIu64 ", log size %" PRIu64 " -> %s\n", head.height,
               head.log_size, out);
    free(g);
    return TOOL_EXIT_OK;
}

/* --- log verify --------------------------------------------------------------------------- */

static const char verify_usage[] =
    "usage: fwledger log verify --checkpoint FILE [--file-hash HEX | --file PATH] [options]\n"
    "\n"
    "Check that the node's certified head of the release log extends the checkpoint (RFC\n"
    "9162 consistency: the log of the checkpoint's size, with its root, is a prefix of the\n"
    "node's): prints \"consistent: log size A -> B\". A log that does not (history rewritten,\n"
    "or two certified blocks at one height) is error -116; a node behind the checkpoint,\n"
    "-114. With a release, also check that its latest record (the revoked one once revoked)\n"
    "is in the node's log.\n"
    "\n"
    USAGE_GENESIS
    "\n"
    "  --checkpoint FILE a checkpoint written by `fwledger log checkpoint`\n"
    "  --file-hash HEX   a release's file hash\n"
    "  --file PATH       hash this file instead\n"
    "  --hash-alg ALG    sha256 (default) or sha3-256\n"
    "  --out FILE        after a successful check, write the node's head there as the next\n"
    "                    checkpoint (it may be the checkpoint file itself)\n"
    USAGE_MAX_AGE
    TOOL_USAGE_NODE
    "  --json            print {\"consistent\": true, \"from\": {checkpoint}, \"to\": {head}}\n"
    "                    (with a release also \"release\": {\"leaf_index\", \"product\",\n"
    "                    \"version\", \"revoked\"})\n"
    "\n"
    "Exit status: 0 consistent (and included), 1 not, or the answer does not verify (or\n"
    "another runtime error), 2 bad usage.\n";

/* rec: the release's record, NULL when none was asked. */
static void verify_print(const log_opts *lo, const ldg_genesis *g, const fwl_log_head *from,
                         const fwl_log_head *head, const fwl_ReleaseRecord *rec, uint64_t leaf)
{
    if (lo->o.json) {
        json_t *o = json_object(), *r = json_object();
        json_object_set_new(o, "consistent", json_true());
        json_object_set_new(o, "from", head_json(g->chain_id, from));
        json_object_set_new(o, "to", head_json(g->chain_id, head));
        if (rec) {
            json_object_set_new(r, "leaf_index", json_integer((json_int_t)leaf));
            json_object_set_new(r, "product", tool_json_str(rec->release.product));
            json_object_set_new(r, "version", tool_json_str(rec->release.version));
            json_object_set_new(r, "revoked", json_boolean(rec->revoked));
            json_object_set_new(o, "release", r);
        } else {
            json_decref(r);
        }
        tool_json_print(o);
        return;
    }
    printf("consistent: log size %" PRIu64 " -> %" PRIu64 " (height %" PRIu64 " -> %" PRIu64
           ")\n", from->log_size, head->log_size, from->height, head->height);
    if (rec) {
        char line[300];
        snprintf(line, sizeof line, "%s %s%s", rec->release.product, rec->release.version,
                 rec->revoked ? " (revoked)" : "");
        printf("included: %s at leaf %" PRIu64 " of %" PRIu64 "\n", tool_clean(line), leaf,
               head->log_size);
    }
}

static int verify_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"file-hash", required_argument, NULL, OPT_FILE_HASH},
        {"file", required_argument, NULL, OPT_FILE},
        {"hash-alg", required_argument, NULL, OPT_HASH_ALG},
        {"out", required_argument, NULL, OPT_OUT},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        TOOL_OPTS_NODE, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    log_opts lo = {.max_age = 0};
    const char *cp = NULL, *out = NULL;
    int c;
    tool_opts_init(&lo.o, verify_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1)
        if (!log_opt(&lo, c, argv))
            *(c == OPT_CHECKPOINT ? &cp : &out) = optarg;
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!cp)
        tool_usage_error("--checkpoint FILE is required");
    if (lo.hex && lo.file)
        tool_usage_error("give at most one of --file-hash and --file");
    fwl_Hash h = {0};
    bool release = lo.hex || lo.file;
    if (release)
        tool_file_hash_arg(lo.hex, lo.file, lo.alg, &h);
    ldg_genesis *g = log_genesis(&lo.o);
    fwl_log_head from, head;
    static fwl_ReleaseRecord rec;
    uint64_t leaf;
    char why[WHY_MAX];
    checkpoint_read(cp, g, &from);
    int rc = log_ask(&lo, g, release ? &h : NULL, &from, from.log_size, &head, &rec, &leaf, why);
    /* A node whose log is shorter than the checkpoint's refuses the proof (-10) and proves
     * nothing by it: its certified head alone shows whether it is behind the checkpoint
     * (-114) or holds another history (-116). */
    if (rc == LDG_EINVALID && from.log_size)
        rc = log_ask(&lo, g, release ? &h : NULL, &from, 0, &head, &rec, &leaf, why);
    if (rc)
        tool_die_rc(rc, "the node's log against the checkpoint", why);
    if (out)
        checkpoint_write(out, head_json(g->chain_id, &head));
    verify_print(&lo, g, &from, &head, release ? &rec : NULL, leaf);
    free(g);
    return TOOL_EXIT_OK;
}

/* --- the release's leaf, for release --verify ---------------------------------------------- */

void tool_log_inclusion(const tool_opts *o, const fwl_Hash *h, uint64_t max_age,
                        fwl_log_head *head, uint64_t *leaf)
{
    static fwl_ReleaseRecord rec;
    log_opts lo = {*o, max_age, NULL, NULL, NULL};
    ldg_genesis *g = tool_trusted_genesis(o);
    char why[WHY_MAX];
    int rc = log_ask(&lo, g, h, NULL, 0, head, &rec, leaf, why);
    free(g);
    if (rc)
        tool_die_rc(rc, "the release's leaf in the log", why);
}

int log_main(int argc, char **argv)
{
    static char prog[64];
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: fwledger log VERB [options]   (fwledger log VERB --help)\n\n"
               "The release log: every release and revocation, append-only (RFC 9162).\n\n"
               "verbs:\n"
               "  checkpoint  write the node's certified log head to a file\n"
               "  verify      check that the node's log extends a checkpoint\n");
        return TOOL_EXIT_OK;
    }
    if (argc < 2)
        tool_usage_error("expected checkpoint or verify");
    int (*verb)(int, char **) = !strcmp(argv[1], "checkpoint") ? checkpoint_main
                                : !strcmp(argv[1], "verify")   ? verify_main
                                                               : NULL;
    if (!verb)
        tool_usage_error("unknown verb '%s' (checkpoint, verify)", argv[1]);
    snprintf(prog, sizeof prog, "fwledger log %s", argv[1]);
    tool_prog = prog;
    return verb(argc - 1, argv + 1);
}
