/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * sockdup: hand an open socket to one named process through a cookie.
 *
 * A process holding a socket calls SOCKDUP_IOC_SHARE on /dev/sockdup and
 * gets a 128-bit cookie bound to one target process.  It passes the cookie
 * over any IPC it likes; the target calls SOCKDUP_IOC_REDEEM with it and
 * receives a new descriptor for the same open socket, exactly as if it had
 * been sent with SCM_RIGHTS.  A cookie can be redeemed at most once.
 *
 * ABI rules: every structure is made of fixed-width fields with no implicit
 * padding and a size that is a multiple of 8.  Unknown flag bits, non-zero
 * reserved fields and non-zero output fields on input are rejected with
 * EINVAL.  Structures grow only at their end; the size encoded in the ioctl
 * command is the size the caller knows, and the kernel accepts larger sizes
 * as long as the bytes it does not know are zero (E2BIG otherwise), like
 * copy_struct_from_user() users elsewhere in the kernel.
 */

#ifndef _UAPI_LINUX_SOCKDUP_H
#define _UAPI_LINUX_SOCKDUP_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Path of the character device. */
#define SOCKDUP_DEVICE		"/dev/sockdup"

/* Length of a cookie in bytes. */
#define SOCKDUP_COOKIE_SIZE	16

/* Flags of struct sockdup_redeem. */
/* Set FD_CLOEXEC on the new descriptor. */
#define SOCKDUP_REDEEM_CLOEXEC	0x1U
#define SOCKDUP_REDEEM_FLAGS	(SOCKDUP_REDEEM_CLOEXEC)

/* Flags of struct sockdup_revoke. */
/* Name the share by &sockdup_revoke.id instead of its cookie. */
#define SOCKDUP_REVOKE_BY_ID	0x1U
#define SOCKDUP_REVOKE_FLAGS	(SOCKDUP_REVOKE_BY_ID)

/* Flags of struct sockdup_query. */
/* Name the share by &sockdup_query.info.id instead of its cookie. */
#define SOCKDUP_QUERY_BY_ID	0x1U
#define SOCKDUP_QUERY_FLAGS	(SOCKDUP_QUERY_BY_ID)

/* No flags are defined yet for SHARE, STATS and LIST. */
#define SOCKDUP_SHARE_FLAGS	0U
#define SOCKDUP_STATS_FLAGS	0U
#define SOCKDUP_LIST_FLAGS	0U

/* Bytes of a socket address in &struct sockdup_share_info (sockaddr_storage). */
#define SOCKDUP_ADDR_SIZE	128

/* Largest &sockdup_list.entry_size. */
#define SOCKDUP_LIST_ENTRY_MAX	4096

/* Most sockets one share holds (&sockdup_share.nr_fds). */
#define SOCKDUP_BATCH_MAX	4096

/* Sizes of the first version of each structure, still accepted. */
#define SOCKDUP_SHARE_SIZE_VER0		40
#define SOCKDUP_REDEEM_SIZE_VER0	24
#define SOCKDUP_REVOKE_SIZE_VER0	24
#define SOCKDUP_SHARE_INFO_SIZE_VER0	64
#define SOCKDUP_QUERY_SIZE_VER0		88

