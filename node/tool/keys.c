/*
 * Offline subcommands: keygen (one key file) and init (a complete dev chain directory:
 * keys, genesis and node config; or a local cluster: one directory per node).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "node/tool/tool.h"

enum {
    OPT_ALG = TOOL_OPT_LOCAL,
    OPT_OUT,
    OPT_FORCE,
    OPT_CHAIN_ID,
    OPT_PORT,
    OPT_PRODUCT,
    OPT_VALIDATORS,
    OPT_REPLICAS,
    OPT_BASE_PORT,
};

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
    "       fwledger init DIR --validators N [--replicas M] [--base-port P] [--chain-id ID]\n"
    "                     [--alg NAME] [--product P...]\n"
    "\n"
    "Create a single-validator development chain in DIR (created if missing): admin.key,\n"
    "author.key, validator.key, node.key (the node's ed25519 identity: its RPC port's TLS\n"
    "key), genesis.json (one admin, threshold 1; one validator, with that identity; the\n"
    "author registered for each product) and node.json (data in DIR/data). Refuses a DIR\n"
    "that already holds any of these files. Start the node with\n"
    "  fwledgerd --config DIR/node.json\n"
    "and reach it with  fwledger status --genesis DIR/genesis.json --node 127.0.0.1:PORT\n"
    "\n"
    "With --validators N above 1 or --replicas M above 0, create a local cluster instead:\n"
    "DIR/genesis.json (N validators of power 1, each with an ed25519 node identity key; one\n"
    "admin; the author registered for each product), DIR/admin.key, DIR/author.key, and a\n"
    "directory per node, DIR/node0 to DIR/node<N+M-1>, validators first, each with node.json,\n"
    "node.key (its identity), validator.key (validators only) and its data in data/. Node K\n"
    "serves RPC on 127.0.0.1:P+2K and p2p on 127.0.0.1:P+2K+1 and has every other node as a\n"
    "peer. Refuses a DIR that holds a genesis.json, admin.key, author.key or node<K>. Start\n"
    "it with scripts/cluster start N DIR [--replicas M], or each node with\n"
    "  fwledgerd --config DIR/nodeK/node.json\n"
    "\n"
    "  --chain-id ID    the chain id (default fwledger-dev)\n"
    "  --alg NAME       algorithm of the admin, author and validator keys (default\n"
    "                   secp256k1-ecdsa); identity keys are ed25519\n"
    "  --port N         RPC port on 127.0.0.1 of a single node (default 7400)\n"
    "  --product P      a product the author key may publish, repeatable\n"
    "                   (default acme-sensor-fw)\n"
    "  --validators N   validators, 1 to 32 (default 1)\n"
    "  --replicas M     non-voting replicas (default 0); at most 65 nodes in all\n"
    "  --base-port P    the first port (default 7400): a cluster uses P to P+2(N+M)-1; for a\n"
    "                   single node, the same as --port\n";
_Static_assert(LDG_MAX_VALIDATORS == 32 && NODE_MAX_PEERS + 1 == 65,
               "the usage says 1 to 32 validators, at most 65 nodes (every other one a peer)");

static const char *const init_files[] = {"admin.key",   "author.key",   "validator.key",
                                         "node.key",    "genesis.json", "node.json"};
enum { F_ADMIN, F_AUTHOR, F_VALIDATOR, F_IDENTITY, F_GENESIS, F_CONFIG, F_COUNT };

typedef struct {
    const char *dir;
    char path[F_COUNT][4096];
    bool created[F_COUNT];
    const char *chain_id;
    const ldg_sig_impl *alg;
    int port;
    const char *products[LDG_MAX_GENESIS_AUTHORS];
    size_t n_products;
    node_key keys[4]; /* admin, author, validator, identity: indexed like F_* */
    uint32_t n_validators, n_replicas; /* a cluster when above 1 or 0 */
    bool port_given, base_port_given;
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
    g->validator_ids[0] = x->keys[F_IDENTITY].pub; /* what clients of its RPC port pin */
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
    for (int i = F_ADMIN; i <= F_IDENTITY; i++) {
        generate(i == F_IDENTITY ? ldg_sig_by_id(LDG_SIG_ED25519) : x->alg, &x->keys[i]);
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
    snprintf(cfg->identity_key, sizeof cfg->identity_key, "node.key");
    snprintf(cfg->rpc_host, sizeof cfg->rpc_host, "127.0.0.1");
    cfg->rpc_port = x->port;
    if ((rc = node_config_save(x->path[F_CONFIG], cfg)))
        init_fail(x, rc, x->path[F_CONFIG]);
    x->created[F_CONFIG] = true;
    free(cfg);
}

