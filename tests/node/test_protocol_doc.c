/*
 * docs/protocol.md against the code, so that what a client written from that page and the
 * schema alone relies on cannot drift from what nodes do:
 *
 *   - the algorithm tables: every row is a registered algorithm with that id, name and
 *     lengths (hash: digest; signature: public key, secret key, signature), and every
 *     registered algorithm has a row (ldg_hash_at, ldg_sig_at);
 *   - the worked example: the preimage rebuilt from its parts and hashed with the chain
 *     hash, the digest from ldg_tx_digest, every registered signature algorithm's key pair
 *     derived from its secret, its signature verified (and re-made byte for byte when the
 *     algorithm signs deterministically), what the page says about S (secp256k1-ecdsa
 *     refuses high S, p256-ecdsa accepts it) tried on those signatures, and the envelope
 *     parsed and verified as a transaction of that chain;
 *   - the field rules against proto/fwledger.proto and proto/fwledger.options: every field
 *     of every message a client sends (Request, Tx, TxBody and the messages under them) has
 *     exactly one row and no row names anything else; the bytes and items cells are the
 *     schema's bounds (a string's max_size less its NUL, a bytes field's max_size, a
 *     repeated field's max_count), and every string, bytes or repeated field has one; a few
 *     bounds are compared with the generated structs as well, so that the reading of the
 *     two files is known to be the generator's;
 *   - the limits table: every row names a constant of the table below with that value, and
 *     every constant there has a row.
 *
 * The files are read relative to the working directory: make runs the unit tests from the
 * repository's root.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "ledger/store_internal.h"
#include "node/client/client.h"
#include "node/daemon/elg_worker.h"
#include "node/daemon/mempool.h"
#include "tests/node/doc_table.h"

#define PROTOCOL_MD "docs/protocol.md"
#define PROTO "proto/fwledger.proto"
#define OPTIONS "proto/fwledger.options"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A decimal cell: its value, or -1 when empty. */
static long long num_cell(const char *cell, int ln)
{
    if (!*cell)
        return -1;
    char *end;
    long long v = strtoll(cell, &end, 10);
    if (*end || v < 0)
        fail_msg("%s:%d: '%s' is not a number", PROTOCOL_MD, ln, cell);
    return v;
}

/* "`x`" -> "x" (in place). */
static char *unquote(char *cell)
{
    size_t n = strlen(cell);
    if (n >= 2 && cell[0] == '`' && cell[n - 1] == '`') {
        cell[n - 1] = '\0';
        return cell + 1;
    }
    return cell;
}

/* --- the algorithm tables ----------------------------------------------------------------- */

typedef struct {
    uint32_t id[32];
    size_t n;
} id_list;

static void hash_row(void *ctx, char **c, int ln)
{
    id_list *seen = ctx;
    long long id = num_cell(c[0], ln);
    const ldg_hash_impl *h = id >= 0 && id <= UINT32_MAX ? ldg_hash_by_id((uint32_t)id) : NULL;
    if (!h)
        fail_msg("%s:%d: hash algorithm %s is not in the registry", PROTOCOL_MD, ln, c[0]);
    if (strcmp(h->name, c[1]))
        fail_msg("%s:%d: hash algorithm %lld is %s, not %s", PROTOCOL_MD, ln, id, h->name, c[1]);
    if (num_cell(c[2], ln) != (long long)h->digest_len)
        fail_msg("%s:%d: %s digests are %zu bytes", PROTOCOL_MD, ln, h->name, h->digest_len);
    if (!*c[3])
        fail_msg("%s:%d: %s: no definition", PROTOCOL_MD, ln, h->name);
    for (size_t i = 0; i < seen->n; i++)
        if (seen->id[i] == h->id)
            fail_msg("%s:%d: %s listed twice", PROTOCOL_MD, ln, h->name);
    seen->id[seen->n++] = h->id;
}

static void test_hash_algorithms(void **state)
{
    (void)state;
    static const char *const header[] = {"id", "name", "digest bytes", "definition"};
    id_list seen = {.n = 0};
    doc_rows(PROTOCOL_MD, "hash-algorithms", header, 4, hash_row, &seen);
    for (size_t i = 0; ldg_hash_at(i); i++) {
        bool listed = false;
        for (size_t j = 0; j < seen.n; j++)
            listed |= seen.id[j] == ldg_hash_at(i)->id;
        if (!listed)
            fail_msg("hash algorithm %u (%s) is missing from %s", ldg_hash_at(i)->id,
                     ldg_hash_at(i)->name, PROTOCOL_MD);
    }
}

