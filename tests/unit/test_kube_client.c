/*
 * test_kube_client.c: the API server's credentials: kubeconfig contexts
 * with every supported form (token, tokenFile, certificate-authority and
 * client certificate as files or -data), the refusals (insecure TLS
 * unless allowed, exec, unknown context, plain http off loopback) with
 * file:line, token rotation, the in-cluster service account, and the URL
 * and query helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube_client.h"

struct tmp {
	char	dir[64];
};

static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/jg-kubeclient-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	/* Only our own mkdtemp directory. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static const char *
tmp_write(struct tmp *t, const char *name, const char *text)
{
	static char path[192];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* "ca-bytes" and "cert-bytes" and "key-bytes", base64. */
#define B64_CA		"Y2EtYnl0ZXM="
#define B64_CERT	"Y2VydC1ieXRlcw=="
#define B64_KEY		"a2V5LWJ5dGVz"

static const char kubeconfig[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: tok\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: " B64_CA "\n"
    "- name: insecure\n"
    "  cluster:\n"
    "    server: https://10.0.0.1:6443\n"
    "    insecure-skip-tls-verify: true\n"
    "- name: plain\n"
    "  cluster:\n"
    "    server: http://10.0.0.1:8080\n"
    "- name: local\n"
    "  cluster:\n"
    "    server: http://127.0.0.1:8080\n"
    "users:\n"
    "- name: u-token\n"
    "  user:\n"
    "    token: abc.def.ghi\n"
    "- name: u-cert\n"
    "  user:\n"
    "    client-certificate-data: " B64_CERT "\n"
    "    client-key-data: " B64_KEY "\n"
    "- name: u-exec\n"
    "  user:\n"
    "    exec:\n"
    "      command: aws\n"
    "- name: u-halfcert\n"
    "  user:\n"
    "    client-certificate-data: " B64_CERT "\n"
    "- name: u-badb64\n"
    "  user:\n"
    "    client-key-data: '@@@'\n"
    "contexts:\n"
    "- name: tok\n"
    "  context: {cluster: c1, user: u-token, namespace: crater-workspace}\n"
    "- name: cert\n"
    "  context: {cluster: c1, user: u-cert}\n"
    "- name: insecure\n"
    "  context: {cluster: insecure, user: u-token}\n"
    "- name: exec\n"
    "  context: {cluster: c1, user: u-exec}\n"
    "- name: halfcert\n"
    "  context: {cluster: c1, user: u-halfcert}\n"
    "- name: badb64\n"
    "  context: {cluster: c1, user: u-badb64}\n"
    "- name: plain\n"
    "  context: {cluster: plain, user: u-token}\n"
    "- name: local\n"
    "  context: {cluster: local, user: u-token}\n"
    "- name: nocluster\n"
    "  context: {cluster: nope, user: u-token}\n";

static void
reads_the_current_context_with_a_token_and_ca_data(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512];

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    kubeconfig), NULL, false, &c, err, sizeof(err)), JG_OK);
	assert_string_equal(c->kc_server, "https://127.0.0.1:6443");
	assert_string_equal(c->kc_token, "abc.def.ghi");
	assert_null(c->kc_token_file);
	assert_int_equal(c->kc_ca.kb_len, 8);
	assert_memory_equal(c->kc_ca.kb_data, "ca-bytes", 8);
	assert_null(c->kc_cert.kb_data);
	assert_false(c->kc_insecure);
	assert_non_null(strstr(c->kc_origin, "context tok"));
	kube_creds_free(c);
}

static void
reads_a_named_context_with_client_certificate_data(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512];

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    kubeconfig), "cert", false, &c, err, sizeof(err)), JG_OK);
	assert_null(c->kc_token);
	assert_int_equal(c->kc_cert.kb_len, 10);
	assert_memory_equal(c->kc_cert.kb_data, "cert-bytes", 10);
	assert_int_equal(c->kc_key.kb_len, 9);
	assert_memory_equal(c->kc_key.kb_data, "key-bytes", 9);
	kube_creds_free(c);
}

