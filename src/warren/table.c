/* SPDX-License-Identifier: Apache-2.0 */
#include "table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct table {
	size_t n_cols;
	size_t n_rows; /* including the header row */
	size_t cap_rows;
	char **cells;  /* n_rows * n_cols */
	size_t *width; /* per column, in characters */
};

/* Characters of a UTF-8 string (continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static char *cell_dup(const char *s)
{
	char *c = strdup(s ? s : "");

	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

static int add_row(struct table *t, const char *const *cells)
{
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 8;
		char **n = reallocarray(t->cells, cap * t->n_cols, sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap_rows = cap;
	}
	for (size_t i = 0; i < t->n_cols; i++) {
		char *c = cell_dup(cells[i]);
		size_t w;

		if (!c) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[t->n_rows * t->n_cols + j]);
			return -ENOMEM;
		}
		t->cells[t->n_rows * t->n_cols + i] = c;
		w = text_width(c);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->n_rows++;
	return 0;
}

struct table *table_new(size_t n_cols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n_cols = n_cols;
	t->width = calloc(n_cols ? n_cols : 1, sizeof(*t->width));
	if (!t->width || add_row(t, headers) < 0) {
		table_free(t);
		return NULL;
	}
	return t;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

int table_add_row(struct table *t, const char *const *cells)
{
	return add_row(t, cells);
}

size_t table_n_rows(const struct table *t)
{
	return t->n_rows - 1;
}

void table_print(const struct table *t, FILE *f)
{
	for (size_t r = 0; r < t->n_rows; r++) {
		size_t end = t->n_cols;

		/* No padding after the last non-empty cell: lines carry no trailing blanks. */
		while (end > 1 && !t->cells[r * t->n_cols + end - 1][0])
			end--;
		for (size_t i = 0; i < end; i++) {
			const char *c = t->cells[r * t->n_cols + i];
			bool last = i + 1 == end;

			fputs(c, f);
			if (!last)
				fprintf(f, "%*s", (int)(t->width[i] - text_width(c) + 2), "");
		}
		fputc('\n', f);
	}
}
