/* The waiting array of the twa back end (see lock.h): one for the process,
 * so a waiter and the unlock that wakes it use the same slots whichever
 * translation unit each runs in. */
#include "variants/twa/lock.h"

_Alignas(64) _Atomic uint32_t twa_wait_array[TWA_WAIT_SLOTS];
