/*
 * The HTTP API's access tokens: JSON Web Tokens as upstream 0.8.0 issues
 * them (api.md §1), HS256 under a random secret made when the server
 * starts, so every token dies with the process (upstream does the same
 * when no secret is configured).  The Web UI reads `sub` from them.
 *
 * HMAC-SHA256 and the random bytes are OpenSSL's.  Logged out (or
 * refreshed) tokens are remembered by jti until they expire; since they
 * die with the process anyway, the list is not persisted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "broker/http-int.h"
#include "base/banned.h"

#define ISSUER "iggy.apache.org"
#define EXPIRY_S 3600
#define LEEWAY_S 5

struct revoked {
	char jti[40];
	uint64_t exp;
};

struct vb_jwt {
	uint8_t secret[32];
	struct revoked *rv;
	size_t nrv, rvcap;
};

struct vb_jwt *vb_jwt_new(void)
{
	struct vb_jwt *j = vb_xcalloc(1, sizeof(*j));

	if (RAND_bytes(j->secret, sizeof(j->secret)) != 1)
		arc4random_buf(j->secret, sizeof(j->secret));
	return j;
}

void vb_jwt_free(struct vb_jwt *j)
{
	if (j == NULL)
		return;
	OPENSSL_cleanse(j->secret, sizeof(j->secret));
	free(j->rv);
	free(j);
}

static void sign(const struct vb_jwt *j, const void *p, size_t n,
		 uint8_t mac[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), j->secret, sizeof(j->secret), p, n, mac, &len);
}

/* A UUID v7 (RFC 9562): 48 bits of milliseconds, then random bits. */
static void uuid7(char out[40])
{
	uint8_t u[16];
	uint64_t ms = vb_wall_us() / 1000;

	if (RAND_bytes(u, sizeof(u)) != 1)
		arc4random_buf(u, sizeof(u));
	for (int i = 0; i < 6; i++)
		u[i] = (uint8_t)(ms >> (40 - 8 * i));
	u[6] = (uint8_t)(0x70 | (u[6] & 0x0f));
	u[8] = (uint8_t)(0x80 | (u[8] & 0x3f));
	snprintf(out, 40,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

void vb_jwt_issue(struct vb_jwt *j, uint32_t user, struct vb_buf *out,
		  uint64_t *exp)
{
	static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
	uint64_t now = vb_wall_us() / 1000000;
	struct vb_buf claims = VB_BUF_INIT;
	char jti[40];
	uint8_t mac[32];

	uuid7(jti);
	*exp = now + EXPIRY_S;
	vb_buf_printf(&claims,
		      "{\"jti\":\"%s\",\"iss\":\"" ISSUER "\","
		      "\"aud\":\"" ISSUER "\",\"sub\":\"%u\",\"iat\":%" PRIu64
		      ",\"exp\":%" PRIu64 ",\"nbf\":%" PRIu64 "}",
		      jti, user, now, *exp, now);
	vb_b64_enc(out, hdr, sizeof(hdr) - 1, 1);
	vb_buf_addch(out, '.');
	vb_b64_enc(out, claims.p, claims.len, 1);
	sign(j, out->p, out->len, mac);
	vb_buf_addch(out, '.');
	vb_b64_enc(out, mac, sizeof(mac), 1);
	vb_buf_release(&claims);
}

static int revoked(struct vb_jwt *j, const char *jti)
{
	for (size_t i = 0; i < j->nrv; i++)
		if (strcmp(j->rv[i].jti, jti) == 0)
			return 1;
	return 0;
}

void vb_jwt_revoke(struct vb_jwt *j, const char *jti, uint64_t exp)
{
	uint64_t now = vb_wall_us() / 1000000;
	size_t keep = 0;

	/* the expired ones need not be remembered: they fail anyway */
	for (size_t i = 0; i < j->nrv; i++)
		if (j->rv[i].exp + LEEWAY_S >= now)
			j->rv[keep++] = j->rv[i];
	j->nrv = keep;
	if (revoked(j, jti))
		return;
	VB_ALLOC_GROW(j->rv, j->nrv + 1, j->rvcap);
	strlcpy(j->rv[j->nrv].jti, jti, sizeof(j->rv[0].jti));
	j->rv[j->nrv++].exp = exp;
}

static int aud_ok(const json_t *aud)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), ISSUER) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), ISSUER) == 0)
			return 1;
	return 0;
}

static int claims_check(struct vb_jwt *j, const json_t *c, uint32_t *user,
			char jti[40], uint64_t *exp)
{
	uint64_t now = vb_wall_us() / 1000000, nbf = 0, e;
	const char *iss = vb_json_str(c, "iss", NULL);
	const char *id = vb_json_str(c, "jti", NULL);
	const char *sub = vb_json_str(c, "sub", NULL);
	const char *errstr;
	long long u;

	if (iss == NULL || strcmp(iss, ISSUER) != 0 ||
	    !aud_ok(json_object_get(c, "aud")) || id == NULL ||
	    strlen(id) >= 40 || sub == NULL ||
	    vb_json_u64(c, "exp", UINT64_MAX, &e) < 0 ||
	    vb_json_opt_u64(c, "nbf", UINT64_MAX, &nbf) < 0)
		return -1;
	if (e + LEEWAY_S < now || nbf > now + LEEWAY_S)
		return -1;
	if (revoked(j, id))
		return -2;
	u = strtonum(sub, 0, UINT32_MAX, &errstr);
	if (errstr)
		return -1;
	*user = (uint32_t)u;
	strlcpy(jti, id, 40);
	*exp = e;
	return 0;
}

int vb_jwt_check(struct vb_jwt *j, const char *tok, size_t n, uint32_t *user,
		 char jti[40], uint64_t *exp, int *why)
{
	const char *d1 = memchr(tok, '.', n), *d2;
	struct vb_buf part = VB_BUF_INIT, sig = VB_BUF_INIT;
	json_t *h = NULL, *c = NULL;
	uint8_t mac[32];
	int rc = -1;

	*why = 2;
	if (d1 == NULL)
		return -1;
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok));
	if (d2 == NULL)
		return -1;
	/* the header must decode, and say HS256: no other algorithm */
	if (vb_b64_dec(&part, tok, (size_t)(d1 - tok), 1) < 0 ||
	    (h = json_loadb((char *)part.p, part.len, 0, NULL)) == NULL ||
	    vb_json_str(h, "alg", NULL) == NULL ||
	    strcmp(vb_json_str(h, "alg", NULL), "HS256") != 0)
		goto out;
	*why = 1;
	sign(j, tok, (size_t)(d2 - tok), mac);
	if (vb_b64_dec(&sig, d2 + 1, n - (size_t)(d2 + 1 - tok), 1) < 0 ||
	    sig.len != sizeof(mac) || CRYPTO_memcmp(sig.p, mac, sizeof(mac)))
		goto out;
	vb_buf_reset(&part);
	if (vb_b64_dec(&part, d1 + 1, (size_t)(d2 - d1 - 1), 1) < 0 ||
	    (c = json_loadb((char *)part.p, part.len, 0, NULL)) == NULL)
		goto out;
	rc = claims_check(j, c, user, jti, exp);
	if (rc == -2) {
		*why = 2; /* refreshed or logged out: not ours any more */
		rc = -1;
	}
out:
	json_decref(h);
	json_decref(c);
	vb_buf_release(&part);
	vb_buf_release(&sig);
	return rc;
}
