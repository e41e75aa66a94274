/*
 * The daemon contract's files (credentials, server.addr) and its exit
 * statuses.  A start writes neither file when it already says what is in
 * use, so a restart on a full disk needs no space for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

int vb_daemon_credentials(const char *dir, char *user, size_t un, char *pass,
			  size_t pn, struct vb_err *e)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *eu = getenv("IGGY_ROOT_USERNAME");
	const char *ep = getenv("IGGY_ROOT_PASSWORD");
	struct vb_buf b = VB_BUF_INIT, fu = VB_BUF_INIT, fp = VB_BUF_INIT;
	const char *path = vb_path_fmt(&b, "%s/credentials", dir);
	struct stat st;
	int rc, found;

	/* The file the tools read too, parsed the same way. */
	rc = vb_path_read_credentials(path, &fu, &fp, e);
	if (rc < 0)
		goto out;
	found = rc == 1 && fp.len > 0;
	if (eu && *eu && ep && *ep) {
		strlcpy(user, eu, un);
		strlcpy(pass, ep, pn);
		if (found && strcmp((char *)fu.p, user) == 0 &&
		    strcmp((char *)fp.p, pass) == 0)
			goto out; /* rc is 1: written already */
	} else if (found) {
		strlcpy(user, (char *)fu.p, un);
		strlcpy(pass, (char *)fp.p, pn);
		goto out;
	} else if (stat(path, &st) == 0) {
		rc = vb_err_set(e, VB_E_DATA,
				"%s: expected lines "
				"username=NAME and password=SECRET",
				path);
		goto out;
	} else {
		strlcpy(user, "iggy", un);
		for (int i = 0; i < 24 && (size_t)i + 1 < pn; i++) {
			pass[i] = al[arc4random_uniform(sizeof(al) - 1)];
			pass[i + 1] = 0;
		}
	}
	rc = vb_path_write_credentials(path, user, pass, e);
out:
	if (fp.p)
		explicit_bzero(fp.p, fp.len);
	vb_buf_release(&fu);
	vb_buf_release(&fp);
	vb_buf_release(&b);
	return rc < 0 ? -1 : 0;
}

int vb_daemon_write_addr(const char *dir, const char *ip, uint16_t port,
			 struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, now = VB_BUF_INIT;
	char line[128];
	int n, rc = 0, found = 0;

	if (strchr(ip, ':'))
		n = snprintf(line, sizeof(line), "[%s]:%u\n", ip, port);
	else
		n = snprintf(line, sizeof(line), "%s:%u\n", ip, port);
	vb_path_fmt(&path, "%s/server.addr", dir);
	if (vb_path_read_file((char *)path.p, &now, 4096, &found, NULL) < 0 ||
	    !found || now.len != (size_t)n || memcmp(now.p, line, now.len))
		rc = vb_path_replace((char *)path.p, line, (size_t)n, 0600, 1,
				     e);
	vb_buf_release(&path);
	vb_buf_release(&now);
	return rc;
}

int vb_daemon_write_http_addr(const char *dir, const char *ip, uint16_t port,
			      struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	const char *p = vb_path_fmt(&path, "%s/http.addr", dir);
	char line[128];
	int n, rc = 0;

	if (ip == NULL) {
		if (unlink(p) < 0 && errno != ENOENT)
			rc = vb_err_sys(e, VB_E_IO, "cannot remove %s", p);
	} else {
		if (strchr(ip, ':'))
			n = snprintf(line, sizeof(line), "[%s]:%u\n", ip, port);
		else
			n = snprintf(line, sizeof(line), "%s:%u\n", ip, port);
		rc = vb_path_replace(p, line, (size_t)n, 0600, 1, e);
	}
	vb_buf_release(&path);
	return rc;
}

int vb_daemon_errno_fate(int err)
{
	switch (err) {
	/* The disk full or failing, resources short: may pass. */
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EROFS:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EAGAIN:
	case EINTR:
	case EBUSY:
	case ETIMEDOUT:
	case ENOLCK:
		return VB_FATE_PASSES;
	/* A path that cannot be used as it is. */
	case 0:
	case EACCES:
	case EPERM:
	case ENOTDIR:
	case EISDIR:
	case ENAMETOOLONG:
	case ELOOP:
		return VB_FATE_PERMANENT;
	}
	return VB_FATE_CRASH;
}

int vb_daemon_fate(const struct vb_err *e)
{
	switch (e->kind) {
	case VB_E_USAGE:
	case VB_E_DATA:
	case VB_E_CONFIG:
	case VB_E_AUTH:
	case VB_E_STATE:
		return VB_FATE_PERMANENT;
	case VB_E_TEMP:
		return VB_FATE_PASSES;
	case VB_E_IO:
		/* Without an errno: "not a directory", "too large"... */
		return vb_daemon_errno_fate(e->sys);
	default:
		return VB_FATE_CRASH;
	}
}

int vb_daemon_write_tls(const char *dir, const char *cert, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, line = VB_BUF_INIT;
	int rc = 0;

	vb_path_fmt(&path, "%s/server.tls", dir);
	if (cert == NULL) {
		if (unlink((char *)path.p) < 0 && errno != ENOENT)
			rc = vb_err_sys(e, VB_E_IO, "cannot remove %s",
					(char *)path.p);
	} else {
		vb_buf_printf(&line, "%s\n", cert);
		rc = vb_path_replace((char *)path.p, line.p, line.len, 0600, 1,
				     e);
	}
	vb_buf_release(&path);
	vb_buf_release(&line);
	return rc;
}
