"""Batch scoring (``predict``) is vectorised and chunked, and writes the same bytes as the
row loop it replaced (issue 8 §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fraud.data import read_scoring_file, scoring_columns
from fraud.serve import FraudPredictor
from tenfold.batch import score_file
from tenfold.data import iter_csv_checked
from tenfold.serving import ModelCard


def row_loop_score_frame(predictor: FraudPredictor, frame: pd.DataFrame) -> pd.DataFrame:
    """``score_frame`` as it was before issue 8: a ``.loc`` write per reason and row."""
    scores = predictor.scorer.score({c: frame[c].to_numpy() for c in frame.columns})
    out = pd.DataFrame(
        {
            "fraud_probability": np.round(scores.prediction, 4),
            "flag_for_review": scores.prediction >= predictor.threshold,
        }
    )
    if "transaction_id" in frame.columns:
        out.insert(0, "transaction_id", frame["transaction_id"].to_numpy())
    for i in range(len(frame)):
        for rank, reason in enumerate(predictor.reasons(scores, i), start=1):
            out.loc[i, f"reason_{rank}"] = reason.readable
    return out


def test_predict_writes_the_bytes_of_the_row_loop(small_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline, periods = small_model
    rows = periods.split.X_test.iloc[:4000].reset_index(drop=True)
    rows.insert(0, "transaction_id", [f"tx-{i}" for i in range(len(rows))])
    source = tmp_path / "transactions.csv"
    rows.to_csv(source, index=False)
    predictor = FraudPredictor(pipeline, threshold=0.2, review_cost=5.0, card=ModelCard(name="t"))
    expected = row_loop_score_frame(predictor, read_scoring_file(source))
    out = tmp_path / "scores.csv"
    chunks = iter_csv_checked(source, scoring_columns(), chunk_rows=700)
    result = score_file(chunks, predictor.score_frame, out, source=source, progress=False)
    assert result.rows == 4000
    assert out.read_bytes() == expected.to_csv(index=False).encode()
    assert expected["reason_3"].notna().all()
