"""Load benchmark of the API with the prediction log on PostgreSQL vs logging off, in the
same run: ``wrk`` (Debian's) posts one application per request for ``--seconds`` with
``--connections`` connections over loopback; throughput, p50/p99 and errors per mode,
and after the logged run the table must hold one row per 2xx response.

    TENFOLD_DATA_DIR=../shared/datasets uv run python projects/mlops/benchmarks/load.py --write

Needs a champion (``make mlops``) and ``apt-get install wrk postgresql``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops.config import PROJECT_DIR
from mlops.demo import api_process
from mlops.predictions import count_rows, create_engine, database, migrate
from mlops.serve import EXAMPLE
from tenfold.benchmark import cpu_seconds, free_port, processes_named
from tenfold.repro import write_metrics
from tenfold.testing import postgres

LUA = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a backend that ended since
            total += cpu_seconds(pid)
    return total


def wrk(port: int, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/v1/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert found, out
        value, unit = float(found[1]), found[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": (int(errors[1]) if errors else 0)
        + (sum(int(g) for g in socket.groups()) if socket else 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="write reports/load.json and .md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch, postgres(fsync=True) as pg:
        migrate(pg.url)
        script = Path(scratch) / "post.lua"
        script.write_text(LUA.format(body=json.dumps(EXAMPLE)), encoding="utf-8")
        for mode, logging in (("logging off", "false"), ("logging on (PostgreSQL)", "true")):
            port = free_port()
            env = {
                "MLOPS_DATABASE_URL": pg.url,
                "MLOPS_PREDICTION_LOGGING": logging,
                "MLOPS_SPOOL_DIR": f"{scratch}/spool",
                "TENFOLD_RELOAD_SECONDS": "0",
                "TENFOLD_PREDICTION_THREADS": "2",
            }
            with api_process(port, env, Path(scratch) / "api.log") as api:
                wrk(port, 3, args.connections, script)  # warm-up, not counted
                engine = create_engine(database(pg.url))
                before = count_rows(engine)
                # CPU per request of the API and of PostgreSQL: the machine's speed moves
                # throughput by up to 2-3x between minutes, CPU per request barely
                servers = processes_named("postgres")
                cpu_before = cpu_seconds(api.pid), _cpu_of(servers)
                results[mode] = wrk(port, args.seconds, args.connections, script)
                served = results[mode]["requests"]
                results[mode]["api_cpu_ms"] = 1000 * (cpu_seconds(api.pid) - cpu_before[0]) / served
                results[mode]["postgres_cpu_ms"] = (
                    1000 * (_cpu_of(servers) - cpu_before[1]) / served
                )
                time.sleep(3)
                if logging == "true":
                    results[mode]["rows_logged"] = count_rows(engine) - before
                engine.dispose()
            print(mode, results[mode], flush=True)
    on, off = results["logging on (PostgreSQL)"], results["logging off"]
    document = {
        "seconds": args.seconds,
        "connections": args.connections,
        "modes": results,
        "overhead": {
            "p50_ms": on["p50_ms"] - off["p50_ms"],
            "p99_ms": on["p99_ms"] - off["p99_ms"],
            "throughput_ratio": on["requests_per_s"] / off["requests_per_s"],
            "api_cpu_ratio": on["api_cpu_ms"] / off["api_cpu_ms"],
        },
    }
    print(json.dumps(document["overhead"]))
    if args.write:
        write_metrics(PROJECT_DIR / "reports" / "load.json", document, decimals=2)
        rows = "\n".join(
            f"| {m} | {r['requests']:.0f} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['errors']:.0f} |"
            for m, r in results.items()
        )
        (PROJECT_DIR / "reports" / "load.md").write_text(
            "| Mode | Requests | Requests/s | p50 ms | p99 ms | Errors |\n"
            "|---|---|---|---|---|---|\n" + rows + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
