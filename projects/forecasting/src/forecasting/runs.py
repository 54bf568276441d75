"""What the backtest adds to its MLflow runs beyond :mod:`tenfold.tracking`.

The library logs a training as a parent run with one nested run per candidate (params,
the per-origin MAPE as the steps of ``cv_mape_fold``, the track record, the refit model)
and attaches the reports to the parent. Here each model's run also gets every per-origin
metric as the steps of ``origin_<metric>`` (step = origin index) and the plots, so one
model's backtest reads on its own run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from forecasting.evaluate import PER_ORIGIN_FILE

if TYPE_CHECKING:
    from forecasting.train import ForecastResult

BATCH = 900  # MLflow takes at most 1,000 metrics per batch


def log_per_model(result: ForecastResult, out: Path) -> None:
    """Per-origin metrics (from the written ``backtest_origins.csv``) and the PNGs of
    ``out`` on each candidate's run; a run that already has them is left as it is (an
    ``evaluate`` of a logged training)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    per_origin = pd.read_csv(out / PER_ORIGIN_FILE)
    columns = [c for c in per_origin.columns if c not in ("origin", "model")]
    plots = sorted(out.glob("*.png"))
    stamp = int(time.time() * 1000)
    for name, candidate in result.candidates.items():
        if candidate.run_id is None or client.get_metric_history(candidate.run_id, "origin_mape"):
            continue
        rows = per_origin.loc[per_origin["model"] == name].reset_index(drop=True)
        batch = [
            Metric(f"origin_{column}", float(row[column]), stamp, step)
            for step, row in enumerate(rows.to_dict("records"))
            for column in columns
            if pd.notna(row[column])
        ]
        for start in range(0, len(batch), BATCH):
            client.log_batch(candidate.run_id, metrics=batch[start : start + BATCH])
        for plot in plots:
            client.log_artifact(candidate.run_id, str(plot), "plots")
