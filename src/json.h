/*
 * json.h - a small streaming JSON writer for --json output: objects,
 * arrays, strings (escaped), unsigned and signed numbers, booleans, null.
 * Keys are given with each value inside an object and NULL inside arrays.
 */
#ifndef VR_JSON_H
#define VR_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json;

/* Writer on @f (borrowed). Returns NULL only when out of memory. */
struct json *json_new(FILE *f);

/* The same, writing the whole document on one line (JSON Lines). */
struct json *json_new_line(FILE *f);

/* Finish the document with a newline. Accepts NULL. */
void json_free(struct json *j);

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_int(struct json *j, const char *key, int64_t value);
void json_double(struct json *j, const char *key, double value); /* %.3f */
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);

#endif /* VR_JSON_H */
