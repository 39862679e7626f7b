"""The map's test suites, instantiated once per lock back end and per peer."""

load("//:registry.bzl", "ALL", "CORE_MAPS", "PEERS", "map_test_library", "test_limits")

SUITES = {
    "api_test": "small",
    "concurrency_test": "medium",
    "linearizability_test": "small",
    "lru_test": "medium",
    "shared_test": "medium",
}

# What a peer lacks comes from the registry (PEER_MAPS' limits), as defines
# that make the tests relying on it skip (they print the reason first). See
# bench/peers/<name>/README.md.
#   LM_TEST_SHARED_LOCKS  a key lock also covers other keys (a stripe, or the
#                         whole map), so "other keys are free" does not hold
#   LM_TEST_NO_SHARDS     the `shards` option is ignored
#   LM_TEST_NO_TRYLOCK    trylock and timedlock are not supported
#   LM_TEST_QUIESCENT_WALKS  for_each/retain/clear must not race with writers
#   LM_TEST_NO_SHARED_READERS  lockmap_lock_shared is the exclusive lock, so
#                         two threads cannot hold one key shared at once

# What the suites need beyond the public API (lm_debug_*: live states, shards,
# seed) comes from the one test-only target //lockmap:testing (its header);
# every map under test implements those hooks. Our core (the back ends and the
# PEER_LOCKS, which are our core with another lock) has them in its library.
# A peer that is another map (global, striped, tbb) implements them in its
# own test-only target, <peer>:lockmap_testing: the same sources built with
# PEER_TEST_HOOKS. Its production target, the one lmbench links, has no test
# code and cannot depend on //lockmap:testing (testonly). So the suites keep
# every check for every map, and peers never touch the core's internals.
def lockmap_test_suites():
    """<suite>_<variant> for every suite and back end, tagged by both.

    Peers: api_test and concurrency_test. lru_test too for the CK locks (our
    core, so our LRU map); the other peers have no LRU map, so no lru_test.
    """
    for suite, size in SUITES.items():
        for v in ALL:
            if suite == "lru_test" and v not in CORE_MAPS:
                continue
            native.cc_test(
                name = "%s_%s" % (suite, v),
                size = size,
                srcs = [suite + ".c", "test_util.h"],
                linkopts = ["-lcmocka", "-lpthread"],
                # LM_TEST_VARIANT: what lockmap_variant() must return.
                local_defines = test_limits(v) + [
                    "LM_TEST_VARIANT=\\\"%s\\\"" % v,
                ],
                tags = [suite, "variant-" + v] + (["peer"] if v in PEERS else []),
                deps = [
                    map_test_library(v),
                    "//lockmap:testing",
                ],
            )
