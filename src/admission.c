/*
 * admission.c: MaxStartups random early drop, per-source penalties and
 * session caps.  Owns only counters and two bounded tables; knows nothing
 * of libssh.  Any thread: one mutex guards the tables, counters are atomic.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "admission.h"
#include "name.h"

#define ADM_ADDR_MAX	64
#define ADM_USERS_MAX	65536

struct adm_source {
	char		as_addr[ADM_ADDR_MAX];	/* "" = free slot */
	uint32_t	as_pending;		/* unauthenticated now */
	uint32_t	as_failures;
	uint64_t	as_until_ms;		/* penalty end, monotonic */
	uint64_t	as_seen_ms;
};

struct adm_user {
	char		au_user[NAME_USER_MAX + 1];	/* "" = free slot */
	uint32_t	au_sessions;
};

struct admission {
	pthread_mutex_t	 adm_lock;
	struct config_limits adm_limits;	/* guarded by adm_lock */
	atomic_size_t	 adm_startups;
	atomic_size_t	 adm_sessions;
	/* Open addressing keeps both tables bounded at creation. */
	struct adm_source *adm_sources;
	struct adm_user	*adm_users;
	unsigned int	 adm_seed;
};

static uint64_t
adm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a: tables are small and keys short; no need for more. */
static size_t
adm_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct admission *
admission_new(const struct config_limits *limits)
{
	struct admission *adm;

	if ((adm = calloc(1, sizeof(*adm))) == NULL)
		return NULL;
	adm->adm_sources = calloc(ADMISSION_SOURCES_MAX,
	    sizeof(*adm->adm_sources));
	adm->adm_users = calloc(ADM_USERS_MAX, sizeof(*adm->adm_users));
	if (adm->adm_sources == NULL || adm->adm_users == NULL) {
		free(adm->adm_sources);
		free(adm->adm_users);
		free(adm);
		return NULL;
	}
	pthread_mutex_init(&adm->adm_lock, NULL);
	adm->adm_limits = *limits;
	adm->adm_seed = (unsigned int)adm_now_ms();
	return adm;
}

void
admission_free(struct admission *adm)
{
	if (adm == NULL)
		return;
	pthread_mutex_destroy(&adm->adm_lock);
	free(adm->adm_sources);
	free(adm->adm_users);
	free(adm);
}

void
admission_set_limits(struct admission *adm, const struct config_limits *limits)
{
	pthread_mutex_lock(&adm->adm_lock);
	adm->adm_limits = *limits;
	pthread_mutex_unlock(&adm->adm_lock);
}

/*
 * Finds addr's slot, or a slot to put it in.  When the probe window is
 * full, the entry seen longest ago is reused: an attacker cycling through
 * many sources can only evict, never grow, the table.  Lock held.
 */
static struct adm_source *
adm_source_slot(struct admission *adm, const char *addr, bool create)
{
	size_t i, h, probe;
	struct adm_source *s, *oldest = NULL;

	h = adm_hash(addr);
	for (probe = 0; probe < 32; probe++) {
		i = (h + probe) % ADMISSION_SOURCES_MAX;
		s = &adm->adm_sources[i];
		if (strcmp(s->as_addr, addr) == 0)
			return s;
		if (s->as_addr[0] == '\0') {
			if (!create)
				return NULL;
			oldest = s;
			break;
		}
		if (oldest == NULL || s->as_seen_ms < oldest->as_seen_ms)
			oldest = s;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->as_addr, sizeof(oldest->as_addr), "%s", addr);
	return oldest;
}

enum jg_err
admission_startup_begin(struct admission *adm, const char *addr, char *why,
    size_t whylen)
{
	struct adm_source *src;
	size_t n;
	uint32_t begin, rate, full, p;
	uint64_t now = adm_now_ms();
	enum jg_err rc = JG_OK;

	pthread_mutex_lock(&adm->adm_lock);
	src = adm_source_slot(adm, addr, false);
	if (src != NULL && src->as_until_ms > now) {
		jg_detail(why, whylen, "penalty: failed authentication, "
		    "%llu s left",
		    (unsigned long long)((src->as_until_ms - now + 999) / 1000));
		pthread_mutex_unlock(&adm->adm_lock);
		return JG_ERR_DENIED;
	}
	begin = adm->adm_limits.max_startups_begin;
	rate = adm->adm_limits.max_startups_rate_pct;
	full = adm->adm_limits.max_startups_full;
	n = atomic_load(&adm->adm_startups);
	if (adm->adm_limits.max_startups_per_source > 0 && src != NULL &&
	    src->as_pending >= adm->adm_limits.max_startups_per_source) {
		jg_detail(why, whylen, "past PerSourceMaxStartups (%u pending "
		    "from this address)", src->as_pending);
		pthread_mutex_unlock(&adm->adm_lock);
		return JG_ERR_LIMIT;
	}
	if (n >= full) {
		rc = JG_ERR_LIMIT;
	} else if (n >= begin) {
		/*
		 * sshd's MaxStartups start:rate:full: at `start` pending
		 * connections drop rate%, rising linearly to 100% at `full`.
		 */
		p = rate + (uint32_t)((100 - rate) * (n - begin) /
		    (full > begin ? full - begin : 1));
		if ((uint32_t)(rand_r(&adm->adm_seed) % 100) < p)
			rc = JG_ERR_LIMIT;
	}
	if (rc == JG_ERR_LIMIT)
		jg_detail(why, whylen, "past MaxStartups (%zu pending, "
		    "limits %u:%u:%u)", n, begin, rate, full);
	else {
		atomic_fetch_add(&adm->adm_startups, 1);
		if (adm->adm_limits.max_startups_per_source > 0 &&
		    (src = adm_source_slot(adm, addr, true)) != NULL) {
			src->as_pending++;
			src->as_seen_ms = now;
		}
	}
	pthread_mutex_unlock(&adm->adm_lock);
	return rc;
}

