"""Reproducibility: the byte-stable metrics writer.

The one seed of a config is passed to every ``random_state`` and rng explicitly; there is
no global seeding helper, because nothing may depend on global random state. Same seed
and same lock must give byte-identical metrics files, so the writer sorts keys, rounds
floats to a fixed number of decimals (hiding last-bit noise from summation order) and
writes no timestamps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DECIMALS = 4


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
