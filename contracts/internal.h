/*
 * contracts/internal.h: declarations shared by the files of contracts/ and nobody else.
 *
 * The pipeline: lexer.c turns source into tokens on demand, parser.c builds an AST of items
 * (rules and lets), check.c gives every node its static type (and folds what is known at
 * compile time), codegen.c emits bytecode and the program image, vm.c runs it against one
 * device and one release, builtins.c holds the built-in functions, policy.c the default
 * policy, input.c the input checks, ctr_bucket and text helpers.
 *
 * Invariant the VM relies on: a program that compiled is well typed, so every operand the
 * VM pops has the tag the instruction expects. The VM still checks tags (CTR_ETYPE) and
 * stack bounds, so a compiler bug is an error, never memory corruption.
 */
#ifndef FWL_CONTRACTS_INTERNAL_H
#define FWL_CONTRACTS_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contracts/contracts.h"
#include "ledger/ledger.h"

/* --- Limits of the language (documented in docs/contracts.md) ---------------------------- */

#define CTR_IDENT_MAX 63      /* identifier bytes                                          */
#define CTR_STR_MAX 255       /* string literal bytes after escapes                        */
#define CTR_NEST_MAX 40       /* parser nesting (parentheses, operators, calls)            */
#define CTR_DEPTH_MAX 256     /* AST depth, long operator chains included                  */
#define CTR_STACK_MAX 64      /* VM value stack                                            */
#define CTR_LOOP_MAX 6        /* comprehensions nested in one another                      */
#define CTR_LOOPSTACK_MAX 16  /* loops open at once, counting those of lets being evaluated */
#define CTR_LETS_MAX 32       /* let bindings                                              */
#define CTR_CONJ_MAX 255      /* conditions (top-level "and" terms) over all rules         */
#define CTR_CONST_MAX 1024    /* constants: strings, versions, list elements               */
#define CTR_LITLIST_MAX 64    /* elements of a list literal                                */
#define CTR_ARGS_MAX 4        /* arguments of a built-in                                   */

/* --- Text ------------------------------------------------------------------------------- */

/* A bounded string builder: appends what fits, always NUL-terminated, never splits a UTF-8
 * sequence when it truncates. cap 0 is allowed (nothing is written). */
typedef struct {
    char *buf;
    size_t cap, len;
    bool full;
} ctr__sb;

