/*
 * Proofs from the state tree (store_state.c): the steps from the root to a key prefix, then
 * the range's leaves with their records, or a witness of its absence (docs/verification.md).
 * They read the snapshot's (or the latest) committed tree.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/store_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Proofs                                                                                    */

void ldg_state_proof_buf_free(ldg_state_proof_buf *b)
{
    free(b->steps);
    free(b->leaves);
    free(b->keys);
    memset(b, 0, sizeof *b);
}

static int add_step(ldg_state_proof_buf *b, size_t bit, const uint8_t *sibling)
{
    if (b->p.n_steps == b->cap_steps) {
        size_t cap = b->cap_steps ? 2 * b->cap_steps : 32;
        ldg_state_step *st = realloc(b->steps, cap * sizeof *st);
        if (!st)
            return LDG_ENOMEM;
        b->steps = st, b->cap_steps = cap, b->p.steps = st;
    }
    b->steps[b->p.n_steps].bit = (uint16_t)bit;
    memcpy(b->steps[b->p.n_steps++].sibling, sibling, LDG_DIGEST_LEN);
    return 0;
}

static int add_proof_leaf(ldg_state_proof_buf *b, const uint8_t *key, size_t kl,
                          const uint8_t *vhash, const MDB_val *val)
{
    if (b->p.n_leaves == b->cap_leaves) {
        size_t cap = b->cap_leaves ? 2 * b->cap_leaves : 16;
        ldg_state_leaf *l = realloc(b->leaves, cap * sizeof *l);
        if (!l)
            return LDG_ENOMEM;
        b->leaves = l, b->cap_leaves = cap;
    }
    size_t need = b->keys_len + kl + val->mv_size;
    if (need > b->keys_cap) {
        size_t cap = b->keys_cap ? 2 * b->keys_cap : 1024;
        while (cap < need)
            cap *= 2;
        uint8_t *k = realloc(b->keys, cap);
        if (!k)
            return LDG_ENOMEM;
        b->keys = k, b->keys_cap = cap;
    }
    ldg_state_leaf *l = &b->leaves[b->p.n_leaves++];
    l->key = (const uint8_t *)(uintptr_t)b->keys_len; /* an offset until the end */
    l->key_len = kl;
    memcpy(l->vhash, vhash, LDG_DIGEST_LEN);
    memcpy(b->keys + b->keys_len, key, kl);
    b->keys_len += kl;
    l->value = (const uint8_t *)(uintptr_t)b->keys_len;
    l->value_len = val->mv_size;
    memcpy(b->keys + b->keys_len, val->mv_data, val->mv_size);
    b->keys_len += val->mv_size;
    return 0;
}

/* Every leaf below id, in key order (child 0 first). The walk holds at most the path's
 * depth plus one nodes, which keys with long shared prefixes can make deep: it grows. */
static int collect(ldg_store *s, MDB_txn *txn, const node_id *top, size_t max,
                   ldg_state_proof_buf *b)
{
    node_id *stack = malloc(16 * sizeof *stack);
    size_t n = 0, cap = 16;
    int rc = stack ? 0 : LDG_ENOMEM;
    if (stack)
        stack[n++] = *top;
    while (!rc && n) {
        node_id id = stack[--n];
        node nd;
        if ((rc = ldg__node_get(s, txn, &id, &nd)))
            break;
        if (nd.leaf) {
            MDB_val v;
            if (b->p.n_leaves >= max)
                rc = LDG_ETOOBIG;
            else if (!(rc = ldg__state_value(s, txn, id.b + 2, id.len - 2, &v)))
                rc = add_proof_leaf(b, id.b + 2, id.len - 2, nd.vhash, &v);
            continue;
        }
        if (n + 2 > cap) {
            node_id *g = realloc(stack, 2 * cap * sizeof *g);
            if (!g) {
                rc = LDG_ENOMEM;
                break;
            }
            stack = g, cap *= 2;
        }
        stack[n++] = nd.child[1];
        stack[n++] = nd.child[0];
    }
    free(stack);
    return rc;
}

static int prove_walk(ldg_store *s, MDB_txn *txn, const uint8_t *prefix, size_t plen,
                      size_t max, ldg_state_proof_buf *b)
{
    node_id cur;
    size_t pbits = 8 * plen;
    int rc = ldg__node_root_id(s, txn, &cur);
    if (rc == LDG_ENOTFOUND) {
        b->p.witness = LDG_STATE_EMPTY;
        return 0;
    }
    for (; !rc;) {
        node n;
        if ((rc = ldg__node_get(s, txn, &cur, &n)))
            break;
        size_t cbits = ldg__id_bit(cur.b), d = ldg__lcp_bits(prefix, plen, cur.b + 2, cur.len - 2);
        if (d > cbits)
            d = cbits; /* an inner node's last byte is padded */
        if (d >= pbits) /* below the prefix: the range */
            return collect(s, txn, &cur, max, b);
        if (n.leaf || d < cbits) { /* leaves the prefix: the range is empty */
            if (n.leaf) {
                b->p.witness = LDG_STATE_WITNESS_LEAF;
                memcpy(b->p.w_key, cur.b + 2, cur.len - 2);
                b->p.w_key_len = cur.len - 2;
                memcpy(b->p.w_vhash, n.vhash, LDG_DIGEST_LEN);
                return 0;
            }
            b->p.witness = LDG_STATE_WITNESS_NODE;
            b->p.w_bit = (uint16_t)cbits;
            memcpy(b->p.w_prefix, cur.b + 2, cur.len - 2);
            memcpy(b->p.w_left, n.ch[0], LDG_DIGEST_LEN);
            memcpy(b->p.w_right, n.ch[1], LDG_DIGEST_LEN);
            return 0;
        }
        int side = ldg__bit_of(prefix, cbits);
        rc = add_step(b, cbits, n.ch[!side]); /* the sibling's hash, kept in its parent */
        cur = n.child[side];
    }
    return rc;
}

int ldg_store_prove(ldg_store *s, const uint8_t *prefix, size_t plen, size_t max_leaves,
                    ldg_state_proof_buf *b)
{
    memset(b, 0, sizeof *b);
    if (plen == 0 || plen > LDG_STATE_KEY_MAX)
        return LDG_EINVALID;
    MDB_txn *txn;
    int rc = ldg__rbegin(s, &txn);
    if (rc)
        return rc;
    rc = prove_walk(s, txn, prefix, plen, max_leaves, b);
    ldg__rend(s);
    for (size_t i = 0; !rc && i < b->p.n_leaves; i++) {
        b->leaves[i].key = b->keys + (uintptr_t)b->leaves[i].key;
        b->leaves[i].value = b->keys + (uintptr_t)b->leaves[i].value;
    }
    b->p.leaves = b->leaves;
    b->p.steps = b->steps;
    if (rc)
        ldg_state_proof_buf_free(b);
    return rc;
}

