/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_MULTIPART_H
#define WARREN_AGENT_MULTIPART_H

/*
 * A streaming multipart/form-data parser (RFC 7578 / RFC 2046 framing) for
 * uploads: bytes are pushed in pieces of any size, part data comes out through
 * callbacks as it arrives, so a part of any length passes through a fixed
 * amount of memory (the parser holds one part's header block, at most
 * MP_MAX_HEADER_BYTES, and nothing else).
 *
 * Accepted: a preamble before the first delimiter, transport padding (spaces,
 * tabs) after a delimiter, parts without headers, an epilogue after the close
 * delimiter. Header lines are "Name: value"; of them only Content-Disposition
 * is interpreted (type, name and filename parameters, as tokens or quoted
 * strings with backslash escapes). Everything else is an error (-EBADMSG):
 * a missing close delimiter at mp_finish, a header block over the limit, bytes
 * after a delimiter other than "--" or padding + CRLF.
 */

#include <stdbool.h>
#include <stddef.h>

#define MP_MAX_BOUNDARY 70 /* RFC 2046 */
#define MP_MAX_HEADER_BYTES (16 * 1024)

struct mp_part {
	const char *name;     /* Content-Disposition name, or NULL */
	const char *filename; /* Content-Disposition filename, or NULL (may be "") */
};

/* Each returns 0 to go on or a negative errno, which mp_feed then returns as is. */
struct mp_callbacks {
	int (*part_begin)(void *ud, const struct mp_part *part); /* valid during the call only */
	int (*part_data)(void *ud, const char *data, size_t len);
	int (*part_end)(void *ud);
};

enum mp_state {
	MP_PREAMBLE,
	MP_AFTER_DELIM,
	MP_AFTER_DELIM_DASH,
	MP_AFTER_DELIM_CR,
	MP_HEADERS,
	MP_DATA,
	MP_EPILOGUE,
	MP_FAILED,
};

struct mp_parser {
	enum mp_state state;
	/* "\r\n--" boundary: the input is parsed as if it began with "\r\n". */
	char delim[4 + MP_MAX_BOUNDARY + 1];
	size_t delim_len;
	size_t matched; /* bytes of delim matched at the end of the input so far */
	char hdr[MP_MAX_HEADER_BYTES + 1];
	size_t hdr_len;
	const struct mp_callbacks *cb;
	void *ud;
};

/*
 * Extracts the boundary parameter of a Content-Type value
 * ("multipart/form-data; boundary=xyz" or boundary="x y z") into out
 * (MP_MAX_BOUNDARY + 1 bytes). Returns 0, -ENOTSUP when the media type is not
 * multipart/form-data, -EINVAL when the boundary is missing or invalid (empty,
 * longer than 70, characters outside RFC 2046's bchars, ending in a space).
 */
int mp_boundary_from_content_type(const char *content_type, char *out);

/* Prepares p for one body. 0, or -EINVAL for an invalid boundary. cb and ud are borrowed. */
int mp_init(struct mp_parser *p, const char *boundary, const struct mp_callbacks *cb, void *ud);

/* Parses len more bytes. 0, -EBADMSG on malformed input, or a callback's error; then failed. */
int mp_feed(struct mp_parser *p, const char *data, size_t len);

/* The body ended: 0 when the close delimiter was seen, else -EBADMSG. */
int mp_finish(struct mp_parser *p);

#endif
