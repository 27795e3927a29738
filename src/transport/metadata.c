/* Metadata lists, received messages, statuses, and the header lists handed
 * to nghttp2. */
#include <stdio.h>
#include <strings.h>

#include "transport/internal.h"

/* ---- cf_metadata ------------------------------------------------------------------ */

int cf_metadata_add(cf_metadata *md, const char *key, const void *value, size_t value_len,
                    cflight_error *err) {
  if (key == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "metadata key is NULL");
  if (value == NULL && value_len > 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "metadata value is NULL");
  if (md->count == md->cap) {
    size_t cap = md->cap ? md->cap * 2 : 8;
    cf_header *items = cf_realloc(md->items, cap * sizeof(*items));
    if (items == NULL) return CF_NOMEM(err, "metadata");
    md->items = items;
    md->cap = cap;
  }
  char *k = cf_strdup(key);
  uint8_t *v = cf_malloc(value_len + 1);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return CF_NOMEM(err, "metadata");
  }
  /* HTTP/2 header names are lower-case. */
  for (char *p = k; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  if (value_len > 0) memcpy(v, value, value_len);
  v[value_len] = '\0'; /* convenient for text values; not counted */
  md->items[md->count].key = k;
  md->items[md->count].value = v;
  md->items[md->count].value_len = value_len;
  md->count++;
  return CFLIGHT_OK;
}

const cf_header *cf_metadata_find(const cf_metadata *md, const char *key) {
  if (md == NULL || key == NULL) return NULL;
  for (size_t i = 0; i < md->count; i++)
    if (strcasecmp(md->items[i].key, key) == 0) return &md->items[i];
  return NULL;
}

int cf_metadata_copy(const cf_metadata *src, cf_metadata *dst, cflight_error *err) {
  if (src == NULL) return CFLIGHT_OK;
  for (size_t i = 0; i < src->count; i++) {
    CF_RETURN_NOT_OK(
        cf_metadata_add(dst, src->items[i].key, src->items[i].value, src->items[i].value_len, err));
  }
  return CFLIGHT_OK;
}

void cf_metadata_reset(cf_metadata *md) {
  if (md == NULL) return;
  for (size_t i = 0; i < md->count; i++) {
    free(md->items[i].key);
    free(md->items[i].value);
  }
  free(md->items);
  memset(md, 0, sizeof(*md));
}

/* ---- cf_msg ------------------------------------------------------------------------ */

void cf_msg_reset(cf_msg *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->n_slices; i++)
    cflight_buffer_unref(m->slices[i].buf);
  free(m->slices);
  memset(m, 0, sizeof(*m));
}

cflight_buffer *cf_msg_flatten(const cf_msg *m, cflight_error *err) {
  if (m->n_slices == 1) {
    const cf_slice *s = &m->slices[0];
    size_t off = (size_t)(s->data - cflight_buffer_data(s->buf));
    cflight_buffer *b = cflight_buffer_slice(s->buf, off, s->len);
    if (b == NULL) CF_NOMEM(err, "message slice");
    return b;
  }
  cflight_buffer *b = cflight_buffer_new(m->len);
  if (b == NULL) {
    CF_NOMEM(err, "message copy");
    return NULL;
  }
  uint8_t *p = cflight_buffer_mutable_data(b);
  for (size_t i = 0; i < m->n_slices; i++) {
    if (m->slices[i].len > 0) memcpy(p, m->slices[i].data, m->slices[i].len);
    p += m->slices[i].len;
  }
  return b;
}

void cf_status_reset(cf_status *st) {
  if (st == NULL) return;
  cflight_error_reset(&st->error);
  cf_metadata_reset(&st->trailers);
}

/* ---- header lists for nghttp2 ----------------------------------------------------- */

static bool is_sensitive(const char *name, size_t len) {
  static const char *const names[] = {"authorization", "proxy-authorization", "auth-token-bin",
                                      "cookie", "set-cookie"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(names); i++) {
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return true;
  }
  return false;
}

