/* Integration JSON -> ArrowSchema + record batches. Every member is checked
 * before use, so a malformed file gives an error naming the file, the JSON
 * path of the offending member and what is wrong, never a crash. Buffers are
 * sized only from what the JSON actually holds (array and string lengths),
 * never from a number written in it. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <zlib.h>

#include "json_internal.h"

#define MAX_DEPTH 64
/* Row counts are int32 in Arrow's JSON and IPC writers; stay within that. */
#define MAX_COUNT INT32_MAX

typedef struct dict_entry {
  int64_t id;
  struct ArrowSchema *value_schema; /* inside the file's schema */
  char *field_name;                 /* first field using it, for messages */
  json_t *column;                   /* the (folded) FieldData; a reference we own */
  size_t entry_index;               /* position in "dictionaries", for messages */
  int state;                        /* 0 not built, 1 building, 2 built */
  cf_shared_array *array;
} dict_entry;

typedef struct field_dict {
  const struct ArrowSchema *field; /* a dictionary-encoded field of the schema */
  int64_t id;
} field_dict;

struct cf_json_file {
  struct ArrowSchema schema;
  int64_t n_batches;
  cf_shared_array **batches;
  int64_t *dict_ids; /* per dictionary-encoded field, in pre-order */
  int64_t n_dict_ids;
};

typedef struct reader {
  const char *source;
  cflight_error *err;
  cf_path path;
  dict_entry *dicts;
  size_t n_dicts;
  field_dict *fields;
  size_t n_fields;
} reader;

/* ---- Errors ------------------------------------------------------------------ */

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(reader *r, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (r->path.len > 0) {
    /* Keep the message whole: a very deep path loses its start, not the message. */
    const char *path = r->path.buf;
    bool cut = r->path.len > 300;
    if (cut) path += r->path.len - 300;
    return cflight_error_set(r->err, CFLIGHT_INVALID_DATA, "%s: %s%s: %s", r->source,
                             cut ? "..." : "", path, msg);
  }
  return cflight_error_set(r->err, CFLIGHT_INVALID_DATA, "%s: %s", r->source, msg);
}

static int nomem(reader *r, const char *what) {
  return cflight_error_set(r->err, CFLIGHT_NO_MEMORY, "%s: out of memory allocating %s", r->source,
                           what);
}

/* Re-labels an error from a lower layer with the file and path. */
static int wrap(reader *r, int rc) {
  if (rc == CFLIGHT_OK || r->err == NULL) return rc;
  char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
  snprintf(msg, sizeof(msg), "%s", r->err->message);
  int code = rc == CFLIGHT_NO_MEMORY ? rc : CFLIGHT_INVALID_DATA;
  if (r->path.len > 0)
    return cflight_error_set(r->err, code, "%s: %s: %s", r->source, r->path.buf, msg);
  return cflight_error_set(r->err, code, "%s: %s", r->source, msg);
}

static const char *kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "an array";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
      return "an integer";
    case JSON_REAL:
      return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    case JSON_NULL:
      return "null";
  }
  return "unknown";
}

/* ---- Member access ------------------------------------------------------------- */

/* The member `key` of obj, or NULL with an error when required and absent. */
static json_t *member(reader *r, const json_t *obj, const char *key, bool required) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL && required) fail(r, "missing member \"%s\"", key);
  return v;
}

static int get_string(reader *r, const json_t *obj, const char *key, const char **out) {
  json_t *v = member(r, obj, key, true);
  if (v == NULL) return CFLIGHT_INVALID_DATA;
  if (!json_is_string(v)) return fail(r, "\"%s\" must be a string, not %s", key, kind(v));
  *out = json_string_value(v);
  return CFLIGHT_OK;
}

static int get_bool(reader *r, const json_t *obj, const char *key, bool required, bool *out) {
  json_t *v = member(r, obj, key, required);
  if (v == NULL) return required ? CFLIGHT_INVALID_DATA : CFLIGHT_OK;
  if (!json_is_boolean(v)) return fail(r, "\"%s\" must be true or false, not %s", key, kind(v));
  *out = json_is_true(v);
  return CFLIGHT_OK;
}

static int get_int(reader *r, const json_t *obj, const char *key, int64_t min, int64_t max,
                   int64_t *out) {
  json_t *v = member(r, obj, key, true);
  if (v == NULL) return CFLIGHT_INVALID_DATA;
  if (!json_is_integer(v)) return fail(r, "\"%s\" must be an integer, not %s", key, kind(v));
  json_int_t x = json_integer_value(v);
  if (x < min || x > max) {
    return fail(r, "\"%s\" is %lld, outside [%lld, %lld]", key, (long long)x, (long long)min,
                (long long)max);
  }
  *out = (int64_t)x;
  return CFLIGHT_OK;
}

/* The array member `key`; when expected >= 0 it must have that many elements. */
static int get_array(reader *r, const json_t *obj, const char *key, int64_t expected,
                     json_t **out) {
  json_t *v = member(r, obj, key, true);
  if (v == NULL) return CFLIGHT_INVALID_DATA;
  if (!json_is_array(v)) return fail(r, "\"%s\" must be an array, not %s", key, kind(v));
  if (expected >= 0 && (int64_t)json_array_size(v) != expected) {
    return fail(r, "\"%s\" has %zu elements, expected %lld", key, json_array_size(v),
                (long long)expected);
  }
  *out = v;
  return CFLIGHT_OK;
}

/* ---- Scalars ------------------------------------------------------------------- */

/* "KEY[i]" for messages, or KEY alone when i is NO_INDEX. */
#define NO_INDEX SIZE_MAX
#define AT(key, i) element_name((char[96]){0}, (key), (i))

static const char *element_name(char *buf, const char *key, size_t i) {
  if (i == NO_INDEX) return key;
  snprintf(buf, 96, "%.60s[%zu]", key, i);
  return buf;
}

/* A signed integer from a JSON integer or a decimal string (64-bit values are strings). */
static int value_i64(reader *r, const char *key, size_t i, const json_t *v, int64_t min,
                     int64_t max, int64_t *out) {
  int64_t x;
  if (json_is_integer(v)) {
    x = (int64_t)json_integer_value(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long parsed = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || (*s != '-' && (*s < '0' || *s > '9'))) {
      return fail(r, "%s is \"%.40s\", not an integer", AT(key, i), s);
    }
    x = (int64_t)parsed;
  } else {
    return fail(r, "%s must be an integer (or a string holding one), not %s", AT(key, i), kind(v));
  }
  if (x < min || x > max) {
    return fail(r, "%s is %lld, outside [%lld, %lld]", AT(key, i), (long long)x, (long long)min,
                (long long)max);
  }
  *out = x;
  return CFLIGHT_OK;
}

static int value_u64(reader *r, const char *key, size_t i, const json_t *v, uint64_t *out) {
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 0) {
      return fail(r, "%s is %lld, but the type is unsigned", AT(key, i),
                  (long long)json_integer_value(v));
    }
    *out = (uint64_t)json_integer_value(v);
    return CFLIGHT_OK;
  }
  if (!json_is_string(v)) {
    return fail(r, "%s must be an integer (or a string holding one), not %s", AT(key, i), kind(v));
  }
  const char *s = json_string_value(v);
  char *end;
  errno = 0;
  unsigned long long parsed = strtoull(s, &end, 10);
  if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE) {
    return fail(r, "%s is \"%.40s\", not an unsigned 64-bit integer", AT(key, i), s);
  }
  *out = (uint64_t)parsed;
  return CFLIGHT_OK;
}

static int value_double(reader *r, const char *key, size_t i, const json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return CFLIGHT_OK;
  }
  if (json_is_string(v)) {
    /* Plain JSON cannot hold non-finite numbers; writers spell them as strings. */
    const char *s = json_string_value(v);
    if (strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0) {
      *out = NAN;
      return CFLIGHT_OK;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "inf") == 0) {
      *out = INFINITY;
      return CFLIGHT_OK;
    }
    if (strcmp(s, "-Infinity") == 0 || strcmp(s, "-inf") == 0) {
      *out = -INFINITY;
      return CFLIGHT_OK;
    }
    char *end;
    double d = strtod(s, &end);
    if (*s != '\0' && *end == '\0') {
      *out = d;
      return CFLIGHT_OK;
    }
    return fail(r, "%s is \"%.40s\", not a number", AT(key, i), s);
  }
  return fail(r, "%s must be a number, not %s", AT(key, i), kind(v));
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes 2*n hex digits into out. */
static int decode_hex(reader *r, const char *what, size_t i, const char *s, size_t n,
                      uint8_t *out) {
  for (size_t k = 0; k < n; k++) {
    int hi = hex_digit(s[2 * k]), lo = hex_digit(s[2 * k + 1]);
    if (hi < 0 || lo < 0) {
      return fail(r, "%s[%zu] is not hexadecimal (bad digits at character %zu)", what, i, 2 * k);
    }
    out[k] = (uint8_t)(hi << 4 | lo);
  }
  return CFLIGHT_OK;
}

/* ---- Schema ------------------------------------------------------------------ */

