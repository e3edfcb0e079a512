"""symbp's benchmark suite: one command, tables on stdout, everything in JSON.

    python benchmarks/run.py                 # the full run (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick         # a smoke run in well under a minute
    python benchmarks/run.py --sizes 6,10,14 --json results.json
    python benchmarks/run.py --baseline 4c176f9   # section 2 also times an earlier commit
    python benchmarks/run.py --only throughput,architectures --json /tmp/r.json  # 3, 4 and 7

Sections: 1 derivation time vs input size (with the naive sympy.diff baseline), 2 CLI wall time,
3 gradient throughput (after an agreement check), 4 the memory-bandwidth bound, 5 peak memory,
6 a profile of symbp's generated code, 7 the example architectures of issue 4, then a summary
of the targets of issues 5 and 17. Sections 3 and 7 include JAX jit when it is installed and a
quiet/busy comparison (bench_busy: another process spinning on the other core); section 4 states
the compute bound (single-thread dgemm) and the memory-bandwidth bound.
Progress goes to stderr; the tables go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bench_architectures
import bench_bounds
import bench_busy
import bench_cli
import bench_derivation
import bench_machine
import bench_memory
import bench_profile
import bench_report as report
import bench_throughput
from bench_impl import Implementation, build
from bench_summary import notes, summarize

from symbp.spec.model import NetworkSpec, SpecError

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Plan:
    """How much of everything to run: the full plan, or a quick smoke run."""

    quick: bool
    sizes: tuple[int, ...]
    derivation_rounds: int
    naive_rounds: int
    naive_timeout_s: float
    cli_rounds: int
    m_values: tuple[int, ...]
    bandwidth_mb: int
    bandwidth_repeats: int
    profile_calls: int
    baseline: str | None = None  # a commit whose `symbp derive` section 2 also times


def make_plan(quick: bool, sizes: tuple[int, ...] | None) -> Plan:
    if quick:
        return Plan(True, sizes or (6, 10), 2, 1, 5.0, 1, (1, 100, 1000), 40, 3, 3)
    return Plan(
        False, sizes or bench_derivation.SIZES, 5, 5, 60.0, 3, bench_throughput.M_VALUES, 400, 7, 9
    )


SECTION_NAMES = ("derivation", "cli", "throughput", "memory", "profile", "architectures")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument(
        "--json", default=str(HERE / "results.json"), metavar="PATH", help="where to write JSON"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also time the default `symbp derive` at this earlier commit (section 2)",
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="LIST",
        help="run only these sections (the agreement check and the summary always run), e.g. "
        "throughput,architectures; names: " + ", ".join(SECTION_NAMES),
    )
    parser.add_argument(
        "--sizes",
        default=None,
        metavar="LIST",
        help="input sizes for the derivation section, e.g. 6,10,14 (default 6,10,14,20,28)",
    )
    return parser.parse_args(argv)


def _sizes(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        sizes = tuple(int(word) for word in text.split(",") if word.strip())
    except ValueError:
        raise SystemExit(f"--sizes must be a comma list of whole numbers, got {text!r}") from None
    for size in sizes:
        try:
            bench_derivation.spec_for(size)
        except SpecError as error:
            raise SystemExit(f"--sizes: {size}x{size} is not a valid network: {error}") from None
    return sizes


def _only(text: str | None) -> set[str] | None:
    if text is None:
        return None
    names = {word.strip() for word in text.split(",") if word.strip()}
    unknown = names - set(SECTION_NAMES)
    if unknown:
        raise SystemExit(f"--only: unknown sections {sorted(unknown)}; names: {SECTION_NAMES}")
    return names | {"agreement", "summary"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def show(text: str) -> None:
    print(text, flush=True)


class Results:
    """The JSON document, saved after every section so a crash keeps what was measured."""

    def __init__(self, path: Path, plan: Plan) -> None:
        self.path = path
        self.data: dict[str, Any] = {"plan": plan.__dict__, "complete": False}

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2, default=str) + "\n")


# ------------------------------------------------------------------------------------ sections
def agreement(impls: list[Implementation], data: dict[int, Any], results: Results) -> None:
    show(report.heading("Agreement (checked before anything is timed)"))
    try:
        results["agreement"] = bench_throughput.check_agreement(impls, data, NetworkSpec())
    except bench_throughput.AgreementError as error:
        results["agreement"] = error.result
        results["aborted"] = str(error)
        show(f"ABORTED: {error}")
        raise SystemExit(1) from None
    show(bench_throughput.render_agreement(results.data["agreement"]))


def derivation(plan: Plan, results: Results) -> None:
    log("1. derivation time ...")
    result = bench_derivation.run(
        plan.sizes, plan.derivation_rounds, plan.naive_rounds, plan.naive_timeout_s, log
    )
    results["derivation"] = result
    show(report.heading("1. Derivation time vs input size (3x3 filter, 2x2 max-pool)"))
    show(bench_derivation.render(result))


def cli(plan: Plan, results: Results) -> None:
    log("2. CLI wall time ...")
    result = bench_cli.run(
        plan.cli_rounds, include_large=not plan.quick, log=log, baseline=plan.baseline
    )
    results["cli"] = result
    show(report.heading("2. CLI wall time"))
    show(bench_cli.render(result))


def throughput(
    spec: NetworkSpec,
    plan: Plan,
    impls: list[Implementation],
    data: dict[int, Any],
    results: Results,
) -> None:
    log("3. throughput (with bandwidth and dgemm before and after) ...")
    measure_bandwidth = _bandwidth(plan)
    before, dgemm_before = measure_bandwidth(), bench_bounds.dgemm(repeats=plan.bandwidth_repeats)
    timings, conditions = bench_throughput.measure(impls, data, plan.quick, log)
    after, dgemm_after = measure_bandwidth(), bench_bounds.dgemm(repeats=plan.bandwidth_repeats)
    result = bench_throughput.as_json(impls, timings, conditions)
    results["throughput"] = result
    show(report.heading("3. Gradient throughput, default network (6x6, 3x3, 2x2)"))
    show(bench_throughput.render(result))
    largest = max(plan.m_values)
    text, bound = bench_throughput.render_bandwidth(
        spec, [before, after], result, largest, [dgemm_before, dgemm_after]
    )
    results["bandwidth"] = bound
    show(report.heading("4. Compute and memory-bandwidth bounds"))
    show(text)


def _bandwidth(plan: Plan) -> Callable[[], dict[str, Any]]:
    return lambda: bench_throughput.bandwidth(plan.bandwidth_mb, plan.bandwidth_repeats)


def memory(spec: NetworkSpec, plan: Plan, impls: list[Implementation], results: Results) -> None:
    log("5. peak memory ...")
    result = bench_memory.run(impls, max(plan.m_values), spec, log)
    results["memory"] = result
    show(report.heading("5. Peak memory of gradients()"))
    show(bench_memory.render(result))


def profile(spec: NetworkSpec, plan: Plan, results: Results) -> None:
    log("6. profile ...")
    largest, small = max(plan.m_values), 100
    profiles = {
        str(largest): bench_profile.profile(spec, largest, plan.profile_calls, (None, 1)),
        str(small): bench_profile.profile(spec, small, 50 if plan.quick else 500),
        "1": bench_profile.profile(spec, 1, 200 if plan.quick else 2000),
    }
    results["profile"] = profiles
    show(report.heading("6. Where symbp's gradients() spends its time"))
    show("\n\n".join(bench_profile.render(p) for p in profiles.values()))


def architectures(plan: Plan, results: Results) -> None:
    log("7. example architectures ...")
    cases = bench_architectures.CASES[:1] if plan.quick else bench_architectures.CASES
    flops_per_s = results.data.get("bandwidth", {}).get("compute", {}).get("best_flops_per_s")
    bytes_per_s = results.data.get("bandwidth", {}).get("best_bytes_per_s")
    result = bench_architectures.run(
        log,
        rounds=2 if plan.quick else 5,
        cases=cases,
        min_seconds=0.02 if plan.quick else 0.2,
        rates=(flops_per_s, bytes_per_s),
    )
    results["architectures"] = result
    show(report.heading("7. Example architectures (examples/*.toml)"))
    show(bench_architectures.render(result))


def summary(results: Results, plan: Plan) -> None:
    rows = summarize(results.data, plan.quick)
    results["summary"] = rows
    show(report.heading("Summary: the targets of issues 5 and 17"))
    table_rows = [[row["target"], row["measured"], row["status"]] for row in rows]
    show(report.table(["target", "measured", "status"], table_rows, left=3))
    results["summary_notes"] = notes(results.data)
    for note in results.data["summary_notes"]:
        show(f"note: {note}")
    if plan.quick:
        show("quick run: small sizes and few rounds; figures are for smoke-testing only")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = replace(make_plan(args.quick, _sizes(args.sizes)), baseline=args.baseline)
    results = Results(Path(args.json), plan)
    machine = bench_machine.info()
    results["machine"] = machine
    words = sys.argv[1:] if argv is None else argv
    show(" ".join(["symbp benchmark: python benchmarks/run.py", *words]))
    show(bench_machine.describe(machine))
    spec = NetworkSpec()
    impls = build(spec)
    data = bench_throughput.problems(spec, plan.m_values)
    sections: list[tuple[str, Callable[[], None]]] = [
        ("agreement", lambda: agreement(impls, data, results)),
        ("derivation", lambda: derivation(plan, results)),
        ("cli", lambda: cli(plan, results)),
        ("throughput", lambda: throughput(spec, plan, impls, data, results)),
        ("memory", lambda: memory(spec, plan, impls, results)),
        ("profile", lambda: profile(spec, plan, results)),
        ("architectures", lambda: architectures(plan, results)),
        ("summary", lambda: summary(results, plan)),
    ]
    only = _only(args.only)
    took: dict[str, float] = {}
    for name, run_section in sections:
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        run_section()
        took[name] = time.perf_counter() - start
        log(f"  ({name}: {took[name]:.1f} s)")
    results["section_seconds"] = took
    results["spinners"] = {
        "benchmark_pid": os.getpid(),
        "started": len(bench_busy.Spinner.pids),
        "pids": list(bench_busy.Spinner.pids),
        "alive_at_end": bench_busy.strays(),
    }
    results["complete"] = True
    show(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
