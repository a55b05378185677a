/*
 * The VM: runs a compiled contract against one device and one release.
 *
 * A stack machine over ctr__val. Every instruction costs one unit, built-ins add a unit per
 * list entry they visit; the run stops with CTR_ECOST the moment the total would pass the
 * limit, so the cost reported never exceeds it and no input can make the VM spin: the code
 * has no backward jump except a comprehension's, and a comprehension runs at most once per
 * element of a list that is bounded.
 *
 * Memory: none allocated. The value stack, the loop stack and the let frames are arrays
 * here, sized by limits the compiler proved the program stays within (and checked again at
 * run time, so a compiler bug is CTR_ETYPE rather than an overflow).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "contracts/internal.h"

bool ctr__charge(ctr__vm *vm, uint64_t units)
{
    if (units > vm->limit - vm->cost) {
        vm->cost = vm->limit;
        return false;
    }
    vm->cost += units;
    return true;
}

int ctr__rt_error(ctr__vm *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof vm->err, fmt, ap);
    va_end(ap);
    return CTR_ERUNTIME;
}

int ctr__type_error(ctr__vm *vm, const char *what)
{
    snprintf(vm->err, sizeof vm->err, "internal error: wrong type in %s", what);
    return CTR_ETYPE;
}

int ctr__u64(ctr__vm *vm, uint64_t x, const char *what, ctr__val *out)
{
    if (x > INT64_MAX)
        return ctr__rt_error(vm, "%s is %" PRIu64 ", above the int range", what, x);
    *out = (ctr__val){.tag = V_INT};
    out->u.i = (int64_t)x;
    return 0;
}

void ctr__list_at(const ctr__vm *vm, const ctr__val *list, uint32_t i, ctr__val *out)
{
    (void)vm;
    *out = (ctr__val){.tag = V_REC};
    switch (list->kind) {
    case L_STRS: {
        const char *s = ((const char *const *)list->u.p)[i];
        *out = (ctr__val){.tag = V_STR, .n = (uint32_t)strlen(s)};
        out->u.s = s;
        break;
    }
    case L_PKGS:
        out->kind = R_PACKAGE;
        out->u.p = &((const ctr_package *)list->u.p)[i];
        break;
    case L_HW:
        out->kind = R_HARDWARE;
        out->u.p = &((const ctr_hardware *)list->u.p)[i];
        break;
    case L_DEPS:
        out->kind = R_DEP;
        out->u.p = &((const ctr_dependency *)list->u.p)[i];
        break;
    default: /* L_CONST */
        *out = ((const ctr__val *)list->u.p)[i];
        break;
    }
}

bool ctr__equal(const ctr__val *a, const ctr__val *b)
{
    if (a->tag != b->tag)
        return false; /* a version and none */
    switch (a->tag) {
    case V_BOOL: return a->u.b == b->u.b;
    case V_INT: return a->u.i == b->u.i;
    case V_STR: return a->n == b->n && !memcmp(a->u.s, b->u.s, a->n);
    case V_VER: return ldg_semver_cmp(a->u.v, b->u.v) == 0;
    case V_NONE: return true;
    default: return false;
    }
}

void ctr__show(ctr__sb *b, const ctr__val *v)
{
    switch (v->tag) {
    case V_BOOL: ctr__sb_puts(b, v->u.b ? "true" : "false"); break;
    case V_INT: ctr__sb_printf(b, "%" PRId64, v->u.i); break;
    case V_STR: ctr__sb_put(b, v->u.s, v->n); break;
    case V_VER: ctr__sb_puts(b, v->text ? v->text : "?"); break;
    case V_NONE: ctr__sb_puts(b, "none"); break;
    case V_LIST:
        /* Only lists of scalars reach here (the checker refuses the others), and their
         * elements never need the VM's inputs. */
        ctr__sb_puts(b, "[");
        for (uint32_t i = 0; i < v->n && !b->full; i++) {
            ctr__val e;
            if (v->kind == L_STRS) {
                e = (ctr__val){.tag = V_STR};
                e.u.s = ((const char *const *)v->u.p)[i];
                e.n = (uint32_t)strlen(e.u.s);
            } else if (v->kind == L_CONST) {
                e = ((const ctr__val *)v->u.p)[i];
            } else {
                break;
            }
            if (i)
                ctr__sb_puts(b, ", ");
            ctr__show(b, &e);
        }
        ctr__sb_puts(b, "]");
        break;
    default: ctr__sb_puts(b, "?"); break;
    }
}

