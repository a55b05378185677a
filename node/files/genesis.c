/*
 * The genesis file: JSON through jansson (the format is in node/files/files.h).
 *
 * Strict like every file loader here (files_internal.h): unknown and duplicate keys are refused at
 * every level, every field is range-checked, and err names the field.
 *
 * Errors of node_genesis_load: LDG_EINVALID for bad arguments, LDG_EIO when the file cannot be
 * read, LDG_ETOOBIG when it is over NODE_FILE_MAX bytes (checked before parsing), LDG_ENOMEM,
 * and NODE_ECONFIG for any problem with the content. On error the output struct is zeroed.
 *
 * node_genesis_save runs the loader's own validation over what it is about to write and
 * refuses (LDG_EINVALID, or LDG_EUNKNOWN_ALG for an id the registry does not know) anything
 * that would not load back, so save-then-load always gives back the same struct. Other
 * errors: LDG_ENOMEM, LDG_EIO.
 *
 * Integers are JSON integers (jansson's json_int_t, 64-bit signed), so uint64 fields are
 * capped at INT64_MAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/files/files_internal.h"

/* Total validator power stays a safe integer for every JSON consumer (2^53 - 1), and far
 * below the point where the consensus 2/3 arithmetic (power * 3) could overflow a uint64. */
#define POWER_TOTAL_MAX ((uint64_t)9007199254740991)

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

