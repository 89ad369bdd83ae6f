/*
 * test_config.c: the configuration loader.  Defaults, every section, path
 * resolution, and every class of error with its exact file:line:column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct jg_errlist errs;

static const char *
data_dir(void)
{
	const char *d = getenv("JG_TEST_DATA");

	return d != NULL ? d : "tests/data";
}

static struct config *
load_ok(const char *text)
{
	struct config *cfg = NULL;
	enum jg_err rv;

	jg_errlist_init(&errs);
	rv = config_load_string("t.yaml", text, strlen(text), &cfg, &errs);
	if (rv != JG_OK)
		jg_errlist_print(&errs, stderr);
	assert_int_equal(rv, JG_OK);
	assert_int_equal(errs.el_count, 0);
	assert_non_null(cfg);
	return cfg;
}

/* Loads text, which must fail, and returns the messages joined by \n. */
static const char *
load_bad(const char *text)
{
	static char all[JG_ERRLIST_MAX * JG_ERRLIST_MSG_MAX];
	struct config *cfg = (struct config *)&cfg;
	size_t i;

	jg_errlist_init(&errs);
	assert_int_equal(config_load_string("t.yaml", text, strlen(text),
	    &cfg, &errs), JG_ERR_CONFIG);
	assert_null(cfg);
	assert_true(errs.el_count > 0);
	all[0] = '\0';
	for (i = 0; i < errs.el_count && i < JG_ERRLIST_MAX; i++) {
		strncat(all, errs.el_msg[i], sizeof(all) - strlen(all) - 1);
		strncat(all, "\n", sizeof(all) - strlen(all) - 1);
	}
	return all;
}

/* The only error of text is exactly want. */
static void
assert_one_error(const char *text, const char *want)
{
	const char *got = load_bad(text);

	if (errs.el_count != 1 || strcmp(errs.el_msg[0], want) != 0)
		fprintf(stderr, "want: %s\ngot:  %s", want, got);
	assert_int_equal(errs.el_count, 1);
	assert_string_equal(errs.el_msg[0], want);
}

static void
assert_has_error(const char *text, const char *want)
{
	const char *got = load_bad(text);

	if (strstr(got, want) == NULL)
		fprintf(stderr, "want: %s\ngot:  %s", want, got);
	assert_non_null(strstr(got, want));
}

static void
assert_config_defaults(const struct config *cfg)
{
	assert_int_equal(cfg->host_keys.npaths, 1);
	assert_string_equal(cfg->host_keys.paths[0],
	    JG_SYSCONFDIR "/jumpgate/ssh_host_ed25519_key");
	assert_true(cfg->host_keys.generate);
	assert_int_equal(cfg->nkey_sources, 1);
	assert_int_equal(cfg->key_sources[0].type,
	    CONFIG_KEYS_AUTHORIZED_KEYS);
	assert_string_equal(cfg->key_sources[0].template,
	    "/home/%u/.ssh/authorized_keys");
	assert_int_equal(cfg->routes.source, CONFIG_ROUTES_STATIC);
	assert_string_equal(cfg->routes.static_file,
	    JG_SYSCONFDIR "/jumpgate/routes.yaml");
	assert_int_equal(cfg->routes.nadmin_users, 0);
	assert_string_equal(cfg->routes.naming.annotation_prefix,
	    "nodeport.crater.raids.io/");
	assert_string_equal(cfg->routes.naming.ssh_enabled_annotation,
	    "crater.raids.io/ssh-enabled");
	assert_string_equal(cfg->routes.naming.owner_label,
	    "crater.raids.io/task-user");
	assert_string_equal(cfg->routes.naming.job_label,
	    "volcano.sh/job-name");
	assert_string_equal(cfg->routes.naming.display_name_annotation,
	    "crater.raids.io/task-name");
	assert_string_equal(cfg->routes.naming.base_url_label,
	    "crater.raids.io/base-url");
	assert_string_equal(cfg->routes.naming.task_label,
	    "volcano.sh/task-spec");
	assert_int_equal(cfg->routes.naming.nprecedence, 3);
	assert_int_equal(cfg->routes.naming.precedence[0],
	    CONFIG_ENDPOINT_SERVICE);
	assert_int_equal(cfg->routes.naming.precedence[1],
	    CONFIG_ENDPOINT_ANNOTATION);
	assert_int_equal(cfg->routes.naming.precedence[2],
	    CONFIG_ENDPOINT_SSH_ENABLED);
	assert_null(cfg->routes.kubernetes.kubeconfig);
	assert_null(cfg->routes.kubernetes.context);
	assert_int_equal(cfg->routes.kubernetes.nnamespaces, 1);
	assert_string_equal(cfg->routes.kubernetes.namespaces[0],
	    "crater-workspace");
	assert_null(cfg->routes.kubernetes.label_selector);
	assert_false(cfg->routes.kubernetes.allow_insecure_tls);
	assert_false(cfg->routes.kubernetes.resolve_node_addresses);
	assert_int_equal(cfg->routes.kubernetes.request_timeout_ms, 10000);
	assert_int_equal(cfg->routes.kubernetes.watch_timeout_s, 300);
	assert_int_equal(cfg->routes.kubernetes.token_reread_s, 60);
	assert_int_equal(cfg->routes.kubernetes.backoff_max_ms, 30000);
	assert_string_equal(cfg->upstream.user, "%u");
	assert_int_equal(cfg->upstream.nauth, 2);
	assert_int_equal(cfg->upstream.auth[0], CONFIG_UPSTREAM_AGENT);
	assert_int_equal(cfg->upstream.auth[1], CONFIG_UPSTREAM_KEY);
	assert_string_equal(cfg->upstream.user_key_dir,
	    "/var/lib/jumpgate/user-keys");
	assert_null(cfg->upstream.shared_key);
	assert_int_equal(cfg->upstream.host_key_policy, CONFIG_HOSTKEY_ACCEPT);
	assert_string_equal(cfg->upstream.host_key_annotation,
	    "jumpgate.crater.raids.io/host-key");
	assert_null(cfg->upstream.known_hosts);
	assert_int_equal(cfg->upstream.connect_timeout_ms, 5000);
	assert_int_equal(cfg->upstream.auth_timeout_ms, 10000);
	assert_int_equal(cfg->limits.workers, 0);
	assert_int_equal(cfg->limits.login_grace_time_s, 30);
	assert_int_equal(cfg->limits.max_startups_begin, 10);
	assert_int_equal(cfg->limits.max_startups_rate_pct, 30);
	assert_int_equal(cfg->limits.max_startups_full, 100);
	assert_int_equal(cfg->limits.max_auth_tries, 6);
	assert_int_equal(cfg->limits.max_sessions, 10000);
	assert_int_equal(cfg->limits.max_sessions_per_user, 100);
	assert_int_equal(cfg->limits.idle_timeout_s, 0);
	assert_int_equal(cfg->limits.penalty_failures, 10);
	assert_int_equal(cfg->limits.penalty_duration_s, 60);
	assert_int_equal(cfg->limits.connect_timeout_ms, 5000);
	assert_int_equal(cfg->limits.relay_buffer_bytes, 262144);
	assert_int_equal(cfg->logging.level, LOG_LEVEL_INFO);
	assert_int_equal(cfg->logging.syslog_facility, LOG_AUTH);
}

