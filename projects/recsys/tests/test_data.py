"""The data layer: any ratings file with clear errors, the twin's schema, the zip."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from recsys.config import RatingsFile
from recsys.data import extract_members, make_synthetic, read_ratings_file, sniff_separator
from tenfold.data import DataError, DatasetSpec, FileSpec, Manifest, check_frame


@pytest.mark.parametrize("sep", ["::", "\t", ",", ";", "|"])
def test_any_separator_is_detected(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "r.txt"
    path.write_text(sep.join(["u", "i", "r"]) + "\n" + sep.join(["1", "10", "4"]) + "\n")
    assert sniff_separator(path) == sep
    loaded = read_ratings_file(RatingsFile(path, "u", "i", rating_col="r"))
    assert loaded.ratings[["user", "item", "rating"]].values.tolist() == [["1", "10", 4.0]]


def test_wrong_column_names_the_option_and_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("userId,movieId,rating\n1,2,3\n")
    with pytest.raises(DataError, match=r"column 'user' \(--user-col\) not found.*userId"):
        read_ratings_file(RatingsFile(path, "user", "movieId"))


def test_bad_value_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("u,i,r\n1,2,3\n1,3,five\n")
    with pytest.raises(DataError, match=r"column 'r', row 2"):
        read_ratings_file(RatingsFile(path, "u", "i", rating_col="r"))


def test_one_column_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user item\n1 2\n")
    with pytest.raises(DataError, match="cannot tell the separator"):
        read_ratings_file(RatingsFile(path, "user", "item"))


def test_iso_timestamps_and_items_file(tmp_path: Path) -> None:
    ratings = tmp_path / "r.csv"
    ratings.write_text("u,i,when\n1,7,2024-01-02T00:00:00Z\n")
    items = tmp_path / "m.csv"
    items.write_text("i,title,genres\n7,Heat (1995),Action|Crime\n")
    loaded = read_ratings_file(RatingsFile(ratings, "u", "i", time_col="when", items_path=items))
    assert loaded.ratings["timestamp"].tolist() == [1704153600]
    assert loaded.items.iloc[0].to_dict() == {
        "item": "7",
        "title": "Heat (1995)",
        "year": 1995.0,
        "genres": "Action|Crime",
    }
    assert loaded.has_ratings is False  # every rating is 1.0


def test_synthetic_twin_has_the_manifest_schema() -> None:
    frames = make_synthetic(50, 60, seed=1)
    spec = Manifest.load()["movielens-100k"]
    for name, frame in frames.items():
        check_frame(frame, spec.file(name).columns, label=name)
    assert frames["u.data"].groupby("user_id").size().min() >= 20


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "ml.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    path.write_bytes(buffer.getvalue())
    return path


def test_zip_members_are_checked_against_the_pinned_sha256(tmp_path: Path) -> None:
    payload = b"1\t2\t3\t4\n"
    pinned = DatasetSpec(
        "ml", "ml", "", "", {"u.data": FileSpec("u.data", hashlib.sha256(payload).hexdigest())}
    )
    archive = _zip(tmp_path, {"ml-100k/u.data": payload})
    written = extract_members(
        archive, {"u.data": "ml-100k/u.data"}, tmp_path / "out", pinned=pinned
    )
    assert written["u.data"].read_bytes() == payload
    tampered = _zip(tmp_path, {"ml-100k/u.data": b"0\t1\t5\t0\n"})
    with pytest.raises(DataError, match="not the pinned"):
        extract_members(tampered, {"u.data": "ml-100k/u.data"}, tmp_path / "bad", pinned=pinned)
    assert not (tmp_path / "bad" / "u.data").exists()
