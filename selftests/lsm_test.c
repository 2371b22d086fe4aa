// SPDX-License-Identifier: GPL-2.0-only
/*
 * lsm_test - an LSM that refuses the file refuses the REDEEM, and the
 * cookie stays valid (SOCKDUP.md §2, the LSM row)
 *
 * REDEEM installs the descriptor as SCM_RIGHTS does, through the LSM
 * file_receive hook.  Debian's kernels run the BPF LSM (CONFIG_BPF_LSM,
 * "bpf" in the default lsm= list), so the test loads a tiny BPF_PROG_TYPE_LSM
 * program on file_receive, built from raw instructions and attached with
 * the bpf() syscall (no libbpf, no policy files): it returns -EACCES when
 * the receiving thread is the one thread id (or the one process) it was
 * built for, and 0 for everybody else.
 *
 * As a control, the same program must refuse an SCM_RIGHTS receive (the
 * kernel then truncates the control message).  With the hook refusing,
 * REDEEM fails with the LSM's errno, installs nothing and consumes nothing:
 * another thread of the target (not refused) or the same thread after the
 * program is detached redeems the same cookie.
 *
 * A batch REDEEM refused for one of its sockets (a program that counts
 * the receives and refuses the first, a middle or the last one) installs
 * none of them, and the cookie stays valid.
 *
 * SKIPs when the kernel has no BPF LSM or no BTF for it.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <linux/bpf.h>
#include <linux/btf.h>
#include <pthread.h>

/*
 * kselftest_harness.h is not -Wextra clean: unused parameters, and locals of
 * the TEST_F() wrapper that -Wclobbered rightly flags (after a failed
 * ASSERT the wrapper may skip FIXTURE_TEARDOWN(); what must be undone even
 * then is undone in FIXTURE_TEARDOWN_PARENT()).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"
#include "sockdup_util.h"

#define HOOK		"bpf_lsm_file_receive"
#define LSM_ERRNO	EACCES

/* Size of the data that follows a struct btf_type of @kind. */
static long btf_extra(const struct btf_type *t)
{
	unsigned int vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	default:
		return -1;
	}
}

/* The vmlinux BTF id of the function @name, or -1 (errno set). */
static int btf_func_id(const char *name)
{
	const struct btf_header *h;
	const char *p, *end, *strs;
	char *buf = NULL;
	size_t size = 0, cap = 0;
	int fd, id = 1, ret = -1;
	ssize_t n;

	fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		if (size == cap) {
			char *nb = realloc(buf, cap = cap ? 2 * cap : 1 << 22);

			if (!nb)
				goto out;
			buf = nb;
		}
		n = read(fd, buf + size, cap - size);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		size += n;
	}
	h = (const struct btf_header *)buf;
	errno = EPROTO;
	if (size < sizeof(*h) || h->magic != BTF_MAGIC ||
	    h->hdr_len + h->str_off + h->str_len > size)
		goto out;
	p = buf + h->hdr_len + h->type_off;
	end = p + h->type_len;
	strs = buf + h->hdr_len + h->str_off;
	errno = ENOENT;
	while (p + sizeof(struct btf_type) <= end) {
		const struct btf_type *t = (const void *)p;
		long extra = btf_extra(t);

		if (extra < 0) {
			errno = EPROTO;
			break;
		}
		if (BTF_INFO_KIND(t->info) == BTF_KIND_FUNC &&
		    t->name_off < h->str_len && !strcmp(strs + t->name_off, name)) {
			ret = id;
			break;
		}
		p += sizeof(*t) + extra;
		id++;
	}
out:
	free(buf);
	close(fd);
	return ret;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/*
 * The end of both programs, after a jump over two instructions when the
 * file may be received: return -LSM_ERRNO; allow: return 0.
 */
static const struct bpf_insn refuse_else_allow[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
	  .imm = -LSM_ERRNO },
	{ .code = BPF_JMP | BPF_EXIT },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
	  .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/*
 * Load a file_receive program made of @body (@cnt instructions) followed
 * by refuse_else_allow, and attach it.  Returns the link fd (close it to
 * detach) or -1; @log gets the verifier's complaint.
 */
