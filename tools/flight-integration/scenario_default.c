/* The default scenario: Arrow data through a Flight server and back.
 *
 * Client: reads the integration JSON at -path, uploads it with DoPut under
 * the PATH descriptor [path], writing batch i with app_metadata "i" and
 * waiting for the server's PutResult carrying the same bytes before the
 * next batch; then GetFlightInfo for the same descriptor, and DoGet of every
 * endpoint's ticket (on this connection when the endpoint has no locations,
 * else at each location in turn), checking the schema, every batch value by
 * value against the JSON, and that batch i carries app_metadata "i".
 *
 * Server: DoPut stores the schema and batches under path[0] (INVALID_ARGUMENT
 * without a path), acknowledging each batch's app_metadata with a PutResult
 * holding the same bytes; GetFlightInfo of a PATH descriptor answers one
 * endpoint, ticket path[0], location grpc+tcp://127.0.0.1:PORT (NOT_FOUND
 * for an unknown path, UNIMPLEMENTED for a CMD descriptor); DoGet streams
 * the stored batches, batch i with app_metadata "i". */
#include <pthread.h>

#include "fi.h"
#include "integration.h"

/* ---- Server ---------------------------------------------------------------------------------- */

typedef struct dataset {
  char *key;
  size_t key_len;
  struct ArrowSchema schema;
  cf_shared_array **batches; /* each shared, so that every DoGet exports its own view */
  size_t n_batches;
  int64_t n_rows;
} dataset;

typedef struct default_server {
  pthread_mutex_t mu; /* guards sets */
  dataset **sets;
  size_t n_sets;
  int port;
} default_server;

static void dataset_free(dataset *ds) {
  if (ds == NULL) return;
  for (size_t i = 0; i < ds->n_batches; i++)
    cf_shared_array_unref(ds->batches[i]);
  free(ds->batches);
  if (ds->schema.release != NULL) cf_schema_release(&ds->schema);
  free(ds->key);
  free(ds);
}

static void default_server_free(void *user) {
  default_server *s = user;
  for (size_t i = 0; i < s->n_sets; i++)
    dataset_free(s->sets[i]);
  free(s->sets);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static void default_server_started(void *user, cflight_server *server) {
  default_server *s = user;
  s->port = cflight_server_port(server);
}

/* The dataset stored under key, or NULL; call with mu held. */
static dataset *find_locked(default_server *s, const void *key, size_t key_len) {
  for (size_t i = 0; i < s->n_sets; i++)
    if (s->sets[i]->key_len == key_len && memcmp(s->sets[i]->key, key, key_len) == 0)
      return s->sets[i];
  return NULL;
}

/* Stores ds under its key, replacing an earlier upload of the same key. */
static int store(default_server *s, dataset *ds, cflight_error *err) {
  pthread_mutex_lock(&s->mu);
  int rc = CFLIGHT_OK;
  size_t i = 0;
  while (i < s->n_sets && !(s->sets[i]->key_len == ds->key_len &&
                            memcmp(s->sets[i]->key, ds->key, ds->key_len) == 0))
    i++;
  if (i < s->n_sets) {
    dataset_free(s->sets[i]);
    s->sets[i] = ds;
  } else {
    dataset **grown = realloc(s->sets, (s->n_sets + 1) * sizeof(*grown));
    if (grown == NULL) {
      rc = CF_NOMEM(err, "dataset");
    } else {
      s->sets = grown;
      s->sets[s->n_sets++] = ds;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static int default_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                          cflight_stream_reader *reader, cflight_metadata_writer *writer,
                          cflight_error *err) {
  default_server *s = user;
  if (cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_PATH ||
      cflight_descriptor_path_count(d) < 1)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "Must specify a path");
  dataset *ds = calloc(1, sizeof(*ds));
  if (ds == NULL) return CF_NOMEM(err, "dataset");
  ds->key = cf_strdup(cflight_descriptor_path_part(d, 0));
  ds->key_len = ds->key != NULL ? strlen(ds->key) : 0;
  int rc = ds->key != NULL ? cflight_stream_reader_schema(reader, &ds->schema, err)
                           : CF_NOMEM(err, "path");
  while (rc == CFLIGHT_OK) {
    cflight_chunk chunk;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &chunk, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    if (chunk.data.release == NULL) {
      /* app_metadata alone: the references acknowledge batches only. */
      cflight_chunk_release(&chunk);
      continue;
    }
    cflight_error sub = {0};
    if (cflight_array_validate(&ds->schema, &chunk.data, true, &sub) != CFLIGHT_OK) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "batch %zu is not valid: %s",
                             ds->n_batches, sub.message);
      cflight_chunk_release(&chunk);
      break;
    }
    cf_shared_array **grown = realloc(ds->batches, (ds->n_batches + 1) * sizeof(*grown));
    cf_shared_array *sh = grown != NULL ? cf_shared_array_new(&chunk.data) : NULL;
    if (grown != NULL) ds->batches = grown;
    if (sh == NULL) {
      rc = CF_NOMEM(err, "batch");
    } else {
      ds->n_rows += cf_shared_array_get(sh)->length;
      ds->batches[ds->n_batches++] = sh;
      if (chunk.app_metadata != NULL)
        rc = cflight_metadata_writer_write(writer, cflight_buffer_data(chunk.app_metadata),
                                           cflight_buffer_size(chunk.app_metadata), err);
    }
    cflight_chunk_release(&chunk);
  }
  if (rc == CFLIGHT_OK) rc = store(s, ds, err);
  if (rc != CFLIGHT_OK) dataset_free(ds);
  return rc;
}

