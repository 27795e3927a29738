/* Format strings of the C Data Interface, parsed into cf_type and back. */
#include <errno.h>
#include <stdio.h>

#include "arrow/arrow.h"

static int bad_format(const char *format, cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                           "unsupported or malformed format string '%s'", format);
}

/* Parses a non-negative decimal integer at *p, advancing *p. */
static bool parse_int(const char **p, int32_t *out) {
  const char *s = *p;
  int64_t v = 0;
  if (*s < '0' || *s > '9') return false;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s - '0');
    if (v > INT32_MAX) return false;
    s++;
  }
  *p = s;
  *out = (int32_t)v;
  return true;
}

static bool parse_unit(char c, cf_time_unit *out) {
  switch (c) {
    case 's':
      *out = CF_SECOND;
      return true;
    case 'm':
      *out = CF_MILLI;
      return true;
    case 'u':
      *out = CF_MICRO;
      return true;
    case 'n':
      *out = CF_NANO;
      return true;
    default:
      return false;
  }
}

static char unit_char(cf_time_unit u) {
  static const char chars[] = {'s', 'm', 'u', 'n'};
  return chars[u & 3];
}

static int parse_decimal(const char *format, cf_type *t, cflight_error *err) {
  const char *p = format + 2;
  int32_t bits = 128;
  if (!parse_int(&p, &t->precision) || *p++ != ',') return bad_format(format, err);
  bool negative = (*p == '-'); /* Arrow allows a negative scale */
  if (negative) p++;
  if (!parse_int(&p, &t->scale)) return bad_format(format, err);
  if (negative) t->scale = -t->scale;
  if (*p == ',') {
    p++;
    if (!parse_int(&p, &bits)) return bad_format(format, err);
  }
  if (*p != '\0') return bad_format(format, err);
  switch (bits) {
    case 32:
      t->id = CF_DECIMAL32;
      break;
    case 64:
      t->id = CF_DECIMAL64;
      break;
    case 128:
      t->id = CF_DECIMAL128;
      break;
    case 256:
      t->id = CF_DECIMAL256;
      break;
    default:
      return bad_format(format, err);
  }
  t->bit_width = bits;
  return CFLIGHT_OK;
}

static int parse_union(const char *format, cf_type *t, cflight_error *err) {
  const char *p = format + 4; /* "+ud:" or "+us:" */
  t->n_type_codes = 0;
  if (*p == '\0') return CFLIGHT_OK; /* a union without children */
  for (;;) {
    int32_t code;
    if (!parse_int(&p, &code) || code > 127 || t->n_type_codes >= 128)
      return bad_format(format, err);
    t->type_codes[t->n_type_codes++] = (int8_t)code;
    if (*p == '\0') return CFLIGHT_OK;
    if (*p++ != ',') return bad_format(format, err);
  }
}

