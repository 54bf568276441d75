"""Helpers for the projects' tests (imported by tests only, never by library code)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class S3Server:
    """A moto S3 server on loopback: its endpoint and the environment an AWS client
    (boto3, s3fs) needs to use it, region eu-west-1 (with us-east-1 creating a bucket
    fails on the location constraint)."""

    endpoint: str
    region: str = "eu-west-1"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region}
        )


@contextmanager
def moto_s3(timeout: float = 60.0) -> Iterator[S3Server]:
    """``moto_server`` (from ``moto[server]``) on 127.0.0.1 and a free port for the
    block: started as a process, waited for, stopped by its process id."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tenfold.benchmark import free_port

    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "false"},
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.3)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
