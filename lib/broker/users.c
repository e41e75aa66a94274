/*
 * Users, personal access tokens, login and permissions (control.md §5.2,
 * §5.8).  Passwords are kept as PBKDF2-HMAC-SHA256 with a random salt;
 * tokens as their SHA-256 (they are long random strings); OpenSSL's.  A login is
 * decided here (vb_login_decide, vb_login_verdict) but driven by auth.c,
 * which has the PBKDF2 of a login computed by its worker thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "broker/broker.h"
#include "base/banned.h"

#define PW_ITER 4096
#define PAT_MAX 100
#define PAT_LEN 50

/* ---- password hashing ---- */

/* PBKDF2-HMAC-SHA256, one 32-byte block (OpenSSL's). */
static void pbkdf2(const char *pass, size_t len, const uint8_t salt[16],
		   unsigned iter, uint8_t out[32])
{
	if (PKCS5_PBKDF2_HMAC(pass, (int)len, salt, 16, (int)iter, EVP_sha256(),
			      32, out) != 1)
		/* never the right hash: the check fails, nothing is let in */
		arc4random_buf(out, 32);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char ch = s[2 * i + k];

			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				v |= ch - 'a' + 10;
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

int vb_pw_hash(const char *pass, size_t len, char *out, size_t outsz)
{
	uint8_t salt[16], dk[32];
	char sh[33], dh[65];

	arc4random_buf(salt, sizeof(salt));
	pbkdf2(pass, len, salt, PW_ITER, dk);
	hex(salt, 16, sh);
	hex(dk, 32, dh);
	return snprintf(out, outsz, "pbkdf2-sha256$%u$%s$%s", PW_ITER, sh, dh) <
			       (int)outsz ?
		       0 :
		       -1;
}

int vb_pw_check(const char *pass, size_t len, const char *stored)
{
	unsigned iter;
	char sh[33], dh[65];
	uint8_t salt[16], want[32], got[32];
	int diff = 0;

	if (sscanf(stored, "pbkdf2-sha256$%u$%32[0-9a-f]$%64[0-9a-f]", &iter,
		   sh, dh) != 3 ||
	    iter == 0 || iter > 10000000 || strlen(sh) != 32 ||
	    strlen(dh) != 64 || unhex(sh, salt, 16) || unhex(dh, want, 32))
		return 0;
	pbkdf2(pass, len, salt, iter, got);
	for (int i = 0; i < 32; i++)
		diff |= got[i] ^ want[i];
	return diff == 0;
}

/* HMAC-SHA256 of a password under a random key made once per process. */
static void pw_mac(const char *pass, size_t len, uint8_t mac[32])
{
	static uint8_t key[32];
	static int have_key;

	if (!have_key) {
		arc4random_buf(key, sizeof(key));
		have_key = 1;
	}
	if (HMAC(EVP_sha256(), key, sizeof(key), (const uint8_t *)pass, len,
		 mac, NULL) == NULL)
		arc4random_buf(mac, 32); /* matches nothing cached */
}

/* Is pass the password u last logged in with?  One HMAC, no PBKDF2. */
static int pw_cached(const struct vb_user *u, const char *pass, size_t len)
{
	uint8_t mac[32];
	int diff = 0;

	if (u->pwhash[0] == 0 || strcmp(u->pwcache_for, u->pwhash) != 0)
		return 0;
	pw_mac(pass, len, mac);
	for (int i = 0; i < 32; i++)
		diff |= mac[i] ^ u->pwcache[i];
	return diff == 0;
}

/* pass passed the PBKDF2 check against u->pwhash: remember it. */
static void pw_remember(struct vb_user *u, const char *pass, size_t len)
{
	pw_mac(pass, len, u->pwcache);
	strlcpy(u->pwcache_for, u->pwhash, sizeof(u->pwcache_for));
}

static void token_hash(const char *tok, size_t n, uint8_t out[32])
{
	if (EVP_Digest(tok, n, out, NULL, EVP_sha256(), NULL) != 1)
		arc4random_buf(out, 32); /* matches no stored token */
}

/* ---- users ---- */

void vb_user_free(struct vb_user *u)
{
	if (u == NULL)
		return;
	free(u->perms);
	free(u->pats);
	explicit_bzero(u->pwhash, sizeof(u->pwhash));
	free(u);
}

static struct vb_user *find_name(struct vb_broker *b, const char *s, size_t n)
{
	for (uint32_t i = 0; i < b->users.n; i++) {
		struct vb_user *u = b->users.v[i];

		if (u && u->name.len == n && memcmp(u->name.s, s, n) == 0)
			return u;
	}
	return NULL;
}

static struct vb_user *find_user(struct vb_broker *b, const struct vb_ident *id)
{
	if (id->kind == VB_ID_NUM)
		return vb_slab_get(&b->users, id->num);
	return find_name(b, id->name.s, id->name.len);
}

int vb_users_ensure_root(struct vb_broker *b, const char *name,
			 const char *pass, struct vb_err *e)
{
	struct vb_user *u = vb_slab_get(&b->users, 0);
	size_t nl = strlen(name), pl = strlen(pass);
	int changed = 0;

	if (nl < 3 || nl > 50)
		return vb_err_set(e, VB_E_USAGE,
				  "root username '%s': must be "
				  "3 to 50 bytes",
				  name);
	if (pl < 3 || pl > 100)
		return vb_err_set(e, VB_E_USAGE,
				  "root password: must be 3 to "
				  "100 bytes");
	if (u == NULL) {
		struct vb_user *clash = find_name(b, name, nl);

		if (clash)
			return vb_err_set(e, VB_E_DATA,
					  "root username '%s' is "
					  "taken by user %u",
					  name, clash->id);
		u = vb_xcalloc(1, sizeof(*u));
		u->id = 0;
		u->created_at = vb_wall_us();
		u->status = 1;
		vb_slab_put(&b->users, 0, u);
		vb_slab_fill_free(&b->users);
		changed = 1;
	}
	if (u->name.len != nl || memcmp(u->name.s, name, nl) != 0) {
		struct vb_user *clash = find_name(b, name, nl);

		if (clash && clash != u)
			return vb_err_set(e, VB_E_DATA,
					  "root username '%s' is "
					  "taken by user %u",
					  name, clash->id);
		vb_name_set(&u->name, name);
		changed = 1;
	}
	if (!vb_pw_check(pass, pl, u->pwhash)) {
		vb_pw_hash(pass, pl, u->pwhash, sizeof(u->pwhash));
		changed = 1;
	}
	u->status = 1;
	return changed ? vb_meta_save(b, e) : 0;
}

/* ---- permissions ---- */

/*
 * Finds the stream and topic entries of a Permissions block (control.md
 * §5.8).  sf/tf are left NULL when the block has no entry for them.
 */
static void perms_find(const uint8_t *p, uint32_t n, uint32_t sid, uint32_t tid,
		       const uint8_t **sf, const uint8_t **tf)
{
	uint32_t at = 11;

	*sf = *tf = NULL;
	if (n < 11 || p[10] != 1)
		return;
	while (at + 11 <= n) {
		uint32_t id = vb_ld32(p + at);
		const uint8_t *flags = p + at + 4;
		uint8_t more;

		at += 10;
		more = p[at++];
		if (id == sid)
			*sf = flags;
		while (more == 1 && at + 9 <= n) {
			uint32_t t = vb_ld32(p + at);

			if (id == sid && t == tid)
				*tf = p + at + 4;
			at += 8;
			more = p[at++];
		}
		if (at >= n || p[at++] != 1)
			return;
	}
}

int vb_allowed(struct vb_broker *b, const struct vb_conn *c, enum vb_perm p,
	       uint32_t stream, uint32_t topic)
{
	struct vb_user *u;
	const uint8_t *g, *sf, *tf;
	static const uint8_t none[10];

	if (c->user_id == 0)
		return 1;
	u = vb_slab_get(&b->users, c->user_id);
	if (u == NULL || u->perms == NULL || u->perms_len < 11)
		return 0;
	g = u->perms;
	perms_find(u->perms, u->perms_len, stream, topic, &sf, &tf);
	if (sf == NULL)
		sf = none;
	if (tf == NULL)
		tf = none;
	switch (p) {
	case VB_P_READ_SERVERS:
		return g[0] || g[1];
	case VB_P_MANAGE_USERS:
		return g[2];
	case VB_P_READ_USERS:
		return g[2] || g[3];
	case VB_P_MANAGE_STREAMS:
		return g[4];
	case VB_P_READ_STREAMS:
		return g[4] || g[5];
	case VB_P_MANAGE_STREAM:
		return g[4] || sf[0];
	case VB_P_READ_STREAM:
		return g[4] || g[5] || sf[0] || sf[1];
	case VB_P_MANAGE_TOPICS:
		return g[4] || g[6] || sf[0] || sf[2];
	case VB_P_MANAGE_TOPIC:
		return g[4] || g[6] || sf[0] || sf[2] || tf[0];
	case VB_P_READ_TOPIC:
		return g[4] || g[5] || g[6] || g[7] || sf[0] || sf[1] ||
		       sf[2] || sf[3] || tf[0] || tf[1];
	case VB_P_POLL:
		return g[4] || g[5] || g[6] || g[7] || g[8] || sf[0] || sf[1] ||
		       sf[3] || sf[4] || tf[0] || tf[1] || tf[2];
	case VB_P_SEND:
		return g[4] || g[6] || g[9] || sf[0] || sf[2] || sf[5] ||
		       tf[0] || tf[3];
	}
	return 0;
}

/* ---- commands ---- */

static const uint8_t root_perms[11] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };

