#include "rawsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rawsrv {
  int lfd;
  pthread_t th;
  atomic_bool stop;
};

typedef struct rstream {
  int32_t id;
  char path[256];
  uint32_t frame, pad, count, size, size2;
  uint32_t k;   /* message being sent */
  uint64_t off; /* bytes of it sent, its 5-byte prefix included */
  bool responded;
  struct rstream *next;
} rstream;

typedef struct rconn {
  int fd;
  rstream *streams;
} rconn;

static rstream *find_stream(rconn *c, int32_t id) {
  for (rstream *s = c->streams; s != NULL; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

static uint32_t msg_size(const rstream *s, uint32_t k) {
  return (k % 2 == 1 && s->size2 != UINT32_MAX) ? s->size2 : s->size;
}

static ssize_t send_cb(nghttp2_session *ss, const uint8_t *data, size_t len, int flags, void *ud) {
  (void)ss;
  (void)flags;
  rconn *c = ud;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {c->fd, POLLOUT, 0};
      poll(&p, 1, 100);
      continue;
    }
    if (n <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    off += (size_t)n;
  }
  return (ssize_t)len;
}

static ssize_t data_cb(nghttp2_session *ss, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *ud) {
  (void)ud;
  rstream *s = src->ptr;
  size_t n = 0;
  while (n < len && s->k < s->count) {
    uint32_t size = msg_size(s, s->k);
    uint64_t total = 5 + (uint64_t)size;
    while (n < len && s->off < total) {
      if (s->off < 5) {
        uint8_t pfx[5] = {0, (uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                          (uint8_t)size};
        buf[n++] = pfx[s->off++];
      } else {
        uint64_t i = s->off - 5;
        size_t k = total - s->off < len - n ? (size_t)(total - s->off) : len - n;
        for (size_t j = 0; j < k; j++)
          buf[n + j] = rawsrv_byte(s->k, i + j);
        n += k;
        s->off += k;
      }
    }
    if (s->off == total) {
      s->k++;
      s->off = 0;
    }
  }
  if (s->k == s->count) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv nv = {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE};
    nghttp2_submit_trailer(ss, sid, &nv, 1);
  }
  return (ssize_t)n;
}

static ssize_t length_cb(nghttp2_session *ss, uint8_t type, int32_t sid, int32_t swin,
                         int32_t strwin, uint32_t max_frame, void *ud) {
  (void)type;
  (void)swin;
  (void)strwin;
  (void)ud;
  rstream *s = nghttp2_session_get_stream_user_data(ss, sid);
  size_t n = max_frame;
  if (s != NULL && s->frame > 0 && s->frame < n) n = s->frame;
  return (ssize_t)n;
}

static ssize_t padding_cb(nghttp2_session *ss, const nghttp2_frame *f, size_t max_payload,
                          void *ud) {
  (void)ud;
  rstream *s = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
  if (f->hd.type != NGHTTP2_DATA || s == NULL || s->pad == 0) return (ssize_t)f->hd.length;
  size_t want = f->hd.length + s->pad;
  return (ssize_t)(want < max_payload ? want : max_payload);
}

static int on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *ud) {
  rconn *c = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  rstream *s = calloc(1, sizeof(*s));
  s->id = f->hd.stream_id;
  s->next = c->streams;
  c->streams = s;
  nghttp2_session_set_stream_user_data(ss, s->id, s);
  return 0;
}

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)ss;
  (void)flags;
  rstream *s = find_stream(ud, f->hd.stream_id);
  if (s != NULL && namelen == 5 && memcmp(name, ":path", 5) == 0)
    snprintf(s->path, sizeof(s->path), "%.*s", (int)valuelen, (const char *)value);
  return 0;
}

static void respond(nghttp2_session *ss, rstream *s) {
  if (s->responded) return;
  s->responded = true;
  s->size2 = UINT32_MAX;
  if (sscanf(s->path, "/raw/%u/%u/%u/%u/%u", &s->frame, &s->pad, &s->count, &s->size, &s->size2) <
      4) {
    s->count = 0;
  }
  nghttp2_nv nv[2] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider dp = {.source.ptr = s, .read_callback = data_cb};
  nghttp2_submit_response(ss, s->id, nv, 2, &dp);
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *ud) {
  rstream *s = find_stream(ud, f->hd.stream_id);
  if (s == NULL) return 0;
  /* Respond once the request headers are in: the client may still send. */
  if (f->hd.type == NGHTTP2_HEADERS) respond(ss, s);
  return 0;
}

static int on_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *ud) {
  (void)ss;
  (void)code;
  rconn *c = ud;
  for (rstream **p = &c->streams; *p != NULL; p = &(*p)->next) {
    if ((*p)->id == sid) {
      rstream *s = *p;
      *p = s->next;
      free(s);
      break;
    }
  }
  return 0;
}

static void serve_conn(rawsrv *srv, int fd) {
  rconn c = {fd, NULL};
  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs, length_cb);
  nghttp2_session_callbacks_set_select_padding_callback(cbs, padding_cb);
  nghttp2_session *ss;
  nghttp2_session_server_new(&ss, cbs, &c);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  nghttp2_submit_settings(ss, NGHTTP2_FLAG_NONE, iv, 1);
  static uint8_t buf[65536];
  while (!atomic_load(&srv->stop)) {
    if (nghttp2_session_send(ss) != 0) break;
    if (!nghttp2_session_want_read(ss) && !nghttp2_session_want_write(ss)) break;
    struct pollfd p = {fd, POLLIN, 0};
    /* Data still to send (window permitting): do not wait long. */
    int n = poll(&p, 1, nghttp2_session_want_write(ss) ? 1 : 20);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) break;
    if (nghttp2_session_mem_recv(ss, buf, (size_t)r) < 0) break;
  }
  nghttp2_session_del(ss);
  while (c.streams != NULL) {
    rstream *s = c.streams;
    c.streams = s->next;
    free(s);
  }
  close(fd);
}

static void *srv_main(void *arg) {
  rawsrv *srv = arg;
  while (!atomic_load(&srv->stop)) {
    struct pollfd p = {srv->lfd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept(srv->lfd, NULL, NULL);
    if (fd >= 0) serve_conn(srv, fd);
  }
  return NULL;
}

rawsrv *rawsrv_start(int *port) {
  rawsrv *s = calloc(1, sizeof(*s));
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->lfd, 4) != 0 ||
      getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0) {
    close(s->lfd);
    free(s);
    return NULL;
  }
  *port = ntohs(sa.sin_port);
  atomic_init(&s->stop, false);
  pthread_create(&s->th, NULL, srv_main, s);
  return s;
}

void rawsrv_stop(rawsrv *s) {
  if (s == NULL) return;
  atomic_store(&s->stop, true);
  pthread_join(s->th, NULL);
  close(s->lfd);
  free(s);
}
