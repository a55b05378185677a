/* fwledgerd: the fwledger node. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/daemon/daemon.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fwledgerd --config FILE [--listen HOST:PORT] [--data-dir DIR]\n"
            "\n"
            "Runs a fwledger node: serves RPC and produces blocks until SIGINT or SIGTERM.\n"
            "\n"
            "  -c, --config FILE      node config (JSON; see docs/operator.md); relative paths in\n"
            "                         it are resolved against its directory\n"
            "  -l, --listen HOST:PORT override rpc_listen\n"
            "  -d, --data-dir DIR     override data_dir\n"
            "  -h, --help             this help\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *listen = NULL, *data_dir = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:l:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'd': data_dir = optarg; break;
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
