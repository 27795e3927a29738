/* Output formats of `cflight get` (and the other commands that print data):
 * an output sink takes record batches and writes them to a FILE as an
 * aligned table, CSV, JSON lines, or Arrow IPC (file or stream format).
 * Sinks stream: memory stays bounded by one batch (the table keeps the
 * rendered text of its first rows to size the columns). */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <pthread.h>

#include "render.h"

typedef enum out_format {
  OUT_TABLE = 0,
  OUT_CSV = 1,
  OUT_JSON = 2,  /* JSON lines: one object per row */
  OUT_ARROW = 3, /* Arrow IPC file format */
  OUT_ARROWS = 4 /* Arrow IPC stream format */
} out_format;

/* "table", "csv", "json", "arrow", "arrows" (also "jsonl", "ndjson",
 * "stream", "file", "ipc"); false for an unknown name. */
bool out_format_parse(const char *name, out_format *out);
/* The format an output file name implies (.csv, .json/.jsonl/.ndjson,
 * .arrow/.feather/.ipc, .arrows); false when the name says nothing. */
bool out_format_from_path(const char *path, out_format *out);
const char *out_format_name(out_format f);

typedef struct out_options {
  out_format format;
  int64_t limit;  /* most rows written; -1: all */
  int max_width;  /* table: widest column, in terminal cells (default 40) */
  bool unicode;   /* table: "∅" for null and "…" for cut values (else NULL and ...) */
  bool row_count; /* table: print "(N rows)" at the end */
  char delimiter; /* csv: field delimiter (default ',') */
  bool header;    /* csv: write the header row (default true) */
} out_options;

void out_options_init(out_options *o);

/* The interface each format implements (format_*.c). */
typedef struct out_impl {
  int (*begin)(void *state, cflight_error *err);
  /* Writes rows [0, n) of batch (a struct array; borrowed). */
  int (*write)(void *state, const struct ArrowArray *batch, int64_t n, cflight_error *err);
  int (*end)(void *state, int64_t total_rows, bool limited, cflight_error *err);
  void (*free)(void *state);
} out_impl;

/* What every format's state starts with. */
typedef struct out_base {
  FILE *fp;
  const out_options *opts;
  const struct ArrowSchema *schema; /* owned by the sink */
  rfield root;                      /* parsed schema (text formats) */
} out_base;

int out_table_new(out_base *base, void **state, const out_impl **impl, cflight_error *err);
int out_csv_new(out_base *base, void **state, const out_impl **impl, cflight_error *err);
int out_json_new(out_base *base, void **state, const out_impl **impl, cflight_error *err);
int out_ipc_new(out_base *base, void **state, const out_impl **impl, cflight_error *err);

typedef struct out_sink out_sink;

/* Opens a sink writing to fp (borrowed; not closed) for batches of schema
 * (copied). Text formats check that they can render the schema. */
int out_sink_open(const out_options *opts, FILE *fp, const struct ArrowSchema *schema,
                  out_sink **out, cflight_error *err);

/* Writes a batch (borrowed). Thread-safe: batches from several threads are
 * written one after another. Sets *done once the row limit is reached (later
 * batches are ignored). */
int out_sink_write(out_sink *s, const struct ArrowArray *batch, bool *done, cflight_error *err);

/* Writes the end (table footer, IPC footer) and flushes. */
int out_sink_close(out_sink *s, cflight_error *err);

int64_t out_sink_rows(const out_sink *s);
const struct ArrowSchema *out_sink_schema(const out_sink *s);
void out_sink_free(out_sink *s);

/* Writes to fp and flushes, turning a stdio failure into CFLIGHT_IO_ERROR. */
int out_fp_check(FILE *fp, cflight_error *err);

#endif /* CLI_FORMAT_H */
