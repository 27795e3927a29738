/* ArrowSchema + record batches -> integration JSON, laid out as Arrow's own
 * writer lays it out. Batches are converted as they come (they are
 * borrowed); dictionaries are kept as JSON per id and checked against later
 * batches. Batches must be valid arrays (cflight_array_validate with
 * full = true): offsets are followed as they are. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <zlib.h>

#include "json_internal.h"

#define MAX_DEPTH 64

typedef struct dict_slot {
  const struct ArrowSchema *field; /* a dictionary-encoded field of w->schema */
  int64_t id;
  json_t *column; /* the dictionary as FieldData, once a batch has shown it */
  int64_t length;
} dict_slot;

struct cf_json_writer {
  struct ArrowSchema schema;
  json_t *schema_json;
  json_t *batches;
  dict_slot *dicts;
  size_t n_dicts;
  int64_t next_id;
  cf_path path;
  cflight_error *err;
  bool failed; /* a jansson allocation failed */
};

/* ---- Small helpers ------------------------------------------------------------- */

static int fail(cf_json_writer *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(cf_json_writer *w, int code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (w->path.len > 0) return cflight_error_set(w->err, code, "%s: %s", w->path.buf, msg);
  return cflight_error_set(w->err, code, "%s", msg);
}

/* Sets obj[key] = v (taking v), remembering an allocation failure. */
static void put(cf_json_writer *w, json_t *obj, const char *key, json_t *v) {
  if (v == NULL || json_object_set_new(obj, key, v) != 0) w->failed = true;
}

static void push(cf_json_writer *w, json_t *arr, json_t *v) {
  if (v == NULL || json_array_append_new(arr, v) != 0) w->failed = true;
}

static json_t *str(const char *s) {
  return json_string(s != NULL ? s : "");
}

static json_t *i64_json(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return json_string(buf);
}

static json_t *u64_json(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRIu64, v);
  return json_string(buf);
}

static json_t *hex_json(const uint8_t *p, int64_t n) {
  static const char digits[] = "0123456789ABCDEF";
  char small[64] = {0};
  char *buf = n * 2 < (int64_t)sizeof(small) ? small : malloc((size_t)n * 2 + 1);
  if (buf == NULL) return NULL;
  for (int64_t i = 0; i < n; i++) {
    buf[2 * i] = digits[p[i] >> 4];
    buf[2 * i + 1] = digits[p[i] & 15];
  }
  json_t *v = json_stringn(buf, (size_t)n * 2);
  if (buf != small) free(buf);
  return v;
}

/* Floats come out in their shortest exact form: the JSON real is built from
 * that text, so the emitter prints the same digits. */
static json_t *real_json(double v, bool as_float) {
  if (isnan(v)) return json_string("NaN");
  if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
  if (!as_float) return json_real(v);
  char buf[40];
  cf_format_double(v, true, buf, sizeof(buf));
  return json_real(strtod(buf, NULL));
}

static bool is_signed_int(cf_type_id id) {
  return id == CF_INT8 || id == CF_INT16 || id == CF_INT32 || id == CF_INT64;
}

static bool bit(const void *bits, int64_t i) {
  return (((const uint8_t *)bits)[i >> 3] >> (i & 7)) & 1;
}

static bool valid_at(const struct ArrowArray *a, int64_t phys) {
  if (a->null_count == 0 || a->n_buffers == 0 || a->buffers[0] == NULL) return true;
  return bit(a->buffers[0], phys);
}

static int64_t int_at(const void *p, int64_t i, int width, bool is_signed) {
  const uint8_t *b = p;
  switch (width) {
    case 1:
      return is_signed ? (int8_t)b[i] : b[i];
    case 2: {
      uint16_t v;
      memcpy(&v, b + i * 2, 2);
      return is_signed ? (int16_t)v : v;
    }
    case 4: {
      uint32_t v;
      memcpy(&v, b + i * 4, 4);
      return is_signed ? (int32_t)v : (int64_t)v;
    }
    default: {
      int64_t v;
      memcpy(&v, b + i * 8, 8);
      return v;
    }
  }
}

/* ---- Schema ---------------------------------------------------------------- */

static const char *unit_name(cf_time_unit u) {
  static const char *names[] = {"SECOND", "MILLISECOND", "MICROSECOND", "NANOSECOND"};
  return names[u & 3];
}

