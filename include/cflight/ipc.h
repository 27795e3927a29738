/* Arrow IPC: encode and decode Arrow data as IPC messages, streams and files.
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_IPC_H
#define CFLIGHT_IPC_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_IPC_H */
