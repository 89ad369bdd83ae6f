/*
 * relay_direct.c: direct mode, not built yet.  A USER+JOB login is told
 * so and pointed at jump mode.  Owns the handed-over session until it is
 * closed here, on the calling worker thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "log.h"
#include "relay_direct.h"

void
relay_direct_start(const struct direct_handoff *h)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "jumpgate: direct mode (ssh %s+%s@gateway) "
	    "is not available yet; use jump mode: ssh -J %s@%s:%u %s@%s",
	    h->dh_name.np_user, h->dh_name.np_job, h->dh_name.np_user,
	    h->dh_laddr, h->dh_lport, h->dh_name.np_user, h->dh_name.np_job);
	log_info("refused direct session for %s from %s port %u: direct mode "
	    "is not built", h->dh_name.np_user, h->dh_addr, h->dh_port);
	ssh_session_set_disconnect_message(h->dh_ssh, msg);
	ssh_disconnect(h->dh_ssh);
	ssh_free(h->dh_ssh);
	authkeys_unref(h->dh_keys);
	admission_session_end(h->dh_admission, h->dh_name.np_user);
}

void
relay_direct_stop_all(void)
{
}

size_t
relay_direct_count(void)
{
	return 0;
}
