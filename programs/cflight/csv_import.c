/* CSV to Arrow record batches (see csv_import.h). libcsv does the parsing;
 * this file keeps the current row's fields, infers the column types in a
 * first pass, and builds batches in the second. libcsv reports fields and
 * row ends through callbacks, so errors found there are kept in the reader
 * and reported when the parse call returns. */
#include "csv_import.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <strings.h>
#include <sys/stat.h>

#include "render.h"

#define READ_CHUNK (64 * 1024)
/* Standard input cannot be read twice: types come from its first rows. */
#define SAMPLE_ROWS 65536
#define SAMPLE_BYTES (16 * 1024 * 1024)
/* A larger single field is refused rather than buffered. */
#define MAX_FIELD_BYTES ((size_t)256 * 1024 * 1024)

typedef enum col_type {
  CT_INT64,
  CT_FLOAT64,
  CT_BOOL,
  CT_DATE,
  CT_TIMESTAMP,   /* naive */
  CT_TIMESTAMPTZ, /* UTC */
  CT_STRING,
  CT_BINARY,
} col_type;

typedef struct col_infer {
  bool any, can_int, can_float, can_bool, can_date, can_ts, utf8, zoned, naive;
  int frac;
} col_infer;

typedef struct col_build {
  cf_bytes validity, values, data;
  int64_t nulls;
} col_build;

struct csv_reader {
  csv_import_options opts;
  char *path; /* for messages */
  FILE *fp;
  bool own_fp, seekable;
  int64_t size, pos;
  struct csv_parser parser;
  bool parser_live;
  int pass; /* 1: infer, 2: build */
  /* The current row's fields, back to back in rowbuf. */
  cf_bytes rowbuf;
  size_t *f_off, *f_len;
  bool *f_null;
  size_t nfields, fcap;
  int64_t records; /* records seen in this pass, the header included */
  /* Columns. */
  int64_t ncols;
  char **names;
  col_type *types;
  bool *overridden;
  col_infer *inf;
  col_build *cols;
  cf_time_unit *units;
  struct ArrowSchema schema;
  /* Batches finished by the row callback, waiting for csv_reader_next. */
  int64_t batch_len;
  struct ArrowArray *pending;
  size_t n_pending, cap_pending, next_pending;
  /* Standard input: the bytes read while inferring, replayed first. */
  cf_bytes prefix;
  size_t prefix_pos;
  bool eof;
  bool bom_done;
  bool failed;
  cflight_error cb_err;
};

void csv_import_options_init(csv_import_options *o) {
  memset(o, 0, sizeof(*o));
  o->delimiter = ',';
  o->header = true;
  o->batch_rows = 65536;
}

/* ---- Value parsers ------------------------------------------------------------------ */

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return n > 0;
}

