/* Schema tables (Schema.fbs) <-> ArrowSchema. */
#include <stdarg.h>
#include <stdio.h>

#include "ipc/ipc.h"

/* Type union tags (Schema.fbs `union Type`). */
enum {
  T_NONE = 0,
  T_NULL = 1,
  T_INT = 2,
  T_FLOAT = 3,
  T_BINARY = 4,
  T_UTF8 = 5,
  T_BOOL = 6,
  T_DECIMAL = 7,
  T_DATE = 8,
  T_TIME = 9,
  T_TIMESTAMP = 10,
  T_INTERVAL = 11,
  T_LIST = 12,
  T_STRUCT = 13,
  T_UNION = 14,
  T_FIXED_SIZE_BINARY = 15,
  T_FIXED_SIZE_LIST = 16,
  T_MAP = 17,
  T_DURATION = 18,
  T_LARGE_BINARY = 19,
  T_LARGE_UTF8 = 20,
  T_LARGE_LIST = 21,
  T_RUN_END_ENCODED = 22,
  T_BINARY_VIEW = 23,
  T_UTF8_VIEW = 24,
  T_LIST_VIEW = 25,
  T_LARGE_LIST_VIEW = 26,
};

/* Field table ids. */
enum {
  F_NAME = 0,
  F_NULLABLE = 1,
  F_TYPE_TYPE = 2,
  F_TYPE = 3,
  F_DICTIONARY = 4,
  F_CHILDREN = 5,
  F_METADATA = 6
};

/* Fits "+ud:" and 128 type codes of up to 3 digits and a comma each. */
#define FORMAT_MAX 1024

/* ---- Reading ------------------------------------------------------------------ */

typedef struct schema_reader {
  cf_schema_info *info;
  int64_t ids_cap;
  cflight_error *err;
} schema_reader;

static int bad(cflight_error *err, const char *what, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
static int bad(cflight_error *err, const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "schema: field '%s': %s", what, msg);
}

static int int_format(int32_t bits, bool is_signed, const char *name, char *fmt,
                      cflight_error *err) {
  const char *f = cf_int_format(bits, is_signed);
  if (f == NULL) return bad(err, name, "integer bit width %d is not 8, 16, 32 or 64", (int)bits);
  strcpy(fmt, f);
  return CFLIGHT_OK;
}

static int time_unit(int16_t u, const char *name, cf_time_unit *out, cflight_error *err) {
  if (u < 0 || u > 3) return bad(err, name, "unknown time unit %d", (int)u);
  *out = (cf_time_unit)u;
  return CFLIGHT_OK;
}

