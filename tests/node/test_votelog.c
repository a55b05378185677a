/* The durable vote state: round trips (record, WAL, proof-of-lock), restart, a torn write,
 * corruption, bounds, reading a version 1 file, slots allocated at open, a full disk. */
#include <fcntl.h>
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "node/client/client.h"
#include "node/daemon/votelog.h"

static char dir[64], path[96];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/fwl-votelog-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/votes", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    unlink(path);
    return rmdir(dir);
}

static cns_vote_record rec_at(uint64_t h, uint32_t r, uint8_t step, uint8_t v)
{
    cns_vote_record rec;
    cns_record_init(&rec);
    rec.last.height = h;
    rec.last.round = r;
    rec.last.step = step;
    memset(rec.last.value, v, CNS_HASH_LEN);
    rec.last.valid_round = -1;
    rec.locked_round = step == CNS_PRECOMMIT ? (int32_t)r : -1;
    if (step == CNS_PRECOMMIT)
        memset(rec.locked_value, v, CNS_HASH_LEN);
    return rec;
}

static node_vote_state st, got;

static void open_state(node_votelog **v, int want)
{
    assert_int_equal(node_votelog_open(v, path, &got), want);
}

static void test_new_file_is_empty_then_round_trips(void **st_)
{
    (void)st_;
    node_votelog *v;
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 0);
    assert_int_equal(got.n_wal + got.n_pol, 0);
    node_vote_state_init(&st);
    for (uint32_t r = 0; r < 5; r++) {
        st.rec = rec_at(7, r, CNS_PREVOTE, (uint8_t)r);
        assert_int_equal(node_votelog_write(v, &st), 0);
    }
    st.rec = rec_at(7, 2, CNS_PRECOMMIT, 0xaa);
    st.wal_h = 7;
    st.n_wal = 3;
    st.wal[0] = rec_at(7, 0, CNS_PREVOTE, 1).last;
    st.wal[1] = rec_at(7, 0, CNS_PRECOMMIT, 1).last;
    st.wal[1].nil = true;
    memset(st.wal[1].value, 0, CNS_HASH_LEN);
    st.wal[2] = st.rec.last;
    st.pol_h = 7;
    st.n_pol = NODE_POL_MAX;
    for (uint32_t i = 0; i < NODE_POL_MAX; i++) {
        st.pol[i].m = rec_at(7, 2, CNS_PREVOTE, 0xaa).last;
        st.pol[i].validator = i;
        st.pol[i].sig_len = (uint8_t)(i % 2 ? LDG_SIG_MAX : 64);
        memset(st.pol[i].sig, (int)i + 1, st.pol[i].sig_len);
    }
    assert_int_equal(node_votelog_write(v, &st), 0);
    node_votelog_close(v);
    open_state(&v, 0);
    assert_memory_equal(&got.rec.last.value, st.rec.last.value, CNS_HASH_LEN);
    assert_int_equal(got.rec.last.height, 7);
    assert_int_equal(got.rec.last.round, 2);
    assert_int_equal(got.rec.last.step, CNS_PRECOMMIT);
    assert_int_equal(got.rec.locked_round, 2);
    assert_memory_equal(got.rec.locked_value, st.rec.locked_value, CNS_HASH_LEN);
    assert_int_equal(got.wal_h, 7);
    assert_int_equal(got.n_wal, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(got.wal[i].round, st.wal[i].round);
        assert_int_equal(got.wal[i].step, st.wal[i].step);
        assert_int_equal(got.wal[i].nil, st.wal[i].nil);
        assert_memory_equal(got.wal[i].value, st.wal[i].value, CNS_HASH_LEN);
    }
    assert_int_equal(got.pol_h, 7);
    assert_int_equal(got.n_pol, NODE_POL_MAX);
    for (uint32_t i = 0; i < NODE_POL_MAX; i++) {
        assert_int_equal(got.pol[i].validator, i);
        assert_int_equal(got.pol[i].sig_len, st.pol[i].sig_len);
        assert_memory_equal(got.pol[i].sig, st.pol[i].sig, st.pol[i].sig_len);
        assert_memory_equal(got.pol[i].m.value, st.pol[i].m.value, CNS_HASH_LEN);
    }
    /* The restarted engine's guard refuses a conflicting vote. */
    cns_msg conflict = got.rec.last;
    memset(conflict.value, 0xbb, CNS_HASH_LEN);
    assert_false(cns_may_sign(&got.rec, &conflict));
    /* Writing goes on after a reopen (the sequence continues). */
    node_vote_state_init(&st);
    st.rec = rec_at(8, 0, CNS_PREVOTE, 1);
    assert_int_equal(node_votelog_write(v, &st), 0);
    node_votelog_close(v);
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 8);
    assert_int_equal(got.n_wal + got.n_pol, 0);
    /* Over the bounds: refused, nothing written. */
    st.n_wal = NODE_WAL_MAX + 1;
    assert_int_equal(node_votelog_write(v, &st), LDG_EINVALID);
    node_votelog_close(v);
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 8);
    node_votelog_close(v);
}