static void sig_row(void *ctx, char **c, int ln)
{
    id_list *seen = ctx;
    long long id = num_cell(c[0], ln);
    const ldg_sig_impl *s = id >= 0 && id <= UINT32_MAX ? ldg_sig_by_id((uint32_t)id) : NULL;
    if (!s)
        fail_msg("%s:%d: signature algorithm %s is not in the registry", PROTOCOL_MD, ln, c[0]);
    if (strcmp(s->name, c[1]))
        fail_msg("%s:%d: signature algorithm %lld is %s, not %s", PROTOCOL_MD, ln, id, s->name,
                 c[1]);
    if (num_cell(c[2], ln) != (long long)s->pub_len || num_cell(c[3], ln) != (long long)s->sec_len ||
        num_cell(c[4], ln) != (long long)s->sig_len)
        fail_msg("%s:%d: %s: public key %zu, secret key %zu, signature %zu bytes", PROTOCOL_MD,
                 ln, s->name, s->pub_len, s->sec_len, s->sig_len);
    if (!*c[5])
        fail_msg("%s:%d: %s: no definition", PROTOCOL_MD, ln, s->name);
    for (size_t i = 0; i < seen->n; i++)
        if (seen->id[i] == s->id)
            fail_msg("%s:%d: %s listed twice", PROTOCOL_MD, ln, s->name);
    seen->id[seen->n++] = s->id;
}

static void test_signature_algorithms(void **state)
{
    (void)state;
    static const char *const header[] = {"id", "name", "public key bytes", "secret key bytes",
                                         "signature bytes", "definition"};
    id_list seen = {.n = 0};
    doc_rows(PROTOCOL_MD, "signature-algorithms", header, 6, sig_row, &seen);
    for (size_t i = 0; ldg_sig_at(i); i++) {
        bool listed = false;
        for (size_t j = 0; j < seen.n; j++)
            listed |= seen.id[j] == ldg_sig_at(i)->id;
        if (!listed)
            fail_msg("signature algorithm %u (%s) is missing from %s", ldg_sig_at(i)->id,
                     ldg_sig_at(i)->name, PROTOCOL_MD);
    }
}

/* --- the worked example ------------------------------------------------------------------- */

#define EX_MAX 32

typedef struct {
    char key[EX_MAX][48];
    char val[EX_MAX][1024];
    bool used[EX_MAX];
    int line[EX_MAX];
    size_t n;
} example;

/* "key value" lines; the code fence lines are skipped. */
static void example_line(void *ctx, char *line, int ln)
{
    example *ex = ctx;
    if (!line || !strncmp(line, "```", 3))
        return;
    char k[64], v[1100];
    if (sscanf(line, "%63s %1099s", k, v) != 2 || ex->n == EX_MAX ||
        strlen(k) >= sizeof ex->key[0] || strlen(v) >= sizeof ex->val[0])
        fail_msg("%s:%d: not a 'key value' line of the example", PROTOCOL_MD, ln);
    memcpy(ex->key[ex->n], k, strlen(k) + 1); /* lengths checked above */
    memcpy(ex->val[ex->n], v, strlen(v) + 1);
    ex->line[ex->n++] = ln;
}

static const char *ex_get(example *ex, const char *key)
{
    for (size_t i = 0; i < ex->n; i++)
        if (!strcmp(ex->key[i], key)) {
            ex->used[i] = true;
            return ex->val[i];
        }
    fail_msg("%s: the worked example has no '%s'", PROTOCOL_MD, key);
    return NULL;
}

/* The hex value of key into out (cap bytes); its length. */
static size_t ex_hex(example *ex, const char *key, uint8_t *out, size_t cap)
{
    const char *h = ex_get(ex, key);
    size_t n = strlen(h) / 2;
    if (strlen(h) % 2 || n > cap)
        fail_msg("%s: example '%s': not hex of at most %zu bytes", PROTOCOL_MD, key, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        if (!isxdigit((unsigned char)h[2 * i]) || !isxdigit((unsigned char)h[2 * i + 1]) ||
            sscanf(h + 2 * i, "%2x", &b) != 1)
            fail_msg("%s: example '%s': not hex", PROTOCOL_MD, key);
        out[i] = (uint8_t)b;
    }
    return n;
}

