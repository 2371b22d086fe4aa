// SPDX-License-Identifier: GPL-2.0-only
/*
 * QUERY: the sharer or the target reads what a pending share holds
 * (family, type, protocol, socket inode, pids as seen from the caller's pid
 * namespace, uid, age, time left, id, the socket's local and peer address)
 * without consuming it; anybody else gets EPERM by cookie.  By id, whoever
 * LIST shows the share to may ask.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include "sockdup_util.h"

#define TTL_MS		sd_ms(10000)
/* age_ms + ttl_left_ms may be off the TTL by the module's clock rounding */
#define ROUND_MS	20

FIXTURE(query) {
	int dev;
	struct agent target, third;
	int sock, peer;
	struct sockdup_share s;
	int64_t t_share;	/* just before the SHARE */
	struct sd_base base;
};

FIXTURE_VARIANT(query) {
	enum sk_kind kind;
	int family, type, protocol;
};

FIXTURE_VARIANT_ADD(query, tcp_listener) {
	.kind = SK_TCP_LISTENER, .family = AF_INET, .type = SOCK_STREAM,
	.protocol = IPPROTO_TCP,
};

FIXTURE_VARIANT_ADD(query, tcp_connected) {
	.kind = SK_TCP, .family = AF_INET, .type = SOCK_STREAM,
	.protocol = IPPROTO_TCP,
};

FIXTURE_VARIANT_ADD(query, udp) {
	.kind = SK_UDP, .family = AF_INET, .type = SOCK_DGRAM,
	.protocol = IPPROTO_UDP,
};

FIXTURE_VARIANT_ADD(query, unix_stream) {
	.kind = SK_UNIX_STREAM, .family = AF_UNIX, .type = SOCK_STREAM,
};

FIXTURE_VARIANT_ADD(query, unix_dgram) {
	.kind = SK_UNIX_DGRAM, .family = AF_UNIX, .type = SOCK_DGRAM,
};

FIXTURE_VARIANT_ADD(query, unix_seqpacket) {
	.kind = SK_UNIX_SEQPACKET, .family = AF_UNIX, .type = SOCK_SEQPACKET,
};

FIXTURE_VARIANT_ADD(query, tcp6) {
	.kind = SK_TCP6, .family = AF_INET6, .type = SOCK_STREAM,
	.protocol = IPPROTO_TCP,
};

FIXTURE_VARIANT_ADD(query, udp6) {
	.kind = SK_UDP6, .family = AF_INET6, .type = SOCK_DGRAM,
	.protocol = IPPROTO_UDP,
};

FIXTURE_SETUP(query)
{
	int v;
	socklen_t len = sizeof(v);

	self->dev = -1;
	self->sock = self->peer = -1;
	self->target.ctl = self->third.ctl = -1;
	self->target.child = self->third.child = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->third, 0, 0));
	ASSERT_EQ(0, make_sock(variant->kind, &self->sock, &self->peer));
	/* the variant says what the socket is: check the kernel agrees */
	ASSERT_EQ(0, getsockopt(self->sock, SOL_SOCKET, SO_PROTOCOL, &v, &len));
	ASSERT_EQ(variant->protocol, v);
	ASSERT_EQ(0, sd_base_take(self->dev, &self->base));
	self->t_share = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, TTL_MS,
			      &self->s));
}

FIXTURE_TEARDOWN(query)
{
	if (self->dev >= 0) {
		sd_revoke(self->dev, self->s.cookie);
		close(self->dev);
	}
	agent_kill(&self->target);
	agent_kill(&self->third);
	if (self->sock >= 0)
		close(self->sock);
	if (self->peer >= 0)
		close(self->peer);
}

/*
 * Every field but the pids, which depend on who asks.  @t_share: the clock
 * just before the SHARE; the age can be no more than the time since then.
 */
static void check_info(struct __test_metadata *_metadata,
		       const FIXTURE_VARIANT(query) *variant,
		       const struct sockdup_share_info *info, __u64 id,
		       __u64 ino, int64_t t_share)
{
	int64_t since = sd_now_ms() - t_share;

	EXPECT_EQ(id, info->id);
	EXPECT_NE(0, info->id);
	EXPECT_EQ(ino, info->sock_ino);
	EXPECT_EQ(variant->family, info->family);
	EXPECT_EQ(variant->type, info->type);
	EXPECT_EQ(variant->protocol, info->protocol);
	EXPECT_EQ(0, info->sharer_uid);
	EXPECT_EQ(1, info->nr_fds);
	EXPECT_EQ(0, info->reserved);
	EXPECT_GE(since + ROUND_MS, (int64_t)info->age_ms);
	EXPECT_GE(TTL_MS, info->ttl_left_ms);
	EXPECT_LE(TTL_MS - since - ROUND_MS, (int64_t)info->ttl_left_ms);
	EXPECT_GE(TTL_MS + ROUND_MS, info->age_ms + info->ttl_left_ms);
	EXPECT_LE(TTL_MS - ROUND_MS, info->age_ms + info->ttl_left_ms);
}

