"""The training pictures: the loss and accuracy curve, and the learned filter at work.

Figures are drawn on matplotlib `Figure` objects (the Agg canvas for PNG, the PDF backend for
PDF) without pyplot, so no global backend is chosen and no window can open. The style is
matplotlib's defaults plus the few settings below, set inside an rc_context, so a user's
matplotlibrc does not change the pictures; with the metadata fixed (no creation date, no
version strings) the same run gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .compat import progress_step
from .data import NEGATIVE_DIGIT, POSITIVE_DIGIT
from .optim import Array

STYLE: dict[str, Any] = {
    "pdf.fonttype": 42,  # TrueType: the text in the PDF stays text
    "svg.hashsalt": "symbp",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "image.interpolation": "nearest",
}
PDF_METADATA = {"Creator": "symbp train", "Producer": "matplotlib", "CreationDate": None}
PNG_METADATA = {"Software": None}
PNG_DPI = 150
KINDS = ("pdf", "png")
SAMPLES_PER_CLASS = 2
MAX_FILTERS_SHOWN = 4
ANNOTATED_CELLS = 25  # write the value into each cell of maps at most this large


@contextmanager
def fixed_style() -> Iterator[None]:
    """matplotlib's own defaults plus STYLE, whatever the user's configuration says."""
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        params: Any = matplotlib.rcParams  # typed with literal keys only
        params.update(STYLE)
        yield


def saved(figure: Any, kinds: tuple[str, ...] = KINDS) -> dict[str, bytes]:
    """The figure as PDF and PNG bytes (or those of `kinds`) with fixed metadata."""
    files = {}
    for kind in kinds:
        metadata = {"pdf": PDF_METADATA, "png": PNG_METADATA}[kind]
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind, metadata=metadata, dpi=PNG_DPI)
        files[kind] = buffer.getvalue()
    return files


def curve_figure(result: Any) -> Any:
    """Loss (every step's batch loss, and the whole training and test sets) above accuracy
    (training and test sets, with the majority-class rate to beat)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 4.2), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(2, 1, sharex=True)
    steps = [e["step"] for e in result.evaluations]
    batch_steps = np.arange(1, len(result.step_loss) + 1)
    loss_axes.plot(batch_steps, result.step_loss, color="0.75", linewidth=0.6, label="batch")
    loss_axes.plot(steps, [e["train_loss"] for e in result.evaluations], label="training set")
    loss_axes.plot(steps, [e["test_loss"] for e in result.evaluations], label="test set")
    loss_axes.set_ylabel("mean cross-entropy $L$")
    loss_axes.set_ylim(bottom=0)
    loss_axes.legend(loc="upper right")  # the loss falls away from that corner
    for key, label in (("train_accuracy", "training set"), ("test_accuracy", "test set")):
        accuracy_axes.plot(steps, [e[key] for e in result.evaluations], label=label)
    majority = result.data.majority_rate
    accuracy_axes.axhline(
        majority,
        color="0.4",
        linestyle="--",
        linewidth=0.8,
        label=f"majority class ({majority:.1%})",
    )
    lowest = min(
        min(e[key] for e in result.evaluations) for key in ("train_accuracy", "test_accuracy")
    )
    accuracy_axes.set_ylim(max(0.0, min(0.4, majority - 0.05, lowest - 0.02)), 1.01)
    accuracy_axes.set_ylabel("accuracy")
    accuracy_axes.set_xlabel(f"step ({result.settings.optimizer}, batch {result.settings.batch})")
    accuracy_axes.legend(loc="lower right")  # the curves rise away from that corner
    figure.suptitle(f"Training on digit {POSITIVE_DIGIT} against digit {NEGATIVE_DIGIT}")
    return figure


def sample_indices(labels: Array, per_class: int = SAMPLES_PER_CLASS) -> list[int]:
    """The first test images of each class, positives first."""
    chosen: list[int] = []
    for label in (1.0, 0.0):
        chosen += [int(i) for i in np.flatnonzero(labels == label)[:per_class]]
    return chosen


def effective_filters(spec: Any, weight: Array) -> Array:
    """W1 as (K, kH, kW): each filter summed over the input channels, which is the filter the
    grey image meets, since every channel holds the same image."""
    geometry = spec.geometry[0]
    shaped = np.asarray(weight).reshape(geometry.conv[0], geometry.input[0], *spec.filter_shape)
    return np.asarray(shaped.sum(axis=1), dtype=np.float64)


