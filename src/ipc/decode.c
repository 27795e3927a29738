/* RecordBatch (and DictionaryBatch) tables + body -> ArrowArray.
 *
 * Zero copy: every buffer of the result points into the body and holds a
 * reference on it, unless the buffer was compressed (then it is a new
 * allocation) or its address is not aligned for its element type (then it
 * is copied to an aligned allocation). The work is O(fields + buffers):
 * sizes are checked against lengths, and offsets buffers are checked at
 * their ends only; cf_validate(full) does the per-value checks. */
#include <stdarg.h>
#include <stdio.h>

#include "ipc/bits.h"
#include "ipc/ipc.h"

typedef struct dctx {
  const cf_decode_opts *o;
  cf_fbr *r;
  cf_fbv nodes, buffers, variadic;
  uint32_t node_i, buffer_i, variadic_i;
  cflight_buffer *body;
  const uint8_t *body_data;
  int64_t body_size;
  int codec; /* a cflight_compression; NONE when uncompressed */
  cf_decompressor *decompressor;
  const char *what; /* "record batch" or "dictionary batch" */
  cflight_error *err;
} dctx;

/* A buffer taken from the body: `owner` holds one reference for the array. */
typedef struct dbuf {
  cflight_buffer *owner;
  const uint8_t *data;
  int64_t size;
} dbuf;

static const char *field_name(const cf_field *f) {
  return f->schema->name != NULL ? f->schema->name : "";
}

