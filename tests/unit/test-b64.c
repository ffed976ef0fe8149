/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/b64.h"
#include "common/buf.h"

static void check_encode(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(b64_encode_buf(&b, in, strlen(in)), 0);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, b64_encoded_len(strlen(in)));
	buf_release(&b);
}

static void check_decode(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(b64_decode_buf(&b, in, strlen(in)), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data ? b.data : "", want, strlen(want));
	buf_release(&b);
}

static void check_bad(const char *in)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "keep");
	assert_int_equal(b64_decode_buf(&b, in, strlen(in)), -EINVAL);
	assert_string_equal(b.data, "keep");
	buf_release(&b);
}

static void test_rfc4648_vectors(void **state)
{
	check_encode("", "");
	check_encode("f", "Zg==");
	check_encode("fo", "Zm8=");
	check_encode("foo", "Zm9v");
	check_encode("foob", "Zm9vYg==");
	check_encode("fooba", "Zm9vYmE=");
	check_encode("foobar", "Zm9vYmFy");
	check_decode("", "");
	check_decode("Zg==", "f");
	check_decode("Zm8=", "fo");
	check_decode("Zm9vYmFy", "foobar");
}

static void test_unpadded_and_urlsafe(void **state)
{
	check_decode("Zg", "f");
	check_decode("Zm8", "fo");
	check_decode("aW5wdXQK", "input\n");
	/* 0xfb 0xff encodes to "+/8=" (std) and "-_8" (url-safe, unpadded). */
	check_decode("-_8", "\xfb\xff");
	check_decode("+/8=", "\xfb\xff");
	check_decode("cm9vdDo=", "root:");
}

static void test_binary_roundtrip(void **state)
{
	unsigned char data[256];
	struct buf e = BUF_INIT, d = BUF_INIT;

	for (int i = 0; i < 256; i++)
		data[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(data); n += 37) {
		buf_reset(&e);
		buf_reset(&d);
		assert_int_equal(b64_encode_buf(&e, data, n), 0);
		assert_int_equal(b64_decode_buf(&d, e.data, e.len), 0);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, data, n);
	}
	buf_release(&e);
	buf_release(&d);
}

static void test_malformed(void **state)
{
	check_bad("Z");
	check_bad("Zm9vY");
	check_bad("Zm9v=");
	check_bad("Zg=");
	check_bad("Zm9v====");
	check_bad("Z===");
	check_bad("Zm 9v");
	check_bad("Zm9v\n");
	check_bad("Zm=v");
	check_bad("Zm8==");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_vectors),
	    cmocka_unit_test(test_unpadded_and_urlsafe),
	    cmocka_unit_test(test_binary_roundtrip),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
