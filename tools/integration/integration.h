/* The Arrow integration-test JSON format ("Integration Testing" in the Arrow
 * format documentation), read into and written from C Data Interface
 * schemas and arrays, plus the comparisons the integration programs need.
 * Internal to cflight's tools and tests (library cf_integration). */
#ifndef CF_INTEGRATION_H
#define CF_INTEGRATION_H

#include <stdio.h>

#include "arrow/arrow.h"

/* ---- Reading ----------------------------------------------------------------
 * A parsed integration file: its schema and its record batches (struct
 * arrays), with dictionary-encoded columns carrying their dictionaries (the
 * JSON's "dictionaries" section, attached by id; nested dictionaries too).
 * Several entries for one id are folded in order: an entry with
 * "isDelta": true appends to the dictionary so far, any other replaces it;
 * every batch then uses the result (the JSON format does not say where
 * between batches a delta would arrive). */

typedef struct cf_json_file cf_json_file;

/* Reads an integration file, plain or gzip-compressed (told apart by its
 * first bytes, not its name). Errors name the file, the JSON path to the
 * offending member, and what is wrong with it (CFLIGHT_INVALID_DATA), or the
 * I/O failure (CFLIGHT_IO_ERROR). The caller owns *out. */
int cf_json_file_read(const char *path, cf_json_file **out, cflight_error *err);

/* Parses integration JSON held in memory; `source` names it in errors. */
int cf_json_file_parse(const char *text, size_t size, const char *source, cf_json_file **out,
                       cflight_error *err);

void cf_json_file_free(cf_json_file *f);

/* The schema (a struct schema; borrowed: valid while f lives). */
const struct ArrowSchema *cf_json_file_schema(const cf_json_file *f);
int64_t cf_json_file_num_batches(const cf_json_file *f);

/* The JSON's dictionary ids of the schema's dictionary-encoded fields, in
 * pre-order (a field before its children, a dictionary's value fields right
 * after the field itself): the order cflight_ipc_options_set_dictionary_ids
 * takes, so that IPC output keeps the JSON's ids and shared dictionaries.
 * Writes up to cap ids and returns how many there are. */
int64_t cf_json_file_dictionary_ids(const cf_json_file *f, int64_t *ids, int64_t cap);

/* Exports batch i into *out (caller owns it; it stays valid after f is freed). */
int cf_json_file_batch(cf_json_file *f, int64_t i, struct ArrowArray *out, cflight_error *err);

/* The schema and all batches as a stream. The stream takes over f (on
 * failure too): do not free it. */
int cf_json_file_to_stream(cf_json_file *f, struct ArrowArrayStream *out, cflight_error *err);

/* ---- Writing ----------------------------------------------------------------
 * Collects the schema and batches and produces integration JSON laid out as
 * Arrow's own writer does: "schema", "dictionaries" (when any field is
 * dictionary-encoded; ids numbered inner dictionaries first), "batches".
 * Values under nulls are written as zeros; 64-bit integers, decimals and
 * large offsets as strings (month-day-nano "nanoseconds" stay JSON numbers,
 * as in the gold files and as Arrow C++ reads them; the reader takes either);
 * floats in the shortest form that reads back to
 * the same value (non-finite ones as the strings "NaN", "Infinity",
 * "-Infinity", which plain JSON cannot hold). A later batch's dictionary
 * must equal the earlier one or extend it (a delta); replacements cannot be
 * expressed in this format and are refused. Batches must be valid
 * (cflight_array_validate with full = true): offsets are followed as given. */

typedef struct cf_json_writer cf_json_writer;

/* A writer for batches of `schema` (a struct schema; copied). */
int cf_json_writer_new(const struct ArrowSchema *schema, cf_json_writer **out, cflight_error *err);

/* Converts one batch (a struct array of the schema; borrowed, not kept). */
int cf_json_writer_write(cf_json_writer *w, const struct ArrowArray *batch, cflight_error *err);

/* The whole document as text; *text (NUL-terminated, *size bytes without the
 * NUL) is malloc'd and the caller frees it. */
int cf_json_writer_finish(cf_json_writer *w, char **text, size_t *size, cflight_error *err);

/* Writes the document to path (created or truncated), gzip-compressed when
 * path ends in ".gz". */
int cf_json_writer_finish_path(cf_json_writer *w, const char *path, cflight_error *err);

void cf_json_writer_free(cf_json_writer *w);

/* ---- Comparing ----------------------------------------------------------------
 * For VALIDATE-style checks. Both return CFLIGHT_OK when equal, otherwise
 * CFLIGHT_INVALID_DATA with the first difference and its path in err. */

/* Compares a JSON file with a stream (drained; not released): schema, number
 * of batches, and every batch with cflight_array_equal. `label` names the
 * stream in messages ("the Arrow file x.arrow"). When log is not NULL,
 * progress is printed there. */
int cf_integration_compare_stream(cf_json_file *json, struct ArrowArrayStream *stream,
                                  const char *label, FILE *log, cflight_error *err);

#endif /* CF_INTEGRATION_H */
