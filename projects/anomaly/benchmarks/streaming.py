"""Streaming throughput and latency over loopback for 100 streams.

    uv run --frozen --no-sync python projects/anomaly/benchmarks/streaming.py [--write]

Starts the real service (``python -m anomaly serve``, one uvicorn worker) on a free port,
warms 100 streams through their probationary period (so every detector is fitted and
scoring), then drives them with :func:`tenfold.benchmark.load_test`: requests cycle over
the 100 streams, one point per request (latency per point) and ten points per request
(throughput). Prints the figures; ``--write`` stores them in ``reports/streaming.json``,
which the README renders (``python -m anomaly report``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tenfold.benchmark import free_port, load_test, machine_note, wait_ready

PROJECT = Path(__file__).resolve().parents[1]
STREAMS = 100
PROBATION = 300


def stream_values(k: int, n: int, offset: int = 0) -> list[float]:
    t = np.arange(offset, offset + n)
    rng = np.random.default_rng(k * 1_000 + offset)
    values: list[float] = (
        (10 + np.sin(2 * np.pi * t / 48) + rng.normal(0, 0.2, n)).round(4).tolist()
    )
    return values


def post(port: int, path: str, body: dict[str, object]) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {payload[:200]!r}")
    conn.close()


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write reports/streaming.json")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    env = {**os.environ, "TENFOLD_STREAM_PROBATION": str(PROBATION), "TENFOLD_MAX_STREAMS": "1000"}
    server = subprocess.Popen(
        [sys.executable, "-m", "anomaly", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = []
    try:
        wait_ready(port, timeout=180, process=server)
        started = time.perf_counter()
        for k in range(STREAMS):  # probationary period + the fit of every detector
            post(port, f"/v1/streams/s{k}/points", {"values": stream_values(k, PROBATION + 1)})
        warm = time.perf_counter() - started
        print(f"warmed {STREAMS} streams ({PROBATION + 1} points each) in {warm:.1f} s")
        paths = [f"/v1/streams/s{k}/points" for k in range(STREAMS)]
        for points in (1, 10):
            bodies = [
                json.dumps({"values": stream_values(k, points, offset=PROBATION + 1 + j)}).encode()
                for j in range(0, 40, points)
                for k in range(STREAMS)
            ]
            requests = args.requests if points == 1 else args.requests // 4
            result = load_test(
                port,
                paths,
                bodies,
                concurrency=args.concurrency,
                requests=requests,
                warmup=2,
            )
            run = {
                "streams": STREAMS,
                "points_per_request": points,
                "concurrency": args.concurrency,
                "requests": result.requests,
                "points_per_s": result.requests_per_s * points,
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "p99_per_point_ms": result.p99_ms / points,
                "load_average": load_average(),
            }
            runs.append(run)
            print(
                f"{points:>2} point(s)/request: {run['points_per_s']:.0f} points/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms per request "
                f"(load average {run['load_average']:.1f})"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    document = {
        "runs": runs,
        "note": (
            f"{STREAMS} streams, each warmed through its {PROBATION}-point probationary period "
            "(all detectors fitted), then requests cycled over the streams from "
            f"{args.concurrency} keep-alive clients; one uvicorn worker, client and server "
            f"on the same 2-core machine, {machine_note(runs[0]['load_average'])}"
        ),
    }
    if args.write:
        path = PROJECT / "reports" / "streaming.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"→ {path}")


if __name__ == "__main__":
    main()
