/*
 * Genesis, key and node config files: JSON through jansson.
 *
 * The loaders are strict because a typo in these files otherwise becomes a silently different
 * chain or node: unknown keys and duplicate keys are refused at every level, every field is
 * range-checked, and err gets "<field>: <what is wrong>" (e.g. "admins[1].key: ed25519 keys
 * are 32 bytes, got 33").
 *
 * Errors of the three loaders: LDG_EINVALID for bad arguments, LDG_EIO when the file cannot
 * be read, LDG_ETOOBIG when it is over NODE_FILE_MAX bytes (checked before parsing),
 * LDG_ENOMEM, and NODE_ECONFIG for any problem with the content. On error the output struct
 * is zeroed.
 *
 * The savers run the loaders' own validation over what they are about to write and refuse
 * (LDG_EINVALID, or LDG_EUNKNOWN_ALG for an id the registry does not know) anything that would
 * not load back, so save-then-load always gives back the same struct (paths in a config:
 * see node_config_load). Other errors: LDG_ENOMEM, LDG_EIO.
 *
 * Integers are JSON integers (jansson's json_int_t, 64-bit signed), so uint64 fields are
 * capped at INT64_MAX.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "node/node.h"

#define NODE_FILE_MAX (1u << 20) /* any of the three files */

/* Total validator power stays a safe integer for every JSON consumer (2^53 - 1), and far
 * below the point where the consensus 2/3 arithmetic (power * 3) could overflow a uint64. */
#define POWER_TOTAL_MAX ((uint64_t)9007199254740991)

/* Config limits: generous, but each bounds memory or work somewhere. */
#define BLOCK_INTERVAL_MAX 3600000u /* one hour */
#define MEMPOOL_MAX_MAX 1000000u    /* transactions are up to ~10 KiB each */
#define CLIENTS_MAX_MAX 65536u

/* Key generation retries on LDG_EBADKEY (a seed outside the curve order: ~2^-128 per try);
 * the bound only stops a broken keypair() from spinning forever. */
#define KEYGEN_TRIES 8

/* ---------------------------------------------------------------------------------------- */
/* Error reporting                                                                           */

typedef struct {
    char *buf;
    size_t len;
} errbuf;

static void errbuf_init(errbuf *e, char *buf, size_t len)
{
    e->buf = len ? buf : NULL;
    e->len = len;
    if (e->buf)
        e->buf[0] = '\0';
}

/* "<prefix>.<field>: <message>"; returns rc. prefix or field may be empty. */
static int bad(errbuf *e, int rc, const char *prefix, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(errbuf *e, int rc, const char *prefix, const char *field, const char *fmt, ...)
{
    if (!e->buf)
        return rc;
    int n = snprintf(e->buf, e->len, "%s%s%s%s", prefix, *prefix && *field ? "." : "", field,
                     *prefix || *field ? ": " : "");
    if (n >= 0 && (size_t)n < e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading JSON                                                                              */

/* Read and parse path as a JSON object. With secret, the raw text is wiped once parsed. */
static int load_object(const char *path, bool secret, json_t **out, errbuf *e)
{
    uint8_t *buf;
    size_t len;
    json_error_t je;

    *out = NULL;
    int rc = node_read_file(path, NODE_FILE_MAX, &buf, &len);
    if (rc == LDG_ETOOBIG)
        return bad(e, rc, "", "", "file is larger than %u bytes", NODE_FILE_MAX);
    if (rc == LDG_EIO)
        return bad(e, rc, "", "", "cannot read %s: %s", path, strerror(errno));
    if (rc)
        return bad(e, rc, "", "", "cannot read %s: %s", path, node_strerror(rc));

    /* Duplicate keys are refused: the second of two "admin_threshold" keys is a typo or an
     * attack, never intended. */
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (secret)
        OPENSSL_cleanse(buf, len);
    free(buf);
    if (!j)
        return bad(e, NODE_ECONFIG, "", "", "invalid JSON at line %d, column %d: %s", je.line,
                   je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return bad(e, NODE_ECONFIG, "", "", "the file must hold a JSON object");
    }
    *out = j;
    return 0;
}

/* Refuse keys outside allowed (a NULL-terminated list): catches misspelt optional fields,
 * which would otherwise silently take their defaults. */
static int check_keys(const json_t *obj, const char *const *allowed, const char *prefix,
                      errbuf *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[256] = "";
            size_t n = 0;
            for (size_t i = 0; allowed[i]; i++) {
                int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
                if (w < 0 || (size_t)w >= sizeof list - n)
                    break;
                n += (size_t)w;
            }
            return bad(e, NODE_ECONFIG, prefix, key, "unknown key (expected one of: %s)", list);
        }
    }
    return 0;
}

/* A string member; *out NULL when absent and optional. */
static int get_string(const json_t *obj, const char *prefix, const char *name, bool required,
                      const char **out, errbuf *e)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v)
        return required ? bad(e, NODE_ECONFIG, prefix, name, "missing") : 0;
    if (!json_is_string(v))
        return bad(e, NODE_ECONFIG, prefix, name, "must be a string");
    *out = json_string_value(v);
    return 0;
}

