/*
 * node/daemon: fwledgerd, the node. Its components (rpc, mempool, chain, eligibility) live
 * in this folder; this header is what the daemon's main (fwledgerd.c) and tests call.
 */
#ifndef FWL_NODE_DAEMON_H
#define FWL_NODE_DAEMON_H

#include "node/files/files.h"

/* ---------------------------------------------------------------------------------------- */
/* The node (node/daemon/server.c)                                                                  */

/* Where the config came from, for the audit log's config_loaded event. */
typedef struct {
    const char *path;   /* the config file                                               */
    uint8_t sha256[32]; /* of the bytes parsed (node_config_load_hashed)                 */
    const char *overrides; /* what the command line changed ("--listen ...", or "")      */
} node_config_origin;

/* Run fwledgerd with this config until SIGINT or SIGTERM: open the store (locking the data
 * directory) and the audit log, serve RPC, produce blocks through the consensus engine.
 * origin: NULL when the config was not read from a file. Returns 0 after a graceful stop,
 * or an error (with a message in err) when it cannot start. */
int node_run(const node_config *cfg, const node_config_origin *origin, char *err,
             size_t errlen);

#endif
