"""Metrics and figures: NAB scores under both threshold protocols, NAB's published
detectors re-scored by our scorer, C-MAPSS lead times and false alarms; the promotion
gate; the README's tables rendered from ``metrics.json``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from anomaly import nab
from anomaly.config import DISPLAY, AnomalyConfig
from anomaly.train import (
    AnomalyModel,
    AnomalyResult,
    DetectionRun,
    EngineDetections,
    ScoredSeries,
    first_alarm_utility,
    leave_one_series_out,
)
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Evaluation

__all__ = ["DISPLAY", "evaluate", "promotion_gate", "results_table"]

log = logging.getLogger("anomaly.evaluate")
# NAB's published results normalised on realKnownCause (the figures; numenta and
# windowedGaussian are also re-scored from their published outputs by our scorer)
PUBLISHED = {"ARTime": 63.9, "numenta HTM": 55.5, "random": 44.4, "windowedGaussian": 13.4}
# the held-out split each candidate's MLflow run gets its scores from (``loso_*``)
SPLIT = "loso"


def evaluate(result: AnomalyResult, cfg: AnomalyConfig) -> Evaluation:
    """``metrics.json`` (every detector under both protocols, NAB's published detectors
    re-scored, C-MAPSS) and the figures of a training."""
    run = result.data
    corpus = run.corpus
    models: dict[str, Any] = {}
    for name in run.detectors:
        choice, loso = run.nab_choices[name], run.loso_choices[name]
        threshold = run.nab_threshold(name)
        files = {
            series: {
                "score": f.score,
                "tp": f.tp,
                "fp": f.fp,
                "fn": f.fn,
                "tn": f.tn,
                "windows_detected": f.windows_detected,
                "loso_threshold": loso.thresholds[series],
                "loso_score": loso.files[series].score,
            }
            for series, f in choice.files.items()
        }
        family = next(iter(run.scored.values())).detections[name].family
        models[name] = {
            "family": family,
            "nab": {
                "threshold": threshold,
                "raw": choice.raw_score,
                "normalised": choice.normalised,
                "windows_detected": sum(f.windows_detected for f in choice.files.values()),
                "false_positives": sum(f.fp for f in choice.files.values()),
            },
            SPLIT: {
                "raw": loso.raw_score,
                "normalised": loso.normalised,
                "windows_detected": sum(f.windows_detected for f in loso.files.values()),
                "false_positives": sum(f.fp for f in loso.files.values()),
            },
            "files": files,
        }
        if run.cmapss_eval:
            models[name]["cmapss"] = cmapss_metrics(run, name)
    metrics: dict[str, Any] = {
        "data": {
            "kind": corpus.source.kind,
            "nab": {
                "dataset": corpus.source.dataset,
                "category": corpus.category,
                "series": len(corpus.series),
                "rows": sum(s.n_rows for s in corpus.series.values()),
                "windows": corpus.n_windows,
            },
        },
        "protocol": {
            "seed": cfg.seed,
            "profile": cfg.profile,
            "probation_fraction": cfg.probation_fraction,
            "detector": dataclasses.asdict(cfg.detector),
        },
        "models": models,
        "champion": result.best_name,
    }
    published = published_check(run, cfg)
    if published:
        metrics["scorer_check"] = published
    if run.cmapss is not None:
        metrics["data"]["cmapss"] = {
            "kind": run.cmapss.source.kind,
            "train_engines": len(run.cmapss_fit) + len(run.cmapss_eval),
            "test_engines": len(run.cmapss_test),
        }
        metrics["protocol"]["cmapss"] = dataclasses.asdict(cfg.cmapss)
    figures = {"nab_scores.png": scores_figure(metrics), "nab_series.png": series_figure(run)}
    if run.cmapss_eval:
        figures["cmapss_lead_time.png"] = lead_time_figure(run)
    normalised = {
        n: {"nab": m["nab"]["normalised"], SPLIT: m[SPLIT]["normalised"]} for n, m in models.items()
    }
    return Evaluation(
        metrics=metrics, figures=figures, split=SPLIT, run_metrics={"normalised": normalised}
    )


def published_check(run: DetectionRun, cfg: AnomalyConfig) -> dict[str, Any]:
    """NAB's published detectors (real data only) as this scorer scores them, at NAB's
    own thresholds: the per-file equality with NAB's scores is tested, the category
    score goes in ``metrics.json``."""
    if not run.corpus.source.is_real:
        return {}
    profile = run.corpus.profiles[cfg.profile]
    out = {}
    for detector, published in run.published.items():
        threshold = run.published_thresholds[detector]
        files = [
            nab.score_file(
                np.asarray(frame["anomaly_score"], dtype=float),
                run.scored[name].layout,
                threshold,
                profile,
            )
            for name, frame in published.outputs.items()
        ]
        raw = sum(f.score for f in files)
        out[detector] = {
            "threshold": threshold,
            "raw": raw,
            "normalised": nab.normalised(raw, sum(f.n_windows for f in files), profile),
        }
    return out


# --------------------------------------------------------------------------- the gate

GATE_METRIC = "leave-one-series-out NAB score"


def _method(model: AnomalyModel) -> tuple[Any, ...]:
    """What a model's scores depend on besides the data: its detectors, their
    configuration, its probationary fraction and seed (thresholds and champion aside)."""
    return (tuple(model.detectors), model.config, model.probation_fraction, model.seed)


def promotion_gate(result: AnomalyResult, cfg: AnomalyConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: its detector's normalised NAB score on the
    category with each series held out (scored at the threshold chosen on the other
    series, as in ``metrics.json``'s ``loso``), better than the champion's by more than
    ``cfg.promotion_margin``.

    Both models are scored by the code of this run on the same series, layouts and
    profile. A model whose detectors, configuration and seed are this training's has
    this training's detections (the detectors are deterministic), so only a champion of
    another configuration runs its detectors again.
    """
    run = result.data
    corpus = run.corpus
    profile = corpus.profiles[cfg.profile]
    rows = ValidationSet.of(
        f"NAB {corpus.category} ({corpus.source.kind}), each series held out, "
        f"{cfg.profile} profile",
        _labelled_rows(run),
    )
    this_training = _method(run.model())

    def score(record: Any) -> float:
        model = record.model
        if not isinstance(model, AnomalyModel):
            raise TypeError(f"{type(model).__name__} is not an anomaly model")
        scored = run.scored
        if _method(model) != this_training:
            log.info("running the detectors of %s v%s for the gate", record.name, record.version)
            scored = {
                name: ScoredSeries(item.series, item.layout, model.score_series(item.series.values))
                for name, item in sorted(run.scored.items())
            }
        return leave_one_series_out(scored, model.champion, profile).normalised

    return Gate(GATE_METRIC, True, cfg.promotion_margin, rows), score


