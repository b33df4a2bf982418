/*
 * repo.c - the repository's chunk store (docs/repo-format.md): config,
 * writer lock, pack files with their indexes, an in-memory hash table of
 * every chunk, put/get/check.
 */
#include <config.h>
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "strmap.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

#define REPO_FORMAT 1
#define REPO_CONFIG_MAGIC "vhdrecover-repo"
/* Seal a pack once it holds this much. */
#define REPO_PACK_TARGET (32u * 1024 * 1024)
/* Bytes appended to a pack between starts of its writeback. */
#define REPO_WRITEBACK (4u * 1024 * 1024)
/* Threads hashing and compressing a batch, at most. */
#define REPO_MAX_WORKERS 16

/* Pack file: magic, then records of a header and the stored bytes. */
#define REPO_PACK_MAGIC "VRPACK01"
#define REPO_REC_MAGIC 0x4b435256u /* "VRCK" */
#define REPO_REC_OFF_MAGIC 0	   /* u32 */
#define REPO_REC_OFF_STORED 4	   /* u32, bytes that follow */
#define REPO_REC_OFF_RAW 8	   /* u32, plaintext bytes */
#define REPO_REC_OFF_CODEC 12	   /* u32: 0 stored as is, 1 zstd */
#define REPO_REC_OFF_HASH 16	   /* SHA-256 of the plaintext */
#define REPO_REC_SIZE 48
/* Index file: magic, count, entries sorted by hash, CRC-32C trailer. */
#define REPO_IDX_MAGIC "VRIDX001"
#define REPO_IDX_HEADER 16 /* magic, u32 count, u32 reserved */
#define REPO_IDX_OFF_HASH 0
#define REPO_IDX_OFF_OFFSET 32 /* u64, of the record in the pack */
#define REPO_IDX_OFF_STORED 40 /* u32 */
#define REPO_IDX_OFF_RAW 44    /* u32 */
#define REPO_IDX_OFF_CODEC 48  /* u32 */
#define REPO_IDX_ENTRY 56
#define REPO_CODEC_NONE 0u
#define REPO_CODEC_ZSTD 1u

struct repo_entry {
	uint8_t hash[REPO_HASH_SIZE];
	uint32_t pack; /* index into packs[]; npacks = the open pack */
	uint32_t stored, raw, codec;
	uint64_t off;
};

/* One batch being prepared by the workers. */
struct repo_batch {
	struct repo *r;
	struct repo_put *puts;
	size_t n;
	size_t next;	  /* the next put to take, atomically */
	unsigned started; /* worker threads running */
};

struct repo_worker {
	struct repo_batch *b;
	unsigned id;
	pthread_t thread;
};

/* What a worker made of one put of a batch. */
struct repo_prep {
	int rc;		 /* 0, or -EIO: hashing failed */
	bool known;	 /* stored before the batch began */
	uint32_t codec;	 /* REPO_CODEC_* */
	uint32_t stored; /* bytes to store */
	const uint8_t *data;
};

struct repo {
	char *path;
	unsigned flags;
	int lock_fd;
	int readers_fd; /* REPO/readers: shared by readers, see repo_gc() */
	uint32_t chunk_size;
	int zstd_level;
	uint64_t quota; /* 0: none */
	uint64_t used;	/* bytes of the repository's files, as accounted */

	char **packs; /* sealed pack ids, then the open one */
	int *pack_fds;
	uint32_t npacks, cap_packs;

	struct repo_entry *e;
	size_t n, cap;
	uint32_t *table; /* entry index + 1, 0 empty; open addressing */
	size_t table_size;

	/* the open pack */
	int pack_fd;
	uint64_t pack_len;
	uint64_t pack_kicked; /* writeback started up to here */
	size_t pending;	      /* first entry of the open pack */

	struct repo_stats stats;

	/* reads: the repository's own reader (repo_chunk_get()), and what
	 * readers of several threads share: pack_fds opened on first use and
	 * the read counts of stats */
	struct repo_reader *own;
	pthread_mutex_t read_lock;
	/* held for reading by readers, for writing by repo_refresh() */
	pthread_rwlock_t index_lock;
	struct timespec packs_seen; /* packs/'s mtime when last loaded */
	size_t zcap;		    /* ZSTD_compressBound(chunk_size) */

	/* hashing and compressing batches of puts on every core */
	unsigned nworkers;
	ZSTD_CCtx **cctx;   /* one per worker */
	uint8_t *batch_buf; /* zcap bytes per put of the batch */
	size_t batch_cap;   /* puts it holds */
	struct repo_prep *prep;
	struct repo_batch inflight; /* puts NULL: none */
	struct repo_worker workers[REPO_MAX_WORKERS];
};

/* One thread's buffers for reading chunks (repo_reader_new()). */
struct repo_reader {
	struct repo *r;
	ZSTD_DCtx *dctx;
	uint8_t *zbuf; /* a chunk as stored */
};

static void repo_batch_join(struct repo *r);

int repo_hash(const void *buf, size_t len, uint8_t hash[REPO_HASH_SIZE])
{
	/* EVP picks SHA-NI or the CPU's best code by itself */
	return EVP_Digest(buf, len, hash, NULL, EVP_sha256(), NULL) ? 0 : -EIO;
}

void repo_hash_format(const uint8_t hash[REPO_HASH_SIZE], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < REPO_HASH_SIZE; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[64] = '\0';
}

bool repo_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

uint32_t repo_chunk_size(const struct repo *r)
{
	return r->chunk_size;
}

static char *repo_join(const char *a, const char *b, const char *c)
{
	char *p;

	return asprintf(&p, "%s/%s%s", a, b, c ? c : "") < 0 ? NULL : p;
}

/* ---- config and init ---- */

static int repo_write_config(int fd, const char *tmp, void *ctx,
			     struct vr_err *err)
{
	const struct repo_init_opts *o = ctx;
	char text[160];
	int n = snprintf(text, sizeof(text),
			 REPO_CONFIG_MAGIC "\nformat %d\nchunk_size %" PRIu32
					   "\nzstd_level %d\n",
			 REPO_FORMAT, o->chunk_size, o->zstd_level);
	ssize_t w;

	if (o->quota)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "quota %" PRIu64 "\n", o->quota);
	w = vr_pwrite_full(fd, text, (size_t)n, 0);
	return w < 0 ? vr_err_set(err, (int)w, "%s: %s", tmp, strerror((int)-w))
		     : 0;
}

int repo_init(const char *path, const struct repo_init_opts *opts,
	      struct vr_err *err)
{
	struct repo_init_opts o = { REPO_DEFAULT_CHUNK_SIZE,
				    REPO_DEFAULT_ZSTD_LEVEL, 0 };
	char *packs = NULL, *config = NULL, *lock = NULL, *readers = NULL;
	DIR *d;
	int rc = 0, fd;

