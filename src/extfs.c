/*
 * extfs.c - ext2/3/4 through libext2fs (extfs.h, guestfs.h). Our io_manager
 * reads blocks from a struct disk at the partition's offset; libext2fs finds
 * the channel's context through the name it passes to open ("vr-disk:"
 * and the address of a struct extfs_io), as it offers no other way.
 */
#include <config.h>
#include "extfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <pthread.h>

#include "disk.h"
#include "guestfs.h"
#include "strmap.h"
#include "vr_endian.h"
#include "vr_err.h"

/* The superblock: 1024 bytes at 1024, fields little-endian. */
#define EXTFS_SB_SIZE 1024
#define EXTFS_SB_BLOCKS_LO 4   /* u32 */
#define EXTFS_SB_LOG_BLOCK 24  /* u32: block size 1024 << this */
#define EXTFS_SB_MAGIC 56      /* u16 */
#define EXTFS_SB_INCOMPAT 96   /* u32 */
#define EXTFS_SB_BLOCKS_HI 336 /* u32, with the 64bit feature */
#define EXTFS_LOG_BLOCK_MAX 6u /* 64 KiB */

/* Directories deeper than this are not walked: a corrupt tree cannot loop. */
#define EXTFS_MAX_DEPTH 128
#define EXTFS_IO_PREFIX "vr-disk:"

/* What a channel reads from. */
struct extfs_io {
	ext2_filsys fs; /* once open */
	struct disk *d;
	uint64_t offset, size;
	struct vr_err *err; /* the error of the call in progress */
};

struct extfs {
	ext2_filsys fs;
	struct extfs_io io;
};

static struct struct_io_manager extfs_io_manager;
static const struct guestfs_ops extfs_ops;
static const char *extfs_type(struct extfs *fs);
static void extfs_uuid(const struct extfs *fs, char out[37]);
static int64_t extfs_read(void *impl, uint64_t ino, void *buf, size_t len,
			  uint64_t off, struct vr_err *err);

static errcode_t extfs_io_open(const char *name, int flags, io_channel *out)
{
	struct extfs_io *io = NULL;
	io_channel ch;

	if (strncmp(name, EXTFS_IO_PREFIX, strlen(EXTFS_IO_PREFIX)) ||
	    sscanf(name + strlen(EXTFS_IO_PREFIX), "%p", (void **)&io) != 1 ||
	    !io)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EROFS;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return ENOMEM;
	ch->name = strdup(name);
	if (!ch->name) {
		free(ch);
		return ENOMEM;
	}
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = &extfs_io_manager;
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = io;
	*out = ch;
	return 0;
}

static errcode_t extfs_io_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t extfs_io_set_blksize(io_channel ch, int blksize)
{
	if (blksize < 512 || blksize > 65536 || (blksize & (blksize - 1)))
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

/* @count blocks, or -@count bytes, at @block: checked against the size. */
static errcode_t extfs_io_read64(io_channel ch, unsigned long long block,
				 int count, void *data)
{
	struct extfs_io *io = ch->private_data;
	uint64_t len = count < 0 ? (uint64_t) - (int64_t)count
				 : (uint64_t)count * (uint64_t)ch->block_size;
	uint64_t off;

	if (__builtin_mul_overflow(block, (uint64_t)ch->block_size, &off) ||
	    off > io->size || len > io->size - off)
		return EXT2_ET_LLSEEK_FAILED;
	if (len == 0)
		return 0;
	if (disk_read(io->d, data, (size_t)len, io->offset + off, io->err) < 0)
		return EXT2_ET_SHORT_READ;
	return 0;
}

static errcode_t extfs_io_read(io_channel ch, unsigned long block, int count,
			       void *data)
{
	return extfs_io_read64(ch, block, count, data);
}

static errcode_t extfs_io_write(io_channel ch, unsigned long block, int count,
				const void *data)
{
	(void)ch;
	(void)block;
	(void)count;
	(void)data;
	return EROFS;
}

static errcode_t extfs_io_write64(io_channel ch, unsigned long long block,
				  int count, const void *data)
{
	return extfs_io_write(ch, (unsigned long)block, count, data);
}

static errcode_t extfs_io_flush(io_channel ch)
{
	(void)ch;
	return 0;
}

static struct struct_io_manager extfs_io_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "vhdrecover disk",
	.open = extfs_io_open,
	.close = extfs_io_close,
	.set_blksize = extfs_io_set_blksize,
	.read_blk = extfs_io_read,
	.write_blk = extfs_io_write,
	.flush = extfs_io_flush,
	.read_blk64 = extfs_io_read64,
	.write_blk64 = extfs_io_write64,
};

