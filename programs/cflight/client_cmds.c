/* The small client commands: list, info, schema, actions, action, exchange.
 * (get and put, the data movers, have their own files.) */
#include <pthread.h>
#include <unistd.h>

#include "arrow/arrow.h"
#include "cli.h"
#include "conn.h"
#include "input.h"
#include "render.h"

#define MAX_POS 8

/* What every client command parses: connection options and positionals. */
typedef struct client_args {
  conn_opts conn;
  args_positional pos;
  const char *cmd; /* --cmd */
  bool json;       /* --format json */
  const char *body_file;
  const char *format; /* exchange: input format */
  csv_import_options csv;
} client_args;

enum { A_CMD = 1, A_FORMAT, A_BODY_FILE, A_INPUT_FORMAT };

static const char *const conn_title = "Connection options";

static int on_client_arg(void *ctx, const arg_spec *spec, const char *value, char *msg,
                         size_t cap) {
  client_args *a = ctx;
  if (spec == NULL) return args_add_positional(&a->pos, MAX_POS, value, msg, cap);
  if (spec->id >= CONN_OPT_BASE) return conn_opts_apply(&a->conn, spec, value, msg, cap);
  switch (spec->id) {
    case A_CMD:
      a->cmd = value;
      return 0;
    case A_FORMAT:
      if (strcmp(value, "json") == 0) {
        a->json = true;
      } else if (strcmp(value, "text") == 0 || strcmp(value, "table") == 0) {
        a->json = false;
      } else {
        snprintf(msg, cap, "--format wants text or json, not '%s'", value);
        return 1;
      }
      return 0;
    case A_BODY_FILE:
      a->body_file = value;
      return 0;
    case A_INPUT_FORMAT:
      a->format = value;
      return 0;
  }
  return 1;
}

static int need_args(const char *command, const client_args *a, int min, int max,
                     const char *usage) {
  if (a->pos.count < min || a->pos.count > max) {
    fprintf(stderr, "cflight %s: %s\nUsage: %s\nTry 'cflight %s --help'.\n", command,
            a->pos.count < min ? "missing arguments" : "too many arguments", usage, command);
    return CLI_EXIT_USAGE;
  }
  return -1;
}

static int open_conn(client_args *a, conn **c) {
  cflight_error err = {0};
  if (conn_open(&a->conn, a->pos.values[0], c, &err) != CFLIGHT_OK) {
    return conn_report(a->pos.values[0], "cannot log in", &err, &a->conn);
  }
  return -1;
}

/* ---- Describing flights --------------------------------------------------------- */

static void json_bytes_field(sbuf *b, const char *key, const uint8_t *p, size_t n) {
  sb_printf(b, "\"%s\":", key);
  if (utf8_valid(p, n)) {
    sb_json_string(b, (const char *)p, n);
  } else {
    sb_putc(b, '"');
    sb_base64(b, p, n);
    sb_putc(b, '"');
  }
}

static void json_descriptor(sbuf *b, const cflight_descriptor *d) {
  if (d == NULL) {
    sb_puts(b, "null");
  } else if (cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_CMD) {
    size_t n;
    const uint8_t *cmd = cflight_descriptor_command(d, &n);
    sb_putc(b, '{');
    json_bytes_field(b, "cmd", cmd, n);
    sb_putc(b, '}');
  } else {
    sb_puts(b, "{\"path\":[");
    for (size_t i = 0; i < cflight_descriptor_path_count(d); i++) {
      if (i > 0) sb_putc(b, ',');
      const char *p = cflight_descriptor_path_part(d, i);
      sb_json_string(b, p, strlen(p));
    }
    sb_puts(b, "]}");
  }
}