static void corrupt(off_t at)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

#define SLOT (16 << 10)

static void test_torn_write_keeps_the_previous_record(void **st_)
{
    (void)st_;
    node_votelog *v;
    open_state(&v, 0);
    node_vote_state_init(&st);
    st.rec = rec_at(3, 0, CNS_PREVOTE, 1);
    st.wal_h = 3;
    st.n_wal = 1;
    st.wal[0] = st.rec.last;
    assert_int_equal(node_votelog_write(v, &st), 0); /* seq 1: slot 1 */
    st.rec = rec_at(3, 0, CNS_PRECOMMIT, 1);
    st.wal[st.n_wal++] = st.rec.last;
    assert_int_equal(node_votelog_write(v, &st), 0); /* seq 2: slot 0 */
    node_votelog_close(v);
    corrupt(5000); /* the newest slot (0) is torn, past the record: the WAL part */
    open_state(&v, 0);
    assert_int_equal(got.rec.last.step, CNS_PREVOTE);
    assert_int_equal(got.n_wal, 1);
    node_votelog_close(v);
    corrupt(SLOT + 20); /* now both are bad: refuse to start */
    open_state(&v, NODE_ECONFIG);
}

/* The file descriptor the vote log holds on path (found in /proc/self/fd), -1 if none. */
static int fd_of_path(void)
{
    char link[64], target[256];
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = 0;
            if (!strcmp(target, path))
                return fd;
        }
    }
    return -1;
}

/* Both slots are allocated when the file is created, so that writes need no new room on
 * the disk; such a file, never written, opens as a new one. */
static void test_slots_allocated_at_open(void **st_)
{
    (void)st_;
    node_votelog *v;
    struct stat sb;
    open_state(&v, 0);
    node_votelog_close(v);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 2 * SLOT);
    assert_true(sb.st_blocks * 512 >= 2 * SLOT);
    open_state(&v, 0); /* zeros: nothing signed yet */
    assert_int_equal(got.rec.last.height, 0);
    assert_int_equal(got.n_wal + got.n_pol, 0);
    node_votelog_close(v);
}

/* A full disk: the write fails with LDG_ENOSPC and leaves the previous state on disk; once
 * writing works again, the next write goes through. The log's descriptor is pointed at
 * /dev/full (every write: ENOSPC) and back. */
static void test_full_disk(void **st_)
{
    (void)st_;
    node_votelog *v;
    open_state(&v, 0);
    node_vote_state_init(&st);
    st.rec = rec_at(4, 0, CNS_PREVOTE, 1);
    assert_int_equal(node_votelog_write(v, &st), 0);
    int fd = fd_of_path(), full = open("/dev/full", O_WRONLY), real = dup(fd);
    assert_true(fd >= 0 && full >= 0 && real >= 0);
    assert_int_equal(dup2(full, fd), fd);
    st.rec = rec_at(4, 0, CNS_PRECOMMIT, 1);
    assert_int_equal(node_votelog_write(v, &st), LDG_ENOSPC);
    assert_string_equal(node_strerror(LDG_ENOSPC), "disk full (ENOSPC)");
    node_votelog *other;
    assert_int_equal(node_votelog_open(&other, path, &got), 0);
    assert_int_equal(got.rec.last.step, CNS_PREVOTE); /* the previous state, whole */
    node_votelog_close(other);
    assert_int_equal(dup2(real, fd), fd); /* room again */
    assert_int_equal(node_votelog_write(v, &st), 0);
    node_votelog_close(v);
    close(full);
    close(real);
    open_state(&v, 0);
    assert_int_equal(got.rec.last.step, CNS_PRECOMMIT);
    node_votelog_close(v);
}