static uint16_t rd16(const uint8_t *c)
{
    return (uint16_t)(c[0] | c[1] << 8);
}

/* The rule a condition belongs to, or "" before the first condition. */
static const char *rule_name(const ctr__vm *vm)
{
    return vm->conj >= 0 ? vm->p->rules[vm->p->conj[vm->conj].rule].name : "";
}

/* "<condition> is false", the condition cut to fit with "..." when it is long. */
static void describe(ctr__sb *b, const ctr__conj *c)
{
    static const char tail[] = " is false";
    size_t room = CTR_REASON_MAX - 1 - (sizeof tail - 1);
    if (c->len <= room) {
        ctr__sb_put(b, c->text, c->len);
    } else {
        size_t n = room - 3;
        while (n > 0 && ((unsigned char)c->text[n] & 0xC0) == 0x80)
            n--;
        ctr__sb_put(b, c->text, n);
        ctr__sb_puts(b, "...");
    }
    ctr__sb_puts(b, tail);
}

typedef struct {
    ctr__val list;
    uint32_t i;
    ctr__val var;
} loop;

typedef struct {
    size_t ret;        /* where to continue after the let's body */
    size_t loop_base;  /* the caller's */
} frame;

#define POP() (sp ? &stack[--sp] : NULL)
#define NEED(n)                                                                               \
    do {                                                                                      \
        if (sp < (n))                                                                         \
            return ctr__type_error(vm, "stack underflow");                                    \
    } while (0)
#define PUSH(v)                                                                               \
    do {                                                                                      \
        if (sp == CTR_STACK_MAX)                                                              \
            return ctr__type_error(vm, "stack overflow");                                     \
        stack[sp++] = (v);                                                                    \
    } while (0)
#define OPERAND(n)                                                                            \
    do {                                                                                      \
        if (pc + (n) > p->code_len)                                                           \
            return ctr__type_error(vm, "truncated instruction");                              \
    } while (0)
#define TAGS(x, y, t)                                                                         \
    do {                                                                                      \
        if ((x)->tag != (t) || (y)->tag != (t))                                               \
            return ctr__type_error(vm, "operator");                                           \
    } while (0)

static ctr__val mk_bool(bool b)
{
    ctr__val v = {.tag = V_BOOL};
    v.u.b = b;
    return v;
}

static ctr__val mk_int(int64_t i)
{
    ctr__val v = {.tag = V_INT};
    v.u.i = i;
    return v;
}

static int arith(ctr__vm *vm, int op, int64_t a, int64_t b, int64_t *r)
{
    bool over = false;
    switch (op) {
    case OP_ADD: over = __builtin_add_overflow(a, b, r); break;
    case OP_SUB: over = __builtin_sub_overflow(a, b, r); break;
    case OP_MUL: over = __builtin_mul_overflow(a, b, r); break;
    case OP_DIV:
    case OP_MOD:
        if (b == 0)
            return ctr__rt_error(vm, "%s by zero", op == OP_DIV ? "division" : "remainder");
        if (a == INT64_MIN && b == -1) {
            if (op == OP_MOD) {
                *r = 0;
                return 0;
            }
            over = true;
            break;
        }
        *r = op == OP_DIV ? a / b : a % b;
        break;
    }
    if (over)
        return ctr__rt_error(vm, "integer overflow in %" PRId64 " %s %" PRId64, a,
                             op == OP_ADD ? "+" : op == OP_SUB ? "-" : op == OP_MUL ? "*" : "/", b);
    return 0;
}

