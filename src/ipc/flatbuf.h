/* A hand-written flatbuffers reader and builder, just enough for the Arrow
 * IPC tables (Schema, Message, RecordBatch, DictionaryBatch, Footer).
 *
 * Wire format (flatbuffers, little-endian): a buffer starts with a uint32
 * offset to the root table. A table starts with an int32 soffset: the
 * vtable lives at table - soffset. A vtable is uint16 vtable_size, uint16
 * table_size, then one uint16 per field: the field's offset from the table
 * start, 0 when absent. Reference fields (tables, vectors, strings) hold a
 * uint32 offset relative to the field's own position. Vectors and strings
 * are a uint32 element count followed by the elements (strings add a NUL).
 * A union is two fields: a uint8 type (id n) and a reference (id n + 1).
 *
 * The reader trusts nothing: every offset, length and vtable entry is
 * checked against the buffer before use, and the first failure is kept
 * (sticky) in the reader with a message, so that callers can read a whole
 * table and check once. Reads of absent or broken fields return defaults. */
#ifndef CF_IPC_FLATBUF_H
#define CF_IPC_FLATBUF_H

#include "base/base.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cflight's IPC codec assumes a little-endian host"
#endif

/* ---- Little-endian loads and stores (unaligned) ---------------------------- */

static inline uint16_t cf_load_u16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static inline uint32_t cf_load_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline int32_t cf_load_i32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline int64_t cf_load_i64(const uint8_t *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline void cf_store_i32(uint8_t *p, int32_t v) {
  memcpy(p, &v, 4);
}
static inline void cf_store_i64(uint8_t *p, int64_t v) {
  memcpy(p, &v, 8);
}

/* ---- Reader ------------------------------------------------------------------ */

typedef struct cf_fbr {
  const uint8_t *data;
  uint32_t size;
  int rc;             /* first error, sticky */
  cflight_error *err; /* where the first error goes (may be NULL) */
  int64_t budget;     /* tables left to visit: bounds work on shared subtrees */
} cf_fbr;

/* A table; `r == NULL` means absent. */
typedef struct cf_fbt {
  cf_fbr *r;
  uint32_t pos;     /* table start */
  uint32_t vt;      /* vtable start */
  uint16_t vt_size; /* vtable bytes */
  uint16_t t_size;  /* table inline bytes */
} cf_fbt;

/* A vector of n elements of elem_size bytes starting at data. */
typedef struct cf_fbv {
  cf_fbr *r;
  const uint8_t *data;
  uint32_t pos; /* buffer offset of the first element */
  uint32_t n;
} cf_fbv;

/* Starts reading data[0..size); fails on buffers of 2^32 bytes or more. */
int cf_fbr_init(cf_fbr *r, const void *data, size_t size, cflight_error *err);
/* Records an error (the first one wins) and returns r->rc. */
int cf_fbr_fail(cf_fbr *r, const char *fmt, ...) CFLIGHT_PRINTF(2, 3);
/* The root table; false (with the error recorded) if it is broken. */
bool cf_fbr_root(cf_fbr *r, cf_fbt *out);

static inline bool cf_fbt_present(const cf_fbt *t) {
  return t->r != NULL;
}
/* Whether field `id` is present in the table. */
bool cf_fbt_has(const cf_fbt *t, int id);
/* Scalar fields: def when absent; def and a recorded error when broken. */
uint8_t cf_fbt_u8(const cf_fbt *t, int id, uint8_t def);
bool cf_fbt_bool(const cf_fbt *t, int id, bool def);
int16_t cf_fbt_i16(const cf_fbt *t, int id, int16_t def);
int32_t cf_fbt_i32(const cf_fbt *t, int id, int32_t def);
int64_t cf_fbt_i64(const cf_fbt *t, int id, int64_t def);
/* Sub-table; false when absent or broken (out->r == NULL then). */
bool cf_fbt_table(const cf_fbt *t, int id, cf_fbt *out);
/* String; false when absent or broken (*s = NULL, *len = 0 then). The
 * string is not NUL-terminated as far as the caller knows. */
bool cf_fbt_string(const cf_fbt *t, int id, const char **s, uint32_t *len);
/* Vector of elem_size-byte elements (scalars, structs or references). */
bool cf_fbt_vector(const cf_fbt *t, int id, size_t elem_size, cf_fbv *out);
/* Element i of a vector of tables (i < v->n). */
bool cf_fbv_table(const cf_fbv *v, uint32_t i, cf_fbt *out);

/* ---- Builder ------------------------------------------------------------------
 * Builds back to front, as flatbuffers are meant to be built: children
 * first, then the tables that refer to them. A reference (cf_fbref) is an
 * object's distance from the end of the buffer. Allocation failures are
 * sticky; cf_fbb_finish reports them. */

typedef uint32_t cf_fbref;

#define CF_FBB_MAX_FIELDS 16

typedef struct cf_fbb {
  uint8_t *buf; /* the bytes live at buf[cap - len .. cap) */
  size_t cap;
  size_t len;
  size_t max_align;
  bool failed;
  bool in_table;
  size_t table_start;
  int n_fields;
  struct {
    uint16_t id;
    uint32_t off;
  } fields[CF_FBB_MAX_FIELDS];
} cf_fbb;

void cf_fbb_init(cf_fbb *b);
void cf_fbb_reset(cf_fbb *b);

cf_fbref cf_fbb_string(cf_fbb *b, const char *s, size_t len);
/* A vector of n scalars or structs, given as little-endian bytes. */
cf_fbref cf_fbb_vector(cf_fbb *b, const void *elems, size_t n, size_t elem_size, size_t align);
/* A vector of references (tables or strings). */
cf_fbref cf_fbb_vector_refs(cf_fbb *b, const cf_fbref *refs, size_t n);

void cf_fbb_table_start(cf_fbb *b);
void cf_fbb_add_u8(cf_fbb *b, int id, uint8_t v);
void cf_fbb_add_i16(cf_fbb *b, int id, int16_t v);
void cf_fbb_add_i32(cf_fbb *b, int id, int32_t v);
void cf_fbb_add_i64(cf_fbb *b, int id, int64_t v);
void cf_fbb_add_ref(cf_fbb *b, int id, cf_fbref ref);
cf_fbref cf_fbb_table_end(cf_fbb *b);

/* Writes the root offset. The finished flatbuffer is cf_fbb_data()[0..len),
 * its length a multiple of 8 so that its scalars stay aligned when it is
 * placed at an 8-aligned address. */
int cf_fbb_finish(cf_fbb *b, cf_fbref root, cflight_error *err);
static inline const uint8_t *cf_fbb_data(const cf_fbb *b) {
  return b->buf + (b->cap - b->len);
}
static inline size_t cf_fbb_size(const cf_fbb *b) {
  return b->len;
}

#endif /* CF_IPC_FLATBUF_H */
