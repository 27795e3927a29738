/* Logical equality of arrays: validity and values, whatever the offsets,
 * bitmaps, slicing or padding; dictionary-encoded values compare decoded;
 * floats compare equal when bitwise equal (so NaN == the same NaN) or
 * numerically equal. The first difference is reported with its path, e.g.
 * "column 'b'[3].child 'x': row 17: 5 != 6". */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "ipc/bits.h"
#include "ipc/ipc.h"

#define PATH_SIZE 384

typedef struct cctx {
  cflight_error *err;
} cctx;

static int cfail(cctx *c, const char *path, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
static int cfail(cctx *c, const char *path, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return cflight_error_set(c->err, CFLIGHT_INVALID_DATA, "%s: %s", path, msg);
}

static int cmp(cctx *c, const cf_field *f, const struct ArrowArray *a, int64_t as,
               const struct ArrowArray *b, int64_t bs, int64_t n, const char *path, int depth);

/* Whether absolute slot i has a value (ignoring dictionaries). */
static bool slot_valid(const cf_field *f, const struct ArrowArray *a, int64_t i) {
  if (f->type.id == CF_NA) return false;
  if (!cf_type_has_validity(f->type.id)) return true;
  const uint8_t *bits = a->buffers[0];
  return bits == NULL || a->null_count == 0 || cf_bit_get(bits, i);
}

static bool has_nulls(const cf_field *f, const struct ArrowArray *a) {
  return cf_type_has_validity(f->type.id) && a->buffers[0] != NULL && a->null_count != 0;
}

static int64_t load_int(const void *p, const cf_type *t, int64_t i) {
  switch (t->id) {
    case CF_INT8:
      return ((const int8_t *)p)[i];
    case CF_UINT8:
      return ((const uint8_t *)p)[i];
    case CF_INT16:
      return ((const int16_t *)p)[i];
    case CF_UINT16:
      return ((const uint16_t *)p)[i];
    case CF_INT32:
      return ((const int32_t *)p)[i];
    case CF_UINT32:
      return ((const uint32_t *)p)[i];
    default:
      return ((const int64_t *)p)[i];
  }
}

/* A binary-like value: bytes and length; false when it points out of bounds. */
static bool get_bytes(const cf_field *f, const struct ArrowArray *a, int64_t i, const uint8_t **p,
                      int64_t *len) {
  switch (f->type.id) {
    case CF_BINARY:
    case CF_STRING: {
      const int32_t *o = a->buffers[1];
      *p = (const uint8_t *)a->buffers[2] + o[i];
      *len = (int64_t)o[i + 1] - o[i];
      return *len >= 0 && o[i] >= 0;
    }
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      const int64_t *o = a->buffers[1];
      *p = (const uint8_t *)a->buffers[2] + o[i];
      *len = o[i + 1] - o[i];
      return *len >= 0 && o[i] >= 0;
    }
    default: { /* views */
      const uint8_t *v = (const uint8_t *)a->buffers[1] + i * 16;
      int32_t n, idx, off;
      memcpy(&n, v, 4);
      *len = n;
      if (n < 0) return false;
      if (n <= 12) {
        *p = v + 4;
        return true;
      }
      memcpy(&idx, v + 8, 4);
      memcpy(&off, v + 12, 4);
      int64_t nv = a->n_buffers - 3;
      const int64_t *sizes = a->buffers[a->n_buffers - 1];
      if (idx < 0 || idx >= nv || off < 0 || (int64_t)off + n > sizes[idx]) return false;
      *p = (const uint8_t *)a->buffers[2 + idx] + off;
      return true;
    }
  }
}

static void show_bytes(char *out, size_t size, const cf_field *f, const uint8_t *p, int64_t len) {
  bool text =
      f->type.id == CF_STRING || f->type.id == CF_LARGE_STRING || f->type.id == CF_STRING_VIEW;
  if (text) {
    snprintf(out, size, "'%.*s'%s", (int)(len > 40 ? 40 : len), (const char *)p,
             len > 40 ? "..." : "");
    return;
  }
  size_t pos = (size_t)snprintf(out, size, "0x");
  for (int64_t i = 0; i < len && i < 20 && pos + 3 < size; i++)
    pos += (size_t)snprintf(out + pos, size - pos, "%02x", p[i]);
  if (len > 20 && pos + 4 < size) snprintf(out + pos, size - pos, "...");
}

