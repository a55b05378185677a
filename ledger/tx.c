/*
 * Transactions: decoding, stateless checks, the signed digest, signing.
 *
 * Invariant: a tx that passes ldg_tx_parse has every bounded field within its limit, every
 * string field well-formed UTF-8 without NUL in the signed bytes (so each decoded string is
 * the whole string as signed), every algorithm id known and allowed at the given height, and
 * every field syntactically valid; the stateful rules (store.c) may rely on that.
 */
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ledger/ledger.h"
#include "ledger/internal.h"

/* Any body ldg_tx_sign can encode fits the envelope's body field, and any envelope fits
 * LDG_TX_MAX (the RPC's SubmitTxReq.tx bound is the same number). */
_Static_assert(fwl_TxBody_size <= sizeof(((fwl_Tx *)0)->body.bytes), "fwl.Tx.body max_size");
_Static_assert(fwl_Tx_size <= LDG_TX_MAX, "LDG_TX_MAX below fwl_Tx_size");
_Static_assert(sizeof(((fwl_ContractTx *)0)->source) == LDG_CONTRACT_SOURCE_MAX + 1,
               "fwl.ContractTx.source max_size");
_Static_assert(sizeof(((fwl_ReportTx *)0)->reports) / sizeof(fwl_OutcomeReport) == LDG_REPORT_MAX,
               "fwl.ReportTx.reports max_count");
_Static_assert(sizeof(((fwl_SubmitTxReq *)0)->tx.bytes) >= LDG_TX_MAX,
               "fwl.SubmitTxReq.tx max_size");

/* ledger.h's bounds against the schema's: a digest, a key or a signature the registry makes
 * fits its field; a certificate holds every validator's precommit; a header the store
 * encodes fits the block, and one a block carries fits ldg_block; a list cursor goes out as
 * next and comes back as after. */
_Static_assert(sizeof(((fwl_Hash *)0)->digest.bytes) >= LDG_HASH_MAX, "fwl.Hash.digest max_size");
_Static_assert(sizeof(((fwl_PublicKey *)0)->key.bytes) >= LDG_PUBKEY_MAX,
               "fwl.PublicKey.key max_size");
_Static_assert(sizeof(((fwl_Signature *)0)->sig.bytes) >= LDG_SIG_MAX,
               "fwl.Signature.sig max_size");
_Static_assert(sizeof(((fwl_Block *)0)->commit) / sizeof(fwl_Signature) >= LDG_MAX_VALIDATORS,
               "fwl.Block.commit max_count");
_Static_assert(sizeof(((fwl_Block *)0)->header.bytes) == LDG_HEADER_MAX, /* ldg_block.hdr_raw */
               "fwl.Block.header max_size");
_Static_assert(sizeof(((fwl_ListReleasesResp *)0)->next.bytes) >= LDG_CURSOR_MAX &&
                   sizeof(((fwl_ListReleasesReq *)0)->after.bytes) == LDG_CURSOR_MAX,
               "fwl.ListReleasesResp.next and fwl.ListReleasesReq.after max_size");

int ldg__domain_digest(const ldg_genesis *g, const char *domain, const uint8_t *fixed,
                       size_t fixed_len, const uint8_t *data, size_t len,
                       uint8_t out[LDG_DIGEST_LEN])
{
    size_t cid_len = strlen(g->chain_id);
    uint8_t cl = (uint8_t)cid_len;
    const uint8_t *parts[] = {(const uint8_t *)domain, &cl, (const uint8_t *)g->chain_id,
                              fixed, data};
    size_t lens[] = {strlen(domain) + 1, 1, cid_len, fixed_len, len}; /* the NUL separates */
    uint8_t h[LDG_HASH_MAX];
    size_t hl;
    int rc = ldg_hash(g->hash_alg, parts, lens, 5, h, &hl);
    if (!rc)
        memcpy(out, h, LDG_DIGEST_LEN);
    return rc;
}

int ldg_tx_digest(const ldg_genesis *g, uint32_t type, const uint8_t *body, size_t body_len,
                  uint8_t out[LDG_DIGEST_LEN])
{
    uint8_t tb[4];
    ldg_be32(tb, type);
    return ldg__domain_digest(g, LDG_TX_DOMAIN, tb, sizeof tb, body, body_len, out);
}

int ldg_decode_error(const char *pb_err)
{
    static const char *const too_big[] = {"string overflow", "bytes overflow", "array overflow"};
    for (size_t i = 0; pb_err && i < sizeof too_big / sizeof *too_big; i++)
        if (strstr(pb_err, too_big[i]))
            return LDG_ETOOBIG;
    return LDG_EMALFORMED;
}

