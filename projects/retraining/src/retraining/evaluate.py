"""Evaluation: a challenger on its window's validation period, the gate, and the
scenario's report (decisions table, timeline).

Pure functions of results and metrics documents: figures come back as matplotlib
Figures and tables as markdown; the CLI decides where they go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from retraining.config import RetrainingConfig
from retraining.interface import target_for
from tenfold.evaluation import new_figure
from tenfold.promotion import Gate, Scorer
from tenfold.reports import markdown_table
from tenfold.tracking import ModelRecord
from tenfold.training import Evaluation, TrainResult


def promotion_gate(result: TrainResult[Any, Any], cfg: RetrainingConfig) -> tuple[Gate, Scorer]:
    """The project's gate on the window's validation period (fraud: its dollar cost at
    each model's own threshold), as the library's :class:`tenfold.promotion.Gate`."""
    return target_for(cfg).gate(result)


def evaluate(result: TrainResult[Any, Any], cfg: RetrainingConfig) -> Evaluation:
    """Each candidate scored by the gate's metric on the validation period: the numbers
    the gate will compare with the champion's."""
    gate, score = promotion_gate(result, cfg)
    models = {}
    for name, candidate in result.candidates.items():
        record = ModelRecord(
            model=candidate.model,
            uri=candidate.model_uri or "",
            name=name,
            version=None,
            run_id=candidate.run_id,
            trained_at=None,
            metrics=dict(candidate.metrics),
            metadata=dict(candidate.metadata),
        )
        models[name] = {
            f"cv_{candidate.metric}": candidate.cv_score,
            "validation": {"score": score(record), "metric": gate.metric},
        }
    document = {
        "data": {"kind": result.source.kind, "dataset": result.source.dataset},
        "validation_set": {
            "name": gate.validation_set.name,
            "rows": gate.validation_set.rows,
            "sha256": gate.validation_set.sha256,
        },
        "models": models,
        "champion": result.best_name,
    }
    return Evaluation(metrics=document, figures={}, split="validation")


# --------------------------------------------------------------------------- the scenario


def scenario_days(metrics: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The scenario's day records in order (``metrics.json`` keys them by date)."""
    days: Mapping[str, Mapping[str, Any]] = metrics["days"]
    return [days[date] for date in sorted(days)]


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def decisions_table(metrics: Mapping[str, Any]) -> str:
    """One row per day of the scenario: the batch, the drift, the gate's decision."""

    def batch(d: Mapping[str, Any]) -> str:
        text = str(d["batch"])
        if d["batch"] == "quarantined":
            text = f"**quarantined** ({'; '.join(d['batch_reasons'])})"
        if d["redelivered"]:
            text += f"; re-delivered {', '.join(d['redelivered'])}"
        return text

    def drift(d: Mapping[str, Any]) -> str:
        share = d["drift_share"]
        if share is None:
            return "—"
        return f"**{share:.2f}** ⚠" if d["alert"] else f"{share:.2f}"

    def decision(d: Mapping[str, Any]) -> str:
        if d["decision"] == "promoted":
            return f"**v{d['challenger']} promoted**"
        if d["decision"] == "rejected":
            return f"v{d['challenger']} rejected"
        return str(d["decision"])

    return markdown_table(
        scenario_days(metrics),
        [
            ("Day", lambda d: d["day"]),
            ("Date", lambda d: d["date"]),
            ("In service", lambda d: f"v{d['serving']}"),
            ("Cost that day", lambda d: _money(d["cost"]["serving"])),
            ("Never retrained", lambda d: _money(d["cost"]["never_retrained"])),
            ("Batch", batch),
            ("Drift share", drift),
            ("Challenger cost", lambda d: _money(d["challenger_cost"])),
            ("Champion cost", lambda d: _money(d["champion_cost"])),
            ("Gate", decision),
        ],
    )


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results: the month's counts and costs, then the decisions table."""
    counts, cost, data = metrics["counts"], metrics["cost"], metrics["data"]
    drift = metrics["drift"]
    summary = markdown_table(
        [
            {
                "what": "retrainings (a challenger trained and gated)",
                "value": counts["retrainings"],
            },
            {"what": "promotions", "value": counts["promotions"]},
            {
                "what": "rejections (challenger not better by the margin)",
                "value": f"{counts['rejections']} ({counts['rejected_worse']} strictly worse)",
            },
            {"what": "batches quarantined", "value": counts["quarantines"]},
            {"what": "drift alerts (days)", "value": counts["alerts"]},
            {
                "what": "first alert after the new pattern appeared",
                "value": "none"
                if drift["first_alert"] is None
                else f"{drift['days_from_pattern_to_alert']} day(s) ({drift['first_alert']})",
            },
            {"what": "fraud cost with retraining", "value": _money(cost["with_retraining"])},
            {
                "what": "fraud cost never retraining (v1 all month)",
                "value": _money(cost["never_retraining"]),
            },
            {
                "what": "**saved by retraining**",
                "value": f"**{_money(cost['saved_by_retraining'])}** ({cost['saved_share']:.0%})",
            },
            {"what": "cost with no model at all", "value": _money(cost["no_model"])},
        ],
        [("Over the month", lambda r: r["what"]), ("", lambda r: r["value"])],
    )
    note = (
        f"{data['days']} days ({data['first_day']} on), {data['transactions_in_month']:,} "
        f"transactions, {data['frauds_in_month']:,} frauds of which "
        f"{data['takeover_frauds_in_month']:,} account takeovers (from {data['pattern_starts']}); "
        f"{data['customers']:,} simulated customers, seed {metrics['protocol']['seed']}. "
        "Cost = missed fraud amounts + $"
        f"{metrics['protocol']['review_cost']:g} per alert reviewed, each day scored by the "
        "model in service that day."
    )
    return f"{summary}\n\n{note}\n\n{decisions_table(metrics)}"


# --------------------------------------------------------------------------- figures


def timeline_figure(metrics: Mapping[str, Any]) -> Figure:
    """Four panels over the month: the version in service with the gate's decisions
    and quarantines, champion and challenger cost on each validation period, the drift
    share with alerts, and the daily cost with and without retraining."""
    days = scenario_days(metrics)
    x = np.array([d["day"] for d in days])
    fig = new_figure(10, 10)
    axes = fig.subplots(4, 1, sharex=True)
    pattern = next((d["day"] for d in days if d["date"] == metrics["data"]["pattern_starts"]), None)

    ax = axes[0]
    serving = [int(d["serving"]) for d in days]
    ax.step(x, serving, where="post", color="black", label="version in service")
    for decision, marker, colour in (("promoted", "^", "tab:green"), ("rejected", "x", "tab:red")):
        picked = [d for d in days if d["decision"] == decision]
        ax.scatter(
            [d["day"] for d in picked],
            [int(d["challenger"]) for d in picked],
            marker=marker,
            color=colour,
            label=f"challenger {decision}",
            zorder=3,
        )
    bad = [d["day"] for d in days if d["batch"] == "quarantined"]
    if bad:
        ax.scatter(
            bad,
            [serving[b - 1] for b in bad],
            marker="s",
            color="tab:orange",
            s=60,
            label="batch quarantined",
            zorder=4,
        )
    ax.set(ylabel="model version", title="Model version in service and the gate's decisions")
    ax.legend(fontsize=7, loc="upper left", ncols=2)

    ax = axes[1]
    gated = [d for d in days if d["challenger_cost"] is not None]
    ax.plot(
        [d["day"] for d in gated],
        [d["champion_cost"] for d in gated],
        marker="o",
        markersize=3,
        label="champion",
        color="black",
    )
    ax.plot(
        [d["day"] for d in gated],
        [d["challenger_cost"] for d in gated],
        marker="o",
        markersize=3,
        label="challenger",
        color="tab:blue",
    )
    ax.set(ylabel="validation cost ($)", title="Gate: cost of each day's 7-day validation period")
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[2]
    share = [d["drift_share"] if d["drift_share"] is not None else np.nan for d in days]
    ax.bar(x, share, color=["tab:red" if d["alert"] else "tab:gray" for d in days])
    threshold = float(metrics["protocol"]["drift_threshold"])
    ax.axhline(
        threshold,
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"alert threshold ({threshold:.0%})",
    )
    ax.set(ylabel="drift share", title="Share of monitored columns drifted (red: drift alert)")
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[3]
    for key, label, colour in (
        ("never_retrained", "never retrained (v1)", "tab:red"),
        ("serving", "with retraining", "tab:green"),
        ("no_model", "no model", "tab:gray"),
    ):
        ax.plot(
            x, [d["cost"][key] for d in days], label=label, color=colour, marker="o", markersize=3
        )
    ax.set(
        xlabel="day of the month",
        ylabel="fraud cost that day ($)",
        title="Daily cost: missed frauds + reviews",
    )
    ax.legend(fontsize=7, loc="upper left")
    if pattern is not None:
        for ax in axes:
            ax.axvline(pattern - 0.5, color="tab:purple", linestyle=":", linewidth=1)
        axes[2].annotate(
            "new fraud pattern",
            (pattern - 0.3, 0.95),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="tab:purple",
            va="top",
        )
    return fig
