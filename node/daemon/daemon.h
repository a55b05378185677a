/*
 * node/daemon: fwledgerd, the node. Its components (rpc, mempool, chain, eligibility) live
 * in this folder; this header is what the daemon's main (fwledgerd.c) and tests call.
 */
#ifndef FWL_NODE_DAEMON_H
#define FWL_NODE_DAEMON_H

#include "node/files/files.h"

/* ---------------------------------------------------------------------------------------- */
/* The node (node/daemon/server.c)                                                                  */

/* Run fwledgerd with this config until SIGINT or SIGTERM: open the store (locking the data
 * directory), serve RPC, produce blocks through the consensus engine. Returns 0 after a
 * graceful stop, or an error (with a message in err) when it cannot start. */
int node_run(const node_config *cfg, char *err, size_t errlen);

#endif