/* An integer member in [min, max]; *out left alone (the default) when absent and optional. */
static int get_uint(const json_t *obj, const char *prefix, const char *name, bool required,
                    uint64_t min, uint64_t max, uint64_t *out, errbuf *e)
{
    const json_t *v = json_object_get(obj, name);

    if (!v)
        return required ? bad(e, NODE_ECONFIG, prefix, name, "missing") : 0;
    if (!json_is_integer(v))
        return bad(e, NODE_ECONFIG, prefix, name, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
        return bad(e, NODE_ECONFIG, prefix, name, "must be between %llu and %llu, got %lld",
                   (unsigned long long)min, (unsigned long long)max, (long long)x);
    *out = (uint64_t)x;
    return 0;
}

/* An array member of at most max elements; *out NULL when absent and optional. */
static int get_array(const json_t *obj, const char *name, bool required, size_t min, size_t max,
                     const json_t **out, errbuf *e)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v)
        return required ? bad(e, NODE_ECONFIG, "", name, "missing") : 0;
    if (!json_is_array(v))
        return bad(e, NODE_ECONFIG, "", name, "must be an array");
    size_t n = json_array_size(v);
    if (n < min || n > max)
        return bad(e, NODE_ECONFIG, "", name, "must have %zu to %zu entries, got %zu", min, max,
                   n);
    *out = v;
    return 0;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* A hex member of exactly want bytes, decoded into out. */
static int get_hex(const json_t *obj, const char *prefix, const char *name, const char *alg,
                   size_t want, uint8_t *out, errbuf *e)
{
    const char *s;
    size_t len;
    int rc = get_string(obj, prefix, name, true, &s, e);

    if (rc)
        return rc;
    len = strlen(s);
    if (len % 2 || !is_hex(s, len))
        return bad(e, NODE_ECONFIG, prefix, name, "must be a hex string");
    if (len / 2 != want)
        return bad(e, NODE_ECONFIG, prefix, name, "%s %s is %zu bytes, got %zu", alg,
                   strcmp(name, "secret") ? "public key" : "secret key", want, len / 2);
    if (node_unhex(s, out, want, &len) || len != want)
        return bad(e, NODE_ECONFIG, prefix, name, "must be a hex string");
    return 0;
}

