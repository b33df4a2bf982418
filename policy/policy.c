/*
 * policy.c - load a DR policy (policy.h): libyaml builds the document
 * tree, which is walked once against the schema of docs/policy-format.md.
 * Each mapping is checked key by key against the keys its place allows
 * (an unknown one gets the nearest known key as a hint), each value
 * against its type; then applications are checked as a whole (unique
 * names, known dependencies, no cycles) and put in restore order.
 *
 * All strings of the model live in one arena owned by the policy, so the
 * model is freed at once and accessors hand out borrowed pointers.
 */
#include <config.h>
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "glob.h"
#include "vr_err.h"

/* Bounds on what a policy may hold: far above any real one. */
#define POLICY_MAX_APPS 1024
#define POLICY_MAX_GLOBS 4096
#define POLICY_MAX_TEXT 4096
#define POLICY_MAX_NAME 127

struct policy {
	char *name;
	uint64_t rpo;
	struct policy_retention retention;
	char *pre, *post, *alert;
	struct policy_app *apps; /* restore order */
	size_t napps;
	/* every allocation of the model, freed together */
	void **arena;
	size_t narena, caparena;
};

/* The walk of one file. */
struct policy_load {
	const char *path;
	yaml_document_t *doc;
	struct policy *p;
	struct vr_err *err;
};

static void *policy_alloc(struct policy *p, size_t n)
{
	void *mem;

	if (p->narena == p->caparena) {
		size_t cap = p->caparena ? p->caparena * 2 : 64;
		void **a = reallocarray(p->arena, cap, sizeof(*a));

		if (!a)
			return NULL;
		p->arena = a;
		p->caparena = cap;
	}
	mem = calloc(1, n ? n : 1);
	if (mem)
		p->arena[p->narena++] = mem;
	return mem;
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->narena; i++)
		free(p->arena[i]);
	free(p->arena);
	free(p);
}

static int policy_error_at(struct policy_load *l, const yaml_node_t *n,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "PATH:LINE:COL: problem" at node @n (libyaml counts from 0). */
static int policy_error_at(struct policy_load *l, const yaml_node_t *n,
			   const char *fmt, ...)
{
	char msg[VR_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vr_err_set(l->err, -EINVAL, "%s:%zu:%zu: %s", l->path,
			  n->start_mark.line + 1, n->start_mark.column + 1,
			  msg);
}

static int policy_oom(struct policy_load *l)
{
	return vr_err_set(l->err, -ENOMEM, "%s: out of memory", l->path);
}

static yaml_node_t *policy_node(struct policy_load *l, int id)
{
	return yaml_document_get_node(l->doc, id);
}

static const char *policy_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* The text of scalar @n (libyaml keeps it NUL-terminated). */
static const char *policy_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool policy_is_null(const yaml_node_t *n)
{
	const char *s = policy_scalar(n);

	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

/* A string value: a non-empty scalar, copied into the arena. */
static int policy_get_text(struct policy_load *l, const yaml_node_t *n,
			   const char *key, char **out)
{
	size_t len;

	if (n->type != YAML_SCALAR_NODE || policy_is_null(n))
		return policy_error_at(
			l, n, "%s: expected a string, found %s", key,
			n->type == YAML_SCALAR_NODE ? "nothing"
						    : policy_type_name(n));
	len = n->data.scalar.length;
	if (len > POLICY_MAX_TEXT || strlen(policy_scalar(n)) != len)
		return policy_error_at(l, n,
				       "%s: string too long or holding "
				       "a NUL",
				       key);
	*out = policy_alloc(l->p, len + 1);
	if (!*out)
		return policy_oom(l);
	memcpy(*out, policy_scalar(n), len);
	return 0;
}

/* An integer value in [@min, @max]: a plain scalar of digits. */
static int policy_get_uint(struct policy_load *l, const yaml_node_t *n,
			   const char *key, uint64_t min, uint64_t max,
			   uint64_t *out)
{
	const char *s = policy_scalar(n);
	char *end;
	unsigned long long v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s ||
	    strspn(s, "0123456789") != strlen(s))
		return policy_error_at(l, n,
				       "%s: expected a whole number, "
				       "found %s",
				       key,
				       n->type == YAML_SCALAR_NODE
					       ? "text"
					       : policy_type_name(n));
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v < min || v > max)
		return policy_error_at(l, n,
				       "%s: %s is out of range (%" PRIu64
				       "..%" PRIu64 ")",
				       key, s, min, max);
	*out = v;
	return 0;
}

int policy_parse_duration(const char *text, uint64_t *seconds)
{
	static const struct {
		char unit;
		uint64_t mul;
	} units[] = { { 's', 1 },
		      { 'm', 60 },
		      { 'h', 3600 },
		      { 'd', 86400 },
		      { 'w', 604800 } };
	unsigned long long n;
	char *end;
	size_t i;

	if (!*text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || n == 0 || !end[0] || end[1])
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit && n <= UINT64_MAX / units[i].mul) {
			*seconds = n * units[i].mul;
			return 0;
		}
	return -EINVAL;
}

