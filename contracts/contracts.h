/*
 * contracts/: the eligibility policy language (issue 4). The language reference is
 * docs/contracts.md.
 *
 * Administrators write small policies ("contracts") that decide, per device, whether a
 * release may be installed. A contract is source text stored on the ledger; every node
 * compiles it to bytecode and evaluates it with a cost-bounded VM. The language is
 * deliberately not Turing-complete: expressions and named rules, comprehensions bounded by
 * their lists, no loops, no recursion. Evaluation is deterministic on every node: integers
 * only, no host clock (the block time is an input), no randomness, no dependence on
 * hash-table order.
 *
 * What this module knows: the language, the built-ins, the default policy, the dependency
 * planner, the eligibility decision (ctr_decide). What it does not: storage, the network,
 * protobuf. The caller hands it plain structs (ctr_device, ctr_release, ctr_candidate)
 * built from ledger records.
 *
 * Errors: 0 or a negative CTR_E* code; ctr_strerror names it. A compile error comes with a
 * message "line:col: what" in the caller's buffer.
 *
 * Threads: a compiled ctr_program is read-only during evaluation, so any number of threads
 * may evaluate the same program at once. Evaluation does not allocate: its state lives on
 * the caller's stack (a few KiB).
 */
#ifndef FWL_CONTRACTS_H
#define FWL_CONTRACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CTR_E* codes are -300..-399 (every module's range is listed in node/client/client.h). A
 * node puts some on the wire (an Eligible answer's device error): docs/protocol.md. */
#define CTR_ERRORS(X)                                                                   \
    X(CTR_ESYNTAX, -300, "contract does not compile")                                   \
    X(CTR_ECOST, -301, "cost limit exceeded")                                           \
    X(CTR_ETYPE, -302, "type error at run time")                                        \
    X(CTR_ETOOBIG, -303, "contract or input too large")                                 \
    X(CTR_ENOMEM, -304, "out of memory")                                                \
    X(CTR_EINVAL, -305, "invalid argument")                                             \
    X(CTR_ERUNTIME, -308, "contract failed at run time")

enum ctr_err {
#define CTR_ENUM_(name, val, msg) name = (val),
    CTR_ERRORS(CTR_ENUM_)
#undef CTR_ENUM_
};
/* A CTR_E* code's message; any other code is named by ldg_strerror (the decision's policy
 * and outcome callbacks return ledger codes), so unknown codes read "unknown error". */
const char *ctr_strerror(int err);

/* Limits. */
#define CTR_SOURCE_MAX (16u << 10)   /* contract source bytes                          */
#define CTR_CODE_MAX (16u << 10)     /* bytecode bytes (the code section)              */
#define CTR_COST_DEFAULT 100000      /* cost units per evaluation (see docs)           */
#define CTR_NAME_MAX 64              /* bytes of every input string (no NUL): ids,     */
                                     /* product, model, package, add-on, version...    */
#define CTR_LIST_MAX 16              /* add-ons, tags, packages, hardware, deps        */
#define CTR_RULES_MAX 64             /* rules per contract                             */

/* --- Inputs (plain C, borrowed for the duration of a call) ------------------------------ */

/* Strings are NUL-terminated, at most CTR_NAME_MAX bytes; lists hold at most CTR_LIST_MAX
 * entries. A NULL scalar string reads as ""; a NULL list with a zero count is empty. */
typedef struct {
    const char *name;                /* package name (unique within a device)          */
    const char *version;             /* SemVer 2.0                                     */
    uint64_t security_version;       /* of the installed release when known, 0 if not: */
                                     /* the caller fills it from the ledger's record   */
} ctr_package;

typedef struct {
    const char *id;                  /* device id                                      */
    const char *model;               /* hardware model id                              */
    uint32_t revision;               /* hardware revision                              */
    const char *const *addons;       /* add-on boards                                  */
    size_t n_addons;
    const ctr_package *packages;     /* installed packages, the current firmware too   */
    size_t n_packages;
    const char *region;              /* region or logical location, "" if none         */
    const char *const *tags;         /* e.g. "canary"                                  */
    size_t n_tags;
} ctr_device;

typedef struct {
    const char *model;
    uint32_t rev_min, rev_max;       /* 0: unbounded                                   */
    const char *const *required_addons;
    size_t n_required_addons;
} ctr_hardware;

typedef struct {
    const char *package;
    const char *constraint;          /* ">=2.1.0,<3"                                    */
} ctr_dependency;

/* Per-release outcome totals reported by trackers (issue 4 item 5). */
typedef struct {
    uint64_t succeeded, failed, rolled_back;
} ctr_outcomes;

typedef struct {
    const char *product;
    const char *version;             /* SemVer 2.0                                     */
    uint64_t security_version;
    const uint8_t *file_hash;        /* digest bytes (bucket() hashes them)            */
    size_t file_hash_len;
    const ctr_hardware *hardware;
    size_t n_hardware;
    const ctr_dependency *deps;
    size_t n_deps;
    bool revoked;
    int revoke_reason;               /* fwl.RevokeReason value, 0 if not revoked       */
    uint64_t published_at;           /* Unix seconds                                   */
    uint64_t height;                 /* block height of publication                    */
    ctr_outcomes outcomes;
} ctr_release;

/* What the evaluation may read besides the device and the release. */
typedef struct {
    uint64_t block_time_ms;          /* the time input: the block the answer is based on */
    uint64_t height;
    uint64_t cost_limit;             /* 0: CTR_COST_DEFAULT                             */
} ctr_context;

/* --- Compile and evaluate -------------------------------------------------------------- */

typedef struct ctr_program ctr_program;

/* Compile source (at most CTR_SOURCE_MAX bytes; need not be NUL-terminated). On CTR_ESYNTAX
 * and CTR_ETOOBIG, err (if errlen > 0) holds "line:col: what" (columns count bytes from 1);
 * *out is NULL on failure. The result is a pure function of the source: every node compiles
 * the same program image. Errors: CTR_ESYNTAX, CTR_ETOOBIG, CTR_ENOMEM, CTR_EINVAL (NULL
 * src with len > 0, NULL out). Free with ctr_free (accepts NULL). */
int ctr_compile(const char *src, size_t len, ctr_program **out, char *err, size_t errlen);
void ctr_free(ctr_program *p);
/* The program image: a canonical encoding of the bytecode and the tables it uses (rules,
 * constants, messages), for hashing or display; owned by p. Its layout is private. */
const uint8_t *ctr_code(const ctr_program *p, size_t *len);
/* The contract's rules, in source order: their count and the i-th name (NULL past the end). */
size_t ctr_rule_count(const ctr_program *p);
const char *ctr_rule_name(const ctr_program *p, size_t i);

/* The verdict on one candidate release for one device. */
#define CTR_RULE_MAX 64
#define CTR_REASON_MAX 160
typedef struct {
    bool eligible;
    char rule[CTR_RULE_MAX];         /* the rule that rejected it ("" if eligible)      */
    char reason[CTR_REASON_MAX];     /* in words, for the audit trail                   */
    uint64_t cost;                   /* cost units used (docs/contracts.md)             */
} ctr_verdict;

/* The built-in default policy, applied where no contract is bound. Its rules, in the order
 * they are checked (the first that fails is the verdict's rule):
 *   "revoked"       the release is not revoked;
 *   "hardware"      the release lists the device's model, the device's revision is within
 *                   [rev_min, rev_max] (0: unbounded) and every required add-on is present;
 *   "newer"         the release is strictly newer than the installed package named like the
 *                   release's product: version by SemVer precedence, and security version
 *                   when the installed one is known (non-zero); not installed counts as newer;
 *   "dependencies"  every dependency is installed in a version that satisfies its constraint.
 *
 * Inputs (ctr_eval and ctr_eval_default): d and r are checked first (string lengths, list
 * counts, versions are SemVer, revision ranges ordered, no package listed twice); bad input
 * gives CTR_EINVAL or CTR_ETOOBIG with the verdict's rule "input" and the reason naming the
 * field. A dependency constraint's syntax is checked where it is used (the ledger stores
 * valid ones only): an invalid one fails the "dependencies" rule, or satisfies() at run time. c may be NULL (time 0, height 0, default cost limit).
 * On any error the verdict is "not eligible". v is always filled when non-NULL.
 * Errors: CTR_EINVAL, CTR_ETOOBIG. */
int ctr_eval_default(const ctr_device *d, const ctr_release *r, const ctr_context *c,
                     ctr_verdict *v);

/* Evaluate a contract: it may tighten or replace the defaults, but a revoked release is
 * never eligible whatever the contract says (checked before the contract runs: rule
 * "revoked", cost 0). The release is eligible when every rule holds; otherwise the first
 * failing rule in source order is the verdict's rule, its "because" message (or a
 * description of the failing condition) the reason.
 * Over the cost limit: CTR_ECOST, the reason is "cost limit exceeded" and cost equals the
 * limit; never a hang or a crash. A run-time failure (integer overflow, division by zero,
 * ordering a missing version, a uint64 input above 2^63-1): CTR_ERUNTIME with the reason
 * "line:col: what". CTR_ETYPE means the VM met a value of the wrong type: the compiler
 * rules it out, so it signals a bug. The verdict's cost never exceeds the limit.
 * Errors: CTR_ECOST, CTR_ERUNTIME, CTR_ETYPE, CTR_EINVAL, CTR_ETOOBIG. */
int ctr_eval(const ctr_program *p, const ctr_device *d, const ctr_release *r,
             const ctr_context *c, ctr_verdict *v);

/* The rollout bucket: a hash of device id and release file hash, mod 10,000 (0..9999).
 * "25% rollout" is bucket < 2500: the same devices on every node, growing monotonically as
 * the percentage rises. Exactly: SHA-256 over the device id's bytes (no NUL) followed by
 * the file hash bytes; the first 8 bytes of the digest read as a big-endian uint64; that
 * mod 10000. A NULL device_id reads as "". */
uint32_t ctr_bucket(const char *device_id, const uint8_t *file_hash, size_t len);

/* --- The eligibility decision (decide.c) ----------------------------------------------- */

/* Given a device and the candidate releases for its hardware model, decide per product: the
 * best eligible release (highest version), each rejected candidate with the rule that
 * rejected it, the device's status, and, when the best release needs packages the device
 * lacks, an ordered update plan or the reason it cannot be satisfied (issue 4, items 3 and
 * 4). Pure: no storage, no clock, no network. The caller hands in the candidates (a node
 * reads them from one snapshot of its store; a tracker from the records a node proved to
 * it) and callbacks for the policy of each product (the contract bound to it, or the
 * built-in default) and the outcome totals, so that a node and a tracker holding the same
 * records reach the same answer. The wire form of an answer is the node's business. */

#include "ledger/ledger.h" /* ldg_semver; contracts/ may know ledger/, not the reverse */

#define CTR_PRODUCTS_MAX 8       /* products answered per device                */
#define CTR_REJECTED_MAX 8       /* rejected candidates reported per product    */
#define CTR_PLAN_MAX 8           /* steps of an update plan                     */
#define CTR_CANDIDATES_MAX 4096  /* releases listed for one hardware model      */

enum { CTR_UP_TO_DATE = 1, CTR_UPDATE_AVAILABLE = 2, CTR_URGENT = 3 };

/* A candidate: the release view the policy sees, plus its identity. Strings borrowed.
 * ctr_prepare fills the rest. */
typedef struct {
    ctr_release r;
    uint32_t hash_alg;
    /* set by ctr_prepare */
    ldg_semver v;             /* r.version parsed                                 */
    bool v_ok;                /* it parsed (the ledger stores valid ones only)     */
    bool prepared;
    uint32_t group_end;       /* one past the last candidate of this product       */
} ctr_candidate;

/* Sort c[0..n) by product, newest version first, parse the versions, share each product's
 * name among its candidates and mark the product groups: the order ctr_decide needs. Done
 * once per candidate list (the node keeps prepared lists per hardware model per block).
 * Errors: LDG_ETOOBIG (more than CTR_CANDIDATES_MAX). */
int ctr_prepare(ctr_candidate *c, size_t n);

/* A bump allocator (contracts/record.c): many small copies, freed at once. Zero it to start. */
typedef struct {
    struct ctr_arena_blk *head;
} ctr_arena;
void *ctr_arena_alloc(ctr_arena *a, size_t n);
const char *ctr_arena_str(ctr_arena *a, const char *s);
void ctr_arena_free(ctr_arena *a);

/* The candidate view of a stored release record, its strings and lists copied into a (the
 * node's cache and the verifier build their candidates alike). Outcome totals are left
 * zero: they change with every report and are read when a contract needs them
 * (ctr_source.outcomes). Errors: LDG_ENOMEM. */
int ctr_candidate_from_record(ctr_arena *a, const fwl_ReleaseRecord *rec, ctr_candidate *c);

/* A wire Device (fwl.Device) as the decider sees it: strings borrowed from dev, which must
 * outlive v. Installed packages' security versions are left 0 (ctr_decide fills them from
 * the candidates). */
#define CTR_DEV_LIST(field) (sizeof ((fwl_Device *)0)->field / sizeof ((fwl_Device *)0)->field[0])
typedef struct {
    ctr_device d;
    const char *addons[CTR_DEV_LIST(addons)];
    const char *tags[CTR_DEV_LIST(tags)];
    ctr_package packages[CTR_DEV_LIST(packages)];
} ctr_device_view;
void ctr_device_from_wire(const fwl_Device *dev, ctr_device_view *v);

/* Where a decision's policies and current outcome totals come from. */
typedef struct {
    /* The policy for a product on a hardware model: *prog = the bound contract, or NULL for
     * the built-in default. Returns 0 or an error (the product is then answered with it). */
    int (*policy)(void *ctx, const char *product, const char *model, const ctr_program **prog);
    /* Optional: the outcome totals of c as of the decision, read only when a contract is
     * about to evaluate c (the default policy does not read them). NULL: c->r.outcomes.
     * Returns 0 or an error (the product is then answered with it). */
    int (*outcomes)(void *ctx, const ctr_candidate *c, ctr_outcomes *out);
    void *ctx;
} ctr_source;

typedef struct {
    const ctr_candidate *release;
    char rule[CTR_RULE_MAX];
    char reason[CTR_REASON_MAX];
} ctr_rejection;

/* One product's answer. Candidates are referenced, not copied: valid while they are. */
typedef struct {
    const char *product;
    const char *installed;    /* the version the device runs, "" when none         */
    int status;               /* CTR_UP_TO_DATE, _UPDATE_AVAILABLE or CTR_URGENT */
    const ctr_candidate *best; /* NULL when nothing is eligible                   */
    const ctr_candidate *plan[CTR_PLAN_MAX]; /* install in this order, ending with best */
    size_t n_plan;
    bool unsatisfiable;
    char unsat_reason[CTR_REASON_MAX];
    /* Candidates newer than best (all of them when there is no best) that the policy
     * refused, newest first: the first CTR_REJECTED_MAX with rule and reason, and the
     * count. Candidates older than best are superseded: counted, not evaluated (the
     * highest eligible version is the answer whatever they would get). */
    ctr_rejection rejected[CTR_REJECTED_MAX];
    size_t n_rejected;        /* reported                                          */
    size_t n_rejected_total;  /* all of them                                       */
    size_t n_superseded;
    int error;                /* policy error for this product, 0 if none          */
    char error_reason[CTR_REASON_MAX];
} ctr_answer;

/* Decide for device d over candidates c[0..n) prepared by ctr_prepare (else CTR_EINVAL).
 * Answers go to out (cap entries), sorted by product name; *n_out set. The security
 * version of each installed package the device does not state is taken from the candidate
 * of the same product and version, when there is one (the ledger's record of it). A device
 * description the policy refuses as input (a bad version, a package listed twice...) is an
 * error of the whole device: CTR_EINVAL or CTR_ETOOBIG, with the reason in
 * out[0].error_reason. Errors: also LDG_ETOOBIG (too many candidates), CTR_ENOMEM. */
int ctr_decide(const ctr_device *d, const ctr_candidate *c, size_t n, const ctr_source *src,
               const ctr_context *cc, ctr_answer *out, size_t cap, size_t *n_out);

#endif
