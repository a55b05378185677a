/*
 * node/ internal: the durable vote record of a validator (no double signing).
 *
 * The consensus engine hands the node a cns_vote_record with every action that needs a
 * signature; the node writes it here, synced, BEFORE the signature leaves the process, and
 * hands the last record back to the engine after a restart.
 *
 * File format: two fixed 128-byte slots, written alternately. Each slot: "FWLVOTE1", a
 * sequence number, the record, and a SHA-256 checksum (16 bytes) of the rest. A write
 * replaces the older slot with pwrite + fdatasync, so a crash in the middle of a write
 * leaves the previous record intact in the other slot. Opening picks the valid slot with
 * the higher sequence; a file whose slots are both invalid is refused (signing with a
 * forgotten record could equivocate).
 */
#ifndef FWL_NODE_VOTELOG_H
#define FWL_NODE_VOTELOG_H

#include "consensus/consensus.h"

typedef struct node_votelog node_votelog;

/* Open (or create) the vote log at path and read the last record into rec (an empty record
 * for a new file). Errors: LDG_EIO, NODE_ECONFIG (both slots corrupt), LDG_ENOMEM. */
int node_votelog_open(node_votelog **out, const char *path, cns_vote_record *rec);
/* Write rec durably (fdatasync) before returning. Errors: LDG_EIO. */
int node_votelog_write(node_votelog *v, const cns_vote_record *rec);
void node_votelog_close(node_votelog *v);

#endif
