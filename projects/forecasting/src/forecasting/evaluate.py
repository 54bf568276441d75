"""Evaluation of the backtest: metrics per origin and overall, figures, the metrics file,
and the promotion gate.

Every number is a pure function of the training's backtest (:mod:`forecasting.scoring`
defines the metrics); the CLI decides where files go. The per-origin table is committed
twice: inside ``metrics.json`` (``origins``, what the reproducibility test re-computes a
sample of) and as ``backtest_origins.csv``.

The gate (:func:`promotion_gate`) scores models on the same backtest: a challenger
replaces the champion only if its mean MAPE over the origins is lower by more than the
margin. A registered model was refit on all the data, so scoring *it* on the backtest
would be in-sample; what the gate re-scores is its recipe (model, settings, tuned
parameters, seed) refit at every origin, which for a recipe trained in this run is this
run's backtest (tested equal), and for any other is re-computed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecasting.backtest import Backtest, FitTask, run_fits
from forecasting.config import ForecastConfig
from forecasting.data import Series
from forecasting.models import DISPLAY_NAMES, Forecaster, recipe_key
from forecasting.scoring import (
    POINT_METRICS,
    origin_label,
    per_origin_document,
    score_windows,
    summarise,
)
from forecasting.train import ForecastResult
from tenfold.evaluation import new_figure, plot_importance
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.repro import format_metrics
from tenfold.training import Evaluation as BaseEvaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

log = logging.getLogger("forecasting")

COLOURS = {"SeasonalNaive": "tab:grey", "Prophet": "tab:orange", "LightGBM": "tab:blue"}
PER_ORIGIN_FILE = "backtest_origins.csv"
TIMINGS_FILE = "timings.json"
# the acceptance: LightGBM's mean MAPE, and interval coverage within 2 points
MAPE_GOAL = 3.3
COVERAGE_TOLERANCE = 2.0


@dataclass(frozen=True, kw_only=True)
class Evaluation(BaseEvaluation):
    """The library's evaluation, with the per-origin table as a frame."""

    per_origin: pd.DataFrame

    @property
    def champion(self) -> str:
        return str(self.metrics["champion"])