	if (opts && opts->chunk_size)
		o.chunk_size = opts->chunk_size;
	if (opts && opts->zstd_level)
		o.zstd_level = opts->zstd_level;
	if (opts)
		o.quota = opts->quota;
	if (o.chunk_size < 4096 || o.chunk_size > (64u << 20) ||
	    (o.chunk_size & (o.chunk_size - 1)))
		return vr_err_set(err, -EINVAL,
				  "%s: chunk size %" PRIu32
				  " is not a power of two from 4K to 64M",
				  path, o.chunk_size);
	if (o.zstd_level < 1 || o.zstd_level > 19)
		return vr_err_set(err, -EINVAL,
				  "%s: zstd level %d is not 1..19", path,
				  o.zstd_level);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	d = opendir(path);
	if (!d)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = -EEXIST;
	closedir(d);
	if (rc < 0)
		return vr_err_set(err, rc,
				  "%s: not empty; a repository goes "
				  "into a new directory",
				  path);
	packs = repo_join(path, "packs", NULL);
	config = repo_join(path, "config", NULL);
	lock = repo_join(path, "lock", NULL);
	readers = repo_join(path, "readers", NULL);
	if (!packs || !config || !lock || !readers) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (mkdir(packs, 0755) < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", packs, strerror(errno));
		goto out;
	}
	fd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", lock, strerror(errno));
		goto out;
	}
	close(fd);
	/* readers' lock (repo_gc()): made now so read-only users find it */
	fd = open(readers, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", readers,
				strerror(errno));
		goto out;
	}
	close(fd);
	/* the config last: a directory without one is no repository */
	rc = vr_file_replace(config, 0644, 0, repo_write_config, &o, err);
out:
	free(packs);
	free(config);
	free(lock);
	free(readers);
	return rc;
}

static int repo_read_config(struct repo *r, struct vr_err *err)
{
	char *path = repo_join(r->path, "config", NULL), line[128];
	int format = -1, level = -1;
	unsigned long size = 0;
	unsigned long long quota = 0;
	bool magic = false;
	FILE *f;

	if (!path)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	f = fopen(path, "r");
	if (!f) {
		int rc =
			vr_err_set(err, -errno, "%s: not a repository (%s: %s)",
				   r->path, path, strerror(errno));

		free(path);
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, REPO_CONFIG_MAGIC "\n"))
			magic = true;
		sscanf(line, "format %d", &format);
		sscanf(line, "chunk_size %lu", &size);
		sscanf(line, "zstd_level %d", &level);
		sscanf(line, "quota %llu", &quota);
	}
	fclose(f);
	free(path);
	if (!magic || format < 1 || size < 4096 || size > (64ul << 20) ||
	    (size & (size - 1)) || level < 1 || level > 19)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: config: damaged or not a vhdrecover "
				  "repository",
				  r->path);
	if (format > REPO_FORMAT)
		return vr_err_set(err, -ENOTSUP,
				  "%s: repository format %d is newer than "
				  "this vhdrecover (%d)",
				  r->path, format, REPO_FORMAT);
	r->chunk_size = (uint32_t)size;
	r->zstd_level = level;
	r->quota = quota;
	return 0;
}

/* ---- the in-memory index ---- */

static uint64_t repo_slot(const uint8_t *hash, size_t size)
{
	return vr_get_le64(hash) & (size - 1);
}

static const struct repo_entry *repo_find(const struct repo *r,
					  const uint8_t *hash)
{
	size_t i;

	if (!r->table_size)
		return NULL;
	for (i = repo_slot(hash, r->table_size); r->table[i];
	     i = (i + 1) & (r->table_size - 1))
		if (!memcmp(r->e[r->table[i] - 1].hash, hash, REPO_HASH_SIZE))
			return &r->e[r->table[i] - 1];
	return NULL;
}

/* Add r->e[r->n - 1] to the table, growing it to stay under half full. */
static int repo_table_add(struct repo *r, struct vr_err *err)
{
	size_t i, k;

	if (2 * r->n > r->table_size) {
		size_t size = r->table_size ? 2 * r->table_size : 1024;
		uint32_t *t = calloc(size, sizeof(*t));

		if (!t || r->n >= UINT32_MAX) {
			free(t);
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  r->path);
		}
		free(r->table);
		r->table = t;
		r->table_size = size;
		for (k = 0; k < r->n; k++) {
			for (i = repo_slot(r->e[k].hash, size); t[i];
			     i = (i + 1) & (size - 1))
				;
			t[i] = (uint32_t)(k + 1);
		}
		return 0;
	}
	for (i = repo_slot(r->e[r->n - 1].hash, r->table_size); r->table[i];
	     i = (i + 1) & (r->table_size - 1))
		;
	r->table[i] = (uint32_t)r->n;
	return 0;
}

static int repo_entry_add(struct repo *r, const struct repo_entry *e,
			  struct vr_err *err)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4096;
		void *p = reallocarray(r->e, cap, sizeof(*r->e));

		if (!p)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  r->path);
		r->e = p;
		r->cap = cap;
	}
	r->e[r->n++] = *e;
	return repo_table_add(r, err);
}

static int repo_pack_add(struct repo *r, const char *id, struct vr_err *err)
{
	if (r->npacks + 1 >= r->cap_packs) {
		uint32_t cap = r->cap_packs ? 2 * r->cap_packs : 16;
		char **p = reallocarray(r->packs, cap, sizeof(*p));
		int *f = p ? reallocarray(r->pack_fds, cap, sizeof(*f)) : NULL;

		if (p)
			r->packs = p;
		if (!p || !f)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  r->path);
		r->pack_fds = f;
		r->cap_packs = cap;
	}
	r->packs[r->npacks] = strdup(id);
	r->pack_fds[r->npacks] = -1;
	if (!r->packs[r->npacks])
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	r->npacks++;
	return 0;
}

/*
 * Read packs/@id.idx and check it whole (magic, length, CRC-32C): a new
 * buffer *@buf of its bytes, *@count entries. Returns 0, -VR_ECORRUPT,
 * -ENOMEM, -errno.
 */
static int repo_index_read(struct repo *r, const char *id, uint8_t **buf,
			   uint32_t *count, struct vr_err *err)
{
	char *idx = NULL;
	struct stat st;
	int rc = 0, fd = -1;
	ssize_t n;

	*buf = NULL;
	if (asprintf(&idx, "%s/packs/%s.idx", r->path, id) < 0)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	fd = open(idx, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", idx, strerror(errno));
		goto out;
	}
	if (st.st_size < REPO_IDX_HEADER + 4 || st.st_size > (1ll << 32)) {
		rc = vr_err_set(err, -VR_ECORRUPT, "%s: truncated index", idx);
		goto out;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", idx);
		goto out;
	}
	n = vr_pread_full(fd, *buf, (size_t)st.st_size, 0);
	*count = n >= REPO_IDX_HEADER ? vr_get_le32(*buf + 8) : 0;
	if (n != st.st_size || memcmp(*buf, REPO_IDX_MAGIC, 8) != 0 ||
	    (uint64_t)*count * REPO_IDX_ENTRY + REPO_IDX_HEADER + 4 !=
		    (uint64_t)n ||
	    vr_crc32c(0, *buf, (size_t)n - 4) !=
		    vr_get_le32(*buf + (size_t)n - 4))
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: index damaged (magic, length or "
				"checksum)",
				idx);
out:
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	free(idx);
	return rc;
}

/* Entry @i of an index read by repo_index_read(), of pack @pack. */
static void repo_index_entry(const uint8_t *buf, uint32_t i, uint32_t pack,
			     struct repo_entry *e)
{
	const uint8_t *p = buf + REPO_IDX_HEADER + (size_t)i * REPO_IDX_ENTRY;

