/*
 * The code generator and ctr_compile: checked AST to bytecode for the stack machine in vm.c,
 * then one allocation holding everything the program needs, and its canonical image.
 *
 * Layout of the code: items in source order; a let's body is emitted where the let stands,
 * behind a jump, and runs at most once per evaluation, the first time something uses it
 * (OP_LET); a rule is its conditions (the terms of its top-level "and"), each followed by
 * OP_CHECK, then a jump over its failure code (the because message and OP_FAIL). The code
 * ends with OP_ELIGIBLE.
 *
 * Bounds proven here so the VM needs no allocation: the value stack depth and the loop
 * depth of every path, lets included (a let's needs are added where it is used, and lets
 * only use lets above them, so the sums are finite); the code size; the table sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/internal.h"

typedef struct {
    uint8_t tag;      /* V_INT, V_STR, V_VER, V_LIST */
    uint32_t n;       /* string bytes, list length */
    int64_t i;
    uint32_t str;     /* offset in pool (strings, a version's text) */
    uint16_t ver;     /* index in vers */
    uint16_t first;   /* lists: index of the first element constant */
} cconst;

typedef struct {
    uint16_t rule;
    bool note;
    uint32_t text, len;
} cconj;

typedef struct {
    ctr__diag *dg;
    const char *src;
    size_t len;
    uint8_t code[CTR_CODE_MAX];
    size_t code_len;
    ctr__pos pos[CTR_CODE_MAX];
    size_t n_pos;
    uint32_t line, col;          /* of the node being emitted */
    cconst consts[CTR_CONST_MAX];
    size_t n_consts;
    ldg_semver vers[CTR_CONST_MAX];
    char *pool;
    size_t pool_len, pool_cap;
    ctr__rule rules[CTR_RULES_MAX];
    size_t n_rules;
    cconj conj[CTR_CONJ_MAX];
    size_t n_conj;
    uint16_t let_pc[CTR_LETS_MAX];
    int let_stack[CTR_LETS_MAX], let_loops[CTR_LETS_MAX];
    int depth, max_depth, loops, max_loops;
    ctr__checker ck;
} cg;

static bool ok(const cg *g)
{
    return g->dg->rc == 0;
}

static void too_big(cg *g, const char *what, unsigned max)
{
    ctr__error(g->dg, CTR_ETOOBIG, g->line, g->col, "contract too large: more than %u %s", max,
               what);
}

static void byte(cg *g, unsigned b)
{
    if (g->code_len == CTR_CODE_MAX) {
        too_big(g, "bytes of bytecode", CTR_CODE_MAX);
        return;
    }
    if (ok(g))
        g->code[g->code_len++] = (uint8_t)b;
}

static void u16(cg *g, unsigned v)
{
    byte(g, v & 0xff);
    byte(g, v >> 8);
}

/* An instruction with its net effect on the stack depth. */
static void op(cg *g, int opcode, int effect)
{
    if (g->n_pos == 0 || g->pos[g->n_pos - 1].line != g->line ||
        g->pos[g->n_pos - 1].col != g->col) {
        if (g->n_pos < CTR_CODE_MAX)
            g->pos[g->n_pos++] = (ctr__pos){(uint16_t)g->code_len, (uint16_t)g->col, g->line};
    }
    byte(g, (unsigned)opcode);
    g->depth += effect;
    if (g->depth > g->max_depth)
        g->max_depth = g->depth;
}

/* A forward jump's operand: returns where to patch. */
static size_t hole(cg *g)
{
    size_t at = g->code_len;
    u16(g, 0);
    return at;
}

static void patch(cg *g, size_t at)
{
    if (!ok(g))
        return;
    g->code[at] = (uint8_t)(g->code_len & 0xff);
    g->code[at + 1] = (uint8_t)(g->code_len >> 8);
}

