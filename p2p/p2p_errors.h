/*
 * p2p/'s error table on its own, without <uv.h>: p2p.h includes it, and so can code that
 * only names the codes (node_strerror in the client library, which links no libuv).
 *
 * P2P_E* codes are -200..-299; every module's range is listed in node/client/client.h.
 */
#ifndef FWL_P2P_ERRORS_H
#define FWL_P2P_ERRORS_H

#define P2P_ERRORS(X)                                                                   \
    X(P2P_EINVAL, -200, "invalid argument or configuration")                            \
    X(P2P_ENOMEM, -201, "out of memory")                                                \
    X(P2P_EKEY, -202, "identity key invalid or not usable for TLS")                     \
    X(P2P_ETLS, -203, "TLS setup failed")                                               \
    X(P2P_ELISTEN, -204, "cannot listen on the configured address")                     \
    X(P2P_ENOPEER, -205, "no such peer")                                                \
    X(P2P_ENOTCONN, -206, "peer not connected")                                         \
    X(P2P_EQUEUEFULL, -207, "peer send queue full: message dropped")                    \
    X(P2P_ETOOBIG, -208, "message larger than the configured maximum")                  \
    X(P2P_ESTOPPING, -209, "p2p is stopping")                                           \
    X(P2P_EFRAME, -210, "malformed or oversize frame")

enum p2p_err {
#define P2P_ENUM_(name, val, msg) name = (val),
    P2P_ERRORS(P2P_ENUM_)
#undef P2P_ENUM_
};

#endif
