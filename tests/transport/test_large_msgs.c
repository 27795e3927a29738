/* Large messages (CF_LARGE_MSG_MIN and up) are received into a buffer of
 * their own, as one slice that ends 64-byte aligned, and their bytes are
 * read straight into place when the framing allows, copied there at most
 * once otherwise. Checked for sizes around the threshold, both directions,
 * TLS, small peer frames (gRPC core's 16 KiB), streams interleaved frame by
 * frame, padded and one-byte DATA frames (from a raw nghttp2 server), with
 * the receive counters (cf_recv_stats) telling direct from copied bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "rawsrv.h"
#include "tutil.h"

#define LARGE (64u << 10)

static cf_recv_stats stats_now(void) {
  cf_recv_stats s;
  cf_recv_stats_get(&s);
  return s;
}

static cf_recv_stats stats_since(cf_recv_stats a) {
  cf_recv_stats b = stats_now();
  return (cf_recv_stats){b.large_msgs - a.large_msgs, b.direct_bytes - a.direct_bytes,
                         b.copied_bytes - a.copied_bytes};
}

/* A large message is one slice whose end is 64-byte aligned. */
static bool placed_well(const cf_msg *m) {
  if (m->len < LARGE) return true;
  return m->n_slices == 1 && m->slices[0].len == m->len &&
         ((uintptr_t)(m->slices[0].data + m->len) & 63) == 0;
}

static uint8_t pattern(size_t size, uint32_t k, size_t i) {
  return (uint8_t)(i * 31 + k + size);
}

static bool msg_equals(const cf_msg *m, size_t size, uint32_t k) {
  if (m->len != size) return false;
  size_t i = 0;
  for (size_t s = 0; s < m->n_slices; s++)
    for (size_t j = 0; j < m->slices[s].len; j++, i++)
      if (m->slices[s].data[j] != pattern(size, k, i)) return false;
  return i == size;
}

static void free_buf(void *ctx) {
  cflight_buffer_unref(ctx);
}

static int send_pattern(cf_call *call, size_t size, uint32_t k, cflight_error *err) {
  cflight_buffer *b = cflight_buffer_new(size);
  uint8_t *p = cflight_buffer_mutable_data(b);
  for (size_t i = 0; i < size; i++)
    p[i] = pattern(size, k, i);
  cflight_ipc_piece piece = {p, size};
  cf_out_msg om = {&piece, size > 0 ? 1 : 0, free_buf, b};
  return cf_call_send(call, &om, false, err);
}

static const size_t sizes[] = {
    0,         1,          511,        512,    513,      LARGE - 1,      LARGE,
    LARGE + 1, LARGE + 63, LARGE + 64, 100003, 1u << 20, (1u << 20) + 5, (4u << 20) + 7};

/* Each size three times through Bidi: the server receives the client's
 * messages and the client the echoes, so both sides' receive paths run. */
static void bidi_sizes(const char *location, const cf_transport_options *so,
                       const cf_transport_options *co) {
  tsrv t;
  CHECK(tsrv_start(&t, location, so));
  cf_channel *ch = tchannel(t.uri, co);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  uint64_t first_of_groups = 0, rest_of_groups = 0, n_large = 0;
  bool contents = true, placed = true;
  cf_recv_stats before = stats_now();
  for (size_t g = 0; g < CF_ARRAY_SIZE(sizes); g++) {
    size_t size = sizes[g];
    for (uint32_t k = 0; k < 3; k++) {
      CHECK_OK(send_pattern(call, size, k, &err), &err);
      cf_msg m;
      bool more = false;
      CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
      CHECK(more);
      if (!more) break;
      if (!msg_equals(&m, size, k)) contents = false;
      if (!placed_well(&m)) placed = false;
      cf_msg_reset(&m);
      if (size >= LARGE) {
        n_large++;
        if (k == 0) {
          first_of_groups += size;
        } else {
          rest_of_groups += size;
        }
      }
    }
  }
  CHECK_OK(cf_call_close_send(call, &err), &err);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_recv_stats d = stats_since(before);
  CHECK(contents);
  CHECK(placed);
  /* Both sides received each large message once. */
  CHECK_EQ_INT(d.large_msgs, 2 * n_large);
  /* Every byte of them was placed exactly once: read into place or copied. */
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, 2 * (first_of_groups + rest_of_groups));
  /* Only the first message after smaller ones may come (partly) through the
   * read buffer: its prefix arrived in an ordinary read. The later ones were
   * read straight into place. */
  CHECK_MSG(d.copied_bytes <= 2 * first_of_groups, "copied %llu of %llu",
            (unsigned long long)d.copied_bytes, (unsigned long long)(2 * first_of_groups));
  CHECK(d.direct_bytes >= 2 * rest_of_groups);
  fprintf(stderr, "  %llu large messages: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.large_msgs, (unsigned long long)d.direct_bytes,
          (unsigned long long)d.copied_bytes);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

