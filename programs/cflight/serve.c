/* cflight serve: a Flight server over a data directory (see store.h for the
 * directory). Datasets are named by path descriptors; their tickets are
 * their names. DoGet streams a dataset's batches straight from its memory
 * mapping; DoPut writes a new version atomically; DoExchange echoes what it
 * receives; actions list, drop, rename and count datasets.
 *
 * SIGINT/SIGTERM stop the server: calls in flight get --grace seconds to
 * finish and are then cancelled (an upload cut short leaves the old
 * version); a second signal stops at once, removing unfinished uploads. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "render.h"
#include "store.h"

#define MAX_LISTEN 16
#define MAX_TLS 16
#define DEFAULT_PORT 8815

typedef struct serve_args {
  const char *listen[MAX_LISTEN];
  int n_listen;
  const char *advertise[MAX_LISTEN];
  int n_advertise;
  const char *data;
  bool read_only, quiet;
  const char *tls_cert[MAX_TLS], *tls_key[MAX_TLS];
  int n_cert, n_key;
  const char *tls_client_ca;
  const char *auth_basic, *auth_token;
  double grace;
  int max_threads;
  const char *options[MAX_LISTEN];
  int n_options;
} serve_args;

enum {
  S_LISTEN = 1,
  S_DATA,
  S_READ_ONLY,
  S_TLS_CERT,
  S_TLS_KEY,
  S_TLS_CLIENT_CA,
  S_AUTH_BASIC,
  S_AUTH_TOKEN,
  S_ADVERTISE,
  S_GRACE,
  S_THREADS,
  S_QUIET,
  S_OPTION,
};

static const arg_spec serve_specs[] = {
    {"listen", 'l', "URI", S_LISTEN,
     "where to listen (repeatable; default grpc://127.0.0.1:8815,\nor grpc+tls://... with "
     "--tls-cert); port 0 picks a free port"},
    {"data", 'd', "DIR", S_DATA, "the data directory (default ./cflight-data; created if needed)"},
    {"read-only", 0, NULL, S_READ_ONLY, "serve without uploads, drops or renames"},
    {"advertise", 0, "URI", S_ADVERTISE,
     "the location put in FlightInfo endpoints (repeatable;\ndefault: the listen locations)"},
    {"grace", 0, "SECONDS", S_GRACE, "on SIGINT/SIGTERM, let calls finish this long (default 10)"},
    {"max-threads", 0, "N", S_THREADS, "most calls handled at once (default 256)"},
    {"quiet", 'q', NULL, S_QUIET, "no access log (one line per call on stderr)"},
    {"option", 0, "NAME=VALUE", S_OPTION,
     "a transport option (repeatable): stream_window,\nmax_concurrent_streams, "
     "grpc.keepalive_time_ms, ..."},
    {NULL, 0, NULL, 0, NULL},
};

static const arg_spec serve_security_specs[] = {
    {"tls-cert", 0, "FILE", S_TLS_CERT,
     "TLS certificate chain (PEM); repeatable, paired in order\nwith --tls-key (chosen by SNI)"},
    {"tls-key", 0, "FILE", S_TLS_KEY, "the certificate's private key (PEM)"},
    {"tls-client-ca", 0, "FILE", S_TLS_CLIENT_CA,
     "require client certificates signed by these CAs (mutual TLS)"},
    {"auth-basic", 0, "FILE", S_AUTH_BASIC,
     "require a login: 'user:password' lines (BasicAuth handshake\nor basic/bearer headers)"},
    {"auth-token", 0, "FILE", S_AUTH_TOKEN, "accept these bearer tokens (one per line)"},
    {NULL, 0, NULL, 0, NULL},
};

static int on_serve_arg(void *ctx, const arg_spec *spec, const char *value, char *msg, size_t cap) {
  serve_args *a = ctx;
  if (spec == NULL) {
    snprintf(msg, cap, "unexpected argument '%s' (the data directory is --data DIR)", value);
    return 1;
  }
  int64_t n;
  switch (spec->id) {
    case S_LISTEN:
      if (a->n_listen == MAX_LISTEN) {
        snprintf(msg, cap, "at most %d --listen", MAX_LISTEN);
        return 1;
      }
      a->listen[a->n_listen++] = value;
      break;
    case S_ADVERTISE:
      if (a->n_advertise == MAX_LISTEN) {
        snprintf(msg, cap, "at most %d --advertise", MAX_LISTEN);
        return 1;
      }
      a->advertise[a->n_advertise++] = value;
      break;
    case S_DATA:
      a->data = value;
      break;
    case S_READ_ONLY:
      a->read_only = true;
      break;
    case S_QUIET:
      a->quiet = true;
      break;
    case S_OPTION:
      if (strchr(value, '=') == NULL || a->n_options == MAX_LISTEN) {
        snprintf(msg, cap, "--option wants NAME=VALUE, not '%s'", value);
        return 1;
      }
      a->options[a->n_options++] = value;
      break;
    case S_TLS_CERT:
      if (a->n_cert == MAX_TLS) return 1;
      a->tls_cert[a->n_cert++] = value;
      break;
    case S_TLS_KEY:
      if (a->n_key == MAX_TLS) return 1;
      a->tls_key[a->n_key++] = value;
      break;
    case S_TLS_CLIENT_CA:
      a->tls_client_ca = value;
      break;
    case S_AUTH_BASIC:
      a->auth_basic = value;
      break;
    case S_AUTH_TOKEN:
      a->auth_token = value;
      break;
    case S_GRACE:
      if (!parse_double(value, &a->grace) || a->grace < 0) {
        snprintf(msg, cap, "--grace wants a number of seconds, not '%s'", value);
        return 1;
      }
      break;
    case S_THREADS:
      if (!parse_i64(value, &n) || n < 1 || n > 100000) {
        snprintf(msg, cap, "--max-threads wants a positive number, not '%s'", value);
        return 1;
      }
      a->max_threads = (int)n;
      break;
  }
  return 0;
}

/* ---- The server's state ---------------------------------------------------------------- */

