/* Shared by the integration JSON reader and writer: the JSON text emitter
 * and a path tracker for error messages. */
#ifndef CF_INTEGRATION_JSON_INTERNAL_H
#define CF_INTEGRATION_JSON_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "integration.h"

/* Appends root as indented JSON text (objects one member per line, arrays of
 * scalars on one line, reals in their shortest exact form) to out. */
int cf_json_emit(const json_t *root, cf_bytes *out, cflight_error *err);

/* Joins FieldData b after FieldData a (both of `field`) into *out, for
 * dictionary deltas (json_merge.c). */
int cf_integration_merge_columns(const struct ArrowSchema *field, const json_t *a, const json_t *b,
                                 json_t **out, cflight_error *err);

/* A JSON path such as batches[1].columns[3].children[0].DATA[5], built up
 * and torn down as a walk descends and returns. Long paths are cut short
 * (with "...") rather than failing. */
typedef struct cf_json_path {
  char buf[1024];
  size_t len;
} cf_json_path;

static inline size_t cf_json_path_push(cf_json_path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline size_t cf_json_path_push(cf_json_path *p, const char *fmt, ...) {
  size_t saved = p->len;
  if (p->len < sizeof(p->buf) - 1) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
    va_end(ap);
    if (n > 0) p->len += (size_t)n;
    if (p->len >= sizeof(p->buf) - 1) {
      p->len = sizeof(p->buf) - 1;
      memcpy(p->buf + sizeof(p->buf) - 4, "...", 4);
    }
  }
  return saved;
}

static inline void cf_json_path_pop(cf_json_path *p, size_t saved) {
  p->len = saved;
  p->buf[saved] = '\0';
}

#endif /* CF_INTEGRATION_JSON_INTERNAL_H */