/* The names the registry knows, for error messages: "a, b, c". */
static const char *known_names(int kind, char *buf, size_t cap)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0;; i++) {
        const char *name;
        if (kind == 0) {
            const ldg_hash_impl *h = ldg_hash_at(i);
            name = h ? h->name : NULL;
        } else {
            const ldg_sig_impl *s = ldg_sig_at(i);
            name = s ? s->name : NULL;
        }
        if (!name)
            break;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", name);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

static int get_sig_alg(const json_t *obj, const char *prefix, const char *name,
                       const ldg_sig_impl **out, errbuf *e)
{
    const char *s;
    char names[256];
    int rc = get_string(obj, prefix, name, true, &s, e);

    if (rc)
        return rc;
    if (!(*out = ldg_sig_by_name(s)))
        return bad(e, NODE_ECONFIG, prefix, name,
                   "unknown signature algorithm \"%s\" (known: %s)", s,
                   known_names(1, names, sizeof names));
    return 0;
}

/* {"alg": ..., "key": ...} members of obj into k. */
static int get_pubkey(const json_t *obj, const char *prefix, ldg_pubkey *k, errbuf *e)
{
    const ldg_sig_impl *impl;
    int rc;

    if ((rc = get_sig_alg(obj, prefix, "alg", &impl, e)))
        return rc;
    if (impl->pub_len > LDG_PUBKEY_MAX)
        return bad(e, NODE_ECONFIG, prefix, "alg", "%s keys do not fit LDG_PUBKEY_MAX",
                   impl->name);
    if ((rc = get_hex(obj, prefix, "key", impl->name, impl->pub_len, k->key, e)))
        return rc;
    k->alg = impl->id;
    k->len = impl->pub_len;
    return 0;
}

static bool same_key(const ldg_pubkey *a, const ldg_pubkey *b)
{
    return a->alg == b->alg && a->len == b->len && !memcmp(a->key, b->key, a->len);
}

/* [A-Za-z0-9._+/-]: the identifier syntax the ledger requires of product names. */
static bool ident_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* Printable text (UTF-8 allowed; jansson has already checked it is valid UTF-8). */
static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Genesis                                                                                   */

static const char *const alg_status_names[] = {"allowed", "deprecated", "disabled"};

static int rule_status(const ldg_genesis *g, int kind, uint32_t id)
{
    for (size_t i = 0; i < g->n_alg_rules; i++)
        if (g->alg_rules[i].kind == kind && g->alg_rules[i].id == id)
            return (int)g->alg_rules[i].status;
    return LDG_ALG_ALLOWED;
}

static int genesis_algorithms(const json_t *root, ldg_genesis *g, errbuf *e)
{
    static const char *const keys[] = {"name", "status", "from_height", NULL};
    const json_t *arr;
    char p[48], names[256];
    int rc;

    if ((rc = get_array(root, "algorithms", false, 0, LDG_MAX_ALG_RULES, &arr, e)) || !arr)
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        ldg_alg_rule *r = &g->alg_rules[i];
        const char *name, *status;
        const ldg_hash_impl *h;
        const ldg_sig_impl *s;

        snprintf(p, sizeof p, "algorithms[%zu]", i);
        if (!json_is_object(o))
            return bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = check_keys(o, keys, p, e)) || (rc = get_string(o, p, "name", true, &name, e)) ||
            (rc = get_string(o, p, "status", true, &status, e)))
            return rc;
        if ((h = ldg_hash_by_name(name))) {
            r->kind = 0;
            r->id = h->id;
        } else if ((s = ldg_sig_by_name(name))) {
            r->kind = 1;
            r->id = s->id;
        } else {
            char hn[128];
            return bad(e, NODE_ECONFIG, p, "name", "unknown algorithm \"%s\" (known: %s, %s)",
                       name, known_names(0, hn, sizeof hn), known_names(1, names, sizeof names));
        }
        size_t k = 0;
        while (k < 3 && strcmp(status, alg_status_names[k]))
            k++;
        if (k == 3)
            return bad(e, NODE_ECONFIG, p, "status",
                       "must be \"allowed\", \"deprecated\" or \"disabled\", got \"%s\"", status);
        r->status = (ldg_alg_status)k;
        if (json_object_get(o, "from_height") && r->status != LDG_ALG_DEPRECATED)
            return bad(e, NODE_ECONFIG, p, "from_height", "only applies to \"deprecated\"");
        if ((rc = get_uint(o, p, "from_height", false, 0, INT64_MAX, &r->from_height, e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (g->alg_rules[j].kind == r->kind && g->alg_rules[j].id == r->id)
                return bad(e, NODE_ECONFIG, p, "name", "\"%s\" already has a rule", name);
        /* The chain hash names every block and transaction for the chain's whole life. */
        if (r->kind == 0 && r->id == g->hash_alg && r->status != LDG_ALG_ALLOWED)
            return bad(e, NODE_ECONFIG, p, "status",
                       "\"%s\" is the chain hash (\"hash\") and cannot be %s", name, status);
        g->n_alg_rules = i + 1;
    }
    return 0;
}

/* A genesis key must be usable: its algorithm may not be disabled on this chain. */
static int key_allowed(const ldg_genesis *g, const ldg_pubkey *k, const char *p, errbuf *e)
{
    if (rule_status(g, 1, k->alg) == LDG_ALG_DISABLED)
        return bad(e, NODE_ECONFIG, p, "alg", "%s is disabled in \"algorithms\"",
                   ldg_sig_by_id(k->alg)->name);
    return 0;
}

static int genesis_from_json(const json_t *root, ldg_genesis *g, errbuf *e)
{
    static const char *const top[] = {"chain_id", "hash",       "genesis_time_ms",
                                      "admin_threshold", "admins", "validators",
                                      "authors",  "algorithms", NULL};
    static const char *const admin_keys[] = {"alg", "key", NULL};
    static const char *const validator_keys[] = {"alg", "key", "power", NULL};
    static const char *const author_keys[] = {"product", "name", "alg", "key", NULL};
    const json_t *arr;
    const char *s;
    char p[48], names[256];
    uint64_t u;
    int rc;

    memset(g, 0, sizeof *g);
    if ((rc = check_keys(root, top, "", e)))
        return rc;

    if ((rc = get_string(root, "", "chain_id", true, &s, e)))
        return rc;
    size_t n = strlen(s);
    if (n < 1 || n > sizeof g->chain_id - 1)
        return bad(e, NODE_ECONFIG, "", "chain_id", "must be 1 to %zu characters, got %zu",
                   sizeof g->chain_id - 1, n);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return bad(e, NODE_ECONFIG, "", "chain_id", "may only use A-Z a-z 0-9 . _ -");
    memcpy(g->chain_id, s, n + 1);

    if ((rc = get_string(root, "", "hash", false, &s, e)))
        return rc;
    if (!s)
        s = "sha256";
    const ldg_hash_impl *h = ldg_hash_by_name(s);
    if (!h)
        return bad(e, NODE_ECONFIG, "", "hash", "unknown hash algorithm \"%s\" (known: %s)", s,
                   known_names(0, names, sizeof names));
    g->hash_alg = h->id;

    if ((rc = get_uint(root, "", "genesis_time_ms", false, 0, INT64_MAX, &g->genesis_time_ms,
                       e)))
        return rc;

    /* Before the keys: a key's algorithm must not be disabled by these rules. */
    if ((rc = genesis_algorithms(root, g, e)))
        return rc;

    if ((rc = get_array(root, "admins", true, 1, LDG_MAX_ADMINS, &arr, e)))
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "admins[%zu]", i);
        if (!json_is_object(o))
            return bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = check_keys(o, admin_keys, p, e)) ||
            (rc = get_pubkey(o, p, &g->admins[i], e)) ||
            (rc = key_allowed(g, &g->admins[i], p, e)))
            return rc;
        /* A repeated admin would count twice toward the threshold. */
        for (size_t j = 0; j < i; j++)
            if (same_key(&g->admins[j], &g->admins[i]))
                return bad(e, NODE_ECONFIG, p, "key", "same key as admins[%zu]", j);
        g->n_admins = i + 1;
    }

    if ((rc = get_uint(root, "", "admin_threshold", true, 1, g->n_admins, &u, e)))
        return rc;
    g->admin_threshold = (uint32_t)u;

    if ((rc = get_array(root, "validators", true, 1, LDG_MAX_VALIDATORS, &arr, e)))
        return rc;
    uint64_t total = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "validators[%zu]", i);
        if (!json_is_object(o))
            return bad(e, NODE_ECONFIG, p, "", "must be an object");
        g->validator_power[i] = 1;
        if ((rc = check_keys(o, validator_keys, p, e)) ||
            (rc = get_pubkey(o, p, &g->validators[i], e)) ||
            (rc = key_allowed(g, &g->validators[i], p, e)) ||
            (rc = get_uint(o, p, "power", false, 1, POWER_TOTAL_MAX, &g->validator_power[i],
                           e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (same_key(&g->validators[j], &g->validators[i]))
                return bad(e, NODE_ECONFIG, p, "key", "same key as validators[%zu]", j);
        total += g->validator_power[i]; /* each <= 2^53, at most 32: no overflow */
        if (total > POWER_TOTAL_MAX)
            return bad(e, NODE_ECONFIG, p, "power", "total validator power exceeds %llu",
                       (unsigned long long)POWER_TOTAL_MAX);
        g->n_validators = i + 1;
    }

    if ((rc = get_array(root, "authors", false, 0, LDG_MAX_GENESIS_AUTHORS, &arr, e)) || !arr)
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        ldg_genesis_author *a = &g->authors[i];
        snprintf(p, sizeof p, "authors[%zu]", i);
        if (!json_is_object(o))
            return bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = check_keys(o, author_keys, p, e)) ||
            (rc = get_string(o, p, "product", true, &s, e)))
            return rc;
        if (!ident_ok(s, sizeof a->product - 1))
            return bad(e, NODE_ECONFIG, p, "product",
                       "must be 1 to %zu characters of A-Z a-z 0-9 . _ + / -",
                       sizeof a->product - 1);
        strcpy(a->product, s);
        if ((rc = get_string(o, p, "name", true, &s, e)))
            return rc;
        if (!text_ok(s, sizeof a->name - 1))
            return bad(e, NODE_ECONFIG, p, "name",
                       "must be 1 to %zu bytes of text without control characters",
                       sizeof a->name - 1);
        strcpy(a->name, s);
        if ((rc = get_pubkey(o, p, &a->key, e)) || (rc = key_allowed(g, &a->key, p, e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->authors[j].product, a->product) && same_key(&g->authors[j].key, &a->key))
                return bad(e, NODE_ECONFIG, p, "key", "same product and key as authors[%zu]", j);
        g->n_authors = i + 1;
    }
    return 0;
}

