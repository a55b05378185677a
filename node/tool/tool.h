/*
 * Private to the fwledger command-line tool (node/tool/: main.c and one file per
 * group of subcommands: keys.c, writes.c, admin.c, queries.c, eligibility.c, audit.c,
 * log.c; session.c and util.c are what they share).
 *
 * The tool is a table of subcommands, each `int X_main(int argc, char **argv)` with argv[0]
 * the subcommand name. Exit codes: 0 success, 1 a runtime error (a file, the node, the
 * chain), 2 bad usage. Unlike library code, tool code may exit on error: the tool_die*
 * helpers print one line on stderr, prefixed with the subcommand ("fwledger publish: ..."),
 * and exit. The tool is single-threaded; the large nanopb structs (fwl_TxBody, fwl_Request,
 * fwl_Response, about 10 KiB each) live on the heap.
 */
#ifndef FWL_NODE_TOOL_H
#define FWL_NODE_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include <jansson.h>

#include "node/files/files.h"

enum { TOOL_EXIT_OK = 0, TOOL_EXIT_RUNTIME = 1, TOOL_EXIT_USAGE = 2 };

#define TOOL_DEFAULT_HOST "127.0.0.1"
#define TOOL_DEFAULT_PORT 7400
#define TOOL_DEFAULT_TIMEOUT_MS 10000u
#define TOOL_DEFAULT_WAIT_MS 30000u
#define TOOL_MAX_KEYS 8 /* fwl.Tx.sigs max_count: one signature per --key */
_Static_assert(TOOL_MAX_KEYS == sizeof ((fwl_Tx *)0)->sigs / sizeof ((fwl_Tx *)0)->sigs[0],
               "TOOL_MAX_KEYS is fwl.Tx.sigs max_count");

/* "fwledger" or "fwledger <subcommand>": the prefix of every message. Set by main(). */
extern const char *tool_prog;

/* Subcommands (one line each in main.c's table). */
int keygen_main(int argc, char **argv);
int init_main(int argc, char **argv);
int publish_main(int argc, char **argv);
int revoke_main(int argc, char **argv);
int author_main(int argc, char **argv);
int releases_main(int argc, char **argv);
int release_main(int argc, char **argv);
int block_main(int argc, char **argv);
int status_main(int argc, char **argv);
int contract_main(int argc, char **argv); /* deploy, bind, unbind, show, check */
int tracker_main(int argc, char **argv);
int report_main(int argc, char **argv);
int eligible_main(int argc, char **argv);
int audit_main(int argc, char **argv); /* verify */
int log_main(int argc, char **argv);   /* checkpoint, verify */

/* --- Errors (util.c) --------------------------------------------------------------- */

