/* Locations: URI parsing and checking, building grpc URIs, accessors. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include "flight/flight_pb.h"

#define LOC(x) ((const pb_location *)(x))

/* Long URIs are cut in error messages. */
#define URI_SHOWN 200

static bool is_unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(unsigned char c) {
  return strchr("!$&'()*+,;=", c) != NULL && c != '\0';
}

static bool is_hex(unsigned char c) {
  return isxdigit(c) != 0;
}

/* A reg-name or IPv4 host: unreserved, sub-delims and %XX escapes. */
static bool host_name_valid(const char *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if (c == '%') {
      if (n - i < 3 || !is_hex((unsigned char)h[i + 1]) || !is_hex((unsigned char)h[i + 2])) {
        return false;
      }
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

/* An IPv6 literal (without brackets), optionally with a zone ("%25eth0",
 * RFC 6874, or a bare "%eth0"). */
static bool ipv6_valid(const char *h, size_t n) {
  char addr[INET6_ADDRSTRLEN + 1];
  size_t alen = n;
  const char *pct = memchr(h, '%', n);
  if (pct != NULL) {
    alen = (size_t)(pct - h);
    const char *zone = pct + 1;
    size_t zlen = n - alen - 1;
    if (zlen >= 2 && zone[0] == '2' && zone[1] == '5') zone += 2, zlen -= 2;
    if (zlen == 0) return false;
    for (size_t i = 0; i < zlen; i++) {
      if (!is_unreserved((unsigned char)zone[i])) return false;
    }
  }
  if (alen == 0 || alen >= sizeof(addr)) return false;
  memcpy(addr, h, alen);
  addr[alen] = '\0';
  struct in6_addr a6;
  return inet_pton(AF_INET6, addr, &a6) == 1;
}

static bool scheme_is(const char *s, size_t n, const char *name) {
  return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

int cf_uri_parse(const char *uri, cf_uri *out, int code, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  out->port = -1;
  if (uri == NULL) return cflight_error_set(err, code, "location URI is NULL");
  size_t n = strlen(uri);
  if (n == 0) return cflight_error_set(err, code, "location URI is empty");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)uri[i];
    if (c <= 0x20 || c == 0x7f) {
      return cflight_error_set(err, code,
                               "location URI '%.*s' contains a space or control character at %zu",
                               URI_SHOWN, uri, i);
    }
  }
  /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  size_t slen = 0;
  while (slen < n && (isalnum((unsigned char)uri[slen]) || uri[slen] == '+' || uri[slen] == '-' ||
                      uri[slen] == '.')) {
    slen++;
  }
  if (slen == 0 || slen == n || uri[slen] != ':' || !isalpha((unsigned char)uri[0])) {
    return cflight_error_set(err, code,
                             "location URI '%.*s' has no scheme (expected e.g. "
                             "grpc+tcp://host:port)",
                             URI_SHOWN, uri);
  }
  if (scheme_is(uri, slen, "grpc") || scheme_is(uri, slen, "grpc+tcp")) {
    out->scheme = CFLIGHT_SCHEME_GRPC_TCP;
  } else if (scheme_is(uri, slen, "grpc+tls")) {
    out->scheme = CFLIGHT_SCHEME_GRPC_TLS;
  } else if (scheme_is(uri, slen, "grpc+unix")) {
    out->scheme = CFLIGHT_SCHEME_GRPC_UNIX;
  } else if (scheme_is(uri, slen, "http")) {
    out->scheme = CFLIGHT_SCHEME_HTTP;
  } else if (scheme_is(uri, slen, "https")) {
    out->scheme = CFLIGHT_SCHEME_HTTPS;
  } else if (scheme_is(uri, slen, "arrow-flight-reuse-connection")) {
    out->scheme = CFLIGHT_SCHEME_REUSE_CONNECTION;
  } else {
    out->scheme = CFLIGHT_SCHEME_OTHER;
  }

  const char *p = uri + slen + 1;
  const char *end = uri + n;
  bool has_authority = end - p >= 2 && p[0] == '/' && p[1] == '/';
  if (has_authority) {
    const char *auth = p + 2;
    const char *auth_end = auth + strcspn(auth, "/?#");
    /* Skip any userinfo: it is not ours to interpret. */
    const char *at = NULL;
    for (const char *q = auth; q < auth_end; q++) {
      if (*q == '@') at = q;
    }
    const char *h = at != NULL ? at + 1 : auth;
    const char *port_start = NULL;
    if (h < auth_end && *h == '[') {
      const char *close = memchr(h, ']', (size_t)(auth_end - h));
      if (close == NULL) {
        return cflight_error_set(err, code, "location URI '%.*s': unclosed '[' in the host",
                                 URI_SHOWN, uri);
      }
      out->host = h + 1;
      out->host_len = (size_t)(close - h - 1);
      if (!ipv6_valid(out->host, out->host_len)) {
        return cflight_error_set(err, code, "location URI '%.*s': '%.*s' is not an IPv6 address",
                                 URI_SHOWN, uri, (int)out->host_len, out->host);
      }
      if (close + 1 < auth_end) {
        if (close[1] != ':') {
          return cflight_error_set(
              err, code, "location URI '%.*s': unexpected characters after ']'", URI_SHOWN, uri);
        }
        port_start = close + 2;
      }
    } else {
      const char *colon = memchr(h, ':', (size_t)(auth_end - h));
      const char *host_end = colon != NULL ? colon : auth_end;
      out->host = h;
      out->host_len = (size_t)(host_end - h);
      if (!host_name_valid(out->host, out->host_len)) {
        return cflight_error_set(err, code, "location URI '%.*s': '%.*s' is not a valid host",
                                 URI_SHOWN, uri, (int)out->host_len, out->host);
      }
      if (colon != NULL) port_start = colon + 1;
    }
    if (port_start != NULL && port_start < auth_end) {
      long port = 0;
      for (const char *q = port_start; q < auth_end; q++) {
        if (!isdigit((unsigned char)*q) || port > 65535) {
          return cflight_error_set(err, code,
                                   "location URI '%.*s': port '%.*s' is not a number in 0 .. 65535",
                                   URI_SHOWN, uri, (int)(auth_end - port_start), port_start);
        }
        port = port * 10 + (*q - '0');
      }
      if (port > 65535) {
        return cflight_error_set(err, code,
                                 "location URI '%.*s': port '%.*s' is not a number in 0 .. 65535",
                                 URI_SHOWN, uri, (int)(auth_end - port_start), port_start);
      }
      out->port = (int)port;
    }
    p = auth_end;
  }
  out->path = p;
  out->path_len = strcspn(p, "?#");

  switch (out->scheme) {
    case CFLIGHT_SCHEME_GRPC_TCP:
    case CFLIGHT_SCHEME_GRPC_TLS:
    case CFLIGHT_SCHEME_HTTP:
    case CFLIGHT_SCHEME_HTTPS:
      if (out->host_len == 0) {
        return cflight_error_set(err, code,
                                 "location URI '%.*s' has no host (expected %.*s://host:port)",
                                 URI_SHOWN, uri, (int)slen, uri);
      }
      break;
    case CFLIGHT_SCHEME_GRPC_UNIX:
      if (out->host_len > 0 || out->port >= 0) {
        return cflight_error_set(err, code,
                                 "location URI '%.*s': grpc+unix takes a socket path, not a host "
                                 "(write grpc+unix:///path/to/socket)",
                                 URI_SHOWN, uri);
      }
      if (out->path_len == 0) {
        return cflight_error_set(err, code, "location URI '%.*s' has no socket path", URI_SHOWN,
                                 uri);
      }
      break;
    default:
      break;
  }
  return CFLIGHT_OK;
}

/* ---- Constructors ------------------------------------------------------------------ */

static int location_from_string(char *uri, cflight_location **out, cflight_error *err) {
  /* Takes uri (malloc'd) over. */
  ProtobufCMessage *m;
  int rc = cf_pb_new(&arrow__flight__protocol__location__descriptor, &m, err);
  if (rc != CFLIGHT_OK) {
    free(uri);
    return rc;
  }
  ((pb_location *)m)->uri = uri;
  *out = (cflight_location *)m;
  return CFLIGHT_OK;
}

int cflight_location_parse(const char *uri, cflight_location **out, cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  cf_uri parsed;
  CF_RETURN_NOT_OK(cf_uri_parse(uri, &parsed, CFLIGHT_INVALID_ARGUMENT, err));
  if (!cf_utf8_valid(uri, strlen(uri))) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location URI is not valid UTF-8");
  }
  char *copy = cf_strdup(uri);
  if (copy == NULL) return CF_NOMEM(err, "location");
  return location_from_string(copy, out, err);
}

