/* Result codes, errors and reference-counted buffers: the pieces every other
 * part of the cflight API uses. Include <cflight.h>, not this file. */
#ifndef CFLIGHT_COMMON_H
#define CFLIGHT_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CFLIGHT_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CFLIGHT_API __attribute__((visibility("default")))
#else
#define CFLIGHT_API
#endif

#if defined(__GNUC__)
#define CFLIGHT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CFLIGHT_PRINTF(fmt, args)
#endif

/* Result codes. 0..16 are the gRPC status codes, and Flight's error kinds map
 * onto them (unauthenticated, unauthorized = PERMISSION_DENIED, unavailable,
 * timed out = DEADLINE_EXCEEDED, cancelled, internal, server error =
 * UNKNOWN). Codes from 100 up are local to this process and are sent to a
 * peer as the nearest gRPC code (see cflight_code_to_grpc). */
typedef enum cflight_code {
  CFLIGHT_OK = 0,
  CFLIGHT_CANCELLED = 1,
  CFLIGHT_UNKNOWN = 2,
  CFLIGHT_INVALID_ARGUMENT = 3,
  CFLIGHT_DEADLINE_EXCEEDED = 4,
  CFLIGHT_NOT_FOUND = 5,
  CFLIGHT_ALREADY_EXISTS = 6,
  CFLIGHT_PERMISSION_DENIED = 7,
  CFLIGHT_RESOURCE_EXHAUSTED = 8,
  CFLIGHT_FAILED_PRECONDITION = 9,
  CFLIGHT_ABORTED = 10,
  CFLIGHT_OUT_OF_RANGE = 11,
  CFLIGHT_UNIMPLEMENTED = 12,
  CFLIGHT_INTERNAL = 13,
  CFLIGHT_UNAVAILABLE = 14,
  CFLIGHT_DATA_LOSS = 15,
  CFLIGHT_UNAUTHENTICATED = 16,

  /* Malformed bytes: an IPC message, a protobuf, a file. Sent as INVALID_ARGUMENT. */
  CFLIGHT_INVALID_DATA = 100,
  /* Out of memory, or a size beyond what this process will allocate. Sent as RESOURCE_EXHAUSTED. */
  CFLIGHT_NO_MEMORY = 101,
  /* A file or socket operation failed (errno in the message). Sent as UNKNOWN. */
  CFLIGHT_IO_ERROR = 102,
  /* A write was larger than the client's write_size_limit_bytes; the error's
   * size_limit and actual_size say by how much. Never sent to a peer. */
  CFLIGHT_WRITE_SIZE_EXCEEDED = 103,
} cflight_code;

/* Flight's names for the gRPC codes it gives a meaning. */
#define CFLIGHT_UNAUTHORIZED CFLIGHT_PERMISSION_DENIED
#define CFLIGHT_TIMED_OUT CFLIGHT_DEADLINE_EXCEEDED
#define CFLIGHT_SERVER_ERROR CFLIGHT_UNKNOWN

/* The short upper-case name of a code ("UNAVAILABLE"), or "UNKNOWN_CODE". */
CFLIGHT_API const char *cflight_code_name(int code);

/* The gRPC status code (0..16) under which a code travels on the wire. */
CFLIGHT_API int cflight_code_to_grpc(int code);

typedef struct cflight_buffer cflight_buffer;

#define CFLIGHT_ERROR_MESSAGE_SIZE 1024

/* An error: a code, a message, and for RPC errors the optional binary
 * extra_info (gRPC's grpc-status-details-bin) that the peer sent or that a
 * server handler attaches. Zero-initialising ({0}) gives a valid, empty
 * error; call cflight_error_reset when done if extra_info may be set.
 * Every fallible function takes a `cflight_error *err` that may be NULL. */
typedef struct cflight_error {
  int code;
  char message[CFLIGHT_ERROR_MESSAGE_SIZE];
  cflight_buffer *extra_info; /* owned by the error; NULL when absent */
  int64_t size_limit;         /* CFLIGHT_WRITE_SIZE_EXCEEDED: the limit */
  int64_t actual_size;        /* CFLIGHT_WRITE_SIZE_EXCEEDED: the size that was refused */
} cflight_error;

/* Sets code and message (printf-style) and returns code, so that
 * `return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "...")` reads
 * naturally. err may be NULL. Keeps any existing extra_info. */
CFLIGHT_API int cflight_error_set(cflight_error *err, int code, const char *fmt, ...)
    CFLIGHT_PRINTF(3, 4);
CFLIGHT_API int cflight_error_setv(cflight_error *err, int code, const char *fmt, va_list ap);

/* Attaches a copy of extra_info (binary details) to err, replacing any earlier one. */
CFLIGHT_API int cflight_error_set_extra_info(cflight_error *err, const void *data, size_t size);

/* Frees extra_info and clears the error back to CFLIGHT_OK. */
CFLIGHT_API void cflight_error_reset(cflight_error *err);

/* Moves src's content into dst (dst is reset first) and clears src. */
CFLIGHT_API void cflight_error_move(cflight_error *dst, cflight_error *src);

/* ------------------------------------------------------------------------
 * Buffers: immutable, reference-counted byte ranges. Arrow arrays decoded by
 * cflight point into buffers like these, which is how received bytes reach
 * the caller without a copy. Reference counting is atomic: a buffer may be
 * shared between threads. Every constructor returns a buffer holding one
 * reference owned by the caller, or NULL when out of memory.
 * ------------------------------------------------------------------------ */

/* A new buffer of `size` bytes, 64-byte aligned, contents uninitialised. */
CFLIGHT_API cflight_buffer *cflight_buffer_new(size_t size);

/* A new 64-byte-aligned buffer holding a copy of data[0..size). */
CFLIGHT_API cflight_buffer *cflight_buffer_copy(const void *data, size_t size);

/* Wraps memory owned elsewhere. When the last reference goes, free_fn(ctx,
 * data) is called (free_fn may be NULL for static memory). */
CFLIGHT_API cflight_buffer *cflight_buffer_wrap(const void *data, size_t size,
                                                void (*free_fn)(void *ctx, void *data), void *ctx);

/* A view of parent[offset, offset+size) that keeps parent alive. The range
 * must lie inside parent (returns NULL otherwise). */
CFLIGHT_API cflight_buffer *cflight_buffer_slice(cflight_buffer *parent, size_t offset,
                                                 size_t size);

/* Adds a reference and returns buf (NULL-safe). */
CFLIGHT_API cflight_buffer *cflight_buffer_ref(cflight_buffer *buf);

/* Drops a reference; the last one frees the buffer (NULL-safe). */
CFLIGHT_API void cflight_buffer_unref(cflight_buffer *buf);

CFLIGHT_API const uint8_t *cflight_buffer_data(const cflight_buffer *buf);
CFLIGHT_API size_t cflight_buffer_size(const cflight_buffer *buf);

/* Writable access, for the creator of a buffer made by cflight_buffer_new
 * before it is shared. */
CFLIGHT_API uint8_t *cflight_buffer_mutable_data(cflight_buffer *buf);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_COMMON_H */
