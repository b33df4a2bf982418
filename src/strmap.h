/*
 * strmap.h - a map from strings to pointers, for what a walk remembers
 * by name: paths of hard-linked files, a base's entries, the names of one
 * directory. Open addressing, grown at half full; keys are copied, values
 * are owned (freed with free()).
 */
#ifndef VR_STRMAP_H
#define VR_STRMAP_H

struct strmap;

/* An empty map. Returns 0 or -ENOMEM. */
int strmap_new(struct strmap **out);

/* Free the map, its keys and its values. Accepts NULL. */
void strmap_free(struct strmap *m);

/* The value of @key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/*
 * Add @key with @value (may be NULL), which the map owns from now on,
 * even on failure. Returns 1 if added, 0 if @key was there already (its
 * first value is kept, @value freed), -ENOMEM.
 */
int strmap_put(struct strmap *m, const char *key, void *value);

#endif /* VR_STRMAP_H */
