"""The chain-rule derivation, layer by layer, as a data structure.

`derive(spec)` builds the network's element expressions from the layer table, then walks the
layers from the loss back to the input. Every step differentiates the layer's own element
expressions with `sympy.diff` (a sparse local Jacobian) and contracts it with the gradient
arriving from above: dIn[s] = sum_o dOut[o] * d out[o] / d s. Results stay *staged*: each
gradient is written in terms of the gradient symbols of the layer above (dz1_0_0, ...), not
substituted all the way down, which keeps expressions small and the steps readable.

The `Derivation` it returns is what every consumer reads: the document templates, the code
generator and the proofs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from symbp.spec.model import NetworkSpec, SpecError
from symbp.spec.naming import element_stem
from symbp.support import progress

from .construct import times, total
from .layers import LAYER_RULES, LayerRule, Stage, network_stages
from .symbols import Quantity, gradient_quantity, make_quantity, object_array, rebuild_node


def quantity_shapes(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """Every quantity's shape, in the order the pipeline meets them (X, W1, B1, Z1, ...)."""
    shapes: dict[str, tuple[int, ...]] = {"X": spec.image_shape}
    parameters = spec.parameter_shapes
    for stage in network_stages(spec):
        for name in stage.params:
            shapes[name] = parameters.get(name, ())
        shapes[stage.output] = stage.shape
    return shapes


@dataclass(frozen=True)
class ForwardStep:
    """out[index] = expression of the stage's input and parameter symbols."""

    stage: Stage
    title: str
    expressions: np.ndarray


@dataclass(frozen=True)
class Step:
    """One application of the chain rule: the gradient of `target` from the one of `upstream`.

    `local` is the sparse local Jacobian found by `sympy.diff`: (output index, target index) ->
    d output / d target. `gradient[index]` is the contraction with the upstream gradient symbols.
    """

    stage: Stage
    title: str
    target: str
    upstream: str
    local: dict[tuple[tuple[int, ...], tuple[int, ...]], sp.Expr]
    gradient: np.ndarray

    @property
    def is_parameter(self) -> bool:
        return self.target in self.stage.params


@dataclass(frozen=True)
class HeadCollapse:
    """How (dL/dA)(dA/dZ) of the output unit reduces to A - Y, with SymPy's intermediate forms
    (A the prediction, Z its logit: A2 and Z2 in the teaching network)."""

    dloss_dprediction: sp.Expr  # diff(L, a)
    dprediction_dlogit: sp.Expr  # diff(sigma(z), z), in z
    dprediction_in_output: sp.Expr  # the same, re-expressed with a = sigma(z): a (1 - a)
    product: sp.Expr  # dL/da2 * da2/dz2 as written
    simplified_in_z2: sp.Expr  # simplify() of the product with a2 = sigma(z2)
    result: sp.Expr  # in terms of a2 and y: a2 - y