bool csv_parse_int64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (n > 0 && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (!digits(s + i, n - i)) return false;
  /* "007" stays text (codes and zip codes keep their zeros). */
  if (s[i] == '0' && n - i > 1) return false;
  uint64_t v = 0;
  for (; i < n; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return false;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

bool csv_parse_float64(const char *s, size_t n, double *out) {
  char buf[80];
  if (n == 0 || n >= sizeof(buf)) return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (strpbrk(buf, "xX \t\n\r") != NULL) return false; /* no hex floats, no spaces */
  const char *d = buf + (buf[0] == '-' || buf[0] == '+');
  if (d[0] == '0' && d[1] >= '0' && d[1] <= '9') return false; /* "007.5" stays text */
  if (!(d[0] == '.' || (d[0] >= '0' && d[0] <= '9'))) {
    /* Words: only the usual spellings of NaN and infinity. */
    static const char *words[] = {"nan", "inf", "infinity"};
    bool ok = false;
    for (size_t k = 0; k < CF_ARRAY_SIZE(words); k++)
      ok = ok || strcasecmp(d, words[k]) == 0;
    if (!ok) return false;
  }
  errno = 0;
  char *end;
  double v = strtod(buf, &end);
  if (*end != '\0' || end == buf) return false;
  if (errno == ERANGE && isinf(v)) return false;
  *out = v;
  return true;
}

bool csv_parse_bool(const char *s, size_t n, bool *out) {
  if (n == 4 && strncasecmp(s, "true", 4) == 0) {
    *out = true;
    return true;
  }
  if (n == 5 && strncasecmp(s, "false", 5) == 0) {
    *out = false;
    return true;
  }
  return false;
}

static int num2(const char *s) {
  if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return -1;
  return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool parse_ymd(const char *s, size_t n, int64_t *days) {
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4)) return false;
  int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = num2(s + 5), d = num2(s + 8);
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  if (d > mdays[m - 1] + (m == 2 && leap(y))) return false;
  *days = days_from_civil(y, m, d);
  return true;
}

bool csv_parse_date(const char *s, size_t n, int32_t *days) {
  int64_t d;
  if (!parse_ymd(s, n, &d)) return false;
  *days = (int32_t)d;
  return true;
}

bool csv_parse_timestamp(const char *s, size_t n, int64_t *secs, int32_t *nanos, bool *zoned,
                         int *frac_digits) {
  int64_t days;
  if (n < 10 || !parse_ymd(s, 10, &days)) return false;
  int64_t t = days * 86400;
  int32_t ns = 0;
  int fd = 0;
  bool z = false;
  size_t i = 10;
  if (i < n) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
    i++;
    if (i + 5 > n || s[i + 2] != ':') return false;
    int h = num2(s + i), mi = num2(s + i + 3);
    if (h < 0 || h > 23 || mi < 0 || mi > 59) return false;
    t += h * 3600 + mi * 60;
    i += 5;
    if (i < n && s[i] == ':') {
      if (i + 3 > n) return false;
      int sec = num2(s + i + 1);
      if (sec < 0 || sec > 59) return false;
      t += sec;
      i += 3;
      if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          if (i - start < 9) ns = ns * 10 + (s[i] - '0');
          i++;
        }
        fd = (int)(i - start);
        if (fd == 0 || fd > 9) return false;
        for (int k = fd; k < 9; k++)
          ns *= 10;
      }
    }
    if (i < n) {
      if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        z = true;
        i++;
      } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        if (i + 2 > n) return false;
        int oh = num2(s + i), om = 0;
        i += 2;
        if (i < n && s[i] == ':') i++;
        if (i + 2 == n) {
          om = num2(s + i);
          i += 2;
        }
        if (i != n || oh < 0 || oh > 23 || om < 0 || om > 59) return false;
        t -= sign * (oh * 3600 + om * 60);
        z = true;
      } else {
        return false;
      }
    }
  }
  *secs = t;
  *nanos = ns;
  *zoned = z;
  *frac_digits = fd;
  return true;
}

/* ---- Errors from inside callbacks ------------------------------------------------ */

