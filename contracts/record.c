/*
 * A release record as the decider sees it (ctr_candidate_from_record), with the bump
 * allocator its copies live in: shared by the node (which caches candidates per model) and
 * the verifier (which builds them from proven records).
 */
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"

#define CTR_ARENA_CHUNK (64u << 10)

struct ctr_arena_blk {
    struct ctr_arena_blk *next;
    size_t used, cap;
    uint8_t data[];
};
typedef struct ctr_arena_blk arena_blk;

void *ctr_arena_alloc(ctr_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > CTR_ARENA_CHUNK ? n : CTR_ARENA_CHUNK;
        arena_blk *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

const char *ctr_arena_str(ctr_arena *a, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = ctr_arena_alloc(a, n);
    if (p)
        memcpy(p, str, n);
    return p;
}

void ctr_arena_free(ctr_arena *a)
{
    for (arena_blk *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    a->head = NULL;
}

/* Copy one release record into the candidate view (strings into the arena). */
int ctr_candidate_from_record(ctr_arena *a, const fwl_ReleaseRecord *rec, ctr_candidate *c)
{
    const fwl_Release *r = &rec->release;
    memset(c, 0, sizeof *c);
    c->r.product = ctr_arena_str(a, r->product);
    c->r.version = ctr_arena_str(a, r->version);
    c->r.security_version = r->security_version;
    uint8_t *fh = ctr_arena_alloc(a, r->file_hash.digest.size + 1);
    ctr_hardware *hw = ctr_arena_alloc(a, (r->hardware_count + 1) * sizeof *hw);
    ctr_dependency *deps = ctr_arena_alloc(a, (r->dependencies_count + 1) * sizeof *deps);
    if (!c->r.product || !c->r.version || !fh || !hw || !deps)
        return LDG_ENOMEM;
    memcpy(fh, r->file_hash.digest.bytes, r->file_hash.digest.size);
    c->r.file_hash = fh;
    c->r.file_hash_len = r->file_hash.digest.size;
    c->hash_alg = r->file_hash.alg;
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        const fwl_HardwareSupport *h = &r->hardware[i];
        const char **addons = ctr_arena_alloc(a, (h->required_addons_count + 1) * sizeof *addons);
        if (!addons || !(hw[i].model = ctr_arena_str(a, h->model)))
            return LDG_ENOMEM;
        for (pb_size_t j = 0; j < h->required_addons_count; j++)
            if (!(addons[j] = ctr_arena_str(a, h->required_addons[j])))
                return LDG_ENOMEM;
        hw[i].rev_min = h->rev_min;
        hw[i].rev_max = h->rev_max;
        hw[i].required_addons = addons;
        hw[i].n_required_addons = h->required_addons_count;
    }
    c->r.hardware = hw;
    c->r.n_hardware = r->hardware_count;
    for (pb_size_t i = 0; i < r->dependencies_count; i++)
        if (!(deps[i].package = ctr_arena_str(a, r->dependencies[i].package)) ||
            !(deps[i].constraint = ctr_arena_str(a, r->dependencies[i].constraint)))
            return LDG_ENOMEM;
    c->r.deps = deps;
    c->r.n_deps = r->dependencies_count;
    c->r.revoked = rec->revoked;
    c->r.revoke_reason = rec->revoke_reason;
    c->r.published_at = r->published_at;
    c->r.height = rec->height;
    return 0; /* outcome totals change with every report: read when a contract needs them */
}


void ctr_device_from_wire(const fwl_Device *dev, ctr_device_view *v)
{
    for (pb_size_t i = 0; i < dev->addons_count; i++)
        v->addons[i] = dev->addons[i];
    for (pb_size_t i = 0; i < dev->tags_count; i++)
        v->tags[i] = dev->tags[i];
    for (pb_size_t i = 0; i < dev->packages_count; i++)
        v->packages[i] = (ctr_package){dev->packages[i].name, dev->packages[i].version, 0};
    v->d = (ctr_device){dev->id, dev->hardware_model, dev->hardware_rev, v->addons,
                        dev->addons_count, v->packages, dev->packages_count, dev->region,
                        v->tags, dev->tags_count};
}