typedef struct server_ctx {
  store *st;
  auth *auth;
  cflight_location **locations; /* advertised in endpoints */
  size_t n_locations;
  bool read_only;
} server_ctx;

static int name_from_descriptor(const cflight_descriptor *d, char *name, cflight_error *err) {
  if (d == NULL || cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_PATH) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "cflight serve names datasets by path descriptors (e.g. [\"sales\", "
                             "\"2024\"]); command descriptors are not supported");
  }
  size_t n = cflight_descriptor_path_count(d);
  const char *parts[64];
  if (n > 64) n = 64 + 1; /* refused below as too many parts */
  for (size_t i = 0; i < n && i < 64; i++)
    parts[i] = cflight_descriptor_path_part(d, i);
  return store_name_from_parts(parts, n, name, err);
}

/* A FlightInfo for a dataset: its schema and counts, one endpoint whose
 * ticket is the dataset's name and whose locations are this server's. */
static int make_info(server_ctx *sc, const ds_info *ds, cflight_flight_info **out,
                     cflight_error *err) {
  *out = NULL;
  cflight_flight_info *info = NULL;
  cflight_descriptor *d = NULL;
  cflight_ticket *t = NULL;
  cflight_endpoint *ep = NULL;
  const char *parts[64];
  char name[STORE_MAX_NAME];
  snprintf(name, sizeof(name), "%s", ds->name);
  size_t n = 0;
  char *save = NULL;
  for (char *p = strtok_r(name, "/", &save); p != NULL && n < 64; p = strtok_r(NULL, "/", &save)) {
    parts[n++] = p;
  }
  int rc = cflight_flight_info_new(&info, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_flight_info_set_schema_bytes(info, cflight_buffer_data(ds->schema),
                                              cflight_buffer_size(ds->schema), err);
  }
  if (rc == CFLIGHT_OK) rc = cflight_descriptor_new_path(parts, n, &d, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_descriptor(info, d, err);
  if (rc == CFLIGHT_OK) rc = cflight_ticket_new(ds->name, strlen(ds->name), &t, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_endpoint_new(t, (const cflight_location *const *)sc->locations, sc->n_locations,
                              &ep, err);
  }
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, ep, err);
  if (rc == CFLIGHT_OK) {
    cflight_flight_info_set_total_records(info, ds->rows);
    cflight_flight_info_set_total_bytes(info, ds->bytes);
    cflight_flight_info_set_ordered(info, true);
    *out = info;
    info = NULL;
  }
  cflight_endpoint_free(ep);
  cflight_ticket_free(t);
  cflight_descriptor_free(d);
  cflight_flight_info_free(info);
  return rc;
}

/* ---- Handlers ---------------------------------------------------------------------------- */

static int h_list_flights(void *user, cflight_call_context *ctx, const void *criteria,
                          size_t criteria_size, cflight_result_writer *out, cflight_error *err) {
  server_ctx *sc = user;
  char prefix[STORE_MAX_NAME] = "";
  if (criteria_size >= sizeof(prefix) || !utf8_valid(criteria, criteria_size) ||
      (criteria_size > 0 && memchr(criteria, '\0', criteria_size) != NULL)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the criteria must be a dataset path prefix (UTF-8 text)");
  }
  if (criteria_size > 0) memcpy(prefix, criteria, criteria_size);
  prefix[criteria_size] = '\0';
  char **names;
  size_t n;
  CF_RETURN_NOT_OK(store_list(sc->st, prefix, &names, &n, err));
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
    if (cflight_call_context_is_cancelled(ctx)) {
      rc = cflight_error_set(err, CFLIGHT_CANCELLED, "cancelled");
      break;
    }
    ds_info ds;
    cflight_error e = {0};
    if (store_stat(sc->st, names[i], &ds, &e) != CFLIGHT_OK) {
      if (e.code == CFLIGHT_INVALID_DATA)
        fprintf(stderr, "cflight serve: skipped: %s\n", e.message);
      continue; /* gone meanwhile, or not Arrow: not a flight */
    }
    cflight_flight_info *info = NULL;
    rc = make_info(sc, &ds, &info, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_info(out, info, err);
    cflight_flight_info_free(info);
    ds_info_reset(&ds);
  }
  store_names_free(names, n);
  return rc;
}

static int h_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                             cflight_flight_info **out, cflight_error *err) {
  CF_UNUSED(ctx);
  server_ctx *sc = user;
  char name[STORE_MAX_NAME];
  CF_RETURN_NOT_OK(name_from_descriptor(d, name, err));
  ds_info ds;
  CF_RETURN_NOT_OK(store_stat(sc->st, name, &ds, err));
  int rc = make_info(sc, &ds, out, err);
  ds_info_reset(&ds);
  return rc;
}

