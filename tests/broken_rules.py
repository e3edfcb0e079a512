"""Layer rules broken on purpose, shared by the tests that show the proofs catching them."""

from __future__ import annotations

import dataclasses

import sympy as sp

from symbp.symbolic.layers import LAYER_RULES, indicator, pool_windows
from symbp.symbolic.symbols import object_array


def with_rule(kind, build):
    """The layer table with one rule's forward builder replaced."""
    rules = dict(LAYER_RULES)
    rules[kind] = dataclasses.replace(LAYER_RULES[kind], build=build)
    return rules


def last_max_pool(a, params, stage):
    """Max-pool that sends ties to the LAST maximum (at least every earlier, strictly above every
    later element), against the convention."""
    out = object_array(stage.shape)
    for index, window in pool_windows(stage.geometry).items():
        values = [a[c] for c in window]
        terms = []
        for k, v in enumerate(values):
            cond = sp.And(*[v >= o for o in values[:k]], *[v > o for o in values[k + 1 :]])
            terms.append(v * indicator(cond))
        out[index] = sp.Add(*terms)
    return out
