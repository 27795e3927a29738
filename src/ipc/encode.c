/* ArrowArray -> RecordBatch / DictionaryBatch payloads.
 *
 * The body is a list of pieces pointing at the array's own buffers (sliced
 * to the range being written), with zero padding to 8 bytes from a static
 * block. Copies happen only where the format forces them: a bitmap whose
 * first bit is not on a byte boundary is re-packed, an offsets buffer whose
 * first offset is not 0 is rebased, run ends of a sliced run-end encoded
 * array are rebased, and compressed buffers are new by nature. The
 * metadata is built once, after the walk. */
#include <stdarg.h>
#include <stdio.h>

#include "ipc/bits.h"
#include "ipc/encode.h"

static const int64_t minus_one = -1; /* "stored uncompressed" prefix */

void cf_enc_init(cf_enc *e, cf_compressor *comp) {
  memset(e, 0, sizeof(*e));
  e->comp = comp;
}

void cf_enc_reset(cf_enc *e) {
  for (size_t i = 0; i < e->n_owned; i++)
    cflight_buffer_unref(e->owned[i]);
  e->n_nodes = e->n_bufs = e->n_variadic = e->n_pieces = e->n_owned = 0;
  e->body_length = 0;
}

void cf_enc_free(cf_enc *e) {
  cf_enc_reset(e);
  free(e->nodes);
  free(e->bufs);
  free(e->variadic);
  free(e->pieces);
  free(e->owned);
  memset(e, 0, sizeof(*e));
}

/* Grows *arr (of *cap elements of size es) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t es, cflight_error *err) {
  if (n < *cap) return CFLIGHT_OK;
  size_t c = *cap ? *cap * 2 : 16;
  void *p = realloc(*arr, c * es);
  if (p == NULL) return CF_NOMEM(err, "encoder state");
  *arr = p;
  *cap = c;
  return CFLIGHT_OK;
}

static int add_piece(cf_enc *e, const void *data, size_t size, cflight_error *err) {
  if (size == 0) return CFLIGHT_OK;
  CF_RETURN_NOT_OK(grow((void **)&e->pieces, &e->cap_pieces, e->n_pieces, sizeof(*e->pieces), err));
  e->pieces[e->n_pieces].data = data;
  e->pieces[e->n_pieces].size = size;
  e->n_pieces++;
  return CFLIGHT_OK;
}

/* Takes over a buffer the payload must keep alive. */
static int own(cf_enc *e, cflight_buffer *buf, cflight_error *err) {
  int rc = grow((void **)&e->owned, &e->cap_owned, e->n_owned, sizeof(*e->owned), err);
  if (rc != CFLIGHT_OK) {
    cflight_buffer_unref(buf);
    return rc;
  }
  e->owned[e->n_owned++] = buf;
  return CFLIGHT_OK;
}

static int add_node(cf_enc *e, int64_t length, int64_t nulls, cflight_error *err) {
  CF_RETURN_NOT_OK(grow((void **)&e->nodes, &e->cap_nodes, e->n_nodes, sizeof(*e->nodes), err));
  e->nodes[e->n_nodes].length = length;
  e->nodes[e->n_nodes].null_count = nulls;
  e->n_nodes++;
  return CFLIGHT_OK;
}

/* Appends one body buffer (data may be NULL when size is 0). */
static int add_buffer(cf_enc *e, const void *data, int64_t size, cflight_error *err) {
  CF_RETURN_NOT_OK(grow((void **)&e->bufs, &e->cap_bufs, e->n_bufs, sizeof(*e->bufs), err));
  int64_t written = size;
  if (size > 0 && e->comp != NULL) {
    cflight_buffer *c;
    size_t csize;
    CF_RETURN_NOT_OK(cf_compress_buffer(e->comp, data, (size_t)size, &c, &csize, err));
    if (c != NULL) {
      CF_RETURN_NOT_OK(own(e, c, err));
      CF_RETURN_NOT_OK(add_piece(e, cflight_buffer_data(c), csize, err));
      written = (int64_t)csize;
    } else {
      CF_RETURN_NOT_OK(add_piece(e, &minus_one, 8, err));
      CF_RETURN_NOT_OK(add_piece(e, data, (size_t)size, err));
      written = size + 8;
    }
  } else if (size > 0) {
    CF_RETURN_NOT_OK(add_piece(e, data, (size_t)size, err));
  }
  e->bufs[e->n_bufs].offset = e->body_length;
  e->bufs[e->n_bufs].length = written;
  e->n_bufs++;
  int64_t pad = (8 - written % 8) % 8;
  CF_RETURN_NOT_OK(add_piece(e, cf_ipc_zeros, (size_t)pad, err));
  e->body_length += written + pad;
  return CFLIGHT_OK;
}

