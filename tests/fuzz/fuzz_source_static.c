/*
 * fuzz_source_static.c: the static route file (source_static.h): YAML
 * shaped like `kubectl get pods,services -o yaml`, through podmeta into a
 * route snapshot.  The file has a path API only, so the input is written
 * to this process's scratch file first.  Whatever loads is then looked up
 * and rendered by the self-service commands, whose output is checked: no
 * control bytes reach the user's terminal, the JSON parses, and pod data
 * cannot add lines to an ssh_config.
 */
#include <stdbool.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz.h"
#include "name.h"
#include "route.h"
#include "selfservice.h"
#include "source_static.h"

static const struct config_naming naming = {
	.annotation_prefix = "nodeport.crater.raids.io/",
	.ssh_enabled_annotation = "crater.raids.io/ssh-enabled",
	.owner_label = "crater.raids.io/task-user",
	.job_label = "volcano.sh/job-name",
	.display_name_annotation = "crater.raids.io/task-name",
	.base_url_label = "crater.raids.io/base-url",
	.task_label = "volcano.sh/task-spec",
	.precedence = { CONFIG_ENDPOINT_SERVICE, CONFIG_ENDPOINT_ANNOTATION,
	    CONFIG_ENDPOINT_SSH_ENABLED },
	.nprecedence = 3,
};

/* Every line of an ssh-config reply is one jumpgate writes. */
static bool
ssh_config_lines_ok(const char *text)
{
	static const char *const ok[] = { "#", "Host ", "  HostName ",
	    "  User ", "  Port ", "  ProxyJump ", NULL };
	const char *line, *nl;
	size_t i, len;

	for (line = text; *line != '\0'; line += len + (nl != NULL)) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (len == 0)
			continue;
		for (i = 0; ok[i] != NULL; i++)
			if (strncmp(line, ok[i], strlen(ok[i])) == 0)
				break;
		if (ok[i] == NULL) {
			fprintf(stderr, "unexpected ssh_config line: %.*s\n",
			    (int)len, line);
			return false;
		}
	}
	return true;
}

/* Replies go to a user's terminal: no escape sequences, no CR. */
static bool
terminal_safe(const char *text, size_t len)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
			fprintf(stderr, "control byte 0x%02x at %zu in:\n%s\n",
			    c, i, text);
			return false;
		}
	}
	return true;
}

static void
answer(const struct route_snapshot *snap, const char *user,
    const char *command)
{
	struct selfservice_request req;
	struct selfservice_reply rep;
	cJSON *json;

	memset(&req, 0, sizeof(req));
	req.sq_user = user;
	req.sq_command = command;
	req.sq_gw_host = "gateway.example";
	req.sq_gw_port = 2222;
	req.sq_pod_user = user;
	req.sq_snap = snap;
	if (selfservice_answer(&req, &rep) != JG_OK)
		return;
	FUZZ_CHECK(strlen(rep.sr_out) == rep.sr_outlen);
	FUZZ_CHECK(strlen(rep.sr_err) == rep.sr_errlen);
	FUZZ_CHECK(terminal_safe(rep.sr_out, rep.sr_outlen));
	FUZZ_CHECK(terminal_safe(rep.sr_err, rep.sr_errlen));
	if (command != NULL && strcmp(command, "jobs --json") == 0 &&
	    rep.sr_status == 0) {
		json = cJSON_ParseWithLength(rep.sr_out, rep.sr_outlen);
		if (json == NULL)
			fprintf(stderr, "jobs --json is not JSON:\n%s\n",
			    rep.sr_out);
		FUZZ_CHECK(json != NULL);
		cJSON_Delete(json);
	}
	if (command != NULL && strncmp(command, "ssh-config", 10) == 0)
		FUZZ_CHECK(ssh_config_lines_ok(rep.sr_out));
	selfservice_reply_free(&rep);
}

static void
look_up(const struct route_snapshot *snap)
{
	const struct route_pod *p;
	struct route_query q;
	struct route_result res;
	const char *names[8];
	char why[ROUTE_WHY_MAX];
	size_t i, n;
	enum jg_err r;

	n = route_snapshot_count(snap);
	for (i = 0; i < n && i < 16; i++) {
		p = route_snapshot_pod(snap, i);
		FUZZ_CHECK(p != NULL && p->rp_name != NULL);
		(void)route_pod_typeable_name(p);
		if (p->rp_owner == NULL || p->rp_job == NULL)
			continue;
		memset(&q, 0, sizeof(q));
		q.rq_user = p->rp_owner;
		q.rq_job = p->rp_job;
		q.rq_pod = i % 2 == 0 ? NULL : p->rp_name;
		why[0] = '\0';
		r = route_lookup(snap, &q, &res, why, sizeof(why));
		if (r == JG_OK)
			FUZZ_CHECK(res.rs_pod != NULL && res.rs_rule != NULL);
		else
			FUZZ_CHECK(why[0] != '\0');
		(void)route_list_jobs(snap, p->rp_owner, i == 0, names, 8);
		/* The self-service answers only ever go to a valid USER. */
		if (i < 2 && name_user_valid(p->rp_owner)) {
			answer(snap, p->rp_owner, NULL);
			answer(snap, p->rp_owner, "jobs");
			answer(snap, p->rp_owner, "jobs --json");
			answer(snap, p->rp_owner, "ssh-config");
			answer(snap, p->rp_owner, "ssh-config --direct");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jg_errlist *problems;
	struct route_snapshot *snap = NULL;
	const char *path;
	enum jg_err r;

	if ((path = fuzz_scratch_file("routes.yaml", data, size)) == NULL)
		return 0;
	if ((problems = malloc(sizeof(*problems))) == NULL)
		return 0;
	jg_errlist_init(problems);
	r = source_static_load(path, &naming, &snap, problems);
	if (r == JG_OK) {
		FUZZ_CHECK(snap != NULL);
		look_up(snap);
		route_snapshot_release(snap);
	} else {
		FUZZ_CHECK(snap == NULL);
		FUZZ_CHECK(problems->el_count > 0);
	}
	free(problems);
	return 0;
}