def _labelled_rows(run: DetectionRun) -> pd.DataFrame:
    """The rows the gate scores on: every series' values and where its windows lie."""
    frames = []
    for name, item in sorted(run.scored.items()):
        frame = pd.DataFrame(item.series.values).add_prefix("value_")
        frame.insert(0, "series", name)
        frame["window"] = item.layout.window_id
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- C-MAPSS


def _first_alarm(item: EngineDetections, name: str, threshold: float, baseline: int) -> int | None:
    flags = item.detections[name].flags(threshold)
    flags[:baseline] = False
    hits = np.flatnonzero(flags)
    return int(hits[0]) if len(hits) else None


def cmapss_metrics(result: DetectionRun, name: str) -> dict[str, Any]:
    """Lead time at the first alarm and false alarms, on engines that chose nothing."""
    cfg = result.cfg.cmapss
    threshold = result.cmapss_thresholds[name]
    leads, in_window, early, missed = [], 0, 0, 0
    healthy_cycles = healthy_alarms = 0
    for item in result.cmapss_eval:
        first = _first_alarm(item, name, threshold, cfg.baseline_cycles)
        remaining = item.engine.remaining
        flags = item.detections[name].flags(threshold)
        healthy = (remaining > cfg.rul_threshold) & (
            np.arange(len(remaining)) >= cfg.baseline_cycles
        )
        healthy_cycles += int(healthy.sum())
        healthy_alarms += int((flags & healthy).sum())
        if first is None:
            missed += 1
            continue
        lead = int(remaining[first])
        leads.append(lead)
        if lead <= cfg.rul_threshold:
            in_window += 1
        else:
            early += 1
    n = len(result.cmapss_eval)
    utility = float(
        first_alarm_utility(result.cmapss_eval, name, np.array([threshold]), result.cfg)[0]
    )
    test_healthy = [e for e in result.cmapss_test if e.engine.remaining.min() > cfg.rul_threshold]
    test_alarmed = sum(
        _first_alarm(e, name, threshold, cfg.baseline_cycles) is not None for e in test_healthy
    )
    test_cycles = sum(max(0, len(e.engine.remaining) - cfg.baseline_cycles) for e in test_healthy)
    test_alarms = sum(
        int(e.detections[name].flags(threshold)[cfg.baseline_cycles :].sum()) for e in test_healthy
    )
    quartiles = np.percentile(leads, [25, 50, 75]).tolist() if leads else [None] * 3
    return {
        "threshold": threshold,
        # 0: every engine missed or pulled early; 100: every first alarm 30 cycles ahead
        "first_alarm_score": nab.normalised(utility, n, nab.Profile("first alarm", 1.0, 1.0, 1.0)),
        "engines": n,
        "first_alarm_in_last_cycles": in_window / n,
        "first_alarm_earlier": early / n,
        "no_alarm": missed / n,
        "lead_cycles_p25": quartiles[0],
        "lead_cycles_median": quartiles[1],
        "lead_cycles_p75": quartiles[2],
        "lead_cycles": leads,
        "healthy_alarm_rate": healthy_alarms / max(1, healthy_cycles),
        "test_healthy_engines": len(test_healthy),
        "test_healthy_engines_alarmed": test_alarmed / max(1, len(test_healthy)),
        "test_alarms_per_100_cycles": 100 * test_alarms / max(1, test_cycles),
    }


