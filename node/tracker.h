/*
 * The tracker client library: what a status tracker links to ask a node, before it starts
 * an update, what each device may install. One header; link build/libfwl.a (and the
 * libraries in the Makefile's LDLIBS).
 *
 *     fwl_tracker *t;
 *     fwl_tracker_connect(&t, "127.0.0.1", 7400, 5000);
 *     fwl_Device dev = {...};                        // id, model, revision, packages, ...
 *     fwl_tracker_eligible(t, &dev, 1, on_answer, ctx, &height, block_hash, err, sizeof err);
 *     fwl_tracker_close(t);
 *
 * The answer for each device comes to the callback (in request order): per product, the
 * best eligible release, the plan, the rejected candidates with their rule, and the
 * device's status; height and block_hash name the chain state it was computed at. Blocking;
 * one request at a time per fwl_tracker; not thread-safe (use one per thread).
 */
#ifndef FWL_NODE_TRACKER_H
#define FWL_NODE_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "fwledger.pb.h"

typedef struct fwl_tracker fwl_tracker;

/* Errors: NODE_ECONNECT, LDG_ENOMEM. */
int fwl_tracker_connect(fwl_tracker **out, const char *host, int port, uint32_t timeout_ms);
void fwl_tracker_close(fwl_tracker *t);

typedef void (*fwl_answer_cb)(void *ctx, const fwl_DeviceAnswer *answer);

/* Ask about n devices (1..16). cb gets each answer (valid during the call). height and
 * block_hash (32 bytes; either may be NULL) receive the state the answers are based on.
 * Errors: the node's error code (negative) with its message in err, among them NODE_EBUSY
 * when the node has too many devices waiting (ask again a little later); NODE_ETIMEOUT,
 * NODE_EPROTO, NODE_ECONNECT; LDG_EINVALID for n outside 1..16. */
int fwl_tracker_eligible(fwl_tracker *t, const fwl_Device *devices, size_t n, fwl_answer_cb cb,
                         void *ctx, uint64_t *height, uint8_t *block_hash, char *err,
                         size_t errlen);

#endif