static uint32_t pool_add(cg *g, const char *s, size_t n)
{
    if (g->pool_len + n + 1 > g->pool_cap) {
        too_big(g, "bytes of strings", (unsigned)g->pool_cap);
        return 0;
    }
    uint32_t at = (uint32_t)g->pool_len;
    memcpy(g->pool + at, s, n);
    g->pool[at + n] = '\0'; /* every string value is NUL-terminated (see internal.h) */
    g->pool_len += n + 1;
    return at;
}

static int const_add(cg *g, const ctr__node *n)
{
    if (g->n_consts == CTR_CONST_MAX) {
        too_big(g, "constants", CTR_CONST_MAX);
        return 0;
    }
    cconst *c = &g->consts[g->n_consts];
    memset(c, 0, sizeof *c);
    switch (n->kind) {
    case N_INT:
        c->tag = V_INT;
        c->i = n->ival;
        break;
    case N_STR:
        c->tag = V_STR;
        c->n = n->len;
        c->str = pool_add(g, n->text, n->len);
        break;
    case N_VER:
        c->tag = V_VER;
        c->ver = n->id;
        c->n = n->len;
        c->str = pool_add(g, n->text, n->len);
        break;
    default:
        return 0;
    }
    return (int)g->n_consts++;
}

static void emit_const(cg *g, int idx)
{
    op(g, OP_CONST, 1);
    u16(g, (unsigned)idx);
}

static void emit(cg *g, const ctr__node *e);

static void emit_list(cg *g, const ctr__node *e)
{
    size_t n = 0, first = g->n_consts;
    for (const ctr__node *x = e->a; x; x = x->next, n++)
        const_add(g, x);
    if (g->n_consts == CTR_CONST_MAX) {
        too_big(g, "constants", CTR_CONST_MAX);
        return;
    }
    cconst *c = &g->consts[g->n_consts];
    memset(c, 0, sizeof *c);
    c->tag = V_LIST;
    c->n = (uint32_t)n;
    c->first = (uint16_t)first;
    emit_const(g, (int)g->n_consts++);
}

static void emit_compr(cg *g, const ctr__node *e)
{
    size_t done, out, fail;
    if (e->op == 2)
        op(g, OP_INT8, 1), byte(g, 0);
    emit(g, e->a);
    op(g, OP_ITER, -1);
    if (++g->loops > g->max_loops)
        g->max_loops = g->loops;
    size_t top = g->code_len;
    op(g, OP_NEXT, 0);
    done = hole(g);
    emit(g, e->b);
    op(g, OP_JF, -1);
    if (e->op == 2) { /* count */
        u16(g, (unsigned)top);
        op(g, OP_INC, 0);
        op(g, OP_JMP, 0);
        u16(g, (unsigned)top);
        patch(g, done);
    } else if (e->op == 0) { /* all: a false body ends it false */
        fail = hole(g);
        op(g, OP_JMP, 0);
        u16(g, (unsigned)top);
        patch(g, fail);
        op(g, OP_LOOP_END, 0);
        op(g, OP_FALSE, 1);
        op(g, OP_JMP, 0);
        out = hole(g);
        patch(g, done);
        g->depth--;
        op(g, OP_TRUE, 1);
        patch(g, out);
    } else { /* any: a true body ends it true */
        u16(g, (unsigned)top);
        op(g, OP_LOOP_END, 0);
        op(g, OP_TRUE, 1);
        op(g, OP_JMP, 0);
        out = hole(g);
        patch(g, done);
        g->depth--;
        op(g, OP_FALSE, 1);
        patch(g, out);
    }
    g->loops--;
}

