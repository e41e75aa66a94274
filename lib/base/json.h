/*
 * json.h - JSON-line validation and top-level field extraction.
 *
 * vibes-append checks every input line: it must hold exactly one JSON value
 * (RFC 8259) with optional surrounding whitespace, and the line must be
 * valid UTF-8 (no overlong forms, no encoded surrogates, nothing above
 * U+10FFFF).  The scanner runs once over the bytes, builds nothing and
 * allocates nothing; while it validates it can pick out one member of the
 * top-level object (the partition key, `session_id` by default).
 *
 * Stricter than the RFC grammar in one place, like serde_json: a \u escape
 * that is an unpaired UTF-16 surrogate is rejected, so every accepted line
 * decodes to valid Unicode.  Raw bytes below 0x20 (NUL included) are only
 * allowed as the whitespace the grammar names (tab, CR, LF), never inside a
 * string.  Nesting deeper than VB_JSON_MAX_DEPTH is rejected.
 */
#ifndef VB_JSON_H
#define VB_JSON_H

#include <stddef.h>

#include "base/err.h"

#define VB_JSON_MAX_DEPTH 1024

enum vb_json_type {
	VB_JSON_NONE = 0, /* field absent */
	VB_JSON_STRING,
	VB_JSON_NUMBER,
	VB_JSON_OBJECT,
	VB_JSON_ARRAY,
	VB_JSON_TRUE,
	VB_JSON_FALSE,
	VB_JSON_NULL,
};

struct vb_json_scan {
	/* in: the top-level member to extract, or NULL */
	const char *field;
	size_t field_len;

	/* out */
	int blank;		/* the text was empty or only whitespace */
	enum vb_json_type type; /* type of the top-level value */
	const char *reason;	/* static text when invalid, else NULL */
	size_t err_off;		/* 0-based offset of the offending byte */
	/*
	 * The extracted member (the last one when the name repeats).
	 * Strings: val/val_len are the bytes between the quotes, still
	 * escaped if val_escaped; numbers: the number's text; other
	 * types: only field_type is set.
	 */
	enum vb_json_type field_type;
	const char *val;
	size_t val_len;
	int val_escaped;
};

/*
 * Scans p[0..n).  Returns 0 when the text is exactly one JSON value (or
 * blank: then s->blank = 1 and 0 is returned too; the caller decides what
 * a blank line means), -1 with s->reason and s->err_off otherwise.
 * s->field/field_len must be set (field may be NULL) before the call.
 */
int vb_json_scan(struct vb_json_scan *s, const char *p, size_t n);

/*
 * Decodes the contents of a string the scanner accepted (the bytes between
 * the quotes) into out, which must hold at least n bytes (decoding never
 * grows a string).  Returns the decoded length.
 */
size_t vb_json_unescape(const char *p, size_t n, char *out);

/*
 * Appends p[0..n) to b as a JSON string literal (quotes included),
 * escaping what RFC 8259 requires; bytes that are not valid UTF-8 are
 * written as U+FFFD.
 */
struct vb_buf;
void vb_json_quote(struct vb_buf *b, const char *p, size_t n);

/*
 * Validates p[0..n) and, on failure, fills e (VB_E_DATA) with
 * "line N: REASON at byte K" (K 1-based).  Blank text is an error
 * ("empty line") here.
 */
int vb_json_check_line(const char *p, size_t n, unsigned long long line,
		       struct vb_err *e);

#endif
