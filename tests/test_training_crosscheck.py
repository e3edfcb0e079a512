"""Training with the compiled gradients against PyTorch and against the engine, step by step.

The same initial parameters and the same batches are trained three ways: by symbp's loop with
the generated module's gradients(); by torch.optim on a network written with PyTorch's own
layers (symbp.training.torch_reference), in float64; and by symbp's loop with the independent
NumPy engine's gradients. The parameters must agree after every one of the first 50 steps to
1e-9, relative to each tensor's size. A module whose dB1 has its sign flipped must fail that
comparison, which shows the comparison can see a wrong gradient.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from symbp import ConvBlock, NetworkSpec, derive, load
from symbp.training import (
    TrainingSettings,
    iter_batches,
    load_task,
    relative_difference,
    torch_reference,
    train,
)
from symbp.training.compat import numeric_network
from symbp.training.plots import first_layer_maps

# Skipped only where the packages are missing and nobody asked for them: CI sets CI=1 (and
# installs the train extra) and SYMBP_REQUIRE_TORCH=1, and there a missing one is a failure.
if os.environ.get("CI") != "1":
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
if os.environ.get("SYMBP_REQUIRE_TORCH") != "1":
    pytest.importorskip("torch")

STEPS = 50
TOLERANCE = 1e-9
DEFAULT = NetworkSpec(input_shape=(6, 6))
GENERAL = NetworkSpec(  # two filters, padding, leaky ReLU, overlapping avg pool, 7x7 input
    input_shape=(7, 7),
    blocks=(
        ConvBlock(
            filters=2,
            padding=1,
            activation="leaky_relu",
            leaky_slope=0.1,
            pool_type="avg",
            pool_size=3,
            pool_stride=2,
        ),
    ),
)
MULTI = NetworkSpec(  # three channels, three filters, stride 2 and padding, then a second block
    input_shape=(10, 9),
    channels=3,
    blocks=(
        ConvBlock(filters=3, stride=2, padding=1, activation="tanh", pool_type="none"),
        ConvBlock(filters=1, filter_shape=(2, 2), pool_type="none"),
    ),
)
Trajectory = list[dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def compiled() -> dict[NetworkSpec, Any]:
    return {spec: load(derive(spec)) for spec in (DEFAULT, GENERAL)}


def symbp_trajectory(
    spec: NetworkSpec, settings: TrainingSettings, module: Any, gradients: Any = None
) -> tuple[Trajectory, Any]:
    seen: Trajectory = []
    result = train(
        spec,
        settings,
        module=module,
        gradients=gradients,
        observe=lambda step, params: seen.append(params),
    )
    return seen, result


def torch_trajectory(spec: NetworkSpec, settings: TrainingSettings, result: Any) -> Trajectory:
    seen: Trajectory = []
    torch_reference.train_with_torch(
        spec, result.data, settings, result.initial, observe=lambda step, p: seen.append(p)
    )
    return seen


def differences(ours: Trajectory, theirs: Trajectory) -> list[float]:
    assert len(ours) == len(theirs) == STEPS
    return [relative_difference(a, b) for a, b in zip(ours, theirs, strict=True)]


def assert_same_training(ours: Trajectory, theirs: Trajectory) -> None:
    """The check itself: after every one of the first 50 steps, every parameter tensor agrees
    to 1e-9 relative to its size."""
    errors = differences(ours, theirs)
    wrong = [step for step, error in enumerate(errors, start=1) if not error <= TOLERANCE]
    worst = int(np.argmax(errors))
    assert not wrong, (
        f"step {wrong[0]}: {errors[wrong[0] - 1]:.2e} apart (relative); "
        f"worst {errors[worst]:.2e} at step {worst + 1}"
    )


def flipped_bias_gradient(module: Any) -> Callable[..., Mapping[str, np.ndarray]]:
    """The module's gradients() with the sign of dL/dB1 flipped: a plausible bug."""

    def broken(X: np.ndarray, Y: np.ndarray, params: Mapping[str, np.ndarray]) -> dict:
        grads = dict(module.gradients(X, Y, params))
        grads["B1"] = -grads["B1"]
        return grads

    return broken


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_default_network_matches_torch_optim_every_step(compiled: dict, optimizer: str) -> None:
    settings = TrainingSettings(steps=STEPS, optimizer=optimizer)
    ours, result = symbp_trajectory(DEFAULT, settings, compiled[DEFAULT])
    assert_same_training(ours, torch_trajectory(DEFAULT, settings, result))
    moved = relative_difference(ours[-1], result.initial)
    assert moved > 0.1  # the parameters did travel: agreement is not agreement at rest


