/* Arrow IPC: Arrow data as IPC messages, streams and files, with every Arrow
 * type, dictionaries (delta and replacement), and LZ4_FRAME / ZSTD body
 * compression. Decoding is zero-copy: arrays point into the bytes they were
 * decoded from, kept alive by reference counting. Encoding yields payloads:
 * lists of pieces that can be written with writev, never concatenated.
 * Every reader is safe on arbitrary bytes.
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_IPC_H
#define CFLIGHT_IPC_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Options ---------------------------------------------------------------
 * One options object serves readers and writers; each uses the settings that
 * concern it. Passing NULL wherever options are taken means the defaults. */

typedef struct cflight_ipc_options cflight_ipc_options;

typedef enum cflight_compression {
  CFLIGHT_COMPRESSION_NONE = 0,
  CFLIGHT_COMPRESSION_LZ4_FRAME = 1,
  CFLIGHT_COMPRESSION_ZSTD = 2,
} cflight_compression;

/* Defaults: no compression, O(buffers) validation, no size cap beyond 2^40
 * bytes per message, dictionary deltas on, current (non-legacy) framing. */
CFLIGHT_API cflight_ipc_options *cflight_ipc_options_new(void);
CFLIGHT_API void cflight_ipc_options_free(cflight_ipc_options *opts);
/* A new options object with every setting of src (NULL: the defaults);
 * NULL when out of memory. */
CFLIGHT_API cflight_ipc_options *cflight_ipc_options_copy(const cflight_ipc_options *src);

/* Writing: compress bodies with codec at level (0 = the codec's default).
 * Buffers that do not shrink are sent uncompressed (length -1). */
CFLIGHT_API int cflight_ipc_options_set_compression(cflight_ipc_options *opts,
                                                    cflight_compression codec, int level,
                                                    cflight_error *err);

/* Reading: also check every offset, view, union type id and offset,
 * dictionary index and run end (O(values)). Off by default: readers always
 * check lengths, buffer sizes and structure (O(buffers)), which is enough to
 * keep decoding itself safe; turn this on before touching values of data
 * from an untrusted peer. */
CFLIGHT_API void cflight_ipc_options_set_validate_full(cflight_ipc_options *opts, bool on);

/* Reading: refuse messages (metadata + body) and decompressed buffers larger
 * than max_bytes. */
CFLIGHT_API void cflight_ipc_options_set_max_message_size(cflight_ipc_options *opts,
                                                          int64_t max_bytes);

/* Writing: when a later batch's dictionary extends the previous one, send
 * only the new values as a delta (default on); otherwise send a replacement
 * (stream format only; the file format refuses replacements). */
CFLIGHT_API void cflight_ipc_options_set_dictionary_deltas(cflight_ipc_options *opts, bool on);

/* Writing: the pre-1.0 stream framing without the 0xFFFFFFFF continuation
 * marker (readers accept both always). */
CFLIGHT_API void cflight_ipc_options_set_legacy_framing(cflight_ipc_options *opts, bool on);

/* Writing: the dictionary ids of the schema's dictionary-encoded fields, in
 * pre-order (a field before its children; a dictionary's value fields right
 * after the field itself). Fields given the same id share one dictionary,
 * sent once per change; their batches must carry equal dictionaries. By
 * default each dictionary-encoded field gets its own id, 0, 1, 2... The ids
 * are copied; n == 0 restores the default. cflight_ipc_decoder_dictionary_ids
 * gives the ids of a decoded schema, so that a copy keeps its sharing. */
CFLIGHT_API int cflight_ipc_options_set_dictionary_ids(cflight_ipc_options *opts,
                                                       const int64_t *ids, int64_t n,
                                                       cflight_error *err);

/* ---- Payloads: one encoded IPC message ------------------------------------- */

typedef enum cflight_ipc_message_type {
  CFLIGHT_IPC_NONE = 0,
  CFLIGHT_IPC_SCHEMA = 1,
  CFLIGHT_IPC_DICTIONARY_BATCH = 2,
  CFLIGHT_IPC_RECORD_BATCH = 3,
} cflight_ipc_message_type;

typedef struct cflight_ipc_piece {
  const void *data;
  size_t size;
} cflight_ipc_piece;

typedef struct cflight_ipc_payload cflight_ipc_payload;

CFLIGHT_API cflight_ipc_message_type cflight_ipc_payload_type(const cflight_ipc_payload *p);

/* The flatbuffer Message, unpadded (Flight's FlightData.data_header). */
CFLIGHT_API cflight_ipc_piece cflight_ipc_payload_metadata(const cflight_ipc_payload *p);

/* The body as pieces in order, zero padding included; their sizes add up to
 * cflight_ipc_payload_body_length. The pieces stay valid while the payload
 * lives and, for an uncompressed record batch, while the encoded batch lives
 * (see cflight_ipc_payload_hold). */
CFLIGHT_API size_t cflight_ipc_payload_body(const cflight_ipc_payload *p,
                                            const cflight_ipc_piece **pieces);
