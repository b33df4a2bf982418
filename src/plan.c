/*
 * plan.c - the storage planner (plan.h): rates from the points' records,
 * growth as a least-squares line through the repository's size after each
 * recent point, and the verdicts built on them.
 */
#include <config.h>
#include "plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "progress.h"
#include "vr_err.h"
#include "vr_io.h"

/* Rates look at a disk's points of the last day before its newest one. */
#define PLAN_RATE_WINDOW (24 * 3600ull)
/*
 * Growth looks at the repository's points of the last week, and only
 * when they span an hour at least: a line through points seconds apart
 * says nothing about days.
 */
#define PLAN_GROWTH_WINDOW (7 * 24 * 3600ull)
#define PLAN_GROWTH_MIN_SPAN 3600.0
/* A cycle's stored/read ratio comes from the disk's last points. */
#define PLAN_RATIO_POINTS 16
#define PLAN_DEFAULT_WARN_DAYS 7.0

/*
 * Bytes a point's manifest and its chunks' records and index entries take
 * at most, besides the chunk data: a 576-byte header, a type byte and a
 * hash per chunk, zstd's frame, the CRC; 48 + 56 bytes per stored chunk.
 */
static uint64_t plan_metadata_bound(uint64_t nchunks, uint64_t chunks_stored)
{
	return 576 + 33 * nchunks + nchunks / 128 + 1024 + 104 * chunks_stored;
}

/* Bytes stored / bytes read over the last points of @disk that read any. */
static double plan_recent_ratio(const struct catalog_point *pts, size_t n,
				const char *disk)
{
	uint64_t read = 0, stored = 0;
	size_t i, used = 0;

	for (i = n; i-- > 0 && used < PLAN_RATIO_POINTS;) {
		if (strcmp(pts[i].disk, disk) || !pts[i].bytes_read)
			continue;
		read += pts[i].bytes_read;
		stored += pts[i].bytes_new;
		used++;
	}
	/* no history: assume nothing compresses or deduplicates */
	return read ? (double)stored / (double)read : 1.0;
}

int plan_cycle_fit(struct repo *r, const char *repo_path, const char *disk,
		   uint64_t to_read, uint64_t nchunks, struct plan_fit *fit,
		   struct vr_err *err)
{
	struct catalog_point *pts = NULL;
	uint64_t cs = repo_chunk_size(r), chunks = (to_read + cs - 1) / cs;
	size_t n = 0;
	int rc;

	memset(fit, 0, sizeof(*fit));
	rc = catalog_list_points(repo_path, disk, &pts, &n, NULL, err);
	if (rc == 0)
		rc = repo_space_get(r, &fit->space, err);
	if (rc < 0) {
		free(pts);
		return rc;
	}
	fit->to_read = to_read;
	fit->ratio = plan_recent_ratio(pts, n, disk);
	free(pts);
	fit->worst = to_read + plan_metadata_bound(nchunks, chunks);
	fit->expected =
		(uint64_t)((double)to_read * fit->ratio) +
		plan_metadata_bound(
			nchunks, (uint64_t)((double)chunks * fit->ratio) + 1);
	if (fit->expected > fit->worst) /* a ratio of 1: the same bytes */
		fit->expected = fit->worst;
	fit->verdict = fit->worst <= fit->space.left	  ? PLAN_FITS
		       : fit->expected <= fit->space.left ? PLAN_TIGHT
							  : PLAN_NO_ROOM;
	return 0;
}

/* ---- the report ---- */

/* Seconds retention keeps points of a disk whose points come @interval apart.
 */
static double plan_retention_window(const struct retention_rules *rr,
				    double interval)
{
	double w = (double)rr->keep_within, x;

	x = rr->keep_last * interval;
	w = x > w ? x : w;
	x = rr->keep_hourly * 3600.0;
	w = x > w ? x : w;
	x = rr->keep_daily * 86400.0;
	w = x > w ? x : w;
	x = rr->keep_weekly * 7 * 86400.0;
	w = x > w ? x : w;
	x = rr->keep_monthly * 31 * 86400.0;
	return x > w ? x : w;
}