# --------------------------------------------------------------------------- figures


def scores_figure(metrics: Mapping[str, Any]) -> Figure:
    models = metrics["models"]
    names = list(models)
    fig = Figure(figsize=(8, 0.55 * (len(names) + len(PUBLISHED)) + 1.5), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y + 0.2, [models[n]["nab"]["normalised"] for n in names], 0.4, label="NAB protocol")
    ax.barh(
        y - 0.2, [models[n]["loso"]["normalised"] for n in names], 0.4, label="leave one series out"
    )
    ref_y = np.arange(len(names), len(names) + len(PUBLISHED))
    ax.barh(ref_y, list(PUBLISHED.values()), 0.4, color="grey", label="NAB published")
    ax.set_yticks(list(y) + list(ref_y), [DISPLAY.get(n, n) for n in names] + list(PUBLISHED))
    ax.axvline(64, color="tab:red", linestyle="--", linewidth=1, label="goal 64")
    ax.set_xlabel(f"normalised NAB score, {metrics['protocol']['profile']} profile")
    ax.set_title(f"NAB {metrics['data']['nab']['category']} ({metrics['data']['kind']} data)")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    return fig


def series_figure(result: DetectionRun) -> Figure:
    """Every series with its label windows and the champion's alarms (NAB threshold)."""
    champion = result.champion
    threshold = next(iter(result.nab_choices[champion].thresholds.values()))
    items = sorted(result.scored.items())
    fig = Figure(figsize=(11, 1.7 * len(items)), layout="constrained")
    axes = fig.subplots(len(items), 1)
    for ax, (name, item) in zip(np.atleast_1d(axes), items, strict=True):
        series = item.series
        times = series.timestamps
        ax.plot(times, series.values[:, 0], linewidth=0.6, color="tab:blue")
        for start, end in series.windows:
            ax.axvspan(start, end, color="tab:orange", alpha=0.25)
        probation = nab.probation_length(series.n_rows, result.cfg.probation_fraction)
        ax.axvspan(times[0], times[max(0, probation - 1)], color="grey", alpha=0.15)
        flags = np.flatnonzero(item.detections[champion].flags(threshold))
        ax.scatter(times[flags], series.values[flags, 0], color="tab:red", s=14, zorder=3)
        ax.set_title(
            f"{name}: NAB score {result.nab_choices[champion].files[name].score:.2f}", fontsize=9
        )
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"{DISPLAY.get(champion, champion)} alarms (red) at threshold {threshold:.3f}; "
        "label windows orange, probationary period grey",
        fontsize=10,
    )
    return fig


