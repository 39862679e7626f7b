"""Lock-level tests: variants/lock_test.c built once per back end."""

load("//:registry.bzl", "BACK_ENDS", "lock_defines")

def lock_tests():
    """//variants:lock_test_<name> for every back end in //:registry.bzl.

    What each runs beyond the common tests follows from its lock.h (its
    traits, see lockmap/lock_seam.h), not from a list here.
    """
    for v in BACK_ENDS:
        native.cc_test(
            name = "lock_test_" + v,
            srcs = ["lock_test.c"],
            local_defines = lock_defines(v) + [
                "LT_VARIANT_NAME=\\\"%s\\\"" % v,
            ],
            linkopts = [
                "-lcmocka",
                "-lpthread",
            ],
            deps = [
                "//base:platform",
                "//lockmap:lock_seam",
                "//variants/%s:lock" % v,
            ],
            size = "small",
            tags = ["lock"],
        )
