/*
 * Key files and the node config: JSON through jansson (the formats are in node/files/files.h).
 *
 * Strict like every file loader here (files_internal.h): unknown and duplicate keys are refused at
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
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "node/files/files_internal.h"

/* Config limits: generous, but each bounds memory or work somewhere. */
#define BLOCK_INTERVAL_MAX 3600000u /* one hour */
#define EMPTY_BLOCK_INTERVAL_MAX 86400000u /* a day */
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

static int key_from_json(const json_t *root, node_key *k, node_json_err *e)
{
    static const char *const keys[] = {"alg", "secret", "public", NULL};
    const ldg_sig_impl *impl;
    uint8_t derived[LDG_PUBKEY_MAX];
    int rc;

    memset(k, 0, sizeof *k);
    if ((rc = node_json_check_keys(root, keys, "", e)) ||
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
    node_json_err e;
    json_t *root;
    int rc;

    node_json_err_init(&e, err, errlen);
    if (!k)
        return LDG_EINVALID;
    memset(k, 0, sizeof *k);
    if (!path)
        return LDG_EINVALID;
    if ((rc = node__load_object(path, true, &root, NULL, &e)))
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
    node_json_err e;
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
        node_json_err_init(&e, NULL, 0);
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

/*
 * "host:port" or "[v6-host]:port", port 1..65535, into host (cap bytes) and *port; field
 * names the member in messages. numeric: the host must be a numeric address, IPv4 bare and
 * IPv6 in brackets (p2p never resolves names: that would block the loop thread).
 */
static int parse_addr(const char *s, const char *prefix, const char *field, bool numeric,
                      char *out, size_t cap, int *port_out, node_json_err *e)
{
    const char *colon = strrchr(s, ':'), *host = s;
    bool bracketed = false;
    size_t hlen;

    if (!colon)
        return node__bad(e, NODE_ECONFIG, prefix, field, "must be \"host:port\", got \"%s\"", s);
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        host++;
        hlen -= 2;
        bracketed = true;
    } else if (memchr(s, ':', hlen)) {
        return node__bad(e, NODE_ECONFIG, prefix, field,
                         "an IPv6 host must be in brackets, as in \"[::1]:7400\"");
    }
    if (!hlen || hlen >= cap)
        return node__bad(e, NODE_ECONFIG, prefix, field, "host must be 1 to %zu characters",
                         cap - 1);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '[' || host[i] == ']' ||
            (unsigned char)host[i] == 0x7f)
            return node__bad(e, NODE_ECONFIG, prefix, field, "invalid character in host");

    const char *port = colon + 1;
    size_t plen = strlen(port);
    long v = 0;
    if (plen < 1 || plen > 5 || strspn(port, "0123456789") != plen ||
        (v = strtol(port, NULL, 10)) < 1 || v > 65535)
        return node__bad(e, NODE_ECONFIG, prefix, field, "port must be 1 to 65535, got \"%s\"",
                         port);
    char h[256];
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    uint8_t bin[16];
    if (numeric && inet_pton(bracketed ? AF_INET6 : AF_INET, h, bin) != 1)
        return node__bad(e, NODE_ECONFIG, prefix, field,
                         "host must be a numeric IPv4 address or an IPv6 address in brackets "
                         "(names are not resolved), got \"%s\"",
                         h);
    memcpy(out, h, hlen + 1);
    *port_out = (int)v;
    return 0;
}

/* "host:port", with brackets around an IPv6 host. */
static void format_addr(const char *host, int port, char *out, size_t cap)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* The binary form of a numeric host, so that "::1" and "0::1" compare equal. */
static bool same_addr(const node_peer *a, const node_peer *b)
{
    uint8_t x[16] = {0}, y[16] = {0};
    int fa = strchr(a->host, ':') ? AF_INET6 : AF_INET,
        fb = strchr(b->host, ':') ? AF_INET6 : AF_INET;
    return a->port == b->port && fa == fb && inet_pton(fa, a->host, x) == 1 &&
           inet_pton(fb, b->host, y) == 1 && !memcmp(x, y, sizeof x);
}