/* Print "<prog>: <message>" on stderr and exit 1. */
noreturn void tool_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "<prog>: <message> (see '<prog> --help')" on stderr and exit 2. */
noreturn void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit 1 naming an LDG_E / NODE_E code and its text: "<what>: error <rc> (<text>)[: detail]".
 * detail (the node's message) is left out when empty or equal to the code's text. */
noreturn void tool_die_rc(int rc, const char *what, const char *detail);
void *tool_xcalloc(size_t n, size_t size);

/* --- Options every subcommand shares --------------------------------------------------- */

/* Long-only options have values from 0x100 up; each file numbers its own from
 * TOOL_OPT_LOCAL so they never collide with these. */
enum {
    TOOL_OPT_JSON = 0x100,
    TOOL_OPT_NODE,
    TOOL_OPT_CONFIG,
    TOOL_OPT_TIMEOUT,
    TOOL_OPT_KEY,
    TOOL_OPT_GENESIS,
    TOOL_OPT_NO_WAIT,
    TOOL_OPT_WAIT_TIMEOUT,
    TOOL_OPT_NONCE,
    TOOL_OPT_NODE_KEY,
    TOOL_OPT_CA,
    TOOL_OPT_CLIENT_KEY,
    TOOL_OPT_PLAINTEXT,
    TOOL_OPT_LOCAL = 0x200,
};

#define TOOL_OPTS_HELP {"help", no_argument, NULL, 'h'}
#define TOOL_OPTS_JSON {"json", no_argument, NULL, TOOL_OPT_JSON}
#define TOOL_OPTS_NODE                                                                       \
    {"node", required_argument, NULL, TOOL_OPT_NODE},                                        \
        {"config", required_argument, NULL, TOOL_OPT_CONFIG},                                \
        {"timeout", required_argument, NULL, TOOL_OPT_TIMEOUT},                              \
        {"genesis", required_argument, NULL, TOOL_OPT_GENESIS},                              \
        {"node-key", required_argument, NULL, TOOL_OPT_NODE_KEY},                            \
        {"ca", required_argument, NULL, TOOL_OPT_CA},                                        \
        {"client-key", required_argument, NULL, TOOL_OPT_CLIENT_KEY},                        \
        {"plaintext", no_argument, NULL, TOOL_OPT_PLAINTEXT}
/* Options of the transaction subcommands (publish, revoke, author). */
#define TOOL_OPTS_TX                                                                         \
    {"key", required_argument, NULL, TOOL_OPT_KEY},                                          \
        {"no-wait", no_argument, NULL, TOOL_OPT_NO_WAIT},                                    \
        {"wait-timeout", required_argument, NULL, TOOL_OPT_WAIT_TIMEOUT},                    \
        {"nonce", required_argument, NULL, TOOL_OPT_NONCE}

/* Usage text lines every networked subcommand appends to its own. */
#define TOOL_USAGE_NODE                                                                      \
    "  --node HOST:PORT  the node's RPC address (default 127.0.0.1:7400)\n"                  \
    "  --config FILE     a node config file: its RPC address (rpc_listen), and trust in its\n" \
    "                    identity key (identity_key)\n"                                     \
    "  --timeout MS      connect and I/O timeout (default 10000)\n"                          \
    "The node is checked over TLS 1.3 against (at least one of):\n"                         \
    "  --genesis FILE    the validators' identity keys in this genesis file (default:\n"     \
    "                    $FWLEDGER_GENESIS); transactions also take the chain id from it\n"  \
    "  --node-key ALG:HEX[,...]  these identity keys (e.g. a replica's; default:\n"          \
    "                    $FWLEDGER_NODE_KEY)\n"                                             \
    "  --ca FILE         a PEM CA file, for a node with a CA-issued certificate\n"          \
    "  --plaintext       no TLS (only to a node on loopback that allows it)\n"              \
    "  --client-key FILE present this ed25519 or p256-ecdsa key file (a tracker's, for\n"    \
    "                    nodes that require one)\n"
#define TOOL_USAGE_TX                                                                        \
    "  --key FILE        signing key file; repeat for more signers (the first is the sender)\n" \
    "  --nonce N         use this nonce instead of asking the node for the next one\n"       \
    "  --no-wait         return after the node accepted the transaction\n"                   \
    "  --wait-timeout MS how long to wait for the block (default 30000)\n"

typedef struct {
    const char *usage; /* the whole --help text */
    bool json;
    char host[256];     /* from --node, or empty */
    int port;
    const char *config; /* node config file, or NULL */
    uint32_t timeout_ms;
    const char *genesis;    /* --genesis, or NULL (then $FWLEDGER_GENESIS for trust)     */
    const char *node_key;   /* --node-key ALG:HEX                                         */
    const char *ca;         /* --ca FILE                                                  */
    const char *client_key; /* --client-key FILE                                          */
    bool plaintext;
} tool_opts;

typedef struct {
    const char *keys[TOOL_MAX_KEYS];
    size_t n_keys;
    const char *genesis; /* --genesis (shared with tool_opts): chain parameters           */
    bool no_wait;
    uint32_t wait_ms;
    uint64_t nonce; /* 0: ask the node */
} tool_txopts;

void tool_opts_init(tool_opts *o, const char *usage);
/* getopt_long with our conventions: -h, long-only options, no getopt messages. */
int tool_getopt(int argc, char **argv, const struct option *longopts);
/* Handle a shared option (help, json, node, config, timeout) or a getopt error; exits for
 * --help (0) and bad usage (2). tx may be NULL for subcommands without TOOL_OPTS_TX. */
void tool_common_opt(tool_opts *o, tool_txopts *tx, int opt, char **argv);

/* Strict number parsing; a bad value is a usage error naming opt. */
uint64_t tool_parse_u64(const char *opt, const char *s);
uint32_t tool_parse_u32(const char *opt, const char *s);
const ldg_hash_impl *tool_parse_hash_alg(const char *opt, const char *name);
const ldg_sig_impl *tool_parse_sig_alg(const char *opt, const char *name);
/* Hex of exactly want bytes (any length up to cap when want is 0). */
size_t tool_parse_hex(const char *opt, const char *s, uint8_t *out, size_t cap, size_t want);
/* Copy an option's value into a fixed nanopb string field: empty or too long (cap - 1
 * bytes and more) is a usage error naming opt. */
void tool_set_str(char *dst, size_t cap, const char *opt, const char *v);
/* {"alg": name, "digest": hex} */
json_t *tool_json_hash(const fwl_Hash *h);
/* The one operand left after the options, "add" or "remove" (author and tracker); anything
 * else is a usage error. */
fwl_AuthorOp tool_add_remove_arg(int argc, char **argv);
/* A public key given as a key file (when such a file exists) or as hex, which then needs
 * the algorithm name alg (from the option alg_opt); opt names the key's option. */
void tool_pubkey_arg(const char *opt, const char *arg, const char *alg_opt, const char *alg,
                     fwl_PublicKey *out);
/* The file hash a command names: --file-hash HEX or --file PATH (hashed here), in the
 * algorithm --hash-alg names (alg; NULL for sha256). Exactly one of hex and file. */
void tool_file_hash_arg(const char *hex, const char *file, const char *alg, fwl_Hash *out);

/* --- Files ------------------------------------------------------------------------------- */

/* Stream a file through hash alg: digest (LDG_HASH_MAX bytes) and size. Exits on error. */
void tool_hash_file(const char *path, const ldg_hash_impl *alg, uint8_t *digest,
                    uint64_t *size);
void tool_load_key(const char *path, node_key *k);

/* Strict JSON input files (device descriptions, releases, report batches; eligibility.c).
 * A file is read only up to max bytes; duplicate keys and, with tool_json_keys, unknown
 * keys are refused. Every error exits 1 naming the file and the field:
 * "dev.json: packages[1].version: must be a string". prefix names obj within the file
 * ("" at the top, "packages[1]"). */
#define TOOL_JSON_FILE_MAX (64u << 10)
json_t *tool_json_load(const char *path, size_t max); /* any JSON value; caller decrefs */
void tool_json_keys(const char *path, const json_t *obj, const char *prefix,
                    const char *const *allowed /* NULL-terminated */);
/* A string member copied into dst (cap bytes with the NUL); absent: "" unless required.
 * Returns whether it was present. */
bool tool_json_get_str(const char *path, const json_t *obj, const char *prefix,
                       const char *name, bool required, char *dst, size_t cap);
/* An integer member in [0, max]; absent: 0 unless required. */
uint64_t tool_json_get_uint(const char *path, const json_t *obj, const char *prefix,
                            const char *name, bool required, uint64_t max);
/* A true/false member; absent: false. */
bool tool_json_get_bool(const char *path, const json_t *obj, const char *prefix,
                        const char *name);
/* An array member of at most max entries, or NULL when absent. */
const json_t *tool_json_get_array(const char *path, const json_t *obj, const char *prefix,
                                  const char *name, size_t max);
/* An array of strings into a nanopb string array (max entries of elem_size bytes each);
 * returns the count (0 when absent). */
pb_size_t tool_json_get_strs(const char *path, const json_t *obj, const char *prefix,
                             const char *name, char *out, size_t max, size_t elem_size);
/* A device description (the eligible and contract check input):
 * {"id", "hardware_model", "hardware_rev", "addons": [], "packages": [{"name", "version"}],
 *  "region", "tags": []}; id and hardware_model required, versions SemVer 2.0. */
void tool_device_load(const char *path, fwl_Device *out);

/* --- The node ---------------------------------------------------------------------------- */

typedef struct {
    node_client *c;
    fwl_Request req;
    fwl_Response resp;
} tool_session;

/* Connect as the options say; the socket timeout is at least min_timeout_ms. */
tool_session *tool_open(const tool_opts *o, uint32_t min_timeout_ms);
void tool_close(tool_session *s);
/* Zero the request and the response (callbacks too) and select the request's kind. Set any
 * response decoders (tool_decode_*) after this call and before tool_call. */
fwl_Request *tool_req(tool_session *s, pb_size_t which);
/* Send s->req, receive s->resp; on any error exit 1 naming what, the code and the node's
 * message. The response must be of kind which. */
fwl_Response *tool_call(tool_session *s, pb_size_t which, const char *what);
/* Send s->req and receive the raw response frame (valid until the next call), for the
 * verifier (client.h); exits 1 on a transport error. */
void tool_call_raw(tool_session *s, const char *what, const uint8_t **buf, size_t *len);
/* Decode a raw answer (a verified one) into s->resp, with the decoders set on it; exits 1
 * when it does not decode or is not of kind which. */
fwl_Response *tool_decode_raw(tool_session *s, const uint8_t *buf, size_t len, pb_size_t which,
                              const char *what);
/* The genesis answers are verified against (--verify): --genesis, else $FWLEDGER_GENESIS;
 * a usage error when neither is given. Caller frees. */
ldg_genesis *tool_trusted_genesis(const tool_opts *o);
/* A duration: a number and a unit, ms, s, m, h or d (e.g. 90s, 5m); a usage error naming
 * opt otherwise. */
uint64_t tool_parse_duration_ms(const char *opt, const char *s);
/* Options and usage of the subcommands that can verify their answers (docs/verification.md). */
#define TOOL_VERIFY_MAX_AGE_DEFAULT "10m"
#define TOOL_VERIFY_DRIFT_MS 30000 /* how far ahead of this clock a block may be */
#define TOOL_USAGE_VERIFY                                                                    \
    "  --verify          check the answer against the validators' signatures (needs the\n"   \
    "                    genesis: --genesis or $FWLEDGER_GENESIS), trusting no node\n"       \
    "  --max-age AGE     with --verify: the answer's block at most this old, e.g. 90s, 5m\n" \
    "                    (default " TOOL_VERIFY_MAX_AGE_DEFAULT ")\n"
/* The release h's leaf in the node's certified log, checked (log.c; exits 1 when the answer
 * does not verify): what release --verify adds. */
void tool_log_inclusion(const tool_opts *o, const fwl_Hash *h, uint64_t max_age,
                        fwl_log_head *head, uint64_t *leaf);
/* Status round trip; the result is copied to out. */
void tool_status(tool_session *s, fwl_StatusResp *out);

/* Callback-field decoders for responses (session.c). */
typedef int (*tool_record_fn)(void *arg, const fwl_ReleaseRecord *rec);
typedef struct {
    tool_record_fn fn;
    void *arg;
    size_t count;   /* records decoded so far */
    int err;        /* first error fn returned, or a decoding error */
    fwl_ReleaseRecord rec;
} tool_records;
/* Make resp decode ListReleasesResp.records one by one into ctx->rec and call ctx->fn. */
void tool_decode_records(fwl_Response *resp, tool_records *ctx);

typedef struct {
    uint8_t *buf; /* malloc'd copy of GetBlockResp.block; the caller frees */
    size_t len;
} tool_blob;
/* Make resp copy GetBlockResp.block into blob (bounded by NODE_RPC_MAX_RESPONSE). */
void tool_decode_block(fwl_Response *resp, tool_blob *blob);

/* --- Transactions ------------------------------------------------------------------------ */

/* Sign body with the keys of t (setting chain id and nonce), submit it, wait for its block
 * unless t->no_wait, print the result (with the fields of extra, a JSON object or NULL,
 * which is consumed) and return the exit code. */
int tool_tx_run(const tool_opts *o, const tool_txopts *t, fwl_TxBody *body, json_t *extra);

/* --- Output ------------------------------------------------------------------------------ */

/* Print obj as JSON (--json) or as aligned "key value" lines; consumes obj. */
void tool_output(const tool_opts *o, json_t *obj);
void tool_json_print(json_t *v); /* consumes v */
json_t *tool_json_hex(const uint8_t *b, size_t len);
/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
json_t *tool_json_str(const char *s);
/* Replace control characters in s (a node's text, about to reach a terminal) with '?'. */
char *tool_clean(char *s);
/* "2026-11-21T21:14:51Z" for Unix seconds. */
const char *tool_fmt_time(uint64_t secs, char buf[32]);
const char *tool_hash_name(uint32_t alg);
const char *tool_sig_name(uint32_t alg);
/* "vulnerable", ... for a RevokeReason; "unknown" out of range. */
const char *tool_reason_name(int reason);
/* Hardware support as given to publish --hardware: MODEL[:MIN-MAX][+ADDON...]. */
int tool_hw_parse(const char *s, fwl_HardwareSupport *hw);
void tool_hw_format(const fwl_HardwareSupport *hw, char *out, size_t cap);

#endif