static int register_dict(reader *r, int64_t id, struct ArrowSchema *field,
                         struct ArrowSchema *value_schema) {
  field_dict *fd = realloc(r->fields, (r->n_fields + 1) * sizeof(*fd));
  if (fd == NULL) return nomem(r, "dictionary fields");
  r->fields = fd;
  r->fields[r->n_fields++] = (field_dict){field, id};
  for (size_t i = 0; i < r->n_dicts; i++) {
    if (r->dicts[i].id != id) continue;
    /* A shared dictionary: every field using it must agree on the value type. */
    if (strcmp(r->dicts[i].value_schema->format, value_schema->format) != 0) {
      return fail(r,
                  "dictionary id %lld is used by field '%s' with value type '%s' and here "
                  "with '%s'",
                  (long long)id, r->dicts[i].field_name, r->dicts[i].value_schema->format,
                  value_schema->format);
    }
    return CFLIGHT_OK;
  }
  dict_entry *d = realloc(r->dicts, (r->n_dicts + 1) * sizeof(*d));
  if (d == NULL) return nomem(r, "dictionaries");
  r->dicts = d;
  dict_entry *e = &r->dicts[r->n_dicts];
  memset(e, 0, sizeof(*e));
  e->id = id;
  e->value_schema = value_schema;
  e->field_name = cf_strdup(field->name != NULL ? field->name : "");
  if (e->field_name == NULL) return nomem(r, "field name");
  r->n_dicts++;
  return CFLIGHT_OK;
}

static dict_entry *find_dict(reader *r, int64_t id) {
  for (size_t i = 0; i < r->n_dicts; i++)
    if (r->dicts[i].id == id) return &r->dicts[i];
  return NULL;
}

static int parse_metadata(reader *r, const json_t *obj, char **out) {
  *out = NULL;
  json_t *md = json_object_get(obj, "metadata");
  if (md == NULL || json_is_null(md)) return CFLIGHT_OK;
  size_t saved = cf_path_push(&r->path, ".metadata");
  if (!json_is_array(md)) {
    int rc = fail(r, "must be an array of {\"key\", \"value\"} objects or null, not %s", kind(md));
    cf_path_pop(&r->path, saved);
    return rc;
  }
  size_t n = json_array_size(md);
  cf_kv *kvs = n <= INT32_MAX / 2 ? cf_calloc(n, sizeof(cf_kv)) : NULL;
  int rc = n > INT32_MAX / 2 ? fail(r, "too many metadata entries")
           : kvs == NULL     ? nomem(r, "metadata")
                             : CFLIGHT_OK;
  for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
    json_t *kv = json_array_get(md, i);
    size_t s2 = cf_path_push(&r->path, "[%zu]", i);
    if (!json_is_object(kv)) {
      rc = fail(r, "must be an object with \"key\" and \"value\", not %s", kind(kv));
    } else {
      json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
      if (!json_is_string(k) || !json_is_string(v)) {
        rc = fail(r, "\"key\" and \"value\" must both be strings");
      } else if (json_string_length(k) > INT32_MAX || json_string_length(v) > INT32_MAX) {
        rc = fail(r, "metadata entry too long");
      } else {
        kvs[i] = (cf_kv){json_string_value(k), (int32_t)json_string_length(k), json_string_value(v),
                         (int32_t)json_string_length(v)};
      }
    }
    cf_path_pop(&r->path, s2);
  }
  if (rc == CFLIGHT_OK) rc = wrap(r, cf_metadata_build(kvs, (int32_t)n, out, r->err));
  free(kvs);
  cf_path_pop(&r->path, saved);
  return rc;
}

static int time_unit(reader *r, const json_t *type, char *out) {
  const char *unit;
  CF_RETURN_NOT_OK(get_string(r, type, "unit", &unit));
  if (strcmp(unit, "SECOND") == 0)
    *out = 's';
  else if (strcmp(unit, "MILLISECOND") == 0)
    *out = 'm';
  else if (strcmp(unit, "MICROSECOND") == 0)
    *out = 'u';
  else if (strcmp(unit, "NANOSECOND") == 0)
    *out = 'n';
  else
    return fail(r, "unknown time unit \"%s\" (SECOND, MILLISECOND, MICROSECOND or NANOSECOND)",
                unit);
  return CFLIGHT_OK;
}

static int int_format(reader *r, const json_t *type, char *buf) {
  int64_t bits;
  bool is_signed;
  CF_RETURN_NOT_OK(get_int(r, type, "bitWidth", 0, 1024, &bits));
  CF_RETURN_NOT_OK(get_bool(r, type, "isSigned", true, &is_signed));
  const char *f = cf_int_format(bits, is_signed);
  if (f == NULL) return fail(r, "int bitWidth must be 8, 16, 32 or 64, not %lld", (long long)bits);
  strcpy(buf, f);
  return CFLIGHT_OK;
}

/* How many children a JSON type name takes: -1 any, else exactly that many. */
static int expected_children(const char *name) {
  static const char *one[] = {"list",          "largelist",     "listview",
                              "largelistview", "fixedsizelist", "map"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(one); i++)
    if (strcmp(name, one[i]) == 0) return 1;
  if (strcmp(name, "runendencoded") == 0) return 2;
  if (strcmp(name, "struct") == 0 || strcmp(name, "union") == 0) return -1;
  return 0;
}

