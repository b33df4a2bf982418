/*
 * vhdx.c - open a VHDX file and its parent chain, and read the virtual disk
 * through it. Spec: [MS-VHDX] 2.5.1 (block states), 2.6.2.6 (parent
 * locator), 2.3.3 (log replay at open).
 *
 * Read semantics of payload block states (2.5.1.1):
 *  - FULLY_PRESENT reads the block from this file.
 *  - PARTIALLY_PRESENT (differencing only) reads each sector from this file
 *    or from the parent, as the sector bitmap says (bit set = this file).
 *  - NOT_PRESENT and UNDEFINED read from the parent of a differencing disk;
 *    without a parent they read as zeros (the spec allows any content).
 *  - ZERO and UNMAPPED read as zeros. (Unmapped contents are "zero or the
 *    data before the unmap"; zeros is what a trimmed disk shows, and what
 *    qemu returns.)
 *
 * Opening order matters: the log is replayed before the metadata and BAT
 * are read, because the log is what makes them consistent.
 */
#include <config.h>
#include "vhdx.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bat.h"
#include "guid.h"
#include "internal.h"
#include "log.h"
#include "vr_err.h"
#include "vr_io.h"

/* ---- reports ---- */

void vhdx_report_add(struct vhdx_report *rep, bool is_error, const char *fmt,
		     ...)
{
	char line[VR_ERR_MSG_MAX + 16];
	char **grown;
	size_t n;
	va_list ap;

	if (!rep)
		return;
	n = (size_t)snprintf(line, sizeof(line),
			     "%s: ", is_error ? "error" : "warning");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (is_error)
		rep->errors++;
	else
		rep->warnings++;
	grown = reallocarray(rep->lines, rep->count + 1, sizeof(*grown));
	if (!grown)
		return; /* the count above still tells the caller */
	rep->lines = grown;
	rep->lines[rep->count] = strdup(line);
	if (rep->lines[rep->count])
		rep->count++;
}

void vhdx_report_free(struct vhdx_report *rep)
{
	size_t i;

	if (!rep)
		return;
	for (i = 0; i < rep->count; i++)
		free(rep->lines[i]);
	free(rep->lines);
	rep->lines = NULL;
	rep->count = 0;
}

/* ---- file access ---- */

int vhdx_file_pread(const struct vhdx *v, void *buf, size_t len, uint64_t off,
		    const char *what, struct vr_err *err)
{
	ssize_t got;

	if (off > v->file_size || len > v->file_size - off)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: %s at 0x%" PRIx64
				  ": truncated (file is %" PRIu64 " bytes)",
				  v->path, what, off, v->phys_size);
	got = vr_pread_full(v->fd, buf, len, off);
	if (got < 0)
		return vr_err_set(err, (int)got, "%s: %s at 0x%" PRIx64 ": %s",
				  v->path, what, off, strerror((int)-got));
	if ((size_t)got < len) {
		/* Only the log may promise bytes the file does not have yet. */
		if (off + (uint64_t)got < v->phys_size)
			return vr_err_set(err, -EIO,
					  "%s: %s at 0x%" PRIx64
					  ": file shrank while reading",
					  v->path, what, off);
		memset((char *)buf + got, 0, len - (size_t)got);
	}
	if (v->replay)
		vhdx_log_replay_overlay(v->replay, buf, len, off);
	vhdx_session_overlay(v, buf, len, off);
	return 0;
}

/* ---- open ---- */

static void vhdx_free_one(struct vhdx *v)
{
	if (!v)
		return;
	vhdx_session_end(v);
	if (v->fd >= 0)
		close(v->fd);
	vhdx_log_replay_free(v->replay);
	vhdx_meta_free(&v->meta);
	free(v->bat);
	free(v->path);
	free(v);
}

void vhdx_close(struct vhdx *v)
{
	while (v) {
		struct vhdx *parent = v->parent;

		vhdx_free_one(v);
		v = parent;
	}
}