/* A new zeroed buffer of size bytes, owned by the payload. */
static uint8_t *new_buffer(cf_enc *e, int64_t size, cflight_error *err) {
  cflight_buffer *b = cflight_buffer_new((size_t)(size > 0 ? size : 1));
  if (b == NULL) {
    CF_NOMEM(err, "encoder buffer");
    return NULL;
  }
  uint8_t *p = cflight_buffer_mutable_data(b);
  memset(p, 0, (size_t)(size > 0 ? size : 1));
  if (own(e, b, err) != CFLIGHT_OK) return NULL;
  return p;
}

static int bad_array(cflight_error *err, const cf_field *f, const char *fmt, ...)
    CFLIGHT_PRINTF(3, 4);
static int bad_array(cflight_error *err, const cf_field *f, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: field '%s' (%s): %s",
                           f->schema->name ? f->schema->name : "", cf_type_name(f->type.id), msg);
}

/* Bits [start, start + len) of a bitmap: a pointer into it when start is on
 * a byte boundary, else re-packed. */
static int add_bitmap(cf_enc *e, const uint8_t *bits, int64_t start, int64_t len,
                      cflight_error *err) {
  if (len == 0) return add_buffer(e, NULL, 0, err);
  int64_t bytes = cf_bytes_for_bits(len);
  if ((start & 7) == 0) return add_buffer(e, bits + (start >> 3), bytes, err);
  uint8_t *p = new_buffer(e, bytes, err);
  if (p == NULL) return CFLIGHT_NO_MEMORY;
  cf_bits_copy(p, 0, bits, start, len);
  return add_buffer(e, p, bytes, err);
}

static int64_t null_count(const cf_field *f, const struct ArrowArray *a, int64_t start,
                          int64_t len) {
  const uint8_t *bits = a->n_buffers > 0 ? a->buffers[0] : NULL;
  if (a->null_count == 0 || bits == NULL || len == 0) return 0;
  if (start == a->offset && len == a->length && a->null_count > 0) return a->null_count;
  return len - cf_bits_count(bits, start, len);
}

static int add_validity(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                        int64_t len, int64_t nulls, cflight_error *err) {
  if (nulls == 0) return add_buffer(e, NULL, 0, err);
  return add_bitmap(e, a->buffers[0], start, len, err);
}

