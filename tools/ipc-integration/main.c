/* cflight-ipc-integration: the program Arrow's cross-implementation harness
 * (archery) drives for IPC, with the command line of Arrow C++'s
 * arrow-json-integration-test:
 *
 *   cflight-ipc-integration --integration --arrow=FILE --json=FILE --mode=MODE
 *
 * VALIDATE       the Arrow data (file or stream format) must hold exactly the
 *                JSON's schema and batches: exit 0, or print what differs and exit 1
 * JSON_TO_ARROW  convert the JSON (.json or .json.gz) to an Arrow IPC file
 * ARROW_TO_JSON  convert Arrow IPC data (file or stream format) to JSON
 *
 * Exit status: 0 success, 1 failure (a difference, a bad input, I/O), 2 usage. */
#include <unistd.h>

#include "common.h"
#include "integration.h"

#define PROG "cflight-ipc-integration"

static bool verbose = false;

static int fail(const char *mode, const cflight_error *err) {
  fprintf(stderr, PROG ": %s failed: %s\n", mode, err->message);
  return 1;
}

/* The JSON's dictionary ids, so that fields sharing a dictionary there
 * share it in the IPC output too (as Arrow C++ writes them). */
static int set_dictionary_ids(const cf_json_file *json, cflight_ipc_options *opts,
                              cflight_error *err) {
  int64_t n = cf_json_file_dictionary_ids(json, NULL, 0);
  if (n == 0) return CFLIGHT_OK;
  int64_t *ids = malloc((size_t)n * sizeof(int64_t));
  if (ids == NULL) return CF_NOMEM(err, "dictionary ids");
  cf_json_file_dictionary_ids(json, ids, n);
  int rc = cflight_ipc_options_set_dictionary_ids(opts, ids, n, err);
  free(ids);
  return rc;
}

static int json_to_arrow(const char *json_path, const char *arrow_path, cflight_ipc_format format,
                         cflight_ipc_options *opts) {
  cflight_error err = {0};
  cf_json_file *json;
  if (cf_json_file_read(json_path, &json, &err) != CFLIGHT_OK) return fail("JSON_TO_ARROW", &err);
  const struct ArrowSchema *schema = cf_json_file_schema(json);
  if (verbose) {
    char *desc = cf_schema_describe(schema);
    printf("Found schema:\n%s", desc ? desc : "?\n");
    free(desc);
  }
  int rc = set_dictionary_ids(json, opts, &err);
  cflight_ipc_writer *w = NULL;
  if (rc == CFLIGHT_OK)
    rc = cflight_ipc_writer_open_path(arrow_path, format, schema, opts, &w, &err);
  for (int64_t i = 0; rc == CFLIGHT_OK && i < cf_json_file_num_batches(json); i++) {
    struct ArrowArray batch;
    rc = cf_json_file_batch(json, i, &batch, &err);
    if (rc != CFLIGHT_OK) break;
    rc = cflight_ipc_writer_write(w, &batch, &err);
    cf_array_release(&batch);
    if (rc != CFLIGHT_OK) {
      char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
      snprintf(msg, sizeof(msg), "%s", err.message);
      cflight_error_set(&err, rc, "writing batch %lld to %s: %s", (long long)i, arrow_path, msg);
    }
  }
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, &err);
  cflight_ipc_writer_free(w);
  cf_json_file_free(json);
  if (rc != CFLIGHT_OK) {
    unlink(arrow_path); /* no half-written file left behind */
    return fail("JSON_TO_ARROW", &err);
  }
  if (verbose) printf("wrote %s\n", arrow_path);
  return 0;
}

static int open_arrow(const char *arrow_path, cflight_ipc_options *opts,
                      struct ArrowArrayStream *out, cflight_error *err) {
  cflight_ipc_format format;
  /* Arrays from the file are followed value by value (JSON writing, equality):
   * check every offset, view and index first. */
  cflight_ipc_options_set_validate_full(opts, true);
  int rc = cflight_ipc_open_path(arrow_path, opts, out, &format, err);
  if (rc != CFLIGHT_OK) {
    char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
    snprintf(msg, sizeof(msg), "%s", err->message);
    cflight_error_set(
        err, rc, "cannot read the Arrow file %s: %s%s", arrow_path, msg,
        rc == CFLIGHT_INVALID_DATA ? " (expected Arrow IPC data, file or stream format)" : "");
  } else if (verbose) {
    printf("%s: Arrow IPC %s format\n", arrow_path,
           format == CFLIGHT_IPC_FORMAT_FILE ? "file" : "stream");
  }
  return rc;
}

static int arrow_to_json(const char *json_path, const char *arrow_path, cflight_ipc_options *opts) {
  cflight_error err = {0};
  struct ArrowArrayStream st;
  if (open_arrow(arrow_path, opts, &st, &err) != CFLIGHT_OK) return fail("ARROW_TO_JSON", &err);
  struct ArrowSchema schema;
  cf_json_writer *w = NULL;
  char label[4200];
  snprintf(label, sizeof(label), "the Arrow file %s", arrow_path);
  int e = st.get_schema(&st, &schema);
  int rc = e != 0 ? stream_failure(&st, e, label, &err) : CFLIGHT_OK;
  if (rc == CFLIGHT_OK) {
    if (verbose) {
      char *desc = cf_schema_describe(&schema);
      printf("Found schema:\n%s", desc ? desc : "?\n");
      free(desc);
    }
    rc = cf_json_writer_new(&schema, &w, &err);
    cf_schema_release(&schema);
  }
  for (int64_t i = 0; rc == CFLIGHT_OK; i++) {
    struct ArrowArray batch;
    memset(&batch, 0, sizeof(batch));
    e = st.get_next(&st, &batch);
    if (e != 0) {
      rc = stream_failure(&st, e, label, &err);
      break;
    }
    if (batch.release == NULL) break;
    rc = cf_json_writer_write(w, &batch, &err);
    cf_array_release(&batch);
  }
  if (rc == CFLIGHT_OK) rc = cf_json_writer_finish_path(w, json_path, &err);
  cf_json_writer_free(w);
  st.release(&st);
  if (rc != CFLIGHT_OK) {
    unlink(json_path);
    return fail("ARROW_TO_JSON", &err);
  }
  if (verbose) printf("wrote %s\n", json_path);
  return 0;
}