static json_t *type_json(cf_json_writer *w, const struct ArrowSchema *s) {
  cf_type t;
  if (cf_type_parse(s->format, &t, w->err) != CFLIGHT_OK) return NULL;
  json_t *o = json_object();
  if (o == NULL) return NULL;
  const char *name = NULL;
  switch (t.id) {
    case CF_NA:
      name = "null";
      break;
    case CF_BOOL:
      name = "bool";
      break;
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_UINT64:
      put(w, o, "name", str("int"));
      put(w, o, "isSigned",
          json_boolean(t.id == CF_INT8 || t.id == CF_INT16 || t.id == CF_INT32 ||
                       t.id == CF_INT64));
      put(w, o, "bitWidth", json_integer(t.bit_width));
      return o;
    case CF_HALF_FLOAT:
    case CF_FLOAT:
    case CF_DOUBLE:
      put(w, o, "name", str("floatingpoint"));
      put(w, o, "precision",
          str(t.id == CF_HALF_FLOAT ? "HALF"
              : t.id == CF_FLOAT    ? "SINGLE"
                                    : "DOUBLE"));
      return o;
    case CF_BINARY:
      name = "binary";
      break;
    case CF_STRING:
      name = "utf8";
      break;
    case CF_LARGE_BINARY:
      name = "largebinary";
      break;
    case CF_LARGE_STRING:
      name = "largeutf8";
      break;
    case CF_BINARY_VIEW:
      name = "binaryview";
      break;
    case CF_STRING_VIEW:
      name = "utf8view";
      break;
    case CF_FIXED_SIZE_BINARY:
      put(w, o, "name", str("fixedsizebinary"));
      put(w, o, "byteWidth", json_integer(t.fixed_size));
      return o;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      put(w, o, "name", str("decimal"));
      put(w, o, "precision", json_integer(t.precision));
      put(w, o, "scale", json_integer(t.scale));
      put(w, o, "bitWidth", json_integer(t.bit_width));
      return o;
    case CF_DATE32:
    case CF_DATE64:
      put(w, o, "name", str("date"));
      put(w, o, "unit", str(t.id == CF_DATE32 ? "DAY" : "MILLISECOND"));
      return o;
    case CF_TIME32:
    case CF_TIME64:
      put(w, o, "name", str("time"));
      put(w, o, "unit", str(unit_name(t.unit)));
      put(w, o, "bitWidth", json_integer(t.bit_width));
      return o;
    case CF_TIMESTAMP:
      put(w, o, "name", str("timestamp"));
      put(w, o, "unit", str(unit_name(t.unit)));
      if (t.timezone != NULL && t.timezone_len > 0)
        put(w, o, "timezone", json_stringn(t.timezone, (size_t)t.timezone_len));
      return o;
    case CF_DURATION:
      put(w, o, "name", str("duration"));
      put(w, o, "unit", str(unit_name(t.unit)));
      return o;
    case CF_INTERVAL_MONTHS:
    case CF_INTERVAL_DAY_TIME:
    case CF_INTERVAL_MONTH_DAY_NANO:
      put(w, o, "name", str("interval"));
      put(w, o, "unit",
          str(t.id == CF_INTERVAL_MONTHS     ? "YEAR_MONTH"
              : t.id == CF_INTERVAL_DAY_TIME ? "DAY_TIME"
                                             : "MONTH_DAY_NANO"));
      return o;
    case CF_LIST:
      name = "list";
      break;
    case CF_LARGE_LIST:
      name = "largelist";
      break;
    case CF_LIST_VIEW:
      name = "listview";
      break;
    case CF_LARGE_LIST_VIEW:
      name = "largelistview";
      break;
    case CF_FIXED_SIZE_LIST:
      put(w, o, "name", str("fixedsizelist"));
      put(w, o, "listSize", json_integer(t.fixed_size));
      return o;
    case CF_STRUCT:
      name = "struct";
      break;
    case CF_MAP:
      put(w, o, "name", str("map"));
      put(w, o, "keysSorted", json_boolean(s->flags & ARROW_FLAG_MAP_KEYS_SORTED));
      return o;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      put(w, o, "name", str("union"));
      put(w, o, "mode", str(t.id == CF_SPARSE_UNION ? "SPARSE" : "DENSE"));
      json_t *ids = json_array();
      for (int i = 0; i < t.n_type_codes; i++)
        push(w, ids, json_integer(t.type_codes[i]));
      put(w, o, "typeIds", ids);
      return o;
    }
    case CF_RUN_END_ENCODED:
      name = "runendencoded";
      break;
    default:
      json_decref(o);
      fail(w, CFLIGHT_INVALID_ARGUMENT, "type %s cannot be written", cf_type_name(t.id));
      return NULL;
  }
  put(w, o, "name", str(name));
  return o;
}

static json_t *metadata_json(cf_json_writer *w, const char *metadata) {
  json_t *arr = json_array();
  cf_metadata_iter it;
  cf_kv kv;
  cf_metadata_iter_init(&it, metadata);
  while (arr != NULL && cf_metadata_next(&it, &kv)) {
    json_t *k = json_stringn(kv.key, (size_t)kv.key_len);
    json_t *v = json_stringn(kv.value, (size_t)kv.value_len);
    if (k == NULL || v == NULL) {
      json_decref(k);
      json_decref(v);
      json_decref(arr);
      fail(w, CFLIGHT_INVALID_ARGUMENT,
           "metadata key '%.*s' or its value is not UTF-8, which JSON cannot hold",
           kv.key_len > 64 ? 64 : kv.key_len, kv.key);
      return NULL;
    }
    json_t *o = json_object();
    put(w, o, "key", k);
    put(w, o, "value", v);
    push(w, arr, o);
  }
  return arr;
}

