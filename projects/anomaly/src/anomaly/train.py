"""Running the detectors and choosing their thresholds, the two ways.

There is nothing to train in the supervised sense: every detector learns each series'
normal on its probationary rows and keeps learning causally (see
:mod:`anomaly.detectors`). What the labels decide is one number per detector, its
threshold, chosen two ways and reported side by side:

- **NAB's protocol**: the threshold that maximises the detector's total score over the
  whole category (NAB's optimiser; the labels of every series are used);
- **leave one series out**: each series is scored at the threshold that maximises the
  total over the *other* six (the honest figure: the series scored never chose it).

C-MAPSS engines are scored the same way, with one label window per engine (its last
``rul_threshold + 1`` cycles); engines ``1..fit_engines`` choose the thresholds.

:class:`AnomalyModel` (what is registered) holds the detectors' configuration and
thresholds; serving and ``detect`` score with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from anomaly import nab
from anomaly.config import COMBINED, CONSENSUS, FAMILIES, AnomalyConfig, DetectorConfig
from anomaly.data import AnomalyData, Cmapss, Corpus, Published, Series
from anomaly.detectors import Detection, default_detectors, detect
from anomaly.features import as_matrix
from tenfold.errors import DataError, InvalidInput
from tenfold.training import Candidate, TrainResult

if TYPE_CHECKING:
    from tenfold.tracking import LoggedTraining

ProgressFn = Callable[[str, int, int], None]
# the fewest rows a series' detectors learn from (see AnomalyModel.min_probation)
MIN_PROBATION = 10


def detector_names(cfg: AnomalyConfig) -> tuple[str, ...]:
    return cfg.detectors if cfg.detectors is not None else default_detectors()


@dataclass(frozen=True)
class ScoredSeries:
    """One series with its scoring layout and every detector's output."""

    series: Series
    layout: nab.Layout
    detections: Mapping[str, Detection]


def detect_corpus(
    corpus: Corpus, cfg: AnomalyConfig, progress: ProgressFn | None = None
) -> dict[str, ScoredSeries]:
    names = detector_names(cfg)
    out = {}
    for done, (name, series) in enumerate(sorted(corpus.series.items())):
        start = nab.probation_length(series.n_rows, cfg.probation_fraction)
        out[name] = ScoredSeries(
            series,
            series.layout(cfg.probation_fraction),
            detect(series.values, start, names, cfg.detector, seed=cfg.seed),
        )
        if progress:
            progress("nab", done + 1, len(corpus.series))
    return out


@dataclass(frozen=True)
class ThresholdChoice:
    """A detector's thresholds under one protocol and the per-file scores they give."""

    detector: str
    protocol: str
    thresholds: dict[str, float]  # per series (the same for all under NAB's protocol)
    files: dict[str, nab.FileScore]
    n_windows: int
    profile: nab.Profile

    @property
    def raw_score(self) -> float:
        return float(sum(f.score for f in self.files.values()))

    @property
    def normalised(self) -> float:
        return nab.normalised(self.raw_score, self.n_windows, self.profile)


def _pairs(
    scored: Mapping[str, ScoredSeries], detector: str, names: Sequence[str]
) -> list[tuple[np.ndarray, nab.Layout]]:
    return [(scored[n].detections[detector].score, scored[n].layout) for n in names]


def nab_protocol(
    scored: Mapping[str, ScoredSeries], detector: str, profile: nab.Profile
) -> ThresholdChoice:
    """One threshold for the category, NAB's optimum over all of it."""
    names = sorted(scored)
    threshold, _ = nab.sweep(_pairs(scored, detector, names), profile).best()
    files = {
        n: nab.score_file(
            scored[n].detections[detector].score, scored[n].layout, threshold, profile
        )
        for n in names
    }
    return ThresholdChoice(
        detector,
        "nab",
        dict.fromkeys(names, threshold),
        files,
        sum(f.n_windows for f in files.values()),
        profile,
    )


def leave_one_series_out(
    scored: Mapping[str, ScoredSeries], detector: str, profile: nab.Profile
) -> ThresholdChoice:
    """Each series at the optimum over the others."""
    names = sorted(scored)
    thresholds, files = {}, {}
    for held_out in names:
        others = [n for n in names if n != held_out]
        threshold, _ = nab.sweep(_pairs(scored, detector, others), profile).best()
        thresholds[held_out] = threshold
        item = scored[held_out]
        files[held_out] = nab.score_file(
            item.detections[detector].score, item.layout, threshold, profile
        )
    return ThresholdChoice(
        detector,
        "leave_one_series_out",
        thresholds,
        files,
        sum(f.n_windows for f in files.values()),
        profile,
    )


