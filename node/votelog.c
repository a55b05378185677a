/* The durable vote record (see votelog.h for the format and why it has two slots). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "ledger/ledger.h"
#include "node/node.h"
#include "node/votelog.h"

#define SLOT 128
#define MAGIC "FWLVOTE1"
#define SUM_LEN 16
#define BODY_LEN (8 + 8 + 8 + 4 + 1 + 1 + CNS_HASH_LEN + 4 + 4 + CNS_HASH_LEN) /* 102 */

struct node_votelog {
    int fd;
    uint64_t seq; /* of the newest valid slot */
};

static void be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void encode(uint8_t slot[SLOT], uint64_t seq, const cns_vote_record *r)
{
    uint8_t *p = slot, sum[SHA256_DIGEST_LENGTH];
    memset(slot, 0, SLOT);
    memcpy(p, MAGIC, 8), p += 8;
    be(p, seq, 8), p += 8;
    be(p, r->last.height, 8), p += 8;
    be(p, r->last.round, 4), p += 4;
    *p++ = r->last.step;
    *p++ = r->last.nil;
    memcpy(p, r->last.value, CNS_HASH_LEN), p += CNS_HASH_LEN;
    be(p, (uint32_t)r->last.valid_round, 4), p += 4;
    be(p, (uint32_t)r->locked_round, 4), p += 4;
    memcpy(p, r->locked_value, CNS_HASH_LEN);
    SHA256(slot, BODY_LEN, sum);
    memcpy(slot + BODY_LEN, sum, SUM_LEN);
}

/* 0 and the record when the slot is valid, -1 otherwise. */
static int decode(const uint8_t slot[SLOT], uint64_t *seq, cns_vote_record *r)
{
    uint8_t sum[SHA256_DIGEST_LENGTH];
    SHA256(slot, BODY_LEN, sum);
    if (memcmp(slot, MAGIC, 8) || memcmp(slot + BODY_LEN, sum, SUM_LEN))
        return -1;
    const uint8_t *p = slot + 8;
    memset(r, 0, sizeof *r);
    *seq = rd(p, 8), p += 8;
    r->last.height = rd(p, 8), p += 8;
    r->last.round = (uint32_t)rd(p, 4), p += 4;
    r->last.step = *p++;
    r->last.nil = *p++;
    memcpy(r->last.value, p, CNS_HASH_LEN), p += CNS_HASH_LEN;
    r->last.valid_round = (int32_t)(uint32_t)rd(p, 4), p += 4;
    r->locked_round = (int32_t)(uint32_t)rd(p, 4), p += 4;
    memcpy(r->locked_value, p, CNS_HASH_LEN);
    return 0;
}

int node_votelog_open(node_votelog **out, const char *path, cns_vote_record *rec)
{
    uint8_t buf[2 * SLOT];
    *out = NULL;
    cns_record_init(rec);
    node_votelog *v = calloc(1, sizeof *v);
    if (!v)
        return LDG_ENOMEM;
    v->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (v->fd < 0) {
        free(v);
        return LDG_EIO;
    }
    ssize_t n = pread(v->fd, buf, sizeof buf, 0);
    if (n < 0) {
        node_votelog_close(v);
        return LDG_EIO;
    }
    if (n > 0) {
        cns_vote_record r[2];
        uint64_t seq[2];
        int ok[2] = {-1, -1};
        for (int i = 0; i < 2; i++)
            if (n >= (i + 1) * SLOT)
                ok[i] = decode(buf + i * SLOT, &seq[i], &r[i]);
        int best = ok[0] ? (ok[1] ? -1 : 1) : (ok[1] ? 0 : (seq[1] > seq[0] ? 1 : 0));
        if (best < 0) {
            node_votelog_close(v);
            return NODE_ECONFIG;
        }
        *rec = r[best];
        v->seq = seq[best];
    }
    *out = v;
    return 0;
}

int node_votelog_write(node_votelog *v, const cns_vote_record *rec)
{
    uint8_t slot[SLOT];
    uint64_t seq = v->seq + 1;
    encode(slot, seq, rec);
    /* The slot for seq is the one not holding the newest record. */
    if (pwrite(v->fd, slot, SLOT, (off_t)(seq % 2) * SLOT) != SLOT || fdatasync(v->fd))
        return LDG_EIO;
    v->seq = seq;
    return 0;
}

void node_votelog_close(node_votelog *v)
{
    if (!v)
        return;
    close(v->fd);
    free(v);
}
