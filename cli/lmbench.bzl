"""lmbench's binaries, one runner per lock back end in VARIANTS.

For every variant v: //cli:lmbench_v (jemalloc) and //cli:lmbench_v_glibc
(glibc malloc), each linking //lockmap:lockmap_v, plus the dispatcher
//cli:lmbench that knows all the names. A back end added to VARIANTS gets its
runners with no change here."""

load("//lockmap:variants.bzl", "VARIANTS", "variant_defines")

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
    return "LMB_VARIANTS=\\\"%s\\\"" % ",".join(VARIANTS.keys())

def lmbench_runner_names():
    return ["lmbench_" + v + s for v in VARIANTS for s in ALLOCATORS.values()]

def lmbench_binaries():
    """Defines every runner and the dispatcher //cli:lmbench."""
    for v in VARIANTS:
        for alloc, suffix in ALLOCATORS.items():
            native.cc_binary(
                name = "lmbench_" + v + suffix,
                # The lock and floor workloads use the variant's lock through
                # the seam, with the defines the core is built with.
                srcs = [
                    "runner.c",
                    "//lockmap:lock_seam.h",
                ],
                local_defines = [
                    "LMB_VARIANT=\\\"%s\\\"" % v,
                    lmbench_variants_define(),
                ] + variant_defines(v),
                deps = [
                    ":common",
                    "//bench",
                    "//lockmap:lockmap_" + v,
                    "//variants:platform",
                    "//variants/%s:lock" % v,
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
