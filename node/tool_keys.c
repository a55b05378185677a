/*
 * Offline subcommands: keygen (one key file) and init (a complete dev chain directory:
 * keys, genesis and node config).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "node/tool.h"

enum { OPT_ALG = TOOL_OPT_LOCAL, OPT_OUT, OPT_FORCE, OPT_CHAIN_ID, OPT_PORT, OPT_PRODUCT };

#define DEFAULT_ALG "secp256k1-ecdsa"

static void generate(const ldg_sig_impl *alg, node_key *k)
{
    int rc = node_key_generate(alg->id, k);
    if (rc)
        tool_die_rc(rc, "key generation", NULL);
}

static json_t *pub_json(const node_key *k)
{
    return tool_json_hex(k->pub.key, k->pub.len);
}

/* --- keygen ------------------------------------------------------------------------------- */

static const char keygen_usage[] =
    "usage: fwledger keygen --alg NAME [--out FILE [--force]] [--json]\n"
    "\n"
    "Generate a signing key. With --out, write the key file (mode 0600; an existing file\n"
    "is kept unless --force) and print the algorithm and public key. Without --out, print\n"
    "the key file's contents, secret included, on standard output.\n"
    "\n"
    "  --alg NAME   secp256k1-ecdsa, secp256k1-schnorr, ed25519 or p256-ecdsa\n"
    "  --out FILE   the key file to write\n"
    "  --force      replace FILE if it exists\n"
    "  --json       print {\"alg\", \"public\", \"file\"}\n";

/* Claim path for a new key file: O_EXCL makes "refuse to overwrite" race-free; the atomic
 * save then replaces the empty placeholder. */
static void write_key(const char *path, const node_key *k, bool force)
{
    bool placeholder = false;
    if (!force) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            tool_die("%s: file exists (use --force to replace it)", path);
        if (fd < 0)
            tool_die("%s: %s", path, strerror(errno));
        close(fd);
        placeholder = true;
    }
    int rc = node_key_save(path, k);
    if (rc) {
        if (placeholder)
            unlink(path);
        tool_die_rc(rc, path, NULL);
    }
}

/* The key file format, for a key printed instead of written (keygen without --out). */
static json_t *key_doc(const node_key *k, const ldg_sig_impl *alg)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "alg", json_string(alg->name));
    json_object_set_new(doc, "secret", tool_json_hex(k->sec, alg->sec_len));
    json_object_set_new(doc, "public", pub_json(k));
    return doc;
}

int keygen_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"alg", required_argument, NULL, OPT_ALG},
        {"out", required_argument, NULL, OPT_OUT},
        {"force", no_argument, NULL, OPT_FORCE},
        TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    const ldg_sig_impl *alg = NULL;
    const char *out = NULL;
    bool force = false;
    int c;

    tool_opts_init(&o, keygen_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_ALG: alg = tool_parse_sig_alg("--alg", optarg); break;
        case OPT_OUT: out = optarg; break;
        case OPT_FORCE: force = true; break;
        default: tool_common_opt(&o, NULL, c, argv);
        }
    }
    if (optind < argc)
        tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!alg)
        tool_usage_error("--alg is required");

    node_key k;
    generate(alg, &k);
    if (!out) {
        tool_json_print(key_doc(&k, alg));
        OPENSSL_cleanse(&k, sizeof k);
        return TOOL_EXIT_OK;
    }
    write_key(out, &k, force);
    json_t *res = json_object();
    json_object_set_new(res, "alg", json_string(alg->name));
    json_object_set_new(res, "public", pub_json(&k));
    json_object_set_new(res, "file", tool_json_str(out));
    OPENSSL_cleanse(&k, sizeof k);
    tool_output(&o, res);
    return TOOL_EXIT_OK;
}

/* --- init --------------------------------------------------------------------------------- */

