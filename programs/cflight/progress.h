/* The progress bar of long gets and puts, on stderr when it is a terminal:
 *
 *   get sales/2024  [=========>          ]  48%  1,234,567 rows  12.3 MiB  4.1 MiB/s  0:03
 *
 * A thread redraws it a few times a second (so it moves while data
 * stalls); counters are atomic, so any number of threads may report. When
 * the total is unknown the bar is left out. */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include "util.h"

typedef enum progress_mode {
  PROGRESS_AUTO = 0, /* when stderr is a terminal */
  PROGRESS_ALWAYS = 1,
  PROGRESS_NEVER = 2,
} progress_mode;

bool progress_mode_parse(const char *s, progress_mode *out);

typedef struct progress progress;

/* Starts showing progress for `label` (copied). total_rows / total_bytes:
 * the expected totals, or -1 when unknown. Returns NULL (and shows nothing)
 * when the mode says no bar; every function accepts NULL. */
progress *progress_start(progress_mode mode, const char *label, int64_t total_rows,
                         int64_t total_bytes);

/* Counts rows and bytes done (from any thread). */
void progress_add(progress *p, int64_t rows, int64_t bytes);
/* Sets the bytes done outright (when progress is measured by input position). */
void progress_set_bytes(progress *p, int64_t bytes);
/* Sets the expected totals once they are known. */
void progress_set_totals(progress *p, int64_t total_rows, int64_t total_bytes);

/* Stops the bar and clears its line. */
void progress_finish(progress *p);

/* The bar's text for a state (for the tests): width is the terminal's. */
void progress_render(sbuf *out, const char *label, int64_t rows, int64_t bytes, int64_t total_rows,
                     int64_t total_bytes, double seconds, int width);

#endif /* CLI_PROGRESS_H */
