/* Helpers shared by the cflight program (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Strings ----------------------------------------------------------------- */

void sb_init(sbuf *b) {
  memset(b, 0, sizeof(*b));
}

void sb_free(sbuf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

void sb_clear(sbuf *b) {
  b->len = 0;
  if (b->data != NULL) b->data[0] = '\0';
  b->truncated = false;
}

static bool sb_grow(sbuf *b, size_t extra) {
  if (b->failed) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (p == NULL) {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->failed || b->truncated) return;
  if (b->limit > 0 && b->len + n > b->limit) {
    n = b->limit - b->len;
    b->truncated = true;
  }
  if (!sb_grow(b, n)) return;
  if (n > 0) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sb_putc(sbuf *b, char c) {
  sb_put(b, &c, 1);
}

void sb_puts(sbuf *b, const char *s) {
  sb_put(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof(tmp)) {
    sb_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_put(b, big, (size_t)n);
  free(big);
}

char *sb_take(sbuf *b) {
  if (b->failed) {
    sb_free(b);
    return NULL;
  }
  char *s = b->data != NULL ? b->data : strdup("");
  memset(b, 0, sizeof(*b));
  return s;
}

/* Length of the UTF-8 sequence at p (1..4), or 0 when it is not valid UTF-8. */
static size_t utf8_seq(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

bool utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(p + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

void sb_json_string(sbuf *b, const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  sb_putc(b, '"');
  size_t run = 0; /* bytes copied verbatim in one go */
  size_t i = 0;
  while (i < n && !sb_full(b)) {
    uint8_t c = p[i];
    const char *esc = NULL;
    char ubuf[8];
    size_t adv = 1;
    if (c == '"') {
      esc = "\\\"";
    } else if (c == '\\') {
      esc = "\\\\";
    } else if (c == '\n') {
      esc = "\\n";
    } else if (c == '\r') {
      esc = "\\r";
    } else if (c == '\t') {
      esc = "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
      esc = ubuf;
    } else if (c >= 0x80) {
      adv = utf8_seq(p + i, n - i);
      if (adv == 0) {
        esc = "\xEF\xBF\xBD"; /* U+FFFD for a byte that is not UTF-8 */
        adv = 1;
      }
    }
    if (esc != NULL) {
      sb_put(b, s + i - run, run);
      run = 0;
      sb_puts(b, esc);
    } else {
      run += adv;
    }
    i += adv;
  }
  sb_put(b, s + i - run, run);
  sb_putc(b, '"');
}

void sb_hex(sbuf *b, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n && !sb_full(b); i++) {
    char two[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
    sb_put(b, two, 2);
  }
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sb_base64(sbuf *b, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n && !sb_full(b); i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char four[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                    i + 2 < n ? b64[v & 63] : '='};
    sb_put(b, four, 4);
  }
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len) {
  while (n > 0 && s[n - 1] == '=')
    n--;
  if (n % 4 == 1) return false;
  uint8_t *buf = malloc(n / 4 * 3 + 3);
  if (buf == NULL) return false;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(s[i]);
    if (v < 0) {
      free(buf);
      return false;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (uint8_t)(acc >> bits);
    }
  }
  *out = buf;
  *out_len = o;
  return true;
}

/* ---- Errors -------------------------------------------------------------------- */

int err_prefix(cflight_error *err, const char *fmt, ...) {
  if (err == NULL) return CFLIGHT_UNKNOWN;
  char old[CFLIGHT_ERROR_MESSAGE_SIZE];
  snprintf(old, sizeof(old), "%s", err->message);
  char prefix[CFLIGHT_ERROR_MESSAGE_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  int code = err->code != CFLIGHT_OK ? err->code : CFLIGHT_UNKNOWN;
  return cflight_error_set(err, code, "%s: %s", prefix, old);
}

void cli_errorf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cflight: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void cli_warnf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cflight: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- Formatting ----------------------------------------------------------------- */

const char *fmt_bytes(double bytes, char *buf, size_t cap) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    u++;
  }
  if (u == 0) {
    snprintf(buf, cap, "%.0f B", bytes);
  } else {
    snprintf(buf, cap, "%.1f %s", bytes, units[u]);
  }
  return buf;
}

const char *fmt_count(int64_t n, char *buf, size_t cap) {
  char digits[32];
  bool neg = n < 0;
  uint64_t u = neg ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
  int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)u);
  char tmp[48];
  size_t o = 0;
  if (neg) tmp[o++] = '-';
  for (int i = 0; i < len; i++) {
    if (i > 0 && (len - i) % 3 == 0) tmp[o++] = ',';
    tmp[o++] = digits[i];
  }
  tmp[o] = '\0';
  snprintf(buf, cap, "%s", tmp);
  return buf;
}

const char *fmt_seconds(double s, char *buf, size_t cap) {
  if (s < 60) {
    snprintf(buf, cap, "%.1fs", s);
  } else if (s < 3600) {
    snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  } else {
    snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  }
  return buf;
}

/* ---- Files ------------------------------------------------------------------------ */

int read_text_file(const char *path, const char *what, size_t max_size, char **out, size_t *size,
                   cflight_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read the %s %s: %s", what, path,
                             strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read the %s %s: not a regular file",
                             what, path);
  }
  if ((uint64_t)st.st_size > max_size) {
    close(fd);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the %s %s is too large (%lld bytes; at most %zu)", what, path,
                             (long long)st.st_size, max_size);
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (buf == NULL) {
    close(fd);
    return CF_NOMEM(err, what);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  if (size != NULL) *size = got;
  return CFLIGHT_OK;
}

bool parse_i64(const char *s, int64_t *out) {
  if (s == NULL || *s == '\0') return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

bool parse_double(const char *s, double *out) {
  if (s == NULL || *s == '\0') return false;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v)) return false;
  *out = v;
  return true;
}

bool ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* ---- Batch sizes ---------------------------------------------------------------- */

int64_t batch_nbytes(const struct ArrowSchema *schema, const struct ArrowArray *array) {
  int64_t total = 0;
  return cf_array_nbytes(schema, array, &total, NULL) == CFLIGHT_OK ? total : 0;
}
