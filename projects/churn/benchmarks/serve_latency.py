"""Latency of the churn API over loopback: the fast path vs the naive pattern.

Both servers are the same ``tenfold.serving`` app under uvicorn (uvloop + httptools),
serving the same registered champion with the same request and response (probability
and top-3 SHAP factors). Only the predictor differs:

- fast: compiled numpy preprocessing + compiled exact TreeSHAP (tenfold.treeshap);
- naive: request → one-row DataFrame → ``Pipeline.predict_proba`` → ``shap.TreeExplainer``
  on the transformed row (explainer built once at start-up, as anyone would).

Each server runs in its own process; this process is the client (one keep-alive
connection, sequential requests, after a warm-up), so the figures include the HTTP
round trip. Run after ``make churn``:

    uv run python projects/churn/benchmarks/serve_latency.py [--requests 3000] [--write]

``--write`` stores the table in reports/latency.md and the README.

``--baseline DIR`` instead compares the fast path served by this checkout with the one
served by another checkout of the repository (e.g. ``git worktree add /tmp/main main``):
the same model and request, the two servers measured in alternating rounds, so a
change to the serving code is judged against its baseline in the same sitting, with
the spread between rounds as the noise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
PROJECT = HERE.parents[1]


# --------------------------------------------------------------------------- servers


class NaivePredictor:
    """The pattern the fast path replaces: pandas and the shap package per request."""

    def __init__(self, fast: Any, pipeline: Any) -> None:
        import shap

        self.card = fast.card
        self.threshold = fast.threshold
        self.pipeline = pipeline
        self.explainer = shap.TreeExplainer(self.pipeline[-1])
        self.sources = fast.scorer.preprocessor.feature_sources

    def predict(self, items: Sequence[Any]) -> list[Any]:
        import pandas as pd

        from churn.serve import ChurnPrediction
        from tenfold.serving import ReasonCode

        out = []
        for item in items:
            frame = pd.DataFrame([item.model_dump()])
            probability = float(self.pipeline.predict_proba(frame)[0, 1])
            encoded = self.pipeline[:-1].transform(frame)
            values = np.asarray(self.explainer.shap_values(encoded))[0]
            grouped: dict[str, float] = {}
            for source, value in zip(self.sources, values, strict=True):
                grouped[source] = grouped.get(source, 0.0) + float(value)
            top = sorted(grouped.items(), key=lambda kv: abs(kv[1]), reverse=True)[:3]
            factors = [
                ReasonCode(
                    feature=k,
                    value=str(frame.iloc[0].get(k, "")),
                    direction="increases" if v > 0 else "decreases",
                    contribution=round(v, 4),
                    readable=k,
                )
                for k, v in top
            ]
            out.append(
                ChurnPrediction(
                    customerID=item.customerID,
                    churn_probability=round(probability, 4),
                    will_churn=probability >= self.threshold,
                    threshold=self.threshold,
                    top_factors=factors,
                    model_version=self.card.version,
                )
            )
        return out


def serve(kind: str, port: int, model_uri: str) -> None:
    import uvicorn

    from churn import serve as churn_serve
    from tenfold import tracking
    from tenfold.serving import create_app

    fast = churn_serve.load(model_uri)
    predictor: Any = fast
    if kind == "naive":
        predictor = NaivePredictor(fast, tracking.load_sklearn_model(model_uri).model)
    # the service's default settings (also how a --baseline checkout's code is called)
    app = create_app(churn_serve.SPEC, None, predictor=predictor)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --------------------------------------------------------------------------- client


def measure(port: int, body: bytes, n: int, warmup: int) -> dict[str, float]:
    """One keep-alive connection, sequential requests (tenfold.benchmark.load_test with
    one client), after checking that the answer carries the top-3 factors."""
    from tenfold.benchmark import load_test

    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
    factors = len(json.loads(conn.getresponse().read())["top_factors"])
    conn.close()
    if factors != 3:
        raise RuntimeError(f"expected 3 top factors, the server returned {factors}")
    result = load_test(port, "/v1/predict", [body], concurrency=1, requests=n, warmup=warmup)
    return {
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "mean_ms": result.mean_ms,
        "requests_per_s": result.requests_per_s,
    }


def run_server(
    kind: str, port: int, model_uri: str, source: Path | None = None
) -> subprocess.Popen[bytes]:
    """A server process; ``source``: serve with another checkout's code (its library and
    churn package first on the path)."""
    env = os.environ.copy()
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(source / "shared" / "src"), str(source / "projects" / "churn" / "src")]
        )
    return subprocess.Popen(
        [sys.executable, str(HERE), "--serve", kind, "--port", str(port), "--model-uri", model_uri],
        env=env,
    )


def compare(args: argparse.Namespace, body: bytes) -> None:
    """This checkout's fast path against ``--baseline``'s, in alternating rounds."""
    from tenfold.benchmark import free_port, wait_ready

    sources = {"baseline": Path(args.baseline).resolve(), "this": None}
    servers = {}
    try:
        for name, source in sources.items():
            port = free_port()
            servers[name] = (run_server("fast", port, args.model_uri, source), port)
            wait_ready(port, process=servers[name][0])
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
        for k in range(args.rounds):
            for name in sorted(sources, reverse=k % 2 == 1):
                result = measure(servers[name][1], body, args.requests, args.warmup)
                rounds[name].append(result)
                print(
                    f"round {k + 1} {name:>8}: p50 {result['p50_ms']:.3f} ms  "
                    f"p99 {result['p99_ms']:.3f} ms",
                    flush=True,
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    medians: dict[str, dict[str, float]] = {}
    quantiles = ("p50_ms", "p99_ms")
    for name, results in rounds.items():
        medians[name] = {q: statistics.median(r[q] for r in results) for q in quantiles}
        spread = {q: (min(r[q] for r in results), max(r[q] for r in results)) for q in quantiles}
        print(
            f"{name:>8}: median p50 {medians[name]['p50_ms']:.3f} ms "
            f"(rounds {spread['p50_ms'][0]:.3f}-{spread['p50_ms'][1]:.3f}), median p99 "
            f"{medians[name]['p99_ms']:.3f} ms "
            f"(rounds {spread['p99_ms'][0]:.3f}-{spread['p99_ms'][1]:.3f})"
        )
    print(
        f"this / baseline: p50 {medians['this']['p50_ms'] / medians['baseline']['p50_ms']:.3f}, "
        f"p99 {medians['this']['p99_ms'] / medians['baseline']['p99_ms']:.3f}"
    )


def table(results: dict[str, dict[str, float]], n: int) -> str:
    fast, naive = results["fast"], results["naive"]
    rows = [
        "| path | p50 (ms) | p99 (ms) | requests/s |",
        "|---|---|---|---|",
        f"| fast (compiled numpy + TreeSHAP) | {fast['p50_ms']:.3f} | {fast['p99_ms']:.3f} | "
        f"{fast['requests_per_s']:.0f} |",
        f"| naive (DataFrame + predict_proba + shap) | {naive['p50_ms']:.3f} | "
        f"{naive['p99_ms']:.3f} | {naive['requests_per_s']:.0f} |",
        f"| **ratio naive / fast** | **{naive['p50_ms'] / fast['p50_ms']:.1f}×** | "
        f"**{naive['p99_ms'] / fast['p99_ms']:.1f}×** | "
        f"**{fast['requests_per_s'] / naive['requests_per_s']:.1f}×** |",
    ]
    note = (
        f"\n\n{n} sequential requests per server on one keep-alive connection after a "
        "warm-up, uvicorn (uvloop, httptools), one worker, client in another process on "
        f"the same 2-core machine; both return the probability and top-3 factors."
    )
    return "\n".join(rows) + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--model-uri", default="models:/churn@champion")
    parser.add_argument("--write", action="store_true", help="update reports/ and the README")
    parser.add_argument(
        "--baseline", help="another checkout: compare its fast path with this one's instead"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (--baseline)")
    parser.add_argument("--serve", choices=["fast", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.model_uri)
        return

    from churn.serve import EXAMPLE
    from tenfold.benchmark import free_port, wait_ready

    body = json.dumps(EXAMPLE).encode()
    if args.baseline:
        compare(args, body)
        return
    results: dict[str, dict[str, float]] = {}
    for kind in ("fast", "naive"):
        port = free_port()
        server = run_server(kind, port, args.model_uri)
        try:
            wait_ready(port, process=server)
            results[kind] = measure(port, body, args.requests, args.warmup)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"{kind:>5}: p50 {results[kind]['p50_ms']:.3f} ms  p99 "
            f"{results[kind]['p99_ms']:.3f} ms  {results[kind]['requests_per_s']:.0f} req/s",
            flush=True,
        )
    text = table(results, args.requests)
    print()
    print(text)
    if args.write:
        from tenfold.reports import update_readme

        (PROJECT / "reports" / "latency.md").write_text(text + "\n", encoding="utf-8")
        update_readme(PROJECT / "README.md", {"latency": text})


if __name__ == "__main__":
    main()
