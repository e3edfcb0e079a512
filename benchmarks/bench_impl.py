"""The gradient implementations the benchmark races, behind one calling convention.

Every implementation is a callable `(X, Y, params) -> {name: ndarray}` returning dL/d(parameter)
of the mean binary cross-entropy, shaped like `spec.parameter_shapes`. Conversions (NumPy to
torch tensors and back) happen inside the callable, so they are counted in every figure.

`handwritten_gradients` is the baseline the issue names: a straightforward NumPy version with
shifted slices, written here independently of symbp so it cannot share a mistake with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import bench_blas
import bench_jax
import numpy as np
from numpy.typing import NDArray

from symbp.spec.model import NetworkSpec

Array = NDArray[np.float64]
Params = Mapping[str, Any]
GradientFn = Callable[[Array, Array, Params], dict[str, Array]]

HANDWRITTEN_CHUNK = 4096  # images per chunk: its (H, W, chunk) temporaries stay in cache


def random_problem(
    spec: NetworkSpec, m: int, seed: int = 0
) -> tuple[Array, Array, dict[str, Array]]:
    """Images, 0/1 labels and parameters; W1 is scaled so about half the ReLUs are active."""
    rng = np.random.default_rng(seed)
    h, w = spec.input_shape
    x = rng.standard_normal((m, h, w))
    y = rng.integers(0, 2, m).astype(np.float64)
    kh, kw = spec.filter_shape
    params = {
        "W1": rng.standard_normal((kh, kw)) / np.sqrt(kh * kw),
        "B1": np.asarray(0.1),
        "W2": rng.standard_normal((spec.n_features, 1)),
        "B2": np.asarray(-0.05),
    }
    return x, y, params


# ------------------------------------------------------------------------ hand-written NumPy
def _sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _pool_offsets(spec: NetworkSpec) -> list[tuple[slice, slice]]:
    """(rows, cols) slices of the conv output picking window offset k of every pool window."""
    (ph, pw), p, s = spec.pool_shape, spec.pool_size, spec.pool_step
    return [
        (slice(a, a + s * (ph - 1) + 1, s), slice(b, b + s * (pw - 1) + 1, s))
        for a in range(p)
        for b in range(p)
    ]


def _handwritten_chunk(
    images: Array, y: Array, w1: Array, b1: float, w2: Array, b2: float, spec: NetworkSpec
) -> Array:
    """Sums over the chunk of dL/d(theta) per image, theta = (W1, B1, W2, B2) flattened.

    The chunk is first laid out pixel-major, (H, W, m), so every shifted slice is a run of
    contiguous vectors over images: the same (M, H, W) -> per-pixel change symbp makes, and
    2-3x faster than slicing the (m, H, W) array directly (whose inner loops are W long).
    """
    (ch, cw), (kh, kw) = spec.conv_shape, spec.filter_shape
    x = np.ascontiguousarray(images.transpose(1, 2, 0))
    m = x.shape[2]
    # Forward: the convolution as kh*kw shifted-slice multiply-adds.
    z1 = np.full((ch, cw, m), b1)
    product = np.empty_like(z1)
    for a in range(kh):
        for b in range(kw):
            np.multiply(x[a : a + ch, b : b + cw], w1[a, b], out=product)
            z1 += product
    active = z1 > 0  # ReLU'(z1), 0 at 0
    a1 = np.maximum(z1, 0.0)
    # Max-pool; `winners[k]`: window offset k holds the first maximum (strict > while scanning).
    offsets = _pool_offsets(spec)
    p1 = a1[offsets[0]].copy()
    winners = [np.ones(p1.shape, dtype=bool)]
    for rows, cols in offsets[1:]:
        candidate = a1[rows, cols]
        better = candidate > p1
        np.copyto(p1, candidate, where=better)
        for earlier in winners:
            earlier &= ~better
        winners.append(better)
    f = p1.reshape(-1, m)  # row-major features, one column per image
    dz2 = _sigmoid(w2[:, 0] @ f + b2) - y
    # Backward: route dP1 to the winners, mask with ReLU', correlate dZ1 with X.
    dp1 = (w2[:, :1] * dz2).reshape(p1.shape)
    dz1 = np.zeros_like(z1)
    for winner, (rows, cols) in zip(winners, offsets, strict=True):
        dz1[rows, cols] += np.where(winner, dp1, 0.0)
    dz1 *= active
    dw1 = [
        np.einsum("ijm,ijm->", dz1, x[a : a + ch, b : b + cw]) for a in range(kh) for b in range(kw)
    ]
    return np.concatenate([dw1, [dz1.sum()], f @ dz2, [dz2.sum()]])


def handwritten_gradients(spec: NetworkSpec) -> GradientFn:
    """The straightforward shifted-slice NumPy implementation, in cache-sized chunks."""
    shapes = spec.parameter_shapes

    def gradients(x: Array, y: Array, params: Params) -> dict[str, Array]:
        w1 = np.asarray(params["W1"], dtype=np.float64)
        w2 = np.asarray(params["W2"], dtype=np.float64)
        b1, b2 = float(params["B1"]), float(params["B2"])
        sums = np.zeros(spec.parameter_count)
        for start in range(0, x.shape[0], HANDWRITTEN_CHUNK):
            stop = start + HANDWRITTEN_CHUNK
            sums += _handwritten_chunk(x[start:stop], y[start:stop], w1, b1, w2, b2, spec)
        sums /= x.shape[0]
        return _split(sums, shapes)

    return gradients


def _split(flat: Array, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    result, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape, dtype=int))
        result[name] = flat[start : start + size].reshape(shape)
        start += size
    return result


# ------------------------------------------------------------------------------- the others
def symbp_module(spec: NetworkSpec) -> ModuleType:
    """symbp's compiled module, `load(derive(spec))`, exactly as users get it."""
    from symbp import derive, load

    return load(derive(spec))