static bool unspecified_addr(const char *host)
{
    uint8_t bin[16] = {0}, zero[16] = {0};
    return inet_pton(strchr(host, ':') ? AF_INET6 : AF_INET, host, bin) == 1 &&
           !memcmp(bin, zero, sizeof bin);
}

/* A path member; "" is refused unless empty_ok. */
/* A peer's name: what logs and status call it, so a plain word. */
static bool peer_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n >= NODE_PEER_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

static int config_peers(const json_t *root, node_config *c, node_json_err *e)
{
    static const char *const keys[] = {"address", "identity", "name", NULL};
    const json_t *arr;
    const char *s;
    char p[32];
    int rc;

    if ((rc = node__get_array(root, "peers", false, 0, NODE_MAX_PEERS, &arr, e)) || !arr)
        return rc;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        node_peer *peer = &c->peers[i];
        snprintf(p, sizeof p, "peers[%zu]", i);
        if (!json_is_object(o))
            return node__bad(e, NODE_ECONFIG, p, "", "must be an object");
        if ((rc = node_json_check_keys(o, keys, p, e)) ||
            (rc = node_json_get_string(o, p, "address", true, &s, e)) ||
            (rc = parse_addr(s, p, "address", true, peer->host, sizeof peer->host, &peer->port,
                             e)))
            return rc;
        if (unspecified_addr(peer->host))
            return node__bad(e, NODE_ECONFIG, p, "address", "%s is not an address to connect to",
                             peer->host);
        if ((rc = node__get_identity(o, p, "identity", &peer->identity, e)) ||
            (rc = node_json_get_string(o, p, "name", false, &s, e)))
            return rc;
        if (s && !peer_name_ok(s))
            return node__bad(e, NODE_ECONFIG, p, "name",
                             "must be 1 to %d of A-Z a-z 0-9 . _ -", NODE_PEER_NAME_MAX - 1);
        if (s)
            strcpy(peer->name, s);
        /* One identity, one peer: the transport tells peers apart by their keys. */
        for (size_t j = 0; j < i; j++) {
            if (ldg_pubkey_eq(&c->peers[j].identity, &peer->identity))
                return node__bad(e, NODE_ECONFIG, p, "identity", "same identity as peers[%zu]",
                                 j);
            if (same_addr(&c->peers[j], peer))
                return node__bad(e, NODE_ECONFIG, p, "address", "same address as peers[%zu]", j);
            if (peer->name[0] && !strcmp(c->peers[j].name, peer->name))
                return node__bad(e, NODE_ECONFIG, p, "name", "same name as peers[%zu]", j);
        }
        c->n_peers = i + 1;
    }
    return 0;
}

/* The audit log's members: where, when to rotate, how many rotated files to keep. */
static int config_audit(const json_t *root, node_config *c, node_json_err *e)
{
    int rc = node__get_path(root, "audit_log", false, c->audit_log, NODE_AUDIT_PATH_MAX, e);
    if (!rc)
        rc = node_json_get_uint(root, "", "audit_log_max_bytes", false,
                                NODE_AUDIT_MAX_BYTES_MIN, NODE_AUDIT_MAX_BYTES_MAX,
                                &c->audit_log_max_bytes, e);
    if (!rc)
        rc = node__get_u32(root, "audit_log_keep", 1, NODE_AUDIT_KEEP_MAX, &c->audit_log_keep, e);
    return rc;
}

