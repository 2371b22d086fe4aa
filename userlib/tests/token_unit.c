// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host unit tests of libsockdup: token encode/decode and the argument
 * checks every function makes before it touches /dev/sockdup.  They need no
 * module and print TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockdup.h>

static int nr, nr_failed, nr_skipped;

static void __attribute__((format(printf, 2, 3)))
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	nr++;
	if (!ok)
		nr_failed++;
	printf("%s %d - ", ok ? "ok" : "not ok", nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void skip(const char *why)
{
	nr++;
	nr_skipped++;
	printf("ok %d # SKIP %s\n", nr, why);
}

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void cookie_fill(struct sockdup_cookie *c, unsigned char v)
{
	memset(c->bytes, v, sizeof(c->bytes));
}

static void known_vectors(void)
{
	static const struct {
		unsigned char fill;	/* 0xAA: bytes 0..15 */
		const char *token;
	} v[] = {
		{ 0x00, "sd1_AAAAAAAAAAAAAAAAAAAAAA" },
		{ 0xff, "sd1______________________w" },
		{ 0xAA, "sd1_AAECAwQFBgcICQoLDA0ODw" },
	};
	unsigned int i, j;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sockdup_cookie c, d;
		char buf[SOCKDUP_TOKEN_SIZE];
		int ret;

		cookie_fill(&c, v[i].fill);
		if (v[i].fill == 0xAA)
			for (j = 0; j < sizeof(c.bytes); j++)
				c.bytes[j] = (unsigned char)j;
		ret = sockdup_token_encode(&c, buf, sizeof(buf));
		check(ret == SOCKDUP_TOKEN_LEN && !strcmp(buf, v[i].token),
		      "encode vector %u gives %s (got %d %s)", i, v[i].token,
		      ret, buf);
		ret = sockdup_token_decode(v[i].token, &d);
		check(ret == 0 && !memcmp(&c, &d, sizeof(c)),
		      "decode vector %u", i);
	}
}

static void roundtrip_random(void)
{
	int i, bad = 0;

	srand(12345);
	for (i = 0; i < 100000; i++) {
		struct sockdup_cookie c, d;
		char buf[SOCKDUP_TOKEN_SIZE];
		size_t j;

		for (j = 0; j < sizeof(c.bytes); j++)
			c.bytes[j] = (unsigned char)rand();
		if (sockdup_token_encode(&c, buf, sizeof(buf)) != SOCKDUP_TOKEN_LEN ||
		    strlen(buf) != SOCKDUP_TOKEN_LEN ||
		    strspn(buf + 4, alphabet) != 22 ||
		    sockdup_token_decode(buf, &d) || memcmp(&c, &d, sizeof(c)))
			bad++;
	}
	check(!bad, "100000 random cookies round-trip through 26-character tokens");
}

static void every_bit_matters(void)
{
	struct sockdup_cookie c, d;
	char a[SOCKDUP_TOKEN_SIZE], b[SOCKDUP_TOKEN_SIZE];
	int bit, bad = 0;

	cookie_fill(&c, 0x5a);
	sockdup_token_encode(&c, a, sizeof(a));
	for (bit = 0; bit < 128; bit++) {
		d = c;
		d.bytes[bit / 8] ^= (unsigned char)(1 << (bit % 8));
		sockdup_token_encode(&d, b, sizeof(b));
		if (!strcmp(a, b))
			bad++;
	}
	check(!bad, "flipping any of the 128 bits changes the token");
}

static void encode_args(void)
{
	struct sockdup_cookie c;
	char buf[64];

	cookie_fill(&c, 1);
	check(sockdup_token_encode(&c, buf, SOCKDUP_TOKEN_SIZE - 1) == -ENOSPC,
	      "encode into a 26-byte buffer: -ENOSPC");
	check(sockdup_token_encode(&c, buf, SOCKDUP_TOKEN_SIZE) == SOCKDUP_TOKEN_LEN,
	      "encode into a 27-byte buffer fits");
	check(sockdup_token_encode(NULL, buf, sizeof(buf)) == -EINVAL,
	      "encode NULL cookie: -EINVAL");
	check(sockdup_token_encode(&c, NULL, sizeof(buf)) == -EINVAL,
	      "encode NULL buffer: -EINVAL");
}

/* decode must fail with -EINVAL and leave the output untouched */
static void bad_token(const char *token, const char *what)
{
	struct sockdup_cookie c;
	int ret;

	cookie_fill(&c, 0xee);
	ret = sockdup_token_decode(token, &c);
	check(ret == -EINVAL && c.bytes[0] == 0xee && c.bytes[15] == 0xee,
	      "decode %s: -EINVAL, output untouched (got %d)", what, ret);
}

