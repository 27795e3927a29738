/* Copies of IPC options. Apart from the rest of the layer because the IPC
 * codec's internal header (which defines the options struct) and the
 * transport's both define a cf_msg: this file sees only the former. */
#include "ipc/ipc.h"

/* Declared in rpc/rpc.h. */
cflight_ipc_options *cf_ipc_options_dup(const cflight_ipc_options *src);

cflight_ipc_options *cf_ipc_options_dup(const cflight_ipc_options *src) {
  cflight_ipc_options *o = malloc(sizeof(*o));
  if (o != NULL) *o = *cf_ipc_options_or_default(src);
  return o;
}