/* The schema's fields as {"name": ..., "type": ..., "nullable": ...}. */
static void json_schema(sbuf *b, const struct ArrowSchema *s) {
  rfield root;
  sb_putc(b, '[');
  if (rfield_init(&root, s, NULL) == CFLIGHT_OK) {
    for (int64_t i = 0; i < root.n_children; i++) {
      if (i > 0) sb_putc(b, ',');
      const char *name = root.children[i].schema->name ? root.children[i].schema->name : "";
      sb_puts(b, "{\"name\":");
      sb_json_string(b, name, strlen(name));
      sb_puts(b, ",\"type\":");
      sbuf t;
      sb_init(&t);
      render_type(&t, &root.children[i]);
      sb_json_string(b, sb_str(&t), t.len);
      sb_free(&t);
      sb_printf(b, ",\"nullable\":%s}",
                (root.children[i].schema->flags & ARROW_FLAG_NULLABLE) ? "true" : "false");
    }
    rfield_free(&root);
  }
  sb_putc(b, ']');
}

static void text_ticket(sbuf *b, const cflight_ticket *t) {
  size_t n;
  const uint8_t *p = cflight_ticket_data(t, &n);
  bool printable = utf8_valid(p, n);
  for (size_t i = 0; i < n && printable; i++)
    printable = p[i] >= 0x20 && p[i] != 0x7F;
  if (printable) {
    sb_printf(b, "'%.*s'", (int)n, (const char *)p);
  } else {
    sb_puts(b, "0x");
    sb_hex(b, p, n > 64 ? 64 : n);
    if (n > 64) sb_puts(b, "...");
  }
}

static void describe_schema_text(FILE *out, const struct ArrowSchema *s, const char *indent) {
  rfield root;
  cflight_error err = {0};
  if (rfield_init(&root, s, &err) != CFLIGHT_OK) {
    fprintf(out, "%s(cannot show the schema: %s)\n", indent, err.message);
    return;
  }
  sbuf t;
  sb_init(&t);
  for (int64_t i = 0; i < root.n_children; i++) {
    const rfield *f = &root.children[i];
    sb_clear(&t);
    render_type(&t, f);
    fprintf(out, "%s%s: %s%s\n", indent, f->schema->name ? f->schema->name : "", sb_str(&t),
            (f->schema->flags & ARROW_FLAG_NULLABLE) ? "" : " not null");
    cf_metadata_iter it;
    cf_kv kv;
    cf_metadata_iter_init(&it, f->schema->metadata);
    while (cf_metadata_next(&it, &kv)) {
      fprintf(out, "%s    %.*s = %.*s\n", indent, (int)kv.key_len, kv.key, (int)kv.value_len,
              kv.value);
    }
  }
  if (root.n_children == 0) fprintf(out, "%s(no columns)\n", indent);
  cf_metadata_iter it;
  cf_kv kv;
  cf_metadata_iter_init(&it, s->metadata);
  bool first = true;
  while (cf_metadata_next(&it, &kv)) {
    if (first) fprintf(out, "%smetadata:\n", indent);
    first = false;
    fprintf(out, "%s  %.*s = %.*s\n", indent, (int)kv.key_len, kv.key, (int)kv.value_len, kv.value);
  }
  sb_free(&t);
  rfield_free(&root);
}

static void info_json(sbuf *b, const cflight_flight_info *info) {
  sb_puts(b, "{\"descriptor\":");
  json_descriptor(b, cflight_flight_info_descriptor(info));
  sb_printf(b, ",\"total_records\":%lld,\"total_bytes\":%lld,\"ordered\":%s,\"schema\":",
            (long long)cflight_flight_info_total_records(info),
            (long long)cflight_flight_info_total_bytes(info),
            cflight_flight_info_ordered(info) ? "true" : "false");
  struct ArrowSchema s;
  if (cflight_flight_info_schema(info, &s, NULL) == CFLIGHT_OK) {
    json_schema(b, &s);
    cf_schema_release(&s);
  } else {
    sb_puts(b, "null");
  }
  sb_puts(b, ",\"endpoints\":[");
  for (size_t i = 0; i < cflight_flight_info_endpoint_count(info); i++) {
    const cflight_endpoint *e = cflight_flight_info_endpoint(info, i);
    if (i > 0) sb_putc(b, ',');
    sb_putc(b, '{');
    const cflight_ticket *t = cflight_endpoint_ticket(e);
    if (t != NULL) {
      size_t n;
      const uint8_t *p = cflight_ticket_data(t, &n);
      json_bytes_field(b, "ticket", p, n);
      sb_putc(b, ',');
    }
    sb_puts(b, "\"locations\":[");
    for (size_t k = 0; k < cflight_endpoint_location_count(e); k++) {
      const char *uri = cflight_location_uri(cflight_endpoint_location(e, k));
      if (k > 0) sb_putc(b, ',');
      sb_json_string(b, uri, strlen(uri));
    }
    sb_puts(b, "]}");
  }
  sb_puts(b, "]}");
}

