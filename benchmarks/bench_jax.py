"""JAX jit as a contender: the same network, float64, `jax.jit(jax.value_and_grad(loss))`.

JAX is optional (`pip install "jax[cpu]"`); without it the benchmark says "not installed".
The network is written with JAX's own building blocks, following the spec as
`symbp.reference.torch_oracle` does for PyTorch:

- convolution: `jax.lax.conv_general_dilated` (cross-correlation, NCHW / OIHW) with the spec's
  stride and zero padding, plus one bias per filter;
- activation: `jax.nn.relu` (derivative 0 at 0, as symbp); leaky ReLU as
  `where(z > 0, z, slope * z)` (derivative `slope` at 0, as symbp and PyTorch; `jax.nn.leaky_relu`
  uses `>=`, slope 1 at 0); `jax.nn.sigmoid`, `jnp.tanh`, identity;
- pool: `jax.lax.reduce_window` with `lax.max` (or `lax.add` / window size for average);
- features flattened (filters, rows, cols), one dense unit, the mean of the stable
  BCE-with-logits `softplus(z) - y z`.

Max-pool ties: JAX differentiates `reduce_window(max)` through `select_and_scatter_add` with a
`>=` selector, which on XLA's CPU backend keeps the first maximum of each window in row-major
order: the convention of symbp and PyTorch (checked in `tie_check` on crafted ties, before
anything is timed, and printed in the agreement section).

Timing includes NumPy -> device arrays and back (`np.asarray`, which waits for the result).
XLA runs with its default threads (no per-call thread control exists in JAX).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from symbp.spec.model import NetworkSpec

Answer = dict[str, np.ndarray]
NOT_INSTALLED = 'not installed (pip install "jax[cpu]")'


def available() -> bool:
    return importlib.util.find_spec("jax") is not None


def version() -> str | None:
    if not available():
        return None
    import jax

    return str(jax.__version__)


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_gradients(spec: NetworkSpec, input_gradient: bool) -> Callable[..., Answer]:
    """`(X, Y, params) -> {name: dL/dname}` (plus "X": dL/dX if `input_gradient`), float64."""
    jax = _jax()
    jnp, lax = jax.numpy, jax.lax
    shapes = spec.parameter_shapes
    names = list(shapes)
    geometry = spec.geometry
    dense = spec.n_blocks + 1

    def activation(z: Any, block: Any) -> Any:
        kind = block.activation
        if kind == "relu":
            return jax.nn.relu(z)
        if kind == "leaky_relu":
            return jnp.where(z > 0, z, block.leaky_slope * z)
        if kind == "sigmoid":
            return jax.nn.sigmoid(z)
        if kind == "tanh":
            return jnp.tanh(z)
        if kind == "identity":
            return z
        raise ValueError(f"activation {kind!r} has no JAX version here")

    def pool(a: Any, block: Any) -> Any:
        if not block.pooled:
            return a
        window, strides = (1, 1, block.pool_size, block.pool_size), (1, 1, *(block.pool_step,) * 2)
        if block.pool_type == "max":
            return lax.reduce_window(a, -jnp.inf, lax.max, window, strides, "VALID")
        if block.pool_type == "avg":
            total = lax.reduce_window(a, 0.0, lax.add, window, strides, "VALID")
            return total / block.pool_size**2
        raise ValueError(f"pool {block.pool_type!r} has no JAX version here")

    def loss(theta: dict[str, Any], images: Any, labels: Any) -> Any:
        x = images.reshape(images.shape[0], spec.channels, *spec.input_shape)
        for n, g in enumerate(geometry, start=1):
            block = g.block
            k, c = g.conv[0], g.input[0]
            weight = theta[f"W{n}"].reshape(k, c, *block.filter_shape)
            p = block.padding
            z = lax.conv_general_dilated(
                x,
                weight,
                window_strides=(block.stride, block.stride),
                padding=((p, p), (p, p)),
                dimension_numbers=("NCHW", "OIHW", "NCHW"),
                precision=lax.Precision.HIGHEST,
            )
            z = z + theta[f"B{n}"].reshape(1, k, 1, 1)
            x = pool(activation(z, block), block)
        features = x.reshape(x.shape[0], -1)
        logits = (features @ theta[f"W{dense}"])[:, 0] + theta[f"B{dense}"]
        return jnp.mean(jax.nn.softplus(logits) - labels * logits)

    argnums = (0, 1) if input_gradient else 0
    compiled = jax.jit(jax.value_and_grad(loss, argnums=argnums))

    def gradients(x: np.ndarray, y: np.ndarray, params: Mapping[str, Any]) -> Answer:
        theta = {n: jnp.asarray(np.reshape(params[n], shapes[n]), dtype=jnp.float64) for n in names}
        images = jnp.asarray(x, dtype=jnp.float64)
        labels = jnp.asarray(y, dtype=jnp.float64).reshape(-1)
        _, grads = compiled(theta, images, labels)
        by_param, by_input = grads if input_gradient else (grads, None)
        answer = {n: np.asarray(by_param[n]).reshape(shapes[n]) for n in names}
        if by_input is not None:
            answer["X"] = np.asarray(by_input)
        return answer

    return gradients


def tie_problem(
    spec: NetworkSpec, m: int = 64, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Small-integer images and first-layer weights (bias 1): exact ties in many pool windows
    and exact zeros at the activations, where a differently routed max-pool gradient (or a
    different derivative at 0) would show. Later conv layers get weights in {-1, 0, 1} / 64 and
    bias 1/16, still exact binary fractions (ties stay ties) but small enough that a tanh or
    sigmoid is not saturated: at a pre-activation of 10, 1 - tanh^2 = 8e-9 carries a relative
    rounding error of ~1e-8, and implementations then differ by 1e-6..1e-5 (measured on
    two-blocks with integer weights: PyTorch 1.7e-6, JAX 1.8e-5) for reasons unrelated to ties."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (m, *spec.image_shape)).astype(np.float64)
    dense = spec.n_blocks + 1
    params = {}
    for name, shape in spec.parameter_shapes.items():
        layer = int(name[1:])
        later = 1 < layer < dense
        if name.startswith("W"):
            low, high, scale = (-1, 2, 1 / 64) if later else (-1, 3, 1.0)
            params[name] = rng.integers(low, high, shape).astype(np.float64) * scale
        else:
            params[name] = np.full(shape, 1 / 16 if later else 1.0)
    return x, rng.integers(0, 2, m).astype(np.float64), params


def tie_check(spec: NetworkSpec, module: Any, rtol: float = 1e-9) -> dict[str, Any]:
    """JAX against symbp's module (gradients() and input_gradient()) on crafted ties."""
    x, y, params = tie_problem(spec)
    expected = {**module.gradients(x, y, params), "X": module.input_gradient(x, y, params)}
    got = jax_gradients(spec, input_gradient=True)(x, y, params)
    worst = 0.0
    for name, value in expected.items():
        value = np.asarray(value, dtype=np.float64)
        scale = max(float(np.max(np.abs(value))), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(got[name].reshape(value.shape) - value))) / scale)
    pooled = [g for g in spec.geometry if g.block.pooled and g.block.pool_type == "max"]
    return {
        "m": len(x),
        "max_pools": len(pooled),
        "max_rel_error": worst,
        "tolerance": rtol,
        "ok": worst <= rtol,
    }