/* n - s for a 32-byte big-endian s (the other S of an ECDSA signature). */
static void negate_s(const uint8_t n[32], const uint8_t *s, uint8_t *out)
{
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* What the page says of the other S: secp256k1-ecdsa refuses it, p256-ecdsa accepts it. */
static void check_high_s(const ldg_sig_impl *im, const uint8_t *pub, const uint8_t *digest,
                         const uint8_t *sig)
{
    static const uint8_t n_k1[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
        0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    static const uint8_t n_p256[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    uint8_t other[64];
    memcpy(other, sig, 32);
    if (im->id == LDG_SIG_SECP256K1_ECDSA) {
        negate_s(n_k1, sig + 32, other + 32);
        assert_int_equal(im->verify(pub, im->pub_len, digest, other, 64), LDG_EBADSIG);
    } else if (im->id == LDG_SIG_P256_ECDSA) {
        negate_s(n_p256, sig + 32, other + 32);
        assert_int_equal(im->verify(pub, im->pub_len, digest, other, 64), 0);
    }
}

/* One algorithm's lines: the key pair, the signature, and a deterministic one re-made. */
static void check_example_sig(example *ex, const ldg_sig_impl *im, const uint8_t *digest)
{
    char key[64];
    uint8_t sec[LDG_SECKEY_MAX], pub[LDG_PUBKEY_MAX], want_pub[LDG_PUBKEY_MAX];
    uint8_t sig[LDG_SIG_MAX], again[LDG_SIG_MAX], again2[LDG_SIG_MAX];
    snprintf(key, sizeof key, "%s.secret", im->name);
    assert_int_equal(ex_hex(ex, key, sec, sizeof sec), im->sec_len);
    snprintf(key, sizeof key, "%s.public", im->name);
    assert_int_equal(ex_hex(ex, key, want_pub, sizeof want_pub), im->pub_len);
    snprintf(key, sizeof key, "%s.signature", im->name);
    assert_int_equal(ex_hex(ex, key, sig, sizeof sig), im->sig_len);
    assert_int_equal(im->pubkey(sec, pub), 0);
    if (memcmp(pub, want_pub, im->pub_len))
        fail_msg("%s: example: %s.public is not the secret's public key", PROTOCOL_MD, im->name);
    if (ldg_verify(im->id, pub, im->pub_len, digest, sig, im->sig_len))
        fail_msg("%s: example: %s.signature does not verify", PROTOCOL_MD, im->name);
    /* Signing twice tells whether the algorithm is deterministic here. */
    assert_int_equal(im->sign(sec, digest, NULL, again), 0);
    assert_int_equal(im->sign(sec, digest, NULL, again2), 0);
    if (!memcmp(again, again2, im->sig_len) && memcmp(again, sig, im->sig_len))
        fail_msg("%s: example: %s signs deterministically, and not to %s.signature", PROTOCOL_MD,
                 im->name, im->name);
    check_high_s(im, pub, digest, sig);
}

/* tx: the envelope, a transaction of the example's chain with that digest and body. */
static void check_example_tx(example *ex, const ldg_genesis *g, const uint8_t *digest,
                             const uint8_t *body, size_t body_len)
{
    static uint8_t tx[LDG_TX_MAX];
    size_t len = ex_hex(ex, "tx", tx, sizeof tx);
    ldg_tx *t = calloc(1, sizeof *t);
    const char *why = "";
    assert_non_null(t);
    if (ldg_tx_parse(g, 1, tx, len, t, &why))
        fail_msg("%s: example: tx does not parse: %s", PROTOCOL_MD, why);
    assert_memory_equal(t->hash, digest, LDG_DIGEST_LEN);
    assert_int_equal(t->env.body.size, body_len);
    assert_memory_equal(t->env.body.bytes, body, body_len);
    assert_int_equal(ldg_tx_verify(t), 0);
    free(t);
}

static void test_worked_example(void **state)
{
    (void)state;
    static example ex;
    static uint8_t body[LDG_TX_MAX], pre[LDG_TX_MAX + 128], want[LDG_TX_MAX + 128];
    uint8_t digest[LDG_DIGEST_LEN], d[LDG_HASH_MAX];
    size_t dl;
    memset(&ex, 0, sizeof ex);
    if (doc_blocks(PROTOCOL_MD, "worked-example", example_line, &ex) != 1)
        fail_msg("%s: more than one worked example", PROTOCOL_MD);

    ldg_genesis g = {.n_admins = 0};
    const ldg_hash_impl *h = ldg_hash_by_name(ex_get(&ex, "chain_hash"));
    assert_non_null(h);
    g.hash_alg = h->id;
    snprintf(g.chain_id, sizeof g.chain_id, "%s", ex_get(&ex, "chain_id"));
    uint32_t type = (uint32_t)atoi(ex_get(&ex, "type"));
    size_t body_len = ex_hex(&ex, "body", body, sizeof body);
    size_t pre_len = ex_hex(&ex, "preimage", pre, sizeof pre);
    assert_int_equal(ex_hex(&ex, "digest", digest, sizeof digest), LDG_DIGEST_LEN);

    /* domain, its NUL, u8 len(chain_id), chain_id, u32be type, body */
    size_t cl = strlen(g.chain_id), n = sizeof LDG_TX_DOMAIN;
    memcpy(want, LDG_TX_DOMAIN, n);
    want[n++] = (uint8_t)cl;
    memcpy(want + n, g.chain_id, cl), n += cl;
    want[n++] = (uint8_t)(type >> 24), want[n++] = (uint8_t)(type >> 16);
    want[n++] = (uint8_t)(type >> 8), want[n++] = (uint8_t)type;
    memcpy(want + n, body, body_len), n += body_len;
    if (pre_len != n || memcmp(pre, want, n))
        fail_msg("%s: example: the preimage is not domain || 0 || len || chain_id || type || "
                 "body", PROTOCOL_MD);
    const uint8_t *parts[] = {pre};
    assert_int_equal(ldg_hash(g.hash_alg, parts, &pre_len, 1, d, &dl), 0);
    if (dl != LDG_DIGEST_LEN || memcmp(d, digest, LDG_DIGEST_LEN))
        fail_msg("%s: example: the digest is not H(preimage)", PROTOCOL_MD);
    assert_int_equal(ldg_tx_digest(&g, type, body, body_len, d), 0);
    assert_memory_equal(d, digest, LDG_DIGEST_LEN);

    for (size_t i = 0; ldg_sig_at(i); i++)
        check_example_sig(&ex, ldg_sig_at(i), digest);
    check_example_tx(&ex, &g, digest, body, body_len);
    for (size_t i = 0; i < ex.n; i++)
        if (!ex.used[i])
            fail_msg("%s:%d: '%s' is not part of the example", PROTOCOL_MD, ex.line[i],
                     ex.key[i]);
}

/* --- the schema: proto/fwledger.proto and proto/fwledger.options -------------------------- */

#define NAME_MAX_ 64
#define FIELDS_MAX 512
#define MSGS_MAX 128

typedef struct {
    char msg[NAME_MAX_], name[NAME_MAX_], type[NAME_MAX_];
    bool repeated;
    long long max_size, max_count; /* from the options file; -1: none */
    bool listed;                   /* a row names it */
} field;

typedef struct {
    field f[FIELDS_MAX];
    size_t n;
    char msg[MSGS_MAX][NAME_MAX_];
    bool reach[MSGS_MAX]; /* a client sends it */
    size_t n_msgs;
} schema;

typedef struct {
    const char *p;
    char tok[NAME_MAX_];
} lexer;

/* The next token: a run of [A-Za-z0-9_.], a quoted string, or one other character; "" at
 * the end. // comments are skipped. */
static const char *next_tok(lexer *lx)
{
    for (;;) {
        while (isspace((unsigned char)*lx->p))
            lx->p++;
        if (lx->p[0] == '/' && lx->p[1] == '/')
            lx->p += strcspn(lx->p, "\n");
        else
            break;
    }
    size_t n = 0;
    if (*lx->p == '"') {
        n = 1 + strcspn(lx->p + 1, "\"") + 1;
    } else {
        while (isalnum((unsigned char)lx->p[n]) || lx->p[n] == '_' || lx->p[n] == '.')
            n++;
        if (!n && *lx->p)
            n = 1;
    }
    if (n >= sizeof lx->tok)
        fail_msg("%s: token too long", PROTO);
    memcpy(lx->tok, lx->p, n);
    lx->tok[n] = '\0';
    lx->p += n;
    return lx->tok;
}

static void expect_tok(lexer *lx, const char *want)
{
    if (strcmp(next_tok(lx), want))
        fail_msg("%s: want '%s', found '%s'", PROTO, want, lx->tok);
}

/* Skip to the end of a statement, or past a braced block. */
static void skip_statement(lexer *lx)
{
    int depth = 0;
    for (const char *t = next_tok(lx); *t; t = next_tok(lx)) {
        depth += !strcmp(t, "{") - !strcmp(t, "}");
        if ((depth == 0 && !strcmp(t, ";")) || (depth == 0 && !strcmp(t, "}")))
            return;
    }
}

/* One field, its first token in lx->tok: [repeated] type name = number ; */
static void parse_field(lexer *lx, schema *s, const char *msg)
{
    if (s->n == FIELDS_MAX)
        fail_msg("%s: more than %d fields", PROTO, FIELDS_MAX);
    field *f = &s->f[s->n++];
    memset(f, 0, sizeof *f);
    f->max_size = f->max_count = -1;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    f->repeated = !strcmp(lx->tok, "repeated");
    if (f->repeated)
        next_tok(lx);
    snprintf(f->type, sizeof f->type, "%s", lx->tok);
    snprintf(f->name, sizeof f->name, "%s", next_tok(lx));
    expect_tok(lx, "=");
    next_tok(lx);
    expect_tok(lx, ";");
}

static void parse_message(lexer *lx, schema *s)
{
    char msg[NAME_MAX_];
    snprintf(msg, sizeof msg, "%s", next_tok(lx));
    if (s->n_msgs == MSGS_MAX)
        fail_msg("%s: more than %d messages", PROTO, MSGS_MAX);
    snprintf(s->msg[s->n_msgs++], NAME_MAX_, "%s", msg);
    expect_tok(lx, "{");
    bool in_oneof = false;
    for (const char *t = next_tok(lx);; t = next_tok(lx)) {
        if (!*t)
            fail_msg("%s: message %s not closed", PROTO, msg);
        if (!strcmp(t, "}")) {
            if (!in_oneof)
                return;
            in_oneof = false;
        } else if (!strcmp(t, "oneof")) {
            next_tok(lx);
            expect_tok(lx, "{");
            in_oneof = true;
        } else if (!strcmp(t, "reserved") || !strcmp(t, "option")) {
            skip_statement(lx);
        } else if (!strcmp(t, "message") || !strcmp(t, "enum") || !strcmp(t, "map")) {
            fail_msg("%s: %s inside message %s: teach this test to read it", PROTO, t, msg);
        } else {
            parse_field(lx, s, msg);
        }
    }
}

static void parse_proto(schema *s)
{
    FILE *f = fopen(PROTO, "r");
    static char text[1 << 17];
    if (!f)
        fail_msg("cannot open %s (the unit tests run from the repository's root)", PROTO);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    if (n == sizeof text - 1)
        fail_msg("%s: larger than this test reads", PROTO);
    text[n] = '\0';
    lexer lx = {text, ""};
    for (const char *t = next_tok(&lx); *t; t = next_tok(&lx)) {
        if (!strcmp(t, "message"))
            parse_message(&lx, s);
        else
            skip_statement(&lx); /* syntax, package, enum, option, import */
    }
}

static field *find_field(schema *s, const char *msg, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].msg, msg) && !strcmp(s->f[i].name, name))
            return &s->f[i];
    return NULL;
}

