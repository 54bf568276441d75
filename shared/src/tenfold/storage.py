"""Object storage for pipelines: one code path for a local folder and a bucket.

A :class:`Lake` is a root URL and the fsspec filesystem behind it: a folder
(``data/lake``, the embedded default) or ``s3://bucket/prefix`` in production (s3fs;
credentials, region and an ``AWS_ENDPOINT_URL_S3`` for an S3-compatible server come
from the environment as for any AWS client). Every method takes a key relative to the
root (``incoming/fraud/2018-07-01.csv``), so the code that uses it never knows which
one it has.

Two things every pipeline reading a bucket needs are here too:

- a :class:`Watermark`: which objects have been processed, with the sha256 of their
  bytes and what became of them, so a scheduled run picks up only what is new and the
  same bytes landing twice are recognised;
- :func:`quarantine`: a bad object moved out of the way, with the reasons beside it
  (``<key>.reason.json``), instead of being trained on.

Failures of the backend (a refused connection, a throttled request) raise
:class:`StorageError`, whose ``transient`` flag says whether trying again may help; a
missing key is a ``FileNotFoundError``. Retrying is the caller's choice (Prefect tasks
retry on :func:`is_transient`).

Needs the ``lake`` extra (``fsspec``, ``s3fs``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

T = TypeVar("T")
Outcome = Literal["accepted", "quarantined", "duplicate"]


class StorageError(OSError):
    """A storage operation failed: which operation, on which URL, and why.

    ``transient`` is False for what trying again cannot fix (access denied, a bad
    bucket name); a missing key is a plain ``FileNotFoundError`` instead.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a storage failure worth retrying."""
    return isinstance(exc, StorageError) and exc.transient


@dataclass(frozen=True, order=True)
class StoredObject:
    """An object under a lake's root: its key (relative, ``/``-separated) and size."""

    key: str
    size: int

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)

    @property
    def stem(self) -> str:
        return self.name.split(".", 1)[0]