static int register_dict(cf_json_writer *w, const struct ArrowSchema *field) {
  dict_slot *d = realloc(w->dicts, (w->n_dicts + 1) * sizeof(*d));
  if (d == NULL) return CF_NOMEM(w->err, "dictionaries");
  w->dicts = d;
  w->dicts[w->n_dicts++] = (dict_slot){field, w->next_id++, NULL, 0};
  return CFLIGHT_OK;
}

static dict_slot *find_dict(cf_json_writer *w, const struct ArrowSchema *field) {
  for (size_t i = 0; i < w->n_dicts; i++)
    if (w->dicts[i].field == field) return &w->dicts[i];
  return NULL;
}

static json_t *field_json(cf_json_writer *w, const struct ArrowSchema *f, int depth) {
  if (depth > MAX_DEPTH) {
    fail(w, CFLIGHT_INVALID_ARGUMENT, "schema nested more than %d deep", MAX_DEPTH);
    return NULL;
  }
  const struct ArrowSchema *values = f->dictionary != NULL ? f->dictionary : f;
  json_t *o = json_object();
  if (o == NULL) return NULL;
  put(w, o, "name", str(f->name));
  json_t *type = type_json(w, values);
  if (type == NULL) {
    json_decref(o);
    return NULL;
  }
  put(w, o, "type", type);
  put(w, o, "nullable", json_boolean(f->flags & ARROW_FLAG_NULLABLE));
  /* Children first, so that inner dictionaries get smaller ids than outer ones. */
  json_t *children = json_array();
  for (int64_t i = 0; i < values->n_children; i++) {
    json_t *c = field_json(w, values->children[i], depth + 1);
    if (c == NULL) {
      json_decref(children);
      json_decref(o);
      return NULL;
    }
    push(w, children, c);
  }
  put(w, o, "children", children);
  if (f->dictionary != NULL) {
    cf_type it;
    if (cf_type_parse(f->format, &it, w->err) != CFLIGHT_OK || it.id < CF_INT8 ||
        it.id > CF_UINT64 || register_dict(w, f) != CFLIGHT_OK) {
      if (w->err != NULL && w->err->code == CFLIGHT_OK)
        fail(w, CFLIGHT_INVALID_ARGUMENT, "field '%s' has a non-integer dictionary index type",
             f->name ? f->name : "");
      json_decref(o);
      return NULL;
    }
    json_t *d = json_object();
    put(w, d, "id", json_integer(w->dicts[w->n_dicts - 1].id));
    put(w, d, "indexType", type_json(w, f));
    put(w, d, "isOrdered", json_boolean(f->flags & ARROW_FLAG_DICTIONARY_ORDERED));
    put(w, o, "dictionary", d);
  }
  if (cf_metadata_count(f->metadata) > 0) {
    json_t *md = metadata_json(w, f->metadata);
    if (md == NULL) {
      json_decref(o);
      return NULL;
    }
    put(w, o, "metadata", md);
  }
  return o;
}

int cf_json_writer_new(const struct ArrowSchema *schema, cf_json_writer **out, cflight_error *err) {
  *out = NULL;
  CF_RETURN_NOT_OK(cf_schema_validate(schema, err));
  if (strcmp(schema->format, "+s") != 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the schema must be a struct ('+s'), not '%s'", schema->format);
  }
  cf_json_writer *w = calloc(1, sizeof(*w));
  if (w == NULL) return CF_NOMEM(err, "JSON writer");
  w->err = err;
  int rc = cf_schema_copy(schema, &w->schema, err);
  if (rc != CFLIGHT_OK) {
    free(w);
    return rc;
  }
  w->schema_json = json_object();
  w->batches = json_array();
  json_t *fields = json_array();
  for (int64_t i = 0; i < w->schema.n_children && rc == CFLIGHT_OK; i++) {
    json_t *f = field_json(w, w->schema.children[i], 1);
    if (f == NULL) rc = w->err && w->err->code ? w->err->code : CF_NOMEM(err, "JSON");
    push(w, fields, f);
  }
  if (rc == CFLIGHT_OK) {
    put(w, w->schema_json, "fields", fields);
    if (cf_metadata_count(w->schema.metadata) > 0) {
      json_t *md = metadata_json(w, w->schema.metadata);
      if (md == NULL) rc = err && err->code ? err->code : CF_NOMEM(err, "JSON");
      put(w, w->schema_json, "metadata", md);
    }
  } else {
    json_decref(fields);
  }
  if (rc == CFLIGHT_OK && (w->failed || w->schema_json == NULL || w->batches == NULL))
    rc = CF_NOMEM(err, "JSON");
  if (rc != CFLIGHT_OK) {
    cf_json_writer_free(w);
    return rc;
  }
  *out = w;
  return CFLIGHT_OK;
}

