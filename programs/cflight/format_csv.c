/* CSV output: a header row of column names, then one line per row. Nulls
 * are empty fields; an empty string is "" (so that `cflight put` reads the
 * two apart again); nested values are JSON text; binary is hex. Fields are
 * quoted when they hold the delimiter, a quote, a line break, or leading or
 * trailing spaces. */
#include "format.h"

typedef struct csv_state {
  out_base *base;
  sbuf line;
  sbuf cell;
} csv_state;

static void put_field(csv_state *st, const char *s, size_t n) {
  char d = st->base->opts->delimiter;
  bool quote = n == 0 || s[0] == ' ' || s[n - 1] == ' ';
  for (size_t i = 0; i < n && !quote; i++) {
    quote = s[i] == d || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  }
  if (!quote) {
    sb_put(&st->line, s, n);
    return;
  }
  sb_putc(&st->line, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') {
      sb_put(&st->line, s + i - run, run + 1);
      sb_putc(&st->line, '"');
      run = 0;
    } else {
      run++;
    }
  }
  sb_put(&st->line, s + n - run, run);
  sb_putc(&st->line, '"');
}

static int csv_flush(csv_state *st, cflight_error *err) {
  if (st->line.failed) return CF_NOMEM(err, "a CSV line");
  if (st->line.len > 0 && fwrite(st->line.data, 1, st->line.len, st->base->fp) != st->line.len) {
    return out_fp_check(st->base->fp, err);
  }
  sb_clear(&st->line);
  return CFLIGHT_OK;
}

static int csv_begin(void *state, cflight_error *err) {
  csv_state *st = state;
  if (!st->base->opts->header) return CFLIGHT_OK;
  const struct ArrowSchema *s = st->base->schema;
  for (int64_t c = 0; c < s->n_children; c++) {
    if (c > 0) sb_putc(&st->line, st->base->opts->delimiter);
    const char *name = s->children[c]->name ? s->children[c]->name : "";
    /* An empty name is written quoted, like an empty string. */
    put_field(st, name, strlen(name));
  }
  sb_putc(&st->line, '\n');
  return csv_flush(st, err);
}

static int csv_write(void *state, const struct ArrowArray *batch, int64_t n, cflight_error *err) {
  csv_state *st = state;
  const rfield *root = &st->base->root;
  for (int64_t r = 0; r < n; r++) {
    for (int64_t c = 0; c < root->n_children; c++) {
      if (c > 0) sb_putc(&st->line, st->base->opts->delimiter);
      const struct ArrowArray *col = batch->children[c];
      int64_t i = batch->offset + r;
      if (render_is_null(&root->children[c], col, i)) continue;
      sb_clear(&st->cell);
      render_value(&st->cell, &root->children[c], col, i, RENDER_TEXT);
      if (st->cell.failed) return CF_NOMEM(err, "a CSV field");
      put_field(st, sb_str(&st->cell), st->cell.len);
    }
    /* A single-column row whose value is null would be an empty line,
     * which readers skip: write it as "" would change its meaning, so
     * such rows stay empty lines (documented limitation of CSV). */
    sb_putc(&st->line, '\n');
    if (st->line.len >= 1 << 16) CF_RETURN_NOT_OK(csv_flush(st, err));
  }
  return csv_flush(st, err);
}

static int csv_end(void *state, int64_t total_rows, bool limited, cflight_error *err) {
  CF_UNUSED(total_rows);
  CF_UNUSED(limited);
  return csv_flush(state, err);
}

static void csv_free(void *state) {
  csv_state *st = state;
  sb_free(&st->line);
  sb_free(&st->cell);
  free(st);
}

static const out_impl csv_impl = {csv_begin, csv_write, csv_end, csv_free};

int out_csv_new(out_base *base, void **state, const out_impl **impl, cflight_error *err) {
  csv_state *st = cf_calloc(1, sizeof(*st));
  if (st == NULL) return CF_NOMEM(err, "CSV output");
  st->base = base;
  *state = st;
  *impl = &csv_impl;
  return CFLIGHT_OK;
}
