// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * sockdup(1): hand sockets around with /dev/sockdup from the shell.
 *
 *   sockdup exec [--env STYLE] [--name NAME]... TOKEN... -- PROGRAM [ARG]...
 *   sockdup share [--ttl MS] [--wait] FD... PID
 *   sockdup query TOKEN | --id ID
 *   sockdup revoke TOKEN | --id ID
 *   sockdup list
 *
 * exec redeems the tokens and executes PROGRAM with the sockets at fd 3, 4,
 * ... in the systemd socket-activation convention (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES), so any socket-activation-aware server can take them; or
 * in nginx's (NGINX="3;4;"); or with no variable at all (HAProxy's
 * "bind fd@3" needs none).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sockdup.h>

/* Exit codes, documented in sockdup(1). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* any other failure */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_TOKEN = 3,		/* malformed token */
	EXIT_NODEV = 4,		/* /dev/sockdup missing: module not loaded */
	EXIT_NOENT = 5,		/* no such share */
	EXIT_PERM = 6,		/* not the target (or sharer), or refused */
	EXIT_SRCH = 7,		/* no such target process */
	EXIT_LIMIT = 8,		/* a quota or the descriptor table is full */
	EXIT_BADFD = 9,		/* FD is not open or not a socket */
	EXIT_EXPIRED = 10,	/* share --wait: the share expired */
	EXIT_REVOKED = 11,	/* share --wait: withdrawn or declined */
	EXIT_REAPED = 12,	/* share --wait: the target exited first */
	EXIT_NOEXEC = 126,	/* PROGRAM found but could not be executed */
	EXIT_NOTFOUND = 127,	/* PROGRAM not found */
};

#define MAX_TOKENS	64
#define MAX_FDS		SOCKDUP_BATCH_MAX
#define DEFAULT_NAME	"sockdup"

static const char *cmd = "sockdup";

/* One command: its name, what it does, its synopsis and its help. */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

static const struct command *command_of(const char *name);

static const char exec_help[] =
"Redeem TOKEN(s) and execute PROGRAM with the sockets at fd 3, 4, ... and\n"
"LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES set (systemd socket activation);\n"
"the token of a batch gives all its sockets, in order.\n"
"The shares must name this process as their target (exec keeps the pid:\n"
"'exec sockdup exec ...' from the target shell).  A TOKEN of '-' reads\n"
"whitespace-separated tokens from one line of standard input.  --name gives\n"
"the fd names in order (default \"" DEFAULT_NAME "\").  PROGRAM is looked up\n"
"before any token is redeemed; a redeemed token is spent.  --env says how\n"
"PROGRAM learns of its sockets: systemd (the default: LISTEN_FDS...), nginx\n"
"(NGINX=\"3;4;\"), none (e.g. HAProxy's \"bind fd@3\"); the variables of the\n"
"other styles are removed.\n";
static const char share_help[] =
"Share inherited socket FD with process PID and print the token; several\n"
"FDs share under one token, redeemed all or none (a batch).  --ttl MS\n"
"sets its lifetime (default: the module's default_ttl_ms, at most its\n"
"max_ttl_ms).  The share outlives this command.  --wait: then wait until the\n"
"share ends; exit 0 once PID redeemed it, 10 if it expired, 11 if it was\n"
"revoked or declined, 12 if PID exited first.\n";
static const char query_help[] =
"Show what a pending share holds (socket, addresses, sharer, target, age,\n"
"time left) without redeeming it.  By TOKEN only the sharing or the target\n"
"process may ask; by --id (see 'sockdup list') any user who can list it.\n";
static const char revoke_help[] =
"Withdraw (sharer) or decline (target) a pending share by TOKEN.  By --id\n"
"(see 'sockdup list'), the user who made the share or root frees it, also\n"
"after the sharing process has exited.\n";
static const char list_help[] =
"List the pending shares visible to you (root: all; others: those their\n"
"user made, or whose target runs as their user), oldest first, with the\n"
"sockets' local and peer addresses, and the module's counters.\n";

static void usage(FILE *f);

/* The usage of one command (its --help). */
static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: sockdup %s %s\n\n%s", c->name, c->synopsis, c->help);
}

static int __attribute__((format(printf, 2, 3)))
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sockdup: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sockdup: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sockdup --help'.\n");
	return EXIT_USAGE;
}

