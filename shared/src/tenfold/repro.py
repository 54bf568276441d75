"""Reproducibility: the byte-stable metrics writer.

The one seed of a config is passed to every ``random_state`` and rng explicitly; there is
no global seeding helper, because nothing may depend on global random state. Same seed
and same lock must give byte-identical metrics files, so the writer sorts keys, rounds
floats to a fixed number of decimals (hiding last-bit noise from summation order) and
writes no timestamps. :func:`pin_torch_kernels` keeps torch's float results from
depending on the CPU's vector width.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DECIMALS = 4

log = logging.getLogger(__name__)

# torch picks its kernels by the widest vector unit it finds (ATen's own loops, oneDNN's
# matrix products, MKL): the same MiniLM weights gave other last bits on AVX-512 than on
# AVX2, which moves near-tied rankings. Every x86-64 CI machine has AVX2.
TORCH_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def torch_kernels() -> str:
    """The kernel choice :func:`pin_torch_kernels` makes (or the user's), as one string:
    part of the key of anything cached from torch's output."""
    return ",".join(
        f"{name}={os.environ.get(name, value)}" for name, value in TORCH_KERNELS.items()
    )


def pin_torch_kernels() -> None:
    """Ask torch for its AVX2 kernels on any CPU: call before torch is first imported
    (the variables are read once per process). A value already set wins, so a user can
    choose; a torch imported earlier is reported, not silently trusted."""
    for name, value in TORCH_KERNELS.items():
        os.environ.setdefault(name, value)
    torch = sys.modules.get("torch")
    if torch is not None:
        wanted = os.environ["ATEN_CPU_CAPABILITY"].upper()
        found = str(torch.backends.cpu.get_cpu_capability()).upper()
        if found not in (wanted, "DEFAULT"):
            log.warning(
                "torch was loaded before its kernels were pinned (it uses %s, not %s): "
                "results may differ from another CPU's",
                found,
                wanted,
            )


def normalise(value: Any, decimals: int = DEFAULT_DECIMALS) -> Any:
    """Make ``value`` JSON-ready and stable: floats rounded, numpy scalars unwrapped."""
    if isinstance(value, Mapping):
        return {str(k): normalise(v, decimals) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v, decimals) for v in value]
    if isinstance(value, np.ndarray):
        return [normalise(v, decimals) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        rounded = round(number, decimals)
        return 0.0 if rounded == 0 else rounded  # no "-0.0"
    if isinstance(value, Path):
        return value.as_posix()
    return value


def format_metrics(metrics: Mapping[str, Any], decimals: int = DEFAULT_DECIMALS) -> str:
    return json.dumps(normalise(metrics, decimals), indent=2, sort_keys=True) + "\n"


def write_metrics(path: Path, metrics: Mapping[str, Any], decimals: int = DEFAULT_DECIMALS) -> Path:
    """Write ``metrics`` as stable JSON (atomically, so a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(format_metrics(metrics, decimals), encoding="utf-8")
    tmp.replace(path)
    return path


def read_metrics(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result
