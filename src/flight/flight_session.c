/* Session options: the option value union and the Set/Get/Close session
 * messages. Maps are kept sorted by name (see cf_pb_check for how a
 * deserialized map is brought into the same shape). */
#include "flight/flight_pb.h"

typedef Arrow__Flight__Protocol__SessionOptionValue__StringListValue pb_string_list;
typedef Arrow__Flight__Protocol__SetSessionOptionsResult__Error pb_option_error;
typedef Arrow__Flight__Protocol__CloseSessionResult pb_close_result;

#define VAL(x) ((const pb_option_value *)(x))

static int null_output(cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output pointer");
}

/* ---- SessionOptionValue --------------------------------------------------------------- */

static int value_new(Arrow__Flight__Protocol__SessionOptionValue__OptionValueCase which,
                     pb_option_value **out, cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(cf_pb_new(&arrow__flight__protocol__session_option_value__descriptor, &m, err));
  pb_option_value *v = (pb_option_value *)m;
  v->option_value_case = which;
  *out = v;
  return CFLIGHT_OK;
}

static int value_finish(int rc, pb_option_value *v, cflight_session_option_value **out) {
  if (rc != CFLIGHT_OK) {
    cf_pb_free((ProtobufCMessage *)v);
    *out = NULL;
    return rc;
  }
  *out = (cflight_session_option_value *)v;
  return CFLIGHT_OK;
}

int cflight_session_option_value_new_unset(cflight_session_option_value **out, cflight_error *err) {
  if (out == NULL) return null_output(err);
  pb_option_value *v;
  CF_RETURN_NOT_OK(
      value_new(ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE__NOT_SET, &v, err));
  return value_finish(CFLIGHT_OK, v, out);
}

int cflight_session_option_value_new_string(const char *value, cflight_session_option_value **out,
                                            cflight_error *err) {
  if (out == NULL) return null_output(err);
  if (value == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session option: NULL string");
  }
  pb_option_value *v;
  CF_RETURN_NOT_OK(
      value_new(ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE_STRING_VALUE, &v, err));
  v->string_value = NULL;
  return value_finish(cf_pb_set_string(&v->string_value, value, err), v, out);
}

int cflight_session_option_value_new_bool(bool value, cflight_session_option_value **out,
                                          cflight_error *err) {
  if (out == NULL) return null_output(err);
  pb_option_value *v;
  CF_RETURN_NOT_OK(
      value_new(ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE_BOOL_VALUE, &v, err));
  v->bool_value = value;
  return value_finish(CFLIGHT_OK, v, out);
}

int cflight_session_option_value_new_int64(int64_t value, cflight_session_option_value **out,
                                           cflight_error *err) {
  if (out == NULL) return null_output(err);
  pb_option_value *v;
  CF_RETURN_NOT_OK(
      value_new(ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE_INT64_VALUE, &v, err));
  v->int64_value = value;
  return value_finish(CFLIGHT_OK, v, out);
}

int cflight_session_option_value_new_double(double value, cflight_session_option_value **out,
                                            cflight_error *err) {
  if (out == NULL) return null_output(err);
  pb_option_value *v;
  CF_RETURN_NOT_OK(
      value_new(ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE_DOUBLE_VALUE, &v, err));
  v->double_value = value;
  return value_finish(CFLIGHT_OK, v, out);
}

int cflight_session_option_value_new_string_list(const char *const *values, size_t n,
                                                 cflight_session_option_value **out,
                                                 cflight_error *err) {
  if (out == NULL) return null_output(err);
  if (n > 0 && values == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session option: NULL string list");
  }
  pb_option_value *v;
  CF_RETURN_NOT_OK(value_new(
      ARROW__FLIGHT__PROTOCOL__SESSION_OPTION_VALUE__OPTION_VALUE_STRING_LIST_VALUE, &v, err));
  v->string_list_value = NULL;
  ProtobufCMessage *m;
  int rc = cf_pb_new(&arrow__flight__protocol__session_option_value__string_list_value__descriptor,
                     &m, err);
  if (rc != CFLIGHT_OK) return value_finish(rc, v, out);
  pb_string_list *list = (pb_string_list *)m;
  v->string_list_value = list;
  if (n > 0) {
    list->values = cf_calloc(n, sizeof(char *));
    if (list->values == NULL) return value_finish(CF_NOMEM(err, "string list"), v, out);
  }
  for (size_t i = 0; i < n; i++) {
    if (values[i] == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session option: list item %zu is NULL",
                             i);
      break;
    }
    /* protobuf-c frees every element of a repeated string: count it only once malloc'd. */
    char *s = NULL;
    rc = cf_pb_set_string(&s, values[i], err);
    if (rc != CFLIGHT_OK) break;
    list->values[list->n_values++] = s;
  }
  return value_finish(rc, v, out);
}