static void cb_fail(csv_reader *r, int code, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
static void cb_fail(csv_reader *r, int code, const char *fmt, ...) {
  if (r->failed) return;
  r->failed = true;
  va_list ap;
  va_start(ap, fmt);
  cflight_error_setv(&r->cb_err, code, fmt, ap);
  va_end(ap);
}

/* The data row number (1-based) of the current record, for messages. */
static int64_t data_row(const csv_reader *r) {
  return r->records - (r->opts.header ? 1 : 0);
}

/* ---- Columns and schema ------------------------------------------------------------ */

static const char *type_format(col_type t, cf_time_unit unit) {
  switch (t) {
    case CT_INT64:
      return "l";
    case CT_FLOAT64:
      return "g";
    case CT_BOOL:
      return "b";
    case CT_DATE:
      return "tdD";
    case CT_TIMESTAMP:
      return unit == CF_NANO ? "tsn:" : "tsu:";
    case CT_TIMESTAMPTZ:
      return unit == CF_NANO ? "tsn:UTC" : "tsu:UTC";
    case CT_BINARY:
      return "z";
    default:
      return "u";
  }
}

static bool type_from_name(const char *s, size_t n, col_type *t, cf_time_unit *unit) {
  static const struct {
    const char *name;
    col_type t;
  } names[] = {{"int64", CT_INT64},         {"int", CT_INT64},
               {"integer", CT_INT64},       {"float64", CT_FLOAT64},
               {"double", CT_FLOAT64},      {"float", CT_FLOAT64},
               {"bool", CT_BOOL},           {"boolean", CT_BOOL},
               {"string", CT_STRING},       {"utf8", CT_STRING},
               {"text", CT_STRING},         {"binary", CT_BINARY},
               {"date", CT_DATE},           {"date32", CT_DATE},
               {"timestamp", CT_TIMESTAMP}, {"timestamptz", CT_TIMESTAMPTZ}};
  for (size_t k = 0; k < CF_ARRAY_SIZE(names); k++) {
    if (strlen(names[k].name) == n && strncasecmp(names[k].name, s, n) == 0) {
      *t = names[k].t;
      *unit = CF_MICRO;
      return true;
    }
  }
  return false;
}

/* Names from the header row: empty ones become column_N, repeats get _2, _3. */
static bool name_taken(char *const *names, int64_t n, const char *name) {
  for (int64_t p = 0; p < n; p++) {
    if (strcmp(names[p], name) == 0) return true;
  }
  return false;
}

static int set_names(csv_reader *r, cflight_error *err) {
  r->names = cf_calloc((size_t)r->ncols, sizeof(char *));
  if (r->names == NULL) return CF_NOMEM(err, "column names");
  for (int64_t c = 0; c < r->ncols; c++) {
    char *base;
    if (r->opts.header && !r->f_null[c] && r->f_len[c] > 0) {
      base = cf_strndup((const char *)r->rowbuf.data + r->f_off[c], r->f_len[c]);
    } else {
      char tmp[32];
      snprintf(tmp, sizeof(tmp), "column_%lld", (long long)c + 1);
      base = strdup(tmp);
    }
    if (base == NULL) return CF_NOMEM(err, "column names");
    char *name = strdup(base);
    for (int k = 2; name != NULL && name_taken(r->names, c, name); k++) {
      free(name);
      name = malloc(strlen(base) + 16);
      if (name != NULL) sprintf(name, "%s_%d", base, k);
    }
    free(base);
    if (name == NULL) return CF_NOMEM(err, "column names");
    r->names[c] = name;
  }
  return CFLIGHT_OK;
}

static int apply_overrides(csv_reader *r, cflight_error *err) {
  const char *p = r->opts.types;
  while (p != NULL && *p != '\0') {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (eq == NULL) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "--types: '%.*s' is not NAME=TYPE (e.g. id=int64,when=timestamp)",
                               (int)len, p);
    }
    size_t nlen = (size_t)(eq - p);
    int64_t c = 0;
    while (c < r->ncols && !(strlen(r->names[c]) == nlen && strncmp(r->names[c], p, nlen) == 0)) {
      c++;
    }
    if (c == r->ncols) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "--types: the CSV has no column '%.*s'", (int)nlen, p);
    }
    if (!type_from_name(eq + 1, len - nlen - 1, &r->types[c], &r->units[c])) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "--types: unknown type '%.*s' for column '%s' (use int64, "
                               "float64, bool, string, binary, date, timestamp or timestamptz)",
                               (int)(len - nlen - 1), eq + 1, r->names[c]);
    }
    r->overridden[c] = true;
    p = end != NULL ? end + 1 : NULL;
  }
  return CFLIGHT_OK;
}

static int columns_init(csv_reader *r, cflight_error *err) {
  r->ncols = (int64_t)r->nfields;
  size_t n = r->nfields;
  r->types = cf_calloc(n, sizeof(col_type));
  r->overridden = cf_calloc(n, sizeof(bool));
  r->inf = cf_calloc(n, sizeof(col_infer));
  r->cols = cf_calloc(n, sizeof(col_build));
  r->units = cf_calloc(n, sizeof(cf_time_unit));
  if (!r->types || !r->overridden || !r->inf || !r->cols || !r->units) {
    return CF_NOMEM(err, "CSV columns");
  }
  for (size_t c = 0; c < n; c++) {
    r->inf[c] = (col_infer){.can_int = true,
                            .can_float = true,
                            .can_bool = true,
                            .can_date = true,
                            .can_ts = true,
                            .utf8 = true};
  }
  CF_RETURN_NOT_OK(set_names(r, err));
  return apply_overrides(r, err);
}

static void infer_field(col_infer *in, const char *s, size_t n) {
  in->any = true;
  int64_t iv;
  double dv;
  bool bv;
  int32_t days;
  if (in->can_int && !csv_parse_int64(s, n, &iv)) in->can_int = false;
  if (in->can_float && !csv_parse_float64(s, n, &dv)) in->can_float = false;
  if (in->can_bool && !csv_parse_bool(s, n, &bv)) in->can_bool = false;
  if (in->can_date && !csv_parse_date(s, n, &days)) in->can_date = false;
  if (in->can_ts) {
    int64_t secs;
    int32_t ns;
    bool zoned;
    int fd;
    if (!csv_parse_timestamp(s, n, &secs, &ns, &zoned, &fd)) {
      in->can_ts = false;
    } else {
      if (zoned) {
        in->zoned = true;
      } else {
        in->naive = true;
      }
      if (fd > in->frac) in->frac = fd;
      if (in->zoned && in->naive) in->can_ts = false;
    }
  }
  if (in->utf8 && !utf8_valid((const uint8_t *)s, n)) in->utf8 = false;
}