static int default_get_flight_info(void *user, cflight_call_context *ctx,
                                   const cflight_descriptor *d, cflight_flight_info **out,
                                   cflight_error *err) {
  default_server *s = user;
  if (cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_PATH)
    return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED,
                             "GetFlightInfo: only PATH descriptors name uploaded flights");
  if (cflight_descriptor_path_count(d) == 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "Invalid path");
  const char *key = cflight_descriptor_path_part(d, 0);
  cflight_endpoint *ep = NULL;
  char location[64];
  snprintf(location, sizeof(location), "grpc+tcp://127.0.0.1:%d", s->port);
  int rc = fi_endpoint(key, location, &ep, err);
  if (rc != CFLIGHT_OK) return rc;
  pthread_mutex_lock(&s->mu);
  dataset *ds = find_locked(s, key, strlen(key));
  if (ds == NULL) {
    rc = cflight_error_set(err, CFLIGHT_NOT_FOUND, "Could not find flight: %s", key);
  } else {
    rc = fi_flight_info(&ds->schema, d, &ep, 1, out, err);
    if (rc == CFLIGHT_OK) cflight_flight_info_set_total_records(*out, ds->n_rows);
  }
  pthread_mutex_unlock(&s->mu);
  cflight_endpoint_free(ep);
  return rc;
}

/* A DoGet of a stored dataset: its own references to the batches. */
typedef struct replay {
  cf_shared_array **batches;
  size_t n, next;
} replay;

static int replay_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  replay *r = ctx;
  memset(out, 0, sizeof(*out));
  if (r->next >= r->n) return CFLIGHT_OK;
  cf_shared_array *sh = r->batches[r->next];
  CF_RETURN_NOT_OK(cf_shared_array_export(sh, cf_shared_array_get(sh), &out->data, err));
  char md[24];
  int len = snprintf(md, sizeof(md), "%zu", r->next);
  out->app_metadata = cflight_buffer_copy(md, (size_t)len);
  if (out->app_metadata == NULL) {
    cf_array_release(&out->data);
    return CF_NOMEM(err, "app_metadata");
  }
  r->next++;
  return CFLIGHT_OK;
}

static void replay_free(void *ctx) {
  replay *r = ctx;
  for (size_t i = 0; i < r->n; i++)
    cf_shared_array_unref(r->batches[i]);
  free(r->batches);
  free(r);
}

