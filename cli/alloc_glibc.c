/* Linked into the glibc runners: reports glibc's malloc and glibc's version. */
#include <gnu/libc-version.h>
#include <stdio.h>

#include "cli/meta.h"

void lmb_allocator_info(const char **name, char *version, size_t n) {
    *name = "glibc";
    snprintf(version, n, "%s", gnu_get_libc_version());
}
