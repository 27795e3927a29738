/* do_exchange:echo: DoExchange, every message echoed back.
 *
 * Server: DoExchange of CMD "echo" sends back each message as it comes: a
 * batch with its app_metadata (or none), app_metadata alone as such, the
 * schema before the first batch; it ends when the client is done writing.
 * Another descriptor is UNIMPLEMENTED.
 *
 * Client: DoExchange of CMD "echo" with the schema {x: int32, not nullable};
 * writes 4 batches of 10 rows, batch b holding b, b+1, ..., b+9, with
 * app_metadata "b" on the even batches and none on the odd ones, and after
 * each reads the echo: the same schema, the same values, the same
 * app_metadata (none when none was sent). Once done writing, the stream
 * must end. */
#include "fi.h"
#include "integration.h"

#define N_BATCHES 4
#define N_ROWS 10

static int echo_do_exchange(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                            cflight_stream_reader *reader, cflight_stream_writer *writer,
                            cflight_error *err) {
  if (!fi_is_command(d, "echo"))
    return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED,
                             "Unsupported descriptor: DoExchange serves CMD \"echo\" only");
  bool begun = false;
  int rc = CFLIGHT_OK;
  while (rc == CFLIGHT_OK) {
    cflight_chunk chunk;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &chunk, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    const void *md = chunk.app_metadata != NULL ? cflight_buffer_data(chunk.app_metadata) : NULL;
    size_t md_size = chunk.app_metadata != NULL ? cflight_buffer_size(chunk.app_metadata) : 0;
    if (chunk.data.release != NULL) {
      if (!begun) {
        struct ArrowSchema schema;
        rc = cflight_stream_reader_schema(reader, &schema, err);
        if (rc == CFLIGHT_OK) {
          rc = cflight_stream_writer_begin(writer, &schema, err);
          cf_schema_release(&schema);
        }
        begun = rc == CFLIGHT_OK;
      }
      if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(writer, &chunk.data, md, md_size, err);
    } else if (chunk.app_metadata != NULL) {
      rc = cflight_stream_writer_write_metadata(writer, md, md_size, err);
    }
    cflight_chunk_release(&chunk);
  }
  return rc;
}

static int echo_make_server(fi_server_setup *setup, cflight_error *err) {
  setup->handlers.do_exchange = echo_do_exchange;
  return CFLIGHT_OK;
}

/* Reads the echo of batch b and compares it with what was sent. */
static int check_echo(cflight_stream_reader *r, const struct ArrowSchema *schema,
                      const struct ArrowArray *sent, int b, const char *md, cflight_error *err) {
  cflight_chunk chunk;
  bool end = false;
  int rc = cflight_stream_reader_next(r, &chunk, &end, err);
  if (rc != CFLIGHT_OK) return fi_wrap(err, rc, "reading the echo of batch %d", b);
  if (end) return fi_fail(err, "the stream ended before the echo of batch %d", b);
  if (chunk.data.release == NULL) {
    rc = fi_fail(err, "the echo of batch %d has no batch (app_metadata alone)", b);
  } else if (md != NULL && chunk.app_metadata == NULL) {
    rc = fi_fail(err, "the echo of batch %d has no app_metadata, expected '%s'", b, md);
  } else if (md != NULL && !fi_bytes_eq(cflight_buffer_data(chunk.app_metadata),
                                        cflight_buffer_size(chunk.app_metadata), md)) {
    char got[300];
    fi_bytes_text(cflight_buffer_data(chunk.app_metadata), cflight_buffer_size(chunk.app_metadata),
                  got, sizeof(got));
    rc = fi_fail(err, "the echo of batch %d has app_metadata '%s', expected '%s'", b, got, md);
  } else if (md == NULL && chunk.app_metadata != NULL) {
    char got[300];
    fi_bytes_text(cflight_buffer_data(chunk.app_metadata), cflight_buffer_size(chunk.app_metadata),
                  got, sizeof(got));
    rc = fi_fail(err, "the echo of batch %d has app_metadata '%s', expected none", b, got);
  }
  struct ArrowSchema got_schema = {0};
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_schema(r, &got_schema, err);
  if (rc == CFLIGHT_OK) {
    rc = cf_schema_equal(schema, &got_schema, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "the echo's schema differs");
  }
  if (rc == CFLIGHT_OK) rc = cflight_array_validate(schema, &chunk.data, true, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_array_equal(schema, sent, &chunk.data, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "the echo of batch %d differs", b);
  }
  if (got_schema.release != NULL) cf_schema_release(&got_schema);
  cflight_chunk_release(&chunk);
  return rc;
}

static int echo_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_descriptor *d = NULL;
  cflight_stream_writer *w = NULL;
  cflight_stream_reader *r = NULL;
  struct ArrowSchema schema = {0};
  int rc = fi_command("echo", &d, err);
  if (rc == CFLIGHT_OK) rc = fi_int_schema("x", "i", &schema, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_do_exchange(c, d, NULL, &w, &r, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoExchange(CMD \"echo\")");
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_stream_writer_begin(w, &schema, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoExchange: writing the schema");
  }
  for (int b = 0; b < N_BATCHES && rc == CFLIGHT_OK; b++) {
    int64_t values[N_ROWS];
    for (int i = 0; i < N_ROWS; i++)
      values[i] = b + i;
    struct ArrowArray batch;
    rc = fi_int_batch("i", values, N_ROWS, &batch, err);
    if (rc != CFLIGHT_OK) break;
    char md[16];
    bool with_md = b % 2 == 0;
    snprintf(md, sizeof(md), "%d", b);
    rc = cflight_stream_writer_write(w, &batch, with_md ? md : NULL, with_md ? strlen(md) : 0, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoExchange: writing batch %d", b);
    } else {
      rc = check_echo(r, &schema, &batch, b, with_md ? md : NULL, err);
    }
    cf_array_release(&batch);
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_stream_writer_done_writing(w, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoExchange: finishing the writes");
  }
  if (rc == CFLIGHT_OK) {
    cflight_chunk chunk;
    bool end = false;
    rc = cflight_stream_reader_next(r, &chunk, &end, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoExchange: reading the end of the stream");
    } else if (!end) {
      cflight_chunk_release(&chunk);
      rc = fi_fail(err, "expected the end of the stream after the client was done writing");
    }
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_stream_writer_close(w, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoExchange: the call's status");
  }
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  if (schema.release != NULL) cf_schema_release(&schema);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_do_exchange_echo = {
    "do_exchange:echo", "Test DoExchange by echoing data back to the client.", echo_make_server,
    echo_run_client};
