/* Every RPC between our client and our server: results, errors (codes,
 * messages, extra_info), unimplemented methods, app_metadata, dictionaries,
 * the write size limit, typed actions, locations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_test_util.h"

static ts_server *S;

static bool buf_is(const cflight_buffer *b, const char *s) {
  return b != NULL && cflight_buffer_size(b) == strlen(s) &&
         memcmp(cflight_buffer_data(b), s, strlen(s)) == 0;
}

/* Checks that batches equal the "ints" flight. */
static void check_ints(const struct ArrowArray *batches, size_t n) {
  struct ArrowSchema schema;
  struct ArrowArray *expect = NULL;
  size_t m = 0;
  CHECK(ts_get_flight(S, "ints", &schema, &expect, &m));
  CHECK_EQ_INT(n, m);
  for (size_t i = 0; i < n && i < m; i++) {
    cflight_error err = {0};
    CHECK_OK(cflight_array_equal(&schema, &expect[i], &batches[i], &err), &err);
  }
  cf_schema_release(&schema);
  tb_release(expect, m);
}

static void test_list_flights(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_info_iter *it = NULL;
  CHECK_OK(cflight_client_list_flights(c, NULL, 0, NULL, &it, &err), &err);
  int n = 0;
  for (;;) {
    cflight_flight_info *info = NULL;
    CHECK_OK(cflight_info_iter_next(it, &info, &err), &err);
    if (info == NULL) break;
    n++;
    CHECK_EQ_INT(cflight_flight_info_total_records(info), 151);
    CHECK_EQ_INT(cflight_flight_info_endpoint_count(info), 1);
    const cflight_ticket *t = cflight_endpoint_ticket(cflight_flight_info_endpoint(info, 0));
    size_t size = 0;
    const uint8_t *d = cflight_ticket_data(t, &size);
    CHECK(size == 4 && memcmp(d, "ints", 4) == 0);
    cflight_flight_info_free(info);
  }
  CHECK_EQ_INT(n, 1);
  /* After the end, still the end. */
  cflight_flight_info *none = (cflight_flight_info *)1;
  CHECK_OK(cflight_info_iter_next(it, &none, &err), &err);
  CHECK(none == NULL);
  cflight_info_iter_free(it);
  CHECK_OK(cflight_client_list_flights(c, "empty", 5, NULL, &it, &err), &err);
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_info_iter_next(it, &info, &err), &err);
  CHECK(info == NULL);
  cflight_info_iter_free(it);
  /* An iterator dropped early cancels its call. */
  CHECK_OK(cflight_client_list_flights(c, NULL, 0, NULL, &it, &err), &err);
  cflight_info_iter_free(it);
  cflight_client_close(c);
}

static void test_get_flight_info(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(c, d, NULL, &info, &err), &err);
  CHECK(cflight_descriptor_equals(cflight_flight_info_descriptor(info), d));
  struct ArrowSchema schema;
  CHECK_OK(cflight_flight_info_schema(info, &schema, &err), &err);
  CHECK_EQ_INT(schema.n_children, 2);
  CHECK_EQ_STR(schema.children[1]->name, "s");
  cf_schema_release(&schema);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);

  /* Not found. */
  d = td_path("nope");
  info = NULL;
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_NOT_FOUND);
  CHECK(info == NULL);
  CHECK(strstr(err.message, "no flight 'nope'") != NULL);
  cflight_descriptor_free(d);

  /* A handler's code, message and extra_info come back as they were. */
  int codes[] = {CFLIGHT_UNAUTHENTICATED,   CFLIGHT_PERMISSION_DENIED, CFLIGHT_UNAVAILABLE,
                 CFLIGHT_DEADLINE_EXCEEDED, CFLIGHT_CANCELLED,         CFLIGHT_INTERNAL,
                 CFLIGHT_UNKNOWN,           CFLIGHT_ALREADY_EXISTS};
  for (size_t i = 0; i < CF_ARRAY_SIZE(codes); i++) {
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "error:%d", codes[i]);
    d = td_cmd(cmd);
    cflight_error e = {0};
    CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &e), codes[i]);
    char msg[32];
    snprintf(msg, sizeof(msg), "boom %d", codes[i]);
    CHECK_MSG(strstr(e.message, msg) != NULL, "message: %s", e.message);
    CHECK(buf_is(e.extra_info, "details"));
    cflight_error_reset(&e);
    cflight_descriptor_free(d);
  }
  /* Local codes travel as their gRPC code. */
  char cmd[32];
  snprintf(cmd, sizeof(cmd), "error:%d", CFLIGHT_INVALID_DATA);
  d = td_cmd(cmd);
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_descriptor_free(d);
  snprintf(cmd, sizeof(cmd), "error:%d", CFLIGHT_NO_MEMORY);
  d = td_cmd(cmd);
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_RESOURCE_EXHAUSTED);
  cflight_descriptor_free(d);
  cflight_error_reset(&err);
  cflight_client_close(c);
}

