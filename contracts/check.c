/*
 * The checker: every expression gets a static type before any code is emitted, so type
 * mistakes are compile errors with a position, and the VM never meets a value of the wrong
 * type. Along the way it folds what is known at compile time: version("1.2.3") and
 * date("2026-03-01") become constants, and a string literal where a version is expected
 * (release.version >= "2.0.0", release.version in ["1.0.0", "1.0.1"]) is parsed as one,
 * so a malformed version in a contract is a compile error, not a run-time surprise.
 */
#include <stdio.h>
#include <string.h>

#include "contracts/internal.h"

bool ctr__is_list(int t)
{
    return t >= T_LIST_EMPTY && t <= T_LIST_DEP;
}

int ctr__elem_type(int t)
{
    switch (t) {
    case T_LIST_STR: return T_STR;
    case T_LIST_INT: return T_INT;
    case T_LIST_VER: return T_VER;
    case T_LIST_PKG: return T_PACKAGE;
    case T_LIST_HW: return T_HARDWARE;
    case T_LIST_DEP: return T_DEP;
    default: return T_VOID;
    }
}

int ctr__list_of(int t)
{
    switch (t) {
    case T_STR: return T_LIST_STR;
    case T_INT: return T_LIST_INT;
    case T_VER: return T_LIST_VER;
    case T_PACKAGE: return T_LIST_PKG;
    case T_HARDWARE: return T_LIST_HW;
    case T_DEP: return T_LIST_DEP;
    default: return T_VOID;
    }
}

const char *ctr__type_name(int t)
{
    static const char *const names[] = {
        [T_VOID] = "nothing", [T_BOOL] = "bool", [T_INT] = "int", [T_STR] = "string",
        [T_VER] = "version", [T_NONE] = "none", [T_DEVICE] = "device",
        [T_RELEASE] = "release", [T_BLOCK] = "block", [T_OUTCOMES] = "outcomes",
        [T_PACKAGE] = "package", [T_HARDWARE] = "hardware", [T_DEP] = "dependency",
        [T_LIST_EMPTY] = "empty list", [T_LIST_STR] = "list of string",
        [T_LIST_INT] = "list of int", [T_LIST_VER] = "list of version",
        [T_LIST_PKG] = "list of package", [T_LIST_HW] = "list of hardware",
        [T_LIST_DEP] = "list of dependency",
    };
    return t >= 0 && (size_t)t < sizeof names / sizeof *names ? names[t] : "?";
}

static bool is_scalar(int t)
{
    return t == T_BOOL || t == T_INT || t == T_STR || t == T_VER;
}

