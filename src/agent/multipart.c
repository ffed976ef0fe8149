/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming multipart parser. The delimiter is "\r\n--<boundary>" and a
 * boundary may not contain CR (RFC 2046 bchars), so a CR can only start a
 * delimiter at the first byte of a candidate: a partial match at the end of
 * one piece is remembered as a count (the bytes are delim[0..matched)), and
 * on a mismatch they are handed out as data from delim itself. No data byte
 * is ever copied or buffered.
 */
#include "multipart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

static bool is_bchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr("'()+_,-./:=? ", c) != NULL;
}

static bool boundary_ok(const char *b, size_t n)
{
	if (n == 0 || n > MP_MAX_BOUNDARY || b[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (b[i] == '\0' || !is_bchar(b[i]))
			return false;
	return true;
}

static bool is_tspecial_or_ctl(char c)
{
	return (unsigned char)c <= 32 || c == 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/*
 * Parameter parsing shared by Content-Type and Content-Disposition: at s (after
 * a ';'), skips blanks and reads name=value (token or quoted string) into the
 * caller's buffers. Returns the position after it, or NULL when malformed.
 */
static const char *next_param(const char *s, char *name, size_t name_n, char *val, size_t val_n)
{
	size_t n = 0, v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s && !is_tspecial_or_ctl(*s)) {
		if (n + 1 >= name_n)
			return NULL;
		name[n++] = *s++;
	}
	name[n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (n == 0 || *s != '=')
		return NULL;
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\0')
				return NULL;
			if (*s == '\\' && s[1])
				s++;
			if (v + 1 >= val_n)
				return NULL;
			val[v++] = *s;
		}
		s++;
	} else {
		while (*s && !is_tspecial_or_ctl(*s)) {
			if (v + 1 >= val_n)
				return NULL;
			val[v++] = *s++;
		}
		if (v == 0)
			return NULL;
	}
	val[v] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == ';')
		s++;
	else if (*s)
		return NULL;
	return s;
}

int mp_boundary_from_content_type(const char *ct, char *out)
{
	static const char type[] = "multipart/form-data";
	char name[32], val[MP_MAX_BOUNDARY + 2];
	const char *s;
	bool found = false;

	if (!ct)
		return -ENOTSUP;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, type, sizeof(type) - 1) != 0)
		return -ENOTSUP;
	s = ct + sizeof(type) - 1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != ';' && *s != '\0')
		return -ENOTSUP;
	if (*s == ';')
		s++;
	while (*s) {
		s = next_param(s, name, sizeof(name), val, sizeof(val));
		if (!s)
			return -EINVAL;
		if (!found && strcasecmp(name, "boundary") == 0) {
			if (!boundary_ok(val, strlen(val)))
				return -EINVAL;
			strcpy(out, val);
			found = true;
		}
	}
	return found ? 0 : -EINVAL;
}

int mp_init(struct mp_parser *p, const char *boundary, const struct mp_callbacks *cb, void *ud)
{
	size_t n = strlen(boundary);

	if (!boundary_ok(boundary, n))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, n + 1);
	p->delim_len = 4 + n;
	/* The virtual "\r\n" before the first byte: the body may start with the delimiter. */
	p->matched = 2;
	p->state = MP_PREAMBLE;
	p->cb = cb;
	p->ud = ud;
	return 0;
}

static int emit(struct mp_parser *p, const char *data, size_t len)
{
	if (len == 0 || p->state != MP_DATA || !p->cb->part_data)
		return 0;
	return p->cb->part_data(p->ud, data, len);
}

/*
 * Scans data (PREAMBLE or DATA state) for the delimiter. Returns the number of
 * bytes consumed, with *found set when the delimiter ended within them, or -errno.
 */
static ssize_t scan(struct mp_parser *p, const char *data, size_t len, bool *found)
{
	size_t i = 0, start = 0;
	int r;

	*found = false;
	/* Continue a match left over from the previous piece. */
	if (p->matched > 0) {
		while (i < len && p->matched < p->delim_len && data[i] == p->delim[p->matched]) {
			i++;
			p->matched++;
		}
		if (p->matched == p->delim_len) {
			p->matched = 0;
			*found = true;
			return (ssize_t)i;
		}
		if (i == len)
			return (ssize_t)i;
		/* Mismatch: what matched was data after all; the current byte is looked at again.
		 */
		r = emit(p, p->delim, p->matched);
		p->matched = 0;
		if (r < 0)
			return r;
		start = i;
	}
	while (i < len) {
		const char *cr = memchr(data + i, '\r', len - i);
		size_t k, m = 0;

		if (!cr) {
			i = len;
			break;
		}
		k = (size_t)(cr - data);
		while (k + m < len && m < p->delim_len && data[k + m] == p->delim[m])
			m++;
		if (m == p->delim_len) {
			r = emit(p, data + start, k - start);
			if (r < 0)
				return r;
			*found = true;
			return (ssize_t)(k + m);
		}
		if (k + m == len) {
			/* A possible delimiter runs to the end of this piece: hold it back. */
			r = emit(p, data + start, k - start);
			if (r < 0)
				return r;
			p->matched = m;
			return (ssize_t)len;
		}
		i = k + 1;
	}
	r = emit(p, data + start, i - start);
	return r < 0 ? r : (ssize_t)i;
}

