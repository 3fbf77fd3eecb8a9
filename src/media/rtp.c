/* RTP sessions: see rtp.h (being written). */
#include "rtp.h"