static int nv_push(cf_nvbuf *b, const char *name, size_t namelen, const void *value,
                   size_t value_len, cflight_error *err) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    nghttp2_nv *nv = cf_realloc(b->nv, cap * sizeof(*nv));
    if (nv == NULL) return CF_NOMEM(err, "header list");
    b->nv = nv;
    b->cap = cap;
  }
  nghttp2_nv *nv = &b->nv[b->n++];
  nv->name = (uint8_t *)name;
  nv->namelen = namelen;
  nv->value = (uint8_t *)(value != NULL ? value : "");
  nv->valuelen = value_len;
  /* Credentials stay out of HPACK's dynamic table, so that compression
   * cannot be used to guess them (RFC 7541 7.1). */
  nv->flags = is_sensitive(name, namelen) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
  return CFLIGHT_OK;
}

static int nv_own(cf_nvbuf *b, void *p, cflight_error *err) {
  if (b->n_owned == b->cap_owned) {
    size_t cap = b->cap_owned ? b->cap_owned * 2 : 8;
    void **o = cf_realloc(b->owned, cap * sizeof(*o));
    if (o == NULL) {
      free(p);
      return CF_NOMEM(err, "header list");
    }
    b->owned = o;
    b->cap_owned = cap;
  }
  b->owned[b->n_owned++] = p;
  return CFLIGHT_OK;
}

int cf_nv_add(cf_nvbuf *b, const char *name, const void *value, size_t value_len,
              cflight_error *err) {
  return nv_push(b, name, strlen(name), value, value_len, err);
}

int cf_nv_add_metadata(cf_nvbuf *b, const cf_metadata *md, cflight_error *err) {
  if (md == NULL) return CFLIGHT_OK;
  for (size_t i = 0; i < md->count; i++) {
    const cf_header *h = &md->items[i];
    size_t klen = strlen(h->key);
    if (!cf_header_is_bin(h->key, klen)) {
      CF_RETURN_NOT_OK(nv_push(b, h->key, klen, h->value, h->value_len, err));
      continue;
    }
    cf_bytes enc = {0};
    int rc = cf_base64_encode(h->value, h->value_len, &enc, err);
    if (rc != CFLIGHT_OK) {
      cf_bytes_reset(&enc);
      return rc;
    }
    size_t n = enc.len;
    if (enc.data == NULL) {
      CF_RETURN_NOT_OK(nv_push(b, h->key, klen, "", 0, err));
      continue;
    }
    CF_RETURN_NOT_OK(nv_own(b, enc.data, err));
    CF_RETURN_NOT_OK(nv_push(b, h->key, klen, enc.data, n, err));
  }
  return CFLIGHT_OK;
}

int cf_nv_add_status(cf_nvbuf *b, const cflight_error *status, cflight_error *err) {
  int code = status != NULL ? cflight_code_to_grpc(status->code) : 0;
  char *num = cf_malloc(8);
  if (num == NULL) return CF_NOMEM(err, "header list");
  snprintf(num, 8, "%d", code);
  CF_RETURN_NOT_OK(nv_own(b, num, err));
  CF_RETURN_NOT_OK(nv_push(b, "grpc-status", 11, num, strlen(num), err));
  if (status != NULL && status->message[0] != '\0') {
    cf_bytes enc = {0};
    int rc = cf_percent_encode(status->message, strlen(status->message), &enc, err);
    if (rc != CFLIGHT_OK) {
      cf_bytes_reset(&enc);
      return rc;
    }
    CF_RETURN_NOT_OK(nv_own(b, enc.data, err));
    CF_RETURN_NOT_OK(nv_push(b, "grpc-message", 12, enc.data, enc.len, err));
  }
  if (status != NULL && status->extra_info != NULL) {
    cf_bytes enc = {0};
    int rc = cf_base64_encode(cflight_buffer_data(status->extra_info),
                              cflight_buffer_size(status->extra_info), &enc, err);
    if (rc != CFLIGHT_OK) {
      cf_bytes_reset(&enc);
      return rc;
    }
    if (enc.data != NULL) {
      CF_RETURN_NOT_OK(nv_own(b, enc.data, err));
      CF_RETURN_NOT_OK(nv_push(b, "grpc-status-details-bin", 23, enc.data, enc.len, err));
    }
  }
  return CFLIGHT_OK;
}

void cf_nv_reset(cf_nvbuf *b) {
  for (size_t i = 0; i < b->n_owned; i++)
    free(b->owned[i]);
  free(b->owned);
  free(b->nv);
  memset(b, 0, sizeof(*b));
}
