/*
 * test_retention.c - which points a retention rule set keeps: each rule
 * alone and combined on a synthetic timeline (every 5 minutes for 3 days
 * after sparse points over 5 months), bucket edges (midnight, 23:59:59,
 * Sunday to Monday, month ends, the leap day, an ISO week across New
 * Year), ties in time, the newest and newest consistent points, and the
 * typos that delete everything in other tools, refused or harmless here.
 *
 * Expected sets are written out by hand, and every keep mask is also
 * checked against an oracle built differently from the code under test:
 * calendar dates from Howard Hinnant's civil-from-days algorithm instead of
 * gmtime_r(), weekdays from Sakamoto's formula, and a point kept by a
 * bucket rule when it is the last of its bucket and at most N buckets lie
 * at or after it, instead of a walk with counters.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "retention.h"
#include "tap.h"
#include "vr_err.h"

#define T_DAY 86400u
#define T_MAX_POINTS 1000
#define T_UNTOUCHED 0x5a5au /* a keep value no call may leave behind */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t t_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The date of day @z since 1970-01-01 (Hinnant). */
static void t_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0 for Monday .. 6 for Sunday (Sakamoto's method, which counts Sunday 0). */
static unsigned t_weekday(int64_t y, unsigned m, unsigned d)
{
	static const unsigned t[] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };
	int64_t sun0;

	if (m < 3)
		y--;
	sun0 = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
	return (unsigned)((sun0 + 6) % 7);
}

static uint64_t t_utc(int64_t y, unsigned mo, unsigned d, unsigned h,
		      unsigned mi, unsigned s)
{
	return (uint64_t)t_days_from_civil(y, mo, d) * T_DAY + h * 3600u +
	       mi * 60u + s;
}

enum t_kind { T_HOUR, T_DAY_KEY, T_WEEK, T_MONTH, T_KINDS };

/* The bucket of @time, computed from its calendar date. */
static uint64_t t_key(enum t_kind k, uint64_t time)
{
	int64_t y;
	unsigned m, d;

	t_civil_from_days((int64_t)(time / T_DAY), &y, &m, &d);
	switch (k) {
	case T_HOUR:
		return (uint64_t)y * 1000000 + m * 10000 + d * 100 +
		       time % T_DAY / 3600;
	case T_DAY_KEY:
		return (uint64_t)y * 10000 + m * 100 + d;
	case T_WEEK: /* the day number of the week's Monday */
		return (uint64_t)(t_days_from_civil(y, m, d) -
				  t_weekday(y, m, d));
	case T_MONTH:
	case T_KINDS:
		break;
	}
	return (uint64_t)y * 100 + m;
}

/*
 * The reasons point @i should be kept for, from the definitions in
 * retention.h read literally, one point at a time.
 */
static unsigned t_oracle(const struct retention_rules *r,
			 const struct retention_point *pts, size_t n, size_t i)
{
	const uint32_t count[T_KINDS] = { r->keep_hourly, r->keep_daily,
					  r->keep_weekly, r->keep_monthly };
	const unsigned bit[T_KINDS] = { RETENTION_HOURLY, RETENTION_DAILY,
					RETENTION_WEEKLY, RETENTION_MONTHLY };
	unsigned keep = 0;
	size_t j;
	int k;

	if (n - 1 - i < r->keep_last)
		keep |= RETENTION_LAST;
	for (k = 0; k < T_KINDS; k++) {
		uint64_t key = t_key(k, pts[i].time);
		size_t buckets = 0;
		bool newest_of_bucket = true;

		if (!count[k])
			continue;
		for (j = i + 1; j < n; j++)
			if (t_key(k, pts[j].time) == key)
				newest_of_bucket = false;
		/* distinct buckets at or after i: the last point of each */
		for (j = i; j < n; j++)
			if (j == n - 1 ||
			    t_key(k, pts[j].time) != t_key(k, pts[j + 1].time))
				buckets++;
		if (newest_of_bucket && buckets <= count[k])
			keep |= bit[k];
	}
	if (r->keep_within && (pts[n - 1].time - pts[i].time <= r->keep_within))
		keep |= RETENTION_WITHIN;
	if (i == n - 1)
		keep |= RETENTION_NEWEST;
	if (pts[i].consistent) {
		bool newer = false;

		for (j = i + 1; j < n; j++)
			newer |= pts[j].consistent;
		if (!newer)
			keep |= RETENTION_NEWEST_CONSISTENT;
	}
	return keep;
}

