/*
 * test_wire09.c - the Iggy 0.9 codec (iggy-wire-0.9/) against every byte
 * vector of vectors.md, both ways: each request is encoded from its fields
 * and compared byte for byte, then decoded back (header and body) as a
 * server reads it; each reply and eviction is decoded through the reply
 * reader as a client takes it, then built with the server-side encoders
 * and compared.  Plus the hash checks, the options rules and the
 * malformed inputs a decoder must refuse.
 *
 * Decoders are handed exact-size heap copies, so an over-read is an
 * AddressSanitizer error in the sanitizer build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"
#include "wire_check.h"
#include "base/banned.h"

#define CHECK_FAIL(rc, e, st)                                                                 \
	do {                                                                                  \
		int rc_ = (rc);                                                               \
		if (rc_ != -1 || (e).status != (uint32_t)(st))                                \
			fail_msg("%s: %s: rc %d status %u (%s), want -1 status %u (line %d)", \
				 ctx, #rc, rc_, rc_ ? (e).status : 0,                         \
				 rc_ ? (e).msg : "", (unsigned)(st),                          \
				 __LINE__);                                                   \
	} while (0)

/* ---- the vectors (vectors.md, verbatim) ---- */

/* V1 LoginRegister (code 40) iggy/iggy, node-sdk 0.10.0-edge.4, protocol 0.11.0 (297 bytes) */
static const char V09_V1[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "29 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 2c 00 00 08 6e 6f 64 65 2d 73 64 6b 0d 30 2e "
			     "31 30 2e 30 2d 65 64 67 65 2e 34 04 69 67 67 79 "
			     "04 69 67 67 79 00 00 00 00";

/* V2 Ping (code 1), unbound session (256 bytes) */
static const char V09_V2[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/* V2b Ping after bind (session 7) (256 bytes) */
static const char V09_V2B[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "
			      "02 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			      "00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/* V3 CreateStream (202 -> op 128) "vibes", session 7, request 1 (262 bytes) */
static const char V09_V3[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "06 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "
			     "80 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "05 76 69 62 65 73";

/* V4 CreateTopic (302 -> op 132) stream "vibes", "events", 3 partitions, gzip, expiry 1h, max 10 GiB, segment 1 MiB, session 7, request 2 (403 bytes) */
static const char V09_V4[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "93 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 "
			     "84 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "02 05 76 69 62 65 73 03 00 00 00 06 65 76 65 6e "
			     "74 73 02 15 00 00 00 63 6f 6d 70 72 65 73 73 69 "
			     "6f 6e 5f 61 6c 67 6f 72 69 74 68 6d 02 04 00 00 "
			     "00 67 7a 69 70 02 0e 00 00 00 6d 65 73 73 61 67 "
			     "65 5f 65 78 70 69 72 79 0c 08 00 00 00 00 a4 93 "
			     "d6 00 00 00 00 02 0e 00 00 00 6d 61 78 5f 74 6f "
			     "70 69 63 5f 73 69 7a 65 0c 08 00 00 00 00 00 00 "
			     "80 02 00 00 00 02 0c 00 00 00 73 65 67 6d 65 6e "
			     "74 5f 73 69 7a 65 0c 08 00 00 00 00 00 10 00 00 "
			     "00 00 00";

/* V5 SendMessages (101 -> op 160) stream "vibes", topic "events", key "user-42", 3 messages (ids 1,2,3; origin ts 1700000000000000/+10/+20 us; msg 2 has headers k="v", n=u32 7), session 7, request 3 (not advanced) (729 bytes) */
static const char V09_V5[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "d9 02 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "a0 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "1c 00 00 00 02 05 76 69 62 65 73 02 06 65 76 65 "
			     "6e 74 73 03 07 75 73 65 72 2d 34 32 03 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 40 1e 18 24 0a 06 00 "
			     "b9 01 00 00 00 00 00 00 ad 02 b3 e7 d6 78 25 68 "
			     "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "1f c6 33 73 b2 eb 85 60 01 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00 "
			     "61 6c 70 68 61 bd b3 ae 88 fc 08 4c 89 02 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 "
			     "00 0a 00 00 00 1b 00 00 00 04 00 00 00 00 00 00 "
			     "00 00 00 00 00 62 65 74 61 02 01 00 00 00 6b 02 "
			     "01 00 00 00 76 02 01 00 00 00 6e 0b 04 00 00 00 "
			     "07 00 00 00 d3 cb 05 83 63 48 b5 a8 03 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 "
			     "14 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 "
			     "00 00 00 00 67 61 6d 6d 61";

/* V6 PollMessages (100, NonReplicated) consumer "reader", stream "vibes", topic "events", partition 2, offset 0, count 100, no auto-commit (299 bytes) */
static const char V09_V6[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "2b 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "02 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 64 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 02 06 72 65 61 64 65 72 02 05 76 69 62 65 73 "
			     "02 06 65 76 65 6e 74 73 01 02 00 00 00 01 00 00 "
			     "00 00 00 00 00 00 64 00 00 00 00";

/* V7 StoreConsumerOffset (121 -> op 161) consumer "reader", "vibes"/"events", partition 2, offset 2, ack=1 (294 bytes) */
static const char V09_V7[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "26 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "a1 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 02 06 72 65 61 64 65 72 02 05 76 69 62 65 73 "
			     "02 06 65 76 65 6e 74 73 01 02 00 00 00 02 00 00 "
			     "00 00 00 00 00 01";

/* V8 JoinConsumerGroup (604 -> op 148) "vibes"/"events"/"workers", session 7, request 3 (280 bytes) */
static const char V09_V8[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "18 01 00 00 00 00 00 00 00 00 00 00 05 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "94 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "02 05 76 69 62 65 73 02 06 65 76 65 6e 74 73 02 "
			     "07 77 6f 72 6b 65 72 73";

/* R0 LoginRegister reply: user 0, session 7, protocol 0.11.0 (11264), server "0.9.0" (282 bytes) */
static const char V09_R0[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "1a 01 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "07 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
			     "00 2c 00 00 05 30 2e 39 2e 30";

/* R1 SendMessages reply: 1 confirmation {stream 0, topic 0, partition 2, base_offset 0} (280 bytes) */
static const char V09_R1[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "18 01 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "07 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "a0 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 "
			     "00 00 00 00 00 00 00 00";

/* B1 producer batch for messages 1,2 of V5 (what a producer sends after the metadata) (388 bytes) */
static const char V09_B1[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 40 1e 18 24 0a 06 00 "
			     "84 01 00 00 00 00 00 00 9d 7c f3 92 04 d8 d3 c2 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "1f c6 33 73 b2 eb 85 60 01 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00 "
			     "61 6c 70 68 61 bd b3 ae 88 fc 08 4c 89 02 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 "
			     "00 0a 00 00 00 1b 00 00 00 04 00 00 00 00 00 00 "
			     "00 00 00 00 00 62 65 74 61 02 01 00 00 00 6b 02 "
			     "01 00 00 00 76 02 01 00 00 00 6e 0b 04 00 00 00 "
			     "07 00 00 00";

/* R2 PollMessages reply: partition 2, current_offset 2, 2 messages (offsets 0,1; server timestamp 1700000000000500) (660 bytes) */
static const char V09_R2[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "94 02 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "07 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "02 00 00 00 02 00 00 00 00 00 00 00 02 00 00 00 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "f4 41 1e 18 24 0a 06 00 00 40 1e 18 24 0a 06 00 "
			     "84 01 00 00 00 00 00 00 87 ef 9c 8e 7a ab c5 95 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "1f c6 33 73 b2 eb 85 60 01 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00 "
			     "61 6c 70 68 61 bd b3 ae 88 fc 08 4c 89 02 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 "
			     "00 0a 00 00 00 1b 00 00 00 04 00 00 00 00 00 00 "
			     "00 00 00 00 00 62 65 74 61 02 01 00 00 00 6b 02 "
			     "01 00 00 00 76 02 01 00 00 00 6e 0b 04 00 00 00 "
			     "07 00 00 00";

/* R3 GetStream reply: id 0, created 1700000000000000, 0 topics, size 0, 0 messages, "vibes", options length 0 (298 bytes) */
static const char V09_R3[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "2a 01 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "07 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
			     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 40 1e 18 24 0a 06 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "05 76 69 62 65 73 00 00 00 00";

/* R4 CreateStream committed rejection 1012 (result section count 1, index 0, code 1012) (268 bytes) */
static const char V09_R4[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "0c 01 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "07 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "
			     "80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "01 00 00 00 00 00 00 00 f4 03 00 00";

/* R5 Deny reply status 40 (empty body) (256 bytes) */
static const char V09_R5[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 01 00 00 00 00 00 00 00 00 00 00 08 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "
			     "02 00 00 00 00 00 00 00 28 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/* R6 Eviction IncompatibleProtocol (reason 14), window max=min=0.11.0 (256 bytes) */
static const char V09_R6[] = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 01 00 00 00 00 00 00 00 00 00 00 0d 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "10 32 54 76 98 ba dc fe ef cd ab 89 67 45 23 01 "
			     "00 2c 00 00 00 2c 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 0e";

/* ---- pinned inputs (vectors.md) ---- */

static const uint8_t CLIENT[16] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
};
#define ORIGIN 1700000000000000ull
#define SERVER_TS 1700000000000500ull

static void name_set(struct vb_name *n, const char *s)
{
	assert_int_equal(vb_name_set(n, s), 0);
}

static void ident_str(struct vb_ident *id, const char *s)
{
	assert_int_equal(vb_ident_str(id, s), 0);
}

/* A 0.9 request frame of r with the given identity, as a client sends it. */
static void enc_req(struct vb_buf *b, const struct vb_req *r, uint64_t request,
		    uint64_t session, int stamp)
{
	struct vb_vsr_id id;

	memcpy(id.client, CLIENT, 16);
	id.request = request;
	id.session = session;
	vb_buf_reset(b);
	vb_wire_req_frame(b, &vb_framing_v09, r);
	vb_vsr_req_stamp(b->p, b->len, &id, stamp);
}

/* Decodes frame as a server: header, then the body of its code. */
static void dec_req(const struct vb_buf *frame, struct vb_vsr_req *h,
		    struct vb_req *r, uint8_t op, uint32_t code,
		    uint64_t request, uint64_t session)
{
	struct vb_err e;
	uint8_t *hdr = dup_n(frame->p, VB_VSR_HDR);
	uint8_t *body = dup_n(frame->p + VB_VSR_HDR, frame->len - VB_VSR_HDR);

	CHECK_OK(vb_vsr_req_parse(hdr, h, &e), e);
	CHECK_U(h->size, frame->len);
	CHECK_U(h->operation, op);
	CHECK_U(h->code, code);
	CHECK_U(h->request, request);
	CHECK_U(h->session, session);
	CHECK(memcmp(h->client, CLIENT, 16) == 0);
	CHECK_U(vb_framing_v09.req_code(frame->p), code);
	CHECK_U(vb_framing_v09.req_size(frame->p), frame->len);
	if (code != VB_CMD_SEND_MESSAGES)
		CHECK_OK(vb_wire_req_decode_gen(r, VB_GEN_09, code, body,
						frame->len - VB_VSR_HDR, &e),
			 e);
	free(hdr);
	free(body);
}

/* ---- requests: V1-V8 ---- */

static void login_req(struct vb_req *r)
{
	vb_req_init(r, VB_CMD_LOGIN_REGISTER);
	r->proto_version = VB_V09_PROTOCOL_VERSION;
	name_set(&r->sdk_name, "node-sdk");
	name_set(&r->sdk_version, "0.10.0-edge.4");
	name_set(&r->name, "iggy");
	name_set(&r->secret, "iggy");
}

static void test_v1_login(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V1";
	CHECK_U(VB_V09_PROTOCOL_VERSION, 11264);
	login_req(&r);
	enc_req(&b, &r, 0, 0, 0);
	CHECK_HEX(&b, V09_V1);
	dec_req(&b, &h, &d, VB_OP_REGISTER, VB_CMD_LOGIN_REGISTER, 0, 0);
	CHECK_U(d.proto_version, 11264);
	CHECK_STR(d.sdk_name.s, "node-sdk");
	CHECK_STR(d.sdk_version.s, "0.10.0-edge.4");
	CHECK_STR(d.name.s, "iggy");
	CHECK_STR(d.secret.s, "iggy");
	CHECK_U(d.context_len, 0);
	/* what the Rust SDK stamps (framing.md §5.4) */
	enc_req(&b, &r, 0, 0, 1);
	CHECK_U(vb_ld64(b.p + 144), 0x2643cd28bfebec72ull);
	CHECK_U(vb_ld64(b.p + 152), 0);
	vb_buf_release(&b);
}

static void test_v2_ping(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V2";
	vb_req_init(&r, VB_CMD_PING);
	enc_req(&b, &r, 1, 0, 0);
	CHECK_HEX(&b, V09_V2);
	dec_req(&b, &h, &d, VB_OP_NR, VB_CMD_PING, 1, 0);
	ctx = "V2b";
	enc_req(&b, &r, 1, 7, 0);
	CHECK_HEX(&b, V09_V2B);
	dec_req(&b, &h, &d, VB_OP_NR, VB_CMD_PING, 1, 7);
	vb_buf_release(&b);
}

static void test_v3_create_stream(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V3";
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	name_set(&r.name, "vibes");
	enc_req(&b, &r, 1, 7, 0);
	CHECK_HEX(&b, V09_V3);
	dec_req(&b, &h, &d, 128, VB_CMD_CREATE_STREAM, 1, 7);
	CHECK_STR(d.name.s, "vibes");
	enc_req(&b, &r, 1, 7, 1);
	CHECK_U(vb_ld64(b.p + 144), 0x06ecc058cc698915ull);
	CHECK_U(h.request_checksum, 0);
	vb_buf_release(&b);
}

static void test_v4_create_topic(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V4";
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	ident_str(&r.stream, "vibes");
	r.count = 3;
	name_set(&r.name, "events");
	r.compression = VB_COMPRESSION_GZIP;
	r.message_expiry = 3600000000ull;
	r.max_topic_size = 10ull << 30;
	r.topt[VB_TOPT_SEGMENT_SIZE] = 1u << 20;
	r.topt_set = 1u << VB_TOPT_SEGMENT_SIZE;
	enc_req(&b, &r, 2, 7, 0);
	CHECK_HEX(&b, V09_V4);
	dec_req(&b, &h, &d, 132, VB_CMD_CREATE_TOPIC, 2, 7);
	CHECK_STR(d.stream.name.s, "vibes");
	CHECK_U(d.count, 3);
	CHECK_STR(d.name.s, "events");
	CHECK_U(d.compression, VB_COMPRESSION_GZIP);
	CHECK_U(d.message_expiry, 3600000000ull);
	CHECK_U(d.max_topic_size, 10ull << 30);
	CHECK_U(d.topt[VB_TOPT_SEGMENT_SIZE], 1u << 20);
	CHECK_U(d.topt_set, 1u << VB_TOPT_COMPRESSION | 1u << VB_TOPT_EXPIRY |
				    1u << VB_TOPT_MAX_SIZE |
				    1u << VB_TOPT_SEGMENT_SIZE);
	/* the server's defaults are not sent (as the Node SDK does) */
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	ident_str(&r.stream, "vibes");
	r.count = 3;
	name_set(&r.name, "events");
	r.compression = VB_COMPRESSION_NONE;
	enc_req(&b, &r, 2, 7, 0);
	CHECK_U(b.len, VB_VSR_HDR + 7 + 4 + 7);
	vb_buf_release(&b);
}

static void v5_msgs(struct vb_msg_in *m, struct vb_buf *uh)
{
	uint8_t seven[4] = { 7, 0, 0, 0 };
	static const char *pl[3] = { "alpha", "beta", "gamma" };

	vb_buf_reset(uh);
	vb_wire_uhdr_add(uh, VB_UHDR_STRING, "k", 1, VB_UHDR_STRING, "v", 1);
	vb_wire_uhdr_add(uh, VB_UHDR_STRING, "n", 1, VB_UHDR_UINT32, seven, 4);
	memset(m, 0, 3 * sizeof(*m));
	for (int i = 0; i < 3; i++) {
		m[i].id[0] = (uint8_t)(i + 1);
		m[i].origin_timestamp = ORIGIN + 10 * (uint64_t)i;
		m[i].payload = pl[i];
		m[i].payload_len = (uint32_t)strlen(pl[i]);
	}
	m[1].uhdr = uh->p;
	m[1].uhdr_len = (uint32_t)uh->len;
}

static void v5_hdr(struct vb_send_hdr *h)
{
	memset(h, 0, sizeof(*h));
	ident_str(&h->stream, "vibes");
	ident_str(&h->topic, "events");
	h->part_kind = VB_PART_KEY;
	h->key_len = 7;
	memcpy(h->key, "user-42", 7);
}

static void check_v5_msg(const struct vb_msg *m, int i, uint64_t base,
			 uint64_t ts)
{
	static const char *pl[3] = { "alpha", "beta", "gamma" };
	struct vb_err e;

	CHECK_U(m->offset, base + (uint64_t)i);
	CHECK_U(m->id[0], i + 1);
	CHECK_U(m->timestamp, ts);
	CHECK_U(m->origin_timestamp, ORIGIN + 10 * (uint64_t)i);
	CHECK_U(m->payload_len, strlen(pl[i]));
	CHECK(memcmp(m->payload, pl[i], m->payload_len) == 0);
	CHECK_U(m->uhdr_len, i == 1 ? 27 : 0);
	CHECK_OK(vb_wire_msg_verify(m, &e), e);
}

static void test_v5_send(void **state)
{
	struct vb_buf b = VB_BUF_INIT, uh = VB_BUF_INIT;
	struct vb_buf sums = VB_BUF_INIT;
	struct vb_send_builder sb;
	struct vb_send_view09 v;
	struct vb_send_hdr h;
	struct vb_vsr_req hd;
	struct vb_msg_in m[3];
	struct vb_vsr_id id;
	struct vb_msgs it;
	struct vb_msg msg;
	struct vb_err e;
	struct vb_req d;
	uint8_t *body;
	int i = 0, rc;

	ctx = "V5";
	v5_hdr(&h);
	v5_msgs(m, &uh);
	CHECK_OK(vb_wire_send_encode_f(&b, &vb_framing_v09, &h, m, 3, &e), e);
	memcpy(id.client, CLIENT, 16);
	id.request = 3;
	id.session = 7;
	vb_vsr_req_stamp(b.p, b.len, &id, 0);
	CHECK_HEX(&b, V09_V5);
	dec_req(&b, &hd, &d, VB_OP_SEND, VB_CMD_SEND_MESSAGES, 3, 7);
	body = dup_n(b.p + VB_VSR_HDR, b.len - VB_VSR_HDR);
	CHECK_OK(vb_wire_send_decode_v09(&v, body, b.len - VB_VSR_HDR, &e), e);
	CHECK_U(v.h.part_kind, VB_PART_KEY);
	CHECK_U(v.h.key_len, 7);
	CHECK(memcmp(v.h.key, "user-42", 7) == 0);
	CHECK_U(v.h.count, 3);
	CHECK_STR(v.h.stream.name.s, "vibes");
	CHECK_STR(v.h.topic.name.s, "events");
	/* the unstamped record reads as offsets 0.. at timestamp 0 */
	vb_msgs_init(&it, VB_GEN_09, v.batch, v.batch_len);
	while ((rc = vb_msgs_next(&it, &msg, &e)) == 1)
		check_v5_msg(&msg, i++, 0, 0);
	CHECK_U(rc, 0);
	CHECK_U(i, 3);
	/* key partitioning: XXH32("user-42") mod 3 (messages.md §6) */
	CHECK_U(vb_xxh32("user-42", 7), 0x61819a7e);
	CHECK_U(vb_xxh32("user-42", 7) % 3, 2);
	free(body);

	/* B1: the builder, messages 1 and 2 */
	ctx = "B1";
	vb_buf_reset(&b);
	vb_wire_send_begin_f(&sb, &b, &vb_framing_v09, &h, 2,
			     5 + 4 + (uint64_t)uh.len);
	for (int k = 0; k < 2; k++)
		vb_wire_send_add(&sb, m[k].id, m[k].origin_timestamp,
				 m[k].payload, m[k].payload_len, m[k].uhdr,
				 m[k].uhdr_len);
	CHECK_OK(vb_wire_send_end(&sb, &e), e);
	{
		struct vb_buf want = VB_BUF_INIT;

		unhex(&want, V09_B1);
		CHECK_MEM(b.p + sb.batch, b.len - sb.batch, want.p, want.len);
		CHECK_U(vb_ld64(b.p + sb.batch + VB_BATCH_CHECKSUM),
			0xc2d3d80492f37c9dull);
		CHECK_U(vb_ld64(b.p + sb.batch + VB_BATCH_HDR),
			0x6085ebb27333c61full);
		/* the same with the checksums gathered as the frames go in */
		ctx = "B1 sums";
		vb_buf_reset(&b);
		vb_wire_send_begin_f(&sb, &b, &vb_framing_v09, &h, 2,
				     5 + 4 + (uint64_t)uh.len);
		vb_wire_send_sums(&sb, &sums);
		for (int k = 0; k < 2; k++)
			vb_wire_send_add(&sb, m[k].id, m[k].origin_timestamp,
					 m[k].payload, m[k].payload_len,
					 m[k].uhdr, m[k].uhdr_len);
		CHECK_U(sb.neager, 2);
		CHECK_U(sums.len, 16);
		CHECK_OK(vb_wire_send_end(&sb, &e), e);
		CHECK_MEM(b.p + sb.batch, b.len - sb.batch, want.p, want.len);
		vb_buf_release(&want);
	}
	vb_buf_release(&sums);
	vb_buf_release(&b);
	vb_buf_release(&uh);
}

static void test_v6_poll(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V6";
	vb_req_init(&r, VB_CMD_POLL_MESSAGES);
	r.consumer.kind = VB_CONSUMER;
	ident_str(&r.consumer.id, "reader");
	ident_str(&r.stream, "vibes");
	ident_str(&r.topic, "events");
	r.part.present = 1;
	r.part.id = 2;
	r.strategy = VB_POLL_OFFSET;
	r.value = 0;
	r.count = 100;
	enc_req(&b, &r, 3, 7, 0);
	CHECK_HEX(&b, V09_V6);
	dec_req(&b, &h, &d, VB_OP_NR, VB_CMD_POLL_MESSAGES, 3, 7);
	CHECK_STR(d.consumer.id.name.s, "reader");
	CHECK_U(d.part.present, 1);
	CHECK_U(d.part.id, 2);
	CHECK_U(d.strategy, VB_POLL_OFFSET);
	CHECK_U(d.count, 100);
	CHECK_U(d.flag, 0);
	vb_buf_release(&b);
}

static void test_v7_store_offset(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;
	struct vb_err e;

	ctx = "V7";
	vb_req_init(&r, VB_CMD_STORE_CONSUMER_OFFSET);
	CHECK_U(r.ack, VB_ACK_QUORUM); /* the SDKs' default */
	r.consumer.kind = VB_CONSUMER;
	ident_str(&r.consumer.id, "reader");
	ident_str(&r.stream, "vibes");
	ident_str(&r.topic, "events");
	r.part.present = 1;
	r.part.id = 2;
	r.value = 2;
	enc_req(&b, &r, 3, 7, 0);
	CHECK_HEX(&b, V09_V7);
	dec_req(&b, &h, &d, VB_OP_STORE_OFFSET, VB_CMD_STORE_CONSUMER_OFFSET, 3,
		7);
	CHECK_U(d.value, 2);
	CHECK_U(d.ack, VB_ACK_QUORUM);
	CHECK_U(d.part.id, 2);
	/* the ack byte is mandatory and 0 or 1 */
	CHECK_FAIL(vb_wire_req_decode_gen(&d, VB_GEN_09,
					  VB_CMD_STORE_CONSUMER_OFFSET,
					  b.p + VB_VSR_HDR,
					  b.len - VB_VSR_HDR - 1, &e),
		   e, VB_ST_INVALID_COMMAND);
	b.p[b.len - 1] = 2;
	CHECK_FAIL(vb_wire_req_decode_gen(&d, VB_GEN_09,
					  VB_CMD_STORE_CONSUMER_OFFSET,
					  b.p + VB_VSR_HDR, b.len - VB_VSR_HDR,
					  &e),
		   e, VB_ST_INVALID_COMMAND);
	/* delete: the same byte after the partition */
	vb_req_init(&r, VB_CMD_DELETE_CONSUMER_OFFSET);
	r.consumer.kind = VB_CONSUMER;
	ident_str(&r.consumer.id, "reader");
	ident_str(&r.stream, "vibes");
	ident_str(&r.topic, "events");
	r.part.present = 1;
	r.part.id = 2;
	r.ack = VB_ACK_NONE;
	enc_req(&b, &r, 3, 7, 0);
	CHECK_U(b.p[176], VB_OP_DELETE_OFFSET);
	CHECK_U(b.len, 294 - 8);
	CHECK_U(b.p[b.len - 1], 0);
	vb_buf_release(&b);
}

static void test_v8_join(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r, d;

	ctx = "V8";
	vb_req_init(&r, VB_CMD_JOIN_CONSUMER_GROUP);
	ident_str(&r.stream, "vibes");
	ident_str(&r.topic, "events");
	ident_str(&r.target, "workers");
	enc_req(&b, &r, 3, 7, 0);
	CHECK_HEX(&b, V09_V8);
	dec_req(&b, &h, &d, 148, VB_CMD_JOIN_CONSUMER_GROUP, 3, 7);
	CHECK_STR(d.target.name.s, "workers");
	/* sync (606) has the same body, sent as NonReplicated */
	r.code = VB_CMD_SYNC_CONSUMER_GROUP;
	enc_req(&b, &r, 3, 7, 0);
	CHECK_U(b.p[176], VB_OP_NR);
	CHECK_U(vb_ld32(b.p + 196), 606);
	CHECK_U(b.len, 280);
	vb_buf_release(&b);
}

/* ---- replies: R0-R6 ---- */

/* Takes the one reply hex holds through a 0.9 reader, fed byte by byte. */
static void take_reply(const char *hex, struct vb_reader *rd,
		       struct vb_reply *rep)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;

	unhex(&b, hex);
	vb_reader_init(rd, &vb_framing_v09, 1u << 20);
	for (size_t i = 0; i + 1 < b.len; i++) {
		vb_reader_feed(rd, b.p + i, 1);
		CHECK_U(vb_reader_ready(rd, 1), 0);
		CHECK_U(vb_reader_next(rd, rep, &e), 0);
	}
	vb_reader_feed(rd, b.p + b.len - 1, 1);
	CHECK_U(vb_reader_ready(rd, 1), 1);
	if (vb_reader_next(rd, rep, &e) != 1)
		fail_msg("%s: no reply: %s", ctx, e.msg);
	vb_buf_release(&b);
}

static void reply_hdr(struct vb_vsr_reply *h, uint64_t op, uint64_t commit,
		      uint64_t request, uint8_t operation, uint32_t status)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->client, CLIENT, 16);
	h->op = op;
	h->commit = commit;
	h->request = request;
	h->operation = operation;
	h->status = status;
}

static void test_r0_login_reply(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	struct vb_vsr_login l;
	struct vb_err e;
	size_t m;

	ctx = "R0";
	take_reply(V09_R0, &rd, &rep);
	CHECK_U(rep.status, 0);
	CHECK_U(rep.evicted, 0);
	CHECK_U(rep.op, VB_OP_REGISTER);
	CHECK_U(rep.request, 0);
	CHECK_OK(vb_vsr_dec_login(rep.payload, rep.len, &l, &e), e);
	CHECK_U(l.user_id, 0);
	CHECK_U(l.session, 7);
	CHECK_U(l.server_protocol, 11264);
	CHECK_STR(l.server_version.s, "0.9.0");
	vb_reader_release(&rd);
	reply_hdr(&h, 7, 7, 0, VB_OP_REGISTER, 0);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_result_ok(&b);
	vb_vsr_enc_login(&b, &l);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R0);
	vb_buf_release(&b);
}

static void test_r1_send_reply(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	struct vb_send_confirm c;
	struct vb_err e;
	int found;
	size_t m;

	ctx = "R1";
	take_reply(V09_R1, &rd, &rep);
	CHECK_U(rep.status, 0);
	CHECK_U(rep.op, VB_OP_SEND);
	CHECK_U(rep.request, 3);
	CHECK_OK(vb_wire_dec_send_reply(rep.payload, rep.len, &found, &c, &e),
		 e);
	CHECK(found);
	CHECK_U(c.stream_id, 0);
	CHECK_U(c.topic_id, 0);
	CHECK_U(c.partition_id, 2);
	CHECK_U(c.base_offset, 0);
	CHECK_FAIL(vb_wire_dec_send_reply(rep.payload, rep.len - 1, &found, &c,
					  &e),
		   e, VB_ST_INVALID_COMMAND);
	vb_reader_release(&rd);
	reply_hdr(&h, 7, 9, 3, VB_OP_SEND, 0);
	m = vb_vsr_reply_begin(&b, &h);
	c.partition_id = 2;
	vb_wire_enc_send_reply(&b, &c, 1);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R1);
	/* count 0: stored, offsets unknown; trailing bytes refused */
	vb_buf_reset(&b);
	vb_wire_enc_send_reply(&b, &c, 0);
	CHECK_OK(vb_wire_dec_send_reply(b.p, b.len, &found, &c, &e), e);
	CHECK(!found);
	vb_buf_u8(&b, 0);
	CHECK_FAIL(vb_wire_dec_send_reply(b.p, b.len, &found, &c, &e), e,
		   VB_ST_INVALID_COMMAND);
	vb_buf_release(&b);
}

/* The stamped record of B1, as the server stores and serves it. */
static void b1_stamped(struct vb_buf *out)
{
	struct vb_buf b = VB_BUF_INIT, uh = VB_BUF_INIT;
	struct vb_send_builder sb;
	struct vb_send_hdr h;
	struct vb_msg_in m[3];
	struct vb_err e;

	v5_hdr(&h);
	v5_msgs(m, &uh);
	vb_wire_send_begin_f(&sb, &b, &vb_framing_v09, &h, 2,
			     5 + 4 + (uint64_t)uh.len);
	for (int k = 0; k < 2; k++)
		vb_wire_send_add(&sb, m[k].id, m[k].origin_timestamp,
				 m[k].payload, m[k].payload_len, m[k].uhdr,
				 m[k].uhdr_len);
	CHECK_OK(vb_wire_send_end(&sb, &e), e);
	vb_wire_batch_stamp(b.p + sb.batch, 2, 0, SERVER_TS);
	vb_buf_reset(out);
	vb_buf_add(out, b.p + sb.batch, b.len - sb.batch);
	vb_buf_release(&b);
	vb_buf_release(&uh);
}

static void test_r2_poll_reply(void **state)
{
	struct vb_buf b = VB_BUF_INIT, rec = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	struct vb_poll_hdr ph;
	struct vb_msgs it;
	struct vb_msg msg;
	struct vb_rd r;
	struct vb_err e;
	uint8_t *p;
	int i = 0, rc;
	size_t m;

	ctx = "R2";
	take_reply(V09_R2, &rd, &rep);
	CHECK_U(rep.status, 0);
	CHECK_U(rep.op, VB_OP_NR);
	CHECK_U(rep.request, 3);
	p = dup_n(rep.payload, rep.len);
	vb_rd_init(&r, p, rep.len);
	CHECK_OK(vb_wire_dec_poll_hdr(&r, &ph, &e), e);
	CHECK_U(ph.partition_id, 2);
	CHECK_U(ph.current_offset, 2);
	CHECK_U(ph.count, 2);
	CHECK_U(vb_wire_batch_checksum(p + 16), 0x95c5ab7a8e9cef87ull);
	vb_msgs_init(&it, VB_GEN_09, p + 16, rep.len - 16);
	while ((rc = vb_msgs_next(&it, &msg, &e)) == 1)
		check_v5_msg(&msg, i++, 0, SERVER_TS);
	CHECK_U(rc, 0);
	CHECK_U(i, 2);
	/* every strict prefix of the records is refused */
	for (size_t n = 1; n < rep.len - 16; n++) {
		uint8_t *q = dup_n(p + 16, n);

		vb_msgs_init(&it, VB_GEN_09, q, n);
		while ((rc = vb_msgs_next(&it, &msg, &e)) == 1)
			;
		if (rc != -1)
			fail_msg("R2: a prefix of %zu bytes was taken", n);
		free(q);
	}
	free(p);
	vb_reader_release(&rd);
	/* the server's side: stamp B1, serve it */
	b1_stamped(&rec);
	reply_hdr(&h, 7, 9, 3, VB_OP_NR, 0);
	m = vb_vsr_reply_begin(&b, &h);
	ph.partition_id = 2;
	ph.current_offset = 2;
	ph.count = 2;
	vb_wire_enc_poll_hdr(&b, &ph);
	vb_buf_add(&b, rec.p, rec.len);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R2);
	vb_buf_release(&b);
	vb_buf_release(&rec);
}

static void test_r3_stream_reply(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	struct vb_stream_info s;
	struct vb_rd r;
	struct vb_err e;
	uint8_t *p;
	size_t m;

	ctx = "R3";
	take_reply(V09_R3, &rd, &rep);
	CHECK_U(rep.status, 0);
	CHECK_U(rep.op, VB_OP_NR);
	CHECK_U(rep.request, 3);
	p = dup_n(rep.payload, rep.len);
	vb_rd_init(&r, p, rep.len);
	CHECK_OK(vb_wire_dec_stream_gen(&r, &s, VB_GEN_09, &e), e);
	CHECK_U(vb_rd_left(&r), 0);
	CHECK_U(s.id, 0);
	CHECK_U(s.created_at, ORIGIN);
	CHECK_U(s.topics_count, 0);
	CHECK_STR(s.name.s, "vibes");
	/* the 0.8 layout stops before the options block */
	vb_rd_init(&r, p, rep.len);
	CHECK_OK(vb_wire_dec_stream(&r, &s, &e), e);
	CHECK_U(vb_rd_left(&r), 4);
	for (size_t n = 0; n < rep.len; n++) {
		uint8_t *q = dup_n(p, n);

		vb_rd_init(&r, q, n);
		CHECK_FAIL(vb_wire_dec_stream_gen(&r, &s, VB_GEN_09, &e), e,
			   VB_ST_INVALID_COMMAND);
		free(q);
	}
	free(p);
	vb_reader_release(&rd);
	reply_hdr(&h, 7, 9, 3, VB_OP_NR, 0);
	m = vb_vsr_reply_begin(&b, &h);
	memset(&s, 0, sizeof(s));
	s.created_at = ORIGIN;
	name_set(&s.name, "vibes");
	vb_wire_enc_stream_gen(&b, &s, VB_GEN_09);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R3);
	vb_buf_release(&b);
}

static void test_r4_rejection(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	size_t m;

	ctx = "R4";
	take_reply(V09_R4, &rd, &rep);
	CHECK_U(rep.status, VB_ST_STREAM_NAME_ALREADY_EXISTS);
	CHECK_U(rep.op, 128);
	CHECK_U(rep.request, 1);
	CHECK_U(rep.len, 0);
	vb_reader_release(&rd);
	reply_hdr(&h, 7, 9, 1, 128, 0);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_result_err(&b, 1012);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R4);
	vb_buf_release(&b);
}

static void test_r5_deny(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	size_t m;

	ctx = "R5";
	take_reply(V09_R5, &rd, &rep);
	CHECK_U(rep.status, VB_ST_UNAUTHENTICATED);
	CHECK_U(rep.op, VB_OP_NR);
	CHECK_U(rep.len, 0);
	CHECK_U(rep.evicted, 0);
	vb_reader_release(&rd);
	reply_hdr(&h, 0, 0, 1, VB_OP_NR, VB_ST_UNAUTHENTICATED);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_reply_end(&b, m);
	CHECK_HEX(&b, V09_R5);
	vb_buf_release(&b);
}

static void test_r6_eviction(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	char v[32];

	ctx = "R6";
	take_reply(V09_R6, &rd, &rep);
	CHECK(rep.evicted);
	CHECK_U(rep.reason, VB_EVICT_INCOMPATIBLE_PROTOCOL);
	CHECK_U(rep.window_max, 11264);
	CHECK_U(rep.window_min, 11264);
	CHECK_U(rep.status, VB_ST_INCOMPATIBLE_PROTOCOL_VERSION);
	CHECK_U(rep.len, 0);
	CHECK_STR(vb_vsr_version_fmt(rep.window_max, v, sizeof(v)), "0.11.0");
	CHECK_STR(vb_evict_name(rep.reason), "incompatible_protocol");
	vb_reader_release(&rd);
	vb_vsr_eviction(&b, CLIENT, VB_EVICT_INCOMPATIBLE_PROTOCOL, 11264,
			11264);
	CHECK_HEX(&b, V09_R6);
	/* the SDKs' mapping of the other reasons (framing.md §7) */
	CHECK_U(vb_evict_status(VB_EVICT_INCOMPATIBLE_PROTOCOL, 1, 0),
		VB_ST_UNAUTHENTICATED);
	CHECK_U(vb_evict_status(VB_EVICT_INVALID_CREDENTIALS, 0, 0),
		VB_ST_INVALID_CREDENTIALS);
	CHECK_U(vb_evict_status(VB_EVICT_INVALID_TOKEN, 0, 0),
		VB_ST_INVALID_PAT);
	CHECK_U(vb_evict_status(VB_EVICT_STALE_CLIENT, 0, 0),
		VB_ST_STALE_CLIENT);
	CHECK_U(vb_evict_status(VB_EVICT_MALFORMED_LOGIN, 0, 0),
		VB_ST_INVALID_FORMAT);
	CHECK_U(vb_evict_status(VB_EVICT_NO_SESSION, 0, 0),
		VB_ST_UNAUTHENTICATED);
	CHECK_U(vb_evict_status(0, 0, 0), VB_ST_INVALID_COMMAND);
	CHECK_U(vb_evict_status(16, 0, 0), VB_ST_UNAUTHENTICATED);
	vb_buf_release(&b);
}

static void test_hashes(void **state)
{
	ctx = "hashes";
	CHECK_U(vb_xxh3("", 0), 0x2d06800538d394c2ull);
	CHECK_U(vb_xxh32("", 0), 0x02cc5d05);
	CHECK_U(vb_xxh32("user-42", 7) % 8, 6);
	CHECK_U(vb_xxh32("sess-123", 8), 0xaccc19fb);
	CHECK_U(vb_xxh32("s1", 2), 0x2b5df013);
	CHECK_U(vb_xxh3("\x05vibes", 6), 0x06ecc058cc698915ull);
}

/* ---- what a 0.9 decoder refuses ---- */

static void test_bad_request_headers(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_req h;
	struct vb_req r;
	struct vb_err e;
	struct {
		const char *what;
		size_t off;
		uint8_t val;
	} cases[] = {
		{ "command not a request", 60, 8 },
		{ "operation 0", 176, 0 },
		{ "operation 4 (undeclared)", 176, 4 },
		{ "operation 64 (internal)", 176, 64 },
		{ "operation 150", 176, 150 },
		{ "operation 163", 176, 163 },
		{ "write with session 0", 184, 0 },
		{ "client 0", 0, 0 },
		{ "size below 256", 49, 0 },
		{ "checksum wider than 64 bits", 152, 1 },
	};

	ctx = "bad headers";
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	name_set(&r.name, "vibes");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enc_req(&b, &r, 1, 7, 0);
		if (strcmp(cases[i].what, "client 0") == 0)
			memset(b.p + 128, 0, 16);
		else
			b.p[cases[i].off] = cases[i].val;
		ctx = cases[i].what;
		CHECK(vb_vsr_req_parse(b.p, &h, &e) == -1);
	}
	ctx = "register with a session";
	login_req(&r);
	enc_req(&b, &r, 0, 7, 0);
	CHECK(vb_vsr_req_parse(b.p, &h, &e) == -1);
	enc_req(&b, &r, 1, 0, 0);
	CHECK(vb_vsr_req_parse(b.p, &h, &e) == -1);
	enc_req(&b, &r, 0, 0, 0);
	CHECK_OK(vb_vsr_req_parse(b.p, &h, &e), e);
	ctx = "read before login: session and request 0";
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	enc_req(&b, &r, 0, 0, 0);
	CHECK_OK(vb_vsr_req_parse(b.p, &h, &e), e);
	CHECK_U(h.code, VB_CMD_GET_STREAMS);
	ctx = "legacy login travels as NonReplicated";
	vb_req_init(&r, VB_CMD_LOGIN_USER);
	enc_req(&b, &r, 0, 0, 0);
	CHECK_U(b.p[176], VB_OP_NR);
	CHECK_U(vb_ld32(b.p + 196), 38);
	ctx = "an unknown code too";
	vb_req_init(&r, 60000);
	enc_req(&b, &r, 1, 7, 0);
	CHECK_U(b.p[176], VB_OP_NR);
	CHECK_U(vb_ld32(b.p + 196), 60000);
	CHECK_U(b.len, 256);
	vb_buf_release(&b);
}

static void feed_hdr(struct vb_reader *rd, const uint8_t *h)
{
	vb_reader_reset(rd);
	vb_reader_feed(rd, h, VB_VSR_HDR);
}

static void test_bad_replies(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_reader rd;
	struct vb_reply rep;
	struct vb_vsr_reply h;
	struct vb_err e;
	size_t m;

	ctx = "bad replies";
	vb_reader_init(&rd, &vb_framing_v09, 1u << 20);
	reply_hdr(&h, 0, 0, 1, 128, 0);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_reply_end(&b, m);
	ctx = "size below 256";
	b.p[49] = 0;
	feed_hdr(&rd, b.p);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	ctx = "command 7";
	b.p[49] = 1;
	b.p[60] = 7;
	feed_hdr(&rd, b.p);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	ctx = "result-framed reply without its section";
	b.p[60] = VB_VSR_REPLY;
	feed_hdr(&rd, b.p);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	ctx = "undeclared operation";
	b.p[208] = 99;
	feed_hdr(&rd, b.p);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	ctx = "a section of more entries than bytes";
	vb_buf_reset(&b);
	m = vb_vsr_reply_begin(&b, &h);
	vb_buf_u32(&b, 2);
	vb_buf_u32(&b, 0);
	vb_buf_u32(&b, 1012);
	vb_vsr_reply_end(&b, m);
	vb_reader_reset(&rd);
	vb_reader_feed(&rd, b.p, b.len);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	ctx = "a logout reply is not result-framed";
	vb_buf_reset(&b);
	reply_hdr(&h, 0, 0, 4, VB_OP_LOGOUT, 0);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_reply_end(&b, m);
	vb_reader_reset(&rd);
	vb_reader_feed(&rd, b.p, b.len);
	CHECK_U(vb_reader_next(&rd, &rep, &e), 1);
	CHECK_U(rep.status, 0);
	ctx = "an empty Register reply (terminal) passes through";
	vb_buf_reset(&b);
	reply_hdr(&h, 0, 0, 0, VB_OP_REGISTER, 0);
	m = vb_vsr_reply_begin(&b, &h);
	vb_vsr_reply_end(&b, m);
	vb_reader_reset(&rd);
	vb_reader_feed(&rd, b.p, b.len);
	CHECK_U(vb_reader_next(&rd, &rep, &e), 1);
	CHECK_U(rep.len, 0);
	ctx = "a denial's body is not read";
	vb_buf_reset(&b);
	reply_hdr(&h, 0, 0, 1, 128, VB_ST_TRANSIENT_NOT_ACCEPTED);
	m = vb_vsr_reply_begin(&b, &h);
	vb_buf_u32(&b, 0);
	vb_vsr_reply_end(&b, m);
	vb_reader_reset(&rd);
	vb_reader_feed(&rd, b.p, b.len);
	CHECK_U(vb_reader_next(&rd, &rep, &e), 1);
	CHECK_U(rep.status, VB_ST_TRANSIENT_NOT_ACCEPTED);
	CHECK_U(rep.len, 0);
	ctx = "a frame over the limit";
	vb_reader_release(&rd);
	vb_reader_init(&rd, &vb_framing_v09, 100);
	vb_reader_reset(&rd);
	vb_reader_feed(&rd, b.p, b.len);
	CHECK_U(vb_reader_next(&rd, &rep, &e), 1);
	vb_buf_reset(&b);
	m = vb_vsr_reply_begin(&b, &h);
	vb_buf_zero(&b, 101);
	vb_vsr_reply_end(&b, m);
	vb_reader_feed(&rd, b.p, VB_VSR_HDR);
	CHECK_U(vb_reader_ready(&rd, 1), 1);
	CHECK_U(vb_reader_next(&rd, &rep, &e), -1);
	vb_reader_release(&rd);
	vb_buf_release(&b);
}

/* A V5 body with byte off changed; its decode must fail with st. */
static void bad_send(size_t off, uint8_t x, uint32_t st, const char *what)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_send_view09 v;
	struct vb_err e;
	uint8_t *body;

	ctx = what;
	unhex(&b, V09_V5);
	b.p[VB_VSR_HDR + off] ^= x;
	body = dup_n(b.p + VB_VSR_HDR, b.len - VB_VSR_HDR);
	CHECK_FAIL(vb_wire_send_decode_v09(&v, body, b.len - VB_VSR_HDR, &e), e,
		   st);
	free(body);
	vb_buf_release(&b);
}

static void test_bad_sends(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_send_view09 v;
	struct vb_err e;
	/* V5's body: 4 + 28 bytes of metadata, then the batch at 32 */
	size_t batch = 32, f0 = batch + 256;

	bad_send(f0 + 48, 1, VB_ST_INVALID_MESSAGE_CHECKSUM,
		 "a payload byte changed");
	bad_send(f0, 1, VB_ST_INVALID_MESSAGE_CHECKSUM,
		 "a frame checksum changed");
	bad_send(batch + 40, 1, VB_ST_INVALID_BATCH_CHECKSUM,
		 "the batch checksum changed");
	bad_send(batch + 24, 1, VB_ST_INVALID_BATCH_CHECKSUM,
		 "the origin timestamp changed");
	bad_send(batch + 100, 1, VB_ST_INVALID_COMMAND, "batch reserved not 0");
	bad_send(f0 + 40, 1, VB_ST_INVALID_COMMAND, "frame reserved not 0");
	/* the count is summed too: the checksum finds it first */
	bad_send(batch + 48, 1, VB_ST_INVALID_BATCH_CHECKSUM,
		 "message_count of another number");
	bad_send(28, 1, VB_ST_INVALID_COMMAND, "messages_count differs");
	bad_send(batch + 32, 8, VB_ST_INVALID_COMMAND,
		 "batch_length past the body");
	bad_send(0, 1, VB_ST_INVALID_COMMAND, "metadata_length too long");
	ctx = "bytes after the batch";
	unhex(&b, V09_V5);
	vb_buf_u8(&b, 0);
	CHECK_FAIL(vb_wire_send_decode_v09(&v, b.p + VB_VSR_HDR,
					   b.len - VB_VSR_HDR, &e),
		   e, VB_ST_INVALID_COMMAND);
	ctx = "every strict prefix";
	unhex(&b, V09_V5);
	for (size_t n = 0; n < b.len - VB_VSR_HDR; n++) {
		uint8_t *q = dup_n(b.p + VB_VSR_HDR, n);

		CHECK(vb_wire_send_decode_v09(&v, q, n, &e) == -1);
		free(q);
	}
	vb_buf_release(&b);
}

/*
 * The builder computes a frame's delta and checksum as it goes in while
 * no origin timestamp is below the first's (or 2^32 µs past it), and
 * leaves the rest to end.  Every order gives a batch that the server's
 * check takes (each frame's checksum and the batch's) with each message's
 * own origin timestamp, the same bytes with or without a buffer for the
 * checksums.
 */
static void builder_orders(void)
{
	static const uint64_t orders[][4] = {
		{ 0, 1, 2, 3 },		 /* in order */
		{ 5, 5, 5, 5 },		 /* one origin time (vibes-append) */
		{ 5, 7, 0, 9 },		 /* one below the first: late */
		{ 0, 3, 1ull << 33, 2 }, /* too far apart: refused */
		{ 9, 0, 1, 2 },		 /* late from the second on */
		{ 7, 1, 1ull << 32, 8 }, /* late, the origin 2^32 - 1 below */
	};
	struct vb_buf got[2] = { VB_BUF_INIT, VB_BUF_INIT }, sums = VB_BUF_INIT;
	struct vb_send_builder sb;
	struct vb_send_view09 v;
	struct vb_send_hdr h;
	struct vb_msgs it;
	struct vb_msg msg;
	struct vb_err e;

	v5_hdr(&h);
	for (size_t t = 0; t < sizeof(orders) / sizeof(orders[0]); t++) {
		ctx = "builder orders";
		for (int with = 0; with < 2; with++) {
			struct vb_buf *b = &got[with];
			int k = 0;

			vb_buf_reset(b);
			vb_wire_send_begin_f(&sb, b, &vb_framing_v09, &h, 4,
					     8 + 7 + 6 + 5);
			if (with)
				vb_wire_send_sums(&sb, &sums);
			for (k = 0; k < 4; k++) {
				uint8_t id[16] = { (uint8_t)(k + 1) };

				vb_wire_send_add(&sb, id, ORIGIN + orders[t][k],
						 "abcdefgh" + k,
						 (uint32_t)(8 - k), NULL, 0);
			}
			CHECK_U(sb.late, t >= 2);
			if (t == 3) {
				CHECK_FAIL(vb_wire_send_end(&sb, &e), e,
					   VB_ST_INVALID_MESSAGE_TIMESTAMP_DELTA);
				continue;
			}
			CHECK_OK(vb_wire_send_end(&sb, &e), e);
			CHECK_OK(vb_wire_send_decode_v09(&v, b->p + VB_VSR_HDR,
							 b->len - VB_VSR_HDR,
							 &e),
				 e);
			vb_msgs_init(&it, VB_GEN_09, v.batch, v.batch_len);
			for (k = 0; vb_msgs_next(&it, &msg, &e) == 1; k++) {
				CHECK_OK(vb_wire_msg_verify(&msg, &e), e);
				CHECK_U(msg.origin_timestamp,
					ORIGIN + orders[t][k]);
				CHECK_U(msg.payload_len, 8 - k);
				CHECK_U(msg.id[0], k + 1);
			}
			CHECK_U(k, 4);
		}
		if (t != 3)
			CHECK_MEM(got[1].p, got[1].len, got[0].p, got[0].len);
	}
	vb_buf_release(&got[0]);
	vb_buf_release(&got[1]);
	vb_buf_release(&sums);
}

static void test_timestamp_delta(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_send_hdr h;
	struct vb_msg_in m[2];
	struct vb_err e;
	struct vb_msgs it;
	struct vb_msg msg;

	ctx = "timestamps";
	v5_hdr(&h);
	memset(m, 0, sizeof(m));
	m[0].payload = "a";
	m[0].payload_len = 1;
	m[1] = m[0];
	/* not in order: the smaller one is the batch's origin */
	m[0].origin_timestamp = ORIGIN + 5;
	m[1].origin_timestamp = ORIGIN;
	CHECK_OK(vb_wire_send_encode_f(&b, &vb_framing_v09, &h, m, 2, &e), e);
	vb_msgs_init(&it, VB_GEN_09, b.p + VB_VSR_HDR + 32,
		     b.len - VB_VSR_HDR - 32);
	CHECK_U(vb_msgs_next(&it, &msg, &e), 1);
	CHECK_U(msg.origin_timestamp, ORIGIN + 5);
	CHECK_OK(vb_wire_msg_verify(&msg, &e), e);
	CHECK_U(vb_msgs_next(&it, &msg, &e), 1);
	CHECK_U(msg.origin_timestamp, ORIGIN);
	CHECK_U(msg.offset, 1);
	m[0].origin_timestamp = ORIGIN + (1ull << 32);
	vb_buf_reset(&b);
	CHECK_FAIL(vb_wire_send_encode_f(&b, &vb_framing_v09, &h, m, 2, &e), e,
		   VB_ST_INVALID_MESSAGE_TIMESTAMP_DELTA);
	vb_buf_release(&b);
	builder_orders();
}

static void test_options(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;
	struct vb_err e;
	uint8_t u64[8] = { 0 }, one = 1;

	ctx = "options";
	/* a stream takes none */
	vb_buf_reset(&b);
	vb_buf_u8(&b, 5);
	vb_buf_add(&b, "vibes", 5);
	CHECK_OK(vb_wire_req_decode_gen(&r, VB_GEN_09, VB_CMD_CREATE_STREAM,
					b.p, b.len, &e),
		 e);
	vb_wire_opt_add(&b, "segment_size", VB_UHDR_UINT64, u64, 8);
	CHECK_FAIL(vb_wire_req_decode_gen(&r, VB_GEN_09, VB_CMD_CREATE_STREAM,
					  b.p, b.len, &e),
		   e, VB_ST_UNSUPPORTED_OPTION_KEY);
	/* 0.8 ignores what follows */
	CHECK_OK(vb_wire_req_decode_gen(&r, VB_GEN_08, VB_CMD_CREATE_STREAM,
					b.p, b.len, &e),
		 e);
	/* a topic: unknown keys, wrong kinds, twice the same key */
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "partitions_count", VB_UHDR_UINT32, u64, 4);
	CHECK_FAIL(vb_wire_topic_opts_dec(b.p, b.len, &r, 0, &e), e,
		   VB_ST_UNSUPPORTED_OPTION_KEY);
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "segment_size", VB_UHDR_UINT32, u64, 4);
	CHECK_FAIL(vb_wire_topic_opts_dec(b.p, b.len, &r, 0, &e), e,
		   VB_ST_INVALID_OPTION_VALUE);
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "enforce_fsync", VB_UHDR_BOOL, &one, 1);
	vb_wire_opt_add(&b, "enforce_fsync", VB_UHDR_BOOL, &one, 1);
	CHECK_FAIL(vb_wire_topic_opts_dec(b.p, b.len, &r, 0, &e), e,
		   VB_ST_INVALID_COMMAND);
	/* update takes the three updatable keys only */
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "enforce_fsync", VB_UHDR_BOOL, &one, 1);
	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	CHECK_OK(vb_wire_topic_opts_dec(b.p, b.len, &r, 0, &e), e);
	CHECK_U(r.topt[VB_TOPT_FSYNC], 1);
	CHECK_FAIL(vb_wire_topic_opts_dec(b.p, b.len, &r, 1, &e), e,
		   VB_ST_UNSUPPORTED_OPTION_KEY);
	/* string forms */
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "compression_algorithm", VB_UHDR_UINT8, &one, 1);
	vb_wire_opt_add(&b, "max_topic_size", VB_UHDR_STRING, "unlimited", 9);
	vb_wire_opt_add(&b, "messages_required_to_save", VB_UHDR_STRING, "512",
			3);
	vb_wire_opt_add(&b, "preallocate_segments", VB_UHDR_STRING, "false", 5);
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	CHECK_OK(vb_wire_topic_opts_dec(b.p, b.len, &r, 0, &e), e);
	CHECK_U(r.compression, VB_COMPRESSION_NONE);
	CHECK_U(r.max_topic_size, UINT64_MAX);
	CHECK_U(r.topt[VB_TOPT_MSGS_TO_SAVE], 512);
	CHECK_U(r.topt_set, 1u << VB_TOPT_COMPRESSION | 1u << VB_TOPT_MAX_SIZE |
				    1u << VB_TOPT_MSGS_TO_SAVE |
				    1u << VB_TOPT_PREALLOCATE);
	/* broken pairs: kind 0, length 0, a number key, cut short */
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "segment_size", 0, u64, 8);
	CHECK_FAIL(vb_wire_opts_check(b.p, b.len, &e), e,
		   VB_ST_INVALID_COMMAND);
	vb_buf_reset(&b);
	vb_wire_opt_add(&b, "segment_size", VB_UHDR_UINT64, u64, 8);
	b.p[0] = VB_UHDR_UINT32;
	CHECK_FAIL(vb_wire_opts_check(b.p, b.len, &e), e,
		   VB_ST_INVALID_COMMAND);
	b.p[0] = VB_UHDR_STRING;
	for (size_t n = 1; n < b.len; n++)
		CHECK(vb_wire_opts_check(b.p, n, &e) == -1);
	/* update_topic always says the three */
	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	r.compression = VB_COMPRESSION_NONE;
	r.message_expiry = 0;
	r.max_topic_size = UINT64_MAX;
	vb_buf_reset(&b);
	vb_wire_topic_opts_enc(&b, &r, 1);
	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	CHECK_OK(vb_wire_topic_opts_dec(b.p, b.len, &r, 1, &e), e);
	CHECK_U(r.topt_set, 7);
	CHECK_U(r.max_topic_size, UINT64_MAX);
	vb_buf_release(&b);
}