static void infer_finish(csv_reader *r) {
  for (int64_t c = 0; c < r->ncols; c++) {
    if (r->overridden[c]) continue;
    const col_infer *in = &r->inf[c];
    col_type t;
    if (!in->any) {
      t = CT_STRING;
    } else if (in->can_int) {
      t = CT_INT64;
    } else if (in->can_float) {
      t = CT_FLOAT64;
    } else if (in->can_bool) {
      t = CT_BOOL;
    } else if (in->can_date) {
      t = CT_DATE;
    } else if (in->can_ts) {
      t = in->zoned ? CT_TIMESTAMPTZ : CT_TIMESTAMP;
    } else {
      t = in->utf8 ? CT_STRING : CT_BINARY;
    }
    r->types[c] = t;
    r->units[c] = in->frac > 6 ? CF_NANO : CF_MICRO;
  }
}

static int build_schema(csv_reader *r, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_init(&r->schema, "+s", "", r->ncols, err));
  r->schema.flags = 0;
  for (int64_t c = 0; c < r->ncols; c++) {
    CF_RETURN_NOT_OK(cf_schema_init(r->schema.children[c], type_format(r->types[c], r->units[c]),
                                    r->names[c], 0, err));
  }
  return CFLIGHT_OK;
}

/* ---- Building batches ---------------------------------------------------------------- */

static bool append_bit(cf_bytes *b, int64_t i, bool v) {
  if (i % 8 == 0) {
    uint8_t zero = 0;
    if (cf_bytes_append(b, &zero, 1, NULL) != CFLIGHT_OK) return false;
  }
  if (v) b->data[i / 8] |= (uint8_t)(1u << (i % 8));
  return true;
}

