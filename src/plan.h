/*
 * plan.h - the storage planner: will the next point fit, how fast does the
 * repository grow, when will it be full, is every disk's RPO met
 * (DESIGN.md section 4, "Planner"; docs/ARCHITECTURE.md, "Storage
 * planner").
 *
 * Rates are measured from what the points record (bytes each cycle read
 * and stored, before and after compression). Growth needs a history that
 * outlives retention (a disk kept two hours has two hours of points), so
 * every commit also appends the repository's size to REPO/usage, a week
 * of "time bytes" lines; a repository without one falls back to the
 * sizes the points record.
 *
 *	plan_cycle_fit(r, repo, "vm1", to_read, nchunks, &fit, &err);
 *	plan_report_make(r, repo, &opts, &rep, &err);	the plan verb
 */
#ifndef VR_PLAN_H
#define VR_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "repo.h"
#include "retention.h"

struct vr_err;

enum plan_fit_verdict {
	PLAN_FITS,   /* even if nothing compresses or deduplicates */
	PLAN_TIGHT,  /* at the recent ratios, but not at worst */
	PLAN_NO_ROOM /* not even at the recent ratios */
};

/* Will a cycle of @disk that reads @to_read bytes fit? */
struct plan_fit {
	uint64_t to_read;  /* bytes the cycle will read */
	double ratio;	   /* stored / read over the disk's recent points */
	uint64_t expected; /* bytes it should add at that ratio + metadata */
	uint64_t worst;	   /* bytes it can add at most */
	struct repo_space space;
	enum plan_fit_verdict verdict;
};

/*
 * Estimate what a cycle of @disk reading @to_read bytes (in chunks of a
 * disk of @nchunks) adds to @r, against the room it has. Returns 0 or
 * -errno.
 */
int plan_cycle_fit(struct repo *r, const char *repo_path, const char *disk,
		   uint64_t to_read, uint64_t nchunks, struct plan_fit *fit,
		   struct vr_err *err);

/*
 * Note that @repo_path took @used bytes at @time (a cycle's commit) in
 * REPO/usage, dropping lines older than the growth window; replaced
 * atomically. Returns 0 or -errno (the caller warns: it is advisory).
 */
int plan_usage_note(const char *repo_path, uint64_t time, uint64_t used,
		    struct vr_err *err);

struct plan_opts {
	uint64_t now;				 /* seconds since 1970 UTC */
	uint64_t rpo;				 /* seconds; 0: none */
	const struct retention_rules *retention; /* NULL: none known */
	double warn_days; /* alert when full sooner; 0: 7 days */
	const char *disk; /* NULL: every disk */
};

/* One disk, from its recent points (the last day before its newest). */
struct plan_disk {
	char name[MANIFEST_NAME_MAX];
	size_t points;
	uint64_t newest;	 /* time of its newest point */
	uint64_t age;		 /* seconds since then */
	bool rpo_met;		 /* true when there is no RPO */
	double interval;	 /* seconds between recent points; 0: one */
	double change_per_hour;	 /* bytes its cycles read */
	double stored_per_hour;	 /* bytes they stored */
	double compression;	 /* plaintext / stored of new chunks; 0: ? */
	double dedup;		 /* read / plaintext of new chunks; 0: ? */
	uint64_t next_point;	 /* bytes its next point should take */
	uint64_t retention_need; /* bytes its changes over the retention
				    window take at this rate; 0: no rules */
	double retention_window; /* seconds retention keeps; 0: no rules */
};

enum plan_status {
	PLAN_OK,
	PLAN_WARN, /* full within warn_days, an RPO missed, retention won't fit
		    */
	PLAN_FULL, /* a disk's next point does not fit */
};

struct plan_report {
	uint64_t now;
	struct repo_space space;
	size_t points;	/* readable points */
	size_t damaged; /* manifests that cannot be read */
	struct plan_disk *disks;
	size_t ndisks;
	double growth_per_day;	/* repository bytes a day (recent points) */
	double days_until_full; /* < 0: not in sight */
	uint64_t retention_need;
	double warn_days;
	enum plan_status status;
	/* what the alert is about: "full", "forecast", "rpo", "retention";
	 * NULL when all is well */
	const char *alert;
	char verdict[512]; /* one line a person reads */
};

/*
 * The planner's report on @r as @o asks. Free with plan_report_free().
 * Returns 0, -ENOENT (@o->disk has no points), -ENOMEM, -errno.
 */
int plan_report_make(struct repo *r, const char *repo_path,
		     const struct plan_opts *o, struct plan_report **out,
		     struct vr_err *err);

void plan_report_free(struct plan_report *rep);

/* "ok", "warn", "full". */
const char *plan_status_name(enum plan_status s);

#endif /* VR_PLAN_H */
