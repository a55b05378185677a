/* Unit tests for the node config file (node/files/files.c, config_rpc.c): round trips,
 * paths, every refusal, cluster members, the checks against the genesis and keys. Each test
 * works in its own mkdtemp directory. */
#include "tests/node/files_fixture.h"

/* ---------------------------------------------------------------------------------------- */
/* Config                                                                                    */

static void test_config_round_trip(void **state)
{
    fixture *f = *state;
    node_config c, back;
    char err[256];

    node_config_defaults(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s/data dir", f->dir);
    snprintf(c.genesis, sizeof c.genesis, "%s/genesis.json", f->dir);
    snprintf(c.validator_key, sizeof c.validator_key, "/etc/fwledger/v.key");
    strcpy(c.rpc_host, "::1");
    c.rpc_port = 65535;
    c.block_interval_ms = 1;
    c.max_block_txs = LDG_BLOCK_MAX_TXS;
    c.mempool_max = 7;
    c.max_clients = 3;
    snprintf(c.audit_log, sizeof c.audit_log, "/var/log/fwledger/audit.log");
    c.audit_log_max_bytes = NODE_AUDIT_MAX_BYTES_MAX;
    c.audit_log_keep = NODE_AUDIT_KEEP_MAX;
    assert_int_equal(node_config_save(P(f, "node.json"), &c), 0);
    int rc = node_config_load(f->path, &back, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_memory_equal(&back, &c, sizeof c);

    uint8_t *text;
    size_t len;
    text = slurp(f->path, &len);
    assert_non_null(strstr((char *)text, "\"rpc_listen\": \"[::1]:65535\""));
    /* The hash of the bytes parsed, for the audit log; zero when the load fails. */
    uint8_t sha[32], want[32];
    SHA256(text, len, want);
    free(text);
    assert_int_equal(node_config_load_hashed(f->path, &back, sha, err, sizeof err), 0);
    assert_memory_equal(sha, want, 32);
    assert_memory_equal(&back, &c, sizeof c);
    assert_int_equal(node_config_load_hashed(P(f, "none.json"), &back, sha, err, sizeof err),
                     LDG_EIO);
    memset(want, 0, sizeof want);
    assert_memory_equal(sha, want, 32);

    strcpy(c.rpc_host, "node-1.example");
    assert_int_equal(node_config_save(f->path, &c), 0);
    assert_int_equal(node_config_load(f->path, &back, err, sizeof err), 0);
    assert_memory_equal(&back, &c, sizeof c);

    /* The saver refuses what would not load back. */
    c.rpc_port = 0;
    assert_int_equal(node_config_save(P(f, "bad.json"), &c), LDG_EINVALID);
    c.rpc_port = 1;
    c.block_interval_ms = 0;
    assert_int_equal(node_config_save(f->path, &c), LDG_EINVALID);
    c.block_interval_ms = 50;
    c.data_dir[0] = '\0';
    assert_int_equal(node_config_save(f->path, &c), LDG_EINVALID);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_config_paths(void **state)
{
    fixture *f = *state;
    node_config c, want;
    char err[256], sub[sizeof f->dir + 8];

    /* Relative paths, given or defaulted, are relative to the config file's directory. */
    snprintf(sub, sizeof sub, "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put_file(P(f, "sub/node.json"),
             "{\"data_dir\": \"d\", \"genesis\": \"../g.json\", \"rpc_listen\": \"0.0.0.0:9\", "
             "\"audit_log\": \"log/audit.log\"}");
    int rc = node_config_load(f->path, &c, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    node_config_defaults(&want);
    snprintf(want.data_dir, sizeof want.data_dir, "%s/d", sub);
    snprintf(want.genesis, sizeof want.genesis, "%s/../g.json", sub);
    snprintf(want.validator_key, sizeof want.validator_key, "%s/validator.key", sub);
    snprintf(want.audit_log, sizeof want.audit_log, "%s/log/audit.log", sub);
    strcpy(want.rpc_host, "0.0.0.0");
    want.rpc_port = 9;
    assert_memory_equal(&c, &want, sizeof c);

    /* An empty file is all defaults; a config in the current directory leaves them as is. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(sub), 0);
    put_file("node.json", "{}");
    rc = node_config_load("node.json", &c, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    CHECK(rc == 0, "load: %d %s", rc, err);
    node_config_defaults(&want);
    assert_memory_equal(&c, &want, sizeof c);
    assert_string_equal(c.data_dir, "data");
    assert_string_equal(c.rpc_host, "127.0.0.1");
    assert_int_equal(c.rpc_port, 7400);

    /* A path that only becomes too long once resolved. */
    char longp[4200];
    memset(longp, 'a', 4090);
    longp[4090] = '\0';
    char text[4300];
    snprintf(text, sizeof text, "{\"data_dir\": \"%s\"}", longp);
    put_file(P(f, "sub/node.json"), text);
    assert_int_equal(node_config_load(f->path, &c, err, sizeof err), NODE_ECONFIG);
    assert_non_null(strstr(err, "data_dir: longer than 4095 bytes once resolved"));
}

/* A config with p2p on, and a peer entry. */
#define P2P "\"identity_key\": \"n.key\", \"p2p_listen\": \"127.0.0.1:7500\""
#define PEER(addr, alg, key)                                                                 \
    "{\"address\": \"" addr "\", \"identity\": {\"alg\": \"" alg "\", \"key\": \"" key "\"}}"
#define NAMED(addr, key, name)                                                               \
    "{\"address\": \"" addr "\", \"identity\": {\"alg\": \"ed25519\", \"key\": \"" key          \
    "\"}, \"name\": " name "}"

static void test_config_refusals(void **state)
{
    fixture *f = *state;
    char text[1024], err[512];
    static const struct {
        const char *body, *want;
    } rows[] = {
        {"\"data-dir\": \"d\"", "data-dir: unknown key"},
        {"\"data_dir\": \"\"", "data_dir: must not be empty"},
        {"\"data_dir\": 1", "data_dir: must be a string"},
        {"\"genesis\": null", "genesis: must be a string"},
        {"\"rpc_listen\": \"localhost\"", "rpc_listen: must be \"host:port\""},
        {"\"rpc_listen\": \":7400\"", "rpc_listen: host must be"},
        {"\"rpc_listen\": \"localhost:0\"", "rpc_listen: port must be 1 to 65535"},
        {"\"rpc_listen\": \"localhost:65536\"", "rpc_listen: port must be"},
        {"\"rpc_listen\": \"localhost:\"", "rpc_listen: port must be"},
        {"\"rpc_listen\": \"localhost:+80\"", "rpc_listen: port must be"},
        {"\"rpc_listen\": \"::1:7400\"", "rpc_listen: an IPv6 host must be in brackets"},
        {"\"rpc_listen\": \"a b:7400\"", "rpc_listen: invalid character"},
        {"\"empty_block_interval_ms\": 86400001", "empty_block_interval_ms: must be between 0"},
        {"\"block_interval_ms\": 0", "block_interval_ms: must be between 1"},
        {"\"block_interval_ms\": \"50\"", "block_interval_ms: must be an integer"},
        {"\"max_block_txs\": 8193", "max_block_txs: must be between 1 and 8192"},
        {"\"mempool_max\": -1", "mempool_max: must be between"},
        {"\"max_clients\": 0", "max_clients: must be between"},
        {"\"max_clients\": 1, \"max_clients\": 2", "duplicate"},
        {"\"audit_log\": \"\"", "audit_log: must not be empty"},
        {"\"audit_log_max_bytes\": 65535", "audit_log_max_bytes: must be between 65536"},
        {"\"audit_log_max_bytes\": 1099511627777", "audit_log_max_bytes: must be between"},
        {"\"audit_log_keep\": 0", "audit_log_keep: must be between 1 and 1000"},
        {"\"audit_log_keep\": 1001", "audit_log_keep: must be between"},
        /* identity key and p2p */
        {"\"identity_key\": \"\"", "identity_key: must not be empty"},
        {"\"p2p_listen\": \"127.0.0.1:7500\"",
         "identity_key: missing (required with p2p_listen"},
        {P2P ", \"p2p_listen\": \"127.0.0.1:7500\"", "duplicate"},
        {"\"identity_key\": \"n.key\", \"p2p_listen\": \"localhost:7500\"",
         "p2p_listen: host must be a numeric IPv4 address or an IPv6 address in brackets"},
        {"\"identity_key\": \"n.key\", \"p2p_listen\": \"[10.0.0.1]:7500\"",
         "p2p_listen: host must be a numeric"},
        {"\"identity_key\": \"n.key\", \"p2p_listen\": \"::1:7500\"",
         "p2p_listen: an IPv6 host must be in brackets"},
        {"\"identity_key\": \"n.key\", \"p2p_listen\": \"127.0.0.1:0\"",
         "p2p_listen: port must be 1 to 65535"},
        {"\"identity_key\": \"n.key\", \"p2p_listen\": 7500", "p2p_listen: must be a string"},
        /* peers */
        {"\"peers\": [" PEER("127.0.0.1:7501", ED_ALG, ID1) "]",
         "peers: given without p2p_listen"},
        {P2P ", \"peers\": {}", "peers: must be an array"},
        {P2P ", \"peers\": [\"127.0.0.1:7501\"]", "peers[0]: must be an object"},
        {P2P ", \"peers\": [{\"address\": \"127.0.0.1:7501\"}]", "peers[0].identity: missing"},
        {P2P ", \"peers\": [{\"identity\": {\"alg\": \"ed25519\", \"key\": \"" ID1 "\"}}]",
         "peers[0].address: missing"},
        {P2P ", \"peers\": [{\"address\": \"127.0.0.1:7501\", \"port\": 7501, \"identity\": "
             "{\"alg\": \"ed25519\", \"key\": \"" ID1 "\"}}]",
         "peers[0].port: unknown key"},
        {P2P ", \"peers\": [" PEER("127.0.0.1", ED_ALG, ID1) "]",
         "peers[0].address: must be \"host:port\""},
        {P2P ", \"peers\": [" PEER("node-1.example:7501", ED_ALG, ID1) "]",
         "peers[0].address: host must be a numeric"},
        {P2P ", \"peers\": [" PEER("127.0.0.1:65536", ED_ALG, ID1) "]",
         "peers[0].address: port must be 1 to 65535"},
        {P2P ", \"peers\": [" PEER("0.0.0.0:7501", ED_ALG, ID1) "]",
         "peers[0].address: 0.0.0.0 is not an address to connect to"},
        {P2P ", \"peers\": [" PEER("[::]:7501", ED_ALG, ID1) "]",
         "peers[0].address: :: is not an address to connect to"},
        {P2P ", \"peers\": [" PEER("127.0.0.1:7501", K1_ALG, K1_KEY) "]",
         "peers[0].identity.alg: secp256k1-ecdsa cannot be a node identity key (TLS 1.3 needs "
         "ed25519 or p256-ecdsa)"},
        {P2P ", \"peers\": [" PEER("127.0.0.1:7501", "rsa", ID1) "]",
         "peers[0].identity.alg: unknown signature algorithm \"rsa\""},
        {P2P ", \"peers\": [" PEER("127.0.0.1:7501", ED_ALG, ID1 "00") "]",
         "peers[0].identity.key: ed25519 public key is 32 bytes, got 33"},
        {P2P ", \"peers\": [" PEER("127.0.0.1:7501", ED_ALG, ID1) ", " PEER(
             "127.0.0.1:7502", ED_ALG, ID2) ", " PEER("127.0.0.1:7503", ED_ALG, ID1) "]",
         "peers[2].identity: same identity as peers[0]"},
        {P2P ", \"peers\": [" PEER("[::1]:7501", ED_ALG, ID1) ", " PEER("[0:0::1]:7501", ED_ALG,
                                                                       ID2) "]",
         "peers[1].address: same address as peers[0]"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1, "\"\"") "]",
         "peers[0].name: must be 1 to 31 of A-Z a-z 0-9 . _ -"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1, "\"node 1\"") "]",
         "peers[0].name: must be 1 to 31"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1, "\"n\\u00e9\"") "]",
         "peers[0].name: must be 1 to 31"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1,
                                    "\"abcdefghijklmnopqrstuvwxyz0123456\"") "]",
         "peers[0].name: must be 1 to 31"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1, "7") "]",
         "peers[0].name: must be a string"},
        {P2P ", \"peers\": [" NAMED("127.0.0.1:7501", ID1, "\"a\"") ", " NAMED(
             "127.0.0.1:7502", ID2, "\"a\"") "]",
         "peers[1].name: same name as peers[0]"},
        {"\"peer_timeout_ms\": 999", "peer_timeout_ms: must be between 1000 and 300000, got 999"},
        {"\"peer_timeout_ms\": 300001", "peer_timeout_ms: must be between 1000 and 300000"},
        {"\"rpc_max_clients_per_ip\": 0", "rpc_max_clients_per_ip: must be between 1 and"},
        {"\"rpc_idle_timeout_ms\": 99", "rpc_idle_timeout_ms: must be between 100 and"},
        {"\"rpc_request_timeout_ms\": 86400001", "rpc_request_timeout_ms: must be between"},
        {"\"rpc_rate_requests\": 100000001", "rpc_rate_requests: must be between 0 and"},
        {"\"rpc_rate_decisions\": -1", "rpc_rate_decisions: must be between 0 and"},
        {"\"rpc_rate_requests_key\": 1e9", "rpc_rate_requests_key: must be"},
        {"\"rpc_rate_decisions_key\": 100000001", "rpc_rate_decisions_key: must be between"},
        {"\"rpc_plaintext\": true, \"rpc_listen\": \"0.0.0.0:1\"", "rpc_plaintext: only with a loopback"},
        {"\"rpc_tls_cert\": \"c.pem\"", "rpc_tls_key: missing"},
        {"\"rpc_client_auth\": \"maybe\"", "rpc_client_auth: must be"},
        {"\"rpc_require\": {\"eligible\": \"root\"}", "rpc_require.eligible: must be"},
        {"\"rpc_require\": {\"frob\": \"tracker\"}", "rpc_require.frob: not a request kind"},
        {"\"rpc_client_auth\": \"none\", \"rpc_require\": {\"eligible\": \"tracker\"}", "rpc_require: needs client certificates"},
        /* consensus timeouts and sync */
        {"\"timeout_propose_ms\": 0", "timeout_propose_ms: must be between 1 and 60000, got 0"},
        {"\"timeout_propose_delta_ms\": 60001", "timeout_propose_delta_ms: must be between 1"},
        {"\"timeout_prevote_ms\": -5", "timeout_prevote_ms: must be between 1 and 60000"},
        {"\"timeout_prevote_delta_ms\": 0", "timeout_prevote_delta_ms: must be between"},
        {"\"timeout_precommit_ms\": 1e3", "timeout_precommit_ms: must be an integer"},
        {"\"timeout_precommit_delta_ms\": 4294967296", "timeout_precommit_delta_ms: must be"},
        {"\"timeout_precommit\": 500", "timeout_precommit: unknown key"},
        {"\"sync_batch_blocks\": 0", "sync_batch_blocks: must be between 1 and 1024, got 0"},
        {"\"sync_batch_blocks\": 1025", "sync_batch_blocks: must be between 1 and 1024"},
        {"\"eligibility_cache\": 0", "eligibility_cache: must be between 1 and 10000000, got 0"},
        {"\"eligibility_cache\": 10000001", "eligibility_cache: must be between 1 and"},
        /* block time drift */
        {"\"block_time_drift_ms\": 99", "block_time_drift_ms: must be between 100 and 600000, got 99"},
        {"\"block_time_drift_ms\": 0", "block_time_drift_ms: must be between 100 and 600000"},
        {"\"block_time_drift_ms\": 600001", "block_time_drift_ms: must be between 100 and 600000"},
        {"\"block_time_drift_ms\": -5000", "block_time_drift_ms: must be between"},
        {"\"block_time_drift_ms\": \"5s\"", "block_time_drift_ms: must be an integer"},
        {"\"map_size_mib\": 0", "map_size_mib: must be between 1 and 4194304, got 0"},
        {"\"map_size_mib\": 4194305", "map_size_mib: must be between 1 and 4194304"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        node_config c;
        snprintf(text, sizeof text, "{%s}", rows[i].body);
        put_file(P(f, "node.json"), text);
        memset(&c, 0x5A, sizeof c);
        int rc = node_config_load(f->path, &c, err, sizeof err);
        CHECK(rc == NODE_ECONFIG, "row %zu: rc %d (%s)", i, rc, err);
        CHECK(strstr(err, rows[i].want), "row %zu: err \"%s\" lacks \"%s\"", i, err,
              rows[i].want);
        static const node_config zero;
        CHECK(!memcmp(&c, &zero, sizeof c), "row %zu: output not zeroed", i);
    }
}