void cf_json_writer_free(cf_json_writer *w) {
  if (w == NULL) return;
  for (size_t i = 0; i < w->n_dicts; i++)
    json_decref(w->dicts[i].column);
  free(w->dicts);
  json_decref(w->schema_json);
  json_decref(w->batches);
  cf_schema_release(&w->schema);
  free(w);
}

/* ---- Columns ----------------------------------------------------------------
 * column() writes rows [start, start + len) of array a (start is logical:
 * a->offset is added here), so that children can be written as windows. */

static json_t *column(cf_json_writer *w, const struct ArrowSchema *f, const struct ArrowArray *a,
                      int64_t start, int64_t len, const char *name, int depth);

static int dictionary_seen(cf_json_writer *w, const struct ArrowSchema *f,
                           const struct ArrowArray *dict, int depth);

static void put_validity(cf_json_writer *w, json_t *o, const struct ArrowArray *a, int64_t s,
                         int64_t len) {
  json_t *v = json_array();
  for (int64_t i = 0; i < len; i++)
    push(w, v, json_integer(valid_at(a, s + i) ? 1 : 0));
  put(w, o, "VALIDITY", v);
}

/* Integer DATA (also indices and temporal values); 64-bit ones as strings; zero under nulls. */
static void put_ints(cf_json_writer *w, json_t *o, const char *key, const struct ArrowArray *a,
                     int buffer, int64_t s, int64_t len, int width, bool is_signed,
                     bool zero_nulls) {
  json_t *v = json_array();
  const void *p = a->buffers[buffer];
  for (int64_t i = 0; i < len; i++) {
    bool null = zero_nulls && !valid_at(a, s + i);
    if (width == 8 && !is_signed) {
      uint64_t u = 0;
      if (!null) memcpy(&u, (const uint8_t *)p + (s + i) * 8, 8);
      push(w, v, u64_json(u));
    } else {
      int64_t x = null ? 0 : int_at(p, s + i, width, is_signed);
      push(w, v, width == 8 ? i64_json(x) : json_integer(x));
    }
  }
  put(w, o, key, v);
}

static int put_binary(cf_json_writer *w, json_t *o, const struct ArrowArray *a, int64_t s,
                      int64_t len, int width, bool utf8) {
  json_t *offsets = json_array(), *data = json_array();
  put(w, o, "OFFSET", offsets);
  put(w, o, "DATA", data);
  const uint8_t *bytes = a->buffers[2];
  int64_t pos = 0;
  push(w, offsets, width == 8 ? i64_json(0) : json_integer(0));
  for (int64_t i = 0; i < len; i++) {
    int64_t b = int_at(a->buffers[1], s + i, width, true);
    int64_t e = int_at(a->buffers[1], s + i + 1, width, true);
    if (e < b) return fail(w, CFLIGHT_INVALID_ARGUMENT, "row %lld: offsets decrease", (long long)i);
    json_t *v = utf8 ? json_stringn(e > b ? (const char *)bytes + b : "", (size_t)(e - b))
                     : hex_json(e > b ? bytes + b : NULL, e - b);
    if (utf8 && v == NULL) {
      /* Not UTF-8: JSON cannot hold it. Under a null it does not matter. */
      if (valid_at(a, s + i)) {
        return fail(w, CFLIGHT_INVALID_ARGUMENT, "row %lld: the string is not valid UTF-8",
                    (long long)i);
      }
      v = json_string("");
      e = b;
    }
    pos += e - b;
    push(w, data, v);
    push(w, offsets, width == 8 ? i64_json(pos) : json_integer(pos));
  }
  return CFLIGHT_OK;
}

static int put_views(cf_json_writer *w, json_t *o, const struct ArrowArray *a, int64_t s,
                     int64_t len, bool utf8) {
  json_t *views = json_array(), *bufs = json_array();
  put(w, o, "VIEWS", views);
  put(w, o, "VARIADIC_DATA_BUFFERS", bufs);
  int64_t n_data = a->n_buffers - 3;
  if (n_data < 0) return fail(w, CFLIGHT_INVALID_ARGUMENT, "a view array needs at least 3 buffers");
  const int64_t *sizes = a->buffers[a->n_buffers - 1];
  for (int64_t k = 0; k < n_data; k++)
    push(w, bufs, hex_json(a->buffers[2 + k], sizes != NULL ? sizes[k] : 0));
  const uint8_t *p = a->buffers[1];
  for (int64_t i = 0; i < len; i++) {
    const uint8_t *view = p + (s + i) * 16;
    json_t *v = json_object();
    push(w, views, v);
    int32_t size;
    memcpy(&size, view, 4);
    if (!valid_at(a, s + i) || size < 0) size = 0; /* null slots come out as empty views */
    put(w, v, "SIZE", json_integer(size));
    if (size <= 12) {
      json_t *in =
          utf8 ? json_stringn((const char *)view + 4, (size_t)size) : hex_json(view + 4, size);
      if (in == NULL) {
        return fail(w, CFLIGHT_INVALID_ARGUMENT, "row %lld: the string is not valid UTF-8",
                    (long long)i);
      }
      put(w, v, "INLINED", in);
    } else {
      int32_t index, offset;
      memcpy(&index, view + 8, 4);
      memcpy(&offset, view + 12, 4);
      if (index < 0 || index >= n_data) {
        return fail(w, CFLIGHT_INVALID_ARGUMENT, "row %lld: view buffer index %d out of range",
                    (long long)i, index);
      }
      put(w, v, "PREFIX_HEX", hex_json(view + 4, 4));
      put(w, v, "BUFFER_INDEX", json_integer(index));
      put(w, v, "OFFSET", json_integer(offset));
    }
  }
  return CFLIGHT_OK;
}

