"""The data layer: manifest, resolution order, checksums, schema errors, downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from tenfold import data

CSV = b"id,amount,kind,when\n1,10.5,a,2024-01-01\n2, ,b,2024-01-02\n3,7,a,2024-01-03\n"


def sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def write_manifest(tmp_path: Path, payload: bytes = CSV, urls: tuple[str, ...] = ()) -> Path:
    url_list = ", ".join(f'"{u}"' for u in urls)
    path = tmp_path / "datasets.toml"
    path.write_text(
        f"""
[datasets.toy]
title = "Toy"
licence = "CC0"
homepage = "https://example.org/toy"

[datasets.toy.files."toy.csv"]
sha256 = "{sha(payload)}"
urls = [{url_list}]

[datasets.toy.files."toy.csv".columns]
id = "int"
amount = "float?"
kind = "str"
when = "datetime"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> data.Manifest:
    return data.Manifest.load(write_manifest(tmp_path))


def options(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {"cache_dir": tmp_path / "cache", "download": False, "progress": False, **extra}


def test_data_dir_is_used_and_verified(tmp_path: Path, manifest: data.Manifest) -> None:
    provided = tmp_path / "provided" / "toy"
    provided.mkdir(parents=True)
    (provided / "toy.csv").write_bytes(CSV)
    loaded = data.load(
        "toy",
        ["toy.csv"],
        synthetic=None,
        manifest=manifest,
        **options(tmp_path, data_dir=tmp_path / "provided"),
    )
    assert loaded.source.kind == "real"
    assert loaded.source.origin == "data_dir"
    assert loaded.source.sha256 == {"toy.csv": sha(CSV)}
    frame = loaded.frame
    assert frame["id"].dtype == np.int64
    assert frame["amount"].isna().tolist() == [False, True, False]  # the blank is missing
    assert frame["when"].dtype.kind == "M"
    assert any("TENFOLD_DATA_DIR" in step for step in loaded.source.steps)


def test_checksum_mismatch_is_an_error_naming_the_file(
    tmp_path: Path, manifest: data.Manifest
) -> None:
    cache = tmp_path / "cache" / "toy"
    cache.mkdir(parents=True)
    (cache / "toy.csv").write_bytes(CSV.replace(b"10.5", b"99.9"))
    with pytest.raises(data.DataError, match=r"toy\.csv.*sha256 mismatch"):
        data.load("toy", ["toy.csv"], synthetic=None, manifest=manifest, **options(tmp_path))


def test_missing_column_is_named(tmp_path: Path) -> None:
    payload = b"id,amount,when\n1,2.0,2024-01-01\n"
    manifest = data.Manifest.load(write_manifest(tmp_path, payload))
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / "toy" / "toy.csv").write_bytes(payload)
    with pytest.raises(data.DataError, match=r"toy/toy\.csv: missing column\(s\) \['kind'\]"):
        data.load("toy", ["toy.csv"], synthetic=None, manifest=manifest, **options(tmp_path))


def test_bad_value_names_file_column_and_row(tmp_path: Path) -> None:
    payload = b"id,amount,kind,when\n1,1.0,a,2024-01-01\n2,1.0,b,2024-01-02\n3,abc,a,2024-01-03\n"
    manifest = data.Manifest.load(write_manifest(tmp_path, payload))
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / "toy" / "toy.csv").write_bytes(payload)
    with pytest.raises(data.DataError) as info:
        data.load("toy", ["toy.csv"], synthetic=None, manifest=manifest, **options(tmp_path))
    message = str(info.value)
    assert "toy/toy.csv" in message
    assert "'amount'" in message
    assert "row 3" in message
    assert "'abc'" in message


def test_required_value_missing_and_non_integer(tmp_path: Path) -> None:
    columns = [data.ColumnSpec("id", "int"), data.ColumnSpec("kind", "str")]
    raw = pd.DataFrame({"id": ["1", "2.5"], "kind": ["a", "b"]})
    with pytest.raises(data.DataError, match=r"'id', row 2: cannot parse as int: '2.5'"):
        data.parse_columns(raw, columns, label="f.csv")
    raw = pd.DataFrame({"id": ["1", "2"], "kind": ["a", "  "]})
    with pytest.raises(data.DataError, match=r"'kind', row 2: value is missing"):
        data.parse_columns(raw, columns, label="f.csv")


def test_text_na_is_a_category_not_missing() -> None:
    """In some datasets "NA" is a real level (Ames: no garage); only numbers treat it as
    missing."""
    columns = [data.ColumnSpec.parse("garage", "str?"), data.ColumnSpec.parse("area", "float?")]
    raw = pd.DataFrame({"garage": ["NA", "Attchd"], "area": ["NA", "12"]})
    parsed = data.parse_columns(raw, columns, label="f.csv")
    assert parsed["garage"].tolist() == ["NA", "Attchd"]
    assert np.isnan(parsed["area"].iloc[0])


