/*
 * corpus.h - unit-test access to tests/corpus: decompress a sample to a temp
 * file, hash a whole virtual disk, copy files.
 */
#ifndef TESTS_CORPUS_H
#define TESTS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

struct vhdx;

/*
 * Decompress tests/corpus/@rel (.gz, .bz2 or .xz) into a new temp file and
 * return its path (caller frees and unlinks), or NULL.
 */
char *corpus_extract(const char *rel);

/* SHA-256 of a whole file as 64 hex digits into @hex (65 bytes). 0 or -1. */
int corpus_file_sha256(const char *path, char hex[65]);

/* SHA-256 of @v's whole virtual disk, read through vhdx_read(). 0 or -1. */
int corpus_vhdx_sha256(struct vhdx *v, char hex[65]);

/* Copy @src to a new temp file; returns its path (caller frees), or NULL. */
char *corpus_copy(const char *src);

#endif /* TESTS_CORPUS_H */