static int h_poll_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                              cflight_poll_info **out, cflight_error *err) {
  /* Datasets are ready at once: the poll is complete on the first answer. */
  cflight_flight_info *info = NULL;
  CF_RETURN_NOT_OK(h_get_flight_info(user, ctx, d, &info, err));
  cflight_poll_info *p = NULL;
  int rc = cflight_poll_info_new(&p, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_info(p, info, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_progress(p, 1.0, err);
  cflight_flight_info_free(info);
  if (rc != CFLIGHT_OK) {
    cflight_poll_info_free(p);
    return rc;
  }
  *out = p;
  return CFLIGHT_OK;
}

static int h_get_schema(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                        struct ArrowSchema *out, cflight_error *err) {
  CF_UNUSED(ctx);
  server_ctx *sc = user;
  char name[STORE_MAX_NAME];
  CF_RETURN_NOT_OK(name_from_descriptor(d, name, err));
  ds_info ds;
  CF_RETURN_NOT_OK(store_stat(sc->st, name, &ds, err));
  int rc = cflight_ipc_schema_deserialize(cflight_buffer_data(ds.schema),
                                          cflight_buffer_size(ds.schema), out, err);
  ds_info_reset(&ds);
  return rc;
}

static int h_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                    cflight_data_stream **out, cflight_error *err) {
  CF_UNUSED(ctx);
  server_ctx *sc = user;
  size_t n;
  const uint8_t *p = cflight_ticket_data(t, &n);
  char name[STORE_MAX_NAME];
  if (store_name_from_text((const char *)p, n, name, err) != CFLIGHT_OK) {
    return err_prefix(err,
                      "bad ticket (a dataset path such as sales/2024, as GetFlightInfo "
                      "returns)");
  }
  struct ArrowArrayStream stream;
  CF_RETURN_NOT_OK(store_open_stream(sc->st, name, &stream, err));
  *out = cflight_data_stream_new(&stream);
  if (*out == NULL) {
    if (stream.release != NULL) stream.release(&stream);
    return CF_NOMEM(err, "a data stream");
  }
  return CFLIGHT_OK;
}

static int h_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                    cflight_stream_reader *reader, cflight_metadata_writer *acks,
                    cflight_error *err) {
  server_ctx *sc = user;
  char name[STORE_MAX_NAME];
  CF_RETURN_NOT_OK(name_from_descriptor(d, name, err));
  if (sc->read_only) {
    return cflight_error_set(err, CFLIGHT_PERMISSION_DENIED,
                             "this server is read-only (started with --read-only): uploads are "
                             "disabled");
  }
  struct ArrowSchema schema = {0};
  int rc = cflight_stream_reader_schema(reader, &schema, err);
  if (rc == CFLIGHT_OK) rc = cf_schema_validate(&schema, err);
  if (rc == CFLIGHT_OK && strcmp(schema.format, "+s") != 0) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "the schema is not a struct of columns");
  }
  store_upload *up = NULL;
  if (rc == CFLIGHT_OK) rc = store_upload_begin(sc->st, name, &up, err);
  cflight_ipc_writer *w = NULL;
  if (rc == CFLIGHT_OK) {
    rc = cflight_ipc_writer_open_fd(store_upload_fd(up), CFLIGHT_IPC_FORMAT_FILE, &schema, NULL, &w,
                                    err);
  }
  int64_t batches = 0, rows = 0;
  while (rc == CFLIGHT_OK) {
    cflight_chunk chunk = {0};
    bool end = false;
    rc = cflight_stream_reader_next(reader, &chunk, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    if (chunk.data.release != NULL) {
      /* Untrusted bytes: every offset and index is checked before the
       * batch is written (and later read back). */
      rc = cflight_array_validate(&schema, &chunk.data, true, err);
      if (rc != CFLIGHT_OK) {
        err_prefix(err, "batch %lld does not match the schema", (long long)batches + 1);
        rc = err->code = CFLIGHT_INVALID_ARGUMENT;
      }
      if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_write(w, &chunk.data, err);
      if (rc == CFLIGHT_OK) {
        batches++;
        rows += chunk.data.length;
        char ack[96];
        int len = snprintf(ack, sizeof(ack), "{\"batch\":%lld,\"rows\":%lld}", (long long)batches,
                           (long long)rows);
        rc = cflight_metadata_writer_write(acks, ack, (size_t)len, err);
      }
    }
    cflight_chunk_release(&chunk);
    if (rc == CFLIGHT_OK && cflight_call_context_is_cancelled(ctx)) {
      rc = cflight_error_set(err, CFLIGHT_CANCELLED, "the client cancelled the upload");
    }
  }
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, err);
  cflight_ipc_writer_free(w);
  if (up != NULL) {
    if (rc == CFLIGHT_OK) {
      rc = store_upload_commit(up, err);
    } else {
      store_upload_abort(up); /* the previous version stays */
    }
  }
  if (rc != CFLIGHT_OK && up != NULL) {
    char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
    snprintf(msg, sizeof(msg), "%s", err->message);
    fprintf(stderr, "cflight serve: upload of '%s' abandoned after %lld batches: %s\n", name,
            (long long)batches, msg);
  }
  cf_schema_release(&schema);
  return rc;
}

