"""The chunk-additive form: gradient sums of chunks, added, equal the gradients of the whole.

Dask (the `scale` extra) splits the data set into `dask.array` blocks and runs
`gradient_sums` on each with its local threaded scheduler, as a cluster would on workers.
"""

from __future__ import annotations

import numpy as np
import pytest

from symbp import ConvBlock, NetworkSpec, derive, load

da = pytest.importorskip("dask.array")  # CI installs the extra; see .ci/run
import dask  # noqa: E402

SPECS = {
    "default": NetworkSpec(),
    "two filters, stride 2": NetworkSpec(
        input_shape=(7, 7),
        blocks=(ConvBlock(filters=2, stride=2, padding=1, pool_type="avg", pool_size=2),),
    ),
}


def _data(module, m: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, *module.INPUT_SHAPE))
    y = (rng.random(m) > 0.5).astype(float)
    params = {name: rng.normal(size=shape) for name, shape in module.PARAMETERS.items()}
    return x, y, params


@pytest.mark.parametrize("name", list(SPECS))
def test_the_distributed_mean_equals_the_gradients(name: str) -> None:
    module = load(derive(SPECS[name]))
    x, y, params = _data(module, 5003, seed=3)  # chunks of unequal size, one of 3 images
    xs, ys = da.from_array(x, chunks=(1000, *x.shape[1:])), da.from_array(y, chunks=1000)
    parts = [
        dask.delayed(module.gradient_sums)(xb, yb, params)
        for xb, yb in zip(xs.to_delayed().ravel(), ys.to_delayed().ravel(), strict=True)
    ]
    results = dask.compute(*parts, scheduler="threads")
    assert sum(count for _, count in results) == len(x) and len(results) == 6
    whole = module.gradients(x, y, params)
    for parameter, expected in whole.items():
        total = sum(sums[parameter] for sums, _ in results) / len(x)
        assert total.shape == expected.shape
        scale = np.abs(expected).max() + 1e-300
        assert np.abs(total - expected).max() / scale < 1e-12, parameter


def test_sums_are_the_gradients_times_the_count() -> None:
    module = load(derive(NetworkSpec()))
    for m in (1, 3, 4, 5, 4097):  # the pure-Python path, its edge, the blocks, two blocks
        x, y, params = _data(module, m, seed=m)
        sums, count = module.gradient_sums(x, y, params)
        assert count == m
        for parameter, gradient in module.gradients(x, y, params).items():
            np.testing.assert_allclose(sums[parameter] / m, gradient, rtol=0, atol=1e-15)


def test_a_broken_chunk_sum_is_caught() -> None:
    """Dividing by the chunk's own size (a mean of means) is wrong for unequal chunks."""
    module = load(derive(NetworkSpec()))
    x, y, params = _data(module, 1003, seed=5)
    a, b = (
        module.gradient_sums(x[:1000], y[:1000], params),
        module.gradient_sums(x[1000:], y[1000:], params),
    )
    mean_of_means = (a[0]["W1"] / a[1] + b[0]["W1"] / b[1]) / 2
    assert not np.allclose(mean_of_means, module.gradients(x, y, params)["W1"], rtol=1e-6)
