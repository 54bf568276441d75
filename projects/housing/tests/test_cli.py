"""The CLI: any regression CSV, batch pricing, and user mistakes as one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from housing.__main__ import app
from housing.train import Prepared
from tenfold import tracking
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


def regression_csv(path: Path, rows: int = 150) -> Path:
    """A small shop-profit table: numbers with blanks, a category, an id; the target can
    be negative, so it is modelled as it is (no log)."""
    rng = np.random.default_rng(3)
    size = rng.uniform(50, 500, rows)
    staff = rng.integers(1, 20, rows).astype(float)
    staff[rng.random(rows) < 0.1] = np.nan
    region = rng.choice(["north", "south", "east"], rows)
    profit = (
        2.0 * size - 30.0 * np.nan_to_num(staff, nan=10) + np.where(region == "north", 100, -50)
    )
    frame = pd.DataFrame(
        {
            "shop": [f"S{i:03d}" for i in range(rows)],
            "size_m2": size.round(1),
            "staff": staff,
            "region": region,
            "profit": (profit + rng.normal(0, 20, rows)).round(2),
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking")
def test_train_on_any_regression_csv(tmp_path: Path) -> None:
    csv = regression_csv(tmp_path / "shops.csv")
    args = ["--data", str(csv), "--target", "profit", "--id", "shop", "--trials", "1"]
    result = runner.invoke(app, ["train", *args, "--forest-trials", "1", "--cv-folds", "3"])
    assert result.exit_code == 0, result.output
    # `train` registers the challenger under the CSV's own name; only the gate (after
    # `evaluate`) moves a champion
    assert output_has(result, "registered as housing-shops v1 @challenger")
    record = tracking.load_sklearn_model("models:/housing-shops@challenger")
    assert record.metadata["log_target"] is False
    new = pd.read_csv(csv).head(4).drop(columns=["profit", "shop"])
    point, lower, upper = record.model.predict_interval(new)
    assert (lower <= point).all()
    assert (point <= upper).all()


@pytest.mark.usefixtures("isolated_tracking")
def test_a_target_that_is_not_numeric_is_one_clear_line(tmp_path: Path) -> None:
    csv = regression_csv(tmp_path / "shops.csv")
    result = runner.invoke(app, ["train", "--data", str(csv), "--target", "region"])
    assert result.exit_code == 2
    assert output_has(result, "target 'region', row 1")
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["train", "--data", str(csv), "--target", "price"])
    assert missing.exit_code == 2
    assert output_has(missing, "target column 'price' not found")


def test_predict_prices_a_file_and_flags_out_of_scope_houses(
    champion: str, prepared: Prepared, tmp_path: Path
) -> None:
    houses = prepared.X_heldout.head(3).copy()
    houses.insert(0, "Id", [101, 102, 103])
    houses.loc[2, "GrLivArea"] = 4500
    houses.loc[1, "LotFrontage"] = np.nan
    source = tmp_path / "houses.csv"
    houses.to_csv(source, index=False)
    out = tmp_path / "prices.csv"
    result = runner.invoke(
        app, ["predict", "--input", str(source), "--output", str(out), "--model-uri", champion]
    )
    assert result.exit_code == 0, result.output
    prices = pd.read_csv(out)
    assert prices["Id"].tolist() == [101, 102, 103]
    assert prices["predicted_price"].notna().tolist() == [True, True, False]
    assert (prices["lower"] < prices["predicted_price"]).iloc[:2].all()
    assert "out of scope" in prices.loc[2, "note"]


def test_predict_names_a_missing_column(champion: str, prepared: Prepared, tmp_path: Path) -> None:
    source = tmp_path / "houses.csv"
    prepared.X_heldout.head(2).drop(columns=["OverallQual"]).to_csv(source, index=False)
    result = runner.invoke(
        app,
        [
            "predict",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.csv"),
            "--model-uri",
            champion,
        ],
    )
    assert result.exit_code == 2
    assert output_has(result, "OverallQual")


def test_a_users_csv_needs_no_id_column(tmp_path: Path) -> None:
    """`run --data sales.csv --target price`: the project's id ("Id") is its own data's."""
    from housing.__main__ import CLI, HousingOptions
    from housing.data import load
    from housing.train import prepare

    csv = regression_csv(tmp_path / "sales.csv")
    pd.read_csv(csv).drop(columns=["shop"]).to_csv(csv, index=False)
    cfg = CLI.configure(HousingOptions(data_path=csv, target="profit"))
    assert (cfg.id_column, cfg.target, cfg.experiment) == (None, "profit", "housing-custom")
    prepared = prepare(load(cfg), cfg)
    assert set(prepared.X.columns) == {"size_m2", "staff", "region"}


def test_registered_names_keep_the_published_champion_apart() -> None:
    from housing.config import HousingConfig
    from tenfold.data import DataSource

    real = DataSource(dataset="ames-housing", kind="real", origin="cache")
    twin = DataSource(dataset="ames-housing", kind="synthetic", origin="synthetic")
    assert HousingConfig().registered_model_name(real) == "housing"
    assert HousingConfig().registered_model_name(twin) == "housing-synthetic"
    assert HousingConfig(data_path=Path("kc_sales.csv")).registered_model_name(real) == (
        "housing-kc_sales"
    )


def test_predict_guards_its_files(tmp_path: Path) -> None:
    """Output = input (however spelt), a directory, a header-only input: one line, exit
    code 2, the input untouched (issue 8 §3)."""
    assert_predict_guards_its_files(app, tmp_path)
