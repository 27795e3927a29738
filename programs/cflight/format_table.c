/* The table output, for people at a terminal:
 *
 *   id | name  | score
 *   int64 | string | float64        (each column's type under its name)
 *   ---+-------+------
 *    1 | alice |   1.5
 *   (1 row)
 *
 * Columns are sized from the first rows (up to SAMPLE_ROWS are held as
 * text); later rows keep those widths. Values wider than --max-width are
 * cut with an ellipsis, control characters are shown escaped (\n, \t,
 * \xNN) so that rows stay on one line, numbers are right-aligned, and nulls
 * show as ∅ (NULL without a UTF-8 terminal). */
#include <wchar.h>

#include "format.h"

#define SAMPLE_ROWS 1000

typedef struct table_state {
  out_base *base;
  int64_t ncols;
  char **head_names, **head_types; /* escaped header texts */
  int *widths;
  bool *right;
  char **cells; /* SAMPLE_ROWS * ncols escaped texts, while sampling */
  int64_t n_buffered;
  bool header_done;
  sbuf value, esc, line;
} table_state;

/* Display width of code point cp in a terminal. */
static int cp_width(uint32_t cp) {
  int w = wcwidth((wchar_t)cp);
  return w < 0 ? 1 : w;
}

/* Appends s[0..n) to out with control characters and bytes that are not
 * UTF-8 escaped, cut to max_width terminal cells with an ellipsis (also
 * when `cut` says the text was truncated already); returns the width. */
static int escape_cell(sbuf *out, const char *s, size_t n, int max_width, bool cut, bool unicode) {
  const char *ell = unicode ? "\xE2\x80\xA6" : "...";
  int ell_w = unicode ? 1 : 3;
  if (max_width < ell_w + 1) max_width = ell_w + 1;
  size_t start = out->len;
  int width = 0;
  size_t keep_len = 0; /* out->len - start where the text still left room for the ellipsis */
  int keep_w = 0;
  const uint8_t *p = (const uint8_t *)s;
  size_t i = 0;
  while (i < n) {
    char tmp[8];
    size_t tlen;
    int w;
    uint32_t cp = p[i];
    size_t adv = 1;
    if (cp < 0x20 || cp == 0x7F) {
      if (cp == '\n') {
        memcpy(tmp, "\\n", 2);
        tlen = 2;
      } else if (cp == '\t') {
        memcpy(tmp, "\\t", 2);
        tlen = 2;
      } else if (cp == '\r') {
        memcpy(tmp, "\\r", 2);
        tlen = 2;
      } else {
        tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)cp);
      }
      w = (int)tlen;
    } else if (cp < 0x80) {
      tmp[0] = (char)cp;
      tlen = 1;
      w = 1;
    } else {
      /* Decode one UTF-8 sequence, or escape the byte. */
      size_t len = (cp & 0xE0) == 0xC0 ? 2 : (cp & 0xF0) == 0xE0 ? 3 : (cp & 0xF8) == 0xF0 ? 4 : 0;
      if (len == 0 || i + len > n || !utf8_valid(p + i, len)) {
        tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)cp);
        w = (int)tlen;
      } else {
        uint32_t v = cp & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
        for (size_t k = 1; k < len; k++)
          v = (v << 6) | (p[i + k] & 0x3F);
        memcpy(tmp, p + i, len);
        tlen = len;
        adv = len;
        w = cp_width(v);
      }
    }
    if (width + w <= max_width - ell_w) {
      keep_len = out->len - start + tlen;
      keep_w = width + w;
    }
    if (width + w > max_width) {
      cut = true;
      break;
    }
    sb_put(out, tmp, tlen);
    width += w;
    i += adv;
  }
  if (cut) {
    out->len = start + keep_len;
    if (out->data != NULL) out->data[out->len] = '\0';
    sb_puts(out, ell);
    width = keep_w + ell_w;
  }
  return width;
}

static int text_width(const char *s) {
  int w = 0;
  const uint8_t *p = (const uint8_t *)s;
  while (*p != '\0') {
    uint32_t c = *p;
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (len == 1) {
      w++;
    } else {
      uint32_t v = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      for (size_t k = 1; k < len && p[k] != '\0'; k++)
        v = (v << 6) | (p[k] & 0x3F);
      w += cp_width(v);
    }
    for (size_t k = 0; k < len && *p != '\0'; k++)
      p++;
  }
  return w;
}