static int policy_get_duration(struct policy_load *l, const yaml_node_t *n,
			       const char *key, uint64_t *out)
{
	if (n->type != YAML_SCALAR_NODE ||
	    policy_parse_duration(policy_scalar(n), out) < 0)
		return policy_error_at(l, n,
				       "%s: expected a duration like 15m, "
				       "4h or 7d",
				       key);
	return 0;
}

/* Edit distance of two short strings (for "did you mean"). */
static size_t policy_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return 64;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/*
 * Check that every key of mapping @n is one of @keys (NULL-terminated),
 * once. @where names the mapping in messages.
 */
static int policy_check_keys(struct policy_load *l, const yaml_node_t *n,
			     const char *where, const char *const *keys)
{
	yaml_node_pair_t *pair, *other;

	for (pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = policy_node(l, pair->key);
		const char *const *known, *best = NULL;
		size_t d, bestd = 3;

		if (k->type != YAML_SCALAR_NODE)
			return policy_error_at(l, k, "%s: keys must be names",
					       where);
		for (other = n->data.mapping.pairs.start; other < pair;
		     other++) {
			yaml_node_t *ok = policy_node(l, other->key);

			if (ok->type == YAML_SCALAR_NODE &&
			    !strcmp(policy_scalar(ok), policy_scalar(k)))
				return policy_error_at(l, k,
						       "%s: '%s' given twice",
						       where, policy_scalar(k));
		}
		for (known = keys; *known; known++) {
			if (!strcmp(*known, policy_scalar(k)))
				break;
			d = policy_distance(*known, policy_scalar(k));
			if (d < bestd) {
				bestd = d;
				best = *known;
			}
		}
		if (*known)
			continue;
		if (best)
			return policy_error_at(l, k,
					       "%s: unknown key '%s' (did you "
					       "mean '%s'?)",
					       where, policy_scalar(k), best);
		return policy_error_at(l, k, "%s: unknown key '%s'", where,
				       policy_scalar(k));
	}
	return 0;
}

static int policy_expect(struct policy_load *l, const yaml_node_t *n,
			 yaml_node_type_t type, const char *what);

/* @n must be a mapping (@what in messages) of only the keys @keys. */
static int policy_mapping(struct policy_load *l, const yaml_node_t *n,
			  const char *what, const char *where,
			  const char *const *keys)
{
	int rc = policy_expect(l, n, YAML_MAPPING_NODE, what);

	return rc < 0 ? rc : policy_check_keys(l, n, where, keys);
}

/* The value of @key in mapping @n, or NULL. */
static yaml_node_t *policy_value(struct policy_load *l, const yaml_node_t *n,
				 const char *key)
{
	yaml_node_pair_t *pair;

	for (pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = policy_node(l, pair->key);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp(policy_scalar(k), key))
			return policy_node(l, pair->value);
	}
	return NULL;
}

