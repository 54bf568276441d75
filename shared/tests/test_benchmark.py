"""tenfold.benchmark against a tiny local HTTP server with a known delay."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tenfold.benchmark import free_port, load_test, summarise, wait_ready


@contextmanager
def echo_server(delay: float, seen: list[str] | None = None) -> Iterator[int]:
    """POST answers 200 after ``delay`` seconds, or 400 for the body b"bad"; the paths
    posted to go to ``seen``."""
    paths: list[str] = [] if seen is None else seen

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            time.sleep(delay)
            self.send_response(400 if body == b"bad" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def test_summarise_percentiles_and_throughput() -> None:
    result = summarise([0.001 * k for k in range(1, 101)], wall_seconds=2.0, concurrency=3)
    assert result.requests == 100
    assert result.p50_ms == pytest.approx(50.5)
    assert result.p99_ms == pytest.approx(99.01)
    assert result.requests_per_s == 50
    assert result.concurrency == 3


def test_load_test_measures_a_known_delay() -> None:
    # a delay long against the machine's own overhead (CI shares two cores)
    with echo_server(delay=0.05) as port:
        wait_ready(port, path="/", timeout=10)
        result = load_test(port, "/", [b"{}"], concurrency=4, requests=40, warmup=1)
    assert result.requests == 40
    assert 50 <= result.p50_ms < 300
    # four clients in parallel on a threaded server: well above one client's 20 req/s
    assert result.requests_per_s > 35


def test_load_test_cycles_paths_with_the_bodies() -> None:
    seen: list[str] = []
    with echo_server(delay=0, seen=seen) as port:
        paths = [f"/v1/streams/s{k}/points" for k in range(3)]
        load_test(port, paths, [b"{}"], concurrency=1, requests=6)
    assert seen == paths * 2


def test_load_test_stops_on_an_error_status() -> None:
    with echo_server(delay=0) as port, pytest.raises(RuntimeError, match="HTTP 400"):
        load_test(port, "/", [b"bad"], concurrency=2, requests=10)


def test_wait_ready_gives_up() -> None:
    with pytest.raises(RuntimeError, match="did not become ready"):
        wait_ready(free_port(), timeout=0.5)


def test_load_test_get_cycles_the_paths() -> None:
    from tenfold.benchmark import load_test_get

    with echo_server(delay=0) as port:
        result = load_test_get(port, ["/a", "/b"], concurrency=2, requests=12)
    assert result.requests == 12
    assert result.concurrency == 2
    with pytest.raises(ValueError, match="at least one path"):
        load_test_get(port, [], concurrency=1, requests=1)


def test_a_batch_child_reports_its_own_peak_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The child's peak is its own: this process holds 300 MB it does not (getrusage's
    maximum would carry this parent's peak across fork and exec)."""
    import sys

    from tenfold.benchmark import BatchRun, batch_table, run_batch_child

    ballast = b"\x01" * (300 * 2**20)  # noqa: F841 - resident while the child runs
    script = tmp_path / "child.py"
    script.write_text(
        "from tenfold.benchmark import report_batch_run, rss_mb\n"
        "held = b'\\x01' * (50 * 2**20)\n"
        "report_batch_run(1000, 0.5, rss_mb())\n"
    )
    run = run_batch_child([sys.executable, str(script)])
    assert run.rows == 1000
    assert run.rows_per_minute == 120_000
    assert 50 < run.peak_rss_mb < 250, run
    old = BatchRun(rows=1000, seconds=5.0, peak_rss_mb=100.0, model_rss_mb=90.0)
    table = batch_table({"1,000": run}, old, against="1,000")
    assert "| **1,000: new / old** | **10× faster** |" in table


def test_the_machine_note_says_noisy_only_when_the_machine_was_busy() -> None:
    from tenfold.benchmark import machine_note

    assert machine_note(1.2) == "otherwise quiet (load average 1.2 during the run)."
    busy = machine_note(11.8)
    assert busy.startswith("shared with other work (load average 11.8 during the run)")
    assert "noisy" in busy
    assert "noisy" not in machine_note(1.99)
