/* Shared by the integration JSON reader and writer: the JSON text emitter
 * and a path tracker for error messages. */
#ifndef CF_INTEGRATION_JSON_INTERNAL_H
#define CF_INTEGRATION_JSON_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "integration.h"

/* Appends root as indented JSON text (objects one member per line, arrays of
 * scalars on one line, reals in their shortest exact form) to out. */
int cf_json_emit(const json_t *root, cf_bytes *out, cflight_error *err);

/* Joins FieldData b after FieldData a (both of `field`) into *out, for
 * dictionary deltas (json_merge.c). */
int cf_integration_merge_columns(const struct ArrowSchema *field, const json_t *a, const json_t *b,
                                 json_t **out, cflight_error *err);

#endif /* CF_INTEGRATION_JSON_INTERNAL_H */
