"""Same seed, same lock → the same metrics.json bytes; the committed real-data results
are what the code produces today. The whole run takes minutes, so CI re-computes its
committed sample (one NAB series, every detector; docs/testing.md); the whole run is
`make anomaly` (then `git diff projects/anomaly/reports`) before results are published."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from anomaly import data, nab
from anomaly.__main__ import app
from anomaly.config import COMBINED, PROJECT_DIR, AnomalyConfig, DetectorConfig
from anomaly.detectors import deep_available, detect
from tenfold.testing import assert_reproduces_sample, run_metrics

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"
SAMPLE = "rogue_agent_key_hold.csv"
REMAKE = "TENFOLD_DATA_DIR=../shared/datasets make anomaly"


@pytest.mark.repro
@pytest.mark.slow
@pytest.mark.real_data
def test_one_series_reproduces_its_committed_nab_scores(data_dir: Path) -> None:
    """The committed sample of the run (docs/testing.md: the whole run takes minutes):
    one series (1,882 rows), every detector re-run as the run runs it and scored at its
    committed threshold, gives the committed per-file Score, TP, TN, FP, FN and windows
    found, byte for byte through the metrics writer."""
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    names = [n for n in committed["models"] if n not in COMBINED]
    if "autoencoder" in names and not deep_available():
        pytest.skip("the committed run includes the autoencoder: `make anomaly-deep`")
    cfg = dataclasses.replace(
        AnomalyConfig(), detector=DetectorConfig(**committed["protocol"]["detector"])
    )
    series = data.load_nab(cfg).series[SAMPLE]
    start = nab.probation_length(series.n_rows, cfg.probation_fraction)
    detections = detect(
        series.values, start, names, cfg.detector, seed=committed["protocol"]["seed"]
    )
    assert set(detections) == set(committed["models"])
    sample: dict[str, Any] = {"models": {}}
    for name, detection in detections.items():
        scored = nab.score_file(
            detection.score,
            series.layout(cfg.probation_fraction),
            committed["models"][name]["nab"]["threshold"],
            nab.PROFILES[committed["protocol"]["profile"]],
        )
        file = {k: getattr(scored, k) for k in ("score", "tp", "tn", "fp", "fn")}
        file["windows_detected"] = scored.windows_detected
        sample["models"][name] = {"files": {SAMPLE: file}}
    assert_reproduces_sample(sample, COMMITTED, remake=REMAKE)


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_same_seed_same_bytes(tmp_path: Path) -> None:
    options = ["--no-cmapss", "--detector", "zscore", "--detector", "lof"]
    first = run_metrics(app, tmp_path / "a", *options)
    second = run_metrics(app, tmp_path / "b", *options)
    assert first == second
    assert b'"kind": "synthetic"' in first
