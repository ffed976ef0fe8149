/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_FSOPS_H
#define WARREN_AGENT_FSOPS_H

/*
 * The filesystem operations behind filesystem.Filesystem (WIRE.md §3.5), on
 * file descriptors. Every function acts with the calling thread's identity
 * (see fsuser.h: the caller switches to the requesting user first), so the
 * kernel checks each access as for that user.
 *
 * Paths from a client are expanded and cleaned lexically into an absolute
 * path (fsops_expand), then resolved by the kernel with openat2() and
 * RESOLVE_NO_MAGICLINKS: /proc/<pid>/root, /proc/<pid>/fd/N and the like are
 * never followed (ELOOP), so a link planted by sandbox code cannot make the
 * agent reach a file through another process's view. The agent runs inside
 * the sandbox (after pivot_root), so "/" and absolute symlinks resolve in the
 * sandbox's tree. Trees are walked with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) below an open directory, so a symlink swapped in
 * during a walk is never followed out of it.
 *
 * All functions return >= 0 or -errno unless said otherwise. Every fd is
 * O_CLOEXEC and closed before return unless handed to the caller.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct users_db;

/* Longest path handled (bytes with the NUL). */
#define FSOPS_PATH_MAX 4096
/* Go's FileMode.String() is at most 13 type letters + 9 permission letters. */
#define FSOPS_MODE_STR_MAX 32
/* ListDir limits: deeper levels are not descended into; more entries is an error. */
#define FSOPS_LIST_MAX_DEPTH 64
#define FSOPS_LIST_MAX_ENTRIES 100000
/* Remove gives up below this many nested directories (-ELOOP). */
#define FSOPS_REMOVE_MAX_DEPTH 256
/* The xattr namespace of user metadata, stripped in EntryInfo.metadata. */
#define FSOPS_XATTR_PREFIX "user.e2b."

/*
 * Expands a request path as envd does: "~" and "~/x" against home, other
 * relative paths against workdir (or home when workdir is NULL or ""),
 * absolute paths as they are; then cleans it lexically (Go's filepath.Clean:
 * "//", "." and ".." removed, ".." at "/" stays "/"). out gets an absolute
 * path without a trailing slash (except "/"). -EINVAL for an empty path,
 * -ENAMETOOLONG when it does not fit in n.
 */
int fsops_expand(const char *path, const char *home, const char *workdir, char *out, size_t n);

/* Cleans an absolute path in place (see fsops_expand). -EINVAL if not absolute. */
int fsops_clean(char *path);

/* The last component of a clean absolute path ("/" for "/"). Points into path. */
const char *fsops_basename(const char *path);

/*
 * Go's os.FileMode(...).String() for a stat st_mode: type letters from
 * "dalTLDpSugct?" ('-' when none), then rwxrwxrwx: "-rw-r--r--", "drwxr-xr-x",
 * "Lrwxrwxrwx", "dtrwxrwxrwx" (/tmp), "urwxr-xr-x" (setuid: Go writes no '-' then), "Dcrw-rw-rw-".
 */
void fsops_mode_string(mode_t mode, char out[FSOPS_MODE_STR_MAX]);

/*
 * Opens an absolute path (openat2, RESOLVE_NO_MAGICLINKS, symlinks followed
 * inside the sandbox) with flags | O_CLOEXEC. Returns the fd.
 */
int fsops_open(const char *path, int flags);

/*
 * Opens the directory that holds the last component of a clean absolute path
 * (O_PATH | O_DIRECTORY, as fsops_open) and copies that component to name
 * (NAME_MAX + 1 bytes); for "/" it opens "/" and name is ".". Returns the fd.
 */
int fsops_open_parent(const char *path, char *name, size_t n);

/*
 * Maps uids/gids to names from the passwd/group files of db, loaded on first
 * use and kept for the lifetime of the object (one request). Unknown ids are
 * shown as their number, as envd does.
 */
struct fsops_names;
struct fsops_names *fsops_names_new(const struct users_db *db);
void fsops_names_free(struct fsops_names *nm);

/*
 * Builds the proto3-JSON EntryInfo of name in dir_fd without following a
 * final symlink (lstat), shown at path: name, type (a symlink shows its
 * target's type, FILE_TYPE_UNSPECIFIED when the target is missing or
 * unreachable), path, size (int64 string), mode (permission bits), permissions
 * string, owner, group, modifiedTime (RFC 3339, UTC), symlinkTarget (the
 * target's resolved absolute path, or the link text when it cannot be
 * resolved), metadata (user.e2b.* xattrs, prefix stripped; omitted when
 * none). *ret is a new object; *ret_is_dir tells whether it is a real
 * directory (not a symlink to one). ret_is_dir may be NULL.
 */
int fsops_entry(struct fsops_names *nm, int dir_fd, const char *name, const char *path,
                json_t **ret, bool *ret_is_dir);

/* fsops_entry for a clean absolute path (its parent opened with fsops_open_parent). */
int fsops_entry_path(struct fsops_names *nm, const char *path, json_t **ret, bool *ret_is_dir);

/*
 * Lists the directory at path into the JSON array entries, depth levels deep
 * (1 = its direct entries; at most FSOPS_LIST_MAX_DEPTH), in the order of
 * Go's filepath.WalkDir (sorted by name, each directory followed by its
 * contents). A symlink to a directory is listed, never descended into;
 * subdirectories the user cannot read are listed but not descended into.
 * -ENOTDIR when path is not a directory, -E2BIG past FSOPS_LIST_MAX_ENTRIES.
 */
int fsops_list(struct fsops_names *nm, const char *path, uint32_t depth, json_t *entries);

/*
 * mkdir -p: creates path and its missing parents (mode 0755, owned by the
 * calling identity). -EEXIST when path already is a directory, -ENOTDIR when
 * it (or a parent) exists and is not a directory.
 */
int fsops_mkdir_p(const char *path);

/*
 * Renames source to destination (renameat, creating the destination's missing
 * parent directories). -EXDEV across filesystems.
 */
int fsops_move(const char *source, const char *destination);

/*
 * rm -rf: removes path and, for a directory, everything below it, never
 * following symlinks (a symlink is removed itself). A missing path is 0.
 */
int fsops_remove(const char *path);

/*
 * Reads the user.e2b.* xattrs of the file open as fd (any kind of fd,
 * O_PATH included) into the object md (prefix stripped). Entries that are not
 * valid UTF-8 are skipped; no xattr support or no read permission yields none.
 */
int fsops_read_metadata(int fd, json_t *md);

#endif