	e->pack = pack;
	memcpy(e->hash, p + REPO_IDX_OFF_HASH, REPO_HASH_SIZE);
	e->off = vr_get_le64(p + REPO_IDX_OFF_OFFSET);
	e->stored = vr_get_le32(p + REPO_IDX_OFF_STORED);
	e->raw = vr_get_le32(p + REPO_IDX_OFF_RAW);
	e->codec = vr_get_le32(p + REPO_IDX_OFF_CODEC);
}

/*
 * Load packs/@id.idx and add its entries. A chunk indexed by an earlier
 * pack too (a collection interrupted after copying it) keeps the earlier
 * entry: both copies are whole, the index was sealed after its pack.
 */
static int repo_load_index(struct repo *r, const char *id, struct vr_err *err)
{
	struct repo_entry e;
	uint8_t *buf;
	uint32_t count, i;
	int rc;

	rc = repo_index_read(r, id, &buf, &count, err);
	if (rc == 0)
		rc = repo_pack_add(r, id, err);
	for (i = 0; rc == 0 && i < count; i++) {
		repo_index_entry(buf, i, r->npacks - 1, &e);
		if (!repo_find(r, e.hash))
			rc = repo_entry_add(r, &e, err);
	}
	free(buf);
	return rc;
}

/* packs/'s modification time: a pack sealed since changes it. */
static int repo_pack_dir_time(struct repo *r, struct timespec *t,
			      struct vr_err *err)
{
	char *dir = repo_join(r->path, "packs", NULL);
	struct stat st;
	int rc = 0;

	if (!dir)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	if (stat(dir, &st) < 0)
		rc = vr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	else
		*t = st.st_mtim;
	free(dir);
	return rc;
}

/*
 * Readers may read at once; repo_refresh() waits for them, and new
 * readers wait for it (the default lets a stream of readers starve it).
 */
static void repo_index_lock_init(struct repo *r)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->index_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

/*
 * Load the index of every pack in packs/ that has one, in name order
 * (deterministic), but those @known holds (NULL: none); each loaded id
 * is added to @known.
 */
static int repo_load(struct repo *r, struct strmap *known, struct vr_err *err)
{
	char *dir = repo_join(r->path, "packs", NULL);
	struct dirent **list = NULL;
	int n, i, rc = 0;

	if (!dir)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0)
		rc = vr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (rc == 0 && len > 4 &&
		    !strcmp(list[i]->d_name + len - 4, ".idx")) {
			list[i]->d_name[len - 4] = '\0';
			rc = known ? strmap_put(known, list[i]->d_name, NULL)
				   : 1;
			if (rc < 0)
				rc = vr_err_set(err, rc, "%s: out of memory",
						r->path);
			else if (rc == 1)
				rc = repo_load_index(r, list[i]->d_name, err);
			else
				rc = 0;
		}
		free(list[i]);
	}
	free(list);
	free(dir);
	r->pending = r->n;
	return rc;
}

int repo_refresh(struct repo *r, struct vr_err *err)
{
	struct strmap *known = NULL;
	struct timespec seen;
	uint32_t i;
	int rc;

	if (r->flags & REPO_OPEN_WRITE)
		return vr_err_set(err, -EINVAL, "%s: refresh of a writer",
				  r->path);
	rc = repo_pack_dir_time(r, &seen, err);
	/* a directory changed within the last second may change again
	 * with the same time stamp: such a time is looked at again */
	if (rc < 0 || (seen.tv_sec == r->packs_seen.tv_sec &&
		       seen.tv_nsec == r->packs_seen.tv_nsec &&
		       time(NULL) > seen.tv_sec + 1))
		return rc;
	rc = strmap_new(&known) < 0 ? -ENOMEM : 0;
	for (i = 0; rc == 0 && i < r->npacks; i++)
		rc = strmap_put(known, r->packs[i], NULL) < 0 ? -ENOMEM : 0;
	if (rc < 0) {
		strmap_free(known);
		return vr_err_set(err, rc, "%s: out of memory", r->path);
	}
	pthread_rwlock_wrlock(&r->index_lock);
	rc = repo_load(r, known, err);
	pthread_rwlock_unlock(&r->index_lock);
	strmap_free(known);
	if (rc == 0)
		r->packs_seen = seen;
	return rc;
}

/* ---- open and close ---- */

static int repo_lock(struct repo *r, struct vr_err *err)
{
	char *path = repo_join(r->path, "lock", NULL), pid[32] = "?";
	int rc = 0, n;

	if (!path)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->lock_fd < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	} else if (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t got = pread(r->lock_fd, pid, sizeof(pid) - 1, 0);

		pid[got > 0 ? got : 1] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rc = errno == EWOULDBLOCK
			     ? vr_err_set(err, -EBUSY,
					  "%s: in use by another writer (pid "
					  "%s)",
					  r->path, pid)
			     : vr_err_set(err, -errno, "%s: lock: %s", path,
					  strerror(errno));
	} else {
		n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(r->lock_fd, 0) < 0 ||
		    vr_pwrite_full(r->lock_fd, pid, (size_t)n, 0) < 0)
			rc = vr_err_set(err, -EIO, "%s: cannot write", path);
	}
	free(path);
	return rc;
}

/*
 * REPO/readers, opened with @flags (made if missing and it can be; init
 * and every writer make it, so readers find it); -1 if it cannot be.
 */
static int repo_readers_open(struct repo *r, int flags)
{
	char *path = repo_join(r->path, "readers", NULL);
	int fd;

	if (!path)
		return -1;
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open(path, flags | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	return fd;
}

/*
 * A reader holds REPO/readers shared while open, waiting while a
 * collection runs. Only a repository whose file cannot be opened at all
 * (read-only media made by an older version) is read without it.
 */
static void repo_readers_join(struct repo *r)
{
	int rc;

	r->readers_fd = repo_readers_open(r, O_RDONLY);
	if (r->readers_fd < 0)
		return;
	while ((rc = flock(r->readers_fd, LOCK_SH)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		close(r->readers_fd);
		r->readers_fd = -1;
	}
}

/* Add the bytes of the regular files in @dir to *@sum. */
static int repo_dir_bytes(const char *dir, uint64_t *sum, struct vr_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;

	if (!d)
		return errno == ENOENT ? 0
				       : vr_err_set(err, -errno, "%s: %s", dir,
						    strerror(errno));
	while ((de = readdir(d)))
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    S_ISREG(st.st_mode))
			*sum += (uint64_t)st.st_size;
	closedir(d);
	return 0;
}

/*
 * r->used from the files as they are, plus what sealing the open pack
 * will add (its index), so the quota holds for the pack being written.
 */
static int repo_usage_scan(struct repo *r, struct vr_err *err)
{
	static const char *const dirs[] = { "", "packs", "points", "bases" };
	uint64_t sum = 0;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *dir = repo_join(r->path, dirs[i], NULL);

		rc = dir ? repo_dir_bytes(dir, &sum, err)
			 : vr_err_set(err, -ENOMEM, "%s: out of memory",
				      r->path);
		free(dir);
	}
	if (r->pack_fd >= 0)
		sum += REPO_IDX_HEADER + 4 +
		       (r->n - r->pending) * REPO_IDX_ENTRY;
	if (rc == 0)
		r->used = sum;
	return rc;
}

