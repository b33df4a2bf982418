/*
 * glob.c - policy globs (glob.h). A pattern and a path are walked as
 * lists of components; "**" tries every number of components it could
 * stand for, the others are one fnmatch(3) each. Patterns come from an
 * administrator's file, paths from a guest: neither is trusted to be
 * short, so recursion is on "**" components only, bounded by the
 * pattern's length.
 */
#include <config.h>
#include "glob.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* Longest pattern or path component compared. */
#define POLICY_GLOB_NAME_MAX 1024

const char *policy_glob_problem(const char *pattern)
{
	const char *c = pattern;
	int depth = 0;

	if (!*pattern)
		return "is empty";
	if (pattern[0] != '/' && strncmp(pattern, "**", 2) != 0)
		return "must start with / (or **)";
	while (*c) {
		const char *end = strchr(c + (*c == '/'), '/');
		size_t n;

		if (*c == '/')
			c++;
		n = end ? (size_t)(end - c) : strlen(c);
		if (n == 0 && end)
			return "has an empty component (//)";
		if (n >= POLICY_GLOB_NAME_MAX)
			return "has a component that is too long";
		if ((n == 1 && c[0] == '.') || (n == 2 && !strncmp(c, "..", 2)))
			return "has a . or .. component";
		if (n > 2 && memmem(c, n, "**", 2))
			return "uses ** inside a component (** must stand alone "
			       "between slashes)";
		for (depth = 0; n--; c++) {
			if (*c == '[')
				depth++;
			else if (*c == ']' && depth)
				depth--;
		}
		if (depth)
			return "has an unclosed [";
	}
	return NULL;
}

/* Copy component @s (up to '/' or the end) into @out; its length. */
static size_t policy_glob_component(const char *s, char *out)
{
	size_t n = strcspn(s, "/");

	if (n >= POLICY_GLOB_NAME_MAX)
		n = POLICY_GLOB_NAME_MAX - 1; /* longer ones match nothing */
	memcpy(out, s, n);
	out[n] = '\0';
	return strcspn(s, "/");
}

/*
 * Does @s match @p? Or, with @below, could a path below directory @s
 * match @p: @s runs out while @p still has components to match.
 */
static bool policy_glob_walk(const char *p, const char *s, int fnflags,
			     bool below)
{
	char pc[POLICY_GLOB_NAME_MAX], sc[POLICY_GLOB_NAME_MAX];
	size_t pn, sn;

	for (;;) {
		while (*p == '/')
			p++;
		while (*s == '/')
			s++;
		if (!*p)
			return !below && !*s;
		pn = policy_glob_component(p, pc);
		if (!strcmp(pc, "**")) {
			/* none, one, two, ... components of @s */
			for (;;) {
				if (policy_glob_walk(p + pn, s, fnflags, below))
					return true;
				/* ** takes what lies below */
				if (!*s)
					return below;
				s += strcspn(s, "/");
				while (*s == '/')
					s++;
			}
		}
		if (!*s)
			return below;
		sn = policy_glob_component(s, sc);
		if (sn >= POLICY_GLOB_NAME_MAX || fnmatch(pc, sc, fnflags) != 0)
			return false;
		p += pn;
		s += sn;
	}
}

bool policy_glob_match(const char *pattern, const char *path, unsigned flags)
{
	int fnflags = flags & POLICY_GLOB_CASEFOLD ? FNM_CASEFOLD : 0;

	return policy_glob_walk(pattern, path, fnflags, false);
}

bool policy_glob_may_match_below(const char *pattern, const char *dir,
				 unsigned flags)
{
	int fnflags = flags & POLICY_GLOB_CASEFOLD ? FNM_CASEFOLD : 0;

	return policy_glob_walk(pattern, dir, fnflags, true);
}