/* The escaped text of one cell (caller frees). */
static char *cell_text(table_state *st, const struct ArrowArray *batch, int64_t r, int64_t c,
                       int max_width) {
  const rfield *f = &st->base->root.children[c];
  const struct ArrowArray *col = batch->children[c];
  int64_t i = batch->offset + r;
  sb_clear(&st->esc);
  if (render_is_null(f, col, i)) {
    sb_puts(&st->esc, st->base->opts->unicode ? "\xE2\x88\x85" : "NULL");
  } else {
    sb_clear(&st->value);
    /* Render no more than can show: a few bytes per cell of width. */
    st->value.limit = (size_t)max_width * 4 + 16;
    render_value(&st->value, f, col, i, RENDER_TEXT);
    escape_cell(&st->esc, sb_str(&st->value), st->value.len, max_width, st->value.truncated,
                st->base->opts->unicode);
  }
  return st->esc.failed ? NULL : strdup(sb_str(&st->esc));
}

static void put_padded(table_state *st, const char *text, int width, bool right) {
  int pad = width - text_width(text);
  if (pad < 0) pad = 0;
  if (right) {
    for (int k = 0; k < pad; k++)
      sb_putc(&st->line, ' ');
  }
  sb_puts(&st->line, text);
  if (!right) {
    for (int k = 0; k < pad; k++)
      sb_putc(&st->line, ' ');
  }
}

static int end_line(table_state *st, cflight_error *err) {
  while (st->line.len > 0 && st->line.data[st->line.len - 1] == ' ')
    st->line.len--;
  sb_putc(&st->line, '\n');
  if (st->line.failed) return CF_NOMEM(err, "a table line");
  if (st->line.len >= 1 << 16) {
    if (fwrite(st->line.data, 1, st->line.len, st->base->fp) != st->line.len) {
      return out_fp_check(st->base->fp, err);
    }
    sb_clear(&st->line);
  }
  return CFLIGHT_OK;
}

static int flush_line(table_state *st, cflight_error *err) {
  if (st->line.len > 0 && fwrite(st->line.data, 1, st->line.len, st->base->fp) != st->line.len) {
    return out_fp_check(st->base->fp, err);
  }
  sb_clear(&st->line);
  return CFLIGHT_OK;
}

static int put_row(table_state *st, char *const *cells, cflight_error *err) {
  for (int64_t c = 0; c < st->ncols; c++) {
    if (c > 0) sb_puts(&st->line, " | ");
    put_padded(st, cells[c], st->widths[c], st->right[c]);
  }
  return end_line(st, err);
}

/* Sizes the columns from the header and the rows held, prints the header
 * and those rows, and lets later rows through directly. */
static int print_header_and_sample(table_state *st, cflight_error *err) {
  for (int64_t c = 0; c < st->ncols; c++) {
    int w = text_width(st->head_names[c]);
    int tw = text_width(st->head_types[c]);
    if (tw > w) w = tw;
    for (int64_t r = 0; r < st->n_buffered; r++) {
      int cw = text_width(st->cells[r * st->ncols + c]);
      if (cw > w) w = cw;
    }
    st->widths[c] = w;
  }
  if (st->ncols > 0) {
    for (int64_t c = 0; c < st->ncols; c++) {
      if (c > 0) sb_puts(&st->line, " | ");
      put_padded(st, st->head_names[c], st->widths[c], false);
    }
    CF_RETURN_NOT_OK(end_line(st, err));
    for (int64_t c = 0; c < st->ncols; c++) {
      if (c > 0) sb_puts(&st->line, " | ");
      put_padded(st, st->head_types[c], st->widths[c], false);
    }
    CF_RETURN_NOT_OK(end_line(st, err));
    for (int64_t c = 0; c < st->ncols; c++) {
      if (c > 0) sb_puts(&st->line, "-+-");
      for (int k = 0; k < st->widths[c]; k++)
        sb_putc(&st->line, '-');
    }
    CF_RETURN_NOT_OK(end_line(st, err));
  }
  for (int64_t r = 0; r < st->n_buffered; r++) {
    if (st->ncols > 0) CF_RETURN_NOT_OK(put_row(st, &st->cells[r * st->ncols], err));
    for (int64_t c = 0; c < st->ncols; c++) {
      free(st->cells[r * st->ncols + c]);
      st->cells[r * st->ncols + c] = NULL;
    }
  }
  st->n_buffered = 0;
  st->header_done = true;
  return flush_line(st, err);
}