/* c holds the defaults; present members override them. Paths are not resolved here. */
static int config_from_json(const json_t *root, node_config *c, node_json_err *e)
{
    static const char *const keys[] = {
        "data_dir",
        "genesis",
        "rpc_listen",
        "validator_key",
        "block_interval_ms",
        "empty_block_interval_ms",
        "max_block_txs",
        "mempool_max",
        "max_clients",
        "identity_key",
        "p2p_listen",
        "peers",
        "timeout_propose_ms",
        "timeout_propose_delta_ms",
        "timeout_prevote_ms",
        "timeout_prevote_delta_ms",
        "timeout_precommit_ms",
        "timeout_precommit_delta_ms",
        "sync_batch_blocks",
        "eligibility_cache",
        "block_time_drift_ms",
        "map_size_mib",
        "peer_timeout_ms",
        NODE_CONFIG_RPC_KEYS,
        "audit_log",
        "audit_log_max_bytes",
        "audit_log_keep",
        NULL,
    };
    static const struct {
        const char *name;
        size_t off;
    } timeouts[] = {
        {"timeout_propose_ms", offsetof(node_config, timeout_propose_ms)},
        {"timeout_propose_delta_ms", offsetof(node_config, timeout_propose_delta_ms)},
        {"timeout_prevote_ms", offsetof(node_config, timeout_prevote_ms)},
        {"timeout_prevote_delta_ms", offsetof(node_config, timeout_prevote_delta_ms)},
        {"timeout_precommit_ms", offsetof(node_config, timeout_precommit_ms)},
        {"timeout_precommit_delta_ms", offsetof(node_config, timeout_precommit_delta_ms)},
    };
    const char *s;
    int rc;

    if ((rc = node_json_check_keys(root, keys, "", e)) ||
        (rc = node__get_path(root, "data_dir", false, c->data_dir, sizeof c->data_dir, e)) ||
        (rc = node__get_path(root, "genesis", false, c->genesis, sizeof c->genesis, e)) ||
        (rc = node__get_path(root, "validator_key", true, c->validator_key, sizeof c->validator_key,
                       e)) ||
        (rc = node_json_get_string(root, "", "rpc_listen", false, &s, e)) ||
        (s && (rc = parse_addr(s, "", "rpc_listen", false, c->rpc_host, sizeof c->rpc_host,
                               &c->rpc_port, e))) ||
        (rc = node__get_u32(root, "block_interval_ms", 1, BLOCK_INTERVAL_MAX, &c->block_interval_ms,
                      e)) ||
        (rc = node__get_u32(root, "empty_block_interval_ms", 0, EMPTY_BLOCK_INTERVAL_MAX,
                            &c->empty_block_interval_ms, e)) ||
        (rc = node__get_u32(root, "max_block_txs", 1, LDG_BLOCK_MAX_TXS, &c->max_block_txs, e)) ||
        (rc = node__get_u32(root, "mempool_max", 1, MEMPOOL_MAX_MAX, &c->mempool_max, e)) ||
        (rc = node__get_u32(root, "max_clients", 1, CLIENTS_MAX_MAX, &c->max_clients, e)) ||
        (rc =
             node__get_path(root, "identity_key", false, c->identity_key, sizeof c->identity_key, e)) ||
        (rc = node_json_get_string(root, "", "p2p_listen", false, &s, e)) ||
        (s && (rc = parse_addr(s, "", "p2p_listen", true, c->p2p_host, sizeof c->p2p_host,
                               &c->p2p_port, e))) ||
        (rc = config_peers(root, c, e)))
        return rc;
    for (size_t i = 0; i < sizeof timeouts / sizeof *timeouts; i++)
        if ((rc = node__get_u32(root, timeouts[i].name, NODE_TIMEOUT_MIN_MS, NODE_TIMEOUT_MAX_MS,
                          (uint32_t *)((char *)c + timeouts[i].off), e)))
            return rc;
    if ((rc = node__get_u32(root, "sync_batch_blocks", 1, NODE_SYNC_BATCH_MAX, &c->sync_batch_blocks,
                      e)) ||
        (rc = node__get_u32(root, "eligibility_cache", NODE_ELG_CACHE_MIN, NODE_ELG_CACHE_MAX,
                      &c->eligibility_cache, e)) ||
        (rc = node__get_u32(root, "block_time_drift_ms", NODE_DRIFT_MIN_MS, NODE_DRIFT_MAX_MS,
                      &c->block_time_drift_ms, e)) ||
        (rc = node__get_u32(root, "map_size_mib", NODE_MAP_SIZE_MIN_MIB, NODE_MAP_SIZE_MAX_MIB,
                      &c->map_size_mib, e)) ||
        (rc = node__get_u32(root, "peer_timeout_ms", NODE_PEER_TIMEOUT_MIN_MS,
                      NODE_PEER_TIMEOUT_MAX_MS, &c->peer_timeout_ms, e)) ||
        (rc = node__config_rpc(root, c, e)) || (rc = config_audit(root, c, e)))
        return rc;

    /* p2p is on exactly when p2p_listen is given: what only makes sense with it is refused
     * without it rather than silently unused, and what it cannot work without is required. */
    if (c->p2p_port && !c->identity_key[0])
        return node__bad(e, NODE_ECONFIG, "", "identity_key",
                         "missing (required with p2p_listen: it authenticates this node)");
    if (c->n_peers && !c->p2p_port)
        return node__bad(e, NODE_ECONFIG, "", "peers",
                         "given without p2p_listen (without it the node runs alone)");
    return 0;
}

