"""The synthetic twin and the scoring-file reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.config import ChurnConfig
from churn.data import load, make_synthetic, read_scoring_file, telco_columns
from tenfold.data import DataError, check_frame


def test_twin_has_the_real_schema_and_relationships() -> None:
    twin = make_synthetic(4000, seed=1)
    check_frame(twin, telco_columns(ChurnConfig(), with_target=True), label="twin")
    assert twin.shape == (4000, 21)
    new = twin["tenure"] == 0
    assert twin.loc[new, "TotalCharges"].isna().all()
    assert twin.loc[~new, "TotalCharges"].notna().all()
    rate = (twin["Churn"] == "Yes").groupby(twin["Contract"]).mean()
    assert rate["Month-to-month"] > 2 * rate["Two year"]
    fibre = twin.groupby("InternetService")["MonthlyCharges"].mean()
    assert fibre["Fiber optic"] > fibre["DSL"] > fibre["No"]


def test_twin_is_seeded() -> None:
    pd.testing.assert_frame_equal(make_synthetic(300, 5), make_synthetic(300, 5))
    assert not make_synthetic(300, 5).equals(make_synthetic(300, 6))


@pytest.mark.usefixtures("offline")
def test_offline_load_says_it_is_synthetic() -> None:
    frame, source = load(ChurnConfig(synthetic_rows=200))
    assert source.kind == "synthetic"
    assert len(frame) == 200
    assert "SYNTHETIC" in source.steps[-1]


def test_scoring_file_errors_name_the_column_and_row(tmp_path: Path) -> None:
    rows = make_synthetic(3, seed=2).drop(columns=["Churn"])
    rows["tenure"] = rows["tenure"].astype(object)
    rows.loc[1, "tenure"] = "twelve"
    path = tmp_path / "customers.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"customers\.csv: column 'tenure', row 2: cannot parse"):
        read_scoring_file(path, ChurnConfig())
    rows.drop(columns=["Contract"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['Contract'\]"):
        read_scoring_file(path, ChurnConfig())


@pytest.mark.real_data
def test_real_telco_file(data_dir: Path) -> None:
    frame, source = load(ChurnConfig())
    assert source.kind == "real"
    telco_sha256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
    assert source.sha256 == {"WA_Fn-UseC_-Telco-Customer-Churn.csv": telco_sha256}
    assert frame.shape == (7043, 21)
    blank = frame["TotalCharges"].isna()
    assert blank.sum() == 11
    assert (frame.loc[blank, "tenure"] == 0).all()
    assert (frame["Churn"] == "Yes").sum() == 1869
    assert np.issubdtype(frame["MonthlyCharges"].dtype, np.floating)
