/* ArrowArray construction with one owner, and shared arrays. */
#include <stdatomic.h>

#include "arrow/arrow.h"

/* Everything an array made by cf_array_init owns, in one allocation:
 * [array_private][buffer pointers][buffer refs][child pointers][child structs]. */
typedef struct array_private {
  int64_t n_buffers;
  int64_t n_children;
  cflight_buffer **refs;
  struct ArrowArray *child_structs;
  struct ArrowArray *dictionary;
} array_private;

static void array_release(struct ArrowArray *a) {
  if (a == NULL || a->release == NULL) return;
  array_private *priv = a->private_data;
  for (int64_t i = 0; i < priv->n_children; i++) {
    cf_array_release(a->children[i]);
  }
  if (priv->dictionary != NULL) {
    cf_array_release(priv->dictionary);
    free(priv->dictionary);
  }
  for (int64_t i = 0; i < priv->n_buffers; i++) {
    cflight_buffer_unref(priv->refs[i]);
  }
  free(priv);
  a->release = NULL;
  a->private_data = NULL;
}

int cf_array_init(struct ArrowArray *out, int64_t n_buffers, int64_t n_children,
                  cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (n_buffers < 0 || n_children < 0 || n_buffers > (1 << 24) || n_children > (1 << 24)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "bad array shape: %lld buffers, %lld children", (long long)n_buffers,
                             (long long)n_children);
  }
  size_t size = sizeof(array_private) +
                (size_t)n_buffers * (sizeof(void *) + sizeof(cflight_buffer *)) +
                (size_t)n_children * (sizeof(struct ArrowArray *) + sizeof(struct ArrowArray));
  uint8_t *mem = calloc(1, size);
  if (mem == NULL) return CF_NOMEM(err, "array");
  array_private *priv = (array_private *)mem;
  uint8_t *p = mem + sizeof(array_private);
  out->buffers = (const void **)p;
  p += (size_t)n_buffers * sizeof(void *);
  priv->refs = (cflight_buffer **)p;
  p += (size_t)n_buffers * sizeof(cflight_buffer *);
  out->children = (struct ArrowArray **)p;
  p += (size_t)n_children * sizeof(struct ArrowArray *);
  priv->child_structs = (struct ArrowArray *)p;
  for (int64_t i = 0; i < n_children; i++)
    out->children[i] = &priv->child_structs[i];
  priv->n_buffers = n_buffers;
  priv->n_children = n_children;
  out->n_buffers = n_buffers;
  out->n_children = n_children;
  out->private_data = priv;
  out->release = array_release;
  if (n_buffers == 0) out->buffers = NULL;
  if (n_children == 0) out->children = NULL;
  return CFLIGHT_OK;
}

void cf_array_set_buffer(struct ArrowArray *a, int64_t i, cflight_buffer *buf, const void *data) {
  array_private *priv = a->private_data;
  cflight_buffer_unref(priv->refs[i]);
  priv->refs[i] = buf;
  a->buffers[i] = data;
}

void *cf_array_alloc_buffer(struct ArrowArray *a, int64_t i, size_t size, cflight_error *err) {
  cflight_buffer *buf = cflight_buffer_new(size);
  if (buf == NULL) {
    CF_NOMEM(err, "array buffer");
    return NULL;
  }
  uint8_t *data = cflight_buffer_mutable_data(buf);
  if (size > 0) memset(data, 0, size);
  cf_array_set_buffer(a, i, buf, data);
  return data;
}

struct ArrowArray *cf_array_alloc_dictionary(struct ArrowArray *a, cflight_error *err) {
  array_private *priv = a->private_data;
  if (priv->dictionary == NULL) {
    priv->dictionary = calloc(1, sizeof(struct ArrowArray));
    if (priv->dictionary == NULL) {
      CF_NOMEM(err, "dictionary");
      return NULL;
    }
  }
  a->dictionary = priv->dictionary;
  return priv->dictionary;
}

void cf_array_move(struct ArrowArray *src, struct ArrowArray *dst) {
  memcpy(dst, src, sizeof(*dst));
  src->release = NULL;
}

void cf_array_release(struct ArrowArray *a) {
  if (a != NULL && a->release != NULL) a->release(a);
}

/* ---- Shared arrays -------------------------------------------------------- */

struct cf_shared_array {
  atomic_long refs;
  struct ArrowArray array;
};

/* Each node of an export owns its own block and its own reference on the
 * holder, so that a consumer may move a child out and release it after the
 * parent, as the C Data Interface allows. */
typedef struct export_private {
  cf_shared_array *holder;
  struct ArrowArray *child_structs; /* n_children, then the dictionary */
} export_private;

cf_shared_array *cf_shared_array_new(struct ArrowArray *src) {
  cf_shared_array *sh = calloc(1, sizeof(*sh));
  if (sh == NULL) return NULL;
  atomic_init(&sh->refs, 1);
  cf_array_move(src, &sh->array);
  return sh;
}

cf_shared_array *cf_shared_array_ref(cf_shared_array *sh) {
  if (sh != NULL) atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
  return sh;
}

void cf_shared_array_unref(cf_shared_array *sh) {
  if (sh == NULL) return;
  if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1) return;
  cf_array_release(&sh->array);
  free(sh);
}

const struct ArrowArray *cf_shared_array_get(const cf_shared_array *sh) {
  return &sh->array;
}

static void export_release(struct ArrowArray *a) {
  if (a == NULL || a->release == NULL) return;
  export_private *priv = a->private_data;
  for (int64_t i = 0; i < a->n_children; i++)
    cf_array_release(a->children[i]);
  cf_array_release(a->dictionary);
  cf_shared_array_unref(priv->holder);
  free(priv);
  a->release = NULL;
  a->private_data = NULL;
}

int cf_shared_array_export(cf_shared_array *sh, const struct ArrowArray *node,
                           struct ArrowArray *out, cflight_error *err) {
  int64_t n_structs = node->n_children + (node->dictionary != NULL ? 1 : 0);
  size_t size = sizeof(export_private) + (size_t)n_structs * sizeof(struct ArrowArray) +
                (size_t)(node->n_buffers + node->n_children) * sizeof(void *);
  uint8_t *mem = calloc(1, size);
  if (mem == NULL) return CF_NOMEM(err, "array export");
  export_private *priv = (export_private *)mem;
  priv->child_structs = (struct ArrowArray *)(mem + sizeof(export_private));
  const void **ptrs = (const void **)(priv->child_structs + n_structs);
  *out = *node;
  out->buffers = node->n_buffers > 0 ? ptrs : NULL;
  for (int64_t i = 0; i < node->n_buffers; i++)
    out->buffers[i] = node->buffers[i];
  out->children = node->n_children > 0 ? (struct ArrowArray **)(ptrs + node->n_buffers) : NULL;
  out->dictionary = NULL;
  out->private_data = priv;
  out->release = export_release;
  priv->holder = cf_shared_array_ref(sh);
  int rc = CFLIGHT_OK;
  for (int64_t i = 0; i < node->n_children; i++) {
    out->children[i] = &priv->child_structs[i];
    if (rc == CFLIGHT_OK) rc = cf_shared_array_export(sh, node->children[i], out->children[i], err);
  }
  if (node->dictionary != NULL && rc == CFLIGHT_OK) {
    out->dictionary = &priv->child_structs[node->n_children];
    rc = cf_shared_array_export(sh, node->dictionary, out->dictionary, err);
  }
  if (rc != CFLIGHT_OK) export_release(out);
  return rc;
}