static void test_poll_and_schema(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_descriptor *d = td_path("ints");
  cflight_poll_info *p = NULL;
  CHECK_OK(cflight_client_poll_flight_info(c, d, NULL, &p, &err), &err);
  double progress = 0;
  CHECK(cflight_poll_info_progress(p, &progress) && progress == 1.0);
  CHECK(cflight_poll_info_info(p) != NULL);
  CHECK(cflight_poll_info_descriptor(p) == NULL);
  cflight_poll_info_free(p);
  struct ArrowSchema schema;
  CHECK_OK(cflight_client_get_schema(c, d, NULL, &schema, &err), &err);
  CHECK_EQ_STR(schema.format, "+s");
  CHECK_EQ_STR(schema.children[0]->format, "l");
  cf_schema_release(&schema);
  cflight_descriptor_free(d);
  d = td_path("nope");
  CHECK_EQ_INT(cflight_client_get_schema(c, d, NULL, &schema, &err), CFLIGHT_NOT_FOUND);
  CHECK(schema.release == NULL);
  cflight_descriptor_free(d);
  cflight_client_close(c);
}

static void test_do_get(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_ticket *t = tt("ints");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  struct ArrowSchema schema;
  CHECK_OK(cflight_stream_reader_schema(r, &schema, &err), &err);
  CHECK_EQ_INT(schema.n_children, 2);
  cf_schema_release(&schema);
  struct ArrowArray got[3];
  size_t n = 0;
  for (;;) {
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    if (end) {
      CHECK(ch.data.release == NULL && ch.app_metadata == NULL);
      break;
    }
    char md[32];
    snprintf(md, sizeof(md), "m%zu", n);
    CHECK(buf_is(ch.app_metadata, md));
    CHECK(ch.data.release != NULL);
    if (n < 3) {
      cf_array_move(&ch.data, &got[n++]);
    }
    cflight_chunk_release(&ch);
  }
  check_ints(got, n);
  for (size_t i = 0; i < n; i++)
    cf_array_release(&got[i]);
  cflight_stream_reader_free(r);

  /* read_all, through the ArrowArrayStream source on the server. */
  cflight_ticket_free(t);
  t = tt("stream:ints");
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  struct ArrowArrayStream st;
  CHECK_OK(cflight_stream_reader_read_all(r, &st, &err), &err);
  cflight_stream_reader_free(r);
  struct ArrowArray *all = NULL;
  int k = tb_collect(&st, &schema, &all);
  CHECK_EQ_INT(k, 3);
  if (k == 3) check_ints(all, 3);
  tb_release(all, k > 0 ? (size_t)k : 0);
  cf_schema_release(&schema);
  st.release(&st);

  /* to_stream, lazily. */
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  CHECK_OK(cflight_stream_reader_to_stream(r, &st, &err), &err);
  k = tb_collect(&st, &schema, &all);
  CHECK_EQ_INT(k, 3);
  if (k == 3) check_ints(all, 3);
  tb_release(all, k > 0 ? (size_t)k : 0);
  cf_schema_release(&schema);
  st.release(&st);
  cflight_ticket_free(t);

  /* Metadata-only chunks around a batch. */
  t = tt("meta");
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  const char *expect[] = {"a", NULL, "b"};
  for (int i = 0; i < 3; i++) {
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(!end);
    if (expect[i] != NULL) {
      CHECK(buf_is(ch.app_metadata, expect[i]) && ch.data.release == NULL);
    } else {
      CHECK(ch.app_metadata == NULL && ch.data.release != NULL && ch.data.length == 100);
    }
    cflight_chunk_release(&ch);
  }
  cflight_chunk ch;
  bool end = false;
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(end);
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);

  /* Errors: at once, and after a batch. */
  t = tt("error:7");
  CHECK_EQ_INT(cflight_client_do_get(c, t, NULL, &r, &err), CFLIGHT_PERMISSION_DENIED);
  CHECK(r == NULL);
  CHECK(buf_is(err.extra_info, "details"));
  cflight_ticket_free(t);
  t = tt("error-late");
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(ch.data.release != NULL);
  cflight_chunk_release(&ch);
  CHECK_EQ_INT(cflight_stream_reader_next(r, &ch, &end, &err), CFLIGHT_INTERNAL);
  CHECK(strstr(err.message, "late failure") != NULL);
  /* Sticky. */
  CHECK_EQ_INT(cflight_stream_reader_next(r, &ch, &end, &err), CFLIGHT_INTERNAL);
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  /* A missing flight. */
  t = tt("nope");
  CHECK_EQ_INT(cflight_client_do_get(c, t, NULL, &r, &err), CFLIGHT_NOT_FOUND);
  cflight_ticket_free(t);
  cflight_error_reset(&err);
  cflight_client_close(c);
}