static void put_floats(cf_json_writer *w, json_t *o, const struct ArrowArray *a, int64_t s,
                       int64_t len, cf_type_id id) {
  json_t *v = json_array();
  for (int64_t i = 0; i < len; i++) {
    double d = 0;
    if (valid_at(a, s + i)) {
      if (id == CF_HALF_FLOAT) {
        uint16_t h;
        memcpy(&h, (const uint8_t *)a->buffers[1] + (s + i) * 2, 2);
        d = cf_half_to_float(h);
      } else if (id == CF_FLOAT) {
        float f;
        memcpy(&f, (const uint8_t *)a->buffers[1] + (s + i) * 4, 4);
        d = f;
      } else {
        memcpy(&d, (const uint8_t *)a->buffers[1] + (s + i) * 8, 8);
      }
    }
    push(w, v, real_json(d, id != CF_DOUBLE));
  }
  put(w, o, "DATA", v);
}

/* The "children" member. Added only when there are children: Arrow's Java
 * reader fails on an empty "children" in column data. */
static json_t *children_array(cf_json_writer *w, json_t *o, int64_t n) {
  json_t *c = json_array();
  if (n > 0) {
    put(w, o, "children", c);
  } else {
    json_decref(c);
    c = NULL;
  }
  return c;
}

static int put_child(cf_json_writer *w, json_t *kids, const struct ArrowSchema *f,
                     const struct ArrowArray *child, int64_t start, int64_t len, int depth) {
  if (start < 0 || len < 0 || start + len > child->length) {
    return fail(w, CFLIGHT_INVALID_ARGUMENT,
                "child '%s' has %lld values; rows [%lld, %lld) are needed", f->name ? f->name : "",
                (long long)child->length, (long long)start, (long long)(start + len));
  }
  size_t saved = cf_path_push(&w->path, ".children(\"%.64s\")", f->name ? f->name : "");
  json_t *c = column(w, f, child, start, len, f->name, depth + 1);
  cf_path_pop(&w->path, saved);
  if (c == NULL) return w->err && w->err->code ? w->err->code : CF_NOMEM(w->err, "JSON");
  push(w, kids, c);
  return CFLIGHT_OK;
}

static int put_run_end_encoded(cf_json_writer *w, json_t *o, const struct ArrowSchema *f,
                               const struct ArrowArray *a, int64_t s, int64_t len, int depth) {
  const struct ArrowArray *ends = a->children[0], *values = a->children[1];
  cf_type rt;
  CF_RETURN_NOT_OK(cf_type_parse(f->children[0]->format, &rt, w->err));
  int width = rt.bit_width / 8;
  /* The physical runs that cover logical rows [s, s + len). */
  int64_t first = 0, last = 0;
  if (len > 0) {
    while (first < ends->length && int_at(ends->buffers[1], ends->offset + first, width, true) <= s)
      first++;
    last = first;
    while (last < ends->length &&
           int_at(ends->buffers[1], ends->offset + last, width, true) < s + len)
      last++;
    if (last >= ends->length) {
      return fail(w, CFLIGHT_INVALID_ARGUMENT, "the run ends stop before row %lld",
                  (long long)(s + len));
    }
    last++; /* exclusive */
  }
  json_t *kids = children_array(w, o, 2);
  json_t *re = json_object();
  push(w, kids, re);
  put(w, re, "name", str(f->children[0]->name));
  put(w, re, "count", json_integer(last - first));
  json_t *valid = json_array(), *data = json_array();
  for (int64_t j = first; j < last; j++) {
    int64_t e = int_at(ends->buffers[1], ends->offset + j, width, true) - s;
    if (e > len) e = len;
    push(w, valid, json_integer(1));
    push(w, data, width == 8 ? i64_json(e) : json_integer(e));
  }
  put(w, re, "VALIDITY", valid);
  put(w, re, "DATA", data);
  return put_child(w, kids, f->children[1], values, first, last - first, depth);
}