static int h_do_exchange(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                         cflight_stream_reader *reader, cflight_stream_writer *writer,
                         cflight_error *err) {
  CF_UNUSED(user);
  CF_UNUSED(ctx);
  CF_UNUSED(d);
  /* An echo: every batch and every app_metadata goes back as it came. */
  struct ArrowSchema schema = {0};
  bool begun = false;
  int rc = CFLIGHT_OK;
  while (rc == CFLIGHT_OK) {
    cflight_chunk chunk = {0};
    bool end = false;
    rc = cflight_stream_reader_next(reader, &chunk, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    size_t md_size = chunk.app_metadata ? cflight_buffer_size(chunk.app_metadata) : 0;
    const void *md = chunk.app_metadata ? cflight_buffer_data(chunk.app_metadata) : NULL;
    if (chunk.data.release != NULL) {
      if (!begun) {
        rc = cflight_stream_reader_schema(reader, &schema, err);
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_begin(writer, &schema, err);
        begun = rc == CFLIGHT_OK;
      }
      if (rc == CFLIGHT_OK) rc = cflight_array_validate(&schema, &chunk.data, true, err);
      if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(writer, &chunk.data, md, md_size, err);
    } else if (md_size > 0) {
      rc = cflight_stream_writer_write_metadata(writer, md, md_size, err);
    }
    cflight_chunk_release(&chunk);
  }
  if (rc == CFLIGHT_OK && !begun) {
    /* A schema and no batches: send the schema back too. */
    cflight_error e = {0};
    if (cflight_stream_reader_schema(reader, &schema, &e) == CFLIGHT_OK) {
      rc = cflight_stream_writer_begin(writer, &schema, err);
    }
    cflight_error_reset(&e);
  }
  cf_schema_release(&schema);
  return rc;
}

/* ---- Actions ---------------------------------------------------------------------------- */

static const struct {
  const char *type, *description;
} action_types[] = {
    {"list",
     "List the datasets. Body: empty, a path prefix (sales/), or {\"prefix\": \"sales/\"}.\n"
     "Results: one JSON object per dataset: {\"path\": \"sales/2024\", \"rows\": 1000, \"bytes\": "
     "8000,\n\"file_bytes\": 9000, \"modified\": \"2024-01-31T10:00:00Z\"}."},
    {"stats",
     "Totals of the data directory. Body: empty. Result: {\"datasets\": 3, \"rows\": 1000,\n"
     "\"bytes\": 9000 (on disk), \"data_bytes\": 8000 (Arrow buffers), \"read_only\": false}."},
    {"drop",
     "Delete a dataset. Body: its path (sales/2024) or {\"path\": \"sales/2024\"}.\n"
     "Result: {\"dropped\": \"sales/2024\"}. NOT_FOUND when there is no such dataset;\n"
     "readers that opened it keep reading."},
    {"rename",
     "Rename a dataset. Body: {\"from\": \"a\", \"to\": \"b\", \"replace\": false} or \"FROM "
     "TO\".\n"
     "Result: {\"renamed\": \"a\", \"to\": \"b\"}. ALREADY_EXISTS when b exists, unless\n"
     "\"replace\": true."},
};

static int h_list_actions(void *user, cflight_call_context *ctx, cflight_result_writer *out,
                          cflight_error *err) {
  CF_UNUSED(user);
  CF_UNUSED(ctx);
  for (size_t i = 0; i < CF_ARRAY_SIZE(action_types); i++) {
    CF_RETURN_NOT_OK(cflight_result_writer_write_action_type(out, action_types[i].type,
                                                             action_types[i].description, err));
  }
  return CFLIGHT_OK;
}

static int write_json(cflight_result_writer *out, json_t *v, cflight_error *err) {
  if (v == NULL) return CF_NOMEM(err, "a result");
  char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(v);
  if (s == NULL) return CF_NOMEM(err, "a result");
  int rc = cflight_result_writer_write_result(out, s, strlen(s), err);
  free(s);
  return rc;
}

/* The body as JSON when it looks like an object; NULL (and *text) otherwise. */
static int parse_body(const cflight_action *action, json_t **obj, char *text, size_t cap,
                      cflight_error *err) {
  size_t n;
  const uint8_t *b = cflight_action_body(action, &n);
  *obj = NULL;
  text[0] = '\0';
  while (n > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t')) {
    b++;
    n--;
  }
  while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\n' || b[n - 1] == '\t' || b[n - 1] == '\r'))
    n--;
  if (n > 0 && b[0] == '{') {
    json_error_t jerr;
    *obj = json_loadb((const char *)b, n, 0, &jerr);
    if (*obj == NULL || !json_is_object(*obj)) {
      json_decref(*obj);
      *obj = NULL;
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "the body is not a JSON object: %s",
                               jerr.text);
    }
    return CFLIGHT_OK;
  }
  if (n >= cap || (n > 0 && (memchr(b, '\0', n) != NULL || !utf8_valid(b, n)))) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "the body is not text or JSON");
  }
  if (n > 0) memcpy(text, b, n);
  text[n] = '\0';
  return CFLIGHT_OK;
}

