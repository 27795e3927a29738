/* Internal helpers shared by every layer: error propagation, checked
 * arithmetic, allocation, and a growable byte builder. */
#ifndef CF_BASE_H
#define CF_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cflight.h"

#define CF_UNUSED(x) ((void)(x))
#define CF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Evaluates expr (an int code); returns it from the enclosing function if it is not CFLIGHT_OK. */
#define CF_RETURN_NOT_OK(expr)  \
  do {                          \
    int cf_rc_ = (expr);        \
    if (cf_rc_ != CFLIGHT_OK) { \
      return cf_rc_;            \
    }                           \
  } while (0)

/* Allocation failures become CFLIGHT_NO_MEMORY with a message naming what was allocated. */
#define CF_NOMEM(err, what) \
  cflight_error_set((err), CFLIGHT_NO_MEMORY, "out of memory allocating %s", (what))

/* Largest single allocation driven by a length read from untrusted input,
 * unless a caller raises it. Protects against "allocate 2^62 bytes" inputs. */
#define CF_MAX_UNTRUSTED_ALLOC ((int64_t)1 << 40)

static inline bool cf_add_overflow_i64(int64_t a, int64_t b, int64_t *out) {
  return __builtin_add_overflow(a, b, out);
}
static inline bool cf_mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
  return __builtin_mul_overflow(a, b, out);
}
static inline int64_t cf_round_up8(int64_t v) {
  return (v + 7) & ~(int64_t)7;
}
static inline int64_t cf_round_up64(int64_t v) {
  return (v + 63) & ~(int64_t)63;
}

/* malloc/calloc/realloc that return NULL on size 0 overflow as well; free is plain free. */
void *cf_malloc(size_t size);
void *cf_calloc(size_t n, size_t size);
void *cf_realloc(void *p, size_t size);
char *cf_strdup(const char *s);
char *cf_strndup(const char *s, size_t n);
/* 64-byte aligned allocation, released with cf_aligned_free. */
void *cf_aligned_alloc(size_t size);
void cf_aligned_free(void *p);

/* A growable byte array. Zero-initialise to start. */
typedef struct cf_bytes {
  uint8_t *data;
  size_t len;
  size_t cap;
} cf_bytes;

int cf_bytes_reserve(cf_bytes *b, size_t extra, cflight_error *err);
int cf_bytes_append(cf_bytes *b, const void *data, size_t len, cflight_error *err);
int cf_bytes_append_zeros(cf_bytes *b, size_t len, cflight_error *err);
/* Pads with zero bytes to a multiple of `align`. */
int cf_bytes_pad(cf_bytes *b, size_t align, cflight_error *err);
/* Hands the bytes over as a buffer (no copy) and leaves b empty. NULL if out of memory. */
cflight_buffer *cf_bytes_finish(cf_bytes *b);
void cf_bytes_reset(cf_bytes *b);

/* A breadcrumb path for error messages ("batches[1].columns[3].DATA[5]"),
 * pushed and popped as a walk descends and returns. Long paths are cut
 * short (ending in "...") rather than failing. */
typedef struct cf_path {
  char buf[1024];
  size_t len;
} cf_path;

/* Appends printf-style text; returns the length to pop back to. */
size_t cf_path_push(cf_path *p, const char *fmt, ...) CFLIGHT_PRINTF(2, 3);
void cf_path_pop(cf_path *p, size_t saved);

/* Monotonic clock in nanoseconds. */
int64_t cf_now_ns(void);

#endif /* CF_BASE_H */