/* Parses Content-Disposition from the header block and starts the part. */
static int begin_part(struct mp_parser *p)
{
	char name[256] = "", filename[4096] = "", pname[32], val[4096];
	bool has_name = false, has_filename = false;
	struct mp_part part = {0};
	char *line = p->hdr, *end;

	p->hdr[p->hdr_len] = '\0';
	for (; *line; line = end + 2) {
		char *colon;
		const char *s;

		end = strstr(line, "\r\n");
		if (!end)
			return -EBADMSG;
		*end = '\0';
		colon = strchr(line, ':');
		if (!colon || strncasecmp(line, "Content-Disposition", 19) != 0 ||
		    colon != line + 19)
			continue;
		s = colon + 1;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, "form-data", 9) != 0)
			return -EBADMSG;
		s += 9;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == ';')
			s++;
		else if (*s)
			return -EBADMSG;
		while (*s) {
			s = next_param(s, pname, sizeof(pname), val, sizeof(val));
			if (!s)
				return -EBADMSG;
			if (!has_name && strcasecmp(pname, "name") == 0) {
				if (strlen(val) >= sizeof(name))
					return -EBADMSG;
				strcpy(name, val);
				has_name = true;
			} else if (!has_filename && strcasecmp(pname, "filename") == 0) {
				strcpy(filename, val);
				has_filename = true;
			}
		}
	}
	part.name = has_name ? name : NULL;
	part.filename = has_filename ? filename : NULL;
	p->state = MP_DATA;
	return p->cb->part_begin ? p->cb->part_begin(p->ud, &part) : 0;
}

static int feed(struct mp_parser *p, const char *data, size_t len)
{
	size_t i = 0;
	ssize_t n;
	bool found;
	int r;

	while (i < len) {
		char c = data[i];

		switch (p->state) {
		case MP_PREAMBLE:
		case MP_DATA:
			n = scan(p, data + i, len - i, &found);
			if (n < 0)
				return (int)n;
			i += (size_t)n;
			if (found) {
				if (p->state == MP_DATA && p->cb->part_end) {
					r = p->cb->part_end(p->ud);
					if (r < 0)
						return r;
				}
				p->state = MP_AFTER_DELIM;
			}
			break;
		case MP_AFTER_DELIM:
			i++;
			if (c == '-')
				p->state = MP_AFTER_DELIM_DASH;
			else if (c == '\r')
				p->state = MP_AFTER_DELIM_CR;
			else if (c != ' ' && c != '\t')
				return -EBADMSG;
			break;
		case MP_AFTER_DELIM_DASH:
			i++;
			if (c != '-')
				return -EBADMSG;
			p->state = MP_EPILOGUE;
			break;
		case MP_AFTER_DELIM_CR:
			i++;
			if (c != '\n')
				return -EBADMSG;
			p->state = MP_HEADERS;
			p->hdr_len = 0;
			break;
		case MP_HEADERS:
			if (p->hdr_len >= MP_MAX_HEADER_BYTES)
				return -EBADMSG;
			p->hdr[p->hdr_len++] = c;
			i++;
			/* The block ends at an empty line: "\r\n" alone, or "\r\n\r\n" at its end.
			 */
			if ((p->hdr_len == 2 && memcmp(p->hdr, "\r\n", 2) == 0) ||
			    (p->hdr_len >= 4 &&
			     memcmp(p->hdr + p->hdr_len - 4, "\r\n\r\n", 4) == 0)) {
				p->hdr_len -= 2; /* keep one CRLF per line */
				r = begin_part(p);
				if (r < 0)
					return r;
				/* The CRLF before the next delimiter belongs to it. */
				p->matched = 0;
			}
			break;
		case MP_EPILOGUE:
			return 0;
		case MP_FAILED:
			return -EBADMSG;
		}
	}
	return 0;
}

int mp_feed(struct mp_parser *p, const char *data, size_t len)
{
	int r;

	if (p->state == MP_FAILED)
		return -EBADMSG;
	r = feed(p, data, len);
	if (r < 0)
		p->state = MP_FAILED;
	return r;
}

int mp_finish(struct mp_parser *p)
{
	return p->state == MP_EPILOGUE ? 0 : -EBADMSG;
}
