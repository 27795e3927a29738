/* The output sink: row limit, locking, and dispatch to a format (see format.h). */
#include "format.h"

#include <errno.h>
#include <strings.h>

struct out_sink {
  pthread_mutex_t lock; /* guards everything below: writers may be several threads */
  out_options opts;
  struct ArrowSchema schema;
  out_base *base;
  void *state;
  const out_impl *impl;
  int64_t rows;
  bool done;
  bool closed;
};

void out_options_init(out_options *o) {
  memset(o, 0, sizeof(*o));
  o->format = OUT_TABLE;
  o->limit = -1;
  o->max_width = 40;
  o->row_count = true;
  o->delimiter = ',';
  o->header = true;
}

static const struct {
  const char *name;
  out_format format;
} format_names[] = {
    {"table", OUT_TABLE},   {"csv", OUT_CSV},       {"json", OUT_JSON},  {"jsonl", OUT_JSON},
    {"ndjson", OUT_JSON},   {"arrow", OUT_ARROW},   {"file", OUT_ARROW}, {"ipc", OUT_ARROW},
    {"arrows", OUT_ARROWS}, {"stream", OUT_ARROWS},
};

bool out_format_parse(const char *name, out_format *out) {
  for (size_t i = 0; i < CF_ARRAY_SIZE(format_names); i++) {
    if (strcasecmp(name, format_names[i].name) == 0) {
      *out = format_names[i].format;
      return true;
    }
  }
  return false;
}

bool out_format_from_path(const char *path, out_format *out) {
  static const struct {
    const char *ext;
    out_format format;
  } exts[] = {{".csv", OUT_CSV},     {".json", OUT_JSON},    {".jsonl", OUT_JSON},
              {".ndjson", OUT_JSON}, {".arrow", OUT_ARROW},  {".feather", OUT_ARROW},
              {".ipc", OUT_ARROW},   {".arrows", OUT_ARROWS}};
  for (size_t i = 0; i < CF_ARRAY_SIZE(exts); i++) {
    if (ends_with_ci(path, exts[i].ext)) {
      *out = exts[i].format;
      return true;
    }
  }
  return false;
}

const char *out_format_name(out_format f) {
  switch (f) {
    case OUT_TABLE:
      return "table";
    case OUT_CSV:
      return "csv";
    case OUT_JSON:
      return "json";
    case OUT_ARROW:
      return "arrow";
    default:
      return "arrows";
  }
}

int out_fp_check(FILE *fp, cflight_error *err) {
  if (fflush(fp) != 0 || ferror(fp)) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "writing the output failed: %s",
                             strerror(errno != 0 ? errno : EIO));
  }
  return CFLIGHT_OK;
}

int out_sink_open(const out_options *opts, FILE *fp, const struct ArrowSchema *schema,
                  out_sink **out, cflight_error *err) {
  *out = NULL;
  out_sink *s = cf_calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "an output");
  pthread_mutex_init(&s->lock, NULL);
  s->opts = *opts;
  int rc = cf_schema_copy(schema, &s->schema, err);
  if (rc == CFLIGHT_OK && (s->schema.format == NULL || strcmp(s->schema.format, "+s") != 0)) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                           "the data's schema is not a struct of columns (format '%s')",
                           s->schema.format ? s->schema.format : "");
  }
  if (rc == CFLIGHT_OK) {
    s->base = cf_calloc(1, sizeof(out_base));
    if (s->base == NULL) rc = CF_NOMEM(err, "an output");
  }
  if (rc == CFLIGHT_OK) {
    s->base->fp = fp;
    s->base->opts = &s->opts;
    s->base->schema = &s->schema;
    if (opts->format != OUT_ARROW && opts->format != OUT_ARROWS) {
      rc = rfield_init(&s->base->root, &s->schema, err);
    }
  }
  if (rc == CFLIGHT_OK) {
    switch (opts->format) {
      case OUT_TABLE:
        rc = out_table_new(s->base, &s->state, &s->impl, err);
        break;
      case OUT_CSV:
        rc = out_csv_new(s->base, &s->state, &s->impl, err);
        break;
      case OUT_JSON:
        rc = out_json_new(s->base, &s->state, &s->impl, err);
        break;
      default:
        rc = out_ipc_new(s->base, &s->state, &s->impl, err);
        break;
    }
  }
  if (rc == CFLIGHT_OK) rc = s->impl->begin(s->state, err);
  if (rc != CFLIGHT_OK) {
    out_sink_free(s);
    return rc;
  }
  *out = s;
  return CFLIGHT_OK;
}

int out_sink_write(out_sink *s, const struct ArrowArray *batch, bool *done, cflight_error *err) {
  pthread_mutex_lock(&s->lock);
  int rc = CFLIGHT_OK;
  if (!s->done && !s->closed) {
    int64_t n = batch->length;
    if (s->opts.limit >= 0 && n > s->opts.limit - s->rows) n = s->opts.limit - s->rows;
    if (n > 0) rc = s->impl->write(s->state, batch, n, err);
    if (rc == CFLIGHT_OK) {
      s->rows += n;
      if (s->opts.limit >= 0 && s->rows >= s->opts.limit) s->done = true;
    }
  }
  if (done != NULL) *done = s->done;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int out_sink_close(out_sink *s, cflight_error *err) {
  pthread_mutex_lock(&s->lock);
  int rc = CFLIGHT_OK;
  if (!s->closed) {
    s->closed = true;
    bool limited = s->opts.limit >= 0 && s->rows >= s->opts.limit;
    rc = s->impl->end(s->state, s->rows, limited, err);
    if (rc == CFLIGHT_OK) rc = out_fp_check(s->base->fp, err);
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int64_t out_sink_rows(const out_sink *s) {
  return s->rows;
}

const struct ArrowSchema *out_sink_schema(const out_sink *s) {
  return &s->schema;
}

void out_sink_free(out_sink *s) {
  if (s == NULL) return;
  if (s->impl != NULL && s->state != NULL) s->impl->free(s->state);
  if (s->base != NULL) {
    rfield_free(&s->base->root);
    free(s->base);
  }
  cf_schema_release(&s->schema);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
