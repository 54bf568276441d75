"""The batch path of tenfold.explain equals the per-row one: the encoded matrix, the
order of the factors, their text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from xgboost import XGBClassifier

from tenfold.explain import (
    FastScorer,
    encode_batch,
    factor_texts,
    float_texts,
    plain,
    top_k,
    value_texts,
)
from tenfold.pipelines import CompiledPreprocessor, TabularSchema, build_preprocessor
from tenfold.serving import reason_codes

SCHEMA = TabularSchema(
    numeric=("age", "income"),
    categorical=("city", "plan"),
    ordinal={"quality": ("Po", "Fa", "TA", "Gd", "Ex")},
)


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.normal(50, 15, n), 3),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n).astype(object),
            "plan": rng.choice(["basic", "pro"], n).astype(object),
            "quality": rng.choice(["Po", "Fa", "TA", "Gd", "Ex"], n).astype(object),
        }
    )
    out["income"] = out["income"].astype(float)
    out.loc[::7, "income"] = np.nan
    out.loc[::11, "city"] = np.nan
    out.loc[3, "city"] = "Marseille"  # unseen category
    out.loc[4, "quality"] = "Excellent"  # unseen ordinal level
    out.loc[5, "income"] = -0.0  # formatted "-0.0", apart from 0.0
    out.loc[6, "income"] = 0.0
    return out


@pytest.mark.parametrize("scale", [True, False])
def test_encode_batch_equals_the_compiled_transform(scale: bool) -> None:
    fitted = build_preprocessor(SCHEMA, scale_numeric=scale).fit(frame(300, 0))
    compiled = CompiledPreprocessor.from_fitted(fitted)
    test = frame(80, 1)
    columns = {c: test[c].to_numpy() for c in test.columns}
    got = encode_batch(compiled, columns)
    assert np.array_equal(got, compiled.transform(columns))
    # lists of Python values (an API batch) and mixed-type text take the row-by-row way
    mixed = {**{c: test[c].tolist() for c in test.columns}, "plan": [1, "pro", 1.0] * 26 + [2, 3]}
    assert np.array_equal(encode_batch(compiled, mixed), compiled.transform(mixed))


def test_top_k_is_a_stable_sort_by_magnitude() -> None:
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(500, 7)), 1)  # many exact ties
    values[::9] = 0.0
    values[1, 2] = np.nan
    expected = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :3]
    assert np.array_equal(top_k(values, 3), expected)
    assert top_k(values[:, :2], 3).shape == (500, 2)


def test_factor_texts_equal_reason_codes_row_by_row() -> None:
    train, test = frame(400, 0), frame(120, 2)
    y = ((train["age"] > 45) ^ (train["city"] == "Paris")).to_numpy(dtype=int)
    pipe = _fit(train, y)
    scorer = FastScorer(pipe)
    scores = scorer.score({c: test[c].to_numpy() for c in test.columns})
    label = {"age": "age (years)"}.get
    texts = factor_texts(scores, scorer.sources, outcome="risk", label=lambda n: label(n) or n, k=3)
    for i in range(len(test)):
        codes = reason_codes(
            scores, i, scorer.sources, outcome="risk", label=lambda n: label(n) or n
        )
        assert [t[i] for t in texts] == [c.readable for c in codes]


@pytest.mark.parametrize(
    "values",
    [
        np.array([0.0, -0.0, 1.005, 2.675, np.nan, 1e20, 0.1 + 0.2, 3.0]),
        np.array([3, 1, 3, -2]),
        np.array([True, False, True]),
        np.array(["a", np.nan, "b", None, "a"], dtype=object),
        np.array([1, "1", 1.0, True, None], dtype=object),  # equal, but not the same text
        np.array(["2024-01-02T03:04", "NaT"], dtype="datetime64[m]"),
    ],
)
def test_value_texts_equal_plain_row_by_row(values: np.ndarray) -> None:
    rows = np.arange(len(values))[::-1]
    assert list(value_texts(values, rows)) == [str(plain(values[i])) for i in rows]


def test_float_texts_equal_python_round_on_ties_and_extremes() -> None:
    """round(x, 2) is correctly rounded (2.675 → 2.67, as its float is below the tie):
    the array version must agree on every value, ties and huge ones included."""
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            rng.normal(0, 100, 20_000),
            np.arange(-20_000, 20_000) / 200 + 0.005,  # x.xx5: ties in decimal
            np.arange(-20_000, 20_000) / 1000,
            rng.uniform(-1e14, 1e14, 2_000),
            rng.normal(0, 1e-3, 2_000),
            [0.0, -0.0, -0.001, 2.675, 1.005, 0.125, 1e13, np.inf, -np.inf, np.nan, 5e-324],
        ]
    )
    assert list(float_texts(values)) == [str(plain(v)) for v in values]


def test_score_batch_equals_score() -> None:
    train, test = frame(400, 0), frame(300, 3)
    y = (train["age"] > 50).to_numpy(dtype=int)
    scorer = FastScorer(_fit(train, y))
    columns = {c: test[c].to_numpy() for c in test.columns}
    one, batch = scorer.score(columns), scorer.score_batch(columns)
    assert np.array_equal(one.prediction, batch.prediction)
    assert np.array_equal(one.contributions, batch.contributions)


def _fit(train: pd.DataFrame, y: np.ndarray):  # type: ignore[no-untyped-def]
    from sklearn.pipeline import Pipeline

    pipe = Pipeline(
        [
            ("preprocess", build_preprocessor(SCHEMA, scale_numeric=False)),
            ("model", XGBClassifier(n_estimators=30, max_depth=3, random_state=0, n_jobs=1)),
        ]
    )
    return pipe.fit(train, y)
