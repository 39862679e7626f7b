"""lmbench's binaries, one runner per back end and per peer (//:registry.bzl).

For every name v: //cli:lmbench_v (jemalloc) and //cli:lmbench_v_glibc
(glibc malloc), each linking v's map library and the reference workloads of
its lock, //bench:reference_<lock>, plus the dispatcher //cli:lmbench that
knows all the names. A back end or peer added to the registry gets its
runners with no change here."""

load("//:registry.bzl", "ALL", "CORE_MAPS", "PEERS", "map_library", "seam_lock")
load("//bench:reference.bzl", "reference_label")

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
    return "LMB_VARIANTS=\\\"%s\\\"" % ",".join(ALL)

def lmbench_peers_define():
    return "LMB_PEERS=\\\"%s\\\"" % ",".join(PEERS)

def lmbench_lru_define():
    """The names whose map is our core, which has the LRU map."""
    return "LMB_LRU_VARIANTS=\\\"%s\\\"" % ",".join(CORE_MAPS)

def lmbench_runner_names():
    return ["lmbench_" + v + s for v in ALL for s in ALLOCATORS.values()]

def _runner_defines(v):
    defines = [
        "LMB_VARIANT=\\\"%s\\\"" % v,
        lmbench_variants_define(),
    ]
    if v in CORE_MAPS:
        defines.append("LMB_HAS_LRU")
    return defines

def lmbench_binaries():
    """Defines every runner and the dispatcher //cli:lmbench."""
    for v in ALL:
        for alloc, suffix in ALLOCATORS.items():
            native.cc_binary(
                name = "lmbench_" + v + suffix,
                # Only the public headers of the map: the lock and floor
                # workloads take the variant's lock through
                # //bench:reference_<lock>.
                srcs = [
                    "bench_map.h",
                    "run.h",
                    "run_collect.c",
                    "run_loop.c",
                    "run_row.c",
                    "run_setup.c",
                    "run_threads.c",
                    "runner.c",
                    "value.h",
                ],
                local_defines = _runner_defines(v),
                deps = [
                    ":common",
                    ":verify",
                    "//bench",
                    map_library(v),
                    reference_label(seam_lock(v)),
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
