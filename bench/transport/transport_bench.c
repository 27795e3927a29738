/* cflight-transport-bench: single-stream throughput of the transport over
 * loopback (server streaming N MiB in M MiB messages through our client and
 * server), next to raw loopback TCP (writev/read of big buffers between two
 * threads) as the ceiling; plus unary call latency.
 *
 *   cflight-transport-bench [--mib N] [--msg-mib M] [--calls K] [--runs R]
 *                           [--tls] [--unix] [--skip-raw] [--skip-ours]
 *                           [--opt name=value]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "bench_common.h"
#include "transport/transport.h"

static uint64_t total_bytes = 4096ull << 20;
static size_t msg_bytes = 4u << 20;
static int unary_calls = 20000;
static int runs = 3;
static bool use_tls = false, use_unix = false, skip_raw = false, skip_ours = false;
static cf_transport_options opts;
static uint8_t *payload;

/* ---- our transport ---------------------------------------------------------------- */

static void no_free(void *ctx) {
  (void)ctx;
}

static void unref_buffer(void *ctx) {
  cflight_buffer_unref(ctx);
}

static void handler(void *ctx, cf_call *call) {
  (void)ctx;
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (strcmp(cf_call_method(call), "/bench.Bench/Stream") == 0) {
    uint64_t n = 0;
    if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) {
      cflight_buffer *b = cf_msg_flatten(&m, &err);
      memcpy(&n, cflight_buffer_data(b), 8);
      cflight_buffer_unref(b);
      cf_msg_reset(&m);
    }
    while (n > 0) {
      size_t body = n < msg_bytes ? (size_t)n : msg_bytes;
      cflight_ipc_piece piece = {payload, body};
      cf_out_msg om = {&piece, 1, no_free, NULL};
      if (cf_call_send(call, &om, false, &err) != CFLIGHT_OK) break;
      n -= body;
    }
  } else {
    if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) {
      cflight_buffer *b = cf_msg_flatten(&m, &err);
      cf_msg_reset(&m);
      cflight_ipc_piece piece = {cflight_buffer_data(b), cflight_buffer_size(b)};
      cf_out_msg om = {&piece, 1, unref_buffer, b};
      cf_call_send(call, &om, false, &err);
    }
  }
  cflight_error st = {0};
  cf_call_respond(call, &st, NULL, &err);
  cf_call_free(call);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
  s[n] = '\0';
  fclose(f);
  return s;
}