static const char *json_str(json_t *obj, const char *key) {
  json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void iso_time(int64_t ns, char *buf, size_t cap) {
  time_t t = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int action_list(server_ctx *sc, json_t *obj, const char *text, cflight_call_context *ctx,
                       cflight_result_writer *out, cflight_error *err) {
  const char *prefix = obj != NULL ? json_str(obj, "prefix") : text;
  char **names;
  size_t n;
  CF_RETURN_NOT_OK(store_list(sc->st, prefix, &names, &n, err));
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++) {
    if (cflight_call_context_is_cancelled(ctx)) break;
    ds_info ds;
    cflight_error e = {0};
    json_t *v;
    if (store_stat(sc->st, names[i], &ds, &e) == CFLIGHT_OK) {
      char when[64];
      iso_time(ds.mtime_ns, when, sizeof(when));
      v = json_pack("{s:s, s:I, s:I, s:I, s:s}", "path", names[i], "rows", (json_int_t)ds.rows,
                    "bytes", (json_int_t)ds.bytes, "file_bytes", (json_int_t)ds.file_size,
                    "modified", when);
      ds_info_reset(&ds);
    } else if (e.code == CFLIGHT_NOT_FOUND) {
      continue;
    } else {
      v = json_pack("{s:s, s:s}", "path", names[i], "error", e.message);
    }
    rc = write_json(out, v, err);
  }
  store_names_free(names, n);
  return rc;
}

static int action_stats(server_ctx *sc, cflight_result_writer *out, cflight_error *err) {
  char **names;
  size_t n;
  CF_RETURN_NOT_OK(store_list(sc->st, NULL, &names, &n, err));
  int64_t datasets = 0, rows = 0, bytes = 0, data_bytes = 0, unreadable = 0;
  for (size_t i = 0; i < n; i++) {
    ds_info ds;
    cflight_error e = {0};
    if (store_stat(sc->st, names[i], &ds, &e) == CFLIGHT_OK) {
      datasets++;
      rows += ds.rows;
      bytes += ds.file_size;
      data_bytes += ds.bytes;
      ds_info_reset(&ds);
    } else if (e.code != CFLIGHT_NOT_FOUND) {
      unreadable++;
    }
  }
  store_names_free(names, n);
  json_t *v = json_pack("{s:I, s:I, s:I, s:I, s:b}", "datasets", (json_int_t)datasets, "rows",
                        (json_int_t)rows, "bytes", (json_int_t)bytes, "data_bytes",
                        (json_int_t)data_bytes, "read_only", sc->read_only);
  if (v != NULL && unreadable > 0) json_object_set_new(v, "unreadable", json_integer(unreadable));
  return write_json(out, v, err);
}

static int action_drop(server_ctx *sc, json_t *obj, const char *text, cflight_result_writer *out,
                       cflight_error *err) {
  const char *path = obj != NULL ? json_str(obj, "path") : text;
  if (path == NULL || path[0] == '\0') {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "drop needs the dataset's path as the body: sales/2024 or "
                             "{\"path\": \"sales/2024\"}");
  }
  char name[STORE_MAX_NAME];
  CF_RETURN_NOT_OK(store_name_from_text(path, strlen(path), name, err));
  CF_RETURN_NOT_OK(store_drop(sc->st, name, err));
  return write_json(out, json_pack("{s:s}", "dropped", name), err);
}

static int action_rename(server_ctx *sc, json_t *obj, const char *text, cflight_result_writer *out,
                         cflight_error *err) {
  char from_buf[STORE_MAX_NAME] = "", to_buf[STORE_MAX_NAME] = "";
  const char *from = NULL, *to = NULL;
  bool replace = false;
  if (obj != NULL) {
    from = json_str(obj, "from");
    to = json_str(obj, "to");
    replace = json_is_true(json_object_get(obj, "replace"));
  } else {
    const char *sp = strpbrk(text, " \t");
    if (sp != NULL && strpbrk(sp + 1, " \t") == NULL) {
      snprintf(from_buf, sizeof(from_buf), "%.*s", (int)(sp - text), text);
      snprintf(to_buf, sizeof(to_buf), "%s", sp + 1);
      from = from_buf;
      to = to_buf;
    }
  }
  if (from == NULL || to == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "rename needs {\"from\": \"a\", \"to\": \"b\"} (or \"a b\") as the "
                             "body");
  }
  char nfrom[STORE_MAX_NAME], nto[STORE_MAX_NAME];
  CF_RETURN_NOT_OK(store_name_from_text(from, strlen(from), nfrom, err));
  CF_RETURN_NOT_OK(store_name_from_text(to, strlen(to), nto, err));
  CF_RETURN_NOT_OK(store_rename(sc->st, nfrom, nto, replace, err));
  return write_json(out, json_pack("{s:s, s:s}", "renamed", nfrom, "to", nto), err);
}

static int h_do_action(void *user, cflight_call_context *ctx, const cflight_action *action,
                       cflight_result_writer *out, cflight_error *err) {
  server_ctx *sc = user;
  const char *type = cflight_action_get_type(action);
  json_t *obj = NULL;
  char text[STORE_MAX_NAME * 2 + 8];
  bool known = false;
  for (size_t i = 0; i < CF_ARRAY_SIZE(action_types); i++) {
    known = known || strcmp(type, action_types[i].type) == 0;
  }
  if (!known) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "unknown action '%s' (this server has: list, stats, drop, rename)",
                             type);
  }
  if ((strcmp(type, "drop") == 0 || strcmp(type, "rename") == 0) && sc->read_only) {
    return cflight_error_set(err, CFLIGHT_PERMISSION_DENIED,
                             "this server is read-only (started with --read-only): %s is "
                             "disabled",
                             type);
  }
  CF_RETURN_NOT_OK(parse_body(action, &obj, text, sizeof(text), err));
  int rc;
  if (strcmp(type, "list") == 0) {
    rc = action_list(sc, obj, text, ctx, out, err);
  } else if (strcmp(type, "stats") == 0) {
    rc = action_stats(sc, out, err);
  } else if (strcmp(type, "drop") == 0) {
    rc = action_drop(sc, obj, text, out, err);
  } else {
    rc = action_rename(sc, obj, text, out, err);
  }
  json_decref(obj);
  return rc;
}

