/* Writers of the stream and file formats over a sink of pieces (a path, a
 * file descriptor with writev, or a callback). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc/encode.h"

typedef struct wblock {
  int64_t offset;
  int32_t meta_length;
  int32_t pad;
  int64_t body_length;
} wblock;
_Static_assert(sizeof(wblock) == 24, "Block is a 24-byte flatbuffer struct");

struct cflight_ipc_writer {
  cflight_ipc_format format;
  cflight_write_fn fn;
  void *ctx;
  int fd;
  bool own_fd;
  bool legacy;
  bool closed;
  cflight_ipc_encoder *enc;
  int64_t position;
  wblock *dicts;
  size_t n_dicts, cap_dicts;
  wblock *batches;
  size_t n_batches, cap_batches;
  cflight_ipc_piece *pieces; /* scratch */
  size_t cap_pieces;
};

static int fd_write(void *ctx, const cflight_ipc_piece *pieces, size_t n, cflight_error *err) {
  int fd = *(int *)ctx;
  struct iovec iov[64];
  size_t i = 0, skip = 0; /* bytes of pieces[i] already written */
  while (i < n) {
    int cnt = 0;
    for (size_t j = i; j < n && cnt < (int)CF_ARRAY_SIZE(iov); j++) {
      size_t off = j == i ? skip : 0;
      if (pieces[j].size == off) continue;
      iov[cnt].iov_base = (void *)((const uint8_t *)pieces[j].data + off);
      iov[cnt].iov_len = pieces[j].size - off;
      cnt++;
    }
    if (cnt == 0) break;
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "write: %s", strerror(errno));
    }
    size_t left = (size_t)w;
    while (i < n && left > 0) {
      size_t rest = pieces[i].size - skip;
      if (left >= rest) {
        left -= rest;
        i++;
        skip = 0;
      } else {
        skip += left;
        left = 0;
      }
    }
    while (i < n && pieces[i].size == skip) {
      i++;
      skip = 0;
    }
  }
  return CFLIGHT_OK;
}

static int sink(cflight_ipc_writer *w, const cflight_ipc_piece *pieces, size_t n,
                cflight_error *err) {
  int64_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += (int64_t)pieces[i].size;
  CF_RETURN_NOT_OK(w->fn(w->ctx, pieces, n, err));
  w->position += total;
  return CFLIGHT_OK;
}

/* Frames and writes one payload; *blk (optional) records where it went. */
static int write_payload(cflight_ipc_writer *w, cflight_ipc_payload *p, wblock *blk,
                         cflight_error *err) {
  const cflight_ipc_piece *body;
  size_t n_body = cflight_ipc_payload_body(p, &body);
  cflight_ipc_piece meta = cflight_ipc_payload_metadata(p);
  uint8_t prefix[8];
  size_t prefix_size;
  size_t pad = cf_frame_prefix(meta.size, w->legacy, prefix, &prefix_size);
  if (n_body + 3 > w->cap_pieces) {
    cflight_ipc_piece *np = realloc(w->pieces, (n_body + 3) * sizeof(*np));
    if (np == NULL) return CF_NOMEM(err, "writer");
    w->pieces = np;
    w->cap_pieces = n_body + 3;
  }
  size_t n = 0;
  w->pieces[n++] = (cflight_ipc_piece){prefix, prefix_size};
  w->pieces[n++] = meta;
  if (pad > 0) w->pieces[n++] = (cflight_ipc_piece){cf_ipc_zeros, pad};
  for (size_t i = 0; i < n_body; i++)
    w->pieces[n++] = body[i];
  if (blk != NULL) {
    blk->offset = w->position;
    blk->meta_length = (int32_t)(prefix_size + meta.size + pad);
    blk->pad = 0;
    blk->body_length = cflight_ipc_payload_body_length(p);
  }
  return sink(w, w->pieces, n, err);
}

static int add_block(wblock **arr, size_t *n, size_t *cap, const wblock *b, cflight_error *err) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    wblock *p = realloc(*arr, c * sizeof(*p));
    if (p == NULL) return CF_NOMEM(err, "file blocks");
    *arr = p;
    *cap = c;
  }
  (*arr)[(*n)++] = *b;
  return CFLIGHT_OK;
}

int cflight_ipc_writer_open_callback(cflight_write_fn fn, void *ctx, cflight_ipc_format format,
                                     const struct ArrowSchema *schema,
                                     const cflight_ipc_options *opts, cflight_ipc_writer **out,
                                     cflight_error *err) {
  *out = NULL;
  if (fn == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "writer: NULL sink");
  if (format != CFLIGHT_IPC_FORMAT_STREAM && format != CFLIGHT_IPC_FORMAT_FILE)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "writer: unknown format %d", format);
  cflight_ipc_writer *w = calloc(1, sizeof(*w));
  if (w == NULL) return CF_NOMEM(err, "writer");
  w->format = format;
  w->fn = fn;
  w->ctx = ctx;
  w->fd = -1;
  w->legacy = cf_ipc_options_or_default(opts)->legacy_framing;
  int rc = cflight_ipc_encoder_new(schema, opts, &w->enc, err);
  if (rc == CFLIGHT_OK && format == CFLIGHT_IPC_FORMAT_FILE) {
    cf_ipc_encoder_set_file_format(w->enc);
    static const uint8_t head[8] = {'A', 'R', 'R', 'O', 'W', '1', 0, 0};
    cflight_ipc_piece piece = {head, 8};
    rc = sink(w, &piece, 1, err);
  }
  cflight_ipc_payload *p = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_ipc_encoder_schema(w->enc, &p, err);
  if (rc == CFLIGHT_OK) rc = write_payload(w, p, NULL, err);
  cflight_ipc_payload_free(p);
  if (rc != CFLIGHT_OK) {
    cflight_ipc_writer_free(w);
    return rc;
  }
  *out = w;
  return CFLIGHT_OK;
}

