"""The macro that builds the core once per lock back end (see //:registry.bzl)."""

load("//:registry.bzl", "lock_defines", "lock_label")

def lockmap_library(variant, name, srcs, deps = [], defines = [], **kwargs):
    """One cc_library of the core built against one lock back end.

    defines: extra macros for the core's own sources only (e.g. test hooks).
    """
    native.cc_library(
        name = name,
        srcs = srcs,
        local_defines = lock_defines(variant) + defines,
        # Whole library in every link: the shared libraries built from it
        # must carry every public function, referenced or not.
        alwayslink = True,
        # The shard locks are the core's own (shard_lock.h); the key locks
        # are the variant's, through the seam.
        deps = deps + [lock_label(variant)],
        **kwargs
    )