static void
new_default_has_every_default_and_no_listen_address(void **state)
{
	struct config *cfg = config_new_default();

	assert_non_null(cfg);
	assert_int_equal(cfg->nlisten, 0);
	assert_config_defaults(cfg);
	config_free(cfg);
	config_free(NULL);
}

static void
an_empty_file_gives_defaults_and_listens_on_loopback(void **state)
{
	struct config *cfg;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/config/empty.yaml", data_dir());
	jg_errlist_init(&errs);
	assert_int_equal(config_load(path, &cfg, &errs), JG_OK);
	assert_int_equal(cfg->nlisten, 1);
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 2222);
	assert_string_equal(cfg->path, path);
	assert_config_defaults(cfg);
	config_free(cfg);

	cfg = load_ok("# nothing but a comment\n");
	assert_int_equal(cfg->nlisten, 1);
	config_free(cfg);
	cfg = load_ok("limits:\nlogging: ~\n");
	assert_config_defaults(cfg);
	config_free(cfg);
}

static void
the_shipped_config_loads_and_states_every_default(void **state)
{
	const char *src = getenv("JG_SOURCE_DIR");
	struct config *cfg = NULL, *def;
	char path[PATH_MAX], *a = NULL, *b = NULL;
	size_t alen, blen;
	FILE *fa, *fb;

	snprintf(path, sizeof(path), "%s/config/jumpgate.yaml",
	    src != NULL ? src : ".");
	jg_errlist_init(&errs);
	if (config_load(path, &cfg, &errs) != JG_OK)
		jg_errlist_print(&errs, stderr);
	assert_non_null(cfg);
	assert_int_equal(errs.el_count, 0);
	assert_int_equal(cfg->nlisten, 1);
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 2222);

	/*
	 * Its values are the built-in defaults, except that the two files
	 * installed beside it (host key, routes) are named relative to it,
	 * so that `jumpgate -t -f config/jumpgate.yaml` works in a checkout
	 * and the installed copy finds them in /etc/jumpgate.
	 */
	def = config_new_default();
	assert_non_null(def);
	free(def->routes.static_file);
	snprintf(path, sizeof(path), "%s/config/routes.yaml",
	    src != NULL ? src : ".");
	def->routes.static_file = strdup(path);
	free(def->host_keys.paths[0]);
	snprintf(path, sizeof(path), "%s/config/ssh_host_ed25519_key",
	    src != NULL ? src : ".");
	def->host_keys.paths[0] = strdup(path);
	def->listen = cfg->listen;
	def->nlisten = cfg->nlisten;
	fa = open_memstream(&a, &alen);
	fb = open_memstream(&b, &blen);
	config_dump(cfg, fa);
	config_dump(def, fb);
	fclose(fa);
	fclose(fb);
	assert_string_equal(a, b);
	def->listen = NULL;
	def->nlisten = 0;
	free(a);
	free(b);
	config_free(def);
	config_free(cfg);
}