# --------------------------------------------------------------------------- C-MAPSS


@dataclass(frozen=True)
class Engine:
    unit: int
    values: np.ndarray  # cycles × sensors, causally smoothed
    remaining: np.ndarray  # remaining useful life at each cycle (for a test engine: true)
    run_to_failure: bool

    def layout(self, cfg: AnomalyConfig) -> nab.Layout:
        """NAB's layout with one window: the cycles with RUL ≤ the threshold, probation =
        the baseline cycles (a truncated engine that never gets there has no window)."""
        failing = np.flatnonzero(self.remaining <= cfg.cmapss.rul_threshold)
        windows = [(int(failing[0]), int(failing[-1]))] if len(failing) else []
        base = nab.layout(len(self.remaining), windows, probation_fraction=0.0)
        window_id = base.window_id.copy()
        window_id[: cfg.cmapss.baseline_cycles] = nab.PROBATIONARY
        return dataclasses.replace(base, window_id=window_id)


def engines(
    frame: pd.DataFrame, cfg: AnomalyConfig, *, final_rul: np.ndarray | None = None
) -> list[Engine]:
    """Engines of a C-MAPSS frame, sensors smoothed by a causal rolling mean."""
    out = []
    sensors = list(cfg.cmapss.sensors)
    for k, (unit, rows) in enumerate(frame.groupby("unit", sort=True)):
        rows = rows.sort_values("cycle")
        smoothed = (
            rows[sensors].rolling(cfg.cmapss.smoothing_cycles, min_periods=1).mean().to_numpy()
        )
        cycles = rows["cycle"].to_numpy()
        last = cycles.max() + (0 if final_rul is None else int(final_rul[k]))
        out.append(Engine(int(np.asarray(unit).item()), smoothed, last - cycles, final_rul is None))
    return out


@dataclass(frozen=True)
class EngineDetections:
    engine: Engine
    layout: nab.Layout
    detections: Mapping[str, Detection]


def detect_engines(
    fleet: Sequence[Engine],
    cfg: AnomalyConfig,
    progress: ProgressFn | None = None,
    stage: str = "cmapss",
) -> list[EngineDetections]:
    names = tuple(n for n in detector_names(cfg))
    out = []
    for done, engine in enumerate(fleet):
        out.append(
            EngineDetections(
                engine,
                engine.layout(cfg),
                detect(
                    engine.values,
                    cfg.cmapss.baseline_cycles,
                    names,
                    cfg.cmapss.detector,
                    seed=cfg.seed,
                ),
            )
        )
        if progress:
            progress(stage, done + 1, len(fleet))
    return out


def first_alarms(
    item: EngineDetections, name: str, thresholds: np.ndarray, baseline: int
) -> np.ndarray:
    """The row of an engine's first alarm at each threshold (``len`` when none): the
    first row whose score reaches it, found on the running maximum."""
    score = item.detections[name].score.copy()
    score[:baseline] = 0.0
    running = np.maximum.accumulate(score)
    return np.searchsorted(running, thresholds, side="left")


def first_alarm_utility(
    items: Sequence[EngineDetections], name: str, thresholds: np.ndarray, cfg: AnomalyConfig
) -> np.ndarray:
    """Per threshold, the fleet's first-alarm score: an engine whose first alarm falls in
    its last cycles (RUL ≤ the threshold) earns NAB's window weight of that cycle (1 at
    the window's first cycle, less later); a first alarm before them (an engine pulled
    while healthy) or none at all costs 1. An engine raises one alarm, so only the first
    counts (NAB's per-row false positives would punish a detector for staying alarmed
    through a degradation)."""
    total = np.zeros(len(thresholds))
    for item in items:
        first = first_alarms(item, name, thresholds, cfg.cmapss.baseline_cycles)
        n = len(item.engine.remaining)
        clipped = np.minimum(first, n - 1)
        in_window = (first < n) & (item.engine.remaining[clipped] <= cfg.cmapss.rul_threshold)
        total += np.where(in_window, item.layout.unit[clipped], -1.0)
    return total