static int location_new_host_port(const char *scheme, const char *host, int port,
                                  cflight_location **out, cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  if (host == NULL || host[0] == '\0') {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location: empty host");
  }
  if (port < 0 || port > 65535) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location: port %d outside 0 .. 65535",
                             port);
  }
  size_t hlen = strlen(host);
  bool v6 = strchr(host, ':') != NULL;
  if (v6 ? !ipv6_valid(host, hlen) : !host_name_valid(host, hlen)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location: '%.*s' is not a valid host",
                             URI_SHOWN, host);
  }
  size_t cap = strlen(scheme) + hlen + 16;
  char *uri = cf_malloc(cap);
  if (uri == NULL) return CF_NOMEM(err, "location");
  snprintf(uri, cap, v6 ? "%s://[%s]:%d" : "%s://%s:%d", scheme, host, port);
  return location_from_string(uri, out, err);
}

int cflight_location_new_tcp(const char *host, int port, cflight_location **out,
                             cflight_error *err) {
  return location_new_host_port("grpc+tcp", host, port, out, err);
}

int cflight_location_new_tls(const char *host, int port, cflight_location **out,
                             cflight_error *err) {
  return location_new_host_port("grpc+tls", host, port, out, err);
}

int cflight_location_new_unix(const char *path, cflight_location **out, cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  if (path == NULL || path[0] == '\0') {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location: empty socket path");
  }
  size_t n = strlen(path);
  if (n > (SIZE_MAX - 32) / 3) return CF_NOMEM(err, "location");
  char *uri = cf_malloc(n * 3 + 32);
  if (uri == NULL) return CF_NOMEM(err, "location");
  /* An absolute path goes after an empty authority; a relative one right
   * after the scheme, where it cannot be mistaken for a host. */
  size_t len = (size_t)sprintf(uri, path[0] == '/' ? "grpc+unix://" : "grpc+unix:");
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)path[i];
    /* Escapes what a URI cannot hold, and bytes beyond ASCII so that the
     * URI is UTF-8 whatever the path's bytes are. */
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#') {
      uri[len++] = '%';
      uri[len++] = hex[c >> 4];
      uri[len++] = hex[c & 15];
    } else {
      uri[len++] = (char)c;
    }
  }
  uri[len] = '\0';
  return location_from_string(uri, out, err);
}