static json_t *column(cf_json_writer *w, const struct ArrowSchema *f, const struct ArrowArray *a,
                      int64_t start, int64_t len, const char *name, int depth) {
  if (depth > MAX_DEPTH) {
    fail(w, CFLIGHT_INVALID_ARGUMENT, "columns nested more than %d deep", MAX_DEPTH);
    return NULL;
  }
  cf_type t;
  if (cf_type_parse(f->format, &t, w->err) != CFLIGHT_OK) return NULL;
  if (a->n_children < f->n_children) {
    fail(w, CFLIGHT_INVALID_ARGUMENT, "array has %lld children, its field %lld",
         (long long)a->n_children, (long long)f->n_children);
    return NULL;
  }
  int64_t s = a->offset + start; /* physical index of the first row */
  json_t *o = json_object();
  if (o == NULL) return NULL;
  put(w, o, "name", str(name));
  put(w, o, "count", json_integer(len));
  if (cf_type_has_validity(t.id)) put_validity(w, o, a, s, len);
  int rc = CFLIGHT_OK;
  if (f->dictionary != NULL) {
    put_ints(w, o, "DATA", a, 1, s, len, t.bit_width / 8, is_signed_int(t.id), true);
    if (a->dictionary == NULL) {
      rc = fail(w, CFLIGHT_INVALID_ARGUMENT, "dictionary-encoded column has no dictionary");
    } else {
      rc = dictionary_seen(w, f, a->dictionary, depth);
    }
    goto done;
  }
  switch (t.id) {
    case CF_NA:
      break;
    case CF_BOOL: {
      json_t *v = json_array();
      for (int64_t i = 0; i < len; i++)
        push(w, v, json_boolean(valid_at(a, s + i) && bit(a->buffers[1], s + i)));
      put(w, o, "DATA", v);
      break;
    }
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_UINT64:
      put_ints(w, o, "DATA", a, 1, s, len, t.bit_width / 8, is_signed_int(t.id), true);
      break;
    case CF_DATE32:
    case CF_DATE64:
    case CF_TIME32:
    case CF_TIME64:
    case CF_TIMESTAMP:
    case CF_DURATION:
    case CF_INTERVAL_MONTHS:
      put_ints(w, o, "DATA", a, 1, s, len, t.bit_width / 8, true, true);
      break;
    case CF_HALF_FLOAT:
    case CF_FLOAT:
    case CF_DOUBLE:
      put_floats(w, o, a, s, len, t.id);
      break;
    case CF_BINARY:
    case CF_STRING:
      rc = put_binary(w, o, a, s, len, 4, t.id == CF_STRING);
      break;
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING:
      rc = put_binary(w, o, a, s, len, 8, t.id == CF_LARGE_STRING);
      break;
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW:
      rc = put_views(w, o, a, s, len, t.id == CF_STRING_VIEW);
      break;
    case CF_FIXED_SIZE_BINARY: {
      json_t *v = json_array();
      for (int64_t i = 0; i < len; i++)
        push(w, v, hex_json((const uint8_t *)a->buffers[1] + (s + i) * t.fixed_size, t.fixed_size));
      put(w, o, "DATA", v);
      break;
    }
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256: {
      json_t *v = json_array();
      int width = t.bit_width / 8;
      for (int64_t i = 0; i < len; i++) {
        char buf[96];
        if (!valid_at(a, s + i)) {
          push(w, v, str("0"));
          continue;
        }
        cf_decimal_to_string((const uint8_t *)a->buffers[1] + (s + i) * width, t.bit_width, buf,
                             sizeof(buf));
        push(w, v, str(buf));
      }
      put(w, o, "DATA", v);
      break;
    }
    case CF_INTERVAL_DAY_TIME:
    case CF_INTERVAL_MONTH_DAY_NANO: {
      json_t *v = json_array();
      bool mdn = t.id == CF_INTERVAL_MONTH_DAY_NANO;
      for (int64_t i = 0; i < len; i++) {
        const uint8_t *p = (const uint8_t *)a->buffers[1] + (s + i) * (mdn ? 16 : 8);
        int32_t x[2] = {0, 0};
        int64_t nanos = 0;
        if (valid_at(a, s + i)) {
          memcpy(x, p, 8);
          if (mdn) memcpy(&nanos, p + 8, 8);
        }
        json_t *e = json_object();
        if (mdn) {
          put(w, e, "months", json_integer(x[0]));
          put(w, e, "days", json_integer(x[1]));
          put(w, e, "nanoseconds", json_integer(nanos));
        } else {
          put(w, e, "days", json_integer(x[0]));
          put(w, e, "milliseconds", json_integer(x[1]));
        }
        push(w, v, e);
      }
      put(w, o, "DATA", v);
      break;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int width = t.id == CF_LARGE_LIST ? 8 : 4;
      int64_t base = int_at(a->buffers[1], s, width, true);
      int64_t end = int_at(a->buffers[1], s + len, width, true);
      json_t *offs = json_array();
      for (int64_t i = 0; i <= len; i++) {
        int64_t x = int_at(a->buffers[1], s + i, width, true) - base;
        push(w, offs, width == 8 ? i64_json(x) : json_integer(x));
      }
      put(w, o, "OFFSET", offs);
      rc = put_child(w, children_array(w, o, 1), f->children[0], a->children[0], base, end - base,
                     depth);
      break;
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int width = t.id == CF_LARGE_LIST_VIEW ? 8 : 4;
      json_t *offs = json_array(), *sizes = json_array();
      for (int64_t i = 0; i < len; i++) {
        bool null = !valid_at(a, s + i);
        int64_t x = null ? 0 : int_at(a->buffers[1], s + i, width, true);
        int64_t n = null ? 0 : int_at(a->buffers[2], s + i, width, true);
        push(w, offs, width == 8 ? i64_json(x) : json_integer(x));
        push(w, sizes, width == 8 ? i64_json(n) : json_integer(n));
      }
      put(w, o, "OFFSET", offs);
      put(w, o, "SIZE", sizes);
      rc = put_child(w, children_array(w, o, 1), f->children[0], a->children[0], 0,
                     a->children[0]->length, depth);
      break;
    }
    case CF_FIXED_SIZE_LIST:
      rc = put_child(w, children_array(w, o, 1), f->children[0], a->children[0], s * t.fixed_size,
                     len * t.fixed_size, depth);
      break;
    case CF_STRUCT: {
      json_t *kids = children_array(w, o, f->n_children);
      for (int64_t k = 0; k < f->n_children && rc == CFLIGHT_OK; k++)
        rc = put_child(w, kids, f->children[k], a->children[k], s, len, depth);
      break;
    }
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      put_ints(w, o, "TYPE_ID", a, 0, s, len, 1, true, false);
      json_t *kids;
      if (t.id == CF_DENSE_UNION) {
        put_ints(w, o, "OFFSET", a, 1, s, len, 4, true, false);
        kids = children_array(w, o, f->n_children);
        for (int64_t k = 0; k < f->n_children && rc == CFLIGHT_OK; k++)
          rc = put_child(w, kids, f->children[k], a->children[k], 0, a->children[k]->length, depth);
      } else {
        kids = children_array(w, o, f->n_children);
        for (int64_t k = 0; k < f->n_children && rc == CFLIGHT_OK; k++)
          rc = put_child(w, kids, f->children[k], a->children[k], s, len, depth);
      }
      break;
    }
    case CF_RUN_END_ENCODED:
      rc = put_run_end_encoded(w, o, f, a, s, len, depth);
      break;
    default:
      rc = fail(w, CFLIGHT_INVALID_ARGUMENT, "type %s cannot be written", cf_type_name(t.id));
      break;
  }