static int default_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                          cflight_data_stream **out, cflight_error *err) {
  default_server *s = user;
  size_t size = 0;
  const uint8_t *key = cflight_ticket_data(t, &size);
  replay *r = calloc(1, sizeof(*r));
  if (r == NULL) return CF_NOMEM(err, "stream");
  struct ArrowSchema schema = {0};
  int rc = CFLIGHT_OK;
  pthread_mutex_lock(&s->mu);
  dataset *ds = find_locked(s, key, size);
  if (ds == NULL) {
    char text[300];
    fi_bytes_text(key, size, text, sizeof(text));
    rc = cflight_error_set(err, CFLIGHT_NOT_FOUND, "Could not find flight: %s", text);
  } else {
    r->batches = ds->n_batches > 0 ? calloc(ds->n_batches, sizeof(*r->batches)) : NULL;
    if (ds->n_batches > 0 && r->batches == NULL) rc = CF_NOMEM(err, "stream");
    for (size_t i = 0; rc == CFLIGHT_OK && i < ds->n_batches; i++)
      r->batches[r->n++] = cf_shared_array_ref(ds->batches[i]);
    if (rc == CFLIGHT_OK) rc = cf_schema_copy(&ds->schema, &schema, err);
  }
  pthread_mutex_unlock(&s->mu);
  if (rc == CFLIGHT_OK) {
    *out = cflight_data_stream_new_generator(&schema, replay_next, replay_free, r);
    if (*out == NULL) rc = CF_NOMEM(err, "stream");
  }
  if (schema.release != NULL) cf_schema_release(&schema);
  if (rc != CFLIGHT_OK) replay_free(r);
  return rc;
}

static int default_make_server(fi_server_setup *setup, cflight_error *err) {
  default_server *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "server");
  pthread_mutex_init(&s->mu, NULL);
  setup->handlers.do_put = default_do_put;
  setup->handlers.get_flight_info = default_get_flight_info;
  setup->handlers.do_get = default_do_get;
  setup->user = s;
  setup->free_user = default_server_free;
  setup->started = default_server_started;
  return CFLIGHT_OK;
}

/* ---- Client ---------------------------------------------------------------------------------- */

/* The JSON's dictionary ids when two fields share one, so that the upload
 * keeps them shared as the JSON has them; NULL (no options) otherwise. */
static int sharing_ipc_options(cf_json_file *json, cflight_call_options **out, cflight_error *err) {
  *out = NULL;
  int64_t n = cf_json_file_dictionary_ids(json, NULL, 0);
  if (n < 2) return CFLIGHT_OK;
  int64_t *ids = malloc((size_t)n * sizeof(*ids));
  if (ids == NULL) return CF_NOMEM(err, "dictionary ids");
  cf_json_file_dictionary_ids(json, ids, n);
  bool shared = false;
  for (int64_t i = 0; i < n && !shared; i++)
    for (int64_t j = i + 1; j < n && !shared; j++)
      shared = ids[i] == ids[j];
  int rc = CFLIGHT_OK;
  if (shared) {
    cflight_ipc_options *ipc = cflight_ipc_options_new();
    cflight_call_options *opts = cflight_call_options_new();
    rc = ipc != NULL && opts != NULL ? cflight_ipc_options_set_dictionary_ids(ipc, ids, n, err)
                                     : CF_NOMEM(err, "options");
    if (rc == CFLIGHT_OK) rc = cflight_call_options_set_ipc_options(opts, ipc, err);
    cflight_ipc_options_free(ipc);
    if (rc == CFLIGHT_OK) {
      *out = opts;
    } else {
      cflight_call_options_free(opts);
    }
  }
  free(ids);
  return rc;
}