/**
 * struct sockdup_share - argument of %SOCKDUP_IOC_SHARE
 * @flags: in: must be zero (no flags are defined yet).
 * @fd: in: the socket descriptor to share, in the caller's fd table;
 *	-1 when @nr_fds is not zero.
 * @target_pid: in: the target process (thread-group leader id) as seen from
 *	the caller's pid namespace.  A thread id that is not a thread-group
 *	leader is refused, and so is a kernel thread, which can never redeem.
 *	The initial process of the system (init) may be named only by a
 *	caller with CAP_SYS_ADMIN in the initial user namespace: a share for
 *	a process that never exits and never redeems would hold the socket
 *	(and its port) until its TTL runs out.
 * @ttl_ms: in: lifetime of the share in milliseconds; 0 asks for the
 *	module's default (module parameter default_ttl_ms).  Values above the
 *	module parameter max_ttl_ms are refused.
 * @cookie: out: the cookie, 128 opaque bits: a 96-bit secret from the
 *	kernel CSPRNG and where the kernel keeps the share.  Must be zero on
 *	input.
 * @id: out: a number that names the share in listings, QUERY results and
 *	events without revealing the cookie.  Must be zero on input.
 * @fds: in: with @nr_fds, user pointer to an array of @nr_fds __s32
 *	socket descriptors to share together, under one cookie (a batch);
 *	must be zero without @nr_fds.
 * @nr_fds: in: 0 to share @fd alone, or 1 to %SOCKDUP_BATCH_MAX: the
 *	number of descriptors in @fds.  The same socket may appear more
 *	than once.
 * @reserved: must be zero.
 *
 * The first version ended at @id (%SOCKDUP_SHARE_SIZE_VER0 bytes, still
 * accepted); @fds, @nr_fds and @reserved were added for batches.
 *
 * The share holds a reference to each socket's open file until it is
 * redeemed, revoked, its TTL runs out, its target exits, or the module is
 * unloaded, whichever comes first.  The caller may close @fd, close
 * /dev/sockdup and exit without affecting the share.  The open file of
 * /dev/sockdup the SHARE was made through receives a &struct sockdup_event
 * when the share ends, if it was opened for reading.
 *
 * The share is charged to the caller's real uid, as SCM_RIGHTS charges
 * descriptors in flight: a set-user-ID helper charges the user who ran it.
 * A batch of N sockets takes N slots of the per-user and the global cap,
 * as N single shares would: each pins a socket.  Its array of N file
 * pointers (8 bytes each, at most 32 KiB) is charged to the caller's
 * memory cgroup.
 * A caller inside a user namespace is charged to the user that owns the
 * outermost user namespace below the initial one, so all the uids of one
 * delegation (a subordinate-uid range, say) share one budget.
 */
struct sockdup_share {
	__u32 flags;
	__s32 fd;
	__s32 target_pid;
	__u32 ttl_ms;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	__u64 id;
	__u64 fds;
	__u32 nr_fds;
	__u32 reserved;
};

/**
 * struct sockdup_redeem - argument of %SOCKDUP_IOC_REDEEM
 * @flags: in: %SOCKDUP_REDEEM_CLOEXEC or zero.
 * @reserved: must be zero.
 * @cookie: in: the cookie returned by %SOCKDUP_IOC_SHARE.
 * @fds: in: with @nr_fds, user pointer to an array of @nr_fds __s32 that
 *	receives the new descriptors, in the order the sockets were shared;
 *	must be zero without @nr_fds.
 * @nr_fds: in: 0 to redeem a share of one socket (the descriptor is the
 *	ioctl's value), or the number of entries @fds has room for (the
 *	ioctl's value is then the number of descriptors written to @fds).
 * @reserved2: must be zero.
 *
 * The first version ended at @cookie (%SOCKDUP_REDEEM_SIZE_VER0 bytes,
 * still accepted); @fds, @nr_fds and @reserved2 were added for batches.
 * A share of one socket may be redeemed either way.
 */
struct sockdup_redeem {
	__u32 flags;
	__u32 reserved;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	__u64 fds;
	__u32 nr_fds;
	__u32 reserved2;
};

/**
 * struct sockdup_revoke - argument of %SOCKDUP_IOC_REVOKE
 * @flags: in: %SOCKDUP_REVOKE_BY_ID or zero.
 * @reserved: must be zero.
 * @cookie: in: the cookie to withdraw (by the sharer) or to decline (by the
 *	target).  Must be zero with %SOCKDUP_REVOKE_BY_ID.
 * @id: in: with %SOCKDUP_REVOKE_BY_ID, the id of the share to release;
 *	must be zero otherwise.  Added after the first version
 *	(%SOCKDUP_REVOKE_SIZE_VER0 bytes, still accepted).
 */
struct sockdup_revoke {
	__u32 flags;
	__u32 reserved;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	__u64 id;
};

/**
 * struct sockdup_share_info - what a pending share holds
 * @id: the share's id, as returned in &sockdup_share.id.
 * @sock_ino: inode number of the socket (as in /proc/PID/fd links); for
 *	a batch, this and the fields up to @peer_addr describe its first
 *	socket.
 * @family: socket address family (AF_INET, AF_UNIX, ...).
 * @type: socket type (SOCK_STREAM, SOCK_DGRAM, ...).
 * @protocol: socket protocol (IPPROTO_TCP, ..., or 0).
 * @sharer_pid: the sharing process in the caller's pid namespace; 0 when it
 *	has exited or is not visible there.
 * @target_pid: the target process in the caller's pid namespace; 0 when it
 *	has exited or is not visible there.
 * @sharer_uid: real uid of the sharer at SHARE time, in the caller's user
 *	namespace (overflow uid when unmapped).
 * @age_ms: milliseconds since the share was made.
 * @ttl_left_ms: milliseconds until the share expires.
 * @nr_fds: number of sockets held by the share: 1, or the
 *	&sockdup_share.nr_fds of a batch.
 * @reserved: zero.
 * @local_addr_len: bytes of @local_addr in use; 0 when the socket has no
 *	local address.
 * @peer_addr_len: bytes of @peer_addr in use; 0 when the socket is not
 *	connected.
 * @local_addr: the socket's address (a struct sockaddr of its family), as
 *	getsockname() gives it.
 * @peer_addr: the peer's address, as getpeername() gives it.
 *
 * The first version ended at @reserved (%SOCKDUP_SHARE_INFO_SIZE_VER0
 * bytes); the addresses were added after it.
 */