static int64_t load_off(const void *p, int w, int64_t i) {
  return w == 4 ? (int64_t)((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

/* Offsets [start, start + len] rebased to start at 0; *first and *last are
 * the original first and last offsets. */
static int add_offsets(cf_enc *e, const cf_field *f, const void *offsets, int w, int64_t start,
                       int64_t len, int64_t *first, int64_t *last, cflight_error *err) {
  *first = *last = 0;
  if (len == 0) return add_buffer(e, cf_ipc_zeros, w, err); /* one 0 offset */
  if (offsets == NULL) return bad_array(err, f, "offsets buffer is NULL");
  *first = load_off(offsets, w, start);
  *last = load_off(offsets, w, start + len);
  if (*first < 0 || *last < *first) {
    return bad_array(err, f, "offsets run from %lld to %lld", (long long)*first, (long long)*last);
  }
  if (*first == 0) return add_buffer(e, (const uint8_t *)offsets + start * w, (len + 1) * w, err);
  uint8_t *p = new_buffer(e, (len + 1) * w, err);
  if (p == NULL) return CFLIGHT_NO_MEMORY;
  if (w == 4) {
    const int32_t *src = (const int32_t *)offsets + start;
    int32_t *dst = (int32_t *)p, base = (int32_t)*first;
    for (int64_t i = 0; i <= len; i++)
      dst[i] = src[i] - base;
  } else {
    const int64_t *src = (const int64_t *)offsets + start;
    int64_t *dst = (int64_t *)p, base = *first;
    for (int64_t i = 0; i <= len; i++)
      dst[i] = src[i] - base;
  }
  return add_buffer(e, p, (len + 1) * w, err);
}

static int64_t expected_buffers(const cf_field *f, const struct ArrowArray *a) {
  if (f->type.id == CF_BINARY_VIEW || f->type.id == CF_STRING_VIEW)
    return a->n_buffers >= 3 ? a->n_buffers : 3;
  return cf_type_n_buffers(&f->type, 0);
}

static int encode_field(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                        int64_t len, int depth, cflight_error *err);

static int check_shape(const cf_field *f, const struct ArrowArray *a, int64_t start, int64_t len,
                       cflight_error *err) {
  if (a == NULL || a->release == NULL) return bad_array(err, f, "array is NULL or released");
  int64_t want_children = f->dict != NULL ? 0 : f->n_children;
  if (a->n_buffers != expected_buffers(f, a) || a->n_children != want_children ||
      (a->n_buffers > 0 && a->buffers == NULL) || (a->n_children > 0 && a->children == NULL)) {
    return bad_array(err, f,
                     "array has %lld buffers and %lld children, the type needs %lld and "
                     "%lld",
                     (long long)a->n_buffers, (long long)a->n_children,
                     (long long)expected_buffers(f, a), (long long)want_children);
  }
  if (a->offset < 0 || a->length < 0 || start < a->offset || len < 0 ||
      start - a->offset > a->length - len) {
    return bad_array(err, f, "range [%lld, +%lld) is outside the array (offset %lld, length %lld)",
                     (long long)start, (long long)len, (long long)a->offset, (long long)a->length);
  }
  for (int64_t i = 0; i < a->n_children; i++) {
    if (a->children[i] == NULL || a->children[i]->release == NULL)
      return bad_array(err, f, "child %lld is NULL or released", (long long)i);
  }
  return CFLIGHT_OK;
}

/* A child taken whole (list views, dense unions). */
static int encode_whole(cf_enc *e, const cf_field *f, const struct ArrowArray *c, int depth,
                        cflight_error *err) {
  return encode_field(e, f, c, c->offset, c->length, depth, err);
}

static int encode_ree(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                      int64_t len, int depth, cflight_error *err) {
  const struct ArrowArray *re = a->children[0], *values = a->children[1];
  const cf_field *ref = &f->children[0];
  int w = ref->type.bit_width / 8;
  int64_t p0 = 0, n = 0;
  CF_RETURN_NOT_OK(add_node(e, len, 0, err));
  if (len > 0) {
    int64_t runs = re->length;
    if (re->n_buffers != 2 || re->buffers[1] == NULL || runs <= 0 ||
        cf_ree_run_end(re, w, runs - 1) < start + len) {
      return bad_array(err, f, "run ends do not cover the range [%lld, +%lld)", (long long)start,
                       (long long)len);
    }
    p0 = cf_ree_find_run(re, w, runs, start);
    int64_t p_last = cf_ree_find_run(re, w, runs, start + len - 1);
    n = p_last - p0 + 1;
    if (values->length < p0 + n) return bad_array(err, f, "fewer values than run ends");
  }
  /* The run ends child: logical positions relative to the slice. */
  CF_RETURN_NOT_OK(add_node(e, n, 0, err));
  CF_RETURN_NOT_OK(add_buffer(e, NULL, 0, err));
  if (n == 0) {
    CF_RETURN_NOT_OK(add_buffer(e, NULL, 0, err));
  } else if (start == 0 && cf_ree_run_end(re, w, p0 + n - 1) == len) {
    CF_RETURN_NOT_OK(
        add_buffer(e, (const uint8_t *)re->buffers[1] + (re->offset + p0) * w, n * w, err));
  } else {
    uint8_t *p = new_buffer(e, n * w, err);
    if (p == NULL) return CFLIGHT_NO_MEMORY;
    for (int64_t j = 0; j < n; j++) {
      int64_t v = cf_ree_run_end(re, w, p0 + j) - start;
      if (v > len) v = len;
      if (w == 2)
        ((int16_t *)p)[j] = (int16_t)v;
      else if (w == 4)
        ((int32_t *)p)[j] = (int32_t)v;
      else
        ((int64_t *)p)[j] = v;
    }
    CF_RETURN_NOT_OK(add_buffer(e, p, n * w, err));
  }
  return encode_field(e, &f->children[1], values, values->offset + p0, n, depth + 1, err);
}

static int encode_field(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                        int64_t len, int depth, cflight_error *err) {
  const cf_type *t = &f->type;
  if (depth > CF_IPC_MAX_DEPTH) return bad_array(err, f, "nested too deeply");
  CF_RETURN_NOT_OK(check_shape(f, a, start, len, err));
  int64_t nulls = 0;
  if (t->id == CF_NA) {
    nulls = len;
  } else if (cf_type_has_validity(t->id)) {
    nulls = null_count(f, a, start, len);
    if (nulls > 0 && a->buffers[0] == NULL) {
      return bad_array(err, f, "null count %lld without a validity bitmap",
                       (long long)a->null_count);
    }
  }
  if (t->id == CF_RUN_END_ENCODED) return encode_ree(e, f, a, start, len, depth, err);
  CF_RETURN_NOT_OK(add_node(e, len, nulls, err));
  switch (t->id) {
    case CF_NA:
      return CFLIGHT_OK;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      int w = (t->id == CF_BINARY || t->id == CF_STRING) ? 4 : 8;
      int64_t first, last;
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      CF_RETURN_NOT_OK(add_offsets(e, f, a->buffers[1], w, start, len, &first, &last, err));
      if (last > first && a->buffers[2] == NULL) return bad_array(err, f, "data buffer is NULL");
      return add_buffer(e, (const uint8_t *)a->buffers[2] + first, last - first, err);
    }
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW: {
      int64_t nv = a->n_buffers - 3;
      const int64_t *sizes = a->buffers[a->n_buffers - 1];
      if (nv > 0 && sizes == NULL) return bad_array(err, f, "variadic sizes buffer is NULL");
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      if (len > 0 && a->buffers[1] == NULL) return bad_array(err, f, "views buffer is NULL");
      CF_RETURN_NOT_OK(add_buffer(e, (const uint8_t *)a->buffers[1] + start * 16, len * 16, err));
      for (int64_t k = 0; k < nv; k++) {
        if (sizes[k] < 0 || (sizes[k] > 0 && a->buffers[2 + k] == NULL))
          return bad_array(err, f, "variadic buffer %lld is NULL or sized %lld", (long long)k,
                           (long long)sizes[k]);
        CF_RETURN_NOT_OK(add_buffer(e, a->buffers[2 + k], sizes[k], err));
      }
      CF_RETURN_NOT_OK(
          grow((void **)&e->variadic, &e->cap_variadic, e->n_variadic, sizeof(int64_t), err));
      e->variadic[e->n_variadic++] = nv;
      return CFLIGHT_OK;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int w = t->id == CF_LARGE_LIST ? 8 : 4;
      int64_t first, last;
      const struct ArrowArray *child = a->children[0];
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      CF_RETURN_NOT_OK(add_offsets(e, f, a->buffers[1], w, start, len, &first, &last, err));
      return encode_field(e, &f->children[0], child, child->offset + first, last - first, depth + 1,
                          err);
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int w = t->id == CF_LIST_VIEW ? 4 : 8;
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      if (len > 0 && (a->buffers[1] == NULL || a->buffers[2] == NULL))
        return bad_array(err, f, "offsets or sizes buffer is NULL");
      CF_RETURN_NOT_OK(add_buffer(e, (const uint8_t *)a->buffers[1] + start * w, len * w, err));
      CF_RETURN_NOT_OK(add_buffer(e, (const uint8_t *)a->buffers[2] + start * w, len * w, err));
      return encode_whole(e, &f->children[0], a->children[0], depth + 1, err);
    }
    case CF_FIXED_SIZE_LIST: {
      const struct ArrowArray *child = a->children[0];
      int64_t size = t->fixed_size;
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      return encode_field(e, &f->children[0], child, child->offset + start * size, len * size,
                          depth + 1, err);
    }
    case CF_STRUCT:
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      for (int64_t i = 0; i < f->n_children; i++) {
        const struct ArrowArray *child = a->children[i];
        CF_RETURN_NOT_OK(
            encode_field(e, &f->children[i], child, child->offset + start, len, depth + 1, err));
      }
      return CFLIGHT_OK;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION:
      if (len > 0 && a->buffers[0] == NULL) return bad_array(err, f, "type ids buffer is NULL");
      CF_RETURN_NOT_OK(add_buffer(e, (const uint8_t *)a->buffers[0] + start, len, err));
      if (t->id == CF_DENSE_UNION) {
        if (len > 0 && a->buffers[1] == NULL) return bad_array(err, f, "offsets buffer is NULL");
        CF_RETURN_NOT_OK(add_buffer(e, (const uint8_t *)a->buffers[1] + start * 4, len * 4, err));
        for (int64_t i = 0; i < f->n_children; i++)
          CF_RETURN_NOT_OK(encode_whole(e, &f->children[i], a->children[i], depth + 1, err));
        return CFLIGHT_OK;
      }
      for (int64_t i = 0; i < f->n_children; i++) {
        const struct ArrowArray *child = a->children[i];
        CF_RETURN_NOT_OK(
            encode_field(e, &f->children[i], child, child->offset + start, len, depth + 1, err));
      }
      return CFLIGHT_OK;
    default: {
      /* Fixed width, dictionary indices included (the dictionary itself
       * travels in its own message). */
      CF_RETURN_NOT_OK(add_validity(e, f, a, start, len, nulls, err));
      if (len > 0 && a->buffers[1] == NULL) return bad_array(err, f, "values buffer is NULL");
      if (t->id == CF_BOOL) return add_bitmap(e, a->buffers[1], start, len, err);
      int64_t width = t->bit_width / 8;
      return add_buffer(e, (const uint8_t *)a->buffers[1] + start * width, len * width, err);
    }
  }
}

int cf_enc_columns(cf_enc *e, const cf_field *root, const struct ArrowArray *batch,
                   cflight_error *err) {
  if (batch == NULL || batch->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: the batch is released");
  }
  if (batch->n_children != root->n_children || batch->length < 0 || batch->offset < 0 ||
      (batch->n_children > 0 && batch->children == NULL)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "encode: the batch has %lld columns, the schema %lld",
                             (long long)batch->n_children, (long long)root->n_children);
  }
  for (int64_t i = 0; i < root->n_children; i++) {
    const struct ArrowArray *col = batch->children[i];
    if (col == NULL || col->release == NULL) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: column %lld is released",
                               (long long)i);
    }
    CF_RETURN_NOT_OK(encode_field(e, &root->children[i], col, col->offset + batch->offset,
                                  batch->length, 1, err));
  }
  return CFLIGHT_OK;
}