int cflight_ipc_writer_open_fd(int fd, cflight_ipc_format format, const struct ArrowSchema *schema,
                               const cflight_ipc_options *opts, cflight_ipc_writer **out,
                               cflight_error *err) {
  *out = NULL;
  if (fd < 0) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "writer: bad fd %d", fd);
  int *ctx = malloc(sizeof(int));
  if (ctx == NULL) return CF_NOMEM(err, "writer");
  *ctx = fd;
  int rc = cflight_ipc_writer_open_callback(fd_write, ctx, format, schema, opts, out, err);
  if (rc != CFLIGHT_OK) {
    free(ctx);
    return rc;
  }
  (*out)->fd = fd;
  return CFLIGHT_OK;
}

int cflight_ipc_writer_open_path(const char *path, cflight_ipc_format format,
                                 const struct ArrowSchema *schema, const cflight_ipc_options *opts,
                                 cflight_ipc_writer **out, cflight_error *err) {
  *out = NULL;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot create '%s': %s", path,
                             strerror(errno));
  }
  int rc = cflight_ipc_writer_open_fd(fd, format, schema, opts, out, err);
  if (rc != CFLIGHT_OK) {
    close(fd);
    return rc;
  }
  (*out)->own_fd = true;
  return CFLIGHT_OK;
}

int cflight_ipc_writer_write(cflight_ipc_writer *w, const struct ArrowArray *batch,
                             cflight_error *err) {
  if (w == NULL || w->closed)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION, "writer: closed");
  CF_RETURN_NOT_OK(cflight_ipc_encoder_write_batch(w->enc, batch, err));
  cflight_ipc_payload *p;
  int rc = CFLIGHT_OK;
  while ((p = cflight_ipc_encoder_next(w->enc)) != NULL) {
    wblock b;
    if (rc == CFLIGHT_OK) rc = write_payload(w, p, &b, err);
    if (rc == CFLIGHT_OK && w->format == CFLIGHT_IPC_FORMAT_FILE) {
      if (cflight_ipc_payload_type(p) == CFLIGHT_IPC_DICTIONARY_BATCH)
        rc = add_block(&w->dicts, &w->n_dicts, &w->cap_dicts, &b, err);
      else
        rc = add_block(&w->batches, &w->n_batches, &w->cap_batches, &b, err);
    }
    cflight_ipc_payload_free(p);
  }
  return rc;
}

int cflight_ipc_writer_close(cflight_ipc_writer *w, cflight_error *err) {
  if (w == NULL || w->closed)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION, "writer: closed");
  w->closed = true;
  static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  cflight_ipc_piece piece = {w->legacy ? eos + 4 : eos, w->legacy ? 4 : 8};
  CF_RETURN_NOT_OK(sink(w, &piece, 1, err));
  if (w->format != CFLIGHT_IPC_FORMAT_FILE) return CFLIGHT_OK;

  cf_fbb b;
  cf_fbb_init(&b);
  cf_fbref schema;
  int rc = cf_schema_to_flatbuf(&b, cf_ipc_encoder_plan(w->enc), &schema, err);
  if (rc == CFLIGHT_OK) {
    cf_fbref dicts = cf_fbb_vector(&b, w->dicts, w->n_dicts, 24, 8);
    cf_fbref batches = cf_fbb_vector(&b, w->batches, w->n_batches, 24, 8);
    cf_fbb_table_start(&b);
    cf_fbb_add_i16(&b, 0, CF_MD_V5);
    cf_fbb_add_ref(&b, 1, schema);
    cf_fbb_add_ref(&b, 2, dicts);
    cf_fbb_add_ref(&b, 3, batches);
    cf_fbref footer = cf_fbb_table_end(&b);
    rc = cf_fbb_finish(&b, footer, err);
  }
  if (rc == CFLIGHT_OK) {
    uint8_t tail[10];
    cf_store_i32(tail, (int32_t)cf_fbb_size(&b));
    memcpy(tail + 4, "ARROW1", 6);
    cflight_ipc_piece pieces[2] = {{cf_fbb_data(&b), cf_fbb_size(&b)}, {tail, 10}};
    rc = sink(w, pieces, 2, err);
  }
  cf_fbb_reset(&b);
  return rc;
}

void cflight_ipc_writer_free(cflight_ipc_writer *w) {
  if (w == NULL) return;
  cflight_ipc_encoder_free(w->enc);
  if (w->fn == fd_write) free(w->ctx);
  if (w->own_fd && w->fd >= 0) close(w->fd);
  free(w->dicts);
  free(w->batches);
  free(w->pieces);
  free(w);
}
