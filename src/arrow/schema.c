/* ArrowSchema construction, copying and checking, and custom metadata. */
#include "arrow/arrow.h"

/* Owned by a schema made here: its strings, its children and its dictionary. */
typedef struct schema_private {
  char *format;
  char *name;
  char *metadata;
  struct ArrowSchema *child_structs;
  struct ArrowSchema *dictionary;
} schema_private;

static void schema_release(struct ArrowSchema *s) {
  if (s == NULL || s->release == NULL) return;
  schema_private *priv = s->private_data;
  for (int64_t i = 0; i < s->n_children; i++)
    cf_schema_release(s->children[i]);
  if (priv->dictionary != NULL) {
    cf_schema_release(priv->dictionary);
    free(priv->dictionary);
  }
  free(priv->format);
  free(priv->name);
  free(priv->metadata);
  free(s->children);
  free(priv->child_structs);
  free(priv);
  s->release = NULL;
  s->private_data = NULL;
}

void cf_schema_release(struct ArrowSchema *s) {
  if (s != NULL && s->release != NULL) s->release(s);
}

void cf_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst) {
  memcpy(dst, src, sizeof(*dst));
  src->release = NULL;
}

int cf_schema_init(struct ArrowSchema *out, const char *format, const char *name,
                   int64_t n_children, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (n_children < 0 || n_children > (1 << 24)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "bad child count %lld",
                             (long long)n_children);
  }
  schema_private *priv = calloc(1, sizeof(*priv));
  if (priv == NULL) return CF_NOMEM(err, "schema");
  out->private_data = priv;
  out->release = schema_release;
  out->flags = ARROW_FLAG_NULLABLE;
  if (n_children > 0) {
    priv->child_structs = calloc((size_t)n_children, sizeof(struct ArrowSchema));
    out->children = calloc((size_t)n_children, sizeof(struct ArrowSchema *));
    if (priv->child_structs == NULL || out->children == NULL) {
      schema_release(out);
      return CF_NOMEM(err, "schema children");
    }
    for (int64_t i = 0; i < n_children; i++)
      out->children[i] = &priv->child_structs[i];
    out->n_children = n_children;
  }
  int rc = cf_schema_set_format(out, format, err);
  if (rc == CFLIGHT_OK) rc = cf_schema_set_name(out, name, err);
  if (rc != CFLIGHT_OK) schema_release(out);
  return rc;
}

int cf_schema_set_format(struct ArrowSchema *s, const char *format, cflight_error *err) {
  schema_private *priv = s->private_data;
  char *copy = cf_strdup(format != NULL ? format : "");
  if (copy == NULL) return CF_NOMEM(err, "format string");
  free(priv->format);
  priv->format = copy;
  s->format = copy;
  return CFLIGHT_OK;
}

int cf_schema_set_name(struct ArrowSchema *s, const char *name, cflight_error *err) {
  schema_private *priv = s->private_data;
  char *copy = NULL;
  if (name != NULL && (copy = cf_strdup(name)) == NULL) return CF_NOMEM(err, "field name");
  free(priv->name);
  priv->name = copy;
  s->name = copy;
  return CFLIGHT_OK;
}

int cf_schema_set_metadata(struct ArrowSchema *s, const char *metadata, cflight_error *err) {
  schema_private *priv = s->private_data;
  char *copy = NULL;
  if (metadata != NULL) {
    size_t size = cf_metadata_size(metadata);
    copy = malloc(size);
    if (copy == NULL) return CF_NOMEM(err, "metadata");
    memcpy(copy, metadata, size);
  }
  free(priv->metadata);
  priv->metadata = copy;
  s->metadata = copy;
  return CFLIGHT_OK;
}

struct ArrowSchema *cf_schema_alloc_dictionary(struct ArrowSchema *s, cflight_error *err) {
  schema_private *priv = s->private_data;
  if (priv->dictionary == NULL) {
    priv->dictionary = calloc(1, sizeof(struct ArrowSchema));
    if (priv->dictionary == NULL) {
      CF_NOMEM(err, "dictionary schema");
      return NULL;
    }
  }
  s->dictionary = priv->dictionary;
  return priv->dictionary;
}

static int schema_copy(const struct ArrowSchema *src, struct ArrowSchema *dst, int depth,
                       cflight_error *err) {
  if (depth > 64)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema nested too deeply");
  CF_RETURN_NOT_OK(cf_schema_init(dst, src->format, src->name, src->n_children, err));
  int rc = cf_schema_set_metadata(dst, src->metadata, err);
  dst->flags = src->flags;
  for (int64_t i = 0; i < src->n_children && rc == CFLIGHT_OK; i++) {
    rc = schema_copy(src->children[i], dst->children[i], depth + 1, err);
  }
  if (rc == CFLIGHT_OK && src->dictionary != NULL) {
    struct ArrowSchema *dict = cf_schema_alloc_dictionary(dst, err);
    rc = dict == NULL ? CFLIGHT_NO_MEMORY : schema_copy(src->dictionary, dict, depth + 1, err);
  }
  if (rc != CFLIGHT_OK) cf_schema_release(dst);
  return rc;
}