class Lake:
    """A folder or bucket prefix, read and written by key.

    ``Lake("data/lake")`` and ``Lake("s3://my-bucket/tenfold")`` behave the same;
    ``storage_options`` go to fsspec (``client_kwargs={"endpoint_url": ...}`` for an
    S3-compatible server), and ``filesystem`` replaces the one fsspec would choose (a
    test's failing filesystem, for example).
    """

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        filesystem: AbstractFileSystem | None = None,
    ) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        self.url = url.rstrip("/")
        if filesystem is None:
            filesystem, root = url_to_fs(self.url, **dict(storage_options or {}))
        else:
            root = filesystem._strip_protocol(self.url)
        self.fs: AbstractFileSystem = filesystem
        self.root: str = str(root).rstrip("/")
        # a folder needs its parents made and a rename for atomic writes; a bucket not
        self.local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def uri(self, key: str) -> str:
        """The full URL of ``key`` (what a user would open: a path or ``s3://...``)."""
        return f"{self.url}/{_clean(key)}"

    def _path(self, key: str) -> str:
        return f"{self.root}/{_clean(key)}"

    def _call(self, operation: str, key: str, action: Callable[[], T]) -> T:
        """Run a backend call, turning its failures into one clear error."""
        try:
            return action()
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.uri(key)}: no such object") from None
        except PermissionError as exc:
            raise StorageError(
                f"{operation} {self.uri(key)}: access denied ({exc})", transient=False
            ) from exc
        except StorageError:
            raise
        except Exception as exc:  # any backend failure (network, throttling, a 5xx)
            raise StorageError(f"{operation} {self.uri(key)}: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ reading

    def list(self, prefix: str = "") -> list[StoredObject]:
        """Every object below ``prefix`` (recursively), sorted by key. A prefix with no
        objects (or that does not exist yet) gives an empty list."""
        prefix = _clean(prefix)
        base = self._path(prefix) if prefix else self.root

        def find() -> dict[str, Any]:
            self.fs.invalidate_cache(base)  # another writer may have added objects
            if not self.fs.exists(base):
                return {}
            found: dict[str, Any] = self.fs.find(base, detail=True)
            return found

        found = self._call("list", prefix, find)
        root = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        objects = [
            StoredObject(
                self.fs._strip_protocol(path).removeprefix(root), int(info.get("size") or 0)
            )
            for path, info in found.items()
            if info.get("type", "file") == "file" and not path.endswith(TMP_SUFFIX)
        ]
        return sorted(objects)

    def exists(self, key: str) -> bool:
        return bool(self._call("check", key, lambda: self.fs.exists(self._path(key))))

    def read_bytes(self, key: str) -> bytes:
        return bytes(self._call("read", key, lambda: self.fs.cat_file(self._path(key))))

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    # ------------------------------------------------------------------ writing

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` and return its URL. In a folder the bytes go to a
        temporary name first and are renamed into place, so a reader never sees half an
        object (an S3 PUT is atomic already)."""
        path = self._path(key)

        def write() -> None:
            if not self.local:
                self.fs.pipe_file(path, data)
                return
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex}{TMP_SUFFIX}"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)

        self._call("write", key, write)
        return self.uri(key)

    def write_text(self, key: str, text: str) -> str:
        return self.write_bytes(key, text.encode("utf-8"))

    def write_json(self, key: str, value: Any) -> str:
        return self.write_text(key, json.dumps(value, indent=2, sort_keys=True) + "\n")

    def move(self, key: str, to: str) -> str:
        """Move an object to another key (copy, then delete the original)."""

        def move() -> None:
            if self.local:
                self.fs.makedirs(posixpath.dirname(self._path(to)), exist_ok=True)
            self.fs.cp_file(self._path(key), self._path(to))  # no glob expansion of keys
            self.fs.rm_file(self._path(key))

        self._call("move", key, move)
        return self.uri(to)

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.fs.rm_file(self._path(key)))


TMP_SUFFIX = ".partial"


def _clean(key: str) -> str:
    cleaned = posixpath.normpath("/" + key.replace("\\", "/")).lstrip("/")
    return "" if cleaned == "." else cleaned


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- watermark


@dataclass(frozen=True)
class Processed:
    """One object a pipeline has dealt with: its key, the sha256 of its bytes, what
    became of it and why (``duplicate of <key>``, a quarantine's reasons)."""

    key: str
    sha256: str
    outcome: Outcome
    note: str = ""


@dataclass(frozen=True)
class Watermark:
    """What a pipeline has processed so far under one prefix.

    ``pending`` is what a run should pick up: the objects not yet recorded, in key
    order (producers name objects so that keys sort by time, e.g. by date). Keys, not
    modification times: an object copied or restored keeps its key but not its
    timestamp, and a late object with an earlier key is still picked up. ``high_water``
    is the newest key processed.
    """

    objects: tuple[Processed, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(p.key for p in self.objects)

    @property
    def high_water(self) -> str | None:
        return max(self.keys, default=None)

    def pending(self, listing: Iterable[StoredObject]) -> list[StoredObject]:
        done = self.keys
        return sorted(o for o in listing if o.key not in done)

    def accepted(self) -> list[Processed]:
        return sorted((p for p in self.objects if p.outcome == "accepted"), key=lambda p: p.key)

    def same_bytes(self, sha256: str) -> Processed | None:
        """An object already accepted with exactly these bytes, if any."""
        return next((p for p in self.accepted() if p.sha256 == sha256), None)

    def record(self, *processed: Processed) -> Watermark:
        """This watermark with ``processed`` added (a key recorded again is replaced)."""
        replaced = {p.key for p in processed}
        kept = [p for p in self.objects if p.key not in replaced]
        return Watermark(tuple(sorted([*kept, *processed], key=lambda p: p.key)))

    def to_json(self) -> dict[str, Any]:
        return {
            "high_water": self.high_water,
            "objects": [dataclasses.asdict(p) for p in self.objects],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Watermark:
        return cls(tuple(Processed(**p) for p in document.get("objects", [])))


def load_watermark(lake: Lake, key: str) -> Watermark:
    """The watermark stored at ``key``; an empty one when there is none yet."""
    try:
        return Watermark.from_json(lake.read_json(key))
    except FileNotFoundError:
        return Watermark()


def save_watermark(lake: Lake, key: str, watermark: Watermark) -> str:
    return lake.write_json(key, watermark.to_json())


# --------------------------------------------------------------------------- quarantine


@dataclass(frozen=True)
class Quarantined:
    """Where a bad object went and why."""

    key: str
    moved_to: str
    reasons: tuple[str, ...]
    sha256: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reason_key(self) -> str:
        return self.moved_to + REASON_SUFFIX


REASON_SUFFIX = ".reason.json"


def quarantine(
    lake: Lake,
    key: str,
    reasons: Sequence[str],
    *,
    prefix: str = "quarantine",
    sha256: str = "",
    details: Mapping[str, Any] | None = None,
) -> Quarantined:
    """Move ``key`` to ``<prefix>/<key>`` and write ``<prefix>/<key>.reason.json`` (the
    original key, the reasons, the sha256 and ``details``). The reasons go first, so a
    failed move still leaves them for whoever looks."""
    moved_to = f"{_clean(prefix)}/{_clean(key)}"
    record = Quarantined(key, moved_to, tuple(reasons), sha256, dict(details or {}))
    lake.write_json(
        record.reason_key,
        {"key": key, "reasons": list(reasons), "sha256": sha256, "details": dict(details or {})},
    )
    if lake.exists(key) or not lake.exists(moved_to):  # moved already by an earlier try
        lake.move(key, moved_to)
    return record


def quarantined(lake: Lake, prefix: str = "quarantine") -> list[Quarantined]:
    """Every quarantined object below ``prefix``, with its reasons."""
    found = []
    for obj in lake.list(prefix):
        if obj.key.endswith(REASON_SUFFIX):
            reason = lake.read_json(obj.key)
            found.append(
                Quarantined(
                    reason["key"],
                    obj.key.removesuffix(REASON_SUFFIX),
                    tuple(reason["reasons"]),
                    reason.get("sha256", ""),
                    reason.get("details", {}),
                )
            )
    return found