static bool append_value(csv_reader *r, int64_t c, const char *s, size_t n, bool null) {
  col_build *cb = &r->cols[c];
  int64_t i = r->batch_len;
  col_type t = r->types[c];
  if (!append_bit(&cb->validity, i, !null)) goto nomem;
  if (null) cb->nulls++;
  switch (t) {
    case CT_INT64: {
      int64_t v = 0;
      if (!null && !csv_parse_int64(s, n, &v)) goto bad;
      if (cf_bytes_append(&cb->values, &v, 8, NULL) != CFLIGHT_OK) goto nomem;
      break;
    }
    case CT_FLOAT64: {
      double v = 0;
      if (!null && !csv_parse_float64(s, n, &v)) goto bad;
      if (cf_bytes_append(&cb->values, &v, 8, NULL) != CFLIGHT_OK) goto nomem;
      break;
    }
    case CT_BOOL: {
      bool v = false;
      if (!null && !csv_parse_bool(s, n, &v)) goto bad;
      if (!append_bit(&cb->values, i, v)) goto nomem;
      break;
    }
    case CT_DATE: {
      int32_t v = 0;
      if (!null && !csv_parse_date(s, n, &v)) goto bad;
      if (cf_bytes_append(&cb->values, &v, 4, NULL) != CFLIGHT_OK) goto nomem;
      break;
    }
    case CT_TIMESTAMP:
    case CT_TIMESTAMPTZ: {
      int64_t v = 0;
      if (!null) {
        int64_t secs;
        int32_t ns;
        bool zoned;
        int fd;
        if (!csv_parse_timestamp(s, n, &secs, &ns, &zoned, &fd)) goto bad;
        int64_t per = r->units[c] == CF_NANO ? 1000000000 : 1000000;
        int32_t sub = r->units[c] == CF_NANO ? ns : ns / 1000;
        if (cf_mul_overflow_i64(secs, per, &v) || cf_add_overflow_i64(v, sub, &v)) {
          cb_fail(r, CFLIGHT_INVALID_DATA,
                  "row %lld, column '%s': '%.*s' is out of the range of a %s timestamp",
                  (long long)data_row(r), r->names[c], (int)(n > 64 ? 64 : n), s,
                  r->units[c] == CF_NANO ? "nanosecond" : "microsecond");
          return false;
        }
      }
      if (cf_bytes_append(&cb->values, &v, 8, NULL) != CFLIGHT_OK) goto nomem;
      break;
    }
    case CT_STRING:
    case CT_BINARY: {
      if (i == 0) {
        int32_t zero = 0;
        if (cf_bytes_append(&cb->values, &zero, 4, NULL) != CFLIGHT_OK) goto nomem;
      }
      if (!null && t == CT_STRING && !utf8_valid((const uint8_t *)s, n)) goto bad;
      if (!null && n > 0) {
        if (cb->data.len + n > INT32_MAX) {
          cb_fail(r, CFLIGHT_INVALID_DATA,
                  "column '%s' holds more than 2 GiB of text in one batch; lower --batch-rows",
                  r->names[c]);
          return false;
        }
        if (cf_bytes_append(&cb->data, s, n, NULL) != CFLIGHT_OK) goto nomem;
      }
      int32_t end = (int32_t)cb->data.len;
      if (cf_bytes_append(&cb->values, &end, 4, NULL) != CFLIGHT_OK) goto nomem;
      break;
    }
  }
  return true;
bad:
  cb_fail(r, CFLIGHT_INVALID_DATA, "row %lld, column '%s': '%.*s' is not %s%s",
          (long long)data_row(r), r->names[c], (int)(n > 64 ? 64 : n), s,
          t == CT_INT64     ? "an integer"
          : t == CT_FLOAT64 ? "a number"
          : t == CT_BOOL    ? "true or false"
          : t == CT_DATE    ? "a date (YYYY-MM-DD)"
          : t == CT_STRING  ? "UTF-8 text"
                            : "an ISO 8601 date-time",
          r->overridden[c] ? " (the type given by --types)"
          : r->seekable    ? ""
                           : " (the type was inferred from the first rows of standard input; "
                             "pass --types NAME=TYPE)");
  return false;
nomem:
  cb_fail(r, CFLIGHT_NO_MEMORY, "out of memory building column '%s'", r->names[c]);
  return false;
}

static int column_array(csv_reader *r, int64_t c, struct ArrowArray *out, cflight_error *err) {
  col_build *cb = &r->cols[c];
  bool var = r->types[c] == CT_STRING || r->types[c] == CT_BINARY;
  CF_RETURN_NOT_OK(cf_array_init(out, var ? 3 : 2, 0, err));
  out->length = r->batch_len;
  out->null_count = cb->nulls;
  if (cb->nulls > 0) {
    cflight_buffer *v = cf_bytes_finish(&cb->validity);
    if (v == NULL) return CF_NOMEM(err, "a validity bitmap");
    cf_array_set_buffer(out, 0, v, cflight_buffer_data(v));
  }
  cf_bytes_reset(&cb->validity);
  if (var && cb->values.len == 0) {
    int32_t zero = 0; /* an empty batch still has one offset */
    CF_RETURN_NOT_OK(cf_bytes_append(&cb->values, &zero, 4, err));
  }
  if (cb->values.len > 0) {
    cflight_buffer *v = cf_bytes_finish(&cb->values);
    if (v == NULL) return CF_NOMEM(err, "a values buffer");
    cf_array_set_buffer(out, 1, v, cflight_buffer_data(v));
  }
  if (var) {
    if (cb->data.len > 0) {
      cflight_buffer *d = cf_bytes_finish(&cb->data);
      if (d == NULL) return CF_NOMEM(err, "a data buffer");
      cf_array_set_buffer(out, 2, d, cflight_buffer_data(d));
    } else {
      static const uint8_t empty[8];
      cf_array_set_buffer(out, 2, NULL, empty);
    }
  }
  cb->nulls = 0;
  return CFLIGHT_OK;
}

