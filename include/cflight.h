/* cflight: Apache Arrow Flight RPC in C.
 *
 * The one header to include. Every public symbol starts with cflight_ (types
 * and functions) or CFLIGHT_ (macros); Arrow data crosses the API as the
 * Arrow C Data Interface (struct ArrowSchema, ArrowArray, ArrowArrayStream).
 *
 * Conventions, throughout:
 * - Fallible functions return an int result code (cflight_code; 0 is
 *   CFLIGHT_OK) and fill an optional `cflight_error *err` with the code and
 *   a message.
 * - Every object has one constructor (..._new / ..._open / ..._connect) and
 *   one destructor (..._free / ..._close); ownership moves are stated in the
 *   comment of the function that moves it. "Moves" an ArrowArray means the
 *   callee takes it over and leaves the caller's struct released.
 * - Options live in opaque objects with setters, so that adding one never
 *   breaks a caller built against an older header.
 */
#ifndef CFLIGHT_H
#define CFLIGHT_H

#define CFLIGHT_VERSION_MAJOR 0
#define CFLIGHT_VERSION_MINOR 1
#define CFLIGHT_VERSION_PATCH 0
#define CFLIGHT_VERSION_STRING "0.1.0"

#include "cflight/abi.h"
#include "cflight/common.h"
#include "cflight/ipc.h"
#include "cflight/flight.h"
#include "cflight/client.h"
#include "cflight/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
CFLIGHT_API const char *cflight_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_H */