/* The defaults describe a node directory laid out as the header's example: data/,
 * genesis.json, validator.key, RPC on loopback, no p2p. */
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
    c->empty_block_interval_ms = 60000;
    c->max_block_txs = 4096;
    c->mempool_max = 50000;
    c->max_clients = 1024;
    c->eligibility_cache = 250000;
    c->map_size_mib = 8192;
    c->timeout_propose_ms = 1000;
    c->timeout_propose_delta_ms = 500;
    c->timeout_prevote_ms = 500;
    c->timeout_prevote_delta_ms = 250;
    c->timeout_precommit_ms = 500;
    c->timeout_precommit_delta_ms = 250;
    c->sync_batch_blocks = 64;
    /* Well above NTP-level skew plus a proposal's trip (loopback or LAN: milliseconds; a
     * loaded or sanitised node: a fraction of a second), and a tight bound next to an hour. */
    c->block_time_drift_ms = 5000;
    c->peer_timeout_ms = 4000;
    node__config_rpc_defaults(c);
    c->audit_log_max_bytes = 64u << 20;
    c->audit_log_keep = 8;
}

/* Make a relative path relative to dir instead ("" dir or "" path: leave it as it is). */
static int resolve(const char *dir, char *path, size_t cap, const char *name, node_json_err *e)
{
    char tmp[4096];

    if (!*dir || !*path || path[0] == '/')
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
 * genesis, validator_key, identity_key, audit_log, including defaults) are resolved against the
 * directory in path: "nodes/a/node.json" with "data_dir": "data" gives "nodes/a/data"; an
 * empty validator_key (a replica) stays empty. A config path without a '/' is in the current
 * directory, and its relative paths stay as they are. node_config_save writes paths
 * verbatim, so an absolute path round-trips exactly and a relative one is relative to
 * wherever the file is saved.
 */
int node_config_load(const char *path, node_config *c, char *err, size_t errlen)
{
    return node_config_load_hashed(path, c, NULL, err, errlen);
}

