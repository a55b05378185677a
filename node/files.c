/*
 * Key files and the node config: JSON through jansson (the formats are in node.h).
 *
 * Strict like every file loader here (json_util.h): unknown and duplicate keys are refused at
 * every level, every field is range-checked, and err names the field.
 *
 * Errors of the two loaders: LDG_EINVALID for bad arguments, LDG_EIO when the file cannot be
 * read, LDG_ETOOBIG when it is over NODE_FILE_MAX bytes (checked before parsing), LDG_ENOMEM,
 * and NODE_ECONFIG for any problem with the content. On error the output struct is zeroed.
 *
 * The savers run the loaders' own validation over what they are about to write and refuse
 * (LDG_EINVALID, or LDG_EUNKNOWN_ALG for an id the registry does not know) anything that would
 * not load back, so save-then-load always gives back the same struct (paths in a config:
 * see node_config_load). Other errors: LDG_ENOMEM, LDG_EIO.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "node/json_util.h"

/* Config limits: generous, but each bounds memory or work somewhere. */
#define BLOCK_INTERVAL_MAX 3600000u /* one hour */
#define MEMPOOL_MAX_MAX 1000000u    /* transactions are up to ~10 KiB each */
#define CLIENTS_MAX_MAX 65536u

/* Key generation retries on LDG_EBADKEY (a seed outside the curve order: ~2^-128 per try);
 * the bound only stops a broken keypair() from spinning forever. */
#define KEYGEN_TRIES 8

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

static int key_from_json(const json_t *root, node_key *k, node__errbuf *e)
{
    static const char *const keys[] = {"alg", "secret", "public", NULL};
    const ldg_sig_impl *impl;
    uint8_t derived[LDG_PUBKEY_MAX];
    int rc;

    memset(k, 0, sizeof *k);
    if ((rc = node__check_keys(root, keys, "", e)) ||
        (rc = node__get_sig_alg(root, "", "alg", &impl, e)))
        return rc;
    if (impl->sec_len > LDG_SECKEY_MAX || impl->pub_len > LDG_PUBKEY_MAX)
        return node__bad(e, NODE_ECONFIG, "", "alg", "%s keys do not fit node_key", impl->name);
    if ((rc = node__get_hex(root, "", "secret", impl->name, impl->sec_len, k->sec, e)) ||
        (rc = node__get_hex(root, "", "public", impl->name, impl->pub_len, k->pub.key, e)))
        return rc;
    k->alg = k->pub.alg = impl->id;
    k->pub.len = impl->pub_len;

    /* The public key is stored for people and tools to read; it must be the secret's. */
    if (impl->pubkey(k->sec, derived))
        return node__bad(e, NODE_ECONFIG, "", "secret", "not a valid %s secret key", impl->name);
    if (memcmp(derived, k->pub.key, impl->pub_len))
        return node__bad(e, NODE_ECONFIG, "", "public", "does not match the secret key");
    return 0;
}

int node_key_load(const char *path, node_key *k, char *err, size_t errlen)
{
    node__errbuf e;
    json_t *root;
    int rc;

    node__errbuf_init(&e, err, errlen);
    if (!k)
        return LDG_EINVALID;
    memset(k, 0, sizeof *k);
    if (!path)
        return LDG_EINVALID;
    if ((rc = node__load_object(path, true, &root, &e)))
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
    node__errbuf e;
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
    node__put(root, "alg", json_string(impl->name), &ok);
    node__put(root, "secret", json_string(sec_hex), &ok);
    node__put(root, "public", json_string(pub_hex), &ok);
    OPENSSL_cleanse(sec_hex, sizeof sec_hex);

    rc = ok ? 0 : LDG_ENOMEM;
    if (!rc) {
        /* Refuse a key that would not load back (e.g. public not derived from secret). */
        node__errbuf_init(&e, NULL, 0);
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
static int parse_listen(const char *s, node_config *c, node__errbuf *e)
{
    const char *colon = strrchr(s, ':'), *host = s;
    size_t hlen;

    if (!colon)
        return node__bad(e, NODE_ECONFIG, "", "rpc_listen", "must be \"host:port\", got \"%s\"",
                         s);
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    } else if (memchr(s, ':', hlen)) {
        return node__bad(e, NODE_ECONFIG, "", "rpc_listen",
                         "an IPv6 host must be in brackets, as in \"[::1]:7400\"");
    }
    if (!hlen || hlen >= sizeof c->rpc_host)
        return node__bad(e, NODE_ECONFIG, "", "rpc_listen", "host must be 1 to %zu characters",
                         sizeof c->rpc_host - 1);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '[' || host[i] == ']' ||
            (unsigned char)host[i] == 0x7f)
            return node__bad(e, NODE_ECONFIG, "", "rpc_listen", "invalid character in host");

    const char *port = colon + 1;
    size_t plen = strlen(port);
    long v = 0;
    if (plen < 1 || plen > 5 || strspn(port, "0123456789") != plen ||
        (v = strtol(port, NULL, 10)) < 1 || v > 65535)
        return node__bad(e, NODE_ECONFIG, "", "rpc_listen", "port must be 1 to 65535, got \"%s\"",
                         port);
    memcpy(c->rpc_host, host, hlen);
    c->rpc_host[hlen] = '\0';
    c->rpc_port = (int)v;
    return 0;
}