/* The format string of a Field's (value) type. */
static int type_format(uint8_t tag, const cf_fbt *tt, uint32_t n_children, const char *name,
                       char *fmt, cflight_error *err) {
  cf_type t;
  memset(&t, 0, sizeof(t));
  switch (tag) {
    case T_NULL:
      t.id = CF_NA;
      break;
    case T_INT:
      return int_format(cf_fbt_i32(tt, 0, 0), cf_fbt_bool(tt, 1, false), name, fmt, err);
    case T_FLOAT: {
      int16_t p = cf_fbt_i16(tt, 0, 0);
      if (p < 0 || p > 2) return bad(err, name, "unknown floating point precision %d", (int)p);
      t.id = p == 0 ? CF_HALF_FLOAT : p == 1 ? CF_FLOAT : CF_DOUBLE;
      break;
    }
    case T_BINARY:
      t.id = CF_BINARY;
      break;
    case T_UTF8:
      t.id = CF_STRING;
      break;
    case T_LARGE_BINARY:
      t.id = CF_LARGE_BINARY;
      break;
    case T_LARGE_UTF8:
      t.id = CF_LARGE_STRING;
      break;
    case T_BINARY_VIEW:
      t.id = CF_BINARY_VIEW;
      break;
    case T_UTF8_VIEW:
      t.id = CF_STRING_VIEW;
      break;
    case T_BOOL:
      t.id = CF_BOOL;
      break;
    case T_DECIMAL: {
      t.precision = cf_fbt_i32(tt, 0, 0);
      t.scale = cf_fbt_i32(tt, 1, 0);
      int32_t bits = cf_fbt_i32(tt, 2, 128);
      if (t.precision <= 0) return bad(err, name, "decimal precision %d", (int)t.precision);
      if (t.scale == INT32_MIN) return bad(err, name, "decimal scale %d", (int)t.scale);
      switch (bits) {
        case 32:
          t.id = CF_DECIMAL32;
          break;
        case 64:
          t.id = CF_DECIMAL64;
          break;
        case 128:
          t.id = CF_DECIMAL128;
          break;
        case 256:
          t.id = CF_DECIMAL256;
          break;
        default:
          return bad(err, name, "decimal bit width %d is not 32, 64, 128 or 256", (int)bits);
      }
      break;
    }
    case T_DATE: {
      int16_t u = cf_fbt_i16(tt, 0, 1);
      if (u != 0 && u != 1) return bad(err, name, "unknown date unit %d", (int)u);
      t.id = u == 0 ? CF_DATE32 : CF_DATE64;
      break;
    }
    case T_TIME: {
      CF_RETURN_NOT_OK(time_unit(cf_fbt_i16(tt, 0, 1), name, &t.unit, err));
      int32_t bits = cf_fbt_i32(tt, 1, 32);
      int32_t want = t.unit <= CF_MILLI ? 32 : 64;
      if (bits != want) {
        return bad(err, name, "time of unit %d must be %d bits wide, not %d", (int)t.unit,
                   (int)want, (int)bits);
      }
      t.id = want == 32 ? CF_TIME32 : CF_TIME64;
      break;
    }
    case T_TIMESTAMP: {
      CF_RETURN_NOT_OK(time_unit(cf_fbt_i16(tt, 0, 0), name, &t.unit, err));
      const char *tz;
      uint32_t tz_len;
      t.id = CF_TIMESTAMP;
      if (cf_fbt_string(tt, 1, &tz, &tz_len) && tz_len > 0) {
        if (tz_len > FORMAT_MAX - 8 || memchr(tz, '\0', tz_len) != NULL)
          return bad(err, name, "bad timezone string of %u bytes", tz_len);
        t.timezone = tz;
        t.timezone_len = (int32_t)tz_len;
      }
      break;
    }
    case T_INTERVAL: {
      int16_t u = cf_fbt_i16(tt, 0, 0);
      if (u < 0 || u > 2) return bad(err, name, "unknown interval unit %d", (int)u);
      t.id = u == 0   ? CF_INTERVAL_MONTHS
             : u == 1 ? CF_INTERVAL_DAY_TIME
                      : CF_INTERVAL_MONTH_DAY_NANO;
      break;
    }
    case T_DURATION:
      CF_RETURN_NOT_OK(time_unit(cf_fbt_i16(tt, 0, 1), name, &t.unit, err));
      t.id = CF_DURATION;
      break;
    case T_LIST:
      t.id = CF_LIST;
      break;
    case T_LARGE_LIST:
      t.id = CF_LARGE_LIST;
      break;
    case T_LIST_VIEW:
      t.id = CF_LIST_VIEW;
      break;
    case T_LARGE_LIST_VIEW:
      t.id = CF_LARGE_LIST_VIEW;
      break;
    case T_STRUCT:
      t.id = CF_STRUCT;
      break;
    case T_MAP:
      t.id = CF_MAP;
      break;
    case T_RUN_END_ENCODED:
      t.id = CF_RUN_END_ENCODED;
      break;
    case T_FIXED_SIZE_BINARY:
      t.fixed_size = cf_fbt_i32(tt, 0, 0);
      if (t.fixed_size < 0 || t.fixed_size > INT32_MAX / 8)
        return bad(err, name, "fixed-size binary width %d", (int)t.fixed_size);
      t.id = CF_FIXED_SIZE_BINARY;
      break;
    case T_FIXED_SIZE_LIST:
      t.fixed_size = cf_fbt_i32(tt, 0, 0);
      if (t.fixed_size < 0) return bad(err, name, "fixed-size list size %d", (int)t.fixed_size);
      t.id = CF_FIXED_SIZE_LIST;
      break;
    case T_UNION: {
      int16_t mode = cf_fbt_i16(tt, 0, 0);
      if (mode != 0 && mode != 1) return bad(err, name, "unknown union mode %d", (int)mode);
      t.id = mode == 0 ? CF_SPARSE_UNION : CF_DENSE_UNION;
      if (n_children > 128) return bad(err, name, "union of %u children (at most 128)", n_children);
      cf_fbv ids;
      bool have_ids = cf_fbt_vector(tt, 1, 4, &ids);
      if (tt->r != NULL && tt->r->rc != CFLIGHT_OK) return tt->r->rc;
      if (have_ids && ids.n != n_children) {
        return bad(err, name, "union has %u type ids for %u children", ids.n, n_children);
      }
      bool seen[128] = {false};
      for (uint32_t i = 0; i < n_children; i++) {
        int32_t code = have_ids ? cf_load_i32(ids.data + 4 * (size_t)i) : (int32_t)i;
        if (code < 0 || code > 127) return bad(err, name, "union type id %d", (int)code);
        if (seen[code]) return bad(err, name, "union type id %d appears twice", (int)code);
        seen[code] = true;
        t.type_codes[i] = (int8_t)code;
      }
      t.n_type_codes = (int32_t)n_children;
      break;
    }
    case T_NONE:
      return bad(err, name, "type is missing");
    default:
      return bad(err, name, "unknown type tag %u", (unsigned)tag);
  }
  return cf_type_format(&t, fmt, FORMAT_MAX, err);
}