struct sockdup_share_info {
	__u64 id;
	__u64 sock_ino;
	__u32 family;
	__u32 type;
	__u32 protocol;
	__s32 sharer_pid;
	__s32 target_pid;
	__u32 sharer_uid;
	__u64 age_ms;
	__u64 ttl_left_ms;
	__u32 nr_fds;
	__u32 reserved;
	__u32 local_addr_len;
	__u32 peer_addr_len;
	__u8 local_addr[SOCKDUP_ADDR_SIZE];
	__u8 peer_addr[SOCKDUP_ADDR_SIZE];
};

/**
 * struct sockdup_query - argument of %SOCKDUP_IOC_QUERY
 * @flags: in: %SOCKDUP_QUERY_BY_ID or zero.
 * @reserved: must be zero.
 * @cookie: in: the cookie to look at; it is not consumed.  Must be zero
 *	with %SOCKDUP_QUERY_BY_ID.
 * @info: out: what the share holds.  Must be zero on input, but for
 *	@info.id with %SOCKDUP_QUERY_BY_ID: the id of the share to describe.
 *
 * @info is the last member, so the structure grows with it; a caller that
 * knows the first version (%SOCKDUP_QUERY_SIZE_VER0 bytes) gets the fields
 * of that version.
 */
struct sockdup_query {
	__u32 flags;
	__u32 reserved;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	struct sockdup_share_info info;
};

/**
 * struct sockdup_stats - argument of %SOCKDUP_IOC_STATS
 * @flags: in: must be zero.
 * @reserved: must be zero.
 * @pending: out: sockets of the shares pending now, all users.
 * @shared: out: sockets shared since the module was loaded.
 * @redeemed: out: sockets of shares released by a successful REDEEM.
 * @expired: out: sockets of shares released because their TTL ran out.
 * @revoked: out: sockets of shares released by REVOKE (sharer or target).
 * @reaped: out: sockets of shares released because their target process
 *	exited.
 * @refused_user: out: SHAREs refused with EDQUOT (per-user cap).
 * @refused_global: out: SHAREs refused with ENOSPC (global cap).
 * @user_pending: out: pending sockets charged to the caller's user (its real
 *	uid, or the owner of its user-namespace delegation, see
 *	&struct sockdup_share).
 * @max_per_user: out: the per-user cap in force, in sockets (module
 *	parameter).
 * @max_total: out: the global cap in force, in sockets (module parameter).
 *
 * The counters count sockets: a share of a batch of N sockets counts N
 * (in @pending, @shared, and the counter of how it ended), as it takes N
 * slots of the caps.  All output fields must be zero on input.  At any
 * quiescent moment
 * @shared == @redeemed + @expired + @revoked + @reaped + @pending.
 */
struct sockdup_stats {
	__u32 flags;
	__u32 reserved;
	__u64 pending;
	__u64 shared;
	__u64 redeemed;
	__u64 expired;
	__u64 revoked;
	__u64 reaped;
	__u64 refused_user;
	__u64 refused_global;
	__u64 user_pending;
	__u64 max_per_user;
	__u64 max_total;
};

/**
 * struct sockdup_list - argument of %SOCKDUP_IOC_LIST
 * @flags: in: must be zero.
 * @entry_size: in: sizeof(struct sockdup_share_info) as the caller knows it;
 *	smaller than the first version's size or larger than
 *	%SOCKDUP_LIST_ENTRY_MAX is refused.
 * @entries: in: user pointer to an array of @capacity records.
 * @capacity: in: number of records @entries can hold (0 only counts).
 * @count: out: number of records written.  Must be zero on input.
 * @total: out: number of pending shares visible to the caller, which may be
 *	more than @count.  Must be zero on input.  A listing releases the
 *	shares past their TTL it meets and counts only shares that can still
 *	be redeemed; a batch counts as one share.  With @capacity 0, a
 *	caller that sees every share gets the module's count of the shares
 *	in its table, read without walking the table: it also counts a share
 *	past its TTL that the sweeper, which runs at the earliest expiry, has
 *	not released yet, and a share being made.
 *
 * A caller with CAP_SYS_ADMIN in the initial user namespace sees every
 * pending share; any other caller sees the shares its real uid made, the
 * shares charged to its real uid (those made inside a user namespace it
 * owns), and the shares whose target process runs as its real uid.
 */
