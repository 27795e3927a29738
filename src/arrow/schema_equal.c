/* Schema equality (the integration tests' notion: see arrow.h), and a
 * readable schema rendering for messages. */
#include <stdarg.h>
#include <stdio.h>

#include "arrow/arrow.h"

static int differ(cflight_error *err, const cf_path *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int differ(cflight_error *err, const cf_path *path, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (path->len == 0) return cflight_error_set(err, CFLIGHT_INVALID_DATA, "schema: %s", msg);
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "field %s: %s", path->buf, msg);
}

static bool same_type(const cf_type *a, const cf_type *b) {
  if (a->id != b->id || a->bit_width != b->bit_width || a->fixed_size != b->fixed_size ||
      a->precision != b->precision || a->scale != b->scale || a->n_type_codes != b->n_type_codes)
    return false;
  if ((a->id == CF_TIME32 || a->id == CF_TIME64 || a->id == CF_TIMESTAMP || a->id == CF_DURATION) &&
      a->unit != b->unit)
    return false;
  if (a->timezone_len != b->timezone_len ||
      (a->timezone_len > 0 && memcmp(a->timezone, b->timezone, (size_t)a->timezone_len) != 0))
    return false;
  return memcmp(a->type_codes, b->type_codes, (size_t)a->n_type_codes) == 0;
}

/* Metadata as a multiset of pairs. */
static bool same_metadata(const char *a, const char *b, char *why, size_t cap) {
  int32_t na = cf_metadata_count(a), nb = cf_metadata_count(b);
  if (na != nb) {
    snprintf(why, cap, "%d metadata entries expected, got %d", (int)na, (int)nb);
    return false;
  }
  if (na == 0) return true;
  bool *used = calloc((size_t)nb, sizeof(bool));
  if (used == NULL) {
    snprintf(why, cap, "out of memory comparing metadata");
    return false;
  }
  cf_metadata_iter ia;
  cf_kv ka;
  bool ok = true;
  cf_metadata_iter_init(&ia, a);
  while (ok && cf_metadata_next(&ia, &ka)) {
    cf_metadata_iter ib;
    cf_kv kb;
    bool found = false;
    int32_t j = 0;
    cf_metadata_iter_init(&ib, b);
    while (!found && cf_metadata_next(&ib, &kb)) {
      if (!used[j] && ka.key_len == kb.key_len && ka.value_len == kb.value_len &&
          memcmp(ka.key, kb.key, (size_t)ka.key_len) == 0 &&
          memcmp(ka.value, kb.value, (size_t)ka.value_len) == 0) {
        used[j] = true;
        found = true;
      }
      j++;
    }
    if (!found) {
      snprintf(why, cap, "metadata entry '%.*s' = '%.*s' expected but missing or different",
               ka.key_len > 100 ? 100 : (int)ka.key_len, ka.key,
               ka.value_len > 100 ? 100 : (int)ka.value_len, ka.value);
      ok = false;
    }
  }
  free(used);
  return ok;
}

/* ignore_name: the root, dictionary values, and a map's entries struct and
 * its key and value fields, whose names Arrow does not consider part of the
 * type (Arrow C++ writes "entries", "key", "value" whatever the schema said:
 * the gold generated_map_non_canonical.stream does). */