static int order(ctr__vm *vm, const ctr__val *a, const ctr__val *b, int *cmp)
{
    if (a->tag == V_INT && b->tag == V_INT) {
        *cmp = (a->u.i > b->u.i) - (a->u.i < b->u.i);
        return 0;
    }
    if (a->tag == V_NONE || b->tag == V_NONE)
        return ctr__rt_error(vm, "cannot order none (a package that is not installed): "
                                 "test == none first");
    if (a->tag != V_VER || b->tag != V_VER)
        return ctr__type_error(vm, "comparison");
    *cmp = ldg_semver_cmp(a->u.v, b->u.v);
    return 0;
}

/* Run from pc 0 to OP_FAIL or OP_ELIGIBLE. On 0, *eligible and msg/why are set. */
static int run(ctr__vm *vm, bool *eligible, ctr__sb *msg, bool *has_msg)
{
    const ctr_program *p = vm->p;
    ctr__val stack[CTR_STACK_MAX];
    loop loops[CTR_LOOPSTACK_MAX];
    frame frames[CTR_LETS_MAX];
    ctr__val lets[CTR_LETS_MAX];
    bool let_done[CTR_LETS_MAX] = {false}, let_busy[CTR_LETS_MAX] = {false};
    size_t sp = 0, lp = 0, fp = 0, loop_base = 0, pc = 0;
    const uint8_t *code = p->code;

    for (;;) {
        if (pc >= p->code_len)
            return ctr__type_error(vm, "ran off the code");
        if (!ctr__charge(vm, 1))
            return CTR_ECOST;
        vm->pc = pc;
        int opc = code[pc++];
        ctr__val *a, *b, v;
        int rc, cmp = 0;
        int64_t r = 0;
        switch (opc) {
        case OP_TRUE: PUSH(mk_bool(true)); break;
        case OP_FALSE: PUSH(mk_bool(false)); break;
        case OP_NONE: PUSH((ctr__val){.tag = V_NONE}); break;
        case OP_INT8:
            OPERAND(1);
            PUSH(mk_int((int8_t)code[pc]));
            pc += 1;
            break;
        case OP_INT64: {
            uint64_t x = 0;
            OPERAND(8);
            for (int i = 7; i >= 0; i--)
                x = x << 8 | code[pc + (size_t)i];
            PUSH(mk_int((int64_t)x));
            pc += 8;
            break;
        }
        case OP_CONST:
            OPERAND(2);
            if (rd16(code + pc) >= p->n_consts)
                return ctr__type_error(vm, "constant index");
            PUSH(p->consts[rd16(code + pc)]);
            pc += 2;
            break;
        case OP_GLOBAL:
            OPERAND(1);
            v = (ctr__val){.tag = V_REC, .kind = (uint8_t)(R_DEVICE + code[pc])};
            v.u.p = code[pc] == 0 ? (const void *)vm->in.d
                    : code[pc] == 1 ? (const void *)vm->in.r : (const void *)&vm->in;
            if (code[pc] > 2)
                return ctr__type_error(vm, "global");
            PUSH(v);
            pc += 1;
            break;
        case OP_FIELD:
            OPERAND(1);
            NEED(1);
            if ((rc = ctr__field_load(vm, code[pc], &stack[sp - 1], &v)))
                return rc;
            stack[sp - 1] = v;
            pc += 1;
            break;
        case OP_VAR:
            OPERAND(1);
            if (loop_base + code[pc] >= lp)
                return ctr__type_error(vm, "variable");
            PUSH(loops[loop_base + code[pc]].var);
            pc += 1;
            break;
        case OP_LET: {
            OPERAND(3);
            unsigned k = code[pc];
            if (k >= p->n_lets || k >= CTR_LETS_MAX || let_busy[k])
                return ctr__type_error(vm, "let");
            if (let_done[k]) {
                PUSH(lets[k]);
                pc += 3;
                break;
            }
            if (fp == CTR_LETS_MAX)
                return ctr__type_error(vm, "let frames");
            frames[fp++] = (frame){pc + 3, loop_base};
            let_busy[k] = true;
            loop_base = lp;
            pc = rd16(code + pc + 1);
            break;
        }
        case OP_LET_END: {
            OPERAND(1);
            unsigned k = code[pc];
            NEED(1);
            if (k >= CTR_LETS_MAX || !fp || !let_busy[k])
                return ctr__type_error(vm, "let end");
            lets[k] = stack[sp - 1];
            let_done[k] = true;
            let_busy[k] = false;
            fp--;
            pc = frames[fp].ret;
            loop_base = frames[fp].loop_base;
            break;
        }
        case OP_NOT:
            NEED(1);
            if (stack[sp - 1].tag != V_BOOL)
                return ctr__type_error(vm, "not");
            stack[sp - 1].u.b = !stack[sp - 1].u.b;
            break;
        case OP_NEG:
            NEED(1);
            if (stack[sp - 1].tag != V_INT)
                return ctr__type_error(vm, "-");
            if ((rc = arith(vm, OP_SUB, 0, stack[sp - 1].u.i, &r)))
                return rc;
            stack[sp - 1].u.i = r;
            break;
        case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
            NEED(2);
            b = POP();
            a = &stack[sp - 1];
            TAGS(a, b, V_INT);
            if ((rc = arith(vm, opc, a->u.i, b->u.i, &r)))
                return rc;
            a->u.i = r;
            break;
        case OP_EQ: case OP_NE:
            NEED(2);
            b = POP();
            a = &stack[sp - 1];
            *a = mk_bool(ctr__equal(a, b) == (opc == OP_EQ));
            break;
        case OP_LT: case OP_LE: case OP_GT: case OP_GE:
            NEED(2);
            b = POP();
            a = &stack[sp - 1];
            if ((rc = order(vm, a, b, &cmp)))
                return rc;
            *a = mk_bool(opc == OP_LT ? cmp < 0 : opc == OP_LE ? cmp <= 0 : opc == OP_GT ? cmp > 0
                                                                                          : cmp >= 0);
            break;
        case OP_IN: {
            bool found = false;
            NEED(2);
            b = POP();
            a = &stack[sp - 1];
            if (b->tag != V_LIST)
                return ctr__type_error(vm, "in");
            for (uint32_t i = 0; i < b->n && !found; i++) {
                if (!ctr__charge(vm, 1))
                    return CTR_ECOST;
                ctr__list_at(vm, b, i, &v);
                found = ctr__equal(a, &v);
            }
            *a = mk_bool(found);
            break;
        }
        case OP_AND: case OP_OR:
            OPERAND(2);
            NEED(1);
            if (stack[sp - 1].tag != V_BOOL)
                return ctr__type_error(vm, "and/or");
            if (stack[sp - 1].u.b == (opc == OP_OR))
                pc = rd16(code + pc);
            else
                sp--, pc += 2;
            break;
        case OP_JMP:
            OPERAND(2);
            pc = rd16(code + pc);
            break;
        case OP_JF:
            OPERAND(2);
            NEED(1);
            a = POP();
            if (a->tag != V_BOOL)
                return ctr__type_error(vm, "condition");
            pc = a->u.b ? pc + 2 : rd16(code + pc);
            break;
        case OP_ITER:
            NEED(1);
            a = POP();
            if (a->tag != V_LIST || lp == CTR_LOOPSTACK_MAX)
                return ctr__type_error(vm, "loop");
            loops[lp++] = (loop){*a, 0, {0}};
            break;
        case OP_NEXT: {
            OPERAND(2);
            if (lp <= loop_base)
                return ctr__type_error(vm, "next");
            loop *l = &loops[lp - 1];
            if (l->i < l->list.n) {
                ctr__list_at(vm, &l->list, l->i++, &l->var);
                pc += 2;
            } else {
                lp--;
                pc = rd16(code + pc);
            }
            break;
        }
        case OP_LOOP_END:
            if (lp <= loop_base)
                return ctr__type_error(vm, "loop end");
            lp--;
            break;
        case OP_INC:
            NEED(1);
            if (stack[sp - 1].tag != V_INT)
                return ctr__type_error(vm, "count");
            stack[sp - 1].u.i++; /* at most the length of a list: no overflow */
            break;
        case OP_CALL: {
            OPERAND(1);
            unsigned id = code[pc];
            if (id >= ctr__n_builtins || !ctr__builtins[id].fn)
                return ctr__type_error(vm, "call");
            size_t argc = ctr__builtins[id].argc;
            NEED(argc);
            if ((rc = ctr__builtins[id].fn(vm, &stack[sp - argc], &v)))
                return rc;
            sp -= argc;
            PUSH(v);
            pc += 1;
            break;
        }
        case OP_CONJ:
            OPERAND(2);
            if (rd16(code + pc) >= p->n_conj)
                return ctr__type_error(vm, "condition index");
            vm->conj = rd16(code + pc);
            vm->note_set = false;
            pc += 2;
            break;
        case OP_CHECK:
            OPERAND(2);
            NEED(1);
            a = POP();
            if (a->tag != V_BOOL)
                return ctr__type_error(vm, "rule");
            pc = a->u.b ? pc + 2 : rd16(code + pc);
            break;
        case OP_MSG_TEXT:
            OPERAND(2);
            if (rd16(code + pc) >= p->n_consts || p->consts[rd16(code + pc)].tag != V_STR)
                return ctr__type_error(vm, "message");
            ctr__show(msg, &p->consts[rd16(code + pc)]);
            pc += 2;
            break;
        case OP_MSG_VAL:
            NEED(1);
            ctr__show(msg, POP());
            break;
        case OP_FAIL:
            OPERAND(1);
            if (vm->conj < 0)
                return ctr__type_error(vm, "fail outside a rule");
            *has_msg = code[pc] != 0;
            *eligible = false;
            return 0;
        case OP_ELIGIBLE:
            *eligible = true;
            return 0;
        default:
            return ctr__type_error(vm, "unknown instruction");
        }
    }
}