/* Which points are application-consistent in the timeline. */
enum t_consistent {
	T_CONS_NONE,
	T_CONS_OLD,   /* only s7, in January */
	T_CONS_DENSE, /* every 36th dense point from d7: the newest is d835 */
};

struct t_timeline {
	struct retention_point pts[T_MAX_POINTS];
	char ids[T_MAX_POINTS][16];
	size_t n;
};

static void t_add(struct t_timeline *tl, const char *id, uint64_t time)
{
	struct retention_point *p;

	CU_ASSERT_FATAL(tl->n < T_MAX_POINTS);
	CU_ASSERT_FATAL(tl->n == 0 || tl->pts[tl->n - 1].time <= time);
	p = &tl->pts[tl->n];
	snprintf(tl->ids[tl->n], sizeof(tl->ids[0]), "%s", id);
	p->id = tl->ids[tl->n];
	p->time = time;
	p->expires = 0;
	p->consistent = false;
	p->keep = T_UNTOUCHED;
	tl->n++;
}

/*
 * s0..s14: sparse points from 2023-10-15 to 2024-03-01, at month, week,
 * day and leap day edges, s6 and s7 at the same second; then d0..d863:
 * every 5 minutes from Saturday 2024-03-02 00:00:00 to Monday 2024-03-04
 * 23:55:00. 879 points.
 */
static void t_timeline_build(struct t_timeline *tl, enum t_consistent cons)
{
	static const unsigned sparse[][6] = {
		{ 2023, 10, 15, 12, 0, 0 },   /* s0 */
		{ 2023, 11, 1, 0, 0, 0 },     /* s1 month start */
		{ 2023, 11, 30, 23, 59, 59 }, /* s2 month end */
		{ 2023, 12, 1, 0, 0, 0 },     /* s3 */
		{ 2023, 12, 31, 23, 59, 59 }, /* s4 Sunday, year end */
		{ 2024, 1, 1, 0, 0, 0 },      /* s5 Monday, new year */
		{ 2024, 1, 15, 12, 0, 0 },    /* s6 tie */
		{ 2024, 1, 15, 12, 0, 0 },    /* s7 tie, the newer */
		{ 2024, 1, 31, 23, 59, 59 },  /* s8 Wednesday */
		{ 2024, 2, 1, 0, 0, 0 },      /* s9 Thursday */
		{ 2024, 2, 28, 23, 59, 59 },  /* s10 */
		{ 2024, 2, 29, 0, 0, 0 },     /* s11 leap day */
		{ 2024, 2, 29, 23, 59, 59 },  /* s12 */
		{ 2024, 3, 1, 0, 0, 0 },      /* s13 */
		{ 2024, 3, 1, 6, 30, 0 },     /* s14 */
	};
	uint64_t dense = t_utc(2024, 3, 2, 0, 0, 0);
	char id[16];
	size_t i;

	memset(tl, 0, sizeof(*tl));
	for (i = 0; i < sizeof(sparse) / sizeof(sparse[0]); i++) {
		const unsigned *s = sparse[i];

		snprintf(id, sizeof(id), "s%zu", i);
		t_add(tl, id, t_utc(s[0], s[1], s[2], s[3], s[4], s[5]));
	}
	for (i = 0; i < 3 * 288; i++) {
		snprintf(id, sizeof(id), "d%zu", i);
		t_add(tl, id, dense + i * 300);
		if (cons == T_CONS_DENSE && i % 36 == 7)
			tl->pts[tl->n - 1].consistent = true;
	}
	if (cons == T_CONS_OLD)
		tl->pts[7].consistent = true;
}

static struct retention_point *t_find(struct t_timeline *tl, const char *id)
{
	size_t i;

	for (i = 0; i < tl->n; i++)
		if (!strcmp(tl->ids[i], id))
			return &tl->pts[i];
	return NULL;
}

/*
 * Mark in @want the points named in @spec: ids separated by spaces, and
 * ranges written "d816-863" (d816 to d863). Returns how many.
 */
