/*
 * The node's p2p side: starts the transport (p2p/) with this node's identity and its peers,
 * and routes each message type to the chain driver, block sync or the tx path.
 *
 * Peer ids (local labels, never on the wire): a validator's id is its index in genesis (its
 * identity key is listed there); any other node (a replica) gets 1000 + the first two bytes
 * of SHA-256 of its identity key (a collision in one config is refused at start). Ids are
 * never shown: logs and status name a peer by its name (the config's, else
 * "validator-<index>", else p2p's key form), since a replica's id looks like a port number.
 */
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "node/daemon/chain_internal.h"

#define SEEN_TXS (1u << 18)
#define SEEN_TXS_TEST (1u << 12)

_Static_assert(NODE_PEER_NAME_MAX == P2P_NAME_MAX, "a configured name must fit p2p's");
_Static_assert(sizeof ((p2p_config *)0)->network == sizeof ((ldg_genesis *)0)->chain_id,
               "p2p's hello carries the whole chain id as the network name");

static uint32_t peer_id_of(const ldg_genesis *g, const ldg_pubkey *k)
{
    for (size_t i = 0; i < g->n_validators; i++)
        if (g->validator_ids[i].alg == k->alg && g->validator_ids[i].len == k->len &&
            !memcmp(g->validator_ids[i].key, k->key, k->len))
            return (uint32_t)i;
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(k->key, k->len, h);
    return 1000u + ((uint32_t)h[0] << 8 | h[1]);
}

void node_chain_tx_admitted(node_chain *ch, const uint8_t *raw, size_t len,
                            const uint8_t raw_hash[LDG_DIGEST_LEN])
{
    if (ch->seen_tx)
        p2p_seen_add(ch->seen_tx, raw_hash);
    if (node__chain_can_send(ch)) /* gossip it on (peers drop what they have seen) */
        node__chain_send(ch, -1, P2P_T_TX, raw, len);
}

/* A tx from a peer: verified and admitted like a SubmitTx, answered to no one. */
static void tx_from_peer(node_chain *ch, const uint8_t *raw, size_t len)
{
    uint8_t rh[SHA256_DIGEST_LENGTH];
    if (len > LDG_TX_MAX || node_mempool_full(ch->cfg.mp))
        return; /* a full mempool drops gossip; the tx reaches the proposer another way */
    SHA256(raw, len, rh);
    if (ch->seen_tx && !p2p_seen_add(ch->seen_tx, rh))
        return; /* seen before: an echo of our own gossip, or a duplicate */
    node_mempool_submit(ch->cfg.mp, (node_reply_to){NODE_NO_CLIENT, 0, 0}, raw, len);
}

void node_chain_on_message(node_chain *ch, uint32_t peer, uint8_t type, const uint8_t *data,
                           size_t len)
{
    pb_istream_t st = pb_istream_from_buffer(data, len);
    switch (type) {
    case P2P_T_TX:
        tx_from_peer(ch, data, len);
        node_mempool_flush(ch->cfg.mp);
        break;
    case P2P_T_PROPOSAL_BLOCK: node__chain_on_proposal_block(ch, data, len); break;
    case P2P_T_PROPOSAL: {
        fwl_ProposalMsg m = fwl_ProposalMsg_init_zero;
        if (pb_decode(&st, fwl_ProposalMsg_fields, &m))
            node__chain_on_proposal(ch, peer, &m);
        break;
    }
    case P2P_T_VOTE: {
        fwl_VoteMsg m = fwl_VoteMsg_init_zero;
        if (pb_decode(&st, fwl_VoteMsg_fields, &m))
            node__chain_on_vote(ch, &m);
        break;
    }
    case P2P_T_STATUS: {
        fwl_StatusMsg m = fwl_StatusMsg_init_zero;
        if (pb_decode(&st, fwl_StatusMsg_fields, &m))
            node__sync_on_status(ch, peer, &m);
        break;
    }
    case P2P_T_SYNC_REQUEST: {
        fwl_SyncRequestMsg m = fwl_SyncRequestMsg_init_zero;
        if (pb_decode(&st, fwl_SyncRequestMsg_fields, &m))
            node__sync_on_request(ch, peer, &m);
        break;
    }
    case P2P_T_SYNC_BLOCK: node__sync_on_block(ch, peer, data, len); break;
    case P2P_T_GET_BLOCK:
        if (len == LDG_DIGEST_LEN)
            node__chain_on_get_block(ch, peer, data);
        break;
    case P2P_T_FETCH_VOTES: {
        fwl_SyncRequestMsg m = fwl_SyncRequestMsg_init_zero;
        if (pb_decode(&st, fwl_SyncRequestMsg_fields, &m))
            node__chain_on_fetch(ch, peer, &m);
        break;
    }
    default: break; /* unknown types from a newer peer: ignored */
    }
    node__chain_flush(ch);
}

