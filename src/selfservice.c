/*
 * selfservice.c: the gateway's own answers to `ssh USER@gateway [COMMAND]`:
 * the job table, jobs as TSV or JSON, ssh_config entries, the user's
 * direct-mode public key and help.  Reads a route snapshot; owns only the
 * reply it builds (bounded).  Any thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "name.h"
#include "selfservice.h"
#include "userkey.h"

#define SS_NAME_SHOWN	60	/* bytes of an untrusted name shown */
#define SS_JOBS_MAX	4096	/* jobs per user considered */

/* A reply stream, bounded when made. */
struct ss_buf {
	char	*b_buf;
	size_t	 b_len;
	size_t	 b_cap;
	bool	 b_full;
};

static void
ss_put(struct ss_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ss_put(struct ss_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;
	char *nb;

	if (b->b_full)
		return;
	for (;;) {
		room = b->b_cap - b->b_len;
		va_start(ap, fmt);
		n = vsnprintf(b->b_buf != NULL ? b->b_buf + b->b_len : NULL,
		    b->b_buf != NULL ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->b_buf != NULL && (size_t)n < room) {
			b->b_len += (size_t)n;
			return;
		}
		if (b->b_len + (size_t)n + 1 > SELFSERVICE_OUT_MAX) {
			b->b_full = true;
			return;
		}
		nb = realloc(b->b_buf, b->b_len + (size_t)n + 4096);
		if (nb == NULL) {
			b->b_full = true;
			return;
		}
		b->b_buf = nb;
		b->b_cap = b->b_len + (size_t)n + 4096;
		b->b_buf[b->b_len] = '\0';
	}
}

/* One job of the user: its pods are consecutive in the snapshot, the
 * default pod first (task, then index order). */
struct ss_job {
	const struct route_pod	*j_first;
	size_t			 j_start;
	size_t			 j_npods;
	size_t			 j_running;
	const char		*j_host;	/* Host alias in ssh-config */
};

static size_t
ss_collect(const struct route_snapshot *snap, const char *user,
    struct ss_job *jobs, size_t max)
{
	const struct route_pod *p, *prev = NULL;
	size_t i, n = 0, count = route_snapshot_count(snap);

	for (i = 0; i < count; i++) {
		p = route_snapshot_pod(snap, i);
		if (p->rp_owner == NULL || strcmp(p->rp_owner, user) != 0) {
			prev = NULL;
			continue;
		}
		if (prev != NULL && n > 0 &&
		    strcmp(prev->rp_job, p->rp_job) == 0 &&
		    strcmp(prev->rp_namespace, p->rp_namespace) == 0) {
			jobs[n - 1].j_npods++;
		} else {
			if (n == max)
				break;
			memset(&jobs[n], 0, sizeof(jobs[n]));
			jobs[n].j_first = p;
			jobs[n].j_start = i;
			jobs[n].j_npods = 1;
			n++;
		}
		if (route_pod_is_running(p))
			jobs[n - 1].j_running++;
		prev = p;
	}
	return n;
}

static const struct route_rule *
ss_ssh_rule(const struct route_pod *p)
{
	size_t i;

	for (i = 0; i < p->rp_nrules; i++)
		if (strcmp(p->rp_rules[i].rr_name, "ssh") == 0)
			return &p->rp_rules[i];
	for (i = 0; i < p->rp_nrules; i++)
		if (p->rp_rules[i].rr_container_port == 22)
			return &p->rp_rules[i];
	return NULL;
}

/* "yes", or why not, for the job's default pod. */
static const char *
ss_ssh_state(const struct ss_job *j)
{
	const struct route_pod *p = j->j_first;

	if (!route_pod_is_running(p))
		return "no (not running)";
	if (ss_ssh_rule(p) != NULL)
		return "yes";
	if (p->rp_nproblems > 0)
		return "no (malformed rule)";
	return "no (no ssh rule)";
}

static const char *
ss_phase(const struct ss_job *j, char *buf, size_t len)
{
	const char *phase = j->j_first->rp_phase != NULL ?
	    j->j_first->rp_phase : "Unknown";

	/* The phase is cluster text: escaped like every other name. */
	if (j->j_npods == 1)
		name_escape(buf, len, phase, 32);
	else
		snprintf(buf, len, "%zu/%zu Running", j->j_running,
		    j->j_npods);
	return buf;
}

static void
ss_rules_text(const struct route_pod *p, char *buf, size_t len)
{
	size_t i, off = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < p->rp_nrules && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s(%u)", i > 0 ? " " : "",
		    p->rp_rules[i].rr_name, p->rp_rules[i].rr_container_port);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (p->rp_nproblems > 0 && off < len)
		snprintf(buf + off, len - off, "%s%zu malformed",
		    off > 0 ? " + " : "", p->rp_nproblems);
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
}

