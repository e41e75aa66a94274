/*
 * The connect contract (DESIGN.md "Finding the server"): every tool finds
 * the server, starts the bundled one when it may, and logs in the same
 * way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/path.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"
#include "base/banned.h"

static int autostart_default(void)
{
	const char *v = getenv("VIBES_IGGY_AUTOSTART");

	if (v == NULL || *v == 0)
		return 1;
	return !(strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		 strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0);
}

/*
 * Picks the credentials for connect: options > URL > environment >
 * credentials file > iggy/iggy.
 */
static int connect_creds(struct vb_ctl *c, const struct vb_ctl_opts *o,
			 const char *url_user, const char *url_pass,
			 struct vb_buf *user, struct vb_buf *pass,
			 struct vb_err *e)
{
	if (vb_ctl_credentials(c, user, pass, e))
		return -1;
	if (url_user[0]) {
		vb_buf_reset(user);
		vb_buf_reset(pass);
		vb_buf_addstr(user, url_user);
		vb_buf_addstr(pass, url_pass);
	}
	if (o->user) {
		vb_buf_reset(user);
		vb_buf_addstr(user, o->user);
	}
	if (o->pass) {
		vb_buf_reset(pass);
		vb_buf_addstr(pass, o->pass);
	}
	return 0;
}

/* The data dir's own server is known not to run (no lock holder). */
static int own_server_down(struct vb_ctl *c)
{
	struct vb_ctl_status st;

	if (vb_ctl_probe(c, &st, NULL) < 0)
		return 0;
	return st.state != VB_CTL_RUNNING && st.super_pid == 0;
}

