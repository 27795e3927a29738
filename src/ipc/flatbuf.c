/* Flatbuffers reader (bounds-checked) and back-to-front builder. */
#include "ipc/flatbuf.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- Reader ------------------------------------------------------------------ */

int cf_fbr_init(cf_fbr *r, const void *data, size_t size, cflight_error *err) {
  memset(r, 0, sizeof(*r));
  r->data = data;
  r->err = err;
  if (size >= UINT32_MAX) {
    r->rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                              "flatbuffer: %zu bytes is more than a flatbuffer can address", size);
    return r->rc;
  }
  r->size = (uint32_t)size;
  /* Every table reached needs a 4-byte reference to it unless references are
   * shared; bounding visits by the size keeps shared subtrees (a DAG that
   * would expand exponentially) from costing more than a linear walk. */
  r->budget = (int64_t)size / 2 + 64;
  return CFLIGHT_OK;
}

int cf_fbr_fail(cf_fbr *r, const char *fmt, ...) {
  if (r->rc != CFLIGHT_OK) return r->rc;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  r->rc = cflight_error_set(r->err, CFLIGHT_INVALID_DATA, "flatbuffer: %s", msg);
  return r->rc;
}

/* Reads the table whose start is at `pos`. */
static bool read_table(cf_fbr *r, uint64_t pos, cf_fbt *out) {
  memset(out, 0, sizeof(*out));
  if (r->rc != CFLIGHT_OK) return false;
  if (--r->budget < 0) {
    cf_fbr_fail(r, "more tables than a %u-byte buffer can hold (shared subtrees?)", r->size);
    return false;
  }
  if (pos + 4 > r->size) {
    cf_fbr_fail(r, "table at offset %llu lies outside the %u-byte buffer", (unsigned long long)pos,
                r->size);
    return false;
  }
  int64_t vt = (int64_t)pos - (int64_t)cf_load_i32(r->data + pos);
  if (vt < 0 || vt + 4 > (int64_t)r->size) {
    cf_fbr_fail(r, "table at offset %llu: vtable offset %lld lies outside the %u-byte buffer",
                (unsigned long long)pos, (long long)vt, r->size);
    return false;
  }
  uint16_t vt_size = cf_load_u16(r->data + vt);
  uint16_t t_size = cf_load_u16(r->data + vt + 2);
  if (vt_size < 4 || (vt_size & 1) != 0 || vt + vt_size > (int64_t)r->size) {
    cf_fbr_fail(r, "table at offset %llu: bad vtable size %u at offset %lld",
                (unsigned long long)pos, vt_size, (long long)vt);
    return false;
  }
  if (t_size < 4 || pos + t_size > r->size) {
    cf_fbr_fail(r, "table at offset %llu: inline size %u runs past the %u-byte buffer",
                (unsigned long long)pos, t_size, r->size);
    return false;
  }
  out->r = r;
  out->pos = (uint32_t)pos;
  out->vt = (uint32_t)vt;
  out->vt_size = vt_size;
  out->t_size = t_size;
  return true;
}

/* Follows the uoffset stored at `at`; returns false on a bad offset. */
static bool follow(cf_fbr *r, uint64_t at, uint64_t *target) {
  if (at + 4 > r->size) {
    cf_fbr_fail(r, "reference at offset %llu lies outside the %u-byte buffer",
                (unsigned long long)at, r->size);
    return false;
  }
  uint64_t t = at + cf_load_u32(r->data + at);
  if (t >= r->size) {
    cf_fbr_fail(r, "reference at offset %llu points to %llu, outside the %u-byte buffer",
                (unsigned long long)at, (unsigned long long)t, r->size);
    return false;
  }
  *target = t;
  return true;
}

bool cf_fbr_root(cf_fbr *r, cf_fbt *out) {
  uint64_t pos;
  memset(out, 0, sizeof(*out));
  if (r->rc != CFLIGHT_OK) return false;
  if (r->size < 8) {
    cf_fbr_fail(r, "a %u-byte buffer is too small to hold a table", r->size);
    return false;
  }
  return follow(r, 0, &pos) && read_table(r, pos, out);
}

/* The position of field `id` if present and `size` bytes fit in the table; 0 if absent. */
static uint32_t field_pos(const cf_fbt *t, int id, size_t size) {
  if (t->r == NULL || t->r->rc != CFLIGHT_OK) return 0;
  uint32_t entry = 4 + 2 * (uint32_t)id;
  if (entry + 2 > t->vt_size) return 0;
  uint16_t off = cf_load_u16(t->r->data + t->vt + entry);
  if (off == 0) return 0;
  if (off < 4 || (size_t)off + size > t->t_size) {
    cf_fbr_fail(t->r,
                "table at offset %u: field %d at +%u (%zu bytes) exceeds the table's %u bytes",
                t->pos, id, off, size, t->t_size);
    return 0;
  }
  return t->pos + off;
}