static const char init_usage[] =
    "usage: fwledger init DIR [--chain-id ID] [--alg NAME] [--port N] [--product P...]\n"
    "\n"
    "Create a single-validator development chain in DIR (created if missing): admin.key,\n"
    "author.key, validator.key, genesis.json (one admin, threshold 1; one validator; the\n"
    "author registered for each product) and node.json (data in DIR/data). Refuses a DIR\n"
    "that already holds any of these files. Start the node with\n"
    "  fwledgerd --config DIR/node.json\n"
    "\n"
    "  --chain-id ID  the chain id (default fwledger-dev)\n"
    "  --alg NAME     algorithm of all three keys (default secp256k1-ecdsa)\n"
    "  --port N       RPC port on 127.0.0.1 (default 7400)\n"
    "  --product P    a product the author key may publish, repeatable\n"
    "                 (default acme-sensor-fw)\n";

static const char *const init_files[] = {"admin.key", "author.key", "validator.key",
                                         "genesis.json", "node.json"};
enum { F_ADMIN, F_AUTHOR, F_VALIDATOR, F_GENESIS, F_CONFIG, F_COUNT };

typedef struct {
    const char *dir;
    char path[F_COUNT][4096];
    bool created[F_COUNT];
    const char *chain_id;
    const ldg_sig_impl *alg;
    int port;
    const char *products[LDG_MAX_GENESIS_AUTHORS];
    size_t n_products;
    node_key keys[3]; /* admin, author, validator: indexed like F_* */
} init_ctx;

/* Undo a half-made directory so that init can simply be run again. */
static noreturn void init_fail(init_ctx *x, int rc, const char *what)
{
    for (int i = 0; i < F_COUNT; i++)
        if (x->created[i])
            unlink(x->path[i]);
    OPENSSL_cleanse(x->keys, sizeof x->keys);
    tool_die_rc(rc, what, NULL);
}

static void init_prepare(init_ctx *x)
{
    if (mkdir(x->dir, 0755) && errno != EEXIST)
        tool_die("%s: %s", x->dir, strerror(errno));
    struct stat sb;
    if (stat(x->dir, &sb) || !S_ISDIR(sb.st_mode))
        tool_die("%s: not a directory", x->dir);
    for (int i = 0; i < F_COUNT; i++)
        if ((size_t)snprintf(x->path[i], sizeof x->path[i], "%s/%s", x->dir, init_files[i]) >=
            sizeof x->path[i])
            tool_usage_error("DIR is too long");
    if (access(x->path[F_GENESIS], F_OK) == 0)
        tool_die("%s already holds a chain (genesis.json): refusing to initialise it again",
                 x->dir);
    /* Nor is any key or config file there replaced. */
    for (int i = 0; i < F_COUNT; i++)
        if (access(x->path[i], F_OK) == 0)
            tool_die("%s already exists: refusing to replace it", x->path[i]);
}

static void init_genesis(init_ctx *x, ldg_genesis *g)
{
    snprintf(g->chain_id, sizeof g->chain_id, "%s", x->chain_id);
    g->hash_alg = LDG_HASH_SHA256;
    g->genesis_time_ms = (uint64_t)time(NULL) * 1000;
    g->admins[0] = x->keys[F_ADMIN].pub;
    g->n_admins = 1;
    g->admin_threshold = 1;
    g->validators[0] = x->keys[F_VALIDATOR].pub;
    g->validator_power[0] = 1;
    g->n_validators = 1;
    for (size_t i = 0; i < x->n_products; i++) {
        ldg_genesis_author *a = &g->authors[i];
        snprintf(a->product, sizeof a->product, "%s", x->products[i]);
        snprintf(a->name, sizeof a->name, "dev author");
        a->key = x->keys[F_AUTHOR].pub;
    }
    g->n_authors = x->n_products;
}

