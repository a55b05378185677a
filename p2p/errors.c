/*
 * p2p_strerror: the message table is generated from P2P_ERRORS in p2p.h, so a code and its
 * message can never drift apart.
 */
#include "p2p/p2p.h"

const char *p2p_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
#define P2P_STR_(name, val, msg) \
    case name:                   \
        return msg;
        P2P_ERRORS(P2P_STR_)
#undef P2P_STR_
    default:
        return "unknown error";
    }
}
