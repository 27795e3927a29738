/* The field plan: a schema parsed once into types and dictionary slots. */
#include <stdio.h>

#include "ipc/ipc.h"

typedef struct plan_builder {
  cf_plan *plan;
  const int64_t *ids; /* NULL: number dictionaries 0, 1, 2... */
  int64_t n_ids;
  int64_t next; /* dictionary-encoded fields met so far */
  int64_t cap;
} plan_builder;

static void field_free(cf_field *f) {
  for (int64_t i = 0; i < f->n_children; i++)
    field_free(&f->children[i]);
  free(f->children);
  if (f->dict != NULL) {
    field_free(f->dict);
    free(f->dict);
  }
}

/* Gives field f (the index-th dictionary-encoded field in pre-order) its slot. */
static int add_dict_slot(plan_builder *pb, cf_field *f, int64_t index, cflight_error *err) {
  cf_plan *plan = pb->plan;
  int64_t id = index;
  if (pb->ids != NULL) {
    if (index >= pb->n_ids) {
      return cflight_error_set(err, CFLIGHT_INTERNAL, "plan: more dictionary fields than ids");
    }
    id = pb->ids[index];
  }
  int64_t slot = cf_plan_find_dict(plan, id);
  if (slot >= 0) {
    /* A shared dictionary: every field using it must agree on its type. */
    cflight_error why = {0};
    if (cf_schema_equal_types(plan->dicts[slot].value->schema, f->dict->schema, &why) !=
        CFLIGHT_OK) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "schema: fields sharing dictionary id %lld have different value "
                               "types (%s)",
                               (long long)id, why.message);
    }
    f->dict_slot = slot;
    return CFLIGHT_OK;
  }
  if (plan->n_dicts == pb->cap) {
    int64_t cap = pb->cap ? pb->cap * 2 : 4;
    cf_plan_dict *d = realloc(plan->dicts, (size_t)cap * sizeof(*d));
    if (d == NULL) return CF_NOMEM(err, "dictionary table");
    plan->dicts = d;
    pb->cap = cap;
  }
  plan->dicts[plan->n_dicts].id = id;
  plan->dicts[plan->n_dicts].value = f->dict;
  plan->dicts[plan->n_dicts].ordered = (f->schema->flags & ARROW_FLAG_DICTIONARY_ORDERED) != 0;
  f->dict_slot = plan->n_dicts++;
  return CFLIGHT_OK;
}

static int field_build(plan_builder *pb, cf_field *f, const struct ArrowSchema *s, int depth,
                       cflight_error *err) {
  f->schema = s;
  f->dict_slot = -1;
  if (depth > CF_IPC_MAX_DEPTH) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "schema: nested more than %d levels deep", CF_IPC_MAX_DEPTH);
  }
  CF_RETURN_NOT_OK(cf_type_parse(s->format, &f->type, err));
  if (s->dictionary != NULL) {
    if (s->dictionary->dictionary != NULL) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "schema: field '%s' is a dictionary of a dictionary, which IPC "
                               "cannot represent",
                               s->name ? s->name : "");
    }
    f->dict = calloc(1, sizeof(cf_field));
    if (f->dict == NULL) return CF_NOMEM(err, "field plan");
    /* This field comes before its values' own dictionaries in pre-order, but
     * its slot is filled after the value field is built so that a shared
     * slot can compare value types. */
    int64_t index = pb->next++;
    CF_RETURN_NOT_OK(field_build(pb, f->dict, s->dictionary, depth + 1, err));
    CF_RETURN_NOT_OK(add_dict_slot(pb, f, index, err));
  }
  if (s->n_children > 0) {
    f->children = calloc((size_t)s->n_children, sizeof(cf_field));
    if (f->children == NULL) return CF_NOMEM(err, "field plan");
    f->n_children = s->n_children;
    for (int64_t i = 0; i < s->n_children; i++) {
      CF_RETURN_NOT_OK(field_build(pb, &f->children[i], s->children[i], depth + 1, err));
    }
  }
  return CFLIGHT_OK;
}

static int plan_init(cf_plan *plan, const struct ArrowSchema *schema, const int64_t *ids,
                     int64_t n_ids, bool need_struct, cflight_error *err) {
  memset(plan, 0, sizeof(*plan));
  CF_RETURN_NOT_OK(cf_schema_validate(schema, err));
  if (need_struct && strcmp(schema->format, "+s") != 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "schema: a record batch schema must be a struct ('+s'), not '%s'",
                             schema->format);
  }
  CF_RETURN_NOT_OK(cf_schema_copy(schema, &plan->schema, err));
  plan_builder pb = {.plan = plan, .ids = ids, .n_ids = n_ids};
  int rc = field_build(&pb, &plan->root, &plan->schema, 0, err);
  if (rc == CFLIGHT_OK && ids != NULL && pb.next != n_ids) {
    rc = cflight_error_set(err, CFLIGHT_INTERNAL, "plan: %lld dictionary ids for %lld fields",
                           (long long)n_ids, (long long)pb.next);
  }
  if (rc != CFLIGHT_OK) cf_plan_free(plan);
  return rc;
}

int cf_plan_init(cf_plan *plan, const struct ArrowSchema *schema, const int64_t *ids, int64_t n_ids,
                 cflight_error *err) {
  return plan_init(plan, schema, ids, n_ids, true, err);
}

int cf_plan_init_field(cf_plan *plan, const struct ArrowSchema *schema, cflight_error *err) {
  return plan_init(plan, schema, NULL, 0, false, err);
}

void cf_plan_free(cf_plan *plan) {
  field_free(&plan->root);
  free(plan->dicts);
  cf_schema_release(&plan->schema);
  memset(plan, 0, sizeof(*plan));
}

static void collect_ids(const cf_plan *plan, const cf_field *f, int64_t *ids, int64_t cap,
                        int64_t *n) {
  if (f->dict != NULL) {
    if (*n < cap) ids[*n] = plan->dicts[f->dict_slot].id;
    (*n)++;
    f = f->dict;
  }
  for (int64_t i = 0; i < f->n_children; i++)
    collect_ids(plan, &f->children[i], ids, cap, n);
}

int64_t cf_plan_dict_ids(const cf_plan *plan, int64_t *ids, int64_t cap) {
  int64_t n = 0;
  collect_ids(plan, &plan->root, ids, cap, &n);
  return n;
}

int64_t cf_plan_find_dict(const cf_plan *plan, int64_t id) {
  for (int64_t i = 0; i < plan->n_dicts; i++)
    if (plan->dicts[i].id == id) return i;
  return -1;
}