static int finish_batch(csv_reader *r, cflight_error *err) {
  if (r->n_pending == r->cap_pending) {
    size_t cap = r->cap_pending ? r->cap_pending * 2 : 4;
    struct ArrowArray *p = cf_realloc(r->pending, cap * sizeof(*p));
    if (p == NULL) return CF_NOMEM(err, "batches");
    r->pending = p;
    r->cap_pending = cap;
  }
  struct ArrowArray *out = &r->pending[r->n_pending];
  memset(out, 0, sizeof(*out));
  int rc = cf_array_init(out, 1, r->ncols, err);
  if (rc == CFLIGHT_OK) {
    out->length = r->batch_len;
    out->null_count = 0;
    for (int64_t c = 0; c < r->ncols && rc == CFLIGHT_OK; c++) {
      rc = column_array(r, c, out->children[c], err);
    }
  }
  if (rc != CFLIGHT_OK) {
    cf_array_release(out);
    return rc;
  }
  r->n_pending++;
  r->batch_len = 0;
  return CFLIGHT_OK;
}

/* ---- libcsv callbacks ------------------------------------------------------------ */

static void on_field(void *s, size_t len, void *ctx) {
  csv_reader *r = ctx;
  if (r->failed) return;
  if (r->nfields == r->fcap) {
    size_t cap = r->fcap ? r->fcap * 2 : 16;
    size_t *off = cf_realloc(r->f_off, cap * sizeof(size_t));
    if (off != NULL) r->f_off = off;
    size_t *ln = cf_realloc(r->f_len, cap * sizeof(size_t));
    if (ln != NULL) r->f_len = ln;
    bool *nl = cf_realloc(r->f_null, cap * sizeof(bool));
    if (nl != NULL) r->f_null = nl;
    if (off == NULL || ln == NULL || nl == NULL) {
      cb_fail(r, CFLIGHT_NO_MEMORY, "out of memory reading a CSV row");
      return;
    }
    r->fcap = cap;
  }
  r->f_off[r->nfields] = r->rowbuf.len;
  r->f_len[r->nfields] = s != NULL ? len : 0;
  r->f_null[r->nfields] = s == NULL;
  if (s != NULL && len > 0 && cf_bytes_append(&r->rowbuf, s, len, NULL) != CFLIGHT_OK) {
    cb_fail(r, CFLIGHT_NO_MEMORY, "out of memory reading a CSV row");
    return;
  }
  r->nfields++;
}

static void on_row(int c, void *ctx) {
  CF_UNUSED(c);
  csv_reader *r = ctx;
  if (r->failed) return;
  r->records++;
  size_t nf = r->nfields;
  if (r->ncols == 0) {
    if (r->pass != 1) {
      cb_fail(r, CFLIGHT_INTERNAL, "CSV columns not set up");
      return;
    }
    cflight_error e = {0};
    if (columns_init(r, &e) != CFLIGHT_OK) {
      cb_fail(r, e.code, "%s", e.message);
      return;
    }
    if (r->opts.header) goto done;
  } else if (r->records == 1 && r->opts.header) {
    goto done; /* the header again, in the second pass */
  }
  if ((int64_t)nf != r->ncols) {
    cb_fail(r, CFLIGHT_INVALID_DATA, "row %lld has %zu field%s, but the %s has %lld",
            (long long)data_row(r), nf, nf == 1 ? "" : "s", r->opts.header ? "header" : "first row",
            (long long)r->ncols);
    return;
  }
  const char *base = (const char *)r->rowbuf.data;
  if (r->pass == 1) {
    for (size_t k = 0; k < nf; k++) {
      if (!r->f_null[k]) infer_field(&r->inf[k], base + r->f_off[k], r->f_len[k]);
    }
  } else {
    for (size_t k = 0; k < nf; k++) {
      if (!append_value(r, (int64_t)k, base != NULL ? base + r->f_off[k] : "", r->f_len[k],
                        r->f_null[k])) {
        return;
      }
    }
    r->batch_len++;
    if (r->batch_len >= r->opts.batch_rows) {
      cflight_error e = {0};
      if (finish_batch(r, &e) != CFLIGHT_OK) cb_fail(r, e.code, "%s", e.message);
    }
  }
done:
  r->nfields = 0;
  r->rowbuf.len = 0;
}

/* ---- Reading ------------------------------------------------------------------------ */

static int no_space(unsigned char c) {
  CF_UNUSED(c);
  return 0; /* keep spaces: they are part of the value (RFC 4180) */
}

static int parser_reset(csv_reader *r, cflight_error *err) {
  if (r->parser_live) csv_free(&r->parser);
  r->parser_live = false;
  if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) !=
      0) {
    return CF_NOMEM(err, "the CSV parser");
  }
  r->parser_live = true;
  csv_set_delim(&r->parser, (unsigned char)r->opts.delimiter);
  csv_set_space_func(&r->parser, no_space);
  r->records = 0;
  r->nfields = 0;
  r->rowbuf.len = 0;
  r->bom_done = false;
  return CFLIGHT_OK;
}