int cf_type_parse(const char *format, cf_type *t, cflight_error *err) {
  memset(t, 0, sizeof(*t));
  if (format == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "format string is NULL");
  const char *f = format;
  /* Single-character formats. */
  if (f[0] != '\0' && f[1] == '\0') {
    switch (f[0]) {
      case 'n':
        t->id = CF_NA;
        return CFLIGHT_OK;
      case 'b':
        t->id = CF_BOOL;
        t->bit_width = 1;
        return CFLIGHT_OK;
      case 'c':
        t->id = CF_INT8;
        t->bit_width = 8;
        return CFLIGHT_OK;
      case 'C':
        t->id = CF_UINT8;
        t->bit_width = 8;
        return CFLIGHT_OK;
      case 's':
        t->id = CF_INT16;
        t->bit_width = 16;
        return CFLIGHT_OK;
      case 'S':
        t->id = CF_UINT16;
        t->bit_width = 16;
        return CFLIGHT_OK;
      case 'i':
        t->id = CF_INT32;
        t->bit_width = 32;
        return CFLIGHT_OK;
      case 'I':
        t->id = CF_UINT32;
        t->bit_width = 32;
        return CFLIGHT_OK;
      case 'l':
        t->id = CF_INT64;
        t->bit_width = 64;
        return CFLIGHT_OK;
      case 'L':
        t->id = CF_UINT64;
        t->bit_width = 64;
        return CFLIGHT_OK;
      case 'e':
        t->id = CF_HALF_FLOAT;
        t->bit_width = 16;
        return CFLIGHT_OK;
      case 'f':
        t->id = CF_FLOAT;
        t->bit_width = 32;
        return CFLIGHT_OK;
      case 'g':
        t->id = CF_DOUBLE;
        t->bit_width = 64;
        return CFLIGHT_OK;
      case 'z':
        t->id = CF_BINARY;
        return CFLIGHT_OK;
      case 'Z':
        t->id = CF_LARGE_BINARY;
        return CFLIGHT_OK;
      case 'u':
        t->id = CF_STRING;
        return CFLIGHT_OK;
      case 'U':
        t->id = CF_LARGE_STRING;
        return CFLIGHT_OK;
      default:
        return bad_format(format, err);
    }
  }
  switch (f[0]) {
    case 'v':
      if (strcmp(f, "vz") == 0)
        t->id = CF_BINARY_VIEW;
      else if (strcmp(f, "vu") == 0)
        t->id = CF_STRING_VIEW;
      else
        return bad_format(format, err);
      t->bit_width = 128;
      return CFLIGHT_OK;
    case 'd':
      if (f[1] != ':') return bad_format(format, err);
      return parse_decimal(format, t, err);
    case 'w': {
      const char *p = f + 2;
      if (f[1] != ':' || !parse_int(&p, &t->fixed_size) || *p != '\0')
        return bad_format(format, err);
      if (t->fixed_size > INT32_MAX / 8) return bad_format(format, err);
      t->id = CF_FIXED_SIZE_BINARY;
      t->bit_width = t->fixed_size * 8;
      return CFLIGHT_OK;
    }
    case 't':
      if (f[1] == '\0' || f[2] == '\0') return bad_format(format, err);
      switch (f[1]) {
        case 'd':
          if (f[3] != '\0') return bad_format(format, err);
          if (f[2] == 'D') {
            t->id = CF_DATE32;
            t->bit_width = 32;
            return CFLIGHT_OK;
          }
          if (f[2] == 'm') {
            t->id = CF_DATE64;
            t->bit_width = 64;
            return CFLIGHT_OK;
          }
          return bad_format(format, err);
        case 't':
          if (f[3] != '\0' || !parse_unit(f[2], &t->unit)) return bad_format(format, err);
          t->id = (t->unit <= CF_MILLI) ? CF_TIME32 : CF_TIME64;
          t->bit_width = (t->unit <= CF_MILLI) ? 32 : 64;
          return CFLIGHT_OK;
        case 's':
          if (!parse_unit(f[2], &t->unit) || f[3] != ':') return bad_format(format, err);
          t->id = CF_TIMESTAMP;
          t->bit_width = 64;
          if (f[4] != '\0') {
            t->timezone = f + 4;
            t->timezone_len = (int32_t)strlen(f + 4);
          }
          return CFLIGHT_OK;
        case 'D':
          if (f[3] != '\0' || !parse_unit(f[2], &t->unit)) return bad_format(format, err);
          t->id = CF_DURATION;
          t->bit_width = 64;
          return CFLIGHT_OK;
        case 'i':
          if (f[3] != '\0') return bad_format(format, err);
          if (f[2] == 'M') {
            t->id = CF_INTERVAL_MONTHS;
            t->bit_width = 32;
            return CFLIGHT_OK;
          }
          if (f[2] == 'D') {
            t->id = CF_INTERVAL_DAY_TIME;
            t->bit_width = 64;
            return CFLIGHT_OK;
          }
          if (f[2] == 'n') {
            t->id = CF_INTERVAL_MONTH_DAY_NANO;
            t->bit_width = 128;
            return CFLIGHT_OK;
          }
          return bad_format(format, err);
        default:
          return bad_format(format, err);
      }
    case '+':
      if (strcmp(f, "+l") == 0) {
        t->id = CF_LIST;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+L") == 0) {
        t->id = CF_LARGE_LIST;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+vl") == 0) {
        t->id = CF_LIST_VIEW;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+vL") == 0) {
        t->id = CF_LARGE_LIST_VIEW;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+s") == 0) {
        t->id = CF_STRUCT;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+m") == 0) {
        t->id = CF_MAP;
        return CFLIGHT_OK;
      }
      if (strcmp(f, "+r") == 0) {
        t->id = CF_RUN_END_ENCODED;
        return CFLIGHT_OK;
      }
      if (f[1] == 'w' && f[2] == ':') {
        const char *p = f + 3;
        if (!parse_int(&p, &t->fixed_size) || *p != '\0') return bad_format(format, err);
        t->id = CF_FIXED_SIZE_LIST;
        return CFLIGHT_OK;
      }
      if (f[1] == 'u' && (f[2] == 'd' || f[2] == 's') && f[3] == ':') {
        t->id = f[2] == 'd' ? CF_DENSE_UNION : CF_SPARSE_UNION;
        return parse_union(format, t, err);
      }
      return bad_format(format, err);
    default:
      return bad_format(format, err);
  }
}