cflight_session_option_type cflight_session_option_value_get_type(
    const cflight_session_option_value *v) {
  return v != NULL ? (cflight_session_option_type)VAL(v)->option_value_case
                   : CFLIGHT_SESSION_OPTION_UNSET;
}

const char *cflight_session_option_value_string(const cflight_session_option_value *v) {
  return cflight_session_option_value_get_type(v) == CFLIGHT_SESSION_OPTION_STRING
             ? VAL(v)->string_value
             : NULL;
}

bool cflight_session_option_value_bool(const cflight_session_option_value *v) {
  return cflight_session_option_value_get_type(v) == CFLIGHT_SESSION_OPTION_BOOL &&
         VAL(v)->bool_value;
}

int64_t cflight_session_option_value_int64(const cflight_session_option_value *v) {
  return cflight_session_option_value_get_type(v) == CFLIGHT_SESSION_OPTION_INT64
             ? VAL(v)->int64_value
             : 0;
}

double cflight_session_option_value_double(const cflight_session_option_value *v) {
  return cflight_session_option_value_get_type(v) == CFLIGHT_SESSION_OPTION_DOUBLE
             ? VAL(v)->double_value
             : 0.0;
}

size_t cflight_session_option_value_string_list_count(const cflight_session_option_value *v) {
  if (cflight_session_option_value_get_type(v) != CFLIGHT_SESSION_OPTION_STRING_LIST ||
      VAL(v)->string_list_value == NULL) {
    return 0;
  }
  return VAL(v)->string_list_value->n_values;
}

const char *cflight_session_option_value_string_list_item(const cflight_session_option_value *v,
                                                          size_t i) {
  if (i >= cflight_session_option_value_string_list_count(v)) return NULL;
  return VAL(v)->string_list_value->values[i];
}

CF_PB_COMMON(cflight_session_option_value,
             arrow__flight__protocol__session_option_value__descriptor)

/* ---- Sorted maps --------------------------------------------------------------------------
 * A protobuf map is a repeated entry message (key = field 1, value = field
 * 2). These work on any of ours through the entry's field descriptors. */

typedef struct map_ref {
  size_t *n;
  ProtobufCMessage ***entries;
  const ProtobufCMessageDescriptor *entry_desc;
} map_ref;

static const char *map_key(const map_ref *map, size_t i) {
  const ProtobufCMessage *e = (*map->entries)[i];
  const char *k = *(char *const *)((const char *)e + map->entry_desc->fields[0].offset);
  return k != NULL ? k : "";
}

static ProtobufCMessage **map_value_slot(const map_ref *map, size_t i) {
  ProtobufCMessage *e = (*map->entries)[i];
  return (ProtobufCMessage **)((char *)e + map->entry_desc->fields[1].offset);
}

/* Binary search: true with *pos = the entry's index when key is present,
 * false with *pos = where it would be inserted. */
