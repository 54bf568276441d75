"""Features: the TF-IDF every framework gets on the text task, and the manual pipeline's
own feature engineering (every step a scikit-learn transformer inside its Pipeline).

- :func:`fit_tfidf` is part of the *task* (BBC News as TF-IDF): fitted on each outer
  fold's training rows, applied to its test rows, the same matrix for every framework.
- :class:`TabularEncoder` turns any frame into numbers for gradient boosting: numbers
  as they are (missing stays missing), low-cardinality text as ordinal codes, and
  high-cardinality text (ids) as frequency plus cross-fitted target encoding.
- Domain steps, stateless: :class:`CreditFeatures` (credit use, payment ratios, months
  in arrears) and :class:`EngineHistory` (each engine's recent sensor trend); Telco and
  Ames reuse churn's and housing's own feature steps.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import TargetEncoder
from sklearn.utils.validation import check_is_fitted

from automl_bench.config import TaskKind

# Text columns with more distinct values than this are ids, not categories.
HIGH_CARDINALITY = 50


def fit_tfidf(train_text: pd.Series, test_text: pd.Series) -> tuple[Any, Any, list[str]]:
    """Word uni- and bigram TF-IDF (sublinear tf), vocabulary learned on the training
    texts only, capped at 5,000 terms so that frameworks needing a dense frame can take it."""
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=5000, sublinear_tf=True, dtype=np.float32
    )
    train = vectorizer.fit_transform(train_text.astype(str).tolist())
    test = vectorizer.transform(test_text.astype(str).tolist())
    names = [f"tfidf_{t.replace(' ', '_')}" for t in vectorizer.get_feature_names_out()]
    return sparse.csr_matrix(train), sparse.csr_matrix(test), names


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or series.dtype.name in ("category", "string")


class TabularEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Numbers for tree ensembles, learned on the training rows only.

    Low-cardinality text → ordinal codes (unseen or missing → NaN, which the boosters
    route on their own). High-cardinality text → its training frequency and a target
    encoding that scikit-learn cross-fits on the training rows (so a row's own label
    never encodes it). Sparse input (TF-IDF) passes through.
    """

    def __init__(self, kind: TaskKind = "binary", random_state: int = 0) -> None:
        self.kind = kind
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Self:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        if sparse.issparse(X):
            self.sparse_ = True
            return X
        self.sparse_ = False
        self.columns_ = list(X.columns)
        text = [c for c in X.columns if is_text(X[c])]
        self.numeric_ = [c for c in X.columns if c not in text]
        self.levels_ = {}
        self.frequencies_ = {}
        self.high_ = []
        for col in text:
            counts = X[col].astype(object).value_counts()
            if len(counts) > HIGH_CARDINALITY:
                self.high_.append(col)
                self.frequencies_[col] = (counts / len(X)).to_dict()
            else:
                self.levels_[col] = {v: i for i, v in enumerate(sorted(map(str, counts.index)))}
        self.target_encoder_ = None
        encoded = None
        if self.high_:
            target_type = {"binary": "binary", "multiclass": "multiclass"}.get(
                self.kind, "continuous"
            )
            from sklearn.model_selection import KFold, StratifiedKFold

            folds: Any = (
                KFold(5, shuffle=True, random_state=self.random_state)
                if target_type == "continuous"
                else StratifiedKFold(5, shuffle=True, random_state=self.random_state)
            )
            self.target_encoder_ = TargetEncoder(target_type=target_type, cv=folds)
            encoded = self.target_encoder_.fit_transform(self._high_text(X), np.asarray(y))
        return self._assemble(X, encoded)

    def transform(self, X: Any) -> Any:
        check_is_fitted(self, "sparse_")
        if self.sparse_:
            return X
        encoded = None
        if self.target_encoder_ is not None:
            encoded = self.target_encoder_.transform(self._high_text(X))
        return self._assemble(X, encoded)

    def _high_text(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[self.high_].astype(object).fillna("<missing>").astype(str)

    def _assemble(self, X: pd.DataFrame, encoded: np.ndarray | None) -> pd.DataFrame:
        out = {c: pd.to_numeric(X[c], errors="coerce").astype(np.float32) for c in self.numeric_}
        for col, levels in self.levels_.items():
            codes = X[col].astype(object).map(lambda v, m=levels: m.get(str(v), np.nan))
            out[f"{col}__code"] = codes.astype(np.float32)
        for col in self.high_:
            freq = X[col].astype(object).map(self.frequencies_[col]).fillna(0.0)
            out[f"{col}__frequency"] = freq.astype(np.float32)
        frame = pd.DataFrame(out, index=X.index)
        if encoded is not None:
            names = self.target_encoder_.get_feature_names_out()  # type: ignore[union-attr]
            frame = pd.concat(
                [frame, pd.DataFrame(encoded.astype(np.float32), columns=names, index=X.index)],
                axis=1,
            )
        frame.columns = [str(c) for c in frame.columns]
        return frame.reset_index(drop=True)


class _Stateless(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A domain step that learns nothing (so there is nothing to leak)."""

    requires: tuple[str, ...] = ()

    def fit(self, X: pd.DataFrame, y: Any = None) -> Self:
        missing = [c for c in self.requires if c not in X.columns]
        if missing:
            raise ValueError(f"{type(self).__name__} needs column(s) {missing}")
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        return pd.concat([X, self.compute(X)], axis=1)

    def compute(self, X: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError


MONTHS = range(1, 7)
DELAYS = ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")


class CreditFeatures(_Stateless):
    """What a credit analyst reads off six months of statements: how much of the limit
    is used (now and on average), how much of each bill was paid, how many months were
    in arrears and the worst delay, and whether the balance grows."""

    requires = ("LIMIT_BAL", *DELAYS, *(f"BILL_AMT{m}" for m in MONTHS))

    def compute(self, X: pd.DataFrame) -> pd.DataFrame:
        limit = X["LIMIT_BAL"].to_numpy(dtype=float).clip(1.0, None)
        bills = np.column_stack([X[f"BILL_AMT{m}"].to_numpy(dtype=float) for m in MONTHS])
        paid = np.column_stack([X[f"PAY_AMT{m}"].to_numpy(dtype=float) for m in MONTHS])
        delays = np.column_stack([X[c].to_numpy(dtype=float) for c in DELAYS])
        # a payment in month m settles the bill of month m+1 (the statement before it)
        previous_bill = bills[:, 1:].clip(1.0, None)
        return pd.DataFrame(
            {
                "credit_use": bills[:, 0] / limit,
                "credit_use_mean": bills.mean(axis=1) / limit,
                "paid_share_last": paid[:, 0] / previous_bill[:, 0],
                "paid_share_mean": (paid[:, :5] / previous_bill).mean(axis=1),
                "months_in_arrears": (delays > 0).sum(axis=1).astype(float),
                "worst_delay": delays.max(axis=1),
                "balance_growth": (bills[:, 0] - bills[:, 5]) / limit,
            },
            index=X.index,
        )


class EngineHistory(_Stateless):
    """Each engine's recent trend: for every sensor the mean of its last ``window``
    cycles and its drift from the engine's first ``baseline`` cycles. Only earlier cycles
    of the same engine are used, and folds keep an engine's cycles together, so a test
    engine is described by its own history alone (as it would be in service)."""

    requires = ("unit", "cycle")

    def __init__(self, window: int = 10, baseline: int = 20) -> None:
        self.window = window
        self.baseline = baseline

    def compute(self, X: pd.DataFrame) -> pd.DataFrame:
        sensors = [c for c in X.columns if c.startswith("sensor_") and X[c].std() > 1e-9]
        order = X.sort_values(["unit", "cycle"], kind="stable")
        grouped = order.groupby("unit", sort=False)[sensors]
        recent = grouped.rolling(self.window, min_periods=1).mean().reset_index(level=0, drop=True)
        first = grouped.transform(lambda s: s.iloc[: self.baseline].mean())
        # expanding over the first `baseline` cycles only: no look-ahead inside an engine
        early = grouped.expanding(min_periods=1).mean().reset_index(level=0, drop=True)
        within = (order.groupby("unit", sort=False).cumcount() < self.baseline).to_numpy()
        base = early.where(np.broadcast_to(within[:, None], early.shape), first)
        out = pd.concat(
            [recent.add_suffix("_recent"), (recent - base).add_suffix("_drift")], axis=1
        )
        return out.reindex(X.index)