/* The C Data Interface format string of a JSON "type" object. */
static int type_format(reader *r, const json_t *type, size_t n_children, char *buf, size_t cap,
                       bool *keys_sorted) {
  const char *name;
  size_t saved = cf_path_push(&r->path, ".type");
  int rc = CFLIGHT_OK;
  if (!json_is_object(type)) {
    rc = fail(r, "must be an object, not %s", kind(type));
    goto done;
  }
  if ((rc = get_string(r, type, "name", &name)) != CFLIGHT_OK) goto done;
  int want = expected_children(name);
  if (want >= 0 && (size_t)want != n_children) {
    /* Checked against the field's "children", one level up. */
    cf_path_pop(&r->path, saved);
    return fail(r, "a field of type \"%s\" must have %d child field(s), this one has %zu", name,
                want, n_children);
  }
  char unit;
  int64_t v1, v2, v3;
  if (strcmp(name, "null") == 0) {
    snprintf(buf, cap, "n");
  } else if (strcmp(name, "bool") == 0) {
    snprintf(buf, cap, "b");
  } else if (strcmp(name, "int") == 0) {
    rc = int_format(r, type, buf);
  } else if (strcmp(name, "floatingpoint") == 0) {
    const char *p;
    if ((rc = get_string(r, type, "precision", &p)) != CFLIGHT_OK) goto done;
    if (strcmp(p, "HALF") == 0)
      snprintf(buf, cap, "e");
    else if (strcmp(p, "SINGLE") == 0)
      snprintf(buf, cap, "f");
    else if (strcmp(p, "DOUBLE") == 0)
      snprintf(buf, cap, "g");
    else
      rc = fail(r, "floatingpoint precision must be HALF, SINGLE or DOUBLE, not \"%s\"", p);
  } else if (strcmp(name, "utf8") == 0) {
    snprintf(buf, cap, "u");
  } else if (strcmp(name, "binary") == 0) {
    snprintf(buf, cap, "z");
  } else if (strcmp(name, "largeutf8") == 0) {
    snprintf(buf, cap, "U");
  } else if (strcmp(name, "largebinary") == 0) {
    snprintf(buf, cap, "Z");
  } else if (strcmp(name, "utf8view") == 0) {
    snprintf(buf, cap, "vu");
  } else if (strcmp(name, "binaryview") == 0) {
    snprintf(buf, cap, "vz");
  } else if (strcmp(name, "fixedsizebinary") == 0) {
    if ((rc = get_int(r, type, "byteWidth", 0, INT32_MAX / 8, &v1)) != CFLIGHT_OK) goto done;
    snprintf(buf, cap, "w:%lld", (long long)v1);
  } else if (strncmp(name, "decimal", 7) == 0) {
    int64_t bits = 128;
    if (strcmp(name, "decimal32") == 0) {
      bits = 32;
    } else if (strcmp(name, "decimal64") == 0) {
      bits = 64;
    } else if (strcmp(name, "decimal256") == 0) {
      bits = 256;
    } else if (strcmp(name, "decimal") != 0 && strcmp(name, "decimal128") != 0) {
      rc = fail(r, "unknown type name \"%s\"", name);
      goto done;
    }
    if ((rc = get_int(r, type, "precision", 1, 76, &v1)) != CFLIGHT_OK) goto done;
    if ((rc = get_int(r, type, "scale", -1000, 1000, &v2)) != CFLIGHT_OK) goto done;
    if (json_object_get(type, "bitWidth") != NULL) {
      if ((rc = get_int(r, type, "bitWidth", 0, 1024, &v3)) != CFLIGHT_OK) goto done;
      if (v3 != 32 && v3 != 64 && v3 != 128 && v3 != 256) {
        rc = fail(r, "decimal bitWidth must be 32, 64, 128 or 256, not %lld", (long long)v3);
        goto done;
      }
      bits = v3;
    }
    snprintf(buf, cap, "d:%lld,%lld,%lld", (long long)v1, (long long)v2, (long long)bits);
  } else if (strcmp(name, "date") == 0) {
    const char *u;
    if ((rc = get_string(r, type, "unit", &u)) != CFLIGHT_OK) goto done;
    if (strcmp(u, "DAY") == 0)
      snprintf(buf, cap, "tdD");
    else if (strcmp(u, "MILLISECOND") == 0)
      snprintf(buf, cap, "tdm");
    else
      rc = fail(r, "date unit must be DAY or MILLISECOND, not \"%s\"", u);
  } else if (strcmp(name, "time") == 0) {
    if ((rc = time_unit(r, type, &unit)) != CFLIGHT_OK) goto done;
    int64_t want_bits = (unit == 's' || unit == 'm') ? 32 : 64;
    if (json_object_get(type, "bitWidth") != NULL) {
      if ((rc = get_int(r, type, "bitWidth", 0, 1024, &v1)) != CFLIGHT_OK) goto done;
      if (v1 != want_bits) {
        rc = fail(r, "a time in unit '%c' is %lld bits wide, not %lld", unit, (long long)want_bits,
                  (long long)v1);
        goto done;
      }
    }
    snprintf(buf, cap, "tt%c", unit);
  } else if (strcmp(name, "timestamp") == 0) {
    if ((rc = time_unit(r, type, &unit)) != CFLIGHT_OK) goto done;
    json_t *tz = json_object_get(type, "timezone");
    const char *tzs = "";
    if (tz != NULL && !json_is_null(tz)) {
      if (!json_is_string(tz)) {
        rc = fail(r, "\"timezone\" must be a string, not %s", kind(tz));
        goto done;
      }
      tzs = json_string_value(tz);
      if (strlen(tzs) > 256) {
        rc = fail(r, "\"timezone\" is too long");
        goto done;
      }
    }
    snprintf(buf, cap, "ts%c:%s", unit, tzs);
  } else if (strcmp(name, "duration") == 0) {
    if ((rc = time_unit(r, type, &unit)) != CFLIGHT_OK) goto done;
    snprintf(buf, cap, "tD%c", unit);
  } else if (strcmp(name, "interval") == 0) {
    const char *u;
    if ((rc = get_string(r, type, "unit", &u)) != CFLIGHT_OK) goto done;
    if (strcmp(u, "YEAR_MONTH") == 0)
      snprintf(buf, cap, "tiM");
    else if (strcmp(u, "DAY_TIME") == 0)
      snprintf(buf, cap, "tiD");
    else if (strcmp(u, "MONTH_DAY_NANO") == 0)
      snprintf(buf, cap, "tin");
    else
      rc = fail(r, "interval unit must be YEAR_MONTH, DAY_TIME or MONTH_DAY_NANO, not \"%s\"", u);
  } else if (strcmp(name, "list") == 0) {
    snprintf(buf, cap, "+l");
  } else if (strcmp(name, "largelist") == 0) {
    snprintf(buf, cap, "+L");
  } else if (strcmp(name, "listview") == 0) {
    snprintf(buf, cap, "+vl");
  } else if (strcmp(name, "largelistview") == 0) {
    snprintf(buf, cap, "+vL");
  } else if (strcmp(name, "fixedsizelist") == 0) {
    if ((rc = get_int(r, type, "listSize", 0, INT32_MAX, &v1)) != CFLIGHT_OK) goto done;
    snprintf(buf, cap, "+w:%lld", (long long)v1);
  } else if (strcmp(name, "struct") == 0) {
    snprintf(buf, cap, "+s");
  } else if (strcmp(name, "map") == 0) {
    if ((rc = get_bool(r, type, "keysSorted", false, keys_sorted)) != CFLIGHT_OK) goto done;
    snprintf(buf, cap, "+m");
  } else if (strcmp(name, "runendencoded") == 0) {
    snprintf(buf, cap, "+r");
  } else if (strcmp(name, "union") == 0) {
    const char *mode;
    json_t *ids;
    if ((rc = get_string(r, type, "mode", &mode)) != CFLIGHT_OK) goto done;
    char m;
    if (strcmp(mode, "SPARSE") == 0) {
      m = 's';
    } else if (strcmp(mode, "DENSE") == 0) {
      m = 'd';
    } else {
      rc = fail(r, "union mode must be SPARSE or DENSE, not \"%s\"", mode);
      goto done;
    }
    if ((rc = get_array(r, type, "typeIds", (int64_t)n_children, &ids)) != CFLIGHT_OK) {
      if (json_is_array(json_object_get(type, "typeIds"))) {
        rc = fail(r, "a union needs one type id per child: %zu typeIds for %zu children",
                  json_array_size(json_object_get(type, "typeIds")), n_children);
      }
      goto done;
    }
    size_t len = (size_t)snprintf(buf, cap, "+u%c:", m);
    for (size_t i = 0; i < n_children; i++) {
      json_t *id = json_array_get(ids, i);
      if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 127) {
        rc = fail(r, "typeIds[%zu] must be an integer in [0, 127]", i);
        goto done;
      }
      for (size_t k = 0; k < i; k++) {
        if (json_integer_value(json_array_get(ids, k)) == json_integer_value(id)) {
          rc = fail(r, "typeIds[%zu] repeats type id %lld", i, (long long)json_integer_value(id));
          goto done;
        }
      }
      len += (size_t)snprintf(buf + len, cap - len, i ? ",%lld" : "%lld",
                              (long long)json_integer_value(id));
    }
  } else {
    rc = fail(r, "unknown type name \"%s\"", name);
  }
done:
  cf_path_pop(&r->path, saved);
  return rc;
}

static int parse_field(reader *r, const json_t *jf, struct ArrowSchema *out, int depth);

