"""Training: ridge, random forest and LightGBM, each tuned with Optuna on the same CV
folds, then a stacking ensemble of the three with CV+ prediction intervals.

Every model is one scikit-learn object: ``TransformedTargetRegressor`` (log price) around
a ``Pipeline`` of the Ames features step, the model's preprocessing and the model. Cross-
validation refits all of it per fold. The stack's CV score comes from the same fits as
its intervals: CV+ fits the stack once per fold and scores the rows of the fold it left
out. The held-out sales are not touched here: :mod:`housing.evaluate` scores them once.
Training is pure: logging to MLflow, registration and promotion are later steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from lightgbm import LGBMRegressor
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import RandomForestRegressor, StackingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

from housing.config import HousingConfig
from housing.data import HousingData
from housing.features import ames_schema, features_step, linear_preprocessor, tree_preprocessor
from housing.intervals import ConformalRegressor
from tenfold.data import DataError
from tenfold.pipelines import SchemaError, TabularSchema, coerce_to_schema, infer_schema
from tenfold.tracking import LoggedTraining
from tenfold.training import Candidate, TrainResult
from tenfold.tuning import (
    Folds,
    PreparedFold,
    Progress,
    TuningResult,
    cv_score_prepared,
    out_of_fold,
    tune,
)

MEMBERS = ("ridge", "random_forest", "lightgbm")
CANDIDATES = (*MEMBERS, "stack")
MODEL_REQUIREMENTS = ("lightgbm", "mapie", "pandas", "numpy", "scipy", "cloudpickle")


@dataclass(frozen=True)
class Prepared:
    """Model inputs and prices for training and held-out rows, and the schema."""

    X: pd.DataFrame
    y: np.ndarray
    X_heldout: pd.DataFrame
    y_heldout: np.ndarray
    schema: TabularSchema
    ames: bool
    log_target: bool
    # training / held-out rows left out by the scope rule (living area above the limit)
    out_of_scope: tuple[int, int] = (0, 0)

    @property
    def y_model(self) -> np.ndarray:
        """The target the models are fitted to (log price for Ames)."""
        return np.log(self.y) if self.log_target else self.y


def prepare(data: HousingData, cfg: HousingConfig) -> Prepared:
    """Model inputs from the loaded data; the scope rule applied to both sides."""
    train = data.train
    if cfg.target not in train.columns:
        raise SchemaError(f"target column {cfg.target!r} not found; columns: {list(train.columns)}")
    y_all = _target(train[cfg.target], cfg.target)
    if cfg.uses_ames_schema:
        if data.heldout is None:
            raise SchemaError("the Ames data needs its held-out sales")
        heldout = data.heldout
        in_scope = train["GrLivArea"] <= cfg.max_living_area
        heldout_in_scope = heldout["GrLivArea"] <= cfg.max_living_area
        drop = [c for c in (cfg.target, cfg.id_column) if c]
        return Prepared(
            train.loc[in_scope].drop(columns=drop).reset_index(drop=True),
            y_all[in_scope.to_numpy()],
            heldout.loc[heldout_in_scope].drop(columns=drop).reset_index(drop=True),
            _target(heldout.loc[heldout_in_scope, cfg.target], cfg.target),
            ames_schema(),
            ames=True,
            log_target=True,
            out_of_scope=(int((~in_scope).sum()), int((~heldout_in_scope).sum())),
        )
    schema = infer_schema(train, target=cfg.target, id_column=cfg.id_column)
    X = coerce_to_schema(train[schema.features], schema, label=str(cfg.data_path))
    X_train, X_held, y_train, y_held = train_test_split(
        X, y_all, test_size=cfg.holdout_size, random_state=cfg.seed
    )
    return Prepared(
        X_train.reset_index(drop=True),
        np.asarray(y_train),
        X_held.reset_index(drop=True),
        np.asarray(y_held),
        schema,
        ames=False,
        # a log target needs positive values; other targets are modelled as they are
        log_target=bool(np.min(y_all) > 0),
    )


def _target(values: pd.Series, name: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise SchemaError(
            f"target {name!r}, row {row}: {values.iloc[row - 1]!r} is not a number; "
            "a regression target must be numeric and present in every row"
        )
    return numbers.to_numpy(dtype=float)


def make_folds(n_rows: int, cfg: HousingConfig) -> Folds:
    """The CV folds every model is tuned and scored on (and the stack's CV+ folds)."""
    return list(KFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed).split(np.zeros(n_rows)))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(pred)) ** 2)))


