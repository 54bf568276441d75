"""tenfold.testing.assert_reproduces_sample: the committed part of a run, re-computed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenfold.repro import write_metrics
from tenfold.testing import assert_reproduces_sample

COMMITTED = {
    "backtest": {
        "origins": {
            "2024-01-07": {"mae": 1.23456, "n": 168},
            "2024-01-14": {"mae": 1.5, "n": 168},
        },
        "mean_mae": 1.36728,
    },
    "seed": 42,
}


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    return write_metrics(tmp_path / "metrics.json", COMMITTED)


def test_a_recomputed_origin_matches_through_the_writer(committed: Path) -> None:
    # unrounded floats, as the code computes them: the writer rounds both sides alike
    sample = {"backtest": {"origins": {"2024-01-14": {"mae": 1.500004, "n": 168}}}}
    assert_reproduces_sample(sample, committed, remake="make p")


def test_a_changed_value_fails_with_the_changed_line(committed: Path) -> None:
    sample = {"backtest": {"origins": {"2024-01-07": {"mae": 1.2347, "n": 168}}}}
    with pytest.raises(AssertionError) as failure:
        assert_reproduces_sample(sample, committed, remake="make p")
    assert '-        "mae": 1.2346,' in str(failure.value)
    assert '+        "mae": 1.2347,' in str(failure.value)
    assert "`make p`" in str(failure.value)


def test_a_key_the_committed_results_lack_is_an_error(committed: Path) -> None:
    with pytest.raises(AssertionError, match="no '2024-02-01'"):
        assert_reproduces_sample(
            {"backtest": {"origins": {"2024-02-01": {"mae": 1.0}}}}, committed, remake="make p"
        )
