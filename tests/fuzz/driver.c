/*
 * driver.c: a main() for fuzz targets built without libFuzzer.  Runs every
 * file named on the command line, and every file in every directory named
 * (sorted, so failures reproduce), through LLVMFuzzerTestOneInput once.
 * This is how the seed corpus and every saved crash run in each ordinary
 * build, and under ASan+UBSan in the sanitizer build.  Single-threaded.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* libFuzzer's default -max_len is far below this; seeds are small. */
#define DRIVER_INPUT_MAX	(4u * 1024 * 1024)

static int
driver_run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "%s: cannot open: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > DRIVER_INPUT_MAX) {
		fprintf(stderr, "%s: not a regular file of at most %u bytes\n",
		    path, DRIVER_INPUT_MAX);
		close(fd);
		return -1;
	}
	/* Exactly the file's bytes, in a buffer of exactly that size, so
	 * ASan sees a read one past the end as libFuzzer would. */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		close(fd);
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len != (size_t)st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	fprintf(stderr, "running %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
driver_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs each regular file in dir; returns how many ran, -1 on error. */
static int
driver_run_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **grown, path[4096];
	size_t n = 0, cap = 0, i;
	int ran = 0, rv = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: cannot open: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		/* Dot files are notes (.gitkeep), not inputs. */
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((grown = realloc(names, cap * sizeof(*names))) ==
			    NULL) {
				rv = -1;
				break;
			}
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rv = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rv == 0 && n > 0)
		qsort(names, n, sizeof(*names), driver_cmp);
	for (i = 0; i < n; i++) {
		if (rv == 0) {
			if (snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]) >= (int)sizeof(path) ||
			    driver_run_file(path) == -1)
				rv = -1;
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	if (rv == -1)
		fprintf(stderr, "%s: out of memory or bad entry\n", dir);
	return rv == -1 ? -1 : ran;
}

int
main(int argc, char *argv[])
{
	struct stat st;
	int i, n, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file-or-directory ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			/* regressions/<target> may not exist yet. */
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			n = driver_run_dir(argv[i]);
		else
			n = driver_run_file(argv[i]) == 0 ? 1 : -1;
		if (n == -1)
			return 1;
		total += n;
	}
	/* A target whose corpus went missing must not pass by testing
	 * nothing. */
	if (total == 0) {
		fprintf(stderr, "no inputs found\n");
		return 1;
	}
	printf("%d inputs ran cleanly\n", total);
	return 0;
}
