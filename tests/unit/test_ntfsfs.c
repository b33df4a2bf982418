/*
 * test_ntfsfs.c - NTFS read in-process through libntfs-3g (ntfsfs.c), with
 * ntfs-3g itself as the oracle: mkntfs makes a volume, ntfs-3g mounts it
 * and writes a tree (nested and deep directories, UTF-8 names with and
 * without surrogate pairs, a multi-MiB file, a sparse and a compressed
 * one, hard links, Interix, WSL and Windows symlinks, a junction, a FIFO,
 * read-only and hidden files, an alternate data stream), and what the
 * mount shows (lstat, readlink, the ntfs_attrib_be and ntfs_crtime_be
 * xattrs, SHA-256 of the content) is what our walk and reads must give,
 * read from a GPT disk image at the partition's offset. Then the walk's
 * SKIP and stop, bad file numbers, an encrypted file, and damage:
 * zeroed, inconsistent and truncated volumes and a broken MFT record.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "disk.h"
#include "guestfs.h"
#include "ntfsfs.h"
#include "tap.h"
#include "vr_endian.h"
#include "vr_err.h"

#define T_MIB (1024u * 1024u)
#define T_PART_OFFSET T_MIB
#define T_FS_SIZE (48u * T_MIB)
#define T_DISK_SIZE (T_PART_OFFSET + T_FS_SIZE + T_MIB) /* + backup GPT */
#define T_BIG_SIZE (5u * T_MIB + 12345u)
#define T_PIECE 100000u	 /* odd-sized reads: pieces straddle clusters */
#define T_DEEP 130	 /* levels under /deep: past the walk's bound */
#define T_WALK_DEPTH 128 /* ntfsfs.c: deepest path walked, in names */
#define T_MAX_ENTRIES 512

/* NTFS attribute bits (FILE_ATTRIBUTE_*) the tree sets */
#define T_ATTR_READONLY 0x1u
#define T_ATTR_HIDDEN 0x2u
#define T_ATTR_ARCHIVE 0x20u
#define T_ATTR_COMPRESSED 0x800u
#define T_ATTR_ENCRYPTED 0x4000u
#define T_ATTR_DIRECTORY 0x10u

/* Reparse tags ([MS-FSCC] 2.1.2.1) */
#define T_TAG_MOUNT_POINT 0xa0000003u
#define T_TAG_SYMLINK 0xa000000cu

/* MFT record header and attribute fields we patch (NTFS 3.1) */
#define T_MFT_ATTRS_OFFSET 0x14	 /* u16 */
#define T_MFT_RECORD_NUMBER 0x2c /* u32 */
#define T_ATTR_TYPE 0x00	 /* u32 */
#define T_ATTR_LENGTH 0x04	 /* u32 */
#define T_ATTR_VALUE_OFFSET 0x14 /* u16, resident */
#define T_SI_ATTRIBUTES 0x20	 /* u32, in $STANDARD_INFORMATION */
#define T_ATTR_FLAGS 0x0c	 /* u16 */
#define T_ATTR_IS_ENCRYPTED 0x4000u
#define T_AT_STANDARD_INFORMATION 0x10u
#define T_AT_DATA 0x80u
#define T_AT_END 0xffffffffu

#define T_NTFS_EPOCH_DELTA INT64_C(11644473600)

/* An entry: what the mount showed, or what our walk gave. */
struct t_ent {
	char path[1024];
	enum guestfs_kind kind;
	uint64_t ino, size;
	uint32_t mode, nlink, attributes;
	struct timespec mtime, ctime, btime;
	char target[512];
	uint8_t sha[32]; /* of a file's content (expected side only) */
	unsigned seen;	 /* times our walk met it (expected side only) */
	bool bad_name;
};

struct t_tree {
	struct t_ent *e;
	size_t n;
};

/* The volume every test reads, made once. */
struct t_fixture {
	bool ready;
	char disk[4200], fs[4200], mnt[4200];
	char uuid[64];
	struct t_tree expected;
};

static struct t_fixture t_fx;

