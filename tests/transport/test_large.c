/* A 1 GiB message each way, without a ceiling on message size by default.
 * Sent as one static zero-filled 1 MiB piece repeated, so only the receiver
 * holds the whole message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "tutil.h"

static uint8_t zeros[1 << 20];

static void done_free(void *ctx) {
  free(ctx);
}

static void test_1gib_download(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Huge", NULL, 0, &call, &err), &err);
  uint64_t size = 1ull << 30;
  CHECK_OK(tsend_copy(call, &size, 8, true, &err), &err);
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  CHECK(more);
  if (more) {
    CHECK_EQ_INT(m.len, size);
    bool zero = true;
    uint64_t sum = 0;
    for (size_t s = 0; s < m.n_slices && zero; s++) {
      sum += m.slices[s].len;
      for (size_t i = 0; i < m.slices[s].len; i += 4096)
        if (m.slices[s].data[i] != 0) zero = false;
    }
    CHECK(zero);
    CHECK_EQ_INT(sum, size);
    fprintf(stderr, "  1 GiB received in %zu slices\n", m.n_slices);
    cf_msg_reset(&m);
  }
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

static void test_1gib_upload(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ClientStream", NULL, 0, &call, &err), &err);
  size_t n = 1024;
  cflight_ipc_piece *pieces = calloc(n, sizeof(*pieces));
  for (size_t i = 0; i < n; i++)
    pieces[i] = (cflight_ipc_piece){zeros, sizeof(zeros)};
  cf_out_msg om = {pieces, n, done_free, pieces};
  CHECK_OK(cf_call_send(call, &om, true, &err), &err);
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  if (more) {
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    uint64_t out[2];
    memcpy(out, cflight_buffer_data(b), 16);
    CHECK_EQ_INT(out[0], 1ull << 30);
    CHECK_EQ_INT(out[1], 1);
    cflight_buffer_unref(b);
    cf_msg_reset(&m);
  }
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

int main(void) {
  RUN_TEST(test_1gib_download);
  RUN_TEST(test_1gib_upload);
  return cft_finish();
}
