/*
 * The jansson helpers the file loaders share; see files_internal.h and files.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ledger/tls.h"
#include "node/files/files_internal.h"

void node_json_err_init(node_json_err *e, char *buf, size_t len)
{
    e->buf = len ? buf : NULL;
    e->len = len;
    if (e->buf)
        e->buf[0] = '\0';
}

int node__bad(node_json_err *e, int rc, const char *prefix, const char *field, const char *fmt,
              ...)
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

int node__load_object(const char *path, bool secret, json_t **out, uint8_t *sha256,
                      node_json_err *e)
{
    uint8_t *buf;
    size_t len;
    json_error_t je;

    *out = NULL;
    if (sha256)
        memset(sha256, 0, SHA256_DIGEST_LENGTH);
    int rc = node_read_file(path, NODE_FILE_MAX, &buf, &len);
    if (rc == LDG_ETOOBIG)
        return node__bad(e, rc, "", "", "file is larger than %u bytes", NODE_FILE_MAX);
    if (rc == LDG_EIO)
        return node__bad(e, rc, "", "", "cannot read %s: %s", path, strerror(errno));
    if (rc)
        return node__bad(e, rc, "", "", "cannot read %s: %s", path, node_strerror(rc));

    /* Duplicate keys are refused: the second of two "admin_threshold" keys is a typo or an
     * attack, never intended. */
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (j && json_is_object(j) && sha256)
        SHA256(buf, len, sha256);
    if (secret)
        OPENSSL_cleanse(buf, len);
    free(buf);
    if (!j)
        return node__bad(e, NODE_ECONFIG, "", "", "invalid JSON at line %d, column %d: %s",
                         je.line, je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return node__bad(e, NODE_ECONFIG, "", "", "the file must hold a JSON object");
    }
    *out = j;
    return 0;
}

int node_json_check_keys(const json_t *obj, const char *const *allowed, const char *prefix,
                         node_json_err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[512] = "";
            size_t n = 0;
            for (size_t i = 0; allowed[i]; i++) {
                int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
                if (w < 0 || (size_t)w >= sizeof list - n)
                    break;
                n += (size_t)w;
            }
            return node__bad(e, NODE_ECONFIG, prefix, key, "unknown key (expected one of: %s)",
                             list);
        }
    }
    return 0;
}

int node_json_get_string(const json_t *obj, const char *prefix, const char *name,
                         bool required, const char **out, node_json_err *e)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v)
        return required ? node__bad(e, NODE_ECONFIG, prefix, name, "missing") : 0;
    if (!json_is_string(v))
        return node__bad(e, NODE_ECONFIG, prefix, name, "must be a string");
    *out = json_string_value(v);
    return 0;
}

int node_json_get_uint(const json_t *obj, const char *prefix, const char *name, bool required,
                       uint64_t min, uint64_t max, uint64_t *out, node_json_err *e)
{
    const json_t *v = json_object_get(obj, name);

    if (!v)
        return required ? node__bad(e, NODE_ECONFIG, prefix, name, "missing") : 0;
    if (!json_is_integer(v))
        return node__bad(e, NODE_ECONFIG, prefix, name, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
        return node__bad(e, NODE_ECONFIG, prefix, name, "must be between %llu and %llu, got %lld",
                         (unsigned long long)min, (unsigned long long)max, (long long)x);
    *out = (uint64_t)x;
    return 0;
}

int node__get_array(const json_t *obj, const char *name, bool required, size_t min, size_t max,
                    const json_t **out, node_json_err *e)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v)
        return required ? node__bad(e, NODE_ECONFIG, "", name, "missing") : 0;
    if (!json_is_array(v))
        return node__bad(e, NODE_ECONFIG, "", name, "must be an array");
    size_t n = json_array_size(v);
    if (n < min || n > max)
        return node__bad(e, NODE_ECONFIG, "", name, "must have %zu to %zu entries, got %zu", min,
                         max, n);
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

