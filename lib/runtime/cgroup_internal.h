/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_CGROUP_INTERNAL_H
#define WARREN_RUNTIME_CGROUP_INTERNAL_H

#include <stddef.h>

#include "runtime/cgroup.h"

/*
 * Private to lib/runtime and its tests.
 * cgroup_file_path: the path of a sandbox group's control file, picking the
 * hierarchy from the file's controller prefix ("memory.limit_in_bytes" ->
 * the memory hierarchy on v1). file NULL: the group directory of the first
 * hierarchy. -ENOENT when no hierarchy has that controller.
 */
int cgroup_file_path(const struct cgroup_mgr *m, const char *id, const char *file, char *buf,
                     size_t size);
/* Removes the (empty) parent group(s); -EBUSY while sandbox groups remain. */
int cgroup_mgr_remove(struct cgroup_mgr *m);

#endif
