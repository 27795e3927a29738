/* Arrow values as text and JSON (see render.h). */
#include "arrow/arrow.h"
#include "render.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#define MAX_DEPTH 64

/* ---- The field tree ---------------------------------------------------------------- */

static int field_init(rfield *f, const struct ArrowSchema *s, int depth, cflight_error *err) {
  memset(f, 0, sizeof(*f));
  memset(f->code_child, -1, sizeof(f->code_child));
  f->schema = s;
  if (depth > MAX_DEPTH) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema nested deeper than %d",
                             MAX_DEPTH);
  }
  if (s == NULL || s->format == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema without a format");
  }
  CF_RETURN_NOT_OK(cf_type_parse(s->format, &f->type, err));
  cf_kv kv;
  if (cf_metadata_get(s->metadata, "ARROW:extension:name", &kv)) {
    f->ext_name = cf_strndup(kv.value, (size_t)kv.value_len);
    if (f->ext_name == NULL) return CF_NOMEM(err, "an extension name");
  }
  switch (f->type.id) {
    case CF_INT8:
    case CF_UINT8:
    case CF_INT16:
    case CF_UINT16:
    case CF_INT32:
    case CF_UINT32:
    case CF_INT64:
    case CF_UINT64:
    case CF_HALF_FLOAT:
    case CF_FLOAT:
    case CF_DOUBLE:
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      f->numeric = s->dictionary == NULL;
      break;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION:
      for (int32_t k = 0; k < f->type.n_type_codes && k < 128; k++) {
        int8_t code = f->type.type_codes[k];
        if (code >= 0) f->code_child[code] = (int8_t)k;
      }
      break;
    default:
      break;
  }
  if (s->n_children < 0 || (s->n_children > 0 && s->children == NULL)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema with bad children");
  }
  if (s->n_children > 0) {
    f->children = cf_calloc((size_t)s->n_children, sizeof(rfield));
    if (f->children == NULL) return CF_NOMEM(err, "a schema tree");
    f->n_children = s->n_children;
    for (int64_t i = 0; i < s->n_children; i++) {
      CF_RETURN_NOT_OK(field_init(&f->children[i], s->children[i], depth + 1, err));
    }
  }
  if (s->dictionary != NULL) {
    f->dict = cf_calloc(1, sizeof(rfield));
    if (f->dict == NULL) return CF_NOMEM(err, "a schema tree");
    CF_RETURN_NOT_OK(field_init(f->dict, s->dictionary, depth + 1, err));
  }
  return CFLIGHT_OK;
}

int rfield_init(rfield *f, const struct ArrowSchema *schema, cflight_error *err) {
  int rc = field_init(f, schema, 0, err);
  if (rc != CFLIGHT_OK) rfield_free(f);
  return rc;
}

void rfield_free(rfield *f) {
  if (f == NULL) return;
  for (int64_t i = 0; i < f->n_children; i++)
    rfield_free(&f->children[i]);
  free(f->children);
  if (f->dict != NULL) {
    rfield_free(f->dict);
    free(f->dict);
  }
  free(f->ext_name);
  memset(f, 0, sizeof(*f));
}

/* ---- Type names -------------------------------------------------------------------- */

static const char *unit_name(cf_time_unit u) {
  switch (u) {
    case CF_SECOND:
      return "s";
    case CF_MILLI:
      return "ms";
    case CF_MICRO:
      return "us";
    default:
      return "ns";
  }
}

static void render_children_types(sbuf *out, const rfield *f, bool names) {
  for (int64_t i = 0; i < f->n_children; i++) {
    if (i > 0) sb_puts(out, ", ");
    if (names) {
      sb_puts(out, f->children[i].schema->name ? f->children[i].schema->name : "");
      sb_puts(out, ": ");
    }
    render_type(out, &f->children[i]);
  }
}

