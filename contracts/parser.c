/*
 * The parser: recursive descent over the grammar in docs/contracts.md, building an AST of
 * items (rules and lets). Nesting is capped (CTR_NEST_MAX) so that hostile source cannot
 * exhaust the C stack; nodes come from an arena whose size is bounded by the source size
 * (every node is made for at least one token).
 *
 *   contract := item+
 *   item     := "let" NAME "=" expr | "rule" NAME ":" expr ["because" STRING]
 *   expr     := and ("or" and)*
 *   and      := not ("and" not)*
 *   not      := "not" not | cmp
 *   cmp      := sum [("=="|"!="|"<"|"<="|">"|">="|"in"|"not" "in") sum]
 *   sum      := term (("+"|"-") term)*
 *   term     := unary (("*"|"/"|"%") unary)*
 *   unary    := "-" unary | postfix
 *   postfix  := primary ("." NAME)*
 *   primary  := INT | STRING | "true" | "false" | "none" | "(" expr ")"
 *             | "[" [literal ("," literal)* [","]] "]"
 *             | ("all"|"any"|"count") "(" NAME "in" expr ":" expr ")"
 *             | NAME "(" [expr ("," expr)*] ")" | NAME
 */
#include <stdlib.h>
#include <string.h>

#include "contracts/internal.h"

#define CHUNK_NODES 128

union slot {
    ctr__node node;
    ctr__item item;
};

struct ctr__chunk {
    ctr__chunk *next;
    union slot slots[CHUNK_NODES];
};

static union slot *slot_new(ctr__arena *a)
{
    if (!a->head || a->used == CHUNK_NODES) {
        ctr__chunk *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
        a->used = 0;
    }
    return &a->head->slots[a->used++];
}

ctr__node *ctr__node_new(ctr__arena *a)
{
    union slot *s = slot_new(a);
    return s ? &s->node : NULL;
}

ctr__item *ctr__item_new(ctr__arena *a)
{
    union slot *s = slot_new(a);
    return s ? &s->item : NULL;
}