int node_genesis_load(const char *path, ldg_genesis *g, char *err, size_t errlen)
{
    errbuf e;
    json_t *root;
    int rc;

    errbuf_init(&e, err, errlen);
    if (!g)
        return LDG_EINVALID;
    memset(g, 0, sizeof *g);
    if (!path)
        return LDG_EINVALID;
    if ((rc = load_object(path, false, &root, &e)))
        return rc;
    rc = genesis_from_json(root, g, &e);
    json_decref(root);
    if (rc)
        memset(g, 0, sizeof *g);
    return rc;
}

/* A string that must end inside its array (a hand-filled struct may not). */
static bool str_fits(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

/* json_object_set_new that remembers a failure, so building stays linear. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v))
        *ok = false;
}

static json_t *key_json(const ldg_pubkey *k, int *rc)
{
    const ldg_sig_impl *impl = ldg_sig_by_id(k->alg);
    char hex[2 * LDG_PUBKEY_MAX + 1];

    if (!impl) {
        *rc = LDG_EUNKNOWN_ALG;
        return NULL;
    }
    if (k->len > LDG_PUBKEY_MAX) {
        *rc = LDG_EINVALID;
        return NULL;
    }
    node_hex(k->key, k->len, hex);
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        put(o, "alg", json_string(impl->name), &ok);
        put(o, "key", json_string(hex), &ok);
    }
    if (!ok) {
        json_decref(o);
        *rc = LDG_ENOMEM;
        return NULL;
    }
    return o;
}

static int genesis_to_json(const ldg_genesis *g, json_t **out)
{
    const ldg_hash_impl *h = ldg_hash_by_id(g->hash_alg);
    json_t *root, *arr, *o;
    bool ok;
    int rc = LDG_ENOMEM;

    *out = NULL;
    if (!h)
        return LDG_EUNKNOWN_ALG;
    if (!str_fits(g->chain_id, sizeof g->chain_id) || g->n_admins > LDG_MAX_ADMINS ||
        g->n_validators > LDG_MAX_VALIDATORS || g->n_authors > LDG_MAX_GENESIS_AUTHORS ||
        g->n_alg_rules > LDG_MAX_ALG_RULES || g->genesis_time_ms > INT64_MAX)
        return LDG_EINVALID;
    if (!(root = json_object()))
        return LDG_ENOMEM;
    ok = true;
    /* json_string is NULL for invalid UTF-8: reported as LDG_EINVALID below, not ENOMEM. */
    put(root, "chain_id", json_string(g->chain_id), &ok);
    put(root, "hash", json_string(h->name), &ok);
    put(root, "genesis_time_ms", json_integer((json_int_t)g->genesis_time_ms), &ok);
    put(root, "admin_threshold", json_integer(g->admin_threshold), &ok);

    put(root, "admins", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_admins; i++) {
        if (!(o = key_json(&g->admins[i], &rc)))
            goto fail;
        ok = !json_array_append_new(arr, o);
    }

    put(root, "validators", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_validators; i++) {
        if (g->validator_power[i] > INT64_MAX) {
            rc = LDG_EINVALID;
            goto fail;
        }
        if (!(o = key_json(&g->validators[i], &rc)))
            goto fail;
        put(o, "power", json_integer((json_int_t)g->validator_power[i]), &ok);
        ok = !json_array_append_new(arr, o) && ok;
    }

    put(root, "authors", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_authors; i++) {
        const ldg_genesis_author *a = &g->authors[i];
        if (!str_fits(a->product, sizeof a->product) || !str_fits(a->name, sizeof a->name)) {
            rc = LDG_EINVALID;
            goto fail;
        }
        json_t *k = key_json(&a->key, &rc);
        if (!k || !(o = json_object())) {
            json_decref(k);
            goto fail;
        }
        put(o, "product", json_string(a->product), &ok);
        put(o, "name", json_string(a->name), &ok);
        put(o, "alg", json_incref(json_object_get(k, "alg")), &ok);
        put(o, "key", json_incref(json_object_get(k, "key")), &ok);
        json_decref(k);
        ok = !json_array_append_new(arr, o) && ok;
    }

    put(root, "algorithms", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_alg_rules; i++) {
        const ldg_alg_rule *r = &g->alg_rules[i];
        const char *name = NULL;
        if (r->kind == 0 && ldg_hash_by_id(r->id))
            name = ldg_hash_by_id(r->id)->name;
        else if (r->kind == 1 && ldg_sig_by_id(r->id))
            name = ldg_sig_by_id(r->id)->name;
        if (!name) {
            rc = r->kind == 0 || r->kind == 1 ? LDG_EUNKNOWN_ALG : LDG_EINVALID;
            goto fail;
        }
        if ((unsigned)r->status > LDG_ALG_DISABLED || r->from_height > INT64_MAX) {
            rc = LDG_EINVALID;
            goto fail;
        }
        if (!(o = json_object()))
            goto fail;
        put(o, "name", json_string(name), &ok);
        put(o, "status", json_string(alg_status_names[r->status]), &ok);
        /* Written whenever set, so that a stray value is refused by the check below rather
         * than silently dropped. */
        if (r->status == LDG_ALG_DEPRECATED || r->from_height)
            put(o, "from_height", json_integer((json_int_t)r->from_height), &ok);
        ok = !json_array_append_new(arr, o) && ok;
    }
    if (!ok) {
        rc = LDG_EINVALID; /* invalid UTF-8 in a name, or out of memory */
        goto fail;
    }
    *out = root;
    return 0;
fail:
    json_decref(root);
    return rc;
}