/* A config with every new member set, peers at the limit. */
static void fill_cluster_config(node_config *c, const char *dir)
{
    node_config_defaults(c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s/data", dir);
    snprintf(c->genesis, sizeof c->genesis, "%s/genesis.json", dir);
    snprintf(c->validator_key, sizeof c->validator_key, "%s/validator.key", dir);
    snprintf(c->identity_key, sizeof c->identity_key, "%s/node key", dir);
    strcpy(c->p2p_host, "::1");
    c->p2p_port = 7501;
    for (size_t i = 0; i < NODE_MAX_PEERS; i++) {
        node_peer *p = &c->peers[i];
        if (i % 2)
            snprintf(p->host, sizeof p->host, "10.0.%zu.%zu", i / 256, i % 256);
        else
            snprintf(p->host, sizeof p->host, "fd00::%zx", i + 1);
        p->port = (int)(7000 + i);
        fill_key(&p->identity, i % 3 ? LDG_SIG_ED25519 : LDG_SIG_P256_ECDSA, (uint8_t)(i + 1));
        if (i % 4 == 0) { /* the longest, or none */
            snprintf(p->name, sizeof p->name, "peer.%02zu_", i);
            size_t l = strlen(p->name);
            memset(p->name + l, 'x', NODE_PEER_NAME_MAX - 1 - l);
        }
    }
    c->n_peers = NODE_MAX_PEERS;
    c->peer_timeout_ms = NODE_PEER_TIMEOUT_MAX_MS;
    c->rpc_max_clients_per_ip = 3;
    c->rpc_idle_timeout_ms = NODE_RPC_TIMEOUT_MAX_MS;
    c->rpc_request_timeout_ms = NODE_RPC_TIMEOUT_MIN_MS;
    c->rpc_rate_requests = 0;
    c->rpc_rate_decisions = NODE_RPC_RATE_MAX;
    c->rpc_rate_requests_key = 7;
    c->rpc_rate_decisions_key = 0;
    c->rpc_client_auth = NODE_RPC_AUTH_REQUIRED;
    c->rpc_require[fwl_Request_eligible_tag - fwl_Request_submit_tx_tag] = NODE_RPC_ROLE_TRACKER;
    strcpy(c->rpc_tls_cert, "/etc/fwledger/rpc.pem");
    strcpy(c->rpc_tls_key, "/etc/fwledger/rpc.key");
    c->timeout_propose_ms = NODE_TIMEOUT_MAX_MS;
    c->timeout_propose_delta_ms = NODE_TIMEOUT_MIN_MS;
    c->timeout_prevote_ms = 2;
    c->timeout_prevote_delta_ms = 3;
    c->timeout_precommit_ms = 4;
    c->timeout_precommit_delta_ms = 5;
    c->sync_batch_blocks = NODE_SYNC_BATCH_MAX;
    c->eligibility_cache = NODE_ELG_CACHE_MIN;
    c->block_time_drift_ms = NODE_DRIFT_MAX_MS;
    c->map_size_mib = NODE_MAP_SIZE_MAX_MIB;
}

static void test_config_cluster_round_trip(void **state)
{
    fixture *f = *state;
    node_config *c = malloc(sizeof *c), *back = malloc(sizeof *back);
    char err[256];
    uint8_t *text;
    size_t len;

    assert_non_null(c);
    assert_non_null(back);
    fill_cluster_config(c, f->dir);
    assert_int_equal(node_config_save(P(f, "node.json"), c), 0);
    int rc = node_config_load(f->path, back, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_memory_equal(back, c, sizeof *c);
    text = slurp(f->path, &len);
    assert_non_null(strstr((char *)text, "\"p2p_listen\": \"[::1]:7501\""));
    assert_non_null(strstr((char *)text, "\"address\": \"[fd00::1]:7000\""));
    assert_non_null(strstr((char *)text, "\"address\": \"10.0.0.1:7001\""));
    assert_non_null(strstr((char *)text, "\"timeout_propose_ms\": 60000"));
    assert_non_null(strstr((char *)text, "\"name\": \"peer.04_xxxxxxxxxxxxxxxxxxxxxxx\""));
    assert_non_null(strstr((char *)text, "\"peer_timeout_ms\": 300000"));
    free(text);

    /* A replica: validator_key "" is written and comes back "", not the default. (Set over
     * the default, as the loader does, so that the bytes after the NUL agree too.) */
    memset(c->validator_key, 0, sizeof c->validator_key);
    strcpy(c->validator_key, "validator.key");
    strcpy(c->validator_key, "");
    assert_int_equal(node_config_save(f->path, c), 0);
    rc = node_config_load(f->path, back, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_string_equal(back->validator_key, "");
    assert_memory_equal(back, c, sizeof *c);
    text = slurp(f->path, &len);
    assert_non_null(strstr((char *)text, "\"validator_key\": \"\""));
    free(text);

    /* Without p2p: no identity_key, p2p_listen or peers in the file, and the timeouts always. */
    node_config_defaults(c);
    assert_int_equal(node_config_save(f->path, c), 0);
    text = slurp(f->path, &len);
    assert_null(strstr((char *)text, "identity_key"));
    assert_null(strstr((char *)text, "p2p_listen"));
    assert_null(strstr((char *)text, "peers"));
    assert_non_null(strstr((char *)text, "\"timeout_precommit_delta_ms\": 250"));
    assert_non_null(strstr((char *)text, "\"sync_batch_blocks\": 64"));
    assert_non_null(strstr((char *)text, "\"eligibility_cache\": 250000"));
    assert_non_null(strstr((char *)text, "\"block_time_drift_ms\": 5000"));
    assert_non_null(strstr((char *)text, "\"map_size_mib\": 8192"));
    free(text);

    /* The saver refuses what would not load back the same, and writes nothing then. */
    const char *bad = P(f, "bad.json");
    fill_cluster_config(c, f->dir);
    c->n_peers = NODE_MAX_PEERS + 1;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    c->n_peers = NODE_MAX_PEERS;
    c->p2p_port = 0; /* a host without a port; peers without p2p */
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    c->p2p_host[0] = '\0';
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    c->n_peers = 0;
    assert_int_equal(node_config_save(bad, c), 0); /* identity key without p2p is fine */
    assert_int_equal(unlink(bad), 0);
    fill_cluster_config(c, f->dir);
    c->identity_key[0] = '\0'; /* p2p without an identity */
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->peers[5].identity.alg = 99;
    assert_int_equal(node_config_save(bad, c), LDG_EUNKNOWN_ALG);
    fill_key(&c->peers[5].identity, LDG_SIG_SECP256K1_SCHNORR, 5);
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->peers[9].identity = c->peers[3].identity;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    strcpy(c->peers[9].host, "localhost");
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    memset(c->peers[9].host, '1', sizeof c->peers[9].host); /* no NUL */
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->timeout_prevote_delta_ms = 0;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->sync_batch_blocks = NODE_SYNC_BATCH_MAX + 1;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->eligibility_cache = NODE_ELG_CACHE_MAX + 1;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->block_time_drift_ms = NODE_DRIFT_MIN_MS - 1;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->map_size_mib = 0;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    c->peer_timeout_ms = NODE_PEER_TIMEOUT_MIN_MS - 1;
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    strcpy(c->peers[8].name, "a b");
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    strcpy(c->peers[8].name, c->peers[4].name);
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    fill_cluster_config(c, f->dir);
    memset(c->peers[8].name, 'a', sizeof c->peers[8].name); /* no NUL */
    assert_int_equal(node_config_save(bad, c), LDG_EINVALID);
    assert_int_equal(access(bad, F_OK), -1);
    free(c);
    free(back);
}

/* Absent members take their defaults; validator_key absent is validator.key, "" a replica;
 * identity_key is resolved like the other paths. */
static void test_config_cluster_defaults(void **state)
{
    fixture *f = *state;
    node_config c;
    char err[256], want[4096];

    put_file(P(f, "node.json"), "{}");
    int rc = node_config_load(f->path, &c, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    snprintf(want, sizeof want, "%s/validator.key", f->dir);
    assert_string_equal(c.validator_key, want);
    assert_string_equal(c.identity_key, "");
    assert_string_equal(c.p2p_host, "");
    assert_int_equal(c.p2p_port, 0);
    assert_int_equal(c.n_peers, 0);
    assert_int_equal(c.timeout_propose_ms, 1000);
    assert_int_equal(c.timeout_propose_delta_ms, 500);
    assert_int_equal(c.timeout_prevote_ms, 500);
    assert_int_equal(c.timeout_prevote_delta_ms, 250);
    assert_int_equal(c.timeout_precommit_ms, 500);
    assert_int_equal(c.timeout_precommit_delta_ms, 250);
    assert_int_equal(c.sync_batch_blocks, 64);
    assert_int_equal(c.eligibility_cache, 250000);
    assert_int_equal(c.block_time_drift_ms, 5000);
    assert_int_equal(c.peer_timeout_ms, 4000);
    assert_int_equal(c.rpc_max_clients_per_ip, 64);
    assert_int_equal(c.rpc_idle_timeout_ms, 120000);

    put_file(P(f, "node.json"),
             "{\"validator_key\": \"\", \"identity_key\": \"node.key\", \"p2p_listen\": "
             "\"0.0.0.0:7501\", \"peers\": [" PEER("127.0.0.1:7503", ED_ALG, ID1) ", " PEER(
                 "[::1]:7505", P256_ALG, P256_KEY) "], \"timeout_prevote_ms\": 7}");
    rc = node_config_load(f->path, &c, err, sizeof err);
    CHECK(rc == 0, "load: %d %s", rc, err);
    assert_string_equal(c.validator_key, ""); /* a replica: not resolved */
    snprintf(want, sizeof want, "%s/node.key", f->dir);
    assert_string_equal(c.identity_key, want);
    assert_string_equal(c.p2p_host, "0.0.0.0");
    assert_int_equal(c.p2p_port, 7501);
    assert_int_equal(c.n_peers, 2);
    assert_string_equal(c.peers[0].host, "127.0.0.1");
    assert_int_equal(c.peers[0].port, 7503);
    assert_int_equal(c.peers[0].identity.alg, LDG_SIG_ED25519);
    assert_int_equal(c.peers[0].identity.len, 32);
    assert_int_equal(c.peers[0].identity.key[0], 0x44);
    assert_string_equal(c.peers[1].host, "::1");
    assert_int_equal(c.peers[1].port, 7505);
    assert_int_equal(c.peers[1].identity.alg, LDG_SIG_P256_ECDSA);
    assert_int_equal(c.peers[1].identity.len, 33);
    assert_int_equal(c.timeout_prevote_ms, 7);
    assert_int_equal(c.timeout_precommit_ms, 500);
}

/* NODE_MAX_PEERS peers load; one more is refused. */
static void test_config_peer_limit(void **state)
{
    fixture *f = *state;
    size_t cap = 16384, n = 0;
    char *text = malloc(cap), err[256];
    node_config *c = malloc(sizeof *c);

    assert_non_null(text);
    assert_non_null(c);
    for (size_t count = NODE_MAX_PEERS; count <= NODE_MAX_PEERS + 1; count++) {
        n = (size_t)snprintf(text, cap, "{" P2P ", \"peers\": [");
        for (size_t i = 0; i < count; i++) {
            char key[65];
            snprintf(key, sizeof key, "%064zx", i + 1);
            n += (size_t)snprintf(text + n, cap - n,
                                  "%s{\"address\": \"127.0.1.%zu:%zu\", \"identity\": "
                                  "{\"alg\": \"ed25519\", \"key\": \"%s\"}}",
                                  i ? ", " : "", i % 250, 7000 + i, key);
        }
        snprintf(text + n, cap - n, "]}");
        assert_true(n + 3 < cap);
        put_file(P(f, "node.json"), text);
        int rc = node_config_load(f->path, c, err, sizeof err);
        if (count == NODE_MAX_PEERS) {
            CHECK(rc == 0, "load: %d %s", rc, err);
            assert_int_equal(c->n_peers, NODE_MAX_PEERS);
            assert_int_equal(c->peers[NODE_MAX_PEERS - 1].port, 7000 + NODE_MAX_PEERS - 1);
        } else {
            assert_int_equal(rc, NODE_ECONFIG);
            assert_string_equal(err, "peers: must have 0 to 64 entries, got 65");
        }
    }
    free(text);
    free(c);
}

/* node_config_check: the rules between a config, its genesis and its keys. */
static void test_config_check(void **state)
{
    (void)state;
    ldg_genesis *g = calloc(1, sizeof *g);
    node_config *c = malloc(sizeof *c);
    ldg_pubkey v0, v1, id0, id1, rid, k1id;
    char err[512];

    assert_non_null(g);
    assert_non_null(c);
    fill_key(&v0, LDG_SIG_SECP256K1_ECDSA, 0x10);
    fill_key(&v1, LDG_SIG_SECP256K1_ECDSA, 0x11);
    fill_key(&id0, LDG_SIG_ED25519, 0x20);
    fill_key(&id1, LDG_SIG_P256_ECDSA, 0x21);
    fill_key(&rid, LDG_SIG_ED25519, 0x30);
    fill_key(&k1id, LDG_SIG_SECP256K1_ECDSA, 0x31);
    g->validators[0] = v0;
    g->validators[1] = v1;
    g->validator_power[0] = g->validator_power[1] = 1;
    g->validator_ids[0] = id0;
    g->validator_ids[1] = id1;
    g->n_validators = 2;

#define CHECK_CFG(v, id, want_rc, want_err)                                                  \
    do {                                                                                     \
        int rc_ = node_config_check(c, g, v, id, err, sizeof err);                           \
        CHECK(rc_ == (want_rc), "rc %d, want %d (%s)", rc_, want_rc, err);                   \
        CHECK(strstr(err, want_err), "err \"%s\" lacks \"%s\"", err, want_err);              \
    } while (0)

    /* Validator 1 with p2p and its genesis identity; peers are the others. */
    node_config_defaults(c);
    strcpy(c->validator_key, "/n/validator.key");
    strcpy(c->identity_key, "/n/node.key");
    strcpy(c->p2p_host, "127.0.0.1");
    c->p2p_port = 7501;
    strcpy(c->peers[0].host, "127.0.0.1");
    c->peers[0].port = 7503;
    c->peers[0].identity = id0;
    strcpy(c->peers[1].host, "127.0.0.1");
    c->peers[1].port = 7505;
    c->peers[1].identity = rid;
    c->n_peers = 2;
    CHECK_CFG(&v1, &id1, 0, "");
    CHECK_CFG(&v1, &id0, NODE_ECONFIG,
              "identity_key: /n/node.key is not the identity the genesis lists for this "
              "validator (validators[1])");
    CHECK_CFG(&v0, &id1, NODE_ECONFIG, "is not the identity the genesis lists");
    CHECK_CFG(&v0, &id0, NODE_ECONFIG, "peers[0].identity: is this node's own identity");
    CHECK_CFG(&rid, &id1, NODE_ECONFIG,
              "validator_key: /n/validator.key is not a validator in the genesis");
    CHECK_CFG(&v1, &k1id, NODE_ECONFIG,
              "identity_key: secp256k1-ecdsa cannot be a node identity key");

    /* A genesis without identities: fine alone, not with p2p. */
    ldg_pubkey saved = g->validator_ids[1];
    memset(g->validator_ids, 0, sizeof g->validator_ids);
    CHECK_CFG(&v1, &id1, NODE_ECONFIG,
              "identity_key: the genesis lists no identity for this validator (validators[1])");
    g->validator_ids[0] = id0;
    g->validator_ids[1] = saved;

    /* A replica: any identity but a validator's. */
    c->validator_key[0] = '\0';
    CHECK_CFG(NULL, &rid, NODE_ECONFIG, "peers[1].identity: is this node's own identity");
    c->peers[1].identity = id1;
    CHECK_CFG(NULL, &rid, 0, "");
    CHECK_CFG(NULL, &id1, NODE_ECONFIG,
              "identity_key: /n/node.key is the identity of validators[1] in the genesis, but "
              "this node is a replica");

    /* Without p2p: the RPC port's TLS needs an identity (or a certificate, or plaintext),
     * and a validator needs none in the genesis. */
    c->p2p_host[0] = '\0';
    c->p2p_port = 0;
    c->n_peers = 0;
    c->identity_key[0] = '\0';
    CHECK_CFG(NULL, NULL, NODE_ECONFIG, "identity_key: missing: the RPC port's TLS presents it");
    strcpy(c->rpc_tls_cert, "/n/rpc.pem");
    CHECK_CFG(NULL, NULL, 0, "");
    c->rpc_tls_cert[0] = '\0';
    c->rpc_plaintext = true;
    CHECK_CFG(NULL, NULL, 0, "");
    strcpy(c->validator_key, "v.key");
    memset(g->validator_ids, 0, sizeof g->validator_ids);
    CHECK_CFG(&v0, NULL, 0, "");
    /* A hand-filled struct with p2p but no identity. */
    strcpy(c->p2p_host, "127.0.0.1");
    c->p2p_port = 1;
    CHECK_CFG(&v0, NULL, NODE_ECONFIG, "identity_key: missing (required with p2p_listen)");

    /* Misuse: the keys must agree with the file names being set or "". */
    assert_int_equal(node_config_check(c, g, NULL, NULL, err, sizeof err), LDG_EINVALID);
    assert_int_equal(node_config_check(c, g, &v0, &id0, err, sizeof err), LDG_EINVALID);
    assert_int_equal(node_config_check(NULL, g, &v0, NULL, err, sizeof err), LDG_EINVALID);
    assert_int_equal(node_config_check(c, NULL, &v0, NULL, err, sizeof err), LDG_EINVALID);
    assert_int_equal(node_config_check(c, g, &v0, NULL, NULL, 0), NODE_ECONFIG);
#undef CHECK_CFG
    free(g);
    free(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_round_trip),
        T(test_config_paths),
        T(test_config_refusals),
        T(test_config_cluster_round_trip),
        T(test_config_cluster_defaults),
        T(test_config_peer_limit),
        T(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
