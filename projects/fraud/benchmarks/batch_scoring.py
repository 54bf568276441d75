"""Batch scoring throughput of ``python -m fraud predict``: rows/min and peak memory at
10k, 100k and 1M transactions with the top-3 reason codes, and the speed-up over the old
row loop.

The rows are transactions from the project's simulator (the same world, scaled to give
the rows needed, with the history aggregates the feature store computes), written to CSV
in the API's columns first. Each size is scored in a child process of its own, as
``predict`` does after start-up: the model is loaded (not timed), then the file is read
in chunks, scored and written (timed); the child's max RSS is the peak memory of that
run. The baseline is the old ``score_frame`` (a ``.loc`` write per reason and row) on the
10k file in the same run, and both outputs must be the same bytes. Run after
``make fraud``:

    uv run python projects/fraud/benchmarks/batch_scoring.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def make_input(path: Path, n: int) -> None:
    from fraud.config import FraudConfig, Simulation
    from fraud.data import load_simulated
    from fraud.train import prepare

    cfg = FraudConfig()
    # the default world (2,000 customers) makes about 495,000 transactions
    customers = max(50, int(2000 * n / 450_000) + 1)
    cfg = dataclasses.replace(cfg, simulation=Simulation().scaled(customers), seed=n)
    frame, _ = load_simulated(cfg)
    rows = prepare(frame, cfg).X
    rows.insert(0, "transaction_id", frame["transaction_id"].to_numpy())
    rows.iloc[:n].to_csv(path, index=False)


def load(uri: str) -> Any:
    from fraud.serve import load as load_predictor

    return load_predictor(uri)


def new(predictor: Any, source: Path, output: Path) -> int:
    """What ``predict`` does after loading the model."""
    from fraud.data import scoring_chunks
    from tenfold.batch import score_file

    chunks = scoring_chunks(source)
    return int(
        score_file(chunks, predictor.score_frame, output, source=source, progress=False).rows
    )


def old(predictor: Any, source: Path, output: Path) -> int:
    """The former ``predict``: the whole file, then ``.loc`` writes row by row."""
    from fraud.data import read_scoring_file

    frame = read_scoring_file(source)
    scores = old_score_frame(predictor, frame)
    scores.to_csv(output, index=False)
    return len(scores)


def old_score_frame(predictor: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``FraudPredictor.score_frame`` as it was (kept as the baseline)."""
    scores = predictor.scorer.score({c: frame[c].to_numpy() for c in frame.columns})
    out = pd.DataFrame(
        {
            "fraud_probability": np.round(scores.prediction, 4),
            "flag_for_review": scores.prediction >= predictor.threshold,
        }
    )
    out.insert(0, "transaction_id", frame["transaction_id"].to_numpy())
    for i in range(len(frame)):
        for rank, reason in enumerate(predictor.reasons(scores, i), start=1):
            out.loc[i, f"reason_{rank}"] = reason.readable
    return out


if __name__ == "__main__":
    from tenfold.benchmark import batch_main

    batch_main(
        (__doc__ or "").splitlines()[0],
        script=__file__,
        make_input=make_input,
        load=load,
        new=new,
        old=old,
        default_model_uri="models:/fraud@champion",
    )
