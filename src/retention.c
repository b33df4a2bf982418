/*
 * retention.c - which recovery points of one disk a retention rule set
 * keeps (the rules are described in retention.h).
 *
 * One walk from the newest point to the oldest decides every point: each
 * bucket rule remembers the bucket of the last point it kept and how many
 * buckets it may still keep, so a point is its bucket's newest exactly when
 * its bucket differs from the one kept last. retention_apply() walks twice,
 * once to count and check, once to write, so a refused call leaves the
 * caller's points untouched without allocating a copy.
 */
#include <config.h>
#include "retention.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vr_err.h"

#define RETENTION_HOUR 3600u
#define RETENTION_DAY 86400u

enum retention_bucket {
	RETENTION_BY_HOUR,
	RETENTION_BY_DAY,
	RETENTION_BY_WEEK,
	RETENTION_BY_MONTH,
	RETENTION_BUCKETS
};

/* The state of one walk, newest point first. */
struct retention_walk {
	const struct retention_rules *r;
	size_t n;			  /* points in all */
	size_t newest_consistent;	  /* index, or n if none */
	uint64_t within_from;		  /* keep_within keeps times >= this */
	uint32_t left[RETENTION_BUCKETS]; /* buckets each rule may still keep */
	uint64_t last[RETENTION_BUCKETS]; /* bucket of the point kept last */
	bool any[RETENTION_BUCKETS];	  /* has kept one */
};

static const unsigned retention_bucket_bit[RETENTION_BUCKETS] = {
	RETENTION_HOURLY,
	RETENTION_DAILY,
	RETENTION_WEEKLY,
	RETENTION_MONTHLY,
};

bool retention_rules_any(const struct retention_rules *r)
{
	return r->keep_last || r->keep_hourly || r->keep_daily ||
	       r->keep_weekly || r->keep_monthly || r->keep_within;
}

uint64_t retention_expiry(const struct retention_rules *r, uint64_t time)
{
	uint64_t end;

	if (!r->keep_within)
		return 0;
	if (__builtin_add_overflow(time, r->keep_within, &end))
		return UINT64_MAX;
	return end;
}

void retention_reasons_format(unsigned keep, char *buf, size_t len)
{
	static const char *const names[] = {
		"last",	   "hourly", "daily",  "weekly",
		"monthly", "within", "newest", "newest-consistent",
	};
	size_t used = 0, i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if (!(keep & (1u << i)))
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
			     names[i]);
		if (w < 0 || (size_t)w >= len - used)
			return; /* cut, and terminated by snprintf() */
		used += (size_t)w;
	}
}

/*
 * The calendar month of @time as year * 12 + month. Times gmtime_r()
 * cannot convert (past the year 2^31) share one last bucket: no real clock
 * gets there, and the answer stays defined.
 */
static uint64_t retention_month(uint64_t time)
{
	time_t t = (time_t)time;
	struct tm tm;

	if (time > (uint64_t)INT64_MAX || (uint64_t)t != time ||
	    !gmtime_r(&t, &tm))
		return UINT64_MAX;
	return (uint64_t)((int64_t)tm.tm_year * 12 + tm.tm_mon);
}

static uint64_t retention_bucket_of(enum retention_bucket b, uint64_t time)
{
	switch (b) {
	case RETENTION_BY_HOUR:
		return time / RETENTION_HOUR;
	case RETENTION_BY_DAY:
		return time / RETENTION_DAY;
	case RETENTION_BY_WEEK:
		/*
		 * Day 0, 1970-01-01, was a Thursday, day 3 of its Monday
		 * week: shifting by 3 makes weeks start on Mondays.
		 * time / 86400 + 3 cannot overflow.
		 */
		return (time / RETENTION_DAY + 3) / 7;
	case RETENTION_BY_MONTH:
	case RETENTION_BUCKETS:
		break;
	}
	return retention_month(time);
}

