/* Generic protobuf-c machinery for the Flight types: serialize, deserialize
 * with our checks, copy, equality, and field setters. See flight_pb.h. */
#include "flight/flight_pb.h"

int cf_pb_new(const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, cflight_error *err) {
  ProtobufCMessage *m = malloc(desc->sizeof_message);
  if (m == NULL) return CF_NOMEM(err, desc->short_name);
  protobuf_c_message_init(desc, m);
  *out = m;
  return CFLIGHT_OK;
}

void cf_pb_free(ProtobufCMessage *m) {
  if (m != NULL) protobuf_c_message_free_unpacked(m, NULL);
}

int cf_pb_serialize(const ProtobufCMessage *m, cflight_buffer **out, cflight_error *err) {
  if (out != NULL) *out = NULL;
  if (m == NULL || out == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "serialize: NULL message or output");
  }
  size_t size = protobuf_c_message_get_packed_size(m);
  cflight_buffer *buf = cflight_buffer_new(size);
  if (buf == NULL) return CF_NOMEM(err, "serialized message");
  size_t written = protobuf_c_message_pack(m, cflight_buffer_mutable_data(buf));
  if (written != size) {
    cflight_buffer_unref(buf);
    return cflight_error_set(err, CFLIGHT_INTERNAL, "%s: packed %zu bytes, expected %zu",
                             m->descriptor->short_name, written, size);
  }
  *out = buf;
  return CFLIGHT_OK;
}

int cf_pb_deserialize(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                      ProtobufCMessage **out, cflight_error *err) {
  if (out == NULL || (data == NULL && size > 0)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "deserialize %s: NULL input or output",
                             desc->short_name);
  }
  *out = NULL;
  /* protobuf-c bounds-checks every length against the input and sizes its
   * allocations by what it actually found in it. */
  static const uint8_t empty[1] = {0};
  ProtobufCMessage *m =
      protobuf_c_message_unpack(desc, NULL, size, data != NULL ? (const uint8_t *)data : empty);
  if (m == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "malformed %s message: not a valid protobuf encoding (%zu bytes)",
                             desc->short_name, size);
  }
  int rc = cf_pb_check(m, CFLIGHT_INVALID_DATA, err);
  if (rc != CFLIGHT_OK) {
    cf_pb_free(m);
    return rc;
  }
  *out = m;
  return CFLIGHT_OK;
}

int cf_pb_copy(const ProtobufCMessage *m, ProtobufCMessage **out, cflight_error *err) {
  if (out == NULL || m == NULL) {
    if (out != NULL) *out = NULL;
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "copy: NULL message or output");
  }
  *out = NULL;
  /* A round trip through the encoding: m already satisfies our checks, and
   * the copy is allocated exactly as an unpacked message is. */
  size_t size = protobuf_c_message_get_packed_size(m);
  uint8_t *tmp = cf_malloc(size);
  if (tmp == NULL) return CF_NOMEM(err, "message copy");
  protobuf_c_message_pack(m, tmp);
  ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, size, tmp);
  free(tmp);
  if (copy == NULL) return CF_NOMEM(err, "message copy");
  *out = copy;
  return CFLIGHT_OK;
}

/* ---- Equality --------------------------------------------------------------------- */

static size_t element_size(ProtobufCType type) {
  switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
      return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
  }
  return 0;
}

static bool value_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
      return !*(const protobuf_c_boolean *)a == !*(const protobuf_c_boolean *)b;
    case PROTOBUF_C_TYPE_STRING: {
      /* NULL and "" both mean the empty string. */
      const char *sa = *(char *const *)a, *sb = *(char *const *)b;
      return strcmp(sa != NULL ? sa : "", sb != NULL ? sb : "") == 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *ba = a, *bb = b;
      return ba->len == bb->len && (ba->len == 0 || memcmp(ba->data, bb->data, ba->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      return cf_pb_equal(*(ProtobufCMessage *const *)a, *(ProtobufCMessage *const *)b);
    default:
      /* Integers, enums and floating point: bit for bit, so that a NaN
       * progress equals itself and the relation stays an equivalence. */
      return memcmp(a, b, element_size(f->type)) == 0;
  }
}

bool cf_pb_equal(const ProtobufCMessage *a, const ProtobufCMessage *b) {
  if (a == NULL || b == NULL) return a == b;
  if (a->descriptor != b->descriptor) return false;
  const ProtobufCMessageDescriptor *desc = a->descriptor;
  const char *pa = (const char *)a, *pb = (const char *)b;
  for (unsigned i = 0; i < desc->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &desc->fields[i];
    const char *ma = pa + f->offset, *mb = pb + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t na = *(const size_t *)(pa + f->quantifier_offset);
      size_t nb = *(const size_t *)(pb + f->quantifier_offset);
      if (na != nb) return false;
      const char *ea = *(char *const *)ma, *eb = *(char *const *)mb;
      size_t es = element_size(f->type);
      for (size_t k = 0; k < na; k++) {
        if (!value_equal(f, ea + k * es, eb + k * es)) return false;
      }
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t ca = *(const uint32_t *)(pa + f->quantifier_offset);
      uint32_t cb = *(const uint32_t *)(pb + f->quantifier_offset);
      if (ca != cb) return false;
      if (ca == f->id && !value_equal(f, ma, mb)) return false;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
      protobuf_c_boolean ha = *(const protobuf_c_boolean *)(pa + f->quantifier_offset);
      protobuf_c_boolean hb = *(const protobuf_c_boolean *)(pb + f->quantifier_offset);
      if (!ha != !hb) return false;
      if (ha && !value_equal(f, ma, mb)) return false;
    } else if (!value_equal(f, ma, mb)) {
      return false;
    }
  }
  return true;
}

