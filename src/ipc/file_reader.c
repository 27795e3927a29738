/* The file format: "ARROW1" + padding, the stream (schema, dictionaries,
 * batches, end-of-stream), the Footer flatbuffer (schema and Blocks that
 * locate every dictionary and record batch), int32 footer length, "ARROW1".
 * Files are memory-mapped; batches point into the mapping. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/ipc.h"

static const uint8_t magic[6] = {'A', 'R', 'R', 'O', 'W', '1'};

typedef struct block {
  int64_t offset;
  int32_t meta_length;
  int64_t body_length;
} block;

struct cflight_ipc_file_reader {
  cf_reader_state st;
  cflight_buffer *data;
  block *dicts;
  int64_t n_dicts;
  block *batches;
  int64_t n_batches;
  int64_t footer_start;
};

void cflight_ipc_file_reader_free(cflight_ipc_file_reader *r) {
  if (r == NULL) return;
  cf_reader_state_free(&r->st);
  cflight_buffer_unref(r->data);
  free(r->dicts);
  free(r->batches);
  free(r);
}

static int read_blocks(const cf_fbt *footer, int id, const char *what, block **out, int64_t *n,
                       cflight_error *err) {
  cf_fbv v;
  *out = NULL;
  *n = 0;
  if (!cf_fbt_vector(footer, id, 24, &v)) return footer->r->rc;
  *out = calloc(v.n > 0 ? v.n : 1, sizeof(block));
  if (*out == NULL) return CF_NOMEM(err, what);
  for (uint32_t i = 0; i < v.n; i++) {
    const uint8_t *p = v.data + 24 * (size_t)i;
    (*out)[i].offset = cf_load_i64(p);
    (*out)[i].meta_length = cf_load_i32(p + 8);
    (*out)[i].body_length = cf_load_i64(p + 16);
  }
  *n = v.n;
  return CFLIGHT_OK;
}

/* Parses the message of block b; *body gets a slice of the data (or NULL). */
static int read_block(cflight_ipc_file_reader *r, const block *b, const char *what, int64_t index,
                      cf_ipc_msg *msg, cflight_buffer **body, cflight_error *err) {
  const uint8_t *data = cflight_buffer_data(r->data);
  *body = NULL;
  if (b->offset < 8 || b->meta_length < 8 || b->body_length < 0 ||
      b->offset > r->footer_start - b->meta_length ||
      b->body_length > r->footer_start - b->offset - b->meta_length) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: %s block %lld (offset %lld, metadata %d, body %lld bytes) lies "
                             "outside the %lld bytes before the footer",
                             what, (long long)index, (long long)b->offset, (int)b->meta_length,
                             (long long)b->body_length, (long long)r->footer_start);
  }
  cf_frame fr;
  CF_RETURN_NOT_OK(cf_frame_read(data + b->offset, (size_t)b->meta_length, &fr, err));
  if (fr.eos) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: %s block %lld holds an end-of-stream marker", what,
                             (long long)index);
  }
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(msg, fr.meta, fr.meta_size, err));
  if (msg->body_length > b->body_length) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: %s block %lld: the message's %lld-byte body exceeds the "
                             "block's %lld",
                             what, (long long)index, (long long)msg->body_length,
                             (long long)b->body_length);
  }
  if (msg->body_length > 0) {
    *body = cflight_buffer_slice(r->data, (size_t)(b->offset + b->meta_length),
                                 (size_t)msg->body_length);
    if (*body == NULL) return CF_NOMEM(err, "message body");
  }
  return CFLIGHT_OK;
}

static int load_dictionaries(cflight_ipc_file_reader *r, cflight_error *err) {
  for (int64_t i = 0; i < r->n_dicts; i++) {
    cf_ipc_msg msg;
    cflight_buffer *body;
    CF_RETURN_NOT_OK(read_block(r, &r->dicts[i], "dictionary", i, &msg, &body, err));
    int rc = CFLIGHT_OK;
    if (msg.type != CF_MSG_DICTIONARY_BATCH) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: dictionary block %lld holds a message of type %d", (long long)i,
                             msg.type);
    }
    cflight_ipc_message_type type;
    struct ArrowArray unused;
    if (rc == CFLIGHT_OK) rc = cf_reader_state_message(&r->st, &msg, body, &type, &unused, err);
    cflight_buffer_unref(body);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