static void
loads_every_section_of_a_full_config(void **state)
{
	struct config *cfg;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/config/full.yaml", data_dir());
	jg_errlist_init(&errs);
	if (config_load(path, &cfg, &errs) != JG_OK)
		jg_errlist_print(&errs, stderr);
	assert_non_null(cfg);

	assert_int_equal(cfg->nlisten, 3);
	assert_string_equal(cfg->listen[0].address, "0.0.0.0");
	assert_int_equal(cfg->listen[0].port, 22);
	assert_string_equal(cfg->listen[1].address, "::");
	assert_string_equal(cfg->listen[2].address, "*");
	assert_int_equal(cfg->listen[2].port, 8022);

	assert_int_equal(cfg->host_keys.npaths, 2);
	assert_string_equal(cfg->host_keys.paths[1], "/srv/keys/rsa");
	assert_false(cfg->host_keys.generate);

	assert_int_equal(cfg->nkey_sources, 3);
	assert_int_equal(cfg->key_sources[0].type, CONFIG_KEYS_URL);
	assert_string_equal(cfg->key_sources[0].template,
	    "https://platform.example/api/users/%u/keys");
	assert_int_equal(cfg->key_sources[0].timeout_ms, 1500);
	assert_int_equal(cfg->key_sources[0].cache_ttl_s, 0);
	assert_int_equal(cfg->key_sources[1].type,
	    CONFIG_KEYS_AUTHORIZED_KEYS);
	assert_string_equal(cfg->key_sources[1].template,
	    "/etc/jumpgate/users/%u.keys");
	assert_int_equal(cfg->key_sources[2].type, CONFIG_KEYS_URL);
	assert_int_equal(cfg->key_sources[2].timeout_ms, 3000);
	assert_int_equal(cfg->key_sources[2].cache_ttl_s, 300);

	assert_int_equal(cfg->routes.source, CONFIG_ROUTES_KUBERNETES);
	assert_null(cfg->routes.static_file);
	assert_int_equal(cfg->routes.nadmin_users, 2);
	assert_string_equal(cfg->routes.admin_users[1], "root-admin");
	assert_string_equal(cfg->routes.naming.annotation_prefix,
	    "np.example.org/");
	assert_string_equal(cfg->routes.naming.task_label,
	    "example.org/task");
	assert_int_equal(cfg->routes.naming.nprecedence, 2);
	assert_int_equal(cfg->routes.naming.precedence[0],
	    CONFIG_ENDPOINT_SSH_ENABLED);
	assert_int_equal(cfg->routes.naming.precedence[1],
	    CONFIG_ENDPOINT_SERVICE);
	assert_string_equal(cfg->routes.kubernetes.kubeconfig,
	    "/srv/kube/config");
	assert_string_equal(cfg->routes.kubernetes.context, "prod");
	assert_int_equal(cfg->routes.kubernetes.nnamespaces, 2);
	assert_string_equal(cfg->routes.kubernetes.namespaces[1], "team-b");
	assert_string_equal(cfg->routes.kubernetes.label_selector,
	    "app=notebook");
	assert_true(cfg->routes.kubernetes.allow_insecure_tls);
	assert_true(cfg->routes.kubernetes.resolve_node_addresses);
	assert_int_equal(cfg->routes.kubernetes.request_timeout_ms, 2000);
	assert_int_equal(cfg->routes.kubernetes.watch_timeout_s, 60);
	assert_int_equal(cfg->routes.kubernetes.token_reread_s, 30);
	assert_int_equal(cfg->routes.kubernetes.backoff_max_ms, 1000);

	assert_string_equal(cfg->upstream.user, "root");
	assert_int_equal(cfg->upstream.nauth, 3);
	assert_int_equal(cfg->upstream.auth[0], CONFIG_UPSTREAM_PASSWORD);
	assert_int_equal(cfg->upstream.auth[2], CONFIG_UPSTREAM_AGENT);
	assert_null(cfg->upstream.user_key_dir);
	assert_string_equal(cfg->upstream.shared_key, "/srv/keys/shared");
	assert_int_equal(cfg->upstream.host_key_policy,
	    CONFIG_HOSTKEY_KNOWN_HOSTS);
	assert_null(cfg->upstream.host_key_annotation);
	assert_string_equal(cfg->upstream.known_hosts, "/srv/known_hosts");
	assert_int_equal(cfg->upstream.connect_timeout_ms, 100);
	assert_int_equal(cfg->upstream.auth_timeout_ms, 120000);

	assert_int_equal(cfg->limits.workers, 4);
	assert_int_equal(cfg->limits.login_grace_time_s, 10);
	assert_int_equal(cfg->limits.max_startups_begin, 5);
	assert_int_equal(cfg->limits.max_startups_rate_pct, 50);
	assert_int_equal(cfg->limits.max_startups_full, 20);
	assert_int_equal(cfg->limits.max_auth_tries, 3);
	assert_int_equal(cfg->limits.max_sessions, 500);
	assert_int_equal(cfg->limits.max_sessions_per_user, 5);
	assert_int_equal(cfg->limits.idle_timeout_s, 3600);
	assert_int_equal(cfg->limits.penalty_failures, 3);
	assert_int_equal(cfg->limits.penalty_duration_s, 0);
	assert_int_equal(cfg->limits.connect_timeout_ms, 60000);
	assert_int_equal(cfg->limits.relay_buffer_bytes, 4096);

	assert_int_equal(cfg->logging.level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg->logging.syslog_facility, LOG_LOCAL3);
	config_free(cfg);
}