static int policy_expect(struct policy_load *l, const yaml_node_t *n,
			 yaml_node_type_t type, const char *what)
{
	if (n->type == type)
		return 0;
	return policy_error_at(l, n, "%s: expected %s, found %s", what,
			       type == YAML_MAPPING_NODE    ? "a mapping"
			       : type == YAML_SEQUENCE_NODE ? "a list"
							    : "a scalar",
			       policy_is_null(n) ? "nothing"
						 : policy_type_name(n));
}

static bool policy_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= POLICY_MAX_NAME && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* A name: text of [A-Za-z0-9._-]. */
static int policy_get_name(struct policy_load *l, const yaml_node_t *n,
			   const char *key, char **out)
{
	int rc = policy_get_text(l, n, key, out);

	if (rc == 0 && !policy_name_ok(*out))
		rc = policy_error_at(l, n,
				     "%s: '%s' is no name (1..127 of letters, "
				     "digits, '.', '_', '-')",
				     key, *out);
	return rc;
}

/*
 * A list of strings (globs when @globs) into a NULL-terminated array;
 * @nonempty: at least one.
 */
static int policy_get_list(struct policy_load *l, const yaml_node_t *n,
			   const char *key, bool globs, bool nonempty,
			   const char *const **out)
{
	yaml_node_item_t *item;
	size_t count, i = 0;
	char **list;
	int rc;

	rc = policy_expect(l, n, YAML_SEQUENCE_NODE, key);
	if (rc < 0)
		return rc;
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	if (nonempty && count == 0)
		return policy_error_at(l, n, "%s: the list is empty", key);
	if (count > POLICY_MAX_GLOBS)
		return policy_error_at(l, n, "%s: more than %d entries", key,
				       POLICY_MAX_GLOBS);
	list = policy_alloc(l->p, (count + 1) * sizeof(*list));
	if (!list)
		return policy_oom(l);
	for (item = n->data.sequence.items.start;
	     item < n->data.sequence.items.top; item++) {
		yaml_node_t *v = policy_node(l, *item);
		const char *why;

		rc = globs ? policy_get_text(l, v, key, &list[i])
			   : policy_get_name(l, v, key, &list[i]);
		if (rc < 0)
			return rc;
		why = globs ? policy_glob_problem(list[i]) : NULL;
		if (why)
			return policy_error_at(l, v, "%s: glob '%s' %s", key,
					       list[i], why);
		i++;
	}
	*out = (const char *const *)list;
	return 0;
}

/* volume: a partition number, or a label, or a UUID. */
static int policy_get_volume(struct policy_load *l, const yaml_node_t *n,
			     struct policy_volume *v)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	uint64_t part;
	char *text;
	size_t len;
	int rc;

	if (n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    *policy_scalar(n) &&
	    strspn(policy_scalar(n), "0123456789") ==
		    strlen(policy_scalar(n))) {
		rc = policy_get_uint(l, n, "volume", 1, 128, &part);
		v->kind = POLICY_VOLUME_PARTITION;
		v->partition = (unsigned)part;
		return rc;
	}
	rc = policy_get_text(l, n, "volume", &text);
	if (rc < 0)
		return rc;
	len = strlen(text);
	/* a UUID (8-4-4-4-12) or an NTFS serial number (16 hex digits) */
	v->kind = (len == 36 && text[8] == '-' && text[13] == '-' &&
		   text[18] == '-' && text[23] == '-' &&
		   strspn(text, "0123456789abcdefABCDEF-") == 36) ||
				  (len == 16 && strspn(text, hex) == 16)
			  ? POLICY_VOLUME_UUID
			  : POLICY_VOLUME_LABEL;
	v->text = text;
	return 0;
}

