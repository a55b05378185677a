/*
 * node/ internal: the durable vote state of a validator (no double signing, and liveness
 * after a restart).
 *
 * The consensus engine hands the node a cns_vote_record with every action that needs a
 * signature; the node writes it here, synced, BEFORE the signature leaves the process, and
 * hands the last record back to the engine after a restart. With it go (docs/consensus.md,
 * "What else the node keeps"):
 *  - the WAL: this validator's own votes of one height (their content: signing the same
 *    content again is not equivocation), fed back to the engine and re-sent after a restart
 *    at that height;
 *  - the proof-of-lock: the signed prevotes of other validators behind its lock, replayed
 *    after a restart, so that a locked validator can still show why.
 *
 * File format (version 2): two fixed 16 KiB slots, written alternately. Each slot: "FWLVOTE2",
 * a sequence number, the record, the WAL and the proof-of-lock, then a SHA-256 checksum (16
 * bytes) of everything before it. A write replaces the older slot with pwrite + fdatasync,
 * so a crash in the middle of a write leaves the previous state intact in the other slot.
 * Opening picks the valid slot with the higher sequence; a file whose slots are both invalid
 * is refused (signing with a forgotten record could equivocate). A version 1 file (two
 * 128-byte slots holding the record alone) is read, and its first version 2 write goes to
 * the second slot, which does not overlap it.
 *
 * Opening allocates both slots on the disk (a file of zeros, allocated and never written, is
 * a new file), so that a full disk later cannot stop the validator from voting: every write
 * overwrites blocks the file already has (a copy-on-write filesystem can still refuse one).
 */
#ifndef FWL_NODE_VOTELOG_H
#define FWL_NODE_VOTELOG_H

#include "consensus/consensus.h"
#include "ledger/ledger.h"

#define NODE_WAL_MAX 64                        /* own votes of one height (the newest) */
#define NODE_POL_MAX (2 * LDG_MAX_VALIDATORS)  /* prevotes behind a lock               */

/* A vote as signed by a validator: what, who, the signature. */
typedef struct {
    cns_msg m;                  /* height, round, step, nil, value            */
    uint32_t validator;
    uint8_t sig_len;
    uint8_t sig[LDG_SIG_MAX];
} node_signed_vote;

typedef struct {
    cns_vote_record rec;
    uint64_t wal_h;             /* the height of the WAL (0: none)            */
    uint32_t n_wal;
    cns_msg wal[NODE_WAL_MAX];  /* own votes of wal_h, in signing order       */
    uint64_t pol_h;             /* the height of the proof-of-lock (0: none)  */
    uint32_t n_pol;
    node_signed_vote pol[NODE_POL_MAX];
} node_vote_state;

typedef struct node_votelog node_votelog;

/* An empty state (nothing signed). */
void node_vote_state_init(node_vote_state *st);
/* Add a vote of ours to the WAL of st: a vote of another height starts the WAL over at that
 * height; a full WAL drops its oldest vote. */
void node_vote_wal_add(node_vote_state *st, const cns_msg *m);
/* Open (or create) the vote log at path, allocate its two slots on the disk, and read the last
 * state into st (an empty state for a new file). Errors: LDG_EIO, LDG_ENOSPC, LDG_EDQUOT (no
 * room for the slots), NODE_ECONFIG (both slots corrupt), LDG_ENOMEM. */
int node_votelog_open(node_votelog **out, const char *path, node_vote_state *st);
/* Write st durably (fdatasync) before returning. Errors: LDG_ENOSPC, LDG_EDQUOT, LDG_EIO (the
 * write or the sync failed: the previous state is still the one on disk), LDG_ENOMEM,
 * LDG_EINVALID (counts over the bounds). */
int node_votelog_write(node_votelog *v, const node_vote_state *st);
void node_votelog_close(node_votelog *v);

#endif