/* What the failed call was, for EPERM and EINVAL messages. */
enum op {
	OP_OTHER,
	OP_REDEEM,	/* exec */
	OP_CONTROL,	/* query or revoke by token */
	OP_BY_ID,	/* query or revoke by id */
	OP_SHARE,
};

static enum op cur_op;

/* Message and exit code for a library error; @what names the object. */
static int lib_error(int err, const char *what)
{
	char p[96] = "";
	int code = EXIT_FAIL;
	const char *msg = NULL;
	char buf[256];

	if (what)
		snprintf(p, sizeof(p), "%s: ", what);
	switch (err) {
	case -ENODEV:
		code = EXIT_NODEV;
		msg = SOCKDUP_DEVICE " does not exist (is the sockdup module loaded?)";
		break;
	case -ENOENT:
		code = EXIT_NOENT;
		msg = cur_op == OP_BY_ID ?
		      "no such share among those you can see (already redeemed, expired or revoked?)" :
		      "no such share (unknown, already redeemed, expired or revoked)";
		break;
	case -EPERM:
		code = EXIT_PERM;
		switch (cur_op) {
		case OP_REDEEM:
			snprintf(buf, sizeof(buf),
				 "permission denied: this process (pid %d) is not the share's target",
				 (int)getpid());
			break;
		case OP_CONTROL:
			snprintf(buf, sizeof(buf),
				 "permission denied: this process (pid %d) is neither the share's target nor its sharer; the user who made it or root can use 'sockdup list' and --id ID",
				 (int)getpid());
			break;
		case OP_SHARE:
			snprintf(buf, sizeof(buf),
				 "permission denied: a kernel thread, or init without CAP_SYS_ADMIN, cannot be a target (it would never redeem)");
			break;
		default:
			snprintf(buf, sizeof(buf),
				 "permission denied: only the user who made the share or root may free it");
			break;
		}
		msg = buf;
		break;
	case -EACCES:
		code = EXIT_PERM;
		break;
	case -ESRCH:
		code = EXIT_SRCH;
		msg = "no such process";
		break;
	case -EDQUOT:
		code = EXIT_LIMIT;
		msg = "too many pending shares for this user (module parameter max_per_user)";
		break;
	case -ENOSPC:
		code = EXIT_LIMIT;
		msg = "too many pending shares (module parameter max_total)";
		break;
	case -EMFILE:
	case -ENFILE:
		code = EXIT_LIMIT;
		break;
	case -EBADF:
		code = EXIT_BADFD;
		msg = "descriptor is not open";
		break;
	case -ENOTSOCK:
		code = EXIT_BADFD;
		msg = "descriptor is not a socket";
		break;
	}
	return fail(code, "%s%s", p, msg ? msg : strerror(-err));
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int decode(const char *token, struct sockdup_cookie *cookie)
{
	if (sockdup_token_decode(token, cookie) == 0)
		return 0;
	return fail(EXIT_TOKEN,
		    "malformed token '%.64s': expected \"" SOCKDUP_TOKEN_PREFIX
		    "\" followed by 22 characters of A-Z a-z 0-9 - _",
		    token);
}

static const char *family_name(unsigned int family)
{
	switch (family) {
	case AF_UNIX: return "unix";
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	case AF_NETLINK: return "netlink";
	case AF_PACKET: return "packet";
	case AF_VSOCK: return "vsock";
	default: return NULL;
	}
}

static const char *type_name(unsigned int type)
{
	switch (type) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	case SOCK_RAW: return "raw";
	case SOCK_RDM: return "rdm";
	default: return NULL;
	}
}

static const char *proto_name(unsigned int family, unsigned int proto)
{
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_MPTCP: return "mptcp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: return NULL;
	}
}

static void fmt_name(char *buf, size_t n, const char *name, unsigned int v)
{
	if (name)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "%u", v);
}

static void fmt_pid(char *buf, size_t n, int pid)
{
	if (pid > 0)
		snprintf(buf, n, "%d", pid);
	else
		snprintf(buf, n, "-");	/* exited or not visible */
}

static void fmt_ms(char *buf, size_t n, unsigned long long ms)
{
	snprintf(buf, n, "%llu.%03llus", ms / 1000, ms % 1000);
}

/* ---- exec ---- */

/* Whether execvp() could run @name: 0 or the errno it would fail with. */
static int find_program(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];
	int err = ENOENT;
	struct stat st;

	if (strchr(name, '/')) {
		if (stat(name, &st))
			return errno;
		return S_ISREG(st.st_mode) && !access(name, X_OK) ? 0 : EACCES;
	}
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(end - p), p,
			     end > p ? "/" : "", name) < (int)sizeof(buf) &&
		    !stat(buf, &st)) {
			if (S_ISREG(st.st_mode) && !access(buf, X_OK))
				return 0;
			err = EACCES;
		}
		if (!*end)
			return err;
	}
}

