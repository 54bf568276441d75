"""The ULB loader on small files in the ULB schema (never the real data), through a
data folder and a download from a local server; the simulator path; scoring files."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from fraud.config import ULB_PROTOCOL, FraudConfig
from fraud.data import load, read_scoring_file
from fraud.train import prepare, split_periods
from tenfold import data as tfdata

ULB = dataclasses.replace(FraudConfig(), dataset="ulb", protocol=ULB_PROTOCOL, ulb_twin_rows=20_000)
COLUMNS = ["Time", *(f"V{i}" for i in range(1, 29)), "Amount", "Class"]


def ulb_bytes(n: int = 6, *, bad: str | None = None) -> bytes:
    """Rows formatted as Kaggle's creditcard.csv is: quoted header, quoted Class."""
    rng = np.random.default_rng(0)
    lines = [",".join(f'"{c}"' for c in COLUMNS)]
    for i in range(n):
        components = [f"{v:.13g}" for v in rng.normal(0, 1, 28)]
        if bad is not None and i == 1:
            components[2] = bad  # V3 of data row 2
        fraud = '"1"' if i == 3 else '"0"'
        lines.append(",".join([str(n - i), *components, f"{10 * i + 0.5:.2f}", fraud]))
    return ("\n".join(lines) + "\n").encode()


def manifest_for(payload: bytes) -> tfdata.Manifest:
    """The real manifest, in memory, with the ULB file's checksum set to ``payload``'s."""
    real = tfdata.Manifest.load()
    spec = real[ULB.ulb_dataset]
    file = dataclasses.replace(
        spec.file(ULB.ulb_file), sha256=hashlib.sha256(payload).hexdigest(), rows=None
    )
    dataset = dataclasses.replace(spec, files={ULB.ulb_file: file})
    return dataclasses.replace(real, datasets={**real.datasets, ULB.ulb_dataset: dataset})


def test_manifest_entry_is_complete() -> None:
    spec = tfdata.Manifest.load()[ULB.ulb_dataset]
    file = spec.file(ULB.ulb_file)
    assert file.column_names == COLUMNS
    assert file.rows == 284_807
    assert len(file.sha256) == 64
    assert set(file.sha256) <= set("0123456789abcdef")
    assert any("download.tensorflow.org" in u for u in file.urls)
    assert "ODbL" in spec.licence
    assert "kaggle.com/datasets/mlg-ulb/creditcardfraud" in spec.homepage


def test_ulb_file_from_a_data_folder(tmp_path: Path) -> None:
    payload = ulb_bytes()
    folder = tmp_path / "provided" / ULB.ulb_dataset
    folder.mkdir(parents=True)
    (folder / ULB.ulb_file).write_bytes(payload)
    frame, source = load(
        ULB,
        manifest=manifest_for(payload),
        data_dir=tmp_path / "provided",
        cache_dir=tmp_path / "cache",
        download=False,
    )
    assert (source.kind, source.origin) == ("real", "data_dir")
    assert list(frame.columns) == COLUMNS
    assert frame["Class"].dtype == np.int64
    assert frame["Class"].sum() == 1
    assert frame["Time"].is_monotonic_increasing  # the file is written newest first
    assert frame["Amount"].dtype == np.float64


def test_ulb_download_from_a_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    monkeypatch.delenv("TENFOLD_DATA_DIR", raising=False)
    payload = ulb_bytes(8)
    httpserver.expect_request("/gone/creditcard.csv").respond_with_data("", status=404)
    httpserver.expect_request("/mirror/creditcard.csv").respond_with_data(payload)
    options = {
        "urls": [
            httpserver.url_for("/gone/creditcard.csv"),
            httpserver.url_for("/mirror/creditcard.csv"),
        ],
        "manifest": manifest_for(payload),
        "cache_dir": tmp_path / "cache",
        "download": True,
    }
    frame, source = load(ULB, **options)
    assert (source.kind, source.origin) == ("real", "download")
    assert len(frame) == 8
    cached = tmp_path / "cache" / ULB.ulb_dataset / ULB.ulb_file
    assert cached.read_bytes() == payload
    httpserver.clear()  # a second load is served from the cache, not the network
    _, again = load(ULB, **options)
    assert again.origin == "cache"
    assert httpserver.log == []


def test_ulb_download_with_other_bytes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    monkeypatch.delenv("TENFOLD_DATA_DIR", raising=False)
    httpserver.expect_request("/creditcard.csv").respond_with_data(ulb_bytes(8))
    with pytest.raises(tfdata.DataError, match="sha256 mismatch"):
        load(
            ULB,
            urls=[httpserver.url_for("/creditcard.csv")],
            manifest=manifest_for(ulb_bytes(9)),
            cache_dir=tmp_path / "cache",
            download=True,
        )
    assert not (tmp_path / "cache" / ULB.ulb_dataset / ULB.ulb_file).exists()


def test_ulb_bad_value_names_column_and_row(tmp_path: Path) -> None:
    payload = ulb_bytes(bad="abc")
    folder = tmp_path / ULB.ulb_dataset
    folder.mkdir()
    (folder / ULB.ulb_file).write_bytes(payload)
    with pytest.raises(tfdata.DataError, match=r"column 'V3', row 2: cannot parse as float: 'abc'"):
        load(ULB, manifest=manifest_for(payload), data_dir=tmp_path, download=False)


@pytest.mark.usefixtures("offline")
def test_offline_ulb_is_its_announced_twin_and_splits_in_time() -> None:
    frame, source = load(ULB)
    assert source.kind == "synthetic"
    assert "SYNTHETIC" in source.steps[-1]
    assert list(frame.columns) == COLUMNS
    assert 0 < frame["Class"].mean() < 0.01
    prepared = prepare(frame, ULB)
    periods = split_periods(prepared, ULB)
    assert periods.meta_test["day"].min() - periods.meta_train["day"].max() >= ULB_PROTOCOL.delay
    assert (prepared.meta["card"].to_numpy() == np.arange(len(frame))).all()


@pytest.mark.usefixtures("offline")
def test_simulated_data_is_announced_and_digested(small_cfg: FraudConfig) -> None:
    _frame, source = load(small_cfg)
    assert source.kind == "synthetic"
    assert "SIMULATOR" in source.steps[0]
    assert len(source.sha256["transactions"]) == 64
    _, again = load(small_cfg)
    assert again.sha256 == source.sha256  # same seed, same bytes
    _, other = load(dataclasses.replace(small_cfg, seed=small_cfg.seed + 1))
    assert other.sha256 != source.sha256


def test_scoring_file_errors_name_column_and_row(tmp_path: Path, small_model) -> None:  # type: ignore[no-untyped-def]
    _, periods = small_model
    rows = periods.split.X_test.head(3).copy()
    path = tmp_path / "transactions.csv"
    rows.to_csv(path, index=False)
    assert len(read_scoring_file(path)) == 3
    rows["tx_amount"] = rows["tx_amount"].astype(object)
    rows.loc[rows.index[2], "tx_amount"] = "12,50 EUR"
    rows.to_csv(path, index=False)
    with pytest.raises(tfdata.DataError, match=r"column 'tx_amount', row 3: cannot parse as float"):
        read_scoring_file(path)
    rows.drop(columns=["terminal_risk_7day"]).to_csv(path, index=False)
    with pytest.raises(tfdata.DataError, match=r"missing column\(s\) \['terminal_risk_7day'\]"):
        read_scoring_file(path)
