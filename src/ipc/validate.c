/* Array validation: structure always (buffer and child counts, lengths,
 * the ends of offsets buffers: O(buffers)), and with `full` every value
 * that addresses memory or another array: offsets, views, list views,
 * union type ids and offsets, dictionary indices, run ends (O(values)).
 * UTF-8 validity of strings is not checked. */
#include <stdarg.h>
#include <stdio.h>

#include "ipc/bits.h"
#include "ipc/ipc.h"

#define PATH_SIZE 256

typedef struct vctx {
  bool full;
  cflight_error *err;
} vctx;

static int vfail(vctx *v, const char *path, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
static int vfail(vctx *v, const char *path, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return cflight_error_set(v->err, CFLIGHT_INVALID_DATA, "validate: %s: %s", path, msg);
}

static int64_t load_int(const void *p, int bytes, bool is_signed, int64_t i) {
  switch (bytes) {
    case 1:
      return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
    case 2:
      return is_signed ? ((const int16_t *)p)[i] : ((const uint16_t *)p)[i];
    case 4:
      return is_signed ? ((const int32_t *)p)[i] : (int64_t)((const uint32_t *)p)[i];
    default: {
      int64_t v = ((const int64_t *)p)[i];
      return (!is_signed && v < 0) ? -1 : v; /* uint64 beyond int64: treated as invalid */
    }
  }
}

static bool is_signed_int(cf_type_id id) {
  return id == CF_INT8 || id == CF_INT16 || id == CF_INT32 || id == CF_INT64;
}

static int validate(vctx *v, const cf_field *f, const struct ArrowArray *a, const char *path,
                    int depth);

static void child_path(char *out, const char *path, const cf_field *child, int depth) {
  const char *name = child->schema->name ? child->schema->name : "";
  if (depth == 0)
    snprintf(out, PATH_SIZE, "column '%s'", name);
  else
    snprintf(out, PATH_SIZE, "%s.child '%s'", path, name);
}

static int check_offsets(vctx *v, const char *path, const void *offs, int w, int64_t start,
                         int64_t len, int64_t limit, const char *limit_what) {
  if (len == 0) return CFLIGHT_OK;
  if (offs == NULL) return vfail(v, path, "offsets buffer is NULL");
  int64_t first = w == 4 ? ((const int32_t *)offs)[start] : ((const int64_t *)offs)[start];
  int64_t last =
      w == 4 ? ((const int32_t *)offs)[start + len] : ((const int64_t *)offs)[start + len];
  if (first < 0 || last < first || (limit >= 0 && last > limit)) {
    return vfail(v, path, "offsets run from %lld to %lld (the %s has %lld)", (long long)first,
                 (long long)last, limit_what, (long long)limit);
  }
  if (!v->full) return CFLIGHT_OK;
  int64_t prev = first;
  for (int64_t i = 1; i <= len; i++) {
    int64_t cur = w == 4 ? ((const int32_t *)offs)[start + i] : ((const int64_t *)offs)[start + i];
    if (cur < prev) {
      return vfail(v, path, "row %lld: offset %lld is below the previous %lld", (long long)(i - 1),
                   (long long)cur, (long long)prev);
    }
    prev = cur;
  }
  return CFLIGHT_OK;
}

static int validate_children(vctx *v, const cf_field *f, const struct ArrowArray *a,
                             const char *path, int depth, int64_t min_len) {
  char sub[PATH_SIZE];
  for (int64_t i = 0; i < f->n_children; i++) {
    child_path(sub, path, &f->children[i], depth);
    CF_RETURN_NOT_OK(validate(v, &f->children[i], a->children[i], sub, depth + 1));
    if (a->children[i]->length < min_len) {
      return vfail(v, sub, "%lld values, the parent needs %lld", (long long)a->children[i]->length,
                   (long long)min_len);
    }
  }
  return CFLIGHT_OK;
}

static int validate(vctx *v, const cf_field *f, const struct ArrowArray *a, const char *path,
                    int depth) {
  const cf_type *t = &f->type;
  if (depth > 2 * CF_IPC_MAX_DEPTH + 2) return vfail(v, path, "nested too deeply");
  if (a == NULL || a->release == NULL) return vfail(v, path, "array is NULL or released");
  if (a->length < 0 || a->offset < 0 || a->length > INT64_MAX - a->offset || a->null_count < -1 ||
      a->null_count > a->length) {
    return vfail(v, path, "bad length %lld, offset %lld or null count %lld", (long long)a->length,
                 (long long)a->offset, (long long)a->null_count);
  }
  int64_t off = a->offset, len = a->length, end = off + len;
  bool views = t->id == CF_BINARY_VIEW || t->id == CF_STRING_VIEW;
  int64_t want_buffers = views ? (a->n_buffers >= 3 ? a->n_buffers : 3) : cf_type_n_buffers(t, 0);
  int64_t want_children = f->n_children;
  if (a->n_buffers != want_buffers || a->n_children != want_children ||
      (a->n_buffers > 0 && a->buffers == NULL) || (a->n_children > 0 && a->children == NULL)) {
    return vfail(v, path, "%lld buffers and %lld children, the type %s needs %lld and %lld",
                 (long long)a->n_buffers, (long long)a->n_children, cf_type_name(t->id),
                 (long long)want_buffers, (long long)want_children);
  }
  if ((f->dict != NULL) != (a->dictionary != NULL)) {
    return vfail(v, path,
                 f->dict != NULL ? "dictionary-encoded, but no dictionary"
                                 : "has a dictionary, but the type is not "
                                   "dictionary-encoded");
  }
  const uint8_t *validity = NULL;
  if (cf_type_has_validity(t->id)) {
    validity = a->buffers[0];
    if (validity == NULL && a->null_count > 0) {
      return vfail(v, path, "null count %lld without a validity bitmap", (long long)a->null_count);
    }
    if (a->null_count == 0) validity = NULL;
    if (v->full && validity != NULL && a->null_count >= 0) {
      int64_t nulls = len - cf_bits_count(validity, off, len);
      if (nulls != a->null_count) {
        return vfail(v, path, "null count %lld, the validity bitmap has %lld nulls",
                     (long long)a->null_count, (long long)nulls);
      }
    }
  }
  char sub[PATH_SIZE];
  switch (t->id) {
    case CF_NA:
      return CFLIGHT_OK;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      int w = (t->id == CF_BINARY || t->id == CF_STRING) ? 4 : 8;
      CF_RETURN_NOT_OK(check_offsets(v, path, a->buffers[1], w, off, len, -1, ""));
      if (len > 0 && a->buffers[2] == NULL) {
        int64_t first =
            w == 4 ? ((const int32_t *)a->buffers[1])[off] : ((const int64_t *)a->buffers[1])[off];
        int64_t last =
            w == 4 ? ((const int32_t *)a->buffers[1])[end] : ((const int64_t *)a->buffers[1])[end];
        if (last > first) return vfail(v, path, "data buffer is NULL");
      }
      return CFLIGHT_OK;
    }
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW: {
      int64_t nv = a->n_buffers - 3;
      const int64_t *sizes = a->buffers[a->n_buffers - 1];
      if (len > 0 && a->buffers[1] == NULL) return vfail(v, path, "views buffer is NULL");
      if (nv > 0 && sizes == NULL) return vfail(v, path, "variadic sizes buffer is NULL");
      for (int64_t k = 0; k < nv; k++) {
        if (sizes[k] < 0 || (sizes[k] > 0 && a->buffers[2 + k] == NULL))
          return vfail(v, path, "variadic buffer %lld is NULL or sized %lld", (long long)k,
                       (long long)sizes[k]);
      }
      if (!v->full) return CFLIGHT_OK;
      const uint8_t *vw = a->buffers[1];
      for (int64_t i = 0; i < len; i++) {
        if (!cf_is_valid(validity, off + i)) continue;
        const uint8_t *p = vw + (off + i) * 16;
        int32_t n, idx, o;
        memcpy(&n, p, 4);
        if (n < 0) return vfail(v, path, "row %lld: negative view length %d", (long long)i, n);
        if (n <= 12) continue;
        memcpy(&idx, p + 8, 4);
        memcpy(&o, p + 12, 4);
        if (idx < 0 || idx >= nv || o < 0 || (int64_t)o + n > sizes[idx]) {
          return vfail(v, path,
                       "row %lld: view of %d bytes at buffer %d offset %d is out of bounds",
                       (long long)i, n, idx, o);
        }
      }
      return CFLIGHT_OK;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int w = t->id == CF_LARGE_LIST ? 8 : 4;
      CF_RETURN_NOT_OK(validate_children(v, f, a, path, depth, 0));
      CF_RETURN_NOT_OK(
          check_offsets(v, path, a->buffers[1], w, off, len, a->children[0]->length, "child"));
      if (t->id == CF_MAP && v->full) {
        const struct ArrowArray *entries = a->children[0];
        const struct ArrowArray *keys = entries->n_children > 0 ? entries->children[0] : NULL;
        if (keys != NULL && keys->n_buffers > 0 && keys->buffers[0] != NULL &&
            keys->null_count != 0) {
          int64_t nulls =
              keys->length - cf_bits_count(keys->buffers[0], keys->offset, keys->length);
          if (nulls > 0) return vfail(v, path, "map keys contain %lld nulls", (long long)nulls);
        }
      }
      return CFLIGHT_OK;
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int w = t->id == CF_LIST_VIEW ? 4 : 8;
      CF_RETURN_NOT_OK(validate_children(v, f, a, path, depth, 0));
      if (len > 0 && (a->buffers[1] == NULL || a->buffers[2] == NULL))
        return vfail(v, path, "offsets or sizes buffer is NULL");
      if (!v->full) return CFLIGHT_OK;
      int64_t limit = a->children[0]->length;
      for (int64_t i = 0; i < len; i++) {
        if (!cf_is_valid(validity, off + i)) continue;
        int64_t o = w == 4 ? ((const int32_t *)a->buffers[1])[off + i]
                           : ((const int64_t *)a->buffers[1])[off + i];
        int64_t s = w == 4 ? ((const int32_t *)a->buffers[2])[off + i]
                           : ((const int64_t *)a->buffers[2])[off + i];
        if (o < 0 || s < 0 || o > limit || s > limit - o) {
          return vfail(v, path,
                       "row %lld: list view at %lld of %lld values exceeds the child's %lld",
                       (long long)i, (long long)o, (long long)s, (long long)limit);
        }
      }
      return CFLIGHT_OK;
    }
    case CF_FIXED_SIZE_LIST: {
      int64_t need;
      if (cf_mul_overflow_i64(end, t->fixed_size, &need))
        return vfail(v, path, "length overflows the child");
      return validate_children(v, f, a, path, depth, need);
    }
    case CF_STRUCT:
      return validate_children(v, f, a, path, depth, end);
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      bool dense = t->id == CF_DENSE_UNION;
      if (len > 0 && (a->buffers[0] == NULL || (dense && a->buffers[1] == NULL)))
        return vfail(v, path, "type ids or offsets buffer is NULL");
      CF_RETURN_NOT_OK(validate_children(v, f, a, path, depth, dense ? 0 : end));
      if (!v->full) return CFLIGHT_OK;
      int8_t child_of[128];
      memset(child_of, -1, sizeof(child_of));
      for (int32_t k = 0; k < t->n_type_codes; k++)
        child_of[t->type_codes[k] & 127] = (int8_t)k;
      const int8_t *types = a->buffers[0];
      for (int64_t i = 0; i < len; i++) {
        int8_t code = types[off + i];
        int k = code >= 0 ? child_of[code] : -1;
        if (k < 0) return vfail(v, path, "row %lld: unknown union type id %d", (long long)i, code);
        if (dense) {
          int32_t o = ((const int32_t *)a->buffers[1])[off + i];
          if (o < 0 || o >= a->children[k]->length) {
            return vfail(v, path, "row %lld: offset %d outside child %d's %lld values",
                         (long long)i, o, k, (long long)a->children[k]->length);
          }
        }
      }
      return CFLIGHT_OK;
    }
    case CF_RUN_END_ENCODED: {
      CF_RETURN_NOT_OK(validate_children(v, f, a, path, depth, 0));
      const struct ArrowArray *re = a->children[0], *values = a->children[1];
      int w = f->children[0].type.bit_width / 8;
      child_path(sub, path, &f->children[0], depth);
      if (re->null_count > 0) return vfail(v, sub, "run ends contain nulls");
      if (values->length < re->length) {
        return vfail(v, path, "%lld run ends but only %lld values", (long long)re->length,
                     (long long)values->length);
      }
      if (len > 0 && (re->length == 0 || cf_ree_run_end(re, w, re->length - 1) < end)) {
        return vfail(v, path, "the runs end before the array's end %lld", (long long)end);
      }
      if (!v->full) return CFLIGHT_OK;
      int64_t prev = 0;
      for (int64_t j = 0; j < re->length; j++) {
        int64_t cur = cf_ree_run_end(re, w, j);
        if (cur <= prev) {
          return vfail(v, sub, "run end %lld at %lld does not increase (previous %lld)",
                       (long long)cur, (long long)j, (long long)prev);
        }
        prev = cur;
      }
      return CFLIGHT_OK;
    }
    default: {
      if (len > 0 && a->buffers[1] == NULL) return vfail(v, path, "values buffer is NULL");
      if (f->dict == NULL) return CFLIGHT_OK;
      snprintf(sub, sizeof(sub), "%s.dictionary", path);
      CF_RETURN_NOT_OK(validate(v, f->dict, a->dictionary, sub, depth + 1));
      if (!v->full) return CFLIGHT_OK;
      int64_t dict_len = a->dictionary->length;
      bool sign = is_signed_int(t->id);
      int bytes = t->bit_width / 8;
      for (int64_t i = 0; i < len; i++) {
        if (!cf_is_valid(validity, off + i)) continue;
        int64_t idx = load_int(a->buffers[1], bytes, sign, off + i);
        if (idx < 0 || idx >= dict_len) {
          return vfail(v, path, "row %lld: dictionary index %lld outside the %lld-value dictionary",
                       (long long)i, (long long)idx, (long long)dict_len);
        }
      }
      return CFLIGHT_OK;
    }
  }
}

int cf_validate(const cf_field *f, const struct ArrowArray *a, bool full, const char *name,
                cflight_error *err) {
  vctx v = {.full = full, .err = err};
  return validate(&v, f, a, name, 0);
}

int cflight_array_validate(const struct ArrowSchema *schema, const struct ArrowArray *array,
                           bool full, cflight_error *err) {
  cf_plan plan;
  if (schema == NULL || array == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "validate: NULL schema or array");
  }
  CF_RETURN_NOT_OK(cf_plan_init_field(&plan, schema, err));
  int rc = cf_validate(&plan.root, array, full,
                       strcmp(schema->format, "+s") == 0 ? "batch" : "array", err);
  cf_plan_free(&plan);
  return rc;
}
