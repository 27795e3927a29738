/* Allocation wrappers and the growable byte builder. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "base/base.h"

void *cf_malloc(size_t size) {
  return malloc(size == 0 ? 1 : size);
}

void *cf_calloc(size_t n, size_t size) {
  if (n == 0 || size == 0) return calloc(1, 1);
  return calloc(n, size);
}

void *cf_realloc(void *p, size_t size) {
  return realloc(p, size == 0 ? 1 : size);
}

char *cf_strdup(const char *s) {
  return s == NULL ? NULL : cf_strndup(s, strlen(s));
}

char *cf_strndup(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (out == NULL) return NULL;
  if (n > 0) memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

void *cf_aligned_alloc(size_t size) {
  void *p = NULL;
  if (posix_memalign(&p, 64, size == 0 ? 64 : size) != 0) return NULL;
  return p;
}

void cf_aligned_free(void *p) {
  free(p);
}

int cf_bytes_reserve(cf_bytes *b, size_t extra, cflight_error *err) {
  if (extra <= b->cap - b->len) return CFLIGHT_OK;
  if (extra > SIZE_MAX / 2 - b->len) return CF_NOMEM(err, "byte builder");
  size_t cap = b->cap < 256 ? 256 : b->cap;
  while (cap - b->len < extra)
    cap *= 2;
  uint8_t *data = realloc(b->data, cap);
  if (data == NULL) return CF_NOMEM(err, "byte builder");
  b->data = data;
  b->cap = cap;
  return CFLIGHT_OK;
}

int cf_bytes_append(cf_bytes *b, const void *data, size_t len, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_bytes_reserve(b, len, err));
  if (len > 0) memcpy(b->data + b->len, data, len);
  b->len += len;
  return CFLIGHT_OK;
}

int cf_bytes_append_zeros(cf_bytes *b, size_t len, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_bytes_reserve(b, len, err));
  if (len > 0) memset(b->data + b->len, 0, len);
  b->len += len;
  return CFLIGHT_OK;
}

int cf_bytes_pad(cf_bytes *b, size_t align, cflight_error *err) {
  size_t rem = b->len % align;
  return rem == 0 ? CFLIGHT_OK : cf_bytes_append_zeros(b, align - rem, err);
}

static void free_bytes(void *ctx, void *data) {
  CF_UNUSED(ctx);
  free(data);
}

cflight_buffer *cf_bytes_finish(cf_bytes *b) {
  cflight_buffer *buf;
  if (b->data == NULL) {
    buf = cflight_buffer_new(0);
  } else {
    buf = cflight_buffer_wrap(b->data, b->len, free_bytes, NULL);
  }
  if (buf == NULL) return NULL;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return buf;
}

void cf_bytes_reset(cf_bytes *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

int64_t cf_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t cf_path_push(cf_path *p, const char *fmt, ...) {
  size_t saved = p->len;
  if (p->len < sizeof(p->buf) - 1) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
    va_end(ap);
    if (n > 0) p->len += (size_t)n;
    if (p->len >= sizeof(p->buf) - 1) {
      p->len = sizeof(p->buf) - 1;
      memcpy(p->buf + sizeof(p->buf) - 4, "...", 4);
    }
  }
  return saved;
}

void cf_path_pop(cf_path *p, size_t saved) {
  p->len = saved;
  p->buf[saved] = '\0';
}
