/* Data files for `cflight put` and `cflight exchange`: Arrow IPC files and
 * streams (told apart by their bytes, memory-mapped when they are files)
 * and CSV (by extension, or --format csv), all read as a stream of batches
 * that are checked in full before they are sent. */
#ifndef CLI_INPUT_H
#define CLI_INPUT_H

#include "csv_import.h"

typedef struct input {
  struct ArrowArrayStream stream;
  struct ArrowSchema schema;
  csv_reader *csv;  /* borrowed from the stream, for the position; NULL for Arrow */
  int64_t size;     /* bytes of the file, -1 when unknown (standard input) */
  const char *what; /* "CSV", "Arrow IPC file", "Arrow IPC stream" */
  char path[1024];
} input;

/* format: NULL or "auto" (by name and bytes), "csv", "tsv", "arrow" (either
 * IPC format). path "-" is standard input (an IPC stream unless csv). */
int input_open(const char *path, const char *format, const csv_import_options *csv_opts, input *out,
               cflight_error *err);

/* The next batch (validated in full), or a released array at the end. */
int input_next(input *in, struct ArrowArray *out, cflight_error *err);

/* Bytes of the input consumed so far, -1 when unknown. */
int64_t input_position(const input *in);

/* Counts the rows of an Arrow file without reading its values (a cheap
 * pass over the batches' metadata); -1 for CSV and standard input. */
int64_t input_count_rows(const input *in);

void input_close(input *in);

#endif /* CLI_INPUT_H */