static void render_value_type(sbuf *out, const rfield *f) {
  const cf_type *t = &f->type;
  switch (t->id) {
    case CF_NA:
      sb_puts(out, "null");
      break;
    case CF_BOOL:
      sb_puts(out, "bool");
      break;
    case CF_INT8:
      sb_puts(out, "int8");
      break;
    case CF_UINT8:
      sb_puts(out, "uint8");
      break;
    case CF_INT16:
      sb_puts(out, "int16");
      break;
    case CF_UINT16:
      sb_puts(out, "uint16");
      break;
    case CF_INT32:
      sb_puts(out, "int32");
      break;
    case CF_UINT32:
      sb_puts(out, "uint32");
      break;
    case CF_INT64:
      sb_puts(out, "int64");
      break;
    case CF_UINT64:
      sb_puts(out, "uint64");
      break;
    case CF_HALF_FLOAT:
      sb_puts(out, "float16");
      break;
    case CF_FLOAT:
      sb_puts(out, "float32");
      break;
    case CF_DOUBLE:
      sb_puts(out, "float64");
      break;
    case CF_BINARY:
      sb_puts(out, "binary");
      break;
    case CF_STRING:
      sb_puts(out, "string");
      break;
    case CF_LARGE_BINARY:
      sb_puts(out, "large_binary");
      break;
    case CF_LARGE_STRING:
      sb_puts(out, "large_string");
      break;
    case CF_BINARY_VIEW:
      sb_puts(out, "binary_view");
      break;
    case CF_STRING_VIEW:
      sb_puts(out, "string_view");
      break;
    case CF_FIXED_SIZE_BINARY:
      sb_printf(out, "fixed_size_binary[%d]", t->fixed_size);
      break;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      sb_printf(out, "decimal%d(%d, %d)", t->bit_width, t->precision, t->scale);
      break;
    case CF_DATE32:
      sb_puts(out, "date32");
      break;
    case CF_DATE64:
      sb_puts(out, "date64");
      break;
    case CF_TIME32:
      sb_printf(out, "time32[%s]", unit_name(t->unit));
      break;
    case CF_TIME64:
      sb_printf(out, "time64[%s]", unit_name(t->unit));
      break;
    case CF_TIMESTAMP:
      if (t->timezone != NULL && t->timezone_len > 0) {
        sb_printf(out, "timestamp[%s, tz=%.*s]", unit_name(t->unit), (int)t->timezone_len,
                  t->timezone);
      } else {
        sb_printf(out, "timestamp[%s]", unit_name(t->unit));
      }
      break;
    case CF_DURATION:
      sb_printf(out, "duration[%s]", unit_name(t->unit));
      break;
    case CF_INTERVAL_MONTHS:
      sb_puts(out, "month_interval");
      break;
    case CF_INTERVAL_DAY_TIME:
      sb_puts(out, "day_time_interval");
      break;
    case CF_INTERVAL_MONTH_DAY_NANO:
      sb_puts(out, "month_day_nano_interval");
      break;
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW: {
      static const char *names[] = {"list", "large_list", "list_view", "large_list_view"};
      sb_puts(out, names[t->id - CF_LIST - (t->id >= CF_LIST_VIEW ? 1 : 0)]);
      sb_putc(out, '<');
      render_children_types(out, f, false);
      sb_putc(out, '>');
      break;
    }
    case CF_FIXED_SIZE_LIST:
      sb_puts(out, "fixed_size_list<");
      render_children_types(out, f, false);
      sb_printf(out, ">[%d]", t->fixed_size);
      break;
    case CF_STRUCT:
      sb_puts(out, "struct<");
      render_children_types(out, f, true);
      sb_putc(out, '>');
      break;
    case CF_MAP:
      sb_puts(out, "map<");
      if (f->n_children == 1) render_children_types(out, &f->children[0], false);
      sb_putc(out, '>');
      break;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION:
      sb_puts(out, t->id == CF_SPARSE_UNION ? "sparse_union<" : "dense_union<");
      render_children_types(out, f, true);
      sb_putc(out, '>');
      break;
    case CF_RUN_END_ENCODED:
      sb_puts(out, "run_end_encoded<");
      render_children_types(out, f, false);
      sb_putc(out, '>');
      break;
    default:
      sb_puts(out, f->schema->format);
      break;
  }
}

void render_type(sbuf *out, const rfield *f) {
  if (f->ext_name != NULL) sb_printf(out, "extension<%s>[", f->ext_name);
  if (f->dict != NULL) {
    sb_puts(out, "dictionary<");
    render_value_type(out, f->dict);
    sb_puts(out, ", ");
    render_value_type(out, f);
    sb_putc(out, '>');
  } else {
    render_value_type(out, f);
  }
  if (f->ext_name != NULL) sb_putc(out, ']');
}

/* ---- Value access ----------------------------------------------------------------- */

