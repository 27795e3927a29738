/* Table-driven command-line parsing (see args.h). */
#include "args.h"

#include <stdlib.h>
#include <string.h>

static const arg_spec *find_long(const arg_spec *const *groups, size_t n_groups, const char *name,
                                 size_t len) {
  for (size_t g = 0; g < n_groups; g++) {
    for (const arg_spec *s = groups[g]; s->name != NULL; s++) {
      if (strlen(s->name) == len && strncmp(s->name, name, len) == 0) return s;
    }
  }
  return NULL;
}

static const arg_spec *find_short(const arg_spec *const *groups, size_t n_groups, char c) {
  for (size_t g = 0; g < n_groups; g++) {
    for (const arg_spec *s = groups[g]; s->name != NULL; s++) {
      if (s->short_name == c) return s;
    }
  }
  return NULL;
}

/* Edit distance between a[0..n) and b, capped (for "did you mean"). */
static size_t distance(const char *a, size_t n, const char *b) {
  size_t m = strlen(b);
  if (n > 64 || m > 64) return 99;
  size_t row[65];
  for (size_t j = 0; j <= m; j++)
    row[j] = j;
  for (size_t i = 1; i <= n; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= m; j++) {
      size_t cur = row[j];
      size_t best = prev + (a[i - 1] == b[j - 1] ? 0 : 1);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      prev = cur;
    }
  }
  return row[m];
}

static const char *suggest(const arg_spec *const *groups, size_t n_groups, const char *name,
                           size_t len) {
  const char *best = NULL;
  size_t best_d = 3; /* only close matches */
  for (size_t g = 0; g < n_groups; g++) {
    for (const arg_spec *s = groups[g]; s->name != NULL; s++) {
      size_t d = distance(name, len, s->name);
      /* A prefix of a longer option name counts as close too. */
      if (len >= 3 && strncmp(s->name, name, len) == 0) d = 1;
      if (d < best_d) {
        best_d = d;
        best = s->name;
      }
    }
  }
  return best;
}

static int usage_error(const char *command, const char *msg) {
  fprintf(stderr, "cflight %s: %s\nTry 'cflight %s --help'.\n", command, msg, command);
  return 2;
}

int args_parse(const char *command, const arg_spec *const *groups, size_t n_groups, int argc,
               char **argv, arg_fn fn, void *ctx) {
  bool options_done = false;
  char msg[512];
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    msg[0] = '\0';
    if (options_done || a[0] != '-' || a[1] == '\0') {
      if (fn(ctx, NULL, a, msg, sizeof(msg)) != 0) return usage_error(command, msg);
      continue;
    }
    if (strcmp(a, "--") == 0) {
      options_done = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
    const arg_spec *spec;
    const char *value = NULL;
    char shown[80];
    if (a[1] == '-') {
      const char *name = a + 2;
      const char *eq = strchr(name, '=');
      size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
      spec = find_long(groups, n_groups, name, len);
      snprintf(shown, sizeof(shown), "--%.*s", (int)(len < 60 ? len : 60), name);
      if (spec == NULL) {
        const char *s = suggest(groups, n_groups, name, len);
        if (s != NULL) {
          snprintf(msg, sizeof(msg), "unknown option %s (did you mean --%s?)", shown, s);
        } else {
          snprintf(msg, sizeof(msg), "unknown option %s", shown);
        }
        return usage_error(command, msg);
      }
      if (eq != NULL) {
        if (spec->metavar == NULL) {
          snprintf(msg, sizeof(msg), "option %s takes no value", shown);
          return usage_error(command, msg);
        }
        value = eq + 1;
      }
    } else {
      spec = find_short(groups, n_groups, a[1]);
      snprintf(shown, sizeof(shown), "-%c", a[1]);
      if (spec == NULL) {
        snprintf(msg, sizeof(msg), "unknown option %s", shown);
        return usage_error(command, msg);
      }
      if (a[2] != '\0') {
        if (spec->metavar == NULL) {
          snprintf(msg, sizeof(msg), "option %s takes no value (write separate flags apart)",
                   shown);
          return usage_error(command, msg);
        }
        value = a + 2;
      }
    }
    if (spec->metavar != NULL && value == NULL) {
      if (i + 1 >= argc) {
        snprintf(msg, sizeof(msg), "option %s needs a value (%s)", shown, spec->metavar);
        return usage_error(command, msg);
      }
      value = argv[++i];
    }
    if (fn(ctx, spec, value, msg, sizeof(msg)) != 0) {
      if (msg[0] == '\0') snprintf(msg, sizeof(msg), "bad value for %s: '%s'", shown, value);
      return usage_error(command, msg);
    }
  }
  return 0;
}

void args_print_help(FILE *out, const char *usage, const char *description,
                     const arg_spec *const *groups, const char *const *titles, size_t n_groups,
                     const char *footer) {
  fprintf(out, "Usage: %s\n", usage);
  if (description != NULL) fprintf(out, "\n%s", description);
  for (size_t g = 0; g < n_groups; g++) {
    if (groups[g]->name == NULL) continue;
    fprintf(out, "\n%s:\n", titles != NULL && titles[g] != NULL ? titles[g] : "Options");
    for (const arg_spec *s = groups[g]; s->name != NULL; s++) {
      char left[96];
      int n;
      if (s->short_name != 0) {
        n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", s->short_name, s->name,
                     s->metavar ? " " : "", s->metavar ? s->metavar : "");
      } else {
        n = snprintf(left, sizeof(left), "      --%s%s%s", s->name, s->metavar ? " " : "",
                     s->metavar ? s->metavar : "");
      }
      const int col = 30;
      fputs(left, out);
      if (n >= col - 1) {
        fprintf(out, "\n%*s", col, "");
      } else {
        fprintf(out, "%*s", col - n, "");
      }
      /* Continuation lines of the help text line up under the first. */
      for (const char *h = s->help; *h != '\0'; h++) {
        fputc(*h, out);
        if (*h == '\n') fprintf(out, "%*s", col, "");
      }
      fputc('\n', out);
    }
  }
  if (footer != NULL) fprintf(out, "\n%s", footer);
}

int args_add_positional(args_positional *p, int max, const char *value, char *msg, size_t cap) {
  if (max > ARGS_MAX_POSITIONAL) max = ARGS_MAX_POSITIONAL;
  if (p->count >= max) {
    snprintf(msg, cap, "too many arguments ('%s')", value);
    return 1;
  }
  p->values[p->count++] = value;
  return 0;
}