int cflight_location_new_reuse_connection(cflight_location **out, cflight_error *err) {
  return cflight_location_parse(CFLIGHT_LOCATION_REUSE_CONNECTION_URI, out, err);
}

/* ---- Accessors ---------------------------------------------------------------------- */

const char *cflight_location_uri(const cflight_location *loc) {
  return loc != NULL ? LOC(loc)->uri : NULL;
}

/* A location's URI was checked when it was made, so this parse succeeds. */
static void parse_checked(const cflight_location *loc, cf_uri *out) {
  if (loc == NULL || cf_uri_parse(LOC(loc)->uri, out, CFLIGHT_INVALID_ARGUMENT, NULL) != 0) {
    memset(out, 0, sizeof(*out));
    out->port = -1;
  }
}

cflight_scheme cflight_location_scheme(const cflight_location *loc) {
  cf_uri u;
  parse_checked(loc, &u);
  return u.scheme;
}

static size_t copy_out(const char *s, size_t n, char *buf, size_t cap) {
  if (cap > 0) {
    size_t k = n < cap - 1 ? n : cap - 1;
    if (k > 0) memcpy(buf, s, k);
    buf[k] = '\0';
  }
  return n;
}

size_t cflight_location_host(const cflight_location *loc, char *buf, size_t cap) {
  cf_uri u;
  parse_checked(loc, &u);
  return copy_out(u.host, u.host_len, buf, cap);
}

int cflight_location_port(const cflight_location *loc) {
  cf_uri u;
  parse_checked(loc, &u);
  return u.port;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t cflight_location_path(const cflight_location *loc, char *buf, size_t cap) {
  cf_uri u;
  parse_checked(loc, &u);
  size_t len = 0;
  for (size_t i = 0; i < u.path_len; i++) {
    char c = u.path[i];
    if (c == '%' && u.path_len - i >= 3 && hex_value(u.path[i + 1]) >= 0 &&
        hex_value(u.path[i + 2]) >= 0) {
      c = (char)(hex_value(u.path[i + 1]) * 16 + hex_value(u.path[i + 2]));
      i += 2;
    }
    if (len + 1 < cap) buf[len] = c;
    len++;
  }
  if (cap > 0) buf[len < cap - 1 ? len : cap - 1] = '\0';
  return len;
}

bool cflight_location_equals(const cflight_location *a, const cflight_location *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(LOC(a)->uri, LOC(b)->uri) == 0;
}

int cflight_location_serialize(const cflight_location *loc, cflight_buffer **out,
                               cflight_error *err) {
  return cf_pb_serialize((const ProtobufCMessage *)loc, out, err);
}

int cflight_location_deserialize(const void *data, size_t size, cflight_location **out,
                                 cflight_error *err) {
  ProtobufCMessage *m = NULL;
  int rc = cf_pb_deserialize(&arrow__flight__protocol__location__descriptor, data, size,
                             out != NULL ? &m : NULL, err);
  if (out != NULL) *out = (cflight_location *)m;
  return rc;
}

int cflight_location_copy(const cflight_location *loc, cflight_location **out, cflight_error *err) {
  ProtobufCMessage *m = NULL;
  int rc = cf_pb_copy((const ProtobufCMessage *)loc, out != NULL ? &m : NULL, err);
  if (out != NULL) *out = (cflight_location *)m;
  return rc;
}

void cflight_location_free(cflight_location *loc) {
  cf_pb_free((ProtobufCMessage *)loc);
}
