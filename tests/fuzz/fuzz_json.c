/*
 * fuzz_json.c - libFuzzer target for the JSON-line scanner (lib/base/json.c),
 * which vibes-append runs on every input line it is given.
 *
 * Input: one selector byte (which top-level member to extract: none,
 * "session_id", "a", "" or a name of up to 15 bytes taken from the input
 * itself), then the line.  The line is scanned from an exact-size copy, so
 * a read past its end is an ASan error.  Checks, besides no crash and no
 * undefined behaviour:
 *   - an error has a reason and an offset inside the line (or at its end);
 *     a success has a type, or is blank; vb_json_check_line agrees;
 *   - the extracted member lies inside the line, and a string one, once
 *     unescaped, is valid Unicode: quoted again (vb_json_quote) it scans
 *     as a JSON string and unescapes to the same bytes;
 *   - whitespace around an accepted line changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *line, size_t n)
{
	fprintf(stderr, "fuzz_json: %s (line of %zu bytes: %.*s)\n", what, n,
		(int)(n > 200 ? 200 : n), line);
	abort();
}

/* A string member: unescaped, quoted again, scanned and unescaped again. */
static void check_string(const struct vb_json_scan *s, const char *line,
			 size_t n)
{
	char *once = malloc(s->val_len + 1), *twice;
	struct vb_buf q = VB_BUF_INIT;
	struct vb_json_scan s2;
	size_t len, len2;

	if (once == NULL)
		abort();
	len = s->val_escaped ? vb_json_unescape(s->val, s->val_len, once) :
			       s->val_len;
	if (!s->val_escaped)
		memcpy(once, s->val, len);
	if (len > s->val_len)
		die("unescaping made a string longer", line, n);
	if (!s->val_escaped && memchr(s->val, '\\', s->val_len))
		die("a string with a backslash said to be unescaped", line, n);
	vb_json_quote(&q, once, len);
	memset(&s2, 0, sizeof(s2));
	if (vb_json_scan(&s2, (const char *)q.p, q.len) < 0 ||
	    s2.type != VB_JSON_STRING)
		die("a string quoted again does not scan", line, n);
	twice = malloc(q.len);
	if (twice == NULL)
		abort();
	/* The quoted text minus its quotes is what the scanner accepted. */
	len2 = vb_json_unescape((const char *)q.p + 1, q.len - 2, twice);
	if (len2 != len || memcmp(once, twice, len) != 0)
		die("a string does not survive quote and unescape", line, n);
	free(twice);
	free(once);
	vb_buf_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fields[] = { NULL, "session_id", "a", "" };
	struct vb_json_scan s, s2;
	struct vb_err e;
	char field[16], *line, *padded;
	size_t n;
	int rc;

	if (size < 1)
		return 0;
	n = size - 1;
	line = malloc(n ? n : 1);
	if (line == NULL)
		abort();
	memcpy(line, data + 1, n);
	memset(&s, 0, sizeof(s));
	if (data[0] < 4) {
		s.field = fields[data[0]];
		s.field_len = s.field ? strlen(s.field) : 0;
	} else {
		/* A name taken from the line: it may well be there. */
		size_t k = (size_t)(data[0] & 15) < n ? (size_t)(data[0] & 15) :
							n;

		memcpy(field, line, k);
		field[k] = 0;
		s.field = field;
		s.field_len = k;
	}
	rc = vb_json_scan(&s, line, n);
	if (rc < 0) {
		if (s.reason == NULL || s.err_off > n)
			die("an error without a reason or past the end", line,
			    n);
		if (vb_json_check_line(line, n, 1, &e) == 0)
			die("check_line accepts what scan refuses", line, n);
		free(line);
		return 0;
	}
	if (rc != 0 || s.reason != NULL)
		die("a success with a reason", line, n);
	if (s.blank) {
		if (vb_json_check_line(line, n, 1, &e) == 0)
			die("check_line accepts a blank line", line, n);
		free(line);
		return 0;
	}
	if (s.type == VB_JSON_NONE)
		die("a value without a type", line, n);
	if (vb_json_check_line(line, n, 1, &e) < 0)
		die("check_line refuses what scan accepts", line, n);
	if (s.field_type != VB_JSON_NONE && (s.field_type == VB_JSON_STRING ||
					     s.field_type == VB_JSON_NUMBER)) {
		if (s.val == NULL || s.val < line ||
		    s.val + s.val_len > line + n)
			die("the member lies outside the line", line, n);
		if (s.field_type == VB_JSON_STRING)
			check_string(&s, line, n);
	}
	/* Whitespace around it: the same answer. */
	padded = malloc(n + 4);
	if (padded == NULL)
		abort();
	memcpy(padded, " \t", 2);
	memcpy(padded + 2, line, n);
	memcpy(padded + 2 + n, "\r\n", 2);
	memset(&s2, 0, sizeof(s2));
	s2.field = s.field;
	s2.field_len = s.field_len;
	if (vb_json_scan(&s2, padded, n + 4) < 0 || s2.type != s.type ||
	    s2.field_type != s.field_type || s2.val_len != s.val_len)
		die("whitespace around a line changes its scan", line, n);
	free(padded);
	free(line);
	return 0;
}