static int err_at(ctr__checker *ck, const ctr__node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Report an error at n; returns T_VOID so callers can "return ERR(...)". */
static int err_at(ctr__checker *ck, const ctr__node *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctr__error(ck->dg, CTR_ESYNTAX, n->line, n->col, "%s", msg);
    return T_VOID;
}

/* Where an expression starts: its leftmost token. Errors about an operand's type point
 * there (ERR_S); errors about an operator or a name point at it (ERR). */
static const ctr__node *start_of(const ctr__node *n)
{
    while ((n->kind == N_FIELD || n->kind == N_BIN) && n->a)
        n = n->a;
    return n;
}

#define ERR(n, ...) err_at(ck, (n), __VA_ARGS__)
#define ERR_S(n, ...) err_at(ck, start_of(n), __VA_ARGS__)

static bool name_is(const ctr__node *n, const char *s)
{
    return strlen(s) == n->len && !memcmp(s, n->text, n->len);
}

static const char *const globals[] = {"device", "release", "block"};

/* Names a let or a variable may not take: the globals, the built-ins, the comprehensions. */
const char *ctr__reserved(const char *name, size_t len)
{
    static const char *const comprehensions[] = {"all", "any", "count"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(globals[i]) == len && !memcmp(globals[i], name, len))
            return "a record";
    for (size_t i = 0; i < 3; i++)
        if (strlen(comprehensions[i]) == len && !memcmp(comprehensions[i], name, len))
            return "a comprehension";
    for (size_t i = 0; i < ctr__n_builtins; i++)
        if (strlen(ctr__builtins[i].name) == len && !memcmp(ctr__builtins[i].name, name, len))
            return "a built-in function";
    return NULL;
}

/* A string literal used as a version: parse it now. */
static bool to_version(ctr__checker *ck, ctr__node *n)
{
    char buf[CTR_STR_MAX + 1];
    if (ck->n_vers == ck->cap_vers) {
        ERR(n, "too many versions in one contract (at most %zu)", ck->cap_vers);
        return false;
    }
    memcpy(buf, n->text, n->len);
    buf[n->len] = '\0';
    if (strlen(buf) != n->len || ldg_semver_parse(buf, &ck->vers[ck->n_vers])) {
        ERR(n, "\"%.*s\" is not a SemVer 2.0 version", (int)n->len, n->text);
        return false;
    }
    n->kind = N_VER;
    n->type = T_VER;
    n->id = (uint16_t)ck->n_vers++;
    return true;
}

/* Where a version is expected and n is a string literal, or a list of them where a list of
 * versions is expected: convert. Returns the (possibly new) type. */
static int want_version(ctr__checker *ck, ctr__node *n, int t, int want)
{
    if (want == T_VER && t == T_STR && n->kind == N_STR)
        return to_version(ck, n) ? T_VER : T_VOID;
    if (want == T_LIST_VER && t == T_LIST_STR && n->kind == N_LIST) {
        for (ctr__node *e = n->a; e; e = e->next)
            if (!to_version(ck, e))
                return T_VOID;
        return n->type = T_LIST_VER;
    }
    return t;
}

static int check_name(ctr__checker *ck, ctr__node *n)
{
    for (size_t i = ck->n_vars; i-- > 0;)
        if (ck->vars[i].len == n->len && !memcmp(ck->vars[i].name, n->text, n->len)) {
            n->ref = 3;
            n->id = (uint16_t)i;
            return ck->vars[i].type;
        }
    for (size_t i = 0; i < ck->n_lets; i++) {
        const ctr__let *l = &ck->lets[i];
        if (l->len != n->len || memcmp(l->name, n->text, n->len))
            continue;
        if (!l->defined)
            return ERR(n, "'%.*s' is used before its let on line %u", (int)n->len, n->text,
                       l->line);
        n->ref = 2;
        n->id = (uint16_t)i;
        return l->type;
    }
    for (size_t i = 0; i < 3; i++)
        if (name_is(n, globals[i])) {
            n->ref = 1;
            n->id = (uint16_t)i;
            return T_DEVICE + (int)i;
        }
    const char *r = ctr__reserved(n->text, n->len);
    if (r)
        return ERR(n, "'%.*s' is %s: call it with (...)", (int)n->len, n->text, r);
    return ERR(n, "unknown name '%.*s'", (int)n->len, n->text);
}

static int check_field(ctr__checker *ck, ctr__node *n)
{
    int t = ctr__check(ck, n->a);
    if (t == T_VOID)
        return T_VOID;
    for (size_t i = 0; i < ctr__n_fields; i++)
        if (ctr__fields[i].rec == t && name_is(n, ctr__fields[i].name)) {
            n->id = (uint16_t)i;
            return ctr__fields[i].type;
        }
    return ERR(n, "%s has no field '%.*s'", ctr__type_name(t), (int)n->len, n->text);
}

static int check_list(ctr__checker *ck, ctr__node *n)
{
    int et = T_VOID;
    (void)ck;
    for (ctr__node *e = n->a; e; e = e->next) {
        int t = e->kind == N_INT ? T_INT : T_STR;
        e->type = (uint8_t)t;
        if (et != T_VOID && t != et)
            return ERR(e, "list elements must all be strings or all be numbers");
        et = t;
    }
    return et == T_VOID ? T_LIST_EMPTY : ctr__list_of(et);
}

static const char *arg_kind_name(int k)
{
    switch (k) {
    case A_INT: return "an int";
    case A_STR: return "a string";
    case A_VER: return "a version";
    case A_LIST: return "a list";
    case A_LIST_OR_STR: return "a list or a string";
    case A_DEVICE: return "device";
    case A_RELEASE: return "release";
    case A_LIT_STR: return "a string literal";
    default: return "?";
    }
}

static bool arg_fits(int kind, int t)
{
    switch (kind) {
    case A_INT: return t == T_INT;
    case A_STR: return t == T_STR;
    case A_VER: return t == T_VER;
    case A_LIST: return ctr__is_list(t);
    case A_LIST_OR_STR: return ctr__is_list(t) || t == T_STR;
    case A_DEVICE: return t == T_DEVICE;
    case A_RELEASE: return t == T_RELEASE;
    default: return false;
    }
}

/* subset(a, b), intersects(a, b): two lists of the same scalar element type ([] fits any). */
static bool check_set_args(ctr__checker *ck, ctr__node *call, ctr__node *a, ctr__node *b)
{
    int ta = a->type, tb = b->type;
    ta = want_version(ck, a, ta, tb);
    tb = want_version(ck, b, tb, ta);
    if (ta == T_VOID || tb == T_VOID)
        return false;
    a->type = (uint8_t)ta;
    b->type = (uint8_t)tb;
    int ea = ctr__elem_type(ta), eb = ctr__elem_type(tb);
    if ((ta != T_LIST_EMPTY && !is_scalar(ea)) || (tb != T_LIST_EMPTY && !is_scalar(eb))) {
        ERR(call, "%.*s() needs lists of strings, ints or versions, got %s and %s",
            (int)call->len, call->text, ctr__type_name(ta), ctr__type_name(tb));
        return false;
    }
    if (ta != T_LIST_EMPTY && tb != T_LIST_EMPTY && ta != tb) {
        ERR(call, "%.*s() needs two lists of the same type, got %s and %s", (int)call->len,
            call->text, ctr__type_name(ta), ctr__type_name(tb));
        return false;
    }
    return true;
}

static int check_call(ctr__checker *ck, ctr__node *n)
{
    const ctr__builtin *b = NULL;
    ctr__node *args[CTR_ARGS_MAX];
    size_t argc = 0;
    for (size_t i = 0; i < ctr__n_builtins && !b; i++)
        if (name_is(n, ctr__builtins[i].name)) {
            b = &ctr__builtins[i];
            n->id = (uint16_t)i;
        }
    if (!b) {
        for (size_t i = 0; i < ck->n_lets; i++)
            if (ck->lets[i].len == n->len && !memcmp(ck->lets[i].name, n->text, n->len))
                return ERR(n, "'%.*s' is a let, not a function", (int)n->len, n->text);
        for (size_t i = 0; i < 3; i++)
            if (name_is(n, globals[i]))
                return ERR(n, "'%.*s' is a record, not a function", (int)n->len, n->text);
        return ERR(n, "unknown function '%.*s'", (int)n->len, n->text);
    }
    for (ctr__node *a = n->a; a; a = a->next) {
        if (argc == b->argc || argc == CTR_ARGS_MAX) {
            argc++;
            break;
        }
        args[argc++] = a;
    }
    if (argc != b->argc) {
        size_t got = 0;
        for (ctr__node *a = n->a; a; a = a->next)
            got++;
        return ERR(n, "%s() takes %u argument%s, got %zu", b->name, b->argc,
                   b->argc == 1 ? "" : "s", got);
    }
    for (size_t i = 0; i < argc; i++) {
        ctr__node *a = args[i];
        int kind = b->args[i];
        if (kind == A_LIT_STR) {
            if (a->kind != N_STR)
                return ERR_S(a, "%s() needs a string literal such as %s", b->name,
                           n->id == B_VERSION ? "\"1.2.3\"" : "\"2026-03-01\"");
            a->type = T_STR;
            continue;
        }
        int t = ctr__check(ck, a);
        if (t == T_VOID)
            return T_VOID;
        if (kind == A_VER && (t = want_version(ck, a, t, T_VER)) == T_VOID)
            return T_VOID;
        if (!arg_fits(kind, t))
            return ERR_S(a, "argument %zu of %s() must be %s, got %s", i + 1, b->name,
                       arg_kind_name(kind), ctr__type_name(t));
        a->type = (uint8_t)t;
    }
    if (!strcmp(b->name, "subset") || !strcmp(b->name, "intersects"))
        if (!check_set_args(ck, n, args[0], args[1]))
            return T_VOID;
    if (!strcmp(b->name, "satisfies") && args[1]->kind == N_STR) {
        char buf[CTR_STR_MAX + 1];
        memcpy(buf, args[1]->text, args[1]->len);
        buf[args[1]->len] = '\0';
        if (strlen(buf) != args[1]->len || ldg_constraint_valid(buf))
            return ERR(args[1], "\"%.*s\" is not a version constraint", (int)args[1]->len,
                       args[1]->text);
    }
    /* Fold the compile-time built-ins into constants. */
    if (n->id == B_VERSION) {
        if (!to_version(ck, args[0]))
            return T_VOID;
        *n = (ctr__node){.kind = N_VER, .type = T_VER, .id = args[0]->id, .line = n->line,
                         .col = n->col, .off = n->off, .end = n->end, .depth = 1,
                         .text = args[0]->text, .len = args[0]->len, .next = n->next};
        return T_VER;
    }
    if (n->id == B_DATE) {
        int64_t ms;
        if (!ctr__parse_date(args[0]->text, args[0]->len, &ms))
            return ERR(args[0], "\"%.*s\" is not a date: write \"YYYY-MM-DD\" or "
                       "\"YYYY-MM-DDTHH:MM:SSZ\" (UTC, years 1970-9999)", (int)args[0]->len,
                       args[0]->text);
        *n = (ctr__node){.kind = N_INT, .type = T_INT, .ival = ms, .line = n->line,
                         .col = n->col, .off = n->off, .end = n->end, .depth = 1, .next = n->next};
        return T_INT;
    }
    return b->ret;
}

static int check_compr(ctr__checker *ck, ctr__node *n)
{
    static const char *const names[] = {"all", "any", "count"};
    int lt = ctr__check(ck, n->a);
    /* The parser keeps where the variable is written in ival. */
    ctr__node var = {.line = (uint32_t)(n->ival >> 32), .col = (uint32_t)n->ival};
    if (lt == T_VOID)
        return T_VOID;
    if (!ctr__is_list(lt) || lt == T_LIST_EMPTY)
        return ERR_S(n->a, "%s() needs a non-empty list after 'in', got %s", names[n->op],
                   ctr__type_name(lt));
    const char *r = ctr__reserved(n->text, n->len);
    if (r)
        return ERR(&var, "'%.*s' is %s and cannot name a variable", (int)n->len, n->text, r);
    for (size_t i = 0; i < ck->n_vars; i++)
        if (ck->vars[i].len == n->len && !memcmp(ck->vars[i].name, n->text, n->len))
            return ERR(&var, "'%.*s' is already bound by an enclosing comprehension",
                       (int)n->len, n->text);
    for (size_t i = 0; i < ck->n_lets; i++)
        if (ck->lets[i].len == n->len && !memcmp(ck->lets[i].name, n->text, n->len))
            return ERR(&var, "'%.*s' is a let and cannot name a variable", (int)n->len,
                       n->text);
    if (ck->n_vars == CTR_LOOP_MAX)
        return ERR(n, "comprehensions nested more than %d deep", CTR_LOOP_MAX);
    n->id = (uint16_t)ck->n_vars;
    ck->vars[ck->n_vars].name = n->text;
    ck->vars[ck->n_vars].len = n->len;
    ck->vars[ck->n_vars].type = ctr__elem_type(lt);
    ck->n_vars++;
    bool ok = ctr__check_bool(ck, n->b, names[n->op]);
    ck->n_vars--;
    if (!ok)
        return T_VOID;
    return n->op == 2 ? T_INT : T_BOOL;
}

static int check_equality(ctr__checker *ck, ctr__node *n, int ta, int tb)
{
    ta = want_version(ck, n->a, ta, tb);
    tb = want_version(ck, n->b, tb, ta);
    if (ta == T_VOID || tb == T_VOID)
        return T_VOID;
    bool ok = (ta == tb && (is_scalar(ta) || ta == T_NONE)) || (ta == T_VER && tb == T_NONE) ||
              (ta == T_NONE && tb == T_VER);
    if (!ok)
        return ERR(n, "cannot compare %s with %s", ctr__type_name(ta), ctr__type_name(tb));
    n->a->type = (uint8_t)ta;
    n->b->type = (uint8_t)tb;
    return T_BOOL;
}

static int check_order(ctr__checker *ck, ctr__node *n, int ta, int tb)
{
    ta = want_version(ck, n->a, ta, tb);
    tb = want_version(ck, n->b, tb, ta);
    if (ta == T_VOID || tb == T_VOID)
        return T_VOID;
    if (ta == T_NONE || tb == T_NONE)
        return ERR(n, "none has no order: test it with == none");
    if (ta != tb || (ta != T_INT && ta != T_VER))
        return ERR(n, "%s needs two ints or two versions, got %s and %s",
                   ctr__tok_name(n->op), ctr__type_name(ta), ctr__type_name(tb));
    n->a->type = (uint8_t)ta;
    n->b->type = (uint8_t)tb;
    return T_BOOL;
}

static int check_in(ctr__checker *ck, ctr__node *n, int ta, int tb)
{
    if (!ctr__is_list(tb))
        return ERR_S(n->b, "'in' needs a list on its right, got %s", ctr__type_name(tb));
    int et = ctr__elem_type(tb);
    if (tb == T_LIST_EMPTY && is_scalar(ta))
        return T_BOOL;
    if (tb == T_LIST_STR && ta == T_VER) {
        if ((tb = want_version(ck, n->b, tb, T_LIST_VER)) == T_VOID)
            return T_VOID;
        et = T_VER;
    }
    if ((ta = want_version(ck, n->a, ta, et)) == T_VOID)
        return T_VOID;
    if (!is_scalar(et))
        return ERR_S(n->b, "'in' needs a list of strings, ints or versions, got %s",
                   ctr__type_name(tb));
    if (ta != et)
        return ERR(n, "'in' looks for %s in a %s", ctr__type_name(ta), ctr__type_name(tb));
    n->a->type = (uint8_t)ta;
    n->b->type = (uint8_t)tb;
    return T_BOOL;
}

static int check_bin(ctr__checker *ck, ctr__node *n)
{
    if (n->op == TK_AND || n->op == TK_OR) {
        const char *what = n->op == TK_AND ? "and" : "or";
        return ctr__check_bool(ck, n->a, what) && ctr__check_bool(ck, n->b, what) ? T_BOOL
                                                                                  : T_VOID;
    }
    int ta = ctr__check(ck, n->a);
    if (ta == T_VOID)
        return T_VOID;
    int tb = ctr__check(ck, n->b);
    if (tb == T_VOID)
        return T_VOID;
    switch (n->op) {
    case TK_PLUS: case TK_MINUS: case TK_STAR: case TK_SLASH: case TK_PERCENT:
        if (ta != T_INT)
            return ERR_S(n->a, "%s needs ints, got %s", ctr__tok_name(n->op), ctr__type_name(ta));
        if (tb != T_INT)
            return ERR_S(n->b, "%s needs ints, got %s", ctr__tok_name(n->op), ctr__type_name(tb));
        return T_INT;
    case TK_EQ: case TK_NE:
        return check_equality(ck, n, ta, tb);
    case TK_LT: case TK_LE: case TK_GT: case TK_GE:
        return check_order(ck, n, ta, tb);
    case TK_IN:
        return check_in(ck, n, ta, tb);
    default:
        return ERR(n, "unknown operator");
    }
}

int ctr__check(ctr__checker *ck, ctr__node *e)
{
    int t;
    switch (e->kind) {
    case N_INT: t = T_INT; break;
    case N_STR: t = T_STR; break;
    case N_BOOL: t = T_BOOL; break;
    case N_NONE: t = T_NONE; break;
    case N_VER: t = T_VER; break;
    case N_LIST: t = check_list(ck, e); break;
    case N_NAME: t = check_name(ck, e); break;
    case N_FIELD: t = check_field(ck, e); break;
    case N_CALL: t = check_call(ck, e); break;
    case N_COMPR: t = check_compr(ck, e); break;
    case N_BIN: t = check_bin(ck, e); break;
    case N_NOT:
        t = ctr__check_bool(ck, e->a, "not") ? T_BOOL : T_VOID;
        break;
    case N_NEG:
        t = ctr__check(ck, e->a);
        if (t != T_VOID && t != T_INT)
            t = ERR_S(e->a, "'-' needs an int, got %s", ctr__type_name(t));
        break;
    case N_TPL:
    default:
        t = ERR(e, "interpolation is only allowed in because messages");
        break;
    }
    e->type = (uint8_t)t;
    return t;
}

bool ctr__check_bool(ctr__checker *ck, ctr__node *e, const char *what)
{
    int t = ctr__check(ck, e);
    if (t == T_VOID)
        return false;
    if (t != T_BOOL) {
        ERR_S(e, "%s needs a bool, got %s", what, ctr__type_name(t));
        return false;
    }
    return true;
}

bool ctr__check_message(ctr__checker *ck, ctr__node *tpl)
{
    if (tpl->kind != N_TPL)
        return true;
    /* Parts alternate: text, expression, text, ..., text. */
    size_t i = 0;
    for (ctr__node *p = tpl->a; p; p = p->next, i++) {
        if (i % 2 == 0)
            continue;
        int t = ctr__check(ck, p);
        if (t == T_VOID)
            return false;
        if (!is_scalar(t) && t != T_NONE && t != T_LIST_STR && t != T_LIST_INT &&
            t != T_LIST_VER && t != T_LIST_EMPTY)
            return ERR_S(p, "cannot show a %s in a message", ctr__type_name(t)) != T_VOID;
    }
    return true;
}