def cmapss_thresholds(fit: Sequence[EngineDetections], cfg: AnomalyConfig) -> dict[str, float]:
    """Per detector, the threshold with the best first-alarm score on the fitting engines
    (candidates: 400 quantiles of their scores; the higher one on a tie)."""
    out = {}
    for name in fit[0].detections:
        scores = np.concatenate(
            [e.detections[name].score[cfg.cmapss.baseline_cycles :] for e in fit]
        )
        candidates = np.unique(np.quantile(scores, np.linspace(0.5, 1.0, 400)))[::-1]
        candidates = np.r_[nab.NEVER, candidates[candidates > 0]]
        utility = first_alarm_utility(fit, name, candidates, cfg)
        out[name] = float(candidates[int(np.argmax(utility))])
    return out


# --------------------------------------------------------------------------- the model


class AnomalyModel(BaseEstimator):  # type: ignore[misc]
    """The registered model: which detectors, how they are configured, their thresholds.

    Nothing in it is fitted to a series: each series (a file, a stream) is learnt on its
    own probationary rows when it is scored.
    """

    def __init__(
        self,
        detectors: tuple[str, ...] = ("zscore", "iqr", "iforest", "lof"),
        detector_config: dict[str, Any] | None = None,
        thresholds: dict[str, float] | None = None,
        champion: str = CONSENSUS,
        probation_fraction: float = nab.PROBATION_FRACTION,
        seed: int = 42,
    ) -> None:
        self.detectors = detectors
        self.detector_config = detector_config
        self.thresholds = thresholds
        self.champion = champion
        self.probation_fraction = probation_fraction
        self.seed = seed

    def fit(self, X: Any = None, y: Any = None) -> AnomalyModel:
        self.config_ = DetectorConfig(**(self.detector_config or {}))
        return self

    @property
    def config(self) -> DetectorConfig:
        return DetectorConfig(**(self.detector_config or {}))

    @property
    def min_probation(self) -> int:
        """The fewest rows the detectors can learn from: two of the models' sliding
        windows, and never fewer than ten."""
        return max(MIN_PROBATION, self.config.lags + 1)

    def probation(self, n_rows: int) -> int:
        """NAB's probationary period of a series of ``n_rows`` (15 %, at most 750
        rows), and at least :attr:`min_probation`."""
        return max(nab.probation_length(n_rows, self.probation_fraction), self.min_probation)

    def score_series(
        self, values: np.ndarray, probation: int | None = None
    ) -> dict[str, Detection]:
        """Every detector's detection of one series, learning its first ``probation``
        rows (default: :meth:`probation`); too few rows to learn or to score is an
        :class:`~tenfold.errors.InvalidInput` naming ``probation``."""
        X = as_matrix(values)
        start = self.probation(len(X)) if probation is None else probation
        if start < self.min_probation:
            raise InvalidInput(
                "probation", f"at least {self.min_probation} rows must be learnt, not {start}"
            )
        if start >= len(X):
            raise InvalidInput(
                "probation", f"{start} rows learnt leave none of the {len(X)} to score"
            )
        return detect(X, start, self.detectors, self.config, seed=self.seed)

    def flags_frame(
        self, timestamps: np.ndarray, values: np.ndarray, probation: int | None = None
    ) -> pd.DataFrame:
        """One row per timestamp: each detector's score and flag, and the agreement
        (detectors and families flagging)."""
        detections = self.score_series(values, probation)
        thresholds = self.thresholds or {}
        frame: dict[str, Any] = {"timestamp": timestamps}
        flagged = {}
        for name, detection in detections.items():
            frame[f"{name}_score"] = np.round(detection.score, 6)
            flagged[name] = detection.flags(thresholds.get(name, np.inf))
            frame[f"{name}_flag"] = flagged[name]
        members = [n for n in detections if n not in COMBINED]
        frame["detectors_flagged"] = np.sum([flagged[n] for n in members], axis=0)
        frame["families_flagged"] = np.sum(
            [
                np.any([flagged[m] for m in group if m in flagged], axis=0)
                for group in FAMILIES.values()
                if any(m in flagged for m in group)
            ],
            axis=0,
        )
        return pd.DataFrame(frame)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The champion detector's flags for a frame of value columns (one series)."""
        values = X.select_dtypes("number").to_numpy(dtype=float)
        detection = self.score_series(values)[self.champion]
        return np.asarray(detection.flags((self.thresholds or {}).get(self.champion, np.inf)))