int repo_open(const char *path, unsigned flags, struct repo **out,
	      struct vr_err *err)
{
	struct repo *r = calloc(1, sizeof(*r));
	int rc;

	if (!r || !(r->path = strdup(path))) {
		free(r);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	r->flags = flags;
	pthread_mutex_init(&r->read_lock, NULL);
	repo_index_lock_init(r);
	r->lock_fd = -1;
	r->readers_fd = -1;
	r->pack_fd = -1;
	rc = repo_read_config(r, err);
	if (rc == 0 && (flags & REPO_OPEN_WRITE))
		rc = repo_lock(r, err);
	if (rc == 0 && (flags & REPO_OPEN_WRITE)) /* for readers to find */
		r->readers_fd = repo_readers_open(r, O_RDWR);
	else if (rc == 0)
		repo_readers_join(r);
	if (rc == 0)
		rc = repo_pack_dir_time(r, &r->packs_seen, err);
	if (rc == 0)
		rc = repo_load(r, NULL, err);
	if (rc == 0)
		rc = repo_usage_scan(r, err);
	if (rc == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		r->nworkers = cpus < 1			? 1
			      : cpus > REPO_MAX_WORKERS ? REPO_MAX_WORKERS
							: (unsigned)cpus;
		r->cctx = calloc(r->nworkers, sizeof(*r->cctx));
		r->zcap = ZSTD_compressBound(r->chunk_size);
		if (!r->cctx)
			rc = vr_err_set(err, -ENOMEM, "%s: out of memory",
					path);
	}
	if (rc == 0)
		rc = repo_reader_new(r, &r->own, err);
	if (rc < 0) {
		repo_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Forget the packs and the in-memory index (the open pack is dropped). */
static void repo_unload(struct repo *r)
{
	uint32_t i;

	for (i = 0; i < r->npacks; i++) {
		if (r->pack_fds[i] >= 0)
			close(r->pack_fds[i]);
		free(r->packs[i]);
	}
	if (r->pack_fd >= 0) {
		char *path = NULL, *idx = NULL;
		struct stat st;

		/*
		 * Unsealed: nobody can name its chunks, so its room goes back.
		 * But a seal that failed after its index was renamed in (the
		 * directory fsync) left a pack that is named: keep that one.
		 */
		close(r->pack_fd);
		if (asprintf(&path, "%s/packs/%s.pack", r->path,
			     r->packs[r->npacks]) >= 0 &&
		    asprintf(&idx, "%s/packs/%s.idx", r->path,
			     r->packs[r->npacks]) >= 0 &&
		    stat(idx, &st) < 0 && errno == ENOENT)
			unlink(path);
		free(idx);
		free(path);
		free(r->packs[r->npacks]); /* the open pack's id */
		r->pack_fd = -1;
	}
	free(r->packs);
	free(r->pack_fds);
	free(r->e);
	free(r->table);
	r->packs = NULL;
	r->pack_fds = NULL;
	r->npacks = r->cap_packs = 0;
	r->e = NULL;
	r->table = NULL;
	r->n = r->cap = r->table_size = r->pending = 0;
}

void repo_close(struct repo *r)
{
	uint32_t i;

	if (!r)
		return;
	if (r->inflight.puts) /* its chunks are dropped with the open pack */
		repo_batch_join(r);
	repo_unload(r);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->readers_fd >= 0)
		close(r->readers_fd);
	for (i = 0; r->cctx && i < r->nworkers; i++)
		ZSTD_freeCCtx(r->cctx[i]);
	free(r->cctx);
	free(r->batch_buf);
	free(r->prep);
	repo_reader_free(r->own);
	pthread_mutex_destroy(&r->read_lock);
	pthread_rwlock_destroy(&r->index_lock);
	free(r->path);
	free(r);
}

/* ---- writing ---- */

/*
 * May the repository grow by @bytes (and a new pack's frame) within its
 * quota? The quota is checked before every append, so a cycle that does
 * not fit fails cleanly (-ENOSPC) before anything of it is visible.
 */
static int repo_quota_room(struct repo *r, uint64_t bytes, struct vr_err *err)
{
	uint64_t frame = r->pack_fd < 0 ? 8 + REPO_IDX_HEADER + 4 : 0;

	if (!r->quota || r->used + bytes + frame <= r->quota)
		return 0;
	return vr_err_set(err, -ENOSPC,
			  "%s: quota of %" PRIu64 " bytes reached (%" PRIu64
			  " used)",
			  r->path, r->quota, r->used);
}

static int repo_pack_begin(struct repo *r, struct vr_err *err)
{
	uint8_t rnd[8];
	char id[17], *path = NULL;
	unsigned i;
	ssize_t w;
	int rc;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return vr_err_set(err, -EIO, "%s: no random bytes", r->path);
	for (i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	rc = repo_pack_add(r, id, err);
	if (rc < 0)
		return rc;
	r->npacks--; /* the open pack is not sealed yet */
	if (asprintf(&path, "%s/packs/%s.pack", r->path, id) < 0) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
		goto fail;
	}
	r->pack_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (r->pack_fd < 0) {
		rc = vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	w = vr_pwrite_full(r->pack_fd, REPO_PACK_MAGIC, 8, 0);
	if (w < 0) {
		rc = vr_err_set(err, (int)w, "%s: %s", path, strerror((int)-w));
		close(r->pack_fd);
		r->pack_fd = -1;
		unlink(path);
		goto fail;
	}
	free(path);
	r->pack_len = 8;
	r->used += 8 + REPO_IDX_HEADER + 4; /* the magic, the index's frame */
	r->pack_kicked = 0;
	r->pending = r->n;
	return 0;
fail:
	free(path);
	free(r->packs[r->npacks]);
	r->packs[r->npacks] = NULL;
	return rc;
}

/* Append a prepared chunk to the open pack and index it. */
static int repo_append(struct repo *r, const struct repo_put *p,
		       const struct repo_prep *pp, struct vr_err *err)
{
	struct repo_entry e = { 0 };
	uint8_t rec[REPO_REC_SIZE] = { 0 };
	ssize_t w;
	int rc;

	rc = repo_quota_room(
		r, REPO_REC_SIZE + (uint64_t)pp->stored + REPO_IDX_ENTRY, err);
	if (rc == 0 && r->pack_fd < 0)
		rc = repo_pack_begin(r, err);
	if (rc < 0)
		return rc;
	e.codec = pp->codec;
	e.stored = pp->stored;
	e.raw = (uint32_t)p->len;
	e.pack = r->npacks;
	e.off = r->pack_len;
	memcpy(e.hash, p->hash, REPO_HASH_SIZE);
	vr_put_le32(rec + REPO_REC_OFF_MAGIC, REPO_REC_MAGIC);
	vr_put_le32(rec + REPO_REC_OFF_STORED, e.stored);
	vr_put_le32(rec + REPO_REC_OFF_RAW, e.raw);
	vr_put_le32(rec + REPO_REC_OFF_CODEC, e.codec);
	memcpy(rec + REPO_REC_OFF_HASH, p->hash, REPO_HASH_SIZE);
	w = vr_pwrite_full(r->pack_fd, rec, sizeof(rec), r->pack_len);
	if (w >= 0)
		w = vr_pwrite_full(r->pack_fd, pp->data, e.stored,
				   r->pack_len + sizeof(rec));
	if (w < 0)
		return vr_err_set(err, (int)w, "%s: pack %s: %s", r->path,
				  r->packs[r->npacks], strerror((int)-w));
	r->pack_len += sizeof(rec) + e.stored;
	r->used += sizeof(rec) + e.stored + REPO_IDX_ENTRY;
	/* start writeback as we go: the fsync that seals the pack then has
	 * little left to wait for, and reading goes on meanwhile */
	if (r->pack_len - r->pack_kicked >= REPO_WRITEBACK) {
		sync_file_range(r->pack_fd, (off_t)r->pack_kicked,
				(off_t)(r->pack_len - r->pack_kicked),
				SYNC_FILE_RANGE_WRITE);
		r->pack_kicked = r->pack_len;
	}
	r->stats.chunks_new++;
	r->stats.bytes_new += e.stored;
	r->stats.plain_new += e.raw;
	rc = repo_entry_add(r, &e, err);
	if (rc == 0 && r->pack_len >= REPO_PACK_TARGET)
		rc = repo_flush(r, err);
	return rc;
}

/*
 * Hash a put, and compress it unless the store has it already. Workers
 * only read the store's table: no put is appended during preparation.
 */
static void repo_prepare(struct repo *r, unsigned worker, struct repo_put *p,
			 struct repo_prep *pp, uint8_t *out)
{
	size_t z;

	memset(pp, 0, sizeof(*pp));
	if (repo_hash(p->buf, p->len, p->hash) < 0) {
		pp->rc = -EIO;
		return;
	}
	pp->known = repo_find(r, p->hash) != NULL;
	if (pp->known)
		return;
	pp->codec = REPO_CODEC_NONE;
	pp->stored = (uint32_t)p->len;
	pp->data = p->buf;
	if (!r->cctx[worker])
		r->cctx[worker] = ZSTD_createCCtx();
	if (!r->cctx[worker])
		return; /* out of memory: store it as is */
	z = ZSTD_compressCCtx(r->cctx[worker], out, r->zcap, p->buf, p->len,
			      r->zstd_level);
	if (!ZSTD_isError(z) && z < p->len) {
		pp->codec = REPO_CODEC_ZSTD;
		pp->stored = (uint32_t)z;
		pp->data = out;
	}
}

static void *repo_worker_run(void *arg)
{
	struct repo_worker *w = arg;
	struct repo_batch *b = w->b;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n)
		repo_prepare(b->r, w->id, &b->puts[i], &b->r->prep[i],
			     b->r->batch_buf + i * b->r->zcap);
	return NULL;
}

/* Room for a batch of @n puts. */
static int repo_batch_room(struct repo *r, size_t n, struct vr_err *err)
{
	void *buf, *prep;

	if (n <= r->batch_cap)
		return 0;
	if (n > SIZE_MAX / r->zcap)
		return vr_err_set(err, -ENOMEM, "%s: batch too large", r->path);
	buf = realloc(r->batch_buf, n * r->zcap);
	if (buf)
		r->batch_buf = buf;
	prep = reallocarray(r->prep, n, sizeof(*r->prep));
	if (prep)
		r->prep = prep;
	if (!buf || !prep)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	r->batch_cap = n;
	return 0;
}

int repo_put_start(struct repo *r, struct repo_put *puts, size_t n,
		   struct vr_err *err)
{
	struct repo_batch *b = &r->inflight;
	unsigned nw = r->nworkers, k;
	size_t i;
	int rc;

	if (b->puts)
		return vr_err_set(err, -EINVAL, "%s: a batch is in flight",
				  r->path);
	for (i = 0; i < n; i++) {
		puts[i].added = false;
		if (!(r->flags & REPO_OPEN_WRITE) ||
		    puts[i].len > r->chunk_size)
			return vr_err_set(err, -EINVAL,
					  "%s: chunk put on a read-only open "
					  "or of %zu bytes",
					  r->path, puts[i].len);
	}
	rc = repo_batch_room(r, n, err);
	if (rc < 0 || n == 0)
		return rc;
	b->r = r;
	b->puts = puts;
	b->n = n;
	b->next = 0;
	b->started = 0;
	if (nw > n)
		nw = (unsigned)n;
	for (k = 0; k < nw; k++) {
		r->workers[k].b = b;
		r->workers[k].id = k;
		if (pthread_create(&r->workers[k].thread, NULL, repo_worker_run,
				   &r->workers[k]) != 0)
			break;
		b->started++;
	}
	return 0;
}

/* Wait for the workers of the batch in flight. */
static void repo_batch_join(struct repo *r)
{
	unsigned k;

	for (k = 0; k < r->inflight.started; k++)
		pthread_join(r->workers[k].thread, NULL);
}

int repo_put_wait(struct repo *r, struct vr_err *err)
{
	struct repo_batch *b = &r->inflight;
	size_t i;
	int rc = 0;

	if (!b->puts)
		return 0;
	repo_batch_join(r);
	if (b->started == 0) /* no thread would start: do it here */
		repo_worker_run(&(struct repo_worker){ .b = b, .id = 0 });
	for (i = 0; rc == 0 && i < b->n; i++) {
		if (r->prep[i].rc < 0) {
			rc = vr_err_set(err, r->prep[i].rc,
					"%s: SHA-256 failed", r->path);
			break;
		}
		/* known, or a copy of one earlier in this batch */
		if (r->prep[i].known || repo_find(r, b->puts[i].hash))
			continue;
		rc = repo_append(r, &b->puts[i], &r->prep[i], err);
		b->puts[i].added = rc == 0;
	}
	b->puts = NULL;
	return rc;
}

int repo_chunk_put_batch(struct repo *r, struct repo_put *puts, size_t n,
			 struct vr_err *err)
{
	int rc = repo_put_start(r, puts, n, err);

	return rc < 0 ? rc : repo_put_wait(r, err);
}

int repo_chunk_put(struct repo *r, const void *buf, size_t len,
		   uint8_t hash[REPO_HASH_SIZE], bool *added,
		   struct vr_err *err)
{
	struct repo_put p = { .buf = buf, .len = len };
	int rc = repo_chunk_put_batch(r, &p, 1, err);

	memcpy(hash, p.hash, REPO_HASH_SIZE);
	if (added)
		*added = p.added;
	return rc;
}

bool repo_chunk_has(const struct repo *r, const uint8_t hash[REPO_HASH_SIZE])
{
	return repo_find(r, hash) != NULL;
}

static int repo_entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct repo_entry *)a)->hash,
		      ((const struct repo_entry *)b)->hash, REPO_HASH_SIZE);
}

