/*
 * json.c - streaming JSON writer, two-space indented, one value per line
 * (or a whole document on one line, for logs that hold one per line).
 */
#include <config.h>
#include "json.h"

#include <inttypes.h>
#include <stdlib.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *f;
	bool one_line;
	unsigned depth;
	bool has_items[JSON_MAX_DEPTH + 1];
};

struct json *json_new(FILE *f)
{
	struct json *j = calloc(1, sizeof(*j));

	if (j)
		j->f = f;
	return j;
}

struct json *json_new_line(FILE *f)
{
	struct json *j = json_new(f);

	if (j)
		j->one_line = true;
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	fputc('\n', j->f);
	free(j);
}

static void json_put_string(struct json *j, const char *s)
{
	const unsigned char *p;

	fputc('"', j->f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", j->f);
			break;
		case '\\':
			fputs("\\\\", j->f);
			break;
		case '\n':
			fputs("\\n", j->f);
			break;
		case '\t':
			fputs("\\t", j->f);
			break;
		default:
			if (*p < 0x20)
				fprintf(j->f, "\\u%04x", *p);
			else
				fputc(*p, j->f);
		}
	}
	fputc('"', j->f);
}

/* Separator, indentation and key before a value. */
static void json_prefix(struct json *j, const char *key)
{
	unsigned i;

	if (j->depth > 0 && j->one_line) {
		fputs(j->has_items[j->depth] ? ", " : "", j->f);
	} else if (j->depth > 0) {
		fputs(j->has_items[j->depth] ? ",\n" : "\n", j->f);
		for (i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	j->has_items[j->depth] = true;
	if (key) {
		json_put_string(j, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	json_prefix(j, key);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH)
		j->depth++;
	j->has_items[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	unsigned i;
	bool had = j->has_items[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had && !j->one_line) {
		fputc('\n', j->f);
		for (i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
}

void json_object_begin(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_object_end(struct json *j)
{
	json_close(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void json_array_end(struct json *j)
{
	json_close(j, ']');
}

void json_string(struct json *j, const char *key, const char *value)
{
	json_prefix(j, key);
	json_put_string(j, value);
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
	json_prefix(j, key);
	fprintf(j->f, "%" PRIu64, value);
}

void json_int(struct json *j, const char *key, int64_t value)
{
	json_prefix(j, key);
	fprintf(j->f, "%" PRId64, value);
}

void json_double(struct json *j, const char *key, double value)
{
	json_prefix(j, key);
	fprintf(j->f, "%.3f", value);
}

void json_bool(struct json *j, const char *key, bool value)
{
	json_prefix(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_prefix(j, key);
	fputs("null", j->f);
}
