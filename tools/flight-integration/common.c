/* Helpers shared by the scenarios: connecting, messages, and the small
 * one-column batches most scenarios exchange. */
#include <stdarg.h>
#include <stdio.h>

#include "fi.h"

/* ---- Messages -------------------------------------------------------------------------------- */

int fi_wrap(cflight_error *err, int code, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  char detail[CFLIGHT_ERROR_MESSAGE_SIZE];
  snprintf(detail, sizeof(detail), "%s", err != NULL ? err->message : "");
  if (code == CFLIGHT_OK) code = CFLIGHT_UNKNOWN;
  return cflight_error_set(err, code, "%s: %s (%s)", what, detail, cflight_code_name(code));
}

int fi_fail(cflight_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cflight_error_setv(err, CFLIGHT_INVALID_DATA, fmt, ap);
  va_end(ap);
  return rc;
}

bool fi_bytes_eq(const uint8_t *bytes, size_t size, const char *s) {
  size_t n = strlen(s);
  return size == n && (n == 0 || memcmp(bytes, s, n) == 0);
}

void fi_bytes_text(const uint8_t *bytes, size_t size, char *buf, size_t cap) {
  size_t o = 0;
  if (cap == 0) return;
  for (size_t i = 0; i < size && i < 64 && o + 5 < cap; i++) {
    uint8_t c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      buf[o++] = (char)c;
    } else {
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
  }
  if (size > 64 && o + 4 < cap) o += (size_t)snprintf(buf + o, cap - o, "...");
  buf[o < cap ? o : cap - 1] = '\0';
}

/* ---- Client ---------------------------------------------------------------------------------- */

int fi_connect(const fi_client_args *args, const cflight_client_options *opts, cflight_client **out,
               cflight_error *err) {
  *out = NULL;
  cflight_location *loc = NULL;
  CF_RETURN_NOT_OK(cflight_location_new_tcp(args->host, args->port, &loc, err));
  cflight_client *c = NULL;
  int rc = cflight_client_connect(cflight_location_uri(loc), opts, &c, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_wait_for_available(c, 10.0, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "the server at %s did not answer", cflight_location_uri(loc));
      cflight_client_close(c);
      c = NULL;
    }
  }
  cflight_location_free(loc);
  *out = c;
  return rc;
}

int fi_command(const char *cmd, cflight_descriptor **out, cflight_error *err) {
  return cflight_descriptor_new_command(cmd, strlen(cmd), out, err);
}

bool fi_is_command(const cflight_descriptor *d, const char *cmd) {
  if (d == NULL || cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_CMD) return false;
  size_t size = 0;
  const uint8_t *bytes = cflight_descriptor_command(d, &size);
  return fi_bytes_eq(bytes, size, cmd);
}

static int check_int_schema(const struct ArrowSchema *s, const char *what, const char *name,
                            const char *format, cflight_error *err) {
  if (strcmp(s->format, "+s") != 0 || s->n_children != 1)
    return fi_fail(err, "%s: expected a schema of one field, got format '%s' with %lld fields",
                   what, s->format, (long long)s->n_children);
  const struct ArrowSchema *f = s->children[0];
  const char *fname = f->name != NULL ? f->name : "";
  if (strcmp(fname, name) != 0)
    return fi_fail(err, "%s: expected the field '%s', got '%s'", what, name, fname);
  if (strcmp(f->format, format) != 0 || f->dictionary != NULL)
    return fi_fail(err, "%s: field '%s' should have format '%s', has '%s'%s", what, name, format,
                   f->format, f->dictionary != NULL ? " (dictionary-encoded)" : "");
  if (f->flags & ARROW_FLAG_NULLABLE)
    return fi_fail(err, "%s: field '%s' should not be nullable", what, name);
  return CFLIGHT_OK;
}

