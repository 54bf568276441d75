"""The manual pipeline: what an experienced engineer builds by hand, inside the same
budget the AutoML frameworks get.

1. Features: the dataset's domain step where one exists (churn's and housing's own,
   credit ratios, engine history), then :class:`~automl_bench.features.TabularEncoder`.
2. An inner holdout of the training fold (grouped by engine, the latest 20 % for
   time-ordered data, else stratified) on which LightGBM, XGBoost and CatBoost are each
   tuned by a seeded Optuna TPE study with early stopping, and a linear model is fitted.
3. A stacking ensemble: a linear meta-learner on the members' holdout predictions, kept
   only if its cross-validated holdout score beats the best single member.
4. The members refitted on the whole training fold when the budget leaves time for it
   (always, with an iteration budget).

Studies live in memory, or in RDB storage when a URL is given (``--optuna-storage``):
then, with more than one core per job, trials run in that many processes sharing one
study (PostgreSQL for several machines).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
from scipy import sparse
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from automl_bench.config import GREATER_IS_BETTER, METRICS, TaskKind
from automl_bench.features import TabularEncoder
from automl_bench.frameworks import Budget, FoldData, output
from automl_bench.scoring import score

MEMBERS = ("lightgbm", "xgboost", "catboost")
MAX_ROUNDS = 1000
# with an iteration budget, boosting rounds are bounded too (25 per iteration)
ROUNDS_PER_ITERATION = 25
EARLY_STOPPING = 50
# at most this many rows to tune on; the final refit uses all of them
TUNE_ROWS = 100_000
# share of a time budget for tuning (the rest: linear member, stacking, refits)
TUNING_SHARE = 0.6


# --------------------------------------------------------------------------- members


def make_member(
    name: str, kind: TaskKind, params: dict[str, Any], *, seed: int, threads: int, rounds: int
) -> Any:
    if name == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        cls: Any = LGBMRegressor if kind == "regression" else LGBMClassifier
        return cls(
            n_estimators=rounds,
            subsample_freq=1,
            random_state=seed,
            n_jobs=threads,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
            **params,
        )
    if name == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor

        cls = XGBRegressor if kind == "regression" else XGBClassifier
        return cls(
            n_estimators=rounds, tree_method="hist", random_state=seed, n_jobs=threads, **params
        )
    from catboost import CatBoostClassifier, CatBoostRegressor

    loss = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}[kind]
    cls = CatBoostRegressor if kind == "regression" else CatBoostClassifier
    return cls(
        iterations=rounds,
        loss_function=loss,
        random_seed=seed,
        thread_count=threads,
        verbose=0,
        allow_writing_files=False,
        **params,
    )


def suggest(name: str, trial: optuna.Trial) -> dict[str, Any]:
    lr = trial.suggest_float("learning_rate", 0.01, 0.3, log=True)
    if name == "lightgbm":
        return {
            "learning_rate": lr,
            "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    if name == "xgboost":
        return {
            "learning_rate": lr,
            "max_depth": trial.suggest_int("max_depth", 2, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    return {
        "learning_rate": lr,
        "depth": trial.suggest_int("depth", 3, 8),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 30.0, log=True),
    }


# the first trial of every study: a sensible default, so even one trial is a good model
DEFAULTS = {
    "lightgbm": {
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
    "xgboost": {
        "learning_rate": 0.05,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
    "catboost": {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0},
}


def fit_member(
    model: Any,
    name: str,
    X: Any,
    y: np.ndarray,
    X_val: Any,
    y_val: np.ndarray,
    deadline: float | None = None,
) -> Any:
    """Fit with early stopping on the holdout; with a ``deadline`` (monotonic seconds)
    boosting also stops when it passes, keeping the trees grown so far."""
    if name == "lightgbm":
        from lightgbm import early_stopping
        from lightgbm.callback import EarlyStopException

        def stop_at_deadline(env: Any) -> None:
            if deadline is not None and time.monotonic() > deadline:
                raise EarlyStopException(env.iteration, env.evaluation_result_list)

        callbacks = [early_stopping(EARLY_STOPPING, verbose=False), stop_at_deadline]
        return model.fit(X, y, eval_set=[(X_val, y_val)], callbacks=callbacks)
    if name == "xgboost":
        from xgboost.callback import TrainingCallback

        class StopAtDeadline(TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                return deadline is not None and time.monotonic() > deadline

        model.set_params(early_stopping_rounds=EARLY_STOPPING, callbacks=[StopAtDeadline()])
        return model.fit(X, y, eval_set=[(X_val, y_val)], verbose=False)

    class CatBoostDeadline:
        def after_iteration(self, info: Any) -> bool:
            return deadline is None or time.monotonic() < deadline

    return model.fit(
        X,
        y,
        eval_set=(X_val, y_val),
        early_stopping_rounds=EARLY_STOPPING,
        callbacks=[CatBoostDeadline()],
    )


def best_rounds(model: Any, name: str) -> int:
    """Rounds up to the best holdout score (all rounds grown when a deadline stopped
    boosting before early stopping had a best)."""
    if name == "lightgbm":
        found = model.best_iteration_ or model.booster_.current_iteration()
    elif name == "xgboost":
        try:
            found = model.best_iteration + 1
        except AttributeError:
            found = model.get_booster().num_boosted_rounds()
    else:
        best = model.get_best_iteration()
        found = best + 1 if best is not None else model.tree_count_
    return max(1, int(found or 1))


def predict_member(model: Any, kind: TaskKind, X: Any, n_classes: int) -> np.ndarray:
    if kind == "regression":
        return np.asarray(model.predict(X), dtype=float).ravel()
    return output(kind, model.predict_proba(X), model.classes_, n_classes)


def linear_member(kind: TaskKind, sparse_input: bool, seed: int) -> Pipeline:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import MaxAbsScaler, StandardScaler

    scale = MaxAbsScaler() if sparse_input else StandardScaler()
    model: Any = (
        Ridge(alpha=1.0)
        if kind == "regression"
        else LogisticRegression(
            C=1.0 if not sparse_input else 10.0, max_iter=2000, random_state=seed
        )
    )
    steps: list[tuple[str, Any]] = (
        [] if sparse_input else [("impute", SimpleImputer(strategy="median"))]
    )
    return Pipeline([*steps, ("scale", scale), ("model", model)])


# --------------------------------------------------------------------------- stacking


def meta_features(kind: TaskKind, predictions: list[np.ndarray]) -> np.ndarray:
    if kind == "regression":
        return np.column_stack(predictions)
    eps = 1e-6
    if kind == "binary":
        clipped = [np.clip(p, eps, 1 - eps) for p in predictions]
        return np.column_stack([np.log(p / (1 - p)) for p in clipped])
    return np.column_stack([np.log(np.clip(p, eps, 1.0)) for p in predictions])


def meta_learner(kind: TaskKind, seed: int) -> Any:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if kind == "regression":
        return LinearRegression(positive=True)
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)


def meta_predict(model: Any, kind: TaskKind, Z: np.ndarray, n_classes: int) -> np.ndarray:
    if kind == "regression":
        return np.asarray(model.predict(Z), dtype=float)
    return output(kind, model.predict_proba(Z), model.classes_, n_classes)


# --------------------------------------------------------------------------- tuning


@dataclass
class Tuned:
    name: str
    params: dict[str, Any]
    rounds: int
    model: Any
    valid_prediction: np.ndarray
    valid_score: float
    trials: int
    fit_seconds: float


def study_for(
    name: str, budget: Budget, direction: Literal["maximize", "minimize"], seed: int, *, fresh: bool
) -> optuna.Study:
    study_name = f"{budget.study_prefix}-{name}"
    if fresh and budget.optuna_storage is not None:
        # a job redone after a kill starts its studies again: no stale trials
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=budget.optuna_storage)
    return optuna.create_study(
        study_name=study_name,
        storage=budget.optuna_storage,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
        load_if_exists=True,
    )


def objective_for(
    name: str,
    data: FoldData,
    split: tuple[Any, np.ndarray, Any, np.ndarray],
    threads: int,
    keep: dict[int, tuple[Any, np.ndarray, float]],
    deadline: float | None = None,
    rounds: int = MAX_ROUNDS,
) -> Callable[[optuna.Trial], float]:
    """The trial: fit with early stopping, score on the holdout. The best model so far
    (with its holdout predictions and fit time) is kept in ``keep`` so that the winner
    needs no second fit."""
    X, y, X_val, y_val = split
    metric = METRICS[data.kind]
    higher = GREATER_IS_BETTER[metric]

    def objective(trial: optuna.Trial) -> float:
        params = suggest(name, trial)
        started = time.perf_counter()
        model = make_member(name, data.kind, params, seed=data.seed, threads=threads, rounds=rounds)
        fit_member(model, name, X, y, X_val, y_val, deadline)
        trial.set_user_attr("rounds", best_rounds(model, name))
        trial.set_user_attr("seconds", time.perf_counter() - started)
        trial.set_user_attr("pid", os.getpid())
        prediction = predict_member(model, data.kind, X_val, data.n_classes)
        value = score(metric, y_val, prediction)
        best = keep.get(0)
        if best is None or (value > best[2] if higher else value < best[2]):
            keep[0] = (model, prediction, value)
            keep[1] = (trial.number, prediction, time.perf_counter() - started)
        return value

    return objective


def _optimise(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int | None,
    timeout: float | None,
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n_trials, timeout=timeout, gc_after_trial=False)


def _optimise_shared(
    study_name: str,
    storage: str,
    seed: int,
    objective: Callable[[optuna.Trial], float],
    n_trials: int | None,
    timeout: float | None,
) -> None:
    """A helper process's trials: its own connection to the shared study (a database
    connection inherited through fork must not be used by two processes) and its own
    sampler seed (or it would propose the parent's parameters again)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
    )
    _optimise(study, objective, n_trials, timeout)


