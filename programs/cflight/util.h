/* Small helpers shared by the cflight program's parts: a growable string
 * with a sticky failure flag, error prefixing, number and size formatting,
 * hex and base64, whole-file reading, and exit codes. */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stdarg.h>
#include <stdio.h>

#include "arrow/arrow.h"

/* Exit codes of every cflight command (documented in `cflight --help`). */
enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILURE = 1, /* the operation failed: an error from the server, I/O, bad data */
  CLI_EXIT_USAGE = 2,   /* the command line was wrong */
};

/* ---- Strings --------------------------------------------------------------
 * A NUL-terminated growable string. An allocation failure sets `failed`
 * and turns every later append into a no-op, so a caller checks once at
 * the end. `limit` (0: none) caps the length: appends past it are cut and
 * set `truncated` (renderers use it to stop walking huge values early). */
typedef struct sbuf {
  char *data;
  size_t len;
  size_t cap;
  size_t limit;
  bool failed;
  bool truncated;
} sbuf;

void sb_init(sbuf *b);
void sb_free(sbuf *b);
/* Empties the string, keeping its memory, limit cleared of truncation. */
void sb_clear(sbuf *b);
void sb_putc(sbuf *b, char c);
void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) CFLIGHT_PRINTF(2, 3);
/* Whether the string has reached its limit (renderers stop early). */
static inline bool sb_full(const sbuf *b) {
  return b->failed || b->truncated;
}
/* The text ("" when empty); valid until the next append. */
static inline const char *sb_str(const sbuf *b) {
  return b->data != NULL ? b->data : "";
}
/* Hands the text over (malloc'd; caller frees) and empties b; NULL if it failed. */
char *sb_take(sbuf *b);

/* Appends s as a JSON string literal (quotes included). Bytes that are not
 * UTF-8 become U+FFFD so that the output is always valid JSON. */
void sb_json_string(sbuf *b, const char *s, size_t n);
/* Appends bytes as lower-case hex, and as standard base64 with padding. */
void sb_hex(sbuf *b, const uint8_t *p, size_t n);
void sb_base64(sbuf *b, const uint8_t *p, size_t n);

/* Decodes standard or URL-safe base64 (padding optional) into a malloc'd
 * buffer; false when s is not base64. */
bool base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len);

/* Whether p[0..n) is valid UTF-8. */
bool utf8_valid(const uint8_t *p, size_t n);

/* ---- Errors ------------------------------------------------------------------ */

/* Rewrites err's message as "<prefix>: <old message>", keeping the code;
 * returns the code. */
int err_prefix(cflight_error *err, const char *fmt, ...) CFLIGHT_PRINTF(2, 3);

/* Prints "cflight: <msg>\n" to stderr. */
void cli_errorf(const char *fmt, ...) CFLIGHT_PRINTF(1, 2);
void cli_warnf(const char *fmt, ...) CFLIGHT_PRINTF(1, 2);

/* ---- Formatting --------------------------------------------------------------- */

/* "12.3 MiB" (or "512 B") into buf. */
const char *fmt_bytes(double bytes, char *buf, size_t cap);
/* "1,234,567" into buf. */
const char *fmt_count(int64_t n, char *buf, size_t cap);
/* "1.2s", "3m04s" into buf. */
const char *fmt_seconds(double s, char *buf, size_t cap);

/* ---- Files -------------------------------------------------------------------- */

/* Reads a whole (small) text file into a NUL-terminated malloc'd string.
 * Errors name the file ("cannot read FILE: reason"). `what` describes the
 * file for messages ("TLS certificate"). */
int read_text_file(const char *path, const char *what, size_t max_size, char **out, size_t *size,
                   cflight_error *err);

/* Parses a non-negative decimal integer / a finite number; false if malformed. */
bool parse_i64(const char *s, int64_t *out);
bool parse_double(const char *s, double *out);

/* Whether s ends with suffix (case-insensitive). */
bool ends_with_ci(const char *s, const char *suffix);

/* The byte size of a batch's buffers as Flight's total_bytes counts them
 * (validity, offsets, values, children, dictionaries), for progress display.
 * Best effort: unknown layouts count 0. */
int64_t batch_nbytes(const struct ArrowSchema *schema, const struct ArrowArray *array);

#endif /* CLI_UTIL_H */