static void init_report(const init_ctx *x)
{
    static const char *const roles[] = {"chain admin", "author", "validator",
                                        "node identity (TLS)"};
    char hex[2 * LDG_PUBKEY_MAX + 1];
    printf("initialised %s (chain %s)\n", x->dir, x->chain_id);
    for (int i = F_ADMIN; i <= F_IDENTITY; i++) {
        node_hex(x->keys[i].pub.key, x->keys[i].pub.len, hex);
        printf("  %-14s %s key, %s %s\n", init_files[i], roles[i],
               ldg_sig_by_id(x->keys[i].pub.alg)->name, hex);
    }
    printf("  %-14s admin threshold 1, 1 validator, author of", init_files[F_GENESIS]);
    for (size_t i = 0; i < x->n_products; i++)
        printf(" %s", x->products[i]);
    printf("\n  %-14s rpc_listen 127.0.0.1:%d, data_dir %s/data\n", init_files[F_CONFIG],
           x->port, x->dir);
    printf("start the node with: fwledgerd --config %s\n", x->path[F_CONFIG]);
}

/* --- init: a local cluster ---------------------------------------------------------------- */

/* Every node has all the others as peers. */
#define CLUSTER_MAX_NODES (NODE_MAX_PEERS + 1)
/* A chain id and a product name as the schema bounds them (fwl.TxBody.chain_id,
 * fwl.Release.product, fwl.AuthorTx.product; the genesis keeps them as strings). */
#define CHAIN_ID_MAX (sizeof ((fwl_TxBody *)0)->chain_id - 1)
#define PRODUCT_MAX (sizeof ((fwl_Release *)0)->product - 1)
_Static_assert(PRODUCT_MAX == sizeof ((fwl_AuthorTx *)0)->product - 1,
               "fwl.Release.product and fwl.AuthorTx.product max_size");
/* What a cluster init may create: 2 keys, the genesis, and per node a directory, 2 keys and
 * node.json; undone in reverse order when a step fails. */
#define CLUSTER_MAX_CREATED (3 + 4 * CLUSTER_MAX_NODES)

typedef struct {
    init_ctx *x;
    size_t n_nodes;
    node_key admin, author;
    node_key vkeys[LDG_MAX_VALIDATORS];
    node_key ids[CLUSTER_MAX_NODES];
    char *created[CLUSTER_MAX_CREATED];
    bool created_dir[CLUSTER_MAX_CREATED];
    size_t n_created;
    char path[4096];
} cluster_ctx;

static void cluster_wipe(cluster_ctx *c)
{
    OPENSSL_cleanse(&c->admin, sizeof c->admin);
    OPENSSL_cleanse(&c->author, sizeof c->author);
    OPENSSL_cleanse(c->vkeys, sizeof c->vkeys);
    OPENSSL_cleanse(c->ids, sizeof c->ids);
}