struct repo_idx_job {
	struct repo_entry *e;
	size_t n;
};

static int repo_write_index(int fd, const char *tmp, void *ctx,
			    struct vr_err *err)
{
	const struct repo_idx_job *j = ctx;
	size_t len = REPO_IDX_HEADER + j->n * REPO_IDX_ENTRY + 4, i;
	uint8_t *buf = calloc(1, len);
	ssize_t w;

	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", tmp);
	memcpy(buf, REPO_IDX_MAGIC, 8);
	vr_put_le32(buf + 8, (uint32_t)j->n);
	for (i = 0; i < j->n; i++) {
		uint8_t *p = buf + REPO_IDX_HEADER + i * REPO_IDX_ENTRY;

		memcpy(p + REPO_IDX_OFF_HASH, j->e[i].hash, REPO_HASH_SIZE);
		vr_put_le64(p + REPO_IDX_OFF_OFFSET, j->e[i].off);
		vr_put_le32(p + REPO_IDX_OFF_STORED, j->e[i].stored);
		vr_put_le32(p + REPO_IDX_OFF_RAW, j->e[i].raw);
		vr_put_le32(p + REPO_IDX_OFF_CODEC, j->e[i].codec);
	}
	vr_put_le32(buf + len - 4, vr_crc32c(0, buf, len - 4));
	w = vr_pwrite_full(fd, buf, len, 0);
	free(buf);
	return w < 0 ? vr_err_set(err, (int)w, "%s: %s", tmp, strerror((int)-w))
		     : 0;
}