struct vhdx_log_params vhdx_log_params_of(const struct vhdx *v,
					  const uint8_t *log_guid)
{
	return (struct vhdx_log_params){
		.path = v->path,
		.fd = v->fd,
		.file_size = v->phys_size,
		.log_offset = v->hdr.log_offset,
		.log_length = v->hdr.log_length,
		.log_guid = log_guid,
	};
}

/* Replay a pending log: into the file when writable, else into memory. */
static int vhdx_open_replay_log(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_log_params p = vhdx_log_params_of(v, v->hdr.log_guid);
	struct vhdx_log_replay *r;
	uint64_t last;
	int rc;

	if (vhdx_guid_is_zero(v->hdr.log_guid))
		return 0;
	rc = vhdx_log_load(&p, &r, err);
	if (rc < 0)
		return rc;
	v->log_entries_replayed = vhdx_log_replay_entries(r);
	last = vhdx_log_replay_last_file_offset(r);
	if (!(v->flags & VHDX_OPEN_RDWR)) {
		v->replay = r;
		if (last > v->file_size)
			v->file_size = last;
		vhdx_report_add(
			v->rep, false,
			"%s: log holds %u entries to replay; replayed in memory, file not changed",
			v->path, v->log_entries_replayed);
		return 0;
	}
	rc = vhdx_log_replay_apply(r, v->fd, v->path, err);
	vhdx_log_replay_free(r);
	if (rc < 0)
		return rc;
	if (last > v->phys_size)
		v->phys_size = v->file_size = last;
	memset(v->hdr.log_guid, 0, 16);
	rc = vhdx_header_update(v, err);
	if (rc < 0)
		return rc;
	vhdx_report_add(v->rep, false, "%s: replayed %u log entries", v->path,
			v->log_entries_replayed);
	return 0;
}

/* Open one file of a chain, without its parent. */
static int vhdx_open_one(const char *path, unsigned flags,
			 struct vhdx_report *rep, struct vhdx **out,
			 struct stat *st, struct vr_err *err)
{
	struct vhdx *v;
	int rc;

	if ((flags & VHDX_OPEN_RDWR) && (flags & VHDX_OPEN_IGNORE_CSUM))
		return vr_err_set(
			err, -EINVAL,
			"%s: checksum errors can be ignored only read-only",
			path);
	v = calloc(1, sizeof(*v));
	if (!v)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	v->fd = -1;
	v->flags = flags;
	v->rep = rep;
	v->path = strdup(path);
	if (!v->path) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	/*
	 * Parent paths come from the file: O_NONBLOCK keeps a FIFO there
	 * from hanging the open (it is refused below as not a regular file);
	 * regular files ignore the flag.
	 */
	v->fd = open(path, ((flags & VHDX_OPEN_RDWR) ? O_RDWR : O_RDONLY) |
				   O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (v->fd < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(v->fd, st) < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = vr_err_set(err, -EINVAL, "%s: not a regular file", path);
		goto fail;
	}
	v->phys_size = v->file_size = (uint64_t)st->st_size;
	rc = vhdx_header_load(v, err);
	if (rc < 0)
		goto fail;
	rc = vhdx_open_replay_log(v, err);
	if (rc < 0)
		goto fail;
	rc = vhdx_meta_load(v, err);
	if (rc < 0)
		goto fail;
	rc = vhdx_bat_load(v, err);
	if (rc < 0)
		goto fail;
	v->rep = NULL;
	*out = v;
	return 0;
fail:
	vhdx_free_one(v);
	return rc;
}

/* ---- parent chain ---- */

/*
 * Turn a locator value into a Linux path. Windows forms ("C:\a\b.vhdx",
 * "\\?\Volume{...}\a\b.vhdx", ".\b.vhdx", "..\x\b.vhdx") become paths
 * relative to the child's directory: relative ones keep their directories,
 * absolute ones are reduced to their file name, since a Windows drive means
 * nothing here and disks are normally copied as a set.
 */
static char *vhdx_parent_candidate(const char *child_dir, const char *value,
				   bool relative)
{
	const char *name = value;
	char *conv, *p, *out;

	if (value[0] == '/')
		return strdup(value); /* written by a Linux tool */
	if (!relative) {
		const char *slash = strrchr(value, '\\');

		name = slash ? slash + 1 : value;
		if (name[0] == '\0')
			return NULL;
	}
	conv = strdup(name);
	if (!conv)
		return NULL;
	for (p = conv; *p; p++)
		if (*p == '\\')
			*p = '/';
	/* ".\\b.vhdx" names the child's own directory: drop the "./". */
	for (p = conv; p[0] == '.' && p[1] == '/';)
		p += 2;
	if (asprintf(&out, "%s/%s", child_dir, p) < 0)
		out = NULL;
	free(conv);
	return out;
}

struct vhdx_chain_seen {
	dev_t dev[VHDX_MAX_CHAIN_DEPTH + 1];
	ino_t ino[VHDX_MAX_CHAIN_DEPTH + 1];
	unsigned n;
};

static bool vhdx_chain_seen_has(const struct vhdx_chain_seen *s,
				const struct stat *st)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (s->dev[i] == st->st_dev && s->ino[i] == st->st_ino)
			return true;
	return false;
}

