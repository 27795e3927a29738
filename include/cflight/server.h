/* The Flight server.
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_SERVER_H
#define CFLIGHT_SERVER_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_SERVER_H */
