/* node/daemon: who is owed an answer, as the daemon's components pass it between them. */
#ifndef FWL_NODE_DAEMON_REPLY_TO_H
#define FWL_NODE_DAEMON_REPLY_TO_H

#include <stdint.h>

/* An RPC connection's slot, the slot's generation when the request came (a reused slot has
 * another), and the request id. Opaque to every component but rpc. */
typedef struct {
    uint32_t slot, gen;
    uint64_t id;
} node_reply_to;
#define NODE_NO_CLIENT UINT32_MAX /* owed nothing: e.g. a tx from a peer */

#endif
