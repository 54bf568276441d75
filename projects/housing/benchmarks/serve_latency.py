"""Latency of the housing API over loopback: the compiled path vs the scikit-learn Pipeline.

Both servers are the same ``tenfold.serving`` app under uvicorn serving the registered
champion with the same request and response (price and 90 % CV+ interval); only the
predictor's path differs:

- compiled: ``housing.compiled`` (the features step once, in numpy; each member's
  preprocessing and the random forest in numpy; MAPIE's interval arithmetic);
- pipeline: ``ConformalRegressor.predict_interval`` on a one-row DataFrame, i.e. six
  stacks of scikit-learn Pipelines (what the API did before).

Each server runs in its own process; this process is the client
(``tenfold.benchmark.load_test``: N threads, one keep-alive connection each, after a
warm-up). Requests are Kaggle's held-out test houses, sent as the API receives them.
Run after ``make housing``:

    uv run python projects/housing/benchmarks/serve_latency.py [--requests 1000] [--write]

``--write`` stores the results in reports/latency.json and the table in the README
(``python -m housing report`` renders it again from that file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PROJECT = HERE.parents[1]


def held_out_houses(limit: int) -> list[dict[str, Any]]:
    """Kaggle test houses (never trained on) as request bodies the API accepts."""
    import numpy as np

    from housing.config import HousingConfig
    from housing.data import read_scoring_file
    from housing.serve import HouseRequest
    from tenfold import paths

    cfg = HousingConfig()
    data_dir = paths.data_dir()
    if data_dir is None:
        raise SystemExit("set TENFOLD_DATA_DIR: the benchmark sends Kaggle's test houses")
    frame = read_scoring_file(data_dir / cfg.dataset / "test.csv", cfg)
    bodies = []
    for record in frame.drop(columns=["Id"]).to_dict("records"):
        house = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        house = {k: v for k, v in house.items() if not (isinstance(v, float) and np.isnan(v))}
        try:
            request = HouseRequest(**house)
        except ValueError:
            continue  # a value the API refuses (422): not a latency case
        if house["GrLivArea"] <= 4000:
            bodies.append(request.model_dump(by_alias=True, exclude_none=True))
        if len(bodies) == limit:
            break
    return bodies


def serve(kind: str, port: int, model_uri: str) -> None:
    import uvicorn

    from housing import serve as housing_serve
    from tenfold.serving import ServiceSettings, create_app

    predictor = housing_serve.load(model_uri)
    if kind == "pipeline":
        predictor.compiled = None
    elif predictor.compiled is None:
        raise SystemExit(f"{model_uri} has a step without a numpy twin: nothing compiled")
    app = create_app(housing_serve.SPEC, ServiceSettings(), predictor=predictor)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def measure(kind: str, bodies: list[bytes], args: argparse.Namespace) -> list[dict[str, Any]]:
    from tenfold.benchmark import free_port, load_test, wait_ready

    port = free_port()
    command = [sys.executable, str(HERE), "--serve", kind, "--port", str(port)]
    server = subprocess.Popen([*command, "--model-uri", args.model_uri])
    rows = []
    try:
        wait_ready(port, process=server)
        # the slow path gets fewer requests: the same few minutes of measurement
        n = args.requests if kind == "compiled" else max(20, args.requests // 25)
        for concurrency in args.concurrency:
            result = load_test(
                port, "/v1/predict", bodies, concurrency=concurrency, requests=n, warmup=3
            )
            rows.append(
                {
                    "concurrency": concurrency,
                    "requests": result.requests,
                    "p50_ms": result.p50_ms,
                    "p99_ms": result.p99_ms,
                    "mean_ms": result.mean_ms,
                    "requests_per_s": result.requests_per_s,
                }
            )
            print(
                f"{kind:>9} c={concurrency:<2} p50 {result.p50_ms:8.1f} ms  p99 "
                f"{result.p99_ms:8.1f} ms  {result.requests_per_s:7.1f} req/s",
                flush=True,
            )
        rows[0]["answers"] = answers(port, bodies[:20])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def answers(port: int, bodies: list[bytes]) -> list[Any]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for body in bodies:
        conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        out.append([reply["predicted_price"], reply["interval"]])
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per row (compiled path)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--model-uri", default="models:/housing@champion")
    parser.add_argument("--write", action="store_true", help="update reports/ and the README")
    parser.add_argument("--serve", choices=["compiled", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.model_uri)
        return

    houses = held_out_houses(limit=200)
    bodies = [json.dumps(house).encode() for house in houses]
    paths = {kind: measure(kind, bodies, args) for kind in ("compiled", "pipeline")}
    same = paths["compiled"][0].pop("answers") == paths["pipeline"][0].pop("answers")
    print(f"\nthe two paths give the same prices and intervals on 20 houses: {same}")
    if not same:
        raise SystemExit(1)
    results = {
        "paths": paths,
        "setup": {
            "houses": len(bodies),
            "warmup": 3,
            "cpus": os.cpu_count(),
            "platform": f"{platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}",
            "load_average": round(os.getloadavg()[0], 1),
        },
    }
    from housing.evaluate import latency_table

    print()
    print(latency_table(results))
    if args.write:
        from tenfold.reports import update_readme
        from tenfold.repro import read_metrics, write_metrics

        path = write_metrics(PROJECT / "reports" / "latency.json", results, decimals=2)
        # rendered from the file, as `python -m housing report` does, so the two agree
        update_readme(PROJECT / "README.md", {"latency": latency_table(read_metrics(path))})


if __name__ == "__main__":
    main()
