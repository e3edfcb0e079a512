"""Compiling the LaTeX document into a PDF, in memory, with a clear answer when TeX fails.

The .tex is compiled in a private temporary folder, so a failed or interrupted compile never
leaves auxiliary files or a half-written PDF in the output folder; the caller writes the PDF
bytes atomically. TeX runs without shell escape, without a terminal and with a time limit,
and with a fixed SOURCE_DATE_EPOCH so the same .tex gives the same PDF bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from symbp.support import progress

INSTALL_HINT = (
    "apt-get install texlive-latex-base texlive-latex-recommended texlive-pictures latexmk"
)
DEFAULT_TIMEOUT = 600.0  # seconds for the whole compile; a 28x28 document takes far less
PDFLATEX_MAX_RUNS = 4  # pdflatex without latexmk: twice for references, more if TeX asks

# Fixed dates and IDs: pdfTeX takes /CreationDate, /ModDate and the trailer /ID from these.
# max_print_line stops TeX wrapping the log at 79 characters, so messages parse whole.
_TEX_ENVIRONMENT = {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1", "max_print_line": "10000"}
_RERUN = re.compile(r"Rerun to get|Rerun LaTeX|Please rerun|Label\(s\) may have changed")


class LatexError(Exception):
    """TeX could not build the PDF. `first_error` is TeX's own first error (and its l.NN line)."""

    def __init__(self, first_error: str, engine: str) -> None:
        super().__init__(f"{engine} failed: {first_error}")
        self.first_error = first_error
        self.engine = engine


@dataclass(frozen=True)
class Engine:
    """A TeX engine found on PATH: latexmk (driving pdflatex) or pdflatex alone."""

    name: str  # 'latexmk' or 'pdflatex'
    path: str


@dataclass(frozen=True)
class LatexResult:
    """What a successful compile reports besides the PDF bytes."""

    engine: str
    seconds: float
    pages: int | None  # from the log's "Output written on ... (N pages"; None if absent
    runs: int = 1  # pdflatex passes (latexmk decides how many it needs)
    undefined_references: list[str] = field(default_factory=list)  # log warning lines
    overfull_boxes: int = 0


