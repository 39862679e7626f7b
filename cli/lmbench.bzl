"""lmbench's binaries, one runner per lock back end in VARIANTS and per peer.

For every variant v: //cli:lmbench_v (jemalloc) and //cli:lmbench_v_glibc
(glibc malloc), each linking //lockmap:lockmap_v, plus the dispatcher
//cli:lmbench that knows all the names. A back end added to VARIANTS gets its
runners with no change here; so does a peer added to PEERS."""

load("//lockmap:variants.bzl", "PEER_LOCKS", "VARIANTS", "lock_label", "variant_defines")

# Peers: other maps behind the same lockmap API (bench/peers/<name>/), and our
# core built with other projects' locks (PEER_LOCKS in lockmap/variants.bzl),
# driven by the same workloads. name -> the library implementing lockmap.h.
PEERS = {
    "global": "//bench/peers/global:lockmap",
    "striped": "//bench/peers/striped:lockmap",
    "tbb": "//bench/peers/tbb:lockmap",
    "ck-mcs": "//lockmap:lockmap_ck-mcs",
    "ck-ticket": "//lockmap:lockmap_ck-ticket",
}

# The lock that the reference workloads (lock, floor) take in a peer's runner:
# the CK locks their own; global and striped the pthread mutex they are built
# on; tbb too (its item lock, a C++ spin_rw_mutex, has no C seam).
_PEER_SEAM = {
    "global": "pthread",
    "striped": "pthread",
    "tbb": "pthread",
    "ck-mcs": "ck-mcs",
    "ck-ticket": "ck-ticket",
}

def _library(v):
    return "//lockmap:lockmap_" + v if v in VARIANTS else PEERS[v]

def _seam(v):
    return v if v in VARIANTS else _PEER_SEAM[v]

# Under --config=asan/tsan the sanitizer's runtime owns malloc: rows say so
# rather than claim jemalloc.
_JEMALLOC = select({
    "//cli:asan_build": ["//cli:alloc_asan"],
    "//cli:tsan_build": ["//cli:alloc_tsan"],
    "//conditions:default": ["//cli:alloc_jemalloc"],
})

_GLIBC = select({
    "//cli:asan_build": ["//cli:alloc_asan"],
    "//cli:tsan_build": ["//cli:alloc_tsan"],
    "//conditions:default": ["//cli:alloc_glibc"],
})

ALLOCATORS = {
    "jemalloc": "",
    "glibc": "_glibc",
}

def lmbench_variants_define():
    """Every name, back ends first, then peers."""
    names = list(VARIANTS) + list(PEERS)
    return "LMB_VARIANTS=\\\"%s\\\"" % ",".join(names)

def lmbench_peers_define():
    return "LMB_PEERS=\\\"%s\\\"" % ",".join(PEERS.keys())

def _has_lru(v):
    """Our core's library, with the LRU map: the back ends and PEER_LOCKS."""
    return v in VARIANTS or v in PEER_LOCKS

def lmbench_lru_define():
    names = [v for v in list(VARIANTS) + list(PEERS) if _has_lru(v)]
    return "LMB_LRU_VARIANTS=\\\"%s\\\"" % ",".join(names)

def lmbench_runner_names():
    names = list(VARIANTS) + list(PEERS)
    return ["lmbench_" + v + s for v in names for s in ALLOCATORS.values()]

def _runner_defines(v):
    defines = [
        "LMB_VARIANT=\\\"%s\\\"" % v,
        lmbench_variants_define(),
    ]
    if _has_lru(v):
        defines.append("LMB_HAS_LRU")
    return defines + variant_defines(_seam(v))

def lmbench_binaries():
    """Defines every runner and the dispatcher //cli:lmbench."""
    for v in list(VARIANTS) + list(PEERS):
        for alloc, suffix in ALLOCATORS.items():
            native.cc_binary(
                name = "lmbench_" + v + suffix,
                # The lock and floor workloads use the variant's lock through
                # the seam, with the defines the core is built with.
                srcs = [
                    "bench_map.h",
                    "runner.c",
                ],
                local_defines = _runner_defines(v),
                deps = [
                    ":common",
                    "//bench",
                    _library(v),
                    "//base:platform",
                    "//lockmap:lock_seam",
                    lock_label(_seam(v)),
                ] + (_JEMALLOC if alloc == "jemalloc" else _GLIBC),
                linkopts = ["-lpthread"],
            )
    native.cc_binary(
        name = "lmbench",
        srcs = ["main.c"],
        local_defines = [lmbench_variants_define()],
        deps = [
            ":common",
            "//bench",
        ],
        data = [":" + n for n in lmbench_runner_names()],
    )