@dataclass
class DetectionRun:
    """A run's detections, thresholds under both protocols, and C-MAPSS results (what
    :func:`anomaly.evaluate.evaluate` reports; the ``data`` of a :class:`TrainResult`)."""

    cfg: AnomalyConfig
    corpus: Corpus
    scored: dict[str, ScoredSeries]
    nab_choices: dict[str, ThresholdChoice]
    loso_choices: dict[str, ThresholdChoice]
    cmapss: Cmapss | None = None
    cmapss_fit: list[EngineDetections] = field(default_factory=list)
    cmapss_eval: list[EngineDetections] = field(default_factory=list)
    cmapss_test: list[EngineDetections] = field(default_factory=list)
    cmapss_thresholds: dict[str, float] = field(default_factory=dict)
    published: Mapping[str, Published] = field(default_factory=dict)
    published_thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def detectors(self) -> list[str]:
        return list(self.nab_choices)

    @property
    def champion(self) -> str:
        """The best detector by the honest protocol (leave one series out)."""
        return max(self.loso_choices, key=lambda n: (self.loso_choices[n].normalised, n))

    def nab_threshold(self, name: str) -> float:
        return next(iter(self.nab_choices[name].thresholds.values()))

    def model(self, champion: str | None = None) -> AnomalyModel:
        """The model a detector is registered as: every detector with its NAB-protocol
        threshold, ``champion`` (default: the best) the one whose flags it answers with."""
        return AnomalyModel(
            detectors=tuple(n for n in self.detectors if n not in COMBINED),
            detector_config=dataclasses.asdict(self.cfg.detector),
            thresholds={n: self.nab_threshold(n) for n in self.detectors},
            champion=champion or self.champion,
            probation_fraction=self.cfg.probation_fraction,
            seed=self.cfg.seed,
        ).fit()


# A training: one candidate per detector (its LOSO per-series NAB scores as the CV
# folds), the best by the leave-one-series-out score, the detections as its data.
AnomalyResult = TrainResult[Candidate, DetectionRun]
# the CV metric of a candidate: each series' NAB score at the threshold chosen on the others
METRIC = "nab_score_loso"


def run_detectors(
    cfg: AnomalyConfig, data: AnomalyData, progress: ProgressFn | None = None
) -> DetectionRun:
    """Every detector on every series, thresholds both ways; C-MAPSS when loaded."""
    profile = _profile(cfg, data.corpus)
    scored = detect_corpus(data.corpus, cfg, progress)
    run = _choose(cfg, data, scored, profile)
    if data.cmapss is not None:
        fit, rest, test = _fleets(cfg, data.cmapss)
        run.cmapss_fit = detect_engines(fit, cfg, progress, "cmapss fit")
        run.cmapss_eval = detect_engines(rest, cfg, progress, "cmapss eval")
        run.cmapss_test = detect_engines(test, cfg, progress, "cmapss test")
        run.cmapss_thresholds = cmapss_thresholds(run.cmapss_fit, cfg)
    return run


def _profile(cfg: AnomalyConfig, corpus: Corpus) -> nab.Profile:
    profile = corpus.profiles.get(cfg.profile, nab.PROFILES.get(cfg.profile))
    if profile is None:
        raise DataError(f"unknown NAB profile {cfg.profile!r}; use {sorted(corpus.profiles)}")
    return profile


def _choose(
    cfg: AnomalyConfig,
    data: AnomalyData,
    scored: dict[str, ScoredSeries],
    profile: nab.Profile,
) -> DetectionRun:
    names = list(next(iter(scored.values())).detections)
    return DetectionRun(
        cfg,
        data.corpus,
        scored,
        {n: nab_protocol(scored, n, profile) for n in names},
        {n: leave_one_series_out(scored, n, profile) for n in names},
        cmapss=data.cmapss,
        published=data.published,
        published_thresholds=data.published_thresholds,
    )


