/*
 * fuzz.h: what every fuzz target shares.  Each fuzz_<target>.c defines
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (clang,
 * -DJG_FUZZ=ON) or with driver.c, which replays the committed corpus and
 * regressions in every ordinary build.  The helpers here turn the raw
 * bytes into the shapes the parsers take.  Single-threaded.
 */
#ifndef JG_FUZZ_H
#define JG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken invariant is a bug like a crash: abort() so that libFuzzer
 * saves the input and the driver's test fails.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * Splits a copy of data at its NUL bytes into at most nparts strings.
 * parts[i] is NULL when the input has fewer parts; the last part keeps
 * any further NULs (so it ends at the first one).  Returns the copy,
 * which the caller frees (the parts point into it), or NULL on ENOMEM.
 */
char	*fuzz_split(const uint8_t *data, size_t size, char **parts,
	    size_t nparts);

/*
 * Replaces the contents of this process's scratch file with data and
 * returns its path, or NULL on failure.  The file lives alone in a
 * private directory (so relative paths inside it resolve to nothing) and
 * both are removed at exit.  name is the file's base name ("in.yaml").
 */
const char *fuzz_scratch_file(const char *name, const uint8_t *data,
	    size_t size);

#endif /* JG_FUZZ_H */