static int metadata_from_fb(const cf_fbt *t, int id, struct ArrowSchema *out, cflight_error *err) {
  cf_fbv v;
  if (!cf_fbt_vector(t, id, 4, &v) || v.n == 0) return t->r->rc;
  cf_kv *kvs = calloc(v.n, sizeof(cf_kv));
  if (kvs == NULL) return CF_NOMEM(err, "custom metadata");
  int rc = CFLIGHT_OK;
  for (uint32_t i = 0; i < v.n && rc == CFLIGHT_OK; i++) {
    cf_fbt kv;
    const char *s;
    uint32_t len;
    if (!cf_fbv_table(&v, i, &kv)) {
      rc = t->r->rc;
      break;
    }
    cf_fbt_string(&kv, 0, &s, &len);
    kvs[i].key = s ? s : "";
    kvs[i].key_len = (int32_t)len;
    if (len > INT32_MAX / 2) rc = cf_fbr_fail(t->r, "custom metadata key of %u bytes", len);
    cf_fbt_string(&kv, 1, &s, &len);
    kvs[i].value = s ? s : "";
    kvs[i].value_len = (int32_t)len;
    if (len > INT32_MAX / 2) rc = cf_fbr_fail(t->r, "custom metadata value of %u bytes", len);
    if (rc == CFLIGHT_OK) rc = t->r->rc;
  }
  char *blob = NULL;
  if (rc == CFLIGHT_OK) rc = cf_metadata_build(kvs, (int32_t)v.n, &blob, err);
  if (rc == CFLIGHT_OK) rc = cf_schema_set_metadata(out, blob, err);
  free(blob);
  free(kvs);
  return rc;
}

static int add_dict_id(schema_reader *sr, int64_t id) {
  cf_schema_info *info = sr->info;
  if (info->n_dict_ids == sr->ids_cap) {
    int64_t cap = sr->ids_cap ? sr->ids_cap * 2 : 8;
    int64_t *ids = realloc(info->dict_ids, (size_t)cap * sizeof(int64_t));
    if (ids == NULL) return CF_NOMEM(sr->err, "dictionary ids");
    info->dict_ids = ids;
    sr->ids_cap = cap;
  }
  info->dict_ids[info->n_dict_ids++] = id;
  return CFLIGHT_OK;
}

static int field_from_fb(schema_reader *sr, const cf_fbt *ft, struct ArrowSchema *out, int depth);

/* Fills the children of `parent` (a schema with n_children zeroed slots). */
static int children_from_fb(schema_reader *sr, const cf_fbv *v, struct ArrowSchema *parent,
                            int depth) {
  for (uint32_t i = 0; i < v->n; i++) {
    cf_fbt child;
    if (!cf_fbv_table(v, i, &child)) return v->r->rc;
    CF_RETURN_NOT_OK(field_from_fb(sr, &child, parent->children[i], depth));
  }
  return CFLIGHT_OK;
}