static size_t t_parse_kept(struct t_timeline *tl, const char *spec, bool *want)
{
	char buf[512], *tok, *save = NULL;
	size_t count = 0;

	CU_ASSERT_FATAL(strlen(spec) < sizeof(buf));
	strcpy(buf, spec);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *dash = strchr(tok, '-'), id[16];
		unsigned lo, hi, k;

		lo = (unsigned)strtoul(tok + 1, NULL, 10);
		hi = dash ? (unsigned)strtoul(dash + 1, NULL, 10) : lo;
		CU_ASSERT_FATAL(lo <= hi);
		for (k = lo; k <= hi; k++) {
			struct retention_point *p;

			snprintf(id, sizeof(id), "%c%u", tok[0], k);
			p = t_find(tl, id);
			CU_ASSERT_PTR_NOT_NULL_FATAL(p);
			want[p - tl->pts] = true;
			count++;
		}
	}
	return count;
}

struct t_case {
	const char *name;
	struct retention_rules rules;
	enum t_consistent cons;
	const char *kept; /* every point kept, by hand; NULL: oracle only */
	int gone;	  /* by hand */
};

static const struct t_case t_cases[] = {
	{ "last 48", { .keep_last = 48 }, T_CONS_NONE, "d816-863", 831 },
	{ "hourly 24",
	  { .keep_hourly = 24 },
	  T_CONS_NONE,
	  "d587 d599 d611 d623 d635 d647 d659 d671 d683 d695 d707 d719 "
	  "d731 d743 d755 d767 d779 d791 d803 d815 d827 d839 d851 d863",
	  855 },
	/* 23:55 of each dense day, not midnight; the leap day's 23:59:59 */
	{ "daily 7",
	  { .keep_daily = 7 },
	  T_CONS_NONE,
	  "s9 s10 s12 s14 d287 d575 d863",
	  872 },
	/* Sunday 23:55 ends a week; s8 and s9 share one; s7 wins the tie */
	{ "weekly 4",
	  { .keep_weekly = 4 },
	  T_CONS_NONE,
	  "s7 s9 d575 d863",
	  875 },
	/* January's 23:59:59 on the 31st, not February's midnight */
	{ "monthly 6",
	  { .keep_monthly = 6 },
	  T_CONS_NONE,
	  "s0 s2 s4 s8 s12 d863",
	  873 },
	{ "monthly 5",
	  { .keep_monthly = 5 },
	  T_CONS_NONE,
	  "s2 s4 s8 s12 d863",
	  874 },
	/* from Saturday 23:55 on, the newest point's time minus 2 days */
	{ "within 2d",
	  { .keep_within = 2 * T_DAY },
	  T_CONS_NONE,
	  "d287-863",
	  302 },
	/* the product's example policy: 15 days have points, 14 kept */
	{ "last 48 + daily 14",
	  { .keep_last = 48, .keep_daily = 14 },
	  T_CONS_NONE,
	  "s1 s2 s3 s4 s5 s7 s8 s9 s10 s12 s14 d287 d575 d816-863",
	  818 },
	/* more buckets asked than there are: every hour's newest, 86 */
	{ "every bucket 1000",
	  { .keep_hourly = 1000,
	    .keep_daily = 1000,
	    .keep_weekly = 1000,
	    .keep_monthly = 1000 },
	  T_CONS_NONE,
	  NULL,
	  793 },
	{ "within 1h + weekly 2 + monthly 3",
	  { .keep_within = 3600, .keep_weekly = 2, .keep_monthly = 3 },
	  T_CONS_NONE,
	  "s8 s12 d575 d851-863",
	  863 },
	/* the newest consistent point is months old and still kept */
	{ "last 1, old consistent",
	  { .keep_last = 1 },
	  T_CONS_OLD,
	  "s7 d863",
	  877 },
	{ "daily 7, dense consistent",
	  { .keep_daily = 7 },
	  T_CONS_DENSE,
	  "s9 s10 s12 s14 d287 d575 d835 d863",
	  871 },
	{ "last 48 + daily 14, old consistent",
	  { .keep_last = 48, .keep_daily = 14 },
	  T_CONS_OLD,
	  "s1 s2 s3 s4 s5 s7 s8 s9 s10 s12 s14 d287 d575 d816-863",
	  818 },
	{ "within forever",
	  { .keep_within = UINT64_MAX },
	  T_CONS_DENSE,
	  "s0-14 d0-863",
	  0 },
	{ "last 10000",
	  { .keep_last = 10000 },
	  T_CONS_NONE,
	  "s0-14 d0-863",
	  0 },
};

