"""The array-level module's text: a forward and a backward function over a block of images,
one stage per few lines, each stage's pattern licensed by a proof (see `array_stages`)."""

from __future__ import annotations

import textwrap

from symbp.spec.model import BlockGeometry
from symbp.symbolic.derivation import Derivation
from symbp.symbolic.layers import Stage

from .array_stages import (
    activation_backward,
    activation_forward,
    block_size,
    conv_stage,
    prepared_layout,
    saved_names,
    theta_names,
    tiled,
)
from .array_text import ARRAY_RUNTIME
from .module_text import RUNTIME


def _last(shape: tuple[int, int, int]) -> str:
    """(C, H, W) as the shape of a block: '(C, b, H, W)'."""
    c, h, w = shape
    return f"({c}, b, {h}, {w})"


def _unpack(names: list[str], source: str) -> str:
    """'    a, b, c = source', wrapped in parentheses when long."""
    line = f"    {', '.join(names)} = {source}"
    if len(line) <= 96:
        return line
    body = textwrap.wrap(
        ", ".join(names) + ",", 88, initial_indent="        ", subsequent_indent="        "
    )
    return "\n".join(["    (", *body, f"    ) = {source}"])


def forward_function(d: Derivation) -> list[str]:
    lines = [
        "def _forward(x, theta):",
        '    """The forward pass of a block of images (rows), keeping what the backward pass',
        '    reads; returns the logits and that."""',
        _unpack(theta_names(d), "theta"),
        "    b = x.shape[0]",
        f"    x = _by_channel(x, {tuple(d.spec.geometry[0].input)!r})",
    ]
    for stage in d.stages:
        lines += _forward_stage(stage)
    return [*lines, f"    return z{d.spec.n_blocks + 1}, ({', '.join(saved_names(d))},)"]


def _forward_stage(stage: Stage) -> list[str]:
    i, o, n, g = stage.input.lower(), stage.output.lower(), stage.block, stage.geometry
    if stage.kind == "conv":
        return conv_stage(stage)
    if stage.kind == "maxpool" and g is not None:
        size, step = g.block.pool_size, g.block.pool_step
        return [f"    {o}, choice{n} = _max_pool({i}, {size}, {step})  # [{_ties(n)}]"]
    if stage.kind == "avgpool" and g is not None:
        return [f"    {o} = _avg_pool({i}, {g.block.pool_size}, {g.block.pool_step})"]
    if stage.kind == "flatten":
        return [f"    {o} = _rows({i})"]
    if stage.kind == "dense":
        w, b = (p.lower() for p in stage.params)
        return [f"    {o} = {i} @ {w} + {b}  # [head]"]
    if g is not None:
        return activation_forward(stage)
    return []  # the head's sigmoid and the loss: in the block functions


def _ties(n: int | None) -> str:
    return "ties" if n == 1 else f"ties.{n}"


def backward_function(d: Derivation) -> list[str]:
    dense = d.spec.n_blocks + 1
    lines = [
        "def _backward(dz, saved, theta, params, inputs):",
        '    """(dL/d(every parameter) summed over the block in theta\'s order if params,',
        '    dL/dX as rows if inputs), None when not asked for, from dz = A - Y [head]."""',
        _unpack(theta_names(d), "theta"),
        _unpack(saved_names(d), "saved"),
        "    b = dz.shape[0]",
        f"    dz{dense} = dz",
    ]
    for stage in reversed(d.stages):
        lines += _backward_stage(stage, d.spec.geometry[-1].output)
    sums = []
    for n in range(1, dense):
        sums += [f"dw{n}.ravel()", f"db{n}"]
    sums += [f"dw{dense}", f"[db{dense}]"]
    return [*lines, f"    return np.concatenate(({', '.join(sums)})), dx"]


def _backward_stage(stage: Stage, flattened: tuple[int, int, int]) -> list[str]:
    i, o, n, g = stage.input.lower(), stage.output.lower(), stage.block, stage.geometry
    if stage.kind == "dense":
        w = stage.params[0].lower()
        return [
            f"    d{w} = {i}.T @ d{o}",
            f"    d{stage.params[1].lower()} = d{o}.sum()",
            f"    d{i} = np.outer(d{o}, {w})",
        ]
    if stage.kind == "flatten":
        return [f"    d{i} = _unrows(d{o}, {tuple(flattened)!r})"]
    if g is None:
        return []
    if stage.kind == "conv":
        return _conv_backward(stage, g)
    if stage.kind == "maxpool":
        size, step = g.block.pool_size, g.block.pool_step
        if tiled(g):
            return [f"    d{i} = _tiled_max_pool_back(d{o}, choice{n}, {size})"]
        shape = _last(g.conv)
        return [f"    d{i} = _max_pool_back(d{o}, choice{n}, {shape}, {size}, {step})"]
    if stage.kind == "avgpool":
        size, step = g.block.pool_size, g.block.pool_step
        return [f"    d{i} = _avg_pool_back(d{o}, {_last(g.conv)}, {size}, {step})"]
    return [f"    # [{_activation_key(stage)}]", *activation_backward(stage)]


