/*
 * progress.h - progress of long work on a terminal: bytes done, rate, ETA,
 * redrawn at most a few times a second on stderr. Silent when stderr is
 * not a TTY, so scripts and logs stay clean.
 */
#ifndef VR_PROGRESS_H
#define VR_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress;

enum progress_mode {
	PROGRESS_AUTO, /* show when stderr is a terminal */
	PROGRESS_ON,
	PROGRESS_OFF,
};

/* @bytes for a person: "512 B", "1.5 MiB", "2.0 TiB" (powers of 1024). */
void progress_format_bytes(double bytes, char *buf, size_t size);

/* Start reporting @label over @total bytes. NULL when out of memory. */
struct progress *progress_new(const char *label, uint64_t total,
			      enum progress_mode mode);

/* @done bytes of the total are finished. Accepts NULL. */
void progress_update(struct progress *p, uint64_t done);

/* Print the final line (if shown) and free. Accepts NULL. */
void progress_free(struct progress *p);

/*
 * For work that learns its total late and reports through a callback
 * (base_add(), cycle_run()): pass progress_late_update and a struct
 * progress_late as the callback and its context; free late.p after.
 */
struct progress_late {
	const char *label;
	enum progress_mode mode;
	struct progress *p; /* made at the first report */
};

void progress_late_update(void *ctx, uint64_t done, uint64_t total);

#endif /* VR_PROGRESS_H */