static inline bool bit_get(const void *bits, int64_t i) {
  return (((const uint8_t *)bits)[i >> 3] >> (i & 7)) & 1;
}

static inline int64_t load_int(const void *p, int bit_width, int64_t j) {
  switch (bit_width) {
    case 8:
      return ((const int8_t *)p)[j];
    case 16:
      return ((const int16_t *)p)[j];
    case 32:
      return ((const int32_t *)p)[j];
    default:
      return ((const int64_t *)p)[j];
  }
}

/* The index of the run holding logical position p of a run-end encoded array. */
static int64_t ree_run(const rfield *f, const struct ArrowArray *a, int64_t p) {
  const struct ArrowArray *ends = a->children[0];
  int bw = f->children[0].type.bit_width;
  const void *e = ends->buffers[1];
  int64_t lo = 0, hi = ends->length;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (load_int(e, bw, ends->offset + mid) > p) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo < ends->length ? lo : ends->length - 1;
}

/* For unions: the child holding logical value i, and its index there. */
static bool union_child(const rfield *f, const struct ArrowArray *a, int64_t i, int64_t *child,
                        int64_t *ci) {
  int64_t j = a->offset + i;
  int8_t code = ((const int8_t *)a->buffers[0])[j];
  if (code < 0) return false;
  int8_t k = f->code_child[code];
  if (k < 0 || k >= a->n_children) return false;
  *child = k;
  if (f->type.id == CF_SPARSE_UNION) {
    *ci = j;
  } else {
    *ci = ((const int32_t *)a->buffers[1])[j];
  }
  return true;
}

bool render_is_null(const rfield *f, const struct ArrowArray *a, int64_t i) {
  switch (f->type.id) {
    case CF_NA:
      return true;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      int64_t k, ci;
      if (!union_child(f, a, i, &k, &ci)) return true;
      return render_is_null(&f->children[k], a->children[k], ci);
    }
    case CF_RUN_END_ENCODED: {
      if (a->children[0]->length == 0) return true;
      int64_t run = ree_run(f, a, a->offset + i);
      return render_is_null(&f->children[1], a->children[1], run);
    }
    default:
      break;
  }
  int64_t j = a->offset + i;
  if (a->null_count != 0 && a->n_buffers > 0 && a->buffers[0] != NULL &&
      !bit_get(a->buffers[0], j)) {
    return true;
  }
  if (f->dict != NULL && a->dictionary != NULL) {
    int64_t idx = load_int(a->buffers[1], f->type.bit_width, j);
    return render_is_null(f->dict, a->dictionary, idx);
  }
  return false;
}

/* ---- Dates and times --------------------------------------------------------------- */

/* Floor division and modulo, for negative times. */
static inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static inline int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b; /* without a multiplication that could overflow */
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

void civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
  /* Howard Hinnant's algorithm, in 400-year eras of 146097 days. */
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  *year = y + (m <= 2);
  *month = (int)m;
  *day = (int)d;
}

int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void put_date(sbuf *out, int64_t days) {
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  if (y >= 0 && y <= 9999) {
    sb_printf(out, "%04lld-%02d-%02d", (long long)y, m, d);
  } else {
    sb_printf(out, "%+lld-%02d-%02d", (long long)y, m, d); /* ISO 8601 expanded years */
  }
}

static int unit_digits(cf_time_unit u) {
  return u == CF_SECOND ? 0 : u == CF_MILLI ? 3 : u == CF_MICRO ? 6 : 9;
}

static int64_t unit_per_second(cf_time_unit u) {
  return u == CF_SECOND ? 1 : u == CF_MILLI ? 1000 : u == CF_MICRO ? 1000000 : 1000000000;
}