static int upload(cflight_client *c, cf_json_file *json, const cflight_descriptor *d,
                  const fi_client_args *args, cflight_error *err) {
  cflight_call_options *opts = NULL;
  CF_RETURN_NOT_OK(sharing_ipc_options(json, &opts, err));
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *acks = NULL;
  int rc = cflight_client_do_put(c, d, cf_json_file_schema(json), opts, &w, &acks, err);
  if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoPut");
  int64_t n = cf_json_file_num_batches(json);
  for (int64_t i = 0; rc == CFLIGHT_OK && i < n; i++) {
    struct ArrowArray batch;
    rc = cf_json_file_batch(json, i, &batch, err);
    if (rc != CFLIGHT_OK) break;
    char md[24];
    int len = snprintf(md, sizeof(md), "%lld", (long long)i);
    rc = cflight_stream_writer_write(w, &batch, md, (size_t)len, err);
    cf_array_release(&batch);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoPut: writing batch %lld", (long long)i);
      break;
    }
    /* Wait for the server to acknowledge this batch, as the references do. */
    cflight_buffer *ack = NULL;
    rc = cflight_metadata_reader_read(acks, &ack, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoPut: reading the acknowledgement of batch %lld", (long long)i);
    } else if (ack == NULL) {
      rc = fi_fail(err,
                   "DoPut: expected metadata value %s (the acknowledgement of batch %lld), "
                   "but got nothing",
                   md, (long long)i);
    } else if (!fi_bytes_eq(cflight_buffer_data(ack), cflight_buffer_size(ack), md)) {
      char got[300];
      fi_bytes_text(cflight_buffer_data(ack), cflight_buffer_size(ack), got, sizeof(got));
      rc = fi_fail(err,
                   "DoPut: expected metadata value %s (the acknowledgement of batch %lld), "
                   "but got '%s'",
                   md, (long long)i, got);
    }
    cflight_buffer_unref(ack);
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_stream_writer_close(w, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoPut: closing the upload");
  }
  cflight_metadata_reader_free(acks);
  cflight_stream_writer_free(w);
  cflight_call_options_free(opts);
  if (rc == CFLIGHT_OK && args->verbose) printf("uploaded %lld batches\n", (long long)n);
  return rc;
}

/* The DoGet stream as an ArrowArrayStream for cf_integration_compare_stream,
 * checking on the way that batch i carries app_metadata "i". */
typedef struct checked_stream {
  cflight_stream_reader *r; /* borrowed */
  int64_t i;
} checked_stream;

static int checked_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  checked_stream *cs = ctx;
  cflight_chunk chunk;
  bool end = false;
  CF_RETURN_NOT_OK(cflight_stream_reader_next(cs->r, &chunk, &end, err));
  if (end) return CFLIGHT_OK; /* out stays released: the end */
  int rc = CFLIGHT_OK;
  char want[24];
  snprintf(want, sizeof(want), "%lld", (long long)cs->i);
  if (chunk.data.release == NULL) {
    rc = fi_fail(err, "got app_metadata without a batch where batch %lld was expected",
                 (long long)cs->i);
  } else if (chunk.app_metadata == NULL) {
    rc = fi_fail(err, "batch %lld: expected metadata value %s, but got none", (long long)cs->i,
                 want);
  } else if (!fi_bytes_eq(cflight_buffer_data(chunk.app_metadata),
                          cflight_buffer_size(chunk.app_metadata), want)) {
    char got[300];
    fi_bytes_text(cflight_buffer_data(chunk.app_metadata), cflight_buffer_size(chunk.app_metadata),
                  got, sizeof(got));
    rc = fi_fail(err, "batch %lld: expected metadata value %s, but got '%s'", (long long)cs->i,
                 want, got);
  }
  if (rc == CFLIGHT_OK) {
    cf_array_move(&chunk.data, out);
    cs->i++;
  }
  cflight_chunk_release(&chunk);
  return rc;
}

static int consume(cflight_client *c, const cflight_ticket *t, const char *where,
                   cf_json_file *json, const fi_client_args *args, cflight_error *err) {
  cflight_stream_reader *r = NULL;
  int rc = cflight_client_do_get(c, t, NULL, &r, err);
  if (rc != CFLIGHT_OK) return fi_wrap(err, rc, "DoGet at %s", where);
  struct ArrowSchema schema;
  rc = cflight_stream_reader_schema(r, &schema, err);
  if (rc != CFLIGHT_OK) {
    cflight_stream_reader_free(r);
    return fi_wrap(err, rc, "DoGet at %s: reading the schema", where);
  }
  checked_stream *cs = calloc(1, sizeof(*cs));
  if (cs == NULL) {
    cf_schema_release(&schema);
    cflight_stream_reader_free(r);
    return CF_NOMEM(err, "stream");
  }
  cs->r = r;
  struct ArrowArrayStream st;
  cf_stream_source src = {checked_next, free, cs};
  rc = cf_stream_init(&st, &schema, src, err);
  if (rc == CFLIGHT_OK) {
    char label[300];
    snprintf(label, sizeof(label), "the DoGet stream at %s", where);
    rc = cf_integration_compare_stream(json, &st, label, args->verbose ? stdout : NULL, err);
    st.release(&st);
  }
  cflight_stream_reader_free(r);
  return rc;
}