int repo_flush(struct repo *r, struct vr_err *err)
{
	struct repo_idx_job j;
	char *idx = NULL;
	int rc;

	if (r->pack_fd < 0)
		return 0;
	if (fdatasync(r->pack_fd) < 0)
		return vr_err_set(err, -errno, "%s: pack %s: flush: %s",
				  r->path, r->packs[r->npacks],
				  strerror(errno));
	j.n = r->n - r->pending;
	j.e = malloc(j.n * sizeof(*j.e) + 1);
	if (!j.e || asprintf(&idx, "%s/packs/%s.idx", r->path,
			     r->packs[r->npacks]) < 0) {
		free(j.e);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	}
	memcpy(j.e, r->e + r->pending, j.n * sizeof(*j.e));
	qsort(j.e, j.n, sizeof(*j.e), repo_entry_cmp);
	rc = vr_file_replace(idx, 0644, VR_REPLACE_NOCLOBBER, repo_write_index,
			     &j, err);
	free(j.e);
	free(idx);
	if (rc < 0)
		return rc;
	/* the open pack is sealed: keep its descriptor for reads */
	r->pack_fds[r->npacks] = r->pack_fd;
	r->npacks++;
	r->pack_fd = -1;
	r->pending = r->n;
	return 0;
}

/* ---- reading and checking ---- */

static int repo_pack_fd(struct repo *r, uint32_t pack, struct vr_err *err)
{
	char *path = NULL;
	int fd;

	if (pack == r->npacks)
		return r->pack_fd;
	pthread_mutex_lock(&r->read_lock);
	fd = r->pack_fds[pack];
	if (fd < 0 &&
	    asprintf(&path, "%s/packs/%s.pack", r->path, r->packs[pack]) < 0)
		fd = vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	else if (fd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = vr_err_set(err, -errno, "%s: %s", path,
					strerror(errno));
		else
			r->pack_fds[pack] = fd;
	}
	pthread_mutex_unlock(&r->read_lock);
	free(path);
	return fd;
}

/*
 * Read and verify the record of @e into @buf (plaintext, e->raw bytes)
 * with @rd's buffers.
 */
static int repo_entry_read(struct repo_reader *rd, const struct repo_entry *e,
			   void *buf, struct vr_err *err)
{
	struct repo *r = rd->r;
	uint8_t rec[REPO_REC_SIZE], sum[REPO_HASH_SIZE];
	char name[65];
	int fd = repo_pack_fd(r, e->pack, err);
	ssize_t n;
	size_t raw;

	if (fd < 0)
		return fd;
	repo_hash_format(e->hash, name);
	if (e->raw > r->chunk_size || e->stored > r->zcap ||
	    e->codec > REPO_CODEC_ZSTD ||
	    (e->codec == REPO_CODEC_NONE && e->stored != e->raw))
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: chunk %s: index entry out of range",
				  r->path, name);
	n = vr_pread_full(fd, rec, sizeof(rec), e->off);
	if (n == (ssize_t)sizeof(rec))
		n = vr_pread_full(fd, rd->zbuf, e->stored,
				  e->off + sizeof(rec));
	if (n < 0)
		return vr_err_set(err, (int)n, "%s: chunk %s: %s", r->path,
				  name, strerror((int)-n));
	if ((size_t)n != e->stored ||
	    vr_get_le32(rec + REPO_REC_OFF_MAGIC) != REPO_REC_MAGIC ||
	    vr_get_le32(rec + REPO_REC_OFF_STORED) != e->stored ||
	    memcmp(rec + REPO_REC_OFF_HASH, e->hash, REPO_HASH_SIZE) != 0)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: chunk %s: pack %s record at 0x%" PRIx64
				  " is missing or damaged",
				  r->path, name, r->packs[e->pack], e->off);
	if (e->codec == REPO_CODEC_ZSTD) {
		raw = ZSTD_decompressDCtx(rd->dctx, buf, r->chunk_size,
					  rd->zbuf, e->stored);
		if (ZSTD_isError(raw) || raw != e->raw)
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: chunk %s: does not decompress",
					  r->path, name);
	} else {
		memcpy(buf, rd->zbuf, e->stored);
	}
	if (repo_hash(buf, e->raw, sum) < 0 ||
	    memcmp(sum, e->hash, REPO_HASH_SIZE) != 0)
		return vr_err_set(err, -VR_EBADCRC,
				  "%s: chunk %s: content does not match its "
				  "hash",
				  r->path, name);
	return 0;
}

int repo_reader_new(struct repo *r, struct repo_reader **out,
		    struct vr_err *err)
{
	struct repo_reader *rd = calloc(1, sizeof(*rd));

	if (rd) {
		rd->r = r;
		rd->dctx = ZSTD_createDCtx();
		rd->zbuf = malloc(r->zcap);
	}
	if (!rd || !rd->dctx || !rd->zbuf) {
		repo_reader_free(rd);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	}
	*out = rd;
	return 0;
}

void repo_reader_free(struct repo_reader *rd)
{
	if (!rd)
		return;
	ZSTD_freeDCtx(rd->dctx);
	free(rd->zbuf);
	free(rd);
}

int repo_reader_get(struct repo_reader *rd, const uint8_t hash[REPO_HASH_SIZE],
		    void *buf, size_t *len, struct vr_err *err)
{
	struct repo *r = rd->r;
	const struct repo_entry *e;
	uint32_t raw, stored;
	char name[65];
	int rc;

	pthread_rwlock_rdlock(&r->index_lock);
	e = repo_find(r, hash);
	if (!e) {
		pthread_rwlock_unlock(&r->index_lock);
		repo_hash_format(hash, name);
		return vr_err_set(err, -ENOENT, "%s: chunk %s: not stored",
				  r->path, name);
	}
	rc = repo_entry_read(rd, e, buf, err);
	/* copied while locked: a refresh may move the entries */
	raw = e->raw;
	stored = e->stored;
	pthread_rwlock_unlock(&r->index_lock);
	if (rc == 0) {
		*len = raw;
		pthread_mutex_lock(&r->read_lock);
		r->stats.chunks_read++;
		r->stats.bytes_read += stored;
		pthread_mutex_unlock(&r->read_lock);
	}
	return rc;
}

int repo_chunk_get(struct repo *r, const uint8_t hash[REPO_HASH_SIZE],
		   void *buf, size_t *len, struct vr_err *err)
{
	return repo_reader_get(r->own, hash, buf, len, err);
}

