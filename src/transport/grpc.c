/* gRPC-over-HTTP/2 wire details that are not HTTP/2 itself: grpc-timeout,
 * the percent-encoding of grpc-message, base64 for -bin headers, status
 * mappings, content-type and metadata checks (PROTOCOL-HTTP2.md). */
#include <stdio.h>
#include <strings.h>

#include "transport/internal.h"

/* ---- grpc-timeout ------------------------------------------------------------ */

void cf_grpc_timeout_encode(int64_t ns, char out[16]) {
  /* TimeoutValue is at most 8 digits: use the finest unit in which the value
   * fits, rounding up so that the peer never sees a shorter deadline. */
  static const struct {
    int64_t ns;
    char unit;
  } units[] = {{1, 'n'},
               {1000, 'u'},
               {1000000, 'm'},
               {1000000000, 'S'},
               {60LL * 1000000000, 'M'},
               {3600LL * 1000000000, 'H'}};
  if (ns < 1) ns = 1;
  for (size_t i = 0; i < CF_ARRAY_SIZE(units); i++) {
    int64_t v = ns / units[i].ns + (ns % units[i].ns != 0);
    if (v <= 99999999) {
      snprintf(out, 16, "%d%c", (int)v, units[i].unit);
      return;
    }
  }
  snprintf(out, 16, "99999999H");
}

bool cf_grpc_timeout_decode(const char *s, size_t len, int64_t *ns) {
  if (len < 2 || len > 9) return false;
  int64_t v = 0;
  for (size_t i = 0; i + 1 < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  int64_t mul;
  switch (s[len - 1]) {
    case 'H':
      mul = 3600LL * 1000000000;
      break;
    case 'M':
      mul = 60LL * 1000000000;
      break;
    case 'S':
      mul = 1000000000;
      break;
    case 'm':
      mul = 1000000;
      break;
    case 'u':
      mul = 1000;
      break;
    case 'n':
      mul = 1;
      break;
    default:
      return false;
  }
  if (cf_mul_overflow_i64(v, mul, ns)) *ns = INT64_MAX / 4;
  return true;
}

/* ---- grpc-message percent-encoding ---------------------------------------------- */

int cf_percent_encode(const char *s, size_t len, cf_bytes *out, cflight_error *err) {
  static const char hex[] = "0123456789ABCDEF";
  CF_RETURN_NOT_OK(cf_bytes_reserve(out, len * 3 + 1, err));
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)s[i];
    /* Percent-Byte-Unencoded: %x20-%x24 / %x26-%x7E */
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out->data[out->len++] = c;
    } else {
      out->data[out->len++] = '%';
      out->data[out->len++] = (uint8_t)hex[c >> 4];
      out->data[out->len++] = (uint8_t)hex[c & 15];
    }
  }
  return CFLIGHT_OK;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cf_percent_decode(const uint8_t *s, size_t len, cf_bytes *out, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_bytes_reserve(out, len + 1, err));
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out->data[out->len++] = (uint8_t)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
      i += 2;
    } else {
      out->data[out->len++] = s[i];
    }
  }
  return CFLIGHT_OK;
}

/* ---- base64 --------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cf_base64_encode(const uint8_t *d, size_t len, cf_bytes *out, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_bytes_reserve(out, (len + 2) / 3 * 4 + 1, err));
  uint8_t *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    *o++ = (uint8_t)b64[v >> 18];
    *o++ = (uint8_t)b64[(v >> 12) & 63];
    *o++ = (uint8_t)b64[(v >> 6) & 63];
    *o++ = (uint8_t)b64[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)d[i] << 16;
    *o++ = (uint8_t)b64[v >> 18];
    *o++ = (uint8_t)b64[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
    *o++ = (uint8_t)b64[v >> 18];
    *o++ = (uint8_t)b64[(v >> 12) & 63];
    *o++ = (uint8_t)b64[(v >> 6) & 63];
  }
  out->len = (size_t)(o - out->data);
  return CFLIGHT_OK;
}

static int b64val(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62; /* also accept the URL-safe alphabet */
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool cf_base64_decode(const uint8_t *s, size_t len, cf_bytes *out) {
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
    s++;
    len--;
  }
  size_t pad = 0;
  while (len > 0 && s[len - 1] == '=' && pad < 2) {
    len--;
    pad++;
  }
  if (len % 4 == 1) return false;
  if (pad > 0 && (len + pad) % 4 != 0) return false;
  if (cf_bytes_reserve(out, len / 4 * 3 + 3, NULL) != CFLIGHT_OK) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64val(s[i]);
    if (v < 0) return false;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->data[out->len++] = (uint8_t)(acc >> bits);
    }
  }
  return true;
}