static void enc_user(struct vb_buf *o, const struct vb_user *u, int details)
{
	struct vb_user_info ui;

	ui.id = u->id;
	ui.created_at = u->created_at;
	ui.status = u->status;
	ui.username = u->name;
	vb_wire_enc_user(o, &ui);
	if (!details)
		return;
	/*
	 * Root has every permission whatever is stored (vb_allowed); it is
	 * shown so, as upstream's Permissions::root(): the ten global ones,
	 * no streams (api.md §4.2).
	 */
	if (u->id == 0 && u->perms == NULL)
		vb_wire_enc_user_perms(o, root_perms, sizeof(root_perms));
	else
		vb_wire_enc_user_perms(o, u->perms, u->perms_len);
}

static void reply_user(struct vb_conn *c, const struct vb_user *u)
{
	size_t m = vb_wire_resp_begin(&c->out);

	enc_user(&c->out, u, 1);
	vb_wire_resp_end(&c->out, m);
}

void vb_reply_identity(struct vb_conn *c, uint32_t id)
{
	size_t m = vb_wire_resp_begin(&c->out);

	vb_buf_u32(&c->out, id);
	vb_wire_resp_end(&c->out, m);
}

static void set_perms(struct vb_user *u, const struct vb_req *r)
{
	free(u->perms);
	u->perms = NULL;
	u->perms_len = 0;
	if (!r->has_perms)
		return;
	u->perms = vb_xmalloc(r->perms_len ? r->perms_len : 1);
	memcpy(u->perms, r->perms, r->perms_len);
	u->perms_len = r->perms_len;
}