struct sockdup_list {
	__u32 flags;
	__u32 entry_size;
	__u64 entries;
	__u32 capacity;
	__u32 count;
	__u64 total;
};

/* Kinds of event (&sockdup_event.type). */
/* The target redeemed the share. */
#define SOCKDUP_EVENT_REDEEMED	1U
/* The share's TTL ran out. */
#define SOCKDUP_EVENT_EXPIRED	2U
/* The sharer withdrew the share, or the target declined it. */
#define SOCKDUP_EVENT_REVOKED	3U
/* The target process exited without redeeming. */
#define SOCKDUP_EVENT_REAPED	4U
/* The module was unloaded with the share pending. */
#define SOCKDUP_EVENT_UNLOADED	5U
/* Events were lost: the queue was full. */
#define SOCKDUP_EVENT_OVERFLOW	6U

/* Flags of struct sockdup_event. */
/* REVOKED: the target declined the share (otherwise the sharer withdrew it). */
#define SOCKDUP_EVENT_DECLINED	0x1U

/**
 * struct sockdup_event - a record read() returns from /dev/sockdup
 * @size: sizeof(struct sockdup_event) as the kernel knows it.  Later
 *	versions may append fields: step from record to record by @size.
 * @type: a %SOCKDUP_EVENT_* kind.
 * @id: the share the event is about, as returned in &sockdup_share.id;
 *	0 for %SOCKDUP_EVENT_OVERFLOW.
 * @time_ns: when it happened, in CLOCK_MONOTONIC nanoseconds of the
 *	initial time namespace.
 * @pid: for %SOCKDUP_EVENT_REDEEMED the redeeming process, for
 *	%SOCKDUP_EVENT_REVOKED the revoking one, as seen from the reader's
 *	pid namespace; 0 otherwise or when it is not visible there.
 * @flags: %SOCKDUP_EVENT_DECLINED or 0.
 * @lost: for %SOCKDUP_EVENT_OVERFLOW the number of events dropped; 0
 *	otherwise.
 *
 * Each share made through an open file of /dev/sockdup produces exactly
 * one event, in that file only, when it is released; the file is readable
 * (poll, select, epoll) while events are queued.  A file opened without
 * read access (O_WRONLY) has no queue: its shares end without an event,
 * at no cost, and poll() never reports it readable.  read() returns as many
 * whole records as fit, in the order the events happened.  The queue holds
 * at most 128 records; when it fills, an %SOCKDUP_EVENT_OVERFLOW record
 * takes the place of the events that did not fit, and counts them.
 * Closing the file discards its events and cancels no share.
 */
struct sockdup_event {
	__u32 size;
	__u32 type;
	__u64 id;
	__u64 time_ns;
	__s32 pid;
	__u32 flags;
	__u64 lost;
};

#define SOCKDUP_IOC_MAGIC	0xB9

/**
 * define SOCKDUP_IOC_SHARE - pin a socket for one target process
 *
 * Takes a &struct sockdup_share.  Returns 0 and fills in the cookie.  With
 * &sockdup_share.nr_fds, every socket of the array is pinned under the one
 * cookie, or none is: a batch is refused as a whole.
 *
 * Errors: EBADF @fd (or an entry of @fds) is not open; ENOTSOCK it is not
 * a socket; ESRCH no such process, a thread id that is not a process, or a
 * process that has exited; EPERM the target is a kernel thread, or init
 * and the caller lacks CAP_SYS_ADMIN; EINVAL unknown flag, non-zero output
 * or reserved field, @ttl_ms above the maximum, @nr_fds above
 * %SOCKDUP_BATCH_MAX, @fd not -1 with @nr_fds, @fds without @nr_fds;
 * EDQUOT the caller's user has fewer free slots of the per-user cap than
 * the share has sockets; ENOSPC the same for the global cap (the last
 * reserve_total slots of it are kept for callers with CAP_SYS_RESOURCE in
 * the initial user namespace); EFAULT bad pointer (also @fds); E2BIG
 * unknown trailing bytes not zero; ENOMEM.
 */
#define SOCKDUP_IOC_SHARE	_IOWR(SOCKDUP_IOC_MAGIC, 0x00, struct sockdup_share)