/* Shows the fixed-width value at absolute slot i. */
static void show_fixed(char *out, size_t size, const cf_field *f, const struct ArrowArray *a,
                       int64_t i) {
  const cf_type *t = &f->type;
  const void *p = a->buffers[1];
  switch (t->id) {
    case CF_BOOL:
      snprintf(out, size, "%s", cf_bit_get(p, i) ? "true" : "false");
      return;
    case CF_UINT64:
      snprintf(out, size, "%" PRIu64, ((const uint64_t *)p)[i]);
      return;
    case CF_FLOAT:
      snprintf(out, size, "%.9g", (double)((const float *)p)[i]);
      return;
    case CF_DOUBLE:
      snprintf(out, size, "%.17g", ((const double *)p)[i]);
      return;
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_DATE32:
    case CF_DATE64:
    case CF_TIME32:
    case CF_TIME64:
    case CF_TIMESTAMP:
    case CF_DURATION:
    case CF_INTERVAL_MONTHS: {
      cf_type it = *t;
      if (t->bit_width == 32) it.id = CF_INT32;
      if (t->bit_width == 64) it.id = CF_INT64;
      snprintf(out, size, "%lld", (long long)load_int(p, &it, i));
      return;
    }
    default: {
      int64_t w = t->bit_width / 8;
      show_bytes(out, size, f, (const uint8_t *)p + i * w, w);
      return;
    }
  }
}

static bool fixed_equal(const cf_type *t, const struct ArrowArray *a, int64_t i,
                        const struct ArrowArray *b, int64_t j) {
  const void *pa = a->buffers[1], *pb = b->buffers[1];
  if (t->id == CF_BOOL) return cf_bit_get(pa, i) == cf_bit_get(pb, j);
  int64_t w = t->bit_width / 8;
  if (w == 0) return true;
  if (memcmp((const uint8_t *)pa + i * w, (const uint8_t *)pb + j * w, (size_t)w) == 0) return true;
  if (t->id == CF_DOUBLE) return ((const double *)pa)[i] == ((const double *)pb)[j];
  if (t->id == CF_FLOAT) return ((const float *)pa)[i] == ((const float *)pb)[j];
  return false;
}

static void sub_child(char *out, const char *path, const cf_field *child, int depth) {
  const char *name = child->schema->name ? child->schema->name : "";
  if (depth == 0)
    snprintf(out, PATH_SIZE, "column '%s'", name);
  else
    snprintf(out, PATH_SIZE, "%s.child '%s'", path, name);
}

/* Whether the dictionary value that valid index slot i points to is valid
 * (an index out of range counts as valid and fails the comparison later). */
static bool dict_value_valid(const cf_field *f, const struct ArrowArray *a, int64_t i) {
  int64_t x = load_int(a->buffers[1], &f->type, i);
  const struct ArrowArray *d = a->dictionary;
  if (x < 0 || x >= d->length) return true;
  return slot_valid(f->dict, d, d->offset + x);
}