void repo_get_stats(const struct repo *r, struct repo_stats *st)
{
	/* the lock guards the counts, not the repository: cast it away */
	pthread_mutex_lock((pthread_mutex_t *)&r->read_lock);
	*st = r->stats;
	pthread_mutex_unlock((pthread_mutex_t *)&r->read_lock);
}

/* Is @e's record header where its index says, naming its hash? */
static int repo_entry_probe(struct repo *r, const struct repo_entry *e,
			    struct vr_err *err)
{
	uint8_t rec[REPO_REC_SIZE];
	int fd = repo_pack_fd(r, e->pack, err);

	if (fd < 0)
		return fd;
	if (vr_pread_full(fd, rec, sizeof(rec), e->off) !=
		    (ssize_t)sizeof(rec) ||
	    vr_get_le32(rec + REPO_REC_OFF_MAGIC) != REPO_REC_MAGIC ||
	    memcmp(rec + REPO_REC_OFF_HASH, e->hash, REPO_HASH_SIZE) != 0)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: pack %s: record at 0x%" PRIx64
				  " is missing or damaged",
				  r->path, r->packs[e->pack], e->off);
	return 0;
}

static void repo_problem(struct repo_check_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void repo_problem(struct repo_check_report *rep, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rep->problem)
		rep->problem(rep->ctx, line);
}

int repo_check(struct repo *r, bool read_data, struct repo_check_report *rep,
	       struct vr_err *err)
{
	char *dir = repo_join(r->path, "packs", NULL);
	struct dirent **list = NULL;
	uint8_t *buf = malloc(r->chunk_size);
	size_t i;
	int n, k;

	if (!dir || !buf) {
		free(dir);
		free(buf);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	}
	rep->packs = r->npacks;
	for (i = 0; i < r->pending; i++) {
		struct vr_err e = { 0 };
		int rc;

		rep->chunks++;
		rep->stored_bytes += r->e[i].stored;
		rc = read_data ? repo_entry_read(r->own, &r->e[i], buf, &e)
			       : repo_entry_probe(r, &r->e[i], &e);
		if (rc < 0) {
			rep->bad_chunks++;
			repo_problem(rep, "%s", e.msg);
			if (rep->bad_chunk)
				rep->bad_chunk(rep->ctx, r->e[i].hash);
		}
	}
	n = scandir(dir, &list, NULL, alphasort);
	for (k = 0; k < n; k++) {
		size_t len = strlen(list[k]->d_name);
		char *idx = NULL;
		struct stat st;

		if (len > 5 && !strcmp(list[k]->d_name + len - 5, ".pack") &&
		    asprintf(&idx, "%s/%.*s.idx", dir, (int)(len - 5),
			     list[k]->d_name) >= 0 &&
		    stat(idx, &st) < 0) {
			rep->unindexed_packs++;
			repo_problem(rep,
				     "%s: pack %s has no index (left by an "
				     "interrupted write): its chunks are "
				     "unreferenced",
				     r->path, list[k]->d_name);
		}
		free(idx);
		free(list[k]);
	}
	free(list);
	free(dir);
	free(buf);
	return 0;
}

/* ---- space ---- */

int repo_space_get(struct repo *r, struct repo_space *s, struct vr_err *err)
{
	struct statvfs vfs;
	int rc = repo_usage_scan(r, err);

	if (rc < 0)
		return rc;
	if (statvfs(r->path, &vfs) < 0)
		return vr_err_set(err, -errno, "%s: statvfs: %s", r->path,
				  strerror(errno));
	s->used = r->used;
	s->quota = r->quota;
	s->fs_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	s->left = s->fs_free;
	if (r->quota &&
	    r->quota - (r->used < r->quota ? r->used : r->quota) < s->left)
		s->left = r->quota - (r->used < r->quota ? r->used : r->quota);
	return 0;
}

int repo_room(struct repo *r, uint64_t bytes, struct vr_err *err)
{
	return repo_quota_room(r, bytes, err);
}

int repo_set_quota(struct repo *r, uint64_t quota, struct vr_err *err)
{
	struct repo_init_opts o = { r->chunk_size, r->zstd_level, quota };
	char *config;
	int rc;

	if (!(r->flags & REPO_OPEN_WRITE))
		return vr_err_set(err, -EINVAL, "%s: opened read-only",
				  r->path);
	config = repo_join(r->path, "config", NULL);
	if (!config)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", r->path);
	rc = vr_file_replace(config, 0644, 0, repo_write_config, &o, err);
	free(config);
	if (rc == 0)
		r->quota = quota;
	return rc;
}

/* ---- garbage collection ---- */

/*
 * A pack is rewritten when at least 1/REPO_GC_REWRITE_DIV of its bytes
 * are unneeded: copying a pack to free a sliver of it costs more I/O than
 * the space is worth, and the sliver goes when more of the pack does.
 */
#define REPO_GC_REWRITE_DIV 5

/* A collection in progress. */
struct repo_gc {
	struct repo *r;
	bool (*is_live)(void *ctx, const uint8_t hash[REPO_HASH_SIZE]);
	void *ctx;
	struct repo_gc_stats *st;
	uint32_t *done; /* packs whose needed chunks are all sealed elsewhere */
	uint32_t ndone;
	bool *gone; /* per pack: done (deleted, or to be) */
	int dir_fd; /* REPO/packs */
};

/* Is entry @e of pack @pack the copy of a needed chunk readers use? */
static bool repo_gc_needed(struct repo_gc *g, const struct repo_entry *e)
{
	const struct repo_entry *f = repo_find(g->r, e->hash);

	return g->is_live(g->ctx, e->hash) && f && f->pack == e->pack &&
	       f->off == e->off;
}

/* Unlink the @ext file of every pack in g->done, then fsync packs/. */
static int repo_gc_unlink_done(struct repo_gc *g, const char *ext,
			       struct vr_err *err)
{
	struct repo *r = g->r;
	char name[NAME_MAX + 8];
	uint32_t i;

	for (i = 0; i < g->ndone; i++) {
		snprintf(name, sizeof(name), "%s%s", r->packs[g->done[i]], ext);
		if (unlinkat(g->dir_fd, name, 0) < 0 && errno != ENOENT)
			return vr_err_set(err, -errno, "%s/packs/%s: %s",
					  r->path, name, strerror(errno));
	}
	if (g->ndone && fsync(g->dir_fd) < 0)
		return vr_err_set(err, -errno, "%s/packs: fsync: %s", r->path,
				  strerror(errno));
	return 0;
}

/*
 * Delete the packs in g->done: every index first, made durable, then the
 * packs, so no index ever names a pack that is gone.
 */
static int repo_gc_delete_done(struct repo_gc *g, struct vr_err *err)
{
	int rc = repo_gc_unlink_done(g, ".idx", err);

	if (rc == 0)
		rc = repo_gc_unlink_done(g, ".pack", err);
	if (rc < 0)
		return rc;
	g->ndone = 0;
	/* the quota sees the room, so rewrites after this may use it */
	return repo_usage_scan(g->r, err);
}

/* Copy a needed chunk's record as stored (no recompression) to a new pack. */
static int repo_gc_copy(struct repo_gc *g, const struct repo_entry *e,
			struct vr_err *err)
{
	struct repo *r = g->r;
	struct repo_put p = { .len = e->raw };
	struct repo_prep pp = { .codec = e->codec, .stored = e->stored };
	int rc = repo_entry_probe(r, e, err);
	int fd = repo_pack_fd(r, e->pack, err);
	ssize_t n;