static int table_begin(void *state, cflight_error *err) {
  table_state *st = state;
  const out_options *o = st->base->opts;
  st->ncols = st->base->root.n_children;
  size_t n = (size_t)(st->ncols > 0 ? st->ncols : 1);
  st->head_names = cf_calloc(n, sizeof(char *));
  st->head_types = cf_calloc(n, sizeof(char *));
  st->widths = cf_calloc(n, sizeof(int));
  st->right = cf_calloc(n, sizeof(bool));
  st->cells = cf_calloc(n * SAMPLE_ROWS, sizeof(char *));
  if (!st->head_names || !st->head_types || !st->widths || !st->right || !st->cells) {
    return CF_NOMEM(err, "a table");
  }
  for (int64_t c = 0; c < st->ncols; c++) {
    const rfield *f = &st->base->root.children[c];
    const char *name = f->schema->name ? f->schema->name : "";
    sb_clear(&st->esc);
    escape_cell(&st->esc, name, strlen(name), o->max_width, false, o->unicode);
    st->head_names[c] = strdup(sb_str(&st->esc));
    sb_clear(&st->value);
    st->value.limit = 0;
    render_type(&st->value, f);
    sb_clear(&st->esc);
    escape_cell(&st->esc, sb_str(&st->value), st->value.len, o->max_width, false, o->unicode);
    st->head_types[c] = strdup(sb_str(&st->esc));
    if (st->head_names[c] == NULL || st->head_types[c] == NULL || st->esc.failed) {
      return CF_NOMEM(err, "a table header");
    }
    st->right[c] = f->numeric;
  }
  return CFLIGHT_OK;
}

static int table_write(void *state, const struct ArrowArray *batch, int64_t n, cflight_error *err) {
  table_state *st = state;
  for (int64_t r = 0; r < n; r++) {
    if (!st->header_done) {
      for (int64_t c = 0; c < st->ncols; c++) {
        char *t = cell_text(st, batch, r, c, st->base->opts->max_width);
        if (t == NULL) return CF_NOMEM(err, "a table cell");
        st->cells[st->n_buffered * st->ncols + c] = t;
      }
      st->n_buffered++;
      if (st->n_buffered == SAMPLE_ROWS) CF_RETURN_NOT_OK(print_header_and_sample(st, err));
      continue;
    }
    for (int64_t c = 0; c < st->ncols; c++) {
      if (c > 0) sb_puts(&st->line, " | ");
      char *t = cell_text(st, batch, r, c, st->widths[c]);
      if (t == NULL) return CF_NOMEM(err, "a table cell");
      put_padded(st, t, st->widths[c], st->right[c]);
      free(t);
    }
    if (st->ncols > 0) CF_RETURN_NOT_OK(end_line(st, err));
  }
  return flush_line(st, err);
}

static int table_end(void *state, int64_t total_rows, bool limited, cflight_error *err) {
  table_state *st = state;
  if (!st->header_done) CF_RETURN_NOT_OK(print_header_and_sample(st, err));
  if (st->base->opts->row_count) {
    sb_printf(&st->line, "(%lld row%s%s)\n", (long long)total_rows, total_rows == 1 ? "" : "s",
              limited ? ", limited by --limit" : "");
  }
  return flush_line(st, err);
}

static void table_free(void *state) {
  table_state *st = state;
  for (int64_t c = 0; c < st->ncols; c++) {
    if (st->head_names != NULL) free(st->head_names[c]);
    if (st->head_types != NULL) free(st->head_types[c]);
  }
  if (st->cells != NULL) {
    for (int64_t k = 0; k < st->n_buffered * st->ncols; k++)
      free(st->cells[k]);
  }
  free(st->head_names);
  free(st->head_types);
  free(st->widths);
  free(st->right);
  free(st->cells);
  sb_free(&st->value);
  sb_free(&st->esc);
  sb_free(&st->line);
  free(st);
}

static const out_impl table_impl = {table_begin, table_write, table_end, table_free};

int out_table_new(out_base *base, void **state, const out_impl **impl, cflight_error *err) {
  table_state *st = cf_calloc(1, sizeof(*st));
  if (st == NULL) return CF_NOMEM(err, "table output");
  st->base = base;
  *state = st;
  *impl = &table_impl;
  return CFLIGHT_OK;
}
