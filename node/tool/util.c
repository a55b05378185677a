/*
 * Helpers shared by the fwledger subcommands: exit-on-error reporting, the options every
 * subcommand takes, strict argument parsing, file hashing and output formatting.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "node/tool/tool.h"

const char *tool_prog = "fwledger";

/* --- Errors ------------------------------------------------------------------------------ */

void tool_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", tool_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(TOOL_EXIT_RUNTIME);
}

void tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", tool_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", tool_prog);
    exit(TOOL_EXIT_USAGE);
}

void tool_die_rc(int rc, const char *what, const char *detail)
{
    const char *text = node_strerror(rc);
    if (detail && *detail && strcmp(detail, text))
        tool_die("%s: error %d (%s): %s", what, rc, text, detail);
    tool_die("%s: error %d (%s)", what, rc, text);
}

void *tool_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        tool_die("out of memory");
    return p;
}

/* --- Shared options ---------------------------------------------------------------------- */

void tool_opts_init(tool_opts *o, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->usage = usage;
    o->timeout_ms = TOOL_DEFAULT_TIMEOUT_MS;
}

int tool_getopt(int argc, char **argv, const struct option *longopts)
{
    opterr = 0; /* our own one-line messages instead of getopt's */
    return getopt_long(argc, argv, ":h", longopts, NULL);
}

static bool tx_opt(tool_txopts *tx, int opt, const char *arg)
{
    switch (opt) {
    case TOOL_OPT_KEY:
        if (tx->n_keys == TOOL_MAX_KEYS)
            tool_usage_error("at most %d --key options", TOOL_MAX_KEYS);
        tx->keys[tx->n_keys++] = arg;
        return true;
    case TOOL_OPT_NO_WAIT: tx->no_wait = true; return true;
    case TOOL_OPT_WAIT_TIMEOUT: tx->wait_ms = tool_parse_u32("--wait-timeout", arg); return true;
    case TOOL_OPT_NONCE:
        if (!(tx->nonce = tool_parse_u64("--nonce", arg)))
            tool_usage_error("--nonce must be at least 1");
        return true;
    default: return false;
    }
}

/* "HOST:PORT" or "[V6ADDR]:PORT". */
static void parse_addr(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (*s == '[' && colon && colon > s && colon[-1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= cap)
        tool_usage_error("--node: expected HOST:PORT, got '%s'", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    uint32_t p = tool_parse_u32("--node port", colon + 1);
    if (p == 0 || p > 65535)
        tool_usage_error("--node: bad port in '%s'", s);
    *port = (int)p;
}

void tool_common_opt(tool_opts *o, tool_txopts *tx, int opt, char **argv)
{
    if (tx && tx_opt(tx, opt, optarg))
        return;
    switch (opt) {
    case 'h':
        fputs(o->usage, stdout);
        exit(TOOL_EXIT_OK);
    case TOOL_OPT_JSON: o->json = true; break;
    case TOOL_OPT_NODE:
        parse_addr(optarg, o->host, sizeof o->host, &o->port);
        break;
    case TOOL_OPT_CONFIG: o->config = optarg; break;
    case TOOL_OPT_GENESIS:
        o->genesis = optarg;
        if (tx)
            tx->genesis = optarg;
        break;
    case TOOL_OPT_NODE_KEY: o->node_key = optarg; break;
    case TOOL_OPT_CA: o->ca = optarg; break;
    case TOOL_OPT_CLIENT_KEY: o->client_key = optarg; break;
    case TOOL_OPT_PLAINTEXT: o->plaintext = true; break;
    case TOOL_OPT_TIMEOUT:
        if (!(o->timeout_ms = tool_parse_u32("--timeout", optarg)))
            tool_usage_error("--timeout must be at least 1 ms");
        break;
    case ':': tool_usage_error("option '%s' needs a value", argv[optind - 1]);
    case '?':
        if (optopt)
            tool_usage_error("unknown option '-%c'", optopt);
        tool_usage_error("unknown option '%s'", argv[optind - 1]);
    default: tool_usage_error("unhandled option %d", opt);
    }
    if (*o->host && o->config)
        tool_usage_error("--node and --config are exclusive");
}

/* --- Argument parsing -------------------------------------------------------------------- */

uint64_t tool_parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *s == '+' || *s == ' ' || *end || errno)
        tool_usage_error("%s: '%s' is not a number", opt, s);
    return (uint64_t)v;
}

