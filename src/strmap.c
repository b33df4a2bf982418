/*
 * strmap.c - strings to pointers (strmap.h): FNV-1a with a final mix
 * (paths share long prefixes; the table uses the low bits), linear
 * probing; each slot keeps its key's hash, so a probe compares strings
 * only when the hashes agree and growing hashes nothing again.
 */
#include <config.h>
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
	char *key;
	void *value;
	size_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n; /* cap: a power of two, or 0 */
};

int strmap_new(struct strmap **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void strmap_free(struct strmap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->cap; i++) {
		free(m->slots[i].key);
		free(m->slots[i].value);
	}
	free(m->slots);
	free(m);
}

static size_t strmap_hash(const char *key)
{
	size_t h = 14695981039346656037ull;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ull;
	h ^= h >> 32; /* the high bits, where FNV mixes best, into the low */
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

/* The slot of @key (of hash @h), or the empty one where it would go. */
static struct strmap_slot *strmap_slot(const struct strmap_slot *slots,
				       size_t cap, const char *key, size_t h)
{
	size_t i = h & (cap - 1);

	while (slots[i].key &&
	       (!key || slots[i].hash != h || strcmp(slots[i].key, key)))
		i = (i + 1) & (cap - 1);
	return (struct strmap_slot *)&slots[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	return m->cap ? strmap_slot(m->slots, m->cap, key, strmap_hash(key))
				->value
		      : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64, i;
	struct strmap_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	/* keys are unique: only an empty slot is looked for (key NULL) */
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*strmap_slot(slots, cap, NULL, m->slots[i].hash) =
				m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	size_t h = strmap_hash(key);
	struct strmap_slot *slot;

	if (2 * (m->n + 1) > m->cap && strmap_grow(m) < 0) {
		free(value);
		return -ENOMEM;
	}
	slot = strmap_slot(m->slots, m->cap, key, h);
	if (slot->key) {
		free(value);
		return 0;
	}
	slot->key = strdup(key);
	if (!slot->key) {
		free(value);
		return -ENOMEM;
	}
	slot->value = value;
	slot->hash = h;
	m->n++;
	return 1;
}
