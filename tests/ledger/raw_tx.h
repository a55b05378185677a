/*
 * A transaction over body bytes as they are, for tests that need a body ldg_tx_sign cannot
 * encode from a struct: a NUL inside a string (nanopb's char arrays end at the first NUL).
 * Shared by the ledger unit tests and the functional RPC test; header-only, no cmocka.
 */
#ifndef FWL_TESTS_RAW_TX_H
#define FWL_TESTS_RAW_TX_H

#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "ledger/ledger.h"

/* Sign body[0..n) as a tx of `type` with one key into out (cap bytes); the envelope's
 * length in *out_len, the tx id in hash (when not NULL). Errors: LDG_ETOOBIG, LDG_ENOMEM,
 * LDG_EUNKNOWN_ALG, a signer's. */
static inline int raw_tx_sign(const ldg_genesis *g, const ldg_seckey *k, uint32_t type,
                              const uint8_t *body, size_t n, uint8_t *out, size_t cap,
                              size_t *out_len, uint8_t *hash)
{
    const ldg_sig_impl *im = ldg_sig_by_id(k->alg);
    fwl_Tx *env = calloc(1, sizeof *env);
    uint8_t d[LDG_DIGEST_LEN];
    int rc = !im ? LDG_EUNKNOWN_ALG : !env ? LDG_ENOMEM
             : n > sizeof env->body.bytes ? LDG_ETOOBIG : 0;
    if (!rc) {
        fwl_Signature *s = &env->sigs[0];
        memcpy(env->body.bytes, body, n);
        env->body.size = (pb_size_t)n;
        env->sigs_count = 1;
        s->has_signer = true;
        s->signer.alg = k->alg;
        s->signer.key.size = (pb_size_t)im->pub_len;
        s->sig.size = (pb_size_t)im->sig_len;
        if (!(rc = im->pubkey(k->sec, s->signer.key.bytes)) &&
            !(rc = ldg_tx_digest(g, type, body, n, d)))
            rc = im->sign(k->sec, d, NULL, s->sig.bytes);
    }
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    if (!rc && !pb_encode(&os, fwl_Tx_fields, env))
        rc = LDG_ETOOBIG;
    *out_len = rc ? 0 : os.bytes_written;
    if (!rc && hash)
        memcpy(hash, d, LDG_DIGEST_LEN);
    free(env);
    return rc;
}

/* Encode body, replace the first occurrence of `from` in its bytes with `to` (as many
 * bytes: lengths stay right), and sign the result. Used to put a NUL into a string: write
 * a marker in the struct, e.g. "1.0.0~-rc", and swap "0~-" for "0\0-". Errors: LDG_EINVALID
 * (no such marker), raw_tx_sign's. */
static inline int raw_tx_sign_patched(const ldg_genesis *g, const ldg_seckey *k, uint32_t type,
                                      const fwl_TxBody *body, const char *from, const char *to,
                                      size_t n, uint8_t *out, size_t cap, size_t *out_len,
                                      uint8_t *hash)
{
    static uint8_t enc[fwl_TxBody_size];
    pb_ostream_t os = pb_ostream_from_buffer(enc, sizeof enc);
    if (!pb_encode(&os, fwl_TxBody_fields, body))
        return LDG_ETOOBIG;
    uint8_t *at = memmem(enc, os.bytes_written, from, n);
    if (!at)
        return LDG_EINVALID;
    memcpy(at, to, n);
    return raw_tx_sign(g, k, type, enc, os.bytes_written, out, cap, out_len, hash);
}

#endif
