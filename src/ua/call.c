/* The call usage: see call.h (being written). */
#include "call.h"
