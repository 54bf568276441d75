"""Evaluation of the backtest: metrics per origin and overall, figures, the metrics file.

Metrics come from ``utilsforecast.losses`` (Nixtla's, the same definitions as mlforecast
and statsforecast), per series and origin, then averaged over series:

- MAPE and MAE, RMSE in the series' unit (MW for PJME);
- sMAPE in the M4 competition's definition, ``200 |y - ŷ| / (|y| + |ŷ|)`` (utilsforecast's
  ``smape`` is half of it);
- MASE: MAE divided by the in-sample MAE of the seasonal naive forecast (same hour one
  week earlier) over the series' history before the origin (Hyndman & Koehler 2006);
- coverage of the 80 % and 95 % intervals and their mean width relative to the load.

Imputed hours (see :mod:`forecasting.data`) are never scored. Everything here is a pure
function of the backtest; the CLI decides where files go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecasting.backtest import Backtest
from forecasting.config import Cadence, ForecastConfig
from forecasting.data import Series
from forecasting.models import DISPLAY_NAMES
from tenfold.evaluation import new_figure, plot_importance
from tenfold.reports import fmt, markdown_table

POINT_METRICS = ("mape", "smape", "mae", "rmse", "mase")
COLOURS = {"SeasonalNaive": "tab:grey", "Prophet": "tab:orange", "LightGBM": "tab:blue"}


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, Any]
    per_origin: pd.DataFrame  # origin, model, metrics
    figures: dict[str, Figure]

    @property
    def champion(self) -> str:
        return str(self.metrics["champion"])


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
    skips it for the 364-window track record."""
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
) -> dict[str, Any]:
    """Overall figures per model: means over origins, pooled RMSE, MAPE spread."""
    scored = forecasts.loc[~forecasts["imputed"].astype(bool)]
    out: dict[str, Any] = {}
    for model in models:
        rows = per_origin.loc[per_origin["model"] == model]
        summary = {
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


def evaluate(
    backtest: Backtest,
    series: Series,
    cfg: ForecastConfig,
    *,
    tuning: pd.DataFrame | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Evaluation:
    """Metrics per origin and overall, the champion (lowest mean MAPE), the figures."""
    models = list(backtest.models)
    levels = list(backtest.levels)
    per_origin = score_windows(backtest.forecasts, series.frame, models, levels, series.cadence)
    overall = summarise(per_origin, backtest.forecasts, models)
    # the track record: every day-ahead window after the first origin (7 a week), a
    # steadier estimate of accuracy and coverage than the 52 scored days
    first = backtest.calendar.origins[0]
    track = backtest.track_record.loc[backtest.track_record["cutoff"] >= first]
    track_scores = score_windows(
        track, series.frame, models, levels, series.cadence, with_mase=False
    )
    for model in models:
        rows = track_scores.loc[track_scores["model"] == model]
        overall[model]["day_ahead"] = {
            "windows": len(rows),
            "mape": float(rows["mape"].mean()),
            **{f"coverage_{lv}": float(rows[f"coverage_{lv}"].mean()) for lv in levels},
        }
        overall[model]["fit_cpu_seconds"] = float(np.mean(backtest.fit_seconds.get(model, [0.0])))
        overall[model]["params"] = dict((params or {}).get(model, {}))
    champion = min(models, key=lambda m: overall[m]["mape"])
    cal = backtest.calendar
    frame = series.frame
    metrics: dict[str, Any] = {
        "data": {
            "dataset": series.source.dataset,
            "kind": series.source.kind,
            "sha256": dict(series.source.sha256),
            "series": series.ids,
            "rows": len(frame),
            "start": str(frame["ds"].min()),
            "end": str(frame["ds"].max()),
            "cadence": series.cadence.name,
            "cleaning": series.cleaning.as_dict(),
        },
        "protocol": {
            "seed": cfg.seed,
            "origins": len(cal.origins),
            "first_origin": str(cal.origins[0]),
            "last_origin": str(cal.origins[-1]),
            "origin_step": series.cadence.origin_step,
            "horizon_steps": series.cadence.horizon,
            "warmup_fits": len(cal.warmup),
            "calibration_windows": cfg.calibration_windows,
            "levels": levels,
            "lightgbm_train_days": cfg.lightgbm.train_days,
            "prophet_train_days": cfg.prophet.train_days,
            "champion_selection": "lowest mean MAPE over the backtest origins",
        },
        "models": overall,
        "champion": champion,
        "lightgbm_importance": {k: float(v) for k, v in backtest.importance.head(20).items()},
    }
    if tuning is not None:
        metrics["prophet_tuning"] = tuning.to_dict("records")
    figures = {
        "backtest_week.png": plot_week(backtest, series),
        "error_by_hour_and_month.png": plot_error_profiles(backtest, models),
        "mape_by_origin.png": plot_mape_distribution(per_origin, models),
    }
    if len(backtest.importance):
        figures["lightgbm_importance.png"] = plot_importance(
            {str(k): float(v) * 100 for k, v in backtest.importance.items()},
            title="LightGBM feature importance (gain, mean over the backtest fits)",
            xlabel="share of total gain (%)",
        )
    return Evaluation(metrics=metrics, per_origin=per_origin, figures=figures)


def choose_champion(metrics: Mapping[str, Any]) -> str:
    return str(metrics["champion"])


# --------------------------------------------------------------------------- figures


def week_start(backtest: Backtest, model: str = "LightGBM") -> pd.Timestamp:
    """The origin whose week is shown: the one with the median MAPE of ``model`` (a
    typical week, not a chosen one)."""
    scored = backtest.forecasts
    use = model if model in backtest.models else backtest.models[-1]
    mape = ((scored[use] - scored["y"]).abs() / scored["y"]).groupby(scored["cutoff"]).mean()
    ordered = mape.sort_values(kind="stable")
    return pd.Timestamp(ordered.index[len(ordered) // 2])


def plot_week(backtest: Backtest, series: Series, start: pd.Timestamp | None = None) -> Figure:
    """Seven days of day-ahead forecasts from one fit (the first day is that origin's
    scored forecast), actual load, 80 % and 95 % intervals, one panel per model."""
    start = start or week_start(backtest)
    end = start + pd.Timedelta(days=7)
    uid = series.ids[0]
    track = backtest.track_record
    preferred: list[str] = ["Prophet", "LightGBM"]
    shown = [m for m in preferred if m in backtest.models] or list(backtest.models)
    window = track.loc[
        (track["unique_id"] == uid) & (track["cutoff"] >= start) & (track["cutoff"] < end)
    ].sort_values("ds")
    fig = new_figure(11, 2.6 * len(shown) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(shown), 1, sharex=True))
    for ax, model in zip(axes, shown, strict=True):
        colour = COLOURS.get(model, "tab:blue")
        for level, alpha in zip(sorted(backtest.levels, reverse=True), (0.15, 0.3), strict=False):
            ax.fill_between(
                window["ds"],
                window[f"{model}-lo-{level}"],
                window[f"{model}-hi-{level}"],
                color=colour,
                alpha=alpha,
                linewidth=0,
                label=f"{level} % interval",
            )
        ax.plot(window["ds"], window[model], color=colour, linewidth=1.4, label=f"{model} forecast")
        ax.plot(window["ds"], window["y"], color="black", linewidth=1.0, label="actual")
        ax.axvspan(start, start + pd.Timedelta(days=1), color="tab:green", alpha=0.06)
        mape = float(((window[model] - window["y"]).abs() / window["y"]).mean() * 100)
        ax.set(ylabel="load", title=f"{DISPLAY_NAMES.get(model, model)}: week MAPE {mape:.1f} %")
        ax.legend(fontsize=7, loc="upper left", ncols=4)
    axes[-1].set_xlabel(
        f"day-ahead forecasts from the fit at {start:%Y-%m-%d} (shaded green: that origin's "
        "scored day)"
    )
    return fig


def plot_error_profiles(backtest: Backtest, models: Sequence[str]) -> Figure:
    """MAPE by hour of day and by month over the scored origins."""
    scored = backtest.forecasts.loc[~backtest.forecasts["imputed"].astype(bool)]
    fig = new_figure(12, 4)
    by_hour, by_month = fig.subplots(1, 2)
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        ape = (scored[model] - scored["y"]).abs() / scored["y"] * 100
        hourly = ape.groupby(scored["ds"].dt.hour).mean()
        by_hour.plot(
            hourly.index,
            hourly.to_numpy(),
            marker="o",
            markersize=3,
            color=COLOURS.get(model),
            label=model,
        )
        monthly = ape.groupby(scored["ds"].dt.month).mean()
        by_month.bar(
            monthly.index + (i - (len(models) - 1) / 2) * width,
            monthly.to_numpy(),
            width=width,
            color=COLOURS.get(model),
            label=model,
        )
    by_hour.set(
        xlabel="hour of day (hour ending)",
        ylabel="MAPE (%)",
        title="Error by hour of day",
        xticks=range(0, 24, 3),
    )
    by_month.set(
        xlabel="month",
        ylabel="MAPE (%)",
        title="Error by month (4-5 origins each)",
        xticks=range(1, 13),
    )
    by_hour.legend(fontsize=8)
    return fig


def plot_mape_distribution(per_origin: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Per-origin MAPE: box plots with every origin as a dot, the mean marked."""
    fig = new_figure(8, 4.2)
    ax = fig.subplots()
    values = [per_origin.loc[per_origin["model"] == m, "mape"].to_numpy() for m in models]
    ax.boxplot(values, showfliers=False)
    rng = np.random.default_rng(0)
    for i, (model, v) in enumerate(zip(models, values, strict=True), start=1):
        ax.scatter(
            i + rng.uniform(-0.12, 0.12, len(v)), v, s=10, alpha=0.6, color=COLOURS.get(model)
        )
        ax.scatter(
            [i], [v.mean()], marker="D", color="black", zorder=3, label="mean" if i == 1 else None
        )
        ax.annotate(
            f"mean {v.mean():.2f} %",
            (i, v.mean()),
            xytext=(8, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
        )
    ax.set_xticks(
        range(1, len(models) + 1), [DISPLAY_NAMES.get(m, m).split(" (")[0] for m in models]
    )
    ax.set(ylabel="MAPE of the day (%)", title=f"MAPE over the {len(values[0])} backtest origins")
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results table, generated from ``metrics.json``."""
    champion = metrics["champion"]
    rows = [{"name": n, **m} for n, m in metrics["models"].items()]
    levels = metrics["protocol"]["levels"]
    columns: list[tuple[str, Any]] = [
        (
            "Model",
            lambda r: (
                DISPLAY_NAMES.get(r["name"], r["name"])
                + (" **(champion)**" if r["name"] == champion else "")
            ),
        ),
        ("MAPE % (mean)", lambda r: fmt(r["mape"], 2)),
        ("MAPE % (median)", lambda r: fmt(r["mape_median"], 2)),
        ("sMAPE %", lambda r: fmt(r["smape"], 2)),
        ("MAE", lambda r: f"{r['mae']:,.0f}"),
        ("RMSE", lambda r: f"{r['rmse_pooled']:,.0f}"),
        ("MASE", lambda r: fmt(r["mase"], 3)),
    ]
    columns += [(f"{lv} % coverage", lambda r, lv=lv: fmt(r[f"coverage_{lv}"], 1)) for lv in levels]
    columns += [
        ("origins won", lambda r: str(r["origins_won"])),
        ("CPU s / fit", lambda r: fmt(r["fit_cpu_seconds"], 1)),
    ]
    table = markdown_table(rows, columns)
    data, protocol = metrics["data"], metrics["protocol"]
    note = (
        f"{data['kind']} data: {len(data['series'])} series, {data['rows']:,} {data['cadence']} "
        f"steps ({data['start'][:10]} … {data['end'][:10]}); {protocol['origins']} weekly origins "
        f"{protocol['first_origin'][:10]} … {protocol['last_origin'][:10]}, "
        f"{protocol['horizon_steps']} steps ahead each; intervals calibrated on the "
        f"{protocol['calibration_windows']} day-ahead windows before each origin; seed "
        f"{protocol['seed']}. RMSE pooled over all scored steps; CPU seconds per refit "
        "(noisy, shared machine)."
    )
    return f"{table}\n\n{note}"


def write_per_origin(per_origin: pd.DataFrame, path: Path) -> Path:
    """The committed per-origin table: fixed column order, 4 decimals, byte-stable."""
    table = per_origin.copy()
    table["origin"] = table["origin"].dt.strftime("%Y-%m-%d %H:%M")
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.4f", lineterminator="\n")
    return path
