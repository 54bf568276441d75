"""Prediction intervals: CV+ (MAPIE's ``CrossConformalRegressor``) inside one sklearn
estimator, with a conformity score made for a log-target model.

CV+ fits the model once per cross-validation fold, scores every training row with the
fold model that did not see it, and turns those out-of-fold residuals into an interval
for a new house from the fold models' predictions for it. Under exchangeability the
interval covers the true price with probability ≥ 1 − 2α in theory and ≈ 1 − α in
practice; ``evaluate`` measures the actual coverage on held-out sales.

The residual is ``log(price) − log(prediction)``: relative errors, so an interval is
±x % of the price (a $80k house is not given the $40k margin of a $400k one). Signed
residuals keep the left tail (distressed sales far below the prediction) apart from the
right one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import parallel_config
from mapie.conformity_scores import BaseRegressionScore
from mapie.regression import CrossConformalRegressor
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted


class LogRatioScore(BaseRegressionScore):  # type: ignore[misc]
    """Signed conformity score ``log y − log ŷ``; bounds are ``ŷ · exp(q)``.

    For a model trained on log prices this is the residual the model was fitted to
    minimise, expressed back in prices by the inverse transform.
    """

    def __init__(self, sym: bool = False) -> None:
        super().__init__(sym=sym, consistency_check=True)

    def get_signed_conformity_scores(
        self, y: ArrayLike, y_pred: ArrayLike, **kwargs: Any
    ) -> NDArray[np.float64]:
        y_arr, pred = np.asarray(y, dtype=float), np.asarray(y_pred, dtype=float)
        if np.any(y_arr <= 0) or np.any(pred <= 0):
            raise ValueError("LogRatioScore needs strictly positive targets and predictions")
        return np.asarray(np.log(y_arr) - np.log(pred), dtype=float)

    def get_estimation_distribution(
        self, y_pred: ArrayLike, conformity_scores: ArrayLike, **kwargs: Any
    ) -> NDArray[np.float64]:
        return np.asarray(np.multiply(y_pred, np.exp(conformity_scores)), dtype=float)


class ConformalRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """A regressor and its CV+ intervals as one estimator (one object to log, load and
    serve).

    ``fit`` runs MAPIE's ``fit_conformalize``: the estimator is fitted on all rows (that
    model gives the point prediction) and once per fold (those give the interval).
    ``log_scale`` picks :class:`LogRatioScore`; otherwise absolute residuals are used.
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        confidence_level: float = 0.9,
        cv: int = 5,
        log_scale: bool = True,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.confidence_level = confidence_level
        self.cv = cv
        self.log_scale = log_scale
        self.random_state = random_state
        self.n_jobs = n_jobs

    def folds(self, n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (train, validation) row indices of the CV+ folds."""
        return list(self._splitter().split(np.zeros((n_rows, 1))))

    def _splitter(self) -> KFold:
        return KFold(self.cv, shuffle=True, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> ConformalRegressor:
        score: Any = LogRatioScore() if self.log_scale else "absolute"
        conformal = CrossConformalRegressor(
            self.estimator,
            confidence_level=self.confidence_level,
            conformity_score=score,
            method="plus",
            cv=self._splitter(),
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        # threads, not processes: the models release the GIL while fitting, and worker
        # processes would each re-import the whole stack first (seconds per run)
        with parallel_config(backend="threading"):
            self.conformal_ = conformal.fit_conformalize(X, np.asarray(y, dtype=float))
        # signed out-of-fold residuals (log y − log ŷ, or y − ŷ), in row order
        self.oof_residuals_ = np.asarray(self.conformal_.conformity_scores, dtype=float)
        self.n_features_in_ = int(np.shape(X)[1])
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def oof_predictions(self, y: Any) -> np.ndarray:
        """Each training row's prediction by the fold model that did not see it."""
        check_is_fitted(self, "oof_residuals_")
        y_arr = np.asarray(y, dtype=float)
        if self.log_scale:
            return np.asarray(np.exp(np.log(y_arr) - self.oof_residuals_))
        return np.asarray(y_arr - self.oof_residuals_, dtype=float)

    @property
    def fitted_estimator_(self) -> Any:
        """The estimator fitted on all rows (it makes the point predictions)."""
        check_is_fitted(self, "conformal_")
        return self.conformal_._mapie_regressor.estimator_.single_estimator_

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "conformal_")
        # None: the model trained on all rows, not the mean of the fold models
        return np.asarray(self.conformal_.predict(X, aggregate_point_predictions=None))

    def predict_interval(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(prediction, lower, upper) at ``confidence_level``."""
        check_is_fitted(self, "conformal_")
        point, bounds = self.conformal_.predict_interval(X, aggregate_point_predictions=None)
        return np.asarray(point), bounds[:, 0, 0], bounds[:, 1, 0]
