/* An ArrowArrayStream over a schema and a batch callback. */
#include "arrow/arrow.h"

typedef struct stream_private {
  struct ArrowSchema schema;
  cf_stream_source source;
  cflight_error error;
  bool finished;
} stream_private;

static int stream_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
  stream_private *priv = st->private_data;
  cflight_error_reset(&priv->error);
  int rc = cf_schema_copy(&priv->schema, out, &priv->error);
  return cf_code_to_errno(rc);
}

static int stream_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
  stream_private *priv = st->private_data;
  memset(out, 0, sizeof(*out));
  if (priv->finished) return 0;
  cflight_error_reset(&priv->error);
  int rc = priv->source.next(priv->source.ctx, out, &priv->error);
  if (rc != CFLIGHT_OK) {
    cf_array_release(out);
    if (priv->error.message[0] == '\0') {
      cflight_error_set(&priv->error, rc, "stream failed: %s", cflight_code_name(rc));
    }
    return cf_code_to_errno(rc);
  }
  if (out->release == NULL) priv->finished = true;
  return 0;
}

static const char *stream_get_last_error(struct ArrowArrayStream *st) {
  stream_private *priv = st->private_data;
  return priv->error.code != CFLIGHT_OK ? priv->error.message : NULL;
}

static void stream_release(struct ArrowArrayStream *st) {
  if (st == NULL || st->release == NULL) return;
  stream_private *priv = st->private_data;
  cf_schema_release(&priv->schema);
  if (priv->source.free_ctx != NULL) priv->source.free_ctx(priv->source.ctx);
  cflight_error_reset(&priv->error);
  free(priv);
  st->release = NULL;
  st->private_data = NULL;
}

int cf_stream_init(struct ArrowArrayStream *out, struct ArrowSchema *schema,
                   cf_stream_source source, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  stream_private *priv = calloc(1, sizeof(*priv));
  if (priv == NULL) {
    /* Ownership was taken either way: free what we were given. */
    cf_schema_release(schema);
    if (source.free_ctx != NULL) source.free_ctx(source.ctx);
    return CF_NOMEM(err, "stream");
  }
  cf_schema_move(schema, &priv->schema);
  priv->source = source;
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_get_last_error;
  out->release = stream_release;
  out->private_data = priv;
  return CFLIGHT_OK;
}
