"""Peak extra resident memory of one gradients() call, measured in a fresh process.

    python benchmarks/memory_probe.py IMPLEMENTATION M SIZE

Prints one JSON object. Why a process per measurement: PyTorch's allocator is invisible to
tracemalloc, and resident memory is only comparable between engines if each starts clean.
The peak is Linux's VmHWM, reset just before the call through /proc/self/clear_refs (falling
back to ru_maxrss, which cannot be reset, when that is not allowed); the call is the first at
this M (a warm-up at M = 100 loads code and thread pools without leaving large free blocks).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from bench_impl import GradientFn, by_name, random_problem

from symbp.spec.model import NetworkSpec


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(name: str, m: int, size: int) -> None:
    spec = NetworkSpec(input_shape=(size, size))
    implementation = by_name(spec, name)
    with implementation.setting():
        measure(implementation.gradients, spec, m)


def measure(gradients: GradientFn, spec: NetworkSpec, m: int) -> None:
    gradients(*random_problem(spec, 100, seed=1))  # warm-up
    x, y, params = random_problem(spec, m)
    reset = _reset_peak()
    rss_before = _status_kib("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gradients(x, y, params)
    if reset and rss_before is not None:
        peak = _status_kib("VmHWM")
        method = "VmHWM after reset - VmRSS before"
    else:
        rss_before = rss_before if rss_before is not None else maxrss_before
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss after - VmRSS before (not resettable: may hide a smaller peak)"
    extra = max(0, (peak or 0) - (rss_before or 0)) * 1024
    print(json.dumps({"extra_bytes": extra, "x_bytes": x.nbytes, "method": method}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