	if (rc < 0)
		return rc;
	if (fd < 0)
		return fd;
	if (e->raw > r->chunk_size || e->stored > r->zcap ||
	    e->codec > REPO_CODEC_ZSTD ||
	    (e->codec == REPO_CODEC_NONE && e->stored != e->raw))
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: pack %s: index entry out of range",
				  r->path, r->packs[e->pack]);
	n = vr_pread_full(fd, r->own->zbuf, e->stored, e->off + REPO_REC_SIZE);
	if (n != (ssize_t)e->stored)
		return vr_err_set(err, n < 0 ? (int)n : -VR_ECORRUPT,
				  "%s: pack %s: record at 0x%" PRIx64
				  " is truncated",
				  r->path, r->packs[e->pack], e->off);
	memcpy(p.hash, e->hash, REPO_HASH_SIZE);
	pp.data = r->own->zbuf;
	return repo_append(r, &p, &pp, err);
}

/*
 * Collect pack @pack: leave it, delete it, or (when @rewrite) rewrite it.
 * Packs of only unneeded chunks go in a first pass, which needs no room,
 * so rewrites find the room those free.
 */
static int repo_gc_pack(struct repo_gc *g, uint32_t pack, bool rewrite,
			struct vr_err *err)
{
	struct repo *r = g->r;
	struct repo_entry e;
	uint64_t all = 0, dead = 0;
	uint32_t count, i, ndead = 0;
	uint8_t *buf;
	int rc;

	rc = repo_index_read(r, r->packs[pack], &buf, &count, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < count; i++) {
		repo_index_entry(buf, i, pack, &e);
		all += REPO_REC_SIZE + (uint64_t)e.stored;
		if (!repo_gc_needed(g, &e)) {
			dead += REPO_REC_SIZE + (uint64_t)e.stored;
			ndead++;
		}
	}
	if (ndead == 0 || (ndead < count && !rewrite) ||
	    (ndead < count && dead * REPO_GC_REWRITE_DIV < all)) {
		free(buf);
		return 0;
	}
	for (i = 0; rc == 0 && i < count; i++) {
		repo_index_entry(buf, i, pack, &e);
		if (repo_gc_needed(g, &e)) {
			rc = repo_gc_copy(g, &e, err);
			g->st->chunks_moved += rc == 0;
		}
	}
	free(buf);
	if (rc < 0)
		return rc;
	g->st->chunks_dropped += ndead;
	if (ndead == count)
		g->st->packs_deleted++;
	else
		g->st->packs_rewritten++;
	g->done[g->ndone++] = pack;
	g->gone[pack] = true;
	/* no open pack: every copy so far is sealed, the old packs can go */
	return r->pack_fd < 0 ? repo_gc_delete_done(g, err) : 0;
}

/*
 * Remove what interrupted writes left in packs/: packs without an index
 * and temp files. We hold the writer's lock: nobody is writing them.
 */
static int repo_gc_leftovers(struct repo_gc *g, struct vr_err *err)
{
	struct repo *r = g->r;
	struct dirent **list = NULL;
	char idx[300];
	struct stat st;
	int n, k, rc = 0;

	n = scandirat(g->dir_fd, ".", &list, NULL, alphasort);
	if (n < 0)
		return vr_err_set(err, -errno, "%s/packs: %s", r->path,
				  strerror(errno));
	for (k = 0; k < n; k++) {
		const char *name = list[k]->d_name;
		size_t len = strlen(name);
		bool gone = strstr(name, ".tmp.") != NULL;

		if (!gone && len > 5 && len < 200 &&
		    !strcmp(name + len - 5, ".pack")) {
			snprintf(idx, sizeof(idx), "%.*s.idx", (int)(len - 5),
				 name);
			gone = fstatat(g->dir_fd, idx, &st, 0) < 0 &&
			       errno == ENOENT;
		}
		if (rc == 0 && gone) {
			if (unlinkat(g->dir_fd, name, 0) < 0)
				rc = vr_err_set(err, -errno, "%s/packs/%s: %s",
						r->path, name, strerror(errno));
			g->st->leftovers++;
		}
		free(list[k]);
	}
	free(list);
	return rc;
}

int repo_gc(struct repo *r,
	    bool (*is_live)(void *ctx, const uint8_t hash[REPO_HASH_SIZE]),
	    void *ctx, struct repo_gc_stats *st, struct vr_err *err)
{
	struct repo_gc g = {
		.r = r, .is_live = is_live, .ctx = ctx, .st = st, .dir_fd = -1
	};
	struct repo_stats saved = r->stats;
	uint32_t npacks, i;
	int rc, rc2, pass;

	memset(st, 0, sizeof(*st));
	if (!(r->flags & REPO_OPEN_WRITE) || r->inflight.puts)
		return vr_err_set(err, -EINVAL,
				  "%s: collect garbage: not opened for "
				  "writing, or a batch in flight",
				  r->path);
	rc = repo_flush(r, err);
	if (rc < 0)
		return rc;
	if (r->readers_fd < 0) /* read-write: NFS emulates flock with it */
		r->readers_fd = repo_readers_open(r, O_RDWR);
	if (r->readers_fd < 0 || flock(r->readers_fd, LOCK_EX | LOCK_NB) < 0) {
		st->readers_busy = true;
		return 0;
	}
	rc = repo_usage_scan(r, err);
	st->bytes_before = r->used;
	npacks = r->npacks;
	g.done = calloc(npacks + 1, sizeof(*g.done));
	g.gone = calloc(npacks + 1, sizeof(*g.gone));
	g.dir_fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g.dir_fd >= 0) {
		int pfd = openat(g.dir_fd, "packs",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(g.dir_fd);
		g.dir_fd = pfd;
	}
	if (rc == 0 && (!g.done || !g.gone || g.dir_fd < 0))
		rc = vr_err_set(err, g.dir_fd < 0 ? -errno : -ENOMEM,
				"%s/packs: %s", r->path,
				strerror(g.dir_fd < 0 ? errno : ENOMEM));
	/* only the packs there were: copies made now are not collected */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; rc == 0 && i < npacks; i++) {
			if (!g.gone[i])
				rc = repo_gc_pack(&g, i, pass == 1, err);
		}
		if (rc == -ENOSPC) { /* what was copied is sealed below */
			vr_err_clear(err);
			st->out_of_space = true;
			rc = 0;
		}
	}
	/* seal the last copies, then their old packs can go */
	rc2 = repo_flush(r, rc < 0 ? NULL : err);
	if (rc == 0 && rc2 == 0)
		rc = repo_gc_delete_done(&g, err);
	else if (rc == 0)
		rc = rc2;
	if (rc == 0)
		rc = repo_gc_leftovers(&g, err);
	/* the index as the packs are now */
	repo_unload(r);
	rc2 = repo_load(r, NULL, rc < 0 ? NULL : err);
	if (rc == 0)
		rc = rc2;
	if (rc2 == 0 && repo_usage_scan(r, NULL) == 0)
		st->bytes_after = r->used;
	flock(r->readers_fd, LOCK_UN);
	if (g.dir_fd >= 0)
		close(g.dir_fd);
	free(g.done);
	free(g.gone);
	r->stats = saved;
	return rc;
}
