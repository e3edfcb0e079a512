"""The benchmark suite runs end to end (--quick) and reports every section.

Only structure and correctness are asserted: that each section is present, that the agreement
check ran and passed, that the JAX, busy and bounds columns exist, that the summary names every
target, and that no spinning process outlives the benchmark (bench_busy). Timings are never
asserted - they belong to the benchmark's own PASS/MISS lines, not to a test on a shared machine.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "run.py"
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_busy  # noqa: E402  (benchmarks/ is not a package)

SECTIONS = (
    "machine",
    "agreement",
    "derivation",
    "cli",
    "throughput",
    "bandwidth",
    "memory",
    "profile",
    "architectures",
    "summary",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    path = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(path.read_text())


def test_quick_run_writes_every_section(quick_run):
    _, data = quick_run
    assert data["complete"] is True
    assert [s for s in SECTIONS if s not in data] == []
    assert data["machine"]["numpy"] and data["machine"]["sympy"] and data["machine"]["cpu"]


def test_agreement_check_passed_for_every_implementation(quick_run):
    _, data = quick_run
    agreement = data["agreement"]
    assert agreement["passed"] is True
    checked = {c["implementation"] for c in agreement["checks"]}
    assert {"symbp", "engine", "numpy"} <= checked
    assert all(c["ok"] for c in agreement["checks"])
    assert set(data["throughput"]["implementations"]) == checked


def test_sections_hold_their_measurements(quick_run):
    _, data = quick_run
    sizes = data["derivation"]["sizes"]
    assert [s["size"] for s in sizes] == list(data["plan"]["sizes"])
    assert all(s["derive_median_s"] > 0 and s["staged_nodes"]["program_tree"] > 0 for s in sizes)
    assert all(s["naive"]["status"] in {"ok", "timeout", "not attempted"} for s in sizes)
    assert data["cli"]["default"]["ok"], data["cli"]["default"]["error"]
    for m in data["plan"]["m_values"]:
        assert data["throughput"]["by_m"][str(m)]["symbp"]["images_per_s"] > 0
    assert data["bandwidth"]["images_per_s"] > 0
    assert "symbp" in data["memory"]["tracemalloc"] and "symbp" in data["memory"]["rss"]
    (example,) = data["architectures"]
    assert example["example"] == "two-blocks.toml" and example["parameters"] == 67
    assert example["agreement_rel"] <= 1e-9 and example["images_per_s"]["symbp"] > 0


def test_summary_lists_every_target_and_prints_tables(quick_run):
    done, data = quick_run
    targets = " ".join(row["target"] for row in data["summary"])
    for words in (
        "import sympy",
        "28x28",
        "exponent",
        "PyTorch float64",
        "hand-written",
        "25 us",
        "4x",
    ):
        assert words in targets
    for heading in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 7.", "== Summary"):
        assert heading in done.stdout


def test_busy_columns_and_ratios_for_every_implementation(quick_run):
    done, data = quick_run
    throughput = data["throughput"]
    busy = throughput["busy"]
    names = set(throughput["implementations"])
    assert busy["m"] == max(data["plan"]["m_values"])
    assert set(busy["busy_over_quiet"]) == names
    assert all(v > 0 for v in busy["busy_over_quiet"].values())
    assert set(busy["images_per_s"]["busy"]) == set(busy["images_per_s"]["quiet"]) == names
    quiet_table = throughput["by_m"][str(busy["m"])]
    assert quiet_table["symbp"]["images_per_s"] == busy["images_per_s"]["quiet"]["symbp"]
    if "torch64" in names:
        assert busy["torch_best_quiet"] in {"torch64", "torch64-2thr"}
        assert busy["symbp_vs_torch_best_busy"] > 0
    assert "busy/quiet" in done.stdout and "symbp busy/quiet" in done.stdout
    (example,) = data["architectures"]
    assert set(example["busy"]["busy_over_quiet"]) == set(example["images_per_s"])
    assert example["agreement_scaled"] <= 1e-9


def test_jax_column_present_or_says_not_installed(quick_run):
    done, data = quick_run
    names = data["throughput"]["implementations"]
    (example,) = data["architectures"]
    if data["machine"]["jax"]:
        assert "jax" in names and "jax" in example["images_per_s"]
        ties = data["agreement"]["ties"]
        assert ties["ok"] and ties["max_pools"] == 1 and ties["max_rel_error"] <= 1e-9
        assert example["ties"]["ok"]
    else:
        assert "jax" not in names and "not installed" in done.stdout


def test_without_jax_the_tables_say_not_installed(quick_run):
    import bench_architectures
    import bench_jax
    import bench_throughput

    _, data = quick_run
    throughput = copy.deepcopy(data["throughput"])
    throughput["implementations"].pop("jax", None)
    throughput["jax"] = bench_jax.NOT_INSTALLED
    for entry in throughput["by_m"].values():
        entry.pop("jax", None)
        entry["symbp_speedup"].pop("jax", None)
    busy = throughput["busy"]
    for table in (*busy["images_per_s"].values(), busy["busy_over_quiet"]):
        table.pop("jax", None)
    for key in ("symbp_speedup_quiet", "symbp_speedup_busy"):
        busy[key].pop("jax", None)
    text = bench_throughput.render(throughput)
    assert "jax: not installed" in text and "vs jax" not in text
    examples = copy.deepcopy(data["architectures"])
    for r in examples:
        r["ties"] = None
        r["images_per_s"].pop("jax", None)
        r["busy"]["busy_over_quiet"].pop("jax", None)
        for key in ("symbp_speedup_quiet", "symbp_speedup_busy"):
            r["busy"][key].pop("jax", None)
    assert "not installed" in bench_architectures.render(examples)


def test_bounds_stated_beside_the_rates(quick_run):
    done, data = quick_run
    compute = data["bandwidth"]["compute"]
    assert compute["best_flops_per_s"] > 0 and compute["images_per_s"] > 0
    assert compute["flops_per_image"]["total"] == 600  # default network: 2 * (144 + 4) * 2 + 8
    assert set(compute["fraction_of_bound"]) == set(data["throughput"]["implementations"])
    (example,) = data["architectures"]
    bounds = example["bounds"]
    assert bounds["compute_images_per_s"] > 0 and bounds["bandwidth_images_per_s"] > 0
    assert "compute bound" in done.stdout and "bandwidth bound" in done.stdout


def test_no_spinner_outlives_the_benchmark(quick_run):
    _, data = quick_run
    spinners = data["spinners"]
    assert spinners["started"] > 0 and spinners["alive_at_end"] == []
    parent = spinners["benchmark_pid"]
    assert [pid for pid in spinners["pids"] if bench_busy.alive(pid, parent)] == []
    assert bench_busy.strays(parent) == []


def test_spinner_stops_on_keyboard_interrupt_and_by_itself():
    with pytest.raises(KeyboardInterrupt), bench_busy.Spinner() as spinner:
        pid = spinner.process.pid
        assert bench_busy.alive(pid)
        if bench_busy.other_cpu() is not None:
            assert os.sched_getaffinity(pid) == {bench_busy.other_cpu()}
        raise KeyboardInterrupt
    assert not bench_busy.alive(pid)
    bounded = bench_busy.Spinner(seconds=0.3)
    bounded.__enter__()
    try:
        bounded.process.wait(timeout=10)  # the loop's own deadline ends it
    finally:
        bounded.__exit__(None, None, None)
    assert bounded.process.returncode == 0


def test_spinner_dies_with_a_killed_benchmark():
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); import bench_busy\n"
        "spinner = bench_busy.Spinner().__enter__()\n"
        "print(spinner.process.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(REPO / "benchmarks")], stdout=subprocess.PIPE, text=True
    )
    try:
        pid = int(parent.stdout.readline())
        assert bench_busy.alive(pid, parent.pid)
    finally:
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: only PR_SET_PDEATHSIG is left
        parent.wait(timeout=10)
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while bench_busy.alive(pid, parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bench_busy.alive(pid, parent.pid)