static void init_write(init_ctx *x)
{
    int rc;
    for (int i = F_ADMIN; i <= F_VALIDATOR; i++) {
        generate(x->alg, &x->keys[i]);
        if ((rc = node_key_save(x->path[i], &x->keys[i])))
            init_fail(x, rc, x->path[i]);
        x->created[i] = true;
    }
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);
    init_genesis(x, g);
    if ((rc = node_genesis_save(x->path[F_GENESIS], g)))
        init_fail(x, rc, x->path[F_GENESIS]);
    x->created[F_GENESIS] = true;
    free(g);

    node_config *cfg = tool_xcalloc(1, sizeof *cfg);
    node_config_defaults(cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "data");
    snprintf(cfg->genesis, sizeof cfg->genesis, "genesis.json");
    snprintf(cfg->validator_key, sizeof cfg->validator_key, "validator.key");
    snprintf(cfg->rpc_host, sizeof cfg->rpc_host, "127.0.0.1");
    cfg->rpc_port = x->port;
    if ((rc = node_config_save(x->path[F_CONFIG], cfg)))
        init_fail(x, rc, x->path[F_CONFIG]);
    x->created[F_CONFIG] = true;
    free(cfg);
}

static void init_report(const init_ctx *x)
{
    static const char *const roles[] = {"chain admin", "author", "validator"};
    char hex[2 * LDG_PUBKEY_MAX + 1];
    printf("initialised %s (chain %s)\n", x->dir, x->chain_id);
    for (int i = F_ADMIN; i <= F_VALIDATOR; i++) {
        node_hex(x->keys[i].pub.key, x->keys[i].pub.len, hex);
        printf("  %-14s %s key, %s %s\n", init_files[i], roles[i], x->alg->name, hex);
    }
    printf("  %-14s admin threshold 1, 1 validator, author of", init_files[F_GENESIS]);
    for (size_t i = 0; i < x->n_products; i++)
        printf(" %s", x->products[i]);
    printf("\n  %-14s rpc_listen 127.0.0.1:%d, data_dir %s/data\n", init_files[F_CONFIG],
           x->port, x->dir);
    printf("start the node with: fwledgerd --config %s\n", x->path[F_CONFIG]);
}

static void init_opt(init_ctx *x, int opt, const char *v)
{
    switch (opt) {
    case OPT_CHAIN_ID:
        if (!*v || strlen(v) > 64)
            tool_usage_error("--chain-id: 1 to 64 characters");
        x->chain_id = v;
        break;
    case OPT_ALG: x->alg = tool_parse_sig_alg("--alg", v); break;
    case OPT_PORT: {
        uint32_t p = tool_parse_u32("--port", v);
        if (p == 0 || p > 65535)
            tool_usage_error("--port: 1 to 65535");
        x->port = (int)p;
        break;
    }
    case OPT_PRODUCT:
        if (x->n_products == LDG_MAX_GENESIS_AUTHORS)
            tool_usage_error("at most %d --product options", LDG_MAX_GENESIS_AUTHORS);
        if (!*v || strlen(v) > 64)
            tool_usage_error("--product: 1 to 64 characters");
        x->products[x->n_products++] = v;
        break;
    }
}

int init_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"chain-id", required_argument, NULL, OPT_CHAIN_ID},
        {"alg", required_argument, NULL, OPT_ALG},
        {"port", required_argument, NULL, OPT_PORT},
        {"product", required_argument, NULL, OPT_PRODUCT},
        TOOL_OPTS_HELP, {0}};
    tool_opts o;
    init_ctx *x = tool_xcalloc(1, sizeof *x);
    int c;

    x->chain_id = "fwledger-dev";
    x->port = TOOL_DEFAULT_PORT;
    tool_opts_init(&o, init_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c >= TOOL_OPT_LOCAL)
            init_opt(x, c, optarg);
        else
            tool_common_opt(&o, NULL, c, argv);
    }
    if (optind + 1 != argc)
        tool_usage_error("%s", optind == argc ? "expected DIR" : "too many arguments");
    x->dir = argv[optind];
    if (!x->alg)
        x->alg = ldg_sig_by_name(DEFAULT_ALG);
    if (!x->alg)
        tool_die("algorithm %s is not available", DEFAULT_ALG);
    if (x->n_products == 0)
        x->products[x->n_products++] = "acme-sensor-fw";

    init_prepare(x);
    init_write(x);
    init_report(x);
    OPENSSL_cleanse(x->keys, sizeof x->keys);
    free(x);
    return TOOL_EXIT_OK;
}
