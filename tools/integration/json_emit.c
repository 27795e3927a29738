/* JSON text from a jansson tree. jansson builds and parses the documents;
 * the text is produced here because jansson prints every real with 17
 * significant digits (362.493 comes out as 362.49299999999999), while the
 * integration files want the shortest form that reads back exactly, and
 * because arrays of scalars read better on one line. */
#include <inttypes.h>

#include "json_internal.h"

static int put(cf_bytes *out, const char *s, size_t n, cflight_error *err) {
  return cf_bytes_append(out, s, n, err);
}

static int put_str(cf_bytes *out, const char *s, cflight_error *err) {
  return cf_bytes_append(out, s, strlen(s), err);
}

static int put_indent(cf_bytes *out, int depth, cflight_error *err) {
  CF_RETURN_NOT_OK(put(out, "\n", 1, err));
  for (int i = 0; i < depth; i++)
    CF_RETURN_NOT_OK(put(out, "  ", 2, err));
  return CFLIGHT_OK;
}

/* A JSON string literal. Bytes >= 0x80 pass through: jansson only holds valid UTF-8. */
static int put_string(cf_bytes *out, const char *s, size_t n, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_bytes_reserve(out, n + 2, err));
  CF_RETURN_NOT_OK(put(out, "\"", 1, err));
  size_t run = 0; /* start of the pending run of bytes that need no escape */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char ubuf[8];
    switch (c) {
      case '"':
        esc = "\\\"";
        break;
      case '\\':
        esc = "\\\\";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\t':
        esc = "\\t";
        break;
      case '\b':
        esc = "\\b";
        break;
      case '\f':
        esc = "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
          esc = ubuf;
        }
        break;
    }
    if (esc != NULL) {
      CF_RETURN_NOT_OK(put(out, s + run, i - run, err));
      CF_RETURN_NOT_OK(put_str(out, esc, err));
      run = i + 1;
    }
  }
  CF_RETURN_NOT_OK(put(out, s + run, n - run, err));
  return put(out, "\"", 1, err);
}

static bool is_container(const json_t *v) {
  return json_is_object(v) || json_is_array(v);
}

static int emit(const json_t *v, int depth, cf_bytes *out, cflight_error *err) {
  char num[64];
  if (depth > 200) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "JSON nested too deeply to write");
  }
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      if (json_object_size(v) == 0) return put_str(out, "{}", err);
      CF_RETURN_NOT_OK(put(out, "{", 1, err));
      const char *key;
      json_t *member;
      bool first = true;
      /* jansson keeps insertion order, so members come out as they were added. */
      json_object_foreach((json_t *)v, key, member) {
        if (!first) CF_RETURN_NOT_OK(put(out, ",", 1, err));
        first = false;
        CF_RETURN_NOT_OK(put_indent(out, depth + 1, err));
        CF_RETURN_NOT_OK(put_string(out, key, strlen(key), err));
        CF_RETURN_NOT_OK(put(out, ": ", 2, err));
        CF_RETURN_NOT_OK(emit(member, depth + 1, out, err));
      }
      CF_RETURN_NOT_OK(put_indent(out, depth, err));
      return put(out, "}", 1, err);
    }
    case JSON_ARRAY: {
      size_t n = json_array_size(v);
      if (n == 0) return put_str(out, "[]", err);
      bool flat = true;
      for (size_t i = 0; i < n && flat; i++)
        if (is_container(json_array_get(v, i))) flat = false;
      CF_RETURN_NOT_OK(put(out, "[", 1, err));
      for (size_t i = 0; i < n; i++) {
        if (i > 0) CF_RETURN_NOT_OK(put(out, flat ? ", " : ",", flat ? 2 : 1, err));
        if (!flat) CF_RETURN_NOT_OK(put_indent(out, depth + 1, err));
        CF_RETURN_NOT_OK(emit(json_array_get(v, i), depth + 1, out, err));
      }
      if (!flat) CF_RETURN_NOT_OK(put_indent(out, depth, err));
      return put(out, "]", 1, err);
    }
    case JSON_STRING:
      return put_string(out, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
      snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      return put_str(out, num, err);
    case JSON_REAL:
      if (cf_format_double(json_real_value(v), false, num, sizeof(num)) < 0) {
        return cflight_error_set(err, CFLIGHT_INTERNAL, "cannot format a real");
      }
      return put_str(out, num, err);
    case JSON_TRUE:
      return put_str(out, "true", err);
    case JSON_FALSE:
      return put_str(out, "false", err);
    case JSON_NULL:
      return put_str(out, "null", err);
  }
  return cflight_error_set(err, CFLIGHT_INTERNAL, "unknown JSON value type");
}

int cf_json_emit(const json_t *root, cf_bytes *out, cflight_error *err) {
  CF_RETURN_NOT_OK(emit(root, 0, out, err));
  return put(out, "\n", 1, err);
}
