/*
 * p2p/p2p_tls.h: one TLS session over memory BIOs, driven by an event loop: bytes read from
 * the socket go in with p2p_tls_feed, bytes to write come out with p2p_tls_take, so no
 * OpenSSL call ever blocks. p2p's connections use it, and so does the daemon's RPC port.
 * The SSL_CTX is the caller's (ledger/tls.h has the shared restrictions). No uv.h here.
 */
#ifndef FWL_P2P_TLS_H
#define FWL_P2P_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "p2p/p2p_errors.h"

#define P2P_TLS_RECORD (16u << 10) /* the most plaintext one TLS record carries            */

typedef struct {
    SSL *ssl;   /* owns both BIOs                                                             */
    BIO *rbio;  /* network -> TLS: bytes read from the socket                                 */
    BIO *wbio;  /* TLS -> network: bytes to write to the socket                               */
    bool done;  /* handshake complete                                                         */
} p2p_tls;

/* A session in the client (dialer) or server role; app is the SSL's app data (for the
 * context's verify callback: SSL_get_app_data). Errors: P2P_ENOMEM. */
int p2p_tls_new(p2p_tls *t, SSL_CTX *ctx, bool client, void *app);
void p2p_tls_free(p2p_tls *t);
/* Bytes from the network. Errors: P2P_ENOMEM. */
int p2p_tls_feed(p2p_tls *t, const uint8_t *data, size_t len);
/* Advance the handshake: 1 complete, 0 needs more input, P2P_ETLS failed (why says how:
 * "peer key refused" when the verify callback refused the peer's certificate). */
int p2p_tls_handshake(p2p_tls *t, char *why, size_t whylen);
/* Decrypt into buf: > 0 bytes, 0 needs more input, P2P_ENOTCONN the peer closed the
 * session (close_notify), P2P_ETLS an error (why says which). */
int p2p_tls_read(p2p_tls *t, uint8_t *buf, size_t cap, char *why, size_t whylen);
/* Encrypt len bytes (always all of them: the memory BIO grows). Errors: P2P_ETLS. */
int p2p_tls_write(p2p_tls *t, const uint8_t *data, size_t len);
/* Encrypted bytes waiting to be written to the network, and taking them out. */
size_t p2p_tls_pending(const p2p_tls *t);
size_t p2p_tls_take(p2p_tls *t, uint8_t *out, size_t cap);
/* Queue a close_notify alert (best effort). */
void p2p_tls_shutdown(p2p_tls *t);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519" for logs. */
void p2p_tls_describe(const p2p_tls *t, char *out, size_t len);

#endif
