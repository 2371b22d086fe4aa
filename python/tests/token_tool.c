// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * token_tool: libsockdup's token functions on the command line, for the
 * Python package's interop test (python/tests/host_test.py).
 *   token_tool encode HEX...   one token per 32-hex-digit cookie
 *   token_tool decode TOKEN... the cookie in hex, or "invalid"
 */
#include <stdio.h>
#include <string.h>

#include <sockdup.h>

int main(int argc, char **argv)
{
	struct sockdup_cookie c;
	char tok[SOCKDUP_TOKEN_SIZE];
	int i, j;

	if (argc < 2)
		return 2;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[1], "encode")) {
			for (j = 0; j < SOCKDUP_COOKIE_SIZE; j++) {
				unsigned int b;

				if (sscanf(argv[i] + 2 * j, "%2x", &b) != 1)
					return 2;
				c.bytes[j] = (unsigned char)b;
			}
			if (sockdup_token_encode(&c, tok, sizeof(tok)) < 0)
				return 1;
			printf("%s\n", tok);
		} else if (!strcmp(argv[1], "decode")) {
			if (sockdup_token_decode(argv[i], &c)) {
				printf("invalid\n");
				continue;
			}
			for (j = 0; j < SOCKDUP_COOKIE_SIZE; j++)
				printf("%02x", c.bytes[j]);
			printf("\n");
		} else {
			return 2;
		}
	}
	return 0;
}