bool vhdx_locator_holds_guid(const struct vhdx *v, const char *key,
			     const uint8_t guid[16])
{
	const char *val = vhdx_meta_locator_get(&v->meta, key);
	uint8_t g[16];

	/* Hyper-V writes an all-zero parent_linkage2 when unused. */
	return val && vhdx_guid_parse(val, g) == 0 && !vhdx_guid_is_zero(g) &&
	       !memcmp(g, guid, 16);
}

bool vhdx_parent_linkage_matches(const struct vhdx *child,
				 const struct vhdx *parent)
{
	return vhdx_locator_holds_guid(child, "parent_linkage",
				       parent->hdr.data_write_guid) ||
	       vhdx_locator_holds_guid(child, "parent_linkage2",
				       parent->hdr.data_write_guid);
}

/*
 * Find and open the parent of @child. Candidates come from @override alone
 * if given, else from the locator in the spec's order of preference.
 */
static int vhdx_open_parent(struct vhdx *child, const char *override,
			    struct vhdx_chain_seen *seen,
			    struct vhdx_report *rep, struct vr_err *err)
{
	static const struct {
		const char *key;
		bool relative;
	} order[] = {
		{ "relative_path", true },
		{ "volume_path", false },
		{ "absolute_win32_path", false },
	};
	const char *linkage =
		vhdx_meta_locator_get(&child->meta, "parent_linkage");
	char *dir_copy = strdup(child->path);
	const char *child_dir;
	struct vr_err mismatch = { 0 }, unusable = { 0 }, cand_err = { 0 };
	unsigned i;
	int rc = -ENOENT;