def model_scale_rmse(prepared: Prepared) -> Callable[[np.ndarray, np.ndarray], float]:
    """RMSE on the scale the model is fitted on: log price for Ames (the Kaggle metric)."""
    if prepared.log_target:
        return lambda y, pred: rmse(np.log(y), np.log(pred))
    return rmse


# --------------------------------------------------------------------------- models


def ridge(*, alpha: float = 15.0) -> Ridge:
    return Ridge(alpha=alpha)


RF_DEFAULTS: dict[str, Any] = {
    "n_estimators": 100,
    "max_features": 0.15,
    "min_samples_leaf": 2,
    "max_samples": 0.8,
}


def random_forest(cfg: HousingConfig, **params: Any) -> RandomForestRegressor:
    # one thread per model; folds run in parallel instead (cfg.n_jobs)
    return RandomForestRegressor(**{**RF_DEFAULTS, **params}, n_jobs=1, random_state=cfg.seed)


LGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "num_leaves": 8,
    "min_child_samples": 10,
    "subsample": 0.7,
    "colsample_bytree": 0.3,
    "reg_lambda": 1.0,
}


def lightgbm(cfg: HousingConfig, **params: Any) -> LGBMRegressor:
    return LGBMRegressor(
        **{**LGBM_DEFAULTS, **params},
        subsample_freq=1,
        # 63 bins: a quarter of the default, ample for 1.5k rows and faster to fit
        max_bin=63,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        random_state=cfg.seed,
        verbose=-1,
    )


def suggest(name: str, trial: optuna.Trial) -> dict[str, Any]:
    """The search spaces, bounded so that a whole run stays near 1.5 minutes on two
    cores: forests of 100 trees with leaves of ≥ 2 sales, boosting of ≤ 600 trees of
    ≤ 12 leaves (the stack refits each member 20 times)."""
    if name == "ridge":
        return {
            "alpha": trial.suggest_float("alpha", 0.5, 100.0, log=True),
            "polynomial": trial.suggest_categorical("polynomial", [False, True]),
        }
    if name == "random_forest":
        return {
            "max_features": trial.suggest_float("max_features", 0.05, 0.25),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 8),
            "max_samples": trial.suggest_float("max_samples", 0.5, 1.0),
        }
    return {
        "n_estimators": trial.suggest_int("n_estimators", 200, 600, step=100),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.1, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 12),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 30),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.1, 0.5),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def member(
    name: str, schema: TabularSchema, cfg: HousingConfig, params: dict[str, Any]
) -> Pipeline:
    """One member's preprocessing and model (the features step comes before it)."""
    if name == "ridge":
        preprocess = linear_preprocessor(schema, polynomial=bool(params.get("polynomial")))
        return Pipeline([("preprocess", preprocess), ("model", ridge(alpha=params["alpha"]))])
    if name == "random_forest":
        return Pipeline(
            [("preprocess", tree_preprocessor(schema)), ("model", random_forest(cfg, **params))]
        )
    return Pipeline([("preprocess", tree_preprocessor(schema)), ("model", lightgbm(cfg, **params))])


def on_log_scale(regressor: Any, log_target: bool) -> TransformedTargetRegressor:
    """The log target: fitted on log(price), predicts prices."""
    if not log_target:
        return TransformedTargetRegressor(regressor=regressor)
    return TransformedTargetRegressor(
        regressor=regressor, func=np.log, inverse_func=np.exp, check_inverse=False
    )


def standalone(
    prepared: Prepared, name: str, cfg: HousingConfig, params: dict[str, Any]
) -> TransformedTargetRegressor:
    steps = member(name, prepared.schema, cfg, params).steps
    pipeline = Pipeline([("features", features_step(prepared.ames)), *steps])
    return on_log_scale(pipeline, prepared.log_target)


