/* A minimal HTTP/2 server on nghttp2 for tests of our client's receive
 * path with framings our server never makes: DATA frames of chosen sizes
 * (down to one byte), padded frames, and streams interleaved frame by frame
 * (nghttp2 takes turns between streams that have data).
 *
 * A request's path names its response:
 *   /raw/<frame>/<pad>/<count>/<size>[/<size2>]
 * sends count gRPC messages (alternating size and size2 when given) in DATA
 * frames of at most <frame> payload bytes (0: as large as the client
 * allows), each padded with <pad> bytes (0: none), then grpc-status 0. Byte
 * i of message k is rawsrv_byte(k, i). The request's own messages are read
 * and dropped. */
#ifndef CF_TEST_RAWSRV_H
#define CF_TEST_RAWSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rawsrv rawsrv;

static inline uint8_t rawsrv_byte(uint32_t k, uint64_t i) {
  return (uint8_t)(i * 7 + k * 13 + (i >> 9));
}

/* Listens on 127.0.0.1 (a free port, in *port) and serves connections one
 * after another on a thread of its own. */
rawsrv *rawsrv_start(int *port);
void rawsrv_stop(rawsrv *s);

#endif
