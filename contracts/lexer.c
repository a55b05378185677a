/*
 * The lexer: source bytes to tokens, one at a time, with the line and column (bytes, from
 * 1) of each. Comments run from '#' to the end of the line.
 *
 * Strings are "..." with the escapes \" \\ \n \t \{ \}; a '{' opens an interpolation that
 * runs to the matching '}' (the expression inside is lexed as code; it may hold plain
 * strings but not another interpolation). A string with interpolations comes out as
 * TK_TPL_HEAD, the expression's tokens, TK_TPL_MID, ..., TK_TPL_TAIL, the way JavaScript
 * lexes template literals; the parser decides where templates are allowed.
 *
 * Decoded string bytes go to strbuf: every decoded piece plus its NUL is no longer than the
 * source bytes it came from (delimiters included), so len + 1 bytes always suffice.
 */
#include <stdio.h>
#include <string.h>

#include "contracts/internal.h"

void ctr__error(ctr__diag *dg, int rc, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (dg->rc)
        return;
    dg->rc = rc;
    if (!dg->cap)
        return;
    ctr__sb b;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctr__sb_init(&b, dg->buf, dg->cap);
    ctr__sb_printf(&b, "%u:%u: %s", line, col, msg);
}

static const struct {
    const char *word;
    int kind;
} keywords[] = {
    {"let", TK_LET},   {"rule", TK_RULE}, {"because", TK_BECAUSE}, {"and", TK_AND},
    {"or", TK_OR},     {"not", TK_NOT},   {"in", TK_IN},           {"true", TK_TRUE},
    {"false", TK_FALSE}, {"none", TK_NONE},
};

const char *ctr__tok_name(int kind)
{
    switch (kind) {
    case TK_EOF: return "end of input";
    case TK_ERROR: return "an error";
    case TK_IDENT: return "a name";
    case TK_INT: return "a number";
    case TK_STRING: case TK_TPL_HEAD: return "a string";
    case TK_TPL_MID: case TK_TPL_TAIL: return "'}'";
    case TK_LPAREN: return "'('";
    case TK_RPAREN: return "')'";
    case TK_LBRACK: return "'['";
    case TK_RBRACK: return "']'";
    case TK_COMMA: return "','";
    case TK_COLON: return "':'";
    case TK_DOT: return "'.'";
    case TK_ASSIGN: return "'='";
    case TK_EQ: return "'=='";
    case TK_NE: return "'!='";
    case TK_LT: return "'<'";
    case TK_LE: return "'<='";
    case TK_GT: return "'>'";
    case TK_GE: return "'>='";
    case TK_PLUS: return "'+'";
    case TK_MINUS: return "'-'";
    case TK_STAR: return "'*'";
    case TK_SLASH: return "'/'";
    case TK_PERCENT: return "'%'";
    default:
        for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
            if (keywords[i].kind == kind)
                return keywords[i].word;
        return "?";
    }
}

void ctr__lex_init(ctr__lexer *lx, const char *src, size_t len, char *strbuf, ctr__diag *dg)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    lx->strbuf = strbuf;
    lx->dg = dg;
}