int cf_enc_array(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                 int64_t len, cflight_error *err) {
  return encode_field(e, f, a, a->offset + start, len, 1, err);
}

/* ---- Metadata and payloads -------------------------------------------------------- */

static cf_fbref record_batch_table(cf_fbb *b, const cf_enc *e, int64_t length, bool has_views) {
  cf_fbref nodes = cf_fbb_vector(b, e->nodes, e->n_nodes, 16, 8);
  cf_fbref bufs = cf_fbb_vector(b, e->bufs, e->n_bufs, 16, 8);
  cf_fbref variadic = 0;
  if (has_views) variadic = cf_fbb_vector(b, e->variadic, e->n_variadic, 8, 8);
  cf_fbref comp = 0;
  if (e->comp != NULL) {
    cf_fbb_table_start(b);
    cf_fbb_add_u8(b, 0, cf_compressor_codec(e->comp) == CFLIGHT_COMPRESSION_LZ4_FRAME ? 0 : 1);
    cf_fbb_add_u8(b, 1, 0);
    comp = cf_fbb_table_end(b);
  }
  cf_fbb_table_start(b);
  cf_fbb_add_i64(b, 0, length);
  cf_fbb_add_ref(b, 1, nodes);
  cf_fbb_add_ref(b, 2, bufs);
  if (comp != 0) cf_fbb_add_ref(b, 3, comp);
  if (has_views) cf_fbb_add_ref(b, 4, variadic);
  return cf_fbb_table_end(b);
}

