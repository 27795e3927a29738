/* Concatenating and copying arrays into new, compact allocations. Used off
 * the hot path only: a delta dictionary joins the dictionary it extends,
 * and the encoder keeps a copy of each dictionary it sent.
 *
 * Inputs have passed the O(buffers) checks (ends of offsets within the data,
 * children long enough), which is what keeps the copies in bounds; values
 * between the ends are only rewritten, never used to address memory. */
#include "ipc/bits.h"
#include "ipc/ipc.h"

typedef struct range {
  const struct ArrowArray *a;
  int64_t start; /* absolute: the array's offset included */
  int64_t len;
} range;

typedef struct cctx {
  cf_dict_source dict_source;
  void *ctx;
  cflight_error *err;
} cctx;

static int concat(cctx *c, const cf_field *f, const range *r, int64_t n, struct ArrowArray *out,
                  int depth);

static int too_big(cctx *c, const cf_field *f) {
  return cflight_error_set(c->err, CFLIGHT_INVALID_DATA,
                           "concatenate: field '%s' (%s) grows beyond what its offsets can hold",
                           f->schema->name ? f->schema->name : "", cf_type_name(f->type.id));
}

static int64_t range_nulls(const range *r) {
  const struct ArrowArray *a = r->a;
  const uint8_t *bits = a->n_buffers > 0 ? a->buffers[0] : NULL;
  if (a->null_count == 0 || bits == NULL || r->len == 0) return 0;
  return r->len - cf_bits_count(bits, r->start, r->len);
}

static int concat_validity(cctx *c, const range *r, int64_t n, int64_t total,
                           struct ArrowArray *out) {
  int64_t nulls = 0;
  for (int64_t i = 0; i < n; i++)
    nulls += range_nulls(&r[i]);
  out->null_count = nulls;
  if (nulls == 0) return CFLIGHT_OK;
  uint8_t *bits = cf_array_alloc_buffer(out, 0, (size_t)cf_bytes_for_bits(total), c->err);
  if (bits == NULL) return CFLIGHT_NO_MEMORY;
  int64_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *src = r[i].a->buffers[0];
    if (src != NULL && r[i].a->null_count != 0) {
      cf_bits_copy(bits, pos, src, r[i].start, r[i].len);
    } else {
      for (int64_t j = 0; j < r[i].len; j++)
        cf_bit_set_to(bits, pos + j, true);
    }
    pos += r[i].len;
  }
  return CFLIGHT_OK;
}

