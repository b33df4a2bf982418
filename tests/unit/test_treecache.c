/*
 * test_treecache.c - saved walks of guest file systems: every field of
 * every entry comes back in order; a damaged, truncated or missing file
 * and entries no walker gives are refused before anything is visited;
 * trimming keeps the walks used last.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tap.h"
#include "treecache.h"
#include "vr_err.h"

#define T_ENTRIES 5000

/* Entry @i of a made-up walk: every kind, field and name length. */
static void t_entry(unsigned i, struct guestfs_entry *e, char *path,
		    size_t size, char *target)
{
	memset(e, 0, sizeof(*e));
	snprintf(path, size, "/d%u/%s%u", i / 100,
		 i % 7 ? "file-" : "Übersicht ✓ ", i);
	e->path = path;
	e->kind = (enum guestfs_kind)(i % 4);
	e->ino = 1000000007ull * i;
	e->size = (uint64_t)i << 20;
	e->mode = 0100000u | (i % 01000);
	e->uid = i;
	e->gid = 65534u - i;
	e->nlink = 1 + i % 3;
	e->atime = (struct timespec){ .tv_sec = -1 - (time_t)i,
				      .tv_nsec = 999999999 };
	e->mtime = (struct timespec){ .tv_sec = 1790000000 + i, .tv_nsec = i };
	e->ctime = (struct timespec){ .tv_sec = i };
	e->btime = (struct timespec){ .tv_sec = 2 * i, .tv_nsec = 7 };
	e->attributes = i * 3;
	e->bad_name = i % 11 == 0;
	if (e->kind == GUESTFS_SYMLINK) {
		snprintf(target, 64, "../t%u", i);
		e->target = target;
	}
}

struct t_check {
	unsigned seen, bad;
};

static int t_same(void *ctx, const struct guestfs_entry *got)
{
	struct t_check *c = ctx;
	struct guestfs_entry want;
	char path[128], target[64];

	t_entry(c->seen++, &want, path, sizeof(path), target);
	if (strcmp(got->path, want.path) || got->kind != want.kind ||
	    got->ino != want.ino || got->size != want.size ||
	    got->mode != want.mode || got->uid != want.uid ||
	    got->gid != want.gid || got->nlink != want.nlink ||
	    memcmp(&got->atime, &want.atime, sizeof(want.atime)) ||
	    memcmp(&got->mtime, &want.mtime, sizeof(want.mtime)) ||
	    memcmp(&got->ctime, &want.ctime, sizeof(want.ctime)) ||
	    memcmp(&got->btime, &want.btime, sizeof(want.btime)) ||
	    got->attributes != want.attributes ||
	    got->bad_name != want.bad_name || !got->target != !want.target ||
	    (want.target && strcmp(got->target, want.target)))
		c->bad++;
	/* what the walk's visitor says is not the recording's business */
	return c->seen % 2 ? GUESTFS_SKIP : 0;
}

static const char *t_file(const char *name)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/%s", tap_workdir(), name);
	return path;
}

/* The walk of T_ENTRIES entries saved at @path. */
static void t_save(const char *path)
{
	struct guestfs_entry e;
	struct vr_err err = { 0 };
	struct treecache *tc;
	char p[128], target[64];
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(treecache_new(&tc), 0);
	for (i = 0; i < T_ENTRIES; i++) {
		t_entry(i, &e, p, sizeof(p), target);
		CU_ASSERT_EQUAL_FATAL(treecache_add(tc, &e), 0);
	}
	CU_ASSERT_EQUAL(treecache_save(tc, path, &err), 0);
	treecache_free(tc);
}

static void test_treecache_round_trip(void)
{
	const char *path = t_file("walk.tree");
	struct vr_err err = { 0 };
	struct t_check c = { 0 };
	struct stat st;

	t_save(path);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(treecache_replay(path, t_same, &c, &err), 0);
	CU_ASSERT_EQUAL(c.seen, T_ENTRIES);
	CU_ASSERT_EQUAL(c.bad, 0);
}

static int t_count(void *ctx, const struct guestfs_entry *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

static int t_stop(void *ctx, const struct guestfs_entry *e)
{
	(void)e;
	return ++*(unsigned *)ctx == 3 ? -EINTR : 0;
}

/* The bytes of @path with byte @at xored with @x, replayed. */
static int t_replay_changed(const char *path, long at, uint8_t x,
			    unsigned *visits, struct vr_err *err)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;

	if (f)
		fclose(f);
	if (at < 0)
		at += (long)len;
	buf[at] ^= x;
	return treecache_replay_buf(buf, len, path, t_count, visits, err);
}