static int field_from_fb(schema_reader *sr, const cf_fbt *ft, struct ArrowSchema *out, int depth) {
  cflight_error *err = sr->err;
  cf_fbr *r = ft->r;
  char name[128];
  const char *name_s;
  uint32_t name_len;
  memset(out, 0, sizeof(*out));
  cf_fbt_string(ft, F_NAME, &name_s, &name_len);
  snprintf(name, sizeof(name), "%.*s", (int)(name_len < 100 ? name_len : 100),
           name_s ? name_s : "");
  if (depth > CF_IPC_MAX_DEPTH) {
    return bad(err, name, "nested more than %d levels deep", CF_IPC_MAX_DEPTH);
  }
  bool nullable = cf_fbt_bool(ft, F_NULLABLE, false);
  uint8_t tag = cf_fbt_u8(ft, F_TYPE_TYPE, 0);
  cf_fbt tt, dt;
  cf_fbt_table(ft, F_TYPE, &tt);
  bool is_dict = cf_fbt_table(ft, F_DICTIONARY, &dt);
  cf_fbv children;
  cf_fbt_vector(ft, F_CHILDREN, 4, &children);
  CF_RETURN_NOT_OK(r->rc);

  char value_fmt[FORMAT_MAX];
  CF_RETURN_NOT_OK(type_format(tag, &tt, children.n, name, value_fmt, err));
  CF_RETURN_NOT_OK(r->rc);

  char *name_copy = name_s ? cf_strndup(name_s, name_len) : cf_strdup("");
  if (name_copy == NULL) return CF_NOMEM(err, "field name");
  int rc;
  struct ArrowSchema *value = out; /* the schema that holds the value type and children */
  int child_depth = depth + 1;
  if (is_dict) {
    char index_fmt[8];
    cf_fbt it;
    int32_t bits = 32;
    bool is_signed = true;
    if (cf_fbt_table(&dt, 1, &it)) {
      bits = cf_fbt_i32(&it, 0, 0);
      is_signed = cf_fbt_bool(&it, 1, false);
    }
    int64_t id = cf_fbt_i64(&dt, 0, 0);
    bool ordered = cf_fbt_bool(&dt, 2, false);
    int16_t kind = cf_fbt_i16(&dt, 3, 0);
    rc = r->rc;
    if (rc == CFLIGHT_OK && kind != 0) rc = bad(err, name, "unknown dictionary kind %d", kind);
    if (rc == CFLIGHT_OK) rc = int_format(bits, is_signed, name, index_fmt, err);
    if (rc == CFLIGHT_OK) rc = cf_schema_init(out, index_fmt, name_copy, 0, err);
    if (rc != CFLIGHT_OK) {
      free(name_copy);
      return rc;
    }
    if (ordered) out->flags |= ARROW_FLAG_DICTIONARY_ORDERED;
    CF_RETURN_NOT_OK(add_dict_id(sr, id));
    value = cf_schema_alloc_dictionary(out, err);
    if (value == NULL) {
      free(name_copy);
      return CFLIGHT_NO_MEMORY;
    }
    rc = cf_schema_init(value, value_fmt, NULL, children.n, err);
    child_depth = depth + 2;
  } else {
    rc = cf_schema_init(out, value_fmt, name_copy, children.n, err);
  }
  free(name_copy);
  CF_RETURN_NOT_OK(rc);
  out->flags = (out->flags & ARROW_FLAG_DICTIONARY_ORDERED) | (nullable ? ARROW_FLAG_NULLABLE : 0);
  if (tag == T_MAP && cf_fbt_bool(&tt, 0, false)) value->flags |= ARROW_FLAG_MAP_KEYS_SORTED;
  CF_RETURN_NOT_OK(metadata_from_fb(ft, F_METADATA, out, err));
  return children_from_fb(sr, &children, value, child_depth);
}

