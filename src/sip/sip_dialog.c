/* Dialogs: see sip_dialog.h (being written). */
#include "sip_dialog.h"