/* Serialise with a final newline and write atomically. */
static int write_json(const char *path, const json_t *root, int mode)
{
    char *text = json_dumps(root, JSON_INDENT(2));
    if (!text)
        return LDG_ENOMEM;
    size_t n = strlen(text);
    char *buf = realloc(text, n + 2);
    if (!buf) {
        free(text);
        return LDG_ENOMEM;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    int rc = node_write_file(path, buf, n + 1, mode);
    free(buf);
    return rc;
}

int node_genesis_save(const char *path, const ldg_genesis *g)
{
    json_t *root;
    errbuf e;
    int rc;

    if (!path || !g)
        return LDG_EINVALID;
    if ((rc = genesis_to_json(g, &root)))
        return rc;
    /* Only write what node_genesis_load accepts and gives back unchanged. */
    ldg_genesis *check = malloc(sizeof *check);
    if (!check) {
        json_decref(root);
        return LDG_ENOMEM;
    }
    errbuf_init(&e, NULL, 0);
    rc = genesis_from_json(root, check, &e) ? LDG_EINVALID : 0;
    free(check);
    if (!rc)
        rc = write_json(path, root, 0644);
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Key files                                                                                 */

/* Wipe a jansson string in place before it is freed. jansson owns the bytes, but they are
 * ordinary writable heap memory; this is the only way to keep the secret from outliving
 * the object. */
static void wipe_json_string(json_t *v)
{
    if (json_is_string(v))
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

static int key_from_json(const json_t *root, node_key *k, errbuf *e)
{
    static const char *const keys[] = {"alg", "secret", "public", NULL};
    const ldg_sig_impl *impl;
    uint8_t derived[LDG_PUBKEY_MAX];
    int rc;

    memset(k, 0, sizeof *k);
    if ((rc = check_keys(root, keys, "", e)) || (rc = get_sig_alg(root, "", "alg", &impl, e)))
        return rc;
    if (impl->sec_len > LDG_SECKEY_MAX || impl->pub_len > LDG_PUBKEY_MAX)
        return bad(e, NODE_ECONFIG, "", "alg", "%s keys do not fit node_key", impl->name);
    if ((rc = get_hex(root, "", "secret", impl->name, impl->sec_len, k->sec, e)) ||
        (rc = get_hex(root, "", "public", impl->name, impl->pub_len, k->pub.key, e)))
        return rc;
    k->alg = k->pub.alg = impl->id;
    k->pub.len = impl->pub_len;

    /* The public key is stored for people and tools to read; it must be the secret's. */
    if (impl->pubkey(k->sec, derived))
        return bad(e, NODE_ECONFIG, "", "secret", "not a valid %s secret key", impl->name);
    if (memcmp(derived, k->pub.key, impl->pub_len))
        return bad(e, NODE_ECONFIG, "", "public", "does not match the secret key");
    return 0;
}

int node_key_load(const char *path, node_key *k, char *err, size_t errlen)
{
    errbuf e;
    json_t *root;
    int rc;

    errbuf_init(&e, err, errlen);
    if (!k)
        return LDG_EINVALID;
    memset(k, 0, sizeof *k);
    if (!path)
        return LDG_EINVALID;
    if ((rc = load_object(path, true, &root, &e)))
        return rc;
    rc = key_from_json(root, k, &e);
    wipe_json_string(json_object_get(root, "secret"));
    json_decref(root);
    if (rc)
        OPENSSL_cleanse(k, sizeof *k);
    return rc;
}

int node_key_generate(uint32_t alg, node_key *k)
{
    const ldg_sig_impl *impl;
    uint8_t seed[32];
    int rc = LDG_EBADKEY;

    if (!k)
        return LDG_EINVALID;
    memset(k, 0, sizeof *k);
    if (!(impl = ldg_sig_by_id(alg)))
        return LDG_EUNKNOWN_ALG;
    if (impl->sec_len > LDG_SECKEY_MAX || impl->pub_len > LDG_PUBKEY_MAX)
        return LDG_EINVALID;
    for (int i = 0; i < KEYGEN_TRIES && rc == LDG_EBADKEY; i++) {
        if (RAND_bytes(seed, sizeof seed) != 1) {
            rc = LDG_EIO; /* no entropy: never fall back to anything weaker */
            break;
        }
        rc = impl->keypair(seed, k->sec, k->pub.key);
    }
    OPENSSL_cleanse(seed, sizeof seed);
    if (rc) {
        OPENSSL_cleanse(k, sizeof *k);
        return rc;
    }
    k->alg = k->pub.alg = alg;
    k->pub.len = impl->pub_len;
    return 0;
}

int node_key_save(const char *path, const node_key *k)
{
    const ldg_sig_impl *impl;
    char sec_hex[2 * LDG_SECKEY_MAX + 1], pub_hex[2 * LDG_PUBKEY_MAX + 1];
    char text[1024]; /* the whole file: three short members */
    node_key check;
    json_t *root;
    errbuf e;
    bool ok;
    int rc;

    if (!path || !k)
        return LDG_EINVALID;
    if (!(impl = ldg_sig_by_id(k->alg)))
        return LDG_EUNKNOWN_ALG;
    if (k->pub.alg != k->alg || k->pub.len != impl->pub_len || impl->sec_len > LDG_SECKEY_MAX ||
        impl->pub_len > LDG_PUBKEY_MAX)
        return LDG_EINVALID;
    if (!(root = json_object()))
        return LDG_ENOMEM;
    node_hex(k->sec, impl->sec_len, sec_hex);
    node_hex(k->pub.key, impl->pub_len, pub_hex);
    ok = true;
    put(root, "alg", json_string(impl->name), &ok);
    put(root, "secret", json_string(sec_hex), &ok);
    put(root, "public", json_string(pub_hex), &ok);
    OPENSSL_cleanse(sec_hex, sizeof sec_hex);

    rc = ok ? 0 : LDG_ENOMEM;
    if (!rc) {
        /* Refuse a key that would not load back (e.g. public not derived from secret). */
        errbuf_init(&e, NULL, 0);
        rc = key_from_json(root, &check, &e) ? LDG_EINVALID : 0;
        OPENSSL_cleanse(&check, sizeof check);
    }
    size_t n = 0;
    if (!rc) {
        /* json_dumpb writes straight into text: no intermediate heap copies of the secret. */
        n = json_dumpb(root, text, sizeof text - 1, JSON_INDENT(2));
        if (n == 0 || n > sizeof text - 2)
            rc = LDG_ENOMEM;
    }
    wipe_json_string(json_object_get(root, "secret"));
    json_decref(root);
    if (!rc) {
        text[n++] = '\n';
        rc = node_write_file(path, text, n, 0600);
    }
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Node config                                                                               */

/* "host:port" or "[v6-host]:port", port 1..65535. */
static int parse_listen(const char *s, node_config *c, errbuf *e)
{
    const char *colon = strrchr(s, ':'), *host = s;
    size_t hlen;

    if (!colon)
        return bad(e, NODE_ECONFIG, "", "rpc_listen", "must be \"host:port\", got \"%s\"", s);
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    } else if (memchr(s, ':', hlen)) {
        return bad(e, NODE_ECONFIG, "", "rpc_listen",
                   "an IPv6 host must be in brackets, as in \"[::1]:7400\"");
    }
    if (!hlen || hlen >= sizeof c->rpc_host)
        return bad(e, NODE_ECONFIG, "", "rpc_listen", "host must be 1 to %zu characters",
                   sizeof c->rpc_host - 1);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '[' || host[i] == ']' ||
            (unsigned char)host[i] == 0x7f)
            return bad(e, NODE_ECONFIG, "", "rpc_listen", "invalid character in host");

    const char *port = colon + 1;
    size_t plen = strlen(port);
    long v = 0;
    if (plen < 1 || plen > 5 || strspn(port, "0123456789") != plen ||
        (v = strtol(port, NULL, 10)) < 1 || v > 65535)
        return bad(e, NODE_ECONFIG, "", "rpc_listen", "port must be 1 to 65535, got \"%s\"",
                   port);
    memcpy(c->rpc_host, host, hlen);
    c->rpc_host[hlen] = '\0';
    c->rpc_port = (int)v;
    return 0;
}

static int get_path(const json_t *root, const char *name, char *out, size_t cap, errbuf *e)
{
    const char *s;
    int rc = get_string(root, "", name, false, &s, e);

    if (rc || !s)
        return rc;
    if (!*s)
        return bad(e, NODE_ECONFIG, "", name, "must not be empty");
    if (strlen(s) >= cap)
        return bad(e, NODE_ECONFIG, "", name, "longer than %zu bytes", cap - 1);
    strcpy(out, s);
    return 0;
}

static int get_u32(const json_t *root, const char *name, uint32_t min, uint32_t max,
                   uint32_t *out, errbuf *e)
{
    uint64_t v = *out;
    int rc = get_uint(root, "", name, false, min, max, &v, e);
    *out = (uint32_t)v;
    return rc;
}

/* c holds the defaults; present members override them. Paths are not resolved here. */
static int config_from_json(const json_t *root, node_config *c, errbuf *e)
{
    static const char *const keys[] = {
        "data_dir",    "genesis",       "rpc_listen", "validator_key", "block_interval_ms",
        "max_block_txs", "mempool_max", "max_clients", NULL,
    };
    const char *s;
    int rc;

    if ((rc = check_keys(root, keys, "", e)) ||
        (rc = get_path(root, "data_dir", c->data_dir, sizeof c->data_dir, e)) ||
        (rc = get_path(root, "genesis", c->genesis, sizeof c->genesis, e)) ||
        (rc = get_path(root, "validator_key", c->validator_key, sizeof c->validator_key, e)) ||
        (rc = get_string(root, "", "rpc_listen", false, &s, e)) ||
        (s && (rc = parse_listen(s, c, e))) ||
        (rc = get_u32(root, "block_interval_ms", 1, BLOCK_INTERVAL_MAX, &c->block_interval_ms,
                      e)) ||
        (rc = get_u32(root, "max_block_txs", 1, LDG_BLOCK_MAX_TXS, &c->max_block_txs, e)) ||
        (rc = get_u32(root, "mempool_max", 1, MEMPOOL_MAX_MAX, &c->mempool_max, e)) ||
        (rc = get_u32(root, "max_clients", 1, CLIENTS_MAX_MAX, &c->max_clients, e)))
        return rc;
    return 0;
}

/* The defaults describe a node directory laid out as the header's example: data/,
 * genesis.json, validator.key, RPC on loopback. */
void node_config_defaults(node_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    strcpy(c->data_dir, "data");
    strcpy(c->genesis, "genesis.json");
    strcpy(c->validator_key, "validator.key");
    strcpy(c->rpc_host, "127.0.0.1");
    c->rpc_port = 7400;
    c->block_interval_ms = 50;
    c->max_block_txs = 4096;
    c->mempool_max = 50000;
    c->max_clients = 1024;
}

/* Make a relative path relative to dir instead ("" dir: leave it as it is). */
static int resolve(const char *dir, char *path, size_t cap, const char *name, errbuf *e)
{
    char tmp[4096];

    if (!*dir || path[0] == '/')
        return 0;
    size_t dl = strlen(dir);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", path) >=
            sizeof tmp ||
        strlen(tmp) >= cap)
        return bad(e, NODE_ECONFIG, "", name,
                   "longer than %zu bytes once resolved against the config file's directory",
                   cap - 1);
    strcpy(path, tmp);
    return 0;
}

/*
 * Members absent from the file keep node_config_defaults' values. Relative paths (data_dir,
 * genesis, validator_key, including defaults) are resolved against the directory in path:
 * "nodes/a/node.json" with "data_dir": "data" gives "nodes/a/data". A config path without a
 * '/' is in the current directory, and its relative paths stay as they are. node_config_save
 * writes paths verbatim, so an absolute path round-trips exactly and a relative one is
 * relative to wherever the file is saved.
 */
int node_config_load(const char *path, node_config *c, char *err, size_t errlen)
{
    char dir[4096] = "";
    errbuf e;
    json_t *root;
    int rc;

    errbuf_init(&e, err, errlen);
    if (!c)
        return LDG_EINVALID;
    node_config_defaults(c);
    if (!path) {
        memset(c, 0, sizeof *c);
        return LDG_EINVALID;
    }
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);

    if ((rc = load_object(path, false, &root, &e)) == 0) {
        rc = config_from_json(root, c, &e);
        json_decref(root);
    }
    if (!rc && !(rc = resolve(dir, c->data_dir, sizeof c->data_dir, "data_dir", &e)) &&
        !(rc = resolve(dir, c->genesis, sizeof c->genesis, "genesis", &e)))
        rc = resolve(dir, c->validator_key, sizeof c->validator_key, "validator_key", &e);
    if (rc)
        memset(c, 0, sizeof *c);
    return rc;
}