def engine_gradients(spec: NetworkSpec) -> GradientFn:
    """The numeric layer-list engine (`symbp.reference.engine.NumericNetwork`)."""
    from symbp.reference.engine import NumericNetwork

    return NumericNetwork(spec).gradients


def torch_gradients(spec: NetworkSpec, dtype: str) -> GradientFn:
    """PyTorch autograd: the network of symbp.reference.torch_oracle, without dL/dX.

    Only the parameters require gradients (the oracle also asks for dL/dX, which `gradients()`
    does not compute). NumPy -> tensor (a copy for float32) and back is inside the timing.
    """
    import torch

    functional = torch.nn.functional
    torch_dtype = getattr(torch, dtype)
    shapes = spec.parameter_shapes
    pool, stride = spec.pool_size, spec.pool_step

    def gradients(x: Array, y: Array, params: Params) -> dict[str, Array]:
        images = torch.from_numpy(x).to(torch_dtype)[:, None]
        labels = torch.from_numpy(y).to(torch_dtype)
        leaves = [
            torch.tensor(np.asarray(params[name]), dtype=torch_dtype, requires_grad=True)
            for name in shapes
        ]
        w1, b1, w2, b2 = leaves
        z1 = functional.conv2d(images, w1[None, None], b1.reshape(1))
        p1 = functional.max_pool2d(functional.relu(z1), kernel_size=pool, stride=stride)
        z2 = (torch.flatten(p1, start_dim=1) @ w2)[:, 0] + b2
        loss = functional.binary_cross_entropy_with_logits(z2, labels)
        grads = torch.autograd.grad(loss, leaves)
        return {
            name: g.numpy().astype(np.float64).reshape(shape)
            for (name, shape), g in zip(shapes.items(), grads, strict=True)
        }

    return gradients


def torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op thread pool held to n threads inside the block."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


Setting = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class Implementation:
    """One contender: its gradient function and how it is compared and timed."""

    name: str
    label: str
    gradients: GradientFn
    loose: bool = False  # float32: compared with the loose tolerance
    diagnostic: bool = False  # shown for explanation; no target depends on it
    setting: Setting = nullcontext  # thread settings it is checked and timed under


TORCH_NOTE = (
    "torch64/torch32 run with 1 intra-op thread, like NumPy: on this shared 2-core machine "
    "PyTorch's default 2-thread OpenMP pool stalls for milliseconds whenever the other core is "
    "busy (torch64-2thr shows it); 1 thread is the fair and the harder baseline"
)


JAX_LABEL = "JAX jit(value_and_grad) float64, XLA's default threads"
JAX_NOTE = (
    "jax = jax.jit(jax.value_and_grad(loss)) in float64 with XLA's default threads "
    "(benchmarks/bench_jax.py), conversion to device arrays and back included, dL/dX not requested"
)


def fused_gradients(spec: NetworkSpec) -> GradientFn | None:
    """The fused C backend's gradients, or None where no C compiler is available."""
    from symbp.codegen.fused import FusedUnavailable, compile_fused
    from symbp.symbolic.derivation import derive

    try:
        return compile_fused(derive(spec)).gradients
    except FusedUnavailable:
        return None


def build(spec: NetworkSpec) -> list[Implementation]:
    """Every implementation, in table order; torch and JAX only when installed."""
    symbp = symbp_module(spec).gradients
    found = [
        Implementation("symbp", "symbp compiled module, load(derive(spec))", symbp),
        Implementation("engine", "symbp.reference.engine.NumericNetwork", engine_gradients(spec)),
        Implementation("numpy", "hand-written NumPy, shifted slices", handwritten_gradients(spec)),
    ]
    fused = fused_gradients(spec)
    if fused is not None:
        found.append(
            Implementation(
                "symbp-c", "symbp's optional fused C backend (symbp.codegen.fused)", fused
            )
        )
    if torch_version() is not None:
        one = functools.partial(torch_threads, 1)
        found += [
            Implementation(
                "torch64",
                "PyTorch autograd float64, 1 thread",
                torch_gradients(spec, "float64"),
                setting=one,
            ),
            Implementation(
                "torch32",
                "PyTorch autograd float32, 1 thread",
                torch_gradients(spec, "float32"),
                loose=True,
                setting=one,
            ),
        ]
    if bench_jax.available():
        found.append(
            Implementation("jax", JAX_LABEL, bench_jax.jax_gradients(spec, input_gradient=False))
        )
    if bench_blas.available():
        found.append(
            Implementation(
                "symbp-blas1",
                "symbp with OpenBLAS held to 1 thread",
                symbp,
                diagnostic=True,
                setting=functools.partial(bench_blas.limited, 1),
            )
        )
    if torch_version() is not None:
        found.append(
            Implementation(
                "torch64-2thr",
                "PyTorch float64 with its default thread pool",
                torch_gradients(spec, "float64"),
                diagnostic=True,
            )
        )
    return found


def by_name(spec: NetworkSpec, name: str) -> Implementation:
    """One implementation (the memory probe builds only the one it measures)."""
    makers: dict[str, Callable[[], GradientFn]] = {
        "symbp": lambda: symbp_module(spec).gradients,
        "engine": lambda: engine_gradients(spec),
        "numpy": lambda: handwritten_gradients(spec),
        "torch64": lambda: torch_gradients(spec, "float64"),
        "torch32": lambda: torch_gradients(spec, "float32"),
        "jax": lambda: bench_jax.jax_gradients(spec, input_gradient=False),
    }
    setting = functools.partial(torch_threads, 1) if name.startswith("torch") else nullcontext
    return Implementation(name, name, makers[name](), loose=name == "torch32", setting=setting)
