"""The exercises and their answers: every answer checked against an independent reference.

The reference is computed here: PyTorch's autograd through `torch.nn.functional` for the
worked example's gradients, zero patterns and pool routing; PyTorch's own output sizes and
`unfold` for the "what if" stride and padding exercises; and a hand-written shape walk for
whether the changed network still fits. Each check is shown to fail on a deliberately wrong
answer, and the printed answers are the checked ones (LaTeX and Markdown), and the default
document compiles with no overfull box.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
from latex_tools import compile_tex, require_tex_tools

from symbp.document.build import render_document, render_markdown
from symbp.document.context import Context
from symbp.document.decimals import fmt
from symbp.document.section_exercises import Exercise, exercises_section
from symbp.proofs import prove_all
from symbp.reference.example import worked_example
from symbp.spec.config import load_config
from symbp.spec.model import ConvBlock, NetworkSpec
from symbp.symbolic.derivation import derive

torch = pytest.importorskip("torch")
tf = torch.nn.functional

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": NetworkSpec(),
    "two-blocks": load_config(EXAMPLES / "two-blocks.toml"),
    "rgb-strided": load_config(EXAMPLES / "rgb-strided.toml"),
}
MORE = {  # only counted: how many exercises a spec gets
    # A tied max-pool window whose two maxima differ by one ulp in the engine and in PyTorch:
    # they route it differently, so its δX is no reference for the other (see the report).
    "overlapping-pool": load_config(EXAMPLES / "overlapping-pool.toml"),
    "sigmoid-nopool": NetworkSpec(input_shape=(6, 6), activation="sigmoid", pool_type="none"),
    "one-by-one": NetworkSpec(input_shape=(4, 4), filter_shape=(1, 1), filters=2),
    "tanh-avg": NetworkSpec(input_shape=(6, 6), activation="tanh", pool_type="avg"),
}


@pytest.fixture(scope="module")
def built():
    """name -> (derivation, exercises by key), each derived once, on demand."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            spec = {**SPECS, **MORE}[name]
            d = derive(spec)
            cache[name] = (d, {e.key: e for e in exercises_section(Context.of(d))["all"]})
        return cache[name]

    return get


# ------------------------------------------------------------------ the independent reference
def _activation(block: ConvBlock, z):
    return {
        "relu": tf.relu,
        "leaky_relu": lambda v: tf.leaky_relu(v, block.leaky_slope),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "identity": lambda v: v,
    }[block.activation](z)


def torch_example(spec: NetworkSpec) -> dict:
    """The worked example's image and parameters through PyTorch, with every gradient."""
    ex = worked_example(spec)
    h, w = spec.input_shape
    x = torch.tensor(ex["X"], dtype=torch.float64).reshape(1, spec.channels, h, w)
    x.requires_grad_(True)
    params = {
        k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
        for k, v in ex["params"].items()
    }
    kept: dict = {}
    out = x
    for n, g in enumerate(spec.geometry, start=1):
        b = g.block
        weight = params[f"W{n}"].reshape(g.conv[0], g.input[0], *b.filter_shape)
        bias = params[f"B{n}"].reshape(g.conv[0])
        z = tf.conv2d(out, weight, bias, stride=b.stride, padding=b.padding)
        a = _activation(b, z)
        if b.pool_type == "max":
            p, indices = tf.max_pool2d(a, b.pool_size, b.pool_step, return_indices=True)
            kept[f"indices{n}"] = indices
        elif b.pool_type == "avg":
            p = tf.avg_pool2d(a, b.pool_size, b.pool_step)
        else:
            p = a
        for name, t in ((f"Z{n}", z), (f"A{n}", a), (f"P{n}", p)):
            t.retain_grad()
            kept[name] = t
        out = p
    dense = spec.n_blocks + 1
    logit = out.reshape(-1) @ params[f"W{dense}"][:, 0] + params[f"B{dense}"]
    y = torch.tensor(ex["Y"], dtype=torch.float64)
    tf.binary_cross_entropy_with_logits(logit, y).backward()
    grads = {k: v.grad.numpy().reshape(np.shape(ex["params"][k])) for k, v in params.items()}
    inter = {k: v.grad.numpy()[0] for k, v in kept.items() if not k.startswith("indices")}
    return {
        "dX": x.grad.numpy()[0],
        "grads": grads,
        "inter": inter,
        "forward": {k: v.detach().numpy()[0] for k, v in kept.items() if k[0] in "ZAP"},
        "indices": {k: v.numpy()[0] for k, v in kept.items() if k.startswith("indices")},
    }


