/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup_sock.h - sockets of every kind, with an observer, for the sockdup
 * selftests
 *
 * Included by sockdup_util.h (include that one).  struct sd_sock holds a
 * socket to share and its "peer", from which a test proves that bytes flow
 * (sd_sock_check_io()) and sees when the socket closes (sd_sock_closed()).
 * With kselftest_harness.h included first, SD_KIND_VARIANTS() adds one
 * FIXTURE_VARIANT per kind and SD_SOCK_OPEN_OR_SKIP() opens one in a setup.
 */
#ifndef SOCKDUP_SOCK_H
#define SOCKDUP_SOCK_H

#ifndef SOCKDUP_UTIL_H
#error "include sockdup_util.h, not sockdup_sock.h"
#endif

/* The socket kinds the fixtures vary over. */
enum sd_kind {
	SD_TCP_LISTEN,		/* listener on 127.0.0.1; no peer */
	SD_TCP,			/* accepted TCP over 127.0.0.1; peer: client */
	SD_UDP,			/* UDP on 127.0.0.1, connected to the peer */
	SD_UNIX_STREAM,		/* socketpair() ends */
	SD_UNIX_DGRAM,
	SD_UNIX_SEQPACKET,
	SD_TCP6,		/* accepted TCP over ::1; peer: client */
	SD_KIND_MAX
};

/**
 * struct sd_sock - a socket to share and what observes it
 * @kind: which kind
 * @fd: the socket to share (O_CLOEXEC, blocking)
 * @peer: the other end (-1 for a listener)
 * @addr: @fd's local address (for inet kinds), what probes connect/bind to
 * @addrlen: length of @addr
 */
struct sd_sock {
	enum sd_kind kind;
	int fd;
	int peer;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/** sd_kind_name() - short name of @kind */
static inline const char *sd_kind_name(enum sd_kind kind)
{
	static const char *const names[] = {
		"tcp_listen", "tcp", "udp", "unix_stream", "unix_dgram",
		"unix_seqpacket", "tcp6",
	};

	return kind < SD_KIND_MAX ? names[kind] : "?";
}

/** sd_kind_stream() - true for connected byte/packet streams with EOF */
static inline bool sd_kind_stream(enum sd_kind kind)
{
	return kind == SD_TCP || kind == SD_TCP6 || kind == SD_UNIX_STREAM ||
	       kind == SD_UNIX_SEQPACKET;
}

/** sd_sock_init() - mark @s as holding nothing (for teardowns) */
static inline void sd_sock_init(struct sd_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->peer = -1;
}

/** sd_sock_close() - close what @s holds (either may be -1 already) */
static inline void sd_sock_close(struct sd_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->peer >= 0)
		close(s->peer);
	s->fd = -1;
	s->peer = -1;
}

/* Loopback address of @family with port 0 into @ss; returns its length. */
static inline socklen_t sd_loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(struct sockaddr_in);
}