static int validate(const char *json_path, const char *arrow_path, cflight_ipc_options *opts) {
  cflight_error err = {0};
  cf_json_file *json;
  if (cf_json_file_read(json_path, &json, &err) != CFLIGHT_OK) return fail("VALIDATE", &err);
  struct ArrowArrayStream st;
  if (open_arrow(arrow_path, opts, &st, &err) != CFLIGHT_OK) {
    cf_json_file_free(json);
    return fail("VALIDATE", &err);
  }
  int rc =
      cf_integration_compare_stream(json, &st, "the Arrow data", verbose ? stdout : NULL, &err);
  st.release(&st);
  cf_json_file_free(json);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, PROG ": VALIDATE: %s does not match %s:\n  %s\n", arrow_path, json_path,
            err.message);
    return 1;
  }
  if (verbose) printf("%s matches %s\n", arrow_path, json_path);
  return 0;
}

int main(int argc, char **argv) {
  bool integration = false, help = false, ignored = true;
  const char *arrow = NULL, *json = NULL, *mode = "VALIDATE", *arrow_format = "file";
  const char *compression = "none";
  const flag_def defs[] = {
      {"arrow", FLAG_STRING, "FILE: the Arrow IPC file (file or stream format)", NULL, &arrow},
      {"json", FLAG_STRING, "FILE: the integration JSON (.json, or .json.gz)", NULL, &json},
      {"mode", FLAG_STRING, "VALIDATE (default), JSON_TO_ARROW or ARROW_TO_JSON", NULL, &mode},
      {"integration", FLAG_BOOL, "run in integration-test mode (always on; accepted for archery)",
       &integration, NULL},
      {"verbose", FLAG_BOOL, "print the schema and progress", &verbose, NULL},
      {"arrow-format", FLAG_STRING, "file (default) or stream: what JSON_TO_ARROW writes", NULL,
       &arrow_format},
      {"compression", FLAG_STRING, "none (default), lz4 or zstd: bodies JSON_TO_ARROW writes", NULL,
       &compression},
      /* Arrow C++'s switches for lenient validation of old gold files; our
       * validation does not reject what they relax, so they change nothing. */
      {"validate_decimals", FLAG_BOOL, NULL, &ignored, NULL},
      {"validate_date64", FLAG_BOOL, NULL, &ignored, NULL},
      {"validate_times", FLAG_BOOL, NULL, &ignored, NULL},
  };
  const char *positional[1];
  int n_positional;
  int rc =
      flags_parse(PROG, argc, argv, defs, CF_ARRAY_SIZE(defs), positional, 0, &n_positional, &help);
  if (rc != 0 || help) {
    FILE *out = help ? stdout : stderr;
    fprintf(out, "usage: " PROG
                 " --integration --arrow FILE --json FILE --mode MODE [-verbose]\n"
                 "Converts between Arrow IPC data and Arrow's integration-test JSON, or checks\n"
                 "that they hold the same data (flags also as -flag=value).\n\n");
    flags_usage(out, defs, CF_ARRAY_SIZE(defs));
    return help && rc == 0 ? 0 : 2;
  }
  bool to_arrow = strcmp(mode, "JSON_TO_ARROW") == 0;
  bool to_json = strcmp(mode, "ARROW_TO_JSON") == 0;
  if (!to_arrow && !to_json && strcmp(mode, "VALIDATE") != 0) {
    fprintf(stderr, PROG ": unknown --mode '%s': use VALIDATE, JSON_TO_ARROW or ARROW_TO_JSON\n",
            mode);
    return 2;
  }
  if (json == NULL || json[0] == '\0') {
    fprintf(stderr, PROG ": --json FILE is required for %s (the integration JSON file)\n", mode);
    return 2;
  }
  if (arrow == NULL || arrow[0] == '\0') {
    fprintf(stderr, PROG ": --arrow FILE is required for %s (the Arrow IPC file)\n", mode);
    return 2;
  }
  cflight_ipc_format format;
  if (strcmp(arrow_format, "file") == 0) {
    format = CFLIGHT_IPC_FORMAT_FILE;
  } else if (strcmp(arrow_format, "stream") == 0) {
    format = CFLIGHT_IPC_FORMAT_STREAM;
  } else {
    fprintf(stderr, PROG ": --arrow-format must be file or stream, not '%s'\n", arrow_format);
    return 2;
  }
  cflight_compression codec;
  if (!parse_compression(compression, &codec)) {
    fprintf(stderr, PROG ": --compression must be none, lz4 or zstd, not '%s'\n", compression);
    return 2;
  }
  cflight_ipc_options *opts = cflight_ipc_options_new();
  if (opts == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    return 1;
  }
  cflight_error err = {0};
  if (cflight_ipc_options_set_compression(opts, codec, 0, &err) != CFLIGHT_OK) {
    cflight_ipc_options_free(opts);
    return fail(mode, &err);
  }
  if (to_arrow) {
    rc = json_to_arrow(json, arrow, format, opts);
  } else if (to_json) {
    rc = arrow_to_json(json, arrow, opts);
  } else {
    rc = validate(json, arrow, opts);
  }
  cflight_ipc_options_free(opts);
  return rc;
}