static void emit(cg *g, const ctr__node *e)
{
    if (!ok(g))
        return;
    uint32_t line = g->line, col = g->col;
    g->line = e->line;
    g->col = e->col;
    switch (e->kind) {
    case N_INT:
        if (e->ival >= -128 && e->ival <= 127) {
            op(g, OP_INT8, 1);
            byte(g, (unsigned)(uint8_t)(int8_t)e->ival);
        } else {
            op(g, OP_INT64, 1);
            for (int i = 0; i < 8; i++)
                byte(g, (unsigned)(((uint64_t)e->ival >> (8 * i)) & 0xff));
        }
        break;
    case N_STR:
    case N_VER:
        emit_const(g, const_add(g, e));
        break;
    case N_LIST:
        emit_list(g, e);
        break;
    case N_BOOL:
        op(g, e->ival ? OP_TRUE : OP_FALSE, 1);
        break;
    case N_NONE:
        op(g, OP_NONE, 1);
        break;
    case N_NAME:
        if (e->ref == 1) {
            op(g, OP_GLOBAL, 1);
            byte(g, e->id);
        } else if (e->ref == 3) {
            op(g, OP_VAR, 1);
            byte(g, e->id);
        } else {
            /* The let's body may run here, on top of what is on the stack now. */
            if (g->depth + g->let_stack[e->id] > g->max_depth)
                g->max_depth = g->depth + g->let_stack[e->id];
            if (g->loops + g->let_loops[e->id] > g->max_loops)
                g->max_loops = g->loops + g->let_loops[e->id];
            op(g, OP_LET, 1);
            byte(g, e->id);
            u16(g, g->let_pc[e->id]);
        }
        break;
    case N_FIELD:
        emit(g, e->a);
        g->line = e->line, g->col = e->col;
        op(g, OP_FIELD, 0);
        byte(g, e->id);
        break;
    case N_CALL: {
        int argc = 0;
        for (const ctr__node *a = e->a; a; a = a->next, argc++)
            emit(g, a);
        g->line = e->line, g->col = e->col;
        op(g, OP_CALL, 1 - argc);
        byte(g, e->id);
        break;
    }
    case N_NOT:
    case N_NEG:
        emit(g, e->a);
        g->line = e->line, g->col = e->col;
        op(g, e->kind == N_NOT ? OP_NOT : OP_NEG, 0);
        break;
    case N_COMPR:
        emit_compr(g, e);
        break;
    case N_BIN: {
        if (e->op == TK_AND || e->op == TK_OR) {
            emit(g, e->a);
            op(g, e->op == TK_AND ? OP_AND : OP_OR, -1);
            size_t end = hole(g);
            emit(g, e->b);
            patch(g, end);
            break;
        }
        static const struct {
            int tok, op;
        } map[] = {
            {TK_PLUS, OP_ADD}, {TK_MINUS, OP_SUB}, {TK_STAR, OP_MUL}, {TK_SLASH, OP_DIV},
            {TK_PERCENT, OP_MOD}, {TK_EQ, OP_EQ}, {TK_NE, OP_NE}, {TK_LT, OP_LT},
            {TK_LE, OP_LE}, {TK_GT, OP_GT}, {TK_GE, OP_GE}, {TK_IN, OP_IN},
        };
        emit(g, e->a);
        emit(g, e->b);
        g->line = e->line, g->col = e->col;
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (map[i].tok == e->op)
                op(g, map[i].op, -1);
        if (e->op == TK_IN && e->neg)
            op(g, OP_NOT, 0);
        break;
    }
    default:
        ctr__error(g->dg, CTR_ESYNTAX, e->line, e->col, "cannot compile this expression");
        break;
    }
    g->line = line;
    g->col = col;
}

/* A condition's source text for messages: blanks collapsed, comments dropped. The result is
 * never longer than the span, so it is written straight into the pool. */
