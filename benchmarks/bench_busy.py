"""The "busy" condition: another process spinning on the other core while a sample is timed.

Users run on shared laptops and CI machines, so a figure measured only on an idle machine says
little (issue 17: symbp lost 3-4x of its speed when the second core was busy, because OpenBLAS's
second thread waited for it). `Spinner` starts `python -c "<busy loop>"`, pinned with
`os.sched_setaffinity` to the last CPU this process may use (the benchmark itself is not pinned,
so its main thread runs on the other core, and any extra thread it starts competes with the
spinner, as it would on a shared machine), waits until the loop is running, and kills it on
exit, also on KeyboardInterrupt or any error. Three guards keep it from outliving the benchmark:

- the parent kills it in a `finally` (and `atexit`, for an exit from elsewhere);
- the child asks Linux for SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`);
- the busy loop checks a deadline (`MAX_SECONDS` by default) and exits by itself.

`quiet_and_busy` times every contender in both conditions, interleaved: each round is a quiet
pass and a busy pass (in alternating order), each over all contenders in rotating order, with one
spinner per busy pass; both conditions see the same drift, so busy/quiet is a ratio of one run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import bench_timing

MAX_SECONDS = 120.0  # the spinner exits by itself after this long, whatever the parent does
READY = "spinning"
# The busy loop: `while True: pass` with a deadline, after pinning itself and arranging to die
# with its parent. {tag} names the benchmark process, so a test can look for strays.
CODE = """\
# symbp benchmark spinner for pid {parent}
import os, sys, time
cpu = {cpu}
if cpu is not None:
    try:
        os.sched_setaffinity(0, {{cpu}})
    except OSError:
        pass
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != {parent}:
    sys.exit(0)
end = time.monotonic() + {seconds}
print("{ready}", flush=True)
while time.monotonic() < end:
    pass
"""


def marker(parent: int | None = None) -> str:
    """The text every spinner of benchmark process `parent` carries on its command line."""
    return f"symbp benchmark spinner for pid {os.getpid() if parent is None else parent}"


def other_cpu() -> int | None:
    """The CPU the spinner is pinned to: the highest one this process may run on (None where
    affinity cannot be set, or on a one-CPU machine, where 'the other core' does not exist)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return allowed[-1] if len(allowed) > 1 else None


_LIVE: set[subprocess.Popen[str]] = set()


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a process that ignores SIGKILL
        process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()
    _LIVE.discard(process)


def _kill_all() -> None:
    for process in list(_LIVE):
        _kill(process)


atexit.register(_kill_all)


class Spinner:
    """`with Spinner():` the other core is busy inside the block; the spinner is gone after it."""

    pids: list[int] = []  # every spinner started by this process (for the JSON and the test)

    def __init__(self, seconds: float = MAX_SECONDS, cpu: int | None = -1) -> None:
        self.seconds = seconds
        self.cpu = other_cpu() if cpu == -1 else cpu
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Spinner:
        code = CODE.format(parent=os.getpid(), cpu=self.cpu, seconds=self.seconds, ready=READY)
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.process = process
        _LIVE.add(process)
        Spinner.pids.append(process.pid)
        try:
            line = process.stdout.readline() if process.stdout else ""
            if line.strip() != READY:
                raise RuntimeError(f"the spinner did not start (exit code {process.poll()})")
        except BaseException:
            _kill(process)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            _kill(self.process)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def alive(pid: int, parent: int | None = None) -> bool:
    """Whether process `pid` exists and is a spinner of benchmark process `parent` (Linux)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().decode(errors="replace")
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and marker(parent) in command


def strays(parent: int | None = None) -> list[int]:
    """Every live spinner of benchmark process `parent` (default: this one), from /proc."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit() and alive(int(entry), parent):
            found.append(int(entry))
    return found


def describe() -> dict[str, Any]:
    cpu = other_cpu()
    return {
        "command": f'{sys.executable} -c "<busy loop: while time.monotonic() < deadline: pass>"',
        "pinned_cpu": cpu,
        "pinned": cpu is not None,
        "max_seconds": MAX_SECONDS,
        "cpus_allowed": (
            sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
    }


def quiet_and_busy(
    samples: Mapping[str, bench_timing.Sample], rounds: int, min_seconds: float
) -> dict[str, dict[str, bench_timing.Series]]:
    """{"quiet": series, "busy": series}: both conditions interleaved round by round."""
    names = list(samples)
    quiet = {n: bench_timing.Series(bench_timing.calibrate(samples[n], min_seconds)) for n in names}
    busy = {n: bench_timing.Series(quiet[n].calls_per_sample) for n in names}

    def one_pass(series: dict[str, bench_timing.Series], r: int) -> None:
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            n = series[name].calls_per_sample
            series[name].seconds.append(bench_timing.per_call(samples[name], n))

    for r in range(rounds):
        for condition in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
            if condition == "quiet":
                one_pass(quiet, r)
            else:
                with Spinner():
                    time.sleep(0.01)  # let the scheduler settle the spinner on its core
                    one_pass(busy, r)
    return {"quiet": quiet, "busy": busy}
