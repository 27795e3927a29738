/* The Flight client.
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_CLIENT_H
#define CFLIGHT_CLIENT_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_CLIENT_H */