static int parse_children(reader *r, const json_t *children, struct ArrowSchema *parent,
                          int depth) {
  for (size_t i = 0; i < json_array_size(children); i++) {
    size_t saved = cf_path_push(&r->path, ".children[%zu]", i);
    int rc = parse_field(r, json_array_get(children, i), parent->children[i], depth + 1);
    cf_path_pop(&r->path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

static int parse_field(reader *r, const json_t *jf, struct ArrowSchema *out, int depth) {
  if (depth > MAX_DEPTH) return fail(r, "fields nested more than %d deep", MAX_DEPTH);
  if (!json_is_object(jf)) return fail(r, "a field must be an object, not %s", kind(jf));
  const char *name;
  bool nullable;
  CF_RETURN_NOT_OK(get_string(r, jf, "name", &name));
  /* Name the field in the path from here on, which helps more than an index alone. */
  size_t saved = cf_path_push(&r->path, "(\"%.64s\")", name);
  int rc = get_bool(r, jf, "nullable", true, &nullable);
  json_t *children = json_object_get(jf, "children");
  if (rc == CFLIGHT_OK && children != NULL && !json_is_array(children)) {
    rc = fail(r, "\"children\" must be an array, not %s", kind(children));
  }
  json_t *type = member(r, jf, "type", true);
  if (rc == CFLIGHT_OK && type == NULL) rc = CFLIGHT_INVALID_DATA;
  size_t n_children = children != NULL ? json_array_size(children) : 0;
  char format[1024];
  bool keys_sorted = false;
  if (rc == CFLIGHT_OK) rc = type_format(r, type, n_children, format, sizeof(format), &keys_sorted);
  json_t *dict = json_object_get(jf, "dictionary");
  if (dict != NULL && json_is_null(dict)) dict = NULL;
  if (rc == CFLIGHT_OK && dict != NULL) {
    /* Dictionary-encoded: the field's format is the index type; the JSON
     * "type" and "children" describe the dictionary's values. */
    size_t s2 = cf_path_push(&r->path, ".dictionary");
    int64_t id = 0;
    bool ordered = false;
    char index_format[8];
    json_t *index_type = NULL;
    if (!json_is_object(dict)) {
      rc = fail(r, "must be an object, not %s", kind(dict));
    } else {
      rc = get_int(r, dict, "id", INT64_MIN, INT64_MAX, &id);
      if (rc == CFLIGHT_OK) rc = get_bool(r, dict, "isOrdered", false, &ordered);
      if (rc == CFLIGHT_OK) index_type = member(r, dict, "indexType", true);
      if (rc == CFLIGHT_OK && index_type == NULL) rc = CFLIGHT_INVALID_DATA;
      if (rc == CFLIGHT_OK && !json_is_object(index_type)) {
        rc = fail(r, "\"indexType\" must be an object, not %s", kind(index_type));
      }
      if (rc == CFLIGHT_OK) {
        const char *iname;
        size_t s3 = cf_path_push(&r->path, ".indexType");
        rc = get_string(r, index_type, "name", &iname);
        if (rc == CFLIGHT_OK && strcmp(iname, "int") != 0) {
          rc = fail(r, "dictionary indices must be of type \"int\", not \"%s\"", iname);
        }
        if (rc == CFLIGHT_OK) rc = int_format(r, index_type, index_format);
        cf_path_pop(&r->path, s3);
      }
    }
    if (rc == CFLIGHT_OK) rc = wrap(r, cf_schema_init(out, index_format, name, 0, r->err));
    struct ArrowSchema *values = NULL;
    if (rc == CFLIGHT_OK && (values = cf_schema_alloc_dictionary(out, r->err)) == NULL) {
      rc = nomem(r, "dictionary schema");
    }
    if (rc == CFLIGHT_OK) rc = wrap(r, cf_schema_init(values, format, NULL, n_children, r->err));
    if (rc == CFLIGHT_OK) {
      out->flags =
          (nullable ? ARROW_FLAG_NULLABLE : 0) | (ordered ? ARROW_FLAG_DICTIONARY_ORDERED : 0);
      if (keys_sorted) values->flags |= ARROW_FLAG_MAP_KEYS_SORTED;
      rc = register_dict(r, id, out, values);
    }
    cf_path_pop(&r->path, s2);
    if (rc == CFLIGHT_OK && n_children > 0) rc = parse_children(r, children, values, depth);
  } else if (rc == CFLIGHT_OK) {
    rc = wrap(r, cf_schema_init(out, format, name, (int64_t)n_children, r->err));
    if (rc == CFLIGHT_OK) {
      out->flags =
          (nullable ? ARROW_FLAG_NULLABLE : 0) | (keys_sorted ? ARROW_FLAG_MAP_KEYS_SORTED : 0);
      if (n_children > 0) rc = parse_children(r, children, out, depth);
    }
  }
  char *metadata = NULL;
  if (rc == CFLIGHT_OK) rc = parse_metadata(r, jf, &metadata);
  if (rc == CFLIGHT_OK && metadata != NULL)
    rc = wrap(r, cf_schema_set_metadata(out, metadata, r->err));
  free(metadata);
  cf_path_pop(&r->path, saved);
  return rc;
}

static int parse_schema(reader *r, const json_t *root, struct ArrowSchema *out) {
  json_t *schema = member(r, root, "schema", true);
  if (schema == NULL) return CFLIGHT_INVALID_DATA;
  size_t saved = cf_path_push(&r->path, "schema");
  json_t *fields = NULL;
  int rc = CFLIGHT_OK;
  if (!json_is_object(schema)) {
    rc = fail(r, "must be an object, not %s", kind(schema));
  } else {
    rc = get_array(r, schema, "fields", -1, &fields);
  }
  if (rc == CFLIGHT_OK) {
    rc = wrap(r, cf_schema_init(out, "+s", "", (int64_t)json_array_size(fields), r->err));
  }
  if (rc == CFLIGHT_OK) out->flags = 0;
  for (size_t i = 0; rc == CFLIGHT_OK && i < json_array_size(fields); i++) {
    size_t s2 = cf_path_push(&r->path, ".fields[%zu]", i);
    rc = parse_field(r, json_array_get(fields, i), out->children[i], 1);
    cf_path_pop(&r->path, s2);
  }
  char *metadata = NULL;
  if (rc == CFLIGHT_OK) rc = parse_metadata(r, schema, &metadata);
  if (rc == CFLIGHT_OK && metadata != NULL)
    rc = wrap(r, cf_schema_set_metadata(out, metadata, r->err));
  free(metadata);
  /* Catches what the per-field checks leave to the type system: a map's
   * entries struct, run-end types, and so on. */
  if (rc == CFLIGHT_OK) rc = wrap(r, cf_schema_validate(out, r->err));
  cf_path_pop(&r->path, saved);
  return rc;
}

/* ---- Columns ----------------------------------------------------------------- */

static int read_column(reader *r, const struct ArrowSchema *field, const json_t *col,
                       struct ArrowArray *out, int depth);

static void *alloc_buf(reader *r, struct ArrowArray *a, int64_t i, int64_t size) {
  if (size < 0 || size > CF_MAX_UNTRUSTED_ALLOC) {
    fail(r, "buffer of %lld bytes is too large", (long long)size);
    return NULL;
  }
  void *p = cf_array_alloc_buffer(a, i, (size_t)size, r->err);
  if (p == NULL) nomem(r, "array buffer");
  return p;
}

/* VALIDITY -> buffer 0 (left NULL when nothing is null) and null_count. */
static int read_validity(reader *r, const json_t *col, struct ArrowArray *out) {
  json_t *v;
  CF_RETURN_NOT_OK(get_array(r, col, "VALIDITY", out->length, &v));
  int64_t nulls = 0;
  for (size_t i = 0; i < json_array_size(v); i++) {
    json_t *e = json_array_get(v, i);
    bool valid;
    if (json_is_integer(e) && (json_integer_value(e) == 0 || json_integer_value(e) == 1)) {
      valid = json_integer_value(e) == 1;
    } else if (json_is_boolean(e)) {
      valid = json_is_true(e);
    } else {
      return fail(r, "VALIDITY[%zu] must be 0 or 1, not %s", i, kind(e));
    }
    if (!valid) nulls++;
  }
  out->null_count = nulls;
  if (nulls == 0) return CFLIGHT_OK;
  uint8_t *bits = alloc_buf(r, out, 0, (out->length + 7) / 8);
  if (bits == NULL) return CFLIGHT_NO_MEMORY;
  for (size_t i = 0; i < json_array_size(v); i++) {
    json_t *e = json_array_get(v, i);
    if ((json_is_integer(e) && json_integer_value(e) == 1) || json_is_true(e))
      bits[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  return CFLIGHT_OK;
}

static bool is_valid(const struct ArrowArray *a, int64_t i) {
  const uint8_t *bits = a->buffers != NULL ? a->buffers[0] : NULL;
  return bits == NULL || ((bits[i / 8] >> (i % 8)) & 1);
}

/* Integer-valued buffers (ints, temporal types, offsets, type ids) of `width` bytes. */
static int read_ints(reader *r, const json_t *arr, const char *key, int width, bool is_signed,
                     uint8_t *dst) {
  int64_t min = 0, max = 0;
  if (is_signed) {
    max = width == 8 ? INT64_MAX : ((int64_t)1 << (width * 8 - 1)) - 1;
    min = -max - 1;
  } else if (width < 8) {
    max = ((int64_t)1 << (width * 8)) - 1;
  }
  for (size_t i = 0; i < json_array_size(arr); i++) {
    json_t *e = json_array_get(arr, i);
    if (!is_signed && width == 8) {
      uint64_t u = 0;
      CF_RETURN_NOT_OK(value_u64(r, key, i, e, &u));
      memcpy(dst + i * 8, &u, 8);
      continue;
    }
    int64_t x;
    CF_RETURN_NOT_OK(value_i64(r, key, i, e, min, max, &x));
    switch (width) {
      case 1: {
        uint8_t b = (uint8_t)x;
        dst[i] = b;
        break;
      }
      case 2: {
        uint16_t h = (uint16_t)x;
        memcpy(dst + i * 2, &h, 2);
        break;
      }
      case 4: {
        uint32_t w = (uint32_t)x;
        memcpy(dst + i * 4, &w, 4);
        break;
      }
      default:
        memcpy(dst + i * 8, &x, 8);
        break;
    }
  }
  return CFLIGHT_OK;
}

/* An integer buffer from member `key` with `n` elements into buffers[index]. */
static int read_int_member(reader *r, const json_t *col, const char *key, int64_t n, int width,
                           bool is_signed, struct ArrowArray *out, int64_t index, uint8_t **data) {
  json_t *arr;
  CF_RETURN_NOT_OK(get_array(r, col, key, n, &arr));
  uint8_t *dst = alloc_buf(r, out, index, n * width);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  if (data != NULL) *data = dst;
  return read_ints(r, arr, key, width, is_signed, dst);
}

static int64_t load_offset(const uint8_t *p, int64_t i, int width) {
  if (width == 4) {
    int32_t v;
    memcpy(&v, p + i * 4, 4);
    return v;
  }
  int64_t v;
  memcpy(&v, p + i * 8, 8);
  return v;
}

static void store_offset(uint8_t *p, int64_t i, int width, int64_t v) {
  if (width == 4) {
    int32_t w = (int32_t)v;
    memcpy(p + i * 4, &w, 4);
  } else {
    memcpy(p + i * 8, &v, 8);
  }
}

/* OFFSET for binary and list types: count + 1 entries (an empty array is
 * accepted for count 0), non-negative and non-decreasing. */
static int read_offsets(reader *r, const json_t *col, struct ArrowArray *out, int width,
                        uint8_t **offsets) {
  json_t *arr;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "OFFSET", -1, &arr));
  if (!(n == 0 && json_array_size(arr) == 0) && (int64_t)json_array_size(arr) != n + 1) {
    return fail(r, "\"OFFSET\" has %zu elements, expected %lld (count + 1)", json_array_size(arr),
                (long long)(n + 1));
  }
  uint8_t *dst = alloc_buf(r, out, 1, (n + 1) * width);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  CF_RETURN_NOT_OK(read_ints(r, arr, "OFFSET", width, true, dst));
  for (int64_t i = 0; i <= n; i++) {
    int64_t o = load_offset(dst, i, width);
    if (o < 0) return fail(r, "OFFSET[%lld] is negative (%lld)", (long long)i, (long long)o);
    if (i > 0 && o < load_offset(dst, i - 1, width)) {
      return fail(r, "OFFSET[%lld] = %lld is less than the offset before it", (long long)i,
                  (long long)o);
    }
  }
  *offsets = dst;
  return CFLIGHT_OK;
}

/* Bytes of one binary-like DATA element: a string for UTF-8 types, hex otherwise. */
static int element_bytes(reader *r, const char *key, size_t i, const json_t *e, bool utf8,
                         size_t *len) {
  if (!json_is_string(e)) return fail(r, "%s[%zu] must be a string, not %s", key, i, kind(e));
  size_t n = json_string_length(e);
  if (utf8) {
    *len = n;
    return CFLIGHT_OK;
  }
  if (n % 2 != 0) return fail(r, "%s[%zu] has an odd number of hex digits", key, i);
  *len = n / 2;
  return CFLIGHT_OK;
}

static int copy_element(reader *r, const char *key, size_t i, const json_t *e, bool utf8,
                        uint8_t *dst) {
  if (utf8) {
    memcpy(dst, json_string_value(e), json_string_length(e));
    return CFLIGHT_OK;
  }
  return decode_hex(r, key, i, json_string_value(e), json_string_length(e) / 2, dst);
}

static int read_binary(reader *r, const json_t *col, struct ArrowArray *out, int width, bool utf8) {
  json_t *data;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  uint8_t *offsets;
  if (json_object_get(col, "OFFSET") != NULL) {
    CF_RETURN_NOT_OK(read_offsets(r, col, out, width, &offsets));
  } else {
    /* Not in the format, but the offsets follow from DATA alone. */
    offsets = alloc_buf(r, out, 1, (n + 1) * width);
    if (offsets == NULL) return CFLIGHT_NO_MEMORY;
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
      size_t len;
      CF_RETURN_NOT_OK(element_bytes(r, "DATA", (size_t)i, json_array_get(data, i), utf8, &len));
      pos += (int64_t)len;
      if (width == 4 && pos > INT32_MAX) return fail(r, "more than 2 GiB of DATA");
      store_offset(offsets, i + 1, width, pos);
    }
  }
  /* Offsets need not start at 0 (a slice); rebase them so that the data
   * buffer holds only what DATA holds. */
  int64_t base = load_offset(offsets, 0, width);
  for (int64_t i = 0; i <= n; i++)
    store_offset(offsets, i, width, load_offset(offsets, i, width) - base);
  for (int64_t i = 0; i < n; i++) {
    size_t len;
    CF_RETURN_NOT_OK(element_bytes(r, "DATA", (size_t)i, json_array_get(data, i), utf8, &len));
    int64_t want = load_offset(offsets, i + 1, width) - load_offset(offsets, i, width);
    if ((int64_t)len != want) {
      return fail(r, "DATA[%lld] has %zu bytes but OFFSET gives it %lld", (long long)i, len,
                  (long long)want);
    }
  }
  uint8_t *bytes = alloc_buf(r, out, 2, load_offset(offsets, n, width));
  if (bytes == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    CF_RETURN_NOT_OK(copy_element(r, "DATA", (size_t)i, json_array_get(data, i), utf8,
                                  bytes + load_offset(offsets, i, width)));
  }
  return CFLIGHT_OK;
}

static int read_views(reader *r, const json_t *col, struct ArrowArray *out, bool utf8,
                      int64_t n_variadic) {
  json_t *views, *bufs;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "VIEWS", n, &views));
  CF_RETURN_NOT_OK(get_array(r, col, "VARIADIC_DATA_BUFFERS", n_variadic, &bufs));
  int64_t *sizes = alloc_buf(r, out, 2 + n_variadic, n_variadic * 8);
  if (sizes == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t k = 0; k < n_variadic; k++) {
    json_t *b = json_array_get(bufs, (size_t)k);
    size_t len;
    CF_RETURN_NOT_OK(element_bytes(r, "VARIADIC_DATA_BUFFERS", (size_t)k, b, false, &len));
    uint8_t *dst = alloc_buf(r, out, 2 + k, (int64_t)len);
    if (dst == NULL) return CFLIGHT_NO_MEMORY;
    CF_RETURN_NOT_OK(copy_element(r, "VARIADIC_DATA_BUFFERS", (size_t)k, b, false, dst));
    sizes[k] = (int64_t)len;
  }
  uint8_t *dst = alloc_buf(r, out, 1, n * 16);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    json_t *v = json_array_get(views, (size_t)i);
    uint8_t *view = dst + i * 16;
    if (!json_is_object(v)) {
      if (!is_valid(out, i)) continue; /* a null slot: an all-zero view */
      return fail(r, "VIEWS[%lld] must be an object, not %s", (long long)i, kind(v));
    }
    size_t saved = cf_path_push(&r->path, ".VIEWS[%lld]", (long long)i);
    int64_t size;
    int rc = get_int(r, v, "SIZE", 0, INT32_MAX, &size);
    if (rc == CFLIGHT_OK) {
      int32_t s32 = (int32_t)size;
      memcpy(view, &s32, 4);
    }
    if (rc == CFLIGHT_OK && size <= 12) {
      json_t *in = member(r, v, "INLINED", true);
      size_t len = 0;
      if (in == NULL) {
        rc = CFLIGHT_INVALID_DATA;
      } else {
        rc = element_bytes(r, "INLINED", 0, in, utf8, &len);
      }
      if (rc == CFLIGHT_OK && (int64_t)len != size) {
        rc = fail(r, "INLINED holds %zu bytes but SIZE is %lld", len, (long long)size);
      }
      if (rc == CFLIGHT_OK) rc = copy_element(r, "INLINED", 0, in, utf8, view + 4);
    } else if (rc == CFLIGHT_OK) {
      const char *prefix;
      int64_t index, offset;
      rc = get_string(r, v, "PREFIX_HEX", &prefix);
      if (rc == CFLIGHT_OK && strlen(prefix) != 8) {
        rc = fail(r, "PREFIX_HEX must be 8 hex digits, not \"%.20s\"", prefix);
      }
      if (rc == CFLIGHT_OK) rc = decode_hex(r, "PREFIX_HEX", 0, prefix, 4, view + 4);
      if (rc == CFLIGHT_OK) rc = get_int(r, v, "BUFFER_INDEX", 0, INT32_MAX, &index);
      if (rc == CFLIGHT_OK) rc = get_int(r, v, "OFFSET", 0, INT32_MAX, &offset);
      if (rc == CFLIGHT_OK && index >= n_variadic) {
        rc = fail(r, "BUFFER_INDEX %lld is past the %lld VARIADIC_DATA_BUFFERS", (long long)index,
                  (long long)n_variadic);
      }
      if (rc == CFLIGHT_OK && offset + size > sizes[index]) {
        rc = fail(r,
                  "OFFSET %lld + SIZE %lld is past the end of variadic buffer %lld (%lld "
                  "bytes)",
                  (long long)offset, (long long)size, (long long)index, (long long)sizes[index]);
      }
      if (rc == CFLIGHT_OK) {
        int32_t i32 = (int32_t)index, o32 = (int32_t)offset;
        memcpy(view + 8, &i32, 4);
        memcpy(view + 12, &o32, 4);
      }
    }
    cf_path_pop(&r->path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

static int read_fixed_binary(reader *r, const json_t *col, struct ArrowArray *out, int64_t width) {
  json_t *data;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  for (int64_t i = 0; i < n; i++) {
    size_t len;
    CF_RETURN_NOT_OK(element_bytes(r, "DATA", (size_t)i, json_array_get(data, i), false, &len));
    if ((int64_t)len != width) {
      return fail(r, "DATA[%lld] has %zu bytes, the type's byteWidth is %lld", (long long)i, len,
                  (long long)width);
    }
  }
  uint8_t *dst = alloc_buf(r, out, 1, n * width);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++)
    CF_RETURN_NOT_OK(
        copy_element(r, "DATA", (size_t)i, json_array_get(data, i), false, dst + i * width));
  return CFLIGHT_OK;
}

static int read_decimals(reader *r, const json_t *col, struct ArrowArray *out, int32_t bits) {
  json_t *data;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  uint8_t *dst = alloc_buf(r, out, 1, n * (bits / 8));
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    json_t *e = json_array_get(data, (size_t)i);
    char tmp[32];
    const char *s;
    size_t len;
    if (json_is_string(e)) {
      s = json_string_value(e);
      len = json_string_length(e);
    } else if (json_is_integer(e)) {
      len = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(e));
      s = tmp;
    } else {
      return fail(r, "DATA[%lld] must be a string holding a decimal integer, not %s", (long long)i,
                  kind(e));
    }
    cflight_error sub = {0};
    if (cf_decimal_from_string(s, len, bits, dst + i * (bits / 8), &sub) != CFLIGHT_OK) {
      return fail(r, "DATA[%lld]: %s", (long long)i, sub.message);
    }
  }
  return CFLIGHT_OK;
}