static uint32_t conj_text(cg *g, const ctr__node *e, uint32_t *len)
{
    size_t span = e->end - e->off, n = 0;
    bool in_str = false, blank = false;
    *len = 0;
    if (g->pool_len + span + 1 > g->pool_cap) {
        too_big(g, "bytes of strings", (unsigned)g->pool_cap);
        return 0;
    }
    char *buf = g->pool + g->pool_len;
    for (size_t i = e->off; i < e->end; i++) {
        char c = g->src[i];
        if (in_str) {
            buf[n++] = c;
            if (c == '\\' && i + 1 < e->end)
                buf[n++] = g->src[++i];
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '#') {
            while (i + 1 < e->end && g->src[i + 1] != '\n')
                i++;
            blank = true;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            blank = true;
            continue;
        }
        if (blank && n)
            buf[n++] = ' ';
        blank = false;
        in_str = c == '"';
        buf[n++] = c;
    }
    buf[n] = '\0';
    uint32_t at = (uint32_t)g->pool_len;
    g->pool_len += n + 1;
    *len = (uint32_t)n;
    return at;
}

static void flatten(cg *g, const ctr__node *e, const ctr__node **out, size_t *n)
{
    if (e->kind == N_BIN && e->op == TK_AND) {
        flatten(g, e->a, out, n);
        flatten(g, e->b, out, n);
        return;
    }
    if (g->n_conj + *n >= CTR_CONJ_MAX) {
        g->line = e->line, g->col = e->col;
        too_big(g, "conditions", CTR_CONJ_MAX);
        return;
    }
    out[(*n)++] = e;
}

/* After an item: what it needs at run time must fit the VM. */
static void complexity(cg *g, const ctr__item *it, int depth, int loops)
{
    const char *what = it->is_rule ? "rule" : "let";
    if (depth > CTR_STACK_MAX)
        ctr__error(g->dg, CTR_ESYNTAX, it->line, it->col, "%s '%.*s' is too complex: it needs %d "
                   "stack slots, at most %d", what, (int)it->len, it->name, depth, CTR_STACK_MAX);
    else if (loops > CTR_LOOPSTACK_MAX)
        ctr__error(g->dg, CTR_ESYNTAX, it->line, it->col, "%s '%.*s' is too complex: its "
                   "comprehensions and lets nest %d deep, at most %d", what, (int)it->len,
                   it->name, loops, CTR_LOOPSTACK_MAX);
}

static void emit_rule(cg *g, const ctr__item *it)
{
    const ctr__node *conds[CTR_CONJ_MAX];
    size_t n = 0;
    g->line = it->line, g->col = it->col;
    for (size_t i = 0; i < g->n_rules; i++)
        if (strlen(g->rules[i].name) == it->len && !memcmp(g->rules[i].name, it->name, it->len)) {
            ctr__error(g->dg, CTR_ESYNTAX, it->line, it->col, "duplicate rule '%.*s'",
                       (int)it->len, it->name);
            return;
        }
    if (g->n_rules == CTR_RULES_MAX) {
        too_big(g, "rules", CTR_RULES_MAX);
        return;
    }
    char what[CTR_IDENT_MAX + 16];
    snprintf(what, sizeof what, "rule '%.*s'", (int)it->len, it->name);
    if (!ctr__check_bool(&g->ck, it->expr, what) ||
        (it->because && !ctr__check_message(&g->ck, it->because)))
        return;
    ctr__rule *r = &g->rules[g->n_rules];
    memcpy(r->name, it->name, it->len);
    r->name[it->len] = '\0';
    r->first_conj = (uint16_t)g->n_conj;
    flatten(g, it->expr, conds, &n);
    size_t fails[CTR_CONJ_MAX];
    for (size_t k = 0; k < n && ok(g); k++) {
        cconj *c = &g->conj[g->n_conj];
        c->rule = (uint16_t)g->n_rules;
        c->note = conds[k]->kind == N_CALL && ctr__builtins[conds[k]->id].note;
        c->text = conj_text(g, conds[k], &c->len);
        g->line = conds[k]->line, g->col = conds[k]->col;
        op(g, OP_CONJ, 0);
        u16(g, (unsigned)g->n_conj++);
        emit(g, conds[k]);
        op(g, OP_CHECK, -1);
        fails[k] = hole(g);
    }
    r->n_conj = (uint16_t)n;
    g->n_rules++;
    op(g, OP_JMP, 0);
    size_t next = hole(g);
    for (size_t k = 0; k < n; k++)
        patch(g, fails[k]);
    if (it->because && it->because->kind == N_TPL) {
        size_t i = 0;
        for (const ctr__node *p = it->because->a; p; p = p->next, i++) {
            if (i % 2 == 0) {
                if (p->len) {
                    op(g, OP_MSG_TEXT, 0);
                    u16(g, (unsigned)const_add(g, p));
                }
            } else {
                emit(g, p);
                op(g, OP_MSG_VAL, -1);
            }
        }
    } else if (it->because) {
        op(g, OP_MSG_TEXT, 0);
        u16(g, (unsigned)const_add(g, it->because));
    }
    op(g, OP_FAIL, 0);
    byte(g, it->because ? 1 : 0);
    patch(g, next);
    complexity(g, it, g->max_depth, g->max_loops);
}