static int default_run_client(const fi_client_args *args, cflight_error *err) {
  if (args->path == NULL || args->path[0] == '\0')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the default scenario needs -path FILE (an integration JSON file)");
  if (args->verbose) printf("Opening JSON file '%s'\n", args->path);
  cf_json_file *json = NULL;
  CF_RETURN_NOT_OK(cf_json_file_read(args->path, &json, err));
  cflight_client *c = NULL;
  cflight_descriptor *d = NULL;
  cflight_flight_info *info = NULL;
  const char *parts[1] = {args->path};
  int rc = cflight_descriptor_new_path(parts, 1, &d, err);
  if (rc == CFLIGHT_OK) rc = fi_connect(args, NULL, &c, err);

  /* 1. Upload. */
  if (rc == CFLIGHT_OK) rc = upload(c, json, d, args, err);

  /* 2. The flight's info: its schema must be the JSON's. */
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_get_flight_info(c, d, NULL, &info, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo");
  }
  if (rc == CFLIGHT_OK) {
    struct ArrowSchema schema;
    rc = cflight_flight_info_schema(info, &schema, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "GetFlightInfo: the schema does not decode");
    } else {
      rc = cf_schema_equal(cf_json_file_schema(json), &schema, err);
      if (rc != CFLIGHT_OK)
        rc = fi_wrap(err, rc, "GetFlightInfo: the schema differs from the JSON's");
      cf_schema_release(&schema);
    }
  }
  size_t n_endpoints = rc == CFLIGHT_OK ? cflight_flight_info_endpoint_count(info) : 0;
  if (rc == CFLIGHT_OK && n_endpoints == 0)
    rc = fi_fail(err, "GetFlightInfo: no endpoints returned from the Flight server");

  /* 3. Every endpoint, at every location. */
  for (size_t e = 0; rc == CFLIGHT_OK && e < n_endpoints; e++) {
    const cflight_endpoint *ep = cflight_flight_info_endpoint(info, e);
    const cflight_ticket *t = cflight_endpoint_ticket(ep);
    cflight_ticket *empty = NULL;
    if (t == NULL) {
      rc = cflight_ticket_new(NULL, 0, &empty, err);
      t = empty;
    }
    size_t n_locs = cflight_endpoint_location_count(ep);
    if (rc == CFLIGHT_OK && n_locs == 0) rc = consume(c, t, "the server itself", json, args, err);
    for (size_t l = 0; rc == CFLIGHT_OK && l < n_locs; l++) {
      const cflight_location *loc = cflight_endpoint_location(ep, l);
      const char *uri = cflight_location_uri(loc);
      if (args->verbose) printf("Verifying location %s\n", uri);
      if (cflight_location_scheme(loc) == CFLIGHT_SCHEME_REUSE_CONNECTION) {
        rc = consume(c, t, uri, json, args, err);
        continue;
      }
      cflight_client *other = NULL;
      rc = cflight_client_connect(uri, NULL, &other, err);
      if (rc != CFLIGHT_OK) {
        rc = fi_wrap(err, rc, "connecting to the endpoint's location %s", uri);
        break;
      }
      rc = consume(other, t, uri, json, args, err);
      cflight_client_close(other);
    }
    cflight_ticket_free(empty);
  }
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  if (c != NULL) cflight_client_close(c);
  cf_json_file_free(json);
  return rc;
}

const fi_scenario fi_scenario_default = {
    "", "the data round trip: DoPut the JSON's batches, GetFlightInfo, DoGet and compare",
    default_make_server, default_run_client};