static int genesis_algorithms(const json_t *root, ldg_genesis *g, node_json_err *e)
{
    static const char *const keys[] = {"name", "status", "from_height", NULL};
    const json_t *arr;
    char p[48], names[256];
    int rc;

    if ((rc = node__get_array(root, "algorithms", false, 0, LDG_MAX_ALG_RULES, &arr, e)) || !arr)
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        ldg_alg_rule *r = &g->alg_rules[i];
        const char *name, *status;
        const ldg_hash_impl *h;
        const ldg_sig_impl *s;

        snprintf(p, sizeof p, "algorithms[%zu]", i);
        if (!json_is_object(o))
            return node__bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = node_json_check_keys(o, keys, p, e)) ||
            (rc = node_json_get_string(o, p, "name", true, &name, e)) ||
            (rc = node_json_get_string(o, p, "status", true, &status, e)))
            return rc;
        if ((h = ldg_hash_by_name(name))) {
            r->kind = 0;
            r->id = h->id;
        } else if ((s = ldg_sig_by_name(name))) {
            r->kind = 1;
            r->id = s->id;
        } else {
            char hn[128];
            return node__bad(
                e, NODE_ECONFIG, p, "name", "unknown algorithm \"%s\" (known: %s, %s)", name,
                node__alg_names(0, hn, sizeof hn), node__alg_names(1, names, sizeof names));
        }
        size_t k = 0;
        while (k < 3 && strcmp(status, alg_status_names[k]))
            k++;
        if (k == 3)
            return node__bad(e, NODE_ECONFIG, p, "status",
                             "must be \"allowed\", \"deprecated\" or \"disabled\", got \"%s\"",
                             status);
        r->status = (ldg_alg_status)k;
        if (json_object_get(o, "from_height") && r->status != LDG_ALG_DEPRECATED)
            return node__bad(e, NODE_ECONFIG, p, "from_height", "only applies to \"deprecated\"");
        if ((rc = node_json_get_uint(o, p, "from_height", false, 0, INT64_MAX, &r->from_height, e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (g->alg_rules[j].kind == r->kind && g->alg_rules[j].id == r->id)
                return node__bad(e, NODE_ECONFIG, p, "name", "\"%s\" already has a rule", name);
        /* The chain hash names every block and transaction for the chain's whole life. */
        if (r->kind == 0 && r->id == g->hash_alg && r->status != LDG_ALG_ALLOWED)
            return node__bad(e, NODE_ECONFIG, p, "status",
                             "\"%s\" is the chain hash (\"hash\") and cannot be %s", name,
                             status);
        g->n_alg_rules = i + 1;
    }
    return 0;
}

/* A genesis key must be usable: its algorithm may not be disabled on this chain. */
static int key_allowed(const ldg_genesis *g, const ldg_pubkey *k, const char *p, node_json_err *e)
{
    if (rule_status(g, 1, k->alg) == LDG_ALG_DISABLED)
        return node__bad(e, NODE_ECONFIG, p, "alg", "%s is disabled in \"algorithms\"",
                         ldg_sig_by_id(k->alg)->name);
    return 0;
}

/*
 * validators[i].identity, the node identity key p2p authenticates the validator's connections
 * with. All validators have one or none do (a single-node chain needs none): a validator
 * without one could never be reached, while its power counted toward every quorum. An
 * identity is nobody else's and no validator's voting key: one key, one purpose.
 */
static int validator_identity(const json_t *o, ldg_genesis *g, size_t i, const char *p,
                              node_json_err *e)
{
    char ip[64];
    ldg_pubkey *id = &g->validator_ids[i];
    int rc;

    snprintf(ip, sizeof ip, "%s.identity", p);
    if (!json_object_get(o, "identity")) {
        if (i > 0 && g->validator_ids[0].alg)
            return node__bad(e, NODE_ECONFIG, p, "identity",
                             "missing (validators[0] has one: all validators need one or none "
                             "may have one)");
        return 0;
    }
    if (i > 0 && !g->validator_ids[0].alg)
        return node__bad(e, NODE_ECONFIG, p, "identity",
                         "validators[0] has none: all validators need one or none may have one");
    if ((rc = node__get_identity(o, p, "identity", id, e)) || (rc = key_allowed(g, id, ip, e)))
        return rc;
    for (size_t j = 0; j <= i; j++) {
        if (j < i && ldg_pubkey_eq(&g->validator_ids[j], id))
            return node__bad(e, NODE_ECONFIG, ip, "key", "same identity as validators[%zu]", j);
        if (ldg_pubkey_eq(&g->validators[j], id))
            return node__bad(e, NODE_ECONFIG, ip, "key",
                             "the voting key of validators[%zu]: use a separate identity key", j);
        if (j < i && ldg_pubkey_eq(&g->validators[i], &g->validator_ids[j]))
            return node__bad(e, NODE_ECONFIG, p, "key",
                             "the identity key of validators[%zu]: use a separate voting key", j);
    }
    return 0;
}

static int genesis_from_json(const json_t *root, ldg_genesis *g, node_json_err *e)
{
    static const char *const top[] = {"chain_id",        "hash",       "genesis_time_ms",
                                      "admin_threshold", "admins",     "validators",
                                      "authors",         "algorithms", NULL};
    static const char *const admin_keys[] = {"alg", "key", NULL};
    static const char *const validator_keys[] = {"alg", "key", "power", "identity", NULL};
    static const char *const author_keys[] = {"product", "name", "alg", "key", NULL};
    const json_t *arr;
    const char *s;
    char p[48], names[256];
    uint64_t u;
    int rc;

    memset(g, 0, sizeof *g);
    if ((rc = node_json_check_keys(root, top, "", e)))
        return rc;

    if ((rc = node_json_get_string(root, "", "chain_id", true, &s, e)))
        return rc;
    size_t n = strlen(s);
    if (n < 1 || n > sizeof g->chain_id - 1)
        return node__bad(e, NODE_ECONFIG, "", "chain_id", "must be 1 to %zu characters, got %zu",
                         sizeof g->chain_id - 1, n);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return node__bad(e, NODE_ECONFIG, "", "chain_id", "may only use A-Z a-z 0-9 . _ -");
    memcpy(g->chain_id, s, n + 1);

    if ((rc = node_json_get_string(root, "", "hash", false, &s, e)))
        return rc;
    if (!s)
        s = "sha256";
    const ldg_hash_impl *h = ldg_hash_by_name(s);
    if (!h)
        return node__bad(e, NODE_ECONFIG, "", "hash", "unknown hash algorithm \"%s\" (known: %s)",
                         s, node__alg_names(0, names, sizeof names));
    g->hash_alg = h->id;

    if ((rc = node_json_get_uint(root, "", "genesis_time_ms", false, 0, INT64_MAX,
                             &g->genesis_time_ms, e)))
        return rc;

    /* Before the keys: a key's algorithm must not be disabled by these rules. */
    if ((rc = genesis_algorithms(root, g, e)))
        return rc;

    if ((rc = node__get_array(root, "admins", true, 1, LDG_MAX_ADMINS, &arr, e)))
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "admins[%zu]", i);
        if (!json_is_object(o))
            return node__bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = node_json_check_keys(o, admin_keys, p, e)) ||
            (rc = node__get_pubkey(o, p, &g->admins[i], e)) ||
            (rc = key_allowed(g, &g->admins[i], p, e)))
            return rc;
        /* A repeated admin would count twice toward the threshold. */
        for (size_t j = 0; j < i; j++)
            if (ldg_pubkey_eq(&g->admins[j], &g->admins[i]))
                return node__bad(e, NODE_ECONFIG, p, "key", "same key as admins[%zu]", j);
        g->n_admins = i + 1;
    }

    if ((rc = node_json_get_uint(root, "", "admin_threshold", true, 1, g->n_admins, &u, e)))
        return rc;
    g->admin_threshold = (uint32_t)u;

    if ((rc = node__get_array(root, "validators", true, 1, LDG_MAX_VALIDATORS, &arr, e)))
        return rc;
    uint64_t total = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "validators[%zu]", i);
        if (!json_is_object(o))
            return node__bad(e, NODE_ECONFIG, p, "", "must be an object");
        g->validator_power[i] = 1;
        if ((rc = node_json_check_keys(o, validator_keys, p, e)) ||
            (rc = node__get_pubkey(o, p, &g->validators[i], e)) ||
            (rc = key_allowed(g, &g->validators[i], p, e)) ||
            (rc = node_json_get_uint(o, p, "power", false, 1, POWER_TOTAL_MAX, &g->validator_power[i],
                                 e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (ldg_pubkey_eq(&g->validators[j], &g->validators[i]))
                return node__bad(e, NODE_ECONFIG, p, "key", "same key as validators[%zu]", j);
        if ((rc = validator_identity(o, g, i, p, e)))
            return rc;
        total += g->validator_power[i]; /* each <= 2^53, at most 32: no overflow */
        if (total > POWER_TOTAL_MAX)
            return node__bad(e, NODE_ECONFIG, p, "power", "total validator power exceeds %llu",
                             (unsigned long long)POWER_TOTAL_MAX);
        g->n_validators = i + 1;
    }

    if ((rc = node__get_array(root, "authors", false, 0, LDG_MAX_GENESIS_AUTHORS, &arr, e)) ||
        !arr)
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        ldg_genesis_author *a = &g->authors[i];
        snprintf(p, sizeof p, "authors[%zu]", i);
        if (!json_is_object(o))
            return node__bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = node_json_check_keys(o, author_keys, p, e)) ||
            (rc = node_json_get_string(o, p, "product", true, &s, e)))
            return rc;
        if (!ident_ok(s, sizeof a->product - 1))
            return node__bad(e, NODE_ECONFIG, p, "product",
                             "must be 1 to %zu characters of A-Z a-z 0-9 . _ + / -",
                             sizeof a->product - 1);
        strcpy(a->product, s);
        if ((rc = node_json_get_string(o, p, "name", true, &s, e)))
            return rc;
        if (!text_ok(s, sizeof a->name - 1))
            return node__bad(e, NODE_ECONFIG, p, "name",
                             "must be 1 to %zu bytes of text without control characters",
                             sizeof a->name - 1);
        strcpy(a->name, s);
        if ((rc = node__get_pubkey(o, p, &a->key, e)) || (rc = key_allowed(g, &a->key, p, e)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->authors[j].product, a->product) &&
                ldg_pubkey_eq(&g->authors[j].key, &a->key))
                return node__bad(e, NODE_ECONFIG, p, "key",
                                 "same product and key as authors[%zu]", j);
        g->n_authors = i + 1;
    }
    return 0;
}

