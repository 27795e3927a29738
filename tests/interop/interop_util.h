/* What flight_test_server.c and flight_test_client.c share: the test
 * service's constants (tests/interop/README.md), gold datasets read with
 * cflight's IPC reader, Arrow schemas compared field by field, and int64
 * batches built through the C Data Interface. Public cflight API only. */
#ifndef CFLIGHT_TESTS_INTEROP_UTIL_H
#define CFLIGHT_TESTS_INTEROP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cflight.h"

/* Returns the code of a failed cflight call. */
#define IT_TRY(expr)                         \
  do {                                       \
    int it_rc_ = (expr);                     \
    if (it_rc_ != CFLIGHT_OK) return it_rc_; \
  } while (0)

/* ---- The test service's constants ----------------------------------------------------- */

extern const char *const it_datasets[];
extern const size_t it_n_datasets;

#define IT_EXPIRATION_SECONDS 4102444800LL
#define IT_EXPIRATION_NANOS 123456789
#define IT_RENEWED_SECONDS 4102448400LL
#define IT_LARGE_ROWS 8388608
#define IT_ENDLESS_ROWS 1000
#define IT_ENDLESS_BATCHES 3000
#define IT_DETAILS_MESSAGE "details \xe2\x9c\x93"

extern const char *const it_locations[2];
extern const uint8_t it_details[];
extern const size_t it_details_size;

/* ListActions' answer, in order. */
extern const char *const it_actions[][2];
extern const size_t it_n_actions;

/* ---- Command lines ------------------------------------------------------------------------ */

typedef struct it_args {
  int port;
  const char *host;
  const char *gold;
  const char *only;
  const char *peer;
  bool exit_on_eof;
  bool security;     /* --security: the security configuration (README: "Security") */
  const char *certs; /* --certs DIR: root-ca.pem, cert0.pem/.key, cert1.pem/.key */
  const char *ports; /* --ports "NAME=PORT ...": a security server's other ports */
} it_args;

/* Parses --port N --host H --gold DIR --only S --peer P --exit-on-eof
 * --security --certs DIR --ports LIST; exits with a usage message on
 * anything else. The gold folder defaults to
 * $CFLIGHT_TEST_DATA/arrow-ipc-stream/integration/cpp-21.0.0, the
 * certificates to $CFLIGHT_TEST_DATA/flight. --only also filters it_run. */
void it_parse_args(int argc, char **argv, it_args *out);

/* The port named `name` in --ports, or 0. */
int it_named_port(const it_args *args, const char *name);

/* ---- The security configuration (README: "Security") --------------------------------- */

#define IT_USER "flight-user"
/* A colon (Basic credentials split at the first one) and non-ASCII on purpose. */
#define IT_PASSWORD "s3cret:p\xc3\xa4ss"
#define IT_WRONG_PASSWORD "s3cret:wrong"
/* What no log line or error message may contain: a part of both passwords. */
#define IT_SECRET "s3cret"
/* The mutual-TLS client certificate's subject (cert1.pem) as RFC 2253 writes it. */
#define IT_CLIENT_SUBJECT "CN=localhost,O=MyOrg\\, Inc.,ST=CA,C=US"

/* The named ports of a security server, in the order it prints them. */
extern const char *const it_security_ports[];
extern const size_t it_n_security_ports;

/* The contents of DIR/NAME (NUL-terminated, malloc'd), or NULL with a
 * message on stderr. */
char *it_read_pem(const char *dir, const char *name);

/* tests/interop/certs, where IT_UNTRUSTED_CA is: a CA that signed none of
 * the test certificates. */
const char *it_own_certs(void);
#define IT_UNTRUSTED_CA "untrusted-ca.pem"

/* ---- Checks (the clients) --------------------------------------------------------------- */

/* it_run(NAME, ARG, fn) runs fn(ARG) as one check (skipped unless NAME ARG
 * contains --only); it_fail marks the running check failed and prints one
 * line. it_summary prints the counts and returns the exit status. */
void it_run(const char *name, const char *arg, void (*fn)(const char *));
void it_fail(const char *fmt, ...) CFLIGHT_PRINTF(1, 2);
int it_summary(const char *peer);

#define IT_EXPECT(cond, ...)           \
  do {                                 \
    if (!(cond)) it_fail(__VA_ARGS__); \
  } while (0)

/* Runs a cflight call (with a cflight_error named err in scope): true on
 * success, a failure with the error otherwise. */
#define IT_OK(expr) it_ok((expr), &err, #expr)
bool it_ok(int rc, cflight_error *err, const char *what);

/* Expects a call to have failed with `code` (and `message` unless NULL);
 * resets err. */
void it_expect_status(const char *what, int rc, cflight_error *err, int code, const char *message);

/* ---- Gold datasets ---------------------------------------------------------------------- */

typedef struct it_gold {
  struct ArrowSchema schema;
  struct ArrowArray *batches;
  size_t n_batches;
  int64_t rows;
} it_gold;

/* "DIR/NAME.stream" into buf. */
void it_gold_path(const char *dir, const char *name, char *buf, size_t cap);

/* Reads a gold stream whole with cflight's IPC reader. */
int it_gold_load(const char *dir, const char *name, it_gold *out, cflight_error *err);
void it_gold_free(it_gold *g);

/* ---- Comparisons -------------------------------------------------------------------------- */

/* Whether two schemas mean the same: formats, names (NULL and "" alike;
 * not compared under a map, whose entry names readers may change), flags,
 * metadata (as sets of pairs), children and dictionaries. On a difference
 * writes where and what into why. */
bool it_schema_equal(const struct ArrowSchema *want, const struct ArrowSchema *got, char *why,
                     size_t cap);

/* Whether buffer b holds exactly text[0..len). */
bool it_buffer_is(const cflight_buffer *b, const void *text, size_t len);

/* A printable rendering of bytes (\xNN for the others), in a static
 * rotating buffer, for messages. */
const char *it_show(const void *data, size_t len);

/* ---- int64 batches ------------------------------------------------------------------------ */

/* The schema {name: int64, not nullable}. */
void it_int64_schema(const char *name, struct ArrowSchema *out);

/* A batch of that schema: rows values first, first + 1, ... Returns false
 * when out of memory. */
bool it_int64_batch(int64_t rows, int64_t first, struct ArrowArray *out);

/* The int64 values of column 0 of a struct batch (offset applied). */
const int64_t *it_int64_values(const struct ArrowArray *batch);

/* A client middleware that records the x-* response headers (and
 * trailers-only answers) of the latest call; one recorder per process. */
cflight_client_middleware_factory *it_header_recorder_new(void);
/* Whether the latest call's recorded headers had key: value. */
bool it_received_header(const char *key, const void *value, size_t size);

/* Milliseconds on a monotonic clock. */
int64_t it_now_ms(void);
void it_sleep_ms(int ms);

#endif
