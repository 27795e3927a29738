/* Internals of the Arrow IPC codec shared by its files: options, the field
 * plan (a schema parsed once into types and dictionary slots), message
 * parsing, record batch decoding and encoding, dictionaries, compression,
 * array copying, validation and comparison. */
#ifndef CF_IPC_IPC_H
#define CF_IPC_IPC_H

#include "arrow/arrow.h"
#include "ipc/flatbuf.h"

/* Nesting deeper than this (fields within fields, dictionaries within
 * dictionaries) is refused, which bounds every recursion in the codec. */
#define CF_IPC_MAX_DEPTH 64

/* Flatbuffer enum values (Schema.fbs, Message.fbs). */
enum {
  CF_MD_V1 = 0,
  CF_MD_V4 = 3,
  CF_MD_V5 = 4,
};

enum {
  CF_MSG_NONE = 0,
  CF_MSG_SCHEMA = 1,
  CF_MSG_DICTIONARY_BATCH = 2,
  CF_MSG_RECORD_BATCH = 3,
  CF_MSG_TENSOR = 4,
  CF_MSG_SPARSE_TENSOR = 5,
};

/* ---- Options ------------------------------------------------------------------- */

struct cflight_ipc_options {
  cflight_compression codec;
  int level;
  bool validate_full;
  int64_t max_message_size;
  bool dictionary_deltas;
  bool legacy_framing;
  /* Owned by the options object; copies of the struct must not keep it. */
  int64_t *dict_ids;
  int64_t n_dict_ids;
};

/* A copy of *opts (or the defaults) that owns nothing (dict_ids dropped). */
cflight_ipc_options cf_ipc_options_copy(const cflight_ipc_options *opts);

/* The defaults, for NULL options. */
const cflight_ipc_options *cf_ipc_options_or_default(const cflight_ipc_options *opts);

/* ---- The field plan -----------------------------------------------------------
 * A schema tree with each format string parsed once. A dictionary-encoded
 * field's own type is its index type, and `dict` describes the values. */

typedef struct cf_field {
  const struct ArrowSchema *schema; /* the field (borrowed from the plan's schema) */
  cf_type type;
  int64_t n_children;
  struct cf_field *children;
  struct cf_field *dict; /* the dictionary's value field, or NULL */
  int64_t dict_slot;     /* index into the plan's dictionaries, or -1 */
} cf_field;

typedef struct cf_plan_dict {
  int64_t id;
  cf_field *value; /* the value field of (the first field using) this dictionary */
  bool ordered;
} cf_plan_dict;

typedef struct cf_plan {
  struct ArrowSchema schema; /* owned copy */
  cf_field root;             /* the struct of the columns */
  cf_plan_dict *dicts;
  int64_t n_dicts;
} cf_plan;

/* Builds a plan from a struct schema (copied), giving dictionaries the ids
 * ids[0..n_ids) in pre-order (dictionary-encoded fields in the order a
 * depth-first walk meets them, a dictionary's value fields right after its
 * field), or 0, 1, 2... when ids is NULL. Fields that share an id share a
 * slot and must have the same value type. */
int cf_plan_init(cf_plan *plan, const struct ArrowSchema *schema, const int64_t *ids, int64_t n_ids,
                 cflight_error *err);
void cf_plan_free(cf_plan *plan);

/* A plan for any one field (not necessarily a struct); `root` then is that
 * field. Takes a copy of schema. */
int cf_plan_init_field(cf_plan *plan, const struct ArrowSchema *schema, cflight_error *err);

/* The ids of the plan's dictionary-encoded fields in pre-order: writes up
 * to cap to ids and returns their number. */
int64_t cf_plan_dict_ids(const cf_plan *plan, int64_t *ids, int64_t cap);

/* The slot of dictionary id, or -1. */
int64_t cf_plan_find_dict(const cf_plan *plan, int64_t id);

/* ---- Schema <-> flatbuffers --------------------------------------------------- */

/* The schema parsed from a Schema table: a struct ArrowSchema and the
 * dictionary ids of its dictionary-encoded fields in pre-order. */