static int attach_prog(const struct bpf_insn *body, unsigned int cnt,
		       char *log, size_t loglen)
{
	struct bpf_insn insns[32];
	union bpf_attr attr;
	int btf_id, prog, link, err;

	if (cnt + ARRAY_SIZE(refuse_else_allow) > ARRAY_SIZE(insns)) {
		snprintf(log, loglen, "program of %u instructions too long", cnt);
		return -1;
	}
	memcpy(insns, body, cnt * sizeof(*body));
	memcpy(insns + cnt, refuse_else_allow, sizeof(refuse_else_allow));
	cnt += ARRAY_SIZE(refuse_else_allow);

	btf_id = btf_func_id(HOOK);
	if (btf_id < 0) {
		snprintf(log, loglen, "no BTF id for %s: %s", HOOK,
			 strerror(errno));
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_LSM;
	attr.expected_attach_type = BPF_LSM_MAC;
	attr.attach_btf_id = btf_id;
	attr.insns = (__u64)(uintptr_t)insns;
	attr.insn_cnt = cnt;
	attr.license = (__u64)(uintptr_t)"GPL";
	attr.log_buf = (__u64)(uintptr_t)log;
	attr.log_size = loglen;
	attr.log_level = 1;
	log[0] = 0;
	prog = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		err = errno;
		if (!log[0])
			snprintf(log, loglen, "BPF_PROG_LOAD: %s",
				 strerror(err));
		errno = err;
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = prog;
	link = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
	err = errno;
	close(prog);
	if (link < 0)
		snprintf(log, loglen, "attach: %s", strerror(err));
	errno = err;
	return link;
}

/*
 * Load and attach the file_receive program: refuse with -LSM_ERRNO when
 * the current thread id (@whole_process: thread-group id) is @id.
 * Returns the link fd (close it to detach) or -1; @log gets the verifier's
 * complaint.
 */
static int attach_refuser(pid_t id, bool whole_process, char *log,
			  size_t loglen)
{
	struct bpf_insn insns[] = {
		/* r0 = (tgid << 32) | tid */
		{ .code = BPF_JMP | BPF_CALL,
		  .imm = BPF_FUNC_get_current_pid_tgid },
		/* r0 = tid (32-bit move clears the top) or r0 >>= 32: tgid */
		whole_process ?
		(struct bpf_insn){ .code = BPF_ALU64 | BPF_RSH | BPF_K,
				   .dst_reg = BPF_REG_0, .imm = 32 } :
		(struct bpf_insn){ .code = BPF_ALU | BPF_MOV | BPF_X,
				   .dst_reg = BPF_REG_0, .src_reg = BPF_REG_0 },
		/* if r0 != id goto allow */
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0,
		  .off = 2, .imm = id },
	};

	return attach_prog(insns, ARRAY_SIZE(insns), log, loglen);
}

/*
 * Load and attach a file_receive program that counts the receives of
 * thread @tid in the one slot of the array map @map and refuses with
 * -LSM_ERRNO the @nth one only.  Returns the link fd or -1.
 */
static int attach_nth_refuser(pid_t tid, int nth, int map, char *log,
			      size_t loglen)
{
	struct bpf_insn insns[] = {
		/* r0 = tid */
		{ .code = BPF_JMP | BPF_CALL,
		  .imm = BPF_FUNC_get_current_pid_tgid },
		{ .code = BPF_ALU | BPF_MOV | BPF_X,
		  .dst_reg = BPF_REG_0, .src_reg = BPF_REG_0 },
		/* if r0 != tid goto allow */
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0,
		  .off = 13, .imm = tid },
		/* key = 0 at fp - 4; r0 = bpf_map_lookup_elem(map, &key) */
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10,
		  .off = -4, .imm = 0 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = -4 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		/* if r0 == NULL goto allow */
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0,
		  .off = 6, .imm = 0 },
		/* (*r0)++ atomically; r1 = *r0 */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1,
		  .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_0,
		  .src_reg = BPF_REG_1, .imm = BPF_ADD },
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_0 },
		/* if r1 != nth goto allow */
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_1,
		  .off = 2, .imm = nth },
	};

	return attach_prog(insns, ARRAY_SIZE(insns), log, loglen);
}

/* An array map of one __u64, the counter of attach_nth_refuser(). */
static int counter_map(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = sizeof(__u32);
	attr.value_size = sizeof(__u64);
	attr.max_entries = 1;
	return sys_bpf(BPF_MAP_CREATE, &attr);
}

