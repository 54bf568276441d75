"""tenfold.storage: the same Lake code on a folder and on a real S3-compatible server
(moto_server on loopback); the watermark, quarantine and error classification."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenfold.storage import (
    Lake,
    Processed,
    StorageError,
    StoredObject,
    Watermark,
    is_transient,
    load_watermark,
    quarantine,
    quarantined,
    save_watermark,
    sha256_bytes,
)
from tenfold.testing import S3Server, moto_s3


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_s3() as server:
        server.create_bucket("tenfold-test")
        yield server


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake(str(tmp_path / "lake"))
    server: S3Server = request.getfixturevalue("s3")
    options = {"client_kwargs": {"endpoint_url": server.endpoint, "region_name": server.region}}
    options |= {"key": "testing", "secret": "testing"}
    return Lake(f"s3://tenfold-test/{request.node.name}", storage_options=options)


@pytest.mark.service
def test_write_read_list_move_delete(lake: Lake) -> None:
    assert lake.list("incoming") == []  # a prefix that does not exist yet is empty
    lake.write_bytes("incoming/b/2018-07-02.csv", b"a,b\n3,4\n")
    lake.write_text("incoming/a/2018-07-01.csv", "a,b\n1,2\n")
    lake.write_json("state/x.json", {"k": [1, 2]})
    assert lake.list("incoming") == [
        StoredObject("incoming/a/2018-07-01.csv", 8),
        StoredObject("incoming/b/2018-07-02.csv", 8),
    ]
    assert lake.read_text("incoming/a/2018-07-01.csv") == "a,b\n1,2\n"
    assert lake.read_json("state/x.json") == {"k": [1, 2]}
    assert lake.uri("state/x.json").endswith("/state/x.json")
    lake.move("incoming/a/2018-07-01.csv", "old/2018-07-01.csv")
    assert not lake.exists("incoming/a/2018-07-01.csv")
    assert lake.read_bytes("old/2018-07-01.csv") == b"a,b\n1,2\n"
    lake.delete("old/2018-07-01.csv")
    with pytest.raises(FileNotFoundError, match="no such object"):
        lake.read_bytes("old/2018-07-01.csv")
    # no temporary objects are ever listed
    assert all(not o.key.endswith(".partial") for o in lake.list())


@pytest.mark.service
def test_quarantine_moves_the_object_and_keeps_its_reasons(lake: Lake) -> None:
    lake.write_bytes("incoming/fraud/2018-07-03.csv", b"broken")
    record = quarantine(
        lake, "incoming/fraud/2018-07-03.csv", ["12 rows", "no labels"], sha256="abc"
    )
    assert not lake.exists("incoming/fraud/2018-07-03.csv")
    assert lake.read_bytes(record.moved_to) == b"broken"
    assert lake.read_json(record.reason_key)["reasons"] == ["12 rows", "no labels"]
    # a retry after the move went through is harmless
    quarantine(lake, "incoming/fraud/2018-07-03.csv", ["12 rows", "no labels"])
    (found,) = quarantined(lake)
    assert (found.key, found.reasons) == ("incoming/fraud/2018-07-03.csv", ("12 rows", "no labels"))


def test_watermark_pending_duplicates_and_round_trip(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    listing = [StoredObject(k, 1) for k in ("in/2018-07-02.csv", "in/2018-07-01.csv")]
    empty = load_watermark(lake, "state/w.json")
    assert empty.pending(listing) == sorted(listing)
    mark = empty.record(Processed("in/2018-07-01.csv", "sha-1", "accepted"))
    # a late object with an earlier key is still pending: keys, not a high-water cut-off
    late = StoredObject("in/2018-06-30.csv", 1)
    assert [o.key for o in mark.pending([*listing, late])] == [
        "in/2018-06-30.csv",
        "in/2018-07-02.csv",
    ]
    assert mark.same_bytes("sha-1") == Processed("in/2018-07-01.csv", "sha-1", "accepted")
    assert mark.same_bytes("sha-2") is None
    # a quarantined object's bytes are not "already accepted"
    mark = mark.record(Processed("in/2018-07-02.csv", "sha-2", "quarantined", "12 rows"))
    assert mark.same_bytes("sha-2") is None
    assert mark.high_water == "in/2018-07-02.csv"
    save_watermark(lake, "state/w.json", mark)
    assert load_watermark(lake, "state/w.json") == mark


class _Failing:
    """A filesystem whose every call raises ``error`` (and looks local)."""

    protocol = ("file",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def _strip_protocol(self, path: str) -> str:
        return path

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionResetError("reset by peer"), "transient"),
        (TimeoutError("read timed out"), "transient"),
        (PermissionError("AccessDenied"), "permanent"),
        (FileNotFoundError("nope"), "missing"),
    ],
)
def test_backend_failures_are_classified(error: BaseException, kind: str) -> None:
    lake = Lake("/nowhere", filesystem=_Failing(error))  # type: ignore[arg-type]
    if kind == "missing":
        with pytest.raises(FileNotFoundError):
            lake.read_bytes("a.csv")
        return
    with pytest.raises(StorageError, match=r"read /nowhere/a\.csv") as raised:
        lake.read_bytes("a.csv")
    assert is_transient(raised.value) is (kind == "transient")


def test_sha256_of_bytes() -> None:
    # the well-known digest of the empty string
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "root"))
    lake.write_text("../../outside.txt", "x")
    assert (tmp_path / "root" / "outside.txt").read_text() == "x"
    assert not (tmp_path / "outside.txt").exists()


def test_watermark_json_is_readable() -> None:
    mark = Watermark((Processed("a", "s", "duplicate", "same bytes as b"),))
    assert mark.to_json() == {
        "high_water": "a",
        "objects": [{"key": "a", "sha256": "s", "outcome": "duplicate", "note": "same bytes as b"}],
    }
