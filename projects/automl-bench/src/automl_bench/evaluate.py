"""From stored cells to the comparison: per-dataset tables, normalised scores, ranks, a
Friedman test with Nemenyi post-hoc and its critical-difference diagram, score against
training time, the generated parts of REPORT.md and the README, and the gate a new
publication of the results passes before the API serves it.

All pure functions of the cells; the CLI decides where things are written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from automl_bench.cell import HOLDOUT, CellResult
from automl_bench.config import FRAMEWORKS, GREATER_IS_BETTER, BenchConfig, is_twin
from tenfold.errors import DataError
from tenfold.evaluation import new_figure
from tenfold.reports import markdown_table
from tenfold.training import Evaluation

if TYPE_CHECKING:
    from automl_bench.train import GridResult
    from tenfold.promotion import Gate, Scorer

NAMES = {
    "constant": "Constant",
    "lightgbm": "LightGBM defaults",
    "manual": "Manual pipeline",
    "flaml": "FLAML",
    "autogluon": "AutoGluon",
}
CHURN_PUBLISHED_ROC_AUC = 0.848


def frame(cells: Sequence[CellResult]) -> pd.DataFrame:
    rows = [c.document() for c in cells if c.fold != HOLDOUT]
    return pd.DataFrame(rows)


def _order(frameworks: Sequence[str]) -> list[str]:
    return [f for f in FRAMEWORKS if f in frameworks] + sorted(set(frameworks) - set(FRAMEWORKS))


def summary(cells: Sequence[CellResult]) -> pd.DataFrame:
    """One row per dataset × framework: mean and sd of the fold scores, failures, time."""
    table = frame(cells)
    grouped = table.groupby(["dataset", "framework"], sort=True)
    out = grouped.agg(
        metric=("metric", "first"),
        mean=("score", "mean"),
        std=("score", "std"),
        folds=("score", "size"),
        failures=("status", lambda s: int((s != "ok").sum())),
        fit_seconds=("fit_seconds", "mean"),
        constant=("constant_score", "mean"),
    ).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def normalised(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, 0 = the constant predictor, 1 = the best framework's mean score."""
    out = table.copy()
    values = []
    for _, row in out.iterrows():
        same = out[out["dataset"] == row["dataset"]]
        higher = GREATER_IS_BETTER[row["metric"]]
        best = same["mean"].max() if higher else same["mean"].min()
        span = best - row["constant"]
        values.append(1.0 if abs(span) < 1e-12 else (row["mean"] - row["constant"]) / span)
    out["normalised"] = values
    return out


def oriented(table: pd.DataFrame) -> pd.DataFrame:
    """Datasets × frameworks of mean scores, signed so that higher is better."""
    sign = table["metric"].map(lambda m: 1.0 if GREATER_IS_BETTER[m] else -1.0)
    wide = table.assign(value=table["mean"] * sign).pivot(
        index="dataset", columns="framework", values="value"
    )
    return wide[_order(list(wide.columns))]


def ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Rank of each framework per dataset (1 = best, ties share the mean rank)."""
    return oriented(table).rank(axis=1, ascending=False, method="average")


def friedman_nemenyi(table: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """Friedman's test over datasets, Nemenyi's critical difference and pairwise p-values
    (scikit-posthocs), as in Demšar (2006)."""
    import scikit_posthocs as sp
    from scipy import stats

    wide = oriented(table).dropna()
    n, k = wide.shape
    result: dict[str, Any] = {"datasets": n, "frameworks": k}
    if n < 2 or k < 3:
        return result
    statistic, p_value = stats.friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
    q_alpha = float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))
    pairwise = sp.posthoc_nemenyi_friedman(wide.to_numpy())
    pairwise.index = pairwise.columns = list(wide.columns)
    result.update(
        statistic=float(statistic),
        p_value=float(p_value),
        critical_difference=q_alpha * float(np.sqrt(k * (k + 1) / (6 * n))),
        alpha=alpha,
        mean_ranks=ranks(table).loc[wide.index].mean().to_dict(),
        nemenyi_p=pairwise.round(4).to_dict(),
    )
    return result


# --------------------------------------------------------------------------- figures


def plot_critical_difference(table: pd.DataFrame, *, title: str) -> Figure:
    import scikit_posthocs as sp

    wide = oriented(table).dropna()
    mean_ranks = ranks(table).loc[wide.index].mean()
    pairwise = sp.posthoc_nemenyi_friedman(wide.to_numpy())
    pairwise.index = pairwise.columns = list(wide.columns)
    fig = new_figure(7.5, 2.8)
    ax = fig.subplots()
    sp.critical_difference_diagram(
        mean_ranks.rename(index=NAMES), pairwise.rename(index=NAMES, columns=NAMES), ax=ax
    )
    ax.set_title(title, fontsize=10)
    return fig


def plot_score_vs_time(table: pd.DataFrame, *, title: str) -> Figure:
    """Normalised score against mean training time per fold, one point per dataset ×
    framework (the constant predictor at ~0 s, 0)."""
    data = normalised(table)
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    markers = dict(zip(_order(list(data["framework"].unique())), "osD^v<>", strict=False))
    for framework, group in data.groupby("framework"):
        ax.scatter(
            group["fit_seconds"].clip(lower=0.01),
            group["normalised"],
            label=NAMES.get(str(framework), str(framework)),
            marker=markers.get(str(framework), "o"),
            s=30,
            alpha=0.8,
        )
    ax.set_xscale("log")
    ax.set(
        xlabel="mean training time per fold (s, log scale)",
        ylabel="normalised score (0 = constant, 1 = best)",
        title=title,
    )
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_normalised(table: pd.DataFrame, *, title: str) -> Figure:
    wide = normalised(table).pivot(index="dataset", columns="framework", values="normalised")
    wide = wide[_order(list(wide.columns))]
    fig = new_figure(7.5, 0.45 * len(wide) + 1.8)
    ax = fig.subplots()
    image = ax.imshow(wide.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(wide.shape[1]), [NAMES.get(c, c) for c in wide.columns], rotation=20)
    ax.set_yticks(range(len(wide)), list(wide.index))
    for i in range(wide.shape[0]):
        for j in range(wide.shape[1]):
            value = float(wide.to_numpy()[i, j])
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
    ax.set_title(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------- documents


def evaluate(result: GridResult, cfg: BenchConfig) -> Evaluation:
    """A grid's report for its profile: the metrics document (``<profile>/metrics.json``),
    the figures, and the cells and datasets as files. Only datasets whose every planned
    cell is stored are reported; an incomplete grid says what is missing."""
    from automl_bench import store
    from tenfold.repro import format_metrics

    complete = result.complete_datasets
    cells = [c for c in result.cells if c.dataset in complete]
    if not cells:
        raise DataError(
            f"no dataset of profile {result.profile.name!r} has all its cells stored "
            f"({len(result.cells)} of {len(result.planned)} cells): run `train` first"
        )
    document = metrics_document(
        cells, profile=dataclasses.asdict(result.profile), datasets=result.datasets
    )
    if len(result.cells) < len(result.planned):
        document["incomplete"] = {
            "stored": len(result.cells),
            "planned": len(result.planned),
            "complete_datasets": complete,
        }
    table = summary(cells)
    title = f"{result.profile.name} profile, {result.profile.budget_label} per job"
    figures: dict[str, Figure] = {}
    if table["dataset"].nunique() >= 2 and table["framework"].nunique() >= 3:
        figures["critical_difference.png"] = plot_critical_difference(
            table, title=f"Mean rank ({title})"
        )
    figures["score_vs_time.png"] = plot_score_vs_time(
        table, title=f"Score vs training time ({title})"
    )
    figures["normalised.png"] = plot_normalised(table, title=f"Normalised score ({title})")
    return Evaluation(
        metrics=document,
        figures=figures,
        files={
            "cells.json": store.dump(cells),
            "datasets.json": format_metrics({"datasets": list(result.datasets)}),
        },
    )


def promotion_gate(result: GridResult, cfg: BenchConfig) -> tuple[Gate, Scorer]:
    """When a new publication of the results replaces the one the API serves: the gate's
    metric is how many grid cells a publication reports (every profile), and the margin
    (``cfg.promotion_margin``, -0.5) lets an equal count through, so a publication is
    kept back only when it covers less than the served one (a run on a subset of the
    datasets, an interrupted grid). The score is read from each publication itself."""
    from tenfold.promotion import Gate, ValidationSet

    keys = pd.DataFrame({"cell": sorted(c.key for c in result.planned)})
    gate = Gate(
        metric="published_cells",
        higher_is_better=True,
        margin=cfg.promotion_margin,
        validation_set=ValidationSet.of(
            f"the {result.profile.name} grid ({len(keys)} planned cells, seed {cfg.seed})", keys
        ),
    )
    return gate, lambda record: float(record.model.cells_reported)


def p_text(p_value: float) -> str:
    """A p-value as the report prints it; the metrics file keeps 4 decimals, so one below
    0.00005 is stored as 0 and shown as a bound, not as "p = 0"."""
    return "p < 0.0001" if p_value < 1e-4 else f"p = {p_value:.2g}"


def metrics_document(
    cells: Sequence[CellResult],
    *,
    profile: Mapping[str, Any],
    datasets: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The profile's results as one JSON document (reports/<profile>/metrics.json)."""
    table = normalised(summary(cells))
    ranked = ranks(table).reset_index().melt(id_vars="dataset", value_name="rank")
    table = table.merge(ranked, on=["dataset", "framework"], how="left")
    kinds = sorted({c.data_kind for c in cells})
    grid = [c for c in cells if c.fold != HOLDOUT]
    # the fraud simulator is synthetic by design: "synthetic" means a twin stood in
    twin = any(is_twin(c.data_kind, c.dataset) for c in cells)
    return {
        "data": {"kind": "synthetic" if twin else "real", "kinds": kinds},
        "profile": dict(profile),
        "datasets": list(datasets),
        "results": [
            {
                k: row[k]
                for k in (
                    "dataset",
                    "framework",
                    "metric",
                    "mean",
                    "std",
                    "folds",
                    "failures",
                    "fit_seconds",
                    "normalised",
                    "rank",
                )
            }
            for _, row in table.iterrows()
        ],
        "leaderboard": leaderboard(table),
        "mean_normalised": table.groupby("framework")["normalised"].mean().to_dict(),
        "statistics": friedman_nemenyi(table),
        "failures": [
            {"cell": c.key, "failure": c.failure}
            for c in sorted(grid, key=lambda c: c.key)
            if c.status != "ok"
        ],
        "cells": len(grid),
        "telco_holdout": telco_holdout(cells, table),
    }