def stack(
    prepared: Prepared, cfg: HousingConfig, params: dict[str, dict[str, Any]]
) -> TransformedTargetRegressor:
    """The three tuned members blended by a non-negative linear regression fitted on
    their out-of-fold predictions (a 3-fold CV inside each fit, so the blend never learns
    from a member's predictions on its own training rows; 3 rather than 5 folds because
    the blend has only four numbers to learn and every fold costs three model fits)."""
    estimators = [(name, member(name, prepared.schema, cfg, params[name])) for name in MEMBERS]
    blend = StackingRegressor(
        estimators,
        final_estimator=LinearRegression(positive=True),
        cv=KFold(STACK_INNER_FOLDS, shuffle=True, random_state=cfg.seed),
        n_jobs=1,
    )
    pipeline = Pipeline([("features", features_step(prepared.ames)), ("model", blend)])
    return on_log_scale(pipeline, prepared.log_target)


STACK_INNER_FOLDS = 3


# --------------------------------------------------------------------------- tuning


def prepare_member_folds(prepared: Prepared, folds: Folds) -> dict[str, list[PreparedFold]]:
    """Each fold's preprocessing, fitted once on that fold's training rows: ridge with
    and without polynomial terms, and the tree inputs shared by both tree models."""
    from tenfold.tuning import prepare_folds

    def fitted(preprocess: Any) -> list[PreparedFold]:
        steps = Pipeline([("features", features_step(prepared.ames)), ("preprocess", preprocess)])
        return prepare_folds(steps, prepared.X, prepared.y_model, folds)

    schema = prepared.schema
    return {
        "ridge": fitted(linear_preprocessor(schema)),
        "ridge_polynomial": fitted(linear_preprocessor(schema, polynomial=True)),
        "trees": fitted(tree_preprocessor(schema)),
    }


