"""Latency of a running HTTP service over loopback, for the projects' benchmark scripts.

A benchmark starts its servers as processes (the real ``serve`` command), waits for
``/ready`` and drives them with :func:`load_test`: ``concurrency`` client threads, each
with its own keep-alive connection, sending ``requests`` POSTs in total. Latency is per
request as the client sees it (HTTP round trip included); throughput is requests over
the wall-clock time of the whole run.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    port: int,
    *,
    path: str = "/ready",
    timeout: float = 120.0,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Block until ``GET path`` answers 200; fail early if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with code {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not become ready in {timeout:.0f} s")


@dataclass(frozen=True)
class LoadResult:
    """One load level: latency percentiles (ms) and throughput."""

    concurrency: int
    requests: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    requests_per_s: float


def summarise(latencies: Sequence[float], wall_seconds: float, concurrency: int) -> LoadResult:
    """Percentiles of per-request latencies (seconds) and requests per wall-clock second."""
    values = np.asarray(latencies, dtype=float) * 1000
    return LoadResult(
        concurrency=concurrency,
        requests=len(values),
        p50_ms=float(np.percentile(values, 50)),
        p99_ms=float(np.percentile(values, 99)),
        mean_ms=float(values.mean()),
        requests_per_s=len(values) / wall_seconds,
    )


def load_test(
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    requests: int,
    warmup: int = 0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST ``bodies`` (cycled) to ``path`` from ``concurrency`` threads; any status but
    200 stops the run with the server's answer."""
    if not bodies:
        raise ValueError("load_test needs at least one request body")
    sent = {"Content-Type": "application/json", **(headers or {})}
    return _drive(
        port,
        [("POST", path, body) for body in bodies],
        concurrency=concurrency,
        requests=requests,
        warmup=warmup,
        headers=sent,
    )


def load_test_get(
    port: int,
    paths: Sequence[str],
    *,
    concurrency: int,
    requests: int,
    warmup: int = 0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """GET ``paths`` (cycled; e.g. one user's recommendations each) like :func:`load_test`."""
    if not paths:
        raise ValueError("load_test_get needs at least one path")
    return _drive(
        port,
        [("GET", p, None) for p in paths],
        concurrency=concurrency,
        requests=requests,
        warmup=warmup,
        headers=dict(headers or {}),
    )


def _drive(
    port: int,
    calls: Sequence[tuple[str, str, bytes | None]],
    *,
    concurrency: int,
    requests: int,
    warmup: int,
    headers: dict[str, str],
) -> LoadResult:
    """``calls`` (method, path, body), cycled, from ``concurrency`` keep-alive clients."""
    sent = headers
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def post(conn: http.client.HTTPConnection, call: tuple[str, str, bytes | None]) -> float:
        method, path, body = call
        start = time.perf_counter()
        try:
            conn.request(method, path, body, sent)
            response = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed an idle keep-alive connection (uvicorn: after 5 s, e.g.
            # while other clients warm up); reconnect once, as HTTP clients do
            conn.close()
            conn.request(method, path, body, sent)
            response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
        return time.perf_counter() - start

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for k in range(warmup):
                post(conn, calls[(offset + k) % len(calls)])
            barrier.wait()
            while not errors:
                with lock:
                    i = next(counter)
                if i >= requests:
                    return
                elapsed = post(conn, calls[i % len(calls)])
                with lock:
                    latencies.append(elapsed)
        except Exception as exc:  # reported by the caller's thread
            errors.append(str(exc))
            barrier.abort()
        finally:
            conn.close()

    # every client is warmed up and connected before the clock starts
    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    # a client that failed while warming up broke the barrier: its error is raised below
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"load test on port {port}{calls[0][1]} failed: {errors[0]}")
    return summarise(latencies, wall, concurrency)