uint32_t tool_parse_u32(const char *opt, const char *s)
{
    uint64_t v = tool_parse_u64(opt, s);
    if (v > UINT32_MAX)
        tool_usage_error("%s: %s is too large", opt, s);
    return (uint32_t)v;
}

const ldg_hash_impl *tool_parse_hash_alg(const char *opt, const char *name)
{
    const ldg_hash_impl *h = ldg_hash_by_name(name);
    if (!h)
        tool_usage_error("%s: unknown hash algorithm '%s'", opt, name);
    return h;
}

const ldg_sig_impl *tool_parse_sig_alg(const char *opt, const char *name)
{
    const ldg_sig_impl *s = ldg_sig_by_name(name);
    if (!s)
        tool_usage_error("%s: unknown signature algorithm '%s'", opt, name);
    return s;
}

size_t tool_parse_hex(const char *opt, const char *s, uint8_t *out, size_t cap, size_t want)
{
    size_t len;
    if (node_unhex(s, out, cap, &len) || (want && len != want) || !len) {
        if (want)
            tool_usage_error("%s: expected %zu bytes of hex", opt, want);
        tool_usage_error("%s: expected hex, at most %zu bytes", opt, cap);
    }
    return len;
}

/* --file-hash HEX or --file PATH, in the algorithm named by --hash-alg (default sha256). */
void tool_file_hash_arg(const char *hex, const char *file, const char *alg, fwl_Hash *out)
{
    const ldg_hash_impl *h = tool_parse_hash_alg("--hash-alg", alg ? alg : "sha256");
    uint64_t size;
    if (!hex == !file)
        tool_usage_error("give exactly one of --file-hash and --file");
    out->alg = h->id;
    out->digest.size = (pb_size_t)h->digest_len;
    if (hex)
        tool_parse_hex("--file-hash", hex, out->digest.bytes, sizeof out->digest.bytes,
                       h->digest_len);
    else
        tool_hash_file(file, h, out->digest.bytes, &size);
}

/* --- Files ------------------------------------------------------------------------------- */

/* The registry hashes in one shot; a firmware image may be larger than memory, so the file
 * goes through the same algorithm by name in OpenSSL's streaming interface. */
void tool_hash_file(const char *path, const ldg_hash_impl *alg, uint8_t *digest,
                    uint64_t *size)
{
    const EVP_MD *md = EVP_get_digestbyname(alg->name);
    if (!md || (size_t)EVP_MD_get_size(md) != alg->digest_len)
        tool_die("hash %s: no streaming implementation", alg->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        tool_die("%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static uint8_t buf[1 << 16];
    ssize_t n;
    *size = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL))
        tool_die("hash %s: OpenSSL failure", alg->name);
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            tool_die("%s: %s", path, strerror(errno));
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
            tool_die("hash %s: OpenSSL failure", alg->name);
        *size += (uint64_t)n;
    }
    close(fd);
    if (!EVP_DigestFinal_ex(ctx, digest, NULL))
        tool_die("hash %s: OpenSSL failure", alg->name);
    EVP_MD_CTX_free(ctx);
}

void tool_load_key(const char *path, node_key *k)
{
    char err[256] = "";
    int rc = node_key_load(path, k, err, sizeof err);
    if (rc)
        tool_die_rc(rc, path, err);
}

/* --- Output ------------------------------------------------------------------------------ */