done:
  if (rc == CFLIGHT_OK && w->failed) rc = CF_NOMEM(w->err, "JSON");
  if (rc != CFLIGHT_OK) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* Whether every array member of old is a prefix of new's (recursively
 * through children): how a dictionary delta looks in this format. */
static bool json_prefix(const json_t *old, const json_t *new_) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)old, key, v) {
    if (!json_is_array(v)) continue;
    json_t *nv = json_object_get(new_, key);
    if (!json_is_array(nv) || json_array_size(nv) < json_array_size(v)) return false;
    bool is_children = strcmp(key, "children") == 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
      const json_t *a = json_array_get(v, i), *b = json_array_get(nv, i);
      if (is_children ? !json_prefix(a, b) : !json_equal(a, b)) return false;
    }
  }
  return true;
}

/* Records the dictionary of a dictionary-encoded column: the first one seen
 * for its field, or a later one that equals or extends it. */
static int dictionary_seen(cf_json_writer *w, const struct ArrowSchema *f,
                           const struct ArrowArray *dict, int depth) {
  dict_slot *slot = find_dict(w, f);
  if (slot == NULL) return fail(w, CFLIGHT_INTERNAL, "dictionary field was not registered");
  if (slot->column != NULL && slot->length > dict->length) {
    return fail(w, CFLIGHT_INVALID_ARGUMENT,
                "dictionary of field '%s' shrank from %lld to %lld values between batches: "
                "replacement dictionaries cannot be expressed in integration JSON",
                f->name ? f->name : "", (long long)slot->length, (long long)dict->length);
  }
  char name[32];
  snprintf(name, sizeof(name), "DICT%lld", (long long)slot->id);
  size_t saved = cf_path_push(&w->path, ".dictionary(id %lld)", (long long)slot->id);
  json_t *col = column(w, f->dictionary, dict, 0, dict->length, name, depth + 1);
  cf_path_pop(&w->path, saved);
  if (col == NULL) return w->err && w->err->code ? w->err->code : CF_NOMEM(w->err, "JSON");
  /* column() may have registered nested dictionaries, moving w->dicts. */
  slot = find_dict(w, f);
  if (slot->column == NULL || json_equal(slot->column, col)) {
    json_decref(slot->column);
    slot->column = col;
    slot->length = dict->length;
    return CFLIGHT_OK;
  }
  if (!json_prefix(slot->column, col)) {
    json_decref(col);
    return fail(w, CFLIGHT_INVALID_ARGUMENT,
                "dictionary of field '%s' was replaced between batches: replacement "
                "dictionaries cannot be expressed in integration JSON (deltas can)",
                f->name ? f->name : "");
  }
  json_decref(slot->column);
  slot->column = col;
  slot->length = dict->length;
  return CFLIGHT_OK;
}