static void test_sync_and_cluster(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_group_sync s;
	struct vb_cluster_node nodes[2], n;
	struct vb_err e;
	struct vb_rd r;
	uint32_t parts[2] = { 1, 5 }, count;
	char name[64];

	ctx = "sync";
	CHECK_OK(vb_wire_dec_group_sync(b.p, 0, &s, &e), e);
	CHECK(!s.member);
	vb_wire_enc_group_sync(&b, 3, parts, 2);
	CHECK_OK(vb_wire_dec_group_sync(b.p, b.len, &s, &e), e);
	CHECK(s.member);
	CHECK_U(s.generation, 3);
	CHECK_U(s.count, 2);
	CHECK_U(vb_ld32(s.parts + 4), 5);
	for (size_t k = 1; k < 12; k++)
		CHECK(vb_wire_dec_group_sync(b.p, k, &s, &e) == -1);
	ctx = "cluster";
	memset(nodes, 0, sizeof(nodes));
	strlcpy(nodes[0].name, "a", sizeof(nodes[0].name));
	strlcpy(nodes[0].ip, "127.0.0.1", sizeof(nodes[0].ip));
	nodes[0].tcp = 8091;
	nodes[0].role = VB_NODE_FOLLOWER;
	nodes[1] = nodes[0];
	nodes[1].tcp = 8092;
	nodes[1].role = VB_NODE_LEADER;
	vb_buf_reset(&b);
	vb_wire_enc_cluster_nodes(&b, "c", nodes, 2);
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_cluster_head(&r, name, sizeof(name), &count, &e),
		 e);
	CHECK_U(count, 2);
	CHECK_OK(vb_wire_dec_cluster_node(&r, &n, &e), e);
	CHECK_U(n.tcp, 8091);
	CHECK_OK(vb_wire_dec_cluster_node(&r, &n, &e), e);
	CHECK_U(n.role, VB_NODE_LEADER);
	CHECK_STR(n.ip, "127.0.0.1");
	CHECK_U(vb_rd_left(&r), 0);
	vb_buf_release(&b);
}

