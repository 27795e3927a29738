/* Dictionary deltas in integration JSON: a FieldData followed by another of
 * the same field, joined into one FieldData as if the values had been
 * appended. Done on the JSON rather than on arrays because the JSON already
 * holds every value in a form that concatenates (DATA, VALIDITY), and only
 * offsets, buffer indices and run ends need shifting. */
#include <inttypes.h>

#include "json_internal.h"

static int bad(cflight_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(cflight_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cflight_error_setv(err, CFLIGHT_INVALID_DATA, fmt, ap);
  va_end(ap);
  return rc;
}

static bool to_i64(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return true;
  }
  if (json_is_string(v)) {
    char *end;
    const char *s = json_string_value(v);
    long long x = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0') return false;
    *out = (int64_t)x;
    return true;
  }
  return false;
}

/* An integer as the JSON format spells it: a string when 64-bit. */
static json_t *int_json(int64_t v, bool wide) {
  if (!wide) return json_integer(v);
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return json_string(buf);
}

static int count_of(const json_t *col, int64_t *out, cflight_error *err) {
  json_t *c = json_is_object(col) ? json_object_get(col, "count") : NULL;
  if (!json_is_integer(c) || json_integer_value(c) < 0)
    return bad(err, "a column has no valid \"count\"");
  *out = (int64_t)json_integer_value(c);
  return CFLIGHT_OK;
}

static json_t *array_of(const json_t *col, const char *key) {
  json_t *v = json_object_get(col, key);
  return json_is_array(v) ? v : NULL;
}

/* out[key] = a[key] ++ b[key], or out[key] = a[key] ++ (b[key][skip..] + shift). */
static int concat(json_t *out, const json_t *a, const json_t *b, const char *key, size_t skip,
                  int64_t shift, bool wide, cflight_error *err) {
  json_t *x = array_of(a, key), *y = array_of(b, key);
  if (x == NULL || y == NULL) return bad(err, "both columns need an array \"%s\"", key);
  json_t *res = json_array();
  if (res == NULL) return CF_NOMEM(err, "JSON");
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < json_array_size(x) && rc == CFLIGHT_OK; i++)
    if (json_array_append(res, json_array_get(x, i)) != 0) rc = CF_NOMEM(err, "JSON");
  for (size_t i = skip; i < json_array_size(y) && rc == CFLIGHT_OK; i++) {
    json_t *e = json_array_get(y, i);
    if (shift != 0 || skip != 0) {
      int64_t v;
      if (!to_i64(e, &v)) {
        rc = bad(err, "%s[%zu] is not an integer", key, i);
        break;
      }
      if (json_array_append_new(res, int_json(v + shift, wide)) != 0) rc = CF_NOMEM(err, "JSON");
    } else if (json_array_append(res, e) != 0) {
      rc = CF_NOMEM(err, "JSON");
    }
  }
  if (rc == CFLIGHT_OK && json_object_set_new(out, key, res) != 0) return CF_NOMEM(err, "JSON");
  if (rc != CFLIGHT_OK) json_decref(res);
  return rc;
}

static int last_int(const json_t *arr, size_t i, int64_t *out, cflight_error *err) {
  if (arr == NULL || i >= json_array_size(arr) || !to_i64(json_array_get(arr, i), out))
    return bad(err, "missing or non-integer offset");
  return CFLIGHT_OK;
}

static int merge(const struct ArrowSchema *f, const json_t *a, const json_t *b, json_t **out,
                 int depth, cflight_error *err);

static int merge_children(const struct ArrowSchema *f, json_t *res, const json_t *a,
                          const json_t *b, int depth, cflight_error *err) {
  if (f->n_children == 0) return CFLIGHT_OK;
  json_t *x = array_of(a, "children"), *y = array_of(b, "children");
  if (x == NULL || y == NULL || (int64_t)json_array_size(x) != f->n_children ||
      (int64_t)json_array_size(y) != f->n_children) {
    return bad(err, "both columns need %lld \"children\"", (long long)f->n_children);
  }
  json_t *kids = json_array();
  if (kids == NULL) return CF_NOMEM(err, "JSON");
  for (int64_t i = 0; i < f->n_children; i++) {
    json_t *m;
    int rc = merge(f->children[i], json_array_get(x, (size_t)i), json_array_get(y, (size_t)i), &m,
                   depth + 1, err);
    if (rc != CFLIGHT_OK) {
      json_decref(kids);
      return rc;
    }
    json_array_append_new(kids, m);
  }
  json_object_set_new(res, "children", kids);
  return CFLIGHT_OK;
}