static int h_handshake(void *user, cflight_call_context *ctx, cflight_auth_stream *stream,
                       cflight_error *err) {
  server_ctx *sc = user;
  return auth_handshake(sc->auth, ctx, stream, err);
}

/* ---- Setting up ------------------------------------------------------------------------------ */

static int load_tls(const serve_args *a, cflight_server_options *o) {
  cflight_error err = {0};
  if (a->n_cert != a->n_key) {
    cli_errorf("serve: give a --tls-key for each --tls-cert (%d certificates, %d keys)", a->n_cert,
               a->n_key);
    return CLI_EXIT_USAGE;
  }
  for (int i = 0; i < a->n_cert; i++) {
    char *cert = NULL, *key = NULL;
    int rc =
        read_text_file(a->tls_cert[i], "TLS certificate (--tls-cert)", 1 << 20, &cert, NULL, &err);
    if (rc == CFLIGHT_OK) {
      rc = read_text_file(a->tls_key[i], "TLS key (--tls-key)", 1 << 20, &key, NULL, &err);
    }
    if (rc == CFLIGHT_OK) rc = cflight_server_options_add_tls_certificate(o, cert, key, &err);
    if (key != NULL) memset(key, 0, strlen(key));
    free(cert);
    free(key);
    if (rc != CFLIGHT_OK) {
      cli_errorf("serve: %s", err.message);
      return CLI_EXIT_FAILURE;
    }
  }
  if (a->tls_client_ca != NULL) {
    if (a->n_cert == 0) {
      cli_errorf("serve: --tls-client-ca needs TLS: give --tls-cert and --tls-key too");
      return CLI_EXIT_USAGE;
    }
    char *ca = NULL;
    int rc = read_text_file(a->tls_client_ca, "client CA file (--tls-client-ca)", 1 << 20, &ca,
                            NULL, &err);
    if (rc == CFLIGHT_OK) rc = cflight_server_options_set_verify_client(o, true, ca, &err);
    free(ca);
    if (rc != CFLIGHT_OK) {
      cli_errorf("serve: %s", err.message);
      return CLI_EXIT_FAILURE;
    }
  }
  return -1;
}

/* The address to show in "try: cflight list ...": a wildcard becomes loopback. */
static void connectable(const char *uri, char *buf, size_t cap) {
  const char *p;
  if ((p = strstr(uri, "://0.0.0.0:")) != NULL) {
    snprintf(buf, cap, "%.*s://127.0.0.1:%s", (int)(p - uri), uri, p + 11);
  } else if ((p = strstr(uri, "://[::]:")) != NULL) {
    snprintf(buf, cap, "%.*s://[::1]:%s", (int)(p - uri), uri, p + 8);
  } else {
    snprintf(buf, cap, "%s", uri);
  }
}

/* The advertised location for a listen location: a wildcard host becomes
 * this machine's name. */
static void advertised(const char *uri, char *buf, size_t cap) {
  char host[256];
  const char *p = strstr(uri, "://0.0.0.0:");
  const char *q = strstr(uri, "://[::]:");
  if ((p != NULL || q != NULL) && gethostname(host, sizeof(host)) == 0) {
    host[sizeof(host) - 1] = '\0';
    const char *at = p != NULL ? p : q;
    snprintf(buf, cap, "%.*s://%s:%s", (int)(at - uri), uri, host, p != NULL ? p + 11 : q + 8);
  } else {
    snprintf(buf, cap, "%s", uri);
  }
}

static int listen_error(const char *location, const cflight_error *err) {
  if (strcasestr(err->message, "address already in use") != NULL) {
    cflight_location *loc = NULL;
    int port = DEFAULT_PORT;
    char host[256] = "127.0.0.1";
    if (cflight_location_parse(location, &loc, NULL) == CFLIGHT_OK) {
      port = cflight_location_port(loc);
      cflight_location_host(loc, host, sizeof(host));
      cflight_location_free(loc);
    }
    const char *scheme = strncmp(location, "grpc+tls", 8) == 0 ? "grpc+tls" : "grpc";
    bool v6 = strchr(host, ':') != NULL;
    cli_errorf(
        "serve: port %d is in use; pass --listen %s://%s%s%s:PORT (another port, or 0 for "
        "any free port)",
        port, scheme, v6 ? "[" : "", host, v6 ? "]" : "");
  } else if (strcasestr(err->message, "permission denied") != NULL) {
    cli_errorf(
        "serve: cannot listen on %s: %s (ports below 1024 need privileges; pass --listen "
        "grpc://127.0.0.1:PORT)",
        location, err->message);
  } else {
    cli_errorf("serve: cannot listen on %s: %s", location, err->message);
  }
  return CLI_EXIT_FAILURE;
}

typedef struct shutdown_job {
  cflight_server *server;
  double grace;
  atomic_bool done;
} shutdown_job;