/* ---- Setters ------------------------------------------------------------------------ */

int cf_pb_set_bytes(ProtobufCBinaryData *field, const void *data, size_t size, cflight_error *err) {
  if (data == NULL && size > 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL data with size %zu", size);
  }
  uint8_t *copy = NULL;
  if (size > 0) {
    copy = malloc(size);
    if (copy == NULL) return CF_NOMEM(err, "bytes field");
    memcpy(copy, data, size);
  }
  free(field->data);
  field->data = copy;
  field->len = size;
  return CFLIGHT_OK;
}

int cf_pb_set_string(char **field, const char *s, cflight_error *err) {
  if (s == NULL) s = "";
  size_t n = strlen(s);
  if (!cf_utf8_valid(s, n)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "string is not valid UTF-8 (protobuf strings must be)");
  }
  char *copy = cf_strndup(s, n);
  if (copy == NULL) return CF_NOMEM(err, "string field");
  if (*field != NULL && *field != protobuf_c_empty_string) free(*field);
  *field = copy;
  return CFLIGHT_OK;
}

int cf_pb_set_message(ProtobufCMessage **field, const ProtobufCMessage *m, cflight_error *err) {
  ProtobufCMessage *copy = NULL;
  if (m != NULL) CF_RETURN_NOT_OK(cf_pb_copy(m, &copy, err));
  cf_pb_free(*field);
  *field = copy;
  return CFLIGHT_OK;
}

