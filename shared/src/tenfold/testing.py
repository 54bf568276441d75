"""Helpers for the projects' tests (imported by tests only, never by library code)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def local_http_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A file server on 127.0.0.1 (a free port) for download tests.

    Yields the base URL and a mutable ``{path: bytes}`` of what it serves: add
    ``routes["/data.csv"] = payload`` and fetch ``f"{base}/data.csv"``; any other path is
    a 404. The server stops when the block ends.
    """
    routes: dict[str, bytes] = {}

    class Files(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


# whitespace and the box-drawing characters of rich's error panels: where a narrow
# terminal breaks a line, these are all that gets inserted
_WRAPPING = re.compile(r"[\s\u2500-\u257f]+")


def unwrapped(text: str) -> str:
    """``text`` with every whitespace run and box-drawing character removed, so a phrase
    can be found however rich wrapped it (terminal width, temp-path length, TTY or not)."""
    return _WRAPPING.sub("", text)


def output_has(result: Any, phrase: str) -> bool:
    """Whether a CLI result's output holds ``phrase``, independent of line wrapping."""
    return unwrapped(phrase) in unwrapped(str(result.output))


def check_reason_codes(codes: Sequence[Mapping[str, Any]], *, k: int, outcome: str) -> None:
    """Assert what every API's reason codes promise (see :func:`tenfold.serving.reason_codes`):
    ``k`` of them, the largest |contribution| first, a direction matching the sign, and a
    sentence ending in ``outcome``."""
    assert len(codes) == k, f"expected {k} reason codes, got {len(codes)}"
    magnitudes = [abs(c["contribution"]) for c in codes]
    assert magnitudes == sorted(magnitudes, reverse=True), f"not by magnitude: {magnitudes}"
    for code in codes:
        sign = "increases" if code["contribution"] > 0 else "decreases"
        assert code["direction"] == sign, f"direction does not match the sign: {code}"
        assert str(code["readable"]).endswith(outcome), f"unexpected wording: {code['readable']}"


def run_metrics(app: Any, reports: Path, *args: str) -> bytes:
    """``<project> run --reports-dir reports *args`` in-process (Typer's runner); the bytes
    of the one ``metrics.json`` it wrote, wherever below ``reports`` the run put it."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["run", "--reports-dir", str(reports), *args])
    assert result.exit_code == 0, result.output
    found = list(reports.rglob("metrics.json"))
    assert len(found) == 1, f"expected one metrics.json below {reports}, found {found}"
    return found[0].read_bytes()


def assert_reproduces(produced: bytes, committed: Path, *, remake: str) -> None:
    """The reproducibility check every project runs: a re-trained ``metrics.json`` must
    be byte-identical to the committed one. On failure the message shows the lines that
    changed and how to publish new results on purpose (``remake``)."""
    import difflib

    expected = committed.read_bytes()
    if produced == expected:
        return
    changed = "\n".join(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            produced.decode("utf-8", "replace").splitlines(),
            "committed",
            "re-trained",
            lineterm="",
            n=1,
        )
    )
    raise AssertionError(
        f"re-training with the default config no longer gives the committed {committed}; "
        f"if the change is intended, run `{remake}` and commit the new results.\n"
        f"{changed[:6000]}"
    )


@contextmanager
def redis_server(binary: str | None = None) -> Iterator[str]:
    """Debian's ``redis-server`` on 127.0.0.1 (a free port, no persistence) in a
    temporary folder; yields its URL and stops it by its PID when the block ends.
    Raises FileNotFoundError when redis-server is not installed."""
    import os
    import shutil
    import signal
    import subprocess
    import tempfile
    import time

    import redis

    from tenfold.benchmark import free_port

    binary = binary or shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server not installed (apt-get install -y redis-server)")
    with tempfile.TemporaryDirectory(prefix="tenfold-redis-") as tmp:
        folder = Path(tmp)
        port = free_port()
        pidfile = folder / "redis.pid"
        subprocess.run(
            [
                binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(pidfile),
                "--dir", str(folder), "--logfile", str(folder / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        try:
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield url
        finally:
            client.close()
            if pidfile.is_file():
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