static void test_records_09(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_topic_info t, d;
	struct vb_user_info u, du;
	struct vb_rd r;
	struct vb_err e;

	ctx = "topic header";
	memset(&t, 0, sizeof(t));
	t.id = 3;
	t.partitions_count = 8;
	t.message_expiry = UINT64_MAX;
	t.compression = 1;
	t.max_topic_size = UINT64_MAX;
	t.replication_factor = 1;
	name_set(&t.name, "events");
	vb_wire_enc_topic_gen(&b, &t, VB_GEN_09);
	CHECK_U(b.len, 50 + 6 + 8); /* commands.md §4.1 */
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_topic_gen(&r, &d, VB_GEN_09, &e), e);
	CHECK_U(vb_rd_left(&r), 0);
	CHECK_U(d.partitions_count, 8);
	CHECK_U(d.replication_factor, 0);
	CHECK_STR(d.name.s, "events");
	ctx = "user";
	memset(&u, 0, sizeof(u));
	u.id = 1;
	u.status = 1;
	name_set(&u.username, "bob");
	vb_buf_reset(&b);
	vb_wire_enc_user_gen(&b, &u, VB_GEN_09);
	CHECK_U(b.len, 4 + 8 + 1 + 4 + 4);
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_user_gen(&r, &du, VB_GEN_09, &e), e);
	CHECK_STR(du.username.s, "bob");
	vb_buf_release(&b);
}