static void
a_dumped_config_loads_back_unchanged(void **state)
{
	struct config *cfg, *again;
	char path[PATH_MAX], *a = NULL, *b = NULL;
	size_t alen, blen;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/config/full.yaml", data_dir());
	jg_errlist_init(&errs);
	assert_int_equal(config_load(path, &cfg, &errs), JG_OK);
	fp = open_memstream(&a, &alen);
	config_dump(cfg, fp);
	fclose(fp);
	again = load_ok(a);
	fp = open_memstream(&b, &blen);
	config_dump(again, fp);
	fclose(fp);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\n  max_startups: \"5:50:20\"\n"));
	assert_non_null(strstr(a, "\n    - {type: url, url: "
	    "\"https://platform.example/api/users/%u/keys\", timeout_ms: "
	    "1500, cache_ttl_s: 0}\n"));
	free(a);
	free(b);
	config_free(cfg);
	config_free(again);
}

static void
resolves_relative_paths_against_the_config_directory(void **state)
{
	struct config *cfg;
	char path[PATH_MAX], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/config/relative.yaml", data_dir());
	jg_errlist_init(&errs);
	assert_int_equal(config_load(path, &cfg, &errs), JG_OK);
#define WANT(rel) (snprintf(want, sizeof(want), "%s/config/%s", \
	    data_dir(), rel), want)
	assert_string_equal(cfg->host_keys.paths[0], WANT("keys/host_ed25519"));
	assert_string_equal(cfg->host_keys.paths[1], "/abs/host_rsa");
	assert_string_equal(cfg->key_sources[0].template,
	    WANT("users/%u.keys"));
	assert_string_equal(cfg->routes.static_file, WANT("routes.yaml"));
	assert_string_equal(cfg->routes.kubernetes.kubeconfig,
	    WANT("kube/config"));
	assert_string_equal(cfg->upstream.user_key_dir, WANT("user-keys"));
	assert_string_equal(cfg->upstream.shared_key, WANT("../shared_key"));
	assert_string_equal(cfg->upstream.known_hosts, WANT("known_hosts"));
#undef WANT
	config_free(cfg);

	/* A string's name gives the directory too; not the label though. */
	jg_errlist_init(&errs);
	assert_int_equal(config_load_string("/etc/jumpgate/jumpgate.yaml",
	    "routes: {static_file: r.yaml}\n", 29, &cfg, &errs), JG_OK);
	assert_string_equal(cfg->routes.static_file, "/etc/jumpgate/r.yaml");
	assert_string_equal(cfg->upstream.user, "%u");
	config_free(cfg);
	jg_errlist_init(&errs);
	assert_int_equal(config_load_string("/j.yaml",
	    "routes: {static_file: r.yaml}\n", 29, &cfg, &errs), JG_OK);
	assert_string_equal(cfg->routes.static_file, "/r.yaml");
	config_free(cfg);
}

static void
pins_relative_paths_of_a_relative_config_to_the_cwd(
    void **state)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	struct config *cfg;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(data_dir()), 0);
	jg_errlist_init(&errs);
	assert_int_equal(config_load("config/relative.yaml", &cfg, &errs),
	    JG_OK);
	assert_string_equal(cfg->path, "config/relative.yaml");
	assert_int_equal(chdir(cwd), 0);
	/* The daemon may chdir("/") later; the paths must still hold. */
	assert_int_equal(cfg->routes.static_file[0], '/');
	snprintf(want, sizeof(want), "/config/routes.yaml");
	assert_string_equal(cfg->routes.static_file +
	    strlen(cfg->routes.static_file) - strlen(want), want);
	config_free(cfg);
}

static void
reports_an_unreadable_file_with_its_path_and_reason(void **state)
{
	struct config *cfg = (struct config *)&cfg;

	jg_errlist_init(&errs);
	assert_int_equal(config_load("/nonexistent/jumpgate.yaml", &cfg,
	    &errs), JG_ERR_IO);
	assert_null(cfg);
	assert_int_equal(errs.el_count, 1);
	assert_string_equal(errs.el_msg[0], "/nonexistent/jumpgate.yaml: "
	    "cannot read: No such file or directory");
}

static void
reports_a_yaml_syntax_error_with_its_position(void **state)
{
	assert_one_error("listen:\n  - address: [1\n",
	    "t.yaml:3:1: did not find expected ',' or ']' while parsing a "
	    "flow sequence that starts at line 2, column 14");
}

static void
reports_a_duplicate_key_naming_both_lines(void **state)
{
	assert_one_error("limits:\n  workers: 1\n  workers: 2\n",
	    "t.yaml:3:3: duplicate key 'workers' (first defined at line 2, "
	    "column 3)");
}

static void
refuses_aliases_in_a_config(void **state)
{
	assert_one_error("a: &x 1\n", "t.yaml:1:4: YAML anchor 'x' refused: "
	    "anchors and aliases are not supported (write the value out in "
	    "full)");
}

