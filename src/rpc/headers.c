/* Header lists (cflight_headers), the Flight method table, call options,
 * and the error copy the layer uses to hand statuses around. */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "rpc/rpc.h"

/* ---- Methods --------------------------------------------------------------------------------- */

#define SERVICE "/arrow.flight.protocol.FlightService/"

static const char *const method_names[CF_M_COUNT] = {
    "Handshake", "ListFlights", "GetFlightInfo", "PollFlightInfo", "GetSchema",
    "DoGet",     "DoPut",       "DoExchange",    "DoAction",       "ListActions",
};

static const char *const method_paths[CF_M_COUNT] = {
    SERVICE "Handshake", SERVICE "ListFlights", SERVICE "GetFlightInfo", SERVICE "PollFlightInfo",
    SERVICE "GetSchema", SERVICE "DoGet",       SERVICE "DoPut",         SERVICE "DoExchange",
    SERVICE "DoAction",  SERVICE "ListActions",
};

const char *cf_method_name(cf_method m) {
  return (unsigned)m < CF_M_COUNT ? method_names[m] : "";
}

const char *cf_method_path(cf_method m) {
  return (unsigned)m < CF_M_COUNT ? method_paths[m] : "";
}

int cf_method_from_path(const char *path) {
  size_t n = strlen(SERVICE);
  if (path == NULL || strncmp(path, SERVICE, n) != 0) return -1;
  for (int i = 0; i < CF_M_COUNT; i++)
    if (strcmp(path + n, method_names[i]) == 0) return i;
  return -1;
}

const char *cflight_call_info_method(const cflight_call_info *info) {
  return info != NULL ? cf_method_name(info->method) : "";
}

/* ---- Errors ---------------------------------------------------------------------------------- */

int cf_error_copy(cflight_error *dst, const cflight_error *src) {
  if (dst == NULL || dst == src) return src->code;
  cflight_error_reset(dst);
  dst->code = src->code;
  snprintf(dst->message, sizeof(dst->message), "%s", src->message);
  if (src->extra_info != NULL)
    cflight_error_set_extra_info(dst, cflight_buffer_data(src->extra_info),
                                 cflight_buffer_size(src->extra_info));
  dst->size_limit = src->size_limit;
  dst->actual_size = src->actual_size;
  return src->code;
}

/* ---- Headers --------------------------------------------------------------------------------- */

static bool key_is_bin(const char *key, size_t n) {
  return n >= 4 && strcmp(key + n - 4, "-bin") == 0;
}

int cf_headers_add_checked(cf_metadata *md, const char *key, const void *value, size_t size,
                           cflight_error *err) {
  if (key == NULL || key[0] == '\0')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "header: empty key");
  if (value == NULL && size > 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "header '%s': NULL value", key);
  size_t n = strlen(key);
  char small[128];
  char *lower = n < sizeof(small) ? small : malloc(n + 1);
  if (lower == NULL) return CF_NOMEM(err, "header");
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
    char ch = (char)tolower((unsigned char)key[i]);
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
          ch == '.')) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "header key '%s': only letters, digits and '-_.' are allowed", key);
    }
    lower[i] = ch;
  }
  lower[n] = '\0';
  if (rc == CFLIGHT_OK && !key_is_bin(lower, n)) {
    const uint8_t *v = value;
    for (size_t i = 0; i < size; i++) {
      if (v[i] < 0x20 || v[i] > 0x7e) {
        rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "header '%s': the value must be printable ASCII (use a key "
                               "ending in \"-bin\" for binary values)",
                               lower);
        break;
      }
    }
  }
  if (rc == CFLIGHT_OK) rc = cf_metadata_add(md, lower, value, size, err);
  if (lower != small) free(lower);
  return rc;
}

size_t cflight_headers_count(const cflight_headers *h) {
  return h != NULL ? h->md.count : 0;
}

const char *cflight_headers_key(const cflight_headers *h, size_t i) {
  return h != NULL && i < h->md.count ? h->md.items[i].key : NULL;
}

const uint8_t *cflight_headers_value(const cflight_headers *h, size_t i, size_t *size) {
  if (h == NULL || i >= h->md.count) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (size != NULL) *size = h->md.items[i].value_len;
  /* An empty value is "" rather than NULL, so that callers can tell it from absence. */
  return h->md.items[i].value != NULL ? h->md.items[i].value : (const uint8_t *)"";
}

const uint8_t *cflight_headers_get(const cflight_headers *h, const char *key, size_t *size) {
  if (size != NULL) *size = 0;
  if (h == NULL || key == NULL) return NULL;
  for (size_t i = 0; i < h->md.count; i++) {
    if (strcasecmp(h->md.items[i].key, key) == 0) return cflight_headers_value(h, i, size);
  }
  return NULL;
}

int cflight_headers_add(cflight_headers *h, const char *key, const void *value, size_t size,
                        cflight_error *err) {
  if (h == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "headers: NULL list");
  return cf_headers_add_checked(&h->md, key, value, size, err);
}

/* ---- Call options ---------------------------------------------------------------------------- */

cflight_call_options *cflight_call_options_new(void) {
  return calloc(1, sizeof(cflight_call_options));
}

void cflight_call_options_free(cflight_call_options *o) {
  if (o == NULL) return;
  cf_metadata_reset(&o->headers);
  cflight_ipc_options_free(o->ipc);
  free(o);
}

void cflight_call_options_set_timeout(cflight_call_options *o, double seconds) {
  if (o != NULL) o->timeout = seconds > 0 ? seconds : 0;
}

int cflight_call_options_add_header(cflight_call_options *o, const char *key, const char *value,
                                    cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "call options: NULL");
  if (value == NULL) value = "";
  size_t n = key != NULL ? strlen(key) : 0;
  if (key != NULL && key_is_bin(key, n)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "header '%s': use cflight_call_options_add_header_bin for \"-bin\" "
                             "keys",
                             key);
  }
  return cf_headers_add_checked(&o->headers, key, value, strlen(value), err);
}

int cflight_call_options_add_header_bin(cflight_call_options *o, const char *key, const void *value,
                                        size_t size, cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "call options: NULL");
  if (key == NULL || !key_is_bin(key, strlen(key))) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "header '%s': binary values need a key ending in \"-bin\"",
                             key != NULL ? key : "");
  }
  return cf_headers_add_checked(&o->headers, key, value, size, err);
}

int cflight_call_options_set_ipc_options(cflight_call_options *o, const cflight_ipc_options *ipc,
                                         cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "call options: NULL");
  cflight_ipc_options *copy = NULL;
  if (ipc != NULL) {
    copy = cflight_ipc_options_copy(ipc);
    if (copy == NULL) return CF_NOMEM(err, "IPC options");
  }
  cflight_ipc_options_free(o->ipc);
  o->ipc = copy;
  return CFLIGHT_OK;
}
