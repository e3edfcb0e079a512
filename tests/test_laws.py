"""The general laws (symbp.laws): derived by diff, proved against the textbook statements,
bridged to every element of the element-wise derivation, and able to fail.

References are independent of the code under test: SymPy's own `diff` of the element-wise
forward expressions (for the Jacobian), a brute-force count of windows (output size), the
element-wise derivation (the bridge), and textbook laws broken on purpose.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from architectures import ARCHITECTURE_IDS, ARCHITECTURES
from law_examples import LAW_EXAMPLES, stdout_under_hash_seeds

from symbp import NetworkSpec, derive
from symbp.laws import (
    LAW_KEYS,
    bridge_checks,
    catalog,
    conv,
    explain_law,
    find_law,
    format_law,
    head,
    is_law,
    latex_parts,
    laws_for,
    laws_report,
    matrix_view,
    pool,
    proof,
)
from symbp.laws import activation as activations
from symbp.laws import index_form as F

EXAMPLES = LAW_EXAMPLES


@pytest.fixture(scope="module")
def derivations():
    return {name: derive(spec) for name, spec in EXAMPLES.items()}


# ------------------------------------------------------------------ every law holds
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_law_holds_and_says_how(name, derivations):
    text, ok = laws_report(derivations[name])
    assert ok, text
    laws = laws_for(EXAMPLES[name])
    assert {"output-size", "dW", "dB", "dX", "matrix", "head"} <= {law.key for law in laws}
    for law in laws:
        assert law.holds and f"[{law.verdict}] {law.key}" in text
        assert law.verdict == "holds: symbolic" or law.verdict.startswith("holds: checked for ")


def test_the_convolution_laws_are_proved_symbolically_and_flatten_is_checked():
    for key in ("output-size", "dW", "dB", "dX", "matrix", "relu", "avg-pool", "max-pool"):
        assert find_law(key).method == "symbolic", key
    # the derived flatten keeps a bound (index <= N - 1) the canonical form cannot drop:
    # the grid decides, and the law says so
    flatten = find_law("flatten")
    assert flatten.holds and flatten.method.startswith("checked: all K <= 3")
    assert find_law("first-max").method.startswith("checked: every R x R window")


def test_every_law_symbp_knows_holds():
    for key in LAW_KEYS:
        assert find_law(key).holds, format_law(find_law(key))


def test_laws_are_found_by_diff_not_typed():
    """The raw result of sympy.diff holds the deltas; the eliminated one holds none."""
    gradient = conv.derived_gradient("dX")
    assert gradient.raw.has(sp.KroneckerDelta)
    (term,) = gradient.terms
    assert not term.factor.has(sp.KroneckerDelta) and not term.equations
    assert (
        term.factor
        == F.dz[F.k, F.i, F.j] * F.w[F.k, F.c, F.u + F.P - F.S * F.i, F.v + F.P - F.S * F.j]
    )


def test_the_stated_laws_are_textbook_compositions():
    """The stated dX is built from pad, dilate, rotate, crop and correlate; its own deltas
    (the dilation) are eliminated to reach the derived form."""
    stated = conv.stated_input_gradient()
    assert stated.has(sp.KroneckerDelta)
    assert sp.sstr(conv.input_pattern()).startswith("crop_P(")


# ------------------------------------------------------------------ output size
def test_output_size_law_counts_the_windows():
    rows, _ = conv.derived_output_size()
    for h, kh, s, pad in [
        (h, k, s, p)
        for h in range(1, 10)
        for k in range(1, 5)
        for s in range(1, 4)
        for p in range(k)
    ]:
        if kh > h + 2 * pad:
            continue
        count = sum(1 for i in range(h + 2 * pad) if s * i + kh - 1 <= h + 2 * pad - 1)
        assert rows.subs({F.H: h, F.KH: kh, F.S: s, F.P: pad}) == count


# ------------------------------------------------------------------ wrong laws fail (a) and (b)
WRONG = {
    "dX unflipped kernel": ("dX", lambda: conv.stated_input_gradient(rotated=False)),
    "dX cropped by P + 1": ("dX", lambda: conv.stated_input_gradient(crop_by=F.P + 1)),
    "dX cropped by P - 1": ("dX", lambda: conv.stated_input_gradient(crop_by=F.P - 1)),
    "dX without dilation": ("dX", lambda: conv.stated_input_gradient(dilated=False)),
    "dW padded by P + 1": ("dW", lambda: conv.stated_weight_gradient(pad_by=F.P + 1)),
    "dW without dilation": ("dW", lambda: conv.stated_weight_gradient(dilated=False)),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_law_fails_the_proof_with_a_counterexample(name):
    key, statement = WRONG[name]
    verdict = proof.prove(conv.conv_law(key, statement()))
    assert not verdict.holds and verdict.method.startswith("checked: ")
    assert "element" in verdict.detail or "reads" in verdict.detail
    law = catalog.conv_gradient_law(conv.conv_law(key, statement()))
    assert law.status == "fails" and law.verdict == "fails"


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_law_fails_the_bridge(name, derivations):
    key, statement = WRONG[name]
    wrong = {key: conv.conv_law(key, statement())}
    d = derivations["padding1-stride2"]  # stride 2 and padding 1: every mistake shows
    checks = bridge_checks(d, keys=(key,), overrides=wrong)
    assert checks and any(not c.holds for c in checks if c.form == "stated")
    assert all(c.holds for c in checks if c.form == "derived")  # the derivation is right


def test_a_failing_bridge_fails_the_report(derivations, monkeypatch):
    wrong = conv.conv_law("dX", conv.stated_input_gradient(rotated=False))
    monkeypatch.setattr(catalog, "index_laws", lambda: {**conv_laws(), "dX": wrong})
    text, ok = laws_report(derivations["default"])
    assert not ok and "FAILS" in text and "FAILED" in text


def conv_laws():
    return {key: conv.conv_law(key) for key in ("dW", "dB", "dX")}


def test_other_wrong_laws_fail():
    average = pool.pool_law("avg", pool.stated_average(1 / F.R))  # 1/R, not 1/R^2
    assert not proof.prove(average).holds
    shifted = pool.pool_law("max", pool.stated_max(lambda: (F.i - F.m, F.j - F.n)))  # no T
    assert not proof.prove(shifted).holds
    column_major = head.flatten_law(head.stated_flatten(F.k * F.HP * F.WP + F.n * F.HP + F.m))
    assert not proof.prove(column_major).holds
    half = activations.activation_law("relu", lambda z, a: F.iverson(z >= 0))  # ReLU'(0) = 1
    assert not half.holds


def test_the_grid_confirms_correct_laws_it_was_not_needed_for():
    """The fallback must be able to say 'holds' too: run it on laws proved symbolically."""
    small = conv.conv_grid(largest=5, kernel=3, stride=2, channels=2)
    for key in ("dW", "dB", "dX"):
        verdict = proof.check_on_grid(conv.conv_law(key, grid=small))
        assert verdict.holds and verdict.method == f"checked: {small.description}", key
    assert proof.check_on_grid(pool.pool_law("max")).holds


# ------------------------------------------------------------------ the matrix view
def test_the_matrix_view_at_the_default_size(derivations):
    d = derivations["default"]
    view = matrix_view(d)
    assert view.jacobian.shape == (16, 36) and view.jacobian.nnz() == 16 * 9 and view.holds
    # independent reference: sympy.diff of the element-wise forward expressions of Z1
    z1 = next(step for step in d.forward if step.stage.output == "Z1").expressions.reshape(-1)
    x = d.quantities["X"].symbols.reshape(-1)
    reference = sp.Matrix(16, 36, lambda r, c: sp.diff(z1[r], x[c]))
    assert (view.jacobian - reference).is_zero_matrix
    dx = d.gradients["X"].reshape(-1)
    assert all(sp.expand(dx[n] - view.input_gradient[n]) == 0 for n in range(36))


def test_the_matrix_view_of_a_second_block(derivations):
    view = matrix_view(derivations["two-blocks"], block=2)
    assert view.input == "P1" and view.holds
    assert view.jacobian.shape == (1 * 4 * 4, 2 * 6 * 6)


# ------------------------------------------------------------------ every architecture
@pytest.mark.parametrize("spec", [spec for _, spec in ARCHITECTURES], ids=ARCHITECTURE_IDS)
def test_the_laws_reproduce_every_architecture_exactly(spec):
    d = derive(spec)
    checks = bridge_checks(d)
    failed = [str(c) for c in checks if not c.holds]
    assert not failed, failed
    conv_blocks = {c.block for c in checks if c.law == "dW"}
    assert conv_blocks == set(range(1, spec.n_blocks + 1))
    gradients = {c.quantity for c in checks}
    for n in range(1, spec.n_blocks + 1):
        assert {f"dL/dW{n}", f"dL/dB{n}"} <= gradients
    assert "dL/dX" in gradients
    elements = {(c.law, c.quantity, c.form): c.elements for c in checks}
    for n, geometry in enumerate(spec.geometry, start=1):
        assert elements[("dW", f"dL/dW{n}", "stated")] == int(np.prod(geometry.weight_shape))


# ------------------------------------------------------------------ what the CLI prints
def test_format_law_for_dx_and_output_size():
    dx = format_law(find_law("dX"))
    assert dx.startswith("dX [holds: symbolic]")
    assert "crop_P(" in dx and "rot180(w[k, c])" in dx and "dil_S(δz[k])" in dx
    assert "0 ≤ P - S·i + u ≤ k_H - 1" in dx and "⌊(P + u)/S⌋" in dx
    size = format_law(find_law("output-size"))
    assert size.startswith("output-size [holds: symbolic]")
    assert "H_o = ⌊(H + 2·P - k_H)/S⌋ + 1" in size
    assert "**" not in dx + size and "delta_" not in dx + size


def test_explain_accepts_a_law_name(derivations):
    assert is_law("dX") and not is_law("dW1[0,1]")
    text = explain_law("dW", derivations["two-blocks"])
    assert text.startswith("dW [holds: symbolic]")
    assert "block 2" in text and "dL/dW2" in text
    with pytest.raises(KeyError, match="the laws are"):
        find_law("dZ")


def test_latex_parts_typeset_the_law():
    parts = latex_parts(find_law("dX"))
    statement = parts["statement"][0]
    assert r"\operatorname{rot}_{180}" in statement and r"\operatorname{crop}_{P}" in statement
    assert any(r"0 \le" in c and r"\le k_{H} - 1" in c for c in parts["conditions"])
    assert r"\sum" in parts["derived"][0] and parts["verdict"] == "holds: symbolic"
    size = latex_parts(find_law("output-size"))["statement"][0]
    assert r"\left\lfloor" in size


def test_every_law_typesets(tmp_path):
    """All statements, conditions and derived forms compile with pdflatex (amsmath only)."""
    from latex_tools import compile_tex, require_tex_tools

    require_tex_tools()
    body = []
    for key in LAW_KEYS:
        parts = latex_parts(find_law(key))
        maths = parts["statement"] + parts["derived"] + parts["conditions"]
        body.append(rf"\section*{{{key}}}" + "".join(rf"\[ {m} \]" for m in maths))
    tex = (
        r"\documentclass{article}\usepackage{amsmath,amssymb}"
        r"\usepackage[margin=1cm,a3paper,landscape]{geometry}\begin{document}"
        + "\n".join(body)
        + r"\end{document}"
    )
    log, text = compile_tex(tex, tmp_path)
    assert "crop" in text and "rot" in text and "pad" in text and "dil" in text
    assert "Undefined control sequence" not in log


def test_the_laws_print_the_same_under_any_hash_seed():

    script = (
        "from symbp import NetworkSpec\n"
        "from symbp.laws import LAW_KEYS, find_law, format_law, laws_report\n"
        "print(laws_report(NetworkSpec(), full=True)[0])\n"
        "print('\\n'.join(format_law(find_law(k)) for k in LAW_KEYS))\n"
    )
    outputs = stdout_under_hash_seeds(script, ("0", "12345"))
    assert outputs[0] == outputs[1] and "all 12 laws hold" in outputs[0]


# ------------------------------------------------------------------ bad input and the cost
def test_an_unknown_law_is_both_a_lookup_error_and_a_value_error():
    for error in (KeyError, ValueError):
        with pytest.raises(error, match="^unknown law 'dZ'; the laws are: output-size, dW"):
            find_law("dZ")
    with pytest.raises(ValueError, match="expected a NetworkSpec or a Derivation, got int"):
        laws_for(3)


def test_the_cost_is_measured_cold_and_reported():
    from symbp.laws import timing

    result = timing.measure(NetworkSpec(), rounds=1)
    assert set(result["median_s"]) == {"derive", "laws", "bridge"}
    assert all(seconds > 0 for seconds in result["median_s"].values())
    assert result["ratio"] == pytest.approx(
        result["laws_and_bridge_s"] / result["median_s"]["derive"]
    )
    for rounds in (0, 1.5, True):
        with pytest.raises(ValueError, match="rounds must be a whole number"):
            timing.measure(NetworkSpec(), rounds=rounds)