static void note(const struct vb_ctl_opts *o, enum vb_ctl_note what,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(const struct vb_ctl_opts *o, enum vb_ctl_note what,
		 const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (o->notice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->notice(o->notice_arg, what, msg);
}

/*
 * A follower and a server stopped by `vibes-iggyctl stop`: says so once
 * and waits until server.down is gone (`vibes-iggyctl start`) or *stop.
 */
static int wait_down(struct vb_ctl *c, const struct vb_ctl_opts *o,
		     struct vb_err *e)
{
	char why[256], cmd[600];

	if (!vb_ctl_down_read(c, why, sizeof(why)))
		return 0;
	vb_ctl_iggyctl_cmd(c, "start", cmd, sizeof(cmd));
	note(o, VB_CTL_NOTE_WAITING,
	     "the server of data dir %s was %s; waiting until '%s'",
	     (char *)c->dir.p, why, cmd);
	while (vb_ctl_down_read(c, why, sizeof(why))) {
		if (o->stop && *o->stop)
			return vb_err_set(e, VB_E_DOWN,
					  "interrupted while waiting for the server of data dir %s (%s)",
					  (char *)c->dir.p, why);
		vb_ctl_sleep_ms(200);
	}
	return 0;
}

/*
 * Starts the data dir's server as `ensure` does and connects to it.  A
 * server stopped by `vibes-iggyctl stop` is not started (VB_E_DOWN), or
 * waited for (wait_down).
 */
static int start_own(struct vb_ctl *c, const struct vb_ctl_opts *o,
		     struct vb_client *cl, struct vb_err *e)
{
	struct vb_ctl_status st;
	char addr[300];
	int rc;

	if (vb_ctl_setup(c, o->data_dir, o->server_bin, e)) {
		vb_err_prefix(e, "cannot start the server");
		return -1;
	}
	for (;;) {
		rc = vb_ctl_start(c, VB_CTL_ENSURE | VB_CTL_AUTOSTART, &st, e);
		if (rc >= 0)
			break;
		if (e->kind != VB_E_DOWN) {
			vb_err_prefix(e, "cannot start the server");
			return -1;
		}
		if (!o->wait_down || wait_down(c, o, e))
			return -1;
	}
	if (rc == 0)
		note(o, VB_CTL_NOTE_STARTED,
		     "started the server: pid %ld, %s, data dir %s",
		     (long)st.pid, st.addr, (char *)c->dir.p);
	if (!vb_ctl_read_addr(c, addr, sizeof(addr)))
		return vb_err_set(e, VB_E_UNAVAIL, "the started server wrote "
				  "no server.addr in %s", (char *)c->dir.p);
	if (vb_client_set_addr(cl, addr, e) || vb_client_connect(cl, e))
		return -1;
	return 0;
}

/* Resolves the credentials and logs in; closes the connection on failure. */
static int login(struct vb_ctl *c, const struct vb_ctl_opts *o,
		 struct vb_client *cl, const char *url_user,
		 const char *url_pass, struct vb_buf *user, struct vb_buf *pass,
		 struct vb_err *e)
{
	if (connect_creds(c, o, url_user, url_pass, user, pass, e))
		return -1;
	if (vb_client_login(cl, (char *)user->p, (char *)pass->p, NULL, e)) {
		vb_client_close(cl);
		return -1;
	}
	return 0;
}

int vb_ctl_connect(struct vb_client *cl, const struct vb_ctl_opts *o,
		   struct vb_err *e)
{
	struct vb_ctl c;
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT;
	struct vb_err tmp;
	char addr[300], url_user[256], url_pass[256];
	const char *env_addr = getenv("VIBES_IGGY_ADDR");
	int explicit_addr = 0, autostart, rc = -1;

	if (e == NULL)
		e = &tmp;
	vb_ctl_init(&c);
	if (o->timeout_ms > 0)
		c.start_timeout_ms = o->timeout_ms;
	autostart = o->autostart >= 0 ? o->autostart : autostart_default();
	if (vb_path_data_dir(&c.dir, o->data_dir, e))
		goto out;
	if (o->server && *o->server) {
		strlcpy(addr, o->server, sizeof(addr));
		explicit_addr = 1;
	} else if (env_addr && *env_addr) {
		strlcpy(addr, env_addr, sizeof(addr));
		explicit_addr = 1;
	} else if (!vb_ctl_read_addr(&c, addr, sizeof(addr))) {
		strlcpy(addr, VB_CTL_DEFAULT_ADDR, sizeof(addr));
	}
	cl->user[0] = 0;
	cl->pass[0] = 0;
	if (vb_client_set_addr(cl, addr, e))
		goto out;
	strlcpy(url_user, cl->user, sizeof(url_user));
	strlcpy(url_pass, cl->pass, sizeof(url_pass));
	if (o->timeout_ms > 0)
		cl->timeout_ms = o->timeout_ms;
	if (vb_client_connect(cl, e)) {
		if (e->kind != VB_E_UNAVAIL || explicit_addr ||
		    !autostart || start_own(&c, o, cl, e))
			goto out;
	}
	if (login(&c, o, cl, url_user, url_pass, &user, &pass, e)) {
		/*
		 * Nothing was named, so we reached whatever answers on the
		 * data dir's last address or on 127.0.0.1:8090, and it refused
		 * this data dir's credentials: it is some other server (a
		 * second data dir's, or another program's).  When our own
		 * server is not running, start it (it takes a free port),
		 * exactly as if nothing had answered.
		 */
		if (e->kind != VB_E_AUTH || explicit_addr ||
		    !autostart || o->user || o->pass || url_user[0] ||
		    getenv("VIBES_IGGY_USERNAME") || !own_server_down(&c) ||
		    start_own(&c, o, cl, e) ||
		    login(&c, o, cl, url_user, url_pass, &user, &pass, e))
			goto out;
	}
	/* Kept for callers that reconnect and log in again. */
	strlcpy(cl->user, (char *)user.p, sizeof(cl->user));
	strlcpy(cl->pass, (char *)pass.p, sizeof(cl->pass));
	rc = 0;
out:
	if (pass.p)
		explicit_bzero(pass.p, pass.len);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	vb_ctl_release(&c);
	return rc;
}