int cf_type_format(const cf_type *t, char *buf, size_t cap, cflight_error *err) {
  static const char *simple[CF_TYPE_COUNT] = {
      [CF_NA] = "n",
      [CF_BOOL] = "b",
      [CF_INT8] = "c",
      [CF_UINT8] = "C",
      [CF_INT16] = "s",
      [CF_UINT16] = "S",
      [CF_INT32] = "i",
      [CF_UINT32] = "I",
      [CF_INT64] = "l",
      [CF_UINT64] = "L",
      [CF_HALF_FLOAT] = "e",
      [CF_FLOAT] = "f",
      [CF_DOUBLE] = "g",
      [CF_BINARY] = "z",
      [CF_STRING] = "u",
      [CF_LARGE_BINARY] = "Z",
      [CF_LARGE_STRING] = "U",
      [CF_BINARY_VIEW] = "vz",
      [CF_STRING_VIEW] = "vu",
      [CF_DATE32] = "tdD",
      [CF_DATE64] = "tdm",
      [CF_INTERVAL_MONTHS] = "tiM",
      [CF_INTERVAL_DAY_TIME] = "tiD",
      [CF_INTERVAL_MONTH_DAY_NANO] = "tin",
      [CF_LIST] = "+l",
      [CF_LARGE_LIST] = "+L",
      [CF_LIST_VIEW] = "+vl",
      [CF_LARGE_LIST_VIEW] = "+vL",
      [CF_STRUCT] = "+s",
      [CF_MAP] = "+m",
      [CF_RUN_END_ENCODED] = "+r",
  };
  int n;
  if ((unsigned)t->id >= CF_TYPE_COUNT) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown type id %d", (int)t->id);
  }
  switch (t->id) {
    case CF_FIXED_SIZE_BINARY:
      n = snprintf(buf, cap, "w:%d", (int)t->fixed_size);
      break;
    case CF_FIXED_SIZE_LIST:
      n = snprintf(buf, cap, "+w:%d", (int)t->fixed_size);
      break;
    case CF_DECIMAL32:
    case CF_DECIMAL64:
    case CF_DECIMAL128:
    case CF_DECIMAL256: {
      int bits = t->id == CF_DECIMAL32    ? 32
                 : t->id == CF_DECIMAL64  ? 64
                 : t->id == CF_DECIMAL128 ? 128
                                          : 256;
      n = snprintf(buf, cap, "d:%d,%d,%d", (int)t->precision, (int)t->scale, bits);
      break;
    }
    case CF_TIME32:
    case CF_TIME64:
      n = snprintf(buf, cap, "tt%c", unit_char(t->unit));
      break;
    case CF_DURATION:
      n = snprintf(buf, cap, "tD%c", unit_char(t->unit));
      break;
    case CF_TIMESTAMP:
      n = snprintf(buf, cap, "ts%c:%.*s", unit_char(t->unit),
                   t->timezone ? (int)t->timezone_len : 0, t->timezone ? t->timezone : "");
      break;
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION: {
      n = snprintf(buf, cap, "+u%c:", t->id == CF_DENSE_UNION ? 'd' : 's');
      for (int32_t i = 0; i < t->n_type_codes && n >= 0 && (size_t)n < cap; i++) {
        n += snprintf(buf + n, cap - (size_t)n, i ? ",%d" : "%d", (int)t->type_codes[i]);
      }
      break;
    }
    default:
      n = snprintf(buf, cap, "%s", simple[t->id]);
      break;
  }
  if (n < 0 || (size_t)n >= cap) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "format string does not fit %zu bytes",
                             cap);
  }
  return CFLIGHT_OK;
}

int64_t cf_type_n_buffers(const cf_type *t, int64_t n_variadic) {
  switch (t->id) {
    case CF_NA:
    case CF_RUN_END_ENCODED:
      return 0;
    case CF_STRUCT:
    case CF_FIXED_SIZE_LIST:
    case CF_SPARSE_UNION:
      return 1;
    case CF_BINARY:
    case CF_STRING:
    case CF_LARGE_BINARY:
    case CF_LARGE_STRING:
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW:
      return 3;
    case CF_BINARY_VIEW:
    case CF_STRING_VIEW:
      return 3 + n_variadic;
    default:
      /* Fixed-width types, list, large list, map, dense union. */
      return 2;
  }
}