def _activation_key(stage: Stage) -> str:
    base = {"relu": "relu0", "leaky_relu": "leaky0"}.get(stage.kind, stage.kind)
    if stage.kind == "identity":
        return "identity: nothing to prove"
    return base if stage.block == 1 else f"{base}.{stage.block}"


def _conv_backward(stage: Stage, g: BlockGeometry) -> list[str]:
    n, z, i = stage.block, stage.output.lower(), stage.input.lower()
    kh, kw = g.block.filter_shape
    s, p = g.block.stride, g.block.padding
    k = g.conv[0]
    if s == 1:
        hp, wp = g.input[1] + 2 * p, g.input[2] + 2 * p
        lines = [f"    d{z}_wide = _widen(d{z}, {hp}, {wp})"]
        back = f"_shifted_transposed(d{z}_wide, w{n}t, {_last(g.input)}, {kh}, {kw}, {p})"
        weights = f"d{z}_wide @ cols{n}.T"
    else:
        lines = []
        back = f"_transposed(d{z}, w{n}t, {_last(g.input)}, {kh}, {kw}, {s}, {p})"
        weights = f"_correlate(cols{n}, d{z})"
    sums = [
        f"    dw{n} = {weights}  # [dW{n}]",
        f"    db{n} = d{z}.reshape({k}, -1).sum(axis=1)  # [dB{n}]",
    ]
    if n == 1:  # dL/dX alone needs neither the first layer's dW nor its dB
        back = (
            f"    dx = None\n    if inputs:\n        dx = _rows({back})  # [d{stage.input}]\n"
            "    if not params:\n        return None, dx"
        )
        return [*lines, back, *sums]
    return [*lines, *sums, f"    d{i} = {back}  # [d{stage.input}]"]


IMPORTS = """import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
"""

BLOCK_FUNCTIONS = '''

def _loss_block(x, y, theta):
    """Sum over the block of BCE(y, sigmoid(z)) = softplus(z) - y z, written
    max(z, 0) - y z + log(1 + exp(-|z|)) [stable-loss]."""
    z = _forward(x, theta)[0]
    return np.sum((np.maximum(z, 0.0) - y * z) + np.log1p(np.exp(-np.abs(z))))


def _predict_block(x, y, theta):
    """sigmoid(z) for every image in the block."""
    return _sigmoid(_forward(x, theta)[0])


def _gradient_block(x, y, theta):
    """Sums over the block of dL/d(parameter element), per image (not yet / M)."""
    z, saved = _forward(x, theta)
    return _backward(_sigmoid(z) - y, saved, theta, True, False)[0]


def _input_gradient_block(x, y, theta):
    """dL/dx for every image in the block (not yet / M), one image per row."""
    z, saved = _forward(x, theta)
    return _backward(_sigmoid(z) - y, saved, theta, False, True)[1]


def _both_block(x, y, theta):
    """(_gradient_block, _input_gradient_block) of the block from one forward pass and one
    backward pass: the first layer's dW, dB and dL/dX all read the same dL/dZ."""
    z, saved = _forward(x, theta)
    return _backward(_sigmoid(z) - y, saved, theta, True, True)


def _gradient_scalar(x, y, theta):
    """Not generated: the array module has no pure-Python path (SCALAR_BATCH = 0)."""
    raise NotImplementedError("no pure-Python path in this module")'''


def constants(d: Derivation) -> list[str]:
    spec = d.spec
    shapes = spec.parameter_shapes
    layout = ",\n    ".join(repr(row) for row in prepared_layout(d))
    return [
        f"PARAMETERS = {{{', '.join(f'{k!r}: {v!r}' for k, v in shapes.items())}}}",
        f"INPUT_SHAPE = {tuple(spec.image_shape)!r}",
        f"PARAMETER_COUNT = {spec.parameter_count}",
        f"BLOCK_SIZE = {block_size(d)}  # images per block: every product on one OpenBLAS thread",
        "SCALAR_BATCH = 0  # no pure-Python path",
        "_UNUSED = ()",
        f"_PREPARED = [  # (kind, start, stop, shape) of each parameter in theta\n    {layout},\n]",
    ]


def array_body(d: Derivation) -> str:
    """Everything after the docstring."""
    parts = [
        "",
        IMPORTS,
        "\n".join(constants(d)),
        RUNTIME,
        ARRAY_RUNTIME,
        "\n\n" + "\n".join(forward_function(d)),
        "\n\n" + "\n".join(backward_function(d)),
        BLOCK_FUNCTIONS,
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"