static int policy_load_app(struct policy_load *l, const yaml_node_t *n,
			   struct policy_app *app, size_t index)
{
	static const char *const keys[] = { "name",    "volume",  "include",
					    "exclude", "restore", NULL };
	static const char *const restore_keys[] = { "order", "depends_on",
						    "pre", "post", NULL };
	static const char *const none[] = { NULL };
	yaml_node_t *v, *r;
	uint64_t order;
	char *text;
	int rc;

	rc = policy_mapping(l, n, "applications entry", "application", keys);
	if (rc < 0)
		return rc;
	v = policy_value(l, n, "name");
	if (!v)
		return policy_error_at(l, n, "application %zu has no name",
				       index + 1);
	rc = policy_get_name(l, v, "name", &text);
	if (rc < 0)
		return rc;
	app->name = text;
	v = policy_value(l, n, "volume");
	if (!v)
		return policy_error_at(l, n, "application %s: no volume",
				       app->name);
	rc = policy_get_volume(l, v, &app->volume);
	if (rc < 0)
		return rc;
	v = policy_value(l, n, "include");
	if (!v)
		return policy_error_at(l, n, "application %s: no include",
				       app->name);
	rc = policy_get_list(l, v, "include", true, true, &app->include);
	if (rc < 0)
		return rc;
	v = policy_value(l, n, "exclude");
	app->exclude = none;
	if (v)
		rc = policy_get_list(l, v, "exclude", true, false,
				     &app->exclude);
	if (rc < 0)
		return rc;
	app->depends_on = none;
	r = policy_value(l, n, "restore");
	if (!r)
		return 0;
	rc = policy_mapping(l, r, "restore", "restore", restore_keys);
	if (rc == 0 && (v = policy_value(l, r, "order"))) {
		rc = policy_get_uint(l, v, "order", 0, 1000000, &order);
		app->order = (int)order;
	}
	if (rc == 0 && (v = policy_value(l, r, "depends_on")))
		rc = policy_get_list(l, v, "depends_on", false, false,
				     &app->depends_on);
	if (rc == 0 && (v = policy_value(l, r, "pre"))) {
		rc = policy_get_text(l, v, "pre", &text);
		app->pre = text;
	}
	if (rc == 0 && (v = policy_value(l, r, "post"))) {
		rc = policy_get_text(l, v, "post", &text);
		app->post = text;
	}
	return rc;
}

/* An application's place among others: its order, unordered ones last. */
static long policy_order_key(const struct policy_app *app)
{
	return app->order ? app->order : 1000001L;
}

/* The index of application @name among @apps (it is there). */
static size_t policy_app_index(const struct policy_app *apps, const char *name)
{
	size_t j = 0;

	while (strcmp(apps[j].name, name))
		j++;
	return j;
}

/*
 * Put the applications in restore order: an application after everything
 * it depends on, and otherwise by order (unordered ones last), then by
 * position. Depending on an application with a later order, or in a
 * circle, is an error.
 */
static int policy_order_apps(struct policy_load *l, const yaml_node_t *seq,
			     struct policy_app *apps, size_t n)
{
	struct policy *p = l->p;
	size_t *state, i, placed = 0;
	const char *const *d;

