/*
 * fuzz_kubeconfig.c: the kubeconfig reader (kube_client.h): YAML that
 * decides where the gateway sends its cluster credentials.  Input:
 * KUBECONFIG NUL CONTEXT; without a CONTEXT, current-context is used, and
 * insecure-skip-tls-verify is allowed when the input's length is odd.
 * The file has a path API only, so it goes to the scratch file, alone in
 * its directory.  Credentials that load are used to build request URLs.
 * Inputs naming files under /proc, /sys or /dev are skipped.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "kube_client.h"

static void
use(const struct kube_creds *c, const char *context)
{
	char url[KUBE_URL_MAX], query[256];
	const char *host;
	size_t n;

	FUZZ_CHECK(c->kc_origin != NULL && c->kc_server != NULL);
	/* "https://host:port": the scheme and a host survive. */
	FUZZ_CHECK(strncmp(c->kc_server, "https://", 8) == 0 ||
	    strncmp(c->kc_server, "http://", 7) == 0);
	host = strstr(c->kc_server, "://") + 3;
	FUZZ_CHECK(host[0] != '\0' && host[0] != '/');
	n = strlen(c->kc_server);
	FUZZ_CHECK(n > 0 && c->kc_server[n - 1] != '/');
	FUZZ_CHECK(c->kc_token == NULL || c->kc_token[0] != '\0');
	query[0] = '\0';
	if (kube_query_add(query, sizeof(query), "labelSelector",
	    context != NULL ? context : "a=b,c in (d)") == JG_OK)
		FUZZ_CHECK(strpbrk(query, " \r\n#") == NULL);
	(void)kube_query_add(query, sizeof(query), "watch", "1");
	if (kube_url(c, "crater-workspace", "pods", query, url,
	    sizeof(url)) == JG_OK)
		FUZZ_CHECK(strlen(url) < sizeof(url));
	(void)kube_url(c, NULL, "nodes", NULL, url, sizeof(url));
	(void)kube_url(c, NULL, "nodes", NULL, url, 24);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_creds *c = NULL;
	char *copy, *parts[2], err[1024];
	const char *path;
	enum jg_err r;

	if ((copy = fuzz_split(data, size, parts, 2)) == NULL)
		return 0;
	/*
	 * tokenFile is read at load.  Some files under these trees block
	 * (/proc/kmsg) or never end: a fuzzer that finds one has found the
	 * machine, not a bug.  Ordinary files may be read.
	 */
	if (strstr(parts[0], "/proc/") != NULL ||
	    strstr(parts[0], "/sys/") != NULL ||
	    strstr(parts[0], "/dev/") != NULL) {
		free(copy);
		return 0;
	}
	if ((path = fuzz_scratch_file("kubeconfig", (const uint8_t *)parts[0],
	    strlen(parts[0]))) == NULL) {
		free(copy);
		return 0;
	}
	err[0] = '\0';
	r = kube_creds_from_kubeconfig(path, parts[1], size % 2 == 1, &c, err,
	    sizeof(err));
	if (r == JG_OK) {
		FUZZ_CHECK(c != NULL);
		use(c, parts[1]);
		kube_creds_free(c);
	} else {
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
	}
	free(copy);
	return 0;
}