	if (!dir_copy)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  child->path);
	child_dir = dirname(dir_copy);
	if (memcmp(child->meta.locator_type, vhdx_guid_locator_vhdx, 16)) {
		char g[37];

		vhdx_guid_format(child->meta.locator_type, g);
		rc = vr_err_set(err, -ENOTSUP,
				"%s: parent locator type %s is not VHDX",
				child->path, g);
		goto out;
	}
	if (!linkage) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: parent locator has no parent_linkage",
				child->path);
		goto out;
	}
	for (i = 0; i < (override ? 1 : sizeof(order) / sizeof(order[0]));
	     i++) {
		const char *val = override
					  ? override
					  : vhdx_meta_locator_get(&child->meta,
								  order[i].key);
		char *cand;
		struct vhdx *p;
		struct stat st;
		char found[37];

		if (!val)
			continue;
		cand = override ? strdup(override)
				: vhdx_parent_candidate(child_dir, val,
							order[i].relative);
		if (!cand) {
			rc = vr_err_set(err, -ENOMEM, "%s: out of memory",
					child->path);
			goto out;
		}
		if (stat(cand, &st) < 0) {
			free(cand);
			continue;
		}
		/* Never open a device or FIFO a file's locator names. */
		if (!S_ISREG(st.st_mode)) {
			vr_err_set(&unusable, -EINVAL,
				   "%s: parent %s: not a regular file",
				   child->path, cand);
			free(cand);
			continue;
		}
		if (vhdx_chain_seen_has(seen, &st)) {
			rc = vr_err_set(err, -ELOOP,
					"%s: parent chain loops back to %s",
					child->path, cand);
			free(cand);
			goto out;
		}
		rc = vhdx_open_one(cand, child->flags & ~VHDX_OPEN_RDWR, rep,
				   &p, &st, &cand_err);
		free(cand);
		if (rc == -ENOMEM) {
			rc = vr_err_set(err, rc, "%s", cand_err.msg);
			goto out;
		}
		if (rc < 0) {
			/* A stale file at one locator path: try the next. */
			vr_err_set(&unusable, rc, "%s: parent %s", child->path,
				   cand_err.msg);
			vr_err_clear(&cand_err);
			continue;
		}
		if (!vhdx_parent_linkage_matches(child, p)) {
			char want[40];

			vhdx_guid_format(p->hdr.data_write_guid, found);
			snprintf(want, sizeof(want), "%s", linkage);
			vr_err_set(
				&mismatch, -ESTALE,
				"%s: parent %s does not match: linkage %s, parent DataWriteGuid {%s}",
				child->path, p->path, want, found);
			vhdx_free_one(p);
			continue;
		}
		if (p->meta.logical_sector_size !=
		    child->meta.logical_sector_size) {
			rc = vr_err_set(err, -VR_ECORRUPT,
					"%s: parent %s has %" PRIu32
					"-byte sectors, child %" PRIu32,
					child->path, p->path,
					p->meta.logical_sector_size,
					child->meta.logical_sector_size);
			vhdx_free_one(p);
			goto out;
		}
		seen->dev[seen->n] = st.st_dev;
		seen->ino[seen->n] = st.st_ino;
		seen->n++;
		child->parent = p;
		rc = 0;
		goto out;
	}
	if (mismatch.code) {
		rc = vr_err_set(err, mismatch.code, "%s", mismatch.msg);
	} else if (unusable.code) {
		rc = vr_err_set(err, unusable.code, "%s", unusable.msg);
	} else {
		const char *shown =
			override ? override
				 : vhdx_meta_locator_get(&child->meta,
							 "relative_path");

		if (!shown)
			shown = vhdx_meta_locator_get(&child->meta,
						      "absolute_win32_path");
		rc = vr_err_set(err, -ENOENT,
				"%s: parent %s not found (looked in %s)",
				child->path, shown ? shown : "(no path)",
				override ? "the given path" : child_dir);
	}
out:
	free(dir_copy);
	return rc;
}

int vhdx_open(const char *path, unsigned flags, const char *parent_path,
	      struct vhdx **out, struct vhdx_report *rep, struct vr_err *err)
{
	struct vhdx_chain_seen seen = { .n = 0 };
	struct vhdx *head, *cur;
	struct stat st;
	int rc;

	rc = vhdx_open_one(path, flags, rep, &head, &st, err);
	if (rc < 0)
		return rc;
	seen.dev[0] = st.st_dev;
	seen.ino[0] = st.st_ino;
	seen.n = 1;
	if (flags & VHDX_OPEN_NO_PARENT) {
		*out = head;
		return 0;
	}
	for (cur = head; cur->meta.has_parent; cur = cur->parent) {
		if (seen.n > VHDX_MAX_CHAIN_DEPTH) {
			rc = vr_err_set(err, -ELOOP,
					"%s: parent chain deeper than %d files",
					path, VHDX_MAX_CHAIN_DEPTH);
			goto fail;
		}
		rc = vhdx_open_parent(cur, cur == head ? parent_path : NULL,
				      &seen, rep, err);
		if (rc < 0)
			goto fail;
	}
	*out = head;
	return 0;
fail:
	vhdx_close(head);
	return rc;
}

/* ---- reading ---- */

static int vhdx_read_range_check(const struct vhdx *v, uint64_t len,
				 uint64_t off, struct vr_err *err)
{
	if (off > v->meta.virtual_size || len > v->meta.virtual_size - off)
		return vr_err_set(err, -EINVAL,
				  "%s: read of %" PRIu64 " bytes at 0x%" PRIx64
				  " is outside the disk (%" PRIu64 " bytes)",
				  v->path, len, off, v->meta.virtual_size);
	return 0;
}