def first_layer_maps(spec: Any, params: Any, images: Array) -> Array:
    """Z1 = X star W1 + B1 (the first convolution, a cross-correlation with the block's stride and
    padding, before the activation) as (N, K, rows, cols). Computed here rather than by
    symbp's engine so that drawing needs only public names; a test holds it to the engine."""
    geometry = spec.geometry[0]
    block, (channels, rows, cols) = geometry.block, geometry.input
    filters, (k_rows, k_cols) = geometry.conv[0], block.filter_shape
    x = np.asarray(images, dtype=np.float64).reshape(-1, channels, rows, cols)
    pad = block.padding
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k_rows, k_cols), axis=(2, 3))
    windows = windows[:, :, :: block.stride, :: block.stride]
    weight = np.asarray(params["W1"], dtype=np.float64).reshape(filters, channels, k_rows, k_cols)
    bias = np.asarray(params["B1"], dtype=np.float64).reshape(filters)
    maps = np.einsum("ncijpq,kcpq->nkij", windows, weight) + bias[None, :, None, None]
    return np.asarray(maps, dtype=np.float64)


def _show(axes: Any, grid: Array, cmap: str, limit: float, title: str = "") -> None:
    """One map as a picture, symmetric colour limits, values written in when it is small."""
    axes.imshow(grid, cmap=cmap, vmin=-limit, vmax=limit)
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title)
    if grid.size <= ANNOTATED_CELLS:
        for (row, col), value in np.ndenumerate(grid):
            shade = "white" if abs(value) > 0.6 * limit else "black"
            axes.text(col, row, f"{value:.1f}", ha="center", va="center", fontsize=6, color=shade)


def _first_channel(images: Array, spec: Any) -> Array:
    return images if spec.channels == 1 else images[:, 0]


def filters_figure(result: Any) -> Any:
    """The learned W1 on the top row; below, a few test digits, each with its Z1 map per
    filter (the conv output before the activation, at the final parameters)."""
    from matplotlib.figure import Figure

    spec, data = result.spec, result.data
    filters = effective_filters(spec, result.final["W1"])[:MAX_FILTERS_SHOWN]
    chosen = sample_indices(data.y_test)
    z1 = first_layer_maps(spec, result.final, data.x_test[chosen])[:, : len(filters)]
    size = (1.25 * (1 + len(filters)), 1.2 * (1 + len(chosen)))
    figure = Figure(figsize=size, layout="constrained")
    grid = figure.subplots(1 + len(chosen), 1 + len(filters), squeeze=False)
    grid[0, 0].axis("off")
    grid[0, 0].text(0.5, 0.5, "learned\nfilter $W_1$", ha="center", va="center")
    weight_limit, z_limit = float(np.max(np.abs(filters))), float(np.max(np.abs(z1)))
    for k, kernel in enumerate(filters):
        _show(grid[0, 1 + k], kernel, "RdBu_r", weight_limit, f"$W_1$, filter {k + 1}")
    images = _first_channel(data.x_test[chosen], spec)
    for row, (index, image) in enumerate(zip(chosen, images, strict=True), start=1):
        digit = POSITIVE_DIGIT if data.y_test[index] == 1 else NEGATIVE_DIGIT
        _show(grid[row, 0], -image, "gray", 1.0, f"input: a {digit}")
        for k in range(len(filters)):
            title = f"its $Z_1$ (filter {k + 1})" if len(filters) > 1 else "its $Z_1$"
            _show(grid[row, 1 + k], z1[row - 1, k], "RdBu_r", z_limit, title)
    return figure


def figure_files(result: Any, kinds: tuple[str, ...] = KINDS) -> dict[str, bytes]:
    """training.pdf/.png (the curve) and filters.pdf/.png (the learned filter), as bytes;
    only the `kinds` asked for (drawing takes most of a second per file)."""
    report = progress_step()
    files: dict[str, bytes] = {}
    drawings = (("training", curve_figure), ("filters", filters_figure))
    with fixed_style():
        for done, (stem, draw) in enumerate(drawings):
            report("drawing", done, len(drawings), ", ".join(f"{stem}.{k}" for k in kinds))
            for kind, data in saved(draw(result), kinds).items():
                files[f"{stem}.{kind}"] = data
    return files
