"""Lock-level tests: variants/lock_test.c built once per back end."""

load("//lockmap:variants.bzl", "VARIANTS", "variant_defines")

# How a back end's queue can be watched from a test, if it has one
# (see the LT_* defines at the top of lock_test.c).
_QUEUE = {
    "ticket": ["LT_QUEUE_TICKET", "LT_FIFO"],
    "mcs": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_FIFO"],
    "mcs-park": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_FIFO_QUEUED"],
    "cna": ["LT_QUEUE_TAIL", "LT_CNA"],
}

def lock_tests():
    """//variants:lock_test_<name> for every back end in VARIANTS."""
    for v in VARIANTS:
        native.cc_test(
            name = "lock_test_" + v,
            srcs = [
                "lock_test.c",
                "//lockmap:lock_seam.h",
            ],
            local_defines = variant_defines(v) + _QUEUE.get(v, []) + [
                "LT_VARIANT_NAME=\\\"%s\\\"" % v,
            ],
            linkopts = [
                "-lcmocka",
                "-lpthread",
            ],
            deps = [
                ":platform",
                "//variants/%s:lock" % v,
            ],
            size = "small",
            tags = ["lock"],
        )