def _fleets(cfg: AnomalyConfig, cmapss: Cmapss) -> tuple[list[Engine], list[Engine], list[Engine]]:
    """The engines that choose thresholds, the run-to-failure engines that report, and
    the truncated test engines (the first engines choose, half of them at most)."""
    train_engines = engines(cmapss.train, cfg)
    n_fit = min(cfg.cmapss.fit_engines, len(train_engines) // 2)
    test = engines(cmapss.test, cfg, final_rul=cmapss.test_rul)
    return train_engines[:n_fit], train_engines[n_fit:], test


def _parts(run: DetectionRun) -> list[tuple[str, str, Mapping[str, Detection]]]:
    """Every scored unit of a run in a fixed order: (part, key, detections)."""
    out: list[tuple[str, str, Mapping[str, Detection]]] = [
        ("nab", name, item.detections) for name, item in sorted(run.scored.items())
    ]
    for part, fleet in (
        ("cmapss_fit", run.cmapss_fit),
        ("cmapss_eval", run.cmapss_eval),
        ("cmapss_test", run.cmapss_test),
    ):
        out.extend((part, str(e.engine.unit), e.detections) for e in fleet)
    return out


def alarm_scores(run: DetectionRun, name: str) -> pd.DataFrame:
    """A detector's alarm score on every row of the run (NAB series, then C-MAPSS
    engines), the candidate's out-of-fold predictions: what ``evaluate`` reads back."""
    frames = [
        pd.DataFrame({"part": part, "key": key, "score": detections[name].score})
        for part, key, detections in _parts(run)
    ]
    return pd.concat(frames, ignore_index=True)


def input_example() -> pd.DataFrame:
    """A series long enough for every detector to learn its probationary rows."""
    return pd.DataFrame({"value": [float(v % 17) for v in range(200)]})


def candidate(run: DetectionRun, name: str) -> Candidate:
    """Detector ``name`` as a candidate: the registered model answering with its flags,
    its per-series leave-one-series-out NAB scores as the folds, both normalised scores."""
    loso, choice = run.loso_choices[name], run.nab_choices[name]
    family = next(iter(run.scored.values())).detections[name].family
    requirements = ["pyod", "numpy", "pandas", "scipy"]
    if "autoencoder" in run.detectors:
        requirements.append("torch")
    return Candidate(
        name=name,
        model=run.model(champion=name),
        params={"detector": name, "family": family, "threshold": run.nab_threshold(name)},
        metric=METRIC,
        fold_scores=[loso.files[s].score for s in sorted(loso.files)],
        oof=alarm_scores(run, name),
        requirements=tuple(requirements),
        metadata={"champion": name, "thresholds": run.model().thresholds},
        metrics={"nab_normalised": choice.normalised, "loso_normalised": loso.normalised},
    )


def train(
    cfg: AnomalyConfig, data: AnomalyData, *, progress: ProgressFn | None = None
) -> AnomalyResult:
    """Every detector on every series (causally), thresholds both ways, C-MAPSS when
    loaded; one candidate per detector, the best by leave-one-series-out."""
    run = run_detectors(cfg, data, progress)
    return TrainResult(
        {name: candidate(run, name) for name in run.detectors},
        run.champion,
        run,
        data.source,
        input_example(),
    )


def from_run(cfg: AnomalyConfig, data: AnomalyData, training: LoggedTraining) -> AnomalyResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`) for a
    separate ``evaluate``: each candidate's alarm scores from its logged out-of-fold
    frame, the thresholds chosen again from them (the same numbers as the training's)."""
    profile = _profile(cfg, data.corpus)
    names = list(training.candidates)
    families = {n: str(training.candidates[n].params["family"]) for n in names}
    logged = {
        name: {
            (str(part), str(key)): rows["score"].to_numpy(dtype=float)
            for (part, key), rows in training.candidates[name].oof.groupby(
                ["part", "key"], sort=False
            )
        }
        for name in names
    }

    def detections(part: str, key: str, n_rows: int) -> dict[str, Detection]:
        out = {}
        for name in names:
            score = logged[name].get((part, key), np.empty(0))
            if len(score) != n_rows:
                raise DataError(
                    f"training run {training.run_id}: candidate {name} has {len(score)} "
                    f"scores for {part} {key}, the data has {n_rows} rows"
                )
            out[name] = Detection.alarms_only(name, families[name], score)
        return out

    scored = {
        name: ScoredSeries(
            series,
            series.layout(cfg.probation_fraction),
            detections("nab", name, series.n_rows),
        )
        for name, series in sorted(data.corpus.series.items())
    }
    run = _choose(cfg, data, scored, profile)
    if data.cmapss is not None:
        fleets = dict(
            zip(
                ("cmapss_fit", "cmapss_eval", "cmapss_test"), _fleets(cfg, data.cmapss), strict=True
            )
        )
        read = {
            part: [
                EngineDetections(e, e.layout(cfg), detections(part, str(e.unit), len(e.remaining)))
                for e in fleet
            ]
            for part, fleet in fleets.items()
        }
        run.cmapss_fit, run.cmapss_eval, run.cmapss_test = (
            read["cmapss_fit"],
            read["cmapss_eval"],
            read["cmapss_test"],
        )
        run.cmapss_thresholds = cmapss_thresholds(run.cmapss_fit, cfg)
    candidates = {n: training.candidates[n] for n in names}
    return TrainResult(
        candidates, training.best_name, run, data.source, input_example(), run_id=training.run_id
    )
