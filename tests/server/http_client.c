/*
 * http_client.c - the test client (see http_client.h).
 */
#define _GNU_SOURCE
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int hc_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes all of buf. */
static int write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

int hc_send(int fd, int port, const char *method, const char *path, const char *host, const char *extra_headers,
            const char *body, size_t body_len) {
    char head[4096];
    char hostbuf[64];
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%d", port);
        host = hostbuf;
    }
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", method, path, host,
                     extra_headers ? extra_headers : "");
    if (!extra_headers || !strcasestr(extra_headers, "connection:"))
        n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n");
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                      body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if (write_all(fd, head, (size_t)n) != 0)
        return -1;
    return body && body_len ? write_all(fd, body, body_len) : 0;
}

long hc_read_some(int fd, char *buf, size_t cap, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t k = recv(fd, buf, cap, 0);
    return k < 0 ? 0 : (long)k;
}

/* Decodes a chunked body in place; returns the new length. */
static size_t dechunk(char *b, size_t n) {
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long len = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || len == 0)
            break;
        in = (size_t)(crlf - b) + 2;
        if (in + len > n)
            len = n - in;
        memmove(b + out, b + in, len);
        out += len;
        in += len + 2;
        (void)end;
    }
    b[out] = 0;
    return out;
}

int hc_read_response(int fd, hc_response *out, int timeout_ms) {
    memset(out, 0, sizeof *out);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        long k = hc_read_some(fd, buf + len, cap - len, timeout_ms);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    size_t hl = (size_t)(sep - buf);
    out->headers = strndup(buf, hl);
    size_t bl = len - hl - 4;
    out->body = malloc(bl + 1);
    memcpy(out->body, sep + 4, bl);
    out->body[bl] = 0;
    out->body_len = bl;
    char te[64];
    if (hc_header(out, "Transfer-Encoding", te, sizeof te) == 0 && strcasecmp(te, "chunked") == 0)
        out->body_len = dechunk(out->body, bl);
    free(buf);
    return 0;
}

int hc_request(int port, const char *method, const char *path, const char *extra_headers, const char *body,
               hc_response *out) {
    memset(out, 0, sizeof *out);
    int fd = hc_connect(port);
    if (fd < 0)
        return -1;
    int rc = hc_send(fd, port, method, path, NULL, extra_headers, body, body ? strlen(body) : 0);
    if (rc == 0)
        rc = hc_read_response(fd, out, 10000);
    close(fd);
    return rc;
}

int hc_header(const hc_response *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - p);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return 0;
        }
        p = eol ? eol + 2 : p + ll;
    }
    return -1;
}

void hc_response_free(hc_response *r) {
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}
