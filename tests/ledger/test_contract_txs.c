/*
 * Issue 4's transactions on the ledger: contract deploys (compiled by every node through
 * the store's hook), bindings of products and hardware models to contracts, status tracker
 * keys, and outcome reports with per-release totals. Every rule accepted and refused, the
 * codec limits, the compiler's message reaching ldg_store_check_tx's why, and atomicity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pb_encode.h>

#include "ledger/ledger.h"
#include "tests/ledger/store_helpers.h"

/* --- the fake compiler: refuses a source containing "syntax error" --- */

static int compiles; /* calls of the hook */

static int fake_compile(void *ctx, const char *src, size_t len, char *err, size_t errlen)
{
    assert_ptr_equal(ctx, &compiles);
    assert_int_equal(strlen(src), len);
    compiles++;
    if (!strstr(src, "syntax error"))
        return 0;
    snprintf(err, errlen, "1:1: syntax error");
    return -1;
}

static int setup_hooked(void **st)
{
    int rc = setup(st);
    if (!rc)
        ldg_store_set_contract_check(S, fake_compile, &compiles);
    compiles = 0;
    return rc;
}

/* Close and reopen the store (a restart); the node sets the hook again after opening. */
static void restart(void)
{
    ldg_store_close(S);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    ldg_store_set_contract_check(S, fake_compile, &compiles);
}

/* --- building the new transactions (in the helpers' `body`; sign_with can re-sign) --- */

static void body_init(uint64_t nonce, pb_size_t which)
{
    memset(&body, 0, sizeof body);
    snprintf(body.chain_id, sizeof body.chain_id, "%s", G.chain_id);
    body.nonce = nonce;
    body.which_payload = which;
}

static void sign1(rawtx *t, const key *k)
{
    const key *ks[] = {k};
    sign_with(t, ks, 1);
}

static void contract_tx(rawtx *t, const key *signer, uint64_t nonce, const char *name,
                        const char *source)
{
    body_init(nonce, fwl_TxBody_contract_tag);
    snprintf(body.payload.contract.name, sizeof body.payload.contract.name, "%s", name);
    snprintf(body.payload.contract.source, sizeof body.payload.contract.source, "%s", source);
    sign1(t, signer);
}

static void bind_tx(rawtx *t, const key *signer, uint64_t nonce, const char *product,
                    const char *model, const char *contract, bool unbind)
{
    body_init(nonce, fwl_TxBody_bind_tag);
    fwl_BindTx *b = &body.payload.bind;
    snprintf(b->product, sizeof b->product, "%s", product);
    snprintf(b->hardware_model, sizeof b->hardware_model, "%s", model);
    snprintf(b->contract, sizeof b->contract, "%s", contract);
    b->unbind = unbind;
    sign1(t, signer);
}

static void tracker_tx(rawtx *t, const key *signer, uint64_t nonce, fwl_AuthorOp op,
                       const key *who)
{
    body_init(nonce, fwl_TxBody_tracker_tag);
    fwl_TrackerTx *r = &body.payload.tracker;
    r->op = op;
    r->has_key = true;
    r->key.alg = who->pub.alg;
    memcpy(r->key.key.bytes, who->pub.key, who->pub.len);
    r->key.key.size = (pb_size_t)who->pub.len;
    snprintf(r->name, sizeof r->name, "site tracker");
    sign1(t, signer);
}

typedef struct {
    uint8_t file_byte;
    uint32_t succeeded, failed, rolled_back;
} outcome;

static void report_body(uint64_t nonce, const outcome *o, size_t n)
{
    body_init(nonce, fwl_TxBody_report_tag);
    fwl_ReportTx *r = &body.payload.report;
    r->reports_count = (pb_size_t)n;
    for (size_t i = 0; i < n; i++) {
        fwl_OutcomeReport *e = &r->reports[i];
        e->has_file_hash = true;
        e->file_hash.alg = LDG_HASH_SHA256;
        memset(e->file_hash.digest.bytes, o[i].file_byte, 32);
        e->file_hash.digest.size = 32;
        e->succeeded = o[i].succeeded;
        e->failed = o[i].failed;
        e->rolled_back = o[i].rolled_back;
    }
}

static void report_tx(rawtx *t, const key *signer, uint64_t nonce, const outcome *o, size_t n)
{
    report_body(nonce, o, n);
    sign1(t, signer);
}

static fwl_OutcomeTotals totals_of(uint8_t file_byte)
{
    fwl_OutcomeTotals o;
    uint8_t d[32];
    memset(d, file_byte, sizeof d);
    memset(&o, 0xee, sizeof o); /* the read must set every field */
    assert_int_equal(ldg_store_outcomes(S, LDG_HASH_SHA256, d, sizeof d, &o), 0);
    return o;
}

/* Commit one tx the proposer's way: build (the rules run in the block's open write
 * transaction) and commit that transaction. Unlike commit1 (which re-applies the block from
 * scratch), a write left behind by a refused tx would be committed here. */
static int propose1(rawtx *t)
{
    rawtx *txs[] = {t};
    int res[1];
    uint8_t *blk;
    size_t len;
    make_block(txs, 1, res, &blk, &len);
    int rc = ldg_store_commit_built(S, blk, len);
    free(blk);
    return rc ? rc : res[0];
}

/* The height of the last block (a refused tx still makes an empty block in commit1). */
static uint64_t tip_height(void)
{
    ldg_tip t;
    ldg_store_tip(S, &t);
    return t.height;
}

static int parse(const rawtx *t, const char **why)
{
    static ldg_tx tx;
    return ldg_tx_parse(&G, 1, t->buf, t->len, &tx, why);
}

