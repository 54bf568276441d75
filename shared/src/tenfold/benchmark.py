"""Latency of a running HTTP service over loopback, for the projects' benchmark scripts.

A benchmark starts its servers as processes (the real ``serve`` command), waits for
``/ready`` and drives them with :func:`load_test`: ``concurrency`` client threads, each
with its own keep-alive connection, sending ``requests`` POSTs in total. Latency is per
request as the client sees it (HTTP round trip included); throughput is requests over
the wall-clock time of the whole run.

A batch benchmark runs each measurement in a child process (:func:`run_batch_child`),
so that the peak memory it reports is that of one run, and prints :func:`batch_table`.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    path: str | Sequence[str],
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    requests: int,
    warmup: int = 0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST ``bodies`` (cycled) to ``path`` from ``concurrency`` threads; any status but
    200 stops the run with the server's answer. ``path`` may be a sequence, cycled with
    the bodies (request ``i`` goes to ``path[i % len(path)]``: e.g. one per stream)."""
    if not bodies:
        raise ValueError("load_test needs at least one request body")
    paths = [path] if isinstance(path, str) else list(path)
    if not paths:
        raise ValueError("load_test needs at least one path")
    sent = {"Content-Type": "application/json", **(headers or {})}
    # request i goes to paths[i % len(paths)] with bodies[i % len(bodies)]
    cycle = math.lcm(len(paths), len(bodies))
    calls = [("POST", paths[k % len(paths)], bodies[k % len(bodies)]) for k in range(cycle)]
    return _drive(
        port,
        calls,
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


# --------------------------------------------------------------------------- batch files


@dataclass(frozen=True)
class BatchRun:
    """One batch-scoring measurement, made in a child process of its own."""

    rows: int
    seconds: float
    # the child's maximum resident set (whole process), and its RSS once the model was
    # loaded, before the file was read: the difference is what scoring the file took
    peak_rss_mb: float
    model_rss_mb: float

    @property
    def rows_per_minute(self) -> float:
        return self.rows / self.seconds * 60


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): unlike wall-clock latency
    or throughput, what a request costs in CPU barely depends on how loaded the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes_named(name: str) -> list[int]:
    """Pids of the running processes whose command name is ``name`` (``postgres``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if stat[stat.index("(") + 1 : stat.rindex(")")] == name:
                    found.append(int(entry.name))
    return found


def machine_note(load_average: float, *, quiet_below: float = 2.0) -> str:
    """How loaded the machine was, for a benchmark's note: the figures of a run beside
    other work are noisy, and the note should say so only when it was."""
    if load_average < quiet_below:
        return f"otherwise quiet (load average {load_average:.1f} during the run)."
    return (
        f"shared with other work (load average {load_average:.1f} during the run): "
        "noisy figures, to re-measure on a quiet machine."
    )


def rss_mb() -> float:
    """This process's resident set now (MB; Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set (MB; Linux /proc ``VmHWM``). Not ``getrusage``:
    its maximum survives ``exec``, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def report_batch_run(rows: int, seconds: float, model_rss_mb: float) -> None:
    """What the child prints at the end: one JSON line :func:`run_batch_child` reads."""
    peak = peak_rss_mb()
    print(
        json.dumps(
            {"rows": rows, "seconds": seconds, "peak_rss_mb": peak, "model_rss_mb": model_rss_mb}
        )
    )