static int all_digits(const struct vb_name *n)
{
	if (n->len == 0 || n->len > 9)
		return 0;
	for (uint8_t i = 0; i < n->len; i++)
		if (n->s[i] < '0' || n->s[i] > '9')
			return 0;
	return 1;
}

/* control.md §6.3: a username is 3..50 bytes, a password 3..100. */
static int username_ok(const struct vb_name *n)
{
	return n->len >= 3 && n->len <= 50;
}

static int password_ok(const struct vb_name *n)
{
	return n->len >= 3 && n->len <= 100;
}

/* login and create_user: answers 43 or 44 and returns 1 if out of bounds. */
static int credentials_bad(struct vb_conn *c, const struct vb_req *r)
{
	if (!username_ok(&r->name)) {
		vb_reply_err(c, VB_ST_INVALID_USERNAME);
		return 1;
	}
	if (!password_ok(&r->secret)) {
		vb_reply_err(c, VB_ST_INVALID_PASSWORD);
		return 1;
	}
	return 0;
}

/* The user a login names: all digits is a user id (control.md §5.2.1). */
static struct vb_user *login_user(struct vb_broker *b,
				  const struct vb_name *name)
{
	if (all_digits(name))
		return vb_slab_get(&b->users,
				   (uint32_t)strtoul(name->s, NULL, 10));
	return find_name(b, name->s, name->len);
}