int cf_schema_from_flatbuf(const cf_fbt *st, cf_schema_info *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  cf_fbr *r = st->r;
  int16_t endianness = cf_fbt_i16(st, 0, 0);
  cf_fbv fields;
  cf_fbt_vector(st, 1, 4, &fields);
  CF_RETURN_NOT_OK(r->rc);
  if (endianness != 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "schema: the data is big-endian, which this reader does not support "
                             "(write it with little-endian byte order)");
  }
  schema_reader sr = {.info = out, .err = err};
  int rc = cf_schema_init(&out->schema, "+s", "", fields.n, err);
  if (rc == CFLIGHT_OK) {
    out->schema.flags = 0;
    rc = metadata_from_fb(st, 2, &out->schema, err);
  }
  if (rc == CFLIGHT_OK) rc = children_from_fb(&sr, &fields, &out->schema, 1);
  /* Structure the flatbuffer does not constrain: child counts per type,
   * map entries, run-end types. */
  if (rc == CFLIGHT_OK) rc = cf_schema_validate(&out->schema, err);
  if (rc == CFLIGHT_INVALID_ARGUMENT) {
    /* The schema helpers say INVALID_ARGUMENT (a format that does not
     * parse, too many children); here the fault is in the bytes. */
    rc = CFLIGHT_INVALID_DATA;
    if (err != NULL) err->code = rc;
  }
  if (rc != CFLIGHT_OK) cf_schema_info_free(out);
  return rc;
}

void cf_schema_info_free(cf_schema_info *info) {
  cf_schema_release(&info->schema);
  free(info->dict_ids);
  memset(info, 0, sizeof(*info));
}

/* ---- Writing ------------------------------------------------------------------ */

static cf_fbref empty_table(cf_fbb *b) {
  cf_fbb_table_start(b);
  return cf_fbb_table_end(b);
}

static cf_fbref int_table(cf_fbb *b, const cf_type *t) {
  bool is_signed = t->id == CF_INT8 || t->id == CF_INT16 || t->id == CF_INT32 || t->id == CF_INT64;
  cf_fbb_table_start(b);
  cf_fbb_add_i32(b, 0, t->bit_width);
  cf_fbb_add_u8(b, 1, is_signed);
  return cf_fbb_table_end(b);
}

static cf_fbref unit_table(cf_fbb *b, int16_t unit) {
  cf_fbb_table_start(b);
  cf_fbb_add_i16(b, 0, unit);
  return cf_fbb_table_end(b);
}

