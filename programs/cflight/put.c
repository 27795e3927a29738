/* cflight put: uploads an Arrow IPC file or stream, or a CSV file, with
 * DoPut. Batches stream from the input (memory-mapped, or built from CSV a
 * batch at a time) and large ones are sent in slices of --batch-rows, so
 * memory stays bounded whatever the size. The server's PutResult
 * acknowledgements are read on a second thread as they come. */
#include <pthread.h>
#include <unistd.h>

#include "cli.h"
#include "conn.h"
#include "input.h"
#include "progress.h"

#define MAX_POS 4

typedef struct put_args {
  conn_opts conn;
  args_positional pos;
  const char *cmd, *format;
  csv_import_options csv;
  progress_mode progress;
  bool quiet;
} put_args;

enum { P_CMD = 1, P_FORMAT, P_BATCH, P_DELIM, P_NOHDR, P_TYPES, P_PROGRESS, P_QUIET };

static const arg_spec put_specs[] = {
    {"cmd", 'c', "COMMAND", P_CMD, "send a command descriptor instead of a path (then: URI FILE)"},
    {"format", 'f', "FORMAT", P_FORMAT,
     "input format: auto (default: .csv/.tsv files are CSV, others\nArrow IPC file or stream), "
     "arrow, csv, tsv"},
    {"batch-rows", 0, "N", P_BATCH, "rows per batch sent (default 65536)"},
    {"progress", 0, "WHEN", P_PROGRESS, "progress bar: auto (on a terminal), always, never"},
    {"quiet", 'q', NULL, P_QUIET, "no summary line"},
    {NULL, 0, NULL, 0, NULL},
};

static const arg_spec csv_specs[] = {
    {"delimiter", 'd', "CHAR", P_DELIM, "field delimiter (default ',', tab for .tsv; 'tab' works)"},
    {"no-header", 0, NULL, P_NOHDR, "the first row is data (columns are column_1, column_2, ...)"},
    {"types", 0, "NAME=TYPE,...", P_TYPES,
     "set column types instead of inferring them: int64, float64,\nbool, string, binary, date, "
     "timestamp, timestamptz"},
    {NULL, 0, NULL, 0, NULL},
};

static int on_put_arg(void *ctx, const arg_spec *spec, const char *value, char *msg, size_t cap) {
  put_args *a = ctx;
  if (spec == NULL) return args_add_positional(&a->pos, MAX_POS, value, msg, cap);
  if (spec->id >= CONN_OPT_BASE) return conn_opts_apply(&a->conn, spec, value, msg, cap);
  int64_t n;
  switch (spec->id) {
    case P_CMD:
      a->cmd = value;
      break;
    case P_FORMAT:
      a->format = value;
      break;
    case P_BATCH:
      if (!parse_i64(value, &n) || n < 1 || n > (1 << 30)) {
        snprintf(msg, cap, "--batch-rows wants a positive number, not '%s'", value);
        return 1;
      }
      a->csv.batch_rows = n;
      break;
    case P_DELIM:
      if (strcmp(value, "tab") == 0 || strcmp(value, "\\t") == 0) {
        a->csv.delimiter = '\t';
      } else if (strlen(value) == 1 && value[0] != '"' && value[0] != '\n') {
        a->csv.delimiter = value[0];
      } else {
        snprintf(msg, cap, "--delimiter wants one character, not '%s'", value);
        return 1;
      }
      break;
    case P_NOHDR:
      a->csv.header = false;
      break;
    case P_TYPES:
      a->csv.types = value;
      break;
    case P_PROGRESS:
      if (!progress_mode_parse(value, &a->progress)) {
        snprintf(msg, cap, "--progress wants auto, always or never, not '%s'", value);
        return 1;
      }
      break;
    case P_QUIET:
      a->quiet = true;
      break;
  }
  return 0;
}

