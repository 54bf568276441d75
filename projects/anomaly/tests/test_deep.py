"""The reconstruction family: the torch autoencoder is causal, finds a planted spike,
and streams like the batch. Needs the opt-in extra (`make anomaly-deep`); skipped with
that reason without it (see conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly.config import DetectorConfig
from anomaly.detectors import detect
from anomaly.streaming import StreamScorer

pytestmark = pytest.mark.deep
PROBATION = 150


def test_autoencoder_is_causal(planted: np.ndarray, small_cfg: DetectorConfig) -> None:
    future = planted.copy()
    future[400:] += 30.0
    before = detect(planted, PROBATION, ["autoencoder"], small_cfg, seed=1)["autoencoder"]
    after = detect(future, PROBATION, ["autoencoder"], small_cfg, seed=1)["autoencoder"]
    np.testing.assert_array_equal(before.score[:400], after.score[:400])
    assert not np.array_equal(before.score[400:], after.score[400:])


def test_autoencoder_finds_the_planted_spike(
    planted: np.ndarray, planted_row: int, small_cfg: DetectorConfig
) -> None:
    detection = detect(planted, PROBATION, ["autoencoder"], small_cfg, seed=1)["autoencoder"]
    peak = int(np.argmax(detection.score))
    assert planted_row <= peak <= planted_row + small_cfg.lags
    assert detection.score.min() >= 0.0
    assert detection.score.max() <= 1.0


def test_autoencoder_is_deterministic_and_streams_like_the_batch(
    planted: np.ndarray, small_cfg: DetectorConfig
) -> None:
    series = planted[:400]
    batch = detect(series, PROBATION, ["autoencoder", "zscore"], small_cfg, seed=1)
    again = detect(series, PROBATION, ["autoencoder", "zscore"], small_cfg, seed=1)
    np.testing.assert_array_equal(batch["autoencoder"].raw, again["autoencoder"].raw)
    scorer = StreamScorer(["autoencoder", "zscore"], small_cfg, {}, probation=PROBATION, seed=1)
    streamed = np.array([scorer.update(x).scores.get("autoencoder", 0.0) for x in series])
    np.testing.assert_allclose(streamed, batch["autoencoder"].score, atol=1e-6)
