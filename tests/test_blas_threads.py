"""The element-wise module's first-layer products stay under OpenBLAS's one-thread threshold,
so a busy second core cannot stall them (issue 17, item 2): read from the generated module's
own constants, for every spec of the architecture matrix whose first layer is one product."""

from __future__ import annotations

import pytest
from architectures import ARCHITECTURES

from symbp.codegen.blas import SINGLE_THREAD_PRODUCT
from symbp.codegen.module import load
from symbp.symbolic.derivation import derive

SMALL = [(n, s) for n, s in ARCHITECTURES if n != "mnist-28x28"]


@pytest.mark.parametrize(("name", "spec"), SMALL, ids=[n for n, _ in SMALL])
def test_first_layer_products_run_on_one_thread(name, spec):
    module = load(derive(spec))
    rows, cols = shape = module.JACOBIAN_SHAPE
    assert rows * cols * module.CHUNK <= SINGLE_THREAD_PRODUCT, (shape, module.CHUNK)


def test_a_wide_first_layer_gets_a_small_chunk():
    """The rgb-strided example's 50 x 300 Jacobian: 16 images per product (was 1024)."""
    from pathlib import Path

    from symbp.spec.config import load_config

    spec = load_config(str(Path(__file__).resolve().parent.parent / "examples/rgb-strided.toml"))
    module = load(derive(spec))
    assert module.JACOBIAN_SHAPE == (50, 300) and module.CHUNK == 16