int cf_pb_append_message(size_t *n, void *array, const ProtobufCMessage *m, cflight_error *err) {
  ProtobufCMessage ***arr = array;
  if (m == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL element");
  if (*n >= SIZE_MAX / sizeof(void *) - 1) return CF_NOMEM(err, "repeated field");
  ProtobufCMessage *copy;
  CF_RETURN_NOT_OK(cf_pb_copy(m, &copy, err));
  ProtobufCMessage **grown = realloc(*arr, (*n + 1) * sizeof(void *));
  if (grown == NULL) {
    cf_pb_free(copy);
    return CF_NOMEM(err, "repeated field");
  }
  grown[*n] = copy;
  *arr = grown;
  (*n)++;
  return CFLIGHT_OK;
}

/* ---- UTF-8 -------------------------------------------------------------------------- */

bool cf_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    /* Overlong forms, UTF-16 surrogates and beyond U+10FFFF are not UTF-8. */
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/* ---- Checks ------------------------------------------------------------------------- */

int cf_timestamp_check(const pb_timestamp *ts, int code, cflight_error *err) {
  if (ts->nanos < 0 || ts->nanos > 999999999) {
    return cflight_error_set(err, code, "timestamp nanos %d outside 0 .. 999999999",
                             (int)ts->nanos);
  }
  return CFLIGHT_OK;
}

typedef struct map_slot {
  ProtobufCMessage *entry;
  size_t index;
} map_slot;

static const char *entry_key(const ProtobufCMessage *entry) {
  const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields[0];
  const char *k = *(char *const *)((const char *)entry + kf->offset);
  return k != NULL ? k : "";
}

static int compare_slots(const void *a, const void *b) {
  const map_slot *x = a, *y = b;
  int c = strcmp(entry_key(x->entry), entry_key(y->entry));
  if (c != 0) return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts a protobuf map (a repeated entry message: key = field 1, value =
 * field 2) by key, keeps the last entry of each key as protobuf does, and
 * gives every entry a value (an absent one means the value type's
 * defaults), so that equal maps compare equal field by field. */
static int normalize_map(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                         cflight_error *err) {
  size_t *n = (size_t *)((char *)m + f->quantifier_offset);
  ProtobufCMessage **entries = *(ProtobufCMessage ***)((char *)m + f->offset);
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  const ProtobufCFieldDescriptor *vf = &ed->fields[1];
  if (*n > 1) {
    map_slot *slots = cf_malloc(*n * sizeof(*slots));
    if (slots == NULL) return CF_NOMEM(err, "map entries");
    for (size_t i = 0; i < *n; i++)
      slots[i] = (map_slot){entries[i], i};
    qsort(slots, *n, sizeof(*slots), compare_slots);
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
      if (i + 1 < *n && strcmp(entry_key(slots[i].entry), entry_key(slots[i + 1].entry)) == 0) {
        cf_pb_free(slots[i].entry);
        continue;
      }
      entries[kept++] = slots[i].entry;
    }
    *n = kept;
    free(slots);
  }
  if (vf->type == PROTOBUF_C_TYPE_MESSAGE) {
    for (size_t i = 0; i < *n; i++) {
      ProtobufCMessage **v = (ProtobufCMessage **)((char *)entries[i] + vf->offset);
      if (*v == NULL) CF_RETURN_NOT_OK(cf_pb_new(vf->descriptor, v, err));
    }
  }
  return CFLIGHT_OK;
}

static bool is_map_entry(const ProtobufCMessageDescriptor *d) {
  return d ==
             &arrow__flight__protocol__set_session_options_request__session_options_entry__descriptor ||
         d == &arrow__flight__protocol__set_session_options_result__errors_entry__descriptor ||
         d ==
             &arrow__flight__protocol__get_session_options_result__session_options_entry__descriptor;
}

static int check_string(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const char *s,
                        int code, cflight_error *err) {
  if (s != NULL && !cf_utf8_valid(s, strlen(s))) {
    return cflight_error_set(err, code, "%s.%s is not valid UTF-8", m->descriptor->short_name,
                             f->name);
  }
  return CFLIGHT_OK;
}

/* Type-specific rules, applied after the message's fields were checked. */
static int check_rules(ProtobufCMessage *m, int code, cflight_error *err) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (d == &arrow__flight__protocol__flight_descriptor__descriptor) {
    const pb_descriptor *fd = (const pb_descriptor *)m;
    if (fd->type != ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__UNKNOWN &&
        fd->type != ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH &&
        fd->type != ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD) {
      return cflight_error_set(
          err, code, "FlightDescriptor type %d is neither PATH (1) nor CMD (2)", (int)fd->type);
    }
  } else if (d == &google__protobuf__timestamp__descriptor) {
    return cf_timestamp_check((const pb_timestamp *)m, code, err);
  } else if (d == &arrow__flight__protocol__location__descriptor) {
    cf_uri uri;
    return cf_uri_parse(((const pb_location *)m)->uri, &uri, code, err);
  } else if (d == &arrow__flight__protocol__poll_info__descriptor) {
    const pb_poll_info *p = (const pb_poll_info *)m;
    if (p->progress_known_case == ARROW__FLIGHT__PROTOCOL__POLL_INFO__PROGRESS_KNOWN_PROGRESS &&
        !(p->progress >= 0.0 && p->progress <= 1.0)) {
      return cflight_error_set(err, code, "PollInfo progress %g outside 0 .. 1", p->progress);
    }
  }
  return CFLIGHT_OK;
}

int cf_pb_check(ProtobufCMessage *m, int code, cflight_error *err) {
  const ProtobufCMessageDescriptor *desc = m->descriptor;
  char *base = (char *)m;
  /* Flight's messages do not nest recursively, so this recursion is as
   * deep as the schema, whatever the input. */
  for (unsigned i = 0; i < desc->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &desc->fields[i];
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    char *member = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(uint32_t *)(base + f->quantifier_offset) != f->id) continue;
    }
    size_t n = 1;
    void **items = (void **)member;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(size_t *)(base + f->quantifier_offset);
      items = *(void ***)member;
    }
    for (size_t k = 0; k < n; k++) {
      if (items[k] == NULL) continue;
      if (f->type == PROTOBUF_C_TYPE_STRING) {
        CF_RETURN_NOT_OK(check_string(m, f, items[k], code, err));
      } else {
        CF_RETURN_NOT_OK(cf_pb_check(items[k], code, err));
      }
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
        is_map_entry(f->descriptor)) {
      CF_RETURN_NOT_OK(normalize_map(m, f, err));
    }
  }
  return check_rules(m, code, err);
}
