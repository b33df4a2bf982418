/*
 * freeze.c - the freeze protocol (freeze.h). One request at a time over a
 * stream socket, all integers little-endian:
 *
 *	request:  u32 op, u32 0, u64 a, u64 b
 *	reply:    i32 status (0 or -errno), u32 0, u64 length, then that
 *		  many bytes: the result, or the error's one-line message
 *
 *	DESCRIBE		-> disk record, parents
 *	BEGIN  a=chunk size, b=depth	-> disk record, then the map
 *	READ   a=offset, b=length	-> the frozen bytes
 *	END    a=committed		-> nothing
 *
 * The disk record: VirtualDiskId (16), DataWriteGuid (16), size (8),
 * bitmap generation (8), trust (4), parent count N (4), then N times
 * VirtualDiskId and DataWriteGuid of a parent, nearest first.
 */
#include <config.h>
#include "freeze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhdx.h"
#include "vr_endian.h"
#include "vr_err.h"

enum freeze_op {
	FREEZE_DESCRIBE = 1,
	FREEZE_BEGIN = 2,
	FREEZE_READ = 3,
	FREEZE_END = 4,
};

#define FREEZE_REQ_SIZE 24
#define FREEZE_REPLY_SIZE 16
#define FREEZE_RECORD_SIZE 56
#define FREEZE_MAX_READ (16u * 1024 * 1024)
/* the largest reply: a map of a 64 TiB disk in 4 KiB chunks */
#define FREEZE_MAX_REPLY (1ull << 34)

struct freeze_server {
	char *path;
	struct track *t;
	pthread_mutex_t *lock;
	int listen_fd;
	int client_fd; /* the one served, or -1; under @mu */
	bool stopping;
	pthread_mutex_t mu;
	pthread_t thread;
};

struct freeze_client {
	char *path;
	int fd;
};

/* The abstract socket address of the disk @path. */
static int freeze_address(const char *path, struct sockaddr_un *sa,
			  socklen_t *len, struct vr_err *err)
{
	struct stat st;
	int n;

	if (stat(path, &st) < 0)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "vhdrecover-freeze:%ju:%ju", (uintmax_t)st.st_dev,
		     (uintmax_t)st.st_ino);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	return 0;
}

static int freeze_io(int fd, void *buf, size_t len, bool out)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL)
				: recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the serving side ---- */

static void freeze_put_record(uint8_t *p, const struct freeze_info *info)
{
	unsigned i;

	memcpy(p, info->disk.disk_id, 16);
	memcpy(p + 16, info->disk.data_write_guid, 16);
	vr_put_le64(p + 32, info->disk.size);
	vr_put_le64(p + 40, info->disk.generation);
	vr_put_le32(p + 48, (uint32_t)info->disk.trust);
	vr_put_le32(p + 52, info->nparents);
	for (i = 0; i < info->nparents; i++) {
		memcpy(p + FREEZE_RECORD_SIZE + 32 * i,
		       info->parents[i].disk_id, 16);
		memcpy(p + FREEZE_RECORD_SIZE + 32 * i + 16,
		       info->parents[i].data_write_guid, 16);
	}
}

static size_t freeze_record_len(const struct freeze_info *info)
{
	return FREEZE_RECORD_SIZE + 32 * (size_t)info->nparents;
}

void freeze_info_parents(const struct vhdx *top, struct freeze_info *info)
{
	const struct vhdx *p = vhdx_parent(top);

	for (info->nparents = 0; p && info->nparents < FREEZE_MAX_PARENTS;
	     p = vhdx_parent(p), info->nparents++) {
		struct vhdx_info vi;

		vhdx_get_info(p, &vi);
		memcpy(info->parents[info->nparents].disk_id,
		       vi.virtual_disk_id, 16);
		memcpy(info->parents[info->nparents].data_write_guid,
		       vi.data_write_guid, 16);
	}
}

static int freeze_reply(int fd, int status, const void *a, size_t alen,
			const void *b, size_t blen)
{
	uint8_t hdr[FREEZE_REPLY_SIZE] = { 0 };
	int rc;

	vr_put_le32(hdr, (uint32_t)status);
	vr_put_le64(hdr + 8, alen + blen);
	rc = freeze_io(fd, hdr, sizeof(hdr), true);
	if (rc == 0 && alen)
		rc = freeze_io(fd, (void *)a, alen, true);
	if (rc == 0 && blen)
		rc = freeze_io(fd, (void *)b, blen, true);
	return rc;
}