/* A bound inet socket of @type on loopback; fills @ss/@len with its name. */
static inline int sd_inet_bound(int family, int type,
				struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, fd, err;

	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sd_seterr("socket(%d, %d): %s", family, type, strerror(errno));
		return -1;
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	*len = sd_loopback(family, ss);
	if (bind(fd, (struct sockaddr *)ss, *len) ||
	    getsockname(fd, (struct sockaddr *)ss, len)) {
		err = errno;
		sd_seterr("bind loopback: %s", strerror(errno));
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/**
 * sd_sock_connect() - a client connected to listener @s (blocking)
 *
 * Return: the client descriptor (O_CLOEXEC), or -1 and errno.
 */
static inline int sd_sock_connect(const struct sd_sock *s)
{
	int fd, err;

	fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&s->addr, s->addrlen)) {
		err = errno;
		sd_seterr("connect to listener: %s", strerror(errno));
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* A connected TCP pair over @family: *srv accepted, *cli connected. */
static inline int sd_tcp_pair(int family, int *srv, int *cli,
			      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_storage la;
	socklen_t ll;
	int l, c, a, err;

	l = sd_inet_bound(family, SOCK_STREAM, &la, &ll);
	if (l < 0)
		return -1;
	if (listen(l, 4))
		goto fail_l;
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		goto fail_l;
	if (connect(c, (struct sockaddr *)&la, ll))
		goto fail_c;
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		goto fail_c;
	close(l);
	*len = sizeof(*ss);
	getsockname(a, (struct sockaddr *)ss, len);
	*srv = a;
	*cli = c;
	return 0;
fail_c:
	err = errno;
	close(c);
	errno = err;
fail_l:
	err = errno;
	sd_seterr("tcp pair: %s", strerror(errno));
	close(l);
	errno = err;
	return -1;
}

/**
 * sd_sock_open() - make a socket of @kind and its observer in @s
 *
 * For SD_TCP_LISTEN, @s->fd listens on 127.0.0.1 with a backlog of 128 and
 * @s->peer is -1.  For SD_TCP/SD_TCP6, @s->fd is the accepted end and
 * @s->peer the client.  For SD_UDP both are bound to 127.0.0.1 and connected
 * to each other.  The AF_UNIX kinds are socketpair() ends.
 *
 * Return: 0, or -errno (-EAFNOSUPPORT/-EADDRNOTAVAIL: IPv6 unavailable,
 * see sd_sock_unavailable()).
 */
static inline int sd_sock_open(struct sd_sock *s, enum sd_kind kind)
{
	int sv[2], type, family, err;
	struct sockaddr_storage pa;
	socklen_t pl;

	sd_sock_init(s);
	s->kind = kind;
	switch (kind) {
	case SD_TCP_LISTEN:
		s->fd = sd_inet_bound(AF_INET, SOCK_STREAM, &s->addr,
				      &s->addrlen);
		if (s->fd < 0)
			return -errno;
		if (listen(s->fd, 128))
			goto fail;
		return 0;
	case SD_TCP:
	case SD_TCP6:
		family = kind == SD_TCP ? AF_INET : AF_INET6;
		if (sd_tcp_pair(family, &s->fd, &s->peer, &s->addr,
				&s->addrlen))
			return -errno;
		return 0;
	case SD_UDP:
		s->fd = sd_inet_bound(AF_INET, SOCK_DGRAM, &s->addr,
				      &s->addrlen);
		if (s->fd < 0)
			return -errno;
		s->peer = sd_inet_bound(AF_INET, SOCK_DGRAM, &pa, &pl);
		if (s->peer < 0)
			goto fail;
		if (connect(s->fd, (struct sockaddr *)&pa, pl) ||
		    connect(s->peer, (struct sockaddr *)&s->addr, s->addrlen))
			goto fail;
		return 0;
	case SD_UNIX_STREAM:
	case SD_UNIX_DGRAM:
	case SD_UNIX_SEQPACKET:
		type = kind == SD_UNIX_STREAM ? SOCK_STREAM :
		       kind == SD_UNIX_DGRAM ? SOCK_DGRAM : SOCK_SEQPACKET;
		if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)) {
			sd_seterr("socketpair: %s", strerror(errno));
			return -errno;
		}
		s->fd = sv[0];
		s->peer = sv[1];
		return 0;
	default:
		return -EINVAL;
	}
fail:
	err = errno;
	sd_seterr("%s: %s", sd_kind_name(kind), strerror(errno));
	sd_sock_close(s);
	return -err;
}

/** sd_sock_unavailable() - true if sd_sock_open() said: no IPv6 here */
static inline bool sd_sock_unavailable(int ret)
{
	return ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL ||
	       ret == -EPROTONOSUPPORT;
}

