/*
 * Bodies shown as text: whether bytes are text a control line can carry
 * (strict UTF-8, no control characters but tab, CR and LF), and base64
 * (RFC 4648 §4) for those that are not.  No SIP, no I/O.
 */
#ifndef SIPX_BASE_TEXT_H
#define SIPX_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

/*
 * True if p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) without NUL, DEL or C0 control
 * characters other than tab, CR and LF.
 */
bool	text_is_plain(const char *p, size_t n);
/* Appends the base64 of p[0..n), padded, on one line. */
void	text_base64(struct strbuf *, const void *p, size_t n);
/*
 * Appends p[0..n) as it is when it is plain text, else its base64;
 * returns "" or "base64" (an encoding= value).
 */
const char *text_show(struct strbuf *, const char *p, size_t n);

#endif