static void info_text(FILE *out, const cflight_flight_info *info) {
  char buf[1200], nb[32];
  fprintf(out, "descriptor:    %s\n",
          conn_describe_descriptor(cflight_flight_info_descriptor(info), buf, sizeof(buf)));
  int64_t rows = cflight_flight_info_total_records(info);
  int64_t bytes = cflight_flight_info_total_bytes(info);
  if (rows >= 0) {
    fprintf(out, "total_records: %lld\n", (long long)rows);
  } else {
    fprintf(out, "total_records: unknown\n");
  }
  if (bytes >= 0) {
    fprintf(out, "total_bytes:   %lld (%s)\n", (long long)bytes,
            fmt_bytes((double)bytes, nb, sizeof(nb)));
  } else {
    fprintf(out, "total_bytes:   unknown\n");
  }
  fprintf(out, "ordered:       %s\n", cflight_flight_info_ordered(info) ? "true" : "false");
  struct ArrowSchema s;
  cflight_error err = {0};
  if (cflight_flight_info_schema(info, &s, &err) == CFLIGHT_OK) {
    fprintf(out, "schema:\n");
    describe_schema_text(out, &s, "  ");
    cf_schema_release(&s);
  } else {
    fprintf(out, "schema:        (none: %s)\n", err.message);
  }
  size_t n = cflight_flight_info_endpoint_count(info);
  fprintf(out, "endpoints:     %zu\n", n);
  sbuf b;
  sb_init(&b);
  for (size_t i = 0; i < n; i++) {
    const cflight_endpoint *e = cflight_flight_info_endpoint(info, i);
    sb_clear(&b);
    const cflight_ticket *t = cflight_endpoint_ticket(e);
    if (t != NULL) {
      text_ticket(&b, t);
    } else {
      sb_puts(&b, "(none)");
    }
    fprintf(out, "  [%zu] ticket %s\n", i + 1, sb_str(&b));
    size_t nl = cflight_endpoint_location_count(e);
    if (nl == 0) fprintf(out, "      location: this server\n");
    for (size_t k = 0; k < nl; k++) {
      fprintf(out, "      location: %s\n", cflight_location_uri(cflight_endpoint_location(e, k)));
    }
  }
  sb_free(&b);
}

/* ---- list ------------------------------------------------------------------------------ */

static const arg_spec list_specs[] = {
    {"format", 'f', "FORMAT", A_FORMAT, "text (default) or json (one FlightInfo per line)"},
    {NULL, 0, NULL, 0, NULL},
};

typedef struct list_row {
  char *name, *rows, *size;
} list_row;

