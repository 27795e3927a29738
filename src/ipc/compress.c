/* Body compression: each buffer is an int64 uncompressed length (-1: stored
 * as is) followed by one LZ4 frame or zstd frame. */
#include <lz4frame.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "ipc/ipc.h"

struct cf_decompressor {
  LZ4F_dctx *lz4;
  ZSTD_DCtx *zstd;
};

void cf_decompressor_free(cf_decompressor *d) {
  if (d == NULL) return;
  if (d->lz4 != NULL) LZ4F_freeDecompressionContext(d->lz4);
  if (d->zstd != NULL) ZSTD_freeDCtx(d->zstd);
  free(d);
}

/* The most bytes `compressed` bytes can decode to. An LZ4 sequence encodes
 * at most 255 bytes per input byte; a 4-byte zstd RLE block yields at most
 * 128 KiB. Declared sizes beyond this are lies and are refused before any
 * allocation. */
static int64_t max_expansion(cflight_compression codec, int64_t compressed) {
  if (codec == CFLIGHT_COMPRESSION_LZ4_FRAME) return compressed * 256 + 1024;
  return compressed * 32768 + (1 << 17);
}

static int lz4_decompress(cf_decompressor *d, const uint8_t *src, size_t src_size, uint8_t *dst,
                          size_t dst_size, cflight_error *err) {
  if (d->lz4 == NULL) {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d->lz4, LZ4F_VERSION)))
      return CF_NOMEM(err, "LZ4 context");
  } else {
    LZ4F_resetDecompressionContext(d->lz4);
  }
  size_t in = 0, out = 0, hint = 1;
  while (hint != 0) {
    size_t n_in = src_size - in, n_out = dst_size - out;
    hint = LZ4F_decompress(d->lz4, dst + out, &n_out, src + in, &n_in, NULL);
    if (LZ4F_isError(hint)) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "compressed buffer: LZ4 frame: %s",
                               LZ4F_getErrorName(hint));
    }
    in += n_in;
    out += n_out;
    if (hint != 0 && n_in == 0 && n_out == 0) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               in == src_size
                                   ? "compressed buffer: LZ4 frame is truncated"
                                   : "compressed buffer: LZ4 frame holds more than the %zu "
                                     "bytes its length prefix declares",
                               dst_size);
    }
  }
  if (out != dst_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer: LZ4 frame holds %zu bytes, its prefix says %zu",
                             out, dst_size);
  }
  return CFLIGHT_OK;
}

static int zstd_decompress(cf_decompressor *d, const uint8_t *src, size_t src_size, uint8_t *dst,
                           size_t dst_size, cflight_error *err) {
  if (d->zstd == NULL && (d->zstd = ZSTD_createDCtx()) == NULL)
    return CF_NOMEM(err, "zstd context");
  size_t n = ZSTD_decompressDCtx(d->zstd, dst, dst_size, src, src_size);
  if (ZSTD_isError(n)) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "compressed buffer: zstd: %s%s",
                             ZSTD_getErrorName(n),
                             ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
                                 ? " (the data is larger than its length prefix says)"
                                 : "");
  }
  if (n != dst_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer: zstd frame holds %zu bytes, its prefix says %zu",
                             n, dst_size);
  }
  return CFLIGHT_OK;
}

