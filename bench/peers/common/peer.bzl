"""A peer map's two libraries: the one lmbench links, and its test-only twin."""

def peer_library(name, srcs, deps = [], local_defines = [], **kwargs):
    """<name> (what lmbench links; public API only) and <name>_testing.

    <name>_testing is the same sources built with PEER_TEST_HOOKS, which
    adds the lm_debug_* hooks of //lockmap:testing that the conformance
    suites call (see lockmap/tests/suite.bzl). It is testonly, so only
    tests can link it, and only it may depend on //lockmap:testing.
    """
    native.cc_library(
        name = name,
        srcs = srcs,
        local_defines = local_defines,
        # Whole library in every link, as the core's.
        alwayslink = True,
        visibility = ["//cli:__pkg__"],
        deps = deps + ["//lockmap:api"],
        **kwargs
    )
    native.cc_library(
        name = name + "_testing",
        testonly = True,
        srcs = srcs,
        local_defines = local_defines + ["PEER_TEST_HOOKS"],
        alwayslink = True,
        visibility = ["//lockmap/tests:__pkg__"],
        deps = deps + [
            "//lockmap:api",
            "//lockmap:testing",
        ],
        **kwargs
    )
