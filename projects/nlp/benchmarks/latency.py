"""Latency of the nlp API under load over loopback: TF-IDF vs embeddings, single vs batch.

Each model is served by the real command (``python -m nlp serve --serve-model <alias>``:
uvicorn, one worker, the registered model loaded in lifespan) in its own process; this
process is the client (``tenfold.benchmark.load_test``: N threads, one keep-alive
connection each, after a warm-up). Requests are held-out BBC test articles (the
synthetic corpus offline, and the output says so). For each model and concurrency level
it measures p50/p99 latency and requests/s, for one article per request and for batches.
Run after ``make nlp`` (and ``make nlp-deep`` for the embeddings model):

    uv run python projects/nlp/benchmarks/latency.py [--requests 300] [--write]

``--write`` stores the results in reports/latency.json and the table in the README
(``python -m nlp report`` renders it again from that file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]


def held_out_articles(limit: int) -> tuple[list[str], str]:
    """Held-out test articles of the default split (never trained on), and the data kind."""
    from nlp import data
    from nlp.config import NlpConfig
    from nlp.train import prepare, split

    cfg = NlpConfig()
    frame, source = data.load(cfg)
    texts = split(prepare(frame, cfg), cfg).X_test["text"].tolist()
    return texts[:limit], source.kind


def start_server(alias: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "nlp", "serve", "--serve-model", alias, "--port", str(port)]
    # the log goes to a file: an unread pipe would block the server once full
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def bodies(texts: list[str], batch_size: int) -> list[bytes]:
    if batch_size == 1:
        return [json.dumps({"text": t}).encode() for t in texts]
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    return [
        json.dumps({"items": [{"text": t} for t in batch]}).encode()
        for batch in batches
        if len(batch) == batch_size
    ]


def measure_model(
    alias: str, texts: list[str], args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    from tenfold.benchmark import free_port, wait_ready

    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = start_server(alias, port, log)
        try:
            wait_ready(port, process=server, timeout=300)
            return measure_levels(alias, port, texts, args)
        except RuntimeError:
            server.terminate()
            server.wait(timeout=30)
            log.seek(0)
            print(log.read().decode(errors="replace")[-2000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)


def measure_levels(
    alias: str, port: int, texts: list[str], args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    from tenfold.benchmark import load_test

    out: dict[str, list[dict[str, Any]]] = {"single": [], "batch": []}
    for mode, path, size in (
        ("single", "/v1/predict", 1),
        ("batch", "/v1/predict/batch", args.batch_size),
    ):
        # batches carry batch_size articles each: fewer requests for the same work
        n = args.requests if size == 1 else max(20, args.requests // size * 2)
        for concurrency in args.concurrency:
            result = load_test(
                port, path, bodies(texts, size), concurrency=concurrency, requests=n, warmup=2
            )
            row = {
                "batch_size": size,
                "concurrency": concurrency,
                "requests": result.requests,
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "requests_per_s": result.requests_per_s,
                "articles_per_s": result.requests_per_s * size,
            }
            out[mode].append(row)
            print(
                f"{alias:>10} {mode:>6} x{size:<3} c={concurrency:<3} p50 "
                f"{row['p50_ms']:8.1f} ms  p99 {row['p99_ms']:8.1f} ms  "
                f"{row['requests_per_s']:7.1f} req/s  {row['articles_per_s']:7.1f} art/s",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="single requests per row")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--models", nargs="+", default=["tfidf", "embeddings"])
    parser.add_argument("--write", action="store_true", help="update reports/ and the README")
    args = parser.parse_args()

    texts, kind = held_out_articles(limit=400)
    if kind != "real":
        print("note: BBC News not found; timing the SYNTHETIC corpus's short articles")
    results = {"models": {name: measure_model(name, texts, args) for name in args.models}}
    results["setup"] = {
        "requests": args.requests,
        "warmup": 2,
        "median_chars": int(np.median([len(t) for t in texts])),
        "cpus": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "data": kind,
    }
    from nlp.evaluate import latency_table

    table = latency_table(results)
    print()
    print(table)
    if args.write:
        from tenfold.reports import update_readme
        from tenfold.repro import read_metrics, write_metrics

        path = write_metrics(PROJECT / "reports" / "latency.json", results, decimals=2)
        # rendered from the file, as `python -m nlp report` does, so the two always agree
        update_readme(PROJECT / "README.md", {"latency": latency_table(read_metrics(path))})


if __name__ == "__main__":
    main()