int main(int argc, char **argv) {
  cf_transport_options_init(&opts);
  cflight_error err = {0};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
      total_bytes = strtoull(argv[++i], NULL, 10) << 20;
    } else if (strcmp(argv[i], "--msg-mib") == 0 && i + 1 < argc) {
      msg_bytes = (size_t)(strtod(argv[++i], NULL) * (1 << 20));
    } else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
      unary_calls = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--tls") == 0) {
      use_tls = true;
    } else if (strcmp(argv[i], "--unix") == 0) {
      use_unix = true;
    } else if (strcmp(argv[i], "--skip-raw") == 0) {
      skip_raw = true;
    } else if (strcmp(argv[i], "--skip-ours") == 0) {
      skip_ours = true;
    } else if (strcmp(argv[i], "--opt") == 0 && i + 1 < argc) {
      char *kv = argv[++i], *eq = strchr(kv, '=');
      if (eq == NULL) return 2;
      *eq = '\0';
      if (cf_transport_options_set(&opts, kv, eq + 1, &err) != CFLIGHT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
      }
    } else {
      fprintf(stderr,
              "usage: %s [--mib N] [--msg-mib M] [--calls K] [--runs R] [--tls] [--unix] "
              "[--skip-raw] [--skip-ours] [--opt name=value]...\n",
              argv[0]);
      return 2;
    }
  }
  payload = malloc(msg_bytes);
  memset(payload, 0x5a, msg_bytes);

  const char *location = "grpc://127.0.0.1:0";
  char unix_loc[256];
  if (use_unix) {
    snprintf(unix_loc, sizeof(unix_loc), "grpc+unix:///tmp/cflight-bench-%d.sock", (int)getpid());
    location = unix_loc;
  }
  cf_tls_cert_pair pair = {0};
  if (use_tls) {
    const char *dir = getenv("CFLIGHT_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/flight/cert0.pem", dir ? dir : "../shared/arrow-testing/data");
    pair.cert_chain_pem = read_text(path);
    snprintf(path, sizeof(path), "%s/flight/cert0.key", dir ? dir : "../shared/arrow-testing/data");
    pair.private_key_pem = read_text(path);
    if (pair.cert_chain_pem == NULL || pair.private_key_pem == NULL) {
      fprintf(stderr, "--tls needs the test certificates (set CFLIGHT_TEST_DATA)\n");
      return 2;
    }
    opts.tls_server.pairs = &pair;
    opts.tls_server.n_pairs = 1;
    opts.tls_client.disable_verification = true;
    location = "grpc+tls://127.0.0.1:0";
  }
  cf_address addr;
  cf_address_parse(location, &addr, &err);
  cf_server *srv = NULL;
  if (cf_server_new(&opts, handler, NULL, &srv, &err) != CFLIGHT_OK) {
    fprintf(stderr, "server: %s\n", err.message);
    return 1;
  }
  int port = 0;
  if (cf_server_listen(srv, &addr, &port, &err) != CFLIGHT_OK) {
    fprintf(stderr, "listen: %s\n", err.message);
    return 1;
  }
  addr.port = port;
  cf_channel *ch = NULL;
  if (cf_channel_new(&addr, &opts, &ch, &err) != CFLIGHT_OK) {
    fprintf(stderr, "channel: %s\n", err.message);
    return 1;
  }
  opts.tls_server.pairs = NULL;
  opts.tls_server.n_pairs = 0;

  printf("transport: %s, %llu MiB in %.2f MiB messages, single stream, %d run(s)\n", location,
         (unsigned long long)(total_bytes >> 20), (double)msg_bytes / (1 << 20), runs);
  double best_raw = 0, best_fill = 0, best_ours = 0;
  for (int r = 0; r < runs; r++) {
    if (!skip_raw) {
      double raw = cfb_raw_tcp(total_bytes, msg_bytes, 0, false);
      if (raw > best_raw) best_raw = raw;
      double fill = cfb_raw_tcp(total_bytes, msg_bytes, 0, true);
      if (fill > best_fill) best_fill = fill;
      printf(
          "  run %d: raw loopback TCP  %6.2f GB/s (reads into one reused buffer), %.2f GB/s "
          "(reads filling a buffer)\n",
          r + 1, raw, fill);
    }
    if (skip_ours) continue;
    cf_call *call = NULL;
    int64_t t0 = cf_now_ns();
    if (cf_channel_start_call(ch, "/bench.Bench/Stream", NULL, 0, &call, &err) != CFLIGHT_OK) {
      fprintf(stderr, "call: %s\n", err.message);
      return 1;
    }
    cflight_ipc_piece piece = {&total_bytes, 8};
    cf_out_msg om = {&piece, 1, no_free, NULL};
    cf_call_send(call, &om, true, &err);
    uint64_t got = 0, msgs = 0, slices = 0;
    for (;;) {
      cf_msg m;
      bool more;
      if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK) {
        fprintf(stderr, "recv: %s\n", err.message);
        return 1;
      }
      if (!more) break;
      got += m.len;
      msgs++;
      slices += m.n_slices;
      cf_msg_reset(&m);
    }
    int64_t t1 = cf_now_ns();
    cf_status st = {0};
    if (cf_call_finish(call, &st) != CFLIGHT_OK) fprintf(stderr, "finish: %s\n", st.error.message);
    cf_status_reset(&st);
    cf_call_free(call);
    double ours = (double)got / cfb_seconds(t1 - t0) / 1e9;
    if (ours > best_ours) best_ours = ours;
    printf("  run %d: cflight transport %6.2f GB/s (%llu messages, %.2f slices/message)\n", r + 1,
           ours, (unsigned long long)msgs, msgs ? (double)slices / (double)msgs : 0.0);
  }
  if (skip_ours)
    printf("best: raw %.2f GB/s (filling: %.2f GB/s)\n", best_raw, best_fill);
  else if (!skip_raw)
    printf(
        "best: raw %.2f GB/s, transport %.2f GB/s, ratio %.0f%% (%.0f%% of raw filling a "
        "buffer, %.2f GB/s)\n",
        best_raw, best_ours, 100.0 * best_ours / best_raw, 100.0 * best_ours / best_fill,
        best_fill);
  else
    printf("best: transport %.2f GB/s\n", best_ours);

  if (unary_calls > 0) {
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)unary_calls);
    uint8_t small[64] = {0};
    int64_t t0 = cf_now_ns();
    for (int i = 0; i < unary_calls; i++) {
      int64_t s = cf_now_ns();
      cf_call *call = NULL;
      cf_channel_start_call(ch, "/bench.Bench/Unary", NULL, 0, &call, &err);
      cflight_ipc_piece piece = {small, sizeof(small)};
      cf_out_msg om = {&piece, 1, no_free, NULL};
      cf_call_send(call, &om, true, &err);
      cf_msg m;
      bool more;
      if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) cf_msg_reset(&m);
      cf_status st = {0};
      cf_call_finish(call, &st);
      cf_status_reset(&st);
      cf_call_free(call);
      lat[i] = cf_now_ns() - s;
    }
    int64_t t1 = cf_now_ns();
    int64_t p50 = cfb_quantile_i64(lat, (size_t)unary_calls, 0.5);
    int64_t p99 = cfb_quantile_i64(lat, (size_t)unary_calls, 0.99);
    printf(
        "unary (64-byte request and reply, one thread): %d calls, p50 %.1f us, p99 %.1f us, "
        "%.0f calls/s\n",
        unary_calls, (double)p50 / 1e3, (double)p99 / 1e3,
        (double)unary_calls / cfb_seconds(t1 - t0));
    free(lat);
  }
  cf_channel_free(ch);
  cf_server_shutdown(srv, cf_now_ns() + 1000000000);
  cf_server_wait(srv);
  cf_server_free(srv);
  cf_transport_options_reset(&opts);
  free(pair.cert_chain_pem);
  free(pair.private_key_pem);
  free(payload);
  return 0;
}