static int64_t load_off(const void *p, int w, int64_t i) {
  return w == 4 ? (int64_t)((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

/* The child range of list-like slot i: [*start, *start + *len). */
static bool list_range(const cf_field *f, const struct ArrowArray *a, int64_t i, int64_t *start,
                       int64_t *len) {
  switch (f->type.id) {
    case CF_LIST:
    case CF_MAP:
    case CF_LARGE_LIST: {
      int w = f->type.id == CF_LARGE_LIST ? 8 : 4;
      *start = load_off(a->buffers[1], w, i);
      *len = load_off(a->buffers[1], w, i + 1) - *start;
      break;
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int w = f->type.id == CF_LARGE_LIST_VIEW ? 8 : 4;
      *start = load_off(a->buffers[1], w, i);
      *len = load_off(a->buffers[2], w, i);
      break;
    }
    default: /* fixed-size list */
      *start = i * f->type.fixed_size;
      *len = f->type.fixed_size;
      break;
  }
  return *start >= 0 && *len >= 0 && *start <= a->children[0]->length &&
         *len <= a->children[0]->length - *start;
}

static int cmp_ree(cctx *c, const cf_field *f, const struct ArrowArray *a, int64_t as,
                   const struct ArrowArray *b, int64_t bs, int64_t n, const char *path, int depth) {
  const struct ArrowArray *ra = a->children[0], *rb = b->children[0];
  const struct ArrowArray *va = a->children[1], *vb = b->children[1];
  int w = f->children[0].type.bit_width / 8;
  int64_t la = a->offset + as, lb = b->offset + bs; /* logical positions */
  int64_t pa = cf_ree_find_run(ra, w, ra->length, la), pb = cf_ree_find_run(rb, w, rb->length, lb);
  int64_t done = 0;
  char sub[PATH_SIZE];
  snprintf(sub, sizeof(sub), "%s (run-end encoded values)", path);
  while (done < n) {
    if (pa >= ra->length || pb >= rb->length || pa >= va->length || pb >= vb->length) {
      return cfail(c, path, "row %lld: runs end before the array does", (long long)(as + done));
    }
    int64_t ea = cf_ree_run_end(ra, w, pa) - (la + done),
            eb = cf_ree_run_end(rb, w, pb) - (lb + done);
    int64_t step = ea < eb ? ea : eb;
    if (step <= 0) return cfail(c, path, "run ends are not increasing");
    if (step > n - done) step = n - done;
    int rc = cmp(c, &f->children[1], va, pa, vb, pb, 1, sub, depth + 1);
    if (rc != CFLIGHT_OK) {
      char inner[CFLIGHT_ERROR_MESSAGE_SIZE];
      snprintf(inner, sizeof(inner), "%s", c->err ? c->err->message : "");
      return cfail(c, path, "rows %lld..%lld: %s", (long long)(as + done),
                   (long long)(as + done + step - 1), inner);
    }
    done += step;
    if (step == ea) pa++;
    if (step == eb) pb++;
  }
  return CFLIGHT_OK;
}

static int cmp(cctx *c, const cf_field *f, const struct ArrowArray *a, int64_t as,
               const struct ArrowArray *b, int64_t bs, int64_t n, const char *path, int depth) {
  const cf_type *t = &f->type;
  char sub[PATH_SIZE], va_s[128], vb_s[128];
  if (depth > 2 * CF_IPC_MAX_DEPTH + 2) return cfail(c, path, "nested too deeply");
  if (n == 0 || t->id == CF_NA) return CFLIGHT_OK;
  if (t->id == CF_RUN_END_ENCODED) return cmp_ree(c, f, a, as, b, bs, n, path, depth);
  int64_t oa = a->offset + as, ob = b->offset + bs; /* absolute slots */

  if (t->id == CF_STRUCT || (t->id == CF_FIXED_SIZE_LIST && t->fixed_size == 0)) {
    if (!has_nulls(f, a) && !has_nulls(f, b)) {
      /* No validity to scan: no per-row work (the length may be anything). */
      for (int64_t k = 0; k < f->n_children && t->id == CF_STRUCT; k++) {
        sub_child(sub, path, &f->children[k], depth);
        CF_RETURN_NOT_OK(
            cmp(c, &f->children[k], a->children[k], oa, b->children[k], ob, n, sub, depth + 1));
      }
      return CFLIGHT_OK;
    }
  }
  if (t->id == CF_STRUCT) {
    /* Children are compared over runs of rows where both sides are valid. */
    int64_t i = 0;
    while (i < n) {
      bool va = slot_valid(f, a, oa + i), vb = slot_valid(f, b, ob + i);
      if (va != vb) {
        return cfail(c, path, "row %lld: %s != %s", (long long)(as + i), va ? "value" : "null",
                     vb ? "value" : "null");
      }
      int64_t j = i + 1;
      while (j < n && slot_valid(f, a, oa + j) == va && slot_valid(f, b, ob + j) == vb)
        j++;
      if (va) {
        for (int64_t k = 0; k < f->n_children; k++) {
          sub_child(sub, path, &f->children[k], depth);
          CF_RETURN_NOT_OK(cmp(c, &f->children[k], a->children[k], oa + i, b->children[k], ob + i,
                               j - i, sub, depth + 1));
        }
      }
      i = j;
    }
    return CFLIGHT_OK;
  }

  for (int64_t i = 0; i < n; i++) {
    int64_t ia = oa + i, ib = ob + i, row = as + i;
    bool va = slot_valid(f, a, ia), vb = slot_valid(f, b, ib);
    if (f->dict != NULL) {
      /* A valid index to a null dictionary value is a null too. */
      va = va && dict_value_valid(f, a, ia);
      vb = vb && dict_value_valid(f, b, ib);
    }
    if (va != vb) {
      return cfail(c, path, "row %lld: %s != %s", (long long)row, va ? "value" : "null",
                   vb ? "value" : "null");
    }
    if (!va) continue;
    switch (t->id) {
      case CF_BINARY:
      case CF_STRING:
      case CF_LARGE_BINARY:
      case CF_LARGE_STRING:
      case CF_BINARY_VIEW:
      case CF_STRING_VIEW: {
        const uint8_t *pa, *pb;
        int64_t la, lb;
        if (!get_bytes(f, a, ia, &pa, &la) || !get_bytes(f, b, ib, &pb, &lb))
          return cfail(c, path, "row %lld: value out of bounds", (long long)row);
        if (la != lb || (la > 0 && memcmp(pa, pb, (size_t)la) != 0)) {
          show_bytes(va_s, sizeof(va_s), f, pa, la);
          show_bytes(vb_s, sizeof(vb_s), f, pb, lb);
          return cfail(c, path, "row %lld: %s != %s", (long long)row, va_s, vb_s);
        }
        break;
      }
      case CF_LIST:
      case CF_LARGE_LIST:
      case CF_MAP:
      case CF_LIST_VIEW:
      case CF_LARGE_LIST_VIEW:
      case CF_FIXED_SIZE_LIST: {
        int64_t sa, la, sb, lb;
        if (!list_range(f, a, ia, &sa, &la) || !list_range(f, b, ib, &sb, &lb))
          return cfail(c, path, "row %lld: list out of bounds", (long long)row);
        if (la != lb) {
          return cfail(c, path, "row %lld: list of %lld values != list of %lld", (long long)row,
                       (long long)la, (long long)lb);
        }
        snprintf(sub, sizeof(sub), "%s[%lld].child '%s'", path, (long long)row,
                 f->children[0].schema->name ? f->children[0].schema->name : "");
        CF_RETURN_NOT_OK(
            cmp(c, &f->children[0], a->children[0], sa, b->children[0], sb, la, sub, depth + 1));
        break;
      }
      case CF_SPARSE_UNION:
      case CF_DENSE_UNION: {
        int8_t ca = ((const int8_t *)a->buffers[0])[ia], cb = ((const int8_t *)b->buffers[0])[ib];
        if (ca != cb) {
          return cfail(c, path, "row %lld: union type id %d != %d", (long long)row, ca, cb);
        }
        int k = -1;
        for (int32_t q = 0; q < t->n_type_codes; q++)
          if (t->type_codes[q] == ca) k = q;
        if (k < 0) return cfail(c, path, "row %lld: unknown union type id %d", (long long)row, ca);
        int64_t xa = ia, xb = ib;
        if (t->id == CF_DENSE_UNION) {
          xa = ((const int32_t *)a->buffers[1])[ia];
          xb = ((const int32_t *)b->buffers[1])[ib];
        }
        if (xa < 0 || xb < 0 || xa >= a->children[k]->length || xb >= b->children[k]->length)
          return cfail(c, path, "row %lld: union offset out of bounds", (long long)row);
        snprintf(sub, sizeof(sub), "%s[%lld].child '%s'", path, (long long)row,
                 f->children[k].schema->name ? f->children[k].schema->name : "");
        CF_RETURN_NOT_OK(
            cmp(c, &f->children[k], a->children[k], xa, b->children[k], xb, 1, sub, depth + 1));
        break;
      }
      default:
        if (f->dict != NULL) {
          int64_t xa = load_int(a->buffers[1], t, ia), xb = load_int(b->buffers[1], t, ib);
          const struct ArrowArray *da = a->dictionary, *db = b->dictionary;
          if (xa < 0 || xb < 0 || xa >= da->length || xb >= db->length)
            return cfail(c, path, "row %lld: dictionary index out of range", (long long)row);
          snprintf(sub, sizeof(sub), "%s: row %lld (dictionary indices %lld and %lld)", path,
                   (long long)row, (long long)xa, (long long)xb);
          CF_RETURN_NOT_OK(cmp(c, f->dict, da, xa, db, xb, 1, sub, depth + 1));
          break;
        }
        if (!fixed_equal(t, a, ia, b, ib)) {
          show_fixed(va_s, sizeof(va_s), f, a, ia);
          show_fixed(vb_s, sizeof(vb_s), f, b, ib);
          return cfail(c, path, "row %lld: %s != %s", (long long)row, va_s, vb_s);
        }
        break;
    }
  }
  return CFLIGHT_OK;
}

int cf_compare_range(const cf_field *f, const struct ArrowArray *a, int64_t as,
                     const struct ArrowArray *b, int64_t bs, int64_t n, const char *path,
                     cflight_error *err) {
  cctx c = {.err = err};
  return cmp(&c, f, a, as, b, bs, n, path, 1);
}

int cflight_array_equal(const struct ArrowSchema *schema, const struct ArrowArray *a,
                        const struct ArrowArray *b, cflight_error *err) {
  cf_plan plan;
  if (schema == NULL || a == NULL || b == NULL || a->release == NULL || b->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "equal: NULL or released argument");
  }
  CF_RETURN_NOT_OK(cf_plan_init_field(&plan, schema, err));
  int rc = cf_validate(&plan.root, a, false, "left array", err);
  if (rc == CFLIGHT_OK) rc = cf_validate(&plan.root, b, false, "right array", err);
  if (rc == CFLIGHT_OK && a->length != b->length) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "length %lld != %lld", (long long)a->length,
                           (long long)b->length);
  }
  if (rc == CFLIGHT_OK) {
    cctx c = {.err = err};
    rc = cmp(&c, &plan.root, a, 0, b, 0, a->length, "array", 0);
  }
  cf_plan_free(&plan);
  return rc;
}
