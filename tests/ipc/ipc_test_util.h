/* Helpers for the IPC tests: building arrays and schemas with cf_array_init
 * and cf_schema_init, writing and reading IPC bytes in memory, and
 * round-trip checks. Builders abort on allocation failure (tests only). */
#ifndef CFLIGHT_TESTS_IPC_UTIL_H
#define CFLIGHT_TESTS_IPC_UTIL_H

#include "arrow/arrow.h"
#include "harness.h"

/* ---- Schemas ------------------------------------------------------------------ */

/* A new heap schema (free with tu_schema_free) with the given children, which
 * are moved in (and freed). NULL-terminated list. */
struct ArrowSchema *tu_field(const char *format, const char *name, ...);
/* Same, not nullable. */
struct ArrowSchema *tu_field_nn(const char *format, const char *name, ...);
/* A dictionary-encoded field: index format, value schema moved in. */
struct ArrowSchema *tu_dict_field(const char *index_format, const char *name,
                                  struct ArrowSchema *value, bool ordered);
void tu_set_metadata(struct ArrowSchema *s, const char *k1, const char *v1, const char *k2,
                     const char *v2);
void tu_schema_free(struct ArrowSchema *s);

/* ---- Arrays -----------------------------------------------------------------------
 * Values are pseudo-random from seed; slot i is null when null_every > 0 and
 * i % null_every == null_every - 1. All return heap arrays (tu_array_free). */

struct ArrowArray *tu_null(int64_t n);
struct ArrowArray *tu_prim(int64_t n, int width, uint64_t seed, int null_every);
struct ArrowArray *tu_prim_values(int64_t n, int width, const void *values, int null_every);
struct ArrowArray *tu_bool(int64_t n, uint64_t seed, int null_every);
struct ArrowArray *tu_binary(int64_t n, bool large, uint64_t seed, int null_every);
struct ArrowArray *tu_strings(int64_t n, const char *const *values, int null_every);
struct ArrowArray *tu_view(int64_t n, uint64_t seed, int null_every);
/* Sizes i % 4; the child must have tu_list_child_len(n) values. */
int64_t tu_list_child_len(int64_t n);
struct ArrowArray *tu_list(int64_t n, int width, struct ArrowArray *child, int null_every);
struct ArrowArray *tu_list_view(int64_t n, int width, struct ArrowArray *child, int null_every);
struct ArrowArray *tu_fsl(int64_t n, int32_t size, struct ArrowArray *child, int null_every);
/* Children moved in; NULL-terminated. */
struct ArrowArray *tu_struct(int64_t n, int null_every, ...);
/* Sparse: children of n values; dense: offsets pick child values in turn. */
struct ArrowArray *tu_union(int64_t n, bool dense, const int8_t *codes, int n_codes, ...);
/* Runs of length 1 + (i % 3) over run ends of width bytes; values child has
 * tu_ree_runs(n) values. */
int64_t tu_ree_runs(int64_t n);
struct ArrowArray *tu_ree(int64_t n, int width, struct ArrowArray *values);
/* Indices (width bytes) < dict->length; dict moved in. */
struct ArrowArray *tu_dict(int64_t n, int width, struct ArrowArray *dict, uint64_t seed,
                           int null_every);
void tu_array_free(struct ArrowArray *a);
/* Moves *src into a new heap array (for nesting arrays built on the stack). */
struct ArrowArray *tu_heap(struct ArrowArray *src);

/* ---- IPC in memory ------------------------------------------------------------------ */

/* Writes batches (borrowed) in format; NULL (with a test failure) on error. */
cflight_buffer *tu_write(const struct ArrowSchema *schema, struct ArrowArray *const *batches, int n,
                         cflight_ipc_format format, const cflight_ipc_options *opts,
                         cflight_error *err);
/* Reads every batch of data (format given); returns the count or -1 on error. */
int tu_read(cflight_buffer *data, cflight_ipc_format format, const cflight_ipc_options *opts,
            struct ArrowSchema *schema, struct ArrowArray *out, int max, cflight_error *err);

/* Writes and reads back in both formats, with no compression, LZ4 and ZSTD,
 * and with the legacy framing; checks schema and data equality. */
void tu_roundtrip(const char *what, const struct ArrowSchema *schema,
                  struct ArrowArray *const *batches, int n);
/* The same in the stream format only (for dictionary replacements). */
void tu_roundtrip_stream(const char *what, const struct ArrowSchema *schema,
                         struct ArrowArray *const *batches, int n);

/* Releases n arrays. */
void tu_release_all(struct ArrowArray *a, int n);

#endif
