"""The NAB scorer: hand-computed cases from NAB's rules, and NAB's own published per-file
results for two detectors reproduced exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly import nab

STANDARD = nab.PROFILES["standard"]


def sigma(y: float) -> float:
    return 2 / (1 + math.exp(5 * y)) - 1


def test_probationary_period_is_15_percent_capped_at_750_rows() -> None:
    assert nab.probation_length(1000) == 150
    assert nab.probation_length(1882) == 282
    assert nab.probation_length(22695) == 750


def test_the_earliest_detection_of_a_window_counts_and_is_worth_tp_weight() -> None:
    where = nab.layout(100, [(50, 59)], probation_fraction=0.0)
    scores = np.zeros(100)
    scores[[50, 55]] = 1.0  # the first row of the window and a later one
    result = nab.score_file(scores, where, 0.5, STANDARD)
    assert result.score == pytest.approx(1.0)
    assert (result.tp, result.fp, result.fn) == (2, 0, 8)
    scores[50] = 0.0  # now only row 55: position -(59 - 55 + 1) / 10 = -0.5
    late = nab.score_file(scores, where, 0.5, STANDARD)
    assert late.score == pytest.approx(sigma(-0.5) / sigma(-1.0))


def test_false_positives_cost_by_distance_from_the_preceding_window() -> None:
    where = nab.layout(100, [(20, 29)], probation_fraction=0.0)
    scores = np.zeros(100)
    scores[[5, 31, 90]] = 1.0  # before any window, just after, far after
    result = nab.score_file(scores, where, 0.5, STANDARD)
    expected = -1.0 - 0.11 + 0.11 * sigma(2 / 9) + 0.11 * -1.0
    assert result.score == pytest.approx(expected)
    assert (result.tp, result.fp, result.fn) == (0, 3, 10)


def test_rows_in_the_probationary_period_are_never_scored() -> None:
    where = nab.layout(100, [(60, 69)], probation_fraction=0.15)
    scores = np.zeros(100)
    scores[:15] = 1.0
    result = nab.score_file(scores, where, 0.5, STANDARD)
    assert result.score == -1.0
    assert result.fp == 0
    assert result.tn + result.fn == 85


def test_the_sweep_equals_scoring_at_each_threshold() -> None:
    rng = np.random.default_rng(0)
    series = []
    for n, windows in [(300, [(100, 129), (200, 229)]), (200, [(150, 169)])]:
        where = nab.layout(n, windows)
        series.append((np.round(rng.random(n), 2), where))
    swept = nab.sweep(series, STANDARD)
    for threshold, total in zip(swept.thresholds[::7], swept.scores[::7], strict=True):
        direct = sum(nab.score_file(s, w, threshold, STANDARD).score for s, w in series)
        assert total == pytest.approx(direct)
    _best_threshold, best = swept.best()
    assert best == pytest.approx(max(swept.scores))
    assert swept.thresholds[0] == nab.NEVER
    assert swept.scores[0] == -3.0  # nothing detected: -fn_weight per window


def test_normalisation_null_is_0_perfect_is_100() -> None:
    assert nab.normalised(-19.0, 19, STANDARD) == 0.0
    assert nab.normalised(19.0, 19, STANDARD) == 100.0
    assert nab.normalised(2.077951, 19, STANDARD) == pytest.approx(55.47, abs=0.01)


@pytest.mark.real_data
@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
def test_reproduces_nab_published_per_file_scores(data_dir: Path, detector: str) -> None:
    """NAB's own results: per-file Score, TP, TN, FP, FN of its published detectors at
    their thresholds (config/thresholds.json) under the standard profile."""
    root = data_dir / "nab"
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    threshold = json.loads((root / "config" / "thresholds.json").read_text())[detector]["standard"][
        "threshold"
    ]
    matrix = json.loads((root / "config" / "profiles.json").read_text())["standard"]["CostMatrix"]
    profile = nab.Profile.from_cost_matrix("standard", matrix)
    published = pd.read_csv(root / "results" / detector / f"{detector}_standard_scores.csv")
    published = published[published["File"].str.startswith("realKnownCause/", na=False)]
    assert len(published) == 7
    total = 0.0
    for row in published.itertuples():
        file = str(row.File)
        name = file.split("/")[1]
        output = pd.read_csv(root / "results" / detector / "realKnownCause" / f"{detector}_{name}")
        where = nab.layout(
            len(output), nab.window_rows(output["timestamp"].to_numpy(), windows[file])
        )
        ours = nab.score_file(output["anomaly_score"].to_numpy(), where, threshold, profile)
        assert ours.score == pytest.approx(row.Score, abs=1e-6), file
        assert (ours.tp, ours.tn, ours.fp, ours.fn) == (row.TP, row.TN, row.FP, row.FN), file
        total += ours.score
    # the category figures of SOURCE.md
    expected = {"numenta": 55.47, "windowedGaussian": 13.36}[detector]
    assert nab.normalised(total, 19, profile) == pytest.approx(expected, abs=0.005)
