/* The gold integration cases of the shared arrow-testing data: every
 * NAME.json.gz of the three folders, as paths. */
#ifndef CFLIGHT_TEST_GOLD_CASES_H
#define CFLIGHT_TEST_GOLD_CASES_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct gold_case {
  char folder[64];
  char name[128];
  char base[4096]; /* folder path + "/" + name: append ".json.gz", ".stream", ".arrow_file" */
} gold_case;

static const char *const gold_folders[] = {
    "cpp-21.0.0",
    "2.0.0-compression",
    "4.0.0-shareddict",
};

static inline int gold_case_cmp(const void *a, const void *b) {
  const gold_case *x = a, *y = b;
  int c = strcmp(x->folder, y->folder);
  return c != 0 ? c : strcmp(x->name, y->name);
}

/* All cases, sorted; *n set. NULL (and a failed check) if a folder is missing. */
static inline gold_case *gold_cases(size_t *n) {
  gold_case *cases = NULL;
  size_t count = 0;
  *n = 0;
  for (size_t f = 0; f < sizeof(gold_folders) / sizeof(gold_folders[0]); f++) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", cft_data_path("arrow-ipc-stream/integration"),
             gold_folders[f]);
    DIR *d = opendir(dir);
    if (d == NULL) {
      cft_fail(__FILE__, __LINE__, "cannot open the gold folder %s (set CFLIGHT_TEST_DATA)", dir);
      free(cases);
      return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t len = strlen(e->d_name);
      if (len <= 8 || strcmp(e->d_name + len - 8, ".json.gz") != 0) continue;
      gold_case *grown = realloc(cases, (count + 1) * sizeof(*cases));
      if (grown == NULL) abort();
      cases = grown;
      gold_case *c = &cases[count++];
      snprintf(c->folder, sizeof(c->folder), "%s", gold_folders[f]);
      snprintf(c->name, sizeof(c->name), "%.*s", (int)(len - 8), e->d_name);
      if (snprintf(c->base, sizeof(c->base), "%s/%s", dir, c->name) >= (int)sizeof(c->base)) {
        count--;
      }
    }
    closedir(d);
  }
  qsort(cases, count, sizeof(*cases), gold_case_cmp);
  *n = count;
  return cases;
}

/* base + suffix, in a static buffer (one at a time). */
static inline const char *gold_path(const gold_case *c, const char *suffix) {
  static char path[4200];
  snprintf(path, sizeof(path), "%s%s", c->base, suffix);
  return path;
}

#endif
