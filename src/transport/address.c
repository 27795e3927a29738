/* Flight locations (grpc://, grpc+tcp://, grpc+tls://, grpc+unix://) and
 * socket address formatting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>

#include "transport/internal.h"

static bool starts_with(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int parse_unix(const char *uri, const char *rest, cf_address *out, cflight_error *err) {
  /* grpc+unix:///path, grpc+unix://localhost/path, unix:///path, unix:/path */
  if (rest[0] == '/' && rest[1] == '/') {
    rest += 2;
    if (starts_with(rest, "localhost/")) rest += strlen("localhost");
    if (rest[0] != '/')
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "invalid location '%s': a Unix socket location needs an "
                               "absolute path (grpc+unix:///path/to/socket)",
                               uri);
  }
  if (rest[0] == '\0')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': missing the socket path", uri);
  size_t n = strlen(rest);
  if (n >= sizeof(out->path))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': socket path longer than %zu bytes", uri,
                             sizeof(out->path) - 1);
  out->scheme = CF_SCHEME_UNIX;
  memcpy(out->path, rest, n + 1);
  return CFLIGHT_OK;
}

int cf_address_parse(const char *uri, cf_address *out, cflight_error *err) {
  if (uri == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "location is NULL");
  memset(out, 0, sizeof(*out));
  const char *rest;
  cf_scheme scheme;
  if (starts_with(uri, "grpc+unix:")) {
    return parse_unix(uri, uri + strlen("grpc+unix:"), out, err);
  } else if (starts_with(uri, "unix:")) {
    return parse_unix(uri, uri + strlen("unix:"), out, err);
  } else if (starts_with(uri, "grpc+tls://")) {
    scheme = CF_SCHEME_TLS;
    rest = uri + strlen("grpc+tls://");
  } else if (starts_with(uri, "grpc+tcp://")) {
    scheme = CF_SCHEME_TCP;
    rest = uri + strlen("grpc+tcp://");
  } else if (starts_with(uri, "grpc://")) {
    scheme = CF_SCHEME_TCP;
    rest = uri + strlen("grpc://");
  } else {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': the scheme must be grpc, grpc+tcp, "
                             "grpc+tls or grpc+unix",
                             uri);
  }
  const char *host_start, *host_end, *port_start;
  if (rest[0] == '[') {
    host_start = rest + 1;
    host_end = strchr(host_start, ']');
    if (host_end == NULL)
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "invalid location '%s': unterminated '[' in IPv6 address", uri);
    port_start = host_end + 1;
  } else {
    host_start = rest;
    host_end = host_start + strcspn(host_start, ":/?#");
    port_start = host_end;
  }
  size_t host_len = (size_t)(host_end - host_start);
  if (host_len == 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "invalid location '%s': missing host",
                             uri);
  if (host_len >= sizeof(out->host))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': host name too long", uri);
  if (rest[0] != '[' && memchr(host_start, ':', host_len) != NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': put IPv6 addresses in brackets ([::1])", uri);
  if (*port_start != ':')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': missing port (host:port)", uri);
  const char *p = port_start + 1;
  long port = 0;
  int digits = 0;
  while (*p >= '0' && *p <= '9' && digits < 6) {
    port = port * 10 + (*p - '0');
    p++;
    digits++;
  }
  if (digits == 0 || port > 65535)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "invalid location '%s': bad port", uri);
  /* Nothing may follow but a lone '/'. */
  if (!(p[0] == '\0' || (p[0] == '/' && p[1] == '\0')))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "invalid location '%s': unexpected text after the port", uri);
  out->scheme = scheme;
  memcpy(out->host, host_start, host_len);
  out->host[host_len] = '\0';
  out->port = (int)port;
  return CFLIGHT_OK;
}

bool cf_host_is_ip_literal(const char *host) {
  struct in6_addr a6;
  struct in_addr a4;
  return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

void cf_sockaddr_string(const struct sockaddr *sa, char *out, size_t out_len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(out, out_len, "%s:%d", ip, ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    snprintf(out, out_len, "[%s]:%d", ip, ntohs(a->sin6_port));
  } else {
    snprintf(out, out_len, "unknown");
  }
}

void cf_sockaddr_peer_string(const struct sockaddr *sa, char *out, size_t out_len) {
  char s[INET6_ADDRSTRLEN + 16];
  cf_sockaddr_string(sa, s, sizeof(s));
  snprintf(out, out_len, "%s:%s", sa->sa_family == AF_INET6 ? "ipv6" : "ipv4", s);
}
