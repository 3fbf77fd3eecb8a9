/* Call commands: see cmd_call.h (being written). */
#include "cmd_call.h"