def _squeezed(array: np.ndarray) -> np.ndarray:
    return array[0] if array.ndim == 3 and array.shape[0] == 1 else array


def fits(spec: NetworkSpec, blocks: tuple[ConvBlock, ...]) -> tuple[int, int, int] | None:
    """The last block's output (channels, rows, cols) by hand, or None where one no longer
    fits (filter past the padded input, pool windows not covering the conv output exactly)."""
    c, (h, w) = spec.channels, spec.input_shape
    for b in blocks:
        (kh, kw), s, p = b.filter_shape, b.stride, b.padding
        if p >= min(kh, kw) or kh > h + 2 * p or kw > w + 2 * p:
            return None
        h, w = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        if b.pooled:
            r, t = b.pool_size, b.pool_step
            if r > min(h, w) or (h - r) % t or (w - r) % t:
                return None
            h, w = (h - r) // t + 1, (w - r) // t + 1
        c = b.filters
    return c, h, w


def _parameters(spec: NetworkSpec, blocks: tuple[ConvBlock, ...]) -> int:
    count, c = 0, spec.channels
    for b in blocks:
        count += b.filters * c * math.prod(b.filter_shape) + b.filters
        c = b.filters
    out = fits(spec, blocks)
    assert out is not None
    return count + math.prod(out) + 1


def _conv_out(spec: NetworkSpec, block: ConvBlock) -> tuple[int, ...]:
    """Block 1's conv output as PyTorch computes it."""
    h, w = spec.input_shape
    x = torch.zeros(1, spec.channels, h, w, dtype=torch.float64)
    weight = torch.zeros(block.filters, spec.channels, *block.filter_shape, dtype=torch.float64)
    z = tf.conv2d(x, weight, stride=block.stride, padding=block.padding)
    return tuple(z.shape[1:]) if block.filters > 1 else tuple(z.shape[2:])


def _unread(spec: NetworkSpec, block: ConvBlock) -> tuple[int, int]:
    """Trailing input rows and columns no window reads: zero gradient of the sum of Z."""
    h, w = spec.input_shape
    x = torch.ones(1, 1, h, w, dtype=torch.float64, requires_grad=True)
    weight = torch.ones(1, 1, *block.filter_shape, dtype=torch.float64)
    tf.conv2d(x, weight, stride=block.stride, padding=block.padding).sum().backward()
    g = x.grad.numpy()[0, 0]
    rows = next((k for k in range(h) if g[h - 1 - k].any()), h)
    cols = next((k for k in range(w) if g[:, w - 1 - k].any()), w)
    return rows, cols


def _padding_products(spec: NetworkSpec, block: ConvBlock) -> tuple[int, int]:
    """(products in δw_{0,...,0}, those meeting padding): the first tap's row of unfold."""
    h, w = spec.input_shape
    ones = torch.ones(1, 1, h, w, dtype=torch.float64)
    cols = tf.unfold(ones, block.filter_shape, padding=block.padding, stride=block.stride)
    first = cols[0, 0].numpy()
    return first.size, int(np.count_nonzero(first == 0))


def _dx_terms(spec: NetworkSpec, index: tuple[int, ...]) -> int:
    """How many (filter, window, tap) read input element `index`: a hand-written loop."""
    g = spec.geometry[0]
    (kh, kw), s, p = g.block.filter_shape, g.block.stride, g.block.padding
    r, c = index[-2:]
    _, oh, ow = g.conv
    rows = sum(1 for i in range(oh) for a in range(kh) if i * s + a - p == r)
    cols = sum(1 for j in range(ow) for b in range(kw) if j * s + b - p == c)
    return g.conv[0] * rows * cols


