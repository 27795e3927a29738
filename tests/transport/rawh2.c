#include "rawh2.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct rawh2 {
  int fd;
  const uint8_t *body;
  size_t body_len, body_off;
  bool hold; /* do not end the request yet */
  bool done;
  rawh2_result *res;
} rawh2;

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud) {
  (void)s;
  (void)flags;
  rawh2 *r = ud;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(r->fd, data + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    off += (size_t)n;
  }
  return (ssize_t)len;
}

static ssize_t read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)sid;
  (void)src;
  rawh2 *r = ud;
  size_t n = r->body_len - r->body_off;
  if (n > len) n = len;
  if (n > 0) memcpy(buf, r->body + r->body_off, n);
  r->body_off += n;
  if (r->body_off == r->body_len) {
    if (r->hold) return n > 0 ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)s;
  (void)f;
  (void)flags;
  rawh2 *r = ud;
  char v[512];
  snprintf(v, sizeof(v), "%.*s", (int)valuelen, (const char *)value);
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) r->res->http_status = atoi(v);
  if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) r->res->grpc_status = atoi(v);
  if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
    snprintf(r->res->grpc_message, sizeof(r->res->grpc_message), "%s", v);
  if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
    snprintf(r->res->content_type, sizeof(r->res->content_type), "%.100s", v);
  if (namelen == 20 && memcmp(name, "grpc-accept-encoding", 20) == 0)
    snprintf(r->res->accept_encoding, sizeof(r->res->accept_encoding), "%.100s", v);
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                   void *ud) {
  (void)s;
  (void)flags;
  (void)sid;
  (void)data;
  rawh2 *r = ud;
  r->res->body_len += len;
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)s;
  rawh2 *r = ud;
  if (f->hd.type == NGHTTP2_RST_STREAM) r->res->rst_code = f->rst_stream.error_code;
  return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud) {
  (void)s;
  (void)sid;
  (void)code;
  rawh2 *r = ud;
  r->done = true;
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rawh2_request(int port, const char *const *headers, size_t count, const void *body,
                   size_t body_len, int keep_open_ms, rawh2_result *out) {
  memset(out, 0, sizeof(*out));
  out->grpc_status = -1;
  out->rst_code = 0xffffffffu;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return false;
  }
  rawh2 r = {.fd = fd, .body = body, .body_len = body_len, .hold = keep_open_ms > 0, .res = out};
  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session *s;
  nghttp2_session_client_new(&s, cbs, &r);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
  nghttp2_nv nv[32];
  for (size_t i = 0; i < count && i < 32; i++) {
    nv[i].name = (uint8_t *)headers[2 * i];
    nv[i].namelen = strlen(headers[2 * i]);
    nv[i].value = (uint8_t *)headers[2 * i + 1];
    nv[i].valuelen = strlen(headers[2 * i + 1]);
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
  nghttp2_data_provider dp = {.read_callback = read_cb};
  int32_t sid = nghttp2_submit_request(s, NULL, nv, count, &dp, NULL);
  int64_t release_at = now_ms() + keep_open_ms;
  int64_t give_up = now_ms() + 20000;
  uint8_t buf[65536];
  while (!r.done && sid > 0 && now_ms() < give_up) {
    if (r.hold && now_ms() >= release_at) {
      r.hold = false;
      nghttp2_session_resume_data(s, sid);
    }
    if (nghttp2_session_send(s) != 0) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    if (nghttp2_session_mem_recv(s, buf, (size_t)n) < 0) break;
  }
  out->ok = r.done;
  nghttp2_session_del(s);
  close(fd);
  return out->ok;
}