static bool valid_fdname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == ':')
			return false;
	return true;
}

/*
 * Each '-' reads one line into a buffer of its own: the tokens point into
 * it until exec, so it is never reused.
 */
static int read_stdin_tokens(const char **tokens, int *nr)
{
	char *line = malloc(4096), *save, *t;

	if (!line)
		return fail(EXIT_FAIL, "out of memory");
	if (!fgets(line, 4096, stdin)) {
		free(line);
		return fail(EXIT_USAGE, "'-': no token on standard input");
	}
	for (t = strtok_r(line, " \t\r\n", &save); t;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (*nr == MAX_TOKENS)
			return fail(EXIT_USAGE, "more than %d tokens", MAX_TOKENS);
		tokens[(*nr)++] = t;
	}
	return 0;
}

/*
 * Make room for @need descriptors: raise the soft RLIMIT_NOFILE up to the
 * hard one if it is lower (a batch of 1024 sockets, parked above the
 * range it will occupy, needs twice that).  Return: 0, or the hard limit
 * when even that is too low (or cannot be reached).
 */
static long nofile_room(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= (rlim_t)need)
		return 0;
	if (rl.rlim_max < (rlim_t)need)
		return (long)rl.rlim_max;
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) ? (long)rl.rlim_max : 0;
}

/*
 * Redeem the token @i (@cookie) into @fds, which has room for @room; the
 * number of sockets or an exit code (after a message), negated.
 */
static int redeem_one(const char *token, int i, struct sockdup_cookie *cookie,
		      int *fds, int room, int done)
{
	struct sockdup_share_info info;
	char what[64];
	int n;

	n = sockdup_redeem_batch(cookie, 0, fds, room);
	if (n >= 0)
		return n;
	snprintf(what, sizeof(what), "token %d (%s)", i + 1, token);
	/* the sharer may ask whom it named */
	if (n == -EPERM && !sockdup_query(cookie, &info) && info.target_pid > 0)
		fprintf(stderr, "sockdup: exec: this process shared it; its target is pid %d\n",
			info.target_pid);
	if (i)
		fprintf(stderr, "sockdup: exec: the %d token(s) before it were redeemed (%d sockets) and are now closed\n",
			i, done);
	if (n == -EMSGSIZE)
		return -fail(EXIT_LIMIT, "%s: more sockets than the %d exec can still pass (at most %d in all)",
			     what, room, MAX_FDS);
	if (n == -EMFILE)
		return -fail(EXIT_LIMIT, "%s: this process has no room for its sockets (at most %ld open descriptors, ulimit -n): raise the limit and run again; this token is still valid",
			     what, sysconf(_SC_OPEN_MAX));
	return -lib_error(n, what);
}