static int msg_index(const schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_msgs; i++)
        if (!strcmp(s->msg[i], name))
            return (int)i;
    return -1;
}

/* "fwl.Msg.field  max_size:N max_count:M ..." lines onto the schema's fields. */
static void parse_options(schema *s)
{
    FILE *f = fopen(OPTIONS, "r");
    char line[512], path[128], msg[NAME_MAX_], name[NAME_MAX_];
    if (!f)
        fail_msg("cannot open %s", OPTIONS);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%127s", path) != 1)
            continue;
        const char *dot = strrchr(path, '.');
        if (strncmp(path, "fwl.", 4) || !path[4])
            fail_msg("%s: '%s' is not fwl.Message[.field]", OPTIONS, path);
        if (dot == path + 3)
            continue; /* a whole message's option */
        snprintf(msg, sizeof msg, "%.*s", (int)(dot - path - 4), path + 4);
        snprintf(name, sizeof name, "%s", dot + 1);
        field *fd = find_field(s, msg, name);
        if (!fd)
            fail_msg("%s: %s is no field of %s", OPTIONS, path, PROTO);
        const char *v;
        if ((v = strstr(line, "max_size:")))
            fd->max_size = atoll(v + strlen("max_size:"));
        if ((v = strstr(line, "max_count:")))
            fd->max_count = atoll(v + strlen("max_count:"));
    }
    fclose(f);
}