int node__get_hex(const json_t *obj, const char *prefix, const char *name, const char *alg,
                  size_t want, uint8_t *out, node_json_err *e)
{
    const char *s;
    size_t len;
    int rc = node_json_get_string(obj, prefix, name, true, &s, e);

    if (rc)
        return rc;
    len = strlen(s);
    if (len % 2 || !is_hex(s, len))
        return node__bad(e, NODE_ECONFIG, prefix, name, "must be a hex string");
    if (len / 2 != want)
        return node__bad(e, NODE_ECONFIG, prefix, name, "%s %s is %zu bytes, got %zu", alg,
                         strcmp(name, "secret") ? "public key" : "secret key", want, len / 2);
    if (node_unhex(s, out, want, &len) || len != want)
        return node__bad(e, NODE_ECONFIG, prefix, name, "must be a hex string");
    return 0;
}

const char *node__alg_names(int kind, char *buf, size_t cap)
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

int node__get_sig_alg(const json_t *obj, const char *prefix, const char *name,
                      const ldg_sig_impl **out, node_json_err *e)
{
    const char *s;
    char names[256];
    int rc = node_json_get_string(obj, prefix, name, true, &s, e);

    if (rc)
        return rc;
    if (!(*out = ldg_sig_by_name(s)))
        return node__bad(e, NODE_ECONFIG, prefix, name,
                         "unknown signature algorithm \"%s\" (known: %s)", s,
                         node__alg_names(1, names, sizeof names));
    return 0;
}

int node__get_pubkey(const json_t *obj, const char *prefix, ldg_pubkey *k, node_json_err *e)
{
    const ldg_sig_impl *impl;
    int rc;

    if ((rc = node__get_sig_alg(obj, prefix, "alg", &impl, e)))
        return rc;
    if (impl->pub_len > LDG_PUBKEY_MAX)
        return node__bad(e, NODE_ECONFIG, prefix, "alg", "%s keys do not fit LDG_PUBKEY_MAX",
                         impl->name);
    if ((rc = node__get_hex(obj, prefix, "key", impl->name, impl->pub_len, k->key, e)))
        return rc;
    k->alg = impl->id;
    k->len = impl->pub_len;
    return 0;
}

bool node_identity_alg_ok(uint32_t alg)
{
    return ldg_tls_identity_alg(alg);
}

int node__get_identity(const json_t *obj, const char *prefix, const char *name, ldg_pubkey *k,
                       node_json_err *e)
{
    static const char *const keys[] = {"alg", "key", NULL};
    const json_t *o = json_object_get(obj, name);
    char p[64];
    int rc;

    if (!o)
        return node__bad(e, NODE_ECONFIG, prefix, name, "missing");
    if (!json_is_object(o))
        return node__bad(e, NODE_ECONFIG, prefix, name,
                         "must be an object {\"alg\": ..., \"key\": ...}");
    snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", name);
    if ((rc = node_json_check_keys(o, keys, p, e)) || (rc = node__get_pubkey(o, p, k, e)))
        return rc;
    if (!node_identity_alg_ok(k->alg)) {
        const char *alg = ldg_sig_by_id(k->alg)->name;
        memset(k, 0, sizeof *k);
        return node__bad(e, NODE_ECONFIG, p, "alg",
                         "%s cannot be a node identity key (TLS 1.3 needs ed25519 or "
                         "p256-ecdsa)",
                         alg);
    }
    return 0;
}

bool node__str_fits(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

void node__put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v))
        *ok = false;
}

json_t *node__key_json(const ldg_pubkey *k, int *rc)
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
        node__put(o, "alg", json_string(impl->name), &ok);
        node__put(o, "key", json_string(hex), &ok);
    }
    if (!ok) {
        json_decref(o);
        *rc = LDG_ENOMEM;
        return NULL;
    }
    return o;
}

int node__write_json(const char *path, const json_t *root, int mode)
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

int node__get_path(const json_t *root, const char *name, bool empty_ok, char *out, size_t cap,
                    node_json_err *e)
{
    const char *s;
    int rc = node_json_get_string(root, "", name, false, &s, e);

    if (rc || !s)
        return rc;
    if (!*s && !empty_ok)
        return node__bad(e, NODE_ECONFIG, "", name, "must not be empty");
    if (strlen(s) >= cap)
        return node__bad(e, NODE_ECONFIG, "", name, "longer than %zu bytes", cap - 1);
    strcpy(out, s);
    return 0;
}

int node__get_u32(const json_t *root, const char *name, uint32_t min, uint32_t max,
                   uint32_t *out, node_json_err *e)
{
    uint64_t v = *out;
    int rc = node_json_get_uint(root, "", name, false, min, max, &v, e);
    *out = (uint32_t)v;
    return rc;
}