static int cmd_exec(int argc, char **argv)
{
	const char *tokens[MAX_TOKENS], **names, *style = "systemd";
	struct sockdup_cookie cookies[MAX_TOKENS];
	int nr_tokens = 0, nr_names = 0, total = 0, *fds;
	char buf[32], *fdnames, *nginx;
	long limit;
	char **prog = NULL;
	int i, ret;

	names = malloc(MAX_FDS * sizeof(*names));
	fds = malloc(MAX_FDS * sizeof(*fds));
	fdnames = malloc(MAX_FDS * 256 + 1);
	nginx = malloc(MAX_FDS * 8 + 1);
	if (!names || !fds || !fdnames || !nginx)
		return fail(EXIT_FAIL, "out of memory");
	fdnames[0] = nginx[0] = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			prog = &argv[i + 1];
			break;
		} else if (!strcmp(a, "--name") || !strncmp(a, "--name=", 7)) {
			const char *v = a[6] ? a + 7 : argv[++i];

			if (!v)
				return usage_error("%s needs a value", "--name");
			if (!valid_fdname(v))
				return usage_error("bad --name '%s': 1 to 255 printable characters, no ':' or spaces", v);
			if (nr_names == MAX_FDS)
				return usage_error("too many %s options", "--name");
			names[nr_names++] = v;
		} else if (!strcmp(a, "--env") || !strncmp(a, "--env=", 6)) {
			style = a[5] ? a + 6 : argv[++i];
			if (!style)
				return usage_error("%s needs a value", "--env");
			if (strcmp(style, "systemd") && strcmp(style, "nginx") &&
			    strcmp(style, "none"))
				return usage_error("bad --env '%s': systemd, nginx or none", style);
		} else if (!strcmp(a, "-")) {
			ret = read_stdin_tokens(tokens, &nr_tokens);
			if (ret)
				return ret;
		} else if (a[0] == '-') {
			return usage_error("unknown option '%s'", a);
		} else {
			if (nr_tokens == MAX_TOKENS)
				return usage_error("more than %d tokens", MAX_TOKENS);
			tokens[nr_tokens++] = a;
		}
	}
	if (!prog || !prog[0])
		return usage_error("missing '-- PROGRAM'");
	if (!nr_tokens)
		return usage_error("no TOKEN given");

	/* check every token, and the program, before consuming any token */
	for (i = 0; i < nr_tokens; i++) {
		ret = decode(tokens[i], &cookies[i]);
		if (ret)
			return ret;
	}
	ret = find_program(prog[0]);
	if (ret)
		return fail(ret == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
			    "cannot execute '%s': %s (no token was redeemed)",
			    prog[0], strerror(ret));

	/*
	 * A token holds one socket, or a batch: count them (the target may
	 * query its shares) so that nothing is redeemed when a token is
	 * spent or the names do not fit.
	 */
	cur_op = OP_REDEEM;
	for (i = 0; i < nr_tokens; i++) {
		struct sockdup_share_info info;
		char what[64];

		ret = sockdup_query(&cookies[i], &info);
		if (ret < 0) {
			snprintf(what, sizeof(what), "token %d (%s)", i + 1,
				 tokens[i]);
			return lib_error(ret, what);
		}
		total += info.nr_fds;
	}
	if (total > MAX_FDS)
		return fail(EXIT_LIMIT, "the tokens hold %d sockets; exec passes at most %d (no token was redeemed)",
			    total, MAX_FDS);
	if (nr_names > total)
		return usage_error("%d --name options for %d sockets", nr_names,
				   total);

	/*
	 * Room for the sockets, and to park them above the target range,
	 * before anything is redeemed: a redeem that fails for want of
	 * descriptors leaves its token valid, a move after it would not.
	 */
	limit = nofile_room(3 + 2 * total + 8);
	if (limit)
		return fail(EXIT_LIMIT, "the tokens hold %d sockets, which need %d open descriptors; this process may open %ld (its hard limit, ulimit -Hn): raise it and run again (no token was redeemed)",
			    total, 3 + 2 * total + 8, limit);
	total = 0;
	for (i = 0; i < nr_tokens; i++) {
		ret = redeem_one(tokens[i], i, &cookies[i], fds + total,
				 MAX_FDS - total, total);
		if (ret < 0)
			return -ret;
		total += ret;
	}

	/* park above the target range so no dup2() below clobbers one */
	for (i = 0; i < total; i++) {
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + total);

		if (fd < 0)
			return fail(EXIT_LIMIT, "fcntl: %s (%d sockets need %d descriptors; raise the limit with ulimit -n)",
				    strerror(errno), total, 3 + 2 * total);
		close(fds[i]);
		fds[i] = fd;
	}
	for (i = 0; i < total; i++) {
		/* dup2() leaves the new descriptor open across exec */
		if (dup2(fds[i], 3 + i) < 0)
			return fail(EXIT_FAIL, "dup2: %s", strerror(errno));
		close(fds[i]);
		if (i)
			strcat(fdnames, ":");
		strcat(fdnames, i < nr_names ? names[i] : DEFAULT_NAME);
		snprintf(buf, sizeof(buf), "%d;", 3 + i);
		strcat(nginx, buf);
	}

	/* only the convention asked for: a stale one would mislead PROGRAM */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("NGINX");
	if (!strcmp(style, "systemd")) {
		snprintf(buf, sizeof(buf), "%d", total);
		setenv("LISTEN_FDS", buf, 1);
		/* execve() keeps the pid: PROGRAM will see its own */
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		setenv("LISTEN_PID", buf, 1);
		setenv("LISTEN_FDNAMES", fdnames, 1);
	} else if (!strcmp(style, "nginx")) {
		setenv("NGINX", nginx, 1);
	}

	execvp(prog[0], prog);
	ret = errno;
	return fail(ret == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
		    "cannot execute '%s': %s; the %d token(s) were redeemed and are spent (their sockets close as sockdup exits)",
		    prog[0], strerror(ret), nr_tokens);
}

