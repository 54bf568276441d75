"""Latency over loopback: recommendations precomputed in Redis vs computed per request.

Both servers run ``python -m recsys serve`` (uvicorn, uvloop, httptools, one worker) on
the registered champion with the same route and response:

- redis: the precomputed top-100 from a real redis-server (one Lua-script round trip);
- compute: the same list computed at request time (the champion scores every item for
  the user, seen items removed, top-k), in a worker thread.

The client (this process) cycles over every user at 1 and 8 concurrent keep-alive
connections after a warm-up. Run after ``make recsys``:

    uv run python projects/recsys/benchmarks/serve_latency.py [--requests 3000] [--write]

``--write`` stores reports/latency.json, which the README renders.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PROJECT = HERE.parents[1]


def redis_pid(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    pid = int(client.info("server")["process_id"])
    client.close()
    return pid


def start(port: int, env: dict[str, str], model_uri: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "recsys", "serve", "--port", str(port)]
    if model_uri:
        command += ["--model-uri", model_uri]
    return subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL)


def main() -> None:
    from tenfold.benchmark import cpu_seconds, free_port, load_test_get, machine_note, wait_ready
    from tenfold.testing import redis_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from recsys.serve import DEFAULT_MODEL_URI, load_serving_model

    model, card = load_serving_model(args.model_uri or DEFAULT_MODEL_URI)
    users = [str(u) for u in model.snapshot.users]
    paths = [f"/v1/users/{u}/recommendations?k=10" for u in users]
    rows: list[dict[str, Any]] = []
    with redis_server() as url:
        servers = {
            "redis (precomputed)": {"RECSYS_REDIS_URL": url, "RECSYS_STORE": "redis"},
            "compute at request time": {"RECSYS_MODE": "compute", "RECSYS_STORE": "memory"},
        }
        for name, env in servers.items():
            port = free_port()
            process = start(port, env, args.model_uri)
            try:
                wait_ready(port, process=process, timeout=300)
                pids = [process.pid] + ([redis_pid(url)] if "RECSYS_REDIS_URL" in env else [])
                for concurrency in (1, 8):
                    before = sum(cpu_seconds(pid) for pid in pids)
                    result = load_test_get(
                        port, paths, concurrency=concurrency, requests=args.requests, warmup=50
                    )
                    # warm-up requests are included in the CPU count: a small overestimate
                    spent = sum(cpu_seconds(pid) for pid in pids) - before
                    cpu_ms = 1000 * spent / (args.requests + 50 * concurrency)
                    rows.append({"path": name, **result.__dict__, "server_cpu_ms": cpu_ms})
                    print(
                        f"{name:26s} c={concurrency}: p50 {result.p50_ms:.3f} ms, "
                        f"p99 {result.p99_ms:.3f} ms, {result.requests_per_s:.0f} req/s, "
                        f"server CPU {cpu_ms:.3f} ms/request"
                    )
            finally:
                process.terminate()
                process.wait(timeout=30)
    load = os.getloadavg()
    base = {r["concurrency"]: r for r in rows if r["path"].startswith("redis")}
    for r in rows:
        if r["path"].startswith("compute"):
            print(
                f"compute / redis at c={r['concurrency']}: p50 "
                f"{r['p50_ms'] / base[r['concurrency']]['p50_ms']:.1f}x, p99 "
                f"{r['p99_ms'] / base[r['concurrency']]['p99_ms']:.1f}x"
            )
    note = (
        f"{args.requests} GET requests per level, cycling over {len(users)} users, after a "
        f"warm-up; system {card.details.get('system')} ({card.name} v{card.version}); "
        "server CPU = API process (+ redis-server) CPU time per request, the figure least "
        "affected by other load; uvicorn (uvloop, httptools), one worker; client in another "
        "process on the same 2-core machine, " + machine_note(load[0])
    )
    print(note)
    if args.write:
        path = PROJECT / "reports" / "latency.json"
        path.write_text(json.dumps({"rows": rows, "note": note}, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