void ctr__sb_init(ctr__sb *b, char *buf, size_t cap);
void ctr__sb_put(ctr__sb *b, const char *s, size_t n);
void ctr__sb_puts(ctr__sb *b, const char *s);
void ctr__sb_printf(ctr__sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy s into dst[cap] with the same truncation rule. */
void ctr__copy(char *dst, size_t cap, const char *s);

/* --- Types (static) --------------------------------------------------------------------- */

enum ctr__type {
    T_VOID = 0, /* not yet known / error */
    T_BOOL,
    T_INT,
    T_STR,
    T_VER,      /* a version; may be none at run time (installed()) */
    T_NONE,     /* the literal none */
    T_DEVICE,
    T_RELEASE,
    T_BLOCK,
    T_OUTCOMES,
    T_PACKAGE,
    T_HARDWARE,
    T_DEP,
    T_LIST_EMPTY, /* [] */
    T_LIST_STR,
    T_LIST_INT,
    T_LIST_VER,
    T_LIST_PKG,
    T_LIST_HW,
    T_LIST_DEP,
};

bool ctr__is_list(int t);
int ctr__elem_type(int list_type);  /* T_VOID for T_LIST_EMPTY */
int ctr__list_of(int elem_type);    /* T_VOID if there is no such list type */
const char *ctr__type_name(int t);

/* --- Run-time values -------------------------------------------------------------------- */

enum { V_BOOL = 1, V_INT, V_STR, V_VER, V_NONE, V_LIST, V_REC };

/* List kinds: where the elements live. */
enum { L_STRS = 1, L_PKGS, L_HW, L_DEPS, L_CONST };
/* Record kinds. */
enum { R_DEVICE = 1, R_RELEASE, R_BLOCK, R_OUTCOMES, R_PACKAGE, R_HARDWARE, R_DEP };

/* A V_STR always points to NUL-terminated bytes with n == strlen: inputs are C strings, and
 * the compiler stores constants with a NUL (the lexer refuses NUL bytes in literals). */
typedef struct ctr__val {
    uint8_t tag;
    uint8_t kind;   /* list or record kind */
    uint32_t n;     /* string bytes, list length */
    union {
        int64_t i;
        bool b;
        const char *s;
        const ldg_semver *v;
        const void *p;
    } u;
    const char *text; /* versions: the text they were written as (for messages) */
} ctr__val;

/* --- Inputs, checked and with their versions parsed once per evaluation ----------------- */

typedef struct {
    const ctr_device *d;
    const ctr_release *r;
    ldg_semver rel_ver;
    ldg_semver pkg_ver[CTR_LIST_MAX];
    uint64_t time_ms, height, cost_limit;
} ctr__in;

/* Check d and r (see ctr_eval_default in contracts.h) and parse their versions into in.
 * Errors: CTR_EINVAL, CTR_ETOOBIG with why naming the field. */
int ctr__in_init(ctr__in *in, const ctr_device *d, const ctr_release *r, const ctr_context *c,
                 char *why, size_t whylen);
/* The device's package with this name, or -1. Visits every package: *work += n_packages. */
int ctr__find_pkg(const ctr__in *in, const char *name, size_t len, uint64_t *work);
/* Fill a verdict for an input or other error, with rule and reason. */
void ctr__verdict(ctr_verdict *v, bool eligible, const char *rule, const char *reason,
                  uint64_t cost);

/* --- The default policy's checks (policy.c) --------------------------------------------- *
 * Each returns true when the check holds; otherwise false with the reason in why. *work
 * grows by the number of entries visited (the VM charges it as cost). */
bool ctr__chk_revoked(const ctr__in *in, ctr__sb *why, uint64_t *work);
bool ctr__chk_hardware(const ctr__in *in, ctr__sb *why, uint64_t *work);
bool ctr__chk_newer(const ctr__in *in, ctr__sb *why, uint64_t *work);
bool ctr__chk_deps(const ctr__in *in, ctr__sb *why, uint64_t *work);
/* All four in order; on failure rule names the failing check. */
bool ctr__chk_defaults(const ctr__in *in, const char **rule, ctr__sb *why, uint64_t *work);

/* --- Lexer ------------------------------------------------------------------------------ */

enum ctr__tok {
    TK_EOF = 0,
    TK_ERROR,
    TK_IDENT,
    TK_INT,
    TK_STRING,   /* a string without interpolation                                         */
    TK_TPL_HEAD, /* "text{   : the text before the first interpolation                      */
    TK_TPL_MID,  /* }text{                                                                  */
    TK_TPL_TAIL, /* }text"                                                                  */
    TK_LET, TK_RULE, TK_BECAUSE, TK_AND, TK_OR, TK_NOT, TK_IN, TK_TRUE, TK_FALSE, TK_NONE,
    TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK, TK_COMMA, TK_COLON, TK_DOT, TK_ASSIGN,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH,
    TK_PERCENT,
};

typedef struct {
    int kind;
    uint32_t line, col;
    uint32_t off, end;   /* byte span in the source                                        */
    int64_t ival;        /* TK_INT                                                         */
    const char *text;    /* identifier (into the source) or decoded string (into strbuf)   */
    uint32_t len;
} ctr__token;

/* Compile-time diagnostics: the first error wins. */
typedef struct {
    char *buf;
    size_t cap;
    int rc;  /* 0, CTR_ESYNTAX, CTR_ETOOBIG, CTR_ENOMEM */
} ctr__diag;

void ctr__error(ctr__diag *dg, int rc, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

typedef struct {
    const char *src;
    size_t len, pos;
    uint32_t line, col;
    int mode;            /* 0: code; 1: inside an interpolation of a template             */
    uint32_t tpl_line, tpl_col; /* where the open template started                        */
    char *strbuf;        /* decoded strings; capacity len + 1 always suffices             */
    size_t strlen;
    ctr__diag *dg;
} ctr__lexer;

void ctr__lex_init(ctr__lexer *lx, const char *src, size_t len, char *strbuf, ctr__diag *dg);
/* The next token; TK_ERROR after an error (reported in dg). */
void ctr__lex_next(ctr__lexer *lx, ctr__token *t);
const char *ctr__tok_name(int kind);

/* --- AST -------------------------------------------------------------------------------- */

enum {
    N_INT = 1, N_STR, N_BOOL, N_NONE, N_VER, N_LIST, N_NAME, N_FIELD, N_CALL, N_NOT, N_NEG,
    N_BIN, N_COMPR, N_TPL
};

typedef struct ctr__node ctr__node;
struct ctr__node {
    uint8_t kind;
    uint8_t op;       /* N_BIN: the token kind (TK_AND..); N_COMPR: 0 all, 1 any, 2 count;
                       * N_BIN with TK_IN and neg: "not in"                                */
    uint8_t type;     /* set by check.c                                                     */
    uint8_t neg;      /* "not in"                                                           */
    uint16_t id;      /* field id, built-in id, let index, loop slot, constant index        */
    uint8_t ref;      /* N_NAME: 1 global, 2 let, 3 loop variable                           */
    uint16_t depth;   /* height of the subtree (capped at CTR_DEPTH_MAX by the parser)      */
    uint32_t line, col;
    uint32_t off, end;
    int64_t ival;     /* N_INT; N_BOOL                                                       */
    const char *text; /* names, string contents                                              */
    uint32_t len;
    ctr__node *a, *b; /* operands; N_CALL args, N_LIST elements, N_TPL parts: a, then next */
    ctr__node *next;
};

typedef struct ctr__item ctr__item;
struct ctr__item {
    bool is_rule;
    const char *name;
    uint32_t len, line, col;
    ctr__node *expr;
    ctr__node *because; /* N_STR or N_TPL, or NULL                                          */
    ctr__item *next;
};

/* Node storage: chunks, freed together. */
typedef struct ctr__chunk ctr__chunk;
typedef struct {
    ctr__chunk *head;
    size_t used;
} ctr__arena;

ctr__node *ctr__node_new(ctr__arena *a);
ctr__item *ctr__item_new(ctr__arena *a);
void ctr__arena_free(ctr__arena *a);

/* Parse the whole contract. NULL on error (reported in dg). */
ctr__item *ctr__parse(ctr__lexer *lx, ctr__arena *arena);

/* --- Fields and built-ins (builtins.c) -------------------------------------------------- */

typedef struct {
    int rec;           /* T_DEVICE... the record type it belongs to                         */
    const char *name;
    int type;
} ctr__field;

extern const ctr__field ctr__fields[];
extern const size_t ctr__n_fields;

struct ctr__vm;
/* Read field fid (an index in ctr__fields) of a record value. Errors: CTR_ERUNTIME (a uint64
 * above INT64_MAX), CTR_ETYPE. */
int ctr__field_load(struct ctr__vm *vm, unsigned fid, const ctr__val *rec, ctr__val *out);

struct ctr__vm;
typedef int (*ctr__builtin_fn)(struct ctr__vm *vm, ctr__val *args, ctr__val *out);

/* Argument kinds for static checking. */
enum { A_INT = 1, A_STR, A_VER, A_LIST, A_LIST_OR_STR, A_DEVICE, A_RELEASE, A_LIT_STR };

typedef struct {
    const char *name;
    uint8_t argc;
    uint8_t args[CTR_ARGS_MAX];
    int ret;
    ctr__builtin_fn fn;  /* NULL: folded at compile time (version(), date())               */
    bool note;           /* writes a reason note when it returns false                     */
} ctr__builtin;

extern const ctr__builtin ctr__builtins[];
extern const size_t ctr__n_builtins;
enum { B_VERSION = 0, B_DATE = 1 };  /* the compile-time ones come first */

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" as Unix milliseconds. false if malformed. */
bool ctr__parse_date(const char *s, size_t n, int64_t *ms);

/* --- Bytecode --------------------------------------------------------------------------- */

/* Operands are little-endian; jump targets are absolute u16 code offsets. */
enum ctr__op {
    OP_TRUE = 1, OP_FALSE, OP_NONE,
    OP_INT8,     /* i8  */
    OP_INT64,    /* i64 */
    OP_CONST,    /* u16 constant index */
    OP_GLOBAL,   /* u8: 0 device, 1 release, 2 block */
    OP_FIELD,    /* u8 field id */
    OP_VAR,      /* u8: the variable of loop k, counted from the current let's (or rule's) base */
    OP_LET,      /* u8 let index, u16 code offset of the let's body */
    OP_LET_END,  /* u8 let index */
    OP_NOT, OP_NEG,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_IN,
    OP_AND,      /* u16: if top is false jump (keep it), else pop */
    OP_OR,       /* u16: if top is true jump (keep it), else pop */
    OP_JMP,      /* u16 */
    OP_ITER,     /* pop a list: start a loop over it (loops nest on a loop stack) */
    OP_NEXT,     /* u16: bind the next element of the innermost loop, or end it and jump */
    OP_LOOP_END, /* end the innermost loop early */
    OP_JF,       /* u16: pop; jump if false */
    OP_INC,      /* top int += 1 */
    OP_CALL,     /* u8 built-in id */
    OP_CONJ,     /* u16 condition index: start a condition of a rule */
    OP_CHECK,    /* u16: pop; if false jump to the rule's failure code */
    OP_MSG_TEXT, /* u16 constant index: append a string to the message */
    OP_MSG_VAL,  /* pop a value, append its text to the message */
    OP_FAIL,     /* u8: 1 if the message was built, 0 to describe the failed condition */
    OP_ELIGIBLE,
    OP__COUNT
};

typedef struct {
    char name[CTR_IDENT_MAX + 1];
    uint16_t first_conj, n_conj;
} ctr__rule;

typedef struct {
    uint16_t rule;
    bool note;          /* the condition is a call to a built-in that explains a false      */
    const char *text;   /* the condition's source, blanks collapsed                         */
    uint32_t len;
} ctr__conj;

typedef struct {
    uint16_t pc;
    uint16_t col;
    uint32_t line;
} ctr__pos;

struct ctr_program {
    uint8_t *code;
    size_t code_len;
    ctr__val *consts;
    size_t n_consts;
    ctr__rule *rules;
    size_t n_rules;
    ctr__conj *conj;
    size_t n_conj;
    size_t n_lets;
    ctr__pos *pos;      /* sorted by pc: where instructions that can fail came from         */
    size_t n_pos;
    uint8_t *image;
    size_t image_len;
    /* one allocation each for the storage the pointers above point into */
    void *mem;
};

/* Where the instruction at pc came from (0:0 if unknown). */
void ctr__pc_pos(const ctr_program *p, size_t pc, uint32_t *line, uint32_t *col);

/* --- Checker (check.c) ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint32_t len;
    int type;
    uint32_t line;     /* where it is defined */
    bool defined;      /* checked already: later items may use it */
} ctr__let;

typedef struct {
    ctr__diag *dg;
    ctr__let lets[CTR_LETS_MAX];
    size_t n_lets;
    struct {
        const char *name;
        uint32_t len;
        int type;
    } vars[CTR_LOOP_MAX];
    size_t n_vars;
    ldg_semver *vers;   /* versions parsed at compile time (storage owned by codegen)      */
    size_t n_vers, cap_vers;
} ctr__checker;

/* What a let or variable name would clash with ("a built-in function"...), or NULL. */
const char *ctr__reserved(const char *name, size_t len);
/* Give e and its children their static types, folding version() and date() calls and
 * turning string literals into versions where a version is expected. Returns e's type or
 * T_VOID after an error. */
int ctr__check(ctr__checker *ck, ctr__node *e);
/* As ctr__check, and the result must be a bool ("what" names the place in the error). */
bool ctr__check_bool(ctr__checker *ck, ctr__node *e, const char *what);
/* Check a because message: interpolations must be printable values. */
bool ctr__check_message(ctr__checker *ck, ctr__node *tpl);

/* --- VM (vm.c) -------------------------------------------------------------------------- */

typedef struct ctr__vm {
    const ctr_program *p;
    ctr__in in;
    uint64_t cost, limit;
    size_t pc;          /* of the instruction being run (for error positions)             */
    int conj;           /* the condition being evaluated, -1 before the first             */
    bool note_set;
    char note[CTR_REASON_MAX];
    char err[CTR_REASON_MAX]; /* run-time error text, without position                    */
} ctr__vm;

/* Charge work units; false (and the VM stops with CTR_ECOST) when over the limit. */
bool ctr__charge(ctr__vm *vm, uint64_t units);
/* A run-time error: record the message, return CTR_ERUNTIME. */
int ctr__rt_error(ctr__vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value of the wrong type: return CTR_ETYPE. */
int ctr__type_error(ctr__vm *vm, const char *what);
/* Append a value's text to a builder (messages). */
void ctr__show(ctr__sb *b, const ctr__val *v);
/* Equality of two scalar values of the same type (versions by precedence). */
bool ctr__equal(const ctr__val *a, const ctr__val *b);
/* Element i of a list value. */
void ctr__list_at(const ctr__vm *vm, const ctr__val *list, uint32_t i, ctr__val *out);
/* A uint64 input as an int; a run-time error above INT64_MAX. */
int ctr__u64(ctr__vm *vm, uint64_t x, const char *what, ctr__val *out);

#endif