int cflight_ipc_file_reader_open_buffer(cflight_buffer *data, const cflight_ipc_options *opts,
                                        cflight_ipc_file_reader **out, cflight_error *err) {
  *out = NULL;
  if (data == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "file: NULL data");
  const uint8_t *p = cflight_buffer_data(data);
  size_t size = cflight_buffer_size(data);
  /* magic + padding, at least an end-of-stream, footer length, magic */
  if (size < 8 + 4 + 4 + 6 || memcmp(p, magic, 6) != 0 || memcmp(p + size - 6, magic, 6) != 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: not an Arrow IPC file (no ARROW1 magic at both ends of the "
                             "%zu bytes)",
                             size);
  }
  int32_t footer_len = cf_load_i32(p + size - 10);
  if (footer_len <= 0 || (size_t)footer_len > size - 8 - 10) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "file: footer length %d does not fit the %zu-byte file",
                             (int)footer_len, size);
  }
  cflight_ipc_file_reader *r = calloc(1, sizeof(*r));
  if (r == NULL) return CF_NOMEM(err, "file reader");
  cf_reader_state_init(&r->st, opts);
  r->st.is_file = true;
  r->data = cflight_buffer_ref(data);
  r->footer_start = (int64_t)(size - 10 - (size_t)footer_len);
  cf_fbr fr;
  cf_fbt footer, schema;
  int rc = cf_fbr_init(&fr, p + r->footer_start, (size_t)footer_len, err);
  if (rc == CFLIGHT_OK && !cf_fbr_root(&fr, &footer)) rc = fr.rc;
  int16_t version = CF_MD_V1;
  bool has_schema = false;
  if (rc == CFLIGHT_OK) {
    version = cf_fbt_i16(&footer, 0, CF_MD_V1);
    has_schema = cf_fbt_table(&footer, 1, &schema);
    rc = fr.rc;
  }
  if (rc == CFLIGHT_OK && (version < CF_MD_V4 || version > CF_MD_V5)) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                           "file: metadata version V%d is not supported (only V4 and V5 are)",
                           version + 1);
  }
  if (rc == CFLIGHT_OK && !has_schema)
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "file: the footer has no schema");
  if (rc == CFLIGHT_OK)
    rc = read_blocks(&footer, 2, "dictionary blocks", &r->dicts, &r->n_dicts, err);
  if (rc == CFLIGHT_OK)
    rc = read_blocks(&footer, 3, "record batch blocks", &r->batches, &r->n_batches, err);
  if (rc == CFLIGHT_OK) rc = cf_reader_state_set_schema(&r->st, &schema, version, err);
  if (rc == CFLIGHT_OK) rc = load_dictionaries(r, err);
  if (rc != CFLIGHT_OK) {
    cflight_ipc_file_reader_free(r);
    return rc;
  }
  *out = r;
  return CFLIGHT_OK;
}

static void unmap(void *ctx, void *data) {
  munmap(data, (size_t)(uintptr_t)ctx);
}

/* Maps a whole file read-only. */
static int map_file(const char *path, cflight_buffer **out, cflight_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot stat '%s': %s", path, strerror(e));
  }
  if (st.st_size <= 0) {
    close(fd);
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "'%s' is empty", path);
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED)
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot map '%s': %s", path, strerror(e));
  *out = cflight_buffer_wrap(p, (size_t)st.st_size, unmap, (void *)(uintptr_t)st.st_size);
  if (*out == NULL) {
    munmap(p, (size_t)st.st_size);
    return CF_NOMEM(err, "file mapping");
  }
  return CFLIGHT_OK;
}

