"""Activation derivatives, with the conventions at the kinks (ReLU'(0) = 0, LeakyReLU'(0) =
slope) and the output forms (sigma' = a(1 - a), tanh' = 1 - a^2)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from symbp.symbolic.derivation import Derivation
from symbp.symbolic.layers import Stage, exact_number

from .result import (
    EXHAUSTIVE,
    Formula,
    Proof,
    TexAtom,
    Text,
    formula,
    proof_key,
)


def _listed(parts: list[Formula]) -> Text:
    """Formulas separated by commas, each typeset on its own."""
    return tuple(part for k, f in enumerate(parts) for part in ((", ", f) if k else (f,)))


def _activation_step(d: Derivation, output: str) -> Any:
    return next(s for s in d.steps if s.stage.output == output and s.target == s.stage.input)


def prove_activation_derivative(d: Derivation, stage: Stage) -> Proof | None:
    """ReLU'(0) = 0 and leaky ReLU'(0) = slope at the kink; sigma' = a(1 - a), tanh' = 1 - a^2."""
    assert stage.geometry is not None and stage.block is not None
    step = _activation_step(d, stage.output)
    (out_index, in_index), local = next(iter(step.local.items()))
    z = d.quantities[stage.input].symbols[in_index]
    a = d.quantities[stage.output].symbols[out_index]
    n = stage.block
    if stage.kind in ("relu", "leaky_relu"):
        slope = exact_number(stage.geometry.block.leaky_slope) if stage.kind == "leaky_relu" else 0
        values = {v: local.subs(z, v) for v in (-1, 0, 1)}
        holds = values == {-1: slope, 0: slope, 1: 1}
        op = "ReLU" if stage.kind == "relu" else "LeakyReLU"
        findings = (
            "The derivative ",
            formula(TexAtom(rf"\operatorname{{{op}}}'(z)"), f"{op}'(z)"),
            " from sympy.diff is ",
            formula(local),
            "; at ",
            formula(TexAtom(r"z = -1, 0, 1"), "z = -1, 0, 1"),
            " it is ",
            *_listed([formula(values[v]) for v in (-1, 0, 1)]),
        )
        # The derivative is constant on z < 0, z = 0 and z > 0 (an indicator of the sign):
        # one point of each class decides it everywhere.
        if stage.kind == "relu":
            return Proof.of(
                proof_key("relu0", n),
                ("The ReLU derivative is 0 at the kink, as in PyTorch",),
                r"\operatorname{ReLU}'(0) = 0",
                holds,
                findings,
                EXHAUSTIVE,
            )
        return Proof.of(
            proof_key("leaky0", n),
            (
                "The leaky ReLU derivative at the kink is its slope, ",
                formula(slope),
                ", as in PyTorch",
            ),
            rf"\operatorname{{LeakyReLU}}'(0) = {sp.latex(slope)}",
            holds,
            findings,
            EXHAUSTIVE,
        )
    if stage.kind in ("sigmoid", "tanh"):
        forward = d.forward[d.stages.index(stage)].expressions[out_index]
        difference = sp.simplify(local.subs(a, forward) - sp.diff(forward, z))
        holds = difference == 0
        name = "sigma" if stage.kind == "sigmoid" else "tanh"
        tex = r"\sigma" if stage.kind == "sigmoid" else r"\tanh"
        output = formula(TexAtom(rf"a = {tex}(z)"), f"a = {name}(z)")
        return Proof.of(
            proof_key(stage.kind, n),
            (
                f"The derivative of {'the sigmoid' if stage.kind == 'sigmoid' else 'tanh'}, "
                "written in its output ",
                output,
            ),
            rf"{tex}'(z) = {sp.latex(local.xreplace({a: sp.Symbol('a')}))},\ a = {tex}(z)",
            holds,
            (
                "The derivative in the output, with ",
                output,
                " put back, minus sympy.diff of ",
                formula(TexAtom(rf"{tex}(z)"), f"{name}(z)"),
                ": ",
                "simplifies to 0" if holds else formula(difference),
            ),
        )
    return None
