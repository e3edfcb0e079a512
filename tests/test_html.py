"""`symbp derive --format html`: one self-contained page, its math as MathML, its interaction
data equal to an independent computation (no browser here; tests/test_browser.py drives one)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("markdown_it")
pytest.importorskip("latex2mathml")

from html_pages import expected_cells, page, spec_for  # noqa: E402

from symbp.reference.example import worked_example  # noqa: E402

SPECS = ["default", "general"]
DATA = re.compile(r'<script type="application/json" id="symbp-data">(.*?)</script>', re.DOTALL)


def data_of(text: str) -> dict:
    match = DATA.search(text)
    assert match is not None
    return json.loads(match[1])


def visible_text(text: str) -> str:
    """The page's text outside <script>, <style> and MathML annotations, tags removed."""
    text = re.sub(r"<(script|style|annotation)\b.*?</\1>", " ", text, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_same_input_same_bytes_across_hash_seeds():
    code = (
        "import sys; sys.path.insert(0, 'tests'); import hashlib, html_pages; "
        "print(hashlib.sha256(html_pages.page('default').encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "12345")
    }
    assert len(digests) == 1
    assert page("default") == page("default")


@pytest.mark.parametrize("name", SPECS)
def test_self_contained(name):
    text = page(name)
    links = re.findall(r"""\b(?:src|href|xlink:href|action)\s*=\s*["']?([^"' >]+)""", text)
    assert links == []
    assert not re.search(r"https?://", text.replace("http://www.w3.org/1998/Math/MathML", ""))
    assert "@import" not in text and "url(" not in text
    assert text.count("<script") == 2 and text.count("<style") == 1


@pytest.mark.parametrize("name", SPECS)
def test_every_math_span_converted(name):
    text = page(name)
    assert text.count("<math") > 400
    shown = visible_text(text)
    for leftover in (r"\frac", r"\delta", r"\partial", r"\sum", r"\begin", "$`", "```math", "$$"):
        assert leftover not in shown, leftover
    assert not re.search(r"\\[A-Za-z]+", shown), re.search(r".{40}\\[A-Za-z]+.{40}", shown)
    # no error element, no alignment mark or row space shown as a symbol, no line break
    # MathML Core does not lay out (latex2mathml writes these for environments it lacks)
    assert "<merror" not in text
    assert "<mi>&</mi>" not in text and "<mi>&amp;</mi>" not in text
    assert not re.search(r"<mn>\d+(pt|em|ex|mm)</mn>", text)
    assert 'linebreak="newline"' not in text


@pytest.mark.parametrize("name", SPECS)
def test_index_sets_equal_independent_loop(name):
    spec = spec_for(name)
    data = data_of(page(name))
    want = expected_cells(spec)
    got = {
        e["key"]: {key for product in e["products"] for key in product[:2]}
        for e in [*data["weights"], *data["inputs"]]
    }
    assert got == want
    g = spec.geometry[0]
    assert len(data["weights"]) == g.conv[0] * g.input[0] * 9
    assert len(data["inputs"]) == int(np.prod(g.input))


@pytest.mark.parametrize("name", SPECS)
def test_products_add_up_to_the_engines_gradient(name):
    spec = spec_for(name)
    data = data_of(page(name))
    example = worked_example(spec)
    g = spec.geometry[0]
    (kh, kw), channels, filters = g.block.filter_shape, g.input[0], g.conv[0]
    dw = example["gradients"]["W1"].reshape(filters, channels, kh, kw)
    dx = example["input_gradient"].reshape(g.input)
    for e, array in [*((e, dw) for e in data["weights"]), *((e, dx) for e in data["inputs"])]:
        total = sum(a * b for _, _, a, b, _ in e["products"])
        assert total == pytest.approx(array[tuple(e["index"])], abs=1e-12)
        assert e["total_shown"] == f"{array[tuple(e['index'])]:.4f}".replace("-0.0000", "0.0000")


def test_pool_winner_is_first_maximum():
    spec = spec_for("default")
    data = data_of(page("default"))
    a1 = worked_example(spec)["forward"]["A1"]
    windows = data["pool"]["windows"]
    assert len(windows) == 4
    for w in windows:
        _, a, b = map(int, w["key"].split(":")[1].split(","))
        block = a1[2 * a : 2 * a + 2, 2 * b : 2 * b + 2]
        r, c = np.unravel_index(int(np.argmax(block)), block.shape)  # first maximum
        assert w["winner"] == f"A1:0,{2 * a + r},{2 * b + c}"
        assert set(w["cells"]) == {f"A1:0,{2 * a + i},{2 * b + j}" for i in (0, 1) for j in (0, 1)}
        assert len(w["ties"]) == int((block == block.max()).sum())


def test_cells_carry_the_keys_of_the_data():
    """Every key the data lights up is a cell of the figure it belongs to."""
    text = page("general")
    keys = set(re.findall(r'data-key="([^"]+)"', text))
    data = data_of(text)
    for e in data["weights"]:
        assert {k for p in e["products"] for k in p[:2]} <= keys
        assert e["key"] in keys
    for e in data["inputs"]:
        assert {p[0] for p in e["products"]} <= keys and e["key"] in keys


def test_missing_extra_is_usage_error(tmp_path):
    code = (
        "import sys; sys.modules['latex2mathml'] = None; sys.modules['markdown_it'] = None\n"
        "from symbp.cli import main\n"
        f"sys.exit(main(['derive', '--format', 'html', '--out', {str(tmp_path / 'o')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "symbp[html]" in result.stderr
    assert not (tmp_path / "o" / "cnn_backprop.html").exists()


def test_derive_writes_the_page_alone(tmp_path, capsys):
    from symbp.cli import main

    assert main(["derive", "--format", "html", "--out", str(tmp_path), "--quiet"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["cnn_backprop.html"]
    text = (tmp_path / "cnn_backprop.html").read_text(encoding="utf-8")
    assert data_of(text) == data_of(page("default"))
    assert "html" in capsys.readouterr().out


LEGEND = re.compile(r'<p class="legend">(.*?)</p>', re.DOTALL)


@pytest.mark.parametrize(
    "name, padded, strided", [("default", False, False), ("general", True, True)]
)
def test_legends_describe_only_what_this_network_does(name, padded, strided):
    """No "ring cropped away" without padding, no dilation at stride 1 (both were once said
    of every network); with them, the ring is named for what it holds."""
    legends = " ".join(re.sub(r"\s+", " ", visible_text(m)) for m in LEGEND.findall(page(name)))
    assert ("zero padding shaded" in legends) == padded
    assert ("holds the gradient at the input's zero padding and is discarded" in legends) == padded
    assert ("dilated by the stride" in legends) == strided
    assert "spread" not in legends and "cropped away" not in legends