/* Undo a half-made cluster so that init can simply be run again; then exit 1. */
static noreturn void cluster_fail(cluster_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static noreturn void cluster_fail(cluster_ctx *c, const char *fmt, ...)
{
    char msg[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    while (c->n_created--) {
        size_t i = c->n_created;
        if (c->created_dir[i])
            rmdir(c->created[i]);
        else
            unlink(c->created[i]);
        free(c->created[i]);
    }
    cluster_wipe(c);
    tool_die("%s", msg);
}

static void cluster_created(cluster_ctx *c, const char *path, bool dir)
{
    char *p = strdup(path);
    if (!p || c->n_created == CLUSTER_MAX_CREATED)
        cluster_fail(c, "out of memory");
    c->created_dir[c->n_created] = dir;
    c->created[c->n_created++] = p;
}

/* c->path = DIR/name (node SIZE_MAX) or DIR/node<k>/name ("" name: the node's directory). */
static const char *cluster_path(cluster_ctx *c, size_t node, const char *name)
{
    int n = node == SIZE_MAX
                ? snprintf(c->path, sizeof c->path, "%s/%s", c->x->dir, name)
                : snprintf(c->path, sizeof c->path, "%s/node%zu%s%s", c->x->dir, node,
                           *name ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof c->path)
        tool_usage_error("DIR is too long");
    return c->path;
}

static void cluster_prepare(cluster_ctx *c)
{
    static const char *const top[] = {"genesis.json", "admin.key", "author.key"};
    const char *dir = c->x->dir;
    struct stat sb;

    if (mkdir(dir, 0755) && errno != EEXIST)
        tool_die("%s: %s", dir, strerror(errno));
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
        tool_die("%s: not a directory", dir);
    cluster_path(c, CLUSTER_MAX_NODES, "node.json"); /* the longest path: fails early */
    if (access(cluster_path(c, SIZE_MAX, "genesis.json"), F_OK) == 0)
        tool_die("%s already holds a chain (genesis.json): refusing to initialise it again",
                 dir);
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (access(cluster_path(c, SIZE_MAX, top[i]), F_OK) == 0)
            tool_die("%s already exists: refusing to replace it", c->path);
    for (size_t k = 0; k < c->n_nodes; k++)
        if (access(cluster_path(c, k, ""), F_OK) == 0)
            tool_die("%s already exists: refusing to replace it", c->path);
}

static void cluster_save_key(cluster_ctx *c, size_t node, const char *name, const node_key *k)
{
    int rc = node_key_save(cluster_path(c, node, name), k);
    if (rc)
        cluster_fail(c, "%s: error %d (%s)", c->path, rc, node_strerror(rc));
    cluster_created(c, c->path, false);
}

static void cluster_genesis(cluster_ctx *c, ldg_genesis *g)
{
    const init_ctx *x = c->x;

    snprintf(g->chain_id, sizeof g->chain_id, "%s", x->chain_id);
    g->hash_alg = LDG_HASH_SHA256;
    g->genesis_time_ms = (uint64_t)time(NULL) * 1000;
    g->admins[0] = c->admin.pub;
    g->n_admins = 1;
    g->admin_threshold = 1;
    for (size_t i = 0; i < x->n_validators; i++) {
        g->validators[i] = c->vkeys[i].pub;
        g->validator_power[i] = 1;
        g->validator_ids[i] = c->ids[i].pub;
    }
    g->n_validators = x->n_validators;
    for (size_t i = 0; i < x->n_products; i++) {
        ldg_genesis_author *a = &g->authors[i];
        snprintf(a->product, sizeof a->product, "%s", x->products[i]);
        snprintf(a->name, sizeof a->name, "dev author");
        a->key = c->author.pub;
    }
    g->n_authors = x->n_products;
}

/* Node k's config: its ports, its keys, every other node as a peer. */
static void cluster_config(const cluster_ctx *c, size_t k, node_config *cfg)
{
    node_config_defaults(cfg);
    snprintf(cfg->genesis, sizeof cfg->genesis, "../genesis.json");
    if (k >= c->x->n_validators)
        cfg->validator_key[0] = '\0'; /* a non-voting replica */
    snprintf(cfg->identity_key, sizeof cfg->identity_key, "node.key");
    snprintf(cfg->rpc_host, sizeof cfg->rpc_host, "127.0.0.1");
    cfg->rpc_port = c->x->port + 2 * (int)k;
    snprintf(cfg->p2p_host, sizeof cfg->p2p_host, "127.0.0.1");
    cfg->p2p_port = cfg->rpc_port + 1;
    for (size_t j = 0; j < c->n_nodes; j++) {
        if (j == k)
            continue;
        node_peer *p = &cfg->peers[cfg->n_peers++];
        snprintf(p->host, sizeof p->host, "127.0.0.1");
        p->port = c->x->port + 2 * (int)j + 1;
        p->identity = c->ids[j].pub;
        snprintf(p->name, sizeof p->name, "node%zu", j); /* as its directory */
    }
}

/* Load what was written back the way fwledgerd will, and check it against the genesis: a
 * layout init makes must pass node_config_check. */
static void cluster_verify(cluster_ctx *c, size_t k, const ldg_genesis *g, node_config *cfg)
{
    char err[512];
    int rc = node_config_load(cluster_path(c, k, "node.json"), cfg, err, sizeof err);
    if (!rc)
        rc = node_config_check(cfg, g, k < c->x->n_validators ? &c->vkeys[k].pub : NULL,
                               &c->ids[k].pub, err, sizeof err);
    if (rc)
        cluster_fail(c, "%s does not check out: %s (a bug in init)", c->path, err);
}

static void cluster_report(cluster_ctx *c)
{
    const init_ctx *x = c->x;
    char hex[2 * LDG_PUBKEY_MAX + 1];

    printf("initialised %s (chain %s): %u validator%s, %u replica%s\n", x->dir, x->chain_id,
           x->n_validators, x->n_validators == 1 ? "" : "s", x->n_replicas,
           x->n_replicas == 1 ? "" : "s");
    node_hex(c->admin.pub.key, c->admin.pub.len, hex);
    printf("  %-14s chain admin key, %s %s\n", "admin.key", x->alg->name, hex);
    node_hex(c->author.pub.key, c->author.pub.len, hex);
    printf("  %-14s author key, %s %s\n", "author.key", x->alg->name, hex);
    printf("  %-14s admin threshold 1, %u validators with ed25519 identities, author of",
           "genesis.json", x->n_validators);
    for (size_t i = 0; i < x->n_products; i++)
        printf(" %s", x->products[i]);
    printf("\n");
    for (size_t k = 0; k < c->n_nodes; k++) {
        char name[32];
        snprintf(name, sizeof name, "node%zu/", k);
        printf("  %-14s %-9s rpc 127.0.0.1:%d  p2p 127.0.0.1:%d\n", name,
               k < x->n_validators ? "validator" : "replica", x->port + 2 * (int)k,
               x->port + 2 * (int)k + 1);
    }
    printf("start the cluster with: scripts/cluster start %u %s", x->n_validators, x->dir);
    if (x->n_replicas)
        printf(" --replicas %u", x->n_replicas);
    printf("\n");
}

static void init_cluster(init_ctx *x)
{
    cluster_ctx *c = tool_xcalloc(1, sizeof *c);
    ldg_genesis *g = tool_xcalloc(1, sizeof *g);
    node_config *cfg = tool_xcalloc(1, sizeof *cfg);
    const ldg_sig_impl *ed25519 = ldg_sig_by_id(LDG_SIG_ED25519);
    int rc;

    c->x = x;
    c->n_nodes = x->n_validators + x->n_replicas;
    if (!ed25519)
        tool_die("algorithm ed25519 is not available");
    cluster_prepare(c);

    generate(x->alg, &c->admin);
    generate(x->alg, &c->author);
    for (size_t i = 0; i < x->n_validators; i++)
        generate(x->alg, &c->vkeys[i]);
    for (size_t k = 0; k < c->n_nodes; k++)
        generate(ed25519, &c->ids[k]);

    cluster_save_key(c, SIZE_MAX, "admin.key", &c->admin);
    cluster_save_key(c, SIZE_MAX, "author.key", &c->author);
    cluster_genesis(c, g);
    if ((rc = node_genesis_save(cluster_path(c, SIZE_MAX, "genesis.json"), g)))
        cluster_fail(c, "%s: error %d (%s)", c->path, rc, node_strerror(rc));
    cluster_created(c, c->path, false);

    for (size_t k = 0; k < c->n_nodes; k++) {
        if (mkdir(cluster_path(c, k, ""), 0755))
            cluster_fail(c, "%s: %s", c->path, strerror(errno));
        cluster_created(c, c->path, true);
        if (k < x->n_validators)
            cluster_save_key(c, k, "validator.key", &c->vkeys[k]);
        cluster_save_key(c, k, "node.key", &c->ids[k]);
        cluster_config(c, k, cfg);
        if ((rc = node_config_save(cluster_path(c, k, "node.json"), cfg)))
            cluster_fail(c, "%s: error %d (%s)", c->path, rc, node_strerror(rc));
        cluster_created(c, c->path, false);
    }
    for (size_t k = 0; k < c->n_nodes; k++)
        cluster_verify(c, k, g, cfg);

    cluster_report(c);
    for (size_t i = 0; i < c->n_created; i++)
        free(c->created[i]);
    cluster_wipe(c);
    free(c);
    free(g);
    free(cfg);
}

static void init_opt(init_ctx *x, int opt, const char *v)
{
    switch (opt) {
    case OPT_CHAIN_ID:
        if (!*v || strlen(v) > CHAIN_ID_MAX)
            tool_usage_error("--chain-id: 1 to %zu characters", CHAIN_ID_MAX);
        x->chain_id = v;
        break;
    case OPT_ALG: x->alg = tool_parse_sig_alg("--alg", v); break;
    case OPT_PORT:
    case OPT_BASE_PORT: {
        const char *name = opt == OPT_PORT ? "--port" : "--base-port";
        uint32_t p = tool_parse_u32(name, v);
        if (p == 0 || p > 65535)
            tool_usage_error("%s: 1 to 65535", name);
        x->port = (int)p;
        *(opt == OPT_PORT ? &x->port_given : &x->base_port_given) = true;
        break;
    }
    case OPT_VALIDATORS:
        x->n_validators = tool_parse_u32("--validators", v);
        if (x->n_validators < 1 || x->n_validators > LDG_MAX_VALIDATORS)
            tool_usage_error("--validators: 1 to %d", LDG_MAX_VALIDATORS);
        break;
    case OPT_REPLICAS:
        x->n_replicas = tool_parse_u32("--replicas", v);
        if (x->n_replicas > CLUSTER_MAX_NODES)
            tool_usage_error("--replicas: at most %d nodes in all", CLUSTER_MAX_NODES);
        break;
    case OPT_PRODUCT:
        if (x->n_products == LDG_MAX_GENESIS_AUTHORS)
            tool_usage_error("at most %d --product options", LDG_MAX_GENESIS_AUTHORS);
        if (!*v || strlen(v) > PRODUCT_MAX)
            tool_usage_error("--product: 1 to %zu characters", PRODUCT_MAX);
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
        {"validators", required_argument, NULL, OPT_VALIDATORS},
        {"replicas", required_argument, NULL, OPT_REPLICAS},
        {"base-port", required_argument, NULL, OPT_BASE_PORT},
        TOOL_OPTS_HELP, {0}};
    tool_opts o;
    init_ctx *x = tool_xcalloc(1, sizeof *x);
    int c;

    x->chain_id = "fwledger-dev";
    x->port = TOOL_DEFAULT_PORT;
    x->n_validators = 1;
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
    if (x->port_given && x->base_port_given)
        tool_usage_error("--port and --base-port: give one");
    if (x->n_validators > 1 || x->n_replicas > 0) {
        if (x->port_given)
            tool_usage_error("--port is for a single node: a cluster takes --base-port");
        if (x->n_validators + x->n_replicas > CLUSTER_MAX_NODES)
            tool_usage_error("--validators and --replicas: at most %d nodes in all",
                             CLUSTER_MAX_NODES);
        if ((uint32_t)x->port + 2 * (x->n_validators + x->n_replicas) - 1 > 65535)
            tool_usage_error("--base-port: the cluster needs ports %d to %u, past 65535",
                             x->port, x->port + 2 * (x->n_validators + x->n_replicas) - 1);
        init_cluster(x);
        free(x);
        return TOOL_EXIT_OK;
    }

    init_prepare(x);
    init_write(x);
    init_report(x);
    OPENSSL_cleanse(x->keys, sizeof x->keys);
    free(x);
    return TOOL_EXIT_OK;
}
