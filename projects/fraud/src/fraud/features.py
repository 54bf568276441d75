"""Fraud features: history aggregates from the transaction log, and the Pipeline steps.

Two layers, as in a production system:

1. :func:`history_features` is the *feature store*: per transaction, aggregates of the
   customer's and the terminal's earlier transactions (the handbook's features). It reads
   only the past: customer windows cover ``(t - w, t)``, strictly before the transaction;
   terminal windows cover ``(t - delay - w, t - delay]``, because a fraud label is only
   known ``delay`` days after the fact. The API receives these values from upstream.
2. :class:`FraudFeatures` (inside the Pipeline) derives what needs only the transaction
   itself and those aggregates: weekend, night, and the amount relative to the
   customer's usual spending. It learns nothing, so there is nothing to leak, and the
   same :func:`derive` serves the Pipeline and the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tenfold.pipelines import ColumnFeatures, TabularSchema, as_floats, build_preprocessor

SECONDS_PER_DAY = 86_400
WINDOWS = (1, 7, 30)


def customer_columns(windows: Sequence[int] = WINDOWS) -> list[str]:
    return [
        *(f"customer_nb_tx_{w}day" for w in windows),
        *(f"customer_avg_amount_{w}day" for w in windows),
    ]


def terminal_columns(windows: Sequence[int] = WINDOWS) -> list[str]:
    return [
        *(f"terminal_nb_tx_{w}day" for w in windows),
        *(f"terminal_risk_{w}day" for w in windows),
    ]


HISTORY_COLUMNS = (*customer_columns(), *terminal_columns())
DERIVED_COLUMNS = ("tx_during_weekend", "tx_during_night", "amount_vs_customer_avg_30day")
# What the model reads: the transaction, its history aggregates, the derived columns.
RAW_INPUTS = ("tx_datetime", "tx_amount", *HISTORY_COLUMNS)
MODEL_FEATURES = ("tx_amount", *HISTORY_COLUMNS, *DERIVED_COLUMNS)
# the handbook's night: midnight to 6:59
NIGHT_LAST_HOUR = 6


# --------------------------------------------------------------------------- feature store


def history_features(
    transactions: pd.DataFrame,
    *,
    windows: Sequence[int] = WINDOWS,
    delay_days: int = 7,
) -> pd.DataFrame:
    """Customer spending and terminal risk windows for every transaction (same order).

    Needs ``customer_id``, ``terminal_id``, ``tx_time_seconds``, ``tx_amount`` and
    ``tx_fraud``. Vectorised: rows are sorted by (entity, time) once and every window is
    two binary searches and a difference of cumulative sums.
    """
    seconds = transactions["tx_time_seconds"].to_numpy(dtype=np.int64)
    amount = transactions["tx_amount"].to_numpy(dtype=float)
    fraud = transactions["tx_fraud"].to_numpy(dtype=float)
    out: dict[str, np.ndarray] = {}

    customer = _EntityTimeline(transactions["customer_id"].to_numpy(), seconds)
    for w in windows:
        # (t - w, t): strictly earlier transactions of the same customer
        count, total = customer.window(amount, lower=w * SECONDS_PER_DAY, upper=0, closed=False)
        out[f"customer_nb_tx_{w}day"] = count
        out[f"customer_avg_amount_{w}day"] = np.divide(
            total, count, out=np.zeros_like(total), where=count > 0
        )
    terminal = _EntityTimeline(transactions["terminal_id"].to_numpy(), seconds)
    delay = delay_days * SECONDS_PER_DAY
    for w in windows:
        # (t - delay - w, t - delay]: transactions whose label is known by now
        count, frauds = terminal.window(
            fraud, lower=delay + w * SECONDS_PER_DAY, upper=delay, closed=True
        )
        out[f"terminal_nb_tx_{w}day"] = count
        out[f"terminal_risk_{w}day"] = np.divide(
            frauds, count, out=np.zeros_like(frauds), where=count > 0
        )
    ordered = {c: out[c] for c in (*customer_columns(windows), *terminal_columns(windows))}
    return pd.DataFrame(ordered, index=transactions.index)


class _EntityTimeline:
    """Transactions sorted by (entity, time), for windowed sums per entity."""

    def __init__(self, entity: np.ndarray, seconds: np.ndarray) -> None:
        codes = pd.factorize(entity, sort=True)[0].astype(np.int64)
        elapsed = seconds - seconds.min()
        # one key per (entity, time); the margin keeps windows (< 1000 days) inside
        # their entity's range of keys
        span = int(elapsed.max()) + 1 + 1000 * SECONDS_PER_DAY
        self.key = codes * span + elapsed
        self.order = np.argsort(self.key, kind="stable")
        self.sorted_key = self.key[self.order]

    def window(
        self, values: np.ndarray, *, lower: int, upper: int, closed: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Count and sum of ``values`` over ``(t - lower, t - upper)`` (``closed``:
        ``(t - lower, t - upper]``) within each row's entity."""
        cumulative = np.concatenate([[0.0], np.cumsum(values[self.order])])
        start = np.searchsorted(self.sorted_key, self.key - lower, side="right")
        end = np.searchsorted(self.sorted_key, self.key - upper, side="right" if closed else "left")
        end = np.maximum(end, start)
        return (end - start).astype(float), cumulative[end] - cumulative[start]


# --------------------------------------------------------------------------- pipeline step


def derive(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Weekend, night and relative amount from one transaction's raw inputs (scalars) or
    many (arrays). ``tx_datetime`` is the local wall-clock time of the transaction."""
    when = np.atleast_1d(np.asarray(columns["tx_datetime"], dtype="datetime64[s]"))
    days = when.astype("datetime64[D]").astype(np.int64)
    hour = (when.astype(np.int64) - days * SECONDS_PER_DAY) // 3600
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    amount = as_floats(columns["tx_amount"])
    usual = as_floats(columns["customer_avg_amount_30day"])
    # no spending history: no ratio (the imputer fills it); 5x usual is scenario 3's mark
    ratio = np.divide(amount, usual, out=np.full_like(amount, np.nan), where=usual > 0)
    return {
        "tx_during_weekend": (weekday >= 5).astype(float),
        "tx_during_night": (hour <= NIGHT_LAST_HOUR).astype(float),
        "amount_vs_customer_avg_30day": ratio,
    }


class FraudFeatures(ColumnFeatures):
    """Adds the derived columns; stateless, so ``fit`` learns nothing that could leak."""

    requires = RAW_INPUTS
    adds = DERIVED_COLUMNS

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return derive(columns)


def simulated_schema() -> TabularSchema:
    return TabularSchema(numeric=MODEL_FEATURES)


# --------------------------------------------------------------------------- ULB file

ULB_COMPONENTS = tuple(f"V{i}" for i in range(1, 29))


class UlbFeatures(ColumnFeatures):
    """The ULB file's features are anonymised principal components; the one thing to
    derive is the hour of day from ``Time`` (seconds since the first transaction, which
    falls near midnight: activity is lowest 1-7 hours into each day)."""

    requires = ("Time",)
    adds = ("hour_of_day",)

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return {"hour_of_day": (as_floats(columns["Time"]) % SECONDS_PER_DAY) / 3600.0}


def ulb_schema() -> TabularSchema:
    return TabularSchema(numeric=(*ULB_COMPONENTS, "Amount", "hour_of_day"))


def preprocessor(schema: TabularSchema, *, scale: bool) -> Any:
    """Linear models need scaled inputs; trees do not, and unscaled values keep the fast
    serving path's arithmetic to imputation."""
    return build_preprocessor(schema, scale_numeric=scale)