/* Sign the current body; the stateless checks must refuse it with want, naming a field. */
static void refused_stateless(int want)
{
    rawtx t;
    const char *why = NULL;
    sign1(&t, &admin);
    int rc = parse(&t, &why);
    if (rc != want)
        fprintf(stderr, "parse: %s (%s)\n", ldg_strerror(rc), why ? why : "");
    assert_int_equal(rc, want);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

static fwl_ContractRecord crec;
static fwl_BindingRecord brec;
static fwl_TrackerRecord trec;

/* --- deploy --- */

static void test_deploy_versions(void **st)
{
    (void)st;
    rawtx t;
    static const char src1[] = "rule newer: release.version > device.version\n";
    static const char src2[] = "rule newer: release.version > device.version\n\trule canary: \"canary\" in device.tags\r\n";
    contract_tx(&t, &other, 1, "rollout", src1);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    assert_int_equal(compiles, 0); /* not compiled for a non-admin */
    contract_tx(&t, &admin, 1, "rollout", src1);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(compiles, 2); /* building the block, then applying it */
    assert_int_equal(ldg_store_contract(S, "rollout", &crec), 0);
    assert_string_equal(crec.name, "rollout");
    assert_string_equal(crec.source, src1);
    assert_int_equal(crec.version, 1);
    assert_int_equal(crec.height, tip_height());
    /* code_hash = H_chain(source) */
    uint8_t h[LDG_HASH_MAX];
    size_t hl, sl = strlen(src1);
    const uint8_t *parts[] = {(const uint8_t *)src1};
    assert_int_equal(ldg_hash(G.hash_alg, parts, &sl, 1, h, &hl), 0);
    assert_int_equal(crec.code_hash.size, hl);
    assert_memory_equal(crec.code_hash.bytes, h, hl);

    /* A second deploy of the name is version 2; version 1 stays readable. */
    contract_tx(&t, &admin2, 1, "rollout", src2);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_contract(S, "rollout", &crec), 0);
    assert_int_equal(crec.version, 2);
    assert_int_equal(crec.height, tip_height());
    assert_string_equal(crec.source, src2);
    assert_int_equal(ldg_store_contract_version(S, "rollout", 1, &crec), 0);
    assert_string_equal(crec.source, src1);
    assert_int_equal(ldg_store_contract_version(S, "rollout", 2, &crec), 0);
    assert_string_equal(crec.source, src2);
    assert_int_equal(ldg_store_contract_version(S, "rollout", 3, &crec), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_contract(S, "other", &crec), LDG_ENOTFOUND);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1), longname[sizeof longname - 1] = 0;
    assert_int_equal(ldg_store_contract(S, longname, &crec), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_contract_version(S, longname, 1, &crec), LDG_ENOTFOUND);

    /* Nonces and duplicates apply as to every tx. */
    assert_int_equal(commit1(&t), LDG_ETXDUP);
    contract_tx(&t, &admin2, 1, "rollout2", src1);
    assert_int_equal(commit1(&t), LDG_EREPLAY);

    /* And it survives a restart. */
    restart();
    assert_int_equal(ldg_store_contract(S, "rollout", &crec), 0);
    assert_int_equal(crec.version, 2);
}

static void test_deploy_threshold(void **st)
{
    (void)st;
    ldg_store_close(S);
    G.admin_threshold = 2;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ldg_store_open(&S, dir, &G, 1 << 26), 0);
    ldg_store_set_contract_check(S, fake_compile, &compiles);
    rawtx t;
    const key *both[] = {&admin, &admin2};
    contract_tx(&t, &admin, 1, "c", "rule ok: true");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED); /* one of two */
    sign_with(&t, both, 2);
    assert_int_equal(commit1(&t), 0);
    bind_tx(&t, &admin, 2, "cam-fw", "", "c", false);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    sign_with(&t, both, 2);
    assert_int_equal(commit1(&t), 0);
    tracker_tx(&t, &admin, 3, fwl_AuthorOp_AUTHOR_ADD, &other);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    sign_with(&t, both, 2);
    assert_int_equal(commit1(&t), 0);
    G.admin_threshold = 1;
}

/* The compiler's verdict: a source that does not compile is refused with its message, at
 * admission (ldg_store_check_tx's why) and in a block; nothing is stored. */
static void test_compile_failure(void **st)
{
    (void)st;
    rawtx t;
    const char *why = NULL;
    contract_tx(&t, &admin, 1, "broken", "rule x: (\nsyntax error here");
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_ECONTRACT);
    assert_string_equal(why, "1:1: syntax error");
    assert_string_equal(ldg_strerror(LDG_ECONTRACT), "contract does not compile");
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, NULL), LDG_ECONTRACT); /* why optional */
    assert_int_equal(propose1(&t), LDG_ECONTRACT);
    assert_int_equal(ldg_store_contract(S, "broken", &crec), LDG_ENOTFOUND);
    /* A later success leaves why empty; a rule refusing later says its own why. */
    contract_tx(&t, &admin, 1, "fine", "rule ok: true");
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), 0);
    assert_string_equal(why, "");
    assert_int_equal(ldg_store_contract(S, "fine", &crec), LDG_ENOTFOUND); /* nothing written */
    bind_tx(&t, &admin, 1, "cam-fw", "", "nope", false);
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_ENOTFOUND);
    assert_string_equal(why, "bind.contract (no such contract)");

    /* The proposer leaves the failing deploy out of its block and keeps the others. */
    rawtx bad, good;
    contract_tx(&bad, &admin, 2, "broken", "syntax error");
    contract_tx(&good, &admin2, 1, "fine", "rule ok: true");
    rawtx *txs[] = {&bad, &good};
    int res[2];
    assert_int_equal(commit(txs, 2, res), LDG_ECONTRACT);
    assert_int_equal(res[1], 0);
    assert_int_equal(ldg_store_contract(S, "broken", &crec), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_contract(S, "fine", &crec), 0);
}