static int fail(dctx *c, const cf_field *f, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
static int fail(dctx *c, const cf_field *f, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return cflight_error_set(c->err, CFLIGHT_INVALID_DATA, "%s: field '%s' (%s): %s", c->what,
                           field_name(f), cf_type_name(f->type.id), msg);
}

static int next_node(dctx *c, const cf_field *f, int64_t *length, int64_t *nulls) {
  if (c->node_i >= c->nodes.n) {
    return fail(c, f, "the message has %u field nodes, the schema needs more", c->nodes.n);
  }
  const uint8_t *p = c->nodes.data + 16 * (size_t)c->node_i++;
  *length = cf_load_i64(p);
  *nulls = cf_load_i64(p + 8);
  /* Lengths beyond 2^62 are refused so that length + 1 and similar sums
   * cannot overflow anywhere downstream. */
  if (*length < 0 || *length > ((int64_t)1 << 62) || *nulls < 0 || *nulls > *length) {
    return fail(c, f, "bad field node %u: length %lld, null count %lld", c->node_i - 1,
                (long long)*length, (long long)*nulls);
  }
  return CFLIGHT_OK;
}

/* Takes the next buffer. With skip, it is only bounds-checked (validity
 * bitmaps of arrays without nulls are not decompressed or referenced). */
static int next_buffer(dctx *c, const cf_field *f, size_t align, bool skip, dbuf *out) {
  memset(out, 0, sizeof(*out));
  if (c->buffer_i >= c->buffers.n) {
    return fail(c, f, "the message has %u buffers, the schema needs more", c->buffers.n);
  }
  uint32_t index = c->buffer_i++;
  const uint8_t *p = c->buffers.data + 16 * (size_t)index;
  int64_t offset = cf_load_i64(p), length = cf_load_i64(p + 8);
  if (offset < 0 || length < 0 || offset > c->body_size || length > c->body_size - offset) {
    return fail(c, f, "buffer %u (offset %lld, length %lld) lies outside the %lld-byte body", index,
                (long long)offset, (long long)length, (long long)c->body_size);
  }
  if (skip || length == 0) return CFLIGHT_OK;
  const uint8_t *src = c->body_data + offset;
  if (c->codec != CFLIGHT_COMPRESSION_NONE) {
    int rc = cf_decompress_buffer(&c->decompressor, c->codec, c->body, src, length,
                                  c->o->opts->max_message_size, &out->owner, &out->data, &out->size,
                                  c->err);
    if (rc != CFLIGHT_OK) {
      char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
      snprintf(msg, sizeof(msg), "%s", c->err ? c->err->message : "");
      return cflight_error_set(c->err, rc, "%s: field '%s': buffer %u: %s", c->what, field_name(f),
                               index, msg);
    }
  } else {
    out->owner = cflight_buffer_ref(c->body);
    out->data = src;
    out->size = length;
  }
  if (out->size > 0 && ((uintptr_t)out->data & (align - 1)) != 0) {
    /* The body put this buffer at an address its element type cannot be
     * read from: the one case where decoding copies. */
    cflight_buffer *copy = cflight_buffer_copy(out->data, (size_t)out->size);
    cflight_buffer_unref(out->owner);
    out->owner = copy;
    if (copy == NULL) return CF_NOMEM(c->err, "aligned copy of a buffer");
    out->data = cflight_buffer_data(copy);
  }
  return CFLIGHT_OK;
}

/* Sets buffers[i] of a from b, or to the static zeros when b is empty (so
 * that consumers never see NULL where a buffer is expected). */
static void set_buffer(struct ArrowArray *a, int64_t i, dbuf *b) {
  if (b->size == 0) {
    cflight_buffer_unref(b->owner);
    cf_array_set_buffer(a, i, NULL, cf_ipc_zeros);
  } else {
    cf_array_set_buffer(a, i, b->owner, b->data);
  }
  b->owner = NULL;
}

static int need_bytes(dctx *c, const cf_field *f, const char *what, int64_t count, int64_t width,
                      int64_t have) {
  int64_t need;
  if (cf_mul_overflow_i64(count, width, &need) || need > have) {
    return fail(c, f, "%s buffer holds %lld bytes, %lld values of %lld bytes need more", what,
                (long long)have, (long long)count, (long long)width);
  }
  return CFLIGHT_OK;
}

static int take_validity(dctx *c, const cf_field *f, struct ArrowArray *out, int64_t length,
                         int64_t nulls) {
  dbuf b;
  CF_RETURN_NOT_OK(next_buffer(c, f, 1, nulls == 0, &b));
  if (nulls == 0) {
    cf_array_set_buffer(out, 0, NULL, NULL);
    return CFLIGHT_OK;
  }
  if (b.size < cf_bytes_for_bits(length)) {
    cflight_buffer_unref(b.owner);
    return fail(c, f, "validity bitmap of %lld bytes is too short for %lld values",
                (long long)b.size, (long long)length);
  }
  set_buffer(out, 0, &b);
  return CFLIGHT_OK;
}

/* A buffer of `count` values of `width` bytes (bits when bits is set). */
static int take_values(dctx *c, const cf_field *f, struct ArrowArray *out, int64_t i,
                       const char *what, int64_t count, int64_t width, bool bits) {
  dbuf b;
  size_t align = bits ? 1 : (size_t)(width >= 8 ? 8 : width);
  if (align == 0 || (align & (align - 1)) != 0) align = 1; /* odd fixed-size binary widths */
  CF_RETURN_NOT_OK(next_buffer(c, f, align, false, &b));
  int rc = bits ? need_bytes(c, f, what, cf_bytes_for_bits(count), 1, b.size)
                : need_bytes(c, f, what, count, width, b.size);
  if (rc != CFLIGHT_OK) {
    cflight_buffer_unref(b.owner);
    return rc;
  }
  set_buffer(out, i, &b);
  return CFLIGHT_OK;
}

static int64_t load_offset(const void *p, int64_t i, int w) {
  return w == 4 ? (int64_t)cf_load_i32((const uint8_t *)p + 4 * i)
                : cf_load_i64((const uint8_t *)p + 8 * i);
}

/* The offsets buffer of a binary or list array: length + 1 entries (an
 * empty array may omit it); returns its first and last entries. */
static int take_offsets(dctx *c, const cf_field *f, struct ArrowArray *out, int64_t length, int w,
                        int64_t *first, int64_t *last) {
  dbuf b;
  CF_RETURN_NOT_OK(next_buffer(c, f, (size_t)w, false, &b));
  *first = *last = 0;
  if (length == 0 && b.size < w) {
    /* An empty array may omit its offsets; consumers still read offsets[0]. */
    cflight_buffer_unref(b.owner);
    cf_array_set_buffer(out, 1, NULL, cf_ipc_zeros);
    return CFLIGHT_OK;
  }
  int rc = need_bytes(c, f, "offsets", length + 1, w, b.size);
  if (rc != CFLIGHT_OK) {
    cflight_buffer_unref(b.owner);
    return rc;
  }
  *first = load_offset(b.data, 0, w);
  *last = load_offset(b.data, length, w);
  set_buffer(out, 1, &b);
  if (*first < 0 || *last < *first) {
    return fail(c, f, "offsets run from %lld to %lld", (long long)*first, (long long)*last);
  }
  return CFLIGHT_OK;
}

static int decode_field(dctx *c, const cf_field *f, struct ArrowArray *out);

static int decode_children(dctx *c, const cf_field *f, struct ArrowArray *out, int64_t min_len) {
  for (int64_t i = 0; i < f->n_children; i++) {
    CF_RETURN_NOT_OK(decode_field(c, &f->children[i], out->children[i]));
    if (out->children[i]->length < min_len) {
      return fail(c, f, "child '%s' has %lld values, fewer than the %lld needed",
                  field_name(&f->children[i]), (long long)out->children[i]->length,
                  (long long)min_len);
    }
  }
  return CFLIGHT_OK;
}

static int attach_dictionary(dctx *c, const cf_field *f, struct ArrowArray *out) {
  cf_shared_array *sh = c->o->dicts != NULL ? c->o->dicts->current[f->dict_slot] : NULL;
  if (sh == NULL) {
    return fail(c, f, "its dictionary (id %lld) has not been received",
                (long long)c->o->plan->dicts[f->dict_slot].id);
  }
  struct ArrowArray *d = cf_array_alloc_dictionary(out, c->err);
  if (d == NULL) return CFLIGHT_NO_MEMORY;
  return cf_shared_array_export(sh, cf_shared_array_get(sh), d, c->err);
}

static int decode_views(dctx *c, const cf_field *f, struct ArrowArray *out, int64_t length,
                        int64_t nulls) {
  if (c->variadic_i >= c->variadic.n) {
    return fail(c, f, "the message has %u variadic buffer counts, the schema needs more",
                c->variadic.n);
  }
  int64_t nv = cf_load_i64(c->variadic.data + 8 * (size_t)c->variadic_i++);
  int64_t left = (int64_t)c->buffers.n - c->buffer_i;
  if (nv < 0 || nv > left - 2) {
    return fail(c, f, "variadic buffer count %lld with %lld buffers left", (long long)nv,
                (long long)left);
  }
  CF_RETURN_NOT_OK(cf_array_init(out, 3 + nv, 0, c->err));
  out->length = length;
  out->null_count = nulls;
  CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
  CF_RETURN_NOT_OK(take_values(c, f, out, 1, "views", length, 16, false));
  int64_t *sizes = cf_array_alloc_buffer(out, 2 + nv, (size_t)(nv > 0 ? nv : 1) * 8, c->err);
  if (sizes == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t k = 0; k < nv; k++) {
    dbuf b;
    CF_RETURN_NOT_OK(next_buffer(c, f, 1, false, &b));
    sizes[k] = b.size;
    set_buffer(out, 2 + k, &b);
  }
  return CFLIGHT_OK;
}

static int64_t load_run_end(const struct ArrowArray *re, int w, int64_t j) {
  const uint8_t *p = re->buffers[1];
  j += re->offset;
  if (w == 2) return (int16_t)cf_load_u16(p + 2 * j);
  return w == 4 ? (int64_t)cf_load_i32(p + 4 * j) : cf_load_i64(p + 8 * j);
}

static int decode_field(dctx *c, const cf_field *f, struct ArrowArray *out) {
  int64_t length = 0, nulls = 0;
  const cf_type *t = &f->type;
  CF_RETURN_NOT_OK(next_node(c, f, &length, &nulls));
  int64_t n_buffers = 2, n_children = 0;
  switch (t->id) {
    case CF_NA:
      n_buffers = 0;
      break;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING:
      n_buffers = 3;
      break;
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW:
      return decode_views(c, f, out, length, nulls);
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP:
      n_children = 1;
      break;
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW:
      n_buffers = 3;
      n_children = 1;
      break;
    case CF_FIXED_SIZE_LIST:
      n_buffers = 1;
      n_children = 1;
      break;
    case CF_STRUCT:
    case CF_SPARSE_UNION:
      n_buffers = 1;
      n_children = f->n_children;
      break;
    case CF_DENSE_UNION:
      n_children = f->n_children;
      break;
    case CF_RUN_END_ENCODED:
      n_buffers = 0;
      n_children = 2;
      break;
    default:
      break; /* fixed width: validity and values */
  }
  CF_RETURN_NOT_OK(cf_array_init(out, n_buffers, n_children, c->err));
  out->length = length;
  out->null_count = nulls;

  switch (t->id) {
    case CF_NA:
      out->null_count = length;
      return CFLIGHT_OK;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      int w = (t->id == CF_BINARY || t->id == CF_STRING) ? 4 : 8;
      int64_t first, last;
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      CF_RETURN_NOT_OK(take_offsets(c, f, out, length, w, &first, &last));
      dbuf b;
      CF_RETURN_NOT_OK(next_buffer(c, f, 1, false, &b));
      int64_t size = b.size;
      set_buffer(out, 2, &b);
      if (last > size) {
        return fail(c, f, "offsets reach %lld, past the %lld-byte data buffer", (long long)last,
                    (long long)size);
      }
      return CFLIGHT_OK;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int w = t->id == CF_LARGE_LIST ? 8 : 4;
      int64_t first, last;
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      CF_RETURN_NOT_OK(take_offsets(c, f, out, length, w, &first, &last));
      return decode_children(c, f, out, last);
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int w = t->id == CF_LIST_VIEW ? 4 : 8;
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      CF_RETURN_NOT_OK(take_values(c, f, out, 1, "offsets", length, w, false));
      CF_RETURN_NOT_OK(take_values(c, f, out, 2, "sizes", length, w, false));
      return decode_children(c, f, out, 0);
    }
    case CF_FIXED_SIZE_LIST: {
      int64_t need;
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      if (cf_mul_overflow_i64(length, t->fixed_size, &need)) {
        return fail(c, f, "%lld lists of %d values overflow", (long long)length,
                    (int)t->fixed_size);
      }
      return decode_children(c, f, out, need);
    }
    case CF_STRUCT:
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      return decode_children(c, f, out, length);
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      if (c->o->version < CF_MD_V5) {
        /* Before V5, unions had a validity bitmap slot; it must be unused. */
        dbuf skip;
        if (nulls != 0) return fail(c, f, "a V4 union with a validity bitmap is not supported");
        CF_RETURN_NOT_OK(next_buffer(c, f, 1, true, &skip));
      }
      out->null_count = 0;
      CF_RETURN_NOT_OK(take_values(c, f, out, 0, "type ids", length, 1, false));
      if (t->id == CF_DENSE_UNION) {
        CF_RETURN_NOT_OK(take_values(c, f, out, 1, "offsets", length, 4, false));
        return decode_children(c, f, out, 0);
      }
      return decode_children(c, f, out, length);
    }
    case CF_RUN_END_ENCODED: {
      out->null_count = 0;
      CF_RETURN_NOT_OK(decode_children(c, f, out, 0));
      const struct ArrowArray *re = out->children[0], *values = out->children[1];
      if (re->null_count != 0) return fail(c, f, "run ends contain nulls");
      if (values->length < re->length) {
        return fail(c, f, "%lld run ends but only %lld values", (long long)re->length,
                    (long long)values->length);
      }
      if (length > 0) {
        int w = f->children[0].type.bit_width / 8;
        int64_t end = re->length > 0 ? load_run_end(re, w, re->length - 1) : 0;
        if (end < length) {
          return fail(c, f, "the runs end at %lld, before the array's length %lld", (long long)end,
                      (long long)length);
        }
      }
      return CFLIGHT_OK;
    }
    default: {
      /* Fixed-width values, dictionary indices included. */
      if (t->bit_width <= 0 && t->id != CF_FIXED_SIZE_BINARY) {
        return fail(c, f, "cannot decode this type");
      }
      CF_RETURN_NOT_OK(take_validity(c, f, out, length, nulls));
      if (t->id == CF_BOOL) {
        CF_RETURN_NOT_OK(take_values(c, f, out, 1, "values", length, 1, true));
      } else {
        CF_RETURN_NOT_OK(take_values(c, f, out, 1, "values", length, t->bit_width / 8, false));
      }
      if (f->dict != NULL) return attach_dictionary(c, f, out);
      return CFLIGHT_OK;
    }
  }
}