TEST_F(query, fields_seen_by_sharer)
{
	struct sockdup_share_info info;

	ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &info));
	check_info(_metadata, variant, &info, self->s.id, sd_inode(self->sock),
		   self->t_share);
	EXPECT_EQ(getpid(), info.sharer_pid);
	EXPECT_EQ(self->target.pid, info.target_pid);
}

TEST_F(query, fields_seen_by_target)
{
	struct sockdup_share_info info;

	ASSERT_EQ(0, agent_query(&self->target, self->s.cookie, &info));
	check_info(_metadata, variant, &info, self->s.id, sd_inode(self->sock),
		   self->t_share);
	EXPECT_EQ(getpid(), info.sharer_pid);
	EXPECT_EQ(self->target.pid, info.target_pid);
}

/* The share holds the socket, not our descriptor: closing it changes nothing. */
TEST_F(query, fields_after_sharer_close)
{
	struct sockdup_share_info info;
	__u64 ino = sd_inode(self->sock);

	close(self->sock);
	self->sock = -1;
	ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &info));
	check_info(_metadata, variant, &info, self->s.id, ino,
		   self->t_share);
}

/* The addresses are what getsockname() and getpeername() give. */
TEST_F(query, addresses)
{
	struct sockaddr_storage ss;
	struct sockdup_share_info info, byid;
	socklen_t len;

	ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &info));
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	ASSERT_EQ(0, getsockname(self->sock, (struct sockaddr *)&ss, &len));
	EXPECT_EQ(len, info.local_addr_len);
	EXPECT_EQ(0, memcmp(&ss, info.local_addr, len));
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getpeername(self->sock, (struct sockaddr *)&ss, &len)) {
		EXPECT_EQ(ENOTCONN, errno);
		EXPECT_EQ(0, info.peer_addr_len);
	} else {
		EXPECT_EQ(len, info.peer_addr_len);
		EXPECT_EQ(0, memcmp(&ss, info.peer_addr, len));
	}
	/* by id, the same */
	ASSERT_EQ(0, sd_query_id(self->dev, self->s.id, &byid));
	EXPECT_EQ(self->s.id, byid.id);
	EXPECT_EQ(info.local_addr_len, byid.local_addr_len);
	EXPECT_EQ(info.peer_addr_len, byid.peer_addr_len);
	EXPECT_EQ(0, memcmp(info.local_addr, byid.local_addr,
			    sizeof(info.local_addr)));
}

/* Several QUERYs from both sides, then the redeem still works. */
TEST_F(query, does_not_consume)
{
	struct sd_want w = { .shared = 1, .pending = 1 };
	struct sockdup_share_info info;
	__u64 ino = 0;
	int i, fd;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &info));
		ASSERT_EQ(0, agent_query(&self->target, self->s.cookie, &info));
	}
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));

	fd = agent_redeem(&self->target, self->s.cookie, 0, &ino);
	ASSERT_LE(0, fd);
	EXPECT_EQ(sd_inode(self->sock), ino);
	EXPECT_EQ(-1, sd_query(self->dev, self->s.cookie, &info));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_query(&self->target, self->s.cookie, &info));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * age grows and ttl_left shrinks with the clock: by at least the time
 * between the two QUERY calls and at most the time around them, however
 * long the machine took.
 */
TEST_F(query, time_moves)
{
	struct sockdup_share_info a, b;
	int64_t t0, t1, t2, t3;

	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &a));
	t1 = sd_now_ms();
	sd_sleep_ms(300);
	t2 = sd_now_ms();
	ASSERT_EQ(0, sd_query(self->dev, self->s.cookie, &b));
	t3 = sd_now_ms();
	TH_LOG("age %llu -> %llu ms, %lld..%lld ms apart",
	       (unsigned long long)a.age_ms, (unsigned long long)b.age_ms,
	       (long long)(t2 - t1), (long long)(t3 - t0));
	EXPECT_LE(a.age_ms + (t2 - t1) - ROUND_MS, b.age_ms);
	EXPECT_GE(a.age_ms + (t3 - t0) + ROUND_MS, b.age_ms);
	EXPECT_GE(a.ttl_left_ms - (t2 - t1) + ROUND_MS, b.ttl_left_ms);
	EXPECT_LE(a.ttl_left_ms - (t3 - t0) - ROUND_MS, b.ttl_left_ms);
}