def tune_member(
    name: str,
    fold_data: dict[str, list[PreparedFold]],
    cfg: HousingConfig,
    *,
    on_trial: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """Minimise CV RMSE (model scale) over :func:`suggest`'s space; the preprocessing is
    fitted per fold (above), only the model is refitted per trial."""

    def objective(trial: optuna.Trial) -> float:
        params = suggest(name, trial)
        if name == "ridge":
            folds = fold_data["ridge_polynomial" if params.pop("polynomial") else "ridge"]
            model: Any = ridge(**params)
        else:
            folds = fold_data["trees"]
            model = (
                random_forest(cfg, **params) if name == "random_forest" else lightgbm(cfg, **params)
            )
        return cv_score_prepared(model, folds, rmse, trial=trial, proba=False, n_jobs=cfg.n_jobs)

    return tune(
        objective,
        n_trials=cfg.forest_trials if name == "random_forest" else cfg.n_trials,
        seed=cfg.seed,
        direction="minimize",
        study_name=name,
        on_trial=on_trial,
        log_to_mlflow=False,
    )


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class TrainingData:
    """What the candidates were fitted on: the prepared inputs (training and held-out
    sales), the CV folds and the raw training file (its out-of-scope sales)."""

    prepared: Prepared
    folds: Folds
    raw: pd.DataFrame


HousingResult = TrainResult[Candidate, TrainingData]


def candidate(
    name: str,
    model: Any,
    params: dict[str, Any],
    fold_scores: list[float],
    oof: np.ndarray,
    prepared: Prepared,
    cfg: HousingConfig,
    tuning: TuningResult | None = None,
) -> Candidate:
    """A candidate scored by CV RMSE on the model's scale, with the metadata serving
    reads: the stack also carries its interval level, scope and the form's choices."""
    scored = Candidate(
        name=name,
        model=model,
        params=params,
        metric="rmse",
        fold_scores=fold_scores,
        oof=pd.DataFrame({"oof_prediction": oof, "y": prepared.y}),
        requirements=MODEL_REQUIREMENTS,
        tuning=tuning,
    )
    scored.metadata = {
        "candidate": name,
        "cv_rmse": scored.cv_score,
        "ames_schema": prepared.ames,
        "log_target": prepared.log_target,
    }
    if name == "stack":
        scored.metadata.update(
            confidence_level=cfg.confidence_level,
            max_living_area=cfg.max_living_area if prepared.ames else None,
            **serving_metadata(prepared),
        )
    return scored


def fit_member(
    name: str,
    prepared: Prepared,
    folds: Folds,
    cfg: HousingConfig,
    params: dict[str, Any],
    tuning: TuningResult | None = None,
) -> Candidate:
    """Out-of-fold predictions with the whole pipeline refitted per fold, then the
    model fitted on all training rows."""
    model = standalone(prepared, name, cfg, params)
    oof, fold_scores = out_of_fold(
        model,
        prepared.X,
        prepared.y,
        folds,
        model_scale_rmse(prepared),
        proba=False,
        n_jobs=cfg.n_jobs,
    )
    fitted = clone(model).fit(prepared.X, prepared.y)
    return candidate(name, fitted, params, fold_scores, oof, prepared, cfg, tuning)


def fit_stack(
    prepared: Prepared, folds: Folds, cfg: HousingConfig, params: dict[str, dict[str, Any]]
) -> Candidate:
    """The stack with its CV+ intervals. Its CV scores are read off the CV+ fits (the
    same folds as the members'), not fitted a second time."""
    conformal = ConformalRegressor(
        stack(prepared, cfg, params),
        confidence_level=cfg.confidence_level,
        cv=cfg.cv_folds,
        log_scale=prepared.log_target,
        random_state=cfg.seed,
        n_jobs=cfg.n_jobs,
    )
    conformal.fit(prepared.X, prepared.y)
    if not all(
        np.array_equal(a[1], b[1])
        for a, b in zip(conformal.folds(len(prepared.y)), folds, strict=True)
    ):
        raise RuntimeError("CV+ folds differ from the members' folds")
    oof = conformal.oof_predictions(prepared.y)
    score = model_scale_rmse(prepared)
    fold_scores = [score(prepared.y[valid], oof[valid]) for _, valid in folds]
    flat = {f"{m}.{k}": v for m, p in params.items() for k, v in p.items()}
    return candidate("stack", conformal, flat, fold_scores, oof, prepared, cfg)


def stack_weights(stacked: Candidate) -> dict[str, float]:
    """The blend's weight per member (and its intercept) in the model fitted on all rows."""
    blend = stacked.model.fitted_estimator_.regressor_.named_steps["model"].final_estimator_
    weights = {name: float(w) for name, w in zip(MEMBERS, blend.coef_, strict=True)}
    return {**weights, "intercept": float(blend.intercept_)}


# --------------------------------------------------------------------------- train


def train(
    cfg: HousingConfig,
    data: HousingData,
    *,
    progress: Progress | None = None,
) -> HousingResult:
    """Tune and fit the three members, then the stack with its intervals: the best by
    design (it is what the API and the app serve)."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(data, cfg)
    folds = make_folds(len(prepared.y), cfg)
    report("preprocessing folds", 0, 1)
    fold_data = prepare_member_folds(prepared, folds)
    candidates: dict[str, Candidate] = {}
    params: dict[str, dict[str, Any]] = {}

    def trials_of(name: str) -> Callable[[int, int], None]:
        return lambda done, total: report(f"tuning {name}", done, total)

    for name in MEMBERS:
        tuning = tune_member(name, fold_data, cfg, on_trial=trials_of(name))
        params[name] = dict(tuning.best_params)
        report(f"fitting {name}", 0, 1)
        candidates[name] = fit_member(name, prepared, folds, cfg, params[name], tuning)
    report("stack + CV+ intervals", 0, 1)
    candidates["stack"] = fit_stack(prepared, folds, cfg, params)
    report("stack + CV+ intervals", 1, 1)
    return TrainResult(
        candidates,
        "stack",
        TrainingData(prepared, folds, data.train),
        data.source,
        prepared.X.head(5),
    )


def serving_metadata(prepared: Prepared) -> dict[str, Any]:
    """What the app and the API need besides the model, saved with the champion: the
    typical house, the neighbourhoods of the form, the known level of every category."""
    from housing.buyer import neighbourhoods, typical_house
    from housing.features import known_categories

    if not prepared.ames:
        return {}
    return {
        "typical_house": typical_house(prepared.X),
        "neighbourhoods": neighbourhoods(prepared.X),
        "categories": known_categories(prepared.X),
    }


def from_run(cfg: HousingConfig, data: HousingData, training: LoggedTraining) -> HousingResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`), for a
    separate ``evaluate`` step: the folds recomputed from the same seed and data."""
    missing = [n for n in CANDIDATES if n not in training.candidates]
    if missing:
        raise DataError(f"training run {training.run_id} lacks candidate(s) {missing}")
    prepared = prepare(data, cfg)
    return TrainResult(
        dict(training.candidates),
        training.best_name,
        TrainingData(prepared, make_folds(len(prepared.y), cfg), data.train),
        data.source,
        prepared.X.head(5),
        run_id=training.run_id,
    )
