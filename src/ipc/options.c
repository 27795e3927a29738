/* IPC options: one object for readers and writers. */
#include "ipc/ipc.h"

static const cflight_ipc_options default_options = {
    .codec = CFLIGHT_COMPRESSION_NONE,
    .level = 0,
    .validate_full = false,
    .max_message_size = CF_MAX_UNTRUSTED_ALLOC,
    .dictionary_deltas = true,
    .legacy_framing = false,
};

const cflight_ipc_options *cf_ipc_options_or_default(const cflight_ipc_options *opts) {
  return opts != NULL ? opts : &default_options;
}

cflight_ipc_options *cflight_ipc_options_new(void) {
  cflight_ipc_options *opts = malloc(sizeof(*opts));
  if (opts != NULL) *opts = default_options;
  return opts;
}

void cflight_ipc_options_free(cflight_ipc_options *opts) {
  if (opts == NULL) return;
  free(opts->dict_ids);
  free(opts);
}

cflight_ipc_options *cflight_ipc_options_copy(const cflight_ipc_options *src) {
  const cflight_ipc_options *from = cf_ipc_options_or_default(src);
  cflight_ipc_options *opts = malloc(sizeof(*opts));
  if (opts == NULL) return NULL;
  *opts = *from;
  opts->dict_ids = NULL;
  opts->n_dict_ids = 0;
  if (from->n_dict_ids > 0 && cflight_ipc_options_set_dictionary_ids(
                                  opts, from->dict_ids, from->n_dict_ids, NULL) != CFLIGHT_OK) {
    free(opts);
    return NULL;
  }
  return opts;
}

cflight_ipc_options cf_ipc_options_copy(const cflight_ipc_options *opts) {
  cflight_ipc_options copy = *cf_ipc_options_or_default(opts);
  copy.dict_ids = NULL;
  copy.n_dict_ids = 0;
  return copy;
}

int cflight_ipc_options_set_dictionary_ids(cflight_ipc_options *opts, const int64_t *ids, int64_t n,
                                           cflight_error *err) {
  if (opts == NULL || n < 0 || (n > 0 && ids == NULL) || n > (1 << 24)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "ipc options: bad dictionary ids (%lld of them)", (long long)n);
  }
  int64_t *copy = NULL;
  if (n > 0) {
    copy = malloc((size_t)n * sizeof(int64_t));
    if (copy == NULL) return CF_NOMEM(err, "dictionary ids");
    memcpy(copy, ids, (size_t)n * sizeof(int64_t));
  }
  free(opts->dict_ids);
  opts->dict_ids = copy;
  opts->n_dict_ids = n;
  return CFLIGHT_OK;
}

int cflight_ipc_options_set_compression(cflight_ipc_options *opts, cflight_compression codec,
                                        int level, cflight_error *err) {
  if (opts == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "ipc options: NULL options");
  if (codec != CFLIGHT_COMPRESSION_NONE && codec != CFLIGHT_COMPRESSION_LZ4_FRAME &&
      codec != CFLIGHT_COMPRESSION_ZSTD) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "ipc options: unknown compression codec %d", (int)codec);
  }
  opts->codec = codec;
  opts->level = level;
  return CFLIGHT_OK;
}

void cflight_ipc_options_set_validate_full(cflight_ipc_options *opts, bool on) {
  if (opts != NULL) opts->validate_full = on;
}

void cflight_ipc_options_set_max_message_size(cflight_ipc_options *opts, int64_t max_bytes) {
  if (opts == NULL) return;
  if (max_bytes <= 0 || max_bytes > CF_MAX_UNTRUSTED_ALLOC) max_bytes = CF_MAX_UNTRUSTED_ALLOC;
  opts->max_message_size = max_bytes;
}

void cflight_ipc_options_set_dictionary_deltas(cflight_ipc_options *opts, bool on) {
  if (opts != NULL) opts->dictionary_deltas = on;
}

void cflight_ipc_options_set_legacy_framing(cflight_ipc_options *opts, bool on) {
  if (opts != NULL) opts->legacy_framing = on;
}
