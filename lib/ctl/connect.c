/*
 * The connect contract (DESIGN.md "Finding the server"): every tool finds
 * the server, starts the bundled one when it may, and logs in the same
 * way, and says what went wrong in terms of what the user can do next.
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
	const char *v = getenv(VB_ENV_AUTOSTART);

	if (v == NULL || *v == 0)
		return 1;
	return !(strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		 strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0);
}

/* Appends "; ..." to an error message (cut to fit). */
static void err_append(struct vb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void err_append(struct vb_err *e, const char *fmt, ...)
{
	size_t n = strlen(e->msg);
	va_list ap;

	if (n + 1 >= sizeof(e->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
}

/* Where connect goes, and what to call it in messages. */
struct target {
	char addr[600];	   /* "" for the memory backend without server.addr */
	char where[1024];  /* "--server 'iggy://host:port'", ... */
	int explicit_addr; /* named: no autostart */
	struct vb_ctl_profile prof;
	int have_prof;
	/* the profile's credentials file, read before connecting */
	struct vb_buf prof_user, prof_pass;
};

/* "scheme://host..." without a password, for messages. */
static void redact(const char *addr, char *out, size_t sz)
{
	const char *sep = strstr(addr, "://"), *at;

	if (sep == NULL || (at = strrchr(sep + 3, '@')) == NULL) {
		strlcpy(out, addr, sz);
		return;
	}
	snprintf(out, sz, "%.*s%s", (int)(sep + 3 - addr), addr, at + 1);
}

/*
 * An address in a scheme the client does not speak fails here, naming
 * what it does speak, instead of as a host name that cannot be resolved.
 */
static int check_scheme(const struct target *t, struct vb_err *e)
{
	const char *a = t->addr, *sep = strstr(a, "://");
	int n;

	if (sep == NULL)
		return 0;
	n = (int)(sep - a);
	/* the client reads them (vb_client_set_addr), TLS included */
	if ((n == 4 && strncasecmp(a, "iggy", 4) == 0) ||
	    (n == 5 && strncasecmp(a, "iggys", 5) == 0) ||
	    (n == 8 && strncasecmp(a, "iggy+tcp", 8) == 0) ||
	    (n == 3 && strncasecmp(a, "tcp", 3) == 0))
		return 0;
	if ((n == 4 && strncasecmp(a, "http", 4) == 0) ||
	    (n == 5 && strncasecmp(a, "https", 5) == 0))
		return vb_err_set(
			e, VB_E_USAGE,
			"%s: the scheme '%.*s' is not supported: the vibes tools speak Iggy's TCP protocol, not its HTTP API; use iggy://HOST:PORT or HOST:PORT with the server's TCP port (8090 by default, not the HTTP port 3000)",
			t->where, n, a);
	return vb_err_set(
		e, VB_E_USAGE,
		"%s: the scheme '%.*s' is not supported; use iggy://HOST:PORT, iggys://HOST:PORT (TLS) or HOST:PORT",
		t->where, n, a);
}

/* --server > $VIBES_IGGY_ADDR > DATA/server.addr > 127.0.0.1:8090. */
static int find_target(struct vb_ctl *c, const struct vb_ctl_opts *o,
		       struct target *t, struct vb_err *e)
{
	const char *env = getenv(VB_ENV_ADDR);
	char shown[512];

	if (o->server && *o->server) {
		t->explicit_addr = 1;
		if (vb_ctl_is_profile_name(o->server)) {
			if (vb_ctl_profile_find(o->server, &t->prof, e) ||
			    (t->prof.creds.len &&
			     vb_ctl_profile_credentials(&t->prof, &t->prof_user,
							&t->prof_pass, e)))
				return -1;
			t->have_prof = 1;
			strlcpy(t->addr, (char *)t->prof.url.p,
				sizeof(t->addr));
			snprintf(t->where, sizeof(t->where),
				 "--server %s (%s:%u)", o->server,
				 (char *)t->prof.file.p, t->prof.line);
			return 0;
		}
		strlcpy(t->addr, o->server, sizeof(t->addr));
		redact(o->server, shown, sizeof(shown));
		snprintf(t->where, sizeof(t->where), "--server '%s'", shown);
		return 0;
	}
	/*
	 * The memory backend is for tests: nothing in the environment may
	 * send them to another server than its own.
	 */
	if (!c->memory && env && *env) {
		t->explicit_addr = 1;
		strlcpy(t->addr, env, sizeof(t->addr));
		redact(env, shown, sizeof(shown));
		snprintf(t->where, sizeof(t->where), "%s='%s'", VB_ENV_ADDR,
			 shown);
		return 0;
	}
	if (vb_ctl_read_addr(c, t->addr, sizeof(t->addr))) {
		snprintf(t->where, sizeof(t->where), "%s/server.addr",
			 (char *)c->dir.p);
		return 0;
	}
	if (c->memory) {
		t->addr[0] = 0;
		snprintf(t->where, sizeof(t->where), "the memory data dir %s",
			 (char *)c->dir.p);
		return 0;
	}
	strlcpy(t->addr, VB_CTL_DEFAULT_ADDR, sizeof(t->addr));
	snprintf(t->where, sizeof(t->where), "the default address");
	return 0;
}

/*
 * Picks the credentials for connect: options > URL > the profile's
 * credentials file > environment > data dir's credentials file >
 * iggy/iggy.  Each source but the options gives both; the options may
 * give one and leave the other to the source below.
 */
static int connect_creds(struct vb_ctl *c, const struct vb_ctl_opts *o,
			 const struct target *t, const char *url_user,
			 const char *url_pass, struct vb_buf *user,
			 struct vb_buf *pass, struct vb_err *e)
{
	const char *eu = c->memory ? NULL : getenv(VB_ENV_USERNAME);
	const char *ep = c->memory ? NULL : getenv(VB_ENV_PASSWORD);

	vb_buf_reset(user);
	vb_buf_reset(pass);
	if (url_user[0]) {
		vb_buf_addstr(user, url_user);
		vb_buf_addstr(pass, url_pass);
	} else if (t->have_prof && t->prof.creds.len) {
		vb_buf_addstr(user, (char *)t->prof_user.p);
		vb_buf_addstr(pass, (char *)t->prof_pass.p);
	} else if (eu && *eu && !ep && o->pass) {
		/* $VIBES_IGGY_USERNAME with --password-file */
		vb_buf_addstr(user, eu);
	} else if (ep && !(eu && *eu) && o->user) {
		/* --user with $VIBES_IGGY_PASSWORD */
		vb_buf_addstr(pass, ep);
	} else if (vb_ctl_credentials(c, user, pass, e)) {
		return -1;
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
			return vb_err_set(
				e, VB_E_DOWN,
				"interrupted while waiting for the server of data dir %s (%s)",
				(char *)c->dir.p, why);
		vb_ctl_sleep_ms(200);
	}
	return 0;
}

/* The CA to verify with: option > the address's tls_ca_file > env. */
static void tls_ca(struct vb_client *cl, const struct vb_ctl_opts *o)
{
	const char *env = getenv("VIBES_IGGY_TLS_CA");

	if (o->tls_ca && *o->tls_ca)
		strlcpy(cl->tls_ca, o->tls_ca, sizeof(cl->tls_ca));
	else if (cl->tls_ca[0] == 0 && env && *env)
		strlcpy(cl->tls_ca, env, sizeof(cl->tls_ca));
}

/*
 * Starts the data dir's server as `ensure` does and connects to it.  A
 * server stopped by `vibes-iggyctl stop` is not started (VB_E_DOWN), or
 * waited for (wait_down).  Credentials read before (*creds) are read
 * again for the login: the server started here may have written them.
 */
static int start_own(struct vb_ctl *c, const struct vb_ctl_opts *o,
		     struct vb_client *cl, int *creds, struct vb_err *e)
{
	struct vb_ctl_status st;
	char addr[300];
	int rc;

	*creds = 0;
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
		return vb_err_set(e, VB_E_UNAVAIL,
				  "the started server wrote "
				  "no server.addr in %s",
				  (char *)c->dir.p);
	if (vb_client_set_addr(cl, addr, e))
		return -1;
	vb_ctl_local_server(c, cl);
	tls_ca(cl, o);
	return vb_client_connect(cl, e);
}

/*
 * Resolves the credentials (unless *have: resolved before connecting)
 * and logs in; closes the connection on failure.
 */
static int login(struct vb_ctl *c, const struct vb_ctl_opts *o,
		 const struct target *t, struct vb_client *cl,
		 const char *url_user, const char *url_pass,
		 struct vb_buf *user, struct vb_buf *pass, int *have,
		 struct vb_err *e)
{
	if (!*have && connect_creds(c, o, t, url_user, url_pass, user, pass, e))
		return -1;
	*have = 0;
	if (vb_client_login(cl, (char *)user->p, (char *)pass->p, NULL, e)) {
		vb_client_close(cl);
		return -1;
	}
	return 0;
}

/*
 * "is not running" or "was stopped by vibes-iggyctl stop (...)"; returns
 * whether it was stopped so.
 */
static int own_state(const struct vb_ctl *c, char *out, size_t sz)
{
	char why[256];

	if (vb_ctl_down_read(c, why, sizeof(why))) {
		snprintf(out, sz, "was %s", why);
		return 1;
	}
	snprintf(out, sz, "is not running");
	return 0;
}

/*
 * A failure whose real cause is that the data dir's own server is not
 * running while nothing named another one: something else refused the
 * login where it used to be, or nothing answers and the tools may not
 * start it.  Say so, and what starts it.
 */
static void explain_own_down(struct vb_ctl *c, const struct target *t,
			     const struct vb_client *cl, int refused,
			     int autostart, struct vb_err *e)
{
	char own[300], where[300], cmd[600], state[300];
	const char *why_not;

	vb_client_addr(cl, where, sizeof(where));
	if (t->explicit_addr &&
	    !(vb_ctl_read_addr(c, own, sizeof(own)) && strcmp(own, where) == 0))
		return;
	if (!own_server_down(c))
		return;
	vb_ctl_iggyctl_cmd(c, "start", cmd, sizeof(cmd));
	/* server.down is reason enough; else say why no tool started it. */
	why_not = own_state(c, state, sizeof(state)) || autostart ?
			  "" :
			  " (" VB_ENV_AUTOSTART
			  "=0 keeps the tools from starting it)";
	if (refused)
		err_append(e,
			   "; that is not the server of data dir %s, which %s: start it with '%s'%s",
			   (char *)c->dir.p, state, cmd, why_not);
	else
		err_append(e,
			   "; the server of data dir %s %s: start it with '%s'%s",
			   (char *)c->dir.p, state, cmd, why_not);
}

int vb_ctl_connect(struct vb_client *cl, const struct vb_ctl_opts *o,
		   struct vb_err *e)
{
	struct vb_ctl c;
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT;
	struct vb_err tmp, later;
	struct target t;
	char url_user[256] = "", url_pass[256] = "";
	int autostart, rc = -1, connected, creds = 0;

	if (e == NULL)
		e = &tmp;
	vb_err_clear(e);
	vb_ctl_init(&c);
	memset(&t, 0, sizeof(t));
	vb_ctl_profile_init(&t.prof);
	vb_buf_init(&t.prof_user);
	vb_buf_init(&t.prof_pass);
	if (o->timeout_ms > 0)
		c.start_timeout_ms = o->timeout_ms;
	autostart = o->autostart >= 0 ? o->autostart : autostart_default();
	if (vb_ctl_data_dir(&c.dir, o->data_dir, &c.memory, e) ||
	    find_target(&c, o, &t, e) || check_scheme(&t, e))
		goto out;
	cl->user[0] = 0;
	cl->pass[0] = 0;
	cl->protocol = o->protocol;
	if (cl->protocol < 0) {
		const char *v = getenv("VIBES_IGGY_PROTOCOL");

		cl->protocol = VB_PROTO_AUTO;
		if (v && *v && (cl->protocol = vb_proto_parse(v)) < 0) {
			vb_err_set(e, VB_E_USAGE,
				   "VIBES_IGGY_PROTOCOL='%s': use 0.8, 0.9 or auto",
				   v);
			goto out;
		}
	}
	if (vb_proto_cache_path(&cl->proto_cache, NULL))
		vb_buf_reset(&cl->proto_cache);
	if (o->timeout_ms > 0)
		cl->timeout_ms = o->timeout_ms;
	if (t.addr[0]) {
		if (vb_client_set_addr(cl, t.addr, e)) {
			vb_err_prefix(e, "%s", t.where);
			goto out;
		}
		/* our own server's address: its certificate, if it has one */
		if (!t.explicit_addr)
			vb_ctl_local_server(&c, cl);
		tls_ca(cl, o);
		strlcpy(url_user, cl->user, sizeof(url_user));
		strlcpy(url_pass, cl->pass, sizeof(url_pass));
		/*
		 * Read before connecting, so the login follows the connect
		 * at once (the server is still awake); if they cannot be
		 * read yet (a server started below writes them), later.
		 */
		creds = connect_creds(&c, o, &t, url_user, url_pass, &user,
				      &pass, &later) == 0;
		connected = vb_client_connect(cl, e) == 0;
	} else {
		vb_err_set(e, VB_E_UNAVAIL, "no server runs on %s", t.where);
		connected = 0;
	}
	/*
	 * The protocol probe of vb_client_connect (auto) may already find
	 * that what answers is not Iggy, or silent: as after a login.
	 */
	if (!connected && e->kind != VB_E_PROTO && e->kind != VB_E_TIMEOUT) {
		if (e->kind == VB_E_UNAVAIL && !autostart)
			explain_own_down(&c, &t, cl, 0, autostart, e);
		if (e->kind != VB_E_UNAVAIL || t.explicit_addr || !autostart ||
		    start_own(&c, o, cl, &creds, e))
			goto out;
		connected = 1;
	}
	if (!connected ||
	    login(&c, o, &t, cl, url_user, url_pass, &user, &pass, &creds, e)) {
		const char *eu = getenv(VB_ENV_USERNAME);
		/* not Iggy at all, or silent: whoever it is, not ours */
		int foreign = e->kind == VB_E_PROTO || e->kind == VB_E_TIMEOUT;
		int refused = e->kind == VB_E_AUTH && !o->user && !o->pass &&
			      !url_user[0] && !(eu && *eu && !c.memory);

		/*
		 * Nothing was named, so we reached whatever answers on the
		 * data dir's last address or on 127.0.0.1:8090, and it refused
		 * this data dir's credentials, or does not speak Iggy, or
		 * says nothing: it is some other server (a second data dir's,
		 * or another program's).  When our own server is not running,
		 * start it (it takes a free port), exactly as if nothing had
		 * answered.
		 */
		if (!(foreign || refused) || t.explicit_addr || !autostart ||
		    !own_server_down(&c)) {
			if (e->kind == VB_E_AUTH || foreign)
				explain_own_down(&c, &t, cl, 1, autostart, e);
			goto out;
		}
		if (start_own(&c, o, cl, &creds, e) ||
		    login(&c, o, &t, cl, url_user, url_pass, &user, &pass,
			  &creds, e))
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
	vb_ctl_profile_release(&t.prof);
	if (t.prof_pass.p)
		explicit_bzero(t.prof_pass.p, t.prof_pass.len);
	vb_buf_release(&t.prof_user);
	vb_buf_release(&t.prof_pass);
	vb_ctl_release(&c);
	return rc;
}