/* Without a hook, a node refuses every deploy (it cannot tell whether one compiles). */
static void test_no_hook(void **st)
{
    (void)st;
    rawtx t;
    const char *why = NULL;
    ldg_store_set_contract_check(S, NULL, NULL);
    contract_tx(&t, &admin, 1, "c", "rule ok: true");
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_ECONTRACT);
    assert_non_null(strstr(why, "no contract compiler"));
    assert_int_equal(commit1(&t), LDG_ECONTRACT);
    assert_int_equal(ldg_store_contract(S, "c", &crec), LDG_ENOTFOUND);
    ldg_store_set_contract_check(S, fake_compile, &compiles);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(compiles, 2);
}

/* --- bind --- */

static void test_bind(void **st)
{
    (void)st;
    rawtx t;
    const char *why;
    bind_tx(&t, &admin, 1, "cam-fw", "", "strict", false);
    assert_int_equal(commit1(&t), LDG_ENOTFOUND); /* no such contract */
    contract_tx(&t, &admin, 1, "strict", "rule a: true");
    assert_int_equal(commit1(&t), 0);
    contract_tx(&t, &admin, 2, "canary", "rule b: true");
    assert_int_equal(commit1(&t), 0);
    bind_tx(&t, &other, 1, "cam-fw", "", "strict", false);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "", &brec), LDG_ENOTFOUND);

    /* The whole product, then one model of it. */
    bind_tx(&t, &admin, 3, "cam-fw", "", "strict", false);
    assert_int_equal(commit1(&t), 0);
    uint64_t h_product = tip_height();
    bind_tx(&t, &admin, 4, "cam-fw", "cam-v2", "canary", false);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), 0); /* exact first */
    assert_string_equal(brec.product, "cam-fw");
    assert_string_equal(brec.hardware_model, "cam-v2");
    assert_string_equal(brec.contract, "canary");
    assert_int_equal(brec.contract_version, 1);
    assert_int_equal(brec.height, h_product + 1);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v3", &brec), 0); /* the product's */
    assert_string_equal(brec.hardware_model, "");
    assert_string_equal(brec.contract, "strict");
    assert_int_equal(brec.height, h_product);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "", &brec), 0);
    assert_string_equal(brec.contract, "strict");
    assert_int_equal(ldg_store_binding(S, "door-fw", "cam-v2", &brec), LDG_ENOTFOUND);

    /* A later deploy: the binding names the contract, so it now means version 2; the
     * record keeps the version it was bound at. */
    contract_tx(&t, &admin, 5, "strict", "rule a2: true");
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "", &brec), 0);
    assert_int_equal(brec.contract_version, 1);
    assert_int_equal(ldg_store_contract(S, brec.contract, &crec), 0);
    assert_int_equal(crec.version, 2);
    /* Binding again replaces, recording the current version. */
    bind_tx(&t, &admin, 6, "cam-fw", "", "strict", false);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "", &brec), 0);
    assert_int_equal(brec.contract_version, 2);

    /* Unbind: admin only, needs the binding; the model falls back to the product. */
    bind_tx(&t, &other, 2, "cam-fw", "cam-v2", "", true);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    bind_tx(&t, &admin, 7, "cam-fw", "cam-v9", "", true);
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_ENOTFOUND);
    assert_string_equal(why, "bind: no such binding to remove");
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);
    bind_tx(&t, &admin, 8, "cam-fw", "cam-v2", "", true);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), 0);
    assert_string_equal(brec.hardware_model, "");
    bind_tx(&t, &admin, 9, "cam-fw", "", "", true);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), LDG_ENOTFOUND);
    bind_tx(&t, &admin, 10, "cam-fw", "", "", true);
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);

    /* Over-long names from a caller are not found (never overflow a key). */
    char longname[200];
    memset(longname, 'n', sizeof longname - 1), longname[sizeof longname - 1] = 0;
    assert_int_equal(ldg_store_binding(S, longname, "", &brec), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_binding(S, "cam-fw", longname, &brec), LDG_ENOTFOUND);

    /* 64-character product and model: the longest binding key. */
    char product[65], model[65];
    memset(product, 'p', 64), product[64] = 0;
    memset(model, 'm', 64), model[64] = 0;
    bind_tx(&t, &admin, 11, product, model, "canary", false);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_binding(S, product, model, &brec), 0);
    assert_string_equal(brec.contract, "canary");
}

/* --- trackers --- */

static void test_tracker_keys(void **st)
{
    (void)st;
    rawtx t;
    tracker_tx(&t, &other, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_REMOVE, &other);
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);
    tracker_tx(&t, &admin, 2, fwl_AuthorOp_AUTHOR_ADD, &other);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec), 0);
    assert_string_equal(trec.name, "site tracker");
    assert_int_equal(trec.added_height, tip_height());
    assert_int_equal(trec.key.alg, other.pub.alg);
    assert_memory_equal(trec.key.key.bytes, other.pub.key, other.pub.len);
    assert_int_equal(ldg_store_tracker(S, author.pub.alg, author.pub.key, author.pub.len, &trec),
                     LDG_ENOTFOUND);
    tracker_tx(&t, &admin, 3, fwl_AuthorOp_AUTHOR_ADD, &other);
    assert_int_equal(commit1(&t), LDG_EDUPLICATE);
    /* A tracker key is not an author key, nor the reverse. */
    publish_tx(&t, &other, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    tracker_tx(&t, &admin, 4, fwl_AuthorOp_AUTHOR_REMOVE, &other);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec),
                     LDG_ENOTFOUND);
    tracker_tx(&t, &admin, 5, fwl_AuthorOp_AUTHOR_REMOVE, &other);
    assert_int_equal(commit1(&t), LDG_ENOTFOUND);
}