def run_batch_child(argv: Sequence[str], *, timeout: float = 3600) -> BatchRun:
    """Run ``argv`` (a Python child that ends with :func:`report_batch_run`)."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return BatchRun(**json.loads(done.stdout.strip().splitlines()[-1]))


def batch_table(runs: Mapping[str, BatchRun], baseline: BatchRun, *, against: str) -> str:
    """A markdown table of rows/min and peak memory per input size, and the speed-up of
    ``runs[against]`` over ``baseline`` (the old path on the same rows)."""
    lines = [
        "| rows | rows/min | seconds | peak RSS (MB) | RSS with model loaded (MB) |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run.rows_per_minute:,.0f} | {run.seconds:.1f} | "
            f"{run.peak_rss_mb:,.0f} | {run.model_rss_mb:,.0f} |"
        )
    lines.append(
        f"| {against}, old row loop | {baseline.rows_per_minute:,.0f} | {baseline.seconds:.1f} | "
        f"{baseline.peak_rss_mb:,.0f} | {baseline.model_rss_mb:,.0f} |"
    )
    ratio = baseline.seconds / runs[against].seconds
    lines.append(f"| **{against}: new / old** | **{ratio:.0f}× faster** | | | |")
    return "\n".join(lines)


def batch_main(
    description: str,
    *,
    script: str,
    make_input: Callable[[Path, int], None],
    load: Callable[[str], Any],
    new: Callable[[Any, Path, Path], int],
    old: Callable[[Any, Path, Path], int],
    default_model_uri: str,
    argv: Sequence[str] | None = None,
) -> None:
    """The batch benchmark every project runs. ``make_input(path, n)`` writes ``n`` rows
    to score; ``new`` / ``old`` (predictor, input, output) → rows score a file the new
    way and the old one. Each measurement runs in its own child process (this same
    script with ``--child``): the model is loaded first (not timed), then the file is
    read, scored and written (timed). The old path runs on the ``--baseline`` size, and
    its output must be byte-identical to the new one."""
    import argparse
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline", type=int, default=10_000, help="rows for the old path")
    parser.add_argument("--model-uri", default=default_model_uri)
    parser.add_argument(
        "--write", action="store_true", help="store the table in reports/ and the README"
    )
    parser.add_argument("--child", choices=["new", "old"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        predictor = load(args.model_uri)
        model_rss = rss_mb()
        started = time.perf_counter()
        rows = (new if args.child == "new" else old)(predictor, args.input, args.output)
        report_batch_run(rows, time.perf_counter() - started, model_rss)
        return

    sizes = sorted({*args.sizes, args.baseline})
    with tempfile.TemporaryDirectory(prefix="batch-benchmark-") as tmp:
        folder = Path(tmp)

        def child(kind: str, n: int) -> BatchRun:
            command = [sys.executable, script, "--child", kind, "--model-uri", args.model_uri]
            paths = [
                "--input",
                str(folder / f"in-{n}.csv"),
                "--output",
                str(folder / f"{kind}-{n}.csv"),
            ]
            run = run_batch_child([*command, *paths])
            print(
                f"{kind:>3} {n:>9,} rows: {run.seconds:7.1f} s  "
                f"{run.rows_per_minute:>12,.0f} rows/min  peak {run.peak_rss_mb:,.0f} MB",
                flush=True,
            )
            return run

        for n in sizes:
            make_input(folder / f"in-{n}.csv", n)
        runs = {f"{n:,}": child("new", n) for n in sizes if n in args.sizes}
        baseline = child("old", args.baseline)
        if args.baseline not in args.sizes:
            runs[f"{args.baseline:,}"] = child("new", args.baseline)
        same = (folder / f"new-{args.baseline}.csv").read_bytes() == (
            folder / f"old-{args.baseline}.csv"
        ).read_bytes()
    note = (
        "Each size in a child process of its own, after the model is loaded: read in "
        "chunks, scored with the top-3 reasons, written. The output of both paths on "
        f"{args.baseline:,} rows is byte-identical: {same}. {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.1f} when finished."
    )
    text = f"{batch_table(runs, baseline, against=f'{args.baseline:,}')}\n\n{note}"
    print()
    print(text)
    if not same:
        raise SystemExit(1)
    if args.write:
        from tenfold.reports import update_readme

        project = Path(script).resolve().parents[1]
        (project / "reports" / "batch_scoring.md").write_text(text + "\n", encoding="utf-8")
        update_readme(project / "README.md", {"batch": text})
