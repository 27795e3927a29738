/* A minimal Flight client: lists the flights a server offers, then fetches
 * the first one with DoGet and prints its rows.
 *
 *   minimal-client [location]      (default grpc://localhost:8815)
 *
 * Start examples/minimal-server first (or any Flight server). */
#include <cflight.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Prints one value of a column, for the two types the example server uses. */
static void print_value(const struct ArrowSchema *field, const struct ArrowArray *col,
                        int64_t row) {
  int64_t i = col->offset + row;
  if (strcmp(field->format, "l") == 0) {
    printf("%" PRId64, ((const int64_t *)col->buffers[1])[i]);
  } else if (strcmp(field->format, "u") == 0) {
    const int32_t *offsets = col->buffers[1];
    const char *data = col->buffers[2];
    printf("%.*s", (int)(offsets[i + 1] - offsets[i]), data + offsets[i]);
  } else {
    printf("(%s)", field->format);
  }
}

static int fail(const char *what, const cflight_error *err) {
  fprintf(stderr, "%s: %s: %s\n", what, cflight_code_name(err->code), err->message);
  return 1;
}

int main(int argc, char **argv) {
  const char *location = argc > 1 ? argv[1] : "grpc://localhost:8815";
  cflight_error err = {0};
  cflight_client *client = NULL;
  if (cflight_client_connect(location, NULL, &client, &err) != 0) return fail("connect", &err);

  /* ListFlights: one FlightInfo per flight. Keep the first. */
  cflight_info_iter *it = NULL;
  if (cflight_client_list_flights(client, NULL, 0, NULL, &it, &err) != 0)
    return fail("ListFlights", &err);
  cflight_flight_info *first = NULL;
  for (;;) {
    cflight_flight_info *info = NULL;
    if (cflight_info_iter_next(it, &info, &err) != 0) return fail("ListFlights", &err);
    if (info == NULL) break; /* the end */
    const cflight_descriptor *d = cflight_flight_info_descriptor(info);
    printf("flight %s: %" PRId64 " rows\n",
           d != NULL && cflight_descriptor_path_count(d) > 0 ? cflight_descriptor_path_part(d, 0)
                                                             : "(command)",
           cflight_flight_info_total_records(info));
    if (first == NULL) {
      first = info;
    } else {
      cflight_flight_info_free(info);
    }
  }
  cflight_info_iter_free(it);
  if (first == NULL || cflight_flight_info_endpoint_count(first) == 0) {
    printf("nothing to fetch\n");
    cflight_flight_info_free(first);
    cflight_client_close(client);
    return 0;
  }

  /* DoGet with the first endpoint's ticket (its locations are empty: this server). */
  const cflight_ticket *ticket = cflight_endpoint_ticket(cflight_flight_info_endpoint(first, 0));
  cflight_stream_reader *reader = NULL;
  if (cflight_client_do_get(client, ticket, NULL, &reader, &err) != 0) return fail("DoGet", &err);
  struct ArrowSchema schema;
  if (cflight_stream_reader_schema(reader, &schema, &err) != 0) return fail("DoGet", &err);
  for (;;) {
    cflight_chunk chunk;
    bool end = false;
    if (cflight_stream_reader_next(reader, &chunk, &end, &err) != 0) return fail("DoGet", &err);
    if (end) break;
    /* A batch is a struct array: one child per column. */
    const struct ArrowArray *batch = &chunk.data;
    for (int64_t row = 0; batch->release != NULL && row < batch->length; row++) {
      for (int64_t c = 0; c < batch->n_children; c++) {
        printf(c == 0 ? "  " : ", ");
        print_value(schema.children[c], batch->children[c], row);
      }
      printf("\n");
    }
    cflight_chunk_release(&chunk);
  }
  schema.release(&schema);
  cflight_stream_reader_free(reader);
  cflight_flight_info_free(first);
  cflight_client_close(client);
  return 0;
}