/* Rates of one disk from its points in @pts (all disks, oldest first). */
static void plan_disk_rates(const struct plan_opts *o,
			    const struct catalog_point *pts, size_t n,
			    struct plan_disk *d)
{
	uint64_t first = 0, last = 0, read = 0, stored = 0, plain = 0;
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (strcmp(pts[i].disk, d->name))
			continue;
		d->points++;
		d->newest = pts[i].time;
	}
	/*
	 * The window's first point only marks its start: what it read
	 * changed before the window. Full scans read everything there is,
	 * which is no rate of change.
	 */
	for (i = 0; i < n; i++) {
		if (strcmp(pts[i].disk, d->name) ||
		    pts[i].time + PLAN_RATE_WINDOW < d->newest)
			continue;
		if (m++ == 0) {
			first = pts[i].time;
			continue;
		}
		last = pts[i].time;
		if (pts[i].flags & MANIFEST_FULL_SCAN)
			continue;
		read += pts[i].bytes_read;
		stored += pts[i].bytes_new;
		plain += pts[i].plain_new;
	}
	d->age = o->now > d->newest ? o->now - d->newest : 0;
	d->rpo_met = !o->rpo || d->age <= o->rpo;
	if (m >= 2 && last > first) {
		double hours = (double)(last - first) / 3600.0;

		d->interval = (double)(last - first) / (double)(m - 1);
		d->change_per_hour = (double)read / hours;
		d->stored_per_hour = (double)stored / hours;
		d->next_point =
			(uint64_t)(d->stored_per_hour * d->interval / 3600.0);
	}
	d->compression = stored ? (double)plain / (double)stored : 0;
	d->dedup = plain ? (double)read / (double)plain : 0;
	/* a need projected from minutes of points is noise, not a forecast */
	if (o->retention && retention_rules_any(o->retention) &&
	    (double)(last - first) >= PLAN_GROWTH_MIN_SPAN) {
		d->retention_window =
			plan_retention_window(o->retention, d->interval);
		d->retention_need = (uint64_t)(d->stored_per_hour *
					       d->retention_window / 3600.0);
	}
}

/* One sample of the repository's size. */
struct plan_sample {
	uint64_t time, used;
};

#define PLAN_USAGE_MAGIC "vhdrecover-usage 1\n"
/* At a cycle a minute, a week is ~10000 lines (~250 KiB): the cap. */
#define PLAN_USAGE_MAX 16384

/* "TIME BYTES\n": two decimal numbers that fit 64 bits, nothing else. */
static bool plan_usage_parse(const char *line, uint64_t *t, uint64_t *u)
{
	unsigned long long a, b;
	char *end;

	if (*line < '0' || *line > '9')
		return false;
	errno = 0;
	a = strtoull(line, &end, 10);
	if (errno || *end != ' ' || end[1] < '0' || end[1] > '9')
		return false;
	b = strtoull(end + 1, &end, 10);
	if (errno || (*end != '\n' && *end != '\0'))
		return false;
	*t = a;
	*u = b;
	return true;
}

/*
 * The samples of REPO/usage, oldest first, into a new *@out of *@n; no
 * file: *@n 0. Lines that do not parse are skipped: it is advisory.
 */
static int plan_usage_load(const char *repo_path, struct plan_sample **out,
			   size_t *n)
{
	struct plan_sample *s = NULL;
	uint64_t t, u;
	char *path = NULL, line[80];
	size_t cap = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	if (asprintf(&path, "%s/usage", repo_path) < 0)
		return -ENOMEM;
	f = fopen(path, "r");
	free(path);
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(line, sizeof(line), f) || strcmp(line, PLAN_USAGE_MAGIC)) {
		fclose(f);
		return 0; /* not ours: ignored, replaced at the next note */
	}
	while (fgets(line, sizeof(line), f) && *n < PLAN_USAGE_MAX) {
		if (!plan_usage_parse(line, &t, &u))
			continue;
		if (*n == cap) {
			struct plan_sample *g;

			cap = cap ? 2 * cap : 256;
			g = reallocarray(s, cap, sizeof(*s));
			if (!g) {
				free(s);
				fclose(f);
				return -ENOMEM;
			}
			s = g;
		}
		s[(*n)++] = (struct plan_sample){ t, u };
	}
	fclose(f);
	*out = s;
	return 0;
}

struct plan_usage_job {
	const struct plan_sample *s;
	size_t n;
};

static int plan_usage_write(int fd, const char *tmp, void *ctx,
			    struct vr_err *err)
{
	const struct plan_usage_job *j = ctx;
	FILE *f = fdopen(dup(fd), "w");
	size_t i;
	int bad;