typedef struct cf_schema_info {
  struct ArrowSchema schema;
  int64_t *dict_ids;
  int64_t n_dict_ids;
} cf_schema_info;

int cf_schema_from_flatbuf(const cf_fbt *schema_table, cf_schema_info *out, cflight_error *err);
void cf_schema_info_free(cf_schema_info *info);

/* Adds a Schema table for plan to b. */
int cf_schema_to_flatbuf(cf_fbb *b, const cf_plan *plan, cf_fbref *out, cflight_error *err);

/* Builds a whole Schema Message flatbuffer into b (finished). */
int cf_schema_message(cf_fbb *b, const cf_plan *plan, cflight_error *err);

/* ---- Messages ------------------------------------------------------------------- */

typedef struct cf_ipc_msg {
  cf_fbr r;
  cf_fbt message;
  cf_fbt header;
  int version;
  int type;
  int64_t body_length;
} cf_ipc_msg;

/* Parses a flatbuffer Message (root table, version, header, body length).
 * msg must not move afterwards (its tables point at msg->r). */
int cf_ipc_msg_parse(cf_ipc_msg *msg, const void *data, size_t size, cflight_error *err);

/* Encapsulated message framing at data[0..size): on success meta and
 * meta_size are the flatbuffer (padding included) and prefix_size the
 * bytes before it; eos is set for an end-of-stream marker (or when
 * size == 0). */
typedef struct cf_frame {
  bool eos;
  const uint8_t *meta;
  size_t meta_size;
  size_t prefix_size; /* 8, or 4 for the legacy framing */
} cf_frame;

int cf_frame_read(const uint8_t *data, size_t size, cf_frame *out, cflight_error *err);

/* Prefix + padding for a metadata flatbuffer of meta_size bytes: writes the
 * prefix to prefix[0..*prefix_size) and returns the padding. */
size_t cf_frame_prefix(size_t meta_size, bool legacy, uint8_t prefix[8], size_t *prefix_size);

/* 64 zero bytes, 64-byte aligned: padding pieces and empty buffers point here. */
extern const uint8_t cf_ipc_zeros[64];

/* ---- Dictionaries (reading side) ------------------------------------------------ */

typedef struct cf_dict_table {
  cf_shared_array **current; /* per plan slot; NULL until received */
  int64_t n;
} cf_dict_table;

int cf_dict_table_init(cf_dict_table *t, const cf_plan *plan, cflight_error *err);
void cf_dict_table_free(cf_dict_table *t);

/* ---- Decoding --------------------------------------------------------------------- */

typedef struct cf_decode_opts {
  const cflight_ipc_options *opts;
  int version;
  cf_dict_table *dicts; /* current dictionaries, for dictionary-encoded fields */
  const cf_plan *plan;
} cf_decode_opts;

/* Decodes a RecordBatch table whose body is `body` into a struct array of
 * plan->root's columns. */
int cf_decode_record_batch(const cf_decode_opts *o, const cf_fbt *rb, cflight_buffer *body,
                           int64_t body_size, struct ArrowArray *out, cflight_error *err);

/* Decodes a DictionaryBatch table and applies it to o->dicts (replacement
 * or delta). Sets *is_delta / *replaced (a non-delta for an id that had one). */
int cf_decode_dictionary_batch(const cf_decode_opts *o, const cf_fbt *db, cflight_buffer *body,
                               int64_t body_size, bool *is_delta, bool *replaced,
                               cflight_error *err);

/* Parses a whole message (metadata + body) with a decoder's state. */
typedef struct cf_reader_state {
  cflight_ipc_options opts;
  bool have_schema;
  int schema_version;
  cf_plan plan;
  cf_dict_table dicts;
  bool is_file; /* refuse dictionary replacements */
  int64_t n_dictionary_batches;
} cf_reader_state;

void cf_reader_state_init(cf_reader_state *s, const cflight_ipc_options *opts);
void cf_reader_state_free(cf_reader_state *s);
/* Takes the schema from a parsed Schema table. */
int cf_reader_state_set_schema(cf_reader_state *s, const cf_fbt *schema_table, int version,
                               cflight_error *err);
