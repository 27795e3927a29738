/* Helpers shared by the transport tests: a test service on our server and
 * small client helpers. */
#ifndef CF_TEST_TUTIL_H
#define CF_TEST_TUTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "transport/transport.h"

/* The test service (all methods under /test.Echo/):
 *   Unary         one request, echoes it; the reply is shaped by request
 *                 metadata: x-reply-status (code), x-reply-message-bin (UTF-8
 *                 message), x-reply-details-bin (extra_info); every request
 *                 header starting with "x-echo" is returned as a response
 *                 header and, renamed "x-trailer-...", as a trailer.
 *   ServerStream  request = u32 count, u32 size: sends count messages of size
 *                 bytes (byte i of message k = (i + k) & 255).
 *   ClientStream  reads everything; replies u64 total bytes, u64 messages.
 *   Bidi          echoes every message as it arrives.
 *   Wait          waits in recv until the call ends (cancel/deadline) and
 *                 records the error code in tsrv_wait_result.
 *   Huge          sends one message of u64 size bytes (zeros) read from the
 *                 request, made of a static 1 MiB piece repeated.
 *   SlowReader    reads one message every 20 ms; replies with the count.
 */
typedef struct tsrv {
  cf_server *srv;
  int port;
  char uri[300];
} tsrv;

extern atomic_int tsrv_wait_result;    /* Wait: the code recv failed with, -1 before */
extern atomic_int tsrv_wait_started;   /* Wait: calls that reached the handler */
extern atomic_int tsrv_wait_cancelled; /* Wait: cf_call_is_cancelled() after recv failed */
extern atomic_int tsrv_handlers_done;
/* Flood (request u32 count, u32 size): sends count messages of size bytes;
 * counts sends returned, messages written (done called), and the largest
 * gap between them seen after a send returned. */
extern atomic_int tflood_sent, tflood_written, tflood_max_queued;

void tsrv_handler(void *ctx, cf_call *call);

/* Starts the test service on uri (port 0 picks one); uri_out gets the location. */
bool tsrv_start(tsrv *t, const char *scheme_host, const cf_transport_options *opts);
void tsrv_stop(tsrv *t);

/* One unary call; *reply gets the flattened response (or NULL). Returns the status code. */
int tcall_unary(cf_channel *ch, const char *method, const cf_metadata *md, const void *req,
                size_t req_len, int64_t deadline_ns, cflight_buffer **reply, cf_status *st);

/* Sends a message made of one piece (copied into a buffer owned by the send). */
int tsend_copy(cf_call *call, const void *data, size_t len, bool end, cflight_error *err);

/* A channel to uri (parsed), with options (may be NULL). */
cf_channel *tchannel(const char *uri, const cf_transport_options *opts);

/* Milliseconds from now as a cf_now_ns() deadline. */
int64_t tdeadline_ms(int64_t ms);

/* PEM file contents from the shared test data (flight/...), NUL-terminated. */
char *tpem(const char *name);

#endif