int ctr_eval(const ctr_program *p, const ctr_device *d, const ctr_release *r,
             const ctr_context *c, ctr_verdict *v)
{
    ctr__vm vm;
    char buf[CTR_REASON_MAX];
    ctr__sb b;
    int rc;

    if (!p) {
        ctr__verdict(v, false, "input", "no program", 0);
        return CTR_EINVAL;
    }
    memset(&vm, 0, sizeof vm);
    if ((rc = ctr__in_init(&vm.in, d, r, c, buf, sizeof buf))) {
        ctr__verdict(v, false, "input", buf, 0);
        return rc;
    }
    /* A revoked release is never eligible: the contract is not even asked. */
    uint64_t work = 0;
    ctr__sb_init(&b, buf, sizeof buf);
    if (!ctr__chk_revoked(&vm.in, &b, &work)) {
        ctr__verdict(v, false, "revoked", buf, 0);
        return 0;
    }
    vm.p = p;
    vm.limit = vm.in.cost_limit;
    vm.conj = -1;
    bool eligible = false, has_msg = false;
    char msg[CTR_REASON_MAX];
    ctr__sb mb;
    ctr__sb_init(&mb, msg, sizeof msg);
    rc = run(&vm, &eligible, &mb, &has_msg);

    ctr__sb_init(&b, buf, sizeof buf);
    if (rc == CTR_ECOST) {
        ctr__sb_puts(&b, "cost limit exceeded");
    } else if (rc) {
        uint32_t line, col;
        ctr__pc_pos(p, vm.pc, &line, &col);
        ctr__sb_printf(&b, "%u:%u: %s", line, col, vm.err);
    } else if (eligible) {
        /* no reason */
    } else if (has_msg && msg[0]) {
        /* An empty message (because "", or one that interpolates to nothing) would leave
         * the audit trail without a reason: describe the condition instead. */
        ctr__sb_puts(&b, msg);
    } else if (p->conj[vm.conj].note && vm.note_set) {
        ctr__sb_puts(&b, vm.note);
    } else {
        describe(&b, &p->conj[vm.conj]);
    }
    ctr__verdict(v, rc == 0 && eligible, rc == 0 && eligible ? "" : rule_name(&vm), buf,
                 vm.cost);
    return rc;
}
