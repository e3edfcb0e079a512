"""The array-level module (issue 17): every stage as array code, licensed by a proof.

For the default network, every shipped example and every spec of the architecture matrix, its
loss, gradients and dL/dX equal the element-wise module (the reference) and the numeric engine:
to rounding on random data, and exactly in their zero patterns (ReLU masks, pool routes) on the
crafted integer cases full of ties and exact zeros. A convention broken on purpose in the array
code (ties to the last maximum, ReLU'(0) = 1) is caught; a stage whose proof did not hold is
not emitted; the header names every stage's proof.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from architectures import (
    ARCHITECTURE_SPECS,
    integer_case,
    max_pool_ties,
    random_case,
)

from symbp.codegen.array_stages import UnlicensedStage, licences
from symbp.codegen.module import generate_source, load
from symbp.proofs import prove_all
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import same_zero_pattern, scaled_errors
from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = {
    "default": NetworkSpec(),
    **{f"example-{p.stem}": load_config(p) for p in sorted(EXAMPLES.glob("*.toml"))},
    **{f"matrix-{name}": spec for name, spec in ARCHITECTURE_SPECS.items()},
}
ROUNDING = 1e-12  # scaled error: the two summation orders differ by a few ulp


@dataclass(frozen=True)
class Built:
    derivation: object
    proofs: list
    array: types.ModuleType
    elementwise: types.ModuleType
    source: str


@functools.cache
def built(name: str) -> Built:
    d = derive(SPECS[name])
    proofs = prove_all(d, full_composition=False)
    source = generate_source(d, stages="array", proofs=proofs)
    return Built(d, proofs, load(d, "array", proofs), load(d), source)


def answers(module, X, Y, params) -> dict[str, np.ndarray]:
    separate = {**module.gradients(X, Y, params), "X": module.input_gradient(X, Y, params)}
    both = module.gradients_with_input(X, Y, params)  # one pass per block: the same bits
    assert both.keys() == separate.keys()
    assert all(np.array_equal(both[k], separate[k]) for k in both), "one pass != two calls"
    return {
        **separate,
        "loss": np.array(module.loss(X, Y, params)),
        "predict": module.predict(X, params),
    }


def engine_answers(spec, X, Y, params) -> dict[str, np.ndarray]:
    net = NumericNetwork(spec)
    return {
        **net.gradients(X, Y, params),
        "X": net.input_gradient(X, Y, params),
        "loss": np.array(net.loss(X, Y, params)),
        "predict": net.forward(X, params)[f"A{spec.n_blocks + 1}"],
    }


def worst(a, b) -> float:
    errors = scaled_errors(a, b, {name: 1e-300 for name in b})
    return max(err for _, err in errors.values())


@pytest.mark.parametrize("name", list(SPECS))
def test_array_module_equals_elementwise_and_engine_on_random_data(name):
    spec, b = SPECS[name], built(name)
    X, Y, params = random_case(spec, seed=7, m=37)  # more than one block for the small nets
    got = answers(b.array, X, Y, params)
    assert worst(got, answers(b.elementwise, X, Y, params)) <= ROUNDING
    assert worst(got, engine_answers(spec, X, Y, params)) <= ROUNDING


@pytest.mark.parametrize("name", list(SPECS))
def test_array_module_is_exact_on_ties_and_zeros(name):
    spec, b = SPECS[name], built(name)
    X, Y, params = integer_case(spec, seed=3, m=9)
    got = answers(b.array, X, Y, params)
    reference = answers(b.elementwise, X, Y, params)
    assert same_zero_pattern(got, reference)
    assert same_zero_pattern(got, engine_answers(spec, X, Y, params))
    assert worst(got, reference) <= ROUNDING
    if any(block.pool_type == "max" and block.pool_size > 1 for block in spec.blocks):
        values = NumericNetwork(spec).forward(X, params)
        assert max_pool_ties(spec, values) > 0, "the crafted case must tie"


def _exec(source: str) -> types.ModuleType:
    module = types.ModuleType("broken_array_module")
    exec(compile(source, "<broken>", "exec"), module.__dict__)
    return module


# The array module's max-pool with ties sent to the LAST maximum: the first offset equal to
# the max, counted from the end.
LAST_MAX_POOL = """def _max_pool(a, size, stride):
    rows = (a.shape[2] - size) // stride + 1
    cols = (a.shape[3] - size) // stride + 1
    views = [_at(a, o // size, o % size, stride, rows, cols) for o in range(size * size)]
    best = np.max(np.stack(views), axis=0)
    choice = np.zeros(best.shape, dtype=np.int8)
    for offset, view in enumerate(views):
        choice[view == best] = offset
    return best, choice


def _max_pool_back("""


def _with_last_max(source: str) -> str:
    start = source.index("def _max_pool(a, size, stride):")
    end = source.index("def _max_pool_back(")
    return source[:start] + LAST_MAX_POOL + source[end + len("def _max_pool_back(") :]


@pytest.mark.parametrize(
    "name, break_it",
    [
        ("default", _with_last_max),  # ties to the last maximum
        ("matrix-max-overlap-7x7-p3s2", _with_last_max),
        ("example-two-blocks", _with_last_max),
        ("default", lambda s: s.replace("mask1 = z1 > 0", "mask1 = z1 >= 0")),  # ReLU'(0) = 1
        ("example-two-blocks", lambda s: s.replace("mask1 = z1 > 0", "mask1 = z1 >= 0")),
    ],
)
def test_a_broken_convention_is_caught(name, break_it):
    spec, b = SPECS[name], built(name)
    source = break_it(b.source)
    assert source != b.source
    broken = _exec(source)
    X, Y, params = integer_case(spec, seed=3, m=9)
    reference = answers(b.elementwise, X, Y, params)
    assert not same_zero_pattern(answers(broken, X, Y, params), reference)
    X, Y, params = random_case(spec, seed=7, m=9)  # no ties, no exact zeros: it agrees there
    assert worst(answers(broken, X, Y, params), answers(b.elementwise, X, Y, params)) <= ROUNDING


@dataclass(frozen=True)
class Fact:
    key: str
    title: str
    holds: bool


def test_a_stage_whose_proof_failed_or_is_missing_is_not_emitted():
    b = built("example-two-blocks")
    facts = [Fact(p.key, p.title, p.holds) for p in b.proofs]
    failing = [Fact(f.key, f.title, f.key != "ties") for f in facts]
    with pytest.raises(UnlicensedStage, match="ties"):
        generate_source(b.derivation, stages="array", proofs=failing)
    with pytest.raises(UnlicensedStage, match="dP1"):
        licences(b.derivation, [f for f in facts if f.key != "dP1"])
    with pytest.raises(UnlicensedStage):
        generate_source(b.derivation, stages="array")  # no proofs given: nothing licensed
    # auto falls back to the element-wise module, the reference
    auto = generate_source(b.derivation, stages="auto", proofs=failing)
    assert auto == generate_source(b.derivation)


def test_auto_keeps_the_teaching_network_elementwise_and_goes_array_at_mnist_size():
    b = built("default")
    assert generate_source(b.derivation, stages="auto", proofs=b.proofs) == generate_source(
        b.derivation
    )
    big = built("example-mnist-cnn")
    assert generate_source(big.derivation, stages="auto", proofs=big.proofs) == big.source
    with pytest.raises(ValueError, match="stages must be one of"):
        generate_source(b.derivation, stages="fast")


def test_header_lists_every_stage_and_its_proof():
    b = built("example-two-blocks")
    header = b.source.split('"""', 2)[1]
    titles = {p.key: p.title for p in b.proofs}
    expected = ["dW1", "dB1", "dX", "relu0", "ties", "dW2", "dB2", "dP1", "tanh.2"]
    expected += ["avg-spread.2", "head", "stable-loss"]
    flat = " ".join(header.split())
    for key in expected:
        assert f"[{key}: {titles[key]}]" in flat, key
    assert "max-accumulate" not in flat  # non-overlapping windows: not needed, not claimed
    assert "Array-level module" in header and "element-wise module" in header
    overlap = " ".join(built("example-overlapping-pool").source.split('"""', 2)[1].split())
    assert "[max-accumulate: " in overlap


def test_array_module_is_small_deterministic_and_imports_only_numpy():
    b = built("example-mnist-cnn")
    assert len(b.source.encode()) <= 200_000
    again = generate_source(b.derivation, stages="array", proofs=list(b.proofs))
    assert again == b.source
    imported = set()
    for node in ast.walk(ast.parse(b.source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"math", "numpy", "numpy.lib.stride_tricks"}


def test_array_module_blocks_keep_products_on_one_thread():
    """Every matrix product of a block stays at m * n * k <= 4 * 65536 (OpenBLAS's one-thread
    limit): the largest is a conv's outputs x weights per output, per image, x BLOCK_SIZE."""
    for name in ("example-mnist-cnn", "example-mnist", "default"):
        spec, b = SPECS[name], built(name)
        per_image = max(g.symbolic_cost for g in spec.geometry)
        assert b.array.BLOCK_SIZE * per_image <= 4 * 65536 or b.array.BLOCK_SIZE == 8


@pytest.mark.parametrize(("stages", "expected"), [("auto", "elementwise"), ("array", "array")])
def test_the_pipeline_verifies_the_module_that_derive_writes(stages, expected, monkeypatch):
    """check_spec compiles and verifies the stages asked for (the array module only after its
    licences held), never the element-wise one beside it: the verified source is the written one."""
    import symbp.codegen.module as codegen
    from symbp.pipeline import check_spec

    compiled: list[str] = []
    real_load = codegen.load

    def recording_load(d, stages="elementwise", proofs=None):
        compiled.append(stages)
        return real_load(d, stages, proofs)

    monkeypatch.setattr(codegen, "load", recording_load)
    checked = check_spec(NetworkSpec(), stages=stages)
    assert checked.passed and checked.stages == expected and compiled == [expected]
    written = generate_source(checked.derivation, stages=stages, proofs=checked.proofs)
    digest = hashlib.sha256(written.encode()).hexdigest()[:12]
    assert checked.module.__file__.endswith(f"{digest}>")
