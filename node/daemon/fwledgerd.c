/* fwledgerd: the fwledger node. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/client/client.h"
#include "node/daemon/daemon.h"
#include "node/files/files.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fwledgerd --config FILE [--listen HOST:PORT] [--data-dir DIR]\n"
            "       fwledgerd --config FILE --verify-state [--data-dir DIR]\n"
            "\n"
            "Runs a fwledger node: serves RPC and produces blocks until SIGINT or SIGTERM.\n"
            "With --verify-state it checks the data directory instead and exits: the state\n"
            "root recomputed from the stored records must equal the state tree's (the one\n"
            "every block header names); exit 0 when they agree, 1 when not.\n"
            "\n"
            "  -c, --config FILE      node config (JSON; see docs/operator.md); relative paths in\n"
            "                         it are resolved against its directory\n"
            "  -l, --listen HOST:PORT override rpc_listen\n"
            "  -d, --data-dir DIR     override data_dir\n"
            "      --verify-state     check the state tree against the records and exit\n"
            "  -h, --help             this help\n");
}

/* --verify-state: the tree's root against the one recomputed from the tables. */
static int verify(const node_config *cfg)
{
    char err[4200] = "", a[2 * LDG_DIGEST_LEN + 1], b[2 * LDG_DIGEST_LEN + 1];
    ldg_genesis *g = calloc(1, sizeof *g);
    ldg_store *st = NULL;
    uint8_t stored[LDG_DIGEST_LEN], computed[LDG_DIGEST_LEN];
    ldg_tip t = {0};
    int rc = g ? node_genesis_load(cfg->genesis, g, err, sizeof err) : LDG_ENOMEM;
    if (!rc && (rc = ldg_store_open(&st, cfg->data_dir, g, (size_t)cfg->map_size_mib << 20)))
        snprintf(err, sizeof err, "data directory %s: %s", cfg->data_dir, node_strerror(rc));
    if (!rc && !(rc = ldg_store_tip(st, &t))) {
        rc = ldg_store_verify_state(st, stored, computed);
        if (rc && rc != LDG_EPROOF)
            snprintf(err, sizeof err, "%s", node_strerror(rc));
    }
    ldg_store_close(st);
    free(g);
    if (rc && rc != LDG_EPROOF) {
        fprintf(stderr, "fwledgerd: --verify-state: %s\n", err);
        return 1;
    }
    node_hex(stored, LDG_DIGEST_LEN, a);
    node_hex(computed, LDG_DIGEST_LEN, b);
    printf("height %" PRIu64 ": state tree root %s\nrecomputed from the records %s: %s\n",
           t.height, a, b, rc ? "MISMATCH" : "ok");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"verify-state", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *listen = NULL, *data_dir = NULL;
    bool verify_state = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:l:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'V': verify_state = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }
    node_config cfg;
    node_config_origin origin = {.path = config, .overrides = ""};
    char err[512], overrides[2 * 4096 + 32];
    if (node_config_load_hashed(config, &cfg, origin.sha256, err, sizeof err)) {
        fprintf(stderr, "fwledgerd: %s: %s\n", config, err);
        return 1;
    }
    if (listen) {
        const char *colon = strrchr(listen, ':');
        if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof cfg.rpc_host ||
            atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
            fprintf(stderr, "fwledgerd: --listen wants HOST:PORT\n");
            return 2;
        }
        snprintf(cfg.rpc_host, sizeof cfg.rpc_host, "%.*s", (int)(colon - listen), listen);
        cfg.rpc_port = atoi(colon + 1);
    }
    if (data_dir)
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
    if (verify_state)
        return verify(&cfg);
    if (listen || data_dir) {
        snprintf(overrides, sizeof overrides, "%s%s%s%s%s", listen ? "--listen " : "",
                 listen ? listen : "", listen && data_dir ? " " : "",
                 data_dir ? "--data-dir " : "", data_dir ? data_dir : "");
        origin.overrides = overrides;
    }
    if (node_run(&cfg, &origin, err, sizeof err)) {
        fprintf(stderr, "fwledgerd: %s\n", err);
        return 1;
    }
    return 0;
}