TEST_F(query, third_process_eperm)
{
	struct sockdup_share_info info;

	memset(&info, 0x5a, sizeof(info));
	EXPECT_EQ(-1, agent_query(&self->third, self->s.cookie, &info));
	EXPECT_EQ(EPERM, errno);
	/* nothing leaked into the reply */
	EXPECT_EQ(0, info.sock_ino);
	EXPECT_EQ(0, info.id);
	EXPECT_EQ(0, agent_query(&self->target, self->s.cookie, &info));
	EXPECT_LE(0, agent_redeem(&self->target, self->s.cookie, 0, NULL));
}

/* ---- without socket kinds ---- */

FIXTURE(qmisc) {
	int dev;
	struct agent target;
	int sock, peer;
	struct sockdup_share s;
};

FIXTURE_SETUP(qmisc)
{
	self->dev = -1;
	self->sock = self->peer = -1;
	self->target.ctl = -1;
	self->target.child = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &self->sock, &self->peer));
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, TTL_MS,
			      &self->s));
}

FIXTURE_TEARDOWN(qmisc)
{
	if (self->dev >= 0) {
		sd_revoke(self->dev, self->s.cookie);
		close(self->dev);
	}
	agent_kill(&self->target);
	if (self->sock >= 0)
		close(self->sock);
	if (self->peer >= 0)
		close(self->peer);
}

