/* The Arrow C Data Interface, from the inside: type descriptors parsed from
 * format strings, ArrowArray / ArrowSchema construction with one owner and a
 * correct release, shared arrays (one ArrowArray exported many times, as
 * decoded dictionaries are), and custom-metadata helpers. Every layer above
 * builds Arrow data through this file and nothing else. */
#ifndef CF_ARROW_H
#define CF_ARROW_H

#include "base/base.h"

/* ---- Types ---------------------------------------------------------------- */

typedef enum cf_type_id {
  CF_NA = 0,
  CF_BOOL,
  CF_INT8,
  CF_UINT8,
  CF_INT16,
  CF_UINT16,
  CF_INT32,
  CF_UINT32,
  CF_INT64,
  CF_UINT64,
  CF_HALF_FLOAT,
  CF_FLOAT,
  CF_DOUBLE,
  CF_BINARY,
  CF_STRING,
  CF_LARGE_BINARY,
  CF_LARGE_STRING,
  CF_BINARY_VIEW,
  CF_STRING_VIEW,
  CF_FIXED_SIZE_BINARY,
  CF_DECIMAL32,
  CF_DECIMAL64,
  CF_DECIMAL128,
  CF_DECIMAL256,
  CF_DATE32,
  CF_DATE64,
  CF_TIME32,
  CF_TIME64,
  CF_TIMESTAMP,
  CF_DURATION,
  CF_INTERVAL_MONTHS,
  CF_INTERVAL_DAY_TIME,
  CF_INTERVAL_MONTH_DAY_NANO,
  CF_LIST,
  CF_LARGE_LIST,
  CF_FIXED_SIZE_LIST,
  CF_LIST_VIEW,
  CF_LARGE_LIST_VIEW,
  CF_STRUCT,
  CF_MAP,
  CF_SPARSE_UNION,
  CF_DENSE_UNION,
  CF_RUN_END_ENCODED,
  CF_TYPE_COUNT
} cf_type_id;

typedef enum cf_time_unit { CF_SECOND = 0, CF_MILLI = 1, CF_MICRO = 2, CF_NANO = 3 } cf_time_unit;

/* A type as a C Data Interface format string describes it. For a
 * dictionary-encoded field the format (and so this type) is the index type;
 * the value type is the schema's `dictionary`. */
typedef struct cf_type {
  cf_type_id id;
  /* Bits per value in the fixed-width data buffer: 1 for bool, 8..256 for
   * ints, floats, decimals and temporal types, fixed_size*8 for fixed-size
   * binary; 0 where values have no fixed width. */
  int32_t bit_width;
  int32_t fixed_size;       /* fixed-size binary bytes; fixed-size list length */
  int32_t precision, scale; /* decimals */
  cf_time_unit unit;        /* time32/64, timestamp, duration */
  const char *timezone;     /* timestamp: points into the format string; NULL if none */
  int32_t timezone_len;
  int32_t n_type_codes;   /* unions */
  int8_t type_codes[128]; /* unions: the type code of child i */
} cf_type;

/* Parses a C Data Interface format string. Unknown or malformed formats give
 * CFLIGHT_INVALID_ARGUMENT with the format in the message. */
int cf_type_parse(const char *format, cf_type *out, cflight_error *err);

/* Writes the format string of t (which must have been filled consistently) to buf. */
int cf_type_format(const cf_type *t, char *buf, size_t cap, cflight_error *err);

/* The number of buffers an ArrowArray of this type has; for the view types
 * that is 3 + n_variadic (validity, views, the data buffers, the sizes). */
int64_t cf_type_n_buffers(const cf_type *t, int64_t n_variadic);

/* Whether the type's first buffer is a validity bitmap (false for null,
 * unions and run-end encoded). */
bool cf_type_has_validity(cf_type_id id);

/* Number of children the type requires, or -1 when it varies (struct, union). */
int64_t cf_type_n_children(cf_type_id id);

const char *cf_type_name(cf_type_id id);

/* The format string of an integer of `bits` (8, 16, 32, 64) bits, or NULL
 * for any other width. */
const char *cf_int_format(int64_t bits, bool is_signed);

/* ---- Arrays ---------------------------------------------------------------
 * cf_array_init makes an ArrowArray whose private data owns its buffers (as
 * cflight_buffer references), its children and its dictionary, so that a
 * single release frees everything. Children and dictionary are allocated
 * zeroed and released (release == NULL) until filled in; release skips any
 * that are still released or were moved out by a consumer. */

int cf_array_init(struct ArrowArray *out, int64_t n_buffers, int64_t n_children,
                  cflight_error *err);

