"""Section 2: wall time of `symbp derive` as a user runs it, interpreter start and imports included.

The command is `python -m symbp` with this interpreter rather than the `symbp` console script:
the same program, without whatever wrapper (pyenv shim, venv launcher) sits in front of the
script on a given machine. The two commands are run alternately, round by round.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import bench_report as report

FULL_FORMATS = "tex,md,py"  # every format but pdf
FALLBACK_FORMATS = "tex,py"  # while Markdown output is not implemented or broken
TARGETS_S = {"default": 1.5, "28x28": 5.0}


def _command(formats: str, out: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "symbp", "derive", *extra, "--format", formats, "--out", str(out)]


def _run(command: list[str], timeout: float = 600.0) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
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


def run(rounds: int, include_large: bool, log: Any) -> dict[str, Any]:
    """Median wall seconds of each command over `rounds` alternating runs."""
    with tempfile.TemporaryDirectory(prefix="symbp-bench-cli-") as name:
        tmp = Path(name)
        formats, note, probe = choose_formats(tmp)
        commands = {"default": _command(formats, tmp / "default")}
        if include_large:
            commands["28x28"] = _command("py", tmp / "large", ("--input", "28x28"))
        runs: dict[str, list[dict[str, Any]]] = {key: [] for key in commands}
        for r in range(rounds):
            for key, command in commands.items():
                runs[key].append(_run(command))
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
            "target_s": TARGETS_S[key],
        }
    if not include_large:
        result["28x28"] = {"skipped": "quick run", "target_s": TARGETS_S["28x28"]}
    return result


def render(result: dict[str, Any]) -> str:
    rows = []
    for key in ("default", "28x28"):
        entry = result[key]
        target = f"<= {entry['target_s']:g} s"
        if "skipped" in entry:
            rows.append(["symbp derive --input 28x28 --format py", "skipped", "-", target])
            continue
        median_s = report.seconds(entry["median_s"]) if entry["ok"] else "FAILED"
        runs = " ".join(f"{s:.2f}" for s in entry["samples_s"])
        command = entry["command"].replace("python -m symbp", "symbp")
        rows.append([command, median_s, runs, target])
    lines = [
        report.table(
            ["command (run as python -m symbp ...)", "median", "runs (s)", "target"], rows
        ),
        f"wall time of a subprocess, interpreter start and imports included; median of "
        f"{result['rounds']}, the two commands alternating; one untimed warm-up run first",
    ]
    if result["note"]:
        lines.append(f"note: {result['note']}")
    for key in ("default", "28x28"):
        if result[key].get("error"):
            lines.append(f"error ({key}): {result[key]['error'].strip()}")
    return "\n".join(lines)
