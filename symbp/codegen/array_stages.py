"""Compile a derivation into an array-level NumPy module, stage by stage, where proofs license it.

The element-wise module prints every element of every quantity; past a few thousand products
its size and its per-element NumPy calls dominate (examples/mnist-cnn.toml: 3.9 MB, a dense
1568x784 Jacobian of 99 % zeros). The proofs have established, for this very network, which
pattern each stage follows: dW is the correlation of the padded input with the dilated dZ, dX
the transposed convolution, dB a sum, max-pool routes to the first maximum, the activations'
derivatives at their kinks, the head's A - Y. Each stage is written here as the array code of
its pattern only when its proof held (`licences`); if one did not, there is no array module
(`UnlicensedStage`), and the element-wise module, the reference, is the one to use.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from symbp.spec.model import BlockGeometry
from symbp.symbolic.derivation import Derivation
from symbp.symbolic.layers import Stage

from .blas import SINGLE_THREAD_PRODUCT

# Images per block at most; fewer when a block's products would pass OpenBLAS's one-thread
# limit (see blas.py).
ARRAY_BLOCK = 256


class ProvenFact(Protocol):
    """What codegen reads of a proof (symbp.proofs.Proof): codegen may not import proofs."""

    @property
    def key(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def holds(self) -> bool: ...


class UnlicensedStage(ValueError):
    """A stage whose pattern no proof that held has established: no array module for it."""


@dataclass(frozen=True)
class Licence:
    """One array-level stage, and the proof that licenses it."""

    stage: str  # what is computed as arrays, in words
    key: str  # the proof's key ('' for a stage with nothing to prove)
    title: str


def _key(base: str, block: int) -> str:
    return base if block == 1 else f"{base}.{block}"


def _needed(d: Derivation) -> list[tuple[str, str]]:
    """(stage in words, the proof key it needs), in the forward order."""
    needed = []
    for stage in d.stages:
        n, g = stage.block, stage.geometry
        if stage.kind == "conv" and n is not None:
            w, b = stage.params
            needed += [
                (f"{stage.output} and dL/d{w}: windows of {stage.input} times {w}", f"dW{n}"),
                (f"dL/d{b}: the sum of dL/d{stage.output} per filter", f"dB{n}"),
                (
                    f"dL/d{stage.input}: the transposed convolution of dL/d{stage.output}",
                    f"d{stage.input}",
                ),
            ]
        elif stage.kind in ("relu", "leaky_relu", "sigmoid", "tanh") and n is not None:
            base = {"relu": "relu0", "leaky_relu": "leaky0"}.get(stage.kind, stage.kind)
            needed.append((f"{stage.output} and its derivative, element-wise", _key(base, n)))
        elif stage.kind == "maxpool" and n is not None and g is not None:
            words = f"{stage.output}: max-pool, routed by first-max masks"
            needed.append((words, _key("ties", n)))
            if g.block.pool_step < g.block.pool_size:
                needed.append((words + ", overlaps added", _key("max-accumulate", n)))
        elif stage.kind == "avgpool" and n is not None:
            needed.append((f"{stage.output}: average pool, spread evenly", _key("avg-spread", n)))
        elif stage.kind == "dense":
            needed.append(
                (
                    f"{stage.output} = {stage.input} . W + B and dL/d{stage.output} = A - Y "
                    "as matrix products",
                    "head",
                )
            )
        elif stage.kind == "bce":
            needed.append(("the loss in softplus form", "stable-loss"))
    return needed


def licences(d: Derivation, proofs: Iterable[ProvenFact]) -> list[Licence]:
    """Every array-level stage with the proof that licenses it; UnlicensedStage if a proof
    is missing or did not hold."""
    held = {p.key: p.title for p in proofs if p.holds}
    missing = [key for _, key in _needed(d) if key not in held]
    if missing:
        raise UnlicensedStage(
            f"no array module: the proofs {', '.join(missing)} did not run or did not hold; "
            "use the element-wise module"
        )
    return [Licence(words, key, held[key]) for words, key in _needed(d)]


def stages_text(found: list[Licence]) -> str:
    """The header's list of stages and their proofs, wrapped."""
    lines = ["Array-level stages, and the proof (symbp's key: its title) that licenses each:"]
    for licence in found:
        item = f"{licence.stage} [{licence.key}: {licence.title}]"
        lines += textwrap.wrap(
            item, 96, initial_indent="    - ", subsequent_indent="      ", break_on_hyphens=False
        )
    lines.append("    - flatten: a reshape in (channels, rows, cols) order, nothing to prove")
    return "\n".join(lines)


def block_size(d: Derivation) -> int:
    """Images per block: the largest product of a block, m * n * k, per image, is a conv's
    outputs x weights per output; keep it within OpenBLAS's one-thread limit."""
    per_image = max([g.symbolic_cost for g in d.spec.geometry] + [d.spec.n_features])
    size = ARRAY_BLOCK
    while size > 8 and size * per_image > SINGLE_THREAD_PRODUCT:
        size //= 2
    return size


