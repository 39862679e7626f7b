"""The reference workloads (lock, floor), built once per lock back end.

For every back end and peer lock in //:registry.bzl:
//bench:reference_<name>, compiled with that back end's LM_ALGO and
LM_VARIANT_HEADER through the lock seam, as the core is, plus its test
//bench:reference_test_<name>. A back end added there gets both with no
change here."""

load("//:registry.bzl", "CORE_MAPS", "lock_defines", "lock_label")

def reference_label(lock):
    """The reference library of a lock back end (a back end or peer lock)."""
    return "//bench:reference_" + lock

def reference_libraries():
    """Defines every //bench:reference_<name> and its test."""
    for lock in CORE_MAPS:
        native.cc_library(
            name = "reference_" + lock,
            srcs = ["reference.c"],
            hdrs = ["reference.h"],
            local_defines = lock_defines(lock),
            linkopts = ["-lxxhash"],
            deps = [
                ":bench",
                "//base:platform",
                "//lockmap:lock_seam",
                lock_label(lock),
            ],
        )
        native.cc_test(
            name = "reference_test_" + lock,
            size = "small",
            srcs = ["reference_test.c"],
            linkopts = [
                "-lcmocka",
                "-lpthread",
            ],
            deps = [":reference_" + lock],
        )