def check(e: Exercise, spec: NetworkSpec, ref: dict) -> list[str]:
    """What in exercise `e`'s answer disagrees with the reference (empty: all agree)."""
    a, wrong = e.answer, []

    def agree(what: str, got, expected) -> None:
        same = (
            abs(got - expected) <= 1e-9 * max(1.0, abs(expected))
            if isinstance(expected, float)
            else got == expected
        )
        if not same:
            wrong.append(f"{e.key}.{what}: {got!r} != {expected!r}")

    block = spec.blocks[0]
    if e.key == "dx":
        agree("value", a["value"], float(_squeezed(ref["dX"])[a["index"]]))
        agree("terms", a["terms"], _dx_terms(spec, a["index"]))
    elif e.key == "zeros":
        dz = _squeezed(ref["inter"]["Z1"])
        agree("dz_nonzero", a["dz_nonzero"], tuple(zip(*np.nonzero(dz), strict=True)))
        for w, zeros in a["zero_weights"].items():
            expected = tuple(zip(*np.nonzero(ref["grads"][w] == 0), strict=True))
            agree(f"zero {w}", zeros, expected)
    elif e.key == "pool":
        if a["kind"] == "max":
            flat = int(ref["indices"]["indices1"][0, 0, 0])
            ow = ref["forward"]["A1"].shape[-1]
            lead = (0,) if block.filters > 1 else ()
            agree("winner", a["winner"], (*lead, *divmod(flat, ow)))
            agree("value", a["value"], float(ref["inter"]["P1"][0, 0, 0]))
        else:
            agree("share", a["share"], 1.0 / block.pool_size**2)
            agree("value", a["value"], float(ref["inter"]["A1"][0, 0, 0]))
    elif e.key == "bias":
        agree("value", a["value"], float(np.asarray(ref["grads"]["B1"])[a["index"]]))
    elif e.key == "dense":
        dense = ref["grads"][f"W{spec.n_blocks + 1}"][:, 0]
        size = np.abs(dense)
        largest = [int(k) for k in np.flatnonzero(size >= size.max() - 1e-12)]
        agree("index", a["index"], (largest[0], 0))
        agree("tied", a["tied"], tuple(largest[1:]))
        agree("value", a["value"], float(dense[largest[0]]))
    elif e.key in ("stride", "padding"):
        changed = dataclasses.replace(block, **{e.key: e.shown["new"]})
        blocks = (changed, *spec.blocks[1:])
        agree("conv", a["conv"], _conv_out(spec, changed))
        agree("fits", a["fits"], fits(spec, blocks) is not None)
        if e.key == "stride":
            agree("unread", a["unread"], _unread(spec, changed))
            if a["fits"]:
                agree("parameters", a["parameters"], _parameters(spec, blocks))
                out = fits(spec, (changed,))
                assert out is not None
                agree("output", a["output"], out[1:] if out[0] == 1 else out)
        else:
            terms, hits = _padding_products(spec, changed)
            agree("terms", a["terms"], terms)
            agree("hits", a["hits"], hits)
            agree("weight", a["weight"], spec.parameter_shapes["W1"])
    else:
        wrong.append(f"no check for exercise {e.key}")
    return wrong


# ------------------------------------------------------------------ the answers are right
@pytest.mark.parametrize("name", SPECS)
def test_every_answer_agrees_with_pytorch_and_hand_loops(built, name):
    d, exercises = built(name)
    ref = torch_example(d.spec)
    for e in exercises.values():
        assert check(e, d.spec, ref) == [], e.key


@pytest.mark.parametrize("name", [*SPECS, *MORE])
def test_five_to_eight_exercises_for_every_spec(built, name):
    _, exercises = built(name)
    assert 5 <= len(exercises) <= 8, list(exercises)
    assert {"dx", "zeros", "bias", "dense"} <= set(exercises)


def test_the_what_if_answers_see_the_changed_spec(built):
    """The default network at stride 2 and padding 1, by hand; two-blocks at stride 2 refused."""
    _, ex = built("default")
    assert ex["stride"].answer == {
        "conv": (2, 2),
        "fits": True,
        "output": (1, 1),
        "parameters": 12,
        "unread": (1, 1),
    }
    assert ex["padding"].answer["conv"] == (6, 6) and ex["padding"].answer["hits"] == 11
    _, two = built("two-blocks")
    assert "stride" not in two  # no other stride of block 1 leaves block 2 a network that fits


@pytest.mark.parametrize("name", [*SPECS, *MORE])
def test_every_what_if_exercise_is_about_a_network_symbp_accepts(built, name):
    """Issue 13: exercises asked about a stride or padding the spec refuses. Each what-if
    network is built here with symbp.spec.model and must validate."""
    d, exercises = built(name)
    spec = d.spec
    for key in ("stride", "padding"):
        if key not in exercises:
            continue
        e = exercises[key]
        block = dataclasses.replace(spec.blocks[0], **{key: e.shown["new"]})
        changed = NetworkSpec(
            input_shape=spec.input_shape, channels=spec.channels, blocks=(block, *spec.blocks[1:])
        )
        assert e.shown["new"] != e.shown["old"] and e.answer["fits"] is True, (name, key)
        assert changed.blocks[0].conv_output(*spec.input_shape) == e.answer["conv"][-2:]


