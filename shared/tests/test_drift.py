"""tenfold.drift: Evidently's verdict on a column that moved and on ones that did not,
the period's share and threshold, statistics, and the report written to a lake."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenfold.drift import drift_report, feature_statistics, read_summary, write_report
from tenfold.storage import Lake


def frames(shift: float, n_ref: int = 4000, n_cur: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)

    def make(n: int, moved: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "amount": rng.normal(50 + moved, 10, n),
                "count": rng.poisson(3, n).astype(float),
                "ratio": rng.exponential(1, n),
                "night": rng.choice(["0", "1"], n, p=[0.8, 0.2]),
            }
        )

    return make(n_ref, 0.0), make(n_cur, shift)


@pytest.fixture(scope="module")
def shifted():  # type: ignore[no-untyped-def]
    reference, current = frames(shift=8.0)  # 0.8 standard deviations on one column
    return drift_report(
        reference,
        current,
        period="2018-07-12",
        threshold=0.25,
        numerical=["amount", "count", "ratio"],
        categorical=["night"],
        reference_sample=3000,
    )


def test_the_moved_column_drifts_the_others_do_not(shifted) -> None:  # type: ignore[no-untyped-def]
    by_column = {c.column: c for c in shifted.columns}
    assert shifted.drifted_columns == ["amount"]
    assert by_column["amount"].method.startswith("Wasserstein")
    assert by_column["night"].method.startswith("Jensen-Shannon")
    assert by_column["amount"].score > by_column["amount"].threshold
    assert shifted.share == pytest.approx(1 / 4)
    assert shifted.drifted  # 1/4 reaches the threshold 0.25
    assert (shifted.reference_rows, shifted.current_rows) == (3000, 1500)


def test_no_shift_no_drift() -> None:
    reference, current = frames(shift=0.0)
    report = drift_report(
        reference, current, period="p", threshold=0.25, numerical=["amount", "count", "ratio"]
    )
    assert report.drifted_columns == []
    assert report.share == 0.0
    assert not report.drifted


def test_report_files_in_the_lake(shifted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path))
    written = write_report(shifted, lake, "reports/drift/fraud")
    assert written.html.endswith("reports/drift/fraud/2018-07-12/drift.html")
    html = lake.read_text("reports/drift/fraud/2018-07-12/drift.html")
    assert "<html" in html.lower()
    assert "amount" in html
    document = json.loads(lake.read_text("reports/drift/fraud/2018-07-12/drift.json"))
    assert document["drift_share"] == pytest.approx(0.25)
    assert document["drifted_columns"] == ["amount"]
    assert document["columns"]["amount"]["drifted"] is True
    assert "metrics" in document["evidently"]  # Evidently's own output kept beside
    summary = read_summary(lake, "reports/drift/fraud", "2018-07-12")
    assert summary is not None
    assert summary["period"] == "2018-07-12"
    assert read_summary(lake, "reports/drift/fraud", "2018-07-13") is None


def test_feature_statistics() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "y": [np.nan] * 4})
    stats = feature_statistics(frame, ["x", "y"])
    assert stats["x"]["rows"] == 4
    assert stats["x"]["null_share"] == 0.25
    assert stats["x"]["mean"] == 2.0
    assert stats["x"]["min"] == 1.0
    assert stats["x"]["max"] == 3.0
    assert stats["x"]["p50"] == 2.0
    assert stats["x"]["std"] == pytest.approx(np.sqrt(2 / 3))
    assert stats["y"]["null_share"] == 1.0
    assert np.isnan(stats["y"]["mean"])


def test_bad_inputs_are_named() -> None:
    reference, current = frames(shift=0.0, n_ref=50, n_cur=50)
    with pytest.raises(ValueError, match="missing"):
        drift_report(reference, current, period="p", threshold=0.5, numerical=["nope"])
    with pytest.raises(ValueError, match="threshold"):
        drift_report(reference, current, period="p", threshold=0.0, numerical=["amount"])
    with pytest.raises(ValueError, match="nothing to compare"):
        drift_report(reference, current.head(0), period="p", threshold=0.5, numerical=["amount"])
