/* See bench_common.h. */
#include "bench_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/base.h"

#define RAW_READ_SIZE ((size_t)16 << 20)

typedef struct raw_arg {
  int fd;
  uint64_t bytes;
  size_t chunk;
  const uint8_t *payload;
} raw_arg;

static void *raw_sender(void *p) {
  raw_arg *a = p;
  uint64_t left = a->bytes;
  uint8_t hdr[14] = {0};
  while (left > 0) {
    size_t body = left < a->chunk ? (size_t)left : a->chunk;
    size_t want = sizeof(hdr) + body, done = 0;
    while (done < want) {
      struct iovec v[2];
      int n = 0;
      if (done < sizeof(hdr)) {
        v[n++] = (struct iovec){hdr + done, sizeof(hdr) - done};
        v[n++] = (struct iovec){(void *)a->payload, body};
      } else {
        v[n++] = (struct iovec){(void *)(a->payload + (done - sizeof(hdr))), want - done};
      }
      ssize_t w = writev(a->fd, v, n);
      if (w <= 0) {
        perror("raw TCP: writev");
        shutdown(a->fd, SHUT_WR);
        return NULL;
      }
      done += (size_t)w;
    }
    left -= body;
  }
  shutdown(a->fd, SHUT_WR);
  return NULL;
}

double cfb_raw_tcp(uint64_t bytes, size_t chunk, size_t read_size, bool fill) {
  if (read_size == 0) read_size = RAW_READ_SIZE;
  if (chunk == 0) chunk = (size_t)4 << 20;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 1) != 0 ||
      getsockname(ls, (struct sockaddr *)&sa, &len) != 0) {
    perror("raw TCP: listen");
    if (ls >= 0) close(ls);
    return -1;
  }
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    perror("raw TCP: connect");
    if (c >= 0) close(c);
    close(ls);
    return -1;
  }
  int s = accept(ls, NULL, NULL);
  close(ls);
  if (s < 0) {
    perror("raw TCP: accept");
    close(c);
    return -1;
  }
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  uint8_t *payload = malloc(chunk);
  uint8_t *rbuf = malloc(RAW_READ_SIZE);
  if (payload == NULL || rbuf == NULL) {
    fprintf(stderr, "raw TCP: out of memory\n");
    free(payload);
    free(rbuf);
    close(c);
    close(s);
    return -1;
  }
  memset(payload, 0x5a, chunk);
  memset(rbuf, 0, RAW_READ_SIZE);
  raw_arg a = {c, bytes, chunk, payload};
  int64_t t0 = cf_now_ns();
  pthread_t th;
  if (pthread_create(&th, NULL, raw_sender, &a) != 0) {
    fprintf(stderr, "raw TCP: cannot start the sender thread\n");
    free(payload);
    free(rbuf);
    close(c);
    close(s);
    return -1;
  }
  uint64_t got = 0;
  size_t off = 0;
  for (;;) {
    if (!fill || RAW_READ_SIZE - off < read_size) off = 0;
    ssize_t n = read(s, rbuf + off, read_size);
    if (n <= 0) break;
    if (fill) off += (size_t)n;
    got += (uint64_t)n;
  }
  int64_t t1 = cf_now_ns();
  pthread_join(th, NULL);
  close(c);
  close(s);
  free(payload);
  free(rbuf);
  return (double)got / cfb_seconds(t1 - t0) / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

double cfb_median(double *v, size_t n) {
  qsort(v, n, sizeof(double), cmp_double);
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double cfb_max(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    if (v[i] > m) m = v[i];
  return m;
}

int64_t cfb_quantile_i64(int64_t *v, size_t n, double q) {
  qsort(v, n, sizeof(int64_t), cmp_i64);
  size_t i = (size_t)(q * (double)n);
  return v[i < n ? i : n - 1];
}

double cfb_seconds(int64_t ns) {
  return (double)ns / 1e9;
}