/* HH:MM:SS[.fraction] of a time of day (seconds < 86400). */
static void put_clock(sbuf *out, int64_t secs, int64_t frac, int digits) {
  sb_printf(out, "%02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
  if (digits > 0) sb_printf(out, ".%0*lld", digits, (long long)frac);
}

/* Date and time of `secs` seconds (+ frac in `digits` digits) after the epoch. */
static void put_datetime(sbuf *out, int64_t secs, int64_t frac, int digits) {
  put_date(out, floor_div(secs, 86400));
  sb_putc(out, 'T');
  put_clock(out, floor_mod(secs, 86400), frac, digits);
}

/* The UTC offset (seconds) of a time zone at a UTC time. Fixed offsets
 * ("+05:30", "-0800") are parsed; names ("Europe/Paris") are looked up in
 * the system's time zone database through localtime_r, which reads TZ:
 * the switch is serialized by a lock (rendering is not a hot path across
 * threads). Unknown zones count as UTC. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_current[256];

static bool fixed_offset(const char *tz, size_t n, int64_t *offset) {
  if (n < 3 || (tz[0] != '+' && tz[0] != '-')) return false;
  int h = 0, m = 0;
  size_t i = 1;
  if (!(tz[1] >= '0' && tz[1] <= '9' && tz[2] >= '0' && tz[2] <= '9')) return false;
  h = (tz[1] - '0') * 10 + (tz[2] - '0');
  i = 3;
  if (i < n && tz[i] == ':') i++;
  if (i + 2 <= n) {
    if (!(tz[i] >= '0' && tz[i] <= '9' && tz[i + 1] >= '0' && tz[i + 1] <= '9')) return false;
    m = (tz[i] - '0') * 10 + (tz[i + 1] - '0');
    i += 2;
  }
  if (i != n) return false;
  *offset = (tz[0] == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
  return true;
}

static bool is_utc(const char *tz, size_t n) {
  static const char *names[] = {"UTC", "Z", "Etc/UTC", "GMT", "Etc/GMT", "utc", "+00:00"};
  for (size_t k = 0; k < CF_ARRAY_SIZE(names); k++) {
    if (strlen(names[k]) == n && memcmp(names[k], tz, n) == 0) return true;
  }
  return false;
}

static int64_t zone_offset(const char *tz, size_t n, int64_t utc_secs) {
  if (n == 0 || n + 2 > sizeof(tz_current)) return 0;
  pthread_mutex_lock(&tz_lock);
  char want[sizeof(tz_current)];
  want[0] = ':'; /* ':' makes glibc read the name from the zone database */
  memcpy(want + 1, tz, n);
  want[n + 1] = '\0';
  if (strcmp(want, tz_current) != 0) {
    setenv("TZ", want, 1);
    tzset();
    memcpy(tz_current, want, n + 2);
  }
  struct tm tm;
  time_t t = (time_t)utc_secs;
  int64_t off = 0;
  if (localtime_r(&t, &tm) != NULL) off = tm.tm_gmtoff;
  pthread_mutex_unlock(&tz_lock);
  return off;
}

