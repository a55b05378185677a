/*
 * The Eligible answer on the wire: see elg_wire.h.
 */
#include <string.h>

#include "node/daemon/elg_wire.h"

#define SMAX(type, field) (sizeof ((type *)0)->field - 1)
#define SCOUNT(type, field) (sizeof ((type *)0)->field / sizeof ((type *)0)->field[0])

/* The decider's bounds (contracts/contracts.h) against the schema's (proto/fwledger.options):
 * what it answers must decode on the tracker's side, and what a device description carries
 * must fit its inputs. Strings longer than a field are cut below; these never are. */
_Static_assert(CTR_PRODUCTS_MAX <= SCOUNT(fwl_DeviceAnswer, products),
               "fwl.DeviceAnswer.products max_count");
_Static_assert(CTR_PLAN_MAX <= SCOUNT(fwl_ProductAnswer, plan), "fwl.ProductAnswer.plan max_count");
_Static_assert(CTR_REJECTED_MAX <= SCOUNT(fwl_ProductAnswer, rejected),
               "fwl.ProductAnswer.rejected max_count");
_Static_assert(CTR_RULE_MAX <= SMAX(fwl_Rejection, rule) + 1, "fwl.Rejection.rule max_size");
_Static_assert(CTR_REASON_MAX <= SMAX(fwl_Rejection, reason) + 1, "fwl.Rejection.reason max_size");
_Static_assert(CTR_REASON_MAX <= SMAX(fwl_ProductAnswer, unsatisfiable_reason) + 1,
               "fwl.ProductAnswer.unsatisfiable_reason max_size");
_Static_assert(LDG_DIGEST_LEN <= sizeof ((fwl_EligibleResp *)0)->block_hash.bytes,
               "fwl.EligibleResp.block_hash max_size");
_Static_assert(SCOUNT(fwl_Device, addons) <= CTR_LIST_MAX &&
                   SCOUNT(fwl_Device, tags) <= CTR_LIST_MAX &&
                   SCOUNT(fwl_Device, packages) <= CTR_LIST_MAX,
               "fwl.Device addons, tags, packages max_count: at most CTR_LIST_MAX");
_Static_assert(SMAX(fwl_Device, id) <= CTR_NAME_MAX &&
                   SMAX(fwl_Device, hardware_model) <= CTR_NAME_MAX &&
                   SMAX(fwl_Device, region) <= CTR_NAME_MAX &&
                   SMAX(fwl_Device, addons[0]) <= CTR_NAME_MAX &&
                   SMAX(fwl_Device, tags[0]) <= CTR_NAME_MAX &&
                   SMAX(fwl_InstalledPackage, name) <= CTR_NAME_MAX &&
                   SMAX(fwl_InstalledPackage, version) <= CTR_NAME_MAX,
               "fwl.Device strings max_size: at most CTR_NAME_MAX bytes");

#define WT_VARINT 0u
#define WT_LEN 2u