static void retention_walk_init(struct retention_walk *w,
				const struct retention_rules *r,
				const struct retention_point *pts, size_t n)
{
	uint64_t newest = pts[n - 1].time;
	size_t i;

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->n = n;
	w->newest_consistent = n;
	for (i = n; i-- > 0;) {
		if (pts[i].consistent) {
			w->newest_consistent = i;
			break;
		}
	}
	/* relative to the newest point, not to now: see retention.h */
	w->within_from = newest > r->keep_within ? newest - r->keep_within : 0;
	w->left[RETENTION_BY_HOUR] = r->keep_hourly;
	w->left[RETENTION_BY_DAY] = r->keep_daily;
	w->left[RETENTION_BY_WEEK] = r->keep_weekly;
	w->left[RETENTION_BY_MONTH] = r->keep_monthly;
}

/* The reasons to keep point @i of @p; called for i = n - 1 down to 0. */
static unsigned retention_walk_next(struct retention_walk *w,
				    const struct retention_point *p, size_t i)
{
	unsigned keep = 0;
	int b;

	if (w->n - i <= w->r->keep_last)
		keep |= RETENTION_LAST;
	for (b = 0; b < RETENTION_BUCKETS; b++) {
		uint64_t key;

		if (!w->left[b])
			continue;
		key = retention_bucket_of(b, p->time);
		if (w->any[b] && key == w->last[b])
			continue;
		w->any[b] = true;
		w->last[b] = key;
		w->left[b]--;
		keep |= retention_bucket_bit[b];
	}
	if (w->r->keep_within && p->time >= w->within_from)
		keep |= RETENTION_WITHIN;
	if (i == w->n - 1)
		keep |= RETENTION_NEWEST;
	if (i == w->newest_consistent)
		keep |= RETENTION_NEWEST_CONSISTENT;
	return keep;
}

/* A UTC time as "YYYY-MM-DDTHH:MM:SSZ", or its number if out of range. */
static void retention_time_format(uint64_t time, char out[32])
{
	time_t t = (time_t)time;
	struct tm tm;

	if (time > (uint64_t)INT64_MAX || (uint64_t)t != time ||
	    !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%" PRIu64, time);
}

int retention_apply(const struct retention_rules *r,
		    struct retention_point *pts, size_t n, uint64_t now,
		    bool force, struct vr_err *err)
{
	struct retention_walk w;
	size_t gone = 0, unexpired = 0, first = 0, i;
	char when[32];

	assert(r && (pts || !n));
	if (!retention_rules_any(r))
		return vr_err_set(err, -EINVAL,
				  "no retention rule: give at least one of "
				  "keep-last, keep-hourly, keep-daily, "
				  "keep-weekly, keep-monthly, keep-within (a "
				  "rule set that keeps nothing would forget "
				  "every point)");
	if (!n)
		return 0;
	for (i = 1; i < n; i++) {
		if (pts[i].time < pts[i - 1].time)
			return vr_err_set(err, -EINVAL,
					  "%s: points not sorted oldest first "
					  "(%s is older)",
					  pts[i - 1].id, pts[i].id);
	}
	if (n > INT_MAX)
		return vr_err_set(err, -EINVAL, "%zu points: too many", n);

	retention_walk_init(&w, r, pts, n);
	for (i = n; i-- > 0;) {
		if (retention_walk_next(&w, &pts[i], i))
			continue;
		gone++;
		if (pts[i].expires > now) {
			unexpired++;
			first = i; /* the walk goes newest first */
		}
	}
	if (unexpired && !force) {
		retention_time_format(pts[first].expires, when);
		return vr_err_set(err, -EINVAL,
				  "%s: unexpired until %s but the retention "
				  "rules drop it (%zu unexpired point%s would "
				  "go); --force drops it anyway",
				  pts[first].id, when, unexpired,
				  unexpired == 1 ? "" : "s");
	}

	retention_walk_init(&w, r, pts, n);
	for (i = n; i-- > 0;)
		pts[i].keep = retention_walk_next(&w, &pts[i], i);
	return (int)gone;
}
