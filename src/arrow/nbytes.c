/* The bytes an array's buffers hold: what FlightInfo.total_bytes reports and
 * what progress displays count. */
#include "arrow/arrow.h"

/* ---- Buffer sizes of a batch --------------------------------------------------------------- */

/* Deep enough for any real schema; guards against a cyclic or absurd tree. */
#define MAX_DEPTH 256

static int add_bytes(int64_t *total, int64_t n, cflight_error *err) {
  if (n < 0 || cf_add_overflow_i64(*total, n, total)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "batch byte count overflows");
  }
  return CFLIGHT_OK;
}

/* n elements of `width` bytes, checked. */
static int add_elems(int64_t *total, int64_t n, int64_t width, cflight_error *err) {
  int64_t bytes;
  if (cf_mul_overflow_i64(n, width, &bytes)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "batch byte count overflows");
  }
  return add_bytes(total, bytes, err);
}

/* The last offset of a binary array (where its data ends), or 0. */
static int64_t last_offset(const void *offsets, int64_t n, bool large) {
  if (offsets == NULL) return 0;
  return large ? ((const int64_t *)offsets)[n] : ((const int32_t *)offsets)[n];
}

/* Adds the bytes each buffer of array a (of schema s), its children and its
 * dictionary must hold: for each buffer, what its elements 0 .. offset +
 * length - 1 take. The array is the caller's own (trusted) data; only the
 * shape that this walk relies on is checked. */
static int array_bytes(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t *total,
                       int depth, cflight_error *err) {
  if (depth > MAX_DEPTH) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "batch nested deeper than %d",
                             MAX_DEPTH);
  }
  if (s == NULL || a == NULL || a->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL or released array or schema");
  }
  cf_type t;
  CF_RETURN_NOT_OK(cf_type_parse(s->format, &t, err));
  int64_t n;
  if (a->length < 0 || a->offset < 0 || cf_add_overflow_i64(a->offset, a->length, &n)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "array with a negative length");
  }
  int64_t n_variadic = 0;
  if (t.id == CF_BINARY_VIEW || t.id == CF_STRING_VIEW) n_variadic = a->n_buffers - 3;
  if (n_variadic < 0 || a->n_buffers != cf_type_n_buffers(&t, n_variadic) ||
      a->n_children != s->n_children || (a->n_buffers > 0 && a->buffers == NULL)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "array of format '%s' has %lld buffers and %lld children, which "
                             "does not fit its type",
                             s->format, (long long)a->n_buffers, (long long)a->n_children);
  }
  const void *const *b = a->buffers;
  if (cf_type_has_validity(t.id) && b[0] != NULL) {
    CF_RETURN_NOT_OK(add_bytes(total, (n + 7) / 8, err));
  }
  switch (t.id) {
    case CF_NA:
    case CF_STRUCT:
    case CF_FIXED_SIZE_LIST:
    case CF_RUN_END_ENCODED:
      break;
    case CF_BOOL:
      CF_RETURN_NOT_OK(add_bytes(total, (n + 7) / 8, err));
      break;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      bool large = t.id == CF_LARGE_BINARY || t.id == CF_LARGE_STRING;
      if (b[1] != NULL) {
        CF_RETURN_NOT_OK(add_elems(total, n + 1, large ? 8 : 4, err));
        CF_RETURN_NOT_OK(add_bytes(total, last_offset(b[1], n, large), err));
      }
      break;
    }
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW: {
      CF_RETURN_NOT_OK(add_elems(total, n, 16, err));
      const int64_t *sizes = b[a->n_buffers - 1];
      for (int64_t i = 0; i < n_variadic && sizes != NULL; i++) {
        CF_RETURN_NOT_OK(add_bytes(total, sizes[i], err));
      }
      break;
    }
    case CF_LIST:
    case CF_MAP:
      if (b[1] != NULL) CF_RETURN_NOT_OK(add_elems(total, n + 1, 4, err));
      break;
    case CF_LARGE_LIST:
      if (b[1] != NULL) CF_RETURN_NOT_OK(add_elems(total, n + 1, 8, err));
      break;
    case CF_LIST_VIEW:
      CF_RETURN_NOT_OK(add_elems(total, n, 8, err)); /* offsets and sizes */
      break;
    case CF_LARGE_LIST_VIEW:
      CF_RETURN_NOT_OK(add_elems(total, n, 16, err));
      break;
    case CF_SPARSE_UNION:
      CF_RETURN_NOT_OK(add_bytes(total, n, err));
      break;
    case CF_DENSE_UNION:
      CF_RETURN_NOT_OK(add_elems(total, n, 5, err)); /* type ids and offsets */
      break;
    default:
      /* Fixed-width values (dictionary indices included). */
      if (t.bit_width > 0) {
        int64_t bits;
        if (cf_mul_overflow_i64(n, t.bit_width, &bits)) {
          return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "batch byte count overflows");
        }
        CF_RETURN_NOT_OK(add_bytes(total, (bits + 7) / 8, err));
      }
      break;
  }
  for (int64_t i = 0; i < a->n_children; i++) {
    CF_RETURN_NOT_OK(array_bytes(s->children[i], a->children[i], total, depth + 1, err));
  }
  if (s->dictionary != NULL) {
    CF_RETURN_NOT_OK(array_bytes(s->dictionary, a->dictionary, total, depth + 1, err));
  }
  return CFLIGHT_OK;
}

int cf_array_nbytes(const struct ArrowSchema *schema, const struct ArrowArray *array,
                    int64_t *total, cflight_error *err) {
  return array_bytes(schema, array, total, 0, err);
}