/* --- reports --- */

/* Two releases (0x10, 0x11) of cam-fw and a registered tracker (other). */
static void two_releases_and_a_tracker(void)
{
    rawtx a, b, c;
    publish_tx(&a, &author, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    publish_tx(&b, &author, 2, "cam-fw", "1.1.0", 2, 0x11, "cam-v2");
    tracker_tx(&c, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    rawtx *txs[] = {&a, &b, &c};
    int res[3];
    assert_int_equal(commit(txs, 3, res), 0);
    assert_int_equal(res[1], 0);
    assert_int_equal(res[2], 0);
}

static void test_reports(void **st)
{
    (void)st;
    rawtx t;
    const char *why;
    const outcome o1[] = {{0x10, 90, 7, 3}, {0x11, 5, 0, 0}};
    fwl_OutcomeTotals z = totals_of(0x10);
    assert_int_equal(z.succeeded + z.failed + z.rolled_back + z.reports, 0); /* zeros if none */

    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    /* Not (yet) a tracker. */
    report_tx(&t, &other, 1, o1, 1);
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_EUNAUTHORIZED);
    assert_string_equal(why, "report: sender is not a registered tracker");
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    assert_int_equal(commit1(&t), 0);
    /* 0x11 is not a committed release: the whole report is refused. */
    report_tx(&t, &other, 1, o1, 2);
    assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_ENOTFOUND);
    assert_string_equal(why, "report.reports.file_hash (no such release)");
    assert_int_equal(propose1(&t), LDG_ENOTFOUND);
    assert_int_equal(totals_of(0x10).reports, 0);
    publish_tx(&t, &author, 2, "cam-fw", "1.1.0", 2, 0x11, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    report_tx(&t, &other, 1, o1, 2);
    assert_int_equal(commit1(&t), 0);
    fwl_OutcomeTotals a = totals_of(0x10), b = totals_of(0x11);
    assert_int_equal(a.succeeded, 90);
    assert_int_equal(a.failed, 7);
    assert_int_equal(a.rolled_back, 3);
    assert_int_equal(a.reports, 1);
    assert_int_equal(b.succeeded, 5);
    assert_int_equal(b.reports, 1);

    /* Totals add up across blocks, and within one block. */
    const outcome o2[] = {{0x10, 10, 3, 0}}, o3[] = {{0x10, 0, 0, 2}};
    rawtx r2, r3;
    report_tx(&r2, &other, 2, o2, 1);
    report_tx(&r3, &other, 3, o3, 1);
    rawtx *txs[] = {&r2, &r3};
    int res[2];
    assert_int_equal(commit(txs, 2, res), 0);
    assert_int_equal(res[1], 0);
    a = totals_of(0x10);
    assert_int_equal(a.succeeded, 100);
    assert_int_equal(a.failed, 10);
    assert_int_equal(a.rolled_back, 5);
    assert_int_equal(a.reports, 3);

    /* A revoked release still takes reports (its roll-backs are worth counting). */
    revoke_tx(&t, &author, 3, 0x11);
    assert_int_equal(commit1(&t), 0);
    const outcome o4[] = {{0x11, 0, 0, 5}};
    report_tx(&t, &other, 4, o4, 1);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(totals_of(0x11).rolled_back, 5);

    /* Replays are refused as for every tx. */
    assert_int_equal(commit1(&t), LDG_ETXDUP);
    report_tx(&t, &other, 4, o3, 1);
    assert_int_equal(commit1(&t), LDG_EREPLAY);

    /* A removed tracker may no longer report. */
    tracker_tx(&t, &admin, 2, fwl_AuthorOp_AUTHOR_REMOVE, &other);
    assert_int_equal(commit1(&t), 0);
    report_tx(&t, &other, 5, o3, 1);
    assert_int_equal(commit1(&t), LDG_EUNAUTHORIZED);

    /* The totals survive a restart. */
    restart();
    a = totals_of(0x10);
    assert_int_equal(a.succeeded, 100);
    assert_int_equal(a.failed, 10);
    assert_int_equal(a.rolled_back, 5);
    assert_int_equal(a.reports, 3);
    z = totals_of(0x99);
    assert_int_equal(z.succeeded + z.failed + z.rolled_back + z.reports, 0);
    uint8_t big[LDG_HASH_MAX + 1] = {0};
    assert_int_equal(ldg_store_outcomes(S, LDG_HASH_SHA256, big, sizeof big, &z), 0);
    assert_int_equal(z.reports, 0);
}

/* Write totals for a release straight into the closed store's LMDB (a chain that has
 * counted for a very long time), then reopen. */
static void plant_totals(uint8_t file_byte, const fwl_OutcomeTotals *t)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t k[4 + 32], v[fwl_OutcomeTotals_size];
    ldg_store_close(S);
    S = NULL;
    k[0] = k[1] = k[2] = 0, k[3] = LDG_HASH_SHA256;
    memset(k + 4, file_byte, 32);
    pb_ostream_t os = pb_ostream_from_buffer(v, sizeof v);
    assert_true(pb_encode(&os, fwl_OutcomeTotals_fields, t));
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1 << 26), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "outcomes", 0, &dbi), 0);
    MDB_val mk = {sizeof k, k}, mv = {os.bytes_written, v};
    assert_int_equal(mdb_put(txn, dbi, &mk, &mv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    restart();
}

static void test_report_overflow(void **st)
{
    (void)st;
    rawtx t;
    const char *why;
    two_releases_and_a_tracker();
    const fwl_OutcomeTotals near = {UINT64_MAX - 5, 1, UINT64_MAX, 7};
    plant_totals(0x10, &near);
    /* succeeded reaches exactly UINT64_MAX: accepted. */
    const outcome ok[] = {{0x11, 1, 0, 0}, {0x10, 5, 0, 0}};
    report_tx(&t, &other, 1, ok, 2);
    assert_int_equal(commit1(&t), 0);
    fwl_OutcomeTotals a = totals_of(0x10);
    assert_true(a.succeeded == UINT64_MAX);
    assert_int_equal(a.reports, 8);
    /* One more device in any counter overflows: refused, and nothing of the report is
     * added (not even to 0x11, listed first). */
    const outcome over[][2] = {{{0x11, 1, 0, 0}, {0x10, 1, 0, 0}},
                               {{0x11, 1, 0, 0}, {0x10, 0, 0, 1}}};
    for (size_t i = 0; i < 2; i++) {
        report_tx(&t, &other, 2, over[i], 2);
        assert_int_equal(ldg_store_check_tx(S, t.buf, t.len, &why), LDG_EINVALID);
        assert_string_equal(why, "report: a release's totals would overflow");
        assert_int_equal(propose1(&t), LDG_EINVALID);
    }
    assert_int_equal(totals_of(0x11).succeeded, 1);
    assert_true(totals_of(0x10).succeeded == UINT64_MAX);
    assert_true(totals_of(0x10).rolled_back == UINT64_MAX);
    /* A failed-count increment still fits. */
    const outcome fine[] = {{0x10, 0, 4, 0}};
    report_tx(&t, &other, 2, fine, 1);
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(totals_of(0x10).failed, 5);
}

/* --- stateless checks and codec limits --- */

/* A hand-encoded envelope whose body holds a contract payload with a source of n bytes
 * (ldg_tx_sign cannot encode one over the bound). */
static size_t envelope_with_source(uint8_t *out, size_t cap, size_t n)
{
    uint8_t *src = malloc(n), *payload = malloc(n + 64), *b = malloc(n + 256);
    memset(src, 'x', n);
    pb_ostream_t ps = pb_ostream_from_buffer(payload, n + 64);
    assert_true(pb_encode_tag(&ps, PB_WT_STRING, fwl_ContractTx_name_tag) &&
                pb_encode_string(&ps, (const uint8_t *)"c", 1) &&
                pb_encode_tag(&ps, PB_WT_STRING, fwl_ContractTx_source_tag) &&
                pb_encode_string(&ps, src, n));
    pb_ostream_t bs = pb_ostream_from_buffer(b, n + 256);
    assert_true(pb_encode_tag(&bs, PB_WT_STRING, fwl_TxBody_chain_id_tag) &&
                pb_encode_string(&bs, (const uint8_t *)G.chain_id, strlen(G.chain_id)) &&
                pb_encode_tag(&bs, PB_WT_VARINT, fwl_TxBody_nonce_tag) && pb_encode_varint(&bs, 1) &&
                pb_encode_tag(&bs, PB_WT_STRING, fwl_TxBody_contract_tag) &&
                pb_encode_string(&bs, payload, ps.bytes_written));
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    assert_true(pb_encode_tag(&os, PB_WT_STRING, fwl_Tx_body_tag) &&
                pb_encode_string(&os, b, bs.bytes_written));
    free(src);
    free(payload);
    free(b);
    return os.bytes_written;
}

/* The same for a report of n entries. */
static size_t envelope_with_reports(uint8_t *out, size_t cap, size_t n)
{
    uint8_t entry[128], b[8192];
    fwl_OutcomeReport e = fwl_OutcomeReport_init_zero;
    pb_ostream_t bs = pb_ostream_from_buffer(b, sizeof b);
    assert_true(pb_encode_tag(&bs, PB_WT_STRING, fwl_TxBody_chain_id_tag) &&
                pb_encode_string(&bs, (const uint8_t *)G.chain_id, strlen(G.chain_id)) &&
                pb_encode_tag(&bs, PB_WT_VARINT, fwl_TxBody_nonce_tag) && pb_encode_varint(&bs, 1));
    /* ReportTx: reports (field 1) repeated n times, inside TxBody.report. */
    uint8_t rep[8192];
    pb_ostream_t rs = pb_ostream_from_buffer(rep, sizeof rep);
    for (size_t i = 0; i < n; i++) {
        e.has_file_hash = true;
        e.file_hash.alg = LDG_HASH_SHA256;
        memset(e.file_hash.digest.bytes, (int)i, 32);
        e.file_hash.digest.size = 32;
        e.succeeded = 1;
        pb_ostream_t es = pb_ostream_from_buffer(entry, sizeof entry);
        assert_true(pb_encode(&es, fwl_OutcomeReport_fields, &e));
        assert_true(pb_encode_tag(&rs, PB_WT_STRING, fwl_ReportTx_reports_tag) &&
                    pb_encode_string(&rs, entry, es.bytes_written));
    }
    assert_true(pb_encode_tag(&bs, PB_WT_STRING, fwl_TxBody_report_tag) &&
                pb_encode_string(&bs, rep, rs.bytes_written));
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    assert_true(pb_encode_tag(&os, PB_WT_STRING, fwl_Tx_body_tag) &&
                pb_encode_string(&os, b, bs.bytes_written));
    return os.bytes_written;
}

static void test_codec_limits(void **st)
{
    (void)st;
    static uint8_t buf[LDG_TX_MAX + 64];
    static char src[LDG_CONTRACT_SOURCE_MAX + 1];
    const char *why;
    rawtx t;
    /* The longest source signs into an envelope within LDG_TX_MAX and parses. */
    memset(src, 'r', LDG_CONTRACT_SOURCE_MAX);
    contract_tx(&t, &admin, 1, "big", src);
    assert_true(t.len <= LDG_TX_MAX);
    assert_int_equal(parse(&t, &why), 0);
    /* One byte more does not decode (the body's field bound). */
    size_t len = envelope_with_source(buf, sizeof buf, LDG_CONTRACT_SOURCE_MAX + 1);
    assert_true(len <= LDG_TX_MAX);
    static ldg_tx tx;
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, &tx, &why), LDG_ETOOBIG);
    /* 8,192 bytes by hand decode (up to the signatures, which it has none of). */
    len = envelope_with_source(buf, sizeof buf, LDG_CONTRACT_SOURCE_MAX);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, &tx, &why), LDG_EINVALID);
    assert_string_equal(why, "signatures (none)");

    /* Reports: 32 decode, 33 do not. */
    len = envelope_with_reports(buf, sizeof buf, LDG_REPORT_MAX);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, &tx, &why), LDG_EINVALID);
    assert_string_equal(why, "signatures (none)");
    len = envelope_with_reports(buf, sizeof buf, LDG_REPORT_MAX + 1);
    assert_int_equal(ldg_tx_parse(&G, 1, buf, len, &tx, &why), LDG_ETOOBIG);
    outcome many[LDG_REPORT_MAX];
    for (size_t i = 0; i < LDG_REPORT_MAX; i++)
        many[i] = (outcome){(uint8_t)i, UINT32_MAX, UINT32_MAX, UINT32_MAX};
    report_tx(&t, &other, UINT64_MAX, many, LDG_REPORT_MAX);
    assert_true(t.len <= LDG_TX_MAX);
    assert_int_equal(parse(&t, &why), 0);
}