static bool map_find(const map_ref *map, const char *key, size_t *pos) {
  size_t lo = 0, hi = *map->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(map_key(map, mid), key);
    if (c == 0) {
      *pos = mid;
      return true;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *pos = lo;
  return false;
}

/* Sets key's value to `value` (moved in, also on failure). */
static int map_set(const map_ref *map, const char *key, ProtobufCMessage *value,
                   cflight_error *err) {
  if (key == NULL) {
    cf_pb_free(value);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session option: NULL name");
  }
  size_t pos;
  if (map_find(map, key, &pos)) {
    ProtobufCMessage **slot = map_value_slot(map, pos);
    cf_pb_free(*slot);
    *slot = value;
    return CFLIGHT_OK;
  }
  ProtobufCMessage *entry = NULL;
  char *k = NULL;
  int rc = cf_pb_set_string(&k, key, err);
  if (rc == CFLIGHT_OK) rc = cf_pb_new(map->entry_desc, &entry, err);
  ProtobufCMessage **grown = NULL;
  if (rc == CFLIGHT_OK) {
    grown = realloc(*map->entries, (*map->n + 1) * sizeof(void *));
    if (grown == NULL) rc = CF_NOMEM(err, "session options");
  }
  if (rc != CFLIGHT_OK) {
    free(k);
    cf_pb_free(entry);
    cf_pb_free(value);
    return rc;
  }
  *(char **)((char *)entry + map->entry_desc->fields[0].offset) = k;
  *(ProtobufCMessage **)((char *)entry + map->entry_desc->fields[1].offset) = value;
  memmove(grown + pos + 1, grown + pos, (*map->n - pos) * sizeof(void *));
  grown[pos] = entry;
  *map->entries = grown;
  (*map->n)++;
  return CFLIGHT_OK;
}

/* The functions of a name -> SessionOptionValue map message. */
#define OPTION_MAP(T, PBT, DESC, ENTRY_DESC)                                                     \
  static map_ref T##_map(const T *r) {                                                           \
    PBT *m = (PBT *)r;                                                                           \
    return (map_ref){&m->n_session_options, (ProtobufCMessage ***)&m->session_options,           \
                     &ENTRY_DESC};                                                               \
  }                                                                                              \
  int T##_new(T **out, cflight_error *err) {                                                     \
    if (out == NULL) return null_output(err);                                                    \
    ProtobufCMessage *m;                                                                         \
    CF_RETURN_NOT_OK(cf_pb_new(&DESC, &m, err));                                                 \
    *out = (T *)m;                                                                               \
    return CFLIGHT_OK;                                                                           \
  }                                                                                              \
  int T##_set(T *r, const char *name, const cflight_session_option_value *value,                 \
              cflight_error *err) {                                                              \
    if (r == NULL || value == NULL) {                                                            \
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session options: NULL argument"); \
    }                                                                                            \
    ProtobufCMessage *copy;                                                                      \
    CF_RETURN_NOT_OK(cf_pb_copy((const ProtobufCMessage *)value, &copy, err));                   \
    map_ref map = T##_map(r);                                                                    \
    return map_set(&map, name, copy, err);                                                       \
  }                                                                                              \
  size_t T##_count(const T *r) {                                                                 \
    return r != NULL ? ((const PBT *)r)->n_session_options : 0;                                  \
  }                                                                                              \
  const char *T##_name(const T *r, size_t i) {                                                   \
    if (i >= T##_count(r)) return NULL;                                                          \
    map_ref map = T##_map(r);                                                                    \
    return map_key(&map, i);                                                                     \
  }                                                                                              \
  const cflight_session_option_value *T##_value(const T *r, size_t i) {                          \
    if (i >= T##_count(r)) return NULL;                                                          \
    map_ref map = T##_map(r);                                                                    \
    return (const cflight_session_option_value *)*map_value_slot(&map, i);                       \
  }                                                                                              \
  const cflight_session_option_value *T##_find(const T *r, const char *name) {                   \
    size_t pos;                                                                                  \
    if (r == NULL || name == NULL) return NULL;                                                  \
    map_ref map = T##_map(r);                                                                    \
    return map_find(&map, name, &pos) ? T##_value(r, pos) : NULL;                                \
  }                                                                                              \
  CF_PB_COMMON(T, DESC)

OPTION_MAP(cflight_set_session_options_request, Arrow__Flight__Protocol__SetSessionOptionsRequest,
           arrow__flight__protocol__set_session_options_request__descriptor,
           arrow__flight__protocol__set_session_options_request__session_options_entry__descriptor)
OPTION_MAP(cflight_get_session_options_result, Arrow__Flight__Protocol__GetSessionOptionsResult,
           arrow__flight__protocol__get_session_options_result__descriptor,
           arrow__flight__protocol__get_session_options_result__session_options_entry__descriptor)

/* ---- SetSessionOptionsResult ----------------------------------------------------------------- */

typedef Arrow__Flight__Protocol__SetSessionOptionsResult pb_set_result;

static map_ref set_result_map(const cflight_set_session_options_result *r) {
  pb_set_result *m = (pb_set_result *)r;
  return (map_ref){&m->n_errors, (ProtobufCMessage ***)&m->errors,
                   &arrow__flight__protocol__set_session_options_result__errors_entry__descriptor};
}

int cflight_set_session_options_result_new(cflight_set_session_options_result **out,
                                           cflight_error *err) {
  if (out == NULL) return null_output(err);
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      cf_pb_new(&arrow__flight__protocol__set_session_options_result__descriptor, &m, err));
  *out = (cflight_set_session_options_result *)m;
  return CFLIGHT_OK;
}

int cflight_set_session_options_result_set_error(cflight_set_session_options_result *r,
                                                 const char *name,
                                                 cflight_set_session_option_error error,
                                                 cflight_error *err) {
  if (r == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "session options: NULL result");
  }
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      cf_pb_new(&arrow__flight__protocol__set_session_options_result__error__descriptor, &m, err));
  ((pb_option_error *)m)->value =
      (Arrow__Flight__Protocol__SetSessionOptionsResult__ErrorValue)error;
  map_ref map = set_result_map(r);
  return map_set(&map, name, m, err);
}

