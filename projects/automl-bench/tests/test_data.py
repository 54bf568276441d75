"""Data-layer checks: user datasets, folds that respect groups and time, synthetic twins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_bench import data
from automl_bench.config import BenchConfig
from tenfold.data import DataSource, Manifest, check_frame
from tenfold.errors import DataError


def test_a_toml_entry_adds_a_dataset(tmp_path: Path) -> None:
    pd.DataFrame({"x": range(40), "kind": ["a", "b", "c", "d"] * 10, "rid": range(40)}).to_csv(
        tmp_path / "mine.csv", index=False
    )
    (tmp_path / "datasets.toml").write_text(
        '[datasets.mine]\ncsv = "mine.csv"\ntarget = "kind"\nid = "rid"\n', encoding="utf-8"
    )
    cfg = BenchConfig(datasets_file=tmp_path / "datasets.toml")
    task = data.load_task("mine", cfg)
    assert task.kind == "multiclass"
    assert task.classes == ("a", "b", "c", "d")
    assert list(task.X.columns) == ["x"]  # target and id left out


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('[datasets.m]\ncsv = "m.csv"\n', "needs 'target'"),
        ('[datasets.m]\ncsv = "m.csv"\ntarget = "y"\ncolour = 1\n', "unknown key(s) ['colour']"),
        ('[datasets.telco]\ncsv = "m.csv"\ntarget = "y"\n', "shadows a built-in"),
        ('[datasets.m]\ncsv = "m.csv"\ntarget = "y"\ntask = "ranking"\n', "task must be"),
    ],
)
def test_bad_toml_entries_say_what_is_wrong(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "datasets.toml"
    path.write_text(entry, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        data.user_datasets(path)


def test_user_target_errors_name_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"x": [1, 2, 3], "price": ["1.5", "", "2"]}).to_csv(path, index=False)
    spec = data.UserDataset("p", path, "price", "regression")
    with pytest.raises(DataError, match="target 'price' is missing in row 2"):
        data.load_user(spec)
    with pytest.raises(DataError, match="target column 'cost' not found"):
        data.load_user(data.UserDataset("p", path, "cost"))


def test_infer_kind() -> None:
    assert data.infer_kind(pd.Series(["yes", "no", "yes"])) == "binary"
    assert data.infer_kind(pd.Series(np.linspace(0, 1, 50))) == "regression"
    assert data.infer_kind(pd.Series(["a", "b", "c"] * 5)) == "multiclass"


def _task(**kw: object) -> data.Task:
    n = 600
    base = {
        "name": "t",
        "kind": "regression",
        "X": pd.DataFrame({"x": np.arange(n, dtype=float)}),
        "y": np.arange(n, dtype=float),
        "source": DataSource("t", "synthetic", "synthetic"),
        "fold_kind": "kfold",
        "description": "",
    }
    return data.Task(**{**base, **kw})  # type: ignore[arg-type]


def test_group_folds_keep_an_engine_together() -> None:
    groups = np.repeat(np.arange(30), 20)
    task = _task(fold_kind="group", groups=groups)
    folds = data.outer_folds(task, 3, seed=1)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([t for _, t in folds])) == list(range(600))


def test_time_folds_train_before_the_gap() -> None:
    times = np.linspace(0, 100, 600)
    task = _task(fold_kind="time", times=times, gap=7.0)
    folds = data.outer_folds(task, 3, seed=1)
    assert len(folds) == 3
    for train, test in folds:
        assert times[train].max() < times[test].min() - 7.0 + 1e-9


def test_same_folds_for_every_call() -> None:
    task = _task(fold_kind="kfold")
    first = data.outer_folds(task, 3, seed=5)
    second = data.outer_folds(task, 3, seed=5)
    assert all((a[1] == b[1]).all() for a, b in zip(first, second, strict=True))


def test_credit_twin_has_the_manifest_schema() -> None:
    spec = Manifest.load()["credit-scoring"].file(data.CREDIT_FILE)
    twin = data.make_credit_twin(2000, seed=3)
    check_frame(twin, spec.columns, label="twin")
    assert 0.1 < twin[data.CREDIT_TARGET].mean() < 0.4


@pytest.mark.usefixtures("offline")
def test_cmapss_twin_through_the_data_layer() -> None:
    task = data.load_cmapss(BenchConfig())
    assert task.source.kind == "synthetic"
    assert task.y.max() <= data.RUL_CAP
    assert task.y.min() >= 0
    # every engine's RUL falls by one per cycle until the cap
    first = task.X["unit"] == task.X["unit"].iloc[0]
    rul = task.y[first.to_numpy()]
    assert (np.diff(rul[rul < data.RUL_CAP]) == -1).all()


@pytest.mark.real_data
def test_real_cmapss_and_credit(data_dir: Path) -> None:
    cfg = BenchConfig()
    cmapss = data.load_cmapss(cfg)
    assert cmapss.n_rows == 20631 + 13096
    assert cmapss.groups is not None
    assert len(np.unique(cmapss.groups)) == 200
    credit = data.load_credit(cfg)
    assert credit.n_rows == 30000
    assert round(float(credit.y.mean()), 3) == 0.221
