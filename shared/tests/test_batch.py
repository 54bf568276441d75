"""Batch files: the chunked reader numbers rows across chunks, the output is written once,
atomically, never over the input, and an empty input is one clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tenfold.batch import check_files, check_paths, score_file
from tenfold.data import ColumnSpec, DataError, iter_csv_checked, read_csv_checked

COLUMNS = [ColumnSpec("id", "str"), ColumnSpec("x", "float"), ColumnSpec("n", "int")]


def write(path: Path, rows: int, bad_row: int | None = None) -> Path:
    lines = ["id,x,n"]
    for i in range(1, rows + 1):
        x = "oops" if i == bad_row else f"{i / 7:.3f}"
        lines.append(f"c{i},{x},{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_chunks_equal_the_whole_file(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", 23)
    chunks = list(iter_csv_checked(source, COLUMNS, chunk_rows=5))
    assert [c.first_row for c in chunks] == [1, 6, 11, 16, 21]
    whole = pd.concat([c.frame for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(whole, read_csv_checked(source, COLUMNS))
    assert chunks[-1].bytes_read == chunks[-1].total_bytes == source.stat().st_size


def test_a_bad_value_is_named_with_its_row_in_the_file(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", 40, bad_row=27)
    with pytest.raises(DataError, match=r"in\.csv: column 'x', row 27: cannot parse as float"):
        list(iter_csv_checked(source, COLUMNS, chunk_rows=10))
    # the same row number as reading the whole file
    with pytest.raises(DataError, match="row 27:"):
        read_csv_checked(source, COLUMNS)


def test_score_file_writes_one_header_and_the_same_bytes(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", 23)
    out = tmp_path / "deep" / "out.csv"

    def score(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"id": frame["id"], "double": frame["x"] * 2, "big": frame["n"] > 9})

    result = score_file(
        iter_csv_checked(source, COLUMNS, chunk_rows=4),
        score,
        out,
        source=source,
        tally=lambda s: int(s["big"].sum()),
        progress=False,
    )
    expected = score(read_csv_checked(source, COLUMNS)).to_csv(index=False)
    assert out.read_text(encoding="utf-8") == expected
    assert (result.rows, sum(result.tallies)) == (23, 14)
    assert [p.name for p in out.parent.iterdir()] == ["out.csv"]  # no temporary file left


def test_a_failed_run_leaves_the_previous_output_alone(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", 30, bad_row=25)
    out = tmp_path / "out.csv"
    out.write_text("previous scores\n")
    with pytest.raises(DataError, match="row 25"):
        score_file(
            iter_csv_checked(source, COLUMNS, chunk_rows=10),
            lambda frame: frame,
            out,
            source=source,
            progress=False,
        )
    assert out.read_text() == "previous scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_the_output_may_not_be_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write(tmp_path / "in.csv", 3)
    (tmp_path / "link.csv").symlink_to(source)
    os.link(source, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    for same in (source, Path("../in.csv"), tmp_path / "link.csv", tmp_path / "hard.csv"):
        with pytest.raises(DataError, match="is the input file"):
            check_paths(source, same)
    with pytest.raises(DataError, match="is a directory"):
        check_paths(source, tmp_path / "sub")
    check_paths(source, tmp_path / "new" / "out.csv")  # a new folder is fine
    before = source.read_bytes()
    with pytest.raises(DataError):
        score_file(iter_csv_checked(source, COLUMNS), lambda f: f, Path("../in.csv"), source=source)
    assert source.read_bytes() == before


def test_no_rows_is_one_clear_error(tmp_path: Path) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,x,n\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = tmp_path / "out.csv"
    with pytest.raises(DataError, match=r"no rows to score in .*header\.csv"):
        check_files(header_only, out)
    with pytest.raises(DataError, match=r"no rows to score in .*empty\.csv: the file is empty"):
        check_files(empty, out)
    assert list(iter_csv_checked(header_only, COLUMNS)) == []
    with pytest.raises(DataError, match="no rows to score"):
        score_file(iter_csv_checked(header_only, COLUMNS), lambda f: f, out, source=header_only)
    assert not out.exists()
