/*
 * Server profiles: `--server NAME` names a line of
 * $XDG_CONFIG_HOME/vibes/servers (like `iggy context` or kcat's -F), so
 * that an address and where its password lives are written down once.
 * The format is the simplest that a shell user can read and grep: one
 * profile a line, "NAME URL [CREDENTIALS-FILE]".  Every error names the
 * file and the line.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"
#include "base/banned.h"

#define PROFILES_MAX (1024 * 1024)

void vb_ctl_profile_init(struct vb_ctl_profile *p)
{
	memset(p, 0, sizeof(*p));
	vb_buf_init(&p->file);
	vb_buf_init(&p->url);
	vb_buf_init(&p->creds);
}

void vb_ctl_profile_release(struct vb_ctl_profile *p)
{
	vb_buf_release(&p->file);
	vb_buf_release(&p->url);
	vb_buf_release(&p->creds);
}

int vb_ctl_is_profile_name(const char *s)
{
	return s && *s && strchr(s, ':') == NULL && strchr(s, '/') == NULL;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(geteuid());
	return pw ? pw->pw_dir : NULL;
}

int vb_ctl_profiles_file(struct vb_buf *out, struct vb_err *e)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h;

	vb_buf_reset(out);
	/* The XDG spec: a relative value is invalid and ignored. */
	if (x && x[0] == '/') {
		vb_buf_printf(out, "%s/vibes/servers", x);
		return 0;
	}
	h = home_dir();
	if (h == NULL || *h == 0)
		return vb_err_set(
			e, VB_E_USAGE,
			"cannot find the server profiles: set XDG_CONFIG_HOME or HOME");
	vb_buf_printf(out, "%s/.config/vibes/servers", h);
	return 0;
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/*
 * Splits a line into blank-separated fields up to a '#' that starts one
 * (a comment); returns how many, 4 meaning more than 3.
 */
static int fields(char *line, char *f[4])
{
	int n = 0;
	char *p = line;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == 0 || *p == '#')
			return n;
		if (n == 4)
			return 4;
		f[n++] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = 0;
	}
}

/* Checks one profile's URL as the client will read it. */
static int url_ok(const char *url, char *why, size_t sz)
{
	struct vb_client c;
	struct vb_err e;
	const char *sep = strstr(url, "://");
	int rc;

	if (sep && !((sep - url == 4 && strncasecmp(url, "iggy", 4) == 0) ||
		     (sep - url == 3 && strncasecmp(url, "tcp", 3) == 0))) {
		snprintf(why, sz,
			 "the scheme '%.*s' is not supported (use iggy://HOST:PORT or HOST:PORT)",
			 (int)(sep - url), url);
		return 0;
	}
	if (!sep && strchr(url, ':') == NULL) {
		snprintf(why, sz,
			 "'%s' is no address: use iggy://HOST:PORT or HOST:PORT",
			 url);
		return 0;
	}
	vb_client_init(&c);
	rc = vb_client_set_addr(&c, url, &e);
	vb_client_release(&c);
	if (rc)
		strlcpy(why, e.msg, sz);
	return rc == 0;
}

int vb_ctl_profile_find(const char *name, struct vb_ctl_profile *p,
			struct vb_err *e)
{
	struct vb_buf text = VB_BUF_INIT, names = VB_BUF_INIT;
	char *line, *next, *f[4], why[512];
	const char *file;
	unsigned lineno = 0;
	int found = 0, rc = -1, n;

