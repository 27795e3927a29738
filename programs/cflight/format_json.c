/* JSON lines output: one object per row, {"column": value, ...}, keys in
 * schema order (see render.h for how each type becomes a JSON value). */
#include "format.h"

typedef struct json_state {
  out_base *base;
  sbuf line;
  char **keys; /* each column's name as a JSON string literal with the colon */
} json_state;

static int json_begin(void *state, cflight_error *err) {
  json_state *st = state;
  const struct ArrowSchema *s = st->base->schema;
  st->keys = cf_calloc((size_t)(s->n_children > 0 ? s->n_children : 1), sizeof(char *));
  if (st->keys == NULL) return CF_NOMEM(err, "JSON keys");
  for (int64_t c = 0; c < s->n_children; c++) {
    sbuf k;
    sb_init(&k);
    const char *name = s->children[c]->name ? s->children[c]->name : "";
    sb_json_string(&k, name, strlen(name));
    sb_putc(&k, ':');
    st->keys[c] = sb_take(&k);
    if (st->keys[c] == NULL) return CF_NOMEM(err, "JSON keys");
  }
  return CFLIGHT_OK;
}

static int json_write(void *state, const struct ArrowArray *batch, int64_t n, cflight_error *err) {
  json_state *st = state;
  const rfield *root = &st->base->root;
  for (int64_t r = 0; r < n; r++) {
    sb_putc(&st->line, '{');
    for (int64_t c = 0; c < root->n_children; c++) {
      if (c > 0) sb_putc(&st->line, ',');
      sb_puts(&st->line, st->keys[c]);
      render_value(&st->line, &root->children[c], batch->children[c], batch->offset + r,
                   RENDER_JSON);
    }
    sb_puts(&st->line, "}\n");
    if (st->line.len >= 1 << 16 || r == n - 1) {
      if (st->line.failed) return CF_NOMEM(err, "a JSON line");
      if (fwrite(st->line.data, 1, st->line.len, st->base->fp) != st->line.len) {
        return out_fp_check(st->base->fp, err);
      }
      sb_clear(&st->line);
    }
  }
  return CFLIGHT_OK;
}

static int json_end(void *state, int64_t total_rows, bool limited, cflight_error *err) {
  CF_UNUSED(state);
  CF_UNUSED(total_rows);
  CF_UNUSED(limited);
  CF_UNUSED(err);
  return CFLIGHT_OK;
}

static void json_free(void *state) {
  json_state *st = state;
  if (st->keys != NULL) {
    for (int64_t c = 0; c < st->base->schema->n_children; c++)
      free(st->keys[c]);
    free(st->keys);
  }
  sb_free(&st->line);
  free(st);
}

static const out_impl json_impl = {json_begin, json_write, json_end, json_free};

int out_json_new(out_base *base, void **state, const out_impl **impl, cflight_error *err) {
  json_state *st = cf_calloc(1, sizeof(*st));
  if (st == NULL) return CF_NOMEM(err, "JSON output");
  st->base = base;
  *state = st;
  *impl = &json_impl;
  return CFLIGHT_OK;
}