/* types_only: names, nullability and metadata ignored everywhere. */
static int compare(const struct ArrowSchema *e, const struct ArrowSchema *a, cf_path *path,
                   bool ignore_name, bool dict_values, bool map_entries, bool types_only, int depth,
                   cflight_error *err) {
  if (types_only) {
    ignore_name = true;
    dict_values = true;
  }
  if (depth > 64) return differ(err, path, "nested too deeply");
  if (e == NULL || a == NULL || e->release == NULL || a->release == NULL) {
    return differ(err, path, "schema is missing or released");
  }
  const char *en = e->name ? e->name : "", *an = a->name ? a->name : "";
  if (!ignore_name && strcmp(en, an) != 0) {
    return differ(err, path, "name '%s' expected, got '%s'", en, an);
  }
  cf_type te, ta;
  cflight_error sub = {0};
  if (cf_type_parse(e->format, &te, &sub) != CFLIGHT_OK ||
      cf_type_parse(a->format, &ta, &sub) != CFLIGHT_OK) {
    return differ(err, path, "%s", sub.message);
  }
  if (!same_type(&te, &ta)) {
    return differ(err, path, "type '%s' (%s%s) expected, got '%s' (%s%s)", e->format,
                  cf_type_name(te.id), e->dictionary ? ", dictionary indices" : "", a->format,
                  cf_type_name(ta.id), a->dictionary ? ", dictionary indices" : "");
  }
  if (!dict_values && (e->flags & ARROW_FLAG_NULLABLE) != (a->flags & ARROW_FLAG_NULLABLE)) {
    return differ(err, path, "%s expected, got %s",
                  (e->flags & ARROW_FLAG_NULLABLE) ? "nullable" : "not nullable",
                  (a->flags & ARROW_FLAG_NULLABLE) ? "nullable" : "not nullable");
  }
  if (te.id == CF_MAP &&
      (e->flags & ARROW_FLAG_MAP_KEYS_SORTED) != (a->flags & ARROW_FLAG_MAP_KEYS_SORTED)) {
    return differ(err, path, "map keys %s expected",
                  (e->flags & ARROW_FLAG_MAP_KEYS_SORTED) ? "sorted" : "not sorted");
  }
  char why[300];
  if (!dict_values && !same_metadata(e->metadata, a->metadata, why, sizeof(why))) {
    return differ(err, path, "%s", why);
  }
  if ((e->dictionary == NULL) != (a->dictionary == NULL)) {
    return differ(err, path, "%s expected",
                  e->dictionary ? "a dictionary-encoded field" : "a field without dictionary");
  }
  if (e->dictionary != NULL) {
    if ((e->flags & ARROW_FLAG_DICTIONARY_ORDERED) != (a->flags & ARROW_FLAG_DICTIONARY_ORDERED)) {
      return differ(err, path, "dictionary %s expected",
                    (e->flags & ARROW_FLAG_DICTIONARY_ORDERED) ? "ordered" : "not ordered");
    }
    size_t saved = cf_path_push(path, "%s<dictionary>", path->len ? "." : "");
    int rc =
        compare(e->dictionary, a->dictionary, path, true, true, false, types_only, depth + 1, err);
    cf_path_pop(path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  if (e->n_children != a->n_children) {
    return differ(err, path, "%lld %s expected, got %lld", (long long)e->n_children,
                  path->len == 0 ? "fields" : "children", (long long)a->n_children);
  }
  bool is_map = te.id == CF_MAP;
  for (int64_t i = 0; i < e->n_children; i++) {
    const char *cn = e->children[i] && e->children[i]->name ? e->children[i]->name : "";
    size_t saved = cf_path_push(path, "%s%s", path->len ? "." : "", cn);
    if (cn[0] == '\0') cf_path_push(path, "[%lld]", (long long)i);
    int rc = compare(e->children[i], a->children[i], path, is_map || map_entries, false, is_map,
                     types_only, depth + 1, err);
    cf_path_pop(path, saved);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

int cf_schema_equal(const struct ArrowSchema *expected, const struct ArrowSchema *actual,
                    cflight_error *err) {
  cf_path path;
  path.len = 0;
  path.buf[0] = '\0';
  return compare(expected, actual, &path, true, false, false, false, 0, err);
}

int cf_schema_equal_types(const struct ArrowSchema *expected, const struct ArrowSchema *actual,
                          cflight_error *err) {
  cf_path path;
  path.len = 0;
  path.buf[0] = '\0';
  return compare(expected, actual, &path, true, false, false, true, 0, err);
}

/* ---- Rendering ---------------------------------------------------------------- */

static int describe(const struct ArrowSchema *s, const char *label, int depth, cf_bytes *out) {
  char line[1200];
  int n = snprintf(line, sizeof(line), "%*s%s: %s%s%s%s", depth * 2, "",
                   label                   ? label
                   : s->name && s->name[0] ? s->name
                                           : "(no name)",
                   s->format, (s->flags & ARROW_FLAG_NULLABLE) ? "" : " not null",
                   (s->flags & ARROW_FLAG_DICTIONARY_ORDERED) ? " ordered" : "",
                   (s->flags & ARROW_FLAG_MAP_KEYS_SORTED) ? " keys_sorted" : "");
  if (n < 0) return CFLIGHT_INTERNAL;
  CF_RETURN_NOT_OK(cf_bytes_append(out, line, strlen(line), NULL));
  cf_metadata_iter it;
  cf_kv kv;
  cf_metadata_iter_init(&it, s->metadata);
  bool first = true;
  while (cf_metadata_next(&it, &kv)) {
    n = snprintf(line, sizeof(line), "%s'%.*s'='%.*s'", first ? " {" : ", ",
                 kv.key_len > 200 ? 200 : (int)kv.key_len, kv.key,
                 kv.value_len > 200 ? 200 : (int)kv.value_len, kv.value);
    first = false;
    CF_RETURN_NOT_OK(cf_bytes_append(out, line, strlen(line), NULL));
  }
  if (!first) CF_RETURN_NOT_OK(cf_bytes_append(out, "}", 1, NULL));
  CF_RETURN_NOT_OK(cf_bytes_append(out, "\n", 1, NULL));
  if (depth > 64) return CFLIGHT_OK;
  if (s->dictionary != NULL)
    CF_RETURN_NOT_OK(describe(s->dictionary, "(dictionary values)", depth + 1, out));
  for (int64_t i = 0; i < s->n_children; i++)
    CF_RETURN_NOT_OK(describe(s->children[i], NULL, depth + 1, out));
  return CFLIGHT_OK;
}

char *cf_schema_describe(const struct ArrowSchema *schema) {
  cf_bytes out = {0};
  if (schema == NULL || schema->release == NULL ||
      describe(schema, "schema", 0, &out) != CFLIGHT_OK ||
      cf_bytes_append(&out, "", 1, NULL) != CFLIGHT_OK) {
    cf_bytes_reset(&out);
    return NULL;
  }
  return (char *)out.data;
}