/* Makes buffers[i] = data and hands the reference `buf` (may be NULL when
 * data is NULL or static) to the array. data must lie inside buf. */
void cf_array_set_buffer(struct ArrowArray *a, int64_t i, cflight_buffer *buf, const void *data);

/* Allocates a zeroed, 64-byte-aligned buffer of `size` bytes as buffers[i]
 * and returns it for filling; NULL (with err set) when out of memory. */
void *cf_array_alloc_buffer(struct ArrowArray *a, int64_t i, size_t size, cflight_error *err);

/* Allocates the array's dictionary (zeroed, released) and returns it. */
struct ArrowArray *cf_array_alloc_dictionary(struct ArrowArray *a, cflight_error *err);

/* Moves src into dst (dst must be released or uninitialised); src is left released. */
void cf_array_move(struct ArrowArray *src, struct ArrowArray *dst);

/* Releases a if it is not released already (NULL-safe). */
void cf_array_release(struct ArrowArray *a);

/* Adds to *total the bytes that the buffers of array (of schema), its
 * children and its dictionary must hold for its elements 0 .. offset +
 * length - 1. The array is trusted in-process data: only the shape the walk
 * relies on is checked (CFLIGHT_INVALID_ARGUMENT otherwise). */
int cf_array_nbytes(const struct ArrowSchema *schema, const struct ArrowArray *array,
                    int64_t *total, cflight_error *err);

/* Run-end encoded arrays: the run end at physical index j of the run-ends
 * child re, whose values are w (2, 4 or 8) bytes wide. */
static inline int64_t cf_ree_run_end(const struct ArrowArray *re, int w, int64_t j) {
  const void *p = re->buffers[1];
  j += re->offset;
  if (w == 2) return ((const int16_t *)p)[j];
  return w == 4 ? (int64_t)((const int32_t *)p)[j] : ((const int64_t *)p)[j];
}

/* The first physical index in [0, n) of re whose run end is > pos (n if none). */
static inline int64_t cf_ree_find_run(const struct ArrowArray *re, int w, int64_t n, int64_t pos) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (cf_ree_run_end(re, w, mid) > pos)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* ---- Shared arrays --------------------------------------------------------
 * The C Data Interface has no reference count: an ArrowArray has exactly one
 * owner. A shared array takes over one ArrowArray and hands out any number of
 * exports: new ArrowArray trees with the same buffer pointers whose release
 * drops a reference on the holder. The original is released with the last
 * reference. Thread-safe. */

typedef struct cf_shared_array cf_shared_array;

/* Takes ownership of *src (moved; src is left released). NULL if out of memory
 * (src is then left untouched). */
cf_shared_array *cf_shared_array_new(struct ArrowArray *src);
cf_shared_array *cf_shared_array_ref(cf_shared_array *sh);
void cf_shared_array_unref(cf_shared_array *sh);
const struct ArrowArray *cf_shared_array_get(const cf_shared_array *sh);

/* Exports `node` (the shared array itself, or any array inside its tree:
 * a child or a dictionary) into out. */
int cf_shared_array_export(cf_shared_array *sh, const struct ArrowArray *node,
                           struct ArrowArray *out, cflight_error *err);

/* ---- Schemas --------------------------------------------------------------- */

/* Makes a schema owning copies of format and name (name may be NULL), with
 * n_children zeroed, released children. flags defaults to ARROW_FLAG_NULLABLE. */
int cf_schema_init(struct ArrowSchema *out, const char *format, const char *name,
                   int64_t n_children, cflight_error *err);
/* Replaces format, name, or metadata (C-ABI encoded, may be NULL) of a schema made by
 * cf_schema_init. */
int cf_schema_set_format(struct ArrowSchema *s, const char *format, cflight_error *err);
int cf_schema_set_name(struct ArrowSchema *s, const char *name, cflight_error *err);
int cf_schema_set_metadata(struct ArrowSchema *s, const char *metadata, cflight_error *err);
/* Allocates the schema's dictionary (zeroed, released) and returns it. */
struct ArrowSchema *cf_schema_alloc_dictionary(struct ArrowSchema *s, cflight_error *err);
/* Deep copy of any schema (ours or another library's). */
int cf_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *dst, cflight_error *err);
void cf_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst);
void cf_schema_release(struct ArrowSchema *s);

/* Checks a schema tree for what the layers above rely on: known formats,
 * child counts that fit the type, union type codes in range, maps made of a
 * struct of two fields, run-end encoded made of run ends and values. */
