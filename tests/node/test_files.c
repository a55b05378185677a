/* Unit tests for node/client/util.c and node/files: hex, atomic files, genesis and key files
 * (the config file: test_config.c). Each test works in its own mkdtemp directory. */
#include "tests/node/files_fixture.h"

/* ---------------------------------------------------------------------------------------- */
/* util.c                                                                                    */

static void test_hex(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof in + 1];
    uint8_t out[8];
    size_t len;

    node_hex(in, sizeof in, hex);
    assert_string_equal(hex, "00017f80abff");
    assert_int_equal(node_unhex(hex, out, sizeof in, &len), 0);
    assert_int_equal(len, sizeof in);
    assert_memory_equal(out, in, sizeof in);

    node_hex(in, 0, hex);
    assert_string_equal(hex, "");
    assert_int_equal(node_unhex("", out, sizeof out, &len), 0);
    assert_int_equal(len, 0);

    assert_int_equal(node_unhex("00017F80ABFF", out, sizeof out, &len), 0); /* upper case */
    assert_int_equal(len, 6);
    assert_memory_equal(out, in, sizeof in);
    assert_int_equal(node_unhex("0001", out, sizeof out, &len), 0); /* fewer than cap */
    assert_int_equal(len, 2);

    static const char *bad[] = {"0", "abc", "0g", "g0", " 00", "00 ", "0x00", "00-11",
                                "000102030405060708"}; /* the last: 9 bytes, cap is 8 */
    for (size_t i = 0; i < N(bad); i++) {
        memset(out, 0x55, sizeof out);
        len = 99;
        CHECK(node_unhex(bad[i], out, sizeof out, &len) == LDG_EINVALID, "unhex(\"%s\")", bad[i]);
        CHECK(len == 0, "unhex(\"%s\") len", bad[i]);
        for (size_t j = 0; j < sizeof out; j++)
            CHECK(out[j] == 0, "unhex(\"%s\") left output behind", bad[i]);
    }
    /* Exactly cap bytes fit; one byte over does not, and nothing is written past cap. */
    uint8_t two[3] = {0, 0, 0xEE};
    assert_int_equal(node_unhex("aabb", two, 2, &len), 0);
    assert_int_equal(node_unhex("aabbcc", two, 2, &len), LDG_EINVALID);
    assert_int_equal(two[2], 0xEE);
    assert_int_equal(node_unhex(NULL, out, sizeof out, &len), LDG_EINVALID);
    assert_int_equal(node_unhex("00", out, sizeof out, NULL), LDG_EINVALID);
}