static int freeze_reply_error(int fd, int status, const struct vr_err *err)
{
	const char *msg = err->msg[0] ? err->msg : strerror(-status);

	return freeze_reply(fd, status, msg, strlen(msg), NULL, 0);
}

/* One request of the client on @fd; *@frozen tracks its freeze. */
static int freeze_serve_one(struct freeze_server *s, int fd, bool *frozen)
{
	uint8_t req[FREEZE_REQ_SIZE],
		rec[FREEZE_RECORD_SIZE + 32 * FREEZE_MAX_PARENTS];
	struct freeze_info info;
	struct vr_err err = { 0 };
	uint8_t *data = NULL;
	uint64_t a, b, nchunks;
	int rc;

	rc = freeze_io(fd, req, sizeof(req), false);
	if (rc < 0)
		return rc;
	a = vr_get_le64(req + 8);
	b = vr_get_le64(req + 16);
	memset(&info, 0, sizeof(info));
	pthread_mutex_lock(s->lock);
	switch (vr_get_le32(req)) {
	case FREEZE_DESCRIBE:
		track_describe(s->t, &info.disk);
		freeze_info_parents(track_vhdx(s->t), &info);
		pthread_mutex_unlock(s->lock);
		freeze_put_record(rec, &info);
		return freeze_reply(fd, 0, rec, freeze_record_len(&info), NULL,
				    0);
	case FREEZE_BEGIN:
		rc = a > UINT32_MAX || b > FREEZE_MAX_PARENTS
			     ? vr_err_set(&err, -EINVAL, "%s: bad freeze",
					  s->path)
			     : track_freeze(s->t, (uint32_t)a, (unsigned)b,
					    &data, &info.disk, &err);
		*frozen |= rc == 0;
		freeze_info_parents(track_vhdx(s->t), &info);
		pthread_mutex_unlock(s->lock);
		if (rc < 0)
			return freeze_reply_error(fd, rc, &err);
		freeze_put_record(rec, &info);
		nchunks = info.disk.size / a + (info.disk.size % a != 0);
		rc = freeze_reply(fd, 0, rec, freeze_record_len(&info), data,
				  (size_t)nchunks);
		free(data);
		return rc;
	case FREEZE_READ:
		data = b <= FREEZE_MAX_READ ? malloc(b ? (size_t)b : 1) : NULL;
		rc = data ? track_freeze_read(s->t, data, (size_t)b, a, &err)
			  : vr_err_set(&err, -EINVAL,
				       "%s: bad frozen read of %" PRIu64
				       " bytes",
				       s->path, b);
		pthread_mutex_unlock(s->lock);
		rc = rc < 0 ? freeze_reply_error(fd, rc, &err)
			    : freeze_reply(fd, 0, data, (size_t)b, NULL, 0);
		free(data);
		return rc;
	case FREEZE_END:
		rc = track_thaw(s->t, a != 0, &err);
		*frozen = false;
		pthread_mutex_unlock(s->lock);
		return rc < 0 ? freeze_reply_error(fd, rc, &err)
			      : freeze_reply(fd, 0, NULL, 0, NULL, 0);
	default:
		pthread_mutex_unlock(s->lock);
		vr_err_set(&err, -EINVAL, "%s: unknown request", s->path);
		freeze_reply_error(fd, -EINVAL, &err);
		return -EINVAL;
	}
}

/* Is the peer on @fd us (same uid) or root? */
static bool freeze_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       (cred.uid == 0 || cred.uid == geteuid());
}

static void *freeze_server_run(void *arg)
{
	struct freeze_server *s = arg;

	for (;;) {
		bool frozen = false;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* shut down by freeze_server_stop() */
		}
		pthread_mutex_lock(&s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			break;
		}
		s->client_fd = fd;
		pthread_mutex_unlock(&s->mu);
		while (freeze_peer_ok(fd) &&
		       freeze_serve_one(s, fd, &frozen) == 0)
			;
		if (frozen) { /* the cycle went away without a word */
			pthread_mutex_lock(s->lock);
			track_thaw(s->t, false, NULL);
			pthread_mutex_unlock(s->lock);
		}
		pthread_mutex_lock(&s->mu);
		s->client_fd = -1;
		pthread_mutex_unlock(&s->mu);
		close(fd);
	}
	return NULL;
}

