/* The encoder: a schema, then batches, as queued payloads. Tracks which
 * dictionary each id last sent so that a batch sends only what changed: a
 * first dictionary, a delta when the new dictionary extends the old one, or
 * a replacement (not in the file format). */
#include "ipc/encode.h"

typedef struct enc_dict {
  bool sent;
  struct ArrowArray snapshot; /* a copy of what the reader now holds */
  /* Per batch: */
  bool seen;
  bool replaced;
  const struct ArrowArray *first; /* the dictionary sent for this batch */
  bool has_pending;
  struct ArrowArray pending; /* the snapshot to keep if the batch succeeds */
  bool has_views;
} enc_dict;

struct cflight_ipc_encoder {
  cflight_ipc_options opts;
  cf_plan plan;
  bool file_format;
  bool has_views;
  cf_compressor *comp;
  cf_enc enc;
  enc_dict *dicts;
  cflight_ipc_payload **queue;
  size_t q_head, q_len, q_cap;
};

static bool field_has_views(const cf_field *f) {
  if (f->type.id == CF_BINARY_VIEW || f->type.id == CF_STRING_VIEW) return true;
  for (int64_t i = 0; i < f->n_children; i++)
    if (field_has_views(&f->children[i])) return true;
  return false;
}

int cflight_ipc_encoder_new(const struct ArrowSchema *schema, const cflight_ipc_options *opts,
                            cflight_ipc_encoder **out, cflight_error *err) {
  *out = NULL;
  if (schema == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encoder: schema is NULL");
  cflight_ipc_encoder *enc = calloc(1, sizeof(*enc));
  if (enc == NULL) return CF_NOMEM(err, "encoder");
  const cflight_ipc_options *o = cf_ipc_options_or_default(opts);
  enc->opts = cf_ipc_options_copy(o);
  int rc = cf_plan_init(&enc->plan, schema, o->dict_ids, o->n_dict_ids, err);
  if (rc != CFLIGHT_OK) {
    if (err != NULL && o->dict_ids != NULL) {
      /* Wrong ids are the caller's mistake, not bad bytes. */
      err->code = rc = CFLIGHT_INVALID_ARGUMENT;
    }
    free(enc);
    return rc;
  }
  enc->dicts = calloc((size_t)(enc->plan.n_dicts > 0 ? enc->plan.n_dicts : 1), sizeof(enc_dict));
  if (enc->dicts == NULL) rc = CF_NOMEM(err, "encoder");
  if (rc == CFLIGHT_OK && enc->opts.codec != CFLIGHT_COMPRESSION_NONE)
    rc = cf_compressor_new(enc->opts.codec, enc->opts.level, &enc->comp, err);
  if (rc != CFLIGHT_OK) {
    cflight_ipc_encoder_free(enc);
    return rc;
  }
  for (int64_t i = 0; i < enc->plan.n_dicts; i++)
    enc->dicts[i].has_views = field_has_views(enc->plan.dicts[i].value);
  for (int64_t i = 0; i < enc->plan.root.n_children; i++)
    if (field_has_views(&enc->plan.root.children[i])) enc->has_views = true;
  cf_enc_init(&enc->enc, enc->comp);
  *out = enc;
  return CFLIGHT_OK;
}

void cflight_ipc_encoder_free(cflight_ipc_encoder *enc) {
  if (enc == NULL) return;
  for (size_t i = enc->q_head; i < enc->q_len; i++)
    cflight_ipc_payload_free(enc->queue[i]);
  free(enc->queue);
  if (enc->dicts != NULL) {
    for (int64_t i = 0; i < enc->plan.n_dicts; i++) {
      cf_array_release(&enc->dicts[i].snapshot);
      cf_array_release(&enc->dicts[i].pending);
    }
    free(enc->dicts);
  }
  cf_enc_free(&enc->enc);
  cf_compressor_free(enc->comp);
  cf_plan_free(&enc->plan);
  free(enc);
}

void cf_ipc_encoder_set_file_format(cflight_ipc_encoder *enc) {
  enc->file_format = true;
}

const cf_plan *cf_ipc_encoder_plan(const cflight_ipc_encoder *enc) {
  return &enc->plan;
}

static int enqueue(cflight_ipc_encoder *enc, cflight_ipc_payload *p, cflight_error *err) {
  if (enc->q_len == enc->q_cap) {
    size_t cap = enc->q_cap ? enc->q_cap * 2 : 8;
    cflight_ipc_payload **q = realloc(enc->queue, cap * sizeof(*q));
    if (q == NULL) {
      cflight_ipc_payload_free(p);
      return CF_NOMEM(err, "payload queue");
    }
    enc->queue = q;
    enc->q_cap = cap;
  }
  enc->queue[enc->q_len++] = p;
  return CFLIGHT_OK;
}

cflight_ipc_payload *cflight_ipc_encoder_next(cflight_ipc_encoder *enc) {
  if (enc == NULL || enc->q_head == enc->q_len) return NULL;
  cflight_ipc_payload *p = enc->queue[enc->q_head++];
  if (enc->q_head == enc->q_len) enc->q_head = enc->q_len = 0;
  return p;
}

int cflight_ipc_encoder_schema(cflight_ipc_encoder *enc, cflight_ipc_payload **out,
                               cflight_error *err) {
  cf_fbb b;
  cf_fbb_init(&b);
  *out = NULL;
  int rc = cf_schema_message(&b, &enc->plan, err);
  if (rc == CFLIGHT_OK) rc = cf_payload_new(CFLIGHT_IPC_SCHEMA, &b, NULL, out, err);
  cf_fbb_reset(&b);
  return rc;
}

static bool same_values(const cf_field *vf, const struct ArrowArray *a, const struct ArrowArray *b,
                        int64_t n) {
  return cf_compare_range(vf, a, 0, b, 0, n, "dictionary", NULL) == CFLIGHT_OK;
}

/* Decides what dictionary d (for slot) needs sent, queues it, and records
 * the snapshot to keep. */
static int handle_dict(cflight_ipc_encoder *enc, int64_t slot, const struct ArrowArray *d,
                       bool inner_replaced, bool *replaced, cflight_error *err) {
  enc_dict *st = &enc->dicts[slot];
  const cf_field *vf = enc->plan.dicts[slot].value;
  int64_t id = enc->plan.dicts[slot].id;
  *replaced = false;
  if (st->seen) {
    /* Several fields share this dictionary id: the first one was sent, and
     * the others must hold the same values. */
    if (d != st->first &&
        (d->length != st->first->length || !same_values(vf, st->first, d, d->length))) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "encode: fields sharing dictionary id %lld carry different "
                               "dictionaries in one batch",
                               (long long)id);
    }
    *replaced = st->replaced;
    return CFLIGHT_OK;
  }
  st->seen = true;
  st->first = d;
  int64_t start = 0;
  bool delta = false;
  if (st->sent) {
    const struct ArrowArray *snap = &st->snapshot;
    /* A replaced nested dictionary changes what this dictionary's indices
     * mean, so this one must be sent again in full. */
    if (!inner_replaced && d->length == snap->length && same_values(vf, snap, d, d->length))
      return CFLIGHT_OK;
    if (!inner_replaced && enc->opts.dictionary_deltas && d->length > snap->length &&
        same_values(vf, snap, d, snap->length)) {
      delta = true;
      start = snap->length;
    } else {
      if (enc->file_format) {
        return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                                 "encode: the dictionary of id %lld changed in a way only a "
                                 "replacement can express, which the IPC file format does not "
                                 "allow (use the stream format%s)",
                                 (long long)id,
                                 enc->opts.dictionary_deltas ? "" : " or enable deltas");
      }
      *replaced = st->replaced = true;
    }
  }
  cf_enc_reset(&enc->enc);
  int rc = cf_enc_array(&enc->enc, vf, d, start, d->length - start, err);
  cflight_ipc_payload *p = NULL;
  if (rc == CFLIGHT_OK) {
    rc = cf_enc_finish_dictionary_batch(&enc->enc, id, d->length - start, delta, st->has_views, &p,
                                        err);
  }
  cf_enc_reset(&enc->enc);
  if (rc == CFLIGHT_OK) rc = enqueue(enc, p, err);
  if (rc == CFLIGHT_OK) rc = cf_array_copy_range(vf, d, 0, d->length, &st->pending, err);
  if (rc == CFLIGHT_OK) st->has_pending = true;
  return rc;
}