CFLIGHT_API int64_t cflight_ipc_payload_body_length(const cflight_ipc_payload *p);

/* Moves *batch into the payload (batch is left released), so that the body
 * pieces stay valid for as long as the payload, whoever owned the batch. */
CFLIGHT_API void cflight_ipc_payload_hold(cflight_ipc_payload *p, struct ArrowArray *batch);

CFLIGHT_API void cflight_ipc_payload_free(cflight_ipc_payload *p);

/* ---- Encoder: schema and batches to payloads ------------------------------- */

typedef struct cflight_ipc_encoder cflight_ipc_encoder;

/* A new encoder for batches of `schema` (a struct schema; copied). */
CFLIGHT_API int cflight_ipc_encoder_new(const struct ArrowSchema *schema,
                                        const cflight_ipc_options *opts, cflight_ipc_encoder **out,
                                        cflight_error *err);
CFLIGHT_API void cflight_ipc_encoder_free(cflight_ipc_encoder *enc);

/* The Schema message. The caller owns *out. */
CFLIGHT_API int cflight_ipc_encoder_schema(cflight_ipc_encoder *enc, cflight_ipc_payload **out,
                                           cflight_error *err);

/* Encodes one batch (a struct array of the schema's type; borrowed: its
 * buffers are referenced, not copied). Queues the payloads it needs: first
 * any dictionary batches (new, delta or replacement), then the record batch.
 * Take them with cflight_ipc_encoder_next. */
CFLIGHT_API int cflight_ipc_encoder_write_batch(cflight_ipc_encoder *enc,
                                                const struct ArrowArray *batch, cflight_error *err);

/* The next queued payload (caller owns it), or NULL when none is left. */
CFLIGHT_API cflight_ipc_payload *cflight_ipc_encoder_next(cflight_ipc_encoder *enc);

/* ---- Decoder: messages to schema and batches ------------------------------- */

typedef struct cflight_ipc_decoder cflight_ipc_decoder;

CFLIGHT_API int cflight_ipc_decoder_new(const cflight_ipc_options *opts, cflight_ipc_decoder **out,
                                        cflight_error *err);
CFLIGHT_API void cflight_ipc_decoder_free(cflight_ipc_decoder *dec);

/* Decodes one message: metadata is the flatbuffer Message (unpadded or
 * padded), body its body bytes (NULL when empty; borrowed: the decoder takes
 * its own references). The first message must be the schema. Sets *out_type;
 * for a record batch fills *out_batch (caller owns it), whose buffers point
 * into body wherever their alignment allows, and whose dictionary-encoded
 * columns carry the current dictionaries. Dictionary batches are absorbed. */
CFLIGHT_API int cflight_ipc_decoder_decode(cflight_ipc_decoder *dec, const void *metadata,
                                           size_t metadata_size, cflight_buffer *body,
                                           cflight_ipc_message_type *out_type,
                                           struct ArrowArray *out_batch, cflight_error *err);

/* A copy of the decoded schema; CFLIGHT_FAILED_PRECONDITION before one was decoded. */
CFLIGHT_API int cflight_ipc_decoder_schema(const cflight_ipc_decoder *dec, struct ArrowSchema *out,
                                           cflight_error *err);

/* The dictionary ids of the decoded schema's dictionary-encoded fields, in
 * the order cflight_ipc_options_set_dictionary_ids takes them: writes up to
 * cap of them to ids and returns their number (-1 before a schema). */
CFLIGHT_API int64_t cflight_ipc_decoder_dictionary_ids(const cflight_ipc_decoder *dec, int64_t *ids,
                                                       int64_t cap);

/* The body length that the metadata of an encapsulated message announces,
 * so that a reader knows how many bytes to fetch. */
CFLIGHT_API int cflight_ipc_message_body_length(const void *metadata, size_t metadata_size,
                                                int64_t *out, cflight_error *err);

/* ---- Schemas as bytes -------------------------------------------------------
 * FlightInfo.schema and SchemaResult carry a schema as an encapsulated IPC
 * message: 0xFFFFFFFF, int32 length, the Schema message, padding. */

CFLIGHT_API int cflight_ipc_schema_serialize(const struct ArrowSchema *schema, cflight_buffer **out,
                                             cflight_error *err);
/* Accepts the encapsulated form (with or without the continuation marker) or
 * a bare flatbuffer Message. An empty input is an error. */
CFLIGHT_API int cflight_ipc_schema_deserialize(const void *data, size_t size,
                                               struct ArrowSchema *out, cflight_error *err);

/* ---- Readers ------------------------------------------------------------------ */

typedef enum cflight_ipc_format {
  CFLIGHT_IPC_FORMAT_STREAM = 0,
  CFLIGHT_IPC_FORMAT_FILE = 1,
} cflight_ipc_format;

/* Reads a stream held in memory (data is borrowed; a reference is taken and
 * the batches point into it). */