static void on_message(void *ctx, uint32_t peer, uint8_t type, const uint8_t *data, size_t len)
{
    node_chain_on_message(ctx, peer, type, data, len);
}

void node_chain_peer_up(node_chain *ch, uint32_t peer)
{
    node__chain_on_peer_up(ch, peer);
}

static void on_peer_up(void *ctx, uint32_t peer)
{
    node_chain *ch = ctx;
    node__log("peer %s up", p2p_peer_name(ch->net, peer));
    node__chain_on_peer_up(ch, peer);
}

static void on_peer_down(void *ctx, uint32_t peer)
{
    node_chain *ch = ctx;
    node__log("peer %s down", p2p_peer_name(ch->net, peer));
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    node__log("p2p: %s", line);
}

static void on_auth_failed(void *ctx, const char *peer, const char *ip, const char *why)
{
    node_chain *ch = ctx;
    if (ch->cfg.peer_auth_failed)
        ch->cfg.peer_auth_failed(ch->cfg.ctx, peer, ip, why);
}

int node__p2p_start(node_chain *ch, char *err, size_t errlen)
{
    const node_config *c = ch->cfg.node;
    uint8_t seed[16];
    if (ch->cfg.send) { /* a test's transport: no p2p, but gossip is de-duplicated alike (a
                          * test's few txs need a small set: the full one is 8 MiB) */
        if (RAND_bytes(seed, sizeof seed) != 1 ||
            p2p_seen_new(&ch->seen_tx, SEEN_TXS_TEST, seed)) {
            snprintf(err, errlen, "out of memory");
            return LDG_ENOMEM;
        }
        return 0;
    }
    if (!c->p2p_host[0])
        return 0; /* a single node without peers */
    int rc = node_key_load(c->identity_key, &ch->ikey, err, errlen);
    if (rc)
        return rc;
    if (RAND_bytes(seed, sizeof seed) != 1 || p2p_seen_new(&ch->seen_tx, SEEN_TXS, seed)) {
        snprintf(err, errlen, "out of memory");
        return LDG_ENOMEM;
    }
    p2p_config pc;
    p2p_peer_config peers[NODE_MAX_PEERS];
    memset(&pc, 0, sizeof pc);
    ch->self_id = peer_id_of(ch->cfg.g, &ch->ikey.pub);
    pc.key_alg = ch->ikey.alg;
    memcpy(pc.key_secret, ch->ikey.sec, sizeof pc.key_secret);
    pc.key_public = ch->ikey.pub;
    snprintf(pc.listen_host, sizeof pc.listen_host, "%s", c->p2p_host);
    pc.listen_port = c->p2p_port;
    for (size_t i = 0; i < c->n_peers; i++) {
        memset(&peers[i], 0, sizeof peers[i]);
        peers[i].id = peer_id_of(ch->cfg.g, &c->peers[i].identity);
        peers[i].key = c->peers[i].identity;
        if (c->peers[i].name[0])
            memcpy(peers[i].name, c->peers[i].name, sizeof peers[i].name);
        else if (peers[i].id < ch->cfg.g->n_validators)
            snprintf(peers[i].name, sizeof peers[i].name, "validator-%u", peers[i].id);
        snprintf(peers[i].host, sizeof peers[i].host, "%s", c->peers[i].host);
        peers[i].port = c->peers[i].port;
        for (size_t j = 0; j < i; j++)
            if (peers[j].id == peers[i].id) {
                snprintf(err, errlen, "peers[%zu] and peers[%zu] map to the same peer id", j, i);
                return NODE_ECONFIG;
            }
    }
    pc.peers = peers;
    pc.n_peers = c->n_peers;
    memcpy(pc.network, ch->cfg.g->chain_id, sizeof ch->cfg.g->chain_id);
    RAND_bytes((uint8_t *)&pc.seed, sizeof pc.seed);
    /* Liveness: down after peer_timeout_ms of silence, pinged after a quarter of it. */
    pc.limits.idle_timeout_ms = c->peer_timeout_ms;
    pc.limits.ping_interval_ms = c->peer_timeout_ms / 4 < 1000 ? c->peer_timeout_ms / 4 : 1000;
    p2p_callbacks cb = {on_message, on_peer_up, on_peer_down, on_log, on_auth_failed};
    rc = p2p_start(&ch->net, ch->cfg.loop, &pc, &cb, ch, err, errlen);
    OPENSSL_cleanse(&pc, sizeof pc);
    if (rc)
        return rc;
    char self[32];
    if (ch->self_id < ch->cfg.g->n_validators)
        snprintf(self, sizeof self, "validator-%u", ch->self_id);
    else
        snprintf(self, sizeof self, "a replica");
    node__log("p2p on %s:%d as %s with %zu peers (down after %u ms of silence)", c->p2p_host,
              c->p2p_port, self, c->n_peers, c->peer_timeout_ms);
    return 0;
}

void node__p2p_stop(node_chain *ch)
{
    p2p_stop(ch->net, NULL);
    ch->net = NULL;
}
