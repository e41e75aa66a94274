/*
 * ssl-load.c - OpenSSL loaded on the first TLS connection (ssl-sym.h).
 *
 * libssl.so.3 is opened with RTLD_NOW (every symbol of it resolved then,
 * not at a first call in the middle of a handshake) and RTLD_LOCAL (its
 * names stay out of the program's namespace); its own libcrypto comes
 * with it, and dlsym on its handle finds both.  VIBES_LIBSSL names
 * another file to load (vibes(7)).  Loading happens once per process,
 * whatever thread asks first; a failure is remembered and told to every
 * later caller.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define VB_SSL_NO_REDIRECT
#include "net/ssl-sym.h"
#include "base/banned.h"

#define VB_SSL_DEF(f) __typeof__(f) *vb_ssl_##f;
VB_SSL_SYMS(VB_SSL_DEF)
#undef VB_SSL_DEF

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failed[512]; /* "" once loaded */

static void load(void)
{
	const char *lib = getenv("VIBES_LIBSSL");
	void *h;

	if (lib == NULL || *lib == 0)
		lib = "libssl.so.3";
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(failed, sizeof(failed),
			 "TLS: cannot load OpenSSL 3 (%s): %s", lib, dlerror());
		return;
	}
#define VB_SSL_SYM(f)                                                        \
	if ((*(void **)&vb_ssl_##f = dlsym(h, #f)) == NULL) {                \
		snprintf(failed, sizeof(failed),                             \
			 "TLS: %s is not OpenSSL 3: it has no %s", lib, #f); \
		return;                                                      \
	}
	VB_SSL_SYMS(VB_SSL_SYM)
#undef VB_SSL_SYM
}

int vb_ssl_load(struct vb_err *e)
{
	pthread_once(&once, load);
	if (failed[0])
		return vb_err_set(e, VB_E_CONFIG, "%s", failed);
	return 0;
}