/* The PutResult reader thread. */
typedef struct acks {
  cflight_metadata_reader *reader;
  int64_t count;
  char last[256];
  int rc; /* how the reading ended: the call's status */
  cflight_error err;
} acks;

static void *read_acks(void *arg) {
  acks *k = arg;
  for (;;) {
    cflight_buffer *b = NULL;
    k->rc = cflight_metadata_reader_read(k->reader, &b, &k->err);
    if (k->rc != CFLIGHT_OK || b == NULL) break;
    k->count++;
    size_t n = cflight_buffer_size(b);
    if (n >= sizeof(k->last)) n = sizeof(k->last) - 1;
    memcpy(k->last, cflight_buffer_data(b), n);
    k->last[n] = '\0';
    cflight_buffer_unref(b);
  }
  return NULL;
}

int cmd_put(int argc, char **argv) {
  put_args a = {0};
  csv_import_options_init(&a.csv);
  const arg_spec *groups[] = {put_specs, csv_specs, conn_specs};
  const char *titles[] = {"Options", "CSV options", "Connection options"};
  const char *usage = "cflight put URI PATH FILE [OPTIONS]   (FILE '-': standard input)";
  int rc =
      cli_parse("put", groups, titles, 3, argc, argv, on_put_arg, &a, usage,
                "Uploads FILE as the flight PATH (DoPut; with cflight serve, a new dataset\n"
                "or a replacement of the old one, which stays intact if the upload fails).\n"
                "FILE is an Arrow IPC file or stream, or CSV: a header row, then rows; column\n"
                "types are inferred (int64, float64, bool, date, timestamp, else string) and\n"
                "unquoted empty fields are null. Standard input is read as an Arrow IPC\n"
                "stream unless --format csv.\n",
                CLI_EXIT_CODES);
  if (rc >= 0) return rc;
  int want = a.cmd != NULL ? 2 : 3;
  if (a.pos.count != want) {
    fprintf(stderr, "cflight put: %s\nUsage: %s\nTry 'cflight put --help'.\n",
            a.pos.count < want ? "missing arguments" : "too many arguments", usage);
    return CLI_EXIT_USAGE;
  }
  const char *file = a.pos.values[want - 1];
  cflight_error err = {0};
  cflight_descriptor *d = NULL;
  if (conn_descriptor(a.cmd ? NULL : a.pos.values[1], a.cmd, &d, &err) != CFLIGHT_OK) {
    cli_errorf("bad flight name: %s", err.message);
    return CLI_EXIT_USAGE;
  }
  input in;
  if (input_open(file, a.format, &a.csv, &in, &err) != CFLIGHT_OK) {
    cflight_descriptor_free(d);
    cli_errorf("%s", err.message);
    return CLI_EXIT_FAILURE;
  }
  conn *c = NULL;
  if (conn_open(&a.conn, a.pos.values[0], &c, &err) != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], "cannot log in", &err, &a.conn);
    input_close(&in);
    cflight_descriptor_free(d);
    return rc;
  }
  char what[1300], dbuf[1200];
  snprintf(what, sizeof(what), "put %s", conn_describe_descriptor(d, dbuf, sizeof(dbuf)));
  const char *label = what + 4;
  if (strncmp(label, "path ", 5) == 0) label += 5;

  progress *bar = progress_start(a.progress, label, -1, -1);
  if (bar != NULL) progress_set_totals(bar, input_count_rows(&in), in.csv ? in.size : -1);

  int64_t start_ns = cf_now_ns();
  cflight_stream_writer *w = NULL;
  acks k = {0};
  int call = cflight_client_do_put(conn_client(c), d, &in.schema, conn_call_options(c), &w,
                                   &k.reader, &err);
  pthread_t ack_thread;
  bool acking = call == CFLIGHT_OK && pthread_create(&ack_thread, NULL, read_acks, &k) == 0;
  int64_t rows = 0, bytes = 0, batches = 0;
  bool input_failed = false;
  while (call == CFLIGHT_OK) {
    struct ArrowArray batch;
    if (input_next(&in, &batch, &err) != CFLIGHT_OK) {
      input_failed = true;
      break;
    }
    if (batch.release == NULL) break;
    int64_t nbytes = batch_nbytes(&in.schema, &batch);
    /* Large batches go in slices: shallow views of the batch (the encoder
     * honours a struct's offset and length), borrowed for the write. */
    int64_t step = a.csv.batch_rows;
    for (int64_t off = 0; call == CFLIGHT_OK && (off < batch.length || batch.length == 0);
         off += step) {
      struct ArrowArray view = batch;
      view.offset = batch.offset + off;
      view.length = batch.length - off < step ? batch.length - off : step;
      if (view.length != batch.length && view.null_count != 0) view.null_count = -1;
      call = cflight_stream_writer_write(w, &view, NULL, 0, &err);
      if (call == CFLIGHT_OK) {
        batches++;
        rows += view.length;
        int64_t share = batch.length > 0 ? nbytes * view.length / batch.length : nbytes;
        bytes += share;
        progress_add(bar, view.length, in.csv ? 0 : share);
        if (in.csv != NULL) progress_set_bytes(bar, input_position(&in));
      }
      if (batch.length == 0) break;
    }
    cf_array_release(&batch);
  }
  /* Read every acknowledgement before closing (closing drops the unread
   * ones); the call's status then says how the upload went. After a failed
   * write the call is cancelled, never finished, so that the server cannot
   * take a partial upload for a complete one; the server's own error, when
   * it ended the call, comes through the acknowledgements. */
  cflight_error close_err = {0};
  int closed = CFLIGHT_OK;
  if (w != NULL && (input_failed || call != CFLIGHT_OK)) {
    cflight_stream_writer_free(w); /* cancels: the server keeps the old version */
    w = NULL;
  } else if (w != NULL) {
    cflight_error e = {0};
    cflight_stream_writer_done_writing(w, &e);
    cflight_error_reset(&e);
  }
  if (acking) pthread_join(ack_thread, NULL);
  if (w != NULL) closed = cflight_stream_writer_close(w, &close_err);
  if (call != CFLIGHT_OK && acking && k.rc != CFLIGHT_OK && k.rc != CFLIGHT_CANCELLED) {
    cflight_error_move(&err, &k.err);
  }
  progress_finish(bar);
  double secs = (double)(cf_now_ns() - start_ns) / 1e9;
  if (input_failed) {
    cli_errorf("%s", err.message);
    cli_errorf("upload cancelled: the server keeps what it had under that name");
    rc = CLI_EXIT_FAILURE;
  } else if (closed != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], what, &close_err, &a.conn);
  } else if (call != CFLIGHT_OK) {
    rc = conn_report(a.pos.values[0], what, &err, &a.conn);
  } else {
    rc = CLI_EXIT_OK;
    if (!a.quiet) {
      char nr[32], nb[32], ns[32];
      fprintf(stderr, "put %s: %s rows in %lld batch%s (%s) from %s in %s", label,
              fmt_count(rows, nr, sizeof(nr)), (long long)batches, batches == 1 ? "" : "es",
              fmt_bytes((double)bytes, nb, sizeof(nb)), in.path, fmt_seconds(secs, ns, sizeof(ns)));
      bool printable = k.count > 0 && utf8_valid((const uint8_t *)k.last, strlen(k.last));
      for (const char *q = k.last; printable && *q != '\0'; q++)
        printable = (unsigned char)*q >= 0x20;
      if (printable) fprintf(stderr, "; server: %s", k.last);
      fputc('\n', stderr);
    }
  }
  cflight_error_reset(&close_err);
  cflight_error_reset(&k.err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(k.reader);
  conn_close(c);
  input_close(&in);
  cflight_descriptor_free(d);
  return rc;
}
