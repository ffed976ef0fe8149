/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_CLI_TABLE_H
#define WARREN_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

/*
 * A text table with a header row, columns padded to their widest cell (counted in UTF-8
 * characters), two spaces apart. Cells are copied; control characters in them (server data
 * is not trusted to be printable) are shown as '?'. Lifecycle: table_new/table_free.
 */
struct table;

/* A table of n_cols columns named by headers[0..n_cols-1]; NULL on out-of-memory. */
struct table *table_new(size_t n_cols, const char *const *headers);
void table_free(struct table *t);
/* Appends a row of n_cols cells (NULL prints as empty). 0 or -ENOMEM. */
int table_add_row(struct table *t, const char *const *cells);
size_t table_n_rows(const struct table *t);
/* Prints the header and rows to f. */
void table_print(const struct table *t, FILE *f);

#endif