int fi_read_int_column(cflight_stream_reader *r, const char *what, const char *name,
                       const char *format, int64_t **values, size_t *n, cflight_error *err) {
  struct ArrowSchema schema;
  int rc = cflight_stream_reader_schema(r, &schema, err);
  if (rc != CFLIGHT_OK) return fi_wrap(err, rc, "%s: reading the schema", what);
  rc = check_int_schema(&schema, what, name, format, err);
  bool is_signed = format[0] == 'i';
  for (int64_t b = 0; rc == CFLIGHT_OK; b++) {
    cflight_chunk chunk;
    bool end = false;
    rc = cflight_stream_reader_next(r, &chunk, &end, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "%s: reading batch %lld", what, (long long)b);
      break;
    }
    if (end) break;
    if (chunk.data.release == NULL) {
      cflight_chunk_release(&chunk);
      continue; /* metadata alone: nothing to check here */
    }
    rc = cflight_array_validate(&schema, &chunk.data, true, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "%s: batch %lld is not valid", what, (long long)b);
    } else {
      const struct ArrowArray *col = chunk.data.children[0];
      int64_t len = col->length;
      int64_t *grown = len > 0 ? realloc(*values, (*n + (size_t)len) * sizeof(int64_t)) : *values;
      if (grown == NULL) {
        rc = CF_NOMEM(err, "values");
      } else {
        *values = grown;
        for (int64_t i = 0; i < len && rc == CFLIGHT_OK; i++) {
          const uint8_t *valid = col->buffers[0];
          int64_t at = col->offset + i;
          if (col->null_count != 0 && valid != NULL && !(valid[at / 8] & (1u << (at % 8)))) {
            rc = fi_fail(err, "%s: batch %lld has a null at row %lld", what, (long long)b,
                         (long long)i);
            break;
          }
          (*values)[(*n)++] = is_signed ? (int64_t)((const int32_t *)col->buffers[1])[at]
                                        : (int64_t)((const uint32_t *)col->buffers[1])[at];
        }
      }
    }
    cflight_chunk_release(&chunk);
  }
  cf_schema_release(&schema);
  return rc;
}

int fi_check_ints(const char *what, const int64_t *values, size_t n, const int64_t *want,
                  size_t n_want, cflight_error *err) {
  char got_s[256] = "", want_s[256] = "";
  size_t o = 0;
  for (size_t i = 0; i < n && o < sizeof(got_s); i++)
    o += (size_t)snprintf(got_s + o, sizeof(got_s) - o, "%s%lld", i ? ", " : "",
                          (long long)values[i]);
  o = 0;
  for (size_t i = 0; i < n_want && o < sizeof(want_s); i++)
    o += (size_t)snprintf(want_s + o, sizeof(want_s) - o, "%s%lld", i ? ", " : "",
                          (long long)want[i]);
  if (n != n_want) {
    return fi_fail(err, "%s: expected %zu values [%s], got %zu [%s]", what, n_want, want_s, n,
                   got_s);
  }
  for (size_t i = 0; i < n; i++) {
    if (values[i] != want[i])
      return fi_fail(err, "%s: value %zu is %lld, expected %lld (expected [%s], got [%s])", what, i,
                     (long long)values[i], (long long)want[i], want_s, got_s);
  }
  return CFLIGHT_OK;
}

/* ---- Server ---------------------------------------------------------------------------------- */

int fi_int_schema(const char *name, const char *format, struct ArrowSchema *out,
                  cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_init(out, "+s", "", 1, err));
  out->flags = 0;
  int rc = cf_schema_init(out->children[0], format, name, 0, err);
  if (rc != CFLIGHT_OK) {
    cf_schema_release(out);
    return rc;
  }
  out->children[0]->flags = 0; /* not nullable, as the references declare it */
  return CFLIGHT_OK;
}

