/*
 * audit.h - "repo check" beyond the chunk store: every base and point
 * manifest is loaded and every chunk it names looked up, so that damage
 * is reported as what it costs: which points (and bases) lose which disk
 * offsets.
 */
#ifndef VR_AUDIT_H
#define VR_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "repo.h"

struct vr_err;

struct audit_report {
	struct repo_check_report store; /* the chunk store's own check */
	uint64_t manifests;		/* bases and points read */
	uint64_t damaged_manifests;	/* could not be read */
	uint64_t missing_chunks;	/* named but not stored */
	uint64_t affected_points;	/* cannot be restored whole */
	/* each problem, one line (the store's lines too) */
	void (*problem)(void *ctx, const char *line);
	/* each point that cannot be restored whole */
	void (*affected)(void *ctx, const char *point_id);
	void *ctx;
};

/*
 * Check the chunk store (repo_check(), reading every chunk if @read_data)
 * and every manifest of @repo_path against it. Each missing or damaged
 * chunk is one line naming the points and bases that use it and at which
 * disk offsets. Returns 0 (look at the report), or -errno when the audit
 * itself could not run.
 */
int audit_repo(struct repo *r, const char *repo_path, bool read_data,
	       struct audit_report *rep, struct vr_err *err);

/* Did the audit find anything that loses data? */
bool audit_is_damaged(const struct audit_report *rep);

#endif /* VR_AUDIT_H */