/* Reads the RecordBatch table's vectors and compression into c. */
static int start(dctx *c, const cf_decode_opts *o, const cf_fbt *rb, cflight_buffer *body,
                 int64_t body_size, const char *what, int64_t *length, cflight_error *err) {
  memset(c, 0, sizeof(*c));
  c->o = o;
  c->r = rb->r;
  c->err = err;
  c->what = what;
  c->body = body;
  c->body_data = cflight_buffer_data(body);
  c->body_size = body != NULL ? body_size : 0;
  if (body != NULL && (size_t)body_size > cflight_buffer_size(body)) {
    return cflight_error_set(err, CFLIGHT_INTERNAL, "%s: body is shorter than announced", what);
  }
  *length = cf_fbt_i64(rb, 0, 0);
  cf_fbt_vector(rb, 1, 16, &c->nodes);
  cf_fbt_vector(rb, 2, 16, &c->buffers);
  cf_fbt comp;
  bool compressed = cf_fbt_table(rb, 3, &comp);
  cf_fbt_vector(rb, 4, 8, &c->variadic);
  CF_RETURN_NOT_OK(c->r->rc);
  if (*length < 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: negative length %lld", what,
                             (long long)*length);
  }
  c->codec = CFLIGHT_COMPRESSION_NONE;
  if (compressed) {
    int8_t codec = (int8_t)cf_fbt_u8(&comp, 0, 0);
    int8_t method = (int8_t)cf_fbt_u8(&comp, 1, 0);
    CF_RETURN_NOT_OK(c->r->rc);
    if (codec != 0 && codec != 1) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: unknown compression codec %d", what,
                               codec);
    }
    if (method != 0) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: unknown body compression method %d",
                               what, method);
    }
    c->codec = codec == 0 ? CFLIGHT_COMPRESSION_LZ4_FRAME : CFLIGHT_COMPRESSION_ZSTD;
  }
  return CFLIGHT_OK;
}

