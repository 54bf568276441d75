"""Fraud as a :class:`retraining.interface.Retrainable`: the main implementation.

Batches are a day of the transaction log in the fraud simulator's export format
(:data:`fraud.simulator.COLUMNS`). Everything that learns comes from the fraud package
unchanged: its history features (30-day windows, 7-day label delay, hence 37 days of
look-back), its LightGBM pipeline with the cost-optimal threshold chosen on
out-of-fold predictions of the training days (:func:`fraud.train.fit_candidate`), and
its gate: the dollar cost of the validation period at each model's own threshold
(:func:`fraud.evaluate.promotion_gate`), lower being better.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from fraud.config import Boosting, FraudConfig, Protocol
from fraud.evaluate import promotion_gate
from fraud.features import HISTORY_COLUMNS, RAW_INPUTS, derive
from fraud.train import (
    FraudCandidate,
    FraudResult,
    TrainingData,
    costs_of,
    fit_candidate,
    prepare,
    split_periods,
)
from retraining.config import RetrainingConfig
from retraining.interface import (
    PERIOD_COLUMN,
    BatchContract,
    Monitored,
    Window,
    logged_candidate,
    one_candidate,
)
from tenfold.data import ColumnSpec, DataSource
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.tracking import LoggedTraining
from tenfold.training import TrainResult

SECONDS_PER_DAY = 86_400
VARIANT = "lightgbm"
BATCH_COLUMNS = (
    ColumnSpec("transaction_id", "int"),
    ColumnSpec("tx_datetime", "datetime"),
    ColumnSpec("customer_id", "int"),
    ColumnSpec("terminal_id", "int"),
    ColumnSpec("tx_amount", "float"),
    ColumnSpec("tx_time_seconds", "int"),
    ColumnSpec("tx_time_days", "int"),
    ColumnSpec("tx_fraud", "int"),
    ColumnSpec("tx_fraud_scenario", "int"),
)
# What the API receives for a transaction (and the monitor reads back).
INFERENCE_COLUMNS = (
    ColumnSpec("tx_datetime", "datetime"),
    ColumnSpec("tx_amount", "float"),
    *(ColumnSpec(c, "float") for c in HISTORY_COLUMNS),
)
# Drift is measured on what the model reads, except the weekend flag: a weekday against
# a reference of whole weeks would "drift" every Monday.
MONITORED_NUMERICAL = ("tx_amount", *HISTORY_COLUMNS, "amount_vs_customer_avg_30day")
MONITORED_CATEGORICAL = ("tx_during_night",)


class FraudTarget:
    """Retrain fraud's LightGBM on a rolling window of daily transaction batches."""

    name = "fraud"
    inference_columns = INFERENCE_COLUMNS

    def __init__(self, cfg: RetrainingConfig) -> None:
        self.settings = cfg
        base = FraudConfig()
        self.lookback_days = max(base.windows) + base.label_delay_days
        # a day's batch: at least a few hundred transactions (an export that lost most
        # of them is broken), a fraud rate no bank sees outside an incident
        checks = cfg.checks
        self.contract = BatchContract(
            columns=BATCH_COLUMNS,
            label="tx_fraud",
            positive=1,
            min_rows=200 if checks.min_rows is None else checks.min_rows,
            max_rows=2_000_000,
            label_rate=(0.0005, 0.10) if checks.label_rate is None else checks.label_rate,
        )

    def config(self) -> FraudConfig:
        s = self.settings
        return dataclasses.replace(
            FraudConfig(),
            seed=s.seed,
            experiment=s.experiment,
            model_name=s.model_name,
            promotion_margin=s.promotion_margin,
            reports_dir=s.reports_dir / "synthetic",
            n_jobs=s.n_jobs,
            boosting=dataclasses.replace(Boosting(), n_estimators=s.trees),
            n_boot=0,
        )

    # ------------------------------------------------------------------ batches

    def validate(self, batch: pd.DataFrame, period: dt.date) -> list[str]:
        """What the schema cannot say: every transaction on the batch's day, no negative
        amount (a $0 card check is a real transaction), unique transaction ids."""
        problems = []
        days = batch["tx_datetime"].dt.date
        outside = int((days != period).sum())
        if outside:
            problems.append(f"{outside} transaction(s) not dated {period}")
        negative = int((batch["tx_amount"] < 0).sum())
        if negative:
            problems.append(f"{negative} transaction(s) with a negative amount")
        duplicated = int(batch["transaction_id"].duplicated().sum())
        if duplicated:
            problems.append(f"{duplicated} duplicated transaction_id value(s)")
        return problems

    # ------------------------------------------------------------------ training

    def _prepared(self, history: pd.DataFrame, window: Window) -> tuple[FraudConfig, Any, Any]:
        frame = (
            history.drop(columns=[PERIOD_COLUMN], errors="ignore")
            .sort_values(["tx_time_seconds", "customer_id"], kind="stable")
            .reset_index(drop=True)
        )
        seconds = frame["tx_time_seconds"].to_numpy()
        origin = (frame["tx_datetime"].iloc[0] - pd.to_timedelta(int(seconds[0]), "s")).normalize()
        train_start_day = (pd.Timestamp(window.train_start) - origin).days
        first_day = float(seconds.min()) / SECONDS_PER_DAY
        folds = self.settings.cv_folds
        protocol = Protocol(
            burn_in=train_start_day - first_day,
            train=float(window.train_days),
            delay=float(window.gap_days),
            test=float(window.validation_days),
            cv_folds=folds,
            cv_valid_days=float(max(1, window.train_days // (folds + 2))),
        )
        cfg = dataclasses.replace(self.config(), protocol=protocol)
        prepared = prepare(frame, cfg)
        return cfg, prepared, split_periods(prepared, cfg)

    def build_challenger(
        self, history: pd.DataFrame, window: Window, source: DataSource
    ) -> FraudResult:
        """One LightGBM on the training days, its threshold the cheapest on its
        out-of-fold predictions; the validation days are not touched."""
        cfg, prepared, periods = self._prepared(history, window)
        candidate = fit_candidate(VARIANT, prepared, periods, cfg)
        return one_candidate(
            candidate, TrainingData(prepared, periods), source, periods.split.X_train
        )

    def from_run(
        self,
        history: pd.DataFrame,
        window: Window,
        source: DataSource,
        training: LoggedTraining,
    ) -> FraudResult:
        logged = logged_candidate(training, VARIANT)
        cfg, prepared, periods = self._prepared(history, window)
        rows, proba = logged.oof["row"].to_numpy(), logged.oof["oof_proba"].to_numpy()
        curve, cost_default = costs_of(rows, proba, periods, cfg)
        candidate = FraudCandidate.from_candidate(
            logged, validation_curve=curve, validation_cost_default=cost_default
        )
        return one_candidate(
            candidate,
            TrainingData(prepared, periods),
            source,
            periods.split.X_train,
            run_id=training.run_id,
        )

    def gate(self, result: TrainResult[Any, Any]) -> tuple[Gate, Scorer]:
        """Fraud's own gate (cost of the validation period at each model's threshold),
        its rows named by their dates."""
        gate, score = promotion_gate(result, self.config())
        when = result.data.periods.split.X_test["tx_datetime"]
        rows = gate.validation_set
        name = (
            f"fraud validation period {when.min():%Y-%m-%d}..{when.max():%Y-%m-%d} "
            f"({rows.rows:,} transactions)"
        )
        named = ValidationSet(name, rows.sha256, rows.rows)
        return dataclasses.replace(gate, metric="validation cost ($)", validation_set=named), score

    # ------------------------------------------------------------------ monitoring

    def reference_inputs(self, result: TrainResult[Any, Any]) -> pd.DataFrame:
        """The training days' rows as the API receives them."""
        frame: pd.DataFrame = result.data.periods.split.X_train[list(RAW_INPUTS)]
        return frame

    def monitored(self, inputs: pd.DataFrame) -> Monitored:
        derived = derive(
            {
                c: inputs[c].to_numpy()
                for c in ("tx_datetime", "tx_amount", "customer_avg_amount_30day")
            }
        )
        frame = inputs[["tx_amount", *HISTORY_COLUMNS]].astype(float).copy()
        frame["amount_vs_customer_avg_30day"] = derived["amount_vs_customer_avg_30day"]
        frame["tx_during_night"] = derived["tx_during_night"].astype(np.int64).astype(str)
        return Monitored(frame, MONITORED_NUMERICAL, MONITORED_CATEGORICAL)