static void
suggests_the_nearest_key_for_a_misspelt_one(void **state)
{
	assert_one_error("\n\nlisen:\n  - port: 22\n",
	    "t.yaml:3:1: unknown key 'lisen' (did you mean 'listen'?)");
	assert_one_error("limits:\n  max_auth_trys: 3\n",
	    "t.yaml:2:3: limits: unknown key 'max_auth_trys' (did you mean "
	    "'max_auth_tries'?)");
	assert_one_error("routes:\n  kubernetes:\n    namespace: [a]\n",
	    "t.yaml:3:5: routes.kubernetes: unknown key 'namespace' (did you "
	    "mean 'namespaces'?)");
	assert_one_error("listen:\n  - {adress: \"::1\"}\n",
	    "t.yaml:2:6: listen[0]: unknown key 'adress' (did you mean "
	    "'address'?)");
}

static void
lists_the_valid_keys_when_nothing_is_close(void **state)
{
	assert_one_error("logging:\n  colour: true\n",
	    "t.yaml:2:3: logging: unknown key 'colour' (expected one of: "
	    "level, syslog_facility)");
}

static void
says_where_a_key_in_the_wrong_section_belongs(void **state)
{
	assert_one_error("max_auth_tries: 3\n",
	    "t.yaml:1:1: unknown key 'max_auth_tries' (did you mean "
	    "'limits.max_auth_tries'? it belongs in another section)");
}

static void
refuses_a_dotted_key(void **state)
{
	assert_has_error("limits.workers: 3\n",
	    "t.yaml:1:1: unknown key 'limits.workers'");
}

static void
reports_wrong_types_with_what_was_expected(void **state)
{
	assert_one_error("limits:\n  - workers: 1\n",
	    "t.yaml:2:3: limits: expected a mapping, got a sequence");
	assert_one_error("[1, 2]\n",
	    "t.yaml:1:1: expected a mapping at the top level, got a sequence");
	assert_one_error("host_keys:\n  paths: /etc/key\n",
	    "t.yaml:2:10: host_keys.paths: expected a sequence of paths, at "
	    "least one, got a scalar");
	assert_one_error("limits:\n  workers: {a: 1}\n",
	    "t.yaml:2:12: limits.workers: expected an integer 0..256, got a "
	    "mapping");
	assert_one_error("upstream:\n  user:\n",
	    "t.yaml:2:8: upstream.user: expected a string, got null");
	assert_one_error("listen: 2222\n",
	    "t.yaml:1:9: listen: expected a sequence of {address, port} "
	    "mappings, at least one, got a scalar");
	assert_one_error("listen: [2222]\n",
	    "t.yaml:1:10: listen[0]: expected a mapping with address and "
	    "port, got a scalar");
}

static void
reports_a_number_out_of_range_with_its_bounds_and_unit(void **state)
{
	assert_one_error("limits:\n  max_auth_tries: 0\n",
	    "t.yaml:2:19: limits.max_auth_tries: 0 is out of range (expected "
	    "an integer 1..100)");
	assert_one_error("limits:\n  login_grace_time_s: 3601\n",
	    "t.yaml:2:23: limits.login_grace_time_s: 3601 is out of range "
	    "(expected an integer 1..3600, in seconds)");
	assert_one_error("listen:\n  - port: 65536\n",
	    "t.yaml:2:11: listen[0].port: 65536 is out of range (expected an "
	    "integer 1..65535)");
	assert_one_error(
	    "limits:\n  relay_buffer_bytes: 99999999999999999999\n",
	    "t.yaml:2:23: limits.relay_buffer_bytes: 99999999999999999999 is "
	    "out of range (expected an integer 4096..16777216, in bytes)");
	assert_one_error("limits:\n  idle_timeout_s: -1\n",
	    "t.yaml:2:19: limits.idle_timeout_s: -1 is out of range (expected "
	    "an integer 0..604800, in seconds)");
}

static void
refuses_numbers_with_units_or_other_bases(void **state)
{
	assert_one_error("upstream:\n  connect_timeout_ms: 5s\n",
	    "t.yaml:2:23: upstream.connect_timeout_ms: '5s' is not an integer "
	    "(expected an integer 100..60000, in milliseconds)");
	assert_has_error("limits:\n  workers: 0x10\n",
	    "limits.workers: '0x10' is not an integer");
	assert_has_error("limits:\n  workers: 1.5\n",
	    "limits.workers: '1.5' is not an integer");
}

static void
accepts_only_true_or_false_for_a_boolean(void **state)
{
	struct config *cfg;

	assert_one_error("host_keys:\n  generate: yes\n",
	    "t.yaml:2:13: host_keys.generate: 'yes' is not allowed (expected "
	    "true or false)");
	cfg = load_ok("host_keys:\n  generate: False\n");
	assert_false(cfg->host_keys.generate);
	config_free(cfg);
}

static void
lists_the_allowed_values_of_an_enum(void **state)
{
	assert_one_error("routes:\n  source: k8s\n",
	    "t.yaml:2:11: routes.source: 'k8s' is not allowed (expected one "
	    "of: static, kubernetes)");
	assert_one_error("logging:\n  level: trace\n",
	    "t.yaml:2:10: logging.level: 'trace' is not allowed (expected one "
	    "of: error, warn, info, verbose, debug)");
	assert_has_error("logging:\n  syslog_facility: local8\n",
	    "t.yaml:2:20: logging.syslog_facility: 'local8' is not allowed "
	    "(expected one of: auth, authpriv, daemon, local0,");
}