static int type_to_fb(cf_fbb *b, const cf_field *f, uint8_t *tag, cf_fbref *ref,
                      cflight_error *err) {
  const cf_type *t = &f->type;
  switch (t->id) {
    case CF_NA:
      *tag = T_NULL;
      *ref = empty_table(b);
      return CFLIGHT_OK;
    case CF_BOOL:
      *tag = T_BOOL;
      *ref = empty_table(b);
      return CFLIGHT_OK;
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_UINT64:
      *tag = T_INT;
      *ref = int_table(b, t);
      return CFLIGHT_OK;
    case CF_HALF_FLOAT:
    case CF_FLOAT:
    case CF_DOUBLE:
      *tag = T_FLOAT;
      *ref = unit_table(b, t->id == CF_HALF_FLOAT ? 0 : t->id == CF_FLOAT ? 1 : 2);
      return CFLIGHT_OK;
    case CF_BINARY:
      *tag = T_BINARY;
      break;
    case CF_STRING:
      *tag = T_UTF8;
      break;
    case CF_LARGE_BINARY:
      *tag = T_LARGE_BINARY;
      break;
    case CF_LARGE_STRING:
      *tag = T_LARGE_UTF8;
      break;
    case CF_BINARY_VIEW:
      *tag = T_BINARY_VIEW;
      break;
    case CF_STRING_VIEW:
      *tag = T_UTF8_VIEW;
      break;
    case CF_LIST:
      *tag = T_LIST;
      break;
    case CF_LARGE_LIST:
      *tag = T_LARGE_LIST;
      break;
    case CF_LIST_VIEW:
      *tag = T_LIST_VIEW;
      break;
    case CF_LARGE_LIST_VIEW:
      *tag = T_LARGE_LIST_VIEW;
      break;
    case CF_STRUCT:
      *tag = T_STRUCT;
      break;
    case CF_RUN_END_ENCODED:
      *tag = T_RUN_END_ENCODED;
      break;
    case CF_FIXED_SIZE_BINARY:
    case CF_FIXED_SIZE_LIST:
      *tag = t->id == CF_FIXED_SIZE_BINARY ? T_FIXED_SIZE_BINARY : T_FIXED_SIZE_LIST;
      cf_fbb_table_start(b);
      cf_fbb_add_i32(b, 0, t->fixed_size);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      *tag = T_DECIMAL;
      cf_fbb_table_start(b);
      cf_fbb_add_i32(b, 0, t->precision);
      cf_fbb_add_i32(b, 1, t->scale);
      cf_fbb_add_i32(b, 2, t->bit_width);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    case CF_DATE32:
    case CF_DATE64:
      *tag = T_DATE;
      *ref = unit_table(b, t->id == CF_DATE32 ? 0 : 1);
      return CFLIGHT_OK;
    case CF_TIME32:
    case CF_TIME64:
      *tag = T_TIME;
      cf_fbb_table_start(b);
      cf_fbb_add_i16(b, 0, (int16_t)t->unit);
      cf_fbb_add_i32(b, 1, t->bit_width);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    case CF_TIMESTAMP: {
      *tag = T_TIMESTAMP;
      cf_fbref tz = 0;
      if (t->timezone != NULL && t->timezone_len > 0)
        tz = cf_fbb_string(b, t->timezone, (size_t)t->timezone_len);
      cf_fbb_table_start(b);
      cf_fbb_add_i16(b, 0, (int16_t)t->unit);
      if (tz != 0) cf_fbb_add_ref(b, 1, tz);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    }
    case CF_DURATION:
      *tag = T_DURATION;
      *ref = unit_table(b, (int16_t)t->unit);
      return CFLIGHT_OK;
    case CF_INTERVAL_MONTHS:
    case CF_INTERVAL_DAY_TIME:
    case CF_INTERVAL_MONTH_DAY_NANO:
      *tag = T_INTERVAL;
      *ref = unit_table(b, t->id == CF_INTERVAL_MONTHS ? 0 : t->id == CF_INTERVAL_DAY_TIME ? 1 : 2);
      return CFLIGHT_OK;
    case CF_MAP:
      *tag = T_MAP;
      cf_fbb_table_start(b);
      cf_fbb_add_u8(b, 0, (f->schema->flags & ARROW_FLAG_MAP_KEYS_SORTED) != 0);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      *tag = T_UNION;
      int32_t codes[128];
      for (int32_t i = 0; i < t->n_type_codes; i++)
        codes[i] = t->type_codes[i];
      cf_fbref ids = cf_fbb_vector(b, codes, (size_t)t->n_type_codes, 4, 4);
      cf_fbb_table_start(b);
      cf_fbb_add_i16(b, 0, t->id == CF_SPARSE_UNION ? 0 : 1);
      cf_fbb_add_ref(b, 1, ids);
      *ref = cf_fbb_table_end(b);
      return CFLIGHT_OK;
    }
    default:
      return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED, "schema: cannot write type %s",
                               cf_type_name(t->id));
  }
  *ref = empty_table(b);
  return CFLIGHT_OK;
}

static cf_fbref metadata_to_fb(cf_fbb *b, const char *metadata, bool *present, cflight_error *err) {
  int32_t n = cf_metadata_count(metadata);
  *present = false;
  if (n <= 0) return 0;
  cf_fbref *refs = malloc((size_t)n * sizeof(cf_fbref));
  if (refs == NULL) {
    b->failed = true;
    return 0;
  }
  cf_metadata_iter it;
  cf_kv kv;
  int32_t i = 0;
  cf_metadata_iter_init(&it, metadata);
  while (i < n && cf_metadata_next(&it, &kv)) {
    cf_fbref k = cf_fbb_string(b, kv.key, (size_t)kv.key_len);
    cf_fbref v = cf_fbb_string(b, kv.value, (size_t)kv.value_len);
    cf_fbb_table_start(b);
    cf_fbb_add_ref(b, 0, k);
    cf_fbb_add_ref(b, 1, v);
    refs[i++] = cf_fbb_table_end(b);
  }
  cf_fbref vec = cf_fbb_vector_refs(b, refs, (size_t)i);
  free(refs);
  *present = true;
  (void)err;
  return vec;
}

