/*
 * libFuzzer target for the control line codec: any bytes must split
 * without reading or writing out of bounds, and every value that splits
 * must survive a quote -> split round trip unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctl_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_tokens tok, back;
	struct strbuf sb = STRBUF_INIT;
	const char *why;
	char *line;

	if (size > SIPX_CTL_LINE_MAX)
		return 0;
	line = malloc(size + 1);
	memcpy(line, data, size);
	if (ctl_line_split(line, size, &tok, &why) == 0) {
		for (int i = 0; i < tok.argc; i++) {
			if (i > 0)
				strbuf_addc(&sb, ' ');
			ctl_append_value(&sb, tok.argv[i], strlen(tok.argv[i]));
		}
		if (ctl_line_split(sb.p ? sb.p : (char[1]){ 0 }, sb.n, &back,
		    &why) != 0)
			abort();
		if (back.argc != tok.argc)
			abort();
	}
	strbuf_free(&sb);
	free(line);
	return 0;
}