static void
resolves_file_paths_against_the_kubeconfig_directory(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512], want[256];
	bool changed;

	tmp_write(t, "ca.crt", "x");
	tmp_write(t, "client.crt", "x");
	tmp_write(t, "client.key", "x");
	tmp_write(t, "token", "first-token\n");
	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    "current-context: x\n"
	    "clusters: [{name: c, cluster: {server: 'https://k:6443', "
	    "certificate-authority: ca.crt}}]\n"
	    "users: [{name: u, user: {tokenFile: token, "
	    "client-certificate: client.crt, client-key: client.key}}]\n"
	    "contexts: [{name: x, context: {cluster: c, user: u}}]\n"),
	    NULL, false, &c, err, sizeof(err)), JG_OK);
	snprintf(want, sizeof(want), "%s/ca.crt", t->dir);
	assert_string_equal(c->kc_ca_file, want);
	snprintf(want, sizeof(want), "%s/client.key", t->dir);
	assert_string_equal(c->kc_key_file, want);
	snprintf(want, sizeof(want), "%s/token", t->dir);
	assert_string_equal(c->kc_token_file, want);
	assert_string_equal(c->kc_token, "first-token");

	/* Rotation: the same token is no change; a new one is. */
	assert_int_equal(kube_creds_reread_token(c, &changed, err,
	    sizeof(err)), JG_OK);
	assert_false(changed);
	tmp_write(t, "token", "second-token");
	assert_int_equal(kube_creds_reread_token(c, &changed, err,
	    sizeof(err)), JG_OK);
	assert_true(changed);
	assert_string_equal(c->kc_token, "second-token");
	/* A broken file keeps the token in use. */
	tmp_write(t, "token", "has a space");
	assert_int_equal(kube_creds_reread_token(c, &changed, err,
	    sizeof(err)), JG_ERR_PARSE);
	assert_string_equal(c->kc_token, "second-token");
	tmp_write(t, "token", "");
	assert_int_equal(kube_creds_reread_token(c, &changed, err,
	    sizeof(err)), JG_ERR_PARSE);
	assert_non_null(strstr(err, "the token is empty"));
	assert_string_equal(c->kc_token, "second-token");
	kube_creds_free(c);
}

static void
expect_refusal(struct tmp *t, const char *context, bool allow,
    enum jg_err want_r, const char *want)
{
	struct kube_creds *c = NULL;
	char err[512];
	enum jg_err r;

	err[0] = '\0';
	r = kube_creds_from_kubeconfig(tmp_write(t, "kc", kubeconfig),
	    context, allow, &c, err, sizeof(err));
	if (r != want_r || strstr(err, want) == NULL)
		fail_msg("context %s: got %d '%s', want %d '%s'",
		    context != NULL ? context : "(current)", r, err, want_r,
		    want);
	assert_null(c);
}

static void
refuses_insecure_tls_unless_allowed(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512];

	expect_refusal(t, "insecure", false, JG_ERR_DENIED,
	    ":12:31: cluster 'insecure': insecure-skip-tls-verify: true is "
	    "refused");
	expect_refusal(t, "insecure", false, JG_ERR_DENIED,
	    "routes.kubernetes.allow_insecure_tls");
	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    kubeconfig), "insecure", true, &c, err, sizeof(err)), JG_OK);
	assert_true(c->kc_insecure);
	kube_creds_free(c);
}

static void
refuses_what_it_cannot_use_with_file_and_line(void **state)
{
	struct tmp *t = *state;

	expect_refusal(t, "exec", false, JG_ERR_CONFIG,
	    "user 'u-exec': exec is not supported");
	expect_refusal(t, "nosuch", false, JG_ERR_CONFIG,
	    "no context named 'nosuch' in contexts");
	expect_refusal(t, "nocluster", false, JG_ERR_CONFIG,
	    "no cluster named 'nope' in clusters");
	expect_refusal(t, "halfcert", false, JG_ERR_CONFIG,
	    "a client certificate needs its key");
	expect_refusal(t, "badb64", false, JG_ERR_CONFIG,
	    "client-key-data: not valid base64");
	expect_refusal(t, "plain", false, JG_ERR_CONFIG,
	    "expected an https:// URL (http:// only to a loopback address)");
}

