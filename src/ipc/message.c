/* Message tables and the encapsulated message framing:
 * [0xFFFFFFFF] [int32 metadata length] [Message flatbuffer + padding to 8] [body]
 * (the pre-1.0 framing has no 0xFFFFFFFF), ended by a zero length. */
#include "ipc/ipc.h"

_Alignas(64) const uint8_t cf_ipc_zeros[64] = {0};

int cf_ipc_msg_parse(cf_ipc_msg *msg, const void *data, size_t size, cflight_error *err) {
  memset(msg, 0, sizeof(*msg));
  if (data == NULL || size == 0)
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "message: empty metadata");
  CF_RETURN_NOT_OK(cf_fbr_init(&msg->r, data, size, err));
  if (!cf_fbr_root(&msg->r, &msg->message)) return msg->r.rc;
  msg->version = cf_fbt_i16(&msg->message, 0, CF_MD_V1);
  msg->type = cf_fbt_u8(&msg->message, 1, CF_MSG_NONE);
  bool has_header = cf_fbt_table(&msg->message, 2, &msg->header);
  msg->body_length = cf_fbt_i64(&msg->message, 3, 0);
  CF_RETURN_NOT_OK(msg->r.rc);
  if (msg->version < CF_MD_V4 || msg->version > CF_MD_V5) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "message: metadata version V%d is not supported (only V4 and V5 are)",
                             msg->version + 1);
  }
  if (msg->body_length < 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "message: negative body length %lld",
                             (long long)msg->body_length);
  }
  switch (msg->type) {
    case CF_MSG_SCHEMA:
    case CF_MSG_DICTIONARY_BATCH:
    case CF_MSG_RECORD_BATCH:
      break;
    case CF_MSG_TENSOR:
    case CF_MSG_SPARSE_TENSOR:
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "message: tensor messages are not supported in Arrow IPC streams");
    default:
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "message: unknown message type %d",
                               msg->type);
  }
  if (!has_header) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "message: the message has no header");
  }
  return CFLIGHT_OK;
}

int cf_frame_read(const uint8_t *data, size_t size, cf_frame *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (size == 0) {
    out->eos = true; /* a stream may end without the marker */
    return CFLIGHT_OK;
  }
  if (size < 4) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "message: %zu trailing bytes are too few for a message prefix", size);
  }
  int32_t len;
  if (cf_load_u32(data) == 0xFFFFFFFFu) {
    if (size < 8) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "message: truncated after the continuation marker");
    }
    len = cf_load_i32(data + 4);
    out->prefix_size = 8;
  } else {
    len = cf_load_i32(data); /* pre-1.0 framing: no continuation marker */
    out->prefix_size = 4;
  }
  if (len == 0) {
    out->eos = true;
    return CFLIGHT_OK;
  }
  if (len < 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "message: negative metadata length %d",
                             (int)len);
  }
  if ((size_t)len > size - out->prefix_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "message: metadata of %d bytes runs past the end (%zu bytes left)",
                             (int)len, size - out->prefix_size);
  }
  out->meta = data + out->prefix_size;
  out->meta_size = (size_t)len;
  return CFLIGHT_OK;
}

size_t cf_frame_prefix(size_t meta_size, bool legacy, uint8_t prefix[8], size_t *prefix_size) {
  size_t p = legacy ? 4 : 8;
  size_t total = (p + meta_size + 7) & ~(size_t)7;
  int32_t len = (int32_t)(total - p);
  if (legacy) {
    cf_store_i32(prefix, len);
  } else {
    cf_store_i32(prefix, -1);
    cf_store_i32(prefix + 4, len);
  }
  *prefix_size = p;
  return total - p - meta_size;
}

int cflight_ipc_message_body_length(const void *metadata, size_t metadata_size, int64_t *out,
                                    cflight_error *err) {
  cf_ipc_msg msg;
  *out = 0;
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(&msg, metadata, metadata_size, err));
  *out = msg.body_length;
  return CFLIGHT_OK;
}
