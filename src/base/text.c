/*
 * Text or not, and base64 (see text.h).  Used where a SIP body of any
 * kind must reach a control client intact: text goes as it is (the
 * control line codec escapes it), anything else as base64.
 */
#include <stdint.h>

#include "text.h"

/* Length of the UTF-8 sequence at s[0..n), or 0 if it is ill-formed. */
static size_t
text_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* RFC 3629 §4: the second byte's range rules out overlong forms,
	 * surrogates and code points above U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

bool
text_is_plain(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			return false;
		if (s[i] == 0x7f)
			return false;
		if ((len = text_utf8_seq(s + i, n - i)) == 0)
			return false;
		i += len;
	}
	return true;
}

void
text_base64(struct strbuf *sb, const void *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	size_t i;

	strbuf_reserve(sb, (n + 2) / 3 * 4);
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
		    s[i + 2];

		strbuf_addc(sb, tab[v >> 18 & 63]);
		strbuf_addc(sb, tab[v >> 12 & 63]);
		strbuf_addc(sb, tab[v >> 6 & 63]);
		strbuf_addc(sb, tab[v & 63]);
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		strbuf_addc(sb, tab[v >> 18 & 63]);
		strbuf_addc(sb, tab[v >> 12 & 63]);
		strbuf_addc(sb, i + 1 < n ? tab[v >> 6 & 63] : '=');
		strbuf_addc(sb, '=');
	}
}

const char *
text_show(struct strbuf *sb, const char *p, size_t n)
{
	if (text_is_plain(p, n)) {
		strbuf_add(sb, p, n);
		return "";
	}
	text_base64(sb, p, n);
	return "base64";
}