static void
allows_plain_http_to_loopback_for_tests(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512];

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    kubeconfig), "local", false, &c, err, sizeof(err)), JG_OK);
	assert_string_equal(c->kc_server, "http://127.0.0.1:8080");
	kube_creds_free(c);
}

static void
names_the_line_of_a_missing_file(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c = NULL;
	char err[512];

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    "current-context: x\n"
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: https://k\n"
	    "    certificate-authority: /nonexistent/ca.crt\n"
	    "contexts: [{name: x, context: {cluster: c}}]\n"),
	    NULL, false, &c, err, sizeof(err)), JG_ERR_CONFIG);
	assert_non_null(strstr(err, "/kc:6:28: cluster 'c'."
	    "certificate-authority: /nonexistent/ca.crt: No such file"));
	assert_null(c);

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    "clusters: []\n"), NULL, false, &c, err, sizeof(err)),
	    JG_ERR_CONFIG);
	assert_non_null(strstr(err, "no current-context; set "
	    "routes.kubernetes.context"));
	assert_int_equal(kube_creds_from_kubeconfig("/nonexistent/kc", NULL,
	    false, &c, err, sizeof(err)), JG_ERR_IO);
	assert_non_null(strstr(err, "kubeconfig /nonexistent/kc: cannot "
	    "read"));
}

