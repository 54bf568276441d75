"""Churn as a :class:`retraining.interface.Retrainable`: the interface on a second
project, with no time inside its rows.

A batch is a day's cohort of customers in the Telco file's schema (from
``data/datasets.toml``) with their outcome (``Churn``). The window is in batch days:
customers of the training days train one XGBoost (churn's pipeline, its threshold from
out-of-fold retention value), customers of the validation days are the gate's rows,
scored with churn's gate metric (ROC-AUC, higher is better).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd

from churn.config import ChurnConfig
from churn.evaluate import promotion_gate
from churn.train import (
    XGB_DEFAULTS,
    ChurnCandidate,
    ChurnResult,
    TrainingData,
    fit_candidate,
    make_folds,
    make_pipeline,
    prepare,
    retention_value_curve,
    xgboost,
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
from tenfold.data import ColumnSpec, DataError, DataSource, Manifest
from tenfold.pipelines import Split
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.tracking import LoggedTraining
from tenfold.training import TrainResult

VARIANT = "xgboost"
MONITORED_NUMERICAL = ("tenure", "MonthlyCharges", "TotalCharges")
MONITORED_CATEGORICAL = ("Contract", "InternetService", "PaymentMethod", "PaperlessBilling")


class ChurnTarget:
    """Retrain churn's XGBoost on a rolling window of daily customer cohorts."""

    name = "churn"
    lookback_days = 0

    def __init__(self, cfg: RetrainingConfig) -> None:
        self.settings = cfg
        base = ChurnConfig()
        columns = tuple(Manifest.load()[base.dataset].file(base.data_file).columns)
        self.contract = BatchContract(
            columns=columns,
            label=base.target,
            positive="Yes",
            min_rows=20 if cfg.checks.min_rows is None else cfg.checks.min_rows,
            max_null_share=0.05,
            label_rate=(0.02, 0.8) if cfg.checks.label_rate is None else cfg.checks.label_rate,
        )
        self.inference_columns: tuple[ColumnSpec, ...] = tuple(
            c for c in columns if c.name != base.target
        )

    def config(self) -> ChurnConfig:
        s = self.settings
        return dataclasses.replace(
            ChurnConfig(),
            seed=s.seed,
            experiment=s.experiment,
            model_name=s.model_name,
            promotion_margin=s.promotion_margin,
            reports_dir=s.reports_dir / "synthetic" / "churn",
            n_jobs=s.n_jobs,
            cv_folds=max(2, s.cv_folds),
            n_trials=1,
        )

    def validate(self, batch: pd.DataFrame, period: dt.date) -> list[str]:
        duplicated = int(batch["customerID"].duplicated().sum())
        return [f"{duplicated} duplicated customerID value(s)"] if duplicated else []

    def _split(self, history: pd.DataFrame, window: Window) -> tuple[Any, Split]:
        cfg = self.config()
        day = pd.to_datetime(history[PERIOD_COLUMN]).dt.date
        train = history[(day >= window.train_start) & (day <= window.train_end)]
        valid = history[(day >= window.validation_start) & (day <= window.validation_end)]
        if train.empty or valid.empty:
            raise DataError(
                f"no customers in the window's training or validation days ({window.describe()})"
            )
        frame = pd.concat([train, valid]).drop(columns=[PERIOD_COLUMN]).reset_index(drop=True)
        prepared = prepare(frame, cfg)
        n = len(train)
        split = Split(
            prepared.X.iloc[:n].reset_index(drop=True),
            prepared.X.iloc[n:].reset_index(drop=True),
            prepared.y[:n],
            prepared.y[n:],
        )
        return prepared, split

    def build_challenger(
        self, history: pd.DataFrame, window: Window, source: DataSource
    ) -> ChurnResult:
        cfg = self.config()
        prepared, split = self._split(history, window)
        params = {**XGB_DEFAULTS, "n_estimators": self.settings.trees}
        pipeline = make_pipeline(prepared, xgboost(cfg, **params), scale=False)
        candidate = fit_candidate(
            VARIANT, pipeline, split, make_folds(split, cfg), cfg, params=params
        )
        return one_candidate(candidate, TrainingData(prepared, split), source, split.X_train)

    def from_run(
        self,
        history: pd.DataFrame,
        window: Window,
        source: DataSource,
        training: LoggedTraining,
    ) -> ChurnResult:
        logged = logged_candidate(training, VARIANT)
        prepared, split = self._split(history, window)
        curve = retention_value_curve(
            split.y_train, logged.oof["oof_proba"].to_numpy(), self.config()
        )
        candidate = ChurnCandidate.from_candidate(logged, value_curve=curve)
        return one_candidate(
            candidate, TrainingData(prepared, split), source, split.X_train, run_id=training.run_id
        )

    def gate(self, result: TrainResult[Any, Any]) -> tuple[Gate, Scorer]:
        gate, score = promotion_gate(result, self.config())
        rows = gate.validation_set
        named = ValidationSet(
            f"churn validation cohorts ({rows.rows:,} customers)", rows.sha256, rows.rows
        )
        return dataclasses.replace(gate, metric="validation ROC-AUC", validation_set=named), score

    def reference_inputs(self, result: TrainResult[Any, Any]) -> pd.DataFrame:
        frame: pd.DataFrame = result.data.split.X_train
        return frame

    def monitored(self, inputs: pd.DataFrame) -> Monitored:
        frame = inputs[[*MONITORED_NUMERICAL, *MONITORED_CATEGORICAL]].copy()
        for column in MONITORED_NUMERICAL:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        for column in MONITORED_CATEGORICAL:
            frame[column] = frame[column].astype(str)
        return Monitored(frame, MONITORED_NUMERICAL, MONITORED_CATEGORICAL)