int cf_json_writer_write(cf_json_writer *w, const struct ArrowArray *batch, cflight_error *err) {
  w->err = err;
  w->path.len = 0;
  w->path.buf[0] = '\0';
  if (batch == NULL || batch->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "the batch is released");
  }
  if (batch->n_children != w->schema.n_children) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the batch has %lld columns, the schema %lld fields",
                             (long long)batch->n_children, (long long)w->schema.n_children);
  }
  size_t index = json_array_size(w->batches);
  cf_path_push(&w->path, "batches[%zu]", index);
  json_t *b = json_object();
  json_t *cols = json_array();
  put(w, b, "count", json_integer(batch->length));
  put(w, b, "columns", cols);
  int rc = CFLIGHT_OK;
  for (int64_t i = 0; i < batch->n_children && rc == CFLIGHT_OK; i++) {
    const struct ArrowSchema *f = w->schema.children[i];
    const struct ArrowArray *c = batch->children[i];
    if (c->length < batch->offset + batch->length) {
      rc = fail(w, CFLIGHT_INVALID_ARGUMENT, "column %lld has %lld rows, the batch %lld",
                (long long)i, (long long)c->length, (long long)(batch->offset + batch->length));
      break;
    }
    size_t saved =
        cf_path_push(&w->path, ".columns[%lld](\"%.64s\")", (long long)i, f->name ? f->name : "");
    json_t *col = column(w, f, c, batch->offset, batch->length, f->name, 1);
    cf_path_pop(&w->path, saved);
    if (col == NULL) {
      rc = err && err->code ? err->code : CF_NOMEM(err, "JSON");
      break;
    }
    push(w, cols, col);
  }
  if (rc == CFLIGHT_OK && w->failed) rc = CF_NOMEM(err, "JSON");
  if (rc != CFLIGHT_OK) {
    json_decref(b);
    return rc;
  }
  push(w, w->batches, b);
  return w->failed ? CF_NOMEM(err, "JSON") : CFLIGHT_OK;
}

static int build_document(cf_json_writer *w, cf_bytes *out, cflight_error *err) {
  json_t *doc = json_object();
  if (doc == NULL) return CF_NOMEM(err, "JSON");
  put(w, doc, "schema", json_incref(w->schema_json));
  bool any = false;
  for (size_t i = 0; i < w->n_dicts; i++)
    if (w->dicts[i].column != NULL) any = true;
  if (any) {
    json_t *dicts = json_array();
    /* In id order. */
    for (int64_t id = 0; id < w->next_id; id++) {
      for (size_t i = 0; i < w->n_dicts; i++) {
        dict_slot *d = &w->dicts[i];
        if (d->id != id || d->column == NULL) continue;
        json_t *e = json_object(), *data = json_object(), *cols = json_array();
        put(w, e, "id", json_integer(id));
        put(w, data, "count", json_integer(d->length));
        push(w, cols, json_incref(d->column));
        put(w, data, "columns", cols);
        put(w, e, "data", data);
        push(w, dicts, e);
      }
    }
    put(w, doc, "dictionaries", dicts);
  }
  put(w, doc, "batches", json_incref(w->batches));
  int rc = w->failed ? CF_NOMEM(err, "JSON") : cf_json_emit(doc, out, err);
  json_decref(doc);
  return rc;
}

int cf_json_writer_finish(cf_json_writer *w, char **text, size_t *size, cflight_error *err) {
  w->err = err;
  *text = NULL;
  *size = 0;
  cf_bytes out = {0};
  int rc = build_document(w, &out, err);
  if (rc == CFLIGHT_OK) rc = cf_bytes_append(&out, "", 1, err); /* the NUL */
  if (rc != CFLIGHT_OK) {
    cf_bytes_reset(&out);
    return rc;
  }
  *size = out.len - 1;
  *text = (char *)out.data; /* cf_bytes memory is plain malloc memory */
  return CFLIGHT_OK;
}

int cf_json_writer_finish_path(cf_json_writer *w, const char *path, cflight_error *err) {
  char *text;
  size_t size;
  CF_RETURN_NOT_OK(cf_json_writer_finish(w, &text, &size, err));
  size_t n = strlen(path);
  bool gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
  int rc = CFLIGHT_OK;
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (f == NULL) {
      rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
    } else {
      size_t done = 0;
      while (done < size && rc == CFLIGHT_OK) {
        unsigned chunk = size - done > (1u << 30) ? (1u << 30) : (unsigned)(size - done);
        if (gzwrite(f, text + done, chunk) != (int)chunk) {
          rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot write %s", path);
        }
        done += chunk;
      }
      if (gzclose(f) != Z_OK && rc == CFLIGHT_OK)
        rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot write %s", path);
    }
  } else {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
      rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
    } else {
      if (fwrite(text, 1, size, f) != size)
        rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
      if (fclose(f) != 0 && rc == CFLIGHT_OK)
        rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
    }
  }
  free(text);
  return rc;
}
