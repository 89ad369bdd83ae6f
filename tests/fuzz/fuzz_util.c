/*
 * fuzz_util.c: the input-shaping helpers of fuzz.h.  Owns the scratch
 * file and its directory (one per process, removed at exit); knows
 * nothing about any parser.  Single-threaded.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char	scratch_dir[PATH_MAX];
static char	scratch_path[PATH_MAX];

char *
fuzz_split(const uint8_t *data, size_t size, char **parts, size_t nparts)
{
	char *copy, *p, *end;
	size_t i;

	if ((copy = malloc(size + 1)) == NULL)
		return NULL;
	if (size > 0)
		memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	p = copy;
	for (i = 0; i < nparts; i++) {
		if (p == NULL) {
			parts[i] = NULL;
			continue;
		}
		parts[i] = p;
		p = memchr(p, '\0', (size_t)(end - p));
		/* The terminator we added is not a separator. */
		p = p != NULL && p < end ? p + 1 : NULL;
	}
	return copy;
}

static void
scratch_remove(void)
{
	if (scratch_path[0] != '\0')
		unlink(scratch_path);
	if (scratch_dir[0] != '\0')
		rmdir(scratch_dir);
}

const char *
fuzz_scratch_file(const char *name, const uint8_t *data, size_t size)
{
	const char *tmp;
	size_t off = 0;
	ssize_t n;
	int fd;

	if (scratch_dir[0] == '\0') {
		if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] == '\0')
			tmp = "/tmp";
		if (snprintf(scratch_dir, sizeof(scratch_dir),
		    "%s/jg-fuzz.XXXXXX", tmp) >= (int)sizeof(scratch_dir) ||
		    mkdtemp(scratch_dir) == NULL) {
			scratch_dir[0] = '\0';
			return NULL;
		}
		atexit(scratch_remove);
	}
	/* A target that changes names must not leave the old file. */
	if (scratch_path[0] != '\0')
		unlink(scratch_path);
	if (snprintf(scratch_path, sizeof(scratch_path), "%s/%s",
	    scratch_dir, name) >= (int)sizeof(scratch_path))
		return NULL;
	if ((fd = open(scratch_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return NULL;
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return NULL;
		}
		off += (size_t)n;
	}
	if (close(fd) == -1)
		return NULL;
	return scratch_path;
}
