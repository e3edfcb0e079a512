"""What the laws cost beside the derivation: for the benchmark, in one process, cold each time.

Issue 12 allows the default derivation to grow by at most 30% if the laws become part of it.
`measure` times, round after round and with every cache cleared before each timing (SymPy's
and the laws' own, as a fresh `symbp derive` process would start), `derive(spec)`, then
building the spec's laws (derivations by `sympy.diff`, delta elimination, proofs), then the
bridge of every law to every element of that derivation, and reports medians and the ratio
(laws + bridge) / derive.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any

from . import catalog
from .api import clear_caches
from .established import checks_at, spec_of


def measure(spec: Any = None, rounds: int = 5) -> dict[str, Any]:
    """Median seconds of derive, of building the laws and of the bridge, and the ratio."""
    from symbp.symbolic.derivation import derive

    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"rounds must be a whole number of at least 1, got {rounds!r}")
    spec = spec_of(spec)
    times: dict[str, list[float]] = {"derive": [], "laws": [], "bridge": []}
    for _ in range(rounds):
        clear_caches()
        clock = time.perf_counter()
        d = derive(spec)
        times["derive"].append(time.perf_counter() - clock)
        clear_caches()
        clock = time.perf_counter()
        laws = [catalog.law(key) for key in catalog.keys_for(spec)]
        times["laws"].append(time.perf_counter() - clock)
        clock = time.perf_counter()
        checks = checks_at(d)
        times["bridge"].append(time.perf_counter() - clock)
        if not (all(law.holds for law in laws) and all(c.holds for c in checks)):
            raise RuntimeError("a law or an instance check failed while being timed")
    medians = {name: median(values) for name, values in times.items()}
    added = medians["laws"] + medians["bridge"]
    return {
        "spec": spec.label,
        "rounds": rounds,
        "seconds": times,
        "median_s": medians,
        "laws_and_bridge_s": added,
        "ratio": added / medians["derive"],
    }