int freeze_server_start(const char *disk_path, struct track *t,
			pthread_mutex_t *lock, struct freeze_server **out,
			struct vr_err *err)
{
	struct freeze_server *s = calloc(1, sizeof(*s));
	struct sockaddr_un sa;
	socklen_t len;
	int rc;

	if (!s || !(s->path = strdup(disk_path))) {
		free(s);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", disk_path);
	}
	s->t = t;
	s->lock = lock;
	s->client_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = s->listen_fd < 0 ? vr_err_set(err, -errno, "%s: socket: %s",
					   disk_path, strerror(errno))
			      : freeze_address(disk_path, &sa, &len, err);
	if (rc == 0 && bind(s->listen_fd, (struct sockaddr *)&sa, len) < 0)
		rc = vr_err_set(err, -errno,
				"%s: freeze socket: %s (served twice?)",
				disk_path, strerror(errno));
	if (rc == 0 && listen(s->listen_fd, 4) < 0)
		rc = vr_err_set(err, -errno, "%s: listen: %s", disk_path,
				strerror(errno));
	if (rc == 0 && pthread_create(&s->thread, NULL, freeze_server_run, s))
		rc = vr_err_set(err, -EAGAIN, "%s: no thread for freezes",
				disk_path);
	if (rc < 0) {
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		pthread_mutex_destroy(&s->mu);
		free(s->path);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void freeze_server_stop(struct freeze_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	if (s->client_fd >= 0)
		shutdown(s->client_fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	shutdown(s->listen_fd, SHUT_RDWR); /* wakes accept() */
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

/* ---- the cycle's side ---- */

int freeze_connect(const char *disk_path, struct freeze_client **out,
		   struct vr_err *err)
{
	struct freeze_client *fc = calloc(1, sizeof(*fc));
	struct sockaddr_un sa;
	socklen_t len;
	int rc;

	if (!fc || !(fc->path = strdup(disk_path))) {
		free(fc);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", disk_path);
	}
	fc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fc->fd < 0 ? vr_err_set(err, -errno, "%s: socket: %s", disk_path,
				     strerror(errno))
			: freeze_address(disk_path, &sa, &len, err);
	if (rc == 0 && connect(fc->fd, (struct sockaddr *)&sa, len) < 0)
		rc = errno == ECONNREFUSED || errno == ENOENT
			     ? vr_err_set(err, -ENOENT,
					  "%s: in use by a writer that does "
					  "not serve freezes",
					  disk_path)
			     : vr_err_set(err, -errno, "%s: connect: %s",
					  disk_path, strerror(errno));
	if (rc < 0) {
		freeze_close(fc);
		return rc;
	}
	*out = fc;
	return 0;
}

void freeze_close(struct freeze_client *fc)
{
	if (!fc)
		return;
	if (fc->fd >= 0)
		close(fc->fd);
	free(fc->path);
	free(fc);
}

/*
 * Send a request and take its reply: a new buffer *@out of *@len (may be
 * NULL when no result is wanted), or the server's message in @err.
 */
static int freeze_call(struct freeze_client *fc, enum freeze_op op, uint64_t a,
		       uint64_t b, uint8_t **out, size_t *len,
		       struct vr_err *err)
{
	uint8_t req[FREEZE_REQ_SIZE] = { 0 }, hdr[FREEZE_REPLY_SIZE];
	uint64_t n;
	int32_t status;
	uint8_t *buf;
	int rc;

	vr_put_le32(req, op);
	vr_put_le64(req + 8, a);
	vr_put_le64(req + 16, b);
	rc = freeze_io(fc->fd, req, sizeof(req), true);
	if (rc == 0)
		rc = freeze_io(fc->fd, hdr, sizeof(hdr), false);
	if (rc < 0)
		return vr_err_set(err, rc, "%s: the serving process: %s",
				  fc->path, strerror(-rc));
	status = (int32_t)vr_get_le32(hdr);
	n = vr_get_le64(hdr + 8);
	if (n > FREEZE_MAX_REPLY || status > 0 || status < -4095)
		return vr_err_set(err, -EPROTO, "%s: bad freeze reply",
				  fc->path);
	buf = malloc(n ? (size_t)n + 1 : 1);
	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", fc->path);
	rc = freeze_io(fc->fd, buf, (size_t)n, false);
	if (rc < 0) {
		free(buf);
		return vr_err_set(err, rc, "%s: the serving process: %s",
				  fc->path, strerror(-rc));
	}
	if (status < 0) {
		buf[n] = '\0';
		rc = vr_err_set(err, status, "%s", (char *)buf);
		free(buf);
		return rc;
	}
	if (out) {
		*out = buf;
		*len = (size_t)n;
	} else {
		free(buf);
	}
	return 0;
}

/* Decode a disk record at the start of @buf (@len). */
static int freeze_get_record(struct freeze_client *fc, const uint8_t *buf,
			     size_t len, struct freeze_info *info,
			     struct vr_err *err)
{
	unsigned i;

	memset(info, 0, sizeof(*info));
	if (len < FREEZE_RECORD_SIZE ||
	    vr_get_le32(buf + 52) > FREEZE_MAX_PARENTS ||
	    len < FREEZE_RECORD_SIZE + 32 * (size_t)vr_get_le32(buf + 52))
		return vr_err_set(err, -EPROTO, "%s: bad freeze record",
				  fc->path);
	memcpy(info->disk.disk_id, buf, 16);
	memcpy(info->disk.data_write_guid, buf + 16, 16);
	info->disk.size = vr_get_le64(buf + 32);
	info->disk.generation = vr_get_le64(buf + 40);
	info->disk.trust = (int)vr_get_le32(buf + 48);
	info->nparents = vr_get_le32(buf + 52);
	for (i = 0; i < info->nparents; i++) {
		memcpy(info->parents[i].disk_id,
		       buf + FREEZE_RECORD_SIZE + 32 * i, 16);
		memcpy(info->parents[i].data_write_guid,
		       buf + FREEZE_RECORD_SIZE + 32 * i + 16, 16);
	}
	return 0;
}

int freeze_describe(struct freeze_client *fc, struct freeze_info *info,
		    struct vr_err *err)
{
	uint8_t *buf;
	size_t len;
	int rc = freeze_call(fc, FREEZE_DESCRIBE, 0, 0, &buf, &len, err);

	if (rc == 0) {
		rc = freeze_get_record(fc, buf, len, info, err);
		free(buf);
	}
	return rc;
}

int freeze_begin(struct freeze_client *fc, uint32_t chunk_size,
		 unsigned below_depth, struct freeze_info *info, uint8_t **map,
		 struct vr_err *err)
{
	uint8_t *buf;
	size_t len, rec;
	uint64_t nchunks;
	int rc = freeze_call(fc, FREEZE_BEGIN, chunk_size, below_depth, &buf,
			     &len, err);

	if (rc < 0)
		return rc;
	rc = freeze_get_record(fc, buf, len, info, err);
	rec = freeze_record_len(info);
	nchunks = info->disk.size / chunk_size +
		  (info->disk.size % chunk_size != 0);
	if (rc == 0 && len - rec != nchunks)
		rc = vr_err_set(err, -EPROTO, "%s: bad freeze map", fc->path);
	if (rc == 0) {
		memmove(buf, buf + rec, (size_t)nchunks);
		*map = buf;
		return 0;
	}
	free(buf);
	freeze_end(fc, false, NULL);
	return rc;
}

int freeze_read(struct freeze_client *fc, void *buf, size_t len, uint64_t off,
		struct vr_err *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		size_t n = len < FREEZE_MAX_READ ? len : FREEZE_MAX_READ, got;
		uint8_t *data;
		int rc = freeze_call(fc, FREEZE_READ, off, n, &data, &got, err);

		if (rc < 0)
			return rc;
		if (got != n) {
			free(data);
			return vr_err_set(err, -EPROTO, "%s: short frozen read",
					  fc->path);
		}
		memcpy(p, data, n);
		free(data);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int freeze_end(struct freeze_client *fc, bool committed, struct vr_err *err)
{
	return freeze_call(fc, FREEZE_END, committed, 0, NULL, NULL, err);
}
