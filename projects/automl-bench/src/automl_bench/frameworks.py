"""The frameworks, each behind the same adapter: fit within a budget, predict, say what
it did.

``fit(data, budget)`` gets one outer fold's training rows and returns a short report
(models tried, what won); ``predict(X)`` returns P(positive) for binary tasks, an
``(n, k)`` probability matrix for multiclass ones and values for regression. A budget
is either seconds or iterations: with iterations no decision depends on the clock.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from automl_bench.config import METRICS, TaskKind


@dataclass(frozen=True)
class FoldData:
    """What a framework may see of one outer fold: training rows, and the test features."""

    kind: TaskKind
    X_train: Any  # DataFrame, or CSR matrix for the text task
    y_train: np.ndarray
    X_test: Any
    n_classes: int
    seed: int
    feature_names: list[str] = field(default_factory=list)
    groups_train: np.ndarray | None = None
    times_train: np.ndarray | None = None
    domain_features: str | None = None


@dataclass(frozen=True)
class Budget:
    """The same for every framework in a profile."""

    seconds: float | None
    iterations: int | None
    cores: int
    memory_gb: float
    scratch: Path
    optuna_storage: str | None = None
    study_prefix: str = "manual"


class Framework(Protocol):
    name: str

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]: ...

    def predict(self, X: Any) -> np.ndarray: ...


def align_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all ``n_classes`` when the training fold lacked some of them."""
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(seen, dtype=int)] = proba
    return full


def output(kind: TaskKind, proba_or_values: np.ndarray, seen: Any, n_classes: int) -> np.ndarray:
    values = np.asarray(proba_or_values, dtype=float)
    if kind == "regression":
        return values.ravel()
    full = align_proba(values.reshape(len(values), -1), np.asarray(seen), n_classes)
    return full[:, 1] if kind == "binary" else full


def as_frame(X: Any, names: list[str]) -> pd.DataFrame:
    """A DataFrame for frameworks that need one (the TF-IDF matrix densified)."""
    if sparse.issparse(X):
        return pd.DataFrame(X.toarray(), columns=names)
    frame: pd.DataFrame = X.reset_index(drop=True)
    return frame


def categories_of(X_train: pd.DataFrame) -> dict[str, list[Any]]:
    return {
        c: sorted(X_train[c].dropna().astype(str).unique())
        for c in X_train.columns
        if X_train[c].dtype == object or X_train[c].dtype.name == "category"
    }


def with_categories(X: Any, categories: dict[str, list[Any]]) -> Any:
    """Text columns as pandas categoricals with the training levels (unseen → missing):
    what LightGBM reads natively."""
    if sparse.issparse(X) or not categories:
        return X
    out = X.copy()
    for col, levels in categories.items():
        out[col] = pd.Categorical(
            out[col]
            .astype(object)
            .where(out[col].notna())
            .map(lambda v: v if isinstance(v, float) else str(v)),
            categories=levels,
        )
    return out


@contextlib.contextmanager
def quiet() -> Any:
    """AutoML libraries print to stdout and log at INFO; the CLI draws its own progress."""
    import warnings

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


# --------------------------------------------------------------------------- baselines


class Constant:
    """The constant predictor: class shares or the mean of the training fold. Its score
    is the floor of the normalised scale, and what a failed job is scored as."""

    name = "constant"

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]:
        self.kind = data.kind
        y = data.y_train
        if data.kind == "regression":
            self.value_ = np.asarray([float(np.mean(y))])
        else:
            counts = np.bincount(y.astype(int), minlength=data.n_classes).astype(float)
            self.value_ = counts / counts.sum()
        return {"models": ["constant"], "best": "constant"}

    def predict(self, X: Any) -> np.ndarray:
        n = X.shape[0]
        if self.kind == "regression":
            return np.full(n, self.value_[0])
        tiled = np.tile(self.value_, (n, 1))
        return tiled[:, 1] if self.kind == "binary" else tiled


class LightGBMDefaults:
    """LightGBM as it comes (100 trees, 31 leaves), text columns as native categoricals:
    the baseline any tuning must beat."""

    name = "lightgbm"

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]:
        from lightgbm import LGBMClassifier, LGBMRegressor

        self.kind, self.n_classes = data.kind, data.n_classes
        X = data.X_train
        self.categories_ = {} if sparse.issparse(X) else categories_of(X)
        common: dict[str, Any] = {"random_state": data.seed, "n_jobs": budget.cores, "verbose": -1}
        model: Any = (
            LGBMRegressor(**common) if data.kind == "regression" else LGBMClassifier(**common)
        )
        self.model_ = model.fit(with_categories(X, self.categories_), data.y_train)
        return {"models": ["lightgbm"], "best": "lightgbm", "params": "library defaults"}

    def predict(self, X: Any) -> np.ndarray:
        X = with_categories(X, self.categories_)
        if self.kind == "regression":
            return np.asarray(self.model_.predict(X), dtype=float)
        return output(self.kind, self.model_.predict_proba(X), self.model_.classes_, self.n_classes)