def tune_member(
    name: str,
    data: FoldData,
    split: tuple[Any, np.ndarray, Any, np.ndarray],
    budget: Budget,
    *,
    n_trials: int | None,
    timeout: float | None,
) -> Tuned:
    """One Optuna study for one member. With RDB storage and ``budget.cores > 1`` the
    trials run in ``cores`` processes (each booster single-threaded) sharing the study."""
    direction: Literal["maximize", "minimize"] = (
        "maximize" if GREATER_IS_BETTER[METRICS[data.kind]] else "minimize"
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = study_for(name, budget, direction, data.seed, fresh=True)
    study.enqueue_trial(DEFAULTS[name])
    parallel = budget.cores if budget.optuna_storage is not None else 1
    threads = 1 if parallel > 1 else budget.cores
    keep: dict[int, tuple[Any, np.ndarray, float]] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    rounds = MAX_ROUNDS if budget.iterations is None else ROUNDS_PER_ITERATION * budget.iterations
    objective = objective_for(name, data, split, threads, keep, deadline, rounds)
    if parallel > 1:
        # forked before any booster ran in this process (OpenMP does not survive a fork)
        context = multiprocessing.get_context("fork")
        share = None if n_trials is None else max(1, n_trials // parallel)
        assert budget.optuna_storage is not None
        helpers = [
            context.Process(
                target=_optimise_shared,
                args=(
                    study.study_name,
                    budget.optuna_storage,
                    data.seed + 1 + i,
                    objective,
                    share,
                    timeout,
                ),
            )
            for i in range(parallel - 1)
        ]
        for helper in helpers:
            helper.start()
        _optimise(study, objective, share, timeout)
        for helper in helpers:
            helper.join()
        study = study_for(name, budget, direction, data.seed, fresh=False)
    else:
        _optimise(study, objective, n_trials, timeout)
    best = study.best_trial
    X, y, X_val, y_val = split
    if 0 in keep and keep[1][0] == best.number:
        model, prediction, _ = keep[0]
    else:  # the best trial ran in another process: fit its parameters here
        model = make_member(
            name,
            data.kind,
            dict(best.params),
            seed=data.seed,
            threads=budget.cores,
            rounds=int(best.user_attrs["rounds"]),
        )
        model.fit(X, y)
        prediction = predict_member(model, data.kind, X_val, data.n_classes)
    return Tuned(
        name=name,
        params=dict(best.params),
        rounds=int(best.user_attrs["rounds"]),
        model=model,
        valid_prediction=prediction,
        valid_score=score(METRICS[data.kind], y_val, prediction),
        trials=len(study.trials),
        fit_seconds=float(best.user_attrs["seconds"]),
    )


def inner_split(data: FoldData) -> tuple[np.ndarray, np.ndarray]:
    """80 / 20 holdout of the training fold, respecting groups and time."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    n = len(data.y_train)
    index = np.arange(n)
    if data.groups_train is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=data.seed)
        fit, valid = next(splitter.split(index, groups=data.groups_train))
        return fit, valid
    if data.times_train is not None:
        order = np.argsort(data.times_train, kind="stable")
        cut = int(n * 0.8)
        return np.sort(order[:cut]), np.sort(order[cut:])
    stratify = data.y_train if data.kind != "regression" else None
    fit, valid = train_test_split(index, test_size=0.2, random_state=data.seed, stratify=stratify)
    return np.sort(fit), np.sort(valid)


def rows(X: Any, index: np.ndarray) -> Any:
    return X[index] if sparse.issparse(X) else X.iloc[index].reset_index(drop=True)


# --------------------------------------------------------------------------- the framework


class ManualPipeline:
    """The hand-built pipeline as a framework adapter (see the module docstring)."""

    name = "manual"

    def _features(self, data: FoldData) -> Pipeline:
        steps: list[tuple[str, Any]] = []
        if data.domain_features and not sparse.issparse(data.X_train):
            from tenfold.cli import load_object

            steps.append(("domain", load_object(data.domain_features)()))
        steps.append(("encode", TabularEncoder(kind=data.kind, random_state=data.seed)))
        return Pipeline(steps)

    def fit(self, data: FoldData, budget: Budget) -> dict[str, Any]:
        started = time.monotonic()
        self.kind, self.n_classes = data.kind, data.n_classes
        metric = METRICS[data.kind]
        fit_rows, valid_rows = inner_split(data)
        if len(fit_rows) > TUNE_ROWS:
            generator = np.random.default_rng(data.seed)
            fit_rows = np.sort(generator.choice(fit_rows, TUNE_ROWS, replace=False))
        features = self._features(data)
        y_fit, y_val = data.y_train[fit_rows], data.y_train[valid_rows]
        X_fit = features.fit_transform(rows(data.X_train, fit_rows), y_fit)
        X_val = features.transform(rows(data.X_train, valid_rows))
        split = (X_fit, y_fit, X_val, y_val)

        tuned: list[Tuned] = []
        for i, name in enumerate(MEMBERS):
            if budget.iterations is not None:
                n_trials, timeout = budget.iterations, None
            else:
                assert budget.seconds is not None
                left = budget.seconds * TUNING_SHARE - (time.monotonic() - started)
                n_trials, timeout = None, max(1.0, left / (len(MEMBERS) - i))
            tuned.append(tune_member(name, data, split, budget, n_trials=n_trials, timeout=timeout))

        linear = linear_member(data.kind, sparse.issparse(X_fit), data.seed)
        linear.fit(X_fit, y_fit)
        linear_prediction = predict_member(linear, data.kind, X_val, data.n_classes)
        member_predictions = [t.valid_prediction for t in tuned] + [linear_prediction]
        member_scores = {t.name: t.valid_score for t in tuned}
        member_scores["linear"] = score(metric, y_val, linear_prediction)

        # stacking, kept only when its cross-validated holdout score beats the best member
        Z = meta_features(data.kind, member_predictions)
        stack_score = self._cv_stack_score(Z, y_val, data)
        higher = GREATER_IS_BETTER[metric]
        best_member = (max if higher else min)(member_scores, key=member_scores.__getitem__)
        use_stack = stack_score is not None and (
            stack_score > member_scores[best_member]
            if higher
            else stack_score < member_scores[best_member]
        )
        self.meta_ = meta_learner(data.kind, data.seed).fit(Z, y_val) if use_stack else None
        self.chosen_ = "stack" if use_stack else best_member

        # refit on the whole training fold when the budget leaves time for it
        refit_estimate = (
            sum(t.fit_seconds for t in tuned) * len(data.y_train) / max(1, len(fit_rows))
        )
        elapsed = time.monotonic() - started
        refit = budget.iterations is not None or (
            budget.seconds is not None and elapsed + 1.5 * refit_estimate < budget.seconds
        )
        self.members_: dict[str, Any] = {t.name: t.model for t in tuned}
        self.members_["linear"] = linear
        self.features_ = features
        if refit:
            self.features_ = clone(features)
            X_all = self.features_.fit_transform(data.X_train, data.y_train)
            for t in tuned:
                rounds = max(1, round(t.rounds * 1.15))  # a little more data, a few more trees
                model = make_member(
                    t.name, data.kind, t.params, seed=data.seed, threads=budget.cores, rounds=rounds
                )
                self.members_[t.name] = model.fit(X_all, data.y_train)
            self.members_["linear"] = clone(linear).fit(X_all, data.y_train)
        return {
            "models": [*MEMBERS, "linear", "stack"],
            "best": self.chosen_,
            "holdout": {k: round(v, 5) for k, v in sorted(member_scores.items())},
            "holdout_stack_cv": None if stack_score is None else round(stack_score, 5),
            "trials": {t.name: t.trials for t in tuned},
            "params": {t.name: {**t.params, "rounds": t.rounds} for t in tuned},
            "refit_on_all_rows": bool(refit),
            "tuning_rows": len(fit_rows),
        }

    def _cv_stack_score(self, Z: np.ndarray, y: np.ndarray, data: FoldData) -> float | None:
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

        if data.kind != "regression" and np.bincount(y.astype(int)).min(initial=0) < 5:
            return None
        cv: Any = (
            KFold(5, shuffle=True, random_state=data.seed)
            if data.kind == "regression"
            else StratifiedKFold(5, shuffle=True, random_state=data.seed)
        )
        method = "predict" if data.kind == "regression" else "predict_proba"
        try:
            predicted = cross_val_predict(
                meta_learner(data.kind, data.seed), Z, y, cv=cv, method=method
            )
        except ValueError:  # a class absent from a fold of a tiny holdout
            return None
        seen = np.unique(y)
        prediction = (
            output(data.kind, predicted, seen, data.n_classes)
            if data.kind != "regression"
            else predicted
        )
        return score(METRICS[data.kind], y, prediction)

    def predict(self, X: Any) -> np.ndarray:
        X_enc = self.features_.transform(X)
        predictions = {
            name: predict_member(model, self.kind, X_enc, self.n_classes)
            for name, model in self.members_.items()
        }
        if self.meta_ is None:
            return predictions[self.chosen_]
        Z = meta_features(self.kind, [predictions[n] for n in (*MEMBERS, "linear")])
        return meta_predict(self.meta_, self.kind, Z, self.n_classes)
