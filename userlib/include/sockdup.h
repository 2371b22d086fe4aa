/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libsockdup: hand an open socket to one named process through a cookie.
 *
 * A thin library over the /dev/sockdup ioctls (<linux/sockdup.h>).  Every
 * function returns a negative errno value on failure, in the manner of
 * liburing, and never touches errno.  The only state the library keeps is a
 * cached descriptor for /dev/sockdup, opened close-on-exec on first use,
 * shared by all threads and dropped in the child after fork().
 *
 * Three lines to hand a socket over:
 *
 *	char tok[SOCKDUP_TOKEN_SIZE];
 *	sockdup_share_token(fd, target_pid, 0, tok);   // sharer
 *	...send tok over any IPC...
 *	int newfd = sockdup_redeem_token(tok, 0);       // target
 */
#ifndef LIBSOCKDUP_H
#define LIBSOCKDUP_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/sockdup.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBSOCKDUP_VERSION_MAJOR	0
#define LIBSOCKDUP_VERSION_MINOR	1

/* A cookie: 128 opaque bits returned by a share. */
struct sockdup_cookie {
	unsigned char bytes[SOCKDUP_COOKIE_SIZE];
};

/*
 * Text form of a cookie: "sd1_" followed by 22 characters of unpadded
 * base64url (A-Z a-z 0-9 - _).  Safe unquoted in a shell, in environment
 * variables, argv, URLs and HTTP headers.
 */
#define SOCKDUP_TOKEN_PREFIX	"sd1_"
#define SOCKDUP_TOKEN_LEN	26	/* characters, without the NUL */
#define SOCKDUP_TOKEN_SIZE	27	/* bytes, with the NUL */

/* Flags of sockdup_redeem() and sockdup_redeem_token(). */
/* Keep the new descriptor open across execve() (default: close-on-exec). */
#define SOCKDUP_KEEP_ON_EXEC	(1U << 0)

int sockdup_share(int fd, pid_t pid, unsigned int ttl_ms,
		  struct sockdup_cookie *cookie);
int sockdup_share_pidfd(int fd, int pidfd, unsigned int ttl_ms,
			struct sockdup_cookie *cookie);
int sockdup_redeem(const struct sockdup_cookie *cookie, unsigned int flags);

/*
 * Batches: up to SOCKDUP_BATCH_MAX sockets under one cookie, redeemed all
 * or none, in the order they were shared.  sockdup_redeem_batch() returns
 * how many descriptors it wrote to @fds; -EMSGSIZE when the share holds
 * more than @room (sockdup_query() tells how many: info.nr_fds).  A share
 * of one socket can be redeemed with either function.
 */
int sockdup_share_batch(const int *fds, unsigned int nfds, pid_t pid,
			unsigned int ttl_ms, struct sockdup_cookie *cookie);
int sockdup_redeem_batch(const struct sockdup_cookie *cookie,
			 unsigned int flags, int *fds, unsigned int room);
int sockdup_revoke(const struct sockdup_cookie *cookie);
int sockdup_query(const struct sockdup_cookie *cookie,
		  struct sockdup_share_info *info);
int sockdup_revoke_id(unsigned long long id);
int sockdup_query_id(unsigned long long id, struct sockdup_share_info *info);
int sockdup_stats(struct sockdup_stats *stats);
int sockdup_list(struct sockdup_share_info *entries, unsigned int capacity,
		 unsigned long long *total);

int sockdup_token_encode(const struct sockdup_cookie *cookie, char *buf,
			 size_t size);
int sockdup_token_decode(const char *token, struct sockdup_cookie *cookie);

/*
 * Events: shares made through a descriptor from sockdup_events_open() each
 * queue one struct sockdup_event there when they end (redeemed, expired,
 * revoked, reaped).  The descriptor is pollable.
 */
/* Flags of sockdup_events_open(). */
/* Reads return -EAGAIN instead of waiting for an event. */
#define SOCKDUP_EVENTS_NONBLOCK	(1U << 0)

int sockdup_events_open(unsigned int flags);
int sockdup_share_on(int evfd, int fd, pid_t pid, unsigned int ttl_ms,
		     struct sockdup_cookie *cookie, unsigned long long *id);
int sockdup_share_pidfd_on(int evfd, int fd, int pidfd, unsigned int ttl_ms,
			   struct sockdup_cookie *cookie,
			   unsigned long long *id);
int sockdup_share_batch_on(int evfd, const int *fds, unsigned int nfds,
			   pid_t pid, unsigned int ttl_ms,
			   struct sockdup_cookie *cookie,
			   unsigned long long *id);
int sockdup_events_read(int evfd, struct sockdup_event *events,
			unsigned int max);
int sockdup_events_wait(int evfd, int timeout_ms,
			struct sockdup_event *event);

int sockdup_share_token(int fd, pid_t pid, unsigned int ttl_ms,
			char token[SOCKDUP_TOKEN_SIZE]);
int sockdup_redeem_token(const char *token, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBSOCKDUP_H */