/*
 * Columns on a terminal: CJK characters take two cells, the rest one.
 * Names arrive escaped, so only valid UTF-8 reaches here.
 */
static size_t
ss_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	uint32_t cp;

	while (*p != '\0') {
		if (*p < 0x80) {
			cp = *p++;
		} else if ((*p & 0xe0) == 0xc0 && p[1] != '\0') {
			cp = (uint32_t)(*p & 0x1f) << 6 | (p[1] & 0x3f);
			p += 2;
		} else if ((*p & 0xf0) == 0xe0 && p[1] != '\0' && p[2] != '\0') {
			cp = (uint32_t)(*p & 0x0f) << 12 |
			    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			p += 3;
		} else if (p[1] != '\0' && p[2] != '\0' && p[3] != '\0') {
			cp = (uint32_t)(*p & 0x07) << 18 |
			    (uint32_t)(p[1] & 0x3f) << 12 |
			    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			p += 4;
		} else
			break;
		w += (cp >= 0x1100 && cp <= 0x115f) ||
		    (cp >= 0x2e80 && cp <= 0xa4cf) ||
		    (cp >= 0xac00 && cp <= 0xd7a3) ||
		    (cp >= 0xf900 && cp <= 0xfaff) ||
		    (cp >= 0xfe30 && cp <= 0xfe4f) ||
		    (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) ||
		    (cp >= 0x20000 && cp <= 0x3fffd) ? 2 : 1;
	}
	return w;
}

static void
ss_cell(struct ss_buf *b, const char *text, size_t width)
{
	size_t w = ss_width(text);

	ss_put(b, "%s%*s", text, (int)(width > w ? width - w : 0), "");
}

/* "host" or "[v6]" for commands; ":port" or " -p port" appended by
 * callers as the command needs. */
static const char *
ss_host(const struct selfservice_request *req, char *buf, size_t len)
{
	if (strchr(req->sq_gw_host, ':') != NULL)
		snprintf(buf, len, "[%s]", req->sq_gw_host);
	else
		snprintf(buf, len, "%s", req->sq_gw_host);
	return buf;
}

static void
ss_stale_note(struct ss_buf *b, const struct selfservice_request *req)
{
	if (req->sq_stale_ms > 0)
		ss_put(b, "Note: route data is %llu s old: the route source "
		    "cannot be reached, so jobs started since then may be "
		    "missing.\n", (unsigned long long)(req->sq_stale_ms / 1000));
}

