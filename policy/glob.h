/*
 * glob.h - the include/exclude patterns of a policy's applications: paths
 * inside a guest file system, matched component by component. "*", "?"
 * and "[...]" match within one component (fnmatch(3)); a component "**"
 * matches any number of components, none included.
 *
 * So "/Data/STAR.mdf" (STAR standing for the asterisk) is the .mdf files
 * of /Data, "/Program Files/SQL/STARSTAR" everything below that
 * directory, and "STARSTAR/STAR.tmp" every .tmp file anywhere
 * (docs/policy-format.md has them written out).
 */
#ifndef VR_POLICY_GLOB_H
#define VR_POLICY_GLOB_H

#include <stdbool.h>

/* policy_glob_match() flags: NTFS names compare without case. */
#define POLICY_GLOB_CASEFOLD 0x1u

/*
 * Why @pattern is no usable glob ("must start with / or **", ...), or
 * NULL if it is one.
 */
const char *policy_glob_problem(const char *pattern);

/* Does the absolute path @path ("/a/b") match @pattern? */
bool policy_glob_match(const char *pattern, const char *path, unsigned flags);

/*
 * Could a path below directory @dir ("/a", "" for the root) match
 * @pattern? False lets a walk leave the directory out unread.
 */
bool policy_glob_may_match_below(const char *pattern, const char *dir,
				 unsigned flags);

#endif /* VR_POLICY_GLOB_H */
