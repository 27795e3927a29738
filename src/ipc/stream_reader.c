/* The stream format, read from memory or from a file descriptor:
 * messages until the end-of-stream marker (or a clean end of input). */
#include <errno.h>
#include <unistd.h>

#include "ipc/ipc.h"

typedef struct stream_ctx {
  cf_reader_state st;
  cflight_buffer *data; /* memory mode: the whole stream */
  size_t pos;
  int fd; /* fd mode, when data is NULL */
  cf_bytes meta;
  bool done;
} stream_ctx;

static void stream_ctx_free(void *p) {
  stream_ctx *s = p;
  if (s == NULL) return;
  cf_reader_state_free(&s->st);
  cflight_buffer_unref(s->data);
  cf_bytes_reset(&s->meta);
  free(s);
}

/* Reads exactly n bytes into b (appended), growing b as data arrives so
 * that a lying length costs at most about twice what was really sent.
 * *eof is set when the input ended before the first byte. */
static int read_fd(int fd, size_t n, cf_bytes *b, bool *eof, const char *what, cflight_error *err) {
  size_t got = 0;
  if (eof != NULL) *eof = false;
  while (got < n) {
    size_t chunk = n - got;
    size_t step = b->len < (1 << 16) ? (1 << 16) : b->len;
    if (chunk > step) chunk = step;
    CF_RETURN_NOT_OK(cf_bytes_reserve(b, chunk, err));
    ssize_t r = read(fd, b->data + b->len, chunk);
    if (r < 0) {
      if (errno == EINTR) continue;
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "stream: reading %s: %s", what,
                               strerror(errno));
    }
    if (r == 0) {
      if (got == 0 && eof != NULL) {
        *eof = true;
        return CFLIGHT_OK;
      }
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "stream: the input ends inside %s (%zu of %zu bytes)", what, got, n);
    }
    b->len += (size_t)r;
    got += (size_t)r;
  }
  return CFLIGHT_OK;
}

/* Reads the next message; *body is NULL for a body-less message. */
static int next_message_fd(stream_ctx *s, cf_ipc_msg *msg, cflight_buffer **body, bool *eos,
                           cflight_error *err) {
  bool eof;
  *body = NULL;
  *eos = false;
  s->meta.len = 0;
  CF_RETURN_NOT_OK(read_fd(s->fd, 4, &s->meta, &eof, "a message prefix", err));
  if (eof) {
    *eos = true;
    return CFLIGHT_OK;
  }
  int32_t len = cf_load_i32(s->meta.data);
  if ((uint32_t)len == 0xFFFFFFFFu) {
    s->meta.len = 0;
    CF_RETURN_NOT_OK(read_fd(s->fd, 4, &s->meta, NULL, "a message prefix", err));
    len = cf_load_i32(s->meta.data);
  }
  if (len == 0) {
    *eos = true;
    return CFLIGHT_OK;
  }
  if (len < 0 || len > s->st.opts.max_message_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "stream: bad metadata length %d", (int)len);
  }
  s->meta.len = 0;
  CF_RETURN_NOT_OK(read_fd(s->fd, (size_t)len, &s->meta, NULL, "message metadata", err));
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(msg, s->meta.data, s->meta.len, err));
  if (msg->body_length > s->st.opts.max_message_size - len) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "stream: a %lld-byte body exceeds the message size limit of %lld",
                             (long long)msg->body_length, (long long)s->st.opts.max_message_size);
  }
  if (msg->body_length > 0) {
    cf_bytes b = {0};
    int rc = read_fd(s->fd, (size_t)msg->body_length, &b, NULL, "a message body", err);
    if (rc != CFLIGHT_OK) {
      cf_bytes_reset(&b);
      return rc;
    }
    *body = cf_bytes_finish(&b);
    if (*body == NULL) {
      cf_bytes_reset(&b);
      return CF_NOMEM(err, "message body");
    }
  }
  return CFLIGHT_OK;
}

