"""The one registry of lock back ends and peers.

Everything built once per back end or per peer takes its names from here:
the core's libraries (lockmap/BUILD), the lock tests (variants/lock_tests.bzl),
the reference workloads (bench/reference.bzl), lmbench's runners
(cli/lmbench.bzl) and the map suites (lockmap/tests/suite.bzl). What a back
end promises (FIFO or not, how its timed lock waits, ...) is not listed here:
each lock.h declares it as trait macros (see lockmap/lock_seam.h), where the
tests read it. Scripts never read this file; they ask
`lmbench --list-variants`.

Adding a back end: a folder variants/<name>/ (lock.h, BUILD, README.md) and
one line in BACK_ENDS. Adding a peer map: a folder bench/peers/<name>/ whose
BUILD has a peer_library named lockmap, and one entry in PEER_MAPS.
"""

# Our lock back ends: name (its folder under variants/) -> C prefix of the
# functions in its lock.h.
BACK_ENDS = {
    "futex": "futex",
    "spin": "spin",
    "ticket": "ticket",
    "pthread": "pmutex",
    "pthread-adaptive": "pmutex_adaptive",
    "mcs": "mcs",
    "mcs-park": "mcs_park",
    "cna": "cna",
    "mutexee": "mutexee",
    "mcscr": "mcscr",
    "cohort": "cohort",
    "shfl": "shfl",
    "clh": "clh",
    "hemlock": "hemlock",
    "twa": "twa",
    "anderson": "anderson",
}

# What //lockmap:lockmap links.
DEFAULT_BACK_END = "futex"

# Peer locks: other projects' locks behind our seam (bench/peers/<name>/
# lock.h), built into our core to measure ours against them. Not installed.
# name -> C prefix.
PEER_LOCKS = {
    "ck-mcs": "ckmcs",
    "ck-ticket": "ckticket",
}

# Peer maps: other designs behind lockmap.h (bench/peers/<name>/: :lockmap
# for lmbench, :lockmap_testing with the suites' hooks). No LRU map.
#   seam    the lock whose reference workloads (lock, floor) the peer's
#           runner measures: the one the peer is built on (tbb's item lock,
#           a C++ spin_rw_mutex, has no C seam: pthread stands in)
#   limits  what the peer lacks, as defines that make the suites' tests
#           relying on it skip (see lockmap/tests/suite.bzl)
PEER_MAPS = {
    "global": {
        "seam": "pthread",
        "limits": ["LM_TEST_SHARED_LOCKS", "LM_TEST_NO_SHARDS", "LM_TEST_NO_SHARED_READERS"],
    },
    "striped": {
        "seam": "pthread",
        "limits": ["LM_TEST_SHARED_LOCKS", "LM_TEST_NO_SHARDS", "LM_TEST_NO_SHARED_READERS"],
    },
    "tbb": {
        "seam": "pthread",
        "limits": ["LM_TEST_NO_SHARDS", "LM_TEST_NO_TRYLOCK", "LM_TEST_QUIESCENT_WALKS"],
    },
    "rust-design": {
        "seam": "futex",
        "limits": ["LM_TEST_NO_SHARED_READERS"],
    },
}

# Every name lmbench knows, back ends first.
PEERS = list(PEER_MAPS) + list(PEER_LOCKS)
ALL = list(BACK_ENDS) + PEERS

# Names whose map is our core (with its LRU map): back ends and peer locks.
CORE_MAPS = list(BACK_ENDS) + list(PEER_LOCKS)

def _prefix(lock):
    if lock in BACK_ENDS:
        return BACK_ENDS[lock]
    if lock in PEER_LOCKS:
        return PEER_LOCKS[lock]
    fail("unknown lock back end: " + lock)

def _lock_dir(lock):
    return ("variants/" if lock in BACK_ENDS else "bench/peers/") + lock

def lock_label(lock):
    """The cc_library of a back end's (or peer lock's) lock.h."""
    _prefix(lock)
    return "//%s:lock" % _lock_dir(lock)

def lock_defines(lock):
    """What the seam (lockmap/lock_seam.h) needs to name the lock: its C
    prefix, the same in capitals (its trait macros), and its header."""
    prefix = _prefix(lock)
    return [
        "LM_ALGO=" + prefix,
        "LM_ALGO_TRAITS=" + prefix.upper(),
        "LM_VARIANT_HEADER=\\\"%s/lock.h\\\"" % _lock_dir(lock),
    ]

def map_library(name):
    """The library implementing lockmap.h for a back end or peer."""
    if name in PEER_MAPS:
        return "//bench/peers/%s:lockmap" % name
    _prefix(name)
    return "//lockmap:lockmap_" + name

def map_test_library(name):
    """map_library, with the test hooks of //lockmap:testing."""
    if name in PEER_MAPS:
        return map_library(name) + "_testing"
    return map_library(name)

def seam_lock(name):
    """The lock a runner's reference workloads take."""
    return PEER_MAPS[name]["seam"] if name in PEER_MAPS else name

def test_limits(name):
    return PEER_MAPS[name]["limits"] if name in PEER_MAPS else []
