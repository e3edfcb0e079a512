"""Interleaved timing: every contender once per round, medians over rounds.

Why interleave: the machine is shared and its speed drifts by 2x within minutes. Timing A for
a minute and then B for a minute compares two different machines; taking one sample of each per
round, in a rotating order, exposes both to the same drift, and the median drops the outliers.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Sample = Callable[[int], None]  # run the operation n times


@dataclass
class Series:
    """Per-call seconds of one contender, one value per round."""

    calls_per_sample: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median: how noisy the rounds were."""
        if len(self.seconds) < 4:
            return (max(self.seconds) - min(self.seconds)) / self.median
        q1, _, q3 = statistics.quantiles(self.seconds, n=4)
        return (q3 - q1) / self.median

    def as_json(self) -> dict[str, object]:
        return {
            "median_s": self.median,
            "min_s": min(self.seconds),
            "iqr_over_median": self.spread,
            "calls_per_sample": self.calls_per_sample,
            "rounds": len(self.seconds),
            "samples_s": self.seconds,
        }


def _timed(sample: Sample, n: int) -> float:
    """Seconds for n runs, with the garbage collector out of the way (as timeit does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        sample(n)
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def settle() -> None:
    """Collect garbage once, then freeze what survives (`gc.freeze`), so that the collection
    before every sample only scans what was allocated since: with SymPy, PyTorch and JAX
    imported, a full collection takes ~0.2 s, which made every 5 ms sample cost 40x its length.
    """
    gc.collect()
    gc.freeze()


def per_call(sample: Sample, n: int) -> float:
    """Seconds per run, over one sample of n runs."""
    return _timed(sample, n) / n


def calibrate(sample: Sample, min_seconds: float) -> int:
    """Runs per sample so that one sample lasts at least `min_seconds` (timer noise << 1%)."""
    n = 1
    while True:
        elapsed = _timed(sample, n)
        if elapsed >= min_seconds or n >= 1 << 20:
            return n
        n = max(n * 2, int(n * min_seconds / max(elapsed, 1e-9) * 1.2))


def interleaved(
    samples: Mapping[str, Sample], rounds: int, min_seconds: float
) -> dict[str, Series]:
    """Median-ready series for every contender, sampled round-robin in a rotating order."""
    names = list(samples)
    series = {name: Series(calibrate(samples[name], min_seconds)) for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            n = series[name].calls_per_sample
            series[name].seconds.append(per_call(samples[name], n))
    return series


def once(operation: Callable[[], object]) -> float:
    """Wall seconds of one call (for the slow symbolic steps, which need no calibration)."""

    def sample(_n: int) -> None:
        operation()

    return _timed(sample, 1)
