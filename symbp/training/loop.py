"""The training loop: mini-batch gradient descent with the compiled module's gradients().

Everything that decides the numbers is seeded: the initial parameters (PyTorch's default
initialization, drawn from NumPy's generator seeded with [seed, 0]) and the order of the
batches (a fresh permutation of the training set per epoch from [seed, 1]; a remainder too
small for a batch is dropped). So one seed gives the same run, bit for bit, and another
implementation handed the same initial parameters and `iter_batches` sees the same data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import compat
from .data import DigitData, load_task
from .optim import Array, Parameters, make_optimizer
from .settings import TrainingSettings

GradientFunction = Callable[[Array, Array, Mapping[str, Array]], Mapping[str, Array]]
StepObserver = Callable[[int, Parameters], None]
EVALUATION_POINTS = 100  # full train/test evaluations per run, besides step 0
# A loss this many times its start (cross-entropy starts near 0.7) is a run that blew up,
# even while it is still finite: its parameters and pictures would be no record of learning.
DIVERGENCE_FACTOR = 1e6


class TrainingDiverged(ArithmeticError):
    """The parameters stopped being finite or the loss blew up; the message gives the step and
    what to do."""


@dataclass
class TrainingResult:
    """What one run did: the data it saw, every step's batch loss, the evaluations (full
    training and test sets, about 100 times), the parameters before and after, and (kept apart
    from the reproducible record) its timings."""

    spec: Any
    settings: TrainingSettings
    data: DigitData
    initial: Parameters
    final: Parameters
    step_loss: list[float]
    evaluations: list[dict[str, float]]
    loss_seconds: list[float] = field(repr=False)
    update_seconds: list[float] = field(repr=False)
    derive_seconds: float | None = None
    wall_seconds: float | None = None  # the whole of train(): steps, evaluations, reports
    torch: dict[str, Any] | None = None  # filled in by a PyTorch comparison, when asked for

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.evaluations[-1]

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of a step: its batch loss, gradients and update."""
        return (math.fsum(self.loss_seconds) + math.fsum(self.update_seconds)) / len(
            self.loss_seconds
        )

    @property
    def update_seconds_per_step(self) -> float:
        """Mean wall time of gradients() and the update alone: what learning needs."""
        return math.fsum(self.update_seconds) / len(self.update_seconds)


def initial_parameters(spec: Any, seed: int) -> Parameters:
    """PyTorch's default initialization of Conv2d and Linear: weights and biases uniform in
    +-1/sqrt(fan_in), so that a PyTorch user would start from the same kind of point."""
    rng = np.random.default_rng([seed, 0])
    fan_ins = [
        geometry.input[0] * geometry.block.filter_shape[0] * geometry.block.filter_shape[1]
        for geometry in spec.geometry
    ] + [spec.n_features]
    params: Parameters = {}
    for n, fan_in in enumerate(fan_ins, start=1):
        bound = 1.0 / math.sqrt(fan_in)
        for name in (f"W{n}", f"B{n}"):
            shape = tuple(spec.parameter_shapes[name])
            params[name] = np.asarray(rng.uniform(-bound, bound, size=shape), dtype=np.float64)
    return params


def iter_batches(train_size: int, batch: int, steps: int, seed: int) -> Iterator[NDArray[np.intp]]:
    """The indices of each step's batch: consecutive slices of one permutation per epoch."""
    rng = np.random.default_rng([seed, 1])
    per_epoch = train_size // batch
    order = rng.permutation(train_size)
    used = 0
    for _ in range(steps):
        if used == per_epoch:
            order, used = rng.permutation(train_size), 0
        yield order[used * batch : (used + 1) * batch]
        used += 1


def accuracy(probabilities: Array, labels: Array) -> float:
    """Share of images whose prediction (positive when A2 > 0.5) matches the label."""
    return float(np.mean((np.asarray(probabilities) > 0.5) == (labels > 0.5)))


def evaluate(
    module: Any, data: DigitData, params: Mapping[str, Array], step: int
) -> dict[str, float]:
    """Loss and accuracy on the whole training and test sets."""
    return {
        "step": step,
        "train_loss": float(module.loss(data.x_train, data.y_train, params)),
        "train_accuracy": accuracy(module.predict(data.x_train, params), data.y_train),
        "test_loss": float(module.loss(data.x_test, data.y_test, params)),
        "test_accuracy": accuracy(module.predict(data.x_test, params), data.y_test),
    }


def evaluation_steps(steps: int, points: int = EVALUATION_POINTS) -> set[int]:
    """Step 0, the last step, and evenly spaced steps between."""
    return {int(step) for step in np.linspace(0, steps, min(steps, points) + 1).round()}


def compiled_module(spec: Any) -> tuple[Any, float]:
    """The spec's generated gradient module, in memory, and the seconds it took."""
    started = time.perf_counter()
    module = compat.compiled_module(spec)
    return module, time.perf_counter() - started