static int64_t load_off(const void *p, int w, int64_t i) {
  return w == 4 ? (int64_t)((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

static void store_off(void *p, int w, int64_t i, int64_t v) {
  if (w == 4)
    ((int32_t *)p)[i] = (int32_t)v;
  else
    ((int64_t *)p)[i] = v;
}

/* Offsets of ranges r joined, rebased; fills first[i]/last[i] per range. */
static int concat_offsets(cctx *c, const cf_field *f, const range *r, int64_t n, int64_t total,
                          int w, struct ArrowArray *out, int64_t *first, int64_t *last) {
  void *dst = cf_array_alloc_buffer(out, 1, (size_t)(total + 1) * (size_t)w, c->err);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  int64_t pos = 0, base = 0;
  for (int64_t i = 0; i < n; i++) {
    first[i] = last[i] = 0;
    if (r[i].len == 0) continue;
    const void *src = r[i].a->buffers[1];
    first[i] = load_off(src, w, r[i].start);
    last[i] = load_off(src, w, r[i].start + r[i].len);
    for (int64_t j = 0; j < r[i].len; j++)
      store_off(dst, w, pos + j, load_off(src, w, r[i].start + j) - first[i] + base);
    pos += r[i].len;
    base += last[i] - first[i];
    if (w == 4 && base > INT32_MAX) return too_big(c, f);
  }
  store_off(dst, w, total, base);
  return CFLIGHT_OK;
}

static int concat_ree(cctx *c, const cf_field *f, const range *r, int64_t n, int64_t total,
                      struct ArrowArray *out, int depth) {
  int w = f->children[0].type.bit_width / 8;
  int64_t max = w == 2 ? INT16_MAX : w == 4 ? INT32_MAX : INT64_MAX;
  range *vr = calloc((size_t)n, sizeof(range));
  int64_t *p0 = calloc((size_t)n, sizeof(int64_t));
  int64_t *np = calloc((size_t)n, sizeof(int64_t));
  int rc = (vr == NULL || p0 == NULL || np == NULL) ? CF_NOMEM(c->err, "concatenate") : CFLIGHT_OK;
  int64_t runs = 0;
  for (int64_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
    const struct ArrowArray *re = r[i].a->children[0], *values = r[i].a->children[1];
    vr[i].a = values;
    if (r[i].len == 0) continue;
    p0[i] = cf_ree_find_run(re, w, re->length, r[i].start);
    int64_t last = cf_ree_find_run(re, w, re->length, r[i].start + r[i].len - 1);
    if (last < p0[i] || last >= re->length || last >= values->length) {
      rc = cflight_error_set(c->err, CFLIGHT_INVALID_DATA,
                             "concatenate: run ends of field '%s' are not increasing",
                             f->schema->name ? f->schema->name : "");
      break;
    }
    np[i] = last - p0[i] + 1;
    vr[i].start = values->offset + p0[i];
    vr[i].len = np[i];
    runs += np[i];
  }
  if (total > max && rc == CFLIGHT_OK) rc = too_big(c, f);
  if (rc == CFLIGHT_OK) rc = cf_array_init(out->children[0], 2, 0, c->err);
  if (rc == CFLIGHT_OK) {
    struct ArrowArray *re_out = out->children[0];
    re_out->length = runs;
    uint8_t *dst = cf_array_alloc_buffer(re_out, 1, (size_t)(runs > 0 ? runs : 1) * w, c->err);
    if (dst == NULL) rc = CFLIGHT_NO_MEMORY;
    int64_t pos = 0, base = 0;
    for (int64_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
      const struct ArrowArray *re = r[i].a->children[0];
      for (int64_t j = 0; j < np[i]; j++) {
        int64_t v = cf_ree_run_end(re, w, p0[i] + j) - r[i].start;
        if (v > r[i].len) v = r[i].len;
        v += base;
        if (w == 2)
          ((int16_t *)dst)[pos] = (int16_t)v;
        else if (w == 4)
          ((int32_t *)dst)[pos] = (int32_t)v;
        else
          ((int64_t *)dst)[pos] = v;
        pos++;
      }
      base += r[i].len;
    }
  }
  if (rc == CFLIGHT_OK) rc = concat(c, &f->children[1], vr, n, out->children[1], depth + 1);
  free(vr);
  free(p0);
  free(np);
  return rc;
}

static int concat_views(cctx *c, const cf_field *f, const range *r, int64_t n, int64_t total,
                        struct ArrowArray *out) {
  int64_t nv = 0;
  for (int64_t i = 0; i < n; i++)
    nv += r[i].a->n_buffers - 3;
  CF_RETURN_NOT_OK(cf_array_init(out, 3 + nv, 0, c->err));
  out->length = total;
  CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
  uint8_t *views = cf_array_alloc_buffer(out, 1, (size_t)(total > 0 ? total : 1) * 16, c->err);
  int64_t *sizes = cf_array_alloc_buffer(out, 2 + nv, (size_t)(nv > 0 ? nv : 1) * 8, c->err);
  if (views == NULL || sizes == NULL) return CFLIGHT_NO_MEMORY;
  int64_t pos = 0, vbase = 0;
  for (int64_t i = 0; i < n; i++) {
    const struct ArrowArray *a = r[i].a;
    int64_t k_n = a->n_buffers - 3;
    const int64_t *src_sizes = a->buffers[a->n_buffers - 1];
    if (r[i].len > 0) {
      memcpy(views + pos * 16, (const uint8_t *)a->buffers[1] + r[i].start * 16,
             (size_t)r[i].len * 16);
    }
    if (vbase > 0) {
      /* Long views name a data buffer by index: shift past earlier ranges'. */
      for (int64_t j = 0; j < r[i].len; j++) {
        uint8_t *v = views + (pos + j) * 16;
        int32_t len, idx;
        memcpy(&len, v, 4);
        if (len <= 12) continue;
        memcpy(&idx, v + 8, 4);
        idx = (int32_t)((uint32_t)idx + (uint32_t)vbase);
        memcpy(v + 8, &idx, 4);
      }
    }
    for (int64_t k = 0; k < k_n; k++) {
      int64_t size = src_sizes[k];
      uint8_t *dst =
          cf_array_alloc_buffer(out, 2 + vbase + k, (size_t)(size > 0 ? size : 1), c->err);
      if (dst == NULL) return CFLIGHT_NO_MEMORY;
      if (size > 0) memcpy(dst, a->buffers[2 + k], (size_t)size);
      sizes[vbase + k] = size;
    }
    if (vbase + k_n > INT32_MAX) return too_big(c, f);
    vbase += k_n;
    pos += r[i].len;
  }
  return CFLIGHT_OK;
}

static int concat_children(cctx *c, const cf_field *f, const range *r, int64_t n,
                           struct ArrowArray *out, int depth, int mode) {
  /* mode 0: the children's rows of each range; 1: each child whole. */
  range *cr = calloc((size_t)n, sizeof(range));
  if (cr == NULL) return CF_NOMEM(c->err, "concatenate");
  int rc = CFLIGHT_OK;
  for (int64_t k = 0; k < f->n_children && rc == CFLIGHT_OK; k++) {
    for (int64_t i = 0; i < n; i++) {
      const struct ArrowArray *child = r[i].a->children[k];
      cr[i].a = child;
      cr[i].start = mode == 0 ? child->offset + r[i].start : child->offset;
      cr[i].len = mode == 0 ? r[i].len : child->length;
    }
    rc = concat(c, &f->children[k], cr, n, out->children[k], depth + 1);
  }
  free(cr);
  return rc;
}

static int concat(cctx *c, const cf_field *f, const range *r, int64_t n, struct ArrowArray *out,
                  int depth) {
  const cf_type *t = &f->type;
  int64_t total = 0;
  memset(out, 0, sizeof(*out));
  if (depth > 2 * CF_IPC_MAX_DEPTH) {
    return cflight_error_set(c->err, CFLIGHT_INVALID_DATA, "concatenate: nested too deeply");
  }
  for (int64_t i = 0; i < n; i++) {
    if (cf_add_overflow_i64(total, r[i].len, &total)) return too_big(c, f);
  }
  switch (t->id) {
    case CF_NA:
      CF_RETURN_NOT_OK(cf_array_init(out, 0, 0, c->err));
      out->length = out->null_count = total;
      return CFLIGHT_OK;
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW:
      return concat_views(c, f, r, n, total, out);
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      int w = (t->id == CF_BINARY || t->id == CF_STRING) ? 4 : 8;
      CF_RETURN_NOT_OK(cf_array_init(out, 3, 0, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      int64_t *first = calloc((size_t)n, sizeof(int64_t)), *last = calloc((size_t)n, 8);
      int rc = (first && last) ? concat_offsets(c, f, r, n, total, w, out, first, last)
                               : CF_NOMEM(c->err, "concatenate");
      if (rc == CFLIGHT_OK) {
        int64_t bytes = 0;
        for (int64_t i = 0; i < n; i++)
          bytes += last[i] - first[i];
        uint8_t *dst = cf_array_alloc_buffer(out, 2, (size_t)(bytes > 0 ? bytes : 1), c->err);
        if (dst == NULL) rc = CFLIGHT_NO_MEMORY;
        for (int64_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
          if (last[i] > first[i]) {
            memcpy(dst, (const uint8_t *)r[i].a->buffers[2] + first[i],
                   (size_t)(last[i] - first[i]));
            dst += last[i] - first[i];
          }
        }
      }
      free(first);
      free(last);
      return rc;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int w = t->id == CF_LARGE_LIST ? 8 : 4;
      CF_RETURN_NOT_OK(cf_array_init(out, 2, 1, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      int64_t *first = calloc((size_t)n, sizeof(int64_t)), *last = calloc((size_t)n, 8);
      range *cr = calloc((size_t)n, sizeof(range));
      int rc = (first && last && cr) ? concat_offsets(c, f, r, n, total, w, out, first, last)
                                     : CF_NOMEM(c->err, "concatenate");
      for (int64_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
        const struct ArrowArray *child = r[i].a->children[0];
        cr[i].a = child;
        cr[i].start = child->offset + first[i];
        cr[i].len = last[i] - first[i];
      }
      if (rc == CFLIGHT_OK) rc = concat(c, &f->children[0], cr, n, out->children[0], depth + 1);
      free(first);
      free(last);
      free(cr);
      return rc;
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int w = t->id == CF_LIST_VIEW ? 4 : 8;
      CF_RETURN_NOT_OK(cf_array_init(out, 3, 1, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      size_t bytes = (size_t)(total > 0 ? total : 1) * (size_t)w;
      uint8_t *offs = cf_array_alloc_buffer(out, 1, bytes, c->err);
      uint8_t *sizes = cf_array_alloc_buffer(out, 2, bytes, c->err);
      if (offs == NULL || sizes == NULL) return CFLIGHT_NO_MEMORY;
      int64_t pos = 0, base = 0;
      for (int64_t i = 0; i < n; i++) {
        const struct ArrowArray *a = r[i].a;
        for (int64_t j = 0; j < r[i].len; j++)
          store_off(offs, w, pos + j, load_off(a->buffers[1], w, r[i].start + j) + base);
        if (r[i].len > 0)
          memcpy(sizes + pos * w, (const uint8_t *)a->buffers[2] + r[i].start * w,
                 (size_t)(r[i].len * w));
        pos += r[i].len;
        base += a->children[0]->length;
        if (w == 4 && base > INT32_MAX) return too_big(c, f);
      }
      return concat_children(c, f, r, n, out, depth, 1);
    }
    case CF_FIXED_SIZE_LIST: {
      CF_RETURN_NOT_OK(cf_array_init(out, 1, 1, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      range *cr = calloc((size_t)n, sizeof(range));
      if (cr == NULL) return CF_NOMEM(c->err, "concatenate");
      for (int64_t i = 0; i < n; i++) {
        const struct ArrowArray *child = r[i].a->children[0];
        cr[i].a = child;
        cr[i].start = child->offset + r[i].start * t->fixed_size;
        cr[i].len = r[i].len * t->fixed_size;
      }
      int rc = concat(c, &f->children[0], cr, n, out->children[0], depth + 1);
      free(cr);
      return rc;
    }
    case CF_STRUCT:
      CF_RETURN_NOT_OK(cf_array_init(out, 1, f->n_children, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      return concat_children(c, f, r, n, out, depth, 0);
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      bool dense = t->id == CF_DENSE_UNION;
      CF_RETURN_NOT_OK(cf_array_init(out, dense ? 2 : 1, f->n_children, c->err));
      out->length = total;
      uint8_t *types = cf_array_alloc_buffer(out, 0, (size_t)(total > 0 ? total : 1), c->err);
      int32_t *offs = NULL;
      if (dense) offs = cf_array_alloc_buffer(out, 1, (size_t)(total > 0 ? total : 1) * 4, c->err);
      if (types == NULL || (dense && offs == NULL)) return CFLIGHT_NO_MEMORY;
      int8_t child_of[128];
      memset(child_of, -1, sizeof(child_of));
      for (int32_t k = 0; k < t->n_type_codes; k++)
        child_of[t->type_codes[k] & 127] = (int8_t)k;
      int64_t pos = 0;
      int64_t base[128] = {0};
      for (int64_t i = 0; i < n; i++) {
        const struct ArrowArray *a = r[i].a;
        if (r[i].len > 0)
          memcpy(types + pos, (const uint8_t *)a->buffers[0] + r[i].start, (size_t)r[i].len);
        if (dense) {
          const int32_t *src = (const int32_t *)a->buffers[1] + r[i].start;
          for (int64_t j = 0; j < r[i].len; j++) {
            int8_t code = (int8_t)types[pos + j];
            int k = code >= 0 ? child_of[code] : -1;
            offs[pos + j] = (int32_t)((uint32_t)src[j] + (uint32_t)(k >= 0 ? base[k] : 0));
          }
          for (int64_t k = 0; k < f->n_children; k++) {
            base[k] += a->children[k]->length;
            if (base[k] > INT32_MAX) return too_big(c, f);
          }
        }
        pos += r[i].len;
      }
      return concat_children(c, f, r, n, out, depth, dense ? 1 : 0);
    }
    case CF_RUN_END_ENCODED:
      CF_RETURN_NOT_OK(cf_array_init(out, 0, 2, c->err));
      out->length = total;
      return concat_ree(c, f, r, n, total, out, depth);
    default: {
      CF_RETURN_NOT_OK(cf_array_init(out, 2, 0, c->err));
      out->length = total;
      CF_RETURN_NOT_OK(concat_validity(c, r, n, total, out));
      if (t->id == CF_BOOL) {
        uint8_t *dst = cf_array_alloc_buffer(out, 1, (size_t)cf_bytes_for_bits(total) + 1, c->err);
        if (dst == NULL) return CFLIGHT_NO_MEMORY;
        int64_t pos = 0;
        for (int64_t i = 0; i < n; i++) {
          cf_bits_copy(dst, pos, r[i].a->buffers[1], r[i].start, r[i].len);
          pos += r[i].len;
        }
      } else {
        int64_t width = t->bit_width / 8;
        uint8_t *dst = cf_array_alloc_buffer(out, 1, (size_t)(total * width + 1), c->err);
        if (dst == NULL) return CFLIGHT_NO_MEMORY;
        for (int64_t i = 0; i < n; i++) {
          if (r[i].len * width > 0)
            memcpy(dst, (const uint8_t *)r[i].a->buffers[1] + r[i].start * width,
                   (size_t)(r[i].len * width));
          dst += r[i].len * width;
        }
      }
      if (f->dict == NULL) return CFLIGHT_OK;
      struct ArrowArray *d = cf_array_alloc_dictionary(out, c->err);
      if (d == NULL) return CFLIGHT_NO_MEMORY;
      if (c->dict_source != NULL) return c->dict_source(c->ctx, f->dict_slot, d, c->err);
      /* A copy of the last range's dictionary, which (for the dictionaries
       * this is used on) extends all earlier ones. */
      const struct ArrowArray *src = r[n - 1].a->dictionary;
      if (src == NULL || src->release == NULL) {
        return cflight_error_set(c->err, CFLIGHT_INVALID_ARGUMENT,
                                 "concatenate: field '%s' has no dictionary",
                                 f->schema->name ? f->schema->name : "");
      }
      range dr = {src, src->offset, src->length};
      return concat(c, f->dict, &dr, 1, d, depth + 1);
    }
  }
}

int cf_array_concat(const cf_field *f, const struct ArrowArray *const *arrays, int64_t n,
                    cf_dict_source dict_source, void *ctx, struct ArrowArray *out,
                    cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (n <= 0) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "concatenate: no arrays");
  range *r = calloc((size_t)n, sizeof(range));
  if (r == NULL) return CF_NOMEM(err, "concatenate");
  for (int64_t i = 0; i < n; i++) {
    r[i].a = arrays[i];
    r[i].start = arrays[i]->offset;
    r[i].len = arrays[i]->length;
  }
  cctx c = {.dict_source = dict_source, .ctx = ctx, .err = err};
  int rc = concat(&c, f, r, n, out, 0);
  free(r);
  if (rc != CFLIGHT_OK) cf_array_release(out);
  return rc;
}

int cf_array_copy_range(const cf_field *f, const struct ArrowArray *a, int64_t start, int64_t len,
                        struct ArrowArray *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  range r = {a, a->offset + start, len};
  cctx c = {.err = err};
  int rc = concat(&c, f, &r, 1, out, 0);
  if (rc != CFLIGHT_OK) cf_array_release(out);
  return rc;
}