static int read_floats(reader *r, const json_t *col, struct ArrowArray *out, cf_type_id id) {
  json_t *data;
  int64_t n = out->length;
  int width = id == CF_HALF_FLOAT ? 2 : id == CF_FLOAT ? 4 : 8;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  uint8_t *dst = alloc_buf(r, out, 1, n * width);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    double d = 0;
    CF_RETURN_NOT_OK(value_double(r, "DATA", (size_t)i, json_array_get(data, (size_t)i), &d));
    if (id == CF_HALF_FLOAT) {
      uint16_t h = cf_half_from_float((float)d);
      memcpy(dst + i * 2, &h, 2);
    } else if (id == CF_FLOAT) {
      float f = (float)d;
      memcpy(dst + i * 4, &f, 4);
    } else {
      memcpy(dst + i * 8, &d, 8);
    }
  }
  return CFLIGHT_OK;
}

static int read_bools(reader *r, const json_t *col, struct ArrowArray *out) {
  json_t *data;
  int64_t n = out->length;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  uint8_t *bits = alloc_buf(r, out, 1, (n + 7) / 8);
  if (bits == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    json_t *e = json_array_get(data, (size_t)i);
    bool v;
    if (json_is_boolean(e)) {
      v = json_is_true(e);
    } else if (json_is_integer(e) && (json_integer_value(e) == 0 || json_integer_value(e) == 1)) {
      v = json_integer_value(e) == 1;
    } else {
      return fail(r, "DATA[%lld] must be true, false, 0 or 1, not %s", (long long)i, kind(e));
    }
    if (v) bits[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  return CFLIGHT_OK;
}

/* One member of an interval object; absent members of an empty object ({},
 * which Arrow C++ writes for null slots) are zero. */
static int interval_member(reader *r, const json_t *obj, int64_t i, const char *key, int64_t min,
                           int64_t max, int64_t *out) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL) {
    if (json_object_size(obj) == 0) {
      *out = 0;
      return CFLIGHT_OK;
    }
    return fail(r, "DATA[%lld] has no \"%s\"", (long long)i, key);
  }
  char label[48];
  snprintf(label, sizeof(label), "DATA[%lld].%s", (long long)i, key);
  return value_i64(r, label, NO_INDEX, v, min, max, out);
}

