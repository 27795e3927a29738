/* CSV to Arrow for `cflight put`: parsing with libcsv, column types
 * inferred from the data, and record batches of a bounded number of rows.
 *
 * Inference: a column whose non-empty values all parse as integers is
 * int64; as numbers, float64; as true/false, bool; as ISO 8601 dates
 * (2024-01-31), date32; as ISO 8601 date-times (2024-01-31T12:00:00,
 * optional fraction, 'T' or a space, optional Z or +HH:MM), timestamp in
 * microseconds (nanoseconds when a value has more than 6 fraction digits),
 * with time zone "UTC" when the values carry zones; anything else is a
 * string (binary when it is not UTF-8). Unquoted empty fields are null; a
 * quoted empty field ("") is an empty string. A regular file is read twice
 * (once to infer, once to convert); standard input is inferred from its
 * first rows, which are held in memory (at most SAMPLE_BYTES). */
#ifndef CLI_CSV_IMPORT_H
#define CLI_CSV_IMPORT_H

#include "util.h"

typedef struct csv_import_options {
  char delimiter;     /* default ',' */
  bool header;        /* the first row names the columns (default true) */
  int64_t batch_rows; /* rows per batch (default 65536) */
  /* Column types that override inference: "name=type,name=type" with
   * types int64, float64, bool, string, binary, date, timestamp (naive,
   * microseconds) and timestamptz (UTC). NULL: none. */
  const char *types;
} csv_import_options;

void csv_import_options_init(csv_import_options *o);

typedef struct csv_reader csv_reader;

/* Opens path ("-" for standard input), reads the header and infers the
 * column types. Errors name the file and the row. */
int csv_reader_open(const char *path, const csv_import_options *opts, csv_reader **out,
                    cflight_error *err);

/* A copy of the inferred schema. */
int csv_reader_schema(csv_reader *r, struct ArrowSchema *out, cflight_error *err);

/* The next batch (caller owns it), or a released array at the end. */
int csv_reader_next(csv_reader *r, struct ArrowArray *out, cflight_error *err);

/* Bytes of input consumed by the conversion so far, and the input's size
 * (-1 when unknown: standard input). */
int64_t csv_reader_position(const csv_reader *r);
int64_t csv_reader_size(const csv_reader *r);

void csv_reader_free(csv_reader *r);

/* The reader as an ArrowArrayStream, which takes it over (on failure too). */
int csv_reader_to_stream(csv_reader *r, struct ArrowArrayStream *out, cflight_error *err);

/* Parsers shared with the tests: each accepts exactly the whole text. */
bool csv_parse_int64(const char *s, size_t n, int64_t *out);
bool csv_parse_float64(const char *s, size_t n, double *out);
bool csv_parse_bool(const char *s, size_t n, bool *out);
bool csv_parse_date(const char *s, size_t n, int32_t *days);
/* A date-time: seconds since the epoch (UTC when the text has a zone),
 * nanoseconds, whether it had a zone, and its number of fraction digits. */
bool csv_parse_timestamp(const char *s, size_t n, int64_t *secs, int32_t *nanos, bool *zoned,
                         int *frac_digits);

#endif /* CLI_CSV_IMPORT_H */