/* The messages a client sends: Request, Tx and TxBody (carried as bytes in Tx.body), and
 * every message under them. */
static void mark_reachable(schema *s)
{
    static const char *const roots[] = {"Request", "Tx", "TxBody"};
    for (size_t i = 0; i < ARRAY_LEN(roots); i++) {
        int m = msg_index(s, roots[i]);
        assert_true(m >= 0);
        s->reach[m] = true;
    }
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < s->n; i++) {
            int from = msg_index(s, s->f[i].msg), to = msg_index(s, s->f[i].type);
            if (s->reach[from] && to >= 0 && !s->reach[to])
                s->reach[to] = grew = true;
        }
    }
}

/* The bounds a row must state: bytes (a string's less its NUL) and items, -1 for none. */
static void field_bounds(const field *f, long long *bytes, long long *items)
{
    bool str = !strcmp(f->type, "string"), byt = !strcmp(f->type, "bytes");
    *bytes = f->max_size < 0 ? -1 : f->max_size - (str ? 1 : 0);
    *items = f->repeated ? f->max_count : -1;
    if (((str || byt) && f->max_size < 0) || (f->repeated && f->max_count < 0))
        fail_msg("%s.%s has no bound in %s", f->msg, f->name, OPTIONS);
    if (!str && !byt && f->max_size >= 0)
        fail_msg("%s.%s: max_size on a %s", f->msg, f->name, f->type);
}