static int walk_dicts(cflight_ipc_encoder *enc, const cf_field *f, const struct ArrowArray *a,
                      int depth, bool *replaced_any, cflight_error *err) {
  if (a == NULL || a->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: field '%s' is released",
                             f->schema->name ? f->schema->name : "");
  }
  if (depth > 2 * CF_IPC_MAX_DEPTH) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: nested too deeply");
  }
  if (f->dict != NULL) {
    if (a->dictionary == NULL || a->dictionary->release == NULL) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "encode: dictionary-encoded field '%s' has no dictionary",
                               f->schema->name ? f->schema->name : "");
    }
    bool inner = false, replaced = false;
    CF_RETURN_NOT_OK(walk_dicts(enc, f->dict, a->dictionary, depth + 1, &inner, err));
    CF_RETURN_NOT_OK(handle_dict(enc, f->dict_slot, a->dictionary, inner, &replaced, err));
    *replaced_any = *replaced_any || replaced || inner;
    return CFLIGHT_OK;
  }
  if (a->n_children != f->n_children || (a->n_children > 0 && a->children == NULL)) {
    return cflight_error_set(
        err, CFLIGHT_INVALID_ARGUMENT, "encode: field '%s' has %lld children, its type %lld",
        f->schema->name ? f->schema->name : "", (long long)a->n_children, (long long)f->n_children);
  }
  for (int64_t i = 0; i < f->n_children; i++)
    CF_RETURN_NOT_OK(
        walk_dicts(enc, &f->children[i], a->children[i], depth + 1, replaced_any, err));
  return CFLIGHT_OK;
}