	if (!f)
		return vr_err_set(err, -errno, "%s: %s", tmp, strerror(errno));
	fputs(PLAN_USAGE_MAGIC, f);
	for (i = 0; i < j->n; i++)
		fprintf(f, "%" PRIu64 " %" PRIu64 "\n", j->s[i].time,
			j->s[i].used);
	bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return vr_err_set(err, -EIO, "%s: cannot write", tmp);
	return 0;
}

int plan_usage_note(const char *repo_path, uint64_t time, uint64_t used,
		    struct vr_err *err)
{
	struct plan_sample *s = NULL, *g;
	struct plan_usage_job j;
	size_t n, first = 0, kept = 0, k;
	char *path = NULL;
	int rc;

	rc = plan_usage_load(repo_path, &s, &n);
	g = rc == 0 ? reallocarray(s, n + 1, sizeof(*s)) : NULL;
	if (!g || asprintf(&path, "%s/usage", repo_path) < 0) {
		free(g ? g : s);
		return vr_err_set(err, rc < 0 ? rc : -ENOMEM,
				  "%s/usage: cannot read or grow", repo_path);
	}
	s = g;
	/* keep the week before this sample; samples after it are of a clock
	 * that has since gone back: they would hide the real ones */
	for (k = 0; k < n; k++)
		if (s[k].time <= time && s[k].time + PLAN_GROWTH_WINDOW >= time)
			s[kept++] = s[k];
	s[kept++] = (struct plan_sample){ time, used };
	while (kept - first > PLAN_USAGE_MAX)
		first++;
	j.s = s + first;
	j.n = kept - first;
	rc = vr_file_replace(path, 0644, 0, plan_usage_write, &j, err);
	free(path);
	free(s);
	return rc;
}

/*
 * Repository bytes a day: the least-squares slope of its size over the
 * last week, so one large or empty cycle does not swing it. Fewer than
 * three samples, or less than an hour of them: 0 (unknown).
 */
static double plan_growth_of(const struct plan_sample *s, size_t n,
			     uint64_t now)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, x, y, k = 0, t0, first;
	uint64_t newest = 0;
	size_t i;

	/* the week before now: a sample from the future is a clock error */
	for (i = 0; i < n; i++)
		if (s[i].time <= now && s[i].time > newest)
			newest = s[i].time;
	t0 = (double)newest;
	first = t0;
	for (i = 0; i < n; i++) {
		if (!s[i].used || s[i].time > now ||
		    s[i].time + PLAN_GROWTH_WINDOW < newest)
			continue;
		first = (double)s[i].time < first ? (double)s[i].time : first;
		x = ((double)s[i].time - t0) / 86400.0;
		y = (double)s[i].used;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		k++;
	}
	if (k < 3 || t0 - first < PLAN_GROWTH_MIN_SPAN ||
	    k * sxx - sx * sx <= 0)
		return 0;
	return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

/*
 * Growth from REPO/usage, or, for a repository without one, from the
 * sizes its points record.
 */
static int plan_growth(const char *repo_path, const struct catalog_point *pts,
		       size_t n, uint64_t now, double *growth)
{
	struct plan_sample *s;
	size_t k, i;
	int rc = plan_usage_load(repo_path, &s, &k);

	if (rc < 0)
		return rc;
	if (k == 0) {
		free(s);
		s = calloc(n + 1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			s[k++] = (struct plan_sample){ pts[i].time,
						       pts[i].repo_used };
	}
	*growth = plan_growth_of(s, k, now);
	free(s);
	return 0;
}

/* The distinct disks of @pts, in order of their first point. */
static int plan_collect_disks(struct plan_report *rep,
			      const struct catalog_point *pts, size_t n)
{
	size_t i, k;

	rep->disks = calloc(n + 1, sizeof(*rep->disks));
	if (!rep->disks)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		for (k = 0; k < rep->ndisks; k++)
			if (!strcmp(rep->disks[k].name, pts[i].disk))
				break;
		if (k == rep->ndisks)
			memcpy(rep->disks[rep->ndisks++].name, pts[i].disk,
			       MANIFEST_NAME_MAX);
	}
	return 0;
}