static void
refuses_a_name_listed_twice_or_an_empty_method_list(void **state)
{
	assert_one_error("upstream:\n  auth: [key, agent, key]\n",
	    "t.yaml:2:22: upstream.auth[2]: 'key' is listed twice (expected a "
	    "sequence of agent, key, password, each at most once, at least "
	    "one)");
	assert_one_error("upstream:\n  auth: []\n",
	    "t.yaml:2:9: upstream.auth: must not be empty (expected a "
	    "sequence of agent, key, password, each at most once, at least "
	    "one)");
	assert_one_error(
	    "routes:\n  naming:\n    endpoint_precedence: [service, pod]\n",
	    "t.yaml:3:36: routes.naming.endpoint_precedence[1]: 'pod' is not "
	    "allowed (expected a sequence of service, annotation, "
	    "ssh-enabled, each at most once, at least one)");
}

static void
refuses_an_empty_host_key_list(void **state)
{
	assert_one_error("host_keys:\n  paths: []\n",
	    "t.yaml:2:10: host_keys.paths: must not be empty (expected a "
	    "sequence of paths, at least one)");
}

static void
requires_percent_u_in_key_templates(void **state)
{
	assert_one_error("users:\n  key_sources:\n    - type: authorized_keys\n"
	    "      path: /etc/keys/all\n",
	    "t.yaml:4:13: users.key_sources[0].path: '/etc/keys/all' has no "
	    "%u (expected a path containing %u)");
	assert_one_error("users:\n  key_sources:\n    - type: url\n"
	    "      url: https://k.example/keys\n",
	    "t.yaml:4:12: users.key_sources[0].url: 'https://k.example/keys' "
	    "has no %u (expected an https:// URL containing %u; http:// only "
	    "to a loopback host)");
}

static void
allows_plain_http_only_to_a_loopback_key_service(void **state)
{
	struct config *cfg;

	assert_has_error("users:\n  key_sources:\n    - type: url\n"
	    "      url: http://keys.example/%u\n",
	    "t.yaml:4:12: users.key_sources[0].url: uses http:// to a host "
	    "that is not loopback: 'http://keys.example/%u'");
	assert_has_error("users:\n  key_sources:\n    - type: url\n"
	    "      url: ftp://keys.example/%u\n",
	    "users.key_sources[0].url: is not an https:// URL");
	assert_has_error("users:\n  key_sources:\n    - type: url\n"
	    "      url: http://127.evil.example/%u\n",
	    "uses http:// to a host that is not loopback");
	cfg = load_ok("users:\n  key_sources:\n"
	    "    - {type: url, url: \"http://localhost:8080/k/%u\"}\n"
	    "    - {type: url, url: \"http://[::1]/k/%u\"}\n"
	    "    - {type: url, url: \"http://user@127.0.0.2/k/%u\"}\n");
	assert_int_equal(cfg->nkey_sources, 3);
	assert_int_equal(cfg->key_sources[1].type, CONFIG_KEYS_URL);
	config_free(cfg);
}

static void
refuses_key_source_keys_that_do_not_fit_its_type(void **state)
{
	assert_one_error("users:\n  key_sources:\n    - type: url\n"
	    "      path: /k/%u\n      url: https://k/%u\n",
	    "t.yaml:4:13: users.key_sources[0].path: only valid with type "
	    "authorized_keys (this source has type url)");
	assert_one_error("users:\n  key_sources:\n"
	    "    - {path: /k/%u, timeout_ms: 100}\n",
	    "t.yaml:3:33: users.key_sources[0].timeout_ms: only valid with "
	    "type url (this source has type authorized_keys)");
	assert_one_error("users:\n  key_sources:\n    - type: url\n",
	    "t.yaml:3:7: users.key_sources[0]: key url is required with type "
	    "url");
	assert_one_error("users:\n  key_sources: []\n",
	    "t.yaml:2:16: users.key_sources: must not be empty (expected at "
	    "least one key source)");
}

static void
requires_static_file_when_routes_are_static(void **state)
{
	assert_one_error("routes:\n  source: static\n  static_file: null\n",
	    "t.yaml:3:16: routes.static_file: is required when routes.source "
	    "is static (expected a path)");
	assert_one_error("routes:\n  static_file: ~\n",
	    "t.yaml:2:16: routes.static_file: is required when routes.source "
	    "is static (expected a path)");
}

static void
requires_the_file_or_annotation_of_the_host_key_policy(void **state)
{
	assert_one_error("upstream:\n  host_key_policy: known_hosts\n",
	    "t.yaml:2:20: upstream.known_hosts: is required when "
	    "upstream.host_key_policy is known_hosts (expected a path)");
	assert_one_error("upstream:\n  host_key_policy: annotation\n"
	    "  host_key_annotation: null\n",
	    "t.yaml:3:24: upstream.host_key_annotation: is required when "
	    "upstream.host_key_policy is annotation (expected an annotation "
	    "key)");
	assert_one_error("upstream:\n  auth: [key]\n  user_key_dir: null\n",
	    "t.yaml:2:9: upstream.auth: 'key' needs upstream.user_key_dir or "
	    "upstream.shared_key (expected a path in one of them)");
}

