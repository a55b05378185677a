/*
 * Bad input over RPC against a running fwledgerd (started by test_rpc_errors.sh): each case
 * gets its error code and message back, stores nothing, and the node keeps serving.
 *
 * usage: rpc_errors HOST PORT CHAIN_DIR
 * CHAIN_DIR holds genesis.json, author.key, admin.key from `fwledger init`, with
 * sha3-256 disabled and ed25519 deprecated from height 1 (the script edits the genesis).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/ledger.h"
#include "node/files/files.h"
#include "tests/functional/trust.h"
#include "tests/ledger/raw_tx.h"

static int failures;
#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

static const char *host;
static int port;
static ldg_genesis G;
static node_key author, admin;
static fwl_Request req;
static fwl_Response resp;
static fwl_TxBody body;

static node_client *connect_or_die(void)
{
    node_client *c;
    int rc = node_client_connect(&c, host, port, 10000, test_trust(), NULL, 0);
    if (rc) {
        fprintf(stderr, "connect: %s\n", node_strerror(rc));
        exit(1);
    }
    return c;
}

static int call(node_client *c, char *err, size_t errlen)
{
    return node_call(c, &req, &resp, err, errlen);
}

static void status_ok(node_client *c, const char *when)
{
    char err[256];
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_status_tag;
    CHECK(call(c, err, sizeof err) == 0 && resp.which_resp == fwl_Response_status_tag,
          "node does not serve Status after %s", when);
}

/* A publish body; the caller may change it before signing. */
static void publish_body(uint64_t nonce, const char *version, uint64_t secver, uint8_t file_byte)
{
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", G.chain_id);
    body.nonce = nonce;
    body.which_payload = fwl_TxBody_publish_tag;
    body.payload.publish.has_release = true;
    fwl_Release *r = &body.payload.publish.release;
    snprintf(r->product, sizeof r->product, "acme-sensor-fw");
    snprintf(r->provider, sizeof r->provider, "Acme");
    snprintf(r->version, sizeof r->version, "%s", version);
    r->security_version = secver;
    r->has_file_hash = true;
    r->file_hash.alg = LDG_HASH_SHA256;
    memset(r->file_hash.digest.bytes, file_byte, 32);
    r->file_hash.digest.size = 32;
    snprintf(r->file_url, sizeof r->file_url, "https://fw.example.com/x.bin");
    snprintf(r->file_name, sizeof r->file_name, "x.bin");
    r->file_size = 1000;
    r->hardware_count = 1;
    snprintf(r->hardware[0].model, sizeof r->hardware[0].model, "sensor-v2");
}

static size_t sign(const node_key *k, uint8_t *out, uint8_t hash[32])
{
    ldg_seckey sk = {k->alg, {0}};
    memcpy(sk.sec, k->sec, sizeof sk.sec);
    size_t len;
    int rc = ldg_tx_sign(&G, &body, &sk, 1, NULL, out, LDG_TX_MAX, &len, hash);
    CHECK(rc == 0, "sign: %s", node_strerror(rc));
    return len;
}

/* Submit; on success also wait for the commit. Returns the first error code, or 0. */
static int submit_wait(node_client *c, const uint8_t *tx, size_t len, const uint8_t hash[32],
                       char *err, size_t errlen)
{
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_submit_tx_tag;
    memcpy(req.req.submit_tx.tx.bytes, tx, len);
    req.req.submit_tx.tx.size = (pb_size_t)len;
    int rc = call(c, err, errlen);
    if (rc)
        return rc;
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_wait_for_tx_tag;
    memcpy(req.req.wait_for_tx.tx_hash.bytes, hash, 32);
    req.req.wait_for_tx.tx_hash.size = 32;
    req.req.wait_for_tx.timeout_ms = 10000;
    return call(c, err, errlen);
}

static int get_release(node_client *c, uint8_t file_byte)
{
    char err[256];
    memset(&req, 0, sizeof req);
    req.which_req = fwl_Request_get_release_tag;
    req.req.get_release.has_file_hash = true;
    req.req.get_release.file_hash.alg = LDG_HASH_SHA256;
    memset(req.req.get_release.file_hash.digest.bytes, file_byte, 32);
    req.req.get_release.file_hash.digest.size = 32;
    return call(c, err, sizeof err);
}