static void test_sizes_plain(void) {
  bidi_sizes("grpc://127.0.0.1:0", NULL, NULL);
}

static void test_sizes_unix(void) {
  char loc[128];
  snprintf(loc, sizeof(loc), "grpc+unix://%s/large.sock", cft_tmpdir());
  bidi_sizes(loc, NULL, NULL);
}

static char *cert0, *key0;

static void test_sizes_tls(void) {
  cf_transport_options so, co;
  cf_transport_options_init(&so);
  cf_transport_options_init(&co);
  cf_tls_cert_pair pair = {cert0, key0};
  so.tls_server.pairs = &pair;
  so.tls_server.n_pairs = 1;
  co.tls_client.disable_verification = true;
  bidi_sizes("grpc+tls://localhost:0", &so, &co);
}

/* Small messages between large ones (as dictionary batches between record
 * batches), queued together so that they share frames: once the stream has
 * had a large message, the small ones do not make the next large one go
 * through the read buffer. */
static void test_mixed_sizes(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  static const size_t shape[] = {100, 7, 100000, 3000, 200000};
  cf_recv_stats before = stats_now();
  uint64_t large = 0;
  bool ok = true;
  for (uint32_t round = 0; round < 6; round++) {
    for (size_t i = 0; i < CF_ARRAY_SIZE(shape); i++)
      CHECK_OK(send_pattern(call, shape[i], round, &err), &err);
    for (size_t i = 0; i < CF_ARRAY_SIZE(shape); i++) {
      cf_msg m;
      bool more = false;
      CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
      if (!more) {
        ok = false;
        break;
      }
      if (!msg_equals(&m, shape[i], round) || !placed_well(&m)) ok = false;
      if (shape[i] >= LARGE) large += shape[i];
      cf_msg_reset(&m);
    }
  }
  CHECK_OK(cf_call_close_send(call, &err), &err);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_recv_stats d = stats_since(before);
  CHECK(ok);
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, 2 * large);
  /* Only the first large message (each way) may be copied. */
  CHECK_MSG(d.copied_bytes <= 2 * 100000, "copied %llu", (unsigned long long)d.copied_bytes);
  fprintf(stderr, "  mixed: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

/* A peer that sends 16 KiB frames (gRPC core's default), and windows small
 * enough that the sender waits for the reader. */
static void test_small_frames(void) {
  cf_transport_options so, co;
  cf_transport_options_init(&so);
  cf_transport_options_init(&co);
  cflight_error err = {0};
  CHECK_OK(cf_transport_options_set(&co, "max_frame_size", "16384", &err), &err);
  CHECK_OK(cf_transport_options_set(&co, "stream_window", "262144", &err), &err);
  CHECK_OK(cf_transport_options_set(&co, "connection_window", "524288", &err), &err);
  CHECK_OK(cf_transport_options_set(&so, "max_frame_size", "16384", &err), &err);
  bidi_sizes("grpc://127.0.0.1:0", &so, &co);
}

/* ServerStream's messages: byte i of message k is (i + k) & 255. */
static bool stream_msg_ok(const cf_msg *m, uint32_t size, uint32_t k) {
  if (m->len != size) return false;
  size_t i = 0;
  for (size_t s = 0; s < m->n_slices; s++)
    for (size_t j = 0; j < m->slices[s].len; j++, i++)
      if (m->slices[s].data[j] != (uint8_t)(i + k)) return false;
  return true;
}

typedef struct reader_arg {
  cf_call *call;
  uint32_t count, size;
  uint32_t got;
  bool ok;
} reader_arg;

static void *read_stream(void *p) {
  reader_arg *a = p;
  cflight_error err = {0};
  a->ok = true;
  for (;;) {
    cf_msg m;
    bool more = false;
    if (cf_call_recv(a->call, &m, &more, &err) != CFLIGHT_OK) {
      a->ok = false;
      break;
    }
    if (!more) break;
    if (!stream_msg_ok(&m, a->size, a->got) || !placed_well(&m)) a->ok = false;
    a->got++;
    cf_msg_reset(&m);
  }
  return NULL;
}

/* Two streams on one connection, each receiving large messages, with
 * 16 KiB frames: the server's loop takes turns, so their frames interleave. */
static void test_interleaved_streams(void) {
  cf_transport_options co;
  cf_transport_options_init(&co);
  cflight_error err = {0};
  CHECK_OK(cf_transport_options_set(&co, "max_frame_size", "16384", &err), &err);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, &co);
  cf_recv_stats before = stats_now();
  reader_arg args[3] = {
      {NULL, 12, 300001, 0, false}, {NULL, 30, LARGE, 0, false}, {NULL, 200, 1000, 0, false}};
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ServerStream", NULL, 0, &args[i].call, &err),
             &err);
    uint32_t req[2] = {args[i].count, args[i].size};
    CHECK_OK(tsend_copy(args[i].call, req, sizeof(req), true, &err), &err);
  }
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, read_stream, &args[i]);
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    CHECK(args[i].ok);
    CHECK_EQ_INT(args[i].got, args[i].count);
    CHECK_EQ_INT(cf_call_finish(args[i].call, NULL), CFLIGHT_OK);
    cf_call_free(args[i].call);
  }
  cf_recv_stats d = stats_since(before);
  uint64_t large_bytes = 12ull * 300001 + 30ull * LARGE;
  CHECK_EQ_INT(d.large_msgs, 12 + 30);
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, large_bytes);
  /* Each stream's first message may be copied in part; the rest go direct. */
  CHECK(d.copied_bytes <= 300001 + LARGE);
  fprintf(stderr, "  interleaved: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

/* ---- Framings our server never makes, from a raw nghttp2 server ----------------------- */

static bool raw_msg_ok(const cf_msg *m, uint32_t size, uint32_t k) {
  if (m->len != size) return false;
  size_t i = 0;
  for (size_t s = 0; s < m->n_slices; s++)
    for (size_t j = 0; j < m->slices[s].len; j++, i++)
      if (m->slices[s].data[j] != rawsrv_byte(k, i)) return false;
  return true;
}

typedef struct raw_arg {
  cf_channel *ch;
  char path[128];
  uint32_t count, size, size2;
  uint32_t got;
  uint64_t large_bytes, n_large;
  bool ok;
} raw_arg;

static void *raw_call(void *p) {
  raw_arg *a = p;
  cflight_error err = {0};
  cf_call *call = NULL;
  a->ok = false;
  if (cf_channel_start_call(a->ch, a->path, NULL, 0, &call, &err) != CFLIGHT_OK) return NULL;
  if (tsend_copy(call, "go", 2, true, &err) != CFLIGHT_OK) {
    cf_call_free(call);
    return NULL;
  }
  bool ok = true;
  for (;;) {
    cf_msg m;
    bool more = false;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK) {
      fprintf(stderr, "  %s: %s\n", a->path, err.message);
      ok = false;
      break;
    }
    if (!more) break;
    uint32_t size = a->got % 2 == 1 ? a->size2 : a->size;
    if (!raw_msg_ok(&m, size, a->got) || !placed_well(&m)) {
      fprintf(stderr, "  %s: message %u is wrong (%zu bytes, %zu slices)\n", a->path, a->got, m.len,
              m.n_slices);
      ok = false;
    }
    if (size >= LARGE) {
      a->large_bytes += size;
      a->n_large++;
    }
    a->got++;
    cf_msg_reset(&m);
  }
  if (cf_call_finish(call, NULL) != CFLIGHT_OK) ok = false;
  cf_call_free(call);
  a->ok = ok && a->got == a->count;
  return NULL;
}

