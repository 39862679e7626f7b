"""The map's test suites, instantiated once per lock back end and per peer."""

load("//cli:lmbench.bzl", "PEERS")
load("//lockmap:variants.bzl", "PEER_LOCKS", "VARIANTS")

SUITES = {
    "api_test": "small",
    "concurrency_test": "medium",
    "linearizability_test": "small",
    "lru_test": "medium",
}

# What a peer lacks, as defines that make the tests relying on it skip (they
# print the reason first). See bench/peers/<name>/README.md.
#   LM_TEST_SHARED_LOCKS  a key lock also covers other keys (a stripe, or the
#                         whole map), so "other keys are free" does not hold
#   LM_TEST_NO_SHARDS     the `shards` option is ignored
#   LM_TEST_NO_TRYLOCK    trylock and timedlock are not supported
#   LM_TEST_QUIESCENT_WALKS  for_each/retain/clear must not race with writers
_PEER_LIMITS = {
    "global": ["LM_TEST_SHARED_LOCKS", "LM_TEST_NO_SHARDS"],
    "striped": ["LM_TEST_SHARED_LOCKS", "LM_TEST_NO_SHARDS"],
    "tbb": ["LM_TEST_NO_SHARDS", "LM_TEST_NO_TRYLOCK", "LM_TEST_QUIESCENT_WALKS"],
}

# What the suites need beyond the public API (lm_debug_*: live states, shards,
# seed) comes from the one test-only target //lockmap:testing (its header);
# every map under test implements those hooks. Our core (the back ends and the
# PEER_LOCKS, which are our core with another lock) has them in its library.
# A peer that is another map (global, striped, tbb) implements them in its
# own test-only target, <peer>:lockmap_testing: the same sources built with
# PEER_TEST_HOOKS. Its production target, the one lmbench links, has no test
# code and cannot depend on //lockmap:testing (testonly). So the suites keep
# every check for every map, and peers never touch the core's internals.
def _map_under_test(v):
    if v in VARIANTS or v in PEER_LOCKS:
        return "//lockmap:lockmap_" + v
    return PEERS[v] + "_testing"

def lockmap_test_suites():
    """<suite>_<variant> for every suite and back end, tagged by both.

    Peers: api_test and concurrency_test. lru_test too for the CK locks (our
    core, so our LRU map); the other peers have no LRU map, so no lru_test.
    """
    for suite, size in SUITES.items():
        for v in list(VARIANTS) + list(PEERS):
            if suite == "lru_test" and v in PEERS and v not in PEER_LOCKS:
                continue
            native.cc_test(
                name = "%s_%s" % (suite, v),
                size = size,
                srcs = [suite + ".c", "test_util.h"],
                linkopts = ["-lcmocka", "-lpthread"],
                local_defines = _PEER_LIMITS.get(v, []),
                tags = [suite, "variant-" + v] + (["peer"] if v in PEERS else []),
                deps = [
                    _map_under_test(v),
                    "//lockmap:testing",
                ],
            )
