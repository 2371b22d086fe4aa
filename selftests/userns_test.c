// SPDX-License-Identifier: GPL-2.0-only
/*
 * userns_test - user namespaces: one delegation, one budget
 *
 * An ordinary user (DELEGATE_UID) creates a user namespace and gets a
 * subordinate range of NR_UIDS uids mapped into it, the way newuidmap does
 * for rootless containers (here the test, as root, writes the maps).
 * Inside, every mapped uid tries to fill the table.  All of them are
 * charged to the namespace's owner: together they get max_per_user shares,
 * the rest is EDQUOT, and another user and root still share.  The owner
 * sees the delegation's shares in LIST and STATS (they are charged to it),
 * and frees them by id; an unrelated user sees none of them.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <grp.h>
#include <sched.h>

/* See share_errors_test.c: the harness is not -Wextra clean. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"
#include "sockdup_util.h"

#define DELEGATE_UID	32100		/* owns the namespace */
#define OTHER_UID	32200		/* an unrelated ordinary user */
#define SUBUID_BASE	320000		/* the delegated range outside */
#define NR_UIDS		6		/* uids 0..NR_UIDS-1 inside */
#define PER_UID		4		/* shares each inside uid tries */
#define CAP_USER	4		/* max_per_user during the test */

/* What the namespace reports: per inside uid, shares made and the refusal. */
struct ns_report {
	int made[NR_UIDS];
	int err[NR_UIDS];
	int setup_err;
};

/* What a user outside sees of the delegation's shares. */
struct outside_view {
	int err;		/* 0, or the errno of a failed step */
	int user_pending;	/* STATS.user_pending */
	int listed;		/* LIST entries made by an inside uid */
	int freed;		/* of those, freed by REVOKE by id */
};

FIXTURE(userns) {
	int dev;
	long long max_per_user, max_total, reserve_total;
	pid_t child;
	int ctl;
};

FIXTURE_SETUP(userns)
{
	self->child = -1;
	self->ctl = -1;
	self->max_per_user = self->max_total = self->reserve_total = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, sd_param_get("max_per_user", &self->max_per_user));
	ASSERT_EQ(0, sd_param_get("max_total", &self->max_total));
	ASSERT_EQ(0, sd_param_get("reserve_total", &self->reserve_total));
}

static int view_as(int dev, uid_t uid, bool free_them,
		   struct outside_view *v);

FIXTURE_TEARDOWN(userns)
{
	struct outside_view v;

	if (self->child > 0)
		sd_kill_wait(self->child);
	/* the namespace's shares go now, not when the sweeper reaps them */
	if (self->dev >= 0)
		view_as(self->dev, 0, true, &v);
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->max_per_user >= 0)
		sd_param_set("max_per_user", self->max_per_user);
	if (self->max_total >= 0)
		sd_param_set("max_total", self->max_total);
	if (self->reserve_total >= 0)
		sd_param_set("reserve_total", self->reserve_total);
	if (self->dev >= 0)
		close(self->dev);
}

/* One inside uid: share PER_UID fresh sockets with @target, report. */
static void ns_sharer(int dev, uid_t uid, pid_t target, int out)
{
	int made = 0, err = 0, sv[2], i, res[2];

	if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		_exit(2);
	for (i = 0; i < PER_UID; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			_exit(3);
		/* the share is the only pin once we exit */
		if (sd_share(dev, sv[0], target, 30000, NULL) == 0)
			made++;
		else if (!err)
			err = errno;
		close(sv[0]);
		close(sv[1]);
	}
	res[0] = made;
	res[1] = err;
	_exit(sd_send(out, res, sizeof(res)) ? 4 : 0);
}

/*
 * The namespace's first process: become DELEGATE_UID, unshare the user
 * namespace, wait for the maps, then let every inside uid share with us.
 * Report, and stay (the shares' target) until told to go.
 */
static int ns_main(int ctl, int dev)
{
	struct ns_report r = { 0 };
	int go, uid, res[2], sv[2];
	pid_t pid;

	if (setgroups(0, NULL) || setresgid(DELEGATE_UID, DELEGATE_UID,
					    DELEGATE_UID) ||
	    setresuid(DELEGATE_UID, DELEGATE_UID, DELEGATE_UID))
		return 2;
	if (unshare(CLONE_NEWUSER))
		return 3;
	/* the test writes uid_map and gid_map, then says go */
	if (sd_send_int(ctl, 1) || sd_recv_int(ctl, &go, -1))
		return 4;
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) {
		r.setup_err = errno;
		goto report;
	}
	for (uid = 0; uid < NR_UIDS; uid++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			return 5;
		pid = fork();
		if (pid < 0)
			return 6;
		if (pid == 0)
			ns_sharer(dev, uid, getppid(), sv[1]);
		close(sv[1]);
		if (sd_recv(sv[0], res, sizeof(res), -1) || sd_wait(pid))
			return 7;
		close(sv[0]);
		r.made[uid] = res[0];
		r.err[uid] = res[1];
	}
report:
	if (sd_send(ctl, &r, sizeof(r)))
		return 8;
	sd_recv_int(ctl, &go, -1);
	return 0;
}

static int write_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Child as @uid: SHARE one socket with itself; 0 or the errno. */
static int share_as(int dev, uid_t uid)
{
	int ctl, err = -1, sv[2];
	pid_t pid;

	pid = sd_fork(&ctl);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (uid && (setresgid(uid, uid, uid) ||
			    setresuid(uid, uid, uid)))
			_exit(2);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			_exit(3);
		err = sd_share(dev, sv[0], getpid(), 0, NULL) ? errno : 0;
		sd_send_int(ctl, err);
		/* keep the target alive until the test has looked */
		sd_recv_int(ctl, &err, -1);
		_exit(0);
	}
	if (sd_recv_int(ctl, &err, -1))
		err = -1;
	sd_send_int(ctl, 0);
	sd_wait(pid);
	close(ctl);
	return err;
}