static int peekc(const ctr__lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance(ctr__lexer *lx)
{
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static void fail(ctr__lexer *lx, ctr__token *t, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(ctr__lexer *lx, ctr__token *t, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctr__error(lx->dg, CTR_ESYNTAX, line, col, "%s", msg);
    t->kind = TK_ERROR;
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Describe an unexpected byte: printable as itself, anything else in hex. */
static const char *show_byte(int c, char buf[8])
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", (unsigned)c);
    return buf;
}

/* String text from the current position up to the closing quote (TK_STRING / TK_TPL_TAIL)
 * or an opening brace (TK_TPL_HEAD / TK_TPL_MID). first: the token started with '"';
 * in_interp: a plain string inside an interpolation (the template stays open). */
static void lex_text(ctr__lexer *lx, ctr__token *t, bool first, bool in_interp)
{
    char *out = lx->strbuf + lx->strlen;
    size_t n = 0;
    char hex[8];
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0 || c == '\n') {
            if (in_interp)
                fail(lx, t, t->line, t->col, "unterminated string");
            else
                fail(lx, t, lx->tpl_line, lx->tpl_col, "unterminated string");
            return;
        }
        if (c == '"') {
            advance(lx);
            t->kind = first ? TK_STRING : TK_TPL_TAIL;
            if (!first)
                lx->mode = 0;
            break;
        }
        if (c == '{') {
            if (in_interp) {
                fail(lx, t, lx->line, lx->col, "a string inside an interpolation cannot "
                     "interpolate (write \\{)");
                return;
            }
            advance(lx);
            t->kind = first ? TK_TPL_HEAD : TK_TPL_MID;
            lx->mode = 1;
            break;
        }
        if (c == '}' && !in_interp) {
            fail(lx, t, lx->line, lx->col, "unmatched '}' in a string (write \\})");
            return;
        }
        if (c < 0x20 || c == 0x7f) {
            fail(lx, t, lx->line, lx->col, "control character %s in a string", show_byte(c, hex));
            return;
        }
        if (c == '\\') {
            int e = peekc(lx, 1);
            char d;
            switch (e) {
            case '"': d = '"'; break;
            case '\\': d = '\\'; break;
            case 'n': d = '\n'; break;
            case 't': d = '\t'; break;
            case '{': d = '{'; break;
            case '}': d = '}'; break;
            default:
                fail(lx, t, lx->line, lx->col, "unknown escape \\%c in a string (known: \\\" "
                     "\\\\ \\n \\t \\{ \\})", e > 0x20 && e < 0x7f ? e : '?');
                return;
            }
            advance(lx);
            advance(lx);
            c = (unsigned char)d;
        } else {
            advance(lx);
        }
        if (n >= CTR_STR_MAX) {
            fail(lx, t, t->line, t->col, "string longer than %d bytes", CTR_STR_MAX);
            return;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    lx->strlen += n + 1;
    t->text = out;
    t->len = (uint32_t)n;
}

void ctr__lex_next(ctr__lexer *lx, ctr__token *t)
{
    char hex[8];
    memset(t, 0, sizeof *t);
    if (lx->dg->rc) {
        t->kind = TK_ERROR;
        return;
    }
    /* Blanks and comments. */
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance(lx);
        } else if (c == '#') {
            while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
                advance(lx);
        } else {
            break;
        }
    }
    t->line = lx->line;
    t->col = lx->col;
    t->off = (uint32_t)lx->pos;
    int c = peekc(lx, 0);

    if (c < 0) {
        if (lx->mode == 1)
            fail(lx, t, lx->tpl_line, lx->tpl_col, "unterminated string");
        else
            t->kind = TK_EOF;
    } else if (is_alpha(c)) {
        while (is_alpha(peekc(lx, 0)) || is_digit(peekc(lx, 0)))
            advance(lx);
        t->text = lx->src + t->off;
        t->len = (uint32_t)(lx->pos - t->off);
        t->kind = TK_IDENT;
        if (t->len > CTR_IDENT_MAX) {
            fail(lx, t, t->line, t->col, "name longer than %d bytes", CTR_IDENT_MAX);
        } else {
            for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
                if (strlen(keywords[i].word) == t->len && !memcmp(keywords[i].word, t->text, t->len))
                    t->kind = keywords[i].kind;
        }
    } else if (is_digit(c)) {
        uint64_t v = 0;
        bool over = false;
        /* Digits with optional '_' between them: 1_700_000_000_000. */
        while (is_digit(peekc(lx, 0)) || (peekc(lx, 0) == '_' && is_digit(peekc(lx, 1)))) {
            int d = peekc(lx, 0);
            advance(lx);
            if (d == '_')
                continue;
            if (v > ((uint64_t)INT64_MAX - (uint64_t)(d - '0')) / 10)
                over = true;
            else
                v = v * 10 + (uint64_t)(d - '0');
        }
        if (is_alpha(peekc(lx, 0)) || peekc(lx, 0) == '.') {
            fail(lx, t, t->line, t->col, "malformed number (versions are written as strings: "
                 "\"1.2.3\")");
        } else if (over) {
            fail(lx, t, t->line, t->col, "number out of range (above 9223372036854775807)");
        } else {
            t->kind = TK_INT;
            t->ival = (int64_t)v;
        }
    } else if (c == '"') {
        if (lx->mode == 0) {
            lx->tpl_line = t->line;
            lx->tpl_col = t->col;
        }
        advance(lx);
        lex_text(lx, t, true, lx->mode == 1);
    } else if (c == '}' && lx->mode == 1) {
        advance(lx);
        lex_text(lx, t, false, false);
    } else {
        static const struct {
            char a, b;
            int kind;
        } ops[] = {
            {'=', '=', TK_EQ}, {'!', '=', TK_NE}, {'<', '=', TK_LE}, {'>', '=', TK_GE},
            {'(', 0, TK_LPAREN}, {')', 0, TK_RPAREN}, {'[', 0, TK_LBRACK}, {']', 0, TK_RBRACK},
            {',', 0, TK_COMMA}, {':', 0, TK_COLON}, {'.', 0, TK_DOT}, {'=', 0, TK_ASSIGN},
            {'<', 0, TK_LT}, {'>', 0, TK_GT}, {'+', 0, TK_PLUS}, {'-', 0, TK_MINUS},
            {'*', 0, TK_STAR}, {'/', 0, TK_SLASH}, {'%', 0, TK_PERCENT},
        };
        t->kind = TK_ERROR;
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
            if (ops[i].a == c && (!ops[i].b || ops[i].b == peekc(lx, 1))) {
                t->kind = ops[i].kind;
                advance(lx);
                if (ops[i].b)
                    advance(lx);
                break;
            }
        if (t->kind == TK_ERROR) {
            if (c == '&' || c == '|' || c == '!')
                fail(lx, t, t->line, t->col, "unexpected %s (write and, or, not)", show_byte(c, hex));
            else
                fail(lx, t, t->line, t->col, "unexpected character %s", show_byte(c, hex));
        }
    }
    t->end = (uint32_t)lx->pos;
}
