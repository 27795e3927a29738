/* cflight get: GetFlightInfo, then DoGet on every endpoint, following the
 * endpoint's locations: none (or arrow-flight-reuse-connection://?) means
 * the server that answered; another server is connected to (with the same
 * TLS and login options); an unreachable location is skipped for the next.
 * Endpoints are fetched in parallel threads when the FlightInfo is not
 * ordered, one after another when it is. Batches stream into the output:
 * memory holds a batch per thread. */
#include <errno.h>
#include <langinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "arrow/arrow.h"
#include "cli.h"
#include "conn.h"
#include "format.h"
#include "progress.h"

#define MAX_POS 4
#define MAX_PARALLEL 64

typedef struct get_args {
  conn_opts conn;
  args_positional pos;
  const char *cmd, *ticket, *output;
  out_options out;
  bool format_given;
  int parallel;
  progress_mode progress;
} get_args;

enum { G_CMD = 1, G_TICKET, G_FORMAT, G_OUTPUT, G_LIMIT, G_WIDTH, G_PARALLEL, G_PROGRESS, G_NOHDR };

static const arg_spec get_specs[] = {
    {"cmd", 'c', "COMMAND", G_CMD, "name the flight by a command descriptor instead of a path"},
    {"ticket", 0, "TICKET", G_TICKET, "skip GetFlightInfo: DoGet this ticket on URI"},
    {"format", 'f', "FORMAT", G_FORMAT,
     "table, csv, json (JSON lines), arrow (IPC file) or arrows\n(IPC stream). Default: from "
     "--output's extension, else\ntable on a terminal and csv otherwise"},
    {"output", 'o', "FILE", G_OUTPUT, "write to FILE (complete or not at all) instead of stdout"},
    {"limit", 'n', "N", G_LIMIT, "stop after N rows"},
    {"max-width", 0, "N", G_WIDTH, "table: cut values wider than N characters (default 40)"},
    {"no-header", 0, NULL, G_NOHDR, "csv: leave out the header row"},
    {"parallel", 'j', "N", G_PARALLEL, "fetch up to N endpoints at once (default 4)"},
    {"progress", 0, "WHEN", G_PROGRESS, "progress bar: auto (on a terminal), always, never"},
    {NULL, 0, NULL, 0, NULL},
};

static int on_get_arg(void *ctx, const arg_spec *spec, const char *value, char *msg, size_t cap) {
  get_args *a = ctx;
  if (spec == NULL) return args_add_positional(&a->pos, MAX_POS, value, msg, cap);
  if (spec->id >= CONN_OPT_BASE) return conn_opts_apply(&a->conn, spec, value, msg, cap);
  int64_t n;
  switch (spec->id) {
    case G_CMD:
      a->cmd = value;
      break;
    case G_TICKET:
      a->ticket = value;
      break;
    case G_FORMAT:
      if (!out_format_parse(value, &a->out.format)) {
        snprintf(msg, cap, "unknown format '%s' (use table, csv, json, arrow or arrows)", value);
        return 1;
      }
      a->format_given = true;
      break;
    case G_OUTPUT:
      a->output = value;
      break;
    case G_LIMIT:
      if (!parse_i64(value, &a->out.limit)) {
        snprintf(msg, cap, "--limit wants a number of rows, not '%s'", value);
        return 1;
      }
      break;
    case G_WIDTH:
      if (!parse_i64(value, &n) || n < 4 || n > 100000) {
        snprintf(msg, cap, "--max-width wants a number from 4 up, not '%s'", value);
        return 1;
      }
      a->out.max_width = (int)n;
      break;
    case G_NOHDR:
      a->out.header = false;
      break;
    case G_PARALLEL:
      if (!parse_i64(value, &n) || n < 1 || n > MAX_PARALLEL) {
        snprintf(msg, cap, "--parallel wants 1 to %d, not '%s'", MAX_PARALLEL, value);
        return 1;
      }
      a->parallel = (int)n;
      break;
    case G_PROGRESS:
      if (!progress_mode_parse(value, &a->progress)) {
        snprintf(msg, cap, "--progress wants auto, always or never, not '%s'", value);
        return 1;
      }
      break;
  }
  return 0;
}

/* ---- Fetching ------------------------------------------------------------------------ */

typedef struct pool_entry {
  char uri[1024];
  conn *c;
} pool_entry;