/* A connection for raw frames (over TLS like any other). */
static node_client *raw_conn(void)
{
    node_client *c;
    if (node_client_connect(&c, host, port, 5000, test_trust(), NULL, 0)) {
        fprintf(stderr, "rpc_errors: cannot connect\n");
        exit(1);
    }
    return c;
}

/* A length prefix declaring declared bytes, then len bytes of p. */
static void send_frame(node_client *c, const uint8_t *p, size_t len, uint32_t declared)
{
    uint8_t h[4] = {(uint8_t)(declared >> 24), (uint8_t)(declared >> 16), (uint8_t)(declared >> 8),
                    (uint8_t)declared};
    CHECK(node_client_send_raw(c, h, 4) == 0 && (!len || node_client_send_raw(c, p, len) == 0),
          "raw send");
}

/* Read one response frame; returns its error code (0 if not an error), -9999 on EOF. */
static int read_error(node_client *c, char *msg, size_t msglen)
{
    const uint8_t *buf;
    size_t len;
    if (node_client_recv_raw(c, &buf, &len))
        return -9999;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Response_fields, &resp))
        return -9998;
    if (resp.which_resp != fwl_Response_error_tag)
        return 0;
    snprintf(msg, msglen, "%s", resp.resp.error.message);
    return resp.resp.error.code;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rpc_errors HOST PORT CHAIN_DIR\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/genesis.json", argv[3]);
    if (node_genesis_load(path, &G, err, sizeof err)) {
        fprintf(stderr, "genesis: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/author.key", argv[3]);
    if (node_key_load(path, &author, err, sizeof err)) {
        fprintf(stderr, "author key: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/admin.key", argv[3]);
    if (node_key_load(path, &admin, err, sizeof err)) {
        fprintf(stderr, "admin key: %s\n", err);
        return 1;
    }
    node_client *c = connect_or_die(), *bystander = connect_or_die();
    static uint8_t tx[LDG_TX_MAX], tx2[LDG_TX_MAX];
    uint8_t hash[32], hash2[32];
    size_t len, len2;
    int rc;

    /* 1. A malformed frame: an error back, and the same connection keeps working. */
    {
        node_client *fd = raw_conn();
        uint8_t junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        send_frame(fd, junk, sizeof junk, sizeof junk);
        char msg[256] = "";
        rc = read_error(fd, msg, sizeof msg);
        CHECK(rc == LDG_EMALFORMED, "malformed frame: got %d (%s)", rc, msg);
        /* Status on the same connection: a valid frame right after. */
        uint8_t st[16];
        pb_ostream_t os = pb_ostream_from_buffer(st, sizeof st);
        memset(&req, 0, sizeof req);
        req.id = 5;
        req.which_req = fwl_Request_status_tag;
        pb_encode(&os, fwl_Request_fields, &req);
        send_frame(fd, st, os.bytes_written, (uint32_t)os.bytes_written);
        rc = read_error(fd, msg, sizeof msg);
        CHECK(rc == 0 && resp.which_resp == fwl_Response_status_tag, "status after malformed frame: %d", rc);
        node_client_close(fd);
    }
    /* 2. An oversize field: a 12,000-byte tx (limit 10,400) inside a valid frame. */
    {
        node_client *fd = raw_conn();
        static uint8_t f[12100];
        pb_ostream_t os = pb_ostream_from_buffer(f, sizeof f);
        static uint8_t inner[12010];
        pb_ostream_t is = pb_ostream_from_buffer(inner, sizeof inner);
        static uint8_t big[12000];
        pb_encode_tag(&is, PB_WT_STRING, 1);
        pb_encode_string(&is, big, sizeof big);
        pb_encode_tag(&os, PB_WT_STRING, fwl_Request_submit_tx_tag);
        pb_encode_string(&os, inner, is.bytes_written);
        send_frame(fd, f, os.bytes_written, (uint32_t)os.bytes_written);
        char msg[256] = "";
        rc = read_error(fd, msg, sizeof msg);
        CHECK(rc == LDG_ETOOBIG, "oversize field: got %d (%s)", rc, msg);
        node_client_close(fd);
    }
    /* 3. An oversize frame: refused with NODE_EFRAME and the connection closed. */
    {
        node_client *fd = raw_conn();
        send_frame(fd, NULL, 0, 100u << 20);
        char msg[256] = "";
        rc = read_error(fd, msg, sizeof msg);
        CHECK(rc == NODE_EFRAME, "oversize frame: got %d (%s)", rc, msg);
        CHECK(read_error(fd, msg, sizeof msg) == -9999, "connection not closed after oversize frame");
        node_client_close(fd);
    }
    status_ok(bystander, "framing errors");

    /* 4. A good publish commits (the reference for what follows). */
    publish_body(1, "2.0.0", 2, 0x01);
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == 0, "good publish: %d %s", rc, err);
    CHECK(get_release(c, 0x01) == 0, "good release not readable");

    /* 5. A bad signature. */
    publish_body(2, "2.1.0", 3, 0x02);
    len = sign(&author, tx, hash);
    tx[len - 1] ^= 1;
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EBADSIG, "bad signature: %d %s", rc, err);
    CHECK(strstr(err, "signature") != NULL, "bad signature message: %s", err);

    /* 6. An unknown algorithm id in the signer key. */
    {
        static fwl_Tx env;
        publish_body(2, "2.1.0", 3, 0x02);
        len = sign(&author, tx, hash);
        pb_istream_t is = pb_istream_from_buffer(tx, len);
        CHECK(pb_decode(&is, fwl_Tx_fields, &env), "decode own tx");
        env.sigs[0].signer.alg = 99;
        pb_ostream_t os = pb_ostream_from_buffer(tx, sizeof tx);
        pb_encode(&os, fwl_Tx_fields, &env);
        rc = submit_wait(c, tx, os.bytes_written, hash, err, sizeof err);
        CHECK(rc == LDG_EUNKNOWN_ALG, "unknown algorithm: %d %s", rc, err);
    }
    /* 7. A disabled hash algorithm (sha3-256) and a deprecated signature one (ed25519). */
    publish_body(2, "2.1.0", 3, 0x02);
    body.payload.publish.release.file_hash.alg = LDG_HASH_SHA3_256;
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EALG_DISABLED, "disabled algorithm: %d %s", rc, err);
    {
        node_key ed;
        CHECK(node_key_generate(LDG_SIG_ED25519, &ed) == 0, "ed25519 keygen");
        publish_body(1, "2.1.0", 3, 0x02);
        len = sign(&ed, tx, hash);
        rc = submit_wait(c, tx, len, hash, err, sizeof err);
        CHECK(rc == LDG_EALG_DEPRECATED, "deprecated algorithm: %d %s", rc, err);
    }
    /* 8. An author not registered for the product: refused when the block is built. */
    {
        node_key stranger;
        CHECK(node_key_generate(LDG_SIG_SECP256K1_ECDSA, &stranger) == 0, "keygen");
        publish_body(1, "2.1.0", 3, 0x03);
        len = sign(&stranger, tx, hash);
        rc = submit_wait(c, tx, len, hash, err, sizeof err);
        CHECK(rc == LDG_EUNAUTHORIZED, "unauthorised author: %d %s", rc, err);
        CHECK(get_release(c, 0x03) == LDG_ENOTFOUND, "unauthorised release stored");
    }
    /* 9. A lower, then an equal version. */
    publish_body(3, "1.9.0", 3, 0x04);
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EVERSION, "lower version: %d %s", rc, err);
    publish_body(4, "2.0.0", 3, 0x04);
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EVERSION, "equal version: %d %s", rc, err);
    CHECK(get_release(c, 0x04) == LDG_ENOTFOUND, "lower-version release stored");
    /* 10. A file hash registered before. */
    publish_body(5, "2.2.0", 4, 0x01);
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EDUPLICATE, "duplicate file hash: %d %s", rc, err);
    /* 11. Replays: the committed tx again, and a new tx with a used nonce. */
    publish_body(1, "2.0.0", 2, 0x01);
    len2 = sign(&author, tx2, hash2);
    rc = submit_wait(c, tx2, len2, hash2, err, sizeof err);
    CHECK(rc == LDG_ETXDUP, "replayed tx: %d %s", rc, err);
    publish_body(1, "3.0.0", 9, 0x05);
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_EREPLAY, "replayed nonce: %d %s", rc, err);
    CHECK(get_release(c, 0x05) == LDG_ENOTFOUND, "replayed-nonce release stored");
    /* 12. Wrong chain id. */
    publish_body(20, "3.0.0", 9, 0x06);
    snprintf(body.chain_id, sizeof body.chain_id, "another-chain");
    len = sign(&author, tx, hash);
    rc = submit_wait(c, tx, len, hash, err, sizeof err);
    CHECK(rc == LDG_ECHAIN, "wrong chain: %d %s", rc, err);

    /* 14. Requests that name nothing, or something that cannot exist: each its own error,
     * naming the field (issue 10, item 6), and the connection keeps working. */
    {
        memset(&req, 0, sizeof req); /* an empty SubmitTx (was: "wrong chain id") */
        req.which_req = fwl_Request_submit_tx_tag;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "tx is required"), "empty SubmitTx: %d %s", rc,
              err);
        memset(&req, 0, sizeof req); /* Nonce without a key (was: 0) */
        req.which_req = fwl_Request_nonce_tag;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "key"), "Nonce without key: %d %s", rc, err);
        req.req.nonce.has_key = true; /* a 66-byte secp256k1 key (was: 0) */
        req.req.nonce.key.alg = LDG_SIG_SECP256K1_ECDSA;
        req.req.nonce.key.key.size = 66;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EBADKEY && strstr(err, "33 bytes"), "Nonce, 66-byte key: %d %s", rc, err);
        req.req.nonce.key.alg = 99; /* an unknown algorithm (was: 0) */
        req.req.nonce.key.key.size = 33;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EUNKNOWN_ALG, "Nonce, algorithm 99: %d %s", rc, err);
        memset(&req, 0, sizeof req); /* GetRelease with algorithm 99 (was: not found) */
        req.which_req = fwl_Request_get_release_tag;
        req.req.get_release.has_file_hash = true;
        req.req.get_release.file_hash.alg = 99;
        req.req.get_release.file_hash.digest.size = 32;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EUNKNOWN_ALG && strstr(err, "file_hash.alg"), "GetRelease, algorithm 99: "
              "%d %s", rc, err);
        req.req.get_release.file_hash.alg = LDG_HASH_SHA256; /* a 31-byte sha256 digest */
        req.req.get_release.file_hash.digest.size = 31;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "32 bytes"), "GetRelease, 31-byte digest: %d %s",
              rc, err);
        memset(&req, 0, sizeof req); /* ListReleases with prove but no hardware model: the
                                      * proof is of one model's list (issue 11) */
        req.which_req = fwl_Request_list_releases_tag;
        req.req.list_releases.prove = true;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "prove needs hardware"),
              "ListReleases, prove without hardware: %d %s", rc, err);
        memset(&req, 0, sizeof req); /* GetContract without a name (was: a storage error) */
        req.which_req = fwl_Request_get_contract_tag;
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "name"), "GetContract without name: %d %s", rc,
              err);
        memset(&req, 0, sizeof req); /* Eligible devices without id, without model (were
                                      * answered as if valid) */
        req.which_req = fwl_Request_eligible_tag;
        req.req.eligible.devices_count = 2;
        snprintf(req.req.eligible.devices[0].id, sizeof req.req.eligible.devices[0].id, "d0");
        snprintf(req.req.eligible.devices[0].hardware_model,
                 sizeof req.req.eligible.devices[0].hardware_model, "cam-v1");
        snprintf(req.req.eligible.devices[1].hardware_model,
                 sizeof req.req.eligible.devices[1].hardware_model, "cam-v1");
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "devices[1].id"), "Eligible, no id: %d %s", rc,
              err);
        snprintf(req.req.eligible.devices[1].id, sizeof req.req.eligible.devices[1].id, "d1");
        req.req.eligible.devices[1].hardware_model[0] = '\0';
        rc = call(c, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "devices[1].hardware_model"), "Eligible, no "
              "model: %d %s", rc, err);
        status_ok(c, "the requests that named nothing");
    }

    /* 15. Text a stock decoder would refuse, and a NUL nanopb would cut (issue 10, items 2
     * and 3): refused at admission naming the field, nothing stored. */
    {
        publish_body(30, "3.1.0", 10, 0x0a);
        snprintf(body.payload.publish.release.file_name,
                 sizeof body.payload.publish.release.file_name, "x\xed\xa0\x80.bin");
        len = sign(&author, tx, hash);
        rc = submit_wait(c, tx, len, hash, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "release.file_name (not valid UTF-8)"),
              "file_name not UTF-8: %d %s", rc, err);
        CHECK(get_release(c, 0x0a) == LDG_ENOTFOUND, "release with bad UTF-8 stored");
        publish_body(31, "3.2.0~-rc", 11, 0x0b);
        ldg_seckey sk = {author.alg, {0}};
        memcpy(sk.sec, author.sec, sizeof sk.sec);
        rc = raw_tx_sign_patched(&G, &sk, LDG_TX_PUBLISH, &body, "0~-", "0\0-", 3, tx, sizeof tx,
                                 &len, hash);
        CHECK(rc == 0, "sign the NUL body: %s", node_strerror(rc));
        rc = submit_wait(c, tx, len, hash, err, sizeof err);
        CHECK(rc == LDG_EINVALID && strstr(err, "release.version (contains a NUL byte)"),
              "version with a NUL: %d %s", rc, err);
        CHECK(get_release(c, 0x0b) == LDG_ENOTFOUND, "release with a NUL stored");
    }

    /* Nothing else was stored: exactly one release; the node serves everyone. */
    status_ok(bystander, "all refusals");
    CHECK(resp.resp.status.releases == 1, "releases stored: %llu, want 1",
          (unsigned long long)resp.resp.status.releases);
    status_ok(c, "all refusals");

    /* 16. WaitForTx is bounded per connection (4,096 waiting): one more is refused at once
     * with -106, the others time out. */
    {
        node_client *w = connect_or_die();
        enum { WAITS = 4096 };
        for (uint32_t i = 0; i <= WAITS; i++) {
            memset(&req, 0, sizeof req);
            req.id = i + 1;
            req.which_req = fwl_Request_wait_for_tx_tag;
            req.req.wait_for_tx.tx_hash.size = 32;
            memset(req.req.wait_for_tx.tx_hash.bytes, 0xee, 32);
            memcpy(req.req.wait_for_tx.tx_hash.bytes, &i, sizeof i);
            req.req.wait_for_tx.timeout_ms = 1500;
            CHECK(node_client_send(w, &req) == 0, "wait send");
        }
        int busy = 0, timed_out = 0, other = 0;
        uint64_t busy_id = 0;
        for (uint32_t i = 0; i <= WAITS; i++) {
            if (node_client_recv(w, &resp)) {
                other++;
                break;
            }
            int code = resp.which_resp == fwl_Response_error_tag ? resp.resp.error.code : 0;
            if (code == NODE_EBUSY)
                busy++, busy_id = resp.id;
            else if (code == NODE_ETIMEOUT)
                timed_out++;
            else
                other++;
        }
        CHECK(busy == 1 && busy_id == WAITS + 1 && timed_out == WAITS && !other,
              "waits per connection: %d busy (id %llu), %d timed out, %d other", busy,
              (unsigned long long)busy_id, timed_out, other);
        node_client_close(w);
    }

    /* 13. A full mempool (the script sets mempool_max to 2): ten valid txs pipelined, the
     * ones beyond the bound are refused with NODE_EMEMPOOL, and the node keeps serving. */
    {
        int full = 0, ok = 0;
        for (uint32_t i = 0; i < 10; i++) {
            char model[32];
            publish_body(100 + i, "5.0.0", 50, (uint8_t)(0x40 + i));
            snprintf(model, sizeof model, "board-%u", i);
            snprintf(body.payload.publish.release.hardware[0].model,
                     sizeof body.payload.publish.release.hardware[0].model, "%s", model);
            len = sign(&author, tx, hash);
            memset(&req, 0, sizeof req);
            req.id = 1000 + i;
            req.which_req = fwl_Request_submit_tx_tag;
            memcpy(req.req.submit_tx.tx.bytes, tx, len);
            req.req.submit_tx.tx.size = (pb_size_t)len;
            CHECK(node_client_send(c, &req) == 0, "pipelined send");
        }
        for (int i = 0; i < 10; i++) {
            rc = node_client_recv(c, &resp);
            CHECK(rc == 0, "pipelined receive: %d", rc);
            if (resp.which_resp == fwl_Response_submit_tx_tag)
                ok++;
            else if (resp.which_resp == fwl_Response_error_tag &&
                     resp.resp.error.code == NODE_EMEMPOOL)
                full++;
        }
        CHECK(full > 0 && ok > 0 && ok + full == 10, "mempool bound: %d accepted, %d full", ok, full);
        CHECK(ok <= 2 + 2, "more accepted (%d) than the mempool holds", ok); /* 2 may commit meanwhile */
        status_ok(bystander, "a full mempool");
    }

    node_client_close(c);
    node_client_close(bystander);
    if (failures)
        fprintf(stderr, "rpc_errors: %d failure(s)\n", failures);
    else
        printf("rpc_errors: all bad-input cases refused with their codes; node kept serving\n");
    return failures ? 1 : 0;
}
