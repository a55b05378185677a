/*
 * How the functional test programs check the node they talk to, from the environment the
 * test scripts set (tests/functional/lib.sh), as the tool reads it: the validators' identity
 * keys of $FWLEDGER_GENESIS and the keys listed in $FWLEDGER_NODE_KEY (ALG:HEX,...: e.g.
 * replicas'), or plaintext when $FWLEDGER_PLAINTEXT is 1; the client presents the key in
 * the key file $FWLEDGER_CLIENT_KEY when set.
 */
#ifndef FWL_TESTS_TRUST_H
#define FWL_TESTS_TRUST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/client/client.h"
#include "node/files/files.h"

static inline const node_tls *test_trust(void)
{
    static node_tls tls;
    static ldg_pubkey pins[LDG_MAX_VALIDATORS + 64];
    static ldg_genesis g;
    static bool done;
    if (done)
        return &tls;
    done = true;
    const char *p = getenv("FWLEDGER_PLAINTEXT");
    tls.plaintext = p && !strcmp(p, "1");
    char err[256];
    const char *gen = getenv("FWLEDGER_GENESIS");
    if (gen && *gen) {
        if (node_genesis_load(gen, &g, err, sizeof err)) {
            fprintf(stderr, "FWLEDGER_GENESIS %s: %s\n", gen, err);
            exit(2);
        }
        for (size_t i = 0; i < g.n_validators; i++)
            if (g.validator_ids[i].len)
                pins[tls.n_pins++] = g.validator_ids[i];
    }
    const char *keys = getenv("FWLEDGER_NODE_KEY");
    size_t n = 0;
    if (keys && node_pubkey_list_parse(keys, pins + tls.n_pins, 64, &n)) {
        fprintf(stderr, "FWLEDGER_NODE_KEY: expected ALG:HEX[,ALG:HEX...]\n");
        exit(2);
    }
    tls.n_pins += n;
    const char *ck = getenv("FWLEDGER_CLIENT_KEY");
    if (ck && *ck) {
        static node_key k;
        if (node_key_load(ck, &k, err, sizeof err)) {
            fprintf(stderr, "FWLEDGER_CLIENT_KEY %s: %s\n", ck, err);
            exit(2);
        }
        tls.key_alg = k.alg;
        tls.key_sec = k.sec;
        tls.key_pub = &k.pub;
    }
    tls.pins = pins;
    return &tls;
}

#endif