static void test_stateless_refusals(void **st)
{
    (void)st;
    rawtx t;
    const char *why;
    static ldg_tx tx;
    /* Type tags: each payload signs under its own tag. */
    const struct {
        pb_size_t which;
        uint32_t type;
    } tags[] = {{fwl_TxBody_contract_tag, LDG_TX_CONTRACT}, {fwl_TxBody_bind_tag, LDG_TX_BIND},
                {fwl_TxBody_tracker_tag, LDG_TX_TRACKER}, {fwl_TxBody_report_tag, LDG_TX_REPORT}};
    const outcome one[] = {{0x10, 1, 0, 0}};
    for (size_t i = 0; i < 4; i++) {
        switch (tags[i].which) {
        case fwl_TxBody_contract_tag: contract_tx(&t, &admin, 1, "c", "rule ok: true"); break;
        case fwl_TxBody_bind_tag: bind_tx(&t, &admin, 1, "cam-fw", "cam-v2", "c", false); break;
        case fwl_TxBody_tracker_tag: tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other); break;
        default: report_tx(&t, &other, 1, one, 1);
        }
        assert_int_equal(ldg_tx_parse(&G, 1, t.buf, t.len, &tx, &why), 0);
        assert_int_equal(ldg_tx_verify(&tx), 0);
        assert_int_equal(tx.type, tags[i].type);
        uint8_t d[LDG_DIGEST_LEN];
        assert_int_equal(ldg_tx_digest(&G, tags[i].type, tx.env.body.bytes, tx.env.body.size, d), 0);
        assert_memory_equal(d, tx.hash, sizeof d);
        assert_int_equal(ldg_tx_digest(&G, LDG_TX_AUTHOR, tx.env.body.bytes, tx.env.body.size, d), 0);
        assert_memory_not_equal(d, tx.hash, sizeof d);
    }

    /* Contract: the name an identifier, the source non-empty text. */
    const char *bad_names[] = {"", "has space", "tab\tname", "semi;colon"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        contract_tx(&t, &admin, 1, bad_names[i], "rule ok: true");
        refused_stateless(LDG_EINVALID);
    }
    const char *bad_sources[] = {"", "rule\x01", "rule\x7f"};
    for (size_t i = 0; i < sizeof bad_sources / sizeof *bad_sources; i++) {
        contract_tx(&t, &admin, 1, "c", bad_sources[i]);
        refused_stateless(LDG_EINVALID);
    }
    contract_tx(&t, &admin, 1, "c", "règle \"é\": true\r\n\tok");
    assert_int_equal(parse(&t, &why), 0);

    /* Bind: product and model identifiers, a contract to bind, none to unbind. */
    bind_tx(&t, &admin, 1, "", "", "c", false);
    refused_stateless(LDG_EINVALID);
    bind_tx(&t, &admin, 1, "cam-fw", "bad model", "c", false);
    refused_stateless(LDG_EINVALID);
    bind_tx(&t, &admin, 1, "cam-fw", "", "", false);
    refused_stateless(LDG_EINVALID);
    bind_tx(&t, &admin, 1, "cam-fw", "", "c", true);
    refused_stateless(LDG_EINVALID);
    bind_tx(&t, &admin, 1, "cam-fw", "", "", true);
    assert_int_equal(parse(&t, &why), 0);

    /* Tracker: an op and a valid key. */
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_OP_UNSPECIFIED, &other);
    refused_stateless(LDG_EINVALID);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    body.payload.tracker.has_key = false;
    refused_stateless(LDG_EINVALID);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    body.payload.tracker.key.key.size--;
    refused_stateless(LDG_EBADKEY);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    body.payload.tracker.key.alg = 99;
    refused_stateless(LDG_EUNKNOWN_ALG);
    tracker_tx(&t, &admin, 1, fwl_AuthorOp_AUTHOR_ADD, &other);
    snprintf(body.payload.tracker.name, sizeof body.payload.tracker.name, "bad\nname");
    refused_stateless(LDG_EINVALID);

    /* Report: at least one entry, each with a valid hash and a device counted, no release
     * twice. */
    report_body(1, one, 0);
    refused_stateless(LDG_EINVALID);
    const outcome none[] = {{0x10, 0, 0, 0}};
    report_body(1, none, 1);
    refused_stateless(LDG_EINVALID);
    const outcome twice[] = {{0x10, 1, 0, 0}, {0x11, 1, 0, 0}, {0x10, 0, 1, 0}};
    report_body(1, twice, 3);
    refused_stateless(LDG_EINVALID);
    report_body(1, one, 1);
    body.payload.report.reports[0].file_hash.alg = 77;
    refused_stateless(LDG_EUNKNOWN_ALG);
    report_body(1, one, 1);
    body.payload.report.reports[0].file_hash.digest.size = 31;
    refused_stateless(LDG_EINVALID);
    report_body(1, one, 1);
    body.payload.report.reports[0].has_file_hash = false;
    refused_stateless(LDG_EINVALID);
    ldg_genesis g2 = G; /* a disabled hash algorithm */
    g2.alg_rules[0] = (ldg_alg_rule){0, LDG_HASH_SHA256, LDG_ALG_DISABLED, 0};
    g2.n_alg_rules = 1;
    report_tx(&t, &other, 1, one, 1);
    assert_int_equal(ldg_tx_parse(&g2, 1, t.buf, t.len, &tx, &why), LDG_EALG_DISABLED);
    assert_string_equal(why, "report.reports.file_hash");
}