static void
parses_max_startups_like_sshd(void **state)
{
	struct config *cfg;

	cfg = load_ok("limits:\n  max_startups: 20\n");
	assert_int_equal(cfg->limits.max_startups_begin, 20);
	assert_int_equal(cfg->limits.max_startups_rate_pct, 100);
	assert_int_equal(cfg->limits.max_startups_full, 20);
	config_free(cfg);
	cfg = load_ok("limits:\n  max_startups: \"1:1:1\"\n");
	assert_int_equal(cfg->limits.max_startups_full, 1);
	config_free(cfg);
	assert_one_error("limits:\n  max_startups: \"30:10:20\"\n",
	    "t.yaml:2:17: limits.max_startups: '30:10:20' is not valid "
	    "(expected \"start:rate:full\" with 1 <= start <= full <= 1000000 "
	    "and rate 1..100, or a bare \"N\")");
	assert_has_error("limits:\n  max_startups: \"10:0:20\"\n",
	    "'10:0:20' is not valid");
	assert_has_error("limits:\n  max_startups: \"10:30\"\n",
	    "'10:30' is not valid");
	assert_has_error("limits:\n  max_startups: \"1:2:3:4\"\n",
	    "'1:2:3:4' is not valid");
}

static void
refuses_more_sessions_per_user_than_in_all(void **state)
{
	assert_one_error("limits:\n  max_sessions: 10\n"
	    "  max_sessions_per_user: 11\n",
	    "t.yaml:3:26: limits.max_sessions_per_user: 11 is more than "
	    "limits.max_sessions 10 (expected at most max_sessions)");
}

static void
checks_listen_addresses_and_duplicates(void **state)
{
	struct config *cfg;

	assert_one_error("listen:\n  - address: localhost\n",
	    "t.yaml:2:14: listen[0].address: 'localhost' is not an IP address "
	    "(expected an IPv4 or IPv6 address, or \"*\")");
	assert_one_error("listen:\n  - {address: \"::1\", port: 22}\n"
	    "  - {address: \"::1\", port: 22}\n",
	    "t.yaml:3:5: listen[1]: ::1 port 22 is already listed as "
	    "listen[0]");
	assert_one_error("listen: []\n",
	    "t.yaml:1:9: listen: must not be empty (expected at least one "
	    "listen address)");
	cfg = load_ok("listen:\n  - port: 22\n  - address: \"fe80::1\"\n");
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 22);
	assert_int_equal(cfg->listen[1].port, 2222);
	config_free(cfg);
}

static void
checks_names_that_must_match_kubernetes_and_user_grammar(void **state)
{
	struct config *cfg;

	assert_one_error("routes:\n  kubernetes:\n    namespaces: [Team_A]\n",
	    "t.yaml:3:18: routes.kubernetes.namespaces[0]: 'Team_A' is not a "
	    "valid namespace name (expected a sequence of namespace names)");
	assert_one_error("routes:\n  naming:\n    owner_label: \"a b\"\n",
	    "t.yaml:3:18: routes.naming.owner_label: 'a b' is not a valid "
	    "Kubernetes key (expected a label or annotation key)");
	assert_one_error("routes:\n  naming:\n    annotation_prefix: x.io\n",
	    "t.yaml:3:24: routes.naming.annotation_prefix: 'x.io' is not a "
	    "DNS name followed by '/' (expected an annotation prefix ending "
	    "in '/')");
	assert_one_error("routes:\n  admin_users: [alice, \"-rf\"]\n",
	    "t.yaml:2:24: routes.admin_users[1]: '-rf' is not a valid user "
	    "name (expected a sequence of user names)");
	cfg = load_ok("routes:\n  admin_users:\n  kubernetes:\n"
	    "    namespaces: []\n");
	assert_int_equal(cfg->routes.nadmin_users, 0);
	assert_int_equal(cfg->routes.kubernetes.nnamespaces, 0);
	config_free(cfg);
}

static void
refuses_a_home_directory_tilde_in_paths(void **state)
{
	assert_one_error("upstream:\n  shared_key: ~/.ssh/id_ed25519\n",
	    "t.yaml:2:15: upstream.shared_key: '~/.ssh/id_ed25519': ~ is not "
	    "expanded (expected a path or null)");
}

static void
refuses_a_nul_byte_in_a_string(void **state)
{
	assert_one_error("upstream:\n  user: \"ro\\0ot\"\n",
	    "t.yaml:2:9: upstream.user: 'ro\\x00ot' contains a NUL byte "
	    "(expected a string)");
}

static void
reports_every_error_of_a_file_at_once(void **state)
{
	struct config *cfg = (struct config *)&cfg;
	char path[PATH_MAX];
	const char *name;
	size_t i;

	snprintf(path, sizeof(path), "%s/config/many-errors.yaml",
	    data_dir());
	jg_errlist_init(&errs);
	assert_int_equal(config_load(path, &cfg, &errs), JG_ERR_CONFIG);
	assert_null(cfg);
	assert_int_equal(errs.el_count, 5);
	/* Messages name the file exactly as it was given. */
	for (i = 0; i < errs.el_count; i++)
		assert_int_equal(strncmp(errs.el_msg[i], path, strlen(path)),
		    0);
	name = errs.el_msg[0] + strlen(path);
	assert_string_equal(name, ":3:14: listen[0].address: 'localhost' is "
	    "not an IP address (expected an IPv4 or IPv6 address, or \"*\")");
	assert_string_equal(errs.el_msg[1] + strlen(path), ":4:11: "
	    "listen[0].port: 0 is out of range (expected an integer "
	    "1..65535)");
	assert_string_equal(errs.el_msg[2] + strlen(path), ":6:19: "
	    "limits.max_auth_tries: 'many' is not an integer (expected an "
	    "integer 1..100)");
	assert_string_equal(errs.el_msg[3] + strlen(path), ":7:12: "
	    "limits.workers: 300 is out of range (expected an integer "
	    "0..256)");
	assert_string_equal(errs.el_msg[4] + strlen(path), ":9:3: logging: "
	    "unknown key 'levle' (did you mean 'level'?)");
}