bool cf_type_has_validity(cf_type_id id) {
  return id != CF_NA && id != CF_SPARSE_UNION && id != CF_DENSE_UNION && id != CF_RUN_END_ENCODED;
}

int64_t cf_type_n_children(cf_type_id id) {
  switch (id) {
    case CF_LIST:
    case CF_LARGE_LIST:
    case CF_FIXED_SIZE_LIST:
    case CF_LIST_VIEW:
    case CF_LARGE_LIST_VIEW:
    case CF_MAP:
      return 1;
    case CF_RUN_END_ENCODED:
      return 2;
    case CF_STRUCT:
    case CF_SPARSE_UNION:
    case CF_DENSE_UNION:
      return -1;
    default:
      return 0;
  }
}

const char *cf_type_name(cf_type_id id) {
  static const char *names[CF_TYPE_COUNT] = {
      [CF_NA] = "null",
      [CF_BOOL] = "bool",
      [CF_INT8] = "int8",
      [CF_UINT8] = "uint8",
      [CF_INT16] = "int16",
      [CF_UINT16] = "uint16",
      [CF_INT32] = "int32",
      [CF_UINT32] = "uint32",
      [CF_INT64] = "int64",
      [CF_UINT64] = "uint64",
      [CF_HALF_FLOAT] = "halffloat",
      [CF_FLOAT] = "float",
      [CF_DOUBLE] = "double",
      [CF_BINARY] = "binary",
      [CF_STRING] = "utf8",
      [CF_LARGE_BINARY] = "large_binary",
      [CF_LARGE_STRING] = "large_utf8",
      [CF_BINARY_VIEW] = "binary_view",
      [CF_STRING_VIEW] = "utf8_view",
      [CF_FIXED_SIZE_BINARY] = "fixed_size_binary",
      [CF_DECIMAL32] = "decimal32",
      [CF_DECIMAL64] = "decimal64",
      [CF_DECIMAL128] = "decimal128",
      [CF_DECIMAL256] = "decimal256",
      [CF_DATE32] = "date32",
      [CF_DATE64] = "date64",
      [CF_TIME32] = "time32",
      [CF_TIME64] = "time64",
      [CF_TIMESTAMP] = "timestamp",
      [CF_DURATION] = "duration",
      [CF_INTERVAL_MONTHS] = "interval_months",
      [CF_INTERVAL_DAY_TIME] = "interval_day_time",
      [CF_INTERVAL_MONTH_DAY_NANO] = "interval_month_day_nano",
      [CF_LIST] = "list",
      [CF_LARGE_LIST] = "large_list",
      [CF_FIXED_SIZE_LIST] = "fixed_size_list",
      [CF_LIST_VIEW] = "list_view",
      [CF_LARGE_LIST_VIEW] = "large_list_view",
      [CF_STRUCT] = "struct",
      [CF_MAP] = "map",
      [CF_SPARSE_UNION] = "sparse_union",
      [CF_DENSE_UNION] = "dense_union",
      [CF_RUN_END_ENCODED] = "run_end_encoded",
  };
  return (unsigned)id < CF_TYPE_COUNT ? names[id] : "unknown";
}

const char *cf_int_format(int64_t bits, bool is_signed) {
  switch (bits) {
    case 8:
      return is_signed ? "c" : "C";
    case 16:
      return is_signed ? "s" : "S";
    case 32:
      return is_signed ? "i" : "I";
    case 64:
      return is_signed ? "l" : "L";
    default:
      return NULL;
  }
}

int cf_code_to_errno(int code) {
  switch (code) {
    case CFLIGHT_OK:
      return 0;
    case CFLIGHT_NO_MEMORY:
      return ENOMEM;
    case CFLIGHT_INVALID_ARGUMENT:
    case CFLIGHT_INVALID_DATA:
      return EINVAL;
    case CFLIGHT_IO_ERROR:
      return EIO;
    case CFLIGHT_CANCELLED:
      return ECANCELED;
    case CFLIGHT_DEADLINE_EXCEEDED:
      return ETIMEDOUT;
    case CFLIGHT_NOT_FOUND:
      return ENOENT;
    case CFLIGHT_UNIMPLEMENTED:
      return ENOSYS;
    case CFLIGHT_PERMISSION_DENIED:
    case CFLIGHT_UNAUTHENTICATED:
      return EACCES;
    case CFLIGHT_UNAVAILABLE:
      return ECONNREFUSED;
    default:
      return EIO;
  }
}
