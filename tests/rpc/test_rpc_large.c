/* One batch of 1 GiB through DoGet. The server's batch is an anonymous
 * mapping that is never written except for a marker byte every 64 MiB, so
 * it costs next to no memory; the client checks the length and the
 * markers, and that the body was not copied on the way in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "flight/flight_data.h"
#include "rpc_test_util.h"

#define BIG ((int64_t)1 << 30)
#define STEP ((int64_t)64 << 20)

static void unmap(void *ctx, void *data) {
  (void)ctx;
  munmap(data, (size_t)BIG);
}

static void big_schema(struct ArrowSchema *out) {
  cf_schema_init(out, "+s", "", 1, NULL);
  out->flags = 0;
  cf_schema_init(out->children[0], "c", "bytes", 0, NULL);
  out->children[0]->flags = 0;
}

static int big_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  int *sent = ctx;
  memset(out, 0, sizeof(*out));
  if ((*sent)++ > 0) return CFLIGHT_OK;
  uint8_t *p = mmap(NULL, (size_t)BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "mmap");
  for (int64_t off = 0; off < BIG; off += STEP)
    p[off] = (uint8_t)(1 + off / STEP);
  p[BIG - 1] = 0x7f;
  cflight_buffer *buf = cflight_buffer_wrap(p, (size_t)BIG, unmap, NULL);
  struct ArrowArray *a = &out->data;
  cf_array_init(a, 1, 1, NULL);
  a->length = BIG;
  cf_array_init(a->children[0], 2, 0, NULL);
  a->children[0]->length = BIG;
  cf_array_set_buffer(a->children[0], 1, buf, p);
  return CFLIGHT_OK;
}

static void free_ctx(void *ctx) {
  free(ctx);
}

static int big_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                   cflight_data_stream **out, cflight_error *err) {
  (void)user;
  (void)ctx;
  (void)t;
  (void)err;
  struct ArrowSchema schema;
  big_schema(&schema);
  *out = cflight_data_stream_new_generator(&schema, big_next, free_ctx, calloc(1, sizeof(int)));
  cf_schema_release(&schema);
  return CFLIGHT_OK;
}

static void test_one_gib_batch(void) {
  cflight_server_handlers h = {.do_get = big_get};
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, &h);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  cflight_ticket *tk = tt("big");
  uint64_t copied0 = cf_flight_data_copied_bytes();
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
  cflight_chunk ch;
  bool end = false;
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(!end && ch.data.release != NULL);
  if (ch.data.release != NULL) {
    CHECK_EQ_INT(ch.data.length, BIG);
    const struct ArrowArray *col = ch.data.children[0];
    CHECK_EQ_INT(col->length, BIG);
    const uint8_t *p = col->buffers[1];
    bool ok = p != NULL;
    for (int64_t off = 0; ok && off < BIG; off += STEP)
      ok = p[off + col->offset] == (uint8_t)(1 + off / STEP) && p[off + col->offset + 1] == 0;
    CHECK(ok && p[col->offset + BIG - 1] == 0x7f);
    /* The body was received in place: no second 1 GiB. */
    CHECK(cf_flight_data_copied_bytes() - copied0 < 4096);
  }
  cflight_chunk_release(&ch);
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(end);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  cflight_client_close(c);
  ts_stop(t);
}

int main(void) {
  RUN_TEST(test_one_gib_batch);
  return cft_finish();
}