int ldg__pb_error(pb_istream_t *st)
{
    return ldg_decode_error(PB_GET_ERROR(st));
}

/* Printable text: no control characters; UTF-8 bytes (>= 0x80) allowed when utf8. */
static bool text_ok(const char *s, bool utf8, bool allow_empty)
{
    if (!allow_empty && !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
            return false;
    return true;
}

/* Identifiers (product, hardware model, package, add-on): [A-Za-z0-9._+/-], 1.. chars. */
bool ldg__ident_ok(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* Contract source: printable text (UTF-8 allowed) in lines; tab, CR and LF are the only
 * control characters. */
static bool source_ok(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
            return false;
    return true;
}

static bool url_ok(const char *u)
{
    static const char *const schemes[] = {"https://", "http://", "ipfs://", "s3://", "file://"};
    if (!text_ok(u, false, false) || strchr(u, ' '))
        return false;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        size_t n = strlen(schemes[i]);
        if (!strncmp(u, schemes[i], n) && u[n])
            return true;
    }
    return false;
}

int ldg__hash_check(const ldg_genesis *g, uint64_t height, bool has, const fwl_Hash *h)
{
    if (!has)
        return LDG_EINVALID;
    int rc = ldg_alg_check(g, 0, h->alg, height);
    if (rc)
        return rc;
    return h->digest.size == ldg_hash_by_id(h->alg)->digest_len ? 0 : LDG_EINVALID;
}

int ldg__key_check(const ldg_genesis *g, uint64_t height, const fwl_PublicKey *k)
{
    int rc = ldg_alg_check(g, 1, k->alg, height);
    if (rc)
        return rc;
    return k->key.size == ldg_sig_by_id(k->alg)->pub_len ? 0 : LDG_EBADKEY;
}

/* What a refused string field of a transaction is called in errors: "release.file_name (not
 * valid UTF-8)". Made from the schema's own field lists (nanopb's FIELDLIST macros), so a
 * string field added to one of these messages is named without an edit here. There is an
 * entry for every field; only string fields are ever looked up. A string in a message
 * missing from the table is refused all the same, as "a string field". */
typedef struct {
    const pb_msgdesc_t *msg;
    uint32_t tag;
    const char *not_utf8, *nul;
} text_name;

#define TEXT_PREFIX_TxBody ""
#define TEXT_PREFIX_Release "release."
#define TEXT_PREFIX_HardwareSupport "release.hardware."
#define TEXT_PREFIX_Dependency "release.dependencies."
#define TEXT_PREFIX_RevokeTx "revoke."
#define TEXT_PREFIX_AuthorTx "author."
#define TEXT_PREFIX_ContractTx "contract."
#define TEXT_PREFIX_BindTx "bind."
#define TEXT_PREFIX_TrackerTx "tracker."
#define TEXT_NAME_(m, atype, htype, ltype, field, tag)                                       \
    {fwl_##m##_fields, tag, TEXT_PREFIX_##m #field " (not valid UTF-8)",                     \
     TEXT_PREFIX_##m #field " (contains a NUL byte)"},
#define TEXT_NAMES_(m) fwl_##m##_FIELDLIST(TEXT_NAME_, m)

static const text_name text_names[] = {
    TEXT_NAMES_(TxBody) TEXT_NAMES_(Release) TEXT_NAMES_(HardwareSupport)
    TEXT_NAMES_(Dependency) TEXT_NAMES_(RevokeTx) TEXT_NAMES_(AuthorTx)
    TEXT_NAMES_(ContractTx) TEXT_NAMES_(BindTx) TEXT_NAMES_(TrackerTx)
};

static const char *text_why(const ldg__text_fault *f)
{
    for (size_t i = 0; i < sizeof text_names / sizeof *text_names; i++)
        if (text_names[i].msg == f->msg && text_names[i].tag == f->tag)
            return f->nul ? text_names[i].nul : text_names[i].not_utf8;
    return f->nul ? "a string field (contains a NUL byte)" : "a string field (not valid UTF-8)";
}

#define FAIL(code, field)                                                                    \
    do {                                                                                     \
        if (why)                                                                             \
            *why = (field);                                                                  \
        return (code);                                                                       \
    } while (0)

static int check_release(const ldg_genesis *g, uint64_t height, const fwl_Release *r,
                         const char **why)
{
    ldg_semver v;
    int rc;
    if (!ldg__ident_ok(r->product))
        FAIL(LDG_EINVALID, "release.product");
    if (!text_ok(r->provider, true, false))
        FAIL(LDG_EINVALID, "release.provider");
    if (ldg_semver_parse(r->version, &v))
        FAIL(LDG_EINVALID, "release.version (not Semantic Versioning 2.0)");
    if ((rc = ldg__hash_check(g, height, r->has_file_hash, &r->file_hash)))
        FAIL(rc, "release.file_hash");
    if (!url_ok(r->file_url))
        FAIL(LDG_EINVALID, "release.file_url");
    if (!text_ok(r->file_name, true, false) || strchr(r->file_name, '/'))
        FAIL(LDG_EINVALID, "release.file_name");
    if (r->file_size == 0)
        FAIL(LDG_EINVALID, "release.file_size");
    if (r->security_version > LDG_SECURITY_VERSION_MAX)
        FAIL(LDG_EINVALID, "release.security_version (at most 4294967295)");
    if (r->hardware_count == 0)
        FAIL(LDG_EINVALID, "release.hardware (at least one model)");
    for (pb_size_t i = 0; i < r->hardware_count; i++) {
        const fwl_HardwareSupport *hw = &r->hardware[i];
        if (!ldg__ident_ok(hw->model))
            FAIL(LDG_EINVALID, "release.hardware.model");
        if (hw->rev_max && hw->rev_min > hw->rev_max)
            FAIL(LDG_EINVALID, "release.hardware revision range");
        for (pb_size_t j = 0; j < i; j++)
            if (!strcmp(r->hardware[j].model, hw->model))
                FAIL(LDG_EINVALID, "release.hardware (model listed twice)");
        for (pb_size_t j = 0; j < hw->required_addons_count; j++)
            if (!ldg__ident_ok(hw->required_addons[j]))
                FAIL(LDG_EINVALID, "release.hardware.required_addons");
    }
    for (pb_size_t i = 0; i < r->dependencies_count; i++) {
        const fwl_Dependency *d = &r->dependencies[i];
        if (!ldg__ident_ok(d->package))
            FAIL(LDG_EINVALID, "release.dependencies.package");
        if (ldg_constraint_valid(d->constraint))
            FAIL(LDG_EINVALID, "release.dependencies.constraint");
    }
    return 0;
}

static int check_report(const ldg_genesis *g, uint64_t height, const fwl_ReportTx *r,
                        const char **why)
{
    int rc;
    if (r->reports_count == 0)
        FAIL(LDG_EINVALID, "report.reports (none)");
    for (pb_size_t i = 0; i < r->reports_count; i++) {
        const fwl_OutcomeReport *o = &r->reports[i];
        if ((rc = ldg__hash_check(g, height, o->has_file_hash, &o->file_hash)))
            FAIL(rc, "report.reports.file_hash");
        if (!o->succeeded && !o->failed && !o->rolled_back)
            FAIL(LDG_EINVALID, "report.reports (no device counted)");
        for (pb_size_t j = 0; j < i; j++) {
            const fwl_Hash *h = &r->reports[j].file_hash;
            if (h->alg == o->file_hash.alg && h->digest.size == o->file_hash.digest.size &&
                !memcmp(h->digest.bytes, o->file_hash.digest.bytes, h->digest.size))
                FAIL(LDG_EINVALID, "report.reports (release listed twice)");
        }
    }
    return 0;
}

/* The type tag of a payload (part of the signed digest); 0 for none. */
static uint32_t tx_type(pb_size_t which)
{
    switch (which) {
    case fwl_TxBody_publish_tag: return LDG_TX_PUBLISH;
    case fwl_TxBody_revoke_tag: return LDG_TX_REVOKE;
    case fwl_TxBody_author_tag: return LDG_TX_AUTHOR;
    case fwl_TxBody_contract_tag: return LDG_TX_CONTRACT;
    case fwl_TxBody_bind_tag: return LDG_TX_BIND;
    case fwl_TxBody_tracker_tag: return LDG_TX_TRACKER;
    case fwl_TxBody_report_tag: return LDG_TX_REPORT;
    default: return 0;
    }
}

/* The signatures' shapes (ldg_tx_verify checks what they sign): at least one, each signer a
 * key of an algorithm allowed at height, each signature of its algorithm's length, no signer
 * twice. */
static int check_sigs(const ldg_genesis *g, uint64_t height, const fwl_Tx *env, const char **why)
{
    int rc;
    if (env->sigs_count == 0)
        FAIL(LDG_EINVALID, "signatures (none)");
    for (pb_size_t i = 0; i < env->sigs_count; i++) {
        const fwl_Signature *s = &env->sigs[i];
        if (!s->has_signer)
            FAIL(LDG_EINVALID, "signature.signer");
        if ((rc = ldg__key_check(g, height, &s->signer)))
            FAIL(rc, "signature.signer");
        if (s->sig.size != ldg_sig_by_id(s->signer.alg)->sig_len)
            FAIL(LDG_EBADSIG, "signature length");
        for (pb_size_t j = 0; j < i; j++) {
            const fwl_PublicKey *o = &env->sigs[j].signer;
            if (o->alg == s->signer.alg && o->key.size == s->signer.key.size &&
                !memcmp(o->key.bytes, s->signer.key.bytes, o->key.size))
                FAIL(LDG_EINVALID, "signatures (same signer twice)");
        }
    }
    return 0;
}

/* The payload's own fields (tx->type is set). */
static int check_payload(const ldg_genesis *g, uint64_t height, const ldg_tx *tx,
                         const char **why)
{
    int rc;
    switch (tx->type) {
    case LDG_TX_PUBLISH:
        if (!tx->body.payload.publish.has_release)
            FAIL(LDG_EINVALID, "publish.release");
        if ((rc = check_release(g, height, &tx->body.payload.publish.release, why)))
            return rc;
        break;
    case LDG_TX_REVOKE: {
        const fwl_RevokeTx *r = &tx->body.payload.revoke;
        if ((rc = ldg__hash_check(g, height, r->has_file_hash, &r->file_hash)))
            FAIL(rc, "revoke.file_hash");
        if (r->reason < fwl_RevokeReason_REVOKE_VULNERABLE ||
            r->reason > fwl_RevokeReason_REVOKE_WITHDRAWN)
            FAIL(LDG_EINVALID, "revoke.reason");
        if (!text_ok(r->note, true, true))
            FAIL(LDG_EINVALID, "revoke.note");
        break;
    }
    case LDG_TX_AUTHOR: {
        const fwl_AuthorTx *a = &tx->body.payload.author;
        if (a->op != fwl_AuthorOp_AUTHOR_ADD && a->op != fwl_AuthorOp_AUTHOR_REMOVE)
            FAIL(LDG_EINVALID, "author.op");
        if (!ldg__ident_ok(a->product))
            FAIL(LDG_EINVALID, "author.product");
        if (!a->has_key)
            FAIL(LDG_EINVALID, "author.key");
        if ((rc = ldg__key_check(g, height, &a->key)))
            FAIL(rc, "author.key");
        if (!text_ok(a->name, true, true))
            FAIL(LDG_EINVALID, "author.name");
        break;
    }
    case LDG_TX_CONTRACT: {
        const fwl_ContractTx *c = &tx->body.payload.contract;
        if (!ldg__ident_ok(c->name))
            FAIL(LDG_EINVALID, "contract.name");
        if (!source_ok(c->source))
            FAIL(LDG_EINVALID, "contract.source (empty, or a control character)");
        break;
    }
    case LDG_TX_BIND: {
        const fwl_BindTx *b = &tx->body.payload.bind;
        if (!ldg__ident_ok(b->product))
            FAIL(LDG_EINVALID, "bind.product");
        if (*b->hardware_model && !ldg__ident_ok(b->hardware_model))
            FAIL(LDG_EINVALID, "bind.hardware_model");
        if (b->unbind ? *b->contract != 0 : !ldg__ident_ok(b->contract))
            FAIL(LDG_EINVALID, b->unbind ? "bind.contract (must be empty to unbind)"
                                         : "bind.contract");
        break;
    }
    case LDG_TX_TRACKER: {
        const fwl_TrackerTx *t = &tx->body.payload.tracker;
        if (t->op != fwl_AuthorOp_AUTHOR_ADD && t->op != fwl_AuthorOp_AUTHOR_REMOVE)
            FAIL(LDG_EINVALID, "tracker.op");
        if (!t->has_key)
            FAIL(LDG_EINVALID, "tracker.key");
        if ((rc = ldg__key_check(g, height, &t->key)))
            FAIL(rc, "tracker.key");
        if (!text_ok(t->name, true, true))
            FAIL(LDG_EINVALID, "tracker.name");
        break;
    }
    case LDG_TX_REPORT:
        if ((rc = check_report(g, height, &tx->body.payload.report, why)))
            return rc;
        break;
    }
    return 0;
}

int ldg_tx_parse(const ldg_genesis *g, uint64_t height, const uint8_t *buf, size_t len,
                 ldg_tx *tx, const char **why)
{
    int rc;
    if (why)
        *why = "";
    memset(tx, 0, sizeof *tx);
    if (len > LDG_TX_MAX)
        FAIL(LDG_ETOOBIG, "transaction");
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, fwl_Tx_fields, &tx->env))
        FAIL(ldg__pb_error(&st), "transaction envelope");
    st = pb_istream_from_buffer(tx->env.body.bytes, tx->env.body.size);
    if (!pb_decode(&st, fwl_TxBody_fields, &tx->body))
        FAIL(ldg__pb_error(&st), "transaction body");
    /* Text as signed: nanopb keeps each string up to its first NUL and does not check UTF-8 (a
     * stock decoder refuses the whole message when a string is not UTF-8), so the strings
     * are checked on the body's bytes, before any rule reads the decoded ones. */
    ldg__text_fault tf;
    if ((rc = ldg__wire_text_check(fwl_TxBody_fields, &tx->body, tx->env.body.bytes,
                                   tx->env.body.size, &tf)))
        FAIL(rc, rc == LDG_EINVALID ? text_why(&tf) : "transaction body");
    if (strcmp(tx->body.chain_id, g->chain_id))
        FAIL(LDG_ECHAIN, "chain_id");
    if (!(tx->type = tx_type(tx->body.which_payload)))
        FAIL(LDG_EINVALID, "payload (none)");
    if (tx->body.nonce == 0)
        FAIL(LDG_EINVALID, "nonce (must be >= 1)");
    if ((rc = check_sigs(g, height, &tx->env, why)) || (rc = check_payload(g, height, tx, why)))
        return rc;
    if ((rc = ldg_tx_digest(g, tx->type, tx->env.body.bytes, tx->env.body.size, tx->hash)))
        FAIL(rc, "chain hash");
    const fwl_PublicKey *k = &tx->env.sigs[0].signer;
    if ((rc = ldg_key_id(g, k->alg, k->key.bytes, k->key.size, tx->sender)))
        FAIL(rc, "sender");
    tx->raw = buf;
    tx->raw_len = len;
    return 0;
}