static void free_fbb_memory(void *ctx, void *data) {
  CF_UNUSED(data);
  free(ctx);
}

/* Hands the finished flatbuffer over as a buffer (no copy). */
static cflight_buffer *fbb_to_buffer(cf_fbb *b) {
  cflight_buffer *buf =
      cflight_buffer_wrap(cf_fbb_data(b), cf_fbb_size(b), free_fbb_memory, b->buf);
  if (buf != NULL) cf_fbb_init(b);
  return buf;
}

int cf_payload_new(cflight_ipc_message_type type, cf_fbb *meta, cf_enc *e,
                   cflight_ipc_payload **out, cflight_error *err) {
  *out = NULL;
  cflight_ipc_payload *p = calloc(1, sizeof(*p));
  if (p == NULL) return CF_NOMEM(err, "payload");
  p->type = type;
  p->metadata = fbb_to_buffer(meta);
  if (p->metadata == NULL) {
    free(p);
    return CF_NOMEM(err, "payload");
  }
  if (e != NULL && e->n_pieces > 0) {
    p->pieces = malloc(e->n_pieces * sizeof(*p->pieces));
    if (p->pieces == NULL) {
      cflight_ipc_payload_free(p);
      return CF_NOMEM(err, "payload");
    }
    memcpy(p->pieces, e->pieces, e->n_pieces * sizeof(*p->pieces));
    p->n_pieces = e->n_pieces;
  }
  if (e != NULL && e->n_owned > 0) {
    /* The payload takes the encoder's owned buffers (and their references). */
    p->owned = malloc(e->n_owned * sizeof(*p->owned));
    if (p->owned == NULL) {
      cflight_ipc_payload_free(p);
      return CF_NOMEM(err, "payload");
    }
    memcpy(p->owned, e->owned, e->n_owned * sizeof(*p->owned));
    p->n_owned = e->n_owned;
    e->n_owned = 0;
  }
  p->body_length = e != NULL ? e->body_length : 0;
  *out = p;
  return CFLIGHT_OK;
}