def test_general_network_matches_torch_sgd_every_step(compiled: dict) -> None:
    settings = TrainingSettings(steps=STEPS, lr=0.2)
    ours, result = symbp_trajectory(GENERAL, settings, compiled[GENERAL])
    assert_same_training(ours, torch_trajectory(GENERAL, settings, result))


@pytest.mark.parametrize("spec", [DEFAULT, GENERAL], ids=["default", "general"])
def test_engine_gradients_give_the_same_training(compiled: dict, spec: NetworkSpec) -> None:
    settings = TrainingSettings(steps=STEPS, lr=0.2)
    ours, _ = symbp_trajectory(spec, settings, compiled[spec])
    engine = numeric_network(spec)
    by_engine, _ = symbp_trajectory(spec, settings, compiled[spec], gradients=engine.gradients)
    assert_same_training(ours, by_engine)


def test_a_flipped_bias_gradient_fails_the_torch_comparison(compiled: dict) -> None:
    settings = TrainingSettings(steps=STEPS)
    module = compiled[DEFAULT]
    broken, result = symbp_trajectory(DEFAULT, settings, module, flipped_bias_gradient(module))
    theirs = torch_trajectory(DEFAULT, settings, result)
    with pytest.raises(AssertionError, match=r"^step 1: "):  # the very check above, caught at once
        assert_same_training(broken, theirs)
    assert max(differences(broken, theirs)) > 1e-3


def test_a_flipped_bias_gradient_fails_the_engine_comparison(compiled: dict) -> None:
    settings = TrainingSettings(steps=STEPS)
    module = compiled[DEFAULT]
    broken, _ = symbp_trajectory(DEFAULT, settings, module, flipped_bias_gradient(module))
    engine = numeric_network(DEFAULT)
    by_engine, _ = symbp_trajectory(DEFAULT, settings, module, gradients=engine.gradients)
    with pytest.raises(AssertionError, match=r"^step 1: "):
        assert_same_training(broken, by_engine)


def test_compare_with_torch_reports_agreement_and_time(compiled: dict) -> None:
    result = train(DEFAULT, TrainingSettings(steps=200), module=compiled[DEFAULT])
    report = torch_reference.compare_with_torch(result)
    assert report["final_relative_difference"] <= TOLERANCE
    assert report["seconds_per_step"] > 0


def test_batches_are_the_ones_torch_sees() -> None:
    """The loop and the PyTorch reference draw from one schedule: same data, same order."""
    data = load_task(DEFAULT)
    first = [b.tolist() for b in iter_batches(len(data.y_train), 32, 20, seed=5)]
    again = [b.tolist() for b in iter_batches(len(data.y_train), 32, 20, seed=5)]
    assert first == again


@pytest.mark.parametrize("spec", [DEFAULT, GENERAL, MULTI], ids=["default", "general", "multi"])
def test_the_pictures_z1_is_the_engines(spec: NetworkSpec) -> None:
    """The filter picture computes Z1 itself (public names only); the engine agrees."""
    from symbp.training import initial_parameters

    params = initial_parameters(spec, 4)
    images = np.random.default_rng(1).normal(size=(5, *spec.image_shape))
    engine_z1 = np.asarray(numeric_network(spec).forward(images, params)["Z1"])
    ours = first_layer_maps(spec, params, images)
    assert ours.shape[:2] == (5, spec.geometry[0].conv[0])
    assert np.allclose(ours.reshape(engine_z1.shape), engine_z1, rtol=1e-12, atol=1e-12)