size_t cflight_set_session_options_result_count(const cflight_set_session_options_result *r) {
  return r != NULL ? ((const pb_set_result *)r)->n_errors : 0;
}

const char *cflight_set_session_options_result_name(const cflight_set_session_options_result *r,
                                                    size_t i) {
  if (i >= cflight_set_session_options_result_count(r)) return NULL;
  map_ref map = set_result_map(r);
  return map_key(&map, i);
}

cflight_set_session_option_error cflight_set_session_options_result_error(
    const cflight_set_session_options_result *r, size_t i) {
  if (i >= cflight_set_session_options_result_count(r)) {
    return CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED;
  }
  map_ref map = set_result_map(r);
  const pb_option_error *e = (const pb_option_error *)*map_value_slot(&map, i);
  return e != NULL ? (cflight_set_session_option_error)e->value
                   : CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED;
}

bool cflight_set_session_options_result_find(const cflight_set_session_options_result *r,
                                             const char *name,
                                             cflight_set_session_option_error *out) {
  size_t pos;
  if (r == NULL || name == NULL) return false;
  map_ref map = set_result_map(r);
  if (!map_find(&map, name, &pos)) return false;
  if (out != NULL) *out = cflight_set_session_options_result_error(r, pos);
  return true;
}

CF_PB_COMMON(cflight_set_session_options_result,
             arrow__flight__protocol__set_session_options_result__descriptor)

/* ---- Empty requests and CloseSessionResult ------------------------------------------------------
 */

int cflight_get_session_options_request_new(cflight_get_session_options_request **out,
                                            cflight_error *err) {
  if (out == NULL) return null_output(err);
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      cf_pb_new(&arrow__flight__protocol__get_session_options_request__descriptor, &m, err));
  *out = (cflight_get_session_options_request *)m;
  return CFLIGHT_OK;
}

CF_PB_COMMON(cflight_get_session_options_request,
             arrow__flight__protocol__get_session_options_request__descriptor)

int cflight_close_session_request_new(cflight_close_session_request **out, cflight_error *err) {
  if (out == NULL) return null_output(err);
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(cf_pb_new(&arrow__flight__protocol__close_session_request__descriptor, &m, err));
  *out = (cflight_close_session_request *)m;
  return CFLIGHT_OK;
}

CF_PB_COMMON(cflight_close_session_request,
             arrow__flight__protocol__close_session_request__descriptor)

int cflight_close_session_result_new(cflight_close_session_status status,
                                     cflight_close_session_result **out, cflight_error *err) {
  if (out == NULL) return null_output(err);
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(cf_pb_new(&arrow__flight__protocol__close_session_result__descriptor, &m, err));
  ((pb_close_result *)m)->status = (Arrow__Flight__Protocol__CloseSessionResult__Status)status;
  *out = (cflight_close_session_result *)m;
  return CFLIGHT_OK;
}

cflight_close_session_status cflight_close_session_result_status(
    const cflight_close_session_result *r) {
  return r != NULL ? (cflight_close_session_status)((const pb_close_result *)r)->status
                   : CFLIGHT_CLOSE_SESSION_STATUS_UNSPECIFIED;
}

CF_PB_COMMON(cflight_close_session_result,
             arrow__flight__protocol__close_session_result__descriptor)