static void test_read_write_file(void **state)
{
    fixture *f = *state;
    uint8_t *buf;
    size_t len;
    struct stat st;
    char big[5000];

    memset(big, 'x', sizeof big);
    assert_int_equal(node_write_file(P(f, "a"), big, sizeof big, 0600), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(node_read_file(f->path, sizeof big, &buf, &len), 0);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(buf, big, sizeof big);
    assert_int_equal(buf[len], 0); /* NUL after the data */
    free(buf);

    /* Over the cap: refused from the size, before reading. */
    buf = (uint8_t *)"sentinel";
    assert_int_equal(node_read_file(f->path, sizeof big - 1, &buf, &len), LDG_ETOOBIG);
    assert_null(buf);
    assert_int_equal(len, 0);

    /* A pipe-like file of unknown size is capped while reading. */
    assert_int_equal(node_read_file("/dev/zero", 10000, &buf, &len), LDG_ETOOBIG);

    /* Replace: new content and mode, no temporary file left behind. */
    assert_int_equal(node_write_file(f->path, "new", 3, 0644), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    buf = slurp(f->path, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "new", 3);
    free(buf);

    /* Empty files are fine. */
    assert_int_equal(node_write_file(P(f, "empty"), "", 0, 0644), 0);
    buf = slurp(f->path, &len);
    assert_int_equal(len, 0);
    free(buf);
    assert_int_equal(count_entries(f->dir), 2);

    /* The mode is exact whatever the umask. */
    mode_t old = umask(0);
    assert_int_equal(node_write_file(P(f, "k"), "s", 1, 0600), 0);
    umask(old);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Errors. */
    assert_int_equal(node_read_file(P(f, "missing"), 10, &buf, &len), LDG_EIO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(node_read_file(f->dir, 10, &buf, &len), LDG_EIO);
    assert_int_equal(node_write_file(P(f, "no/such/dir/file"), "x", 1, 0644), LDG_EIO);
    assert_int_equal(node_write_file(f->dir, "x", 1, 0644), LDG_EIO); /* a directory */
    assert_int_equal(count_entries(f->dir), 3);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(node_strerror(NODE_ECONFIG), "invalid configuration or genesis file");
    assert_string_equal(node_strerror(NODE_EPENDING), "transaction already pending");
    assert_string_equal(node_strerror(LDG_EIO), ldg_strerror(LDG_EIO));
    assert_string_equal(node_strerror(LDG_OK), ldg_strerror(LDG_OK));
    assert_non_null(node_strerror(-12345));
}

/* ---------------------------------------------------------------------------------------- */
/* Genesis                                                                                   */


/* A genesis with every field set and the arrays at their limits. */
static ldg_genesis *full_genesis(void)
{
    ldg_genesis *g = calloc(1, sizeof *g);
    assert_non_null(g);
    strcpy(g->chain_id, "Fw-Ledger_prod.1");
    g->hash_alg = LDG_HASH_SHA3_256;
    g->genesis_time_ms = 1700000000123ull;
    for (size_t i = 0; i < LDG_MAX_ADMINS; i++)
        fill_key(&g->admins[i], i % 2 ? LDG_SIG_ED25519 : LDG_SIG_SECP256K1_ECDSA,
                 (uint8_t)(i + 1));
    g->n_admins = LDG_MAX_ADMINS;
    g->admin_threshold = 5;
    for (size_t i = 0; i < LDG_MAX_VALIDATORS; i++) {
        static const uint32_t algs[] = {LDG_SIG_SECP256K1_ECDSA, LDG_SIG_ED25519,
                                        LDG_SIG_P256_ECDSA}; /* schnorr is disabled below */
        fill_key(&g->validators[i], algs[i % 3], (uint8_t)(0x40 + i));
        g->validator_power[i] = i + 1;
        fill_key(&g->validator_ids[i], i % 2 ? LDG_SIG_ED25519 : LDG_SIG_P256_ECDSA,
                 (uint8_t)(0xc0 + i)); /* identity algorithms only */
    }
    g->validator_power[0] = 1000000000000ull;
    g->n_validators = LDG_MAX_VALIDATORS;
    for (size_t i = 0; i < LDG_MAX_GENESIS_AUTHORS; i++) {
        ldg_genesis_author *a = &g->authors[i];
        snprintf(a->product, sizeof a->product, "acme/fw-%zu+x_y.z", i);
        snprintf(a->name, sizeof a->name, "Acme Société n°%zu \"quoted\" \\ back", i);
        fill_key(&a->key, LDG_SIG_P256_ECDSA, (uint8_t)(0x80 + i));
    }
    g->n_authors = LDG_MAX_GENESIS_AUTHORS;
    g->alg_rules[0] = (ldg_alg_rule){1, LDG_SIG_SECP256K1_SCHNORR, LDG_ALG_DISABLED, 0};
    g->alg_rules[1] = (ldg_alg_rule){1, LDG_SIG_P256_ECDSA, LDG_ALG_DEPRECATED, 100};
    g->alg_rules[2] = (ldg_alg_rule){0, LDG_HASH_SHA256, LDG_ALG_DEPRECATED, 0};
    g->alg_rules[3] = (ldg_alg_rule){0, LDG_HASH_SHA3_256, LDG_ALG_ALLOWED, 0};
    g->n_alg_rules = 4;
    return g;
}

static void test_genesis_round_trip(void **state)
{
    fixture *f = *state;
    ldg_genesis *g = full_genesis(), *back = malloc(sizeof *back);
    char err[256];
    uint8_t *a, *b;
    size_t alen, blen;
    struct stat st;

    assert_non_null(back);
    assert_int_equal(node_genesis_save(P(f, "genesis.json"), g), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    int rc = node_genesis_load(f->path, back, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_string_equal(err, "");
    assert_memory_equal(back, g, sizeof *g);

    /* Saving what was loaded writes the same bytes. */
    assert_int_equal(node_genesis_save(P(f, "again.json"), back), 0);
    a = slurp(P(f, "genesis.json"), &alen);
    b = slurp(P(f, "again.json"), &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_int_equal(a[alen - 1], '\n');
    free(a);
    free(b);
    free(g);
    free(back);
}


/* The header's example, minimal: absent optional members take their defaults. */
static void test_genesis_defaults(void **state)
{
    fixture *f = *state;
    ldg_genesis g;
    char err[256];

    put_file(P(f, "g.json"), "{\"chain_id\": \"dev\", \"admin_threshold\": 1,\n"
                             " \"admins\": [" ADMIN "],\n"
                             " \"validators\": [{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY
                             "\"}]}");
    int rc = node_genesis_load(f->path, &g, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_string_equal(g.chain_id, "dev");
    assert_int_equal(g.hash_alg, LDG_HASH_SHA256);
    assert_int_equal(g.genesis_time_ms, 0);
    assert_int_equal(g.n_admins, 1);
    assert_int_equal(g.admins[0].alg, LDG_SIG_ED25519);
    assert_int_equal(g.admins[0].len, 32);
    assert_int_equal(g.admins[0].key[0], 0x11);
    assert_int_equal(g.n_validators, 1);
    assert_int_equal(g.validators[0].len, 33);
    assert_int_equal(g.validator_power[0], 1);
    static const ldg_pubkey none;
    assert_memory_equal(&g.validator_ids[0], &none, sizeof none); /* no identity */
    assert_int_equal(g.n_authors, 0);
    assert_int_equal(g.n_alg_rules, 0);
}

static void test_genesis_refusals(void **state)
{
    fixture *f = *state;
    char text[4096], err[256];
    static const struct {
        const char *admins, *validators, *extra; /* pieces of a genesis around a valid base */
        const char *full;                         /* or the whole file */
        const char *want;                         /* err must contain this */
    } rows[] = {
        /* syntax and structure */
        {.full = "{\"chain_id\": \"dev\",", .want = "line 1"},
        {.full = "{\"chain_id\": \"dev\"} trailing", .want = "line 1"},
        {.full = "[1, 2]", .want = "JSON object"},
        {.full = "", .want = "invalid JSON"},
        {.full = "{\"chain_id\": \"a\", \"chain_id\": \"b\"}", .want = "duplicate"},
        /* unknown keys, at the top and inside entries */
        {ADMIN, VALIDATOR, ", \"chain_idd\": \"x\"", .want = "chain_idd: unknown key"},
        {"{\"alg\": \"ed25519\", \"key\": \"" ED_KEY "\", \"power\": 1}", VALIDATOR, "",
         .want = "admins[0].power: unknown key"},
        {ADMIN, VALIDATOR, ", \"authors\": [{\"product\": \"p\", \"name\": \"n\", \"alg\": "
                           "\"ed25519\", \"key\": \"" ED_KEY "\", \"email\": \"x\"}]",
         .want = "authors[0].email: unknown key"},
        /* chain_id */
        {.full = "{\"admin_threshold\": 1, \"admins\": [" ADMIN "], \"validators\": [" VALIDATOR
                 "]}",
         .want = "chain_id: missing"},
        {.full = "{\"chain_id\": \"\", \"admin_threshold\": 1, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "chain_id: must be 1 to 64"},
        {.full = "{\"chain_id\": \"a b\", \"admin_threshold\": 1, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "chain_id: may only use"},
        {.full = "{\"chain_id\": "
                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
                 "\"admin_threshold\": 1, \"admins\": [" ADMIN "], \"validators\": [" VALIDATOR
                 "]}",
         .want = "chain_id: must be 1 to 64 characters, got 65"},
        {.full = "{\"chain_id\": 7, \"admin_threshold\": 1, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "chain_id: must be a string"},
        /* keys */
        {"{\"alg\": \"ed25519\", \"key\": \"zz" ED_KEY "\"}", VALIDATOR, "",
         .want = "admins[0].key: must be a hex string"},
        {"{\"alg\": \"ed25519\", \"key\": \"1" ED_KEY "\"}", VALIDATOR, "",
         .want = "admins[0].key: must be a hex string"},
        {ADMIN2, VALIDATOR, "", .want = "admins[0].key: ed25519 public key is 32 bytes, got 33"},
        {ADMIN, "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" ED_KEY "\"}", "",
         .want = "validators[0].key: secp256k1-ecdsa public key is 33 bytes, got 32"},
        {"{\"alg\": \"ed25519\"}", VALIDATOR, "", .want = "admins[0].key: missing"},
        {"\"" ED_KEY "\"", VALIDATOR, "", .want = "admins[0]: must be an object"},
        /* algorithms */
        {"{\"alg\": \"rsa-2048\", \"key\": \"" ED_KEY "\"}", VALIDATOR, "",
         .want = "admins[0].alg: unknown signature algorithm \"rsa-2048\""},
        {"{\"alg\": \"sha256\", \"key\": \"" ED_KEY "\"}", VALIDATOR, "",
         .want = "admins[0].alg: unknown signature algorithm"},
        {"{\"alg\": \"ED25519\", \"key\": \"" ED_KEY "\"}", VALIDATOR, "",
         .want = "admins[0].alg: unknown signature algorithm"},
        {ADMIN, VALIDATOR, ", \"hash\": \"md5\"", .want = "hash: unknown hash algorithm \"md5\""},
        {ADMIN, VALIDATOR, ", \"algorithms\": [{\"name\": \"rot13\", \"status\": \"disabled\"}]",
         .want = "algorithms[0].name: unknown algorithm"},
        {ADMIN, VALIDATOR, ", \"algorithms\": [{\"name\": \"p256-ecdsa\", \"status\": \"gone\"}]",
         .want = "algorithms[0].status: must be"},
        {ADMIN, VALIDATOR,
         ", \"algorithms\": [{\"name\": \"p256-ecdsa\", \"status\": \"disabled\", "
         "\"from_height\": 5}]",
         .want = "algorithms[0].from_height: only applies"},
        {ADMIN, VALIDATOR,
         ", \"algorithms\": [{\"name\": \"p256-ecdsa\", \"status\": \"disabled\"}, "
         "{\"name\": \"p256-ecdsa\", \"status\": \"allowed\"}]",
         .want = "algorithms[1].name: \"p256-ecdsa\" already has a rule"},
        {ADMIN, VALIDATOR, ", \"algorithms\": [{\"name\": \"sha256\", \"status\": \"disabled\"}]",
         .want = "algorithms[0].status: \"sha256\" is the chain hash"},
        {ADMIN, VALIDATOR, ", \"algorithms\": [{\"name\": \"ed25519\", \"status\": \"disabled\"}]",
         .want = "admins[0].alg: ed25519 is disabled"},
        /* threshold */
        {.full = "{\"chain_id\": \"dev\", \"admin_threshold\": 0, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "admin_threshold: must be between 1 and 1, got 0"},
        {.full = "{\"chain_id\": \"dev\", \"admin_threshold\": 2, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "admin_threshold: must be between 1 and 1, got 2"},
        {.full = "{\"chain_id\": \"dev\", \"admin_threshold\": 1.0, \"admins\": [" ADMIN
                 "], \"validators\": [" VALIDATOR "]}",
         .want = "admin_threshold: must be an integer"},
        {.full = "{\"chain_id\": \"dev\", \"admins\": [" ADMIN "], \"validators\": [" VALIDATOR
                 "]}",
         .want = "admin_threshold: missing"},
        /* array sizes and duplicates */
        {"", VALIDATOR, "", .want = "admins: must have 1 to 8 entries, got 0"},
        {ADMIN "," ADMIN "," ADMIN "," ADMIN "," ADMIN "," ADMIN "," ADMIN "," ADMIN "," ADMIN,
         VALIDATOR, "", .want = "admins: must have 1 to 8 entries, got 9"},
        {ADMIN, "", "", .want = "validators: must have 1 to 32 entries, got 0"},
        {ADMIN "," ADMIN, VALIDATOR, "", .want = "admins[1].key: same key as admins[0]"},
        {ADMIN, VALIDATOR "," VALIDATOR, "", .want = "validators[1].key: same key"},
        {.full = "{\"chain_id\": \"dev\", \"admin_threshold\": 1, \"admins\": {}, "
                 "\"validators\": [" VALIDATOR "]}",
         .want = "admins: must be an array"},
        /* numbers */
        {ADMIN, "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"power\": 0}", "",
         .want = "validators[0].power: must be between 1"},
        {ADMIN, "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"power\": \"1\"}", "",
         .want = "validators[0].power: must be an integer"},
        {ADMIN, "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY
                "\", \"power\": 9007199254740991}, {\"alg\": \"ed25519\", \"key\": \"" ED_KEY
                "\"}",
         "", .want = "validators[1].power: total validator power exceeds"},
        {ADMIN, VALIDATOR, ", \"genesis_time_ms\": -1", .want = "genesis_time_ms: must be"},
        /* authors */
        {ADMIN, VALIDATOR, ", \"authors\": [{\"product\": \"a b\", \"name\": \"n\", \"alg\": "
                           "\"ed25519\", \"key\": \"" ED_KEY "\"}]",
         .want = "authors[0].product: must be"},
        {ADMIN, VALIDATOR, ", \"authors\": [{\"product\": \"p\", \"name\": \"\", \"alg\": "
                           "\"ed25519\", \"key\": \"" ED_KEY "\"}]",
         .want = "authors[0].name: must be"},
        {ADMIN, VALIDATOR, ", \"authors\": [{\"product\": \"p\", \"name\": \"a\\nb\", \"alg\": "
                           "\"ed25519\", \"key\": \"" ED_KEY "\"}]",
         .want = "authors[0].name: must be"},
        {ADMIN, VALIDATOR, ", \"authors\": [{\"product\": \"p\", \"name\": \"n\", \"alg\": "
                           "\"ed25519\", \"key\": \"" ED_KEY "\"}, {\"product\": \"p\", \"name\": "
                           "\"m\", \"alg\": \"ed25519\", \"key\": \"" ED_KEY "\"}]",
         .want = "authors[1].key: same product and key as authors[0]"},
        {ADMIN, VALIDATOR, ", \"authors\": {}", .want = "authors: must be an array"},
        /* validator identities */
        {ADMIN, VALIDATOR_ID(K1_ALG, K1_KEY), "",
         .want = "validators[0].identity.alg: secp256k1-ecdsa cannot be a node identity key "
                 "(TLS 1.3 needs ed25519 or p256-ecdsa)"},
        {ADMIN, VALIDATOR_ID(ED_ALG, ED_KEY "00"), "",
         .want = "validators[0].identity.key: ed25519 public key is 32 bytes, got 33"},
        {ADMIN,
         "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"identity\": \"" ID1 "\"}",
         "", .want = "validators[0].identity: must be an object"},
        {ADMIN,
         "{\"alg\": \"secp256k1-ecdsa\", \"key\": \"" K1_KEY "\", \"identity\": {\"alg\": "
         "\"ed25519\", \"key\": \"" ID1 "\", \"port\": 1}}",
         "", .want = "validators[0].identity.port: unknown key"},
        {ADMIN, VALIDATOR_ID(ED_ALG, ID1) "," VALIDATOR2_ID(ED_ALG, ID1), "",
         .want = "validators[1].identity.key: same identity as validators[0]"},
        {ADMIN, VALIDATOR_ID(ED_ALG, ID1) "," VALIDATOR2, "",
         .want = "validators[1].identity: missing (validators[0] has one"},
        {ADMIN, VALIDATOR "," VALIDATOR2_ID(ED_ALG, ID1), "",
         .want = "validators[1].identity: validators[0] has none"},
        {ADMIN,
         "{\"alg\": \"ed25519\", \"key\": \"" ID1 "\", \"identity\": {\"alg\": "
         "\"ed25519\", \"key\": \"" ID1 "\"}}",
         "", .want = "validators[0].identity.key: the voting key of validators[0]"},
        {ADMIN,
         "{\"alg\": \"ed25519\", \"key\": \"" ID1 "\", \"identity\": {\"alg\": "
         "\"ed25519\", \"key\": \"" ID2 "\"}}," VALIDATOR2_ID(ED_ALG, ID1),
         "", .want = "validators[1].identity.key: the voting key of validators[0]"},
        {ADMIN,
         VALIDATOR_ID(ED_ALG, ID1) ", {\"alg\": \"ed25519\", \"key\": \"" ID1
                                   "\", \"identity\": {\"alg\": \"ed25519\", \"key\": \"" ID2
                                   "\"}}",
         "", .want = "validators[1].key: the identity key of validators[0]"},
        {ADMIN, VALIDATOR_ID(P256_ALG, P256_KEY),
         ", \"algorithms\": [{\"name\": \"p256-ecdsa\", \"status\": \"disabled\"}]",
         .want = "validators[0].identity.alg: p256-ecdsa is disabled"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        ldg_genesis g;
        if (rows[i].full)
            snprintf(text, sizeof text, "%s", rows[i].full);
        else
            snprintf(text, sizeof text,
                     "{\"chain_id\": \"dev\", \"admin_threshold\": 1, \"admins\": [%s], "
                     "\"validators\": [%s]%s}",
                     rows[i].admins, rows[i].validators, rows[i].extra);
        put_file(P(f, "g.json"), text);
        memset(&g, 0x5A, sizeof g);
        int rc = node_genesis_load(f->path, &g, err, sizeof err);
        CHECK(rc == NODE_ECONFIG, "row %zu: rc %d (%s), want NODE_ECONFIG; file: %s", i, rc,
              err, text);
        CHECK(strstr(err, rows[i].want), "row %zu: err \"%s\" lacks \"%s\"", i, err,
              rows[i].want);
        static const ldg_genesis zero;
        CHECK(!memcmp(&g, &zero, sizeof g), "row %zu: output not zeroed", i);
    }
}

static void test_genesis_file_errors(void **state)
{
    fixture *f = *state;
    ldg_genesis g;
    char err[256];

    /* Over 1 MiB: refused from its size, before jansson sees it. */
    size_t n = (1u << 20) + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    put_file(P(f, "big.json"), big);
    free(big);
    assert_int_equal(node_genesis_load(f->path, &g, err, sizeof err), LDG_ETOOBIG);
    assert_non_null(strstr(err, "larger than 1048576 bytes"));

    assert_int_equal(node_genesis_load(P(f, "missing.json"), &g, err, sizeof err), LDG_EIO);
    assert_non_null(strstr(err, "missing.json"));
    assert_non_null(strstr(err, "No such file"));

    /* err is optional, and a short one is truncated, never overrun. */
    put_file(P(f, "bad.json"), "{");
    assert_int_equal(node_genesis_load(f->path, &g, NULL, 0), NODE_ECONFIG);
    char tiny[8];
    memset(tiny, 'z', sizeof tiny);
    assert_int_equal(node_genesis_load(f->path, &g, tiny, 5), NODE_ECONFIG);
    assert_int_equal(strlen(tiny), 4);
    assert_int_equal(tiny[5], 'z');

    assert_int_equal(node_genesis_load(NULL, &g, err, sizeof err), LDG_EINVALID);
    assert_int_equal(node_genesis_load(f->path, NULL, err, sizeof err), LDG_EINVALID);
}

/* The saver refuses what the loader would refuse, and writes nothing then. */
static void test_genesis_save_refusals(void **state)
{
    fixture *f = *state;
    ldg_genesis *g = full_genesis();
    const char *path = P(f, "g.json");

    g->admin_threshold = 0;
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->admin_threshold = LDG_MAX_ADMINS + 1;
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->admin_threshold = 1;

    g->admins[3].alg = 99;
    assert_int_equal(node_genesis_save(path, g), LDG_EUNKNOWN_ALG);
    g->admins[3].alg = LDG_SIG_ED25519;
    g->admins[3].len = 31; /* not the algorithm's length */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->admins[3].len = 32;

    g->n_admins = LDG_MAX_ADMINS + 1;
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->n_admins = LDG_MAX_ADMINS;

    memset(g->chain_id, 'a', sizeof g->chain_id); /* no NUL */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    strcpy(g->chain_id, "dev");

    g->alg_rules[0].from_height = 7; /* on a "disabled" rule: would be dropped */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->alg_rules[0].from_height = 0;
    g->alg_rules[0].status = (ldg_alg_status)7;
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->alg_rules[0].status = LDG_ALG_DISABLED;

    g->validator_power[3] = 0;
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->validator_power[3] = 1;

    g->validator_ids[3].alg = 0; /* "none", with a length */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    memset(&g->validator_ids[3], 0, sizeof g->validator_ids[3]); /* some with, some without */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    fill_key(&g->validator_ids[3], LDG_SIG_SECP256K1_ECDSA, 0xee); /* not TLS-capable */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    g->validator_ids[3].alg = 99;
    assert_int_equal(node_genesis_save(path, g), LDG_EUNKNOWN_ALG);
    g->validator_ids[3] = g->validator_ids[4]; /* a duplicate */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    fill_key(&g->validator_ids[3], LDG_SIG_ED25519, 0xee);

    strcpy(g->authors[0].name, "\xff\xfe"); /* not UTF-8 */
    assert_int_equal(node_genesis_save(path, g), LDG_EINVALID);
    strcpy(g->authors[0].name, "ok");

    assert_int_equal(count_entries(f->dir), 0);
    assert_int_equal(node_genesis_save(path, g), 0);
    assert_int_equal(count_entries(f->dir), 1);
    free(g);
}

/* ---------------------------------------------------------------------------------------- */
/* Keys                                                                                      */

static void test_key_round_trip(void **state)
{
    fixture *f = *state;
    char err[256];
    struct stat st;
    size_t algs = 0;

    for (size_t i = 0; ldg_sig_at(i); i++, algs++) {
        const ldg_sig_impl *impl = ldg_sig_at(i);
        node_key k, k2, back;
        char name[64];

        assert_int_equal(node_key_generate(impl->id, &k), 0);
        assert_int_equal(node_key_generate(impl->id, &k2), 0);
        assert_int_equal(k.alg, impl->id);
        assert_int_equal(k.pub.alg, impl->id);
        assert_int_equal(k.pub.len, impl->pub_len);
        assert_memory_not_equal(k.sec, k2.sec, impl->sec_len); /* fresh entropy each time */

        snprintf(name, sizeof name, "%s.key", impl->name);
        mode_t old = umask(0); /* the file is 0600 whatever the umask */
        assert_int_equal(node_key_save(P(f, name), &k), 0);
        umask(old);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        int rc = node_key_load(f->path, &back, err, sizeof err);
        CHECK(rc == 0, "%s: load %d %s", impl->name, rc, err);
        assert_memory_equal(&back, &k, sizeof k);

        /* The loaded key signs, and the public key verifies it. */
        uint8_t digest[32], sig[LDG_SIG_MAX];
        memset(digest, 0x42, sizeof digest);
        assert_int_equal(impl->sign(back.sec, digest, NULL, sig), 0);
        assert_int_equal(impl->verify(k.pub.key, k.pub.len, digest, sig, impl->sig_len), 0);
    }
    assert_int_equal(algs, 4);

    node_key k;
    memset(&k, 0x77, sizeof k);
    assert_int_equal(node_key_generate(99, &k), LDG_EUNKNOWN_ALG);
    static const node_key zero;
    assert_memory_equal(&k, &zero, sizeof k);
    assert_int_equal(node_key_generate(LDG_SIG_ED25519, NULL), LDG_EINVALID);
}

static void test_key_refusals(void **state)
{
    fixture *f = *state;
    node_key k, other;
    char sec[2 * LDG_SECKEY_MAX + 1], pub[2 * LDG_PUBKEY_MAX + 1], opub[2 * LDG_PUBKEY_MAX + 1];
    char text[1024], err[256];

    assert_int_equal(node_key_generate(LDG_SIG_ED25519, &k), 0);
    assert_int_equal(node_key_generate(LDG_SIG_ED25519, &other), 0);
    node_hex(k.sec, 32, sec);
    node_hex(k.pub.key, 32, pub);
    node_hex(other.pub.key, 32, opub);

    struct {
        const char *alg, *sec, *pub, *extra, *want;
    } rows[] = {
        {"ed25519", sec, opub, "", "public: does not match the secret key"},
        {"ed25519", sec, pub, ", \"seed\": \"00\"", "seed: unknown key"},
        {"ed448", sec, pub, "", "alg: unknown signature algorithm \"ed448\""},
        {"ed25519", "00", pub, "", "secret: ed25519 secret key is 32 bytes, got 1"},
        {"ed25519", sec, "00", "", "public: ed25519 public key is 32 bytes, got 1"},
        {"ed25519", "xyz", pub, "", "secret: must be a hex string"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        snprintf(text, sizeof text, "{\"alg\": \"%s\", \"secret\": \"%s\", \"public\": \"%s\"%s}",
                 rows[i].alg, rows[i].sec, rows[i].pub, rows[i].extra);
        put_file(P(f, "k.key"), text);
        node_key back;
        memset(&back, 0x5A, sizeof back);
        int rc = node_key_load(f->path, &back, err, sizeof err);
        CHECK(rc == NODE_ECONFIG, "row %zu: rc %d (%s)", i, rc, err);
        CHECK(strstr(err, rows[i].want), "row %zu: err \"%s\" lacks \"%s\"", i, err,
              rows[i].want);
        static const node_key zero;
        CHECK(!memcmp(&back, &zero, sizeof back), "row %zu: output not wiped", i);
    }

    /* A secp256k1 secret of zero is no key at all. */
    node_key z;
    assert_int_equal(node_key_generate(LDG_SIG_SECP256K1_ECDSA, &z), 0);
    node_hex(z.pub.key, z.pub.len, pub);
    snprintf(text, sizeof text,
             "{\"alg\": \"secp256k1-ecdsa\", \"secret\": \"%064d\", \"public\": \"%s\"}", 0, pub);
    put_file(P(f, "k.key"), text);
    assert_int_equal(node_key_load(f->path, &z, err, sizeof err), NODE_ECONFIG);
    assert_non_null(strstr(err, "secret: not a valid secp256k1-ecdsa secret key"));

    /* The saver refuses a key that would not load back, and writes nothing. */
    const char *path = P(f, "bad.key");
    memcpy(&other.sec, k.sec, sizeof k.sec);
    assert_int_equal(node_key_save(path, &other), LDG_EINVALID); /* public of another key */
    k.pub.len = 31;
    assert_int_equal(node_key_save(path, &k), LDG_EINVALID);
    k.pub.len = 32;
    k.pub.alg = LDG_SIG_P256_ECDSA;
    assert_int_equal(node_key_save(path, &k), LDG_EINVALID);
    k.alg = k.pub.alg = 99;
    assert_int_equal(node_key_save(path, &k), LDG_EUNKNOWN_ALG);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_hex),
        T(test_read_write_file),
        T(test_strerror),
        T(test_genesis_round_trip),
        T(test_genesis_defaults),
        T(test_genesis_refusals),
        T(test_genesis_file_errors),
        T(test_genesis_save_refusals),
        T(test_key_round_trip),
        T(test_key_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
