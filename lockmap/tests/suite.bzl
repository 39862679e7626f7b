"""The map's test suites, instantiated once per lock back end."""

load("//lockmap:variants.bzl", "VARIANTS")

SUITES = {
    "api_test": "small",
    "concurrency_test": "medium",
    "lru_test": "medium",
}

def lockmap_test_suites():
    """<suite>_<variant> for every suite and back end, tagged by both."""
    for suite, size in SUITES.items():
        for v in VARIANTS:
            native.cc_test(
                name = "%s_%s" % (suite, v),
                size = size,
                srcs = [suite + ".c", "test_util.h"],
                linkopts = ["-lcmocka", "-lpthread"],
                tags = [suite, "variant-" + v],
                deps = ["//lockmap:lockmap_" + v],
            )
