#include "base/base.h"

const char *cflight_version(void) {
  return CFLIGHT_VERSION_STRING;
}