static int child_count(const json_t *col, size_t i, int64_t *out, cflight_error *err) {
  json_t *kids = array_of(col, "children");
  if (kids == NULL || i >= json_array_size(kids)) return bad(err, "missing child column");
  return count_of(json_array_get(kids, i), out, err);
}

static int merge(const struct ArrowSchema *f, const json_t *a, const json_t *b, json_t **out,
                 int depth, cflight_error *err) {
  *out = NULL;
  if (depth > 64) return bad(err, "columns nested too deeply");
  cf_type t;
  CF_RETURN_NOT_OK(cf_type_parse(f->format, &t, err));
  int64_t ca, cb;
  CF_RETURN_NOT_OK(count_of(a, &ca, err));
  CF_RETURN_NOT_OK(count_of(b, &cb, err));
  json_t *res = json_object();
  if (res == NULL) return CF_NOMEM(err, "JSON");
  json_t *name = json_object_get(a, "name");
  json_object_set_new(res, "name", json_is_string(name) ? json_copy(name) : json_string(""));
  json_object_set_new(res, "count", json_integer(ca + cb));
  int rc = CFLIGHT_OK;
  if (cf_type_has_validity(t.id)) rc = concat(res, a, b, "VALIDITY", 0, 0, false, err);
  if (rc != CFLIGHT_OK || t.id == CF_NA) goto done;
  if (f->dictionary != NULL) {
    rc = concat(res, a, b, "DATA", 0, 0, false, err);
    goto done;
  }
  switch (t.id) {
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING: {
      bool wide = t.id == CF_LARGE_BINARY || t.id == CF_LARGE_STRING;
      int64_t a_last, b_first;
      json_t *ao = array_of(a, "OFFSET"), *bo = array_of(b, "OFFSET");
      if ((rc = last_int(ao, (size_t)ca, &a_last, err)) != CFLIGHT_OK) break;
      if ((rc = last_int(bo, 0, &b_first, err)) != CFLIGHT_OK) break;
      if ((rc = concat(res, a, b, "OFFSET", 1, a_last - b_first, wide, err)) != CFLIGHT_OK) break;
      rc = concat(res, a, b, "DATA", 0, 0, false, err);
      break;
    }
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW: {
      json_t *av = array_of(a, "VARIADIC_DATA_BUFFERS");
      size_t shift = av != NULL ? json_array_size(av) : 0;
      if ((rc = concat(res, a, b, "VARIADIC_DATA_BUFFERS", 0, 0, false, err)) != CFLIGHT_OK) break;
      json_t *x = array_of(a, "VIEWS"), *y = array_of(b, "VIEWS");
      if (x == NULL || y == NULL) {
        rc = bad(err, "both columns need an array \"VIEWS\"");
        break;
      }
      json_t *views = json_array();
      for (size_t i = 0; i < json_array_size(x); i++)
        json_array_append(views, json_array_get(x, i));
      for (size_t i = 0; i < json_array_size(y); i++) {
        json_t *v = json_deep_copy(json_array_get(y, i));
        json_t *idx = json_is_object(v) ? json_object_get(v, "BUFFER_INDEX") : NULL;
        if (json_is_integer(idx)) {
          json_object_set_new(v, "BUFFER_INDEX",
                              json_integer(json_integer_value(idx) + (json_int_t)shift));
        }
        json_array_append_new(views, v);
      }
      json_object_set_new(res, "VIEWS", views);
      break;
    }
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_MAP: {
      bool wide = t.id == CF_LARGE_LIST;
      int64_t a_last, b_first, a_kids;
      json_t *ao = array_of(a, "OFFSET"), *bo = array_of(b, "OFFSET");
      if ((rc = last_int(ao, (size_t)ca, &a_last, err)) != CFLIGHT_OK) break;
      if ((rc = last_int(bo, 0, &b_first, err)) != CFLIGHT_OK) break;
      if ((rc = child_count(a, 0, &a_kids, err)) != CFLIGHT_OK) break;
      if (a_last != a_kids || b_first != 0) {
        rc = bad(err,
                 "list offsets of the delta do not continue the dictionary's (last offset "
                 "%lld of %lld child values, delta starts at %lld)",
                 (long long)a_last, (long long)a_kids, (long long)b_first);
        break;
      }
      if ((rc = concat(res, a, b, "OFFSET", 1, a_kids, wide, err)) != CFLIGHT_OK) break;
      rc = merge_children(f, res, a, b, depth, err);
      break;
    }
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      bool wide = t.id == CF_LARGE_LIST_VIEW;
      int64_t a_kids;
      if ((rc = child_count(a, 0, &a_kids, err)) != CFLIGHT_OK) break;
      if ((rc = concat(res, a, b, "OFFSET", 0, a_kids, wide, err)) != CFLIGHT_OK) break;
      if ((rc = concat(res, a, b, "SIZE", 0, 0, false, err)) != CFLIGHT_OK) break;
      rc = merge_children(f, res, a, b, depth, err);
      break;
    }
    case CF_FIXED_SIZE_LIST:
    case CF_STRUCT:
    case CF_SPARSE_UNION: {
      int64_t per_row = t.id == CF_FIXED_SIZE_LIST ? t.fixed_size : 1;
      for (int64_t i = 0; i < f->n_children && rc == CFLIGHT_OK; i++) {
        int64_t k;
        if ((rc = child_count(a, (size_t)i, &k, err)) != CFLIGHT_OK) break;
        if (k != ca * per_row)
          rc = bad(err, "child %lld has %lld values, not %lld", (long long)i, (long long)k,
                   (long long)(ca * per_row));
      }
      if (rc == CFLIGHT_OK && t.id == CF_SPARSE_UNION)
        rc = concat(res, a, b, "TYPE_ID", 0, 0, false, err);
      if (rc == CFLIGHT_OK) rc = merge_children(f, res, a, b, depth, err);
      break;
    }
    case CF_DENSE_UNION: {
      if ((rc = concat(res, a, b, "TYPE_ID", 0, 0, false, err)) != CFLIGHT_OK) break;
      json_t *ao = array_of(a, "OFFSET"), *bo = array_of(b, "OFFSET"), *bt = array_of(b, "TYPE_ID");
      if (ao == NULL || bo == NULL || bt == NULL || json_array_size(bo) != json_array_size(bt)) {
        rc = bad(err, "both columns need TYPE_ID and OFFSET arrays of their count");
        break;
      }
      json_t *offs = json_array();
      for (size_t i = 0; i < json_array_size(ao); i++)
        json_array_append(offs, json_array_get(ao, i));
      for (size_t i = 0; i < json_array_size(bo) && rc == CFLIGHT_OK; i++) {
        int64_t code, o, k = -1, shift;
        if (!to_i64(json_array_get(bt, i), &code) || !to_i64(json_array_get(bo, i), &o)) {
          rc = bad(err, "TYPE_ID and OFFSET must be integers");
          break;
        }
        cf_type ut = t;
        for (int c = 0; c < ut.n_type_codes; c++)
          if (ut.type_codes[c] == code) k = c;
        if (k < 0) {
          rc = bad(err, "type id %lld is not in the union", (long long)code);
          break;
        }
        if ((rc = child_count(a, (size_t)k, &shift, err)) != CFLIGHT_OK) break;
        json_array_append_new(offs, json_integer(o + shift));
      }
      json_object_set_new(res, "OFFSET", offs);
      if (rc == CFLIGHT_OK) rc = merge_children(f, res, a, b, depth, err);
      break;
    }
    case CF_RUN_END_ENCODED: {
      int64_t a_runs, a_end;
      if ((rc = child_count(a, 0, &a_runs, err)) != CFLIGHT_OK) break;
      json_t *ends = json_array_get(array_of(a, "children"), 0);
      if (a_runs > 0 &&
          (rc = last_int(array_of(ends, "DATA"), (size_t)(a_runs - 1), &a_end, err)) != CFLIGHT_OK)
        break;
      if (a_runs > 0 && a_end != ca) {
        rc = bad(err, "the dictionary's last run ends at %lld, not at its count %lld",
                 (long long)a_end, (long long)ca);
        break;
      }
      if ((rc = merge_children(f, res, a, b, depth, err)) != CFLIGHT_OK) break;
      /* The delta's run ends continue after the dictionary's rows. */
      json_t *merged_ends = json_array_get(json_object_get(res, "children"), 0);
      json_t *data = json_object_get(merged_ends, "DATA");
      bool wide = strcmp(f->children[0]->format, "l") == 0;
      for (size_t i = (size_t)a_runs; i < json_array_size(data); i++) {
        int64_t v;
        if (!to_i64(json_array_get(data, i), &v)) {
          rc = bad(err, "run end %zu is not an integer", i);
          break;
        }
        json_array_set_new(data, i, int_json(v + ca, wide));
      }
      break;
    }
    default: /* fixed-width values */
      rc = concat(res, a, b, "DATA", 0, 0, false, err);
      break;
  }
done:
  if (rc != CFLIGHT_OK) {
    json_decref(res);
    return rc;
  }
  *out = res;
  return CFLIGHT_OK;
}

int cf_integration_merge_columns(const struct ArrowSchema *field, const json_t *a, const json_t *b,
                                 json_t **out, cflight_error *err) {
  return merge(field, a, b, out, 0, err);
}
