"""Batch scoring (``predict``) is vectorised and chunked, and writes the same bytes as the
row loop it replaced (issue 8 §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.config import ChurnConfig
from churn.data import read_scoring_file, scoring_chunks
from churn.serve import ChurnPredictor
from tenfold.batch import score_file
from tenfold.data import iter_csv_checked
from tenfold.serving import ModelCard


def row_loop_score_frame(predictor: ChurnPredictor, frame: pd.DataFrame) -> pd.DataFrame:
    """``score_frame`` as it was before issue 8: a ``.loc`` write per factor and row
    through ``reason_codes`` (the reference the new output must equal byte for byte)."""
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    scores = predictor.scorer.score(columns)
    out = pd.DataFrame(
        {
            "churn_probability": np.round(scores.prediction, 4),
            "will_churn": scores.prediction >= predictor.threshold,
        }
    )
    if "customerID" in frame.columns:
        out.insert(0, "customerID", frame["customerID"].to_numpy())
    for i in range(len(frame)):
        for rank, factor in enumerate(predictor.factors(scores, i), start=1):
            out.loc[i, f"factor_{rank}"] = factor.readable
    return out


@pytest.fixture(scope="module")
def predictor(small_model) -> ChurnPredictor:  # type: ignore[no-untyped-def]
    return ChurnPredictor(small_model[0], threshold=0.3, card=ModelCard(name="t"))


@pytest.mark.real_data
def test_predict_writes_the_bytes_of_the_row_loop_on_the_telco_file(
    data_dir: Path, predictor: ChurnPredictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    telco = data_dir / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    expected = row_loop_score_frame(predictor, read_scoring_file(telco, ChurnConfig()))
    # small chunks: the rows cross chunk boundaries as in a file of millions
    monkeypatch.setattr(
        "churn.data.tfdata.iter_csv_checked",
        lambda path, columns: iter_csv_checked(path, columns, chunk_rows=1500),
    )
    out = tmp_path / "scores.csv"
    result = score_file(
        scoring_chunks(telco, ChurnConfig()),
        predictor.score_frame,
        out,
        source=telco,
        progress=False,
    )
    assert result.rows == 7043
    assert out.read_bytes() == expected.to_csv(index=False).encode()


def test_factor_columns_on_the_twin(predictor: ChurnPredictor, synthetic_frame) -> None:  # type: ignore[no-untyped-def]
    """Blank totals, every contract and service: the columns equal the row loop's."""
    rows = synthetic_frame.drop(columns=["Churn"]).head(600)
    got = predictor.score_frame(rows)
    pd.testing.assert_frame_equal(got, row_loop_score_frame(predictor, rows))
    assert list(got.columns[-3:]) == ["factor_1", "factor_2", "factor_3"]
