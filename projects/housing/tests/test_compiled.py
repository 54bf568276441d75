"""The compiled serving path (housing.compiled) prices houses exactly as the champion's
Pipeline does: the same features, price and CV+ interval, bit for bit (issue 8 §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from housing.compiled import ames_features, compile_conformal
from housing.config import HousingConfig
from housing.data import read_scoring_file
from housing.features import AmesFeatures
from housing.serve import EXAMPLE, HousePredictor, HouseRequest
from housing.train import Candidate, Prepared
from tenfold.serving import ModelCard


def frame_of(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """What the API's Pipeline path builds from requests (HousePredictor.frame)."""
    frame = pd.DataFrame(records).reindex(columns=columns)
    return frame.astype(object).where(frame.notna(), np.nan)


def assert_same_features(frame: pd.DataFrame) -> None:
    expected = AmesFeatures().fit(frame).transform(frame)
    got = ames_features({c: frame[c].to_numpy() for c in frame.columns})
    assert set(got) == set(expected.columns)
    for column in expected.columns:
        want, have = expected[column].to_numpy(), got[column]
        if want.dtype.kind == "f" or have.dtype.kind == "f":
            assert np.array_equal(want.astype(float), have.astype(float), equal_nan=True), column
        else:
            assert [None if pd.isna(v) else v for v in want] == [
                None if pd.isna(v) else v for v in have
            ], column


def sparse_requests(prepared: Prepared, n: int = 40) -> list[dict[str, Any]]:
    """Houses as API requests: the four required fields and a random subset of others,
    some written the odd ways the API accepts (padded text, "NA", numbers as text)."""
    rng = np.random.default_rng(0)
    houses = prepared.X_heldout.head(n).to_dict("records")
    out = []
    for i, house in enumerate(houses):
        keep = {k for k in house if rng.random() < 0.4}
        keep |= {"Neighborhood", "GrLivArea", "OverallQual", "YearBuilt"}
        record = {k: (None if pd.isna(v) else v) for k, v in house.items() if k in keep}
        if i % 5 == 0:
            record["GarageType"], record["BsmtQual"] = " NA ", "NA"
        if i % 7 == 0:
            record["TotalBsmtSF"], record["YrSold"] = 0.0, None
        out.append(record)
    return [*out, dict(HouseRequest(**EXAMPLE).record())]


def test_features_equal_the_pipeline_step(prepared: Prepared) -> None:
    columns = list(prepared.X.columns)
    assert_same_features(prepared.X_heldout)
    assert_same_features(frame_of(sparse_requests(prepared), columns))


def test_price_and_interval_equal_the_pipeline(small_stack: Candidate, prepared: Prepared) -> None:
    model = small_stack.model
    compiled = compile_conformal(model)
    assert compiled is not None
    columns = list(model.feature_names_in_)
    for houses in (prepared.X_heldout, frame_of(sparse_requests(prepared), columns)):
        expected = model.predict_interval(houses)
        got = compiled.predict_interval({c: houses[c].to_numpy() for c in columns})
        for want, have in zip(expected, got, strict=True):
            assert np.array_equal(want, have), np.abs(want - have).max()


def test_the_api_predictor_prices_like_the_pipeline(
    small_stack: Candidate, prepared: Prepared
) -> None:
    metadata = {"confidence_level": 0.9, "max_living_area": 4000.0}
    predictor = HousePredictor(small_stack.model, card=ModelCard(name="t"), metadata=metadata)
    assert predictor.compiled is not None
    records = sparse_requests(prepared, 10)
    point, lower, upper = small_stack.model.predict_interval(predictor.frame(records))
    for i, answer in enumerate(predictor.predict([HouseRequest(**r) for r in records])):
        assert answer.predicted_price == round(float(point[i]))
        assert (answer.interval.lower, answer.interval.upper) == (
            round(float(lower[i])),
            round(float(upper[i])),
        )


@pytest.mark.real_data
def test_features_equal_the_pipeline_step_on_every_kaggle_house(data_dir: Path) -> None:
    cfg = HousingConfig()
    for name in ("train.csv", "test.csv"):
        frame = read_scoring_file(data_dir / "ames-housing" / name, cfg)
        houses = frame.drop(columns=[c for c in ("Id", "SalePrice") if c in frame])
        assert_same_features(houses.astype(object).where(houses.notna(), np.nan))
