"""One frozen, typed configuration for the anomaly project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tenfold.training import ProjectConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]

Reference = Literal["rolling", "fixed"]
# the detectors a run uses by default; "autoencoder" joins when torch is installed
STATISTICAL = ("zscore", "iqr")
CLASSICAL = ("iforest", "lof")
RECONSTRUCTION = ("autoencoder",)
FAMILIES: dict[str, tuple[str, ...]] = {
    "statistical": STATISTICAL,
    "classical": CLASSICAL,
    "reconstruction": RECONSTRUCTION,
}
CONSENSUS = "consensus"
UNION = "union"
# built from the other detectors' scores, not from the series
COMBINED = (CONSENSUS, UNION)
# how reports, the dashboard and the CLI name the detectors
DISPLAY = {
    "zscore": "Rolling z-score",
    "iqr": "Rolling IQR",
    "iforest": "Isolation Forest (PyOD)",
    "lof": "LOF (PyOD)",
    "autoencoder": "Autoencoder (torch)",
    CONSENSUS: "Consensus (mean score)",
    UNION: "Union (max score)",
}


@dataclass(frozen=True)
class DetectorConfig:
    """What every detector shares: how it sees the past, how often it refits, and how a
    raw anomaly measure becomes a score in [0, 1].

    ``reference="rolling"`` (NAB) refits on the last ``train_rows`` every
    ``refit_every`` rows and judges scores against the recent past; ``"fixed"``
    (C-MAPSS) fits once on the probationary rows and judges everything against them, so
    a slow drift is not learnt away as the new normal.
    """

    reference: Reference = "rolling"
    # statistical: rolling mean/std and quartiles of the last `window` rows
    window: int = 100
    # models: each row is seen with its `lags - 1` predecessors
    lags: int = 8
    refit_every: int = 500
    train_rows: int = 2000
    n_estimators: int = 50
    max_samples: int = 256
    n_neighbors: int = 20
    # autoencoder (opt-in torch extra)
    hidden: int = 16
    bottleneck: int = 4
    epochs: int = 30
    # calibration: the mean raw measure of the last `smoothing` rows against the mean and
    # spread of the `calibration_rows` before them; its Gaussian tail probability p
    # becomes the score -log10(p) / tail_decades, clipped to [0, 1]
    calibration_rows: int = 1000
    smoothing: int = 1
    tail_decades: float = 16.0
    # alarm de-duplication: a score stands only when it beats every score of the
    # `refractory` rows before it (NAB counts each flagged row outside a window)
    refractory: int = 100


@dataclass(frozen=True)
class CmapssConfig:
    """C-MAPSS FD001: anomalous means remaining useful life ≤ `rul_threshold` cycles."""

    rul_threshold: int = 30
    # each engine learns its own normal on its first cycles (the shortest FD001 life is
    # 128 cycles, so these are at least 98 cycles from failure)
    baseline_cycles: int = 30
    # engines 1..fit_engines choose the thresholds; the rest (and the test set) report
    fit_engines: int = 50
    smoothing_cycles: int = 5
    # sensors constant in FD001 (one operating condition) carry no information
    sensors: tuple[str, ...] = (
        "sensor_2",
        "sensor_3",
        "sensor_4",
        "sensor_7",
        "sensor_8",
        "sensor_9",
        "sensor_11",
        "sensor_12",
        "sensor_13",
        "sensor_14",
        "sensor_15",
        "sensor_17",
        "sensor_20",
        "sensor_21",
    )
    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(
            reference="fixed",
            lags=1,
            n_neighbors=10,
            max_samples=30,
            smoothing=1,
            refractory=0,
            # a degrading engine drifts far from its 30 baseline cycles: a wide scale
            # keeps the score below 1 (unsaturated) until close to failure
            tail_decades=5000.0,
        )
    )


@dataclass(frozen=True)
class AnomalyConfig(ProjectConfig):
    # detectors; None: the statistical and classical families, plus the autoencoder
    # when torch is installed
    detectors: tuple[str, ...] | None = None
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    # NAB
    nab_dataset: str = "nab"
    category: str = "realKnownCause"
    probation_fraction: float = 0.15
    profile: str = "standard"
    # C-MAPSS
    cmapss_dataset: str = "cmapss"
    cmapss: CmapssConfig = field(default_factory=CmapssConfig)
    run_cmapss: bool = True
    # a user's CSV (``detect --data``) and the synthetic twin
    synthetic_rows: int = 4000
    # streaming API: rows a new stream learns on before it scores, and the state bound
    stream_probation: int = 300
    max_streams: int = 1000
    stream_ttl_seconds: float = 3600.0
    # tracking, promotion and outputs: a challenger replaces the champion when its
    # leave-one-series-out NAB score (normalised, 0-100) is higher by more than half a
    # point; per-series thresholds make smaller differences noise a reader would not act on
    experiment: str = "anomaly"
    model_name: str = "anomaly"
    promotion_margin: float = 0.5
    reports_dir: Path = PROJECT_DIR / "reports"