static void
ss_table(const struct selfservice_request *req, const struct ss_job *jobs,
    size_t n, struct ss_buf *out)
{
	static const char *const head[7] = { "JOB", "DISPLAY NAME",
	    "TYPE AS", "PODS", "PHASE", "SSH", "RULES" };
	char (*cells)[7][256];
	size_t width[7], i, c;
	char host[300], port[16];
	const char *example = NULL;

	if (req->sq_motd != NULL)
		ss_put(out, "%s%s", req->sq_motd,
		    req->sq_motd[0] != '\0' &&
		    req->sq_motd[strlen(req->sq_motd) - 1] != '\n' ? "\n" : "");
	ss_put(out, "jumpgate: hello %s.\n", req->sq_user);
	ss_stale_note(out, req);
	if (n == 0) {
		ss_put(out, "You have no jobs on this cluster. Start one on "
		    "the platform, then come back.\n");
		return;
	}
	if ((cells = calloc(n, sizeof(*cells))) == NULL)
		return;
	for (c = 0; c < 7; c++)
		width[c] = strlen(head[c]);
	for (i = 0; i < n; i++) {
		const struct route_pod *p = jobs[i].j_first;
		char phase[64], rules[256];

		name_escape(cells[i][0], sizeof(cells[i][0]), p->rp_job,
		    SS_NAME_SHOWN);
		name_escape(cells[i][1], sizeof(cells[i][1]),
		    p->rp_display != NULL ? p->rp_display : "-", SS_NAME_SHOWN);
		name_escape(cells[i][2], sizeof(cells[i][2]),
		    route_pod_typeable_name(p), SS_NAME_SHOWN);
		snprintf(cells[i][3], sizeof(cells[i][3]), "%zu",
		    jobs[i].j_npods);
		snprintf(cells[i][4], sizeof(cells[i][4]), "%s",
		    ss_phase(&jobs[i], phase, sizeof(phase)));
		snprintf(cells[i][5], sizeof(cells[i][5]), "%s",
		    ss_ssh_state(&jobs[i]));
		ss_rules_text(p, rules, sizeof(rules));
		name_escape(cells[i][6], sizeof(cells[i][6]), rules, 200);
		for (c = 0; c < 7; c++)
			if (ss_width(cells[i][c]) > width[c])
				width[c] = ss_width(cells[i][c]);
		if (example == NULL && strcmp(cells[i][5], "yes") == 0)
			example = route_pod_typeable_name(p);
	}
	ss_put(out, "Your jobs:\n\n");
	for (c = 0; c < 7; c++) {
		ss_put(out, "  ");
		if (c < 6)
			ss_cell(out, head[c], width[c]);
		else
			ss_put(out, "%s", head[c]);
	}
	ss_put(out, "\n");
	for (i = 0; i < n; i++) {
		for (c = 0; c < 7; c++) {
			ss_put(out, "  ");
			if (c < 6)
				ss_cell(out, cells[i][c], width[c]);
			else
				ss_put(out, "%s", cells[i][c]);
		}
		ss_put(out, "\n");
	}
	free(cells);

	ss_host(req, host, sizeof(host));
	if (req->sq_gw_port == 22)
		port[0] = '\0';
	else
		snprintf(port, sizeof(port), "%u", req->sq_gw_port);
	ss_put(out, "\n");
	if (example != NULL) {
		ss_put(out, "Connect (jump mode, end to end):  ssh -J %s@%s%s%s "
		    "%s@%s\n", req->sq_user, host, port[0] != '\0' ? ":" : "",
		    port, req->sq_pod_user, example);
		ss_put(out, "Connect (direct mode):            ssh %s%s%s%s+%s@%s"
		    "\n", port[0] != '\0' ? "-p " : "", port,
		    port[0] != '\0' ? " " : "", req->sq_user, example, host);
	} else
		ss_put(out, "None of your jobs is reachable over SSH yet: a job "
		    "needs a running pod and an ssh NodePort rule.\n");
	ss_put(out, "Entries for ~/.ssh/config and VSCode:  ssh %s%s%s%s@%s "
	    "ssh-config\n", port[0] != '\0' ? "-p " : "", port,
	    port[0] != '\0' ? " " : "", req->sq_user, host);
}

static void
ss_jobs_tsv(const struct selfservice_request *req, const struct ss_job *jobs,
    size_t n, struct ss_buf *out, struct ss_buf *err)
{
	char name[256], display[256], rules[256], phase[64], typeas[256];
	char ns[256];
	size_t i;

	ss_stale_note(err, req);
	ss_put(out, "#job\tdisplay\ttype_as\tnamespace\tpods\tphase\tssh\t"
	    "rules\n");
	for (i = 0; i < n; i++) {
		const struct route_pod *p = jobs[i].j_first;

		name_escape(name, sizeof(name), p->rp_job, SS_NAME_SHOWN);
		name_escape(display, sizeof(display), p->rp_display != NULL ?
		    p->rp_display : "-", SS_NAME_SHOWN);
		name_escape(typeas, sizeof(typeas),
		    route_pod_typeable_name(p), SS_NAME_SHOWN);
		name_escape(ns, sizeof(ns), p->rp_namespace, SS_NAME_SHOWN);
		ss_rules_text(p, rules, sizeof(rules));
		/* Escaping turned tabs into \x09: the columns hold. */
		ss_put(out, "%s\t%s\t%s\t%s\t%zu\t%s\t%s\t%s\n", name, display,
		    typeas, ns, jobs[i].j_npods,
		    ss_phase(&jobs[i], phase, sizeof(phase)),
		    ss_ssh_state(&jobs[i]), rules);
	}
}