static void put_timestamp(sbuf *out, const cf_type *t, int64_t v) {
  int64_t per = unit_per_second(t->unit);
  int64_t secs = floor_div(v, per);
  int64_t frac = floor_mod(v, per);
  int digits = unit_digits(t->unit);
  if (t->timezone == NULL || t->timezone_len == 0) {
    put_datetime(out, secs, frac, digits);
    return;
  }
  const char *tz = t->timezone;
  size_t n = (size_t)t->timezone_len;
  if (is_utc(tz, n)) {
    put_datetime(out, secs, frac, digits);
    sb_putc(out, 'Z');
    return;
  }
  int64_t off;
  if (!fixed_offset(tz, n, &off)) off = zone_offset(tz, n, secs);
  int64_t local;
  if (cf_add_overflow_i64(secs, off, &local)) {
    local = secs; /* at the ends of time: show UTC */
    off = 0;
  }
  put_datetime(out, local, frac, digits);
  int64_t a = off < 0 ? -off : off;
  sb_printf(out, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

/* Seconds with an optional fraction, trailing zeros dropped: "1.5", "3". */
static void put_seconds(sbuf *out, int64_t v, int64_t per, int digits) {
  bool neg = v < 0;
  uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  uint64_t s = u / (uint64_t)per, f = u % (uint64_t)per;
  sb_printf(out, "%s%llu", neg ? "-" : "", (unsigned long long)s);
  if (f != 0) {
    char fb[16];
    snprintf(fb, sizeof(fb), "%0*llu", digits, (unsigned long long)f);
    size_t len = strlen(fb);
    while (len > 0 && fb[len - 1] == '0')
      len--;
    sb_putc(out, '.');
    sb_put(out, fb, len);
  }
}

/* ISO 8601 durations: PT1.5S, -PT3S. */
static void put_duration(sbuf *out, const cf_type *t, int64_t v) {
  if (v < 0) sb_putc(out, '-');
  sb_puts(out, "PT");
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  int64_t per = unit_per_second(t->unit);
  sb_printf(out, "%llu", (unsigned long long)(u / (uint64_t)per));
  uint64_t f = u % (uint64_t)per;
  if (f != 0) {
    char fb[16];
    snprintf(fb, sizeof(fb), "%0*llu", unit_digits(t->unit), (unsigned long long)f);
    size_t len = strlen(fb);
    while (len > 0 && fb[len - 1] == '0')
      len--;
    sb_putc(out, '.');
    sb_put(out, fb, len);
  }
  sb_putc(out, 'S');
}

/* ISO 8601 intervals with per-component signs: P1Y2M, P3DT0.5S, P1M2DT0.000000003S. */
static void put_interval(sbuf *out, int32_t months, int32_t days, int64_t sub, int64_t per,
                         int digits) {
  sb_putc(out, 'P');
  bool any = false;
  if (months != 0) {
    int32_t y = months / 12, m = months % 12;
    if (y != 0) sb_printf(out, "%dY", (int)y);
    if (m != 0) sb_printf(out, "%dM", (int)m);
    any = true;
  }
  if (days != 0) {
    sb_printf(out, "%dD", (int)days);
    any = true;
  }
  if (sub != 0) {
    sb_putc(out, 'T');
    put_seconds(out, sub, per, digits);
    sb_putc(out, 'S');
    any = true;
  }
  if (!any) sb_puts(out, "0D");
}

/* ---- Values ------------------------------------------------------------------------- */

static void render_at(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t i,
                      render_mode mode, bool top, int depth);

/* Opens a quoted scalar (JSON mode, or nested inside a text value). */
static inline bool quoted(render_mode mode, bool top) {
  return mode == RENDER_JSON || !top;
}

static void put_text_scalar(sbuf *out, const char *s, size_t n, render_mode mode, bool top) {
  if (quoted(mode, top)) {
    sb_json_string(out, s, n);
  } else {
    sb_put(out, s, n);
  }
}

static void put_bytes(sbuf *out, const uint8_t *p, size_t n, render_mode mode, bool top) {
  if (mode == RENDER_JSON) {
    sb_putc(out, '"');
    sb_base64(out, p, n);
    sb_putc(out, '"');
  } else {
    if (!top) sb_putc(out, '"');
    sb_hex(out, p, n);
    if (!top) sb_putc(out, '"');
  }
}

/* The shortest form that reads back exactly (cf_format_double), written
 * without an exponent when the value is between 1e-7 and 1e21 in magnitude
 * (as JavaScript does): 1000.0 rather than 1e+03. */
static void put_shortest(sbuf *out, double v, bool as_float) {
  char buf[48];
  int n = cf_format_double(v, as_float, buf, sizeof(buf));
  if (n <= 0) return;
  char *e = strpbrk(buf, "eE");
  if (e == NULL) {
    sb_put(out, buf, (size_t)n);
    return;
  }
  int exp = atoi(e + 1);
  if (exp < -7 || exp > 20) {
    sb_put(out, buf, (size_t)n);
    return;
  }
  /* Mantissa digits without sign and point; the point goes after digit 1 + exp. */
  char digits[40];
  size_t nd = 0;
  const char *p = buf;
  bool neg = *p == '-';
  if (neg) p++;
  for (; p < e; p++) {
    if (*p >= '0' && *p <= '9' && nd < sizeof(digits)) digits[nd++] = *p;
  }
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  if (neg) sb_putc(out, '-');
  int point = 1 + exp;
  if (point <= 0) {
    sb_puts(out, "0.");
    for (int k = 0; k < -point; k++)
      sb_putc(out, '0');
    sb_put(out, digits, nd);
  } else if ((size_t)point >= nd) {
    sb_put(out, digits, nd);
    for (size_t k = nd; k < (size_t)point; k++)
      sb_putc(out, '0');
    sb_puts(out, ".0");
  } else {
    sb_put(out, digits, (size_t)point);
    sb_putc(out, '.');
    sb_put(out, digits + point, nd - (size_t)point);
  }
}

static void put_float(sbuf *out, double v, bool as_float, render_mode mode, bool top) {
  if (isfinite(v)) {
    put_shortest(out, v, as_float);
    return;
  }
  const char *s = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  if (mode == RENDER_JSON) {
    sb_printf(out, "\"%s\"", s);
  } else {
    sb_puts(out, top ? (isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf") : s);
  }
}

static void put_decimal(sbuf *out, const cf_type *t, const uint8_t *p, render_mode mode, bool top) {
  char digits[96];
  int n = cf_decimal_to_string(p, t->bit_width, digits, sizeof(digits));
  if (n < 0) return;
  char text[200];
  size_t o = 0;
  const char *d = digits;
  if (*d == '-') {
    text[o++] = '-';
    d++;
    n--;
  }
  int scale = t->scale;
  if (scale <= 0) {
    memcpy(text + o, d, (size_t)n);
    o += (size_t)n;
    /* A negative scale multiplies by a power of ten (zero stays "0"). */
    for (int k = 0; k < -scale && !(n == 1 && d[0] == '0') && o < sizeof(text) - 1; k++) {
      text[o++] = '0';
    }
  } else if (n > scale) {
    memcpy(text + o, d, (size_t)(n - scale));
    o += (size_t)(n - scale);
    text[o++] = '.';
    memcpy(text + o, d + n - scale, (size_t)scale);
    o += (size_t)scale;
  } else {
    text[o++] = '0';
    text[o++] = '.';
    for (int k = 0; k < scale - n && o < sizeof(text) - 1; k++)
      text[o++] = '0';
    memcpy(text + o, d, (size_t)n);
    o += (size_t)n;
  }
  if (mode == RENDER_JSON) {
    sb_putc(out, '"');
    sb_put(out, text, o);
    sb_putc(out, '"');
  } else {
    sb_put(out, text, o);
  }
}

/* A temporal value rendered into a small buffer, then quoted as needed. */
static void put_temporal(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t j,
                         render_mode mode, bool top) {
  sbuf tmp;
  sb_init(&tmp);
  const cf_type *t = &f->type;
  const void *v = a->buffers[1];
  switch (t->id) {
    case CF_DATE32:
      put_date(&tmp, ((const int32_t *)v)[j]);
      break;
    case CF_DATE64: {
      int64_t ms = ((const int64_t *)v)[j];
      if (floor_mod(ms, 86400000) == 0) {
        put_date(&tmp, floor_div(ms, 86400000));
      } else {
        put_datetime(&tmp, floor_div(ms, 1000), floor_mod(ms, 1000), 3);
      }
      break;
    }
    case CF_TIME32:
    case CF_TIME64: {
      int64_t x = t->id == CF_TIME32 ? ((const int32_t *)v)[j] : ((const int64_t *)v)[j];
      int64_t per = unit_per_second(t->unit);
      if (x < 0 || x / per >= 86400) {
        sb_printf(&tmp, "%lld%s", (long long)x, unit_name(t->unit)); /* out of a day's range */
      } else {
        put_clock(&tmp, x / per, x % per, unit_digits(t->unit));
      }
      break;
    }
    case CF_TIMESTAMP:
      put_timestamp(&tmp, t, ((const int64_t *)v)[j]);
      break;
    case CF_DURATION:
      put_duration(&tmp, t, ((const int64_t *)v)[j]);
      break;
    case CF_INTERVAL_MONTHS:
      put_interval(&tmp, ((const int32_t *)v)[j], 0, 0, 1, 0);
      break;
    case CF_INTERVAL_DAY_TIME: {
      const int32_t *p = (const int32_t *)v + 2 * j;
      put_interval(&tmp, 0, p[0], p[1], 1000, 3);
      break;
    }
    case CF_INTERVAL_MONTH_DAY_NANO: {
      const uint8_t *p = (const uint8_t *)v + 16 * j;
      int32_t months, days;
      int64_t ns;
      memcpy(&months, p, 4);
      memcpy(&days, p + 4, 4);
      memcpy(&ns, p + 8, 8);
      put_interval(&tmp, months, days, ns, 1000000000, 9);
      break;
    }
    default:
      break;
  }
  put_text_scalar(out, sb_str(&tmp), tmp.len, mode, top);
  sb_free(&tmp);
}

static void open_list(sbuf *out, render_mode mode) {
  CF_UNUSED(mode);
  sb_putc(out, '[');
}

static void sep(sbuf *out, render_mode mode) {
  sb_puts(out, mode == RENDER_JSON ? "," : ", ");
}

static void list_items(sbuf *out, const rfield *child_f, const struct ArrowArray *child,
                       int64_t start, int64_t n, render_mode mode, int depth) {
  open_list(out, mode);
  for (int64_t k = 0; k < n && !sb_full(out); k++) {
    if (k > 0) sep(out, mode);
    render_at(out, child_f, child, start + k, mode, false, depth + 1);
  }
  sb_putc(out, ']');
}

static bool string_like(cf_type_id id) {
  return id == CF_STRING || id == CF_LARGE_STRING || id == CF_STRING_VIEW;
}

static bool int_like(cf_type_id id) {
  return id >= CF_INT8 && id <= CF_UINT64;
}

/* Maps: a JSON object when keys are strings or integers, else [[k, v], ...]. */
static void put_map(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t j,
                    render_mode mode, int depth) {
  const int32_t *offs = a->buffers[1];
  int64_t start = offs[j], end = offs[j + 1];
  const rfield *entries_f = &f->children[0];
  const struct ArrowArray *entries = a->children[0];
  const rfield *kf = &entries_f->children[0], *vf = &entries_f->children[1];
  const struct ArrowArray *keys = entries->children[0], *vals = entries->children[1];
  int64_t base = entries->offset;
  bool as_object =
      f->dict == NULL && kf->dict == NULL && (string_like(kf->type.id) || int_like(kf->type.id));
  sb_putc(out, as_object ? '{' : '[');
  for (int64_t k = start; k < end && !sb_full(out); k++) {
    if (k > start) sep(out, mode);
    if (as_object) {
      if (string_like(kf->type.id)) {
        render_at(out, kf, keys, base + k, RENDER_JSON, false, depth + 1);
      } else {
        sb_putc(out, '"');
        render_at(out, kf, keys, base + k, mode, false, depth + 1);
        sb_putc(out, '"');
      }
      sb_puts(out, mode == RENDER_JSON ? ":" : ": ");
      render_at(out, vf, vals, base + k, mode, false, depth + 1);
    } else {
      sb_putc(out, '[');
      render_at(out, kf, keys, base + k, mode, false, depth + 1);
      sep(out, mode);
      render_at(out, vf, vals, base + k, mode, false, depth + 1);
      sb_putc(out, ']');
    }
  }
  sb_putc(out, as_object ? '}' : ']');
}

static void render_at(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t i,
                      render_mode mode, bool top, int depth) {
  if (sb_full(out)) return;
  if (depth > MAX_DEPTH || render_is_null(f, a, i)) {
    sb_puts(out, "null");
    return;
  }
  int64_t j = a->offset + i;
  if (f->dict != NULL) {
    int64_t idx = load_int(a->buffers[1], f->type.bit_width, j);
    render_at(out, f->dict, a->dictionary, idx, mode, top, depth + 1);
    return;
  }
  const cf_type *t = &f->type;
  const void *const *b = a->buffers;
  switch (t->id) {
    case CF_NA:
      sb_puts(out, "null");
      break;
    case CF_BOOL:
      sb_puts(out, bit_get(b[1], j) ? "true" : "false");
      break;
    case CF_INT8:
    case CF_INT16:
    case CF_INT32:
    case CF_INT64:
      sb_printf(out, "%lld", (long long)load_int(b[1], t->bit_width, j));
      break;
    case CF_UINT8:
      sb_printf(out, "%u", (unsigned)((const uint8_t *)b[1])[j]);
      break;
    case CF_UINT16:
      sb_printf(out, "%u", (unsigned)((const uint16_t *)b[1])[j]);
      break;
    case CF_UINT32:
      sb_printf(out, "%lu", (unsigned long)((const uint32_t *)b[1])[j]);
      break;
    case CF_UINT64:
      sb_printf(out, "%llu", (unsigned long long)((const uint64_t *)b[1])[j]);
      break;
    case CF_HALF_FLOAT:
      put_float(out, cf_half_to_float(((const uint16_t *)b[1])[j]), true, mode, top);
      break;
    case CF_FLOAT:
      put_float(out, ((const float *)b[1])[j], true, mode, top);
      break;
    case CF_DOUBLE:
      put_float(out, ((const double *)b[1])[j], false, mode, top);
      break;
    case CF_STRING:
    case CF_BINARY: {
      const int32_t *o = b[1];
      const char *p = (const char *)b[2] + o[j];
      size_t n = (size_t)(o[j + 1] - o[j]);
      if (t->id == CF_STRING) {
        put_text_scalar(out, p, n, mode, top);
      } else {
        put_bytes(out, (const uint8_t *)p, n, mode, top);
      }
      break;
    }
    case CF_LARGE_STRING:
    case CF_LARGE_BINARY: {
      const int64_t *o = b[1];
      const char *p = (const char *)b[2] + o[j];
      size_t n = (size_t)(o[j + 1] - o[j]);
      if (t->id == CF_LARGE_STRING) {
        put_text_scalar(out, p, n, mode, top);
      } else {
        put_bytes(out, (const uint8_t *)p, n, mode, top);
      }
      break;
    }
    case CF_STRING_VIEW:
    case CF_BINARY_VIEW: {
      const uint8_t *view = (const uint8_t *)b[1] + 16 * j;
      int32_t n;
      memcpy(&n, view, 4);
      const char *p;
      if (n <= 12) {
        p = (const char *)view + 4;
      } else {
        int32_t buf_index, off;
        memcpy(&buf_index, view + 8, 4);
        memcpy(&off, view + 12, 4);
        p = (const char *)b[2 + buf_index] + off;
      }
      if (t->id == CF_STRING_VIEW) {
        put_text_scalar(out, p, (size_t)n, mode, top);
      } else {
        put_bytes(out, (const uint8_t *)p, (size_t)n, mode, top);
      }
      break;
    }
    case CF_FIXED_SIZE_BINARY:
      put_bytes(out, (const uint8_t *)b[1] + (int64_t)t->fixed_size * j, (size_t)t->fixed_size,
                mode, top);
      break;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256:
      put_decimal(out, t, (const uint8_t *)b[1] + (int64_t)(t->bit_width / 8) * j, mode, top);
      break;
    case CF_DATE32:
    case CF_DATE64:
    case CF_TIME32:
    case CF_TIME64:
    case CF_TIMESTAMP:
    case CF_DURATION:
    case CF_INTERVAL_MONTHS:
    case CF_INTERVAL_DAY_TIME:
    case CF_INTERVAL_MONTH_DAY_NANO:
      put_temporal(out, f, a, j, mode, top);
      break;
    case CF_LIST: {
      const int32_t *o = b[1];
      list_items(out, &f->children[0], a->children[0], o[j], o[j + 1] - o[j], mode, depth);
      break;
    }
    case CF_LARGE_LIST: {
      const int64_t *o = b[1];
      list_items(out, &f->children[0], a->children[0], o[j], o[j + 1] - o[j], mode, depth);
      break;
    }
    case CF_LIST_VIEW: {
      const int32_t *o = b[1], *s = b[2];
      list_items(out, &f->children[0], a->children[0], o[j], s[j], mode, depth);
      break;
    }
    case CF_LARGE_LIST_VIEW: {
      const int64_t *o = b[1], *s = b[2];
      list_items(out, &f->children[0], a->children[0], o[j], s[j], mode, depth);
      break;
    }
    case CF_FIXED_SIZE_LIST:
      list_items(out, &f->children[0], a->children[0], j * t->fixed_size, t->fixed_size, mode,
                 depth);
      break;
    case CF_STRUCT:
      sb_putc(out, '{');
      for (int64_t k = 0; k < f->n_children && !sb_full(out); k++) {
        if (k > 0) sep(out, mode);
        const char *name = f->children[k].schema->name ? f->children[k].schema->name : "";
        sb_json_string(out, name, strlen(name));
        sb_puts(out, mode == RENDER_JSON ? ":" : ": ");
        render_at(out, &f->children[k], a->children[k], j, mode, false, depth + 1);
      }
      sb_putc(out, '}');
      break;
    case CF_MAP:
      put_map(out, f, a, j, mode, depth);
      break;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      int64_t k, ci;
      if (union_child(f, a, i, &k, &ci)) {
        render_at(out, &f->children[k], a->children[k], ci, mode, top, depth + 1);
      } else {
        sb_puts(out, "null");
      }
      break;
    }
    case CF_RUN_END_ENCODED: {
      int64_t run = ree_run(f, a, j);
      render_at(out, &f->children[1], a->children[1], run, mode, top, depth + 1);
      break;
    }
    default:
      sb_puts(out, "?");
      break;
  }
}

void render_value(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t i,
                  render_mode mode) {
  render_at(out, f, a, i, mode, true, 0);
}