static int check_cb(csv_reader *r, cflight_error *err) {
  if (!r->failed) return CFLIGHT_OK;
  cflight_error_set(err, r->cb_err.code, "%s: %s", r->path, r->cb_err.message);
  return r->cb_err.code;
}

static int feed(csv_reader *r, const uint8_t *data, size_t len, cflight_error *err) {
  if (!r->bom_done && len > 0) {
    r->bom_done = true;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
      data += 3;
      len -= 3;
    }
  }
  size_t n = csv_parse(&r->parser, data, len, on_field, on_row, r);
  CF_RETURN_NOT_OK(check_cb(r, err));
  if (n != len) {
    char where[64];
    if (data_row(r) <= 0) {
      snprintf(where, sizeof(where), "in the first row");
    } else {
      snprintf(where, sizeof(where), "after row %lld", (long long)data_row(r));
    }
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: malformed CSV %s: %s (a quote inside an unquoted field, or "
                             "text after a closing quote?)",
                             r->path, where, csv_strerror(csv_error(&r->parser)));
  }
  if (csv_get_buffer_size(&r->parser) > MAX_FIELD_BYTES) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: a field after row %lld is larger than %zu MiB (an unclosed "
                             "quote?)",
                             r->path, (long long)data_row(r), MAX_FIELD_BYTES >> 20);
  }
  return CFLIGHT_OK;
}

static int finish_parse(csv_reader *r, cflight_error *err) {
  if (csv_fini(&r->parser, on_field, on_row, r) != 0) {
    CF_RETURN_NOT_OK(check_cb(r, err));
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: malformed CSV at the end (an unclosed quote?)", r->path);
  }
  return check_cb(r, err);
}

static int read_chunk(csv_reader *r, uint8_t *buf, size_t *n, cflight_error *err) {
  *n = fread(buf, 1, READ_CHUNK, r->fp);
  if (*n == 0 && ferror(r->fp)) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read %s: %s", r->path, strerror(errno));
  }
  return CFLIGHT_OK;
}

/* The first pass: header and types. */
static int infer(csv_reader *r, cflight_error *err) {
  uint8_t *buf = malloc(READ_CHUNK);
  if (buf == NULL) return CF_NOMEM(err, "a read buffer");
  r->pass = 1;
  int rc = parser_reset(r, err);
  bool eof = false;
  while (rc == CFLIGHT_OK) {
    size_t n;
    rc = read_chunk(r, buf, &n, err);
    if (rc != CFLIGHT_OK) break;
    if (n == 0) {
      eof = true;
      break;
    }
    if (!r->seekable) rc = cf_bytes_append(&r->prefix, buf, n, err);
    if (rc == CFLIGHT_OK) rc = feed(r, buf, n, err);
    if (!r->seekable && (r->records > SAMPLE_ROWS || r->prefix.len >= SAMPLE_BYTES)) break;
  }
  if (rc == CFLIGHT_OK && eof) rc = finish_parse(r, err);
  free(buf);
  if (rc != CFLIGHT_OK) return rc;
  if (r->ncols == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: the CSV is empty (no header row)",
                             r->path);
  }
  infer_finish(r);
  CF_RETURN_NOT_OK(build_schema(r, err));
  if (r->seekable && fseeko(r->fp, 0, SEEK_SET) != 0) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot rewind %s: %s", r->path,
                             strerror(errno));
  }
  r->pass = 2;
  return parser_reset(r, err);
}