static void test_command_table(void **state)
{
	size_t n;
	const struct vb_cmd_info *all = vb_cmd_all(&n);

	ctx = "table";
	for (size_t i = 0; i < n; i++) {
		const struct vb_cmd_info *ci = &all[i];

		CHECK(vb_cmd_info(ci->code) == ci);
		CHECK(ci->name != NULL);
		if (i > 0)
			CHECK(ci->code > all[i - 1].code);
		/* every 0.9 write names its code through its operation */
		if ((ci->flags & VB_CF_V09) && ci->op09 != VB_OP_NR &&
		    ci->op09 != VB_OP_REGISTER)
			CHECK_U(vb_cmd_of_op(ci->op09), ci->code);
		if (ci->flags & VB_CF_V09)
			CHECK(ci->op09 != VB_OP_NONE);
		CHECK(ci->flags & (VB_CF_V08 | VB_CF_V09));
	}
	CHECK(vb_cmd_lookup(VB_CMD_LOGIN_USER, VB_GEN_09) == NULL);
	CHECK(vb_cmd_lookup(VB_CMD_SYNC_CONSUMER_GROUP, VB_GEN_08) == NULL);
	CHECK(vb_op_result_framed(VB_OP_STORE_OFFSET));
	CHECK(!vb_op_result_framed(VB_OP_SEND));
	CHECK(!vb_op_result_framed(VB_OP_LOGOUT));
	CHECK(vb_op_result_framed(138));
	CHECK_STR(vb_status_name(VB_ST_TRANSIENT_NOT_COMMITTED),
		  "transient_not_committed");
	CHECK_STR(vb_status_name(7), "unknown_status");
	CHECK(vb_framing_of(VB_GEN_09) == &vb_framing_v09);
	CHECK(vb_framing_of(7) == NULL);
}