static void decode_malformed(void)
{
	static const char good[] = "sd1_AAECAwQFBgcICQoLDA0ODw";
	char t[64];
	int pos, ch, bad = 0;
	struct sockdup_cookie c;

	bad_token("", "empty string");
	bad_token("sd1_", "prefix only");
	bad_token("sd1_AAECAwQFBgcICQoLDA0OD", "25 characters");
	bad_token("sd1_AAECAwQFBgcICQoLDA0ODwA", "27 characters");
	bad_token("sd1_AAECAwQFBgcICQoLDA0ODw==", "base64 padding");
	bad_token("sd1_AAECAwQFBgcICQoLDA0ODw\n", "trailing newline");
	bad_token(" sd1_AAECAwQFBgcICQoLDA0ODw", "leading space");
	bad_token("sd2_AAECAwQFBgcICQoLDA0ODw", "prefix sd2_");
	bad_token("SD1_AAECAwQFBgcICQoLDA0ODw", "prefix in upper case");
	bad_token("sd1-AAECAwQFBgcICQoLDA0ODw", "prefix sd1-");
	bad_token("xx1_AAECAwQFBgcICQoLDA0ODw", "prefix xx1_");
	bad_token("sd1_AAECAwQFBgcICQoLDA0O+w", "standard base64 '+'");
	bad_token("sd1_AAECAwQFBgcICQoLDA0O/w", "standard base64 '/'");
	bad_token("sd1_AAECAwQFBgcICQoLDA0ODx", "non-canonical last character x");
	bad_token("sd1______________________x", "non-canonical all-ones");
	bad_token("sd1_AAECAwQFBgcICQoLDA0OD\xc3\xa9", "a UTF-8 character");
	check(sockdup_token_decode(NULL, &c) == -EINVAL, "decode NULL token: -EINVAL");
	check(sockdup_token_decode(good, NULL) == -EINVAL, "decode into NULL: -EINVAL");

	/* every byte that is not in the alphabet, at every body position */
	for (pos = 4; pos < SOCKDUP_TOKEN_LEN; pos++) {
		for (ch = 1; ch < 256; ch++) {
			if (strchr(alphabet, ch))
				continue;
			strcpy(t, good);
			t[pos] = (char)ch;
			if (sockdup_token_decode(t, &c) != -EINVAL)
				bad++;
		}
	}
	check(!bad, "each of the 192 non-alphabet bytes at each of 22 positions: -EINVAL");

	/* the last character carries 2 bits: only A, Q, g, w are canonical */
	bad = 0;
	for (ch = 0; ch < 64; ch++) {
		bool canonical = !(ch & 15);

		strcpy(t, good);
		t[SOCKDUP_TOKEN_LEN - 1] = alphabet[ch];
		if ((sockdup_token_decode(t, &c) == 0) != canonical)
			bad++;
	}
	check(!bad, "last character: exactly A, Q, g and w decode");
}

static void argument_checks(void)
{
	struct sockdup_cookie c;
	struct sockdup_share_info info;
	char tok[SOCKDUP_TOKEN_SIZE];
	int sv[2];

	cookie_fill(&c, 7);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		sv[0] = sv[1] = 0;
	check(sockdup_share(-1, getpid(), 0, &c) == -EBADF, "share fd -1: -EBADF");
	check(sockdup_share(sv[0], 0, 0, &c) == -ESRCH, "share pid 0: -ESRCH, as the kernel says");
	check(sockdup_share(sv[0], -5, 0, &c) == -ESRCH, "share pid -5: -ESRCH, as the kernel says");
	check(sockdup_share(sv[0], getpid(), 0, NULL) == -EINVAL,
	      "share NULL cookie: -EINVAL");
	check(sockdup_share_token(sv[0], getpid(), 0, NULL) == -EINVAL,
	      "share_token NULL token: -EINVAL");
	check(sockdup_share_token(-3, getpid(), 0, tok) == -EBADF,
	      "share_token fd -3: -EBADF");
	check(sockdup_redeem(NULL, 0) == -EINVAL, "redeem NULL cookie: -EINVAL");
	check(sockdup_redeem(&c, 2) == -EINVAL, "redeem unknown flag 2: -EINVAL");
	check(sockdup_redeem(&c, ~0U) == -EINVAL, "redeem all flags: -EINVAL");
	check(sockdup_redeem(&c, SOCKDUP_REDEEM_CLOEXEC << 1) == -EINVAL,
	      "redeem a kernel flag bit the library does not define: -EINVAL");
	check(sockdup_redeem_token("sd1_bogus", 0) == -EINVAL,
	      "redeem_token malformed token: -EINVAL");
	check(sockdup_redeem_token(NULL, 0) == -EINVAL, "redeem_token NULL: -EINVAL");
	check(sockdup_redeem_token("sd1_AAECAwQFBgcICQoLDA0ODw", 4) == -EINVAL,
	      "redeem_token unknown flag: -EINVAL");
	check(sockdup_revoke(NULL) == -EINVAL, "revoke NULL cookie: -EINVAL");
	check(sockdup_query(NULL, &info) == -EINVAL, "query NULL cookie: -EINVAL");
	check(sockdup_query(&c, NULL) == -EINVAL, "query NULL info: -EINVAL");
	check(sockdup_stats(NULL) == -EINVAL, "stats NULL: -EINVAL");
	check(sockdup_list(NULL, 4, NULL) == -EINVAL,
	      "list NULL entries with capacity 4: -EINVAL");
	close(sv[0]);
	close(sv[1]);
}

static void without_device(void)
{
	struct sockdup_cookie c;
	struct sockdup_stats st;
	unsigned long long total;
	int sv[2];

	if (access(SOCKDUP_DEVICE, F_OK) == 0) {
		skip("/dev/sockdup exists on this host");
		skip("/dev/sockdup exists on this host");
		skip("/dev/sockdup exists on this host");
		return;
	}
	cookie_fill(&c, 7);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	check(sockdup_share(sv[0], getpid(), 0, &c) == -ENODEV,
	      "no /dev/sockdup: share gives -ENODEV, not ENOENT");
	check(sockdup_redeem(&c, 0) == -ENODEV, "no /dev/sockdup: redeem gives -ENODEV");
	check(sockdup_stats(&st) == -ENODEV && sockdup_list(NULL, 0, &total) == -ENODEV,
	      "no /dev/sockdup: stats and list give -ENODEV");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	printf("TAP version 13\n");
	known_vectors();
	roundtrip_random();
	every_bit_matters();
	encode_args();
	decode_malformed();
	argument_checks();
	without_device();
	printf("1..%d\n", nr);
	printf("# token_unit: %d passed, %d failed, %d skipped\n",
	       nr - nr_failed - nr_skipped, nr_failed, nr_skipped);
	return nr_failed ? 1 : 0;
}
