/*
 * crash_write.c - drive a seeded random workload (writes, zeroings, some
 * with unmap, and flushes; sub-block, block and multi-block) through
 * vhdx_write() and prove what write.c promises.
 *
 *   crash_write mirror DISK RAW OPS SEED
 *	run OPS operations on DISK and the same on RAW, a raw image holding
 *	DISK's content beforehand, so other readers can be compared with it.
 *   crash_write kill DISK KILLS SEED [MAX_DELAY_US]
 *	kill -9 a writer at KILLS random points. Each round forks a child
 *	that opens DISK read-write and runs an endless workload, reporting
 *	each finished operation through a pipe; the parent kills it after a
 *	random delay, then checks the disk (vhdx_check(): no errors), opens
 *	it read-only (the log replayed in memory) and compares it with a
 *	mirror kept by replaying the same operations in memory: every
 *	operation up to the last finished flush must be there, and the
 *	content must be the state after some prefix of the operations, the
 *	one in flight possibly in part. The next round's child replays the
 *	log into the file. A last round runs to the end and closes cleanly.
 *	Prints what it saw; exits 0 only if every round matched.
 *   crash_write merge BASE CHILD RAW KILLS SEED [MAX_DELAY_US]
 *	kill -9 vhdx_merge() of CHILD into BASE at KILLS random points. RAW
 *	is what the chain reads as. After each kill, CHILD (if still there)
 *	or else BASE must check clean and read as RAW; the next round merges
 *	on from there, and once a merge finishes both files are put back
 *	from copies made at the start. A last merge runs to the end.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vhdx.h"
#include "vr_err.h"

#define OP_FLUSHED 0x80000000u /* record flag: the op was a finished flush */
#define OP_OPENED 0x7fffffffu  /* record: the child has the disk open */
#define FINAL_OPS 400u

enum op_kind { OP_WRITE, OP_ZERO, OP_UNMAP, OP_FLUSH };

struct op {
	enum op_kind kind;
	uint64_t off, len;
	uint64_t data_seed;
};