static void emit_let(cg *g, const ctr__item *it, size_t k)
{
    ctr__let *l = &g->ck.lets[k];
    int t = ctr__check(&g->ck, it->expr);
    if (t == T_VOID)
        return;
    if (t == T_NONE) {
        ctr__error(g->dg, CTR_ESYNTAX, it->expr->line, it->expr->col, "a let cannot be none");
        return;
    }
    int depth = g->depth, max_depth = g->max_depth, loops = g->loops, max_loops = g->max_loops;
    g->depth = g->max_depth = g->loops = g->max_loops = 0;
    g->line = it->line, g->col = it->col;
    op(g, OP_JMP, 0);
    size_t after = hole(g);
    g->let_pc[k] = (uint16_t)g->code_len;
    emit(g, it->expr);
    op(g, OP_LET_END, 0);
    byte(g, (unsigned)k);
    patch(g, after);
    g->let_stack[k] = g->max_depth;
    g->let_loops[k] = g->max_loops;
    complexity(g, it, g->max_depth, g->max_loops);
    g->depth = depth, g->max_depth = max_depth, g->loops = loops, g->max_loops = max_loops;
    l->type = t;
    l->defined = true;
}

/* Let names: unique, not reserved; collected first so a use above the let can say so. */
static void collect_lets(cg *g, const ctr__item *items)
{
    for (const ctr__item *it = items; it && ok(g); it = it->next) {
        if (it->is_rule)
            continue;
        const char *r = ctr__reserved(it->name, it->len);
        if (r) {
            ctr__error(g->dg, CTR_ESYNTAX, it->line, it->col, "'%.*s' is %s and cannot be a let",
                       (int)it->len, it->name, r);
            return;
        }
        for (size_t i = 0; i < g->ck.n_lets; i++)
            if (g->ck.lets[i].len == it->len && !memcmp(g->ck.lets[i].name, it->name, it->len)) {
                ctr__error(g->dg, CTR_ESYNTAX, it->line, it->col,
                           "'%.*s' is already a let (line %u)", (int)it->len, it->name,
                           g->ck.lets[i].line);
                return;
            }
        if (g->ck.n_lets == CTR_LETS_MAX) {
            g->line = it->line, g->col = it->col;
            too_big(g, "lets", CTR_LETS_MAX);
            return;
        }
        g->ck.lets[g->ck.n_lets++] = (ctr__let){it->name, it->len, T_VOID, it->line, false};
    }
}

/* --- the program ------------------------------------------------------------------------ */

static void put(uint8_t *img, size_t *n, const void *p, size_t len)
{
    if (img)
        memcpy(img + *n, p, len);
    *n += len;
}

static void put8(uint8_t *img, size_t *n, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(img, n, &b, 1);
}

static void put16(uint8_t *img, size_t *n, unsigned v)
{
    put8(img, n, v & 0xff);
    put8(img, n, v >> 8);
}

static void put64(uint8_t *img, size_t *n, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put8(img, n, (unsigned)(v >> (8 * i)) & 0xff);
}