CFLIGHT_API int cflight_ipc_stream_open_buffer(cflight_buffer *data,
                                               const cflight_ipc_options *opts,
                                               struct ArrowArrayStream *out, cflight_error *err);

/* Reads a stream from a file descriptor (a pipe or socket too), reading
 * message by message; the fd stays the caller's. */
CFLIGHT_API int cflight_ipc_stream_open_fd(int fd, const cflight_ipc_options *opts,
                                           struct ArrowArrayStream *out, cflight_error *err);

/* Opens a file of either format (told apart by the ARROW1 magic), memory-
 * mapped, as a stream of its batches. Batches point into the mapping. */
CFLIGHT_API int cflight_ipc_open_path(const char *path, const cflight_ipc_options *opts,
                                      struct ArrowArrayStream *out, cflight_ipc_format *format,
                                      cflight_error *err);

/* The file format: random access to batches. */
typedef struct cflight_ipc_file_reader cflight_ipc_file_reader;

/* Opens a file (memory-mapped) or a buffer (borrowed; a reference is taken). */
CFLIGHT_API int cflight_ipc_file_reader_open_path(const char *path, const cflight_ipc_options *opts,
                                                  cflight_ipc_file_reader **out,
                                                  cflight_error *err);
CFLIGHT_API int cflight_ipc_file_reader_open_buffer(cflight_buffer *data,
                                                    const cflight_ipc_options *opts,
                                                    cflight_ipc_file_reader **out,
                                                    cflight_error *err);
CFLIGHT_API int cflight_ipc_file_reader_schema(const cflight_ipc_file_reader *r,
                                               struct ArrowSchema *out, cflight_error *err);
CFLIGHT_API int64_t cflight_ipc_file_reader_num_batches(const cflight_ipc_file_reader *r);
/* Reads batch i (0-based) into *out (caller owns it). */
CFLIGHT_API int cflight_ipc_file_reader_read(cflight_ipc_file_reader *r, int64_t i,
                                             struct ArrowArray *out, cflight_error *err);
/* The whole file as a stream; the stream takes over r (do not free it). */
CFLIGHT_API int cflight_ipc_file_reader_to_stream(cflight_ipc_file_reader *r,
                                                  struct ArrowArrayStream *out, cflight_error *err);
CFLIGHT_API void cflight_ipc_file_reader_free(cflight_ipc_file_reader *r);

/* ---- Writers ------------------------------------------------------------------ */

typedef struct cflight_ipc_writer cflight_ipc_writer;

/* A sink: writes all pieces, in order, or fails. */
typedef int (*cflight_write_fn)(void *ctx, const cflight_ipc_piece *pieces, size_t n_pieces,
                                cflight_error *err);

/* Writers of the stream or file format, to a path (created or truncated), to
 * a file descriptor (stays the caller's), or to a callback. The schema is
 * copied and written at once. */
CFLIGHT_API int cflight_ipc_writer_open_path(const char *path, cflight_ipc_format format,
                                             const struct ArrowSchema *schema,
                                             const cflight_ipc_options *opts,
                                             cflight_ipc_writer **out, cflight_error *err);
CFLIGHT_API int cflight_ipc_writer_open_fd(int fd, cflight_ipc_format format,
                                           const struct ArrowSchema *schema,
                                           const cflight_ipc_options *opts,
                                           cflight_ipc_writer **out, cflight_error *err);
CFLIGHT_API int cflight_ipc_writer_open_callback(cflight_write_fn fn, void *ctx,
                                                 cflight_ipc_format format,
                                                 const struct ArrowSchema *schema,
                                                 const cflight_ipc_options *opts,
                                                 cflight_ipc_writer **out, cflight_error *err);
/* Writes one batch (borrowed). */
CFLIGHT_API int cflight_ipc_writer_write(cflight_ipc_writer *w, const struct ArrowArray *batch,
                                         cflight_error *err);
/* Writes the end: the end-of-stream marker, or the footer and magic. */
CFLIGHT_API int cflight_ipc_writer_close(cflight_ipc_writer *w, cflight_error *err);
CFLIGHT_API void cflight_ipc_writer_free(cflight_ipc_writer *w);

/* ---- Arrays ------------------------------------------------------------------- */

/* Checks an array against its schema: structure, lengths and buffer sizes,
 * and with full = true every offset, view, type id, index and run end. */
CFLIGHT_API int cflight_array_validate(const struct ArrowSchema *schema,
                                       const struct ArrowArray *array, bool full,
                                       cflight_error *err);

/* CFLIGHT_OK when a and b (both of `schema`) hold the same logical values
 * (validity and values; offsets and padding may differ); otherwise
 * CFLIGHT_INVALID_DATA with the first difference, and its path, in err. */
CFLIGHT_API int cflight_array_equal(const struct ArrowSchema *schema, const struct ArrowArray *a,
                                    const struct ArrowArray *b, cflight_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_IPC_H */
