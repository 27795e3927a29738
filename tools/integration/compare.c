/* A JSON file against a stream of Arrow data: what VALIDATE checks, shared
 * by the IPC and (later) Flight integration programs. */
#include "integration.h"

static int stream_error(struct ArrowArrayStream *st, int errno_code, const char *what,
                        const char *label, cflight_error *err) {
  const char *msg = st->get_last_error != NULL ? st->get_last_error(st) : NULL;
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: cannot read %s: %s", label, what,
                           msg != NULL ? msg : strerror(errno_code));
}

int cf_integration_compare_stream(cf_json_file *json, struct ArrowArrayStream *stream,
                                  const char *label, FILE *log, cflight_error *err) {
  struct ArrowSchema schema;
  int e = stream->get_schema(stream, &schema);
  if (e != 0) return stream_error(stream, e, "the schema", label, err);
  const struct ArrowSchema *expected = cf_json_file_schema(json);
  cflight_error sub = {0};
  int rc = cf_schema_equal(expected, &schema, &sub);
  if (rc != CFLIGHT_OK) {
    if (log != NULL) {
      char *want = cf_schema_describe(expected);
      char *got = cf_schema_describe(&schema);
      fprintf(log, "JSON schema:\n%sArrow schema:\n%s", want ? want : "?\n", got ? got : "?\n");
      free(want);
      free(got);
    }
    cf_schema_release(&schema);
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: the schema differs from the JSON's: %s", label, sub.message);
  }
  if (log != NULL) {
    char *desc = cf_schema_describe(&schema);
    fprintf(log, "Found schema:\n%s", desc ? desc : "?\n");
    free(desc);
  }
  int64_t n_json = cf_json_file_num_batches(json), i = 0;
  for (;; i++) {
    struct ArrowArray batch;
    memset(&batch, 0, sizeof(batch));
    e = stream->get_next(stream, &batch);
    if (e != 0) {
      char what[48];
      snprintf(what, sizeof(what), "batch %lld", (long long)i);
      rc = stream_error(stream, e, what, label, err);
      break;
    }
    if (batch.release == NULL) break;
    if (i >= n_json) {
      cf_array_release(&batch);
      rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s has more batches than the JSON's %lld",
                             label, (long long)n_json);
      break;
    }
    rc = cflight_array_validate(&schema, &batch, true, &sub);
    if (rc != CFLIGHT_OK) {
      cf_array_release(&batch);
      rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: batch %lld is not valid: %s", label,
                             (long long)i, sub.message);
      break;
    }
    struct ArrowArray want;
    rc = cf_json_file_batch(json, i, &want, err);
    if (rc != CFLIGHT_OK) {
      cf_array_release(&batch);
      break;
    }
    rc = cflight_array_equal(expected, &want, &batch, &sub);
    cf_array_release(&want);
    cf_array_release(&batch);
    if (rc != CFLIGHT_OK) {
      rc =
          cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: batch %lld differs from the JSON's: %s",
                            label, (long long)i, sub.message);
      break;
    }
    if (log != NULL) fprintf(log, "batch %lld: equal\n", (long long)i);
  }
  if (rc == CFLIGHT_OK && i != n_json) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s has %lld batches, the JSON %lld", label,
                           (long long)i, (long long)n_json);
  }
  cf_schema_release(&schema);
  return rc;
}