/* The verdict: the worst finding, said in one line. */
static void plan_judge(struct plan_report *rep)
{
	char left[32], need[32], rate[32];
	const struct plan_disk *d;
	size_t i;

	progress_format_bytes((double)rep->space.left, left, sizeof(left));
	progress_format_bytes(rep->growth_per_day, rate, sizeof(rate));
	for (i = 0; i < rep->ndisks; i++) {
		d = &rep->disks[i];
		if (d->next_point <= rep->space.left)
			continue;
		progress_format_bytes((double)d->next_point, need,
				      sizeof(need));
		rep->status = PLAN_FULL;
		rep->alert = "full";
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "ALERT: the next point of %s (about %s) does not fit "
			 "in the %s left",
			 d->name, need, left);
		return;
	}
	if (rep->days_until_full >= 0 &&
	    rep->days_until_full < rep->warn_days) {
		rep->status = PLAN_WARN;
		rep->alert = "forecast";
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "ALERT: full in %.1f days at %s a day (%s left); "
			 "warning below %.0f days",
			 rep->days_until_full, rate, left, rep->warn_days);
		return;
	}
	for (i = 0; i < rep->ndisks; i++) {
		d = &rep->disks[i];
		if (d->rpo_met)
			continue;
		rep->status = PLAN_WARN;
		rep->alert = "rpo";
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "ALERT: %s missed its RPO: newest point %" PRIu64
			 " s old",
			 d->name, d->age);
		return;
	}
	if (rep->retention_need > rep->space.used + rep->space.left) {
		progress_format_bytes((double)rep->retention_need, need,
				      sizeof(need));
		rep->status = PLAN_WARN;
		rep->alert = "retention";
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "ALERT: retention will need %s at this rate of "
			 "change, more than the repository can hold",
			 need);
		return;
	}
	rep->status = PLAN_OK;
	if (rep->days_until_full >= 0)
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "OK: %s left, full in %.1f days at %s a day", left,
			 rep->days_until_full, rate);
	else
		snprintf(rep->verdict, sizeof(rep->verdict),
			 "OK: %s left, not growing toward full", left);
}

int plan_report_make(struct repo *r, const char *repo_path,
		     const struct plan_opts *o, struct plan_report **out,
		     struct vr_err *err)
{
	struct plan_report *rep = calloc(1, sizeof(*rep));
	struct catalog_point *pts = NULL;
	size_t n = 0, i;
	int rc;

	if (!rep)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	rep->now = o->now;
	rep->warn_days =
		o->warn_days > 0 ? o->warn_days : PLAN_DEFAULT_WARN_DAYS;
	rc = repo_space_get(r, &rep->space, err);
	if (rc == 0)
		rc = catalog_list_points(repo_path, NULL, &pts, &n,
					 &rep->damaged, err);
	if (rc == 0 && plan_collect_disks(rep, pts, n) < 0)
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	if (rc < 0)
		goto fail;
	rep->points = n;
	for (i = 0; i < rep->ndisks; i++)
		plan_disk_rates(o, pts, n, &rep->disks[i]);
	if (o->disk) {
		for (i = 0; i < rep->ndisks; i++)
			if (!strcmp(rep->disks[i].name, o->disk))
				break;
		if (i == rep->ndisks) {
			rc = vr_err_set(err, -ENOENT,
					"%s: no points of disk %s", repo_path,
					o->disk);
			goto fail;
		}
		rep->disks[0] = rep->disks[i];
		rep->ndisks = 1;
	}
	for (i = 0; i < rep->ndisks; i++)
		rep->retention_need += rep->disks[i].retention_need;
	rc = plan_growth(repo_path, pts, n, o->now, &rep->growth_per_day);
	if (rc < 0) {
		vr_err_set(err, rc, "%s/usage: %s", repo_path, strerror(-rc));
		goto fail;
	}
	rep->days_until_full =
		rep->growth_per_day > 0
			? (double)rep->space.left / rep->growth_per_day
			: -1;
	plan_judge(rep);
	free(pts);
	*out = rep;
	return 0;
fail:
	free(pts);
	plan_report_free(rep);
	return rc;
}

void plan_report_free(struct plan_report *rep)
{
	if (!rep)
		return;
	free(rep->disks);
	free(rep);
}

const char *plan_status_name(enum plan_status s)
{
	return s == PLAN_OK ? "ok" : s == PLAN_WARN ? "warn" : "full";
}