static void raw_case(cf_channel *ch, uint32_t frame, uint32_t pad, uint32_t count, uint32_t size,
                     uint32_t size2) {
  raw_arg a = {.ch = ch, .count = count, .size = size, .size2 = size2};
  snprintf(a.path, sizeof(a.path), "/raw/%u/%u/%u/%u/%u", frame, pad, count, size, size2);
  cf_recv_stats before = stats_now();
  raw_call(&a);
  cf_recv_stats d = stats_since(before);
  CHECK_MSG(a.ok, "%s", a.path);
  CHECK_EQ_INT(d.large_msgs, a.n_large);
  /* At most one copy: every byte of a large message placed exactly once. */
  CHECK_MSG(d.direct_bytes + d.copied_bytes == a.large_bytes, "%s: %llu + %llu != %llu", a.path,
            (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes,
            (unsigned long long)a.large_bytes);
  /* (How much was read straight into place depends on how much of the
   * response had arrived by the first read: that read goes into the read
   * buffer, and everything in it is copied.) */
}

static void test_raw_framings(void) {
  int port = 0;
  rawsrv *srv = rawsrv_start(&port);
  CHECK(srv != NULL);
  if (srv == NULL) return;
  char uri[64];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", port);
  cf_channel *ch = tchannel(uri, NULL);
  static const uint32_t frames[] = {0, 16384, 4096, 1000, 100, 9, 7};
  static const uint32_t pads[] = {0, 1, 100};
  for (size_t f = 0; f < CF_ARRAY_SIZE(frames); f++) {
    for (size_t p = 0; p < CF_ARRAY_SIZE(pads); p++) {
      /* Sizes around the threshold; large and small alternating; one big. */
      raw_case(ch, frames[f], pads[p], 4, LARGE - 1, LARGE);
      raw_case(ch, frames[f], pads[p], 4, LARGE + 1, LARGE + 63);
      raw_case(ch, frames[f], pads[p], 5, 100, 70000);
      raw_case(ch, frames[f], pads[p], 3, 100000, 100000);
      if (frames[f] == 0 || frames[f] >= 1000) raw_case(ch, frames[f], pads[p], 2, 3u << 20, 5);
    }
  }
  /* One-byte frames: every frame header read, every byte placed on its own. */
  raw_case(ch, 1, 0, 2, LARGE, LARGE + 3);
  raw_case(ch, 1, 2, 2, LARGE + 3, LARGE);
  cf_channel_free(ch);
  rawsrv_stop(srv);
}

/* Streams interleaved frame by frame by the raw server (small frames, some
 * padded), all on one connection. */
static void test_raw_interleaved(void) {
  int port = 0;
  rawsrv *srv = rawsrv_start(&port);
  CHECK(srv != NULL);
  if (srv == NULL) return;
  char uri[64];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", port);
  cf_channel *ch = tchannel(uri, NULL);
  raw_arg args[4] = {
      {.ch = ch, .count = 6, .size = 70000, .size2 = 200000},
      {.ch = ch, .count = 6, .size = 150000, .size2 = 10},
      {.ch = ch, .count = 40, .size = 300, .size2 = 5000},
      {.ch = ch, .count = 4, .size = LARGE, .size2 = LARGE},
  };
  snprintf(args[0].path, sizeof(args[0].path), "/raw/1000/0/6/70000/200000");
  snprintf(args[1].path, sizeof(args[1].path), "/raw/777/0/6/150000/10");
  snprintf(args[2].path, sizeof(args[2].path), "/raw/100/0/40/300/5000");
  snprintf(args[3].path, sizeof(args[3].path), "/raw/2000/3/4/%u/%u", LARGE, LARGE);
  cf_recv_stats before = stats_now();
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, raw_call, &args[i]);
  uint64_t large = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK_MSG(args[i].ok, "%s", args[i].path);
    large += args[i].large_bytes;
  }
  cf_recv_stats d = stats_since(before);
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, large);
  fprintf(stderr, "  raw interleaved: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes);
  cf_channel_free(ch);
  rawsrv_stop(srv);
}

