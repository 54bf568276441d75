"""Forecast scores per window, the one definition used by training (each candidate's
per-origin MAPE), evaluation (every metric per origin and overall), the promotion gate
and the reproducibility check.

Metrics come from ``utilsforecast.losses`` (Nixtla's, the same definitions as mlforecast
and statsforecast), per series and window (``cutoff``), then averaged over series:

- MAPE, and MAE, RMSE in the series' unit (MW for PJME);
- sMAPE in the M4 competition's definition, ``200 |y - ŷ| / (|y| + |ŷ|)`` (utilsforecast's
  ``smape`` is half of it);
- MASE: MAE divided by the in-sample MAE of the seasonal naive forecast (same hour one
  week earlier) over the series' history before the window (Hyndman & Koehler 2006);
- coverage of each interval and its mean width relative to the load (when the windows
  carry Nixtla's ``<model>-lo-<level>``/``-hi-<level>`` columns).

Imputed steps (see :mod:`forecasting.data`) are never scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config import Cadence

POINT_METRICS = ("mape", "smape", "mae", "rmse", "mase")


def score_windows(
    forecasts: pd.DataFrame,
    history: pd.DataFrame,
    models: Sequence[str],
    levels: Sequence[int],
    cadence: Cadence,
    *,
    with_mase: bool = True,
) -> pd.DataFrame:
    """``origin, model`` and one column per metric (series averaged), for forecast
    windows (``cutoff`` = the origin) in Nixtla's column layout. MASE reads the whole
    history before each window (one utilsforecast call per window): ``with_mase=False``
    skips it for the 364-window track record. ``levels=()`` scores points only."""
    from utilsforecast import losses

    scored = forecasts.loc[~forecasts["imputed"].astype(bool)]
    models = list(models)
    keys = ["unique_id", "cutoff"]
    parts: dict[str, pd.DataFrame] = {
        "mape": losses.mape(scored, models, cutoff_col="cutoff").set_index(keys) * 100,
        "smape": losses.smape(scored, models, cutoff_col="cutoff").set_index(keys) * 200,
        "mae": losses.mae(scored, models, cutoff_col="cutoff").set_index(keys),
        "rmse": losses.rmse(scored, models, cutoff_col="cutoff").set_index(keys),
    }
    if with_mase:
        mase = [
            losses.mase(
                window,
                models,
                seasonality=cadence.season,
                train_df=history[["unique_id", "ds", "y"]],
                cutoff_col="cutoff",
            )
            for _, window in scored.groupby("cutoff", sort=True)
        ]
        parts["mase"] = pd.concat(mase).set_index(keys)
    for level in levels:
        parts[f"coverage_{level}"] = (
            losses.coverage(scored, models, level=level, cutoff_col="cutoff").set_index(keys) * 100
        )
        width = scored[keys].copy()
        for m in models:
            width[m] = (scored[f"{m}-hi-{level}"] - scored[f"{m}-lo-{level}"]) / scored["y"] * 100
        parts[f"width_{level}"] = width.groupby(keys).mean()
    rows = []
    for metric, table in parts.items():
        by_origin = table.groupby(level="cutoff").mean()
        long = by_origin.reset_index().melt(id_vars="cutoff", var_name="model", value_name=metric)
        rows.append(long.set_index(["cutoff", "model"]))
    out = pd.concat(rows, axis=1).reset_index().rename(columns={"cutoff": "origin"})
    order = {m: i for i, m in enumerate(models)}
    return out.sort_values(
        ["origin", "model"],
        key=lambda c: c.map(order) if c.name == "model" else c,
        ignore_index=True,
    )


def summarise(
    per_origin: pd.DataFrame, forecasts: pd.DataFrame, models: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Overall figures per model: means over origins, pooled RMSE, the MAPE's spread and
    how many origins each model forecast best."""
    scored = forecasts.loc[~forecasts["imputed"].astype(bool)]
    out: dict[str, dict[str, Any]] = {}
    for model in models:
        rows = per_origin.loc[per_origin["model"] == model]
        summary: dict[str, Any] = {
            column: float(rows[column].mean())
            for column in rows.columns
            if column not in ("origin", "model")
        }
        summary["rmse_pooled"] = float(np.sqrt(np.mean((scored[model] - scored["y"]) ** 2)))
        summary["mape_median"] = float(rows["mape"].median())
        summary["mape_p90"] = float(rows["mape"].quantile(0.9))
        summary["origins_won"] = 0
        out[model] = summary
    wins = per_origin.loc[per_origin.groupby("origin")["mape"].idxmin(), "model"].value_counts()
    for model, count in wins.items():
        out[str(model)]["origins_won"] = int(count)
    return out


def origin_label(origin: Any) -> str:
    """How an origin is named in metrics.json and the per-origin table."""
    return f"{pd.Timestamp(origin):%Y-%m-%d %H:%M}"


def per_origin_document(per_origin: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """The per-origin table as ``{origin: {model: {metric: value}}}`` (metrics.json)."""
    metrics = [c for c in per_origin.columns if c not in ("origin", "model")]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in per_origin.to_dict("records"):
        values = {m: float(row[m]) for m in metrics if pd.notna(row[m])}
        out.setdefault(origin_label(row["origin"]), {})[str(row["model"])] = values
    return out
