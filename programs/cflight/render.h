/* Rendering Arrow values as text, for the table, CSV and JSON outputs:
 * every Arrow type, nested ones included. Arrays must have been validated
 * fully (cflight_array_validate with full = true, or IPC options with
 * validate_full) before they are rendered: offsets and indices are
 * followed without further checks.
 *
 * Text mode (table and CSV cells): scalars as plain text (strings as they
 * are, binary as hex, timestamps ISO 8601 with the zone, decimals exact),
 * nested values as JSON text with spaces ([1, 2, null], {"a": 1}).
 * JSON mode: a JSON value (binary as base64, decimals and temporal values
 * as strings, non-finite floats as the strings "NaN", "Infinity",
 * "-Infinity"). */
#ifndef CLI_RENDER_H
#define CLI_RENDER_H

#include "util.h"

/* A schema tree with the formats parsed once. */
typedef struct rfield {
  const struct ArrowSchema *schema; /* borrowed */
  cf_type type;
  int64_t n_children;
  struct rfield *children;
  struct rfield *dict;    /* the dictionary's value field, or NULL */
  char *ext_name;         /* ARROW:extension:name, or NULL */
  int8_t code_child[128]; /* unions: child index of each type code, -1 if none */
  bool numeric;           /* numbers: right-aligned in tables */
} rfield;

/* Parses schema (borrowed: it must outlive f). CFLIGHT_INVALID_ARGUMENT for
 * a format it cannot parse or nesting deeper than 64. */
int rfield_init(rfield *f, const struct ArrowSchema *schema, cflight_error *err);
void rfield_free(rfield *f);

typedef enum render_mode { RENDER_TEXT = 0, RENDER_JSON = 1 } render_mode;

/* Whether value i (logical, before a->offset) of a is null. */
bool render_is_null(const rfield *f, const struct ArrowArray *a, int64_t i);

/* Appends value i of a. Nulls render as "null" (callers that show nulls
 * differently check render_is_null first). */
void render_value(sbuf *out, const rfield *f, const struct ArrowArray *a, int64_t i,
                  render_mode mode);

/* Appends the type: "int64", "timestamp[us, tz=UTC]", "list<int32>", ... */
void render_type(sbuf *out, const rfield *f);

/* The civil date of a day number (days since 1970-01-01), proleptic Gregorian. */
void civil_from_days(int64_t days, int64_t *year, int *month, int *day);
/* The day number of a civil date. */
int64_t days_from_civil(int64_t year, int month, int day);

#endif /* CLI_RENDER_H */
