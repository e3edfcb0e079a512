"""What the figures were measured on: without it a throughput number means nothing."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path
from typing import Any

import bench_blas
import bench_jax
import numpy as np
import sympy
from bench_impl import torch_version


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def info() -> dict[str, Any]:
    torch = torch_version()
    threads = None
    if torch is not None:
        import torch as torch_module

        threads = torch_module.get_num_threads()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sympy": sympy.__version__,
        "torch": torch,
        "torch_threads": threads,
        "jax": bench_jax.version(),
        "openblas_threads": bench_blas.get_threads(),
        "load_average_at_start": load_average(),
        "argv": sys.argv,
    }


def describe(machine: dict[str, Any]) -> str:
    torch = f"torch {machine['torch']} ({machine['torch_threads']} threads)"
    return (
        f"machine: {machine['cpu']}, {machine['cpu_count']} cores, {machine['platform']}\n"
        f"python {machine['python']}, numpy {machine['numpy']} (OpenBLAS threads: "
        f"{machine['openblas_threads']}), sympy {machine['sympy']}, "
        f"{torch if machine['torch'] else 'torch not installed'}, "
        f"{'jax ' + machine['jax'] if machine.get('jax') else 'jax ' + bench_jax.NOT_INSTALLED}\n"
        f"date: {machine['date']}; load average at start: {machine['load_average_at_start']}"
    )