int cf_schema_validate(const struct ArrowSchema *s, cflight_error *err);

/* CFLIGHT_OK when two schemas describe the same data, otherwise
 * CFLIGHT_INVALID_DATA with the first difference and its path in err. */
/* Schemas are equal when they have the same fields, in order, with the same
 * names, types (units, time zones, precision and scale, widths, union type
 * codes), nullability, map key ordering, dictionary index type and ordering
 * (not dictionary ids, which the C Data Interface does not carry), dictionary
 * value types, custom metadata (as a multiset: order does not matter) and
 * children. Not compared: the top-level name, the names and flags of
 * dictionary value schemas, and the names of a map's entries struct and of
 * its key and value fields (Arrow does not count them as part of the type,
 * and Arrow C++ writes its canonical "entries", "key", "value" regardless). */
int cf_schema_equal(const struct ArrowSchema *expected, const struct ArrowSchema *actual,
                    cflight_error *err);

/* A readable rendering of a schema tree ("name: type, nullable, metadata"
 * per line), for messages; the caller frees it. NULL if out of memory. */
/* The same with names, nullability and metadata ignored at every level. */
int cf_schema_equal_types(const struct ArrowSchema *expected, const struct ArrowSchema *actual,
                          cflight_error *err);

char *cf_schema_describe(const struct ArrowSchema *schema);

/* ---- Custom metadata (the C-ABI binary encoding) ----------------------------- */

typedef struct cf_kv {
  const char *key;
  int32_t key_len;
  const char *value;
  int32_t value_len;
} cf_kv;

typedef struct cf_metadata_iter {
  const char *pos;
  int32_t remaining;
} cf_metadata_iter;

/* Iterates over metadata produced in this process (NULL means none). */
void cf_metadata_iter_init(cf_metadata_iter *it, const char *metadata);
bool cf_metadata_next(cf_metadata_iter *it, cf_kv *out);
int32_t cf_metadata_count(const char *metadata);
/* Looks a key up; false if absent. */
bool cf_metadata_get(const char *metadata, const char *key, cf_kv *out);
/* Encodes n pairs into a malloc'd blob (*out, caller frees); n == 0 gives NULL. */
int cf_metadata_build(const cf_kv *kvs, int32_t n, char **out, cflight_error *err);
/* Byte length of an encoded blob (0 for NULL). */
size_t cf_metadata_size(const char *metadata);

/* ---- Streams ---------------------------------------------------------------
 * A helper for producers of ArrowArrayStream: the stream owns a schema and
 * pulls batches from a callback; errors keep their message for
 * get_last_error. */

typedef struct cf_stream_source {
  /* Fills out with the next batch or leaves it released at the end. */
  int (*next)(void *ctx, struct ArrowArray *out, cflight_error *err);
  void (*free_ctx)(void *ctx);
  void *ctx;
} cf_stream_source;

/* Takes ownership of *schema (moved) and of source.ctx (freed with free_ctx),
 * on failure too. */
int cf_stream_init(struct ArrowArrayStream *out, struct ArrowSchema *schema,
                   cf_stream_source source, cflight_error *err);

/* errno-style code for a cflight code, for ArrowArrayStream callbacks. */
int cf_code_to_errno(int code);

/* ---- Decimals -----------------------------------------------------------------
 * Exact conversion between decimal integer strings ("-12345", the unscaled
 * value) and little-endian two's complement integers of 32, 64, 128 or 256
 * bits, over 64-bit limbs. */

/* Parses s[0..len) into out (bit_width / 8 bytes). CFLIGHT_INVALID_ARGUMENT
 * when s is not an optionally signed decimal integer, or does not fit. */
int cf_decimal_from_string(const char *s, size_t len, int32_t bit_width, uint8_t *out,
                           cflight_error *err);

/* Formats value (bit_width / 8 bytes) into buf; returns the length written,
 * or -1 when cap is too small (80 bytes always suffice). */
int cf_decimal_to_string(const uint8_t *value, int32_t bit_width, char *buf, size_t cap);

/* ---- Floating point -------------------------------------------------------- */

/* IEEE binary16 <-> binary32 (round to nearest even; NaN stays NaN). */
uint16_t cf_half_from_float(float f);
float cf_half_to_float(uint16_t h);

/* The shortest decimal form of v that reads back (strtod) as exactly v, or,
 * with as_float, that reads back as v once rounded to float, whether read as
 * float or as double. Finite values only. Returns the length. */
int cf_format_double(double v, bool as_float, char *buf, size_t cap);

#endif /* CF_ARROW_H */