/* After the last field: every node, buffer and variadic count must be used. */
static int finish(dctx *c) {
  if (c->node_i != c->nodes.n || c->buffer_i != c->buffers.n || c->variadic_i != c->variadic.n) {
    return cflight_error_set(c->err, CFLIGHT_INVALID_DATA,
                             "%s: the schema uses %u field nodes, %u buffers and %u variadic "
                             "counts, the message has %u, %u and %u",
                             c->what, c->node_i, c->buffer_i, c->variadic_i, c->nodes.n,
                             c->buffers.n, c->variadic.n);
  }
  return CFLIGHT_OK;
}

int cf_decode_record_batch(const cf_decode_opts *o, const cf_fbt *rb, cflight_buffer *body,
                           int64_t body_size, struct ArrowArray *out, cflight_error *err) {
  dctx c;
  int64_t length;
  memset(out, 0, sizeof(*out));
  int rc = start(&c, o, rb, body, body_size, "record batch", &length, err);
  const cf_field *root = &o->plan->root;
  if (rc == CFLIGHT_OK) rc = cf_array_init(out, 1, root->n_children, err);
  if (rc == CFLIGHT_OK) out->length = length;
  for (int64_t i = 0; i < root->n_children && rc == CFLIGHT_OK; i++) {
    rc = decode_field(&c, &root->children[i], out->children[i]);
    if (rc == CFLIGHT_OK && out->children[i]->length != length) {
      rc = fail(&c, &root->children[i], "column has %lld rows, the batch %lld",
                (long long)out->children[i]->length, (long long)length);
    }
  }
  if (rc == CFLIGHT_OK) rc = finish(&c);
  cf_decompressor_free(c.decompressor);
  if (rc == CFLIGHT_OK && o->opts->validate_full)
    rc = cf_validate(root, out, true, "record batch", err);
  if (rc != CFLIGHT_OK) cf_array_release(out);
  return rc;
}