int cmd_list(int argc, char **argv) {
  client_args a = {0};
  const arg_spec *groups[] = {list_specs, conn_specs};
  const char *titles[] = {"Options", conn_title};
  const char *usage = "cflight list URI [PREFIX] [OPTIONS]";
  int rc = cli_parse("list", groups, titles, 2, argc, argv, on_client_arg, &a, usage,
                     "Lists the flights of a Flight server (ListFlights). PREFIX is sent as the\n"
                     "criteria; cflight serve lists the datasets whose path starts with it.\n",
                     CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if ((rc = need_args("list", &a, 1, 2, usage)) >= 0) return rc;
  conn *c;
  if ((rc = open_conn(&a, &c)) >= 0) return rc;
  cflight_error err = {0};
  cflight_info_iter *it = NULL;
  const char *prefix = a.pos.count > 1 ? a.pos.values[1] : NULL;
  int st = cflight_client_list_flights(conn_client(c), prefix, prefix ? strlen(prefix) : 0,
                                       conn_call_options(c), &it, &err);
  list_row *rows = NULL;
  size_t n = 0, cap = 0;
  int w_name = 4, w_rows = 4, w_size = 4;
  sbuf b;
  sb_init(&b);
  while (st == CFLIGHT_OK) {
    cflight_flight_info *info = NULL;
    st = cflight_info_iter_next(it, &info, &err);
    if (st != CFLIGHT_OK || info == NULL) break;
    if (a.json) {
      sb_clear(&b);
      info_json(&b, info);
      printf("%s\n", sb_str(&b));
    } else {
      if (n == cap) {
        cap = cap ? cap * 2 : 32;
        list_row *p = realloc(rows, cap * sizeof(*p));
        if (p == NULL) {
          st = CF_NOMEM(&err, "the list");
          cflight_flight_info_free(info);
          break;
        }
        rows = p;
      }
      char buf[1200], nb[32];
      const cflight_descriptor *d = cflight_flight_info_descriptor(info);
      const char *name = conn_describe_descriptor(d, buf, sizeof(buf));
      if (d != NULL && cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_PATH) name += 5;
      list_row *r = &rows[n++];
      r->name = strdup(name);
      int64_t nr = cflight_flight_info_total_records(info);
      int64_t nbytes = cflight_flight_info_total_bytes(info);
      r->rows = strdup(nr >= 0 ? fmt_count(nr, nb, sizeof(nb)) : "?");
      r->size = strdup(nbytes >= 0 ? fmt_bytes((double)nbytes, nb, sizeof(nb)) : "?");
      if (r->name && (int)strlen(r->name) > w_name) w_name = (int)strlen(r->name);
      if (r->rows && (int)strlen(r->rows) > w_rows) w_rows = (int)strlen(r->rows);
      if (r->size && (int)strlen(r->size) > w_size) w_size = (int)strlen(r->size);
    }
    cflight_flight_info_free(info);
  }
  sb_free(&b);
  cflight_info_iter_free(it);
  if (st == CFLIGHT_OK && !a.json) {
    printf("%-*s  %*s  %*s\n", w_name, "path", w_rows, "rows", w_size, "size");
    for (size_t i = 0; i < n; i++) {
      printf("%-*s  %*s  %*s\n", w_name, rows[i].name ? rows[i].name : "?", w_rows,
             rows[i].rows ? rows[i].rows : "?", w_size, rows[i].size ? rows[i].size : "?");
    }
    printf("(%zu flight%s)\n", n, n == 1 ? "" : "s");
  }
  for (size_t i = 0; i < n; i++) {
    free(rows[i].name);
    free(rows[i].rows);
    free(rows[i].size);
  }
  free(rows);
  rc = st == CFLIGHT_OK ? CLI_EXIT_OK : conn_report(a.pos.values[0], "list", &err, &a.conn);
  conn_close(c);
  return rc;
}

/* ---- info and schema ---------------------------------------------------------------- */

static const arg_spec info_specs[] = {
    {"cmd", 'c', "COMMAND", A_CMD, "name the flight by a command descriptor instead of a path"},
    {"format", 'f', "FORMAT", A_FORMAT, "text (default) or json"},
    {NULL, 0, NULL, 0, NULL},
};

static int info_or_schema(int argc, char **argv, bool schema_only) {
  client_args a = {0};
  const arg_spec *groups[] = {info_specs, conn_specs};
  const char *titles[] = {"Options", conn_title};
  const char *command = schema_only ? "schema" : "info";
  const char *usage = schema_only ? "cflight schema URI PATH|--cmd COMMAND [OPTIONS]"
                                  : "cflight info URI PATH|--cmd COMMAND [OPTIONS]";
  int rc = cli_parse(command, groups, titles, 2, argc, argv, on_client_arg, &a, usage,
                     schema_only ? "Shows the schema of a flight (GetSchema). PATH is a path "
                                   "descriptor\nwritten with slashes: sales/2024.\n"
                                 : "Shows a flight's FlightInfo (GetFlightInfo): schema, "
                                   "row and byte\ncounts, and endpoints (tickets and "
                                   "locations). PATH is a path\ndescriptor written with "
                                   "slashes: sales/2024.\n",
                     CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if ((rc = need_args(command, &a, a.cmd ? 1 : 2, a.cmd ? 1 : 2, usage)) >= 0) return rc;
  cflight_error err = {0};
  cflight_descriptor *d = NULL;
  if (conn_descriptor(a.cmd ? NULL : a.pos.values[1], a.cmd, &d, &err) != CFLIGHT_OK) {
    cli_errorf("bad flight name: %s", err.message);
    return CLI_EXIT_USAGE;
  }
  conn *c;
  if ((rc = open_conn(&a, &c)) >= 0) {
    cflight_descriptor_free(d);
    return rc;
  }
  char what[1300], dbuf[1200];
  snprintf(what, sizeof(what), "%s %s", command, conn_describe_descriptor(d, dbuf, sizeof(dbuf)));
  if (schema_only) {
    struct ArrowSchema s = {0};
    rc = cflight_client_get_schema(conn_client(c), d, conn_call_options(c), &s, &err);
    if (rc == CFLIGHT_OK) {
      if (a.json) {
        sbuf b;
        sb_init(&b);
        json_schema(&b, &s);
        printf("%s\n", sb_str(&b));
        sb_free(&b);
      } else {
        describe_schema_text(stdout, &s, "");
      }
      cf_schema_release(&s);
    }
  } else {
    cflight_flight_info *info = NULL;
    rc = cflight_client_get_flight_info(conn_client(c), d, conn_call_options(c), &info, &err);
    if (rc == CFLIGHT_OK) {
      if (a.json) {
        sbuf b;
        sb_init(&b);
        info_json(&b, info);
        printf("%s\n", sb_str(&b));
        sb_free(&b);
      } else {
        info_text(stdout, info);
      }
      cflight_flight_info_free(info);
    }
  }
  rc = rc == CFLIGHT_OK ? CLI_EXIT_OK : conn_report(a.pos.values[0], what, &err, &a.conn);
  conn_close(c);
  cflight_descriptor_free(d);
  return rc;
}

int cmd_info(int argc, char **argv) {
  return info_or_schema(argc, argv, false);
}

int cmd_schema(int argc, char **argv) {
  return info_or_schema(argc, argv, true);
}

/* ---- actions and action -------------------------------------------------------------- */

static const arg_spec no_specs[] = {{NULL, 0, NULL, 0, NULL}};

int cmd_actions(int argc, char **argv) {
  client_args a = {0};
  const arg_spec *groups[] = {no_specs, conn_specs};
  const char *titles[] = {"Options", conn_title};
  const char *usage = "cflight actions URI [OPTIONS]";
  int rc = cli_parse("actions", groups, titles, 2, argc, argv, on_client_arg, &a, usage,
                     "Lists the actions a server offers (ListActions), with their descriptions.\n"
                     "Run one with 'cflight action URI TYPE [BODY]'.\n",
                     CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if ((rc = need_args("actions", &a, 1, 1, usage)) >= 0) return rc;
  conn *c;
  if ((rc = open_conn(&a, &c)) >= 0) return rc;
  cflight_error err = {0};
  cflight_action_type_iter *it = NULL;
  int st = cflight_client_list_actions(conn_client(c), conn_call_options(c), &it, &err);
  while (st == CFLIGHT_OK) {
    cflight_action_type *t = NULL;
    st = cflight_action_type_iter_next(it, &t, &err);
    if (st != CFLIGHT_OK || t == NULL) break;
    const char *desc = cflight_action_type_description(t);
    printf("%s\n", cflight_action_type_get_type(t));
    /* Descriptions are indented under their action, line by line. */
    for (const char *p = desc != NULL ? desc : ""; *p != '\0';) {
      const char *nl = strchr(p, '\n');
      size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
      printf("    %.*s\n", (int)len, p);
      p += len + (nl != NULL);
    }
    cflight_action_type_free(t);
  }
  cflight_action_type_iter_free(it);
  rc = st == CFLIGHT_OK ? CLI_EXIT_OK : conn_report(a.pos.values[0], "actions", &err, &a.conn);
  conn_close(c);
  return rc;
}

static const arg_spec action_specs[] = {
    {"body-file", 'b', "FILE", A_BODY_FILE, "read the body from FILE ('-': standard input)"},
    {NULL, 0, NULL, 0, NULL},
};

int cmd_action(int argc, char **argv) {
  client_args a = {0};
  const arg_spec *groups[] = {action_specs, conn_specs};
  const char *titles[] = {"Options", conn_title};
  const char *usage = "cflight action URI TYPE [BODY] [OPTIONS]";
  int rc = cli_parse(
      "action", groups, titles, 2, argc, argv, on_client_arg, &a, usage,
      "Runs an action (DoAction) and prints each result on its own line (text as\n"
      "it is, other bytes as hex). 'cflight actions URI' lists a server's actions.\n"
      "\n"
      "cflight serve's actions:\n"
      "  list [PREFIX]                     the datasets, one JSON object per line\n"
      "  stats                             {\"datasets\": N, \"rows\": N, \"bytes\": N}\n"
      "  drop PATH                         delete a dataset\n"
      "  rename '{\"from\": \"a\", \"to\": \"b\"}'   rename (\"replace\": true overwrites)\n",
      CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if ((rc = need_args("action", &a, 2, 3, usage)) >= 0) return rc;
  char *body = NULL;
  size_t body_len = 0;
  cflight_error err = {0};
  if (a.body_file != NULL) {
    if (a.pos.count == 3) {
      cli_errorf("give the body either as an argument or with --body-file, not both");
      return CLI_EXIT_USAGE;
    }
    if (strcmp(a.body_file, "-") == 0) {
      sbuf b;
      sb_init(&b);
      char chunk[4096];
      size_t n;
      while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        sb_put(&b, chunk, n);
      body_len = b.len;
      body = sb_take(&b);
    } else if (read_text_file(a.body_file, "body file", (size_t)1 << 30, &body, &body_len, &err) !=
               CFLIGHT_OK) {
      cli_errorf("%s", err.message);
      return CLI_EXIT_FAILURE;
    }
  } else if (a.pos.count == 3) {
    body = strdup(a.pos.values[2]);
    body_len = strlen(a.pos.values[2]);
  }
  cflight_action *action = NULL;
  if (cflight_action_new(a.pos.values[1], body, body_len, &action, &err) != CFLIGHT_OK) {
    free(body);
    cli_errorf("bad action: %s", err.message);
    return CLI_EXIT_USAGE;
  }
  free(body);
  conn *c;
  if ((rc = open_conn(&a, &c)) >= 0) {
    cflight_action_free(action);
    return rc;
  }
  cflight_result_iter *it = NULL;
  int st = cflight_client_do_action(conn_client(c), action, conn_call_options(c), &it, &err);
  sbuf b;
  sb_init(&b);
  while (st == CFLIGHT_OK) {
    cflight_result *r = NULL;
    st = cflight_result_iter_next(it, &r, &err);
    if (st != CFLIGHT_OK || r == NULL) break;
    size_t n;
    const uint8_t *p = cflight_result_body(r, &n);
    if (utf8_valid(p, n)) {
      fwrite(p, 1, n, stdout);
      if (n == 0 || p[n - 1] != '\n') fputc('\n', stdout);
    } else {
      sb_clear(&b);
      sb_hex(&b, p, n);
      printf("0x%s\n", sb_str(&b));
    }
    cflight_result_free(r);
  }
  sb_free(&b);
  cflight_result_iter_free(it);
  char what[300];
  snprintf(what, sizeof(what), "action %s", a.pos.values[1]);
  rc = st == CFLIGHT_OK ? CLI_EXIT_OK : conn_report(a.pos.values[0], what, &err, &a.conn);
  if (fflush(stdout) != 0) rc = CLI_EXIT_FAILURE;
  cflight_action_free(action);
  conn_close(c);
  return rc;
}

/* ---- exchange --------------------------------------------------------------------------- */

static const arg_spec exchange_specs[] = {
    {"cmd", 'c', "COMMAND", A_CMD, "send a command descriptor (default: path 'exchange')"},
    {"format", 'f', "FORMAT", A_INPUT_FORMAT, "input format: auto (default), arrow, csv, tsv"},
    {NULL, 0, NULL, 0, NULL},
};

/* The batches sent, kept until their echo came back and was compared. */
typedef struct exch_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct ArrowArray *sent; /* ring of MAX_IN_FLIGHT */
  int64_t n_sent, n_checked;
  bool writing_done;
  const struct ArrowSchema *schema;
  cflight_stream_reader *reader;
  int rc;
  cflight_error err;
  int64_t rows;
} exch_state;

#define MAX_IN_FLIGHT 64

static void *exch_read(void *arg) {
  exch_state *st = arg;
  cflight_error err = {0};
  int rc = CFLIGHT_OK;
  for (;;) {
    cflight_chunk chunk = {0};
    bool end = false;
    rc = cflight_stream_reader_next(st->reader, &chunk, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    if (chunk.data.release == NULL) {
      cflight_chunk_release(&chunk);
      continue;
    }
    pthread_mutex_lock(&st->lock);
    while (st->n_checked == st->n_sent && !st->writing_done) {
      pthread_cond_wait(&st->cond, &st->lock);
    }
    bool extra = st->n_checked == st->n_sent;
    struct ArrowArray *want = extra ? NULL : &st->sent[st->n_checked % MAX_IN_FLIGHT];
    pthread_mutex_unlock(&st->lock);
    if (extra) {
      rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA,
                             "the server sent back more batches than were sent");
    } else {
      rc = cflight_array_equal(st->schema, want, &chunk.data, &err);
      if (rc != CFLIGHT_OK) {
        err_prefix(&err, "batch %lld came back different", (long long)st->n_checked + 1);
      }
      st->rows += chunk.data.length;
      pthread_mutex_lock(&st->lock);
      cf_array_release(want);
      st->n_checked++;
      pthread_cond_broadcast(&st->cond);
      pthread_mutex_unlock(&st->lock);
    }
    cflight_chunk_release(&chunk);
    if (rc != CFLIGHT_OK) break;
  }
  pthread_mutex_lock(&st->lock);
  st->rc = rc;
  if (rc != CFLIGHT_OK) cflight_error_move(&st->err, &err);
  st->writing_done = true; /* stops a writer waiting for room */
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
  if (rc != CFLIGHT_OK) cflight_stream_reader_cancel(st->reader);
  return NULL;
}

int cmd_exchange(int argc, char **argv) {
  client_args a = {0};
  csv_import_options_init(&a.csv);
  const arg_spec *groups[] = {exchange_specs, conn_specs};
  const char *titles[] = {"Options", conn_title};
  const char *usage = "cflight exchange URI FILE [PATH] [OPTIONS]";
  int rc = cli_parse("exchange", groups, titles, 2, argc, argv, on_client_arg, &a, usage,
                     "Sends the batches of FILE (Arrow IPC or CSV) in a DoExchange and checks\n"
                     "that the server sends the same batches back, as cflight serve does: a\n"
                     "round-trip test of a server and the network between.\n",
                     CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  if ((rc = need_args("exchange", &a, 2, 3, usage)) >= 0) return rc;
  cflight_error err = {0};
  cflight_descriptor *d = NULL;
  if (conn_descriptor(a.pos.count == 3 ? a.pos.values[2] : "exchange", a.cmd, &d, &err) !=
      CFLIGHT_OK) {
    cli_errorf("bad flight name: %s", err.message);
    return CLI_EXIT_USAGE;
  }
  input in;
  if (input_open(a.pos.values[1], a.format, &a.csv, &in, &err) != CFLIGHT_OK) {
    cflight_descriptor_free(d);
    cli_errorf("%s", err.message);
    return CLI_EXIT_FAILURE;
  }
  conn *c;
  if ((rc = open_conn(&a, &c)) >= 0) {
    input_close(&in);
    cflight_descriptor_free(d);
    return rc;
  }
  exch_state st = {0};
  pthread_mutex_init(&st.lock, NULL);
  pthread_cond_init(&st.cond, NULL);
  st.schema = &in.schema;
  st.sent = cf_calloc(MAX_IN_FLIGHT, sizeof(struct ArrowArray));
  cflight_stream_writer *w = NULL;
  int call = st.sent != NULL ? CFLIGHT_OK : CF_NOMEM(&err, "batches");
  if (call == CFLIGHT_OK) {
    call =
        cflight_client_do_exchange(conn_client(c), d, conn_call_options(c), &w, &st.reader, &err);
  }
  if (call == CFLIGHT_OK) call = cflight_stream_writer_begin(w, &in.schema, &err);
  pthread_t reader;
  bool reading = call == CFLIGHT_OK && pthread_create(&reader, NULL, exch_read, &st) == 0;
  int64_t batches = 0;
  bool input_failed = false;
  while (reading && call == CFLIGHT_OK) {
    struct ArrowArray batch;
    if (input_next(&in, &batch, &err) != CFLIGHT_OK) {
      input_failed = true;
      break;
    }
    if (batch.release == NULL) break;
    call = cflight_stream_writer_write(w, &batch, NULL, 0, &err);
    pthread_mutex_lock(&st.lock);
    while (st.n_sent - st.n_checked == MAX_IN_FLIGHT && !st.writing_done) {
      pthread_cond_wait(&st.cond, &st.lock);
    }
    bool stop = st.writing_done;
    if (call == CFLIGHT_OK && !stop) {
      cf_array_move(&batch, &st.sent[st.n_sent % MAX_IN_FLIGHT]);
      st.n_sent++;
      batches++;
      pthread_cond_broadcast(&st.cond);
    }
    pthread_mutex_unlock(&st.lock);
    cf_array_release(&batch);
    if (stop) break;
  }
  if (call == CFLIGHT_OK && !input_failed) call = cflight_stream_writer_done_writing(w, &err);
  if (input_failed || call != CFLIGHT_OK) cflight_stream_reader_cancel(st.reader);
  pthread_mutex_lock(&st.lock);
  st.writing_done = true;
  pthread_cond_broadcast(&st.cond);
  pthread_mutex_unlock(&st.lock);
  if (reading) pthread_join(reader, NULL);
  cflight_error close_err = {0};
  int closed = w != NULL ? cflight_stream_writer_close(w, &close_err) : CFLIGHT_OK;
  if (input_failed) {
    cli_errorf("%s", err.message);
    rc = CLI_EXIT_FAILURE;
  } else if (call != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], "exchange", &err, &a.conn);
  } else if (st.rc != CFLIGHT_OK && st.rc != CFLIGHT_CANCELLED) {
    rc = conn_report(a.pos.values[0], "exchange", &st.err, &a.conn);
  } else if (closed != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], "exchange", &close_err, &a.conn);
  } else if (st.n_checked != st.n_sent) {
    cli_errorf("exchange: %lld batches were sent but %lld came back", (long long)st.n_sent,
               (long long)st.n_checked);
    rc = CLI_EXIT_FAILURE;
  } else {
    char nb[32];
    printf("exchanged %lld batch%s (%s rows): the server sent back the same data\n",
           (long long)batches, batches == 1 ? "" : "es", fmt_count(st.rows, nb, sizeof(nb)));
    rc = CLI_EXIT_OK;
  }
  for (int64_t k = st.n_checked; k < st.n_sent; k++)
    cf_array_release(&st.sent[k % MAX_IN_FLIGHT]);
  free(st.sent);
  cflight_error_reset(&st.err);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(st.reader);
  pthread_mutex_destroy(&st.lock);
  pthread_cond_destroy(&st.cond);
  conn_close(c);
  input_close(&in);
  cflight_descriptor_free(d);
  return rc;
}
