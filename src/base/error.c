/* Result codes and the error struct. */
#include <stdio.h>

#include "base/base.h"

const char *cflight_code_name(int code) {
  switch (code) {
    case CFLIGHT_OK:
      return "OK";
    case CFLIGHT_CANCELLED:
      return "CANCELLED";
    case CFLIGHT_UNKNOWN:
      return "UNKNOWN";
    case CFLIGHT_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case CFLIGHT_DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case CFLIGHT_NOT_FOUND:
      return "NOT_FOUND";
    case CFLIGHT_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case CFLIGHT_PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case CFLIGHT_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case CFLIGHT_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case CFLIGHT_ABORTED:
      return "ABORTED";
    case CFLIGHT_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case CFLIGHT_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case CFLIGHT_INTERNAL:
      return "INTERNAL";
    case CFLIGHT_UNAVAILABLE:
      return "UNAVAILABLE";
    case CFLIGHT_DATA_LOSS:
      return "DATA_LOSS";
    case CFLIGHT_UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case CFLIGHT_INVALID_DATA:
      return "INVALID_DATA";
    case CFLIGHT_NO_MEMORY:
      return "NO_MEMORY";
    case CFLIGHT_IO_ERROR:
      return "IO_ERROR";
    case CFLIGHT_WRITE_SIZE_EXCEEDED:
      return "WRITE_SIZE_EXCEEDED";
    default:
      return "UNKNOWN_CODE";
  }
}

int cflight_code_to_grpc(int code) {
  if (code >= 0 && code <= 16) return code;
  switch (code) {
    case CFLIGHT_INVALID_DATA:
      return CFLIGHT_INVALID_ARGUMENT;
    case CFLIGHT_NO_MEMORY:
      return CFLIGHT_RESOURCE_EXHAUSTED;
    case CFLIGHT_WRITE_SIZE_EXCEEDED:
      return CFLIGHT_RESOURCE_EXHAUSTED;
    default:
      return CFLIGHT_UNKNOWN;
  }
}

/* A message cut at the buffer's size may end inside a UTF-8 sequence; drop
 * that partial character so the message stays valid UTF-8 (grpc-message
 * must be). */
static void trim_partial_utf8(char *s, size_t len) {
  size_t i = len;
  size_t back = 0;
  while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
    i--;
    back++;
  }
  if (i == 0) return;
  unsigned char lead = (unsigned char)s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (need > back + 1) s[i - 1] = '\0';
}

int cflight_error_setv(cflight_error *err, int code, const char *fmt, va_list ap) {
  if (err != NULL) {
    err->code = code;
    if (fmt != NULL) {
      int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
      if (n >= (int)sizeof(err->message)) trim_partial_utf8(err->message, sizeof(err->message) - 1);
    } else {
      err->message[0] = '\0';
    }
  }
  return code;
}

int cflight_error_set(cflight_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cflight_error_setv(err, code, fmt, ap);
  va_end(ap);
  return code;
}

int cflight_error_set_extra_info(cflight_error *err, const void *data, size_t size) {
  if (err == NULL) return CFLIGHT_OK;
  cflight_buffer *copy = cflight_buffer_copy(data, size);
  if (copy == NULL) return CF_NOMEM(err, "error details");
  cflight_buffer_unref(err->extra_info);
  err->extra_info = copy;
  return CFLIGHT_OK;
}

void cflight_error_reset(cflight_error *err) {
  if (err == NULL) return;
  cflight_buffer_unref(err->extra_info);
  memset(err, 0, sizeof(*err));
}

void cflight_error_move(cflight_error *dst, cflight_error *src) {
  if (dst == NULL) {
    cflight_error_reset(src);
    return;
  }
  if (dst == src) return;
  cflight_error_reset(dst);
  if (src == NULL) return;
  *dst = *src;
  memset(src, 0, sizeof(*src));
}