/* A call cancelled while a large message is half received: its buffer goes
 * with the call, and the connection goes on serving another. */
static void test_cancel_mid_message(void) {
  cf_transport_options co;
  cf_transport_options_init(&co);
  cflight_error err = {0};
  /* A small window: the sender stops inside the 64 MiB message. */
  CHECK_OK(cf_transport_options_set(&co, "stream_window", "1048576", &err), &err);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, &co);
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Huge", NULL, 0, &call, &err), &err);
  uint64_t size = 64u << 20;
  CHECK_OK(tsend_copy(call, &size, 8, true, &err), &err);
  const cf_metadata *h = NULL;
  CHECK_OK(cf_call_response_headers(call, &h, &err), &err);
  cf_call_cancel(call);
  cf_call_free(call);
  reader_arg a = {NULL, 5, 200000, 0, false};
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ServerStream", NULL, 0, &a.call, &err), &err);
  uint32_t req[2] = {a.count, a.size};
  CHECK_OK(tsend_copy(a.call, req, sizeof(req), true, &err), &err);
  read_stream(&a);
  CHECK(a.ok);
  CHECK_EQ_INT(a.got, 5);
  CHECK_EQ_INT(cf_call_finish(a.call, NULL), CFLIGHT_OK);
  cf_call_free(a.call);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

int main(void) {
  cert0 = tpem("cert0.pem");
  key0 = tpem("cert0.key");
  RUN_TEST(test_sizes_plain);
  RUN_TEST(test_sizes_unix);
  if (cert0 != NULL && key0 != NULL) RUN_TEST(test_sizes_tls);
  RUN_TEST(test_mixed_sizes);
  RUN_TEST(test_small_frames);
  RUN_TEST(test_interleaved_streams);
  RUN_TEST(test_raw_framings);
  RUN_TEST(test_raw_interleaved);
  RUN_TEST(test_cancel_mid_message);
  free(cert0);
  free(key0);
  return cft_finish();
}