static void load_schema(schema *s)
{
    memset(s, 0, sizeof *s);
    parse_proto(s);
    parse_options(s);
    mark_reachable(s);
}

/* --- the field rules ---------------------------------------------------------------------- */

static void rule_row(void *ctx, char **c, int ln)
{
    schema *s = ctx;
    char *name = unquote(c[0]), msg[NAME_MAX_];
    const char *dot = strchr(name, '.');
    if (!dot || dot - name >= NAME_MAX_)
        fail_msg("%s:%d: '%s' is not Message.field", PROTOCOL_MD, ln, name);
    snprintf(msg, sizeof msg, "%.*s", (int)(dot - name), name);
    field *f = find_field(s, msg, dot + 1);
    int m = msg_index(s, msg);
    if (!f || m < 0 || !s->reach[m])
        fail_msg("%s:%d: %s is no field of a message a client sends", PROTOCOL_MD, ln, name);
    if (f->listed)
        fail_msg("%s:%d: %s has a second row", PROTOCOL_MD, ln, name);
    f->listed = true;
    long long bytes, items;
    field_bounds(f, &bytes, &items);
    if (num_cell(c[1], ln) != bytes || num_cell(c[2], ln) != items)
        fail_msg("%s:%d: %s: the schema's bounds are bytes %lld, items %lld (-1: none)",
                 PROTOCOL_MD, ln, name, bytes, items);
    if (!*c[3])
        fail_msg("%s:%d: %s: no rule", PROTOCOL_MD, ln, name);
}

static void test_field_rules(void **state)
{
    (void)state;
    static const char *const header[] = {"field", "bytes", "items", "rule"};
    static schema s;
    load_schema(&s);
    doc_rows(PROTOCOL_MD, "field-rules", header, 4, rule_row, &s);
    for (size_t i = 0; i < s.n; i++)
        if (s.reach[msg_index(&s, s.f[i].msg)] && !s.f[i].listed)
            fail_msg("%s.%s (a client sends it) has no row in %s", s.f[i].msg, s.f[i].name,
                     PROTOCOL_MD);
}