/* ---- share ---- */

/* A module parameter, or -1 when it cannot be read. */
static long long module_param(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/sockdup/parameters/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* SHARE's only EINVAL the command line can cause: the TTL. */
static int ttl_error(unsigned long ttl)
{
	long long max = module_param("max_ttl_ms");

	if (max >= 0)
		return fail(EXIT_USAGE,
			    "--ttl %lu: longer than the module allows (max_ttl_ms = %lld ms)",
			    ttl, max);
	return fail(EXIT_USAGE,
		    "--ttl %lu: longer than the module allows (module parameter max_ttl_ms)",
		    ttl);
}

/* share --wait: how the share ended, as an exit code and a message. */
static int share_outcome(int evfd, unsigned long long id, unsigned long pid)
{
	struct sockdup_event ev;
	int ret;

	do {
		ret = sockdup_events_read(evfd, &ev, 1);
		if (ret < 0)
			return fail(EXIT_FAIL, "waiting for the share to end: %s",
				    strerror(-ret));
		/* the only share made through @evfd: nothing else comes */
	} while (ev.id != id);

	switch (ev.type) {
	case SOCKDUP_EVENT_REDEEMED:
		return EXIT_OK;
	case SOCKDUP_EVENT_EXPIRED:
		return fail(EXIT_EXPIRED,
			    "the share expired before pid %lu redeemed it (see --ttl)",
			    pid);
	case SOCKDUP_EVENT_REVOKED:
		if (ev.flags & SOCKDUP_EVENT_DECLINED)
			return fail(EXIT_REVOKED, "pid %lu declined the share",
				    pid);
		return fail(EXIT_REVOKED,
			    "the share was withdrawn (revoked by pid %d)",
			    (int)ev.pid);
	case SOCKDUP_EVENT_REAPED:
		return fail(EXIT_REAPED,
			    "pid %lu exited without redeeming the share", pid);
	default:
		return fail(EXIT_FAIL, "the share ended (event %u)",
			    (unsigned int)ev.type);
	}
}

static int cmd_share(int argc, char **argv)
{
	const char **pos;
	unsigned long fdv, pid, ttl = 0;
	char token[SOCKDUP_TOKEN_SIZE], what[64];
	struct sockdup_cookie cookie;
	unsigned long long id = 0;
	int i, n = 0, ret, evfd = -1, *fds;
	bool wait = false;

	pos = malloc((argc + 1) * sizeof(*pos));
	fds = malloc((argc + 1) * sizeof(*fds));
	if (!pos || !fds)
		return fail(EXIT_FAIL, "out of memory");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--ttl") || !strncmp(a, "--ttl=", 6)) {
			const char *v = a[5] ? a + 6 : argv[++i];

			if (!v)
				return usage_error("%s needs a value", "--ttl");
			if (!parse_uint(v, UINT_MAX, &ttl))
				return usage_error("bad --ttl '%s': milliseconds expected", v);
		} else if (!strcmp(a, "--wait")) {
			wait = true;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else {
			pos[n++] = a;
		}
	}
	if (n < 2)
		return usage_error("expected FD and PID");
	if (n - 1 > SOCKDUP_BATCH_MAX)
		return usage_error("%d descriptors: at most %d share one token",
				   n - 1, SOCKDUP_BATCH_MAX);
	for (i = 0; i < n - 1; i++) {
		if (!parse_uint(pos[i], INT_MAX, &fdv))
			return usage_error("bad FD '%s': a descriptor number expected", pos[i]);
		fds[i] = (int)fdv;
	}
	if (!parse_uint(pos[n - 1], INT_MAX, &pid) || pid == 0)
		return usage_error("bad PID '%s': a process id expected", pos[n - 1]);

	/* one FD is a single share; several, a batch under one token */
	cur_op = OP_SHARE;
	if (wait) {
		/* an open file of our own, told how the share ends */
		evfd = sockdup_events_open(0);
		if (evfd < 0)
			return lib_error(evfd, NULL);
		if (n == 2)
			ret = sockdup_share_on(evfd, fds[0], (pid_t)pid,
					       (unsigned int)ttl, &cookie, &id);
		else
			ret = sockdup_share_batch_on(evfd, fds, n - 1,
						     (pid_t)pid,
						     (unsigned int)ttl,
						     &cookie, &id);
	} else if (n == 2) {
		ret = sockdup_share(fds[0], (pid_t)pid, (unsigned int)ttl,
				    &cookie);
	} else {
		ret = sockdup_share_batch(fds, n - 1, (pid_t)pid,
					  (unsigned int)ttl, &cookie);
	}
	if (ret == -EINVAL)
		return ttl_error(ttl);
	if (ret == -EBADF || ret == -ENOTSOCK) {
		/* which one: the first that is not an open socket */
		for (i = 0; i < n - 1; i++) {
			int type;
			socklen_t len = sizeof(type);

			if (getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &len))
				break;
		}
		snprintf(what, sizeof(what), "fd %d", fds[i < n - 1 ? i : 0]);
		return lib_error(ret, what);
	}
	if (ret < 0) {
		if (ret == -ESRCH || ret == -EPERM)
			snprintf(what, sizeof(what), "pid %lu", pid);
		else if (n == 2)
			snprintf(what, sizeof(what), "fd %d", fds[0]);
		else
			snprintf(what, sizeof(what), "%d fds", n - 1);
		return lib_error(ret, what);
	}
	sockdup_token_encode(&cookie, token, sizeof(token));
	if (printf("%s\n", token) < 0 || fflush(stdout))
		return fail(EXIT_FAIL, "writing the token: %s", strerror(errno));
	if (wait)
		return share_outcome(evfd, id, pid);
	return EXIT_OK;
}