int cf_enc_finish_record_batch(cf_enc *e, int64_t length, bool has_views, cflight_ipc_payload **out,
                               cflight_error *err) {
  cf_fbb b;
  cf_fbb_init(&b);
  cf_fbref rb = record_batch_table(&b, e, length, has_views);
  cf_fbb_table_start(&b);
  cf_fbb_add_i16(&b, 0, CF_MD_V5);
  cf_fbb_add_u8(&b, 1, CF_MSG_RECORD_BATCH);
  cf_fbb_add_ref(&b, 2, rb);
  cf_fbb_add_i64(&b, 3, e->body_length);
  cf_fbref msg = cf_fbb_table_end(&b);
  int rc = cf_fbb_finish(&b, msg, err);
  if (rc == CFLIGHT_OK) rc = cf_payload_new(CFLIGHT_IPC_RECORD_BATCH, &b, e, out, err);
  cf_fbb_reset(&b);
  return rc;
}

int cf_enc_finish_dictionary_batch(cf_enc *e, int64_t id, int64_t length, bool is_delta,
                                   bool has_views, cflight_ipc_payload **out, cflight_error *err) {
  cf_fbb b;
  cf_fbb_init(&b);
  cf_fbref rb = record_batch_table(&b, e, length, has_views);
  cf_fbb_table_start(&b);
  cf_fbb_add_i64(&b, 0, id);
  cf_fbb_add_ref(&b, 1, rb);
  cf_fbb_add_u8(&b, 2, is_delta);
  cf_fbref db = cf_fbb_table_end(&b);
  cf_fbb_table_start(&b);
  cf_fbb_add_i16(&b, 0, CF_MD_V5);
  cf_fbb_add_u8(&b, 1, CF_MSG_DICTIONARY_BATCH);
  cf_fbb_add_ref(&b, 2, db);
  cf_fbb_add_i64(&b, 3, e->body_length);
  cf_fbref msg = cf_fbb_table_end(&b);
  int rc = cf_fbb_finish(&b, msg, err);
  if (rc == CFLIGHT_OK) rc = cf_payload_new(CFLIGHT_IPC_DICTIONARY_BATCH, &b, e, out, err);
  cf_fbb_reset(&b);
  return rc;
}

/* ---- Payload accessors ----------------------------------------------------------- */

cflight_ipc_message_type cflight_ipc_payload_type(const cflight_ipc_payload *p) {
  return p != NULL ? p->type : CFLIGHT_IPC_NONE;
}

cflight_ipc_piece cflight_ipc_payload_metadata(const cflight_ipc_payload *p) {
  cflight_ipc_piece piece = {NULL, 0};
  if (p != NULL && p->metadata != NULL) {
    piece.data = cflight_buffer_data(p->metadata);
    piece.size = cflight_buffer_size(p->metadata);
  }
  return piece;
}

size_t cflight_ipc_payload_body(const cflight_ipc_payload *p, const cflight_ipc_piece **pieces) {
  *pieces = p != NULL ? p->pieces : NULL;
  return p != NULL ? p->n_pieces : 0;
}

int64_t cflight_ipc_payload_body_length(const cflight_ipc_payload *p) {
  return p != NULL ? p->body_length : 0;
}

void cflight_ipc_payload_hold(cflight_ipc_payload *p, struct ArrowArray *batch) {
  if (p == NULL || batch == NULL || batch->release == NULL) return;
  cf_array_release(&p->held);
  cf_array_move(batch, &p->held);
}

void cflight_ipc_payload_free(cflight_ipc_payload *p) {
  if (p == NULL) return;
  cflight_buffer_unref(p->metadata);
  for (size_t i = 0; i < p->n_owned; i++)
    cflight_buffer_unref(p->owned[i]);
  free(p->owned);
  free(p->pieces);
  cf_array_release(&p->held);
  free(p);
}