/*
 * Let the channel's reads report into @err for the call in progress;
 * returns what was there, to put back when the call ends (a read inside
 * a walk's visitor must not leave the walk writing into the visitor's
 * finished frame).
 */
static struct vr_err *extfs_io_err(struct extfs *fs, struct vr_err *err)
{
	struct vr_err *saved = fs->io.err;

	fs->io.err = err;
	return saved;
}

/* A libext2fs error as our one line (the disk's error if it had one). */
static int extfs_fail(struct extfs_io *io, errcode_t ec, const char *what,
		      struct vr_err *err)
{
	/* libext2fs 1.47 can leave a failed inode read in its inode cache
	 * under another inode's number: forget what it cached */
	if (io->fs)
		ext2fs_flush_icache(io->fs);
	if (err && err->code)
		return err->code;
	return vr_err_set(err, ec == ENOMEM ? -ENOMEM : -VR_ECORRUPT,
			  "%s: ext file system at 0x%" PRIx64 ": %s: %s",
			  disk_path(io->d), io->offset, what,
			  error_message(ec));
}

/* libext2fs's messages ("Ext2 inode is not a directory"), not numbers. */
static pthread_once_t extfs_messages_once = PTHREAD_ONCE_INIT;

static void extfs_messages_init(void)
{
	initialize_ext2_error_table();
}

/*
 * The superblock at @offset, before libext2fs sees it: the magic ("no ext
 * file system here" is no corruption), then a size that fits the
 * partition, since libext2fs sizes its group tables from the block count
 * before reading them (a tiny volume claiming millions of groups would
 * have it allocate gigabytes).
 */
static int extfs_super_check(struct disk *d, uint64_t offset, uint64_t size,
			     struct vr_err *err)
{
	uint8_t sb[EXTFS_SB_SIZE];
	uint64_t blocks, block_size;
	int rc;

	rc = size < 2 * EXTFS_SB_SIZE ? -EINVAL
				      : disk_read(d, sb, sizeof(sb),
						  offset + EXTFS_SB_SIZE, err);
	if (rc == 0 && vr_get_le16(sb + EXTFS_SB_MAGIC) != EXT2_SUPER_MAGIC)
		rc = -EINVAL;
	if (rc == -EINVAL)
		return vr_err_set(err, -EINVAL,
				  "%s: no ext2/3/4 file system at 0x%" PRIx64,
				  disk_path(d), offset);
	if (rc < 0)
		return rc;
	blocks = vr_get_le32(sb + EXTFS_SB_BLOCKS_LO);
	if (vr_get_le32(sb + EXTFS_SB_INCOMPAT) & EXT4_FEATURE_INCOMPAT_64BIT)
		blocks |= (uint64_t)vr_get_le32(sb + EXTFS_SB_BLOCKS_HI) << 32;
	if (vr_get_le32(sb + EXTFS_SB_LOG_BLOCK) > EXTFS_LOG_BLOCK_MAX)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: ext file system at 0x%" PRIx64
				  ": block size 2^%u KiB is out of range",
				  disk_path(d), offset,
				  vr_get_le32(sb + EXTFS_SB_LOG_BLOCK));
	block_size = 1024u << vr_get_le32(sb + EXTFS_SB_LOG_BLOCK);
	if (blocks > size / block_size)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: ext file system at 0x%" PRIx64
				  ": %" PRIu64 " blocks of %" PRIu64
				  " bytes do not fit its %" PRIu64 " bytes",
				  disk_path(d), offset, blocks, block_size,
				  size);
	return 0;
}

int extfs_open(struct disk *d, uint64_t offset, uint64_t size,
	       struct guestfs **out, struct vr_err *err)
{
	struct extfs *x = calloc(1, sizeof(*x));
	char name[64], label[EXT2_LABEL_LEN + 1], uuid[37];
	errcode_t ec;
	int rc;

