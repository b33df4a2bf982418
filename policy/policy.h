/*
 * policy.h - the DR policy: a YAML file (docs/policy-format.md) parsed with
 * libyaml into a checked model: the recovery point objective, retention,
 * quiesce hooks, an alert command, and the applications whose files a
 * scoped restore brings back, in dependency order.
 *
 *	policy_load("dr.yaml", &p, &err);	every error: FILE:LINE:COL: ...
 *	for (i = 0; i < policy_app_count(p); i++)	restore order
 *		app = policy_app_at(p, i);
 *	policy_free(p);
 *
 * Everything is checked at load: unknown keys (with a "did you mean"
 * hint), wrong types, missing required keys, bad globs and durations,
 * duplicate applications, unknown or circular dependencies. A policy that
 * loads is one a restore can follow.
 */
#ifndef VR_POLICY_H
#define VR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct policy;

/* Where an application's files live. */
enum policy_volume_kind {
	POLICY_VOLUME_PARTITION, /* partition number, 1-based */
	POLICY_VOLUME_LABEL,	 /* file system label */
	POLICY_VOLUME_UUID,	 /* file system UUID or NTFS serial number */
};

struct policy_volume {
	enum policy_volume_kind kind;
	unsigned partition;
	const char *text; /* label or UUID */
};

struct policy_app {
	const char *name;
	struct policy_volume volume;
	const char *const *include;    /* globs, NULL-terminated, never empty */
	const char *const *exclude;    /* globs, NULL-terminated, maybe empty */
	const char *const *depends_on; /* application names, NULL-terminated */
	int order;		       /* restore.order (0: by position) */
	const char *pre, *post;	       /* restore hooks, or NULL */
};

/* Retention (issue #7 applies it); zero fields: no such rule. */
struct policy_retention {
	uint32_t keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly;
	uint64_t keep_within; /* seconds */
};

/*
 * Load and check the policy in @path. Every error is one line,
 * "PATH:LINE:COL: problem" where the file says where. Returns 0, -ENOENT
 * (and other -errno of reading it), -EINVAL (the policy is wrong),
 * -ENOMEM.
 */
int policy_load(const char *path, struct policy **out, struct vr_err *err);

/* Accepts NULL. */
void policy_free(struct policy *p);

const char *policy_name(const struct policy *p);
uint64_t policy_rpo(const struct policy *p); /* seconds; 0: none */
const struct policy_retention *policy_retention(const struct policy *p);
const char *policy_quiesce_pre(const struct policy *p);	 /* or NULL */
const char *policy_quiesce_post(const struct policy *p); /* or NULL */
const char *policy_alert(const struct policy *p);	 /* or NULL */

/* Applications in restore order: dependencies first, then by order. */
size_t policy_app_count(const struct policy *p);
const struct policy_app *policy_app_at(const struct policy *p, size_t i);

/* The application named @name, or NULL. */
const struct policy_app *policy_app_find(const struct policy *p,
					 const char *name);

/*
 * Parse a duration: a positive number with s, m, h, d or w ("15m", "7d").
 * Returns 0 or -EINVAL.
 */
int policy_parse_duration(const char *text, uint64_t *seconds);

#endif /* VR_POLICY_H */