/* Start the namespace with its maps; returns its report. */
static int start_ns(FIXTURE_DATA(userns) *self, struct ns_report *r)
{
	char map[64];
	int hello;

	self->child = sd_fork(&self->ctl);
	if (self->child < 0)
		return -1;
	if (self->child == 0)
		_exit(ns_main(self->ctl, self->dev));
	if (sd_recv_int(self->ctl, &hello, -1))
		return -1;
	/* what newuidmap and newgidmap would write for a subordinate range */
	snprintf(map, sizeof(map), "0 %d %d\n", SUBUID_BASE, NR_UIDS);
	if (write_file(self->child, "uid_map", map) ||
	    write_file(self->child, "gid_map", map))
		return -1;
	if (sd_send_int(self->ctl, 1))
		return -1;
	return sd_recv(self->ctl, r, sizeof(*r), -1);
}

TEST_F(userns, delegation_shares_one_budget)
{
	struct sockdup_stats st;
	struct ns_report r;
	int made = 0, uid;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_per_user", CAP_USER));
	/* room for two delegations' worth, no more */
	ASSERT_EQ(0, sd_param_set("reserve_total", 0));
	ASSERT_EQ(0, sd_param_set("max_total", st.pending + 2 * CAP_USER));

	ASSERT_EQ(0, start_ns(self, &r)) TH_LOG("namespace: %s, exit %d",
						sd_errmsg(),
						sd_wait(self->child));
	ASSERT_EQ(0, r.setup_err) TH_LOG("setresuid(0) inside: %s",
					 strerror(r.setup_err));
	for (uid = 0; uid < NR_UIDS; uid++) {
		made += r.made[uid];
		if (r.made[uid] < PER_UID)
			EXPECT_EQ(EDQUOT, r.err[uid])
				TH_LOG("uid %d inside: %s", uid,
				       strerror(r.err[uid]));
	}
	/* NR_UIDS uids, one budget: the owner's */
	EXPECT_EQ(CAP_USER, made);
	EXPECT_EQ(CAP_USER, r.made[0]);

	/* the table is not full: another user and root still share */
	EXPECT_EQ(0, share_as(self->dev, OTHER_UID));
	EXPECT_EQ(0, share_as(self->dev, 0));
}

static void outside_view(int dev, uid_t uid, bool free_them, int ctl)
{
	struct sockdup_share_info e[64];
	struct outside_view v = { 0 };
	struct sockdup_list l = {
		.entry_size = sizeof(e[0]),
		.entries = (uintptr_t)e,
		.capacity = 64,
	};
	struct sockdup_stats st;
	__u32 i;

	if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ||
	    sd_stats(dev, &st) || ioctl(dev, SOCKDUP_IOC_LIST, &l)) {
		v.err = errno;
		goto out;
	}
	v.user_pending = st.user_pending;
	for (i = 0; i < l.count; i++) {
		struct sockdup_revoke r = {
			.flags = SOCKDUP_REVOKE_BY_ID, .id = e[i].id,
		};

		if (e[i].sharer_uid < SUBUID_BASE ||
		    e[i].sharer_uid >= SUBUID_BASE + NR_UIDS)
			continue;
		v.listed++;
		if (free_them && !ioctl(dev, SOCKDUP_IOC_REVOKE, &r))
			v.freed++;
	}
out:
	_exit(sd_send(ctl, &v, sizeof(v)) ? 3 : 0);
}

static int view_as(int dev, uid_t uid, bool free_them, struct outside_view *v)
{
	int ctl, ret;
	pid_t pid;

	pid = sd_fork(&ctl);
	if (pid < 0)
		return -1;
	if (pid == 0)
		outside_view(dev, uid, free_them, ctl);
	ret = sd_recv(ctl, v, sizeof(*v), -1);
	close(ctl);
	return sd_wait(pid) || ret ? -1 : 0;
}

TEST_F(userns, owner_sees_and_frees_the_delegation)
{
	struct sockdup_stats st0, st1;
	struct outside_view v;
	struct ns_report r;

	ASSERT_EQ(0, sd_stats(self->dev, &st0));
	ASSERT_EQ(0, sd_param_set("max_per_user", CAP_USER));
	ASSERT_EQ(0, start_ns(self, &r)) TH_LOG("namespace: %s", sd_errmsg());
	ASSERT_EQ(0, r.setup_err);
	ASSERT_EQ(CAP_USER, r.made[0]);

	/* somebody else: nothing to see */
	ASSERT_EQ(0, view_as(self->dev, OTHER_UID, true, &v));
	EXPECT_EQ(0, v.err);
	EXPECT_EQ(0, v.listed);

	/* the owner: charged, listed, and frees them although it made none */
	ASSERT_EQ(0, view_as(self->dev, DELEGATE_UID, true, &v));
	EXPECT_EQ(0, v.err) TH_LOG("%s", strerror(v.err));
	EXPECT_EQ(CAP_USER, v.user_pending);
	EXPECT_EQ(CAP_USER, v.listed);
	EXPECT_EQ(CAP_USER, v.freed);
	ASSERT_EQ(0, sd_stats(self->dev, &st1));
	/* (shares of the previous test may still be reaped meanwhile) */
	EXPECT_GE(st0.pending, st1.pending);
}

TEST_HARNESS_MAIN