/* Reading what a parent holds, from a file opened VHDX_OPEN_NO_PARENT. */
static int vhdx_err_no_parent(const struct vhdx *v, struct vr_err *err)
{
	return vr_err_set(err, -ENOENT,
			  "%s: differencing disk opened without its parent",
			  v->path);
}

static int vhdx_read_chain(struct vhdx *v, void *buf, size_t len, uint64_t off,
			   struct vr_err *err);

/* What the parent holds at [off, off + len); zeros past its end. */
static int vhdx_read_parent(struct vhdx *v, void *buf, size_t len, uint64_t off,
			    struct vr_err *err)
{
	struct vhdx *p = v->parent;
	uint64_t psize;
	size_t n = 0;

	if (!v->meta.has_parent) {
		memset(buf, 0, len);
		return 0;
	}
	if (!p)
		return vhdx_err_no_parent(v, err);
	psize = p->meta.virtual_size;
	if (off < psize)
		n = psize - off < len ? (size_t)(psize - off) : len;
	if (n < len)
		memset((char *)buf + n, 0, len - n);
	return n ? vhdx_read_chain(p, buf, n, off, err) : 0;
}

/* Partially present block: each sector from here or the parent. */
static int vhdx_read_partial(struct vhdx *v, uint64_t block, uint64_t entry,
			     uint8_t *buf, size_t len, uint64_t in_block,
			     struct vr_err *err)
{
	uint32_t lss = v->meta.logical_sector_size;
	uint64_t sectors_per_block = v->meta.block_size / lss;
	uint64_t chunk = block / v->geo.chunk_ratio;
	uint64_t sb_off = vhdx_bat_file_offset(vhdx_bat_bitmap(v, chunk));
	uint64_t first = in_block / lss;
	uint64_t last = (in_block + len - 1) / lss;
	/* The block's bits start on a byte: sectors_per_block >= 256. */
	uint64_t bit0 = (block % v->geo.chunk_ratio) * sectors_per_block;
	size_t nbytes = (size_t)(last / 8 - first / 8 + 1);
	uint8_t *bits = malloc(nbytes);
	size_t done = 0;
	int rc;

	if (!bits)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	rc = vhdx_file_pread(v, bits, nbytes, sb_off + bit0 / 8 + first / 8,
			     "sector bitmap", err);
	if (rc < 0)
		goto out;
	while (done < len) {
		uint64_t pos = in_block + done;
		uint64_t s = pos / lss;
		bool present = bits[s / 8 - first / 8] >> (s % 8) & 1;
		uint64_t end = (s + 1) * lss;
		size_t n;

		/* Extend the run over sectors with the same bit. */
		while (end < in_block + len) {
			uint64_t t = end / lss;

			if ((bool)(bits[t / 8 - first / 8] >> (t % 8) & 1) !=
			    present)
				break;
			end += lss;
		}
		if (end > in_block + len)
			end = in_block + len;
		n = (size_t)(end - pos);
		if (present)
			rc = vhdx_file_pread(v, buf + done, n,
					     vhdx_bat_file_offset(entry) + pos,
					     "payload block", err);
		else
			rc = vhdx_read_parent(v, buf + done, n,
					      block * v->meta.block_size + pos,
					      err);
		if (rc < 0)
			goto out;
		done += n;
	}
out:
	free(bits);
	return rc;
}

static int vhdx_read_chain(struct vhdx *v, void *buf, size_t len, uint64_t off,
			   struct vr_err *err)
{
	uint8_t *out = buf;
	uint32_t bs = v->meta.block_size;