/*
 * The image: "FWC1", counts (rules, conditions, lets, constants: u16 each; code: u32), each
 * rule (name length u8, name, first condition u16, conditions u16), each condition (rule u16,
 * note u8, text length u16, text), each constant (tag u8, then: int i64; string or version
 * length u16 and bytes; list first u16, count u16), then the code. Little-endian. Written
 * twice: once to measure (img NULL), once to fill.
 */
static size_t image(const cg *g, uint8_t *img)
{
    size_t n = 0;
    put(img, &n, "FWC1", 4);
    put16(img, &n, (unsigned)g->n_rules);
    put16(img, &n, (unsigned)g->n_conj);
    put16(img, &n, (unsigned)g->ck.n_lets);
    put16(img, &n, (unsigned)g->n_consts);
    put16(img, &n, (unsigned)(g->code_len & 0xffff));
    put16(img, &n, (unsigned)(g->code_len >> 16));
    for (size_t i = 0; i < g->n_rules; i++) {
        size_t l = strlen(g->rules[i].name);
        put8(img, &n, (unsigned)l);
        put(img, &n, g->rules[i].name, l);
        put16(img, &n, g->rules[i].first_conj);
        put16(img, &n, g->rules[i].n_conj);
    }
    for (size_t i = 0; i < g->n_conj; i++) {
        put16(img, &n, g->conj[i].rule);
        put8(img, &n, g->conj[i].note);
        put16(img, &n, g->conj[i].len);
        put(img, &n, g->pool + g->conj[i].text, g->conj[i].len);
    }
    for (size_t i = 0; i < g->n_consts; i++) {
        const cconst *c = &g->consts[i];
        put8(img, &n, c->tag);
        if (c->tag == V_INT) {
            put64(img, &n, (uint64_t)c->i);
        } else if (c->tag == V_LIST) {
            put16(img, &n, c->first);
            put16(img, &n, c->n);
        } else {
            put16(img, &n, c->n);
            put(img, &n, g->pool + c->str, c->n);
        }
    }
    put(img, &n, g->code, g->code_len);
    return n;
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* One allocation for the program and everything it points into; pointers resolved. */
static void finalize(cg *g, ctr_program **out)
{
    size_t img_len = image(g, NULL);
    size_t o_vers = ALIGN8(sizeof(ctr_program));
    size_t o_consts = ALIGN8(o_vers + g->ck.n_vers * sizeof(ldg_semver));
    size_t o_conj = ALIGN8(o_consts + g->n_consts * sizeof(ctr__val));
    size_t o_rules = ALIGN8(o_conj + g->n_conj * sizeof(ctr__conj));
    size_t o_pos = ALIGN8(o_rules + g->n_rules * sizeof(ctr__rule));
    size_t o_code = ALIGN8(o_pos + g->n_pos * sizeof(ctr__pos));
    size_t o_pool = o_code + g->code_len;
    size_t o_img = o_pool + g->pool_len;
    size_t total = o_img + img_len;
    uint8_t *m = calloc(1, total);
    if (!m) {
        g->dg->rc = CTR_ENOMEM;
        return;
    }
    ctr_program *p = (ctr_program *)m;
    ldg_semver *vers = (ldg_semver *)(m + o_vers);
    char *pool = (char *)(m + o_pool);
    p->mem = m;
    memcpy(vers, g->vers, g->ck.n_vers * sizeof(ldg_semver));
    memcpy(pool, g->pool, g->pool_len);
    p->consts = (ctr__val *)(m + o_consts);
    p->n_consts = g->n_consts;
    for (size_t i = 0; i < g->n_consts; i++) {
        const cconst *c = &g->consts[i];
        ctr__val *v = &p->consts[i];
        v->tag = c->tag;
        v->n = c->n;
        if (c->tag == V_INT) {
            v->u.i = c->i;
        } else if (c->tag == V_STR) {
            v->u.s = pool + c->str;
        } else if (c->tag == V_VER) {
            v->u.v = &vers[c->ver];
            v->text = pool + c->str;
        } else {
            v->kind = L_CONST;
            v->u.p = &p->consts[c->first];
        }
    }
    p->conj = (ctr__conj *)(m + o_conj);
    p->n_conj = g->n_conj;
    for (size_t i = 0; i < g->n_conj; i++)
        p->conj[i] = (ctr__conj){g->conj[i].rule, g->conj[i].note, pool + g->conj[i].text,
                                 g->conj[i].len};
    p->rules = (ctr__rule *)(m + o_rules);
    p->n_rules = g->n_rules;
    memcpy(p->rules, g->rules, g->n_rules * sizeof(ctr__rule));
    p->pos = (ctr__pos *)(m + o_pos);
    p->n_pos = g->n_pos;
    memcpy(p->pos, g->pos, g->n_pos * sizeof(ctr__pos));
    p->code = m + o_code;
    p->code_len = g->code_len;
    memcpy(p->code, g->code, g->code_len);
    p->n_lets = g->ck.n_lets;
    p->image = m + o_img;
    p->image_len = image(g, p->image);
    *out = p;
}

void ctr_free(ctr_program *p)
{
    if (p)
        free(p->mem);
}

const uint8_t *ctr_code(const ctr_program *p, size_t *len)
{
    if (len)
        *len = p ? p->image_len : 0;
    return p ? p->image : NULL;
}

size_t ctr_rule_count(const ctr_program *p)
{
    return p ? p->n_rules : 0;
}

const char *ctr_rule_name(const ctr_program *p, size_t i)
{
    return p && i < p->n_rules ? p->rules[i].name : NULL;
}

void ctr__pc_pos(const ctr_program *p, size_t pc, uint32_t *line, uint32_t *col)
{
    /* The last entry at or before pc: entries are in pc order. */
    size_t lo = 0, hi = p->n_pos;
    *line = *col = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->pos[mid].pc <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo) {
        *line = p->pos[lo - 1].line;
        *col = p->pos[lo - 1].col;
    }
}

