/* The durable vote record: round trips, restart, a torn write, and corruption. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "node/node.h"
#include "node/votelog.h"

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

static void test_new_file_is_empty_then_round_trips(void **st)
{
    (void)st;
    node_votelog *v;
    cns_vote_record got, want = rec_at(7, 2, CNS_PRECOMMIT, 0xaa);
    assert_int_equal(node_votelog_open(&v, path, &got), 0);
    assert_int_equal(got.last.height, 0);
    for (uint32_t r = 0; r < 5; r++) {
        cns_vote_record x = rec_at(7, r, CNS_PREVOTE, (uint8_t)r);
        assert_int_equal(node_votelog_write(v, &x), 0);
    }
    assert_int_equal(node_votelog_write(v, &want), 0);
    node_votelog_close(v);
    assert_int_equal(node_votelog_open(&v, path, &got), 0);
    assert_memory_equal(&got.last.value, want.last.value, CNS_HASH_LEN);
    assert_int_equal(got.last.height, 7);
    assert_int_equal(got.last.round, 2);
    assert_int_equal(got.last.step, CNS_PRECOMMIT);
    assert_int_equal(got.locked_round, 2);
    assert_memory_equal(got.locked_value, want.locked_value, CNS_HASH_LEN);
    /* The restarted engine's guard refuses a conflicting vote. */
    cns_msg conflict = got.last;
    memset(conflict.value, 0xbb, CNS_HASH_LEN);
    assert_false(cns_may_sign(&got, &conflict));
    /* Writing goes on after a reopen (the sequence continues). */
    cns_vote_record next = rec_at(8, 0, CNS_PREVOTE, 1);
    assert_int_equal(node_votelog_write(v, &next), 0);
    node_votelog_close(v);
    assert_int_equal(node_votelog_open(&v, path, &got), 0);
    assert_int_equal(got.last.height, 8);
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

static void test_torn_write_keeps_the_previous_record(void **st)
{
    (void)st;
    node_votelog *v;
    cns_vote_record got, a = rec_at(3, 0, CNS_PREVOTE, 1), b = rec_at(3, 0, CNS_PRECOMMIT, 1);
    assert_int_equal(node_votelog_open(&v, path, &got), 0);
    assert_int_equal(node_votelog_write(v, &a), 0); /* seq 1: slot 1 */
    assert_int_equal(node_votelog_write(v, &b), 0); /* seq 2: slot 0 */
    node_votelog_close(v);
    corrupt(20); /* the newest slot (0) is torn */
    assert_int_equal(node_votelog_open(&v, path, &got), 0);
    assert_int_equal(got.last.step, CNS_PREVOTE);
    node_votelog_close(v);
    corrupt(128 + 20); /* now both are bad: refuse to start */
    assert_int_equal(node_votelog_open(&v, path, &got), NODE_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_file_is_empty_then_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_write_keeps_the_previous_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
