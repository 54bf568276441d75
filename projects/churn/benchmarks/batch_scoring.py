"""Batch scoring throughput of ``python -m churn predict``: rows/min and peak memory at
10k, 100k and 1M rows with the top-3 factors, and the speed-up over the old row loop.

The rows are Telco-shaped customers from the synthetic twin (``churn.data.make_synthetic``:
every row drawn afresh, none repeated), written to CSV first. Each size is scored in a
child process of its own, as ``predict`` does after start-up: the model is loaded (not
timed), then the file is read in chunks, scored and written (timed); the child's max RSS
is the peak memory of that run. The baseline is the old ``score_frame`` (a ``.loc`` write
per factor and row) on the 10k file in the same run, and both outputs must be the same
bytes. Run after ``make churn``:

    uv run python projects/churn/benchmarks/batch_scoring.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def make_input(path: Path, n: int) -> None:
    from churn.data import make_synthetic

    frame = make_synthetic(n, seed=n).drop(columns=["Churn"])
    # the Telco file writes a blank total for customers not billed yet
    frame["TotalCharges"] = frame["TotalCharges"].map(lambda v: "" if np.isnan(v) else f"{v:.2f}")
    frame.to_csv(path, index=False)


def load(uri: str) -> Any:
    from churn.serve import load as load_predictor

    return load_predictor(uri)


def new(predictor: Any, source: Path, output: Path) -> int:
    """What ``predict`` does after loading the model."""
    from churn.config import ChurnConfig
    from churn.data import scoring_chunks
    from tenfold.batch import score_file

    chunks = scoring_chunks(source, ChurnConfig())
    return int(
        score_file(chunks, predictor.score_frame, output, source=source, progress=False).rows
    )


def old(predictor: Any, source: Path, output: Path) -> int:
    """The former ``predict``: the whole file, then ``.loc`` writes row by row."""
    from churn.config import ChurnConfig
    from churn.data import read_scoring_file

    frame = read_scoring_file(source, ChurnConfig())
    scores = old_score_frame(predictor, frame)
    scores.to_csv(output, index=False)
    return len(scores)


def old_score_frame(predictor: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``ChurnPredictor.score_frame`` as it was (kept as the baseline)."""
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    scores = predictor.scorer.score(columns)
    out = pd.DataFrame(
        {
            "churn_probability": np.round(scores.prediction, 4),
            "will_churn": scores.prediction >= predictor.threshold,
        }
    )
    out.insert(0, "customerID", frame["customerID"].to_numpy())
    for i in range(len(frame)):
        for rank, factor in enumerate(predictor.factors(scores, i), start=1):
            out.loc[i, f"factor_{rank}"] = factor.readable
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
        default_model_uri="models:/churn@champion",
    )
