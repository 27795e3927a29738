/* Reference-counted buffers. Three kinds share one header: owned memory
 * allocated with the header, wrapped foreign memory with a free callback,
 * and slices that keep a parent alive. */
#include <stdatomic.h>

#include "base/base.h"

typedef enum { BUF_OWNED, BUF_WRAPPED, BUF_SLICE } buf_kind;

struct cflight_buffer {
  atomic_long refs;
  buf_kind kind;
  uint8_t *data;
  size_t size;
  void (*free_fn)(void *ctx, void *data); /* BUF_WRAPPED */
  void *ctx;                              /* BUF_WRAPPED */
  cflight_buffer *parent;                 /* BUF_SLICE */
};

/* Owned buffers put the data 64 bytes after the header so that it is 64-byte aligned. */
#define BUF_HEADER_ROOM 64
_Static_assert(sizeof(struct cflight_buffer) <= BUF_HEADER_ROOM, "buffer header must fit");

cflight_buffer *cflight_buffer_new(size_t size) {
  if (size > SIZE_MAX - BUF_HEADER_ROOM) return NULL;
  uint8_t *mem = cf_aligned_alloc(BUF_HEADER_ROOM + size);
  if (mem == NULL) return NULL;
  cflight_buffer *buf = (cflight_buffer *)mem;
  memset(buf, 0, sizeof(*buf));
  atomic_init(&buf->refs, 1);
  buf->kind = BUF_OWNED;
  buf->data = mem + BUF_HEADER_ROOM;
  buf->size = size;
  return buf;
}

cflight_buffer *cflight_buffer_copy(const void *data, size_t size) {
  cflight_buffer *buf = cflight_buffer_new(size);
  if (buf != NULL && size > 0) memcpy(buf->data, data, size);
  return buf;
}

cflight_buffer *cflight_buffer_wrap(const void *data, size_t size,
                                    void (*free_fn)(void *ctx, void *data), void *ctx) {
  cflight_buffer *buf = cf_calloc(1, sizeof(*buf));
  if (buf == NULL) return NULL;
  atomic_init(&buf->refs, 1);
  buf->kind = BUF_WRAPPED;
  buf->data = (uint8_t *)data;
  buf->size = size;
  buf->free_fn = free_fn;
  buf->ctx = ctx;
  return buf;
}

cflight_buffer *cflight_buffer_slice(cflight_buffer *parent, size_t offset, size_t size) {
  if (parent == NULL || offset > parent->size || size > parent->size - offset) return NULL;
  /* Slicing a slice points at the root, so chains never grow. */
  while (parent->kind == BUF_SLICE && parent->parent != NULL) {
    offset += (size_t)(parent->data - parent->parent->data);
    parent = parent->parent;
  }
  cflight_buffer *buf = cf_calloc(1, sizeof(*buf));
  if (buf == NULL) return NULL;
  atomic_init(&buf->refs, 1);
  buf->kind = BUF_SLICE;
  buf->data = parent->data + offset;
  buf->size = size;
  buf->parent = cflight_buffer_ref(parent);
  return buf;
}

cflight_buffer *cflight_buffer_ref(cflight_buffer *buf) {
  if (buf != NULL) atomic_fetch_add_explicit(&buf->refs, 1, memory_order_relaxed);
  return buf;
}

void cflight_buffer_unref(cflight_buffer *buf) {
  if (buf == NULL) return;
  if (atomic_fetch_sub_explicit(&buf->refs, 1, memory_order_acq_rel) != 1) return;
  switch (buf->kind) {
    case BUF_OWNED:
      cf_aligned_free(buf);
      return;
    case BUF_WRAPPED:
      if (buf->free_fn != NULL) buf->free_fn(buf->ctx, buf->data);
      free(buf);
      return;
    case BUF_SLICE:
      cflight_buffer_unref(buf->parent);
      free(buf);
      return;
  }
}

const uint8_t *cflight_buffer_data(const cflight_buffer *buf) {
  return buf != NULL ? buf->data : NULL;
}

size_t cflight_buffer_size(const cflight_buffer *buf) {
  return buf != NULL ? buf->size : 0;
}

uint8_t *cflight_buffer_mutable_data(cflight_buffer *buf) {
  return buf != NULL ? buf->data : NULL;
}