/* Discard what is queued on @fd without blocking. */
static inline void sd_drain(int fd)
{
	char buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Wait up to @ms for @events on @fd; returns revents or 0. */
static inline short sd_poll1(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	do
		ret = poll(&pfd, 1, ms);
	while (ret < 0 && errno == EINTR);
	return ret == 1 ? pfd.revents : 0;
}

/**
 * sd_xfer() - send @msg on @from and receive it intact on @to
 *
 * Whatever was queued on @to before is discarded first.
 *
 * Return: 0, or -1 (sd_errmsg() says why).
 */
static inline int sd_xfer(int from, int to, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	char buf[256];
	ssize_t n;

	sd_drain(to);
	n = send(from, msg, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		sd_seterr("send \"%s\": %s", msg,
			  n < 0 ? strerror(errno) : "short");
		return -1;
	}
	while (got < len) {
		if (!(sd_poll1(to, POLLIN, SD_WAIT_MS) & POLLIN)) {
			sd_seterr("recv \"%s\": nothing after %d ms", msg,
				  SD_WAIT_MS);
			sd_timed_out("data sent through the other descriptor",
				     SD_WAIT_MS);
			return -1;
		}
		n = recv(to, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n <= 0) {
			sd_seterr("recv \"%s\": %s", msg,
				  n < 0 ? strerror(errno) : "EOF");
			return -1;
		}
		got += n;
	}
	if (got != len || memcmp(buf, msg, len)) {
		sd_seterr("recv \"%s\": got %zu other bytes", msg, got);
		return -1;
	}
	return 0;
}

/* Accept on listener @l the connection whose client is @c. */
static inline int sd_accept_client(int l, int c)
{
	struct sockaddr_storage want, got;
	socklen_t wl = sizeof(want), gl;
	int a;

	if (getsockname(c, (struct sockaddr *)&want, &wl))
		return -1;
	for (;;) {
		if (!(sd_poll1(l, POLLIN, SD_WAIT_MS) & POLLIN)) {
			sd_seterr("accept: nothing after %d ms", SD_WAIT_MS);
			sd_timed_out("a connection on the listener", SD_WAIT_MS);
			errno = ETIMEDOUT;
			return -1;
		}
		gl = sizeof(got);
		a = accept4(l, (struct sockaddr *)&got, &gl, SOCK_CLOEXEC);
		if (a < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			sd_seterr("accept: %s", strerror(errno));
			return -1;
		}
		if (gl == wl && !memcmp(&got, &want, wl))
			return a;
		close(a);	/* a probe of sd_sock_closed() */
	}
}

/**
 * sd_sock_check_io() - prove that @fd works as @s's socket
 * @fd: a descriptor of @s's socket (@s->fd itself or a redeemed one)
 *
 * Connected kinds: a message goes from @fd to @s->peer and another back.
 * SD_TCP_LISTEN: a new client connects, @fd accepts it (this is the
 * connection, checked by address) and messages go both ways over it.
 *
 * Return: 0, or -1 (sd_errmsg() says why).
 */
static inline int sd_sock_check_io(const struct sd_sock *s, int fd)
{
	int c, a, ret;

	if (s->kind != SD_TCP_LISTEN)
		return sd_xfer(fd, s->peer, "to-peer") ||
		       sd_xfer(s->peer, fd, "from-peer") ? -1 : 0;
	c = sd_sock_connect(s);
	if (c < 0)
		return -1;
	a = sd_accept_client(fd, c);
	if (a < 0) {
		close(c);
		return -1;
	}
	ret = sd_xfer(a, c, "to-client") || sd_xfer(c, a, "from-client");
	close(c);
	close(a);
	return ret ? -1 : 0;
}

/*
 * One probe of whether @s's socket (not a stream kind) is still open, seen
 * from outside.  Return: 1 closed, 0 open, -1 probe failure.
 */
static inline int sd_sock_probe(const struct sd_sock *s)
{
	int fd, err = 0, ret;
	socklen_t len = sizeof(err);

	switch (s->kind) {
	case SD_UNIX_DGRAM:
		/* Sending to a dead peer fails; to a live one it queues. */
		if (send(s->peer, "p", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
			return 0;
		if (errno == EAGAIN || errno == ENOBUFS)
			return 0;
		if (errno == ECONNREFUSED || errno == ENOTCONN)
			return 1;
		sd_seterr("unix dgram probe: %s", strerror(errno));
		return -1;
	case SD_UDP:
		/* The port stays bound as long as the socket lives. */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		ret = bind(fd, (const struct sockaddr *)&s->addr, s->addrlen);
		err = errno;
		close(fd);
		if (!ret)
			return 1;
		if (err == EADDRINUSE)
			return 0;
		sd_seterr("udp probe bind: %s", strerror(err));
		return -1;
	case SD_TCP_LISTEN:
		/* A closed listener refuses; an open one completes. */
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    0);
		if (fd < 0)
			return -1;
		ret = connect(fd, (const struct sockaddr *)&s->addr,
			      s->addrlen);
		if (ret && errno == EINPROGRESS) {
			if (!sd_poll1(fd, POLLOUT, 500)) {
				close(fd);	/* backlog full: still open */
				return 0;
			}
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		} else if (ret) {
			err = errno;
		}
		close(fd);
		/*
		 * A connection queued just before the listener closed is
		 * reset by the close: closing, not closed yet; probe again.
		 */
		if (!err || err == ECONNRESET)
			return 0;
		if (err == ECONNREFUSED)
			return 1;
		sd_seterr("listener probe: %s", strerror(err));
		return -1;
	default:
		return -1;
	}
}

/**
 * sd_sock_closed() - does the outside see @s's socket closed?
 * @wait_ms: how long to keep probing for the close to show
 *
 * What "seen closed" means per kind: the peer reads EOF or a reset (TCP,
 * AF_UNIX stream/seqpacket: poll() reports POLLRDHUP/POLLHUP/POLLERR, or a
 * MSG_DONTWAIT read returns 0 instead of failing with EAGAIN), the peer's
 * send is refused (AF_UNIX dgram), the UDP port is free again, the listener
 * refuses connections.  The probes leave traces: AF_UNIX dgram probes queue
 * a byte on the socket and listener probes queue connections (sd_xfer() and
 * sd_sock_check_io() skip them).
 *
 * Use sd_sock_closed(s, SD_WAIT_MS) == 1 for "it has closed now" and
 * sd_sock_closed(s, 100) == 0 for "it is still open".
 *
 * Return: 1 closed, 0 still open after @wait_ms, -1 probe failure.
 */
static inline int sd_sock_closed(const struct sd_sock *s, int wait_ms)
{
	long long end = sd_now_ms() + wait_ms;
	int ret;

	if (sd_kind_stream(s->kind)) {
		short rev = sd_poll1(s->peer, POLLRDHUP, wait_ms);
		char c;

		if (rev & (POLLRDHUP | POLLHUP | POLLERR))
			return 1;
		/* Not signalled: a read must say "nothing yet", not EOF. */
		if (recv(s->peer, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
			return 1;
		return 0;
	}
	for (;;) {
		ret = sd_sock_probe(s);
		if (ret || sd_now_ms() >= end)
			return ret;
		sd_sleep_ms(20);
	}
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * SD_KIND_VARIANTS() - one FIXTURE_VARIANT_ADD() per socket kind for
 * @fixture, whose FIXTURE_VARIANT() must have a member "enum sd_kind kind".
 * Include kselftest_harness.h before this header to get it.
 */
#define SD_KIND_VARIANTS(fixture)					\
	FIXTURE_VARIANT_ADD(fixture, tcp_listen) { .kind = SD_TCP_LISTEN }; \
	FIXTURE_VARIANT_ADD(fixture, tcp) { .kind = SD_TCP };		\
	FIXTURE_VARIANT_ADD(fixture, udp) { .kind = SD_UDP };		\
	FIXTURE_VARIANT_ADD(fixture, unix_stream) { .kind = SD_UNIX_STREAM }; \
	FIXTURE_VARIANT_ADD(fixture, unix_dgram) { .kind = SD_UNIX_DGRAM }; \
	FIXTURE_VARIANT_ADD(fixture, unix_seqpacket)			\
		{ .kind = SD_UNIX_SEQPACKET };				\
	FIXTURE_VARIANT_ADD(fixture, tcp6) { .kind = SD_TCP6 }

/*
 * SD_SOCK_OPEN_OR_SKIP() - sd_sock_open() in a FIXTURE_SETUP(): SKIP when
 * the kind is unavailable (no IPv6), ASSERT success otherwise.
 */
#define SD_SOCK_OPEN_OR_SKIP(s, kind) do {				\
	int __ret = sd_sock_open((s), (kind));				\
	if (sd_sock_unavailable(__ret))					\
		SKIP(return, "%s unavailable: %s", sd_kind_name(kind),	\
		     strerror(-__ret));					\
	ASSERT_EQ(0, __ret) TH_LOG("%s: %s", sd_kind_name(kind),	\
				   sd_errmsg());			\
} while (0)
#endif /* __KSELFTEST_HARNESS_H */

#endif /* SOCKDUP_SOCK_H */
