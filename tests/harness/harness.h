/* A small test harness: CHECK macros that report file:line and keep going,
 * a runner that prints one line per test, and helpers for test data paths. */
#ifndef CFLIGHT_TEST_HARNESS_H
#define CFLIGHT_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cflight.h"

extern int cft_failures;

void cft_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) cft_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
  } while (0)

#define CHECK_MSG(cond, ...)                                \
  do {                                                      \
    if (!(cond)) cft_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
  do {                                                                                \
    long long cft_a_ = (long long)(a), cft_b_ = (long long)(b);                       \
    if (cft_a_ != cft_b_)                                                             \
      cft_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, cft_a_, cft_b_); \
  } while (0)

#define CHECK_EQ_STR(a, b)                                               \
  do {                                                                   \
    const char *cft_a_ = (a), *cft_b_ = (b);                             \
    if (cft_a_ == NULL || cft_b_ == NULL || strcmp(cft_a_, cft_b_) != 0) \
      cft_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
               cft_a_ ? cft_a_ : "(null)", cft_b_ ? cft_b_ : "(null)");  \
  } while (0)

/* Checks that a cflight call returned CFLIGHT_OK; prints the error otherwise. */
#define CHECK_OK(expr, err)                                                         \
  do {                                                                              \
    int cft_rc_ = (expr);                                                           \
    if (cft_rc_ != CFLIGHT_OK)                                                      \
      cft_fail(__FILE__, __LINE__, "%s: %s: %s", #expr, cflight_code_name(cft_rc_), \
               (err)->message);                                                     \
  } while (0)

/* Runs fn(), printing its name and whether it failed. */
#define RUN_TEST(fn) cft_run(#fn, fn)
void cft_run(const char *name, void (*fn)(void));
/* Returns the process exit status: 0 when nothing failed. */
int cft_finish(void);

/* $CFLIGHT_TEST_DATA/rel (the shared arrow-testing data folder), in a static buffer. */
const char *cft_data_path(const char *rel);
/* A fresh empty temporary directory, removed by cft_finish unless CFLIGHT_KEEP_TMP is set. */
const char *cft_tmpdir(void);
/* Reads a whole file; returns NULL if it cannot. Caller frees. */
uint8_t *cft_read_file(const char *path, size_t *size);

#endif