static size_t vsz(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static size_t sz_len(uint32_t field, size_t len)
{
    return vsz(field << 3 | WT_LEN) + vsz(len) + len;
}

static size_t sz_var(uint32_t field, uint64_t v)
{
    return v ? vsz(field << 3 | WT_VARINT) + vsz(v) : 0;
}

static size_t sz_str(uint32_t field, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    return n ? sz_len(field, n) : 0;
}

static uint8_t *put_hdr(uint8_t *p, uint32_t field, size_t len)
{
    return put_varint(put_varint(p, field << 3 | WT_LEN), len);
}

static uint8_t *put_var(uint8_t *p, uint32_t field, uint64_t v)
{
    return v ? put_varint(put_varint(p, field << 3 | WT_VARINT), v) : p;
}

static uint8_t *put_bytes(uint8_t *p, uint32_t field, const void *b, size_t n)
{
    if (!n)
        return p;
    p = put_hdr(p, field, n);
    memcpy(p, b, n);
    return p + n;
}

static uint8_t *put_str(uint8_t *p, uint32_t field, const char *s, size_t max)
{
    return put_bytes(p, field, s, strnlen(s, max));
}

/* Hash{alg, digest} and ReleaseRef{product, version, file_hash}. */
static size_t hash_body(const ctr_candidate *c)
{
    return sz_var(fwl_Hash_alg_tag, c->hash_alg) +
           (c->r.file_hash_len ? sz_len(fwl_Hash_digest_tag, c->r.file_hash_len) : 0);
}

static size_t ref_body(const ctr_candidate *c)
{
    return sz_str(fwl_ReleaseRef_product_tag, c->r.product, SMAX(fwl_ReleaseRef, product)) +
           sz_str(fwl_ReleaseRef_version_tag, c->r.version, SMAX(fwl_ReleaseRef, version)) +
           sz_len(fwl_ReleaseRef_file_hash_tag, hash_body(c));
}

static uint8_t *put_ref(uint8_t *p, uint32_t field, const ctr_candidate *c)
{
    p = put_hdr(p, field, ref_body(c));
    p = put_str(p, fwl_ReleaseRef_product_tag, c->r.product, SMAX(fwl_ReleaseRef, product));
    p = put_str(p, fwl_ReleaseRef_version_tag, c->r.version, SMAX(fwl_ReleaseRef, version));
    p = put_hdr(p, fwl_ReleaseRef_file_hash_tag, hash_body(c));
    p = put_var(p, fwl_Hash_alg_tag, c->hash_alg);
    return put_bytes(p, fwl_Hash_digest_tag, c->r.file_hash, c->r.file_hash_len);
}

static size_t rejection_body(const ctr_rejection *r)
{
    return sz_len(fwl_Rejection_release_tag, ref_body(r->release)) +
           sz_str(fwl_Rejection_rule_tag, r->rule, SMAX(fwl_Rejection, rule)) +
           sz_str(fwl_Rejection_reason_tag, r->reason, SMAX(fwl_Rejection, reason));
}

static uint32_t status_of(int status)
{
    return status == CTR_URGENT ? fwl_DeviceStatus_URGENT
         : status == CTR_UPDATE_AVAILABLE ? fwl_DeviceStatus_UPDATE_AVAILABLE
         : fwl_DeviceStatus_UP_TO_DATE;
}

static size_t product_body(const ctr_answer *a, const char *policy)
{
    size_t n = sz_str(fwl_ProductAnswer_product_tag, a->product, SMAX(fwl_ProductAnswer, product)) +
               sz_str(fwl_ProductAnswer_installed_tag, a->installed, SMAX(fwl_ProductAnswer, installed)) +
               sz_var(fwl_ProductAnswer_status_tag, status_of(a->status)) +
               (a->best ? sz_len(fwl_ProductAnswer_best_tag, ref_body(a->best)) : 0) +
               sz_var(fwl_ProductAnswer_unsatisfiable_tag, a->unsatisfiable) +
               sz_str(fwl_ProductAnswer_unsatisfiable_reason_tag, a->unsat_reason,
                      SMAX(fwl_ProductAnswer, unsatisfiable_reason)) +
               sz_var(fwl_ProductAnswer_rejected_total_tag, a->n_rejected_total) +
               sz_str(fwl_ProductAnswer_policy_tag, policy, SMAX(fwl_ProductAnswer, policy)) +
               sz_var(fwl_ProductAnswer_superseded_tag, a->n_superseded);
    for (size_t i = 0; i < a->n_plan; i++)
        n += sz_len(fwl_ProductAnswer_plan_tag, ref_body(a->plan[i]));
    for (size_t i = 0; i < a->n_rejected; i++)
        n += sz_len(fwl_ProductAnswer_rejected_tag, rejection_body(&a->rejected[i]));
    return n;
}

static uint8_t *put_product(uint8_t *p, const ctr_answer *a, const char *policy, size_t body)
{
    p = put_hdr(p, fwl_DeviceAnswer_products_tag, body);
    p = put_str(p, fwl_ProductAnswer_product_tag, a->product, SMAX(fwl_ProductAnswer, product));
    p = put_str(p, fwl_ProductAnswer_installed_tag, a->installed, SMAX(fwl_ProductAnswer, installed));
    p = put_var(p, fwl_ProductAnswer_status_tag, status_of(a->status));
    if (a->best)
        p = put_ref(p, fwl_ProductAnswer_best_tag, a->best);
    for (size_t i = 0; i < a->n_plan; i++)
        p = put_ref(p, fwl_ProductAnswer_plan_tag, a->plan[i]);
    p = put_var(p, fwl_ProductAnswer_unsatisfiable_tag, a->unsatisfiable);
    p = put_str(p, fwl_ProductAnswer_unsatisfiable_reason_tag, a->unsat_reason,
                SMAX(fwl_ProductAnswer, unsatisfiable_reason));
    for (size_t i = 0; i < a->n_rejected; i++) {
        const ctr_rejection *r = &a->rejected[i];
        p = put_hdr(p, fwl_ProductAnswer_rejected_tag, rejection_body(r));
        p = put_ref(p, fwl_Rejection_release_tag, r->release);
        p = put_str(p, fwl_Rejection_rule_tag, r->rule, SMAX(fwl_Rejection, rule));
        p = put_str(p, fwl_Rejection_reason_tag, r->reason, SMAX(fwl_Rejection, reason));
    }
    p = put_var(p, fwl_ProductAnswer_rejected_total_tag, a->n_rejected_total);
    p = put_str(p, fwl_ProductAnswer_policy_tag, policy, SMAX(fwl_ProductAnswer, policy));
    return put_var(p, fwl_ProductAnswer_superseded_tag, a->n_superseded);
}

/* int32 error codes go on the wire sign-extended to 64 bits, as protobuf wants. */
static size_t error_body(const elg_device_answer *o)
{
    return sz_var(fwl_Error_code_tag, (uint64_t)(int64_t)o->error) +
           sz_str(fwl_Error_message_tag, o->message, SMAX(fwl_Error, message));
}

/* A device's body size; the sizes of its products are kept in o->body. */
static size_t device_body(elg_device_answer *o) /* keeps o->body[] */
{
    size_t n = sz_str(fwl_DeviceAnswer_device_id_tag, o->id, SMAX(fwl_DeviceAnswer, device_id));
    for (size_t i = 0; i < o->n; i++)
        n += sz_len(fwl_DeviceAnswer_products_tag,
                    o->body[i] = product_body(&o->ans[i], o->policy[i]));
    if (o->error)
        n += sz_len(fwl_DeviceAnswer_error_tag, error_body(o));
    return o->body[CTR_PRODUCTS_MAX] = n;
}

static uint8_t *put_device(uint8_t *p, const elg_device_answer *o)
{
    p = put_hdr(p, fwl_EligibleResp_answers_tag, o->body[CTR_PRODUCTS_MAX]);
    p = put_str(p, fwl_DeviceAnswer_device_id_tag, o->id, SMAX(fwl_DeviceAnswer, device_id));
    for (size_t i = 0; i < o->n; i++)
        p = put_product(p, &o->ans[i], o->policy[i], o->body[i]);
    if (o->error) {
        p = put_hdr(p, fwl_DeviceAnswer_error_tag, error_body(o));
        p = put_var(p, fwl_Error_code_tag, (uint64_t)(int64_t)o->error);
        p = put_str(p, fwl_Error_message_tag, o->message, SMAX(fwl_Error, message));
    }
    return p;
}

/* EligibleResp's body size from the device sizes device_body kept. */
static size_t eligible_body(const elg_device_answer *a, size_t n, const ldg_tip *t,
                            size_t tail_len)
{
    size_t body = sz_var(fwl_EligibleResp_at_height_tag, t->height) +
                  sz_len(fwl_EligibleResp_block_hash_tag, LDG_DIGEST_LEN) + tail_len;
    for (size_t i = 0; i < n; i++)
        body += sz_len(fwl_EligibleResp_answers_tag, a[i].body[CTR_PRODUCTS_MAX]);
    return body;
}

static size_t response_size(uint64_t id, size_t body)
{
    return sz_var(fwl_Response_id_tag, id) + sz_len(fwl_Response_eligible_tag, body);
}

size_t elg_wire_size(uint64_t id, elg_device_answer *a, size_t n, const ldg_tip *t,
                     size_t tail_len)
{
    for (size_t i = 0; i < n; i++)
        device_body(&a[i]);
    return response_size(id, eligible_body(a, n, t, tail_len));
}

size_t elg_wire_write(uint8_t *buf, size_t size, uint64_t id, const elg_device_answer *a,
                      size_t n, const ldg_tip *t, const uint8_t *tail, size_t tail_len)
{
    size_t body = eligible_body(a, n, t, tail_len);
    uint8_t *p = buf;
    if (response_size(id, body) != size)
        return 0; /* not the size of these answers */
    p = put_var(p, fwl_Response_id_tag, id);
    p = put_hdr(p, fwl_Response_eligible_tag, body);
    for (size_t i = 0; i < n; i++)
        p = put_device(p, &a[i]);
    p = put_var(p, fwl_EligibleResp_at_height_tag, t->height);
    p = put_bytes(p, fwl_EligibleResp_block_hash_tag, t->hash, LDG_DIGEST_LEN);
    if (tail_len)
        memcpy(p, tail, tail_len), p += tail_len;
    return (size_t)(p - buf);
}
