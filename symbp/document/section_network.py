"""Section 1, the network: its diagram, its layers and parameters, and the conventions its
layers follow."""

from __future__ import annotations

from typing import Any

from symbp.spec.model import ACTIVATION_NAMES
from symbp.symbolic.derivation import quantity_shapes

from .context import Context, first, shape_text
from .figures import diagram_edges, diagram_nodes


def _layers(c: Context) -> list[dict[str, Any]]:
    d, q = c.d, c.names.q
    layers = []
    for stage, fwd in zip(d.stages, d.forward, strict=True):
        params = [p for p in stage.params if p != "Y"]
        block = stage.geometry.block if stage.geometry is not None else None
        layers.append(
            {
                "kind": stage.kind,
                "block": stage.block,
                "title": fwd.title,
                "input": q[stage.input],
                "output": q[stage.output],
                "shape": shape_text(d.quantities[stage.output].shape),
                "params": [(q[p], d.quantities[p].size) for p in params],
                "w": q[params[0]] if params else None,
                "b": q[params[1]] if len(params) > 1 else None,
                "y": q["Y"],
                "pool_size": block.pool_size if block else 0,
                "pool_step": block.pool_step if block else 0,
                "slope": f"{block.leaky_slope:g}" if block else "",
            }
        )
    return layers


def _blocks(c: Context) -> list[dict[str, Any]]:
    rows = []
    for n, g in enumerate(c.d.spec.geometry, start=1):
        block = g.block
        rows.append(
            {
                "n": n,
                "block": block,
                "input_name": c.names.q[c.d.conv_stages[n - 1].input],
                "input": shape_text(g.input),
                "filters": shape_text((g.conv[0], g.input[0], *block.filter_shape)),
                "stride": block.stride,
                "padding": block.padding,
                "conv": shape_text(g.conv),
                "output": shape_text(g.output),
                "activation": ACTIVATION_NAMES[block.activation],
                "slope": f"{block.leaky_slope:g}",
                "overlap": block.pool_step < block.pool_size,
            }
        )
    return rows


def _conventions(c: Context) -> dict[str, Any]:
    d = c.d
    blocks = d.spec.blocks
    kinds = {stage.kind for stage in d.stages}
    several = len(blocks) > 1
    return {
        "padding": any(b.padding for b in blocks),
        "stride": any(b.stride > 1 for b in blocks),
        "relu": "relu" in kinds,
        "leaky": sorted({f"{b.leaky_slope:g}" for b in blocks if b.activation == "leaky_relu"}),
        "max": "maxpool" in kinds,
        "overlap": [
            n if several else None
            for n, b in enumerate(blocks, start=1)
            if b.pool_type == "max" and b.pool_step < b.pool_size
        ],
        "avg": "avgpool" in kinds,
        "in_output": sorted({b.activation for b in blocks if b.activation in ("sigmoid", "tanh")}),
        "channels": any(len(d.quantities[s.output].shape) == 3 for s in d.conv_stages)
        or len(d.quantities["X"].shape) == 3,
    }


def network_section(c: Context) -> dict[str, Any]:
    d = c.d
    spec = d.spec
    nodes = diagram_nodes(quantity_shapes(spec), ["X", *(stage.output for stage in d.stages)])
    parameters = [
        (c.names.q[p], shape_text(d.quantities[p].shape), d.quantities[p].size)
        for p in d.parameter_names
    ]
    first_conv = d.quantities[d.conv_stages[0].output]
    return {
        "nodes": nodes,
        "edges": diagram_edges(nodes),
        "layers": _layers(c),
        "blocks": _blocks(c),
        # the block table says what the layer table cannot: filter banks, stride, padding
        "block_table": any(
            g.input[0] > 1 or g.conv[0] > 1 or g.block.stride > 1 or g.block.padding
            for g in spec.geometry
        )
        or spec.n_blocks > 1,
        "parameters": parameters,
        "trained": [c.names.q[p] for p in d.parameter_names],
        "conventions": _conventions(c),
        "element_example": first_conv.symbols[first(first_conv.shape)],
    }