int cf_decompress_buffer(cf_decompressor **ctx, cflight_compression codec, cflight_buffer *owner,
                         const uint8_t *src, int64_t src_size, int64_t max_size,
                         cflight_buffer **out, const uint8_t **data, int64_t *size,
                         cflight_error *err) {
  *out = NULL;
  *data = NULL;
  *size = 0;
  if (src_size < 8) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer of %lld bytes is too short for its length prefix",
                             (long long)src_size);
  }
  int64_t declared = cf_load_i64(src);
  if (declared == -1) {
    *out = cflight_buffer_ref(owner);
    *data = src + 8;
    *size = src_size - 8;
    return CFLIGHT_OK;
  }
  if (declared < 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer: negative uncompressed length %lld",
                             (long long)declared);
  }
  if (declared > max_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer: uncompressed length %lld exceeds the limit of "
                             "%lld bytes",
                             (long long)declared, (long long)max_size);
  }
  if (declared > max_expansion(codec, src_size - 8)) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "compressed buffer: %lld compressed bytes cannot expand to the "
                             "declared %lld bytes",
                             (long long)(src_size - 8), (long long)declared);
  }
  if (declared == 0) {
    *data = cf_ipc_zeros;
    return CFLIGHT_OK;
  }
  if (*ctx == NULL && (*ctx = calloc(1, sizeof(cf_decompressor))) == NULL)
    return CF_NOMEM(err, "decompressor");
  cflight_buffer *buf = cflight_buffer_new((size_t)declared);
  if (buf == NULL) return CF_NOMEM(err, "decompressed buffer");
  uint8_t *dst = cflight_buffer_mutable_data(buf);
  int rc;
  if (codec == CFLIGHT_COMPRESSION_LZ4_FRAME)
    rc = lz4_decompress(*ctx, src + 8, (size_t)(src_size - 8), dst, (size_t)declared, err);
  else
    rc = zstd_decompress(*ctx, src + 8, (size_t)(src_size - 8), dst, (size_t)declared, err);
  if (rc != CFLIGHT_OK) {
    cflight_buffer_unref(buf);
    return rc;
  }
  *out = buf;
  *data = dst;
  *size = declared;
  return CFLIGHT_OK;
}

/* ---- Compression ------------------------------------------------------------- */

struct cf_compressor {
  cflight_compression codec;
  int level;
  ZSTD_CCtx *zstd;
};

int cf_compressor_new(cflight_compression codec, int level, cf_compressor **out,
                      cflight_error *err) {
  *out = NULL;
  cf_compressor *c = calloc(1, sizeof(*c));
  if (c == NULL) return CF_NOMEM(err, "compressor");
  c->codec = codec;
  c->level = level;
  if (codec == CFLIGHT_COMPRESSION_ZSTD && (c->zstd = ZSTD_createCCtx()) == NULL) {
    free(c);
    return CF_NOMEM(err, "zstd context");
  }
  *out = c;
  return CFLIGHT_OK;
}

void cf_compressor_free(cf_compressor *c) {
  if (c == NULL) return;
  if (c->zstd != NULL) ZSTD_freeCCtx(c->zstd);
  free(c);
}

cflight_compression cf_compressor_codec(const cf_compressor *c) {
  return c->codec;
}

int cf_compress_buffer(cf_compressor *c, const void *src, size_t size, cflight_buffer **out,
                       size_t *out_size, cflight_error *err) {
  *out = NULL;
  *out_size = 0;
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof(prefs));
  prefs.compressionLevel = c->level;
  size_t bound = c->codec == CFLIGHT_COMPRESSION_LZ4_FRAME ? LZ4F_compressFrameBound(size, &prefs)
                                                           : ZSTD_compressBound(size);
  if (bound == 0 || bound > SIZE_MAX - 8) return CF_NOMEM(err, "compression buffer");
  cflight_buffer *buf = cflight_buffer_new(bound + 8);
  if (buf == NULL) return CF_NOMEM(err, "compression buffer");
  uint8_t *dst = cflight_buffer_mutable_data(buf);
  size_t n;
  if (c->codec == CFLIGHT_COMPRESSION_LZ4_FRAME) {
    n = LZ4F_compressFrame(dst + 8, bound, src, size, &prefs);
    if (LZ4F_isError(n)) {
      cflight_buffer_unref(buf);
      return cflight_error_set(err, CFLIGHT_INTERNAL, "LZ4 compression failed: %s",
                               LZ4F_getErrorName(n));
    }
  } else {
    n = ZSTD_compressCCtx(c->zstd, dst + 8, bound, src, size, c->level);
    if (ZSTD_isError(n)) {
      cflight_buffer_unref(buf);
      return cflight_error_set(err, CFLIGHT_INTERNAL, "zstd compression failed: %s",
                               ZSTD_getErrorName(n));
    }
  }
  if (n >= size) {
    cflight_buffer_unref(buf); /* no gain: the caller stores the buffer as is */
    return CFLIGHT_OK;
  }
  cf_store_i64(dst, (int64_t)size);
  *out = buf;
  *out_size = n + 8;
  return CFLIGHT_OK;
}