/* ---- query, revoke ---- */

/*
 * The share a query or revoke names: one TOKEN, or --id ID.  Returns 0 with
 * *@id set (0 for a token, decoded into @cookie), or an exit code.
 */
static int one_share(int argc, char **argv, struct sockdup_cookie *cookie,
		     unsigned long long *id)
{
	unsigned long v;

	*id = 0;
	if (argc == 3 && !strcmp(argv[1], "--id")) {
		if (!parse_uint(argv[2], ULONG_MAX, &v) || !v)
			return usage_error("bad --id '%s': a share id (see 'sockdup list') expected",
					   argv[2]);
		*id = v;
		return 0;
	}
	if (argc == 2 && !strncmp(argv[1], "--id=", 5))
		return one_share(3, (char *[]){ argv[0], "--id", argv[1] + 5 },
				 cookie, id);
	if (argc != 2)
		return usage_error("expected exactly one TOKEN, or --id ID");
	if (argv[1][0] == '-')
		return usage_error("unknown option '%s'", argv[1]);
	return decode(argv[1], cookie);
}

/* A socket address as text: "1.2.3.4:80", "[::1]:80", a unix path, or "-". */
static void fmt_addr(char *buf, size_t n, const __u8 *addr, __u32 len)
{
	const struct sockaddr *sa = (const void *)addr;
	char host[INET6_ADDRSTRLEN];

	snprintf(buf, n, "-");
	if (len < sizeof(sa_family_t))
		return;
	switch (sa->sa_family) {
	case AF_INET:
	case AF_INET6: {
		const struct sockaddr_in *in = (const void *)addr;
		const struct sockaddr_in6 *in6 = (const void *)addr;
		bool v6 = sa->sa_family == AF_INET6;

		if (len < (v6 ? sizeof(*in6) : sizeof(*in)) ||
		    !inet_ntop(sa->sa_family, v6 ? (const void *)&in6->sin6_addr :
			       (const void *)&in->sin_addr, host, sizeof(host)))
			break;
		snprintf(buf, n, v6 ? "[%s]:%u" : "%s:%u", host,
			 ntohs(v6 ? in6->sin6_port : in->sin_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)addr;
		size_t plen = len - offsetof(struct sockaddr_un, sun_path);

		if (!plen)
			snprintf(buf, n, "(unnamed)");
		else if (!un->sun_path[0])	/* abstract: shown as @name */
			snprintf(buf, n, "@%.*s", (int)(plen - 1),
				 un->sun_path + 1);
		else
			snprintf(buf, n, "%.*s", (int)strnlen(un->sun_path, plen),
				 un->sun_path);
		break;
	}
	}
}

static int cmd_query(int argc, char **argv)
{
	struct sockdup_share_info info;
	struct sockdup_cookie cookie;
	char fam[16], type[16], proto[16], sp[16], tp[16], age[32], ttl[32];
	char local[160], peer[160], what[32];
	unsigned long long id;
	int ret;

	ret = one_share(argc, argv, &cookie, &id);
	if (ret)
		return ret;
	cur_op = id ? OP_BY_ID : OP_CONTROL;
	ret = id ? sockdup_query_id(id, &info) : sockdup_query(&cookie, &info);
	if (ret < 0) {
		snprintf(what, sizeof(what), "id %llu", id);
		return lib_error(ret, id ? what : argv[1]);
	}

	fmt_name(fam, sizeof(fam), family_name(info.family), info.family);
	fmt_name(type, sizeof(type), type_name(info.type), info.type);
	fmt_name(proto, sizeof(proto), proto_name(info.family, info.protocol),
		 info.protocol);
	fmt_pid(sp, sizeof(sp), info.sharer_pid);
	fmt_pid(tp, sizeof(tp), info.target_pid);
	fmt_ms(age, sizeof(age), info.age_ms);
	fmt_ms(ttl, sizeof(ttl), info.ttl_left_ms);
	fmt_addr(local, sizeof(local), info.local_addr, info.local_addr_len);
	fmt_addr(peer, sizeof(peer), info.peer_addr, info.peer_addr_len);
	printf("id:         %llu\n"
	       "socket:     %s %s %s (inode %llu)\n"
	       "local:      %s\n"
	       "peer:       %s\n"
	       "sockets:    %u\n"
	       "sharer:     pid %s, uid %u\n"
	       "target:     pid %s\n"
	       "age:        %s\n"
	       "ttl left:   %s\n",
	       (unsigned long long)info.id, fam, type, proto,
	       (unsigned long long)info.sock_ino, local, peer, info.nr_fds, sp,
	       info.sharer_uid, tp, age, ttl);
	return EXIT_OK;
}

static int cmd_revoke(int argc, char **argv)
{
	struct sockdup_cookie cookie;
	unsigned long long id;
	char what[32];
	int ret;

	ret = one_share(argc, argv, &cookie, &id);
	if (ret)
		return ret;
	cur_op = id ? OP_BY_ID : OP_CONTROL;
	ret = id ? sockdup_revoke_id(id) : sockdup_revoke(&cookie);
	if (ret < 0) {
		snprintf(what, sizeof(what), "id %llu", id);
		return lib_error(ret, id ? what : argv[1]);
	}
	return EXIT_OK;
}

/* ---- list ---- */

static int by_id(const void *a, const void *b)
{
	const struct sockdup_share_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether this process has CAP_SYS_ADMIN: LIST then shows every share. */
static bool sees_all(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
	       CAP_TO_MASK(CAP_SYS_ADMIN);
}

static int cmd_list(int argc, char **argv)
{
	struct sockdup_share_info *v = NULL;
	unsigned long long total = 0;
	struct sockdup_stats st;
	unsigned int cap = 0;
	int i, n, ret;

	if (argc > 1)
		return usage_error("unexpected argument '%s'", argv[1]);

	/*
	 * Size the first try from the counters rather than from a LIST that
	 * only counts: one walk of the table instead of two, usually.  The
	 * set can grow between calls: retry until it fits.
	 */
	ret = sockdup_stats(&st);
	if (ret < 0)
		return lib_error(ret, NULL);
	if (st.pending < INT_MAX / 2) {
		cap = (unsigned int)(sees_all() ? st.pending : st.user_pending) + 16;
		v = calloc(cap, sizeof(*v));
		if (!v)
			return fail(EXIT_FAIL, "out of memory");
	}
	for (;;) {
		n = sockdup_list(v, cap, &total);
		if (n < 0) {
			free(v);
			return lib_error(n, NULL);
		}
		if (total <= (unsigned long long)n || total > INT_MAX / 2)
			break;
		free(v);
		cap = (unsigned int)total + 16;
		v = calloc(cap, sizeof(*v));
		if (!v)
			return fail(EXIT_FAIL, "out of memory");
	}
	/* ids grow with time: oldest first */
	if (n > 1)
		qsort(v, n, sizeof(*v), by_id);

	printf("%-8s %-7s %-7s %-6s %-6s %-9s %-6s %-10s %10s %10s %-24s %s\n",
	       "ID", "SHARER", "TARGET", "UID", "FAMILY", "TYPE", "PROTO",
	       "INODE", "AGE", "TTL-LEFT", "LOCAL", "PEER");
	for (i = 0; i < n; i++) {
		const struct sockdup_share_info *e = &v[i];
		char fam[16], type[16], proto[16], sp[16], tp[16], age[32],
		     ttl[32], local[160], peer[160];

		fmt_name(fam, sizeof(fam), family_name(e->family), e->family);
		fmt_name(type, sizeof(type), type_name(e->type), e->type);
		fmt_name(proto, sizeof(proto),
			 proto_name(e->family, e->protocol), e->protocol);
		fmt_pid(sp, sizeof(sp), e->sharer_pid);
		fmt_pid(tp, sizeof(tp), e->target_pid);
		fmt_ms(age, sizeof(age), e->age_ms);
		fmt_ms(ttl, sizeof(ttl), e->ttl_left_ms);
		fmt_addr(local, sizeof(local), e->local_addr,
			 e->local_addr_len);
		fmt_addr(peer, sizeof(peer), e->peer_addr, e->peer_addr_len);
		printf("%-8llu %-7s %-7s %-6u %-6s %-9s %-6s %-10llu %10s %10s %-24s %s\n",
		       (unsigned long long)e->id, sp, tp, e->sharer_uid, fam,
		       type, proto, (unsigned long long)e->sock_ino, age, ttl,
		       local, peer);
	}
	free(v);
	if (total > (unsigned long long)n)
		printf("(%llu more not shown)\n", total - n);

	ret = sockdup_stats(&st);
	if (ret < 0)
		return lib_error(ret, NULL);
	if (!sees_all()) {
		/* the module's totals are the administrator's business */
		printf("\nyours: %llu pending (max_per_user %llu)\n",
		       (unsigned long long)st.user_pending,
		       (unsigned long long)st.max_per_user);
	} else {
		printf("\npending %llu (yours %llu)  shared %llu  redeemed %llu  expired %llu  revoked %llu  reaped %llu\n"
		       "refused: per-user cap %llu, global cap %llu  caps: max_per_user %llu, max_total %llu\n",
		       (unsigned long long)st.pending,
		       (unsigned long long)st.user_pending,
		       (unsigned long long)st.shared,
		       (unsigned long long)st.redeemed,
		       (unsigned long long)st.expired,
		       (unsigned long long)st.revoked,
		       (unsigned long long)st.reaped,
		       (unsigned long long)st.refused_user,
		       (unsigned long long)st.refused_global,
		       (unsigned long long)st.max_per_user,
		       (unsigned long long)st.max_total);
	}
	if (fflush(stdout))
		return fail(EXIT_FAIL, "writing: %s", strerror(errno));
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "exec", cmd_exec, "[--env STYLE] [--name NAME]... TOKEN... -- PROGRAM [ARG]...",
	  exec_help },
	{ "share", cmd_share, "[--ttl MS] [--wait] FD... PID", share_help },
	{ "query", cmd_query, "TOKEN | --id ID", query_help },
	{ "revoke", cmd_revoke, "TOKEN | --id ID", revoke_help },
	{ "list", cmd_list, "", list_help },
};

#define NR_COMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const struct command *command_of(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "%s sockdup %s %s\n", i ? "      " : "Usage:",
			commands[i].name, commands[i].synopsis);
	fprintf(f, "       sockdup --help | --version\n"
		"\nHand open sockets between processes through /dev/sockdup.\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "\n%s:\n%s", commands[i].name, commands[i].help);
	fprintf(f,
"\n'sockdup COMMAND --help' shows one command's usage.\n"
"Exit status: 0 ok, 1 failure, 2 usage, 3 malformed token, 4 no /dev/sockdup,\n"
"5 no such share, 6 permission denied, 7 no such process, 8 limit reached,\n"
"9 bad or non-socket FD, 10-12 (share --wait) expired, revoked, target exited,\n"
"126 PROGRAM not executable, 127 PROGRAM not found.\n");
}

int main(int argc, char **argv)
{
	const struct command *c;
	int j;

	if (argc < 2) {
		fprintf(stderr, "sockdup: missing command (exec, share, query, revoke or list)\n"
			"Try 'sockdup --help'.\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && command_of(argv[2])) {
			command_usage(stdout, command_of(argv[2]));
			return EXIT_OK;
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sockdup %s\n", SOCKDUP_VERSION);
		return EXIT_OK;
	}
	c = command_of(argv[1]);
	if (!c) {
		fprintf(stderr, "sockdup: unknown command '%s'\nTry 'sockdup --help'.\n",
			argv[1]);
		return EXIT_USAGE;
	}
	cmd = c->name;
	for (j = 2; j < argc; j++) {
		if (!strcmp(argv[j], "--"))
			break;
		if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
			command_usage(stdout, c);
			return EXIT_OK;
		}
	}
	return c->fn(argc - 1, argv + 1);
}
