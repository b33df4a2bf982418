/*
 * retention.h - which recovery points of one disk a retention rule set
 * keeps. Pure logic on a list of (time, expiry, consistent) points: no I/O,
 * no allocation; "forget" reads the catalog, asks here, deletes.
 *
 * The rules (each 0 is no such rule; a point is kept if any rule keeps it):
 *
 *  keep_last N	the N newest points.
 *  keep_hourly N, keep_daily N, keep_weekly N, keep_monthly N
 *		walking from the newest point to the oldest, the newest point
 *		of each distinct UTC bucket (hour; day; week from Monday
 *		00:00 to Sunday 23:59:59, as ISO 8601 weeks; calendar month),
 *		until N buckets have been kept. A bucket without points does
 *		not count, as in restic and borg: a disk that was off for a
 *		week still keeps N daily points. Each rule walks on its own
 *		(as restic, unlike borg): a point kept by keep_last still
 *		counts as its day's point for keep_daily, so adding a rule
 *		never makes another keep less.
 *  keep_within D
 *		every point made at most D seconds before the disk's newest
 *		point. Relative to the newest point, not to now, on purpose:
 *		if protection stops, nothing ages out while nobody makes new
 *		points, so the last good points of a dead source survive.
 *
 * Whatever the rules, the disk's newest point (RETENTION_NEWEST) and its
 * newest application-consistent point (RETENTION_NEWEST_CONSISTENT) are
 * kept, even with force: no rule set, however mistyped, can drop every
 * point of a disk, nor the last one an application can restart from.
 *
 * A point also carries an expiry, fixed when it was made from the rules in
 * force then (retention_expiry()). A later rule set that would drop a point
 * before its expiry is refused unless forced: a typo in today's rules
 * ("keep_within: 6m" meant as months) must not silently undo the promise
 * made when the points were taken.
 *
 *	struct retention_rules r = { .keep_last = 48, .keep_daily = 14 };
 *	p.expires = retention_expiry(&r, p.time);	when making a point
 *	gone = retention_apply(&r, pts, n, now, force, &err);
 *	for each point with keep == 0: delete it
 */
#ifndef VR_RETENTION_H
#define VR_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;

/* The rules; a zero field is no such rule. */
struct retention_rules {
	uint32_t keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly;
	uint64_t keep_within; /* seconds */
};

/* Why a point is kept (bits of retention_point.keep). */
#define RETENTION_LAST 0x01u
#define RETENTION_HOURLY 0x02u
#define RETENTION_DAILY 0x04u
#define RETENTION_WEEKLY 0x08u
#define RETENTION_MONTHLY 0x10u
#define RETENTION_WITHIN 0x20u
#define RETENTION_NEWEST 0x40u		  /* the disk's newest point */
#define RETENTION_NEWEST_CONSISTENT 0x80u /* its newest app-consistent one */

struct retention_point {
	const char *id;	  /* for messages; borrowed */
	uint64_t time;	  /* seconds since 1970 UTC */
	uint64_t expires; /* seconds since 1970 UTC; 0: no expiry */
	bool consistent;  /* application-consistent */
	unsigned keep;	  /* out: RETENTION_* reasons; 0: the point goes */
};

/* Is there any rule at all? */
bool retention_rules_any(const struct retention_rules *r);

/*
 * The expiry a point made at @time gets under @r: @time + keep_within, or 0
 * (no expiry) when keep_within is 0. Saturates at UINT64_MAX instead of
 * overflowing.
 */
uint64_t retention_expiry(const struct retention_rules *r, uint64_t time);

/*
 * Short text of @keep's reasons, in the order of the bits, e.g.
 * "last,daily,newest" ("newest-consistent" for the last bit), into @buf of
 * @len bytes ("" if none; unknown bits are left out). Cut like snprintf()
 * if too long; nothing is written when @len is 0.
 */
void retention_reasons_format(unsigned keep, char *buf, size_t len);

/*
 * Decide which of the @n points @pts of one disk @r keeps, into each
 * point's keep. @pts is sorted oldest first: by time, ties in the order
 * given (the later one counts as the newer). @now is the current time in
 * seconds since 1970 UTC, used only for expiries.
 *
 * Returns the number of points that go (keep == 0), 0 when @n is 0, or
 * -EINVAL with @err set, and every keep left as it was, when
 *  - @r has no rule at all (checked first, also when @n is 0): a rule set
 *    that keeps nothing is a mistake, never a request to forget everything;
 *  - @pts is not sorted by time;
 *  - unless @force, a point the rules do not keep is unexpired (expires >
 *    @now): the message names the first such point, its expiry, and how
 *    many unexpired points would go.
 * With @force, unexpired points the rules do not keep go too; only the
 * newest and newest consistent points are kept regardless of the rules.
 */
int retention_apply(const struct retention_rules *r,
		    struct retention_point *pts, size_t n, uint64_t now,
		    bool force, struct vr_err *err);

#endif /* VR_RETENTION_H */
