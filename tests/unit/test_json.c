/* lib/base/json.c and parse.c: validation corpus, field extraction, values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/parse.h"

static int scan(const char *s, size_t n, struct vb_json_scan *r)
{
	memset(r, 0, sizeof(*r));
	return vb_json_scan(r, s, n);
}

static void ok(const char *s)
{
	struct vb_json_scan r;

	if (scan(s, strlen(s), &r) != 0)
		fail_msg("rejected '%s': %s at %zu", s, r.reason, r.err_off);
	assert_int_equal(r.blank, 0);
}

/* Must fail with `reason` at byte offset `off`. */
static void bad_n(const char *s, size_t n, const char *reason, size_t off)
{
	struct vb_json_scan r;

	if (scan(s, n, &r) == 0)
		fail_msg("accepted '%.*s'", (int)n, s);
	assert_string_equal(r.reason, reason);
	assert_int_equal(r.err_off, off);
}

static void bad(const char *s, const char *reason, size_t off)
{
	bad_n(s, strlen(s), reason, off);
}

static void test_valid(void **state)
{
	ok("{}");
	ok("[]");
	ok("0");
	ok("-0");
	ok("-0.5e+10");
	ok("1E5");
	ok("123.456e-7");
	ok("\"\"");
	ok("true");
	ok("false");
	ok("null");
	ok("  {\"a\" : [1, 2, {\"b\": null}], \"c\":\"d\"}  ");
	ok("{\"session_id\":\"s1\",\"n\":1}\r"); /* CRLF input */
	ok("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"");
	ok("\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\""); /* é € 😀 */
	ok("[[[[[[[[[[]]]]]]]]]]");
	ok("\t[1,\n2]");
}

static void test_invalid(void **state)
{
	/* truncated */
	bad("{\"a\":1", "unexpected end of line", 6);
	bad("{\"a\":", "unexpected end of line", 5);
	bad("{\"a\"", "unexpected end of line", 4);
	bad("[1,", "unexpected end of line", 3);
	bad("\"abc", "unexpected end of line", 4);
	bad("\"abc\\", "unexpected end of line", 5);
	bad("tru", "unexpected end of line", 3);
	bad("-", "unexpected end of line", 1);
	bad("1.", "unexpected end of line", 2);
	/* grammar */
	bad("{a:1}", "expected a string key", 1);
	bad("{\"a\" 1}", "expected ':'", 5);
	bad("{\"a\":1,}", "expected a string key", 7);
	bad("[1,]", "expected a JSON value", 3);
	bad("[1 2]", "expected ',' or ']'", 3);
	bad("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
	bad("{} {}", "trailing data after the JSON value", 3);
	bad("1 2", "trailing data after the JSON value", 2);
	bad("truE", "invalid literal", 3);
	bad("nul", "unexpected end of line", 3);
	bad("01", "invalid number (leading zero)", 1);
	bad("1.e5", "invalid number", 2);
	bad("+1", "expected a JSON value", 0);
	bad(".5", "expected a JSON value", 0);
	bad("'a'", "expected a JSON value", 0);
	bad("NaN", "expected a JSON value", 0);
	/* strings */
	bad("\"a\\x\"", "invalid escape", 2);
	bad("\"\\u12G4\"", "invalid \\u escape", 1);
	bad("\"\\uD800\"", "unpaired surrogate escape", 1);
	bad("\"\\uDC00\"", "unpaired surrogate escape", 1);
	bad("\"\\uD800\\u0041\"", "unpaired surrogate escape", 1);
	bad("\"a\tb\"", "control character in string", 2);
	bad_n("\"a\0b\"", 5, "NUL byte", 2);
	bad_n("{\"a\":1}\0", 8, "NUL byte", 7);
	bad_n("\0", 1, "NUL byte", 0);
	/* UTF-8 */
	bad("\"\xff\"", "invalid UTF-8", 1);
	bad("\"\xc3\"", "invalid UTF-8", 1);		   /* truncated */
	bad("\"\xc0\xaf\"", "invalid UTF-8", 1);	   /* overlong '/' */
	bad("\"\xe0\x80\xaf\"", "invalid UTF-8", 1);	   /* overlong */
	bad("\"\xed\xa0\x80\"", "invalid UTF-8", 1);	   /* surrogate */
	bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1);   /* > U+10FFFF */
	bad("\"abcdefgh\x80\"", "invalid UTF-8", 9);	   /* after fast path */
	bad("\xef\xbb\xbf{}", "expected a JSON value", 0); /* BOM */
	bad("\xfe{}", "invalid UTF-8", 0);
}

static void test_depth(void **state)
{
	size_t n = VB_JSON_MAX_DEPTH + 1;
	char *s = malloc(2 * n);
	struct vb_json_scan r;

	memset(s, '[', n);
	memset(s + n, ']', n);
	assert_int_equal(scan(s, 2 * n, &r), -1);
	assert_string_equal(r.reason, "nesting too deep");
	assert_int_equal(r.err_off, VB_JSON_MAX_DEPTH);
	/* exactly the maximum is fine */
	assert_int_equal(scan(s + 1, 2 * n - 2, &r), 0);
	free(s);
}

static void test_blank(void **state)
{
	struct vb_json_scan r;
	struct vb_err e;

	assert_int_equal(scan("", 0, &r), 0);
	assert_int_equal(r.blank, 1);
	assert_int_equal(scan(" \t\r", 3, &r), 0);
	assert_int_equal(r.blank, 1);
	assert_int_equal(vb_json_check_line("", 0, 7, &e), -1);
	assert_string_equal(e.msg, "line 7: empty line");
	assert_int_equal(vb_json_check_line("{\"a\":", 5, 3, &e), -1);
	assert_string_equal(e.msg, "line 3: unexpected end of line at byte 6");
	assert_int_equal(e.kind, VB_E_DATA);
	assert_int_equal(vb_json_check_line("[1]", 3, 3, &e), 0);
}

static void field(const char *s, const char *name, enum vb_json_type t,
		  const char *val)
{
	struct vb_json_scan r;

	memset(&r, 0, sizeof(r));
	r.field = name;
	r.field_len = strlen(name);
	assert_int_equal(vb_json_scan(&r, s, strlen(s)), 0);
	assert_int_equal(r.field_type, t);
	if (val == NULL)
		return;
	char out[256];
	size_t n = r.val_escaped ? vb_json_unescape(r.val, r.val_len, out) :
				   r.val_len;

	if (!r.val_escaped)
		memcpy(out, r.val, n);
	assert_int_equal(n, strlen(val));
	assert_memory_equal(out, val, n);
}

static void test_field(void **state)
{
	field("{\"session_id\":\"s1\",\"n\":1}", "session_id", VB_JSON_STRING,
	      "s1");
	field("{\"n\":1, \"session_id\" : \"abc-def\" }", "session_id",
	      VB_JSON_STRING, "abc-def");
	/* nested members do not count */
	field("{\"x\":{\"session_id\":\"inner\"}}", "session_id", VB_JSON_NONE,
	      NULL);
	field("[{\"session_id\":\"s\"}]", "session_id", VB_JSON_NONE, NULL);
	field("\"session_id\"", "session_id", VB_JSON_NONE, NULL);
	/* the last duplicate wins */
	field("{\"session_id\":\"a\",\"session_id\":\"b\"}", "session_id",
	      VB_JSON_STRING, "b");
	field("{\"session_id\":\"a\",\"session_id\":{\"x\":1}}", "session_id",
	      VB_JSON_OBJECT, NULL);
	/* escaped value and escaped key */
	field("{\"session_id\":\"s\\u0031\\n\"}", "session_id", VB_JSON_STRING,
	      "s1\n");
	field("{\"sess\\u0069on_id\":\"k\"}", "session_id", VB_JSON_STRING,
	      "k");
	field("{\"session_id\":\"\\uD83D\\uDE00\"}", "session_id",
	      VB_JSON_STRING, "\xf0\x9f\x98\x80");
	field("{\"session_id\":-12.5e3}", "session_id", VB_JSON_NUMBER,
	      "-12.5e3");
	field("{\"session_id\":null}", "session_id", VB_JSON_NULL, NULL);
	field("{\"session_id\":true}", "session_id", VB_JSON_TRUE, NULL);
	field("{\"user\":\"u\"}", "user", VB_JSON_STRING, "u");
	field("{\"sessionid\":\"u\"}", "session_id", VB_JSON_NONE, NULL);
}

static void quote(const char *in, size_t n, const char *want)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_json_scan r;

	vb_json_quote(&b, in, n);
	assert_string_equal((char *)b.p, want);
	/* whatever we quote is valid JSON */
	assert_int_equal(scan((char *)b.p, b.len, &r), 0);
	vb_buf_release(&b);
}

