"""Lock-level tests: variants/lock_test.c built once per back end."""

load("//:registry.bzl", "BACK_ENDS", "lock_defines")

# How a back end's queue can be watched from a test, if it has one
# (see the LT_* defines at the top of lock_test.c).
_QUEUE = {
    "ticket": ["LT_QUEUE_TICKET", "LT_FIFO"],
    "mcs": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_FIFO"],
    "mcs-park": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES"],
    "cna": ["LT_QUEUE_TAIL", "LT_CNA", "LT_NUMA"],
    "cohort": ["LT_QUEUE_TAILS", "LT_COHORT", "LT_NUMA"],
    "mcscr": ["LT_QUEUE_TAIL", "LT_MCSCR"],
    "shfl": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_SHFL", "LT_NUMA"],
    "clh": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_FIFO", "LT_CLH"],
    "hemlock": ["LT_QUEUE_TAIL", "LT_TIMED_QUEUES", "LT_FIFO", "LT_WAITER_REUSE"],
    "twa": ["LT_QUEUE_TICKET", "LT_FIFO"],
    "anderson": [
        "LT_QUEUE_TICKET",
        "LT_FIFO",
        # FIFO only among the queued: ANDERSON_SLOTS (8) less the holder
        "LT_FIFO_WAITERS=7",
        "LT_ANDERSON",
    ],
}

def lock_tests():
    """//variants:lock_test_<name> for every back end in //:registry.bzl."""
    for v in BACK_ENDS:
        native.cc_test(
            name = "lock_test_" + v,
            srcs = ["lock_test.c"],
            local_defines = lock_defines(v) + _QUEUE.get(v, []) + [
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