bool cf_fbt_has(const cf_fbt *t, int id) {
  if (t->r == NULL) return false;
  uint32_t entry = 4 + 2 * (uint32_t)id;
  return entry + 2 <= t->vt_size && cf_load_u16(t->r->data + t->vt + entry) != 0;
}

uint8_t cf_fbt_u8(const cf_fbt *t, int id, uint8_t def) {
  uint32_t p = field_pos(t, id, 1);
  return p ? t->r->data[p] : def;
}

bool cf_fbt_bool(const cf_fbt *t, int id, bool def) {
  return cf_fbt_u8(t, id, def ? 1 : 0) != 0;
}

int16_t cf_fbt_i16(const cf_fbt *t, int id, int16_t def) {
  uint32_t p = field_pos(t, id, 2);
  return p ? (int16_t)cf_load_u16(t->r->data + p) : def;
}

int32_t cf_fbt_i32(const cf_fbt *t, int id, int32_t def) {
  uint32_t p = field_pos(t, id, 4);
  return p ? cf_load_i32(t->r->data + p) : def;
}

int64_t cf_fbt_i64(const cf_fbt *t, int id, int64_t def) {
  uint32_t p = field_pos(t, id, 8);
  return p ? cf_load_i64(t->r->data + p) : def;
}

bool cf_fbt_table(const cf_fbt *t, int id, cf_fbt *out) {
  uint64_t target;
  memset(out, 0, sizeof(*out));
  uint32_t p = field_pos(t, id, 4);
  if (p == 0) return false;
  return follow(t->r, p, &target) && read_table(t->r, target, out);
}

/* Reads the length of the vector or string referenced by the field at p and
 * checks that n * elem_size (+ extra) bytes follow it. */
static bool read_vector(cf_fbr *r, uint32_t p, size_t elem_size, size_t extra, cf_fbv *out) {
  uint64_t target;
  if (!follow(r, p, &target)) return false;
  if (target + 4 > r->size) {
    cf_fbr_fail(r, "vector length at offset %llu lies outside the %u-byte buffer",
                (unsigned long long)target, r->size);
    return false;
  }
  uint64_t n = cf_load_u32(r->data + target);
  uint64_t bytes = n * elem_size + extra; /* n < 2^32 and elem_size is small: no overflow */
  if (bytes > r->size - (target + 4)) {
    cf_fbr_fail(r, "vector at offset %llu: %llu elements of %zu bytes run past the %u-byte buffer",
                (unsigned long long)target, (unsigned long long)n, elem_size, r->size);
    return false;
  }
  out->r = r;
  out->pos = (uint32_t)(target + 4);
  out->data = r->data + out->pos;
  out->n = (uint32_t)n;
  return true;
}

bool cf_fbt_string(const cf_fbt *t, int id, const char **s, uint32_t *len) {
  cf_fbv v;
  *s = NULL;
  *len = 0;
  uint32_t p = field_pos(t, id, 4);
  if (p == 0 || !read_vector(t->r, p, 1, 0, &v)) return false;
  *s = (const char *)v.data;
  *len = v.n;
  return true;
}

bool cf_fbt_vector(const cf_fbt *t, int id, size_t elem_size, cf_fbv *out) {
  memset(out, 0, sizeof(*out));
  uint32_t p = field_pos(t, id, 4);
  if (p == 0) return false;
  if (!read_vector(t->r, p, elem_size, 0, out)) {
    memset(out, 0, sizeof(*out));
    return false;
  }
  return true;
}

bool cf_fbv_table(const cf_fbv *v, uint32_t i, cf_fbt *out) {
  uint64_t target;
  memset(out, 0, sizeof(*out));
  if (v->r == NULL || i >= v->n) return false;
  return follow(v->r, (uint64_t)v->pos + 4 * (uint64_t)i, &target) && read_table(v->r, target, out);
}

/* ---- Builder ------------------------------------------------------------------ */

void cf_fbb_init(cf_fbb *b) {
  memset(b, 0, sizeof(*b));
  b->max_align = 1;
}

void cf_fbb_reset(cf_fbb *b) {
  free(b->buf);
  cf_fbb_init(b);
}

/* Makes room for n more bytes at the front; false (sticky) when out of memory. */
static bool grow(cf_fbb *b, size_t n) {
  if (b->failed) return false;
  if (b->cap - b->len >= n) return true;
  size_t cap = b->cap < 256 ? 256 : b->cap;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 4) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  uint8_t *buf = malloc(cap);
  if (buf == NULL) {
    b->failed = true;
    return false;
  }
  if (b->len > 0) memcpy(buf + cap - b->len, b->buf + b->cap - b->len, b->len);
  free(b->buf);
  b->buf = buf;
  b->cap = cap;
  return true;
}

static void push(cf_fbb *b, const void *data, size_t n) {
  if (!grow(b, n)) return;
  b->len += n;
  memcpy(b->buf + b->cap - b->len, data, n);
}