# --------------------------------------------------------------------------- AutoML


class Flaml:
    """FLAML's ``AutoML`` (cost-frugal search over LightGBM, XGBoost, CatBoost, random
    forests, extra trees and linear models) with the task's metric."""

    name = "flaml"
    METRIC: ClassVar[dict[str, str]] = {
        "roc_auc": "roc_auc",
        "log_loss": "log_loss",
        "rmse": "rmse",
    }

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]:
        from flaml.automl import AutoML

        self.kind, self.n_classes = data.kind, data.n_classes
        settings: dict[str, Any] = {
            "task": "regression" if data.kind == "regression" else "classification",
            "metric": self.METRIC[METRICS[data.kind]],
            "n_jobs": budget.cores,
            "seed": data.seed,
            "verbose": 0,
            "log_file_name": "",
        }
        if budget.iterations is not None:
            # an iteration budget: a fixed number of trials, no clock in the search
            settings.update(max_iter=budget.iterations * 3, time_budget=-1)
        else:
            settings["time_budget"] = budget.seconds
        self.automl_ = AutoML()  # type: ignore[no-untyped-call]
        X = data.X_train
        if not sparse.issparse(X):
            X = X.reset_index(drop=True)
        with quiet():
            self.automl_.fit(X, data.y_train, **settings)
        return {
            "models": sorted(self.automl_.best_config_per_estimator),
            "best": str(self.automl_.best_estimator),
            "params": self.automl_.best_config,
            "iterations": len(getattr(self.automl_, "config_history", {}) or {}),
        }

    def predict(self, X: Any) -> np.ndarray:
        if not sparse.issparse(X):
            X = X.reset_index(drop=True)
        if self.kind == "regression":
            return np.asarray(self.automl_.predict(X), dtype=float)
        proba = self.automl_.predict_proba(X)  # type: ignore[no-untyped-call]
        return output(self.kind, proba, self.automl_.classes_, self.n_classes)


class AutoGluon:
    """AutoGluon-Tabular (``medium_quality`` presets: LightGBM, CatBoost, XGBoost, random
    forests, extra trees, k-NN, linear models and a weighted ensemble; no neural networks:
    torch is not in the default install). It writes its models under the job's scratch
    folder, never into the repository."""

    name = "autogluon"
    METRIC: ClassVar[dict[str, str]] = {
        "roc_auc": "roc_auc",
        "log_loss": "log_loss",
        "rmse": "root_mean_squared_error",
    }
    LABEL = "__target__"

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]:
        from autogluon.tabular import TabularPredictor

        self.kind, self.n_classes = data.kind, data.n_classes
        self.names = data.feature_names
        frame = as_frame(data.X_train, self.names)
        frame[self.LABEL] = data.y_train
        fit_args: dict[str, Any] = {
            "num_cpus": budget.cores,
            "num_gpus": 0,
            "memory_limit": budget.memory_gb,
        }
        if budget.iterations is not None:
            rounds = 25 * budget.iterations
            fit_args["hyperparameters"] = {
                "GBM": {"num_boost_round": rounds, "seed": data.seed},
                "CAT": {"iterations": rounds, "random_seed": data.seed},
                "XGB": {"n_estimators": rounds, "seed": data.seed},
            }
        else:
            fit_args["time_limit"] = budget.seconds
            fit_args["presets"] = "medium_quality"
            # the networks are off whether or not torch happens to be installed (CI
            # installs it for nlp and anomaly), so every machine runs the same model set
            fit_args["excluded_model_types"] = ["NN_TORCH", "FASTAI"]
        os.environ.setdefault("AUTOGLUON_TELEMETRY", "0")
        self.predictor_ = TabularPredictor(
            label=self.LABEL,
            problem_type=data.kind,
            eval_metric=self.METRIC[METRICS[data.kind]],
            path=str(budget.scratch / "autogluon"),
            verbosity=0,
        )
        with quiet():
            self.predictor_.fit(frame, **fit_args)
        board = self.predictor_.leaderboard(silent=True)
        return {
            "models": sorted(board["model"].astype(str)),
            "best": str(self.predictor_.model_best),
        }

    def predict(self, X: Any) -> np.ndarray:
        frame = as_frame(X, self.names)
        with quiet():
            if self.kind == "regression":
                return np.asarray(self.predictor_.predict(frame), dtype=float)
            proba = self.predictor_.predict_proba(frame, as_multiclass=True)
        return output(self.kind, proba.to_numpy(), np.asarray(proba.columns), self.n_classes)


def registry() -> dict[str, Callable[[], Framework]]:
    from automl_bench.manual import ManualPipeline

    return {
        "constant": Constant,
        "lightgbm": LightGBMDefaults,
        "manual": ManualPipeline,
        "flaml": Flaml,
        "autogluon": AutoGluon,
    }


def make(name: str) -> Framework:
    frameworks = registry()
    if name not in frameworks:
        from tenfold.errors import DataError

        raise DataError(f"unknown framework {name!r}; choose from {sorted(frameworks)}")
    return frameworks[name]()