static void test_treecache_damage_is_refused_whole(void)
{
	const char *path = t_file("walk.tree"), *cut = t_file("cut.tree");
	struct vr_err err = { 0 };
	unsigned visits = 0, i;
	struct stat st;
	long spots[] = { 0, 9, 13, 20, 30, 500, -5, -1 };

	t_save(path);
	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		CU_ASSERT_EQUAL(
			t_replay_changed(path, spots[i], 0x40, &visits, &err),
			-VR_ECORRUPT);
		vr_err_clear(&err);
	}
	CU_ASSERT_EQUAL(visits, 0);
	/* truncated: a copy without its last 100 bytes */
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(link(path, cut) == 0 || errno == EEXIST, 1);
	CU_ASSERT_EQUAL(truncate(cut, st.st_size - 100), 0);
	CU_ASSERT_EQUAL(treecache_replay(cut, t_count, &visits, &err),
			-VR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cut.tree"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(
		treecache_replay(t_file("none.tree"), t_count, &visits, &err),
		-ENOENT);
	CU_ASSERT_EQUAL(visits, 0);
	/* a visitor's error stops the replay and comes back */
	t_save(path);
	CU_ASSERT_EQUAL(treecache_replay(path, t_stop, &visits, &err), -EINTR);
	CU_ASSERT_EQUAL(visits, 3);
}

/* A walk of one entry at @p (a symlink to @target if not NULL). */
static int t_one(const char *p, const char *target, struct vr_err *err)
{
	struct guestfs_entry e = { .path = p, .kind = GUESTFS_FILE };
	const char *path = t_file("one.tree");
	struct treecache *tc;
	unsigned visits = 0;
	int rc;

	if (target) {
		e.kind = GUESTFS_SYMLINK;
		e.target = target;
	}
	if (treecache_new(&tc) < 0 || treecache_add(tc, &e) < 0 ||
	    treecache_save(tc, path, err) < 0) {
		treecache_free(tc);
		return -EIO;
	}
	treecache_free(tc);
	rc = treecache_replay(path, t_count, &visits, err);
	return rc == 0 && visits != 1 ? -EIO : rc;
}

static void test_treecache_refuses_what_no_walk_gives(void)
{
	static const char *const bad[] = {
		"",    "a",	"//a",	"/a//b", "/a/",	    "/.",
		"/..", "/a/..", "/./a", "/a/.",	 "/../etc",
	};
	struct vr_err err = { 0 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(t_one(bad[i], NULL, &err), -VR_ECORRUPT);
		if (err.msg[0])
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "entry 0"));
		vr_err_clear(&err);
	}
	CU_ASSERT_EQUAL(t_one("/.a/..b/...", NULL, &err), 0);
	CU_ASSERT_EQUAL(t_one("/l", "../../x", &err), 0);
}

/* Which of a.tree, b.tree, c.tree are in @dir: bits 1, 2, 4. */
static unsigned t_present(const char *dir)
{
	static const char *const names[] = { "a.tree", "b.tree", "c.tree" };
	char path[400];
	unsigned bits = 0, i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		bits |= access(path, F_OK) == 0 ? 1u << i : 0;
	}
	return bits;
}

static void test_treecache_trim_keeps_the_last_used(void)
{
	static const char *const names[] = { "a.tree", "b.tree", "c.tree" };
	char dir[300], path[400];
	struct timespec times[2] = { { 0 } };
	struct stat st;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/trim", tap_workdir());
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		t_save(path);
		/* b used last, then c, then a */
		times[0].tv_sec = times[1].tv_sec =
			1000000000 + (time_t)(i == 1   ? 3
					      : i == 2 ? 2
						       : 1);
		CU_ASSERT_EQUAL(utimensat(AT_FDCWD, path, times, 0), 0);
	}
	/* all fit: nothing goes */
	snprintf(path, sizeof(path), "%s/a.tree", dir);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	treecache_trim(dir, 3 * (uint64_t)st.st_size);
	CU_ASSERT_EQUAL(t_present(dir), 7);
	/* room for two: the least lately used goes */
	treecache_trim(dir, 2 * (uint64_t)st.st_size);
	CU_ASSERT_EQUAL(t_present(dir), 6);
	/* room for one: the one used last stays */
	treecache_trim(dir, (uint64_t)st.st_size);
	CU_ASSERT_EQUAL(t_present(dir), 2);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("treecache", NULL, NULL);
	CU_add_test(s, "test_treecache_round_trip", test_treecache_round_trip);
	CU_add_test(s, "test_treecache_damage_is_refused_whole",
		    test_treecache_damage_is_refused_whole);
	CU_add_test(s, "test_treecache_refuses_what_no_walk_gives",
		    test_treecache_refuses_what_no_walk_gives);
	CU_add_test(s, "test_treecache_trim_keeps_the_last_used",
		    test_treecache_trim_keeps_the_last_used);
	return tap_run();
}