int node_config_load_hashed(const char *path, node_config *c, uint8_t sha256[32], char *err,
                            size_t errlen)
{
    char dir[4096] = "";
    node_json_err e;
    json_t *root;
    int rc;

    node_json_err_init(&e, err, errlen);
    if (sha256)
        memset(sha256, 0, 32);
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

    if ((rc = node__load_object(path, false, &root, sha256, &e)) == 0) {
        rc = config_from_json(root, c, &e);
        json_decref(root);
    }
    if (!rc && !(rc = resolve(dir, c->data_dir, sizeof c->data_dir, "data_dir", &e)) &&
        !(rc = resolve(dir, c->genesis, sizeof c->genesis, "genesis", &e)) &&
        !(rc = resolve(dir, c->validator_key, sizeof c->validator_key, "validator_key", &e)) &&
        !(rc = resolve(dir, c->identity_key, sizeof c->identity_key, "identity_key", &e)) &&
        !(rc = resolve(dir, c->rpc_tls_cert, sizeof c->rpc_tls_cert, "rpc_tls_cert", &e)) &&
        !(rc = resolve(dir, c->rpc_tls_key, sizeof c->rpc_tls_key, "rpc_tls_key", &e)))
        rc = resolve(dir, c->audit_log, NODE_AUDIT_PATH_MAX, "audit_log", &e);
    if (rc)
        memset(c, 0, sizeof *c);
    if (rc && sha256)
        memset(sha256, 0, 32);
    return rc;
}

/* The same configuration (strings compared up to their NUL: a hand-filled struct may hold
 * anything after it). */
static bool config_same(const node_config *a, const node_config *b)
{
    if (strcmp(a->data_dir, b->data_dir) || strcmp(a->genesis, b->genesis) ||
        strcmp(a->validator_key, b->validator_key) || strcmp(a->rpc_host, b->rpc_host) ||
        a->rpc_port != b->rpc_port || a->block_interval_ms != b->block_interval_ms ||
        a->empty_block_interval_ms != b->empty_block_interval_ms ||
        a->max_block_txs != b->max_block_txs || a->mempool_max != b->mempool_max ||
        a->max_clients != b->max_clients || strcmp(a->identity_key, b->identity_key) ||
        strcmp(a->p2p_host, b->p2p_host) || a->p2p_port != b->p2p_port ||
        a->n_peers != b->n_peers || a->timeout_propose_ms != b->timeout_propose_ms ||
        a->timeout_propose_delta_ms != b->timeout_propose_delta_ms ||
        a->timeout_prevote_ms != b->timeout_prevote_ms ||
        a->timeout_prevote_delta_ms != b->timeout_prevote_delta_ms ||
        a->timeout_precommit_ms != b->timeout_precommit_ms ||
        a->timeout_precommit_delta_ms != b->timeout_precommit_delta_ms ||
        a->sync_batch_blocks != b->sync_batch_blocks ||
        a->eligibility_cache != b->eligibility_cache ||
        a->block_time_drift_ms != b->block_time_drift_ms || a->map_size_mib != b->map_size_mib ||
        a->peer_timeout_ms != b->peer_timeout_ms || !node__config_rpc_same(a, b) ||
        strcmp(a->audit_log, b->audit_log) || a->audit_log_max_bytes != b->audit_log_max_bytes ||
        a->audit_log_keep != b->audit_log_keep)
        return false;
    for (size_t i = 0; i < a->n_peers; i++)
        if (strcmp(a->peers[i].host, b->peers[i].host) || a->peers[i].port != b->peers[i].port ||
            !ldg_pubkey_eq(&a->peers[i].identity, &b->peers[i].identity) ||
            strcmp(a->peers[i].name, b->peers[i].name))
            return false;
    return true;
}