void ctr__arena_free(ctr__arena *a)
{
    while (a->head) {
        ctr__chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    a->used = 0;
}

typedef struct {
    ctr__lexer *lx;
    ctr__arena *arena;
    ctr__diag *dg;
    ctr__token tok;      /* the current token */
    uint32_t prev_end;   /* end offset of the previous token */
    int depth;
} parser;

static void next(parser *ps)
{
    ps->prev_end = ps->tok.end;
    ctr__lex_next(ps->lx, &ps->tok);
}

static bool failed(const parser *ps)
{
    return ps->dg->rc != 0;
}

/* "expected X, found Y" at the current token. */
static void expected(parser *ps, const char *what)
{
    const ctr__token *t = &ps->tok;
    if (t->kind == TK_ERROR)
        return;
    if (t->kind == TK_IDENT)
        ctr__error(ps->dg, CTR_ESYNTAX, t->line, t->col, "expected %s, found '%.*s'", what,
                   (int)t->len, t->text);
    else
        ctr__error(ps->dg, CTR_ESYNTAX, t->line, t->col, "expected %s, found %s", what,
                   ctr__tok_name(t->kind));
}

static bool accept(parser *ps, int kind)
{
    if (ps->tok.kind != kind)
        return false;
    next(ps);
    return true;
}

static bool expect(parser *ps, int kind, const char *what)
{
    if (accept(ps, kind))
        return true;
    expected(ps, what);
    return false;
}

static ctr__node *mk(parser *ps, int kind, const ctr__token *at)
{
    ctr__node *n = ctr__node_new(ps->arena);
    if (!n) {
        ctr__error(ps->dg, CTR_ENOMEM, at->line, at->col, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    n->off = at->off;
    n->end = at->end;
    n->text = at->text;
    n->len = at->len;
    n->depth = 1;
    return n;
}

/* n sits above child: its depth grows; false (and an error) past CTR_DEPTH_MAX. Long
 * operator chains (a + b + c ...) parse in a loop but make deep trees, which the checker
 * and the code generator walk recursively: this cap keeps their C stack bounded. */
static bool above(parser *ps, ctr__node *n, const ctr__node *child)
{
    if (child->depth + 1 > n->depth)
        n->depth = (uint16_t)(child->depth + 1);
    if (n->depth > CTR_DEPTH_MAX) {
        ctr__error(ps->dg, CTR_ESYNTAX, n->line, n->col,
                   "expression too long (more than %d levels): split it into lets or rules",
                   CTR_DEPTH_MAX);
        return false;
    }
    return true;
}

static ctr__node *bin(parser *ps, int op, const ctr__token *at, ctr__node *a, ctr__node *b)
{
    ctr__node *n = mk(ps, N_BIN, at);
    if (!n)
        return NULL;
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    n->off = a->off;
    n->end = b->end;
    return above(ps, n, a) && above(ps, n, b) ? n : NULL;
}

static ctr__node *expr(parser *ps);

/* Guards every recursive descent (parentheses, calls and comprehensions through expr(),
 * prefix operators): the depth of nested constructs is capped. Operator chains parse in
 * loops and need no guard here; their tree depth is capped by above(). */
static bool enter(parser *ps)
{
    if (++ps->depth > CTR_NEST_MAX) {
        ctr__error(ps->dg, CTR_ESYNTAX, ps->tok.line, ps->tok.col,
                   "expression nested too deeply (more than %d levels)", CTR_NEST_MAX);
        return false;
    }
    return true;
}

static ctr__node *list_literal(parser *ps)
{
    ctr__token open = ps->tok;
    ctr__node *n = mk(ps, N_LIST, &open), **tail = &n->a;
    size_t count = 0;
    if (!n)
        return NULL;
    next(ps);
    while (ps->tok.kind != TK_RBRACK) {
        ctr__token at = ps->tok;
        bool neg = accept(ps, TK_MINUS);
        ctr__node *e;
        if (ps->tok.kind == TK_INT) {
            e = mk(ps, N_INT, &ps->tok);
            if (e)
                e->ival = neg ? -ps->tok.ival : ps->tok.ival;
        } else if (ps->tok.kind == TK_STRING && !neg) {
            e = mk(ps, N_STR, &ps->tok);
        } else {
            if (ps->tok.kind == TK_EOF || ps->tok.kind == TK_ERROR)
                expected(ps, "']'");
            else
                ctr__error(ps->dg, CTR_ESYNTAX, at.line, at.col,
                           "list elements must be literal strings or numbers");
            return NULL;
        }
        if (!e)
            return NULL;
        e->line = at.line;
        e->col = at.col;
        e->off = at.off;
        next(ps);
        if (++count > CTR_LITLIST_MAX) {
            ctr__error(ps->dg, CTR_ESYNTAX, at.line, at.col, "list longer than %d elements",
                       CTR_LITLIST_MAX);
            return NULL;
        }
        *tail = e;
        tail = &e->next;
        if (!accept(ps, TK_COMMA) && ps->tok.kind != TK_RBRACK) {
            expected(ps, "',' or ']'");
            return NULL;
        }
    }
    n->end = ps->tok.end;
    next(ps);
    return n;
}

static ctr__node *comprehension(parser *ps, const ctr__token *name, int op)
{
    ctr__node *n = mk(ps, N_COMPR, name);
    if (!n)
        return NULL;
    n->op = (uint8_t)op;
    next(ps); /* ( */
    if (ps->tok.kind != TK_IDENT) {
        expected(ps, "a variable name");
        return NULL;
    }
    n->text = ps->tok.text;
    n->len = ps->tok.len;
    n->ival = ((int64_t)ps->tok.line << 32) | ps->tok.col; /* where the variable is bound */
    next(ps);
    if (!expect(ps, TK_IN, "'in'") || !(n->a = expr(ps)) || !expect(ps, TK_COLON, "':'") ||
        !(n->b = expr(ps)) || !above(ps, n, n->a) || !above(ps, n, n->b))
        return NULL;
    n->end = ps->tok.end;
    return expect(ps, TK_RPAREN, "')'") ? n : NULL;
}

static ctr__node *call(parser *ps, const ctr__token *name)
{
    ctr__node *n = mk(ps, N_CALL, name), **tail;
    if (!n)
        return NULL;
    tail = &n->a;
    next(ps); /* ( */
    while (ps->tok.kind != TK_RPAREN) {
        ctr__node *e = expr(ps);
        if (!e || !above(ps, n, e))
            return NULL;
        *tail = e;
        tail = &e->next;
        if (!accept(ps, TK_COMMA) && ps->tok.kind != TK_RPAREN) {
            expected(ps, "',' or ')'");
            return NULL;
        }
    }
    n->end = ps->tok.end;
    next(ps);
    return n;
}

static ctr__node *primary(parser *ps)
{
    ctr__token t = ps->tok;
    ctr__node *n;
    switch (t.kind) {
    case TK_INT:
        if ((n = mk(ps, N_INT, &t)))
            n->ival = t.ival;
        next(ps);
        return n;
    case TK_STRING:
        n = mk(ps, N_STR, &t);
        next(ps);
        return n;
    case TK_TPL_HEAD:
        ctr__error(ps->dg, CTR_ESYNTAX, t.line, t.col,
                   "interpolation {...} is only allowed in because messages (write \\{)");
        return NULL;
    case TK_TRUE:
    case TK_FALSE:
        if ((n = mk(ps, N_BOOL, &t)))
            n->ival = t.kind == TK_TRUE;
        next(ps);
        return n;
    case TK_NONE:
        n = mk(ps, N_NONE, &t);
        next(ps);
        return n;
    case TK_LPAREN:
        next(ps);
        if (!(n = expr(ps)))
            return NULL;
        /* Keep the parentheses in the span so the condition's text reads as written. */
        n->off = t.off;
        n->end = ps->tok.end;
        return expect(ps, TK_RPAREN, "')'") ? n : NULL;
    case TK_LBRACK:
        return list_literal(ps);
    case TK_IDENT:
        next(ps);
        if (ps->tok.kind != TK_LPAREN)
            return mk(ps, N_NAME, &t);
        if (t.len == 3 && !memcmp(t.text, "all", 3))
            return comprehension(ps, &t, 0);
        if (t.len == 3 && !memcmp(t.text, "any", 3))
            return comprehension(ps, &t, 1);
        if (t.len == 5 && !memcmp(t.text, "count", 5))
            return comprehension(ps, &t, 2);
        return call(ps, &t);
    default:
        expected(ps, "an expression");
        return NULL;
    }
}

static ctr__node *postfix(parser *ps)
{
    ctr__node *n = primary(ps);
    while (n && ps->tok.kind == TK_DOT) {
        next(ps);
        if (ps->tok.kind != TK_IDENT) {
            expected(ps, "a field name after '.'");
            return NULL;
        }
        ctr__node *f = mk(ps, N_FIELD, &ps->tok);
        if (!f)
            return NULL;
        f->a = n;
        f->off = n->off;
        if (!above(ps, f, n))
            return NULL;
        next(ps);
        n = f;
    }
    return n;
}

static ctr__node *unary(parser *ps)
{
    if (ps->tok.kind != TK_MINUS)
        return postfix(ps);
    ctr__token t = ps->tok;
    if (!enter(ps))
        return NULL;
    next(ps);
    ctr__node *a = unary(ps), *n;
    ps->depth--;
    if (!a)
        return NULL;
    if (a->kind == N_INT && a->off == t.end) { /* a negative literal: -5 */
        a->ival = -a->ival;
        a->off = t.off;
        a->line = t.line;
        a->col = t.col;
        return a;
    }
    if (!(n = mk(ps, N_NEG, &t)))
        return NULL;
    n->a = a;
    n->end = a->end;
    return above(ps, n, a) ? n : NULL;
}

static ctr__node *binary_level(parser *ps, int level);

/* Levels: 0 term (* / %), 1 sum (+ -). */
static ctr__node *binary_level(parser *ps, int level)
{
    ctr__node *a = level == 0 ? unary(ps) : binary_level(ps, 0);
    for (;;) {
        int k = ps->tok.kind;
        bool mine = level == 0 ? (k == TK_STAR || k == TK_SLASH || k == TK_PERCENT)
                               : (k == TK_PLUS || k == TK_MINUS);
        if (!a || !mine)
            return a;
        ctr__token t = ps->tok;
        next(ps);
        ctr__node *b = level == 0 ? unary(ps) : binary_level(ps, 0);
        if (!b)
            return NULL;
        a = bin(ps, k, &t, a, b);
    }
}

static bool is_cmp(int k)
{
    return k == TK_EQ || k == TK_NE || k == TK_LT || k == TK_LE || k == TK_GT || k == TK_GE ||
           k == TK_IN || k == TK_NOT;
}

static ctr__node *comparison(parser *ps)
{
    ctr__node *a = binary_level(ps, 1);
    if (!a || !is_cmp(ps->tok.kind))
        return a;
    ctr__token t = ps->tok;
    bool neg = false;
    int op = t.kind;
    next(ps);
    if (op == TK_NOT) {
        if (ps->tok.kind != TK_IN) {
            expected(ps, "'in' after 'not'");
            return NULL;
        }
        op = TK_IN;
        neg = true;
        next(ps);
    }
    ctr__node *b = binary_level(ps, 1), *n;
    if (!b || !(n = bin(ps, op, &t, a, b)))
        return NULL;
    n->neg = neg;
    if (is_cmp(ps->tok.kind)) {
        ctr__error(ps->dg, CTR_ESYNTAX, ps->tok.line, ps->tok.col,
                   "comparisons do not chain: write a < b and b < c");
        return NULL;
    }
    return n;
}

static ctr__node *negation(parser *ps)
{
    if (ps->tok.kind != TK_NOT)
        return comparison(ps);
    ctr__token t = ps->tok;
    if (!enter(ps))
        return NULL;
    next(ps);
    ctr__node *a = negation(ps), *n;
    ps->depth--;
    if (!a || !(n = mk(ps, N_NOT, &t)))
        return NULL;
    n->a = a;
    n->end = a->end;
    return above(ps, n, a) ? n : NULL;
}

static ctr__node *logic(parser *ps, int op)
{
    ctr__node *a = op == TK_OR ? logic(ps, TK_AND) : negation(ps);
    while (a && ps->tok.kind == op) {
        ctr__token t = ps->tok;
        next(ps);
        ctr__node *b = op == TK_OR ? logic(ps, TK_AND) : negation(ps);
        if (!b)
            return NULL;
        a = bin(ps, op, &t, a, b);
    }
    return a;
}

static ctr__node *expr(parser *ps)
{
    if (!enter(ps))
        return NULL;
    ctr__node *n = logic(ps, TK_OR);
    ps->depth--;
    return n;
}

/* because "text" or because "text {expr} text": a N_STR, or a N_TPL whose parts (N_STR
 * for the text, expressions between) hang off a. */
static ctr__node *message(parser *ps)
{
    ctr__token t = ps->tok;
    if (t.kind == TK_STRING) {
        next(ps);
        return mk(ps, N_STR, &t);
    }
    if (t.kind != TK_TPL_HEAD) {
        expected(ps, "a string after 'because'");
        return NULL;
    }
    ctr__node *n = mk(ps, N_TPL, &t), **tail;
    if (!n)
        return NULL;
    tail = &n->a;
    for (;;) {
        ctr__node *s = mk(ps, N_STR, &ps->tok), *e;
        if (!s)
            return NULL;
        *tail = s;
        tail = &s->next;
        if (ps->tok.kind == TK_TPL_TAIL) {
            n->end = ps->tok.end;
            next(ps);
            return n;
        }
        next(ps); /* HEAD or MID */
        if (ps->tok.kind == TK_TPL_MID || ps->tok.kind == TK_TPL_TAIL) {
            expected(ps, "an expression inside {}");
            return NULL;
        }
        if (!(e = expr(ps)) || !above(ps, n, e))
            return NULL;
        *tail = e;
        tail = &e->next;
        if (ps->tok.kind != TK_TPL_MID && ps->tok.kind != TK_TPL_TAIL) {
            expected(ps, "'}' to close the interpolation");
            return NULL;
        }
    }
}

static ctr__item *item(parser *ps)
{
    ctr__item *it = ctr__item_new(ps->arena);
    if (!it) {
        ctr__error(ps->dg, CTR_ENOMEM, ps->tok.line, ps->tok.col, "out of memory");
        return NULL;
    }
    memset(it, 0, sizeof *it);
    it->is_rule = ps->tok.kind == TK_RULE;
    next(ps);
    if (ps->tok.kind != TK_IDENT) {
        expected(ps, it->is_rule ? "a rule name" : "a name after 'let'");
        return NULL;
    }
    it->name = ps->tok.text;
    it->len = ps->tok.len;
    it->line = ps->tok.line;
    it->col = ps->tok.col;
    next(ps);
    if (it->is_rule ? !expect(ps, TK_COLON, "':' after the rule name")
                    : !expect(ps, TK_ASSIGN, "'=' after the let name"))
        return NULL;
    if (!(it->expr = expr(ps)))
        return NULL;
    if (it->is_rule && accept(ps, TK_BECAUSE) && !(it->because = message(ps)))
        return NULL;
    return it;
}

ctr__item *ctr__parse(ctr__lexer *lx, ctr__arena *arena)
{
    parser ps = {.lx = lx, .arena = arena, .dg = lx->dg};
    ctr__item *head = NULL, **tail = &head;
    next(&ps);
    while (ps.tok.kind != TK_EOF) {
        if (ps.tok.kind != TK_RULE && ps.tok.kind != TK_LET) {
            expected(&ps, head ? "'rule' or 'let' (or an operator)" : "'rule' or 'let'");
            return NULL;
        }
        ctr__item *it = item(&ps);
        if (!it)
            return NULL;
        *tail = it;
        tail = &it->next;
    }
    if (failed(&ps))
        return NULL;
    for (ctr__item *it = head; it; it = it->next)
        if (it->is_rule)
            return head;
    ctr__error(ps.dg, CTR_ESYNTAX, ps.tok.line, ps.tok.col, "a contract needs at least one rule");
    return NULL;
}
