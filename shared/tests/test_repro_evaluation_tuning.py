"""Stable metrics files, metric helpers, and seeded tuning."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tenfold.evaluation import bootstrap_ci, gain_table, lift_at, value_curve
from tenfold.reports import markdown_table, read_section, replace_section
from tenfold.repro import (
    TORCH_KERNELS,
    format_metrics,
    pin_torch_kernels,
    torch_kernels,
    write_metrics,
)
from tenfold.tuning import cv_score, cv_score_prepared, out_of_fold, prepare_folds, tune


def test_metrics_file_is_stable(tmp_path: Path) -> None:
    metrics = {
        "b": 0.123456789,
        "a": {"z": np.float32(1.5), "n": np.int64(3)},
        "c": -0.00001,
        "nan": float("nan"),
    }
    path = write_metrics(tmp_path / "m.json", metrics)
    text = path.read_text()
    assert text == (
        '{\n  "a": {\n    "n": 3,\n    "z": 1.5\n  },\n  "b": 0.1235,\n  "c": 0.0,\n'
        '  "nan": null\n}\n'
    )
    assert format_metrics(dict(reversed(list(metrics.items())))) == text


def test_lift_and_gain() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.linspace(1, 0, 10)
    assert lift_at(y, score, 0.2) == pytest.approx(5.0)  # both positives in the top 20 %
    table = gain_table(y, score, n_bins=5)
    assert table["cumulative_gain"].iloc[0] == pytest.approx(1.0)


def test_value_curve_with_per_row_costs() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.3, 0.1])
    amounts = np.array([100.0, 5.0, 40.0, 7.0])
    # acting costs a review (-2); a missed positive costs its amount
    curve = value_curve(y, p, tp=-2.0, fp=-2.0, fn=-amounts, thresholds=np.array([0.2, 0.5, 0.95]))
    # t=0.2: flag 0.9, 0.8, 0.3 → three reviews = -6
    # t=0.5: flag 0.9, 0.8 → -4 and miss 40 → -44; t=0.95: miss both → -140
    np.testing.assert_allclose(curve.values, [-6.0, -44.0, -140.0])
    assert curve.best_threshold == 0.2


def test_bootstrap_interval_contains_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = y + rng.normal(0, 1.0, 400)
    low, high = bootstrap_ci(roc_auc_score, y, score, n_boot=200, seed=1)
    point = roc_auc_score(y, score)
    assert low < point < high
    assert high - low < 0.2


def _data() -> tuple[pd.DataFrame, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * rng.normal(size=300) > 0).astype(int).to_numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return X, y, folds


def test_prepared_folds_give_the_same_score_as_refitting_everything() -> None:
    X, y, folds = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.1))])
    full = cv_score(pipe, X, y, folds, roc_auc_score)
    prepared = prepare_folds(pipe[:-1], X, y, folds)
    assert cv_score_prepared(LogisticRegression(C=0.1), prepared, roc_auc_score) == pytest.approx(
        full, abs=1e-12
    )
    assert cv_score_prepared(
        LogisticRegression(C=0.1), prepared, roc_auc_score, n_jobs=2
    ) == pytest.approx(full, abs=1e-12)


def test_out_of_fold_predicts_each_row_once_from_a_model_that_did_not_see_it() -> None:
    X, y, folds = _data()
    oof, scores = out_of_fold(LogisticRegression(), X, y, folds, roc_auc_score, n_jobs=2)
    assert len(scores) == 3
    assert (oof > 0).all()
    assert (oof < 1).all()
    train_idx, valid_idx = folds[0]
    alone = LogisticRegression().fit(X.iloc[train_idx], y[train_idx])
    np.testing.assert_allclose(oof[valid_idx], alone.predict_proba(X.iloc[valid_idx])[:, 1])


def test_tuning_is_reproducible_with_a_seed() -> None:
    X, y, folds = _data()
    prepared = prepare_folds(StandardScaler(), X, y, folds)

    def objective(trial: object) -> float:
        c = trial.suggest_float("C", 1e-3, 10, log=True)  # type: ignore[attr-defined]
        return cv_score_prepared(LogisticRegression(C=c), prepared, roc_auc_score, trial=trial)  # type: ignore[arg-type]

    first = tune(objective, n_trials=8, seed=7, log_to_mlflow=False, n_startup_trials=4)
    second = tune(objective, n_trials=8, seed=7, log_to_mlflow=False, n_startup_trials=4)
    assert first.best_params == second.best_params
    assert first.trials["value"].tolist() == second.trials["value"].tolist()


def test_readme_sections() -> None:
    text = "intro\n<!-- results:start -->\nold\n<!-- results:end -->\nend"
    table = markdown_table(
        [{"m": "a", "v": 0.5}], [("Model", lambda r: r["m"]), ("Score", lambda r: f"{r['v']:.2f}")]
    )
    updated = replace_section(text, "results", table)
    assert read_section(updated, "results") == "| Model | Score |\n|---|---|\n| a | 0.50 |"
    assert updated.endswith("end")
    assert "old" not in updated
    with pytest.raises(ValueError, match="markers"):
        replace_section("no markers", "results", "x")


def test_torch_kernels_are_pinned_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TORCH_KERNELS:
        monkeypatch.delenv(name, raising=False)
    default = torch_kernels()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    pin_torch_kernels()
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    assert os.environ["MKL_CBWR"] == "AVX2"
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"
    # a cache key made from the kernels tells the two choices apart
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in default
    assert "ONEDNN_MAX_CPU_ISA=AVX512_CORE" in torch_kernels()


def test_a_torch_loaded_before_the_pin_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = types.SimpleNamespace(
        backends=types.SimpleNamespace(
            cpu=types.SimpleNamespace(get_cpu_capability=lambda: "AVX512")
        )
    )
    monkeypatch.setitem(sys.modules, "torch", loaded)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    with caplog.at_level(logging.WARNING, logger="tenfold.repro"):
        pin_torch_kernels()
    assert "uses AVX512, not AVX2" in caplog.text


@pytest.mark.service
def test_a_fresh_interpreter_runs_torch_on_the_pinned_kernels() -> None:
    pytest.importorskip("torch", reason="the opt-in extra: make nlp-deep")
    env = {k: v for k, v in os.environ.items() if k not in TORCH_KERNELS}
    code = (
        "from tenfold.repro import pin_torch_kernels; pin_torch_kernels(); import torch; "
        "print(torch.backends.cpu.get_cpu_capability())"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in ("AVX2", "DEFAULT")  # DEFAULT: a CPU without AVX2