/* --- atomicity --- */

/* A block that deploys, binds, registers a tracker and reports: a storage failure at any
 * write leaves none of it behind; then it applies whole. */
static void test_atomic_apply(void **st)
{
    (void)st;
    rawtx p, c, b, k, r;
    publish_tx(&p, &author, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    assert_int_equal(commit1(&p), 0);
    const outcome o[] = {{0x10, 3, 2, 1}};
    contract_tx(&c, &admin, 1, "c", "rule ok: true");
    bind_tx(&b, &admin, 2, "cam-fw", "cam-v2", "c", false);
    tracker_tx(&k, &admin, 3, fwl_AuthorOp_AUTHOR_ADD, &other);
    report_tx(&r, &other, 1, o, 1);
    rawtx *txs[] = {&c, &b, &k, &r};
    int res[4];
    uint8_t *blk;
    size_t len;
    make_block(txs, 4, res, &blk, &len);
    for (int i = 0; i < 4; i++)
        assert_int_equal(res[i], 0);
    ldg_store_abort_built(S);
    ldg_tip before, after;
    ldg_store_tip(S, &before);
    long k_ok = -1;
    for (long f = 0; f < 64; f++) {
        ldg_store_fail_after(S, f);
        int rc = ldg_store_apply_block(S, blk, len, NULL);
        if (rc == 0) {
            k_ok = f;
            break;
        }
        assert_int_equal(rc, LDG_ESTORE);
        ldg_store_tip(S, &after);
        assert_int_equal(after.height, before.height);
        assert_int_equal(ldg_store_contract(S, "c", &crec), LDG_ENOTFOUND);
        assert_int_equal(ldg_store_contract_version(S, "c", 1, &crec), LDG_ENOTFOUND);
        assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), LDG_ENOTFOUND);
        assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec),
                         LDG_ENOTFOUND);
        assert_int_equal(totals_of(0x10).reports, 0);
        uint64_t n;
        assert_int_equal(ldg_store_nonce(S, admin.pub.alg, admin.pub.key, admin.pub.len, &n), 0);
        assert_int_equal(n, 0);
    }
    /* 4 txs write at least 2 (state) + 2 (nonce, tx index) each, and the block 3. */
    assert_true(k_ok >= 4 * 3 + 3);
    ldg_store_fail_after(S, -1);
    free(blk);
    assert_int_equal(ldg_store_contract(S, "c", &crec), 0);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), 0);
    assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec), 0);
    assert_int_equal(totals_of(0x10).rolled_back, 1);

    /* Unbind and tracker removal are deletes: a failure there leaves the binding and the
     * tracker in place. */
    rawtx u, x;
    bind_tx(&u, &admin, 4, "cam-fw", "cam-v2", "", true);
    tracker_tx(&x, &admin, 5, fwl_AuthorOp_AUTHOR_REMOVE, &other);
    rawtx *txs2[] = {&u, &x};
    make_block(txs2, 2, res, &blk, &len);
    ldg_store_abort_built(S);
    for (long f = 0;; f++) {
        ldg_store_fail_after(S, f);
        int rc = ldg_store_apply_block(S, blk, len, NULL);
        if (rc == 0)
            break;
        assert_int_equal(rc, LDG_ESTORE);
        assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), 0);
        assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec), 0);
    }
    ldg_store_fail_after(S, -1);
    free(blk);
    assert_int_equal(ldg_store_binding(S, "cam-fw", "cam-v2", &brec), LDG_ENOTFOUND);
    assert_int_equal(ldg_store_tracker(S, other.pub.alg, other.pub.key, other.pub.len, &trec),
                     LDG_ENOTFOUND);
}