int cflight_ipc_encoder_write_batch(cflight_ipc_encoder *enc, const struct ArrowArray *batch,
                                    cflight_error *err) {
  if (enc == NULL || batch == NULL || batch->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "encode: NULL encoder or batch");
  }
  size_t queued = enc->q_len;
  for (int64_t i = 0; i < enc->plan.n_dicts; i++) {
    enc->dicts[i].seen = enc->dicts[i].replaced = false;
  }
  int rc = CFLIGHT_OK;
  if (enc->plan.n_dicts > 0) {
    const cf_field *root = &enc->plan.root;
    if (batch->n_children != root->n_children || batch->children == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "encode: the batch has %lld columns, the schema %lld",
                             (long long)batch->n_children, (long long)root->n_children);
    }
    bool any = false;
    for (int64_t i = 0; i < root->n_children && rc == CFLIGHT_OK; i++)
      rc = walk_dicts(enc, &root->children[i], batch->children[i], 1, &any, err);
  }
  if (rc == CFLIGHT_OK) {
    cflight_ipc_payload *p = NULL;
    cf_enc_reset(&enc->enc);
    rc = cf_enc_columns(&enc->enc, &enc->plan.root, batch, err);
    if (rc == CFLIGHT_OK)
      rc = cf_enc_finish_record_batch(&enc->enc, batch->length, enc->has_views, &p, err);
    cf_enc_reset(&enc->enc);
    if (rc == CFLIGHT_OK) rc = enqueue(enc, p, err);
  }
  /* Keep the new dictionary snapshots only if the whole batch was queued. */
  for (int64_t i = 0; i < enc->plan.n_dicts; i++) {
    enc_dict *st = &enc->dicts[i];
    if (!st->has_pending) continue;
    if (rc == CFLIGHT_OK) {
      cf_array_release(&st->snapshot);
      cf_array_move(&st->pending, &st->snapshot);
      st->sent = true;
    } else {
      cf_array_release(&st->pending);
    }
    st->has_pending = false;
  }
  if (rc != CFLIGHT_OK) {
    while (enc->q_len > queued)
      cflight_ipc_payload_free(enc->queue[--enc->q_len]);
    if (enc->q_head > enc->q_len) enc->q_head = enc->q_len;
  }
  return rc;
}
