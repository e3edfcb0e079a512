"""A law at a spec's sizes: the numbers each law takes at each block, and the law with them.

The general laws hold for symbolic sizes; a spec fixes them block by block. An `Instance` is
one law at one place of the network: its sizes, the size arithmetic that follows from them
(H_o = floor((6 + 2*0 - 3)/1) + 1 = 4, printed by substituting the numbers into the law), and
the derived law with the sizes substituted. Only the spec is read (its `geometry`): no
derivation is needed, so the document and `symbp explain` can show instances cheaply; the
bridge is what checks them against the element-wise derivation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import activation, conv, pool
from . import index_form as F
from .catalog import Law

Sizes = dict[sp.Symbol, Any]  # size symbol -> int (or an exact Rational: the leaky slope)


@dataclass(frozen=True)
class Instance:
    """One law at one place of a network."""

    key: str
    block: int | None  # the conv block (1-based), None after the blocks
    sizes: Sizes
    arithmetic: tuple[tuple[sp.Symbol, sp.Expr, int], ...]  # (size, its law, its value)
    forms: tuple[sp.Basic, ...]  # the derived law with the sizes substituted
    ranges: tuple[sp.Basic, ...]  # the free indices' ranges at these sizes


def conv_sizes(geometry: Any) -> Sizes:
    """H, W, C, K, k_H, k_W, S, P and H_o, W_o of one conv block."""
    (c, h, w), (k, ho, wo) = geometry.input, geometry.conv
    kh, kw = geometry.block.filter_shape
    return {
        F.H: h,
        F.W: w,
        F.C: c,
        F.K: k,
        F.KH: kh,
        F.KW: kw,
        F.S: geometry.block.stride,
        F.P: geometry.block.padding,
        F.HO: ho,
        F.WO: wo,
    }


def activation_sizes(geometry: Any) -> Sizes:
    """The activation's sizes of one block: K, H_o, W_o (and the leaky slope alpha)."""
    k, ho, wo = geometry.conv
    sizes: Sizes = {F.K: k, F.HO: ho, F.WO: wo}
    if geometry.block.activation == "leaky_relu":
        sizes[F.ALPHA] = sp.Rational(repr(float(geometry.block.leaky_slope)))  # exactly
    return sizes


def pool_sizes(geometry: Any) -> Sizes:
    """The pool's sizes of one block: K, H_o, W_o, R, T and H_p, W_p."""
    block = geometry.block
    (k, ho, wo), (_, hp, wp) = geometry.conv, geometry.output
    return {F.K: k, F.HO: ho, F.WO: wo, F.R: block.pool_size, F.T: block.pool_step} | {
        F.HP: hp,
        F.WP: wp,
    }


def head_sizes(spec: Any) -> Sizes:
    """K, H_p, W_p of the last block's output and the N = K H_p W_p features."""
    k, hp, wp = spec.geometry[-1].output
    return {F.K: k, F.HP: hp, F.WP: wp, F.N: k * hp * wp}


def _places(spec: Any, key: str) -> list[tuple[int | None, Sizes]]:
    """Where in the network a law applies, with the sizes it takes there."""
    geometry = list(enumerate(spec.geometry, start=1))
    kinds = {name: kind for kind, name in activation.KEYS.items()}
    if key in ("output-size", "dW", "dB", "dX", "matrix"):
        return [(n, conv_sizes(g)) for n, g in geometry]
    if key in kinds:
        return [(n, activation_sizes(g)) for n, g in geometry if g.block.activation == kinds[key]]
    pools = {"pool-size": ("max", "avg"), "avg-pool": ("avg",), "max-pool": ("max",)}
    pools["first-max"] = ("max",)
    if key in pools:
        return [(n, pool_sizes(g)) for n, g in geometry if g.block.pool_type in pools[key]]
    if key in ("flatten", "dense"):
        return [(None, head_sizes(spec))]
    return []  # the head: no sizes


def size_laws(key: str) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """The sizes a law's sizes determine, each with its law: H_o, W_o; H_p, W_p; N."""
    if key in ("output-size", "dW", "dB", "dX", "matrix"):
        return tuple(zip((F.HO, F.WO), conv.stated_output_size(), strict=True))
    if key in ("pool-size", "avg-pool", "max-pool"):
        return tuple(zip((F.HP, F.WP), pool.stated_pool_size(), strict=True))
    if key == "flatten":
        return ((F.N, F.K * F.HP * F.WP),)
    return ()


def _forms(law: Law) -> tuple[sp.Basic, ...]:
    return law.derived if isinstance(law.derived, tuple) else (law.derived,)


def instances(law: Law, spec: Any) -> list[Instance]:
    """The law at every place of the spec's network where it applies."""
    out = []
    for block, sizes in _places(spec, law.key):
        arithmetic = tuple(
            (size, rule, int(rule.xreplace(sizes))) for size, rule in size_laws(law.key)
        )
        forms = tuple(f for f in (f.xreplace(sizes) for f in _forms(law)) if f is not sp.true)
        ranges = tuple(r.xreplace(sizes) for r in law.free)
        out.append(Instance(law.key, block, sizes, arithmetic, forms, ranges))
    return out