static void *shutdown_thread(void *arg) {
  shutdown_job *j = arg;
  cflight_server_shutdown(j->server, j->grace);
  atomic_store(&j->done, true);
  return NULL;
}

int cmd_serve(int argc, char **argv) {
  serve_args a = {0};
  a.grace = 10;
  a.max_threads = 256;
  const arg_spec *groups[] = {serve_specs, serve_security_specs};
  const char *titles[] = {"Options", "Security options"};
  int rc =
      cli_parse("serve", groups, titles, 2, argc, argv, on_serve_arg, &a, "cflight serve [OPTIONS]",
                "Serves a directory of Arrow IPC files over Arrow Flight. Dataset a/b is the\n"
                "file DIR/a/b.arrow, named by the path descriptor [\"a\", \"b\"]; its ticket is\n"
                "\"a/b\". Clients can:\n"
                "  ListFlights    list datasets (criteria: a path prefix)\n"
                "  GetFlightInfo  schema, rows, bytes, one endpoint on this server\n"
                "  GetSchema, DoGet (streamed from a memory mapping, no copy)\n"
                "  DoPut          store a new dataset or a new version, atomically: the old\n"
                "                 one stays until the upload completes; each batch is\n"
                "                 acknowledged with {\"batch\": N, \"rows\": N}\n"
                "  DoExchange     the server sends back what it receives\n"
                "  DoAction       list [PREFIX], stats, drop PATH,\n"
                "                 rename {\"from\": \"a\", \"to\": \"b\", \"replace\": false}\n"
                "                 (bodies and results are JSON; see ListActions)\n",
                "Stops on SIGINT/SIGTERM (calls get --grace seconds to finish; a second signal\n"
                "stops at once). Each call is logged on stderr.\n"
                "\n" CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if (a.n_cert == 0 && a.n_key > 0) {
    cli_errorf("serve: --tls-key needs --tls-cert");
    return CLI_EXIT_USAGE;
  }
  const char *default_listen = a.n_cert > 0 ? "grpc+tls://127.0.0.1:8815" : "grpc://127.0.0.1:8815";
  if (a.n_listen == 0) a.listen[a.n_listen++] = default_listen;
  for (int i = 0; i < a.n_listen; i++) {
    cflight_location *loc = NULL;
    cflight_error err = {0};
    if (cflight_location_parse(a.listen[i], &loc, &err) != CFLIGHT_OK) {
      cli_errorf("serve: bad --listen %s: %s", a.listen[i], err.message);
      return CLI_EXIT_USAGE;
    }
    cflight_scheme sch = cflight_location_scheme(loc);
    cflight_location_free(loc);
    if (sch == CFLIGHT_SCHEME_GRPC_TLS && a.n_cert == 0) {
      cli_errorf("serve: %s needs a certificate: pass --tls-cert FILE --tls-key FILE", a.listen[i]);
      return CLI_EXIT_USAGE;
    }
    if (sch != CFLIGHT_SCHEME_GRPC_TLS && sch != CFLIGHT_SCHEME_GRPC_TCP &&
        sch != CFLIGHT_SCHEME_GRPC_UNIX) {
      cli_errorf("serve: cannot listen on %s (use grpc://, grpc+tls:// or grpc+unix://)",
                 a.listen[i]);
      return CLI_EXIT_USAGE;
    }
  }

  cflight_error err = {0};
  server_ctx sc = {0};
  sc.read_only = a.read_only;
  cflight_server_options *opts = cflight_server_options_new();
  if (opts == NULL) {
    cli_errorf("serve: out of memory");
    return CLI_EXIT_FAILURE;
  }
  cflight_server *server = NULL;
  int removed = 0;
  rc = load_tls(&a, opts);
  for (int i = 0; rc < 0 && i < a.n_options; i++) {
    char name[128];
    const char *eq = strchr(a.options[i], '=');
    snprintf(name, sizeof(name), "%.*s", (int)(eq - a.options[i]), a.options[i]);
    if (cflight_server_options_set_generic(opts, name, eq + 1, &err) != CFLIGHT_OK) {
      cli_errorf("serve: --option %s: %s", a.options[i], err.message);
      rc = CLI_EXIT_USAGE;
    }
  }
  if (rc < 0 && auth_new(a.auth_basic, a.auth_token, &sc.auth, &err) != CFLIGHT_OK) {
    cli_errorf("serve: %s", err.message);
    rc = CLI_EXIT_FAILURE;
  }
  if (rc < 0) {
    const char *dir = a.data != NULL ? a.data : "cflight-data";
    if (store_open(dir, a.read_only, &sc.st, &removed, &err) != CFLIGHT_OK) {
      cli_errorf("serve: %s", err.message);
      rc = CLI_EXIT_FAILURE;
    }
  }
  if (rc < 0) {
    if (!a.quiet) {
      cflight_server_options_add_middleware(opts, "log", cflight_server_log_middleware_new(NULL),
                                            &err);
    }
    if (auth_enabled(sc.auth)) {
      cflight_server_options_add_middleware(opts, "auth", auth_middleware_new(sc.auth), &err);
    }
    cflight_server_options_set_max_threads(opts, a.max_threads);
  }

  /* Signals are taken by sigwait below: block them before any thread starts. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  cflight_server_handlers h = {0};
  h.list_flights = h_list_flights;
  h.get_flight_info = h_get_flight_info;
  h.poll_flight_info = h_poll_flight_info;
  h.get_schema = h_get_schema;
  h.do_get = h_do_get;
  h.do_put = h_do_put;
  h.do_exchange = h_do_exchange;
  h.list_actions = h_list_actions;
  h.do_action = h_do_action;
  h.handshake = h_handshake;
  if (rc < 0) {
    if (cflight_server_new(a.listen[0], &h, sizeof(h), &sc, opts, &server, &err) != CFLIGHT_OK) {
      rc = listen_error(a.listen[0], &err);
    }
    for (int i = 1; rc < 0 && i < a.n_listen; i++) {
      if (cflight_server_add_location(server, a.listen[i], &err) != CFLIGHT_OK) {
        rc = listen_error(a.listen[i], &err);
      }
    }
  }
  /* Endpoints name this server: --advertise, or where it listens. */
  size_t n_loc = 0;
  if (rc < 0) {
    size_t want = a.n_advertise > 0 ? (size_t)a.n_advertise : (size_t)a.n_listen;
    sc.locations = cf_calloc(want + 1, sizeof(cflight_location *));
    bool wildcard = false;
    for (size_t i = 0; sc.locations != NULL && i < want && rc < 0; i++) {
      char uri[1100];
      if (a.n_advertise > 0) {
        snprintf(uri, sizeof(uri), "%s", a.advertise[i]);
      } else {
        const char *listen = cflight_server_location(server, i);
        wildcard =
            wildcard || strstr(listen, "://0.0.0.0:") != NULL || strstr(listen, "://[::]:") != NULL;
        advertised(listen, uri, sizeof(uri));
      }
      if (cflight_location_parse(uri, &sc.locations[n_loc], &err) != CFLIGHT_OK) {
        cli_errorf("serve: bad --advertise %s: %s", uri, err.message);
        rc = CLI_EXIT_USAGE;
      } else {
        n_loc++;
      }
    }
    /* A host name that clients cannot resolve must not strand them: after
     * it, "the connection you asked on" (clients try locations in order). */
    if (rc < 0 && wildcard &&
        cflight_location_new_reuse_connection(&sc.locations[n_loc], &err) == CFLIGHT_OK) {
      n_loc++;
    }
    sc.n_locations = n_loc;
  }
  if (rc >= 0) {
    cflight_server_free(server);
  } else {
    for (int i = 0; i < a.n_listen; i++) {
      printf("cflight serve: listening on %s\n", cflight_server_location(server, (size_t)i));
    }
    char **names = NULL;
    size_t n = 0;
    store_list(sc.st, NULL, &names, &n, NULL);
    store_names_free(names, n);
    printf("cflight serve: %zu dataset%s in %s%s%s\n", n, n == 1 ? "" : "s", store_dir(sc.st),
           a.read_only ? " (read-only)" : "", auth_enabled(sc.auth) ? ", login required" : "");
    if (removed > 0) {
      printf("cflight serve: removed %d unfinished upload%s left by an earlier run\n", removed,
             removed == 1 ? "" : "s");
    }
    char try_uri[1100];
    connectable(cflight_server_location(server, 0), try_uri, sizeof(try_uri));
    /* Certificates name hosts, rarely loopback addresses. */
    const char *lo = strstr(try_uri, "://127.0.0.1:");
    if (strncmp(try_uri, "grpc+tls", 8) == 0 && lo != NULL) {
      char tmp[1100];
      snprintf(tmp, sizeof(tmp), "grpc+tls://localhost:%s", lo + 13);
      snprintf(try_uri, sizeof(try_uri), "%s", tmp);
    }
    printf("cflight serve: try: cflight list %s%s%s%s\n", try_uri,
           strncmp(try_uri, "grpc+tls", 8) == 0 ? " --tls-ca CA.pem" : "",
           a.tls_client_ca != NULL ? " --tls-cert CERT.pem --tls-key KEY.pem" : "",
           auth_user_count(sc.auth) > 0 ? " --user NAME" : "");
    printf("cflight serve: stop with Ctrl-C\n");
    fflush(stdout);

    /* Wait for a signal; the first stops gracefully, a second at once. */
    shutdown_job job = {server, a.grace, false};
    pthread_t stopper;
    bool stopping = false;
    rc = CLI_EXIT_OK;
    for (;;) {
      struct timespec tick = {0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&stop_signals, NULL, &tick);
      if (stopping && atomic_load(&job.done)) break;
      if (sig < 0) continue;
      if (!stopping) {
        fprintf(stderr,
                "cflight serve: stopping: calls in flight have %gs to finish (signal again to "
                "stop now)\n",
                a.grace);
        if (pthread_create(&stopper, NULL, shutdown_thread, &job) != 0) {
          cflight_server_shutdown(server, 0);
          atomic_store(&job.done, true);
          break;
        }
        stopping = true;
      } else {
        /* Forced: nothing half-written may stay. */
        store_abort_all(sc.st);
        fprintf(stderr, "cflight serve: stopped at once; unfinished uploads were discarded\n");
        _exit(CLI_EXIT_FAILURE);
      }
    }
    if (stopping) pthread_join(stopper, NULL);
    cflight_server_free(server);
    fprintf(stderr, "cflight serve: stopped\n");
  }
  for (size_t i = 0; i < n_loc; i++)
    cflight_location_free(sc.locations[i]);
  free(sc.locations);
  store_close(sc.st);
  auth_free(sc.auth);
  cflight_server_options_free(opts);
  return rc;
}