	if (!x)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(d));
	x->io = (struct extfs_io){
		.d = d, .offset = offset, .size = size, .err = err
	};
	rc = extfs_super_check(d, offset, size, err);
	if (rc < 0) {
		free(x);
		return rc;
	}
	pthread_once(&extfs_messages_once, extfs_messages_init);
	snprintf(name, sizeof(name), EXTFS_IO_PREFIX "%p", (void *)&x->io);
	ec = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0,
			  0, &extfs_io_manager, &x->fs);
	if (ec) {
		rc = extfs_fail(&x->io, ec, "open", err);
		free(x);
		return rc;
	}
	x->io.err = NULL; /* @err lives no longer than this call */
	x->io.fs = x->fs;
	memcpy(label, x->fs->super->s_volume_name, EXT2_LABEL_LEN);
	label[EXT2_LABEL_LEN] = '\0';
	extfs_uuid(x, uuid);
	return guestfs_new(extfs_type(x), &extfs_ops, x, label, uuid, false,
			   out, err);
}

static void extfs_close(void *impl)
{
	struct extfs *fs = impl;

	ext2fs_close_free(&fs->fs);
	free(fs);
}

/* "ext4" if it has extents or 64-bit groups, "ext3" with a journal. */
static const char *extfs_type(struct extfs *fs)
{
	struct ext2_super_block *sb = fs->fs->super;

	if (ext2fs_has_feature_extents(sb) || ext2fs_has_feature_64bit(sb) ||
	    ext2fs_has_feature_flex_bg(sb))
		return "ext4";
	return ext2fs_has_feature_journal(sb) ? "ext3" : "ext2";
}