int csv_reader_open(const char *path, const csv_import_options *opts, csv_reader **out,
                    cflight_error *err) {
  *out = NULL;
  csv_reader *r = cf_calloc(1, sizeof(*r));
  if (r == NULL) return CF_NOMEM(err, "a CSV reader");
  r->opts = *opts;
  if (r->opts.batch_rows <= 0) r->opts.batch_rows = 65536;
  if (r->opts.delimiter == 0) r->opts.delimiter = ',';
  r->size = -1;
  bool is_stdin = strcmp(path, "-") == 0;
  r->path = strdup(is_stdin ? "standard input" : path);
  if (r->path == NULL) {
    free(r);
    return CF_NOMEM(err, "a CSV reader");
  }
  int rc = CFLIGHT_OK;
  if (is_stdin) {
    r->fp = stdin;
  } else {
    r->fp = fopen(path, "rb");
    r->own_fp = true;
    if (r->fp == NULL) {
      rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    }
  }
  if (rc == CFLIGHT_OK) {
    struct stat st;
    if (fstat(fileno(r->fp), &st) == 0 && S_ISREG(st.st_mode)) {
      r->seekable = true;
      r->size = st.st_size;
    }
    rc = infer(r, err);
  }
  if (rc != CFLIGHT_OK) {
    csv_reader_free(r);
    return rc;
  }
  *out = r;
  return CFLIGHT_OK;
}

int csv_reader_schema(csv_reader *r, struct ArrowSchema *out, cflight_error *err) {
  return cf_schema_copy(&r->schema, out, err);
}

int csv_reader_next(csv_reader *r, struct ArrowArray *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  uint8_t *buf = NULL;
  int rc = CFLIGHT_OK;
  while (r->next_pending == r->n_pending && !r->eof && rc == CFLIGHT_OK) {
    r->next_pending = r->n_pending = 0;
    if (r->prefix_pos < r->prefix.len) {
      /* Standard input: the bytes read while inferring come first. */
      size_t n = r->prefix.len - r->prefix_pos;
      if (n > READ_CHUNK) n = READ_CHUNK;
      rc = feed(r, r->prefix.data + r->prefix_pos, n, err);
      r->prefix_pos += n;
      r->pos += (int64_t)n;
      if (r->prefix_pos == r->prefix.len) cf_bytes_reset(&r->prefix);
      continue;
    }
    if (buf == NULL && (buf = malloc(READ_CHUNK)) == NULL) {
      rc = CF_NOMEM(err, "a read buffer");
      break;
    }
    size_t n;
    rc = read_chunk(r, buf, &n, err);
    if (rc != CFLIGHT_OK) break;
    if (n == 0) {
      r->eof = true;
      rc = finish_parse(r, err);
      if (rc == CFLIGHT_OK && r->batch_len > 0) rc = finish_batch(r, err);
      break;
    }
    r->pos += (int64_t)n;
    rc = feed(r, buf, n, err);
  }
  free(buf);
  if (rc != CFLIGHT_OK) return rc;
  if (r->next_pending < r->n_pending) {
    cf_array_move(&r->pending[r->next_pending++], out);
  }
  return CFLIGHT_OK;
}

int64_t csv_reader_position(const csv_reader *r) {
  return r->pos;
}

int64_t csv_reader_size(const csv_reader *r) {
  return r->size;
}

void csv_reader_free(csv_reader *r) {
  if (r == NULL) return;
  if (r->parser_live) csv_free(&r->parser);
  if (r->own_fp && r->fp != NULL) fclose(r->fp);
  for (size_t k = r->next_pending; k < r->n_pending; k++)
    cf_array_release(&r->pending[k]);
  free(r->pending);
  for (int64_t c = 0; c < r->ncols; c++) {
    if (r->names != NULL) free(r->names[c]);
    if (r->cols != NULL) {
      cf_bytes_reset(&r->cols[c].validity);
      cf_bytes_reset(&r->cols[c].values);
      cf_bytes_reset(&r->cols[c].data);
    }
  }
  free(r->names);
  free(r->types);
  free(r->overridden);
  free(r->inf);
  free(r->cols);
  free(r->units);
  free(r->f_off);
  free(r->f_len);
  free(r->f_null);
  cf_bytes_reset(&r->rowbuf);
  cf_bytes_reset(&r->prefix);
  cf_schema_release(&r->schema);
  free(r->path);
  free(r);
}

/* ---- As an ArrowArrayStream ------------------------------------------------------------ */

static int stream_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  return csv_reader_next(ctx, out, err);
}

static void stream_free(void *ctx) {
  csv_reader_free(ctx);
}

int csv_reader_to_stream(csv_reader *r, struct ArrowArrayStream *out, cflight_error *err) {
  struct ArrowSchema schema;
  int rc = csv_reader_schema(r, &schema, err);
  if (rc != CFLIGHT_OK) {
    csv_reader_free(r);
    return rc;
  }
  cf_stream_source src = {stream_next, stream_free, r};
  return cf_stream_init(out, &schema, src, err);
}