/* Handles one parsed message: a schema (only first), a dictionary batch
 * (absorbed) or a record batch (into *out). */
int cf_reader_state_message(cf_reader_state *s, cf_ipc_msg *msg, cflight_buffer *body,
                            cflight_ipc_message_type *type, struct ArrowArray *out,
                            cflight_error *err);

/* ---- Compression ------------------------------------------------------------------ */

/* A decompression context reused across the buffers of a message. */
typedef struct cf_decompressor cf_decompressor;
void cf_decompressor_free(cf_decompressor *d);

/* Decompresses an IPC body buffer (int64 length prefix, then the frame, or
 * -1 and raw bytes). On success *out holds a new buffer or a reference on
 * src's owner, and *data, *size the bytes. *ctx (start with NULL; free with
 * cf_decompressor_free) keeps a context between calls. The declared size
 * is checked against max_size and against what the compressed bytes can
 * possibly expand to before anything is allocated. */
int cf_decompress_buffer(cf_decompressor **ctx, cflight_compression codec, cflight_buffer *owner,
                         const uint8_t *src, int64_t src_size, int64_t max_size,
                         cflight_buffer **out, const uint8_t **data, int64_t *size,
                         cflight_error *err);

typedef struct cf_compressor cf_compressor;
int cf_compressor_new(cflight_compression codec, int level, cf_compressor **out,
                      cflight_error *err);
void cf_compressor_free(cf_compressor *c);
cflight_compression cf_compressor_codec(const cf_compressor *c);
/* Compresses src into a new buffer holding the IPC form (length prefix and
 * frame, *out_size bytes); *out is NULL when compression would not shrink
 * the data. */
int cf_compress_buffer(cf_compressor *c, const void *src, size_t size, cflight_buffer **out,
                       size_t *out_size, cflight_error *err);

/* ---- Encoding ----------------------------------------------------------------------- */

struct cflight_ipc_payload {
  cflight_ipc_message_type type;
  cflight_buffer *metadata;
  cflight_ipc_piece *pieces;
  size_t n_pieces;
  int64_t body_length;
  cflight_buffer **owned;
  size_t n_owned;
  struct ArrowArray held;
};

/* Internal: the encoder refuses dictionary replacements (file format). */
void cf_ipc_encoder_set_file_format(cflight_ipc_encoder *enc);
/* Internal: the plan the encoder writes (for the file footer's schema). */
const cf_plan *cf_ipc_encoder_plan(const cflight_ipc_encoder *enc);

/* ---- Arrays: copying, validation, comparison --------------------------------------- */

/* A new array (owned by out) holding the concatenation of arrays[i] (each of
 * field f's type, taken whole). With dict_source set, dictionary-encoded
 * children get their dictionary from dict_source(ctx, slot) instead of a
 * copy of the last input's. */
typedef int (*cf_dict_source)(void *ctx, int64_t slot, struct ArrowArray *out, cflight_error *err);
int cf_array_concat(const cf_field *f, const struct ArrowArray *const *arrays, int64_t n,
                    cf_dict_source dict_source, void *ctx, struct ArrowArray *out,
                    cflight_error *err);
/* A deep copy of the range [start, start + len) of a (logical indices). */
int cf_array_copy_range(const cf_field *f, const struct ArrowArray *a, int64_t start, int64_t len,
                        struct ArrowArray *out, cflight_error *err);

/* Validates array a of field f; `name` names it in messages. */
int cf_validate(const cf_field *f, const struct ArrowArray *a, bool full, const char *name,
                cflight_error *err);

/* Compares logical rows [as, as+n) of a with [bs, bs+n) of b (indices
 * relative to each array's offset). `path` names the arrays in messages. */
int cf_compare_range(const cf_field *f, const struct ArrowArray *a, int64_t as,
                     const struct ArrowArray *b, int64_t bs, int64_t n, const char *path,
                     cflight_error *err);

#endif /* CF_IPC_IPC_H */