/* ---- status mappings -------------------------------------------------------------- */

int cf_http_status_to_grpc(int http_status) {
  switch (http_status) {
    case 400:
      return CFLIGHT_INTERNAL;
    case 401:
      return CFLIGHT_UNAUTHENTICATED;
    case 403:
      return CFLIGHT_PERMISSION_DENIED;
    case 404:
      return CFLIGHT_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return CFLIGHT_UNAVAILABLE;
    default:
      return CFLIGHT_UNKNOWN;
  }
}

int cf_rst_code_to_grpc(uint32_t error_code) {
  switch (error_code) {
    case NGHTTP2_REFUSED_STREAM:
      return CFLIGHT_UNAVAILABLE;
    case NGHTTP2_CANCEL:
      return CFLIGHT_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return CFLIGHT_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
      return CFLIGHT_PERMISSION_DENIED;
    default:
      return CFLIGHT_INTERNAL;
  }
}

bool cf_is_grpc_content_type(const uint8_t *v, size_t len) {
  static const char base[] = "application/grpc";
  size_t n = sizeof(base) - 1;
  if (len < n || strncasecmp((const char *)v, base, n) != 0) return false;
  return len == n || v[n] == '+' || v[n] == ';';
}

bool cf_is_reserved_header(const char *key) {
  static const char *const reserved[] = {"content-type",
                                         "te",
                                         "grpc-timeout",
                                         "grpc-encoding",
                                         "grpc-accept-encoding",
                                         "grpc-status",
                                         "grpc-message",
                                         "grpc-status-details-bin",
                                         "host",
                                         "connection",
                                         "keep-alive",
                                         "transfer-encoding",
                                         "upgrade",
                                         "proxy-connection"};
  if (key[0] == ':') return true;
  for (size_t i = 0; i < CF_ARRAY_SIZE(reserved); i++)
    if (strcmp(key, reserved[i]) == 0) return true;
  return false;
}

bool cf_header_is_bin(const char *key, size_t len) {
  return len >= 4 && memcmp(key + len - 4, "-bin", 4) == 0;
}

int cf_header_check(const cf_header *h, cflight_error *err) {
  size_t klen = strlen(h->key);
  if (klen == 0) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "empty metadata key");
  for (size_t i = 0; i < klen; i++) {
    char c = h->key[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "metadata key '%s' has a character outside [0-9a-z-_.]", h->key);
  }
  if (cf_is_reserved_header(h->key))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "metadata key '%s' is reserved for the transport", h->key);
  if (!cf_header_is_bin(h->key, klen)) {
    for (size_t i = 0; i < h->value_len; i++) {
      if (h->value[i] < 0x20 || h->value[i] > 0x7E)
        return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                                 "metadata value of '%s' is not printable ASCII (use a key "
                                 "ending in -bin for binary values)",
                                 h->key);
    }
  }
  return CFLIGHT_OK;
}

bool cf_metadata_add_wire(cf_metadata *md, const uint8_t *name, size_t namelen,
                          const uint8_t *value, size_t valuelen) {
  char key[256];
  if (namelen == 0 || namelen >= sizeof(key)) return false;
  memcpy(key, name, namelen);
  key[namelen] = '\0';
  if (!cf_header_is_bin(key, namelen))
    return cf_metadata_add(md, key, value, valuelen, NULL) == CFLIGHT_OK;
  /* Several values of one -bin key may arrive joined by commas. */
  size_t start = 0;
  for (size_t i = 0; i <= valuelen; i++) {
    if (i < valuelen && value[i] != ',') continue;
    cf_bytes raw = {0};
    bool ok = cf_base64_decode(value + start, i - start, &raw);
    if (ok) ok = cf_metadata_add(md, key, raw.data, raw.len, NULL) == CFLIGHT_OK;
    cf_bytes_reset(&raw);
    if (!ok) return false;
    start = i + 1;
  }
  return true;
}