static void
ss_jobs_json(const struct selfservice_request *req,
    const struct ss_job *jobs, size_t n, struct ss_buf *out)
{
	cJSON *root, *arr, *job, *pods, *pod, *rules, *rule;
	const struct route_pod *p;
	size_t i, k, r;
	char *text;

	if ((root = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(root, "user", req->sq_user);
	cJSON_AddNumberToObject(root, "stale_seconds",
	    (double)(req->sq_stale_ms / 1000));
	arr = cJSON_AddArrayToObject(root, "jobs");
	for (i = 0; arr != NULL && i < n; i++) {
		p = jobs[i].j_first;
		job = cJSON_CreateObject();
		if (job == NULL)
			break;
		cJSON_AddItemToArray(arr, job);
		cJSON_AddStringToObject(job, "name", p->rp_job);
		if (p->rp_display != NULL)
			cJSON_AddStringToObject(job, "display_name",
			    p->rp_display);
		else
			cJSON_AddNullToObject(job, "display_name");
		cJSON_AddStringToObject(job, "type_as",
		    route_pod_typeable_name(p));
		if (p->rp_base_url != NULL)
			cJSON_AddStringToObject(job, "base_url", p->rp_base_url);
		cJSON_AddStringToObject(job, "namespace", p->rp_namespace);
		cJSON_AddBoolToObject(job, "ssh",
		    strcmp(ss_ssh_state(&jobs[i]), "yes") == 0);
		cJSON_AddStringToObject(job, "ssh_state", ss_ssh_state(&jobs[i]));
		pods = cJSON_AddArrayToObject(job, "pods");
		for (k = 0; pods != NULL && k < jobs[i].j_npods; k++) {
			p = route_snapshot_pod(req->sq_snap, jobs[i].j_start + k);
			if ((pod = cJSON_CreateObject()) == NULL)
				break;
			cJSON_AddItemToArray(pods, pod);
			cJSON_AddStringToObject(pod, "name", p->rp_name);
			if (p->rp_task != NULL)
				cJSON_AddStringToObject(pod, "task", p->rp_task);
			cJSON_AddNumberToObject(pod, "index", p->rp_index);
			cJSON_AddStringToObject(pod, "phase",
			    p->rp_phase != NULL ? p->rp_phase : "Unknown");
			rules = cJSON_AddArrayToObject(pod, "rules");
			for (r = 0; rules != NULL && r < p->rp_nrules; r++) {
				if ((rule = cJSON_CreateObject()) == NULL)
					break;
				cJSON_AddItemToArray(rules, rule);
				cJSON_AddStringToObject(rule, "name",
				    p->rp_rules[r].rr_name);
				cJSON_AddNumberToObject(rule, "container_port",
				    p->rp_rules[r].rr_container_port);
			}
			cJSON_AddNumberToObject(pod, "malformed_rules",
			    (double)p->rp_nproblems);
		}
	}
	if ((text = cJSON_PrintUnformatted(root)) != NULL) {
		ss_put(out, "%s\n", text);
		cJSON_free(text);
	}
	cJSON_Delete(root);
}

/* Picks a Host alias for each job: its typeable name, or the internal
 * name when two jobs would share one. */
static void
ss_host_aliases(struct ss_job *jobs, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++)
		jobs[i].j_host = route_pod_typeable_name(jobs[i].j_first);
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (strcmp(route_pod_typeable_name(jobs[i].j_first),
			    route_pod_typeable_name(jobs[k].j_first)) == 0) {
				jobs[i].j_host = jobs[i].j_first->rp_job;
				jobs[k].j_host = jobs[k].j_first->rp_job;
			}
}

static void
ss_ssh_config(const struct selfservice_request *req, struct ss_job *jobs,
    size_t n, int argc, char **argv, struct ss_buf *out, struct ss_buf *err,
    int *status)
{
	bool direct = false, *want;
	size_t i, emitted = 0;
	int a;
	char why[ROUTE_WHY_MAX];
	struct route_query q;
	struct route_result res;

	if ((want = calloc(n > 0 ? n : 1, sizeof(*want))) == NULL)
		return;
	for (a = 1; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--direct") == 0)
			direct = true;
		else if (strcmp(argv[a], "--jump") == 0)
			direct = false;
		else {
			ss_put(err, "jumpgate: ssh-config: unknown option '%s' "
			    "(expected --jump or --direct)\n", argv[a]);
			*status = 2;
			free(want);
			return;
		}
	}
	if (a == argc) {
		for (i = 0; i < n; i++)
			want[i] = route_pod_is_running(jobs[i].j_first) &&
			    ss_ssh_rule(jobs[i].j_first) != NULL;
	}
	for (; a < argc; a++) {
		memset(&q, 0, sizeof(q));
		q.rq_user = req->sq_user;
		q.rq_job = argv[a];
		if (route_lookup(req->sq_snap, &q, &res, why, sizeof(why)) !=
		    JG_OK) {
			ss_put(err, "jumpgate: %s\n", why);
			*status = 1;
			continue;
		}
		for (i = 0; i < n; i++)
			if (strcmp(jobs[i].j_first->rp_job,
			    res.rs_pod->rp_job) == 0 &&
			    strcmp(jobs[i].j_first->rp_namespace,
			    res.rs_pod->rp_namespace) == 0)
				want[i] = true;
	}
	ss_host_aliases(jobs, n);
	ss_stale_note(err, req);
	ss_put(out, "# jumpgate: ssh_config entries for %s (%s mode).\n"
	    "# Append to ~/.ssh/config; VSCode Remote-SSH reads that file.\n",
	    req->sq_user, direct ? "direct" : "jump");
	if (!direct)
		ss_put(out, "\nHost jumpgate\n  HostName %s\n  Port %u\n"
		    "  User %s\n", req->sq_gw_host, req->sq_gw_port,
		    req->sq_user);
	for (i = 0; i < n; i++) {
		if (!want[i])
			continue;
		/*
		 * Names from the cluster go into ssh_config lines: one that is
		 * not a plain host name could add lines of its own
		 * (ProxyCommand ...).  Such a job is skipped, and said so.
		 */
		if (!route_name_typeable(jobs[i].j_first->rp_job) ||
		    !route_name_typeable(jobs[i].j_host)) {
			char esc[256];

			name_escape(esc, sizeof(esc), jobs[i].j_first->rp_job,
			    SS_NAME_SHOWN);
			ss_put(err, "jumpgate: job '%s' has a name ssh_config "
			    "cannot hold; no entry written for it\n", esc);
			continue;
		}
		emitted++;
		/*
		 * Jump form: HostName is the internal job name, which is
		 * unique, so known_hosts keeps one entry per job and a new
		 * job's pod key never clashes with an old one.
		 */
		if (!direct)
			ss_put(out, "\nHost %s\n  HostName %s\n  User %s\n"
			    "  ProxyJump jumpgate\n", jobs[i].j_host,
			    jobs[i].j_first->rp_job, req->sq_pod_user);
		else
			ss_put(out, "\nHost %s\n  HostName %s\n  Port %u\n"
			    "  User %s+%s\n", jobs[i].j_host, req->sq_gw_host,
			    req->sq_gw_port, req->sq_user,
			    jobs[i].j_first->rp_job);
	}
	if (emitted == 0 && *status == 0)
		ss_put(err, "jumpgate: %s has no running job with an ssh rule; "
		    "no Host entries written\n", req->sq_user);
	free(want);
}

static void
ss_pubkey(const struct selfservice_request *req, struct ss_buf *out,
    struct ss_buf *err, int *status)
{
	char line[1024], why[512];

	if (req->sq_upstream == NULL ||
	    userkey_public_line(req->sq_upstream, req->sq_user, line,
	    sizeof(line), why, sizeof(why)) != JG_OK) {
		ss_put(err, "jumpgate: no gateway key for %s: %s\n",
		    req->sq_user, req->sq_upstream == NULL ?
		    "direct mode keys are not configured" : why);
		*status = 1;
		return;
	}
	ss_put(out, "%s\n", line);
	ss_put(out, "# Add the line above to ~/.ssh/authorized_keys in your "
	    "jobs, so that 'ssh %s+JOB@gateway' can log in without ssh -A.\n",
	    req->sq_user);
}

static void
ss_help(struct ss_buf *b)
{
	ss_put(b, "jumpgate commands (ssh USER@gateway COMMAND):\n"
	    "  (none)                 your jobs and how to connect\n"
	    "  jobs [--json]          your jobs, for scripts\n"
	    "  ssh-config [--jump|--direct] [JOB...]\n"
	    "                         Host entries for ~/.ssh/config and "
	    "VSCode\n"
	    "  pubkey                 the key direct mode logs in to your "
	    "jobs with\n"
	    "  help                   this list\n");
}

int
selfservice_split(const char *line, char *buf, size_t buflen, char **argv,
    int max)
{
	size_t o = 0;
	int argc = 0;
	char quote = '\0';
	bool inword = false;

	for (; *line != '\0'; line++) {
		char c = *line;

		if (o + 2 > buflen)
			return -1;
		if (quote != '\0') {
			if (c == quote)
				quote = '\0';
			else if (c == '\\' && quote == '"' && line[1] != '\0')
				buf[o++] = *++line;
			else
				buf[o++] = c;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n') {
			if (inword) {
				buf[o++] = '\0';
				inword = false;
			}
			continue;
		}
		if (!inword) {
			if (argc == max)
				return -1;
			argv[argc++] = buf + o;
			inword = true;
		}
		if (c == '\'' || c == '"')
			quote = c;
		else if (c == '\\' && line[1] != '\0')
			buf[o++] = *++line;
		else
			buf[o++] = c;
	}
	if (quote != '\0')
		return -1;
	if (inword)
		buf[o++] = '\0';
	return argc;
}

enum jg_err
selfservice_answer(const struct selfservice_request *req,
    struct selfservice_reply *rep)
{
	struct ss_buf out = { 0 }, err = { 0 };
	struct ss_job *jobs;
	char argbuf[4096], *argv[SELFSERVICE_ARGS_MAX];
	size_t n;
	int argc = 0, status = 0;

	memset(rep, 0, sizeof(*rep));
	if ((jobs = calloc(SS_JOBS_MAX, sizeof(*jobs))) == NULL)
		return JG_ERR_NOMEM;
	n = ss_collect(req->sq_snap, req->sq_user, jobs, SS_JOBS_MAX);
	if (req->sq_command != NULL) {
		argc = selfservice_split(req->sq_command, argbuf,
		    sizeof(argbuf), argv, SELFSERVICE_ARGS_MAX);
		if (argc < 0) {
			ss_put(&err, "jumpgate: cannot read the command "
			    "(unbalanced quote, or too long)\n");
			status = 2;
		}
	}
	if (status != 0) {
		/* reported above */
	} else if (argc == 0) {
		ss_table(req, jobs, n, &out);
	} else if (strcmp(argv[0], "jobs") == 0 && argc == 1) {
		ss_jobs_tsv(req, jobs, n, &out, &err);
	} else if (strcmp(argv[0], "jobs") == 0 && argc == 2 &&
	    strcmp(argv[1], "--json") == 0) {
		ss_jobs_json(req, jobs, n, &out);
	} else if (strcmp(argv[0], "ssh-config") == 0) {
		ss_ssh_config(req, jobs, n, argc, argv, &out, &err, &status);
	} else if (strcmp(argv[0], "pubkey") == 0 && argc == 1) {
		ss_pubkey(req, &out, &err, &status);
	} else if (strcmp(argv[0], "help") == 0 && argc == 1) {
		ss_help(&out);
	} else {
		char esc[128];

		name_escape(esc, sizeof(esc), req->sq_command, 80);
		ss_put(&err, "jumpgate: unknown command '%s'\n", esc);
		ss_help(&err);
		status = 2;
	}
	free(jobs);
	if (out.b_full || err.b_full)
		ss_put(&err, "jumpgate: reply cut at %d bytes\n",
		    SELFSERVICE_OUT_MAX);
	rep->sr_out = out.b_buf != NULL ? out.b_buf : strdup("");
	rep->sr_outlen = out.b_len;
	rep->sr_err = err.b_buf != NULL ? err.b_buf : strdup("");
	rep->sr_errlen = err.b_len;
	rep->sr_status = status;
	if (rep->sr_out == NULL || rep->sr_err == NULL) {
		selfservice_reply_free(rep);
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

void
selfservice_reply_free(struct selfservice_reply *rep)
{
	free(rep->sr_out);
	free(rep->sr_err);
	memset(rep, 0, sizeof(*rep));
}