static int config_to_json(const node_config *c, json_t **out)
{
    char addr[300];
    json_t *root, *arr;
    bool ok = true;
    int rc = LDG_EINVALID;

    *out = NULL;
    if (!node__str_fits(c->data_dir, sizeof c->data_dir) ||
        !node__str_fits(c->genesis, sizeof c->genesis) ||
        !node__str_fits(c->validator_key, sizeof c->validator_key) ||
        !node__str_fits(c->rpc_host, sizeof c->rpc_host) ||
        !node__str_fits(c->identity_key, sizeof c->identity_key) ||
        !node__str_fits(c->p2p_host, sizeof c->p2p_host) ||
        !node__str_fits(c->audit_log, sizeof c->audit_log) || c->n_peers > NODE_MAX_PEERS)
        return LDG_EINVALID;
    for (size_t i = 0; i < c->n_peers; i++)
        if (!node__str_fits(c->peers[i].host, sizeof c->peers[i].host) ||
            !node__str_fits(c->peers[i].name, sizeof c->peers[i].name))
            return LDG_EINVALID;
    if (!(root = json_object()))
        return LDG_ENOMEM;
    node__put(root, "data_dir", json_string(c->data_dir), &ok);
    node__put(root, "genesis", json_string(c->genesis), &ok);
    format_addr(c->rpc_host, c->rpc_port, addr, sizeof addr);
    node__put(root, "rpc_listen", json_string(addr), &ok);
    /* Written even when "": absent would mean the default, validator.key. */
    node__put(root, "validator_key", json_string(c->validator_key), &ok);
    node__put(root, "block_interval_ms", json_integer(c->block_interval_ms), &ok);
    node__put(root, "empty_block_interval_ms", json_integer(c->empty_block_interval_ms), &ok);
    node__put(root, "max_block_txs", json_integer(c->max_block_txs), &ok);
    node__put(root, "mempool_max", json_integer(c->mempool_max), &ok);
    node__put(root, "max_clients", json_integer(c->max_clients), &ok);
    if (c->identity_key[0])
        node__put(root, "identity_key", json_string(c->identity_key), &ok);
    /* Written when either half is set, so that a stray half is refused by the check in
     * node_config_save rather than silently dropped. */
    if (c->p2p_port || c->p2p_host[0]) {
        format_addr(c->p2p_host, c->p2p_port, addr, sizeof addr);
        node__put(root, "p2p_listen", json_string(addr), &ok);
    }
    if (c->n_peers) {
        node__put(root, "peers", arr = json_array(), &ok);
        for (size_t i = 0; ok && i < c->n_peers; i++) {
            json_t *o = json_object(), *id = node__key_json(&c->peers[i].identity, &rc);
            if (!o || !id) {
                json_decref(o);
                json_decref(id);
                json_decref(root);
                return o ? rc : LDG_ENOMEM;
            }
            format_addr(c->peers[i].host, c->peers[i].port, addr, sizeof addr);
            node__put(o, "address", json_string(addr), &ok);
            node__put(o, "identity", id, &ok);
            if (c->peers[i].name[0])
                node__put(o, "name", json_string(c->peers[i].name), &ok);
            ok = !json_array_append_new(arr, o) && ok;
        }
    }
    node__put(root, "timeout_propose_ms", json_integer(c->timeout_propose_ms), &ok);
    node__put(root, "timeout_propose_delta_ms", json_integer(c->timeout_propose_delta_ms), &ok);
    node__put(root, "timeout_prevote_ms", json_integer(c->timeout_prevote_ms), &ok);
    node__put(root, "timeout_prevote_delta_ms", json_integer(c->timeout_prevote_delta_ms), &ok);
    node__put(root, "timeout_precommit_ms", json_integer(c->timeout_precommit_ms), &ok);
    node__put(root, "timeout_precommit_delta_ms", json_integer(c->timeout_precommit_delta_ms),
              &ok);
    node__put(root, "sync_batch_blocks", json_integer(c->sync_batch_blocks), &ok);
    node__put(root, "eligibility_cache", json_integer(c->eligibility_cache), &ok);
    node__put(root, "block_time_drift_ms", json_integer(c->block_time_drift_ms), &ok);
    node__put(root, "map_size_mib", json_integer(c->map_size_mib), &ok);
    node__put(root, "peer_timeout_ms", json_integer(c->peer_timeout_ms), &ok);
    node__config_rpc_put(root, c, &ok);
    if (c->audit_log[0])
        node__put(root, "audit_log", json_string(c->audit_log), &ok);
    node__put(root, "audit_log_max_bytes", json_integer((json_int_t)c->audit_log_max_bytes), &ok);
    node__put(root, "audit_log_keep", json_integer(c->audit_log_keep), &ok);
    if (!ok) {
        json_decref(root);
        return LDG_EINVALID; /* invalid UTF-8 in a path, or out of memory */
    }
    *out = root;
    return 0;
}

