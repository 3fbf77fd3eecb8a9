/* WAV parsing: see wav.h (being written). */
#include "wav.h"