def _conv_names(g: BlockGeometry, n: int) -> tuple[int, int]:
    k, c = g.conv[0], g.input[0]
    kh, kw = g.block.filter_shape
    return k, c * kh * kw


def prepared_layout(d: Derivation) -> list[tuple[str, int, int, tuple[int, ...]]]:
    """(kind, start, stop, shape) of each parameter in theta, as `_prepare` splits it."""
    layout: list[tuple[str, int, int, tuple[int, ...]]] = []
    start, geometry = 0, d.spec.geometry
    for name, shape in d.spec.parameter_shapes.items():
        stop = start + math.prod(shape)
        n = int(name[1:])
        if name[0] == "W" and n <= len(geometry):
            layout.append(("conv", start, stop, _conv_names(geometry[n - 1], n)))
        elif name[0] == "B":
            layout.append(("float" if n > len(geometry) else "bias", start, stop, ()))
        else:
            layout.append(("vector", start, stop, (stop - start,)))
        start = stop
    return layout


def theta_names(d: Derivation) -> list[str]:
    names = []
    for n in range(1, d.spec.n_blocks + 1):
        names += [f"w{n}", f"w{n}t", f"b{n}"]
    dense = d.spec.n_blocks + 1
    return [*names, f"w{dense}", f"b{dense}"]


def conv_stage(stage: Stage) -> list[str]:
    """Forward: W's matrix times the windows of the input (im2col, kept for dW), + B; with
    stride 1 on the flat padded grid (contiguous shifted rows), else window by window."""
    g, n = stage.geometry, stage.block
    assert g is not None and n is not None
    kh, kw = g.block.filter_shape
    s, p = g.block.stride, g.block.padding
    k, rows, cols = g.conv
    x, z = stage.input.lower(), stage.output.lower()
    if s == 1:
        hp, wp = g.input[1] + 2 * p, g.input[2] + 2 * p
        return [
            f"    # {stage.output}: cross-correlation on the padded grid [dW{n}]",
            f"    cols{n} = _shifted_columns({x}, {kh}, {kw}, {p})",
            f"    {z} = _valid(w{n} @ cols{n}, b, {hp}, {wp}, {rows}, {cols}) + b{n}",
        ]
    return [
        f"    # {stage.output}: cross-correlation, stride {s} [dW{n}]",
        f"    cols{n} = _columns({x}, {kh}, {kw}, {s}, {p})",
        f"    {z} = (w{n} @ cols{n}).reshape({k}, b, {rows}, {cols}) + b{n}",
    ]


def tiled(g: BlockGeometry) -> bool:
    """Pool windows that tile their input: stride = size (the spec makes them cover it)."""
    return g.block.pool_step == g.block.pool_size


def activation_forward(stage: Stage) -> list[str]:
    z, a, n = stage.input.lower(), stage.output.lower(), stage.block
    g = stage.geometry
    assert g is not None
    # max(z, 0) and max(z, slope z) are where(z > 0, z, ...) exactly (the slope is in [0, 1)),
    # up to the sign of a zero, at a tenth of np.where's time
    if stage.kind == "relu":
        return [f"    mask{n} = {z} > 0  # ReLU'(0) = 0", f"    {a} = np.maximum({z}, 0.0)"]
    if stage.kind == "leaky_relu":
        slope = float(g.block.leaky_slope)
        return [
            f"    mask{n} = {z} > 0  # LeakyReLU'(0) = its slope",
            f"    {a} = np.maximum({z}, {z} * {slope!r})",
        ]
    if stage.kind == "sigmoid":
        return [f"    {a} = _sigmoid({z})"]
    if stage.kind == "tanh":
        return [f"    {a} = np.tanh({z})"]
    return [f"    {a} = {z}"]


def activation_backward(stage: Stage) -> list[str]:
    z, a, n = stage.input.lower(), stage.output.lower(), stage.block
    g = stage.geometry
    assert g is not None
    da, dz = "d" + a, "d" + z
    # the mask as 0 and 1: times it is ReLU', max(it, slope) is LeakyReLU', exactly
    if stage.kind == "relu":
        return [f"    {dz} = {da} * mask{n}"]
    if stage.kind == "leaky_relu":
        return [f"    {dz} = {da} * np.maximum(mask{n}, {float(g.block.leaky_slope)!r})"]
    if stage.kind == "sigmoid":
        return [f"    {dz} = {da} * (1.0 - {a}) * {a}"]
    if stage.kind == "tanh":
        return [f"    {dz} = {da} * (1.0 - {a} * {a})"]
    return [f"    {dz} = {da}"]


def saved_names(d: Derivation) -> list[str]:
    """What the forward pass keeps for the backward pass, in order."""
    names = []
    for stage in d.stages:
        n, low = stage.block, stage.output.lower()
        if stage.kind == "conv":
            names.append(f"cols{n}")
        elif stage.kind in ("relu", "leaky_relu"):
            names.append(f"mask{n}")
        elif stage.kind in ("sigmoid", "tanh") and n is not None:
            names.append(low)
        elif stage.kind == "maxpool":
            names.append(f"choice{n}")
        elif stage.kind == "flatten":
            names.append(low)
    return names
