// The C API's entry points: each one catches every exception and turns it into a status.
#include "ember.h"

extern "C" const char* ember_version(void) { return EMBER_VERSION_STRING; }