	vb_buf_reset(&p->url);
	vb_buf_reset(&p->creds);
	p->line = 0;
	if (vb_ctl_profiles_file(&p->file, e))
		return -1;
	file = (char *)p->file.p;
	if (vb_path_read_file(file, &text, PROFILES_MAX, &found, e)) {
		vb_err_prefix(e, "--server %s", name);
		goto out;
	}
	if (!found) {
		vb_err_set(e, VB_E_USAGE,
			   "--server %s: no such server profile: %s does not exist (a line 'NAME iggy://HOST:PORT [CREDENTIALS-FILE]' there makes one; an address needs a port: HOST:PORT)",
			   name, file);
		goto out;
	}
	found = 0;
	for (line = text.p ? (char *)text.p : ""; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		line[strcspn(line, "\r")] = 0;
		n = fields(line, f);
		if (n == 0)
			continue;
		if (n == 1 || n > 3) {
			vb_err_set(e, VB_E_USAGE,
				   "%s:%u: expected 'NAME URL [CREDENTIALS-FILE]', found %s",
				   file, lineno,
				   n == 1 ? "a name alone" :
					    "more than 3 fields");
			goto out;
		}
		if (!name_ok(f[0], strlen(f[0]))) {
			vb_err_set(e, VB_E_USAGE,
				   "%s:%u: profile name '%s': use letters, digits, '.', '_' and '-' (at most 64)",
				   file, lineno, f[0]);
			goto out;
		}
		if (!url_ok(f[1], why, sizeof(why))) {
			vb_err_set(e, VB_E_USAGE, "%s:%u: profile %s: %s", file,
				   lineno, f[0], why);
			goto out;
		}
		if (strcmp(f[0], name) != 0) {
			vb_buf_printf(&names, "%s%s", names.len ? ", " : "",
				      f[0]);
			continue;
		}
		if (found) {
			vb_err_set(e, VB_E_USAGE,
				   "%s:%u: profile %s is already defined on line %u",
				   file, lineno, name, p->line);
			goto out;
		}
		found = 1;
		p->line = lineno;
		vb_buf_addstr(&p->url, f[1]);
		if (n == 3) {
			const char *h = home_dir();
			const char *slash = strrchr(file, '/');

			if (strncmp(f[2], "~/", 2) == 0 && h)
				vb_buf_printf(&p->creds, "%s/%s", h, f[2] + 2);
			else if (f[2][0] == '/' || slash == NULL)
				vb_buf_addstr(&p->creds, f[2]);
			else
				vb_buf_printf(&p->creds, "%.*s/%s",
					      (int)(slash - file), file, f[2]);
		}
	}
	if (!found) {
		vb_err_set(e, VB_E_USAGE,
			   "--server %s: no such server profile in %s (%s%s); an address needs a port: HOST:PORT",
			   name, file, names.len ? "it has " : "it has none",
			   names.len ? (char *)names.p : "");
		goto out;
	}
	rc = 0;
out:
	if (text.p)
		explicit_bzero(text.p, text.len);
	vb_buf_release(&text);
	vb_buf_release(&names);
	return rc;
}

int vb_ctl_profile_credentials(const struct vb_ctl_profile *p,
			       struct vb_buf *user, struct vb_buf *pass,
			       struct vb_err *e)
{
	const char *cf = (char *)p->creds.p;
	struct stat st;
	int rc;

	if (stat(cf, &st) != 0)
		return vb_err_sys(e, errno == EACCES ? VB_E_AUTH : VB_E_USAGE,
				  "%s:%u: credentials file %s",
				  (char *)p->file.p, p->line, cf);
	/* As ssh does with a key: a password others can read is refused. */
	if (st.st_mode & 077)
		return vb_err_set(
			e, VB_E_AUTH,
			"%s:%u: credentials file %s can be read by others (mode %04o): chmod 600 %s",
			(char *)p->file.p, p->line, cf,
			(unsigned)(st.st_mode & 0777), cf);
	rc = vb_path_read_credentials(cf, user, pass, e);
	if (rc < 0) {
		vb_err_prefix(e, "%s:%u", (char *)p->file.p, p->line);
		return -1;
	}
	if (rc == 0)
		return vb_err_set(
			e, VB_E_USAGE,
			"%s:%u: credentials file %s: expected the lines username=NAME and password=SECRET",
			(char *)p->file.p, p->line, cf);
	return 0;
}