static void
reads_the_in_cluster_service_account(void **state)
{
	struct tmp *t = *state;
	struct kube_creds *c;
	char err[512], want[256];
	struct config_kubernetes kc;

	tmp_write(t, "token", "sa-token\n");
	tmp_write(t, "ca.crt", "x");
	setenv(KUBE_SA_DIR_ENV, t->dir, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	memset(&kc, 0, sizeof(kc));
	assert_int_equal(kube_creds_load(&kc, &c, err, sizeof(err)), JG_OK);
	assert_string_equal(c->kc_server, "https://10.96.0.1:443");
	assert_string_equal(c->kc_token, "sa-token");
	snprintf(want, sizeof(want), "%s/ca.crt", t->dir);
	assert_string_equal(c->kc_ca_file, want);
	snprintf(want, sizeof(want), "%s/token", t->dir);
	assert_string_equal(c->kc_token_file, want);
	assert_string_equal(c->kc_origin, "in-cluster service account");
	kube_creds_free(c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_creds_in_cluster(NULL, &c, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(c->kc_server, "https://[fd00::1]:443");
	kube_creds_free(c);

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(kube_creds_in_cluster(NULL, &c, err, sizeof(err)),
	    JG_ERR_CONFIG);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT 'https' is not "
	    "a port"));
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_creds_in_cluster(NULL, &c, err, sizeof(err)),
	    JG_ERR_CONFIG);
	assert_non_null(strstr(err, "not running in a pod?"));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_creds_in_cluster("/nonexistent", &c, err,
	    sizeof(err)), JG_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/token: cannot read"));
	unsetenv(KUBE_SA_DIR_ENV);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void
decodes_base64_with_line_breaks_and_refuses_junk(void **state)
{
	struct kube_blob b;

	(void)state;
	assert_int_equal(kube_base64_decode("aGVs\nbG8g\r\nd29y bGQ=", 20, &b),
	    JG_OK);
	assert_int_equal(b.kb_len, 11);
	assert_memory_equal(b.kb_data, "hello world", 11);
	free(b.kb_data);
	assert_int_equal(kube_base64_decode("aGk", 3, &b), JG_OK);
	assert_memory_equal(b.kb_data, "hi", 2);
	free(b.kb_data);
	assert_int_equal(kube_base64_decode("aG=k", 4, &b), JG_ERR_PARSE);
	assert_int_equal(kube_base64_decode("a", 1, &b), JG_ERR_PARSE);
	assert_int_equal(kube_base64_decode("", 0, &b), JG_ERR_PARSE);
	assert_int_equal(kube_base64_decode("a$bc", 4, &b), JG_ERR_PARSE);
}

static void
builds_urls_and_escapes_query_values(void **state)
{
	struct kube_creds c;
	char q[128], url[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.kc_server = "https://k:6443";
	q[0] = '\0';
	assert_int_equal(kube_query_add(q, sizeof(q), "limit", "500"), JG_OK);
	assert_int_equal(kube_query_add(q, sizeof(q), "labelSelector",
	    "app in (a,b),tier!=x"), JG_OK);
	assert_string_equal(q, "limit=500&labelSelector=app%20in%20%28a%2Cb"
	    "%29%2Ctier%21%3Dx");
	assert_int_equal(kube_url(&c, "crater-workspace", "pods", q, url,
	    sizeof(url)), JG_OK);
	assert_string_equal(url, "https://k:6443/api/v1/namespaces/"
	    "crater-workspace/pods?limit=500&labelSelector=app%20in%20%28a%2Cb"
	    "%29%2Ctier%21%3Dx");
	assert_int_equal(kube_url(&c, NULL, "nodes", NULL, url, sizeof(url)),
	    JG_OK);
	assert_string_equal(url, "https://k:6443/api/v1/nodes");
	assert_int_equal(kube_url(&c, NULL, "nodes", NULL, url, 20),
	    JG_ERR_LIMIT);
	q[0] = '\0';
	assert_int_equal(kube_query_add(q, 12, "continue", "abcdefghij"),
	    JG_ERR_LIMIT);
	assert_true(strlen(q) < 12);
}

static void
quotes_the_message_of_a_status_answer(void **state)
{
	static const char st[] = "{\"kind\":\"Status\",\"status\":\"Failure\","
	    "\"message\":\"pods is forbidden: User \\\"x\\\" cannot list\","
	    "\"reason\":\"Forbidden\",\"code\":403}";
	char out[256];

	(void)state;
	kube_status_message(st, strlen(st), out, sizeof(out));
	assert_string_equal(out, "pods is forbidden: User \"x\" cannot list");
	kube_status_message("<html>\n", 7, out, sizeof(out));
	assert_string_equal(out, "<html>\\x0a");
	kube_status_message(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "(empty body)");
}

static void
libcurl_takes_the_in_memory_blobs(void **state)
{
	struct tmp *t = *state;
	struct curl_slist *h = NULL;
	struct kube_creds *c;
	char err[512], errbuf[CURL_ERROR_SIZE];
	CURL *easy;

	assert_int_equal(kube_creds_from_kubeconfig(tmp_write(t, "kc",
	    kubeconfig), "cert", false, &c, err, sizeof(err)), JG_OK);
	easy = curl_easy_init();
	assert_non_null(easy);
	assert_int_equal(kube_request_init(c, easy, "https://127.0.0.1:1/x",
	    1000, 1000, errbuf, &h, err, sizeof(err)), JG_OK);
	assert_non_null(h);
	curl_slist_free_all(h);
	curl_easy_cleanup(easy);
	kube_creds_free(c);
	kube_creds_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    reads_the_current_context_with_a_token_and_ca_data,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    reads_a_named_context_with_client_certificate_data,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    resolves_file_paths_against_the_kubeconfig_directory,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    refuses_insecure_tls_unless_allowed,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    refuses_what_it_cannot_use_with_file_and_line,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    allows_plain_http_to_loopback_for_tests,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    names_the_line_of_a_missing_file,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    reads_the_in_cluster_service_account,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test(
		    decodes_base64_with_line_breaks_and_refuses_junk),
		cmocka_unit_test(builds_urls_and_escapes_query_values),
		cmocka_unit_test(quotes_the_message_of_a_status_answer),
		cmocka_unit_test_setup_teardown(
		    libcurl_takes_the_in_memory_blobs,
		    tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