def leaderboard(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per framework, best mean rank first: mean rank over the datasets (1 =
    best), mean normalised score, datasets won outright, mean training time per fold and
    failed cells (``table``: :func:`normalised` with each dataset's ``rank``)."""
    grouped = table.groupby("framework")
    rows = pd.DataFrame(
        {
            "mean_rank": grouped["rank"].mean(),
            "mean_normalised": grouped["normalised"].mean(),
            "wins": grouped["rank"].agg(lambda r: int((r == 1).sum())),
            "fit_seconds": grouped["fit_seconds"].mean(),
            "failed_cells": grouped["failures"].sum().astype(int),
        }
    )
    known = {f: i for i, f in enumerate(FRAMEWORKS)}
    order = sorted(rows.index, key=lambda f: (rows.loc[f, "mean_rank"], known.get(f, 99), f))
    return [
        {
            "framework": f,
            "mean_rank": float(rows.loc[f, "mean_rank"]),
            "mean_normalised": float(rows.loc[f, "mean_normalised"]),
            "wins": int(rows.loc[f, "wins"]),
            "fit_seconds": float(rows.loc[f, "fit_seconds"]),
            "failed_cells": int(rows.loc[f, "failed_cells"]),
        }
        for f in order
    ]


def telco_holdout(cells: Sequence[CellResult], table: pd.DataFrame) -> dict[str, Any]:
    """Each framework on churn's own test split; the one to compare is chosen by the
    benchmark's Telco cross-validation, never by this split."""
    held = {c.framework: c for c in cells if c.fold == HOLDOUT and c.dataset == "telco"}
    if not held:
        return {}
    telco = table[table["dataset"] == "telco"].set_index("framework")
    chosen = str(telco["mean"].idxmax()) if len(telco) else None
    return {
        "chosen_by_cv": chosen,
        "churn_published_roc_auc": CHURN_PUBLISHED_ROC_AUC,
        "roc_auc": {f: c.score for f, c in sorted(held.items())},
        "status": {f: c.status for f, c in sorted(held.items())},
    }


def _fmt(value: float, metric: str) -> str:
    return f"{value:.4f}" if metric != "rmse" else f"{value:.4g}"


def results_section(document: Mapping[str, Any]) -> str:
    """The generated part of REPORT.md for one profile."""
    profile = document["profile"]
    results = pd.DataFrame(document["results"])
    frameworks = _order(list(results["framework"].unique()))
    budget = (
        f"{profile['iterations']} iterations"
        if profile.get("iterations")
        else f"{profile['time_budget']:g} s"
    )
    lines = [
        f"Profile **{profile['name']}**: {profile['folds']} outer folds, {budget} per job, "
        f"{profile['cores']} core and {profile['memory_gb']:g} GiB per job, "
        f"{profile['workers']} jobs side by side; "
        + (
            f"training folds capped at {profile['max_train_rows']:,} rows; "
            if profile.get("max_train_rows")
            else ""
        )
        + f"{document['cells']} cells, {len(document['failures'])} failed "
        "(scored as the constant predictor).",
        "",
        "Mean ± sd over the outer folds (ROC-AUC ↑, log loss ↓, RMSE ↓; best in bold; "
        "failed folds in brackets):",
        "",
    ]
    rows = []
    for dataset, group in results.groupby("dataset", sort=True):
        by = group.set_index("framework")
        metric = str(group["metric"].iloc[0])
        higher = GREATER_IS_BETTER[metric]
        best = by["mean"].max() if higher else by["mean"].min()
        row: dict[str, str] = {"dataset": f"{dataset} ({metric})"}
        for f in frameworks:
            if f not in by.index:
                row[f] = "–"
                continue
            r = by.loc[f].to_dict()
            text = f"{_fmt(r['mean'], metric)} ± {_fmt(r['std'], metric)}"
            if r["mean"] == best:
                text = f"**{text}**"
            if r["failures"]:
                text += f" [{int(r['failures'])}]"
            row[f] = text
        rows.append(row)
    columns = [("dataset", lambda r: r["dataset"])] + [
        (NAMES.get(f, f), lambda r, f=f: r[f]) for f in frameworks
    ]
    lines += [markdown_table(rows, columns), ""]
    stats = document["statistics"]
    board = {row["framework"]: row for row in document["leaderboard"]}
    summary_rows = [
        {
            "framework": NAMES.get(f, f),
            "normalised": f"{board[f]['mean_normalised']:.3f}",
            "rank": f"{board[f]['mean_rank']:.2f}",
            "wins": str(int(board[f]["wins"])),
            "seconds": f"{board[f]['fit_seconds']:.1f}",
            "failed": str(int(board[f]["failed_cells"])),
        }
        for f in frameworks
    ]
    lines += [
        "Normalised score (mean over datasets), mean rank, datasets won, mean training time "
        "per fold, failed cells:",
        "",
        markdown_table(
            summary_rows,
            [
                ("Framework", lambda r: r["framework"]),
                ("Normalised score", lambda r: r["normalised"]),
                ("Mean rank", lambda r: r["rank"]),
                ("Wins", lambda r: r["wins"]),
                ("Training s / fold", lambda r: r["seconds"]),
                ("Failed cells", lambda r: r["failed"]),
            ],
        ),
        "",
    ]
    if document.get("incomplete"):
        missing = document["incomplete"]
        lines += [
            f"**Incomplete:** {missing['stored']} of {missing['planned']} cells stored; only "
            f"the datasets with every cell stored are shown "
            f"({', '.join(missing['complete_datasets'])}). `python -m automl_bench run "
            f"--profile {profile['name']}` resumes the grid where it stopped.",
            "",
        ]
    if "p_value" in stats:
        lines.append(
            f"Friedman test over {stats['datasets']} datasets and {stats['frameworks']} "
            f"frameworks: χ² = {stats['statistic']:.2f}, {p_text(stats['p_value'])}; Nemenyi "
            f"critical difference at α = {stats['alpha']}: "
            f"{stats['critical_difference']:.2f} ranks."
        )
    if document["failures"]:
        lines += ["", "Failures:", ""]
        lines += [f"- `{f['cell']}`: {f['failure']}" for f in document["failures"]]
    holdout = document.get("telco_holdout") or {}
    if holdout:
        chosen = holdout["chosen_by_cv"]
        lines += [
            "",
            f"Telco, churn's own test split (20 %, seed 42), each framework trained on churn's "
            f"training split with the same budget; churn's published model: "
            f"**{holdout['churn_published_roc_auc']:.3f}** ROC-AUC.",
            "",
            markdown_table(
                [
                    {"f": f, "auc": v, "chosen": f == chosen, "status": holdout["status"][f]}
                    for f, v in holdout["roc_auc"].items()
                ],
                [
                    (
                        "Framework",
                        lambda r: (
                            str(NAMES.get(r["f"], r["f"]))
                            + (" (best by CV)" if r["chosen"] else "")
                        ),
                    ),
                    (
                        "Test ROC-AUC",
                        lambda r: f"{r['auc']:.4f}" + ("" if r["status"] == "ok" else " (failed)"),
                    ),
                ],
            ),
        ]
    return "\n".join(lines)


def datasets_section(datasets: Sequence[Mapping[str, Any]]) -> str:
    return markdown_table(
        list(datasets),
        [
            ("Dataset", lambda r: r["dataset"]),
            ("Task", lambda r: r["task"]),
            ("Rows", lambda r: f"{r['rows']:,}"),
            ("Features", lambda r: str(r["features"])),
            ("Categorical", lambda r: f"{r['categorical_share']:.0%}"),
            ("Max cardinality", lambda r: str(r["max_cardinality"])),
            ("Missing", lambda r: f"{r['missing_share']:.1%}"),
            ("Balance / target", lambda r: r["balance"]),
            ("Folds", lambda r: r["folds"]),
            ("Data", lambda r: r["data"]),
        ],
    )


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results section, from reports/metrics.json (the published profiles)."""
    lines = []
    for name, document in metrics["profiles"].items():
        mean = document["mean_normalised"]
        stats = document["statistics"]
        ranks_ = stats.get("mean_ranks", {})
        order = sorted(mean, key=lambda f: -mean[f])
        lines.append(
            f"**{name}** ({document['profile']['folds']} folds, "
            + (
                f"{document['profile']['iterations']} iterations"
                if document["profile"].get("iterations")
                else f"{document['profile']['time_budget']:g} s"
            )
            + " per job): "
            + ", ".join(
                f"{NAMES.get(f, f)} {mean[f]:.3f}"
                + (f" (rank {ranks_[f]:.2f})" if f in ranks_ else "")
                for f in order
            )
            + "."
        )
    return (
        "\n\n".join(lines)
        + "\n\n(normalised score: 0 = constant predictor, 1 = best per dataset; see REPORT.md)"
    )
