"""The data layer: DST duplicates and gaps handled on purpose, frequency inferred, clear
errors, the synthetic twin shaped like the real file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.config import DAILY, HOURLY, ForecastConfig
from forecasting.data import infer_cadence, load, make_synthetic, regularise, to_long
from tenfold.errors import DataError


def frame(rows: list[tuple[str, float]], uid: str = "a") -> pd.DataFrame:
    return pd.DataFrame(
        {"unique_id": uid, "ds": pd.to_datetime([r[0] for r in rows]), "y": [r[1] for r in rows]}
    )


def test_fall_back_duplicate_is_averaged_and_spring_forward_gap_interpolated() -> None:
    raw = frame(
        [
            ("2017-11-05 01:00", 20_000.0),
            ("2017-11-05 02:00", 21_000.0),  # the repeated wall-clock hour: two real hours
            ("2017-11-05 02:00", 23_000.0),
            ("2017-11-05 03:00", 22_500.0),
            ("2018-03-11 01:00", 30_000.0),
        ]
    )
    gap = frame([("2018-03-11 02:00", 31_000.0), ("2018-03-11 04:00", 33_000.0)])
    regular, cleaning = regularise(
        pd.concat([raw.iloc[:4], gap]).sample(frac=1, random_state=0),
        HOURLY,
        max_gap_steps=6_000,
        label="t",
    )
    by_time = regular.set_index("ds")
    assert by_time.loc["2017-11-05 02:00", "y"] == 22_000.0  # mean, not sum
    assert not by_time.loc["2017-11-05 02:00", "imputed"]
    assert by_time.loc["2018-03-11 03:00", "y"] == 32_000.0  # the hour that never existed
    assert by_time.loc["2018-03-11 03:00", "imputed"]
    assert regular["ds"].is_monotonic_increasing
    assert regular["ds"].diff().dropna().eq(pd.Timedelta("1h")).all()
    assert cleaning.duplicated_timestamps == 1
    assert cleaning.duplicate_examples == ("2017-11-05 02:00:00",)
    assert cleaning.rows_read == 6


def test_a_long_gap_is_an_error_naming_series_and_place() -> None:
    hours = pd.date_range("2018-01-01", periods=48, freq="h")
    kept = np.r_[0:10, 20:48]
    raw = pd.DataFrame({"unique_id": "zone", "ds": hours[kept], "y": 1.0})
    with pytest.raises(
        DataError, match=r"series 'zone': 10 consecutive missing steps from 2018-01-01 10:00"
    ):
        regularise(raw, HOURLY, max_gap_steps=6, label="file.csv")


def test_missing_target_values_are_gaps_too() -> None:
    raw = frame(
        [("2018-01-01 00:00", 1.0), ("2018-01-01 01:00", np.nan), ("2018-01-01 02:00", 3.0)]
    )
    regular, cleaning = regularise(raw, HOURLY, max_gap_steps=6, label="t")
    assert regular["y"].tolist() == [1.0, 2.0, 3.0]
    assert regular["imputed"].tolist() == [False, True, False]
    assert cleaning.imputed_steps == 1


@pytest.mark.parametrize(
    ("freq", "expected"),
    [("h", HOURLY), ("D", DAILY)],
)
def test_frequency_is_inferred(freq: str, expected: object) -> None:
    times = pd.date_range("2018-01-01", periods=50, freq=freq).delete([7, 30])  # a few gaps
    raw = pd.DataFrame({"unique_id": "a", "ds": times, "y": 1.0})
    assert infer_cadence(raw, label="t") is expected


def test_an_unsupported_frequency_says_what_it_found() -> None:
    raw = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2018-01-01", periods=50, freq="15min"), "y": 1.0}
    )
    with pytest.raises(
        DataError, match=r"most common spacing between timestamps is 0 days 00:15:00"
    ):
        infer_cadence(raw, label="t")


def test_columns_are_checked_with_file_column_and_row() -> None:
    cfg = dataclasses.replace(ForecastConfig(), time_col="when", target_col="load")
    raw = pd.DataFrame({"when": ["2018-01-01 00:00", "soon"], "load": ["1", "2"]})
    with pytest.raises(DataError, match=r"f.csv: column 'when', row 2: cannot parse as datetime"):
        to_long(raw, cfg, label="f.csv")
    with pytest.raises(DataError, match=r"column\(s\) \['when', 'load'\] not in the data"):
        to_long(pd.DataFrame({"ds": [1]}), cfg, label="f.csv")


def test_the_twin_has_the_real_files_columns_and_quirks() -> None:
    cfg = dataclasses.replace(ForecastConfig(), synthetic_start="2016-10-01 01:00")
    twin = make_synthetic(cfg)
    assert list(twin.columns) == ["ds", "y"]
    assert not twin["ds"].is_monotonic_increasing  # yearly blocks, newest first
    assert twin["ds"].duplicated().sum() == 2  # fall-back 2016 and 2017
    spring = pd.Timestamp("2017-03-12 02:00")
    assert spring not in set(twin["ds"])
    assert twin["ds"].max() == pd.Timestamp("2018-08-03 00:00")
    assert 10_000 < twin["y"].min() < twin["y"].max() < 80_000


@pytest.mark.usefixtures("offline")
def test_offline_load_is_the_twin_regularised() -> None:
    series = load(dataclasses.replace(ForecastConfig(), synthetic_start="2017-01-01 01:00"))
    assert series.source.kind == "synthetic"
    assert series.cadence is HOURLY
    assert series.cleaning.duplicated_timestamps == 1  # 2017-11-05
    assert series.cleaning.imputed_steps >= 2  # 2017-03-12 and 2018-03-11, and one lost hour
    assert series.frame["ds"].diff().dropna().eq(pd.Timedelta("1h")).all()


def test_a_users_csv_in_its_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    days = pd.date_range("2018-01-01", periods=40, freq="D")
    pd.DataFrame(
        {"store": np.repeat(["north", "south"], 40), "date": np.tile(days, 2), "sales": 5.0}
    ).to_csv(path, index=False)
    cfg = dataclasses.replace(
        ForecastConfig(), data_path=path, time_col="date", target_col="sales", id_col="store"
    )
    series = load(cfg)
    assert series.cadence is DAILY
    assert series.ids == ["north", "south"]
    assert series.source.origin == "user_file"


@pytest.mark.real_data
def test_real_pjme_file(data_dir: Path) -> None:
    series = load(ForecastConfig())
    cleaning = series.cleaning
    assert series.source.kind == "real"
    assert cleaning.rows_read == 145_366
    assert cleaning.duplicated_timestamps == 4
    assert cleaning.duplicate_examples[0] == "2014-11-02 02:00:00"
    assert cleaning.imputed_steps == 30
    assert "2010-12-10 00:00:00" not in cleaning.imputed_examples  # only the first 8 listed
    assert len(series.frame) == 145_362 + 30
    assert series.end == pd.Timestamp("2018-08-03 00:00")