static void extfs_uuid(const struct extfs *fs, char out[37])
{
	const uint8_t *u = fs->fs->super->s_uuid;

	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* ---- walking ---- */

struct extfs_walk {
	struct extfs *fs;
	ext2fs_inode_bitmap seen; /* directories walked: hostile loops end */
	int (*visit)(void *ctx, const struct guestfs_entry *e);
	void *ctx;
	struct vr_err *err;
	struct strmap *names; /* of the directory being listed */
	char path[4096];
	size_t len; /* of path */
	unsigned depth;
	int rc; /* what stopped the walk */
};

static int extfs_walk_dir(struct extfs_walk *w, ext2_ino_t dir);

/* A symlink's target into @buf (NUL-terminated, cut to fit). */
static int extfs_symlink(struct extfs *fs, ext2_ino_t ino,
			 struct ext2_inode *inode, char *buf, size_t len,
			 struct vr_err *err)
{
	uint64_t size = EXT2_I_SIZE(inode);
	int64_t got;

	if (size >= len)
		size = len - 1;
	if (ext2fs_is_fast_symlink(inode)) {
		memcpy(buf, (const char *)inode->i_block, size);
		buf[size] = '\0';
		return 0;
	}
	got = extfs_read(fs, ino, buf, (size_t)size, 0, err);
	if (got < 0)
		return (int)got;
	buf[got] = '\0';
	return 0;
}

/*
 * A time of @inode: @secs, and if the inode is large enough to hold
 * @extra (at @extra_at), its two epoch bits and nanoseconds.
 */
static bool extfs_inode_has(const struct ext2_inode_large *inode,
			    size_t field_at)
{
	return EXT2_GOOD_OLD_INODE_SIZE + (size_t)inode->i_extra_isize >=
	       field_at + sizeof(uint32_t);
}

static struct timespec extfs_time(const struct ext2_inode_large *inode,
				  uint32_t secs, uint32_t extra,
				  size_t extra_at)
{
	struct timespec ts = { .tv_sec = (int32_t)secs };

	if (extfs_inode_has(inode, extra_at)) {
		ts.tv_sec += (int64_t)(extra & 3) << 32;
		ts.tv_nsec = (long)(extra >> 2);
		if (ts.tv_nsec > 999999999)
			ts.tv_nsec = 0;
	}
	return ts;
}

static int extfs_walk_entry(ext2_ino_t dir, int entry,
			    struct ext2_dir_entry *de, int offset,
			    int blocksize, char *buf, void *priv)
{
	struct extfs_walk *w = priv;
	struct ext2_inode_large inode = { 0 };
	struct guestfs_entry e = { 0 };
	char target[4096];
	size_t nlen = ext2fs_dirent_name_len(de), saved = w->len;
	ext2_ino_t ino = de->inode;
	errcode_t ec;
	size_t i;
	int rc = 0;

	(void)dir;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || !ino ||
	    (nlen == 1 && de->name[0] == '.') ||
	    (nlen == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	if (w->len + 2 + nlen >= sizeof(w->path))
		return 0; /* a path longer than PATH_MAX: not restorable */
	w->path[w->len] = '/';
	memcpy(w->path + w->len + 1, de->name, nlen);
	if (nlen == 0) { /* a name no path can hold: shown as "?" */
		w->path[w->len + 1] = '?';
		nlen = 1;
		e.bad_name = true;
	}
	for (i = w->len + 1; i <= w->len + nlen; i++) {
		if (w->path[i] == '/' || w->path[i] == '\0') {
			w->path[i] = '?';
			e.bad_name = true;
		}
	}
	w->path[w->len + 1 + nlen] = '\0';
	/* a name listed twice (a damaged or hostile directory) is shown
	 * once: the second could be a directory below a symlink put first */
	rc = strmap_put(w->names, w->path + w->len + 1, NULL);
	if (rc <= 0) {
		w->path[w->len] = '\0';
		if (rc < 0)
			w->rc = vr_err_set(w->err, -ENOMEM, "out of memory");
		return rc < 0 ? DIRENT_ABORT : 0;
	}
	rc = 0;
	w->len += 1 + nlen;
	ec = ext2fs_read_inode_full(w->fs->fs, ino, (struct ext2_inode *)&inode,
				    sizeof(inode));
	if (ec) {
		w->rc = extfs_fail(&w->fs->io, ec, w->path, w->err);
		return DIRENT_ABORT;
	}
	e.path = w->path;
	e.ino = ino;
	e.mode = inode.i_mode;
	e.uid = inode.i_uid | (uint32_t)inode.osd2.linux2.l_i_uid_high << 16;
	e.gid = inode.i_gid | (uint32_t)inode.osd2.linux2.l_i_gid_high << 16;
	e.nlink = inode.i_links_count;
	e.size = EXT2_I_SIZE((struct ext2_inode *)&inode);
	e.atime = extfs_time(&inode, inode.i_atime, inode.i_atime_extra,
			     offsetof(struct ext2_inode_large, i_atime_extra));
	e.mtime = extfs_time(&inode, inode.i_mtime, inode.i_mtime_extra,
			     offsetof(struct ext2_inode_large, i_mtime_extra));
	e.ctime = extfs_time(&inode, inode.i_ctime, inode.i_ctime_extra,
			     offsetof(struct ext2_inode_large, i_ctime_extra));
	if (extfs_inode_has(&inode,
			    offsetof(struct ext2_inode_large, i_crtime_extra)))
		e.btime = extfs_time(
			&inode, inode.i_crtime, inode.i_crtime_extra,
			offsetof(struct ext2_inode_large, i_crtime_extra));
	e.kind = LINUX_S_ISREG(inode.i_mode)   ? GUESTFS_FILE
		 : LINUX_S_ISDIR(inode.i_mode) ? GUESTFS_DIR
		 : LINUX_S_ISLNK(inode.i_mode) ? GUESTFS_SYMLINK
					       : GUESTFS_OTHER;
	if (e.kind == GUESTFS_SYMLINK) {
		w->rc = extfs_symlink(w->fs, ino, (struct ext2_inode *)&inode,
				      target, sizeof(target), w->err);
		e.target = target;
		if (!target[0]) { /* no link can say "": not restorable */
			e.kind = GUESTFS_OTHER;
			e.target = NULL;
		}
	}
	if (w->rc == 0)
		rc = w->visit(w->ctx, &e);
	if (rc < 0)
		w->rc = rc;
	/* each directory once: a hostile tree of directories that list
	 * themselves (or each other) would otherwise be walked without end */
	if (rc == 0 && e.kind == GUESTFS_DIR && !e.bad_name &&
	    w->depth < EXTFS_MAX_DEPTH &&
	    ino <= w->fs->fs->super->s_inodes_count &&
	    !ext2fs_test_inode_bitmap2(w->seen, ino)) {
		ext2fs_mark_inode_bitmap2(w->seen, ino);
		w->rc = extfs_walk_dir(w, ino);
	}
	w->len = saved;
	w->path[w->len] = '\0';
	return w->rc ? DIRENT_ABORT : 0;
}

static int extfs_walk_dir(struct extfs_walk *w, ext2_ino_t dir)
{
	struct strmap *outer = w->names;
	errcode_t ec;

	if (strmap_new(&w->names) < 0) {
		w->names = outer;
		return w->rc = vr_err_set(w->err, -ENOMEM, "out of memory");
	}
	w->depth++;
	ec = ext2fs_dir_iterate2(w->fs->fs, dir, 0, NULL, extfs_walk_entry, w);
	w->depth--;
	strmap_free(w->names);
	w->names = outer;
	if (ec && !w->rc)
		w->rc = extfs_fail(&w->fs->io, ec, w->len ? w->path : "/",
				   w->err);
	return w->rc;
}

static int extfs_walk(void *impl,
		      int (*visit)(void *ctx, const struct guestfs_entry *e),
		      void *ctx, struct vr_err *err)
{
	struct extfs *fs = impl;
	struct extfs_walk *w = calloc(1, sizeof(*w));
	struct vr_err *saved;
	errcode_t ec;
	int rc;

	if (!w)
		return vr_err_set(err, -ENOMEM, "out of memory");
	*w = (struct extfs_walk){
		.fs = fs, .visit = visit, .ctx = ctx, .err = err
	};
	saved = extfs_io_err(fs, err);
	ec = ext2fs_allocate_inode_bitmap(fs->fs, "walked", &w->seen);
	if (ec) {
		rc = extfs_fail(&fs->io, ec, "walk", err);
	} else {
		ext2fs_mark_inode_bitmap2(w->seen, EXT2_ROOT_INO);
		rc = extfs_walk_dir(w, EXT2_ROOT_INO);
		ext2fs_free_inode_bitmap(w->seen);
	}
	free(w);
	fs->io.err = saved;
	return rc;
}

/* @got bytes read at @off of a file of @size bytes: those inside it. */
static uint64_t extfs_clamp(uint64_t got, uint64_t off, uint64_t size)
{
	if (off >= size)
		return 0;
	return got < size - off ? got : size - off;
}

static int64_t extfs_read(void *impl, uint64_t ino, void *buf, size_t len,
			  uint64_t off, struct vr_err *err)
{
	struct extfs *fs = impl;
	struct vr_err *saved;
	ext2_file_t file;
	unsigned int got = 0;
	errcode_t ec;
	int rc = 0;

	if (len > UINT32_MAX)
		len = UINT32_MAX;
	if (ino == 0 || ino > fs->fs->super->s_inodes_count)
		return vr_err_set(err, -EINVAL, "%s: no inode %" PRIu64,
				  disk_path(fs->io.d), ino);
	saved = extfs_io_err(fs, err);
	ec = ext2fs_file_open(fs->fs, (ext2_ino_t)ino, 0, &file);
	if (ec) {
		rc = extfs_fail(&fs->io, ec, "open file", err);
	} else {
		ec = ext2fs_file_llseek(file, off, EXT2_SEEK_SET, NULL);
		if (!ec)
			ec = ext2fs_file_read(file, buf, (unsigned int)len,
					      &got);
		/* libext2fs 1.47 hands out a whole inline data area, past
		 * the file's end: what lies beyond its size is not its */
		if (!ec && got > 0)
			got = (unsigned int)extfs_clamp(
				got, off,
				EXT2_I_SIZE(ext2fs_file_get_inode(file)));
		if (ec)
			rc = extfs_fail(&fs->io, ec, "read file", err);
		ext2fs_file_close(file);
	}
	fs->io.err = saved;
	return rc < 0 ? rc : (int64_t)got;
}

static const struct guestfs_ops extfs_ops = {
	.walk = extfs_walk,
	.read = extfs_read,
	.close = extfs_close,
};
