/*
 * The blocking RPC client: framing over a TCP socket, used by the tool, tests and benchmarks.
 * (The server side of the framing is the daemon's rpc component, node/daemon/rpc.c, on libuv.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "node/client/client.h"

struct node_client {
    int fd;
    uint32_t timeout_ms;
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in;       /* received bytes: [in_off, in_len) unconsumed */
    size_t in_off, in_len, in_cap;
    uint64_t next_id; /* for node_call */
};

int node_client_connect(node_client **out, const char *host, int port, uint32_t timeout_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    *out = NULL;
    if (getaddrinfo(host, ps, &hints, &res))
        return NODE_ECONNECT;
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int err = 0;
            socklen_t el = sizeof err;
            if (poll(&p, 1, (int)timeout_ms) == 1 &&
                !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) && !err)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return NODE_ECONNECT;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    node_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return LDG_ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    *out = c;
    return 0;
}

void node_client_close(node_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->out);
    free(c->in);
    free(c);
}

void node_client_set_timeout(node_client *c, uint32_t timeout_ms)
{
    c->timeout_ms = timeout_ms;
}


int node_client_send(node_client *c, const fwl_Request *req)
{
    size_t size;
    if (!pb_get_encoded_size(&size, fwl_Request_fields, req))
        return NODE_EPROTO;
    if (size > NODE_RPC_MAX_REQUEST)
        return NODE_EFRAME;
    if (node_buf_reserve(&c->out, &c->out_cap, c->out_len + 4 + size))
        return LDG_ENOMEM;
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8),
    p[3] = (uint8_t)size;
    pb_ostream_t os = pb_ostream_from_buffer(p + 4, size);
    if (!pb_encode(&os, fwl_Request_fields, req))
        return NODE_EPROTO;
    c->out_len += 4 + size;
    return 0;
}

static int wait_fd(node_client *c, short ev)
{
    struct pollfd p = {c->fd, ev, 0};
    int r;
    do
        r = poll(&p, 1, (int)c->timeout_ms);
    while (r < 0 && errno == EINTR);
    return r == 1 ? 0 : r == 0 ? NODE_ETIMEOUT : NODE_ECONNECT;
}

int node_client_flush(node_client *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(c, POLLOUT);
            if (rc)
                return rc;
        } else {
            return NODE_ECONNECT;
        }
    }
    c->out_len = 0;
    return 0;
}

int node_client_recv_raw(node_client *c, const uint8_t **buf, size_t *len)
{
    int rc = node_client_flush(c);
    if (rc)
        return rc;
    for (;;) {
        size_t have = c->in_len - c->in_off;
        if (have >= 4) {
            const uint8_t *p = c->in + c->in_off;
            size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            if (flen > NODE_RPC_MAX_RESPONSE)
                return NODE_EFRAME;
            if (have >= 4 + flen) {
                *buf = p + 4;
                *len = flen;
                c->in_off += 4 + flen;
                return 0;
            }
            if (node_buf_reserve(&c->in, &c->in_cap, c->in_off + 4 + flen))
                return LDG_ENOMEM;
        }
        if (c->in_off && c->in_off == c->in_len)
            c->in_off = c->in_len = 0;
        else if (c->in_off > c->in_cap / 2) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        if (node_buf_reserve(&c->in, &c->in_cap, c->in_len + 65536))
            return LDG_ENOMEM;
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((rc = wait_fd(c, POLLIN)))
                return rc;
        } else {
            return NODE_ECONNECT;
        }
    }
}

int node_client_recv(node_client *c, fwl_Response *resp)
{
    const uint8_t *buf;
    size_t len;
    int rc = node_client_recv_raw(c, &buf, &len);
    if (rc)
        return rc;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    return pb_decode(&st, fwl_Response_fields, resp) ? 0 : NODE_EPROTO;
}

int node_call(node_client *c, fwl_Request *req, fwl_Response *resp, char *err, size_t errlen)
{
    req->id = ++c->next_id;
    int rc = node_client_send(c, req);
    if (!rc)
        rc = node_client_recv(c, resp);
    if (!rc && resp->id != req->id && resp->id != 0)
        rc = NODE_EPROTO;
    if (!rc && resp->which_resp == fwl_Response_error_tag) {
        if (err)
            snprintf(err, errlen, "%s", resp->resp.error.message);
        return resp->resp.error.code < 0 ? resp->resp.error.code : NODE_EPROTO;
    }
    if (rc && err)
        snprintf(err, errlen, "%s", node_strerror(rc));
    return rc;
}