static void test_retention_timeline_table(void)
{
	static struct t_timeline tl;
	size_t c, i;

	for (c = 0; c < sizeof(t_cases) / sizeof(t_cases[0]); c++) {
		const struct t_case *tc = &t_cases[c];
		struct vr_err err = { 0 };
		bool want[T_MAX_POINTS] = { false };
		size_t gone = 0;
		int rc;

		t_timeline_build(&tl, tc->cons);
		CU_ASSERT_EQUAL_FATAL(tl.n, 879);
		if (tc->kept)
			CU_ASSERT_EQUAL(t_parse_kept(&tl, tc->kept, want),
					tl.n - (size_t)tc->gone);
		rc = retention_apply(&tc->rules, tl.pts, tl.n,
				     tl.pts[tl.n - 1].time + 60, false, &err);
		if (rc != tc->gone)
			printf("# %s: %d gone, expected %d %s\n", tc->name, rc,
			       tc->gone, err.msg);
		CU_ASSERT_EQUAL(rc, tc->gone);
		for (i = 0; i < tl.n; i++) {
			unsigned expect = t_oracle(&tc->rules, tl.pts, tl.n, i);

			if (tl.pts[i].keep != expect ||
			    (tc->kept && !tl.pts[i].keep != !want[i]))
				printf("# %s: %s keep 0x%x, oracle 0x%x, "
				       "by hand %s\n",
				       tc->name, tl.ids[i], tl.pts[i].keep,
				       expect, want[i] ? "kept" : "gone");
			CU_ASSERT_EQUAL(tl.pts[i].keep, expect);
			if (tc->kept)
				CU_ASSERT_EQUAL(!tl.pts[i].keep, !want[i]);
			gone += !tl.pts[i].keep;
		}
		CU_ASSERT_EQUAL(gone, (size_t)tc->gone);
	}
}

/* A few points at hand-picked times; expected keep masks written out. */
struct t_edge {
	const char *name;
	struct retention_rules rules;
	unsigned keep[6];
	int gone;
};

static void t_edges(const uint64_t *times, const bool *consistent, size_t n,
		    const struct t_edge *e, size_t ne)
{
	struct retention_point pts[6];
	size_t c, i;

	CU_ASSERT_FATAL(n <= 6);
	for (c = 0; c < ne; c++) {
		struct vr_err err = { 0 };
		int rc;

		for (i = 0; i < n; i++) {
			pts[i].id = "edge";
			pts[i].time = times[i];
			pts[i].expires = 0;
			pts[i].consistent = consistent && consistent[i];
			pts[i].keep = T_UNTOUCHED;
		}
		rc = retention_apply(&e[c].rules, pts, n, times[n - 1], false,
				     &err);
		CU_ASSERT_EQUAL(rc, e[c].gone);
		for (i = 0; i < n; i++) {
			if (pts[i].keep != e[c].keep[i])
				printf("# %s: point %zu keep 0x%x, expected "
				       "0x%x\n",
				       e[c].name, i, pts[i].keep, e[c].keep[i]);
			CU_ASSERT_EQUAL(pts[i].keep, e[c].keep[i]);
			CU_ASSERT_EQUAL(pts[i].keep,
					t_oracle(&e[c].rules, pts, n, i));
		}
	}
}

#define L RETENTION_LAST
#define H RETENTION_HOURLY
#define D RETENTION_DAILY
#define W RETENTION_WEEKLY
#define M RETENTION_MONTHLY
#define WI RETENTION_WITHIN
#define N RETENTION_NEWEST
#define NC RETENTION_NEWEST_CONSISTENT