typedef struct getter {
  const get_args *args;
  const cflight_flight_info *info; /* NULL with --ticket */
  const cflight_ticket *ticket;    /* --ticket */
  size_t n_endpoints;
  atomic_size_t next;
  atomic_bool stop;
  conn *primary;
  pthread_mutex_t lock; /* guards pool, sink creation, the error */
  pool_entry pool[16];
  size_t n_pool;
  out_sink *sink;
  FILE *fp;
  progress *bar;
  int rc;
  cflight_error err;
  char err_where[1100];
  bool err_input; /* the error is about the data or output, not the connection */
} getter;

static void fail(getter *g, int rc, const cflight_error *err, const char *where, bool data) {
  pthread_mutex_lock(&g->lock);
  if (g->rc == CFLIGHT_OK) {
    g->rc = rc;
    g->err.code = err->code;
    snprintf(g->err.message, sizeof(g->err.message), "%s", err->message);
    snprintf(g->err_where, sizeof(g->err_where), "%s", where);
    g->err_input = data;
  }
  pthread_mutex_unlock(&g->lock);
  atomic_store(&g->stop, true);
}

static bool loopback(const char *host) {
  return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
         strcmp(host, "::1") == 0;
}

/* Whether two locations name the same server: the same scheme (grpc:// and
 * grpc+tcp:// alike), port and host, loopback names counting as one (a
 * server listening on 127.0.0.1 has a certificate for "localhost"). */
static bool same_server(const char *a, const char *b) {
  char na[1024], nb[1024];
  conn_normalize_uri(a, na, sizeof(na));
  conn_normalize_uri(b, nb, sizeof(nb));
  if (strcmp(na, nb) == 0) return true;
  cflight_location *la = NULL, *lb = NULL;
  bool same = false;
  if (cflight_location_parse(na, &la, NULL) == CFLIGHT_OK &&
      cflight_location_parse(nb, &lb, NULL) == CFLIGHT_OK) {
    cflight_scheme sa = cflight_location_scheme(la), sb = cflight_location_scheme(lb);
    char ha[256], hb[256];
    cflight_location_host(la, ha, sizeof(ha));
    cflight_location_host(lb, hb, sizeof(hb));
    same = sa == sb && (sa == CFLIGHT_SCHEME_GRPC_TCP || sa == CFLIGHT_SCHEME_GRPC_TLS) &&
           cflight_location_port(la) == cflight_location_port(lb) &&
           (strcmp(ha, hb) == 0 || (loopback(ha) && loopback(hb)));
  }
  cflight_location_free(la);
  cflight_location_free(lb);
  return same;
}