static void test_quote(void **state)
{
	quote("abc", 3, "\"abc\"");
	quote("a\"b\\c\n\x01", 7, "\"a\\\"b\\\\c\\n\\u0001\"");
	quote("h\xc3\xa9", 3, "\"h\xc3\xa9\"");
	quote("x\xffy", 3, "\"x\xef\xbf\xbdy\"");
	quote("\0", 1, "\"\\u0000\"");
	quote("0123456789abcdef\"", 17, "\"0123456789abcdef\\\"\"");
}

static void test_numbers(void **state)
{
	struct vb_err e;
	uint64_t u;
	int64_t i;

	assert_int_equal(vb_parse_u64("42", 0, 100, &u, &e), 0);
	assert_int_equal(u, 42);
	assert_int_equal(vb_parse_u64("101", 0, 100, &u, &e), -1);
	assert_string_equal(e.msg, "invalid number '101': larger than 100");
	assert_int_equal(vb_parse_u64("", 0, 100, &u, &e), -1);
	assert_int_equal(vb_parse_u64("1x", 0, 100, &u, &e), -1);
	assert_int_equal(vb_parse_u64("-1", 0, 100, &u, &e), -1);
	assert_int_equal(vb_parse_u64("99999999999999999999", 0, UINT64_MAX, &u,
				      &e),
			 -1);
	assert_int_equal(vb_parse_u64("18446744073709551615", 0, UINT64_MAX, &u,
				      &e),
			 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(vb_parse_i64("-5", -10, 10, &i, &e), 0);
	assert_int_equal(i, -5);
	assert_int_equal(vb_parse_i64("-11", -10, 10, &i, &e), -1);
	assert_int_equal(vb_parse_i64("-9223372036854775808", INT64_MIN,
				      INT64_MAX, &i, &e),
			 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(vb_parse_i64("9223372036854775808", INT64_MIN,
				      INT64_MAX, &i, &e),
			 -1);
}

static void dur(const char *s, uint64_t want)
{
	struct vb_err e;
	uint64_t us;

	if (vb_parse_duration(s, UINT64_MAX / 2, &us, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(us, want);
}

static void test_duration(void **state)
{
	struct vb_err e;
	uint64_t us;

	dur("10ms", 10000);
	dur("2s", 2000000);
	dur("2", 2000000);
	dur("0.5", 500000);
	dur("1.5ms", 1500);
	dur("250us", 250);
	dur("3m", 180000000);
	dur("1h", 3600000000ull);
	dur("0", 0);
	assert_int_equal(vb_parse_duration("5x", 1000000000, &us, &e), -1);
	assert_string_equal(
		e.msg,
		"invalid duration '5x': unknown unit 'x' (use us, ms, s, m or h)");
	assert_int_equal(vb_parse_duration("", 1000000000, &us, &e), -1);
	assert_int_equal(vb_parse_duration("ms", 1000000000, &us, &e), -1);
	assert_int_equal(vb_parse_duration("1.", 1000000000, &us, &e), -1);
	assert_int_equal(vb_parse_duration("2h", 1000000000, &us, &e), -1);
	assert_string_equal(e.msg, "invalid duration '2h': too long");
}

static void test_size(void **state)
{
	struct vb_err e;
	uint64_t v;

	assert_int_equal(vb_parse_size("64M", 1, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(vb_parse_size("1GiB", 1, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(vb_parse_size("512", 1, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 512);
	assert_int_equal(vb_parse_size("4k", 1, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vb_parse_size("3T", 1, UINT64_MAX, &v, &e), -1);
	assert_int_equal(vb_parse_size("2G", 1, 1ull << 30, &v, &e), -1);
	assert_int_equal(vb_parse_size("0", 1, 100, &v, &e), -1);
}

static void ts(const char *s, uint64_t want)
{
	struct vb_err e;
	uint64_t us;

	if (vb_parse_timestamp(s, &us, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(us, want);
}

static void test_timestamp(void **state)
{
	struct vb_err e;
	uint64_t us;
	char buf[64];

	ts("1700000000000000us", 1700000000000000ull);
	ts("1700000000000ms", 1700000000000000ull);
	ts("1700000000s", 1700000000000000ull);
	/* a bare number is no timestamp: seconds or microseconds? */
	assert_int_equal(vb_parse_timestamp("1733050000", &us, &e), -1);
	assert_non_null(
		strstr(e.msg,
		       "a bare number has no unit: write it with s, ms or us"));
	assert_int_equal(vb_parse_timestamp("1733050000m", &us, &e), -1);
	assert_int_equal(vb_parse_timestamp("99999999999999999999s", &us, &e),
			 -1);
	ts("2023-11-14T22:13:20Z", 1700000000000000ull);
	ts("2023-11-14t22:13:20z", 1700000000000000ull);
	ts("2023-11-14 22:13:20Z", 1700000000000000ull);
	ts("2023-11-14T22:13:20.5Z", 1700000000500000ull);
	ts("2023-11-14T22:13:20.000123Z", 1700000000000123ull);
	ts("2023-11-15T00:13:20+02:00", 1700000000000000ull);
	ts("2023-11-14T21:13:20-01:00", 1700000000000000ull);
	ts("1970-01-01", 0);
	ts("2000-02-29", 951782400000000ull);
	ts("2024-12-31T23:59:59Z", 1735689599000000ull);
	assert_int_equal(vb_parse_timestamp("2023-02-29", &us, &e), -1);
	assert_string_equal(e.msg,
			    "invalid timestamp '2023-02-29': no such date");
	assert_int_equal(vb_parse_timestamp("2023-11-14T22:13:20", &us, &e),
			 -1);
	assert_int_equal(vb_parse_timestamp("2023-11-14T25:00:00Z", &us, &e),
			 -1);
	assert_int_equal(vb_parse_timestamp("yesterday", &us, &e), -1);
	assert_int_equal(vb_parse_timestamp("", &us, &e), -1);
	assert_int_equal(vb_parse_timestamp("1969-12-31T23:59:59Z", &us, &e),
			 -1);
	vb_fmt_timestamp(1700000000000123ull, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14T22:13:20.000123Z");
	vb_fmt_timestamp(951782400000000ull, buf, sizeof(buf));
	assert_string_equal(buf, "2000-02-29T00:00:00.000000Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_blank),
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_timestamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
