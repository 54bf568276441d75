"""Schema inference, the preprocessor, its compiled numpy twin, and fast contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier, XGBRegressor

from tenfold.explain import FastScorer, encoded_mean, top_factors
from tenfold.pipelines import (
    ColumnFeatures,
    CompiledPreprocessor,
    SchemaError,
    TabularSchema,
    as_floats,
    binary_target,
    build_preprocessor,
    coerce_to_schema,
    infer_schema,
    stratified_holdout,
)

SCHEMA = TabularSchema(
    numeric=("age", "income"),
    categorical=("city", "plan"),
    ordinal={"quality": ("Po", "Fa", "TA", "Gd", "Ex")},
)


def frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 15, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n).astype(object),
            "plan": rng.choice(["basic", "pro"], n).astype(object),
            "quality": rng.choice(["Po", "Fa", "TA", "Gd", "Ex"], n).astype(object),
        }
    )
    out.loc[::7, "income"] = np.nan
    out.loc[::11, "city"] = np.nan
    return out


def test_infer_schema_reads_numbers_stored_as_text() -> None:
    raw = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "charges": ["1.5", " ", "3"],
            "plan": ["x", "y", "x"],
            "y": [0, 1, 0],
        }
    )
    schema = infer_schema(raw, target="y", id_column="id")
    assert schema.numeric == ("charges",)
    assert schema.categorical == ("plan",)
    coerced = coerce_to_schema(raw, schema)
    assert coerced["charges"].tolist()[0] == 1.5
    assert np.isnan(coerced["charges"].iloc[1])


def test_infer_schema_names_a_missing_target() -> None:
    with pytest.raises(SchemaError, match="target column 'churned' not in the data"):
        infer_schema(pd.DataFrame({"a": [1]}), target="churned")


def test_binary_target() -> None:
    assert binary_target(pd.Series(["No", "Yes", "No"], name="t")).tolist() == [0, 1, 0]
    # without a recognised spelling the rarer class is positive
    assert binary_target(pd.Series(["stay", "stay", "go"], name="t")).tolist() == [0, 0, 1]
    with pytest.raises(SchemaError, match="exactly 2 classes, found 3"):
        binary_target(pd.Series(["a", "b", "c"], name="t"))
    with pytest.raises(SchemaError, match="missing value in row 2"):
        binary_target(pd.Series(["a", None, "b"], name="t"))


@pytest.mark.parametrize("scale", [True, False])
def test_compiled_preprocessor_matches_sklearn(scale: bool) -> None:
    train, test = frame(300, 0), frame(50, 1)
    test.loc[0, "city"] = "Marseille"  # unseen category
    test.loc[1, "quality"] = "Excellent"  # unseen ordinal level
    test.loc[2, "age"] = np.nan  # missing at prediction time
    fitted = build_preprocessor(SCHEMA, scale_numeric=scale).fit(train)
    compiled = CompiledPreprocessor.from_fitted(fitted)
    expected = fitted.transform(test)
    got = compiled.transform({c: test[c].to_numpy() for c in test.columns})
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    one = compiled.transform({c: test[c].iloc[0] for c in test.columns})
    np.testing.assert_allclose(one, expected[:1], atol=1e-12)
    # Paris, Lyon, Nice and the "missing" level learnt from blank training cities
    assert compiled.feature_sources.count("city") == 4
    assert len(compiled.feature_names) == expected.shape[1]


def test_stratified_holdout() -> None:
    X = pd.DataFrame({"t": np.arange(100)})
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    split = stratified_holdout(X, y, test_size=0.2, seed=0)
    assert split.y_test.mean() == pytest.approx(0.2)


def _pipeline(model: object, scale: bool) -> Pipeline:
    return Pipeline(
        [("preprocess", build_preprocessor(SCHEMA, scale_numeric=scale)), ("model", model)]
    )


def test_fast_scorer_matches_xgboost_classifier() -> None:
    train = frame(400, 0)
    y = ((train["age"] > 45) ^ (train["city"] == "Paris")).astype(int).to_numpy()
    pipe = _pipeline(XGBClassifier(n_estimators=30, max_depth=3, random_state=0), False)
    pipe.fit(train, y)
    test = frame(60, 3)
    scores = FastScorer(pipe).score({c: test[c].to_numpy() for c in test.columns})
    np.testing.assert_allclose(scores.prediction, pipe.predict_proba(test)[:, 1], atol=1e-5)
    # contributions + base value add up to the margin (SHAP efficiency)
    np.testing.assert_allclose(
        scores.contributions.sum(axis=1) + scores.base_value, scores.margin, atol=1e-5
    )
    assert scores.contributions.shape == (60, 5)  # one column per input column


def test_fast_scorer_regression_and_linear() -> None:
    train = frame(300, 0)
    target = 2 * train["age"].to_numpy() + (train["plan"] == "pro") * 10
    reg = _pipeline(XGBRegressor(n_estimators=20, max_depth=2, random_state=0), False)
    reg.fit(train, target)
    test = frame(20, 5)
    got = FastScorer(reg).score({c: test[c].to_numpy() for c in test.columns}).prediction
    np.testing.assert_allclose(got, reg.predict(test), rtol=1e-5)

    y = (train["age"] > 50).astype(int).to_numpy()
    lin = _pipeline(LogisticRegression(max_iter=1000), True).fit(train, y)
    scorer = FastScorer(lin, background_mean=encoded_mean(lin, train))
    scores = scorer.score({c: test[c].to_numpy() for c in test.columns})
    np.testing.assert_allclose(scores.prediction, lin.predict_proba(test)[:, 1], atol=1e-10)
    # age drives the label: it must carry the largest mean |contribution|
    assert scorer.sources[int(np.abs(scores.contributions).mean(axis=0).argmax())] == "age"


def test_top_factors_orders_by_magnitude() -> None:
    factors = top_factors(
        np.array([0.1, -0.5, 0.3]), ("a", "b", "c"), {"a": 1, "b": 2, "c": 3}, k=2
    )
    assert [(f.feature, f.direction) for f in factors] == [("b", "decreases"), ("c", "increases")]


class _Ratio(ColumnFeatures):
    requires = ("a", "b")
    adds = ("a", "ratio")

    def compute(self, columns):  # type: ignore[no-untyped-def]
        a, b = as_floats(columns["a"]), as_floats(columns["b"])
        return {"a": np.nan_to_num(a), "ratio": a / b}


def test_column_features_one_function_two_callers() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0], "b": [2.0, 4.0, 6.0], "c": ["x", "y", "z"]})
    step = _Ratio().fit(frame)
    out = step.transform(frame)
    assert out["ratio"].iloc[0] == 0.5
    assert out["a"].iloc[1] == 0.0  # the step may overwrite a column it requires
    assert list(step.get_feature_names_out()) == ["a", "b", "c", "ratio"]
    one = step.transform_columns({"a": 3.0, "b": 6.0, "c": "z"})
    assert one["ratio"].tolist() == [0.5]
    assert one["c"] == "z"
    with pytest.raises(ValueError, match=r"_Ratio needs column\(s\) \['b'\]"):
        _Ratio().fit(frame.drop(columns=["b"]))