/* The connection for a location (made once, shared by the threads). */
static int pool_get(getter *g, const char *uri, conn **out, cflight_error *err) {
  if (same_server(uri, conn_uri(g->primary))) {
    *out = g->primary;
    return CFLIGHT_OK;
  }
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < g->n_pool; i++) {
    if (strcmp(g->pool[i].uri, uri) == 0) {
      *out = g->pool[i].c;
      pthread_mutex_unlock(&g->lock);
      return CFLIGHT_OK;
    }
  }
  int rc;
  if (g->n_pool == CF_ARRAY_SIZE(g->pool)) {
    rc = cflight_error_set(err, CFLIGHT_RESOURCE_EXHAUSTED, "too many different locations");
  } else {
    rc = conn_open(&g->args->conn, uri, out, err);
    if (rc == CFLIGHT_OK) {
      snprintf(g->pool[g->n_pool].uri, sizeof(g->pool[0].uri), "%s", uri);
      g->pool[g->n_pool++].c = *out;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return rc;
}

/* Opens the output on the first schema; checks later schemas against it. */
static int ensure_sink(getter *g, const struct ArrowSchema *schema, cflight_error *err) {
  pthread_mutex_lock(&g->lock);
  int rc = CFLIGHT_OK;
  if (g->sink == NULL) {
    rc = out_sink_open(&g->args->out, g->fp, schema, &g->sink, err);
  } else {
    rc = cf_schema_equal(out_sink_schema(g->sink), schema, err);
    if (rc != CFLIGHT_OK) err_prefix(err, "the endpoints' schemas differ");
  }
  pthread_mutex_unlock(&g->lock);
  return rc;
}

/* Reads one stream into the output. *got_data says whether anything came. */
static int drain(getter *g, cflight_stream_reader *r, bool *got_data, bool *data_error,
                 cflight_error *err) {
  struct ArrowSchema schema = {0};
  int rc = cflight_stream_reader_schema(r, &schema, err);
  if (rc != CFLIGHT_OK) return rc;
  *got_data = true;
  rc = ensure_sink(g, &schema, err);
  if (rc != CFLIGHT_OK) {
    *data_error = true;
    cf_schema_release(&schema);
    return rc;
  }
  while (rc == CFLIGHT_OK) {
    if (atomic_load(&g->stop)) {
      cflight_stream_reader_cancel(r);
      break;
    }
    cflight_chunk chunk = {0};
    bool end = false;
    rc = cflight_stream_reader_next(r, &chunk, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    if (chunk.data.release != NULL) {
      bool done = false;
      int64_t bytes = batch_nbytes(&schema, &chunk.data);
      rc = out_sink_write(g->sink, &chunk.data, &done, err);
      if (rc != CFLIGHT_OK) *data_error = true;
      progress_add(g->bar, chunk.data.length, bytes);
      if (done) {
        atomic_store(&g->stop, true); /* the limit: the other threads stop too */
        cflight_stream_reader_cancel(r);
      }
    }
    cflight_chunk_release(&chunk);
  }
  cf_schema_release(&schema);
  return rc;
}

static void fetch_endpoint(getter *g, size_t i) {
  const cflight_endpoint *ep = g->info != NULL ? cflight_flight_info_endpoint(g->info, i) : NULL;
  const cflight_ticket *t = ep != NULL ? cflight_endpoint_ticket(ep) : g->ticket;
  size_t n_loc = ep != NULL ? cflight_endpoint_location_count(ep) : 0;
  char where[1100];
  cflight_error err = {0};
  if (t == NULL) {
    snprintf(where, sizeof(where), "endpoint %zu", i + 1);
    cflight_error_set(&err, CFLIGHT_INVALID_DATA, "it has no ticket");
    fail(g, CFLIGHT_INVALID_DATA, &err, where, false);
    return;
  }
  /* Locations in order; none means the server that answered. */
  for (size_t k = 0; k < (n_loc > 0 ? n_loc : 1); k++) {
    const char *uri = conn_uri(g->primary);
    if (n_loc > 0) {
      const cflight_location *loc = cflight_endpoint_location(ep, k);
      if (cflight_location_scheme(loc) != CFLIGHT_SCHEME_REUSE_CONNECTION) {
        uri = cflight_location_uri(loc);
      }
    }
    snprintf(where, sizeof(where), "DoGet of endpoint %zu at %s", i + 1, uri);
    bool last = k + 1 >= n_loc;
    conn *c = NULL;
    int rc = pool_get(g, uri, &c, &err);
    if (rc == CFLIGHT_OK) {
      cflight_stream_reader *r = NULL;
      bool got_data = false, data_error = false;
      rc = cflight_client_do_get(conn_client(c), t, conn_call_options(c), &r, &err);
      if (rc == CFLIGHT_OK) rc = drain(g, r, &got_data, &data_error, &err);
      cflight_stream_reader_free(r);
      if (rc == CFLIGHT_OK || (rc == CFLIGHT_CANCELLED && atomic_load(&g->stop))) return;
      /* Unreachable before any data: the next location may serve it. */
      if (rc == CFLIGHT_UNAVAILABLE && !got_data && !last) continue;
      fail(g, rc, &err, where, data_error);
      return;
    }
    if (rc == CFLIGHT_UNAVAILABLE && !last) continue;
    fail(g, rc, &err, where, false);
    return;
  }
}

static void *worker(void *arg) {
  getter *g = arg;
  for (;;) {
    if (atomic_load(&g->stop)) break;
    size_t i = atomic_fetch_add(&g->next, 1);
    if (i >= g->n_endpoints) break;
    fetch_endpoint(g, i);
  }
  return NULL;
}

/* ---- The command -------------------------------------------------------------------- */

/* The temporary output file, removed if the user interrupts the download. */
static char interrupted_tmp[4200];

static void on_interrupt(int sig) {
  if (interrupted_tmp[0] != '\0') unlink(interrupted_tmp); /* async-signal-safe */
  signal(sig, SIG_DFL);
  raise(sig);
}

int cmd_get(int argc, char **argv) {
  get_args a = {0};
  out_options_init(&a.out);
  a.parallel = 4;
  const arg_spec *groups[] = {get_specs, conn_specs};
  const char *titles[] = {"Options", "Connection options"};
  const char *usage = "cflight get URI PATH|--cmd COMMAND|--ticket TICKET [OPTIONS]";
  int rc =
      cli_parse("get", groups, titles, 2, argc, argv, on_get_arg, &a, usage,
                "Downloads a flight: GetFlightInfo, then DoGet on each endpoint (following\n"
                "its locations; in parallel unless the flight is ordered). PATH is a path\n"
                "descriptor written with slashes: sales/2024.\n"
                "\n"
                "Values print as: nulls as \xE2\x88\x85 in tables, empty in CSV, null in JSON;\n"
                "timestamps in ISO 8601 with their zone; decimals exactly; binary as hex\n"
                "(base64 in JSON); nested values as JSON text; durations and intervals in\n"
                "ISO 8601 (PT1.5S, P1Y2M).\n",
                CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  bool named = a.cmd != NULL || a.ticket != NULL;
  if (a.pos.count != (named ? 1 : 2)) {
    fprintf(stderr, "cflight get: %s\nUsage: %s\nTry 'cflight get --help'.\n",
            a.pos.count < (named ? 1 : 2) ? "missing arguments" : "too many arguments", usage);
    return CLI_EXIT_USAGE;
  }
  if (a.cmd != NULL && a.ticket != NULL) {
    cli_errorf("give --cmd or --ticket, not both");
    return CLI_EXIT_USAGE;
  }
  bool to_stdout = a.output == NULL || strcmp(a.output, "-") == 0;
  if (!a.format_given) {
    if (!to_stdout && out_format_from_path(a.output, &a.out.format)) {
      /* from the extension */
    } else {
      a.out.format = to_stdout && isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_CSV;
    }
  }
  if (to_stdout && isatty(STDOUT_FILENO) &&
      (a.out.format == OUT_ARROW || a.out.format == OUT_ARROWS)) {
    cli_errorf(
        "not writing binary Arrow data to a terminal: pass --output FILE or redirect "
        "(> FILE)");
    return CLI_EXIT_USAGE;
  }
  /* A UTF-8 terminal shows nulls as ∅ and cut values with …; others NULL and .... */
  a.out.unicode = to_stdout && isatty(STDOUT_FILENO) && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

  cflight_error err = {0};
  cflight_descriptor *d = NULL;
  cflight_ticket *ticket = NULL;
  if (a.ticket != NULL) {
    if (cflight_ticket_new(a.ticket, strlen(a.ticket), &ticket, &err) != CFLIGHT_OK) {
      cli_errorf("bad ticket: %s", err.message);
      return CLI_EXIT_USAGE;
    }
  } else if (conn_descriptor(a.cmd ? NULL : a.pos.values[1], a.cmd, &d, &err) != CFLIGHT_OK) {
    cli_errorf("bad flight name: %s", err.message);
    return CLI_EXIT_USAGE;
  }

  getter g = {0};
  g.args = &a;
  g.ticket = ticket;
  atomic_init(&g.next, 0);
  atomic_init(&g.stop, false);
  pthread_mutex_init(&g.lock, NULL);
  char what[1300], dbuf[1200];
  snprintf(what, sizeof(what), "get %s",
           d != NULL ? conn_describe_descriptor(d, dbuf, sizeof(dbuf)) : "ticket");

  cflight_flight_info *info = NULL;
  char tmp_path[4200] = "";
  rc = CLI_EXIT_OK;
  if (conn_open(&a.conn, a.pos.values[0], &g.primary, &err) != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], "cannot log in", &err, &a.conn);
  } else if (d != NULL &&
             cflight_client_get_flight_info(conn_client(g.primary), d, conn_call_options(g.primary),
                                            &info, &err) != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], what, &err, &a.conn);
  }
  if (rc == CLI_EXIT_OK) {
    g.info = info;
    g.n_endpoints = info != NULL ? cflight_flight_info_endpoint_count(info) : 1;
    if (to_stdout) {
      g.fp = stdout;
    } else {
      /* Written beside the target and renamed at the end: never half a file. */
      snprintf(tmp_path, sizeof(tmp_path), "%s.cflight-tmp-%ld", a.output, (long)getpid());
      g.fp = fopen(tmp_path, "wb");
      if (g.fp != NULL) {
        memcpy(interrupted_tmp, tmp_path, sizeof(interrupted_tmp));
        signal(SIGINT, on_interrupt);
        signal(SIGTERM, on_interrupt);
        signal(SIGHUP, on_interrupt);
      }
      if (g.fp == NULL) {
        cli_errorf("cannot write %s: %s", a.output, strerror(errno));
        tmp_path[0] = '\0';
        rc = CLI_EXIT_FAILURE;
      }
    }
  }
  if (rc == CLI_EXIT_OK) {
    const char *label = strncmp(what, "get path ", 9) == 0 ? what + 9 : what + 4;
    g.bar = progress_start(a.progress, label, info ? cflight_flight_info_total_records(info) : -1,
                           info ? cflight_flight_info_total_bytes(info) : -1);
    bool ordered = info == NULL || cflight_flight_info_ordered(info);
    size_t n_threads = ordered ? 1 : (size_t)a.parallel;
    if (n_threads > g.n_endpoints) n_threads = g.n_endpoints;
    pthread_t threads[MAX_PARALLEL];
    size_t started = 0;
    for (size_t i = 1; i < n_threads; i++) {
      if (pthread_create(&threads[started], NULL, worker, &g) == 0) started++;
    }
    worker(&g); /* this thread works too */
    for (size_t i = 0; i < started; i++)
      pthread_join(threads[i], NULL);
    progress_finish(g.bar);
    if (g.rc == CFLIGHT_OK && g.sink == NULL && info != NULL) {
      /* No endpoint (or none with data): the FlightInfo's schema, no rows. */
      struct ArrowSchema s;
      if (cflight_flight_info_schema(info, &s, NULL) == CFLIGHT_OK) {
        if (out_sink_open(&a.out, g.fp, &s, &g.sink, &err) != CFLIGHT_OK) {
          fail(&g, err.code, &err, "output", true);
        }
        cf_schema_release(&s);
      }
    }
    if (g.rc == CFLIGHT_OK && g.sink != NULL && out_sink_close(g.sink, &err) != CFLIGHT_OK) {
      fail(&g, err.code, &err, "output", true);
    }
    if (g.rc == CFLIGHT_OK && g.fp != stdout && fclose(g.fp) != 0) {
      cflight_error_set(&err, CFLIGHT_IO_ERROR, "%s", strerror(errno));
      fail(&g, CFLIGHT_IO_ERROR, &err, a.output, true);
      g.fp = NULL;
    } else if (g.fp != stdout) {
      if (g.rc != CFLIGHT_OK) fclose(g.fp);
      g.fp = NULL;
    }
    if (g.rc != CFLIGHT_OK) {
      if (g.err_input) {
        cli_errorf("%s: %s", g.err_where, g.err.message);
        rc = CLI_EXIT_FAILURE;
      } else {
        rc = conn_report(a.pos.values[0], g.err_where, &g.err, &a.conn);
      }
    } else if (tmp_path[0] != '\0') {
      if (rename(tmp_path, a.output) != 0) {
        cli_errorf("cannot write %s: %s", a.output, strerror(errno));
        rc = CLI_EXIT_FAILURE;
      } else {
        tmp_path[0] = '\0';
        if (isatty(STDERR_FILENO)) {
          char nb[32];
          fprintf(stderr, "wrote %s rows to %s\n",
                  fmt_count(g.sink ? out_sink_rows(g.sink) : 0, nb, sizeof(nb)), a.output);
        }
      }
    }
  }
  if (tmp_path[0] != '\0') unlink(tmp_path);
  interrupted_tmp[0] = '\0';
  if (rc == CLI_EXIT_OK && to_stdout && fflush(stdout) != 0) {
    cli_errorf("writing the output failed: %s", strerror(errno));
    rc = CLI_EXIT_FAILURE;
  }
  out_sink_free(g.sink);
  for (size_t i = 0; i < g.n_pool; i++)
    conn_close(g.pool[i].c);
  conn_close(g.primary);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  cflight_ticket_free(ticket);
  pthread_mutex_destroy(&g.lock);
  return rc;
}
