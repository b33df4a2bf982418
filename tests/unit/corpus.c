/*
 * corpus.c - helpers for unit tests that read the Windows-made samples.
 */
#include <config.h>
#include "corpus.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tap.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

static char *corpus_tempname(void)
{
	char *path = strdup("/tmp/vr-unit.XXXXXX");
	int fd;

	if (!path)
		return NULL;
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

char *corpus_extract(const char *rel)
{
	const char *tool = strstr(rel, ".bz2")	? "bzip2"
			   : strstr(rel, ".xz") ? "xz"
						: "gzip";
	char *out = corpus_tempname();
	char cmd[4096];

	if (!out)
		return NULL;
	snprintf(cmd, sizeof(cmd), "%s -dc '%s/tests/corpus/%s' > '%s'", tool,
		 tap_srcdir(), rel, out);
	if (system(cmd) != 0) {
		unlink(out);
		free(out);
		return NULL;
	}
	return out;
}

static void corpus_hex(const unsigned char *md, char hex[65])
{
	int i;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int corpus_file_sha256(const char *path, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], *buf = malloc(1 << 20);
	int fd = open(path, O_RDONLY);
	uint64_t off = 0;
	ssize_t n;
	int rc = -1;

	if (!ctx || !buf || fd < 0)
		goto out;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = vr_pread_full(fd, buf, 1 << 20, off)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (n == 0) {
		EVP_DigestFinal_ex(ctx, md, NULL);
		corpus_hex(md, hex);
		rc = 0;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int corpus_vhdx_sha256(struct vhdx *v, char hex[65])
{
	const size_t chunk = 4u << 20;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], *buf = malloc(chunk);
	uint64_t size = vhdx_virtual_size(v), off;
	int rc = -1;

	if (!ctx || !buf)
		goto out;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		struct vr_err err = { 0 };

		if (vhdx_read(v, buf, n, off, &err) < 0) {
			printf("# read at %llu: %s\n", (unsigned long long)off,
			       err.msg);
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, n);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	corpus_hex(md, hex);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

char *corpus_copy(const char *src)
{
	char *out = corpus_tempname();
	char cmd[4096];

	if (!out)
		return NULL;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, out);
	if (system(cmd) != 0) {
		unlink(out);
		free(out);
		return NULL;
	}
	return out;
}