@dataclass(eq=False)  # identity semantics: compiled code is cached per derivation
class Derivation:
    """Everything the derivation found, in order; read by the renderer, the compiler, the proofs."""

    spec: NetworkSpec
    stages: list[Stage]
    quantities: dict[str, Quantity]
    gradient_symbols: dict[str, Quantity]
    forward: list[ForwardStep]
    steps: list[Step]
    head: HeadCollapse
    gradients: dict[str, np.ndarray]  # every quantity's staged gradient, parameters included

    @property
    def parameter_count(self) -> int:
        return sum(self.quantities[name].size for name in self.parameter_names)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """W1, B1, ..., in the generated module's order: each block's, then the dense layer's."""
        return tuple(self.spec.parameter_shapes)

    @property
    def prediction(self) -> str:
        """The network's output quantity, sigmoid of the logit: 'A2' in the teaching network."""
        return self.stages[-1].input

    @property
    def logit(self) -> str:
        """The dense layer's output, 'Z2' in the teaching network."""
        return self.stages[-2].input

    @property
    def conv_stages(self) -> list[Stage]:
        return [stage for stage in self.stages if stage.kind == "conv"]

    @cached_property
    def latex_names(self) -> dict[sp.Symbol, str]:
        """symbol -> LaTeX, for the LaTeX printer's `symbol_names` setting."""
        names: dict[sp.Symbol, str] = {}
        for quantity in [*self.quantities.values(), *self.gradient_symbols.values()]:
            names.update(quantity.latex_names())
        return names

    @cached_property
    def forward_definitions(self) -> dict[sp.Symbol, sp.Expr]:
        """Forward symbol -> its element expression (z1_0_0 -> sum of products + b1, ...)."""
        definitions: dict[sp.Symbol, sp.Expr] = {}
        for step in self.forward:
            if step.stage.output == "L":
                continue
            out = self.quantities[step.stage.output]
            for index in out.indices():
                definitions[out.symbols[index]] = step.expressions[index]
        return definitions

    @cached_property
    def backward_definitions(self) -> dict[sp.Symbol, sp.Expr]:
        """Gradient symbol -> its staged expression (dz1_0_0 -> da1_0_0 * [z1_0_0 > 0], ...)."""
        definitions: dict[sp.Symbol, sp.Expr] = {}
        for symbol, expr in self.staged_assignments():
            if symbol not in self.forward_definitions:
                definitions[symbol] = expr
        return definitions

    def chain(self, name: str) -> list[str]:
        """Quantities on the path from L down to `name`: ['L','A2','Z2','F','P1','A1','Z1','W1']."""
        path = [name]
        current = name
        while current != "L":
            stage = next(s for s in self.stages if current in (s.input, *s.params))
            current = stage.output
            path.append(current)
        return path[::-1]

    def staged_assignments(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """Forward then backward assignments in dependency order, for the code generator.

        The backward part assigns the gradient symbols of the intermediate quantities
        (dz2, df_k, dp1_i_j, da1_i_j, dz1_i_j) in the order the chain rule reached them.
        """
        assignments = list(self.forward_definitions.items())
        for step in self.steps:
            if step.is_parameter or step.target == "X":
                continue
            symbols = self.gradient_symbols["d" + step.target]
            for index in symbols.indices():
                assignments.append((symbols.symbols[index], step.gradient[index]))
        return assignments


# ----------------------------------------------------------------------------------- derive
def _symbol_positions(quantities: list[Quantity]) -> dict[sp.Symbol, tuple[str, tuple[int, ...]]]:
    positions: dict[sp.Symbol, tuple[str, tuple[int, ...]]] = {}
    for quantity in quantities:
        for index in quantity.indices():
            positions[quantity.symbols[index]] = (quantity.name, index)
    return positions


class _TemplateDiff:
    """`sympy.diff` of element expressions, memoized by their shape.

    Every window of a convolution or pool is the same function of its own symbols, so the
    expression is rewritten over positional placeholders (in a fixed symbol order), differentiated
    once per distinct template, and the derivatives are mapped back. The derivatives are exactly
    those `sympy.diff` gives the original expression; only the repeats are skipped.
    """

    def __init__(self) -> None:
        self._cache: dict[sp.Expr, list[sp.Expr]] = {}
        self._by_shape: dict[object, list[sp.Expr]] = {}
        self._placeholders: list[sp.Symbol] = []

    def __call__(self, expr: sp.Expr, symbols: list[sp.Symbol]) -> list[sp.Expr]:
        while len(self._placeholders) < len(symbols):
            self._placeholders.append(sp.Symbol(f"_slot{len(self._placeholders)}", real=True))
        slots = self._placeholders[: len(symbols)]
        # Building the template costs as much as SymPy's evaluation of the expression; its
        # shape (the tree with each symbol's slot) is found in a plain walk. Equal shapes
        # make equal templates; a shape seen for the first time builds its template.
        shape = _shape(expr, {symbol: ("slot", n) for n, symbol in enumerate(symbols)})
        derivatives = self._by_shape.get(shape)
        if derivatives is None:
            template = _instantiate(expr, dict(zip(symbols, slots, strict=True)))
            derivatives = self._cache.get(template)
            if derivatives is None:
                derivatives = [_diff(template, slot) for slot in slots]
                self._cache[template] = derivatives
            self._by_shape[shape] = derivatives
        back = dict(zip(slots, symbols, strict=True))
        return [_instantiate(d, back) for d in derivatives]


def _shape(expr: sp.Basic, slots: dict[sp.Basic, tuple[str, int]]) -> object:
    """The expression tree as nested tuples, each symbol of `slots` replaced by its slot."""
    if expr in slots:
        return slots[expr]
    if not expr.args:
        return (type(expr), expr)  # the type too: some numbers of different types compare equal
    return (expr.func, *(_shape(arg, slots) for arg in expr.args))


def _diff(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """sympy.diff; for a sum, only of the terms that contain the symbol (the rest give 0).

    A dense layer's output is a sum over all its inputs: differentiating every term for every
    input would make that layer quadratic in its width.
    """
    if isinstance(expr, sp.Add):
        return sp.Add(*(sp.diff(term, symbol) for term in expr.args if term.has(symbol)))
    return sp.diff(expr, symbol)


def _instantiate(template: sp.Basic, mapping: dict[sp.Symbol, sp.Symbol]) -> sp.Basic:
    """xreplace(mapping) for a template, via `rebuild_node` (no re-evaluation)."""
    if template in mapping:
        return mapping[template]
    if not template.args:
        return template
    return rebuild_node(template, [_instantiate(arg, mapping) for arg in template.args])


def _vector_jacobian_product(
    outputs: np.ndarray, upstream: np.ndarray | sp.Expr, wrt: list[Quantity]
) -> dict[str, tuple[np.ndarray, dict]]:
    """Contract d outputs / d wrt (from sympy.diff) with the upstream gradient.

    Only the symbols that actually occur in an output are differentiated, so a convolution
    costs (outputs x filter size) derivatives, not (outputs x inputs).
    """
    positions = _symbol_positions(wrt)
    differentiate = _TemplateDiff()
    terms: dict[str, dict[tuple[int, ...], list[sp.Expr]]] = {q.name: {} for q in wrt}
    local: dict[str, dict] = {q.name: {} for q in wrt}
    for out_index in np.ndindex(*outputs.shape):
        expr = outputs[out_index]
        incoming = upstream[out_index] if isinstance(upstream, np.ndarray) else upstream
        occurring = sorted(
            (s for s in expr.free_symbols if s in positions), key=lambda s: positions[s]
        )
        for symbol, derivative in zip(occurring, differentiate(expr, occurring), strict=True):
            if derivative == 0:
                continue
            name, index = positions[symbol]
            local[name][(out_index, index)] = derivative
            terms[name].setdefault(index, []).append(times(incoming, derivative))
    result: dict[str, tuple[np.ndarray, dict]] = {}
    for quantity in wrt:
        gradient = object_array(quantity.shape)
        for index, parts in terms[quantity.name].items():
            gradient[index] = total(parts)
        result[quantity.name] = (gradient, local[quantity.name])
    return result


def _collapse_head(
    dloss_dprediction: sp.Expr,
    dprediction_dlogit: sp.Expr,
    a2: sp.Symbol,
    z2: sp.Symbol,
    sigmoid: sp.Expr,
) -> HeadCollapse:
    """Multiply the BCE and sigmoid factors and let SymPy find the simple form.

    The product is simplified with a2 written as sigma(z2); the result is then re-expressed in
    a2 by eliminating z2 through the inverse of the sigmoid (found by `sympy.solve`).
    """
    in_a2 = _express_in_output(dprediction_dlogit, z2, a2, sigmoid)
    product = dloss_dprediction * dprediction_dlogit
    simplified = sp.simplify(product.subs(a2, sigmoid))
    result = sp.factor_terms(sp.simplify(_express_in_output(simplified, z2, a2, sigmoid)))
    return HeadCollapse(dloss_dprediction, dprediction_dlogit, in_a2, product, simplified, result)


def _express_in_output(expr: sp.Expr, z: sp.Symbol, a: sp.Symbol, f: sp.Expr) -> sp.Expr:
    """Rewrite expr(z) in terms of a = f(z), using z = f^{-1}(a) as SymPy solves it."""
    inverses = sp.solve(sp.Eq(a, f), z)
    for inverse in inverses:
        candidate = sp.simplify(expr.subs(z, inverse))
        if z not in candidate.free_symbols:
            return sp.expand(candidate) if candidate.is_polynomial(a) else candidate
    return expr


def derive(
    spec: NetworkSpec | None = None, rules: Mapping[str, LayerRule] = LAYER_RULES
) -> Derivation:
    """Derive every gradient of the network in `spec` by the chain rule, element by element.

    `rules` is the layer table; tests pass a modified copy to show the proofs catching a
    broken convention.
    """
    if spec is None:
        spec = NetworkSpec()
    elif not isinstance(spec, NetworkSpec):
        raise SpecError(
            f"derive() takes a NetworkSpec, for example NetworkSpec(input_shape=(8, 8)); "
            f"got {type(spec).__name__}"
        )
    stages = network_stages(spec)
    shapes = quantity_shapes(spec)
    quantities = {
        name: make_quantity(name, *element_stem(name), shape) for name, shape in shapes.items()
    }

    forward = _forward_pass(stages, quantities, rules)
    gradient_symbols = {
        "d" + name: gradient_quantity(quantities[name])
        for name in ["X", *(stage.output for stage in stages[:-1])]
    }
    steps, gradients, head = _chain_rule(stages, forward, quantities, gradient_symbols, rules)
    return Derivation(spec, stages, quantities, gradient_symbols, forward, steps, head, gradients)


def _forward_pass(
    stages: list[Stage], quantities: dict[str, Quantity], rules: Mapping[str, LayerRule]
) -> list[ForwardStep]:
    """Each stage's output elements as expressions in its input's and parameters' symbols."""
    forward: list[ForwardStep] = []
    for done, stage in enumerate(stages):
        progress.step("forward pass", done, len(stages), stage.output)
        rule = rules[stage.kind]
        params = {name: quantities[name].symbols for name in stage.params}
        expressions = rule.build(quantities[stage.input].symbols, params, stage)
        forward.append(ForwardStep(stage, rule.title, expressions))
    return forward


def _chain_rule(
    stages: list[Stage],
    forward: list[ForwardStep],
    quantities: dict[str, Quantity],
    gradient_symbols: dict[str, Quantity],
    rules: Mapping[str, LayerRule],
) -> tuple[list[Step], dict[str, np.ndarray], HeadCollapse]:
    """Back from the loss, one stage at a time: each stage's local derivatives (sympy.diff)
    times the gradient arriving from above, which is a symbol per element (dz1_0_0, ...)."""
    steps: list[Step] = []
    gradients: dict[str, np.ndarray] = {}
    head: HeadCollapse | None = None
    upstream: np.ndarray | sp.Expr = sp.S.One  # dL/dL
    prediction = stages[-1].input
    for done, (stage, fwd) in enumerate(zip(reversed(stages), reversed(forward), strict=True)):
        progress.step("chain rule", done, len(stages), f"through {stage.output}")
        rule = rules[stage.kind]
        wrt = [quantities[stage.input]] + [quantities[p] for p in stage.params if p != "Y"]
        products = _vector_jacobian_product(fwd.expressions, upstream, wrt)
        for quantity in wrt:
            gradient, local = products[quantity.name]
            if stage.output == prediction:
                # The BCE and sigmoid factors collapse: record how, and keep the simple form.
                a, z = quantities[stage.output].symbols[()], quantity.symbols[()]
                da_dz = local[((), ())]
                head = _collapse_head(gradients[prediction][()], da_dz, a, z, fwd.expressions[()])
                gradient = object_array(())
                gradient[()] = head.result
            elif rule.in_output:
                gradient, local = _in_output(stage, fwd, quantities, upstream, local)
            steps.append(Step(stage, rule.title, quantity.name, stage.output, local, gradient))
            gradients[quantity.name] = gradient
        upstream = gradient_symbols["d" + stage.input].symbols
    assert head is not None
    progress.step("chain rule", len(stages), len(stages))
    return steps, gradients, head


def _in_output(
    stage: Stage,
    fwd: ForwardStep,
    quantities: dict[str, Quantity],
    upstream: np.ndarray | sp.Expr,
    local: dict,
) -> tuple[np.ndarray, dict]:
    """An elementwise layer's derivative rewritten in its output a = f(z), found once.

    sympy.diff gives f'(z) (for the sigmoid, e^{-z} / (1 + e^{-z})^2); `sympy.solve` inverts
    a = f(z) and the derivative becomes a (1 - a), or 1 - a^2 for tanh. Element by element it
    is the same function, so it is found for one element and renamed for the others.
    """
    inputs, outputs = quantities[stage.input].symbols, quantities[stage.output].symbols
    assert isinstance(upstream, np.ndarray)
    first = next(iter(np.ndindex(*inputs.shape)))
    z, a = inputs[first], outputs[first]
    derivative = local[(first, first)]
    direct = derivative.xreplace({fwd.expressions[first]: a})  # tanh' = 1 - tanh^2 is direct
    if z in direct.free_symbols:
        template = _express_in_output(derivative, z, a, fwd.expressions[first])
    else:
        template = sp.expand(direct)
    new_local: dict = {}
    gradient = object_array(inputs.shape)
    for index in np.ndindex(*inputs.shape):
        derivative = template.xreplace({z: inputs[index], a: outputs[index]})
        new_local[(index, index)] = derivative
        gradient[index] = upstream[index] * derivative
    return gradient, new_local