int node_config_save(const char *path, const node_config *c)
{
    json_t *root;
    int rc;

    if (!path || !c)
        return LDG_EINVALID;
    if ((rc = config_to_json(c, &root)))
        return rc;
    /* Only write what node_config_load accepts and gives back unchanged. */
    node_config *check = malloc(sizeof *check);
    if (!check) {
        json_decref(root);
        return LDG_ENOMEM;
    }
    node_json_err e;
    node_config_defaults(check);
    node_json_err_init(&e, NULL, 0);
    if (config_from_json(root, check, &e) || !config_same(check, c))
        rc = LDG_EINVALID;
    free(check);
    if (!rc)
        rc = node__write_json(path, root, 0644);
    json_decref(root);
    return rc;
}

int node_config_check(const node_config *c, const ldg_genesis *g, const ldg_pubkey *validator,
                      const ldg_pubkey *identity, char *err, size_t errlen)
{
    node_json_err e;
    size_t vi = 0;

    node_json_err_init(&e, err, errlen);
    if (!c || !g || !validator != !c->validator_key[0] || !identity != !c->identity_key[0] ||
        g->n_validators > LDG_MAX_VALIDATORS || c->n_peers > NODE_MAX_PEERS)
        return LDG_EINVALID;
    if (validator) {
        while (vi < g->n_validators && !ldg_pubkey_eq(&g->validators[vi], validator))
            vi++;
        if (vi == g->n_validators)
            return node__bad(&e, NODE_ECONFIG, "", "validator_key",
                             "%s is not a validator in the genesis (an empty validator_key "
                             "makes a non-voting replica)",
                             c->validator_key);
    }
    if (identity && !node_identity_alg_ok(identity->alg)) {
        const ldg_sig_impl *impl = ldg_sig_by_id(identity->alg);
        return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                         "%s cannot be a node identity key (TLS 1.3 needs ed25519 or "
                         "p256-ecdsa)",
                         impl ? impl->name : "an unknown algorithm");
    }
    if (!identity && !c->p2p_port && !c->rpc_plaintext && !c->rpc_tls_cert[0])
        return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                         "missing: the RPC port's TLS presents it (or give rpc_tls_cert and "
                         "rpc_tls_key, or rpc_plaintext with a loopback rpc_listen)");
    if (c->p2p_port) {
        if (!identity)
            return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                             "missing (required with p2p_listen)");
        if (validator && !g->validator_ids[vi].alg)
            return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                             "the genesis lists no identity for this validator "
                             "(validators[%zu]), and p2p needs it",
                             vi);
        if (validator && !ldg_pubkey_eq(&g->validator_ids[vi], identity))
            return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                             "%s is not the identity the genesis lists for this validator "
                             "(validators[%zu])",
                             c->identity_key, vi);
        for (size_t i = 0; !validator && i < g->n_validators; i++)
            if (ldg_pubkey_eq(&g->validator_ids[i], identity))
                return node__bad(&e, NODE_ECONFIG, "", "identity_key",
                                 "%s is the identity of validators[%zu] in the genesis, but "
                                 "this node is a replica (validator_key \"\")",
                                 c->identity_key, i);
    }
    for (size_t i = 0; identity && i < c->n_peers; i++)
        if (ldg_pubkey_eq(&c->peers[i].identity, identity)) {
            char p[32];
            snprintf(p, sizeof p, "peers[%zu]", i);
            return node__bad(&e, NODE_ECONFIG, p, "identity", "is this node's own identity");
        }
    return 0;
}