static void
quotes_untrusted_values_safely_and_briefly(void **state)
{
	char text[512];
	const char *got;

	snprintf(text, sizeof(text), "routes:\n  source: \"%s\\e[31m\"\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaa");
	got = load_bad(text);
	assert_null(strchr(got, '\033'));
	assert_non_null(strstr(got, "aaaa...' is not allowed"));
	assert_int_equal(errs.el_count, 1);
}

static void
writes_a_reference_that_names_every_key(void **state)
{
	static const char *const keys[] = {
		"`listen[].port`", "`host_keys.paths`",
		"`users.key_sources[].cache_ttl_s`", "`routes.static_file`",
		"`routes.naming.endpoint_precedence`",
		"`routes.kubernetes.backoff_max_ms`", "`upstream.known_hosts`",
		"`limits.relay_buffer_bytes`", "`logging.syslog_facility`",
	};
	char *ref = NULL;
	size_t len, i;
	FILE *fp;

	fp = open_memstream(&ref, &len);
	config_reference(fp);
	fclose(fp);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(strstr(ref, keys[i]));
	assert_non_null(strstr(ref, "| `limits.max_auth_tries` | integer | "
	    "`6` | 1..100 |"));
	assert_non_null(strstr(ref, "| `limits.login_grace_time_s` | integer "
	    "| `30` | 1..3600 seconds |"));
	free(ref);
}

static void
names_endpoint_kinds(void **state)
{
	assert_string_equal(config_endpoint_kind_name(
	    CONFIG_ENDPOINT_ANNOTATION), "annotation");
	assert_string_equal(config_endpoint_kind_name(
	    CONFIG_ENDPOINT_SSH_ENABLED), "ssh-enabled");
	assert_string_equal(config_endpoint_kind_name(
	    CONFIG_ENDPOINT_SERVICE), "service");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    new_default_has_every_default_and_no_listen_address),
		cmocka_unit_test(
		    an_empty_file_gives_defaults_and_listens_on_loopback),
		cmocka_unit_test(
		    the_shipped_config_loads_and_states_every_default),
		cmocka_unit_test(loads_every_section_of_a_full_config),
		cmocka_unit_test(a_dumped_config_loads_back_unchanged),
		cmocka_unit_test(
		    resolves_relative_paths_against_the_config_directory),
		cmocka_unit_test(
		    pins_relative_paths_of_a_relative_config_to_the_cwd),
		cmocka_unit_test(
		    reports_an_unreadable_file_with_its_path_and_reason),
		cmocka_unit_test(reports_a_yaml_syntax_error_with_its_position),
		cmocka_unit_test(reports_a_duplicate_key_naming_both_lines),
		cmocka_unit_test(refuses_aliases_in_a_config),
		cmocka_unit_test(suggests_the_nearest_key_for_a_misspelt_one),
		cmocka_unit_test(lists_the_valid_keys_when_nothing_is_close),
		cmocka_unit_test(says_where_a_key_in_the_wrong_section_belongs),
		cmocka_unit_test(refuses_a_dotted_key),
		cmocka_unit_test(reports_wrong_types_with_what_was_expected),
		cmocka_unit_test(
		    reports_a_number_out_of_range_with_its_bounds_and_unit),
		cmocka_unit_test(refuses_numbers_with_units_or_other_bases),
		cmocka_unit_test(accepts_only_true_or_false_for_a_boolean),
		cmocka_unit_test(lists_the_allowed_values_of_an_enum),
		cmocka_unit_test(
		    refuses_a_name_listed_twice_or_an_empty_method_list),
		cmocka_unit_test(refuses_an_empty_host_key_list),
		cmocka_unit_test(requires_percent_u_in_key_templates),
		cmocka_unit_test(
		    allows_plain_http_only_to_a_loopback_key_service),
		cmocka_unit_test(
		    refuses_key_source_keys_that_do_not_fit_its_type),
		cmocka_unit_test(requires_static_file_when_routes_are_static),
		cmocka_unit_test(
		    requires_the_file_or_annotation_of_the_host_key_policy),
		cmocka_unit_test(parses_max_startups_like_sshd),
		cmocka_unit_test(refuses_more_sessions_per_user_than_in_all),
		cmocka_unit_test(checks_listen_addresses_and_duplicates),
		cmocka_unit_test(
		    checks_names_that_must_match_kubernetes_and_user_grammar),
		cmocka_unit_test(refuses_a_home_directory_tilde_in_paths),
		cmocka_unit_test(refuses_a_nul_byte_in_a_string),
		cmocka_unit_test(reports_every_error_of_a_file_at_once),
		cmocka_unit_test(quotes_untrusted_values_safely_and_briefly),
		cmocka_unit_test(writes_a_reference_that_names_every_key),
		cmocka_unit_test(names_endpoint_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
