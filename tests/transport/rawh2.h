/* A minimal blocking HTTP/2 client on nghttp2 for tests that need requests
 * our client would never send (GET, wrong content-type, compressed messages,
 * grpc-timeout without a local deadline). */
#ifndef CF_TEST_RAWH2_H
#define CF_TEST_RAWH2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rawh2_result {
  int http_status;
  int grpc_status; /* -1 when absent */
  char grpc_message[512];
  char content_type[128];
  char accept_encoding[128];
  uint32_t rst_code; /* 0xffffffff when the stream closed without RST */
  size_t body_len;
  bool ok; /* the exchange ran to the end of the stream */
} rawh2_result;

/* Sends one request (headers as name/value pairs, count pairs) with body
 * bytes, then half-closes unless keep_open_ms > 0, in which case it keeps
 * the stream open that long before waiting for the response. */
bool rawh2_request(int port, const char *const *headers, size_t count, const void *body,
                   size_t body_len, int keep_open_ms, rawh2_result *out);

#endif
