"""Compiling a document in the tests: pdflatex twice, without shell escape, beside a secret file
that a hostile title must not manage to read; then pdftotext."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tex_tools() -> None:
    """Skip without pdflatex and pdftotext, except in CI, where their absence is a failure."""
    missing = [tool for tool in ("pdflatex", "pdftotext") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (texlive-latex-base, poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def compile_tex(tex: str, folder: Path, jobname: str = "doc") -> tuple[str, str]:
    """(the .log, the PDF's text) after pdflatex twice (references), -halt-on-error."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{jobname}.tex").write_text(tex)
    (folder / "secret.txt").write_text("THE SECRET FILE WAS READ\n")
    for _ in range(2):
        result = subprocess.run(
            [
                "pdflatex",
                "-halt-on-error",
                "-interaction=nonstopmode",
                "-no-shell-escape",
                f"{jobname}.tex",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stdout[-3000:]
    log = (folder / f"{jobname}.log").read_text(errors="replace")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(folder / f"{jobname}.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return log, text
