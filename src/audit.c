/*
 * audit.c - audit_repo(): the chunk store's check, then every manifest's
 * chunks looked up. Each reference to a missing or damaged chunk is
 * collected as (hash, owner, offset), sorted, and reported grouped by
 * chunk, then by owner, so one lost chunk shared by many points is one
 * line that names them all.
 */
#include <config.h>
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "manifest.h"
#include "vr_err.h"

/* Offsets and owners named per chunk line before "and N more". */
#define AUDIT_LINE_OWNERS 4
#define AUDIT_LINE_OFFSETS 3

struct audit_ref {
	uint8_t hash[REPO_HASH_SIZE];
	uint32_t owner; /* index into audit.owners */
	uint64_t off;	/* disk offset */
};

struct audit_owner {
	char label[MANIFEST_NAME_MAX + 8]; /* "point ID", "base NAME" */
	const char *point_id;		   /* NULL for a base */
	uint64_t bad;			   /* references to lost chunks */
};

struct audit {
	struct repo *r;
	const char *repo_path;
	struct audit_report *rep;
	int oom;

	uint8_t (*bad)[REPO_HASH_SIZE]; /* found damaged by the store */
	size_t nbad, capbad;
	struct audit_ref *refs;
	size_t nrefs, caprefs;
	struct audit_owner *owners;
	size_t nowners, capowners;
	/* loaded bases, for the "base chunk" entries of points */
	char (*base_names)[MANIFEST_NAME_MAX];
	struct manifest **bases;
	size_t nbases;
};

static void audit_problem(struct audit *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void audit_problem(struct audit *a, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (a->rep->problem)
		a->rep->problem(a->rep->ctx, line);
}

static void audit_store_problem(void *ctx, const char *line)
{
	struct audit *a = ctx;

	if (a->rep->problem)
		a->rep->problem(a->rep->ctx, line);
}

/* Grow *@arr (of *@cap items of @size) to hold @need. */
static bool audit_grow(struct audit *a, void **arr, size_t *cap, size_t need,
		       size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	np = reallocarray(*arr, ncap, size);
	if (!np) {
		a->oom = 1;
		return false;
	}
	*arr = np;
	*cap = ncap;
	return true;
}

static void audit_bad_chunk(void *ctx, const uint8_t hash[REPO_HASH_SIZE])
{
	struct audit *a = ctx;

	if (audit_grow(a, (void **)&a->bad, &a->capbad, a->nbad + 1,
		       sizeof(*a->bad)))
		memcpy(a->bad[a->nbad++], hash, REPO_HASH_SIZE);
}

static int audit_hash_cmp(const void *x, const void *y)
{
	return memcmp(x, y, REPO_HASH_SIZE);
}

/* Is @hash lost: not stored, or stored damaged? */
static bool audit_is_lost(struct audit *a, const uint8_t *hash)
{
	return !repo_chunk_has(a->r, hash) ||
	       (a->nbad && bsearch(hash, a->bad, a->nbad, sizeof(*a->bad),
				   audit_hash_cmp));
}

static int audit_owner_add(struct audit *a, const char *kind, const char *name)
{
	struct audit_owner *o;

	if (!audit_grow(a, (void **)&a->owners, &a->capowners, a->nowners + 1,
			sizeof(*a->owners)))
		return -1;
	o = &a->owners[a->nowners];
	memset(o, 0, sizeof(*o));
	snprintf(o->label, sizeof(o->label), "%s %s", kind, name);
	o->point_id = strcmp(kind, "point") ? NULL : o->label + 6;
	return (int)a->nowners++;
}

static void audit_ref_add(struct audit *a, const uint8_t *hash, int owner,
			  uint64_t off)
{
	struct audit_ref *ref;

	a->owners[owner].bad++;
	if (!audit_grow(a, (void **)&a->refs, &a->caprefs, a->nrefs + 1,
			sizeof(*a->refs)))
		return;
	ref = &a->refs[a->nrefs++];
	memcpy(ref->hash, hash, REPO_HASH_SIZE);
	ref->owner = (uint32_t)owner;
	ref->off = off;
}

/* The loaded base @name, or NULL. */
static const struct manifest *audit_base(const struct audit *a,
					 const char *name)
{
	size_t i;

	for (i = 0; i < a->nbases; i++)
		if (a->bases[i] && !strcmp(a->base_names[i], name))
			return a->bases[i];
	return NULL;
}

/* Look up every chunk @m names; @owner is its audit_owner. */
static void audit_manifest(struct audit *a, const struct manifest *m, int owner)
{
	const struct manifest *base =
		m->base[0] ? audit_base(a, m->base) : NULL;
	uint64_t i;

	if (m->base[0] && !base) {
		audit_problem(a,
			      "%s: %s needs base %s, which is missing or "
			      "damaged",
			      a->repo_path, a->owners[owner].label, m->base);
		a->owners[owner].bad++;
	}
	for (i = 0; i < m->nchunks; i++) {
		const uint8_t *h = NULL;

		if (m->types[i] == MANIFEST_HASH)
			h = m->hashes[i];
		else if (m->types[i] == MANIFEST_BASE_CHUNK && base &&
			 base->types[i] == MANIFEST_HASH)
			h = base->hashes[i];
		if (h && audit_is_lost(a, h))
			audit_ref_add(a, h, owner, i * m->chunk_size);
	}
}

/* Load and look through every manifest of @kind. */
static int audit_kind(struct audit *a, enum catalog_kind kind,
		      struct vr_err *err)
{
	char(*names)[MANIFEST_NAME_MAX];
	const char *what = kind == CATALOG_BASES ? "base" : "point";
	size_t n, i;
	int rc;

	rc = catalog_list_names(a->repo_path, kind, &names, &n, err);
	if (rc < 0)
		return rc;
	if (kind == CATALOG_BASES) {
		a->base_names = names;
		a->nbases = n;
		a->bases = calloc(n ? n : 1, sizeof(*a->bases));
		if (!a->bases)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  a->repo_path);
	}
	for (i = 0; i < n && !a->oom; i++) {
		struct vr_err lerr = { 0 };
		struct manifest *m = NULL;
		int owner = audit_owner_add(a, what, names[i]);

		if (owner < 0)
			break;
		a->rep->manifests++;
		rc = kind == CATALOG_BASES
			     ? catalog_load_base(a->repo_path, names[i], &m,
						 &lerr)
			     : catalog_load_point(a->repo_path, names[i], &m,
						  &lerr);
		if (rc < 0) {
			a->rep->damaged_manifests++;
			a->owners[owner].bad++;
			audit_problem(a, "%s", lerr.msg);
			continue;
		}
		audit_manifest(a, m, owner);
		if (kind == CATALOG_BASES)
			a->bases[i] = m;
		else
			manifest_free(m);
	}
	if (kind != CATALOG_BASES)
		free(names);
	if (a->oom)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  a->repo_path);
	return 0;
}