int node_genesis_load(const char *path, ldg_genesis *g, char *err, size_t errlen)
{
    node_json_err e;
    json_t *root;
    int rc;

    node_json_err_init(&e, err, errlen);
    if (!g)
        return LDG_EINVALID;
    memset(g, 0, sizeof *g);
    if (!path)
        return LDG_EINVALID;
    if ((rc = node__load_object(path, false, &root, NULL, &e)))
        return rc;
    rc = genesis_from_json(root, g, &e);
    json_decref(root);
    if (rc)
        memset(g, 0, sizeof *g);
    return rc;
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
    if (!node__str_fits(g->chain_id, sizeof g->chain_id) || g->n_admins > LDG_MAX_ADMINS ||
        g->n_validators > LDG_MAX_VALIDATORS || g->n_authors > LDG_MAX_GENESIS_AUTHORS ||
        g->n_alg_rules > LDG_MAX_ALG_RULES || g->genesis_time_ms > INT64_MAX)
        return LDG_EINVALID;
    if (!(root = json_object()))
        return LDG_ENOMEM;
    ok = true;
    /* json_string is NULL for invalid UTF-8: reported as LDG_EINVALID below, not ENOMEM. */
    node__put(root, "chain_id", json_string(g->chain_id), &ok);
    node__put(root, "hash", json_string(h->name), &ok);
    node__put(root, "genesis_time_ms", json_integer((json_int_t)g->genesis_time_ms), &ok);
    node__put(root, "admin_threshold", json_integer(g->admin_threshold), &ok);

    node__put(root, "admins", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_admins; i++) {
        if (!(o = node__key_json(&g->admins[i], &rc)))
            goto fail;
        ok = !json_array_append_new(arr, o);
    }

    node__put(root, "validators", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_validators; i++) {
        if (g->validator_power[i] > INT64_MAX) {
            rc = LDG_EINVALID;
            goto fail;
        }
        if (!(o = node__key_json(&g->validators[i], &rc)))
            goto fail;
        node__put(o, "power", json_integer((json_int_t)g->validator_power[i]), &ok);
        ok = !json_array_append_new(arr, o) && ok;
        const ldg_pubkey *id = &g->validator_ids[i];
        if (id->alg == 0 && id->len != 0) {
            rc = LDG_EINVALID; /* "none" with a length: would come back without it */
            goto fail;
        }
        if (id->alg) {
            json_t *k = node__key_json(id, &rc);
            if (!k)
                goto fail;
            node__put(o, "identity", k, &ok);
        }
    }

    node__put(root, "authors", arr = json_array(), &ok);
    for (size_t i = 0; ok && i < g->n_authors; i++) {
        const ldg_genesis_author *a = &g->authors[i];
        if (!node__str_fits(a->product, sizeof a->product) ||
            !node__str_fits(a->name, sizeof a->name)) {
            rc = LDG_EINVALID;
            goto fail;
        }
        json_t *k = node__key_json(&a->key, &rc);
        if (!k || !(o = json_object())) {
            json_decref(k);
            goto fail;
        }
        node__put(o, "product", json_string(a->product), &ok);
        node__put(o, "name", json_string(a->name), &ok);
        node__put(o, "alg", json_incref(json_object_get(k, "alg")), &ok);
        node__put(o, "key", json_incref(json_object_get(k, "key")), &ok);
        json_decref(k);
        ok = !json_array_append_new(arr, o) && ok;
    }

    node__put(root, "algorithms", arr = json_array(), &ok);
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
        node__put(o, "name", json_string(name), &ok);
        node__put(o, "status", json_string(alg_status_names[r->status]), &ok);
        /* Written whenever set, so that a stray value is refused by the check below rather
         * than silently dropped. */
        if (r->status == LDG_ALG_DEPRECATED || r->from_height)
            node__put(o, "from_height", json_integer((json_int_t)r->from_height), &ok);
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
int node_genesis_save(const char *path, const ldg_genesis *g)
{
    json_t *root;
    node_json_err e;
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
    node_json_err_init(&e, NULL, 0);
    rc = genesis_from_json(root, check, &e) ? LDG_EINVALID : 0;
    free(check);
    if (!rc)
        rc = node__write_json(path, root, 0644);
    json_decref(root);
    return rc;
}