int cflight_ipc_file_reader_open_path(const char *path, const cflight_ipc_options *opts,
                                      cflight_ipc_file_reader **out, cflight_error *err) {
  cflight_buffer *data;
  *out = NULL;
  CF_RETURN_NOT_OK(map_file(path, &data, err));
  int rc = cflight_ipc_file_reader_open_buffer(data, opts, out, err);
  cflight_buffer_unref(data);
  return rc;
}

int cflight_ipc_file_reader_schema(const cflight_ipc_file_reader *r, struct ArrowSchema *out,
                                   cflight_error *err) {
  if (r == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "file: NULL reader");
  return cf_schema_copy(&r->st.plan.schema, out, err);
}

int64_t cflight_ipc_file_reader_num_batches(const cflight_ipc_file_reader *r) {
  return r != NULL ? r->n_batches : 0;
}

int cflight_ipc_file_reader_read(cflight_ipc_file_reader *r, int64_t i, struct ArrowArray *out,
                                 cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (r == NULL || i < 0 || i >= r->n_batches) {
    return cflight_error_set(err, CFLIGHT_OUT_OF_RANGE, "file: batch %lld of %lld", (long long)i,
                             (long long)(r ? r->n_batches : 0));
  }
  cf_ipc_msg msg;
  cflight_buffer *body;
  CF_RETURN_NOT_OK(read_block(r, &r->batches[i], "record batch", i, &msg, &body, err));
  int rc = CFLIGHT_OK;
  if (msg.type != CF_MSG_RECORD_BATCH) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                           "file: record batch block %lld holds a message of type %d", (long long)i,
                           msg.type);
  }
  cflight_ipc_message_type type;
  if (rc == CFLIGHT_OK) rc = cf_reader_state_message(&r->st, &msg, body, &type, out, err);
  cflight_buffer_unref(body);
  return rc;
}

typedef struct file_stream {
  cflight_ipc_file_reader *r;
  int64_t next;
} file_stream;

static int file_stream_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  file_stream *fs = ctx;
  memset(out, 0, sizeof(*out));
  if (fs->next >= fs->r->n_batches) return CFLIGHT_OK;
  return cflight_ipc_file_reader_read(fs->r, fs->next++, out, err);
}

static void file_stream_free(void *ctx) {
  file_stream *fs = ctx;
  cflight_ipc_file_reader_free(fs->r);
  free(fs);
}

int cflight_ipc_file_reader_to_stream(cflight_ipc_file_reader *r, struct ArrowArrayStream *out,
                                      cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (r == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "file: NULL reader");
  struct ArrowSchema schema;
  int rc = cf_schema_copy(&r->st.plan.schema, &schema, err);
  file_stream *fs = rc == CFLIGHT_OK ? calloc(1, sizeof(*fs)) : NULL;
  if (fs == NULL) {
    if (rc == CFLIGHT_OK) {
      cf_schema_release(&schema);
      rc = CF_NOMEM(err, "file stream");
    }
    cflight_ipc_file_reader_free(r);
    return rc;
  }
  fs->r = r;
  cf_stream_source src = {.next = file_stream_next, .free_ctx = file_stream_free, .ctx = fs};
  return cf_stream_init(out, &schema, src, err);
}

int cflight_ipc_open_path(const char *path, const cflight_ipc_options *opts,
                          struct ArrowArrayStream *out, cflight_ipc_format *format,
                          cflight_error *err) {
  cflight_buffer *data;
  memset(out, 0, sizeof(*out));
  CF_RETURN_NOT_OK(map_file(path, &data, err));
  int rc;
  if (cflight_buffer_size(data) >= 6 && memcmp(cflight_buffer_data(data), magic, 6) == 0) {
    cflight_ipc_file_reader *r;
    if (format != NULL) *format = CFLIGHT_IPC_FORMAT_FILE;
    rc = cflight_ipc_file_reader_open_buffer(data, opts, &r, err);
    if (rc == CFLIGHT_OK) rc = cflight_ipc_file_reader_to_stream(r, out, err);
  } else {
    if (format != NULL) *format = CFLIGHT_IPC_FORMAT_STREAM;
    rc = cflight_ipc_stream_open_buffer(data, opts, out, err);
  }
  cflight_buffer_unref(data);
  return rc;
}
