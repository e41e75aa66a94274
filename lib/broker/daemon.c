/* The daemon contract's files: data dir, credentials, server.addr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/broker.h"
#include "base/banned.h"

int vb_daemon_data_dir(const char *opt, char *buf, size_t n,
		       struct vb_err *e)
{
	struct vb_buf dir = VB_BUF_INIT;
	int rc = 0;

	/* The same resolution as every tool (lib/base/path.c). */
	if (vb_path_data_dir(&dir, opt, e) < 0)
		rc = -1;
	else if (strlcpy(buf, (char *)dir.p, n) >= n)
		rc = vb_err_set(e, VB_E_USAGE, "data dir path too long");
	vb_buf_release(&dir);
	return rc;
}

int vb_daemon_credentials(const char *dir, char *user, size_t un, char *pass,
			  size_t pn, struct vb_err *e)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *eu = getenv("IGGY_ROOT_USERNAME");
	const char *ep = getenv("IGGY_ROOT_PASSWORD");
	struct vb_buf fu = VB_BUF_INIT, fp = VB_BUF_INIT;
	struct stat st;
	char path[4096];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/credentials", dir);
	if (eu && *eu && ep && *ep) {
		strlcpy(user, eu, un);
		strlcpy(pass, ep, pn);
	} else if ((rc = vb_path_read_credentials(path, &fu, &fp, e)) < 0) {
		return -1;
	} else if (rc == 1 && fp.len > 0) {
		/* The file the tools read too, parsed the same way. */
		strlcpy(user, (char *)fu.p, un);
		strlcpy(pass, (char *)fp.p, pn);
	} else if (stat(path, &st) == 0) {
		rc = vb_err_set(e, VB_E_DATA, "%s: expected lines "
				"username=NAME and password=SECRET", path);
	} else {
		strlcpy(user, "iggy", un);
		for (int i = 0; i < 24 && (size_t)i + 1 < pn; i++) {
			pass[i] = al[arc4random_uniform(sizeof(al) - 1)];
			pass[i + 1] = 0;
		}
	}
	if (fp.p)
		explicit_bzero(fp.p, fp.len);
	vb_buf_release(&fu);
	vb_buf_release(&fp);
	if (rc < 0)
		return -1;
	return vb_path_write_credentials(path, user, pass, e);
}

int vb_daemon_write_addr(const char *dir, const char *ip, uint16_t port,
			 struct vb_err *e)
{
	char path[4096], line[128];
	int n;

	snprintf(path, sizeof(path), "%s/server.addr", dir);
	if (strchr(ip, ':'))
		n = snprintf(line, sizeof(line), "[%s]:%u\n", ip, port);
	else
		n = snprintf(line, sizeof(line), "%s:%u\n", ip, port);
	return vb_path_replace(path, line, (size_t)n, 0600, 1, e);
}