	while (len > 0) {
		uint64_t block = off / bs;
		uint64_t in_block = off % bs;
		size_t n = bs - in_block < len ? (size_t)(bs - in_block) : len;
		uint64_t e = vhdx_bat_payload(v, block);
		int rc = 0;

		switch (vhdx_bat_state(e)) {
		case VHDX_BLOCK_FULLY_PRESENT:
			rc = vhdx_file_pread(v, out, n,
					     vhdx_bat_file_offset(e) + in_block,
					     "payload block", err);
			break;
		case VHDX_BLOCK_PARTIALLY_PRESENT:
			rc = vhdx_read_partial(v, block, e, out, n, in_block,
					       err);
			break;
		case VHDX_BLOCK_NOT_PRESENT:
		case VHDX_BLOCK_UNDEFINED:
			rc = vhdx_read_parent(v, out, n, off, err);
			break;
		default: /* ZERO, UNMAPPED; reserved states fail at open */
			memset(out, 0, n);
			break;
		}
		if (rc < 0)
			return rc;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vhdx_read(struct vhdx *v, void *buf, size_t len, uint64_t off,
	      struct vr_err *err)
{
	int rc = vhdx_read_range_check(v, len, off, err);

	return rc < 0 ? rc : vhdx_read_chain(v, buf, len, off, err);
}

/*
 * Classify the run at @off inside one block: zero without reading, data, or
 * (at the file @below) whatever @below holds.
 */
static int vhdx_extent_in_block(struct vhdx *v, const struct vhdx *below,
				uint64_t off, uint64_t len, uint64_t *run,
				enum vhdx_source *src, struct vr_err *err)
{
	uint32_t bs = v->meta.block_size;
	uint64_t n = bs - off % bs;
	uint64_t e = vhdx_bat_payload(v, off / bs);

	if (n > len)
		n = len;
	*run = n;
	if (v == below) {
		*src = VHDX_SOURCE_BELOW;
		return 0;
	}
	switch (vhdx_bat_state(e)) {
	case VHDX_BLOCK_FULLY_PRESENT:
	case VHDX_BLOCK_PARTIALLY_PRESENT:
		*src = VHDX_SOURCE_DATA;
		break;
	case VHDX_BLOCK_NOT_PRESENT:
	case VHDX_BLOCK_UNDEFINED:
		if (v->meta.has_parent && v->parent &&
		    off < v->parent->meta.virtual_size) {
			uint64_t pn = v->parent->meta.virtual_size - off;

			return vhdx_extent_in_block(v->parent, below, off,
						    pn < n ? pn : n, run, src,
						    err);
		}
		if (v->meta.has_parent && !v->parent)
			return vhdx_err_no_parent(v, err);
		*src = VHDX_SOURCE_ZERO;
		break;
	default:
		*src = VHDX_SOURCE_ZERO;
		break;
	}
	return 0;
}

int vhdx_extent_source(struct vhdx *v, const struct vhdx *below, uint64_t off,
		       uint64_t len, uint64_t *run, enum vhdx_source *src,
		       struct vr_err *err)
{
	enum vhdx_source first = VHDX_SOURCE_ZERO;
	uint64_t total = 0;
	int rc;

	rc = vhdx_read_range_check(v, len, off, err);
	if (rc < 0)
		return rc;
	if (len == 0)
		return vr_err_set(err, -EINVAL, "%s: empty extent query",
				  v->path);
	while (total < len) {
		enum vhdx_source s = VHDX_SOURCE_ZERO;
		uint64_t n = 0;

		/*
		 * Past the first block a failure only ends the run: the next
		 * call starts there and reports it, so @err is not set now
		 * for a call that succeeds.
		 */
		rc = vhdx_extent_in_block(v, below, off + total, len - total,
					  &n, &s, total ? NULL : err);
		if (rc < 0 && total > 0)
			break;
		if (rc < 0)
			return rc;
		if (total == 0)
			first = s;
		else if (s != first)
			break;
		total += n;
	}
	*run = total;
	*src = first;
	return 0;
}

int vhdx_range_source(struct vhdx *v, const struct vhdx *below, uint64_t off,
		      uint64_t len, enum vhdx_source *src, struct vr_err *err)
{
	bool zero = false, under = false;
	uint64_t done = 0;

	while (done < len) {
		enum vhdx_source s;
		uint64_t run;
		int rc = vhdx_extent_source(v, below, off + done, len - done,
					    &run, &s, err);

		if (rc < 0)
			return rc;
		if (s == VHDX_SOURCE_DATA) {
			*src = VHDX_SOURCE_DATA;
			return 0;
		}
		zero |= s == VHDX_SOURCE_ZERO;
		under |= s == VHDX_SOURCE_BELOW;
		done += run;
	}
	*src = zero && under ? VHDX_SOURCE_DATA
	       : under	     ? VHDX_SOURCE_BELOW
			     : VHDX_SOURCE_ZERO;
	return 0;
}

int vhdx_extent(struct vhdx *v, uint64_t off, uint64_t len, uint64_t *run,
		bool *is_zero, struct vr_err *err)
{
	enum vhdx_source src;
	int rc = vhdx_extent_source(v, NULL, off, len, run, &src, err);

	*is_zero = src == VHDX_SOURCE_ZERO;
	return rc;
}

/* ---- description ---- */

void vhdx_get_info(const struct vhdx *v, struct vhdx_info *info)
{
	uint64_t b;

	memset(info, 0, sizeof(*info));
	if (v->meta.has_parent)
		info->type = VHDX_TYPE_DIFFERENCING;
	else if (v->meta.leave_blocks_allocated)
		info->type = VHDX_TYPE_FIXED;
	else
		info->type = VHDX_TYPE_DYNAMIC;
	info->virtual_size = v->meta.virtual_size;
	info->block_size = v->meta.block_size;
	info->logical_sector_size = v->meta.logical_sector_size;
	info->physical_sector_size = v->meta.physical_sector_size;
	info->leave_blocks_allocated = v->meta.leave_blocks_allocated;
	info->has_parent = v->meta.has_parent;
	info->chunk_ratio = v->geo.chunk_ratio;
	info->data_blocks = v->geo.data_blocks;
	info->bat_entries = v->geo.entries;
	for (b = 0; b < v->geo.data_blocks; b++)
		info->blocks_in_state[vhdx_bat_state(vhdx_bat_payload(v, b))]++;
	for (b = 0; b < v->geo.bitmap_blocks; b++) {
		uint64_t idx =
			b * (v->geo.chunk_ratio + 1ull) + v->geo.chunk_ratio;

		if (idx < v->geo.entries &&
		    vhdx_bat_state(v->bat[idx]) == VHDX_SB_PRESENT)
			info->bitmap_blocks_present++;
	}
	memcpy(info->virtual_disk_id, v->meta.page83, 16);
	memcpy(info->file_write_guid, v->hdr.file_write_guid, 16);
	memcpy(info->data_write_guid, v->hdr.data_write_guid, 16);
	memcpy(info->log_guid, v->hdr.log_guid, 16);
	info->header_sequence = v->hdr.sequence;
	info->current_header = v->cur_header;
	info->log_offset = v->hdr.log_offset;
	info->log_length = v->hdr.log_length;
	info->log_entries_replayed = v->log_entries_replayed;
	info->log_replayed_in_memory = v->replay != NULL;
	info->file_size = v->phys_size;
	snprintf(info->creator, sizeof(info->creator), "%s", v->creator);
}

const char *vhdx_path(const struct vhdx *v)
{
	return v->path;
}

const struct vhdx *vhdx_parent(const struct vhdx *v)
{
	return v->parent;
}

uint64_t vhdx_virtual_size(const struct vhdx *v)
{
	return v->meta.virtual_size;
}

size_t vhdx_locator_count(const struct vhdx *v)
{
	return v->meta.locator_count;
}

const uint8_t *vhdx_locator_type(const struct vhdx *v)
{
	return v->meta.locator_type;
}

void vhdx_locator_entry(const struct vhdx *v, size_t i, const char **key,
			const char **value)
{
	*key = v->meta.locator[i].key;
	*value = v->meta.locator[i].value;
}

const char *vhdx_block_state_name(unsigned state)
{
	static const char *const names[8] = {
		"not present",	 "undefined",	      "zero",
		"unmapped",	 "reserved",	      "reserved",
		"fully present", "partially present",
	};

	return state < 8 ? names[state] : "reserved";
}
