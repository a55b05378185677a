/* The durable vote state (see votelog.h for the format and why it has two slots). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "node/client/client.h"
#include "node/daemon/votelog.h"

#define SLOT (16u << 10)
#define SUM_LEN 16
#define MAGIC "FWLVOTE2"
#define REC_LEN (8 + 4 + 1 + 1 + CNS_HASH_LEN + 4 + 4 + CNS_HASH_LEN) /* 86 */
#define MSG_LEN (8 + 4 + 1 + 1 + CNS_HASH_LEN)                        /* 46 */
#define POL_LEN (MSG_LEN + 4 + 1 + LDG_SIG_MAX)                        /* 123 */
_Static_assert(8 + 8 + REC_LEN + 8 + 2 + NODE_WAL_MAX * MSG_LEN + 8 + 2 +
                   NODE_POL_MAX * POL_LEN + SUM_LEN <= SLOT, "vote state slot");

/* Version 1: two 128-byte slots, the record alone. */
#define V1_SLOT 128
#define V1_MAGIC "FWLVOTE1"
#define V1_BODY (8 + 8 + REC_LEN) /* 102 */

struct node_votelog {
    int fd;
    uint64_t seq; /* of the newest valid slot */
};

static uint8_t *be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
    return p + n;
}

static uint64_t rd(const uint8_t **p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (*p)[i];
    *p += n;
    return v;
}

static uint8_t *put_msg(uint8_t *p, const cns_msg *m)
{
    p = be(p, m->height, 8);
    p = be(p, m->round, 4);
    *p++ = m->step;
    *p++ = m->nil;
    memcpy(p, m->value, CNS_HASH_LEN);
    return p + CNS_HASH_LEN;
}

static void get_msg(const uint8_t **p, cns_msg *m)
{
    memset(m, 0, sizeof *m);
    m->height = rd(p, 8);
    m->round = (uint32_t)rd(p, 4);
    m->step = *(*p)++;
    m->nil = *(*p)++ != 0;
    memcpy(m->value, *p, CNS_HASH_LEN);
    *p += CNS_HASH_LEN;
    m->valid_round = -1;
}

static uint8_t *put_rec(uint8_t *p, const cns_vote_record *r)
{
    p = put_msg(p, &r->last);
    p = be(p, (uint32_t)r->last.valid_round, 4);
    p = be(p, (uint32_t)r->locked_round, 4);
    memcpy(p, r->locked_value, CNS_HASH_LEN);
    return p + CNS_HASH_LEN;
}

static void get_rec(const uint8_t **p, cns_vote_record *r)
{
    get_msg(p, &r->last);
    r->last.valid_round = (int32_t)(uint32_t)rd(p, 4);
    r->locked_round = (int32_t)(uint32_t)rd(p, 4);
    memcpy(r->locked_value, *p, CNS_HASH_LEN);
    *p += CNS_HASH_LEN;
}

static void checksum(const uint8_t *data, size_t len, uint8_t out[SUM_LEN])
{
    uint8_t sum[SHA256_DIGEST_LENGTH];
    SHA256(data, len, sum);
    memcpy(out, sum, SUM_LEN);
}

static void encode(uint8_t *slot, uint64_t seq, const node_vote_state *st)
{
    uint8_t *p = slot;
    memset(slot, 0, SLOT);
    memcpy(p, MAGIC, 8), p += 8;
    p = be(p, seq, 8);
    p = put_rec(p, &st->rec);
    p = be(p, st->wal_h, 8);
    p = be(p, st->n_wal, 2);
    for (uint32_t i = 0; i < st->n_wal; i++)
        p = put_msg(p, &st->wal[i]);
    p = be(p, st->pol_h, 8);
    p = be(p, st->n_pol, 2);
    for (uint32_t i = 0; i < st->n_pol; i++) {
        const node_signed_vote *v = &st->pol[i];
        p = put_msg(p, &v->m);
        p = be(p, v->validator, 4);
        *p++ = v->sig_len;
        memcpy(p, v->sig, v->sig_len);
        p += LDG_SIG_MAX;
    }
    checksum(slot, SLOT - SUM_LEN, slot + SLOT - SUM_LEN);
}

/* 0 and the state when the slot is a valid version 2 slot, -1 otherwise. */
static int decode(const uint8_t *slot, uint64_t *seq, node_vote_state *st)
{
    uint8_t sum[SUM_LEN];
    checksum(slot, SLOT - SUM_LEN, sum);
    if (memcmp(slot, MAGIC, 8) || memcmp(slot + SLOT - SUM_LEN, sum, SUM_LEN))
        return -1;
    const uint8_t *p = slot + 8;
    node_vote_state_init(st);
    *seq = rd(&p, 8);
    get_rec(&p, &st->rec);
    st->wal_h = rd(&p, 8);
    st->n_wal = (uint32_t)rd(&p, 2);
    if (st->n_wal > NODE_WAL_MAX)
        return -1;
    for (uint32_t i = 0; i < st->n_wal; i++)
        get_msg(&p, &st->wal[i]);
    st->pol_h = rd(&p, 8);
    st->n_pol = (uint32_t)rd(&p, 2);
    if (st->n_pol > NODE_POL_MAX)
        return -1;
    for (uint32_t i = 0; i < st->n_pol; i++) {
        node_signed_vote *v = &st->pol[i];
        get_msg(&p, &v->m);
        v->validator = (uint32_t)rd(&p, 4);
        v->sig_len = *p++;
        if (v->sig_len > LDG_SIG_MAX)
            return -1;
        memcpy(v->sig, p, v->sig_len);
        p += LDG_SIG_MAX;
    }
    return 0;
}

