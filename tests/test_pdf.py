"""The PDF: compiled from the generated .tex by a real TeX engine, its text checked.

CI installs TeX and poppler (.ci/run) and sets CI, so there a missing tool is a failure; only
outside CI do these tests skip when pdflatex or pdftotext is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symbp.document.build
from symbp.cli import main
from symbp.document.pdf import (
    INSTALL_HINT,
    Engine,
    LatexError,
    compile_pdf,
    find_engine,
    first_error,
    page_count,
)

OUTPUTS = {"cnn_backprop.tex", "cnn_backprop.pdf"}


@pytest.fixture(scope="module")
def tex_tools() -> None:
    missing = [tool for tool in ("pdflatex", "pdftotext") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed; install with: {INSTALL_HINT} poppler-utils"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pdf_text(path: Path) -> str:
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def squeeze(text: str) -> str:
    """Text without whitespace, with TeX's minus sign as '-': robust to line and word breaks."""
    return re.sub(r"\s+", "", text.replace("\u2212", "-"))


def expected_counts(h: int, w: int, k: int) -> tuple[int, str]:
    """Parameters of conv (k x k, one bias) -> 2x2 pool -> dense(1), counted independently."""
    pooled = ((h - k + 1) // 2) * ((w - k + 1) // 2)
    sizes = [k * k, 1, pooled, 1]
    return sum(sizes), " + ".join(map(str, sizes))


@pytest.mark.parametrize(
    "size, kernel", [("6x6", "3x3"), ("8x8", "3x3"), ("10x10", "5x5")], ids=["6x6", "8x8", "10x10"]
)
def test_document_compiles_and_states_the_key_results(tex_tools, tmp_path, capsys, size, kernel):
    code, out, err = run(
        capsys,
        "derive",
        *("--input", size, "--filter", kernel, "--format", "tex,pdf", "--out", str(tmp_path)),
    )
    assert code == 0, err
    assert {p.name for p in tmp_path.iterdir()} == OUTPUTS
    assert "undefined" not in err  # the CLI warns about undefined references from the log
    match = re.search(r"^pdf: (\d+) pages", out, re.MULTILINE)
    assert match and int(match.group(1)) >= 1, out
    assert (tmp_path / "cnn_backprop.pdf").read_bytes().startswith(b"%PDF-")

    text = pdf_text(tmp_path / "cnn_backprop.pdf")
    flat = squeeze(text)
    h, w = map(int, size.split("x"))
    total, breakdown = expected_counts(h, w, int(kernel.split("x")[0]))
    assert squeeze(f"{total} = {breakdown}") in flat, (total, breakdown)
    assert f"{h}×{w}" in flat or f"{h}x{w}" in flat
    assert "cross-correlation" in text
    # BCE and sigmoid collapse to A2 - Y: as printed by SymPy, a^{(2)} - y.
    assert re.search(r"a[(\[]?2[)\]]?-y", flat), "A2 - Y not found"
    # The convolution patterns are stated as results.
    assert "cross-correlationofXwith" in flat
    assert "rotated" in text and "180" in text
    assert "FAILS" not in text and "??" not in text  # no failed proof, no undefined reference


def test_pdf_only_compiles_the_tex_in_memory(tex_tools, tmp_path, capsys):
    code, out, err = run(capsys, "derive", "--format", "pdf", "--out", str(tmp_path))
    assert code == 0, err
    assert {p.name for p in tmp_path.iterdir()} == {"cnn_backprop.pdf"}
    assert re.search(r"^wrote \S+cnn_backprop\.pdf in [\d.]+ s$", out, re.MULTILINE)


@pytest.fixture(scope="module")
def default_tex() -> str:
    from symbp.proofs import prove_all
    from symbp.symbolic.derivation import derive

    d = derive()
    return symbp.document.build.render_document(d, prove_all(d), "Backpropagation in a CNN")


def test_same_tex_gives_the_same_pdf_bytes(tex_tools, default_tex):
    tex = default_tex
    first, result = compile_pdf(tex)
    second, _ = compile_pdf(tex)
    assert first == second
    assert result.pages is not None and result.pages >= 1
    assert result.undefined_references == []


def test_pdflatex_alone_builds_the_same_document(tex_tools, default_tex):
    tex = default_tex
    by_latexmk = compile_pdf(tex)
    alone = compile_pdf(tex, engine=Engine("pdflatex", shutil.which("pdflatex")))
    assert alone is not None and alone[1].engine == "pdflatex" and alone[1].runs >= 2
    if by_latexmk is not None and by_latexmk[1].engine == "latexmk":
        assert alone[1].pages == by_latexmk[1].pages


def test_no_tex_engine_is_a_one_line_notice_not_a_failure(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert find_engine() is None
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "derive", "--format", "tex,pdf", "--out", str(out_dir))
    assert code == 0, err
    assert {p.name for p in out_dir.iterdir()} == {"cnn_backprop.tex"}
    assert len(err.strip().splitlines()) == 1
    assert "no TeX engine" in err and INSTALL_HINT in err
    assert re.search(r"^wrote \S+cnn_backprop\.tex in [\d.]+ s$", out, re.MULTILINE)


def test_tex_error_keeps_the_tex_shows_the_first_error_and_writes_no_pdf(
    tex_tools, tmp_path, capsys, monkeypatch
):
    real = symbp.document.build.render_document

    def broken(*args, **kwargs):
        return real(*args, **kwargs).replace(
            "\\begin{document}", "\\begin{document}\n\\undefinedmacro", 1
        )

    monkeypatch.setattr(symbp.document.build, "render_document", broken)
    code, out, err = run(capsys, "derive", "--format", "tex,pdf,py", "--out", str(tmp_path))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "! Undefined control sequence." in err
    line = re.search(r"l\.(\d+) \\undefinedmacro", err)
    assert line, err
    assert "cd " in err and "pdflatex -halt-on-error cnn_backprop.tex" in err
    # The .tex is kept (and the module written); no PDF, no temporary or auxiliary files.
    assert {p.name for p in tmp_path.iterdir()} == {"cnn_backprop.tex", "gradients.py"}
    tex = (tmp_path / "cnn_backprop.tex").read_text()
    assert tex.splitlines()[int(line.group(1)) - 1] == "\\undefinedmacro"

    # The command the message gives reproduces the error.
    copy = tmp_path.parent / "reproduce"
    copy.mkdir()
    shutil.copy(tmp_path / "cnn_backprop.tex", copy)
    result = subprocess.run(
        ["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "cnn_backprop.tex"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "Undefined control sequence" in result.stdout


def test_tex_error_without_tex_in_the_formats_still_keeps_the_tex(
    tex_tools, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(symbp.document.build, "render_document", lambda *a, **k: "\\nosuchmacro\n")
    code, _, err = run(capsys, "derive", "--format", "pdf", "--out", str(tmp_path))
    assert code == 1 and "Undefined control sequence" in err
    assert {p.name for p in tmp_path.iterdir()} == {"cnn_backprop.tex"}


def test_runaway_tex_is_stopped(tex_tools):
    tex = "\\documentclass{article}\\begin{document}\\loop\\iftrue\\repeat\\end{document}\n"
    with pytest.raises(LatexError, match="did not finish within 2 s"):
        compile_pdf(tex, timeout=2)


def test_log_parsing():
    log = (
        "This is pdfTeX\n! LaTeX Error: File `nope.sty' not found.\n\nType X to quit.\n"
        "Enter file name: \n! Emergency stop.\n<read *> \n\nl.5 \\usepackage\n"
    )
    assert first_error(log) == "! LaTeX Error: File `nope.sty' not found. l.5 \\usepackage"
    assert first_error("no errors here\n") == ""
    assert page_count("Output written on cnn_backprop.pdf (12 pages, 3456 bytes).") == 12
    assert page_count("Output written on x.pdf (1 page, 3456 bytes).") == 1
    assert page_count("No pages of output.") is None


def test_committed_pdf_is_the_committed_tex_compiled(tex_tools, tmp_path):
    """output/cnn_backprop.pdf is not stale: it reads the same as output/cnn_backprop.tex built now.

    (Compared as text, since PDF bytes may differ between TeX Live versions.)
    """
    output = Path(__file__).resolve().parent.parent / "output"
    compiled = compile_pdf((output / "cnn_backprop.tex").read_text(encoding="utf-8"))
    assert compiled is not None
    fresh = tmp_path / "fresh.pdf"
    fresh.write_bytes(compiled[0])
    assert pdf_text(fresh) == pdf_text(output / "cnn_backprop.pdf")