/* The reading of the two files agrees with what nanopb generated from them. */
static void test_schema_reading(void **state)
{
    (void)state;
#define STR_(m, f) {#m, #f, sizeof(((fwl_##m *)0)->f) - 1, -1}
#define BYTES_(m, path, f) {#m, #f, sizeof(((fwl_##m *)0)->path.bytes), -1}
#define STRS_(m, f)                                                                          \
    {#m, #f, sizeof(((fwl_##m *)0)->f[0]) - 1, ARRAY_LEN(((fwl_##m *)0)->f)}
#define LIST_(m, f) {#m, #f, -1, ARRAY_LEN(((fwl_##m *)0)->f)}
    static const struct {
        const char *msg, *name;
        long long bytes, items;
    } gen[] = {
        STR_(Release, product),      STR_(ContractTx, source),   BYTES_(Tx, body, body),
        BYTES_(GetBlockReq, by.hash, hash), STRS_(Device, tags), LIST_(Tx, sigs),
        LIST_(EligibleReq, devices), STRS_(HardwareSupport, required_addons),
    };
    static schema s;
    load_schema(&s);
    for (size_t i = 0; i < ARRAY_LEN(gen); i++) {
        field *f = find_field(&s, gen[i].msg, gen[i].name);
        long long bytes, items;
        assert_non_null(f);
        field_bounds(f, &bytes, &items);
        if (bytes != gen[i].bytes || items != gen[i].items)
            fail_msg("%s.%s: read as bytes %lld, items %lld; generated %lld, %lld", f->msg,
                     f->name, bytes, items, gen[i].bytes, gen[i].items);
    }
    int m = msg_index(&s, "Release"), resp = msg_index(&s, "Response");
    assert_true(m >= 0 && s.reach[m]);
    assert_true(resp >= 0 && !s.reach[resp]);
}

/* --- the limits --------------------------------------------------------------------------- */

#define LIMIT_(c) {#c, (long long)(c), false}
static struct {
    const char *name;
    long long value;
    bool listed;
} limits[] = {
    LIMIT_(NODE_RPC_MAX_REQUEST),   LIMIT_(NODE_RPC_MAX_RESPONSE),   LIMIT_(LDG_TX_MAX),
    LIMIT_(LDG_SECURITY_VERSION_MAX), LIMIT_(LDG_PUBLISHED_AHEAD_MAX_S),
    LIMIT_(LDG_CONTRACT_SOURCE_MAX), LIMIT_(LDG_REPORT_MAX),      LIMIT_(LDG_BLOCK_MAX_TXS),
    LIMIT_(LDG_BLOCK_MAX_BYTES),    LIMIT_(LIST_DEFAULT),            LIMIT_(LIST_MAX),
    LIMIT_(NODE_ELG_CONN_MAX),      LIMIT_(NODE_ELG_QUEUE_MAX),      LIMIT_(NODE_MP_WAITERS_MAX),
};

static void limit_row(void *ctx, char **c, int ln)
{
    (void)ctx;
    const char *name = unquote(c[0]);
    for (size_t i = 0; i < ARRAY_LEN(limits); i++) {
        if (strcmp(limits[i].name, name))
            continue;
        if (limits[i].listed)
            fail_msg("%s:%d: %s has a second row", PROTOCOL_MD, ln, name);
        limits[i].listed = true;
        if (num_cell(c[1], ln) != limits[i].value)
            fail_msg("%s:%d: %s is %lld", PROTOCOL_MD, ln, name, limits[i].value);
        if (!*c[2])
            fail_msg("%s:%d: %s: what does it bound?", PROTOCOL_MD, ln, name);
        return;
    }
    fail_msg("%s:%d: %s is not a constant this test knows (add it to limits[])", PROTOCOL_MD,
             ln, name);
}

static void test_limits(void **state)
{
    (void)state;
    static const char *const header[] = {"constant", "value", "what"};
    doc_rows(PROTOCOL_MD, "limits", header, 3, limit_row, NULL);
    for (size_t i = 0; i < ARRAY_LEN(limits); i++)
        if (!limits[i].listed)
            fail_msg("%s (%lld) has no row in %s's limits", limits[i].name, limits[i].value,
                     PROTOCOL_MD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_algorithms),
        cmocka_unit_test(test_signature_algorithms),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_schema_reading),
        cmocka_unit_test(test_field_rules),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
