/*
 * fuzz_selfservice.c: the command line of `ssh alice@gateway COMMAND`
 * (selfservice.h), typed by any user who logged in.  Input: one byte
 * that picks the word limit and buffer size, then the line.  The line is
 * split, and answered against an empty route snapshot.
 */
#include <string.h>

#include "fuzz.h"
#include "route.h"
#include "selfservice.h"

static void
split(const char *line, size_t buflen, int max)
{
	char *buf, *argv[SELFSERVICE_ARGS_MAX + 1];
	int argc, i;

	if ((buf = malloc(buflen)) == NULL)
		return;
	memset(argv, 0, sizeof(argv));
	argc = selfservice_split(line, buf, buflen, argv, max);
	FUZZ_CHECK(argc >= -1 && argc <= max);
	for (i = 0; i < argc; i++) {
		FUZZ_CHECK(argv[i] >= buf && argv[i] < buf + buflen);
		FUZZ_CHECK(memchr(argv[i], '\0',
		    (size_t)(buf + buflen - argv[i])) != NULL);
	}
	/* Nothing is written past the words asked for. */
	FUZZ_CHECK(argv[max] == NULL);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct selfservice_request req;
	struct selfservice_reply rep;
	struct route_snapshot *snap;
	char *line;
	size_t buflen;
	int max;

	if (size < 1)
		return 0;
	if ((line = malloc(size)) == NULL)
		return 0;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	max = data[0] % (SELFSERVICE_ARGS_MAX + 1);
	/* Tight buffers find off-by-ones; roomy ones reach the end. */
	buflen = data[0] & 0x80 ? size + 1 : (size_t)(data[0] & 0x3f) + 1;
	split(line, buflen, max);
	split(line, 4096, SELFSERVICE_ARGS_MAX);

	if ((snap = route_snapshot_new(NULL, 0, 0)) != NULL) {
		memset(&req, 0, sizeof(req));
		req.sq_user = "alice";
		req.sq_command = line;
		req.sq_gw_host = "gateway.example";
		req.sq_gw_port = 22;
		req.sq_pod_user = "alice";
		req.sq_snap = snap;
		if (selfservice_answer(&req, &rep) == JG_OK) {
			FUZZ_CHECK(rep.sr_out != NULL && rep.sr_err != NULL);
			FUZZ_CHECK(strlen(rep.sr_out) == rep.sr_outlen);
			FUZZ_CHECK(rep.sr_outlen <= SELFSERVICE_OUT_MAX);
			selfservice_reply_free(&rep);
		}
		route_snapshot_release(snap);
	}
	free(line);
	return 0;
}