/* A version 1 slot: the record alone. */
static int decode_v1(const uint8_t *slot, uint64_t *seq, node_vote_state *st)
{
    uint8_t sum[SUM_LEN];
    checksum(slot, V1_BODY, sum);
    if (memcmp(slot, V1_MAGIC, 8) || memcmp(slot + V1_BODY, sum, SUM_LEN))
        return -1;
    const uint8_t *p = slot + 8;
    node_vote_state_init(st);
    *seq = rd(&p, 8);
    get_rec(&p, &st->rec);
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The newer of two slots: 0 or 1, -1 if neither is valid. */
static int newer(const int ok[2], const uint64_t seq[2])
{
    return ok[0] ? (ok[1] ? -1 : 1) : (ok[1] ? 0 : (seq[1] > seq[0] ? 1 : 0));
}

void node_vote_state_init(node_vote_state *st)
{
    memset(st, 0, sizeof *st);
    cns_record_init(&st->rec);
}

void node_vote_wal_add(node_vote_state *st, const cns_msg *m)
{
    if (st->wal_h != m->height) {
        st->wal_h = m->height;
        st->n_wal = 0;
    }
    if (st->n_wal == NODE_WAL_MAX) {
        memmove(st->wal, st->wal + 1, (NODE_WAL_MAX - 1) * sizeof *st->wal);
        st->n_wal--;
    }
    st->wal[st->n_wal++] = *m;
}

int node_votelog_open(node_votelog **out, const char *path, node_vote_state *st)
{
    *out = NULL;
    node_vote_state_init(st);
    uint8_t *buf = malloc(2 * SLOT);
    node_vote_state *s2 = malloc(2 * sizeof *s2);
    node_votelog *v = calloc(1, sizeof *v);
    if (!buf || !s2 || !v) {
        free(buf), free(s2), free(v);
        return LDG_ENOMEM;
    }
    int rc = 0;
    v->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ssize_t n = v->fd < 0 ? -1 : pread(v->fd, buf, 2 * SLOT, 0);
    if (n < 0) {
        rc = ldg_errno_code(errno);
    } else if (n > 0 && !all_zero(buf, (size_t)n)) { /* all zero: allocated, never written */
        uint64_t seq[2] = {0, 0};
        int ok[2] = {-1, -1};
        for (int i = 0; i < 2; i++)
            if (n >= (ssize_t)((i + 1) * SLOT))
                ok[i] = decode(buf + i * SLOT, &seq[i], &s2[i]);
        int best = newer(ok, seq);
        if (best >= 0) {
            *st = s2[best];
            v->seq = seq[best];
        } else {
            for (int i = 0; i < 2; i++)
                ok[i] = n >= (ssize_t)((i + 1) * V1_SLOT) ? decode_v1(buf + i * V1_SLOT, &seq[i], &s2[i]) : -1;
            if ((best = newer(ok, seq)) < 0) {
                rc = NODE_ECONFIG;
            } else {
                *st = s2[best];
                v->seq = 0; /* the first write (seq 1) goes to the second slot, past it */
            }
        }
    }
    free(buf);
    free(s2);
    /* Both slots get their room now, so that a later full disk cannot stop this validator
     * from voting: every write rewrites blocks the file already has (on filesystems that
     * overwrite in place; a copy-on-write one can still say ENOSPC). */
    int err = rc ? 0 : posix_fallocate(v->fd, 0, 2 * SLOT);
    if (err && err != EOPNOTSUPP && err != EINVAL)
        rc = ldg_errno_code(err);
    if (rc) {
        node_vote_state_init(st);
        node_votelog_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

int node_votelog_write(node_votelog *v, const node_vote_state *st)
{
    if (st->n_wal > NODE_WAL_MAX || st->n_pol > NODE_POL_MAX)
        return LDG_EINVALID;
    for (uint32_t i = 0; i < st->n_pol; i++)
        if (st->pol[i].sig_len > LDG_SIG_MAX)
            return LDG_EINVALID;
    uint8_t *slot = malloc(SLOT);
    if (!slot)
        return LDG_ENOMEM;
    uint64_t seq = v->seq + 1;
    encode(slot, seq, st);
    /* The slot for seq is the one not holding the newest state. A short write (the disk
     * filled in the middle) is ENOSPC. */
    int rc = 0;
    ssize_t n = pwrite(v->fd, slot, SLOT, (off_t)(seq % 2) * SLOT);
    if (n != (ssize_t)SLOT)
        rc = n < 0 ? ldg_errno_code(errno) : LDG_ENOSPC;
    else if (fdatasync(v->fd))
        rc = ldg_errno_code(errno);
    free(slot);
    if (!rc)
        v->seq = seq;
    return rc;
}

void node_votelog_close(node_votelog *v)
{
    if (!v)
        return;
    if (v->fd >= 0)
        close(v->fd);
    free(v);
}
