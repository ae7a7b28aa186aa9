/*
 * http_client.h - a minimal blocking HTTP/1.1 client over loopback for the
 * server tests (one request per connection, chunked bodies decoded).
 */
#ifndef SB_TEST_HTTP_CLIENT_H
#define SB_TEST_HTTP_CLIENT_H

#include <stddef.h>

typedef struct hc_response {
    int status;
    char *headers; /* raw header block, lowercase names not guaranteed */
    char *body;    /* decoded, NUL-terminated */
    size_t body_len;
} hc_response;

/* Connects to 127.0.0.1:port; -1 on failure. */
int hc_connect(int port);
/* Sends a request on fd (Connection: close unless extra_headers says
 * otherwise). extra_headers: "Name: value\r\n..." or NULL. host NULL =
 * "127.0.0.1:port". */
int hc_send(int fd, int port, const char *method, const char *path, const char *host, const char *extra_headers,
            const char *body, size_t body_len);
/* Reads the whole response until the server closes (or timeout_ms). */
int hc_read_response(int fd, hc_response *out, int timeout_ms);
/* connect + send + read + close. Returns 0 on success. */
int hc_request(int port, const char *method, const char *path, const char *extra_headers, const char *body,
               hc_response *out);
/* Reads what arrives within timeout_ms into buf (appending); returns bytes
 * read, 0 on EOF, -1 on timeout with nothing. */
long hc_read_some(int fd, char *buf, size_t cap, int timeout_ms);
/* A header value (case-insensitive name) copied into out; 0 if found. */
int hc_header(const hc_response *r, const char *name, char *out, size_t cap);
void hc_response_free(hc_response *r);

#endif