static int read_intervals(reader *r, const json_t *col, struct ArrowArray *out, cf_type_id id) {
  json_t *data;
  int64_t n = out->length;
  int width = id == CF_INTERVAL_DAY_TIME ? 8 : 16;
  CF_RETURN_NOT_OK(get_array(r, col, "DATA", n, &data));
  uint8_t *dst = alloc_buf(r, out, 1, n * width);
  if (dst == NULL) return CFLIGHT_NO_MEMORY;
  for (int64_t i = 0; i < n; i++) {
    json_t *e = json_array_get(data, (size_t)i);
    if (!json_is_object(e))
      return fail(r, "DATA[%lld] must be an object, not %s", (long long)i, kind(e));
    int64_t a, b, c;
    if (id == CF_INTERVAL_DAY_TIME) {
      CF_RETURN_NOT_OK(interval_member(r, e, i, "days", INT32_MIN, INT32_MAX, &a));
      CF_RETURN_NOT_OK(interval_member(r, e, i, "milliseconds", INT32_MIN, INT32_MAX, &b));
      int32_t v[2] = {(int32_t)a, (int32_t)b};
      memcpy(dst + i * 8, v, 8);
    } else {
      CF_RETURN_NOT_OK(interval_member(r, e, i, "months", INT32_MIN, INT32_MAX, &a));
      CF_RETURN_NOT_OK(interval_member(r, e, i, "days", INT32_MIN, INT32_MAX, &b));
      CF_RETURN_NOT_OK(interval_member(r, e, i, "nanoseconds", INT64_MIN, INT64_MAX, &c));
      int32_t md[2] = {(int32_t)a, (int32_t)b};
      memcpy(dst + i * 16, md, 8);
      memcpy(dst + i * 16 + 8, &c, 8);
    }
  }
  return CFLIGHT_OK;
}

/* The dictionary for id, built on first use (its values may themselves hold
 * dictionary-encoded columns, hence the cycle check). */
static int get_dictionary(reader *r, int64_t id, const struct ArrowSchema *field,
                          cf_shared_array **out) {
  dict_entry *d = find_dict(r, id);
  if (d == NULL || d->column == NULL) {
    return fail(r,
                "field '%s' uses dictionary id %lld, but \"dictionaries\" has no entry with "
                "that id",
                field->name ? field->name : "", (long long)id);
  }
  if (d->state == 2) {
    *out = d->array;
    return CFLIGHT_OK;
  }
  if (d->state == 1) {
    return fail(r, "dictionary id %lld contains itself (through field '%s')", (long long)id,
                field->name ? field->name : "");
  }
  d->state = 1;
  /* The path restarts at the dictionary's own entry. */
  cf_path saved_path = r->path;
  r->path.len = 0;
  r->path.buf[0] = '\0';
  cf_path_push(&r->path, "dictionaries[%zu](id %lld).data.columns[0]", d->entry_index,
               (long long)id);
  struct ArrowArray values;
  memset(&values, 0, sizeof(values));
  int rc = read_column(r, d->value_schema, d->column, &values, 1);
  r->path = saved_path;
  if (rc != CFLIGHT_OK) {
    cf_array_release(&values);
    d->state = 0;
    return rc;
  }
  d->array = cf_shared_array_new(&values);
  if (d->array == NULL) {
    cf_array_release(&values);
    d->state = 0;
    return nomem(r, "dictionary");
  }
  d->state = 2;
  *out = d->array;
  return CFLIGHT_OK;
}

static int attach_dictionary(reader *r, const struct ArrowSchema *field, struct ArrowArray *out) {
  int64_t id = 0;
  bool found = false;
  for (size_t i = 0; i < r->n_fields; i++) {
    if (r->fields[i].field == field) {
      id = r->fields[i].id;
      found = true;
      break;
    }
  }
  if (!found) return fail(r, "internal: dictionary field '%s' was not registered", field->name);
  cf_shared_array *sh;
  CF_RETURN_NOT_OK(get_dictionary(r, id, field, &sh));
  const struct ArrowArray *dict = cf_shared_array_get(sh);
  /* Indices must point into the dictionary (null slots may hold anything). */
  cf_type t;
  CF_RETURN_NOT_OK(wrap(r, cf_type_parse(field->format, &t, r->err)));
  int width = t.bit_width / 8;
  bool is_signed = t.id == CF_INT8 || t.id == CF_INT16 || t.id == CF_INT32 || t.id == CF_INT64;
  const uint8_t *p = out->buffers[1];
  for (int64_t i = 0; i < out->length; i++) {
    if (!is_valid(out, i)) continue;
    int64_t v = 0;
    uint64_t u = 0;
    switch (width) {
      case 1:
        v = is_signed ? (int8_t)p[i] : p[i];
        break;
      case 2: {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        v = is_signed ? (int16_t)h : h;
        break;
      }
      case 4: {
        uint32_t w;
        memcpy(&w, p + i * 4, 4);
        v = is_signed ? (int32_t)w : (int64_t)w;
        break;
      }
      default:
        memcpy(&u, p + i * 8, 8);
        v = (!is_signed && u > INT64_MAX) ? -1 : (int64_t)u;
        break;
    }
    if (v < 0 || v >= dict->length) {
      return fail(r, "DATA[%lld] = %lld is not an index into dictionary id %lld (%lld values)",
                  (long long)i, (long long)v, (long long)id, (long long)dict->length);
    }
  }
  struct ArrowArray *slot = cf_array_alloc_dictionary(out, r->err);
  if (slot == NULL) return nomem(r, "dictionary");
  return wrap(r, cf_shared_array_export(sh, dict, slot, r->err));
}