void
admission_startup_done(struct admission *adm, const char *addr)
{
	struct adm_source *src;

	atomic_fetch_sub(&adm->adm_startups, 1);
	pthread_mutex_lock(&adm->adm_lock);
	if ((src = adm_source_slot(adm, addr, false)) != NULL &&
	    src->as_pending > 0)
		src->as_pending--;
	pthread_mutex_unlock(&adm->adm_lock);
}

size_t
admission_startups(const struct admission *adm)
{
	return atomic_load(&((struct admission *)adm)->adm_startups);
}

void
admission_auth_failed(struct admission *adm, const char *addr)
{
	struct adm_source *src;
	uint64_t now = adm_now_ms();

	pthread_mutex_lock(&adm->adm_lock);
	if ((src = adm_source_slot(adm, addr, true)) != NULL) {
		src->as_seen_ms = now;
		if (++src->as_failures >= adm->adm_limits.penalty_failures &&
		    adm->adm_limits.penalty_duration_s > 0) {
			src->as_until_ms = now +
			    (uint64_t)adm->adm_limits.penalty_duration_s * 1000;
			src->as_failures = 0;
		}
	}
	pthread_mutex_unlock(&adm->adm_lock);
}

void
admission_auth_succeeded(struct admission *adm, const char *addr)
{
	struct adm_source *src;

	pthread_mutex_lock(&adm->adm_lock);
	if ((src = adm_source_slot(adm, addr, false)) != NULL)
		src->as_failures = 0;
	pthread_mutex_unlock(&adm->adm_lock);
}

/* Lock held.  Returns NULL only when the table is full. */
static struct adm_user *
adm_user_slot(struct admission *adm, const char *user, bool create)
{
	size_t i, h, probe;
	struct adm_user *u;

	h = adm_hash(user);
	for (probe = 0; probe < ADM_USERS_MAX; probe++) {
		i = (h + probe) % ADM_USERS_MAX;
		u = &adm->adm_users[i];
		if (strcmp(u->au_user, user) == 0)
			return u;
		if (u->au_user[0] == '\0') {
			if (!create)
				return NULL;
			snprintf(u->au_user, sizeof(u->au_user), "%s", user);
			return u;
		}
	}
	return NULL;
}

enum jg_err
admission_session_begin(struct admission *adm, const char *user, char *why,
    size_t whylen)
{
	struct adm_user *u;
	enum jg_err rc = JG_OK;

	pthread_mutex_lock(&adm->adm_lock);
	if (atomic_load(&adm->adm_sessions) >= adm->adm_limits.max_sessions) {
		jg_detail(why, whylen, "the gateway is at its session limit "
		    "(%u); try again later", adm->adm_limits.max_sessions);
		rc = JG_ERR_LIMIT;
	} else if ((u = adm_user_slot(adm, user, true)) == NULL) {
		jg_detail(why, whylen, "the gateway tracks too many users");
		rc = JG_ERR_LIMIT;
	} else if (u->au_sessions >= adm->adm_limits.max_sessions_per_user) {
		jg_detail(why, whylen, "too many sessions for %s (limit %u)",
		    user, adm->adm_limits.max_sessions_per_user);
		rc = JG_ERR_LIMIT;
	} else {
		u->au_sessions++;
		atomic_fetch_add(&adm->adm_sessions, 1);
	}
	pthread_mutex_unlock(&adm->adm_lock);
	return rc;
}

void
admission_session_end(struct admission *adm, const char *user)
{
	struct adm_user *u;

	pthread_mutex_lock(&adm->adm_lock);
	/* Slots stay claimed once used (tombstone-free probing); a count of
	 * zero is as good as absent. */
	if ((u = adm_user_slot(adm, user, false)) != NULL &&
	    u->au_sessions > 0) {
		u->au_sessions--;
		atomic_fetch_sub(&adm->adm_sessions, 1);
	}
	pthread_mutex_unlock(&adm->adm_lock);
}

size_t
admission_sessions(const struct admission *adm)
{
	return atomic_load(&((struct admission *)adm)->adm_sessions);
}
