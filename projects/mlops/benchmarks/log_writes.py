"""The prediction log's write path on its own: COPY (the live path) against the
``INSERT ... ON CONFLICT DO NOTHING`` it replaced (still the spool's re-send path), on
the same real PostgreSQL, in alternating rounds.

The API's load benchmark (``load.py``) answers the question users ask (requests/s with
logging on), but on a shared 2-core machine its throughput moves by half between runs.
This one times only what changed: ``PredictionLog``'s insert of a batch of records, as
the writer thread does it, and reports per method the median rows/s (wall, so the
server's work counts) and the API process's CPU per 1,000 rows (what the writer takes
from the request threads under the GIL).

    uv run python projects/mlops/benchmarks/log_writes.py [--batch 200] [--rounds 7] [--write]

Needs Debian's PostgreSQL (``apt-get install postgresql``); no trained model.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from mlops.config import PROJECT_DIR
from mlops.predictions import (
    PredictionLog,
    count_rows,
    create_engine,
    database,
    migrate,
    prediction_row,
)
from mlops.serve import EXAMPLE
from tenfold.repro import write_metrics
from tenfold.serving import PredictionRecord
from tenfold.testing import postgres

METHODS = {"insert (ON CONFLICT)": False, "copy": True}


def records(n: int) -> list[PredictionRecord]:
    now = datetime.now(UTC)
    return [
        PredictionRecord(
            request_id=uuid.uuid4().hex,
            endpoint="/v1/predict",
            model="mlops",
            model_version="1",
            inputs={**EXAMPLE, "application_id": f"bench-{k}"},
            outputs={"probability_of_default": 0.21, "score": 598.0, "risk_band": "C"},
            timestamp=now,
            latency_ms=3.2,
        )
        for k in range(n)
    ]


def one_round(log: PredictionLog, fresh: bool, batch: int, batches: int) -> dict[str, float]:
    """``batches`` inserts of ``batch`` new rows (rows built outside the clock, as both
    paths build them the same way)."""
    prepared = [
        [prediction_row(r, uuid.uuid4().hex) for r in records(batch)] for _ in range(batches)
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    for rows in prepared:
        if not log._insert(rows, fresh=fresh):
            raise RuntimeError("the database did not take the batch")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows_written = batch * batches
    return {"rows_per_s": rows_written / wall, "cpu_ms_per_1000_rows": 1e6 * cpu / rows_written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=200, help="rows per insert")
    parser.add_argument("--batches", type=int, default=25, help="inserts per round")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds")
    parser.add_argument("--write", action="store_true", help="write reports/log_writes.json")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory() as scratch, postgres(fsync=True) as pg:
        migrate(pg.url)
        log = PredictionLog(database(pg.url), Path(scratch) / "spool", migrate_on_start=False)
        one_round(log, True, args.batch, 2)  # warm-up: connections, statement caches
        one_round(log, False, args.batch, 2)
        for k in range(args.rounds):
            order = list(METHODS) if k % 2 == 0 else list(reversed(METHODS))
            for method in order:
                result = one_round(log, METHODS[method], args.batch, args.batches)
                results[method].append(result)
                print(
                    f"round {k + 1} {method:>20}: {result['rows_per_s']:8.0f} rows/s, "
                    f"{result['cpu_ms_per_1000_rows']:6.1f} ms CPU / 1,000 rows",
                    flush=True,
                )
        expected = (2 * args.rounds * args.batches + 4) * args.batch  # with the warm-up
        written = count_rows(create_engine(database(pg.url)))
        if written != expected:
            raise RuntimeError(f"{written} rows in the table, expected {expected}")
        log.engine.dispose()
    summary = {
        method: {
            q: statistics.median(r[q] for r in rounds)
            for q in ("rows_per_s", "cpu_ms_per_1000_rows")
        }
        for method, rounds in results.items()
    }
    old, new = summary["insert (ON CONFLICT)"], summary["copy"]
    ratio = {
        "rows_per_s": new["rows_per_s"] / old["rows_per_s"],
        "cpu": new["cpu_ms_per_1000_rows"] / old["cpu_ms_per_1000_rows"],
    }
    for method, values in summary.items():
        print(
            f"{method:>20}: median {values['rows_per_s']:.0f} rows/s, "
            f"{values['cpu_ms_per_1000_rows']:.1f} ms CPU / 1,000 rows"
        )
    print(f"copy / insert: {ratio['rows_per_s']:.2f}x rows/s, {ratio['cpu']:.2f}x the CPU")
    if args.write:
        write_metrics(
            PROJECT_DIR / "reports" / "log_writes.json",
            {
                "batch": args.batch,
                "batches": args.batches,
                "rounds": args.rounds,
                "median": summary,
                "copy_over_insert": ratio,
            },
            decimals=2,
        )


if __name__ == "__main__":
    main()