int ctr_compile(const char *src, size_t len, ctr_program **out, char *err, size_t errlen)
{
    ctr__diag dg = {err, errlen, 0};
    if (err && errlen)
        err[0] = '\0';
    else
        dg.cap = 0;
    if (!out || (!src && len))
        return CTR_EINVAL;
    *out = NULL;
    if (len > CTR_SOURCE_MAX) {
        ctr__error(&dg, CTR_ETOOBIG, 1, 1, "source is %zu bytes, more than %u", len,
                   CTR_SOURCE_MAX);
        return dg.rc;
    }
    cg *g = calloc(1, sizeof *g);
    char *strbuf = malloc(len + 1);
    ctr__arena arena = {0};
    if (g)
        g->pool = malloc(g->pool_cap = 2 * len + 16);
    if (!g || !strbuf || !g->pool) {
        if (g)
            free(g->pool);
        free(g);
        free(strbuf);
        return CTR_ENOMEM;
    }
    g->dg = &dg;
    g->src = src;
    g->len = len;
    g->ck.dg = &dg;
    g->ck.vers = g->vers;
    g->ck.cap_vers = CTR_CONST_MAX;

    ctr__lexer lx;
    ctr__lex_init(&lx, src ? src : "", len, strbuf, &dg);
    ctr__item *items = ctr__parse(&lx, &arena);
    if (items)
        collect_lets(g, items);
    size_t k = 0;
    for (const ctr__item *it = items; it && ok(g); it = it->next) {
        if (it->is_rule)
            emit_rule(g, it);
        else
            emit_let(g, it, k++);
    }
    if (ok(g))
        op(g, OP_ELIGIBLE, 0);
    if (ok(g))
        finalize(g, out);
    ctr__arena_free(&arena);
    free(strbuf);
    free(g->pool);
    free(g);
    return dg.rc;
}
