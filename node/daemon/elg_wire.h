/*
 * node/daemon internal: the Eligible answer on the wire (elg_wire.c), the encoder of the
 * eligibility component (elg_worker.c decides and calls it).
 *
 * Response{id, eligible: EligibleResp{answers, at_height, block_hash, proof}} written straight
 * from the decisions (ctr_answer, contracts/contracts.h): sizes computed from the answers bottom up, then
 * the bytes in one pass. The output is what nanopb would encode for the same values
 * (proto3: zero scalars and empty strings left out, fields in number order; checked by
 * tests/functional/eligible_query); strings are cut to the sizes the .options give the
 * decoding side.
 */
#ifndef FWL_NODE_ELG_WIRE_H
#define FWL_NODE_ELG_WIRE_H

#include "contracts/contracts.h"

/* One device's answer as the node sends it. Strings borrowed. */
typedef struct {
    const char *id;
    int error;                              /* the device could not be answered  */
    char message[sizeof ((fwl_Error *)0)->message];
    size_t n;                               /* products answered                  */
    ctr_answer ans[CTR_PRODUCTS_MAX];
    const char *policy[CTR_PRODUCTS_MAX];   /* label of each product's policy     */
    size_t body[CTR_PRODUCTS_MAX + 1];      /* the encoder's sizes                */
} elg_device_answer;

/* The encoded size of the Response for answers a[0..n) at tip t (keeps part sizes in
 * a[].body for elg_wire_write), with tail_len bytes of further EligibleResp fields (the
 * encoded proof, field 4) at its end. */
size_t elg_wire_size(uint64_t id, elg_device_answer *a, size_t n, const ldg_tip *t,
                     size_t tail_len);
/* Write that Response into buf (size bytes, from elg_wire_size on the same answers and
 * tail length); returns the bytes written, which equal size unless there is a bug. */
size_t elg_wire_write(uint8_t *buf, size_t size, uint64_t id, const elg_device_answer *a,
                      size_t n, const ldg_tip *t, const uint8_t *tail, size_t tail_len);

#endif