def test_synthetic_twin_when_nothing_is_found(tmp_path: Path, manifest: data.Manifest) -> None:
    twin = pd.DataFrame(
        {
            "id": [1, 2],
            "amount": [1.0, np.nan],
            "kind": ["a", "b"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    loaded = data.load(
        "toy",
        ["toy.csv"],
        synthetic=lambda: {"toy.csv": twin},
        manifest=manifest,
        **options(tmp_path, data_dir=None),
    )
    assert loaded.source.kind == "synthetic"
    assert "SYNTHETIC" in loaded.source.steps[-1]
    assert any("download disabled" in step for step in loaded.source.steps)


def test_synthetic_twin_is_schema_checked(tmp_path: Path, manifest: data.Manifest) -> None:
    wrong = pd.DataFrame(
        {"id": ["x"], "amount": [1.0], "kind": ["a"], "when": pd.to_datetime(["2024-01-01"])}
    )
    with pytest.raises(data.DataError, match=r"'id' has dtype object, expected int"):
        data.load(
            "toy",
            ["toy.csv"],
            synthetic=lambda: {"toy.csv": wrong},
            manifest=manifest,
            **options(tmp_path, data_dir=None),
        )


def test_unknown_dataset_lists_known_ones(manifest: data.Manifest) -> None:
    with pytest.raises(data.DataError, match=r"unknown dataset 'nope'.*\['toy'\]"):
        manifest["nope"]


# --------------------------------------------------------------------------- downloads


def test_download_falls_back_to_the_next_url_and_caches(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/gone/toy.csv").respond_with_data("gone", status=404)
    httpserver.expect_request("/mirror/toy.csv").respond_with_data(CSV)
    urls = (httpserver.url_for("/gone/toy.csv"), httpserver.url_for("/mirror/toy.csv"))
    manifest = data.Manifest.load(write_manifest(tmp_path, urls=urls))
    loaded = data.load(
        "toy",
        ["toy.csv"],
        synthetic=None,
        manifest=manifest,
        **options(tmp_path, data_dir=None, download=True),
    )
    assert loaded.source.origin == "download"
    assert [request.path for request, _ in httpserver.log] == ["/gone/toy.csv", "/mirror/toy.csv"]
    cached = tmp_path / "cache" / "toy" / "toy.csv"
    assert cached.read_bytes() == CSV
    # a second load is served from the cache, not the network
    httpserver.clear()
    again = data.load(
        "toy",
        ["toy.csv"],
        synthetic=None,
        manifest=manifest,
        **options(tmp_path, data_dir=None, download=True),
    )
    assert again.source.origin == "cache"
    assert httpserver.log == []


def test_download_with_wrong_bytes_is_an_error_and_leaves_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/toy.csv").respond_with_data(CSV + b"4,1.0,a,2024-01-04\n")
    manifest = data.Manifest.load(write_manifest(tmp_path, urls=(httpserver.url_for("/toy.csv"),)))
    with pytest.raises(
        data.DataError, match=r"sha256 mismatch for toy\.csv: expected \w+, got [0-9a-f]{64}"
    ):
        data.load(
            "toy",
            ["toy.csv"],
            synthetic=None,
            manifest=manifest,
            **options(tmp_path, data_dir=None, download=True),
        )
    folder = tmp_path / "cache" / "toy"
    assert not any(folder.iterdir()), "a failed download must not leave files behind"


def test_unreachable_download_falls_back_to_the_twin(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/missing.csv").respond_with_data("", status=404)
    manifest = data.Manifest.load(
        write_manifest(tmp_path, urls=(httpserver.url_for("/missing.csv"),))
    )
    twin = pd.DataFrame(
        {"id": [1], "amount": [1.0], "kind": ["a"], "when": pd.to_datetime(["2024-01-01"])}
    )
    loaded = data.load(
        "toy",
        ["toy.csv"],
        synthetic=lambda: {"toy.csv": twin},
        manifest=manifest,
        **options(tmp_path, data_dir=None, download=True),
    )
    assert loaded.source.kind == "synthetic"
    failed = [step for step in loaded.source.steps if "download of toy/toy.csv failed" in step]
    assert failed, loaded.source.steps
    assert "404" in failed[0]  # the reason is in the step a user reads


def test_download_draws_a_progress_bar(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rich bar pooch drives: sized from Content-Length, full at the end."""
    bars: list[data._RichBar] = []

    class Recorded(data._RichBar):
        def __init__(self, description: str) -> None:
            super().__init__(description)
            bars.append(self)

    monkeypatch.setattr(data, "_RichBar", Recorded)
    httpserver.expect_request("/toy.csv").respond_with_data(CSV)
    target = tmp_path / "toy.csv"
    data.download(httpserver.url_for("/toy.csv"), target, expected_sha256=sha(CSV))
    assert target.read_bytes() == CSV
    (bar,) = bars
    task = bar._bar.tasks[0]
    assert (task.description, task.total, task.completed) == (
        "downloading toy.csv",
        len(CSV),
        len(CSV),
    )


def test_read_user_csv_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="no such file"):
        data.read_user_csv(tmp_path / "absent.csv")


def test_a_source_summary_is_what_metrics_files_say_of_the_data() -> None:
    from tenfold.data import DataSource

    source = DataSource("telco", "real", "data_dir", sha256={"b.csv": "22", "a.csv": "11"})
    assert source.summary() == {
        "dataset": "telco",
        "kind": "real",
        "sha256": {"b.csv": "22", "a.csv": "11"},
    }