int node_config_save(const char *path, const node_config *c)
{
    char listen[sizeof c->rpc_host + 16];
    json_t *root;
    bool ok = true;
    int rc;

    if (!path || !c)
        return LDG_EINVALID;
    if (!str_fits(c->data_dir, sizeof c->data_dir) || !str_fits(c->genesis, sizeof c->genesis) ||
        !str_fits(c->validator_key, sizeof c->validator_key) ||
        !str_fits(c->rpc_host, sizeof c->rpc_host))
        return LDG_EINVALID;
    if (strchr(c->rpc_host, ':'))
        snprintf(listen, sizeof listen, "[%s]:%d", c->rpc_host, c->rpc_port);
    else
        snprintf(listen, sizeof listen, "%s:%d", c->rpc_host, c->rpc_port);
    if (!(root = json_object()))
        return LDG_ENOMEM;
    put(root, "data_dir", json_string(c->data_dir), &ok);
    put(root, "genesis", json_string(c->genesis), &ok);
    put(root, "rpc_listen", json_string(listen), &ok);
    put(root, "validator_key", json_string(c->validator_key), &ok);
    put(root, "block_interval_ms", json_integer(c->block_interval_ms), &ok);
    put(root, "max_block_txs", json_integer(c->max_block_txs), &ok);
    put(root, "mempool_max", json_integer(c->mempool_max), &ok);
    put(root, "max_clients", json_integer(c->max_clients), &ok);

    rc = ok ? 0 : LDG_EINVALID; /* invalid UTF-8 in a path, or out of memory */
    if (!rc) {
        node_config check;
        errbuf e;
        node_config_defaults(&check);
        errbuf_init(&e, NULL, 0);
        if (config_from_json(root, &check, &e) || strcmp(check.rpc_host, c->rpc_host) ||
            check.rpc_port != c->rpc_port)
            rc = LDG_EINVALID;
    }
    if (!rc)
        rc = write_json(path, root, 0644);
    json_decref(root);
    return rc;
}