/* The counter's value, or -1. */
static long long counter_read(int map)
{
	__u32 key = 0;
	__u64 val = 0;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map;
	attr.key = (__u64)(uintptr_t)&key;
	attr.value = (__u64)(uintptr_t)&val;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr))
		return -1;
	return val;
}

/*
 * Send @fd over @a, receive on @b: returns 0 if a descriptor arrived (an
 * LSM that refuses it lets the byte through without the descriptor).
 */
static int scm_rights_works(int a, int b, int fd)
{
	int got;

	if (sd_send_fd(a, fd))
		return -1;
	got = sd_recv_fd(b, SD_WAIT_MS);
	if (got < 0)
		return -1;
	close(got);
	return 0;
}

FIXTURE(lsm) {
	int dev;
	int sv[2];		/* the socket to share: sv[0] */
	int chan[2];		/* for the SCM_RIGHTS control */
	struct sd_cookie c;
	int link;
	int nfds;
};

FIXTURE_SETUP(lsm)
{
	self->link = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
				self->chan));
	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 0, &self->c));
}

FIXTURE_TEARDOWN(lsm)
{
	if (self->link >= 0)
		close(self->link);
	sd_revoke(self->dev, &self->c);
	close(self->chan[0]);
	close(self->chan[1]);
	close(self->sv[0]);
	close(self->sv[1]);
	close(self->dev);
}

/* Attach the refuser for @id or SKIP when this kernel cannot. */
#define ATTACH_OR_SKIP(id, whole) do {					\
	char __log[4096];						\
	self->link = attach_refuser((id), (whole), __log,		\
				    sizeof(__log));			\
	if (self->link < 0 && (errno == ENOENT || errno == EINVAL ||	\
			       errno == EOPNOTSUPP || errno == ENOSYS ||	\
			       errno == EPROTO))			\
		SKIP(return, "no BPF LSM here: %.200s", __log);		\
	ASSERT_LE(0, self->link) TH_LOG("%s", __log);			\
} while (0)

struct refused_thread {
	FIXTURE_DATA(lsm) *self;
	pid_t tid;
	int ready[2];		/* thread -> main: tid is set */
	int go[2];		/* main -> thread: the program is attached */
	int scm;		/* SCM_RIGHTS receive worked */
	int fd;			/* REDEEM result */
	int err;
	int nfds_delta;
};

static void *refused_body(void *p)
{
	struct refused_thread *t = p;
	int before;
	char c;

	t->tid = sd_gettid();
	if (write(t->ready[1], "t", 1) != 1 || read(t->go[0], &c, 1) != 1)
		return NULL;
	t->scm = scm_rights_works(t->self->chan[0], t->self->chan[1],
				  t->self->sv[0]) == 0;
	before = sd_count_fds();
	t->fd = sd_redeem(t->self->dev, &t->self->c, 0);
	t->err = t->fd < 0 ? errno : 0;
	t->nfds_delta = sd_count_fds() - before;
	return NULL;
}

/*
 * The refused thread fails with the LSM's errno; another thread of the
 * same target process then redeems the cookie.
 */
