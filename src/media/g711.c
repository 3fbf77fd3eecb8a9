/* G.711 codes: see g711.h (being written). */
#include "g711.h"
