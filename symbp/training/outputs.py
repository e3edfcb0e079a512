"""What a training run leaves behind: the record, the timings, the pictures, the chapter's data.

`training.json` is the reproducible record: settings, data, every step's batch loss, the
evaluations and the parameters before and after, and nothing measured by a clock, so the same
seed gives the same bytes (on the same machine and library versions). The timings go to
`timing.json` beside it.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .compat import set_writer, symbp_version
from .data import load_task
from .loop import TrainingResult
from .optim import Array
from .plots import figure_files
from .settings import TrainingSettings

RECORD, TIMING = "training.json", "timing.json"
CURVE = {"pdf": "training.pdf", "png": "training.png"}
FILTERS = {"pdf": "filters.pdf", "png": "filters.png"}
FILE_NAMES = (RECORD, TIMING, *CURVE.values(), *FILTERS.values())
INITIALIZATION = "PyTorch's default: weights and biases uniform in +-1/sqrt(fan_in), seed [seed, 0]"
BATCHES = (
    "one permutation of the training set per epoch (seed [seed, 1]); a short remainder dropped"
)


def _plain(params: Mapping[str, Array]) -> dict[str, Any]:
    """Parameters as JSON numbers: nested lists, or a number for a scalar."""
    return {name: np.asarray(value).tolist() for name, value in params.items()}


def training_record(result: Any) -> dict[str, Any]:
    """The contents of training.json (no timings)."""
    spec, final = result.spec, result.final_metrics
    return {
        "schema": "symbp-training/1",
        "symbp": symbp_version(),
        "spec": {
            "label": spec.label,
            "toml": spec.to_toml(),
            "parameter_shapes": {k: list(v) for k, v in spec.parameter_shapes.items()},
        },
        "data": result.data.summary(),
        "settings": result.settings.record(),
        "initialization": INITIALIZATION,
        "batches": BATCHES,
        "results": {
            "steps": len(result.step_loss),
            **{key: value for key, value in final.items() if key != "step"},
            "majority_rate": result.data.majority_rate,
        },
        "evaluations": result.evaluations,
        "step_loss": result.step_loss,
        "initial_parameters": _plain(result.initial),
        "final_parameters": _plain(result.final),
        "timing": f"in {TIMING}, kept out of this file so that one seed gives the same bytes",
    }


def _processor() -> str:
    """The CPU's model name, as lscpu shows it (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timing_record(result: Any) -> dict[str, Any]:
    """The contents of timing.json: what the clock measured, and where."""
    steps = len(result.step_loss)
    return {
        "schema": "symbp-training-timing/1",
        "steps": steps,
        "seconds_per_step": result.seconds_per_step,
        "gradient_and_update_seconds_per_step": result.update_seconds_per_step,
        "batch_loss_seconds_per_step": result.seconds_per_step - result.update_seconds_per_step,
        "training_seconds": result.seconds_per_step * steps,
        "train_wall_seconds": result.wall_seconds,
        "derive_seconds": result.derive_seconds,
        "torch": result.torch,
        "machine": {
            "processor": _processor(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def training_files(result: Any) -> dict[str, str | bytes]:
    """Every file of a run, name -> contents, for writing as one set (also into the folder of
    `symbp derive`, beside the chapter that shows the pictures)."""
    files: dict[str, str | bytes] = {
        RECORD: _json(training_record(result)),
        TIMING: _json(timing_record(result)),
    }
    files.update(figure_files(result))
    return files


def write_training(folder: str | Path, result: Any) -> list[str]:
    """Write the run's files into `folder` (created if needed) all at once; their names."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    files = training_files(result)
    set_writer()(path, files)
    return list(files)


def training_section_data(result: Any) -> dict[str, Any]:
    """What the chapter's "Training" section shows, from a TrainingResult or from the parsed
    contents of training.json: picture names (relative to the output folder), the task, the
    settings and the measured accuracies. Nothing timed, so the chapter stays reproducible."""
    record = result if isinstance(result, Mapping) else training_record(result)
    data, settings, results = record["data"], record["settings"], record["results"]
    summary = (
        f"After {results['steps']} steps of {settings['optimizer']} (learning rate "
        f"{settings['lr']:g}, batches of {settings['batch']}, seed {settings['seed']}) the "
        f"network classifies {results['test_accuracy']:.1%} of the {data['test_images']} "
        f"test images correctly; always answering the majority class would score "
        f"{results['majority_rate']:.1%}."
    )
    return {
        "curve": dict(CURVE),
        "filters": dict(FILTERS),
        "task": data["task"],
        "preprocessing": data["preprocessing"],
        "split": data["split"],
        "train_images": data["train_images"],
        "test_images": data["test_images"],
        "train_positives": data["train_positives"],
        "positive_digit": data["positive_digit"],
        "negative_digit": data["negative_digit"],
        "input_shape": list(data["input_shape"]),
        "channels": data["channels"],
        "settings": dict(settings),
        "initialization": record["initialization"],
        "steps": results["steps"],
        "train_loss": results["train_loss"],
        "train_accuracy": results["train_accuracy"],
        "test_loss": results["test_loss"],
        "test_accuracy": results["test_accuracy"],
        "majority_rate": results["majority_rate"],
        "initial_test_accuracy": record["evaluations"][0]["test_accuracy"],
        "summary": summary,
    }


def result_from_record(record: Mapping[str, Any], spec: Any, data: Any = None) -> TrainingResult:
    """A TrainingResult rebuilt from the parsed contents of training.json and the spec it was
    trained on (the record holds the spec's TOML; they must agree), so that the pictures can
    be drawn again without training again. The timings are not in the record: none here."""
    if record.get("schema") != "symbp-training/1":
        raise ValueError("not a symbp training record (schema symbp-training/1)")
    if record["spec"]["toml"] != spec.to_toml():
        raise ValueError("the training record was made for another network than this spec")
    kept = ("steps", "lr", "batch", "seed", "optimizer")
    settings = TrainingSettings(**{key: record["settings"][key] for key in kept})
    settings.validate()
    data = data if data is not None else load_task(spec)
    shapes = spec.parameter_shapes

    def arrays(params: Mapping[str, Any]) -> dict[str, Array]:
        return {
            name: np.asarray(params[name], dtype=np.float64).reshape(shapes[name])
            for name in shapes
        }

    return TrainingResult(
        spec=spec,
        settings=settings,
        data=data,
        initial=arrays(record["initial_parameters"]),
        final=arrays(record["final_parameters"]),
        step_loss=[float(value) for value in record["step_loss"]],
        evaluations=[dict(evaluation) for evaluation in record["evaluations"]],
        loss_seconds=[],
        update_seconds=[],
    )
