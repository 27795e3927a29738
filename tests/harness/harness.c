#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

int cft_failures = 0;
static int current_failures = 0;
static char tmpdir[256];

void cft_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "  FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  cft_failures++;
  current_failures++;
}

void cft_run(const char *name, void (*fn)(void)) {
  current_failures = 0;
  fprintf(stderr, "[ RUN  ] %s\n", name);
  fn();
  fprintf(stderr, "[ %s ] %s\n", current_failures ? "FAIL" : " OK ", name);
}

int cft_finish(void) {
  if (tmpdir[0] != '\0' && getenv("CFLIGHT_KEEP_TMP") == NULL) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  fprintf(stderr, cft_failures ? "%d check(s) failed\n" : "all passed\n", cft_failures);
  return cft_failures ? 1 : 0;
}

const char *cft_data_path(const char *rel) {
  static char path[4096];
  const char *root = getenv("CFLIGHT_TEST_DATA");
  snprintf(path, sizeof(path), "%s/%s", root ? root : "../shared/arrow-testing/data", rel);
  return path;
}

const char *cft_tmpdir(void) {
  if (tmpdir[0] == '\0') {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cflight-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
      perror("mkdtemp");
      exit(2);
    }
  }
  return tmpdir;
}

uint8_t *cft_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
  if (data != NULL && n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  if (data != NULL) *size = (size_t)n;
  return data;
}