static int audit_ref_cmp(const void *x, const void *y)
{
	const struct audit_ref *p = x, *q = y;
	int c = memcmp(p->hash, q->hash, REPO_HASH_SIZE);

	if (c)
		return c;
	if (p->owner != q->owner)
		return p->owner < q->owner ? -1 : 1;
	return p->off < q->off ? -1 : p->off > q->off;
}

/* One line per lost chunk: what it is, who loses which offsets. */
static void audit_report_chunks(struct audit *a)
{
	size_t i = 0;

	if (a->nrefs)
		qsort(a->refs, a->nrefs, sizeof(*a->refs), audit_ref_cmp);
	while (i < a->nrefs) {
		const struct audit_ref *first = &a->refs[i];
		char line[900], name[65];
		size_t len, owners = 0, more = 0;

		repo_hash_format(first->hash, name);
		len = (size_t)snprintf(line, sizeof(line),
				       "%s: chunk %s %s:", a->repo_path, name,
				       repo_chunk_has(a->r, first->hash)
					       ? "damaged"
					       : "missing");
		a->rep->missing_chunks += !repo_chunk_has(a->r, first->hash);
		while (i < a->nrefs &&
		       !memcmp(a->refs[i].hash, first->hash, REPO_HASH_SIZE)) {
			uint32_t owner = a->refs[i].owner;
			size_t offs = 0;

			if (++owners > AUDIT_LINE_OWNERS) {
				more++;
			} else if (len < sizeof(line)) {
				len += (size_t)snprintf(
					line + len, sizeof(line) - len,
					"%s %s at", owners > 1 ? ";" : "",
					a->owners[owner].label);
			}
			for (; i < a->nrefs && a->refs[i].owner == owner &&
			       !memcmp(a->refs[i].hash, first->hash,
				       REPO_HASH_SIZE);
			     i++, offs++) {
				if (owners > AUDIT_LINE_OWNERS ||
				    len >= sizeof(line))
					continue;
				if (offs < AUDIT_LINE_OFFSETS)
					len += (size_t)snprintf(
						line + len, sizeof(line) - len,
						" 0x%" PRIx64, a->refs[i].off);
				else if (offs == AUDIT_LINE_OFFSETS)
					len += (size_t)snprintf(
						line + len, sizeof(line) - len,
						" ...");
			}
		}
		if (more && len < sizeof(line))
			snprintf(line + len, sizeof(line) - len,
				 "; and %zu more", more);
		audit_problem(a, "%s", line);
	}
}

int audit_repo(struct repo *r, const char *repo_path, bool read_data,
	       struct audit_report *rep, struct vr_err *err)
{
	struct audit a = { .r = r, .repo_path = repo_path, .rep = rep };
	size_t i;
	int rc;

	rep->store.problem = audit_store_problem;
	rep->store.bad_chunk = audit_bad_chunk;
	rep->store.ctx = &a;
	rc = repo_check(r, read_data, &rep->store, err);
	if (rc == 0 && a.oom)
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	if (rc < 0)
		goto out;
	if (a.nbad)
		qsort(a.bad, a.nbad, sizeof(*a.bad), audit_hash_cmp);
	rc = audit_kind(&a, CATALOG_BASES, err);
	if (rc == 0)
		rc = audit_kind(&a, CATALOG_POINTS, err);
	if (rc < 0)
		goto out;
	audit_report_chunks(&a);
	for (i = 0; i < a.nowners; i++) {
		const struct audit_owner *o = &a.owners[i];

		if (!o->bad)
			continue;
		audit_problem(&a, "%s: %s cannot be restored whole", repo_path,
			      o->label);
		if (o->point_id) {
			rep->affected_points++;
			if (rep->affected)
				rep->affected(rep->ctx, o->point_id);
		}
	}
out:
	for (i = 0; i < a.nbases; i++)
		manifest_free(a.bases ? a.bases[i] : NULL);
	free(a.bases);
	free(a.base_names);
	free(a.bad);
	free(a.refs);
	free(a.owners);
	return rc;
}

bool audit_is_damaged(const struct audit_report *rep)
{
	return rep->store.bad_chunks || rep->damaged_manifests ||
	       rep->missing_chunks || rep->affected_points;
}