static void test_retention_buckets_at_leap_day_and_midnight(void)
{
	const uint64_t times[] = {
		t_utc(2024, 2, 28, 23, 59, 59), t_utc(2024, 2, 29, 0, 0, 0),
		t_utc(2024, 2, 29, 23, 59, 59), t_utc(2024, 3, 1, 0, 0, 0),
		t_utc(2024, 3, 1, 0, 0, 1),
	};
	static const struct t_edge e[] = {
		{ "daily 3", { .keep_daily = 3 }, { D, 0, D, 0, D | N }, 2 },
		{ "daily 2", { .keep_daily = 2 }, { 0, 0, D, 0, D | N }, 3 },
		{ "hourly 3", { .keep_hourly = 3 }, { 0, H, H, 0, H | N }, 2 },
		{ "monthly 2",
		  { .keep_monthly = 2 },
		  { 0, 0, M, 0, M | N },
		  3 },
		/* Wednesday to Friday: one week */
		{ "weekly 2", { .keep_weekly = 2 }, { 0, 0, 0, 0, W | N }, 4 },
	};

	/* known answers, so t_utc() is no second copy of a bug */
	CU_ASSERT_EQUAL(t_utc(2024, 2, 29, 0, 0, 0), 1709164800);
	CU_ASSERT_EQUAL(t_utc(1970, 1, 1, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(t_utc(2000, 3, 1, 0, 0, 0), 951868800);
	CU_ASSERT_EQUAL(t_weekday(2024, 3, 4), 0); /* Monday */
	CU_ASSERT_EQUAL(t_weekday(2023, 12, 31), 6);
	t_edges(times, NULL, 5, e, sizeof(e) / sizeof(e[0]));
}

static void test_retention_weeks_start_on_monday(void)
{
	const uint64_t times[] = {
		t_utc(2023, 12, 31, 23, 59, 59), /* Sunday */
		t_utc(2024, 1, 1, 0, 0, 0),	 /* Monday */
		t_utc(2024, 1, 7, 23, 59, 59),	 /* Sunday */
		t_utc(2024, 1, 8, 0, 0, 0),	 /* Monday */
	};
	static const struct t_edge e[] = {
		{ "weekly 3", { .keep_weekly = 3 }, { W, 0, W, W | N }, 1 },
		{ "weekly 2", { .keep_weekly = 2 }, { 0, 0, W, W | N }, 2 },
		{ "monthly 3", { .keep_monthly = 3 }, { M, 0, 0, M | N }, 2 },
	};

	t_edges(times, NULL, 4, e, sizeof(e) / sizeof(e[0]));
}

/* ISO week 2025-W01 runs from Monday 2024-12-30 to Sunday 2025-01-05. */
static void test_retention_week_across_new_year(void)
{
	const uint64_t times[] = {
		t_utc(2024, 12, 29, 23, 59, 59), t_utc(2024, 12, 30, 0, 0, 0),
		t_utc(2025, 1, 1, 12, 0, 0),	 t_utc(2025, 1, 5, 23, 59, 59),
		t_utc(2025, 1, 6, 0, 0, 0),
	};
	static const struct t_edge e[] = {
		{ "weekly 10",
		  { .keep_weekly = 10 },
		  { W, 0, 0, W, W | N },
		  2 },
		{ "monthly 10",
		  { .keep_monthly = 10 },
		  { 0, M, 0, 0, M | N },
		  3 },
		{ "daily 10", { .keep_daily = 10 }, { D, D, D, D, D | N }, 0 },
	};

	t_edges(times, NULL, 5, e, sizeof(e) / sizeof(e[0]));
}

/* Points of the same second: the later one given is the newer. */
static void test_retention_ties_in_time(void)
{
	const uint64_t t = t_utc(2024, 5, 5, 5, 5, 5);
	const uint64_t times[] = { t, t, t };
	static const bool consistent[] = { true, false, false };
	static const struct t_edge e[] = {
		{ "last 1", { .keep_last = 1 }, { NC, 0, L | N }, 1 },
		{ "last 2", { .keep_last = 2 }, { NC, L, L | N }, 0 },
		{ "daily 5", { .keep_daily = 5 }, { NC, 0, D | N }, 1 },
		{ "hourly 1", { .keep_hourly = 1 }, { NC, 0, H | N }, 1 },
		{ "within 1s",
		  { .keep_within = 1 },
		  { WI | NC, WI, WI | N },
		  0 },
	};

	t_edges(times, consistent, 3, e, sizeof(e) / sizeof(e[0]));
}

/* Times near the end of uint64_t: no overflow, and defined buckets. */
static void test_retention_extreme_times(void)
{
	const uint64_t times[] = { 0, UINT64_MAX - 1, UINT64_MAX };
	static const struct t_edge e[] = {
		{ "within forever",
		  { .keep_within = UINT64_MAX },
		  { WI, WI, WI | N },
		  0 },
		{ "within 1s", { .keep_within = 1 }, { 0, WI, WI | N }, 1 },
		{ "daily 3", { .keep_daily = 3 }, { D, 0, D | N }, 1 },
		{ "weekly 3", { .keep_weekly = 3 }, { W, 0, W | N }, 1 },
		{ "hourly 3", { .keep_hourly = 3 }, { H, 0, H | N }, 1 },
	};
	/* the first hour, day and week since 1970 are buckets like others */
	const uint64_t epoch[] = { 0, 1 };
	static const struct t_edge e0[] = {
		{ "hourly 1", { .keep_hourly = 1 }, { 0, H | N }, 1 },
		{ "daily 1", { .keep_daily = 1 }, { 0, D | N }, 1 },
		{ "weekly 1", { .keep_weekly = 1 }, { 0, W | N }, 1 },
		{ "monthly 1", { .keep_monthly = 1 }, { 0, M | N }, 1 },
	};
	struct retention_rules monthly = { .keep_monthly = 2 };
	struct retention_point pts[3] = {
		{ "a", 0, 0, false, 0 },
		{ "b", UINT64_MAX - 1, 0, false, 0 },
		{ "c", UINT64_MAX, 0, false, 0 },
	};
	struct vr_err err = { 0 };

	t_edges(times, NULL, 3, e, sizeof(e) / sizeof(e[0]));
	t_edges(epoch, NULL, 2, e0, sizeof(e0) / sizeof(e0[0]));
	/* past gmtime_r()'s range: one last month, no crash */
	CU_ASSERT_EQUAL(retention_apply(&monthly, pts, 3, 0, false, &err), 1);
	CU_ASSERT_EQUAL(pts[0].keep, M);
	CU_ASSERT_EQUAL(pts[1].keep, 0);
	CU_ASSERT_EQUAL(pts[2].keep, M | N);
}

static void test_retention_refuses_no_rule(void)
{
	struct retention_rules none = { 0 }, last = { .keep_last = 1 };
	struct retention_point pts[2] = {
		{ "p0", 100, 0, true, T_UNTOUCHED },
		{ "p1", 200, 0, false, T_UNTOUCHED },
	};
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL(retention_apply(&none, pts, 2, 1000, false, &err),
			-EINVAL);
	CU_ASSERT_EQUAL(err.code, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no retention rule"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "keep-last"));
	CU_ASSERT_EQUAL(pts[0].keep, T_UNTOUCHED);
	CU_ASSERT_EQUAL(pts[1].keep, T_UNTOUCHED);
	/* force forgives unexpired points, never an empty rule set */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(retention_apply(&none, pts, 2, 1000, true, &err),
			-EINVAL);
	CU_ASSERT_EQUAL(pts[1].keep, T_UNTOUCHED);
	/* nor is it forgiven when there is nothing to drop */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(retention_apply(&none, NULL, 0, 1000, true, &err),
			-EINVAL);
	CU_ASSERT_EQUAL(retention_apply(&last, NULL, 0, 1000, false, &err), 0);
}

static void test_retention_refuses_unsorted_points(void)
{
	struct retention_rules last = { .keep_last = 1 };
	struct retention_point pts[3] = {
		{ "p0", 100, 0, false, T_UNTOUCHED },
		{ "p1", 300, 0, false, T_UNTOUCHED },
		{ "p2", 200, 0, false, T_UNTOUCHED },
	};
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL(retention_apply(&last, pts, 3, 1000, true, &err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not sorted"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "p2"));
	CU_ASSERT_EQUAL(pts[0].keep, T_UNTOUCHED);
}

/*
 * Hourly points for 10 days from 2024-03-01, made under keep_within 7d
 * (their expiry), p100 consistent; now is 30 minutes after the newest.
 * Unexpired: time + 7d > now, that is p072 (2024-03-04 00:00) and after.
 */
static void t_hourly_points(struct retention_point *pts, char (*ids)[8])
{
	struct retention_rules made = { .keep_within = 7 * T_DAY };
	uint64_t t0 = t_utc(2024, 3, 1, 0, 0, 0);
	size_t i;

	for (i = 0; i < 240; i++) {
		snprintf(ids[i], sizeof(ids[0]), "p%03zu", i);
		pts[i].id = ids[i];
		pts[i].time = t0 + i * 3600;
		pts[i].expires = retention_expiry(&made, pts[i].time);
		pts[i].consistent = i == 100;
		pts[i].keep = T_UNTOUCHED;
	}
}

/*
 * keep_within meant as 6 months, typed as 6 minutes: in other tools it
 * drops all but the newest point. Here the points still carry the expiry
 * promised when they were made, so it is refused; only --force drops them.
 */
static void test_retention_typo_within_refused_unless_forced(void)
{
	static struct retention_point pts[240];
	static char ids[240][8];
	struct retention_rules typo = { .keep_within = 6 * 60 };
	struct retention_rules meant = { .keep_within = 7 * T_DAY };
	struct vr_err err = { 0 };
	uint64_t now;
	size_t i;
	int rc;

	t_hourly_points(pts, ids);
	now = pts[239].time + 1800;
	CU_ASSERT(pts[71].expires <= now);
	CU_ASSERT(pts[72].expires > now);
	rc = retention_apply(&typo, pts, 240, now, false, &err);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_EQUAL(err.code, -EINVAL);
	/* the first unexpired point to go, its expiry, and how many */
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "p072"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "2024-03-11T00:00:00Z"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "166 unexpired points"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--force drops it anyway"));
	for (i = 0; i < 240; i++)
		CU_ASSERT_EQUAL(pts[i].keep, T_UNTOUCHED);

	/* forced: every point but the newest and the consistent one goes */
	vr_err_clear(&err);
	rc = retention_apply(&typo, pts, 240, now, true, &err);
	CU_ASSERT_EQUAL(rc, 238);
	CU_ASSERT_EQUAL(err.code, 0);
	for (i = 0; i < 239; i++)
		CU_ASSERT_EQUAL(pts[i].keep,
				i == 100 ? RETENTION_NEWEST_CONSISTENT : 0);
	CU_ASSERT_EQUAL(pts[239].keep, RETENTION_WITHIN | RETENTION_NEWEST);

	/* the rule as meant drops only expired points: no force needed */
	t_hourly_points(pts, ids);
	vr_err_clear(&err);
	rc = retention_apply(&meant, pts, 240, now, false, &err);
	CU_ASSERT_EQUAL(rc, 71);
	for (i = 0; i < 240; i++)
		CU_ASSERT_EQUAL(!pts[i].keep, i < 71);
	CU_ASSERT_EQUAL(pts[100].keep,
			RETENTION_WITHIN | RETENTION_NEWEST_CONSISTENT);

	/* one unexpired point: singular, and it names that one */
	t_hourly_points(pts, ids);
	for (i = 0; i < 240; i++)
		pts[i].expires = i == 5 ? UINT64_MAX : 0;
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(retention_apply(&typo, pts, 240, now, false, &err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "p005"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "18446744073709551615"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "(1 unexpired point would"));
}

/*
 * keep_daily 7 on a disk whose points all fall on one day: other tools
 * keep 7 points; here one day is one bucket, so only the newest and the
 * newest consistent point stay. Allowed, as every expiry has passed.
 */
static void test_retention_daily_on_one_day_keeps_newest(void)
{
	static struct retention_point pts[288];
	static char ids[288][8];
	struct retention_rules daily = { .keep_daily = 7 };
	uint64_t t0 = t_utc(2024, 3, 2, 0, 0, 0);
	struct vr_err err = { 0 };
	size_t i;

	for (i = 0; i < 288; i++) {
		snprintf(ids[i], sizeof(ids[0]), "p%03zu", i);
		pts[i].id = ids[i];
		pts[i].time = t0 + i * 300;
		pts[i].expires = pts[i].time + 3600;
		pts[i].consistent = i == 100 || i == 200;
		pts[i].keep = T_UNTOUCHED;
	}
	CU_ASSERT(pts[287].expires < t0 + 2 * T_DAY);
	CU_ASSERT_EQUAL(
		retention_apply(&daily, pts, 288, t0 + 2 * T_DAY, false, &err),
		286);
	CU_ASSERT_EQUAL(err.code, 0);
	for (i = 0; i < 287; i++)
		CU_ASSERT_EQUAL(pts[i].keep,
				i == 200 ? RETENTION_NEWEST_CONSISTENT : 0);
	CU_ASSERT_EQUAL(pts[287].keep, RETENTION_DAILY | RETENTION_NEWEST);
}

static void test_retention_rules_any(void)
{
	struct retention_rules r = { 0 };

	CU_ASSERT(!retention_rules_any(&r));
	r.keep_last = 1;
	CU_ASSERT(retention_rules_any(&r));
	r = (struct retention_rules){ .keep_hourly = 1 };
	CU_ASSERT(retention_rules_any(&r));
	r = (struct retention_rules){ .keep_daily = 1 };
	CU_ASSERT(retention_rules_any(&r));
	r = (struct retention_rules){ .keep_weekly = 1 };
	CU_ASSERT(retention_rules_any(&r));
	r = (struct retention_rules){ .keep_monthly = 1 };
	CU_ASSERT(retention_rules_any(&r));
	r = (struct retention_rules){ .keep_within = 1 };
	CU_ASSERT(retention_rules_any(&r));
}

static void test_retention_expiry_saturates(void)
{
	struct retention_rules none = { .keep_last = 5 };
	struct retention_rules week = { .keep_within = 7 * T_DAY };
	struct retention_rules forever = { .keep_within = UINT64_MAX };

	CU_ASSERT_EQUAL(retention_expiry(&none, 1709251200), 0);
	CU_ASSERT_EQUAL(retention_expiry(&none, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(retention_expiry(&week, 1709251200), 1709856000);
	CU_ASSERT_EQUAL(retention_expiry(&week, 0), 604800);
	CU_ASSERT_EQUAL(retention_expiry(&week, UINT64_MAX - 604801),
			UINT64_MAX - 1);
	CU_ASSERT_EQUAL(retention_expiry(&week, UINT64_MAX - 604800),
			UINT64_MAX);
	CU_ASSERT_EQUAL(retention_expiry(&week, UINT64_MAX - 5), UINT64_MAX);
	CU_ASSERT_EQUAL(retention_expiry(&forever, 1), UINT64_MAX);
	CU_ASSERT_EQUAL(retention_expiry(&forever, 0), UINT64_MAX);
}

static void test_retention_reasons_format(void)
{
	char buf[128];

	memset(buf, 'x', sizeof(buf));
	retention_reasons_format(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "");
	retention_reasons_format(L | D | N, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "last,daily,newest");
	retention_reasons_format(0xffu, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "last,hourly,daily,weekly,monthly,within,"
				    "newest,newest-consistent");
	retention_reasons_format(NC | 0x100u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "newest-consistent");
	retention_reasons_format(H | W | M | WI, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "hourly,weekly,monthly,within");
	/* cut like snprintf() */
	retention_reasons_format(L | D | N, buf, 5);
	CU_ASSERT_STRING_EQUAL(buf, "last");
	retention_reasons_format(L | D | N, buf, 8);
	CU_ASSERT_STRING_EQUAL(buf, "last,da");
	retention_reasons_format(L, buf, 1);
	CU_ASSERT_STRING_EQUAL(buf, "");
	buf[0] = 'x';
	retention_reasons_format(L, buf, 0);
	CU_ASSERT_EQUAL(buf[0], 'x');
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("retention", NULL, NULL);
	CU_add_test(s, "test_retention_timeline_table",
		    test_retention_timeline_table);
	CU_add_test(s, "test_retention_buckets_at_leap_day_and_midnight",
		    test_retention_buckets_at_leap_day_and_midnight);
	CU_add_test(s, "test_retention_weeks_start_on_monday",
		    test_retention_weeks_start_on_monday);
	CU_add_test(s, "test_retention_week_across_new_year",
		    test_retention_week_across_new_year);
	CU_add_test(s, "test_retention_ties_in_time",
		    test_retention_ties_in_time);
	CU_add_test(s, "test_retention_extreme_times",
		    test_retention_extreme_times);
	CU_add_test(s, "test_retention_refuses_no_rule",
		    test_retention_refuses_no_rule);
	CU_add_test(s, "test_retention_refuses_unsorted_points",
		    test_retention_refuses_unsorted_points);
	CU_add_test(s, "test_retention_typo_within_refused_unless_forced",
		    test_retention_typo_within_refused_unless_forced);
	CU_add_test(s, "test_retention_daily_on_one_day_keeps_newest",
		    test_retention_daily_on_one_day_keeps_newest);
	CU_add_test(s, "test_retention_rules_any", test_retention_rules_any);
	CU_add_test(s, "test_retention_expiry_saturates",
		    test_retention_expiry_saturates);
	CU_add_test(s, "test_retention_reasons_format",
		    test_retention_reasons_format);
	return tap_run();
}