def _check_finite(
    params: Parameters, numbers: list[float], step: int, settings: TrainingSettings
) -> None:
    """TrainingDiverged once a parameter or a loss is no longer a finite number: NaN in
    training.json would be no record at all (and JSON has no NaN)."""
    if not all(np.all(np.isfinite(value)) for value in params.values()):
        what = "the parameters overflowed"
    elif not all(math.isfinite(number) for number in numbers):
        what = "the loss is no longer a finite number"
    else:
        return
    raise TrainingDiverged(
        f"training diverged at step {step}: {what}; lower --lr (now {settings.learning_rate:g})"
    )


@dataclass
class _History:
    """What the loop records as it goes."""

    losses: list[float] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    loss_seconds: list[float] = field(default_factory=list)
    update_seconds: list[float] = field(default_factory=list)


def _check_growth(history: _History, settings: TrainingSettings) -> None:
    """TrainingDiverged when a logged loss rose past DIVERGENCE_FACTOR times the starting loss:
    finite, but no longer learning (--lr 100 reaches 1e67). Checked once the steps are done, so
    that a run that also overflows is reported as the overflow, at the step it happened."""
    start = history.evaluations[0]["train_loss"]
    limit = DIVERGENCE_FACTOR * max(start, 1.0)
    logged = [*enumerate(history.losses, start=1)] + [
        (int(e["step"]), max(e["train_loss"], e["test_loss"])) for e in history.evaluations
    ]
    beyond = sorted((step, loss) for step, loss in logged if loss > limit)
    if beyond:
        worst = max(loss for _, loss in beyond)
        raise TrainingDiverged(
            f"training diverged at step {beyond[0][0]}: the loss grew from {start:.3g} to "
            f"{worst:.3g}, more than {DIVERGENCE_FACTOR:.0e} times its start; lower --lr "
            f"(now {settings.learning_rate:g})"
        )


def _descend(
    module: Any,
    gradient_of: GradientFunction,
    data: DigitData,
    settings: TrainingSettings,
    params: Parameters,
    observe: StepObserver | None,
) -> tuple[Parameters, _History]:
    """The steps themselves. A step is timed in two parts: its batch loss (at the parameters
    before the update, the loss the gradient is of) and its gradients with the update; the
    full evaluations and the progress report are outside both."""
    report = compat.progress_step()
    optimizer = make_optimizer(settings.optimizer, settings.learning_rate)
    history, wanted = _History(), evaluation_steps(settings.steps)
    history.evaluations.append(evaluate(module, data, params, 0))
    batches = iter_batches(len(data.y_train), settings.batch, settings.steps, settings.seed)
    for step, indices in enumerate(batches, start=1):
        started = time.perf_counter()
        x, y = data.x_train[indices], data.y_train[indices]
        history.losses.append(float(module.loss(x, y, params)))
        measured = time.perf_counter()
        params = optimizer.update(params, gradient_of(x, y, params))
        history.update_seconds.append(time.perf_counter() - measured)
        history.loss_seconds.append(measured - started)
        _check_finite(params, history.losses[-1:], step, settings)
        if observe is not None:
            observe(step, params)
        if step in wanted:
            history.evaluations.append(evaluate(module, data, params, step))
            _check_finite(params, list(history.evaluations[-1].values()), step, settings)
        last = history.evaluations[-1]["train_accuracy"]
        detail = f"loss {history.losses[-1]:.3f} acc {last:.2f}"
        report("training", step, settings.steps, detail)
    return params, history


def train(
    spec: Any,
    settings: TrainingSettings | None = None,
    *,
    data: DigitData | None = None,
    module: Any = None,
    gradients: GradientFunction | None = None,
    observe: StepObserver | None = None,
) -> TrainingResult:
    """Train `spec`'s network on the digit task. `module` is the compiled gradient module
    (derived here when None); `gradients` replaces its gradients() (the cross-checks pass the
    engine's, or a broken one); `observe(step, params)` sees the parameters after each step."""
    settings = settings or TrainingSettings()
    settings.validate(batch=False)  # --batch is checked against the data's size below
    data = data if data is not None else load_task(spec)
    settings.validate(train_size=len(data.y_train))
    derive_seconds = None
    if module is None:
        module, derive_seconds = compiled_module(spec)
    initial = initial_parameters(spec, settings.seed)
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught as divergence
        final, history = _descend(
            module, gradients or module.gradients, data, settings, initial, observe
        )
    _check_growth(history, settings)
    wall_seconds = time.perf_counter() - started
    return TrainingResult(
        spec=spec,
        settings=settings,
        data=data,
        initial=initial,
        final=final,
        step_loss=history.losses,
        evaluations=history.evaluations,
        loss_seconds=history.loss_seconds,
        update_seconds=history.update_seconds,
        derive_seconds=derive_seconds,
        wall_seconds=wall_seconds,
    )


def relative_difference(ours: Mapping[str, Array], theirs: Mapping[str, Array]) -> float:
    """Largest, over the parameters, of max|ours - theirs| / max|theirs| (per tensor)."""
    worst = 0.0
    for name, reference in theirs.items():
        reference = np.asarray(reference, dtype=np.float64)
        error = float(np.max(np.abs(np.asarray(ours[name], dtype=np.float64) - reference)))
        scale = float(np.max(np.abs(reference)))
        worst = max(worst, error / scale if scale > 0 else error)
    return worst