static void test_do_put(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("put1");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  /* DoPut's writer has begun already. */
  CHECK_EQ_INT(cflight_stream_writer_begin(w, &schema, &err), CFLIGHT_FAILED_PRECONDITION);
  struct ArrowArray b;
  tb_batch(0, 10, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  /* Borrowed: the same batch can be written again. */
  CHECK_OK(cflight_stream_writer_write(w, &b, "meta", 4, &err), &err);
  CHECK(b.release != NULL);
  cf_array_release(&b);
  CHECK_OK(cflight_stream_writer_write_metadata(w, "alone", 5, &err), &err);
  tb_batch(10, 5, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  cf_array_release(&b);
  const char *acks[] = {"ack0", "ack1", "got:alone", "ack2"};
  for (int i = 0; i < 4; i++) {
    cflight_buffer *m = NULL;
    CHECK_OK(cflight_metadata_reader_read(mr, &m, &err), &err);
    CHECK_MSG(buf_is(m, acks[i]), "ack %d", i);
    cflight_buffer_unref(m);
  }
  CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
  CHECK_EQ_INT(cflight_stream_writer_write_metadata(w, "x", 1, &err), CFLIGHT_FAILED_PRECONDITION);
  cflight_buffer *m = (cflight_buffer *)1;
  CHECK_OK(cflight_metadata_reader_read(mr, &m, &err), &err);
  CHECK(m == NULL);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);

  /* The server stored what it got. */
  struct ArrowSchema got_schema;
  struct ArrowArray *got = NULL;
  size_t n = 0;
  CHECK(ts_get_flight(S, "put1", &got_schema, &got, &n));
  CHECK_EQ_INT(n, 3);
  if (n == 3) {
    CHECK_EQ_INT(got[0].length, 10);
    CHECK_EQ_INT(got[2].length, 5);
    tb_batch(10, 5, &b);
    CHECK_OK(cflight_array_equal(&schema, &b, &got[2], &err), &err);
    cf_array_release(&b);
  }
  tb_release(got, n);
  cf_schema_release(&got_schema);

  /* Errors come back through close; a PATH is required. */
  d = td_cmd("x");
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  CHECK_EQ_INT(cflight_stream_writer_close(w, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "need a path") != NULL);
  /* And the metadata reader says the same. */
  CHECK_EQ_INT(cflight_metadata_reader_read(mr, &m, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);

  /* A writer freed without close cancels the upload: nothing is stored. */
  d = td_path("put2");
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  tb_batch(0, 3, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  cf_array_release(&b);
  cflight_metadata_reader_free(mr);
  cflight_stream_writer_free(w);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  cflight_client_close(c);
}

static void test_do_exchange(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  struct ArrowSchema schema;
  tb_schema(&schema);
  /* echo */
  cflight_descriptor *d = td_cmd("echo");
  cflight_stream_writer *w = NULL;
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  struct ArrowArray b;
  tb_batch(0, 10, &b);
  CHECK_EQ_INT(cflight_stream_writer_write(w, &b, NULL, 0, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK_OK(cflight_stream_writer_write_metadata(w, "first", 5, &err), &err);
  CHECK_OK(cflight_stream_writer_begin(w, &schema, &err), &err);
  CHECK_OK(cflight_stream_writer_write(w, &b, "m", 1, &err), &err);
  cflight_chunk ch;
  bool end = false;
  /* The echo of the metadata, then of the batch. */
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(buf_is(ch.app_metadata, "first") && ch.data.release == NULL);
  cflight_chunk_release(&ch);
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(buf_is(ch.app_metadata, "m") && ch.data.release != NULL);
  if (ch.data.release != NULL) CHECK_OK(cflight_array_equal(&schema, &b, &ch.data, &err), &err);
  cflight_chunk_release(&ch);
  cf_array_release(&b);
  CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  CHECK(end);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_reader_free(r);
  cflight_stream_writer_free(w);
  cflight_descriptor_free(d);

  /* sum: metadata answers to batches. */
  d = td_cmd("sum");
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  CHECK_OK(cflight_stream_writer_begin(w, &schema, &err), &err);
  int64_t expect = 0;
  for (int i = 0; i < 5; i++) {
    tb_batch(i * 10, 10, &b);
    CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
    cf_array_release(&b);
    for (int k = 0; k < 10; k++)
      expect += i * 10 + k;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)expect);
    CHECK(buf_is(ch.app_metadata, s));
    cflight_chunk_release(&ch);
  }
  /* The server sends no schema: asking for it after the end says so. */
  CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
  struct ArrowSchema none;
  CHECK_EQ_INT(cflight_stream_reader_schema(r, &none, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_reader_free(r);
  cflight_stream_writer_free(w);
  cflight_descriptor_free(d);

  /* get: the server writes without reading anything. */
  d = td_cmd("get:ints");
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  struct ArrowArrayStream st;
  CHECK_OK(cflight_stream_reader_read_all(r, &st, &err), &err);
  struct ArrowSchema got_schema;
  struct ArrowArray *got = NULL;
  int k = tb_collect(&st, &got_schema, &got);
  CHECK_EQ_INT(k, 3);
  if (k == 3) check_ints(got, 3);
  tb_release(got, k > 0 ? (size_t)k : 0);
  cf_schema_release(&got_schema);
  st.release(&st);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);

  /* An error from the handler. */
  d = td_cmd("nope");
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  CHECK_EQ_INT(cflight_stream_reader_next(r, &ch, &end, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_stream_writer_close(w, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  cflight_client_close(c);
}

static void test_actions(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_action_type_iter *ti = NULL;
  CHECK_OK(cflight_client_list_actions(c, NULL, &ti, &err), &err);
  const char *names[] = {"echo", "error"};
  for (int i = 0; i < 2; i++) {
    cflight_action_type *at = NULL;
    CHECK_OK(cflight_action_type_iter_next(ti, &at, &err), &err);
    CHECK(at != NULL);
    if (at != NULL) CHECK_EQ_STR(cflight_action_type_get_type(at), names[i]);
    cflight_action_type_free(at);
  }
  cflight_action_type *at = NULL;
  CHECK_OK(cflight_action_type_iter_next(ti, &at, &err), &err);
  CHECK(at == NULL);
  cflight_action_type_iter_free(ti);

  cflight_action *a = NULL;
  CHECK_OK(cflight_action_new("echo", "hello", 5, &a, &err), &err);
  cflight_result_iter *ri = NULL;
  CHECK_OK(cflight_client_do_action(c, a, NULL, &ri, &err), &err);
  cflight_result *res = NULL;
  CHECK_OK(cflight_result_iter_next(ri, &res, &err), &err);
  size_t size = 0;
  const uint8_t *body = res != NULL ? cflight_result_body(res, &size) : NULL;
  CHECK(size == 5 && memcmp(body, "hello", 5) == 0);
  cflight_result_free(res);
  CHECK_OK(cflight_result_iter_next(ri, &res, &err), &err);
  CHECK(res == NULL);
  cflight_result_iter_free(ri);
  cflight_action_free(a);

  CHECK_OK(cflight_action_new("error", NULL, 0, &a, &err), &err);
  CHECK_OK(cflight_client_do_action(c, a, NULL, &ri, &err), &err);
  CHECK_EQ_INT(cflight_result_iter_next(ri, &res, &err), CFLIGHT_UNAUTHORIZED);
  CHECK_EQ_STR(err.message, "not for you");
  CHECK(err.extra_info != NULL && cflight_buffer_size(err.extra_info) == 3 &&
        memcmp(cflight_buffer_data(err.extra_info), "\x00\x01\x02", 3) == 0);
  cflight_result_iter_free(ri);
  cflight_action_free(a);

  /* What the call context tells a handler. */
  cflight_call_options *o = cflight_call_options_new();
  cflight_call_options_set_timeout(o, 60);
  for (int with = 0; with < 2; with++) {
    CHECK_OK(cflight_action_new("remaining", NULL, 0, &a, &err), &err);
    CHECK_OK(cflight_client_do_action(c, a, with ? o : NULL, &ri, &err), &err);
    CHECK_OK(cflight_result_iter_next(ri, &res, &err), &err);
    char text[64] = "";
    if (res != NULL) {
      body = cflight_result_body(res, &size);
      snprintf(text, sizeof(text), "%.*s", (int)size, (const char *)body);
    }
    double left = atof(text);
    CHECK_MSG(with ? (left > 0 && left <= 60) : left < 0, "%s", text);
    CHECK_MSG(strstr(text, " DoAction live") != NULL, "%s", text);
    cflight_result_free(res);
    cflight_result_iter_free(ri);
    cflight_action_free(a);
  }
  cflight_call_options_free(o);
  cflight_error_reset(&err);
  cflight_client_close(c);
}

static void test_typed_actions(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(c, d, NULL, &info, &err), &err);
  cflight_cancel_flight_info_request *creq = NULL;
  CHECK_OK(cflight_cancel_flight_info_request_new(info, &creq, &err), &err);
  cflight_cancel_flight_info_result *cres = NULL;
  CHECK_OK(cflight_client_cancel_flight_info(c, creq, NULL, &cres, &err), &err);
  CHECK(cres != NULL &&
        cflight_cancel_flight_info_result_status(cres) == CFLIGHT_CANCEL_STATUS_CANCELLED);
  cflight_cancel_flight_info_result_free(cres);
  cflight_cancel_flight_info_request_free(creq);

  cflight_renew_flight_endpoint_request *rreq = NULL;
  CHECK_OK(
      cflight_renew_flight_endpoint_request_new(cflight_flight_info_endpoint(info, 0), &rreq, &err),
      &err);
  cflight_endpoint *e = NULL;
  CHECK_OK(cflight_client_renew_flight_endpoint(c, rreq, NULL, &e, &err), &err);
  cflight_timestamp ts = {0, 0};
  CHECK(e != NULL && cflight_endpoint_expiration_time(e, &ts) && ts.seconds == 1000);
  cflight_endpoint_free(e);
  cflight_renew_flight_endpoint_request_free(rreq);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);

  cflight_set_session_options_request *sreq = NULL;
  CHECK_OK(cflight_set_session_options_request_new(&sreq, &err), &err);
  cflight_session_option_value *v = NULL;
  CHECK_OK(cflight_session_option_value_new_string("utc", &v, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(sreq, "tz", v, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(sreq, "bad", v, &err), &err);
  cflight_session_option_value_free(v);
  cflight_set_session_options_result *sres = NULL;
  CHECK_OK(cflight_client_set_session_options(c, sreq, NULL, &sres, &err), &err);
  cflight_set_session_option_error why = CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED;
  CHECK(sres != NULL && cflight_set_session_options_result_count(sres) == 1 &&
        cflight_set_session_options_result_find(sres, "bad", &why) &&
        why == CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME);
  cflight_set_session_options_result_free(sres);
  cflight_set_session_options_request_free(sreq);

  cflight_get_session_options_result *gres = NULL;
  CHECK_OK(cflight_client_get_session_options(c, NULL, NULL, &gres, &err), &err);
  const cflight_session_option_value *tz =
      gres != NULL ? cflight_get_session_options_result_find(gres, "tz") : NULL;
  CHECK(tz != NULL && strcmp(cflight_session_option_value_string(tz), "utc") == 0);
  cflight_get_session_options_result_free(gres);

  cflight_close_session_result *close = NULL;
  CHECK_OK(cflight_client_close_session(c, NULL, NULL, &close, &err), &err);
  CHECK(close != NULL &&
        cflight_close_session_result_status(close) == CFLIGHT_CLOSE_SESSION_STATUS_CLOSED);
  cflight_close_session_result_free(close);
  CHECK_OK(cflight_client_get_session_options(c, NULL, NULL, &gres, &err), &err);
  CHECK(gres != NULL && cflight_get_session_options_result_count(gres) == 0);
  cflight_get_session_options_result_free(gres);

  /* The server helpers refuse another action's body. */
  cflight_action *a = NULL;
  CHECK_OK(cflight_action_new("echo", NULL, 0, &a, &err), &err);
  cflight_close_session_request *cs = NULL;
  CHECK_EQ_INT(cflight_action_decode_close_session_request(a, &cs, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_action_free(a);
  cflight_client_close(c);
}

static void test_unimplemented(void) {
  cflight_server_handlers none = {0};
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, &none);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_UNIMPLEMENTED);
  CHECK(strstr(err.message, "GetFlightInfo") != NULL);
  cflight_poll_info *p = NULL;
  CHECK_EQ_INT(cflight_client_poll_flight_info(c, d, NULL, &p, &err), CFLIGHT_UNIMPLEMENTED);
  struct ArrowSchema schema;
  CHECK_EQ_INT(cflight_client_get_schema(c, d, NULL, &schema, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_info_iter *it = NULL;
  CHECK_OK(cflight_client_list_flights(c, NULL, 0, NULL, &it, &err), &err);
  CHECK_EQ_INT(cflight_info_iter_next(it, &info, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_info_iter_free(it);
  cflight_ticket *tk = tt("x");
  cflight_stream_reader *r = NULL;
  CHECK_EQ_INT(cflight_client_do_get(c, tk, NULL, &r, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_ticket_free(tk);
  tb_schema(&schema);
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  CHECK_EQ_INT(cflight_stream_writer_close(w, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  cflight_chunk ch;
  bool end;
  CHECK_EQ_INT(cflight_stream_reader_next(r, &ch, &end, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cf_schema_release(&schema);
  cflight_action *a = NULL;
  CHECK_OK(cflight_action_new("echo", NULL, 0, &a, &err), &err);
  cflight_result_iter *ri = NULL;
  CHECK_OK(cflight_client_do_action(c, a, NULL, &ri, &err), &err);
  cflight_result *res = NULL;
  CHECK_EQ_INT(cflight_result_iter_next(ri, &res, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_result_iter_free(ri);
  cflight_action_free(a);
  cflight_action_type_iter *ti = NULL;
  CHECK_OK(cflight_client_list_actions(c, NULL, &ti, &err), &err);
  cflight_action_type *at = NULL;
  CHECK_EQ_INT(cflight_action_type_iter_next(ti, &at, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_action_type_iter_free(ti);
  /* No auth handler, no Handshake handler. */
  cflight_client_auth_handler *h = cflight_client_auth_handler_new_basic("u", "p");
  CHECK_EQ_INT(cflight_client_authenticate(c, h, NULL, &err), CFLIGHT_UNIMPLEMENTED);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);
  ts_stop(t);
}

static void test_write_size_limit(void) {
  cflight_client_options *o = cflight_client_options_new();
  cflight_client_options_set_write_size_limit(o, 4096);
  cflight_client *c = ts_client(S, o);
  cflight_client_options_free(o);
  cflight_error err = {0};
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("limited");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  struct ArrowArray b;
  tb_batch(0, 10, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  cf_array_release(&b);
  tb_batch(0, 1000, &b);
  CHECK_EQ_INT(cflight_stream_writer_write(w, &b, NULL, 0, &err), CFLIGHT_WRITE_SIZE_EXCEEDED);
  CHECK_EQ_INT(err.size_limit, 4096);
  CHECK(err.actual_size > 4096);
  cf_array_release(&b);
  /* Still usable for a smaller batch. */
  tb_batch(10, 20, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  cf_array_release(&b);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  struct ArrowArray *got = NULL;
  size_t n = 0;
  CHECK(ts_get_flight(S, "limited", &schema, &got, &n));
  CHECK_EQ_INT(n, 2);
  tb_release(got, n);
  cf_schema_release(&schema);

  /* With dictionaries: a refused batch does not leave the reader without
   * the dictionary the next batch needs. */
  tb_dict_schema(&schema);
  d = td_path("limited-dict");
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  tb_dict_batch(10, 5, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  cf_array_release(&b);
  tb_dict_batch(10, 2000, &b); /* a large dictionary */
  CHECK_EQ_INT(cflight_stream_writer_write(w, &b, NULL, 0, &err), CFLIGHT_WRITE_SIZE_EXCEEDED);
  cf_array_release(&b);
  tb_dict_batch(20, 8, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  struct ArrowArray last;
  tb_dict_batch(20, 8, &last);
  cf_array_release(&b);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
  struct ArrowSchema gs;
  CHECK(ts_get_flight(S, "limited-dict", &gs, &got, &n));
  CHECK_EQ_INT(n, 2);
  if (n == 2) CHECK_OK(cflight_array_equal(&schema, &last, &got[1], &err), &err);
  cf_array_release(&last);
  tb_release(got, n);
  cf_schema_release(&gs);
  cf_schema_release(&schema);
  cflight_client_close(c);
}

static void test_dictionaries(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  struct ArrowSchema schema;
  tb_dict_schema(&schema);
  cflight_descriptor *d = td_path("dicts");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  /* Growing (deltas), the same, then a different one (replacement). */
  int64_t lens[] = {3, 6, 6, 2};
  struct ArrowArray sent[4];
  for (int i = 0; i < 4; i++) {
    tb_dict_batch(20 + i, lens[i], &sent[i]);
    CHECK_OK(cflight_stream_writer_write(w, &sent[i], NULL, 0, &err), &err);
  }
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  /* Back through DoGet ... */
  cflight_ticket *t = tt("dicts");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  for (int i = 0; i < 4; i++) {
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(ch.data.release != NULL);
    if (ch.data.release != NULL)
      CHECK_OK(cflight_array_equal(&schema, &sent[i], &ch.data, &err), &err);
    cflight_chunk_release(&ch);
  }
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  /* ... and DoExchange. */
  cflight_descriptor_free(d);
  d = td_cmd("echo");
  CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
  CHECK_OK(cflight_stream_writer_begin(w, &schema, &err), &err);
  for (int i = 0; i < 4; i++) {
    CHECK_OK(cflight_stream_writer_write(w, &sent[i], NULL, 0, &err), &err);
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    if (ch.data.release != NULL)
      CHECK_OK(cflight_array_equal(&schema, &sent[i], &ch.data, &err), &err);
    cflight_chunk_release(&ch);
  }
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  for (int i = 0; i < 4; i++)
    cf_array_release(&sent[i]);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  cflight_client_close(c);
}

static void test_compression(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  CHECK_OK(cflight_ipc_options_set_compression(ipc, CFLIGHT_COMPRESSION_ZSTD, 0, &err), &err);
  cflight_call_options *co = cflight_call_options_new();
  CHECK_OK(cflight_call_options_set_ipc_options(co, ipc, &err), &err);
  cflight_ipc_options_free(ipc);
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("zstd");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, co, &w, &mr, &err), &err);
  struct ArrowArray b;
  tb_batch(0, 5000, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  struct ArrowSchema gs;
  struct ArrowArray *got = NULL;
  size_t n = 0;
  CHECK(ts_get_flight(S, "zstd", &gs, &got, &n));
  CHECK_EQ_INT(n, 1);
  if (n == 1) CHECK_OK(cflight_array_equal(&schema, &b, &got[0], &err), &err);
  tb_release(got, n);
  cf_schema_release(&gs);
  cf_array_release(&b);
  cf_schema_release(&schema);
  cflight_descriptor_free(d);
  cflight_call_options_free(co);
  cflight_client_close(c);
}

static void test_call_option_checks(void) {
  cflight_call_options *o = cflight_call_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_call_options_add_header(o, "X-Mixed-Case", "v", &err), &err);
  CHECK_EQ_INT(cflight_call_options_add_header(o, "bad key", "v", &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_call_options_add_header(o, "x-a", "new\nline", &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_call_options_add_header(o, "x-a-bin", "v", &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_OK(cflight_call_options_add_header_bin(o, "x-a-bin", "\x00\xff", 2, &err), &err);
  CHECK_EQ_INT(cflight_call_options_add_header_bin(o, "x-a", "v", 1, &err),
               CFLIGHT_INVALID_ARGUMENT);
  cflight_call_options_free(o);
  cflight_client_options *co = cflight_client_options_new();
  CHECK_OK(
      cflight_client_options_set_generic(co, "grpc.max_receive_message_length", "1000000", &err),
      &err);
  CHECK_EQ_INT(cflight_client_options_set_generic(co, "no.such.option", "1", &err),
               CFLIGHT_INVALID_ARGUMENT);
  cflight_client_options_free(co);
  cflight_client *c = NULL;
  CHECK_EQ_INT(cflight_client_connect("nonsense", NULL, &c, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(c == NULL);
  /* Servers: a bad location, a port in use. */
  cflight_server_handlers h = {0};
  cflight_server *s = NULL;
  CHECK_EQ_INT(cflight_server_new("nonsense", &h, sizeof(h), NULL, NULL, &s, &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK(s == NULL);
  char taken[64];
  snprintf(taken, sizeof(taken), "grpc://127.0.0.1:%d", cflight_server_port(S->srv));
  CHECK(cflight_server_new(taken, &h, sizeof(h), NULL, NULL, &s, &err) != CFLIGHT_OK);
  CHECK(s == NULL);
  cflight_error_reset(&err);
}

static void test_locations(void) {
  char path[300];
  snprintf(path, sizeof(path), "grpc+unix://%s/flight.sock", cft_tmpdir());
  ts_server *t = ts_start(path, NULL, NULL);
  cflight_error err = {0};
  CHECK_EQ_INT(cflight_server_port(t->srv), 0);
  CHECK_OK(cflight_server_add_location(t->srv, "grpc://127.0.0.1:0", &err), &err);
  CHECK(cflight_server_port(t->srv) > 0);
  const char *tcp = cflight_server_location(t->srv, 1);
  CHECK(tcp != NULL && strncmp(tcp, "grpc://127.0.0.1:", 17) == 0);
  CHECK(cflight_server_location(t->srv, 2) == NULL);
  const char *uris[2] = {cflight_server_location(t->srv, 0), tcp};
  for (int i = 0; i < 2; i++) {
    cflight_client *c = NULL;
    CHECK_OK(cflight_client_connect(uris[i], NULL, &c, &err), &err);
    CHECK_OK(cflight_client_wait_for_available(c, 5, &err), &err);
    cflight_descriptor *d = td_path("ints");
    cflight_flight_info *info = NULL;
    CHECK_OK(cflight_client_get_flight_info(c, d, NULL, &info, &err), &err);
    cflight_flight_info_free(info);
    cflight_descriptor_free(d);
    cflight_client_close(c);
  }
  ts_stop(t);
  /* Nothing listens here any more. */
  cflight_client *c = NULL;
  CHECK_OK(cflight_client_connect("grpc://127.0.0.1:1", NULL, &c, &err), &err);
  int rc = cflight_client_wait_for_available(c, 0.3, &err);
  CHECK(rc == CFLIGHT_UNAVAILABLE || rc == CFLIGHT_DEADLINE_EXCEEDED);
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_UNAVAILABLE);
  cflight_descriptor_free(d);
  cflight_client_close(c);
}

int main(void) {
  S = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  RUN_TEST(test_list_flights);
  RUN_TEST(test_get_flight_info);
  RUN_TEST(test_poll_and_schema);
  RUN_TEST(test_do_get);
  RUN_TEST(test_do_put);
  RUN_TEST(test_do_exchange);
  RUN_TEST(test_actions);
  RUN_TEST(test_typed_actions);
  RUN_TEST(test_unimplemented);
  RUN_TEST(test_write_size_limit);
  RUN_TEST(test_dictionaries);
  RUN_TEST(test_compression);
  RUN_TEST(test_call_option_checks);
  RUN_TEST(test_locations);
  ts_stop(S);
  return cft_finish();
}