	state = policy_alloc(p, n * sizeof(*state)); /* 0 todo, 1 placed */
	p->apps = policy_alloc(p, n * sizeof(*p->apps));
	if (!state || !p->apps)
		return policy_oom(l);
	for (i = 0; i < n; i++) {
		const yaml_node_t *at =
			policy_node(l, seq->data.sequence.items.start[i]);
		size_t j;

		for (j = 0; j < i; j++)
			if (!strcmp(apps[j].name, apps[i].name))
				return policy_error_at(l, at,
						       "application %s is "
						       "given twice",
						       apps[i].name);
		for (d = apps[i].depends_on; *d; d++) {
			for (j = 0; j < n && strcmp(apps[j].name, *d); j++)
				;
			if (j == n)
				return policy_error_at(
					l, at,
					"application %s depends "
					"on %s, which the policy "
					"does not name",
					apps[i].name, *d);
			if (j == i)
				return policy_error_at(l, at,
						       "application %s depends "
						       "on itself",
						       apps[i].name);
			if (apps[i].order && apps[j].order &&
			    apps[j].order > apps[i].order)
				return policy_error_at(
					l, at,
					"application %s (order %d) depends "
					"on %s, which comes later (order %d)",
					apps[i].name, apps[i].order, *d,
					apps[j].order);
		}
	}
	/* repeatedly place the first ready one of the lowest order */
	while (placed < n) {
		size_t best = n, k;

		for (i = 0; i < n; i++) {
			bool ready = !state[i];

			for (d = apps[i].depends_on; ready && *d; d++)
				ready = state[policy_app_index(apps, *d)] != 0;
			if (ready && (best == n ||
				      policy_order_key(&apps[i]) <
					      policy_order_key(&apps[best])))
				best = i;
		}
		if (best == n) {
			/* follow unplaced dependencies n times: into the cycle
			 */
			for (i = 0; state[i]; i++)
				;
			for (k = 0; k < n; k++) {
				for (d = apps[i].depends_on;
				     state[policy_app_index(apps, *d)]; d++)
					;
				i = policy_app_index(apps, *d);
			}
			return policy_error_at(
				l,
				policy_node(l,
					    seq->data.sequence.items.start[i]),
				"application %s is part of a dependency cycle "
				"(depends_on)",
				apps[i].name);
		}
		state[best] = 1;
		p->apps[placed++] = apps[best];
	}
	p->napps = n;
	return 0;
}

static int policy_load_apps(struct policy_load *l, const yaml_node_t *n)
{
	struct policy_app *apps;
	yaml_node_item_t *item;
	size_t count, i = 0;
	int rc;

	rc = policy_expect(l, n, YAML_SEQUENCE_NODE, "applications");
	if (rc < 0)
		return rc;
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	if (count > POLICY_MAX_APPS)
		return policy_error_at(l, n, "more than %d applications",
				       POLICY_MAX_APPS);
	apps = policy_alloc(l->p, (count ? count : 1) * sizeof(*apps));
	if (!apps)
		return policy_oom(l);
	for (item = n->data.sequence.items.start;
	     item < n->data.sequence.items.top; item++, i++) {
		rc = policy_load_app(l, policy_node(l, *item), &apps[i], i);
		if (rc < 0)
			return rc;
	}
	return policy_order_apps(l, n, apps, count);
}

static int policy_load_retention(struct policy_load *l, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"keep_last",	"keep_hourly", "keep_daily", "keep_weekly",
		"keep_monthly", "keep_within", NULL,
	};
	struct policy_retention *r = &l->p->retention;
	uint32_t *counts[] = { &r->keep_last, &r->keep_hourly, &r->keep_daily,
			       &r->keep_weekly, &r->keep_monthly };
	yaml_node_t *v;
	uint64_t x;
	size_t i;
	int rc;

	rc = policy_mapping(l, n, "retention", "retention", keys);
	for (i = 0; rc == 0 && i < 5; i++) {
		v = policy_value(l, n, keys[i]);
		if (!v)
			continue;
		/* 0 would keep nothing: a mistake, never a request */
		rc = policy_get_uint(l, v, keys[i], 1, 1000000, &x);
		*counts[i] = (uint32_t)x;
	}
	if (rc == 0 && (v = policy_value(l, n, "keep_within")))
		rc = policy_get_duration(l, v, "keep_within", &r->keep_within);
	if (rc == 0 && !r->keep_last && !r->keep_hourly && !r->keep_daily &&
	    !r->keep_weekly && !r->keep_monthly && !r->keep_within)
		rc = policy_error_at(l, n,
				     "retention: no rule (keep_last, "
				     "keep_hourly, keep_daily, keep_weekly, "
				     "keep_monthly, keep_within)");
	return rc;
}

