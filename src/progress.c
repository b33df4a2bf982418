/*
 * progress.c - one-line progress meter on stderr.
 */
#include <config.h>
#include "progress.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct progress {
	const char *label;
	uint64_t total;
	uint64_t done;
	bool shown;
	double start;
	double last_draw;
};

static double progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_format_bytes(double bytes, char *buf, size_t size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	/* 1023.97 MiB prints as 1.0 GiB, not as "1024.0 MiB" */
	while (bytes >= 1023.95 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

struct progress *progress_new(const char *label, uint64_t total,
			      enum progress_mode mode)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->label = label;
	p->total = total;
	p->shown = mode == PROGRESS_ON ||
		   (mode == PROGRESS_AUTO && isatty(STDERR_FILENO));
	p->start = progress_now();
	return p;
}

static void progress_draw(struct progress *p, double now)
{
	double secs = now - p->start;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	char done[32], total[32], rs[32];
	unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;

	progress_format_bytes((double)p->done, done, sizeof(done));
	progress_format_bytes((double)p->total, total, sizeof(total));
	progress_format_bytes(rate, rs, sizeof(rs));
	if (rate > 0 && p->done < p->total) {
		unsigned eta = (unsigned)((double)(p->total - p->done) / rate);

		fprintf(stderr,
			"\r%s: %s / %s (%u%%) %s/s ETA %u:%02u:%02u\033[K",
			p->label, done, total, pct, rs, eta / 3600,
			eta / 60 % 60, eta % 60);
	} else {
		fprintf(stderr, "\r%s: %s / %s (%u%%) %s/s\033[K", p->label,
			done, total, pct, rs);
	}
	p->last_draw = now;
}

void progress_update(struct progress *p, uint64_t done)
{
	double now;

	if (!p || !p->shown)
		return;
	p->done = done;
	now = progress_now();
	if (now - p->last_draw >= 0.25)
		progress_draw(p, now);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->shown) {
		progress_draw(p, progress_now());
		fputc('\n', stderr);
	}
	free(p);
}

void progress_late_update(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_late *late = ctx;

	if (!late->p)
		late->p = progress_new(late->label, total, late->mode);
	progress_update(late->p, done);
}