static int field_to_fb(cf_fbb *b, const cf_plan *plan, const cf_field *f, cf_fbref *out,
                       cflight_error *err) {
  const cf_field *value = f->dict != NULL ? f->dict : f;
  cf_fbref *kids = NULL;
  if (value->n_children > 0) {
    kids = malloc((size_t)value->n_children * sizeof(cf_fbref));
    if (kids == NULL) return CF_NOMEM(err, "schema");
  }
  for (int64_t i = 0; i < value->n_children; i++) {
    int rc = field_to_fb(b, plan, &value->children[i], &kids[i], err);
    if (rc != CFLIGHT_OK) {
      free(kids);
      return rc;
    }
  }
  cf_fbref children = cf_fbb_vector_refs(b, kids, (size_t)value->n_children);
  free(kids);
  uint8_t tag;
  cf_fbref type;
  CF_RETURN_NOT_OK(type_to_fb(b, value, &tag, &type, err));
  cf_fbref dict = 0;
  if (f->dict != NULL) {
    cf_fbref index = int_table(b, &f->type);
    cf_fbb_table_start(b);
    cf_fbb_add_i64(b, 0, plan->dicts[f->dict_slot].id);
    cf_fbb_add_ref(b, 1, index);
    cf_fbb_add_u8(b, 2, (f->schema->flags & ARROW_FLAG_DICTIONARY_ORDERED) != 0);
    dict = cf_fbb_table_end(b);
  }
  bool has_md;
  cf_fbref md = metadata_to_fb(b, f->schema->metadata, &has_md, err);
  cf_fbref name = 0;
  if (f->schema->name != NULL) name = cf_fbb_string(b, f->schema->name, strlen(f->schema->name));
  cf_fbb_table_start(b);
  if (f->schema->name != NULL) cf_fbb_add_ref(b, F_NAME, name);
  cf_fbb_add_u8(b, F_NULLABLE, (f->schema->flags & ARROW_FLAG_NULLABLE) != 0);
  cf_fbb_add_u8(b, F_TYPE_TYPE, tag);
  cf_fbb_add_ref(b, F_TYPE, type);
  if (f->dict != NULL) cf_fbb_add_ref(b, F_DICTIONARY, dict);
  cf_fbb_add_ref(b, F_CHILDREN, children);
  if (has_md) cf_fbb_add_ref(b, F_METADATA, md);
  *out = cf_fbb_table_end(b);
  return CFLIGHT_OK;
}

int cf_schema_to_flatbuf(cf_fbb *b, const cf_plan *plan, cf_fbref *out, cflight_error *err) {
  const cf_field *root = &plan->root;
  cf_fbref *cols = malloc((size_t)(root->n_children > 0 ? root->n_children : 1) * sizeof(cf_fbref));
  if (cols == NULL) return CF_NOMEM(err, "schema");
  for (int64_t i = 0; i < root->n_children; i++) {
    int rc = field_to_fb(b, plan, &root->children[i], &cols[i], err);
    if (rc != CFLIGHT_OK) {
      free(cols);
      return rc;
    }
  }
  cf_fbref fields = cf_fbb_vector_refs(b, cols, (size_t)root->n_children);
  free(cols);
  bool has_md;
  cf_fbref md = metadata_to_fb(b, plan->schema.metadata, &has_md, err);
  cf_fbb_table_start(b);
  cf_fbb_add_i16(b, 0, 0); /* little-endian */
  cf_fbb_add_ref(b, 1, fields);
  if (has_md) cf_fbb_add_ref(b, 2, md);
  *out = cf_fbb_table_end(b);
  return CFLIGHT_OK;
}

int cf_schema_message(cf_fbb *b, const cf_plan *plan, cflight_error *err) {
  cf_fbref schema;
  CF_RETURN_NOT_OK(cf_schema_to_flatbuf(b, plan, &schema, err));
  cf_fbb_table_start(b);
  cf_fbb_add_i16(b, 0, CF_MD_V5);
  cf_fbb_add_u8(b, 1, CF_MSG_SCHEMA);
  cf_fbb_add_ref(b, 2, schema);
  cf_fbb_add_i64(b, 3, 0);
  cf_fbref msg = cf_fbb_table_end(b);
  return cf_fbb_finish(b, msg, err);
}