int fi_int_batch(const char *format, const int64_t *values, int64_t n, struct ArrowArray *out,
                 cflight_error *err) {
  CF_RETURN_NOT_OK(cf_array_init(out, 1, 1, err));
  out->length = n;
  struct ArrowArray *col = out->children[0];
  int rc = cf_array_init(col, 2, 0, err);
  void *data = NULL;
  if (rc == CFLIGHT_OK) {
    data = cf_array_alloc_buffer(col, 1, (size_t)(n > 0 ? n : 1) * 4, err);
    if (data == NULL) rc = CFLIGHT_NO_MEMORY;
  }
  if (rc != CFLIGHT_OK) {
    cf_array_release(out);
    return rc;
  }
  col->length = n;
  for (int64_t i = 0; i < n; i++) {
    if (format[0] == 'i') {
      ((int32_t *)data)[i] = (int32_t)values[i];
    } else {
      ((uint32_t *)data)[i] = (uint32_t)values[i];
    }
  }
  return CFLIGHT_OK;
}

typedef struct one_batch {
  struct ArrowArray batch;
} one_batch;

static int one_batch_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  one_batch *ob = ctx;
  memset(out, 0, sizeof(*out));
  if (ob->batch.release != NULL) cf_array_move(&ob->batch, &out->data);
  return CFLIGHT_OK;
}

static void one_batch_free(void *ctx) {
  one_batch *ob = ctx;
  cf_array_release(&ob->batch);
  free(ob);
}

int fi_int_stream(const char *name, const char *format, const int64_t *values, int64_t n,
                  cflight_data_stream **out, cflight_error *err) {
  *out = NULL;
  struct ArrowSchema schema;
  CF_RETURN_NOT_OK(fi_int_schema(name, format, &schema, err));
  one_batch *ob = calloc(1, sizeof(*ob));
  int rc = ob != NULL ? fi_int_batch(format, values, n, &ob->batch, err) : CF_NOMEM(err, "batch");
  if (rc == CFLIGHT_OK) {
    *out = cflight_data_stream_new_generator(&schema, one_batch_next, one_batch_free, ob);
    if (*out == NULL) rc = CF_NOMEM(err, "data stream");
  }
  if (rc != CFLIGHT_OK && ob != NULL) one_batch_free(ob);
  cf_schema_release(&schema);
  return rc;
}

int fi_flight_info(const struct ArrowSchema *schema, const cflight_descriptor *descriptor,
                   cflight_endpoint *const *endpoints, size_t n_endpoints,
                   cflight_flight_info **out, cflight_error *err) {
  *out = NULL;
  cflight_flight_info *info = NULL;
  CF_RETURN_NOT_OK(cflight_flight_info_new(&info, err));
  struct ArrowSchema empty = {0};
  int rc = CFLIGHT_OK;
  if (schema == NULL) {
    rc = cf_schema_init(&empty, "+s", "", 0, err);
    schema = &empty;
  }
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_schema(info, schema, err);
  if (rc == CFLIGHT_OK && descriptor != NULL)
    rc = cflight_flight_info_set_descriptor(info, descriptor, err);
  for (size_t i = 0; i < n_endpoints && rc == CFLIGHT_OK; i++)
    rc = cflight_flight_info_add_endpoint(info, endpoints[i], err);
  cflight_flight_info_set_total_records(info, -1);
  cflight_flight_info_set_total_bytes(info, -1);
  if (empty.release != NULL) cf_schema_release(&empty);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    return rc;
  }
  *out = info;
  return CFLIGHT_OK;
}

int fi_endpoint(const char *ticket, const char *location, cflight_endpoint **out,
                cflight_error *err) {
  *out = NULL;
  cflight_ticket *t = NULL;
  cflight_location *loc = NULL;
  int rc = ticket != NULL ? cflight_ticket_new(ticket, strlen(ticket), &t, err) : CFLIGHT_OK;
  if (rc == CFLIGHT_OK && location != NULL) rc = cflight_location_parse(location, &loc, err);
  if (rc == CFLIGHT_OK) {
    const cflight_location *locs[1] = {loc};
    rc = cflight_endpoint_new(t, locs, loc != NULL ? 1 : 0, out, err);
  }
  cflight_location_free(loc);
  cflight_ticket_free(t);
  return rc;
}