TEST_F(lsm, refused_thread_then_other_thread_redeems)
{
	struct refused_thread t = { .self = self };
	pthread_t th;
	char c;
	int fd;

	ASSERT_EQ(0, pipe2(t.ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(t.go, O_CLOEXEC));
	ASSERT_EQ(0, pthread_create(&th, NULL, refused_body, &t));
	ASSERT_EQ(1, read(t.ready[0], &c, 1));	/* t.tid is set */
	ATTACH_OR_SKIP(t.tid, false);
	ASSERT_EQ(1, write(t.go[1], "g", 1));
	pthread_join(th, NULL);

	/* Control: the program is active for that thread only. */
	ASSERT_FALSE(t.scm) TH_LOG("the program did not refuse SCM_RIGHTS");
	ASSERT_EQ(0, scm_rights_works(self->chan[0], self->chan[1],
				      self->sv[0]));

	EXPECT_EQ(-1, t.fd);
	EXPECT_EQ(LSM_ERRNO, t.err) TH_LOG("refused REDEEM: %s",
					   strerror(t.err));
	EXPECT_EQ(0, t.nfds_delta);
	if (t.fd >= 0)
		close(t.fd);

	fd = sd_redeem(self->dev, &self->c, SOCKDUP_REDEEM_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("cookie lost after the LSM refusal: %s",
				strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
	close(fd);
	close(t.ready[0]);
	close(t.ready[1]);
	close(t.go[0]);
	close(t.go[1]);
}

/*
 * The whole target is refused, repeatedly; once the LSM lets it (the
 * program is detached), the same cookie redeems.
 */
TEST_F(lsm, refused_process_then_redeems_when_allowed)
{
	int i, fd, before;

	ATTACH_OR_SKIP(getpid(), true);
	before = sd_count_fds();
	ASSERT_NE(0, scm_rights_works(self->chan[0], self->chan[1],
				      self->sv[0]))
		TH_LOG("the program did not refuse SCM_RIGHTS");
	for (i = 0; i < 3; i++) {
		fd = sd_redeem(self->dev, &self->c, 0);
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(LSM_ERRNO, errno) TH_LOG("try %d: %s", i,
						   strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	EXPECT_EQ(before, sd_count_fds());

	close(self->link);
	self->link = -1;
	ASSERT_EQ(0, scm_rights_works(self->chan[0], self->chan[1],
				      self->sv[0]));
	fd = sd_redeem(self->dev, &self->c, 0);
	ASSERT_LE(0, fd) TH_LOG("cookie lost after the LSM refusals: %s",
				strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
	close(fd);
}

#define NBATCH	16

/*
 * A batch of NBATCH sockets, and the LSM refusing the first, a middle or
 * the last of them: REDEEM fails with the LSM's errno and leaves no
 * descriptor behind, although the hook ran (and so the sockets before the
 * refused one were installed) exactly up to the refused one; the cookie
 * then redeems the whole batch, in order.
 */
TEST_F(lsm, batch_one_refused_installs_none)
{
	static const int nth[] = { 1, NBATCH / 2, NBATCH };
	int a[NBATCH], b[NBATCH], got[NBATCH];
	struct sd_cookie c;
	unsigned int k;
	int i, map, before, ret;

	for (i = 0; i < NBATCH; i++) {
		int sv[2];

		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					sv));
		a[i] = sv[0];
		b[i] = sv[1];
	}
	/* A TTL no slow lane runs out during the three refusals. */
	ASSERT_EQ(0, sd_share_batch(self->dev, a, NBATCH, getpid(), 3600000,
				    &c));
	for (k = 0; k < ARRAY_SIZE(nth); k++) {
		char log[4096];

		map = counter_map();
		if (map < 0 && (errno == EPERM || errno == ENOSYS))
			SKIP(return, "no BPF maps here: %s", strerror(errno));
		ASSERT_LE(0, map) TH_LOG("BPF_MAP_CREATE: %s", strerror(errno));
		self->link = attach_nth_refuser(sd_gettid(), nth[k], map, log,
						sizeof(log));
		if (self->link < 0 && (errno == ENOENT || errno == EINVAL ||
				       errno == EOPNOTSUPP || errno == ENOSYS ||
				       errno == EPROTO))
			SKIP(return, "no BPF LSM here: %.200s", log);
		ASSERT_LE(0, self->link) TH_LOG("%s", log);

		memset(got, 0xff, sizeof(got));
		before = sd_count_fds();
		ret = sd_redeem_batch(self->dev, &c, 0, got, NBATCH);
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(LSM_ERRNO, errno) TH_LOG("socket %d refused: %s",
						   nth[k], strerror(errno));
		EXPECT_EQ(before, sd_count_fds()) TH_LOG("socket %d refused",
							 nth[k]);
		EXPECT_EQ(-1, got[0]);
		EXPECT_EQ(nth[k], counter_read(map));
		close(self->link);
		self->link = -1;
		close(map);
		if (ret > 0)
			for (i = 0; i < ret; i++)
				close(got[i]);
	}
	ASSERT_EQ(NBATCH, sd_redeem_batch(self->dev, &c, 0, got, NBATCH))
		TH_LOG("cookie lost after the LSM refusals: %s",
		       strerror(errno));
	for (i = 0; i < NBATCH; i++) {
		EXPECT_EQ(0, sd_kcmp_file(getpid(), got[i], getpid(), a[i]));
		close(got[i]);
		close(a[i]);
		close(b[i]);
	}
}

TEST_HARNESS_MAIN