/*
 * vb_wire_frame_stamp: a frame with an id and its index as offset delta
 * is left as it is (the producer's checksum covers it); one with id 0
 * gets a UUID v4, one with another delta its index, each a checksum of
 * what it then holds.
 */
static void test_frame_stamp(void **state)
{
	uint8_t fr[48 + 11], keep[sizeof(fr)], rnd[16];
	static const uint8_t zero[16];

	(void)state;
	memset(fr, 0, sizeof(fr));
	fr[VB_FRAME_ID] = 1;
	vb_st32(fr + VB_FRAME_OFFSET_DELTA, 3);
	vb_st32(fr + VB_FRAME_PAYLOAD_LEN, 11);
	memcpy(fr + VB_FRAME_HDR, "hello world", 11);
	vb_st64(fr, 12345); /* not the bytes' checksum: left alone */
	memcpy(keep, fr, sizeof(fr));
	memset(rnd, 0xff, sizeof(rnd));
	vb_wire_frame_stamp(fr, sizeof(fr), 3, rnd);
	assert_memory_equal(fr, keep, sizeof(fr));

	vb_wire_frame_stamp(fr, sizeof(fr), 4, rnd);
	assert_int_equal(vb_ld32(fr + VB_FRAME_OFFSET_DELTA), 4);
	assert_memory_equal(fr + VB_FRAME_ID, keep + VB_FRAME_ID, 16);
	assert_int_equal(vb_ld64(fr), vb_xxh3(fr + 8, sizeof(fr) - 8));

	memset(fr + VB_FRAME_ID, 0, 16);
	vb_wire_frame_stamp(fr, sizeof(fr), 4, rnd);
	assert_memory_not_equal(fr + VB_FRAME_ID, zero, 16);
	assert_int_equal(fr[VB_FRAME_ID + 6], 0x4f); /* version 4 */
	assert_int_equal(fr[VB_FRAME_ID + 8], 0xbf); /* variant 10 */
	assert_int_equal(vb_ld64(fr), vb_xxh3(fr + 8, sizeof(fr) - 8));
	assert_memory_equal(fr + VB_FRAME_HDR, "hello world", 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_login),
		cmocka_unit_test(test_v2_ping),
		cmocka_unit_test(test_v3_create_stream),
		cmocka_unit_test(test_v4_create_topic),
		cmocka_unit_test(test_v5_send),
		cmocka_unit_test(test_v6_poll),
		cmocka_unit_test(test_v7_store_offset),
		cmocka_unit_test(test_v8_join),
		cmocka_unit_test(test_r0_login_reply),
		cmocka_unit_test(test_r1_send_reply),
		cmocka_unit_test(test_r2_poll_reply),
		cmocka_unit_test(test_r3_stream_reply),
		cmocka_unit_test(test_r4_rejection),
		cmocka_unit_test(test_r5_deny),
		cmocka_unit_test(test_r6_eviction),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_bad_request_headers),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_bad_sends),
		cmocka_unit_test(test_timestamp_delta),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_sync_and_cluster),
		cmocka_unit_test(test_records_09),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_frame_stamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