TEST_F(qmisc, unknown_cookie_enoent)
{
	struct sockdup_share_info info;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];

	memcpy(cookie, self->s.cookie, sizeof(cookie));
	cookie[7] ^= 0x01;
	EXPECT_EQ(-1, sd_query(self->dev, cookie, &info));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(qmisc, revoked_enoent)
{
	struct sockdup_share_info info;

	ASSERT_EQ(0, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(-1, sd_query(self->dev, self->s.cookie, &info));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(qmisc, unknown_flag_einval)
{
	struct sockdup_query q = { .flags = SOCKDUP_QUERY_BY_ID << 1 };

	memcpy(q.cookie, self->s.cookie, sizeof(q.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, q.info.sock_ino);
}

/* By id: the cookie must be zero, the id not, the rest of info zero. */
TEST_F(qmisc, by_id_einval)
{
	struct sockdup_query q = { .flags = SOCKDUP_QUERY_BY_ID };

	q.info.id = self->s.id;
	memcpy(q.cookie, self->s.cookie, sizeof(q.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	memset(q.cookie, 0, sizeof(q.cookie));
	q.info.id = 0;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	q.info.id = self->s.id;
	q.info.nr_fds = 1;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	q.info.nr_fds = 0;
	EXPECT_EQ(0, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(sd_inode(self->sock), q.info.sock_ino);
}

/* The size of an ioctl command changed to @size. */
#define RESIZED(cmd, size) \
	(((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | \
	 ((size) << _IOC_SIZESHIFT))

/*
 * A caller that knows only the first version gets its fields, and not one
 * byte past its structure.
 */
TEST_F(qmisc, first_version_size)
{
	struct sockdup_query qbuf;
	struct sockdup_query *q = &qbuf;
	unsigned char *buf = (unsigned char *)&qbuf;
	size_t i;

	memset(buf, 0, SOCKDUP_QUERY_SIZE_VER0);
	memset(buf + SOCKDUP_QUERY_SIZE_VER0, 0xa5,
	       sizeof(qbuf) - SOCKDUP_QUERY_SIZE_VER0);
	memcpy(q->cookie, self->s.cookie, sizeof(q->cookie));
	ASSERT_EQ(0, ioctl(self->dev, RESIZED(SOCKDUP_IOC_QUERY,
					      SOCKDUP_QUERY_SIZE_VER0), q))
		TH_LOG("query: %s", strerror(errno));
	EXPECT_EQ(self->s.id, q->info.id);
	EXPECT_EQ(sd_inode(self->sock), q->info.sock_ino);
	EXPECT_EQ(1, q->info.nr_fds);
	for (i = SOCKDUP_QUERY_SIZE_VER0; i < sizeof(qbuf); i++)
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %zu written", i);
	EXPECT_EQ(-1, ioctl(self->dev, RESIZED(SOCKDUP_IOC_QUERY,
					       SOCKDUP_QUERY_SIZE_VER0 - 8), q));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(qmisc, reserved_einval)
{
	struct sockdup_query q = { .reserved = 1 };

	memcpy(q.cookie, self->s.cookie, sizeof(q.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(qmisc, output_not_zero_einval)
{
	struct sockdup_query q = { 0 };

	memcpy(q.cookie, self->s.cookie, sizeof(q.cookie));
	q.info.ttl_left_ms = 1;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	memset(&q.info, 0, sizeof(q.info));
	q.info.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(EINVAL, errno);
	/* the same call with a clean struct works */
	memset(&q.info, 0, sizeof(q.info));
	EXPECT_EQ(0, ioctl(self->dev, SOCKDUP_IOC_QUERY, &q));
	EXPECT_EQ(self->s.id, q.info.id);
}

/* A sharer that has exited shows as pid 0. */
TEST_F(qmisc, sharer_exited_pid_zero)
{
	struct sockdup_share_info info;
	struct sockdup_share s;
	struct agent sharer;
	pid_t spid;
	int sock, peer;

	ASSERT_EQ(0, agent_spawn(&sharer, 0, 0));
	spid = sharer.pid;
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	ASSERT_EQ(0, agent_share(&sharer, sock, self->target.pid, TTL_MS, &s));
	close(sock);
	ASSERT_EQ(0, agent_query(&self->target, s.cookie, &info));
	EXPECT_EQ(spid, info.sharer_pid);
	ASSERT_EQ(0, agent_exit(&sharer, 0));
	ASSERT_EQ(0, agent_query(&self->target, s.cookie, &info));
	EXPECT_EQ(0, info.sharer_pid);
	EXPECT_EQ(self->target.pid, info.target_pid);
	EXPECT_EQ(0, agent_revoke(&self->target, s.cookie));
	EXPECT_EQ(1, peer_closed(peer, SD_WAIT_MS));
	close(peer);
}

/* sharer_uid is the sharer's real uid. */
TEST_F(qmisc, sharer_uid_of_user)
{
	struct sockdup_share_info info;
	struct sockdup_share s;
	struct agent user;
	int sock, peer;

	ASSERT_EQ(0, agent_spawn(&user, 1000, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	ASSERT_EQ(0, agent_share(&user, sock, getpid(), TTL_MS, &s));
	close(sock);
	ASSERT_EQ(0, sd_query(self->dev, s.cookie, &info));
	EXPECT_EQ(1000, info.sharer_uid);
	EXPECT_EQ(user.pid, info.sharer_pid);
	EXPECT_EQ(getpid(), info.target_pid);
	ASSERT_EQ(0, agent_query(&user, s.cookie, &info));
	EXPECT_EQ(1000, info.sharer_uid);
	EXPECT_EQ(0, sd_revoke(self->dev, s.cookie));
	agent_kill(&user);
	close(peer);
}

/*
 * Pids are translated into the caller's pid namespace: a target that is
 * pid 1 of a new namespace sees itself as 1 and the sharer (outside) as 0;
 * the sharer sees the target's pid in its own namespace.
 */
TEST_F(qmisc, pid_namespace)
{
	struct sockdup_share_info info;
	struct sockdup_share s;
	struct agent inner;
	int sock, peer, fd;

	ASSERT_EQ(0, agent_spawn(&inner, 0, AGENT_NEWPIDNS));
	ASSERT_EQ(1, agent_getpid(&inner));
	ASSERT_NE(1, inner.pid);
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	ASSERT_EQ(0, sd_share(self->dev, sock, inner.pid, TTL_MS, &s));

	ASSERT_EQ(0, agent_query(&inner, s.cookie, &info));
	EXPECT_EQ(1, info.target_pid);
	EXPECT_EQ(0, info.sharer_pid);
	EXPECT_EQ(s.id, info.id);
	EXPECT_EQ(sd_inode(sock), info.sock_ino);

	ASSERT_EQ(0, sd_query(self->dev, s.cookie, &info));
	EXPECT_EQ(inner.pid, info.target_pid);
	EXPECT_EQ(getpid(), info.sharer_pid);

	fd = agent_redeem(&inner, s.cookie, 0, NULL);
	EXPECT_LE(0, fd);
	agent_kill(&inner);
	close(sock);
	close(peer);
}

TEST_HARNESS_MAIN
