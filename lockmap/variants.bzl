"""The lock back ends, and the macro that builds the core once per back end."""

# name (the folder under variants/) -> C prefix of its lock.h contract.
# Adding a back end: one folder with lock.h, BUILD and README.md, one line here.
VARIANTS = {
    "futex": "futex",
    "spin": "spin",
    "ticket": "ticket",
    "pthread": "pmutex",
    "pthread-adaptive": "pmutex_adaptive",
    "mcs": "mcs",
    "mcs-park": "mcs_park",
    "cna": "cna",
    "clh": "clh",
    "hemlock": "hemlock",
    "twa": "twa",
    "anderson": "anderson",
}

DEFAULT_VARIANT = "futex"

# Lock back ends taken from other projects, built into our core to measure
# ours against them (bench/peers/<name>/lock.h, same contract). Not ours: not
# installed, not in VARIANTS. name -> C prefix.
PEER_LOCKS = {
    "ck-mcs": "ckmcs",
    "ck-ticket": "ckticket",
}

def _lock_dir(variant):
    if variant in VARIANTS:
        return "variants/" + variant
    if variant in PEER_LOCKS:
        return "bench/peers/" + variant
    fail("unknown lock back end: " + variant)

def lock_label(variant):
    """The cc_library of the back end's lock.h."""
    return "//%s:lock" % _lock_dir(variant)

def variant_defines(variant):
    prefix = VARIANTS[variant] if variant in VARIANTS else PEER_LOCKS.get(variant)
    return [
        "LM_ALGO=" + prefix,
        "LM_VARIANT_HEADER=\\\"%s/lock.h\\\"" % _lock_dir(variant),
    ]

def lockmap_library(variant, name, srcs, hdrs, deps = [], defines = [], **kwargs):
    """One cc_library of the core built against one lock back end.

    defines: extra macros for the core's own sources only (e.g. test hooks).
    """
    native.cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        local_defines = variant_defines(variant) + defines,
        # Whole library in every link: the shared libraries built from it
        # must carry every public function, referenced or not.
        alwayslink = True,
        # The shard locks are always the futex mutex; the key locks are the
        # variant's.
        deps = depset(deps + [
            "//variants:platform",
            "//variants/futex:lock",
            lock_label(variant),
        ]).to_list(),
        **kwargs
    )