/**
 * define SOCKDUP_IOC_REDEEM - turn a cookie into a descriptor
 *
 * Takes a &struct sockdup_redeem.  Returns the new descriptor, or with
 * &sockdup_redeem.nr_fds the number of descriptors written to
 * &sockdup_redeem.fds.  Only a thread of the target process can redeem;
 * exactly one REDEEM of a cookie succeeds.  Each descriptor is installed
 * as for SCM_RIGHTS (LSM file_receive hook, socket cgroup data updated).
 *
 * A batch is redeemed whole or not at all, and the cookie stays valid
 * when it is not.  EMFILE and a fault writing @fds are found before the
 * first descriptor goes in.  When a later socket cannot be installed all
 * the same (an LSM refuses it, or another thread of the target takes the
 * last free descriptors or unmaps @fds meanwhile), the descriptors
 * installed before it are closed again before the call returns; another
 * thread that looks at the descriptor table meanwhile may see them for
 * that moment.  Unlike SCM_RIGHTS, a batch is never truncated.
 *
 * Errors (the cookie stays valid unless ENOENT): ENOENT unknown, redeemed,
 * expired or revoked cookie; EPERM the caller is not the target; EMFILE
 * the caller's descriptor table has no room for every socket of the share;
 * EMSGSIZE the share holds more sockets than @nr_fds (more than one
 * without @nr_fds), QUERY tells how many; EINVAL unknown flag, non-zero
 * reserved field, @fds without @nr_fds; EFAULT bad pointer (also @fds);
 * ENOMEM; an LSM's errno when it refuses any of the sockets.
 */
#define SOCKDUP_IOC_REDEEM	_IOW(SOCKDUP_IOC_MAGIC, 0x01, struct sockdup_redeem)

/**
 * define SOCKDUP_IOC_REVOKE - withdraw or decline a pending share
 *
 * Takes a &struct sockdup_revoke.  The sharing process withdraws a share;
 * the target process declines one.  By id (%SOCKDUP_REVOKE_BY_ID), a share
 * may also be released by a process of the uid that made it or that it is
 * charged to, and by a caller with CAP_SYS_ADMIN in the initial user
 * namespace, also after the sharing process has exited.  Returns 0.
 *
 * Errors: ENOENT unknown, redeemed, expired or revoked cookie, or no such
 * share among those LIST shows the caller; EPERM the caller is neither the
 * sharer nor the target (nor, by id, of the share's uid or an
 * administrator); EINVAL unknown flag, non-zero reserved field, a cookie
 * with %SOCKDUP_REVOKE_BY_ID or an id without it; EFAULT bad pointer.
 */
#define SOCKDUP_IOC_REVOKE	_IOW(SOCKDUP_IOC_MAGIC, 0x02, struct sockdup_revoke)

/**
 * define SOCKDUP_IOC_QUERY - read what a pending share holds
 *
 * Takes a &struct sockdup_query; the sharer or the target may ask by
 * cookie.  By id (%SOCKDUP_QUERY_BY_ID), any caller may ask about a share
 * that LIST shows it.  The cookie is not consumed.  Returns 0.
 *
 * Errors: ENOENT unknown, redeemed, expired or revoked cookie, or no such
 * share among those LIST shows the caller; EPERM the caller is neither the
 * sharer nor the target; EINVAL unknown flag, non-zero reserved or output
 * field, a cookie with %SOCKDUP_QUERY_BY_ID; EFAULT bad pointer.
 */
#define SOCKDUP_IOC_QUERY	_IOWR(SOCKDUP_IOC_MAGIC, 0x03, struct sockdup_query)

/**
 * define SOCKDUP_IOC_STATS - read the module's counters
 *
 * Takes a &struct sockdup_stats.  Returns 0.
 *
 * Errors: EINVAL unknown flag or non-zero reserved or output field; EFAULT
 * bad pointer.
 */
#define SOCKDUP_IOC_STATS	_IOWR(SOCKDUP_IOC_MAGIC, 0x04, struct sockdup_stats)

/**
 * define SOCKDUP_IOC_LIST - list the pending shares visible to the caller
 *
 * Takes a &struct sockdup_list.  Returns 0.
 *
 * Errors: EINVAL unknown flag, non-zero output field, @entry_size too
 * small or too large; EFAULT bad pointer; ENOMEM (a listing, @capacity
 * not 0, gathers records in a buffer of a page).
 */
#define SOCKDUP_IOC_LIST	_IOWR(SOCKDUP_IOC_MAGIC, 0x05, struct sockdup_list)

#endif /* _UAPI_LINUX_SOCKDUP_H */
