/* Flow control and backpressure: a slow reader bounds what the writer has
 * queued and written ahead, in both directions; messages larger than the
 * windows still go through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "tutil.h"

static cf_transport_options small_windows(void) {
  cf_transport_options o;
  cf_transport_options_init(&o);
  cflight_error err = {0};
  cf_transport_options_set(&o, "stream_window", "1048576", &err);
  cf_transport_options_set(&o, "connection_window", "1048576", &err);
  cf_transport_options_set(&o, "send_queue_bytes", "2097152", &err);
  return o;
}

/* Server streams 1 MiB messages; the client reads one every few ms. */
static void test_slow_client_reader(void) {
  cf_transport_options o = small_windows();
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", &o));
  cf_channel *ch = tchannel(t.uri, &o);
  atomic_store(&tflood_sent, 0);
  atomic_store(&tflood_written, 0);
  atomic_store(&tflood_max_queued, 0);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Flood", NULL, 0, &call, &err), &err);
  uint32_t req[2] = {64, 1 << 20};
  CHECK_OK(tsend_copy(call, req, sizeof(req), true, &err), &err);
  int received = 0, max_ahead = 0;
  for (;;) {
    cf_msg m;
    bool more;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) break;
    received++;
    cf_msg_reset(&m);
    usleep(3000);
    int ahead = atomic_load(&tflood_written) - received;
    if (ahead > max_ahead) max_ahead = ahead;
  }
  CHECK_EQ_INT(received, 64);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  fprintf(stderr,
          "  written ahead of the reader: at most %d MiB; queued by the writer: at most %d\n",
          max_ahead, atomic_load(&tflood_max_queued));
  /* Written ahead: the stream window (1 MiB) plus the message in hand. */
  CHECK(max_ahead <= 4);
  /* Queued by the writer: send_queue_bytes (2 MiB) plus the message being added. */
  CHECK(atomic_load(&tflood_max_queued) <= 3);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

typedef struct counter {
  atomic_int done;
} counter;

static void count_done(void *ctx) {
  atomic_fetch_add(&((counter *)ctx)->done, 1);
}

/* The client streams 1 MiB messages to a handler that reads one per 20 ms. */
static void test_slow_server_reader(void) {
  cf_transport_options o = small_windows();
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", &o));
  cf_channel *ch = tchannel(t.uri, &o);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/SlowReader", NULL, 0, &call, &err), &err);
  static uint8_t data[1 << 20];
  counter c = {0};
  int max_queued = 0;
  for (int i = 0; i < 24; i++) {
    cflight_ipc_piece piece = {data, sizeof(data)};
    cf_out_msg om = {&piece, 1, count_done, &c};
    CHECK_OK(cf_call_send(call, &om, i == 23, &err), &err);
    int queued = i + 1 - atomic_load(&c.done);
    if (queued > max_queued) max_queued = queued;
  }
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  if (more) {
    uint64_t n = 0;
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    memcpy(&n, cflight_buffer_data(b), 8);
    CHECK_EQ_INT(n, 24);
    cflight_buffer_unref(b);
    cf_msg_reset(&m);
  }
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  CHECK_EQ_INT(atomic_load(&c.done), 24);
  fprintf(stderr, "  queued by the client: at most %d MiB\n", max_queued);
  CHECK(max_queued <= 3);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

/* Messages far larger than the windows, both ways. */
static void test_message_larger_than_windows(void) {
  cf_transport_options o = small_windows();
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", &o));
  cf_channel *ch = tchannel(t.uri, &o);
  size_t size = 24u << 20;
  uint8_t *buf = malloc(size);
  for (size_t i = 0; i < size; i++)
    buf[i] = (uint8_t)(i >> 12);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, buf, size, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == size &&
        memcmp(cflight_buffer_data(reply), buf, size) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  free(buf);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

static uint8_t zeros[1 << 20];

static void test_beyond_4gib_refused(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ClientStream", NULL, 0, &call, &err), &err);
  size_t n = 4096; /* 4 GiB exactly: one byte more than the prefix can say */
  cflight_ipc_piece *pieces = calloc(n, sizeof(*pieces));
  for (size_t i = 0; i < n; i++)
    pieces[i] = (cflight_ipc_piece){zeros, sizeof(zeros)};
  counter c = {0};
  cf_out_msg om = {pieces, n, count_done, &c};
  CHECK_EQ_INT(cf_call_send(call, &om, false, &err), CFLIGHT_RESOURCE_EXHAUSTED);
  CHECK_EQ_INT(atomic_load(&c.done), 1);
  free(pieces);
  /* The call itself is still usable. */
  CHECK_OK(tsend_copy(call, "abc", 3, true, &err), &err);
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  if (more) cf_msg_reset(&m);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

/* Many streams nobody reads: the connection stops taking data once
 * max_connection_buffer bytes wait for readers. */
static void test_connection_buffer_bound(void) {
  cf_transport_options o = small_windows();
  cflight_error err = {0};
  CHECK_OK(cf_transport_options_set(&o, "max_connection_buffer", "2097152", &err), &err);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, &o);
  atomic_store(&tflood_sent, 0);
  atomic_store(&tflood_written, 0);
  enum { N = 8 };
  cf_call *calls[N];
  for (int i = 0; i < N; i++) {
    CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Flood", NULL, 0, &calls[i], &err), &err);
    uint32_t req[2] = {16, 128 << 10};
    CHECK_OK(tsend_copy(calls[i], req, sizeof(req), true, &err), &err);
  }
  usleep(300000);
  int written = atomic_load(&tflood_written);
  fprintf(stderr, "  %d streams unread: %d x 128 KiB written to the connection\n", N, written);
  /* 2 MiB held plus 1 MiB of connection window in flight (24 messages),
   * well under the 8 MiB (64 messages) the stream windows allow. */
  CHECK(written <= 30);
  /* (A reader waiting on a stream that holds nothing would wait forever
   * now: the documented price of the bound.) Once the streams are gone,
   * their bytes no longer count and the connection carries on. */
  for (int i = 0; i < N; i++)
    cf_call_free(calls[i]);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, NULL), CFLIGHT_OK);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

int main(void) {
  RUN_TEST(test_slow_client_reader);
  RUN_TEST(test_slow_server_reader);
  RUN_TEST(test_message_larger_than_windows);
  RUN_TEST(test_beyond_4gib_refused);
  RUN_TEST(test_connection_buffer_bound);
  return cft_finish();
}