struct disk_shape {
	uint64_t size;
	uint32_t sector, block;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Operation @j of round @round: the same for the child and the checker. */
static void op_make(const struct disk_shape *d, uint64_t seed, unsigned round,
		    uint32_t j, struct op *op)
{
	uint64_t x = seed * 1000003ull + round * 7919ull + j * 104729ull;
	uint64_t sectors = d->size / d->sector, r = splitmix(&x) % 100;
	uint64_t max_len, n;

	op->kind = r < 62   ? OP_WRITE
		   : r < 74 ? OP_ZERO
		   : r < 80 ? OP_UNMAP
			    : OP_FLUSH;
	r = splitmix(&x) % 10;
	/* mostly small, some up to a block, a few spanning blocks */
	max_len = r < 7	  ? 16
		  : r < 9 ? d->block / d->sector
			  : 3ull * d->block / d->sector;
	n = 1 + splitmix(&x) % max_len;
	op->off = splitmix(&x) % sectors;
	/* whole, aligned blocks now and then, to hit the block-state paths */
	if (splitmix(&x) % 8 == 0) {
		uint64_t spb = d->block / d->sector;

		op->off = op->off / spb * spb;
		n = spb * (1 + splitmix(&x) % 2);
	}
	if (n > sectors - op->off)
		n = sectors - op->off;
	op->off *= d->sector;
	op->len = n * d->sector;
	op->data_seed = splitmix(&x);
}

static void op_fill(const struct op *op, uint8_t *buf)
{
	uint64_t x = op->data_seed, i;

	for (i = 0; i + 8 <= op->len; i += 8) {
		uint64_t v = splitmix(&x);

		memcpy(buf + i, &v, 8);
	}
}

/* What @op leaves in [op->off, op->off + op->len), into @buf. */
static void op_content(const struct op *op, uint8_t *buf)
{
	if (op->kind == OP_WRITE)
		op_fill(op, buf);
	else
		memset(buf, 0, op->len);
}

/* Carry out @op on @v; @buf holds 3 blocks. */
static int op_run(struct vhdx *v, const struct op *op, uint8_t *buf,
		  struct vr_err *err)
{
	switch (op->kind) {
	case OP_WRITE:
		op_fill(op, buf);
		return vhdx_write(v, buf, op->len, op->off, err);
	case OP_ZERO:
		return vhdx_zero(v, op->off, op->len, 0, err);
	case OP_UNMAP:
		return vhdx_zero(v, op->off, op->len, VHDX_ZERO_UNMAP, err);
	default:
		return vhdx_flush(v, err);
	}
}

static void report(int fd, uint32_t rec)
{
	if (write(fd, &rec, sizeof(rec)) != sizeof(rec))
		_exit(3);
}

/* The child: run round @round's operations until killed (or @limit). */
static void child_run(const char *path, const struct disk_shape *d,
		      uint64_t seed, unsigned round, uint32_t limit, int out)
{
	struct vr_err err = { 0 };
	struct vhdx *v;
	uint8_t *buf = malloc(3ull * d->block);
	uint32_t j;
	int rc;

	if (!buf || vhdx_open(path, VHDX_OPEN_RDWR, NULL, &v, NULL, &err) < 0) {
		fprintf(stderr, "child: %s\n", err.msg);
		_exit(2);
	}
	report(out, OP_OPENED);
	for (j = 0; j < limit; j++) {
		struct op op;

		op_make(d, seed, round, j, &op);
		rc = op_run(v, &op, buf, &err);
		if (rc < 0) {
			fprintf(stderr, "child: op %" PRIu32 ": %s\n", j,
				err.msg);
			_exit(2);
		}
		report(out, op.kind == OP_FLUSH ? j | OP_FLUSHED : j);
	}
	if (vhdx_flush(v, &err) < 0) {
		fprintf(stderr, "child: final flush: %s\n", err.msg);
		_exit(2);
	}
	vhdx_close(v);
	free(buf);
	_exit(0);
}

/* Read the whole disk through a read-only open, after checking it. */
static int disk_load(const char *path, const struct disk_shape *d, uint8_t *buf,
		     bool *log_pending)
{
	struct vhdx_report rep = { 0 };
	struct vr_err err = { 0 };
	struct vhdx_info info;
	struct vhdx *v;
	size_t i;
	int rc;

	rc = vhdx_check(path, NULL, &rep, &err);
	if (rc < 0 || rep.errors) {
		fprintf(stderr, "check: %s\n", rc < 0 ? err.msg : "");
		for (i = 0; i < rep.count; i++)
			fprintf(stderr, "  %s\n", rep.lines[i]);
		vhdx_report_free(&rep);
		return -1;
	}
	vhdx_report_free(&rep);
	if (vhdx_open(path, 0, NULL, &v, NULL, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	vhdx_get_info(v, &info);
	*log_pending = info.log_replayed_in_memory;
	rc = vhdx_read(v, buf, d->size, 0, &err);
	if (rc < 0)
		fprintf(stderr, "read: %s\n", err.msg);
	vhdx_close(v);
	return rc;
}

struct checker {
	const struct disk_shape *d;
	uint8_t *state; /* the mirror, advanced op by op */
	uint8_t *bad;	/* per sector: state differs from the disk */
	uint64_t nbad;
	uint8_t *scratch; /* one op's content */
};

static void checker_mark(struct checker *c, const uint8_t *disk, uint64_t off,
			 uint64_t len)
{
	uint64_t s;

	for (s = off / c->d->sector; s < (off + len) / c->d->sector; s++) {
		uint64_t at = s * c->d->sector;
		bool differs = memcmp(c->state + at, disk + at, c->d->sector);

		c->nbad += (uint64_t)differs - c->bad[s];
		c->bad[s] = differs;
	}
}

/* Do the sectors still differing all hold what @op writes? */
static bool checker_partial_of(struct checker *c, const uint8_t *disk,
			       const struct op *op)
{
	uint64_t first = op->off / c->d->sector;
	uint64_t count = op->len / c->d->sector, s, in_range = 0;

	for (s = first; s < first + count; s++)
		in_range += c->bad[s];
	if (in_range != c->nbad)
		return false;
	op_content(op, c->scratch);
	for (s = first; s < first + count; s++) {
		uint64_t at = s * c->d->sector;

		if (c->bad[s] && memcmp(disk + at, c->scratch + (at - op->off),
					c->d->sector))
			return false;
	}
	return true;
}

static void checker_apply(struct checker *c, const uint8_t *disk,
			  const struct op *op)
{
	if (op->kind == OP_FLUSH)
		return;
	op_content(op, c->scratch);
	memcpy(c->state + op->off, c->scratch, op->len);
	checker_mark(c, disk, op->off, op->len);
}

/*
 * Is @disk the state after ops [0, j) of @round, for some j >= @flushed + 1
 * (every op up to the last finished flush), op j possibly in part?
 * @state holds the round's starting state and is advanced. *@prefix gets j.
 */
static bool checker_match(struct checker *c, const uint8_t *disk, uint64_t seed,
			  unsigned round, int64_t flushed, int64_t done,
			  int64_t *prefix, bool *partial)
{
	int64_t j;
	struct op op;

	for (j = 0; j <= flushed; j++) {
		op_make(c->d, seed, round, (uint32_t)j, &op);
		op_content(&op, c->scratch);
		if (op.kind != OP_FLUSH)
			memcpy(c->state + op.off, c->scratch, op.len);
	}
	c->nbad = 0;
	memset(c->bad, 0, c->d->size / c->d->sector);
	checker_mark(c, disk, 0, c->d->size);
	/* an op past the last one reported may have finished, not more */
	for (j = flushed + 1; j <= done + 2; j++) {
		if (c->nbad == 0) {
			*prefix = j;
			*partial = false;
			return true;
		}
		op_make(c->d, seed, round, (uint32_t)j, &op);
		if (op.kind != OP_FLUSH && checker_partial_of(c, disk, &op)) {
			checker_apply(c, disk, &op);
			if (c->nbad == 0)
				continue; /* op j whole: matched next time */
			*prefix = j;
			*partial = true;
			return true;
		}
		checker_apply(c, disk, &op);
	}
	return false;
}

/* Size, sector and block size of @path, from a read-only open. */
static int shape_load(const char *path, struct disk_shape *d)
{
	struct vr_err err = { 0 };
	struct vhdx_info info;
	struct vhdx *v;

	if (vhdx_open(path, 0, NULL, &v, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	vhdx_get_info(v, &info);
	d->size = info.virtual_size;
	d->sector = info.logical_sector_size;
	d->block = info.block_size;
	vhdx_close(v);
	return 0;
}

static int mirror_main(const char *path, const char *raw, uint32_t ops,
		       uint64_t seed)
{
	unsigned counts[4] = { 0 };
	struct vr_err err = { 0 };
	struct disk_shape d;
	struct vhdx *v;
	uint8_t *buf;
	uint32_t j;
	int fd;

	if (shape_load(path, &d) < 0)
		return 1;
	buf = malloc(3ull * d.block);
	fd = open(raw, O_RDWR);
	if (!buf || fd < 0 ||
	    vhdx_open(path, VHDX_OPEN_RDWR, NULL, &v, NULL, &err) < 0) {
		fprintf(stderr, "%s: cannot open (%s)\n", path, err.msg);
		return 1;
	}
	for (j = 0; j < ops; j++) {
		struct op op;

		op_make(&d, seed, 0, j, &op);
		if (op_run(v, &op, buf, &err) < 0) {
			fprintf(stderr, "op %" PRIu32 ": %s\n", j, err.msg);
			return 1;
		}
		if (op.kind != OP_FLUSH) {
			op_content(&op, buf);
			if (pwrite(fd, buf, op.len, (off_t)op.off) !=
			    (ssize_t)op.len) {
				perror(raw);
				return 1;
			}
		}
		counts[op.kind]++;
	}
	if (vhdx_flush(v, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	vhdx_close(v);
	close(fd);
	free(buf);
	printf("ops: %" PRIu32 " (%u writes, %u zeroings, %u unmaps, %u "
	       "flushes)\n",
	       ops, counts[OP_WRITE], counts[OP_ZERO], counts[OP_UNMAP],
	       counts[OP_FLUSH]);
	return 0;
}

static int kill_main(const char *path, unsigned kills, uint64_t seed,
		     long max_delay)
{
	struct disk_shape d;
	struct checker c = { 0 };
	struct vr_err err = { 0 };
	struct vhdx *v;
	uint8_t *disk;
	unsigned round, survived = 0, in_open = 0, partial_seen = 0;
	unsigned replayed = 0;

	if (shape_load(path, &d) < 0)
		return 1;
	c.d = &d;
	c.state = malloc(d.size);
	disk = malloc(d.size);
	c.bad = malloc(d.size / d.sector);
	c.scratch = malloc(3ull * d.block);
	if (!c.state || !disk || !c.bad || !c.scratch) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (vhdx_open(path, 0, NULL, &v, NULL, &err) < 0 ||
	    vhdx_read(v, c.state, d.size, 0, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	vhdx_close(v);
	srand((unsigned)seed);
	for (round = 0; round <= kills; round++) {
		bool last = round == kills, partial = false, pending = false;
		int64_t flushed = -1, done = -1, prefix = 0;
		bool opened = false;
		uint32_t rec;
		int p[2], status;
		pid_t pid;

		if (pipe(p) < 0)
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(p[0]);
			child_run(path, &d, seed, round,
				  last ? FINAL_OPS : UINT32_MAX, p[1]);
		}
		close(p[1]);
		if (!last) {
			usleep((useconds_t)(rand() % (max_delay + 1)));
			kill(pid, SIGKILL);
		}
		while (read(p[0], &rec, sizeof(rec)) == sizeof(rec)) {
			if (rec == OP_OPENED) {
				opened = true;
				continue;
			}
			done = rec & ~OP_FLUSHED;
			if (rec & OP_FLUSHED)
				flushed = done;
		}
		close(p[0]);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			fprintf(stderr, "round %u: writer failed\n", round);
			return 1;
		}
		if (last && !(WIFEXITED(status) && done == FINAL_OPS - 1)) {
			fprintf(stderr, "round %u: writer did not finish\n",
				round);
			return 1;
		}
		if (disk_load(path, &d, disk, &pending) < 0) {
			fprintf(stderr,
				"round %u: disk unusable after kill (flushed "
				"op %" PRId64 ", done %" PRId64 ")\n",
				round, flushed, done);
			return 1;
		}
		if (!checker_match(&c, disk, seed, round, last ? done : flushed,
				   done, &prefix, &partial)) {
			fprintf(stderr,
				"round %u: content is no prefix of the workload "
				"at or after the last flush (op %" PRId64
				", last done %" PRId64 ", %" PRIu64
				" sectors differ)\n",
				round, flushed, done, c.nbad);
			return 1;
		}
		if (last && pending) {
			fprintf(stderr, "clean close left a log to replay\n");
			return 1;
		}
		/* the disk is the next round's starting state */
		memcpy(c.state, disk, d.size);
		if (!last) {
			survived++;
			in_open += !opened;
			partial_seen += partial;
			replayed += pending;
		}
	}
	printf("kills survived: %u of %u (%u during open or replay, %u with "
	       "a log to replay, %u with the write in flight in part)\n",
	       survived, kills, in_open, replayed, partial_seen);
	free(c.state);
	free(c.bad);
	free(c.scratch);
	free(disk);
	return 0;
}

/* Copy @from to @to (replaced), keeping holes out of the way. */
static int file_copy(const char *from, const char *to)
{
	char cmd[4096];

	if (snprintf(cmd, sizeof(cmd), "cp --sparse=always -- '%s' '%s'", from,
		     to) >= (int)sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

/* Does @path check clean and read as @want (@size bytes)? */
static bool disk_reads_as(const char *path, const uint8_t *want, uint8_t *buf,
			  uint64_t size)
{
	struct disk_shape d;
	bool pending;

	if (shape_load(path, &d) < 0 || d.size != size ||
	    disk_load(path, &d, buf, &pending) < 0)
		return false;
	return memcmp(buf, want, size) == 0;
}

static int merge_main(const char *base, const char *child, const char *raw,
		      unsigned kills, uint64_t seed, long max_delay)
{
	char base_orig[4096], child_orig[4096];
	unsigned round, child_left = 0, merged = 0;
	struct vr_err err = { 0 };
	struct disk_shape d;
	uint8_t *want, *buf;
	FILE *f;

	if (shape_load(child, &d) < 0)
		return 1;
	want = malloc(d.size);
	buf = malloc(d.size);
	f = fopen(raw, "rb");
	if (!want || !buf || !f || fread(want, 1, d.size, f) != d.size) {
		fprintf(stderr, "%s: cannot read\n", raw);
		return 1;
	}
	fclose(f);
	snprintf(base_orig, sizeof(base_orig), "%s.orig", base);
	snprintf(child_orig, sizeof(child_orig), "%s.orig", child);
	if (file_copy(base, base_orig) < 0 || file_copy(child, child_orig) < 0)
		return 1;
	srand((unsigned)seed);
	for (round = 0; round < kills; round++) {
		int status;
		pid_t pid;

		if (access(child, F_OK) != 0 &&
		    (file_copy(base_orig, base) < 0 ||
		     file_copy(child_orig, child) < 0))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			if (vhdx_merge(child, NULL, NULL, &err) < 0) {
				fprintf(stderr, "child: %s\n", err.msg);
				_exit(2);
			}
			_exit(0);
		}
		usleep((useconds_t)(rand() % (max_delay + 1)));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			return 1;
		if (access(child, F_OK) == 0) {
			child_left++;
			if (!disk_reads_as(child, want, buf, d.size)) {
				fprintf(stderr,
					"round %u: the chain under %s does "
					"not read as before\n",
					round, child);
				return 1;
			}
		} else {
			merged++;
			if (!disk_reads_as(base, want, buf, d.size)) {
				fprintf(stderr,
					"round %u: merged %s does not read "
					"as the chain did\n",
					round, base);
				return 1;
			}
		}
	}
	if (access(child, F_OK) == 0 &&
	    vhdx_merge(child, NULL, NULL, &err) < 0) {
		fprintf(stderr, "final merge: %s\n", err.msg);
		return 1;
	}
	if (!disk_reads_as(base, want, buf, d.size)) {
		fprintf(stderr,
			"final merge: %s does not read as the chain "
			"did\n",
			base);
		return 1;
	}
	printf("merge kills survived: %u of %u (%u left the chain, %u the "
	       "merged parent)\n",
	       child_left + merged, kills, child_left, merged);
	unlink(base_orig);
	unlink(child_orig);
	free(want);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 7 || argc == 8) && strcmp(argv[1], "merge") == 0)
		return merge_main(argv[2], argv[3], argv[4],
				  (unsigned)strtoul(argv[5], NULL, 0),
				  strtoull(argv[6], NULL, 0),
				  argc == 8 ? strtol(argv[7], NULL, 0) : 60000);
	if (argc == 6 && strcmp(argv[1], "mirror") == 0)
		return mirror_main(argv[2], argv[3],
				   (uint32_t)strtoul(argv[4], NULL, 0),
				   strtoull(argv[5], NULL, 0));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "kill") == 0)
		return kill_main(argv[2], (unsigned)strtoul(argv[3], NULL, 0),
				 strtoull(argv[4], NULL, 0),
				 argc == 6 ? strtol(argv[5], NULL, 0) : 30000);
	fprintf(stderr, "usage: crash_write mirror DISK RAW OPS SEED\n"
			"       crash_write kill DISK KILLS SEED "
			"[MAX_DELAY_US]\n"
			"       crash_write merge BASE CHILD RAW KILLS SEED "
			"[MAX_DELAY_US]\n");
	return 2;
}