def find_engine() -> Engine | None:
    """latexmk if it and pdflatex are on PATH, else pdflatex, else None (not installed)."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        return None  # latexmk alone cannot build a PDF with -pdf
    latexmk = shutil.which("latexmk")
    if latexmk is not None:
        return Engine("latexmk", latexmk)
    return Engine("pdflatex", pdflatex)


def missing_engine_notice(target: str = "the PDF") -> str:
    """The one-line notice when no TeX engine is installed."""
    return (
        f"no TeX engine (latexmk or pdflatex) found, so {target} was not built; "
        f"install one with: {INSTALL_HINT}"
    )


def compile_pdf(
    tex: str,
    jobname: str = "cnn_backprop",
    timeout: float = DEFAULT_TIMEOUT,
    engine: Engine | None = None,
    files: Mapping[str, bytes] | None = None,
) -> tuple[bytes, LatexResult] | None:
    """Compile a LaTeX document to PDF bytes; None when no TeX engine is installed.

    `files` are put beside the source first (figures it includes: name -> bytes). Raises
    LatexError with TeX's first error line when the document does not compile or the compile
    exceeds `timeout` seconds.
    """
    engine = engine or find_engine()
    if engine is None:
        return None
    start = time.perf_counter()
    deadline = start + timeout
    with tempfile.TemporaryDirectory(prefix="symbp-tex-") as folder:
        work = Path(folder)
        (work / f"{jobname}.tex").write_text(tex, encoding="utf-8")
        for name, data in (files or {}).items():
            (work / Path(name).name).write_bytes(data)
        environment = {**os.environ, **_TEX_ENVIRONMENT}
        log_path = work / f"{jobname}.log"
        pdf_path = work / f"{jobname}.pdf"
        run = _latexmk if engine.name == "latexmk" else _pdflatex
        status, runs = run(engine, jobname, work, environment, (timeout, deadline))
        log = _read(log_path)
        error = first_error(log)
        # A TeX error always leaves a "!" line; a non-zero status with a PDF and no such line
        # is latexmk reporting a warning (some versions do so for undefined references).
        if error or not pdf_path.is_file():
            raise LatexError(error or f"exited with status {status} and no PDF", engine.name)
        pdf = pdf_path.read_bytes()
    return pdf, LatexResult(
        engine=engine.name,
        seconds=time.perf_counter() - start,
        pages=page_count(log),
        runs=runs,
        undefined_references=undefined_references(log),
        overfull_boxes=len(re.findall(r"^Overfull \\[hv]box", log, re.MULTILINE)),
    )


Limits = tuple[float, float]  # (timeout, deadline) of the whole compile


def _latexmk(
    engine: Engine, jobname: str, work: Path, environment: dict[str, str], limits: Limits
) -> tuple[int, int]:
    """latexmk runs pdflatex until the references settle: (exit status, passes)."""
    command = [
        engine.path,
        "-norc",  # ignore personal latexmkrc files: the same build everywhere
        "-pdf",
        "-halt-on-error",
        "-interaction=nonstopmode",
        "-no-shell-escape",
        f"{jobname}.tex",
    ]
    progress.step("PDF", 0, 0, "latexmk runs pdflatex until references settle")
    status = _run(command, work, environment, limits, engine.name)
    runs = len(re.findall(r"^Run number \d+ of rule '", _read(work / "engine.out"), re.M))
    return status, runs


def _pdflatex(
    engine: Engine, jobname: str, work: Path, environment: dict[str, str], limits: Limits
) -> tuple[int, int]:
    """pdflatex again while its log asks for a rerun (at most PDFLATEX_MAX_RUNS passes)."""
    command = [
        engine.path,
        "-halt-on-error",
        "-interaction=nonstopmode",
        "-no-shell-escape",
        f"{jobname}.tex",
    ]
    runs = 0
    while True:
        progress.step("PDF", 0, 0, f"pdflatex pass {runs + 1}")
        status = _run(command, work, environment, limits, engine.name)
        runs += 1
        if status != 0 or runs >= PDFLATEX_MAX_RUNS:
            return status, runs
        if runs >= 2 and not _RERUN.search(_read(work / f"{jobname}.log")):
            return status, runs


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def _run(
    command: list[str],
    cwd: Path,
    environment: dict[str, str],
    limit: tuple[float, float],
    name: str,
) -> int:
    """Run TeX without a terminal; on timeout or interrupt kill its whole process group.

    latexmk starts pdflatex as a child: killing only latexmk would leave pdflatex running.
    """
    timeout, deadline = limit
    stopped = f"did not finish within {timeout:g} s and was stopped"
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        raise LatexError(stopped, name)
    # Output goes to a file, not a pipe: a pipe left open by a killed child cannot block us.
    with open(cwd / "engine.out", "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return process.wait(timeout=remaining)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise LatexError(stopped, name) from None
    except BaseException:
        _kill_group(process)
        raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def first_error(log: str) -> str:
    """TeX's first error: the first log line starting with '!' and the 'l.NN' line after it."""
    lines = log.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("!"):
            message = line.strip()
            for follow in lines[number + 1 : number + 40]:
                if re.match(r"l\.\d+", follow):
                    return f"{message} {follow.strip()}"
            return message
    return ""


def page_count(log: str) -> int | None:
    """N from the log's 'Output written on NAME.pdf (N pages, ...)'."""
    match = re.search(r"Output written on .*?\((\d+) pages?", log)
    return int(match.group(1)) if match else None


def undefined_references(log: str) -> list[str]:
    """LaTeX's warnings about undefined references or citations, one line each."""
    return [
        line.strip()
        for line in log.splitlines()
        if re.match(r"LaTeX Warning: (Reference|Citation) .* undefined", line)
        or line.startswith("LaTeX Warning: There were undefined references")
    ]
