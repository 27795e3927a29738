/* Shared code of the rpc tests: a test Flight server holding flights in
 * memory, and small builders for batches.
 *
 * The test server's behaviour:
 *   ListFlights     every flight, in name order (criteria "empty": none).
 *   GetFlightInfo   PATH descriptor [name] -> info with ticket name; CMD "error:<code>"
 *                   fails with that code, message "boom <code>" and extra_info "details".
 *   PollFlightInfo  the same info, progress 1.
 *   GetSchema       the flight's schema.
 *   DoGet           ticket name -> the flight's batches, batch i with app_metadata "m<i>";
 *                   "error:<code>" fails like GetFlightInfo; "error-late" sends one batch,
 *                   then fails with INTERNAL; "slow" sends a batch every 10 ms for up to
 *                   30 s and counts in ts->cancel_seen that it saw the call cancelled;
 *                   "meta" sends metadata-only chunks "a", "b" around one batch;
 *                   "headers" adds response header x-hdr: h and trailer x-trl: t;
 *                   "echo-headers" returns every request header starting with "x-" as
 *                   response headers.
 *   DoPut           stores the uploaded stream under the descriptor's first path part,
 *                   answering each batch with PutResult "ack<i>" (metadata-only messages
 *                   are answered "got:<metadata>").
 *   DoExchange      CMD "echo": sends back everything it reads (schema, batches,
 *                   metadata); CMD "sum": reads int64 column 0 and answers with the
 *                   running total as metadata after each batch; CMD "get:<name>" streams
 *                   a flight back without reading.
 *   DoAction        "echo": the body back; "error": UNAUTHORIZED with extra_info; "peer":
 *                   peer identity; "sleep": sleeps up to 5 s, noting cancellation; "mw":
 *                   "found" when the server middleware "test" made an instance; "trailer":
 *                   adds trailer x-trl: t and sends no result (fails with ABORTED when the
 *                   body is not empty); "shutdown": shuts the server down from the handler;
 *                   "remaining": "<seconds left> <method> live|cancelled";
 *                   plus the
 *                   spec's actions (CancelFlightInfo -> CANCELLED, RenewFlightEndpoint ->
 *                   the endpoint with expiration 1000 s, session options kept in memory).
 *   ListActions     "echo", "error". */
#ifndef CFLIGHT_TESTS_RPC_UTIL_H
#define CFLIGHT_TESTS_RPC_UTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "arrow/arrow.h"
#include "harness.h"

typedef struct ts_flight ts_flight;

typedef struct ts_server {
  cflight_server *srv;
  char uri[300];
  pthread_mutex_t mu; /* guards flights and session */
  ts_flight *flights;
  size_t n_flights;
  cflight_get_session_options_result *session;
  atomic_int cancel_seen;
  atomic_int slow_started;
} ts_server;

/* Starts the test server on location (e.g. "grpc://127.0.0.1:0"); opts may
 * be NULL (borrowed). handlers NULL: the test handlers. */
ts_server *ts_start(const char *location, const cflight_server_options *opts,
                    const cflight_server_handlers *handlers);
void ts_stop(ts_server *t);

/* Stores a flight read from a stream (released). */
void ts_add_flight(ts_server *t, const char *name, struct ArrowArrayStream *stream);
/* The schema and batches of a stored flight; false when absent. Batches are
 * exports (the caller releases them); *n is their count. */
bool ts_get_flight(ts_server *t, const char *name, struct ArrowSchema *schema,
                   struct ArrowArray **batches, size_t *n);

/* A client of t (opts may be NULL); fails the test on error. */
cflight_client *ts_client(ts_server *t, const cflight_client_options *opts);

/* ---- Builders (abort on failure: tests only) ---- */

/* A struct schema of one int64 column "x" and one utf8 column "s". */
void tb_schema(struct ArrowSchema *out);
/* A batch of that schema: x = start .. start+n-1, s = "v<x>". */
void tb_batch(int64_t start, int64_t n, struct ArrowArray *out);
/* A struct schema of one dictionary-encoded column "d" (int32 -> utf8). */
void tb_dict_schema(struct ArrowSchema *out);
/* A batch of it with n rows over a dictionary of dict_len words "w<i>". */
void tb_dict_batch(int64_t n, int64_t dict_len, struct ArrowArray *out);

/* An ArrowArrayStream over copies of... nothing: schema + batches moved in. */
void tb_stream(struct ArrowSchema *schema, struct ArrowArray *batches, size_t n,
               struct ArrowArrayStream *out);

/* Reads a whole stream into arrays; returns the count (or -1). */
int tb_collect(struct ArrowArrayStream *s, struct ArrowSchema *schema, struct ArrowArray **out);
void tb_release(struct ArrowArray *batches, size_t n);

/* A descriptor of one path part / a command string (freed by the caller). */
cflight_descriptor *td_path(const char *name);
cflight_descriptor *td_cmd(const char *cmd);
cflight_ticket *tt(const char *s);

/* Sleeps ms milliseconds. */
void ts_sleep_ms(int ms);

#endif