/* Nested dictionaries of a concatenated dictionary come from the table. */
static int current_dict(void *ctx, int64_t slot, struct ArrowArray *out, cflight_error *err) {
  cf_dict_table *t = ctx;
  cf_shared_array *sh = t->current[slot];
  if (sh == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "dictionary batch: nested dictionary "
                             "missing");
  }
  return cf_shared_array_export(sh, cf_shared_array_get(sh), out, err);
}

int cf_decode_dictionary_batch(const cf_decode_opts *o, const cf_fbt *db, cflight_buffer *body,
                               int64_t body_size, bool *is_delta, bool *replaced,
                               cflight_error *err) {
  *is_delta = *replaced = false;
  int64_t id = cf_fbt_i64(db, 0, 0);
  cf_fbt rb;
  bool has_data = cf_fbt_table(db, 1, &rb);
  bool delta = cf_fbt_bool(db, 2, false);
  CF_RETURN_NOT_OK(db->r->rc);
  if (!has_data) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "dictionary batch: id %lld has no data",
                             (long long)id);
  }
  int64_t slot = cf_plan_find_dict(o->plan, id);
  if (slot < 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "dictionary batch: unknown dictionary id %lld (no field of the "
                             "schema uses it)",
                             (long long)id);
  }
  const cf_field *value = o->plan->dicts[slot].value;
  dctx c;
  int64_t length;
  struct ArrowArray arr;
  memset(&arr, 0, sizeof(arr));
  int rc = start(&c, o, &rb, body, body_size, "dictionary batch", &length, err);
  if (rc == CFLIGHT_OK) rc = decode_field(&c, value, &arr);
  if (rc == CFLIGHT_OK && arr.length != length) {
    rc = fail(&c, value, "dictionary has %lld values, its batch says %lld", (long long)arr.length,
              (long long)length);
  }
  if (rc == CFLIGHT_OK) rc = finish(&c);
  cf_decompressor_free(c.decompressor);
  if (rc == CFLIGHT_OK && o->opts->validate_full)
    rc = cf_validate(value, &arr, true, "dictionary", err);
  cf_shared_array **cur = &o->dicts->current[slot];
  if (rc == CFLIGHT_OK && delta) {
    if (*cur == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "dictionary batch: delta for id %lld, which has no dictionary yet",
                             (long long)id);
    } else {
      const struct ArrowArray *parts[2] = {cf_shared_array_get(*cur), &arr};
      struct ArrowArray joined;
      rc = cf_array_concat(value, parts, 2, current_dict, o->dicts, &joined, err);
      if (rc == CFLIGHT_OK) {
        cf_array_release(&arr);
        cf_array_move(&joined, &arr);
      }
    }
  }
  if (rc != CFLIGHT_OK) {
    cf_array_release(&arr);
    return rc;
  }
  cf_shared_array *sh = cf_shared_array_new(&arr);
  if (sh == NULL) {
    cf_array_release(&arr);
    return CF_NOMEM(err, "dictionary");
  }
  *replaced = !delta && *cur != NULL;
  *is_delta = delta;
  cf_shared_array_unref(*cur);
  *cur = sh;
  return CFLIGHT_OK;
}

/* ---- Dictionary table ---------------------------------------------------------- */

int cf_dict_table_init(cf_dict_table *t, const cf_plan *plan, cflight_error *err) {
  t->n = plan->n_dicts;
  t->current = calloc((size_t)(t->n > 0 ? t->n : 1), sizeof(cf_shared_array *));
  if (t->current == NULL) return CF_NOMEM(err, "dictionary table");
  return CFLIGHT_OK;
}

void cf_dict_table_free(cf_dict_table *t) {
  for (int64_t i = 0; i < t->n; i++)
    cf_shared_array_unref(t->current[i]);
  free(t->current);
  memset(t, 0, sizeof(*t));
}
