// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Text tokens: "sd1_" + the 16 cookie bytes in unpadded base64url (22
 * characters).  Only the canonical spelling decodes: the last character
 * carries 2 bits of the cookie and its 4 low bits must be zero.
 */
#include <errno.h>
#include <string.h>

#include "include/sockdup.h"

#define PREFIX_LEN	(sizeof(SOCKDUP_TOKEN_PREFIX) - 1)
#define BODY_LEN	(SOCKDUP_TOKEN_LEN - PREFIX_LEN)

_Static_assert(BODY_LEN == (SOCKDUP_COOKIE_SIZE * 8 + 5) / 6,
	       "token body length does not match the cookie size");
_Static_assert(SOCKDUP_TOKEN_SIZE == SOCKDUP_TOKEN_LEN + 1, "token size");

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int sockdup_token_encode(const struct sockdup_cookie *cookie, char *buf,
			 size_t size)
{
	const unsigned char *in;
	unsigned int acc = 0;
	int bits = 0;
	char *out;
	size_t i;

	if (!cookie || !buf)
		return -EINVAL;
	if (size < SOCKDUP_TOKEN_SIZE)
		return -ENOSPC;

	in = cookie->bytes;
	memcpy(buf, SOCKDUP_TOKEN_PREFIX, PREFIX_LEN);
	out = buf + PREFIX_LEN;
	for (i = 0; i < SOCKDUP_COOKIE_SIZE; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*out++ = alphabet[(acc >> bits) & 63];
		}
	}
	if (bits)
		*out++ = alphabet[(acc << (6 - bits)) & 63];
	*out = '\0';
	return SOCKDUP_TOKEN_LEN;
}

int sockdup_token_decode(const char *token, struct sockdup_cookie *cookie)
{
	unsigned char out[SOCKDUP_COOKIE_SIZE];
	unsigned int acc = 0;
	int bits = 0;
	size_t i, n = 0;

	if (!token || !cookie)
		return -EINVAL;
	/* strnlen: never read past a token that is too long to be one */
	if (strnlen(token, SOCKDUP_TOKEN_LEN + 1) != SOCKDUP_TOKEN_LEN)
		return -EINVAL;
	if (memcmp(token, SOCKDUP_TOKEN_PREFIX, PREFIX_LEN))
		return -EINVAL;

	for (i = PREFIX_LEN; i < SOCKDUP_TOKEN_LEN; i++) {
		int v = sextet(token[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	/* the bits left over pad the last character and must be zero */
	if (n != SOCKDUP_COOKIE_SIZE || (acc & ((1U << bits) - 1)))
		return -EINVAL;

	memcpy(cookie->bytes, out, sizeof(out));
	return 0;
}
