/* Shared by the IPC integration programs: command-line flags in the forms
 * Arrow's harness uses (gflags: -flag, --flag, -flag=value, --flag value,
 * --noflag), copying a stream of batches into an IPC writer, and messages. */
#ifndef CF_IPC_INTEGRATION_COMMON_H
#define CF_IPC_INTEGRATION_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "arrow/arrow.h"

typedef enum flag_kind { FLAG_BOOL, FLAG_STRING } flag_kind;

typedef struct flag_def {
  const char *name;
  flag_kind kind;
  const char *help; /* NULL: accepted but not listed */
  bool *bool_value;
  const char **string_value;
} flag_def;

/* Parses argv against defs; positional arguments go to positional[] (at most
 * max_positional). Returns 0, or prints what is wrong (prefixed with prog)
 * and returns 2. Sets *help when -help/--help was given. */
int flags_parse(const char *prog, int argc, char **argv, const flag_def *defs, size_t n_defs,
                const char **positional, int max_positional, int *n_positional, bool *help);

void flags_usage(FILE *out, const flag_def *defs, size_t n_defs);

/* Reads every batch of `in` and writes it with `out` (not closed). */
int copy_batches(struct ArrowArrayStream *in, cflight_ipc_writer *out, const char *in_label,
                 int64_t *n_batches, cflight_error *err);

/* An error from a C stream, as a cflight error naming what was read. */
int stream_failure(struct ArrowArrayStream *st, int errno_code, const char *label,
                   cflight_error *err);

/* Reads all of fd into a buffer (for stdin). */
int read_all_fd(int fd, const char *label, cflight_buffer **out, cflight_error *err);

/* Parses none|lz4|zstd (any case). */
bool parse_compression(const char *s, cflight_compression *out);

#endif