int cf_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *dst, cflight_error *err) {
  if (src == NULL || src->release == NULL) {
    memset(dst, 0, sizeof(*dst));
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "cannot copy a released schema");
  }
  return schema_copy(src, dst, 0, err);
}

static int schema_validate(const struct ArrowSchema *s, int depth, cflight_error *err) {
  cf_type t;
  if (depth > 64)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema nested too deeply");
  if (s == NULL || s->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema is NULL or released");
  }
  CF_RETURN_NOT_OK(cf_type_parse(s->format, &t, err));
  const char *name = s->name != NULL ? s->name : "";
  int64_t want = cf_type_n_children(t.id);
  if (s->n_children < 0 || (s->n_children > 0 && s->children == NULL) ||
      (want >= 0 && s->n_children != want)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "field '%s' of type %s has %lld children", name, cf_type_name(t.id),
                             (long long)s->n_children);
  }
  if ((t.id == CF_SPARSE_UNION || t.id == CF_DENSE_UNION) && t.n_type_codes != s->n_children) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "union field '%s' has %d type codes for %lld children", name,
                             (int)t.n_type_codes, (long long)s->n_children);
  }
  if (t.id == CF_MAP) {
    const struct ArrowSchema *entries = s->children[0];
    if (entries == NULL || entries->format == NULL || strcmp(entries->format, "+s") != 0 ||
        entries->n_children != 2) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "map field '%s' must have a struct child of two fields", name);
    }
  }
  if (s->dictionary != NULL) {
    if (t.id < CF_INT8 || t.id > CF_UINT64) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "dictionary field '%s' has a non-integer index type %s", name,
                               cf_type_name(t.id));
    }
    CF_RETURN_NOT_OK(schema_validate(s->dictionary, depth + 1, err));
  }
  for (int64_t i = 0; i < s->n_children; i++) {
    CF_RETURN_NOT_OK(schema_validate(s->children[i], depth + 1, err));
  }
  if (t.id == CF_RUN_END_ENCODED) {
    cf_type re;
    CF_RETURN_NOT_OK(cf_type_parse(s->children[0]->format, &re, err));
    if (re.id != CF_INT16 && re.id != CF_INT32 && re.id != CF_INT64) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "run-end encoded field '%s' has run ends of type %s", name,
                               cf_type_name(re.id));
    }
  }
  return CFLIGHT_OK;
}

int cf_schema_validate(const struct ArrowSchema *s, cflight_error *err) {
  return schema_validate(s, 0, err);
}

/* ---- Metadata: int32 count, then per pair int32 key length, key, int32
 * value length, value; native byte order. ---------------------------------- */

static int32_t read_i32(const char *p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

void cf_metadata_iter_init(cf_metadata_iter *it, const char *metadata) {
  it->pos = metadata != NULL ? metadata + 4 : NULL;
  it->remaining = metadata != NULL ? read_i32(metadata) : 0;
}

bool cf_metadata_next(cf_metadata_iter *it, cf_kv *out) {
  if (it->remaining <= 0) return false;
  out->key_len = read_i32(it->pos);
  out->key = it->pos + 4;
  it->pos = out->key + out->key_len;
  out->value_len = read_i32(it->pos);
  out->value = it->pos + 4;
  it->pos = out->value + out->value_len;
  it->remaining--;
  return true;
}

int32_t cf_metadata_count(const char *metadata) {
  return metadata != NULL ? read_i32(metadata) : 0;
}

bool cf_metadata_get(const char *metadata, const char *key, cf_kv *out) {
  cf_metadata_iter it;
  size_t key_len = strlen(key);
  cf_metadata_iter_init(&it, metadata);
  while (cf_metadata_next(&it, out)) {
    if ((size_t)out->key_len == key_len && memcmp(out->key, key, key_len) == 0) return true;
  }
  return false;
}

size_t cf_metadata_size(const char *metadata) {
  if (metadata == NULL) return 0;
  cf_metadata_iter it;
  cf_kv kv;
  cf_metadata_iter_init(&it, metadata);
  while (cf_metadata_next(&it, &kv)) {
  }
  return (size_t)(it.pos - metadata);
}

int cf_metadata_build(const cf_kv *kvs, int32_t n, char **out, cflight_error *err) {
  *out = NULL;
  if (n <= 0) return CFLIGHT_OK;
  size_t size = 4;
  for (int32_t i = 0; i < n; i++)
    size += 8 + (size_t)kvs[i].key_len + (size_t)kvs[i].value_len;
  char *blob = malloc(size);
  if (blob == NULL) return CF_NOMEM(err, "metadata");
  char *p = blob;
  memcpy(p, &n, 4);
  p += 4;
  for (int32_t i = 0; i < n; i++) {
    memcpy(p, &kvs[i].key_len, 4);
    if (kvs[i].key_len > 0) memcpy(p + 4, kvs[i].key, (size_t)kvs[i].key_len);
    p += 4 + kvs[i].key_len;
    memcpy(p, &kvs[i].value_len, 4);
    if (kvs[i].value_len > 0) memcpy(p + 4, kvs[i].value, (size_t)kvs[i].value_len);
    p += 4 + kvs[i].value_len;
  }
  *out = blob;
  return CFLIGHT_OK;
}