/* The change heights caches of eligibility rely on: the newest release listed per model,
 * the last revocation, the last contract deploy or (un)binding; refused txs leave them. */
static void change_heights(uint64_t *revoked, uint64_t *policy)
{
    assert_int_equal(ldg_store_change_heights(S, revoked, policy), 0);
}

static uint64_t model_height(const char *model)
{
    uint64_t h = 99;
    assert_int_equal(ldg_store_model_height(S, model, &h), 0);
    return h;
}

static void test_change_heights(void **st)
{
    (void)st;
    rawtx t;
    uint64_t rv = 9, pol = 9;
    change_heights(&rv, &pol);
    assert_true(rv == 0 && pol == 0);
    assert_int_equal(model_height("cam-v2"), 0);

    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    uint64_t h1 = tip_height();
    publish_tx(&t, &author, 2, "cam-fw", "1.0.0", 1, 0x11, "cam-v3");
    assert_int_equal(commit1(&t), 0);
    uint64_t h2 = tip_height();
    assert_true(h2 > h1);
    assert_int_equal(model_height("cam-v2"), h1);
    assert_int_equal(model_height("cam-v3"), h2);
    /* a prefix, an extension, a model after every other and one before: none */
    assert_int_equal(model_height("cam-v"), 0);
    assert_int_equal(model_height("cam-v2x"), 0);
    assert_int_equal(model_height("zzz"), 0);
    assert_int_equal(model_height("aaa"), 0);
    char longname[200];
    memset(longname, 'm', sizeof longname - 1), longname[sizeof longname - 1] = 0;
    assert_int_equal(model_height(longname), 0);
    change_heights(&rv, &pol);
    assert_true(rv == 0 && pol == 0);

    /* A refused revocation (not the author) stamps nothing, even proposed in a block. */
    revoke_tx(&t, &other, 1, 0x10);
    assert_int_equal(propose1(&t), LDG_EUNAUTHORIZED);
    change_heights(&rv, &pol);
    assert_int_equal(rv, 0);
    revoke_tx(&t, &author, 3, 0x10);
    assert_int_equal(commit1(&t), 0);
    uint64_t h3 = tip_height();
    change_heights(&rv, &pol);
    assert_true(rv == h3 && pol == 0);
    assert_int_equal(model_height("cam-v2"), h1); /* revocation is the global stamp */

    contract_tx(&t, &admin, 1, "rollout", "rule ok: true");
    assert_int_equal(commit1(&t), 0);
    change_heights(&rv, &pol);
    assert_true(rv == h3 && pol == tip_height());
    bind_tx(&t, &admin, 2, "cam-fw", "cam-v2", "rollout", false);
    assert_int_equal(commit1(&t), 0);
    change_heights(&rv, &pol);
    assert_int_equal(pol, tip_height());
    bind_tx(&t, &admin, 3, "cam-fw", "cam-v2", "", true);
    assert_int_equal(commit1(&t), 0);
    uint64_t h4 = tip_height();
    change_heights(&rv, &pol);
    assert_int_equal(pol, h4);
    bind_tx(&t, &admin, 4, "cam-fw", "cam-v2", "", true); /* nothing to unbind: refused */
    assert_int_equal(propose1(&t), LDG_ENOTFOUND);
    change_heights(&rv, &pol);
    assert_int_equal(pol, h4);

    restart();
    change_heights(&rv, &pol);
    assert_true(rv == h3 && pol == h4);
    assert_int_equal(model_height("cam-v3"), h2);
}