/* The password (or token) was right: in, unless the user is inactive. */
static int login_known(struct vb_login *l, const struct vb_user *u)
{
	l->failed = 0;
	if (u->status != 1) {
		l->status = VB_ST_USER_INACTIVE;
		return 0;
	}
	l->status = VB_ST_OK;
	l->user_id = u->id;
	return 0;
}

static int login_failed(struct vb_login *l, uint32_t status)
{
	l->status = status;
	l->failed = 1;
	return 0;
}

static int login_pat(struct vb_broker *b, struct vb_login *l)
{
	uint8_t h[32];

	token_hash(l->name.s, l->name.len, h);
	for (uint32_t i = 0; i < b->users.n; i++) {
		struct vb_user *u = b->users.v[i];

		for (uint32_t k = 0; u && k < u->npats; k++) {
			if (memcmp(u->pats[k].hash, h, 32) != 0)
				continue;
			if (u->pats[k].expiry_at &&
			    u->pats[k].expiry_at <= vb_wall_us()) {
				l->status = VB_ST_PAT_EXPIRED;
				l->failed = 0;
				return 0;
			}
			return login_known(l, u);
		}
	}
	return login_failed(l, VB_ST_RESOURCE_NOT_FOUND);
}

/* change_password: the worker checks the old one and hashes the new. */
static int passwd_decide(struct vb_broker *b, struct vb_login *l)
{
	struct vb_user *u = vb_slab_get(&b->users, l->user_id);

	if (u == NULL) {
		l->status = VB_ST_RESOURCE_NOT_FOUND;
		return 0;
	}
	strlcpy(l->pwhash, u->pwhash, sizeof(l->pwhash));
	return 1;
}

static int passwd_verdict(struct vb_broker *b, struct vb_login *l)
{
	struct vb_user *u = vb_slab_get(&b->users, l->user_id);

	if (u == NULL || strcmp(u->pwhash, l->pwhash) != 0)
		return passwd_decide(b, l);
	if (!l->pw_ok) {
		l->status = VB_ST_INVALID_CREDENTIALS;
		return 0;
	}
	strlcpy(u->pwhash, l->newhash, sizeof(u->pwhash));
	l->answered_at = l->conn->out.len;
	if (vb_meta_save_or_fail(b, l->conn) < 0) {
		/* Not saved: the old password stays, as on disk. */
		strlcpy(u->pwhash, l->pwhash, sizeof(u->pwhash));
		l->answered = 1;
	} else
		l->status = VB_ST_OK;
	return 0;
}

int vb_login_decide(struct vb_broker *b, struct vb_login *l)
{
	struct vb_user *u;

	if (l->code == VB_CMD_CHANGE_PASSWORD)
		return passwd_decide(b, l);
	if (l->code == VB_CMD_LOGIN_PAT)
		return login_pat(b, l);
	u = login_user(b, &l->name);
	if (u == NULL)
		return login_failed(l, VB_ST_INVALID_CREDENTIALS);
	if (pw_cached(u, l->secret.s, l->secret.len))
		return login_known(l, u);
	l->user_id = u->id;
	strlcpy(l->pwhash, u->pwhash, sizeof(l->pwhash));
	return 1;
}

int vb_login_verdict(struct vb_broker *b, struct vb_login *l)
{
	struct vb_user *u;

	if (l->code == VB_CMD_CHANGE_PASSWORD)
		return passwd_verdict(b, l);
	u = login_user(b, &l->name);
	/* Checked against what is no longer this user's password: again. */
	if (u == NULL || u->id != l->user_id ||
	    strcmp(u->pwhash, l->pwhash) != 0)
		return vb_login_decide(b, l);
	if (!l->pw_ok)
		return login_failed(l, VB_ST_INVALID_CREDENTIALS);
	pw_remember(u, l->secret.s, l->secret.len);
	return login_known(l, u);
}

