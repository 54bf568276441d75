"""Data drift of a period against a reference: statistics, an Evidently report, a verdict.

:func:`drift_report` compares the rows of one period (what a model scored, e.g. a day
of requests) with a reference (the rows it was trained on) column by column, with
Evidently 0.7's drift metrics (those of ``DataDriftPreset``): each column gets the test
Evidently picks for its type and size (Wasserstein distance for large numeric samples,
Kolmogorov-Smirnov for small ones, Jensen-Shannon for categories) and a drifted / not
drifted answer; the period's **drift share** is the share of drifted columns, and the
period counts as drifted when that share reaches ``threshold`` (Evidently's own
dataset-drift rule). Beside it, plain distribution statistics of every column in both
samples (:func:`feature_statistics`), so a reader sees *how* a column moved.

The result carries the HTML report (Evidently's interactive page) and a JSON document
(the verdict, per-column scores, statistics and Evidently's raw metrics);
:func:`write_report` puts both in a :class:`tenfold.storage.Lake` under the period's
name. Needs the ``drift`` extra (``evidently``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tenfold.storage import Lake

STATISTICS = ("rows", "null_share", "mean", "std", "min", "p05", "p50", "p95", "max")


def feature_statistics(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per column: rows, share of missing values, mean, standard deviation, min, 5th,
    50th and 95th percentiles, max (of the values present; NaN for an empty column)."""
    out: dict[str, dict[str, float]] = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").astype(float)
        present = values.dropna().to_numpy()
        empty = present.size == 0
        quantiles = [np.nan] * 3 if empty else np.quantile(present, [0.05, 0.5, 0.95]).tolist()
        out[column] = {
            "rows": float(len(values)),
            "null_share": float(values.isna().mean()) if len(values) else 0.0,
            "mean": np.nan if empty else float(present.mean()),
            "std": np.nan if empty else float(present.std(ddof=0)),
            "min": np.nan if empty else float(present.min()),
            "p05": quantiles[0],
            "p50": quantiles[1],
            "p95": quantiles[2],
            "max": np.nan if empty else float(present.max()),
        }
    return out


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: Evidently's method, its score and threshold, the verdict."""

    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    """The drift of one period against a reference.

    ``share`` is the share of drifted columns (the period's drift score); ``drifted``
    whether it reached ``threshold``. ``html`` is Evidently's report page and
    ``evidently`` its metrics and tests as a dict.
    """

    period: str
    share: float
    threshold: float
    columns: tuple[ColumnDrift, ...]
    reference_rows: int
    current_rows: int
    statistics: Mapping[str, Mapping[str, Mapping[str, float]]]
    html: str = field(repr=False, default="")
    evidently: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.share >= self.threshold

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def summary(self) -> dict[str, Any]:
        """The verdict, per-column scores and statistics (JSON-ready; no HTML)."""
        return {
            "period": self.period,
            "drift_share": self.share,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "drifted_columns": self.drifted_columns,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": {
                c.column: {
                    "method": c.method,
                    "score": c.score,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                }
                for c in self.columns
            },
            "statistics": {k: dict(v) for k, v in self.statistics.items()},
        }

    def to_json(self) -> str:
        """The summary with Evidently's raw output, as one JSON document."""
        document = {**self.summary(), "evidently": dict(self.evidently)}
        return json.dumps(_finite(document), indent=2, sort_keys=True, default=str) + "\n"


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    period: str,
    threshold: float,
    numerical: Sequence[str],
    categorical: Sequence[str] = (),
    reference_sample: int | None = None,
    seed: int = 42,
) -> DriftReport:
    """Evidently's drift preset on ``numerical`` and ``categorical`` columns of
    ``current`` against ``reference``.

    ``reference_sample`` caps the reference rows (a seeded sample: the tests' power
    barely changes beyond a few thousand rows, their cost does). ``threshold`` is the
    share of drifted columns from which the period counts as drifted.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a share of columns in (0, 1], got {threshold}")
    columns = [*numerical, *categorical]
    missing = {
        name: [c for c in columns if c not in frame.columns]
        for name, frame in (("reference", reference), ("current", current))
    }
    if any(missing.values()):
        raise ValueError(f"drift columns missing: {missing}")
    if current.empty or reference.empty:
        raise ValueError(f"period {period}: nothing to compare (an empty reference or period)")
    if reference_sample is not None and len(reference) > reference_sample:
        reference = reference.sample(reference_sample, random_state=seed).sort_index()
    definition = DataDefinition(
        numerical_columns=list(numerical), categorical_columns=list(categorical)
    )
    # Evidently correlates the columns for its page; a column constant within a period
    # (no risky terminal that day) makes numpy warn about 0/0 there, harmlessly
    with np.errstate(divide="ignore", invalid="ignore"):
        # the metrics DataDriftPreset is made of, without its summary table: that page
        # renders every column's plots a second time, doubling the cost of a report
        metrics = [
            DriftedColumnsCount(columns=columns, drift_share=threshold),
            *(ValueDrift(column=column) for column in columns),
        ]
        snapshot = Report(metrics, include_tests=True).run(
            current_data=Dataset.from_pandas(
                current[columns].reset_index(drop=True), data_definition=definition
            ),
            reference_data=Dataset.from_pandas(
                reference[columns].reset_index(drop=True), data_definition=definition
            ),
        )
        html = snapshot.get_html_str(as_iframe=False)
    raw = snapshot.dict()
    by_column = _column_results(raw)
    share = _drift_share(raw)
    return DriftReport(
        period=period,
        share=share,
        threshold=threshold,
        columns=tuple(by_column[c] for c in columns),
        reference_rows=len(reference),
        current_rows=len(current),
        statistics={
            "reference": feature_statistics(reference, columns),
            "current": feature_statistics(current, columns),
        },
        html=html,
        evidently=raw,
    )


def _column_results(raw: Mapping[str, Any]) -> dict[str, ColumnDrift]:
    """Each ValueDrift metric with its verdict (Evidently's own test: a failed test is a
    drifted column; without tests, the method's rule: distance above, p-value below)."""
    verdicts = {
        test["bound_test"]["metric_fingerprint"]: test["status"] == "FAIL"
        for test in raw.get("tests", [])
        if test.get("id") == "drift" and "bound_test" in test
    }
    out: dict[str, ColumnDrift] = {}
    for metric in raw["metrics"]:
        config = metric["config"]
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        score = float(metric["value"])
        threshold = float(config["threshold"])
        method = str(config["method"])
        fallback = (
            score < threshold if "p_value" in method or "test" in method else score >= threshold
        )
        drifted = verdicts.get(metric["id"], fallback)
        out[config["column"]] = ColumnDrift(config["column"], method, score, threshold, drifted)
    return out


def _drift_share(raw: Mapping[str, Any]) -> float:
    for metric in raw["metrics"]:
        if str(metric["config"].get("type", "")).endswith("DriftedColumnsCount"):
            return float(metric["value"]["share"])
    raise ValueError("Evidently's report has no DriftedColumnsCount metric")


def _finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has no word for them."""
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class WrittenReport:
    """Where a period's report went: the HTML page and the JSON document."""

    html: str
    json: str


def report_keys(prefix: str, period: str) -> tuple[str, str]:
    """The keys of a period's HTML and JSON reports below ``prefix``."""
    base = f"{prefix.rstrip('/')}/{period}"
    return f"{base}/drift.html", f"{base}/drift.json"


def write_report(report: DriftReport, lake: Lake, prefix: str) -> WrittenReport:
    """Write ``<prefix>/<period>/drift.html`` and ``drift.json`` to ``lake``; the JSON is
    written last, so its presence means the period's report is complete."""
    html_key, json_key = report_keys(prefix, report.period)
    html = lake.write_text(html_key, report.html)
    document = lake.write_text(json_key, report.to_json())
    return WrittenReport(html, document)


def read_summary(lake: Lake, prefix: str, period: str) -> dict[str, Any] | None:
    """A written period's summary (the JSON document), or None when there is none."""
    try:
        document: dict[str, Any] = lake.read_json(report_keys(prefix, period)[1])
    except FileNotFoundError:
        return None
    return document
