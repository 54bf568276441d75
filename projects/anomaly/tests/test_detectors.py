"""The detectors: causal (changing the future changes no earlier score), each finds a
planted anomaly, the fast paths equal the reference loop, and a stream scored point by
point equals the batch."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly.config import DetectorConfig
from anomaly.detectors import (
    RollingIQR,
    RollingZScore,
    build,
    calibrate,
    deduplicate,
    detect,
    schedule,
)
from anomaly.streaming import StreamScorer

CLASSICAL = ["zscore", "iqr", "iforest", "lof"]
PROBATION = 150


@pytest.mark.parametrize("name", CLASSICAL)
def test_changing_the_future_changes_no_earlier_score(
    name: str, planted: np.ndarray, small_cfg: DetectorConfig
) -> None:
    cut = 400
    future = planted.copy()
    future[cut:] = np.random.default_rng(9).normal(50, 20, len(planted) - cut)
    before = detect(planted, PROBATION, [name], small_cfg, seed=1)[name]
    after = detect(future, PROBATION, [name], small_cfg, seed=1)[name]
    np.testing.assert_array_equal(before.score[:cut], after.score[:cut])
    np.testing.assert_array_equal(before.raw[:cut], after.raw[:cut])
    # and the change is seen from where it starts: the test could fail
    assert not np.array_equal(before.score[cut:], after.score[cut:])


def pattern_break(values: np.ndarray, at: int) -> np.ndarray:
    """Six rows that oscillate inside the usual range: nothing extreme, a wrong pattern."""
    broken = values.copy()
    broken[at : at + 6] = values[at : at + 6][::-1] + np.tile([1.5, -1.5], 3)
    return broken


# An isolation forest cannot see a value beyond its training range as more isolated than
# the range's edge (its splits lie inside the range), so a spike is not what it finds;
# a pattern break inside the range is.
@pytest.mark.parametrize(
    ("name", "anomaly"),
    [
        ("zscore", "spike"),
        ("iqr", "spike"),
        ("lof", "spike"),
        ("lof", "pattern"),
        ("iforest", "pattern"),
    ],
)
def test_each_detector_finds_the_planted_anomaly(
    name: str, anomaly: str, planted: np.ndarray, planted_row: int, small_cfg: DetectorConfig
) -> None:
    at = planted_row
    series = (
        planted
        if anomaly == "spike"
        else pattern_break(planted - np.eye(1, len(planted), at)[0] * 6.0, at)
    )
    detection = detect(series, PROBATION, [name], small_cfg, seed=1)[name]
    assert detection.score.min() >= 0.0
    assert detection.score.max() <= 1.0
    assert (detection.score[:PROBATION] == 0).all()
    peak = int(np.argmax(detection.score))
    assert at <= peak <= at + small_cfg.lags
    span = np.arange(at - PROBATION, at - PROBATION + 6 + small_cfg.lags)
    others = np.delete(detection.score[PROBATION:], span)
    assert detection.score[peak] > 1.3 * others.max()


def test_consensus_is_the_members_mean_and_union_their_max(
    planted: np.ndarray, planted_row: int, small_cfg: DetectorConfig
) -> None:
    out = detect(planted, PROBATION, CLASSICAL, small_cfg, seed=1)
    members = np.vstack([out[n].calibrated for n in CLASSICAL])
    np.testing.assert_allclose(out["consensus"].calibrated, members.mean(axis=0))
    np.testing.assert_allclose(out["union"].calibrated, members.max(axis=0))
    assert int(np.argmax(out["consensus"].score)) in range(planted_row, planted_row + 4)


@pytest.mark.parametrize("detector", [RollingZScore, RollingIQR])
def test_vectorised_statistics_equal_the_reference_loop(
    detector: type, planted: np.ndarray, small_cfg: DetectorConfig
) -> None:
    instance = detector(small_cfg)
    fast = instance.raw_series(planted, PROBATION)
    loop = schedule(instance, planted.reshape(-1, 1), PROBATION)
    np.testing.assert_allclose(fast, loop, rtol=1e-10, atol=1e-12)


def test_multivariate_series_score_per_row(small_cfg: DetectorConfig) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0, 1, (400, 3))
    values[300, 2] += 9  # one sensor jumps
    out = detect(values, 100, ["zscore", "lof"], small_cfg, seed=1)
    for name in ("zscore", "lof"):
        assert out[name].score.shape == (400,)
        assert int(np.argmax(out[name].score)) in range(300, 300 + small_cfg.lags)


def test_a_stream_scored_point_by_point_equals_the_batch(
    planted: np.ndarray, small_cfg: DetectorConfig
) -> None:
    batch = detect(planted, PROBATION, CLASSICAL, small_cfg, seed=1)
    scorer = StreamScorer(CLASSICAL, small_cfg, {}, probation=PROBATION, seed=1)
    points = [scorer.update(x) for x in planted]
    assert all(p.learning for p in points[:PROBATION])
    for name in [*CLASSICAL, "consensus", "union"]:
        streamed = np.array([p.scores.get(name, 0.0) for p in points])
        np.testing.assert_allclose(streamed, batch[name].score, atol=1e-9)
    # bounded: the scorer keeps a fixed number of rows, not the stream
    assert scorer.rows.maxlen is not None
    assert len(scorer.rows) == scorer.rows.maxlen < len(planted)


def test_deduplication_keeps_only_new_highs() -> None:
    score = np.array([0.0, 0.9, 0.8, 0.95, 0.1, 0.0, 0.0, 0.85])
    np.testing.assert_array_equal(deduplicate(score, 3), [0.0, 0.9, 0.0, 0.95, 0.0, 0.0, 0.0, 0.85])


def test_calibration_is_a_tail_probability_of_the_recent_past() -> None:
    cfg = DetectorConfig(calibration_rows=50, smoothing=1, tail_decades=16.0)
    raw = np.r_[np.random.default_rng(1).normal(1, 0.1, 200), 5.0]
    score = calibrate(raw, 10, cfg)
    assert score[-1] == 1.0  # 40 standard deviations: beyond 1e-16
    assert score[10:-1].max() < 0.5
    assert (score[:10] == 0).all()


def test_unknown_detector_names_what_exists(small_cfg: DetectorConfig) -> None:
    from tenfold.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown detector 'prophet'"):
        build(["prophet"], small_cfg, 0)


def test_the_compiled_forest_equals_pyod(planted: np.ndarray, small_cfg: DetectorConfig) -> None:
    from anomaly.detectors import IsolationForestDetector

    detector = IsolationForestDetector(small_cfg, seed=3)
    windows, model, compiled = detector.fit(planted[:300].reshape(-1, 1))
    features = windows.transform(planted[250:400].reshape(-1, 1))
    np.testing.assert_allclose(
        compiled.raw(features), model.decision_function(features), rtol=0, atol=1e-12
    )


def test_the_direct_lof_equals_pyod(planted: np.ndarray, small_cfg: DetectorConfig) -> None:
    from anomaly.detectors import LocalOutlierFactorDetector

    detector = LocalOutlierFactorDetector(small_cfg)
    state = detector.fit(planted[:300].reshape(-1, 1))
    rows = planted[250:400].reshape(-1, 1)
    direct = np.concatenate(
        [detector.raw(state, rows[: k + 1][-small_cfg.lags :], 1) for k in range(3, len(rows))]
    )
    pyod = state[1].decision_function(state[0].transform(rows))[3:]
    np.testing.assert_allclose(direct, pyod, rtol=1e-10)