/* A reader handle sees committed blocks, keeps its snapshot while the store commits, and
 * refuses writes. */
static void test_reader(void **st)
{
    (void)st;
    rawtx t;
    ldg_store *r = NULL;
    ldg_tip tip;
    uint64_t h = 0;
    publish_tx(&t, &author, 1, "cam-fw", "1.0.0", 1, 0x10, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    uint64_t h1 = tip_height();
    assert_int_equal(ldg_store_reader(S, &r), 0);
    assert_int_equal(ldg_store_tip(r, &tip), 0);
    assert_int_equal(tip.height, h1);
    assert_int_equal(ldg_store_model_height(r, "cam-v2", &h), 0);
    assert_int_equal(h, h1);

    /* A snapshot of the reader holds while the store commits the next block. */
    assert_int_equal(ldg_store_snapshot_begin(r), 0);
    publish_tx(&t, &author, 2, "cam-fw", "1.1.0", 2, 0x11, "cam-v2");
    assert_int_equal(commit1(&t), 0);
    uint64_t h2 = tip_height();
    assert_true(h2 > h1);
    assert_int_equal(ldg_store_tip(r, &tip), 0);
    assert_int_equal(tip.height, h1);
    assert_int_equal(ldg_store_model_height(r, "cam-v2", &h), 0);
    assert_int_equal(h, h1);
    ldg_store_snapshot_end(r);
    assert_int_equal(ldg_store_tip(r, &tip), 0);
    assert_int_equal(tip.height, h2);
    fwl_ReleaseRecord *rec = malloc(sizeof *rec);
    uint8_t fh[32];
    memset(fh, 0x11, sizeof fh);
    assert_int_equal(ldg_store_release(r, LDG_HASH_SHA256, fh, sizeof fh, rec, &h), 0);
    assert_int_equal(h, h2);
    assert_string_equal(rec->release.version, "1.1.0");
    free(rec);

    /* No writes through a reader. */
    const char *why;
    publish_tx(&t, &author, 3, "cam-fw", "1.2.0", 3, 0x12, "cam-v2");
    assert_int_equal(ldg_store_check_tx(r, t.buf, t.len, &why), LDG_EINVALID);
    static uint8_t blk[4096];
    assert_int_equal(ldg_store_apply_block(r, blk, sizeof blk, NULL), LDG_EINVALID);
    assert_int_equal(ldg_store_stage_block(r, blk, sizeof blk, NULL, fh), LDG_EINVALID);
    assert_int_equal(ldg_store_commit_built(r, blk, sizeof blk), LDG_EINVALID);
    ldg_store_close(r);
    /* the store goes on */
    assert_int_equal(commit1(&t), 0);
    assert_int_equal(tip_height(), h2 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deploy_versions, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_threshold, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_compile_failure, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_no_hook, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_bind, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_tracker_keys, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_report_overflow, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_codec_limits, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_stateless_refusals, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_apply, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_change_heights, setup_hooked, teardown),
        cmocka_unit_test_setup_teardown(test_reader, setup_hooked, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