def lead_time_figure(result: DetectionRun) -> Figure:
    names = result.detectors
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    data = [cmapss_metrics(result, n)["lead_cycles"] or [np.nan] for n in names]
    ax.boxplot(data, vert=False, tick_labels=[DISPLAY.get(n, n) for n in names])
    ax.axvline(result.cfg.cmapss.rul_threshold, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xlabel("cycles before failure at the first alarm (held-out engines)")
    ax.set_title("C-MAPSS FD001: anomalous = remaining life ≤ 30 cycles (red line)")
    return fig


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's NAB results, generated from ``metrics.json``."""
    champion = metrics["champion"]
    rows = [{"name": n, **m} for n, m in metrics["models"].items()]
    table = markdown_table(
        rows,
        [
            (
                "Detector",
                lambda r: (
                    f"{DISPLAY.get(r['name'], r['name'])}"
                    + (" **(champion)**" if r["name"] == champion else "")
                ),
            ),
            ("Family", lambda r: r["family"]),
            ("NAB protocol", lambda r: fmt(r["nab"]["normalised"], 1)),
            ("Leave one series out", lambda r: fmt(r["loso"]["normalised"], 1)),
            ("Threshold (NAB)", lambda r: fmt(r["nab"]["threshold"], 3)),
            (
                "Windows found (NAB / LOSO)",
                lambda r: f"{r['nab']['windows_detected']} / {r['loso']['windows_detected']}",
            ),
            (
                "False positives (NAB / LOSO)",
                lambda r: f"{r['nab']['false_positives']} / {r['loso']['false_positives']}",
            ),
        ],
    )
    data = metrics["data"]["nab"]
    lines = [
        table,
        "",
        f"{metrics['data']['kind']} data: NAB {data['category']}, {data['series']} series, "
        f"{data['rows']} rows, {data['windows']} label windows; normalised NAB score, "
        f"{metrics['protocol']['profile']} profile (0 = detect nothing, 100 = every window "
        "on its first row); causal detectors, seed "
        f"{metrics['protocol']['seed']}.",
    ]
    check = metrics.get("scorer_check")
    if check:
        published = ", ".join(
            f"{name} {c['normalised']:.2f} (threshold {c['threshold']:.4f})"
            for name, c in check.items()
        )
        lines.append(
            f"NAB's published detectors re-scored by this scorer: {published}; every per-file "
            "Score, TP, FP, FN equal NAB's to 1e-6 (tested)."
        )
    return "\n".join(lines)


def cmapss_table(metrics: Mapping[str, Any]) -> str:
    """The README's C-MAPSS results."""
    rows = [{"name": n, **m["cmapss"]} for n, m in metrics["models"].items() if "cmapss" in m]
    if not rows:
        return "C-MAPSS was not run."

    def pct(value: float) -> str:
        return f"{100 * value:.0f} %"

    def cycles(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f}"

    table = markdown_table(
        rows,
        [
            ("Detector", lambda r: DISPLAY.get(r["name"], r["name"])),
            ("Threshold", lambda r: fmt(r["threshold"], 3)),
            (
                "Lead at first alarm, median (IQR)",
                lambda r: (
                    f"{cycles(r['lead_cycles_median'])} "
                    f"({cycles(r['lead_cycles_p25'])}–{cycles(r['lead_cycles_p75'])})"
                ),
            ),
            ("First alarm in last 30", lambda r: pct(r["first_alarm_in_last_cycles"])),
            ("First alarm earlier", lambda r: pct(r["first_alarm_earlier"])),
            ("No alarm", lambda r: pct(r["no_alarm"])),
            ("Alarms / healthy cycle", lambda r: f"{100 * r['healthy_alarm_rate']:.2f} %"),
            ("Healthy test engines alarmed", lambda r: pct(r["test_healthy_engines_alarmed"])),
            ("First-alarm score", lambda r: fmt(r["first_alarm_score"], 1)),
        ],
    )
    info = metrics["data"].get("cmapss", {})
    first = rows[0]
    return (
        f"{table}\n\n{info.get('kind', '?')} data: FD001, {info.get('train_engines')} "
        f"run-to-failure engines (1-{metrics['protocol']['cmapss']['fit_engines']} choose the "
        f"thresholds, {first['engines']} held out), {first['test_healthy_engines']} test "
        "engines that stay healthy (true remaining life > 30 at their last cycle)."
    )
