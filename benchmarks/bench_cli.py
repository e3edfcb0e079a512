"""Section 2: wall time of `symbp derive` as a user runs it, interpreter start and imports included,
as a ratio to `python -c "import sympy"` timed in the same rounds (the machine's own yardstick:
these machines differ up to 3x, and a ratio of one run does not).

The command is `python -m symbp` with this interpreter rather than the `symbp` console script:
the same program, without whatever wrapper (pyenv shim, venv launcher) sits in front of the
script on a given machine. The commands are run alternately, round by round.

With `--baseline REV` the default command is also run from a checkout of an earlier commit
(a temporary `git worktree`, put first on PYTHONPATH), alternating with this one, and the
ratio of the medians is reported: a change's cost measured in one run, as the machines differ
up to 3x from one another. Alone: `python benchmarks/bench_cli.py --baseline 4c176f9`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

import bench_report as report

FULL_FORMATS = "tex,md,py"  # every format but pdf
FALLBACK_FORMATS = "tex,py"  # while Markdown output is not implemented or broken
# issue 17's goals, as multiples of `python -c "import sympy"` in the same run
TARGET_RATIOS = {"default": 4.0, "28x28": 12.0, "mnist-cnn": 25.0}
YARDSTICK = [sys.executable, "-c", "import sympy"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _command(formats: str, out: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "symbp", "derive", *extra, "--format", formats, "--out", str(out)]


REPOSITORY = Path(__file__).resolve().parent.parent


def _run(command: list[str], timeout: float = 600.0, tree: Path | None = None) -> dict[str, Any]:
    """One timed run; `tree`: a checkout whose symbp is imported instead of this one."""
    env = None
    if tree is not None:
        env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=tree
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "returncode": done.returncode, "stderr": done.stderr[-1000:]}


def _markdown_missing(result: dict[str, Any]) -> bool:
    return result["returncode"] != 0 and "markdown" in result["stderr"].lower()


def choose_formats(tmp: Path) -> tuple[str, str | None, dict[str, Any]]:
    """Formats for the default-network command; the probe run is a warm-up, not a sample."""
    probe = _run(_command(FULL_FORMATS, tmp / "probe"))
    if _markdown_missing(probe):
        note = (
            f"--format {FULL_FORMATS} fails on the Markdown output ("
            f"{probe['stderr'].strip().splitlines()[-1]}); timed --format {FALLBACK_FORMATS}"
        )
        return FALLBACK_FORMATS, note, probe
    return FULL_FORMATS, None, probe


@contextlib.contextmanager
def checkout(revision: str | None, tmp: Path) -> Iterator[Path | None]:
    """A detached worktree of `revision` under `tmp`, removed afterwards (None: no baseline)."""
    if revision is None:
        yield None
        return
    tree = tmp / "baseline"
    git = ["git", "-C", str(REPOSITORY)]
    subprocess.run(
        [*git, "worktree", "add", "--detach", str(tree), revision], check=True, capture_output=True
    )
    try:
        yield tree
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], capture_output=True)


def run(rounds: int, include_large: bool, log: Any, baseline: str | None = None) -> dict[str, Any]:
    """Median wall seconds of each command over `rounds` alternating runs."""
    with tempfile.TemporaryDirectory(prefix="symbp-bench-cli-") as name:
        tmp = Path(name)
        formats, note, probe = choose_formats(tmp)
        commands = {"import sympy": YARDSTICK, "default": _command(formats, tmp / "default")}
        trees: dict[str, Path | None] = {"default": None}
        with checkout(baseline, tmp) as tree:
            if tree is not None:
                commands["baseline"] = _command(formats, tmp / "baseline-out")
                trees["baseline"] = tree
                _run(commands["baseline"], tree=tree)  # its warm-up
            if include_large:
                commands["28x28"] = _command("py", tmp / "large", ("--input", "28x28"))
                mnist = ("--config", str(EXAMPLES / "mnist-cnn.toml"))
                commands["mnist-cnn"] = _command("py", tmp / "mnist-cnn", mnist)
            runs: dict[str, list[dict[str, Any]]] = {key: [] for key in commands}
            for r in range(rounds):
                for key, command in commands.items():
                    runs[key].append(_run(command, tree=trees.get(key)))
                log(f"  CLI round {r + 1}/{rounds} done")
    result: dict[str, Any] = {"formats": formats, "note": note, "rounds": rounds, "probe": probe}
    for key, command in commands.items():
        failed = [run for run in runs[key] if run["returncode"] != 0]
        result[key] = {
            "command": " ".join(["python", *command[1:]]).replace(str(tmp), "TMP"),
            "median_s": median(run["seconds"] for run in runs[key]),
            "samples_s": [run["seconds"] for run in runs[key]],
            "ok": not failed,
            "error": failed[0]["stderr"] if failed else None,
            "target_ratio": TARGET_RATIOS.get(key),
        }
    yardstick = result["import sympy"]["median_s"]
    for key in commands:
        result[key]["ratio_to_import_sympy"] = result[key]["median_s"] / yardstick
    if baseline is not None:
        result["baseline"]["revision"] = baseline
        result["ratio_to_baseline"] = result["default"]["median_s"] / result["baseline"]["median_s"]
    if not include_large:
        for key in ("28x28", "mnist-cnn"):
            result[key] = {"skipped": "quick run", "target_ratio": TARGET_RATIOS[key]}
    return result


def render(result: dict[str, Any]) -> str:
    rows = []
    for key in ("import sympy", "default", "baseline", "28x28", "mnist-cnn"):
        if key not in result:
            continue
        entry = result[key]
        target = f"<= {entry['target_ratio']:g}x" if entry.get("target_ratio") else "-"
        if "skipped" in entry:
            rows.append([key, "skipped", "-", "-", target])
            continue
        median_s = report.seconds(entry["median_s"]) if entry["ok"] else "FAILED"
        runs = " ".join(f"{s:.2f}" for s in entry["samples_s"])
        command = entry["command"].replace("python -m symbp", "symbp")
        if key == "baseline":
            command += f"  (at {entry['revision']})"
        ratio = f"{entry['ratio_to_import_sympy']:.1f}x"
        rows.append([command, median_s, runs, ratio, target])
    headers = ["command (run as python -m symbp ...)", "median", "runs (s)", "/ import sympy"]
    lines = [
        report.table([*headers, "target"], rows),
        f"wall time of a subprocess, interpreter start and imports included; median of "
        f"{result['rounds']}, the commands alternating round by round; one untimed warm-up run "
        'first; the ratio is to `python -c "import sympy"` in the same rounds',
    ]
    if "ratio_to_baseline" in result:
        lines.append(
            f"this checkout / {result['baseline']['revision']}: "
            f"{result['ratio_to_baseline']:.3f}x (medians of the same run)"
        )
    if result["note"]:
        lines.append(f"note: {result['note']}")
    for key in ("default", "baseline", "28x28", "mnist-cnn"):
        if key in result and result[key].get("error"):
            lines.append(f"error ({key}): {result[key]['error'].strip()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="symbp derive's wall time, against a baseline")
    parser.add_argument("--baseline", metavar="REV", default=None, help="an earlier commit")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--large", action="store_true", help="also --input 28x28 and mnist-cnn, --format py"
    )
    args = parser.parse_args()
    result = run(args.rounds, args.large, lambda text: print(text, file=sys.stderr), args.baseline)
    print(render(result))


if __name__ == "__main__":
    main()
