/*
 * node/ internal: eligibility decisions (issue 4, items 3 and 4).
 *
 * Given a device and the candidate releases for its hardware model (read from one snapshot
 * of the store by the caller), decide per product: the best eligible release (highest
 * version), each rejected candidate with the rule that rejected it, the device's status,
 * and, when the best release needs packages the device lacks, an ordered update plan or
 * the reason it cannot be satisfied. Pure: no storage, no clock; the policy (the contract
 * bound to the product, or the built-in default) and outcome totals come from callbacks.
 */
#ifndef FWL_NODE_ELIGIBILITY_H
#define FWL_NODE_ELIGIBILITY_H

#include "contracts/contracts.h"
#include "ledger/ledger.h"

#define ELG_MAX_PRODUCTS 8    /* products answered per device                   */
#define ELG_MAX_REJECTED 8    /* rejected candidates reported per product       */
#define ELG_MAX_PLAN 8        /* steps of an update plan                        */
#define ELG_MAX_CANDIDATES 4096 /* releases listed for one hardware model        */

enum { ELG_UP_TO_DATE = 1, ELG_UPDATE_AVAILABLE = 2, ELG_URGENT = 3 };

/* A candidate: the release view the policy sees, plus its identity. Strings borrowed.
 * elg_prepare fills the rest. */
typedef struct {
    ctr_release r;
    uint32_t hash_alg;
    /* set by elg_prepare */
    ldg_semver v;             /* r.version parsed                                 */
    bool v_ok;                /* it parsed (the ledger stores valid ones only)     */
    bool prepared;
    uint32_t group_end;       /* one past the last candidate of this product       */
} elg_candidate;

/* Sort c[0..n) by product, newest version first, parse the versions, share each product's
 * name among its candidates and mark the product groups: the order elg_decide needs. Done
 * once per candidate list (the node keeps prepared lists per hardware model per block).
 * Errors: LDG_ETOOBIG (more than ELG_MAX_CANDIDATES). */
int elg_prepare(elg_candidate *c, size_t n);

/* Where a decision's policies and current outcome totals come from. */
typedef struct {
    /* The policy for a product on a hardware model: *prog = the bound contract, or NULL for
     * the built-in default. Returns 0 or an error (the product is then answered with it). */
    int (*policy)(void *ctx, const char *product, const char *model, const ctr_program **prog);
    /* Optional: the outcome totals of c as of the decision, read only when a contract is
     * about to evaluate c (the default policy does not read them). NULL: c->r.outcomes.
     * Returns 0 or an error (the product is then answered with it). */
    int (*outcomes)(void *ctx, const elg_candidate *c, ctr_outcomes *out);
    void *ctx;
} elg_source;

typedef struct {
    const elg_candidate *release;
    char rule[CTR_RULE_MAX];
    char reason[CTR_REASON_MAX];
} elg_rejection;

/* One product's answer. Candidates are referenced, not copied: valid while they are. */
typedef struct {
    const char *product;
    const char *installed;    /* the version the device runs, "" when none         */
    int status;               /* ELG_*                                             */
    const elg_candidate *best; /* NULL when nothing is eligible                   */
    const elg_candidate *plan[ELG_MAX_PLAN]; /* install in this order, ending with best */
    size_t n_plan;
    bool unsatisfiable;
    char unsat_reason[CTR_REASON_MAX];
    /* Candidates newer than best (all of them when there is no best) that the policy
     * refused, newest first: the first ELG_MAX_REJECTED with rule and reason, and the
     * count. Candidates older than best are superseded: counted, not evaluated (the
     * highest eligible version is the answer whatever they would get). */
    elg_rejection rejected[ELG_MAX_REJECTED];
    size_t n_rejected;        /* reported                                          */
    size_t n_rejected_total;  /* all of them                                       */
    size_t n_superseded;
    int error;                /* policy error for this product, 0 if none          */
    char error_reason[CTR_REASON_MAX];
} elg_answer;

/* Decide for device d over candidates c[0..n) prepared by elg_prepare (else CTR_EINVAL).
 * Answers go to out (cap entries), sorted by product name; *n_out set. The security
 * version of each installed package the device does not state is taken from the candidate
 * of the same product and version, when there is one (the ledger's record of it). A device
 * description the policy refuses as input (a bad version, a package listed twice...) is an
 * error of the whole device: CTR_EINVAL or CTR_ETOOBIG, with the reason in
 * out[0].error_reason. Errors: also LDG_ETOOBIG (too many candidates), CTR_ENOMEM. */
int elg_decide(const ctr_device *d, const elg_candidate *c, size_t n, const elg_source *src,
               const ctr_context *cc, elg_answer *out, size_t cap, size_t *n_out);

#endif
