/* The table of named scenarios, in the order Arrow's harness lists them. */
#include "fi.h"

const fi_scenario *const fi_scenarios[] = {
    &fi_scenario_auth_basic_proto,
    &fi_scenario_middleware,
    &fi_scenario_ordered,
    &fi_scenario_expiration_do_get,
    &fi_scenario_expiration_list_actions,
    &fi_scenario_expiration_cancel_flight_info,
    &fi_scenario_expiration_renew_flight_endpoint,
    &fi_scenario_location_reuse_connection,
    &fi_scenario_session_options,
    &fi_scenario_poll_flight_info,
    &fi_scenario_app_metadata,
    &fi_scenario_do_exchange_echo,
};

const size_t fi_n_scenarios = CF_ARRAY_SIZE(fi_scenarios);

const fi_scenario *fi_scenario_find(const char *name) {
  if (name == NULL || name[0] == '\0') return &fi_scenario_default;
  for (size_t i = 0; i < fi_n_scenarios; i++)
    if (strcmp(fi_scenarios[i]->name, name) == 0) return fi_scenarios[i];
  return NULL;
}
