/* Helpers shared by the benchmark programs (bench/): the raw loopback TCP
 * ceiling that transport and Flight throughput are compared with, and
 * small statistics over repeated runs. Not part of the library. */
#ifndef CF_BENCH_COMMON_H
#define CF_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Raw loopback TCP throughput in GB/s (1e9 bytes per second): a sender
 * thread writes `bytes` in writevs of a 14-byte header plus a `chunk`-byte
 * body (the shape of our transport's writes) to a receiver that reads up to
 * read_size bytes at a time (0: 16 MiB). fill = false: every read lands at
 * the start of one reused buffer (what iperf-style tools measure; the
 * destination stays in cache). fill = true: reads fill a 16 MiB buffer
 * front to back, as any receiver that keeps the bytes must. Returns a
 * negative number (and prints why) when the sockets cannot be made. */
double cfb_raw_tcp(uint64_t bytes, size_t chunk, size_t read_size, bool fill);

/* Sorts v (n > 0) and returns its median. */
double cfb_median(double *v, size_t n);
/* The largest of v (n > 0). */
double cfb_max(const double *v, size_t n);
/* Sorts v (n > 0) and returns the value at quantile q (0..1). */
int64_t cfb_quantile_i64(int64_t *v, size_t n, double q);

/* Wall-clock seconds of a cf_now_ns() difference. */
double cfb_seconds(int64_t ns);

#endif /* CF_BENCH_COMMON_H */
