/* Flight types: descriptors, tickets, locations, endpoints, FlightInfo, actions and the other
 * Flight messages. Include <cflight.h>, not this file. */
#ifndef CFLIGHT_FLIGHT_H
#define CFLIGHT_FLIGHT_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_FLIGHT_H */