static int next_message_buffer(stream_ctx *s, cf_ipc_msg *msg, cflight_buffer **body, bool *eos,
                               cflight_error *err) {
  cf_frame fr;
  const uint8_t *data = cflight_buffer_data(s->data);
  size_t size = cflight_buffer_size(s->data);
  *body = NULL;
  *eos = false;
  CF_RETURN_NOT_OK(cf_frame_read(data + s->pos, size - s->pos, &fr, err));
  if (fr.eos) {
    *eos = true;
    return CFLIGHT_OK;
  }
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(msg, fr.meta, fr.meta_size, err));
  size_t start = s->pos + fr.prefix_size + fr.meta_size;
  if ((uint64_t)msg->body_length > size - start) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "stream: a %lld-byte message body runs past the end (%zu bytes left)",
                             (long long)msg->body_length, size - start);
  }
  if (msg->body_length > 0) {
    *body = cflight_buffer_slice(s->data, start, (size_t)msg->body_length);
    if (*body == NULL) return CF_NOMEM(err, "message body");
  }
  s->pos = start + (size_t)msg->body_length;
  return CFLIGHT_OK;
}

/* Reads messages until a record batch (*out filled) or the end (*out released). */
static int stream_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  stream_ctx *s = ctx;
  memset(out, 0, sizeof(*out));
  while (!s->done) {
    cf_ipc_msg msg;
    cflight_buffer *body;
    bool eos;
    int rc = s->data != NULL ? next_message_buffer(s, &msg, &body, &eos, err)
                             : next_message_fd(s, &msg, &body, &eos, err);
    if (rc == CFLIGHT_OK && eos) {
      s->done = true;
      if (!s->st.have_schema)
        rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "stream: no schema message");
      return rc;
    }
    cflight_ipc_message_type type = CFLIGHT_IPC_NONE;
    if (rc == CFLIGHT_OK) rc = cf_reader_state_message(&s->st, &msg, body, &type, out, err);
    cflight_buffer_unref(body);
    if (rc != CFLIGHT_OK) {
      s->done = true; /* a broken stream cannot be resynchronised */
      return rc;
    }
    if (type == CFLIGHT_IPC_RECORD_BATCH) return CFLIGHT_OK;
    /* A dictionary batch was absorbed: go on to the next message. */
  }
  return CFLIGHT_OK;
}

static int stream_open(stream_ctx *s, struct ArrowArrayStream *out, cflight_error *err) {
  struct ArrowArray first;
  /* The first message must be the schema: read it now so get_schema works. */
  cf_ipc_msg msg;
  cflight_buffer *body;
  bool eos;
  int rc = s->data != NULL ? next_message_buffer(s, &msg, &body, &eos, err)
                           : next_message_fd(s, &msg, &body, &eos, err);
  if (rc == CFLIGHT_OK && eos)
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "stream: empty (no schema message)");
  if (rc == CFLIGHT_OK && msg.type != CF_MSG_SCHEMA) {
    cflight_buffer_unref(body);
    body = NULL;
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                           "stream: the first message must be the schema (type %d)", msg.type);
  }
  if (rc == CFLIGHT_OK) {
    cflight_ipc_message_type type;
    memset(&first, 0, sizeof(first));
    rc = cf_reader_state_message(&s->st, &msg, body, &type, &first, err);
    cflight_buffer_unref(body);
  }
  struct ArrowSchema schema;
  if (rc == CFLIGHT_OK) rc = cf_schema_copy(&s->st.plan.schema, &schema, err);
  if (rc != CFLIGHT_OK) {
    stream_ctx_free(s);
    memset(out, 0, sizeof(*out));
    return rc;
  }
  cf_stream_source src = {.next = stream_next, .free_ctx = stream_ctx_free, .ctx = s};
  return cf_stream_init(out, &schema, src, err);
}

int cflight_ipc_stream_open_buffer(cflight_buffer *data, const cflight_ipc_options *opts,
                                   struct ArrowArrayStream *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (data == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream: NULL data");
  stream_ctx *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "stream reader");
  cf_reader_state_init(&s->st, opts);
  s->data = cflight_buffer_ref(data);
  s->fd = -1;
  return stream_open(s, out, err);
}

int cflight_ipc_stream_open_fd(int fd, const cflight_ipc_options *opts,
                               struct ArrowArrayStream *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (fd < 0) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream: bad fd %d", fd);
  stream_ctx *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "stream reader");
  cf_reader_state_init(&s->st, opts);
  s->fd = fd;
  return stream_open(s, out, err);
}