void tool_json_print(json_t *v)
{
    if (!v || json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
        tool_die("cannot write JSON output");
    fputc('\n', stdout);
    json_decref(v);
}

static void print_value(const char *key, json_t *v)
{
    char *s = NULL;
    if (json_is_string(v))
        s = strdup(json_string_value(v));
    else
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        tool_die("out of memory");
    printf("%-16s %s\n", key, tool_clean(s));
    free(s);
}

void tool_output(const tool_opts *o, json_t *obj)
{
    if (!obj)
        tool_die("out of memory");
    if (o->json) {
        tool_json_print(obj);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
        print_value(key, v);
    json_decref(obj);
}

json_t *tool_json_hex(const uint8_t *b, size_t len)
{
    char *h = tool_xcalloc(2 * len + 1, 1);
    node_hex(b, len, h);
    json_t *v = json_string(h);
    free(h);
    return v;
}

json_t *tool_json_str(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        tool_die("out of memory");
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

char *tool_clean(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

const char *tool_fmt_time(uint64_t secs, char buf[32])
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (secs > (uint64_t)253402300799u || !gmtime_r(&t, &tm) ||
        !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, 32, "%" PRIu64, secs);
    return buf;
}

const char *tool_hash_name(uint32_t alg)
{
    const ldg_hash_impl *h = ldg_hash_by_id(alg);
    return h ? h->name : "unknown";
}

const char *tool_reason_name(int reason)
{
    static const char *const names[] = {
        [fwl_RevokeReason_REVOKE_UNSPECIFIED] = "unspecified",
        [fwl_RevokeReason_REVOKE_VULNERABLE] = "vulnerable",
        [fwl_RevokeReason_REVOKE_MALICIOUS] = "malicious",
        [fwl_RevokeReason_REVOKE_SUPERSEDED] = "superseded",
        [fwl_RevokeReason_REVOKE_WITHDRAWN] = "withdrawn",
    };
    if (reason < 0 || (size_t)reason >= sizeof names / sizeof *names)
        return "unknown";
    return names[reason];
}

const char *tool_sig_name(uint32_t alg)
{
    const ldg_sig_impl *s = ldg_sig_by_id(alg);
    return s ? s->name : "unknown";
}

/* --- Hardware support: MODEL[:MIN-MAX][+ADDON...] ---------------------------------------- */

static int parse_rev(const char *s, size_t n, uint32_t *out)
{
    char tmp[16];
    char *end;
    if (n == 0) {
        *out = 0; /* open end */
        return 0;
    }
    if (n >= sizeof tmp || *s < '0' || *s > '9')
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    unsigned long v = strtoul(tmp, &end, 10);
    if (*end || errno || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* "MIN-MAX", "MIN-", "-MAX" or "N" (exactly revision N). */
static int parse_range(const char *s, size_t n, fwl_HardwareSupport *hw)
{
    const char *dash = memchr(s, '-', n);
    if (!dash) {
        if (n == 0 || parse_rev(s, n, &hw->rev_min) || hw->rev_min == 0)
            return -1; /* revision 0 would mean "no bound" */
        hw->rev_max = hw->rev_min;
        return 0;
    }
    if (dash == s && dash + 1 == s + n)
        return -1; /* "-" alone says nothing */
    if (parse_rev(s, (size_t)(dash - s), &hw->rev_min) ||
        parse_rev(dash + 1, (size_t)(s + n - dash - 1), &hw->rev_max))
        return -1;
    return hw->rev_max && hw->rev_min > hw->rev_max ? -1 : 0;
}

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int tool_hw_parse(const char *s, fwl_HardwareSupport *hw)
{
    memset(hw, 0, sizeof *hw);
    size_t model_len = strcspn(s, ":+");
    if (copy_part(hw->model, sizeof hw->model, s, model_len))
        return -1;
    s += model_len;
    if (*s == ':') {
        size_t n = strcspn(++s, "+");
        if (parse_range(s, n, hw))
            return -1;
        s += n;
    }
    while (*s == '+') {
        size_t n = strcspn(++s, "+");
        if (hw->required_addons_count == sizeof hw->required_addons / sizeof *hw->required_addons ||
            copy_part(hw->required_addons[hw->required_addons_count++],
                      sizeof hw->required_addons[0], s, n))
            return -1;
        s += n;
    }
    return *s ? -1 : 0;
}

void tool_hw_format(const fwl_HardwareSupport *hw, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", hw->model);
    if (hw->rev_min && hw->rev_min == hw->rev_max)
        n += snprintf(out + n, cap > (size_t)n ? cap - (size_t)n : 0, ":%" PRIu32, hw->rev_min);
    else if (hw->rev_min || hw->rev_max) {
        char lo[12] = "", hi[12] = "";
        if (hw->rev_min)
            snprintf(lo, sizeof lo, "%" PRIu32, hw->rev_min);
        if (hw->rev_max)
            snprintf(hi, sizeof hi, "%" PRIu32, hw->rev_max);
        n += snprintf(out + n, cap > (size_t)n ? cap - (size_t)n : 0, ":%s-%s", lo, hi);
    }
    for (pb_size_t i = 0; i < hw->required_addons_count && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "+%s", hw->required_addons[i]);
}

/* --- Argument helpers (shared by the tx commands) ---------------------------------------------------------------------- */

void tool_set_str(char *dst, size_t cap, const char *opt, const char *v)
{
    if (!*v)
        tool_usage_error("%s must not be empty", opt);
    if (strlen(v) >= cap)
        tool_usage_error("%s: longer than %zu bytes", opt, cap - 1);
    memcpy(dst, v, strlen(v) + 1);
}

fwl_AuthorOp tool_add_remove_arg(int argc, char **argv)
{
    if (optind + 1 != argc)
        tool_usage_error("%s", optind == argc ? "expected add or remove" : "too many arguments");
    if (!strcmp(argv[optind], "add"))
        return fwl_AuthorOp_AUTHOR_ADD;
    if (strcmp(argv[optind], "remove"))
        tool_usage_error("expected add or remove, got '%s'", argv[optind]);
    return fwl_AuthorOp_AUTHOR_REMOVE;
}

void tool_pubkey_arg(const char *opt, const char *arg, const char *alg_opt, const char *alg,
                     fwl_PublicKey *out)
{
    struct stat sb;
    if (stat(arg, &sb) == 0) {
        node_key *k = tool_xcalloc(1, sizeof *k);
        tool_load_key(arg, k);
        out->alg = k->pub.alg;
        memcpy(out->key.bytes, k->pub.key, k->pub.len);
        out->key.size = (pb_size_t)k->pub.len;
        OPENSSL_cleanse(k, sizeof *k);
        free(k);
        return;
    }
    if (!alg)
        tool_usage_error("%s '%s' is not a file; a hex key needs %s", opt, arg, alg_opt);
    const ldg_sig_impl *s = tool_parse_sig_alg(alg_opt, alg);
    out->alg = s->id;
    out->key.size = (pb_size_t)tool_parse_hex(opt, arg, out->key.bytes, sizeof out->key.bytes,
                                              s->pub_len);
}

json_t *tool_json_hash(const fwl_Hash *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "alg", json_string(tool_hash_name(h->alg)));
    json_object_set_new(o, "digest", tool_json_hex(h->digest.bytes, h->digest.size));
    return o;
}

uint64_t tool_parse_duration_ms(const char *opt, const char *s)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end != s && *s != '-' && !errno)
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (!strcmp(end, units[i].unit) && v <= UINT64_MAX / units[i].ms)
                return v * units[i].ms;
    tool_usage_error("%s: expected a duration such as 500ms, 90s, 5m, 2h or 1d, got '%s'", opt, s);
}