/* A version 1 file (two 128-byte slots, the record alone) is read; the first version 2 write
 * goes past it, so that a crash during that write still leaves the version 1 record. */
static void write_v1_slot(int fd, int slot, uint64_t seq, const cns_vote_record *r)
{
    uint8_t b[128], *p = b, sum[SHA256_DIGEST_LENGTH];
    memset(b, 0, sizeof b);
    memcpy(p, "FWLVOTE1", 8), p += 8;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(seq >> (8 * i));
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(r->last.height >> (8 * i));
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(r->last.round >> (8 * i));
    *p++ = r->last.step;
    *p++ = r->last.nil;
    memcpy(p, r->last.value, CNS_HASH_LEN), p += CNS_HASH_LEN;
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)((uint32_t)r->last.valid_round >> (8 * i));
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)((uint32_t)r->locked_round >> (8 * i));
    memcpy(p, r->locked_value, CNS_HASH_LEN), p += CNS_HASH_LEN;
    SHA256(b, (size_t)(p - b), sum);
    memcpy(p, sum, 16);
    assert_int_equal(pwrite(fd, b, sizeof b, slot * 128), (ssize_t)sizeof b);
}

static void test_version_1_file(void **st_)
{
    (void)st_;
    cns_vote_record a = rec_at(9, 1, CNS_PREVOTE, 3), b = rec_at(9, 1, CNS_PRECOMMIT, 3);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    write_v1_slot(fd, 1, 5, &a);
    write_v1_slot(fd, 0, 6, &b);
    close(fd);
    node_votelog *v;
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 9);
    assert_int_equal(got.rec.last.step, CNS_PRECOMMIT);
    assert_int_equal(got.rec.locked_round, 1);
    assert_int_equal(got.n_wal + got.n_pol, 0);
    node_vote_state_init(&st);
    st.rec = rec_at(10, 0, CNS_PREVOTE, 4);
    assert_int_equal(node_votelog_write(v, &st), 0);
    node_votelog_close(v);
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 10);
    node_votelog_close(v);
    /* that write went to the second slot: the version 1 record is still there behind it */
    corrupt(SLOT + 20);
    open_state(&v, 0);
    assert_int_equal(got.rec.last.height, 9);
    assert_int_equal(got.rec.last.step, CNS_PRECOMMIT);
    node_votelog_close(v);
}

/* The WAL starts over at a new height and keeps the newest votes when full. */
static void test_wal_add(void **st_)
{
    (void)st_;
    node_vote_state_init(&st);
    for (uint32_t r = 0; r < NODE_WAL_MAX + 5; r++) {
        cns_msg m = rec_at(4, r, CNS_PREVOTE, (uint8_t)r).last;
        node_vote_wal_add(&st, &m);
    }
    assert_int_equal(st.wal_h, 4);
    assert_int_equal(st.n_wal, NODE_WAL_MAX);
    assert_int_equal(st.wal[0].round, 5);
    assert_int_equal(st.wal[NODE_WAL_MAX - 1].round, NODE_WAL_MAX + 4);
    cns_msg m = rec_at(5, 0, CNS_PREVOTE, 9).last;
    node_vote_wal_add(&st, &m);
    assert_int_equal(st.wal_h, 5);
    assert_int_equal(st.n_wal, 1);
    assert_int_equal(st.wal[0].height, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_file_is_empty_then_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_write_keeps_the_previous_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_1_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_allocated_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test(test_wal_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
