/* A minimal Flight server: it serves one small in-memory table, called
 * "people", over ListFlights, GetFlightInfo and DoGet.
 *
 *   minimal-server [location]      (default grpc://0.0.0.0:8815)
 *
 * Try it with examples/minimal-client, or with pyarrow:
 *   pyarrow.flight.connect("grpc://localhost:8815").do_get(
 *       pyarrow.flight.Ticket(b"people")).read_all()
 */
#include <cflight.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The table, through the Arrow C Data Interface ------------------------
 * Two columns, id (int64) and name (utf8), three rows. Its buffers are
 * static; each DoGet gets a fresh ArrowArray pointing at them. */

static const int64_t ids[] = {1, 2, 3};
static const int32_t name_offsets[] = {0, 5, 8, 15};
static const char names[] = "alicebobcharlie";

static void schema_release(struct ArrowSchema *s) {
  s->release = NULL; /* static: nothing to free */
}

static struct ArrowSchema id_field = {.format = "l", .name = "id", .release = schema_release};
static struct ArrowSchema name_field = {.format = "u", .name = "name", .release = schema_release};
static struct ArrowSchema *fields[] = {&id_field, &name_field};
/* A record batch's schema is a struct of the columns. */
static struct ArrowSchema table_schema = {
    .format = "+s", .name = "", .n_children = 2, .children = fields, .release = schema_release};

/* The per-batch structs, freed by the batch's release callback. */
typedef struct batch_memory {
  struct ArrowArray columns[2];
  struct ArrowArray *children[2];
  const void *id_buffers[2];
  const void *name_buffers[3];
  const void *struct_buffers[1];
} batch_memory;

static void column_release(struct ArrowArray *a) {
  a->release = NULL; /* freed with the batch */
}

static void batch_release(struct ArrowArray *a) {
  free(a->private_data);
  a->release = NULL;
}

/* Fills *out with the table as one batch; the caller (cflight) owns it. */
static int make_batch(struct ArrowArray *out) {
  batch_memory *m = calloc(1, sizeof(*m));
  if (m == NULL) return -1;
  /* Buffer 0 of each array is its validity bitmap: NULL means no nulls. */
  m->id_buffers[1] = ids;
  m->name_buffers[1] = name_offsets;
  m->name_buffers[2] = names;
  m->columns[0] = (struct ArrowArray){
      .length = 3, .n_buffers = 2, .buffers = m->id_buffers, .release = column_release};
  m->columns[1] = (struct ArrowArray){
      .length = 3, .n_buffers = 3, .buffers = m->name_buffers, .release = column_release};
  m->children[0] = &m->columns[0];
  m->children[1] = &m->columns[1];
  *out = (struct ArrowArray){.length = 3,
                             .n_buffers = 1,
                             .buffers = m->struct_buffers,
                             .n_children = 2,
                             .children = m->children,
                             .release = batch_release,
                             .private_data = m};
  return 0;
}

/* ---- The handlers --------------------------------------------------------------------------- */

/* The FlightInfo of "people": schema, row count, and one endpoint whose
 * ticket is the name (no locations: redeem it on this server). */
static int people_info(cflight_flight_info **out, cflight_error *err) {
  const char *path[] = {"people"};
  cflight_descriptor *d = NULL;
  cflight_ticket *t = NULL;
  struct ArrowArray batch;
  int rc = cflight_descriptor_new_path(path, 1, &d, err);
  if (rc == 0) rc = cflight_ticket_new("people", 6, &t, err);
  if (rc == 0 && make_batch(&batch) != 0) rc = cflight_error_set(err, CFLIGHT_NO_MEMORY, "batch");
  if (rc == 0) {
    rc = cflight_flight_info_new_for_batches(d, &table_schema, &batch, 1, t, NULL, 0, out, err);
    batch.release(&batch);
  }
  cflight_ticket_free(t);
  cflight_descriptor_free(d);
  return rc;
}

static int list_flights(void *user, cflight_call_context *ctx, const void *criteria,
                        size_t criteria_size, cflight_result_writer *out, cflight_error *err) {
  cflight_flight_info *info = NULL;
  int rc = people_info(&info, err);
  if (rc == 0) rc = cflight_result_writer_write_info(out, info, err);
  cflight_flight_info_free(info);
  return rc;
}

static int get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                           cflight_flight_info **out, cflight_error *err) {
  if (cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_PATH ||
      cflight_descriptor_path_count(d) != 1 ||
      strcmp(cflight_descriptor_path_part(d, 0), "people") != 0)
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown flight (try the path \"people\")");
  return people_info(out, err);
}

/* DoGet streams batches from a generator: called until it returns an empty chunk. */
static int next_chunk(void *ctx, cflight_chunk *out, cflight_error *err) {
  int *sent = ctx;
  memset(out, 0, sizeof(*out));
  if ((*sent)++ > 0) return 0; /* empty: the end */
  if (make_batch(&out->data) != 0) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "batch");
  return 0;
}

static int do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                  cflight_data_stream **out, cflight_error *err) {
  size_t size = 0;
  const uint8_t *data = cflight_ticket_data(t, &size);
  if (size != 6 || memcmp(data, "people", 6) != 0)
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown ticket");
  int *sent = calloc(1, sizeof(int));
  *out = cflight_data_stream_new_generator(&table_schema, next_chunk, free, sent);
  return 0;
}

int main(int argc, char **argv) {
  const char *location = argc > 1 ? argv[1] : "grpc://0.0.0.0:8815";
  cflight_server_handlers handlers = {
      .list_flights = list_flights,
      .get_flight_info = get_flight_info,
      .do_get = do_get,
  };
  cflight_server *server = NULL;
  cflight_error err = {0};
  if (cflight_server_new(location, &handlers, sizeof(handlers), NULL, NULL, &server, &err) != 0) {
    fprintf(stderr, "cannot start the server: %s\n", err.message);
    return 1;
  }
  printf("serving on %s\n", cflight_server_location(server, 0));
  fflush(stdout);
  cflight_server_wait(server); /* until something calls cflight_server_shutdown */
  cflight_server_free(server);
  return 0;
}