static void pats(struct vb_broker *b, struct vb_conn *c, const struct vb_req *r)
{
	struct vb_user *u = vb_slab_get(&b->users, c->user_id);
	size_t m;

	if (u == NULL) {
		vb_reply_err(c, VB_ST_UNAUTHENTICATED);
		return;
	}
	if (r->code == VB_CMD_GET_PATS) {
		m = vb_wire_resp_begin(&c->out);
		for (uint32_t k = 0; k < u->npats; k++) {
			struct vb_pat_info pi;

			pi.name = u->pats[k].name;
			pi.expiry_at = u->pats[k].expiry_at;
			vb_wire_enc_pat(&c->out, &pi);
		}
		vb_wire_resp_end(&c->out, m);
		return;
	}
	if (r->code == VB_CMD_CREATE_PAT &&
	    (r->name.len < 3 || r->name.len > 30)) {
		vb_reply_err(c, VB_ST_INVALID_PAT_NAME);
		return;
	}
	for (uint32_t k = 0; k < u->npats; k++) {
		if (u->pats[k].name.len != r->name.len ||
		    memcmp(u->pats[k].name.s, r->name.s, r->name.len) != 0)
			continue;
		if (r->code == VB_CMD_CREATE_PAT) {
			vb_reply_err(c, VB_ST_PAT_ALREADY_EXISTS);
			return;
		}
		{
			struct vb_pat gone = u->pats[k];

			u->pats[k] = u->pats[--u->npats];
			if (vb_meta_save_or_fail(b, c) == 0) {
				vb_reply_ok(c);
				return;
			}
			/* Not saved: the token is back where it was. */
			u->pats[u->npats++] = u->pats[k];
			u->pats[k] = gone;
		}
		return;
	}
	if (r->code == VB_CMD_DELETE_PAT) {
		vb_reply_err(c, VB_ST_RESOURCE_NOT_FOUND);
		return;
	}
	if (u->npats >= PAT_MAX) {
		vb_reply_err(c, VB_ST_PATS_LIMIT_REACHED);
		return;
	}
	{
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "abcdefghijklmnopqrstuvwxyz0123456789";
		struct vb_pat *pt;
		struct vb_name tok;

		u->pats = vb_xreallocarray(u->pats, (size_t)u->npats + 1,
					   sizeof(*u->pats));
		pt = &u->pats[u->npats++];
		memset(pt, 0, sizeof(*pt));
		pt->name = r->name;
		if (r->value != 0 && r->value != UINT64_MAX)
			pt->expiry_at = vb_wall_us() + r->value;
		for (int i = 0; i < PAT_LEN; i++)
			tok.s[i] = al[arc4random_uniform(sizeof(al) - 1)];
		tok.s[PAT_LEN] = 0;
		tok.len = PAT_LEN;
		token_hash(tok.s, tok.len, pt->hash);
		if (vb_meta_save_or_fail(b, c) < 0) {
			u->npats--;
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		vb_wire_enc_name(&c->out, &tok);
		vb_wire_resp_end(&c->out, m);
	}
}

static void user_create(struct vb_broker *b, struct vb_conn *c,
			const struct vb_req *r)
{
	struct vb_user *u;

	if (credentials_bad(c, r))
		return;
	if (find_name(b, r->name.s, r->name.len)) {
		vb_reply_err(c, VB_ST_USER_ALREADY_EXISTS);
		return;
	}
	u = vb_xcalloc(1, sizeof(*u));
	u->name = r->name;
	u->created_at = vb_wall_us();
	u->status = r->user_status;
	vb_pw_hash(r->secret.s, r->secret.len, u->pwhash, sizeof(u->pwhash));
	set_perms(u, r);
	u->id = vb_slab_insert(&b->users, u);
	if (vb_meta_save_or_fail(b, c) < 0) {
		vb_slab_remove(&b->users, u->id);
		vb_user_free(u);
		return;
	}
	reply_user(c, u);
}

void vb_cmd_users(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r)
{
	struct vb_user *u;
	struct vb_name old_name;
	uint8_t old_status, *old_perms;
	uint32_t old_perms_len;
	size_t m;

	switch (r->code) {
	case VB_CMD_LOGIN_USER:
		if (!credentials_bad(c, r))
			vb_auth_login(b, c, r);
		return;
	case VB_CMD_LOGIN_PAT:
		vb_auth_login(b, c, r);
		return;
	case VB_CMD_LOGOUT_USER:
		vb_conn_set_user(b, c, VB_NO_USER);
		vb_reply_ok(c);
		return;
	case VB_CMD_GET_PATS:
	case VB_CMD_CREATE_PAT:
	case VB_CMD_DELETE_PAT:
		pats(b, c, r);
		return;
	case VB_CMD_GET_USERS:
		if (!vb_allowed(b, c, VB_P_READ_USERS, 0, 0)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		for (uint32_t i = 0; i < b->users.n; i++)
			if (b->users.v[i])
				enc_user(&c->out, b->users.v[i], 0);
		vb_wire_resp_end(&c->out, m);
		return;
	case VB_CMD_CREATE_USER:
		if (!vb_allowed(b, c, VB_P_MANAGE_USERS, 0, 0))
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
		else
			user_create(b, c, r);
		return;
	}
	u = find_user(b, &r->target);
	if (r->code == VB_CMD_GET_USER) {
		if (u == NULL) {
			vb_reply_ok(c);
		} else if (u->id != c->user_id &&
			   !vb_allowed(b, c, VB_P_READ_USERS, 0, 0)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
		} else {
			reply_user(c, u);
		}
		return;
	}
	if (r->code == VB_CMD_CHANGE_PASSWORD) {
		if (u && u->id != c->user_id &&
		    !vb_allowed(b, c, VB_P_MANAGE_USERS, 0, 0)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
	} else if (!vb_allowed(b, c, VB_P_MANAGE_USERS, 0, 0)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	if (u == NULL) {
		vb_reply_err(c, VB_ST_RESOURCE_NOT_FOUND);
		return;
	}
	switch (r->code) {
	case VB_CMD_DELETE_USER:
		if (u->id == 0) {
			vb_reply_err(c, VB_ST_CANNOT_DELETE_USER);
			return;
		}
		/* Forgotten only once a save forgets it. */
		vb_slab_remove(&b->users, u->id);
		if (vb_meta_save_or_fail(b, c) < 0) {
			vb_slab_put(&b->users, u->id, u);
			return;
		}
		for (struct vb_conn *o = b->conns; o; o = o->next)
			if (o->user_id == u->id)
				vb_conn_set_user(b, o, VB_NO_USER);
		vb_user_free(u);
		vb_reply_ok(c);
		return;
	case VB_CMD_UPDATE_USER:
		old_name = u->name;
		old_status = u->status;
		if (r->has_username) {
			struct vb_user *o;

			if (!username_ok(&r->name)) {
				vb_reply_err(c, VB_ST_INVALID_USERNAME);
				return;
			}
			o = find_name(b, r->name.s, r->name.len);
			if (o && o != u) {
				vb_reply_err(c, VB_ST_USER_ALREADY_EXISTS);
				return;
			}
			u->name = r->name;
		}
		if (r->has_status) {
			if (u->id == 0 && r->user_status != 1) {
				vb_reply_err(c,
					     VB_ST_CANNOT_CHANGE_PERMISSIONS);
				return;
			}
			u->status = r->user_status;
		}
		if (vb_meta_save_or_fail(b, c) < 0) {
			u->name = old_name;
			u->status = old_status;
			return;
		}
		vb_reply_ok(c);
		return;
	case VB_CMD_UPDATE_PERMISSIONS:
		if (u->id == 0) {
			vb_reply_err(c, VB_ST_CANNOT_CHANGE_PERMISSIONS);
			return;
		}
		old_perms = u->perms;
		old_perms_len = u->perms_len;
		u->perms = NULL; /* set_perms frees nothing */
		set_perms(u, r);
		if (vb_meta_save_or_fail(b, c) < 0) {
			free(u->perms);
			u->perms = old_perms;
			u->perms_len = old_perms_len;
			return;
		}
		free(old_perms);
		vb_reply_ok(c);
		return;
	case VB_CMD_CHANGE_PASSWORD:
		if (!password_ok(&r->secret2)) {
			vb_reply_err(c, VB_ST_INVALID_PASSWORD);
			return;
		}
		/* Both PBKDF2s by the worker; vb_login_verdict saves. */
		vb_auth_passwd(b, c, r, u->id);
		return;
	}
	vb_reply_err(c, VB_ST_ERROR); /* not a code of the table */
}