static int read_children(reader *r, const struct ArrowSchema *field, const json_t *col,
                         struct ArrowArray *out, int depth) {
  json_t *children = json_object_get(col, "children");
  int64_t n = field->n_children;
  if (children == NULL && n == 0) return CFLIGHT_OK;
  if (children == NULL) return fail(r, "missing member \"children\" (%lld expected)", (long long)n);
  if (!json_is_array(children))
    return fail(r, "\"children\" must be an array, not %s", kind(children));
  if ((int64_t)json_array_size(children) != n) {
    return fail(r, "\"children\" has %zu columns, the field has %lld children",
                json_array_size(children), (long long)n);
  }
  for (int64_t i = 0; i < n; i++) {
    size_t saved = cf_path_push(&r->path, ".children[%lld]", (long long)i);
    int rc = read_column(r, field->children[i], json_array_get(children, (size_t)i),
                         out->children[i], depth + 1);
    cf_path_pop(&r->path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

static int check_child_length(reader *r, const struct ArrowArray *child, int64_t need,
                              const char *why) {
  if (child->length < need) {
    return fail(r, "child column has %lld values, but %s needs %lld", (long long)child->length, why,
                (long long)need);
  }
  return CFLIGHT_OK;
}

static int64_t int_at(const void *p, int64_t i, int width) {
  switch (width) {
    case 1:
      return ((const int8_t *)p)[i];
    case 2: {
      int16_t v;
      memcpy(&v, (const uint8_t *)p + i * 2, 2);
      return v;
    }
    case 4: {
      int32_t v;
      memcpy(&v, (const uint8_t *)p + i * 4, 4);
      return v;
    }
    default: {
      int64_t v;
      memcpy(&v, (const uint8_t *)p + i * 8, 8);
      return v;
    }
  }
}

static int read_union(reader *r, const struct ArrowSchema *field, const cf_type *t,
                      const json_t *col, struct ArrowArray *out, int depth) {
  int64_t n = out->length;
  uint8_t *type_ids;
  CF_RETURN_NOT_OK(read_int_member(r, col, "TYPE_ID", n, 1, true, out, 0, &type_ids));
  int child_of[128];
  for (int k = 0; k < 128; k++)
    child_of[k] = -1;
  for (int k = 0; k < t->n_type_codes; k++)
    child_of[t->type_codes[k]] = k;
  for (int64_t i = 0; i < n; i++) {
    int8_t code = (int8_t)type_ids[i];
    if (code < 0 || child_of[code] < 0) {
      return fail(r, "TYPE_ID[%lld] = %d is not one of the union's typeIds", (long long)i, code);
    }
  }
  uint8_t *offsets = NULL;
  if (t->id == CF_DENSE_UNION) {
    CF_RETURN_NOT_OK(read_int_member(r, col, "OFFSET", n, 4, true, out, 1, &offsets));
  }
  CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
  out->null_count = 0;
  for (int64_t i = 0; i < n; i++) {
    const struct ArrowArray *child = out->children[child_of[(int8_t)type_ids[i]]];
    if (t->id == CF_SPARSE_UNION) continue;
    int64_t o = int_at(offsets, i, 4);
    if (o < 0 || o >= child->length) {
      return fail(r, "OFFSET[%lld] = %lld is outside its child column (%lld values)", (long long)i,
                  (long long)o, (long long)child->length);
    }
  }
  if (t->id == CF_SPARSE_UNION) {
    for (int64_t k = 0; k < field->n_children; k++)
      CF_RETURN_NOT_OK(check_child_length(r, out->children[k], n, "a sparse union"));
  }
  return CFLIGHT_OK;
}

static int read_run_end_encoded(reader *r, const struct ArrowSchema *field, const json_t *col,
                                struct ArrowArray *out, int depth) {
  CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
  const struct ArrowArray *ends = out->children[0], *values = out->children[1];
  cf_type rt;
  CF_RETURN_NOT_OK(wrap(r, cf_type_parse(field->children[0]->format, &rt, r->err)));
  if (ends->null_count != 0) return fail(r, "run_ends must not contain nulls");
  if (ends->length != values->length) {
    return fail(r, "run_ends has %lld values and values has %lld; they must match",
                (long long)ends->length, (long long)values->length);
  }
  int64_t prev = 0;
  for (int64_t i = 0; i < ends->length; i++) {
    int64_t e = int_at(ends->buffers[1], i, rt.bit_width / 8);
    if (e <= prev) {
      return fail(r, "run_ends[%lld] = %lld: run ends must be positive and increasing",
                  (long long)i, (long long)e);
    }
    prev = e;
  }
  if (out->length > 0 && prev < out->length) {
    return fail(r, "the runs cover %lld rows, but count is %lld", (long long)prev,
                (long long)out->length);
  }
  out->null_count = 0;
  return CFLIGHT_OK;
}

static int read_list_like(reader *r, const struct ArrowSchema *field, const cf_type *t,
                          const json_t *col, struct ArrowArray *out, int depth) {
  int64_t n = out->length;
  const struct ArrowArray *child = out->n_children > 0 ? out->children[0] : NULL;
  switch (t->id) {
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      int width = t->id == CF_LARGE_LIST ? 8 : 4;
      uint8_t *offsets;
      CF_RETURN_NOT_OK(read_offsets(r, col, out, width, &offsets));
      CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
      return check_child_length(r, child, load_offset(offsets, n, width), "the last OFFSET");
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      int width = t->id == CF_LARGE_LIST_VIEW ? 8 : 4;
      uint8_t *offsets, *sizes;
      CF_RETURN_NOT_OK(read_int_member(r, col, "OFFSET", n, width, true, out, 1, &offsets));
      CF_RETURN_NOT_OK(read_int_member(r, col, "SIZE", n, width, true, out, 2, &sizes));
      CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
      for (int64_t i = 0; i < n; i++) {
        int64_t o = load_offset(offsets, i, width), s = load_offset(sizes, i, width);
        if (o < 0 || s < 0) {
          return fail(r, "OFFSET[%lld] and SIZE[%lld] must not be negative", (long long)i,
                      (long long)i);
        }
        if (is_valid(out, i) && o + s > child->length) {
          return fail(r, "OFFSET[%lld] + SIZE[%lld] = %lld is past the child's %lld values",
                      (long long)i, (long long)i, (long long)(o + s), (long long)child->length);
        }
      }
      return CFLIGHT_OK;
    }
    case CF_FIXED_SIZE_LIST: {
      int64_t need;
      CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
      if (cf_mul_overflow_i64(n, t->fixed_size, &need))
        return fail(r, "listSize * count overflows");
      return check_child_length(r, child, need, "count * listSize");
    }
    default: /* struct */
      CF_RETURN_NOT_OK(read_children(r, field, col, out, depth));
      for (int64_t k = 0; k < field->n_children; k++)
        CF_RETURN_NOT_OK(check_child_length(r, out->children[k], n, "the struct's count"));
      return CFLIGHT_OK;
  }
}

static int read_column(reader *r, const struct ArrowSchema *field, const json_t *col,
                       struct ArrowArray *out, int depth) {
  memset(out, 0, sizeof(*out));
  if (depth > MAX_DEPTH) return fail(r, "columns nested more than %d deep", MAX_DEPTH);
  if (!json_is_object(col)) return fail(r, "a column must be an object, not %s", kind(col));
  cf_type t;
  CF_RETURN_NOT_OK(wrap(r, cf_type_parse(field->format, &t, r->err)));
  int64_t count;
  CF_RETURN_NOT_OK(get_int(r, col, "count", 0, MAX_COUNT, &count));
  int64_t n_variadic = 0;
  if (t.id == CF_BINARY_VIEW || t.id == CF_STRING_VIEW) {
    json_t *bufs;
    CF_RETURN_NOT_OK(get_array(r, col, "VARIADIC_DATA_BUFFERS", -1, &bufs));
    n_variadic = (int64_t)json_array_size(bufs);
  }
  CF_RETURN_NOT_OK(
      wrap(r, cf_array_init(out, cf_type_n_buffers(&t, n_variadic), field->n_children, r->err)));
  out->length = count;
  if (cf_type_has_validity(t.id)) CF_RETURN_NOT_OK(read_validity(r, col, out));
  int rc = CFLIGHT_OK;
  switch (t.id) {
    case CF_NA:
      out->null_count = count;
      break;
    case CF_BOOL:
      rc = read_bools(r, col, out);
      break;
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_UINT64:
    case CF_DATE32:
    case CF_DATE64:
    case CF_TIME32:
    case CF_TIME64:
    case CF_TIMESTAMP:
    case CF_DURATION:
    case CF_INTERVAL_MONTHS: {
      bool is_signed =
          !(t.id == CF_UINT8 || t.id == CF_UINT16 || t.id == CF_UINT32 || t.id == CF_UINT64);
      rc = read_int_member(r, col, "DATA", count, t.bit_width / 8, is_signed, out, 1, NULL);
      break;
    }
    case CF_HALF_FLOAT:
    case CF_FLOAT:
    case CF_DOUBLE:
      rc = read_floats(r, col, out, t.id);
      break;
    case CF_BINARY:
    case CF_STRING:
      rc = read_binary(r, col, out, 4, t.id == CF_STRING);
      break;
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING:
      rc = read_binary(r, col, out, 8, t.id == CF_LARGE_STRING);
      break;
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW:
      rc = read_views(r, col, out, t.id == CF_STRING_VIEW, n_variadic);
      break;
    case CF_FIXED_SIZE_BINARY:
      rc = read_fixed_binary(r, col, out, t.fixed_size);
      break;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      rc = read_decimals(r, col, out, t.bit_width);
      break;
    case CF_INTERVAL_DAY_TIME:
    case CF_INTERVAL_MONTH_DAY_NANO:
      rc = read_intervals(r, col, out, t.id);
      break;
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP:
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW:
    case CF_FIXED_SIZE_LIST:
    case CF_STRUCT:
      rc = read_list_like(r, field, &t, col, out, depth);
      break;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION:
      rc = read_union(r, field, &t, col, out, depth);
      break;
    case CF_RUN_END_ENCODED:
      rc = read_run_end_encoded(r, field, col, out, depth);
      break;
    default:
      rc = fail(r, "type %s is not supported", cf_type_name(t.id));
      break;
  }
  if (rc == CFLIGHT_OK && field->dictionary != NULL) rc = attach_dictionary(r, field, out);
  return rc;
}

/* ---- Dictionaries and batches --------------------------------------------- */

static int read_dictionaries(reader *r, const json_t *root) {
  json_t *dicts = json_object_get(root, "dictionaries");
  if (dicts == NULL || json_is_null(dicts)) return CFLIGHT_OK;
  if (!json_is_array(dicts))
    return fail(r, "\"dictionaries\" must be an array, not %s", kind(dicts));
  for (size_t i = 0; i < json_array_size(dicts); i++) {
    json_t *e = json_array_get(dicts, i);
    size_t saved = cf_path_push(&r->path, "dictionaries[%zu]", i);
    int64_t id = 0, count = 0;
    bool delta = false;
    json_t *data = NULL, *columns = NULL;
    int rc = CFLIGHT_OK;
    if (!json_is_object(e)) rc = fail(r, "must be an object, not %s", kind(e));
    if (rc == CFLIGHT_OK) rc = get_int(r, e, "id", INT64_MIN, INT64_MAX, &id);
    if (rc == CFLIGHT_OK) rc = get_bool(r, e, "isDelta", false, &delta);
    if (rc == CFLIGHT_OK && (data = member(r, e, "data", true)) == NULL) rc = CFLIGHT_INVALID_DATA;
    if (rc == CFLIGHT_OK && !json_is_object(data))
      rc = fail(r, "\"data\" must be an object, not %s", kind(data));
    dict_entry *d = NULL;
    if (rc == CFLIGHT_OK && (d = find_dict(r, id)) == NULL) {
      rc = fail(r, "no field of the schema uses dictionary id %lld", (long long)id);
    }
    if (rc == CFLIGHT_OK) {
      size_t s2 = cf_path_push(&r->path, ".data");
      rc = get_int(r, data, "count", 0, MAX_COUNT, &count);
      if (rc == CFLIGHT_OK) rc = get_array(r, data, "columns", 1, &columns);
      json_t *col = columns != NULL ? json_array_get(columns, 0) : NULL;
      json_t *col_count = json_is_object(col) ? json_object_get(col, "count") : NULL;
      if (rc == CFLIGHT_OK && json_is_integer(col_count) &&
          json_integer_value(col_count) != count) {
        rc = fail(r, "count is %lld but its column's count is %lld", (long long)count,
                  (long long)json_integer_value(col_count));
      }
      if (rc == CFLIGHT_OK) {
        if (delta && d->column != NULL) {
          json_t *merged = NULL;
          cflight_error sub = {0};
          if (cf_integration_merge_columns(d->value_schema, d->column, col, &merged, &sub) !=
              CFLIGHT_OK) {
            rc = fail(r, "cannot apply this delta: %s", sub.message);
          } else {
            json_decref(d->column);
            d->column = merged;
          }
        } else {
          json_decref(d->column);
          d->column = json_incref(col);
          d->entry_index = i;
        }
      }
      cf_path_pop(&r->path, s2);
    }
    cf_path_pop(&r->path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  /* Build them all now, so that a bad dictionary is reported even without batches. */
  for (size_t i = 0; i < r->n_dicts; i++) {
    cf_shared_array *sh;
    if (r->dicts[i].column == NULL) continue;
    CF_RETURN_NOT_OK(get_dictionary(r, r->dicts[i].id, r->dicts[i].value_schema, &sh));
  }
  return CFLIGHT_OK;
}

static int read_batch(reader *r, const struct ArrowSchema *schema, const json_t *jb,
                      struct ArrowArray *out) {
  memset(out, 0, sizeof(*out));
  if (!json_is_object(jb)) return fail(r, "a batch must be an object, not %s", kind(jb));
  int64_t count;
  json_t *columns;
  CF_RETURN_NOT_OK(get_int(r, jb, "count", 0, MAX_COUNT, &count));
  CF_RETURN_NOT_OK(get_array(r, jb, "columns", -1, &columns));
  if ((int64_t)json_array_size(columns) != schema->n_children) {
    return fail(r, "\"columns\" has %zu columns, the schema has %lld fields",
                json_array_size(columns), (long long)schema->n_children);
  }
  CF_RETURN_NOT_OK(wrap(r, cf_array_init(out, 1, schema->n_children, r->err)));
  out->length = count;
  for (int64_t i = 0; i < schema->n_children; i++) {
    json_t *col = json_array_get(columns, (size_t)i);
    size_t saved = cf_path_push(&r->path, ".columns[%lld]", (long long)i);
    const char *fname = schema->children[i]->name ? schema->children[i]->name : "";
    cf_path_push(&r->path, "(\"%.64s\")", fname);
    int rc = read_column(r, schema->children[i], col, out->children[i], 1);
    if (rc == CFLIGHT_OK && out->children[i]->length != count) {
      rc = fail(r, "the column has %lld rows, the batch %lld", (long long)out->children[i]->length,
                (long long)count);
    }
    cf_path_pop(&r->path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

static void reader_reset(reader *r) {
  for (size_t i = 0; i < r->n_dicts; i++) {
    json_decref(r->dicts[i].column);
    cf_shared_array_unref(r->dicts[i].array);
    free(r->dicts[i].field_name);
  }
  free(r->dicts);
  free(r->fields);
}

int cf_json_file_parse(const char *text, size_t size, const char *source, cf_json_file **out,
                       cflight_error *err) {
  *out = NULL;
  reader r;
  memset(&r, 0, sizeof(r));
  r.source = source != NULL ? source : "(JSON)";
  r.err = err;
  json_error_t jerr;
  /* JSON_ALLOW_NUL: UTF-8 values may hold U+0000. */
  json_t *root = json_loadb(text, size, JSON_ALLOW_NUL, &jerr);
  if (root == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: not valid JSON: line %d, column %d: %s", r.source, jerr.line,
                             jerr.column, jerr.text);
  }
  cf_json_file *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    json_decref(root);
    return CF_NOMEM(err, "JSON file");
  }
  int rc = CFLIGHT_OK;
  json_t *batches = NULL;
  if (!json_is_object(root)) rc = fail(&r, "the document must be an object, not %s", kind(root));
  if (rc == CFLIGHT_OK) rc = parse_schema(&r, root, &f->schema);
  if (rc == CFLIGHT_OK) rc = read_dictionaries(&r, root);
  if (rc == CFLIGHT_OK) rc = get_array(&r, root, "batches", -1, &batches);
  if (rc == CFLIGHT_OK && json_array_size(batches) > 0) {
    f->batches = calloc(json_array_size(batches), sizeof(cf_shared_array *));
    if (f->batches == NULL) rc = nomem(&r, "batches");
  }
  for (size_t i = 0; rc == CFLIGHT_OK && i < json_array_size(batches); i++) {
    struct ArrowArray batch;
    size_t saved = cf_path_push(&r.path, "batches[%zu]", i);
    rc = read_batch(&r, &f->schema, json_array_get(batches, i), &batch);
    cf_path_pop(&r.path, saved);
    if (rc != CFLIGHT_OK) {
      cf_array_release(&batch);
      break;
    }
    f->batches[i] = cf_shared_array_new(&batch);
    if (f->batches[i] == NULL) {
      cf_array_release(&batch);
      rc = nomem(&r, "batch");
      break;
    }
    f->n_batches++;
  }
  /* Fields were registered as parsed: a field before its children and its
   * dictionary's values, which is the pre-order the IPC writer takes. */
  if (rc == CFLIGHT_OK && r.n_fields > 0) {
    f->dict_ids = malloc(r.n_fields * sizeof(int64_t));
    if (f->dict_ids == NULL) {
      rc = nomem(&r, "dictionary ids");
    } else {
      for (size_t i = 0; i < r.n_fields; i++)
        f->dict_ids[i] = r.fields[i].id;
      f->n_dict_ids = (int64_t)r.n_fields;
    }
  }
  reader_reset(&r);
  json_decref(root);
  if (rc != CFLIGHT_OK) {
    cf_json_file_free(f);
    return rc;
  }
  *out = f;
  return CFLIGHT_OK;
}

int cf_json_file_read(const char *path, cf_json_file **out, cflight_error *err) {
  *out = NULL;
  /* gzread reads plain files as they are, so one path serves .json and .json.gz. */
  gzFile gz = gzopen(path, "rb");
  if (gz == NULL) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot open JSON file %s: %s", path,
                             errno ? strerror(errno) : "out of memory");
  }
  cf_bytes text = {0};
  int rc = CFLIGHT_OK;
  for (;;) {
    if ((rc = cf_bytes_reserve(&text, 1 << 16, err)) != CFLIGHT_OK) break;
    int n = gzread(gz, text.data + text.len, 1 << 16);
    if (n < 0) {
      int zerr;
      const char *msg = gzerror(gz, &zerr);
      rc = cflight_error_set(err, zerr == Z_ERRNO ? CFLIGHT_IO_ERROR : CFLIGHT_INVALID_DATA,
                             "cannot read JSON file %s: %s", path,
                             zerr == Z_ERRNO ? strerror(errno) : msg);
      break;
    }
    if (n == 0) break;
    text.len += (size_t)n;
  }
  gzclose(gz);
  if (rc == CFLIGHT_OK) rc = cf_json_file_parse((const char *)text.data, text.len, path, out, err);
  cf_bytes_reset(&text);
  return rc;
}

void cf_json_file_free(cf_json_file *f) {
  if (f == NULL) return;
  for (int64_t i = 0; i < f->n_batches; i++)
    cf_shared_array_unref(f->batches[i]);
  free(f->batches);
  free(f->dict_ids);
  cf_schema_release(&f->schema);
  free(f);
}

const struct ArrowSchema *cf_json_file_schema(const cf_json_file *f) {
  return &f->schema;
}

int64_t cf_json_file_num_batches(const cf_json_file *f) {
  return f->n_batches;
}

int64_t cf_json_file_dictionary_ids(const cf_json_file *f, int64_t *ids, int64_t cap) {
  for (int64_t i = 0; i < f->n_dict_ids && i < cap; i++)
    ids[i] = f->dict_ids[i];
  return f->n_dict_ids;
}

int cf_json_file_batch(cf_json_file *f, int64_t i, struct ArrowArray *out, cflight_error *err) {
  if (i < 0 || i >= f->n_batches) {
    memset(out, 0, sizeof(*out));
    return cflight_error_set(err, CFLIGHT_OUT_OF_RANGE, "batch %lld of %lld", (long long)i,
                             (long long)f->n_batches);
  }
  return cf_shared_array_export(f->batches[i], cf_shared_array_get(f->batches[i]), out, err);
}

typedef struct json_stream {
  cf_json_file *file;
  int64_t next;
} json_stream;

static int json_stream_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  json_stream *s = ctx;
  if (s->next >= s->file->n_batches) {
    memset(out, 0, sizeof(*out));
    return CFLIGHT_OK;
  }
  return cf_json_file_batch(s->file, s->next++, out, err);
}

static void json_stream_free(void *ctx) {
  json_stream *s = ctx;
  cf_json_file_free(s->file);
  free(s);
}

int cf_json_file_to_stream(cf_json_file *f, struct ArrowArrayStream *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  json_stream *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    cf_json_file_free(f);
    return CF_NOMEM(err, "JSON stream");
  }
  s->file = f;
  struct ArrowSchema schema;
  int rc = cf_schema_copy(&f->schema, &schema, err);
  if (rc != CFLIGHT_OK) {
    json_stream_free(s);
    return rc;
  }
  cf_stream_source src = {json_stream_next, json_stream_free, s};
  return cf_stream_init(out, &schema, src, err);
}