def test_the_padding_exercise_agrees_with_the_derivation_of_the_padded_network(built):
    """The derivation of the padded default network keeps exactly the products that do not
    meet the padding (padding zeros drop out of its sums)."""
    _, ex = built("default")
    padded = derive(NetworkSpec(padding=ex["padding"].shown["new"]))
    assert len(padded.gradients["W1"][0, 0].args) == ex["padding"].answer["kept"]


WRONG = {
    "dx": lambda a: a | {"value": a["value"] + 1e-3},
    "zeros": lambda a: a | {"dz_nonzero": a["dz_nonzero"][1:]},
    "pool": lambda a: a | ({"winner": (0, 0)} if a["kind"] == "max" else {"share": 0.5}),
    "bias": lambda a: a | {"value": -a["value"]},
    "dense": lambda a: a | {"index": (a["index"][0] + 1, 0)},
    "stride": lambda a: a | {"conv": tuple(-(-(n * 3) // 2) for n in a["conv"])},
    "padding": lambda a: a | {"hits": a["hits"] + 1},
}


@pytest.mark.parametrize("name", ["default", "rgb-strided"])
def test_a_wrong_answer_is_caught(built, name):
    """Break each answer on purpose: the check must report it."""
    d, exercises = built(name)
    ref = torch_example(d.spec)
    for key, e in exercises.items():
        broken = dataclasses.replace(e, answer=WRONG[key](dict(e.answer)))
        assert check(broken, d.spec, ref), key


def test_a_wrong_convention_in_the_reference_is_caught(built):
    """A reference with last-maximum routing (not PyTorch's first) disagrees somewhere."""
    d, ex = built("default")
    ref = torch_example(d.spec)
    a1 = ref["forward"]["A1"][0]
    window = a1[:2, :2].reshape(-1)
    last = len(window) - 1 - int(np.argmax(window[::-1]))
    flat = last // 2 * a1.shape[-1] + last % 2
    forged = dict(ref, indices={"indices1": np.full((1, 1, 1), flat)})
    if last != int(np.argmax(window)):
        assert check(ex["pool"], d.spec, forged)
    wrong_dx = dict(ref, dX=-ref["dX"])  # the gradient's sign flipped
    assert check(ex["dx"], d.spec, wrong_dx)


# ------------------------------------------------------------------ the document prints them
def _answers(text: str, start: str) -> str:
    return text[text.index(start) :]


@pytest.mark.parametrize("name", ["default", "two-blocks"])
def test_the_documents_print_the_checked_answers(built, name):
    d, exercises = built(name)
    proofs = prove_all(d)
    tex, md = render_document(d, proofs, "T"), render_markdown(d, proofs, "T")
    answers_tex = _answers(tex, r"\section{Answers to the exercises}")
    answers_md = _answers(md, "## Appendix: Answers to the exercises")
    exercise_tex = tex[tex.index(r"\section{Exercises}") : tex.index(r"\section{What the")]
    answers_tex = answers_tex[: answers_tex.index(r"\end{enumerate}")]
    assert exercise_tex.count(r"\item") == len(exercises)
    assert answers_tex.count(r"\item") == len(exercises)
    assert r"\section{Exercises}" in tex.split(r"\section{What the derivation proves}")[0]
    for text in (answers_tex, answers_md):
        for key in ("dx", "bias", "dense"):
            assert fmt(exercises[key].answer["value"]) in text, key
        if "stride" in exercises:
            a = exercises["stride"].answer
            assert r" \times ".join(map(str, a["conv"])) in text
    for line in answers_tex.splitlines() + exercise_tex.splitlines():  # no ASCII math
        for ascii_math in ("**", "_0_", "sigma(", "Piecewise", "dL/d"):
            assert ascii_math not in line, line
    assert md.count("```") % 2 == 0
    assert re.search(r"\n\d+\. \*\*One element of", md)


def test_the_default_document_compiles_with_no_overfull_box(built, tmp_path):
    require_tex_tools()
    d, exercises = built("default")
    log, text = compile_tex(render_document(d, prove_all(d), "T"), tmp_path)
    assert len(re.findall(r"^Overfull \\[hv]box", log, re.M)) == 0
    assert "undefined references" not in log
    flat = " ".join(text.replace("\u2212", "-").split())
    assert "Exercises" in flat and "Answers to the exercises" in flat
    assert fmt(exercises["dx"].answer["value"]) in flat
    assert "??" not in flat