static int policy_load_quiesce(struct policy_load *l, const yaml_node_t *n)
{
	static const char *const keys[] = { "pre", "post", NULL };
	yaml_node_t *v;
	int rc;

	rc = policy_mapping(l, n, "quiesce", "quiesce", keys);
	if (rc == 0 && (v = policy_value(l, n, "pre")))
		rc = policy_get_text(l, v, "pre", &l->p->pre);
	if (rc == 0 && (v = policy_value(l, n, "post")))
		rc = policy_get_text(l, v, "post", &l->p->post);
	return rc;
}

static int policy_load_root(struct policy_load *l, const yaml_node_t *root)
{
	static const char *const keys[] = { "version",	    "name",    "rpo",
					    "retention",    "quiesce", "alert",
					    "applications", NULL };
	yaml_node_t *v;
	uint64_t version;
	int rc;

	rc = policy_mapping(l, root, "policy", "policy", keys);
	if (rc < 0)
		return rc;
	v = policy_value(l, root, "version");
	if (!v)
		return policy_error_at(l, root,
				       "no version (write version: 1)");
	rc = policy_get_uint(l, v, "version", 1, 1, &version);
	if (rc < 0)
		return rc;
	v = policy_value(l, root, "name");
	if (!v)
		return policy_error_at(l, root, "no name");
	rc = policy_get_name(l, v, "name", &l->p->name);
	if (rc == 0 && (v = policy_value(l, root, "rpo")))
		rc = policy_get_duration(l, v, "rpo", &l->p->rpo);
	if (rc == 0 && (v = policy_value(l, root, "retention")))
		rc = policy_load_retention(l, v);
	if (rc == 0 && (v = policy_value(l, root, "quiesce")))
		rc = policy_load_quiesce(l, v);
	if (rc == 0 && (v = policy_value(l, root, "alert")))
		rc = policy_get_text(l, v, "alert", &l->p->alert);
	if (rc == 0 && (v = policy_value(l, root, "applications")))
		rc = policy_load_apps(l, v);
	return rc;
}

int policy_load(const char *path, struct policy **out, struct vr_err *err)
{
	struct policy_load l = { .path = path, .err = err };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f;
	int rc;

	f = fopen(path, "rb");
	if (!f)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	l.p = calloc(1, sizeof(*l.p));
	if (!l.p || !yaml_parser_initialize(&parser)) {
		fclose(f);
		free(l.p);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = vr_err_set(err, -EINVAL, "%s:%zu:%zu: %s%s%s", path,
				parser.problem_mark.line + 1,
				parser.problem_mark.column + 1,
				parser.problem ? parser.problem : "not YAML",
				parser.context ? " " : "",
				parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(f);
		policy_free(l.p);
		return rc;
	}
	l.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	rc = root ? policy_load_root(&l, root)
		  : vr_err_set(err, -EINVAL, "%s:1:1: the policy is empty",
			       path);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (rc < 0) {
		policy_free(l.p);
		return rc;
	}
	*out = l.p;
	return 0;
}

const char *policy_name(const struct policy *p)
{
	return p->name;
}

uint64_t policy_rpo(const struct policy *p)
{
	return p->rpo;
}

const struct policy_retention *policy_retention(const struct policy *p)
{
	return &p->retention;
}

const char *policy_quiesce_pre(const struct policy *p)
{
	return p->pre;
}

const char *policy_quiesce_post(const struct policy *p)
{
	return p->post;
}

const char *policy_alert(const struct policy *p)
{
	return p->alert;
}

size_t policy_app_count(const struct policy *p)
{
	return p->napps;
}

const struct policy_app *policy_app_at(const struct policy *p, size_t i)
{
	return i < p->napps ? &p->apps[i] : NULL;
}

const struct policy_app *policy_app_find(const struct policy *p,
					 const char *name)
{
	size_t i;

	for (i = 0; i < p->napps; i++)
		if (!strcmp(p->apps[i].name, name))
			return &p->apps[i];
	return NULL;
}