static int get_path(const json_t *root, const char *name, char *out, size_t cap, node__errbuf *e)
{
    const char *s;
    int rc = node__get_string(root, "", name, false, &s, e);

    if (rc || !s)
        return rc;
    if (!*s)
        return node__bad(e, NODE_ECONFIG, "", name, "must not be empty");
    if (strlen(s) >= cap)
        return node__bad(e, NODE_ECONFIG, "", name, "longer than %zu bytes", cap - 1);
    strcpy(out, s);
    return 0;
}

static int get_u32(const json_t *root, const char *name, uint32_t min, uint32_t max,
                   uint32_t *out, node__errbuf *e)
{
    uint64_t v = *out;
    int rc = node__get_uint(root, "", name, false, min, max, &v, e);
    *out = (uint32_t)v;
    return rc;
}

/* c holds the defaults; present members override them. Paths are not resolved here. */
static int config_from_json(const json_t *root, node_config *c, node__errbuf *e)
{
    static const char *const keys[] = {
        "data_dir",      "genesis",           "rpc_listen",
        "validator_key", "block_interval_ms", "max_block_txs",
        "mempool_max",   "max_clients",       NULL,
    };
    const char *s;
    int rc;

    if ((rc = node__check_keys(root, keys, "", e)) ||
        (rc = get_path(root, "data_dir", c->data_dir, sizeof c->data_dir, e)) ||
        (rc = get_path(root, "genesis", c->genesis, sizeof c->genesis, e)) ||
        (rc = get_path(root, "validator_key", c->validator_key, sizeof c->validator_key, e)) ||
        (rc = node__get_string(root, "", "rpc_listen", false, &s, e)) ||
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
static int resolve(const char *dir, char *path, size_t cap, const char *name, node__errbuf *e)
{
    char tmp[4096];

    if (!*dir || path[0] == '/')
        return 0;
    size_t dl = strlen(dir);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", path) >=
            sizeof tmp ||
        strlen(tmp) >= cap)
        return node__bad(
            e, NODE_ECONFIG, "", name,
            "longer than %zu bytes once resolved against the config file's directory", cap - 1);
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
    node__errbuf e;
    json_t *root;
    int rc;

    node__errbuf_init(&e, err, errlen);
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

    if ((rc = node__load_object(path, false, &root, &e)) == 0) {
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
    if (!node__str_fits(c->data_dir, sizeof c->data_dir) ||
        !node__str_fits(c->genesis, sizeof c->genesis) ||
        !node__str_fits(c->validator_key, sizeof c->validator_key) ||
        !node__str_fits(c->rpc_host, sizeof c->rpc_host))
        return LDG_EINVALID;
    if (strchr(c->rpc_host, ':'))
        snprintf(listen, sizeof listen, "[%s]:%d", c->rpc_host, c->rpc_port);
    else
        snprintf(listen, sizeof listen, "%s:%d", c->rpc_host, c->rpc_port);
    if (!(root = json_object()))
        return LDG_ENOMEM;
    node__put(root, "data_dir", json_string(c->data_dir), &ok);
    node__put(root, "genesis", json_string(c->genesis), &ok);
    node__put(root, "rpc_listen", json_string(listen), &ok);
    node__put(root, "validator_key", json_string(c->validator_key), &ok);
    node__put(root, "block_interval_ms", json_integer(c->block_interval_ms), &ok);
    node__put(root, "max_block_txs", json_integer(c->max_block_txs), &ok);
    node__put(root, "mempool_max", json_integer(c->mempool_max), &ok);
    node__put(root, "max_clients", json_integer(c->max_clients), &ok);

    rc = ok ? 0 : LDG_EINVALID; /* invalid UTF-8 in a path, or out of memory */
    if (!rc) {
        node_config check;
        node__errbuf e;
        node_config_defaults(&check);
        node__errbuf_init(&e, NULL, 0);
        if (config_from_json(root, &check, &e) || strcmp(check.rpc_host, c->rpc_host) ||
            check.rpc_port != c->rpc_port)
            rc = LDG_EINVALID;
    }
    if (!rc)
        rc = node__write_json(path, root, 0644);
    json_decref(root);
    return rc;
}