def evaluate(result: ForecastResult, cfg: ForecastConfig) -> Evaluation:
    """Metrics per origin and overall for every candidate, the figures, the per-origin
    table and the fit times (kept out of metrics.json: they are not reproducible)."""
    data = result.data
    backtest, series = data.backtest, data.series
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
    per_model: dict[str, Any] = {}
    for model in models:
        rows = track_scores.loc[track_scores["model"] == model]
        per_model[model] = {
            "backtest": overall[model],
            "day_ahead": {
                "windows": len(rows),
                "mape": float(rows["mape"].mean()),
                **{f"coverage_{lv}": float(rows[f"coverage_{lv}"].mean()) for lv in levels},
            },
            "params": _plain(result.candidates[model].params),
        }
    cal = backtest.calendar
    frame = series.frame
    metrics: dict[str, Any] = {
        "data": {
            **series.source.summary(),
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
        "models": per_model,
        "champion": result.best_name,
        "origins": per_origin_document(per_origin),
        "lightgbm_importance": {k: float(v) for k, v in backtest.importance.head(20).items()},
        "acceptance": acceptance(per_model, levels),
    }
    if not data.tuning.empty:
        metrics["prophet_tuning"] = data.tuning.to_dict("records")
    figures = {
        "backtest_week.png": plot_week(backtest, series),
        "error_by_hour_and_month.png": plot_error_profiles(backtest, models),
        "mape_by_origin.png": plot_mape_distribution(per_origin, models),
    }
    if len(backtest.importance):
        figures["lightgbm_importance.png"] = plot_lightgbm_importance(
            backtest.importance, data.fit_counts.get("LightGBM", len(cal.fits))
        )
    timings = {
        "fit_cpu_seconds": data.fit_cpu_seconds,
        "stage_wall_seconds": data.stage_seconds,
        "fits_per_model": dict(data.fit_counts),
    }
    return Evaluation(
        metrics=metrics,
        figures=figures,
        files={
            PER_ORIGIN_FILE: per_origin_csv(per_origin),
            TIMINGS_FILE: format_metrics(timings, decimals=1),
        },
        split="backtest",
        run_metrics={
            "backtest": {m: {k: overall[m][k] for k in POINT_METRICS} for m in models},
        },
        per_origin=per_origin,
    )


def acceptance(per_model: Mapping[str, Any], levels: Sequence[int]) -> dict[str, Any]:
    """The issue's goals, measured: LightGBM's mean MAPE ≤ 3.3 %, and every model's
    interval coverage within 2 points of nominal."""
    out: dict[str, Any] = {}
    if "LightGBM" in per_model:
        mape = float(per_model["LightGBM"]["backtest"]["mape"])
        out["lightgbm_mape"] = {"value": mape, "goal": MAPE_GOAL, "met": mape <= MAPE_GOAL}
    for model, entry in per_model.items():
        for level in levels:
            value = float(entry["backtest"][f"coverage_{level}"])
            out[f"{model}_coverage_{level}"] = {
                "value": value,
                "goal": [level - COVERAGE_TOLERANCE, level + COVERAGE_TOLERANCE],
                "met": abs(value - level) <= COVERAGE_TOLERANCE,
            }
    return out


def per_origin_csv(per_origin: pd.DataFrame) -> str:
    """The committed per-origin table: fixed column order, 4 decimals, byte-stable."""
    table = per_origin.copy()
    table["origin"] = table["origin"].map(origin_label)
    text: str = table.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    return text


def _plain(value: Any) -> Any:
    """Parameters as JSON values (numpy scalars unwrapped, tuples as lists)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


# --------------------------------------------------------------------------- the gate


def promotion_gate(result: ForecastResult, cfg: ForecastConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: mean MAPE over this backtest's origins, lower than
    the champion's by more than ``cfg.promotion_margin`` (points of MAPE)."""
    data = result.data
    backtest, series = data.backtest, data.series
    origins = backtest.calendar.origins
    scored = backtest.forecasts.loc[~backtest.forecasts["imputed"].astype(bool)]
    rows = ValidationSet.of(
        f"{series.source.dataset} backtest, {len(origins)} weekly origins "
        f"{origins[0]:%Y-%m-%d} … {origins[-1]:%Y-%m-%d}, {series.cadence.horizon} steps each",
        scored[["unique_id", "ds", "y"]].reset_index(drop=True),
    )
    known = {recipe_key(c.model.model): c.cv_score for c in result.candidates.values()}

    def score(record: ModelRecord) -> float:
        forecaster = record.model.model
        key = recipe_key(forecaster)
        if key in known:
            return known[key]
        return rescore(forecaster, series, origins, cfg)

    return Gate("backtest mean MAPE (%)", False, cfg.promotion_margin, rows), score


def rescore(
    forecaster: Forecaster, series: Series, origins: Sequence[pd.Timestamp], cfg: ForecastConfig
) -> float:
    """A recipe's mean MAPE on the origins, refit at each on the data before it (a model
    registered by another version of the code or config, the gate's other contender)."""
    if forecaster.recipe()["cadence"]["name"] != series.cadence.name:
        raise ValueError(
            f"the model forecasts {forecaster.recipe()['cadence']['name']} data, "
            f"this series is {series.cadence.name}"
        )
    log.info("re-scoring %s on %d origins (one fit each)", forecaster.name, len(origins))
    tasks = [FitTask(forecaster, o, (o,), series.cadence.horizon) for o in origins]
    results = run_fits(tasks, series.frame, cfg.n_jobs)
    windows = pd.concat([r.forecasts for r in results], ignore_index=True)
    windows = windows.merge(
        series.frame[["unique_id", "ds", "y", "imputed"]], on=["unique_id", "ds"]
    )
    scores = score_windows(windows, series.frame, [forecaster.name], (), series.cadence)
    return float(scores["mape"].mean())


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


def plot_lightgbm_importance(importance: pd.Series, fits: int) -> Figure:
    """Each feature's share of LightGBM's total gain, mean over the fits, on a log scale
    (the shares span five orders of magnitude)."""
    fig = plot_importance(
        {str(k): float(v) * 100 for k, v in importance.items() if v > 0},
        title=f"LightGBM gain share, mean of {fits} fits",
        xlabel="share of total gain (%, log scale)",
    )
    fig.axes[0].set_xscale("log")
    return fig


def plot_error_profiles(backtest: Backtest, models: Sequence[str]) -> Figure:
    """MAPE by step ahead (for midnight origins: the hour ending) and by month over the
    scored origins."""
    scored = backtest.forecasts.loc[~backtest.forecasts["imputed"].astype(bool)]
    fig = new_figure(12, 4)
    by_hour, by_month = fig.subplots(1, 2)
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        ape = (scored[model] - scored["y"]).abs() / scored["y"] * 100
        hourly = ape.groupby(scored["step"]).mean()
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
    steps = int(scored["step"].max())
    by_hour.set(
        xlabel="steps ahead of the origin (hourly from midnight: the hour ending)",
        ylabel="MAPE (%)",
        title="Error by step ahead",
        xticks=range(0, steps + 1, max(1, steps // 8)),
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
    """The README's results: the models side by side on the backtest, then the issue's
    acceptance figures as measured; generated from ``metrics.json``."""
    champion = metrics["champion"]
    rows = [{"name": n, **m["backtest"]} for n, m in metrics["models"].items()]
    levels = metrics["protocol"]["levels"]
    columns: list[tuple[str, Any]] = [
        (
            "Model",
            lambda r: (
                DISPLAY_NAMES.get(r["name"], r["name"])
                + (" **(best)**" if r["name"] == champion else "")
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
        (f"{levels[0]} % width", lambda r: fmt(r[f"width_{levels[0]}"], 1) + " %"),
        ("origins won", lambda r: str(r["origins_won"])),
    ]
    table = markdown_table(rows, columns)
    data, protocol = metrics["data"], metrics["protocol"]
    note = (
        f"{data['kind']} data: {len(data['series'])} series, {data['rows']:,} {data['cadence']} "
        f"steps ({data['start'][:10]} … {data['end'][:10]}); {protocol['origins']} weekly origins "
        f"{protocol['first_origin'][:10]} … {protocol['last_origin'][:10]}, "
        f"{protocol['horizon_steps']} steps ahead each; intervals calibrated on the "
        f"{protocol['calibration_windows']} day-ahead windows before each origin; seed "
        f"{protocol['seed']}. Means over origins; RMSE pooled over all scored steps; width: "
        "mean interval width relative to the load."
    )
    return f"{table}\n\n{note}\n\n{acceptance_table(metrics)}"


def acceptance_table(metrics: Mapping[str, Any]) -> str:
    """Each acceptance figure of the issue, its goal and whether it is met."""
    goals = metrics.get("acceptance", {})
    rows = []
    if "lightgbm_mape" in goals:
        g = goals["lightgbm_mape"]
        rows.append(
            (
                "LightGBM mean MAPE over the origins",
                f"{g['value']:.2f} %",
                f"≤ {g['goal']} %",
                g["met"],
            )
        )
    for model in metrics["models"]:
        for level in metrics["protocol"]["levels"]:
            g = goals.get(f"{model}_coverage_{level}")
            if g is None:
                continue
            low, high = g["goal"]
            rows.append(
                (
                    f"{model} {level} % interval coverage",
                    f"{g['value']:.1f} %",
                    f"{low:g}–{high:g} %",
                    g["met"],
                )
            )
    return markdown_table(
        [{"what": w, "measured": m, "goal": goal, "met": met} for w, m, goal, met in rows],
        [
            ("Acceptance (issue 10)", lambda r: r["what"]),
            ("measured", lambda r: r["measured"]),
            ("goal", lambda r: r["goal"]),
            ("met", lambda r: "yes" if r["met"] else "**no**"),
        ],
    )


def timings_table(timings: Mapping[str, Any]) -> str:
    """Fit cost per model (CPU seconds, from ``timings.json``; noisy on a shared machine)."""
    fits = timings.get("fits_per_model", {})
    if isinstance(fits, int):  # a timings file from before the counts were per model
        fits = dict.fromkeys(timings.get("fit_cpu_seconds", {}), fits)
    stages = timings.get("stage_wall_seconds", {})
    rows = [
        {"model": DISPLAY_NAMES.get(m, m).split(" (")[0], "cpu": s, "fits": fits.get(m, 0)}
        for m, s in timings.get("fit_cpu_seconds", {}).items()
    ]
    table = markdown_table(
        rows,
        [
            ("Model", lambda r: r["model"]),
            ("CPU s per fit (mean)", lambda r: fmt(r["cpu"], 1)),
            ("backtest fits", lambda r: str(r["fits"])),
            ("CPU s for the backtest fits", lambda r: fmt(r["cpu"] * r["fits"], 0)),
        ],
    )
    if stages:
        wall = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in stages.items())
        table += f"\n\nWall time of the stages in that run: {wall}."
    return table
