/*
 * ledger/tls.h: the registry's identity keys in TLS 1.3, for every TLS endpoint of fwledger
 * (p2p, the RPC port, the client library).
 *
 * OpenSSL 3.0 has no RFC 7250 raw public keys, so an identity key (Ed25519 or P-256, the two
 * TLS 1.3 can sign with) is wrapped in a self-signed X.509 certificate made at start-up.
 * Nothing in it but the public key matters: a peer checks that key against the ones it pins
 * (ldg_tls_cert_key), and TLS 1.3's CertificateVerify proves that the other side holds the
 * matching secret key in this handshake.
 */
#ifndef FWL_LEDGER_TLS_H
#define FWL_LEDGER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ledger/ledger.h"

/* Cipher suites: all three TLS 1.3 AEADs; AES-128-GCM first (AES-NI makes it the fastest
 * here). Key exchange: X25519, then P-256. Signatures of identity keys: exactly the two
 * identity key types. */
#define LDG_TLS_CIPHERSUITES \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define LDG_TLS_GROUPS "X25519:P-256"
#define LDG_TLS_IDENTITY_SIGALGS "ed25519:ecdsa_secp256r1_sha256"
/* Identity certificates are ~300-400 bytes; a certificate list longer than this is refused
 * before it is parsed (a tight cap before authentication). */
#define LDG_TLS_MAX_CERT_LIST 4096
/* A CA-issued chain (the RPC port's PKI mode) may be longer. */
#define LDG_TLS_MAX_CERT_CHAIN (64u << 10)

/* An identity key usable for TLS 1.3: Ed25519 or P-256 ECDSA. */
bool ldg_tls_identity_alg(uint32_t alg);

/* The key pair and a fresh self-signed certificate for it (the caller frees both). pub must
 * match sec. Errors: LDG_EBADKEY (another algorithm, or pub not sec's; err says which),
 * LDG_ENOMEM (OpenSSL could not make them). */
int ldg_tls_identity(uint32_t alg, const uint8_t *sec, const ldg_pubkey *pub, EVP_PKEY **key,
                     X509 **cert, char *err, size_t errlen);

/* The identity key in a certificate, in the registry's encoding (Ed25519: 32 bytes; P-256:
 * the 33-byte compressed point). Errors: LDG_EBADKEY (another key type or curve). */
int ldg_tls_cert_key(X509 *cert, ldg_pubkey *out);

/* Restrict ctx to fwledger's TLS: TLS 1.3 only, the cipher suites and groups above, no
 * session tickets or cache, no compression, no middlebox compatibility mode; with
 * identity_sigalgs, signatures only by identity keys (both directions) and a certificate
 * list of at most LDG_TLS_MAX_CERT_LIST bytes, else LDG_TLS_MAX_CERT_CHAIN.
 * Errors: LDG_EINVALID (OpenSSL refused a setting). */
int ldg_tls_ctx_restrict(SSL_CTX *ctx, bool identity_sigalgs);

/* OpenSSL's last error as "what: reason" into err (just what when there is none); clears
 * the error queue. */
void ldg_tls_error(char *err, size_t errlen, const char *what);

#endif