static void push_zeros(cf_fbb *b, size_t n) {
  if (!grow(b, n)) return;
  b->len += n;
  memset(b->buf + b->cap - b->len, 0, n);
}

/* Pads so that after `following` more bytes the length is a multiple of
 * align, i.e. the object written next starts aligned in the final buffer
 * (whose total length finish makes a multiple of max_align). */
static void pad_for(cf_fbb *b, size_t align, size_t following) {
  if (align > b->max_align) b->max_align = align;
  size_t pad = (align - ((b->len + following) % align)) % align;
  if (pad > 0) push_zeros(b, pad);
}

static void push_uoffset(cf_fbb *b, cf_fbref ref) {
  pad_for(b, 4, 4);
  uint32_t v = (uint32_t)(b->len + 4 - ref);
  push(b, &v, 4);
}

cf_fbref cf_fbb_string(cf_fbb *b, const char *s, size_t len) {
  pad_for(b, 4, len + 1);
  push_zeros(b, 1);
  if (len > 0) push(b, s, len);
  uint32_t n = (uint32_t)len;
  push(b, &n, 4);
  return (cf_fbref)b->len;
}

cf_fbref cf_fbb_vector(cf_fbb *b, const void *elems, size_t n, size_t elem_size, size_t align) {
  size_t bytes = n * elem_size;
  pad_for(b, align > 4 ? align : 4, bytes);
  if (bytes > 0) push(b, elems, bytes);
  uint32_t count = (uint32_t)n;
  push(b, &count, 4);
  return (cf_fbref)b->len;
}

cf_fbref cf_fbb_vector_refs(cf_fbb *b, const cf_fbref *refs, size_t n) {
  pad_for(b, 4, 4 * n);
  for (size_t i = n; i > 0; i--)
    push_uoffset(b, refs[i - 1]);
  uint32_t count = (uint32_t)n;
  push(b, &count, 4);
  return (cf_fbref)b->len;
}

void cf_fbb_table_start(cf_fbb *b) {
  b->in_table = true;
  b->n_fields = 0;
  b->table_start = b->len;
}

static void add_field(cf_fbb *b, int id, const void *v, size_t size) {
  pad_for(b, size, size);
  push(b, v, size);
  if (b->n_fields >= CF_FBB_MAX_FIELDS) {
    b->failed = true;
    return;
  }
  b->fields[b->n_fields].id = (uint16_t)id;
  b->fields[b->n_fields].off = (uint32_t)b->len;
  b->n_fields++;
}

void cf_fbb_add_u8(cf_fbb *b, int id, uint8_t v) {
  add_field(b, id, &v, 1);
}
void cf_fbb_add_i16(cf_fbb *b, int id, int16_t v) {
  add_field(b, id, &v, 2);
}
void cf_fbb_add_i32(cf_fbb *b, int id, int32_t v) {
  add_field(b, id, &v, 4);
}
void cf_fbb_add_i64(cf_fbb *b, int id, int64_t v) {
  add_field(b, id, &v, 8);
}

void cf_fbb_add_ref(cf_fbb *b, int id, cf_fbref ref) {
  push_uoffset(b, ref);
  if (b->n_fields >= CF_FBB_MAX_FIELDS) {
    b->failed = true;
    return;
  }
  b->fields[b->n_fields].id = (uint16_t)id;
  b->fields[b->n_fields].off = (uint32_t)b->len;
  b->n_fields++;
}

cf_fbref cf_fbb_table_end(cf_fbb *b) {
  /* The soffset to the vtable, patched once the vtable is written. */
  pad_for(b, 4, 4);
  push_zeros(b, 4);
  size_t table = b->len;
  int max_id = -1;
  for (int i = 0; i < b->n_fields; i++)
    if (b->fields[i].id > max_id) max_id = b->fields[i].id;
  uint16_t vt[2 + CF_FBB_MAX_FIELDS] = {0};
  size_t vt_entries = 2 + (size_t)(max_id + 1);
  if (vt_entries > CF_ARRAY_SIZE(vt)) {
    b->failed = true;
    vt_entries = 2;
  }
  vt[0] = (uint16_t)(vt_entries * 2);
  vt[1] = (uint16_t)(table - b->table_start);
  for (int i = 0; i < b->n_fields && !b->failed; i++)
    vt[2 + b->fields[i].id] = (uint16_t)(table - b->fields[i].off);
  push(b, vt, vt_entries * 2);
  if (!b->failed) {
    int32_t soff = (int32_t)(b->len - table);
    memcpy(b->buf + b->cap - table, &soff, 4);
  }
  b->in_table = false;
  b->n_fields = 0;
  return (cf_fbref)table;
}

int cf_fbb_finish(cf_fbb *b, cf_fbref root, cflight_error *err) {
  size_t align = b->max_align < 8 ? 8 : b->max_align;
  pad_for(b, align, 4);
  push_uoffset(b, root);
  if (b->failed || b->len > INT32_MAX) return CF_NOMEM(err, "flatbuffer");
  return CFLIGHT_OK;
}