/* Run a shell command made from @fmt; its exit status (0 is success). */
static int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int t_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* First line a shell command prints, into @out. 0 or -1. */
static int t_capture(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int t_capture(char *out, size_t size, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	int ok;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fgets(out, (int)size, p) != NULL;
	if (pclose(p) != 0 || !ok)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* @name under the mount point (the fixture's own buffer, one at a time). */
static const char *t_at(const char *name)
{
	static char path[8192];

	snprintf(path, sizeof(path), "%s%s", t_fx.mnt, name);
	return path;
}

/* The deterministic content of test file @seed at @off (xorshift64). */
static void t_content(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull + off + i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
}

/* ---- making the tree through ntfs-3g ---- */

/* Is @path still open in some process (ntfs-3g exiting after umount)? */
static bool t_is_open(const char *path)
{
	char want[4200], link[4200], fd_dir[300];
	DIR *proc = opendir("/proc");
	struct dirent *p;
	bool open_here = false;

	if (!proc || !realpath(path, want)) {
		if (proc)
			closedir(proc);
		return false;
	}
	while (!open_here && (p = readdir(proc))) {
		struct dirent *f;
		DIR *fds;

		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(fd_dir, sizeof(fd_dir), "/proc/%s/fd", p->d_name);
		fds = opendir(fd_dir);
		if (!fds)
			continue;
		while (!open_here && (f = readdir(fds))) {
			char fd_path[600];
			ssize_t n;

			snprintf(fd_path, sizeof(fd_path), "%s/%s", fd_dir,
				 f->d_name);
			n = readlink(fd_path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			open_here = strcmp(link, want) == 0;
		}
		closedir(fds);
	}
	closedir(proc);
	return open_here;
}

/* Mount @image on the one mount point (ntfs-3g's complaints hushed). */
static int t_mount(const char *image, const char *opts)
{
	return t_sh("ntfs-3g %s%s '%s' '%s' 2>/dev/null", opts ? "-o " : "",
		    opts ? opts : "", image, t_fx.mnt);
}

/*
 * Unmount and wait for ntfs-3g to have written everything and let go of
 * the image: it flushes after umount(8) returns.
 */
static int t_umount(const char *image)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int i;

	if (t_sh("umount '%s'", t_fx.mnt))
		return -1;
	for (i = 0; i < 1000 && t_is_open(image); i++)
		nanosleep(&tick, NULL);
	return t_is_open(image) ? -1 : 0;
}

static int t_write(const char *name, const void *buf, size_t len)
{
	int fd = open(t_at(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (len && write(fd, buf, len) != (ssize_t)len)
		rc = -1;
	if (close(fd))
		rc = -1;
	return rc;
}

static int t_write_str(const char *name, const char *s)
{
	return t_write(name, s, strlen(s));
}

static int t_write_seeded(const char *name, uint64_t seed, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return -1;
	t_content(seed, 0, buf, len);
	rc = t_write(name, buf, len);
	free(buf);
	return rc;
}

/* A 3 MiB file with 100 bytes at 1 MiB + 4 KiB, the rest holes. */
static int t_write_sparse(const char *name)
{
	uint8_t buf[100];
	int fd = open(t_at(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);
	int rc = 0;

	if (fd < 0)
		return -1;
	t_content(2, 0, buf, sizeof(buf));
	if (ftruncate(fd, 3 * T_MIB) ||
	    pwrite(fd, buf, sizeof(buf), T_MIB + 4096) != sizeof(buf))
		rc = -1;
	if (close(fd))
		rc = -1;
	return rc;
}

/* Windows attributes through ntfs-3g's xattr (stored big-endian). */
static int t_attrib_set(const char *name, uint32_t attrib)
{
	uint8_t be[4] = { (uint8_t)(attrib >> 24), (uint8_t)(attrib >> 16),
			  (uint8_t)(attrib >> 8), (uint8_t)attrib };

	return lsetxattr(t_at(name), "system.ntfs_attrib_be", be, sizeof(be),
			 0);
}

/*
 * A reparse point on @name: a relative Windows symlink
 * (IO_REPARSE_TAG_SYMLINK, [MS-FSCC] 2.1.2.4) or a junction (2.1.2.5) to
 * @target, given in ASCII with backslashes.
 */
static int t_reparse_set(const char *name, uint32_t tag, const char *target)
{
	uint8_t rp[512] = { 0 };
	size_t tlen = strlen(target), head, i;
	uint8_t *path;

	head = tag == T_TAG_SYMLINK ? 12 : 8;
	if (8 + head + 4 * tlen + 4 > sizeof(rp))
		return -1;
	path = rp + 8 + head;
	for (i = 0; i < tlen; i++) /* substitute name, then print name */
		vr_put_le16(path + 2 * i, (uint8_t)target[i]);
	if (tag == T_TAG_SYMLINK) {
		memcpy(path + 2 * tlen, path, 2 * tlen);
		vr_put_le16(rp + 8 + 4, (uint16_t)(2 * tlen)); /* print at */
		vr_put_le32(rp + 8 + 8, 1);		       /* relative */
	} else { /* junctions NUL-terminate both names */
		memcpy(path + 2 * tlen + 2, path, 2 * tlen);
		vr_put_le16(rp + 8 + 4, (uint16_t)(2 * tlen + 2));
	}
	vr_put_le16(rp + 8 + 2, (uint16_t)(2 * tlen)); /* substitute length */
	vr_put_le16(rp + 8 + 6, (uint16_t)(2 * tlen)); /* print length */
	vr_put_le32(rp, tag);
	i = head + 4 * tlen + (tag == T_TAG_SYMLINK ? 0 : 4);
	vr_put_le16(rp + 4, (uint16_t)i);
	return lsetxattr(t_at(name), "system.ntfs_reparse_data", rp, 8 + i, 0);
}

/* The tree ntfs-3g writes with its defaults (Interix symlinks). */
static int t_populate(void)
{
	char deep[1024] = "/deep", text[64];
	const char *stream = "alternate stream: never part of the file";
	int rc = 0, i;
	char *big;

	rc |= mkdir(t_at("/docs"), 0755);
	rc |= t_write_str("/docs/\xc3\x9c"
			  "bersicht \xe2\x9c\x93.txt",
			  "Inhalt: \xc3\xa4\xc3\xb6\xc3\xbc\n");
	rc |= t_write_str("/docs/emoji \xf0\x9f\x98\x80.txt", "surrogates\n");
	/* Windows' 8.3 aliases: a second name, in the DOS namespace */
	rc |= t_write_str("/docs/Long File Name.txt", "long name\n");
	rc |= lsetxattr(t_at("/docs/Long File Name.txt"),
			"system.ntfs_dos_name", "LONGFI~1.TXT", 12, 0);
	rc |= mkdir(t_at("/Program Files"), 0755);
	rc |= lsetxattr(t_at("/Program Files"), "system.ntfs_dos_name",
			"PROGRA~1", 8, 0);
	rc |= mkdir(t_at("/docs/sub"), 0755);
	rc |= mkdir(t_at("/docs/sub/deeper"), 0755);
	rc |= t_write_seeded("/docs/sub/deeper/notes.md", 4, 5000);
	rc |= t_write_seeded("/big.bin", 1, T_BIG_SIZE);
	rc |= t_write_sparse("/sparse.img");
	rc |= t_write("/empty", NULL, 0);
	rc |= mkdir(t_at("/links"), 0755);
	rc |= t_write_seeded("/links/a.txt", 3, 7000);
	big = strdup(t_at("/links/a.txt"));
	rc |= big ? link(big, t_at("/docs/hard.txt")) : -1;
	free(big);
	rc |= symlink("../docs/\xc3\x9c"
		      "bersicht \xe2\x9c\x93.txt",
		      t_at("/links/rel"));
	/* to damage: names turned into "slash/me", "nul\0me", a loop */
	rc |= mkdir(t_at("/odd"), 0755);
	rc |= t_write_str("/odd/slash-me.txt", "a slash\n");
	rc |= t_write_str("/odd/nul-me.txt", "a NUL\n");
	rc |= mkdir(t_at("/odd/loop-me"), 0755);
	rc |= t_write_str("/readonly.txt", "do not touch\n");
	rc |= t_attrib_set("/readonly.txt", T_ATTR_READONLY | T_ATTR_ARCHIVE);
	rc |= t_write_str("/hidden.txt", "hidden, but a file to restore\n");
	rc |= t_attrib_set("/hidden.txt", T_ATTR_HIDDEN | T_ATTR_ARCHIVE);
	rc |= t_write_str("/ads.txt", "main data\n");
	rc |= lsetxattr(t_at("/ads.txt"), "user.stream", stream, strlen(stream),
			0);
	/* new files in a directory marked compressed are compressed */
	rc |= mkdir(t_at("/packed"), 0755);
	rc |= t_attrib_set("/packed", T_ATTR_COMPRESSED | T_ATTR_DIRECTORY);
	big = malloc(300000);
	if (!big)
		return -1;
	for (i = 0; i < 300000; i++) /* compressible, not uniform */
		big[i] = (char)('a' + (i / 7 + i % 13) % 26);
	rc |= t_write("/packed/text.txt", big, 300000);
	free(big);
	rc |= mkdir(t_at(deep), 0755);
	for (i = 0; i < T_DEEP; i++) {
		size_t len = strlen(deep);

		snprintf(deep + len, sizeof(deep) - len, "/d%03d", i);
		rc |= mkdir(t_at(deep), 0755);
	}
	snprintf(text, sizeof(text), "%d levels down\n", T_DEEP);
	strncat(deep, "/leaf.txt", sizeof(deep) - strlen(deep) - 1);
	rc |= t_write_str(deep, text);
	return rc ? -1 : 0;
}

/* What needs special_files=wsl or ntfs-3g's reparse xattr. */
static int t_populate_reparse(void)
{
	int rc = 0;

	rc |= symlink("../big.bin", t_at("/links/wsl"));
	rc |= mkfifo(t_at("/links/fifo"), 0644);
	rc |= t_write("/links/native", NULL, 0);
	rc |= t_reparse_set("/links/native", T_TAG_SYMLINK, "..\\big.bin");
	rc |= t_write("/links/native-dangling", NULL, 0);
	rc |= t_reparse_set("/links/native-dangling", T_TAG_SYMLINK,
			    "..\\nowhere\\file");
	rc |= mkdir(t_at("/links/junction"), 0755);
	rc |= t_reparse_set("/links/junction", T_TAG_MOUNT_POINT,
			    "\\??\\C:\\Windows");
	return rc ? -1 : 0;
}

/* ---- what the mount shows ---- */

static struct timespec t_ntfs_time(uint64_t ticks)
{
	struct timespec ts;

	ts.tv_sec = (time_t)((int64_t)(ticks / 10000000) - T_NTFS_EPOCH_DELTA);
	ts.tv_nsec = (long)(ticks % 10000000) * 100;
	return ts;
}

static int t_sha256_file(const char *path, uint8_t md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (ctx && fd >= 0) {
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			EVP_DigestUpdate(ctx, buf, (size_t)n);
		EVP_DigestFinal_ex(ctx, md, NULL);
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return n == 0 ? 0 : -1;
}

static uint32_t t_xattr_be32(const char *path, const char *name)
{
	uint8_t v[4] = { 0 };

	if (lgetxattr(path, name, v, sizeof(v)) != sizeof(v))
		return UINT32_MAX;
	return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
	       (uint32_t)v[2] << 8 | v[3];
}

static uint64_t t_xattr_be64(const char *path, const char *name)
{
	uint8_t v[8] = { 0 };
	uint64_t x = 0;
	int i;

	if (lgetxattr(path, name, v, sizeof(v)) != sizeof(v))
		return 0;
	for (i = 0; i < 8; i++)
		x = x << 8 | v[i];
	return x;
}

static struct t_ent *t_tree_add(struct t_tree *t)
{
	struct t_ent *e;

	if (t->n == T_MAX_ENTRIES)
		return NULL;
	if (!t->e) {
		t->e = calloc(T_MAX_ENTRIES, sizeof(*t->e));
		if (!t->e)
			return NULL;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static struct t_ent *t_tree_find(const struct t_tree *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->e[i].path, path) == 0)
			return &t->e[i];
	return NULL;
}

/* One entry as ntfs-3g shows it (content hashed before lstat). */
static int t_scan_entry(struct t_tree *t, const char *rel)
{
	const char *full = t_at(rel);
	struct t_ent *e = t_tree_add(t);
	struct stat st;
	ssize_t n;

	if (!e || strlen(rel) >= sizeof(e->path))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s", rel);
	if (lstat(full, &st))
		return -1;
	if (S_ISREG(st.st_mode) && t_sha256_file(full, e->sha))
		return -1;
	if (lstat(full, &st))
		return -1;
	e->kind = S_ISREG(st.st_mode)	? GUESTFS_FILE
		  : S_ISDIR(st.st_mode) ? GUESTFS_DIR
		  : S_ISLNK(st.st_mode) ? GUESTFS_SYMLINK
					: GUESTFS_OTHER;
	e->ino = st.st_ino;
	e->size = (uint64_t)st.st_size;
	e->nlink = (uint32_t)st.st_nlink;
	e->mtime = st.st_mtim;
	e->ctime = st.st_ctim;
	e->btime = t_ntfs_time(t_xattr_be64(full, "system.ntfs_crtime_be"));
	e->attributes = t_xattr_be32(full, "system.ntfs_attrib_be");
	if (e->kind == GUESTFS_SYMLINK) {
		n = readlink(full, e->target, sizeof(e->target) - 1);
		if (n < 0)
			return -1;
		e->target[n] = '\0';
	}
	return 0;
}

/* Everything under @rel ("" for the root), parents first. */
static int t_scan(struct t_tree *t, const char *rel)
{
	char child[1024];
	struct dirent *de;
	DIR *dir = opendir(t_at(*rel ? rel : "/"));
	int rc = 0;

	if (!dir)
		return -1;
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", rel, de->d_name);
		rc = t_scan_entry(t, child);
		if (rc == 0 && t->e[t->n - 1].kind == GUESTFS_DIR)
			rc = t_scan(t, child);
	}
	closedir(dir);
	return rc;
}

/*
 * Where we differ from ntfs-3g on purpose: a junction is no symlink to
 * us (it may lead anywhere), a dangling Windows symlink keeps its target
 * where ntfs-3g shows "unsupported reparse tag", and a file's 8.3 alias
 * is no hard link.
 */
static int t_expect_differences(struct t_tree *t)
{
	struct t_ent *j = t_tree_find(t, "/links/junction");
	struct t_ent *d = t_tree_find(t, "/links/native-dangling");
	struct t_ent *l = t_tree_find(t, "/docs/Long File Name.txt");

	if (!j || !d || !l || j->kind != GUESTFS_SYMLINK ||
	    strncmp(d->target, "unsupported reparse", 19) || l->nlink != 2)
		return -1;
	l->nlink = 1; /* ntfs-3g counts the 8.3 alias as a link */
	j->kind = GUESTFS_OTHER;
	j->target[0] = '\0';
	snprintf(d->target, sizeof(d->target), "../nowhere/file");
	d->size = strlen(d->target);
	return 0;
}

static int t_fixture_build(void)
{
	struct t_fixture *fx = &t_fx;
	int rc;

	snprintf(fx->fs, sizeof(fx->fs), "%s/fs.img", tap_workdir());
	snprintf(fx->disk, sizeof(fx->disk), "%s/disk.img", tap_workdir());
	snprintf(fx->mnt, sizeof(fx->mnt), "%s/mnt", tap_workdir());
	if (mkdir(fx->mnt, 0755) ||
	    t_sh("truncate -s %u '%s' && mkntfs -q -F -Q -L apps '%s' "
		 ">/dev/null 2>&1",
		 T_FS_SIZE, fx->fs, fx->fs))
		return -1;
	/* never leave a mount behind: tap_run() removes the work dir */
	if (t_mount(fx->fs, NULL))
		return -1;
	rc = t_populate();
	if (t_umount(fx->fs) || rc)
		return -1;
	if (t_mount(fx->fs, "special_files=wsl"))
		return -1;
	rc = t_populate_reparse();
	if (t_umount(fx->fs) || rc)
		return -1;
	/* a fresh mount: the kernel cached the junction as a directory */
	if (t_mount(fx->fs, NULL))
		return -1;
	rc = t_scan(&fx->expected, "");
	if (t_umount(fx->fs) || rc || t_expect_differences(&fx->expected))
		return -1;
	if (t_sh("truncate -s %u '%s' && printf 'label: gpt\\nstart=%u, "
		 "size=%u, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\\n' "
		 "| sfdisk -q '%s' && dd if='%s' of='%s' bs=1M seek=1 "
		 "conv=notrunc,sparse status=none",
		 T_DISK_SIZE, fx->disk, T_PART_OFFSET / 512, T_FS_SIZE / 512,
		 fx->disk, fx->fs, fx->disk))
		return -1;
	return t_capture(fx->uuid, sizeof(fx->uuid),
			 "blkid -p -O %u -o value -s UUID '%s'", T_PART_OFFSET,
			 fx->disk);
}

static const struct t_fixture *t_fixture(void)
{
	static bool tried;

	if (!tried) {
		tried = true;
		t_fx.ready = t_fixture_build() == 0;
		if (!t_fx.ready)
			printf("# could not build the NTFS image\n");
	}
	CU_ASSERT_FATAL(t_fx.ready);
	return &t_fx;
}

/* ---- reading it with ntfsfs ---- */

/* Open @disk's NTFS at @offset (@size bytes, 0: to the end of the disk). */
static int t_open(const char *disk, uint64_t offset, uint64_t size,
		  struct disk **d, struct guestfs **fs, struct vr_err *err)
{
	int rc;

	vr_err_clear(err);
	*fs = NULL;
	rc = disk_open(disk, DISK_FORMAT_RAW, NULL, d, NULL, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	if (!size)
		size = disk_size(*d) - offset;
	rc = ntfsfs_open(*d, offset, size, fs, err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	return rc;
}

static void t_close(struct disk *d, struct guestfs *fs)
{
	guestfs_close(fs);
	disk_close(d);
}

static int t_collect(void *ctx, const struct guestfs_entry *e)
{
	struct t_tree *t = ctx;
	struct t_ent *g = t_tree_add(t);

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_FATAL(strlen(e->path) < sizeof(g->path));
	snprintf(g->path, sizeof(g->path), "%s", e->path);
	g->kind = e->kind;
	g->ino = e->ino;
	g->size = e->size;
	g->mode = e->mode;
	g->nlink = e->nlink;
	g->attributes = e->attributes;
	g->mtime = e->mtime;
	g->ctime = e->ctime;
	g->btime = e->btime;
	g->bad_name = e->bad_name;
	CU_ASSERT_EQUAL(e->target != NULL, e->kind == GUESTFS_SYMLINK);
	if (e->target)
		snprintf(g->target, sizeof(g->target), "%s", e->target);
	CU_ASSERT_EQUAL(e->uid, 0);
	CU_ASSERT_EQUAL(e->gid, 0);
	return 0;
}

/* Is @path within the walk's depth bound? */
static bool t_walkable(const char *path)
{
	unsigned names = 0;

	for (; *path; path++)
		names += *path == '/';
	return names <= T_WALK_DEPTH;
}

/* The oracle's entries our walk must show. */
static size_t t_walkable_count(const struct t_tree *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->n; i++)
		n += t_walkable(t->e[i].path);
	return n;
}

static bool t_ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Our fixed modes: there are no POSIX permissions on the volume. */
static uint32_t t_mode_expected(const struct t_ent *e)
{
	switch (e->kind) {
	case GUESTFS_DIR:
		return S_IFDIR | 0755;
	case GUESTFS_SYMLINK:
		return S_IFLNK | 0777;
	case GUESTFS_FILE:
		return S_IFREG |
		       (e->attributes & T_ATTR_READONLY ? 0444 : 0644);
	default:
		return e->mode; /* not checked */
	}
}

static void t_compare(const struct t_ent *want, const struct t_ent *got)
{
	bool same = want->kind == got->kind && want->ino == got->ino &&
		    want->nlink == got->nlink &&
		    want->attributes == got->attributes &&
		    t_mode_expected(got) == got->mode &&
		    t_ts_equal(want->mtime, got->mtime) &&
		    t_ts_equal(want->ctime, got->ctime) &&
		    t_ts_equal(want->btime, got->btime) &&
		    strcmp(want->target, got->target) == 0 &&
		    /* a directory has no data: ntfs-3g shows its index size */
		    (want->kind == GUESTFS_OTHER || want->kind == GUESTFS_DIR ||
		     want->size == got->size) &&
		    (got->kind != GUESTFS_DIR || got->size == 0);

	if (!same)
		printf("# %s: want kind %d ino %" PRIu64 " size %" PRIu64
		       " nlink %u attr 0x%x mtime %lld target '%s'; got kind "
		       "%d ino %" PRIu64 " size %" PRIu64 " nlink %u attr 0x%x "
		       "mode 0%o mtime %lld target '%s'\n",
		       want->path, want->kind, want->ino, want->size,
		       want->nlink, want->attributes,
		       (long long)want->mtime.tv_sec, want->target, got->kind,
		       got->ino, got->size, got->nlink, got->attributes,
		       got->mode, (long long)got->mtime.tv_sec, got->target);
	CU_ASSERT(same);
}

static void t_walk_all(struct guestfs *fs, struct t_tree *got)
{
	struct vr_err err = { 0 };
	int rc;

	memset(got, 0, sizeof(*got));
	rc = guestfs_walk(fs, t_collect, got, &err);
	if (rc)
		printf("# walk: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

static void t_tree_free(struct t_tree *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

/* Parents before children: each path's parent came earlier. */
static void t_check_order(const struct t_tree *t)
{
	char parent[1024];
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		char *slash;

		snprintf(parent, sizeof(parent), "%s", t->e[i].path);
		slash = strrchr(parent, '/');
		CU_ASSERT_PTR_NOT_NULL_FATAL(slash);
		if (slash == parent)
			continue;
		*slash = '\0';
		for (j = 0; j < i; j++)
			if (strcmp(t->e[j].path, parent) == 0)
				break;
		CU_ASSERT(j < i && t->e[j].kind == GUESTFS_DIR);
	}
}

static void test_ntfsfs_volume_identity_matches_blkid(void)
{
	const struct t_fixture *fx = t_fixture();
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;

	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	CU_ASSERT_STRING_EQUAL(guestfs_type(fs), "ntfs");
	CU_ASSERT_STRING_EQUAL(guestfs_label(fs), "apps");
	CU_ASSERT_EQUAL(strlen(guestfs_uuid(fs)), 16);
	CU_ASSERT_STRING_EQUAL(guestfs_uuid(fs), fx->uuid);
	CU_ASSERT_TRUE(guestfs_is_casefold(fs));
	t_close(d, fs);
	/* the same through the generic door, which goes by the magic */
	CU_ASSERT_EQUAL_FATAL(
		disk_open(fx->disk, DISK_FORMAT_RAW, NULL, &d, NULL, &err), 0);
	CU_ASSERT_EQUAL_FATAL(
		guestfs_open(d, T_PART_OFFSET, T_FS_SIZE, &fs, &err), 0);
	CU_ASSERT_STRING_EQUAL(guestfs_type(fs), "ntfs");
	CU_ASSERT_STRING_EQUAL(guestfs_uuid(fs), fx->uuid);
	t_close(d, fs);
}

static void test_ntfsfs_walk_matches_ntfs3g(void)
{
	const struct t_fixture *fx = t_fixture();
	struct vr_err err = { 0 };
	struct t_tree got;
	struct guestfs *fs;
	struct disk *d;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	t_walk_all(fs, &got);
	for (i = 0; i < fx->expected.n; i++)
		fx->expected.e[i].seen = 0;
	for (i = 0; i < got.n; i++) {
		struct t_ent *want = t_tree_find(&fx->expected, got.e[i].path);

		if (!want) {
			printf("# unexpected %s\n", got.e[i].path);
			CU_FAIL("walk shows a path ntfs-3g does not");
			continue;
		}
		want->seen++;
		t_compare(want, &got.e[i]);
	}
	for (i = 0; i < fx->expected.n; i++) {
		const struct t_ent *e = &fx->expected.e[i];
		unsigned want = t_walkable(e->path) ? 1 : 0;

		if (e->seen != want)
			printf("# %s walked %u times\n", e->path, e->seen);
		CU_ASSERT_EQUAL(e->seen, want);
	}
	/* the depth bound cut something: there is more below */
	CU_ASSERT(t_walkable_count(&fx->expected) < fx->expected.n);
	CU_ASSERT_EQUAL(got.n, t_walkable_count(&fx->expected));
	t_check_order(&got);
	t_tree_free(&got);
	t_close(d, fs);
}

/* The tree's features are there, in the oracle and so in our walk. */
static void test_ntfsfs_tree_has_every_feature(void)
{
	const struct t_fixture *fx = t_fixture();
	const struct t_tree *t = &fx->expected;
	const struct t_ent *a = t_tree_find(t, "/links/a.txt");
	const struct t_ent *h = t_tree_find(t, "/docs/hard.txt");
	const struct t_ent *e;
	char deep[1024] = "/deep";
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(a->ino, h->ino);
	CU_ASSERT_EQUAL(a->nlink, 2);
	e = t_tree_find(t, "/links/rel"); /* Interix, ntfs-3g's default */
	CU_ASSERT(e && e->kind == GUESTFS_SYMLINK &&
		  !strcmp(e->target, "../docs/\xc3\x9c"
				     "bersicht \xe2\x9c\x93.txt"));
	e = t_tree_find(t, "/links/wsl");
	CU_ASSERT(e && e->kind == GUESTFS_SYMLINK &&
		  !strcmp(e->target, "../big.bin"));
	e = t_tree_find(t, "/links/native");
	CU_ASSERT(e && e->kind == GUESTFS_SYMLINK &&
		  !strcmp(e->target, "../big.bin"));
	e = t_tree_find(t, "/links/fifo");
	CU_ASSERT(e && e->kind == GUESTFS_OTHER);
	e = t_tree_find(t, "/readonly.txt");
	CU_ASSERT(e && (e->attributes & T_ATTR_READONLY));
	e = t_tree_find(t, "/hidden.txt");
	CU_ASSERT(e && (e->attributes & T_ATTR_HIDDEN));
	e = t_tree_find(t, "/packed/text.txt");
	CU_ASSERT(e && (e->attributes & T_ATTR_COMPRESSED));
	e = t_tree_find(t, "/ads.txt");
	CU_ASSERT(e && e->size == strlen("main data\n"));
	e = t_tree_find(t, "/docs/Long File Name.txt");
	CU_ASSERT(e && e->nlink == 1);
	CU_ASSERT_PTR_NULL(t_tree_find(t, "/docs/LONGFI~1.TXT"));
	CU_ASSERT_PTR_NOT_NULL(t_tree_find(t, "/Program Files"));
	CU_ASSERT_PTR_NOT_NULL(t_tree_find(t, "/docs/emoji \xf0\x9f\x98\x80"
					      ".txt"));
	for (i = 0; i < T_DEEP; i++) {
		size_t len = strlen(deep);

		snprintf(deep + len, sizeof(deep) - len, "/d%03d", i);
	}
	strncat(deep, "/leaf.txt", sizeof(deep) - strlen(deep) - 1);
	CU_ASSERT_PTR_NOT_NULL(t_tree_find(t, deep));
}

/* Read file @ino whole in @piece-byte reads; its SHA-256 and length. */
static int64_t t_read_all(struct guestfs *fs, uint64_t ino, size_t piece,
			  uint8_t md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct vr_err err = { 0 };
	uint8_t *buf = malloc(piece);
	uint64_t off = 0;
	int64_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = guestfs_read(fs, ino, buf, piece, off, &err)) > 0) {
		CU_ASSERT(n <= (int64_t)piece);
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (n < 0)
		printf("# read %" PRIu64 ": %s\n", ino, err.msg);
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return n < 0 ? n : (int64_t)off;
}

static void test_ntfsfs_read_matches_ntfs3g(void)
{
	const struct t_fixture *fx = t_fixture();
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;
	unsigned files = 0;
	uint8_t md[32], b;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	for (i = 0; i < fx->expected.n; i++) {
		const struct t_ent *e = &fx->expected.e[i];

		if (e->kind != GUESTFS_FILE)
			continue;
		files++;
		CU_ASSERT_EQUAL(t_read_all(fs, e->ino, T_PIECE, md),
				(int64_t)e->size);
		if (memcmp(md, e->sha, sizeof(md)))
			printf("# %s: content differs\n", e->path);
		CU_ASSERT(memcmp(md, e->sha, sizeof(md)) == 0);
		/* at and past the end: nothing */
		CU_ASSERT_EQUAL(guestfs_read(fs, e->ino, &b, 1, e->size, &err),
				0);
		CU_ASSERT_EQUAL(
			guestfs_read(fs, e->ino, &b, 1, e->size + 12345, &err),
			0);
	}
	CU_ASSERT(files >= 10);
	t_close(d, fs);
}

/*
 * Pieces of two files in turn, at odd offsets: each switch reopens the
 * file, and every piece must be the bytes ntfs-3g wrote there.
 */
static void test_ntfsfs_read_alternating_files(void)
{
	const struct t_fixture *fx = t_fixture();
	const struct t_ent *big = t_tree_find(&fx->expected, "/big.bin");
	const struct t_ent *a = t_tree_find(&fx->expected, "/links/a.txt");
	const struct t_ent *sp = t_tree_find(&fx->expected, "/sparse.img");
	static uint8_t got[T_PIECE], want[T_PIECE];
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;
	uint64_t off;
	int64_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	for (off = 7; off < T_BIG_SIZE; off += 3 * T_PIECE + 4093) {
		n = guestfs_read(fs, big->ino, got, T_PIECE, off, &err);
		CU_ASSERT_EQUAL(n, off + T_PIECE <= T_BIG_SIZE
					   ? (int64_t)T_PIECE
					   : (int64_t)(T_BIG_SIZE - off));
		t_content(1, off, want, T_PIECE);
		CU_ASSERT(n > 0 && memcmp(got, want, (size_t)n) == 0);
		n = guestfs_read(fs, a->ino, got, 333, off % 6000, &err);
		t_content(3, off % 6000, want, 333);
		CU_ASSERT(n == 333 && memcmp(got, want, 333) == 0);
	}
	/* a hole reads as zeros, the data in it as written */
	n = guestfs_read(fs, sp->ino, got, 4096, T_MIB, &err);
	CU_ASSERT_EQUAL(n, 4096);
	memset(want, 0, 4096);
	CU_ASSERT(memcmp(got, want, 4096) == 0);
	n = guestfs_read(fs, sp->ino, got, 100, T_MIB + 4096, &err);
	t_content(2, 0, want, 100);
	CU_ASSERT(n == 100 && memcmp(got, want, 100) == 0);
	t_close(d, fs);
}

struct t_skip {
	const char *skip; /* directory to answer GUESTFS_SKIP for */
	unsigned calls, stop_at;
	bool inside_skipped, skipped_seen, other_dir_walked;
};

static int t_skip_visit(void *ctx, const struct guestfs_entry *e)
{
	struct t_skip *s = ctx;
	size_t len = strlen(s->skip);

	s->calls++;
	if (s->stop_at && s->calls == s->stop_at)
		return -ECANCELED;
	if (!strncmp(e->path, s->skip, len) && e->path[len] == '/')
		s->inside_skipped = true;
	if (!strncmp(e->path, "/deep/", 6))
		s->other_dir_walked = true;
	if (!strcmp(e->path, s->skip)) {
		s->skipped_seen = true;
		return GUESTFS_SKIP;
	}
	return 0;
}

static void test_ntfsfs_walk_skip_prunes_directory(void)
{
	const struct t_fixture *fx = t_fixture();
	struct t_skip s = { .skip = "/docs" };
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;

	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	CU_ASSERT_EQUAL(guestfs_walk(fs, t_skip_visit, &s, &err), 0);
	CU_ASSERT_TRUE(s.skipped_seen);
	CU_ASSERT_FALSE(s.inside_skipped);
	CU_ASSERT_TRUE(s.other_dir_walked);
	/* everything but the 7 entries under /docs */
	CU_ASSERT_EQUAL(s.calls, t_walkable_count(&fx->expected) - 7);
	t_close(d, fs);
}

static void test_ntfsfs_walk_stops_on_visit_error(void)
{
	const struct t_fixture *fx = t_fixture();
	struct t_skip s = { .skip = "/none", .stop_at = 3 };
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;

	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	CU_ASSERT_EQUAL(guestfs_walk(fs, t_skip_visit, &s, &err), -ECANCELED);
	CU_ASSERT_EQUAL(s.calls, 3);
	/* and the volume is still usable: a second walk goes through */
	s.stop_at = 0;
	s.calls = 0;
	CU_ASSERT_EQUAL(guestfs_walk(fs, t_skip_visit, &s, &err), 0);
	CU_ASSERT_EQUAL(s.calls, t_walkable_count(&fx->expected));
	t_close(d, fs);
}

static void test_ntfsfs_read_rejects_bad_file_numbers(void)
{
	const struct t_fixture *fx = t_fixture();
	const struct t_ent *dir = t_tree_find(&fx->expected, "/docs");
	const struct t_ent *a = t_tree_find(&fx->expected, "/links/a.txt");
	const uint64_t bad[] = { 0,	    3,	      5,
				 15,	    1u << 20, UINT64_C(1) << 40,
				 UINT64_MAX };
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;
	uint8_t buf[64], want[64];
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL_FATAL(
		t_open(fx->disk, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vr_err_clear(&err);
		CU_ASSERT_EQUAL(
			guestfs_read(fs, bad[i], buf, sizeof(buf), 0, &err),
			-EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, fx->disk));
	}
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(guestfs_read(fs, dir->ino, buf, sizeof(buf), 0, &err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "has no data"));
	/* a good file still reads after the failures */
	CU_ASSERT_EQUAL(guestfs_read(fs, a->ino, buf, sizeof(buf), 10, &err),
			(int64_t)sizeof(buf));
	t_content(3, 10, want, sizeof(want));
	CU_ASSERT(memcmp(buf, want, sizeof(buf)) == 0);
	t_close(d, fs);
}

/* ---- damage ---- */

/* A copy of the disk image to damage. */
static const char *t_copy(const char *name)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/%s", tap_workdir(), name);
	CU_ASSERT_EQUAL_FATAL(
		t_sh("cp --sparse=always '%s' '%s'", t_fixture()->disk, path),
		0);
	return path;
}

static void t_patch(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	CU_ASSERT_EQUAL_FATAL(close(fd), 0);
}

/*
 * Where MFT record @ino lies in @path: the record that says it is @ino
 * (NTFS 3.1 records carry their number), searched on 1 KiB steps.
 */
static uint64_t t_mft_record_at(const char *path, uint64_t ino)
{
	uint8_t rec[1024];
	uint64_t off;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	for (off = T_PART_OFFSET; off < T_PART_OFFSET + T_FS_SIZE;
	     off += sizeof(rec)) {
		if (pread(fd, rec, sizeof(rec), (off_t)off) != sizeof(rec))
			break;
		if (!memcmp(rec, "FILE", 4) &&
		    vr_get_le32(rec + T_MFT_RECORD_NUMBER) == ino) {
			close(fd);
			return off;
		}
	}
	close(fd);
	CU_FAIL_FATAL("MFT record not found");
	return 0;
}

/* Open must fail with @code and a message naming the disk. */
static void t_open_fails(const char *path, uint64_t size, int code)
{
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;

	CU_ASSERT_EQUAL(t_open(path, T_PART_OFFSET, size, &d, &fs, &err), code);
	CU_ASSERT_PTR_NULL(fs);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "0x100000"));
	t_close(d, fs);
}

static void test_ntfsfs_rejects_zeroed_boot_sector(void)
{
	const char *path = t_copy("zeroed.img");
	uint8_t zero[512] = { 0 };

	t_patch(path, T_PART_OFFSET, zero, sizeof(zero));
	t_open_fails(path, T_FS_SIZE, -EINVAL);
	/* also a partition too small to hold a boot sector */
	t_open_fails(t_fixture()->disk, 100, -EINVAL);
}

static void test_ntfsfs_rejects_damaged_boot_sector(void)
{
	const char *path = t_copy("bps0.img");
	uint8_t zero[2] = { 0 };
	uint8_t huge[1] = { 0x7f };

	/* the magic is there, bytes per sector is 0 */
	t_patch(path, T_PART_OFFSET + 11, zero, sizeof(zero));
	t_open_fails(path, T_FS_SIZE, -VR_ECORRUPT);
	/* sectors per cluster not a power of two */
	path = t_copy("spc.img");
	t_patch(path, T_PART_OFFSET + 13, huge, sizeof(huge));
	t_open_fails(path, T_FS_SIZE, -VR_ECORRUPT);
}

static void test_ntfsfs_rejects_truncated_volume(void)
{
	const char *path = t_copy("half.img");

	CU_ASSERT_EQUAL_FATAL(truncate(path, T_PART_OFFSET + T_FS_SIZE / 2), 0);
	/* the partition as the disk now has it: the volume runs past it */
	t_open_fails(path, 0, -VR_ECORRUPT);
	/* the partition as the table says: past the end of the disk */
	t_open_fails(path, T_FS_SIZE, -EINVAL);
}

static void test_ntfsfs_broken_mft_record_fails_walk(void)
{
	const struct t_ent *victim = t_tree_find(&t_fixture()->expected,
						 "/docs/sub/deeper/notes.md");
	const char *path = t_copy("badrec.img");
	struct vr_err err = { 0 };
	struct t_skip s = { .skip = "/none" };
	struct guestfs *fs;
	struct disk *d;
	uint8_t junk[4] = { 'J', 'U', 'N', 'K' };
	uint8_t buf[16];
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
	t_patch(path, t_mft_record_at(path, victim->ino), junk, sizeof(junk));
	CU_ASSERT_EQUAL_FATAL(
		t_open(path, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	rc = guestfs_walk(fs, t_skip_visit, &s, &err);
	CU_ASSERT_EQUAL(rc, -VR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/docs/sub/deeper/notes.md"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(
		guestfs_read(fs, victim->ino, buf, sizeof(buf), 0, &err),
		-VR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	t_close(d, fs);
}

/* Offset in MFT record @rec of its first attribute of @type, or 0. */
static uint32_t t_mft_attr_find(const uint8_t rec[1024], uint32_t type)
{
	uint32_t off = vr_get_le16(rec + T_MFT_ATTRS_OFFSET), len;

	while (off <= 1024 - 16 &&
	       vr_get_le32(rec + off + T_ATTR_TYPE) != T_AT_END) {
		if (vr_get_le32(rec + off + T_ATTR_TYPE) == type)
			return off;
		len = vr_get_le32(rec + off + T_ATTR_LENGTH);
		if (!len)
			break;
		off += len;
	}
	return 0;
}

/*
 * An EFS file as Windows leaves it: FILE_ATTRIBUTE_ENCRYPTED in its
 * $STANDARD_INFORMATION and ATTR_IS_ENCRYPTED on its $DATA.
 */
static void test_ntfsfs_encrypted_file_is_not_supported(void)
{
	const struct t_ent *victim =
		t_tree_find(&t_fixture()->expected, "/links/a.txt");
	const char *path = t_copy("efs.img");
	uint8_t rec[1024], v[4];
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;
	struct t_tree got;
	const struct t_ent *e;
	uint32_t si, data;
	uint64_t at;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
	at = t_mft_record_at(path, victim->ino);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(pread(fd, rec, sizeof(rec), (off_t)at),
			      sizeof(rec));
	close(fd);
	si = t_mft_attr_find(rec, T_AT_STANDARD_INFORMATION);
	data = t_mft_attr_find(rec, T_AT_DATA);
	CU_ASSERT_FATAL(si && data);
	si += vr_get_le16(rec + si + T_ATTR_VALUE_OFFSET) + T_SI_ATTRIBUTES;
	data += T_ATTR_FLAGS;
	/* clear of the update sequence bytes at the end of each sector */
	CU_ASSERT_FATAL(si + 4 <= 510 && data + 2 <= 510);
	vr_put_le32(v, vr_get_le32(rec + si) | T_ATTR_ENCRYPTED);
	t_patch(path, at + si, v, 4);
	vr_put_le16(v, vr_get_le16(rec + data) | T_ATTR_IS_ENCRYPTED);
	t_patch(path, at + data, v, 2);

	CU_ASSERT_EQUAL_FATAL(
		t_open(path, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	/* listed, with its attributes: restoring it is the caller's call */
	t_walk_all(fs, &got);
	e = t_tree_find(&got, "/links/a.txt");
	CU_ASSERT(e && e->kind == GUESTFS_FILE &&
		  (e->attributes & T_ATTR_ENCRYPTED));
	t_tree_free(&got);
	CU_ASSERT_EQUAL(guestfs_read(fs, victim->ino, v, sizeof(v), 0, &err),
			-ENOTSUP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "encrypted"));
	snprintf((char *)rec, sizeof(rec), "file %" PRIu64, victim->ino);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, (char *)rec));
	t_close(d, fs);
}

/*
 * Offsets in the partition of @path where ASCII @name is written in
 * UTF-16LE (its $FILE_NAME and its directory entry), at most @max.
 */
static size_t t_find_name(const char *path, const char *name, uint64_t *at,
			  size_t max)
{
	uint8_t *img = malloc(T_FS_SIZE), pat[128];
	size_t len = 2 * strlen(name), i, n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(img && fd >= 0 && len <= sizeof(pat));
	CU_ASSERT_FATAL(pread(fd, img, T_FS_SIZE, T_PART_OFFSET) == T_FS_SIZE);
	close(fd);
	for (i = 0; i < len / 2; i++)
		vr_put_le16(pat + 2 * i, (uint8_t)name[i]);
	for (i = 0; i + len <= T_FS_SIZE && n < max; i += 2)
		if (!memcmp(img + i, pat, len))
			at[n++] = T_PART_OFFSET + i;
	free(img);
	return n;
}

static void t_walk_copy(const char *path, struct t_tree *got)
{
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;

	CU_ASSERT_EQUAL_FATAL(
		t_open(path, T_PART_OFFSET, T_FS_SIZE, &d, &fs, &err), 0);
	t_walk_all(fs, got);
	t_close(d, fs);
}

/*
 * Names Linux cannot make, patched in: one with a '/' and one with a NUL
 * in it. Neither can be a path component: the walk shows each once, with
 * '?' in its place and marked bad_name (so no one writes it), and the
 * rest as before.
 */
static void test_ntfsfs_walk_marks_slash_and_nul_names(void)
{
	const struct t_fixture *fx = t_fixture();
	const char *path = t_copy("names.img");
	const uint8_t slash[2] = { '/', 0 }, nul[2] = { 0, 0 };
	const struct t_ent *g;
	struct t_tree got;
	uint64_t at[8];
	size_t i, n, bad = 0;

	n = t_find_name(path, "slash-me.txt", at, 8);
	CU_ASSERT_FATAL(n >= 2); /* its $FILE_NAME, its directory entry */
	for (i = 0; i < n; i++)
		t_patch(path, at[i] + 2 * 5, slash, sizeof(slash));
	n = t_find_name(path, "nul-me.txt", at, 8);
	CU_ASSERT_FATAL(n >= 2);
	for (i = 0; i < n; i++)
		t_patch(path, at[i] + 2 * 3, nul, sizeof(nul));
	t_walk_copy(path, &got);
	for (i = 0; i < got.n; i++)
		bad += got.e[i].bad_name;
	CU_ASSERT_EQUAL(bad, 2);
	g = t_tree_find(&got, "/odd/slash?me.txt");
	CU_ASSERT(g && g->bad_name);
	g = t_tree_find(&got, "/odd/nul?me.txt");
	CU_ASSERT(g && g->bad_name);
	CU_ASSERT_PTR_NOT_NULL(t_tree_find(&got, "/odd/loop-me"));
	CU_ASSERT_EQUAL(got.n, t_walkable_count(&fx->expected));
	t_tree_free(&got);
}

/*
 * A directory entry that names its own parent: the walk shows it once
 * and does not go round.
 */
static void test_ntfsfs_walk_survives_directory_loop(void)
{
	const struct t_fixture *fx = t_fixture();
	const struct t_ent *odd = t_tree_find(&fx->expected, "/odd");
	const struct t_ent *loop = t_tree_find(&fx->expected, "/odd/loop-me");
	const char *path = t_copy("loop.img");
	const struct t_ent *e;
	struct t_tree got;
	uint8_t entry[0x52];
	uint64_t at[8];
	size_t i, n, patched = 0;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(odd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	n = t_find_name(path, "loop-me", at, 8);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	/*
	 * An index entry: the file's reference, 8 more bytes, then its
	 * $FILE_NAME, which starts with the parent's reference and has the
	 * name at 0x42. Point the entry at the parent.
	 */
	for (i = 0; i < n; i++) {
		CU_ASSERT_FATAL(at[i] >= sizeof(entry));
		CU_ASSERT_FATAL(pread(fd, entry, sizeof(entry),
				      (off_t)(at[i] - sizeof(entry))) ==
				sizeof(entry));
		if ((vr_get_le64(entry) & 0xffffffffffffull) != loop->ino ||
		    (vr_get_le64(entry + 0x10) & 0xffffffffffffull) != odd->ino)
			continue;
		t_patch(path, at[i] - sizeof(entry), entry + 0x10, 8);
		patched++;
	}
	close(fd);
	CU_ASSERT_EQUAL_FATAL(patched, 1);
	t_walk_copy(path, &got);
	e = t_tree_find(&got, "/odd/loop-me");
	CU_ASSERT(e && e->kind == GUESTFS_DIR && e->ino == odd->ino);
	for (i = 0; i < got.n; i++)
		CU_ASSERT(strncmp(got.e[i].path, "/odd/loop-me/", 13) != 0);
	CU_ASSERT_EQUAL(got.n, t_walkable_count(&fx->expected));
	t_tree_free(&got);
}

/*
 * Windows hibernated (or fast-started) leaves hiberfil.sys starting with
 * "hibr": ntfs-3g then refuses to write, and a read-only open must still
 * read everything.
 */
static void test_ntfsfs_reads_hibernated_volume(void)
{
	const struct t_fixture *fx = t_fixture();
	static uint8_t hibr[8192] = { 'h', 'i', 'b', 'r' };
	struct vr_err err = { 0 };
	struct guestfs *fs;
	struct disk *d;
	struct t_tree got;
	const struct t_ent *e;
	char image[4200];
	uint8_t head[4];
	int made, refused;

	snprintf(image, sizeof(image), "%s/hibernated.img", tap_workdir());
	CU_ASSERT_EQUAL_FATAL(
		t_sh("cp --sparse=always '%s' '%s'", fx->fs, image), 0);
	CU_ASSERT_EQUAL_FATAL(t_mount(image, NULL), 0);
	made = t_write("/hiberfil.sys", hibr, sizeof(hibr));
	CU_ASSERT_EQUAL_FATAL(t_umount(image), 0);
	CU_ASSERT_EQUAL_FATAL(made, 0);
	/* the oracle: ntfs-3g falls back to read-only */
	CU_ASSERT_EQUAL_FATAL(t_mount(image, NULL), 0);
	refused = t_write_str("/new.txt", "x") != 0 && errno == EROFS;
	CU_ASSERT_EQUAL_FATAL(t_umount(image), 0);
	CU_ASSERT_TRUE(refused);
	/* the file system image is the whole disk here: offset 0 */
	CU_ASSERT_EQUAL_FATAL(t_open(image, 0, 0, &d, &fs, &err), 0);
	t_walk_all(fs, &got);
	e = t_tree_find(&got, "/hiberfil.sys");
	CU_ASSERT_FATAL(e && e->kind == GUESTFS_FILE && e->size == 8192);
	CU_ASSERT_EQUAL(guestfs_read(fs, e->ino, head, 4, 0, &err), 4);
	CU_ASSERT(memcmp(head, "hibr", 4) == 0);
	CU_ASSERT_EQUAL(got.n, t_walkable_count(&fx->expected) + 1);
	t_tree_free(&got);
	t_close(d, fs);
}

int main(void)
{
	CU_pSuite s;
	int rc;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("ntfsfs", NULL, NULL);
	CU_add_test(s, "test_ntfsfs_volume_identity_matches_blkid",
		    test_ntfsfs_volume_identity_matches_blkid);
	CU_add_test(s, "test_ntfsfs_tree_has_every_feature",
		    test_ntfsfs_tree_has_every_feature);
	CU_add_test(s, "test_ntfsfs_walk_matches_ntfs3g",
		    test_ntfsfs_walk_matches_ntfs3g);
	CU_add_test(s, "test_ntfsfs_read_matches_ntfs3g",
		    test_ntfsfs_read_matches_ntfs3g);
	CU_add_test(s, "test_ntfsfs_read_alternating_files",
		    test_ntfsfs_read_alternating_files);
	CU_add_test(s, "test_ntfsfs_walk_skip_prunes_directory",
		    test_ntfsfs_walk_skip_prunes_directory);
	CU_add_test(s, "test_ntfsfs_walk_stops_on_visit_error",
		    test_ntfsfs_walk_stops_on_visit_error);
	CU_add_test(s, "test_ntfsfs_read_rejects_bad_file_numbers",
		    test_ntfsfs_read_rejects_bad_file_numbers);
	CU_add_test(s, "test_ntfsfs_rejects_zeroed_boot_sector",
		    test_ntfsfs_rejects_zeroed_boot_sector);
	CU_add_test(s, "test_ntfsfs_rejects_damaged_boot_sector",
		    test_ntfsfs_rejects_damaged_boot_sector);
	CU_add_test(s, "test_ntfsfs_rejects_truncated_volume",
		    test_ntfsfs_rejects_truncated_volume);
	CU_add_test(s, "test_ntfsfs_broken_mft_record_fails_walk",
		    test_ntfsfs_broken_mft_record_fails_walk);
	CU_add_test(s, "test_ntfsfs_walk_marks_slash_and_nul_names",
		    test_ntfsfs_walk_marks_slash_and_nul_names);
	CU_add_test(s, "test_ntfsfs_walk_survives_directory_loop",
		    test_ntfsfs_walk_survives_directory_loop);
	CU_add_test(s, "test_ntfsfs_reads_hibernated_volume",
		    test_ntfsfs_reads_hibernated_volume);
	CU_add_test(s, "test_ntfsfs_encrypted_file_is_not_supported",
		    test_ntfsfs_encrypted_file_is_not_supported);
	rc = tap_run();
	t_tree_free(&t_fx.expected);
	return rc;
}