int ldg_tx_verify(const ldg_tx *tx)
{
    for (pb_size_t i = 0; i < tx->env.sigs_count; i++) {
        const fwl_Signature *s = &tx->env.sigs[i];
        int rc = ldg_verify(s->signer.alg, s->signer.key.bytes, s->signer.key.size, tx->hash,
                            s->sig.bytes, s->sig.size);
        if (rc)
            return rc;
    }
    return 0;
}

int ldg_tx_sign(const ldg_genesis *g, const fwl_TxBody *body, const ldg_seckey *keys, size_t n,
                const uint8_t *aux, uint8_t *out, size_t cap, size_t *out_len,
                uint8_t hash[LDG_DIGEST_LEN])
{
    uint32_t type = tx_type(body->which_payload);
    int rc;
    if (!type)
        return LDG_EINVALID;
    fwl_Tx *tx = calloc(1, sizeof *tx); /* ~10 KiB: off the stack */
    if (!tx)
        return LDG_ENOMEM;
    rc = n == 0 || n > sizeof tx->sigs / sizeof *tx->sigs ? LDG_EINVALID : 0;
    pb_ostream_t os = pb_ostream_from_buffer(tx->body.bytes, sizeof tx->body.bytes);
    if (!rc && !pb_encode(&os, fwl_TxBody_fields, body))
        rc = LDG_ETOOBIG;
    tx->body.size = (pb_size_t)os.bytes_written;
    if (!rc)
        rc = ldg_tx_digest(g, type, tx->body.bytes, tx->body.size, hash);
    for (size_t i = 0; !rc && i < n; i++) {
        const ldg_sig_impl *im = ldg_sig_by_id(keys[i].alg);
        fwl_Signature *s = &tx->sigs[i];
        if (!im) {
            rc = LDG_EUNKNOWN_ALG;
            break;
        }
        s->has_signer = true;
        s->signer.alg = keys[i].alg;
        s->signer.key.size = (pb_size_t)im->pub_len;
        s->sig.size = (pb_size_t)im->sig_len;
        if (!(rc = im->pubkey(keys[i].sec, s->signer.key.bytes)))
            rc = im->sign(keys[i].sec, hash, aux, s->sig.bytes);
    }
    tx->sigs_count = (pb_size_t)n;
    os = pb_ostream_from_buffer(out, cap);
    if (!rc && !pb_encode(&os, fwl_Tx_fields, tx))
        rc = LDG_ETOOBIG;
    if (!rc)
        *out_len = os.bytes_written;
    free(tx);
    return rc;
}
